#!/usr/bin/env bash
# shmdump_errors.sh -- marshal-shmdump on segments it must refuse: missing,
# unreadable (mode 0000, read as nobody), corrupted state copy, corrupted
# event ring, another layout version, truncated, world-writable, symlink,
# not a segment at all.  Each gives its documented exit status and a clear
# one-line message naming the path, and never crashes.
#
#   shmdump_errors.sh MARSHAL_SHMDUMP MARSHAL_DEMO_WRITER
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

SEG=$IT_DIR/good.seg

# a good segment to copy from, left by a cleanly stopped writer
start_bg writer "$DEMO" --static --path "$SEG" \
    --group g1 --server 127.0.0.1:7001 --server 127.0.0.1:7002 \
    --group g2 --server 127.0.0.1:7101 --cluster c1:marshal0:g1,g2
WRITER=$IT_LAST_PID
wait_for 100 50 "$SHMDUMP" --check "$SEG" || fail "no valid segment at $SEG"
wait_for 100 50 bash -c "'$SHMDUMP' '$SEG' | grep -q 'GROUPS (2)'" ||
    fail "the writer never published"
stop_pid "$WRITER" || fail "the writer did not exit 0 on SIGTERM"
run_expect 0 '^OK ' "$SHMDUMP" --check "$SEG"

# copy_seg NAME: a copy of the good segment with the same mode
copy_seg() {
    cp -p "$SEG" "$IT_DIR/$1"
    echo "$IT_DIR/$1"
}

# ---- usage -----------------------------------------------------------------
run_expect 64 'unrecognized option' "$SHMDUMP" --bogus "$SEG"
run_expect 64 'exclusive' "$SHMDUMP" --json --check "$SEG"
run_expect 0 'Exit codes' "$SHMDUMP" --help

# ---- missing ---------------------------------------------------------------
MISSING=$IT_DIR/nothing-here
run_expect 2 "^marshal-shmdump: no segment at $MISSING \(is marshal-controller running\?\)$" \
    "$SHMDUMP" "$MISSING"
run_expect 2 "no segment at $MISSING " "$SHMDUMP" --check "$MISSING"
run_expect 2 "no segment at $MISSING " "$SHMDUMP" --json "$MISSING"
run_expect 2 "no segment at $MISSING " env MARSHAL_SEGMENT="$MISSING" "$SHMDUMP"
run_expect 2 "no segment at $MISSING " "$SHMDUMP" --watch --timeout 200 "$MISSING"

# ---- permission denied -------------------------------------------------------
P=$(copy_seg perm.seg)
chmod 0000 "$P"
if [[ $(id -u) == 0 ]]; then
    need setpriv
    AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    # nobody must reach the file and run the binary: use the build's binary if
    # nobody can, else a copy in the (then world-searchable) temp dir
    chmod 0755 "$IT_DIR"
    NOBODY_DUMP=$SHMDUMP
    if ! "${AS_NOBODY[@]}" "$NOBODY_DUMP" --help >/dev/null 2>&1; then
        NOBODY_DUMP=$IT_DIR/shmdump-copy
        cp "$SHMDUMP" "$NOBODY_DUMP"
        chmod 0755 "$NOBODY_DUMP"
    fi
    if "${AS_NOBODY[@]}" "$NOBODY_DUMP" --help >/dev/null 2>&1; then
        run_expect 2 "permission denied reading $P \(mode 0000, owner root:root\)" \
            "${AS_NOBODY[@]}" "$NOBODY_DUMP" "$P"
        chmod 0640 "$P"
        run_expect 2 "permission denied reading $P \(mode 0640, owner root:root\); run as root or a member of group root" \
            "${AS_NOBODY[@]}" "$NOBODY_DUMP" "$P"
        chmod 0644 "$P"     # world-readable: nobody may read it
        run_expect 0 '^OK ' "${AS_NOBODY[@]}" "$NOBODY_DUMP" --check "$P"
    else
        it_log "nobody cannot execute marshal-shmdump here (noexec mount?): permission check skipped"
    fi
    chmod 0700 "$IT_DIR"
else
    run_expect 2 "permission denied reading $P \(mode 0000, owner " "$SHMDUMP" "$P"
fi

# ---- unsafe files ------------------------------------------------------------
W=$(copy_seg writable.seg)
chmod 0666 "$W"
run_expect 2 "^marshal-shmdump: $W: unsafe segment: writable by group or others \(mode 0666\)" \
    "$SHMDUMP" "$W"
chmod 0660 "$W"
run_expect 2 "writable by group or others \(mode 0660\)" "$SHMDUMP" --check "$W"
ln -s "$SEG" "$IT_DIR/link.seg"
run_expect 2 "$IT_DIR/link.seg: is a symbolic link" "$SHMDUMP" "$IT_DIR/link.seg"
mkdir "$IT_DIR/dir.seg"
run_expect 2 "$IT_DIR/dir.seg: unsafe segment: not a regular file" "$SHMDUMP" "$IT_DIR/dir.seg"

