#!/usr/bin/env bash
# lib_failover.sh -- writes through libmarshal-shm across a Sentinel failover.
#
# 3 redis + 3 sentinels (down-after 1000 ms), the controller, and mc_probe
# writing SET k<i> <i> through the library about every 1 ms.  kill -9 the
# master, then:
#   * writes resume on the master the sentinels elected, and from the point
#     where the probe observed the new master (its masterSwitch event or its
#     view of the segment) every write succeeds and went to it;
#   * outcomes are honest: a write without a reply is "not applied" or
#     "unknown", never "applied"; a successful one is "applied"; at most a
#     handful are "unknown" (the write in flight at the kill); the keys of
#     "not applied" writes exist nowhere and those applied on the new master
#     are all there;
#   * the old master's port restarted as a standalone master (a rogue stale
#     master that would accept writes) receives no SET in ~2 s of writes while
#     it claims master (INFO commandstats: the controller only sends PING,
#     ROLE and INFO).
#
#   lib_failover.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MC_PROBE

# awk and jq programs are single-quoted on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "master"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP, 2 readable replicas" seg_is "
    $G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
EPOCH0=$(sentinels_epoch)

W=$IT_DIR/writes.log
probe_bg writes --failover-wait 15000 --timeout 1000 "$SEG" g1 write-loop \
    --count 100000000 --interval-us 1000 --max-seconds 170
WPID=$IT_LAST_PID
probe_ready writes
await 20 "200 writes applied on :$MP" pcount_ge "$W" "\$1 == \"w\" && \$5 == \"OK\" && \$7 == \"$A:$MP\"" 200

T_KILL=$(now_ms)
rkill "$MP"
T_DEAD=$(now_ms)   # reaped: nothing completes on it after this
it_log "kill -9 master :$MP"

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
it_log "sentinels and segment: new master :$NEW at epoch $STABLE_EPOCH ($FAILOVERS failover(s))"
((FAILOVERS >= 1)) || fail "config epoch did not move ($EPOCH0 -> $STABLE_EPOCH)"
((FAILOVERS == 1)) ||
    it_log "WARNING: the sentinels failed over $FAILOVERS times (slow machine); checking the final master only"

await 30 "300 writes applied on :$NEW" pcount_ge "$W" "\$1 == \"w\" && \$5 == \"OK\" && \$7 == \"$A:$NEW\"" 300

# ---- the old master back as a standalone master: no write may reach it -----------------
T_RESTART=$(now_ms)
rstart "$MP"
it_log "restarted :$MP as a standalone master (no replicaof)"
SAMPLES=0 CLAIMS=0
END=$((T_RESTART + 40000))
while :; do
    read -r ROLE CALLS < <(role_cmdstat "$MP" set)
    SAMPLES=$((SAMPLES + 1))
    if [[ $ROLE == master ]]; then
        CLAIMS=$((CLAIMS + 1))
        ((CALLS == 0)) || fail "stale master :$MP executed $CALLS SET(s) while claiming master"
    fi
    # ~2 s of writes after the restart, as the probe timed them
    (($(plast_t "$W") >= T_RESTART + 2000)) && break
    (($(now_ms) < END)) || fail "the probe did not write for 2 s after the restart"
    sleep 0.1
done
read -r ROLE CALLS < <(role_cmdstat "$MP" set)
SAMPLES=$((SAMPLES + 1))
if [[ $ROLE == master ]]; then
    CLAIMS=$((CLAIMS + 1))
    ((CALLS == 0)) || fail "stale master :$MP executed $CALLS SET(s)"
fi
it_log "$SAMPLES samples of :$MP: claimed master in $CLAIMS, cmdstat_set 0 each time"
((CLAIMS > 0)) || fail "restarted :$MP never claimed master: scenario not exercised"
seg_is "$G.master.port == $NEW" || fail "published master moved from :$NEW"

probe_stop "$WPID" writes

