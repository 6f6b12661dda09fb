#!/usr/bin/env bash
# bench/failover_bench.sh [N] -- how long a kill -9 failover takes to reach
# the segment.  Prints figures; asserts no timing (exit 0 when every round
# converged, 1 when a round never did).
#
# Setup (127.0.0.1, ports picked at run time, everything in a temp dir and
# torn down on exit): 3 redis-servers (1 master + 2 replicas), 3 sentinels
# (quorum 2, down-after-milliseconds 1000, failover-timeout 5000; no SENTINEL
# DEBUG speedups unless CTL_SENTINEL_DEBUG="ping-period 100 ..." is set),
# marshal-controller configured with all 3 sentinels
# (sentinels.poll_ms 500, health.interval_ms 100, timeout_ms 250,
# down_after 3), one sentinel group "g1".
#
# Each of N rounds: wait until converged (all sentinels name the same master,
# list both replicas healthy with link ok; the segment shows that master and
# 2 readable replicas), then kill -9 the current master, wait until every
# sentinel and the segment name the new master, restart the old master as a
# replica of the new one.
#
# Method and resolution:
#   t_kill    bash $EPOCHREALTIME (us) just before kill -9.
#   t_switch  the first +switch-master on ANY sentinel: one subscriber per
#             sentinel, a bash loop on a /dev/tcp connection (PSUBSCRIBE
#             +switch-master), stamping $EPOCHREALTIME when the message's
#             first line is read (us resolution; a few tens of us after the
#             sentinel's write on an idle box).
#   t_seg     the first line of marshal-shmdump --watch (running across the
#             whole benchmark, woken by the segment's futex) showing g1 with
#             the new master; the watcher stamps lines with CLOCK_REALTIME at
#             ms resolution, so this figure has +-1 ms resolution.
#   t_event   cross-check: time_ms of the master_switch event in the ring
#             (stamped by the controller when it committed the switch, ms).
# Reported per round: kill->switch = t_switch - t_kill, switch->segment =
# t_seg - t_switch (negative when the controller published before any
# sentinel announced +switch-master: it polls and also reacts to
# +promoted-slave / +failover-state-reconf-slaves, and get-master-addr-by-name
# changes at reconf-slaves, before the leader's +switch-master), kill->segment
# = t_seg - t_kill; then median and max of each.
#
# Binaries: $MARSHAL_BUILD/controller/marshal-controller and
# $MARSHAL_BUILD/shm/marshal-shmdump; MARSHAL_BUILD defaults to the first of
# build/normal, build-rel, build-ctlit, build that has them.  Use a normal
# (non-sanitizer) build for figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N]" >&2; exit 64; }
if [[ -z ${MARSHAL_BUILD:-} ]]; then
    for d in build/normal build-rel build-ctlit build; do
        if [[ -x $ROOT/$d/controller/marshal-controller && -x $ROOT/$d/shm/marshal-shmdump ]]; then
            MARSHAL_BUILD=$ROOT/$d
            break
        fi
    done
fi
[[ -n ${MARSHAL_BUILD:-} ]] || { echo "no build found: set MARSHAL_BUILD" >&2; exit 2; }
# sentinels with their default periods unless told otherwise (the tests
# use SENTINEL DEBUG ping-period 100; production does not)
CTL_SENTINEL_DEBUG=${CTL_SENTINEL_DEBUG-}
# shellcheck source=tests/controller/integration/ctl_lib.sh
. "$ROOT/tests/controller/integration/ctl_lib.sh"
ctl_init "$MARSHAL_BUILD/controller/marshal-controller" "$MARSHAL_BUILD/shm/marshal-shmdump"
it_log "binaries from $MARSHAL_BUILD, $N rounds"

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "split"; } );
EOF
CTL_LOG_LEVEL=notice
ctl_start
G=$(grp g1)

