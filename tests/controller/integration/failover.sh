#!/usr/bin/env bash
# failover.sh -- kill -9 the master of a sentinel group: the controller
# publishes the master the sentinels elected (get-master-addr-by-name on all
# three), with master_down, master_switch and master_up exactly once each, and
# once the new master is published no write target is ever the old master
# again (checked by polling the JSON every ~50 ms, and on every state change
# through marshal-shmdump --watch).
#
#   failover.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "split"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP, 2 readable replicas" seg_is "
    $G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
EPOCH0=$(sentinels_epoch)
[[ $(seg_q "$G.master_epoch") == "$EPOCH0" ]] || fail "published master_epoch != sentinels' $EPOCH0"
HEAD=$(ev_head)
BASE=$((HEAD - 1))

start_bg watch "$SHMDUMP" --watch --timeout 100000 "$SEG"
WATCH=$IT_LAST_PID
await 10 "watcher started" grep -q ' watching ' "$IT_DIR/watch.log"

T0=$(now_ms)
rkill "$MP"
it_log "kill -9 master :$MP"

# poll (~50 ms) until the sentinels agree on a new master at a stable config
# epoch and the segment shows it; from the first sample with a new master on,
# the old one must never come back.  Sentinel itself may fail over twice on
# a slow machine (a just-promoted master missing pings for down-after): the
# target is then the second master, and the checks below adapt.
SW=$IT_DIR/sentinels.now
sentinel_watch_start "$SW"
SWITCHED=0 FIRST='' SAMPLES=0 STABLE_SINCE=0 LAST=''
END=$((T0 + 60000))
while :; do
    M=$(master_port g1) || M=
    SAMPLES=$((SAMPLES + 1))
    if ((SWITCHED)); then
        [[ $M != "$MP" ]] || fail "old master :$MP published again after the switch to :$FIRST"
    elif [[ -n $M && $M != null && $M != "$MP" ]]; then
        SWITCHED=1
        FIRST=$M
        it_log "segment: new master :$FIRST after $(($(now_ms) - T0)) ms"
    fi
    # what the sentinels say comes from a background watcher, so the JSON
    # is sampled fast
    read -r SPORT SEPOCH <"$SW" || SPORT=-
    if ((SWITCHED)) && [[ $M != null && $M == "$SPORT" ]]; then
        # 3 s with the same master everywhere at one config epoch
        [[ $M == "$LAST" ]] || { LAST=$M; STABLE_SINCE=$(now_ms); }
        (($(now_ms) - STABLE_SINCE >= 3000)) && break
    else
        LAST=
    fi
    (($(now_ms) < END)) || fail "no stable switch to the sentinels' master within 60 s (published: ${M:-?})"
    sleep 0.03
done
NEW=$LAST
kill "$CTL_SWATCH_PID"
wait "$CTL_SWATCH_PID" 2>/dev/null || true
EPOCH1=$SEPOCH
sentinels_agree_epoch "$NEW" "$EPOCH1" || fail "sentinels moved on from :$NEW epoch $EPOCH1"
FAILOVERS=$((EPOCH1 - EPOCH0))
it_log "$SAMPLES JSON samples, none named :$MP after the switch; sentinels: :$NEW at epoch $EPOCH1"
[[ $NEW == "$R1" || $NEW == "$R2" ]] || fail "new master :$NEW is not a replica"
seg_is "$G.master_epoch == $EPOCH1" || fail "published master_epoch $(seg_q "$G.master_epoch") != sentinels' $EPOCH1"

check_switches "$BASE" "$FAILOVERS" "$MP" "$NEW"
if ((FAILOVERS == 1)); then
    expect_events "$BASE" g1 master_down=1
    ORDER=$(seg_q "[.events[] | select(.seq > $BASE and .group == \"g1\" and
            (.type == \"master_down\" or .type == \"master_switch\" or .type == \"master_up\")) | .type] | join(\" \")")
    [[ $ORDER == "master_down master_switch master_up" ]] || fail "event order: $ORDER"
fi
seg_is "[.events[] | select(.seq > $BASE and .type == \"master_down\")] | first | .server == \"127.0.0.1:$MP\"" ||
    fail "master_down does not name the old master"
seg_is "$G | .counters.master_switch >= 1 and
        (.servers[] | select(.port == $NEW) | .health == \"up\" and .role == \"master\") and
        (.servers[] | select(.port == $MP) | .health == \"down\") and
        (.flags | index(\"no_master\") | not)" ||
    fail "group after the failover: $(seg_q "$G | tojson")"

# the watcher: every group line after the first one naming the new master
# names the new master too
kill -TERM "$WATCH"
wait "$WATCH" || true
awk -v new="master 127.0.0.1:$FIRST " -v old="master 127.0.0.1:$MP " '
    / group g1: / { if (index($0, new)) seen = 1; else if (seen && index($0, old)) { print; bad = 1 } }
    END { exit bad ? 1 : (seen ? 0 : 2) }' "$IT_DIR/watch.log" ||
    fail "watch: old master after the switch (or never switched):"$'\n'"$(cat "$IT_DIR/watch.log")"
grep -q " #[0-9]* +switch-master g1 127.0.0.1:$MP -> 127.0.0.1:$FIRST " "$IT_DIR/watch.log" ||
    fail "watch did not print the +switch-master event"
ctl_alive || fail "controller died"
it_log "events:"$'\n'"$(ev_list "$BASE")"
ctl_finish
