"""``per-shape``: run a registered ask/tell agent on each item's own sub-space.

On a per-item product space (``gemm-search``: one schedule per shape, see
``agents/gemm/product.py``) the budget is split equally over the items and the searcher
named by ``search`` (``random``, ``optuna-tpe``, ``opentuner``, ...) tunes each item's
sub-configuration on its own share, through the harness's budgeted objective (the
real budget is charged). Items are searched one after another; the product of the
per-item bests is the result. On any other space it runs the searcher as it is.
"""

from __future__ import annotations

import numpy as np

from agents.gemm.product import ItemObjective, item_structure
from harness import registry
from harness.agent import Agent, AskTellAgent, TrialContext
from harness.params import Config
from harness.trial import stable_int


class PerShapeSearch(Agent):
    name = "per-shape"
    description = (
        "a registered ask/tell searcher run on each shape's schedule alone (budget split equally)"
    )

    def __init__(self, search: str = "random") -> None:
        super().__init__()
        cls = registry.agent_class(search)
        if not issubclass(cls, AskTellAgent):
            raise ValueError(f"search must name an ask/tell agent, not {search!r}")
        self.search = search

    def run(self, ctx: TrialContext) -> Config | None:
        cls = registry.agent_class(self.search)
        st = item_structure(ctx.param_space)
        if st is None:
            return cls().run(ctx)
        incumbents = ctx.param_space.default()
        budget = ctx.objective.samples_left
        shares = np.full(st.n_items, budget // st.n_items)
        shares[: budget % st.n_items] += 1
        for item in range(st.n_items):
            sub_obj = ItemObjective(ctx.objective, st, item, incumbents, int(shares[item]))
            sub_ctx = TrialContext(
                objective=sub_obj,  # type: ignore[arg-type]
                param_space=sub_obj.param_space,
                seed=stable_int("per-shape", ctx.seed, item) % 2**31,
                eval_items=np.array([item], dtype=np.int64),
                rng=np.random.default_rng(stable_int("per-shape-rng", ctx.seed, item)),
                device=ctx.device,
                threads=ctx.threads,
            )
            if shares[item] < 1:
                continue
            cls().run(sub_ctx)
        return ctx.param_space.validate(incumbents)

    def versions(self) -> dict[str, str]:
        return {"search": self.search}
