# bench/bench_lib.sh -- shared by the benchmark scripts (sourced).
# shellcheck shell=bash

# bench_binaries EXTRA_REL: unless CTL, SHMDUMP and EXTRA are all set, find a
# build (MARSHAL_BUILD, else the first of build/normal, build-rel,
# build-bench, build/benchw, build under $ROOT holding marshal-controller,
# marshal-shmdump and EXTRA_REL) and fill the unset ones from it; EXTRA is
# the variable named by $2.  Exits 2 when no build is found or a binary is
# not executable.
bench_binaries() {
    local rel=$1 var=$2 d b
    if [[ -z $CTL || -z $SHMDUMP || -z ${!var} ]]; then
        if [[ -z ${MARSHAL_BUILD:-} ]]; then
            for d in build/normal build-rel build-bench build/benchw build; do
                if [[ -x $ROOT/$d/controller/marshal-controller && -x $ROOT/$d/shm/marshal-shmdump &&
                    -x $ROOT/$d/$rel ]]; then
                    MARSHAL_BUILD=$ROOT/$d
                    break
                fi
            done
        fi
        [[ -n ${MARSHAL_BUILD:-} ]] || { echo "no build found: set MARSHAL_BUILD or pass the binaries" >&2; exit 2; }
        CTL=${CTL:-$MARSHAL_BUILD/controller/marshal-controller}
        SHMDUMP=${SHMDUMP:-$MARSHAL_BUILD/shm/marshal-shmdump}
        [[ -n ${!var} ]] || printf -v "$var" '%s' "$MARSHAL_BUILD/$rel"
    fi
    for b in "$CTL" "$SHMDUMP" "${!var}"; do
        [[ -x $b ]] || { echo "$0: not executable: $b" >&2; exit 2; }
    done
}

# bench_free_port: into PORT, a port on 127.0.0.1 nobody listens on, in
# [20000, 32000) (below the kernel's ephemeral range, where an outgoing
# connection's local port would make the bind fail), not handed out before
# in this run (BENCH_USED).
BENCH_USED=" "
bench_free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        [[ $BENCH_USED == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            BENCH_USED+="$p "
            PORT=$p
            return 0
        fi
    done
    echo "no free port on 127.0.0.1" >&2
    exit 1
}

# bench_redis_start VAR [ARGS...]: a redis-server on a free port (data and
# log in the caller's $DIR, its pid appended to the caller's PIDS array and
# left in BENCH_REDIS_PID), the port into VAR; waits until that very process
# answers (INFO process_id), never another program's server that took the
# port meanwhile: then it tries another port (5 tries).
bench_redis_start() {
    local -n out=$1    # the caller's variable
    local pid i
    shift
    for _ in 1 2 3 4 5; do
        bench_free_port
        redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
            --logfile "$DIR/redis-$PORT.log" "$@" &
        pid=$!
        PIDS+=("$pid")
        for ((i = 0; i < 200; i++)); do
            if redis-cli -p "$PORT" INFO server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$pid"; then
                # shellcheck disable=SC2034  # a nameref to the caller's variable
                out=$PORT
                # shellcheck disable=SC2034  # for the caller
                BENCH_REDIS_PID=$pid
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