# ---- the probe's record ----------------------------------------------------------------
# w I T DUR STATUS OUTCOME SERVER REPLY; "observed" = the first line showing
# the client knew the new master: its masterSwitch event or an info line.
awk -v mp="$A:$MP" -v new="$A:$NEW" -v tkill="$T_KILL" -v tdead="$T_DEAD" -v trestart="$T_RESTART" \
    -v strict=$((FAILOVERS == 1)) -v out="$IT_DIR/keys" '
    function bad(msg) { print "line " NR ": " msg ": " $0; nbad++ }
    $1 == "event" && $2 == "masterSwitch" {
        nswitch++
        if ($4 == new && (!strict || $5 == mp)) obs = obs ? obs : NR
    }
    $1 == "info" && index($0, " master=" new " up=1 ") { obs = obs ? obs : NR }
    $1 != "w" { next }
    {
        n++
        ok = ($5 == "OK" && $8 !~ /^err:/)
        if ($8 == "-" && $6 != "not_applied" && $6 != "unknown") bad("no reply but outcome " $6)
        if ($8 == "-" && $5 == "OK") bad("no reply but status OK")
        if (ok && $6 != "applied") bad("reply but outcome " $6)
        if ($8 ~ /^err:/ && $6 != "not_applied") bad("error reply to SET but outcome " $6)
        if ($6 == "unknown") unknown++
        if ($6 == "not_applied") print "na k" $2 > out ".na"
        if ($3 < tkill && !(ok && $7 == mp)) bad("before the kill, not applied on the master")
        if ($3 - $4 > tdead && ok && $7 == mp) bad("sent after the kill, applied on the killed master")
        if ($3 >= trestart && $7 == mp) bad("sent to the restarted stale master")
        if (ok && strict && $7 != new && $7 != mp) bad("applied on a third server")
        if (obs && !(ok && $7 == new)) bad("after the client saw the new master, not applied on it")
        if (ok && $7 == new) { onnew++; print "k" $2 > out ".new"; if (!first_new) first_new = $3 }
        if (!ok) fails++
    }
    END {
        printf "writes=%d on_new=%d failed=%d unknown=%d switch_events=%d observed_at_line=%d first_new_ms=%d\n",
            n, onnew, fails, unknown, nswitch, obs, first_new - tkill
        if (!obs) { print "the client never observed the new master"; nbad++ }
        if (strict && nswitch != 1) { print nswitch " masterSwitch events (1 failover)"; nbad++ }
        if (unknown > 3) { print unknown " unknown outcomes (more than a handful)"; nbad++ }
        if (onnew < 300) { print "only " onnew " writes on the new master"; nbad++ }
        exit nbad > 0
    }' "$W" >"$IT_DIR/check.txt" || fail "write record:"$'\n'"$(head -n 40 "$IT_DIR/check.txt")"
it_log "$(tail -n 1 "$IT_DIR/check.txt")"

# the library's own counters (marshal_client_stats_get) agree with what the
# probe saw command by command, and show the failover: a wait for the new
# master, time spent in it, connections to both masters
awk '$1 == "summary" && $2 == "w" { for (i = 3; i <= NF; i++) { split($i, kv, "="); S[kv[1]] = kv[2] } }
     $1 == "stats" { for (i = 2; i <= NF; i++) { split($i, kv, "="); T[kv[1]] = kv[2] + 0 } }
     END {
        bad = 0
        if (T["commands"] != S["n"]) { print "stats commands=" T["commands"] " but " S["n"] " writes"; bad++ }
        if (T["applied"] != S["applied"]) { print "stats applied=" T["applied"] " but " S["applied"]; bad++ }
        if (T["not_applied"] != S["not_applied"]) { print "stats not_applied=" T["not_applied"] " but " S["not_applied"]; bad++ }
        if (T["unknown"] != S["unknown"]) { print "stats unknown=" T["unknown"] " but " S["unknown"]; bad++ }
        if (T["failover_waits"] < 1 || T["failover_wait_ms"] < 1) { print "no failover wait counted"; bad++ }
        if (T["connects"] < 2) { print "stats connects=" T["connects"] " (old and new master: >= 2)"; bad++ }
        printf "stats: commands=%d applied=%d unknown=%d retries=%d connects=%d failover_waits=%d failover_wait_ms=%d\n",
            T["commands"], T["applied"], T["unknown"], T["retries"], T["connects"], T["failover_waits"], T["failover_wait_ms"]
        exit bad > 0
     }' "$W" >"$IT_DIR/stats.txt" || fail "client stats:"$'\n'"$(cat "$IT_DIR/stats.txt")"
it_log "$(tail -n 1 "$IT_DIR/stats.txt")"

if ((FAILOVERS == 1)); then
    # the data: every write applied on the new master is there (it stayed
    # master), no write reported "not applied" ran anywhere
    mapfile -t KNEW <"$IT_DIR/keys.new"
    got=$(keys_exist "$NEW" "${KNEW[@]}")
    [[ $got == "${#KNEW[@]}" ]] || fail "only $got of ${#KNEW[@]} writes applied on :$NEW exist there"
    if [[ -s $IT_DIR/keys.na ]]; then
        mapfile -t KNA < <(awk '{ print $2 }' "$IT_DIR/keys.na")
        for p in "$NEW" "$R1" "$R2"; do
            [[ $p == "$NEW" ]] || pong_r "$p" || continue
            got=$(keys_exist "$p" "${KNA[@]}")
            [[ $got == 0 ]] || fail "$got write(s) reported 'not applied' exist on :$p"
        done
        it_log "${#KNA[@]} not-applied write(s): none exists; ${#KNEW[@]} applied on :$NEW: all exist"
    else
        it_log "no not-applied write; ${#KNEW[@]} applied on :$NEW: all exist"
    fi
fi
ctl_alive || fail "controller died"
ctl_finish
