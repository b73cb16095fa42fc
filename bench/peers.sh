#!/usr/bin/env bash
# The peer harness (../shared/bench-peers/run.sh, or $HARNESS) with wharf as
# its `custom` tool, beside the shell floor, luigi and snakemake: chain, fan
# and diamond of N distinct steps, -j 2, median of RUNS runs, interleaved.
# Prints the harness's table (overhead per step above the floor).
#
# Peers: installed once as the harness's header says (PyPI):
#   mkdir -p /tmp/peers && python3 -m venv /tmp/peers/venv &&
#   /tmp/peers/venv/bin/pip install snakemake luigi
#
# Usage: bench/peers.sh [--mode export|direct]   (see bench/peers/dag_to_wharf.py)
# Knobs passed through: NS [100 1000], RUNS [3], WORKLOADS, TOOLS
#   [raw luigi snakemake custom], PEERS [/tmp/peers], WORK, RESULTS, WHARF
#   (the binary; default: target/release/wharf, built if missing).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
MODE=export
if [ "${1:-}" = --mode ]; then MODE=$2; fi
HARNESS=${HARNESS:-$ROOT/../shared/bench-peers/run.sh}
[ -f "$HARNESS" ] || HARNESS=/work/shared/bench-peers/run.sh
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WHARF=${WHARF:-$TARGET/release/wharf}
if [ ! -x "$WHARF" ]; then (cd "$ROOT" && cargo build --release -q); fi
PEERS=${PEERS:-/tmp/peers}
export PEERS
export WORK=${WORK:-$PEERS/work-wharf}
# A fresh table per run of this script, unless RESULTS is given.
export RESULTS=${RESULTS:-$WORK/results-$(date +%Y%m%d-%H%M%S).tsv}
mkdir -p "$WORK"
export TOOLS=${TOOLS:-"raw luigi snakemake custom"}
export NS=${NS:-"100 1000"} RUNS=${RUNS:-3}
export CUSTOM_NAME=wharf-$MODE
export CUSTOM_VERSION=$(cd "$ROOT" && git rev-parse --short HEAD)
export CUSTOM_GEN="python3 $HERE/peers/dag_to_wharf.py --mode $MODE dag.json > pipeline.wharf"
export CUSTOM_RUN="$WHARF run pipeline.wharf -j 2"
export CUSTOM_NOOP=1
echo "harness $HARNESS; wharf $WHARF ($CUSTOM_VERSION, $MODE); results in $RESULTS" >&2
bash "$HARNESS"
