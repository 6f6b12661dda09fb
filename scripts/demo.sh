#!/usr/bin/env bash
# scripts/demo.sh -- the live demo.  On loopback: a redis master, two replicas
# and three sentinels; marshal-controller (configured with ONE sentinel: it
# discovers the rest, and the replicas) publishing the topology into a
# shared-memory segment; marshal-shmdump showing it; then kill -9 of the
# master, and the failover arriving in the segment as events and a new master.
# Everything runs from this checkout and is cleaned up on exit.
set -euo pipefail
MARSHAL_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MARSHAL_ROOT/scripts/lib.sh"

install_deps
echo "== building"
build_into "$MARSHAL_ROOT/build/normal" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
BIN=$MARSHAL_ROOT/build/normal
DUMP=$BIN/shm/marshal-shmdump
CTL=$BIN/controller/marshal-controller
EXAMPLE=$BIN/examples/marshal-example

SANDBOX=$(mktemp -d /tmp/marshal-demo.XXXXXX)
SEG=/dev/shm/marshal.demo.$$
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$SANDBOX" "$SEG" "$SEG.lock" "$SEG.ctl" "$SEG.wake"
}
trap cleanup EXIT INT TERM

start_redis() { # port [master_port]
    local port=$1 extra=()
    [ -n "${2:-}" ] && extra=(--replicaof 127.0.0.1 "$2")
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$SANDBOX" --dbfilename "dump-$port.rdb" --logfile "$SANDBOX/redis-$port.log" \
        "${extra[@]}" &
    PIDS+=($!)
}

start_sentinel() { # port master_port
    local conf=$SANDBOX/sentinel-$1.conf
    cat >"$conf" <<CONF
port $1
bind 127.0.0.1
dir $SANDBOX
logfile $SANDBOX/sentinel-$1.log
sentinel monitor demo 127.0.0.1 $2 2
sentinel down-after-milliseconds demo 1000
sentinel failover-timeout demo 5000
sentinel parallel-syncs demo 1
CONF
    redis-sentinel "$conf" &
    PIDS+=($!)
}

json() { "$DUMP" --json "$SEG" 2>/dev/null; }
# seg_is JQ_EXPR: the segment exists, is readable, and JQ_EXPR holds for it
# (jq -e alone succeeds on empty input)
seg_is() {
    local out
    out=$("$DUMP" --json "$SEG" 2>/dev/null) && [ -n "$out" ] && jq -e "$1" >/dev/null <<<"$out"
}

M=$(free_port); R1=$(free_port); R2=$(free_port)
echo "== redis master :$M, replicas :$R1 :$R2"
start_redis "$M"
MASTER_PID=${PIDS[-1]}
wait_for 100 50 redis-cli -p "$M" ping
start_redis "$R1" "$M"
start_redis "$R2" "$M"
wait_for 200 50 sh -c "redis-cli -p $M info replication | grep -q connected_slaves:2"
S=()
for i in 1 2 3; do S+=("$(free_port)"); start_sentinel "${S[-1]}" "$M"; done
echo "== sentinels :${S[0]} :${S[1]} :${S[2]} (quorum 2, down-after 1000 ms)"
for s in "${S[@]}"; do wait_for 100 50 redis-cli -p "$s" ping; done
wait_for 200 50 sh -c "redis-cli -p ${S[0]} sentinel sentinels demo | grep -c '^name$' | grep -q 2"

cat >"$SANDBOX/marshal.conf" <<CONF
segment = { path = "$SEG"; mode = "0640"; };
sentinels = { addresses = [ "127.0.0.1:${S[0]}" ]; poll_ms = 500; };
health = { interval_ms = 100; timeout_ms = 250; down_after = 3; up_after = 2; };
groups = ( { name = "demo"; sentinel = true; route = "split"; } );
CONF
echo "== marshal-controller (configured with one sentinel; the rest is discovered)"
"$CTL" -c "$SANDBOX/marshal.conf" 2> >(sed -u 's/^/   controller| /' >&2) &
PIDS+=($!)
wait_for 150 100 seg_is '.groups[0].master != null and
    ([.groups[0].servers[] | select(.flags | index("readable"))] | length) == 2'

echo
echo "== marshal-shmdump $SEG"
"$DUMP" "$SEG"
echo
echo "== an application (examples/marshal_example.c over libmarshal-shm): SET/GET every 200 ms"
APPLOG=$SANDBOX/app.log
"$EXAMPLE" -g demo -t 30 -i 200 "$SEG" > >(tee "$APPLOG" | sed -u 's/^/   app| /') 2>&1 &
APP=$!
PIDS+=($APP)
wait_for 100 50 grep -q 'SET marshal-example' "$APPLOG"
echo "== marshal-shmdump --watch (every change as it is published); now: kill -9 the master"
"$DUMP" --watch --timeout 30000 "$SEG" > >(sed -u 's/^/   watch| /') &
WATCH=$!
PIDS+=($WATCH)
wait_for 20 50 kill -0 "$WATCH"
T0=$(date +%s%N)
{ kill -9 "$MASTER_PID" && wait "$MASTER_PID"; } 2>/dev/null || true
echo "   (the sentinels need down-after 1000 ms and an election before they fail over)"
if ! wait_for 300 50 seg_is ".groups[0].master != null and .groups[0].master.port != $M"; then
    echo "!! no new master published within 15 s" >&2
    exit 1
fi
T1=$(date +%s%N)
NEW=$(json | jq -r '.groups[0].master.port')
# the application's writes land on the new master without a restart
if ! wait_for 200 50 grep -q "SET marshal-example.* from 127.0.0.1:$NEW" "$APPLOG"; then
    echo "!! the application did not write to the new master :$NEW" >&2
    exit 1
fi
sleep 1
kill "$WATCH" "$APP" 2>/dev/null || true
echo
echo "== marshal-shmdump $SEG (after the failover)"
"$DUMP" "$SEG"
echo
echo "== demo complete: kill -9 of :$M -> new master 127.0.0.1:$NEW published after" \
    "$(( (T1 - T0) / 1000000 )) ms"
