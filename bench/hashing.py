#!/usr/bin/env python3
"""Input hashing benchmark: what an unchanged data set costs `wharf plan` and
an all-cached `wharf run` (the stat cache), and what hashing it costs when it
must be read, beside `b3sum` of the same files and a `stat` of every file
(`find -printf`), measured in the same run.

Two data sets, each the input folder of a one-step pipeline on the process
backend: BIG (default 2,000 files of 1 MiB, 2 GiB) and MANY (default
100,000 files of 512 bytes). For each:

  first run      `wharf run`: the step runs (checked: `succeeded`)
  plan cold      `wharf plan` with the stat cache emptied (every file read)
  plan warm      `wharf plan` again (median of 3): a `stat` per file
  run cached     `wharf run` (median of 3; checked: `cached`)
  plan touched   after `touch` of one file: that file is read again; the
                 key must not change
  plan edited    after an edit of one file: the key must change
  b3sum          `b3sum` of every file (all cores), the floor for `plan cold`
  stat floor     `find DATA -printf '%i %s %T@ %C@'`, the floor for `plan warm`

Wall time and CPU time (user + system, of the command and its children)
are printed; wall figures are noise on a loaded machine, CPU time less so.
The data is written, then left 2.5 s to settle (a file younger than 2 s is
never entered in the stat cache: see docs/runtime.md), and deleted at the end.

Usage: bench/hashing.py [--wharf target/release/wharf] [--b3sum b3sum]
                        [--big 2000x1048576] [--many 100000x512] [--tiny]
Goals (issue 12): plan warm and run cached < 50 ms for BIG, < 1 s for MANY;
plan cold within 1.5x of b3sum.
"""
import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

PIPELINE = """pipeline hashing {
  step read {
    command = ["sh", "-c", "ls \\"$WHARF_INPUT_DATA\\" | wc -l > \\"$WHARF_OUTPUT_OUT/count\\""]
    inputs  { data = "data" }
    outputs { out = dir() }
  }
}
target local { backend = process }
"""


