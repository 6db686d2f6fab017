import numpy as np
import pytest

from harness.agent import Agent, AskTellAgent, TrialContext
from harness.budget import BudgetedObjective, BudgetExhausted
from harness.trial import TrialSpec, run_trial
from tests.toyfamily.task import ToyTask


def test_refuses_a_request_past_the_budget_and_charges_nothing() -> None:
    task = ToyTask(n=50)
    obj = BudgetedObjective(task, budget_samples=120)
    cfg = task.param_space.default()
    obj.loss(cfg, "train", np.arange(50))
    obj.loss(cfg, "train", np.arange(50))
    assert obj.samples_used == 100
    calls_before = task.calls
    with pytest.raises(BudgetExhausted):
        obj.loss(cfg, "train", np.arange(21))
    assert obj.samples_used == 100 and task.calls == calls_before
    obj.evaluate(cfg, "val", np.arange(20))  # exactly the rest is allowed
    assert obj.samples_left == 0


def test_repeated_configurations_are_charged_again() -> None:
    task = ToyTask(n=50)
    obj = BudgetedObjective(task, budget_samples=1000)
    cfg = task.param_space.default()
    for _ in range(4):
        obj.loss(cfg, "train", np.arange(10))
    assert obj.samples_used == 40 and obj.evaluations == 4


def test_reuse_gives_back_only_what_this_objective_returned() -> None:
    task = ToyTask(n=50)
    obj = BudgetedObjective(task, budget_samples=1000)
    cfg = task.param_space.default()
    first = obj.evaluate(cfg, "train", np.arange(10))
    assert obj.sample_cost(cfg, "train", np.arange(12), reuse=True) == 2
    again = obj.evaluate(cfg, "train", np.arange(12), reuse=True)
    assert obj.samples_used == 12 and np.array_equal(again[:10], first)
    # Another configuration, or the same one without reuse, is charged in full.
    other = {**cfg, "y": 2}
    assert obj.sample_cost(other, "train", np.arange(10), reuse=True) == 10
    assert obj.sample_cost(cfg, "train", np.arange(10)) == 10
    assert task.calls == 12  # each (configuration, item) simulated once


def test_label_budget_charges_each_distinct_label_once() -> None:
    task = ToyTask(n=50)
    obj = BudgetedObjective(task, budget_samples=1000, budget_labels=15)
    obj.targets("train", np.arange(10))
    obj.targets("train", np.arange(5))  # seen: free
    assert obj.labels_used == 10 and obj.label_cost("train", np.arange(12)) == 2
    obj.loss(task.param_space.default(), "val", np.arange(5))  # 5 new labels
    assert obj.labels_used == 15 and obj.labels_left == 0
    with pytest.raises(BudgetExhausted, match="labels"):
        obj.targets("train", np.array([20]))
    with pytest.raises(BudgetExhausted, match="labels"):
        obj.loss(task.param_space.default(), "train", np.array([30]))
    assert obj.samples_used == 5  # the refused loss charged nothing


def test_counters_cannot_be_overwritten() -> None:
    obj = BudgetedObjective(ToyTask(), budget_samples=10)
    with pytest.raises(AttributeError):
        obj.samples_used = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        obj.budget_samples = 10**9  # type: ignore[misc]


def test_test_split_is_not_reachable() -> None:
    obj = BudgetedObjective(ToyTask(), budget_samples=1000)
    with pytest.raises(ValueError, match="splits"):
        obj.loss(obj.param_space.default(), "test")
    with pytest.raises(ValueError, match="splits"):
        obj.targets("test")


class Greedy(Agent):
    """Tries to use twice its budget, one evaluation after another."""

    name = "greedy"
    description = "test agent"

    def run(self, ctx: TrialContext) -> dict:
        while True:
            ctx.objective.loss(ctx.param_space.default(), "train", np.arange(7))


class CountingAskTell(AskTellAgent):
    name = "counting"
    description = "test agent"

    def setup(self, ctx: TrialContext) -> None:
        self.space, self.rng, self.told = ctx.param_space, ctx.rng, 0

    def ask(self) -> dict:
        return self.space.sample(self.rng)

    def tell(self, config: dict, loss: float) -> None:
        self.told += 1


def _ctx(task: ToyTask, budget: int, k: int) -> TrialContext:
    obj = BudgetedObjective(task, budget)
    return TrialContext(obj, task.param_space, 0, np.arange(k), np.random.default_rng(0))


def test_an_agent_that_overspends_is_stopped_at_the_budget() -> None:
    task = ToyTask()
    ctx = _ctx(task, 100, 7)
    with pytest.raises(BudgetExhausted):
        Greedy().run(ctx)
    assert ctx.objective.samples_used == 98  # 14 evaluations of 7; the 15th refused
    # The toy is deterministic: repeats are charged but served from the objective's cache.
    assert task.calls == 7


def test_ask_tell_loop_never_overspends() -> None:
    task = ToyTask()
    ctx = _ctx(task, 100, 15)
    agent = CountingAskTell()
    best = agent.run(ctx)
    assert ctx.objective.samples_used == 90 and agent.told == 6
    assert best == ctx.objective.log.incumbent


