"""OpenTuner keeps every evaluation, and its best equals the harness's best."""

import numpy as np
import pytest

from baselines.opentuner_agent import OpenTunerAgent
from harness.agent import TrialContext
from harness.budget import BudgetedObjective
from tests.toyfamily.task import ToyTask


class RecordingObjective(BudgetedObjective):
    """Remembers every loss it returns (the harness's view of the search)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.losses: list[float] = []

    def loss(self, config, split="train", items=None) -> float:
        value = super().loss(config, split, items)
        self.losses.append(value)
        return value


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_evaluation_recorded_and_best_matches(seed: int) -> None:
    task = ToyTask(n=30)
    obj = RecordingObjective(task, budget_samples=30 * 60)
    ctx = TrialContext(obj, task.param_space, seed, np.arange(30), np.random.default_rng(seed))
    agent = OpenTunerAgent()
    chosen = agent.run(ctx)
    assert len(obj.losses) == 60 and obj.samples_used == 1800
    # every evaluation the harness charged reached OpenTuner's results database
    assert agent.results_recorded == len(obj.losses)
    best_cfg, best_loss = agent.best()
    assert best_loss == pytest.approx(min(obj.losses))
    assert best_cfg == chosen
    items = np.arange(30)
    again = task.loss(task.evaluate(chosen, "train", items), "train", items)
    assert again == pytest.approx(min(obj.losses))
