"""Pass ordering on LLVM 22 (envs/passes, agents/passes) with the real tools, no mocks.

Tasks here use a few csmith programs (``corpus = "csmith"``) or tiny C files, never the
Debian corpus, so the tests need no download.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.errors import UserError


def _llvm_missing() -> str | None:
    try:
        from envs.passes.server import server_binary

        server_binary()
    except UserError as exc:
        return str(exc)
    return None


_MISSING = _llvm_missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"LLVM 22 unavailable: {_MISSING}")

SMALL = {"corpus": "csmith", "n_csmith": 12, "n_test": 2, "n_val": 2, "max_len": 4}

SHORTLIST_QUICK = {"candidate_modules": 2, "search_budget": 3, "searches": 1, "shortlist": 2}

TINY_C = """
int sum(int *a, int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += a[i];
  return s;
}
int twice(int x) { int y = x + x; return y; }
"""


@pytest.fixture(scope="module")
def task():  # type: ignore[no-untyped-def]
    from envs.passes.task import make_passes_task

    return make_passes_task(**SMALL)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from envs.llvmcorpus.store import find_tools
    from envs.passes.csmith import BITCODE_FLAGS

    src = tmp_path_factory.mktemp("tiny") / "tiny.c"
    src.write_text(TINY_C)
    bc = src.with_suffix(".bc")
    subprocess.run([find_tools().clang, *BITCODE_FLAGS, str(src), "-o", str(bc)], check=True)
    return bc


def _stock_count(bc: Path, passes: str) -> int:
    from envs.llvmcorpus.store import find_tools

    run = subprocess.run(
        [find_tools().opt, f"-passes={passes},print<func-properties>", "-disable-output", str(bc)],
        capture_output=True,
        text=True,
        check=True,
    )
    return sum(int(x.split()[-1]) for x in run.stderr.splitlines() if "TotalInstructionCount" in x)


def test_known_sequences_on_a_tiny_module(tiny: Path) -> None:
    from envs.passes.actions import element
    from envs.passes.server import PassServer

    server = PassServer()
    before = server.run(tiny, [], features=True)
    after = server.run(tiny, [element("mem2reg")], features=True)
    oz = server.run(tiny, [element("-Oz")], text=True)
    # Front-end IR: allocas, loads and stores; mem2reg leaves the loop's SSA form;
    # -Oz folds a little more. The numbers are checked against opt-22 just below.
    assert (before.instructions, after.instructions, oz.instructions) == (44, 16, 15)
    assert before.instructions == _stock_count(tiny, "verify")
    assert after.instructions == _stock_count(tiny, "function(mem2reg)")
    assert oz.instructions == _stock_count(tiny, "default<Oz>")
    assert before.functions == after.functions == 2
    assert before.features is not None and after.features is not None
    from envs.passes.features import FEATURE_NAMES

    f = dict(zip(FEATURE_NAMES, after.features, strict=True))
    assert f["TotalInsts"] == 16 and f["TotalFuncs"] == 2 and f["NumAllocaInst"] == 0
    assert dict(zip(FEATURE_NAMES, before.features, strict=True))["NumAllocaInst"] > 0
    assert f["NumPHIInst"] >= 2 and f["NumRetInst"] == 2
    assert oz.text_bytes > 0
    # The same passes one at a time in a session give the same module.
    server.load("s", tiny)
    stepped = server.step("s", [element("mem2reg")])
    assert stepped.instructions == after.instructions
    server.free("s")


def test_each_element_runs_in_its_own_process_with_a_fixed_layout(tiny: Path) -> None:
    """An element's output is a function of its input bitcode: each runs in its own
    process (a cached prefix in none), the server's history does not change a
    request's module, and (where the kernel allows it) the layout is fixed."""
    from envs.passes.actions import element
    from envs.passes.server import PassServer

    seq = [element(a) for a in ("mem2reg", "gvn-sink", "newgvn", "iroutliner")]
    fresh = PassServer()
    first = fresh.run(tiny, seq, digest=True)
    assert fresh.stats()[2] == len(seq)
    again = fresh.run(tiny, seq, digest=True)  # every prefix cached: no process
    assert fresh.stats()[2] == len(seq) and again.digest == first.digest
    fresh.close()
    busy = PassServer()  # another history first, without the cache's help
    for other in (["-Oz"], ["sroa<modify-cfg>", "gvn-sink"], ["iroutliner", "mergefunc"]):
        busy.run(tiny, [element(a) for a in other])
    later = busy.run(tiny, seq, digest=True)  # (no prefix of seq was run: no cache hit)
    assert later.digest == first.digest
    assert later.instructions == _stock_count(tiny, ",".join(seq))
    setarch = shutil.which("setarch")
    if setarch and subprocess.run([setarch, "-R", "true"], capture_output=True).returncode == 0:
        assert busy._proc is not None
        persona = int(Path(f"/proc/{busy._proc.pid}/personality").read_text(), 16)
        assert persona & 0x0040000, "the server should run without layout randomisation"
    # Without its zygote the server ends; the client answers a crash and starts anew.
    assert busy._proc is not None
    pid = busy._proc.pid
    zygote = int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])
    os.kill(zygote, signal.SIGKILL)
    lost = busy.run(tiny, [element("dce")])
    assert not lost.ok and "crash" in lost.error and busy.restarts == 1
    assert busy.run(tiny, [element("dce")]).ok
    busy.close()


