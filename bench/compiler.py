#!/usr/bin/env python3
"""Compiler benchmark: `wharf check` on generated pipelines of 1,000, 10,000
and 100,000 steps (chain, fan, layered diamond with fan-out and templates),
beside the process floor (`true`) measured in the same run.

Usage: bench/compiler.py [--wharf target/release/wharf] [--sizes 1000,10000,100000] [--runs 5]
Prints one row per file: median wall time, time above the floor, time per
step, CPU time (user + system: above the wall time when the compiler uses
more than one core), peak resident memory, and whether the goal is met.
Goals (issues 2 and 12): 10,000 steps under 50 ms, 100,000 under 0.6 s,
peak memory under 200 MB. Every run must end in "0 errors": the files are
well-formed, so anything else means the compiler did not do the work.
With --instructions, callgrind counts the instructions of all threads: the
work done, not the time waited.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_once(argv):
    """Wall seconds, peak RSS (MiB), CPU seconds and exit code of one run of
    argv, and whether it reported errors. The peak comes from GNU time: a
    child forked from this Python process would otherwise report Python's
    own memory as its peak."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    lines = proc.stderr.strip().splitlines()
    peak_kib, user, system = lines[-1].split()
    clean = any(" 0 errors" in line for line in lines[:-1]) or argv[0] == "true"
    return elapsed, int(peak_kib) / 1024.0, float(user) + float(system), proc.returncode, clean


def instructions(argv):
    """Instructions executed (valgrind callgrind): unlike wall time on a
    shared virtual machine, this repeats exactly from run to run."""
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr.splitlines():
        if "refs:" in line:
            return int(line.split("refs:")[1].strip().replace(",", ""))
    return None


def measure(argv, runs):
    samples = [run_once(argv) for _ in range(runs)]
    if not all(code == 0 and clean for _, _, _, code, clean in samples):
        sys.exit(f"{' '.join(argv)}: did not check cleanly (exit codes {sorted({s[3] for s in samples})})")
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[2] for s in samples)
    return wall, max(s[1] for s in samples), cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wharf", default=os.path.join(HERE, "..", "target", "release", "wharf"))
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions with valgrind (files up to 10,000 steps)",
    )
    args = ap.parse_args()
    if not os.path.exists(args.wharf):
        sys.exit(f"{args.wharf} not found: run `cargo build --release` first")
    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(args.out, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, "gen_pipelines.py"), args.out] + [str(n) for n in sizes], check=True)

    # The floor goes through GNU time too, so both sides pay the same wrapper.
    floor, floor_mem, _ = measure(["true"], max(args.runs, 10))
    floor_instr = instructions(["true"]) if args.instructions else None
    print(f"machine: {os.cpu_count()} cores; floor (`true`): {floor * 1000:.2f} ms, {floor_mem:.1f} MiB"
          + (f", {floor_instr / 1e3:.0f}k instructions" if floor_instr else ""))
    print(f"{'file':<22}{'size':>9}{'median':>11}{'-floor':>11}{'per step':>11}{'cpu':>10}{'peak':>10}  goal")
    rows = []
    for n in sizes:
        for shape in ("chain", "fan", "diamond"):
            path = os.path.join(args.out, f"{shape}-{n}.wharf")
            runs = args.runs if n < 100000 else max(3, args.runs // 2)
            t, mem, cpu = measure([args.wharf, "check", path], runs)
            above = max(t - floor, 0.0)
            goal = {10000: 0.050, 100000: 0.600}.get(n)
            verdict = ""
            if goal is not None:
                verdict = "ok" if t < goal and mem < 200 else f"MISSED (goal {goal * 1000:.0f} ms, 200 MiB)"
            size_kb = os.path.getsize(path) / 1024
            extra = ""
            if args.instructions and n <= 10000:
                count = instructions([args.wharf, "check", path])
                if count is not None and floor_instr is not None:
                    extra = f"  {(count - floor_instr) / 1e6:.0f}M instr, {(count - floor_instr) / n / 1000:.1f}k/step"
            print(
                f"{shape + '-' + str(n):<22}{size_kb:>8.0f}K{t * 1000:>9.1f}ms{above * 1000:>9.1f}ms"
                f"{above / n * 1e6:>9.2f}us{cpu * 1000:>8.0f}ms{mem:>8.1f}Mi  {verdict}{extra}"
            )
            rows.append((shape, n, t, mem))
    by = {(s, n): t for s, n, t, _ in rows}
    for shape in ("chain", "fan", "diamond"):
        ns = [n for n in sizes if (shape, n) in by]
        if len(ns) >= 2:
            lo, hi = ns[-2], ns[-1]
            ratio = (by[(shape, hi)] - floor) / max(by[(shape, lo)] - floor, 1e-9)
            print(f"growth {shape} {lo}->{hi}: x{ratio:.1f} time for x{hi // lo} steps (linear = x{hi // lo})")


if __name__ == "__main__":
    main()
