"""envs.groundtruth.blockdata: measured block files (ours and BHive's) -> Dataset."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from envs.groundtruth import datasets
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


# ---------------------------------------------------------------- noise floor (issue 14)

ZEN4_CPU = {"vendor": "AuthenticAMD", "family": 25, "model": 17, "uarch": "znver4"}
ZEN3_CPU = {"vendor": "AuthenticAMD", "family": 25, "model": 1, "uarch": "znver3"}


def _measured(
    path: Path, rows: list[tuple[str, float, str]], cpu: dict, start: str, end: str
) -> None:
    """A measured CSV and its sidecar (CPU identity, one session from start to end)."""
    lines = ["hex,cycles_per_100,spread,runs,status"]
    lines += [f"{h},{c},0.001,5,{s}" for h, c, s in rows]
    path.write_text("\n".join(lines) + "\n")
    meta = {"cpu": cpu, "sessions": [{"started": start, "ended": end}]}
    path.with_suffix(".json").write_text(json.dumps(meta))


def test_noise_floor_of_two_small_files(tmp_path: Path) -> None:
    from envs.groundtruth import noise

    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    t0, t1 = "2026-12-01T22:00:00+00:00", "2026-12-01T22:30:00+00:00"
    _measured(
        a,
        [("4801c0", 100.0, "ok"), ("480fafc0", 300.0, "ok"), ("4801d8", 200.0, "ok"),
         ("4889d8", 50.0, "ok"), ("0f0b", 1.0, "fault")],
        ZEN4_CPU, t0, t1,
    )  # fmt: skip
    _measured(
        b,
        [("4801c0", 102.0, "ok"), ("480fafc0", 297.0, "ok"), ("4801d8", 220.0, "ok"),
         ("4889d8", 60.0, "noisy"), ("90", 5.0, "ok")],
        ZEN4_CPU, "2026-12-02T00:00:00+00:00", "2026-12-02T00:10:00+00:00",
    )  # fmt: skip
    r = noise.compare(a, b)
    # blocks ok in both: 4801c0 (2%), 480fafc0 (1%), 4801d8 (10%)
    assert r.n_blocks == 3
    assert r.mape == pytest.approx((0.02 + 0.01 + 0.10) / 3)
    assert r.median_ape == pytest.approx(0.02)
    assert r.within_1pct == pytest.approx(1 / 3) and r.within_3pct == pytest.approx(2 / 3)
    assert r.within_5pct == pytest.approx(2 / 3) and r.kendall_tau == pytest.approx(1.0)
    assert r.hours_between == pytest.approx(1.5) and r.repeat_file == "b.csv"
    assert noise.same_cpu(a, b) is None
    side = noise.store_noise_floor(a, r)
    stored = json.loads(side.read_text())["noise_floor"]
    for key in ("mape", "median_ape", "kendall_tau", "within_1pct", "within_3pct",
                "within_5pct", "n_blocks", "repeat_file", "hours_between"):  # fmt: skip
        assert key in stored
    assert stored["n_blocks"] == 3 and stored["hours_between"] == 1.5
    assert load_block_dataset(a).meta["noise_floor"]["mape"] == pytest.approx(r.mape, abs=1e-5)


def test_noise_floor_refuses_two_cpus(tmp_path: Path) -> None:
    import argparse

    from envs.groundtruth.measure import cli
    from harness.errors import UserError

    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    rows = [("4801c0", 100.0, "ok"), ("480fafc0", 300.0, "ok")]
    _measured(a, rows, ZEN4_CPU, "2026-12-01T22:00:00+00:00", "2026-12-01T22:30:00+00:00")
    _measured(b, rows, ZEN3_CPU, "2026-11-22T04:00:00+00:00", "2026-11-22T04:20:00+00:00")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    with pytest.raises(UserError, match="needs one CPU"):
        cli.main(parser.parse_args(["--compare", str(a), str(b)]))
    args = parser.parse_args(["--compare", str(a), str(b), "--store-as", "cross_cpu"])
    assert cli.main(args) == 0
    meta = json.loads(a.with_suffix(".json").read_text())
    assert "cross_cpu" in meta and "noise_floor" not in meta
    assert meta["cross_cpu"]["hours_between"] < 0  # the other file is older: negative


SHIPPED4 = ROOT / "envs" / "groundtruth" / "data" / "bhive_znver4.csv.gz"


def test_shipped_znver3_and_znver4_load() -> None:
    z3 = load_block_dataset(SHIPPED)
    z4 = load_block_dataset(SHIPPED4)
    assert z3.meta["uarch"] == "znver3" and z4.meta["uarch"] == "znver4"
    assert z4.name == "bhive_znver4" and len(z4) >= 14000 and len(z3) >= 14000
    assert z4.meta["cpu"]["family"] == 25 and z4.meta["cpu"]["model"] == 17
    assert np.all(np.isfinite(z4.targets)) and np.all(z4.targets > 0)
    assert set(z4.inputs) & set(z3.inputs)  # the same sample of blocks
    nf = z4.meta["noise_floor"]  # what the reports read
    assert nf["n_blocks"] >= 2000 and nf["hours_between"] >= 1.0
    assert nf["within_3pct"] >= 0.95 and nf["repeat_file"] == "bhive_znver4_repeat.csv.gz"
    assert "noise_floor" not in z3.meta and z3.meta["noise_floor_unavailable"]
    repeat = load_block_dataset(SHIPPED4.with_name("bhive_znver4_repeat.csv.gz"))
    assert len(repeat) >= 2000 and repeat.meta["uarch"] == "znver4"


def test_shipped_intel_dataset_loads_with_its_cpu_and_the_percentile_gate() -> None:
    intel = load_block_dataset(SHIPPED4.with_name("bhive_intel-6-167.csv.gz"))
    z4 = load_block_dataset(SHIPPED4)
    assert intel.name == "bhive_intel-6-167" and intel.meta["uarch"] == "intel-6-167"
    assert intel.meta["cpu"]["vendor"] == "GenuineIntel" and intel.meta["cpu"]["model"] == 167
    assert len(intel) >= 14000 and np.all(np.isfinite(intel.targets) & (intel.targets > 0))
    assert len(set(intel.inputs) & set(z4.inputs)) >= 14000  # the same sample of blocks
    assert "10th percentile" in intel.meta["method"]  # the gate it was measured with
    assert datasets.load_measured("bhive_intel-6-167").name == "bhive_intel-6-167"
    nf = intel.meta["noise_floor"]  # the same-CPU repeat, what the reports read
    assert nf["n_blocks"] >= 2000 and nf["within_3pct"] >= 0.95
    assert nf["repeat_file"] == "bhive_intel-6-167_repeat.csv.gz"