def test_server_matches_opt_and_llc_on_csmith(task) -> None:  # type: ignore[no-untyped-def]
    from envs.passes.actions import element
    from envs.passes.server import PassServer

    server = PassServer()
    for m in task.splits["train"][:3]:
        r = server.run(m.bitcode, [element("-Oz")], text=True)
        assert r.instructions == m.oz_instructions == _stock_count(m.bitcode, "default<Oz>")
        assert r.text_bytes == m.oz_text_bytes > 0


def test_provenance_counts_distinct_modules(task) -> None:  # type: ignore[no-untyped-def]
    from envs.passes.task import make_passes_task

    prov = task.provenance()
    assert prov["dataset_items"] == sum(prov["split_sizes"].values())  # disjoint splits
    per = make_passes_task(**dict(SMALL, setting="per-module")).provenance()
    assert per["dataset_items"] == per["split_sizes"]["test"]  # the same modules thrice


def test_default_is_oz_and_failures_are_penalised(task) -> None:  # type: ignore[no-untyped-def]
    from envs.passes.task import FAILED_RATIO, oz_ratios

    items = np.arange(task.n_items("train"))
    costs = task.evaluate(task.param_space.default(), "train", items)
    assert task.loss(costs, "train", items) == 1.0
    none = task.loss(task.evaluate({"passes": ()}, "train", items), "train", items)
    assert none > 1.2  # no pass at all: far more instructions than -Oz
    assert oz_ratios(np.array([np.nan, 50.0]), np.array([10.0, 100.0])).tolist() == [
        FAILED_RATIO,
        0.5,
    ]
    test_items = np.arange(task.n_items("test"))
    score = task.score(
        task.evaluate(task.param_space.default(), "test", test_items), "test", test_items
    )
    assert score["oz_reduction"] == 1.0 and score["geomean_text_oz_ratio"] == 1.0
    assert score["package/csmith"] == 1.0


def test_env_passes_check_env_and_rewards_add_up(task) -> None:  # type: ignore[no-untyped-def]
    from gymnasium.utils.env_checker import check_env

    from envs.passes.env import DirectSource, PassOrderingEnv

    env = PassOrderingEnv(DirectSource(task, "train"))
    check_env(env, skip_render_check=True)
    obs, info = env.reset(options={"module": 0})
    assert env.observation_space.contains(obs)
    oz = task.targets("train", np.array([0]))[0]
    init = task.splits["train"][0].instructions
    total = 0.0
    for a in (0, env.stop_action):  # -Oz, then stop
        obs, r, done, _, info = env.step(a)
        total += r
    assert done and info["oz_ratio"] == 1.0 and info["sequence"] == (0,)
    assert total == pytest.approx((init - oz) / oz)
    env.close()


def test_policy_default_is_oz_and_sb3_actor_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import torch
    from stable_baselines3 import PPO

    from agents.passes.rl import actor_config, policy_shape
    from envs.passes.policy import PolicyNet, obs_dim
    from envs.passes.task import make_passes_task

    t = make_passes_task(**dict(SMALL, policy="mlp", hidden=8))
    items = np.arange(t.n_items("train"))
    assert t.loss(t.evaluate(t.param_space.default(), "train", items), "train", items) == 1.0
    shape = policy_shape(t.param_space)
    assert shape is not None and shape.hidden == 8 and shape.actions() == t.actions
    import gymnasium as gym

    class Dummy(gym.Env):
        observation_space = gym.spaces.Box(-10, 10, (obs_dim(shape.n_actions),), np.float32)
        action_space = gym.spaces.Discrete(shape.n_actions + 1)

    model = PPO("MlpPolicy", Dummy(), policy_kwargs={"net_arch": {"pi": [8], "vf": [8]}}, seed=0)
    net: PolicyNet = shape.net()
    decide = net.decider(actor_config(model, shape))
    x = np.random.default_rng(0).normal(size=(20, obs_dim(shape.n_actions))).astype(np.float32)
    with torch.no_grad():
        want, _ = model.policy.predict(x, deterministic=True)
    assert [decide(row) for row in x] == list(want)


