// Native tests of the JavaScript plugins' logic (no component involved):
//   cd examples/plugins/js && node --test test/
// The cases with expected values come from CPython 3.14 (componentize-py's).

import assert from "node:assert/strict";
import { test } from "node:test";

import "../lib/keep_bom.js";
import { casefold, lower, split } from "../lib/pytext.js";
import { Matcher, reason } from "../banned_phrases/banned_phrases.js";
import { maxF1, normalizeAnswer } from "../token_f1/token_f1.js";

test("normalization matches the Rust SDK cases", () => {
  assert.equal(normalizeAnswer("The  Eiffel Tower!"), "eiffel tower");
  assert.equal(normalizeAnswer("an apple, a pear"), "apple pear");
  assert.equal(normalizeAnswer("Theatre"), "theatre");
  assert.equal(normalizeAnswer("the’s"), "’s");
  assert.equal(normalizeAnswer("Ça   va"), "ça va");
  assert.equal(normalizeAnswer(""), "");
});

test("normalization follows Python where JavaScript differs", () => {
  // \w is Unicode in Python: "thé" is one word, not "th" + "é".
  assert.equal(normalizeAnswer("thé the\u0301 ünd the"), "thé \u0301 ünd");
  // str.split() whitespace: U+001C and U+0085 split, U+FEFF does not.
  assert.deepEqual(split("a\x1cb\x85c\ufeffd"), ["a", "b", "c\ufeffd"]);
  // Final_Sigma, and a case-ignorable character between.
  assert.equal(lower("ΟΔΟΣ ΑΣ'Σ Σ"), "οδος ασ'ς σ");
  assert.equal(lower("İ"), "i\u0307");
  assert.equal(casefold("Straße ΣΑΣ"), "strasse σασ");
});

test("F1 counts tokens as a multiset and takes the best reference", () => {
  assert.equal(maxF1("the cat sat", ["a cat sat down"]), 0.8);
  assert.equal(maxF1("cat cat", ["cat"]), (2 * 0.5 * 1.0) / 1.5);
  assert.equal(maxF1("Paris", ["London", "paris!"]), 1.0);
  assert.equal(maxF1("the", ["a"]), 0);
});

test("banned_phrases configuration and matching", () => {
  const m = Matcher.fromJson('{"phrases": ["STRASSE", "ignore"], "verdict": "reject"}');
  assert.deepEqual(m.settings(), [
    { key: "phrases", value: '["STRASSE","ignore"]' },
    { key: "verdict", value: "reject" },
  ]);
  assert.deepEqual(m.find(undefined, "Ignore this"), ["ignore", "comment"]);
  assert.deepEqual(m.find("die Straße", "ignore"), ["STRASSE", "correction"]);
  assert.equal(m.find(undefined, undefined), null);
  assert.equal(reason("ignore", "comment"), 'the comment contains the banned phrase "ignore"');
  assert.equal(Matcher.fromJson('{"phrases": ["x"]}').verdict, "quarantine");
  for (const bad of ["{}", '{"phrases": []}', '{"phrases": [""]}', '{"phrases": ["x"], "verdict": "accept"}', "[]", "{"]) {
    assert.throws(() => Matcher.fromJson(bad), (e) => typeof e === "string", bad);
  }
  assert.throws(() => Matcher.fromJson('{"Phrases": ["x"]}'), /unknown key `Phrases`/);
});

test("a leading byte-order mark survives UTF-8 decoding", () => {
  const bytes = new TextEncoder().encode("\ufeffa");
  assert.equal(new TextDecoder().decode(bytes), "\ufeffa");
  assert.equal(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes), "\ufeffa");
});
