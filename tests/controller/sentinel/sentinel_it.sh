#!/usr/bin/env bash
# sentinel_it.sh DRIVER CASE -- ctl_sentinel against real Redis Sentinel.
#
# In a mktemp -d directory: 1 master + 2 replicas (redis-server) and 3
# redis-sentinel processes on free 127.0.0.1 ports (g1: quorum 2,
# down-after 1000 ms, failover-timeout 5000 ms), then sentinel_driver (the
# real ctl_sentinel.c with a fake model that prints one line per model call).
# Every wait is a bounded poll of the driver's output (wait_for); nothing
# relies on a bare sleep.  Exit 0 pass, 1 fail, 77 skip (no redis binaries).
#
# Cases: discover failover pubsub_kill sentinel_restart unknown_group
#        conn_subscribe (DRIVER = test_conn_sub: ctl_conn regression)
# KEEP_TMP=1 keeps the directory (driver.out, driver.log, server logs).
set -u

DRIVER=${1:?usage: sentinel_it.sh DRIVER CASE}
CASE=${2:?usage: sentinel_it.sh DRIVER CASE}

for b in redis-server redis-sentinel redis-cli; do
    command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b not installed"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/marshal-sentinel-XXXXXX")
OUT=$T/driver.out
LOG=$T/driver.log
DRIVER_PID=
FAILED=0
USED_PORTS=" "

now_ms() { date +%s%3N; }

say() { echo "[$(date +%T.%3N)] $*"; }

