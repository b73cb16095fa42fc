#!/bin/sh
# One HTTP/1.1 request on stdin (the socket), its answer on stdout; the
# connection closes after it. The log line goes to fd 3 (the container's
# stdout, opened by entrypoint.sh).
# shellcheck disable=SC3045 # busybox ash has `read -t`
cr=$(printf '\r')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
method=- path=-

respond() { # STATUS REASON, body in $tmp/out
    size=$(wc -c < "$tmp/out" | tr -d ' ')
    printf 'HTTP/1.1 %s %s\r\nContent-Type: text/plain\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
        "$1" "$2" "$size"
    cat "$tmp/out"
    echo "serve: $method $path $1 $size" >&3 2>/dev/null || echo "serve: $method $path $1 $size" >&2
}

read -r -t 10 method path _proto || exit 0
path="${path%"$cr"}"
length=0
while read -r -t 10 line; do
    line="${line%"$cr"}"
    [ -z "$line" ] && break
    case "$line" in
        [Cc]ontent-[Ll]ength:*) length=$(echo "${line#*:}" | tr -d ' \t') ;;
    esac
done
case "$length" in '' | *[!0-9]*) length=0 ;; esac
# `read` took the headers byte by byte, so the body is what comes next.
: > "$tmp/in"
[ "$length" -gt 0 ] && head -c "$length" > "$tmp/in"
: > "$tmp/out"

case "$method $path" in
    "GET /ping")
        printf 'ok' > "$tmp/out"
        respond 200 OK ;;
    "POST /invocations")
        if [ -f /opt/ml/model/prefix.txt ]; then
            printf '%s' "$(cat /opt/ml/model/prefix.txt)" > "$tmp/out"
        fi
        tr '[:lower:]' '[:upper:]' < "$tmp/in" >> "$tmp/out"
        respond 200 OK ;;
    *" /ping" | *" /invocations")
        respond 405 "Method Not Allowed" ;;
    *)
        printf 'not found' > "$tmp/out"
        respond 404 "Not Found" ;;
esac
