#!/usr/bin/env bash
# lib_mirror.sh -- marshal1 mirroring against real servers.
#
# 3 static groups g1 g2 g3 (one redis-server each); cluster "mirA" (marshal1,
# policy all) and "mirP" (marshal1, policy primary) over g1 (primary) g2 g3.
# mirror_check drives the library through the public API.
#   1. policy all: 200 SETs through mirA are applied on 3 legs each, and every
#      server holds every key with its value.
#   2. g3's server is killed -9 while mirror_check writes in a loop: before,
#      every write applied on all 3 legs; after, every write fails with
#      outcome partial (g1, g2 applied, g3 not applied -- unknown only for
#      the write in flight), never applied; g1 and g2 hold every key written.
#      Reads keep being served by the primary g1.
#   3. policy all-vs-primary: with g3 down, 100 SETs through mirP are
#      acknowledged (applied): g1's leg applied, g2's unknown at return, g3's
#      not applied with an error; g1 and g2 hold them all; g2's replies all
#      succeeded and g3 was reported diverged for every write (log callback).
#   4. Divergence in the segment: mirA's and mirP's member g3 is marked
#      "diverged", g1 and g2 are not (skipped with a message when the
#      controller has no control socket <segment>.ctl).
#   6. (g3 restarted, empty) Refused on mirA: SPOP, EXPIRE, PEXPIRE, SET EX/PX,
#      SETEX, GETEX EX, EVAL, MULTI, EXEC, pipelines -- MARSHAL_ERR_UNSUPPORTED,
#      not applied, no leg; no server ran any of them (INFO commandstats,
#      SCARD, GET, TTL unchanged everywhere).  Allowed: SET EXAT and PEXPIREAT
#      (same absolute expiry on all three), SRANDMEMBER (a read, on g1 only).
#   5. g1's server is killed: GETs through mirA and mirP are served by the
#      mirror g2 with the right values (g3, restarted empty, could not give
#      them).  With divergence support: g2 killed too, a GET through mirA
#      fails (NOSERVER) rather than reading from the diverged g3.
#
#   lib_mirror.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MIRROR_CHECK
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"
CHECK=$PROBE

rstart_n 3
ctl_conf "" <<CONF
groups = (
  { name = "g1"; master = "127.0.0.1:${P[0]}"; },
  { name = "g2"; master = "127.0.0.1:${P[1]}"; },
  { name = "g3"; master = "127.0.0.1:${P[2]}"; }
);
clusters = (
  { name = "mirA"; rule = "marshal1"; policy = "all"; primary = "g1"; members = ( "g1", "g2", "g3" ); },
  { name = "mirP"; rule = "marshal1"; policy = "primary"; primary = "g1"; members = ( "g1", "g2", "g3" ); }
);
CONF
ctl_start

# cl NAME: jq filter for cluster NAME
cl() { printf '(.clusters[] | select(.name == "%s"))' "$1"; }
# mflags CLUSTER GROUP: jq expression, the flags of member GROUP of CLUSTER
mflags() { printf '(%s.members[] | select(.name == "%s") | .flags)' "$(cl "$1")" "$2"; }

