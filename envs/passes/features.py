"""Observations: the 56 Autophase features (Haj-Ali et al., MLSys 2020), as CompilerGym
computes them, counted over a module's defined functions by the pass server
(``native/pass_server.cpp``, function ``autophase``).

Meanings (BB = basic block; "phi args" = incoming values of a block's phi nodes):

- BBNumArgsHi / BBNumArgsLo: BBs whose phi args total > 5 / 1..5;
- onePred, onePredOneSuc, onePredTwoSuc, oneSuccessor, twoPred, twoPredOneSuc, twoEach
  (2 preds and 2 succs), twoSuccessor, morePreds (> 2 preds): BBs by CFG degree;
- BB03Phi / BBHiPhi / BBNoPhi: BBs with 1..3 / > 3 / no phi nodes; BeginPhi: phi nodes;
  ArgsPhi: phi args;
- BranchCount, UncondBranches: branch instructions, unconditional ones; CriticalCount:
  critical edges; NumEdges: CFG edges;
- returnInt: calls returning an integer; const32Bit / const64Bit: 32/64-bit integer
  constant operands; numConstZeroes / numConstOnes: operands equal to 0 / 1;
  binaryConstArg: binary operators with a constant operand; testUnary: unary
  instructions (casts, loads, allocas, ...);
- Num<Op>Inst: instructions of each opcode named;
- BlockLow / BlockMid: BBs with < 15 / 15..500 instructions;
- TotalBlocks, TotalInsts, TotalMemInst (loads, stores, allocas), TotalFuncs.
"""

from __future__ import annotations

import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "BBNumArgsHi",
    "BBNumArgsLo",
    "onePred",
    "onePredOneSuc",
    "onePredTwoSuc",
    "oneSuccessor",
    "twoPred",
    "twoPredOneSuc",
    "twoEach",
    "twoSuccessor",
    "morePreds",
    "BB03Phi",
    "BBHiPhi",
    "BBNoPhi",
    "BeginPhi",
    "BranchCount",
    "returnInt",
    "CriticalCount",
    "NumEdges",
    "const32Bit",
    "const64Bit",
    "numConstZeroes",
    "numConstOnes",
    "UncondBranches",
    "binaryConstArg",
    "NumAShrInst",
    "NumAddInst",
    "NumAllocaInst",
    "NumAndInst",
    "BlockMid",
    "BlockLow",
    "NumBitCastInst",
    "NumBrInst",
    "NumCallInst",
    "NumGetElementPtrInst",
    "NumICmpInst",
    "NumLShrInst",
    "NumLoadInst",
    "NumMulInst",
    "NumOrInst",
    "NumPHIInst",
    "NumRetInst",
    "NumSExtInst",
    "NumSelectInst",
    "NumShlInst",
    "NumStoreInst",
    "NumSubInst",
    "NumTruncInst",
    "NumXorInst",
    "NumZExtInst",
    "TotalBlocks",
    "TotalInsts",
    "TotalMemInst",
    "TotalFuncs",
    "ArgsPhi",
    "testUnary",
)
N_FEATURES = len(FEATURE_NAMES)
TOTAL_INSTS = FEATURE_NAMES.index("TotalInsts")


def autophase_vector(features: np.ndarray) -> np.ndarray:
    """Scaled features, float32 [2 * N_FEATURES]: ``log1p(count) / 10`` (module size)
    then ``count / TotalInsts`` (composition, independent of size)."""
    x = np.asarray(features, dtype=np.float64)
    total = max(float(x[TOTAL_INSTS]), 1.0)
    return np.concatenate([np.log1p(x) / 10.0, x / total]).astype(np.float32)


def encode_features(features: np.ndarray) -> str:
    """Counts as the text ``inputs()`` hands an agent (comma-separated integers)."""
    return ",".join(str(int(v)) for v in np.asarray(features))


def decode_features(text: str) -> np.ndarray:
    """Inverse of :func:`encode_features`: float64 [N_FEATURES]."""
    out = np.array(text.split(","), dtype=np.float64)
    if out.shape != (N_FEATURES,):
        raise ValueError(f"expected {N_FEATURES} features, got {out.shape[0]}")
    return out
