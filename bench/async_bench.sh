#!/usr/bin/env bash
# bench/async_bench.sh [--controller BIN] ASYNC_BENCH [ARGS...] -- start a
# redis-server on a free 127.0.0.1 port and marshal-controller publishing a
# static group "bench" for it (segment and wake socket in a temp dir), run
# async_bench against them (it pins them for its throughput runs, and kills
# and restarts the server for its wake-latency runs), clean up.  Prints
# figures; asserts none.  Exit 77 when redis-server is not installed.
#
# The controller defaults to the one of ASYNC_BENCH's build
# (BUILD/bench/async_bench -> BUILD/controller/marshal-controller).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/bench_lib.sh
. "$ROOT/bench/bench_lib.sh"     # bench_free_port, bench_redis_start
CTL=${CTL:-}
if [[ ${1:-} == --controller ]]; then
    CTL=$2
    shift 2
fi
(($# >= 1)) || { echo "usage: $0 [--controller BIN] ASYNC_BENCH [ARGS...]" >&2; exit 64; }
BIN=$1
shift
CTL=${CTL:-$(dirname "$BIN")/../controller/marshal-controller}
command -v redis-server >/dev/null || { echo "redis-server not installed: skipped"; exit 77; }
[[ -x $BIN ]] || { echo "$0: not executable: $BIN" >&2; exit 2; }
[[ -x $CTL ]] || { echo "$0: not executable: $CTL (pass --controller)" >&2; exit 2; }
# a short path: the wake socket <segment>.wake must fit in sun_path
DIR=$(mktemp -d /tmp/async_bench.XXXXXX)
PIDS=()
CTL_PID=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local p i
    if [[ -n $CTL_PID ]]; then
        kill -TERM "$CTL_PID" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$CTL_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$CTL_PID" 2>/dev/null || true
        wait "$CTL_PID" 2>/dev/null || true
    fi
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

bench_redis_start M
SERVER_PID=$BENCH_REDIS_PID
# async_bench kill -9s it (and restarts its own): no "Killed" job notice
disown "$SERVER_PID"
cat >"$DIR/marshal.conf" <<EOF
segment = {
  path = "$DIR/segment";
  mode = "0640";
  heartbeat_ms = 100;
  stale_after_ms = 3000;
  capacity = { groups = 4; servers = 8; clusters = 1; long_names = 1; events = 1024; slot_maps = 1; };
};
log = { level = "notice"; };
health = { interval_ms = 100; timeout_ms = 250; info_ms = 1000; down_after = 3; up_after = 2; };
groups = ( { name = "bench"; master = "127.0.0.1:$M"; route = "master"; } );
EOF
"$CTL" -c "$DIR/marshal.conf" --check-config >"$DIR/check.out" 2>&1 ||
    { cat "$DIR/check.out" >&2; echo "$0: config rejected" >&2; exit 1; }
"$CTL" -c "$DIR/marshal.conf" 2>"$DIR/controller.log" &
CTL_PID=$!
rc=0
"$BIN" --port "$M" --segment "$DIR/segment" --server-pid "$SERVER_PID" --server-dir "$DIR" \
    --pin-pid "$SERVER_PID" --pin-pid "$CTL_PID" "$@" || rc=$?
if ((rc != 0)); then
    echo "$0: async_bench exit $rc; controller log:" >&2
    tail -n 20 "$DIR/controller.log" >&2
fi
exit "$rc"