# ---- corrupt state copy --------------------------------------------------------
# garbage over group 0's change_seq/master_epoch in the copy readers use: it
# breaks no structural rule, only the state checksum can see it
C=$(copy_seg corrupt.seg)
LATCH=$(rd_u64 "$C" 128)
SLOT=$(rd_u64 "$C" $((40 + 8 * (LATCH & 1))))
GROUP_OFF=$(rd_u32 "$C" 92)
printf 'GARBAGE!GARBAGE!' | dd of="$C" bs=1 seek=$((SLOT + GROUP_OFF + 64)) conv=notrunc status=none
run_expect 1 "^marshal-shmdump: $C: state copy $((LATCH & 1)) \(generation $LATCH\) fails validation: state checksum mismatch" \
    "$SHMDUMP" --check "$C"
run_expect 1 'state checksum mismatch' "$SHMDUMP" "$C"
expect_text "$IT_OUT" "INVALID STATE: state checksum mismatch" "table of a corrupt state"
run_expect 1 '"valid":false' "$SHMDUMP" --json "$C"
jq -e '.segment.invalid_reason | test("checksum")' >/dev/null <<<"$(grep '^{' <<<"$IT_OUT")" ||
    fail "JSON of a corrupt state lacks the reason"

# garbage over a group's server count: an invariant the checker names
C2=$(copy_seg corrupt2.seg)
printf '\377\377' | dd of="$C2" bs=1 seek=$((SLOT + GROUP_OFF + 100)) conv=notrunc status=none
run_expect 1 'fails validation: .*(lists|checksum)' "$SHMDUMP" --check "$C2"

# ---- corrupt event ring --------------------------------------------------------
R=$(copy_seg ring.seg)
RING_OFF=$(rd_u64 "$R" 112)
RING_STRIDE=$(rd_u32 "$R" 120)
# slot 5 claims to hold event 7
printf '\007\000\000\000\000\000\000\000' |
    dd of="$R" bs=1 seek=$((RING_OFF + 5 * RING_STRIDE)) conv=notrunc status=none
run_expect 1 "event ring fails validation: event ring slot 5 holds seq 7 which belongs in slot 7" \
    "$SHMDUMP" --check "$R"
# an event of an unknown type (slot 1 holds event 1: patch its type)
R2=$(copy_seg ring2.seg)
printf '\377\000' | dd of="$R2" bs=1 seek=$((RING_OFF + 1 * RING_STRIDE + 32)) conv=notrunc status=none
run_expect 1 "event seq 1 has unknown type 255" "$SHMDUMP" --check "$R2"
run_expect 0 '\+event-255' "$SHMDUMP" "$R2"

# ---- other layout version --------------------------------------------------------
# version_major (offset 8) is checked before the header checksum, so a patched
# major must read as a version mismatch, not as corruption
V=$(copy_seg version.seg)
printf '\002\000\007\000' | dd of="$V" bs=1 seek=8 conv=notrunc status=none
run_expect 2 "^marshal-shmdump: $V: incompatible segment version: segment layout version 2.7, this build reads 1.x \\(use the marshal-shmdump of the controller.s release\\)$" \
    "$SHMDUMP" "$V"
run_expect 2 "layout version 2.7, this build reads 1.x" "$SHMDUMP" --check "$V"
run_expect 2 "layout version 2.7" "$SHMDUMP" --json "$V"
# a different minor is accepted, but only through the header checksum
M=$(copy_seg minor.seg)
printf '\007\000' | dd of="$M" bs=1 seek=10 conv=notrunc status=none
run_expect 1 "corrupt segment: header checksum mismatch" "$SHMDUMP" --check "$M"

# ---- truncated / not a segment -------------------------------------------------------
T=$(copy_seg truncated.seg)
truncate -s 100000 "$T"
run_expect 1 "$T: corrupt segment: segment total_size [0-9]+ != file size 100000" "$SHMDUMP" "$T"
run_expect 1 "total_size" "$SHMDUMP" --check "$T"
run_expect 1 "total_size" "$SHMDUMP" --json "$T"
head -c 100 "$SEG" >"$IT_DIR/short.seg"
chmod 0640 "$IT_DIR/short.seg"
run_expect 1 "file size 100 smaller than a segment header" "$SHMDUMP" "$IT_DIR/short.seg"
: >"$IT_DIR/empty.seg"
run_expect 1 "file size 0 smaller than a segment header" "$SHMDUMP" --check "$IT_DIR/empty.seg"
head -c 65536 /dev/urandom >"$IT_DIR/random.seg"
chmod 0600 "$IT_DIR/random.seg"
run_expect 1 "bad magic .*not a Marshal segment" "$SHMDUMP" "$IT_DIR/random.seg"
# a header that is right but geometry that is not: any bit flip in the
# geometry lines is caught by the header checksum
G=$(copy_seg geometry.seg)
printf '\377' | dd of="$G" bs=1 seek=60 conv=notrunc status=none
run_expect 1 "header checksum mismatch" "$SHMDUMP" --check "$G"

# the original is still fine
run_expect 0 '^OK ' "$SHMDUMP" --check "$SEG"
