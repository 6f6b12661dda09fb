#!/usr/bin/env bash
# lib_stale.sh -- the controller hangs (SIGSTOP) and comes back (SIGCONT).
#
# heartbeat_ms 100, stale_after_ms 3000; a static group (master + replica,
# split).  While the controller is stopped:
#   * a fresh process's marshal_client_state says "stale" -- not before
#     ~stale_after_ms (2 s lower bound: the heartbeat is 100 ms), and within
#     stale_after_ms + a margin (bounded polling);
#   * with the default policy (stale_writes_fail_ms = 0) routing goes on from
#     the last snapshot: a running client's writes (master) and reads
#     (replica) keep succeeding after it saw "stale";
#   * with --stale-writes-fail 500 writes fail with MARSHAL_ERR_STALE,
#     "not applied", sent nowhere, promptly (< 1000 ms each), reads work.
# SIGCONT: the state is "live" again, writes succeed again; a process
# listening for events saw controllerStale and then controllerLive, once each.
#
#   lib_stale.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MC_PROBE

# awk and jq programs are single-quoted on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"

pick_port; MP=$IT_PORT
pick_port; R1=$IT_PORT
rstart "$MP"
rstart "$R1" "$MP"
await 30 "replica online at :$MP" eval '[[ $(n_online '"$MP"') == 1 ]]'
ctl_conf "" <<EOF
groups = ( { name = "g1"; master = "127.0.0.1:$MP"; replicas = ( "127.0.0.1:$R1" ); route = "split"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP, :$R1 readable" seg_is "
    $G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\")) | .port]) == [$R1]"
STALE_MS=$(seg_q .segment.stale_after_ms)
[[ $STALE_MS == 3000 ]] || fail "stale_after_ms $STALE_MS, expected 3000"
await 10 "state live" probe_state_is live

EV=$IT_DIR/ev.log
probe_bg ev "$SEG" g1 events --seconds 170
EPID=$IT_LAST_PID
probe_ready ev
RW=$IT_DIR/rw.log
probe_bg rw "$SEG" g1 rw-loop --count 100000000 --interval-us 50000 --each --max-seconds 170
RWPID=$IT_LAST_PID
probe_ready rw
await 10 "rw probe: 5 writes and reads ok" pcount_ge "$RW" '$1 == "r" && $5 == "OK"' 5

# ---- SIGSTOP -----------------------------------------------------------------------------
T_STOP=$(now_ms)
kill -STOP "$CTL_PID"
it_log "SIGSTOP controller $CTL_PID"
END=$((T_STOP + STALE_MS + 5000))
while :; do
    S=$(probe_state)
    [[ $S == stale ]] && break
    [[ $S == live ]] || { kill -CONT "$CTL_PID"; fail "state '$S' while the controller is stopped"; }
    (($(now_ms) < END)) || { kill -CONT "$CTL_PID"; fail "still '$S' $((STALE_MS + 5000)) ms after SIGSTOP"; }
    sleep 0.1
done
T_STALE=$(($(now_ms) - T_STOP))
it_log "a fresh client says stale $T_STALE ms after SIGSTOP (stale_after_ms $STALE_MS)"
((T_STALE >= 2000)) || { kill -CONT "$CTL_PID"; fail "stale after only $T_STALE ms (stale_after_ms $STALE_MS)"; }

# the running client: it saw stale, and routing went on
stale_line() { awk '$1 == "state" && $3 == "stale" { print NR; exit }' "$RW"; }
await 10 "rw probe saw the state stale" eval '[[ -n $(stale_line) ]]'
SL=$(stale_line)
after_stale() { # N: N writes and N reads after the stale line
    (($(awk -v l="$SL" 'NR > l && $1 == "w" { n++ } END { print n + 0 }' "$RW") >= $1)) &&
    (($(awk -v l="$SL" 'NR > l && $1 == "r" { n++ } END { print n + 0 }' "$RW") >= $1))
}
await 20 "10 writes and reads while stale" after_stale 10

# a client that fails writes 500 ms into staleness
F=$IT_DIR/stale-writes.log
probe --stale-writes-fail 500 "$SEG" g1 rw-loop --count 40 --interval-us 50000 --each >"$F" ||
    { kill -CONT "$CTL_PID"; fail "rw-loop --stale-writes-fail: $(tail -n 5 "$F")"; }
probe_state_is stale || { kill -CONT "$CTL_PID"; fail "not stale any more while stopped"; }

kill -CONT "$CTL_PID"
T_CONT=$(now_ms)
it_log "SIGCONT controller"
((T_CONT - T_STOP < 60000)) || fail "stopped too long"

awk -v l="$SL" -v mp="$A:$MP" -v r1="$A:$R1" '
    NR > l && $1 == "state" { exit }
    NR > l && ($1 == "w" || $1 == "r") {
        n[$1]++
        if ($5 != "OK" || $6 != "applied" || $7 != ($1 == "w" ? mp : r1)) { print "while stale: " $0; bad++ }
    }
    END { exit !(bad == 0 && n["w"] >= 10 && n["r"] >= 10) }' "$RW" ||
    fail "default policy: routing must go on while stale"
awk -v mp="$A:$MP" -v r1="$A:$R1" '
    $1 == "r" { nr++; if ($5 != "OK" || $7 != r1) { print "read: " $0; bad++ } }
    $1 == "w" { nw++; w[nw] = $0
                if ($5 == "STALE") { stale++; if ($6 != "not_applied" || $7 != "-" || $4 >= 1000) { print "stale write: " $0; bad++ } }
                else if ($5 != "OK" || $6 != "applied" || $7 != mp) { print "write: " $0; bad++ } }
    END {
        # the controller has been stale for >= 2 s when this client starts:
        # at the latest 500 ms (10 iterations of >= 50 ms) after the client
        # itself saw it stale, every write is refused (margin: 15)
        for (i = 16; i <= nw; i++) if (split(w[i], f, " ") && f[5] != "STALE") { print "not refused: " w[i]; bad++ }
        printf "%d reads ok, %d of %d writes refused with STALE\n", nr, stale, nw
        exit !(bad == 0 && nr == 40 && nw == 40 && stale >= 25)
    }' "$F" >"$IT_DIR/check.txt" || fail "--stale-writes-fail 500:"$'\n'"$(cat "$IT_DIR/check.txt")"
it_log "--stale-writes-fail 500: $(tail -n 1 "$IT_DIR/check.txt")"
grep -q '# controller stale' "$F" || fail "no 'controller stale' detail on a refused write"

# ---- SIGCONT -----------------------------------------------------------------------------
await 10 "state live again" probe_state_is live
live_line() { awk -v l="$SL" 'NR > l && $1 == "state" && $3 == "live" { print NR; exit }' "$RW"; }
await 10 "rw probe saw the state live again" eval '[[ -n $(live_line) ]]'
LL=$(live_line)
after_live() { (($(awk -v l="$LL" 'NR > l && $1 == "w" { n++ } END { print n + 0 }' "$RW") >= $1)); }
await 10 "10 writes after live" after_live 10
await 10 "events probe saw controllerLive" pcount_ge "$EV" '$1 == "event" && $2 == "controllerLive"' 1
probe_stop "$RWPID" rw
probe_stop "$EPID" ev
awk -v l="$LL" -v mp="$A:$MP" 'NR > l && $1 == "w" && ($5 != "OK" || $7 != mp) { print; bad++ } END { exit bad > 0 }' "$RW" ||
    fail "writes failed after the controller came back"

SEQ=$(awk '$1 == "event" && $2 ~ /^controller/ { printf "%s%s", sep, $2; sep = " " }' "$EV")
[[ $SEQ == "controllerStale controllerLive" ]] || fail "controller events: '$SEQ', want 'controllerStale controllerLive'"
it_log "events probe: $SEQ"

ctl_alive || fail "controller died"
ctl_finish
