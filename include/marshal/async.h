/*
 * marshal/async.h -- the asynchronous libmarshal-shm API, for event-loop
 * programs (libev, libevent, libuv, or any loop through marshal_async_loop).
 *
 * The same routing and failover rules as the blocking API of marshal.h,
 * without blocking: a command call returns at once and its callback runs
 * later, on the loop, exactly once.
 *
 *   marshal_async *a;
 *   marshal_target *g;
 *   marshal_async_open(NULL, NULL, &a);
 *   marshal_async_libev_attach(a, EV_DEFAULT);           // adapters/libev.h
 *   marshal_async_target_open(a, "cache", &g);
 *   marshal_async_command(g, on_reply, NULL, "SET %s %s", "k", "v");
 *   ev_run(EV_DEFAULT, 0);
 *
 *   void on_reply(marshal_async *a, redisReply *r, const marshal_result *res, void *priv)
 *   {   // r is NULL when res->status != MARSHAL_OK; owned by the library
 *       if (res->outcome == MARSHAL_OUTCOME_APPLIED) ...
 *   }
 *
 * Model.
 *   - One marshal_async per loop and thread (like a redisAsyncContext).  It
 *     owns an internal marshal_client (marshal_async_client()): events are
 *     registered on it with marshal_client_on() and delivered on the loop;
 *     marshal_target_use() and marshal_target_info_get() work on async
 *     targets as on blocking ones.  Never pass an async target to the
 *     blocking command calls.
 *   - One hiredis redisAsyncContext per server, opened lazily; many commands
 *     in flight on each (pipelining), replies matched in order.
 *   - A command for a group with no confirmed master (or that got READONLY,
 *     MASTERDOWN, LOADING, or whose connection was refused before it was
 *     sent) is parked in a bounded per-group queue (marshal_options.park_max)
 *     for at most failover_wait_ms, and sent when the controller publishes a
 *     new master.  The controller wakes the loop through its wake socket
 *     ("<segment>.wake", docs/client.md): no polling, no thread.  Overflow
 *     fails the command at once with MARSHAL_ERR_PARK_FULL, expiry with
 *     MARSHAL_ERR_PARK_EXPIRED; both are NOT_APPLIED.
 *   - Every sent command has a deadline (command_timeout_ms).  When it
 *     passes, the connection is dropped and its commands end with
 *     MARSHAL_ERR_TIMEOUT, outcome UNKNOWN, and a write is never resent (a
 *     read, which has no effect, is retried once like the blocking API).
 *   - Clusters: a command whose keys land in one group goes there; MGET,
 *     MSET, DEL, UNLINK, EXISTS, TOUCH split over groups and are merged into
 *     one reply and one callback, with one leg per group in the result.
 *     Mirrors (marshal1) and farms (marshal10) send every leg and report
 *     each; the reply is the first member's (the primary's) reply.
 *   - marshal_async_close() with commands in flight runs every callback once
 *     with MARSHAL_ERR_CLOSED: outcome NOT_APPLIED if the command was never
 *     sent, UNKNOWN if it was.
 *
 * The library never blocks, prints or aborts.  Callbacks may issue new
 * commands and may close the handle.
 */
#ifndef MARSHAL_ASYNC_H
#define MARSHAL_ASYNC_H

#include <hiredis/async.h>

#include "marshal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct marshal_async marshal_async;

/* What happened to one asynchronous command (valid during the callback). */
typedef struct marshal_result {
    int status;                /* ro: MARSHAL_OK or the error (enum marshal_status)      */
    int outcome;               /* ro: MARSHAL_OUTCOME_*                                  */
    const char *host;          /* ro: server that answered (or was tried last); ""       */
    int port;                  /* ro */
    int attempts;              /* ro: times it was sent (retries after failover count)   */
    uint64_t parked_ns;        /* ro: time spent parked waiting for a master             */
    int n_legs;                /* ro: cluster/mirror targets: legs (one per group)       */
    const marshal_leg *legs;   /* ro: the legs, n_legs of them                           */
    const char *errstr;        /* ro: detail of status ("" when OK)                      */
} marshal_result;

/*
 * Reply callback.  reply is the command's reply (a Redis error reply is a
 * reply: check reply->type) or NULL when res->status is an error; it is
 * owned by the library and freed when the callback returns.
 */
typedef void (*marshal_async_fn)(marshal_async *a, redisReply *reply, const marshal_result *res,
                                 void *privdata);

/*
 * The loop glue an adapter supplies (adapters/libev.h, libevent.h, libuv.h
 * fill it in).  All hooks are called from the loop thread.
 */
