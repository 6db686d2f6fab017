"""Inference speed of the predictor track: blocks/s on the CPU, from hex blocks to
cycles, for the learned predictors beside blocksim and llvm-mca.

    taskset -c 0 .venv/bin/python bench/predictor_speed.py --n 5000

Blocks: the by-source test split of the shipped dataset (SQLite + Embree), or its first
``--n``. Each predictor is timed as the harness calls it, on a list of hex blocks:

- ``cold``: a fresh predictor (after unpickling), so decoding (llvm-mc) and
  tokenization are included, as for blocks never seen before;
- ``warm``: the same predictor called again on the same blocks (decoded blocks are
  cached per process: this is the model alone, plus padding and batching).

The neural predictors are timed with untrained weights of the sizes the agents use
(inference cost does not depend on the weights): ithemal / surrogate-adapt (one
network, at the suite's size and at the agents' default size), perfvec and
ithemal-residual (the encoder plus stock blocksim, whose cycles it corrects).
boosted-residual is timed with trees fitted to random targets, at the depth and round
count its 10,000-label trials chose (``--boosted-depth``, ``--boosted-rounds``), with
stock blocksim, the four reference simulators of configs/predictors_boosted.toml and
the five sensitivity views (ten blocksim runs per block).
One torch thread (the harness gives a trial one core). Ratios are what to compare;
absolute figures move with the machine's load, which is printed.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.predictors.boosted import (  # noqa: E402
    BoostedPredictor,
    block_features,
    table_changes,
)
from agents.predictors.featurize import BlockTokens, Tokenizer, Vocab  # noqa: E402
from agents.predictors.network import BlockEncoder, NeuralPredictor  # noqa: E402
from agents.predictors.opcode_regression import (  # noqa: E402
    OpcodeRegressionPredictor,
    TokenCounts,
)
from agents.predictors.simulators import BlockSimPredictor, McaPredictor  # noqa: E402
from agents.predictors.uarchs import sensitivity_configs  # noqa: E402
from envs.blocksim.references import BlockSimReference  # noqa: E402
from envs.blocksim.simulator import clear_shared  # noqa: E402
from envs.groundtruth.datasets import load_measured, make_split  # noqa: E402


def boosted(
    tokens: Sequence[BlockTokens], counts: TokenCounts, cpu: str, depth: int, rounds: int
) -> BoostedPredictor:
    """A boosted-residual predictor of the agent's shape, its trees fitted to noise."""
    import xgboost as xgb

    from envs.blocksim.task import make_blocksim_task

    space = make_blocksim_task(cpu=cpu, max_items=2000).param_space
    views = []
    for cfg in sensitivity_configs(space):
        changed = table_changes(cfg, space)
        views.append(BlockSimPredictor(cpu, list(changed), list(changed.values())))
    refs = [BlockSimReference(r, {}) for r in ("znver3/plain", "znver4", "haswell", "skylake")]
    sims = [BlockSimPredictor(cpu), *refs, *views]
    rng = np.random.default_rng(0)
    x = block_features(tokens, counts, rng.uniform(10, 1000, (len(tokens), len(sims))))
    # The agent's default loss ("mape"): the trees predict the ratio to the anchor.
    model = xgb.XGBRegressor(
        n_estimators=rounds, max_depth=depth, n_jobs=1, random_state=0, verbosity=0
    ).fit(x, rng.uniform(0.5, 2.0, len(tokens)))
    raw = model.get_booster().save_raw("ubj")
    return BoostedPredictor(Tokenizer(cpu), counts, sims, raw, loss="mape", floor=0.5)


def predictors(
    train: Sequence[str], cpu: str, depth: int = 8, rounds: int = 2000
) -> dict[str, Callable[[Sequence[str]], np.ndarray]]:
    """Name -> predictor, built from the training blocks' vocabulary."""
    tokens = Tokenizer(cpu)(train)
    vocab = Vocab(tokens)
    good = [t for t in tokens if t is not None]
    counts = TokenCounts(good)
    torch.manual_seed(0)

    def lstm(hidden: int, embed: int, out: int = 1) -> BlockEncoder:
        return BlockEncoder(vocab.n_keys, vocab.n_mnemonics, hidden=hidden, embed=embed, out=out)

    return {
        "llvm-mca (region-batched, 1 process at a time)": McaPredictor("znver3", 14, jobs=1),
        "blocksim (default table)": BlockSimPredictor(cpu),
        "opcode-regression": OpcodeRegressionPredictor(
            Tokenizer(cpu), counts, np.full(counts.width, 1.0), floor=1.0
        ),
        "ithemal / surrogate-adapt (LSTM 64, suite)": NeuralPredictor(
            Tokenizer(cpu), vocab, lstm(64, 32)
        ),
        "ithemal / surrogate-adapt (LSTM 96, default)": NeuralPredictor(
            Tokenizer(cpu), vocab, lstm(96, 64)
        ),
        "perfvec / ithemal-residual (blocksim + LSTM 64)": NeuralPredictor(
            Tokenizer(cpu),
            vocab,
            lstm(64, 32, 16),
            scale=np.full(16, 0.01),
            anchor=BlockSimPredictor(cpu),
        ),
        f"boosted-residual (depth {depth}, {rounds} trees, 10 blocksim runs)": boosted(
            good, counts, cpu, depth, rounds
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="bhive_znver3")
    ap.add_argument("--cpu", default="znver3")
    ap.add_argument("--n", type=int, default=0, help="blocks to time (0: the whole test split)")
    ap.add_argument("--boosted-depth", type=int, default=8)
    ap.add_argument("--boosted-rounds", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_measured(args.dataset)
    parts = make_split(data, "by-source")
    test = [data.inputs[i] for i in parts.test]
    if args.n:
        test = test[: args.n]
    train = [data.inputs[i] for i in parts.train]
    print(f"{len(test)} test blocks (by-source: SQLite + Embree), {args.dataset}")
    print(
        f"load average {os.getloadavg()[0]:.2f} (1 min), affinity {sorted(os.sched_getaffinity(0))}"
    )
    rows = []
    built = predictors(train, args.cpu, args.boosted_depth, args.boosted_rounds)
    for name, pred in built.items():
        clear_shared()  # cold: no simulator or decoded block left over from before
        fresh = pickle.loads(pickle.dumps(pred))  # as the harness receives it
        t0 = time.perf_counter()
        out = fresh(test)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        fresh(test)
        warm = time.perf_counter() - t0
        ok = float(np.isfinite(out).mean())
        rows.append((name, len(test) / cold, len(test) / warm, ok))
    print(f"{'predictor':48s} {'cold blocks/s':>14s} {'warm blocks/s':>14s} {'ok':>6s}")
    mca = rows[0][1]
    for name, cold, warm, ok in rows:
        print(
            f"{name:48s} {cold:14,.0f} {warm:14,.0f} {ok:6.1%}   cold x{cold / mca:.1f} of llvm-mca"
        )


if __name__ == "__main__":
    main()
