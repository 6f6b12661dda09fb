# lib.sh -- helpers shared by Marshal's integration tests (bash, sourced).
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   it_init "$@"            # $1 = marshal-shmdump, $2 = marshal-demo-writer
#
# Everything a test starts is recorded and torn down by an EXIT trap: every
# process we started is killed (by pid), every temp dir (with the segments,
# lock files and redis dirs inside) removed.  Waiting for a condition always
# goes through wait_for (bounded polling), never a bare sleep.
#
# Exit status 77 means "skipped" (a required tool is missing); CMake maps it
# with SKIP_RETURN_CODE.

set -euo pipefail

IT_NAME=$(basename "$0" .sh)
IT_PIDS=()          # processes started by this test
IT_DIRS=()          # temp dirs to remove
IT_PORTS=()         # ports handed out by pick_port
IT_DIR=             # this test's temp dir (segments, logs, redis dirs)
IT_PORT=            # last port picked
IT_LAST_PID=        # last process started by start_bg / start_redis
declare -A IT_REDIS_PID=()

# Sanitizer reports must never look like an ordinary exit status 1/2.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87:print_stacktrace=1"

it_log() {
    printf '[%s %s] %s\n' "$(date +%H:%M:%S.%3N)" "$IT_NAME" "$*" >&2
}

# Fail the test with a message (the EXIT trap cleans up).
fail() {
    printf '[%s %s] FAIL: %s\n' "$(date +%H:%M:%S.%3N)" "$IT_NAME" "$*" >&2
    exit 1
}

skip() {
    printf '[%s] SKIP: %s\n' "$IT_NAME" "$*" >&2
    exit 77
}

# Is PID running (not gone, not a zombie waiting to be reaped)?
it_running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

it_cleanup() {
    local rc=$? pid f i
    trap - EXIT INT TERM
    set +e
    for pid in "${IT_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for ((i = 0; i < 40; i++)); do
        local alive=0
        for pid in "${IT_PIDS[@]}"; do
            it_running "$pid" && alive=1
        done
        ((alive)) || break
        sleep 0.05
    done
    for pid in "${IT_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    # a sanitizer report from a background process fails the test too
    if ((rc == 0)) && [[ -n $IT_DIR && -d $IT_DIR ]] &&
        grep -lE 'Sanitizer|runtime error:' -r "$IT_DIR" --include='*.log' >/dev/null 2>&1; then
        echo "[$IT_NAME] FAIL: sanitizer report in a background process's log" >&2
        rc=1
    fi
    if ((rc != 0 && rc != 77)) && [[ -n $IT_DIR && -d $IT_DIR ]]; then
        # leave a trail for the person reading ctest --output-on-failure
        while IFS= read -r f; do
            echo "----- ${f#"$IT_DIR"/} (last 40 lines) -----" >&2
            tail -n 40 "$f" >&2
        done < <(find "$IT_DIR" -name '*.log' -type f 2>/dev/null | sort)
    fi
    for f in "${IT_DIRS[@]}"; do
        rm -rf -- "$f"
    done
    if ((rc == 0)); then
        it_log "PASS"
    fi
    exit "$rc"
}

