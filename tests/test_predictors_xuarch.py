"""The cross-microarchitecture task (envs/xuarch) and the mechanism the predictors use
on it, on a synthetic target built from the small measured dataset."""

from __future__ import annotations

import numpy as np
import pytest

from agents.predictors.perfvec import choose_ridge, ridge
from envs.blocksim.simulator import BlockSim
from envs.xuarch.synthetic import perturbed_table
from harness import registry
from harness.agent import TrialContext
from harness.budget import BudgetedObjective, LabelBudgetExhausted
from harness.errors import UserError
from harness.trial import build_task
from tests.conftest import SMALL_DATASET

OPTIONS = {"source": str(SMALL_DATASET), "target": "synthetic:0", "split": "hash"}


def _ctx(budget: int, labels: int, seed: int = 0, **options: object) -> TrialContext:
    task = build_task("xuarch", {**OPTIONS, **options})
    return TrialContext(
        objective=BudgetedObjective(task, budget, budget_labels=labels),
        param_space=task.param_space,
        seed=seed,
        eval_items=np.arange(10, dtype=np.int64),
        rng=np.random.default_rng(seed),
    )


def test_source_labels_cost_samples_and_target_labels_cost_labels() -> None:
    ctx = _ctx(budget=50, labels=5)
    obj = ctx.objective
    source = {**ctx.param_space.default(), "machine": "source"}
    items = np.arange(20)
    src = obj.evaluate(source, "train", items)
    assert obj.samples_used == 20 and obj.labels_used == 0
    task = build_task("xuarch", OPTIONS)
    data = build_task("blocksim", {"dataset": str(SMALL_DATASET), "split": "hash"})
    assert task.inputs("train", items) == data.inputs("train", items)
    np.testing.assert_allclose(src, data.targets("train", items))  # the measured source
    obj.targets("train", np.arange(5))
    assert obj.labels_used == 5
    with pytest.raises(LabelBudgetExhausted):
        obj.targets("train", np.arange(5, 7))


def test_synthetic_target_is_seeded_and_not_the_default_table() -> None:
    sim = BlockSim("znver3")
    base = sim.default_table()
    a, b, c = (perturbed_table(base, s, 0.3) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.latency, b.latency)
    assert a.dispatch_width == b.dispatch_width
    assert not np.array_equal(a.latency, c.latency)
    task = build_task("xuarch", OPTIONS)
    items = np.arange(task.n_items("train"))
    stock = task.evaluate(task.param_space.default(), "train", items)
    assert task.loss(stock, "train", items) > 0.05  # the stock table is off the target


def test_ridge_moves_the_representation_from_the_prior_to_the_labels() -> None:
    rng = np.random.default_rng(0)
    f = np.hstack([rng.normal(size=(200, 6)), np.ones((200, 1))])
    prior = np.append(rng.normal(size=6), 4.0)
    true = prior + np.append(rng.normal(scale=0.5, size=6), 0.3)
    y = f @ true + rng.normal(scale=0.01, size=200)
    lam = choose_ridge(f, y, prior, rng)
    np.testing.assert_allclose(ridge(f, y, prior, lam), true, atol=0.05)
    # With no information in the labels, a huge weight keeps the prior.
    np.testing.assert_allclose(ridge(f[:3], y[:3], prior, 1e9), prior, atol=1e-6)


def test_perfvec_adds_the_source_cpu_as_a_microarchitecture() -> None:
    ctx = _ctx(budget=3000, labels=40)
    agent = registry.agent_class("perfvec")(
        hidden=16, embed=8, dim=4, uarchs=3, blocks_per_uarch=40, epochs=1
    )
    predictor = agent.run(ctx)
    assert agent.diagnostics()["uarchs"] == 1 + 1 + 3  # default, source, sampled
    assert ctx.objective.labels_used <= 40 and ctx.objective.samples_used <= 3000
    out = predictor(build_task("xuarch", OPTIONS).inputs("test", np.arange(5)))
    assert out.shape == (5,) and np.isfinite(out).all()


