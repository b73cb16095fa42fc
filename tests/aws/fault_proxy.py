#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of a moto server (Python 3 stdlib only).

moto answers SageMaker jobs as `Completed` at once, never fails, throttles or
stops them, and lacks a few operations. This proxy forwards every request to
moto and adds, where a test configured it:

- job lifecycle for training, processing, transform and tuning jobs:
  `InProgress` for `duration_seconds` after the Create call, then `Completed`
  or `Failed` with a `FailureReason` (Describe* and List* are rewritten, and
  LastModifiedTime is the time of the last status change); List*Jobs is
  filtered (NameContains, StatusEquals, CreationTime*/LastModifiedTime*
  After/Before), sorted and paginated here, on the rewritten summaries;
- a job's container log: the lines a job rule lists are written into moto's
  CloudWatch Logs, at their times after the Create call, as SageMaker's log
  agent would (group `/aws/sagemaker/{Training,Processing,Transform}Jobs`,
  stream `<job>/<host>-<creation epoch>`, PutLogEvents);
- Stop{Training,Processing,Transform,HyperParameterTuning}Job answered here:
  `Stopping` for `stop_seconds`, then `Stopped`; stopping a job that already
  ended is a ValidationException, as on SageMaker;
- endpoints `Creating` / `Updating` for a while, then `InService` (or
  `Failed`); UpdateEndpoint (moto has none) answered here;
- Create/Describe/List/Update/Delete/Start/StopMonitoringSchedule (not in moto);
- throttling (HTTP 400 ThrottlingException) and other injected errors, on
  SageMaker calls and on CloudWatch Logs calls (`X-Amz-Target:
  Logs_20140328.<Operation>`, otherwise forwarded untouched);
- a fixed latency on every SageMaker call;
- statistics: calls per operation, and per job / endpoint the times of its
  Describe calls;
- ECR as one service with a real registry (moto has ECR's API but no
  registry): with `registry` set, GetAuthorizationToken's `proxyEndpoint`
  names that registry instead of `<account>.dkr.ecr.<region>.amazonaws.com`,
  and DescribeImages / BatchGetImage answer from what the registry holds
  (moto still answers RepositoryNotFoundException for a repository it does
  not know). Every other ECR call (CreateRepository, DescribeRepositories,
  ...) is moto's. Pushes go from the Docker engine straight to the registry.

