#!/usr/bin/env bash
# install_check.sh BUILD_DIR SOURCE_DIR -- the installed library is usable the
# way the README says: `cmake --install` into a temp prefix, then compile and
# link examples/marshal_example.c with `pkg-config --cflags --libs marshal-shm`
# against the shared library and run it (--help-style usage exit), the same
# with a CMake project using find_package(MarshalShm), check the
# SONAME and that only marshal_* symbols are exported.
set -euo pipefail
BUILD=$1 SRC=$2
command -v pkg-config >/dev/null || { echo "pkg-config missing: skipped"; exit 77; }
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$DIR/usr" >"$DIR/install.log" 2>&1 ||
    { cat "$DIR/install.log"; fail "cmake --install"; }
LIBDIR=$(dirname "$(find "$DIR/usr" -name 'libmarshal-shm.so.0' | head -n 1)")
[[ -n $LIBDIR && -e $LIBDIR/libmarshal-shm.so && -e $LIBDIR/libmarshal-shm.a ]] ||
    fail "shared/static library not installed: $(find "$DIR/usr" | head -50)"
[[ -f $DIR/usr/include/marshal/marshal.h && -f $DIR/usr/include/marshal/adapters/libev.h ]] ||
    fail "headers not installed"
[[ -f $LIBDIR/pkgconfig/marshal-shm.pc ]] || fail "marshal-shm.pc not installed"

# the .pc carries the configured prefix: point pkg-config at the temp one
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
FLAGS=$(pkg-config --define-variable=prefix="$DIR/usr" --cflags --libs marshal-shm)
# a sanitizer build's library needs the sanitizer runtime in the program too
SAN=
if readelf -d "$LIBDIR/libmarshal-shm.so" | grep -q 'libasan'; then
    SAN="-fsanitize=address,undefined"
fi
# shellcheck disable=SC2086
cc $SAN -std=c11 -Wall -Wextra -Werror -o "$DIR/example" "$SRC/examples/marshal_example.c" $FLAGS ||
    fail "example does not build with pkg-config flags: $FLAGS"
OUT=$(LD_LIBRARY_PATH=$LIBDIR "$DIR/example" -h 2>&1 || true)
grep -q 'usage: marshal-example' <<<"$OUT" || fail "example did not run: $OUT"
LD_LIBRARY_PATH=$LIBDIR ldd "$DIR/example" | grep -q "libmarshal-shm.so.0 => $LIBDIR" ||
    fail "example not linked to the installed shared library: $(ldd "$DIR/example")"

# the same program with CMake: find_package(MarshalShm) and its imported target
mkdir -p "$DIR/cm"
cat >"$DIR/cm/CMakeLists.txt" <<EOF2
cmake_minimum_required(VERSION 3.16)
project(marshal_consumer C)
find_package(MarshalShm 0.2 REQUIRED)
add_executable(example $SRC/examples/marshal_example.c)
target_link_libraries(example PRIVATE MarshalShm::marshal-shm)
EOF2
cmake -S "$DIR/cm" -B "$DIR/cm/build" -DCMAKE_PREFIX_PATH="$DIR/usr" -DCMAKE_C_FLAGS="$SAN" \
    >"$DIR/cm.log" 2>&1 || { cat "$DIR/cm.log"; fail "find_package(MarshalShm) failed"; }
cmake --build "$DIR/cm/build" >>"$DIR/cm.log" 2>&1 || { cat "$DIR/cm.log"; fail "CMake consumer does not build"; }
OUT=$(LD_LIBRARY_PATH=$LIBDIR "$DIR/cm/build/example" -h 2>&1 || true)
grep -q 'usage: marshal-example' <<<"$OUT" || fail "CMake-built example did not run: $OUT"
readelf -d "$DIR/cm/build/example" | grep -q 'libmarshal-shm.so.0' ||
    fail "CMake-built example not linked to libmarshal-shm.so.0"

SONAME=$(readelf -d "$LIBDIR/libmarshal-shm.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[[ $SONAME == libmarshal-shm.so.0 ]] || fail "SONAME '$SONAME'"
BAD=$(nm -D --defined-only "$LIBDIR/libmarshal-shm.so" | awk '{ print $3 }' | grep -v '^marshal_' || true)
[[ -z $BAD ]] || fail "non-API symbols exported: $BAD"
N=$(nm -D --defined-only "$LIBDIR/libmarshal-shm.so" | grep -c ' marshal_')
((N >= 25)) || fail "only $N marshal_ symbols exported"
echo "PASS: installed, SONAME $SONAME, $N exported marshal_* symbols, example built with pkg-config and with find_package(MarshalShm)"
