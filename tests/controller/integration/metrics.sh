#!/usr/bin/env bash
# metrics.sh -- the controller's Prometheus endpoint (config `metrics`) and
# marshal-shmdump --prometheus against real servers and sentinels:
#   * /metrics answers 200 in text format 0.0.4 and promtool accepts it;
#     every family of docs/metrics.md is there with the right labels;
#   * the per-group series of shmdump --prometheus equal the endpoint's;
#   * other paths 404, other methods 405, a malformed request line 400, a
#     request with 64 KiB of headers or binary garbage an error (or a close) -- and the
#     controller keeps running and serving;
#   * across a real failover (kill -9 the master) the master-change counter
#     moves, the old master's up series goes to 0, the new master's role
#     series says master;
#   * a reload that moves the endpoint to another port serves there and no
#     longer on the old one.
#
#   metrics.sh MARSHAL_CONTROLLER MARSHAL_SHMDUMP
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
ctl_init "$@"
need curl promtool

ctl_sentinel_setup
pick_port; HP=$IT_PORT
pick_port; HP2=$IT_PORT
GROUPS_CONF='groups = ( { name = "g1"; sentinel = true; route = "split"; } );'
CTL_CONF_EXTRA="metrics = { listen = \"127.0.0.1:$HP\"; };"
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<<"$GROUPS_CONF"
ctl_start
G=$(grp g1)
await 30 "g1 published: master :$MP, 2 readable replicas" seg_is "
    $G.master.port == $MP and ([$G.servers[] | select(.flags | index(\"readable\"))] | length) == 2"

M=$IT_DIR/metrics.txt
# scrape [PORT]: GET /metrics into $M; fails on transport errors or non-200
scrape() {
    curl -sS --max-time 5 -o "$M" -w '%{http_code} %{content_type}' "http://127.0.0.1:${1:-$HP}/metrics"
}
# val SERIES: the value of the exact series line SERIES (name{labels}), or ""
val() { awk -v s="$1" '$1 == s { print $2; exit }' "$M"; }
scrape_has() { scrape >/dev/null 2>&1 && [[ -n $(val "$1") ]]; }
series_is() { scrape >/dev/null 2>&1 && [[ $(val "$1") == "$2" ]]; }

await 10 "the endpoint answers" scrape_has 'marshal_controller_up'
await 10 "the sentinel table reaches the endpoint" \
    series_is "marshal_sentinel_up{sentinel=\"127.0.0.1:$S3\"}" 1
out=$(scrape)
[[ $out == "200 text/plain; version=0.0.4; charset=utf-8" ]] || fail "GET /metrics: $out"
promtool check metrics <"$M" >"$IT_DIR/promtool.txt" 2>&1 ||
    fail "promtool check metrics:"$'\n'"$(head -n 20 "$IT_DIR/promtool.txt")"
it_log "promtool check metrics: clean ($(grep -vc '^#' "$M") series)"

# every family, with its type
for f in build_info:gauge segment_generation:gauge publishes_total:counter controller_up:gauge \
    cluster_members:gauge cluster_members_without_master:gauge cluster_members_diverged:gauge \
    group_degraded:gauge group_has_master:gauge group_failover_in_progress:gauge \
    group_readable_replicas:gauge group_master_epoch:gauge master_changes_total:counter \
    events_total:counter server_up:gauge server_role:gauge replica_lag_seconds:gauge \
    replica_readable:gauge server_check_rtt_seconds:gauge server_transitions_total:counter \
    publish_duration_seconds:histogram health_check_duration_seconds:histogram \
    sentinel_up:gauge sentinel_tilt:gauge sentinel_last_poll_age_seconds:gauge \
    scrapes_total:counter scrape_duration_seconds:gauge; do
    grep -qx "# TYPE marshal_${f%%:*} ${f#*:}" "$M" || fail "no family marshal_${f%%:*} of type ${f#*:}"
done
[[ $(val marshal_controller_up) == 1 ]] || fail "controller_up is not 1"
[[ $(val 'marshal_group_has_master{group="g1"}') == 1 ]] || fail "g1 has no master in /metrics"
[[ $(val 'marshal_group_readable_replicas{group="g1"}') == 2 ]] || fail "g1 readable replicas != 2"
[[ $(val "marshal_server_up{group=\"g1\",server=\"127.0.0.1:$MP\"}") == 1 ]] || fail "master not up"
[[ $(val "marshal_server_role{group=\"g1\",server=\"127.0.0.1:$MP\",role=\"master\"}") == 1 ]] ||
    fail "master's role series missing"
for s in "$S1" "$S2" "$S3"; do
    [[ $(val "marshal_sentinel_up{sentinel=\"127.0.0.1:$s\"}") == 1 ]] || fail "sentinel :$s not up"
    age=$(val "marshal_sentinel_last_poll_age_seconds{sentinel=\"127.0.0.1:$s\"}")
    [[ -n $age ]] && awk -v a="$age" 'BEGIN { exit !(a >= 0 && a < 10) }' ||
        fail "sentinel :$s last poll age '$age'"
done
checks=$(val marshal_health_check_duration_seconds_count)
((checks > 0)) || fail "no health check counted ($checks)"
inf=$(val 'marshal_health_check_duration_seconds_bucket{le="+Inf"}')
[[ $inf == "$checks" ]] || fail "check histogram: +Inf bucket $inf != count $checks"
(($(val marshal_publish_duration_seconds_count) > 0)) || fail "no publish counted"
CH0=$(val 'marshal_master_changes_total{group="g1"}')
it_log "before: master_changes_total=$CH0 checks=$checks publishes=$(val marshal_publishes_total)"

# marshal-shmdump --prometheus: the same per-group and per-server series
"$SHMDUMP" --prometheus "$SEG" >"$IT_DIR/shmdump.prom" || fail "shmdump --prometheus failed"
promtool check metrics <"$IT_DIR/shmdump.prom" >"$IT_DIR/promtool2.txt" 2>&1 ||
    fail "promtool on shmdump --prometheus:"$'\n'"$(head -n 20 "$IT_DIR/promtool2.txt")"
# compared by name and labels (values such as rtt move between the two reads)
keys() { grep -E '^marshal_(group|server_up|server_role|replica_readable)' "$1" | awk '{ print $1 }'; }
diff <(keys "$M") <(keys "$IT_DIR/shmdump.prom") >"$IT_DIR/diff.txt" ||
    fail "shmdump --prometheus differs from /metrics:"$'\n'"$(head -n 20 "$IT_DIR/diff.txt")"
grep -q '^marshal_group_has_master{group="g1"} 1$' "$IT_DIR/shmdump.prom" ||
    fail "shmdump --prometheus lacks g1's master"

# ---- wrong requests ----------------------------------------------------------------------
code() { curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$@" || true; }
[[ $(code "http://127.0.0.1:$HP/") == 404 ]] || fail "GET / is not 404"
[[ $(code "http://127.0.0.1:$HP/metrics/x") == 404 ]] || fail "GET /metrics/x is not 404"
[[ $(code -X POST --data x=1 "http://127.0.0.1:$HP/metrics") == 405 ]] || fail "POST is not 405"
# raw bytes: a malformed request line, then 64 KiB of headers
raw() {
    local reply
    reply=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$HP"'; cat >&3; cat <&3' 2>/dev/null | head -c 200) || true
    printf '%s' "${reply%%$'\r'*}"
}
r=$(printf 'GET /metrics\r\n\r\n' | raw)
[[ $r == "HTTP/1.1 400"* ]] || fail "request line without a version: '$r' (expected 400)"
# binary garbage: libmicrohttpd closes the connection (or answers 4xx)
r=$( { head -c 4096 /dev/urandom | tr -d '\n'; printf '\r\n\r\n'; } | raw)
[[ -z $r || $r == "HTTP/1.1 4"* ]] || fail "binary garbage answered '$r'"
r=$( { printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n'
       for ((i = 0; i < 64; i++)); do printf 'X-Big-%d: %01024d\r\n' "$i" 0; done
       printf '\r\n'; } | raw)
[[ -z $r || $r == "HTTP/1.1 4"* ]] || fail "64 KiB of headers answered '$r' (expected 4xx or a close)"
it_log "wrong requests: 404, 404, 405, 400, garbage and '${r:-closed}' for 64 KiB of headers"
ctl_alive || fail "controller died after the wrong requests"
scrape_has marshal_controller_up || fail "endpoint stopped serving after the wrong requests"

# ---- a real failover moves the series -----------------------------------------------------
rkill "$MP"
it_log "kill -9 master :$MP"
await 30 "/metrics shows :$MP down" \
    series_is "marshal_server_up{group=\"g1\",server=\"127.0.0.1:$MP\"}" 0
new_master_published() {
    local m
    m=$(master_port g1) || return 1
    [[ -n $m && $m != null && $m != "$MP" ]]
}
await 60 "the segment publishes a new master" new_master_published
await_stable_master 60 "$MP"
NEW=$STABLE_PORT
changes_moved() {
    scrape >/dev/null 2>&1 || return 1
    local c
    c=$(val 'marshal_master_changes_total{group="g1"}')
    [[ -n $c ]] && ((c > CH0))
}
await 20 "master_changes_total moves past $CH0" changes_moved
await 20 "/metrics shows :$NEW as master" \
    series_is "marshal_server_role{group=\"g1\",server=\"127.0.0.1:$NEW\",role=\"master\"}" 1
[[ $(val "marshal_server_up{group=\"g1\",server=\"127.0.0.1:$NEW\"}") == 1 ]] || fail "new master not up"
(($(val "marshal_server_transitions_total{group=\"g1\",server=\"127.0.0.1:$MP\",to=\"down\"}") >= 1)) ||
    fail "old master's down transition not counted"
it_log "after: master_changes_total=$(val 'marshal_master_changes_total{group="g1"}') new master :$NEW"
promtool check metrics <"$M" >/dev/null 2>&1 || fail "promtool rejects the post-failover scrape"

# ---- reload moves the endpoint ----------------------------------------------------------------
CTL_CONF_EXTRA="metrics = { listen = \"127.0.0.1:$HP2\"; };"
ctl_conf "\"127.0.0.1:$S1\", \"127.0.0.1:$S2\", \"127.0.0.1:$S3\"" <<<"$GROUPS_CONF"
kill -HUP "$CTL_PID"
await 10 "the endpoint serves on :$HP2 after SIGHUP" eval 'scrape '"$HP2"' >/dev/null 2>&1'
[[ $(code "http://127.0.0.1:$HP/metrics") == 000 ]] || fail "still serving on :$HP after the reload"
ctl_alive || fail "controller died"
ctl_finish
