#!/usr/bin/env bash
# adapters.sh -- the asynchronous API through each loop adapter (libev,
# libevent, libuv) against a real redis-server with a password (AUTH on the
# async connections) and the controller publishing it as a static group.
#
#   adapters.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP CHECK_LIBEV CHECK_LIBEVENT CHECK_LIBUV
set -euo pipefail
CTL_SRV_PASS=adapter-secret-1
# shellcheck source=tests/controller/integration/ctl_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../controller/integration/ctl_lib.sh"
ctl_init "$1" "$2"
shift 2
pick_port
P=$IT_PORT
rstart "$P"
printf 'servers = { password = "%s"; };\n' "$CTL_SRV_PASS" >"$IT_DIR/secrets.conf"
chmod 600 "$IT_DIR/secrets.conf"
CTL_CONF_EXTRA="secrets_file = \"$IT_DIR/secrets.conf\";"
ctl_conf <<EOF2
groups = ( { name = "g1"; master = "127.0.0.1:$P"; route = "master"; } );
EOF2
ctl_start
await 20 "g1 published with its master up" seg_is \
    "$(grp g1).master.port == $P and $(grp g1).servers[0].health == \"up\""
for bin in "$@"; do
    out=$(timeout 60 "$bin" "$SEG" g1 2000 "$CTL_SRV_PASS") || fail "$(basename "$bin"): $out"
    it_log "$out"
    [[ $out == "ok "*" sets 2000 gets 2000 closed "* ]] || fail "unexpected: $out"
done
# the values the libev run wrote are on the server
[[ $(rcli "$P" GET k-libev-1999) == v-libev-1999 ]] || fail "k-libev-1999 not on the server"
ctl_finish
it_log "PASS: async API through libev, libevent and libuv (AUTH, 2000 SET/GET each, close in flight)"
