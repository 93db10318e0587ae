// Makes componentize-js skip its slowest step when nothing it depends on
// changed. build.sh loads this file with `node --import`.
//
// componentize-js first splices the bindings of the WIT world into its
// JavaScript engine, which takes about 7 of the 10 seconds a build takes on
// two cores. That step reads only the engine, the WIT files, the world's
// name and the enabled features, never your code, so its result is kept in
// ~/.cache/assay/js-splice under a digest of exactly those inputs and reused
// while they are unchanged. A different engine, WIT or feature set gives a
// different digest, so a stale result is never used. ASSAY_JS_SPLICE_CACHE=off
// turns the cache off.
import { register } from "node:module";

if (process.env.ASSAY_JS_SPLICE_CACHE !== "off") {
  register(new URL(import.meta.url));
}

const SPLICER = "/componentize-js/lib/spidermonkey-embedding-splicer.js";

/** Node's resolve hook: componentize-js gets this file instead of its splicer. */
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (resolved.url.endsWith(SPLICER) && !context.parentURL?.includes("?splicer=")) {
    return { ...resolved, url: `${import.meta.url}?splicer=${encodeURIComponent(resolved.url)}` };
  }
  return resolved;
}

/** The splicer, with spliceBindings kept on disk. */
export const splicer = await (async () => {
  const original = new URL(import.meta.url).searchParams.get("splicer");
  if (original === null) {
    return undefined;
  }
  const { splicer } = await import(original);
  const { createHash } = await import("node:crypto");
  const { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } = await import("node:fs");
  const { homedir } = await import("node:os");
  const { join } = await import("node:path");
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "assay", "js-splice");

  /** Every file of the WIT folder (or the one WIT file), in name order. */
  function witFiles(path, hash) {
    let entries;
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      hash.update(readFileSync(path));
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      hash.update(`\0${entry.name}\0`);
      witFiles(join(path, entry.name), hash);
    }
  }

  // Synchronous, as the splicer's own function is.
  function spliceBindings(engine, features, witWorld, witPath, worldName, guestBindings) {
    const hash = createHash("sha256");
    hash.update(engine).update(JSON.stringify([features, witWorld ?? null, worldName ?? null, guestBindings]));
    if (witPath) {
      witFiles(witPath, hash);
    }
    const key = join(cache, hash.digest("hex"));
    try {
      const rest = JSON.parse(readFileSync(`${key}.json`, "utf8"));
      return { wasm: readFileSync(`${key}.wasm`), ...rest };
    } catch {
      // Not cached yet: splice, then keep the result.
    }
    const spliced = splicer.spliceBindings(engine, features, witWorld, witPath, worldName, guestBindings);
    const { wasm, ...rest } = spliced;
    mkdirSync(cache, { recursive: true });
    // Written aside and renamed, so a build that is stopped midway never
    // leaves a half-written entry for the next one to read.
    const partial = `${key}.${process.pid}.partial`;
    writeFileSync(`${partial}.wasm`, wasm);
    writeFileSync(`${partial}.json`, JSON.stringify(rest));
    renameSync(`${partial}.wasm`, `${key}.wasm`);
    renameSync(`${partial}.json`, `${key}.json`);
    return spliced;
  }

  return { ...splicer, spliceBindings };
})();
