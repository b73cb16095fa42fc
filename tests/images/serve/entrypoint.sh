#!/bin/sh
# SageMaker runs `docker run IMAGE serve`; anything else is run as a command,
# so `docker run IMAGE sh -c '...'` still works for debugging.
set -eu
if [ "$#" -eq 0 ] || [ "$1" != serve ]; then
    [ "$#" -eq 0 ] && set -- sh
    exec "$@"
fi
port="${SAGEMAKER_BIND_TO_PORT:-8080}"
echo "serve: listening on port $port (model dir /opt/ml/model)"
# The handler writes its log line to fd 3, this script's stdout: its own
# stdout is the client's socket.
exec 3>&1
nc -ll -p "$port" -e /opt/serve/handler.sh &
server=$!
# PID 1 gets no default signal handling: stop at once on SIGTERM (docker stop).
trap 'kill "$server" 2>/dev/null; echo "serve: stopping"; exit 0' TERM INT
wait "$server"
