#!/usr/bin/env bash
# restart.sh -- kill -9 the controller and restart it with the same config
# (C1): the new controller adopts the segment (same segment_id, writer_epoch
# + 1), emits no false event (only writer_adopt), and never publishes an
# empty topology: marshal-shmdump --watch runs across the restart and every
# group line it prints has a master and servers; a JSON poller (~50 ms)
# checks the same from outside the futex path.
#
#   restart.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

ctl_sentinel_setup
pick_port; SM=$IT_PORT
pick_port; SR=$IT_PORT
rstart "$SM"
rstart "$SR" "$SM"
ctl_conf "\"127.0.0.1:$S1\"" <<EOF
groups = (
  { name = "g1"; sentinel = true; route = "split"; },
  { name = "st"; master = "127.0.0.1:$SM"; replicas = ( "127.0.0.1:$SR" ); route = "split"; }
);
EOF
ctl_start
G=$(grp g1)
S=$(grp st)
FULL="$G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2 and
      $S.master.port == $SM and ([$S.servers[] | select(.flags | index(\"readable\"))] | length) == 1"
await 30 "both groups published" seg_is "$FULL"
J=$(sj)
ID=$(jq -r .segment.segment_id <<<"$J")
EPOCH=$(jq -r .segment.writer_epoch <<<"$J")
BASE=$(($(jq -r .segment.ev_head <<<"$J") - 1))
it_log "segment $ID writer_epoch $EPOCH, event head $((BASE + 1))"

start_bg watch "$SHMDUMP" --watch --timeout 100000 "$SEG"
WATCH=$IT_LAST_PID
await 10 "watcher started" grep -q ' watching ' "$IT_DIR/watch.log"

# outside view: one line per sample, "ms g1-master g1-servers st-master st-servers"
POLL=$IT_DIR/poll.txt
poller() {
    local j
    while :; do
        j=$("$SHMDUMP" --json "$SEG" 2>/dev/null) || { echo "$(now_ms) unreadable"; continue; }
        echo "$(now_ms) $(jq -r "[($G.master.port // \"null\"), ($G.servers | length),
            ($S.master.port // \"null\"), ($S.servers | length), .segment.writer_epoch,
            (.segment.flags | join(\",\"))] | map(tostring) | join(\" \")" <<<"$j")"
        sleep 0.03
    done >>"$POLL"
}
poller &
IT_PIDS+=("$!")
POLLER=$!
await 10 "poller running" test -s "$POLL"

OLD=$CTL_PID
kill -KILL "$OLD"
wait "$OLD" 2>/dev/null || true
it_log "kill -9 controller $OLD"
# a moment without a writer (the segment keeps the last state; heartbeat
# stops): let the poller take a few samples of it
N0=$(wc -l <"$POLL")
await 10 "poller sampled the writer-less segment" eval '(( $(wc -l <"'"$POLL"'") >= '"$N0"' + 5 ))'
ctl_start
await 30 "adopted: writer_epoch $((EPOCH + 1)), warm-up over" seg_is "
    .segment.writer_epoch == $((EPOCH + 1)) and (.segment.flags | index(\"warming_up\") | not) and
    .liveness == \"live\""
await 10 "log: adopted" grep -q 'first full resolve done: publishing (adopted segment)' "$CTL_LOG"
grep -q '+writer-adopt: adopted segment' "$CTL_LOG" || fail "log lacks the adoption line"
await 30 "full topology after the restart" seg_is "$FULL"
# let both observers see a couple of seconds of the new controller
END=$(($(now_ms) + 2000))
while (($(now_ms) < END)); do
    seg_is "$FULL" || fail "topology changed after the restart: $(seg_q '.groups | tojson')"
    sleep 0.1
done
kill "$POLLER"
wait "$POLLER" 2>/dev/null || true
kill -TERM "$WATCH"
wait "$WATCH" 2>/dev/null || true

J=$(sj)
[[ $(jq -r .segment.segment_id <<<"$J") == "$ID" ]] || fail "segment id changed: $(jq -r .segment.segment_id <<<"$J") != $ID"
[[ $(jq -r .segment.writer_pid <<<"$J") == "$CTL_PID" ]] || fail "writer_pid is not the new controller"
# events since the kill: exactly one, writer_adopt
EVS=$(jq -r "[.events[] | select(.seq > $BASE) | .type] | join(\" \")" <<<"$J")
[[ $EVS == writer_adopt ]] || fail "events across the restart: '$EVS'"$'\n'"$(ev_list "$BASE")"
jq -e "(.events[] | select(.seq > $BASE)) | .epoch == $((EPOCH + 1)) and
       (.text | test(\"writer-adopt epoch $((EPOCH + 1))\"))" >/dev/null <<<"$J" ||
    fail "writer_adopt does not carry the new writer epoch: $(ev_list "$BASE")"

# the poller: never an empty group or a missing master
N=$(wc -l <"$POLL")
BAD=$(awk -v mp="$MP" -v sm="$SM" '$2 != mp || $3 < 3 || $4 != sm || $5 < 2' "$POLL")
[[ -z $BAD ]] || fail "poller saw an empty/masterless publish:"$'\n'"$BAD"
grep -q " $((EPOCH + 1)) " "$POLL" || fail "poller never saw the new writer epoch"
WARM=$(grep -c 'warming_up' "$POLL" || true)
it_log "poller: $N samples, all with both masters and all servers ($WARM during warm-up)"

# the watcher: every group line names the master and has servers
W=$IT_DIR/watch.log
BADW=$(grep -E ' group (g1|st): ' "$W" | grep -E 'master \(none\)| 0 servers|, [0-9]+ servers \(0 up' || true)
[[ -z $BADW ]] || fail "watch printed an empty/masterless state:"$'\n'"$BADW"
BADW=$(grep -E ' group g1: ' "$W" | grep -v "master 127.0.0.1:$MP (up), 3 servers" || true)
[[ -z $BADW ]] || fail "watch: g1 not as before:"$'\n'"$BADW"
grep -q '+writer-adopt' "$W" || fail "watch did not see +writer-adopt:"$'\n'"$(cat "$W")"
it_log "watch log:"$'\n'"$(cat "$W")"
ctl_finish
