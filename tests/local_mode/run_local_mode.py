#!/usr/bin/env python3
"""Runs one training job and one processing job in the SageMaker Python SDK's
local mode, with no AWS, and writes what the containers saw to RESULT_DIR.

    run_local_mode.py IMAGE DATA_DIR RESULT_DIR

IMAGE     a local image with /usr/bin/train and /usr/bin/process (the probe
          image tests/cli_local_mode.rs builds); nothing is pulled
DATA_DIR  holds train/ (the training channel `train`) and raw/ (the
          processing input `raw`); given to local mode as file:// URIs
RESULT_DIR receives
          train/model/   model.tar.gz unpacked (what /usr/bin/train wrote to /opt/ml/model)
          train/output/  output.tar.gz unpacked (local mode packs all of /opt/ml/output)
          process/out/   the processing output `out` (/opt/ml/processing/output/out)
          local-mode.json  the SDK version, job names, compose command

tests/cli_local_mode.rs runs the same two jobs through `wharf run` and
compares. Written against sagemaker 2.257.6 (.ci/local-mode-venv.sh pins it).

Keeping AWS out (read from the SDK's source in the venv):
- Credentials and region are dummies set below, before boto3 is imported;
  the user's ~/.aws files are hidden and the EC2 metadata service is off.
  Local mode puts the session's credentials into every container's
  environment (sagemaker/local/image.py `_aws_credentials`), so real ones
  must never reach it.
- Telemetry: every LocalSagemakerClient.create_* is wrapped by
  `_telemetry_emitter` (sagemaker/telemetry/telemetry_logging.py), which
  calls STS GetCallerIdentity and GETs an S3 URL after the job unless
  SageMaker.PythonSDK.Modules.TelemetryOptOut is set; it is, through the
  `sagemaker_config` given to LocalSession (which also keeps the SDK from
  reading the machine's config files).
- Processing: `Processor.run` uploads every input and output that is not
  s3:// to the session's default bucket (processing.py `_normalize_inputs`,
  `_normalize_outputs`: STS, S3 CreateBucket, PutObject), although local
  mode itself reads and writes file:// URIs (local/data.py, local/utils.py
  `move_to_destination`). `FileProcessor` below keeps file:// URIs as
  given; the rest of Processor.run (the request, the local client) is the
  SDK's own.
- Training needs nothing: Estimator.fit with file:// channels and a file://
  output_path never calls AWS.
- A guard on sockets below refuses (and reports) any connection other than
  a Unix socket, so a change in the SDK that reaches out fails this script
  instead of hanging on a network this machine does not have.
Containers: local mode runs `docker compose -f <root>/<tmp>/docker-compose.yaml
up --build --abort-on-container-exit` and never `down`, so stopped
containers stay behind; this script runs `down` on every compose file it
made. The Rust test also removes every container of the probe image.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile

DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAWHARFLOCALMODE00",
    "AWS_SECRET_ACCESS_KEY": "wharf-local-mode-dummy-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
for _k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_k, None)
os.environ.update(DUMMY_ENV)

ROLE = "arn:aws:iam::123456789012:role/wharf-test"
HYPERPARAMETERS = {"depth": 6, "rate": 0.5, "name": "rf", "flags": [1, 2]}
PROCESS_COMMAND = ["/usr/bin/process", "--mode", "fast"]

# --- the network guard --------------------------------------------------------

NETWORK_ATTEMPTS = []
_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address):
    if self.family == socket.AF_UNIX:
        return _connect(self, address)
    NETWORK_ATTEMPTS.append(repr(address))
    raise OSError("run_local_mode.py: no network (tried to connect to %r)" % (address,))


def _guarded_getaddrinfo(host, *args, **kwargs):
    NETWORK_ATTEMPTS.append("resolve %r" % (host,))
    raise socket.gaierror("run_local_mode.py: no network (tried to resolve %r)" % (host,))


socket.socket.connect = _guarded_connect
socket.getaddrinfo = _guarded_getaddrinfo

# --- the SDK ----------------------------------------------------------------------

import sagemaker  # noqa: E402  (after the environment and the guard)
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.local import LocalSession  # noqa: E402
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor  # noqa: E402


class FileProcessor(Processor):
    """Processor whose file:// inputs and outputs stay file:// (see the top)."""

    def _normalize_inputs(self, inputs=None, kms_key=None):
        inputs = list(inputs or [])
        for count, item in enumerate(inputs, 1):
            item.input_name = item.input_name or "input-%d" % count
        return inputs

    def _normalize_outputs(self, outputs=None):
        outputs = list(outputs or [])
        for count, item in enumerate(outputs, 1):
            item.output_name = item.output_name or "output-%d" % count
        return outputs


