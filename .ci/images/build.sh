#!/usr/bin/env bash
# Builds the local images the test suite needs. No image registry is
# reachable from the project's machines, so nothing here pulls: every image
# starts FROM scratch, from `docker import` of a root file system made here,
# or FROM one of those.
#
#   wharf-test/busybox:1  Debian's busybox-static, one symlink per applet
#   wharf-test/serve:1    tests/images/serve: a SageMaker-style model server (FROM busybox)
#   wharf-test/python:1   Debian bookworm minbase + python3, numpy, scikit-learn (debootstrap)
#   wharf-test/bookworm:1 Debian bookworm minbase + ca-certificates (debootstrap): the
#                         base of the repository's Dockerfile here, for debian:bookworm-slim
#
# Idempotent: each image carries the label wharf.recipe=<sha256 of its
# recipe> (the build function's text plus the files it copies in, plus the
# recipe of its base image); an image whose tag exists with the same label is
# skipped, so editing a recipe rebuilds just that image.
#
# Environment:
#   WHARF_SKIP_PYTHON_IMAGE=1  skip wharf-test/python:1 (the slow one, minutes)
#   WHARF_DEBIAN_MIRROR=URL    the mirror debootstrap uses (default: the one
#                              apt on this machine uses, else deb.debian.org)
#   WHARF_REBUILD_IMAGES=1     rebuild even when the recipe matches
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD

BUSYBOX=wharf-test/busybox:1
SERVE=wharf-test/serve:1
PYTHON=wharf-test/python:1
BOOKWORM=wharf-test/bookworm:1

log() { echo "== images: $*"; }
die() { echo "== images: ERROR: $*" >&2; exit 1; }

SCRATCH=$(mktemp -d /tmp/wharf-images.XXXXXX)
CONTAINERS=()
SUPERSEDED=()
mounts_under() { awk -v d="$1" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r; }
cleanup() {
    local c m
    for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
    # debootstrap mounts /proc and /sys (and, inside a container, binds
    # /dev) in its target: never delete through a mount a failed run left.
    for m in $(mounts_under "$SCRATCH"); do umount -l "$m" 2>/dev/null || true; done
    if [ -n "$(mounts_under "$SCRATCH")" ]; then
        echo "== images: $SCRATCH still has mounts; not deleting it" >&2
        return
    fi
    rm -rf --one-file-system "$SCRATCH"
}
trap cleanup EXIT

# The recipe's identity: the build function's own text, the helper
# functions and files given, and anything else passed on stdin.
recipe_hash() {
    local fn=$1
    shift
    {
        declare -f "$fn"
        local f
        for f in "$@"; do
            # A helper function the build calls, or a file it copies in.
            if declare -F "$f" >/dev/null; then
                declare -f "$f"
            else
                echo "--- $f $(stat -c %a "$f")"
                cat "$f"
            fi
        done
    } | sha256sum | cut -d' ' -f1
}

label_of() {
    docker image inspect --format '{{ index .Config.Labels "wharf.recipe" }}' "$1" 2>/dev/null || true
}

# ensure TAG FUNCTION RECIPE: build TAG with FUNCTION unless it is current.
ensure() {
    local tag=$1 fn=$2 recipe=$3 have old start secs size
    have=$(label_of "$tag")
    old=$(docker image inspect --format '{{ .Id }}' "$tag" 2>/dev/null || true)
    if [ "$have" = "$recipe" ] && [ "${WHARF_REBUILD_IMAGES:-0}" != 1 ]; then
        log "$tag is up to date (recipe ${recipe:0:12}), skipping"
        return 0
    fi
    if [ -z "$have" ]; then
        log "$tag: not present, building (recipe ${recipe:0:12})"
    elif [ "$have" = "$recipe" ]; then
        log "$tag: WHARF_REBUILD_IMAGES=1, rebuilding (recipe ${recipe:0:12})"
    else
        log "$tag: recipe changed (${have:0:12} -> ${recipe:0:12}), rebuilding"
    fi
    start=$(date +%s)
    if ! "$fn" "$tag" "$recipe"; then
        # A half-made image must not pass for a current one next time.
        docker image rm -f "$tag" >/dev/null 2>&1 || true
        die "building $tag failed"
    fi
    secs=$(($(date +%s) - start))
    size=$(docker image inspect --format '{{ .Size }}' "$tag")
    log "$tag built in ${secs}s, $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB"
    # The image this one replaces, now untagged: removed at the end.
    if [ -n "$old" ] && [ "$old" != "$(docker image inspect --format '{{ .Id }}' "$tag")" ]; then
        SUPERSEDED+=("$old")
    fi
}

