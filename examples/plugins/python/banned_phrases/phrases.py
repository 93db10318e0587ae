"""Configuration and matching of `banned_phrases_py`, free of component
bindings so that a plain Python interpreter can test it.

The JavaScript plugin `banned_phrases_js` mirrors this module message for
message: the two are meant to be interchangeable.
"""

import json

VERDICTS = ("quarantine", "reject")
KEYS = ("phrases", "verdict")


class ConfigError(Exception):
    pass


class Matcher:
    def __init__(self, phrases, verdict):
        self.phrases = phrases
        self.verdict = verdict
        # casefold(), not lower(): "STRASSE" must match "straße" and "ΟΔΟΣ"
        # must match "οδοσ". The JavaScript plugin folds with tables generated
        # from this same Python, so both match the same texts.
        self.folded = [p.casefold() for p in phrases]

    @classmethod
    def from_json(cls, text):
        try:
            config = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"invalid configuration: {e}")
        if not isinstance(config, dict):
            raise ConfigError("invalid configuration: expected a JSON object such as "
                              '{"phrases": ["ignore previous instructions"]}')
        unknown = sorted(k for k in config if k not in KEYS)
        if unknown:
            names = ", ".join(f"`{k}`" for k in unknown)
            raise ConfigError(f"invalid configuration: unknown key {names}; expected `phrases` and `verdict`")
        phrases = config.get("phrases")
        if (not isinstance(phrases, list) or not phrases
                or not all(isinstance(p, str) and p for p in phrases)):
            raise ConfigError("`phrases` is required: a non-empty list of non-empty strings, "
                              'for example {"phrases": ["ignore previous instructions"]}')
        verdict = config.get("verdict", "quarantine")
        if verdict not in VERDICTS:
            raise ConfigError('`verdict` must be "quarantine" or "reject"')
        return cls(phrases, verdict)

    def settings(self):
        # The same text JSON.stringify gives, so both plugins sign alike.
        return [("phrases", json.dumps(self.phrases, ensure_ascii=False, separators=(",", ":"))),
                ("verdict", self.verdict)]

    def find(self, correction, comment):
        """The first (phrase, field) hit, phrases in configured order, or None."""
        fields = [("correction", correction), ("comment", comment)]
        folded = [(name, text.casefold()) for name, text in fields if text is not None]
        for phrase, needle in zip(self.phrases, self.folded):
            for name, haystack in folded:
                if needle in haystack:
                    return phrase, name
        return None


def reason(phrase, field):
    return f"the {field} contains the banned phrase {json.dumps(phrase, ensure_ascii=False)}"
