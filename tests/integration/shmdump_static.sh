#!/usr/bin/env bash
# shmdump_static.sh -- marshal-shmdump on a static topology published by
# marshal-demo-writer --static: two groups (one with a hostile name), a long
# host name, two clusters and a farm.  The table shows them, --json parses and
# carries the expected values, --check passes.
#
#   shmdump_static.sh MARSHAL_SHMDUMP MARSHAL_DEMO_WRITER
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"
need jq

SEG=$IT_DIR/static.seg
# quote, backslash, tab, a control byte and a byte that is not UTF-8
WEIRD=$'we"ird\\\tname\x01\xff'
WEIRD_JSON='"we\"ird\\\tname\u0001\u00ff"'     # the same as a jq string literal
WEIRD_TABLE='we"ird\\\x09name\x01\xff'          # as the table prints it
LONG=$(printf 'a%.0s' $(seq 192)).invalid        # what --long-host adds

start_bg writer "$DEMO" --static --path "$SEG" \
    --group g1 --server 127.0.0.1:7001 --server 127.0.0.1:7002 --server 127.0.0.1:7003 \
    --group "$WEIRD" --server 127.0.0.1:7101 --server 127.0.0.1:7102 \
    --cluster "c1:marshal0:g1,$WEIRD" \
    --cluster "c2:marshal1:g1=3,$WEIRD:modula:crc16" \
    --farm 'f1:c1,c2!' --long-host
WRITER=$IT_LAST_PID

wait_for 100 50 json_ok "$SEG" '.groups | length == 2' ||
    fail "the writer never published two groups"

# ---- table -----------------------------------------------------------------
run_expect 0 '^segment ' "$SHMDUMP" "$SEG"
TABLE=$IT_OUT
for s in "layout 1.2" "controller LIVE" "GROUPS (2)" "CLUSTERS (2)" "FARMS (1)" \
         "  g1  route master  master 127.0.0.1:7001" \
         "127.0.0.1:7001" "127.0.0.1:7002" "127.0.0.1:7003" "127.0.0.1:7101" \
         "127.0.0.1:7102" "$LONG:6399" "readable,host_long" "$WEIRD_TABLE" \
         "  c1  rule marshal0  dist ketama  hash fnv1a_64  hash_tag {}" \
         "  c2  rule marshal1  dist modula  hash crc16" \
         "  f1  rule marshal10" "power 3   master up   readable 3/3  flags primary" "flags diverged" \
         "-sdown master g1 127.0.0.1:7001" "-sdown slave 127.0.0.1:7002 @ g1" \
         "EVENTS (last 6 of 6)"; do
    expect_text "$TABLE" "$s" "table"
done
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' <<<"$TABLE"; then
    fail "the table passed raw control bytes through"
fi
run_expect 0 '^segment ' "$SHMDUMP" --events 0 "$SEG"
grep -q '^EVENTS' <<<"$IT_OUT" && fail "--events 0 still printed events"

