#!/usr/bin/env bash
# Malformed configurations: marshal-controller --check-config must exit 2 with
# "file:line: setting: reason".  Each case: expected line, expected setting
# path fragment, then the config text.  Usage: config_errors.sh CONTROLLER ETC_DIR
set -euo pipefail
CTL=$1
ETC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

GOOD_HEAD='sentinels = { addresses = [ "127.0.0.1:26379" ]; };'

# check NAME LINE SETTING MESSAGE_FRAGMENT  (config text on stdin)
check() {
    local name=$1 line=$2 setting=$3 frag=$4 f="$T/$1.conf" out rc
    local where=${EXPECT_FILE:-$f}
    cat >"$f"
    set +e
    out=$("$CTL" -c "$f" --check-config 2>&1)
    rc=$?
    set -e
    if [ "$rc" -ne 2 ]; then
        echo "FAIL $name: exit $rc (want 2): $out"
        fail=$((fail + 1))
        return
    fi
    if ! grep -qF -- "$where:$line: " <<<"$out" || ! grep -qF -- "$setting" <<<"$out" ||
        ! grep -qiF -- "$frag" <<<"$out"; then
        echo "FAIL $name: want '$where:$line: ...$setting...$frag', got: $out"
        fail=$((fail + 1))
        return
    fi
    echo "ok   $name: ${out#*conf:}"
    pass=$((pass + 1))
}

check syntax 3 "syntax error" "syntax" <<'C'
groups = (
  { name = "a"; master = "127.0.0.1:1" }
  { name = "b" }
);
C
check unknown_top 1 "colour" "unknown setting" <<'C'
colour = "blue";
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C
check no_groups 1 "(top)" "missing required setting \"groups\"" <<'C'
segment = { path = "/dev/shm/x"; };
C
check empty_groups 1 "groups" "at least one group" <<'C'
groups = ( );
C
check group_unknown_key 2 "groups.[0].rout" "unknown setting" <<'C'
groups = (
  { name = "a"; master = "127.0.0.1:1"; rout = "split"; }
);
C
check bad_route 3 "groups.[0].route" "unknown value \"fast\"" <<'C'
groups = ( {
  name = "a"; master = "127.0.0.1:1";
  route = "fast"; } );
C
check bad_addr 2 "groups.[0].master" "invalid address" <<'C'
groups = ( { name = "a";
  master = "127.0.0.1"; } );
C
check bad_port 1 "groups.[0].master" "invalid address" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:70000"; } );
C
check bare_ipv6 1 "groups.[0].master" "invalid address" <<'C'
groups = ( { name = "a"; master = "::1:6379"; } );
C
check static_no_master 2 "groups.[0]" "needs \"master\"" <<'C'
groups = (
  { name = "a"; route = "split"; } );
C
check sentinel_no_sentinels 1 "groups.[0]" "no sentinels are configured" <<'C'
groups = ( { name = "a"; sentinel = true; } );
C
check sentinel_with_master 2 "groups.[0].master" "learns its master" <<'C'
sentinels = { addresses = [ "127.0.0.1:26379" ]; };
groups = ( { name = "a"; sentinel = true; master = "127.0.0.1:1"; } );
C
check dup_group 3 "groups.[1].name" "already used" <<'C'
groups = (
  { name = "a"; master = "127.0.0.1:1"; },
  { name = "a"; master = "127.0.0.1:2"; } );
C
check long_name 1 "groups.[0].name" "1-63 printable" <<'C'
groups = ( { name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; master = "127.0.0.1:1"; } );
C
check name_space 1 "groups.[0].name" "without spaces" <<'C'
groups = ( { name = "my group"; master = "127.0.0.1:1"; } );
C
check power_range 2 "groups.[0].power" "out of range" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1";
  power = 70000; } );
C
check power_type 1 "groups.[0].power" "must be an integer" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; power = "high"; } );
C
check replica_is_master 2 "groups.[0].replicas.[0]" "also the master" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1";
  replicas = ( "127.0.0.1:1" ); } );
C
check dup_replica 1 "groups.[0].replicas.[1]" "listed twice" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; replicas = ( "127.0.0.1:2", { address = "127.0.0.1:2"; } ); } );
C
check seg_mode 1 "segment.mode" "octal" <<'C'
segment = { mode = "0666"; };
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C
check seg_path_relative 1 "segment.path" "absolute" <<'C'
segment = { path = "marshal.shm"; };
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C
check seg_events_pow2 3 "segment.capacity.events" "power of two" <<'C'
segment = {
  capacity = {
    events = 1000; }; };
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C
check stale_vs_hb 1 "segment" "at least twice" <<'C'
segment = { heartbeat_ms = 1000; stale_after_ms = 1500; };
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C
check no_such_group_in_cluster 3 "clusters.[0].members.[1]" "no group named \"zz\"" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "c"; rule = "marshal0";
  members = ( "a", "zz" ); } );
C
check mirror_one_member 2 "clusters.[0].members" "needs 2 to 32 members" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "c"; rule = "marshal1"; members = ( "a" ); } );
C
check bad_hash 2 "clusters.[0].hash" "unknown value \"sha1\"" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "c"; rule = "marshal0"; hash = "sha1"; members = ( "a" ); } );
C
check hash_on_mirror 3 "clusters.[0]" "marshal0 striping only" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; }, { name = "b"; master = "127.0.0.1:2"; } );
clusters = (
  { name = "c"; rule = "marshal1"; hash = "md5"; members = ( "a", "b" ); } );
