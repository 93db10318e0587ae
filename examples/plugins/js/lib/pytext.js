// Text operations that give, code point for code point, what Python's `str`
// and `re` give, for plugins that must agree with a Python reference.
//
// Every Unicode fact comes from unicode_tables.js, generated from the CPython
// that componentize-py embeds, instead of from the JavaScript engine: the
// engine of componentize-js components (SpiderMonkey without ICU) has no
// `\p{...}` regex escapes, its `toLowerCase()` skips Python's Final_Sigma
// rule, and its Unicode version need not be Python's.

import {
  WORD,
  SPACE,
  CASED,
  CASE_IGNORABLE,
  LOWER_RUNS,
  LOWER_MULTI,
  FOLD_RUNS,
  FOLD_MULTI,
} from "./unicode_tables.js";

export { PYTHON_VERSION, UNICODE_VERSION } from "./unicode_tables.js";

function inRanges(ranges, c) {
  let lo = 0;
  let hi = ranges.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c < ranges[2 * mid]) hi = mid - 1;
    else if (c > ranges[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

function expand(runs, multi) {
  const map = new Map();
  for (const [start, count, stride, delta] of runs) {
    for (let k = 0; k < count; k++) {
      const c = start + k * stride;
      map.set(c, String.fromCodePoint(c + delta));
    }
  }
  for (const [c, mapped] of multi) map.set(c, String.fromCodePoint(...mapped));
  return map;
}

// Built while componentize-js snapshots the module, so a call pays nothing.
const LOWER = expand(LOWER_RUNS, LOWER_MULTI);
const FOLD = expand(FOLD_RUNS, FOLD_MULTI);

const CAPITAL_SIGMA = 0x3a3;

function codePoints(s) {
  return Array.from(s, (ch) => ch.codePointAt(0));
}

/** Python's `re` `\w`: `str.isalnum()` or `_`. */
export function isWord(c) {
  return inRanges(WORD, c);
}

/** Python's `str.isspace()`. */
export function isSpace(c) {
  return inRanges(SPACE, c);
}

// CPython's handle_capital_sigma: Σ becomes ς when the nearest character
// before it that is not Case_Ignorable is Cased, and the nearest one after it
// that is not Case_Ignorable is not Cased (or there is none).
function isFinalSigma(cps, i) {
  let j = i - 1;
  while (j >= 0 && inRanges(CASE_IGNORABLE, cps[j])) j--;
  if (j < 0 || !inRanges(CASED, cps[j])) return false;
  j = i + 1;
  while (j < cps.length && inRanges(CASE_IGNORABLE, cps[j])) j++;
  return j === cps.length || !inRanges(CASED, cps[j]);
}

/** Python's `str.lower()`. */
export function lower(s) {
  const cps = codePoints(s);
  let out = "";
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    if (c === CAPITAL_SIGMA) out += isFinalSigma(cps, i) ? "\u03c2" : "\u03c3";
    else out += LOWER.get(c) ?? String.fromCodePoint(c);
  }
  return out;
}

/** Python's `str.casefold()`. */
export function casefold(s) {
  let out = "";
  for (const ch of s) out += FOLD.get(ch.codePointAt(0)) ?? ch;
  return out;
}

/** Python's `str.split()` with no arguments. */
export function split(s) {
  const tokens = [];
  let token = "";
  for (const ch of s) {
    if (isSpace(ch.codePointAt(0))) {
      if (token !== "") tokens.push(token);
      token = "";
    } else {
      token += ch;
    }
  }
  if (token !== "") tokens.push(token);
  return tokens;
}

/**
 * Replace each maximal run of Python word characters by `replace(run)`:
 * a Python pattern `\b(...)\b` that only matches whole runs, as SQuAD's
 * article pattern does, is exactly such a replacement.
 */
export function replaceWords(s, replace) {
  let out = "";
  let word = "";
  for (const ch of s) {
    if (isWord(ch.codePointAt(0))) {
      word += ch;
    } else {
      if (word !== "") out += replace(word);
      word = "";
      out += ch;
    }
  }
  if (word !== "") out += replace(word);
  return out;
}
