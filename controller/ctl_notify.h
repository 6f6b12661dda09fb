/*
 * ctl_notify.h -- run the configured notification program for each event.
 *
 * argv = notify.program, notify.args..., then the event words:
 *   EVENT GROUP SERVER OLD_SERVER EPOCH     (e.g. masterSwitch cache
 *   127.0.0.1:6380 127.0.0.1:6379 3; "-" for absent values)
 * except readsUnavailable, which has its reason where OLD_SERVER is:
 *   readsUnavailable GROUP - REASON EPOCH   (REASON: comma list of down,
 *   link_down, syncing, lagging, not_replica)
 * slaveDown/slaveUp/allSlavesDown/allSlavesUp follow availability (health
 * checks, sentinel +sdown/+odown), never readability; the exact trigger of
 * every EVENT is in etc/marshal.conf and docs/client.md, "Events".
 * Executed directly with posix_spawn (never through a shell), with only
 * PATH in its environment, no inherited descriptors beyond 0-2 and default
 * signal dispositions; killed after notify.timeout_ms.  At most CTL_NOTIFY_MAX run at
 * once; events beyond that are dropped with a warning (the segment and the
 * log still have them).
 */
#ifndef CTL_NOTIFY_H
#define CTL_NOTIFY_H

#include <ev.h>

#include "ctl_config.h"

#define CTL_NOTIFY_MAX 8

struct ctl_notify;

struct ctl_notify *ctl_notify_new(struct ev_loop *loop, const struct ctl_config *cfg);
void ctl_notify_reconfigure(struct ctl_notify *n, const struct ctl_config *cfg);
void ctl_notify_free(struct ctl_notify *n);

/* Start the program for one event (no-op without notify.program). */
void ctl_notify_event(struct ctl_notify *n, const char *event, const char *group,
                      const char *server, const char *old_server, unsigned long long epoch);

#endif /* CTL_NOTIFY_H */
