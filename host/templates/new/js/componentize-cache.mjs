// Makes componentize-js skip its slow steps when nothing they depend on
// changed. build.sh loads this file with `node --import`.
//
// A componentize-js build on two cores spends about 7 s splicing the
// bindings of the WIT world into its JavaScript engine, then, after Wizer
// has run your code once and snapshotted the engine's memory, about 3 s
// stubbing the engine's WASI imports and 1 s wrapping the module into a
// component. Of these, only the snapshot depends on your code, and it lives
// in four sections of the module (memory, globals, data and data count),
// which neither later step reads or changes. So the splice is kept under a
// digest of the engine, the WIT files, the world's name and the features;
// and the two later steps are kept under a digest of every section of the
// module but those four (plus the features, the WIT and the adapter), and
// reused by putting this build's four sections into the kept result.
// Results are kept in ~/.cache/assay/js-splice. A different engine, WIT or
// feature set gives a different digest, so a stale result is never used;
// and a result is kept only when the step was seen to pass the four
// sections through unchanged.
//
// ASSAY_JS_SPLICE_CACHE=off turns the cache off; =verify runs every step as
// well and stops the build if a kept result differs from what the step
// gives (Assay's tests build this way).
import { register } from "node:module";

const MODE = process.env.ASSAY_JS_SPLICE_CACHE ?? "on";

if (MODE !== "off") {
  register(new URL(import.meta.url));
}

const SPLICER = "/componentize-js/lib/spidermonkey-embedding-splicer.js";
const COMPONENTIZE = "/componentize-js/src/componentize.js";

/**
 * Node's resolve hook: componentize-js gets this file instead of its
 * splicer, and instead of jco (which makes components).
 */
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (context.parentURL?.includes("?")) {
    return resolved;
  }
  if (resolved.url.endsWith(SPLICER)) {
    return { ...resolved, url: `${import.meta.url}?splicer=${encodeURIComponent(resolved.url)}` };
  }
  if (specifier === "@bytecodealliance/jco" && context.parentURL?.endsWith(COMPONENTIZE)) {
    return { ...resolved, url: `${import.meta.url}?jco=${encodeURIComponent(resolved.url)}` };
  }
  return resolved;
}

/** This file's role: the splicer's stand-in, jco's, or neither. */
const role = (name) => new URL(import.meta.url).searchParams.get(name);

const fs = role("splicer") || role("jco") ? await import("node:fs") : undefined;
const { createHash } = await import("node:crypto");
const { join } = await import("node:path");
const { homedir } = await import("node:os");
const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "assay", "js-splice");

/** Every file of the WIT folder (or the one WIT file), in name order. */
function witFiles(path, hash) {
  let entries;
  try {
    entries = fs.readdirSync(path, { withFileTypes: true });
  } catch {
    hash.update(fs.readFileSync(path));
    return;
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    hash.update(`\0${entry.name}\0`);
    witFiles(join(path, entry.name), hash);
  }
}

/** The files of a kept result, or undefined when there is none. */
function readEntry(key, extensions) {
  try {
    return extensions.map((extension) => fs.readFileSync(join(CACHE, `${key}.${extension}`)));
  } catch {
    return undefined;
  }
}

/**
 * Keeps a result: each file written aside and renamed, so a build stopped
 * midway never leaves a half-written file for the next one to read (a key
 * names its contents, so files of one key written by two builds agree).
 */
function writeEntry(key, files) {
  fs.mkdirSync(CACHE, { recursive: true });
  for (const [extension, bytes] of Object.entries(files)) {
    const partial = join(CACHE, `${key}.${process.pid}.partial.${extension}`);
    fs.writeFileSync(partial, bytes);
    fs.renameSync(partial, join(CACHE, `${key}.${extension}`));
  }
}

// --- WebAssembly sections -------------------------------------------------

/** The sections that hold Wizer's snapshot: memory, global, data, data count. */
const SNAPSHOT = new Set([5, 6, 11, 12]);

function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) {
      return [value, at];
    }
    shift += 7;
  }
}

function leb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) {
      byte |= 0x80;
    }
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
}

/** The top-level sections of a module or component: id, whole bytes, contents. */
function sections(bytes) {
  const found = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, start] = readLeb(bytes, at + 1);
    found.push({ id, whole: bytes.subarray(at, start + size), contents: bytes.subarray(start, start + size) });
    at = start + size;
  }
  return found;
}

/** A digest of a module's sections but its snapshot, with `extra` first. */
function codeDigest(module, extra) {
  const hash = createHash("sha256").update(extra);
  for (const section of sections(module)) {
    if (!SNAPSHOT.has(section.id)) {
      hash.update(section.whole);
    }
  }
  return hash.digest("hex");
}

/** The snapshot sections of a module, in order. */
function snapshotOf(module) {
  return sections(module).filter((section) => SNAPSHOT.has(section.id));
}

function sameSnapshot(a, b) {
  return a.length === b.length && a.every((section, i) => Buffer.compare(section.whole, b[i].whole) === 0);
}

