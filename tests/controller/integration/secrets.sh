#!/usr/bin/env bash
# secrets.sh -- credentials (D2, D5): redis-servers with requirepass (and
# masterauth), sentinels with requirepass and `sentinel auth-pass`; the
# controller gets both passwords from a secrets file (chmod 600) and works:
# the sentinel group and a static group are published with their masters and
# readable replicas.  A secrets file readable by group/other is refused.
# Neither password appears in the segment file (grep -a), in
# marshal-shmdump --json, in the controller's log (level debug) or argv.
#
#   secrets.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
CTL_SRV_PASS="srv-Pw-$RANDOM$RANDOM-k7Zq"
CTL_SENT_PASS="snt-Pw-$RANDOM$RANDOM-J3xv"
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

ctl_sentinel_setup
pick_port; SM=$IT_PORT
pick_port; SR=$IT_PORT
rstart "$SM"
rstart "$SR" "$SM"
await 30 "static replica online" eval '[[ $(n_online '"$SM"') == 1 ]]'
# the servers really want a password
[[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$MP" PING 2>&1) == *NOAUTH* ]] || fail "master :$MP accepts PING without AUTH"
[[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$S1" SENTINEL MASTERS 2>&1) == *NOAUTH* ]] ||
    fail "sentinel :$S1 answers without AUTH"

SECRETS=$IT_DIR/secrets.conf
cat >"$SECRETS" <<EOF
sentinels = { password = "$CTL_SENT_PASS"; };
servers = { password = "$CTL_SRV_PASS"; };
EOF
chmod 600 "$SECRETS"
CTL_LOG_LEVEL=debug
CTL_CONF_EXTRA="secrets_file = \"$SECRETS\";"
ctl_conf "\"127.0.0.1:$S1\"" <<EOF
groups = (
  { name = "g1"; sentinel = true; route = "split"; },
  { name = "st"; master = "127.0.0.1:$SM"; replicas = ( "127.0.0.1:$SR" ); route = "split"; }
);
EOF
grep -q -e "$CTL_SRV_PASS" -e "$CTL_SENT_PASS" "$CONF" && fail "test bug: password in the main config"

# group/other-readable secrets: refused with exit status 2, naming the file
chmod 640 "$SECRETS"
run_expect 2 "$SECRETS" "$CTL" -c "$CONF" --check-config
grep -q -e "$CTL_SRV_PASS" -e "$CTL_SENT_PASS" <<<"$IT_OUT" && fail "password in the refusal message"
it_log "mode 0640 secrets refused: $IT_OUT"
chmod 600 "$SECRETS"
run_expect 0 "OK" "$CTL" -c "$CONF" --check-config
grep -q -e "$CTL_SRV_PASS" -e "$CTL_SENT_PASS" <<<"$IT_OUT" && fail "password in --check-config output"

ctl_start
G=$(grp g1)
S=$(grp st)
await 30 "g1: master :$MP, 2 readable replicas (authenticated)" seg_is "
    $G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"
await 30 "st: master :$SM, replica readable (authenticated)" seg_is "
    $S.master.port == $SM and ([$S.servers[] | select(.flags | index(\"readable\")) | .port]) == [$SR]"
for s in "$S2" "$S3"; do
    await 20 "sentinel :$s discovered and reachable (AUTH)" \
        grep -qE "sentinel 127\.0\.0\.1:$s \(#[0-9]+\): reachable" "$CTL_LOG"
done
grep -qiE 'NOAUTH|WRONGPASS|invalid password' "$CTL_LOG" && fail "authentication errors in the log"

# a replica down and up, so the log has had a reason to talk about servers
rkill "$R2"
await 20 "slave_down :$R2" eval '[[ $(ev_count slave_down g1) -ge 1 ]]'
rstart "$R2" "$MP"
await 30 "slave_up :$R2" eval '[[ $(ev_count slave_up g1) -ge 1 ]]'

# no password anywhere a reader or an operator can see
for pw in "$CTL_SRV_PASS" "$CTL_SENT_PASS"; do
    ! grep -a -q -F -- "$pw" "$SEG" || fail "password bytes in the segment file"
    ! sj | grep -q -F -- "$pw" || fail "password in marshal-shmdump --json"
    ! "$SHMDUMP" "$SEG" | grep -q -F -- "$pw" || fail "password in marshal-shmdump's table"
    ! grep -a -q -F -- "$pw" "$CTL_LOG" || fail "password in the controller log"
    ! tr '\0' ' ' </proc/"$CTL_PID"/cmdline | grep -q -F -- "$pw" || fail "password on the controller's argv"
    ! tr '\0' '\n' </proc/"$CTL_PID"/environ | grep -q -F -- "$pw" || fail "password in the controller's environment"
done
# ...and a shorter prefix neither (a truncated copy would still leak)
for pw in "${CTL_SRV_PASS:0:10}" "${CTL_SENT_PASS:0:10}"; do
    ! grep -a -q -F -- "$pw" "$SEG" || fail "password prefix in the segment file"
    ! grep -a -q -F -- "$pw" "$CTL_LOG" || fail "password prefix in the controller log"
done
ctl_alive || fail "controller died"
it_log "authenticated to 3 sentinels and 5 servers; no password in segment ($(stat -c %s "$SEG") bytes), JSON, log ($(wc -l <"$CTL_LOG") lines at debug), argv"
ctl_finish
