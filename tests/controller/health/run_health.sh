#!/bin/bash
# run_health.sh -- ctl_health against real redis-servers.
#
#   run_health.sh TEST_HEALTH            (ctest): start the servers, run the
#                                         driver, tear everything down
#   run_health.sh ctl ACTION NAME         (called back by the driver)
#
# In a mktemp -d dir this starts, on 127.0.0.1 ports picked by trying to
# bind them (a redis-server that finds its port taken is retried elsewhere):
#   master    plain redis-server
#   replica   --replicaof master
#   auth      --requirepass s3cret-pw
#   loader    a few thousand keys in dump.rdb, restarted on request with
#             key-load-delay so it stays in the LOADING state for seconds
#   sentinel  a redis-sentinel (ROLE answers "sentinel")
# plus a port with nothing listening.  The driver (test_health.c) gets the
# ports in the environment and calls back "run_health.sh ctl ACTION NAME" to
# kill -9 / restart / SIGSTOP / SIGCONT a server.  Every process is found
# through its pid file and killed by pid in the EXIT trap; waits are
# bounded polls, never a bare sleep-and-hope.
#
# Exit status 77 = skipped (redis-server or redis-cli missing).

set -euo pipefail

AUTH_PW=s3cret-pw

log() {
    printf '[%s run_health] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2
}

die() {
    log "FAIL: $*"
    exit 1
}

# Is PID alive (not gone, not a zombie)?
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# Is PID gone (or a zombie: it holds no sockets any more)?
gone() {
    ! running "$1"
}

# Is nothing listening on 127.0.0.1:PORT (connect refused)?
port_closed() {
    ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# wait_until TRIES MS CMD...: bounded polling.
wait_until() {
    local tries=$1 ms=$2 i
    shift 2
    for ((i = 0; i < tries; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    done
    return 1
}

# Does something answer RESP on PORT (PONG, or an error: NOAUTH, LOADING)?
answers() {
    local out
    out=$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" PING 2>&1) || true
    [[ $out == *PONG* || $out == *NOAUTH* || $out == *LOADING* ]]
}

pidof_name() {
    cat "$HEALTH_DIR/$1/pid" 2>/dev/null
}

# launch NAME: (re)start server NAME with the arguments saved in its dir
# (plus any extra ones given) and wait until it answers or dies.  Returns 1
# when it died, 2 when it died because the port was taken.
launch() {
    local name=$1 dir=$HEALTH_DIR/$1 pid i
    shift
    local -a args
    mapfile -t args <"$dir/args"
    args+=("$@")
    : >"$dir/redis.log"
    if [[ $(cat "$dir/kind") == sentinel ]]; then
        redis-sentinel "$dir/sentinel.conf" "${args[@]}" </dev/null >>"$dir/redis.log" 2>&1 &
    else
        redis-server "${args[@]}" </dev/null >>"$dir/redis.log" 2>&1 &
    fi
    pid=$!
    disown "$pid" 2>/dev/null || true   # no "Killed" job notices from bash
    echo "$pid" >"$dir/pid"
    for ((i = 0; i < 200; i++)); do
        if ! running "$pid"; then
            grep -q 'Address already in use' "$dir/redis.log" && return 2
            return 1
        fi
        answers "$(cat "$dir/port")" && return 0
        sleep 0.05
    done
    return 1
}

# create NAME KIND [ARGS...]: a new server on a free port (tried by binding).
create() {
    local name=$1 kind=$2 dir=$HEALTH_DIR/$1 try port rc
    shift 2
    mkdir -p "$dir"
    echo "$kind" >"$dir/kind"
    for ((try = 0; try < 30; try++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        echo "$port" >"$dir/port"
        if [[ $kind == sentinel ]]; then
            printf 'port %s\nbind 127.0.0.1\ndir %s\n' "$port" "$dir" >"$dir/sentinel.conf"
            printf '%s\n' --daemonize no >"$dir/args"
        else
            printf '%s\n' --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
                --daemonize no --dir "$dir" --repl-diskless-sync-delay 0 "$@" >"$dir/args"
        fi
        rc=0
        launch "$name" || rc=$?
        ((rc == 0)) && { log "$name ($kind) on port $port, pid $(pidof_name "$name")"; return 0; }
        ((rc == 2)) || { cat "$dir/redis.log" >&2; die "$name did not start"; }
    done
    die "no free port for $name"
}

# kill9 NAME: SIGKILL and wait until the process is gone (its port free).
kill9() {
    local pid
    pid=$(pidof_name "$1")
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 200 25 gone "$pid" || die "$1 (pid $pid) did not die"
    wait_until 200 25 port_closed "$(cat "$HEALTH_DIR/$1/port")" || die "$1's port still open"
}

ctl() {
    local action=$1 name=$2 pid
    [[ -n ${HEALTH_DIR:-} && -d $HEALTH_DIR/$name ]] || die "ctl: unknown server $name"
    pid=$(pidof_name "$name")
    case $action in
    kill9) kill9 "$name" ;;
    start) launch "$name" || die "restart of $name failed" ;;
    stop) kill -STOP "$pid" ;;
    cont) kill -CONT "$pid" ;;
    loading)
        # restart from dump.rdb, loading one key per millisecond
        kill9 "$name"
        launch "$name" --key-load-delay 1000 --loading-process-events-interval-bytes 1024 ||
            die "loading restart of $name failed"
        ;;
    *) die "ctl: unknown action $action" ;;
    esac
}