SPECS = [
    ("default", {}, SMALL, 10),
    ("random", {}, SMALL, 12),
    ("greedy", {"candidates": 3}, SMALL, 14),
    ("optuna-tpe", {}, SMALL, 12),
    ("opentuner", {}, SMALL, 12),
    ("seq-hillclimb", {}, SMALL, 12),
    ("seq-shortlist", dict(SHORTLIST_QUICK, max_module_instructions=10**9), SMALL, 20),
    ("per-module", {"searcher": "seq-hillclimb"}, dict(SMALL, setting="per-module"), 9),
    ("pass-bc", {"demo_modules": 2, "bc_epochs": 5}, dict(SMALL, policy="mlp", hidden=8), 6),
    ("pass-ppo", {"n_steps": 16, "batch_size": 8}, dict(SMALL, policy="mlp", hidden=8), 7),
    (
        "pass-bc+ppo",
        {"n_steps": 16, "batch_size": 8, "expert": "oz"},
        dict(SMALL, policy="mlp", hidden=8),
        7,
    ),
]


# The RL agents' trials spawn an agent process that imports torch and SB3 (seconds).
SPECS = [
    pytest.param(*spec, marks=pytest.mark.slow) if spec[0].startswith("pass-") else spec
    for spec in SPECS
]


@pytest.mark.parametrize(("agent", "options", "task_options", "budget"), SPECS)
def test_every_agent_keeps_its_budget(agent, options, task_options, budget) -> None:  # type: ignore[no-untyped-def]
    from harness.trial import TrialSpec, run_trial

    spec = TrialSpec(
        suite="t",
        task_label="passes",
        task="passes",
        agent=agent,
        seed=0,
        budget_samples=budget,
        task_options=task_options,
        agent_options=options,
        eval_items=2,
    )
    rec = run_trial(spec)
    assert rec["status"] == "ok", rec["error"]
    assert rec["samples_used"] <= budget
    assert (rec["samples_used"] > 0) == (agent != "default")
    assert 0.3 < rec["test_geomean_oz_ratio"] < 2.5
    assert rec["test_failed_fraction"] == 0.0


def test_chosen_sequences_verify_and_keep_csmith_output(task) -> None:  # type: ignore[no-untyped-def]
    from envs.passes.actions import PASSES, oz_order
    from envs.passes.server import PassServer
    from envs.passes.validate import validate

    rng = np.random.default_rng(0)
    server = PassServer()
    sequences = [
        ("-Oz",),
        ("-Oz", "-Oz", "mergefunc", "instcombine<no-verify-fixpoint>"),
        ("mem2reg", "gvn", "loop-rotate", "licm", "simplifycfg"),
        oz_order()[:8],
        tuple(rng.choice(PASSES, size=8)),
    ]
    checked = 0
    for m in task.splits["test"]:
        for seq in sequences:
            v = validate(m, seq, server)
            assert v.ok, v
            checked += v.output == "same"
    assert checked >= len(sequences)  # at least one program ran every sequence


def _per_module_trial(seed: int, agent_options: dict) -> dict:
    """A real trial of the per-module agent on SMALL at 12 compilations."""
    from harness.trial import TrialSpec, run_trial

    spec = TrialSpec(
        suite="t",
        task_label="passes",
        task="passes",
        agent="per-module",
        seed=seed,
        budget_samples=12,
        task_options=dict(SMALL, setting="per-module"),
        agent_options=agent_options,
    )
    return run_trial(spec)


def test_per_module_search_never_loses_to_oz(task) -> None:  # type: ignore[no-untyped-def]
    rec = _per_module_trial(
        1, {"searcher": "seq-hillclimb", "searcher_options": {"patience": 2}, "first_share": 0.5}
    )
    assert rec["status"] == "ok", rec["error"]
    assert rec["samples_used"] <= 12
    assert rec["diag_compilations_per_module"] <= 6
    assert rec["test_geomean_oz_ratio"] <= 1.0  # the start (-Oz) is always evaluated
    config = json.loads(rec["config"])
    assert len(config) == 2 and all(k.startswith("passes/csmith-") for k in config)


