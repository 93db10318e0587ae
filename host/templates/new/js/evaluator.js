// `{{name}}` as an Assay evaluator: componentize-js exports the object named
// after the interface (`evaluator`).

import { reportingErrors } from "./errors.js";

/** 1 when the output contains a reference, ignoring case, else 0. */
export function contains(output, references) {
  const lowered = output.toLowerCase();
  return references.some((r) => lowered.includes(r.toLowerCase())) ? 1 : 0;
}

export const evaluator = reportingErrors({
  describe() {
    return { name: "{{name}}", version: "0.1.0", description: "1 when the output contains a reference, ignoring case" };
  },

  metrics() {
    return [{ name: "contains", description: "share of outputs that contain a reference", higherIsBetter: true, level: "sample" }];
  },

  // A thrown string becomes the `err` of the WIT result; so does a thrown
  // Error, as its message and stack (see errors.js).
  configure(config) {
    const unknown = Object.keys(JSON.parse(config)).sort();
    if (unknown.length > 0) throw `unknown key ${unknown.join(", ")}: {{name}} takes no settings`;
    return [];
  },

  // Results inside lists are explicit `{tag, val}` objects.
  score(batch) {
    return batch.map((sample) =>
      sample.references.length === 0
        ? { tag: "err", val: "the sample has no reference" }
        : { tag: "ok", val: { values: [contains(sample.output, sample.references)], statistics: [] } },
    );
  },

  finalize(_statistics) {
    return [];
  },
});
