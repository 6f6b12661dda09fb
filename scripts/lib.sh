# scripts/lib.sh -- shared by scripts/demo.sh and scripts/test.sh.
# shellcheck shell=bash

# Debian 12 packages Marshal needs to build, test and run its demo.
MARSHAL_DEPS=(build-essential cmake pkg-config libhiredis-dev libev-dev libconfig-dev
              libcmocka-dev redis-server redis-sentinel redis-tools jq util-linux
              procps iproute2 nutcracker libevent-dev libuv1-dev mandoc git
              libmicrohttpd-dev curl prometheus)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install whatever is missing: one apt-get update, then one apt-get install.
install_deps() {
    local missing=() p
    for p in "${MARSHAL_DEPS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ] && [ "${CI:-}" != true ]; then
        return 0
    fi
    [ "${CI:-}" = true ] && missing=("${MARSHAL_DEPS[@]}")
    echo "== installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configure and build into $1 with extra cmake arguments $2...
build_into() {
    local dir=$1
    shift
    cmake -S "$MARSHAL_ROOT" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$(nproc)"
}

# Print a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$(( (RANDOM % 20000) + 20000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# wait_for TRIES SLEEP_MS CMD... : run CMD until it succeeds, at most TRIES times.
wait_for() {
    local tries=$1 ms=$2 i
    shift 2
    for ((i = 0; i < tries; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep "$(printf '0.%03d' "$ms")"
    done
    return 1
}
