"""The gemm family: generated kernels (real clang), the space's constraint, the table,
the tasks' metrics on a tiny synthetic table, resumable collection, and the agents'
budgets. Nothing here times a kernel for long: collection runs on three tiny shapes and
three schedules with microsecond samples."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from envs.gemm.model import ConfigArrays, heuristic_choice
from envs.gemm.shapes import Shape, default_shapes, split_shapes
from envs.gemm.space import all_configs, config_key, gemm_space, violation
from envs.gemm.synthetic import write_synthetic_table
from envs.gemm.table import load_table
from envs.gemm.task import GemmSearchTask, GemmSelectTask, sub_config
from harness.params import ConstraintViolation
from harness.trial import TrialSpec, run_trial

needs_clang = pytest.mark.skipif(
    shutil.which("clang-22") is None and shutil.which("clang") is None, reason="no clang"
)

# A spread of schedules: every loop order and packing, both vector widths, 1-row and
# 1-vector tiles, K blocks shorter and longer than K.
KERNEL_CASES = [
    {"tile_m": 6, "tile_n": 2, "tile_k": 128, "order": ("n", "k", "m"), "pack": "b", "vec": 16},
    {"tile_m": 1, "tile_n": 1, "tile_k": 32, "order": ("m", "n", "k"), "pack": "none", "vec": 8},
    {"tile_m": 8, "tile_n": 3, "tile_k": 32, "order": ("k", "m", "n"), "pack": "ab", "vec": 16},
    {"tile_m": 4, "tile_n": 4, "tile_k": 128, "order": ("k", "n", "m"), "pack": "none", "vec": 8},
    {"tile_m": 2, "tile_n": 1, "tile_k": 512, "order": ("m", "k", "n"), "pack": "ab", "vec": 8},
    {"tile_m": 6, "tile_n": 4, "tile_k": 32, "order": ("n", "m", "k"), "pack": "b", "vec": 16},
]
ODD_SHAPES = [(1, 1, 1), (7, 33, 5), (37, 100, 133), (3, 200, 17), (64, 48, 600), (17, 1, 9)]


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 16-shape synthetic table (analytical model + noise) in the real file format."""
    return str(write_synthetic_table(tmp_path_factory.mktemp("gemm") / "tiny", n_shapes=16))


# ---- kernels --------------------------------------------------------------------------
@needs_clang
def test_generated_kernels_compute_the_product_on_odd_shapes() -> None:
    from envs.gemm.build import KernelLibrary

    for case in KERNEL_CASES:
        assert violation(case) is None, case
    lib = KernelLibrary(KERNEL_CASES)
    rng = np.random.default_rng(0)
    for m, n, k in ODD_SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        for i, case in enumerate(KERNEL_CASES):
            got = lib.matmul(i, a, b)
            assert got.shape == (m, n)
            np.testing.assert_allclose(
                got, ref, rtol=1e-4, atol=1e-4 * np.sqrt(k), err_msg=str(case)
            )


@needs_clang
def test_kernel_timer_returns_one_positive_time_per_repeat() -> None:
    from envs.gemm.build import GemmBuffers, KernelLibrary

    lib = KernelLibrary(KERNEL_CASES[:2])
    samples = lib.time(1, GemmBuffers(9, 20, 7), warmup=1, repeats=3, min_sample_s=1e-5)
    assert samples.shape == (3,) and (samples > 0).all() and (samples < 0.01).all()


@needs_clang
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_thread_cpu_clock_leaves_out_time_preempted_by_another_process() -> None:
    """A busy process pinned to the same core takes about half of it: the monotonic
    clock counts that time in every sample, the thread's CPU clock does not."""
    from envs.gemm.build import GemmBuffers, KernelLibrary

    lib = KernelLibrary(KERNEL_CASES[:2])
    buffers = GemmBuffers(64, 64, 64)
    core = min(os.sched_getaffinity(0))
    before = os.sched_getaffinity(0)
    busy = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{core}}})\nwhile True: pass"]
    )
    try:
        os.sched_setaffinity(0, {core})
        time.sleep(0.2)  # the busy loop is running
        kw = {"warmup": 1, "repeats": 5, "min_sample_s": 0.05}
        wall = float(np.median(lib.time(1, buffers, **kw)))
        cpu = float(np.median(lib.time(1, buffers, thread_cpu=True, **kw)))
    finally:
        os.sched_setaffinity(0, before)
        busy.kill()
        busy.wait()
    assert cpu > 0 and wall > 1.4 * cpu, (wall, cpu)


