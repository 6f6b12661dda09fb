#!/usr/bin/env bash
# lib_events.sh -- events are delivered exactly once, in order, to every process.
#
# Two `mc_probe events` processes (each a client blocking in
# marshal_client_wait) run across a kill -9 failover.  Afterwards:
#   * both printed exactly the same sequence of events;
#   * that sequence is the controller's: the segment's event ring for g1 since
#     the probes started, in the same order, naming the same servers (ring
#     types without a public event, e.g. noMaster, left out), with nothing
#     before the probes opened the group and no controller event;
#   * masterDown (the old master), masterSwitch (old -> the sentinels' new
#     master, at their config epoch) and masterUp (the new master) exactly
#     once each, in that order, and the group's transition counters moved by
#     exactly what the probes saw (master_down/up/switch +1, all_slaves_down
#     and all_slaves_up by the allSlavesDown / allSlavesUp count);
#   * no allSlavesDown / allSlavesUp at all: both replicas ran the whole time
#     (issue 17: those follow availability; the resync of the remaining
#     replica is readsUnavailable / readsAvailable, which alternate).
#
#   lib_events.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MC_PROBE

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
EPOCH0=$(sentinels_epoch)
BASE=$(($(ev_head) - 1))
C0=$(seg_q "$G.counters")

probe_bg ev1 "$SEG" g1 events --seconds 170
P1=$IT_LAST_PID
probe_bg ev2 "$SEG" g1 events --seconds 170
P2=$IT_LAST_PID
probe_ready ev1
probe_ready ev2
[[ $(($(ev_head) - 1)) == "$BASE" ]] || fail "events while the probes started: $(ev_list "$BASE")"

rkill "$MP"
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
it_log "new master :$NEW at epoch $STABLE_EPOCH ($FAILOVERS failover(s))"
# the other replica re-syncs from the new master: wait for the group to settle
await 30 "the other replica readable again" seg_is "
    $G.master.port == $NEW and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 1"
ev_settle 3

# the controller's record: g1 events since BASE, public types, as
# "NAME GROUP SERVER OLD" (OLD only for masterSwitch; "-" for none)
seg_q "[.events[] | select(.seq > $BASE and .group == \"g1\")] | .[] |
    [.type, .group, (.server // \"-\"), (if .type == \"master_switch\" then (.old // \"-\") else \"-\" end),
     (.epoch | tostring)] | join(\" \")" |
    awk 'BEGIN { m["master_down"] = "masterDown"; m["master_up"] = "masterUp"; m["master_switch"] = "masterSwitch"
                 m["slave_down"] = "slaveDown"; m["slave_up"] = "slaveUp"; m["all_slaves_down"] = "allSlavesDown"
                 m["all_slaves_up"] = "allSlavesUp"; m["group_degraded"] = "groupDegraded"
                 m["group_recovered"] = "groupRecovered"; m["reads_unavailable"] = "readsUnavailable"
                 m["reads_available"] = "readsAvailable" }
         ($1 in m) { print m[$1], $2, $3, $4, ($1 == "master_switch" ? $5 : "-") }' >"$IT_DIR/ring.txt"
NRING=$(wc -l <"$IT_DIR/ring.txt")
it_log "controller's events for g1:"$'\n'"$(cat "$IT_DIR/ring.txt")"

# both probes printed the whole sequence (bounded wait), then stop them
delivered() { # NAME: the probe printed at least NRING events
    (($(pcount "$IT_DIR/$1.log" '$1 == "event"') >= NRING))
}
await 20 "probe ev1 delivered $NRING events" delivered ev1
await 20 "probe ev2 delivered $NRING events" delivered ev2
probe_stop "$P1" ev1
probe_stop "$P2" ev2

# event NAME GROUP SERVER OLD EPOCH seq= age= t=: the same shape as ring.txt
for p in ev1 ev2; do
    awk '$1 == "event" { print $2, $3, $4, ($2 == "masterSwitch" ? $5 : "-"), ($2 == "masterSwitch" ? $6 : "-") }' \
        "$IT_DIR/$p.log" >"$IT_DIR/$p.txt"
done
diff "$IT_DIR/ev1.txt" "$IT_DIR/ev2.txt" >/dev/null ||
    fail "the two processes saw different events:"$'\n'"$(diff "$IT_DIR/ev1.txt" "$IT_DIR/ev2.txt")"
diff "$IT_DIR/ring.txt" "$IT_DIR/ev1.txt" >/dev/null ||
    fail "the probes' events differ from the controller's (< ring, > probe):"$'\n'"$(diff "$IT_DIR/ring.txt" "$IT_DIR/ev1.txt")"
! grep -q '^controller' "$IT_DIR/ev1.txt" || fail "controller events during a failover"

n_of() { awk -v t="$1" '$1 == t { n++ } END { print n + 0 }' "$IT_DIR/ev1.txt"; }
counter_delta() { echo $(($(seg_q "$G.counters.$1") - $(jq -r ".$1" <<<"$C0"))); }
for kv in master_down:masterDown master_up:masterUp master_switch:masterSwitch \
          all_slaves_down:allSlavesDown all_slaves_up:allSlavesUp degraded:groupDegraded; do
    c=${kv%%:*} e=${kv#*:}
    [[ $(counter_delta "$c") == "$(n_of "$e")" ]] ||
        fail "counter $c moved by $(counter_delta "$c"), the probes saw $(n_of "$e") $e"
done
for e in allSlavesDown allSlavesUp; do
    [[ $(n_of "$e") == 0 ]] || fail "$(n_of "$e") x $e with both replicas running:"$'\n'"$(cat "$IT_DIR/ev1.txt")"
done
READS=$(awk '$1 ~ /^reads/ { printf "%s%s", sep, $1; sep = " " }' "$IT_DIR/ev1.txt")
[[ -z $READS || $READS =~ ^readsUnavailable\ readsAvailable(\ readsUnavailable\ readsAvailable)*$ ]] ||
    fail "readability events do not alternate from available: '$READS'"
if ((FAILOVERS == 1)); then
    [[ $(n_of slaveDown) == 0 ]] || fail "slaveDown in a master-only failure:"$'\n'"$(cat "$IT_DIR/ev1.txt")"
    for e in masterDown masterSwitch masterUp; do
        [[ $(n_of "$e") == 1 ]] || fail "$(n_of "$e") x $e, want exactly 1:"$'\n'"$(cat "$IT_DIR/ev1.txt")"
    done
    ORDER=$(awk '$1 ~ /^master/ { printf "%s%s", sep, $1; sep = " " }' "$IT_DIR/ev1.txt")
    [[ $ORDER == "masterDown masterSwitch masterUp" ]] || fail "master event order: $ORDER"
    grep -qx "masterDown g1 $A:$MP - -" "$IT_DIR/ev1.txt" || fail "masterDown does not name :$MP"
    grep -qx "masterSwitch g1 $A:$NEW $A:$MP $STABLE_EPOCH" "$IT_DIR/ev1.txt" ||
        fail "masterSwitch is not :$MP -> :$NEW at epoch $STABLE_EPOCH"
    grep -qx "masterUp g1 $A:$NEW - -" "$IT_DIR/ev1.txt" || fail "masterUp does not name :$NEW"
else
    it_log "WARNING: the sentinels failed over $FAILOVERS times (slow machine); exact counts not checked"
    (($(n_of masterSwitch) >= 1)) || fail "no masterSwitch"
fi
it_log "both processes: $NRING events, identical to the controller's"
ctl_alive || fail "controller died"
ctl_finish
