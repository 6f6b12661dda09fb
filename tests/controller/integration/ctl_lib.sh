# ctl_lib.sh -- helpers for marshal-controller integration tests (bash, sourced).
# shellcheck shell=bash
#
#   . "$(dirname "${BASH_SOURCE[0]}")/ctl_lib.sh"
#   ctl_init "$@"           # $1 = marshal-controller, $2 = marshal-shmdump
#
# Builds on tests/integration/lib.sh (cleanup trap, pick_port, wait_for,
# json_ok, skip code 77) and adds real redis-server / redis-sentinel
# processes with config files, and a controller writing into a segment in
# the test's temp dir.  Every wait is bounded polling (await / wait_for);
# nothing sleeps and hopes.
#
# Redis servers and sentinels are started in the foreground (&), so their
# pids are ours: kill -9 / SIGSTOP / restart go by pid, never by name.
#
# Passwords (test ctl_secrets): set CTL_SRV_PASS (redis-server requirepass +
# masterauth, sentinel auth-pass) and CTL_SENT_PASS (sentinel requirepass)
# before starting anything; rcli/scli pass them through REDISCLI_AUTH, never
# on argv.

CTL_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$CTL_LIB_DIR/../../integration/lib.sh"

CTL_SRV_PASS=${CTL_SRV_PASS:-}
CTL_SENT_PASS=${CTL_SENT_PASS:-}
CTL_GROUP=g1                 # the sentinel master name
CTL_PID=                     # the running controller
CTL_LOG=                     # its log (stderr)
CTL_RUN=0                    # controller runs started (log names)
# SENTINEL DEBUG parameters applied to every sentinel after start (empty:
# none).  ping-period 100 (default 1000): with down-after 1000 ms a single
# slow PING reply must not make a sentinel declare a just-promoted master
# down -- on a loaded machine that gave a second, genuine failover right
# after the first.  Nothing else is sped up: the stale-master window (4 x
# publish-period) keeps its real length.
CTL_SENTINEL_DEBUG=${CTL_SENTINEL_DEBUG-ping-period 100}
declare -A CTL_SENT_PID=()   # sentinel port -> pid
SP=()                        # sentinel ports, in start order
CTL_MONITORS=()              # sstart: "name:master_port" to monitor (default g1:$MP)