def session(container_root):
    s = LocalSession(
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        }
    )
    # local_code: code and data on this machine are used in place (no S3);
    # container_root: where local mode writes its compose files and config
    # folders (default: the system temp folder).
    s.config = {"local": {"local_code": True, "container_root": container_root}}
    return s


def unpack(archive, into):
    os.makedirs(into, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def train(image, data_dir, result_dir, container_root):
    artifacts = os.path.join(result_dir, "train", "artifacts")
    os.makedirs(artifacts)
    estimator = Estimator(
        image_uri=image,
        role=ROLE,
        instance_count=1,
        instance_type="local",
        hyperparameters=HYPERPARAMETERS,
        output_path="file://" + artifacts,
        base_job_name="wharf-lm-train",
        sagemaker_session=session(container_root),
    )
    estimator.fit({"train": "file://" + os.path.join(data_dir, "train")}, logs=False)
    # A file:// output_path receives the archives flat (local/utils.py).
    unpack(os.path.join(artifacts, "model.tar.gz"), os.path.join(result_dir, "train", "model"))
    unpack(os.path.join(artifacts, "output.tar.gz"), os.path.join(result_dir, "train", "output"))
    return estimator.latest_training_job.name


def process(image, data_dir, result_dir, container_root):
    out = os.path.join(result_dir, "process", "out")
    os.makedirs(out)
    processor = FileProcessor(
        role=ROLE,
        image_uri=image,
        instance_count=1,
        instance_type="local",
        entrypoint=PROCESS_COMMAND,
        base_job_name="wharf-lm-process",
        sagemaker_session=session(container_root),
    )
    processor.run(
        inputs=[
            ProcessingInput(
                source="file://" + os.path.join(data_dir, "raw"),
                destination="/opt/ml/processing/input/raw",
                input_name="raw",
            )
        ],
        outputs=[
            ProcessingOutput(
                source="/opt/ml/processing/output/out",
                destination="file://" + out,
                output_name="out",
            )
        ],
        logs=False,
    )
    return processor.latest_job.job_name


def compose_down(container_root, compose):
    for folder, _, files in os.walk(container_root):
        if "docker-compose.yaml" in files:
            path = os.path.join(folder, "docker-compose.yaml")
            subprocess.run(
                compose + ["-f", path, "down", "--volumes"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    image, data_dir, result_dir = sys.argv[1], *map(os.path.abspath, sys.argv[2:])
    os.makedirs(result_dir, exist_ok=True)
    from sagemaker.local.image import _SageMakerContainer

    compose = _SageMakerContainer._get_compose_cmd_prefix()
    container_root = tempfile.mkdtemp(prefix="wharf-lm-")
    try:
        training_job = train(image, data_dir, result_dir, container_root)
        processing_job = process(image, data_dir, result_dir, container_root)
    finally:
        compose_down(container_root, compose)
        shutil.rmtree(container_root, ignore_errors=True)
    with open(os.path.join(result_dir, "local-mode.json"), "w") as f:
        json.dump(
            {
                "sagemaker_version": sagemaker.__version__,
                "compose": compose,
                "training_job_name": training_job,
                "processing_job_name": processing_job,
                "network_attempts": NETWORK_ATTEMPTS,
            },
            f,
            indent=2,
        )
    if NETWORK_ATTEMPTS:
        sys.exit("run_local_mode.py: local mode tried the network: %s" % NETWORK_ATTEMPTS)


if __name__ == "__main__":
    main()
