"""Every suite shipped in configs/ parses, and the gemm suites' tasks and agents build
(their tables ship in the repo). Other suites' tasks need tools or a corpus built at
first use (inlining_debian: a ~1 h Debian corpus), so only their parsing is checked
here; their own tests build small versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.suite import check_specs, load_suite

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


def test_configs_are_found() -> None:
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_suite_parses(path: Path) -> None:
    name, specs = load_suite(path)
    assert name and specs


@pytest.mark.parametrize(
    "path", [p for p in CONFIGS if p.stem.startswith("gemm")], ids=lambda p: p.stem
)
def test_gemm_suites_build_on_their_shipped_tables(path: Path) -> None:
    check_specs(load_suite(path)[1])


def test_the_default_gemm_tables_provenance_states_its_repeat_and_splits() -> None:
    from envs.gemm.task import make_gemm_search_task, make_gemm_select_task
    from harness.analysis import TaskInfo
    from harness.report import _provenance

    search = make_gemm_search_task().provenance()
    assert search["split_sizes"] == {"train": 42, "val": 42, "test": 42}
    select = make_gemm_select_task().provenance()
    assert select["split_sizes"] == {"train": 102, "val": 26, "test": 42}
    assert select["dataset_cpu"] == "znver5" and "within 5%" in select["noise_floor"]
    info = TaskInfo(label="g", task="gemm-select", headline="x", direction="min", provenance=select)
    lines = _provenance(info)
    assert any(line.startswith("ground-truth noise floor (a same-CPU repeat") for line in lines)
    assert not any("not measured" in line for line in lines)
    assert any("train/val/test 102/26/42" in line for line in lines)
