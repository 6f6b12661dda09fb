#!/usr/bin/env bash
# lib_slave_events.sh -- replica events follow AVAILABILITY, not readability
# (issue 17), as two application processes see them.
#
# A sentinel group (master :MP, replicas :R1 :R2), two `mc_probe events`
# processes, then:
#   1. SIGSTOP :R1 past the health-check threshold  -> slaveDown :R1
#      SIGCONT :R1                                  -> slaveUp :R1
#   2. kill -9 :R1                                  -> slaveDown :R1 (no allSlavesDown)
#      kill -9 :R2                                  -> slaveDown :R2, allSlavesDown
#   3. restart :R1                                  -> slaveUp :R1, allSlavesUp
# Afterwards:
#   * both processes printed the same events, and they are the controller's
#     (the segment's ring for g1 since the probes started, public types);
#   * the replica/group sequence is exactly the one above, with one
#     readsUnavailable (reason includes down) once the second replica goes
#     and one readsAvailable once :R1 is readable again; no master event;
#   * in the whole ring since the controller started, every server's
#     slave_up/slave_down alternate starting with slave_up (its first-time
#     up), all_slaves_down/up alternate starting with down, and
#     reads_available/unavailable alternate starting with available: no down
#     event without its up before it;
#   * the counters all_slaves_down/up moved by exactly what the probes saw.
#
#   lib_slave_events.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MC_PROBE

# awk and jq programs are single-quoted on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "split"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP, 2 readable replicas" seg_is "
    $G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
ev_settle 2
BASE=$(($(ev_head) - 1))
C0=$(seg_q "$G.counters")

probe_bg ev1 "$SEG" g1 events --seconds 170
P1=$IT_LAST_PID
probe_bg ev2 "$SEG" g1 events --seconds 170
P2=$IT_LAST_PID
probe_ready ev1
probe_ready ev2

# seen NAME EVENT [SERVER_PORT] N: both probes printed at least N such events
seen() {
    local ev=$1 port=$2 n=$3 p cond
    cond="\$1 == \"event\" && \$2 == \"$ev\""
    [[ $port != - ]] && cond="$cond && \$4 == \"$A:$port\""
    for p in ev1 ev2; do
        pcount_ge "$IT_DIR/$p.log" "$cond" "$n" || return 1
    done
}
A=127.0.0.1

# ---- 1: SIGSTOP / SIGCONT a replica ------------------------------------------------
rsig STOP "$R1"
it_log "SIGSTOP replica :$R1"
await 20 "both probes: slaveDown :$R1" seen slaveDown "$R1" 1
seg_is "($G.servers[] | select(.port == $R1) | .health == \"down\") and $G.master.port == $MP" ||
    fail ":$R1 not published down"
