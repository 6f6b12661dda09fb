#!/usr/bin/env bash
# diverged.sh -- mirror divergence through the control socket <segment>.ctl:
#   static groups g1 g2 g3 (one redis-server each), marshal1 cluster "mir"
#   (primary g1; g1 g2 g3) and marshal0 cluster "stripe" (g2 g3);
#   the socket: mode 0660 (segment 0640), the segment's group;
#   "diverged mir g2" -> member flag in JSON and table, one mirror_diverged
#   event, "+mirror-diverged mir g2" in the log;
#   garbage (binary, NUL, too long, bad words, unknown / primary / marshal0
#   names, a repeat, a flood, "clear" from uid nobody) -> nothing changes,
#   the controller lives, refusals are logged at a bounded rate;
#   kill -9 + restart (adoption) -> still diverged, no new event;
#   --clear-diverged: errors (exit 2 config/usage, 1 bad names, 1 timeout
#   while the controller is stopped) and success (exit 0, flag gone);
#   SIGHUP: reordered clusters keep the mark, a reload without mir (and
#   without g1: a topology rebuild) drops it, mir back -> unmarked;
#   clean exit removes the socket; a non-socket at the path is refused.
# Every step waits by bounded polling (await) or uses a state change sent
# after the datagrams under test as a barrier (one socket, read in order).
#
#   diverged.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP CTL_SEND
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$1" "$2"
SEND=${3:-}
[[ -x $SEND ]] || fail "not executable: ctl_send ($SEND)"

pick_port; P1=$IT_PORT
pick_port; P2=$IT_PORT
pick_port; P3=$IT_PORT
rstart "$P1"
rstart "$P2"
rstart "$P3"

# A non-root sender (uid nobody, group nogroup) must be able to reach the
# socket for the "clear is refused" step: the segment gets group nogroup (the
# socket follows it) and the temp dir is made traversable.
NOBODY=
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null && getent passwd nobody >/dev/null &&
    getent group nogroup >/dev/null; then
    NOBODY=1
    chmod 0711 "$IT_DIR"
fi

MIR='{ name = "mir"; rule = "marshal1"; primary = "g1"; members = ( "g1", "g2", "g3" ); }'
STRIPE='{ name = "stripe"; rule = "marshal0"; members = ( "g2", "g3" ); }'
G1="{ name = \"g1\"; master = \"127.0.0.1:$P1\"; }"
G2="{ name = \"g2\"; master = \"127.0.0.1:$P2\"; }"
G3="{ name = \"g3\"; master = \"127.0.0.1:$P3\"; }"
write_conf() { # GROUPS CLUSTERS
    ctl_conf "" <<EOF
groups = ( $1 );
clusters = ( $2 );
EOF
    if [[ -n $NOBODY ]]; then
        sed -i 's/mode = "0640";/mode = "0640"; group = "nogroup";/' "$CONF"
    fi
}
write_conf "$G1, $G2, $G3" "$MIR, $STRIPE"
ctl_start
SOCK=$SEG.ctl

cl() { printf '(.clusters[] | select(.name == "%s"))' "$1"; }
# members CLUSTER: "name:flag,flag name: ..." in member order
members() { seg_q "[$(cl "$1").members[] | \"\(.name):\(.flags | join(\",\"))\"] | join(\" \")"; }
members_are() { [[ $(members "$1") == "$2" ]]; }
published() { seg_is '(.segment.flags | index("warming_up")) == null'; }
n_div_events() { seg_q '[.events[] | select(.type == "mirror_diverged")] | length'; }
send() { "$SEND" "$SOCK" "$@"; }
n_reloaded() { grep -c 'configuration reloaded' "$CTL_LOG" || true; }

await 30 "first publish: mir and stripe without marks" eval '
    published && members_are mir "g1:primary g2: g3:" && members_are stripe "g2: g3:"'
await 10 "control socket created" test -S "$SOCK"
[[ $(stat -c %a "$SOCK") == 660 ]] || fail "socket mode $(stat -c %a "$SOCK"), want 660"
[[ $(stat -c %g "$SOCK") == "$(stat -c %g "$SEG")" ]] ||
    fail "socket group $(stat -c %g "$SOCK") != segment group $(stat -c %g "$SEG")"
