#!/usr/bin/env python3
"""Processing step: split the raw CSV 80/20 into train and test sets.

Input  /opt/ml/processing/input/raw/  every *.csv in it (same header), or a
       single file mounted there; $WHARF_INPUT_RAW (a file or a folder) wins.
Output /opt/ml/processing/output/train/train.csv
       /opt/ml/processing/output/test/test.csv
       ($WHARF_OUTPUT_TRAIN / $WHARF_OUTPUT_TEST, folders, win when set.)
The split is a seeded shuffle: the same input gives the same files.
"""
import csv
import glob
import os
import random
import sys

SEED = 42
TEST_FRACTION = 0.2


def csv_files(source):
    if os.path.isfile(source):
        return [source]
    files = sorted(glob.glob(os.path.join(source, "**", "*.csv"), recursive=True))
    if not files:
        sys.exit(f"prepare: no *.csv in {source}")
    return files


def read_rows(files):
    header, rows = None, []
    for path in files:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            head = next(reader, None)
            if head is None:
                continue
            if header is None:
                header = head
            elif head != header:
                sys.exit(f"prepare: {path} has header {head}, expected {header}")
            rows.extend(r for r in reader if r)
    if header is None or not rows:
        sys.exit(f"prepare: no rows in {files}")
    return header, rows


def write(folder, name, header, rows):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def main():
    source = os.environ.get("WHARF_INPUT_RAW") or "/opt/ml/processing/input/raw"
    files = csv_files(source)
    header, rows = read_rows(files)
    order = list(range(len(rows)))
    random.Random(SEED).shuffle(order)
    n_test = max(1, round(len(rows) * TEST_FRACTION))
    test = [rows[i] for i in sorted(order[:n_test])]
    train = [rows[i] for i in sorted(order[n_test:])]
    train_path = write(os.environ.get("WHARF_OUTPUT_TRAIN") or "/opt/ml/processing/output/train", "train.csv", header, train)
    test_path = write(os.environ.get("WHARF_OUTPUT_TEST") or "/opt/ml/processing/output/test", "test.csv", header, test)
    print(f"prepare: read {len(rows)} rows from {len(files)} file(s) in {source}")
    print(f"prepare: wrote {len(train)} rows to {train_path} and {len(test)} rows to {test_path}")


if __name__ == "__main__":
    main()
