#!/usr/bin/env bash
# Creates (once) a virtualenv with moto's server, which the SageMaker and S3
# tests run against (tests/common/moto.rs starts it, with tests/aws/fault_proxy.py
# in front), and the AWS CLI v1, the reference client of the upload benchmark
# (`aws s3 cp --recursive`) and of tests/moto_harness.rs. Prints the venv's bin
# folder as its last line on stdout (everything else goes to stderr).
#
#   WHARF_MOTO_VENV   where the venv lives (default ~/.cache/wharf-ci/venv-moto)
#   WHARF_PYTHON      the interpreter that creates it (default python3)
#
# Idempotent: when the venv already has the pinned versions nothing is installed.
# Needs PyPI only. awscli v1 pins botocore exactly; pip picks the boto3 that
# matches it (moto needs boto3 too).
set -euo pipefail

MOTO_VERSION=5.2.5
AWSCLI_VERSION=1.46.3
venv="${WHARF_MOTO_VENV:-$HOME/.cache/wharf-ci/venv-moto}"
python="$venv/bin/python3"

installed() {
    [ -x "$python" ] && [ -x "$venv/bin/moto_server" ] && [ -x "$venv/bin/aws" ] &&
        [ "$("$python" -c 'import importlib.metadata as m; print(m.version("moto"), m.version("awscli"))' 2>/dev/null)" = "$MOTO_VERSION $AWSCLI_VERSION" ]
}

if installed; then
    echo "moto venv: moto $MOTO_VERSION and awscli $AWSCLI_VERSION already in $venv" >&2
else
    start=$(date +%s)
    echo "moto venv: installing moto[server] $MOTO_VERSION and awscli $AWSCLI_VERSION into $venv" >&2
    mkdir -p "$(dirname "$venv")"
    [ -x "$python" ] || "${WHARF_PYTHON:-python3}" -m venv "$venv"
    "$python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$python" -m pip install --quiet --disable-pip-version-check \
        "moto[server]==$MOTO_VERSION" "awscli==$AWSCLI_VERSION" >&2
    installed || { echo "moto venv: moto $MOTO_VERSION / awscli $AWSCLI_VERSION did not install" >&2; exit 1; }
    echo "moto venv: installed in $(( $(date +%s) - start )) s" >&2
fi
echo "$venv/bin"
