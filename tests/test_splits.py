"""Splits of timing datasets: by block (hash) and by program (by-source)."""

from __future__ import annotations

import pytest

from envs.groundtruth.datasets import (
    TEST_APPLICATIONS,
    VAL_APPLICATIONS,
    block_applications,
    load_measured,
    make_split,
)
from harness.dataset import split_by_groups
from harness.errors import UserError
from tests.conftest import SMALL_DATASET


def test_split_by_groups_holds_out_whole_groups() -> None:
    groups = [("a",), ("b",), ("a", "c"), ("c",), ("b", "d"), ("e",)]
    s = split_by_groups(groups, test_groups=["a"], val_groups=["b"], rule="r")
    assert s.test.tolist() == [0, 2]  # every item of a, even the one shared with c
    assert s.val.tolist() == [1, 4] and s.train.tolist() == [3, 5] and s.rule == "r"


def test_by_source_split_of_the_shipped_dataset_never_trains_on_a_test_program() -> None:
    data = load_measured("bhive_znver3")
    split = make_split(data, "by-source")
    apps = block_applications()
    train_apps = {a for i in split.train for a in apps[data.inputs[i]]}
    assert not train_apps & set(TEST_APPLICATIONS + VAL_APPLICATIONS)
    for i in split.test:
        assert set(apps[data.inputs[i]]) & set(TEST_APPLICATIONS)
    sizes = (len(split.train), len(split.val), len(split.test))
    assert sum(sizes) == len(data) and min(sizes) > 1000
    assert "sqlite" in split.rule and "never seen in training" in split.rule


def test_by_source_needs_known_blocks_and_hash_is_the_default() -> None:
    data = load_measured(str(SMALL_DATASET))
    assert make_split(data).rule.startswith("by item: hash")
    with pytest.raises(UserError, match="unknown|one of"):
        make_split(data, "by-author")