def test_module_view_does_not_charge_a_repeat() -> None:
    from agents.passes.per_module import ModuleObjective
    from harness.budget import BudgetExhausted
    from harness.params import ParamSpace, SequenceParam

    class Real:
        capabilities = frozenset()
        samples_left = 100
        calls = 0

        def loss(self, config, split, items):  # type: ignore[no-untyped-def]
            Real.calls += 1
            return float(len(config["passes/m"]))

    space = ParamSpace([SequenceParam("passes", ("a", "b"), 0, 4, ("a",))])
    view = ModuleObjective(Real(), space, {"passes/m": ("a",)}, "passes/m", 0, 2)
    assert view.loss({"passes": ("a", "b")}) == 2.0
    assert view.loss({"passes": ("a", "b")}) == 2.0  # known: not compiled again
    assert (Real.calls, view.samples_used) == (1, 1)
    assert view.loss({"passes": ("b",)}) == 1.0
    with pytest.raises(BudgetExhausted):
        view.loss({"passes": ()})
    assert view.loss({"passes": ("b",)}) == 1.0  # a known sequence costs nothing
    assert view.best == (1.0, ("b",)) and view.first_loss == 2.0


def test_per_module_portfolio_and_screen() -> None:
    """A poor start (mem2reg) with -Oz in the portfolio: every module ends at or below
    -Oz; the portfolio and screen fit each module's allowance."""
    rec = _per_module_trial(
        0,
        {
            "searcher": "seq-hillclimb",
            "start": ["mem2reg"],
            "portfolio": [["-Oz"], ["-Oz", "-Oz"]],
            "screen": ["mergefunc", "iroutliner"],
        },
    )
    assert rec["status"] == "ok", rec["error"]
    assert rec["samples_used"] <= 12
    assert rec["test_geomean_oz_ratio"] <= 1.0
    config = json.loads(rec["config"])
    assert all("-Oz" in seq for seq in config.values()), config  # mem2reg alone lost


def test_per_module_screen_rounds_build_on_each_other() -> None:
    """The screen appends the pass that helps, round after round, and stops when a
    round does not improve (no LLVM: a counting objective)."""
    from agents.passes.per_module import ModuleObjective, PerModuleSearch
    from harness.params import ParamSpace, SequenceParam

    class Real:
        capabilities = frozenset()
        samples_left = 100

        def loss(self, config, split, items):  # type: ignore[no-untyped-def]
            seq = config["passes/m"]
            return 10.0 - min(seq.count("b"), 2) + 0.5 * seq.count("a")

    p = SequenceParam("passes/m", ("a", "b", "c"), 0, 6, ("c",))
    agent = PerModuleSearch(portfolio=[["a"]], screen=["a", "b"], screen_rounds=4)
    view = ModuleObjective(Real(), ParamSpace([p]), {"passes/m": ("c",)}, "passes/m", 0, 50)
    assert agent._prescreen(view, p, ("c",)) == ("c", "b", "b")
    assert view.samples_used == 2 + 3 * 2  # start, portfolio; rounds 1-2 improve, 3 does not
    one = PerModuleSearch(screen=["a", "b"])  # one round by default
    view = ModuleObjective(Real(), ParamSpace([p]), {"passes/m": ("c",)}, "passes/m", 0, 50)
    assert one._prescreen(view, p, ("c",)) == ("c", "b")
    tight = ModuleObjective(Real(), ParamSpace([p]), {"passes/m": ("c",)}, "passes/m", 0, 3)
    assert agent._prescreen(tight, p, ("c",)) == ("c",)  # the allowance ends the screen
    assert tight.samples_used == 3


def test_greedy_portfolio_covers_modules_in_order_of_value() -> None:
    """Two specialists beat one generalist: the greedy pick takes the sequence that
    lowers the geomean most first, then the one covering what is left, and stops when
    nothing helps (ratios above -Oz's 1.0 never count)."""
    import numpy as np

    from agents.passes.portfolio import best_of, greedy_portfolio

    ratios = np.array(
        [
            [0.90, 1.20, 1.00, 1.00],  # good on module 0 only
            [0.95, 0.95, 0.95, 0.95],  # a little on every module
            [1.00, 0.80, 1.00, 1.00],  # good on module 1 only
            [1.10, 1.10, 1.10, 1.10],  # worse than -Oz everywhere
        ]
    )
    picks = greedy_portfolio(ratios, k=4)
    assert picks[0] == 2  # 0.80 on one module: the largest single gain
    assert 3 not in picks  # never helps
    assert set(picks) == {0, 1, 2}
    assert np.allclose(best_of(ratios, picks), [0.90, 0.80, 0.95, 0.95])
    assert np.allclose(best_of(ratios, []), 1.0)
    assert greedy_portfolio(ratios, k=1) == [2]


