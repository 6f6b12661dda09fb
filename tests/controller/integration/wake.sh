#!/usr/bin/env bash
# wake.sh -- the wake socket <segment>.wake (controller/ctl_wake.c):
#   a static group g1 (master + 1 replica, real redis-servers), no sentinels;
#   the socket: SOCK_SEQPACKET, mode 0660 for a 0640 segment, the segment's
#   group;
#   (a) an epoll client (wake_check watch) gets its first byte ("held"),
#       then kill -9 of the replica -> health marks it down -> publish ->
#       the client is woken and re-reads a generation >= the one that shows
#       the replica down; generation, pub_seq and notify moved;
#   (b) 200 clients connect and disconnect (a quarter before being
#       accepted), one sends garbage then an empty message (a hang-up: the
#       controller closes it); the controller lives, its descriptor count
#       returns to what it was, and the first client is still woken
#       (replica restarted -> publish);
#       filling the socket beyond the controller's maximum: the excess is
#       accepted and closed at once (EOF), logged at a bounded rate;
#   (c) kill -9: clients see EOF, the socket file stays; the restarted
#       controller replaces it and wakes again; SIGTERM: clients see EOF
#       with the segment marked stopped, and the socket file is gone;
#   (d) a non-socket at the path: the controller runs without a wake
#       socket (warning) and leaves the file alone.
# Every wait is bounded polling (await); nothing sleeps and hopes.
#
#   wake.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP WAKE_CHECK
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$1" "$2"
WC=${3:-}
[[ -x $WC ]] || fail "not executable: wake_check ($WC)"

pick_port; MP=$IT_PORT
pick_port; RP=$IT_PORT
rstart "$MP"
rstart "$RP" "$MP"
ctl_conf "" <<EOF
groups = ( { name = "g1"; master = "127.0.0.1:$MP"; route = "split";
             replicas = ( "127.0.0.1:$RP" ); } );
