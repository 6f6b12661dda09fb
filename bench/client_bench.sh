#!/usr/bin/env bash
# bench/client_bench.sh CLIENT_BENCH [ARGS...] -- start a redis-server (and
# two replicas) on free 127.0.0.1 ports in a temp dir, run client_bench
# against them, clean up.  Prints figures; asserts none.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/bench_lib.sh
. "$ROOT/bench/bench_lib.sh"     # bench_free_port, bench_redis_start
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
bench_redis_start M
bench_redis_start R1 --replicaof 127.0.0.1 "$M"
bench_redis_start R2 --replicaof 127.0.0.1 "$M"
SH=()
for _ in 1 2 3 4; do bench_redis_start p; SH+=(--shard-port "$p"); done
TW=()
if command -v nutcracker >/dev/null; then
    for _ in 1 2 3 4 5; do
        bench_free_port; T=$PORT
        bench_free_port; TS=$PORT
        printf 'bench:\n  listen: 127.0.0.1:%s\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n  servers:\n   - 127.0.0.1:%s:1\n' \
            "$T" "$M" >"$DIR/nutcracker.yml"
        nutcracker -c "$DIR/nutcracker.yml" -o "$DIR/nutcracker.log" -s "$TS" -a 127.0.0.1 \
            -p "$DIR/nutcracker.pid" &
        NPID=$!
        PIDS+=("$NPID")
        for ((i = 0; i < 100; i++)); do
            kill -0 "$NPID" 2>/dev/null || break    # exited: a port was taken
            [[ $(redis-cli -p "$T" SET bench:probe 1 2>/dev/null) == OK ]] && break
            sleep 0.05
        done
        if kill -0 "$NPID" 2>/dev/null && [[ $(redis-cli -p "$T" SET bench:probe 1 2>/dev/null) == OK ]]; then
            TW=(--twemproxy-port "$T")
            break
        fi
        kill -9 "$NPID" 2>/dev/null || true
        wait "$NPID" 2>/dev/null || true
    done
    ((${#TW[@]} > 0)) || { echo "nutcracker did not start (5 tries): $(tail -n 3 "$DIR/nutcracker.log")" >&2; exit 1; }
fi
"$BIN" --port "$M" --replica-port "$R1" --replica-port "$R2" "${SH[@]}" "${TW[@]}" "$@"
