"""Shared test set-up: the toy task plugin, paths, and the small measured dataset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TUNEBENCH_PLUGINS", "tests.toyfamily")

REPO = Path(__file__).resolve().parent.parent
SMALL_DATASET = REPO / "tests" / "data" / "measured_small.csv"


@pytest.fixture(scope="session", autouse=True)
def agent_zygote():  # noqa: ANN201 - a fixture
    """One zygote for the whole test session (harness/zygote.py): isolated agents fork
    from it instead of each spawning an interpreter and importing torch again."""
    from harness import registry
    from harness.zygote import Zygote

    modules = sorted(
        {"harness.isolation"}
        | {registry.agent_target(a).partition(":")[0] for a in registry.agent_names()}
    )
    zygote = Zygote(modules)
    zygote.publish()
    yield zygote
    zygote.stop()


@pytest.fixture
def repo() -> Path:
    return REPO


def tunebench_cmd() -> list[str]:
    """The CLI as a subprocess command (same interpreter as the tests)."""
    return [sys.executable, "-m", "harness.cli"]


def write_suite(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