[[ $(n_div_events) == 0 ]] || fail "mirror_diverged events before any report"

# ---- a report: diverged mir g2 (as the library sends it) ---------------------------------
send $'diverged mir g2\n'
await 10 "g2 marked diverged in mir" members_are mir "g1:primary g2:diverged g3:"
await 10 "one mirror_diverged event" eval '[[ $(n_div_events) == 1 ]]'
seg_is '.events[] | select(.type == "mirror_diverged") | .cluster == "mir" and .group == "g2"
        and .member == "g2" and .text == "+mirror-diverged mir g2"' ||
    fail "mirror_diverged event: $(seg_q '.events[] | select(.type == "mirror_diverged") | tojson')"
members_are stripe "g2: g3:" || fail "stripe changed: $(members stripe)"
# the table shows it too, on mir's g2 line (not stripe's)
TABLE=$("$SHMDUMP" "$SEG")
awk '$1 == "mir" { m = 1; next } /^  [^ ]/ { m = 0 } m && $1 == "g2"' <<<"$TABLE" |
    grep -q diverged || fail "table does not show mir/g2 diverged:"$'\n'"$TABLE"
awk '$1 == "stripe" { m = 1; next } /^  [^ ]/ { m = 0 } m' <<<"$TABLE" | grep -q diverged &&
    fail "table shows a stripe member diverged:"$'\n'"$TABLE"
await 10 "log line +mirror-diverged mir g2" grep -q '+mirror-diverged mir g2' "$CTL_LOG"
"$SHMDUMP" --check "$SEG" >/dev/null || fail "segment fails --check after the mark"
it_log "diverged mir g2: flag, event and log line"

# ---- garbage: ignored, logged at a bounded rate -----------------------------------------
T0=$(now_ms)
LONG="diverged mir $(printf 'x%.0s' {1..287})"        # 300 bytes
HUGE=$(printf 'y%.0s' {1..4000})
if [[ -n $NOBODY ]]; then
    # first: refusals past 10 a second are not logged, and this one is checked
    NB=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    "${NB[@]}" "$SEND" "$SOCK" "clear mir g2" || fail "uid nobody cannot write the socket"
fi
send -x 00ff0102fe
send -x 6469766572676564006d6972206732                 # "diverged\0mir g2"
send -x 64697665726765642066c3a920673200               # UTF-8 and a NUL
send "$LONG"
send "$HUGE"
send ""
for m in "diverged nosuch g2" "diverged mir nosuch" "diverged mir g1" "diverged stripe g2" \
    "diverged g1 g2" "diverged  mir g2" " diverged mir g2" "diverged mir g2 " \
    "diverged mir g2 extra" "diverged mir" "DIVERGED mir g2" "reset mir g2" \
    $'diverged mir g2\r\n' $'diverged mir g2\n\n' $'diverged mir\tg2'; do
    send "$m"
done
send "diverged mir g2"                                  # a repeat: no second event
send -n 500 "diverged nosuch g2"                        # a flood
if [[ -n $NOBODY ]]; then
    # any user that can write the socket may report: the barrier comes from nobody
    "${NB[@]}" "$SEND" "$SOCK" "diverged mir g3"
else
    it_log "not root or no setpriv: skipping the non-root clear"
    send "diverged mir g3"
fi
await 10 "barrier: g3 marked (every datagram before it was read)" \
    members_are mir "g1:primary g2:diverged g3:diverged"
T1=$(now_ms)
ctl_alive || fail "controller died on garbage"
members_are stripe "g2: g3:" || fail "stripe changed: $(members stripe)"
await 10 "two mirror_diverged events" eval '[[ $(n_div_events) == 2 ]]'
[[ $(n_div_events) == 2 ]] || fail "events: $(ev_list 0)"
if [[ -n $NOBODY ]]; then
    grep -q 'clear mir g2 from pid [0-9]* uid 65534 refused' "$CTL_LOG" ||
        fail "no refusal of uid nobody's clear in the log"
    grep -q 'control: diverged mir g3 from pid [0-9]* uid 65534' "$CTL_LOG" ||
        fail "uid nobody's report not logged as accepted"
