#!/usr/bin/env python3
"""Docker backend benchmark: the per-step overhead of `wharf run` on the docker
backend, beside the floor measured in the same run: `docker run --rm` of the
same image and command, from the docker CLI, with the same parallelism.

Workload: N independent steps, each `image = "wharf-test/busybox:1"`,
`command = ["true"]`, on `target local { backend = docker }`, run with
`--no-cache` (so every step starts a container) in three modes:
  sequential  wharf --jobs 1, against N `docker run --rm IMAGE true` one after another
  parallel    wharf --jobs 2, against the same N with 2 at a time
  output -j1  each step writes one small file to an output folder: wharf
              collects it from the container after the exit; the CLI gets
              a bind-mounted host folder (`-v DIR:/out`), its cheapest way
Each figure is the median of --repeat runs; wharf and the CLI alternate
within a repeat, so drift on the machine hits both alike.

Usage: bench/docker.py [--wharf target/release/wharf] [--steps 20] [--repeat 5]
                       [--image wharf-test/busybox:1] [--cli-only]
Needs: a Docker engine (DOCKER_HOST is honoured) and the image, made by
.ci/images/build.sh. --cli-only measures the docker CLI half alone.
Goals: wharf within 1.15x of the docker CLI, and at most 20 ms per step above it.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GOAL_RATIO = 1.15
GOAL_MS_PER_STEP = 20.0
MODES = (("sequential", 1, False), ("parallel", 2, False), ("output", 1, True))


def pipeline(n, image, output=False):
    def body(i):
        if output:
            # Each step writes its own name, so the check after a run can tell
            # that every output came from its own container.
            return (f'    command = ["sh", "-c", "echo s{i} > $WHARF_OUTPUT_OUT/f"]\n'
                    '    outputs { out = dir() }\n')
        return '    command = ["true"]\n'
    steps = "".join(f"  step s{i} {{\n    image   = \"{image}\"\n{body(i)}  }}\n" for i in range(n))
    return f"pipeline dockerbench {{\n{steps}}}\ntarget local {{ backend = docker }}\n"


def run_checked(argv, cwd=None):
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")


def time_wharf(wharf, workdir, jobs, n, output):
    argv = [wharf, "run", "p.wharf", "--target", "local", "--no-cache", "--jobs", str(jobs)]
    start = time.perf_counter()
    run_checked(argv, cwd=workdir)
    elapsed = time.perf_counter() - start
    check_run(wharf, workdir, n, output)
    return elapsed


def check_run(wharf, workdir, n, output):
    """Refuses a figure from a run that did not do its work: all N steps
    succeeded (each started a container: none came from the cache), and
    with outputs, step i's output holds `si`."""
    shown = subprocess.run([wharf, "show", "last", "--format", "json"], cwd=workdir,
                           capture_output=True, text=True, check=True)
    steps = json.loads(shown.stdout)["steps"]
    done = [s for s in steps if s["status"] == "succeeded"]
    if len(steps) != n or len(done) != n:
        sys.exit(f"wharf ran {len(done)} of {n} steps ({len(steps)} listed): the figure would not be a run of N containers")
    if output:
        for s in steps:
            (art,) = s["artifacts"]
            with open(os.path.join(art["folder"].removeprefix("file://"), "f")) as f:
                if f.read().strip() != s["step"]:
                    sys.exit(f"the output of {s['step']} does not hold its own name")