# it_init SHMDUMP DEMO_WRITER: check tools, make IT_DIR, install the trap.
it_init() {
    (($# >= 2)) || { echo "usage: $0 MARSHAL_SHMDUMP MARSHAL_DEMO_WRITER" >&2; exit 2; }
    SHMDUMP=$1
    DEMO=$2
    [[ -x $SHMDUMP ]] || fail "not executable: $SHMDUMP"
    [[ -x $DEMO ]] || fail "not executable: $DEMO"
    trap it_cleanup EXIT
    trap 'exit 130' INT TERM
    local base=/dev/shm
    [[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
    IT_DIR=$(mktemp -d "$base/marshal-it.XXXXXX")
    IT_DIRS+=("$IT_DIR")
    it_log "temp dir $IT_DIR"
}

# need TOOL... : skip the test unless every tool is installed.
# need TOOL...: skip (77) when a tool is missing -- except under CI=true,
# where scripts/test.sh installed everything: a missing tool there is a
# missing install step and fails the test instead of hiding it.
need() {
    local t
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            [[ ${CI:-} == true ]] && fail "$t is not installed (CI: an install step is missing)"
            skip "$t is not installed"
        fi
    done
}

# wait_for TRIES MS CMD...: run CMD until it succeeds, at most TRIES times,
# MS milliseconds apart.  Returns 1 when it never succeeded.
wait_for() {
    local tries=$1 ms=$2 i
    shift 2
    for ((i = 0; i < tries; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    done
    return 1
}

# pick_port: a TCP port on 127.0.0.1 nobody listens on, into IT_PORT.
# Random in [20000, 32000) (below the kernel's ephemeral range), not handed
# out before by this test; a connect() that is refused means free.
pick_port() {
    local i p used q
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        used=0
        for q in "${IT_PORTS[@]}"; do
            [[ $q == "$p" ]] && used=1
        done
        ((used)) && continue
        if ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; then
            IT_PORTS+=("$p")
            IT_PORT=$p
            return 0
        fi
    done
    fail "no free TCP port found on 127.0.0.1"
}

# start_bg NAME CMD...: run CMD in the background, output to $IT_DIR/NAME.log;
# its pid goes to IT_LAST_PID and to the cleanup list.
start_bg() {
    local name=$1
    shift
    "$@" >"$IT_DIR/$name.log" 2>&1 &
    IT_LAST_PID=$!
    IT_PIDS+=("$IT_LAST_PID")
}

# Is the redis-server answering on PORT the process PID?
redis_is() {
    redis-cli -h 127.0.0.1 -p "$1" INFO server 2>/dev/null | tr -d '\r' |
        grep -qx "process_id:$2"
}

# start_redis PORT [replicaof MPORT]: a foreground redis-server in its own dir
# (no persistence), registered for cleanup; waits until it answers.
start_redis() {
    local port=$1 dir=$IT_DIR/redis-$1 args
    mkdir -p "$dir"
    args=(--port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no
          --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
          --repl-diskless-sync-delay 0)
    if (($# >= 3)) && [[ $2 == replicaof ]]; then
        args+=(--replicaof 127.0.0.1 "$3")
    fi
    redis-server "${args[@]}" >/dev/null 2>&1 &
    IT_LAST_PID=$!
    IT_PIDS+=("$IT_LAST_PID")
    IT_REDIS_PID[$port]=$IT_LAST_PID
    echo "$IT_LAST_PID" >"$dir/pid"
    wait_for 100 50 redis_is "$port" "$IT_LAST_PID" ||
        fail "redis-server on port $port did not come up (see $dir/redis.log)"
}

# kill9_redis PORT: SIGKILL the redis-server we started on PORT and reap it.
kill9_redis() {
    local pid=${IT_REDIS_PID[$1]}
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# stop_pid PID: SIGTERM and reap; returns the process's exit status.
stop_pid() {
    local rc=0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" || rc=$?
    return "$rc"
}

# json_ok SEGMENT JQ-EXPR: does `marshal-shmdump --json` satisfy the expression?
json_ok() {
    "$SHMDUMP" --json --events 1000 "$1" | jq -e "$2" >/dev/null
}

# run_expect RC PATTERN CMD...: run CMD, require exit status RC and PATTERN
# (extended regex) in its combined output; never a sanitizer report or a
# signal.  The output is left in IT_OUT.
run_expect() {
    local want=$1 pat=$2 rc=0
    shift 2
    IT_OUT=$("$@" 2>&1) || rc=$?
    if grep -qE 'Sanitizer|runtime error:' <<<"$IT_OUT"; then
        fail "sanitizer report from: $*"$'\n'"$IT_OUT"
    fi
    ((rc < 128)) || fail "killed by signal $((rc - 128)): $*"$'\n'"$IT_OUT"
    ((rc == want)) || fail "exit status $rc, expected $want: $*"$'\n'"$IT_OUT"
    grep -qE -- "$pat" <<<"$IT_OUT" ||
        fail "output lacks /$pat/: $*"$'\n'"$IT_OUT"
}

# expect_text TEXT FIXED-STRING MESSAGE
expect_text() {
    grep -qF -- "$2" <<<"$1" || fail "$3: missing '$2' in:"$'\n'"$1"
}

# rd_u64 FILE OFFSET / rd_u32 FILE OFFSET: little-endian integers from a file.
rd_u64() {
    od -An -v -t u8 -j "$2" -N 8 "$1" | tr -d ' \n'
}
rd_u32() {
    od -An -v -t u4 -j "$2" -N 4 "$1" | tr -d ' \n'
}
