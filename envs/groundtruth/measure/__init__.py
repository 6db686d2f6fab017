"""Ground truth: time x86-64 basic blocks on this CPU (BHive method, rdtsc clock).

The timing code is a small C helper (``timer.c``) compiled on first use by
:mod:`envs.groundtruth.measure.build`; :mod:`envs.groundtruth.measure.runner` drives it
and writes the
``hex,cycles_per_100,spread,runs,status`` CSV plus its JSON sidecar;
:mod:`envs.groundtruth.measure.cli` is the ``tunebench measure`` subcommand.
"""

from envs.groundtruth.measure.runner import (
    BlockResult,
    MeasureConfig,
    measure_blocks,
    normalize_hex,
)

__all__ = ["BlockResult", "MeasureConfig", "measure_blocks", "normalize_hex"]