def test_retiming_a_table_reads_its_own_clock(tmp_path: Path) -> None:
    from envs.gemm.cli import _table_clock
    from envs.gemm.timing import TimingSettings
    from harness.errors import UserError

    (tmp_path / "t.json").write_text(json.dumps({"timing": TimingSettings().to_json()}))
    assert "clock" not in TimingSettings().to_json()  # tables from before the setting
    assert _table_clock(tmp_path / "t.csv.gz", None) == "monotonic"
    with pytest.raises(UserError, match="timed with --clock monotonic"):
        _table_clock(tmp_path / "t.csv.gz", "thread-cpu")
    cpu = TimingSettings(clock="thread-cpu").to_json()
    (tmp_path / "t.json").write_text(json.dumps({"timing": cpu}))
    assert _table_clock(tmp_path / "t.csv.gz", "thread-cpu") == "thread-cpu"
    with pytest.raises(UserError, match="no table"):
        _table_clock(tmp_path / "other.csv.gz", None)
    with pytest.raises(ValueError, match="clock must be one of"):
        TimingSettings(clock="wall")
    # The library refuses too, before any timing (a synthetic table: monotonic).
    from envs.gemm.refine import refine
    from envs.gemm.remeasure import remeasure

    path = write_synthetic_table(tmp_path / "syn", n_shapes=3, seed=1)
    cpu_timing = TimingSettings(clock="thread-cpu")
    with pytest.raises(UserError, match="timed with --clock monotonic"):
        refine(path, 2, cpu_timing, quiet=True)
    with pytest.raises(UserError, match="timed with --clock monotonic"):
        remeasure(path, 2, cpu_timing, quiet=True)
    load_table.cache_clear()


# ---- space ------------------------------------------------------------------------------
def test_constraint_rejects_tiles_that_do_not_fit() -> None:
    space = gemm_space()
    too_many_registers = {**space.default(), "tile_m": 8, "tile_n": 4}  # 8*4 + 4 + 1 = 37
    assert "registers" in (violation(too_many_registers) or "")
    too_big_panel = {**space.default(), "tile_k": 512, "tile_n": 2, "vec": 16}  # 64 KiB
    assert "L1" in (violation(too_big_panel) or "")
    with pytest.raises(ConstraintViolation):
        space.validate(too_many_registers)
    assert violation(space.default()) is None


def test_enumeration_is_every_valid_point_of_the_space() -> None:
    configs = all_configs()
    assert len(configs) >= 200
    assert len({config_key(c) for c in configs}) == len(configs)
    space = gemm_space()
    keys = {config_key(c) for c in configs}
    rng = np.random.default_rng(1)
    for _ in range(200):
        c = space.sample(rng)
        assert config_key(c) in keys


def test_shapes_split_keeps_both_sources_in_every_split() -> None:
    shapes = default_shapes()
    splits = split_shapes(shapes)
    assert len(shapes) >= 150
    for source in ("lognormal", "model"):
        got = {sp for s, sp in zip(shapes, splits, strict=True) if s.source == source}
        assert got == {"train", "val", "test"}
    assert split_shapes(shapes) == splits  # deterministic


# ---- table and tasks --------------------------------------------------------------------
def test_table_round_trip(table_path: str) -> None:
    t = load_table(table_path)
    assert t.times_us.shape == (16, len(all_configs()))
    assert np.isfinite(t.times_us).all() and (t.times_us > 0).all()
    assert {"train", "val", "test"} <= set(t.splits)
    with gzip.open(table_path, "rt") as f:
        assert f.readline().strip() == "shape,config,median_us,spread"


