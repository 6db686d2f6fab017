"""Hash of the code behind a registered agent or task, for trial fingerprints.

A finished trial is skipped on resume only if its fingerprint matches; the fingerprint
covers the trial's spec and the source of the package that defines its agent and the
package that defines its task (every ``.py``, ``.c``, ``.cpp``, ``.toml``, ``.json``,
``.gz`` and ``.csv`` file in the folder of the module the registry names, and below it:
code, tables and shipped data), so editing an agent's or a task family's code or data
re-runs its trials. Code outside that folder (the harness,
shared helpers of another package) is not covered: bump the package if it matters.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache
from pathlib import Path

_SUFFIXES = (".py", ".c", ".cpp", ".toml", ".json", ".gz", ".csv")


@cache
def package_hash(module_name: str) -> str:
    """sha256 (16 hex chars) of the files of ``module_name``'s folder ("" if unknown)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return ""
    if spec is None or spec.origin is None:
        return ""
    folder = Path(spec.origin).resolve().parent
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.name.endswith(_SUFFIXES):
            h.update(str(path.relative_to(folder)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def registered_code_hash(target: str) -> str:
    """Hash for a registry target ``"module:attr"``."""
    return package_hash(target.partition(":")[0])
