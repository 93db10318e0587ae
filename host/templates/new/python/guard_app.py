"""`{{name}}` as an Assay feedback guard: componentize-py exports the class
named after the interface (`Guard`)."""

import json

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports import guard
from wit_world.imports import types

from logic import PHRASE, injected


class Guard(exports.Guard):
    def describe(self):
        return types.PluginInfo(name="{{name}}", version="0.1.0", description="rejects feedback that says to ignore previous instructions")

    def configure(self, config):
        # Raising Err returns the `err` of the WIT result.
        unknown = sorted(json.loads(config))
        if unknown:
            raise Err(f"unknown key {', '.join(unknown)}: {{name}} takes no settings")
        return []

    def screen(self, batch):
        return [Ok(decide(record)) for record in batch]


def decide(record):
    field = injected(record.correction, record.comment)
    if field is None:
        return guard.Decision(verdict=guard.Verdict.ACCEPT, reason="", risk=None)
    return guard.Decision(verdict=guard.Verdict.REJECT, reason=f"the {field} says to {PHRASE}", risk=None)
