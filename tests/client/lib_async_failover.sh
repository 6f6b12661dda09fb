#!/usr/bin/env bash
# lib_async_failover.sh -- the asynchronous API (include/marshal/async.h)
# across a Sentinel failover, under load.
#
# 3 redis + 3 sentinels (down-after 1000 ms), the controller (with its wake
# socket <segment>.wake), and async_failover: a libev program keeping up to
# 1000 writes in flight (SET k<i> v<i>-<run>, each key written once with a
# value unique to it), one log line per callback.  kill -9 the master while
# ~1000 writes are in flight, wait for the new master (sentinels and segment
# agree, stable 2 s), let writes run on it, stop the program, then check.
# Full load (1000 in flight, refilled from the callbacks) until the first
# write lands on the new master, then --settle-rate 20000/s: the failover is
# taken under load, and the keys to read back stay ~100k.  Checks:
#   * every issued command had exactly one callback (the program checks its
#     own bookkeeping and the handle's counters; the log is checked again
#     here), and result records are coherent (OK <=> reply, applied <=>
#     status reply);
#   * no write issued after the old master was killed and reaped, after the
#     segment published the new master (controller master_switch time), or
#     after the client's own masterSwitch event was applied on the old master;
#   * from the client's masterSwitch event on, every callback is applied on
#     the new master; every parked write that ended applied went there;
#   * the data on the final master: every write applied on it is there with
#     its value; the old master's applied + unknown writes, in the order that
#     connection carried them, reached the final master as a prefix (async
#     replication may lose the last ones acknowledged before the kill: they
#     are counted and printed, never out of order); no key holds a value
#     other than its own; "not applied" keys exist nowhere; INFO
#     commandstats of the final master count exactly one SET per key it
#     holds (no write was executed twice there -- replicated or direct);
#   * unknown outcomes are counted and printed; each was a write the old
#     master's connection carried when it died, sent once (attempts 1 counts
#     are printed), issued before the kill was reaped, and no more of them
#     than were in flight (a write queued after the loss must wait for a
#     server that answers, not be sent into a dying one's backlog).
# Printed, never asserted on: the loop's largest stall (max_loop_gap_us),
# and the time from +switch-master (sentinel log), from the controller's
# publish, and from the client's event to the first applied write on the
# new master.
#
#   lib_async_failover.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP ASYNC_FAILOVER

# awk and jq programs are single-quoted on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"
need awk date
INFLIGHT=1000

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "master"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP, 2 readable replicas" seg_is "
    $G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
# the program connects to the wake socket when it attaches its loop
await 10 "wake socket $SEG.wake" test -S "$SEG.wake"
EPOCH0=$(sentinels_epoch)
EV0=$(($(ev_head) - 1))   # events after this seq are the test's

W=$IT_DIR/async.log
"$PROBE" --failover-wait 15000 --timeout 2000 --inflight "$INFLIGHT" --duration 150 \
    --drain-ms 5000 --settle-rate 20000 --log-level verbose "$SEG" g1 >"$W" 2>"$IT_DIR/async.err.log" &
APID=$!
IT_PIDS+=("$APID")
await 20 "async_failover ready" grep -q '^ready ' "$W"
RUN=$(awk '$1 == "ready" { sub("run=", "", $3); print $3; exit }' "$W")

# applied_on N SERVER: at least N callbacks applied on SERVER so far
applied_on() {
    (($(awk -v s="$2" '$1 == "c" && $5 == "applied" && $6 == s { n++ } END { print n + 0 }' "$W") >= $1))
}
await 20 "5000 writes applied on :$MP" applied_on 5000 "$A:$MP"
it_running "$APID" || fail "async_failover exited early"

T_KILL=$(now_ms)
rkill "$MP"
T_DEAD=$(now_ms)   # reaped: nothing is executed on it after this
it_log "kill -9 master :$MP (async_failover: $(grep -c '^c ' "$W") callbacks so far)"

new_master_published() {
    local m
    m=$(master_port g1) || return 1
    [[ -n $m && $m != null && $m != "$MP" ]]
}
await 60 "the segment publishes a new master" new_master_published
await_stable_master 60 "$MP"
NEW=$STABLE_PORT
FAILOVERS=$((STABLE_EPOCH - EPOCH0))
[[ $NEW == "$R1" || $NEW == "$R2" ]] || fail "new master :$NEW is not a replica"
OTHER=$R1
[[ $NEW == "$R1" ]] && OTHER=$R2
it_log "sentinels and segment: new master :$NEW at epoch $STABLE_EPOCH ($FAILOVERS failover(s))"
((FAILOVERS >= 1)) || fail "config epoch did not move ($EPOCH0 -> $STABLE_EPOCH)"
((FAILOVERS == 1)) ||
    it_log "WARNING: the sentinels failed over $FAILOVERS times (slow machine); checking the final master only"
