"""`token_f1_py`: SQuAD v1.1 token F1 as an Assay evaluator component.

componentize-py looks up the class named after the exported interface
(`Evaluator`) in this module; the scoring itself lives in `squad.py` so that
it can be tested with a plain Python interpreter.
"""

import json

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports import evaluator
from wit_world.imports import types

import squad

NOT_CONFIGURED = "the host called the plugin before `configure`"


def parse_config(text):
    try:
        config = json.loads(text)
    except ValueError as e:
        raise Err(f"invalid configuration: {e}")
    if not isinstance(config, dict):
        raise Err("invalid configuration: expected a JSON object such as {}")
    if config:
        unknown = ", ".join(f"`{k}`" for k in sorted(config))
        raise Err(f"invalid configuration: unknown key {unknown}; token_f1_py takes no settings, pass {{}}")
    return config


# Module state, not attributes of `self`: componentize-py makes a separate
# object of the export class for each exported function, so what `configure`
# kept on `self` would be invisible to `score`.
configured = False


class Evaluator(exports.Evaluator):
    def describe(self):
        return types.PluginInfo(
            name="token_f1_py",
            version="0.1.0",
            description="SQuAD v1.1 token F1 against the best-matching reference (Python)",
        )

    def metrics(self):
        return [
            evaluator.Metric(
                name="f1",
                description="token-overlap F1 of the SQuAD-normalized output and its best reference",
                higher_is_better=True,
                level=evaluator.Level.SAMPLE,
            )
        ]

    def configure(self, config):
        global configured
        parse_config(config)
        configured = True
        return []

    def score(self, batch):
        if not configured:
            return [Err(NOT_CONFIGURED) for _ in batch]
        return [self.score_one(sample) for sample in batch]

    def score_one(self, sample):
        if not sample.references:
            return Err("the sample has no reference")
        f1 = squad.max_f1(sample.output, sample.references)
        return Ok(evaluator.Scores(values=[f1], statistics=[]))

    def finalize(self, statistics):
        return []
