#!/usr/bin/env bash
# notify.sh -- the notification program: a bash script (absolute path, run
# without a shell by the controller, with its configured args first) appends
# its argv to a file.  The controller's start reports the first-time ups
# (slaveUp, masterUp, readsAvailable); killing the only replica gives
#   --from marshal slaveDown <group> <host:port> - <epoch>
# and allSlavesDown and "readsUnavailable <group> - down <epoch>" (the
# reason where other events name the old server); restarting it slaveUp,
# allSlavesUp and readsAvailable; nothing else is reported (issue 17).
#
#   notify.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

pick_port; SM=$IT_PORT
pick_port; SR=$IT_PORT
rstart "$SM"
rstart "$SR" "$SM"
await 30 "replica online" eval '[[ $(n_online '"$SM"') == 1 ]]'

OUT=$IT_DIR/notified.txt
PROG=$IT_DIR/notify-prog
cat >"$PROG" <<EOF
#!/bin/bash
# one line per call: the arguments, separated by single spaces
printf '%s\n' "\$*" >>"$OUT"
EOF
chmod 700 "$PROG"
: >"$OUT"

CTL_CONF_EXTRA="notify = { program = \"$PROG\"; args = [ \"--from\", \"marshal\" ]; timeout_ms = 5000; };"
ctl_conf "" <<EOF
groups = ( { name = "st"; master = "127.0.0.1:$SM"; replicas = ( "127.0.0.1:$SR" ); route = "split"; } );
EOF
ctl_start
S=$(grp st)
await 30 "st published, replica readable" seg_is "
    $S.master.port == $SM and ([$S.servers[] | select(.flags | index(\"readable\")) | .port]) == [$SR]"

rkill "$SR"
it_log "kill -9 replica :$SR"
await 20 "notify: slaveDown st 127.0.0.1:$SR" \
    grep -qE "^--from marshal slaveDown st 127\.0\.0\.1:$SR - [0-9]+$" "$OUT"
await 20 "notify: readsUnavailable st - down" \
    grep -qE "^--from marshal readsUnavailable st - down [0-9]+$" "$OUT"
rstart "$SR" "$SM"
it_log "restarted replica :$SR"
n_up() { grep -cE "^--from marshal slaveUp st 127\.0\.0\.1:$SR - [0-9]+$" "$OUT" || true; }
await 30 "notify: slaveUp st 127.0.0.1:$SR (first time, and back)" eval '[[ $(n_up) == 2 ]]'
await 30 "replica readable again" seg_is "
    [$S.servers[] | select(.flags | index(\"readable\")) | .port] == [$SR]"
# the segment's events and the notifications tell the same story
await 10 "segment: slave_down once, slave_up twice" eval \
    '[[ $(ev_count slave_down st) == 1 && $(ev_count slave_up st) == 2 ]]'
await 10 "all notifications written" eval \
    '[[ $(wc -l <"'"$OUT"'") -ge $(seg_q "[.events[] | select(.type != \"writer_adopt\")] | length") ]]'
# the programs run concurrently: compare as a sorted list, epochs as N
GOT=$(sed -E 's/ [0-9]+$/ N/' "$OUT" | sort)
WANT=$(sort <<EOF
--from marshal slaveUp st 127.0.0.1:$SR - N
--from marshal masterUp st 127.0.0.1:$SM - N
--from marshal readsAvailable st - - N
--from marshal slaveDown st 127.0.0.1:$SR - N
--from marshal allSlavesDown st - - N
--from marshal readsUnavailable st - down N
--from marshal slaveUp st 127.0.0.1:$SR - N
--from marshal allSlavesUp st - - N
--from marshal readsAvailable st - - N
EOF
)
[[ $GOT == "$WANT" ]] || fail "notifications:"$'\n'"$GOT"$'\n'"want:"$'\n'"$WANT"
grep -q 'notification program' "$CTL_LOG" && fail "the controller complained about the program: $(grep 'notification program' "$CTL_LOG")"
ctl_alive || fail "controller died"
it_log "notifications:"$'\n'"$(cat "$OUT")"
ctl_finish
