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
# free_port: into PORT, a port on 127.0.0.1 nobody listens on, in [20000, 32000)
# (below the kernel's ephemeral range, where an outgoing connection's local
# port would make the bind fail), not handed out before in this run.
USED=" "
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        [[ $USED == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED+="$p "
            PORT=$p
            return 0
        fi
    done
    echo "no free port on 127.0.0.1" >&2
    exit 1
}
# start VAR [ARGS...]: a redis-server on a free port, into VAR; waits until
# that very process answers (INFO process_id), never another test's server
# that took the port meanwhile: then it tries another port (5 tries).
start() {
    local -n out=$1    # the caller's variable
    local pid i
    shift
    for _ in 1 2 3 4 5; do
        free_port
        redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
            --logfile "$DIR/redis-$PORT.log" "$@" &
        pid=$!
        PIDS+=("$pid")
        for ((i = 0; i < 200; i++)); do
            if redis-cli -p "$PORT" INFO server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$pid"; then
                # shellcheck disable=SC2034  # a nameref to the caller's variable
                out=$PORT
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break    # exited: the port was taken
            sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    echo "redis-server did not start (5 ports tried; last log: $(tail -n 3 "$DIR/redis-$PORT.log" 2>/dev/null))" >&2
    exit 1
}
start M
start R1 --replicaof 127.0.0.1 "$M"
start R2 --replicaof 127.0.0.1 "$M"
SH=()
for _ in 1 2 3 4; do start p; SH+=(--shard-port "$p"); done
TW=()
if command -v nutcracker >/dev/null; then
    for _ in 1 2 3 4 5; do
        free_port; T=$PORT
        free_port; TS=$PORT
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
