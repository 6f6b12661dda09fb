#!/usr/bin/env bash
# lib_async.sh -- the asynchronous API (include/marshal/async.h) on a libev
# loop against real redis-servers and marshal-controller: static groups, a
# marshal0 cluster and a marshal1 mirror (no sentinels).
#
# 11 standalone redis-servers, one static group each: ga (basics, close),
# gb (parking, wake socket, events), gt1 gt2 (timeouts), c1..c4 (cluster
# "stripe": marshal0, ketama/md5 -- with fnv1a_64, keys that differ only in
# their last bytes, like pc:0..pc:199, land on 2 of the 4 groups), m1 m2
# (mirror "mir": marshal1, policy and primary left at their defaults --
# asserted to be "all" and m1), gd (a group whose master stays down).  async_check (tests/client/async_check.c)
# prints one line per callback; every run must show each command's callback
# exactly once (async_check counts, this script recounts the lines).
#   a. pipelining: 10,000 SETs with unique values in flight at once on one
#      connection, all APPLIED; every value read back with redis-cli; 10,000
#      GET replies correct; a binary key and value round-trip through
#      marshal_async_command_argv and a binary value through %b.
#   d. cluster: MSET of 200 keys split over the 4 groups (one callback, 4
#      legs, nkeys summing to 200, each server holding exactly its leg's keys
#      with the right values, the blocking API reading them all back through
#      the cluster); MGET merged in order; GET of one key: one leg; DEL count
#      summed.  Mirror: a SET applied on both legs.
#   c. timeout: gt1's server SIGSTOPped; 50 SETs in flight to it end with
#      TIMEOUT / unknown within command_timeout_ms (+ slack) while SETs to gt2,
#      issued every 20 ms on the same loop meanwhile, are all APPLIED.
#   -- gb, gd and m2 killed -9; the segment shows them down --
#   b. parking bounds: park_max 5, failover_wait 800 ms, 20 writes to gb: 15
#      fail at once with PARK_FULL, the first 5 with PARK_EXPIRED after
#      ~0.8 s, all not applied.
#   e. close with commands in flight: (1) 1000 SETs to ga + 10 parked on gd,
#      closed inside the callback of the 100th reply after queueing 50 more:
#      exactly 100 applied, every other callback once with CLOSED -- not
#      applied for the parked and the 50 never written, which the server must
#      not hold; (2) the same closed from a loop timer; (3) commands parked
#      after a refused connection setup (SELECT of a database that does not
#      exist), closed inside the first PARK_EXPIRED callback.
#   d'. mirror with m2 down: m1's leg applied, m2's not applied
#      (PARK_EXPIRED), outcome PARTIAL (policy all).
#   b'. 50 writes parked on gb with a long failover_wait; gb's server
#      restarted on the same port: they are sent once the controller
#      publishes it up (the wake socket <segment>.wake: no polling) and
#      APPLIED on the restarted (empty) server; how long after the
#      controller recorded masterUp they completed is logged.
#   f. an `async_check events gb` process running since before the kill saw
#      masterDown then masterUp for gb, exactly once each, in that order, on
#      its loop.
#
#   lib_async.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP ASYNC_CHECK MC_PROBE

# awk and jq programs are single-quoted on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"
ACHECK=$PROBE
MCPROBE=${4:-}
[[ -x $MCPROBE ]] || fail "not executable: mc_probe ($MCPROBE)"
need md5sum

# SIGSTOPped servers are continued on any exit (then it_cleanup as usual)
STOPPED=()
async_cleanup() {
    local rc=$? p
    set +e
    for p in "${STOPPED[@]}"; do
        kill -CONT "$p" 2>/dev/null
    done
    (exit "$rc")
    it_cleanup
}
trap async_cleanup EXIT

T_START=$(now_ms)
rstart_n 11
GA=${P[0]} GB=${P[1]} GT1=${P[2]} GT2=${P[3]} C1=${P[4]} C2=${P[5]} C3=${P[6]} C4=${P[7]}
M1=${P[8]} M2=${P[9]} GD=${P[10]}
declare -A PORT_OF=([ga]=$GA [gb]=$GB [gt1]=$GT1 [gt2]=$GT2 [c1]=$C1 [c2]=$C2 [c3]=$C3 [c4]=$C4
                    [m1]=$M1 [m2]=$M2 [gd]=$GD)
{
    echo 'groups = ('
    sep=
    for g in ga gb gt1 gt2 c1 c2 c3 c4 m1 m2 gd; do
        printf '%s  { name = "%s"; master = "127.0.0.1:%s"; route = "master"; }' "$sep" "$g" "${PORT_OF[$g]}"
        sep=$',\n'
    done
    printf '\n);\n'
    cat <<CONF
clusters = (
  { name = "stripe"; rule = "marshal0"; hash = "md5"; members = ( "c1", "c2", "c3", "c4" ); },
  { name = "mir"; rule = "marshal1"; members = ( "m1", "m2" ); }
);
CONF
} | ctl_conf ""
ctl_start

