#!/usr/bin/env bash
# bench/controller_scale.sh [DURATION_S] [options] -- marshal-controller's
# steady-state cost with many static groups (issue workload 5).  Prints
# figures; asserts none.
#
#   bench/controller_scale.sh [DURATION_S] [--groups "100 1000"] [--info-ms MS]
#                             [--controller BIN --shmdump BIN --responder BIN]
#   bench/controller_scale.sh --smoke ...       (10 groups, 3 s: what CI runs)
#
# For each N in --groups (default 100 and 1000): one bench/responder process
# answers PING/ROLE/INFO on 3N consecutive 127.0.0.1 ports (groups of 3:
# master, replica, replica; a free range below the ephemeral port range is
# picked, another one tried when a port is taken), the controller gets a
# config with N static groups (master + 2 replicas, route split) and health
# checks every 100 ms (timeout 250 ms, INFO every --info-ms, default 1000 as
# in etc/marshal.conf), default segment capacities (1024 groups / 8192
# servers), log level notice.  Once the segment shows all N masters up and
# 2N readable replicas and nothing was published for 1 s, the controller
# runs DURATION_S (default 20) undisturbed and we report:
#   ctl CPU%     (utime + stime) delta from /proc/<pid>/stat over the window,
#                in % of one core (clock ticks: +-1 tick);
#   CPU%(ns)     the same from /proc/<pid>/schedstat (ns on CPU);
#   us/check     controller CPU per server health round (3N servers x 10/s);
#   RSS          VmRSS at the end (and how much of it is the shared segment),
#                VmHWM;
#   resp CPU%    the responder's CPU over the same window;
#   up after     seconds from the controller's start to all groups up;
#   rounds/s     health rounds (PINGs) and INFOs the responder answered per
#   INFO/s       server and second in the window (SIGUSR1 counters): 10 and
#                1000/info_ms when the checks keep up;
#   publishes    pub_seq delta over the window (state publishes);
# plus the segment size.
#
# Binaries: --controller/--shmdump/--responder, else from $MARSHAL_BUILD
# (controller/marshal-controller, shm/marshal-shmdump, bench/responder);
# MARSHAL_BUILD defaults to the first of build/normal, build-rel, build-bench,
# build that has all three.  Use a normal (non-sanitizer) build for figures.
# Needs jq (exit 77 without).  Everything started is stopped and every file
# removed on exit (trap).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=20
SIZES="100 1000"
INFO_MS=1000
SMOKE=0
CTL=${CTL:-}
SHMDUMP=${SHMDUMP:-}
RESPONDER=${RESPONDER:-}
usage() {
    echo "usage: $0 [DURATION_S] [--smoke] [--groups \"N ...\"] [--info-ms MS]" \
        "[--controller BIN] [--shmdump BIN] [--responder BIN]" >&2
    exit 64
}
while (($# > 0)); do
    case $1 in
    --smoke) SMOKE=1; SECS=3; SIZES=10 ;;
    --groups) (($# >= 2)) || usage; SIZES=$2; shift ;;
    --info-ms) (($# >= 2)) || usage; INFO_MS=$2; shift ;;
    --controller) (($# >= 2)) || usage; CTL=$2; shift ;;
    --shmdump) (($# >= 2)) || usage; SHMDUMP=$2; shift ;;
    --responder) (($# >= 2)) || usage; RESPONDER=$2; shift ;;
    [1-9]*) [[ $1 =~ ^[1-9][0-9]*$ ]] || usage; SECS=$1 ;;
    *) usage ;;
    esac
    shift
done
[[ $INFO_MS =~ ^[1-9][0-9]*$ ]] || usage
for n in $SIZES; do
    # the default segment capacity is 1024 groups
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ((n > 1024)); then
        echo "$0: groups must be 1..1024" >&2
        exit 64
    fi
done
# shellcheck source=bench/bench_lib.sh
. "$ROOT/bench/bench_lib.sh"
bench_binaries bench/responder RESPONDER
command -v jq >/dev/null || { echo "jq not installed: skipped"; exit 77; }

DIR=$(mktemp -d /tmp/controller_scale.XXXXXX)
SEG=/dev/shm/marshal-scale-$$
RESP_COUNT=0
CTL_PID=
RESP_PID=
stop_pid() { # PID: TERM, up to 5 s, then KILL; reap
    local p=$1 i
    [[ -n $p ]] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
cleanup() {
    stop_pid "$CTL_PID"
    CTL_PID=
    stop_pid "$RESP_PID"
    RESP_PID=
    rm -f "$SEG" "$SEG.lock" "$SEG.ctl" "$SEG.wake"
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# the controller keeps one connection per server, the responder a listener and
# a connection per port
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TCK=$(getconf CLK_TCK)
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
stat_ticks() { # PID -> utime + stime (ticks)
    local s
    s=$(cat "/proc/$1/stat")
    s=${s##*) }
    awk '{ print $12 + $13 }' <<<"$s"
}
sched_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
# the threads other than the loop's (the metrics endpoint's thread)
sched_ns_others() {
    local t s=0
    for t in /proc/"$1"/task/*; do
        [[ ${t##*/} == "$1" ]] || s=$((s + $(awk '{ print $1 }' "$t/schedstat")))
    done
    echo "$s"
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
seg_rss_kb() { # PID PATH -> Rss of the mappings of PATH
    # prefix match: the segment is built under a temporary name and renamed
    awk -v f="$2" '/^[0-9a-f]+-[0-9a-f]+ / { in_seg = (index($NF, f) == 1) } in_seg && $1 == "Rss:" { n += $2 }
                   END { print n + 0 }' "/proc/$1/smaps"
}
resp_stats() { # -> the responder's next SIGUSR1 counters line
    local out=$DIR/responder-$RESP_COUNT.out n i
    n=$(grep -c 'stats:' "$out" || true)
    kill -USR1 "$RESP_PID"
    for ((i = 0; i < 200; i++)); do
        (($(grep -c 'stats:' "$out" || true) > n)) && break
        sleep 0.01
    done
    grep 'stats:' "$out" | tail -n 1
}
field() { # LINE KEY -> value of KEY=value
    sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"
}
sj() { "$SHMDUMP" --json --events 0 "$SEG" 2>/dev/null; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
fail() {
    log "FAILED: $*"
    [[ -n ${CTL_LOG:-} && -f $CTL_LOG ]] && tail -n 20 "$CTL_LOG" >&2
    exit 1
}

# A free range of COUNT ports below the ephemeral range (the controller's own
# outgoing connections take ephemeral ports): start the responder there; try
# another range when a port is taken (the responder exits 3).
start_responder() { # COUNT -> RESP_PID, BASE
    local count=$1 lo try out i
    lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    ((lo - count > 10001)) || lo=$((10001 + count + 1000))
    for ((try = 0; try < 10; try++)); do
        BASE=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - count - 10000)))
        RESP_COUNT=$count
        out=$DIR/responder-$count.out
        "$RESPONDER" --base "$BASE" --count "$count" --max-seconds $((SECS + 600)) \
            >"$out" 2>"$DIR/responder-$count.err" &
        RESP_PID=$!
        for ((i = 0; i < 100; i++)); do
            grep -q 'ready:' "$out" 2>/dev/null && return 0
            kill -0 "$RESP_PID" 2>/dev/null || break
            sleep 0.1
        done
        wait "$RESP_PID" 2>/dev/null || true
        RESP_PID=
        log "ports $BASE-$((BASE + count - 1)): $(head -c 200 "$DIR/responder-$count.err" | tr '\n' ' ')"
    done
    fail "no free range of $count ports"
}

write_conf() { # N BASE CONF
    local n=$1 base=$2 conf=$3 i m
    {
        cat <<EOF
segment = {
  path = "$SEG";
  mode = "0640";
  heartbeat_ms = 100;
  stale_after_ms = 3000;
};
log = { level = "notice"; };
$( ((MPORT > 0)) && echo "metrics = { listen = \"127.0.0.1:$MPORT\"; };" )
health = { interval_ms = 100; timeout_ms = 250; info_ms = $INFO_MS; down_after = 3; up_after = 2; };
groups = (
EOF
        for ((i = 0; i < n; i++)); do
            m=$((base + 3 * i))
            printf '  { name = "g%04d"; master = "127.0.0.1:%d"; route = "split";\n' "$i" "$m"
            printf '    replicas = ( "127.0.0.1:%d", "127.0.0.1:%d" ); }%s\n' $((m + 1)) $((m + 2)) \
                "$( ((i + 1 < n)) && echo ,)"
        done
        echo ");"
    } >"$conf"
}

all_up_q() { # N -> jq filter: every group has its master and 2 readable replicas
    printf '(.segment.flags | index("warming_up") | not) and ([.groups[] | select(.master != null and
        ([.servers[] | select(.flags | index("readable"))] | length) == 2)] | length) == %d' "$1"
}

# a free port for the metrics endpoint outside the responder's range (0: curl
# missing, no scrape figures)
MPORT=0
pick_mport() { # BASE SERVERS
    local i p
    MPORT=0
    command -v curl >/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 12000))
        ((p >= $1 && p < $1 + $2)) && continue
        timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null && continue
        MPORT=$p
        return 0
    done
}