def test_refined_timings_replace_the_first_ones(tmp_path: Path) -> None:
    path = write_synthetic_table(tmp_path / "ref", n_shapes=6, seed=3)
    first = load_table(str(path))
    shape, cid = first.shapes[2], int(np.argmin(first.times_us[2]))
    key = first.meta["configs"][cid]
    old = first.times_us[2, cid]
    (tmp_path / "ref.refine.csv").write_text(
        f"shape,config,first_us,refined_us,spread\n{shape.name},{key},{old},{old * 1.5},0.01\n"
    )
    load_table.cache_clear()
    refined = load_table(str(path))
    assert refined.times_us[2, cid] == pytest.approx(old * 1.5)
    changed = refined.times_us != first.times_us
    assert changed.sum() == 1
    np.testing.assert_array_equal(refined.first_us, first.times_us)  # what the search saw
    # Max-autotune ranks by the first timings: on shape 2 its pick (cid) re-timed 1.5x
    # slower, so its top-1 is the runner-up (or cid itself when that is slower still).
    rows = np.arange(len(refined.shapes))
    top1 = refined.autotune_top_n_over_best(rows, 1)
    runner_up = np.sort(first.times_us[2])[1]
    assert top1[2] == pytest.approx(refined.times_us[2, cid] / min(old * 1.5, runner_up))
    assert np.delete(top1, 2) == pytest.approx(1.0)  # unrefined shapes: it finds the best
    assert (refined.autotune_top_n_over_best(rows, refined.n_configs) == 1.0).all()
    load_table.cache_clear()


def test_search_task_scores_time_over_the_exhaustive_best(table_path: str) -> None:
    table = load_table(table_path)
    task = GemmSearchTask(table)
    items = np.arange(task.n_items("test"))
    best_ids = np.nanargmin(table.times_us[task.rows], axis=1)
    best = dict(task.param_space.default())
    for i, cid in enumerate(best_ids):
        for name, value in table.configs[int(cid)].items():
            best[f"s{i:02d}.{name}"] = value
    best = task.param_space.validate(best)
    score = task.score(task.evaluate(best, "test", items), "test", items)
    assert score["time_over_best"] == pytest.approx(1.0)
    assert score["best_fraction"] == 1.0
    default = task.param_space.default()
    d = task.score(task.evaluate(default, "test", items), "test", items)
    ratios = table.times_us[task.rows, task.default_ids] / table.best_us()[task.rows]
    assert d["time_over_best"] == pytest.approx(float(np.exp(np.mean(np.log(ratios)))))
    assert d["loss"] == pytest.approx(1.0)  # agents' loss: vs the heuristic
    # The default is the heuristic's choice per shape.
    cfg = ConfigArrays(table.configs)
    for i, r in enumerate(task.rows):
        s = table.shapes[r]
        assert config_key(sub_config(default, i)) == config_key(
            table.configs[heuristic_choice(s.m, s.n, s.k, cfg)]
        )


def test_select_task_top_n_from_predictions(table_path: str) -> None:
    table = load_table(table_path)
    task = GemmSelectTask(table)
    items = np.arange(task.n_items("test"))
    truth = task.targets("test", items)
    perfect = task.score(truth, "test", items)
    for n in (1, 5, 10):
        assert perfect[f"top{n}_over_best"] == pytest.approx(1.0)
    assert perfect["loss"] == pytest.approx(0.0, abs=1e-12)
    assert perfect["kendall_tau"] == pytest.approx(1.0)
    worst = task.score(-truth, "test", items)  # ranks the slowest first
    rows = task.rows["test"]
    ratio = table.times_us[rows].max(axis=1) / table.times_us[rows].min(axis=1)
    assert worst["top1_over_best"] == pytest.approx(float(np.exp(np.mean(np.log(ratio)))))
    assert worst["top10_over_best"] < worst["top1_over_best"]
    # Scale per shape does not matter to the loss, the order does.
    c = table.n_configs
    scaled = truth * np.repeat(np.arange(1, len(rows) + 1), c)
    assert task.loss(scaled, "test", items) == pytest.approx(0.0, abs=1e-9)
    assert task.inputs("test", np.array([0]))[0].startswith(f"m={table.shapes[rows[0]].m} ")


