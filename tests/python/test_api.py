"""The Python API against the command line it embeds: the same numbers,
decisions, plugins and error messages, from in-memory records."""

import json
import os
import threading

import pandas as pd
import pytest

import assay
from conftest import read_jsonl

QA = "examples/eval/qa.jsonl"
QA_CONFIG = "examples/eval/assay.toml"
FEEDBACK = "examples/feedback/feedback.jsonl"
FEEDBACK_CONFIG = "examples/feedback/assay.toml"


@pytest.fixture(scope="module")
def qa_run(cli, root, tmp_path_factory):
    out = tmp_path_factory.mktemp("qa")
    cli("run", QA, "--config", QA_CONFIG, "-o", out, "-q")
    return json.loads((out / "summary.json").read_text()), read_jsonl(out / "samples.jsonl")


@pytest.fixture(scope="module")
def qa_records(root):
    return read_jsonl(root / QA)


def same_run(summary, samples, cli_summary, cli_samples):
    """What must agree between two runs of the same records."""
    assert summary["kind"] == "evaluation"
    assert summary["metrics"] == cli_summary["metrics"]
    assert summary["details"] == cli_summary["details"]
    assert summary["counts"] == cli_summary["counts"]
    signatures = lambda s: [(p["name"], p["sha256"], p["signature"]) for p in s["plugins"]]  # noqa: E731
    assert signatures(summary) == signatures(cli_summary)
    assert len(samples) == len(cli_samples)
    for row, line in zip(samples, cli_samples):
        assert row["id"] == line["id"]
        assert {k: row[k] for k in line["scores"]} == line["scores"], row["id"]


def rows(samples):
    return samples.to_dict("records") if isinstance(samples, pd.DataFrame) else samples


def test_evaluate_gives_the_numbers_assay_run_gives(root, qa_run, qa_records):
    result = assay.evaluate(qa_records, config=root / QA_CONFIG)
    same_run(result.summary, rows(result.samples), *qa_run)
    assert result.metrics == qa_run[0]["metrics"]
    assert list(result.samples.columns[:2]) == ["id", "exact/exact_match"]
    # Nothing of the run went to disk: the input is named, not a path.
    assert result.summary["input"]["path"] == "records.jsonl"


def test_a_dataframe_and_a_dataset_are_eval_sets(root, qa_run, qa_records):
    datasets = pytest.importorskip("datasets")
    frame = pd.read_json(root / QA, lines=True, dtype=False)
    from_frame = assay.evaluate(frame, config=root / QA_CONFIG, jobs=1)
    same_run(from_frame.summary, rows(from_frame.samples), *qa_run)
    # Arrow columns hold one type: every reference as a list of texts,
    # which scores as the single text does.
    listed = [{**r, "reference": r["reference"] if isinstance(r["reference"], list) else [r["reference"]]} for r in qa_records]
    dataset = datasets.Dataset.from_list(listed)
    from_dataset = assay.evaluate(dataset, config=root / QA_CONFIG, jobs=2)
    same_run(from_dataset.summary, rows(from_dataset.samples), *qa_run)


def test_lists_of_outputs_and_references(cli, tmp_path):
    outputs = ["Paris", "the cat sat on the mat", "İstanbul'da yaşıyorum", "Lyon"]
    references = [["Paris"], "the cat is on the mat", "istanbul'da yaşıyorum", ["Paris", "Marseille"]]
    result = assay.evaluate(outputs, references=references, plugins=["exact_match", "rouge", "bleu"])
    samples = rows(result.samples)
    # Without ids, samples are numbered by line, as in a file.
    assert [row["id"] for row in samples] == [1, 2, 3, 4]
    assert [row["exact_match/exact_match"] for row in samples] == [1.0, 0.0, 0.0, 0.0]
    # The same records as a file, through the command line.
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "".join(json.dumps({"output": o, "reference": r}, ensure_ascii=False) + "\n" for o, r in zip(outputs, references)),
        encoding="utf-8",
    )
    cli("run", path, "-e", "exact_match", "-e", "rouge", "-e", "bleu", "-o", tmp_path / "out", "-q")
    cli_summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert result.metrics == cli_summary["metrics"]
    for row, line in zip(samples, read_jsonl(tmp_path / "out/samples.jsonl")):
        assert row["id"] == line["id"]
        assert {k: row[k] for k in line["scores"]} == line["scores"]
    # Settings are --set's.
    stemmed = assay.evaluate(["running cats"], references=["ran cat"], plugins=["rouge"], settings={"rouge.stemmer": True})
    plain = assay.evaluate(["running cats"], references=["ran cat"], plugins=["rouge"])
    assert stemmed.metrics["rouge/rouge1_f"] > plain.metrics["rouge/rouge1_f"]
    assert "stem:true" in stemmed.summary["plugins"][0]["signature"]


