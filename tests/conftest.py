"""Shared test set-up: the toy task plugin, paths, and the small measured dataset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TUNEBENCH_PLUGINS", "tests.toyfamily")

REPO = Path(__file__).resolve().parent.parent
SMALL_DATASET = REPO / "tests" / "data" / "measured_small.csv"


@pytest.fixture
def repo() -> Path:
    return REPO


def tunebench_cmd() -> list[str]:
    """The CLI as a subprocess command (same interpreter as the tests)."""
    return [sys.executable, "-m", "harness.cli"]


def write_suite(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
