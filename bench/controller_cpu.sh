#!/usr/bin/env bash
# bench/controller_cpu.sh [SECONDS] [MODE] -- marshal-controller's steady-state
# cost.  Prints figures; asserts none.
#
# Topology: 3 groups, each 1 master + 2 replicas (9 redis-servers on
# 127.0.0.1).  MODE:
#   sentinel  the 3 groups are sentinel-managed: 3 sentinels (quorum 2)
#             monitor all 3 masters; the controller knows all 3 sentinels.
#   static    the same 3 groups configured statically; no sentinels.
#   both      (default) one run of each, one after the other.
# Controller settings (as in the integration tests): health interval 100 ms,
# timeout 250 ms, INFO every 500 ms; sentinels poll_ms 500, ping_ms 500;
# log level notice; heartbeat 100 ms; default segment capacities.
#
# Once the topology is published (warm-up over, every replica readable), the
# controller runs SECONDS (default 30) undisturbed and we report:
#   CPU%      (utime + stime) delta from /proc/<pid>/stat over the window,
#             clock ticks (1/CLK_TCK s, normally 10 ms) -> +-1 tick;
#   CPU% (ns) the same from /proc/<pid>/schedstat (time on CPU, ns);
#   RSS       VmRSS at the end and VmHWM (peak) from /proc/<pid>/status, and
#             how much of VmRSS is the segment mapping (/proc/<pid>/smaps);
#   publishes pub_seq delta (state publishes; heartbeats are not publishes),
#   heartbeats hb_count delta, events, context switches.
#
# Binaries: $MARSHAL_BUILD/controller/marshal-controller and
# $MARSHAL_BUILD/shm/marshal-shmdump; MARSHAL_BUILD defaults to the first of
# build/normal, build-rel, build-ctlit, build that has them.  Use a normal
# (non-sanitizer) build for figures.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-30}
MODE=${2:-both}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS] [sentinel|static|both]" >&2; exit 64; }
case $MODE in sentinel | static | both) ;; *) echo "usage: $0 [SECONDS] [sentinel|static|both]" >&2; exit 64 ;; esac
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
it_log "binaries from $MARSHAL_BUILD; window ${SECS} s; mode $MODE"
CTL_LOG_LEVEL=notice
CTL_SEG_CAPACITY=            # the default capacities (a ~3 MB segment), as in production
TCK=$(getconf CLK_TCK)

# ---- 9 redis-servers ---------------------------------------------------------------------
declare -a GM GR1 GR2
for g in 1 2 3; do
    pick_port; GM[g]=$IT_PORT
    pick_port; GR1[g]=$IT_PORT
    pick_port; GR2[g]=$IT_PORT
    rstart "${GM[g]}"
    rstart "${GR1[g]}" "${GM[g]}"
    rstart "${GR2[g]}" "${GM[g]}"
done
for g in 1 2 3; do
    await 30 "g$g: 2 replicas online" eval '[[ $(n_online '"${GM[g]}"') == 2 ]]'
done

