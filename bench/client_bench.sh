#!/usr/bin/env bash
# bench/client_bench.sh CLIENT_BENCH [ARGS...] -- start a redis-server (and
# two replicas) on free 127.0.0.1 ports in a temp dir, run client_bench
# against them, clean up.  Prints figures; asserts none.
set -euo pipefail
BIN=$1
shift
command -v redis-server >/dev/null || { echo "redis-server not installed: skipped"; exit 77; }
DIR=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    return 1
}
start() {
    local port=$1
    shift
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
        --logfile "$DIR/redis-$port.log" "$@" &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    echo "redis-server :$port did not start" >&2
    exit 1
}
M=$(free_port); start "$M"
R1=$(free_port); start "$R1" --replicaof 127.0.0.1 "$M"
R2=$(free_port); start "$R2" --replicaof 127.0.0.1 "$M"
SH=()
for _ in 1 2 3 4; do p=$(free_port); start "$p"; SH+=(--shard-port "$p"); done
TW=()
if command -v nutcracker >/dev/null; then
    T=$(free_port)
    TS=$(free_port)
    printf 'bench:\n  listen: 127.0.0.1:%s\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n  servers:\n   - 127.0.0.1:%s:1\n' \
        "$T" "$M" >"$DIR/nutcracker.yml"
    nutcracker -c "$DIR/nutcracker.yml" -o "$DIR/nutcracker.log" -s "$TS" -a 127.0.0.1 \
        -p "$DIR/nutcracker.pid" &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        [[ $(redis-cli -p "$T" SET bench:probe 1 2>/dev/null) == OK ]] && break
        sleep 0.05
    done
    TW=(--twemproxy-port "$T")
fi
"$BIN" --port "$M" --replica-port "$R1" --replica-port "$R2" "${SH[@]}" "${TW[@]}" "$@"
