/*
 * marshal/adapters/libuv.h -- the asynchronous libmarshal-shm API on a libuv
 * loop.  Header-only, like hiredis's adapters.
 *
 *   marshal_async *a;
 *   marshal_async_open(NULL, NULL, &a);
 *   marshal_async_libuv_attach(a, uv_default_loop());
 *
 * Server connections use hiredis's libuv adapter; the handle's timer is a
 * uv_timer_t and the controller's wake socket a uv_poll_t.  libuv closes
 * handles asynchronously: after marshal_async_close() let the loop run once
 * more (uv_run) before uv_loop_close() so the glue is freed.
 */
#ifndef MARSHAL_ADAPTERS_LIBUV_H
#define MARSHAL_ADAPTERS_LIBUV_H

#include <stdlib.h>

#include <uv.h>
#include <hiredis/adapters/libuv.h>

#include "../async.h"

struct marshal_async_libuv_ {
    uv_loop_t *loop;
    marshal_async *a;
    uv_timer_t timer;
    uv_poll_t *wake;            /* NULL when no fd is watched */
    int closing;                /* handles still to be closed */
};

static int
marshal_async_libuv_add_(void *d, redisAsyncContext *ac)
{
    struct marshal_async_libuv_ *m = (struct marshal_async_libuv_ *)d;

    return redisLibuvAttach(ac, m->loop) == REDIS_OK ? 0 : -1;
}

static void
marshal_async_libuv_timer_cb_(uv_timer_t *h)
{
    marshal_async_handle_timer(((struct marshal_async_libuv_ *)h->data)->a);
}

static void
marshal_async_libuv_wake_cb_(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    marshal_async_handle_wake(((struct marshal_async_libuv_ *)h->data)->a);
}

static void
marshal_async_libuv_set_timer_(void *d, long ms)
{
    struct marshal_async_libuv_ *m = (struct marshal_async_libuv_ *)d;

    uv_timer_stop(&m->timer);
    if (ms >= 0) {
        uv_timer_start(&m->timer, marshal_async_libuv_timer_cb_, (uint64_t)ms, 0);
    }
}

static void
marshal_async_libuv_poll_closed_(uv_handle_t *h)
{
    free(h);
}

static void
marshal_async_libuv_set_wake_fd_(void *d, int fd)
{
    struct marshal_async_libuv_ *m = (struct marshal_async_libuv_ *)d;

    if (m->wake != NULL) {
        uv_poll_stop(m->wake);
        uv_close((uv_handle_t *)m->wake, marshal_async_libuv_poll_closed_);
        m->wake = NULL;
    }
    if (fd >= 0) {
        m->wake = (uv_poll_t *)calloc(1, sizeof(uv_poll_t));
        if (m->wake == NULL) {
            return;
        }
        if (uv_poll_init(m->loop, m->wake, fd) != 0) {
            free(m->wake);
            m->wake = NULL;
            return;
        }
        m->wake->data = m;
        uv_poll_start(m->wake, UV_READABLE, marshal_async_libuv_wake_cb_);
    }
}

static void
marshal_async_libuv_timer_closed_(uv_handle_t *h)
{
    free(h->data);
}

static void
marshal_async_libuv_cleanup_(void *d)
{
    struct marshal_async_libuv_ *m = (struct marshal_async_libuv_ *)d;

    marshal_async_libuv_set_wake_fd_(m, -1);
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, marshal_async_libuv_timer_closed_);
}

/* Attach a to loop: MARSHAL_OK, NOMEM, or INVAL (already attached). */
static inline int
marshal_async_libuv_attach(marshal_async *a, uv_loop_t *loop)
{
    struct marshal_async_libuv_ *m =
        (struct marshal_async_libuv_ *)calloc(1, sizeof(struct marshal_async_libuv_));
    marshal_async_loop l;
    int rc;

    if (m == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    m->loop = loop;
    m->a = a;
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    l.data = m;
    l.attach = marshal_async_libuv_add_;
    l.set_timer = marshal_async_libuv_set_timer_;
    l.set_wake_fd = marshal_async_libuv_set_wake_fd_;
    l.cleanup = marshal_async_libuv_cleanup_;
    rc = marshal_async_set_loop(a, &l);
    if (rc != MARSHAL_OK) {
        uv_close((uv_handle_t *)&m->timer, marshal_async_libuv_timer_closed_);
    }
    return rc;
}

#endif /* MARSHAL_ADAPTERS_LIBUV_H */
