"""envs.groundtruth.blockdata: measured block files (ours and BHive's) -> Dataset."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from envs.groundtruth.blockdata import load_block_dataset

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "measured_small.csv"
SHIPPED = ROOT / "envs" / "groundtruth" / "data" / "bhive_znver3.csv.gz"

MEASURED = (
    "hex,cycles_per_100,spread,runs,status\n"
    "4801c0,100.961,0.00046,5,ok\n"
    "480fafc0,299.943,0.11137,5,noisy\n"
    "0f0b,,,0,fault\n"
    "480FAFC3,300.100,0.00100,5,ok\n"
)


def test_measured_format_keeps_ok_rows_and_reads_sidecar(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(MEASURED)
    (tmp_path / "m.json").write_text(json.dumps({"cpu_model": "Test CPU", "runs": 5}))
    d = load_block_dataset(p)
    assert d.name == "m"
    assert d.inputs == ("4801c0", "480fafc3")
    assert d.targets.dtype == np.float64
    np.testing.assert_allclose(d.targets, [100.961, 300.1])
    assert d.meta["cpu_model"] == "Test CPU" and d.meta["format"] == "tunebench-measure"


def test_measured_gz_with_csv_json_sidecar(tmp_path: Path) -> None:
    p = tmp_path / "g.csv.gz"
    p.write_bytes(gzip.compress(MEASURED.encode()))
    (tmp_path / "g.csv.gz.json").write_text(json.dumps({"cpu_model": "X"}))
    d = load_block_dataset(p, name="mine")
    assert d.name == "mine" and len(d) == 2 and d.meta["cpu_model"] == "X"


@pytest.mark.parametrize("compress", [False, True])
def test_bhive_throughput_format(tmp_path: Path, compress: bool) -> None:
    text = "4801c0,100.0\n480fafc0,300.5\n4801c0,99.0\n"
    p = tmp_path / ("skl.csv.gz" if compress else "skl.csv")
    p.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    d = load_block_dataset(p)
    assert d.inputs == ("4801c0", "480fafc0")  # a repeated block keeps its first row
    np.testing.assert_allclose(d.targets, [100.0, 300.5])
    assert d.meta["format"] == "bhive-throughput" and d.name == "skl"


def test_bhive_with_header(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("hex,throughput\n4801c0,100.0\n")
    assert load_block_dataset(p).inputs == ("4801c0",)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_block_dataset(tmp_path / "nope.csv")
    for name, text in [
        ("empty.csv", ""),
        ("other.csv", "a,b,c\n1,2,3\n"),
        ("badhex.csv", "4801c,100\n"),
        ("badnum.csv", "hex,cycles_per_100,spread,runs,status\n4801c0,abc,0,5,ok\n"),
        ("neg.csv", "4801c0,-3\n"),
    ]:
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(ValueError) as exc:
            load_block_dataset(p)
        assert "\n" not in str(exc.value)
    bad_gz = tmp_path / "bad.csv.gz"
    bad_gz.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(ValueError):
        load_block_dataset(bad_gz)


def test_small_measured_file_and_deterministic_split() -> None:
    d = load_block_dataset(SMALL)
    assert len(d) >= 250
    assert d.meta["cpu_model"] and d.meta["runs"] == 5
    assert np.all(d.targets > 0)
    s1, s2 = d.split(seed=0), load_block_dataset(SMALL).split(seed=0)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(s1.part(part), s2.part(part))
    assert len(s1.train) + len(s1.val) + len(s1.test) == len(d)
    assert not np.array_equal(d.split(seed=1).test, s1.test)


@pytest.mark.skipif(not SHIPPED.exists(), reason="shipped dataset not built yet")
def test_shipped_dataset_loads() -> None:
    d = load_block_dataset(SHIPPED)
    assert d.name == "bhive_znver3"
    assert len(d) >= 8000
    assert d.meta["cpu_model"] and d.meta["method"]
    assert np.all(np.isfinite(d.targets)) and np.all(d.targets > 0)
