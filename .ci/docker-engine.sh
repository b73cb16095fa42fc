# shellcheck shell=bash
# Sourced by .ci/run: makes sure a Docker engine answers, and exports
# DOCKER_HOST when it had to start one of its own.
#
# The project's machines run an engine; where none answers (a fresh machine,
# an engine that died), this installs Debian's docker.io and starts a private
# dockerd beside whatever else is on the machine: its own socket, data root,
# exec root, pid file and bridge, no iptables rules. Images built into it
# persist in its data root, under the CI cache, between runs.
#
# Containers of that dockerd are on a bridge of its own (wharf-ci0), not on
# `--bridge=none`, for two reasons found by trying:
# - with no bridge a container has no network, and `docker run -p
#   127.0.0.1:PORT:8080` is accepted but publishes nothing (the deploy tests
#   need it); with a bridge and no iptables, docker-proxy (the userland
#   proxy) carries the published port from 127.0.0.1 to the container;
# - dockerd with `--bridge=none` deletes an existing docker0 at start, which
#   breaks any other engine on the machine that uses it.
# It reads a config file of its own: flags that repeat a key of the
# machine's /etc/docker/daemon.json (data-root, storage-driver) stop dockerd.
#
# Storage: overlay2 where the kernel mounts an overlay on the data root's
# file system, else vfs. vfs copies the whole image for every container:
# measured here, a container of the 300 MB wharf-test/python:1 took 6.6-9.7 s
# to start on vfs against 0.6-0.8 s on overlay (busybox: 0.8 s on both).
#
# Knobs: WHARF_CI_OWN_DOCKERD=1 starts the private dockerd even when an
# engine answers (to test this file); WHARF_CI_DOCKER_STORAGE forces a
# storage driver; WHARF_CI_DOCKER_BRIDGE_CIDR (default 10.213.47.1/24) is
# the bridge's address.

wharf_ci_dockerd_sock=/tmp/wharf-dockerd.sock
wharf_ci_dockerd_exec=/tmp/wharf-dockerd-exec
wharf_ci_dockerd_pid=/tmp/wharf-dockerd.pid
wharf_ci_dockerd_log=/tmp/wharf-dockerd.log
wharf_ci_dockerd_config=/tmp/wharf-dockerd.json
wharf_ci_dockerd_data="$HOME/.cache/wharf-ci/docker"
wharf_ci_bridge=wharf-ci0

wharf_docker_answers() {
    timeout 10 docker version --format '{{ .Server.Version }}' >/dev/null 2>&1
}

# overlay2 if an overlay mount works on the file system of $1, else vfs.
wharf_pick_storage_driver() {
    local probe ok=0
    probe=$(mktemp -d "$1/.overlay-probe.XXXXXX") || { echo vfs; return; }
    mkdir -p "$probe"/{lower,upper,work,merged}
    if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
        "$probe/merged" 2>/dev/null; then
        ok=1
        umount "$probe/merged"
    fi
    rm -rf --one-file-system "$probe"
    if [ "$ok" = 1 ]; then echo overlay2; else echo vfs; fi
}

# Starts dockerd with storage driver $1 and waits up to 60 s for it.
wharf_run_dockerd() {
    local driver=$1 pid waited=0
    echo "== docker: starting a private dockerd ($driver) at $DOCKER_HOST (log $wharf_ci_dockerd_log)"
    nohup dockerd \
        --config-file "$wharf_ci_dockerd_config" \
        --iptables=false --ip6tables=false \
        --bridge="$wharf_ci_bridge" \
        --storage-driver="$driver" \
        --data-root "$wharf_ci_dockerd_data" \
        --exec-root "$wharf_ci_dockerd_exec" \
        --pidfile "$wharf_ci_dockerd_pid" \
        --host "$DOCKER_HOST" \
        >"$wharf_ci_dockerd_log" 2>&1 </dev/null &
    pid=$!
    until wharf_docker_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "== docker: dockerd ($driver) exited; its log ends:" >&2
            tail -n 10 "$wharf_ci_dockerd_log" >&2 || true
            return 1
        fi
        if [ "$waited" -ge 60 ]; then
            echo "== docker: dockerd ($driver) did not answer within 60 s; its log ends:" >&2
            tail -n 30 "$wharf_ci_dockerd_log" >&2 || true
            kill "$pid" 2>/dev/null || true
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    echo "== docker: private dockerd ($driver) answered after ${waited}s"
}

wharf_start_own_dockerd() {
    if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
        echo "== docker: installing Debian's docker.io"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends docker.io iproute2 >/dev/null
    fi
    if ! command -v ip >/dev/null; then
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q iproute2 >/dev/null
    fi

    export DOCKER_HOST="unix://$wharf_ci_dockerd_sock"
    # A private dockerd left by an earlier run is as good as a new one.
    if wharf_docker_answers; then
        echo "== docker: reusing the private dockerd at $DOCKER_HOST"
        return 0
    fi
    if [ -s "$wharf_ci_dockerd_pid" ] && kill -0 "$(cat "$wharf_ci_dockerd_pid")" 2>/dev/null; then
        echo "== docker: stopping an unresponsive private dockerd (pid $(cat "$wharf_ci_dockerd_pid"))"
        kill "$(cat "$wharf_ci_dockerd_pid")" 2>/dev/null || true
        sleep 3
    fi
    rm -f "$wharf_ci_dockerd_sock" "$wharf_ci_dockerd_pid"

    if ! ip link show "$wharf_ci_bridge" >/dev/null 2>&1; then
        ip link add "$wharf_ci_bridge" type bridge
        ip addr add "${WHARF_CI_DOCKER_BRIDGE_CIDR:-10.213.47.1/24}" dev "$wharf_ci_bridge"
    fi
    ip link set "$wharf_ci_bridge" up

    mkdir -p "$wharf_ci_dockerd_data" "$wharf_ci_dockerd_exec"
    echo '{}' > "$wharf_ci_dockerd_config"
    local driver=${WHARF_CI_DOCKER_STORAGE:-$(wharf_pick_storage_driver "$wharf_ci_dockerd_data")}
    if ! wharf_run_dockerd "$driver"; then
        [ "$driver" != vfs ] && [ -z "${WHARF_CI_DOCKER_STORAGE:-}" ] || return 1
        echo "== docker: trying again with vfs"
        wharf_run_dockerd vfs || return 1
    fi
    wharf_ci_started_dockerd=1
}

# Stops the private dockerd if this run started it (its images stay in its
# data root for the next run).
wharf_stop_own_dockerd() {
    [ "${wharf_ci_started_dockerd:-0}" = 1 ] || return 0
    local pid waited=0
    pid=$(cat "$wharf_ci_dockerd_pid" 2>/dev/null) || return 0
    echo "== docker: stopping the private dockerd (pid $pid)"
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 20 ]; do
        sleep 1
        waited=$((waited + 1))
    done
}

wharf_ensure_docker() {
    if [ "${WHARF_CI_OWN_DOCKERD:-0}" != 1 ] && command -v docker >/dev/null && wharf_docker_answers; then
        echo "== docker: engine $(docker version --format '{{ .Server.Version }}') at ${DOCKER_HOST:-the default socket}"
        return 0
    fi
    echo "== docker: no engine answers${DOCKER_HOST:+ at $DOCKER_HOST}; starting one"
    wharf_start_own_dockerd || {
        echo "== docker: ERROR: no Docker engine; the tests that need one would fail (WHARF_REQUIRE_DOCKER=1)" >&2
        return 1
    }
    echo "== docker: engine $(docker version --format '{{ .Server.Version }}') at $DOCKER_HOST"
}