fi
NREF=$(grep -c 'control .*: .*\(ignored\|refused\)' "$CTL_LOG" || true)
# 10 lines + 1 summary per started second of the controller's clock
MAXREF=$((11 * ((T1 - T0) / 1000 + 2)))
((NREF >= 10)) || fail "only $NREF refusals logged"
((NREF <= MAXREF)) || fail "$NREF refusal lines in $(((T1 - T0))) ms: not rate-limited"
grep -q 'ignored: longer than 255 bytes' "$CTL_LOG" || fail "no 'longer than 255 bytes' refusal"
grep -q 'not printable ASCII' "$CTL_LOG" || fail "no 'not printable' refusal"
# the flood's unlogged refusals are summed up by the next refusal in a later second
await 10 "summary of unlogged refusals" eval \
    'send "diverged nosuch g9"; grep -q "more datagrams ignored without a log line" "$CTL_LOG"'
"$SHMDUMP" --check "$SEG" >/dev/null || fail "segment fails --check after the garbage"
it_log "garbage ignored: $NREF refusal lines (limit $MAXREF), state unchanged"

# ---- kill -9 and restart: the adopted segment keeps the marks ---------------------------
EPOCH=$(seg_q .segment.writer_epoch)
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
[[ -S $SOCK ]] || fail "socket vanished with the killed controller"
ctl_start
await 10 "restarted controller bound its socket" grep -q 'control socket' "$CTL_LOG"
await 30 "adopted and published again" eval \
    '[[ $(seg_q .segment.writer_epoch) == $((EPOCH + 1)) ]] && published'
members_are mir "g1:primary g2:diverged g3:diverged" ||
    fail "marks lost across the restart: $(members mir)"
[[ $(n_div_events) == 2 ]] || fail "the restart emitted mirror_diverged events: $(ev_list 0)"
grep -q 'still diverged (adopted)' "$CTL_LOG" || fail "no 'still diverged (adopted)' log line"
it_log "restart: marks carried over"

# ---- --clear-diverged ---------------------------------------------------------------------
# cli EXPECTED_RC ARGS...: run the CLI, check its exit status, output in OUT
cli() {
    local want=$1 rc=0
    shift
    OUT=$("$CTL" "$@" 2>&1) || rc=$?
    [[ $rc == "$want" ]] || fail "marshal-controller $*: exit $rc, want $want: $OUT"
}
cli 2 -c "$IT_DIR/missing.conf" --clear-diverged mir g2
cli 2 -c "$CONF" --clear-diverged mir
cli 2 -c "$CONF" --clear-diverged mir g2 g3
cli 1 -c "$CONF" --clear-diverged nosuch g2
grep -q 'no cluster or farm' <<<"$OUT" || fail "unknown cluster: $OUT"
cli 1 -c "$CONF" --clear-diverged mir g1
grep -q 'primary' <<<"$OUT" || fail "primary member: $OUT"
cli 1 -c "$CONF" --clear-diverged stripe g2
grep -q 'not a mirror' <<<"$OUT" || fail "marshal0 cluster: $OUT"
cli 1 -c "$CONF" --clear-diverged mir nosuch
grep -q 'no member' <<<"$OUT" || fail "unknown member: $OUT"
"$CTL" --help | grep -q -- '--clear-diverged CLUSTER MEMBER' || fail "--help lacks --clear-diverged"

# the controller does not answer: bounded wait, exit 1; the request stays
# queued and takes effect once it runs again
kill -STOP "$CTL_PID"
S0=$(now_ms)
cli 1 -c "$CONF" --clear-diverged mir g3
S1=$(now_ms)
kill -CONT "$CTL_PID"
grep -q 'still diverged after 5000 ms' <<<"$OUT" || fail "timeout message: $OUT"
((S1 - S0 >= 4900 && S1 - S0 < 15000)) || fail "timeout took $((S1 - S0)) ms"
await 10 "queued clear applied after SIGCONT" members_are mir "g1:primary g2:diverged g3:"