cleanup() {
    local f
    exec 3>&- 2>/dev/null
    if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
        kill "$DRIVER_PID" 2>/dev/null
        wait "$DRIVER_PID" 2>/dev/null
    fi
    for f in "$T"/*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    if [ "$FAILED" != 0 ]; then
        echo "---- driver stdout (last 60) ----"; tail -n 60 "$OUT" 2>/dev/null
        echo "---- driver stderr (last 60) ----"; tail -n 60 "$LOG" 2>/dev/null
        for f in "$T"/sentinel-*.log; do
            [ -f "$f" ] && { echo "---- $(basename "$f") (last 15) ----"; tail -n 15 "$f"; }
        done
    fi
    if [ -n "${KEEP_TMP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    say "FAIL: $*"
    FAILED=1
    exit 1
}

# wait_for TRIES INTERVAL_MS WHAT CMD... : poll CMD until it succeeds.
wait_for() {
    local tries=$1 ms=$2 what=$3 i
    shift 3
    for ((i = 0; i < tries; i++)); do
        "$@" && return 0
        sleep "$(printf '0.%03d' "$ms")"
    done
    fail "timed out ($((tries * ms)) ms) waiting for: $what"
}

# pick_port VAR: a free 127.0.0.1 port not handed out before in this run,
# below the kernel's ephemeral range (outgoing connections of parallel tests
# would otherwise grab "free" ports before our servers bind them).
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$EPHEMERAL_LOW" -gt 12000 ] 2>/dev/null || EPHEMERAL_LOW=32768
pick_port() {
    local p
    while :; do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % (EPHEMERAL_LOW - 10000)))
        case "$USED_PORTS" in *" $p "*) continue ;; esac
        if ! (exec 9<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED_PORTS="$USED_PORTS$p "
            printf -v "$1" '%s' "$p"
            return
        fi
    done
}

pong() { [ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ]; }

start_redis() { # PORT [MASTER_PORT]
    local p=$1
    mkdir -p "$T/redis-$p"
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$T/redis-$p.pid" --logfile "$T/redis-$p.log" --dir "$T/redis-$p" \
        ${2:+--replicaof 127.0.0.1 "$2"} 3>&- || fail "redis-server :$p did not start"
    wait_for 100 50 "redis-server :$p" pong "$p"
}

start_sentinel() { # PORT (the config file is kept across restarts)
    local p=$1 conf
    conf=$T/sentinel-$p.conf
    if [ ! -f "$conf" ]; then
        cat >"$conf" <<EOF
port $p
bind 127.0.0.1
daemonize yes
pidfile $T/sentinel-$p.pid
logfile $T/sentinel-$p.log
dir $T
sentinel monitor g1 127.0.0.1 $MP 2
sentinel down-after-milliseconds g1 1000
sentinel failover-timeout g1 5000
EOF
    fi
    # 3>&-: a daemon must not hold the driver's stdin FIFO open
    redis-sentinel "$conf" 3>&- || fail "redis-sentinel :$p did not start"
    wait_for 100 50 "redis-sentinel :$p" pong "$p"
}

replicas_linked() {
    [ "$(redis-cli -p "$MP" INFO replication | tr -d '\r' | grep -c 'state=online')" = 2 ]
}

setup_cluster() {
    pick_port MP; pick_port R1; pick_port R2
    pick_port S0; pick_port S1; pick_port S2
    SP=("$S0" "$S1" "$S2")
    say "ports: master $MP replicas $R1 $R2 sentinels ${SP[*]}"
    start_redis "$MP"
    start_redis "$R1" "$MP"
    start_redis "$R2" "$MP"
    wait_for 200 50 "2 replicas online" replicas_linked
    start_sentinel "$S0"; start_sentinel "$S1"; start_sentinel "$S2"
}

start_driver() {
    mkfifo "$T/ctl"
    "$DRIVER" "$@" <"$T/ctl" >"$OUT" 2>"$LOG" &
    DRIVER_PID=$!
    exec 3>"$T/ctl"
    wait_for 100 50 "driver started" grep -q ' STARTED$' "$OUT"
}

# Close the driver's stdin: it frees everything and exits; under
# -DMARSHAL_SANITIZE=ON a leak or a sanitizer report makes that exit non-zero.
finish_driver() {
    local rc
    exec 3>&-
    wait_for 100 50 "driver exit" grep -q ' EXIT$' "$OUT"
    wait "$DRIVER_PID"
    rc=$?
    DRIVER_PID=
    [ "$rc" = 0 ] || fail "driver exited with status $rc"
    if grep -q -e 'AddressSanitizer' -e 'LeakSanitizer' -e 'runtime error' "$LOG"; then
        fail "sanitizer report in the driver log"
    fi
}

# --- predicates over the driver output ------------------------------------

last_view() { grep " VIEW $1 $2 " "$OUT" | tail -n 1; }
last_state() { grep " STATE $1 " "$OUT" | tail -n 1 | cut -d' ' -f4-; }
count_is() { [ "$(grep ' COUNT ' "$OUT" | tail -n 1 | cut -d' ' -f3)" = "$1" ]; }
view_count() { grep -c " VIEW $1 $2 " "$OUT"; }

# view_has SI GROUP WORD...: the latest view contains every WORD.
view_has() {
    local si=$1 g=$2 v w
    shift 2
    v=$(last_view "$si" "$g")
    [ -n "$v" ] || return 1
    for w in "$@"; do
        case " $v " in *"$w"*) ;; *) return 1 ;; esac
    done
}

view_field() { # SI GROUP FIELD -> value of FIELD=... in the latest view
    last_view "$1" "$2" | tr ' ' '\n' | sed -n "s/^$3=//p"
}

state_is() { [ "$(last_state "$1")" = "$2 $3" ]; }

event_seen() { # SI|any CHANNEL PAYLOAD-PREFIX
    if [ "$1" = any ]; then
        grep -q " EVENT [0-9]* $2 $3" "$OUT"
    else
        grep -q " EVENT $1 $2 $3" "$OUT"
    fi
}

all_views() { # GROUP WORD...: view_has for si 0..2
    local si g=$1
    shift
    for si in 0 1 2; do view_has "$si" "$g" "$@" || return 1; done
}

DRV_OPTS=(--group g1 --poll-ms 500 --ping-ms 300 --timeout-ms 1000 --connect-timeout-ms 500
          --log-level verbose)

# --- cases ----------------------------------------------------------------

case_discover() {
    setup_cluster
    start_driver --sentinel "127.0.0.1:$S0" "${DRV_OPTS[@]}"
    wait_for 400 50 "3 sentinels known (1 configured + 2 discovered)" count_is 3
    wait_for 400 50 "views from all 3 sentinels: master + 2 replicas" all_views g1 \
        "master=127.0.0.1:$MP " "replicas=2 " " 127.0.0.1:$R1/" " 127.0.0.1:$R2/"
    local e0 e1 e2
    e0=$(view_field 0 g1 epoch); e1=$(view_field 1 g1 epoch); e2=$(view_field 2 g1 epoch)
    [ -n "$e0" ] && [ "$e0" = "$e1" ] && [ "$e1" = "$e2" ] ||
        fail "config epochs differ: $e0 $e1 $e2"
    local si
    for si in 0 1 2; do
        wait_for 100 50 "sentinel $si reachable, no TILT" state_is "$si" 1 0
    done
    [ "$(grep -c 'discovered through' "$LOG")" = 2 ] || fail "expected 2 discoveries"
    say "views: master 127.0.0.1:$MP, replicas $R1 $R2, config_epoch $e0 on all 3 sentinels"
    finish_driver
}

case_failover() {
    setup_cluster
    start_driver --sentinel "127.0.0.1:$S0" --sentinel "127.0.0.1:$S1" \
        --sentinel "127.0.0.1:$S2" "${DRV_OPTS[@]}"
    # the sentinels must know each other before a failover can be authorised
    wait_for 400 50 "views: master $MP, 2 other sentinels" all_views g1 \
        "master=127.0.0.1:$MP " "others=2 " "replicas=2 "
    local old_epoch t0 newm
    old_epoch=$(view_field 0 g1 epoch)
    t0=$(now_ms)
    kill -9 "$(cat "$T/redis-$MP.pid")"
    say "kill -9 master :$MP at $t0 (config_epoch $old_epoch)"
    wait_for 600 50 "+switch-master" event_seen any +switch-master "g1 127.0.0.1 $MP "
    wait_for 100 50 "+promoted-slave" event_seen any +promoted-slave "slave 127.0.0.1:"
    newm=$(grep ' EVENT [0-9]* +switch-master g1 ' "$OUT" | head -n 1 | awk '{print $9}')
    [ "$newm" = "$R1" ] || [ "$newm" = "$R2" ] || fail "switch-master to unexpected port $newm"
    converged() {
        local si e
        all_views g1 "master=127.0.0.1:$newm " || return 1
        for si in 0 1 2; do
            e=$(view_field "$si" g1 epoch)
            [ "$e" -gt "$old_epoch" ] && [ "$e" = "$(view_field 0 g1 epoch)" ] || return 1
        done
    }
    wait_for 600 50 "all 3 views on the new master :$newm with a higher config_epoch" converged
    # timings from the driver's own timestamps
    local t_sw t_pr t_cv
    t_pr=$(grep ' EVENT [0-9]* +promoted-slave ' "$OUT" | head -n 1 | cut -d' ' -f1)
    t_sw=$(grep ' EVENT [0-9]* +switch-master g1 ' "$OUT" | head -n 1 | cut -d' ' -f1)
    t_cv=$(awk -v nm="master=127.0.0.1:$newm" -v oe="$old_epoch" '
        $2 == "VIEW" && $4 == "g1" {
            ok[$3] = ($5 == nm); split($6, a, "="); ep[$3] = a[2] + 0
            if (ok[0] && ok[1] && ok[2] && ep[0] > oe && ep[0] == ep[1] && ep[1] == ep[2]) {
                print $1; exit
            }
        }' "$OUT")
    say "new master :$newm, config_epoch $(view_field 0 g1 epoch) (was $old_epoch)"
    say "MEASURE kill->+promoted-slave $((t_pr - t0)) ms," \
        "kill->first +switch-master $((t_sw - t0)) ms, kill->views converged $((t_cv - t0)) ms"
    say "events seen: $(awk '$2 == "EVENT" {print $4}' "$OUT" | awk '!s[$0]++' | tr '\n' ' ')"
    finish_driver
}

case_pubsub_kill() {
    setup_cluster
    # a long poll interval: views now come only from (re)connect resyncs and events
    start_driver --sentinel "127.0.0.1:$S0" --sentinel "127.0.0.1:$S1" \
        --sentinel "127.0.0.1:$S2" --group g1 --poll-ms 60000 --ping-ms 300 \
        --timeout-ms 1000 --connect-timeout-ms 500 --log-level debug
    wait_for 400 50 "initial views (connect resync)" all_views g1 "master=127.0.0.1:$MP "
    wait_for 100 50 "3 subscriptions" eval '[ "$(grep -c "subscribed; resync" "$LOG")" -ge 3 ]'
    local si n0=() p killed
    for si in 0 1 2; do n0[si]=$(view_count "$si" g1); done
    for p in "${SP[@]}"; do
        killed=$(redis-cli -p "$p" CLIENT KILL TYPE pubsub)
        [ "$killed" -ge 1 ] || fail "CLIENT KILL TYPE pubsub on :$p killed '$killed'"
    done
    say "CLIENT KILL TYPE pubsub on all 3 sentinels"
    wait_for 100 50 "3 subscribed connections seen down" \
        eval '[ "$(grep -c "subscribed connection down" "$LOG")" -ge 3 ]'
    wait_for 200 50 "3 resubscriptions" eval '[ "$(grep -c "subscribed; resync" "$LOG")" -ge 6 ]'
    resynced() {
        local i
        for i in 0 1 2; do [ "$(view_count "$i" g1)" -gt "${n0[i]}" ] || return 1; done
    }
    wait_for 100 50 "a fresh view from every sentinel (resync)" resynced
    # later events still arrive on the new subscriptions
    kill -9 "$(cat "$T/redis-$R2.pid")"
    say "kill -9 replica :$R2"
    for si in 0 1 2; do
        wait_for 300 50 "+sdown of :$R2 from sentinel $si" \
            event_seen "$si" +sdown "slave 127.0.0.1:$R2 "
    done
    r2_sdown() { # s_down (0x1) set in every sentinel's latest view of :R2
        local si f
        for si in 0 1 2; do
            f=$(last_view "$si" g1 | tr ' ' '\n' | sed -n "s|^127.0.0.1:$R2/\(0x[0-9a-f]*\)/.*|\1|p")
            [ -n "$f" ] && [ $((f & 1)) = 1 ] || return 1
        done
    }
    wait_for 100 50 "views show :$R2 s_down (event-driven re-poll)" r2_sdown
    # a silent subscribed connection: SIGSTOP one sentinel past the pong timeout
    local t0
    t0=$(now_ms)
    kill -STOP "$(cat "$T/sentinel-$S2.pid")"
    say "SIGSTOP sentinel :$S2"
    wait_for 100 50 "pong timeout on sentinel #2" grep -q "(#2): no pong" "$LOG"
    say "pong timeout noticed after $(($(now_ms) - t0)) ms"
    # stay stopped 3 s in all (a deliberate duration: sentinel enters TILT after >2 s)
    while [ $(($(now_ms) - t0)) -lt 3000 ]; do sleep 0.1; done
    kill -CONT "$(cat "$T/sentinel-$S2.pid")"
    say "SIGCONT sentinel :$S2"
    resubscribed() {
        [ "$(grep -c '(#2): subscribed; resync' "$LOG")" -ge 3 ]
    }
    wait_for 200 50 "sentinel #2 resubscribed" resubscribed
    wait_for 200 50 "sentinel #2 reported in TILT" state_is 2 1 1
    finish_driver
}

case_sentinel_restart() {
    setup_cluster
    start_driver --sentinel "127.0.0.1:$S0" --sentinel "127.0.0.1:$S1" \
        --sentinel "127.0.0.1:$S2" "${DRV_OPTS[@]}"
    local si t0
    for si in 0 1 2; do
        wait_for 200 50 "sentinel $si reachable" state_is "$si" 1 0
    done
    wait_for 200 50 "views" all_views g1 "master=127.0.0.1:$MP "
    t0=$(now_ms)
    kill -9 "$(cat "$T/sentinel-$S2.pid")"
    say "kill -9 sentinel :$S2 (#2)"
    wait_for 200 50 "sentinel #2 unreachable" state_is 2 0 0
    wait_for 100 50 "sentinel #2 view withdrawn" eval '[ "$(last_view 2 g1 | cut -d" " -f5)" = NULL ]'
    say "MEASURE kill -9 -> unreachable reported: $(($(grep ' STATE 2 0 0$' "$OUT" | tail -n 1 | cut -d' ' -f1) - t0)) ms"
    state_is 0 1 0 && state_is 1 1 0 || fail "other sentinels affected"
    t0=$(now_ms)
    start_sentinel "$S2"
    say "restarted sentinel :$S2"
    wait_for 300 50 "sentinel #2 reachable again" state_is 2 1 0
    wait_for 200 50 "sentinel #2 view back" view_has 2 g1 "master=127.0.0.1:$MP "
    say "MEASURE restart -> reachable reported: $(($(grep ' STATE 2 1 0$' "$OUT" | tail -n 1 | cut -d' ' -f1) - t0)) ms"
    count_is 3 || fail "sentinel count changed"
    finish_driver
}

case_unknown_group() {
    setup_cluster
    start_driver --sentinel "127.0.0.1:$S0" --sentinel "127.0.0.1:$S1" \
        --sentinel "127.0.0.1:$S2" --group nosuch "${DRV_OPTS[@]}"
    nosuch_null() {
        local si
        for si in 0 1 2; do
            [ "$(last_view "$si" nosuch | cut -d' ' -f5)" = NULL ] || return 1
        done
    }
    wait_for 200 50 "view NULL for the unknown group on all sentinels" nosuch_null
    wait_for 200 50 "g1 views still fine" all_views g1 "master=127.0.0.1:$MP "
    grep -q ' VIEW [0-9] nosuch master=' "$OUT" && fail "a view for the unknown group"
    # reload: only one configured sentinel and only g1; the other two are
    # dropped, then rediscovered; nosuch is never polled again
    echo "reconfigure --sentinel 127.0.0.1:$S0 --group g1 --poll-ms 500 --ping-ms 300" >&3
    wait_for 100 50 "reconfigured" grep -q ' RECONFIGURED$' "$OUT"
    after() { sed -n '/ RECONFIGURING$/,$p' "$OUT"; }
    wait_for 100 50 "count dropped to 1" eval 'after | grep -q " COUNT 1$"'
    wait_for 400 50 "count back to 3 (rediscovered)" count_is 3
    wait_for 200 50 "g1 views from all 3 after the reload" all_views g1 "master=127.0.0.1:$MP "
    after | grep -q ' VIEW [0-9] nosuch ' && fail "nosuch polled after the reload"
    echo poll >&3
    wait_for 100 50 "poll_now" grep -q ' POLLED$' "$OUT"
    finish_driver
}

# ctl_conn regression (multi-pattern PSUBSCRIBE, PING on a subscribed
# connection): DRIVER is test_conn_sub here, against one redis-server.
case_conn_subscribe() {
    pick_port MP
    start_redis "$MP"
    "$DRIVER" "127.0.0.1:$MP" || fail "test_conn_sub"
}

case "$CASE" in
discover | failover | pubsub_kill | sentinel_restart | unknown_group | conn_subscribe) ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
START=$(now_ms)
say "case $CASE in $T"
"case_$CASE"
say "PASS $CASE ($(($(now_ms) - START)) ms)"
exit 0
