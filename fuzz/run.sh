#!/usr/bin/env bash
# Runs the parse+compile fuzzer from the committed seed corpus
# (fuzz/corpus/compile/: the repo's real pipelines and hand-written edge
# cases; fuzz/seed.sh refreshes it) and the live folders it was made from.
# Usage: fuzz/run.sh [SECONDS]   (default 60). Needs `cargo install cargo-fuzz`.
# cargo-fuzz wants nightly for its sanitizers; RUSTC_BOOTSTRAP lets the stable
# toolchain accept those flags. New inputs the fuzzer finds go to fuzz/work/
# (ignored by git; the first folder is the one libFuzzer writes to), so the
# seed stays as committed. Crashes are written to fuzz/artifacts/compile/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
mkdir -p work/compile
export RUSTC_BOOTSTRAP=1
exec cargo fuzz run compile work/compile corpus/compile ../pipelines ../stdlib ../tests/diagnostics ../tests/broken \
  -- -max_total_time="$seconds" -max_len=8192
