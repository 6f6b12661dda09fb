#!/usr/bin/env bash
# lib_slots.sh -- marshal0 with distribution "slots" (Redis Cluster hash
# slots, CRC16 & 16383, kept in a slot map in the segment) against real
# servers, with a cluster-enabled redis-server as the oracle of the slot of
# every key (CLUSTER KEYSLOT: Redis's own code, not ours).
#
# 3 static groups t1..t3 (one redis-server each), cluster "slotted":
# t1 0-5460, t2 5461-10922, t3 10923-16383.
#   1. 1200 keys written through Marshal: each lands on the server whose
#      range holds the key's slot as Redis computes it; the three servers
#      hold all 1200; reads back (split MGETs) return every value.
#   2. marshal-shmdump shows each member's slot count and ranges (table and
#      JSON) and --key agrees with the library, tags included.
#   3. Split/merge multi-key commands and {tag} keys, as for ketama.
#   4. Reload moving slots 5000-5460 from t1 to t3: the controller logs how
#      many slots moved; keys of moved slots now route to t3, every other
#      key still routes where it did.
#   5. A config where slots overlap or leave a gap is refused (exit 2,
#      file:line: setting).
#   6. A second cluster "weighted" without slot lists over t1..t3 with
#      powers 1, 1, 2: the controller splits the slots 4096/4096/8192, and
#      100,000 keys land within 2 points of each member's weight share.
#
#   lib_slots.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP CLUSTER_CHECK
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"
CHECK=$PROBE

rstart_n 3
# the oracle: a cluster-enabled redis-server answers CLUSTER KEYSLOT
pick_port
ORACLE=$IT_PORT
mkdir -p "$IT_DIR/oracle"
redis-server --port "$ORACLE" --bind 127.0.0.1 --save '' --appendonly no --cluster-enabled yes \
    --cluster-config-file "$IT_DIR/oracle/nodes.conf" --dir "$IT_DIR/oracle" \
    --logfile "$IT_DIR/oracle/redis.log" >/dev/null 2>&1 &
IT_PIDS+=("$!")
await 20 "oracle redis-server :$ORACLE up" pong_r "$ORACLE"

slots_conf() { # slots_conf RANGE1 RANGE2 RANGE3
    ctl_conf "" <<CONF
groups = (
  { name = "t1"; master = "127.0.0.1:${P[0]}"; },
  { name = "t2"; master = "127.0.0.1:${P[1]}"; },
  { name = "t3"; master = "127.0.0.1:${P[2]}"; }
);
clusters = ( {
  name = "slotted"; rule = "marshal0"; distribution = "slots";
  members = ( { name = "t1"; slots = "$1"; }, { name = "t2"; slots = "$2"; },
              { name = "t3"; slots = "$3"; } );
}, {
  name = "weighted"; rule = "marshal0"; distribution = "slots";
  members = ( "t1", "t2", { name = "t3"; power = 2; } );
} );
CONF
}
slots_conf "0-5460" "5461-10922" "10923-16383"
ctl_start
member_q() { printf '(.clusters[] | select(.name == "slotted") | .members[] | select(.name == "%s"))' "$1"; }
await 30 "3 groups with masters and the slot map published" seg_is "
    ([.groups[] | select(.master != null)] | length) == 3 and
    $(member_q t1).slots == 5461 and $(member_q t2).slots == 5462 and $(member_q t3).slots == 5461"
it_log "groups t1..t3 on :${P[*]}; oracle :$ORACLE"

# slot_of KEY...: Redis's slot of each key, one per line
slot_of() {
    local k
    for k in "$@"; do printf 'CLUSTER KEYSLOT "%s"\n' "$k"; done | timeout 60 redis-cli -p "$ORACLE"
}
# owner SLOT LO1 HI1 LO2 HI2 ...: position (0-based) of the range holding SLOT
in_range() { (($1 >= $2 && $1 <= $3)); }

