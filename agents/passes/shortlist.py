"""``seq-shortlist``: one pass sequence for the generalization setting, learned from
what per-module searches find on training modules.

Single-sequence searchers (greedy, hill climbing over the whole training sample) climb
the average and stall near -Oz; sequences found for single modules often help many
others (Purini & Jain 2013, "Finding good optimization sequences covering program
space"). No library does this selection, so it is written here, in three stages:

1. **Candidates:** a registered sequence searcher (``seq-hillclimb``) runs on each of
   ``candidate_modules`` training modules alone (``search_budget`` compilations each,
   ``searches`` times with different seeds; module views as the ``per-module`` agent
   uses them); every sequence that beat -Oz on its module is a candidate.
2. **Training sample:** every candidate is compiled on the same random sample of
   training modules; its loss there (geomean instructions / -Oz) ranks it. The sample is
   as large as the budget left after stages 1 and 3 allows.
3. **Shortlist:** the ``shortlist`` best on the training sample are compiled on the
   validation modules; the best there (or -Oz when none beats it) is the answer.

Only modules of at most ``max_module_instructions`` (-Oz's count, a public target of the
train and validation splits) are used, so the budget buys many small modules rather
than a few huge ones. Every compilation is charged to the trial's budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.passes.per_module import ModuleObjective, run_on_module
from harness import registry
from harness.agent import Agent, TrialContext
from harness.budget import BudgetExhausted
from harness.params import Config, ParamSpace, SequenceParam
from harness.task import Task
from harness.trial import stable_int


class SequenceShortlist(Agent):
    """Options: ``searcher`` / ``searcher_options`` (stage 1's per-module searcher),
    ``candidate_modules`` (120), ``search_budget`` (compilations per module and search,
    40), ``searches`` (per module, 2), ``shortlist`` (20), ``max_module_instructions``
    (20,000), ``stage1_share`` (the most of the budget stage 1 may use, 0.3)."""

    name = "seq-shortlist"
    description = (
        "generalize: candidates from per-module searches on training modules, ranked on a "
        "training sample, the shortlist's best on validation"
    )
    quick_options = {"candidate_modules": 2, "search_budget": 3, "searches": 1, "shortlist": 2}

    def __init__(
        self,
        searcher: str = "seq-hillclimb",
        searcher_options: dict[str, Any] | None = None,
        candidate_modules: int = 120,
        search_budget: int = 40,
        searches: int = 2,
        shortlist: int = 20,
        max_module_instructions: int = 20_000,
        stage1_share: float = 0.3,
    ) -> None:
        super().__init__()
        if min(candidate_modules, search_budget, searches, shortlist) < 1:
            raise ValueError(
                "candidate_modules, search_budget, searches and shortlist must be >= 1"
            )
        if not 0.0 < stage1_share < 1.0:
            raise ValueError("stage1_share must be in (0, 1)")
        if max_module_instructions < 1:
            raise ValueError("max_module_instructions must be >= 1")
        self.searcher, self.searcher_options = searcher, dict(searcher_options or {})
        self.candidate_modules, self.search_budget = candidate_modules, search_budget
        self.searches, self.shortlist = searches, shortlist
        self.max_module_instructions = max_module_instructions
        self.stage1_share = float(stage1_share)
        self.ranked: list[tuple[Any, ...]] = []  # after a run: candidates, best on train first
        registry.agent_class(searcher)(**self.searcher_options)  # fails early on bad options

    @classmethod
    def supports(cls, task: Task) -> tuple[bool, str]:
        params = list(task.param_space)
        if len(params) != 1 or not isinstance(params[0], SequenceParam):
            return False, "needs one sequence parameter (the generalization setting)"
        return True, ""

    def _small(self, ctx: TrialContext, split: str) -> np.ndarray:
        """Items of ``split`` whose -Oz instruction count is within the size cap."""
        oz = ctx.objective.targets(split)
        small = np.flatnonzero(oz <= self.max_module_instructions)
        return small if len(small) else np.arange(len(oz))

    def _candidates(
        self, ctx: TrialContext, p: SequenceParam, modules: np.ndarray, budget: int
    ) -> list[tuple[Any, ...]]:
        """Stage 1: distinct sequences that beat the start (-Oz) on their own module."""
        found: dict[tuple[Any, ...], None] = {}
        space = ParamSpace([p])
        per_search = max(1, min(self.search_budget, budget // max(1, len(modules) * self.searches)))
        for item in modules:
            for s in range(self.searches):
                if ctx.objective.samples_left < per_search:
                    return list(found)
                view = ModuleObjective(ctx.objective, space, {}, p.name, int(item), per_search)
                rng = np.random.default_rng(stable_int("seq-shortlist", ctx.seed, int(item), s))
                run_on_module(ctx, view, space, self.searcher, self.searcher_options, rng)
                if view.best is not None and view.best[0] < view.first_loss:
                    found.setdefault(tuple(view.best[1]), None)
        return list(found)

    def run(self, ctx: TrialContext) -> Config:
        p = list(ctx.param_space)[0]
        assert isinstance(p, SequenceParam)
        default = {p.name: p.default}
        rng = ctx.rng
        train, val = self._small(ctx, "train"), self._small(ctx, "val")
        budget = ctx.objective.samples_left
        stage1 = min(
            int(self.stage1_share * budget),
            self.candidate_modules * self.search_budget * self.searches,
        )
        picks = rng.choice(train, size=min(self.candidate_modules, len(train)), replace=False)
        cands = self._candidates(ctx, p, np.sort(picks), stage1)
        self.set_diagnostic("candidates", len(cands))
        best: Config = default
        if not cands:
            return best
        # Stage 3's cost is fixed by the shortlist and the validation modules; the rest
        # buys stage 2's training sample (-Oz's own loss is 1.0 by definition: free).
        n_short = min(self.shortlist, len(cands))
        left = ctx.objective.samples_left - n_short * len(val)
        n_sample = min(len(train), max(1, left // len(cands)))
        sample = np.sort(rng.choice(train, size=n_sample, replace=False))
        self.set_diagnostic("training_sample_modules", n_sample)
        train_loss: list[float] = []
        try:
            for c in cands:
                train_loss.append(ctx.objective.loss({p.name: c}, "train", sample))
        except BudgetExhausted:
            pass
        if not train_loss:
            return best
        order = np.argsort(train_loss, kind="stable")
        self.ranked = [cands[i] for i in order]  # best on the training sample first
        top = int(order[0])
        if train_loss[top] < 1.0:
            best = {p.name: cands[top]}
            ctx.objective.propose(best, train_loss[top])
        best_val = 1.0  # -Oz's validation loss
        for rank, i in enumerate(order[:n_short].tolist()):
            try:
                loss = ctx.objective.loss({p.name: cands[i]}, "val", val)
            except BudgetExhausted:
                break
            if rank == 0:  # validation decides from here on: -Oz unless one beats it
                best = default
                ctx.objective.propose(best, 1.0)
            if loss < best_val:
                best_val, best = loss, {p.name: cands[i]}
                ctx.objective.propose(best, train_loss[i])
                self.set_diagnostic("pick_rank_on_train", rank + 1)
                self.set_diagnostic("pick_val_loss", loss)
        return best
