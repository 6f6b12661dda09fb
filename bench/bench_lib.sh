# bench/bench_lib.sh -- shared by the benchmark scripts (sourced).
# shellcheck shell=bash

# bench_binaries EXTRA_REL: unless CTL, SHMDUMP and EXTRA are all set, find a
# build (MARSHAL_BUILD, else the first of build/normal, build-rel,
# build-bench, build/benchw, build under $ROOT holding marshal-controller,
# marshal-shmdump and EXTRA_REL) and fill the unset ones from it; EXTRA is
# the variable named by $2.  Exits 2 when no build is found or a binary is
# not executable.
bench_binaries() {
    local rel=$1 var=$2 d b
    if [[ -z $CTL || -z $SHMDUMP || -z ${!var} ]]; then
        if [[ -z ${MARSHAL_BUILD:-} ]]; then
            for d in build/normal build-rel build-bench build/benchw build; do
                if [[ -x $ROOT/$d/controller/marshal-controller && -x $ROOT/$d/shm/marshal-shmdump &&
                    -x $ROOT/$d/$rel ]]; then
                    MARSHAL_BUILD=$ROOT/$d
                    break
                fi
            done
        fi
        [[ -n ${MARSHAL_BUILD:-} ]] || { echo "no build found: set MARSHAL_BUILD or pass the binaries" >&2; exit 2; }
        CTL=${CTL:-$MARSHAL_BUILD/controller/marshal-controller}
        SHMDUMP=${SHMDUMP:-$MARSHAL_BUILD/shm/marshal-shmdump}
        [[ -n ${!var} ]] || printf -v "$var" '%s' "$MARSHAL_BUILD/$rel"
    fi
    for b in "$CTL" "$SHMDUMP" "${!var}"; do
        [[ -x $b ]] || { echo "$0: not executable: $b" >&2; exit 2; }
    done
}