cleanup() {
    local rc=$? f pid
    trap - EXIT INT TERM
    set +e
    for f in "$HEALTH_DIR"/*/pid; do
        [[ -f $f ]] || continue
        pid=$(cat "$f")
        kill -CONT "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    for f in "$HEALTH_DIR"/*/pid; do
        [[ -f $f ]] || continue
        pid=$(cat "$f")
        wait_until 100 20 gone "$pid"
    done
    if ((rc != 0 && rc != 77)); then
        for f in "$HEALTH_DIR"/*/redis.log; do
            [[ -f $f ]] || continue
            echo "----- ${f#"$HEALTH_DIR"/} (last 15 lines) -----" >&2
            tail -n 15 "$f" >&2
        done
    fi
    rm -rf -- "$HEALTH_DIR"
    exit "$rc"
}

main() {
    local driver=$1 rc=0 p i t
    [[ -x $driver ]] || die "not executable: $driver"
    for t in redis-server redis-cli; do
        command -v "$t" >/dev/null 2>&1 || { log "SKIP: $t is not installed"; exit 77; }
    done
    HEALTH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/marshal-health.XXXXXX")
    export HEALTH_DIR
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    create master server
    create replica server --replicaof 127.0.0.1 "$(cat "$HEALTH_DIR/master/port")"
    create auth server --requirepass "$AUTH_PW"
    create loader server
    p=$(cat "$HEALTH_DIR/loader/port")
    redis-cli -h 127.0.0.1 -p "$p" EVAL \
        "for i=1,4000 do redis.call('set','k'..i,string.rep('x',64)) end return 1" 0 >/dev/null
    redis-cli -h 127.0.0.1 -p "$p" SAVE | grep -q OK || die "SAVE on loader failed"
    if command -v redis-sentinel >/dev/null 2>&1; then
        create sentinel sentinel
        S_PORT=$(cat "$HEALTH_DIR/sentinel/port")
        export S_PORT
    fi
    # a port nobody listens on: a connect() that is refused
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        if port_closed "$p"; then
            export D_PORT=$p
            break
        fi
    done
    [[ -n ${D_PORT:-} ]] || die "no unused port found"

    M_PORT=$(cat "$HEALTH_DIR/master/port")
    R_PORT=$(cat "$HEALTH_DIR/replica/port")
    A_PORT=$(cat "$HEALTH_DIR/auth/port")
    L_PORT=$(cat "$HEALTH_DIR/loader/port")
    export M_PORT R_PORT A_PORT L_PORT
    export AUTH_PW
    HEALTH_CTL="bash $(printf '%q' "$(readlink -f "${BASH_SOURCE[0]}")") ctl"
    export HEALTH_CTL
    # sanitizer reports must not pass for an ordinary failure or success
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86:detect_leaks=1"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87:print_stacktrace=1"

    "$driver" || rc=$?
    if ((rc == 0)); then
        log "PASS"
    else
        log "driver exit status $rc"
    fi
    return "$rc"
}

if [[ ${1:-} == ctl ]]; then
    (($# == 3)) || die "usage: $0 ctl ACTION NAME"
    ctl "$2" "$3"
    exit 0
fi
(($# == 1)) || { echo "usage: $0 TEST_HEALTH | $0 ctl ACTION NAME" >&2; exit 2; }
main "$1"