# ctl_init CONTROLLER SHMDUMP
ctl_init() {
    (($# >= 2)) || { echo "usage: $0 MARSHAL_CONTROLLER MARSHAL_SHMDUMP" >&2; exit 2; }
    CTL=$1
    # lib.sh's it_init wants (shmdump, a second executable): the controller
    it_init "$2" "$1"
    need redis-server redis-sentinel redis-cli jq
    SEG=$IT_DIR/segment
    CONF=$IT_DIR/marshal.conf
}

now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }

# await SECONDS WHAT CMD...: poll CMD (every 100 ms) until it succeeds or
# SECONDS of wall time passed; fails the test with WHAT.  A deadline rather
# than a try count: on a loaded machine one try can take long.
await() {
    local secs=$1 what=$2 end
    shift 2
    end=$(($(now_ms) + secs * 1000))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        (($(now_ms) < end)) || fail "timed out after ${secs} s waiting for: $what"
        sleep 0.1
    done
}

# ---- redis-cli -----------------------------------------------------------------

# rcli PORT ARGS...: redis-cli to a redis-server (password via REDISCLI_AUTH).
rcli() {
    local p=$1
    shift
    if [[ -n $CTL_SRV_PASS ]]; then
        REDISCLI_AUTH=$CTL_SRV_PASS timeout 5 redis-cli --no-auth-warning -h 127.0.0.1 -p "$p" "$@"
    else
        timeout 5 redis-cli -h 127.0.0.1 -p "$p" "$@"
    fi
}

# scli PORT ARGS...: redis-cli to a sentinel.
scli() {
    local p=$1
    shift
    if [[ -n $CTL_SENT_PASS ]]; then
        REDISCLI_AUTH=$CTL_SENT_PASS timeout 5 redis-cli --no-auth-warning -h 127.0.0.1 -p "$p" "$@"
    else
        timeout 5 redis-cli -h 127.0.0.1 -p "$p" "$@"
    fi
}

pong_r() { [[ $(rcli "$1" PING 2>/dev/null) == PONG ]]; }
pong_s() { [[ $(scli "$1" PING 2>/dev/null) == PONG ]]; }

# role_of PORT: first word of ROLE (master / slave), empty when unreachable.
role_of() { rcli "$1" ROLE 2>/dev/null | head -n 1; }

# ---- redis-server ----------------------------------------------------------------

# rstart PORT [MASTER_PORT]: a foreground redis-server from a config file in
# its own dir (no persistence; the file is rewritten on every start, so a
# restart goes where the caller says).  Waits until it answers.
rstart() {
    local port=$1 mport=${2:-} dir=$IT_DIR/redis-$1 conf pid
    mkdir -p "$dir"
    conf=$dir/redis.conf
    {
        echo "port $port"
        echo "bind 127.0.0.1"
        echo "save \"\""
        echo "appendonly no"
        echo "daemonize no"
        echo "dir $dir"
        echo "logfile $dir/redis.log"
        echo "repl-diskless-sync-delay 0"
        [[ -n $mport ]] && echo "replicaof 127.0.0.1 $mport"
        if [[ -n $CTL_SRV_PASS ]]; then
            echo "requirepass $CTL_SRV_PASS"
            echo "masterauth $CTL_SRV_PASS"
        fi
    } >"$conf"
    chmod 600 "$conf"
    redis-server "$conf" >/dev/null 2>&1 &
    pid=$!
    IT_PIDS+=("$pid")
    IT_REDIS_PID[$port]=$pid
    await 20 "redis-server :$port up" pong_r "$port"
}

# rkill PORT: kill -9 the redis-server on PORT and reap it.
rkill() {
    kill9_redis "$1"
}

# rsig SIG PORT: signal the redis-server on PORT (STOP / CONT).
rsig() {
    kill -"$1" "${IT_REDIS_PID[$2]}"
}

# n_online MASTER_PORT: replicas the master lists as online.
n_online() {
    rcli "$1" INFO replication 2>/dev/null | tr -d '\r' | grep -c 'state=online' || true
}

# ---- redis-sentinel -------------------------------------------------------------

# sstart PORT [MASTER_PORT]: a foreground sentinel monitoring g1 (quorum 2,
# down-after 1000 ms, failover-timeout 5000 ms); with CTL_MONITORS set
# ("name:port" ...), those masters instead.  The config file is written
# only the first time: a restart keeps what the sentinel rewrote (epochs,
# known replicas and sentinels), like a real restart.
sstart() {
    local port=$1 mport=${2:-${MP:-}} dir=$IT_DIR/sentinel-$1 conf pid mon name
    conf=$dir/sentinel.conf
    if [[ ! -f $conf ]]; then
        mkdir -p "$dir"
        {
            echo "port $port"
            echo "bind 127.0.0.1"
            echo "daemonize no"
            echo "dir $dir"
            echo "logfile $IT_DIR/sentinel-$port.log"
            [[ -n $CTL_SENT_PASS ]] && echo "requirepass $CTL_SENT_PASS"
            for mon in "${CTL_MONITORS[@]:-$CTL_GROUP:$mport}"; do
                name=${mon%%:*}
                echo "sentinel monitor $name 127.0.0.1 ${mon#*:} 2"
                echo "sentinel down-after-milliseconds $name 1000"
                echo "sentinel failover-timeout $name 5000"
                echo "sentinel parallel-syncs $name 1"
                [[ -n $CTL_SRV_PASS ]] && echo "sentinel auth-pass $name $CTL_SRV_PASS"
            done
        } >"$conf"
        chmod 600 "$conf"
    fi
    redis-sentinel "$conf" >/dev/null 2>&1 &
    pid=$!
    IT_PIDS+=("$pid")
    CTL_SENT_PID[$port]=$pid
    await 20 "sentinel :$port up" pong_s "$port"
    if [[ -n $CTL_SENTINEL_DEBUG ]]; then
        # shellcheck disable=SC2086
        scli "$port" SENTINEL DEBUG $CTL_SENTINEL_DEBUG >/dev/null ||
            fail "SENTINEL DEBUG $CTL_SENTINEL_DEBUG on :$port"
    fi
}

# skill PORT: kill -9 the sentinel on PORT and reap it.
skill() {
    local pid=${CTL_SENT_PID[$1]}
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# sfield PORT FIELD: a field of SENTINEL MASTER g1 on sentinel PORT.
sfield() {
    scli "$1" SENTINEL MASTER "$CTL_GROUP" 2>/dev/null | tr -d '\r' |
        awk -v k="$2" 'NR % 2 == 1 { key = $0; next } key == k { print; exit }'
}

# s_master_port PORT: the port sentinel PORT gives for g1 (get-master-addr-by-name).
s_master_port() {
    scli "$1" SENTINEL GET-MASTER-ADDR-BY-NAME "$CTL_GROUP" 2>/dev/null | tr -d '\r' | sed -n 2p
}

# sentinels_agree PORT: every running sentinel names 127.0.0.1:PORT.
sentinels_agree() {
    local s
    for s in "${SP[@]}"; do
        [[ -n ${CTL_SENT_DOWN[$s]:-} ]] && continue
        [[ $(s_master_port "$s") == "$1" ]] || return 1
    done
}
declare -A CTL_SENT_DOWN=()

# s_epoch PORT: config-epoch of g1 on sentinel PORT.
s_epoch() { sfield "$1" config-epoch; }

# sentinels_epoch: the highest config-epoch of g1 among the running sentinels
# (the number of failovers so far: each successful one raises it by 1).
sentinels_epoch() {
    local s e max=0
    for s in "${SP[@]}"; do
        [[ -n ${CTL_SENT_DOWN[$s]:-} ]] && continue
        e=$(s_epoch "$s")
        [[ $e =~ ^[0-9]+$ ]] && ((e > max)) && max=$e
    done
    echo "$max"
}

# sentinels_agree_epoch PORT EPOCH: every running sentinel names PORT at EPOCH.
sentinels_agree_epoch() {
    local s
    sentinels_agree "$1" || return 1
    for s in "${SP[@]}"; do
        [[ -n ${CTL_SENT_DOWN[$s]:-} ]] && continue
        [[ $(s_epoch "$s") == "$2" ]] || return 1
    done
}

# sentinel_watch_start FILE: a background loop keeping FILE at "PORT EPOCH"
# when every running sentinel names 127.0.0.1:PORT at config-epoch EPOCH,
# "- EPOCH" otherwise (refreshed every ~200 ms), so a test can sample the
# JSON fast and still know what the sentinels say.  Read with
# `read -r port epoch <FILE`.
sentinel_watch_start() {
    local f=$1
    echo "- -1" >"$f"
    (
        local p e
        while :; do
            e=$(sentinels_epoch)
            p=$(s_master_port "${SP[0]}")
            if [[ -n $p ]] && sentinels_agree_epoch "$p" "$e"; then
                echo "$p $e" >"$f.tmp"
            else
                echo "- $e" >"$f.tmp"
            fi
            mv -f "$f.tmp" "$f"
            sleep 0.2
        done
    ) &
    IT_PIDS+=("$!")
    CTL_SWATCH_PID=$!
}

# sentinels_settled N_REPLICAS: every sentinel knows the 2 others and the replicas.
sentinels_settled() {
    local s
    for s in "${SP[@]}"; do
        [[ $(sfield "$s" num-other-sentinels) == $((${#SP[@]} - 1)) ]] || return 1
        [[ $(sfield "$s" num-slaves) == "$1" ]] || return 1
    done
}

# ctl_sentinel_setup: master MP + replicas R1 R2 + sentinels S1 S2 S3, settled
# (sentinels know each other and both replicas: a failover can be authorised).
ctl_sentinel_setup() {
    pick_port; MP=$IT_PORT
    pick_port; R1=$IT_PORT
    pick_port; R2=$IT_PORT
    pick_port; S1=$IT_PORT
    pick_port; S2=$IT_PORT
    pick_port; S3=$IT_PORT
    SP=("$S1" "$S2" "$S3")
    it_log "master :$MP replicas :$R1 :$R2 sentinels :$S1 :$S2 :$S3"
    rstart "$MP"
    rstart "$R1" "$MP"
    rstart "$R2" "$MP"
    await 30 "2 replicas online at :$MP" eval '[[ $(n_online '"$MP"') == 2 ]]'
    sstart "$S1"
    sstart "$S2"
    sstart "$S3"
    await 40 "sentinels know each other and 2 replicas" sentinels_settled 2
}

# ---- controller --------------------------------------------------------------------

# ctl_conf [SENTINEL_ADDRS] <<GROUPS: write $CONF.  SENTINEL_ADDRS is a
# libconfig list body ("\"127.0.0.1:1\", ..."), empty for none; the groups
# (and anything else, e.g. notify) come on stdin.  Extra top-level settings
# can be given in CTL_CONF_EXTRA.
ctl_conf() {
    local addrs=${1:-} body cap
    body=$(cat)
    # small capacities keep the segment small (grep -a, dumps); unset
    # CTL_SEG_CAPACITY = these, empty = the controller's defaults
    cap='capacity = { groups = 16; servers = 64; clusters = 4; long_names = 4; events = 1024; slot_maps = 2; };'
    cap=${CTL_SEG_CAPACITY-$cap}
    {
        cat <<EOF
segment = {
  path = "$SEG";
  mode = "0640";
  heartbeat_ms = 100;
  stale_after_ms = 3000;
  $cap
};
log = { level = "${CTL_LOG_LEVEL:-verbose}"; };
health = { interval_ms = 100; timeout_ms = 250; info_ms = 500; down_after = 3; up_after = 2; };
EOF
        if [[ -n $addrs ]]; then
            cat <<EOF
sentinels = {
  addresses = [ $addrs ];
  connect_timeout_ms = 500;
  timeout_ms = 1000;
  poll_ms = 500;
  ping_ms = 500;
};
EOF
        fi
        [[ -n ${CTL_CONF_EXTRA:-} ]] && printf '%s\n' "$CTL_CONF_EXTRA"
        printf '%s\n' "$body"
    } >"$CONF.tmp"
    mv -f "$CONF.tmp" "$CONF"
}

# ctl_start: run the controller on $CONF; log in $IT_DIR/controller[-N].log.
ctl_start() {
    local name=controller
    CTL_RUN=$((CTL_RUN + 1))
    ((CTL_RUN > 1)) && name=controller-$CTL_RUN
    start_bg "$name" "$CTL" -c "$CONF"
    CTL_PID=$IT_LAST_PID
    CTL_LOG=$IT_DIR/$name.log
    it_log "controller pid $CTL_PID (log $name.log)"
}

ctl_alive() { it_running "$CTL_PID"; }

# ---- segment --------------------------------------------------------------------------

# sj: the segment as JSON (with the last 1000 events).
sj() { "$SHMDUMP" --json --events 1000 "$SEG" 2>/dev/null; }

# seg_is JQ: the segment is readable and JQ holds.
seg_is() {
    local out
    out=$(sj) && [[ -n $out ]] && jq -e "$1" >/dev/null <<<"$out"
}

# seg_q JQ: jq -r over the segment.
seg_q() { sj | jq -r "$1"; }

# grp NAME: jq filter for group NAME.
grp() { printf '(.groups[] | select(.name == "%s"))' "$1"; }

# master_port GROUP: published master's port or "null".
master_port() { seg_q "$(grp "$1").master.port // \"null\""; }

# readable_ports GROUP: sorted ports of readable servers, space separated.
readable_ports() {
    seg_q "[$(grp "$1").servers[] | select(.flags | index(\"readable\")) | .port] | sort | map(tostring) | join(\" \")"
}

# ev_head: sequence number the next event will get.
ev_head() { seg_q '.segment.ev_head'; }

# ev_count TYPE [GROUP] [AFTER_SEQ]: events of TYPE (JSON name) with seq > AFTER_SEQ.
ev_count() {
    local t=$1 g=${2:-} after=${3:-0}
    seg_q "[.events[] | select(.type == \"$t\" and .seq > $after $( [[ -n $g ]] && printf 'and .group == "%s"' "$g"))] | length"
}

# ev_list [AFTER_SEQ]: "seq type group server" lines, for messages.
ev_list() {
    seg_q "[.events[] | select(.seq > ${1:-0})] | .[] | \"\(.seq) \(.type) \(.group) \(.server) \(.text)\""
}

# expect_events AFTER GROUP TYPE=N...: exact counts since AFTER.
expect_events() {
    local after=$1 g=$2 kv t n got
    shift 2
    for kv in "$@"; do
        t=${kv%%=*}
        n=${kv#*=}
        got=$(ev_count "$t" "$g" "$after")
        [[ $got == "$n" ]] || fail "expected $n x $t for $g since seq $after, got $got; events:"$'\n'"$(ev_list "$after")"
    done
}

# ctl_finish: stop the controller with SIGTERM; it must exit 0 (a leak or
# sanitizer report under -DMARSHAL_SANITIZE=ON would not), say so in its log
# and leave the segment marked stopped (readers see "stopped", not "stale").
ctl_finish() {
    local rc=0
    stop_pid "$CTL_PID" || rc=$?
    ((rc == 0)) || fail "controller exited with status $rc on SIGTERM"
    grep -qE 'Sanitizer|runtime error:' "$CTL_LOG" && fail "sanitizer report in $CTL_LOG"
    grep -q 'shutting down' "$CTL_LOG" || fail "controller log lacks the shutdown line"
    seg_is '.liveness == "stopped" and (.segment.flags | index("writer_stopped"))' ||
        fail "segment not marked stopped: $(seg_q '{liveness, flags: .segment.flags} | tojson')"
}

# await_stable_master SECS FORBID: wait (bounded) until every running
# sentinel names the same master at one config epoch, the segment publishes
# it, and that held for 2 s; the published master must never be FORBID (a
# port, or "" for no check) meanwhile.  Sets STABLE_PORT, STABLE_EPOCH.
await_stable_master() {
    local secs=$1 forbid=$2 end m sp se last='' since=0 f=$IT_DIR/sentinels.stable
    sentinel_watch_start "$f"
    end=$(($(now_ms) + secs * 1000))
    while :; do
        m=$(master_port g1) || m=
        [[ -z $forbid || $m != "$forbid" ]] || fail "published master is :$forbid"
        read -r sp se <"$f" || sp=-
        if [[ -n $m && $m != null && $m == "$sp" ]]; then
            [[ $m == "$last" ]] || { last=$m; since=$(now_ms); }
            (($(now_ms) - since >= 2000)) && break
        else
            last=
        fi
        (($(now_ms) < end)) || fail "no stable master agreed by sentinels and segment within $secs s (segment :$m, sentinels $sp@$se)"
        sleep 0.05
    done
    kill "$CTL_SWATCH_PID"
    wait "$CTL_SWATCH_PID" 2>/dev/null || true
    STABLE_PORT=$last
    STABLE_EPOCH=$se
    sentinels_agree_epoch "$STABLE_PORT" "$STABLE_EPOCH" ||
        fail "sentinels moved on from :$STABLE_PORT epoch $STABLE_EPOCH"
    seg_is "$(grp g1).master_epoch == $STABLE_EPOCH" ||
        fail "published master_epoch $(seg_q "$(grp g1).master_epoch") != sentinels' $STABLE_EPOCH"
}

# check_switches BASE FAILOVERS OLD NEW: the master_switch / master_up events
# of g1 since BASE match what the sentinels did.  One failover (the normal
# case): exactly one master_switch OLD -> NEW and one master_up.  More (Sentinel
# failed over again, e.g. a just-promoted master missed its pings on a loaded
# machine): between 1 and FAILOVERS switches, the first from OLD, the last to
# NEW, one master_up per switch -- the controller followed, never invented.
check_switches() {
    local base=$1 nf=$2 old=$3 new=$4 nsw
    if ((nf == 1)); then
        expect_events "$base" g1 master_switch=1 master_up=1
        seg_is "(.events[] | select(.seq > $base and .type == \"master_switch\")) |
                .old == \"127.0.0.1:$old\" and .new == \"127.0.0.1:$new\"" ||
            fail "master_switch is not :$old -> :$new: $(ev_list "$base")"
        return 0
    fi
    ((nf > 1)) || fail "the sentinels did not fail over (config epoch +$nf)"
    it_log "WARNING: the sentinels failed over $nf times (slow machine); checking the controller followed"
    nsw=$(ev_count master_switch g1 "$base")
    ((nsw >= 1 && nsw <= nf)) || fail "$nsw master_switch events for $nf failovers: $(ev_list "$base")"
    seg_is "[.events[] | select(.seq > $base and .type == \"master_switch\")] |
            (first | .old == \"127.0.0.1:$old\") and (last | .new == \"127.0.0.1:$new\")" ||
        fail "switches do not go from :$old to :$new: $(ev_list "$base")"
    expect_events "$base" g1 master_up="$nsw"
}
