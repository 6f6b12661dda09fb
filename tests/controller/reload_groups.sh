#!/usr/bin/env bash
# SIGHUP that adds and removes groups: the controller rebuilds its topology
# from the published state -- kept indices and counters, no false events, no
# state published without its master -- and a reload with an invalid file
# keeps everything as it was.
# Usage: reload_groups.sh MARSHAL_SHMDUMP MARSHAL_DEMO_WRITER MARSHAL_CONTROLLER
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
it_init "$1" "$2"
CTL=$3
need redis-server redis-cli jq

SEG=$IT_DIR/seg
CONF=$IT_DIR/marshal.conf
pick_port; A=$IT_PORT
pick_port; B=$IT_PORT
pick_port; B2=$IT_PORT
start_redis "$A"
start_redis "$B"
start_redis "$B2" replicaof "$B"

conf() { # group definitions...
    {
        printf 'segment = { path = "%s"; };\n' "$SEG"
        printf 'health = { interval_ms = 100; timeout_ms = 250; };\n'
        printf 'groups = ( %s );\n' "$(IFS=,; echo "$*")"
    } >"$CONF"
}
GA="{ name = \"a\"; master = \"127.0.0.1:$A\"; }"
GB="{ name = \"b\"; master = \"127.0.0.1:$B\"; replicas = ( \"127.0.0.1:$B2\" ); route = \"split\"; }"

conf "$GA"
start_bg controller "$CTL" -c "$CONF"
CPID=$IT_LAST_PID
wait_for 100 100 json_ok "$SEG" '.groups | length == 1 and .[0].master != null' ||
    fail "group a never published"
IDX_A=$("$SHMDUMP" --json "$SEG" | jq '.groups[0].index')

# add b
conf "$GA" "$GB"
kill -HUP "$CPID"
wait_for 100 100 json_ok "$SEG" '[.groups[] | select(.master != null)] | length == 2' ||
    fail "group b not published after SIGHUP"
json_ok "$SEG" ".groups[] | select(.name == \"a\") | .index == $IDX_A" ||
    fail "group a changed its index across the reload"
wait_for 100 100 json_ok "$SEG" '.groups[] | select(.name == "b") |
    [.servers[] | select(.flags | index("readable"))] | length == 1' ||
    fail "b's replica never readable"

# an invalid file changes nothing
cp "$CONF" "$IT_DIR/good.conf"
printf 'groups = ( { name = "a" \n' >"$CONF"
GEN=$("$SHMDUMP" --json "$SEG" | jq '.segment.pub_seq')
kill -HUP "$CPID"
wait_for 50 100 grep -q "reload refused" "$IT_DIR/controller.log" ||
    fail "no 'reload refused' log line for a bad file"
kill -0 "$CPID" || fail "controller died on a bad reload"
json_ok "$SEG" '[.groups[] | select(.master != null)] | length == 2' ||
    fail "topology changed after a refused reload"

# remove a: only b stays, a's record is gone, b keeps its index and counters
IDX_B=$("$SHMDUMP" --json "$SEG" | jq '.groups[] | select(.name == "b") | .index')
conf "$GB"
kill -HUP "$CPID"
wait_for 100 100 json_ok "$SEG" '.groups | length == 1 and .[0].name == "b"' ||
    fail "group a not removed"
json_ok "$SEG" ".groups[0].index == $IDX_B and .groups[0].master != null" ||
    fail "group b lost its index or its master"
# no master/slave events were invented by the rebuilds: only each server's
# "up for the first time" (when its group was first published), once
json_ok "$SEG" '([.events[] | select(.type | test("_down|master_switch|reads_unavailable"))] | length == 0) and
    ([.events[] | select(.type | test("_up$|reads_available")) | [.type, .group_index, .server_index]] |
     length == (unique | length))' ||
    fail "reloads produced master/slave events: $("$SHMDUMP" --json --events 100 "$SEG" | jq -c '[.events[] | [.type, .server]]')"
"$SHMDUMP" --check "$SEG" >/dev/null || fail "segment fails --check after the reloads"
[[ $GEN -gt 0 ]] || fail "no publish before the bad reload"
it_log "reloads: add, refuse, remove all behaved"
