"""bench/passes_targets.py writes suites the harness parses, in each of its modes (dry
runs: nothing is compiled, no corpus needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.suite import load_suite

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "passes_targets.py"


def _dry(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--dry-run", *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def _pairs(path: Path) -> set[tuple[str, str]]:
    return {(s.task_label, s.agent) for s in load_suite(path)[1]}


def test_generalization_suite_parses(tmp_path: Path) -> None:
    run = _dry(tmp_path)
    assert run.returncode == 0, run.stderr
    pairs = _pairs(tmp_path / "passes_general.toml")
    assert ("passes-seq", "seq-hillclimb") in pairs
    assert ("passes-policy", "bc-oz+ppo") in pairs


@pytest.mark.parametrize("together", [False, True])
def test_portfolio_suites_parse(tmp_path: Path, together: bool) -> None:
    pf = tmp_path / "portfolio.json"
    pf.write_text(json.dumps({"portfolio": [["-Oz", "mergefunc"], ["gvn-sink", "-Oz"]]}))
    agents = ["--general-agents", "default", "greedy-oz", "seq-shortlist", "bc-oz+ppo"]
    mode = ["--together"] if together else []
    run = _dry(tmp_path, "--portfolio-file", str(pf), *mode, *agents)
    assert run.returncode == 0, run.stderr
    pairs = _pairs(tmp_path / "passes_permodule.toml")
    assert ("passes-per-module", "pm-hillclimb") in pairs
    assert (("passes-seq", "seq-shortlist") in pairs) == together
    assert (("passes-policy", "bc-oz+ppo") in pairs) == together


def test_stale_portfolio_is_refused_in_one_line(tmp_path: Path) -> None:
    pf = tmp_path / "portfolio.json"
    pf.write_text(json.dumps({"portfolio": [["attributor", "-Oz"]]}))
    run = _dry(tmp_path, "--portfolio-file", str(pf))
    assert run.returncode != 0
    assert run.stderr.strip().startswith("error:") and "attributor" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