def test_screen_decides_as_assay_guard(cli, root, tmp_path):
    out = tmp_path / "guard"
    cli("guard", FEEDBACK, "--config", FEEDBACK_CONFIG, "-o", out, "-q")
    expected = json.loads((out / "summary.json").read_text())
    feedback = read_jsonl(root / FEEDBACK)
    result = assay.screen(feedback, config=root / FEEDBACK_CONFIG)
    assert result.counts == expected["counts"]
    assert result.summary["guards"] == expected["guards"]
    decisions = rows(result.decisions)
    for mine, theirs in zip(decisions, read_jsonl(out / "decisions.jsonl")):
        assert mine["id"] == theirs["id"] and mine["decision"] == theirs["decision"], theirs["id"]
        assert mine["guards"] == theirs["guards"], theirs["id"]
        recalled_from = mine.get("recalled_from")
        # A DataFrame fills a key some rows lack with NaN.
        assert (None if pd.isna(recalled_from) else recalled_from) == theirs.get("recalled_from"), theirs["id"]
    for route in ("accepted", "quarantined", "rejected"):
        assert [r["id"] for r in getattr(result, route)] == [r["id"] for r in read_jsonl(out / f"{route}.jsonl")]
    # Every record is accounted for, and recalls moved some.
    assert len(result.accepted) + len(result.quarantined) + len(result.rejected) == len(feedback)
    assert result.counts["recalled"] > 0


def test_screen_takes_a_dataframe_and_one_guard(root):
    frame = pd.read_json(root / FEEDBACK, lines=True, dtype=False)
    result = assay.screen(frame, guards=["arithmetic"])
    assert result.summary["plugins"][0]["name"] == "arithmetic"
    assert result.counts["records"] == len(frame)
    assert len(result.rejected) + len(result.quarantined) > 0
    assert isinstance(result.decisions, pd.DataFrame)


def test_errors_are_typed_and_worded_as_the_command_line_words_them(cli, tmp_path):
    records = [{"output": "a", "reference": "a"}, {"reference": "b"}]
    with pytest.raises(assay.DatasetError) as raised:
        assay.evaluate(records, plugins=["exact_match"])
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = cli("run", path, "-e", "exact_match", "-o", tmp_path / "out", check=False)
    assert done.returncode == 1
    cli_message = done.stderr.strip().removeprefix("error: ").replace(str(path), "records.jsonl")
    assert str(raised.value) == cli_message
    assert "records.jsonl:2" in str(raised.value) and "output" in str(raised.value)

    with pytest.raises(assay.ResolveError, match="no built-in plugin named \"nonesuch\""):
        assay.evaluate(["x"], plugins=["nonesuch"])
    with pytest.raises(assay.ConfigError):
        assay.evaluate(["x"], config=tmp_path / "missing.toml")
    with pytest.raises(assay.PluginLoadError, match="rouge"):
        assay.evaluate(["x"], references=["x"], plugins=["rouge"], settings={"rouge.no_such_setting": 1})
    assert issubclass(assay.DatasetError, assay.AssayError) and issubclass(assay.AssayError, Exception)
    with pytest.raises(ValueError):
        assay.evaluate(["a", "b"], references=["a"])


def test_plugins_describe_themselves_as_assay_inspect_does(cli):
    plugin = assay.Plugin.load("rouge")
    expected = json.loads(cli("inspect", "rouge", "--json").stdout)
    assert plugin.inspect() == expected
    assert plugin.describe()["kind"] == "evaluator" and plugin.name == "rouge"
    assert [m["name"] for m in plugin.metrics()] == [m["name"] for m in expected["metrics"]]
    flood = assay.Plugin.load("flood")
    assert flood.describe()["kind"] == "guard" and flood.inspect()["recalls"] is True
    with pytest.raises(assay.ResolveError):
        assay.Plugin.load("missing.wasm")


def test_a_component_on_disk_loads_and_scores_by_its_path(cli, tmp_path):
    path = os.environ.get("ASSAY_NOOP_WASM")
    if not path:
        pytest.fail("ASSAY_NOOP_WASM names the noop test plugin's component (tests/python.rs sets it)")
    plugin = assay.Plugin.load(path)
    expected = json.loads(cli("inspect", path, "--json").stdout)
    assert plugin.inspect() == expected and plugin.name == "noop"
    assert plugin.inspect()["source"] == expected["source"]
    result = assay.evaluate(["a", "b"], references=["a", "c"], plugins=[path])
    assert result.metrics == {"noop/zero": 0.0}
    assert rows(result.samples)[1]["noop/zero"] == 0.0
    # A plugin of a config, named as the config names it.
    config = tmp_path / "assay.toml"
    config.write_text(f'[plugins.nothing]\nsource = "{path}"\n')
    assert assay.Plugin.load("nothing", config=config).name == "noop"
    assert assay.evaluate(["a"], config=config).metrics == {"nothing/zero": 0.0}


def test_plugins_run_without_holding_the_gil():
    outputs = [f"the quick brown fox number {k} jumps over the lazy dog" for k in range(20_000)]
    references = [f"a quick brown fox {k} jumped over a lazy dog" for k in range(20_000)]
    done = threading.Event()
    ticks = []

    def other_work():
        while not done.is_set():
            ticks.append(1)

    worker = threading.Thread(target=other_work)
    worker.start()
    try:
        before = len(ticks)
        result = assay.evaluate(outputs, references=references, plugins=["rouge"], jobs=1)
        during = len(ticks) - before
    finally:
        done.set()
        worker.join()
    assert result.summary["counts"]["samples"] == 20_000
    # Had the call held the GIL, the other thread would have run only
    # between Python's switch intervals before and after it.
    assert during > 10_000, during
