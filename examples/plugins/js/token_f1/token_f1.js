// `token_f1_js`: SQuAD v1.1 token F1 as an Assay evaluator component.
//
// `normalizeAnswer` and `f1Score` must give what the official SQuAD v1.1
// script (../../python/token_f1/squad.py) gives, to the bit: a test compares
// this plugin, the Python one and the Rust built-in sample by sample. So each
// step reproduces the Python operation, not JavaScript's nearest built-in
// (see ../lib/pytext.js for why the built-ins differ).

import "../lib/keep_bom.js";
import { lower, replaceWords, split } from "../lib/pytext.js";

// Python's string.punctuation: the 32 ASCII punctuation characters.
const PUNCTUATION = /[!-\/:-@\[-`{-~]/g;

export function normalizeAnswer(s) {
  const noPunc = lower(s).replace(PUNCTUATION, "");
  const noArticles = replaceWords(noPunc, (w) => (w === "a" || w === "an" || w === "the" ? " " : w));
  return split(noArticles).join(" ");
}

export function f1Score(prediction, groundTruth) {
  const predictionTokens = split(normalizeAnswer(prediction));
  const groundTruthTokens = split(normalizeAnswer(groundTruth));
  // Counter(prediction) & Counter(ground_truth), summed.
  const left = new Map();
  for (const t of groundTruthTokens) left.set(t, (left.get(t) ?? 0) + 1);
  let numSame = 0;
  for (const t of predictionTokens) {
    const n = left.get(t) ?? 0;
    if (n > 0) {
      left.set(t, n - 1);
      numSame += 1;
    }
  }
  if (numSame === 0) return 0;
  // The script's operations in the script's order, so that the doubles are
  // identical, not merely close.
  const precision = (1.0 * numSame) / predictionTokens.length;
  const recall = (1.0 * numSame) / groundTruthTokens.length;
  return (2 * precision * recall) / (precision + recall);
}

export function maxF1(prediction, groundTruths) {
  return Math.max(...groundTruths.map((gt) => f1Score(prediction, gt)));
}

const NOT_CONFIGURED = "the host called the plugin before `configure`";

// Messages match token_f1_py's except where they quote the JSON parser.
function parseConfig(text) {
  let config;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw `invalid configuration: ${e.message}`;
  }
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw "invalid configuration: expected a JSON object such as {}";
  }
  const keys = Object.keys(config).sort();
  if (keys.length > 0) {
    const unknown = keys.map((k) => `\`${k}\``).join(", ");
    throw `invalid configuration: unknown key ${unknown}; token_f1_js takes no settings, pass {}`;
  }
  return config;
}

let configured = false;

function scoreOne(sample) {
  if (sample.references.length === 0) {
    return { tag: "err", val: "the sample has no reference" };
  }
  return { tag: "ok", val: { values: [maxF1(sample.output, sample.references)], statistics: [] } };
}

export const evaluator = {
  describe() {
    return {
      name: "token_f1_js",
      version: "0.1.0",
      description: "SQuAD v1.1 token F1 against the best-matching reference (JavaScript)",
    };
  },

  metrics() {
    return [
      {
        name: "f1",
        description: "token-overlap F1 of the SQuAD-normalized output and its best reference",
        higherIsBetter: true,
        level: "sample",
      },
    ];
  },

  // componentize-js turns a thrown string into the `err` of a returned WIT
  // `result`; results inside lists are explicit `{tag, val}` objects.
  configure(config) {
    parseConfig(config);
    configured = true;
    return [];
  },

  score(batch) {
    if (!configured) return batch.map(() => ({ tag: "err", val: NOT_CONFIGURED }));
    return batch.map(scoreOne);
  },

  finalize(_statistics) {
    return [];
  },
};
