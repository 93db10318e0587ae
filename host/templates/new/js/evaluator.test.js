import assert from "node:assert/strict";
import { test } from "node:test";

import { contains } from "../{{name}}.js";

test("ignores case and takes any reference", () => {
  assert.equal(contains("It is Paris.", ["paris"]), 1);
  assert.equal(contains("Lyon", ["Paris", "lyon"]), 1);
  assert.equal(contains("Lyon", ["Paris"]), 0);
});
