#!/usr/bin/env bash
# lib_farm.sh -- marshal10 farms against real servers.
#
# 4 static groups (one redis-server each): a1 a2 form marshal0 cluster "ca",
# b1 b2 cluster "cb" (ketama, fnv1a_64); farm "farm" mirrors them (primary
# "ca", policy all).  mirror_check drives the library through the public API.
#   1. 200 SETs through the farm are applied on 2 legs (ca, cb) each; every
#      key is on exactly one of a1/a2 and one of b1/b2, with its value, and
#      on the group the cluster targets "ca" and "cb" place it on (read back
#      through them); marshal-shmdump --key agrees.
#   3. MGET of 200 keys through the farm (split over a1/a2 inside "ca")
#      returns every value from ca; DEL of 50 keys + 10 missing returns 50 on
#      both legs, and the 50 keys are gone from all four servers while the
#      other 150 remain.
#   2. kill -9 the group of "ca" holding key far:60 (found with
#      marshal-shmdump --key; --prometheus then counts one member of ca and of
#      the farm that cannot be written, promtool-clean): GET through the farm returns that group's keys
#      from "cb" and the other keys from "ca" (legs), values all right.
#
#   lib_farm.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MIRROR_CHECK
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"
CHECK=$PROBE

NAMES=(a1 a2 b1 b2)
declare -A PORT
for g in "${NAMES[@]}"; do
    pick_port
    PORT[$g]=$IT_PORT
    rstart "$IT_PORT"
