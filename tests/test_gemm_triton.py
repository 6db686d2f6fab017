"""The GPU table's pure-Python parts: the Triton configuration space, the GPU shapes and
the collector's specialization classes (the kernel and the collector run on a GPU only:
bench/gpu_session.sh)."""

from __future__ import annotations

import pytest

from envs.gemm.shapes import split_shapes
from envs.gemm.triton_collect import residue
from envs.gemm.triton_shapes import MAX_MACS, NK_LO, gpu_shapes
from envs.gemm.triton_space import (
    ACC_PER_THREAD,
    SMEM_BYTES,
    acc_per_thread,
    all_configs,
    config_key,
    parse_key,
    smem_bytes,
    violation,
)


def test_every_listed_configuration_fits_and_has_a_unique_key_that_parses_back() -> None:
    configs = all_configs()
    keys = [config_key(c) for c in configs]
    assert len(set(keys)) == len(keys) == len(configs)
    assert all(violation(c) is None for c in configs)
    assert [parse_key(k) for k in keys] == configs


def test_constraint_rejects_spilling_tiles_and_pipelines_over_shared_memory() -> None:
    spill = {"block_m": 256, "block_n": 256, "block_k": 32, "num_warps": 4, "num_stages": 2}
    assert "accumulators" in (violation(spill) or "")
    deep = {"block_m": 256, "block_n": 128, "block_k": 128, "num_warps": 8, "num_stages": 5}
    assert smem_bytes(deep) > SMEM_BYTES
    assert "shared memory" in (violation(deep) or "")
    ok = {"block_m": 128, "block_n": 128, "block_k": 64, "num_warps": 8, "num_stages": 3}
    assert violation(ok) is None
    assert acc_per_thread(ok) == 64 <= ACC_PER_THREAD


@pytest.mark.parametrize("bad", ["bm128bn128bk64-w8", "bm12xbn1bk2-w4-s3", "bm128bn128bk64-w08-s3"])
def test_malformed_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Triton configuration key"):
        parse_key(bad)


def test_gpu_shapes_are_deterministic_within_the_cap_and_split_three_ways() -> None:
    shapes = gpu_shapes()
    assert [s.name for s in shapes] == [s.name for s in gpu_shapes()]
    assert len({s.name for s in shapes}) == len(shapes)
    assert all(s.macs <= MAX_MACS and min(s.n, s.k) >= NK_LO for s in shapes)
    assert any(s.m == 1 for s in shapes)  # one token of decoding
    assert {"llama-7b.mlp_down.t512", "bert-base.qkv.t1"} <= {s.origin for s in shapes}
    splits = split_shapes(shapes)
    for source in ("lognormal", "model"):
        got = {sp for s, sp in zip(shapes, splits, strict=True) if s.source == source}
        assert got == {"train", "val", "test"}


def test_residue_classes_follow_tritons_integer_specialization() -> None:
    assert [residue(v) for v in (1, 16, 4096, 17, 768, 1000)] == [
        "1", "d16", "d16", "any", "d16", "any",
    ]  # fmt: skip
