#!/usr/bin/env bash
# Creates (once) a virtualenv with the SageMaker Python SDK, whose local mode
# tests/cli_local_mode.rs compares the docker backend against, and prints its
# python's path on stdout (everything else goes to stderr).
#
#   WHARF_LOCAL_MODE_VENV   where the venv lives (default ~/.cache/wharf-ci/venv-sagemaker)
#   WHARF_PYTHON            the interpreter that creates it (default python3)
#
# Idempotent: when the venv already has the pinned version nothing is installed.
# Needs PyPI only. The pin is the v2 release that sagemaker-contract.md's LM
# items were read from (v3 rewrote local mode; see section 4 there).
set -euo pipefail

SAGEMAKER_VERSION=2.257.6
venv="${WHARF_LOCAL_MODE_VENV:-$HOME/.cache/wharf-ci/venv-sagemaker}"
python="$venv/bin/python3"

installed() {
    [ -x "$python" ] &&
        [ "$("$python" -c 'import importlib.metadata as m; print(m.version("sagemaker"))' 2>/dev/null)" = "$SAGEMAKER_VERSION" ]
}

if installed; then
    echo "local-mode venv: sagemaker $SAGEMAKER_VERSION already in $venv" >&2
else
    start=$(date +%s)
    echo "local-mode venv: installing sagemaker $SAGEMAKER_VERSION into $venv" >&2
    mkdir -p "$(dirname "$venv")"
    [ -x "$python" ] || "${WHARF_PYTHON:-python3}" -m venv "$venv"
    "$python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$python" -m pip install --quiet --disable-pip-version-check "sagemaker==$SAGEMAKER_VERSION" >&2
    installed || { echo "local-mode venv: sagemaker $SAGEMAKER_VERSION did not install" >&2; exit 1; }
    echo "local-mode venv: installed in $(( $(date +%s) - start )) s" >&2
fi
echo "$python"
