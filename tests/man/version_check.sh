#!/usr/bin/env bash
# tests/man/version_check.sh VERSION SRC PROGRAM... -- each program's
# --version exits 0 and prints "<name> VERSION", the git revision of SRC when
# SRC is a git checkout (the one it was built from: HEAD's abbreviated hash),
# and "segment layout MAJOR.MINOR" equal to shm/mshm_layout.h.
set -euo pipefail
version=$1 src=$2
shift 2
major=$(awk '/#define MSHM_VERSION_MAJOR/ {print $3}' "$src/shm/mshm_layout.h")
minor=$(awk '/#define MSHM_VERSION_MINOR/ {print $3}' "$src/shm/mshm_layout.h")
fail=0
for prog in "$@"; do
    name=$(basename "$prog")
    out=$("$prog" --version) || { echo "FAIL: $name --version exited $?"; fail=1; continue; }
    head -1 <<<"$out" | grep -qx "$name $version" ||
        { echo "FAIL: $name: first line '$(head -1 <<<"$out")', want '$name $version'"; fail=1; }
    grep -qx "segment layout $major.$minor" <<<"$out" ||
        { echo "FAIL: $name: no 'segment layout $major.$minor' in: $out"; fail=1; }
    if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        head=$(git -C "$src" rev-parse --short=12 HEAD)
        grep -qE "^git revision .*$head" <<<"$out" ||
            { echo "FAIL: $name: no git revision $head in: $out"; fail=1; }
    fi
    echo "$name --version:"; sed 's/^/  /' <<<"$out"
done
exit $fail
