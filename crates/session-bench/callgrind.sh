#!/usr/bin/env bash
# Instructions per request of the benchmark servers, counted by valgrind's callgrind.
#
# Requests per second on a shared machine vary from run to run; the number of instructions a
# server executes per request does not (callgrind counts them, whatever else the machine is
# doing). Each server runs under callgrind; curl sends requests one after the other over one
# keep-alive connection with a session cookie (a first /write creates the session, 200 requests
# warm up), and the count covers the next N requests only.
#
# Needs the release binary built by `cargo xtask bench` (target/bench/release/session-bench),
# valgrind (callgrind_control included), curl and redis-server.
#
#   crates/session-bench/callgrind.sh [N] [server:workload ...]
#
# Defaults: N = 2000 and every server with the read and write workloads; the PostgreSQL servers
# only when POSTGRES_URL names a database they may create their tables in (passed to each server
# as --postgres-url; the script neither creates nor empties it). PORT and REDIS_PORT
# (3901 and 6390) choose the loopback ports; KEEP=<dir> keeps each profile there as
# <server>.<workload>.callgrind, for callgrind_annotate. Under callgrind, ring's SHA-256 runs without the
# SHA extensions, so the HMAC and storage key of our servers count for more than they cost
# natively (about 2,100 instructions per SHA-256 block, three blocks per request).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/target/bench/release/session-bench"
n=${1:-2000}
shift || true
port=${PORT:-3901}
redis_port=${REDIS_PORT:-6390}
work=$(mktemp -d)
trap 'redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

[ -x "$bin" ] || { echo "build it first: cargo xtask bench (or cargo build --release -p session-bench with CARGO_TARGET_DIR=target/bench)" >&2; exit 1; }
for tool in valgrind callgrind_control callgrind_annotate curl redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

if [ $# -eq 0 ]; then
    set --
    for server in $("$bin" list | awk '{print $1}'); do
        case $server in
            *-postgres) if [ -n "${POSTGRES_URL:-}" ]; then set -- "$@" "$server:read" "$server:write"; fi ;;
            *-bare) set -- "$@" "$server:read" ;;
            *) set -- "$@" "$server:read" "$server:write" ;;
        esac
    done
fi

redis-server --port "$redis_port" --save "" --appendonly no --daemonize yes \
    --pidfile "$work/redis.pid" --logfile "$work/redis.log" >/dev/null
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "| server | workload | instructions per request |"
echo "|---|---|---:|"
for item in "$@"; do
    server=${item%%:*}
    workload=${item#*:}
    out="$work/$server.$workload.out"
    mkdir -p "$work/files"
    redis-cli -p "$redis_port" flushall >/dev/null
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" serve "$server" \
        --addr "127.0.0.1:$port" --redis-url "redis://127.0.0.1:$redis_port/" --dir "$work/files" \
        ${POSTGRES_URL:+--postgres-url "$POSTGRES_URL"} >/dev/null 2>"$work/valgrind.log" &
    pid=$!
    up=""
    for _ in $(seq 150); do
        curl -s -o /dev/null "http://127.0.0.1:$port/untouched" && { up=1; break; }
        sleep 0.2
    done
    [ -n "$up" ] || { echo "$server did not start" >&2; cat "$work/valgrind.log" >&2; exit 1; }
    jar="$work/jar"
    rm -f "$jar"
    curl -s -o /dev/null -c "$jar" -b "$jar" "http://127.0.0.1:$port/write"
    curl -s -o /dev/null -c "$jar" -b "$jar" "http://127.0.0.1:$port/$workload?[1-200]"
    callgrind_control -z "$pid" >/dev/null
    curl -s -o /dev/null -c "$jar" -b "$jar" "http://127.0.0.1:$port/$workload?[1-$n]"
    callgrind_control -d "$pid" >/dev/null
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$out.1" "$KEEP/$server.$workload.callgrind"; fi
    total=$(callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    label=$("$bin" list | awk -v s="$server" '$1 == s {$1 = ""; sub(/^ +/, ""); print}')
    per=$(echo $((total / n)) | sed -E ':a;s/^([0-9]+)([0-9]{3})/\1,\2/;ta')
    printf '| %s | `%s` | %s |\n' "$label" "$workload" "$per"
done
