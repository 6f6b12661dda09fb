#!/usr/bin/env bash
# sighup.sh -- configuration reload:
#   a config with a syntax error + SIGHUP -> the controller keeps running on
#   the old config: the log says the reload was refused (naming file:line),
#   the published topology and config_version are unchanged;
#   a valid change (group route split -> master) + SIGHUP -> the published
#   route changes, config_version goes up, nothing else moves.
#
#   sighup.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

pick_port; SM=$IT_PORT
pick_port; SR=$IT_PORT
rstart "$SM"
rstart "$SR" "$SM"
await 30 "replica online" eval '[[ $(n_online '"$SM"') == 1 ]]'
write_conf() { # ROUTE
    ctl_conf "" <<EOF
groups = ( { name = "st"; master = "127.0.0.1:$SM"; replicas = ( "127.0.0.1:$SR" ); route = "$1"; } );
EOF
}
write_conf split
ctl_start
S=$(grp st)
await 30 "st published: route split, master :$SM, replica readable" seg_is "
    $S.route == \"split\" and $S.master.port == $SM and
    ([$S.servers[] | select(.flags | index(\"readable\")) | .port]) == [$SR]"

# what must not move (volatile rtt/lag/offset/ages left out)
PROJ='{cv: .segment.config_version, id: .segment.segment_id,
       groups: [.groups[] | {name, route, flags, master, power, max_lag_ms,
                servers: [.servers[] | {host, port, role, health, flags, power}]}]}'
snap() { sj | jq -cS "$PROJ"; }
BEFORE=$(snap)
CV=$(jq -r .cv <<<"$BEFORE")
BASE=$(($(ev_head) - 1))

# ---- broken config: refused ------------------------------------------------------------
cp "$CONF" "$IT_DIR/good.conf"
cat >"$CONF" <<EOF
groups = (
  { name = "st"; master = "127.0.0.1:$SM"; route = "master"; }
;
EOF
kill -HUP "$CTL_PID"
await 10 "log: reload refused" grep -q 'reload refused' "$CTL_LOG"
grep 'reload refused' "$CTL_LOG" | grep -qF "$CONF:3: syntax error" ||
    fail "refusal does not name $CONF:3 (syntax error): $(grep 'reload refused' "$CTL_LOG")"
# still alive and unchanged for a while
for ((i = 0; i < 10; i++)); do
    ctl_alive || fail "controller exited on a bad reload"
    [[ $(snap) == "$BEFORE" ]] || fail "segment changed after a refused reload:"$'\n'"$BEFORE"$'\n'"$(snap)"
    sleep 0.1
done
[[ $(ev_head) == $((BASE + 1)) ]] || fail "events after a refused reload: $(ev_list "$BASE")"
it_log "broken config refused: $(grep 'reload refused' "$CTL_LOG" | sed 's/.*reload refused/reload refused/')"

# ---- a semantic error is refused too (validated before use) ---------------------------
write_conf fastest
kill -HUP "$CTL_PID"
await 10 "log: second reload refused" eval '[[ $(grep -c "reload refused" "$CTL_LOG") -ge 2 ]]'
ctl_alive || fail "controller exited on an invalid reload"
[[ $(snap) == "$BEFORE" ]] || fail "segment changed after an invalid reload"

# ---- valid change: route split -> master -------------------------------------------------
write_conf master
kill -HUP "$CTL_PID"
await 10 "published route master" seg_is "$S.route == \"master\""
await 10 "log: reloaded" grep -q 'configuration reloaded' "$CTL_LOG"
AFTER=$(snap)
[[ $(jq -r .cv <<<"$AFTER") -gt $CV ]] || fail "config_version did not go up: $CV -> $(jq -r .cv <<<"$AFTER")"
# only the route (and config_version) changed
A=$(jq -cS 'del(.cv) | .groups[].route = "x"' <<<"$AFTER")
B=$(jq -cS 'del(.cv) | .groups[].route = "x"' <<<"$BEFORE")
[[ $A == "$B" ]] || fail "more than the route changed:"$'\n'"$BEFORE"$'\n'"$AFTER"
ctl_alive || fail "controller died"
it_log "route split -> master published; config_version $CV -> $(jq -r .cv <<<"$AFTER")"
it_log "events:"$'\n'"$(ev_list "$BASE")"
ctl_finish