done
ctl_conf "" <<CONF
groups = (
  { name = "a1"; master = "127.0.0.1:${PORT[a1]}"; },
  { name = "a2"; master = "127.0.0.1:${PORT[a2]}"; },
  { name = "b1"; master = "127.0.0.1:${PORT[b1]}"; },
  { name = "b2"; master = "127.0.0.1:${PORT[b2]}"; }
);
clusters = (
  { name = "ca"; rule = "marshal0"; distribution = "ketama"; hash = "fnv1a_64"; members = ( "a1", "a2" ); },
  { name = "cb"; rule = "marshal0"; distribution = "ketama"; hash = "fnv1a_64"; members = ( "b1", "b2" ); }
);
farms = (
  { name = "farm"; primary = "ca"; members = ( "ca", "cb" ); }
);
CONF
ctl_start
await 30 "4 groups with masters, ca, cb and the farm published" seg_is "
    ([.groups[] | select(.master != null)] | length) == 4 and
    ([.clusters[] | select(.name == \"ca\" or .name == \"cb\")] | length) == 2 and
    ([.farms[] | select(.name == \"farm\" and .rule == \"marshal10\" and
        ([.members[] | select(.name == \"ca\") | .flags | index(\"primary\")] | length) == 1)] | length) == 1"
it_log "a1 :${PORT[a1]} a2 :${PORT[a2]} (ca), b1 :${PORT[b1]} b2 :${PORT[b2]} (cb)"

# run ARGS...: mirror_check in the foreground (bounded); its output in OUT.
run() {
    local rc=0
    OUT=$(timeout 120 "$CHECK" "$SEG" "$@" 2>"$IT_DIR/check.err.log") || rc=$?
    ! grep -qE 'Sanitizer|runtime error:' "$IT_DIR/check.err.log" ||
        fail "sanitizer report from mirror_check $*: $(head -20 "$IT_DIR/check.err.log")"
    ((rc == 0)) || fail "mirror_check $* (status $rc): $OUT"
}

N=200

# ---- 1. writes land in both clusters, where each cluster places them --------------------
run farm write far $N 2
it_log "$OUT"
declare -A WHERE        # key -> "group-in-ca group-in-cb"
for cl in ca cb; do
    run "$cl" place far $N
    [[ $(grep -c '^far:' <<<"$OUT") == "$N" ]] || fail "place through $cl: $OUT"
    while read -r k g; do WHERE[$k]="${WHERE[$k]:-} $g"; done <<<"$OUT"
done
declare -A COUNT=([a1]=0 [a2]=0 [b1]=0 [b2]=0) PAIR=()
for ((i = 0; i < N; i++)); do
    read -r ga gb <<<"${WHERE[far:$i]}"
    [[ ($ga == a1 || $ga == a2) && ($gb == b1 || $gb == b2) ]] ||
        fail "far:$i placed on '$ga' '$gb'"
    COUNT[$ga]=$((${COUNT[$ga]} + 1))
    COUNT[$gb]=$((${COUNT[$gb]} + 1))
    PAIR[$ga/$gb]=$((${PAIR[$ga/$gb]:-0} + 1))
done
# every key on its group's server with its value, on no other server
for g in "${NAMES[@]}"; do
    keys=()
    for ((i = 0; i < N; i++)); do
        # shellcheck disable=SC2076
        [[ " ${WHERE[far:$i]} " == *" $g "* ]] && keys+=("far:$i")
    done
    ((${#keys[@]} == ${COUNT[$g]} && ${COUNT[$g]} > N / 10)) ||
        fail "$g holds ${#keys[@]} of $N keys by placement: not striped"
    [[ $(rcli "${PORT[$g]}" DBSIZE) == "${COUNT[$g]}" ]] ||
        fail "$g's server holds $(rcli "${PORT[$g]}" DBSIZE) keys, placement says ${COUNT[$g]}"
    [[ $(keys_exist "${PORT[$g]}" "${keys[@]}") == "${COUNT[$g]}" ]] ||
        fail "$g's server lacks keys placed on it"
    got=$(rcli "${PORT[$g]}" MGET "${keys[@]}" | tr -d '\r' | md5sum)
    want=$(printf '%s\n' "${keys[@]}" | sed 's/^far:/v:/' | md5sum)
    [[ $got == "$want" ]] || fail "$g's server has wrong values"
done
it_log "1. every key once in ca (a1 ${COUNT[a1]}, a2 ${COUNT[a2]}) and once in cb (b1 ${COUNT[b1]}, b2 ${COUNT[b2]}), where ca/cb place it; pairs: $(for p in "${!PAIR[@]}"; do printf '%s=%s ' "$p" "${PAIR[$p]}"; done)"
# marshal-shmdump --key names the same groups
for i in 0 7 60 199; do
    for cl in ca cb; do
        EXPL=$("$SHMDUMP" --key "far:$i" --target "$cl" "$SEG") || fail "shmdump --key far:$i: $EXPL"
        DUMP=$(sed -n 's/^  group \([^:]*\): rule.*/\1/p' <<<"$EXPL")
        [[ " ${WHERE[far:$i]} " == *" $DUMP "* && -n $DUMP ]] ||
            fail "far:$i in $cl: library ${WHERE[far:$i]}, shmdump --key '$DUMP': $EXPL"
    done
done

# ---- 3. multi-key MGET (split inside the member cluster), DEL counts -----------------------
run farm fmulti far $N 2
it_log "3. $(tr '\n' ' ' <<<"$OUT")"
Q=$((N / 4))
for g in "${NAMES[@]}"; do
    del=()
    keep=0
    for ((i = 0; i < N; i++)); do
        [[ " ${WHERE[far:$i]} " == *" $g "* ]] || continue
        if ((i < Q)); then del+=("far:$i"); else keep=$((keep + 1)); fi
    done
    ((${#del[@]} == 0)) || [[ $(keys_exist "${PORT[$g]}" "${del[@]}") == 0 ]] ||
        fail "$g still holds keys deleted through the farm"
    [[ $(rcli "${PORT[$g]}" DBSIZE) == "$keep" ]] ||
        fail "$g holds $(rcli "${PORT[$g]}" DBSIZE) keys after DEL, expected $keep"
done
it_log "3. far:0..$((Q - 1)) gone from all four servers, the rest in place"

# ---- 2. reads fall back per key to the other cluster -----------------------------------------
K=far:60
EXPL=$("$SHMDUMP" --key "$K" --target ca "$SEG") || fail "shmdump --key $K: $EXPL"
DOWN=$(sed -n 's/^  group \([^:]*\): rule.*/\1/p' <<<"$EXPL")
read -r ga _ <<<"${WHERE[$K]}"
[[ $DOWN == "$ga" ]] || fail "shmdump --key $K --target ca says '$DOWN', the library placed it on $ga"
rkill "${PORT[$DOWN]}"
await 30 "$DOWN's server shown down" seg_is "$(grp "$DOWN").servers[0].health == \"down\""
it_log "2. kill -9 $DOWN (:${PORT[$DOWN]}), the group of $K in ca"
# the cluster and farm series of marshal-shmdump --prometheus (= /metrics) say so
need promtool
"$SHMDUMP" --prometheus "$SEG" >"$IT_DIR/farm.prom" || fail "shmdump --prometheus"
promtool check metrics <"$IT_DIR/farm.prom" >"$IT_DIR/promtool.txt" 2>&1 ||
    fail "promtool: $(head -5 "$IT_DIR/promtool.txt")"
for want in 'marshal_cluster_members{cluster="ca"} 2' 'marshal_cluster_members{farm="farm"} 2' \
    'marshal_cluster_members_without_master{cluster="ca"} 1' \
    'marshal_cluster_members_without_master{cluster="cb"} 0' \
    'marshal_cluster_members_without_master{farm="farm"} 1' \
    'marshal_cluster_members_diverged{farm="farm"} 0'; do
    grep -qxF "$want" "$IT_DIR/farm.prom" || fail "shmdump --prometheus lacks '$want':"$'\n'"$(grep cluster_members "$IT_DIR/farm.prom")"
done
run farm fread far "$Q" $N ca cb "$DOWN"
it_log "2. $OUT"