# ---- +switch-master subscribers ---------------------------------------------------------
SWITCHES=$IT_DIR/switches.txt
: >"$SWITCHES"
subscriber() { # PORT: "<us> <port> <payload>" per +switch-master
    local port=$1 pat=+switch-master line ts state=0
    exec 5<>"/dev/tcp/127.0.0.1/$port"
    printf '*2\r\n$10\r\nPSUBSCRIBE\r\n$%d\r\n%s\r\n' "${#pat}" "$pat" >&5
    # a pmessage is *4, pmessage, pattern, channel, payload (bulk headers skipped)
    while IFS= read -r line <&5; do
        line=${line%$'\r'}
        [[ $line == '$'* ]] && continue
        case $state,$line in
        *,'*4') ts=${EPOCHREALTIME/./}; state=1 ;;
        1,pmessage) state=2 ;;
        2,*) state=3 ;;
        3,*) state=4 ;;
        4,*) printf '%s %s %s\n' "$ts" "$port" "$line" >>"$SWITCHES"; state=0 ;;
        *) state=0 ;;
        esac
    done
}
for s in "${SP[@]}"; do
    subscriber "$s" &
    IT_PIDS+=("$!")
done
n_subscribers() {
    local s n=0
    for s in "${SP[@]}"; do
        n=$((n + $(scli "$s" CLIENT LIST 2>/dev/null | grep -c 'cmd=psubscribe' || true)))
    done
    echo "$n"
}
# the controller holds one subscription per sentinel too: 3 + ours
await 10 "subscribers connected" eval '(( $(n_subscribers) >= 6 ))'

# a writer through libmarshal-shm: SET every 1 ms, each result stamped (us)
WRITER_BIN=$MARSHAL_BUILD/bench/failover_writer
WLOG=$IT_DIR/writer.log
if [[ -x $WRITER_BIN ]]; then
    "$WRITER_BIN" "$SEG" g1 1000 $((N * 120)) >"$WLOG" 2>"$IT_DIR/writer.err" &
    IT_PIDS+=("$!")
    await 10 "library writer running" grep -q ' ok ' "$WLOG"
fi

start_bg watch "$SHMDUMP" --watch "$SEG"
WATCH_LOG=$IT_DIR/watch.log
await 30 "watcher attached" grep -q ' watching ' "$WATCH_LOG"

# sentinel PORT lists both replicas as healthy (flags exactly "slave", link ok)
healthy_replicas() {
    scli "$1" SENTINEL REPLICAS g1 2>/dev/null | tr -d '\r' |
        awk 'NR % 2 == 1 { k = $0; next }
             k == "flags" { f = $0 }
             k == "master-link-status" { if (f == "slave" && $0 == "ok") n++ }
             END { print n + 0 }'
}
converged() { # MASTER_PORT
    local s
    sentinels_agree "$1" || return 1
    for s in "${SP[@]}"; do
        [[ $(healthy_replicas "$s") == 2 ]] || return 1
    done
    seg_is "$G.master.port == $1 and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
}
# watch timestamp "YYYY-MM-DD HH:MM:SS.mmm" -> ms since the epoch
wts_ms() { date -d "$1" +%s%3N; }

