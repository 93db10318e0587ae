// `{{name}}` as an Assay feedback guard: componentize-js exports the object
// named after the interface (`guard`).

import { reportingErrors } from "./errors.js";

export const PHRASE = "ignore previous instructions";

/** The field that contains the phrase (ignoring case), or null. */
export function injected(correction, comment) {
  // WIT `option<string>` arrives as undefined (or null) when absent.
  for (const [field, text] of [["correction", correction], ["comment", comment]]) {
    if (text != null && text.toLowerCase().includes(PHRASE)) return field;
  }
  return null;
}

export const guard = reportingErrors({
  describe() {
    return { name: "{{name}}", version: "0.1.0", description: "rejects feedback that says to ignore previous instructions" };
  },

  // A thrown string becomes the `err` of the WIT result; so does a thrown
  // Error, as its message and stack (see errors.js).
  configure(config) {
    const unknown = Object.keys(JSON.parse(config)).sort();
    if (unknown.length > 0) throw `unknown key ${unknown.join(", ")}: {{name}} takes no settings`;
    return [];
  },

  // Results inside lists are explicit `{tag, val}` objects.
  screen(batch) {
    return batch.map((record) => {
      const field = injected(record.correction, record.comment);
      const decision = field === null ? { verdict: "accept", reason: "" } : { verdict: "reject", reason: `the ${field} says to ${PHRASE}` };
      return { tag: "ok", val: decision };
    });
  },
});
