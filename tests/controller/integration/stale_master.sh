#!/usr/bin/env bash
# stale_master.sh -- SIGSTOP the master past down-after until the sentinels
# have failed over, then SIGCONT it.  The old master answers ROLE = master for
# about 10 s (sentinel waits 4 x publish-period before +convert-to-slave), and
# old connections to it still work.  For ~12 s after SIGCONT, polling the
# JSON every ~50-100 ms: the published master is NEVER the old master, and the
# old master is flagged stale_master at least once while it claims master.
#
#   stale_master.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

ctl_sentinel_setup
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<EOF
groups = ( { name = "g1"; sentinel = true; route = "split"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published with master :$MP" seg_is "$G.master.port == $MP and
    ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
BASE=$(($(ev_head) - 1))
EPOCH0=$(sentinels_epoch)

T0=$(now_ms)
rsig STOP "$MP"
it_log "SIGSTOP master :$MP"
# while it hangs: published master is the old one (reported down) or none,
# never a third node the sentinels have not agreed on; wait for the switch
NEW=
END=$((T0 + 60000))
while :; do
    M=$(master_port g1)
    if [[ $M != null && $M != "$MP" ]]; then
        NEW=$M
        break
    fi
    (($(now_ms) < END)) || { rsig CONT "$MP"; fail "no failover published within 60 s"; }
    sleep 0.05
done
it_log "segment: new master :$NEW after $(($(now_ms) - T0)) ms"
await 30 "all sentinels name :$NEW" sentinels_agree "$NEW"
[[ $NEW == "$R1" || $NEW == "$R2" ]] || fail "new master :$NEW is not a replica"

rsig CONT "$MP"
T1=$(now_ms)
it_log "SIGCONT old master :$MP"

# ~12 s of samples, about every 100 ms: the JSON and the old master's own ROLE
SAMPLES=0 CLAIMS=0 FLAGGED=0 FLAGGED_WHILE_CLAIMING=0 LAST_CLAIM=0
END=$((T1 + 12000))
while (($(now_ms) < END)); do
    ROLE=$(role_of "$MP")
    J=$(sj) || fail "segment unreadable"
    read -r M STALE < <(jq -r "$G | [(.master.port // \"null\"),
        ([.servers[] | select(.port == $MP) | .flags | index(\"stale_master\") != null] | any)] | @tsv" <<<"$J")
    [[ $M != "$MP" ]] || fail "stale master :$MP published as master $(($(now_ms) - T1)) ms after SIGCONT"
    SAMPLES=$((SAMPLES + 1))
    if [[ $ROLE == master ]]; then
        CLAIMS=$((CLAIMS + 1))
        LAST_CLAIM=$(($(now_ms) - T1))
        [[ $STALE == true ]] && FLAGGED_WHILE_CLAIMING=$((FLAGGED_WHILE_CLAIMING + 1))
    fi
    [[ $STALE == true ]] && FLAGGED=$((FLAGGED + 1))
    sleep 0.02
done
it_log "$SAMPLES samples: old master claimed master in $CLAIMS (last at +$LAST_CLAIM ms)," \
    "flagged stale_master in $FLAGGED ($FLAGGED_WHILE_CLAIMING while claiming); never published"
((CLAIMS > 0)) || fail "the old master never answered ROLE=master after SIGCONT: scenario not exercised"
((FLAGGED_WHILE_CLAIMING > 0)) || fail "old master claimed master in $CLAIMS samples but was never flagged stale_master"

# the end state: the old master demoted by sentinel, a readable replica of
# the master the sentinels settled on
await_stable_master 40 "$MP"
FINAL=$STABLE_PORT
await 30 "old master :$MP demoted (ROLE slave)" eval '[[ $(role_of '"$MP"') == slave ]]'
await 30 "old master a readable replica, no stale flag" seg_is "
    $G.master.port == $FINAL and
    ($G.servers[] | select(.port == $MP) | (.flags | index(\"readable\")) and (.flags | index(\"stale_master\") | not))"
check_switches "$BASE" $((STABLE_EPOCH - EPOCH0)) "$MP" "$FINAL"
ctl_alive || fail "controller died"
it_log "events:"$'\n'"$(ev_list "$BASE")"
ctl_finish