# scrape_cost N: K scrapes of /metrics one after another; the CPU of the
# endpoint's thread per scrape (the loop does nothing for a scrape); render
# time as the endpoint reports it; wall time per scrape as curl sees it
SCRAPES=()
scrape_cost() {
    local n=$1 k=20 i ns0 ns1 wall=0 w out=$DIR/scrape-$n.txt
    ((MPORT > 0)) || return 0
    curl -sf --max-time 10 -o "$out" "http://127.0.0.1:$MPORT/metrics" || { log "scrape failed"; return 0; }
    ns0=$(sched_ns_others "$CTL_PID")
    for ((i = 0; i < k; i++)); do
        w=$(curl -sf --max-time 10 -o "$out" -w '%{time_total}' "http://127.0.0.1:$MPORT/metrics") || return 0
        wall=$(awk -v a="$wall" -v b="$w" 'BEGIN { print a + b }')
    done
    ns1=$(sched_ns_others "$CTL_PID")
    SCRAPES+=("$(printf '%6d %8d %9d %10.0f %10.0f %10.0f' "$n" "$(grep -vc '^#' "$out")" "$(wc -c <"$out")" \
        "$(awk '$1 == "marshal_scrape_duration_seconds" { print $2 * 1e6 }' "$out")" \
        "$(awk -v w="$wall" -v k=$k 'BEGIN { print w / k * 1e6 }')" \
        "$(awk -v d=$((ns1 - ns0)) -v k=$k 'BEGIN { print d / k / 1e3 }')")")
    log "$n groups: scrape ${SCRAPES[-1]}"
}