def time_cli(image, n, jobs, output_root=None):
    """N `docker run --rm IMAGE true`, `jobs` at a time, each as its own CLI
    process; with `output_root`, each writes a file to a bind-mounted folder."""
    def argv_for(i):
        if output_root is None:
            return ["docker", "run", "--rm", image, "true"]
        folder = os.path.join(output_root, f"s{i}")
        os.makedirs(folder, exist_ok=True)
        return ["docker", "run", "--rm", "-v", f"{folder}:/out", image, "sh", "-c", "echo x > /out/f"]
    argv = argv_for(0)
    todo = list(range(n))
    lock = threading.Lock()
    failures = []

    def worker():
        while True:
            with lock:
                if not todo or failures:
                    return
                i = todo.pop()
            proc = subprocess.run(argv_for(i), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if proc.returncode != 0:
                with lock:
                    failures.append(proc.stderr)

    threads = [threading.Thread(target=worker) for _ in range(jobs)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        sys.exit(f"{' '.join(argv)} failed:\n{failures[0][-2000:]}")
    return elapsed


def leftover_containers(image):
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"ancestor={image}"],
                         capture_output=True, text=True).stdout.split()
    return len(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wharf", default=os.path.join(HERE, "..", "target", "release", "wharf"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--image", default="wharf-test/busybox:1")
    ap.add_argument("--cli-only", action="store_true", help="measure the docker CLI half alone")
    args = ap.parse_args()
    wharf = os.path.abspath(args.wharf)
    if not args.cli_only and not os.path.exists(wharf):
        sys.exit(f"{wharf} not found: run `cargo build --release` first (or pass --cli-only)")
    if shutil.which("docker") is None:
        sys.exit("no docker CLI on PATH")
    ver = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    if ver.returncode != 0:
        sys.exit(f"no Docker engine answers (DOCKER_HOST={os.environ.get('DOCKER_HOST', 'unset')}):\n{ver.stderr}")
    if subprocess.run(["docker", "image", "inspect", args.image], capture_output=True).returncode != 0:
        sys.exit(f"image {args.image} not found: run .ci/images/build.sh")
    n = args.steps
    before = leftover_containers(args.image)

    print(f"machine: {os.cpu_count()} cores; engine {ver.stdout.strip()}; {n} steps of "
          f"`{args.image} true`; median of {args.repeat}")
    work = tempfile.mkdtemp(prefix="wharf-bench-docker-")
    work_out = tempfile.mkdtemp(prefix="wharf-bench-docker-out-")
    try:
        with open(os.path.join(work, "p.wharf"), "w") as f:
            f.write(pipeline(n, args.image))
        with open(os.path.join(work_out, "p.wharf"), "w") as f:
            f.write(pipeline(n, args.image, output=True))
        # Warm-up, not timed: the engine's first container after a quiet spell
        # is slower, and wharf's first run creates .wharf/state.db.
        time_cli(args.image, 2, 1)
        if not args.cli_only:
            time_wharf(wharf, work, 2, n, False)
        print(f"{'mode':<16}{'docker CLI':>12}{'wharf':>10}{'ratio':>8}{'above CLI/step':>16}  goals "
              f"(<= {GOAL_RATIO}x, <= {GOAL_MS_PER_STEP:.0f} ms/step)")
        for mode, jobs, output in MODES:
            cli_times, wharf_times = [], []
            for _ in range(args.repeat):
                cli_times.append(time_cli(args.image, n, jobs, os.path.join(work_out, "cli") if output else None))
                if not args.cli_only:
                    wharf_times.append(time_wharf(wharf, work_out if output else work, jobs, n, output))
            cli = statistics.median(cli_times)
            spread = f"  (CLI runs {min(cli_times):.2f}-{max(cli_times):.2f} s)"
            if args.cli_only:
                print(f"{mode + f' -j{jobs}':<16}{cli:>10.2f} s{'-':>10}{'-':>8}{'-':>16}  "
                      f"{cli / n * 1000:.0f} ms per container{spread}")
                continue
            w = statistics.median(wharf_times)
            ratio = w / cli
            per_step_ms = (w - cli) / n * 1000
            goals = ["ok" if ratio <= GOAL_RATIO else f"MISSED <= {GOAL_RATIO}x",
                     "ok" if per_step_ms <= GOAL_MS_PER_STEP else f"MISSED <= {GOAL_MS_PER_STEP:.0f} ms/step"]
            print(f"{mode + f' -j{jobs}':<16}{cli:>10.2f} s{w:>8.2f} s{ratio:>7.2f}x{per_step_ms:>13.1f} ms  "
                  f"{' '.join(goals)}{spread}; wharf {min(wharf_times):.2f}-{max(wharf_times):.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(work_out, ignore_errors=True)
    after = leftover_containers(args.image)
    if after > before:
        print(f"warning: {after - before} containers of {args.image} were left behind (wharf should remove them)")


if __name__ == "__main__":
    main()
