#!/usr/bin/env bash
# health_demo.sh -- marshal-demo-writer's health mode against three real
# redis-servers (a master and two replicas), observed with marshal-shmdump.
#
#  1. master up, two readable replicas, warm-up over
#  2. kill -9 a replica: its health goes down, +sdown slave (SLAVE_DOWN)
#  3. restart it: SLAVE_UP, readable again
#  4. kill -9 the master: MASTER_DOWN, no master, the replicas lose their link
#     (READS_UNAVAILABLE, group flag no_reads; not ALL_SLAVES_DOWN: they are up)
#  5. SIGTERM the writer: clean exit, controller "stopped"
#
#   health_demo.sh MARSHAL_SHMDUMP MARSHAL_DEMO_WRITER
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"
need jq redis-server redis-cli

SEG=$IT_DIR/health.seg
pick_port; M=$IT_PORT
pick_port; R1=$IT_PORT
pick_port; R2=$IT_PORT
it_log "master $M, replicas $R1 $R2"

start_redis "$M"
start_redis "$R1" replicaof "$M"
start_redis "$R2" replicaof "$M"
link_up() {
    redis-cli -h 127.0.0.1 -p "$1" INFO replication | tr -d '\r' | grep -qx 'master_link_status:up'
}
wait_for 100 100 link_up "$R1" || fail "replica $R1 never synced"
wait_for 100 100 link_up "$R2" || fail "replica $R2 never synced"

start_bg writer "$DEMO" --path "$SEG" --group demo --interval-ms 100 --route split \
    --server "127.0.0.1:$M" --server "127.0.0.1:$R1" --server "127.0.0.1:$R2"
WRITER=$IT_LAST_PID

# jq helpers over the one group
G='.groups[0]'
srv() { echo "($G.servers[] | select(.port == $1))"; }
has_event() {   # TYPE PORT: an event of TYPE about 127.0.0.1:PORT
    echo "any(.events[]; .type == \"$1\" and .server == \"127.0.0.1:$2\")"
}
last_event_of() {  # PORT: type of the newest server event about it
    echo "([.events[] | select(.server == \"127.0.0.1:$1\" and (.type | test(\"slave|master\")))] | last | .type)"
}
must() {        # JQ-EXPR MESSAGE: wait (100 x 100 ms) until the JSON satisfies it
    wait_for 100 100 json_ok "$SEG" "$1" || {
        "$SHMDUMP" --events 50 "$SEG" >&2 || true
        fail "$2 (waited for: $1)"
    }
}

# ---- 1: steady state ---------------------------------------------------------
must "$G.name == \"demo\" and $G.master.port == $M and $G.route == \"split\"" \
    "master $M not published"
must "[$G.servers[] | select(.role == \"replica\" and .health == \"up\" and
       (.flags | index(\"readable\")))] | length == 2" "two readable replicas not published"
must '.segment.flags == [] and .liveness == "live"' "warm-up flag never cleared"
must "$(srv "$M").role == \"master\" and $(srv "$M").health == \"up\" and $(srv "$M").rtt_us > 0" \
    "master record incomplete"
must "$(has_event master_up "$M") and $(has_event slave_up "$R1") and $(has_event slave_up "$R2")" \
    "initial up events missing"
must "$G.counters.master_up == 1 and $G.master_epoch == 1 and ($G.flags | index(\"no_master\") | not)" \
    "group counters/flags wrong"
run_expect 0 '^OK .*1 groups, 3 servers' "$SHMDUMP" --check "$SEG"
run_expect 0 "demo  route split  master 127.0.0.1:$M" "$SHMDUMP" "$SEG"

# ---- 2: a replica dies ---------------------------------------------------------
it_log "kill -9 replica $R2"
kill9_redis "$R2"
must "$(srv "$R2").health == \"down\" and ($(srv "$R2").flags | index(\"readable\") | not)" \
    "replica $R2 not marked down"
must "$(has_event slave_down "$R2") and $(srv "$R2").n_down == 1" "no SLAVE_DOWN event for $R2"
must "$G.master.port == $M and $(srv "$R1").health == \"up\"" "the rest of the group changed"
run_expect 0 "\+sdown slave 127.0.0.1:$R2 @ demo" "$SHMDUMP" "$SEG"
grep -q "+sdown slave 127.0.0.1:$R2 @ demo" "$IT_DIR/writer.log" ||
    fail "the writer did not log +sdown slave"

# ---- 3: it comes back ------------------------------------------------------------
it_log "restart replica $R2"
start_redis "$R2" replicaof "$M"
must "$(last_event_of "$R2") == \"slave_up\" and $(srv "$R2").n_up == 2" \
    "no SLAVE_UP event after the restart of $R2"
must "$(srv "$R2").health == \"up\" and ($(srv "$R2").flags | index(\"readable\"))" \
    "replica $R2 not readable again"

# ---- 4: the master dies ---------------------------------------------------------------
it_log "kill -9 master $M"
kill9_redis "$M"
must "$(has_event master_down "$M") and $G.master == null and ($G.flags | index(\"no_master\"))" \
    "no MASTER_DOWN / no-master after killing the master"
must "$(srv "$M").health == \"down\" and $G.counters.master_down == 1" "master not marked down"
must "($G.flags | index(\"no_reads\")) and any(.events[]; .type == \"reads_unavailable\") and
      ([.events[] | select(.type | test(\"all_slaves\"))] | length) == 0" \
    "replicas without their master still readable"
must "[$G.servers[] | select(.flags | index(\"link_down\"))] | length == 2" \
    "replica links not reported down"
run_expect 0 "\+sdown master demo 127.0.0.1:$M" "$SHMDUMP" "$SEG"
run_expect 0 '^OK ' "$SHMDUMP" --check "$SEG"

# ---- 5: clean stop ------------------------------------------------------------------------
stop_pid "$WRITER" || fail "the writer did not exit 0 on SIGTERM"
json_ok "$SEG" '.liveness == "stopped"' || fail "liveness is not stopped after SIGTERM"
