#!/usr/bin/env python3
"""Processing step: score the model on the held-out test set.

Input  /opt/ml/processing/input/model/  model.pkl, or model.tar.gz holding it
                                        (as SageMaker stores a training job's model)
       /opt/ml/processing/input/test/   *.csv with a `label` column
Output /opt/ml/processing/output/metrics/metrics.json  {"accuracy": .., "auc": ..}
$WHARF_INPUT_MODEL, $WHARF_INPUT_TEST and $WHARF_OUTPUT_METRICS (folders, or a
file for the inputs) win over those paths when set.
"""
import csv
import glob
import json
import os
import pickle
import sys
import tarfile
import tempfile

LABEL = "label"


def find_model(source):
    """The pickled model in `source`: a model.pkl, or one inside a model.tar.gz."""
    if os.path.isfile(source):
        candidates = [source]
    else:
        candidates = [os.path.join(source, "model.pkl"), os.path.join(source, "model.tar.gz")]
        candidates += sorted(glob.glob(os.path.join(source, "**", "model.pkl"), recursive=True))
        candidates += sorted(glob.glob(os.path.join(source, "**", "*.tar.gz"), recursive=True))
    for path in candidates:
        if not os.path.isfile(path):
            continue
        if path.endswith(".tar.gz"):
            unpacked = tempfile.mkdtemp(prefix="model-")
            with tarfile.open(path) as tar:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 and Debian's backport
                    tar.extractall(unpacked, filter="data")
                else:
                    tar.extractall(unpacked)
            print(f"evaluate: unpacked {path}")
            return find_model(unpacked)
        return path
    sys.exit(f"evaluate: no model.pkl or model.tar.gz in {source}")


def load_test(source):
    import numpy as np

    files = [source] if os.path.isfile(source) else sorted(glob.glob(os.path.join(source, "**", "*.csv"), recursive=True))
    if not files:
        sys.exit(f"evaluate: no *.csv in {source}")
    header, rows = None, []
    for path in files:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            head = next(reader)
            header = header or head
            rows.extend(r for r in reader if r)
    data = np.array(rows, dtype=float)
    i = header.index(LABEL)
    return np.delete(data, i, axis=1), data[:, i].astype(int)


def main():
    from sklearn.metrics import accuracy_score, roc_auc_score

    model_path = find_model(os.environ.get("WHARF_INPUT_MODEL") or "/opt/ml/processing/input/model")
    with open(model_path, "rb") as f:
        model = pickle.load(f)
    x, y = load_test(os.environ.get("WHARF_INPUT_TEST") or "/opt/ml/processing/input/test")
    metrics = {
        "accuracy": round(float(accuracy_score(y, model.predict(x))), 4),
        "auc": round(float(roc_auc_score(y, model.predict_proba(x)[:, 1])), 4) if len(set(y)) > 1 else None,
        "rows": int(len(y)),
    }
    out_dir = os.environ.get("WHARF_OUTPUT_METRICS") or "/opt/ml/processing/output/metrics"
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "metrics.json")
    with open(path, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"evaluate: model {model_path}, {metrics['rows']} test rows")
    print(f"accuracy={metrics['accuracy']} auc={metrics['auc']}")
    print(f"evaluate: wrote {path}")


if __name__ == "__main__":
    main()