SageMaker is told apart by its `X-Amz-Target: SageMaker.<Operation>` header
(JSON 1.1), ECR by `AmazonEC2ContainerRegistry_V20150921.<Operation>`.
Everything else (S3, moto's own /moto-api/) is forwarded
untouched and streamed both ways: Content-Length and chunked request bodies of
any size, `Expect: 100-continue` (answered by the proxy), HEAD. So one
endpoint URL serves both SageMaker and S3; a benchmark that wants no proxy in
the S3 path can talk to moto directly.

Control API (on the proxy's own port):
  POST /_proxy/config   JSON; each top-level key given replaces that key
  GET  /_proxy/config   the configuration in force
  POST /_proxy/reset    configuration, jobs, schedules and statistics cleared
                        (moto's own state is reset by POST /moto-api/reset)
  GET  /_proxy/stats    statistics

Configuration (every key optional; the defaults are moto's behaviour):
  {
    "latency_ms": 0,                      # added to every SageMaker call
    "jobs": [                             # the longest matching prefix wins
      {"prefix": "",                      # job-name prefix; "" = every job
       "kind": "training",                # optional: training | processing |
                                          #   transform | tuning; absent = any
       "duration_seconds": 0,             # InProgress for this long after Create
       "outcome": "Completed",            # or "Failed"
       "failure_reason": "...",           # FailureReason when Failed
       "stop_seconds": 1,                 # Stopping for this long after Stop*
       "best_training_job": {...},        # tuning: the BestTrainingJob a
                                          #   Completed Describe answers
                                          #   (moto's is made up)
       "logs": ["line 1",                 # the job's log lines, each a string
                {"message": "line 2",     #   (at the previous entry's time) or
                 "at": 1.5,               #   seconds after Create (may be after
                 "host": "algo-2"}]}      #   the job ends: CloudWatch lags);
    ],                                    #   host default "algo-1"
    "endpoints": [                        # the longest matching prefix wins
      {"prefix": "", "creating_seconds": 0, "updating_seconds": 0,
       "outcome": "InService",            # or "Failed" (after creating_seconds)
       "failure_reason": "..."}
    ],
    "throttle": [                         # checked in order, first match wins
      {"operation": "DescribeTrainingJob",  # or "*" for every SageMaker call
       "count": 2},                       # the next 2 calls; or
      {"operation": "*", "seconds": 5},   # every SageMaker call for 5 s from now
      {"operation": "GetLogEvents", "count": 1,   # a CloudWatch Logs call: by
       "type": "AccessDeniedException"},          #   name only, never by "*"
      {"operation": "CreateTrainingJob", "count": 1, "status": 500,
       "type": "InternalFailure", "message": "boom"}  # any other error
    ],
    "registry": "http://127.0.0.1:PORT"   # a Docker registry (v2 API, plain
                                          #   HTTP) standing in for ECR's; null
                                          #   = moto's ECR answers untouched
  }

Statistics (GET /_proxy/stats):
  {"operations": {"DescribeTrainingJob": 12, ...},   # every SageMaker call
   "throttled":  {"DescribeTrainingJob": 2, ...},    # of those, answered with
                                                      #   an injected error
   "jobs": {"NAME": {"kind": "training", "created": T, "stopped": T|null,
                     "describe_calls": 5, "describe_times": [T, ...]}},
   "endpoints": {"NAME": {"created": T, "updated": T|null,
                          "describe_calls": 3, "describe_times": [T, ...]}},
   "ecr_operations": {"GetAuthorizationToken": 1, ...},  # every ECR call
   "logs_operations": {"GetLogEvents": 4, ...},      # CloudWatch Logs calls
   "log_lines_written": {"NAME": 3},                 # lines put into moto
   "passthrough_requests": 7,                        # neither SageMaker, ECR nor Logs
   "now": T}
  Times are seconds since the epoch (float), from this machine's clock.

Usage: python3 fault_proxy.py --upstream http://127.0.0.1:PORT [--port 0]
       [--host 127.0.0.1] [--verbose]
Prints `listening on PORT` as its first line on stdout.
"""

import argparse
import datetime
import http.client
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
DEFAULT_FAILURE = "AlgorithmError: failure injected by the fault proxy"
DEFAULT_ENDPOINT_FAILURE = "failure injected by the fault proxy"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "expect",
}
COPY_CHUNK = 1 << 20
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)

# kind -> how its operations and fields are named
KINDS = {
    "training": {
        "noun": "TrainingJob",
        "name": "TrainingJobName",
        "status": "TrainingJobStatus",
        "end": "TrainingEndTime",
        "list": "TrainingJobSummaries",
        "stop_in_moto": False,
    },
    "processing": {
        "noun": "ProcessingJob",
        "name": "ProcessingJobName",
        "status": "ProcessingJobStatus",
        "end": "ProcessingEndTime",
        "list": "ProcessingJobSummaries",
        "stop_in_moto": True,
    },
    "transform": {
        "noun": "TransformJob",
        "name": "TransformJobName",
        "status": "TransformJobStatus",
        "end": "TransformEndTime",
        "list": "TransformJobSummaries",
        "stop_in_moto": False,
    },
    "tuning": {
        "noun": "HyperParameterTuningJob",
        "name": "HyperParameterTuningJobName",
        "status": "HyperParameterTuningJobStatus",
        "end": "HyperParameterTuningEndTime",
        "list": "HyperParameterTuningJobSummaries",
        "stop_in_moto": False,
    },
}
KIND_OF_NOUN = {spec["noun"]: kind for kind, spec in KINDS.items()}
TERMINAL = {"Completed", "Failed", "Stopped"}


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def parse_object(data):
    """moto's answer as a dict, or None when it is not a JSON object."""
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def error_body(kind, message):
    return json.dumps({"__type": kind, "message": message}).encode()


def epoch(value):
    """A time in a request or an answer (epoch seconds, or ISO 8601) as a float."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    return None


def filter_summaries(jobs, payload, spec):
    """List*Jobs filters and order, applied to rewritten summaries."""
    def time_of(job, key):
        return epoch(job.get(key))

    tests = {
        "NameContains": lambda j, v: v in j.get(spec["name"], ""),
        "StatusEquals": lambda j, v: j.get(spec["status"]) == v,
        "CreationTimeAfter": lambda j, v: (time_of(j, "CreationTime") or 0) > epoch(v),
        "CreationTimeBefore": lambda j, v: (time_of(j, "CreationTime") or 0) < epoch(v),
        "LastModifiedTimeAfter": lambda j, v: (time_of(j, "LastModifiedTime") or 0) > epoch(v),
        "LastModifiedTimeBefore": lambda j, v: (time_of(j, "LastModifiedTime") or 0) < epoch(v),
    }
    for key, keep in tests.items():
        if payload.get(key) is not None:
            jobs = [j for j in jobs if keep(j, payload[key])]
    sort_by = payload.get("SortBy") or "CreationTime"
    if sort_by == "Name":
        key = lambda j: j.get(spec["name"], "")  # noqa: E731
    elif sort_by == "Status":
        key = lambda j: j.get(spec["status"], "")  # noqa: E731
    else:
        key = lambda j: time_of(j, "CreationTime") or 0  # noqa: E731
    jobs.sort(key=key, reverse=(payload.get("SortOrder") or "Descending") == "Descending")
    return jobs


class State:
    """Everything the proxy knows; one lock guards all of it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.config = {"latency_ms": 0, "jobs": [], "endpoints": [], "throttle": [], "registry": None}
        self.throttle_deadlines = {}  # index in config["throttle"] -> end time
        self.jobs = {}  # name -> {kind, created, stopped, describe_times}
        self.endpoints = {}  # name -> {created, updated, config, describe_times}
        self.schedules = {}  # name -> the stored schedule
        self.operations = {}
        self.logs_operations = {}
        self.throttled = {}
        self.ecr_operations = {}
        self.passthrough = 0

    def configure(self, new):
        if not isinstance(new, dict):
            raise ValueError("the configuration is a JSON object")
        known = {"latency_ms", "jobs", "endpoints", "throttle", "registry"}
        unknown = set(new) - known
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(known)}")
        for key in ("jobs", "endpoints", "throttle"):
            if key in new and not isinstance(new[key], list):
                raise ValueError(f"`{key}` is a list")
        registry = new.get("registry")
        if registry is not None and (
            not isinstance(registry, str) or urllib.parse.urlsplit(registry).scheme != "http"
        ):
            raise ValueError("`registry` is http://HOST:PORT or null")
        for rule in new.get("jobs", []):
            if rule.get("outcome", "Completed") not in ("Completed", "Failed"):
                raise ValueError("a job's outcome is Completed or Failed")
            if rule.get("kind") not in (None, *KINDS):
                raise ValueError(f"a job's kind is one of {sorted(KINDS)}")
            log_entries(rule.get("logs", []))  # raises ValueError when malformed
        for rule in new.get("endpoints", []):
            if rule.get("outcome", "InService") not in ("InService", "Failed"):
                raise ValueError("an endpoint's outcome is InService or Failed")
        for rule in new.get("throttle", []):
            if "operation" not in rule or ("count" not in rule and "seconds" not in rule):
                raise ValueError("a throttle rule has `operation` and `count` or `seconds`")
        now = time.time()
        self.config.update(new)
        if "throttle" in new:
            self.config["throttle"] = [dict(rule) for rule in new["throttle"]]
            self.throttle_deadlines = {
                i: now + float(rule["seconds"])
                for i, rule in enumerate(self.config["throttle"])
                if "seconds" in rule
            }

    # -- rules -------------------------------------------------------------

    def job_rule(self, kind, name):
        best = None
        for rule in self.config["jobs"]:
            prefix = rule.get("prefix", "")
            if rule.get("kind") not in (None, kind) or not name.startswith(prefix):
                continue
            if best is None or len(prefix) >= len(best.get("prefix", "")):
                best = rule
        return best or {}

    def endpoint_rule(self, name):
        best = None
        for rule in self.config["endpoints"]:
            prefix = rule.get("prefix", "")
            if name.startswith(prefix) and (best is None or len(prefix) >= len(best.get("prefix", ""))):
                best = rule
        return best or {}

    def take_fault(self, operation, sagemaker=True):
        """The injected error for this call, if any: (status, type, message).
        `*` matches SageMaker calls only; a CloudWatch Logs call is matched by
        its own name."""
        now = time.time()
        for i, rule in enumerate(self.config["throttle"]):
            if rule["operation"] != operation and not (sagemaker and rule["operation"] == "*"):
                continue
            if "count" in rule:
                if rule["count"] <= 0:
                    continue
                rule["count"] -= 1
            elif now >= self.throttle_deadlines.get(i, 0):
                continue
            return (
                int(rule.get("status", 400)),
                rule.get("type", "ThrottlingException"),
                rule.get("message", "Rate exceeded"),
            )
        return None

    # -- job state -----------------------------------------------------------

    def job_status(self, kind, name, created):
        """(status, end time or None, failure reason or None) for a job now."""
        now = time.time()
        rule = self.job_rule(kind, name)
        record = self.jobs.get(name)
        if record and record.get("created") is not None:
            created = record["created"]
        stopped = record.get("stopped") if record else None
        if stopped is not None:
            stop_seconds = float(rule.get("stop_seconds", 1))
            if now < stopped + stop_seconds:
                return "Stopping", None, None
            return "Stopped", stopped + stop_seconds, None
        done = created + float(rule.get("duration_seconds", 0))
        if now < done:
            return "InProgress", None, None
        if rule.get("outcome", "Completed") == "Failed":
            return "Failed", done, rule.get("failure_reason", DEFAULT_FAILURE)
        return "Completed", done, None

    def endpoint_status(self, name, created):
        now = time.time()
        rule = self.endpoint_rule(name)
        record = self.endpoints.get(name, {})
        created = record.get("created", created)
        updated = record.get("updated")
        if updated is not None:
            if now < updated + float(rule.get("updating_seconds", 0)):
                return "Updating", None
            return "InService", None
        if now < created + float(rule.get("creating_seconds", 0)):
            return "Creating", None
        if rule.get("outcome", "InService") == "Failed":
            return "Failed", rule.get("failure_reason", DEFAULT_ENDPOINT_FAILURE)
        return "InService", None

    def stats(self):
        return {
            "operations": dict(self.operations),
            "throttled": dict(self.throttled),
            "jobs": {
                name: {
                    "kind": r["kind"],
                    "created": r.get("created"),
                    "stopped": r.get("stopped"),
                    "describe_calls": len(r["describe_times"]),
                    "describe_times": list(r["describe_times"]),
                }
                for name, r in self.jobs.items()
            },
            "endpoints": {
                name: {
                    "created": r.get("created"),
                    "updated": r.get("updated"),
                    "describe_calls": len(r["describe_times"]),
                    "describe_times": list(r["describe_times"]),
                }
                for name, r in self.endpoints.items()
            },
            "ecr_operations": dict(self.ecr_operations),
            "logs_operations": dict(self.logs_operations),
            "log_lines_written": {
                name: r["log_lines_written"] for name, r in self.jobs.items() if "log_lines_written" in r
            },
            "passthrough_requests": self.passthrough,
            "now": time.time(),
        }


LOG_GROUPS = {
    "training": "/aws/sagemaker/TrainingJobs",
    "processing": "/aws/sagemaker/ProcessingJobs",
    "transform": "/aws/sagemaker/TransformJobs",
}


def log_entries(spec):
    """A job rule's `logs` as [(seconds after Create, host, message)], in
    the order they are written (by time; given order among equal times)."""
    if not isinstance(spec, list):
        raise ValueError("a job's `logs` is a list")
    at = 0.0
    out = []
    for item in spec:
        if isinstance(item, str):
            item = {"message": item}
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            raise ValueError('a `logs` entry is a string or {"message": ..., "at": s, "host": ...}')
        at = float(item.get("at", at))
        out.append((at, str(item.get("host", "algo-1")), item["message"]))
    return sorted(out, key=lambda e: e[0])


def logs_call(region, operation, payload):
    """One CloudWatch Logs call to moto (not through the proxy's counters):
    (status, body)."""
    headers = [
        ("Host", f"{UPSTREAM.host}:{UPSTREAM.port}"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", f"Logs_20140328.{operation}"),
        (
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/logs/aws4_request, "
            "SignedHeaders=host, Signature=0",
        ),
    ]
    status, _reason, _headers, data = UPSTREAM.exchange("POST", "/", headers, json.dumps(payload).encode())
    return status, data


def write_job_logs(kind, name, created, entries, region):
    """Plays SageMaker's log agent for one job: each entry is put, at its
    time, into the stream `<job>/<host>-<created>` of the kind's log group
    in moto, as PutLogEvents with the current time as its timestamp."""
    group = LOG_GROUPS[kind]
    logs_call(region, "CreateLogGroup", {"logGroupName": group})  # may exist already
    streams = {}
    for at, host, message in entries:
        delay = created + at - time.time()
        if delay > 0:
            time.sleep(delay)
        stream = streams.get(host)
        if stream is None:
            stream = f"{name}/{host}-{int(created)}"
            logs_call(region, "CreateLogStream", {"logGroupName": group, "logStreamName": stream})
            streams[host] = stream
        event = {"timestamp": int(time.time() * 1000), "message": message}
        status, data = logs_call(
            region, "PutLogEvents", {"logGroupName": group, "logStreamName": stream, "logEvents": [event]}
        )
        if status != 200:
            log(f"fault proxy: PutLogEvents for {name}: {status} {data[:200]!r}")
            continue
        with STATE.lock:
            record = STATE.jobs.setdefault(name, {"kind": kind, "created": created, "describe_times": []})
            record["log_lines_written"] = record.get("log_lines_written", 0) + 1


class Upstream:
    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise SystemExit(f"--upstream must be http://HOST:PORT, not {url}")
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.local = threading.local()

    def connection(self, fresh=False):
        if fresh:
            return http.client.HTTPConnection(self.host, self.port, timeout=600)
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            self.local.conn = conn
        return conn

    def drop(self):
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
            self.local.conn = None

    def exchange(self, method, path, headers, body):
        """A buffered request on this thread's kept-alive connection (one
        retry on a fresh one): (status, reason, [(name, value)], body)."""
        for attempt in (0, 1):
            conn = self.connection()
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.drop()
                return resp.status, resp.reason, resp.getheaders(), data
            except (OSError, http.client.HTTPException):
                self.drop()
                if attempt:
                    raise
        raise AssertionError("unreachable")


STATE = State()
UPSTREAM = None
VERBOSE = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wharf-fault-proxy"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 (http.server's name)
        pass

    # Every method goes through one entry point.
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def dispatch(self):
        started = time.time()
        self.log_status = None
        try:
            if self.path.startswith("/_proxy/"):
                self.control()
            else:
                target = self.headers.get("X-Amz-Target", "")
                if target.startswith("SageMaker."):
                    self.sagemaker(target.split(".", 1)[1])
                elif target.startswith(ECR_TARGET):
                    self.ecr(target[len(ECR_TARGET) :])
                elif target.startswith("Logs_20140328."):
                    self.cloudwatch_logs(target.split(".", 1)[1])
                else:
                    with STATE.lock:
                        STATE.passthrough += 1
                    self.passthrough()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # the proxy must answer, whatever went wrong
            log(f"fault proxy: {self.command} {self.path}: {exc!r}")
            self.close_connection = True
            try:
                self.reply(502, error_body("ProxyError", f"fault proxy: {exc!r}"))
            except OSError:
                pass
        if VERBOSE:
            target = self.headers.get("X-Amz-Target", "")
            log(
                f"fault proxy: {self.command} {self.path} {target} -> {self.log_status} "
                f"({(time.time() - started) * 1000:.1f} ms)"
            )

    # -- helpers ---------------------------------------------------------------

    def reply(self, status, body, content_type="application/x-amz-json-1.1", headers=()):
        self.log_status = status
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def reply_json(self, status, obj):
        self.reply(status, json.dumps(obj).encode(), content_type="application/json")

    def sagemaker_error(self, status, kind, message):
        self.reply(status, error_body(kind, message), headers=[("x-amzn-ErrorType", kind)])

    def read_body(self):
        """The whole request body (Content-Length or chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def forward_headers(self, keep_length=False):
        out = []
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower.startswith("proxy-"):
                continue
            if lower == "content-length" and not keep_length:
                continue
            out.append((name, value))
        return out

    # -- control API -----------------------------------------------------------

    def control(self):
        path = self.path.split("?", 1)[0]
        body = self.read_body()
        if path == "/_proxy/config" and self.command == "POST":
            try:
                new = json.loads(body or b"{}")
                with STATE.lock:
                    STATE.configure(new)
                    config = json.loads(json.dumps(STATE.config))
            except ValueError as exc:
                return self.reply_json(400, {"error": str(exc)})
            return self.reply_json(200, config)
        if path == "/_proxy/config" and self.command == "GET":
            with STATE.lock:
                config = json.loads(json.dumps(STATE.config))
            return self.reply_json(200, config)
        if path == "/_proxy/reset" and self.command == "POST":
            with STATE.lock:
                STATE.reset()
            return self.reply_json(200, {"reset": True})
        if path == "/_proxy/stats" and self.command == "GET":
            with STATE.lock:
                stats = STATE.stats()
            return self.reply_json(200, stats)
        return self.reply_json(404, {"error": f"no control route {self.command} {path}"})

    # -- pass-through (S3 and everything not SageMaker), streamed ---------------

    def passthrough(self):
        conn = UPSTREAM.connection(fresh=True)
        try:
            self.forward_streamed(conn)
        finally:
            conn.close()

    def cloudwatch_logs(self, operation):
        """A CloudWatch Logs call: counted, faulted when a throttle rule names
        it, else forwarded to moto untouched."""
        with STATE.lock:
            STATE.logs_operations[operation] = STATE.logs_operations.get(operation, 0) + 1
            fault = STATE.take_fault(operation, sagemaker=False)
            if fault:
                STATE.throttled[operation] = STATE.throttled.get(operation, 0) + 1
        if fault:
            self.read_body()
            return self.sagemaker_error(*fault)
        self.passthrough()

    def forward_streamed(self, conn):
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.forward_headers(keep_length=not chunked):
            conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        rfile = self.rfile
        if chunked:
            # Forward the chunked body as it comes, chunk framing included.
            while True:
                line = rfile.readline(65537)
                conn.send(line)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = rfile.readline(65537)
                        conn.send(trailer)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                self.copy(rfile, conn, size)
                conn.send(rfile.readline(65537))
        else:
            self.copy(rfile, conn, int(self.headers.get("Content-Length") or 0))

        resp = conn.getresponse()
        self.log_status = resp.status
        headers = [(n, v) for n, v in resp.getheaders() if n.lower() not in HOP_BY_HOP]
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        length = resp.getheader("Content-Length")
        self.send_response_only(resp.status, resp.reason)
        for name, value in headers:
            self.send_header(name, value)
        if no_body:
            self.end_headers()
            resp.read()
        elif length is not None and not resp.chunked:
            self.end_headers()
            remaining = int(length)
            while remaining > 0:
                data = resp.read(min(COPY_CHUNK, remaining))
                if not data:
                    raise ConnectionResetError("moto closed the response early")
                self.wfile.write(data)
                remaining -= len(data)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while True:
                data = resp.read1(COPY_CHUNK) if hasattr(resp, "read1") else resp.read(COPY_CHUNK)
                if not data:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    @staticmethod
    def copy(rfile, conn, size):
        while size > 0:
            data = rfile.read(min(COPY_CHUNK, size))
            if not data:
                raise ConnectionResetError("the client closed the request body early")
            conn.send(data)
            size -= len(data)

    # -- SageMaker -------------------------------------------------------------

    def upstream(self, operation, payload, service="SageMaker."):
        """One SageMaker (or ECR) call to moto with this request's headers:
        (status, headers, body bytes)."""
        headers = [
            (n, v)
            for n, v in self.forward_headers()
            if n.lower() not in ("x-amz-target", "accept-encoding")
        ]
        headers.append(("X-Amz-Target", f"{service}{operation}"))
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        status, _reason, resp_headers, data = UPSTREAM.exchange("POST", self.path, headers, body)
        return status, resp_headers, data

    def relay(self, status, headers, data):
        keep = [
            (n, v)
            for n, v in headers
            if n.lower() not in HOP_BY_HOP and n.lower() not in ("content-length", "content-type")
        ]
        content_type = next(
            (v for n, v in headers if n.lower() == "content-type"), "application/x-amz-json-1.1"
        )
        self.reply(status, data, content_type=content_type, headers=keep)

    def sagemaker(self, operation):
        raw = self.read_body()
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = None
        with STATE.lock:
            STATE.operations[operation] = STATE.operations.get(operation, 0) + 1
            latency = float(STATE.config.get("latency_ms", 0)) / 1000.0
            self.note_describe(operation, payload)
            fault = STATE.take_fault(operation)
            if fault:
                STATE.throttled[operation] = STATE.throttled.get(operation, 0) + 1
        if latency > 0:
            time.sleep(latency)
        if fault:
            return self.sagemaker_error(*fault)
        if not isinstance(payload, dict):
            return self.relay(*self.upstream(operation, raw))

        handler = self.route(operation)
        if handler is None:
            return self.relay(*self.upstream(operation, raw))
        return handler(operation, payload, raw)

    def note_describe(self, operation, payload):
        """Counts a Describe call per job / endpoint (STATE.lock held)."""
        if not isinstance(payload, dict) or not operation.startswith("Describe"):
            return
        noun = operation[len("Describe") :]
        now = time.time()
        if noun in KIND_OF_NOUN:
            kind = KIND_OF_NOUN[noun]
            name = payload.get(KINDS[kind]["name"])
            if isinstance(name, str):
                record = STATE.jobs.setdefault(
                    name, {"kind": kind, "created": None, "stopped": None, "describe_times": []}
                )
                record["describe_times"].append(now)
        elif noun == "Endpoint":
            name = payload.get("EndpointName")
            if isinstance(name, str):
                record = STATE.endpoints.setdefault(name, {"describe_times": []})
                record["describe_times"].append(now)

    def route(self, operation):
        for prefix, method in (
            ("Create", self.create_job),
            ("Describe", self.describe_job),
            ("List", self.list_jobs),
            ("Stop", self.stop_job),
        ):
            if operation.startswith(prefix):
                noun = operation[len(prefix) :]
                if prefix == "List":
                    noun = noun[:-1] if noun.endswith("s") else noun
                if noun in KIND_OF_NOUN:
                    return method
        return {
            "CreateEndpoint": self.create_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "ListEndpoints": self.list_endpoints,
            "UpdateEndpoint": self.update_endpoint,
            "DeleteEndpoint": self.delete_endpoint,
            "CreateMonitoringSchedule": self.create_schedule,
            "DescribeMonitoringSchedule": self.describe_schedule,
            "ListMonitoringSchedules": self.list_schedules,
            "UpdateMonitoringSchedule": self.update_schedule,
            "DeleteMonitoringSchedule": self.delete_schedule,
            "StartMonitoringSchedule": self.start_stop_schedule,
            "StopMonitoringSchedule": self.start_stop_schedule,
        }.get(operation)

    # -- jobs --------------------------------------------------------------------

    @staticmethod
    def kind_of(operation):
        for prefix in ("Create", "Describe", "List", "Stop"):
            if operation.startswith(prefix):
                noun = operation[len(prefix) :]
                if prefix == "List":
                    noun = noun[:-1]
                return KIND_OF_NOUN[noun]
        raise KeyError(operation)

    def create_job(self, operation, payload, raw):
        kind = self.kind_of(operation)
        now = time.time()
        status, headers, data = self.upstream(operation, raw)
        name = payload.get(KINDS[kind]["name"])
        if status == 200 and isinstance(name, str):
            with STATE.lock:
                record = STATE.jobs.setdefault(name, {"describe_times": []})
                record.update(kind=kind, created=now, stopped=None)
                entries = log_entries(STATE.job_rule(kind, name).get("logs", []))
            if entries and kind in LOG_GROUPS:
                threading.Thread(
                    target=write_job_logs,
                    args=(kind, name, now, entries, self.region()),
                    daemon=True,
                ).start()
        return self.relay(status, headers, data)

    def rewrite_job(self, kind, job):
        """Rewrites a Describe answer or a List summary in place (lock held)."""
        spec = KINDS[kind]
        name = job.get(spec["name"])
        if not isinstance(name, str):
            return
        created = job.get("CreationTime")
        created = float(created) if isinstance(created, (int, float)) else time.time()
        status, end, reason = STATE.job_status(kind, name, created)
        job[spec["status"]] = status
        if end is None:
            job.pop(spec["end"], None)
            if kind == "training":
                job.pop("ModelArtifacts", None)
        else:
            job[spec["end"]] = end
        if reason is not None:
            job["FailureReason"] = reason
        else:
            job.pop("FailureReason", None)
        if kind == "tuning":
            # moto answers a made-up best job; a test names the one that won.
            best = STATE.job_rule(kind, name).get("best_training_job")
            if status != "Completed":
                job.pop("BestTrainingJob", None)
                job.pop("OverallBestTrainingJob", None)
            elif best is not None:
                job["BestTrainingJob"] = dict(best, TuningJobName=name)
                job["OverallBestTrainingJob"] = dict(best, TuningJobName=name)
        # The time of the last status change, as SageMaker keeps it.
        record = STATE.jobs.get(name) or {}
        if status in ("Stopping", "Stopped"):
            job["LastModifiedTime"] = end if status == "Stopped" else record.get("stopped")
        else:
            job["LastModifiedTime"] = end if end is not None else record.get("created") or created
        if kind == "training" and "SecondaryStatus" in job:
            job["SecondaryStatus"] = {
                "InProgress": "Training",
                "Completed": "Completed",
                "Failed": "Failed",
                "Stopping": "Stopping",
                "Stopped": "Stopped",
            }[status]

    def describe_job(self, operation, payload, raw):
        kind = self.kind_of(operation)
        status, headers, data = self.upstream(operation, raw)
        job = parse_object(data) if status == 200 else None
        if job is None:
            return self.relay(status, headers, data)
        with STATE.lock:
            self.rewrite_job(kind, job)
        return self.relay(status, headers, json.dumps(job).encode())

    def list_jobs(self, operation, payload, raw):
        """List*Jobs with the proxy's lifecycle: every job is fetched from
        moto unfiltered (moto filters after paginating, and by its own
        times), rewritten, then filtered, sorted and paginated here, so that
        StatusEquals and LastModifiedTime{After,Before} see the statuses and
        times the proxy gives, and a page is never short of a match."""
        kind = self.kind_of(operation)
        spec = KINDS[kind]
        status, headers, data = self.upstream(operation, {})
        answer = parse_object(data) if status == 200 else None
        if answer is None:
            return self.relay(status, headers, data)
        jobs = answer.get(spec["list"], [])
        with STATE.lock:
            for job in jobs:
                self.rewrite_job(kind, job)
        jobs = filter_summaries(jobs, payload, spec)
        start = int(payload.get("NextToken") or 0)
        limit = int(payload.get("MaxResults") or 10)
        page = jobs[start : start + limit]
        answer = {spec["list"]: page}
        if start + limit < len(jobs):
            answer["NextToken"] = str(start + limit)
        return self.relay(status, headers, json.dumps(answer).encode())

    def stop_job(self, operation, payload, raw):
        kind = self.kind_of(operation)
        spec = KINDS[kind]
        name = payload.get(spec["name"])
        if not isinstance(name, str):
            return self.sagemaker_error(400, "ValidationException", f"{spec['name']} is required")
        status, headers, data = self.upstream(f"Describe{spec['noun']}", {spec["name"]: name})
        job = parse_object(data) if status == 200 else None
        if job is None:
            return self.relay(status, headers, data)
        created = job.get("CreationTime")
        created = float(created) if isinstance(created, (int, float)) else time.time()
        with STATE.lock:
            current, _, _ = STATE.job_status(kind, name, created)
            if current not in TERMINAL:
                self.mark_stopped(kind, name, created)
        if current in TERMINAL:
            message = f"The request was rejected because the {kind} job is in status {current}."
            return self.sagemaker_error(400, "ValidationException", message)
        if spec["stop_in_moto"]:
            self.upstream(operation, raw)
        return self.reply(200, b"{}")

    @staticmethod
    def mark_stopped(kind, name, created):
        """Records a Stop call (STATE.lock held)."""
        record = STATE.jobs.setdefault(name, {"kind": kind, "created": created, "describe_times": []})
        if record.get("created") is None:
            record["created"] = created
        if record.get("stopped") is None:
            record["stopped"] = time.time()

    # -- endpoints -------------------------------------------------------------

    def create_endpoint(self, operation, payload, raw):
        now = time.time()
        status, headers, data = self.upstream(operation, raw)
        name = payload.get("EndpointName")
        if status == 200 and isinstance(name, str):
            with STATE.lock:
                record = STATE.endpoints.setdefault(name, {"describe_times": []})
                record.update(created=now, updated=None, config=None)
        return self.relay(status, headers, data)

    def rewrite_endpoint(self, endpoint):
        name = endpoint.get("EndpointName")
        if not isinstance(name, str):
            return
        created = endpoint.get("CreationTime")
        created = float(created) if isinstance(created, (int, float)) else time.time()
        status, reason = STATE.endpoint_status(name, created)
        endpoint["EndpointStatus"] = status
        record = STATE.endpoints.get(name, {})
        if record.get("config"):
            endpoint["EndpointConfigName"] = record["config"]
        if record.get("updated"):
            endpoint["LastModifiedTime"] = record["updated"]
        if reason is not None:
            endpoint["FailureReason"] = reason

    def describe_endpoint(self, operation, payload, raw):
        status, headers, data = self.upstream(operation, raw)
        endpoint = parse_object(data) if status == 200 else None
        if endpoint is None:
            return self.relay(status, headers, data)
        with STATE.lock:
            self.rewrite_endpoint(endpoint)
        return self.relay(status, headers, json.dumps(endpoint).encode())

    def list_endpoints(self, operation, payload, raw):
        wanted = payload.pop("StatusEquals", None)
        status, headers, data = self.upstream(operation, payload)
        answer = parse_object(data) if status == 200 else None
        if answer is None:
            return self.relay(status, headers, data)
        with STATE.lock:
            for endpoint in answer.get("Endpoints", []):
                self.rewrite_endpoint(endpoint)
        if wanted is not None:
            answer["Endpoints"] = [e for e in answer.get("Endpoints", []) if e.get("EndpointStatus") == wanted]
        return self.relay(status, headers, json.dumps(answer).encode())

    def update_endpoint(self, operation, payload, raw):
        name = payload.get("EndpointName")
        config = payload.get("EndpointConfigName")
        if not isinstance(name, str) or not isinstance(config, str):
            return self.sagemaker_error(
                400, "ValidationException", "EndpointName and EndpointConfigName are required"
            )
        status, headers, data = self.upstream("DescribeEndpoint", {"EndpointName": name})
        endpoint = parse_object(data) if status == 200 else None
        if endpoint is None:
            return self.relay(status, headers, data)
        cstatus, cheaders, cdata = self.upstream(
            "DescribeEndpointConfig", {"EndpointConfigName": config}
        )
        if cstatus != 200:
            return self.sagemaker_error(
                400, "ValidationException", f"Could not find endpoint configuration \"{config}\"."
            )
        created = endpoint.get("CreationTime")
        created = float(created) if isinstance(created, (int, float)) else time.time()
        with STATE.lock:
            current, _ = STATE.endpoint_status(name, created)
            if current in ("InService", "Failed"):
                record = STATE.endpoints.setdefault(name, {"describe_times": []})
                record.setdefault("created", created)
                record.update(updated=time.time(), config=config)
        if current not in ("InService", "Failed"):
            return self.sagemaker_error(
                400,
                "ValidationException",
                f"Cannot update in-progress endpoint \"{endpoint.get('EndpointArn', name)}\".",
            )
        return self.reply(200, json.dumps({"EndpointArn": endpoint.get("EndpointArn")}).encode())

    def delete_endpoint(self, operation, payload, raw):
        status, headers, data = self.upstream(operation, raw)
        name = payload.get("EndpointName")
        if status == 200 and isinstance(name, str):
            with STATE.lock:
                record = STATE.endpoints.get(name)
                if record is not None:
                    # Keep the Describe statistics; forget the lifecycle.
                    STATE.endpoints[name] = {"describe_times": record["describe_times"]}
        return self.relay(status, headers, data)

    # -- ECR with a real registry ----------------------------------------------

    def ecr(self, operation):
        raw = self.read_body()
        with STATE.lock:
            STATE.ecr_operations[operation] = STATE.ecr_operations.get(operation, 0) + 1
            registry = STATE.config.get("registry")
        payload = parse_object(raw or b"{}")
        handler = {
            "GetAuthorizationToken": self.ecr_login,
            "DescribeImages": self.ecr_describe_images,
            "BatchGetImage": self.ecr_batch_get_image,
        }.get(operation)
        if registry is None or payload is None or handler is None:
            return self.relay(*self.upstream(operation, raw, ECR_TARGET))
        return handler(operation, payload, raw, registry)

    def ecr_error(self, kind, message):
        self.reply(400, error_body(kind, message), headers=[("x-amzn-ErrorType", kind)])

    def ecr_login(self, operation, payload, raw, registry):
        status, headers, data = self.upstream(operation, raw, ECR_TARGET)
        answer = parse_object(data) if status == 200 else None
        if answer is None:
            return self.relay(status, headers, data)
        for item in answer.get("authorizationData", []):
            item["proxyEndpoint"] = registry.rstrip("/")
        return self.relay(status, headers, json.dumps(answer).encode())

    def ecr_repository(self, operation, payload, raw):
        """moto's answer when it does not know the repository, else None."""
        status, headers, data = self.upstream(operation, raw, ECR_TARGET)
        error = parse_object(data) if status != 200 else None
        if error is not None and "RepositoryNotFound" in str(error.get("__type", "")):
            return status, headers, data
        return None

    def ecr_images(self, payload, registry):
        """[(image id asked for, (digest, media type, manifest) or None)]."""
        repository = payload.get("repositoryName", "")
        source = Registry(registry)
        asked = payload.get("imageIds") or [{"imageTag": t} for t in source.tags(repository)]
        found = []
        for image_id in asked:
            reference = image_id.get("imageTag") or image_id.get("imageDigest")
            found.append((image_id, source.manifest(repository, reference) if reference else None))
        return found

    def ecr_describe_images(self, operation, payload, raw, registry):
        missing_repository = self.ecr_repository(operation, payload, raw)
        if missing_repository is not None:
            return self.relay(*missing_repository)
        repository = payload.get("repositoryName", "")
        details = []
        for image_id, held in self.ecr_images(payload, registry):
            if held is None:
                return self.ecr_error(
                    "ImageNotFoundException",
                    f"The image with imageId {json.dumps(image_id)} does not exist within the repository "
                    f"with name '{repository}' in the registry with id '{ACCOUNT}'",
                )
            digest, media_type, manifest = held
            layers = (parse_object(manifest) or {}).get("layers") or []
            details.append(
                {
                    "registryId": ACCOUNT,
                    "repositoryName": repository,
                    "imageDigest": digest,
                    "imageTags": [image_id["imageTag"]] if image_id.get("imageTag") else [],
                    "imageSizeInBytes": sum(int(layer.get("size", 0)) for layer in layers),
                    "imagePushedAt": time.time(),
                    "imageManifestMediaType": media_type,
                }
            )
        return self.reply(200, json.dumps({"imageDetails": details}).encode())

    def ecr_batch_get_image(self, operation, payload, raw, registry):
        missing_repository = self.ecr_repository(operation, payload, raw)
        if missing_repository is not None:
            return self.relay(*missing_repository)
        repository = payload.get("repositoryName", "")
        images, failures = [], []
        for image_id, held in self.ecr_images(payload, registry):
            if held is None:
                failures.append(
                    {"imageId": image_id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}
                )
                continue
            digest, media_type, manifest = held
            images.append(
                {
                    "registryId": ACCOUNT,
                    "repositoryName": repository,
                    "imageId": {**image_id, "imageDigest": digest},
                    "imageManifest": manifest.decode(),
                    "imageManifestMediaType": media_type,
                }
            )
        return self.reply(200, json.dumps({"images": images, "failures": failures}).encode())

    # -- monitoring schedules (not in moto) ------------------------------------

    def schedule_endpoint(self, config):
        definition = config.get("MonitoringJobDefinition") or {}
        for item in definition.get("MonitoringInputs") or []:
            name = (item.get("EndpointInput") or {}).get("EndpointName")
            if name:
                return name
        definition_name = config.get("MonitoringJobDefinitionName")
        if not definition_name:
            return None
        monitoring_type = config.get("MonitoringType") or "DataQuality"
        status, _, data = self.upstream(
            f"Describe{monitoring_type}JobDefinition", {"JobDefinitionName": definition_name}
        )
        if status != 200:
            return None
        described = parse_object(data) or {}
        job_input = described.get(f"{monitoring_type}JobInput") or {}
        return (job_input.get("EndpointInput") or {}).get("EndpointName")

    def create_schedule(self, operation, payload, raw):
        name = payload.get("MonitoringScheduleName")
        config = payload.get("MonitoringScheduleConfig")
        if not isinstance(name, str) or not name or not isinstance(config, dict):
            return self.sagemaker_error(
                400,
                "ValidationException",
                "MonitoringScheduleName and MonitoringScheduleConfig are required",
            )
        endpoint = self.schedule_endpoint(config)
        now = time.time()
        arn = f"arn:aws:sagemaker:{self.region()}:{ACCOUNT}:monitoring-schedule/{name.lower()}"
        with STATE.lock:
            exists = name in STATE.schedules
            if not exists:
                STATE.schedules[name] = {
                    "MonitoringScheduleArn": arn,
                    "MonitoringScheduleName": name,
                    "MonitoringScheduleStatus": "Scheduled",
                    "MonitoringType": config.get("MonitoringType") or "DataQuality",
                    "CreationTime": now,
                    "LastModifiedTime": now,
                    "MonitoringScheduleConfig": config,
                    "EndpointName": endpoint,
                    "Tags": payload.get("Tags") or [],
                }
        if exists:
            return self.sagemaker_error(400, "ResourceInUse", f"Monitoring schedule {name} already exists")
        return self.reply(200, json.dumps({"MonitoringScheduleArn": arn}).encode())

    def region(self):
        auth = self.headers.get("Authorization", "")
        # Credential=KEY/DATE/REGION/SERVICE/aws4_request
        try:
            return auth.split("Credential=", 1)[1].split("/")[2]
        except IndexError:
            return "us-east-1"

    def missing_schedule(self, name):
        return self.sagemaker_error(
            400, "ResourceNotFound", f"Monitoring schedule {name} does not exist"
        )

    @staticmethod
    def schedule_view(schedule):
        view = {k: v for k, v in schedule.items() if k != "Tags" and v is not None}
        return view

    def describe_schedule(self, operation, payload, raw):
        name = payload.get("MonitoringScheduleName")
        with STATE.lock:
            schedule = STATE.schedules.get(name)
            view = None if schedule is None else self.schedule_view(schedule)
        if view is None:
            return self.missing_schedule(name)
        return self.reply(200, json.dumps(view).encode())

    def list_schedules(self, operation, payload, raw):
        with STATE.lock:
            schedules = [dict(s) for s in STATE.schedules.values()]
        filters = {
            "EndpointName": lambda s, v: s.get("EndpointName") == v,
            "NameContains": lambda s, v: v.lower() in s["MonitoringScheduleName"].lower(),
            "StatusEquals": lambda s, v: s["MonitoringScheduleStatus"] == v,
            "MonitoringTypeEquals": lambda s, v: s["MonitoringType"] == v,
            "MonitoringJobDefinitionName": lambda s, v: s["MonitoringScheduleConfig"].get(
                "MonitoringJobDefinitionName"
            )
            == v,
            "CreationTimeBefore": lambda s, v: s["CreationTime"] < float(v),
            "CreationTimeAfter": lambda s, v: s["CreationTime"] > float(v),
            "LastModifiedTimeBefore": lambda s, v: s["LastModifiedTime"] < float(v),
            "LastModifiedTimeAfter": lambda s, v: s["LastModifiedTime"] > float(v),
        }
        for key, keep in filters.items():
            if payload.get(key) is not None:
                schedules = [s for s in schedules if keep(s, payload[key])]
        sort_key = {"Name": "MonitoringScheduleName", "Status": "MonitoringScheduleStatus"}.get(
            payload.get("SortBy"), "CreationTime"
        )
        schedules.sort(key=lambda s: s[sort_key], reverse=payload.get("SortOrder", "Descending") == "Descending")
        start = int(payload.get("NextToken") or 0)
        limit = int(payload.get("MaxResults") or 100)
        page = schedules[start : start + limit]
        summaries = []
        for s in page:
            summary = {
                "MonitoringScheduleName": s["MonitoringScheduleName"],
                "MonitoringScheduleArn": s["MonitoringScheduleArn"],
                "CreationTime": s["CreationTime"],
                "LastModifiedTime": s["LastModifiedTime"],
                "MonitoringScheduleStatus": s["MonitoringScheduleStatus"],
                "EndpointName": s.get("EndpointName"),
                "MonitoringJobDefinitionName": s["MonitoringScheduleConfig"].get(
                    "MonitoringJobDefinitionName"
                ),
                "MonitoringType": s["MonitoringType"],
            }
            summaries.append({k: v for k, v in summary.items() if v is not None})
        answer = {"MonitoringScheduleSummaries": summaries}
        if start + limit < len(schedules):
            answer["NextToken"] = str(start + limit)
        return self.reply(200, json.dumps(answer).encode())

    def update_schedule(self, operation, payload, raw):
        name = payload.get("MonitoringScheduleName")
        config = payload.get("MonitoringScheduleConfig")
        if not isinstance(config, dict):
            return self.sagemaker_error(400, "ValidationException", "MonitoringScheduleConfig is required")
        endpoint = self.schedule_endpoint(config)
        with STATE.lock:
            schedule = STATE.schedules.get(name)
            if schedule is not None:
                schedule.update(
                    MonitoringScheduleConfig=config,
                    MonitoringType=config.get("MonitoringType") or schedule["MonitoringType"],
                    EndpointName=endpoint or schedule.get("EndpointName"),
                    LastModifiedTime=time.time(),
                )
        if schedule is None:
            return self.missing_schedule(name)
        arn = schedule["MonitoringScheduleArn"]
        return self.reply(200, json.dumps({"MonitoringScheduleArn": arn}).encode())

    def delete_schedule(self, operation, payload, raw):
        name = payload.get("MonitoringScheduleName")
        with STATE.lock:
            schedule = STATE.schedules.pop(name, None)
        if schedule is None:
            return self.missing_schedule(name)
        return self.reply(200, b"{}")

    def start_stop_schedule(self, operation, payload, raw):
        name = payload.get("MonitoringScheduleName")
        with STATE.lock:
            schedule = STATE.schedules.get(name)
            if schedule is not None:
                schedule["MonitoringScheduleStatus"] = (
                    "Scheduled" if operation.startswith("Start") else "Stopped"
                )
                schedule["LastModifiedTime"] = time.time()
        if schedule is None:
            return self.missing_schedule(name)
        return self.reply(200, b"{}")


class Registry:
    """Reads what a Docker registry (v2 API, plain HTTP) holds. A registry
    that does not answer holds nothing: a test can name one where nothing
    listens, so that ECR's API answers and the push fails."""

    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname
        self.port = parsed.port or 80

    def get(self, path, headers=None):
        """(status, headers, body) of a GET, or None when nothing answers."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp, resp.read()
        except OSError:
            return None
        finally:
            conn.close()

    def manifest(self, repository, reference):
        """(digest, media type, manifest bytes) of `repository:reference`, or None."""
        got = self.get(
            f"/v2/{repository}/manifests/{reference}",
            {"Accept": ", ".join(MANIFEST_TYPES)},
        )
        if got is None or got[0] != 200:
            return None
        _, resp, body = got
        media_type = resp.getheader("Content-Type", MANIFEST_TYPES[0]).split(";")[0]
        return resp.getheader("Docker-Content-Digest"), media_type, body

    def tags(self, repository):
        got = self.get(f"/v2/{repository}/tags/list")
        if got is None or got[0] != 200:
            return []
        return (parse_object(got[2]) or {}).get("tags") or []


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def main():
    global UPSTREAM, VERBOSE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="moto's URL, http://HOST:PORT")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="one line per request on stderr")
    args = parser.parse_args()
    UPSTREAM = Upstream(args.upstream)
    VERBOSE = args.verbose
    server = Server((args.host, args.port), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
