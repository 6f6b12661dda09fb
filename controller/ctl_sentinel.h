/*
 * ctl_sentinel.h -- talking to Redis Sentinel: subscriptions and polling.
 *
 * For every configured sentinel (and every sentinel discovered through
 * SENTINEL SENTINELS) two ctl_conn connections: a command connection that
 * polls SENTINEL MASTER / REPLICAS / SENTINELS <group> for every
 * sentinel-managed group every sentinels.poll_ms plus INFO sentinel (TILT),
 * and a subscribed connection (PSUBSCRIBE to the events that matter, probed
 * with PING through a token pattern).  Any relevant event, and every
 * reconnect, triggers an immediate poll.  Replies are parsed by key, never by
 * position, with overflow-checked numbers.  Results go to the model:
 * ctl_model_sentinel_view / _state / _count / _event.  Only read-only
 * commands are sent (an allow-list enforced in code); never
 * IS-MASTER-DOWN-BY-ADDR.
 */
#ifndef CTL_SENTINEL_H
#define CTL_SENTINEL_H

#include <ev.h>
#include <stddef.h>

#include "ctl_config.h"
#include "ctl_model.h"

struct ctl_sentinels;

struct ctl_sentinels *ctl_sentinels_new(struct ev_loop *loop, const struct ctl_config *cfg,
                                        struct ctl_model *m);
void ctl_sentinels_free(struct ctl_sentinels *s);

/* New sentinel list / credentials / timeouts / group list. */
void ctl_sentinels_reconfigure(struct ctl_sentinels *s, const struct ctl_config *cfg);

/* Poll every group on every sentinel now (resync). */
void ctl_sentinels_poll_now(struct ctl_sentinels *s);

/* Up to max sentinels as the metrics endpoint shows them; returns how many. */
struct ctl_metrics_sentinel;
uint32_t ctl_sentinels_stats(const struct ctl_sentinels *s, struct ctl_metrics_sentinel *out,
                             uint32_t max);

/* The master name an event's payload is about: 1 with it in out, else 0. */
int ctl_sentinel_event_group(const char *channel, const char *payload, char *out,
                             size_t outlen);

/* Is cmd (argv[0], argv[1]) one the controller may send to a sentinel? */
int ctl_sentinel_allowed(int argc, const char **argv);

#endif /* CTL_SENTINEL_H */
