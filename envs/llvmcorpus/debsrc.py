"""Debian source packages: the ``deb-src`` entry apt needs, and ``apt-get source``.

``ensure_deb_src()`` makes ``apt-get source`` work on a Debian machine whose apt
sources list only binary (``deb``) entries: it copies every enabled ``deb`` entry
for this release's suites (``bookworm``, ``bookworm-updates``, ``bookworm-security``
on Debian 12) into one ``deb-src`` file, ``tunebench-deb-src.sources``, then runs
``apt-get update``. It does nothing when a ``deb-src`` entry for this release is
already there, so it is safe to call on every build. Third-party repositories are
left out (many publish no source indexes, which would make ``apt-get update`` fail).

``download(name, dest)`` runs ``apt-get source`` (no root needed) into ``dest``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError

APT_DIR = Path("/etc/apt")
OUR_FILE = "tunebench-deb-src.sources"


@dataclass(frozen=True)
class AptEntry:
    """One apt source: types ('deb', 'deb-src'), URIs, suites, components, options."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str | None = None


def release_codename(os_release: Path = Path("/etc/os-release")) -> str:
    """This machine's Debian codename (``VERSION_CODENAME``), e.g. ``bookworm``."""
    try:
        text = os_release.read_text()
    except OSError as exc:
        raise UserError(f"cannot read {os_release} to find the Debian release: {exc}") from exc
    match = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", text, re.M)
    if not match:
        raise UserError(f"{os_release} names no VERSION_CODENAME: the corpus needs Debian")
    return match.group(1)


def _parse_deb822(text: str) -> list[AptEntry]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key:  # continuation line (e.g. an inline key)
                fields[key] += "\n" + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if not fields.get("types") or fields.get("enabled", "yes").lower() == "no":
            continue
        entries.append(
            AptEntry(
                types=tuple(fields["types"].split()),
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "").split()),
                signed_by=fields.get("signed-by"),
            )
        )
    return entries


def _parse_one_line(text: str) -> list[AptEntry]:
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.match(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not match:
            continue
        kind, options, uri, suite, comps = match.groups()
        signed = re.search(r"signed-by=(\S+)", options or "")
        entries.append(
            AptEntry(
                types=(kind,),
                uris=(uri,),
                suites=(suite,),
                components=tuple(comps.split()),
                signed_by=signed.group(1) if signed else None,
            )
        )
    return entries


def apt_entries(apt_dir: Path = APT_DIR) -> list[AptEntry]:
    """Enabled entries apt reads: ``sources.list`` and ``sources.list.d/*.list|*.sources``."""
    files = [apt_dir / "sources.list"]
    d = apt_dir / "sources.list.d"
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in (".list", ".sources"))
    entries: list[AptEntry] = []
    for f in files:
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        entries += _parse_deb822(text) if f.suffix == ".sources" else _parse_one_line(text)
    return entries


def _ours(suite: str, codename: str) -> bool:
    return suite == codename or suite.startswith(codename + "-") or suite.startswith(codename + "/")


def deb_src_stanzas(entries: list[AptEntry], codename: str) -> str | None:
    """The deb822 text to add, or None when a ``deb-src`` for ``codename`` exists already.

    Raises UserError when no ``deb`` entry for ``codename`` exists to copy.
    """
    if any("deb-src" in e.types and any(_ours(s, codename) for s in e.suites) for e in entries):
        return None
    stanzas = []
    for e in entries:
        suites = [s for s in e.suites if _ours(s, codename)]
        if "deb" not in e.types or not suites or not e.uris:
            continue
        lines = [
            "Types: deb-src",
            f"URIs: {' '.join(e.uris)}",
            f"Suites: {' '.join(suites)}",
            f"Components: {' '.join(e.components)}",
        ]
        if e.signed_by and "\n" not in e.signed_by:
            lines.append(f"Signed-By: {e.signed_by}")
        stanzas.append("\n".join(lines))
    if not stanzas:
        raise UserError(
            f"apt lists no 'deb' entry for Debian {codename} to copy as 'deb-src': "
            "add a deb-src line for your mirror to /etc/apt/sources.list"
        )
    header = "# Added by tunebench (envs/llvmcorpus): source indexes for 'apt-get source'.\n"
    return header + "\n\n".join(stanzas) + "\n"


