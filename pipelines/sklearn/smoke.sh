#!/usr/bin/env bash
# Runs every stage of the example by hand, in Docker, the way SageMaker
# would start it (what a backend must reproduce): prepare and evaluate as
# processing jobs, `IMAGE train` with a hyperparameters.json of strings,
# `IMAGE serve` on a published port. Needs wharf-test/python:1
# (.ci/images/build.sh). Prints each stage's output; exits non-zero on the
# first thing that is not as expected.
#   pipelines/sklearn/smoke.sh [IMAGE]     (default wharf-example/sklearn:dev)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-wharf-example/sklearn:dev}
work=$(mktemp -d /tmp/wharf-sklearn-smoke.XXXXXX)
cid=""
trap '[ -z "$cid" ] || docker rm -f "$cid" >/dev/null 2>&1; rm -rf "$work"' EXIT
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

echo "== docker build -t $image $here"
docker build -q -t "$image" "$here" 2>&1 | grep -v -e 'legacy builder' -e 'buildx' -e '^ *$' || true
mkdir -p "$work"/{raw,train,test,config,model,output,metrics,tarred}
cp "$here/data/churn.csv" "$work/raw/"

echo "== prepare (processing): /opt/ml/processing/input/raw -> output/train, output/test"
docker run --rm \
    -v "$work/raw:/opt/ml/processing/input/raw:ro" \
    -v "$work/train:/opt/ml/processing/output/train" \
    -v "$work/test:/opt/ml/processing/output/test" \
    "$image" python3 /opt/program/prepare.py
if [ "$(wc -l < "$work/train/train.csv")" -ne 481 ] || [ "$(wc -l < "$work/test/test.csv")" -ne 121 ]; then
    fail "prepare: expected 480 + 120 rows and a header each"
fi

echo "== train: docker run IMAGE train"
echo '{"n_estimators": "50", "max_depth": "6"}' > "$work/config/hyperparameters.json"
docker run --rm \
    -v "$work/train:/opt/ml/input/data/train:ro" \
    -v "$work/config:/opt/ml/input/config:ro" \
    -v "$work/model:/opt/ml/model" \
    -v "$work/output:/opt/ml/output" \
    "$image" train | tee "$work/train.log"
[ -s "$work/model/model.pkl" ] || fail "train wrote no model.pkl"
grep -qE '^train_accuracy=[0-9.]+$' "$work/train.log" || fail "train printed no train_accuracy=..."

echo "== train with a bad hyperparameter: exit 1 and /opt/ml/output/failure"
echo '{"n_estimators": "many"}' > "$work/config/hyperparameters.json"
if docker run --rm -v "$work/train:/opt/ml/input/data/train:ro" -v "$work/config:/opt/ml/input/config:ro" \
    -v "$work/output:/opt/ml/output" "$image" train >/dev/null 2>&1; then
    fail "train succeeded with n_estimators=many"
fi
grep -q "does not parse" "$work/output/failure" || fail "no traceback in output/failure"

echo "== evaluate (processing), the model as SageMaker stores it: model.tar.gz"
tar -C "$work/model" -czf "$work/tarred/model.tar.gz" .
docker run --rm \
    -v "$work/tarred:/opt/ml/processing/input/model:ro" \
    -v "$work/test:/opt/ml/processing/input/test:ro" \
    -v "$work/metrics:/opt/ml/processing/output/metrics" \
    "$image" python3 /opt/program/evaluate.py
python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); assert 0.5 < m["auc"] <= 1 and 0 < m["accuracy"] <= 1, m; print("metrics.json:", m)' \
    "$work/metrics/metrics.json" || fail "metrics.json"

echo "== serve: docker run -p 127.0.0.1:0:8080 IMAGE serve"
cid=$(docker run -d -p 127.0.0.1:0:8080 -v "$work/model:/opt/ml/model:ro" "$image" serve)
port=$(docker port "$cid" 8080/tcp | head -n1 | sed 's/.*://')
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/ping" 2>/dev/null && break
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/ping" || fail "GET /ping"
answer=$(tail -n 5 "$work/test/test.csv" | cut -d, -f1-6 |
    curl -fsS -H 'Content-Type: text/csv' --data-binary @- "http://127.0.0.1:$port/invocations")
echo "predictions for the last 5 test rows: $(echo "$answer" | tr '\n' ' ')(labels $(tail -n 5 "$work/test/test.csv" | cut -d, -f7 | tr '\n' ' '))"
[ "$(echo "$answer" | grep -cE '^[01]$')" -eq 5 ] || fail "POST /invocations: expected 5 lines of 0/1, got: $answer"
docker stop -t 5 "$cid" >/dev/null
docker logs "$cid"
[ "$(docker inspect --format '{{ .State.ExitCode }}' "$cid")" = 0 ] || fail "serve did not exit 0 on SIGTERM"
echo "== smoke: all stages ok"
