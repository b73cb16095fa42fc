#!/usr/bin/env python3
"""Scheduler benchmark: `wharf run` of N distinct no-op steps (step i runs
`echo <i> > $WHARF_OUTPUT_OUT/x`, so no two steps share a cache key) shaped as
a chain, a fan and layered diamonds, beside the floor measured in the same
run: the same N commands spawned by a shell script with the same parallelism.
Also the all-cached re-run and wharf's peak memory.

Every timed run is checked: after the first run `wharf show last --format
json` must list N steps, all `succeeded` (none answered by the cache), and each
step's output must hold its own index; after each re-run, all N must be
`cached`. A figure from a run that did not do its work is refused.

Before 2026-12-03 every step had the same command, so all but a few steps of a
run were answered by "same definition and inputs as s1 in this run" and the
benchmark measured the cache, not the scheduler (bench/RESULTS.md).

Usage: bench/scheduler.py [--wharf target/release/wharf] [--sizes 100,1000] [--jobs 2]
       bench/scheduler.py --check   (N = 30, checks only, no figures: run by the tests)
Goals (issue 12): overhead above the floor under 1 ms per step; an all-cached
re-run of 1,000 steps under 100 ms; peak memory under 50 MB at N = 1,000.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH = 10


def noop(tag):
    """The command of the step tagged `tag` (a number, or a `${k}` template)."""
    return f'command = ["sh", "-c", "echo {tag} > \\"$WHARF_OUTPUT_OUT/x\\""]'


def step(name, tag, inputs="", after=""):
    inp = f"\n    inputs  {{ {inputs} }}" if inputs else ""
    aft = f"\n    after   = [{after}]" if after else ""
    return f"  step {name} {{\n    {noop(tag)}{inp}\n    outputs {{ out = dir() }}{aft}\n  }}\n"


def chain(n):
    body = step("s0", "s0") + "".join(step(f"s{i}", f"s{i}", f"in = s{i - 1}.out") for i in range(1, n))
    layers = [[(f"s{i}", f"s{i}")] for i in range(n)]
    return body, layers


def fan(n):
    body = step("source", "source") + "".join(step(f"f{i}", f"f{i}", "in = source.out") for i in range(n - 2))
    body += step("gather", "gather", after=", ".join(f"f{i}" for i in range(n - 2)))
    layers = [[("source", "source")], [(f"f{i}", f"f{i}") for i in range(n - 2)], [("gather", "gather")]]
    return body, layers


def diamond(n):
    layers_n = max(1, n // (WIDTH + 1))
    keys = ", ".join(f'"k{i}"' for i in range(WIDTH))
    body = f"  param keys : list[string] = [{keys}]\n" + step("l0_join", "l0_join")
    layers = [[("l0_join", "l0_join")]]
    for layer in range(1, layers_n):
        inner = step(f"l{layer}", f"l{layer}-${{k}}", f"in = l{layer - 1}_join.out")
        body += "  for k in params.keys {\n  " + inner.replace("\n", "\n  ").rstrip() + "\n  }\n"
        body += step(f"l{layer}_join", f"l{layer}_join", f"parts = l{layer}[*].out")
        layers.append([(f"l{layer}-k{i}", f"l{layer}-k{i}") for i in range(WIDTH)])
        layers.append([(f"l{layer}_join", f"l{layer}_join")])
    return body, layers


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
                d, tag = layer[0]
                # One command: spawn it directly, as a plain shell script would.
                f.write(f"WHARF_OUTPUT_OUT={d} sh -c 'echo {tag} > \"$WHARF_OUTPUT_OUT/x\"'\n")
            else:
                names = " ".join(d for d, _ in layer)
                f.write(
                    f"printf '%s\\n' {names} | xargs -P {jobs} -I D env WHARF_OUTPUT_OUT=D sh -c 'echo D > \"$WHARF_OUTPUT_OUT/x\"'\n"
                )
    # The folders exist before the clock starts: the floor is the spawning alone.
    for layer in layers:
        for d, _ in layer:
            os.makedirs(os.path.join(root, d), exist_ok=True)
    start = time.perf_counter()
    subprocess.run(["sh", script], check=True)
    elapsed = time.perf_counter() - start
    for layer in layers:
        for d, tag in layer:
            with open(os.path.join(root, d, "x")) as f:
                if f.read().strip() != tag:
                    sys.exit(f"floor: {d}/x does not hold `{tag}`")
    return elapsed


def timed(argv, cwd):
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    return elapsed, int(proc.stderr.strip().splitlines()[-1]) / 1024.0


def check_run(wharf, work, layers, want):
    """Refuses a run that did not do its work: every step `want` (succeeded
    or cached), and each step's output holding its own tag."""
    shown = subprocess.run([wharf, "show", "last", "--format", "json"], cwd=work,
                           capture_output=True, text=True, check=True)
    steps = {s["step"]: s for s in json.loads(shown.stdout)["steps"]}
    tags = {d: tag for layer in layers for d, tag in layer}
    if set(steps) != set(tags):
        sys.exit(f"{work}: the run lists {len(steps)} steps, the pipeline has {len(tags)}")
    wrong = [(name, s["status"]) for name, s in steps.items() if s["status"] != want]
    if wrong:
        sys.exit(f"{work}: {len(wrong)} steps not {want}, for instance {wrong[:3]}")
    for name, s in steps.items():
        (art,) = [a for a in s["artifacts"] if a["output"] == "out"]
        folder = art["folder"].removeprefix("file://")
        with open(os.path.join(folder, "x")) as f:
            if f.read().strip() != tags[name]:
                sys.exit(f"{work}: the output of {name} does not hold `{tags[name]}`")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wharf", default=os.path.join(HERE, "..", "target", "release", "wharf"))
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--check", action="store_true", help="N = 30, correctness only")
    args = ap.parse_args()
    wharf = os.path.abspath(args.wharf)
    if not os.path.exists(wharf):
        sys.exit(f"{wharf} not found: run `cargo build --release` first")
    sizes = [30] if args.check else [int(s) for s in args.sizes.split(",")]
    if not args.check:
        print(f"machine: {os.cpu_count()} cores; --jobs {args.jobs}; every step distinct, checked after each run")
        print(f"{'workload':<16}{'floor':>10}{'wharf':>10}{'overhead/step':>15}{'cached rerun':>14}{'peak':>9}  goals")
    for n in sizes:
        for name, make in (("chain", chain), ("fan", fan), ("diamond", diamond)):
            body, layers = make(n)
            steps = sum(len(l) for l in layers)
            work = tempfile.mkdtemp(prefix=f"wharf-bench-{name}-")
            try:
                write_pipeline(os.path.join(work, "p.wharf"), name, body)
                base = floor(layers, args.jobs, work)
                env_cmd = [wharf, "run", "p.wharf", "--jobs", str(args.jobs)]
                t_run, mem = timed(env_cmd, work)
                check_run(wharf, work, layers, "succeeded")
                # The median of three re-runs: the first one after a run also
                # pays for SQLite checkpointing the run's write-ahead log.
                cached = []
                for _ in range(3):
                    cached.append(timed(env_cmd, work)[0])
                    check_run(wharf, work, layers, "cached")
                t_cached = sorted(cached)[1]
                if args.check:
                    print(f"{name}-{steps}: {steps} succeeded, then {steps} cached, outputs distinct: ok")
                    continue
                per_step_ms = (t_run - base) / steps * 1000
                goals = ["ok" if per_step_ms < 1.0 else "MISSED <1ms/step"]
                if n >= 1000:
                    goals.append("ok" if t_cached < 0.100 else "MISSED cached <100ms")
                    goals.append("ok" if mem < 50 else "MISSED <50MB")
                print(f"{name + '-' + str(steps):<16}{base * 1000:>8.0f}ms{t_run * 1000:>8.0f}ms{per_step_ms:>13.2f}ms"
                      f"{t_cached * 1000:>12.0f}ms{mem:>7.1f}Mi  {' '.join(goals)}")
            finally:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
