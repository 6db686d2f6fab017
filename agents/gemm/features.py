"""Features of ``key=value`` inputs (``m=64 n=768 k=768 tile_m=6 ... order=nkm``).

:class:`Featurizer` learns, from the dicts it is fitted on, which keys are numeric
(log2 of the value) and which categorical (one-hot over the values seen). When the keys
of a GEMM problem and schedule are present it adds derived features a performance
engineer would: the fraction of useful work in the padded M and N tiles, the number of
register tiles and K blocks, the padded work, the register tile's size and register
use, and the working sets of one K block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

GEMM_KEYS = frozenset({"m", "n", "k", "tile_m", "tile_n", "tile_k", "vec"})


def parse_kv(text: str) -> dict[str, str] | None:
    """``"a=1 b=x"`` -> ``{"a": "1", "b": "x"}``; None when a token has no ``=``."""
    out = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep or not key:
            return None
        out[key] = value
    return out or None


def config_text(config: Mapping[str, Any]) -> str:
    """A configuration as ``key=value`` text (sequences joined: ``order=nkm``)."""
    parts = []
    for key, value in config.items():
        if isinstance(value, tuple | list):
            value = "".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


class Featurizer:
    """Fixed-width float features of ``key=value`` dicts (fit once, then transform)."""

    def __init__(self) -> None:
        self.numeric: list[str] = []
        self.categorical: dict[str, list[str]] = {}
        self.gemm = False

    def fit(self, rows: Sequence[Mapping[str, str]]) -> Featurizer:
        keys = sorted({k for r in rows for k in r})
        for key in keys:
            values = [r.get(key, "") for r in rows]
            if all(_number(v) is not None for v in values):
                self.numeric.append(key)
            else:
                self.categorical[key] = sorted(set(values))
        self.gemm = GEMM_KEYS <= set(self.numeric)
        return self

    @property
    def width(self) -> int:
        extra = 12 if self.gemm else 0
        return len(self.numeric) + sum(len(v) for v in self.categorical.values()) + extra

    def transform(self, rows: Sequence[Mapping[str, str]]) -> np.ndarray:
        """float32 [len(rows), width]."""
        n = len(rows)
        cols = []
        num = {}
        for key in self.numeric:
            v = np.array([float(r.get(key, "0")) for r in rows], dtype=np.float64)
            num[key] = v
            cols.append(np.log2(np.maximum(v, 1e-3)))
        for key, vocab in self.categorical.items():
            index = {v: i for i, v in enumerate(vocab)}
            hot = np.zeros((n, len(vocab)))
            pos = np.array([index.get(r.get(key, ""), -1) for r in rows])
            ok = pos >= 0
            hot[np.flatnonzero(ok), pos[ok]] = 1.0
            cols.extend(hot.T)
        if self.gemm:
            m, nn, k = num["m"], num["n"], num["k"]
            mr, nr, kc = num["tile_m"], num["tile_n"] * num["vec"], num["tile_k"]
            mp, np_ = np.ceil(m / mr) * mr, np.ceil(nn / nr) * nr
            cols += [
                m / mp,
                nn / np_,
                np.log2(mp / mr * np_ / nr),
                np.log2(np.ceil(k / kc)),
                np.log2(m * nn * k),
                np.log2(mp * np_ * k),
                np.log2(mr * nr),
                (num["tile_m"] * num["tile_n"] + num["tile_n"] + 1) / 32.0,
                # Working sets of one K block (bytes, log2): A rows, B columns, the
                # micro-panels; against cache sizes the model learns itself.
                np.log2(m * np.minimum(kc, k) * 4),
                np.log2(nn * np.minimum(kc, k) * 4),
                np.log2((mr + nr) * np.minimum(kc, k) * 4),
                np.minimum(k, kc) / k,
            ]
        return np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((n, 0), np.float32)
