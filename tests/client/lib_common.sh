# lib_common.sh -- helpers for the libmarshal-shm integration tests (bash, sourced).
# shellcheck shell=bash
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
#   lib_init "$@"           # $1 = marshal-controller, $2 = marshal-shmdump, $3 = mc_probe
#
# Builds on tests/controller/integration/ctl_lib.sh (real redis-server,
# redis-sentinel and marshal-controller processes, a segment in the test's
# temp dir, bounded polling with await / wait_for, cleanup by trap) and adds
# mc_probe runs: the library seen from an application.  mc_probe prints one
# line per result (format in tests/client/mc_probe.c); a background probe's
# stdout goes to $IT_DIR/NAME.log (shown on failure), its stderr to
# $IT_DIR/NAME.err.log (sanitizer reports fail the test).

LIB_COMMON_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/controller/integration/ctl_lib.sh
. "$LIB_COMMON_DIR/../controller/integration/ctl_lib.sh"

# shellcheck disable=SC2034  # used by the tests
A=127.0.0.1                  # every server listens here

# lib_init CONTROLLER SHMDUMP MC_PROBE
lib_init() {
    (($# >= 3)) || { echo "usage: $0 MARSHAL_CONTROLLER MARSHAL_SHMDUMP MC_PROBE" >&2; exit 2; }
    PROBE=$3
    ctl_init "$1" "$2"
    [[ -x $PROBE ]] || fail "not executable: $PROBE"
}

# probe ARGS...: mc_probe in the foreground (bounded), stdout to stdout.
probe() {
    timeout 60 "$PROBE" "$@"
}

# probe_bg NAME ARGS...: mc_probe in the background; stdout in $IT_DIR/NAME.log.
probe_bg() {
    local name=$1
    shift
    "$PROBE" "$@" >"$IT_DIR/$name.log" 2>"$IT_DIR/$name.err.log" &
    IT_LAST_PID=$!
    IT_PIDS+=("$IT_LAST_PID")
}

# probe_ready NAME: wait until background probe NAME has its client and target open.
probe_ready() {
    await 20 "probe $1 ready" grep -q '^ready ' "$IT_DIR/$1.log"
}

# probe_stop PID NAME: SIGTERM a background probe; it must exit 0 after
# printing its "done" line (no crash, no sanitizer report).
probe_stop() {
    local rc=0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" || rc=$?
    ((rc == 0)) || fail "probe $2 exited with status $rc"
    grep -q '^done ' "$IT_DIR/$2.log" || fail "probe $2 did not finish its output"
    ! grep -qE 'Sanitizer|runtime error:' "$IT_DIR/$2.err.log" || fail "sanitizer report from probe $2"
}

# probe_state: the client state a fresh mc_probe process sees ("live", "stale", ...).
probe_state() {
    probe "$SEG" - state 2>/dev/null | awk '$1 == "state" { print $NF }'
}
probe_state_is() { [[ $(probe_state) == "$1" ]]; }

# pcount FILE AWK-CONDITION: lines of FILE satisfying the condition.
pcount() {
    awk "($2) { n++ } END { print n + 0 }" "$1"
}

# pcount_ge FILE AWK-CONDITION N: at least N such lines.
pcount_ge() {
    (($(pcount "$1" "$2") >= $3))
}

# plast_t FILE: time field of the last result line (w / r) of a probe log, 0 if none.
plast_t() {
    awk '($1 == "w" || $1 == "r") && NF >= 8 { t = $3 } END { print (t == "" ? 0 : t) }' "$1"
}

# summary_field FILE KIND KEY: KEY=value from the probe's "summary KIND" line.
summary_field() {
    awk -v k="$2" -v key="$3" '$1 == "summary" && $2 == k {
        for (i = 3; i <= NF; i++) if (index($i, key "=") == 1) { print substr($i, length(key) + 2); exit } }' "$1"
}

# summary_server FILE KIND HOST:PORT: commands of KIND the probe counts on that server.
summary_server() {
    local v
    v=$(awk -v k="$2" -v s="$3" '$1 == "summary" && $2 == k {
        for (i = 3; i <= NF; i++) if (index($i, s "=") == 1) { print substr($i, length(s) + 2); exit } }' "$1")
    echo "${v:-0}"
}

# cmdstat PORT CMD: calls of CMD the redis-server on PORT executed (0 if none).
# Rejected commands are not calls (Redis 7 counts them as rejected_calls).
cmdstat() {
    local v
    v=$(rcli "$1" INFO commandstats | tr -d '\r' |
        sed -n "s/^cmdstat_$2:calls=\([0-9]*\),.*/\1/p")
    echo "${v:-0}"
}

# role_cmdstat PORT CMD: "ROLE CALLS" from one INFO call (replication +
# commandstats sections), so the two belong together.
role_cmdstat() {
    rcli "$1" INFO replication commandstats | tr -d '\r' | awk -v c="cmdstat_$2:" '
        /^role:/ { role = substr($0, 6) }
        index($0, c) == 1 { split(substr($0, length(c) + 1), f, ","); sub("calls=", "", f[1]); calls = f[1] }
        END { print (role == "" ? "?" : role), calls + 0 }'
}

# rstart_n N: N standalone redis-servers on free ports; their ports in P[0..N-1].
rstart_n() {
    local i
    P=()
    for ((i = 0; i < $1; i++)); do
        pick_port
        P+=("$IT_PORT")
        rstart "$IT_PORT"
    done
}

# lib_static_setup: master MP and replicas R1 R2 (replicaof MP), both online;
# no sentinels (the controller's static group).
lib_static_setup() {
    pick_port; MP=$IT_PORT
    pick_port; R1=$IT_PORT
    pick_port; R2=$IT_PORT
    it_log "static group: master :$MP replicas :$R1 :$R2"
    rstart "$MP"
    rstart "$R1" "$MP"
    rstart "$R2" "$MP"
    # shellcheck disable=SC2016
    await 30 "2 replicas online at :$MP" eval '[[ $(n_online '"$MP"') == 2 ]]'
}

# readable_is GROUP PORTS...: exactly these ports are readable in the segment.
readable_is() {
    local g=$1
    shift
    [[ $(readable_ports "$g") == "$(printf '%s\n' "$@" | sort | paste -sd ' ')" ]]
}

# ev_settle SECONDS: wait until the event head stayed put for SECONDS (bounded: 60 s).
ev_settle() {
    local h end limit
    h=$(ev_head)
    end=$(($(now_ms) + $1 * 1000))
    limit=$(($(now_ms) + 60000))
    while (($(now_ms) < end)); do
        sleep 0.2
        (($(now_ms) < limit)) || fail "events kept coming for 60 s: $(ev_list $((h - 20)))"
        if [[ $(ev_head) != "$h" ]]; then
            h=$(ev_head)
            end=$(($(now_ms) + $1 * 1000))
        fi
    done
}

# keys_exist PORT KEY...: how many of the keys exist on PORT (batched EXISTS).
keys_exist() {
    local port=$1 n=0 k
    shift
    local -a batch=()
    for k in "$@"; do
        batch+=("$k")
        if ((${#batch[@]} == 500)); then
            n=$((n + $(rcli "$port" EXISTS "${batch[@]}")))
            batch=()
        fi
    done
    if ((${#batch[@]} > 0)); then
        n=$((n + $(rcli "$port" EXISTS "${batch[@]}")))
    fi
    echo "$n"
}