# ---- 1. placement: every key on the server owning its slot -----------------------------
N=1200
OUT=$(timeout 60 "$CHECK" "$SEG" slotted write sk "$N") || fail "write: $OUT"
TOTAL=0
for i in 0 1 2; do
    mapfile -t KEYS < <(timeout 30 redis-cli -p "${P[$i]}" --scan | sort)
    TOTAL=$((TOTAL + ${#KEYS[@]}))
    ((${#KEYS[@]} > N / 6)) || fail "t$((i + 1)) holds only ${#KEYS[@]} of $N keys"
    mapfile -t SL < <(slot_of "${KEYS[@]}")
    ((${#SL[@]} == ${#KEYS[@]})) || fail "oracle answered ${#SL[@]} of ${#KEYS[@]} slots"
    for j in "${!KEYS[@]}"; do
        s=${SL[$j]}
        case $i in
        0) in_range "$s" 0 5460 ;;
        1) in_range "$s" 5461 10922 ;;
        2) in_range "$s" 10923 16383 ;;
        esac || fail "key ${KEYS[$j]} (slot $s per Redis) is on t$((i + 1))"
    done
done
((TOTAL == N)) || fail "the servers hold $TOTAL keys, not $N"
OUT=$(timeout 60 "$CHECK" "$SEG" slotted verify sk "$N") || fail "verify: $OUT"
it_log "$N keys: each on the group owning its Redis slot; read back: $OUT"

# ---- 2. shmdump: table, JSON, --key ------------------------------------------------------
TABLE=$("$SHMDUMP" "$SEG")
grep -q 'slots 5461 (0-5460)' <<<"$TABLE" || fail "table lacks t1's slots: $TABLE"
grep -q 'slots 5461 (10923-16383)' <<<"$TABLE" || fail "table lacks t3's slots: $TABLE"
seg_is "$(member_q t2).slot_ranges == \"5461-10922\"" || fail "JSON slot_ranges of t2"
for k in sk:0 sk:7 sk:1199 "{user1000}.following" "{user1000}.followers" "a{b}c" "{}x" ""; do
    LIB=$(timeout 10 "$CHECK" "$SEG" slotted where "$k") || fail "where $k: $LIB"
    EXPL=$("$SHMDUMP" --key "$k" --target slotted "$SEG") || fail "shmdump --key '$k': $EXPL"
    DUMP=$(sed -n 's/^  group \([^:]*\): rule.*/\1/p' <<<"$EXPL")
    S=$(sed -n 's/.*-> slot \([0-9]*\)$/\1/p' <<<"$EXPL")
    [[ -n $DUMP && $DUMP == "$LIB" ]] || fail "key '$k': library -> '$LIB', shmdump -> '$DUMP': $EXPL"
    [[ $S == "$(slot_of "$k")" ]] || fail "key '$k': shmdump slot $S, Redis $(slot_of "$k")"
done
it_log "shmdump table/JSON show the ranges; --key agrees with the library and with Redis's slot"

# ---- 3. multi-key split/merge and tags ------------------------------------------------------
OUT=$(timeout 60 "$CHECK" "$SEG" slotted multikey mk) || fail "$OUT"
it_log "$(tr '\n' ' ' <<<"$OUT")"
OUT=$(timeout 60 "$CHECK" "$SEG" slotted tags) || fail "$OUT"
it_log "$OUT"

# ---- 4. move slots 5000-5460 from t1 to t3 by a reload -------------------------------------
SAMPLE=()
for ((i = 0; i < 300; i++)); do SAMPLE+=("sk:$i"); done
mapfile -t SSL < <(slot_of "${SAMPLE[@]}")
declare -A BEFORE
for k in "${SAMPLE[@]}"; do BEFORE[$k]=$(timeout 10 "$CHECK" "$SEG" slotted where "$k"); done
slots_conf "0-4999" "5461-10922" "5000-5460,10923-16383"
kill -HUP "$CTL_PID"
await 30 "the new slot map published" seg_is "$(member_q t1).slots == 5000 and $(member_q t3).slots == 5922"
grep -q 'cluster slotted: 461 of 16384 slots' "$CTL_LOG" || fail "no moved-slots line in the log"
MOVED=0
for j in "${!SAMPLE[@]}"; do
    k=${SAMPLE[$j]}
    now=$(timeout 10 "$CHECK" "$SEG" slotted where "$k")
    if in_range "${SSL[$j]}" 5000 5460; then
        [[ $now == t3 ]] || fail "key $k (slot ${SSL[$j]}) routes to $now after the move, not t3"
        MOVED=$((MOVED + 1))
    else
        [[ $now == "${BEFORE[$k]}" ]] || fail "key $k (slot ${SSL[$j]}) moved ${BEFORE[$k]} -> $now"
    fi
done
((MOVED > 0)) || fail "no sampled key in the moved range (test too small)"
it_log "reload moved 461 slots: $MOVED of 300 sampled keys now on t3, the rest unchanged"

# ---- 5. refused tables ------------------------------------------------------------------------
for bad in "0-5460|5000-10922|10923-16383|overlap|slot 5000 is already assigned" \
           "0-5460|5461-10900|10923-16383|gap|slots 10901-10922 are not assigned" \
           "0-5460|5461-10922|10923-16384|range|bad slot range"; do
    IFS='|' read -r a b c what msg <<<"$bad"
    slots_conf "$a" "$b" "$c"
    set +e
    OUT=$("$CTL" -c "$CONF" --check-config 2>&1)
    rc=$?
    set -e
    ((rc == 2)) || fail "$what: --check-config exit $rc: $OUT"
    grep -q "$CONF:[0-9]*: clusters" <<<"$OUT" && grep -qF "$msg" <<<"$OUT" ||
        fail "$what: want '$CONF:LINE: clusters...: $msg', got: $OUT"
done
it_log "overlap, gap and out-of-range tables refused with file:line"

# ---- 6. weights: the default split follows power -------------------------------------------
wmember_q() { printf '(.clusters[] | select(.name == "weighted") | .members[] | select(.name == "%s"))' "$1"; }
seg_is "$(wmember_q t1).slot_ranges == \"0-4095\" and $(wmember_q t2).slot_ranges == \"4096-8191\" and
        $(wmember_q t3).slot_ranges == \"8192-16383\"" || fail "default split of weighted: $(sj | jq -c '.clusters')"
NK=100000
OUT=$(timeout 120 "$CHECK" "$SEG" weighted share wk "$NK") || fail "share: $OUT"
for spec in "t1 25" "t2 25" "t3 50"; do
    read -r g want <<<"$spec"
    got=$(awk -v g="$g" '$1 == g { print $2 }' <<<"$OUT")
    [[ -n $got ]] || fail "no key landed on $g: $OUT"
    # within 2 percentage points of the weight share
    ((got * 100 >= (want - 2) * NK && got * 100 <= (want + 2) * NK)) ||
        fail "$g got $got of $NK keys, want ${want}% +-2: $OUT"
done
it_log "weighted 1:1:2 -> slots 4096/4096/8192; $NK keys: $(tr '\n' ' ' <<<"$OUT")"
it_log "PASS"
