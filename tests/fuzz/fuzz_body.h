/*
 * fuzz_body.h -- one fuzz iteration over an untrusted segment image.
 *
 * Shared by the libFuzzer target (fuzz_segment.c) and the deterministic
 * cmocka driver (tests/unit/test_fuzz_validate.c), so both run exactly the
 * same reader code paths on each input.  Reader side only: links
 * mshm_attach.c and mshm_read.c, never the writer.
 */
#ifndef MSHM_FUZZ_BODY_H
#define MSHM_FUZZ_BODY_H

#include <stddef.h>
#include <stdint.h>

/* Outcome counters, so a driver can assert it reached deep code. */
struct mshm_fuzz_stats {
    uint64_t runs;           /* inputs seen                                  */
    uint64_t attach_ok;      /* mshm_attach_buf() == OK                      */
    uint64_t attach_retired; /* ... == RETIRED (still readable)              */
    uint64_t state_read;     /* mshm_read_state() == OK                      */
    uint64_t check_ok;       /* mshm_check_state() == OK (oracles ran)       */
    uint64_t check_corrupt;  /* mshm_check_state() == CORRUPT                */
    uint64_t snap_ok;        /* successful group/server/cluster snapshots    */
    uint64_t events;         /* events delivered by mshm_next_event()        */
    uint64_t lost;           /* MSHM_ERR_LOST results                        */
};

/*
 * Copy data into a private 8-aligned buffer of exactly size bytes, attach it
 * with mshm_attach_buf() and, if that succeeds (or says RETIRED), run every
 * read path on it: whole-state read and check, group/server/cluster
 * snapshots at boundary indices, name lookups, the event cursor (up to 64
 * reads), liveness, wait(0) and replaced().  Then, when mshm_check_state()
 * accepted the state, cross-check it against the snapshot functions.
 *
 * Returns the number of violations: a status code outside enum mshm_status
 * or not documented for that call, or an oracle mismatch.  why (may be
 * NULL) receives the first violation.  stats (may be NULL) is updated.
 * Crashes and out-of-bounds reads are left to the sanitizers.
 */
int mshm_fuzz_one(const uint8_t *data, size_t size, struct mshm_fuzz_stats *stats,
                  char *why, size_t whylen);

/*
 * Make a mutated image pass the checksums so that mutations reach the checks
 * behind them: recompute the header's geo_check over bytes [0, 124) and,
 * when fix_state is set and the header then validates, the state_sum of the
 * copy the latch points at (summed exactly as mshm_check_state() does, with
 * corrupt counts clamped to the capacities).  buf needs no alignment; images
 * shorter than a header are left alone.
 */
void mshm_fuzz_fixup(uint8_t *buf, size_t len, int fix_state);

#endif /* MSHM_FUZZ_BODY_H */