# ---- JSON ------------------------------------------------------------------
run_expect 0 '^\{' "$SHMDUMP" --json "$SEG"
JSON=$IT_OUT
jq -e . >/dev/null <<<"$JSON" || fail "--json output does not parse"
check_json() {
    jq -e "$1" >/dev/null <<<"$JSON" || fail "JSON check failed: $1"$'\n'"$JSON"
}
check_json '.schema == 1 and .liveness == "live"'
check_json ".segment.version == \"1.2\" and .segment.writer_pid == $WRITER"
check_json '.segment.state == "live" and .segment.valid == true and .segment.flags == []'
check_json '.segment.segment_id | test("^[0-9a-f]{16}$")'
check_json '.segment.capacity.groups == 1024 and .segment.used.groups == 2'
check_json '.segment.generation > 0 and .segment.pub_seq >= 1 and .segment.ev_head == 7'
check_json '.groups[0].name == "g1" and .groups[0].route == "master"'
check_json '.groups[0].master == {"index": 0, "host": "127.0.0.1", "port": 7001}'
check_json '.groups[0].servers | length == 4'
check_json '[.groups[0].servers[] | .port] == [7001, 7002, 7003, 6399]'
check_json '[.groups[0].servers[] | .role] == ["master", "replica", "replica", "replica"]'
check_json '[.groups[0].servers[] | .health] | all(. == "up")'
check_json '.groups[0].servers[1].flags == ["readable"]'
check_json ".groups[0].servers[3].host == \"$LONG\""
check_json '.groups[0].servers[3].flags == ["readable", "host_long"]'
check_json ".groups[1].name == $WEIRD_JSON"
check_json '.groups[1].master.port == 7101 and .groups[1].counters.master_up == 1'
check_json '[.clusters[] | .name] == ["c1", "c2"]'
check_json '.clusters[0].rule == "marshal0" and .clusters[0].hash_tag == "{}"'
check_json ".clusters[0].members[1].name == $WEIRD_JSON"
check_json '.clusters[1] | .rule == "marshal1" and .dist == "modula" and .hash == "crc16"'
check_json '.clusters[1] | .primary == 0 and .members[0].power == 3'
check_json '.clusters[1].members[0].flags == ["primary"]'
check_json '.clusters[0].members[0] | .master == "up" and .replicas == 3 and .readable == 3'
check_json '.farms[0].members[0] | has("master") | not'
check_json '.farms | length == 1'
check_json '.farms[0] | .name == "f1" and .kind == "farm" and .rule == "marshal10"'
check_json '[.farms[0].members[] | .name] == ["c1", "c2"]'
check_json '.farms[0].members[1].flags == ["diverged"]'
check_json '[.events[] | .type] == ["slave_up", "slave_up", "slave_up", "slave_up", "master_up", "master_up"]'
check_json '[.events[] | .seq] == [1, 2, 3, 4, 5, 6]'
check_json '.events[0] | .server == "127.0.0.1:7002" and .group == "g1" and .time_ms > 0'
check_json '.events[0].text == "-sdown slave 127.0.0.1:7002 @ g1"'
run_expect 0 '"events":\[\{' "$SHMDUMP" --json --events 1 "$SEG"
jq -e '.events | length == 1 and .[0].seq == 6' >/dev/null <<<"$IT_OUT" ||
    fail "--events 1 did not give the newest event"

# ---- check -----------------------------------------------------------------
run_expect 0 '^OK .*2 groups, 6 servers, 2 clusters, 1 farms, 6 events' \
    "$SHMDUMP" --check "$SEG"
# the segment path from the environment
run_expect 0 "^OK $SEG" env MARSHAL_SEGMENT="$SEG" "$SHMDUMP" --check

# ---- clean stop --------------------------------------------------------------
stop_pid "$WRITER" || fail "the writer did not exit 0 on SIGTERM"
run_expect 0 'controller STOPPED.*flags WRITER_STOPPED' "$SHMDUMP" "$SEG"
json_ok "$SEG" '.liveness == "stopped" and .segment.flags == ["writer_stopped"]' ||
    fail "JSON does not show the stopped writer"
run_expect 0 '^OK .*controller stopped' "$SHMDUMP" --check "$SEG"

# ---- a writer that dies without a word goes STALE (stale_after_ms 3000) --------
SEG2=$IT_DIR/stale.seg
start_bg writer2 "$DEMO" --static --path "$SEG2" --group g1 --server 127.0.0.1:7001
WRITER=$IT_LAST_PID
wait_for 100 50 json_ok "$SEG2" '(.groups | length) == 1 and .liveness == "live"' ||
    fail "second writer never published"
kill -KILL "$WRITER"
wait "$WRITER" 2>/dev/null || true
wait_for 60 100 json_ok "$SEG2" '.liveness == "stale" and .segment.heartbeat_age_ms >= 3000' ||
    fail "a SIGKILLed writer is not reported stale"
run_expect 0 'controller STALE \(heartbeat [0-9]+ ms ago' "$SHMDUMP" "$SEG2"
run_expect 0 '^OK .*controller stale' "$SHMDUMP" --check "$SEG2"
