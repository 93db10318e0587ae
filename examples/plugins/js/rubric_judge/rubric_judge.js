// `rubric_judge_js`: a custom judge in JavaScript. A language model grades
// each output on the team's rubric, through the host.
//
// The plugin targets the `model-evaluator-plugin` world: it imports the
// contract's `model` interface and names a model alias, which the run's
// configuration must grant (`[plugins.NAME] models = ["grader"]`). The host
// holds the API key, spends the run's budget and caches every answer; the
// plugin never sees a URL or a key. It sends the whole batch in one call,
// which the host runs concurrently.
//
// Config: {"model": "grader", "rubric": "..."}. One metric, `score`, from 1
// to 5; an answer that is not {"reason": string, "score": 1..5} fails its
// sample.

import { complete } from "assay:plugin/model@0.1.4";

const SCHEMA = JSON.stringify({
  type: "object",
  properties: { reason: { type: "string" }, score: { type: "integer" } },
  required: ["reason", "score"],
  additionalProperties: false,
});

const SYSTEM =
  "You are a strict reviewer. Grade the answer on the rubric. Reply with only a JSON object " +
  '{"reason": string, "score": integer from 1 (worst) to 5 (best)}.';

let config = null;

function parseConfig(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw `invalid configuration: ${e.message}`;
  }
  const keys = parsed && typeof parsed === "object" ? Object.keys(parsed).sort().join(",") : "";
  if (keys !== "model,rubric") throw 'invalid configuration: expected {"model": ALIAS, "rubric": TEXT}';
  if (![parsed.model, parsed.rubric].every((v) => typeof v === "string" && v.trim() !== "")) {
    throw "invalid configuration: `model` and `rubric` must be non-empty text";
  }
  return parsed;
}

function prompt(sample) {
  const reference = sample.references.length > 0 ? `\nReference answer:\n${sample.references[0]}\n` : "";
  return `Rubric: ${config.rubric}\n\nQuestion:\n${sample.input}\n\nAnswer:\n${sample.output}\n${reference}`;
}

function request(sample) {
  return {
    model: config.model,
    messages: [
      { role: "system", content: SYSTEM },
      { role: "user", content: prompt(sample) },
    ],
    temperature: 0,
    maxTokens: 256,
    seed: 0n, // a u64 is a BigInt
    responseFormat: { tag: "json-schema", val: SCHEMA },
    topLogprobs: undefined,
  };
}

function describeError(error) {
  if (error.tag === "provider") return `provider: ${error.val.status} ${error.val.message}`;
  return error.val === undefined ? error.tag : `${error.tag}: ${error.val}`;
}

// The score of one answer, strictly: no guess from free text.
function read(answer) {
  if (answer.tag === "err") return { tag: "err", val: `the model gave no answer: ${describeError(answer.val)}` };
  let verdict;
  try {
    verdict = JSON.parse(answer.val.text);
  } catch (e) {
    return { tag: "err", val: `the judge's answer is not JSON: ${e.message}` };
  }
  const keys = verdict && typeof verdict === "object" ? Object.keys(verdict).sort().join(",") : "";
  if (keys !== "reason,score") return { tag: "err", val: 'the judge\'s answer is not {"reason": string, "score": integer}' };
  const score = verdict.score;
  if (!Number.isInteger(score) || score < 1 || score > 5) {
    return { tag: "err", val: `the judge gave the score ${JSON.stringify(score)}, off the 1-5 scale` };
  }
  return { tag: "ok", val: { values: [score], statistics: [] } };
}

export const evaluator = {
  describe() {
    return {
      name: "rubric_judge_js",
      version: "0.1.0",
      description: "a language model grades each output on a rubric, 1 to 5 (JavaScript)",
    };
  },

  metrics() {
    return [{ name: "score", description: "the judge's grade from 1 (worst) to 5 (best)", higherIsBetter: true, level: "sample" }];
  },

  configure(text) {
    config = parseConfig(text);
    return [{ key: "model", value: config.model }];
  },

  score(batch) {
    if (config === null) return batch.map(() => ({ tag: "err", val: "the host called the plugin before `configure`" }));
    return complete(batch.map(request)).map(read);
  },

  finalize(_statistics) {
    return [];
  },
};
