#!/usr/bin/env bash
# shmdump_watch.sh -- marshal-shmdump --watch follows a segment as it changes.
#
#  1. A watcher started before the segment exists waits for it, then prints
#     every event of marshal-demo-writer --static --churn 3 (the replica going
#     down, up, down) in order, and stops by itself after --count lines.
#  2. A watcher on a live segment reports the writer's clean stop, then the
#     segment being replaced (--replace) and re-attaches to the new one.
#  3. ... then a writer adopting the segment (+writer-adopt, epoch 2); SIGTERM
#     ends the watcher with status 0.
#
#   shmdump_watch.sh MARSHAL_SHMDUMP MARSHAL_DEMO_WRITER
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

SEG=$IT_DIR/watch.seg
TOPO=(--group g1 --server 127.0.0.1:7001 --server 127.0.0.1:7002 --server 127.0.0.1:7003
      --group g2 --server 127.0.0.1:7101)

# ---- 1: churn, seen by a watcher that waited for the segment -----------------
# Lines: "watching" 1 + initial events 4 (2 slave up, 2 master up) + initial
# group lines 2 + 3 flips x (event + group line) = 13.  Were two flips to fall
# into one wake-up, their group lines would merge and --timeout would end the
# watch instead; the assertions below hold either way.
START=$(date +%s%N)
start_bg watch1 "$SHMDUMP" --watch --count 13 --timeout 10000 "$SEG"
WATCH=$IT_LAST_PID
wait_for 100 20 grep -q 'waiting for a segment' "$IT_DIR/watch1.log" ||
    fail "the watcher did not report waiting for the segment"
start_bg writer1 "$DEMO" --static --path "$SEG" "${TOPO[@]}" --churn 3 --churn-delay-ms 300
WRITER=$IT_LAST_PID
RC=0
wait "$WATCH" || RC=$?
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
OUT=$(cat "$IT_DIR/watch1.log")
((RC == 0)) || fail "watch exited $RC"$'\n'"$OUT"
((ELAPSED_MS < 12000)) || fail "watch took ${ELAPSED_MS} ms"
expect_text "$OUT" "watching $SEG: segment " "watch start line"
# the replica's events, in ring order
EV=$(grep -oE '#[0-9]+ [-+]sdown slave 127\.0\.0\.1:7002 @ g1' <<<"$OUT" | sed 's/^#[0-9]* //')
WANT=$'-sdown slave 127.0.0.1:7002 @ g1\n+sdown slave 127.0.0.1:7002 @ g1\n-sdown slave 127.0.0.1:7002 @ g1\n+sdown slave 127.0.0.1:7002 @ g1'
[[ $EV == "$WANT" ]] || fail "events of 127.0.0.1:7002 not as expected:"$'\n'"$OUT"
SEQS=$(grep -oE ' #[0-9]+ ' <<<"$OUT" | tr -d ' #' | tr '\n' ' ')
[[ $SEQS == "1 2 3 4 5 6 7 " ]] || fail "event sequence numbers '$SEQS'"$'\n'"$OUT"
expect_text "$OUT" "-sdown master g1 127.0.0.1:7001" "watch"
expect_text "$OUT" "-sdown master g2 127.0.0.1:7101" "watch"
expect_text "$OUT" "group g1: master 127.0.0.1:7001 (up), 3 servers (2 up, 1 down, 0 unknown, 1 readable)" \
    "group line after the replica went down"
expect_text "$OUT" "group g2: master 127.0.0.1:7101 (up), 1 servers" "group line"
LINES=$(grep -vc 'waiting for a segment' <<<"$OUT")
if ((LINES == 13)); then
    it_log "watch stopped by --count after ${ELAPSED_MS} ms"
else
    it_log "watch printed $LINES lines (group lines merged) and stopped by --timeout"
fi
OLD_ID=$("$SHMDUMP" --json "$SEG" | jq -r .segment.segment_id)

# ---- 2: clean stop, then replacement --------------------------------------------
start_bg watch2 "$SHMDUMP" --watch --timeout 60000 "$SEG"
WATCH=$IT_LAST_PID
wait_for 100 20 grep -q "^.* watching $SEG" "$IT_DIR/watch2.log" ||
    fail "second watcher did not start"
stop_pid "$WRITER" || fail "writer 1 did not exit 0 on SIGTERM"
wait_for 100 20 grep -q 'controller stopped, flags WRITER_STOPPED' "$IT_DIR/watch2.log" ||
    fail "watch did not report the stopped writer"
start_bg writer2 "$DEMO" --static --replace --path "$SEG" --group g1 --server 127.0.0.1:7001
WRITER=$IT_LAST_PID
wait_for 100 20 grep -q "segment replaced: re-attached $SEG" "$IT_DIR/watch2.log" ||
    fail "watch did not re-attach to the replaced segment"
wait_for 100 20 grep -q 'group g1: master 127.0.0.1:7001 (up), 1 servers' "$IT_DIR/watch2.log" ||
    fail "watch did not show the new segment's group"
NEW_ID=$("$SHMDUMP" --json "$SEG" | jq -r .segment.segment_id)
[[ $NEW_ID != "$OLD_ID" ]] || fail "--replace kept segment id $OLD_ID"
grep -q "re-attached $SEG: segment $NEW_ID" "$IT_DIR/watch2.log" ||
    fail "re-attach line does not name the new segment $NEW_ID"

# ---- 3: adoption --------------------------------------------------------------------
stop_pid "$WRITER" || fail "writer 2 did not exit 0 on SIGTERM"
wait_for 100 20 bash -c "grep -c 'controller stopped' '$IT_DIR/watch2.log' | grep -qx 2" ||
    fail "watch did not report the second stop"
start_bg writer3 "$DEMO" --static --path "$SEG" --group g1 --server 127.0.0.1:7001
WRITER=$IT_LAST_PID
wait_for 100 20 grep -qE '#[0-9]+ \+writer-adopt epoch 2$' "$IT_DIR/watch2.log" ||
    fail "watch did not show the adoption"
wait_for 100 20 grep -q 'controller live, flags -' "$IT_DIR/watch2.log" ||
    fail "watch did not report the controller live again"
[[ $("$SHMDUMP" --json "$SEG" | jq -r .segment.segment_id) == "$NEW_ID" ]] ||
    fail "adoption changed the segment id"
json_ok "$SEG" '.segment.writer_epoch == 2' || fail "writer_epoch is not 2 after adoption"
stop_pid "$WATCH" || fail "watch did not exit 0 on SIGTERM"
