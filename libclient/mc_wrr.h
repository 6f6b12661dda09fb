/*
 * mc_wrr.h -- smooth weighted round-robin (the nginx upstream algorithm).
 *
 * Each pick adds every eligible member's weight to its current value, takes
 * the member with the largest current value (first on ties) and subtracts
 * the eligible total from it.  Over any window of sum(weights) picks each
 * member is chosen exactly weight times, and picks are spread out (weights
 * 1,2 give B A B B A B ...), not bunched.  Members can be skipped per pick
 * (a suspect server) without disturbing the others' shares.
 */
#ifndef MC_WRR_H
#define MC_WRR_H

#include <stdint.h>

#define MC_WRR_MAX 32

struct mc_wrr {
    int n;                        /* members                            */
    int32_t weight[MC_WRR_MAX];   /* > 0                                */
    int64_t cur[MC_WRR_MAX];      /* current values                     */
};

/*
 * Pick a member.  skip (may be 0) is a bit mask of members not eligible this
 * time.  Returns the member index, or -1 when none is eligible.
 */
static inline int
mc_wrr_pick(struct mc_wrr *w, uint32_t skip)
{
    int64_t total = 0;
    int i, best = -1;

    for (i = 0; i < w->n; i++) {
        if (skip & (1u << i)) {
            continue;
        }
        w->cur[i] += w->weight[i];
        total += w->weight[i];
        if (best < 0 || w->cur[i] > w->cur[best]) {
            best = i;
        }
    }
    if (best >= 0) {
        w->cur[best] -= total;
    }
    return best;
}

#endif /* MC_WRR_H */