# ---- collection -------------------------------------------------------------------------
@needs_clang
def test_collection_resumes_and_refuses_other_settings(tmp_path: Path) -> None:
    from envs.gemm.collect import collect
    from envs.gemm.timing import TimingSettings
    from harness.errors import UserError

    shapes = [
        Shape(3, 5, 7, "lognormal", "a"),
        Shape(4, 9, 2, "lognormal", "b"),
        Shape(1, 16, 16, "model", "c"),
    ]
    fast = TimingSettings(warmup=1, repeats=2, min_sample_ms=0.01)
    out = tmp_path / "t.csv.gz"
    configs = KERNEL_CASES[:3]
    collect(out, shapes, fast, limit_shapes=2, quiet=True, configs=configs)
    parts = sorted(p.name for p in (tmp_path / "t.parts").glob("*x*.json"))
    assert len(parts) == 2
    first = {p: (tmp_path / "t.parts" / p).read_bytes() for p in parts}
    collect(out, shapes, fast, quiet=True, configs=configs)
    for p, data in first.items():
        assert (tmp_path / "t.parts" / p).read_bytes() == data  # kept, not re-timed
    assert len(list((tmp_path / "t.parts").glob("*x*.json"))) == 3
    with gzip.open(out, "rt") as f:
        lines = f.read().strip().splitlines()
    assert len(lines) == 1 + 3 * 3
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["cpu"]["vendor"] and [s["split"] for s in meta["shapes"]]
    assert all(s["torch_us"] > 0 for s in meta["shapes"])
    with pytest.raises(UserError, match="other timing settings"):
        collect(out, shapes, TimingSettings(repeats=3), quiet=True, configs=configs)
    other_clock = TimingSettings(warmup=1, repeats=2, min_sample_ms=0.01, clock="thread-cpu")
    with pytest.raises(UserError, match="timed with --clock monotonic"):
        collect(out, shapes, other_clock, quiet=True, configs=configs)


