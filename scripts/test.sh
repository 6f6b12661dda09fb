#!/usr/bin/env bash
# scripts/test.sh -- install dependencies, build, start what the tests need, run
# every test: once in a normal build and once under AddressSanitizer +
# UndefinedBehaviorSanitizer.  Redis servers and sentinels are started by the
# tests themselves on 127.0.0.1 ports chosen at run time.
#
#   scripts/test.sh                 both builds
#   scripts/test.sh --normal-only   skip the sanitizer build
#   scripts/test.sh --sanitize-only only the sanitizer build
set -euo pipefail
MARSHAL_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MARSHAL_ROOT/scripts/lib.sh"

variants=(normal sanitize)
case "${1:-}" in
--normal-only) variants=(normal) ;;
--sanitize-only) variants=(sanitize) ;;
"") ;;
*) echo "usage: $0 [--normal-only|--sanitize-only]" >&2; exit 2 ;;
esac

install_deps

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for v in "${variants[@]}"; do
    dir="$MARSHAL_ROOT/build/$v"
    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMARSHAL_WERROR=ON)
    [ "$v" = sanitize ] && args+=(-DMARSHAL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
    echo "== build ($v)"
    build_into "$dir" "${args[@]}"
    echo "== test ($v)"
    if ! (cd "$dir" && ctest --output-on-failure --timeout 300 -L 'unit|stress|integration|bench'); then
        status=1
    fi
done
exit $status
