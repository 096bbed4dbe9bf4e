#!/usr/bin/env bash
# Performance regression check of the working tree against a base revision, for CI on
# shared runners: builds the base in a git worktree and the working tree (release), runs
# scenarios/ci.toml through `iobench ab` (both builds' trials interleaved on this machine, so
# both see the same noise), prints the Markdown verdicts (also appended to
# $GITHUB_STEP_SUMMARY when set) and exits like `iobench compare`: 0 the gate passed,
# 3 it failed (a regression, a failed cell, an error-rate rise), 2 bad input.
#
# Usage: scripts/ci-perf-check.sh [BASE_REV]   (default: origin/main, else main, else HEAD)
# Environment: CI_PERF_TRIALS overrides the trials per cell.
set -euo pipefail
cd "$(dirname "$0")/.."

base="${1:-}"
if [[ -z "$base" ]]; then
  for rev in origin/main main HEAD; do
    if git rev-parse --verify -q "$rev^{commit}" >/dev/null; then base=$rev; break; fi
  done
fi
git rev-parse --verify -q "$base^{commit}" >/dev/null || { echo "error: unknown revision $base" >&2; exit 2; }

work=$(mktemp -d)
tree="$work/base"
cleanup() { git worktree remove --force "$tree" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

started=$(date +%s)
echo "== building base $base ($(git rev-parse --short "$base"))"
git worktree add --detach "$tree" "$base" >/dev/null
# One target folder for both builds: dependencies compile once.
export CARGO_TARGET_DIR="$PWD/target"
(cd "$tree" && cargo build --release --locked --quiet)
cp target/release/iobench "$work/iobench-base"
echo "== building the working tree"
cargo build --release --locked --quiet
cp target/release/iobench "$work/iobench-new"
built=$(date +%s)

echo "== iobench ab (base = A, working tree = B)"
trials=()
[[ -n "${CI_PERF_TRIALS:-}" ]] && trials=(--trials "$CI_PERF_TRIALS")
set +e
"$work/iobench-new" ab --a "$work/iobench-base" --b "$work/iobench-new" scenarios/ci.toml \
  --out "$work/ab" "${trials[@]}"
code=$?
set -e
echo
echo "builds: $((built - started)) s, A/B run: $(($(date +%s) - built)) s"
exit $code
