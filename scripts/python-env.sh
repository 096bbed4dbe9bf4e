#!/usr/bin/env bash
# The private Python environment of the talk's Python servers and clients: a virtual
# environment in .venv-python/ under the project (ignored by git), with the exact versions
# of external/python/requirements.txt. iobench's `{python}` placeholder names its
# interpreter, .venv-python/bin/python.
#
# Usage: scripts/python-env.sh
#   Makes the environment, or remakes it when the requirements changed since it was made
#   (a stamp in .venv-python/ holds their hash); when it is up to date it does nothing.
#   Progress goes to stderr; the one line on stdout is the interpreter's path, so
#   `PY=$(scripts/python-env.sh)` works.
#
# The interpreter it is built from: IOBENCH_PYTHON_BASE if set, else python3 on PATH; it
# must be Python >= 3.9 with the venv module (ensurepip). pip needs PyPI (or a wheel folder
# in PIP_FIND_LINKS).
#
# Exit status: 0 ready, 3 unavailable (no suitable Python, or pip could not install; the
# message says what to install), anything else a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$PWD/.venv-python"
REQS="$PWD/external/python/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PY="$VENV/bin/python"

# "unavailable": says what is missing and how to get it, then exits 3.
unavailable() {
  echo "error: $1" >&2
  echo "  to fix: $2" >&2
  echo "  then:   scripts/python-env.sh" >&2
  exit 3
}

sudo_prefix() { [[ $(id -u) -eq 0 ]] || echo "sudo "; }

base="${IOBENCH_PYTHON_BASE:-}"
if [[ -z "$base" ]]; then
  base=$(command -v python3 || true)
  [[ -n "$base" ]] ||
    unavailable "python3 is not installed" "$(sudo_prefix)apt-get install -y python3 python3-venv"
elif ! base=$(command -v "$base"); then
  unavailable "IOBENCH_PYTHON_BASE=${IOBENCH_PYTHON_BASE} is not an interpreter" \
    "point IOBENCH_PYTHON_BASE at a Python >= 3.9, or unset it to use python3"
fi

# The stamp: the requirements' hash and the interpreter the environment was built from.
want="$(sha256sum "$REQS" | cut -d' ' -f1) $base"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && "$PY" -c '' 2>/dev/null; then
  echo "$PY"
  exit 0
fi

version=$("$base" --version 2>&1 || true)
"$base" -c 'import sys; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1 ||
  unavailable "$base is ${version:-not runnable}; Python >= 3.9 is needed" \
    "$(sudo_prefix)apt-get install -y python3 python3-venv (or set IOBENCH_PYTHON_BASE to a newer python)"
# Debian's python3 lacks ensurepip (so venv cannot make one) unless python3-venv is installed.
"$base" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
  unavailable "$base has no venv module (ensurepip)" \
    "$(sudo_prefix)apt-get install -y python3-venv (or python3.X-venv for your version)"

echo "making $VENV from $base ($version)" >&2
# Made afresh: a half-made or stale environment is removed first; the stamp is written last,
# so an interrupted run is redone next time.
rm -rf "$VENV"
"$base" -m venv "$VENV" >&2 ||
  unavailable "$base -m venv failed" "$(sudo_prefix)apt-get install -y python3-venv"

log="$VENV/pip-install.log"
if ! "$PY" -m pip install --disable-pip-version-check --no-input -q -r "$REQS" >"$log" 2>&1; then
  tail -n 15 "$log" >&2
  rm -f "$STAMP"
  unavailable "pip could not install external/python/requirements.txt (log: $log)" \
    "give pip access to PyPI (network or a proxy) or put the wheels in a folder named by PIP_FIND_LINKS; a package built from source (no wheel for this Python) also needs $(sudo_prefix)apt-get install -y build-essential python3-dev libpq-dev"
fi
"$PY" -m pip check >&2 ||
  unavailable "the installed packages' dependencies do not agree" \
    "fix the pins in external/python/requirements.txt"

echo "$want" >"$STAMP"
echo "$PY"
