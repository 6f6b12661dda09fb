/*
 * ctl_health.h -- the controller's own health checks of every redis-server.
 *
 * Every health.interval_ms each watched server gets PING + ROLE (pipelined on
 * one ctl_conn), and every health.info_ms also INFO replication (and the
 * loading flag); each round ends in exactly one ctl_model_probe() call with
 * what was found (ok = 0 on timeout, refused connection, error reply or
 * EOF).  Down/up thresholds are applied by the model, not here.  Only
 * read-only commands are ever sent: PING, ROLE, INFO, AUTH, CLIENT SETNAME.
 */
#ifndef CTL_HEALTH_H
#define CTL_HEALTH_H

#include <ev.h>

#include "ctl_config.h"
#include "ctl_model.h"

struct ctl_health;

struct ctl_health *ctl_health_new(struct ev_loop *loop, const struct ctl_config *cfg,
                                  struct ctl_model *m);
void ctl_health_free(struct ctl_health *h);

/* Start / stop checking s (the model calls these as servers come and go).
 * ctl_health_watch stores its state in s->health_priv. 0 or -1. */
int ctl_health_watch(struct ctl_health *h, struct ctl_server *s);
void ctl_health_unwatch(struct ctl_health *h, struct ctl_server *s);

/* Check s as soon as possible (after a sentinel event); no-op if a check is
 * already in flight. */
void ctl_health_check_now(struct ctl_health *h, struct ctl_server *s);

/* New intervals, timeouts and server credentials (existing connections are
 * re-established when the credentials changed). */
void ctl_health_reconfigure(struct ctl_health *h, const struct ctl_config *cfg);

/* Report each check's round trip to metrics (NULL: stop reporting). */
struct ctl_metrics;
void ctl_health_set_metrics(struct ctl_health *h, struct ctl_metrics *metrics);

#endif /* CTL_HEALTH_H */
