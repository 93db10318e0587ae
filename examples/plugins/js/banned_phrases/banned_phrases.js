// `banned_phrases_js`: an Assay feedback guard that holds back feedback whose
// correction or comment contains a configured phrase.
//
// A twin of banned_phrases_py (../../python/banned_phrases/phrases.py): same
// configuration, same decisions, same messages (except those quoting the JSON
// parser). Matching folds case with Python's str.casefold() tables, not
// toLowerCase(), so both plugins match exactly the same texts.

import "../lib/keep_bom.js";
import { casefold } from "../lib/pytext.js";

const VERDICTS = ["quarantine", "reject"];
const KEYS = ["phrases", "verdict"];
const NOT_CONFIGURED = "the host called the guard before `configure`";
const EXAMPLE = '{"phrases": ["ignore previous instructions"]}';

export class Matcher {
  constructor(phrases, verdict) {
    this.phrases = phrases;
    this.verdict = verdict;
    this.folded = phrases.map(casefold);
  }

  /** Parse the JSON configuration; throws a message for people. */
  static fromJson(text) {
    let config;
    try {
      config = JSON.parse(text);
    } catch (e) {
      throw `invalid configuration: ${e.message}`;
    }
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw `invalid configuration: expected a JSON object such as ${EXAMPLE}`;
    }
    const unknown = Object.keys(config)
      .filter((k) => !KEYS.includes(k))
      .sort();
    if (unknown.length > 0) {
      const names = unknown.map((k) => `\`${k}\``).join(", ");
      throw `invalid configuration: unknown key ${names}; expected \`phrases\` and \`verdict\``;
    }
    const phrases = config.phrases;
    if (!Array.isArray(phrases) || phrases.length === 0 || !phrases.every((p) => typeof p === "string" && p !== "")) {
      throw `\`phrases\` is required: a non-empty list of non-empty strings, for example ${EXAMPLE}`;
    }
    const verdict = "verdict" in config ? config.verdict : "quarantine";
    if (!VERDICTS.includes(verdict)) {
      throw '`verdict` must be "quarantine" or "reject"';
    }
    return new Matcher(phrases, verdict);
  }

  settings() {
    return [
      { key: "phrases", value: JSON.stringify(this.phrases) },
      { key: "verdict", value: this.verdict },
    ];
  }

  /** The first [phrase, field] hit, phrases in configured order, or null. */
  find(correction, comment) {
    const fields = [
      ["correction", correction],
      ["comment", comment],
    ];
    // WIT `option<string>` arrives as undefined (or null) when absent.
    const folded = fields.filter(([, text]) => text != null).map(([name, text]) => [name, casefold(text)]);
    for (let i = 0; i < this.phrases.length; i++) {
      for (const [name, haystack] of folded) {
        if (haystack.includes(this.folded[i])) return [this.phrases[i], name];
      }
    }
    return null;
  }
}

export function reason(phrase, field) {
  return `the ${field} contains the banned phrase ${JSON.stringify(phrase)}`;
}

let matcher = null;

function decide(record) {
  const hit = matcher.find(record.correction, record.comment);
  if (hit === null) return { verdict: "accept", reason: "", risk: undefined };
  return { verdict: matcher.verdict, reason: reason(...hit), risk: undefined };
}

export const guard = {
  describe() {
    return {
      name: "banned_phrases_js",
      version: "0.1.0",
      description: "quarantines or rejects feedback whose correction or comment contains a banned phrase (JavaScript)",
    };
  },

  // componentize-js turns a thrown string into the `err` of a returned WIT
  // `result`; results inside lists are explicit `{tag, val}` objects.
  configure(config) {
    matcher = Matcher.fromJson(config);
    return matcher.settings();
  },

  screen(batch) {
    if (matcher === null) return batch.map(() => ({ tag: "err", val: NOT_CONFIGURED }));
    return batch.map((record) => ({ tag: "ok", val: decide(record) }));
  },
};
