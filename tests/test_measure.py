"""Ground-truth measurement on the real CPU (no mocks): envs.groundtruth.measure.

Needs an x86-64 Linux machine with rdtsc and a C compiler; each test times real blocks.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from envs.groundtruth.measure import build, runner, selfcheck
from envs.groundtruth.measure.runner import Helper, MeasureConfig, measure_blocks
from harness.errors import UserError

ROOT = Path(__file__).resolve().parents[1]

ADD_CHAIN = "4801c0"  # add rax, rax: 1 cycle per iteration
IMUL_CHAIN = "480fafc0"  # imul rax, rax: 3 cycles per iteration
UD2 = "0f0b"  # SIGILL
FAR_LOAD = "488b042500000080"  # mov rax, [0xffffffff80000000]: kernel address, never mapped
INT3 = "cc"  # SIGTRAP
SPIN = "ebfe"  # jmp $: never ends
# xor every callee-saved register, then point rsp somewhere else: host state must survive
WRECK = "4831db4831ed4d31e44d31ed4d31f64d31ff4889c4"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
    reason="measurement needs x86-64 Linux",
)


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Build the helper in a private cache, as a first use would."""
    old = os.environ.get("TUNEBENCH_CACHE")
    os.environ["TUNEBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("TUNEBENCH_CACHE", None)
    else:
        os.environ["TUNEBENCH_CACHE"] = old


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_helper_is_built_once_and_cached() -> None:
    p1 = build.helper_path()
    mtime = p1.stat().st_mtime_ns
    p2 = build.helper_path()
    assert p1 == p2 and p2.stat().st_mtime_ns == mtime
    assert p1.parent == build.cache_dir()
    assert build.source_hash() in p1.name


# Conditions of the machine, not of the code: the product marks them by design.
_MACHINE_CONDITIONS = ("contended", "calibration moved")


def _measure_uncontended(h: Helper, hex_block: str, attempts: int = 4) -> runner.BlockResult:
    """Measure ``hex_block``, again while the machine spoils it; skip if it always does.

    A contended result (another hardware thread kept sharing the core through every retry)
    carries no value by design, and a run whose core clock moved by more than 1% is marked
    noisy ("calibration moved"); CI's shared 2-core virtual machines produce both now and
    then (one CI run saw the TSC-per-cycle ratio wander 0.81-0.84 within one block). A
    spread over the limit counts as the machine's too when the helper itself saw another
    hardware thread on the core during the runs (contention retries: 2026-12-03, imul
    300.2 cycles per 100 with one run out, spread 0.16 after 6 retries). Any other
    status, and every value, is still checked by the caller.
    """
    seen: list[str] = []
    for _ in range(attempts):
        res = h.measure(hex_block)
        machine = res.detail in _MACHINE_CONDITIONS or (
            res.detail == "spread" and res.contention_retries > 0
        )
        if not (res.status == "noisy" and machine):
            return res
        seen.append(f"{res.detail} ({res.contention_retries} contention retries)")
    pytest.skip(f"machine spoiled {attempts} measurements of {hex_block}: {seen}")


def test_add_and_imul_chains_measure_1_and_3_cycles() -> None:
    with Helper(MeasureConfig()) as h:
        add = _measure_uncontended(h, ADD_CHAIN)
        imul = _measure_uncontended(h, IMUL_CHAIN)
    assert add.status == "ok", add
    assert 97.0 <= add.cycles_per_100 <= 103.0, add
    assert imul.status == "ok", imul
    assert 291.0 <= imul.cycles_per_100 <= 309.0, imul
    assert add.runs == imul.runs == 5
    assert add.spread <= 0.05


def test_calibration_matches_add_chain_clock() -> None:
    tpc, tsc_hz = runner.calibrate(5)
    assert 0.2 < tpc < 5.0
    assert 1e8 < tsc_hz < 1e10


def test_faults_get_a_status_and_the_run_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    blocks = [UD2, FAR_LOAD, INT3, WRECK, ADD_CHAIN]
    s = measure_blocks(blocks, out, MeasureConfig(runs=3, samples=8), progress=None)
    rows = read_rows(out)
    assert [r["hex"] for r in rows] == blocks
    status = {r["hex"]: r["status"] for r in rows}
    assert status[UD2] == status[FAR_LOAD] == status[INT3] == "fault"
    # clobbers rsp and all callee-saved registers: still measured, not a fault
    assert status[WRECK] in ("ok", "noisy")
    session = json.loads((tmp_path / "m.json").read_text())["sessions"][-1]
    details = session["not_ok_details"]
    if rows[3]["runs"] != "3":
        # a run that stayed contended ends the block early by design (CI, 2026-12-03: WRECK
        # noisy after 1 of 3 runs); the session must say so, and WRECK must still give a
        # value in every run once the machine lets it
        assert session["noisy_details"].get("contended", 0) >= 1, rows[3]
        with Helper(MeasureConfig(runs=3, samples=8)) as h:
            again = _measure_uncontended(h, WRECK)
        assert again.status in ("ok", "noisy") and again.runs == 3, again
    # measured after the faults ("noisy" only when CI's machine was contended)
    assert status[ADD_CHAIN] in ("ok", "noisy")
    assert s.measured == 5 and s.counts["fault"] == 3
    # every noisy block says why, in the summary and in the session's record
    assert sum(s.noisy_details.values()) == s.counts.get("noisy", 0)
    assert session["noisy_details"] == s.noisy_details
    fault_row = rows[0]
    assert fault_row["cycles_per_100"] == "" and fault_row["runs"] == "0"
    assert details.get("fault SIGILL") == 1 and details.get("fault SIGTRAP") == 1


def test_hanging_block_times_out() -> None:
    with Helper(MeasureConfig(runs=3, samples=16, timeout_s=0.3)) as h:
        r = h.measure(SPIN)
        after = _measure_uncontended(h, ADD_CHAIN)
    assert r.status == "timeout"
    assert after.status == "ok"


def test_resume_measures_nothing_twice_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    blocks = [ADD_CHAIN, UD2, "4801d8", "4889d8", "480fafc3"]
    cfg = MeasureConfig(runs=3, samples=4)
    s1 = measure_blocks(blocks, out, cfg, limit=2, progress=None)
    first = read_rows(out)
    assert s1.measured == 2 and [r["hex"] for r in first] == blocks[:2]
    # interrupted mid-write: a torn last line is dropped and that block measured again
    with open(out, "a") as f:
        f.write(blocks[2] + ",12.3")
    s2 = measure_blocks(blocks, out, cfg, progress=None)
    rows = read_rows(out)
    assert s2.measured == 3 and s2.skipped == 2
    assert [r["hex"] for r in rows] == blocks
    assert rows[:2] == first
    s3 = measure_blocks(blocks, out, cfg, progress=None)
    assert s3.measured == 0 and s3.skipped == 5
    assert len(read_rows(out)) == 5
    meta = json.loads((tmp_path / "r.json").read_text())
    assert len(meta["sessions"]) == 3
    # Every row counted once. Whether a block with only 3 x 4 samples comes out "ok" or
    # "noisy" depends on the machine's load (1 run in 3 here): that split is not what
    # this test is about; the measurement tests above check the values.
    counts = meta["counts"]
    assert counts.get("fault") == 1 and counts.get("ok", 0) + counts.get("noisy", 0) == 4
    assert sum(counts.values()) == 5
    for key in ("cpu_model", "cc_version", "method", "runs"):
        assert meta[key]
    sess = meta["sessions"][0]
    assert sess["calibration_start_tsc_per_cycle"] > 0 and sess["calibration_end_tsc_per_cycle"] > 0
    assert len(sess["loadavg_start"]) == 3


def test_resume_after_kill(tmp_path: Path) -> None:
    """SIGKILL a real measuring process mid-run; the re-run completes the file."""
    import signal
    import time

    out = tmp_path / "k.csv"
    blocks = [f"4801c0{'90' * i}" for i in range(30)]  # add rax, rax + i nops
    cmd = [
        sys.executable,
        "-m",
        "envs.groundtruth.measure.cli",
        "--hex",
        *blocks,
        "--out",
        str(out),
    ]
    cmd += ["--runs", "3", "--samples", "16", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120  # CI: ~2 s a block under contention
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().count("\n") >= 4:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = read_rows(out)
    assert 3 <= len(partial) < len(blocks)
    rc = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False).returncode
    assert rc == 0
    rows = read_rows(out)
    assert [r["hex"] for r in rows] == blocks  # all present, in order, none twice
    assert rows[: len(partial)] == partial  # nothing re-measured
    assert all(r["status"] in ("ok", "noisy") for r in rows)


def test_second_writer_is_refused(tmp_path: Path) -> None:
    import fcntl

    out = tmp_path / "x.csv"
    with open(tmp_path / "x.csv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(UserError, match="another tunebench measure"):
            measure_blocks([ADD_CHAIN], out, progress=None)


@pytest.mark.parametrize("bad", ["", "   ", "abc", "zz", "0x", "48 01 c0 ff f"])
def test_bad_hex_is_a_user_error(bad: str) -> None:
    with pytest.raises(UserError):
        runner.normalize_hex(bad)


def test_normalize_hex() -> None:
    assert runner.normalize_hex(" 0x4801C0\n") == "4801c0"


def test_input_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        runner.read_input_csv(tmp_path / "missing.csv")
    nohex = tmp_path / "nohex.csv"
    nohex.write_text("code,x\n4801c0,1\n")
    with pytest.raises(UserError, match="no 'hex' column"):
        runner.read_input_csv(nohex)
    bad = tmp_path / "bad.csv"
    bad.write_text("hex,sources\n4801c0,a\n,b\nxyz1,c\n")
    with pytest.raises(UserError, match="line 3"):
        runner.read_input_csv(bad)
    assert [r["hex"] for r in runner.read_input_csv(bad, skip_invalid=True)] == ["4801c0"]
    binary = tmp_path / "bin.csv.gz"
    binary.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(UserError, match="cannot read"):
        runner.read_input_csv(binary)


def test_stratified_sample_is_seeded_and_balanced() -> None:
    rows = [{"hex": f"{i:04x}", "sources": "tensorflow"} for i in range(900)]
    rows += [{"hex": f"{1000 + i:04x}", "sources": "sqlite"} for i in range(60)]
    rows += [
        {"hex": f"{2000 + i:04x}", "sources": "openblas-dgemm.goto;openblas-sgemm.goto"}
        for i in range(40)
    ]
    rows += [{"hex": f"{3000 + i:04x}", "sources": "sqlite;tensorflow"} for i in range(10)]
    a = runner.sample_rows(rows, 150, seed=3, stratify_by="sources")
    b = runner.sample_rows(rows, 150, seed=3, stratify_by="sources")
    c = runner.sample_rows(rows, 150, seed=4, stratify_by="sources")
    assert a == b and a != c
    assert len({r["hex"] for r in a}) == 150
    apps = [runner.application_of(r["sources"], {"tensorflow": 910, "sqlite": 70}) for r in a]
    assert apps.count("openblas") == 40  # small strata are taken whole
    assert apps.count("sqlite") == 55 and apps.count("tensorflow") == 55


def test_cli_main_and_standalone(tmp_path: Path) -> None:
    import argparse

    from envs.groundtruth.measure import cli

    parser = argparse.ArgumentParser(prog="tunebench")
    sub = parser.add_subparsers()
    cli.register(sub)
    out = tmp_path / "c.csv"
    args = parser.parse_args(
        ["measure", "--hex", ADD_CHAIN, "--out", str(out), "--runs", "3", "--quiet"]
    )
    assert args.func is cli.main
    assert args.func(args) == 0
    # the CLI's wiring is under test here; the values are checked in the chain tests above,
    # and a shared machine may mark this one block noisy
    assert read_rows(out)[0]["status"] in ("ok", "noisy")
    bad = parser.parse_args(["measure", "--hex", "4801c", "--out", str(tmp_path / "d.csv")])
    with pytest.raises(UserError, match="odd number"):
        cli.main(bad)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "envs.groundtruth.measure.cli",
            "--hex",
            "zz",
            "--out",
            str(tmp_path / "e.csv"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not hex" in proc.stderr


def test_refuses_non_x86(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build.platform, "machine", lambda: "aarch64")
    with pytest.raises(UserError, match="x86-64"):
        build.check_cpu()


# ---------------------------------------------------------------- CPU identity (issue 14)

ZEN3_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
stepping\t: 1
microcode\t: 0xa0011d1
flags\t\t: fpu tsc sse4_2 avx avx2 fma bmi2 hypervisor

processor\t: 1
vendor_id\t: GenuineIntel
"""
SKYLAKE_CPUINFO = ZEN3_CPUINFO.replace("AuthenticAMD", "GenuineIntel").replace(
    "cpu family\t: 25\nmodel\t\t: 1", "cpu family\t: 6\nmodel\t\t: 85"
)


def test_parse_cpuinfo_names_the_microarchitecture() -> None:
    from envs.groundtruth.measure.cpu import parse_cpuinfo, uarch_name

    zen3 = parse_cpuinfo(ZEN3_CPUINFO, kernel="6.1")
    assert zen3.uarch == "znver3" and (zen3.family, zen3.model, zen3.stepping) == (25, 1, 1)
    assert zen3.microcode == "0xa0011d1" and zen3.hypervisor and zen3.kernel == "6.1"
    assert zen3.isa == ("sse4_2", "avx", "avx2", "fma", "bmi2")  # no avx512
    assert parse_cpuinfo(SKYLAKE_CPUINFO).uarch == "skylake-avx512"
    assert uarch_name("AuthenticAMD", 25, 17) == "znver4"
    assert uarch_name("AuthenticAMD", 27, 2) == "amd-27-2"  # unknown: vendor-family-model


def test_identity_recorded_in_sidecar_and_session(tmp_path: Path) -> None:
    from envs.groundtruth.measure.cpu import cpu_identity

    out = tmp_path / "id.csv"
    measure_blocks([ADD_CHAIN], out, MeasureConfig(runs=3, samples=8), progress=None)
    meta = json.loads((tmp_path / "id.json").read_text())
    here = cpu_identity()
    assert meta["uarch"] == here.uarch and meta["cpu"]["uarch"] == here.uarch
    for key in ("vendor", "family", "model", "stepping", "microcode", "isa", "kernel"):
        assert key in meta["cpu"]
    sess = meta["sessions"][-1]
    assert sess["cpu"] == meta["cpu"]
    assert 500 < sess["core_clock_mhz"] < 10000  # calibrated core clock, MHz
    assert isinstance(sess["contention_retries"], int)


def test_appending_from_another_cpu_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "mix.csv"
    measure_blocks([ADD_CHAIN], out, MeasureConfig(runs=3, samples=8), progress=None)
    fake = tmp_path / "cpuinfo"
    fake.write_text(SKYLAKE_CPUINFO)
    monkeypatch.setenv("TUNEBENCH_FAKE_CPUINFO", str(fake))
    with pytest.raises(UserError) as exc:
        measure_blocks([ADD_CHAIN, IMUL_CHAIN], out, MeasureConfig(runs=3), progress=None)
    msg = str(exc.value)
    assert "refusing to add timings" in msg and "skylake-avx512" in msg and "\n" not in msg
    assert len(read_rows(out)) == 1  # nothing appended


def test_contended_helper_line_makes_the_block_noisy() -> None:
    cfg = MeasureConfig(runs=3)
    ok = ["ok", "100.0", "0.70", "0.70", "1000", "1", "90000", "160000", "50", "1.0060", "2"]
    r = runner.summarize(ADD_CHAIN, [ok, ok, ["contended", "1.4000", "0"]], cfg)
    assert r.status == "noisy" and r.detail == "contended" and r.runs == 2
    r = runner.summarize(ADD_CHAIN, [ok, ok, ok], cfg)
    assert r.status == "ok" and r.contention_retries == 6 and r.cycles_per_100 == 100.0


# ---------------------------------------------------------------- self-check (issue 14)


def _bench(**kw: object) -> selfcheck.Bench:
    base: dict[str, object] = dict(
        name="b", kind="latency", asm=("add rax, rax",), hex=ADD_CHAIN,
        expected={"znver4": 1.0}, tolerance=0.03, source="test",
    )  # fmt: skip
    base.update(kw)
    return selfcheck.Bench(**base)  # type: ignore[arg-type]


def test_selfcheck_suite_is_complete_and_sourced() -> None:
    suite = selfcheck.load_suite()
    checked = [b for b in suite if b.kind != "fma-probe"]
    assert len(checked) >= 20
    kinds = {b.kind for b in checked}
    for k in ("latency", "throughput", "load", "store", "store-forward", "zero-idiom"):
        assert k in kinds
    assert "move-elimination" in kinds and any("div" in b.name for b in checked)
    assert any("fma256" in b.name and b.kind == "latency" for b in checked)
    assert any(b.canary for b in suite)
    for b in suite:
        assert b.source and b.hex and b.asm
        for uarch in b.expected:
            assert uarch in ("znver3", "znver4")
    assert sum(1 for b in checked if "znver3" in b.expected) >= 20
    assert sum(1 for b in checked if "znver4" in b.expected) >= 20


@pytest.mark.skipif(not shutil.which("llvm-mc-22"), reason="llvm-mc-22 not installed")
def test_selfcheck_hex_is_the_asm() -> None:
    """Every bench's machine code is what llvm-mc assembles from its asm lines."""
    for b in selfcheck.load_suite():
        out = subprocess.run(
            ["llvm-mc-22", "-x86-asm-syntax=intel", "-show-encoding"],
            input="\n".join(b.asm) + "\n",
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        enc = "".join(
            line.split("encoding: [")[1].split("]")[0].replace("0x", "").replace(",", "")
            for line in out.splitlines()
            if "encoding: [" in line
        )
        assert enc == b.hex, b.name


def test_selfcheck_suite_errors(tmp_path: Path) -> None:
    cases = {
        "empty.toml": "",
        "kind.toml": '[[bench]]\nname="a"\nkind="magic"\nhex="4801c0"\nsource="s"\n',
        "nohex.toml": '[[bench]]\nname="a"\nkind="latency"\nsource="s"\n',
        "badexp.toml": '[[bench]]\nname="a"\nkind="latency"\nhex="4801c0"\nsource="s"\n'
        "expected = { znver4 = -1 }\n",
        "dup.toml": '[[bench]]\nname="a"\nkind="latency"\nhex="4801c0"\nsource="s"\n' * 2,
        "syntax.toml": "[[bench]\n",
    }
    for name, text in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(UserError) as exc:
            selfcheck.load_suite(p)
        assert "\n" not in str(exc.value), name


def test_selfcheck_compare_and_warnings() -> None:
    from envs.groundtruth.measure.runner import BlockResult

    b = _bench()
    res = BlockResult(ADD_CHAIN, 102.0, 0.001, 5, "ok")
    row = selfcheck.compare(b, "znver4", res)
    assert row.status == "ok" and row.measured == pytest.approx(1.02)
    assert row.rel_error == pytest.approx(0.02)
    assert selfcheck.compare(b, "znver4", BlockResult(ADD_CHAIN, 104.0, 0, 5, "ok")).status == "off"
    assert selfcheck.compare(b, "znver3", res).status == "unchecked"
    noisy = BlockResult(ADD_CHAIN, 110.0, 0.2, 5, "noisy", "spread")
    assert selfcheck.compare(b, "znver4", noisy).status == "failed"
    assert selfcheck.compare(b, "znver4", None).status == "skipped"
    canary = _bench(name="c", canary=True)
    rows = [selfcheck.compare(canary, "znver4", BlockResult(ADD_CHAIN, 100.0, 0.04, 5, "ok"))]
    warn = selfcheck.contention_warnings(rows, (0.70, 0.73), (0.70, 0.75), 40, 100)
    assert len(warn) == 4 and all("contended" in w for w in warn)
    assert "varied by 4.0%" in warn[0] and "0.7000 -> 0.7300" in warn[1]
    assert "40 re-runs over 100 runs" in warn[3]
    # re-runs can outnumber runs (one run re-run several times): stated as counts
    assert (
        "227 re-runs over 170 runs"
        in selfcheck.contention_warnings(rows, (0.7, 0.7), (0.7, 0.7), 227, 170)[-1]
    )
    quiet = [selfcheck.compare(canary, "znver4", BlockResult(ADD_CHAIN, 100.2, 0.003, 5, "ok"))]
    assert selfcheck.contention_warnings(quiet, (0.70, 0.701), (0.70, 0.705), 3, 100) == []


def test_self_check_measures_chains_on_this_cpu(tmp_path: Path) -> None:
    """A three-bench suite on the real CPU: chains of known latency come out right."""
    suite = [
        _bench(name="add", expected={"x": 1.0}),
        _bench(name="imul", hex=IMUL_CHAIN, expected={"x": 3.0}),
        _bench(name="canary", hex="4801c04801db4801c94801d2", expected={"x": 1.0}, canary=True),
        _bench(name="zmm", requires="no-such-isa", expected={"x": 1.0}),
    ]
    # A contended run (another hardware thread kept sharing the core through every retry)
    # gives no value by design; CI's shared 2-core machines hit this. Re-run the check a few
    # times, and skip, saying why, only if the machine stayed contended throughout.
    for _attempt in range(4):
        report = selfcheck.run_self_check(suite, MeasureConfig(runs=3, samples=32), uarch="x")
        by = {r.bench.name: r for r in report.rows}
        contended = [
            n for n in ("add", "imul") if by[n].status == "failed" and "contended" in by[n].detail
        ]
        if not contended:
            break
    else:
        pytest.skip(f"machine contended through 4 self-checks ({', '.join(contended)})")
    assert by["add"].measured == pytest.approx(1.0, rel=0.03)
    assert by["imul"].measured == pytest.approx(3.0, rel=0.03)
    assert by["zmm"].status == "skipped"
    text = selfcheck.format_report(report)
    assert "imul" in text and "checked benches within tolerance" in text


def test_out_names_the_microarchitecture(tmp_path: Path) -> None:
    import argparse

    from envs.groundtruth.measure import cli
    from envs.groundtruth.measure.cpu import cpu_identity

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = str(tmp_path / "bhive_{uarch}.csv")
    args = parser.parse_args(["--hex", ADD_CHAIN, "--out", out, "--runs", "3", "--quiet"])
    assert cli.main(args) == 0
    assert (tmp_path / f"bhive_{cpu_identity().uarch}.csv").is_file()
    with pytest.raises(UserError, match="--out is required"):
        cli.main(parser.parse_args(["--hex", ADD_CHAIN]))
