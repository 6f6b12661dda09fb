#!/usr/bin/env bash
# replicas.sh -- replica failures in a sentinel group:
#   kill -9 one replica   -> slave_down (once), it leaves the readable set;
#   restart it            -> slave_up (once), readable again;
#   kill both replicas    -> all_slaves_down;  restart both -> all_slaves_up.
# The master never changes, and there is no master event.
#
#   replicas.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "split"; } );
EOF
ctl_start
G=$(grp g1)
both_readable() {
    seg_is "$G.master.port == $MP and
        ([$G.servers[] | select(.flags | index(\"readable\")) | .port] | sort) == ([$R1, $R2] | sort)"
}
await 30 "g1: master :$MP, both replicas readable" both_readable
BASE=$(($(ev_head) - 1))

# settle: no event has been pending
settle() { # SECONDS: the event head stays put for SECONDS
    local h end
    h=$(ev_head)
    end=$(($(now_ms) + $1 * 1000))
    while (($(now_ms) < end)); do
        sleep 0.2
        [[ $(ev_head) == "$h" ]] || { h=$(ev_head); end=$(($(now_ms) + $1 * 1000)); }
    done
}

# ---- one replica ---------------------------------------------------------------------
rkill "$R1"
it_log "kill -9 replica :$R1"
await 20 "slave_down for :$R1" eval '[[ $(ev_count slave_down g1 '"$BASE"') -ge 1 ]]'
await 20 ":$R1 down and not readable; :$R2 still readable" seg_is "
    ($G.servers[] | select(.port == $R1) | .health == \"down\" and (.flags | index(\"readable\") | not)) and
    ([$G.servers[] | select(.flags | index(\"readable\")) | .port]) == [$R2]"
settle 2
expect_events "$BASE" g1 slave_down=1 slave_up=0 all_slaves_down=0 master_down=0 master_switch=0
seg_is "(.events[] | select(.seq > $BASE and .type == \"slave_down\")) | .server == \"127.0.0.1:$R1\"" ||
    fail "slave_down does not name :$R1: $(ev_list "$BASE")"

B2=$(($(ev_head) - 1))
rstart "$R1" "$MP"
it_log "restarted replica :$R1"
await 30 "slave_up for :$R1, readable again" eval '[[ $(ev_count slave_up g1 '"$B2"') -ge 1 ]] && both_readable'
settle 2
expect_events "$B2" g1 slave_up=1 slave_down=0 all_slaves_up=0 all_slaves_down=0 master_down=0
seg_is "(.events[] | select(.seq > $B2 and .type == \"slave_up\")) | .server == \"127.0.0.1:$R1\"" ||
    fail "slave_up does not name :$R1: $(ev_list "$B2")"

# ---- both replicas --------------------------------------------------------------------
B3=$(($(ev_head) - 1))
rkill "$R1"
rkill "$R2"
it_log "kill -9 both replicas :$R1 :$R2"
await 20 "all_slaves_down" eval '[[ $(ev_count all_slaves_down g1 '"$B3"') -ge 1 ]]'
await 20 "no readable replica, group flagged all_slaves_down" seg_is "
    ($G.flags | index(\"all_slaves_down\")) and
    ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 0 and $G.master.port == $MP"
settle 2
expect_events "$B3" g1 all_slaves_down=1 all_slaves_up=0 slave_down=2 master_down=0

B4=$(($(ev_head) - 1))
rstart "$R1" "$MP"
rstart "$R2" "$MP"
it_log "restarted both replicas"
await 30 "all_slaves_up, both readable" eval '[[ $(ev_count all_slaves_up g1 '"$B4"') -ge 1 ]] && both_readable'
settle 2
expect_events "$B4" g1 all_slaves_up=1 all_slaves_down=0 slave_up=2 slave_down=0 master_down=0
seg_is "$G.flags | index(\"all_slaves_down\") | not" || fail "all_slaves_down flag still set"

expect_events "$BASE" g1 master_down=0 master_up=0 master_switch=0 no_master=0
[[ $(master_port g1) == "$MP" ]] || fail "master moved"
ctl_alive || fail "controller died"
it_log "events:"$'\n'"$(ev_list "$BASE")"
ctl_finish
