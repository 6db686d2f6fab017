"""Predictor-track agents (agents/predictors) on the small measured dataset: each keeps
its sample and label budgets and returns a picklable predictor of the right shape;
the harness scores it as a predictor; the same seed gives the same predictions."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from harness import registry
from harness.agent import TrialContext
from harness.budget import BudgetedObjective, BudgetExhausted
from harness.trial import TrialSpec, build_task, run_trial
from tests.conftest import SMALL_DATASET

TASK_OPTIONS = {"dataset": str(SMALL_DATASET), "split": "hash"}
TINY = {"hidden": 16, "embed": 8}
# Options that keep each agent to a second or two on the small dataset.
FAST: dict[str, dict[str, Any]] = {
    "mca-stock": {},
    "blocksim-stock": {},
    "opcode-regression": {},
    "boosted-residual": {"depths": [3], "max_rounds": 20, "patience": 5},
    "ithemal": {**TINY, "epochs": 2, "min_steps": 10},
    "surrogate-adapt": {**TINY, "pretrain_epochs": 2, "epochs": 2, "min_steps": 10},
    "perfvec": {**TINY, "dim": 4, "uarchs": 4, "blocks_per_uarch": 40, "epochs": 2},
    "difftune-predictor": {
        **TINY,
        "max_samples": 600,
        "pool_blocks": 100,
        "epochs": 1,
        "param_steps": 4,
    },
}
PREDICTORS = sorted(FAST)


def _context(budget: int, labels: int | None, seed: int = 0) -> TrialContext:
    task = build_task("blocksim", TASK_OPTIONS)
    return TrialContext(
        objective=BudgetedObjective(task, budget, budget_labels=labels),
        param_space=task.param_space,
        seed=seed,
        eval_items=np.arange(10, dtype=np.int64),
        rng=np.random.default_rng(seed),
    )


def _test_inputs() -> list[str]:
    task = build_task("blocksim", TASK_OPTIONS)
    return task.inputs("test", np.arange(task.n_items("test")))


@pytest.mark.parametrize("agent", PREDICTORS)
@pytest.mark.parametrize(("budget", "labels"), [(2000, 60), (150, 8)])
def test_predictor_keeps_budgets_and_pickles(agent: str, budget: int, labels: int) -> None:
    ctx = _context(budget, labels)
    predictor = registry.agent_class(agent)(**FAST[agent]).run(ctx)
    obj = ctx.objective
    assert obj.samples_used <= budget and obj.labels_used <= labels
    if agent in ("mca-stock", "blocksim-stock"):
        assert obj.samples_used == 0 and obj.labels_used == 0
    assert callable(predictor)
    inputs = _test_inputs()
    out = predictor(inputs)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (len(inputs),)
    assert np.isfinite(out).mean() > 0.9 and (out[np.isfinite(out)] > 0).all()
    again = pickle.loads(pickle.dumps(predictor))
    np.testing.assert_allclose(again(inputs), out, equal_nan=True)
    assert predictor(inputs[:1]).shape == (1,)


@pytest.mark.parametrize("agent", ["ithemal", "perfvec", "opcode-regression", "boosted-residual"])
def test_same_seed_same_predictions(agent: str) -> None:
    inputs = _test_inputs()
    first = registry.agent_class(agent)(**FAST[agent]).run(_context(2000, 60))(inputs)
    second = registry.agent_class(agent)(**FAST[agent]).run(_context(2000, 60))(inputs)
    np.testing.assert_allclose(first, second)


def test_every_agent_of_a_seed_labels_the_same_blocks() -> None:
    from agents.predictors.common import all_items, label_items

    a, b = _context(2000, 50, seed=4), _context(2000, 50, seed=4)
    la, lb = label_items(a, all_items(a.objective)), label_items(b, all_items(b.objective))
    np.testing.assert_array_equal(la.rows, lb.rows)
    assert a.objective.labels_used == 50 and la.holdout.sum() >= 5
    other = _context(2000, 50, seed=5)
    assert not np.array_equal(label_items(other, all_items(other.objective)).rows, la.rows)


def _trial(
    agent: str,
    options: dict[str, Any] | None = None,
    task_options: dict[str, Any] = TASK_OPTIONS,
    seed: int = 1,
) -> dict[str, Any]:
    spec = TrialSpec(
        suite="predictors-test",
        task_label="blocksim",
        task="blocksim",
        agent=agent,
        seed=seed,
        budget_samples=1000,
        budget_labels=40,
        task_options=task_options,
        agent_options=FAST.get(agent, {}) if options is None else options,
    )
    return run_trial(spec)


def test_harness_scores_a_predictor_trial() -> None:
    record = _trial("opcode-regression")
    assert record["status"] == "ok", record["error"]
    assert record["result_kind"] == "predictor"
    assert record["labels_used"] <= 40 and record["samples_used"] == 0
    assert record["trial_id"].endswith("__l40__s1")
    assert np.isfinite(record["test_mape"])


@pytest.mark.slow
def test_a_torch_predictor_crosses_the_isolation_channel() -> None:
    # Torch tensors pickled by the channel's ForkingPickler would travel as shared
    # memory handles that die with the agent process; NeuralPredictor sends bytes.
    record = _trial("ithemal")
    assert record["status"] == "ok", record["error"]
    assert record["result_kind"] == "predictor" and np.isfinite(record["test_mape"])


def test_predictor_agents_refuse_tasks_without_hex_blocks() -> None:
    toy = build_task("toy", {})
    for agent in PREDICTORS:
        ok, why = registry.agent_class(agent).supports(toy)
        assert not ok and why


def test_predictor_agents_take_the_tasks_cpu_unless_told() -> None:
    from agents.predictors.simulators import task_cpu

    assert task_cpu("", {"cpu": "znver4"}) == "znver4"
    assert task_cpu("haswell", {"cpu": "znver4"}) == "haswell"
    assert task_cpu("", {}) == "znver3"
    z4 = {**TASK_OPTIONS, "cpu": "znver4"}
    assert build_task("blocksim", z4).facts()["cpu"] == "znver4"

    def test_mape(agent: str, options: dict[str, Any]) -> float:
        record = _trial(agent, options, task_options=z4, seed=0)
        assert record["status"] == "ok", record["error"]
        return record["test_mape"]

    # Through the isolation channel: the stock predictor of a znver4 task is znver4's
    # default table (the default agent's score); told znver3, it is another table.
    default = test_mape("default", {})
    assert test_mape("blocksim-stock", {}) == pytest.approx(default, rel=1e-12)
    assert test_mape("blocksim-stock", {"cpu": "znver3"}) != pytest.approx(default)


def test_predictors_resimulate_with_the_tasks_stack_engine() -> None:
    engine = {**TASK_OPTIONS, "stack_engine": True}
    assert build_task("blocksim", engine).facts()["stack_engine"] == "on"
    assert "stack_engine" not in build_task("blocksim", TASK_OPTIONS).facts()

    def test_mape(agent: str, task_options: dict[str, Any]) -> float:
        record = _trial(agent, {}, task_options=task_options, seed=0)
        assert record["status"] == "ok", record["error"]
        return record["test_mape"]

    # The stock predictor re-simulates at test time: with the task's stack engine it
    # scores as the default agent (the task's own simulator), not as the plain table.
    default = test_mape("default", engine)
    assert test_mape("blocksim-stock", engine) == pytest.approx(default, rel=1e-12)
    assert test_mape("default", TASK_OPTIONS) != pytest.approx(default)


def test_stock_mca_picks_llvm_22_for_a_cpu_only_it_models() -> None:
    agent = registry.agent_class("mca-stock")()
    ctx = _context(0, 0)
    ctx.task_facts = {"cpu": "znver4"}
    predictor = agent.run(ctx)
    assert (predictor.mcpu, predictor.llvm) == ("znver4", 22)


def test_predictors_start_from_the_tasks_table_file(tmp_path) -> None:
    from agents.predictors.simulators import BlockSimPredictor, task_blocksim_options
    from envs.blocksim.export import write_table_file

    plain = build_task("blocksim", TASK_OPTIONS)
    lat = [n for n in plain.param_space.names if n.startswith("lat:")]
    sim = plain.simulator
    slower = sim.base.with_flat(lat, sim.base.to_flat(lat) + 3)
    write_table_file(slower, tmp_path / "slower.json")
    tabled = {**TASK_OPTIONS, "table": str(tmp_path / "slower.json")}
    task = build_task("blocksim", tabled)
    assert task.facts()["table"] == str((tmp_path / "slower.json").resolve())
    # A predictor re-simulating with the task's options predicts its default
    # configuration (the file's table), which is what anchored models train against.
    hexes = _test_inputs()
    got = BlockSimPredictor("znver3", **task_blocksim_options(task.facts()))(hexes)
    want = task.evaluate(task.param_space.default(), "test", np.arange(len(hexes)))
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, BlockSimPredictor("znver3")(hexes))

    record = _trial("blocksim-stock", {}, task_options=tabled, seed=0)
    assert record["status"] == "ok", record["error"]
    default = _trial("default", {}, task_options=tabled, seed=0)
    assert record["test_mape"] == pytest.approx(default["test_mape"], rel=1e-12)


def test_sensitivity_views_say_what_bounds_a_block() -> None:
    from agents.predictors.uarchs import SENSITIVITIES, sensitivity_configs
    from tests.test_blocksim_rules import asm

    task = build_task("blocksim", TASK_OPTIONS)
    space = task.param_space
    configs = dict(zip(SENSITIVITIES, sensitivity_configs(space), strict=True))
    default = space.default()
    lat = [n for n in space.names if n.startswith("lat:")]
    assert all(configs["latency+1"][n] == min(default[n] + 1, space[n].high) for n in lat)
    assert configs["dispatch-3"]["dispatch_width"] == default["dispatch_width"] - 3
    sim = task.simulator
    chain = asm(["addq $1, %rax", "addq $1, %rax", "addq $1, %rax"])  # latency-bound
    wide = asm(["addq $1, %rax", "addq $1, %rbx", "addq $1, %rcx", "addq $1, %rdx"])
    t = {k: sim.predict([chain, wide], cfg) for k, cfg in configs.items()}
    t0 = sim.predict([chain, wide], default)
    assert t["latency+1"][0] > 1.5 * t0[0]  # the chain doubles
    assert t["resources*2"][1] > 1.5 * t0[1]  # four ALUs, now busy two cycles each
    assert t["resources*2"][0] == pytest.approx(t0[0], rel=0.1)
    with pytest.raises(ValueError, match="unknown sensitivity"):
        sensitivity_configs(space, ("faster",))


def test_reference_simulators_are_charged_and_reach_the_predictor() -> None:
    from harness.errors import UserError
    from harness.task import REFERENCES

    opts = {**TASK_OPTIONS, "references": ["znver4", "haswell/plain"]}
    task = build_task("blocksim", opts)
    assert REFERENCES in task.capabilities
    assert REFERENCES not in build_task("blocksim", TASK_OPTIONS).capabilities
    obj = BudgetedObjective(task, 10)
    z4 = obj.evaluate_reference("znver4", "train", np.arange(6))
    assert obj.samples_used == 6 and z4.shape == (6,)
    with pytest.raises(KeyError):
        obj.evaluate_reference("haswell", "train", np.arange(2))
    with pytest.raises(BudgetExhausted):
        obj.evaluate_reference("haswell/plain", "train", np.arange(6))
    haswell = obj.evaluate_reference("haswell/plain", "train", np.arange(4))
    assert obj.samples_used == 10
    stock = task.evaluate(task.param_space.default(), "train", np.arange(4))
    assert not np.array_equal(haswell, stock)
    with pytest.raises(UserError, match="reference simulator"):
        build_task("blocksim", {**TASK_OPTIONS, "references": ["pentium"]})

    # Through the isolation channel: the agent buys both references for every label.
    record = _trial("boosted-residual", None, task_options=opts, seed=0)
    assert record["status"] == "ok", record["error"]
    assert record["diag_references"] == 2
    assert record["samples_used"] == 40 * (1 + 2 + 5)


def test_boosted_mape_loss_fits_the_mape_minimiser_not_the_median() -> None:
    """Blocks the features cannot tell apart, measured at 1x, 3x and 3x the anchor: the
    median ratio is 3 (mean error 0.67 per block), MAPE is least at 1 (0.44). The "mape"
    loss must land on 1, the old "log-abs" on 3; and an unknown loss is refused."""
    from agents.predictors.boosted import BoostedResidualAgent, loss_targets, predicted_ratio

    ratio = np.tile([1.0, 3.0, 3.0], 40)
    x = np.zeros((len(ratio), 1))
    fitted = {}
    for loss in ("mape", "log-abs"):
        agent = BoostedResidualAgent(loss=loss, learning_rate=0.3)
        target, weight = loss_targets(ratio, loss)
        model = agent._model(depth=1, rounds=60, seed=0, early=False)
        model.fit(x, target, sample_weight=weight, verbose=False)
        fitted[loss] = float(predicted_ratio(model.predict(x[:1]), loss, 0.5)[0])
    assert fitted["mape"] == pytest.approx(1.0, abs=0.05)
    assert fitted["log-abs"] == pytest.approx(3.0, abs=0.1)
    mape_at = {k: float(np.mean(np.abs(v - ratio) / ratio)) for k, v in fitted.items()}
    assert mape_at["mape"] < mape_at["log-abs"]
    with pytest.raises(ValueError, match="unknown loss"):
        BoostedResidualAgent(loss="mse")


def test_network_mape_loss_is_the_metric_and_differs_from_log_abs() -> None:
    """fit.relative_loss: "mape" is mean |pred / y - 1| (over-prediction by 2x costs 1,
    under-prediction by 2x 0.5), "log-abs" is mean |log ratio| (both log 2); an unknown
    loss is refused by the check and by the agents that take one."""
    import torch

    from agents.predictors.fit import check_loss, relative_loss
    from agents.predictors.ithemal import IthemalAgent
    from agents.predictors.perfvec import PerfVecAgent

    y = torch.log(torch.tensor([100.0, 100.0]))
    pred = torch.log(torch.tensor([200.0, 50.0]))
    assert float(relative_loss(pred, y, "mape")) == pytest.approx((1.0 + 0.5) / 2)
    assert float(relative_loss(pred, y, "log-abs")) == pytest.approx(np.log(2.0))
    with pytest.raises(ValueError, match="unknown loss"):
        check_loss("mse")
    with pytest.raises(ValueError, match="unknown loss"):
        IthemalAgent(loss="mse")
    with pytest.raises(ValueError, match="unknown loss"):
        PerfVecAgent(head_loss="mse")
