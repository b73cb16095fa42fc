#!/usr/bin/env python3
"""Writes churn.csv beside this file: a deterministic synthetic binary
classification set (600 rows, numeric features f0..f5, a 0/1 `label`).

The label depends on f0..f3 (linearly, plus one interaction) and on noise;
f4 and f5 are noise, so a forest reaches an AUC of about 0.85-0.9 on a
held-out fifth and not 1.0. Standard library only; the same bytes on every
run and every machine (`python3 generate.py && git diff --exit-code`).
"""
import math
import os
import random

ROWS = 600
SEED = 20261125


def main():
    rng = random.Random(SEED)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "churn.csv")
    with open(path, "w", newline="\n") as f:
        f.write("f0,f1,f2,f3,f4,f5,label\n")
        for _ in range(ROWS):
            x = [rng.gauss(0.0, 1.0) for _ in range(6)]
            score = 1.4 * x[0] - 1.1 * x[1] + 0.8 * x[2] * x[3] + 0.5 * x[3] + rng.gauss(0.0, 0.9)
            label = 1 if 1.0 / (1.0 + math.exp(-score)) > 0.5 else 0
            f.write(",".join(f"{v:.3f}" for v in x) + f",{label}\n")
    print(f"wrote {ROWS} rows to {path}")


if __name__ == "__main__":
    main()
