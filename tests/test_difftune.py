"""DiffTune agent: gradients reach the table, recovery of hidden blocksim parameters,
and the budget is never exceeded."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import torch

from agents.difftune.agent import DiffTuneAgent
from agents.difftune.layout import Layout
from agents.difftune.surrogate import Surrogate, mape_loss
from agents.difftune.train import Blocks
from envs.blocksim.task import BlockSimTask, make_blocksim_task
from harness.agent import TrialContext
from harness.budget import BudgetedObjective
from tests.conftest import SMALL_DATASET


class CountingTask(BlockSimTask):
    """Counts every simulated item, behind the harness's own counter."""

    simulated = 0

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        self.simulated += len(items)
        return super().evaluate(config, split, items)


@pytest.fixture(scope="module")
def synthetic() -> tuple[CountingTask, dict[str, int]]:
    """blocksim over measured_small's blocks with targets = blocksim under a hidden
    table: the latencies and port cycles of the 12 most common keys raised by 2."""
    base = make_blocksim_task(dataset=str(SMALL_DATASET))
    space = base.param_space
    tokens = base.item_tokens("train", np.arange(base.n_items("train")))
    common = [k for k, _ in Counter(k for s in tokens for k in s).most_common(12)]
    hidden = space.default()
    for name in space.names:
        field, _, key = name.partition(":")
        if key in common and (field == "lat" or field.startswith("port.")) and hidden[name] > 0:
            hidden[name] = min(int(space[name].high), hidden[name] + 2)  # type: ignore[union-attr]
    truth = base.simulator.predict(base.dataset.inputs, hidden)
    data = dataclasses.replace(base.dataset, targets=np.asarray(truth, np.float64))
    task = CountingTask("blocksim", "synthetic", data, base.simulator, space)
    return task, hidden


def _val_loss(task: BlockSimTask, config: Mapping[str, Any]) -> float:
    items = np.arange(task.n_items("val"))
    return task.loss(task.evaluate(config, "val", items), "val", items)


def _context(task: BlockSimTask, budget: int, seed: int = 0) -> TrialContext:
    obj = BudgetedObjective(task, budget)
    return TrialContext(
        objective=obj,
        param_space=task.param_space,
        seed=seed,
        eval_items=np.arange(50),
        rng=np.random.default_rng(seed),
    )


def test_gradients_flow_from_the_loss_to_the_parameter_table(synthetic) -> None:  # type: ignore[no-untyped-def]
    task, _ = synthetic
    layout = Layout.from_space(task.param_space)
    items = np.arange(32)
    tok, lengths = layout.token_ids(task.item_tokens("train", items))
    s0 = task.simulator.predict(task.inputs("train", items), task.param_space.default())
    blocks = Blocks(tok, lengths, s0)
    torch.manual_seed(0)
    model = Surrogate(layout, hidden=16, embed=8)
    # The head's last layer starts at zero (exact at the default); give it weights as
    # training would, so the LSTM path carries gradient too.
    torch.nn.init.normal_(model.head[2].weight, std=0.1)
    theta = torch.tensor(layout.default, dtype=torch.float32, requires_grad=True)
    tk, ln, ls0 = blocks.batch(np.arange(32), torch.device("cpu"))
    target = torch.as_tensor(task.targets("train", items), dtype=torch.float32)
    mape_loss(model(tk, ln, theta[None, :], ls0), target).backward()
    grad = theta.grad
    assert grad is not None and torch.isfinite(grad).all()
    used = {t for s in task.item_tokens("train", items) for t in s}
    for field in ("lat", "uops"):  # every used key's latency / micro-ops get a gradient
        idx = [layout.names.index(f"{field}:{t}") for t in used if f"{field}:{t}" in layout.names]
        assert (grad[idx] != 0).float().mean() > 0.9
    assert grad[layout.names.index("dispatch_width")] != 0
    unused = [j for j, n in enumerate(layout.names) if ":" in n and n.split(":", 1)[1] not in used]
    assert unused and (grad[unused] == 0).all()  # keys outside these blocks: no gradient


def test_recovers_hidden_parameters_within_a_small_budget(synthetic) -> None:  # type: ignore[no-untyped-def]
    task, hidden = synthetic
    default = task.param_space.default()
    assert _val_loss(task, hidden) == 0.0
    before = _val_loss(task, default)
    assert before > 0.2  # the hidden table is far from the default
    budget = 4000
    ctx = _context(task, budget)
    task.simulated = 0
    agent = DiffTuneAgent(hidden=64, epochs=12, lr=3e-3)
    chosen = agent.run(ctx)
    assert chosen is not None
    assert ctx.objective.samples_used <= budget and task.simulated <= budget
    after = _val_loss(task, chosen)
    assert after <= 0.5 * before, (before, after, agent.diagnostics())
    d = agent.diagnostics()
    assert d["surrogate_mape_vs_sim"] < 0.15  # fidelity vs the simulator, held-out tables
    assert d["surrogate_train_mape_learned"] < d["surrogate_train_mape_default"]
    assert d["val_mape_chosen"] <= d["val_mape_default"]


@pytest.mark.parametrize("budget", [0, 100, 1500, 2503])
def test_never_causes_more_samples_than_granted(synthetic, budget: int) -> None:  # type: ignore[no-untyped-def]
    task, _ = synthetic
    ctx = _context(task, budget, seed=1)
    task.simulated = 0
    agent = DiffTuneAgent(hidden=8, embed=4, epochs=1, param_steps=4, blocks_per_table=7)
    chosen = agent.run(ctx)
    assert chosen is not None
    task.param_space.validate(chosen)
    assert task.simulated == ctx.objective.samples_used <= budget
    if budget >= 1500:
        assert ctx.objective.samples_used >= 0.95 * budget  # the plan spends what it has
