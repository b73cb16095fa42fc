#!/usr/bin/env bash
# Refreshes the fuzz seed corpus, fuzz/corpus/compile/, from the .wharf files
# the repo holds: the examples, the standard library, the diagnostics corpus
# and the broken corpus. Each is copied under its path with `/` as `--`
# (pipelines--hello.wharf). The hand-written edge cases (edge--*.wharf) are
# kept. Commit the result; fuzz/run.sh starts from it.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=fuzz/corpus/compile
mkdir -p "$corpus"
find "$corpus" -type f ! -name 'edge--*' -delete
for dir in pipelines stdlib tests/diagnostics tests/broken; do
  find "$dir" -type f -name '*.wharf' | sort | while read -r file; do
    cp "$file" "$corpus/${file//\//--}"
  done
done
ls "$corpus" | wc -l
