#!/usr/bin/env bash
# pubsub_killed.sh -- lost pub/sub during a failover (F12): kill -9 the
# master and, until the failover is over, run CLIENT KILL TYPE pubsub on
# every sentinel every ~100 ms, so the controller's subscriptions keep dying
# and most events are never delivered.  The controller still converges on the
# sentinels' new master (polling and resync on reconnect), with one
# master_switch.
#
#   pubsub_killed.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "split"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP" seg_is "$G.master.port == $MP and
    ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
await 20 "3 subscriptions" eval '[[ $(grep -c "subscribed; resync" "$CTL_LOG") -ge 3 ]]'
BASE=$(($(ev_head) - 1))
EPOCH0=$(sentinels_epoch)

# killer: CLIENT KILL TYPE pubsub on every sentinel, every ~100 ms, counting kills
KILLS=$IT_DIR/kills
: >"$KILLS"
killer() {
    local s n
    while :; do
        for s in "${SP[@]}"; do
            n=$(scli "$s" CLIENT KILL TYPE pubsub 2>/dev/null) || n=0
            [[ $n =~ ^[0-9]+$ ]] || n=0
            echo "$n" >>"$KILLS"
        done
        sleep 0.1
    done
}
killer &
KILLER=$!
IT_PIDS+=("$KILLER")
await 10 "first subscriptions killed" eval '[[ $(awk "{ s += \$1 } END { print s + 0 }" "$KILLS") -ge 1 ]]'

T0=$(now_ms)
rkill "$MP"
it_log "kill -9 master :$MP (pub/sub killed every ~100 ms)"
# the sentinels fail over; every published master is the old one, none, or
# the sentinels' final choice
NEW=
END=$((T0 + 60000))
while :; do
    M=$(master_port g1)
    if [[ $M != null && $M != "$MP" ]]; then
        NEW=$M
        break
    fi
    (($(now_ms) < END)) || fail "no new master published within 60 s"
    sleep 0.05
done
T1=$(now_ms)
agreed_new() { local p; p=$(s_master_port "$S1"); [[ -n $p && $p != "$MP" ]] && sentinels_agree "$p"; }
await 30 "all sentinels name the same new master" agreed_new
# stop killing only after the sentinels' failover is complete
kill "$KILLER"
wait "$KILLER" 2>/dev/null || true
TOTAL=$(awk '{ s += $1 } END { print s + 0 }' "$KILLS")
it_log "segment: new master :$NEW after $((T1 - T0)) ms; $TOTAL subscribed connections killed"
((TOTAL >= 3)) || fail "only $TOTAL pub/sub connections killed: the fault was not injected"
DOWNS=$(grep -c "subscribed connection down" "$CTL_LOG" || true)
((DOWNS >= 3)) || fail "the controller saw only $DOWNS subscribed connections drop"

await_stable_master 40 "$MP"
seg_is "$G.servers[] | select(.port == $STABLE_PORT) | .health == \"up\"" || fail "new master not up"
check_switches "$BASE" $((STABLE_EPOCH - EPOCH0)) "$MP" "$STABLE_PORT"
# subscriptions come back once the killing stops
await 20 "subscriptions re-established" eval \
    '[[ $(grep -c "subscribed; resync" "$CTL_LOG") -gt 3 ]]'
ctl_alive || fail "controller died"
it_log "subscribed connection drops seen by the controller: $DOWNS"
it_log "events:"$'\n'"$(ev_list "$BASE")"
ctl_finish
