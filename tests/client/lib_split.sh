#!/usr/bin/env bash
# lib_split.sh -- read/write split by weighted round-robin (power).
#
# A group with a master and 2 replicas of power 1 and 2, route "split"
# (a static group: powers are per-replica settings, the same for sentinel
# groups).  10,000 GETs through the library: counted by the probe and by the
# servers themselves (INFO commandstats, cmdstat_get deltas), the replicas get
# 1/3 and 2/3 (+-2 percentage points), the master none, and both counts agree.
# Writes go to the master.  Then marshal_target_use(MASTER) and
# (MASTER_READONLY with the master up): every GET goes to the master.
#
#   lib_split.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP MC_PROBE

# awk and jq programs are single-quoted on purpose
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=tests/client/lib_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_common.sh"
lib_init "$@"

lib_static_setup
ctl_conf "" <<EOF
groups = ( {
  name = "g1";
  master = "127.0.0.1:$MP";
  replicas = ( { address = "127.0.0.1:$R1"; power = 1; }, { address = "127.0.0.1:$R2"; power = 2; } );
  route = "split";
} );
EOF
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP, :$R1 (power 1) and :$R2 (power 2) readable" seg_is "
    $G.master.port == $MP and $G.route == \"split\" and
    ([$G.servers[] | select(.flags | index(\"readable\")) | [.port, .power]] | sort) ==
    ([[$R1, 1], [$R2, 2]] | sort)"
probe "$SEG" g1 info | grep -q "master=$A:$MP up=1 .* readable=2/2 route=split " ||
    fail "the library's view: $(probe "$SEG" g1 info)"

# reads: N GETs, counted twice
reads() { # NAME N [PROBE OPTIONS...]: run a read-loop, check it succeeded entirely
    local name=$1 n=$2 f=$IT_DIR/$1.log
    shift 2
    B_M=$(cmdstat "$MP" get) B_1=$(cmdstat "$R1" get) B_2=$(cmdstat "$R2" get)
    probe "$@" "$SEG" g1 read-loop --count "$n" --interval-us 0 --keys 100 >"$f" 2>"$IT_DIR/$name.err.log" ||
        fail "read-loop $name failed: $(tail -n 5 "$f")"
    [[ $(summary_field "$f" r n) == "$n" && $(summary_field "$f" r ok) == "$n" ]] ||
        fail "$name: not every read succeeded: $(grep -m 5 '^r ' "$f"; grep '^summary' "$f")"
    P_M=$(summary_server "$f" r "$A:$MP") P_1=$(summary_server "$f" r "$A:$R1") P_2=$(summary_server "$f" r "$A:$R2")
    D_M=$(($(cmdstat "$MP" get) - B_M)) D_1=$(($(cmdstat "$R1" get) - B_1)) D_2=$(($(cmdstat "$R2" get) - B_2))
    it_log "$name: probe master $P_M r1 $P_1 r2 $P_2; servers (cmdstat_get) master $D_M r1 $D_1 r2 $D_2"
    ((P_M + P_1 + P_2 == n)) || fail "$name: probe counts $P_M + $P_1 + $P_2 != $n: $(grep '^summary' "$f")"
    ((D_M == P_M && D_1 == P_1 && D_2 == P_2)) ||
        fail "$name: the servers counted GETs $D_M/$D_1/$D_2, the probe $P_M/$P_1/$P_2"
}

reads split 10000
((P_M == 0)) || fail "split: the master served $P_M GETs"
# shares in basis points: 1/3 = 3333, 2/3 = 6667, +-200
S1=$((P_1 * 10000 / 10000)) S2=$((P_2 * 10000 / 10000))  # of 10,000 reads
((S1 >= 3133 && S1 <= 3533)) || fail "split: power-1 replica share $S1 bp, want 3333 +- 200"
((S2 >= 6467 && S2 <= 6867)) || fail "split: power-2 replica share $S2 bp, want 6667 +- 200"
it_log "split shares: :$R1 $((S1 / 100)).$((S1 % 100 / 10))%, :$R2 $((S2 / 100)).$((S2 % 100 / 10))%"

# writes in split go to the master (the servers' own count: SETs executed
# on the master; replicas replay them through replication, not counted here)
B=$(cmdstat "$MP" set)
probe "$SEG" g1 write-loop --count 200 --interval-us 0 >"$IT_DIR/split-writes.log" ||
    fail "write-loop failed"
[[ $(summary_field "$IT_DIR/split-writes.log" w ok) == 200 &&
   $(summary_server "$IT_DIR/split-writes.log" w "$A:$MP") == 200 ]] ||
    fail "split writes: $(grep '^summary' "$IT_DIR/split-writes.log")"
(($(cmdstat "$MP" set) - B == 200)) || fail "the master executed $(($(cmdstat "$MP" set) - B)) SETs, want 200"

# marshal_target_use(MASTER): every read to the master
reads master 1000 --route master
((P_M == 1000)) || fail "route master: the master served $P_M of 1000 GETs"
grep -q '^info .* route=master ' "$IT_DIR/master.log" || fail "route override not in the target's view"

# MASTER_READONLY while the master is up: the master too
reads readonly 1000 --route readonly
((P_M == 1000)) || fail "route master-readonly (master up): the master served $P_M of 1000 GETs"

ctl_alive || fail "controller died"
ctl_finish
