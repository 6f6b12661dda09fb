/*
 * marshal/adapters/libevent.h -- the asynchronous libmarshal-shm API on a
 * libevent 2 event_base.  Header-only, like hiredis's adapters.
 *
 *   marshal_async *a;
 *   marshal_async_open(NULL, NULL, &a);
 *   marshal_async_libevent_attach(a, base);
 *
 * Server connections use hiredis's libevent adapter; the handle's timer is
 * an evtimer and the controller's wake socket a persistent EV_READ event.
 * marshal_async_close() frees both.
 */
#ifndef MARSHAL_ADAPTERS_LIBEVENT_H
#define MARSHAL_ADAPTERS_LIBEVENT_H

#include <stdlib.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>

#include "../async.h"

struct marshal_async_libevent_ {
    struct event_base *base;
    marshal_async *a;
    struct event *timer;
    struct event *wake;
};

static int
marshal_async_libevent_add_(void *d, redisAsyncContext *ac)
{
    struct marshal_async_libevent_ *m = (struct marshal_async_libevent_ *)d;

    return redisLibeventAttach(ac, m->base) == REDIS_OK ? 0 : -1;
}

static void
marshal_async_libevent_timer_cb_(evutil_socket_t fd, short what, void *d)
{
    (void)fd;
    (void)what;
    marshal_async_handle_timer(((struct marshal_async_libevent_ *)d)->a);
}

static void
marshal_async_libevent_wake_cb_(evutil_socket_t fd, short what, void *d)
{
    (void)fd;
    (void)what;
    marshal_async_handle_wake(((struct marshal_async_libevent_ *)d)->a);
}

static void
marshal_async_libevent_set_timer_(void *d, long ms)
{
    struct marshal_async_libevent_ *m = (struct marshal_async_libevent_ *)d;
    struct timeval tv;

    evtimer_del(m->timer);
    if (ms >= 0) {
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
        evtimer_add(m->timer, &tv);
    }
}

static void
marshal_async_libevent_set_wake_fd_(void *d, int fd)
{
    struct marshal_async_libevent_ *m = (struct marshal_async_libevent_ *)d;

    if (m->wake != NULL) {
        event_free(m->wake);
        m->wake = NULL;
    }
    if (fd >= 0) {
        m->wake = event_new(m->base, fd, EV_READ | EV_PERSIST, marshal_async_libevent_wake_cb_, m);
        if (m->wake != NULL) {
            event_add(m->wake, NULL);
        }
    }
}

static void
marshal_async_libevent_cleanup_(void *d)
{
    struct marshal_async_libevent_ *m = (struct marshal_async_libevent_ *)d;

    if (m->wake != NULL) {
        event_free(m->wake);
    }
    event_free(m->timer);
    free(m);
}

/* Attach a to base: MARSHAL_OK, NOMEM, or INVAL (already attached). */
static inline int
marshal_async_libevent_attach(marshal_async *a, struct event_base *base)
{
    struct marshal_async_libevent_ *m =
        (struct marshal_async_libevent_ *)calloc(1, sizeof(struct marshal_async_libevent_));
    marshal_async_loop l;
    int rc;

    if (m == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    m->base = base;
    m->a = a;
    m->timer = evtimer_new(base, marshal_async_libevent_timer_cb_, m);
    if (m->timer == NULL) {
        free(m);
        return MARSHAL_ERR_NOMEM;
    }
    l.data = m;
    l.attach = marshal_async_libevent_add_;
    l.set_timer = marshal_async_libevent_set_timer_;
    l.set_wake_fd = marshal_async_libevent_set_wake_fd_;
    l.cleanup = marshal_async_libevent_cleanup_;
    rc = marshal_async_set_loop(a, &l);
    if (rc != MARSHAL_OK) {
        event_free(m->timer);
        free(m);
    }
    return rc;
}

#endif /* MARSHAL_ADAPTERS_LIBEVENT_H */
