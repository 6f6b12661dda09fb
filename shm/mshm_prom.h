/*
 * mshm_prom.h -- the segment as Prometheus text exposition format (0.0.4):
 * per-group and per-server series rendered from a state copy alone, so the
 * controller's HTTP endpoint and `marshal-shmdump --prometheus` print the
 * same thing and the endpoint shares no lock with the controller's loop.
 * Owns no state.  Series and their meaning: docs/metrics.md.
 */
#ifndef MSHM_PROM_H
#define MSHM_PROM_H

#include <stdio.h>

#include "mshm_read.h"

/*
 * Write every series of st to f.  liveness is mshm_liveness() of the
 * reader st came from (or -1 when unknown); release and revision name the
 * build (marshal_build_info).  Returns the number of series written.
 */
long mshm_prom_render(FILE *f, const struct mshm_state *st, int liveness, const char *release,
                      const char *revision);

/* s escaped as a label value (\\, \", \n) into buf of len bytes; returns buf. */
const char *mshm_prom_escape(const char *s, char *buf, size_t len);

#endif /* MSHM_PROM_H */
