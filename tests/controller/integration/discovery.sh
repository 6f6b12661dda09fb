#!/usr/bin/env bash
# discovery.sh -- the controller, configured with ONE of three sentinels,
# publishes the sentinel group's master and both replicas (readable) and
# discovers the other two sentinels; a static group (master + replica, no
# sentinels) in the same config is published with its master and a readable
# replica.
#
#   discovery.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

ctl_sentinel_setup
pick_port; SM=$IT_PORT
pick_port; SR=$IT_PORT
rstart "$SM"
rstart "$SR" "$SM"
await 30 "static replica online" eval '[[ $(n_online '"$SM"') == 1 ]]'

ctl_conf "\"127.0.0.1:$S1\"" <<EOF
groups = (
  { name = "g1"; sentinel = true; route = "split"; },
  { name = "st"; master = "127.0.0.1:$SM"; replicas = ( "127.0.0.1:$SR" ); route = "split"; }
);
EOF
ctl_start

G=$(grp g1)
S=$(grp st)
await 30 "g1: master :$MP, replicas :$R1 :$R2 readable" seg_is "
    $G.master.port == $MP and
    ([$G.servers[] | select(.flags | index(\"readable\")) | .port] | sort) == ([$R1, $R2] | sort)"
await 30 "st: master :$SM, replica :$SR readable" seg_is "
    $S.master.port == $SM and
    ([$S.servers[] | select(.flags | index(\"readable\")) | .port]) == [$SR]"

J=$(sj)
# the sentinel group: flagged sentinel, 3 servers, roles and health right,
# replicas marked discovered (they are not in the configuration)
jq -e "$G | (.flags | index(\"sentinel\")) and (.servers | length) == 3 and
       ([.servers[] | select(.health == \"up\")] | length) == 3 and
       ([.servers[] | select(.role == \"replica\") | .port] | sort) == ([$R1, $R2] | sort) and
       ([.servers[] | select(.role == \"master\") | .port]) == [$MP] and
       ([.servers[] | select(.port != $MP) | .flags | index(\"discovered\")] | all) and
       (.flags | index(\"no_master\") | not) and (.flags | index(\"degraded\") | not)" \
    >/dev/null <<<"$J" || fail "g1 not as expected: $(jq -c "$G" <<<"$J")"
# the static group: no sentinel flag, configured servers (not discovered)
jq -e "$S | (.flags | index(\"sentinel\") | not) and (.servers | length) == 2 and
       ([.servers[] | select(.health == \"up\")] | length) == 2 and
       ([.servers[] | .flags | index(\"discovered\") | not] | all)" \
    >/dev/null <<<"$J" || fail "st not as expected: $(jq -c "$S" <<<"$J")"
jq -e '.liveness == "live" and (.segment.flags | index("warming_up") | not) and .segment.valid' \
    >/dev/null <<<"$J" || fail "segment not live/valid: $(jq -c .segment <<<"$J")"

# the other two sentinels were discovered through the configured one
for s in "$S2" "$S3"; do
    await 20 "log: sentinel :$s discovered" \
        grep -qE "sentinel 127\.0\.0\.1:$s \(#[0-9]+\): discovered through sentinel 127\.0\.0\.1:$S1" "$CTL_LOG"
done
await 20 "all 3 sentinels reachable" eval \
    '[[ $(grep -cE "sentinel 127\.0\.0\.1:('"$S1|$S2|$S3"') \(#[0-9]+\): reachable" "$CTL_LOG") -ge 3 ]]'

# steady state: nothing flaps for a while (2 s of samples)
HEAD=$(ev_head)
for ((i = 0; i < 20; i++)); do
    J=$(sj)
    jq -e "$G.master.port == $MP and $S.master.port == $SM and
           ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2 and
           ([$S.servers[] | select(.flags | index(\"readable\"))] | length) == 1" >/dev/null <<<"$J" ||
        fail "topology changed in steady state: $(jq -c '.groups' <<<"$J")"
    sleep 0.1
done
[[ $(ev_head) == "$HEAD" ]] || fail "events in steady state:"$'\n'"$(ev_list $((HEAD - 1)))"
ctl_alive || fail "controller died"
it_log "g1: master :$MP, readable :$R1 :$R2; st: master :$SM, readable :$SR; sentinels :$S2 :$S3 discovered"
it_log "events since start:"$'\n'"$(ev_list 0)"
ctl_finish