def timed(argv, cwd, check=True):
    """Wall and CPU seconds of one command (CPU: its user + system time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def median3(argv, cwd):
    runs = sorted(timed(argv, cwd) for _ in range(3))
    return runs[1]


def make_data(root, count, size):
    data = os.path.join(root, "data")
    per_folder = 1000
    for i in range(count):
        sub = os.path.join(data, f"part-{i // per_folder:03d}")
        if i % per_folder == 0:
            os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i:06d}.bin"), "wb") as f:
            f.write(os.urandom(size))
    return data


def files_of(data):
    out = []
    for dirpath, _, names in os.walk(data):
        out.extend(os.path.join(dirpath, n) for n in names)
    return sorted(out)


def plan_key(wharf, project):
    _, _, out = timed([wharf, "plan", "p.wharf", "--format", "json"], project)
    view = json.loads(out)
    step = next(s for s in view["steps"] if s["name"] == "read")
    return step["decision"]["key"], step["decision"]["verdict"]


def status_of(wharf, project):
    _, _, out = timed([wharf, "show", "last", "--format", "json"], project)
    show = json.loads(out)
    return next(s["status"] for s in show["steps"] if s["step"] == "read")


def empty_stat_cache(project):
    db = sqlite3.connect(os.path.join(project, ".wharf", "state.db"))
    db.execute("DELETE FROM file_digests")
    db.commit()
    db.close()


def bench_one(label, wharf, b3sum, root, count, size):
    project = os.path.join(root, label)
    os.makedirs(project)
    with open(os.path.join(project, "p.wharf"), "w") as f:
        f.write(PIPELINE)
    data = make_data(project, count, size)
    files = files_of(data)
    time.sleep(2.5)  # past the racy window: the files may now be cached
    rows = []
    wall, cpu, _ = timed([wharf, "run", "p.wharf"], project)
    assert status_of(wharf, project) == "succeeded", "the first run must run the step"
    rows.append(("first run", wall, cpu))

    empty_stat_cache(project)
    wall, cpu, _ = timed([wharf, "plan", "p.wharf"], project)
    rows.append(("plan cold", wall, cpu))
    key, verdict = plan_key(wharf, project)
    assert verdict == "cached", f"plan says {verdict} after a run"
    rows.append(("plan warm",) + median3([wharf, "plan", "p.wharf"], project)[:2])
    rows.append(("run cached",) + median3([wharf, "run", "p.wharf"], project)[:2])
    assert status_of(wharf, project) == "cached", "an unchanged input must be cached"
    assert plan_key(wharf, project)[0] == key, "a no-op changed the key"

    # A touch: same bytes, new mtime; that file is read, the key stays.
    os.utime(files[len(files) // 2])
    time.sleep(2.5)
    wall, cpu, _ = timed([wharf, "plan", "p.wharf"], project)
    rows.append(("plan touched", wall, cpu))
    assert plan_key(wharf, project)[0] == key, "a touch changed the key"

    # An edit of the same size: the key changes.
    with open(files[len(files) // 3], "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))
    wall, cpu, _ = timed([wharf, "plan", "p.wharf"], project)
    rows.append(("plan edited", wall, cpu))
    assert plan_key(wharf, project)[0] != key, "an edit did not change the key"

    if b3sum:
        # Batches of files per b3sum, as xargs would; b3sum hashes each
        # file on all cores (mmap + rayon), one after the other.
        wall = cpu = 0.0
        for start in range(0, len(files), 5000):
            w, c, _ = timed([b3sum, "--no-names"] + files[start:start + 5000], project)
            wall, cpu = wall + w, cpu + c
        rows.append(("b3sum", wall, cpu))
    rows.append(("stat floor",) + timed(["find", data, "-printf", "%i %s %T@ %C@\\n"], project)[:2])
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wharf", default="target/release/wharf")
    parser.add_argument("--b3sum", default=shutil.which("b3sum"))
    parser.add_argument("--big", default="2000x1048576", help="COUNTxBYTES")
    parser.add_argument("--many", default="100000x512", help="COUNTxBYTES")
    parser.add_argument("--tiny", action="store_true", help="small sizes: checks the work, not the time")
    args = parser.parse_args()
    if args.tiny:
        args.big, args.many = "20x200000", "500x100"
    wharf = os.path.abspath(args.wharf)
    root = tempfile.mkdtemp(prefix="statcache-hashing-", dir="/tmp")
    try:
        print(f"wharf {wharf}; b3sum {args.b3sum or '(not found: skipped)'}; {os.cpu_count()} cores")
        for label, spec in (("big", args.big), ("many", args.many)):
            count, size = (int(x) for x in spec.split("x"))
            rows = bench_one(label, wharf, args.b3sum, root, count, size)
            print(f"\n{label}: {count} files of {size} bytes ({count * size / 2**20:.0f} MiB)")
            print(f"  {'':<14}{'wall':>10}{'cpu':>10}")
            for name, wall, cpu in rows:
                print(f"  {name:<14}{wall * 1000:>8.0f}ms{cpu * 1000:>8.0f}ms")
            figures = {name: wall for name, wall, _ in rows}
            goal = 0.050 if label == "big" else 1.0
            notes = []
            for name in ("plan warm", "run cached"):
                notes.append(f"{name} {'ok' if figures[name] < goal else 'MISSED'} (< {goal * 1000:.0f} ms)")
            if "b3sum" in figures:
                ratio = figures["plan cold"] / figures["b3sum"]
                notes.append(f"plan cold / b3sum = {ratio:.2f} ({'ok' if ratio <= 1.5 else 'MISSED'} <= 1.5)")
            print("  goals: " + "; ".join(notes))
        print("\nchecks passed: first run ran, re-runs cached, a touch kept the key, an edit changed it")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
