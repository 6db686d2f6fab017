"""Compile throughput on the real-world corpus: ``opt-22 -Oz`` + ``llc-22`` per module.

Prints, for a seeded sample of built corpus modules:
- process start-up cost (libLLVM load, parsing flags) of opt and llc on an empty module;
- opt and llc time of the sample's median module (by IR instructions);
- compilations/s with 1 and 2 parallel workers over the whole sample, and the share of
  the time that is start-up.

One compilation = ``opt -passes=default<Oz>`` then ``llc -O2 -relocation-model=pic
-filetype=obj`` (the corpus' -Oz reference, as the inlining and pass-ordering tasks
compile). Run after ``tunebench corpus build``; builds nothing.

    .venv/bin/python bench/corpus_speed.py --sample 200 --seed 0
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.llvmcorpus.corpus import Module, load_corpus  # noqa: E402
from envs.llvmcorpus.measure import LLC_FLAGS, OPT_PIPELINE  # noqa: E402
from envs.llvmcorpus.store import find_tools  # noqa: E402


def _cpu() -> str:
    """Model name, family and model (Zen 3 is family 25 model 1, Zen 4 model 17)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown"
    return (
        f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')} "
        f"model {fields.get('model', '?')})"
    )


def compile_once(bitcode: Path, tmp: Path) -> tuple[float, float]:
    """One -Oz compilation of ``bitcode``; returns (opt seconds, llc seconds)."""
    tools = find_tools()
    # Unique names: two workers may compile modules with the same file name at once.
    tag = f"{os.getpid()}-{threading.get_ident()}"
    oz, obj = tmp / f"{tag}.oz.bc", tmp / f"{tag}.o"
    t0 = time.perf_counter()
    subprocess.run([tools.opt, f"-passes={OPT_PIPELINE}", str(bitcode), "-o", str(oz)], check=True)
    t1 = time.perf_counter()
    subprocess.run([tools.llc, *LLC_FLAGS, "-filetype=obj", str(oz), "-o", str(obj)], check=True)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def _median_times(bitcode: Path, tmp: Path, repeats: int) -> tuple[float, float]:
    runs = [compile_once(bitcode, tmp) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def throughput(modules: list[Module], workers: int, tmp: Path) -> tuple[float, float]:
    """Compile every module once with ``workers`` in parallel; (compilations/s, wall s)."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda m: compile_once(m.bitcode, tmp / str(workers)), modules))
    wall = time.perf_counter() - t0
    return len(modules) / wall, wall


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packages", nargs="+", help="corpus packages (default: all built)")
    p.add_argument("--sample", type=int, default=200, help="modules compiled per pass")
    p.add_argument("--seed", type=int, default=0, help="seed of the module sample")
    p.add_argument("--repeats", type=int, default=5, help="timings per median figure")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="parallel compilations to time"
    )
    args = p.parse_args()
    if os.path.exists("/work/QUIET"):
        print("note: /work/QUIET exists: another benchmark is running; figures may be off")
    corpus = load_corpus(args.packages, build=False)
    if not corpus.modules:
        print("no corpus modules built: run `tunebench corpus build` first", file=sys.stderr)
        return 1
    modules = list(corpus.modules)
    sample = random.Random(args.seed).sample(modules, min(args.sample, len(modules)))
    by_size = sorted(sample, key=lambda m: m.instructions)
    median = by_size[len(by_size) // 2]
    tools = find_tools()
    print(f"cpu: {_cpu()}, {os.cpu_count()} logical CPUs; LLVM {tools.version}")
    print(f"corpus: {len(modules)} modules; sample {len(sample)} (seed {args.seed})")
    sizes = [m.instructions for m in sample]
    print(
        f"sample IR instructions: median {statistics.median(sizes):.0f}, "
        f"mean {statistics.mean(sizes):.0f}, max {max(sizes)}"
    )
    with tempfile.TemporaryDirectory(prefix="corpus-speed-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "x").mkdir()
        empty_c = tmp / "empty.c"
        empty_c.write_text("int corpus_speed_empty;\n")
        empty = tmp / "empty.bc"
        subprocess.run(
            [tools.clang, "-Oz", "-Xclang", "-disable-llvm-passes", "-emit-llvm", "-c"]
            + [str(empty_c), "-o", str(empty)],
            check=True,
        )
        s_opt, s_llc = _median_times(empty, tmp / "x", args.repeats * 2)
        print(
            f"start-up (empty module): opt {s_opt * 1e3:.1f} ms, llc {s_llc * 1e3:.1f} ms, "
            f"together {(s_opt + s_llc) * 1e3:.1f} ms"
        )
        m_opt, m_llc = _median_times(median.bitcode, tmp / "x", args.repeats)
        print(
            f"median module {median.name} ({median.instructions} instructions): "
            f"opt -Oz {m_opt * 1e3:.1f} ms, llc {m_llc * 1e3:.1f} ms, "
            f"start-up share {(s_opt + s_llc) / (m_opt + m_llc):.0%}"
        )
        for workers in args.workers:
            (tmp / str(workers)).mkdir(exist_ok=True)
            rate, wall = throughput(sample, workers, tmp)
            startup = len(sample) * (s_opt + s_llc) / workers
            print(
                f"{workers} worker(s): {rate:.2f} compilations/s ({wall:.1f} s for "
                f"{len(sample)}); start-up ~{startup / wall:.0%} of the time"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
