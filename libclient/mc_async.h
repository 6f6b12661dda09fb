/*
 * mc_async.h -- the asynchronous front end (include/marshal/async.h).
 *
 * Owns: the async handle, its per-server redisAsyncContext connections
 * (struct mc_aconn, hung off the routing core's struct mc_conn), the
 * requests in flight (struct mc_areq), the per-group park queues
 * (struct mc_atarget, hung off marshal_target) and the wake socket.
 * Routing decisions come from the I/O-free core (mc_classify.c,
 * mc_route.c, mc_outcome.c, mc_split.c, mc_cluster.c placement).  Files,
 * bottom up: mc_async.c (the request engine: connections, deadlines,
 * parking, wake socket, delivery), mc_async_cluster.c (split and mirrored
 * commands; the engine reaches it only through struct mc_acomp_ops),
 * mc_async_api.c (the public calls).  Nothing here calls the blocking
 * front end or the public API.
 */
#ifndef MC_ASYNC_H
#define MC_ASYNC_H

#include <hiredis/async.h>

#include "marshal/async.h"
#include "mc_cluster.h"
#include "mc_internal.h"

/* Where a request is. */
enum mc_rq_where {
    MC_RQ_NEW = 0,     /* not yet dispatched                                   */
    MC_RQ_PARKED,      /* in its group's park queue                            */
    MC_RQ_WAITCONN,    /* waiting for its connection to be ready (not sent)    */
    MC_RQ_SENT,        /* handed to hiredis: in the deadline list              */
    MC_RQ_LEGS,        /* a composite waiting for its legs                     */
    MC_RQ_DONE,        /* completed, callback queued or run                    */
    MC_RQ_ORPHAN       /* completed by close while hiredis still holds it      */
};

struct mc_acomp;
struct mc_areq;

/*
 * What the request engine (mc_async.c) asks of a composite -- a split or
 * mirrored command built by mc_async_cluster.c, the layer above it: fold a
 * finished leg in, list the legs for the result record, free the state.
 */
struct mc_acomp_ops {
    void (*leg_done)(struct mc_areq *parent, struct mc_areq *leg, redisReply *reply);
    int (*legs)(struct mc_areq *q, const marshal_leg **legs);
    void (*free)(struct mc_areq *q);
};

/* One command in flight. */
struct mc_areq {
    marshal_async *a;
    marshal_target *t;            /* where it goes now (a group target for leaves)  */
    char *cmd;                    /* formatted (hiredis), owned                     */
    size_t len;
    int cls, sp;                  /* MC_CLASS_*, MC_SP_*                            */
    int where;                    /* MC_RQ_*                                        */
    int attempts, read_retried;
    int ever_parked;
    struct mc_aconn *conn;        /* MC_RQ_SENT / WAITCONN: its connection          */
    uint64_t start;               /* SENT: bytes queued on the context before it    */
    struct mc_conn *avoid;        /* a server that just failed it                   */
    uint64_t avoid_seq;           /* the master record's change_seq at that time    */
    uint64_t deadline_ns;         /* SENT: reply deadline                           */
    uint64_t park_deadline_ns;    /* first park + failover_wait_ms (0: never parked) */
    uint64_t park_since_ns;       /* current park began                             */
    uint64_t parked_ns;           /* total time parked                              */
    struct mc_areq *prev, *next;  /* park queue / wait list / deadline list / done  */
    marshal_async_fn fn;          /* root requests: the application's callback      */
    void *priv;
    struct mc_areq *parent;       /* legs: the composite they belong to             */
    int leg;                      /* legs: index in the parent's legs               */
    int nkeys;                    /* keys of the command (legs, via a cluster)       */
    marshal_target *via;          /* the cluster a leaf came through (1 leg), or NULL */
    struct mc_acomp *comp;        /* composites: split/mirror state                 */
    const struct mc_acomp_ops *cops; /* composites: their operations (legs use the
                                      * parent's)                                  */
    int status, outcome;
    struct mc_conn *srv;          /* server it was sent to (or tried) last, or NULL */
    char errstr[160];
};