def test_per_module_setting_can_search_training_modules(task) -> None:  # type: ignore[no-untyped-def]
    from envs.passes.task import make_passes_task
    from harness.errors import UserError

    train = make_passes_task(**dict(SMALL, setting="per-module", per_module_split="train"))
    test = make_passes_task(**dict(SMALL, setting="per-module"))
    names = {p.name for p in train.param_space}
    assert names == {f"passes/{m.name}" for m in task.splits["train"]}  # the training modules
    assert not names & {p.name for p in test.param_space}  # never a test module
    assert "train packages' modules" in train.note
    with pytest.raises(UserError, match="per_module_split"):
        make_passes_task(**dict(SMALL, setting="per-module", per_module_split="all"))


def test_parallel_evaluations_reuse_their_pass_servers() -> None:
    """jobs = 2: repeated evaluations run on the same two servers (a fresh thread pool
    per call once started two new servers per call and never closed them)."""
    import numpy as np

    from envs.passes.task import make_passes_task

    task = make_passes_task(**dict(SMALL, jobs=2))
    items = np.arange(task.n_items("train"))
    for seq in (("-Oz",), ("mem2reg",), ("sroa", "simplifycfg")):
        assert np.all(np.isfinite(task.evaluate({"passes": seq}, "train", items)))
    assert len(task.pool._all) <= 2


class _FakeObjective:
    """A budgeted objective over sequences of 'a'/'b'/'c' (no LLVM): per-module train
    loss 1 - 0.1 * (count of the module's favourite pass), train-sample loss the mean,
    validation loss from ``val_loss``; -Oz-like default ('x',) has loss 1."""

    capabilities = frozenset()

    def __init__(self, budget: int, val_loss: dict) -> None:
        self.samples_left, self.used, self.val_loss = budget, 0, val_loss
        self.proposed: list = []

    def targets(self, split: str = "train", items=None):  # type: ignore[no-untyped-def]
        return np.full(6 if split == "train" else 2, 100.0)

    def loss(self, config, split="train", items=None):  # type: ignore[no-untyped-def]
        from harness.budget import BudgetExhausted

        items = np.atleast_1d(np.asarray(items))
        if len(items) > self.samples_left:
            raise BudgetExhausted("fake budget")
        self.samples_left -= len(items)
        self.used += len(items)
        seq = tuple(config["passes"])
        if split == "val":
            return self.val_loss.get(seq, 1.0)
        fav = ["a", "b", "c"]
        return float(np.mean([1 - 0.1 * seq.count(fav[int(i) % 3]) for i in items]))

    def propose(self, config, train_loss=None) -> None:  # type: ignore[no-untyped-def]
        self.proposed.append(tuple(config["passes"]))


def _shortlist_run(val_loss: dict, budget: int = 400):  # type: ignore[no-untyped-def]
    from agents.passes.shortlist import SequenceShortlist
    from harness.agent import TrialContext
    from harness.params import ParamSpace, SequenceParam

    space = ParamSpace([SequenceParam("passes", ("x", "a", "b", "c"), 1, 3, ("x",))])
    obj = _FakeObjective(budget, val_loss)
    agent = SequenceShortlist(
        candidate_modules=3, search_budget=10, searches=1, shortlist=2, stage1_share=0.2
    )
    ctx = TrialContext(obj, space, 0, np.zeros(1, np.int64), np.random.default_rng(0))  # type: ignore[arg-type]
    return agent, obj, agent.run(ctx)


def test_shortlist_chooses_on_validation_and_keeps_its_budget() -> None:
    # Every candidate is worse than -Oz on validation: the answer is -Oz.
    agent, obj, config = _shortlist_run({})
    assert obj.used <= 400
    assert len(agent.ranked) >= 2
    assert obj.proposed[0] == agent.ranked[0]  # the training sample's best, proposed
    assert tuple(config["passes"]) == ("x",)
    # The second best on train, better on validation, is chosen (same seed: same run).
    second = agent.ranked[1]
    agent, obj, config = _shortlist_run({second: 0.5, agent.ranked[0]: 0.7})
    assert tuple(config["passes"]) == second
    assert agent.diagnostics()["pick_rank_on_train"] == 2
    assert agent.diagnostics()["pick_val_loss"] == 0.5
