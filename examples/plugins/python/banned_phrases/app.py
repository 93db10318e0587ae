"""`banned_phrases_py`: an Assay feedback guard that holds back feedback
whose correction or comment contains a configured phrase.

componentize-py looks up the class named after the exported interface
(`Guard`) in this module; the logic lives in `phrases.py`.
"""

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports import guard
from wit_world.imports import types

from phrases import ConfigError, Matcher, reason

NOT_CONFIGURED = "the host called the guard before `configure`"

VERDICTS = {"quarantine": guard.Verdict.QUARANTINE, "reject": guard.Verdict.REJECT}

# Module state, not attributes of `self`: componentize-py makes a separate
# object of the export class for each exported function, so what `configure`
# kept on `self` would be invisible to `screen`.
matcher = None


class Guard(exports.Guard):
    def describe(self):
        return types.PluginInfo(
            name="banned_phrases_py",
            version="0.1.0",
            description="quarantines or rejects feedback whose correction or comment contains a banned phrase (Python)",
        )

    def configure(self, config):
        global matcher
        try:
            matcher = Matcher.from_json(config)
        except ConfigError as e:
            raise Err(str(e))
        return [types.Setting(key=k, value=v) for k, v in matcher.settings()]

    def screen(self, batch):
        if matcher is None:
            return [Err(NOT_CONFIGURED) for _ in batch]
        return [Ok(decide(record)) for record in batch]


def decide(record):
    hit = matcher.find(record.correction, record.comment)
    if hit is None:
        return guard.Decision(verdict=guard.Verdict.ACCEPT, reason="", risk=None)
    return guard.Decision(verdict=VERDICTS[matcher.verdict], reason=reason(*hit), risk=None)
