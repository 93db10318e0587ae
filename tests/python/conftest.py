"""Shared fixtures: the repository, the `assay` binary to compare with, and
runs of it on the bundled examples."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def assay_bin():
    """The command line the package must agree with: $ASSAY_BIN (the test
    harness in tests/python.rs sets it), else a build in target/."""
    given = os.environ.get("ASSAY_BIN")
    candidates = [Path(given)] if given else [ROOT / "target/debug/assay", ROOT / "target/release/assay"]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    pytest.fail("no assay binary: set ASSAY_BIN or build it with cargo build")


@pytest.fixture(scope="session")
def cli(assay_bin, tmp_path_factory):
    """Runs `assay ARGS...` in the repository; returns the completed process."""

    def run(*args, check=True):
        done = subprocess.run([str(assay_bin), *map(str, args)], cwd=ROOT, capture_output=True, text=True)
        if check and done.returncode not in (0, 3):
            raise AssertionError(f"assay {' '.join(map(str, args))} failed: {done.stderr}")
        return done

    return run
