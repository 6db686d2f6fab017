"""How a flat parameter space maps onto per-token tensors.

Parameter names follow :meth:`harness.task.Task.item_tokens`: a name ``FIELD:TOKEN`` is
the parameter ``FIELD`` of token ``TOKEN`` (e.g. ``lat:ADD32rr``,
``port.Zn3ALU0123:ADD32rr``); a name without ``:`` is a global (``dispatch_width``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.params import IntParam, ParamSpace


@dataclass(frozen=True)
class Layout:
    """Index arrays tying a flat parameter vector (d entries) to tokens and fields.

    Attributes:
        names: d parameter names, the space's order.
        low, high, default: float64 [d], integer bounds and defaults (raw units).
        tokens: n_tok token names; token id 0 is reserved for unknown tokens, so the
            token of row ``t`` of ``token_index`` is ``tokens[t - 1]``.
        fields: F per-token field names (``lat``, ``uops``, ``ra``, ``port.R``...).
        token_index: int64 [n_tok + 1, F]: index into the flat vector of each token's
            field, or ``d`` (a padding slot holding 0) where the token has none.
        global_index: int64 [G]: flat indices of the globals.
        globals_: G global names.
    """

    names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    default: np.ndarray
    tokens: tuple[str, ...]
    fields: tuple[str, ...]
    token_index: np.ndarray
    global_index: np.ndarray
    globals_: tuple[str, ...]

    @property
    def d(self) -> int:
        return len(self.names)

    @classmethod
    def from_space(cls, space: ParamSpace) -> Layout:
        """Layout of a space of integer parameters (DiffTune tables are integers)."""
        params = list(space)
        for p in params:
            if not isinstance(p, IntParam):
                raise ValueError(f"difftune needs integer parameters; {p.name} is not one")
        names = tuple(p.name for p in params)
        tokens = sorted({n.split(":", 1)[1] for n in names if ":" in n})
        fields = sorted({n.split(":", 1)[0] for n in names if ":" in n})
        tok_id = {t: i + 1 for i, t in enumerate(tokens)}
        fld_id = {f: i for i, f in enumerate(fields)}
        d = len(names)
        token_index = np.full((len(tokens) + 1, len(fields)), d, np.int64)
        glob = []
        for j, n in enumerate(names):
            if ":" in n:
                f, t = n.split(":", 1)
                token_index[tok_id[t], fld_id[f]] = j
            else:
                glob.append(j)
        return cls(
            names=names,
            low=np.array([p.low for p in params], np.float64),  # type: ignore[union-attr]
            high=np.array([p.high for p in params], np.float64),  # type: ignore[union-attr]
            default=np.array([p.default for p in params], np.float64),
            tokens=tuple(tokens),
            fields=tuple(fields),
            token_index=token_index,
            global_index=np.array(glob, np.int64),
            globals_=tuple(names[j] for j in glob),
        )

    def token_ids(self, seqs: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Padded token ids int64 [n, L] (0 = unknown / padding) and lengths int64 [n]."""
        tok_id = {t: i + 1 for i, t in enumerate(self.tokens)}
        lengths = np.array([max(1, len(s)) for s in seqs], np.int64)
        out = np.zeros((len(seqs), int(lengths.max()) if len(seqs) else 1), np.int64)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = [tok_id.get(t, 0) for t in s]
        return out, lengths

    def to_vector(self, config: Mapping[str, Any]) -> np.ndarray:
        """float64 [d], raw values of ``config`` in the space's order."""
        return np.array([float(config[n]) for n in self.names], np.float64)

    def to_config(self, vector: np.ndarray) -> dict[str, int]:
        """A valid configuration: ``vector`` [d] rounded and clamped to the bounds."""
        v = np.clip(np.rint(np.asarray(vector, np.float64)), self.low, self.high)
        return {n: int(x) for n, x in zip(self.names, v, strict=True)}
