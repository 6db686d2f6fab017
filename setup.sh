#!/usr/bin/env bash
# Set up tunebench on Debian 12 (Python 3.11): system tools, a .venv, the package.
# Safe to run again: each step checks what is already there and skips it.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. System packages: llvm-mca / llvm-mc from LLVM 14; LLVM 22, clang 22 and csmith for
#    the inlining task; a C compiler for the measurement helper; Python's venv module.
need_apt=()
command -v llvm-mca-14 >/dev/null 2>&1 || need_apt+=(llvm-14)
command -v opt-22 >/dev/null 2>&1 || need_apt+=(llvm-22)
command -v clang-22 >/dev/null 2>&1 || need_apt+=(clang-22)
command -v csmith >/dev/null 2>&1 || need_apt+=(csmith)
[ -f /usr/include/csmith/csmith.h ] || need_apt+=(libcsmith-dev)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_apt[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 2. The virtual environment.
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "setup: error: Python >= 3.11 needed, found $("$PYTHON" --version)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)

# 3. torch: pinned to 2.13.0, the CPU build (an unpinned torch pulls a multi-GB CUDA build).
if ! .venv/bin/python -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; then
  say "installing torch==2.13.0 (CPU build)"
  if ! "${PIP[@]}" install "torch==2.13.0" >.venv/pip-torch.log 2>&1; then
    grep -v "^WARNING: Location" .venv/pip-torch.log | tail -n 20 >&2
    echo "setup: error: installing torch failed (full log: .venv/pip-torch.log)" >&2
    exit 1
  fi
fi

# 4. tunebench itself (editable) with its dependencies; skipped when setup.cfg is unchanged.
stamp=.venv/.tunebench-installed
want=$(sha256sum setup.cfg pyproject.toml setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c 'import harness' 2>/dev/null; then
  say "installing tunebench and its dependencies"
  log=.venv/pip-install.log
  if ! "${PIP[@]}" install -e ".[dev,ray]" >"$log" 2>&1 \
      || ! .venv/bin/python -c 'import harness, optuna, opentuner, gymnasium, stable_baselines3'; then
    grep -v "^WARNING: Location" "$log" | tail -n 20 >&2
    echo "setup: error: installing tunebench failed (full log: $log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
say "ready: $(.venv/bin/tunebench --help >/dev/null && echo 'tunebench command installed')"
