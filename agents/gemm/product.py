"""Per-item product spaces: a configuration holding one sub-configuration per item.

A task whose parameters are all named ``s<i>.<name>`` (``gemm-search``: ``s03.tile_m``)
gives item i its own sub-configuration; an item's cost depends only on its own. This
module finds that structure from the names alone (agents never see the task object),
and offers a budgeted objective restricted to one item (:class:`ItemObjective`), so
any ask/tell agent can search one item's sub-space through the real, harness-owned
budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from harness.budget import BudgetedObjective
from harness.params import Config, ParamSpace

_ITEM_NAME = re.compile(r"^s(\d+)\.(.+)$")


@dataclass
class ItemStructure:
    """How a product space splits into items.

    Attributes:
        n_items: items (sub-configurations).
        names: the sub-parameters' names (the same for every item).
        sub_space: item 0's sub-space with the names stripped (no constraint: use
            :meth:`sub_violation`); defaults are item 0's.
        product: the product space.
    """

    n_items: int
    names: tuple[str, ...]
    sub_space: ParamSpace
    product: ParamSpace
    _verdicts: dict[str, str | None] = field(default_factory=dict)

    def full_name(self, item: int, name: str) -> str:
        return f"s{item:02d}.{name}"

    def sub(self, config: Mapping[str, Any], item: int) -> Config:
        """Item ``item``'s sub-configuration of a product configuration."""
        return {n: config[self.full_name(item, n)] for n in self.names}

    def with_sub(self, config: Mapping[str, Any], item: int, sub: Mapping[str, Any]) -> Config:
        """A copy of ``config`` with item ``item``'s sub-configuration replaced."""
        out = dict(config)
        out.update({self.full_name(item, n): sub[n] for n in self.names})
        return out

    def item_space(self, item: int, base: Mapping[str, Any]) -> ParamSpace:
        """Item ``item``'s sub-space: its defaults, and a constraint that embeds a
        sub-configuration into ``base`` (valid elsewhere) and asks the product's. The
        product's constraint is taken to be the same constraint on every item's
        sub-configuration (true of ``gemm-search``), so verdicts are memoised across
        items: a product check costs one check per item."""
        params = [
            replace(self.sub_space[n], default=self.product[self.full_name(item, n)].default)
            for n in self.names
        ]
        product = self.product
        verdicts = self._verdicts

        def fits(sub: Mapping[str, Any]) -> str | None:
            key = repr([sub[k] for k in self.names])
            if key not in verdicts:
                verdicts[key] = product.violation(self.with_sub(base, item, sub))
            return verdicts[key]

        return ParamSpace(params, constraint=fits)


def item_structure(space: ParamSpace) -> ItemStructure | None:
    """The per-item structure of ``space``, or None when its names do not follow it
    (every parameter ``s<i>.<name>``, items 0..n-1, the same names for each item)."""
    per_item: dict[int, list[str]] = {}
    for p in space:
        match = _ITEM_NAME.match(p.name)
        if match is None:
            return None
        per_item.setdefault(int(match.group(1)), []).append(match.group(2))
    if not per_item or sorted(per_item) != list(range(len(per_item))):
        return None
    names = tuple(per_item[0])
    if any(tuple(v) != names for v in per_item.values()):
        return None
    sub = ParamSpace([replace(space[f"s00.{n}"], name=n) for n in names])
    return ItemStructure(n_items=len(per_item), names=names, sub_space=sub, product=space)


class _ItemLog:
    def __init__(self, owner: ItemObjective) -> None:
        self._owner = owner

    @property
    def incumbent(self) -> Config | None:
        return self._owner.incumbent


class ItemObjective:
    """The budgeted objective seen by a searcher of one item's sub-space.

    Every request goes to the real objective (which charges it) as the full
    configuration ``incumbents`` with this item's sub-configuration replaced, evaluated on
    this item only; at most ``share`` samples are spent through it. ``propose`` updates
    this item's entry of the shared ``incumbents`` and proposes the whole to the harness.

    Args:
        outer: the trial's objective.
        structure: the product's structure.
        item: this item.
        incumbents: the shared product configuration (updated in place).
        share: samples this item may use.
    """

    def __init__(
        self,
        outer: BudgetedObjective,
        structure: ItemStructure,
        item: int,
        incumbents: dict[str, Any],
        share: int,
    ) -> None:
        self._outer, self._st, self._item = outer, structure, int(item)
        self._incumbents = incumbents
        self._share = int(share)
        self._used = 0
        self._best = float("inf")
        self.incumbent: Config | None = None
        self.log = _ItemLog(self)
        self.param_space = structure.item_space(item, incumbents)

    @property
    def samples_left(self) -> int:
        return max(0, min(self._share - self._used, self._outer.samples_left))

    @property
    def samples_used(self) -> int:
        return self._used

    @property
    def budget_samples(self) -> int:
        return self._share

    def _full(self, config: Mapping[str, Any]) -> Config:
        return self._st.with_sub(self._incumbents, self._item, self.param_space.validate(config))

    def evaluate(
        self,
        config: Mapping[str, Any],
        split: str = "train",
        items: Any = None,
        reuse: bool = False,
    ) -> np.ndarray:
        """Cost of this item under ``config`` (``items`` is ignored: always this item)."""
        before = self._outer.samples_used
        out = self._outer.evaluate(self._full(config), split, np.array([self._item]), reuse=reuse)
        self._used += self._outer.samples_used - before
        return out

    def loss(
        self,
        config: Mapping[str, Any],
        split: str = "train",
        items: Any = None,
        reuse: bool = False,
    ) -> float:
        """Task loss of this item under ``config`` (``items`` is ignored)."""
        if self.samples_left < 1 and not reuse:
            from harness.budget import BudgetExhausted

            raise BudgetExhausted(f"item {self._item}: its share of {self._share} samples is spent")
        before = self._outer.samples_used
        out = self._outer.loss(self._full(config), split, np.array([self._item]), reuse=reuse)
        self._used += self._outer.samples_used - before
        return out

    def propose(self, config: Mapping[str, Any], train_loss: float | None = None) -> None:
        """Make ``config`` this item's choice (when its loss is the item's best so far)
        and propose the product configuration to the harness."""
        loss = float("inf") if train_loss is None else float(train_loss)
        if self.incumbent is not None and loss >= self._best:
            return
        self._best = loss
        sub = self.param_space.validate(config)
        self.incumbent = sub
        self._incumbents.update(self._st.with_sub(self._incumbents, self._item, sub))
        self._outer.propose(self._incumbents)
