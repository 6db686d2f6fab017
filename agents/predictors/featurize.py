"""Basic blocks (hex) -> per-instruction tokens and dependency features, for the
learned predictors.

A predictor only gets hex blocks at test time, so it tokenizes them itself: blocksim's
decoder (llvm-mc) and dependency compiler give, per instruction, its table key (LLVM
opcode plus operand form, e.g. ``ADD64rr``, ``XOR32rr#same``), its AT&T mnemonic (a
coarser token that still names an instruction whose key was never seen in training)
and which earlier instruction produces each register it reads. Ithemal reads register
names and lets its LSTM find the dependencies; with 10^2..10^4 labels that is too
little data, so the dependencies are given explicitly as numbers (:data:`FEATURES`).

Token id 0 is "unknown" (a key or mnemonic not in the vocabulary) and padding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Per-instruction numeric features (float32), in this order.
FEATURES = (
    "reads_same_iter",  # register reads produced earlier in the same iteration
    "reads_loop_carried",  # reads produced by the previous iteration
    "nearest_producer",  # 1 / (distance back to the nearest same-iteration producer)
    "users",  # reads of later instructions that consume this one's writes
    "merges",  # partial-register writes that wait for the old value
    "load",  # touches memory as a load
    "store",  # touches memory as a store
    "position",  # index / block length
)


@dataclass(frozen=True)
class BlockTokens:
    """One decoded block.

    Attributes:
        keys: n table keys.
        mnemonics: n AT&T mnemonics (``addq``, ``vmovups``).
        feats: float32 [n, len(FEATURES)].
    """

    keys: tuple[str, ...]
    mnemonics: tuple[str, ...]
    feats: np.ndarray


@dataclass(frozen=True)
class Encoded:
    """A padded batch of blocks for the networks (L = the longest block's length).

    Attributes:
        key: int64 [n, L] key ids (0 = unknown / padding).
        mnem: int64 [n, L] mnemonic ids (0 = unknown / padding).
        feats: float32 [n, L, F].
        lengths: int64 [n] instructions per block (>= 1).
        ok: bool [n]: the block decoded (an undecodable block is one padding token).
    """

    key: np.ndarray
    mnem: np.ndarray
    feats: np.ndarray
    lengths: np.ndarray
    ok: np.ndarray

    def rows(self, idx: np.ndarray) -> Encoded:
        """The blocks ``idx``, cut to their own longest length."""
        idx = np.asarray(idx, np.int64)
        length = int(self.lengths[idx].max()) if len(idx) else 1
        return Encoded(
            self.key[idx, :length],
            self.mnem[idx, :length],
            self.feats[idx, :length],
            self.lengths[idx],
            self.ok[idx],
        )


def _mnemonic(text: str) -> str:
    words = text.split()
    if not words:
        return ""
    # Prefixes name no instruction of their own: "lock addl ..." -> "lock.addl".
    if words[0] in ("lock", "rep", "repe", "repne", "repz", "repnz") and len(words) > 1:
        return f"{words[0]}.{words[1]}"
    return words[0]


# blocksim v3's dependency kind for a partial write waiting for the wider register.
_KIND_PARTIAL = 2


def _merges(block: Any, i: int, lo: int, hi: int) -> int:
    """Partial-register writes of instruction ``i`` that wait for the old value: blocksim
    v3 marks them among the reads (``rd_kind``), v2 kept them apart (``mg_ptr``)."""
    kind = getattr(block, "rd_kind", None)
    if kind is not None:
        return int((np.asarray(kind[lo:hi]) == _KIND_PARTIAL).sum())
    mg = getattr(block, "mg_ptr", None)
    return 0 if mg is None else int(mg[i + 1]) - int(mg[i])


def block_tokens(block: Any) -> BlockTokens:
    """Tokens and features of one :class:`envs.blocksim.simulator.CompiledBlock`."""
    n = len(block.keys)
    f = np.zeros((n, len(FEATURES)), np.float32)
    for i in range(n):
        lo, hi = int(block.rd_ptr[i]), int(block.rd_ptr[i + 1])
        dist = block.rd_dist[lo:hi]
        pos = block.rd_pos[lo:hi]
        same = dist == 0
        f[i, 0] = same.sum()
        f[i, 1] = (~same).sum()
        if same.any():
            f[i, 2] = 1.0 / max(1, i - int(pos[same].max()))
        f[i, 4] = _merges(block, i, lo, hi)
    f[:, 3] = np.asarray(block.users, np.float32)
    f[:, 5] = np.asarray(block.fallback_load, np.float32)
    f[:, 6] = np.asarray(block.fallback_store, np.float32)
    f[:, 7] = np.arange(n, dtype=np.float32) / max(n, 1)
    return BlockTokens(tuple(block.keys), tuple(_mnemonic(t) for t in block.texts), f)


class Tokenizer:
    """hex blocks -> :class:`BlockTokens` (None for a block that does not decode).

    Picklable: the simulator that decodes (and its per-process caches) is built on
    first use and dropped when pickled.

    Args:
        cpu: the blocksim CPU whose decoder rules (partial-register and zero-idiom
            handling) name the keys; the same CPU as the task's.
    """

    def __init__(self, cpu: str = "znver3") -> None:
        self.cpu = cpu
        self._sim: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "_sim": None}

    def __call__(self, blocks_hex: Sequence[str]) -> list[BlockTokens | None]:
        if self._sim is None:
            from envs.blocksim.simulator import shared_blocksim

            self._sim = shared_blocksim(self.cpu)
        return [
            None if b is None else block_tokens(b) for b in self._sim.compiled(list(blocks_hex))
        ]


class Vocab:
    """Key and mnemonic vocabularies (id 0 = unknown); built from the blocks an agent
    may read (train and validation inputs are free), so a key seen only in unlabelled
    blocks still gets its own embedding (pretrained by the agents that pretrain)."""

    def __init__(self, blocks: Iterable[BlockTokens | None], min_count: int = 1) -> None:
        keys: dict[str, int] = {}
        mnems: dict[str, int] = {}
        for b in blocks:
            if b is None:
                continue
            for k in b.keys:
                keys[k] = keys.get(k, 0) + 1
            for m in b.mnemonics:
                mnems[m] = mnems.get(m, 0) + 1
        self.keys = {
            k: i + 1 for i, k in enumerate(sorted(k for k, c in keys.items() if c >= min_count))
        }
        self.mnemonics = {
            m: i + 1 for i, m in enumerate(sorted(m for m, c in mnems.items() if c >= min_count))
        }

    @property
    def n_keys(self) -> int:
        return len(self.keys) + 1

    @property
    def n_mnemonics(self) -> int:
        return len(self.mnemonics) + 1

    def encode(self, blocks: Sequence[BlockTokens | None]) -> Encoded:
        """Pad ``blocks`` into an :class:`Encoded` batch."""
        lengths = np.array([1 if b is None else max(1, len(b.keys)) for b in blocks], np.int64)
        length = int(lengths.max()) if len(blocks) else 1
        key = np.zeros((len(blocks), length), np.int64)
        mnem = np.zeros((len(blocks), length), np.int64)
        feats = np.zeros((len(blocks), length, len(FEATURES)), np.float32)
        for i, b in enumerate(blocks):
            if b is None or not b.keys:
                continue
            n = len(b.keys)
            key[i, :n] = [self.keys.get(k, 0) for k in b.keys]
            mnem[i, :n] = [self.mnemonics.get(m, 0) for m in b.mnemonics]
            feats[i, :n] = b.feats
        ok = np.array([b is not None and len(b.keys) > 0 for b in blocks], bool)
        return Encoded(key, mnem, feats, lengths, ok)
