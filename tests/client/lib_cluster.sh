#!/usr/bin/env bash
# lib_cluster.sh -- marshal0 striping against real servers and twemproxy.
#
# 4 static groups s1..s4 (one redis-server each; s4 also has a replica and
# route split), a marshal0 cluster "stripe" (ketama, fnv1a_64, hash tag "{}")
# over them.  Debian's nutcracker (twemproxy 0.5.0) runs over the same 4
# servers, named s1..s4 (the ketama node strings), weight 1 each.
#   1. 3000 keys written through nutcracker are all read back through
#      Marshal (MGET split over the groups, 100 keys per command): Marshal
#      places every key on the server twemproxy chose.  The reverse too:
#      1000 keys written through Marshal are all found through nutcracker.
#   2. Split/merge of MSET, MGET, EXISTS, TOUCH, DEL, UNLINK across groups;
#      a cross-group command is refused (not applied); a keyless one too.
#   3. {tag} keys stay in one group.
#   4. s2's server is killed: its keys fail (not applied) while the other
#      groups' keys are served, and no key moves (DBSIZE of the others
#      unchanged).
#
#   lib_cluster.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP CLUSTER_CHECK
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"
CHECK=$PROBE
need nutcracker

rstart_n 4
pick_port
R4=$IT_PORT
rstart "$R4" "${P[3]}"
ctl_conf "" <<CONF
groups = (
  { name = "s1"; master = "127.0.0.1:${P[0]}"; },
  { name = "s2"; master = "127.0.0.1:${P[1]}"; },
  { name = "s3"; master = "127.0.0.1:${P[2]}"; },
  { name = "s4"; master = "127.0.0.1:${P[3]}"; replicas = ( "127.0.0.1:$R4" ); route = "split"; }
);
clusters = ( {
  name = "stripe"; rule = "marshal0"; distribution = "ketama"; hash = "fnv1a_64"; hash_tag = "{}";
  members = ( "s1", "s2", "s3", "s4" );
} );
CONF
ctl_start
await 30 "4 groups with masters, s4's replica readable, the cluster published" seg_is "
    ([.groups[] | select(.master != null)] | length) == 4 and
    ([$(grp s4).servers[] | select(.port == $R4 and (.flags | index(\"readable\")))] | length) == 1 and
    ([.clusters[] | select(.name == \"stripe\")] | length) == 1"
it_log "groups s1..s4 on :${P[*]}, s4's replica :$R4"

pick_port
NC_PORT=$IT_PORT
pick_port
NC_STATS=$IT_PORT
cat >"$IT_DIR/nutcracker.yml" <<CONF
stripe:
  listen: 127.0.0.1:$NC_PORT
  hash: fnv1a_64
  hash_tag: "{}"
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  servers:
   - 127.0.0.1:${P[0]}:1 s1
   - 127.0.0.1:${P[1]}:1 s2
   - 127.0.0.1:${P[2]}:1 s3
   - 127.0.0.1:${P[3]}:1 s4
CONF
start_bg nutcracker nutcracker -c "$IT_DIR/nutcracker.yml" -o "$IT_DIR/nutcracker.out" \
    -s "$NC_STATS" -a 127.0.0.1 -p "$IT_DIR/nutcracker.pid"
# shellcheck disable=SC2016
await 10 "nutcracker answers" eval '[[ $(timeout 2 redis-cli -p '"$NC_PORT"' SET nc:probe 1 2>/dev/null) == OK ]]'
timeout 5 redis-cli -p "$NC_PORT" DEL nc:probe >/dev/null

# ---- 1. placement parity with twemproxy, both directions -------------------------------
# (redis-cli reading commands from stdin, one round trip each: --pipe ends
# with an ECHO, which twemproxy does not proxy)
N=3000
for ((i = 0; i < N; i++)); do printf 'SET nc:%d v:%d\n' "$i" "$i"; done |
    timeout 120 redis-cli -p "$NC_PORT" >"$IT_DIR/nc-set.log" 2>&1 ||
    fail "writing through nutcracker: $(tail -5 "$IT_DIR/nc-set.log")"
OKS=$(grep -c '^OK$' "$IT_DIR/nc-set.log" || true)
((OKS == N)) || fail "nutcracker acknowledged $OKS of $N SETs: $(grep -v '^OK$' "$IT_DIR/nc-set.log" | head -3)"
TOTAL=0
for i in 0 1 2 3; do
    n=$(rcli "${P[$i]}" DBSIZE)
    ((n > N / 10)) || fail "server s$((i + 1)) holds only $n of $N keys: not striped"
    TOTAL=$((TOTAL + n))
done
((TOTAL == N)) || fail "the servers hold $TOTAL keys, not $N"
# s4 reads from its replica (split): let replication catch up first
# shellcheck disable=SC2016
await 30 "s4's replica has s4's keys" eval '[[ $(rcli '"$R4"' DBSIZE) == $(rcli '"${P[3]}"' DBSIZE) ]]'
OUT=$(timeout 60 "$CHECK" "$SEG" stripe verify nc "$N") || fail "marshal vs nutcracker: $OUT"
it_log "nutcracker wrote $N keys; Marshal read them all back: $OUT"
OUT=$(timeout 60 "$CHECK" "$SEG" stripe write mw 1000) || fail "$OUT"
MISSING=$(for ((i = 0; i < 1000; i++)); do printf 'GET mw:%d\n' "$i"; done |
    timeout 60 redis-cli -p "$NC_PORT" | grep -vc '^v:' || true)
((MISSING == 0)) || fail "$MISSING of 1000 keys written through Marshal not found through nutcracker"
it_log "Marshal wrote 1000 keys; nutcracker found them all"

# marshal-shmdump --key names the same group as the library, for keys with and without tags
for k in nc:0 nc:17 nc:300 nc:2999 mw:5 "{user1000}.following" "a{b}c" "{}x" ""; do
    LIB=$(timeout 10 "$CHECK" "$SEG" stripe where "$k") || fail "where $k: $LIB"
    EXPL=$("$SHMDUMP" --key "$k" --target stripe "$SEG") || fail "shmdump --key '$k': $EXPL"
    DUMP=$(sed -n 's/^  group \([^:]*\): rule.*/\1/p' <<<"$EXPL")
    [[ -n $DUMP && $DUMP == "$LIB" ]] || fail "key '$k': library -> '$LIB', shmdump --key -> '$DUMP': $EXPL"
done
grep -q 'hash tag: hashing "user1000"' <<<"$("$SHMDUMP" --key "{user1000}.following" "$SEG")" ||
    fail "shmdump --key does not show the hash tag"
it_log "shmdump --key agrees with the library: $(sed -n 3p <<<"$EXPL")"

# ---- 2. multi-key split and merge, refusals --------------------------------------------
OUT=$(timeout 60 "$CHECK" "$SEG" stripe multikey mk) || fail "$OUT"
it_log "$(tr '\n' ' ' <<<"$OUT")"

# ---- 3. hash tags ------------------------------------------------------------------------
OUT=$(timeout 60 "$CHECK" "$SEG" stripe tags) || fail "$OUT"
it_log "$OUT"

# ---- 4. a down group keeps its keys ------------------------------------------------------
declare -A BEFORE
for i in 0 2 3; do BEFORE[$i]=$(rcli "${P[$i]}" DBSIZE); done
rkill "${P[1]}"
await 30 "s2's server shown down" seg_is "$(grp s2).servers[0].health == \"down\""
OUT=$(timeout 120 "$CHECK" "$SEG" stripe down nc 1000 s2) || fail "$OUT"
it_log "$OUT"
for i in 0 2 3; do
    [[ $(rcli "${P[$i]}" DBSIZE) == "${BEFORE[$i]}" ]] || fail "keys moved to s$((i + 1)) while s2 was down"
done
it_log "PASS"