CUR=$MP
declare -a K2S S2G K2G S2W
ROUND_LINES=()
for ((r = 1; r <= N; r++)); do
    await 90 "round $r: converged on :$CUR" converged "$CUR"
    SW0=$(wc -l <"$SWITCHES")
    W0=$(wc -l <"$WATCH_LOG")
    TK=${EPOCHREALTIME/./}
    rkill "$CUR"
    # wait: every sentinel and the segment on a new master
    NEW=
    END=$(($(now_ms) + 60000))
    while :; do
        M=$(master_port g1)
        if [[ $M != null && $M != "$CUR" ]] && sentinels_agree "$M"; then
            NEW=$M
            break
        fi
        (($(now_ms) < END)) || fail "round $r: no new master within 60 s"
        sleep 0.1
    done
    await 20 "round $r: a +switch-master" eval '(( $(wc -l <"'"$SWITCHES"'") > '"$SW0"' ))'
    TSW=$(tail -n +$((SW0 + 1)) "$SWITCHES" | awk -v n="$NEW" '$0 ~ (" 127.0.0.1 " n "$") { print $1 }' | sort -n | head -n 1)
    [[ -n $TSW ]] || fail "round $r: no +switch-master to :$NEW: $(tail -n +$((SW0 + 1)) "$SWITCHES")"
    await 10 "round $r: watcher saw :$NEW" eval \
        'tail -n +'"$((W0 + 1))"' "'"$WATCH_LOG"'" | grep -q " group g1: master 127.0.0.1:'"$NEW"' "'
    WL=$(tail -n +$((W0 + 1)) "$WATCH_LOG" | grep -m1 " group g1: master 127.0.0.1:$NEW ")
    TSEG=$(wts_ms "${WL:0:23}")
    TEV=$(seg_q "[.events[] | select(.type == \"master_switch\" and .new == \"127.0.0.1:$NEW\") | .time_ms] | last")
    TKM=$((TK / 1000))
    S2W[r]=-
    if [[ -x $WRITER_BIN ]]; then
        # the first successful library write on the new master after the switch
        await 20 "round $r: a library write on :$NEW" eval \
            'awk -v t='"$TSW"' -v p='"$NEW"' '"'"'$1 > t && $2 == "ok" && $3 == p { f = 1 } END { exit !f }'"'"' "'"$WLOG"'"'
        TW=$(awk -v t="$TSW" -v p="$NEW" '$1 > t && $2 == "ok" && $3 == p { print $1; exit }' "$WLOG")
        S2W[r]=$(awk -v a="$TW" -v b="$TSW" 'BEGIN { printf "%.1f", (a - b) / 1000 }')
    fi
    K2S[r]=$(((TSW - TK) / 1000))
    S2G[r]=$((TSEG - TSW / 1000))
    K2G[r]=$((TSEG - TKM))
    ROUND_LINES+=("$(printf '%5d  :%-5s -> :%-5s  %14d  %16d  %15d  %19d  %14s' "$r" "$CUR" "$NEW" \
        "${K2S[r]}" "${S2G[r]}" "${K2G[r]}" "$((TEV - TKM))" "${S2W[r]}")")
    it_log "round $r: :$CUR -> :$NEW kill->switch ${K2S[r]} ms, switch->segment ${S2G[r]} ms, kill->segment ${K2G[r]} ms"
    rstart "$CUR" "$NEW"
    CUR=$NEW
done

stats() { # values... -> "median max" (median: mean of the middle two for even n)
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s %d\n", m, v[NR] }'
}
echo
echo "failover_bench: $N rounds of kill -9 master; 3 sentinels (quorum 2, down-after 1000 ms," \
    "failover-timeout 5000 ms, SENTINEL DEBUG: ${CTL_SENTINEL_DEBUG:-none}); controller poll 500 ms," \
    "health every 100 ms (down after 3 x 250 ms); $(basename "$MARSHAL_BUILD") build"
echo "times in ms; switch = first +switch-master on any sentinel (subscriber, us clock);" \
    "segment = first marshal-shmdump --watch line with the new master (ms clock)"
printf '%5s  %-17s  %14s  %16s  %15s  %19s  %14s\n' round failover kill-\>switch switch-\>segment \
    kill-\>segment kill-\>ring-event switch-\>write
printf '%s\n' "${ROUND_LINES[@]}"
read -r m1 x1 < <(stats "${K2S[@]}")
read -r m2 x2 < <(stats "${S2G[@]}")
read -r m3 x3 < <(stats "${K2G[@]}")
printf '%-25s  %14s  %16s  %15s\n' "median" "$m1" "$m2" "$m3"
printf '%-25s  %14s  %16s  %15s\n' "max" "$x1" "$x2" "$x3"
if [[ -x $WRITER_BIN ]]; then
    printf '%s\n' "${S2W[@]}" | sort -g | awk '{ v[NR] = $1 } END {
        printf "switch->write (first successful SET through libmarshal-shm on the new master, ms): median %s max %s\n",
            (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[NR] }'
    echo "library writer: $(grep -c ' ok ' "$WLOG") ok, $(grep -c ' err ' "$WLOG") failed" \
        "($(grep ' err ' "$WLOG" | awk '{ print $3 " " $4 " " $5 }' | sort | uniq -c | tr '\n' ';'))"
fi
echo "(negative switch->segment: the controller published before any sentinel's +switch-master)"
echo "(kill->ring-event: time_ms of the controller's master_switch event, a cross-check of kill->segment)"
