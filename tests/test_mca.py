"""Integration tests with the real llvm-mca 14 and llvm-mc (no mocks)."""

import numpy as np
import pytest

from envs.groundtruth.blockdata import load_block_dataset
from envs.mca.simulator import McaSimulator
from envs.mca.task import make_mca_task
from envs.x86.disasm import disassemble
from harness.errors import UserError
from harness.runner import run_suite
from harness.store import load_trials
from tests.conftest import SMALL_DATASET

ADD_CHAIN = "4801c0"  # add rax, rax: a 1-cycle dependent chain
POP_RBX = "5b"
UNDECODABLE = "ffff"


def test_disassembly_is_batched_and_exact() -> None:
    out = disassemble([ADD_CHAIN, POP_RBX, UNDECODABLE, "0f0b", "90"])
    assert [i.opcode for i in out[0]] == ["ADD64rr"]
    assert out[1][0].text.startswith("popq")
    assert out[2] is None and out[3] is None  # bad bytes / a lone ud2 fail alone
    assert out[4][0].opcode == "NOOP"


def test_bad_hex_is_a_user_error() -> None:
    with pytest.raises(UserError, match="empty block"):
        disassemble([""])
    with pytest.raises(UserError, match="hex"):
        disassemble(["abc"])


def test_add_chain_is_one_cycle_per_iteration() -> None:
    sim = McaSimulator(jobs=1)
    cycles = sim.predict([ADD_CHAIN], {"mcpu": "znver3"})
    assert 100 <= cycles[0] <= 105  # 100 iterations + pipeline fill


def test_knobs_change_predictions() -> None:
    sim = McaSimulator(jobs=1)
    block = "4801c34801c14801c24801c6"  # four independent adds
    wide = sim.predict([block], {"mcpu": "znver3"})[0]
    narrow = sim.predict([block], {"mcpu": "znver3", "dispatch_width": 1})[0]
    assert narrow > 3 * wide


def test_a_rejected_block_fails_alone_and_batches_agree() -> None:
    data = load_block_dataset(SMALL_DATASET)
    blocks = list(data.inputs[:60])
    mixed = blocks[:30] + [UNDECODABLE] + blocks[30:]
    sim = McaSimulator(jobs=2, blocks_per_process=16)
    pred = sim.predict(mixed, {"mcpu": "znver3"})
    assert np.isnan(pred[30]) and np.isfinite(np.delete(pred, 30)).all()
    one_by_one = McaSimulator(jobs=1, blocks_per_process=1).predict(blocks[:8], {"mcpu": "znver3"})
    assert np.array_equal(one_by_one, pred[:8])


def test_mca_task_default_scores(tmp_path) -> None:
    task = make_mca_task(dataset=str(SMALL_DATASET), jobs=2)
    n = task.n_items("test")
    assert n > 10 and task.n_items("train") > 5 * n
    items = np.arange(n)
    pred = task.evaluate(task.param_space.default(), "test", items)
    m = task.score(pred, "test", items)
    assert 0.05 < m["mape"] < 2.0 and m["kendall_tau"] > 0.3


def test_tiny_suite_end_to_end_with_real_llvm_mca(tmp_path) -> None:
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(f"""
name = "tiny"
seeds = [0, 1]
budgets = [600]
eval_items = 60
[tasks.mca]
options = {{ dataset = "{SMALL_DATASET}", jobs = 1 }}
agents = ["default", "random", "optuna-tpe", "opentuner"]
""")
    summary = run_suite(cfg, tmp_path / "run", workers=2, log=lambda _: None)
    assert summary.ok == 8 and summary.failed == 0
    df = load_trials(tmp_path / "run")
    assert set(df.agent) == {"default", "random", "optuna-tpe", "opentuner"}
    assert (df[df.agent != "default"].samples_used == 600).all()
    assert (df[df.agent == "default"].samples_used == 0).all()
    assert df.test_mape.between(0.01, 5).all() and df.test_kendall_tau.notna().all()
    assert df.versions.str.contains("llvm-mca").all()
