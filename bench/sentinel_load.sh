#!/usr/bin/env bash
# bench/sentinel_load.sh -- issue workload 8: commands received by all
# sentinels in the W seconds after a kill -9 of the master, with 1 and with
# 50 processes writing through Marshal, against "naive" Sentinel clients.
# Prints figures; asserts none (exit 0 when every case measured, 1 when
# something failed to start or a case could not measure, 77 when a tool is
# missing).
#
#   bench/sentinel_load.sh [--n "1 50"] [--window S] [--interval-us US]
#                          [--modes "marshal naive"] [--poll-ms MS]
#                          [--controller BIN --shmdump BIN --writer BIN]
#   bench/sentinel_load.sh --smoke ...     (N = 1 and 3, 2 s windows: what CI runs)
#
# Every case (a mode and a process count N) gets a fresh setup on 127.0.0.1
# (free ports, a temp dir, everything torn down by trap; the helpers of
# tests/controller/integration/ctl_lib.sh): 1 master + 2 replicas, 3
# sentinels (quorum 2, down-after-milliseconds 1000, failover-timeout 5000,
# their default periods: no SENTINEL DEBUG), and
#   marshal  marshal-controller with the 3 sentinels (sentinels.poll_ms and
#            ping_ms --poll-ms, default 1000 as in etc/marshal.conf; health
#            every 100 ms), once the segment shows the master and 2 readable
#            replicas; N bench/sentinel_load_writer processes in marshal
#            mode: SET every --interval-us (1000) through libmarshal-shm,
#            which reads the segment and never talks to a sentinel;
#   naive    no controller; N sentinel_load_writer processes in naive mode:
#            plain hiredis to the master that a sentinel names, and one
#            SENTINEL get-master-addr-by-name per failed write (what a
#            redis-py Sentinel client does), SET every --interval-us.
# Then, once every writer has written (bounded polling on their "ready"
# lines):
#   snapshot 0; W s; snapshot 1; kill -9 the master; W s; snapshot 2
# where a snapshot is one `INFO stats` per sentinel (total_commands_processed,
# which a sentinel's INFO reply does not yet count itself).  Window
# "baseline" = 0 -> 1 (no kill: the sentinels' own chatter -- PINGs and
# hellos between them -- plus, in marshal mode, the controller's steady
# polling), window "kill" = 1 -> 2.  Per sentinel the delta minus our own
# probes in the window (exactly 1: the opening INFO) is reported, their
# total, total/N and (kill - baseline)/N: what one writer process adds.
# "client q" are the sentinel queries the writers themselves logged in the
# window (0 through Marshal).  After the window (not counted): kill->switch
# (the first +switch-master in the sentinels' logs, ms), the writers'
# outage (their first failed write -> first successful write, median and
# max over processes) and the write rate they achieved.
#
# Binaries: --controller/--shmdump/--writer, else from $MARSHAL_BUILD
# (controller/marshal-controller, shm/marshal-shmdump,
# bench/sentinel_load_writer); MARSHAL_BUILD defaults to the first of
# build/normal, build-rel, build/benchw, build that has all three.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NS="1 50"
WIN=5
IV=1000
MODES="marshal naive"
POLL_MS=1000
CASE=
CTL=${CTL:-}
SHMDUMP=${SHMDUMP:-}
WRITER=${WRITER:-}
usage() {
    echo "usage: $0 [--smoke] [--n \"N ...\"] [--window S] [--interval-us US]" \
        "[--modes \"marshal naive\"] [--poll-ms MS] [--controller BIN] [--shmdump BIN]" \
        "[--writer BIN]" >&2
    exit 64
}
while (($# > 0)); do
    case $1 in
    --smoke) NS="1 3"; WIN=2 ;;
    --n) (($# >= 2)) || usage; NS=$2; shift ;;
    --window) (($# >= 2)) || usage; WIN=$2; shift ;;
    --interval-us) (($# >= 2)) || usage; IV=$2; shift ;;
    --modes) (($# >= 2)) || usage; MODES=$2; shift ;;
    --poll-ms) (($# >= 2)) || usage; POLL_MS=$2; shift ;;
    --controller) (($# >= 2)) || usage; CTL=$2; shift ;;
    --shmdump) (($# >= 2)) || usage; SHMDUMP=$2; shift ;;
    --writer) (($# >= 2)) || usage; WRITER=$2; shift ;;
    --case) (($# >= 3)) || usage; CASE="$2 $3"; shift 2 ;;   # internal: one case
    *) usage ;;
    esac
    shift
done
[[ $WIN =~ ^[1-9][0-9]*$ && $IV =~ ^[0-9]+$ && $POLL_MS =~ ^[1-9][0-9]*$ ]] || usage
for n in $NS; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ((n > 500)); then
        echo "$0: N must be 1..500" >&2
        exit 64
    fi
done
for m in $MODES; do
    [[ $m == marshal || $m == naive ]] || { echo "$0: modes are marshal and naive" >&2; exit 64; }
done
# shellcheck source=bench/bench_lib.sh
. "$ROOT/bench/bench_lib.sh"
bench_binaries bench/sentinel_load_writer WRITER

# ======================================================================================
# One case (a child process of the driver below): fresh servers, sentinels,
# controller, N writers; prints "key=value" result lines on stdout.
# ======================================================================================
run_case() {
    local mode=$1 n=$2 i t0 t1 t2 tk life
    # production sentinel periods (the integration tests speed up PINGs)
    CTL_SENTINEL_DEBUG=
    # shellcheck source=tests/controller/integration/ctl_lib.sh
    . "$ROOT/tests/controller/integration/ctl_lib.sh"
    ctl_init "$CTL" "$SHMDUMP"
    IT_NAME="sentinel_load $mode N=$n"
    local setup0
    setup0=$(now_ms)
    ctl_sentinel_setup
    if [[ $mode == marshal ]]; then
        ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "master"; } );
EOF
        sed -i -e "s/^\( *poll_ms = \)[0-9]*;/\1$POLL_MS;/" -e "s/^\( *ping_ms = \)[0-9]*;/\1$POLL_MS;/" "$CONF"
        grep -q "poll_ms = $POLL_MS;" "$CONF" || fail "could not set sentinels.poll_ms in $CONF"
        CTL_LOG_LEVEL=notice
        ctl_start
        local G
        G=$(grp g1)
        await 30 "segment shows :$MP and 2 readable replicas" seg_is \
            "$G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
    fi

    # N writers; each lives long enough for readiness + both windows + recovery
    life=$((60 + n + 2 * WIN + 60))
    for ((i = 1; i <= n; i++)); do
        if [[ $mode == marshal ]]; then
            "$WRITER" marshal "$SEG" g1 "$IV" "$life" >"$IT_DIR/w$i.out" 2>>"$IT_DIR/writers.err.log" &
        else
            "$WRITER" naive "$S1,$S2,$S3" g1 "$IV" "$life" >"$IT_DIR/w$i.out" 2>>"$IT_DIR/writers.err.log" &
        fi
        IT_PIDS+=("$!")
        WPIDS+=("$!")
    done
    n_ready() { cat "$IT_DIR"/w*.out 2>/dev/null | grep -c '^ready ' || true; }
    n_alive() {
        local p a=0
        for p in "${WPIDS[@]}"; do it_running "$p" && a=$((a + 1)); done
        echo "$a"
    }
    await $((30 + n)) "$n writers writing" eval '(( $(n_ready) >= '"$n"' ))'
    (($(n_alive) == n)) || fail "only $(n_alive) of $n writers running: $(tail -n 5 "$IT_DIR/writers.err.log")"
    it_log "setup done in $(($(now_ms) - setup0)) ms: $n $mode writers writing"

    # snapshots: one INFO stats per sentinel; "<us before the INFO> <total>" per sentinel
    snap() { # OUTVAR
        local -n out=$1
        local s v ts
        out=()
        for s in "${SP[@]}"; do
            ts=${EPOCHREALTIME/./}
            v=$(scli "$s" INFO stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" { print $2 }')
            [[ $v =~ ^[0-9]+$ ]] || fail "no total_commands_processed from sentinel :$s"
            out+=("$ts $v")
        done
    }
    sleep_until_us() { # T_US
        local d=$(($1 - ${EPOCHREALTIME/./}))
        ((d > 0)) && sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"
        return 0
    }
    # shellcheck disable=SC2034  # filled by snap through a nameref
    local -a A B C
    t0=${EPOCHREALTIME/./}
    snap A
    sleep_until_us $((t0 + WIN * 1000000))
    t1=${EPOCHREALTIME/./}
    snap B
    tk=${EPOCHREALTIME/./}
    rkill "$MP"
    sleep_until_us $((t1 + WIN * 1000000))
    t2=${EPOCHREALTIME/./}
    snap C
    (($(n_alive) == n)) || fail "a writer died during the windows: $(tail -n 5 "$IT_DIR/writers.err.log")"

    # our own probes inside a window: the opening INFO of each sentinel (1)
    local probes=1
    win_line() { # NAME FROM[] TO[] T_FROM T_TO
        local name=$1 tf=$4 tt=$5 i d tot=0 vals=() q
        local -n from=$2 to=$3
        for i in "${!SP[@]}"; do
            d=$((${to[i]#* } - ${from[i]#* } - probes))
            vals+=("s$((i + 1))=$d")
            tot=$((tot + d))
        done
        q=$(cat "$IT_DIR"/w*.out | awk -v a="$tf" -v b="$tt" '$1 == "q" && $2 >= a && $2 < b { n++ } END { print n + 0 }')
        printf 'win name=%s ms=%d %s total=%d q=%d\n' "$name" $(((tt - tf) / 1000)) "${vals[*]}" "$tot" "$q"
    }
    win_line baseline A B "$t0" "$t1"
    win_line kill B C "$t1" "$t2"

    # after the windows (not counted): the failover and the writers' recovery
    local new=
    new_master() {
        local m
        m=$(s_master_port "$S1")
        [[ -n $m && $m != "$MP" ]] && sentinels_agree "$m" && new=$m
    }
    await 60 "the sentinels agree on a new master" new_master
    it_log "new master :$new"
    n_rec() { # writers with a successful write after the kill
        local f c=0
        for f in "$IT_DIR"/w*.out; do
            awk -v k="$tk" '$1 == "rec" && $2 > k { f = 1 } END { exit !f }' "$f" && c=$((c + 1))
        done
        echo "$c"
    }
    # bounded, and not fatal: a writer that never recovers shows in "outage"
    wait_for $((10 * (30 + n))) 100 eval '(( $(n_rec) >= '"$n"' ))' ||
        it_log "only $(n_rec) of $n writers wrote again after the kill"
    local p
    for p in "${WPIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    # kill -> first +switch-master in any sentinel log (ms clock of the log lines)
    local sw
    sw=$(awk '/\+switch-master/ { print $2, $3, $4, $5 }' "$IT_DIR"/sentinel-*.log | sort -k4 | sed -n 1p)
    local ksw=-
    [[ -n $sw ]] && ksw=$(($(date -d "$sw" +%s%3N) - tk / 1000))
    # per writer: outage = first err after the kill -> first rec after it (ms);
    # rate = writes (ok + failed) per second in the baseline window, from the
    # writer's "c" lines (every 100 ms) inside it
    cat "$IT_DIR"/w*.out >"$IT_DIR/all.out"
    local f
    for f in "$IT_DIR"/w*.out; do
        awk -v k="$tk" -v t0="$t0" -v t1="$t1" '
            $1 == "c" && $2 >= t0 && $2 <= t1 { if (a == "") { a = $2; wa = $3 + $4 } b = $2; wb = $3 + $4 }
            $1 == "err" && $2 >= k && e == "" { e = $2 }
            $1 == "rec" && $2 > k && e != "" && x == "" { x = $2 }
            END { printf "%s %s\n", (e != "" && x != "") ? (x - e) / 1000 : "-",
                  (b > a) ? (wb - wa) * 1e6 / (b - a) : 0 }' "$f"
    done >"$IT_DIR/per_writer.txt"
    # outages sorted (no gawk asort: mawk is the default awk on Debian)
    awk '$1 != "-" { print $1 }' "$IT_DIR/per_writer.txt" | sort -g >"$IT_DIR/outages.txt"
    awk -v ksw="$ksw" -v new="$new" -v n="$n" -v rate="$(awk '{ r += $2 } END { print r + 0 }' "$IT_DIR/per_writer.txt")" '
        { o[++m] = $1 }
        END {
            med = m ? ((m % 2) ? o[(m + 1) / 2] : (o[m / 2] + o[m / 2 + 1]) / 2) : 0
            printf "fo new=%s kill_to_switch_ms=%s recovered=%d outage_med_ms=%s outage_max_ms=%s rate=%.0f\n",
                new, ksw, m, (m ? sprintf("%.0f", med) : "-"), (m ? sprintf("%.0f", o[m]) : "-"), rate / n }
    ' "$IT_DIR/outages.txt"
    awk '$1 == "done" { split($3, a, "="); split($4, b, "="); split($5, c, "=");
                        ok += a[2]; err += b[2]; q += c[2] }
         END { printf "tot ok=%d err=%d q=%d\n", ok, err, q }' "$IT_DIR/all.out"
}

if [[ -n $CASE ]]; then
    WPIDS=()
    # shellcheck disable=SC2086
    run_case $CASE
    exit 0
fi

# ======================================================================================
# Driver: every case in a child (its own trap and temp dir), then the table.
# ======================================================================================
command -v redis-sentinel >/dev/null || { echo "redis-sentinel not installed: skipped"; exit 77; }
RES=$(mktemp -d /tmp/sentinel_load.XXXXXX)
trap 'rm -rf "$RES"' EXIT
trap 'exit 130' INT TERM HUP
FAILED=0
T_START=$(date +%s)
for mode in $MODES; do
    for n in $NS; do
        rc=0
        bash "$0" --case "$mode" "$n" --window "$WIN" --interval-us "$IV" --poll-ms "$POLL_MS" \
            --controller "$CTL" --shmdump "$SHMDUMP" --writer "$WRITER" >"$RES/$mode-$n" || rc=$?
        if ((rc == 77)); then
            echo "sentinel_load: skipped (a tool is missing)"
            exit 77
        fi
        if ((rc != 0)) || ! grep -q '^win name=kill ' "$RES/$mode-$n"; then
            echo "sentinel_load: case $mode N=$n failed (exit $rc)" >&2
            FAILED=1
        fi
    done
done

echo "sentinel_load: commands received by 3 sentinels (INFO stats total_commands_processed;" \
    "our own INFO probes subtracted) in ${WIN} s windows, without and with a kill -9 of the master"
echo "setup per case: fresh master + 2 replicas + 3 sentinels (quorum 2, down-after 1000 ms," \
    "failover-timeout 5000 ms, default periods); writers: SET every ${IV} us each"
echo "  marshal: marshal-controller (sentinels.poll_ms = ping_ms = $POLL_MS, health every 100 ms)," \
    "writers through libmarshal-shm"
echo "  naive:   no controller; hiredis writers asking SENTINEL get-master-addr-by-name on each failed write"
printf '%-7s %5s  %-8s %6s %6s %6s %6s  %7s  %13s %8s  %13s %11s  %10s\n' mode procs window S1 S2 S3 \
    total total/N "(kill-base)/N" "client q" "kill->switch" "outage ms" "writes/s/N"
for mode in $MODES; do
    for n in $NS; do
        f=$RES/$mode-$n
        grep -q '^win name=kill ' "$f" 2>/dev/null || {
            printf '%-7s %5d  (failed: no figures)\n' "$mode" "$n"
            continue
        }
        awk -v mode="$mode" -v n="$n" '
            { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[$1, kv[1]] = kv[2]; if ($1 == "win") w[v[$1, "name"], kv[1]] = kv[2] } }
            END {
                for (k = 1; k <= 2; k++) {
                    nm = (k == 1) ? "baseline" : "kill"
                    extra = (k == 1) ? "-" : sprintf("%.1f", (w["kill", "total"] - w["baseline", "total"]) / n)
                    ks = (k == 1) ? "-" : v["fo", "kill_to_switch_ms"]
                    om = (k == 1) ? "-" : v["fo", "outage_med_ms"] "/" v["fo", "outage_max_ms"]
                    wr = (k == 1) ? v["fo", "rate"] : "-"
                    printf "%-7s %5d  %-8s %6d %6d %6d %6d  %7.1f  %13s %8d  %13s %11s  %10s\n",
                        mode, n, nm, w[nm, "s1"], w[nm, "s2"], w[nm, "s3"], w[nm, "total"],
                        w[nm, "total"] / n, extra, w[nm, "q"], ks, om, wr
                }
            }' "$f"
    done
done
echo "(window: ${WIN} s; client q: sentinel queries the writers themselves logged in the window;"
echo " kill->switch (ms): the first +switch-master in any sentinel's log; outage (ms): a writer's first failed"
echo " write -> its first successful write after the kill, median/max over processes; writes/s/N: the rate"
echo " each writer achieved in the baseline window, mean over processes)"
if [[ " $MODES " == *" marshal "* && " $MODES " == *" naive "* ]]; then
    for n in $NS; do
        mb=$(awk '$1 == "win" && $2 == "name=baseline" { for (i = 3; i <= NF; i++) if ($i ~ /^total=/) print substr($i, 7) }' "$RES/marshal-$n" 2>/dev/null || true)
        nb=$(awk '$1 == "win" && $2 == "name=baseline" { for (i = 3; i <= NF; i++) if ($i ~ /^total=/) print substr($i, 7) }' "$RES/naive-$n" 2>/dev/null || true)
        [[ -n $mb && -n $nb ]] && echo "N=$n: the controller's steady polling = marshal baseline - naive baseline" \
            "(sentinels' own chatter) = $((mb - nb)) commands per ${WIN} s"
    done
fi
echo "(target: kill window <= 300 commands in total and flat in the number of processes)"
echo "($(($(date +%s) - T_START)) s, $(nproc) CPUs)"
exit "$FAILED"
