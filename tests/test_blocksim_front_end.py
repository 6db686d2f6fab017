"""blocksim's opt-in front-end bound: at least n / front_end_width cycles per iteration."""

from __future__ import annotations

import pytest

from envs.blocksim.simulator import BlockSim
from tests.test_blocksim_rules import asm

# 8 independent one-cycle ALU ops: 2 cycles per iteration on znver3's 4 ALUs
WIDE = [f"addq $1, %r{i}" for i in range(8, 16)]


def test_the_bound_applies_only_when_on_and_is_tunable() -> None:
    plain, fe = BlockSim("znver3"), BlockSim("znver3", front_end=True)
    h = asm(WIDE)
    free = float(plain.predict([h], plain.default_table())[0]) / 100
    base = fe.default_table()
    assert "front_end_width" in base.param_names([])
    assert "front_end_width" not in plain.default_table().param_names([])
    assert float(fe.predict([h], base)[0]) / 100 == pytest.approx(free)  # 8 / 6 < 2
    narrow = base.with_flat(["front_end_width"], [2])
    assert float(fe.predict([h], narrow)[0]) / 100 == pytest.approx(4.0)  # 8 / 2
    with pytest.raises(ValueError, match="front-end bound"):
        plain.predict([h], base)
    with pytest.raises(ValueError, match="front-end bound"):
        fe.predict([h], plain.default_table())
