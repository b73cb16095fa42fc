#!/usr/bin/env python3
"""Training step, SageMaker's contract: the container runs as `IMAGE train`.

Reads   /opt/ml/input/data/train/*.csv (a header; label column `label`)
        /opt/ml/input/config/hyperparameters.json (every value a string)
Writes  /opt/ml/model/model.pkl (a pickled RandomForestClassifier)
Prints  metric lines such as `train_accuracy=0.93`
Fails   with the traceback in /opt/ml/output/failure and exit code 1.
The SM_* variables that the process backend (and SageMaker's training
toolkit) set override these paths, so the same script runs there too.
"""
import csv
import glob
import json
import os
import pickle
import sys
import traceback

PREFIX = "/opt/ml"
INPUT_DIR = os.environ.get("SM_INPUT_DIR", f"{PREFIX}/input")
CONFIG_DIR = os.environ.get("SM_INPUT_CONFIG_DIR", f"{INPUT_DIR}/config")
TRAIN_DIR = os.environ.get("SM_CHANNEL_TRAIN", f"{INPUT_DIR}/data/train")
MODEL_DIR = os.environ.get("SM_MODEL_DIR", f"{PREFIX}/model")
OUTPUT_DIR = os.environ.get("SM_OUTPUT_DIR", f"{PREFIX}/output")
LABEL = "label"

# name: (parser, default). SageMaker hands every value over as a string.
HYPERPARAMETERS = {
    "n_estimators": (int, 100),
    "max_depth": (lambda v: None if v in ("", "None", "none", "null") else int(v), None),
    "min_samples_leaf": (int, 1),
    "max_features": (lambda v: v if v in ("sqrt", "log2") else float(v) if "." in v else int(v), "sqrt"),
    "random_state": (int, 0),
}


def hyperparameters():
    path = os.path.join(CONFIG_DIR, "hyperparameters.json")
    raw = {}
    if os.path.exists(path):
        with open(path) as f:
            raw = json.load(f)
    # sagemaker_* keys belong to the SDK's framework containers, not to us.
    unknown = sorted(k for k in set(raw) - set(HYPERPARAMETERS) if not k.startswith("sagemaker_"))
    if unknown:
        print(f"train: ignoring unknown hyperparameters {unknown}")
    params = {}
    for name, (parse, default) in HYPERPARAMETERS.items():
        if name not in raw:
            params[name] = default
            continue
        value = raw[name]
        # Strings per the contract; a JSON-encoded string ("\"5\"") as the SDK's
        # framework estimators write it is accepted too.
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
            value = json.loads(value)
        try:
            params[name] = parse(str(value))
        except ValueError:
            raise ValueError(f"hyperparameter {name}={value!r} does not parse") from None
    return params


def load(folder):
    import numpy as np

    files = [folder] if os.path.isfile(folder) else sorted(glob.glob(os.path.join(folder, "**", "*.csv"), recursive=True))
    if not files:
        raise FileNotFoundError(f"no *.csv in {folder}")
    header, rows = None, []
    for path in files:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            head = next(reader)
            header = header or head
            if head != header:
                raise ValueError(f"{path} has header {head}, expected {header}")
            rows.extend(r for r in reader if r)
    if LABEL not in header:
        raise ValueError(f"no `{LABEL}` column in {header}")
    data = np.array(rows, dtype=float)
    y = data[:, header.index(LABEL)].astype(int)
    x = np.delete(data, header.index(LABEL), axis=1)
    return x, y, [h for h in header if h != LABEL]


def main():
    from sklearn.ensemble import RandomForestClassifier

    params = hyperparameters()
    print("train: hyperparameters " + json.dumps(params, sort_keys=True))
    x, y, features = load(TRAIN_DIR)
    print(f"train: {len(y)} rows, features {features}")
    model = RandomForestClassifier(n_jobs=-1, **params).fit(x, y)
    print(f"train_accuracy={model.score(x, y):.4f}")
    os.makedirs(MODEL_DIR, exist_ok=True)
    path = os.path.join(MODEL_DIR, "model.pkl")
    with open(path, "wb") as f:
        pickle.dump(model, f)
    print(f"train: wrote {path}")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        trace = traceback.format_exc()
        print(trace, file=sys.stderr)
        os.makedirs(OUTPUT_DIR, exist_ok=True)
        with open(os.path.join(OUTPUT_DIR, "failure"), "w") as f:
            f.write(trace)
        sys.exit(1)
