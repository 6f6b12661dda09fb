/*
 * marshal/adapters/libev.h -- libmarshal-shm on a libev loop: the asynchronous
 * API (marshal_async_libev_attach, at the end) and event polling for the
 * blocking client (marshal_libev_attach).
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

#include <stdlib.h>

#include <hiredis/adapters/libev.h>

#include "../async.h"

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

/* ---- the asynchronous API (marshal/async.h) on a libev loop ---------------------------- */

/*
 *   marshal_async *a;
 *   marshal_async_open(NULL, NULL, &a);
 *   marshal_async_libev_attach(a, EV_DEFAULT);
 *
 * Server connections use hiredis's own libev adapter; the handle's timer is
 * an ev_timer and the controller's wake socket an ev_io.  Events registered
 * with marshal_client_on(marshal_async_client(a), ...) are delivered from
 * the same loop.  marshal_async_close() stops and frees the glue.
 */
struct marshal_async_libev_ {
    struct ev_loop *loop;
    marshal_async *a;
    ev_timer timer;
    ev_io wake;
};

static int
marshal_async_libev_add_(void *d, redisAsyncContext *ac)
{
    struct marshal_async_libev_ *m = (struct marshal_async_libev_ *)d;

    return redisLibevAttach(m->loop, ac) == REDIS_OK ? 0 : -1;
}

static void
marshal_async_libev_timer_cb_(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    marshal_async_handle_timer(((struct marshal_async_libev_ *)w->data)->a);
}

static void
marshal_async_libev_wake_cb_(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    marshal_async_handle_wake(((struct marshal_async_libev_ *)w->data)->a);
}

static void
marshal_async_libev_set_timer_(void *d, long ms)
{
    struct marshal_async_libev_ *m = (struct marshal_async_libev_ *)d;

    ev_timer_stop(m->loop, &m->timer);
    if (ms >= 0) {
        ev_timer_set(&m->timer, ms / 1000.0, 0.);
        ev_timer_start(m->loop, &m->timer);
    }
}

static void
marshal_async_libev_set_wake_fd_(void *d, int fd)
{
    struct marshal_async_libev_ *m = (struct marshal_async_libev_ *)d;

    ev_io_stop(m->loop, &m->wake);
    if (fd >= 0) {
        ev_io_set(&m->wake, fd, EV_READ);
        ev_io_start(m->loop, &m->wake);
    }
}

static void
marshal_async_libev_cleanup_(void *d)
{
    struct marshal_async_libev_ *m = (struct marshal_async_libev_ *)d;

    ev_timer_stop(m->loop, &m->timer);
    ev_io_stop(m->loop, &m->wake);
    free(m);
}

/* Attach a to loop: MARSHAL_OK, NOMEM, or INVAL (already attached). */
static inline int
marshal_async_libev_attach(marshal_async *a, struct ev_loop *loop)
{
    struct marshal_async_libev_ *m =
        (struct marshal_async_libev_ *)calloc(1, sizeof(struct marshal_async_libev_));
    marshal_async_loop l;
    int rc;

    if (m == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    m->loop = loop;
    m->a = a;
    ev_init(&m->timer, marshal_async_libev_timer_cb_);
    m->timer.data = m;
    ev_init(&m->wake, marshal_async_libev_wake_cb_);
    m->wake.data = m;
    l.data = m;
    l.attach = marshal_async_libev_add_;
    l.set_timer = marshal_async_libev_set_timer_;
    l.set_wake_fd = marshal_async_libev_set_wake_fd_;
    l.cleanup = marshal_async_libev_cleanup_;
    rc = marshal_async_set_loop(a, &l);
    if (rc != MARSHAL_OK) {
        free(m);
    }
    return rc;
}

#endif /* MARSHAL_ADAPTERS_LIBEV_H */