RESULTS=()
SEGSIZE=()
run_size() { # N
    local n=$1 servers conf t_start t_up j0 j1 t0 t1 tk0 tk1 ns0 ns1 rt0 rt1 el cpu cpu_ns rcpu
    local rss hwm srss pubs up_s per_check segsz i p rs0 rs1 rel pings infos
    servers=$((3 * n))
    start_responder "$servers"
    log "$n groups: responder pid $RESP_PID on 127.0.0.1:$BASE-$((BASE + servers - 1))"
    conf=$DIR/marshal-$n.conf
    pick_mport "$BASE" "$servers"
    write_conf "$n" "$BASE" "$conf"
    "$CTL" -c "$conf" --check-config >"$DIR/check-$n.out" 2>&1 || { cat "$DIR/check-$n.out" >&2; fail "config rejected"; }
    rm -f "$SEG" "$SEG.lock" "$SEG.ctl" "$SEG.wake"
    CTL_LOG=$DIR/controller-$n.log
    t_start=$(now_ms)
    "$CTL" -c "$conf" 2>"$CTL_LOG" &
    CTL_PID=$!
    # all groups up: bounded polling
    for ((i = 0; ; i++)); do
        kill -0 "$CTL_PID" 2>/dev/null || fail "controller exited"
        if j0=$(sj) && [[ -n $j0 ]] && jq -e "$(all_up_q "$n")" >/dev/null <<<"$j0"; then
            break
        fi
        ((i < 600)) || fail "$n groups not all up after 60 s"
        sleep 0.1
    done
    t_up=$(now_ms)
    up_s=$(awk -v d=$((t_up - t_start)) 'BEGIN { printf "%.1f", d / 1000 }')
    log "$n groups: all masters up, $((2 * n)) replicas readable after ${up_s} s"
    # the window starts once nothing was published for 1 s
    for ((i = 0; ; i++)); do
        p=$(sj | jq -r .segment.pub_seq || true)
        sleep 1
        [[ $(sj | jq -r .segment.pub_seq || true) == "$p" ]] && break
        ((i < 30)) || { log "still publishing after 30 s; measuring anyway"; break; }
    done
    j0=$(sj)
    rs0=$(resp_stats)
    t0=$(now_ms); tk0=$(stat_ticks "$CTL_PID"); ns0=$(sched_ns "$CTL_PID"); rt0=$(stat_ticks "$RESP_PID")
    # the measurement window: the controller runs undisturbed; this wait is
    # the window itself, not a synchronisation
    sleep "$SECS"
    t1=$(now_ms); tk1=$(stat_ticks "$CTL_PID"); ns1=$(sched_ns "$CTL_PID"); rt1=$(stat_ticks "$RESP_PID")
    rs1=$(resp_stats)
    rss=$(status_kb "$CTL_PID" VmRSS); hwm=$(status_kb "$CTL_PID" VmHWM)
    srss=$(seg_rss_kb "$CTL_PID" "$SEG")
    j1=$(sj)
    jq -e "$(all_up_q "$n")" >/dev/null <<<"$j1" || log "WARNING: not every group was up at the end of the window"
    el=$((t1 - t0))
    cpu=$(awk -v d=$((tk1 - tk0)) -v t="$TCK" -v e="$el" 'BEGIN { printf "%.2f", d / t * 1000 / e * 100 }')
    cpu_ns=$(awk -v d=$((ns1 - ns0)) -v e="$el" 'BEGIN { printf "%.2f", d / 1e6 / e * 100 }')
    rcpu=$(awk -v d=$((rt1 - rt0)) -v t="$TCK" -v e="$el" 'BEGIN { printf "%.2f", d / t * 1000 / e * 100 }')
    per_check=$(awk -v d=$((ns1 - ns0)) -v e="$el" -v s="$servers" \
        'BEGIN { printf "%.1f", d / 1e3 / (s * 10 * e / 1000) }')
    pubs=$(($(jq -r .segment.pub_seq <<<"$j1") - $(jq -r .segment.pub_seq <<<"$j0")))
    # health rounds actually answered: PINGs (one per round) and INFOs per server and second
    rel=$(($(field "$rs1" mono_ms) - $(field "$rs0" mono_ms)))
    pings=$(awk -v d=$(($(field "$rs1" ping) - $(field "$rs0" ping))) -v e="$rel" -v s="$servers" \
        'BEGIN { printf "%.2f", (e > 0 ? d / s / (e / 1000) : 0) }')
    infos=$(awk -v d=$(($(field "$rs1" info) - $(field "$rs0" info))) -v e="$rel" -v s="$servers" \
        'BEGIN { printf "%.2f", (e > 0 ? d / s / (e / 1000) : 0) }')
    segsz=$(jq -r .segment.size <<<"$j1")
    SEGSIZE+=("$n groups: segment $(awk -v s="$segsz" 'BEGIN { printf "%.2f MiB", s / 1048576 }') ($segsz B; capacity $(jq -r '.segment.capacity | "\(.groups) groups, \(.servers) servers"' <<<"$j1"))")
    RESULTS+=("$(printf '%6d %7d %7.1f %8s %9s %8s %8.1f %8.1f %8.1f %9s %7.1f %9s %9s %9d' \
        "$n" "$servers" "$(awk -v e="$el" 'BEGIN { printf "%.1f", e / 1000 }')" "$cpu" "$cpu_ns" "$per_check" \
        "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "$(awk -v k="$srss" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "$rcpu" "$up_s" "$pings" "$infos" "$pubs")")
    CPU_AT[$n]=$cpu_ns
    log "$n groups: ${RESULTS[-1]}"
    scrape_cost "$n"
    stop_pid "$CTL_PID"
    CTL_PID=
    stop_pid "$RESP_PID"
    RESP_PID=
    log "$n groups: $(grep -h 'connections accepted' "$DIR/responder-$servers.out" || echo 'responder: (no summary)')"
    rm -f "$SEG" "$SEG.lock" "$SEG.ctl" "$SEG.wake"
}

