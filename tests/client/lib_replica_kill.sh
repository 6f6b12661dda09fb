#!/usr/bin/env bash
# lib_replica_kill.sh -- kill -9 a replica under a running read loop (split).
#
# A read loop (GET every ~1 ms, every result printed) runs through the
# library while one replica is killed:
#   * every read succeeds (reads that hit the dead replica are retried
#     elsewhere: a GET has no side effect);
#   * once the probe observed the replica leave the readable set (its
#     slaveDown event or its view of the segment), no read goes to it;
#   * the port restarted as a standalone master (not a replica, flagged
#     stale_master by the controller) executes no GET while reads go on.
#
#   lib_replica_kill.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MC_PROBE

# awk and jq programs are single-quoted on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"

lib_static_setup
ctl_conf "" <<EOF
groups = ( { name = "g1"; master = "127.0.0.1:$MP"; replicas = ( "127.0.0.1:$R1", "127.0.0.1:$R2" );
             route = "split"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP, both replicas readable" seg_is "
    $G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\")) | .port] | sort) == ([$R1, $R2] | sort)"

F=$IT_DIR/reads.log
probe_bg reads "$SEG" g1 read-loop --count 100000000 --interval-us 1000 --keys 100 --each --max-seconds 170
RPID=$IT_LAST_PID
probe_ready reads
reads_on() { # PORT N: at least N successful reads on PORT
    pcount_ge "$F" "\$1 == \"r\" && \$5 == \"OK\" && \$7 == \"$A:$1\"" "$2"
}
await 20 "200 reads on each replica" eval "reads_on $R1 200 && reads_on $R2 200"

T_KILL=$(now_ms)
rkill "$R1"
it_log "kill -9 replica :$R1"
await 20 "segment: :$R1 down and not readable" seg_is "
    ($G.servers[] | select(.port == $R1) | .health == \"down\" and (.flags | index(\"readable\") | not)) and
    ([$G.servers[] | select(.flags | index(\"readable\")) | .port]) == [$R2]"
observed() { # the probe printed that :R1 left: slaveDown or readable=1/2
    pcount_ge "$F" "(\$1 == \"event\" && \$2 == \"slaveDown\" && \$4 == \"$A:$R1\") ||
                    (\$1 == \"info\" && index(\$0, \" readable=1/2 \"))" 1
}
await 20 "the probe observed :$R1 leave the readable set" observed
OBS_LINE=$(awk -v r1="$A:$R1" '($1 == "event" && $2 == "slaveDown" && $4 == r1) ||
    ($1 == "info" && index($0, " readable=1/2 ")) { print NR; exit }' "$F")
reads_after() { # LINE N: at least N reads after line LINE
    (($(awk -v l="$1" 'NR > l && $1 == "r" { n++ } END { print n + 0 }' "$F") >= $2))
}
await 20 "1000 reads after that" reads_after "$OBS_LINE" 1000

# ---- the port back as a standalone master ------------------------------------------------
T_RESTART=$(now_ms)
rstart "$R1"
it_log "restarted :$R1 as a standalone master"
await 20 "segment: :$R1 up, role master, not readable" seg_is "
    $G.servers[] | select(.port == $R1) | .health == \"up\" and .role == \"master\" and (.flags | index(\"readable\") | not)"
reads_until() { (($(plast_t "$F") >= $1)); }
await 30 "2 s of reads after the restart" reads_until $((T_RESTART + 2000))
read -r ROLE CALLS < <(role_cmdstat "$R1" get)
[[ $ROLE == master ]] || fail ":$R1 is no longer a standalone master ($ROLE): scenario not exercised"
((CALLS == 0)) || fail "the restarted :$R1 (not a replica) executed $CALLS GET(s)"
probe_stop "$RPID" reads

# ---- the probe's record --------------------------------------------------------------------
awk -v r1="$A:$R1" -v obs="$OBS_LINE" -v tkill="$T_KILL" '
    function bad(msg) { print "line " NR ": " msg ": " $0; nbad++ }
    $1 != "r" { next }
    { n++ }
    $5 != "OK" || $6 != "applied" || $8 ~ /^err:/ { bad("read failed") }
    NR > obs && $7 == r1 { bad("read routed to the removed replica") }
    $3 < tkill && $7 == r1 { before++ }
    $3 >= tkill && NR < obs { window++ }
    END {
        printf "reads=%d on_r1_before_kill=%d between_kill_and_observation=%d\n", n, before, window
        if (before == 0) { print "no read on :r1 before the kill"; nbad++ }
        exit nbad > 0
    }' "$F" >"$IT_DIR/check.txt" || fail "read record:"$'\n'"$(head -n 40 "$IT_DIR/check.txt")"
[[ $(summary_field "$F" r fail) == 0 ]] || fail "failed reads: $(grep '^summary' "$F")"
it_log "$(tail -n 1 "$IT_DIR/check.txt")"

ctl_alive || fail "controller died"
ctl_finish