check_switches "$EV0" "$FAILOVERS" "$MP" "$NEW"

# writes continue on the new master for a while
N_NEW=$(awk -v s="$A:$NEW" '$1 == "c" && $5 == "applied" && $6 == s { n++ } END { print n + 0 }' "$W")
await 30 "5000 more writes applied on :$NEW" applied_on $((N_NEW + 5000)) "$A:$NEW"
it_running "$APID" || fail "async_failover exited early"

# ---- stop: every callback must come, the program must exit 0 ---------------------------
rc=0
kill -TERM "$APID"
wait "$APID" || rc=$?
! grep -qE 'Sanitizer|runtime error:' "$IT_DIR/async.err.log" || fail "sanitizer report from async_failover"
((rc == 0)) || fail "async_failover exited with status $rc:"$'\n'"$(grep -E '^(error|summary|stats)' "$W" | head -n 30)"
grep -q '^done ' "$W" || fail "async_failover did not finish its output"
! grep -q '^error ' "$W" || fail "async_failover: $(grep '^error ' "$W" | head -n 20)"
it_log "$(grep '^summary ' "$W")"
it_log "$(grep '^stats ' "$W")"

# ---- the controller's and the sentinels' switch times --------------------------------
# the segment's first master_switch event of g1 since the start: when the
# controller published the new master
T_PUB=$(seg_q "[.events[] | select(.seq > $EV0 and .type == \"master_switch\" and .group == \"g1\")] | first | .time_ms")
[[ $T_PUB =~ ^[0-9]+$ ]] || fail "no master_switch event in the segment"
# the earliest +switch-master any sentinel logged ("pid:X DD Mon YYYY HH:MM:SS.mmm # +switch-master ...")
T_SENT=0
for s in "${SP[@]}"; do
    line=$(grep -m 1 ' +switch-master g1 ' "$IT_DIR/sentinel-$s.log" || true)
    [[ -n $line ]] || continue
    read -r _ d mon y hms _ <<<"$line"
    t=$(date -d "$d $mon $y $hms" +%s%3N) || continue
    ((T_SENT == 0 || t < T_SENT)) && T_SENT=$t
done
((T_SENT > 0)) || fail "no sentinel logged +switch-master g1"

