#!/usr/bin/env bash
# sentinel_loss.sh -- losing sentinels:
#   kill -9 one of three -> no topology flap: no events, same master, not
#                           degraded, for several seconds of samples;
#   kill -9 a second     -> group degraded (flag + group_degraded event),
#                           master kept (default on_degraded = keep-master);
#   restart both         -> group_recovered, flag cleared, master unchanged.
#
#   sentinel_loss.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "split"; } );
EOF
ctl_start
G=$(grp g1)
STEADY="$G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
await 30 "g1 published: master :$MP, 2 readable" seg_is "$STEADY"
await 20 "3 sentinels reachable" eval \
    '[[ $(grep -cE "sentinel 127\.0\.0\.1:[0-9]+ \(#[0-9]+\): reachable" "$CTL_LOG") -ge 3 ]]'
BASE=$(($(ev_head) - 1))

# ---- one sentinel down: nothing moves ---------------------------------------------
skill "$S3"
CTL_SENT_DOWN[$S3]=1
it_log "kill -9 sentinel :$S3"
await 20 "controller noticed :$S3 unreachable" \
    grep -qE "sentinel 127\.0\.0\.1:$S3 \(#[0-9]+\): (unreachable|.*down)" "$CTL_LOG"
END=$(($(now_ms) + 4000))
N=0
while (($(now_ms) < END)); do
    J=$(sj)
    jq -e "$STEADY and ($G.flags | index(\"degraded\") | not) and ($G.flags | index(\"no_master\") | not)" \
        >/dev/null <<<"$J" || fail "flap with one sentinel down: $(jq -c "$G" <<<"$J")"
    N=$((N + 1))
    sleep 0.05
done
[[ $(ev_head) == $((BASE + 1)) ]] || fail "events with one sentinel down:"$'\n'"$(ev_list "$BASE")"
it_log "one sentinel down: $N samples over 4 s, no change, no event"

# ---- two down: degraded, master kept -------------------------------------------------
skill "$S2"
CTL_SENT_DOWN[$S2]=1
it_log "kill -9 sentinel :$S2"
await 20 "group degraded" seg_is "$G.flags | index(\"degraded\")"
await 10 "group_degraded event" eval '[[ $(ev_count group_degraded g1 '"$BASE"') == 1 ]]'
seg_is "$G.master.port == $MP and ($G.flags | index(\"no_master\") | not) and
        ($G.flags | index(\"fail_writes_degraded\") | not) and $G.counters.degraded == 1" ||
    fail "degraded group lost its master or flags wrong: $(seg_q "$G | tojson")"
# stays so (the master is kept while degraded)
END=$(($(now_ms) + 2000))
while (($(now_ms) < END)); do
    seg_is "$G.master.port == $MP and ($G.flags | index(\"degraded\"))" ||
        fail "degraded group changed: $(seg_q "$G | tojson")"
    sleep 0.1
done

# ---- restart both: recovered ---------------------------------------------------------
B2=$(($(ev_head) - 1))
sstart "$S2"
sstart "$S3"
unset 'CTL_SENT_DOWN[$S2]' 'CTL_SENT_DOWN[$S3]'
it_log "restarted sentinels :$S2 :$S3"
await 40 "group_recovered" eval '[[ $(ev_count group_recovered g1 '"$B2"') == 1 ]]'
await 10 "degraded flag cleared" seg_is "($G.flags | index(\"degraded\") | not) and $STEADY"
expect_events "$BASE" g1 group_degraded=1 group_recovered=1 master_down=0 master_up=0 \
    master_switch=0 no_master=0 slave_down=0 all_slaves_down=0
ctl_alive || fail "controller died"
it_log "events:"$'\n'"$(ev_list "$BASE")"
ctl_finish
