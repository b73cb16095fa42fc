#!/usr/bin/env bash
# Runs the parse+compile fuzzer, seeded with every pipeline the repo has.
# Usage: fuzz/run.sh [SECONDS]   (default 60). Needs `cargo install cargo-fuzz`.
# cargo-fuzz wants nightly for its sanitizers; RUSTC_BOOTSTRAP lets the stable
# toolchain accept those flags. Crashes are written to fuzz/artifacts/compile/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
mkdir -p corpus/compile
export RUSTC_BOOTSTRAP=1
exec cargo fuzz run compile corpus/compile ../pipelines ../stdlib ../tests/diagnostics ../tests/broken \
  -- -max_total_time="$seconds" -max_len=8192