declare -A CPU_AT=()
log "controller $CTL; window ${SECS} s; groups: $SIZES; health every 100 ms, INFO every $INFO_MS ms"
for n in $SIZES; do
    run_size "$n"
done

echo
echo "controller_scale: N static groups x (1 master + 2 replicas) on one responder process;" \
    "health every 100 ms (PING+ROLE), INFO replication+persistence every $INFO_MS ms" \
    "$(if ((SMOKE)); then echo '(smoke)'; fi)"
echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%6s %7s %7s %8s %9s %8s %8s %8s %8s %9s %7s %9s %9s %9s\n' groups servers window ctl_CPU% \
    CPU%\(ns\) us/check RSS_MB of_shm peak_MB resp_CPU% up_s rounds/s INFO/s publishes
printf '%s\n' "${RESULTS[@]}"
printf '%s\n' "${SEGSIZE[@]}"
if ((${#SCRAPES[@]} > 0)); then
    echo "metrics endpoint (20 scrapes of /metrics in a row, after the window):"
    printf '%6s %8s %9s %10s %10s %10s\n' groups series bytes render_us wall_us ctl_cpu_us
    printf '%s\n' "${SCRAPES[@]}"
    echo "(render_us: the endpoint's marshal_scrape_duration_seconds; wall_us: curl's time per scrape;" \
        "ctl_cpu_us: CPU of the endpoint's thread per scrape; the loop's thread does no work for a scrape)"
fi
echo "(CPU% is of one core; RSS includes the touched pages of the segment mapping: 'of_shm';" \
    "rounds/s, INFO/s: health rounds (PINGs) and INFOs the responder answered per server per second" \
    "in the window: 10 and $(awk -v i="$INFO_MS" 'BEGIN { printf "%.2g", 1000 / i }') when the checks keep up)"
if [[ -n ${CPU_AT[1000]:-} ]]; then
    echo "target: controller <= 10% of one core at 1000 groups: ${CPU_AT[1000]}% ->" \
        "$(awk -v c="${CPU_AT[1000]}" 'BEGIN { print (c <= 10 ? "met" : "not met") }')"
fi
