"""Integration tests of the inlining task and environment with real LLVM 22 (no mocks)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from envs.inlining.tools import llvm_available

_MISSING = llvm_available()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"LLVM 22 unavailable: {_MISSING}")

# A small corpus keeps the first (uncached) build to a few seconds.
SMALL = {"n_csmith": 6, "n_test": 3, "n_val": 2, "per_module_metrics": True}


@pytest.fixture(scope="module")
def task():  # type: ignore[no-untyped-def]
    from envs.inlining.task import make_inlining_task

    return make_inlining_task(**SMALL)


def test_echoing_the_heuristic_gives_plain_oz_size(task) -> None:  # type: ignore[no-untyped-def]
    from envs.inlining.host import compile_with_policy, default_decider, heuristic_text_bytes

    for m in task.modules[:3] + [m for m in task.modules if m.name == "prog-sort"]:
        res = compile_with_policy(m.ir_path, default_decider)
        assert res.text_bytes == heuristic_text_bytes(m.ir_path) == m.heuristic_text_bytes
        assert res.n_decisions == m.n_decisions > 0
        assert res.n_default_agree == res.n_decisions


def test_policies_change_size_and_default_is_the_heuristic(task) -> None:  # type: ignore[no-untyped-def]
    items = np.arange(task.n_items("train"))

    default = task.param_space.default()
    assert task.loss(task.evaluate(default, "train", items), "train", items) == 1.0
    never = dict(default, w_default=0.0, bias=-1.0)  # never inline
    always = dict(default, w_default=0.0, bias=1.0)  # inline wherever allowed
    r_never = task.loss(task.evaluate(never, "train", items), "train", items)
    r_always = task.loss(task.evaluate(always, "train", items), "train", items)
    assert r_never != 1.0 and r_always > 1.05  # inlining everything bloats -Oz code
    m = task.score(task.evaluate(always, "test", np.arange(3)), "test", np.arange(3))
    assert m["geomean_size_ratio"] == m["loss"] and m["mlgo_reward"] < 0
    assert len([k for k in m if k.startswith("module/")]) == 3


def test_budget_is_one_sample_per_module_compilation(task) -> None:  # type: ignore[no-untyped-def]
    from envs.inlining.env import BudgetedSource, InliningEnv
    from harness.budget import BudgetedObjective, BudgetExhausted

    obj = BudgetedObjective(task, budget_samples=4)
    obj.loss(task.param_space.default(), "train", np.array([0, 1]))
    assert obj.samples_used == 2
    env = InliningEnv(BudgetedSource(obj), features=("cost_estimate", "callee_users"))
    env.reset(seed=0)
    assert obj.samples_used == 3  # an episode is charged when it starts
    done = False
    while not done:
        _, reward, done, _, info = env.step(1)
    assert info["decisions"] >= 1 and reward == pytest.approx(
        1 - (info["text_bytes"] + 0.01) / (info["heuristic_text_bytes"] + 0.01)
    )
    env.reset(seed=1)
    assert obj.samples_used == 4
    with pytest.raises(BudgetExhausted):
        env.reset(seed=2)  # abandons the running episode, then is refused
    assert obj.samples_used == 4
    with pytest.raises(ValueError):
        obj.evaluate(task.param_space.default(), "test", np.array([0]))  # test is off limits
    env.close()


def test_env_passes_check_env_and_echo_scores_zero(task) -> None:  # type: ignore[no-untyped-def]
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    from envs.inlining.env import ENV_ID, DirectSource, InliningEnv

    env = InliningEnv(DirectSource(task, "train"), include_default=True)
    check_env(env, skip_render_check=True)
    made = gym.make(ENV_ID, source=DirectSource(task, "val"), features=("callee_users",))
    assert made.observation_space.shape == (1,) and made.action_space.n == 2
    made.close()
    obs, _ = env.reset(seed=0, options={"module": 0})
    done = False
    while not done:  # answer the heuristic's decision (the last observation entry)
        obs, reward, done, _, info = env.step(int(obs[-1] > 0.5))
    assert reward == 0.0 and info["text_bytes"] == info["heuristic_text_bytes"]
    env.close()


def _run(obj: Path, tmp: Path, tag: str) -> str:
    from envs.inlining.tools import llvm_tools

    exe = tmp / f"{tag}.exe"
    subprocess.run([llvm_tools().clang, str(obj), "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=20).stdout


def test_policies_never_change_program_output(task, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agents.rl.inline_bc import INLINE_BC
    from agents.rl.inlining import INLINE_PPO, actor_config, collect_demonstrations
    from agents.rl.stack import behavior_clone, make_ppo
    from envs.inlining.corpus import CSMITH_INCLUDE
    from envs.inlining.env import DirectSource, InliningEnv
    from envs.inlining.host import compile_with_policy
    from envs.inlining.policy import SMALL_FEATURES, LinearPolicy, PolicySpec
    from envs.inlining.tools import llvm_tools
    from harness.agent import TrialContext
    from harness.budget import BudgetedObjective

    # A learned policy: cloned from the heuristic on two modules with the real agent code.
    env = InliningEnv(DirectSource(task, "train"), features=SMALL_FEATURES)
    obs, actions = collect_demonstrations(env, 2, np.random.default_rng(0))
    ctx = TrialContext(
        BudgetedObjective(task, 0), task.param_space, 0, np.arange(1), np.random.default_rng(0)
    )
    ppo = replace(INLINE_PPO, n_steps=64, batch_size=32, n_epochs=1, ent_coef=0.0)
    model = make_ppo(env, ctx, ppo)
    behavior_clone(model.policy, obs, actions, replace(INLINE_BC, bc_epochs=20), seed=0)

    spec = PolicySpec("linear", SMALL_FEATURES)
    learned = LinearPolicy(actor_config(model, spec, False), SMALL_FEATURES)
    env.close()
    rng = np.random.default_rng(7)
    policies = {
        "learned": learned,
        "random": lambda raw: bool(rng.random() < 0.5),
        "always": lambda raw: True,
    }
    programs = [m for m in task.modules if m.name in ("csmith-1", "csmith-2", "prog-vm")]
    changed = 0
    for m in programs:
        ref_exe = tmp_path / f"{m.name}-O0.exe"
        subprocess.run(
            [
                llvm_tools().clang,
                "-O0",
                "-w",
                f"-I{CSMITH_INCLUDE}",
                str(m.source),
                "-o",
                str(ref_exe),
            ],
            check=True,
        )
        expected = subprocess.run([str(ref_exe)], capture_output=True, text=True, timeout=20)
        assert "checksum" in expected.stdout
        for tag, policy in policies.items():
            obj = tmp_path / f"{m.name}-{tag}.o"
            compile_with_policy(m.ir_path, policy, keep_object=obj)
            changed += _run(obj, tmp_path, f"{m.name}-{tag}") != expected.stdout
    assert changed == 0


def test_inline_agents_and_a_tuner_end_to_end(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import envs
    from harness.trial import TrialSpec, run_trial

    # The task's registry entry (envs/__init__.py) may not be there yet.
    monkeypatch.setitem(envs.TASKS, "inlining", "envs.inlining.task:make_inlining_task")

    records = {}
    for agent, budget in (("inline-bc+ppo", 8), ("random", 6)):
        spec = TrialSpec(
            suite="t",
            task_label="inlining",
            task="inlining",
            agent=agent,
            seed=0,
            budget_samples=budget,
            task_options=SMALL,
            agent_options={"n_steps": 64} if agent.startswith("inline") else {},
            eval_items=2,
        )
        records[agent] = rec = run_trial(spec)
        assert rec["status"] == "ok", rec["error"]
        assert 0 < rec["samples_used"] <= budget
        assert 0.5 < rec["test_geomean_size_ratio"] < 2.0
    assert records["random"]["samples_used"] == 6  # 3 evaluations of 2 modules
