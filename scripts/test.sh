#!/usr/bin/env bash
# Runs every test of iobench: formatting, lints, unit and integration tests, and a smoke
# run of the benches. Installs what the tests need when it is missing (wrk; PostgreSQL and Redis
# through scripts/services.sh), checks that scripts/services.sh works from a checkout other
# users cannot enter (scripts/services-check.sh), starts the private database servers, and
# stops them at the end, also when a step fails.
#
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust from https://rustup.rs" >&2
  exit 1
fi

step() { printf '\n== %s\n' "$*"; }

# Debian packages the tests use: wrk (the independent load generator of http-serve).
need_packages=()
command -v wrk >/dev/null 2>&1 || need_packages+=(wrk)
if ((${#need_packages[@]})); then
  step "installing ${need_packages[*]}"
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
  else
    echo "error: the tests need ${need_packages[*]}; install it (e.g. apt-get install ${need_packages[*]})" >&2
    exit 1
  fi
fi

step "scripts/services-check.sh"
# services.sh from a copy in a mode-700 folder (as under /root), on ports of its own (54339,
# 63809): up, status, down, nothing left behind. It cleans up after itself, also on failure.
scripts/services-check.sh

step "scripts/python-env.sh"
# The talk's Python stacks (external/python/) in a private virtual environment, .venv-python/.
# Exit 3 means Python or its packages cannot be had here: the Python tests then skip with
# the reason (on CI, where $CI is set, they fail instead).
python_env=0
scripts/python-env.sh || python_env=$?
case $python_env in
  0) ;;
  3) echo "the Python environment is unavailable; the Python models' tests will say so" ;;
  *) echo "error: scripts/python-env.sh failed ($python_env)" >&2; exit 1 ;;
esac

step "scripts/services.sh up"
scripts/services.sh up
trap 'echo; scripts/services.sh down' EXIT

step "cargo fmt --check"
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all -- --check
else
  echo "rustfmt not installed; skipping (rustup component add rustfmt)"
fi

step "cargo clippy"
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --all-targets --locked -- -D warnings
else
  echo "clippy not installed; skipping (rustup component add clippy)"
fi

step "cargo test"
# The integration tests start many threads and processes of their own; two test binaries
# at a time is what a 2-core CI machine bears without starving the timing-sensitive ones.
# (The benches run below, through cargo bench: criterion takes no --test-threads.)
cargo test --locked --lib --bins --tests "$@" -- --test-threads=2

if [[ -x .venv-python/bin/python ]]; then
  step "python -m unittest (external/python/tests)"
  # The worker protocol as the Python worker speaks it: every frame parses, on every model.
  IOBENCH_BIN="${CARGO_TARGET_DIR:-target}/debug/iobench" \
    .venv-python/bin/python -m unittest discover -s external/python/tests
fi

step "cargo bench -- --test"
# Builds every bench and runs each benchmark once (criterion's smoke mode): the models
# bench runs one op of every model on every workload against the embedded targets.
cargo bench --locked -- --test

echo
echo "all tests passed"