def test_surrogate_adapt_pretrains_on_the_source_cpu() -> None:
    ctx = _ctx(budget=3000, labels=40)
    agent = registry.agent_class("surrogate-adapt")(
        hidden=16, embed=8, pretrain_epochs=1, epochs=1, min_steps=5, pretrain="source"
    )
    assert callable(agent.run(ctx))
    assert ctx.objective.labels_used <= 40
    assert agent.diagnostics()["sim_samples"] == ctx.objective.n_items(
        "train"
    ) + ctx.objective.n_items("val")


@pytest.mark.slow
def test_perfvec_adapts_to_a_synthetic_target_from_few_labels() -> None:
    # The mechanism: representations learned from simulated microarchitectures, then
    # 100 labels of the synthetic target fit its representation. It must beat both the
    # stock table (0 labels) and the same labels spent on a network from scratch.
    # 3,000 shipped blocks (a few minutes): the small dataset is too small to learn
    # block representations from.
    options = {"source": "bhive_znver3", "max_items": 3000}
    task = build_task("xuarch", {**OPTIONS, **options})
    test = np.arange(task.n_items("test"))
    inputs = task.inputs("test", test)

    def score(agent: str, **agent_options: object) -> float:
        ctx = _ctx(60_000, 100, **options)
        predictor = registry.agent_class(agent)(**agent_options).run(ctx)
        return task.loss(predictor(inputs), "test", test)

    small = {"hidden": 64, "embed": 32}
    stock = task.loss(task.evaluate(task.param_space.default(), "test", test), "test", test)
    perfvec = score("perfvec", uarchs=24, blocks_per_uarch=800, min_steps=400, **small)
    scratch = score("ithemal", epochs=20, **small)
    assert perfvec < stock and perfvec < scratch, (perfvec, stock, scratch)


def test_measured_target_uses_the_blocks_measured_on_both_cpus(tmp_path) -> None:
    # A second "CPU": blocks 100.. of the small dataset at 1.5x the cycles, and two
    # blocks the source never measured; the items are the blocks both measured, the
    # targets the second CPU's, machine = source the first CPU's.
    src = build_task("blocksim", {"dataset": str(SMALL_DATASET), "split": "hash"}).dataset
    shared = dict(zip(src.inputs[100:], src.targets[100:].tolist(), strict=True))
    path = tmp_path / "cpu2.csv"
    lines = ["hex,throughput"] + [f"{h},{1.5 * t}" for h, t in shared.items()]
    path.write_text("\n".join([*lines, "4889c7,101.0", "4801d8,102.0"]) + "\n")
    task = build_task("xuarch", {**OPTIONS, "target": str(path)})
    assert set(task.dataset.inputs) == set(shared)
    obj = BudgetedObjective(task, 10_000, budget_labels=10_000)
    source = {**task.param_space.default(), "machine": "source"}
    for split in ("train", "val", "test"):
        items = np.arange(task.n_items(split))
        hexes = task.inputs(split, items)
        want = np.array([shared[h] for h in hexes])
        np.testing.assert_allclose(task.targets(split, items), 1.5 * want)
        if split != "test":  # agents see train and validation only
            np.testing.assert_allclose(obj.targets(split, items), 1.5 * want)
            np.testing.assert_allclose(obj.evaluate(source, split, items), want)
    stock = task.evaluate(task.param_space.default(), "train", np.arange(5))
    assert np.isfinite(stock).all()  # machine = blocksim: the simulator's cycles
    other = tmp_path / "cpu3.csv"
    other.write_text("hex,throughput\n4889c7,101.0\n")
    with pytest.raises(UserError, match="share no block"):
        build_task("xuarch", {**OPTIONS, "target": str(other)})


def test_stack_engine_option_reaches_the_simulator_the_synthetic_target_and_the_facts() -> None:
    plain = build_task("xuarch", OPTIONS)
    engine = build_task("xuarch", {**OPTIONS, "stack_engine": True})
    assert engine.facts()["stack_engine"] == "on" and "stack_engine" not in plain.facts()
    assert "stack engine" in engine.description
    # The small dataset has PUSH / POP blocks: the synthetic target (blocksim under the
    # perturbed table, simulated in a child process) changes with the engine.
    assert not np.array_equal(plain.dataset.targets, engine.dataset.targets)