# ---- the program's record ----------------------------------------------------------------
# c N I STATUS OUTCOME SERVER ATTEMPTS PARKED_NS ISSUE_US DONE_US MONO_US REPLY
awk -v mp="$A:$MP" -v new="$A:$NEW" -v tdead="$T_DEAD" -v tpub="$T_PUB" -v strict=$((FAILOVERS == 1)) \
    -v out="$IT_DIR/rec" '
    function bad(msg) { if (nbad < 40) print "line " NR ": " msg ": " $0; nbad++ }
    $1 == "event" && $2 == "masterSwitch" {
        nswitch++
        if ($4 == new && (!strict || $5 == mp) && !obs) {
            obs = NR
            # event NAME GROUP SERVER OLD EPOCH seq=S age=A t_us=T mono_us=M
            split($9, b, "="); obs_us = b[2] + 0
            split($10, a, "="); obs_mono = a[2] + 0
        }
    }
    $1 == "summary" { for (i = 2; i <= NF; i++) { split($i, kv, "="); S[kv[1]] = kv[2] + 0 } }
    $1 == "stats" { for (i = 2; i <= NF; i++) { split($i, kv, "="); ST[kv[1]] = kv[2] + 0 } }
    $1 != "c" { next }
    {
        n++
        if ($2 != n) bad("callback rank " $2 " != " n)
        if (cb[$3]++) bad("second callback for k" $3)
        if ($3 + 0 > maxi) maxi = $3 + 0
        ok = ($4 == "OK")
        if (ok != ($12 != "-")) bad("status " $4 " with reply " $12)
        if (($5 == "applied") != ($12 == "status:OK")) bad("outcome " $5 " with reply " $12)
        if ($5 != "applied" && $5 != "not_applied" && $5 != "unknown") bad("outcome " $5)
        if ($4 == "CLOSED") bad("ended by close (drain did not finish)")
        done_ms = $10 / 1000
        issue_ms = $9 / 1000
        if ($5 == "applied") {
            applied++
            if ($6 == mp) {
                # by when it was issued: a reply read late (a slow loop, a
                # sanitizer build) was still produced before the kill
                if (issue_ms > tdead) bad("issued after the kill was reaped, applied on the killed master")
                if (issue_ms >= tpub) bad("issued after the new master was published, applied on the old one")
                if (obs && $9 >= obs_us) bad("issued after the client saw the switch, applied on the old master")
            } else if (strict && $6 != new) bad("applied on a third server")
            if ($8 > 0) {
                parked_applied++
                if (strict ? $6 != new : $6 == mp) bad("parked, then applied elsewhere than the new master")
                if ($8 > maxpark) maxpark = $8
            }
            if ($6 == new) {
                onnew++
                if (!first_new || $10 < first_new) first_new = $10
                print $3 > out ".new"
            }
        } else if ($5 == "unknown") {
            unknown++
            if (strict && $6 != mp) bad("unknown outcome elsewhere than on the killed master")
            # sent on the old connection before the loop read its reset (a few ms
            # under a sanitizer): honestly unknown; later than that it must not be
            if (issue_ms > tdead + 200) bad("unknown outcome for a write issued 200 ms after the kill")
            if (done_ms > tdead + 60000) bad("unknown outcome long after the kill")
            if ($7 < 1) bad("unknown outcome but never sent")
            unknown_multi += ($7 > 1)
        } else {
            not_applied++
            print $3 > out ".na"
        }
        # the old master connection, in the order it carried its writes
        if ($6 == mp && ($5 == "applied" || $5 == "unknown")) print $3, $5 > out ".old"
        if (obs && $11 > obs_mono && !($5 == "applied" && $6 == new))
            bad("completed after the client saw the new master, not applied on it")
        print $3 > out ".all"
    }
    END {
        printf "callbacks=%d applied=%d on_new=%d not_applied=%d unknown=%d (sent more than once by attempts: %d) " \
               "parked_applied=%d max_parked_ms=%.1f switch_events=%d first_new_us=%.0f observed_us=%.0f\n",
            n, applied, onnew, not_applied, unknown, unknown_multi, parked_applied, maxpark / 1e6, nswitch,
            first_new, obs_us
        if (n != S["issued"] || n != S["callbacks"]) { print "callbacks " n " but summary " S["issued"] " issued " S["callbacks"] " callbacks"; nbad++ }
        if (maxi + 1 != n) { print "keys 0.." maxi " but " n " callbacks"; nbad++ }
        if (S["rejected"] != 0 || S["missing"] != 0 || S["dup"] != 0 || S["errors"] != 0) { print "summary not clean"; nbad++ }
        if (ST["in_flight"] != 0 || ST["commands"] != n) { print "stats: in_flight " ST["in_flight"] ", commands " ST["commands"]; nbad++ }
        if (ST["applied"] != applied || ST["not_applied"] != not_applied || ST["unknown"] != unknown) { print "stats disagree with the callbacks"; nbad++ }
        if (ST["wakes"] < 1) { print "the wake socket never woke the handle"; nbad++ }
        if (!obs) { print "the client never observed the new master"; nbad++ }
        if (strict && nswitch != 1) { print nswitch " masterSwitch events (1 failover)"; nbad++ }
        if (onnew < 5000) { print "only " onnew " writes on the new master"; nbad++ }
        if (parked_applied < 1) { print "no write was parked and then applied: the failover path was not exercised"; nbad++ }
        if (unknown > '"$INFLIGHT"') { print unknown " unknown outcomes: more than were in flight"; nbad++ }
        exit nbad > 0
    }' "$W" >"$IT_DIR/check.txt" || fail "async record:"$'\n'"$(head -n 45 "$IT_DIR/check.txt")"
it_log "$(tail -n 1 "$IT_DIR/check.txt")"
read -r FIRST_NEW_US OBS_US < <(sed -n 's/.* first_new_us=\([0-9]*\) observed_us=\([0-9]*\)$/\1 \2/p' "$IT_DIR/check.txt")

# ---- the data on the final master --------------------------------------------------------
# mget_values PORT KEYFILE: the value of every key in KEYFILE (an index per
# line), one line each ("" for a missing key), with one redis-cli process.
mget_values() {
    awk 'BEGIN { n = 0 } { line = line " k" $1; if (++n == 1000) { print "MGET" line; line = ""; n = 0 } }
         END { if (n) print "MGET" line }' "$2" |
        timeout 60 redis-cli -h 127.0.0.1 -p "$1"
}
cut -d ' ' -f 1 "$IT_DIR/rec.all" >"$IT_DIR/keys.all"
mget_values "$NEW" "$IT_DIR/keys.all" >"$IT_DIR/values.all" || fail "MGET on :$NEW failed"
[[ $(wc -l <"$IT_DIR/values.all") == $(wc -l <"$IT_DIR/keys.all") ]] ||
    fail "MGET on :$NEW returned $(wc -l <"$IT_DIR/values.all") values for $(wc -l <"$IT_DIR/keys.all") keys"
