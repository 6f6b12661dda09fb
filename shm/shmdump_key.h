/*
 * shmdump_key.h -- marshal-shmdump --key: where a key routes and why.
 */
#ifndef SHMDUMP_KEY_H
#define SHMDUMP_KEY_H

#include <stdio.h>

#include "mshm_read.h"

/*
 * Explain key for every cluster/farm of st, or only target (a group, cluster
 * or farm name).  Returns 0, 1 when a key could not be placed (empty ring,
 * a member missing), 2 when target does not exist.
 */
int shmdump_key(FILE *out, const struct mshm_state *st, const char *key, const char *target);

#endif /* SHMDUMP_KEY_H */
