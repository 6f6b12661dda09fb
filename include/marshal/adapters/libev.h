/*
 * marshal/adapters/libev.h -- deliver libmarshal-shm events from a libev loop.
 *
 * Header-only, like hiredis's adapters.  The controller wakes readers with a
 * futex, which an event loop cannot watch, so the adapter polls: an ev_timer
 * calls marshal_client_poll() every interval (its cost is one atomic load and
 * a clock read when nothing changed).  Events are then delivered from the
 * loop thread through the callback registered with marshal_client_on().
 *
 *   struct marshal_libev w;
 *   marshal_libev_attach(&w, EV_DEFAULT, client, 10);   // poll every 10 ms
 *   ...
 *   marshal_libev_detach(&w);
 *
 * A loop that prefers a file descriptor can watch marshal_client_event_fd()
 * with an ev_io instead.
 */
#ifndef MARSHAL_ADAPTERS_LIBEV_H
#define MARSHAL_ADAPTERS_LIBEV_H

#include <ev.h>

#include "../marshal.h"

struct marshal_libev {
    ev_timer timer;             /* private */
    struct ev_loop *loop;       /* ro */
    marshal_client *client;     /* ro */
    int last_status;            /* ro: last marshal_client_poll() result */
};

static void
marshal_libev_tick_(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct marshal_libev *m = (struct marshal_libev *)w->data;

    (void)loop;
    (void)revents;
    m->last_status = marshal_client_poll(m->client);
}

/* Start polling c from loop every interval_ms (>= 1). */
static inline void
marshal_libev_attach(struct marshal_libev *m, struct ev_loop *loop, marshal_client *c,
                     int interval_ms)
{
    double iv = (interval_ms > 0 ? interval_ms : 1) / 1000.0;

    m->loop = loop;
    m->client = c;
    m->last_status = 0;
    ev_timer_init(&m->timer, marshal_libev_tick_, 0., iv);
    m->timer.data = m;
    ev_timer_start(loop, &m->timer);
}

/* Stop polling (call before marshal_client_close). */
static inline void
marshal_libev_detach(struct marshal_libev *m)
{
    ev_timer_stop(m->loop, &m->timer);
}

#endif /* MARSHAL_ADAPTERS_LIBEV_H */
