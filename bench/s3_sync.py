#!/usr/bin/env python3
"""S3 sync benchmark: wharf's per-file content-addressed upload of a folder
(`aws/examples/upload`, which calls `Transfers::upload`) against
`aws s3 sync` from the PyPI awscli, both into the same moto server, in the
same run: a first upload of the whole folder, then a second one after a
few files changed.

What each phase checks was really done, besides the time: moto runs inside
this script's counting wrapper (a WSGI middleware in front of moto's own
app), which counts the requests each tool sent, by method, and the request
body bytes they carried. wharf's own report (files and bytes sent, files
copied within S3) must agree with that count; after the change wharf must
have sent exactly the changed files' bytes, and its new snapshot must list
every file (checked with a listing after the timed part). awscli must have
PUT exactly the changed files.

Workload: --files files of equal size adding up to --size-mib (10,000 files
and 1 GiB by default: 105 KiB each, in 100 folders) of random bytes,
generated into /tmp and read from the page cache by both tools; then
--change files (10 by default, spread over the folders) are rewritten with
new random bytes of the same size. Times are the tools' wall times as
processes (start-up included: about 0.4 s of Python for awscli, a few ms
for wharf). wharf hashes every file on each upload (BLAKE3, all cores); the
stat cache (issue 12, goal 4) will make that a stat per unchanged file.

Usage: bench/s3_sync.py [--upload-bin PATH] [--files 10000] [--size-mib 1024] [--change 10] [--repeat 1] [--check]
--check: a correctness run at a small size (100 files, 4 MiB, 3 changed),
no timing goal: what CI runs.
Needs: the release example (cargo build --release -p wharf-aws --example
upload), and moto[server] plus awscli in ${WHARF_MOTO_VENV:-~/.cache/wharf-ci/venv-moto}.
Goals (issue 12): first upload within 1.5x of `aws s3 sync`'s time; after
the change, wharf sends only the changed files and finishes before it.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3_upload import default_upload_bin, free_port, venv_dir  # noqa: E402  (shared with the upload benchmark)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRST_RATIO = 1.5

# Runs moto's own WSGI app behind a counter: requests by method, request
# body bytes. `GET /_bench/count` reads the counts, `POST /_bench/count`
# zeroes them; everything else is moto's.
COUNTING_MOTO = r'''
import json, sys, threading
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

lock = threading.Lock()
counts = {"requests": {}, "body_bytes": 0}
moto = DomainDispatcherApplication(create_backend_app)

class Counted:
    def __init__(self, stream):
        self.stream = stream
    def _add(self, data):
        with lock:
            counts["body_bytes"] += len(data)
        return data
    def read(self, *a):
        return self._add(self.stream.read(*a))
    def readline(self, *a):
        return self._add(self.stream.readline(*a))
    def readlines(self, *a):
        lines = self.stream.readlines(*a)
        for line in lines:
            self._add(line)
        return lines
    def __iter__(self):
        for line in self.stream:
            yield self._add(line)

def app(environ, start_response):
    if environ.get("PATH_INFO") == "/_bench/count":
        with lock:
            if environ["REQUEST_METHOD"] == "POST":
                counts["requests"], counts["body_bytes"] = {}, 0
            body = json.dumps(counts).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    method = environ["REQUEST_METHOD"]
    if method == "PUT" and "HTTP_X_AMZ_COPY_SOURCE" in environ:
        method = "PUT (copy)"
    with lock:
        counts["requests"][method] = counts["requests"].get(method, 0) + 1
    environ["wsgi.input"] = Counted(environ["wsgi.input"])
    return moto(environ, start_response)

server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True, request_handler=MotoRequestHandler)
server.serve_forever()
'''


def file_path(root, i):
    return os.path.join(root, f"part-{i % 100:02d}", f"file-{i:05d}.bin")


def make_data(root, size_mib, files):
    per_file = size_mib * 1024 * 1024 // files
    for i in range(files):
        path = file_path(root, i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(os.urandom(per_file))
    return per_file


def change(root, files, count, per_file):
    """Rewrites `count` files spread over the folder; returns their paths."""
    step = max(1, files // count)
    changed = [file_path(root, i * step) for i in range(count)]
    for path in changed:
        with open(path, "wb") as f:
            f.write(os.urandom(per_file))
    return changed


def start_moto(venv):
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, "bin", "moto_server")):
        sys.exit(f"no moto in {venv}: python3 -m venv {venv} && {venv}/bin/pip install 'moto[server]==5.2.5' awscli")
    port = free_port()
    proc = subprocess.Popen([python, "-c", COUNTING_MOTO, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("the counting moto server exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, endpoint
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("moto did not start within 30 s")


def counts(endpoint, reset=False):
    request = urllib.request.Request(f"{endpoint}/_bench/count", method="POST" if reset else "GET")
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def run(argv, env):
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def timed(name, argv, env, endpoint):
    counts(endpoint, reset=True)
    elapsed, out = run(argv, env)
    seen = counts(endpoint)
    return {"tool": name, "seconds": elapsed, "out": out, "requests": seen["requests"],
            "body_bytes": seen["body_bytes"]}


def describe(result):
    requests = sum(result["requests"].values())
    by_method = ", ".join(f"{m} {n}" for m, n in sorted(result["requests"].items()))
    return (f"{result['seconds']:7.2f} s  {requests:6d} requests ({by_method}), "
            f"{result['body_bytes'] / 2**20:8.2f} MiB sent")


def listed(aws, endpoint, uri, env):
    _, out = run([aws, "--endpoint-url", endpoint, "s3", "ls", "--recursive", uri], env)
    return [line for line in out.splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upload-bin", default=default_upload_bin())
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--change", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="a small correctness run, no timing goal")
    args = parser.parse_args()
    if args.check:
        args.files, args.size_mib, args.change, args.repeat = 100, 4, 3, 1
    if not os.path.exists(args.upload_bin):
        sys.exit(f"no {args.upload_bin}: build it with "
                 "cargo build --release -p wharf-aws --example upload (or pass --upload-bin)")
    venv = venv_dir()
    aws = os.path.join(venv, "bin", "aws")
    if not os.path.exists(aws):
        sys.exit(f"no awscli in {venv}: {venv}/bin/pip install awscli")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)

    moto = None
    data = tempfile.mkdtemp(prefix="s3-sync-bench-")
    try:
        moto, endpoint = start_moto(venv)
        print(f"moto (counting): {endpoint}; awscli: "
              f"{subprocess.run([aws, '--version'], capture_output=True, text=True).stdout.strip()}")
        results = {"first": {"wharf": [], "awscli": []}, "change": {"wharf": [], "awscli": []}}
        for repeat in range(args.repeat):
            shutil.rmtree(data, ignore_errors=True)
            os.makedirs(data)
            per_file = make_data(data, args.size_mib, args.files)
            total = per_file * args.files
            if repeat == 0:
                print(f"data: {args.files} files of {per_file} bytes ({total / 2**20:.0f} MiB); "
                      f"{args.change} change")
            wharf_bucket, cli_bucket = f"bench-wharf-{repeat}", f"bench-awscli-{repeat}"
            for bucket in (wharf_bucket, cli_bucket):
                run([aws, "--endpoint-url", endpoint, "s3", "mb", f"s3://{bucket}"], env)
            wharf_cmd = [args.upload_bin, endpoint, wharf_bucket, data]
            cli_cmd = [aws, "--endpoint-url", endpoint, "s3", "sync", "--only-show-errors", data,
                       f"s3://{cli_bucket}/data/"]
            order = [("wharf", wharf_cmd), ("awscli", cli_cmd)]
            if repeat % 2:
                order.reverse()
            for phase in ("first", "change"):
                if phase == "change":
                    changed = change(data, args.files, args.change, per_file)
                for name, cmd in order:
                    result = timed(name, cmd, env, endpoint)
                    results[phase][name].append(result)
                    print(f"  repeat {repeat + 1} {phase:6} {name:6} {describe(result)}")
                    expect_files = args.files if phase == "first" else len(changed)
                    if name == "wharf":
                        report = json.loads(result["out"])
                        result["report"] = report
                        sent = (report["uploaded_files"], report["uploaded_bytes"])
                        if sent != (expect_files, expect_files * per_file):
                            sys.exit(f"wharf sent {sent}, not {expect_files} files of {per_file} bytes: {report}")
                        if report["uploaded_files"] + report["copied_files"] != args.files:
                            sys.exit(f"wharf's snapshot is not whole: {report}")
                        puts = result["requests"].get("PUT", 0)
                        # Its files' PUTs (or parts), the manifest and the input's pointer.
                        if puts < expect_files or result["body_bytes"] < expect_files * per_file \
                                or result["body_bytes"] > expect_files * per_file + 4 * 2**20:
                            sys.exit(f"moto saw other traffic than wharf reported: {result['requests']}, "
                                     f"{result['body_bytes']} bytes")
                        if result["requests"].get("PUT (copy)", 0) != report["copied_files"]:
                            sys.exit(f"moto saw {result['requests'].get('PUT (copy)', 0)} copies, "
                                     f"wharf reported {report['copied_files']}")
                        snapshot = listed(aws, endpoint, report["uri"], env)
                        if len(snapshot) != args.files:
                            sys.exit(f"{report['uri']} lists {len(snapshot)} objects, not {args.files}")
                    else:
                        if result["requests"].get("PUT", 0) != expect_files:
                            sys.exit(f"awscli sent {result['requests']}, not {expect_files} PUTs")
        print()
        verdicts = []
        for phase in ("first", "change"):
            ours = statistics.median(r["seconds"] for r in results[phase]["wharf"])
            theirs = statistics.median(r["seconds"] for r in results[phase]["awscli"])
            ratio = ours / theirs
            if phase == "first":
                goal, met = f"<= {FIRST_RATIO}", ratio <= FIRST_RATIO
            else:
                goal, met = "< 1.0", ratio < 1.0
            verdicts.append(met)
            print(f"{phase:6}  wharf {describe(results[phase]['wharf'][-1])}")
            print(f"{phase:6}  awscli{describe(results[phase]['awscli'][-1])}")
            print(f"{phase:6}  median wharf {ours:.2f} s, aws s3 sync {theirs:.2f} s: ratio {ratio:.2f} "
                  f"(goal {goal}: {'met' if met else 'MISSED'})"
                  + (" [check run: no goal]" if args.check else ""))
    finally:
        if moto:
            moto.kill()
            moto.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
