"""Figures of a GEMM timing table: what was measured, how noisy, and whether the choice
of schedule matters (per shape class: exhaustive best vs torch.matmul, worst / best,
the heuristic's choice / best).

    .venv/bin/python bench/gemm_table.py [gemm_znver4 | path/to/table.csv.gz]
"""

from __future__ import annotations

import sys

import numpy as np

from envs.gemm.model import ConfigArrays, heuristic_choice
from envs.gemm.space import LOOPS, PACK, TILE_K, TILE_M, TILE_N, VEC
from envs.gemm.table import DEFAULT_TABLE, load_table


def gm(x: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(x))))


def main(name: str = DEFAULT_TABLE) -> None:
    t = load_table(name)
    meta = t.meta
    cpu = meta["cpu"]
    print(f"table {t.name}: {len(t.shapes)} shapes x {t.n_configs} schedules")
    print(
        f"CPU: {cpu['uarch']} ({cpu['vendor']} family {cpu['family']} model {cpu['model']} "
        f"stepping {cpu['stepping']}, microcode {cpu['microcode']}), kernel {cpu.get('kernel', '')}"
    )
    print(f"compiler: {meta.get('compiler')} {' '.join(meta.get('cflags', []))}")
    print(f"timing: {meta.get('timing')}")
    cartesian = len(TILE_M) * len(TILE_N) * len(TILE_K) * 6 * len(PACK) * len(VEC)
    print(
        f"valid schedules: {t.n_configs} of the {cartesian} in the Cartesian product "
        f"({t.n_configs / cartesian:.0%}; loop orders over {len(LOOPS)} loops)"
    )
    wall = meta.get("collection_wall_s", float("nan"))
    print(
        f"collection wall time: {wall / 60:.1f} min "
        f"({wall / t.times_us.size * 1e3:.1f} ms per pair)"
    )
    loads = [s["loadavg_before"][0] for s in meta["shapes"] if s.get("loadavg_before")]
    if loads:
        print(
            f"1-min load average while timing: median {np.median(loads):.2f}, "
            f"max {np.max(loads):.2f}"
        )
    for split in ("train", "val", "test"):
        rows = t.rows(split)
        src = [t.shapes[r].source for r in rows]
        print(
            f"  {split}: {len(rows)} shapes ({src.count('lognormal')} log-normal, "
            f"{src.count('model')} model)"
        )
    spread = t.spread[np.isfinite(t.spread)]
    print(
        f"spread (max-min)/median over repeats: median {np.median(spread):.2%}, "
        f"p90 {np.quantile(spread, 0.9):.2%}, <= 5%: {np.mean(spread <= 0.05):.1%}"
    )
    if meta.get("remeasure"):
        r = meta["remeasure"]
        print(
            f"re-measure ({r['pairs']} random pairs, {r['when'][:16]}): "
            f"{r['within_5pct']:.1%} within 5%, "
            f"{r['within_10pct']:.1%} within 10%, median |diff| {r['median_abs_rel_diff']:.2%}, "
            f"geomean second/first {r['mean_ratio_second_over_first']:.3f}, "
            "Kendall tau within shape "
            f"{r['kendall_tau_within_shape']:.3f} ({r['shapes_for_tau']} shapes)"
        )
    best = t.best_us()
    worst = np.nanmax(t.times_us, axis=1)
    med = np.nanmedian(t.times_us, axis=1)
    cfg = ConfigArrays(t.configs)
    heur = np.array(
        [t.times_us[i, heuristic_choice(s.m, s.n, s.k, cfg)] for i, s in enumerate(t.shapes)]
    )
    gflops = np.array([s.gflop for s in t.shapes]) / (best * 1e-6)
    classes = sorted({s.cls for s in t.shapes})
    print()
    print("per shape class (geomeans over shapes):")
    header = (
        f"{'class':<10} {'n':>4} {'best GF/s':>9} {'best/torch':>10} {'heur/best':>9} "
        f"{'median/best':>11} {'worst/best':>10} {'torch GF/s':>10}"
    )
    print(header)
    for cls in [*classes, "all"]:
        sel = np.array([cls in ("all", s.cls) for s in t.shapes])
        torch_gf = np.array([s.gflop for s in t.shapes])[sel] / (t.torch_us[sel] * 1e-6)
        print(
            f"{cls:<10} {sel.sum():>4} {np.median(gflops[sel]):>9.1f} "
            f"{gm(best[sel] / t.torch_us[sel]):>10.3f} "
            f"{gm(heur[sel] / best[sel]):>9.3f} {gm(med[sel] / best[sel]):>11.3f} "
            f"{gm(worst[sel] / best[sel]):>10.2f} {np.median(torch_gf):>10.1f}"
        )
    print()
    print("per source:")
    for source in ("lognormal", "model"):
        sel = np.array([s.source == source for s in t.shapes])
        if not sel.any():
            continue
        print(
            f"  {source:<10} n={sel.sum():>3}: best/torch {gm(best[sel] / t.torch_us[sel]):.3f}, "
            f"faster than torch on {np.mean(best[sel] < t.torch_us[sel]):.0%} of shapes, "
            f"worst/best {gm(worst[sel] / best[sel]):.2f}"
        )
    winners = np.nanargmin(t.times_us, axis=1)
    print(f"distinct best schedules over the {len(t.shapes)} shapes: {len(set(winners.tolist()))}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