C
check cluster_name_clash 2 "clusters.[0].name" "already used" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "a"; rule = "marshal0"; members = ( "a" ); } );
C
check farm_of_mirror 4 "farms.[0].members.[0]" "not a marshal0 cluster" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; }, { name = "b"; master = "127.0.0.1:2"; } );
clusters = ( { name = "m"; rule = "marshal1"; members = ( "a", "b" ); },
             { name = "s"; rule = "marshal0"; members = ( "a" ); } );
farms = ( { name = "f"; members = ( "m", "s" ); } );
C
check primary_not_member 3 "clusters.[0].primary" "not a member" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; }, { name = "b"; master = "127.0.0.1:2"; } );
clusters = ( { name = "m"; rule = "marshal1";
  primary = "x"; members = ( "a", "b" ); } );
C
check marshal10_cluster 2 "clusters.[0].rule" "farm rule" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "m"; rule = "marshal10"; members = ( "a" ); } );
C
check slots_overlap 4 "clusters.[0].members.[1].slots" "slot 100 is already assigned to member \"a\"" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; }, { name = "b"; master = "127.0.0.1:2"; } );
clusters = ( { name = "s"; rule = "marshal0"; distribution = "slots";
  members = ( { name = "a"; slots = "0-100"; },
              { name = "b"; slots = "100-16383"; } ); } );
C
check slots_gap 3 "clusters.[0].members" "slots 8000-8191 are not assigned" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; }, { name = "b"; master = "127.0.0.1:2"; } );
clusters = ( { name = "s"; rule = "marshal0"; distribution = "slots";
  members = ( { name = "a"; slots = "0-7999"; }, { name = "b"; slots = "8192-16383"; } ); } );
C
check slots_syntax 3 "clusters.[0].members.[0].slots" "bad slot list" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "s"; rule = "marshal0"; distribution = "slots";
  members = ( { name = "a"; slots = "0-16383,"; } ); } );
C
check slots_range 3 "clusters.[0].members.[0].slots" "bad slot range 10-5" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "s"; rule = "marshal0"; distribution = "slots";
  members = ( { name = "a"; slots = "10-5"; } ); } );
C
check slots_hash 2 "clusters.[0].hash" "does not apply to distribution slots" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "s"; rule = "marshal0"; distribution = "slots"; hash = "md5"; members = ( "a" ); } );
C
check slots_on_ketama 3 "clusters.[0].members.[0].slots" "distribution \"slots\" only" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "s"; rule = "marshal0";
  members = ( { name = "a"; slots = "0-16383"; } ); } );
C
check slot_maps_capacity 4 "clusters.[1].distribution" "exceed segment.capacity.slot_maps (1)" <<'C'
segment = { capacity = { slot_maps = 1; }; };
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
clusters = ( { name = "s"; rule = "marshal0"; distribution = "slots"; members = ( "a" ); },
             { name = "t"; rule = "marshal0"; distribution = "slots"; members = ( "a" ); } );
C
check notify_relative 1 "notify.program" "absolute path" <<'C'
notify = { program = "notify.sh"; };
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C
check metrics_name 2 "metrics.listen" "numeric" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
metrics = { listen = "localhost:9478"; };
C
check metrics_port 2 "metrics.listen" "port 1-65535" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
metrics = { listen = "127.0.0.1:0"; };
C
check metrics_key 2 "metrics.port" "unknown" <<'C'
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
metrics = { port = 9478; };
C
check addr_map_dup 3 "address_map.[1]" "mapped twice" <<'C'
address_map = (
  { from = "10.0.0.1:6379"; to = "127.0.0.1:1"; },
  { from = "10.0.0.1:6379"; to = "127.0.0.1:2"; } );
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C
check sentinel_dup 1 "sentinels.addresses.[1]" "listed twice" <<'C'
sentinels = { addresses = [ "127.0.0.1:26379", "127.0.0.1:26379" ]; };
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C

# secrets file readable by others is refused; chmod 600 is accepted
printf 'servers = { password = "s3cret"; };\n' >"$T/secrets.conf"
chmod 644 "$T/secrets.conf"
check secrets_mode 1 "secrets_file" "group or others" <<C
secrets_file = "$T/secrets.conf";
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C
chmod 600 "$T/secrets.conf"
printf 'secrets_file = "%s";\ngroups = ( { name = "a"; master = "127.0.0.1:1"; } );\n' \
    "$T/secrets.conf" >"$T/ok-secrets.conf"
if out=$("$CTL" -c "$T/ok-secrets.conf" --check-config 2>&1) && ! grep -q s3cret <<<"$out"; then
    echo "ok   secrets_ok: accepted at mode 600, password not printed"
    pass=$((pass + 1))
else
    echo "FAIL secrets_ok: $out"
    fail=$((fail + 1))
fi
printf 'groups = { zz = { password = "x"; }; };\n' >"$T/secrets.conf"
EXPECT_FILE=$T/secrets.conf check secrets_unknown_group 1 "groups.zz" "no group named" <<C
secrets_file = "$T/secrets.conf";
groups = ( { name = "a"; master = "127.0.0.1:1"; } );
C

# missing file: exit 2 with the path
set +e
out=$("$CTL" -c "$T/nope.conf" --check-config 2>&1)
rc=$?
set -e
if [ "$rc" -eq 2 ] && grep -qF "$T/nope.conf" <<<"$out"; then
    echo "ok   missing_file"
    pass=$((pass + 1))
else
    echo "FAIL missing_file: exit $rc: $out"
    fail=$((fail + 1))
fi

# the shipped example is valid
if "$CTL" -c "$ETC/marshal.conf" --check-config >/dev/null; then
    echo "ok   example_config_valid"
    pass=$((pass + 1))
else
    echo "FAIL example_config_valid"
    fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