# the sentinels' +sdown too (down-after 1000 ms), so that :R1 comes back up
# only when both the checks and the sentinels say so: one slaveUp, no flap
await 20 ":$R1 +sdown per the sentinels" seg_is "
    $G.servers[] | select(.port == $R1) | .flags | index(\"sdown\")"
rsig CONT "$R1"
it_log "SIGCONT replica :$R1"
await 30 "both probes: slaveUp :$R1" seen slaveUp "$R1" 1
await 30 ":$R1 readable again" seg_is "
    ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"

# ---- 2: kill both replicas, one by one ---------------------------------------------
rkill "$R1"
it_log "kill -9 replica :$R1"
await 20 "both probes: 2nd slaveDown :$R1" seen slaveDown "$R1" 2
ev_settle 2
seen allSlavesDown - 1 && fail "allSlavesDown while :$R2 is up"
rkill "$R2"
it_log "kill -9 replica :$R2"
await 20 "both probes: slaveDown :$R2" seen slaveDown "$R2" 1
await 20 "both probes: allSlavesDown" seen allSlavesDown - 1
await 20 "group flagged all_slaves_down and no_reads" seg_is "
    ($G.flags | index(\"all_slaves_down\")) and ($G.flags | index(\"no_reads\")) and $G.master.port == $MP"

# ---- 3: one replica back ------------------------------------------------------------
rstart "$R1" "$MP"
it_log "restarted replica :$R1"
await 30 "both probes: slaveUp :$R1 again" seen slaveUp "$R1" 2
await 30 "both probes: allSlavesUp" seen allSlavesUp - 1
await 60 ":$R1 readable again" seg_is "
    [$G.servers[] | select(.flags | index(\"readable\")) | .port] == [$R1]"
await 20 "both probes: readsAvailable" seen readsAvailable - 1
ev_settle 3
seg_is "($G.flags | index(\"all_slaves_down\") | not) and ($G.flags | index(\"no_reads\") | not)" ||
    fail "group flags still say down: $(seg_q "$G.flags | tojson")"

# ---- the controller's record -----------------------------------------------------------
# g1 events since BASE, public types, as "NAME GROUP SERVER OLD"
seg_q "[.events[] | select(.seq > $BASE and .group == \"g1\")] | .[] |
    [.type, .group, (.server // \"-\"), (if .type == \"master_switch\" then (.old // \"-\") else \"-\" end)]
    | join(\" \")" |
    awk 'BEGIN { m["master_down"] = "masterDown"; m["master_up"] = "masterUp"; m["master_switch"] = "masterSwitch"
                 m["slave_down"] = "slaveDown"; m["slave_up"] = "slaveUp"; m["all_slaves_down"] = "allSlavesDown"
                 m["all_slaves_up"] = "allSlavesUp"; m["group_degraded"] = "groupDegraded"
                 m["group_recovered"] = "groupRecovered"; m["reads_unavailable"] = "readsUnavailable"
                 m["reads_available"] = "readsAvailable" }
         ($1 in m) { print m[$1], $2, $3, $4 }' >"$IT_DIR/ring.txt"
NRING=$(wc -l <"$IT_DIR/ring.txt")
it_log "controller's events for g1:"$'\n'"$(cat "$IT_DIR/ring.txt")"
delivered() { (($(pcount "$IT_DIR/$1.log" '$1 == "event"') >= NRING)); }
await 20 "probe ev1 delivered $NRING events" delivered ev1
await 20 "probe ev2 delivered $NRING events" delivered ev2
probe_stop "$P1" ev1
probe_stop "$P2" ev2
for p in ev1 ev2; do
    awk '$1 == "event" { print $2, $3, $4, $5 }' "$IT_DIR/$p.log" >"$IT_DIR/$p.txt"
done
diff "$IT_DIR/ev1.txt" "$IT_DIR/ev2.txt" >/dev/null ||
    fail "the two processes saw different events:"$'\n'"$(diff "$IT_DIR/ev1.txt" "$IT_DIR/ev2.txt")"
diff "$IT_DIR/ring.txt" "$IT_DIR/ev1.txt" >/dev/null ||
    fail "the probes' events differ from the controller's (< ring, > probe):"$'\n'"$(diff "$IT_DIR/ring.txt" "$IT_DIR/ev1.txt")"

# the exact story (readsUnavailable/readsAvailable checked apart: where
# readsAvailable falls depends on how fast :R1 resyncs)
GOT=$(awk '$1 != "readsUnavailable" && $1 != "readsAvailable" { print $1, $3 }' "$IT_DIR/ev1.txt")
WANT="slaveDown $A:$R1
slaveUp $A:$R1
slaveDown $A:$R1
slaveDown $A:$R2
allSlavesDown -
slaveUp $A:$R1
allSlavesUp -"
[[ $GOT == "$WANT" ]] || fail "replica events:"$'\n'"$GOT"$'\n'"want:"$'\n'"$WANT"
READS=$(awk '$1 ~ /^reads/ { printf "%s%s", sep, $1; sep = " " }' "$IT_DIR/ev1.txt")
[[ $READS == "readsUnavailable readsAvailable" ]] || fail "readability events: '$READS'"
# readsUnavailable comes once :R1 is down for good and :R2 goes (which may
# make :R2 unreadable -- link down -- a moment before its checks call it
# down), before :R1 is back; its reason names at least "down" (:R1)
POS=$(awk '$1 == "event" { n++ } $2 == "slaveDown" { d++ } $2 == "allSlavesUp" { u = n }
           $2 == "readsUnavailable" { r = n; dr = d; why = substr($NF, 8) }
           END { print r + 0, dr + 0, u + 0, why }' "$IT_DIR/ev1.log")
read -r R_AT R_DOWNS U_AT R_WHY <<<"$POS"
((R_DOWNS >= 2 && R_AT < U_AT && (R_WHY & 0x1) != 0)) ||
    fail "readsUnavailable (#$R_AT, after $R_DOWNS slaveDown, reason $R_WHY) not between :$R1's kill and allSlavesUp (#$U_AT) with reason down:"$'\n'"$(grep '^event' "$IT_DIR/ev1.log")"
counter_delta() { echo $(($(seg_q "$G.counters.$1") - $(jq -r ".$1" <<<"$C0"))); }
[[ $(counter_delta all_slaves_down) == 1 && $(counter_delta all_slaves_up) == 1 ]] ||
    fail "counters all_slaves_down/up moved by $(counter_delta all_slaves_down)/$(counter_delta all_slaves_up), want 1/1"
for c in master_down master_up master_switch; do
    [[ $(counter_delta "$c") == 0 ]] || fail "counter $c moved"
done

# ---- no down without its up, over the whole ring since the start ---------------------
seg_q '[.events[] | select(.group == "g1")] | .[] | [.type, (.server // "-")] | join(" ")' >"$IT_DIR/all.txt"
awk '
    $1 == "slave_up"   { if (st[$2] == "up") bad = bad "\n" NR ": " $0 " (already up)"; st[$2] = "up" }
    $1 == "slave_down" { if (st[$2] != "up") bad = bad "\n" NR ": " $0 " (down before up)"; st[$2] = "down" }
    $1 == "all_slaves_down" { if (all) bad = bad "\n" NR ": " $0 " (twice)"; all = 1 }
    $1 == "all_slaves_up"   { if (!all) bad = bad "\n" NR ": " $0 " (without all_slaves_down)"; all = 0 }
    $1 == "reads_available"   { if (rd == 1) bad = bad "\n" NR ": " $0 " (twice)"; rd = 1 }
    $1 == "reads_unavailable" { if (rd != 1) bad = bad "\n" NR ": " $0 " (before reads_available)"; rd = 0 }
    $1 == "master_up" { mu++ }
    END { if (mu < 1) bad = bad "\nno first-time master_up"; if (bad != "") { print bad; exit 1 } }
' "$IT_DIR/all.txt" >"$IT_DIR/order.txt" ||
    fail "ring order:$(cat "$IT_DIR/order.txt")"$'\n'"$(cat "$IT_DIR/all.txt")"
# startup: the first events are the first-time ups, each once
FIRST=$(awk 'NR <= 4 { print $1 }' "$IT_DIR/all.txt" | sort | paste -sd ' ')
[[ $FIRST == "master_up reads_available slave_up slave_up" ]] ||
    fail "startup events: '$FIRST'"$'\n'"$(cat "$IT_DIR/all.txt")"
it_log "both processes: $NRING events, identical to the controller's; no down before its up"
ctl_alive || fail "controller died"
ctl_finish