/* A doubly linked FIFO of requests. */
struct mc_aq {
    struct mc_areq *head, *tail;
    uint32_t n;
};

/* A server connection of the async handle. */
enum mc_ac_state { MC_AC_IDLE = 0, MC_AC_CONNECTING, MC_AC_SETUP, MC_AC_READY, MC_AC_DYING };
struct mc_aconn {
    marshal_async *a;
    struct mc_conn *k;            /* address (the route's record)                   */
    redisAsyncContext *ac;        /* NULL when IDLE                                 */
    int state;                    /* MC_AC_*                                        */
    int setup_left;               /* AUTH/SELECT replies outstanding                */
    int setup_failed;
    int fail_status;              /* why the context is being dropped               */
    uint64_t out_queued;          /* bytes handed to this context                   */
    uint64_t connect_deadline_ns;
    int in_flight;                /* requests sent, replies not yet in              */
    struct mc_aq wait;            /* waiting for READY                              */
    struct mc_aconn *next;
};

/* A group target's park queue. */
struct mc_atarget {
    marshal_target *t;
    struct mc_aq parked;
    int listed;                   /* on the handle's list of targets with parked   */
    struct mc_atarget *next_parked;
};

/* The handle. */
struct marshal_async {
    marshal_client *c;            /* routes, segment, events                        */
    marshal_async_loop loop;
    int has_loop;
    struct mc_aconn *conns;
    struct mc_aq sent;            /* every sent request, by deadline (FIFO)          */
    struct mc_aq done;            /* completed inside an API call: callbacks queued */
    struct mc_aq walk;            /* parked requests being re-routed (process_parked);
                                   * a close from a callback there ends them       */
    struct mc_atarget *parked;    /* targets with parked requests                   */
    uint64_t n_parked;
    int timer_armed;
    uint64_t timer_at_ns;
    int wake_fd;                  /* connected wake socket or -1                    */
    uint64_t wake_retry_ns;       /* next connect attempt                           */
    uint32_t seen_notify;         /* notify word when parked requests were last tried */
    int in_api;                   /* > 0: inside marshal_async_command (defer cbs)  */
    int in_walk;                  /* > 0: process_parked is re-routing              */
    int depth;                    /* > 0: inside a handler (defer the final free)   */
    int closing;
    marshal_async_stats st;
};

/* ---- mc_async.c, used by mc_async_cluster.c ---- */

/* A new request for target t with a copy of cmd (NULL on NOMEM). */
struct mc_areq *mc_areq_new(marshal_async *a, marshal_target *t, const char *cmd, size_t len);

/* The same, taking ownership of cmd (malloc'd, e.g. by redisFormatCommand): no copy. */
struct mc_areq *mc_areq_take(marshal_async *a, marshal_target *t, char *cmd, size_t len);

/* Host and port of the server a request went to ("" and 0 if none). */
#define MC_AREQ_HOST(q) ((q)->srv != NULL ? (q)->srv->host : "")
#define MC_AREQ_PORT(q) ((q)->srv != NULL ? (int)(q)->srv->port : 0)

/* Route and send (or park) a request for a group target. */
void mc_areq_dispatch(struct mc_areq *q);

/* End a request: record status/outcome and run (or queue) its completion. */
void mc_areq_fail(struct mc_areq *q, int status, int outcome, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Complete a request with a reply it owns or borrows (legs: to the parent). */
void mc_areq_complete(struct mc_areq *q, redisReply *reply);

/* ---- mc_async_cluster.c (above mc_async.c) ---- */

/* Dispatch a request for any target: group (mc_areq_dispatch), cluster or farm. */
void mc_acl_submit(struct mc_areq *q);

#endif /* MC_ASYNC_H */