/**
 * `kept` (a module whose snapshot sections are another build's) with the
 * snapshot sections of `module` in their places; undefined when the two do
 * not have the same snapshot sections in the same order.
 */
function withSnapshot(kept, module) {
  const ours = snapshotOf(module);
  const parts = [kept.subarray(0, 8)];
  let next = 0;
  for (const section of sections(kept)) {
    if (!SNAPSHOT.has(section.id)) {
      parts.push(section.whole);
    } else if (next < ours.length && ours[next].id === section.id) {
      parts.push(ours[next++].whole);
    } else {
      return undefined;
    }
  }
  return next === ours.length ? Buffer.concat(parts) : undefined;
}

/** In verify mode, stops the build unless `kept` is what the step gave. */
function verify(name, kept, fresh) {
  if (Buffer.compare(Buffer.from(fresh), kept) !== 0) {
    throw new Error(`componentize-cache.mjs: the kept result of ${name} differs from what ${name} gives`);
  }
}

// --- the splicer's stand-in -------------------------------------------------

export const splicer = await (async () => {
  const original = role("splicer");
  if (original === null) {
    return undefined;
  }
  const { splicer } = await import(original);

  // Synchronous, as the splicer's own function is.
  function spliceBindings(engine, features, witWorld, witPath, worldName, guestBindings) {
    const hash = createHash("sha256");
    hash.update(engine).update(JSON.stringify([features, witWorld ?? null, worldName ?? null, guestBindings]));
    if (witPath) {
      witFiles(witPath, hash);
    }
    const key = hash.digest("hex");
    const kept = readEntry(key, ["json", "wasm"]);
    if (kept && MODE !== "verify") {
      return { wasm: kept[1], ...JSON.parse(kept[0]) };
    }
    const spliced = splicer.spliceBindings(engine, features, witWorld, witPath, worldName, guestBindings);
    const { wasm, ...rest } = spliced;
    if (!kept) {
      writeEntry(key, { json: JSON.stringify(rest), wasm });
    }
    return spliced;
  }

  // Replaces the engine's WASI imports with stubs, where `features` leaves
  // them out; the same for every build of one engine, WIT and feature set.
  function stubWasi(module, features, witWorld, witPath, worldName) {
    const hash = createHash("sha256").update(JSON.stringify([features, witWorld ?? null, worldName ?? null]));
    if (witPath) {
      witFiles(witPath, hash);
    }
    const key = `stub-${codeDigest(module, hash.digest())}`;
    const kept = readEntry(key, ["wasm"]);
    const patched = kept && withSnapshot(kept[0], module);
    const step = () => splicer.stubWasi(module, features, witWorld, witPath, worldName);
    if (patched) {
      if (MODE === "verify") {
        verify("stubWasi", patched, step());
      }
      return patched;
    }
    const stubbed = Buffer.from(step());
    if (sameSnapshot(snapshotOf(stubbed), snapshotOf(module))) {
      writeEntry(key, { wasm: stubbed });
    }
    return stubbed;
  }

  return { ...splicer, spliceBindings, stubWasi };
})();

// --- jco's stand-in ---------------------------------------------------------

const jco = role("jco") === null ? undefined : await import(role("jco"));

export const metadataAdd = jco?.metadataAdd;
export const preview1AdapterReactorPath = jco?.preview1AdapterReactorPath;

/**
 * Makes a component of a core module and its adapters; kept under the
 * module's code and the adapters, and reused by putting this module's
 * snapshot into the kept component's copy of the module.
 */
export async function componentNew(module, adapters, ...rest) {
  const hash = createHash("sha256").update(JSON.stringify(rest));
  for (const [name, bytes] of adapters ?? []) {
    hash.update(`\0${name}\0`).update(bytes);
  }
  const key = `component-${codeDigest(module, hash.digest())}`;
  const step = () => jco.componentNew(module, adapters, ...rest);
  const kept = readEntry(key, ["json", "wasm"]);
  if (kept) {
    const { at } = JSON.parse(kept[0]);
    const parts = sections(kept[1]).map((section, i) => {
      if (i !== at) {
        return section.whole;
      }
      const inner = withSnapshot(section.contents, module);
      return inner && Buffer.concat([Buffer.from([section.id]), leb(inner.length), inner]);
    });
    if (parts.every(Boolean)) {
      const component = Buffer.concat([kept[1].subarray(0, 8), ...parts]);
      if (MODE === "verify") {
        verify("componentNew", component, await step());
      }
      return component;
    }
  }
  const component = Buffer.from(await step());
  // The component's copy of the module: the one core module section (id 1)
  // with this module's snapshot.
  const ours = snapshotOf(module);
  const copies = sections(component)
    .map((section, at) => ({ section, at }))
    .filter(({ section }) => section.id === 1 && sameSnapshot(snapshotOf(section.contents), ours));
  if (copies.length === 1) {
    writeEntry(key, { json: JSON.stringify({ at: copies[0].at }), wasm: component });
  }
  return component;
}
