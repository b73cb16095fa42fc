#!/usr/bin/env python3
"""Scale benchmark (issue 12, goal 3): is the cost per step flat from 1,000 to
100,000 steps?

For each shape (chain, fan) and each N, a pipeline of N DISTINCT steps (step
i writes its own index into its output, so no step can come from the cache
of another) is generated in a fresh folder, then:

  - `wharf plan` is timed (N steps, none cached yet: every step after the
    first waits for an upstream one, which is the plan of a fresh run);
  - `wharf run -j JOBS` is timed under /usr/bin/time (peak memory);
  - the run is checked: its summary says N succeeded and 0 cached, and the
    N outputs exist and hold N distinct values;
  - the floor is timed in the same run: the same N commands, each writing
    into a folder of its own, spawned by `xargs -P JOBS sh -c` (a chain runs
    one after another).

It prints, per shape and N: plan seconds and ms per step, run seconds and ms
per step, overhead above the floor per step, peak memory, and each
per-step figure's ratio to the one at the smallest N (the goal: at most
1.5 at 100,000). Goals: plan of 100,000 steps < 2 s, peak memory of a
100,000-step run < 1 GiB.

Usage: bench/scale.py [--wharf PATH] [--sizes 1000,10000,100000]
                      [--shapes chain,fan] [--jobs 2] [--keep]
`--check` runs the smallest useful size (20 steps) and only checks the work
was done: the CI test (tests/bench_scale.rs) runs it.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def command(i):
    # Distinct per step: its own index, written into its own output.
    return f'command = ["sh", "-c", "echo {i} > \\"$WHARF_OUTPUT_OUT/v\\""]'


def step(name, i, inputs="", after=""):
    lines = [f"  step {name} {{", f"    {command(i)}"]
    if inputs:
        lines.append(f"    inputs  {{ {inputs} }}")
    lines.append("    outputs { out = dir() }")
    if after:
        lines.append(f"    after   = [{after}]")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def chain(n):
    parts = [step("s0", 0)]
    parts += [step(f"s{i}", i, inputs=f"in = s{i - 1}.out") for i in range(1, n)]
    return parts


def fan(n):
    parts = [step("s0", 0)]
    parts += [step(f"s{i}", i, inputs="in = s0.out") for i in range(1, n - 1)]
    parts.append(step(f"s{n - 1}", n - 1, after=", ".join(f"s{i}" for i in range(1, n - 1))))
    return parts


SHAPES = {"chain": chain, "fan": fan}


def write_pipeline(folder, shape, n):
    path = os.path.join(folder, "pipeline.wharf")
    with open(path, "w") as f:
        f.write(f"pipeline {shape}{n} {{\n")
        f.writelines(SHAPES[shape](n))
        f.write("}\ntarget local { backend = process }\n")
    return path


def floor(folder, shape, n, jobs):
    """The same commands, each into a folder of its own, made before the clock starts."""
    root = os.path.join(folder, "floor")
    for i in range(n):
        os.makedirs(os.path.join(root, f"s{i}"), exist_ok=True)
    cmd = 'echo "$1" > "$1/v"'
    names = "\n".join(f"s{i}" for i in range(n)) + "\n"
    start = time.perf_counter()
    if shape == "chain":
        subprocess.run(["xargs", "-P", "1", "-n", "1", "sh", "-c", cmd, "sh"], input=names.encode(), cwd=root, check=True)
    else:
        subprocess.run(
            ["xargs", "-P", str(jobs), "-n", "1", "sh", "-c", cmd, "sh"], input=names.encode(), cwd=root, check=True
        )
    took = time.perf_counter() - start
    shutil.rmtree(root)
    return took


def timed(args, cwd):
    """Runs under /usr/bin/time: (seconds, peak MiB, stdout+stderr text, exit code)."""
    rss_file = os.path.join(cwd, ".rss")
    start = time.perf_counter()
    p = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", rss_file, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    took = time.perf_counter() - start
    with open(rss_file) as f:
        rss_kib = int(f.read().strip().splitlines()[-1])
    return took, rss_kib / 1024, p.stdout.decode(errors="replace"), p.returncode


def check_run(folder, output, n):
    """N succeeded, 0 cached, and N present, distinct outputs."""
    m = re.search(r"run (\S+) succeeded in [^:]*: (\d+) succeeded, (\d+) cached, (\d+) failed", output)
    if not m:
        raise SystemExit(f"the run did not succeed:\n{output[-2000:]}")
    run, ok, cached, failed = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    if (ok, cached, failed) != (n, 0, 0):
        raise SystemExit(f"expected {n} succeeded and 0 cached, got {ok} succeeded, {cached} cached, {failed} failed")
    values = set()
    runs = os.path.join(folder, ".wharf", "runs", run)
    for i in range(n):
        with open(os.path.join(runs, f"s{i}", "1", "outputs", "out", "v")) as f:
            values.add(f.read().strip())
    if len(values) != n:
        raise SystemExit(f"expected {n} distinct outputs, found {len(values)}")


def measure(wharf, shape, n, jobs, keep):
    folder = tempfile.mkdtemp(prefix=f"sched-scale-{shape}{n}-")
    try:
        path = write_pipeline(folder, shape, n)
        plan_s, plan_mib, out, rc = timed([wharf, "plan", path], folder)
        if rc != 0:
            raise SystemExit(f"wharf plan failed:\n{out[-2000:]}")
        run_s, run_mib, out, rc = timed([wharf, "run", path, "-j", str(jobs)], folder)
        if rc != 0:
            raise SystemExit(f"wharf run failed ({rc}):\n{out[-2000:]}")
        check_run(folder, out, n)
        floor_s = floor(folder, shape, n, jobs)
        return {
            "plan_s": plan_s,
            "plan_mib": plan_mib,
            "run_s": run_s,
            "run_mib": run_mib,
            "floor_s": floor_s,
        }
    finally:
        if keep:
            print(f"  kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wharf", default=os.path.join(ROOT, "target", "release", "wharf"))
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--shapes", default="chain,fan")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the generated folders")
    ap.add_argument("--check", action="store_true", help="a 20-step correctness check, no timings")
    args = ap.parse_args()
    wharf = os.path.abspath(args.wharf)
    if args.check:
        for shape in SHAPES:
            measure(wharf, shape, 20, args.jobs, False)
        print("scale bench check: ok")
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"wharf {wharf}, -j {args.jobs}, {os.cpu_count()} cores; ratios are to N = {sizes[0]}")
    header = (
        f"{'shape':<6} {'N':>7}  {'plan s':>7} {'ms/step':>7} {'ratio':>5}  {'run s':>7} {'ms/step':>7} "
        f"{'ratio':>5}  {'floor s':>7} {'ovh ms/step':>11} {'ratio':>5}  {'peak MiB':>8}"
    )
    print(header)
    for shape in args.shapes.split(","):
        base = None
        for n in sizes:
            r = measure(wharf, shape, n, args.jobs, args.keep)
            plan = r["plan_s"] / n * 1000
            run = r["run_s"] / n * 1000
            ovh = (r["run_s"] - r["floor_s"]) / n * 1000
            if base is None:
                base = (plan, run, ovh)
            ratio = lambda x, b: f"{x / b:5.2f}" if b > 0 else "    -"
            print(
                f"{shape:<6} {n:>7}  {r['plan_s']:7.2f} {plan:7.3f} {ratio(plan, base[0])}  "
                f"{r['run_s']:7.2f} {run:7.3f} {ratio(run, base[1])}  {r['floor_s']:7.2f} {ovh:11.3f} "
                f"{ratio(ovh, base[2])}  {r['run_mib']:8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
