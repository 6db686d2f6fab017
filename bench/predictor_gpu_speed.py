"""The learned predictors' network on a GPU and on the CPU: inference blocks/s and
training steps/s, from encoded blocks (issue 19's speed table, GPU column).

Two steps, because the GPU machine has no llvm-mc to decode blocks:

    # here (CPU, the project's venv): decode and encode the by-source split once
    .venv/bin/python bench/predictor_gpu_speed.py encode --out runs/gpu/blocks.npz
    # on the GPU machine (its own python3 with CUDA torch), from the repository root
    PYTHONPATH=. python3 bench/predictor_gpu_speed.py time runs/gpu/blocks.npz \\
        --json $OUT/predictor_gpu.json

``encode`` also prints how fast decoding + tokenization ran (blocks/s, the cost a
predictor pays on blocks it never saw, on any device). ``time`` times, per network
size and device: inference over the test blocks (``encode_outputs``, length-bucketed
batches, the harness's path) at batch 512 and, on the GPU, 4,096; and training steps
(``fit_log_cycles`` on the training blocks' measured cycles, batch 64 as the agents
train, no holdout). Each inference figure is the median of 5 runs after a warm-up.
Untrained weights (inference cost does not depend on them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.predictors.featurize import Encoded  # noqa: E402
from agents.predictors.fit import fit_log_cycles  # noqa: E402
from agents.predictors.network import BlockEncoder, encode_outputs  # noqa: E402
from harness.store import write_atomic  # noqa: E402

# (name, hidden, embed, out): the suite's size, the agents' default, Ithemal's paper
# size, perfvec's 16-wide representation.
SIZES: tuple[tuple[str, int, int, int], ...] = (
    ("LSTM 64 (suite)", 64, 32, 1),
    ("LSTM 96 (agent default)", 96, 64, 1),
    ("LSTM 256 (Ithemal's size)", 256, 128, 1),
    ("perfvec encoder (64, out 16)", 64, 32, 16),
)


def encode(args: argparse.Namespace) -> None:
    from agents.predictors.featurize import Tokenizer, Vocab
    from envs.groundtruth.datasets import load_measured, make_split

    data = load_measured(args.dataset)
    parts = make_split(data, "by-source")
    tok = Tokenizer(args.cpu)
    train_hex = [data.inputs[i] for i in parts.train]
    test_hex = [data.inputs[i] for i in parts.test]
    t0 = time.perf_counter()
    test_tokens = tok(test_hex)
    tok_s = time.perf_counter() - t0
    train_tokens = tok(train_hex)
    vocab = Vocab([t for t in train_tokens if t is not None])
    arrays: dict[str, np.ndarray] = {
        "n_keys": np.array(vocab.n_keys),
        "n_mnemonics": np.array(vocab.n_mnemonics),
    }
    for split, tokens, rows in (
        ("train", train_tokens, parts.train),
        ("test", test_tokens, parts.test),
    ):
        enc = vocab.encode(tokens)
        y = np.asarray(data.targets, np.float64)[rows]
        for field in ("key", "mnem", "feats", "lengths", "ok"):
            arrays[f"{split}_{field}"] = getattr(enc, field)
        arrays[f"{split}_y"] = y
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(
        f"{len(test_hex)} test / {len(train_hex)} train blocks of {args.dataset} (by-source); "
        f"decode + tokenize {len(test_hex) / tok_s:,.0f} blocks/s on this CPU "
        f"({os.uname().nodename}, {len(os.sched_getaffinity(0))} cpus); wrote {args.out}"
    )


def load(path: str, split: str) -> tuple[Encoded, np.ndarray, int, int]:
    z = np.load(path)
    enc = Encoded(
        key=z[f"{split}_key"],
        mnem=z[f"{split}_mnem"],
        feats=z[f"{split}_feats"],
        lengths=z[f"{split}_lengths"],
        ok=z[f"{split}_ok"],
    )
    return enc, z[f"{split}_y"], int(z["n_keys"]), int(z["n_mnemonics"])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_inference(model: BlockEncoder, enc: Encoded, device: torch.device, batch: int) -> float:
    """Median blocks/s of :func:`encode_outputs` over 5 runs after one warm-up."""
    encode_outputs(model, enc, device, batch)
    sync(device)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        encode_outputs(model, enc, device, batch)
        sync(device)
        runs.append(time.perf_counter() - t0)
    return len(enc.lengths) / statistics.median(runs)


def time_training(
    model: BlockEncoder, enc: Encoded, y: np.ndarray, device: torch.device, steps: int
) -> float:
    """Optimizer steps per second of :func:`fit_log_cycles` (batch 64, no holdout)."""
    ok = np.isfinite(y) & (y > 0)
    y_log = np.log(np.where(ok, y, 1.0))
    rows = np.flatnonzero(ok & enc.ok)
    empty = np.zeros(0, np.int64)
    rng = np.random.default_rng(0)
    # warm-up (allocator, kernels' first use), then the timed fit
    fit_log_cycles(model, enc, y_log, rows[:256], empty, rng, device, epochs=1, min_steps=4)
    sync(device)
    log = fit_log_cycles(model, enc, y_log, rows, empty, rng, device, epochs=1, min_steps=steps)
    sync(device)
    return log.steps / log.wall_s


def run_timing(args: argparse.Namespace) -> None:
    test, _, n_keys, n_mnem = load(args.encoded, "test")
    train, train_y, _, _ = load(args.encoded, "train")
    devices = [torch.device(d) for d in args.devices]
    if any(d.type == "cuda" for d in devices) and not torch.cuda.is_available():
        raise SystemExit("error: --devices names cuda but torch sees no GPU")
    info = {
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "host_cpus": os.cpu_count(),
        "test_blocks": len(test.lengths),
        "train_blocks": len(train.lengths),
    }
    print(json.dumps(info))
    rows = []
    for name, hidden, embed, out in SIZES:
        for device in devices:
            for threads in sorted({1, args.cpu_threads}) if device.type == "cpu" else [1]:
                torch.set_num_threads(threads)
                torch.manual_seed(0)
                model = BlockEncoder(n_keys, n_mnem, hidden, embed, out).to(device)
                batches = [512, 4096] if device.type == "cuda" else [512]
                for batch in batches:
                    bps = time_inference(model, test, device, batch)
                    rows.append(
                        {"network": name, "device": str(device), "threads": threads,
                         "what": f"inference, batch {batch}", "per_s": bps, "unit": "blocks/s"}
                    )  # fmt: skip
                    print(rows[-1], flush=True)
                if out == 1:
                    sps = time_training(model, train, train_y, device, args.steps)
                    rows.append(
                        {"network": name, "device": str(device), "threads": threads,
                         "what": "training, batch 64", "per_s": sps, "unit": "steps/s"}
                    )  # fmt: skip
                    print(rows[-1], flush=True)
    torch.set_num_threads(1)
    if args.json:
        write_atomic(Path(args.json), json.dumps({"info": info, "rows": rows}, indent=1))
    print(f"{'network':32s} {'device':8s} {'thr':>3s} {'what':22s} {'per second':>14s}")
    for r in rows:
        print(
            f"{r['network']:32s} {r['device']:8s} {r['threads']:3d} {r['what']:22s} "
            f"{r['per_s']:10,.0f} {r['unit']}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("encode", help="decode + encode the by-source split (needs llvm-mc)")
    e.add_argument("--dataset", default="bhive_znver3")
    e.add_argument("--cpu", default="znver3")
    e.add_argument("--out", required=True)
    t = sub.add_parser("time", help="time the networks on the encoded blocks")
    t.add_argument("encoded")
    t.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    t.add_argument("--cpu-threads", type=int, default=os.cpu_count() or 1)
    t.add_argument("--steps", type=int, default=300, help="training steps timed")
    t.add_argument("--json", default="")
    args = ap.parse_args()
    if args.cmd == "encode":
        encode(args)
    else:
        run_timing(args)


if __name__ == "__main__":
    main()
