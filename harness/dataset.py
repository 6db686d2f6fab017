"""Ground-truth datasets and their deterministic train/val/test split."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """Indices into a :class:`Dataset`, one int64 array per part, and the rule that made
    them (one line for reports, e.g. ``hash 80/10/10 (seed 0)``)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    rule: str = ""

    def part(self, name: str) -> np.ndarray:
        """Return the index array of ``name`` (one of ``train``, ``val``, ``test``)."""
        if name not in SPLIT_NAMES:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLIT_NAMES}")
        return getattr(self, name)


@dataclass(frozen=True)
class Dataset:
    """A measured dataset: one input (e.g. a BHive hex block) and one target per item.

    Attributes:
        name: short name used in reports.
        inputs: n inputs, unique (a basic block as hex machine code, a module path, ...).
        targets: float64 array of shape [n], the measured value (e.g. cycles_per_100).
        meta: the measurement's sidecar (CPU, date, method, source file, ...).
    """

    name: str
    inputs: tuple[str, ...]
    targets: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.targets):
            raise ValueError(
                f"dataset {self.name!r}: {len(self.inputs)} inputs but {len(self.targets)} targets"
            )
        if len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"dataset {self.name!r}: inputs are not unique")

    def __len__(self) -> int:
        return len(self.inputs)

    def split(
        self, seed: int = 0, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    ) -> Split:
        """Split by item into train/val/test, deterministically.

        Each item's part depends only on (seed, its input), by hashing, so adding or
        removing other items never moves an item to another part.
        """
        if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
        u = np.array([_unit_hash(seed, x) for x in self.inputs], dtype=np.float64)
        cut1, cut2 = fractions[0], fractions[0] + fractions[1]
        idx = np.arange(len(self.inputs), dtype=np.int64)
        return Split(
            train=idx[u < cut1],
            val=idx[(u >= cut1) & (u < cut2)],
            test=idx[u >= cut2],
            rule=f"by item: hash {fractions[0]:.0%}/{fractions[1]:.0%}/{fractions[2]:.0%} "
            f"(seed {seed})",
        )


def split_by_groups(
    item_groups: Sequence[Iterable[str]],
    test_groups: Iterable[str],
    val_groups: Iterable[str],
    rule: str,
) -> Split:
    """Split items by the groups (e.g. source applications) they belong to.

    An item belonging to any test group is test; otherwise to any validation group,
    val; otherwise train. So test and val hold whole groups, and no item of a test group
    is ever seen in training, even when it also occurs in a training group.
    """
    test, val = set(test_groups), set(val_groups)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for i, groups in enumerate(item_groups):
        g = set(groups)
        parts["test" if g & test else "val" if g & val else "train"].append(i)
    return Split(
        train=np.array(parts["train"], dtype=np.int64),
        val=np.array(parts["val"], dtype=np.int64),
        test=np.array(parts["test"], dtype=np.int64),
        rule=rule,
    )


def subsample(dataset: Dataset, n: int, seed: int = 1) -> Dataset:
    """The ``n`` items of ``dataset`` with the smallest hash under ``seed`` (stable:
    growing ``n`` only adds items), in their original order; all if n >= len."""
    if n >= len(dataset):
        return dataset
    keys = np.array([_unit_hash(seed, x) for x in dataset.inputs])
    keep = np.sort(np.argsort(keys, kind="stable")[:n])
    return Dataset(
        name=f"{dataset.name}[{n}]",
        inputs=tuple(dataset.inputs[i] for i in keep),
        targets=dataset.targets[keep],
        meta={**dataset.meta, "subsample": {"n": n, "seed": seed}},
    )


def _unit_hash(seed: int, text: str) -> float:
    """A number in [0, 1) fixed by (seed, text)."""
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64
