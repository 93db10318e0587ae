"""Assay in-process: score model outputs and screen user feedback with
sandboxed WebAssembly plugins, from Python.

The same host as the ``assay`` command line, embedded: the same plugins,
limits, determinism and signatures, so ``assay.evaluate`` gives the numbers
``assay run`` gives for the same records, and ``assay.screen`` the decisions
``assay guard`` makes. Nothing is written to disk and no process is started;
plugins run in the sandbox with no access to this process (its files, its
environment, its API keys) beyond what a config grants them.

    >>> import assay
    >>> result = assay.evaluate(["Paris", "Lyon"], references=["Paris", "Paris"],
    ...                         plugins=["exact_match"])
    >>> result.metrics["exact_match/exact_match"]
    0.5
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from . import _assay
from ._assay import (
    AssayError,
    ConfigError,
    DatasetError,
    PluginError,
    PluginLoadError,
    ResolveError,
)

__version__ = _assay.__version__

__all__ = [
    "evaluate",
    "screen",
    "Plugin",
    "Evaluation",
    "Screening",
    "AssayError",
    "ConfigError",
    "DatasetError",
    "ResolveError",
    "PluginLoadError",
    "PluginError",
]

Path = Union[str, "PathLike[str]"]

#: What ``evaluate`` runs when neither ``plugins`` nor ``config`` says.
DEFAULT_PLUGINS = ("rouge", "bleu")


@dataclass
class Evaluation:
    """What ``assay run`` writes, in memory.

    ``summary`` holds what ``summary.json`` holds; ``metrics`` is its
    headline value per ``PLUGIN/METRIC``; ``samples`` has one row per sample
    (its ``id``, one column per ``PLUGIN/METRIC``, and ``errors``), as a
    pandas DataFrame when pandas is installed and a list of dicts otherwise.
    """

    summary: dict
    samples: Any

    @property
    def metrics(self) -> dict:
        return self.summary["metrics"]


@dataclass
class Screening:
    """What ``assay guard`` writes, in memory.

    ``accepted``, ``quarantined`` and ``rejected`` hold the records of each
    route, in input order, as the dicts given; ``decisions`` one dict per
    record (its id, route and each guard's decision, with any recall), as a
    DataFrame when pandas is installed. ``summary`` is ``summary.json``.
    """

    summary: dict
    accepted: list = field(default_factory=list)
    quarantined: list = field(default_factory=list)
    rejected: list = field(default_factory=list)
    decisions: Any = None

    @property
    def counts(self) -> dict:
        return self.summary["counts"]


def evaluate(
    outputs: Any,
    references: Optional[Sequence[Any]] = None,
    labels: Optional[Sequence[Any]] = None,
    inputs: Optional[Sequence[Any]] = None,
    plugins: Optional[Sequence[str]] = None,
    config: Optional[Path] = None,
    jobs: Optional[int] = None,
    *,
    ids: Optional[Sequence[Any]] = None,
    settings: Optional[Mapping[str, Any]] = None,
    fields: Optional[Mapping[str, str]] = None,
) -> Evaluation:
    """Scores model outputs with evaluator plugins, as ``assay run`` does.

    ``outputs`` is either a list of output texts (with ``references``, a
    text or a list of texts each, ``labels``, ``inputs`` and ``ids`` beside
    it), or the eval set itself: a pandas DataFrame, a Hugging Face
    ``datasets.Dataset`` or any iterable of dicts, with the fields of an
    eval set file (``output``, ``reference``, ``label``, ``input``, ``id``;
    ``fields={"output": "prediction"}`` reads a field under another name).

    ``plugins`` names built-ins, plugins of ``config``, ``.wasm`` files or
    ``oci://`` references; by default every plugin of ``config``, or
    ``rouge`` and ``bleu`` without one. ``settings`` sets plugin options
    (``{"rouge.stemmer": True}``), as ``--set`` does. ``jobs`` is the number
    of worker threads (all cores by default); results are identical for any.
    """
    records = _records(outputs, {"reference": references, "label": labels, "input": inputs, "id": ids})
    summary, ids, scores, errors = _assay.evaluate(
        records,
        _plugins(plugins, config, DEFAULT_PLUGINS),
        _path(config),
        jobs,
        _settings(settings),
        list((fields or {}).items()),
    )
    columns = {"id": ids, **scores, "errors": [None if e is None else json.loads(e) for e in errors]}
    try:
        import pandas
    except ImportError:
        names = list(columns)
        samples = [dict(zip(names, row)) for row in zip(*columns.values())]
    else:
        samples = pandas.DataFrame(columns)
    return Evaluation(summary=json.loads(summary), samples=samples)


def screen(
    feedback: Any,
    guards: Optional[Sequence[str]] = None,
    config: Optional[Path] = None,
    jobs: Optional[int] = None,
    *,
    settings: Optional[Mapping[str, Any]] = None,
    fields: Optional[Mapping[str, str]] = None,
) -> Screening:
    """Screens user feedback with guard plugins, as ``assay guard`` does.

    ``feedback`` is a pandas DataFrame, a ``datasets.Dataset`` or any
    iterable of dicts with the fields of a feedback file (``id``, ``user``,
    ``timestamp``, ``prompt``, ``output``, ``rating``, ``correction``,
    ``comment``). ``guards`` names built-ins (``arithmetic``, ``facts``,
    ``flood``, ``injection``, ``consensus``), plugins of ``config``,
    ``.wasm`` files or ``oci://`` references; by default every plugin of
    ``config``. Guards see the records in order, so the decisions (and any
    recalls) are those of ``assay guard`` on a file of the same records.
    """
    records = _records(feedback, {})
    summary, accepted, quarantined, rejected, decisions = _assay.screen(
        records,
        _plugins(guards, config, ()),
        _path(config),
        jobs,
        _settings(settings),
        list((fields or {}).items()),
    )
    lines = lambda data: [json.loads(line) for line in data.splitlines()]  # noqa: E731
    return Screening(
        summary=json.loads(summary),
        accepted=lines(accepted),
        quarantined=lines(quarantined),
        rejected=lines(rejected),
        decisions=_table(lines(decisions)),
    )


class Plugin:
    """A plugin component, loaded to be looked at (``assay inspect``)."""

    def __init__(self, inspection: dict):
        self._inspection = inspection

    @classmethod
    def load(cls, source: str, config: Optional[Path] = None) -> "Plugin":
        """Loads ``source``: a built-in's name, a ``.wasm`` path, an
        ``oci://`` reference, or a plugin of ``config`` (resolved with its
        lock and trust policy)."""
        return cls(json.loads(_assay.inspect(source, _path(config))))

    @property
    def name(self) -> str:
        return self._inspection["name"]

    def describe(self) -> dict:
        """Its name, version, description, kind, contract and world."""
        keys = ("name", "version", "description", "kind", "contract", "world", "sha256")
        return {key: self._inspection[key] for key in keys}

    def metrics(self) -> list:
        """The metrics it reports, each with its level and direction."""
        return list(self._inspection["metrics"])

    def inspect(self) -> dict:
        """Everything ``assay inspect --json`` says: metadata, imports and
        what the sandbox gives for each."""
        return dict(self._inspection)

    def __repr__(self) -> str:
        return f"Plugin({self.name!r}, {self._inspection['kind']}, {self._inspection['version']!r})"


def _records(data: Any, columns: Mapping[str, Optional[Sequence[Any]]]) -> bytes:
    """The eval set or feedback as JSON Lines bytes, without a file."""
    given = {name: values for name, values in columns.items() if values is not None}
    if _is_dataframe(data):
        _no_columns(given)
        text = data.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
        return text.encode("utf-8") + (b"" if text.endswith("\n") or not text else b"\n")
    if _is_dataset(data):
        _no_columns(given)
        data = iter(data)
    elif isinstance(data, (str, bytes)) or isinstance(data, Mapping):
        raise TypeError("give a list of outputs, a DataFrame, a datasets.Dataset or an iterable of dicts")
    rows = list(data)
    if rows and all(isinstance(row, Mapping) for row in rows):
        _no_columns(given)
        return "".join([json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows]).encode("utf-8")
    for name, values in given.items():
        if len(values) != len(rows):
            raise ValueError(f"{len(rows)} outputs but {len(values)} {name} values")
    # Columns: each line written field by field, which is about twice as
    # fast as a dict per row through json.dumps.
    names = ["output", *given]
    columns = [rows, *given.values()]
    encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
    keys = [json.dumps(name) + ":" for name in names]
    lines = []
    for values in zip(*columns):
        lines.append("{" + ",".join([key + encode(value) for key, value in zip(keys, values)]) + "}\n")
    return "".join(lines).encode("utf-8")


def _no_columns(given: Mapping[str, Any]) -> None:
    if given:
        raise TypeError(
            f"{', '.join(given)}: give them as fields of the eval set, not beside it, when it is a table or dicts"
        )


def _is_dataframe(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "to_json")


def _is_dataset(data: Any) -> bool:
    return type(data).__module__.startswith("datasets") and hasattr(data, "features")


def _plugins(names: Optional[Sequence[str]], config: Optional[Path], default: Sequence[str]) -> list:
    if isinstance(names, str):
        names = [names]
    if names is not None:
        return list(names)
    return [] if config is not None else list(default)


def _path(path: Optional[Path]) -> Optional[str]:
    return None if path is None else str(path)


def _settings(settings: Optional[Mapping[str, Any]]) -> list:
    """``{"rouge.stemmer": True}`` as ``--set`` takes it: values in TOML."""
    return [f"{key}={_toml(value)}" for key, value in (settings or {}).items()]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"a plugin setting must be a bool, number, text or list, not {type(value).__name__}")


def _table(rows: list) -> Any:
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)