# Newest first: an old serve image is a child of the old busybox one. One
# that a container still uses stays.
remove_superseded() {
    local i
    for ((i = ${#SUPERSEDED[@]} - 1; i >= 0; i--)); do
        if docker image rm "${SUPERSEDED[i]}" >/dev/null 2>&1; then
            log "removed the replaced image ${SUPERSEDED[i]:7:12}"
        fi
    done
}

# ---------------------------------------------------------------- busybox

build_busybox() {
    local tag=$1 recipe=$2 dir="$SCRATCH/busybox" applet
    mkdir -p "$dir/deb" "$dir/ctx/rootfs"
    log "apt-get download busybox-static"
    # apt's _apt user cannot write into our temp dir: that warning is harmless.
    (cd "$dir/deb" && apt-get download -q busybox-static 2>&1 | grep -v 'unsandboxed as root' || true)
    if ! ls "$dir"/deb/busybox-static_*.deb >/dev/null 2>&1; then
        log "no .deb: apt-get update, then again"
        apt-get update -q >/dev/null || true
        (cd "$dir/deb" && apt-get download -q busybox-static 2>&1 | grep -v 'unsandboxed as root' || true)
    fi
    ls "$dir"/deb/busybox-static_*.deb >/dev/null 2>&1 || { echo "apt-get download busybox-static gave no .deb" >&2; return 1; }
    # (The build functions run in a condition, where `set -e` does not
    # apply: each step that matters says `|| return 1`.)
    dpkg-deb -x "$dir"/deb/busybox-static_*.deb "$dir/deb/x" || return 1

    local root="$dir/ctx/rootfs"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var/www,proc,sys,dev}
    chmod 1777 "$root/tmp"
    chmod 700 "$root/root"
    install -m 755 "$dir/deb/x/bin/busybox" "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    # `#!/usr/bin/env sh` scripts
    ln -s ../../bin/busybox "$root/usr/bin/env"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
    log "rootfs: /bin/busybox $("$root/bin/busybox" | head -n1 | cut -d' ' -f2) and $(ls "$root/bin" | wc -l) applet links"

    cat > "$dir/ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
DOCKERFILE
    log "docker build -t $tag (FROM scratch)"
    docker build -q --label "wharf.recipe=$recipe" -t "$tag" "$dir/ctx" 2>&1 | grep -v -e 'legacy builder is deprecated' -e 'Install the buildx' -e 'docs.docker.com/go/buildx' -e '^ *$' || true
    [ "$(label_of "$tag")" = "$recipe" ] || return 1

    log "verifying $tag"
    docker run --rm "$tag" sh -c 'echo hi; ls /' || return 1
    docker run --rm "$tag" sh -c '
        set -e
        for a in sh httpd nc wget tar chown sha256sum; do command -v "$a" >/dev/null || { echo "missing applet $a"; exit 1; }; done
        echo x > /tmp/f && chown root:root /tmp/f && sha256sum /tmp/f >/dev/null
        tar -C /tmp -cf /tmp/t.tar f && tar -tf /tmp/t.tar | grep -q f
        mkdir -p /tmp/www && echo served > /tmp/www/index.html
        httpd -p 127.0.0.1:8080 -h /tmp/www
        sleep 0.2
        test "$(wget -q -O - http://127.0.0.1:8080/)" = served
        (echo via-nc | nc -l -p 9000 >/dev/null &) ; sleep 0.2
        test "$(nc 127.0.0.1 9000 </dev/null)" = via-nc
        echo "busybox applets ok"' || return 1
}

# ---------------------------------------------------------------- serve

build_serve() {
    local tag=$1 recipe=$2 cid port out
    log "docker build -t $tag tests/images/serve (FROM $BUSYBOX)"
    docker build -q --label "wharf.recipe=$recipe" -t "$tag" "$REPO/tests/images/serve" 2>&1 | grep -v -e 'legacy builder is deprecated' -e 'Install the buildx' -e 'docs.docker.com/go/buildx' -e '^ *$' || true
    [ "$(label_of "$tag")" = "$recipe" ] || return 1

    log "verifying $tag: docker run -p 127.0.0.1:0:8080 $tag serve, then /ping and /invocations"
    mkdir -p "$SCRATCH/serve-model"
    echo 'v1:' > "$SCRATCH/serve-model/prefix.txt"
    cid=$(docker run -d -p 127.0.0.1:0:8080 -v "$SCRATCH/serve-model:/opt/ml/model:ro" "$tag" serve) || return 1
    CONTAINERS+=("$cid")
    port=$(docker port "$cid" 8080/tcp | head -n1 | sed 's/.*://')
    [ -n "$port" ] || { echo "docker published no port for 8080 (a daemon without a bridge?)" >&2; return 1; }
    out=""
    local _
    for _ in $(seq 1 50); do
        out=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/ping" 2>/dev/null) && break
        sleep 0.1
    done
    if [ "$out" != ok ]; then
        echo "GET /ping on 127.0.0.1:$port answered '$out'" >&2
        docker logs "$cid" >&2 || true
        return 1
    fi
    out=$(curl -fsS --max-time 5 -H 'Content-Type: text/plain' --data-binary hello "http://127.0.0.1:$port/invocations")
    docker logs "$cid" | sed 's/^/    /'
    docker rm -f "$cid" >/dev/null
    [ "$out" = "v1:HELLO" ] || { echo "POST /invocations answered '$out', expected 'v1:HELLO'" >&2; return 1; }
    log "$tag answers /ping and /invocations on a published port"
}

# ---------------------------------------------------------------- python

# The Debian mirror apt on this machine uses (deb lines and deb822 URIs).
debian_mirror() {
    local m
    m=$(
        {
            grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
                awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):\/\//) { print $i; break } }'
            grep -hsiE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources |
                awk '{ for (i = 2; i <= NF; i++) print $i }'
        } | grep -E '/debian/?$' | head -n1
    )
    echo "${m:-http://deb.debian.org/debian}"
}

# The debootstrap images (python, bookworm) share these steps; their
# recipes hash these functions too (`DEBOOTSTRAP_HELPERS`), so a change
# here rebuilds both.

# Debian bookworm minbase with the packages `include` names, into `dir`;
# the downloaded .debs are kept between builds on this machine.
debootstrap_rootfs() {
    local dir=$1 include=$2 log=$3 mirror t0=$SECONDS
    mirror=${WHARF_DEBIAN_MIRROR:-$(debian_mirror)}
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
    fi
    local cache="${XDG_CACHE_HOME:-$HOME/.cache}/wharf-ci/debootstrap"
    mkdir -p "$dir" "$cache"
    log "debootstrap --variant=minbase bookworm from $mirror (a few minutes; .debs cached in $cache)"
    debootstrap --variant=minbase --cache-dir="$cache" --include="$include" \
        bookworm "$dir" "$mirror" > "$log" 2>&1 || {
        tail -n 30 "$log" >&2
        return 1
    }
    log "debootstrap done after $((SECONDS - t0))s: $(du -sm "$dir" | cut -f1) MB before cleaning"
    [ -z "$(mounts_under "$dir")" ] || { echo "debootstrap left mounts under $dir:" >&2; mounts_under "$dir" >&2; return 1; }
}

# Smaller image: no package caches or lists, docs, man pages, locales or
# logs. Docker mounts its own /dev, /proc and /sys; resolv.conf and
# hostname come from the engine too.
clean_rootfs() {
    local dir=$1
    rm -rf "${dir:?}"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
        "$dir"/var/lib/apt/lists/* "$dir"/var/cache/debconf/*-old "$dir"/var/log/* \
        "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
        "$dir"/usr/share/locale/* "$dir"/usr/share/lintian "$dir"/usr/share/linda \
        "${dir:?}"/tmp/* "${dir:?}"/dev/*
    rm -f "$dir"/etc/hostname "$dir"/etc/resolv.conf
}

# `dir` as the image `tag`, labelled with its recipe, running `cmd` by default.
import_rootfs() {
    local dir=$1 tag=$2 recipe=$3 cmd=$4
    log "cleaned: $(du -sm "$dir" | cut -f1) MB; docker import -> $tag"
    tar --numeric-owner -C "$dir" -c . |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change "LABEL wharf.recipe=$recipe" \
            --change "CMD [\"$cmd\"]" \
            - "$tag" >/dev/null
    [ "$(label_of "$tag")" = "$recipe" ]
}

DEBOOTSTRAP_HELPERS=(debootstrap_rootfs clean_rootfs import_rootfs)

build_python() {
    local tag=$1 recipe=$2 dir="$SCRATCH/python/rootfs" t0=$SECONDS
    # python-is-python3: `python` as well as `python3`, as pipelines write it.
    debootstrap_rootfs "$dir" python3,python-is-python3,python3-sklearn,python3-numpy,ca-certificates \
        "$SCRATCH/debootstrap.log" || return 1

    # python3-scipy depends on python3-pythran, a compiler that scipy needs
    # only to be built, and pythran pulls in gcc, g++, boost and every -dev
    # package: about 470 MB of the image. Purge that toolchain, and put an
    # empty python3-pythran in its place so that dpkg's and apt's view stays
    # consistent (`apt-get check` passes, later apt-get installs work).
    log "purging the C/C++ toolchain that python3-pythran drags in"
    local purge
    purge=$(
        cat <<'PURGE'
pkgs=$(dpkg-query -Wf '${Package}\n' | grep -E -e '-dev$' -e '^(gcc|g\+\+|cpp)(-12)?$' \
    -e '^binutils' -e '^libbinutils$' -e '^libctf' -e '^libgprofng' \
    -e '^lib(asan|tsan|lsan|hwasan|ubsan|itm|cc1-|isl|mpc)[0-9]' \
    -e '^python3-(pythran|beniget|gast|ply)$' -e '^libc-dev-bin$' -e '^libjs-' -e '^rpcsvc-proto$' | sort)
echo "purging:" $pkgs
dpkg --purge --force-depends $pkgs
mkdir -p /tmp/stand-in/DEBIAN
cat > /tmp/stand-in/DEBIAN/control <<CONTROL
Package: python3-pythran
Version: 0.11.0+ds-7+wharf1
Architecture: all
Maintainer: Wharf <wharf@localhost>
Description: empty stand-in for pythran, which python3-scipy needs only to be built
CONTROL
dpkg-deb -b /tmp/stand-in /tmp/stand-in.deb
dpkg -i /tmp/stand-in.deb
rm -rf /tmp/stand-in /tmp/stand-in.deb
apt-get check
dpkg --audit
PURGE
    )
    mount -t proc proc "$dir/proc" || return 1
    if ! chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        /bin/bash -euc "$purge" > "$SCRATCH/purge.log" 2>&1; then
        umount "$dir/proc"
        tail -n 30 "$SCRATCH/purge.log" >&2
        return 1
    fi
    umount "$dir/proc"
    log "purged after $((SECONDS - t0))s: $(du -sm "$dir" | cut -f1) MB"

    # The libraries' own test suites go too. The .pyc files stay: without
    # them every container would compile scikit-learn on its first import.
    clean_rootfs "$dir"
    find "$dir"/usr/lib/python3/dist-packages -depth -type d -name tests -exec rm -rf {} +
    import_rootfs "$dir" "$tag" "$recipe" python3 || return 1

    log "imported after $((SECONDS - t0))s; verifying $tag"
    docker run --rm "$tag" python3 -c 'import sklearn, numpy; print(sklearn.__version__)' || return 1
    docker run --rm "$tag" python --version || return 1
    docker run --rm "$tag" python3 -c '
import numpy as np, pickle
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 4)); y = (x[:, 0] + x[:, 1] > 0).astype(int)
m = pickle.loads(pickle.dumps(RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)))
print("python", __import__("sys").version.split()[0], "numpy", np.__version__, "fit+pickle ok, auc", round(roc_auc_score(y, m.predict_proba(x)[:, 1]), 3))' || return 1
}

# ---------------------------------------------------------------- bookworm

# What the repository's Dockerfile starts from where no registry gives
# debian:bookworm-slim and rust:1.95-bookworm (tests/dockerfile.rs): a
# Debian bookworm minbase with the CA certificates, without docs, man pages
# or locales: 80 MB, about two minutes the first time.
build_bookworm() {
    local tag=$1 recipe=$2 dir="$SCRATCH/bookworm/rootfs"
    debootstrap_rootfs "$dir" ca-certificates "$SCRATCH/debootstrap-bookworm.log" || return 1
    clean_rootfs "$dir"
    import_rootfs "$dir" "$tag" "$recipe" bash || return 1
    docker run --rm "$tag" sh -c 'test -s /etc/ssl/certs/ca-certificates.crt && . /etc/os-release && echo "$PRETTY_NAME, CA certificates present"' || return 1
}

# ---------------------------------------------------------------- main

command -v docker >/dev/null || die "no docker CLI on PATH"
docker version --format '{{ .Server.Version }}' >/dev/null 2>&1 || die "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset})"
log "engine $(docker version --format '{{ .Server.Version }}') at ${DOCKER_HOST:-the default socket}"

busybox_recipe=$(recipe_hash build_busybox)
ensure "$BUSYBOX" build_busybox "$busybox_recipe"

# The serve image is FROM busybox: a new busybox makes a new serve recipe.
serve_recipe=$(
    cd "$REPO/tests/images/serve"
    mapfile -t files < <(find . -type f | LC_ALL=C sort)
    { recipe_hash build_serve "${files[@]}"; echo "$busybox_recipe"; } | sha256sum | cut -d' ' -f1
)
ensure "$SERVE" build_serve "$serve_recipe"

if [ "${WHARF_SKIP_PYTHON_IMAGE:-0}" = 1 ]; then
    echo "=================================================================="
    echo "== images: WHARF_SKIP_PYTHON_IMAGE=1: NOT building $PYTHON."
    echo "== images: tests and examples that need it will fail or skip."
    echo "=================================================================="
else
    ensure "$PYTHON" build_python "$(recipe_hash build_python "${DEBOOTSTRAP_HELPERS[@]}")"
fi

ensure "$BOOKWORM" build_bookworm "$(recipe_hash build_bookworm "${DEBOOTSTRAP_HELPERS[@]}")"

remove_superseded
log "done"
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}' | grep -E '^wharf-test/' | sed 's/^/   /' || true
