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