EOF
ctl_start
SOCK=$SEG.wake
G=$(grp g1)
published() { seg_is '(.segment.flags | index("warming_up")) == null'; }
replica_readable() {
    published && seg_is "[$G.servers[] | select(.flags | index(\"readable\")) | .port] == [$RP]"
}
replica_down() {
    seg_is "($G.servers[] | select(.port == $RP) | .health == \"down\" and
             (.flags | index(\"readable\") | not))"
}
n_fds() { find "/proc/$CTL_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# watch_start NAME: a wake_check watcher, its output in $IT_DIR/NAME.log
watch_start() {
    start_bg "$1" "$WC" watch "$SOCK" "$SEG" 60000
    eval "${1}_PID=$IT_LAST_PID"
    await 10 "$1 held by the controller" grep -q '^held ' "$IT_DIR/$1.log"
}
# woken_at_gen NAME GEN: NAME printed a wake line with gen >= GEN
woken_at_gen() {
    awk -v g="$2" '$1 == "wake" { split($3, a, "="); if (a[2] + 0 >= g + 0) f = 1 } END { exit !f }' \
        "$IT_DIR/$1.log"
}
# last_field NAME WHAT KEY: KEY=... of NAME's last WHAT line
last_field() {
    awk -v w="$2" -v k="$3" '$1 == w { for (i = 3; i <= NF; i++) { split($i, a, "=");
        if (a[1] == k) v = a[2] } } END { print v }' "$IT_DIR/$1.log"
}

await 30 "g1 published, replica :$RP readable" replica_readable
await 10 "wake socket created" test -S "$SOCK"
[[ $(stat -c %F "$SOCK") == socket ]] || fail "$SOCK is not a socket"
[[ $(stat -c %a "$SOCK") == 660 ]] || fail "socket mode $(stat -c %a "$SOCK"), want 660"
[[ $(stat -c %g "$SOCK") == "$(stat -c %g "$SEG")" ]] ||
    fail "socket group $(stat -c %g "$SOCK") != segment group $(stat -c %g "$SEG")"
grep -q "wake socket $SOCK (mode 0660, up to [0-9]* clients)" "$CTL_LOG" ||
    fail "no 'wake socket' line in the log"
CAP=$(sed -n 's/.*wake socket .* up to \([0-9]*\) clients.*/\1/p' "$CTL_LOG" | tail -n 1)

# ---- (a) a topology change wakes the client ------------------------------------------
watch_start w1
GEN0=$(seg_q .segment.generation)
PUB0=$(seg_q .segment.pub_seq)
N0=$(last_field w1 held notify)
BASE=$(($(ev_head) - 1))
rkill "$RP"
it_log "kill -9 replica :$RP"
await 10 ":$RP down and not readable" replica_down
GEN1=$(seg_q .segment.generation)
PUB1=$(seg_q .segment.pub_seq)
((GEN1 > GEN0)) || fail "generation did not move: $GEN0 -> $GEN1"
((PUB1 > PUB0)) || fail "pub_seq did not move: $PUB0 -> $PUB1"
# bounded: the wake follows the publish within one loop iteration
await 3 "w1 woken and re-read generation >= $GEN1" woken_at_gen w1 "$GEN1"
N1=$(last_field w1 wake notify)
((N1 > N0)) || fail "notify word did not move for the client: $N0 -> $N1"
T_EV=$(seg_q "[.events[] | select(.seq > $BASE and .type == \"slave_down\")][0].time_ms // 0")
T_WAKE=$(awk -v t="$T_EV" '$1 == "wake" && $2 + 0 >= t + 0 { print $2; exit }' "$IT_DIR/w1.log")
it_log "(a) replica down: generation $GEN0 -> $GEN1, notify $N0 -> $N1;" \
    "slave_down published at $T_EV, first wake after it at ${T_WAKE:-?} (ms, realtime)"
[[ $T_EV != 0 ]] || fail "no slave_down event: $(ev_list "$BASE")"

# ---- (b) 200 clients come and go, one sends garbage ------------------------------------
await 5 "controller descriptors settled" eval '[[ $(n_fds) -gt 0 ]]'
FD0=$(n_fds)
OUT=$("$WC" flood "$SOCK" 200) || fail "wake_check flood failed: $OUT"
it_log "(b) $OUT"
ctl_alive || fail "controller died during the flood"
await 10 "controller back to $FD0 descriptors (every client closed and forgotten)" \
    eval '[[ $(n_fds) -le '"$FD0"' ]]'
it_running "$w1_PID" || fail "w1 lost its connection: $(cat "$IT_DIR/w1.log")"
rstart "$RP" "$MP"
it_log "restarted replica :$RP"
await 30 "replica :$RP readable again" replica_readable
GEN2=$(seg_q .segment.generation)
await 3 "w1 still woken after the flood (generation >= $GEN2)" woken_at_gen w1 "$GEN2"

# beyond the maximum: the excess is accepted and closed at once
FD1=$(n_fds)            # the restarted replica has its health connection again
N_FILL=$((CAP + 100))
rc=0
OUT=$("$WC" fill "$SOCK" "$N_FILL" 2>&1) || rc=$?
if ((rc == 77)); then
    it_log "(b) fill: SKIP, this process cannot open $N_FILL descriptors: $OUT"
else
    ((rc == 0)) || fail "wake_check fill $N_FILL: exit $rc: $OUT"
    [[ $OUT == "fill: $((CAP - 1)) held $((N_FILL - CAP + 1)) refused" ]] ||
        fail "fill $N_FILL with w1 held and a maximum of $CAP: $OUT"
    ctl_alive || fail "controller died at its client maximum"
    await 5 "'clients already held' in the log" grep -q 'clients already held: a new one was closed at once' "$CTL_LOG"
    NREF=$(grep -c 'clients already held' "$CTL_LOG" || true)
    ((NREF <= 30)) || fail "$NREF refusal lines for $((N_FILL - CAP + 1)) refusals: not rate-limited"
    await 20 "controller back to $FD1 descriptors after the fill" eval '[[ $(n_fds) -le '"$FD1"' ]]'
    it_log "(b) $OUT (maximum $CAP, w1 included), $NREF log lines"
fi
it_running "$w1_PID" || fail "w1 lost its connection: $(cat "$IT_DIR/w1.log")"
B2=$(($(ev_head) - 1))
rkill "$RP"
await 10 ":$RP down again" replica_down
GEN3=$(seg_q .segment.generation)
await 3 "w1 woken after the fill (generation >= $GEN3)" woken_at_gen w1 "$GEN3"

# ---- (c) kill -9 and restart; then a clean exit ------------------------------------------
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
await 5 "w1 sees EOF when the controller is killed" grep -q '^eof .* stopped=0' "$IT_DIR/w1.log"
wait "$w1_PID" || fail "w1 exit status $? after EOF"
[[ -S $SOCK ]] || fail "socket file vanished with the killed controller"
ctl_start
await 10 "restarted controller replaced the stale socket" \
    grep -q "wake socket $SOCK (mode 0660" "$CTL_LOG"
await 30 "adopted and published" published
watch_start w2
rstart "$RP" "$MP"
await 30 "replica :$RP readable after the restart" replica_readable
GEN4=$(seg_q .segment.generation)
await 3 "w2 woken by the restarted controller (generation >= $GEN4)" woken_at_gen w2 "$GEN4"
ctl_finish
await 5 "w2 sees EOF with the segment marked stopped" grep -q '^eof .* stopped=1' "$IT_DIR/w2.log"
wait "$w2_PID" || fail "w2 exit status $? after EOF"
[[ ! -e $SOCK ]] || fail "wake socket left after a clean exit"
it_log "(c) kill -9: EOF, stale socket replaced; SIGTERM: EOF (stopped), socket removed"

# ---- (d) a non-socket in the way: run without ---------------------------------------------
echo "not a socket" >"$SOCK"
ctl_start
await 10 "refusal logged" grep -q "wake socket $SOCK: something that is not a socket is in the way" "$CTL_LOG"
await 30 "published without a wake socket" published
ctl_alive || fail "controller stopped over the wake socket's path"
[[ $(cat "$SOCK") == "not a socket" ]] || fail "the file in the way was touched"
ctl_finish
[[ $(cat "$SOCK") == "not a socket" ]] || fail "the file in the way was removed at exit"
it_log "(d) a file in the way: controller ran without the wake socket, file untouched"