class _DriftingLibrary:
    """A stand-in for KernelLibrary's timing only (the reference arithmetic, not a
    kernel): kernel i takes (i + 1) us, times the machine's speed, which halves after
    every other timing (drift far beyond a real machine's)."""

    def __init__(self, configs: list[dict]) -> None:
        self.configs = configs
        self.calls: list[int] = []

    def time(self, idx: int, buffers: object, repeats: int = 5, **_: object) -> np.ndarray:
        self.calls.append(idx)
        slow = 2.0 ** (len(self.calls) // 2)
        return np.full(repeats, (idx + 1) * 1e-6 * slow)


def test_reference_timing_cancels_drift_and_scales_by_the_table() -> None:
    from envs.gemm.timing import TimingSettings, reference_kernel, time_configs

    configs = KERNEL_CASES[:4]
    ids = np.array([0, 1, 2, 3])
    plain = time_configs(_DriftingLibrary(configs), 8, 8, 8, ids, TimingSettings())
    ratio = plain.median_us / (ids + 1)
    assert ratio.max() / ratio.min() >= 4  # the drift shows in plain times
    lib = _DriftingLibrary(configs)
    ref = reference_kernel(lib, 8, 8, 8)  # type: ignore[arg-type]
    assert ref == heuristic_choice(8, 8, 8, ConfigArrays(configs))
    timed = time_configs(lib, 8, 8, 8, ids, TimingSettings(reference=True))  # type: ignore[arg-type]
    # each kernel between two reference timings: ref, c, ref, c, ref, ...
    assert lib.calls[0::2] == [ref] * 5 and sorted(lib.calls[1::2]) == [0, 1, 2, 3]
    rel = timed.median_us / (ids + 1)
    # each kernel's time over the mean of the references before and after it: the drift
    # (a doubling every other timing) cancels exactly, one constant for every kernel
    np.testing.assert_allclose(rel, rel[0], rtol=1e-12)
    assert np.isfinite(timed.reference_us) and timed.reference_id == ref
    own = time_configs(_DriftingLibrary(configs), 8, 8, 8, ids, TimingSettings(reference=True))
    # re-timing a table's pairs scales by the reference time the table stored for the shape
    from types import SimpleNamespace

    from envs.gemm.timing import retime

    table = SimpleNamespace(
        shapes=[Shape(3, 5, 7, "lognormal", "a"), Shape(8, 8, 8, "model", "b")],
        meta={"shapes": [{}, {"reference_us": 7.0}]},
    )
    again = retime(_DriftingLibrary(configs), table, 1, ids, TimingSettings(reference=True))  # type: ignore[arg-type]
    np.testing.assert_allclose(again.median_us, own.median_us / own.reference_us * 7.0)


def test_retimings_take_the_tables_reference_method(tmp_path: Path) -> None:
    from envs.gemm.timing import TimingSettings, retiming_settings, shape_reference_us
    from harness.errors import UserError

    assert "reference" not in TimingSettings().to_json()  # tables from before the setting
    ref = TimingSettings(clock="thread-cpu", reference=True)
    assert TimingSettings.from_json(ref.to_json()) == ref
    assert TimingSettings.from_json({}) == TimingSettings()
    meta = {"timing": ref.to_json(), "shapes": [{"m": 1}, {"m": 2, "reference_us": 3.5}]}
    asked = TimingSettings(repeats=21, clock="thread-cpu")
    assert retiming_settings(meta, asked, "t") == TimingSettings(
        repeats=21, clock="thread-cpu", reference=True
    )
    with pytest.raises(UserError, match="timed with --clock thread-cpu"):
        retiming_settings(meta, TimingSettings(), "t")
    assert shape_reference_us(meta, 1) == 3.5
    assert shape_reference_us(meta, 0) is None and shape_reference_us({}, 0) is None


@needs_clang
def test_reference_collection_records_the_reference_per_shape(tmp_path: Path) -> None:
    from envs.gemm.collect import collect
    from envs.gemm.timing import TimingSettings

    shapes = [Shape(3, 5, 7, "lognormal", "a"), Shape(16, 16, 16, "model", "c")]
    fast = TimingSettings(warmup=1, repeats=2, min_sample_ms=0.01, reference=True)
    configs = KERNEL_CASES[:3]
    out = collect(tmp_path / "t.csv.gz", shapes, fast, quiet=True, configs=configs)
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["timing"]["reference"] is True
    cfg = ConfigArrays(configs)
    for s in meta["shapes"]:
        assert s["reference_us"] > 0
        assert s["reference_config"] == config_key(
            configs[heuristic_choice(s["m"], s["n"], s["k"], cfg)]
        )
    with gzip.open(out, "rt") as f:
        times = [float(line.split(",")[2]) for line in f.read().strip().splitlines()[1:]]
    assert len(times) == 2 * 3 and all(t > 0 for t in times)


# ---- agents keep the budget on the gemm tasks ---------------------------------------------
@pytest.mark.parametrize(
    ("task", "agent", "options", "budget", "labels"),
    [
        ("gemm-search", "per-shape", {"search": "random"}, 37, None),
        ("gemm-search", "per-shape", {"search": "optuna-tpe"}, 30, None),
        ("gemm-search", "autotvm-xgb", {"trees": 20}, 41, None),
        ("gemm-search", "diode-mlp", {"steps": 50, "rounds": 2}, 30, None),
        ("gemm-select", "diode-mlp", {"steps": 50}, 0, 500),
        ("gemm-select", "autotvm-xgb", {"trees": 20, "design": "shapes"}, 0, 3000),
        ("gemm-select", "autotvm-xgb", {"trees": 20, "design": "active"}, 0, 1001),
        ("gemm-select", "static-best", {}, 0, 700),
        ("gemm-select", "random", {}, 2000, 200),
    ],
)
def test_agents_keep_the_budgets_on_gemm_tasks(
    table_path: str, task: str, agent: str, options: dict, budget: int, labels: int | None
) -> None:
    spec = TrialSpec(
        suite="gemm-test",
        task_label=task,
        task=task,
        agent=agent,
        agent_options=options,
        seed=1,
        budget_samples=budget,
        budget_labels=labels,
        eval_items=100 if task == "gemm-select" else None,
        task_options={"table": table_path},
    )
    rec = run_trial(spec)
    assert rec["status"] == "ok", rec["error"]
    assert rec["samples_used"] <= budget
    assert labels is None or rec["labels_used"] <= labels
    headline = rec["headline_metric"]
    assert 1.0 <= rec[headline] < 10.0
    if task == "gemm-search":
        assert rec["samples_used"] >= budget - 5  # the searchers spend what they are given