def test_trial_records_the_budget_and_falls_back_to_the_incumbent(monkeypatch) -> None:
    spec = TrialSpec(
        suite="t",
        task_label="toy",
        task="toy",
        agent="random",
        seed=1,
        budget_samples=200,
        eval_items=20,
    )
    rec = run_trial(spec)
    assert rec["status"] == "ok", rec["error"]
    assert rec["samples_used"] == 200 and rec["evaluations"] == 10
    assert rec["curve_samples"] == sorted(rec["curve_samples"])
    assert rec["curve_samples"][-1] <= 200
    # the curve's last validation loss is that of the returned configuration
    assert rec["curve_val_loss"][-1] == pytest.approx(rec["val_loss"])


def test_curve_points_are_throttled_to_a_few_per_decade_of_samples() -> None:
    task = ToyTask(n=50)
    calls: list[int] = []

    def monitor(config) -> float:  # noqa: ANN001
        calls.append(1)
        return 0.5

    obj = BudgetedObjective(task, 10_000, monitor_val_loss=monitor, points_per_decade=4)
    cfg = task.param_space.default()
    for _ in range(1000):  # 1,000 evaluations of 10 items, a proposal after each
        obj.loss(cfg, "train", np.arange(10))
        obj.propose(cfg, 0.5)
    # Samples 10 .. 10,000: 3 decades, at most 4 points each, plus the first.
    assert len(obj.log.curve) == len(calls) <= 4 * 3 + 1
    assert obj.log.curve[-1].samples < 10_000 or obj.log.point_is_current
    every = BudgetedObjective(task, 100, monitor_val_loss=monitor, points_per_decade=None)
    for _ in range(5):
        every.propose(cfg)
    assert len(every.log.curve) == 5


def test_loss_many_is_loss_then_propose_for_each_in_turn() -> None:
    task = ToyTask(n=50)
    space = task.param_space
    rng = np.random.default_rng(3)
    configs = [space.sample(rng) for _ in range(6)]
    items = np.arange(10)
    one = BudgetedObjective(task, 1000, monitor_val_loss=lambda c: 0.5, points_per_decade=100)
    many = BudgetedObjective(task, 1000, monitor_val_loss=lambda c: 0.5, points_per_decade=100)
    best: float | None = None
    expected = []
    for cfg in configs:  # what an ask/tell loop does one configuration at a time
        value = one.loss(cfg, "train", items)
        expected.append(value)
        if best is None or value < best:
            one.propose(cfg, value)
            best = value
    got = many.loss_many(configs, "train", items, propose_improvements=True)
    assert got == expected
    assert (many.samples_used, many.evaluations) == (one.samples_used, one.evaluations) == (60, 6)
    assert many.log.incumbent == one.log.incumbent
    assert [p.samples for p in many.log.curve] == [p.samples for p in one.log.curve]
    # Without propose_improvements nothing is proposed.
    quiet = BudgetedObjective(task, 1000)
    quiet.loss_many(configs, "train", items)
    assert quiet.log.incumbent is None


def test_loss_many_returns_what_the_budget_paid_for() -> None:
    task = ToyTask(n=50)
    cfg = task.param_space.default()
    obj = BudgetedObjective(task, 35)
    assert len(obj.loss_many([cfg] * 5, "train", np.arange(10))) == 3  # 3 of 5 paid for
    assert obj.samples_used == 30
    with pytest.raises(BudgetExhausted):  # not even the first: as loss() would
        obj.loss_many([cfg] * 2, "train", np.arange(10))
    assert obj.samples_used == 30


class SeqLogger(AskTellAgent):
    """Asks toy-seq configurations, every third one breaking the constraint; logs tells."""

    name = "seq-logger"
    description = "test agent"

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.ask_batch = batch  # type: ignore[misc]

    def setup(self, ctx: TrialContext) -> None:
        self.space, self.rng, self.asked, self.log = ctx.param_space, ctx.rng, 0, []

    def ask(self) -> dict:
        self.asked += 1
        cfg = self.space.sample(self.rng)
        return {**cfg, "tile": 7} if self.asked % 3 == 0 else cfg

    def tell(self, config: dict, loss: float) -> None:
        self.log.append((config["tile"], loss))


def test_batched_asks_are_told_in_ask_order_as_one_at_a_time() -> None:
    from tests.toyfamily.task import ToySeqTask

    runs = {}
    for batch in (1, 4):
        task = ToySeqTask(n=20)
        ctx = TrialContext(
            BudgetedObjective(task, 95), task.param_space, 0, np.arange(5), np.random.default_rng(0)
        )
        agent = SeqLogger(batch)
        best = agent.run(ctx)
        runs[batch] = (agent.log, best, ctx.objective.samples_used, ctx.objective.log.incumbent)
        runs[batch] += (agent.diagnostics()["invalid_asks"],)
    assert runs[1] == runs[4]
    log, best, used, incumbent, invalid = runs[4]
    assert used == 95 and invalid == 9 and best == incumbent  # 19 paid, 9 invalid told inf
    assert [t for t, loss in log if loss == float("inf")] == [7] * 9
