/*
 * fuzz_segment.c -- libFuzzer target for the segment validator and readers.
 *
 * Built only with clang (tests/fuzz/CMakeLists.txt).  Seed corpus:
 *   ./fuzz_seed corpus/ && ./fuzz_segment -max_total_time=60 corpus/
 * Any violation reported by the shared body (an undocumented status code or
 * a snapshot disagreeing with a checked state) aborts, like a crash.  The
 * corpus inputs are whole segment images (32 KiB seeds); run with a -max_len
 * of at least that (libFuzzer picks it from the corpus by default).
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size); /* libFuzzer */

/*
 * libFuzzer's byte mutations almost always break geo_check or state_sum, so
 * three times out of four the mutated input gets its checksums recomputed
 * (mshm_fuzz_fixup) and reaches the checks behind them.  The fix-up is part
 * of the mutation, so every saved input (crash, corpus) is exactly what ran.
 */
size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    size = LLVMFuzzerMutate(data, size, max_size);
    switch (seed % 4) {
    case 0:
        break;
    case 1:
        mshm_fuzz_fixup(data, size, 0);
        break;
    default:
        mshm_fuzz_fixup(data, size, 1);
        break;
    }
    return size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];

    if (mshm_fuzz_one(data, size, NULL, why, sizeof(why)) != 0) {
        fprintf(stderr, "mshm fuzz violation: %s\n", why);
        abort();
    }
    return 0;
}