cli 0 -c "$CONF" --clear-diverged mir g2
[[ $OUT == "mir g2: cleared" ]] || fail "output: $OUT"
members_are mir "g1:primary g2: g3:" || fail "exit 0 but still marked: $(members mir)"
await 10 "log line -mirror-diverged mir g2" grep -q -- '-mirror-diverged mir g2' "$CTL_LOG"
cli 0 -c "$CONF" --clear-diverged mir g2
[[ $OUT == "mir g2: was not diverged" ]] || fail "output: $OUT"
[[ $(n_div_events) == 2 ]] || fail "clearing emitted events: $(ev_list 0)"
it_log "--clear-diverged: errors and success"

# ---- reloads --------------------------------------------------------------------------------
send "diverged mir g3"
await 10 "g3 marked again" members_are mir "g1:primary g2: g3:diverged"
await 10 "third mirror_diverged event" eval '[[ $(n_div_events) == 3 ]]'
IDX=$(seg_q "$(cl mir).index")

# clusters reordered: mir moves to another index and keeps its mark
R=$(n_reloaded)
write_conf "$G1, $G2, $G3" "$STRIPE, $MIR"
kill -HUP "$CTL_PID"
await 10 "reload 1 done" eval '[[ $(n_reloaded) -gt '"$R"' ]]'
await 10 "mir moved, still marked" eval \
    '[[ $(seg_q "$(cl mir).index") != '"$IDX"' ]] && members_are mir "g1:primary g2: g3:diverged"'
members_are stripe "g2: g3:" || fail "stripe after reorder: $(members stripe)"

# mir and g1 removed (a topology rebuild): the mark goes with mir
R=$(n_reloaded)
write_conf "$G2, $G3" "$STRIPE"
kill -HUP "$CTL_PID"
await 10 "reload 2 done" eval '[[ $(n_reloaded) -gt '"$R"' ]]'
await 30 "mir and g1 gone" seg_is '([.clusters[] | select(.name == "mir")] | length) == 0 and
    ([.groups[] | select(.name == "g1")] | length) == 0 and (.segment.flags | index("warming_up")) == null'
ctl_alive || fail "controller died on the reload without mir"
members_are stripe "g2: g3:" || fail "stripe after removing mir: $(members stripe)"
grep -q -- '-mirror-diverged mir g3: removed by the reload' "$CTL_LOG" ||
    fail "no log line for the dropped mark"
send "diverged mir g3"                                  # mir is gone: refused
cli 1 -c "$CONF" --clear-diverged mir g3

# mir back: unmarked
R=$(n_reloaded)
write_conf "$G1, $G2, $G3" "$MIR, $STRIPE"
kill -HUP "$CTL_PID"
await 10 "reload 3 done" eval '[[ $(n_reloaded) -gt '"$R"' ]]'
await 30 "mir back without marks" eval 'published && members_are mir "g1:primary g2: g3:"'
[[ $(n_div_events) == 3 ]] || fail "reloads emitted mirror_diverged events: $(ev_list 0)"
"$SHMDUMP" --check "$SEG" >/dev/null || fail "segment fails --check after the reloads"
it_log "reloads: mark kept when mir moved, dropped with mir"

# ---- clean exit removes the socket; a non-socket at its path is refused ---------------------
ctl_finish
[[ ! -e $SOCK ]] || fail "socket left after a clean exit"
echo "not a socket" >"$SOCK"
ctl_start
rc=0
wait "$CTL_PID" || rc=$?
[[ $rc == 1 ]] || fail "controller with a file in the socket's way: exit $rc, want 1"
grep -q 'not a socket is in the way; refusing to remove it' "$CTL_LOG" ||
    fail "no refusal message: $(tail -n 5 "$CTL_LOG")"
[[ $(cat "$SOCK") == "not a socket" ]] || fail "the file in the way was touched"
it_log "socket removed at exit; a regular file in its way refused"
