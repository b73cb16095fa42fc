#!/usr/bin/env python3
"""Scheduler benchmark: `wharf run` of N no-op steps (each `echo x > $WHARF_OUTPUT_OUT/x`)
shaped as a chain, a fan and layered diamonds, beside the floor measured in
the same run: the same N commands spawned by a shell script with the same
parallelism. Also the all-cached re-run and wharf's peak memory.

Usage: bench/scheduler.py [--wharf target/release/wharf] [--sizes 100,1000] [--jobs 2]
Goals (issue 3): overhead above the floor under 1 ms per step; an all-cached
re-run of 1,000 steps under 100 ms; peak memory under 50 MB at N = 1,000.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NOOP = 'command = ["sh", "-c", "echo x > \\"$WHARF_OUTPUT_OUT/x\\""]'
WIDTH = 10


def step(name, inputs=""):
    inp = f"\n    inputs  {{ {inputs} }}" if inputs else ""
    return f"  step {name} {{\n    {NOOP}{inp}\n    outputs {{ out = dir() }}\n  }}\n"


def chain(n):
    body = step("s0") + "".join(step(f"s{i}", f"in = s{i - 1}.out") for i in range(1, n))
    return body, [[f"s{i}"] for i in range(n)]


def fan(n):
    body = step("source") + "".join(step(f"f{i}", "in = source.out") for i in range(n - 2))
    after = ", ".join(f"f{i}" for i in range(n - 2))
    body += f"  step gather {{\n    {NOOP}\n    outputs {{ out = dir() }}\n    after   = [{after}]\n  }}\n"
    return body, [["source"], [f"f{i}" for i in range(n - 2)], ["gather"]]


def diamond(n):
    layers = max(1, n // (WIDTH + 1))
    keys = ", ".join(f'"k{i}"' for i in range(WIDTH))
    body = f"  param keys : list[string] = [{keys}]\n" + step("l0_join")
    plan = [["l0_join"]]
    for layer in range(1, layers):
        body += f"  for k in params.keys {{\n  {step(f'l{layer}', f'in = l{layer - 1}_join.out').replace(chr(10), chr(10) + '  ').rstrip()}\n  }}\n"
        body += step(f"l{layer}_join", f"parts = l{layer}[*].out")
        plan.append([f"l{layer}-k{i}" for i in range(WIDTH)])
        plan.append([f"l{layer}_join"])
    return body, plan


def write_pipeline(path, name, body):
    with open(path, "w") as f:
        f.write(f"pipeline {name} {{\n{body}}}\ntarget local {{ backend = process }}\n")


def floor(layers, jobs, workdir):
    """The same commands, each in a folder of its own, layer by layer with `jobs` at once."""
    script = os.path.join(workdir, "floor.sh")
    root = os.path.join(workdir, "floor")
    with open(script, "w") as f:
        f.write("set -e\n")
        f.write(f"cd {root}\n")
        for layer in layers:
            if len(layer) == 1:
                # One command: spawn it directly, as a plain shell script would.
                f.write(f"WHARF_OUTPUT_OUT={layer[0]} sh -c 'echo x > \"$WHARF_OUTPUT_OUT/x\"'\n")
            else:
                names = " ".join(layer)
                f.write(
                    f"printf '%s\\n' {names} | xargs -P {jobs} -I D env WHARF_OUTPUT_OUT=D sh -c 'echo x > \"$WHARF_OUTPUT_OUT/x\"'\n"
                )
    # The folders exist before the clock starts: the floor is the spawning alone.
    for layer in layers:
        for s in layer:
            os.makedirs(os.path.join(root, s), exist_ok=True)
    start = time.perf_counter()
    subprocess.run(["sh", script], check=True)
    return time.perf_counter() - start


def timed(argv, cwd):
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    return elapsed, int(proc.stderr.strip().splitlines()[-1]) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wharf", default=os.path.join(HERE, "..", "target", "release", "wharf"))
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    wharf = os.path.abspath(args.wharf)
    if not os.path.exists(wharf):
        sys.exit(f"{wharf} not found: run `cargo build --release` first")
    print(f"machine: {os.cpu_count()} cores; --jobs {args.jobs}")
    print(f"{'workload':<16}{'floor':>10}{'wharf':>10}{'overhead/step':>15}{'cached rerun':>14}{'peak':>9}  goals")
    for n in (int(s) for s in args.sizes.split(",")):
        for name, make in (("chain", chain), ("fan", fan), ("diamond", diamond)):
            body, layers = make(n)
            steps = sum(len(l) for l in layers)
            work = tempfile.mkdtemp(prefix=f"wharf-bench-{name}-")
            try:
                write_pipeline(os.path.join(work, "p.wharf"), name, body)
                base = floor(layers, args.jobs, work)
                env_cmd = [wharf, "run", "p.wharf", "--jobs", str(args.jobs)]
                t_run, mem = timed(env_cmd, work)
                # The median of three re-runs: the first one after a run also
                # pays for SQLite checkpointing the run's write-ahead log.
                t_cached = sorted(timed(env_cmd, work)[0] for _ in range(3))[1]
                per_step_ms = (t_run - base) / steps * 1000
                goals = []
                goals.append("ok" if per_step_ms < 1.0 else "MISSED <1ms/step")
                if n >= 1000:
                    goals.append("ok" if t_cached < 0.100 else "MISSED cached <100ms")
                    goals.append("ok" if mem < 50 else "MISSED <50MB")
                print(f"{name + '-' + str(steps):<16}{base * 1000:>8.0f}ms{t_run * 1000:>8.0f}ms{per_step_ms:>13.2f}ms"
                      f"{t_cached * 1000:>12.0f}ms{mem:>7.1f}Mi  {' '.join(goals)}")
            finally:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
