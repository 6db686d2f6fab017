"""Which CPU a measurement ran on: identity from /proc/cpuinfo and a microarchitecture name.

Timings are only comparable on the same microarchitecture (the project's machines are
sometimes AMD Zen 3, sometimes Zen 4), so every measurement records
:func:`cpu_identity` and refuses to append to a file measured on another CPU.

The microarchitecture name uses LLVM's ``-mcpu`` spelling (``znver3``, ``znver4``,
``skylake``...), so a dataset's CPU can be matched with a simulator's CPU model. The
family/model table comes from AMD's and Intel's published family/model numbers; a CPU
not in it is named ``<vendor>-<family>-<model>`` (e.g. ``amd-25-99``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# ISA flags worth recording: they decide which instructions a block may use.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "bmi2", "avx512f", "avx512vl", "avx512bw")

# (vendor, family) -> list of (first model, last model, microarchitecture).
_UARCH_TABLE: dict[tuple[str, int], list[tuple[int, int, str]]] = {
    ("AuthenticAMD", 23): [(0x00, 0x2F, "znver1"), (0x30, 0xFF, "znver2")],
    ("AuthenticAMD", 25): [
        (0x00, 0x0F, "znver3"),
        (0x10, 0x1F, "znver4"),
        (0x20, 0x5F, "znver3"),
        (0x60, 0xAF, "znver4"),
    ],
    ("AuthenticAMD", 26): [(0x00, 0xFF, "znver5")],
    ("GenuineIntel", 6): [
        (0x3C, 0x3C, "haswell"),
        (0x3F, 0x3F, "haswell"),
        (0x45, 0x46, "haswell"),
        (0x3D, 0x3D, "broadwell"),
        (0x47, 0x47, "broadwell"),
        (0x4F, 0x4F, "broadwell"),
        (0x56, 0x56, "broadwell"),
        (0x4E, 0x4E, "skylake"),
        (0x5E, 0x5E, "skylake"),
        (0x8E, 0x8E, "skylake"),
        (0x9E, 0x9E, "skylake"),
        (0x55, 0x55, "skylake-avx512"),
        (0x6A, 0x6C, "icelake-server"),
        (0x97, 0x9A, "alderlake"),
    ],
}


@dataclass(frozen=True)
class CpuIdentity:
    """What identifies the CPU a timing came from.

    Attributes:
        vendor: ``AuthenticAMD`` / ``GenuineIntel``.
        family, model, stepping: CPUID family/model/stepping (decimal).
        microcode: microcode revision as /proc/cpuinfo prints it.
        model_name: the marketing name (``AMD EPYC`` under this VM: not enough alone).
        uarch: microarchitecture in LLVM's -mcpu spelling, or ``vendor-family-model``.
        isa: the :data:`ISA_FLAGS` this CPU has.
        kernel: ``uname -r``.
        hypervisor: whether the kernel runs under a hypervisor (the ``hypervisor`` flag).
    """

    vendor: str
    family: int
    model: int
    stepping: int
    microcode: str
    model_name: str
    uarch: str
    isa: tuple[str, ...] = field(default_factory=tuple)
    kernel: str = ""
    hypervisor: bool = False

    def key(self) -> tuple[str, int, int]:
        """What must match for timings to be pooled: vendor, family, model."""
        return (self.vendor, self.family, self.model)

    def describe(self) -> str:
        """One line, e.g. ``znver4 (AuthenticAMD family 25 model 17 stepping 1)``."""
        return (
            f"{self.uarch} ({self.vendor} family {self.family} model {self.model} "
            f"stepping {self.stepping})"
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["isa"] = list(self.isa)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CpuIdentity:
        return cls(
            vendor=str(data["vendor"]),
            family=int(data["family"]),
            model=int(data["model"]),
            stepping=int(data.get("stepping", -1)),
            microcode=str(data.get("microcode", "unknown")),
            model_name=str(data.get("model_name", "")),
            uarch=str(
                data.get("uarch") or uarch_name(data["vendor"], data["family"], data["model"])
            ),
            isa=tuple(data.get("isa", ())),
            kernel=str(data.get("kernel", "")),
            hypervisor=bool(data.get("hypervisor", False)),
        )


def uarch_name(vendor: str, family: int, model: int) -> str:
    """Microarchitecture of (vendor, family, model) in LLVM's spelling, or
    ``<short vendor>-<family>-<model>`` for a CPU the table does not know."""
    for lo, hi, name in _UARCH_TABLE.get((vendor, int(family)), []):
        if lo <= int(model) <= hi:
            return name
    short = {"AuthenticAMD": "amd", "GenuineIntel": "intel"}.get(vendor, vendor.lower() or "cpu")
    return f"{short}-{int(family)}-{int(model)}"


def parse_cpuinfo(text: str, kernel: str = "") -> CpuIdentity:
    """The identity of the first processor in a /proc/cpuinfo text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block only
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    vendor = fields.get("vendor_id", "unknown")
    family = int(fields.get("cpu family", "-1") or -1)
    model = int(fields.get("model", "-1") or -1)
    flags = set(fields.get("flags", "").split())
    return CpuIdentity(
        vendor=vendor,
        family=family,
        model=model,
        stepping=int(fields.get("stepping", "-1") or -1),
        microcode=fields.get("microcode", "unknown"),
        model_name=fields.get("model name", "unknown"),
        uarch=uarch_name(vendor, family, model),
        isa=tuple(f for f in ISA_FLAGS if f in flags),
        kernel=kernel,
        hypervisor="hypervisor" in flags,
    )


def cpu_identity(cpuinfo: str | Path = "/proc/cpuinfo") -> CpuIdentity:
    """This machine's :class:`CpuIdentity` (``TUNEBENCH_FAKE_CPUINFO`` names another
    cpuinfo file to read instead: for tests of the mismatch refusal)."""
    import os

    path = Path(os.environ.get("TUNEBENCH_FAKE_CPUINFO", str(cpuinfo)))
    try:
        text = path.read_text(errors="replace")
    except OSError:
        text = ""
    return parse_cpuinfo(text, kernel=os.uname().release)


def mismatch(recorded: dict[str, Any] | None, here: CpuIdentity) -> str | None:
    """Why timings of ``here`` must not join a file recorded on ``recorded`` (None: they may).

    A file without a recorded identity (measured before identities were kept) cannot be
    checked and is refused too: the user should measure into a new file.
    """
    if not recorded:
        return "the file records no CPU identity (measured by an older tunebench)"
    other = CpuIdentity.from_json(recorded)
    if other.key() != here.key():
        return f"it was measured on {other.describe()}, this machine is {here.describe()}"
    return None