def _as_root(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return cmd
    if shutil.which("sudo") is None:
        raise UserError(f"'{' '.join(cmd)}' needs root and sudo is not installed")
    return ["sudo", *cmd]


def ensure_deb_src(apt_dir: Path = APT_DIR, *, log=print) -> bool:
    """Add the ``deb-src`` entry and run ``apt-get update`` if needed; True if it did.

    Idempotent: returns False without touching anything when apt already has a
    ``deb-src`` entry for this release. ``log`` receives one line per action taken.
    """
    if shutil.which("apt-get") is None:
        raise UserError("the corpus downloads Debian source packages and needs apt-get")
    codename = release_codename()
    text = deb_src_stanzas(apt_entries(apt_dir), codename)
    if text is None:
        return False
    target = apt_dir / "sources.list.d" / OUR_FILE
    log(f"corpus: adding deb-src entries for Debian {codename} to {target} (for apt-get source)")
    tmp = f"/tmp/{OUR_FILE}.{os.getpid()}"
    Path(tmp).write_text(text)
    for cmd in (["install", "-m", "0644", tmp, str(target)], ["apt-get", "update", "-qq"]):
        if cmd[0] == "apt-get":
            log("corpus: running apt-get update")
        run = subprocess.run(_as_root(cmd), capture_output=True, text=True, check=False)
        if run.returncode != 0:
            first = (run.stderr or run.stdout).strip().splitlines()[:1]
            raise UserError(f"'{' '.join(cmd)}' failed: {first[0] if first else run.returncode}")
    os.unlink(tmp)
    return True


def source_versions(name: str) -> list[str]:
    """Versions of source package ``name`` apt knows, newest first (``apt-cache showsrc``)."""
    run = subprocess.run(
        ["apt-cache", "showsrc", "--only-source", name], capture_output=True, text=True, check=False
    )
    versions = sorted(set(re.findall(r"^Version:\s*(\S+)", run.stdout, re.M)))
    return sorted(versions, key=functools.cmp_to_key(_compare_versions), reverse=True)


def _compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian orders versions ``a`` and ``b`` (``dpkg --compare-versions``)."""
    if a == b:
        return 0
    lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0
    return -1 if lt else 1


def download(name: str, dest: Path) -> Path:
    """``apt-get source name`` into ``dest``; returns the unpacked source tree.

    Tries the versions apt knows, newest first: some mirrors list a security update
    whose files they do not serve (404), and the release version is then used. The
    download (``.dsc``, tarballs) and the unpacked tree stay in ``dest``; a second call
    finds the tree and downloads nothing. UserError if no version can be fetched.
    """
    dest.mkdir(parents=True, exist_ok=True)
    tree = unpacked_tree(dest)
    if tree is not None:
        return tree
    ensure_deb_src(log=lambda line: print(line, file=sys.stderr))
    versions = source_versions(name)
    print(f"corpus: downloading the Debian source of {name} (apt-get source)", file=sys.stderr)
    if not versions:
        raise UserError(f"apt knows no source package {name!r} (apt-cache showsrc {name})")
    errors = []
    for version in versions:
        for leftover in dest.iterdir():  # a failed try may leave partial files
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        run = subprocess.run(
            ["apt-get", "source", "-qq", "--only-source", f"{name}={version}"],
            cwd=dest,
            capture_output=True,
            text=True,
            check=False,
        )
        tree = unpacked_tree(dest)
        if run.returncode == 0 and tree is not None:
            return tree
        lines = [ln for ln in (run.stderr or run.stdout).splitlines() if ln.startswith("E:")]
        errors.append(f"{version}: {lines[0] if lines else run.returncode}")
    raise UserError(f"apt-get source {name} failed for every version: {'; '.join(errors)}")


def unpacked_tree(dest: Path) -> Path | None:
    """The one folder ``dpkg-source -x`` made in ``dest`` (next to a ``.dsc``), or None."""
    if not any(dest.glob("*.dsc")):
        return None
    dirs = [p for p in dest.iterdir() if p.is_dir()]
    return dirs[0] if len(dirs) == 1 else None


def dsc_version(tree: Path) -> str:
    """The Debian version of the downloaded source (``Version:`` of its ``.dsc``)."""
    for dsc in sorted(tree.parent.glob("*.dsc")):
        match = re.search(r"^Version:\s*(\S+)", dsc.read_text(errors="replace"), re.M)
        if match:
            return match.group(1)
    raise UserError(f"no .dsc with a Version next to {tree}")