await 30 "3 groups with masters, mirA and mirP published" seg_is "
    ([.groups[] | select(.master != null)] | length) == 3 and
    $(cl mirA).rule == \"marshal1\" and $(cl mirA).mirror_policy == \"all\" and
    $(cl mirP).rule == \"marshal1\" and $(cl mirP).mirror_policy == \"primary\" and
    ($(mflags mirA g1) | index(\"primary\")) and ($(mflags mirP g1) | index(\"primary\"))"
it_log "groups g1 g2 g3 on :${P[*]}"

# run NAME ARGS...: mirror_check in the foreground (bounded); its output in OUT.
run() {
    local rc=0
    OUT=$(timeout 120 "$CHECK" "$SEG" "$@" 2>"$IT_DIR/check.err.log") || rc=$?
    ! grep -qE 'Sanitizer|runtime error:' "$IT_DIR/check.err.log" ||
        fail "sanitizer report from mirror_check $*: $(head -20 "$IT_DIR/check.err.log")"
    ((rc == 0)) || fail "mirror_check $* (status $rc): $OUT"
    it_log "$(tr '\n' ' ' <<<"$OUT")"
}

# has_keys PORT PREFIX N: the server on PORT holds PREFIX:i = v:i for every i < N.
has_keys() {
    local port=$1 p=$2 n=$3 got want
    # shellcheck disable=SC2046
    got=$(rcli "$port" MGET $(printf "$p:%d " $(seq 0 $((n - 1)))) | tr -d '\r' | md5sum)
    want=$(printf 'v:%d\n' $(seq 0 $((n - 1))) | md5sum)
    [[ $got == "$want" ]]
}

# down GROUP: wait until the segment shows GROUP's only server down.
await_down() { await 30 "$1's server shown down" seg_is "$(grp "$1").servers[0].health == \"down\""; }
await_up() {
    await 30 "$1's master published and up" seg_is \
        "$(grp "$1").master != null and $(grp "$1").servers[0].health == \"up\""
}

# ---- 1. policy all: every write on every group -----------------------------------------
run mirA write k 200 3
for i in 0 1 2; do
    [[ $(rcli "${P[$i]}" DBSIZE) == 200 ]] || fail "g$((i + 1)) holds $(rcli "${P[$i]}" DBSIZE) keys, not 200"
    has_keys "${P[$i]}" k 200 || fail "g$((i + 1)) lacks some k:i = v:i"
done
it_log "1. all three servers hold the 200 keys"

# ---- 2. kill g3 while writing: partial, never applied ----------------------------------
"$CHECK" "$SEG" mirA killrun kr g3 20 60 >"$IT_DIR/killrun.log" 2>"$IT_DIR/killrun.err.log" &
KPID=$!
IT_PIDS+=("$KPID")
await 30 "mirror_check applied 200 writes" grep -q '^progress ' "$IT_DIR/killrun.log"
rkill "${P[2]}"
it_log "kill -9 g3 (:${P[2]}) after: $(cat "$IT_DIR/killrun.log")"
rc=0
wait "$KPID" || rc=$?
((rc == 0)) || fail "killrun (status $rc): $(cat "$IT_DIR/killrun.log")"
! grep -qE 'Sanitizer|runtime error:' "$IT_DIR/killrun.err.log" || fail "sanitizer report from killrun"
KR=$(grep '^killrun:' "$IT_DIR/killrun.log") || fail "killrun printed no summary: $(cat "$IT_DIR/killrun.log")"
it_log "2. $KR"
LAST=$(awk '{ for (i = 1; i < NF; i++) if ($i == "last") print $(i + 1) }' <<<"$KR")
[[ $LAST =~ ^[0-9]+$ ]] || fail "no last write in: $KR"
for i in 0 1; do
    has_keys "${P[$i]}" kr $((LAST + 1)) ||
        fail "g$((i + 1)) lacks some of kr:0..$LAST (its legs were all applied)"
done
it_log "2. g1 and g2 hold all $((LAST + 1)) keys of the run"
run mirA read k 200 g1
run mirA read kr $((LAST + 1 < 500 ? LAST + 1 : 500)) g1

# ---- 3. policy primary with g3 down: acknowledged, failure counted -----------------------
await_down g3
run mirP primary kp 100 g1 g3
for i in 0 1; do
    has_keys "${P[$i]}" kp 100 || fail "g$((i + 1)) lacks some of kp:0..99"
done
it_log "3. g1 and g2 hold kp:0..99"
run mirP read kp 100 g1

# ---- 4. divergence in the segment ---------------------------------------------------------
DIVERGENCE=0
if [[ -S $SEG.ctl ]]; then
    DIVERGENCE=1
    for c in mirA mirP; do
        await 10 "$c: member g3 diverged" seg_is "$(mflags "$c" g3) | index(\"diverged\")"
        seg_is "($(mflags "$c" g1) | index(\"diverged\") | not) and
                ($(mflags "$c" g2) | index(\"diverged\") | not)" ||
            fail "$c: a member that applied every write is marked diverged: $(seg_q "$(cl "$c") | tojson")"
    done
    (($(ev_count mirror_diverged) >= 1)) || fail "no mirror_diverged event: $(ev_list)"
    it_log "4. g3 marked diverged in mirA and mirP (only g3)"
else
    it_log "4. SKIP: the controller has no control socket ($SEG.ctl absent): divergence not checked"
fi

# ---- 6. refusals (all three up again; g3 restarted empty) ----------------------------------
rstart "${P[2]}"
await_up g3
for i in 0 1 2; do
    rcli "${P[$i]}" SADD rs a b c d e >/dev/null
    rcli "${P[$i]}" SET rk orig >/dev/null
done
# stats PORT: "cmd calls" for the commands a refusal must not reach (one INFO call)
CMDS='spop|expire|pexpire|setex|getex|eval|multi|exec|set|srandmember|pexpireat'
stats() {
    rcli "$1" INFO commandstats | tr -d '\r' |
        sed -nE "s/^cmdstat_($CMDS):calls=([0-9]+),.*/\1 \2/p" | sort
}
declare -A BASE
for i in 0 1 2; do BASE[$i]=$(stats "${P[$i]}"); done
run mirA refuse rk rs
for i in 0 1 2; do
    [[ $(stats "${P[$i]}") == "${BASE[$i]}" ]] ||
        fail "g$((i + 1)) ran a refused command: before: ${BASE[$i]//$'\n'/, }; after: $(stats "${P[$i]}" | paste -sd,)"
    [[ $(rcli "${P[$i]}" SCARD rs) == 5 ]] || fail "g$((i + 1)): SCARD rs = $(rcli "${P[$i]}" SCARD rs) after a refused SPOP"
    [[ $(rcli "${P[$i]}" GET rk) == orig ]] || fail "g$((i + 1)): rk changed by a refused command"
    [[ $(rcli "${P[$i]}" TTL rk) == -1 ]] || fail "g$((i + 1)): rk got a TTL from a refused command"
done
it_log "6. no server ran any refused command"
NOW_MS=$(($(date +%s%3N)))
ABS_S=$((NOW_MS / 1000 + 3600))
ABS_MS=$((NOW_MS + 7200000))
run mirA allowed rk rs "$ABS_S" "$ABS_MS" 3
for i in 0 1 2; do
    [[ $(rcli "${P[$i]}" EXPIRETIME rk:exat) == "$ABS_S" ]] ||
        fail "g$((i + 1)): EXPIRETIME rk:exat = $(rcli "${P[$i]}" EXPIRETIME rk:exat), expected $ABS_S"
    [[ $(rcli "${P[$i]}" GET rk:exat) == v ]] || fail "g$((i + 1)): rk:exat not set"
    [[ $(rcli "${P[$i]}" PEXPIRETIME rk) == "$ABS_MS" ]] ||
        fail "g$((i + 1)): PEXPIRETIME rk = $(rcli "${P[$i]}" PEXPIRETIME rk), expected $ABS_MS"
    [[ $(rcli "${P[$i]}" SCARD rs) == 5 ]] || fail "g$((i + 1)): SRANDMEMBER changed rs"
done
[[ $(cmdstat "${P[0]}" srandmember) == 20 ]] ||
    fail "g1 ran $(cmdstat "${P[0]}" srandmember) SRANDMEMBER, expected 20"
for i in 1 2; do
    [[ $(cmdstat "${P[$i]}" srandmember) == 0 ]] ||
        fail "g$((i + 1)) ran SRANDMEMBER: a read goes to the primary only"
done
it_log "6. SET EXAT / PEXPIREAT gave the same absolute expiry on all three; SRANDMEMBER read g1 only"

# ---- 5. reads fall back to the mirror ------------------------------------------------------
rkill "${P[0]}"
await_down g1
[[ $(rcli "${P[2]}" EXISTS k:0 kp:0) == 0 ]] || fail "g3 (restarted empty) holds k:0/kp:0"
run mirA read k 200 g2
run mirP read kp 100 g2
it_log "5. with g1 down, reads through mirA and mirP come from g2 with the right values"
if ((DIVERGENCE)); then
    rkill "${P[1]}"
    await_down g2
    run mirA readfail k:0
    it_log "5. g1 and g2 down: the diverged g3 is not read from"
else
    it_log "5. SKIP (no divergence support): not checking that a diverged mirror is skipped"
fi