typedef struct marshal_async_loop {
    void *data;                                             /* rw: adapter's state     */
    /* attach a new server connection to the loop (hiredis's own adapter);
     * 0 on success */
    int (*attach)(void *data, redisAsyncContext *ac);
    /* (re)arm the handle's single timer to fire after ms milliseconds
     * (ms < 0: stop it); on expiry call marshal_async_handle_timer() */
    void (*set_timer)(void *data, long ms);
    /* watch fd for readability (fd < 0: stop watching; at most one fd);
     * when readable call marshal_async_handle_wake() */
    void (*set_wake_fd)(void *data, int fd);
    /* the handle is being closed: stop everything, free data if owned */
    void (*cleanup)(void *data);
} marshal_async_loop;

/*
 * Open the segment (as marshal_client_open: path NULL = $MARSHAL_SEGMENT or
 * /dev/shm/marshal.main; opts NULL = defaults) and create an async handle.
 * Segment errors (NOENT, PERM, VERSION, CORRUPT, RETIRED) still return a
 * handle in *out that keeps trying to attach; other errors leave *out NULL.
 * Attach a loop with marshal_async_set_loop() (or an adapter) before
 * issuing commands.
 */
MARSHAL_API int marshal_async_open(const char *path, const marshal_options *opts,
                                   marshal_async **out);

/* Give the handle its loop glue (copied).  INVAL if a hook is missing. */
MARSHAL_API int marshal_async_set_loop(marshal_async *a, const marshal_async_loop *loop);

/*
 * Close: every pending callback runs once with MARSHAL_ERR_CLOSED (see the
 * top of this file), then connections, targets and the segment are released.
 * May be called from a callback.  NULL is a no-op.
 */
MARSHAL_API void marshal_async_close(marshal_async *a);

/* The handle's internal client: events (marshal_client_on), state, errstr. */
MARSHAL_API marshal_client *marshal_async_client(marshal_async *a);

/*
 * Look up a group, cluster or farm by name (marshal_target_open's rules).
 * The target lives until marshal_async_close() (marshal_target_close() on
 * it does nothing: commands in flight may still refer to it).
 */
MARSHAL_API int marshal_async_target_open(marshal_async *a, const char *name,
                                          marshal_target **out);

/*
 * Issue a command; the callback runs exactly once, later, on the loop (never
 * from inside this call).  Returns MARSHAL_OK, or a negative status when the
 * command could not even be accepted (INVAL: bad format or target; NOMEM) --
 * then the callback never runs.
 */
/* No format(printf) attribute: the format is hiredis's, whose %b (pointer,
 * size_t) GCC >= 12 checks as C23's %b (unsigned int) and rejects. */
MARSHAL_API int marshal_async_command(marshal_target *t, marshal_async_fn fn, void *privdata,
                                      const char *format, ...);
MARSHAL_API int marshal_async_vcommand(marshal_target *t, marshal_async_fn fn, void *privdata,
                                       const char *format, va_list ap);
MARSHAL_API int marshal_async_command_argv(marshal_target *t, marshal_async_fn fn,
                                           void *privdata, int argc, const char **argv,
                                           const size_t *argvlen);

/* The adapters' entry points: the timer fired / the wake fd is readable. */
MARSHAL_API void marshal_async_handle_timer(marshal_async *a);
MARSHAL_API void marshal_async_handle_wake(marshal_async *a);

/* Counters of this handle (monotonic; for metrics). */
typedef struct marshal_async_stats {
    uint64_t commands;         /* ro: accepted                                      */
    uint64_t applied;          /* ro: callbacks with outcome APPLIED                */
    uint64_t not_applied;      /* ro: NOT_APPLIED                                   */
    uint64_t unknown;          /* ro: UNKNOWN (or PARTIAL)                          */
    uint64_t retries;          /* ro: sends after the first (failover, read retry)  */
    uint64_t parked;           /* ro: commands that were parked at least once       */
    uint64_t park_full;        /* ro: refused by a full park queue                  */
    uint64_t park_expired;     /* ro: failed when their park wait ran out           */
    uint64_t timeouts;         /* ro: ended by command_timeout_ms                   */
    uint64_t connects;         /* ro: connections opened                            */
    uint64_t wakes;            /* ro: wake-socket wakeups handled                   */
    uint64_t in_flight;        /* ro: callbacks not yet run                         */
    uint64_t reserved[8];      /* private */
} marshal_async_stats;

MARSHAL_API void marshal_async_stats_get(const marshal_async *a, marshal_async_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* MARSHAL_ASYNC_H */
