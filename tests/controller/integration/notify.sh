#!/usr/bin/env bash
# notify.sh -- the notification program: a bash script (absolute path, run
# without a shell by the controller, with its configured args first) appends
# its argv to a file.  Killing a replica gives a line
#   --from marshal slaveDown <group> <host:port> - <epoch>
# and restarting it a slaveUp line; nothing else is reported.
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
rstart "$SR" "$SM"
it_log "restarted replica :$SR"
await 30 "notify: slaveUp st 127.0.0.1:$SR" \
    grep -qE "^--from marshal slaveUp st 127\.0\.0\.1:$SR - [0-9]+$" "$OUT"
# the segment's events and the notifications tell the same story
await 10 "segment: slave_down and slave_up" eval \
    '[[ $(ev_count slave_down st) == 1 && $(ev_count slave_up st) == 1 ]]'
await 10 "all notifications written" eval \
    '[[ $(wc -l <"'"$OUT"'") -ge $(seg_q "[.events[] | select(.type != \"writer_adopt\")] | length") ]]'
SD=$(grep -c ' slaveDown ' "$OUT" || true)
SU=$(grep -c ' slaveUp ' "$OUT" || true)
[[ $SD == 1 && $SU == 1 ]] || fail "expected one slaveDown and one slaveUp:"$'\n'"$(cat "$OUT")"
grep -vE ' (slaveDown|slaveUp|allSlavesDown|allSlavesUp) ' "$OUT" &&
    fail "unexpected notifications:"$'\n'"$(cat "$OUT")"
grep -q 'notification program' "$CTL_LOG" && fail "the controller complained about the program: $(grep 'notification program' "$CTL_LOG")"
ctl_alive || fail "controller died"
it_log "notifications:"$'\n'"$(cat "$OUT")"
ctl_finish