stat_ticks() { # PID -> utime + stime (ticks)
    local s
    s=$(cat "/proc/$1/stat")
    s=${s##*) }
    # after "comm)": state is field 3, utime 14, stime 15 -> words 12 and 13 here
    awk '{ print $12 + $13 }' <<<"$s"
}
sched_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
seg_rss_kb() { # PID PATH -> Rss of the mappings of PATH (the shared segment)
    awk -v f="$2" '/^[0-9a-f]+-[0-9a-f]+ / { in_seg = ($NF == f) } in_seg && $1 == "Rss:" { n += $2 }
                   END { print n + 0 }' "/proc/$1/smaps"
}
ctxsw() { awk '$1 ~ /ctxt_switches/ { n += $2 } END { print n }' "/proc/$1/status"; }

RESULTS=()
run_mode() { # sentinel | static
    local mode=$1 groups="" g t0 t1 tk0 tk1 ns0 ns1 j0 j1 el cpu cpu_ns rss hwm srss cs0 cs1
    if [[ $mode == sentinel ]]; then
        if ((${#SP[@]} == 0)); then
            pick_port; S1=$IT_PORT
            pick_port; S2=$IT_PORT
            pick_port; S3=$IT_PORT
            SP=("$S1" "$S2" "$S3")
            CTL_MONITORS=("g1:${GM[1]}" "g2:${GM[2]}" "g3:${GM[3]}")
            sstart "$S1"
            sstart "$S2"
            sstart "$S3"
            settled3() {
                local s g
                for s in "${SP[@]}"; do
                    for g in g1 g2 g3; do
                        CTL_GROUP=$g
                        [[ $(sfield "$s" num-other-sentinels) == 2 && $(sfield "$s" num-slaves) == 2 ]] || { CTL_GROUP=g1; return 1; }
                    done
                done
                CTL_GROUP=g1
            }
            await 60 "sentinels know each other and all replicas" settled3
        fi
        for g in 1 2 3; do
            groups+="${groups:+,}
  { name = \"g$g\"; sentinel = true; route = \"split\"; }"
        done
        ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<<"groups = ( $groups );"
    else
        for g in 1 2 3; do
            groups+="${groups:+,}
  { name = \"g$g\"; master = \"127.0.0.1:${GM[g]}\"; route = \"split\";
    replicas = ( \"127.0.0.1:${GR1[g]}\", \"127.0.0.1:${GR2[g]}\" ); }"
        done
        ctl_conf "" <<<"groups = ( $groups );"
    fi
    rm -f "$SEG" "$SEG.lock" "$SEG.ctl" "$SEG.wake"
    ctl_start
    await 60 "$mode: 3 groups published, every replica readable" seg_is '
        (.groups | length) == 3 and (.segment.flags | index("warming_up") | not) and
        all(.groups[]; .master != null and ([.servers[] | select(.flags | index("readable"))] | length) == 2)'
    # the window starts once nothing was published for 1 s
    settled() {
        local p
        p=$(seg_q .segment.pub_seq)
        sleep 1
        [[ $(seg_q .segment.pub_seq) == "$p" ]]
    }
    await 30 "$mode: no publish for 1 s" settled
    j0=$(sj)
    t0=$(now_ms); tk0=$(stat_ticks "$CTL_PID"); ns0=$(sched_ns "$CTL_PID"); cs0=$(ctxsw "$CTL_PID")
    # the measurement window: the controller runs undisturbed; this wait is
    # the window itself, not a synchronisation
    sleep "$SECS"
    t1=$(now_ms); tk1=$(stat_ticks "$CTL_PID"); ns1=$(sched_ns "$CTL_PID"); cs1=$(ctxsw "$CTL_PID")
    rss=$(status_kb "$CTL_PID" VmRSS); hwm=$(status_kb "$CTL_PID" VmHWM)
    srss=$(seg_rss_kb "$CTL_PID" "$SEG")
    j1=$(sj)
    el=$((t1 - t0))
    cpu=$(awk -v d=$((tk1 - tk0)) -v t="$TCK" -v e="$el" 'BEGIN { printf "%.2f", d / t * 1000 / e * 100 }')
    cpu_ns=$(awk -v d=$((ns1 - ns0)) -v e="$el" 'BEGIN { printf "%.2f", d / 1e6 / e * 100 }')
    RESULTS+=("$(printf '%-9s %7.1f  %6s %%  (%4d ticks)  %7s %%  %7s kB  %7s kB  %7s kB  %9d  %10d  %6d  %8d' \
        "$mode" "$(awk -v e="$el" 'BEGIN { printf "%.1f", e / 1000 }')" "$cpu" $((tk1 - tk0)) "$cpu_ns" \
        "$rss" "$hwm" "$srss" \
        $(($(jq -r .segment.pub_seq <<<"$j1") - $(jq -r .segment.pub_seq <<<"$j0"))) \
        $(($(jq -r .segment.hb_count <<<"$j1") - $(jq -r .segment.hb_count <<<"$j0"))) \
        $(($(jq -r .segment.ev_head <<<"$j1") - $(jq -r .segment.ev_head <<<"$j0"))) \
        $((cs1 - cs0)))")
    it_log "$mode: ${RESULTS[-1]}"
    ctl_finish
}

case $MODE in
both) run_mode sentinel; run_mode static ;;
*) run_mode "$MODE" ;;
esac

echo
echo "controller_cpu: 3 groups x (1 master + 2 replicas); health every 100 ms (PING+ROLE)," \
    "INFO every 500 ms; sentinel mode: 3 sentinels, poll every 500 ms, ping 500 ms"
echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %7s  %8s  %12s  %9s  %10s  %10s  %10s  %9s  %10s  %6s  %8s\n' mode window_s CPU "" "CPU(ns)" \
    RSS RSS_peak "of it shm" publishes heartbeats events ctx_sw
printf '%s\n' "${RESULTS[@]}"
echo "(RSS includes the touched pages of the shared segment mapping: 'of it shm')"
