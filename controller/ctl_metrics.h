/*
 * ctl_metrics.h -- the controller's Prometheus endpoint (config `metrics`).
 *
 * Owns a libmicrohttpd daemon on its own thread and a read-only attach of
 * the segment the controller publishes: a scrape renders the published
 * state with the reader API (mshm_prom.c), so the HTTP side shares no lock
 * and no memory with the controller's loop; what it shows is exactly what
 * applications see.  Only GET/HEAD /metrics is served (other paths 404,
 * other methods 405); request size, connections and time are bounded.
 *
 * What the segment does not hold the loop hands over without blocking:
 * publish and health-check durations go into histograms of relaxed atomic
 * counters (ctl_metrics_publish / ctl_metrics_check: a few adds, callable
 * with m == NULL when metrics are off), and the sentinel table is copied in
 * by ctl_metrics_sentinels under a mutex held only for that memcpy (the
 * HTTP thread holds it only to copy it out).  Series: docs/metrics.md.
 */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_config.h"

struct ctl_metrics;

/* Listen on addr and serve seg_path's state.  NULL with err set on failure. */
struct ctl_metrics *ctl_metrics_start(const struct ctl_addr *addr, const char *seg_path,
                                      char *err, size_t errlen);

/* One sentinel as the loop sees it (ctl_sentinels_stats). */
struct ctl_metrics_sentinel {
    char addr[CTL_HOST_MAX + 8];  /* "host:port"                               */
    int up;                       /* command connection up                     */
    int tilt;                     /* INFO says TILT                            */
    uint64_t last_poll_ms;        /* ctl_now_ms() of the last good poll; 0 never */
};

/* A publish that took ns nanoseconds; a health check that took us µs. */
void ctl_metrics_publish(struct ctl_metrics *m, uint64_t ns);
void ctl_metrics_check(struct ctl_metrics *m, uint32_t us);

/* Replace the sentinel table (n entries of s). */
void ctl_metrics_sentinels(struct ctl_metrics *m, const struct ctl_metrics_sentinel *s,
                           uint32_t n);

/* Stop serving and free (NULL is fine). */
void ctl_metrics_stop(struct ctl_metrics *m);

#endif /* CTL_METRICS_H */
