#!/usr/bin/env bash
# Runs every test of iobench: formatting, lints, unit and integration tests, and a build of
# the benches. Later workloads add the services they need here (scripts/services.sh).
#
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust from https://rustup.rs" >&2
  exit 1
fi

step() { printf '\n== %s\n' "$*"; }

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
cargo test --locked --all-targets "$@" -- --test-threads=2

step "cargo bench --no-run"
cargo bench --locked --no-run

echo
echo "all tests passed"
