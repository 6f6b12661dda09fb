/*
 * fake_model.h -- the ctl_model stand-in used by the ctl_sentinel tests
 * (see fake_model.c).
 */
#ifndef FAKE_MODEL_H
#define FAKE_MODEL_H

#include <stdio.h>

#include "ctl_model.h"

/* Where the machine-checkable lines go; NULL = count only. */
extern FILE *fake_model_out;

/* Call counters and the last values seen. */
struct fake_model_stats {
    unsigned long views, null_views, states, counts, events;
    uint32_t last_count;
    struct ctl_sentinel_view last_view;
};
extern struct fake_model_stats fake_model_stats;

#endif /* FAKE_MODEL_H */
