#!/usr/bin/env python3
"""Serving, SageMaker's hosting contract: the container runs as `IMAGE serve`.

Loads /opt/ml/model/model.pkl (or unpacks a model.tar.gz found there) and
listens on port 8080, or $SAGEMAKER_BIND_TO_PORT when set:
  GET  /ping         200 once the model is loaded
  POST /invocations  text/csv: one row of features per line, no header;
                     answers text/csv, one predicted label per line
One log line per request on stdout. SIGTERM stops it with exit code 0.
"""
import csv
import glob
import http.server
import io
import os
import pickle
import signal
import sys
import tarfile
import tempfile
import time

MODEL_DIR = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
MAX_BODY = 6 * 1024 * 1024  # InvokeEndpoint's limit


def load_model(folder):
    path = os.path.join(folder, "model.pkl")
    if not os.path.isfile(path):
        archives = sorted(glob.glob(os.path.join(folder, "*.tar.gz")))
        if not archives:
            sys.exit(f"serve: no model.pkl or model.tar.gz in {folder}")
        unpacked = tempfile.mkdtemp(prefix="model-")
        with tarfile.open(archives[0]) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(unpacked, filter="data")
            else:
                tar.extractall(unpacked)
        path = os.path.join(unpacked, "model.pkl")
    with open(path, "rb") as f:
        return pickle.load(f), path


class Handler(http.server.BaseHTTPRequestHandler):
    model = None
    protocol_version = "HTTP/1.1"

    def answer(self, status, body, content_type="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.started = time.perf_counter()
        if self.path == "/ping":
            self.answer(200, "")
        else:
            self.answer(404, "not found\n")

    def do_POST(self):
        self.started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.answer(413, f"body over {MAX_BODY} bytes\n")
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        if self.path != "/invocations":
            self.answer(404, "not found\n")
            return
        ctype = (self.headers.get("Content-Type") or "text/csv").split(";")[0].strip().lower()
        if ctype not in ("text/csv", "text/plain", "application/octet-stream"):
            self.answer(415, f"unsupported content type {ctype}: send text/csv\n")
            return
        try:
            rows = [[float(v) for v in row] for row in csv.reader(io.StringIO(body)) if row]
            if not rows:
                raise ValueError("no rows")
            predictions = self.model.predict(rows)
        except ValueError as e:
            self.answer(400, f"bad input: {e}\n")
            return
        self.answer(200, "".join(f"{int(p)}\n" for p in predictions), "text/csv")

    def log_request(self, code="-", size="-"):
        ms = (time.perf_counter() - getattr(self, "started", time.perf_counter())) * 1000
        print(f"serve: {self.command} {self.path} {code} {ms:.1f}ms", flush=True)

    def log_message(self, fmt, *args):
        print("serve: " + (fmt % args), flush=True)


def main():
    model, path = load_model(MODEL_DIR)
    Handler.model = model
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"serve: model {path} ({type(model).__name__}, {model.n_features_in_} features), port {port}", flush=True)
    try:
        server.serve_forever()
    finally:
        print("serve: stopping", flush=True)
        server.server_close()


if __name__ == "__main__":
    main()
