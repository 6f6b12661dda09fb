#!/usr/bin/env bash
# address_map.sh -- NAT / announce-ip: a replica announces another address
# (replica-announce-ip 127.0.0.3, which the sentinel reaches), so sentinels
# report it under that address.  The configured address_map translates it
# to 127.0.0.1 before anything is published or health-checked: the segment
# shows the replica at the mapped address, up and readable, and the
# announced address appears nowhere.
#
#   address_map.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"

pick_port; MP=$IT_PORT
pick_port; R1=$IT_PORT
pick_port; S1=$IT_PORT
rstart "$MP"
mkdir -p "$IT_DIR/replica"
redis-server --port "$R1" --bind 127.0.0.1 127.0.0.3 --save '' --appendonly no \
    --dir "$IT_DIR/replica" --logfile "$IT_DIR/replica/redis.log" --replicaof 127.0.0.1 "$MP" \
    --replica-announce-ip 127.0.0.3 >/dev/null 2>&1 &
IT_PIDS+=("$!")
await 20 "replica up" pong_r "$R1"
await 30 "master lists the replica as 127.0.0.3" \
    eval 'rcli '"$MP"' INFO replication | tr -d "\r" | grep -q "ip=127.0.0.3,port='"$R1"',state=online"'
CTL_SENTINEL_DEBUG="info-period 100 ping-period 100" sstart "$S1" "$MP"
await 30 "sentinel reports the announced address" \
    eval 'scli '"$S1"' SENTINEL REPLICAS '"$CTL_GROUP"' | tr -d "\r" | grep -qx "127.0.0.3"'

CTL_CONF_EXTRA="address_map = ( { from = \"127.0.0.3:$R1\"; to = \"127.0.0.1:$R1\"; } );"
ctl_conf "\"127.0.0.1:$S1\"" <<EOF
groups = ( { name = "$CTL_GROUP"; sentinel = true; route = "split"; } );
EOF
ctl_start
G=$(grp "$CTL_GROUP")
await 30 "replica published at its mapped address, up and readable" seg_is "
    $G.master.port == $MP and
    ([$G.servers[] | select(.port == $R1 and .host == \"127.0.0.1\" and .health == \"up\"
                            and (.flags | index(\"readable\")))] | length) == 1"
seg_is "[$G.servers[] | select(.host == \"127.0.0.3\")] | length == 0" ||
    fail "the unmapped announced address was published: $(sj | jq -c "$G.servers")"
ctl_finish
