"""Collect the GPU table on a machine with an NVIDIA GPU: every (shape, Triton
configuration) of ``envs/gemm/triton_space.py`` timed there, plus torch.matmul.

Runs under the GPU machine's own Python (CUDA torch + triton; of the harness only its
atomic writer, which needs pandas, there too):

    PYTHONPATH=. python3 -m envs.gemm.triton_collect --out-dir $OUT --deadline-s 420

Writes to ``--out-dir``: ``triton_rows.csv.gz`` (``shape, config, median_us, spread,
rel_err``; appended shape by shape) and ``triton_meta.json`` (the GPU, versions,
timing settings, compile statistics, per shape its sizes, source, split, torch.matmul's
time and wall time), rewritten atomically after every shape. ``envs/gemm/triton_table.py``
turns them into a shipped table on any machine.

Phases:
1. Compile: every configuration for every (N, K) residue class the shapes need
   (``triton_kernel`` says why), in ``--workers`` processes that each launch the kernel
   once on a tiny problem of that class; Triton's on-disk cache then serves phase 2.
2. Time: shapes in a seeded random order (a run stopped by ``--deadline-s`` leaves a
   random subset of shapes, each complete), configurations in a seeded random order
   per shape. Per pair: C poisoned with NaN, one launch timed with CUDA events (also
   the correctness check: ||C - A@B|| / ||A@B|| against torch's fp32 product of the
   same bf16 operands, kept as ``rel_err``); then ``n`` back-to-back launches (enough
   for ``--min-sample-us``) captured in a CUDA graph, replayed ``--repeats`` times,
   each replay timed with events; the time is the median over replays of replay / n,
   the spread (max - min) / median. Long kernels (one launch >= the sample target) are
   timed as plain launches. Same operands throughout (warm L2, as an autotuner
   benchmarks and as the CPU tables are timed).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import math
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from envs.gemm.shapes import Shape, split_shapes
from envs.gemm.triton_shapes import gpu_shapes
from envs.gemm.triton_space import all_configs, config_key
from harness.store import write_atomic

# ~100 us at the H200's 1.98 GHz: longer than the host needs to queue a sample's start
# event and launch (tens of us), short against the timing work.
SLEEP_CYCLES = 200_000
MAX_REL_ERR = 2e-2  # bf16 result rounding gives ~3e-3; a wrong kernel gives ~1


def residue(v: int) -> str:
    """The class Triton specializes an int argument by: equal to 1, divisible by 16, other."""
    return "1" if v == 1 else ("d16" if v % 16 == 0 else "any")


REPRESENTATIVE = {"1": 1, "d16": 32, "any": 33}


def _compile_one(task: tuple[dict[str, int], str, str]) -> tuple[str, str, str, float, str]:
    """Worker: launch ``config`` on a tiny problem of residue classes (N, K); returns
    (config key, N class, K class, seconds, error or '')."""
    import torch

    from envs.gemm.triton_kernel import matmul

    cfg, ncls, kcls = task
    n, k = REPRESENTATIVE[ncls], REPRESENTATIVE[kcls]
    t0 = time.perf_counter()
    try:
        a = torch.randn(17, k, device="cuda").to(torch.bfloat16)
        b = torch.randn(k, n, device="cuda").to(torch.bfloat16)
        c = torch.empty(17, n, device="cuda", dtype=torch.bfloat16)
        matmul(a, b, c, cfg)
        torch.cuda.synchronize()
        err = ""
    except Exception as e:  # noqa: BLE001 - a configuration that fails is recorded, not fatal
        err = f"{type(e).__name__}: {str(e)[:200]}"
    return config_key(cfg), ncls, kcls, time.perf_counter() - t0, err


def compile_all(
    configs: list[dict[str, int]], classes: set[tuple[str, str]], workers: int
) -> dict[str, Any]:
    """Phase 1; returns compile statistics and failures (config key -> error)."""
    tasks = [(c, nc, kc) for c in configs for nc, kc in sorted(classes)]
    t0 = time.perf_counter()
    failed: dict[str, str] = {}
    secs = []
    with mp.get_context("spawn").Pool(workers) as pool:
        for i, (key, nc, kc, s, err) in enumerate(pool.imap_unordered(_compile_one, tasks)):
            secs.append(s)
            if err:
                failed[f"{key}@{nc},{kc}"] = err
            if (i + 1) % 200 == 0:
                print(
                    f"compiled {i + 1}/{len(tasks)} in {time.perf_counter() - t0:.0f} s", flush=True
                )
    return {
        "kernels": len(tasks),
        "workers": workers,
        "wall_s": round(time.perf_counter() - t0, 1),
        "median_s_per_kernel": round(float(np.median(secs)), 3) if secs else None,
        "failed": failed,
    }


def gpu_identity() -> dict[str, Any]:
    import torch
    import triton

    p = torch.cuda.get_device_properties(0)
    out: dict[str, Any] = {
        "name": p.name,
        "capability": f"{p.major}.{p.minor}",
        "multiprocessors": p.multi_processor_count,
        "memory_gib": round(p.total_memory / 2**30, 1),
        "l2_mib": round(getattr(p, "L2_cache_size", 0) / 2**20, 1),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "host_cpus": os.cpu_count(),
    }
    out["driver"] = smi("driver_version")
    return out


def smi(fields: str) -> str:
    """``nvidia-smi --query-gpu=fields`` of GPU 0 (empty when it is absent)."""
    try:
        r = subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
        return r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


class Timer:
    """CUDA-event timing of one callable (see the module docstring, phase 2)."""

    def __init__(self, min_sample_us: float, repeats: int, max_graph_launches: int) -> None:
        import torch

        self.torch = torch
        self.min_sample_us = float(min_sample_us)
        self.repeats = int(repeats)
        self.max_n = int(max_graph_launches)

    def events(self) -> tuple[Any, Any]:
        e = self.torch.cuda.Event
        return e(enable_timing=True), e(enable_timing=True)

    def hold(self) -> None:
        """Keep the GPU busy while the host queues what follows, so that no host-side
        launch latency falls between a start event and the work it times."""
        self.torch.cuda._sleep(SLEEP_CYCLES)

    def first(self, fn: Any) -> float:
        """One launch after an untimed one (module load, first use), timed (us)."""
        fn()
        e0, e1 = self.events()
        self.hold()
        e0.record()
        fn()
        e1.record()
        e1.synchronize()
        return e0.elapsed_time(e1) * 1000.0

    def samples(self, fn: Any, first_us: float) -> tuple[float, float, int]:
        """(median us per call, spread, launches per sample)."""
        torch = self.torch
        n = max(1, min(self.max_n, math.ceil(self.min_sample_us / max(first_us, 0.5))))
        ev = [self.events() for _ in range(self.repeats)]
        if n == 1:
            self.hold()
            for e0, e1 in ev:
                e0.record()
                fn()
                e1.record()
        else:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                for _ in range(n):
                    fn()
            graph.replay()  # the graph's first replay uploads it
            self.hold()
            for e0, e1 in ev:
                e0.record()
                graph.replay()
                e1.record()
        ev[-1][1].synchronize()
        us = np.array([e0.elapsed_time(e1) * 1000.0 / n for e0, e1 in ev])
        med = float(np.median(us))
        return med, float((us.max() - us.min()) / med) if med > 0 else float("nan"), n


def time_shape(
    shape: Shape, configs: list[dict[str, int]], timer: Timer, seed: int
) -> tuple[list[tuple[str, float, float, float]], float]:
    """All configurations of one shape: rows (key, median_us, spread, rel_err) and
    torch.matmul's median us."""
    import torch

    from envs.gemm.triton_kernel import matmul

    g = torch.Generator(device="cuda").manual_seed(seed)
    a = torch.randn(shape.m, shape.k, device="cuda", generator=g).to(torch.bfloat16)
    b = torch.randn(shape.k, shape.n, device="cuda", generator=g).to(torch.bfloat16)
    c = torch.empty(shape.m, shape.n, device="cuda", dtype=torch.bfloat16)
    ref = a.float() @ b.float()
    ref_norm = ref.norm()

    def torch_mm() -> None:
        torch.matmul(a, b, out=c)

    torch_mm()
    torch_us, _, _ = timer.samples(torch_mm, timer.first(torch_mm))
    rows: list[tuple[str, float, float, float]] = []
    order = np.random.default_rng(seed).permutation(len(configs))
    for j in order:
        cfg = configs[j]

        def run(cfg: dict[str, int] = cfg) -> None:
            matmul(a, b, c, cfg)

        c.fill_(float("nan"))
        try:
            first = timer.first(run)
            err = float(((c.float() - ref).norm() / ref_norm).item())
            if not err <= MAX_REL_ERR:  # NaN: an element was not written
                rows.append((config_key(cfg), float("nan"), float("nan"), err))
                continue
            med, spread, _ = timer.samples(run, first)
        except Exception as e:  # noqa: BLE001 - e.g. out of resources: recorded as missing
            print(f"{shape.name} {config_key(cfg)}: {type(e).__name__}: {e}"[:300], flush=True)
            rows.append((config_key(cfg), float("nan"), float("nan"), float("nan")))
            continue
        rows.append((config_key(cfg), med, spread, err))
    return rows, torch_us


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument(
        "--deadline-s", type=float, default=420.0, help="stop starting shapes after this"
    )
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--min-sample-us", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-graph-launches", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit-shapes", type=int, default=0, help="time only this many (a smoke run)")
    ap.add_argument("--limit-configs", type=int, default=0, help="only the first N configurations")
    args = ap.parse_args()
    t_start = time.perf_counter()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA GPU visible to torch")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shapes = gpu_shapes()
    splits = split_shapes(shapes)
    configs = all_configs()
    if args.limit_configs:
        configs = configs[: args.limit_configs]
    order = list(np.random.default_rng(args.seed).permutation(len(shapes)))
    if args.limit_shapes:
        order = order[: args.limit_shapes]
    classes = {(residue(shapes[i].n), residue(shapes[i].k)) for i in order}
    meta: dict[str, Any] = {
        "format": "tunebench-gemm-triton-raw-1",
        "space": "triton",
        "gpu": gpu_identity(),
        "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "clocks_before": smi("clocks.sm,clocks.mem,temperature.gpu,power.draw"),
        "timing": {
            "min_sample_us": args.min_sample_us,
            "repeats": args.repeats,
            "max_graph_launches": args.max_graph_launches,
            "clock": "cuda-events",
            "dtype": "bf16 operands, fp32 accumulate, bf16 result",
        },
        "configs": [config_key(c) for c in configs],
        "seed": args.seed,
        "argv": sys.argv,
    }
    print(json.dumps(meta["gpu"]), flush=True)
    meta["compile"] = compile_all(configs, classes, args.workers)
    print(
        f"compile: {meta['compile']['kernels']} kernels in {meta['compile']['wall_s']} s, "
        f"{len(meta['compile']['failed'])} failed",
        flush=True,
    )
    timer = Timer(args.min_sample_us, args.repeats, args.max_graph_launches)
    rows_path = out / "triton_rows.csv.gz"
    with gzip.open(rows_path, "wt") as f:
        f.write("shape,config,median_us,spread,rel_err\n")
    done: list[dict[str, Any]] = []
    for pos, i in enumerate(order):
        if time.perf_counter() - t_start > args.deadline_s:
            print(f"deadline: {pos} of {len(order)} shapes timed", flush=True)
            break
        s = shapes[i]
        t0 = time.perf_counter()
        rows, torch_us = time_shape(s, configs, timer, args.seed * 100003 + int(i))
        with gzip.open(rows_path, "at") as f:  # one gzip member per shape
            for key, med, spread, err in rows:
                f.write(f"{s.name},{key},{med:.5g},{spread:.4g},{err:.3g}\n")
        best = (
            np.nanmin([r[1] for r in rows])
            if any(np.isfinite(r[1]) for r in rows)
            else float("nan")
        )
        done.append(
            {**s.to_json(), "split": splits[i], "torch_us": torch_us,
             "wall_s": round(time.perf_counter() - t0, 2)}
        )  # fmt: skip
        meta["shapes"] = done
        meta["elapsed_s"] = round(time.perf_counter() - t_start, 1)
        write_atomic(out / "triton_meta.json", json.dumps(meta, indent=1).encode())
        tflops = 2 * s.macs / (best * 1e-6) / 1e12 if best > 0 else float("nan")
        print(
            f"[{pos + 1}/{len(order)}] {s.name} ({s.origin}): best {best:.1f} us "
            f"({tflops:.0f} TFLOP/s), torch {torch_us:.1f} us, {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    meta["clocks_after"] = smi("clocks.sm,clocks.mem,temperature.gpu,power.draw")
    meta["finished"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    write_atomic(out / "triton_meta.json", json.dumps(meta, indent=1).encode())
    print(f"done: {len(done)} shapes x {len(configs)} configurations in {meta['elapsed_s']} s")


if __name__ == "__main__":
    main()
