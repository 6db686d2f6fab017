"""blocksim's opt-in differenced prediction: T(2N) - T(N), as the ground truth is measured."""

from __future__ import annotations

import numpy as np
import pytest

from agents.predictors.simulators import BlockSimPredictor, task_blocksim_options
from envs.blocksim.simulator import BlockSim
from envs.blocksim.task import make_blocksim_task
from tests.test_blocksim_rules import asm

# One-cycle ALU compares with no dependence between iterations: znver3's 4 ALUs take 4
# per cycle, 25 cycles per 100 iterations once the pipeline is full.
CMP = ["cmpl $90, %esi"]
CHAIN = ["addq $1, %rax", "imulq %rax, %rbx"]  # a 1-cycle dependence chain, and a multiply
STORE_LOAD = ["movq %rax, 8(%rsp)", "movq 8(%rsp), %rax", "addq $1, %rax"]


def test_it_is_the_difference_of_two_runs() -> None:
    hexes = [asm(CMP), asm(CHAIN), asm(STORE_LOAD)]
    for kw in ({}, {"stack_engine": True, "bhive_state": True}):
        sim = BlockSim("znver3", differenced=True, **kw)
        table = sim.default_table()
        t100 = BlockSim("znver3", iterations=100, **kw).predict(hexes, table)
        t200 = BlockSim("znver3", iterations=200, **kw).predict(hexes, table)
        np.testing.assert_array_equal(sim.predict(hexes, table), t200 - t100)


def test_it_drops_the_pipeline_fill_that_llvm_mca_counts() -> None:
    plain, diff = BlockSim("znver3"), BlockSim("znver3", differenced=True)
    h = asm(CMP)
    total = float(plain.predict([h], plain.default_table())[0])
    marginal = float(diff.predict([h], diff.default_table())[0])
    assert marginal == pytest.approx(25.0)  # 100 compares on 4 ALUs
    assert total > marginal + 1  # llvm-mca's Total Cycles also fills and drains once


def test_the_task_option_reaches_its_facts_and_the_predictors() -> None:
    task = make_blocksim_task(max_items=40, differenced=True)
    assert task.facts()["differenced"] == "on"
    assert "differenced" in task.description
    options = task_blocksim_options(task.facts())
    assert options["differenced"] is True
    hexes = list(task.dataset.inputs[:5])
    stock = BlockSimPredictor("znver3", **options)(hexes)
    want = task.simulator.sim.predict(hexes, task.simulator.sim.default_table())
    np.testing.assert_array_equal(stock, want)
    assert "differenced" not in make_blocksim_task(max_items=40).facts()
