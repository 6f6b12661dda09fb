/*
 * modes.h -- the output modes of marshal-shmdump; main.c parses the
 * arguments, attaches and calls exactly one of them.  What each owns:
 *
 *   table.c   the default human-readable dump: header, groups with their
 *             servers, clusters and farms, the last events (print_*()).
 *   json.c    --json: one JSON object (schema version JSON_SCHEMA, the
 *             schema itself is documented at the top of json.c and in
 *             docs/shmdump-json.md).
 *   check.c   --check: header checksum, state invariants, enum ranges and
 *             the event ring, with the exit code of the verdict.
 *   watch.c   --watch: follow the segment (futex wakeups, ring events,
 *             liveness changes) and print one line per change.
 *   key.c     --key KEY [--target NAME]: where a key routes, and why, with
 *             the shared placement code (shm/place/).
 * Shared helpers live in fmt.h (formatting, JSON writer) and state.h (the
 * dump context and record access).
 */
#ifndef SHMDUMP_MODES_H
#define SHMDUMP_MODES_H

#include <stdint.h>
#include <stdio.h>

#include "mshm_read.h"
#include "state.h"

/* table.c */
void print_header(struct ctx *c);
void print_groups(const struct ctx *c);
void print_clusters(const struct ctx *c, unsigned kind);
void print_events(struct ctx *c, uint32_t n);

/* json.c */
void print_json(struct ctx *c, uint32_t nev);

/* check.c */
int run_check(struct ctx *c);

/* watch.c */
int run_watch(const char *path, long count, long timeout_ms);

/* key.c */
/*
 * Explain key for every cluster/farm of st, or only target (a group, cluster
 * or farm name).  Returns 0, 1 when a key could not be placed (empty ring,
 * a member missing), 2 when target does not exist.
 */
int shmdump_key(FILE *out, const struct mshm_state *st, const char *key, const char *target);

#endif /* SHMDUMP_MODES_H */
