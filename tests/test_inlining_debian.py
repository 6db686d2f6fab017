"""The inlining task on a (tiny) Debian-style corpus, the mlp policy, and the ES agent.

Real tools (clang-22, opt-22, llc-22), no downloads: the "packages" are our own six C
programs (envs/inlining/programs) compiled to -Oz bitcode as envs/llvmcorpus does,
spread over three packages, one per split.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from envs.inlining.tools import llvm_available

_MISSING = llvm_available()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"LLVM 22 unavailable: {_MISSING}")

PROGRAMS = Path(__file__).resolve().parents[1] / "envs" / "inlining" / "programs"
# package -> (split, its sources)
PACKAGES = {
    "pa": ("train", ("graph.c", "hashmap.c", "matrix.c")),
    "pb": ("val", ("sort.c",)),
    "pc": ("test", ("text.c", "vm.c")),
}


def _tiny_corpus(root: Path):  # type: ignore[no-untyped-def]
    from envs.inlining.host import heuristic_text_bytes
    from envs.inlining.tools import llvm_tools
    from envs.llvmcorpus.corpus import Corpus, Module, PackageInfo

    clang = llvm_tools().clang
    modules, infos = [], {}
    for pkg, (split, sources) in PACKAGES.items():
        for src in sources:
            bc = root / pkg / f"{src}.bc"
            bc.parent.mkdir(parents=True, exist_ok=True)
            flags = ["-Oz", "-Xclang", "-disable-llvm-passes", "-emit-llvm", "-c", "-w"]
            subprocess.run([clang, *flags, str(PROGRAMS / src), "-o", str(bc)], check=True)
            modules.append(
                Module(pkg, src, bc, (), 5, 100, 3, 80, heuristic_text_bytes(bc), f"{pkg}{src}")
            )
        infos[pkg] = PackageInfo(pkg, split, pkg, "ok", version="1.0", modules=len(sources))
    return Corpus(modules=tuple(sorted(modules, key=lambda m: m.name)), packages=infos)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("tinydeb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUNEBENCH_CACHE", str(root / "cache"))
        yield _tiny_corpus(root)


def _task(corpus, **options):  # type: ignore[no-untyped-def]
    from envs.inlining.task import make_debian_task

    return make_debian_task(loaded=corpus, **options)


def test_split_by_package_and_per_package_scores(corpus) -> None:  # type: ignore[no-untyped-def]
    task = _task(corpus, features="all")
    names = {s: task.inputs(s, np.arange(task.n_items(s))) for s in ("train", "val", "test")}
    assert all(n.startswith("pa/") for n in names["train"]) and len(names["train"]) == 3
    assert names["val"] == ["pb/sort.c"]
    assert names["test"] == ["pc/text.c", "pc/vm.c"]
    # The host's -Oz sizes (heuristic echoed through the pipes) equal plain opt -Oz's.
    by_name = {m.name: m for m in corpus.modules}
    for m in task.modules:
        assert m.heuristic_text_bytes == by_name[m.name].oz_text_bytes and m.n_decisions > 0
    items = np.arange(2)
    always = dict(task.param_space.default(), w_default=0.0, bias=1.0)
    scores = task.score(task.evaluate(always, "test", items), "test", items)
    assert scores["package/pc"] == pytest.approx(scores["geomean_size_ratio"])
    assert scores["geomean_size_ratio_all_modules"] == pytest.approx(scores["geomean_size_ratio"])
    assert scores["failed_fraction"] == 0.0 and not any(k.startswith("module/") for k in scores)
    prov = task.provenance()
    assert prov["split_packages"]["test"] == ["pc"] and prov["split_sizes"]["train"] == 3
    # Caps: a seeded subset of train; test is never capped.
    small = _task(corpus, max_modules=1)
    assert small.n_items("train") == 1 and small.n_items("test") == 2


def test_policy_spaces_round_trip_and_default_is_the_heuristic(corpus) -> None:  # type: ignore[no-untyped-def]
    from envs.inlining.policy import ALL_FEATURES, make_policy, spec_of_space

    task = _task(corpus, features="all", policy="mlp", hidden=4)
    spec = spec_of_space(task.param_space)
    assert spec.kind == "mlp" and spec.hidden == 4 and spec.features == ALL_FEATURES
    assert len(task.param_space) == 2 + 4 * (1 + 39) + 4
    lin = _task(corpus, features="small")
    assert spec_of_space(lin.param_space).kind == "linear"
    rng = np.random.default_rng(0)
    raw = np.abs(rng.normal(0, 30, size=(50, 39))).round()
    raw[:, -1] = rng.integers(0, 2, 50)
    for t in (task, lin):
        default = make_policy(t.param_space.default(), spec_of_space(t.param_space))
        assert [default(r) for r in raw] == [bool(r[-1]) for r in raw]
    # A non-default mlp changes sizes, and compiles every test module (verified by opt).
    items = np.arange(task.n_items("test"))
    cfg = task.param_space.sample(np.random.default_rng(1))
    sizes = task.evaluate(cfg, "test", items)
    assert np.isfinite(sizes).all()


def test_sb3_mlp_actor_maps_exactly_to_the_task_policy(corpus) -> None:  # type: ignore[no-untyped-def]
    import torch

    from agents.rl.inlining import INLINE_PPO, actor_config, ppo_for
    from agents.rl.stack import make_ppo
    from envs.inlining.env import DirectSource, InliningEnv
    from envs.inlining.policy import make_policy, spec_of_space
    from harness.agent import TrialContext
    from harness.budget import BudgetedObjective

    task = _task(corpus, features="small", policy="mlp", hidden=6)
    spec = spec_of_space(task.param_space)
    env = InliningEnv(DirectSource(task, "train"), features=spec.features, include_default=True)
    ctx = TrialContext(
        BudgetedObjective(task, 0), task.param_space, 0, np.arange(1), np.random.default_rng(0)
    )
    model = make_ppo(env, ctx, ppo_for(INLINE_PPO, spec))
    with torch.no_grad():  # make the actor's decisions non-trivial
        model.policy.action_net.weight.mul_(50.0)
    policy = make_policy(actor_config(model, spec, include_default=True), spec)
    rng = np.random.default_rng(0)
    raw = np.abs(rng.normal(0, 20, size=(200, 39))).round()
    raw[:, -1] = rng.integers(0, 2, 200)
    obs = np.stack([env.observe(r) for r in raw])
    actions, _ = model.predict(obs, deterministic=True)
    assert 0 < actions.sum() < len(actions)
    assert [policy(r) for r in raw] == [bool(a) for a in actions]
    env.close()


def test_es_rl_and_cmaes_trials_on_the_mlp_policy(corpus, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import envs
    from harness.trial import TrialSpec, run_trial

    monkeypatch.setitem(envs.TASKS, "inlining", "envs.inlining.task:make_inlining_task")
    # The trial builds its task through the registry: serve it the tiny corpus.
    monkeypatch.setattr("envs.llvmcorpus.load_corpus", lambda packages=None: corpus)
    options = {"corpus": "debian", "features": "small", "policy": "mlp", "hidden": 4}
    for agent, budget, agent_options in (
        ("inline-es", 8, {"pairs": 2, "modules_per_pair": 2}),
        ("inline-bc+ppo", 5, {"n_steps": 32, "include_default": True}),
        ("optuna-cmaes", 6, {}),
    ):
        spec = TrialSpec(
            suite="t",
            task_label="inlining-debian",
            task="inlining",
            agent=agent,
            seed=0,
            budget_samples=budget,
            task_options=options,
            agent_options=agent_options,
            eval_items=2,
        )
        rec = run_trial(spec)
        assert rec["status"] == "ok", rec["error"]
        assert 0 < rec["samples_used"] <= budget
        assert rec["test_failed_fraction"] == 0.0 and "test_package/pc" in rec
        assert 0.5 < rec["test_geomean_size_ratio"] < 2.0
        if agent == "inline-es":
            assert rec["diag_es_iterations"] == 1


def test_replay_gives_the_size_a_compilation_would(corpus) -> None:  # type: ignore[no-untyped-def]
    from agents.rl.inline_replay import TrajectoryStore
    from envs.inlining.host import DEFAULT_INDEX, compile_with_policy
    from envs.inlining.policy import make_policy, spec_of_space
    from harness.agent import TrialContext
    from harness.budget import BudgetedObjective

    task = _task(corpus, features="all")
    obj = BudgetedObjective(task, budget_samples=100)
    ctx = TrialContext(obj, task.param_space, 0, np.arange(1), np.random.default_rng(0))
    store = TrajectoryStore(ctx)
    spec = spec_of_space(task.param_space)
    heuristic = make_policy(task.param_space.default(), spec)
    m = 0  # pa/graph.c
    assert store.size(m, heuristic) == task.module("train", m).heuristic_text_bytes
    assert obj.samples_used == 1
    # A different policy that agrees at every recorded call site: replayed, free, exact.
    path = store.paths[m][0]
    agree = dict(task.param_space.default(), w_default=2.0, bias=-1.0)
    policy = make_policy(agree, spec)
    assert (
        store.size(m, policy)
        == compile_with_policy(task.module("train", m).ir_path, policy).text_bytes
    )
    assert obj.samples_used == 1 and store.stats.replayed == 1
    # One that leaves the recorded path is compiled (and recorded).
    flip = lambda raw: not bool(raw[DEFAULT_INDEX])  # noqa: E731
    assert any(d != flip(x) for x, d in zip(path.features, path.decisions, strict=True))
    size = store.size(m, flip)
    assert obj.samples_used == 2 and len(store.paths[m]) == 2
    assert store.size(m, flip) == size and obj.samples_used == 2