cl() { printf '(.clusters[] | select(.name == "%s"))' "$1"; }
await 30 "11 groups with their master up, stripe and mir published" seg_is "
    ([.groups[] | select(.master != null and .servers[0].health == \"up\")] | length) == 11 and
    $(cl stripe).rule == \"marshal0\" and $(cl mir).rule == \"marshal1\""
# the mirror defaults this test relies on: policy all, primary = the first member
seg_is "$(cl mir).mirror_policy == \"all\" and
        ($(cl mir).members[] | select(.name == \"m1\") | .flags | index(\"primary\"))" ||
    fail "mir's defaults are not policy all / primary m1: $(seg_q "$(cl mir) | tojson")"
it_log "groups ga gb gt1 gt2 c1..c4 m1 m2 gd on :${P[*]} (setup $(($(now_ms) - T_START)) ms)"

# ---- helpers -----------------------------------------------------------------------------

# acheck NAME ARGS...: async_check in the foreground (bounded); it must exit 0
# with its "done" line and no sanitizer report.  Output in $IT_DIR/NAME.log ($L).
acheck() {
    local name=$1 rc=0 t0
    shift
    L=$IT_DIR/$name.log
    t0=$(now_ms)
    timeout 90 "$ACHECK" "$@" >"$L" 2>"$IT_DIR/$name.err.log" || rc=$?
    ! grep -qE 'Sanitizer|runtime error:' "$IT_DIR/$name.err.log" ||
        fail "sanitizer report from async_check $name: $(head -40 "$IT_DIR/$name.err.log")"
    ((rc == 0)) || fail "async_check $name exited with status $rc: $(grep -E '^(error|summary|stats|closed)' "$L" | head -20)"
    grep -q '^done .* rc=0$' "$L" || fail "async_check $name did not finish its output"
    it_log "$name: $(grep '^summary' "$L") ($(($(now_ms) - t0)) ms)"
}

# acheck_bg NAME ARGS...: async_check in the background; pid in ABG.
acheck_bg() {
    local name=$1
    shift
    "$ACHECK" "$@" >"$IT_DIR/$name.log" 2>"$IT_DIR/$name.err.log" &
    ABG=$!
    IT_PIDS+=("$ABG")
}

# acheck_wait PID NAME SECS: wait (bounded) for a background async_check; as acheck.
acheck_wait() {
    local pid=$1 name=$2 rc=0
    await "$3" "async_check $name ends" eval '! it_running '"$pid"
    wait "$pid" || rc=$?
    L=$IT_DIR/$name.log
    ! grep -qE 'Sanitizer|runtime error:' "$IT_DIR/$name.err.log" ||
        fail "sanitizer report from async_check $name: $(head -40 "$IT_DIR/$name.err.log")"
    ((rc == 0)) || fail "async_check $name exited with status $rc: $(grep -E '^(error|summary|stats)' "$L" | head -20)"
    grep -q '^done .* rc=0$' "$L" || fail "async_check $name did not finish its output"
    it_log "$name: $(grep '^summary' "$L")"
}

# once FILE N: N commands, each with exactly one callback (the lines recounted
# here, async_check's own summary agreeing), no error line.
once() {
    local f=$1 n=$2 cbs ids
    cbs=$(pcount "$f" '$1 == "cb"')
    ids=$(awk '$1 == "cb" { print $2 }' "$f" | sort -u | wc -l)
    ((cbs == n && ids == n)) || fail "$f: $cbs callbacks for $ids distinct commands, expected $n each"
    grep -q "^summary issued=$n cb=$n dup=0 missing=0 errors=0 " "$f" ||
        fail "$f: $(grep '^summary' "$f")"
    ! grep -q '^error' "$f" || fail "$f: $(grep '^error' "$f" | head -5)"
}

# cbn FILE AWK-CONDITION: callback lines matching (fields: 2 id, 3 kind, 4 key,
# 5 status, 6 outcome, 7 server, 8 attempts, 9 ms, 10 t, 11 reply, 12 legs=N).
cbn() { pcount "$1" '$1 == "cb" && ('"$2"')'; }

# expect_cb FILE AWK-CONDITION N WHAT: exactly N callback lines match.
expect_cb() {
    local got
    got=$(cbn "$1" "$2")
    ((got == $3)) || fail "$4: $got callbacks match ($2), expected $3; e.g.: $(awk '$1 == "cb"' "$1" | head -3)"
}

# stat_of FILE KEY: a field of the stats line.
stat_of() { awk -v k="$2" '$1 == "stats" { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' "$1"; }

# keys_of FILE AWK-CONDITION: the keys of the matching callback lines.
keys_of() { awk '$1 == "cb" && ('"$2"') { print $4 }' "$1"; }

# values_ok PORT PREFIX NONCE N: the server holds PREFIX<i> = NONCE:<i> for every i < N.
values_ok() {
    local port=$1 p=$2 nonce=$3 n=$4 from to got want
    for ((from = 0; from < n; from += 2000)); do
        to=$((from + 2000 < n ? from + 2000 : n))
        # shellcheck disable=SC2046
        got=$(rcli "$port" MGET $(seq -f "$p%g" "$from" $((to - 1))) | md5sum)
        want=$(seq -f "$nonce:%g" "$from" $((to - 1)) | md5sum)
        [[ $got == "$want" ]] || return 1
    done
}

# down_all GROUP...: the segment shows each group's only server down.
down_all() {
    local g
    for g in "$@"; do
        seg_is "$(grp "$g").servers[0].health == \"down\"" || return 1
    done
}

# ---- f (setup). an events process on gb, running across its kill and restart --------------
acheck_bg events --seconds 120 "$SEG" events gb
EV_PID=$ABG
await 20 "async_check events ready" grep -q '^ready ' "$IT_DIR/events.log"

# ---- a. pipelining and basics ------------------------------------------------------------------
N=10000
NA="va$RANDOM$RANDOM"
acheck pipeline --prefix pa: --nonce "$NA" "$SEG" pipeline ga "$N"
grep -qx "inflight $N" "$L" || fail "not all $N SETs were in flight at once: $(grep '^inflight' "$L")"
once "$L" $((2 * N + 4))
expect_cb "$L" '$3 == "set" && $5 == "OK" && $6 == "applied" && $7 == "127.0.0.1:'"$GA"'" && $8 == 1 && $11 == "status:OK"' "$N" \
    "SETs applied on ga's server, sent once, replied OK"
expect_cb "$L" '$3 == "get" && $5 == "OK" && $6 == "applied" && $11 ~ /^str:/' "$N" "GETs with a string reply"
grep -qx "check get n=$N ok=$N bad=0" "$L" || fail "GET replies: $(grep '^check get' "$L")"
grep -q '^check binary ok=2 of=2 key_len=12 val_len=512$' "$L" || fail "binary round trip: $(grep '^check binary' "$L")"
expect_cb "$L" '($3 == "bset" || $3 == "fset") && $6 == "applied" && $11 == "status:OK"' 2 "binary SETs"
[[ $(stat_of "$L" connects) == 1 ]] || fail "pipeline used $(stat_of "$L" connects) connections, expected 1"
[[ $(rcli "$GA" DBSIZE) == $((N + 2)) ]] || fail "ga holds $(rcli "$GA" DBSIZE) keys, expected $((N + 2))"
values_ok "$GA" pa: "$NA" "$N" || fail "ga does not hold pa:i = $NA:i for every i < $N"
[[ $(rcli "$GA" STRLEN pa:binv) == 512 ]] || fail "pa:binv is $(rcli "$GA" STRLEN pa:binv) bytes, expected 512"
# shellcheck disable=SC2059  # the format is the byte's escape, built on purpose
want=$(for i in {0..255} {0..255}; do printf -v h '%02x' "$i"; printf "\\x$h"; done | md5sum)
got=$(rcli "$GA" --raw GET pa:binv | head -c 512 | md5sum)
[[ $got == "$want" ]] || fail "pa:binv on the server is not bytes 0..255 twice"
# the binary key is the one key not under pa:
[[ $(rcli "$GA" --scan --pattern 'pa:*' | wc -l) == $((N + 1)) ]] || fail "ga's keys besides pa:* are not just the binary one"
it_log "a. $N SETs in flight on one connection applied, read back with redis-cli; GETs and binary data correct"

# ---- d. cluster: split MSET / MGET / DEL over 4 groups ---------------------------------------------
NC="vc$RANDOM$RANDOM"
NK=200
acheck mset --prefix pc: --nonce "$NC" "$SEG" mset stripe "$NK"
once "$L" 1
expect_cb "$L" '$3 == "mset" && $5 == "OK" && $6 == "applied" && $11 == "status:OK" && $12 == "legs=4"' 1 "MSET: applied, 4 legs"
[[ $(awk '$1 == "leg" && $6 == "OK" && $7 == "applied" { print $4 }' "$L" | sort -u | paste -sd ' ') == "c1 c2 c3 c4" ]] ||
    fail "MSET legs are not c1..c4 all applied: $(grep '^leg' "$L")"
[[ $(awk '$1 == "leg" { n += $8 } END { print n }' "$L") == "$NK" ]] || fail "MSET legs' nkeys do not sum to $NK: $(grep '^leg' "$L")"
declare -A NK_OF=()
while read -r _ _ _ g server _ _ nk; do
    [[ $server == "127.0.0.1:${PORT_OF[$g]}" ]] || fail "MSET leg of $g went to $server"
    NK_OF[$g]=$nk
done < <(grep '^leg' "$L")
total=0
for g in c1 c2 c3 c4; do
    port=${PORT_OF[$g]}
    mapfile -t keys < <(rcli "$port" --scan --pattern 'pc:*' | sort)
    ((${#keys[@]} == NK_OF[$g])) || fail "$g's server holds ${#keys[@]} pc: keys, its leg had ${NK_OF[$g]}"
    # each key with its own value: pc:I = NC:I
    got=$(rcli "$port" MGET "${keys[@]}" | md5sum)
    want=$(printf '%s\n' "${keys[@]}" | sed "s/^pc:/$NC:/" | md5sum)
    [[ $got == "$want" ]] || fail "$g's server holds pc: keys with wrong values"
    total=$((total + ${#keys[@]}))
done
((total == NK)) || fail "the 4 servers hold $total pc: keys, expected $NK"
# the blocking API places every key where the async one wrote it
# shellcheck disable=SC2046
timeout 60 "$MCPROBE" "$SEG" stripe cmd MGET $(seq -f 'pc:%g' 0 $((NK - 1))) >"$IT_DIR/mget-blocking.log" 2>&1 ||
    fail "blocking MGET through stripe: $(head -5 "$IT_DIR/mget-blocking.log")"
[[ $(awk '$1 == "element" { print $3 }' "$IT_DIR/mget-blocking.log" | md5sum) == \
   "$(seq -f "str:$NC:%g" 0 $((NK - 1)) | md5sum)" ]] ||
    fail "the blocking API does not read back every key the async MSET wrote"
it_log "d. MSET of $NK keys: 4 legs (${NK_OF[c1]}+${NK_OF[c2]}+${NK_OF[c3]}+${NK_OF[c4]} keys), each server holds its leg's keys; the blocking API reads them all"

acheck mget --prefix pc: --nonce "$NC" "$SEG" mget stripe "$NK"
once "$L" 2
expect_cb "$L" '$3 == "mget" && $5 == "OK" && $6 == "applied" && $11 == "array:'"$NK"'" && $12 == "legs=4"' 1 "MGET: applied, 4 legs"
grep -qx "check mget n=$NK elements=$NK ok=$NK bad=0" "$L" || fail "MGET merge: $(grep '^check mget' "$L")"
[[ $(awk '$1 == "leg" && $2 == 0 { n += $8 } END { print n }' "$L") == "$NK" ]] || fail "MGET legs' nkeys do not sum to $NK"
expect_cb "$L" '$3 == "get" && $6 == "applied" && $11 == "str:'"$NC"':0" && $12 == "legs=1"' 1 "GET pc:0 through stripe: one leg"
g0=$(awk '$1 == "leg" && $2 == 1 { print $4 }' "$L")
[[ $(rcli "${PORT_OF[$g0]:-0}" EXISTS pc:0) == 1 ]] || fail "GET pc:0's one leg names $g0, whose server lacks pc:0"

acheck del --prefix pc: --nonce "$NC" "$SEG" del stripe "$NK"
once "$L" 1
expect_cb "$L" '$3 == "del" && $5 == "OK" && $6 == "applied" && $11 == "int:'"$NK"'"' 1 "DEL: applied, count summed"
grep -qx "check del n=$NK deleted=$NK" "$L" || fail "DEL: $(grep '^check del' "$L")"
[[ $(awk '$1 == "leg" { n += $8 } END { print n }' "$L") == $((NK + 2)) ]] || fail "DEL legs' nkeys do not sum to $((NK + 2))"
for g in c1 c2 c3 c4; do
    [[ $(rcli "${PORT_OF[$g]}" DBSIZE) == 0 ]] || fail "$g's server still holds keys after DEL"
done
it_log "d. MGET merged in key order over 4 legs; GET: one leg ($g0); DEL summed $NK"

# mirror: a SET on both legs
acheck mir1 "$SEG" mirror mir mk one
once "$L" 1
expect_cb "$L" '$3 == "set" && $5 == "OK" && $6 == "applied" && $11 == "status:OK" && $12 == "legs=2"' 1 "mirror SET: applied, 2 legs"
[[ $(awk '$1 == "leg" && $6 == "OK" && $7 == "applied" { print $4 }' "$L" | paste -sd ' ') == "m1 m2" ]] ||
    fail "mirror legs not m1 m2 both applied: $(grep '^leg' "$L")"
for p in "$M1" "$M2"; do
    [[ $(rcli "$p" GET mk) == one ]] || fail "mirror SET not on :$p"
done
it_log "d. mirror SET applied on m1 and m2"

# ---- c. timeout: one group hung, the other served on the same loop ------------------------------------
TMO=600
acheck_bg timeout --timeout "$TMO" --prefix pt: "$SEG" timeout gt1 gt2 50 1500 20
TPID=$ABG
await 20 "async_check timeout ready" grep -q '^ready ' "$IT_DIR/timeout.log"
rsig STOP "$GT1"
STOPPED+=("${IT_REDIS_PID[$GT1]}")
T_STOP=$(now_ms)
kill -USR1 "$TPID"
acheck_wait "$TPID" timeout 30
rsig CONT "$GT1"
STOPPED=()
N_G2=$(cbn "$L" '$7 == "127.0.0.1:'"$GT2"'" && $3 == "set"')
once "$L" $((2 + 50 + N_G2))
expect_cb "$L" '$3 == "warm" && $6 == "applied"' 2 "warm-up SETs"
expect_cb "$L" '$3 == "set" && $7 == "127.0.0.1:'"$GT1"'"' 50 "SETs to the stopped gt1"
expect_cb "$L" '$3 == "set" && $7 == "127.0.0.1:'"$GT1"'" && $5 == "TIMEOUT" && $6 == "unknown" && $8 == 1 && $11 == "-"' 50 \
    "SETs to the stopped gt1 ended TIMEOUT / unknown, sent once"
read -r tmin tmax < <(awk '$1 == "cb" && $7 == "127.0.0.1:'"$GT1"'" && $3 == "set" { if (min == "" || $9 < min) min = $9; if ($9 > max) max = $9 }
                       END { print min, max }' "$L")
# (deadlines use CLOCK_MONOTONIC_COARSE: up to a tick (4 ms at HZ=250) early)
awk -v a="$tmin" -v b="$tmax" -v t="$TMO" 'BEGIN { exit !(a >= t - 15 && b <= t + 400) }' ||
    fail "gt1 timeouts after ${tmin}..${tmax} ms, expected within [$((TMO - 15)), $((TMO + 400))] ms"
((N_G2 >= 40)) || fail "only $N_G2 SETs to gt2 were issued in 1.5 s at one per 20 ms"
expect_cb "$L" '$3 == "set" && $7 == "127.0.0.1:'"$GT2"'" && $5 == "OK" && $6 == "applied"' "$N_G2" "SETs to gt2 during the stop applied"
g2max=$(awk '$1 == "cb" && $3 == "set" && $7 == "127.0.0.1:'"$GT2"'" { if ($9 > m) m = $9 } END { print m + 0 }' "$L")
# not held up behind gt1: no SET to gt2 waited as long as gt1's timeout
awk -v m="$g2max" -v t="$TMO" 'BEGIN { exit !(m < t) }' ||
    fail "a SET to gt2 took $g2max ms while gt1 hung ($(grep -E '^(gap|maxgap)' "$L" | paste -sd ' '); slowest: $(awk '$1 == "cb" && $9 > 50' "$L" | head -5))"
# served meanwhile: gt2 callbacks between the trigger and gt1's first timeout
T_TRIG=$(awk '$1 == "trigger" { print $2 }' "$L")
T_TMO1=$(awk '$1 == "cb" && $5 == "TIMEOUT" { if (m == "" || $10 < m) m = $10 } END { print m }' "$L")
n_during=$(cbn "$L" '$7 == "127.0.0.1:'"$GT2"'" && $3 == "set" && $10 >= '"$T_TRIG"' && $10 < '"$T_TMO1")
((n_during >= 10)) || fail "only $n_during SETs to gt2 completed while gt1's commands were outstanding"
[[ $(stat_of "$L" timeouts) == 50 ]] || fail "stats timeouts=$(stat_of "$L" timeouts), expected 50"
await 10 "gt1 answers again after SIGCONT" pong_r "$GT1"
# shellcheck disable=SC2046  # one word per key
UNK_APPLIED=$(keys_exist "$GT1" $(keys_of "$L" '$5 == "TIMEOUT"'))
it_log "c. gt1 stopped at $T_STOP: 50 SETs TIMEOUT/unknown after ${tmin}..${tmax} ms (timeout $TMO); $n_during of $N_G2 SETs to gt2 done meanwhile (max ${g2max} ms; loop $(grep '^maxgap' "$L")); after SIGCONT gt1 holds $UNK_APPLIED of the 50 'unknown' keys"

# ---- kill gb, gd, m2 ------------------------------------------------------------------------------------
T_KILL=$(now_ms)
EV_BASE=$(($(ev_head) - 1))
rkill "$GB"
rkill "$GD"
rkill "$M2"
await 30 "gb, gd and m2 shown down" down_all gb gd m2
it_log "gb gd m2 killed -9, shown down after $(($(now_ms) - T_KILL)) ms"

# ---- b. parking bounds ----------------------------------------------------------------------------------
acheck park --park-max 5 --failover-wait 800 --prefix pb: "$SEG" park gb 20
once "$L" 20
expect_cb "$L" '$5 == "PARK_FULL" && $6 == "not_applied" && $2 >= 5 && $9 < 300' 15 \
    "commands 5..19 refused at once (< 300 ms) with PARK_FULL, not applied"
expect_cb "$L" '$5 == "PARK_EXPIRED" && $6 == "not_applied" && $2 < 5 && $9 >= 785 && $9 < 1400' 5 \
    "commands 0..4 parked, then PARK_EXPIRED after 0.8..1.4 s, not applied"
[[ $(stat_of "$L" park_full) == 15 && $(stat_of "$L" park_expired) == 5 ]] ||
    fail "stats: park_full=$(stat_of "$L" park_full) park_expired=$(stat_of "$L" park_expired)"
read -r pmin pmax < <(awk '$1 == "cb" && $5 == "PARK_EXPIRED" { if (a == "" || $9 < a) a = $9; if ($9 > b) b = $9 } END { print a, b }' "$L")
it_log "b. 15 x PARK_FULL at once, 5 x PARK_EXPIRED after ${pmin}..${pmax} ms"

# ---- e. close with commands in flight ----------------------------------------------------------------------
# closed_ok FILE PORT: APPLIED keys are on the server, NOT_APPLIED ones are not.
closed_ok() {
    local f=$1 port=$2 n
    # shellcheck disable=SC2046
    n=$(keys_exist "$port" $(keys_of "$f" '$6 == "applied" && $7 == "127.0.0.1:'"$port"'"'))
    [[ $n == $(cbn "$f" '$6 == "applied" && $7 == "127.0.0.1:'"$port"'"') ]] ||
        fail "$f: only $n of the applied keys are on :$port"
    # shellcheck disable=SC2046
    n=$(keys_exist "$port" $(keys_of "$f" '$6 == "not_applied" && $4 ~ /^pe/'))
    [[ $n == 0 ]] || fail "$f: $n keys reported not applied are on :$port"
}
acheck close1 --failover-wait 30000 --prefix pe1: "$SEG" close ga gd 1000 10 100 50
once "$L" 1060
grep -q '^closed .* from=callback rc_after=CLOSED missing=0$' "$L" || fail "close1: $(grep '^closed' "$L")"
expect_cb "$L" '$6 == "applied" && $5 == "OK"' 100 "exactly 100 applied before the close"
expect_cb "$L" '$5 == "CLOSED"' 960 "every other command ended CLOSED"
expect_cb "$L" '$5 == "CLOSED" && $3 == "set" && $2 < 10 && $6 == "not_applied"' 10 "the 10 parked on gd: CLOSED, not applied"
expect_cb "$L" '$5 == "CLOSED" && $3 == "late" && $6 == "not_applied"' 50 "the 50 queued, never written: CLOSED, not applied"
expect_cb "$L" '$5 == "CLOSED" && $3 == "set" && $2 >= 10 && ($6 == "unknown" || $6 == "not_applied")' 900 \
    "the 900 sent: CLOSED, unknown (or not applied if never written)"
closed_ok "$L" "$GA"
E1_UNK=$(cbn "$L" '$5 == "CLOSED" && $6 == "unknown"')
E1_NA=$(cbn "$L" '$5 == "CLOSED" && $6 == "not_applied" && $3 == "set" && $2 >= 10')

acheck close2 --failover-wait 30000 --prefix pe2: "$SEG" close-timer ga gd 1000 10 100
once "$L" 1010
grep -q '^closed .* from=timer rc_after=- missing=0$' "$L" || fail "close2: $(grep '^closed' "$L")"
E2_APP=$(cbn "$L" '$6 == "applied"')
((E2_APP >= 100)) || fail "close2: $E2_APP applied before the close, expected >= 100"
expect_cb "$L" '$5 == "CLOSED"' $((1010 - E2_APP)) "close2: every other command ended CLOSED"
expect_cb "$L" '$5 == "CLOSED" && $2 < 10 && $6 == "not_applied"' 10 "close2: the 10 parked: CLOSED, not applied"
closed_ok "$L" "$GA"

acheck close3 --database 99 --failover-wait 400 --prefix pe3: --log "$IT_DIR/close3.lib.log" "$SEG" close-expire ga 5
once "$L" 5
grep -q '^closed .* from=callback rc_after=CLOSED missing=0$' "$L" || fail "close3: $(grep '^closed' "$L")"
expect_cb "$L" '$5 == "PARK_EXPIRED" && $6 == "not_applied"' 1 "close3: the first expiry"
expect_cb "$L" '$5 == "CLOSED" && $6 == "not_applied"' 4 "close3: the other 4 parked: CLOSED, not applied"
it_log "e. close in a callback: 100 applied, 960 CLOSED ($E1_UNK unknown, 50 late + 10 parked + $E1_NA sent-list not applied, none on the server); from a timer: $E2_APP applied; inside a PARK_EXPIRED callback: 4 CLOSED"

# ---- d'. mirror with m2 down ---------------------------------------------------------------------------------
acheck mir2 --failover-wait 600 "$SEG" mirror mir mk two
once "$L" 1
expect_cb "$L" '$3 == "set" && $6 == "partial" && $12 == "legs=2" && $9 >= 585' 1 "mirror SET with m2 down: partial after the park wait"
grep -qE "^leg 0 0 m1 127\.0\.0\.1:$M1 OK applied 0$" "$L" || fail "m1's leg: $(grep '^leg' "$L")"
grep -qE "^leg 0 1 m2 127\.0\.0\.1:$M2 PARK_EXPIRED not_applied 0$" "$L" || fail "m2's leg: $(grep '^leg' "$L")"
[[ $(rcli "$M1" GET mk) == two ]] || fail "m1 does not hold mk = two"
it_log "d. mirror with m2 down: $(awk '$1 == "cb" { print "status", $5, "outcome", $6, "reply", $11 }' "$L"); legs: m1 applied, m2 PARK_EXPIRED"

# ---- b'. parked before the restart, sent once the master is back ----------------------------------------------
NB="vb$RANDOM$RANDOM"
acheck_bg parked --failover-wait 30000 --prefix pp: --nonce "$NB" --seconds 60 "$SEG" parked gb 50
PPID_=$ABG
await 20 "50 writes parked on gb" grep -q '^parked .* n=50 parked=50 in_flight=50$' "$IT_DIR/parked.log"
! grep -q '^cb ' "$IT_DIR/parked.log" || fail "a parked write ended before the restart: $(grep '^cb' "$IT_DIR/parked.log" | head -3)"
UP_BASE=$(($(ev_head) - 1))
T_RESTART=$(now_ms)
rstart "$GB"
await 30 "gb's master shown up" seg_is "$(grp gb).master != null and $(grp gb).servers[0].health == \"up\""
T_SEEN=$(now_ms)
acheck_wait "$PPID_" parked 30
once "$L" 50
expect_cb "$L" '$3 == "set" && $5 == "OK" && $6 == "applied" && $7 == "127.0.0.1:'"$GB"'" && $8 == 1' 50 \
    "the 50 parked writes applied on the restarted gb, sent once"
expect_cb "$L" '$13 ~ /^parked_ms=/ && substr($13, 11) + 0 > 0' 50 "each parked write reports its parked time"
values_ok "$GB" pp: "$NB" 50 || fail "the restarted gb does not hold pp:i = $NB:i for i < 50"
[[ $(rcli "$GB" DBSIZE) == 50 ]] || fail "the restarted gb holds $(rcli "$GB" DBSIZE) keys, expected 50"
WAKES=$(stat_of "$L" wakes)
((WAKES >= 1)) || fail "the handle handled no wake-socket wakeup (wakes=$WAKES)"
T_UP=$(seg_q "[.events[] | select(.seq > $UP_BASE and .type == \"master_up\" and .group == \"gb\")] | first | .time_ms")
[[ $T_UP =~ ^[0-9]+$ ]] || fail "no master_up event for gb in the segment: $(ev_list "$UP_BASE")"
read -r c_first c_last < <(awk '$1 == "cb" { if (a == "" || $10 < a) a = $10; if ($10 > b) b = $10 } END { print a, b }' "$L")
D_FIRST=$((c_first - T_UP))
D_LAST=$((c_last - T_UP))
# woken by the controller, not found by the handle's 1 s housekeeping tick
((D_LAST >= 0 && D_LAST <= 500)) ||
    fail "parked writes completed $D_FIRST..$D_LAST ms after the controller recorded masterUp (expected 0..500; loop $(grep '^maxgap' "$L"))"
it_log "b. restart at $T_RESTART, masterUp recorded at $T_UP (+$((T_UP - T_RESTART)) ms), seen by the script at +$((T_SEEN - T_RESTART)) ms;" \
       "the 50 parked writes completed $D_FIRST..$D_LAST ms after masterUp ($((c_last - T_SEEN)) ms after the script saw it up); wakes=$WAKES"
FIG_PARKED="first +$D_FIRST ms, last +$D_LAST ms after masterUp was recorded"

# ---- f. events on the loop ------------------------------------------------------------------------------------
await 10 "the events process saw gb's masterUp" grep -q "^event masterUp gb 127.0.0.1:$GB " "$IT_DIR/events.log"
kill -TERM "$EV_PID"
acheck_wait "$EV_PID" events 20
seq_gb=$(awk '$1 == "event" && $3 == "gb" { printf "%s%s", s, $2; s = " " }' "$L")
[[ $seq_gb == "masterDown masterUp" ]] || fail "events for gb: '$seq_gb', expected 'masterDown masterUp': $(grep '^event' "$L")"
[[ $(awk '$1 == "event" && $3 == "gb" { print $4 }' "$L" | sort -u) == "127.0.0.1:$GB" ]] || fail "events name another server: $(grep '^event' "$L")"
t_down=$(awk '$1 == "event" && $2 == "masterDown" && $3 == "gb" { sub("t=", "", $7); print $7 }' "$L")
t_up=$(awk '$1 == "event" && $2 == "masterUp" && $3 == "gb" { sub("t=", "", $7); print $7 }' "$L")
((t_down >= T_KILL && t_down < T_RESTART)) || fail "masterDown delivered at $t_down, not between the kill ($T_KILL) and the restart ($T_RESTART)"
((t_up >= T_RESTART)) || fail "masterUp delivered at $t_up, before the restart ($T_RESTART)"
expect_events "$EV_BASE" gb master_down=1 master_up=1
it_log "f. masterDown delivered +$((t_down - T_KILL)) ms after the kill, masterUp +$((t_up - T_RESTART)) ms after the restart (+$((t_up - T_UP)) ms after the controller recorded it)"

ctl_finish
it_log "figures: parked writes $FIG_PARKED; gt1 timeouts ${tmin}..${tmax} ms for command_timeout_ms $TMO; PARK_EXPIRED ${pmin}..${pmax} ms for failover_wait_ms 800; total $(($(now_ms) - T_START)) ms"