DBSIZE=$(rcli "$NEW" DBSIZE)
read -r ROLE SETCALLS < <(role_cmdstat "$NEW" set)
[[ $ROLE == master ]] || fail ":$NEW is no longer master ($ROLE)"
[[ -f $IT_DIR/rec.na ]] || : >"$IT_DIR/rec.na"
[[ -f $IT_DIR/rec.old ]] || : >"$IT_DIR/rec.old"
[[ -f $IT_DIR/rec.new ]] || : >"$IT_DIR/rec.new"

# keys.all and values.all line up; the other files are sets of indexes
awk -v run="$RUN" -v dbsize="$DBSIZE" -v setcalls="$SETCALLS" -v strict=$((FAILOVERS == 1)) \
    -v new="$IT_DIR/rec.new" -v na="$IT_DIR/rec.na" -v old="$IT_DIR/rec.old" -v vals="$IT_DIR/values.all" '
    function bad(msg) { if (nbad < 40) print msg; nbad++ }
    BEGIN {
        while ((getline l < new) > 0) isnew[l] = 1
        while ((getline l < na) > 0) isna[l] = 1
    }
    {
        if ((getline v < vals) <= 0) { bad("values end before key k" $1); exit }
        if (v == "") next
        present[$1] = 1
        npresent++
        if (v != "v" $1 "-" run) bad("k" $1 " holds \"" v "\", not its own value")
        if ($1 in isna) bad("k" $1 " was reported not applied but exists")
    }
    END {
        for (k in isnew) if (!(k in present)) bad("k" k " applied on the new master is missing")
        # the old connection: what reached the final master is a prefix
        while ((getline l < old) > 0) {
            split(l, f, " ")
            if (f[1] in present) {
                if (gap) bad("k" f[1] " (" f[2] ") reached the final master after a missing earlier write")
                if (f[2] == "applied") old_kept++; else unk_present++
            } else {
                gap = 1
                if (f[2] == "applied") old_lost++; else unk_absent++
            }
        }
        if (strict && dbsize != npresent) bad("DBSIZE " dbsize " but " npresent " of our keys present")
        if (strict && setcalls != npresent) bad("cmdstat_set " setcalls " on the final master for " npresent " keys: a write ran twice")
        printf "final master: %d keys (DBSIZE %d, cmdstat_set %d); old master applied: %d kept, %d lost by async replication; " \
               "unknown: %d present, %d absent; not applied: %d, none present\n",
            npresent, dbsize, setcalls, old_kept, old_lost, unk_present, unk_absent, length(isna)
        exit nbad > 0
    }' "$IT_DIR/keys.all" >"$IT_DIR/data.txt" || fail "data on :$NEW:"$'\n'"$(head -n 45 "$IT_DIR/data.txt")"
it_log "$(tail -n 1 "$IT_DIR/data.txt")"

# the replica left over follows the new master: not-applied keys are not there either
if [[ -s $IT_DIR/rec.na ]] && pong_r "$OTHER"; then
    mapfile -t KNA < <(sed 's/^/k/' "$IT_DIR/rec.na")
    got=$(keys_exist "$OTHER" "${KNA[@]}")
    [[ $got == 0 ]] || fail "$got write(s) reported 'not applied' exist on :$OTHER"
fi

# ---- figures (printed, not asserted) -------------------------------------------------------
GAP=$(awk '$1 == "max_loop_gap_us" { print $2 }' "$W")
# the largest stall from the kill to the first applied write on the new
# master: tick lines carry the largest gap of the second before them
GAP_FO=$(awk -v a="$T_KILL" -v b=$((FIRST_NEW_US / 1000 + 1000)) '
    $1 == "tick" { t = $2 / 1000; for (i = 3; i <= NF; i++) if (index($i, "maxgap_us=") == 1) g = substr($i, 11) + 0
                   if (t >= a && t <= b && g > m) m = g }
    END { print m + 0 }' "$W")
it_log "max_loop_gap_us $GAP (whole run), $GAP_FO from the kill to the first write on :$NEW"
it_log "kill -> +switch-master $((T_SENT - T_KILL)) ms; +switch-master -> controller publish $((T_PUB - T_SENT)) ms"
it_log "first applied write on :$NEW: $((FIRST_NEW_US / 1000 - T_SENT)) ms after +switch-master," \
    "$((FIRST_NEW_US / 1000 - T_PUB)) ms after the controller's publish," \
    "$(((FIRST_NEW_US - OBS_US) / 1000)) ms after the client's masterSwitch event"

ctl_alive || fail "controller died"
ctl_finish
