#!/usr/bin/env bash
# lib_readonly.sh -- route master-readonly while the master is down and no
# failover comes (a static group: no sentinels to promote a replica).
#
# kill -9 the master; once the segment shows it down:
#   * reads succeed, served by the replicas (data written before the kill
#     included);
#   * writes fail at once with MARSHAL_ERR_NOMASTER ("no confirmed master"),
#     outcome "not applied", sent nowhere, each in < 1000 ms although
#     failover_wait_ms is 5000: read-only mode does not wait for a failover.
# Restart the master: writes succeed again, on it.
#
#   lib_readonly.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MC_PROBE

# awk and jq programs are single-quoted on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"

lib_static_setup
ctl_conf "" <<EOF
groups = ( { name = "g1"; master = "127.0.0.1:$MP"; replicas = ( "127.0.0.1:$R1", "127.0.0.1:$R2" );
             route = "master-readonly"; } );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP up, both replicas readable" seg_is "
    $G.master.port == $MP and $G.route == \"readonly\" and
    ($G.servers[] | select(.port == $MP) | .health == \"up\") and
    ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"

# with the master up everything goes to it
OUT=$(probe "$SEG" g1 cmd SET ro:before 42) || fail "SET with the master up: $OUT"
if ! grep -qx "server $A:$MP" <<<"$OUT" || ! grep -qx 'outcome applied' <<<"$OUT"; then
    fail "SET with the master up: $OUT"
fi
await 10 "ro:before replicated" eval '[[ $(rcli '"$R1"' GET ro:before) == 42 && $(rcli '"$R2"' GET ro:before) == 42 ]]'

rkill "$MP"
it_log "kill -9 master :$MP (no sentinels: no failover)"
await 20 "segment: master :$MP down, replicas readable" seg_is "
    $G.master.port == $MP and ($G.servers[] | select(.port == $MP) | .health == \"down\") and
    ([$G.servers[] | select(.flags | index(\"readable\")) | .port] | sort) == ([$R1, $R2] | sort)"
probe "$SEG" g1 info | grep -q " up=0 .* readable=2/2 route=readonly " ||
    fail "the library's view with the master down: $(probe "$SEG" g1 info)"

# ---- reads: from the replicas, all succeed ---------------------------------------------
F=$IT_DIR/reads.log
probe "$SEG" g1 read-loop --count 200 --interval-us 1000 --keys 10 --each >"$F" ||
    fail "read-loop: $(tail -n 5 "$F")"
awk -v r1="$A:$R1" -v r2="$A:$R2" '
    $1 != "r" { next }
    { n++ }
    $5 != "OK" || $6 != "applied" || ($7 != r1 && $7 != r2) || $8 ~ /^err:/ { print; bad++ }
    END { exit !(n == 200 && bad == 0) }' "$F" || fail "reads with the master down:"$'\n'"$(head -n 20 "$F")"
OUT=$(probe "$SEG" g1 cmd GET ro:before) || fail "GET ro:before: $OUT"
grep -qx 'reply str:42' <<<"$OUT" || fail "GET ro:before from a replica: $OUT"
grep -qE "^server $A:($R1|$R2)\$" <<<"$OUT" || fail "GET ro:before not served by a replica: $OUT"
it_log "200 reads served by :$R1 ($(summary_server "$F" r "$A:$R1")) and :$R2 ($(summary_server "$F" r "$A:$R2"))"

# ---- writes: refused at once -------------------------------------------------------------
F=$IT_DIR/writes-down.log
probe --failover-wait 5000 "$SEG" g1 write-loop --count 20 --interval-us 10000 --prefix ro: >"$F" ||
    fail "write-loop: $(tail -n 5 "$F")"
awk '
    $1 != "w" { next }
    { n++ }
    $5 != "NOMASTER" || $6 != "not_applied" || $7 != "-" || $8 != "-" || $4 >= 1000 ||
        index($0, "# no confirmed master") == 0 { print; bad++ }
    { if ($4 > max) max = $4 }
    END { printf "max %.1f ms\n", max; exit !(n == 20 && bad == 0) }' "$F" >"$IT_DIR/wcheck.txt" ||
    fail "writes with the master down must fail with NOMASTER, not applied, < 1000 ms:"$'\n'"$(cat "$IT_DIR/wcheck.txt")"
it_log "20 writes refused: NOMASTER, not applied, slowest $(cat "$IT_DIR/wcheck.txt")"
[[ $(rcli "$R1" EXISTS ro:0) == 0 ]] || fail "a refused write exists on :$R1"

# ---- the master back ---------------------------------------------------------------------
rstart "$MP"
it_log "restarted master :$MP"
await 20 "segment: master :$MP up" seg_is "$G.master.port == $MP and ($G.servers[] | select(.port == $MP) | .health == \"up\")"
F=$IT_DIR/writes-up.log
probe "$SEG" g1 write-loop --count 20 --interval-us 10000 --prefix ro: >"$F" ||
    fail "write-loop: $(tail -n 5 "$F")"
awk -v mp="$A:$MP" '$1 == "w" { n++; if ($5 != "OK" || $6 != "applied" || $7 != mp) { print; bad++ } }
    END { exit !(n == 20 && bad == 0) }' "$F" || fail "writes after the master came back:"$'\n'"$(cat "$F")"
[[ $(rcli "$MP" GET ro:19) == 19 ]] || fail "ro:19 not on the master"

ctl_alive || fail "controller died"
ctl_finish
