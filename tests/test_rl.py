"""Gymnasium envs and the SB3 agents (ppo, bc, bc+ppo): API, budget, imitation, learning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from agents.rl.bc import BCAgent
from agents.rl.bc_ppo import BCPPOAgent
from agents.rl.ppo import PPOAgent
from agents.rl.stack import PPOSettings, make_ppo, policy_actions
from envs.blocksim.env import ENV_ID as BLOCKSIM_ENV_ID
from envs.mca.env import ENV_ID as MCA_ENV_ID
from envs.param_env import TASK_ENV_ID, ParamTuningEnv, make_task_env, register_envs
from harness.agent import TrialContext
from harness.budget import BudgetedObjective
from harness.params import IntParam, ParamSpace
from harness.task import Task
from harness.trial import TrialSpec, run_trial
from tests.conftest import SMALL_DATASET
from tests.toyfamily.task import ToyTask, trial_context

ENV_KWARGS = {
    MCA_ENV_ID: {"dataset": str(SMALL_DATASET), "max_items": 120, "minibatch": 6},
    TASK_ENV_ID: {"task": "toy", "minibatch": 6},
    BLOCKSIM_ENV_ID: {"dataset": str(SMALL_DATASET), "max_items": 120, "minibatch": 6},
}


@pytest.mark.parametrize("env_id", [*register_envs(), MCA_ENV_ID, BLOCKSIM_ENV_ID])
def test_check_env_on_every_registered_env(env_id: str) -> None:
    env = gym.make(env_id, budget_samples=5_000, **ENV_KWARGS[env_id])
    inner = env.unwrapped
    assert isinstance(inner, ParamTuningEnv)
    check_env(inner, skip_render_check=True)
    assert 0 < inner.objective.samples_used <= 5_000  # check_env's steps were charged
    env.close()


def test_module_prefixed_id_registers_on_import() -> None:
    env = gym.make("envs.param_env:" + TASK_ENV_ID, task="toy", budget_samples=100)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def _toy_ctx(budget: int, k: int = 7, seed: int = 0) -> TrialContext:
    task = ToyTask(n=50)
    return TrialContext(
        objective=BudgetedObjective(task, budget),
        param_space=task.param_space,
        seed=seed,
        eval_items=np.arange(k, dtype=np.int64) * 3,
        rng=np.random.default_rng(seed),
    )


def test_every_simulated_step_is_charged_and_the_env_truncates_on_budget() -> None:
    task = ToyTask(n=50)
    env = make_task_env(task, budget_samples=10 * 4 + 3, minibatch=10, cache=False, horizon=50)
    obs, info = env.reset(seed=1)
    assert env.objective.samples_used == 10 and task.calls == 10  # the default's loss
    assert info["loss"] == pytest.approx(1.6095887, rel=1e-6)
    assert obs[-3:].tolist() == [0.0, 0.0, 0.0]  # tanh(l), tanh(10 dl), t / H at the start
    rewards, truncated = [], False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        rewards.append(reward)
        last_loss = info["loss"]
        assert not terminated
    # 4 evaluations fit in 43 samples: the default's, then 3 steps; then truncation.
    assert len(rewards) == 3 and env.objective.samples_used == 40 and task.calls == 40
    assert env.exhausted and not env.can_pay_step()
    _, reward, _, truncated, info = env.step(env.action_space.sample())  # simulates nothing
    assert truncated and reward == 0.0 and np.isnan(info["loss"]) and task.calls == 40
    # Telescoping reward: the sum of rewards is log(L_start / L_end) (eps = 1e-3 L_ref).
    eps = 1e-3 * 1.6095887
    assert sum(rewards) == pytest.approx(np.log((1.6095887 + eps) / (last_loss + eps)))
    assert env.objective.log.incumbent == env.best_config  # the best is proposed


def test_cache_makes_revisits_free_and_horizon_terminates() -> None:
    task = ToyTask(n=50)
    env = make_task_env(task, budget_samples=1_000, minibatch=5, horizon=3)
    env.reset(seed=0)
    zero = np.zeros(env.action_space.shape, dtype=np.float32)
    _, r1, term1, _, _ = env.step(zero)  # same configuration: cached, free
    assert r1 == 0.0 and not term1 and env.objective.samples_used == 5
    env.step(np.ones(env.action_space.shape, dtype=np.float32))
    _, _, term3, trunc3, _ = env.step(-np.ones(env.action_space.shape, dtype=np.float32))
    assert term3 and not trunc3 and env.objective.samples_used == 10  # back: cached
    env.reset()  # back to the default: cached
    assert env.objective.samples_used == 10


def test_grouped_edits_edit_one_group_per_step() -> None:
    env = make_task_env(ToyTask(n=50), budget_samples=1_000, minibatch=5, group_size=3, horizon=4)
    assert env.action_space.shape == (3,) and len(env.groups) == 2  # [x, y, z], [kind]
    d = len(env.space)
    obs, _ = env.reset(seed=0)
    for _ in range(4):
        group = int(np.argmax(obs[d : d + 2]))
        u = obs[:d].copy()
        obs, *_ = env.step(np.full(3, 0.5, dtype=np.float32))
        changed = np.flatnonzero(~np.isclose(obs[:d], u)).tolist()
        assert changed == ([0, 1, 2] if group == 0 else [3])
        assert int(np.argmax(obs[d : d + 2])) == 1 - group  # the groups alternate


@pytest.mark.parametrize("agent_cls", [PPOAgent, BCPPOAgent])
def test_exact_budget_stop_under_sb3_rollout_rounding(agent_cls: type) -> None:
    k, n_steps = 7, 16
    budget = 37 * k + 5  # not a multiple of n_steps * k = 112
    ctx = _toy_ctx(budget, k=k)
    extra = {"expert_episodes": 2} if agent_cls is BCPPOAgent else {}
    agent = agent_cls(n_steps=n_steps, batch_size=16, n_epochs=2, cache=False, **extra)
    config = agent.run(ctx)  # must not raise BudgetExhausted
    obj = ctx.objective
    # Every evaluation costs k; the agent stops at the last one the budget can pay for.
    assert obj.samples_used == 37 * k and obj.samples_left < k
    assert obj.evaluations == 37
    assert agent.model.num_timesteps % n_steps != 0  # stopped inside a rollout
    assert config == agent.env.best_config == obj.log.incumbent


def test_trial_records_exact_budget_for_every_rl_agent() -> None:
    for agent in ("ppo", "bc", "bc+ppo"):
        spec = TrialSpec(
            suite="t",
            task_label="toy",
            task="toy",
            agent=agent,
            seed=3,
            budget_samples=300,
            eval_items=11,
            agent_options={"n_steps": 16, "batch_size": 16, "n_epochs": 1, "cache": False}
            | ({"expert_episodes": 2} if agent.startswith("bc") else {}),
        )
        rec = run_trial(spec)
        assert rec["status"] == "ok", rec["error"]
        assert rec["samples_used"] <= 300
        if agent != "bc":  # bc spends only its expert episodes and one rollout
            assert rec["samples_used"] == 27 * 11
        assert np.isfinite(rec["test_loss"]) and rec["versions"].count("stable-baselines3")


def test_bc_reproduces_the_experts_actions_on_its_states() -> None:
    ctx = _toy_ctx(budget=10_000, k=5, seed=2)
    agent = BCAgent(expert_episodes=8, horizon=8, step_size=0.1)  # default BC settings
    agent.run(ctx)
    expert = agent.expert
    assert expert is not None and len(expert) == 8 * 8
    # Documented budget item: the default's loss, then per expert episode its random start
    # + H steps (revisits, e.g. of the default, are cached), then one episode of the clone.
    obj = ctx.objective
    assert obj.samples_used == 5 * obj.evaluations and obj.evaluations <= 1 + 8 * 9 + 8
    pred = policy_actions(agent.model.policy, expert.obs)
    err = np.abs(pred - expert.actions)
    # Tolerance (actions in [-1, 1]): mean |error| <= 0.05, every action within 0.25.
    assert err.mean() <= 0.05 and err.max() <= 0.25, (err.mean(), err.max())
    assert agent.bc_history[-1] < 0.1 * agent.bc_history[0]


def _episode_return(policy, seed: int) -> float:  # noqa: ANN001 - an SB3 policy
    env = make_task_env(ToyTask(n=50), budget_samples=10_000, minibatch=7, minibatch_seed=seed)
    obs, _ = env.reset(seed=seed)
    total = 0.0
    for _ in range(env.horizon):
        obs, reward, terminated, truncated, _ = env.step(policy_actions(policy, obs[None])[0])
        total += reward
        if terminated or truncated:
            break
    return total  # = log(L_default / L_end) on the minibatch


def test_short_seeded_ppo_run_improves_over_its_first_policy() -> None:
    opts = {"n_steps": 128, "batch_size": 64, "n_epochs": 5}
    ctx = _toy_ctx(budget=1_000 * 7, k=7, seed=0)
    agent = PPOAgent(**opts)
    agent.run(ctx)
    first = make_ppo(agent.env, _toy_ctx(10, k=7, seed=0), PPOSettings(**opts))  # same seed
    before, after = _episode_return(first.policy, 0), _episode_return(agent.model.policy, 0)
    assert after > before + 1.0, (before, after)  # the loss fell by a factor e more
    assert agent.env.best_loss < 0.2 * agent.env._ref_loss
    # Seeded: the same run gives the same numbers.
    again = PPOAgent(**opts)
    ctx2 = _toy_ctx(budget=1_000 * 7, k=7, seed=0)
    again.run(ctx2)
    assert again.env.best_loss == agent.env.best_loss
    assert ctx2.objective.samples_used == ctx.objective.samples_used


class WideTask(Task):
    """d integer parameters in [0, 5] (blocksim's table is 1,591 such): the prediction is
    t_i * (1 + mean |x - c| / 5), so the loss falls as more parameters reach the centre."""

    def __init__(self, d: int = 1500, n: int = 20) -> None:
        self.name, self.description = "wide", "wide toy task"
        self.param_space = ParamSpace([IntParam(f"p{i}", 0, 5, 2) for i in range(d)])
        rng = np.random.default_rng(0)
        self.centre = rng.integers(0, 6, size=d)
        self._targets = {s: rng.uniform(50, 500, size=n) for s in ("train", "val", "test")}

    def n_items(self, split: str) -> int:
        return len(self._targets[split])

    def evaluate(self, config: Mapping[str, Any], split: str, items: np.ndarray) -> np.ndarray:
        x = np.array([config[f"p{i}"] for i in range(len(self.centre))])
        return self._targets[split][items] * (1.0 + np.mean(np.abs(x - self.centre)) / 5)

    def targets(self, split: str, items: np.ndarray) -> np.ndarray:
        return self._targets[split][items]

    def loss(self, costs: np.ndarray, split: str, items: np.ndarray) -> float:
        t = self.targets(split, items)
        return float(np.mean(np.abs(costs - t) / t))

    def score(self, costs: np.ndarray, split: str, items: np.ndarray) -> dict[str, float]:
        return {"loss": self.loss(costs, split, items)}


def test_ppo_stays_finite_on_a_1500_parameter_space() -> None:
    # With the whole vector as one 1,500-d action, PPO's ratio (a product over the action
    # dimensions) overflowed after a rollout and the policy went NaN (ValueError from
    # torch's Normal); by default the env edits at most 32 parameters per step.
    task = WideTask(d=1500)
    ctx = trial_context(task, 200 * 5, 5)
    agent = PPOAgent(n_steps=16, batch_size=16)
    config = agent.run(ctx)
    assert agent.env.action_space.shape == (32,) and len(agent.env.groups) == 47
    assert agent.model._n_updates >= 10 * 10  # >= 10 rollouts x n_epochs were trained on
    assert all(bool(p.isfinite().all()) for p in agent.model.policy.parameters())
    # The last update's KL estimate (SB3 keeps it in the logger until the next dump):
    # ~1.5 here; with one 1,500-d action it was inf.
    assert agent.model.logger.name_to_value["train/approx_kl"] < 10.0
    assert ctx.objective.samples_used == 1_000 and config == agent.env.best_config


def test_bc_is_reproducible_with_grouped_edits() -> None:
    # With several groups, each reset draws the episode's first group from the env's RNG;
    # the expert's and the clone's resets are not SB3's, so the agent seeds that RNG.
    def run() -> BCAgent:
        task = WideTask(d=320)  # 10 groups of 32
        ctx = trial_context(task, 10_000, 5, seed=4)
        agent = BCAgent(expert_episodes=3, bc_epochs=20)
        agent.run(ctx)
        return agent

    a, b = run(), run()
    assert len(a.env.groups) == 10 and len(a.expert) == 3 * 8
    assert np.array_equal(a.expert.obs, b.expert.obs)
    assert a.env.best_loss == b.env.best_loss and a.env.best_config == b.env.best_config


def test_a_spent_budget_is_said_once_and_flagged_in_info() -> None:
    import warnings

    env = make_task_env(ToyTask(n=50), budget_samples=25, minibatch=10, cache=False, horizon=50)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env.reset(seed=0)
        infos = [env.step(env.action_space.sample())[4] for _ in range(4)]
    assert [i["budget_exhausted"] for i in infos] == [True, True, True, True]
    spent = [w for w in caught if "budget spent" in str(w.message)]
    assert len(spent) == 1
