"""`{{name}}` as an Assay evaluator: componentize-py exports the class named
after the interface (`Evaluator`)."""

import json

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports import evaluator
from wit_world.imports import types

from logic import contains


class Evaluator(exports.Evaluator):
    def describe(self):
        return types.PluginInfo(name="{{name}}", version="0.1.0", description="1 when the output contains a reference, ignoring case")

    def metrics(self):
        return [evaluator.Metric(name="contains", description="share of outputs that contain a reference", higher_is_better=True, level=evaluator.Level.SAMPLE)]

    def configure(self, config):
        # Raising Err returns the `err` of the WIT result.
        unknown = sorted(json.loads(config))
        if unknown:
            raise Err(f"unknown key {', '.join(unknown)}: {{name}} takes no settings")
        return []

    def score(self, batch):
        return [self.score_one(sample) for sample in batch]

    def score_one(self, sample):
        if not sample.references:
            return Err("the sample has no reference")
        return Ok(evaluator.Scores(values=[contains(sample.output, sample.references)], statistics=[]))

    def finalize(self, statistics):
        return []
