"""`rubric_judge_py`: a custom judge in Python. A language model grades each
output on the team's rubric, through the host.

The plugin targets the `model-evaluator-plugin` world: it imports the
contract's `model` interface and names a model alias, which the run's
configuration must grant (`[plugins.NAME] models = ["grader"]`). The host
holds the API key, spends the run's budget and caches every answer; the
plugin never sees a URL or a key. It sends the whole batch in one call, which
the host runs concurrently.

Config: {"model": "grader", "rubric": "..."}. One metric, `score`, from 1 to
5; an answer that is not {"reason": string, "score": 1..5} fails its sample.
"""

import json

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports import evaluator
from wit_world.imports import model, types

SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["reason", "score"],
        "additionalProperties": False,
    }
)

SYSTEM = (
    "You are a strict reviewer. Grade the answer on the rubric. Reply with only a JSON object "
    '{"reason": string, "score": integer from 1 (worst) to 5 (best)}.'
)

# Module state, not attributes of `self`: componentize-py makes a separate
# object of the export class for each exported function.
config = None


def parse_config(text):
    try:
        parsed = json.loads(text)
    except ValueError as e:
        raise Err(f"invalid configuration: {e}")
    if not isinstance(parsed, dict) or set(parsed) != {"model", "rubric"}:
        raise Err('invalid configuration: expected {"model": ALIAS, "rubric": TEXT}')
    if not all(isinstance(v, str) and v.strip() for v in parsed.values()):
        raise Err("invalid configuration: `model` and `rubric` must be non-empty text")
    return parsed


def prompt(sample):
    reference = f"\nReference answer:\n{sample.references[0]}\n" if sample.references else ""
    return f"Rubric: {config['rubric']}\n\nQuestion:\n{sample.input}\n\nAnswer:\n{sample.output}\n{reference}"


def request(sample):
    return model.Request(
        model=config["model"],
        messages=[
            model.Message(role=model.Role.SYSTEM, content=SYSTEM),
            model.Message(role=model.Role.USER, content=prompt(sample)),
        ],
        temperature=0.0,
        max_tokens=256,
        seed=0,
        response_format=model.ResponseFormat_JsonSchema(SCHEMA),
        top_logprobs=None,
    )


def read(answer):
    """The score of one answer, strictly: no guess from free text."""
    if isinstance(answer, Err):
        return Err(f"the model gave no answer: {describe_error(answer.value)}")
    try:
        verdict = json.loads(answer.value.text)
    except ValueError as e:
        return Err(f"the judge's answer is not JSON: {e}")
    score = verdict.get("score") if isinstance(verdict, dict) else None
    if not isinstance(verdict, dict) or set(verdict) != {"reason", "score"}:
        return Err('the judge\'s answer is not {"reason": string, "score": integer}')
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        return Err(f"the judge gave the score {score!r}, off the 1-5 scale")
    return Ok(evaluator.Scores(values=[float(score)], statistics=[]))


def describe_error(error):
    # The error variant's case is its class; some cases carry a value.
    name = type(error).__name__.split("_", 1)[-1]
    value = getattr(error, "value", None)
    if isinstance(value, model.ProviderError):
        value = f"{value.status} {value.message}"
    return name if value is None else f"{name}: {value}"


class Evaluator(exports.Evaluator):
    def describe(self):
        return types.PluginInfo(
            name="rubric_judge_py",
            version="0.1.0",
            description="a language model grades each output on a rubric, 1 to 5 (Python)",
        )

    def metrics(self):
        return [
            evaluator.Metric(
                name="score",
                description="the judge's grade from 1 (worst) to 5 (best)",
                higher_is_better=True,
                level=evaluator.Level.SAMPLE,
            )
        ]

    def configure(self, text):
        global config
        config = parse_config(text)
        return [types.Setting(key="model", value=config["model"])]

    def score(self, batch):
        if config is None:
            return [Err("the host called the plugin before `configure`") for _ in batch]
        answers = model.complete([request(sample) for sample in batch])
        return [read(answer) for answer in answers]

    def finalize(self, statistics):
        return []
