#!/usr/bin/env python3
"""S3 upload benchmark: wharf's content-addressed upload of a folder
(`aws/examples/upload`, which calls `Transfers::upload`: BLAKE3 content hash,
listing, PUTs / multipart parts, marker) against `aws s3 cp --recursive`
from the PyPI awscli, both into the same moto server, measured in the same
run.

Workload: --size-mib of random bytes in --files files of equal size (1 GiB
in 100 files by default, about 10.2 MiB each, so below wharf's 16 MiB
multipart threshold and above awscli's 8 MiB one), generated once into a
temporary folder and read from the page cache by both. Each repeat resets
moto (`POST /moto-api/reset`: it keeps objects in memory), creates two
buckets, and runs both uploaders, alternating which goes first. Times are
the uploaders' wall times as processes (start-up included for both: about
0.4 s for awscli's Python, a few ms for wharf's binary); wharf's own figure
(timed inside, around `upload`) is printed too. Figures are medians.

Usage: bench/s3_upload.py [--upload-bin PATH] [--size-mib 1024] [--files 100] [--repeat 3]
Needs: the release example (CARGO_TARGET_DIR=... cargo build --release -p
wharf-aws --example upload), and moto[server] plus awscli in
${WHARF_MOTO_VENV:-~/.cache/wharf-ci/venv-moto} (awscli is pip-installed
there when missing).
Goal: wharf within 1.5x of awscli's time.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOAL_RATIO = 1.5
CHUNK = 8 * 1024 * 1024


def venv_dir():
    return os.environ.get("WHARF_MOTO_VENV") or os.path.expanduser("~/.cache/wharf-ci/venv-moto")


def default_upload_bin():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release", "examples", "upload")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_data(root, size_mib, files):
    per_file = size_mib * 1024 * 1024 // files
    for i in range(files):
        sub = os.path.join(root, f"part-{i // 10:02d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"file-{i:03d}.bin"), "wb") as f:
            left = per_file
            while left:
                n = min(left, CHUNK)
                f.write(os.urandom(n))
                left -= n
    return per_file * files


def start_moto(venv):
    server = os.path.join(venv, "bin", "moto_server")
    if not os.path.exists(server):
        sys.exit(f"no {server}: python3 -m venv {venv} && {venv}/bin/pip install 'moto[server]==5.2.5'")
    port = free_port()
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, endpoint
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("moto did not start within 30 s")


def ensure_awscli(venv):
    aws = os.path.join(venv, "bin", "aws")
    if not os.path.exists(aws):
        print(f"installing awscli into {venv} ...", file=sys.stderr)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "awscli"], check=True)
    return aws


def run(argv, env):
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def reset(endpoint):
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upload-bin", default=default_upload_bin())
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not os.path.exists(args.upload_bin):
        sys.exit(f"no {args.upload_bin}: build it with "
                 "cargo build --release -p wharf-aws --example upload (or pass --upload-bin)")
    venv = venv_dir()
    aws = ensure_awscli(venv)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)

    data = tempfile.mkdtemp(prefix="wharf-s3-bench-")
    moto, endpoint = None, None
    try:
        start = time.perf_counter()
        total = make_data(data, args.size_mib, args.files)
        print(f"data: {total / 2**20:.0f} MiB in {args.files} files, made in {time.perf_counter() - start:.1f} s")
        moto, endpoint = start_moto(venv)
        print(f"moto: {endpoint}; awscli: {subprocess.run([aws, '--version'], capture_output=True, text=True).stdout.strip()}")
        ours, ours_inner, theirs = [], [], []
        for repeat in range(args.repeat):
            reset(endpoint)
            for bucket in ("bench-wharf", "bench-awscli"):
                run([aws, "--endpoint-url", endpoint, "s3", "mb", f"s3://{bucket}"], env)
            wharf_cmd = [args.upload_bin, endpoint, "bench-wharf", data]
            cli_cmd = [aws, "--endpoint-url", endpoint, "s3", "cp", "--recursive", "--only-show-errors",
                       data, "s3://bench-awscli/data/"]
            order = [("wharf", wharf_cmd), ("awscli", cli_cmd)]
            if repeat % 2:
                order.reverse()
            for name, cmd in order:
                elapsed, out = run(cmd, env)
                if name == "wharf":
                    report = json.loads(out)
                    if report["skipped"] or report["uploaded_files"] != args.files:
                        sys.exit(f"wharf did not upload every file: {report}")
                    ours.append(elapsed)
                    ours_inner.append(report["seconds"])
                else:
                    theirs.append(elapsed)
                print(f"  repeat {repeat + 1}: {name:6} {elapsed:6.2f} s")
        a, b = statistics.median(ours), statistics.median(theirs)
        mib = total / 2**20
        print()
        print(f"wharf upload     {a:6.2f} s  {mib / a:6.1f} MiB/s  (inside the process: {statistics.median(ours_inner):.2f} s)")
        print(f"aws s3 cp -r     {b:6.2f} s  {mib / b:6.1f} MiB/s")
        ratio = a / b
        verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
        print(f"ratio wharf/awscli {ratio:.2f} (goal <= {GOAL_RATIO}: {verdict})")
    finally:
        if moto:
            moto.kill()
            moto.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
