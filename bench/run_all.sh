#!/usr/bin/env bash
# bench/run_all.sh [OUT.md] -- run every Marshal benchmark once, in order, on
# this machine and write a Markdown report (default: stdout) in the shape of
# docs/BENCHMARKS.md: the machine, the exact commands, and each program's
# printed figures.  Installs nothing; brings build/normal up to date (via
# scripts/lib.sh); starts its own redis-server / redis-sentinel / nutcracker
# processes on loopback and cleans up.  About 9 minutes on 2 vCPUs.
# Dependencies: ./scripts/test.sh installs them (or see README.md).
#
# Every comparison is measured inside one program run, interleaved (A B A B),
# and printed as ratios (median, min, max over rounds): absolute numbers on a
# shared machine drift, ratios much less.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MARSHAL_ROOT=$ROOT
OUT=${1:-/dev/stdout}
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
B=$ROOT/build/normal
build_into "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null    # incremental
export MARSHAL_BUILD=$B

section() { # TITLE COMMAND...: run, capture, emit a Markdown section
    local title=$1 t0 t1 rc=0 log
    shift
    log=$(mktemp)
    t0=$(date +%s)
    "$@" >"$log" 2>&1 || rc=$?
    t1=$(date +%s)
    {
        printf '\n## %s\n\n' "$title"
        printf '`%s` (%d s, exit %d)\n\n```\n' "${*/#$ROOT\//}" "$((t1 - t0))" "$rc"
        grep -v '^\[' "$log" | grep -v '^$' | tail -n 60
        printf '```\n'
    } >>"$OUT"
    rm -f "$log"
}

{
    printf '# Marshal benchmarks\n\n'
    printf 'Run by `bench/run_all.sh` on %s.\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- machine: %s, %s vCPU, %s\n' "$(uname -m)" "$(nproc)" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    printf -- '- memory: %s\n' "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    printf -- '- kernel %s; %s; redis %s; hiredis 0.14 (Debian 12)\n' "$(uname -r)" \
        "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
    printf -- '- build: %s (RelWithDebInfo)\n' "$B"
} >"$OUT"

section "Segment core (shm_bench)" "$B/bench/shm_bench"
section "Route decision, no I/O (route_bench)" "$B/bench/route_bench"
# Pinned: the client, the servers and twemproxy share CPU 0.  On a VM an idle
# vCPU takes tens of microseconds to wake, and where the scheduler puts the
# client and the server changes a phase's round trip up to 4x (ratios spread
# 0.4-4.7 within one unpinned run); on one CPU nothing waits for a wake-up and
# the ratio is the per-command CPU cost, the overhead itself.
section "Library vs raw hiredis vs twemproxy; clusters; mirrors -- all on CPU 0 (client_bench)" \
    taskset -c 0 "$ROOT/bench/client_bench.sh" "$B/bench/client_bench" --n 20000 --rounds 7 --conns 0
section "The same unpinned, plus 4 connections pipelined (client_bench)" \
    "$ROOT/bench/client_bench.sh" "$B/bench/client_bench" --n 20000 --rounds 7 --conns 4
# The asynchronous API vs raw hiredis async on libev; it pins itself, the
# redis-server and the controller to CPU 0 for its throughput runs (as above)
# and restores them for its wake-latency runs (kill -9 + restart of the master).
section "Async API on libev vs raw hiredis async; wake latency of parked writes; loop stalls (async_bench)" \
    "$ROOT/bench/async_bench.sh" "$B/bench/async_bench"
section "Failover: kill -9 master -> switch -> segment -> first library write (failover_bench)" \
    "$ROOT/bench/failover_bench.sh" 5
section "Propagation: publish -> blocked client sees it (propagation)" "$B/bench/propagation"
section "Wake socket: publish -> subscriber woken, vs the futex (wake_bench)" "$B/bench/wake_bench"
section "Controller scale: 100 and 1000 groups (controller_scale)" \
    "$ROOT/bench/controller_scale.sh" 20
section "Sentinel load: commands the sentinels receive around a kill -9, 1 and 50 writers (sentinel_load)" \
    "$ROOT/bench/sentinel_load.sh"
