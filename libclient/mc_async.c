/*
 * mc_async.c -- the asynchronous front end: requests, server connections,
 * parking, deadlines and the wake socket (include/marshal/async.h).
 *
 * A request is classified (mc_classify), routed from the cached route
 * (mc_route_refresh + mc_route_pick: one atomic load when the segment did
 * not move) and handed to the server's redisAsyncContext.  Replies are
 * judged by the core (mc_reply_verdict, mc_loss_verdict): done, park until
 * the topology changes, or retry now elsewhere.
 *
 * Sent or not.  A request waits in its connection's list until the
 * connection is up and AUTH/SELECT (or else a PING) answered; only then is it given to
 * hiredis, so "not sent" is exact for everything that waited.  After that,
 * hiredis keeps unsent bytes in ac->c.obuf: bytes handed to the context
 * minus sdslen(obuf) is what reached the kernel, and a request whose first
 * byte is beyond it was provably not sent (the blocking front end uses the
 * same rule, mc_conn.c).
 *
 * Deadlines.  hiredis 0.14's async API has none.  Every sent request goes
 * into one FIFO whose order is its deadline order (one command timeout per
 * handle), so the earliest deadline is the head; one loop timer, armed
 * lazily (only when it is off or later than a new deadline), covers them,
 * the connects and the park queues.  An expired request's connection is
 * dropped (redisAsyncFree: hiredis runs every pending callback with NULL):
 * its requests end as TIMEOUT / UNKNOWN, never resent if they write.
 *
 * Parking.  A command for a group without a usable master (or refused, or
 * answered READONLY/MASTERDOWN/LOADING) waits in the group's FIFO, at most
 * park_max long and failover_wait_ms old.  The controller writes a byte to
 * every client of "<segment>.wake" after each publish; the loop wakes, the
 * queues are re-routed.  Without the socket (controller down or older) the
 * handle falls back to checking every MC_ASYNC_POLL_MS while requests are
 * parked.
 *
 * Re-entrancy.  Application callbacks may issue commands and close the
 * handle.  Callbacks never run inside marshal_async_command (failures found
 * there are queued and delivered from the timer); close inside a handler
 * releases everything but the handle itself, which is freed when the
 * outermost handler returns (a->depth).  Requests still held by hiredis at
 * close become orphans: their callback already ran (CLOSED), and hiredis's
 * final NULL callback frees them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hiredis/sds.h>

#include "mc_async.h"
#include "mc_commands.h"
#include "mc_outcome.h"
#include "mc_route.h"

#define MC_ASYNC_POLL_MS      50     /* parked and no wake socket: check this often  */
#define MC_ASYNC_TICK_MS      1000   /* events/staleness and wake-socket reconnects  */
#define MC_NEVER              UINT64_MAX

/* ---- small FIFO ------------------------------------------------------------------------- */

static void
aq_push(struct mc_aq *l, struct mc_areq *q)
{
    q->next = NULL;
    q->prev = l->tail;
    if (l->tail != NULL) {
        l->tail->next = q;
    } else {
        l->head = q;
    }
    l->tail = q;
    l->n++;
}

static void
aq_remove(struct mc_aq *l, struct mc_areq *q)
{
    if (q->prev != NULL) {
        q->prev->next = q->next;
    } else {
        l->head = q->next;
    }
    if (q->next != NULL) {
        q->next->prev = q->prev;
    } else {
        l->tail = q->prev;
    }
    q->prev = q->next = NULL;
    l->n--;
}

/* ---- timer ------------------------------------------------------------------------------ */

/* Make sure the timer fires no later than at_ns (coarse monotonic clock). */
static void
ensure_timer(marshal_async *a, uint64_t at_ns)
{
    uint64_t now;
    long ms;

    if (at_ns == MC_NEVER || a->closing || !a->has_loop) {
        return;
    }
    if (a->timer_armed && a->timer_at_ns <= at_ns) {
        return;
    }
    now = mc_coarse_ns();
    ms = at_ns <= now ? 0 : (long)((at_ns - now + 999999) / 1000000);
    a->timer_armed = 1;
    a->timer_at_ns = at_ns;
    a->loop.set_timer(a->loop.data, ms);
}

/* ---- requests --------------------------------------------------------------------------- */

struct mc_areq *
mc_areq_new(marshal_async *a, marshal_target *t, const char *cmd, size_t len)
{
    struct mc_areq *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        return NULL;
    }
    q->cmd = malloc(len > 0 ? len : 1);
    if (q->cmd == NULL) {
        free(q);
        return NULL;
    }
    memcpy(q->cmd, cmd, len);
    q->len = len;
    q->a = a;
    q->t = t;
    q->leg = -1;
    return q;
}

struct mc_areq *
mc_areq_take(marshal_async *a, marshal_target *t, char *cmd, size_t len)
{
    struct mc_areq *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        return NULL;
    }
    q->cmd = cmd;
    q->len = len;
    q->a = a;
    q->t = t;
    q->leg = -1;
    return q;
}

static void
areq_free(struct mc_areq *q)
{
    if (q->comp != NULL) {
        q->cops->free(q);
    }
    free(q->cmd);
    free(q);
}

static void
final_free(marshal_async *a)
{
    struct mc_aconn *cn, *ncn;
    marshal_target *t;

    for (cn = a->conns; cn != NULL; cn = ncn) {
        ncn = cn->next;
        cn->k->async = NULL;
        free(cn);
    }
    for (t = a->c->targets; t != NULL; t = t->next) {
        free(t->async);
        t->async = NULL;
    }
    a->c->async = NULL;
    mc_client_close(a->c);
    free(a);
}

/* Leave a handler: free the handle if it was closed inside. */
static void
leave(marshal_async *a)
{
    if (--a->depth == 0 && a->closing) {
        final_free(a);
    }
}

/* Run the callback (or fold a leg into its composite) and free the request. */
static void
deliver(struct mc_areq *q, redisReply *reply)
{
    marshal_async *a = q->a;
    marshal_result res;
    marshal_leg one;
    int orphan = q->where == MC_RQ_ORPHAN;

    if (!orphan) {
        q->where = MC_RQ_DONE;
    }
    if (q->parent != NULL) {
        q->parent->cops->leg_done(q->parent, q, reply);
        if (!orphan) {
            areq_free(q);
        }
        return;
    }
    memset(&res, 0, sizeof(res));
    res.status = q->status;
    res.outcome = q->outcome;
    res.host = MC_AREQ_HOST(q);
    res.port = MC_AREQ_PORT(q);
    res.attempts = q->attempts;
    res.parked_ns = q->parked_ns;
    res.errstr = q->errstr;
    if (q->comp != NULL) {
        res.n_legs = q->cops->legs(q, &res.legs);
    } else if (q->via != NULL) {
        one.group = q->t->name;
        one.host = MC_AREQ_HOST(q);
        one.port = MC_AREQ_PORT(q);
        one.status = q->status;
        one.outcome = q->outcome;
        one.nkeys = q->nkeys;
        res.n_legs = 1;
        res.legs = &one;
    }
    switch (q->outcome) {
    case MARSHAL_OUTCOME_APPLIED:     a->st.applied++; break;
    case MARSHAL_OUTCOME_NOT_APPLIED: a->st.not_applied++; break;
    default:                          a->st.unknown++; break;
    }
    a->st.in_flight--;
    if (q->fn != NULL) {
        q->fn(a, reply, &res, q->priv);
    }
    if (!orphan) {
        areq_free(q);
    }
}

void
mc_areq_complete(struct mc_areq *q, redisReply *reply)
{
    marshal_async *a = q->a;

    if (a->in_api > 0 && reply == NULL && q->where != MC_RQ_ORPHAN) {
        /* found inside marshal_async_command: the callback runs from the loop */
        q->where = MC_RQ_DONE;
        aq_push(&a->done, q);
        ensure_timer(a, 0);
        return;
    }
    deliver(q, reply);
}

void
mc_areq_fail(struct mc_areq *q, int status, int outcome, const char *fmt, ...)
{
    va_list ap;

    q->status = status;
    q->outcome = outcome;
    va_start(ap, fmt);
    vsnprintf(q->errstr, sizeof(q->errstr), fmt, ap);
    va_end(ap);
    mc_areq_complete(q, NULL);
}

/* ---- connections ------------------------------------------------------------------------ */

static void on_reply(redisAsyncContext *ac, void *r, void *priv);
static void aconn_connect(struct mc_aconn *cn);
static void dispatch_group(struct mc_areq *q);

static int
can_retry(const struct mc_areq *q)
{
    return q->attempts < q->a->c->o.max_attempts;
}

/* q did not run on server k: avoid k and route it again (parks if nowhere to go). */
static void
reroute(struct mc_areq *q, struct mc_conn *k)
{
    q->avoid = k;
    q->avoid_seq = k == q->t->r.master ? q->t->r.master_change_seq : 0;
    k->suspect_until_ns = mc_coarse_ns() + MC_SUSPECT_NS;
    q->where = MC_RQ_NEW;
    q->conn = NULL;
    mc_areq_dispatch(q);
}

/* The connection could not be made: its waiting requests were never sent. */
static void
conn_failed(struct mc_aconn *cn, const char *why)
{
    struct mc_areq *q;

    while ((q = cn->wait.head) != NULL) {
        aq_remove(&cn->wait, q);
        if (can_retry(q) && !q->a->closing) {
            reroute(q, cn->k);
        } else {
            mc_areq_fail(q, MARSHAL_ERR_CONN, MARSHAL_OUTCOME_NOT_APPLIED, "%s:%u: %s",
                         cn->k->host, cn->k->port, why);
        }
    }
}

/* The context is gone (freed by hiredis or by us). */
static void
conn_gone(struct mc_aconn *cn, const char *why)
{
    int failed = cn->setup_failed || cn->state == MC_AC_CONNECTING ||
                 cn->state == MC_AC_SETUP || cn->fail_status == MARSHAL_ERR_CONN;

    cn->ac = NULL;
    cn->state = MC_AC_IDLE;
    cn->setup_left = 0;
    cn->setup_failed = 0;
    cn->fail_status = 0;
    if (cn->wait.n == 0 || cn->a->closing) {
        return;
    }
    if (failed) {
        conn_failed(cn, why);
    } else {
        aconn_connect(cn);  /* requests routed here while it was dying */
    }
}

/* Drop the context with status st for its requests (not from a hiredis callback). */
static void
drop_conn(struct mc_aconn *cn, int st)
{
    redisAsyncContext *ac = cn->ac;
    int state = cn->state;

    if (ac == NULL) {
        return;
    }
    cn->fail_status = st;
    if (state == MC_AC_READY) {
        cn->state = MC_AC_DYING;
    }
    redisAsyncFree(ac);             /* pending callbacks run with NULL now */
    if (cn->ac == ac) {
        /* never connected: hiredis called no disconnect callback */
        cn->state = state;
        conn_gone(cn, st == MARSHAL_ERR_CONN ? "connect timed out" : "dropped");
    }
}

static void
flush_wait(struct mc_aconn *cn);

/* privdata of the PING on_connect sends when there is no AUTH/SELECT */
static int setup_probe;

static void
on_setup(redisAsyncContext *ac, void *r, void *priv)
{
    struct mc_aconn *cn = ac->data;
    redisReply *rep = r;
    marshal_async *a;

    if (cn == NULL || rep == NULL) {
        return;     /* closing, or dying: the disconnect path handles the waiters */
    }
    if (rep->type == REDIS_REPLY_ERROR && priv != &setup_probe) {
        mc_log(cn->a->c, MARSHAL_LOG_WARNING, "%s:%u: connection setup refused: %.*s",
               cn->k->host, cn->k->port, (int)(rep->len > 160 ? 160 : rep->len), rep->str);
        cn->setup_failed = 1;
    }
    if (--cn->setup_left > 0) {
        return;
    }
    if (cn->setup_failed) {
        cn->fail_status = MARSHAL_ERR_CONN;
        redisAsyncDisconnect(ac);   /* nothing else pending: goes at once */
        return;
    }
    cn->state = MC_AC_READY;
    a = cn->a;
    a->depth++;
    flush_wait(cn);
    leave(a);
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct mc_aconn *cn = ac->data;
    marshal_client *c;
    marshal_async *a;
    const char *argv[3];
    int argc;

    if (cn == NULL) {
        return;
    }
    a = cn->a;
    c = a->c;
    a->depth++;
    if (status != REDIS_OK) {
        /* hiredis frees ac when this returns */
        char why[128];

        snprintf(why, sizeof(why), "connect failed: %s", ac->errstr);
        ac->data = NULL;
        cn->state = MC_AC_CONNECTING;
        conn_gone(cn, why);
        leave(a);
        return;
    }
    cn->setup_left = 0;
    if (c->password != NULL) {
        argc = 0;
        argv[argc++] = "AUTH";
        if (c->username != NULL) {
            argv[argc++] = c->username;
        }
        argv[argc++] = c->password;
        if (redisAsyncCommandArgv(ac, on_setup, NULL, argc, argv, NULL) == REDIS_OK) {
            cn->setup_left++;
        }
    }
    if (c->o.database != 0) {
        char db[16];

        snprintf(db, sizeof(db), "%d", c->o.database);
        argv[0] = "SELECT";
        argv[1] = db;
        if (redisAsyncCommandArgv(ac, on_setup, NULL, 2, argv, NULL) == REDIS_OK) {
            cn->setup_left++;
        }
    }
    /* Without AUTH/SELECT, one PING all the same: a connected socket is no
     * proof of a live server (the kernel of a Redis being killed -9 can still
     * complete a handshake after resetting the other connections), and
     * waiters flushed on "connected" alone were then sent and ended UNKNOWN.
     * Any reply proves a live server; an error reply (NOAUTH, ...) is left
     * to the commands, as before. */
    if (cn->setup_left == 0 &&
        redisAsyncCommand(ac, on_setup, &setup_probe, "PING") == REDIS_OK) {
        cn->setup_left++;
    }
    if (cn->setup_left == 0) {
        cn->state = MC_AC_READY;
        flush_wait(cn);
    } else {
        cn->state = MC_AC_SETUP;
    }
    leave(a);
}

static void
on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct mc_aconn *cn = ac->data;
    marshal_async *a;

    (void)status;
    if (cn == NULL) {
        return;
    }
    a = cn->a;
    ac->data = NULL;
    a->depth++;
    conn_gone(cn, "connection lost");
    leave(a);
}

static void
aconn_connect(struct mc_aconn *cn)
{
    marshal_async *a = cn->a;
    redisAsyncContext *ac;
    char why[128];

    ac = redisAsyncConnect(cn->k->host, cn->k->port);
    if (ac == NULL || ac->err) {
        snprintf(why, sizeof(why), "connect: %s", ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL) {
            redisAsyncFree(ac);
        }
        cn->state = MC_AC_CONNECTING;
        conn_gone(cn, why);
        return;
    }
    ac->data = cn;
    if (a->loop.attach(a->loop.data, ac) != 0) {
        ac->data = NULL;
        redisAsyncFree(ac);
        cn->state = MC_AC_CONNECTING;
        conn_gone(cn, "cannot attach the connection to the loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    cn->ac = ac;
    cn->state = MC_AC_CONNECTING;
    cn->out_queued = 0;
    cn->fail_status = 0;
    cn->setup_failed = 0;
    cn->connect_deadline_ns = mc_coarse_ns() + (uint64_t)a->c->o.connect_timeout_ms * 1000000ull;
    a->st.connects++;
    ensure_timer(a, cn->connect_deadline_ns);
}

static struct mc_aconn *
aconn_of(marshal_async *a, struct mc_conn *k)
{
    struct mc_aconn *cn = k->async;

    if (cn != NULL) {
        return cn;
    }
    cn = calloc(1, sizeof(*cn));
    if (cn == NULL) {
        return NULL;
    }
    cn->a = a;
    cn->k = k;
    cn->next = a->conns;
    a->conns = cn;
    k->async = cn;
    return cn;
}

/* Hand q to hiredis on a ready connection. */
static void
submit(struct mc_areq *q, struct mc_aconn *cn)
{
    marshal_async *a = q->a;
    int tmo = a->c->o.command_timeout_ms;

    q->start = cn->out_queued;
    if (redisAsyncFormattedCommand(cn->ac, on_reply, q, q->cmd, q->len) != REDIS_OK) {
        /* the context is going away: the command was not sent */
        if (can_retry(q)) {
            reroute(q, cn->k);
        } else {
            mc_areq_fail(q, MARSHAL_ERR_CONN, MARSHAL_OUTCOME_NOT_APPLIED,
                         "%s:%u: connection closing", cn->k->host, cn->k->port);
        }
        return;
    }
    cn->out_queued += q->len;
    cn->in_flight++;
    q->conn = cn;
    q->where = MC_RQ_SENT;
    q->deadline_ns = tmo > 0 ? mc_coarse_ns() + (uint64_t)tmo * 1000000ull : MC_NEVER;
    aq_push(&a->sent, q);
    ensure_timer(a, q->deadline_ns);
}

static void
flush_wait(struct mc_aconn *cn)
{
    struct mc_areq *q;

    while (cn->state == MC_AC_READY && (q = cn->wait.head) != NULL) {
        aq_remove(&cn->wait, q);
        submit(q, cn);
    }
}

/* Send q to server k (connecting first if needed). */
static void
send_on(struct mc_areq *q, struct mc_conn *k)
{
    marshal_async *a = q->a;
    struct mc_aconn *cn = aconn_of(a, k);

    if (cn == NULL) {
        mc_areq_fail(q, MARSHAL_ERR_NOMEM, MARSHAL_OUTCOME_NOT_APPLIED, "out of memory");
        return;
    }
    q->attempts++;
    if (q->attempts > 1) {
        a->st.retries++;
    }
    q->srv = k;
    if (cn->state == MC_AC_READY) {
        submit(q, cn);
        return;
    }
    q->where = MC_RQ_WAITCONN;
    q->conn = cn;
    aq_push(&cn->wait, q);
    if (cn->state == MC_AC_IDLE) {
        aconn_connect(cn);
    }
}

/* ---- parking ---------------------------------------------------------------------------- */

static struct mc_atarget *
atarget_of(marshal_target *t)
{
    if (t->async == NULL) {
        t->async = calloc(1, sizeof(*t->async));
        if (t->async != NULL) {
            t->async->t = t;
        }
    }
    return t->async;
}

static void
park(struct mc_areq *q, int why)
{
    marshal_async *a = q->a;
    marshal_client *c = a->c;
    struct mc_atarget *at;
    uint64_t now = mc_coarse_ns();

    if (c->o.failover_wait_ms == 0 || c->o.park_max == 0) {
        mc_areq_fail(q, why, MARSHAL_OUTCOME_NOT_APPLIED, "group \"%s\": %s", q->t->name,
                     marshal_strerror(why));
        return;
    }
    at = atarget_of(q->t);
    if (at == NULL) {
        mc_areq_fail(q, MARSHAL_ERR_NOMEM, MARSHAL_OUTCOME_NOT_APPLIED, "out of memory");
        return;
    }
    if (at->parked.n >= (uint32_t)c->o.park_max) {
        a->st.park_full++;
        mc_areq_fail(q, MARSHAL_ERR_PARK_FULL, MARSHAL_OUTCOME_NOT_APPLIED,
                     "group \"%s\": %u commands already wait for a master (park_max)",
                     q->t->name, at->parked.n);
        return;
    }
    if (q->park_deadline_ns == 0) {
        q->park_deadline_ns = now + (uint64_t)c->o.failover_wait_ms * 1000000ull;
    }
    if (!q->ever_parked) {
        q->ever_parked = 1;
        a->st.parked++;
    }
    q->status = why;
    q->where = MC_RQ_PARKED;
    q->park_since_ns = now;
    aq_push(&at->parked, q);
    a->n_parked++;
    if (!at->listed) {
        at->listed = 1;
        at->next_parked = a->parked;
        a->parked = at;
    }
    ensure_timer(a, q->park_deadline_ns);
    if (a->wake_fd < 0) {
        ensure_timer(a, now + MC_ASYNC_POLL_MS * 1000000ull);
    }
}

/*
 * Re-route parked requests: all of them when the segment moved, else only
 * those whose wait is over (they fail, or take the last-resort server).
 * They move to the handle's walk queue first, so that a close from a
 * callback run by this walk still finds (and ends) every one of them before
 * marshal_async_close returns; those with nothing new go back to their
 * group's queue, and park() queues again what parks again.
 */
static void
process_parked(marshal_async *a, uint64_t now)
{
    struct mc_atarget *at;
    struct mc_areq *q;
    uint32_t notify;
    int moved = 0;

    if (a->parked == NULL) {
        return;
    }
    if (a->c->attached) {
        notify = mc_notify(a->c);
        moved = notify != a->seen_notify;
        a->seen_notify = notify;
    } else {
        moved = 1;  /* not attached: dispatch retries the attach */
    }
    while ((at = a->parked) != NULL) {
        a->parked = at->next_parked;
        at->listed = 0;
        while ((q = at->parked.head) != NULL) {
            aq_remove(&at->parked, q);
            aq_push(&a->walk, q);
        }
    }
    a->in_walk++;
    while (!a->closing && (q = a->walk.head) != NULL) {
        aq_remove(&a->walk, q);
        if (!moved && now < q->park_deadline_ns) {
            at = q->t->async;                /* nothing new for it: back, same deadline */
            aq_push(&at->parked, q);
            if (!at->listed) {
                at->listed = 1;
                at->next_parked = a->parked;
                a->parked = at;
            }
            continue;
        }
        a->n_parked--;
        q->parked_ns += now - q->park_since_ns;
        q->where = MC_RQ_NEW;
        dispatch_group(q);
    }
    a->in_walk--;
}

/* ---- routing a group request -------------------------------------------------------------- */

static void
pin_at_dispatch(marshal_target *t, struct mc_conn *k, int sp)
{
    /* order on the connection is what counts: pin when it is sent */
    if (sp == MC_SP_MULTI) {
        t->pinned = k;
        t->in_multi = 1;
    } else if (sp == MC_SP_WATCH) {
        t->pinned = k;
    } else if (sp == MC_SP_EXEC || sp == MC_SP_DISCARD || (sp == MC_SP_UNWATCH && !t->in_multi)) {
        t->pinned = NULL;
        t->in_multi = 0;
    }
}

static void
dispatch_group(struct mc_areq *q)
{
    marshal_async *a = q->a;
    marshal_client *c = a->c;
    marshal_target *t = q->t;
    struct mc_pick p;
    struct mc_conn *k;
    int rc;

    rc = mc_route_refresh(t);
    if (rc != MARSHAL_OK) {
        mc_areq_fail(q, rc, MARSHAL_OUTCOME_NOT_APPLIED, "%s", c->errstr);
        return;
    }
    if (q->cls == MC_CLASS_WRITE && t->pinned == NULL && mc_stale_refused(c)) {
        mc_areq_fail(q, MARSHAL_ERR_STALE, MARSHAL_OUTCOME_NOT_APPLIED,
                     "controller heartbeat stopped; writes refused after %d ms",
                     c->o.stale_writes_fail_ms);
        return;
    }
    /* writes keep their order: a write never overtakes the group's parked ones
     * (the segment may already show the master before the wake is handled) */
    if (q->cls == MC_CLASS_WRITE && q->where == MC_RQ_NEW && q->park_deadline_ns == 0 &&
        t->async != NULL && t->async->parked.n > 0) {
        if (!a->in_walk) {
            process_parked(a, mc_coarse_ns());
        }
        if (t->async->parked.n > 0 && !a->closing) {
            park(q, MARSHAL_ERR_NOMASTER);
            return;
        }
    }
    p.avoid = NULL;
    if (q->avoid != NULL &&
        (q->avoid != t->r.master || t->r.master_change_seq == q->avoid_seq)) {
        p.avoid = q->avoid;
    }
    k = mc_route_pick(t, q->cls, &p);
    if (k == NULL) {
        if (!p.waitable || t->pinned != NULL) {
            mc_areq_fail(q, p.status, MARSHAL_OUTCOME_NOT_APPLIED, "group \"%s\": %s", t->name,
                         marshal_strerror(p.status));
            return;
        }
        if (q->park_deadline_ns != 0 && mc_coarse_ns() >= q->park_deadline_ns) {
            /* the wait is over: a published master that is down is the last resort */
            if (p.fallback != NULL && p.fallback != q->avoid && can_retry(q)) {
                send_on(q, p.fallback);
                return;
            }
            a->st.park_expired++;
            mc_areq_fail(q, MARSHAL_ERR_PARK_EXPIRED, MARSHAL_OUTCOME_NOT_APPLIED,
                         "group \"%s\": %s for %d ms", t->name, marshal_strerror(p.status),
                         c->o.failover_wait_ms);
            return;
        }
        park(q, p.status);
        return;
    }
    pin_at_dispatch(t, k, q->sp);
    send_on(q, k);
}

void
mc_areq_dispatch(struct mc_areq *q)
{
    dispatch_group(q);
}

/* ---- replies ---------------------------------------------------------------------------- */

static void
on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct mc_areq *q = priv;
    redisReply *rep = r;
    struct mc_aconn *cn;
    marshal_async *a;
    marshal_target *t;
    int v, read = 0;

    if (q->where == MC_RQ_ORPHAN) {
        areq_free(q);       /* its callback ran at close */
        return;
    }
    a = q->a;
    cn = q->conn;
    t = q->t;
    a->depth++;
    aq_remove(&a->sent, q);
    cn->in_flight--;
    read = q->cls == MC_CLASS_READ;
    if (rep == NULL) {
        int proto = ac->err == REDIS_ERR_PROTOCOL;
        uint64_t unsent = ac->c.obuf != NULL ? sdslen(ac->c.obuf) : 0;
        int sent = cn->out_queued - unsent > q->start;
        int st = proto ? MARSHAL_ERR_PROTOCOL : cn->fail_status ? cn->fail_status : MARSHAL_ERR_IO;

        if (cn->state == MC_AC_READY) {
            cn->state = MC_AC_DYING;    /* no new commands on a context being freed */
        }
        if (t->pinned == cn->k) {
            t->pinned = NULL;
            t->in_multi = 0;
        }
        if (st == MARSHAL_ERR_TIMEOUT && sent) {
            a->st.timeouts++;
        }
        v = a->closing ? MC_V_DONE
                       : mc_loss_verdict(sent, read, q->read_retried, proto,
                                         can_retry(q) && (sent || a->c->o.failover_wait_ms > 0));
        if (v != MC_V_DONE) {
            if (sent) {
                q->read_retried = 1;
            }
            reroute(q, cn->k);
        } else if (sent) {
            mc_areq_fail(q, st, MARSHAL_OUTCOME_UNKNOWN, "%s:%u: %s", cn->k->host, cn->k->port,
                         marshal_strerror(st));
        } else {
            mc_areq_fail(q, st == MARSHAL_ERR_TIMEOUT ? MARSHAL_ERR_CONN : st,
                         MARSHAL_OUTCOME_NOT_APPLIED, "%s:%u: connection lost before sending",
                         cn->k->host, cn->k->port);
        }
        leave(a);
        return;
    }
    v = mc_reply_verdict(rep, read, cn->k == t->r.master,
                         can_retry(q) && t->pinned == NULL && a->c->o.failover_wait_ms > 0 &&
                             !a->closing);
    if (v != MC_V_DONE) {
        mc_log(a->c, MARSHAL_LOG_VERBOSE, "%s:%u: %.*s: routing again", cn->k->host,
               cn->k->port, (int)(rep->len > 80 ? 80 : rep->len), rep->str);
        reroute(q, cn->k);
        leave(a);
        return;
    }
    if ((q->sp == MC_SP_MULTI || q->sp == MC_SP_WATCH) && rep->type == REDIS_REPLY_ERROR &&
        t->pinned == cn->k) {
        t->pinned = NULL;
        t->in_multi = 0;
    }
    q->status = MARSHAL_OK;
    q->outcome = mc_reply_outcome(rep, q->sp);
    mc_areq_complete(q, rep);
    leave(a);
}

/* ---- wake socket ------------------------------------------------------------------------ */

static void
wake_close(marshal_async *a)
{
    if (a->wake_fd >= 0) {
        a->loop.set_wake_fd(a->loop.data, -1);
        close(a->wake_fd);
        a->wake_fd = -1;
    }
}

static void
wake_connect(marshal_async *a)
{
    struct sockaddr_un sa;
    int fd, n;

    a->wake_retry_ns = mc_coarse_ns() + MC_ASYNC_TICK_MS * 1000000ull;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.wake", a->c->path);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        return;
    }
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return;
    }
    a->wake_fd = fd;
    a->loop.set_wake_fd(a->loop.data, fd);
    mc_log(a->c, MARSHAL_LOG_VERBOSE, "wake socket %s connected", sa.sun_path);
}

/* Read what the controller sent; 0 if the socket is still good. */
static int
wake_drain(marshal_async *a)
{
    char buf[64];
    int i;

    for (i = 0; i < 64; i++) {
        ssize_t n = recv(a->wake_fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return -1;      /* EOF: the controller went away */
    }
    return 0;
}

/* Work common to the timer and the wake socket. */
static void
housekeeping(marshal_async *a, uint64_t now)
{
    process_parked(a, now);
    if (!a->closing && a->c->ev_fn != NULL) {
        (void)mc_events_poll(a->c);
    }
    if (!a->closing && a->wake_fd < 0 && now >= a->wake_retry_ns) {
        if (!a->c->attached) {
            (void)mc_ensure_attached(a->c);
        }
        wake_connect(a);
    }
}

/* ---- public API ------------------------------------------------------------------------- */

MARSHAL_API int
marshal_async_open(const char *path, const marshal_options *opts, marshal_async **out)
{
    marshal_async *a;
    int rc;

    if (out == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    *out = NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    rc = mc_client_open(path, opts, &a->c);
    if (a->c == NULL) {
        free(a);
        return rc;
    }
    a->c->async = a;
    a->wake_fd = -1;
    if (a->c->attached) {
        a->seen_notify = mc_notify(a->c);
    }
    *out = a;
    return rc;
}

MARSHAL_API int
marshal_async_set_loop(marshal_async *a, const marshal_async_loop *loop)
{
    if (a == NULL || loop == NULL || loop->attach == NULL || loop->set_timer == NULL ||
        loop->set_wake_fd == NULL || a->has_loop) {
        return MARSHAL_ERR_INVAL;
    }
    a->loop = *loop;
    a->has_loop = 1;
    wake_connect(a);
    ensure_timer(a, mc_coarse_ns() + MC_ASYNC_TICK_MS * 1000000ull);
    return MARSHAL_OK;
}

MARSHAL_API marshal_client *
marshal_async_client(marshal_async *a)
{
    return a == NULL ? NULL : a->c;
}

MARSHAL_API int
marshal_async_target_open(marshal_async *a, const char *name, marshal_target **out)
{
    if (a == NULL || a->closing) {
        return MARSHAL_ERR_INVAL;
    }
    return mc_target_open(a->c, name, out);
}

MARSHAL_API void
marshal_async_handle_timer(marshal_async *a)
{
    struct mc_areq *q;
    struct mc_aconn *cn;
    struct mc_atarget *at;
    uint64_t now, next = MC_NEVER;
    uint32_t ndone;

    if (a == NULL || a->closing) {
        return;
    }
    a->depth++;
    a->timer_armed = 0;
    now = mc_coarse_ns();
    /* only those queued before: a callback that fails again waits for the next turn */
    for (ndone = a->done.n; ndone > 0 && (q = a->done.head) != NULL && !a->closing; ndone--) {
        aq_remove(&a->done, q);
        deliver(q, NULL);
    }
    /* replies overdue: drop their connections (every request on it ends) */
    while (!a->closing && (q = a->sent.head) != NULL && q->deadline_ns <= now) {
        cn = q->conn;
        mc_log(a->c, MARSHAL_LOG_VERBOSE, "%s:%u: no reply within %d ms: dropping the connection",
               cn->k->host, cn->k->port, a->c->o.command_timeout_ms);
        drop_conn(cn, MARSHAL_ERR_TIMEOUT);
        if (a->sent.head == q) {        /* defensive: hiredis did not call back */
            aq_remove(&a->sent, q);
            mc_areq_fail(q, MARSHAL_ERR_TIMEOUT, MARSHAL_OUTCOME_UNKNOWN, "no reply in time");
        }
    }
    for (cn = a->conns; cn != NULL && !a->closing; cn = cn->next) {
        if ((cn->state == MC_AC_CONNECTING || cn->state == MC_AC_SETUP) &&
            cn->connect_deadline_ns <= now) {
            drop_conn(cn, MARSHAL_ERR_CONN);
        }
    }
    if (!a->closing) {
        housekeeping(a, now);
    }
    if (a->closing) {
        leave(a);
        return;
    }
    /* the next deadline */
    if (a->done.head != NULL) {
        next = now;
    }
    if (a->sent.head != NULL && a->sent.head->deadline_ns < next) {
        next = a->sent.head->deadline_ns;
    }
    for (cn = a->conns; cn != NULL; cn = cn->next) {
        if ((cn->state == MC_AC_CONNECTING || cn->state == MC_AC_SETUP) &&
            cn->connect_deadline_ns < next) {
            next = cn->connect_deadline_ns;
        }
    }
    for (at = a->parked; at != NULL; at = at->next_parked) {
        for (q = at->parked.head; q != NULL; q = q->next) {
            if (q->park_deadline_ns < next) {
                next = q->park_deadline_ns;
            }
        }
    }
    if (a->n_parked > 0 && a->wake_fd < 0 && now + MC_ASYNC_POLL_MS * 1000000ull < next) {
        next = now + MC_ASYNC_POLL_MS * 1000000ull;
    }
    if (now + MC_ASYNC_TICK_MS * 1000000ull < next) {
        next = now + MC_ASYNC_TICK_MS * 1000000ull;   /* events, staleness, reconnects */
    }
    ensure_timer(a, next);
    leave(a);
}

MARSHAL_API void
marshal_async_handle_wake(marshal_async *a)
{
    if (a == NULL || a->closing || a->wake_fd < 0) {
        return;
    }
    a->depth++;
    a->st.wakes++;
    if (wake_drain(a) != 0) {
        mc_log(a->c, MARSHAL_LOG_VERBOSE, "wake socket closed by the controller");
        wake_close(a);
        a->wake_retry_ns = mc_coarse_ns() + 100000000ull;
        ensure_timer(a, a->wake_retry_ns);
    }
    housekeeping(a, mc_coarse_ns());
    leave(a);
}

MARSHAL_API void
marshal_async_stats_get(const marshal_async *a, marshal_async_stats *st)
{
    if (st == NULL) {
        return;
    }
    if (a == NULL) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = a->st;
}

/* End q at close: not applied unless hiredis may have sent it. */
static void
close_one(struct mc_areq *q, int outcome)
{
    q->status = MARSHAL_ERR_CLOSED;
    q->outcome = outcome;
    snprintf(q->errstr, sizeof(q->errstr), "handle closed (%s)", marshal_outcome_name(outcome));
    deliver(q, NULL);
}

MARSHAL_API void
marshal_async_close(marshal_async *a)
{
    struct mc_atarget *at;
    struct mc_aconn *cn;
    struct mc_areq *q;

    if (a == NULL || a->closing) {
        return;
    }
    a->closing = 1;
    a->depth++;
    while ((q = a->done.head) != NULL) {
        aq_remove(&a->done, q);
        deliver(q, NULL);
    }
    for (at = a->parked; at != NULL; at = at->next_parked) {
        while ((q = at->parked.head) != NULL) {
            aq_remove(&at->parked, q);
            a->n_parked--;
            close_one(q, MARSHAL_OUTCOME_NOT_APPLIED);
        }
        at->listed = 0;
    }
    a->parked = NULL;
    while ((q = a->walk.head) != NULL) {    /* closed from a callback of process_parked */
        aq_remove(&a->walk, q);
        a->n_parked--;
        close_one(q, MARSHAL_OUTCOME_NOT_APPLIED);
    }
    for (cn = a->conns; cn != NULL; cn = cn->next) {
        while ((q = cn->wait.head) != NULL) {
            aq_remove(&cn->wait, q);
            close_one(q, MARSHAL_OUTCOME_NOT_APPLIED);
        }
    }
    while ((q = a->sent.head) != NULL) {
        redisAsyncContext *ac;
        uint64_t unsent;

        aq_remove(&a->sent, q);
        cn = q->conn;
        ac = cn->ac;
        unsent = ac != NULL && ac->c.obuf != NULL ? sdslen(ac->c.obuf) : 0;
        q->where = MC_RQ_ORPHAN;        /* hiredis still holds it */
        close_one(q, cn->out_queued - unsent > q->start ? MARSHAL_OUTCOME_UNKNOWN
                                                        : MARSHAL_OUTCOME_NOT_APPLIED);
    }
    for (cn = a->conns; cn != NULL; cn = cn->next) {
        redisAsyncContext *ac = cn->ac;

        if (ac != NULL) {
            /* freed at once, or by hiredis when the callback it is in returns;
             * orphans are freed by their NULL callback.  The structs stay
             * until final_free: handlers up the stack may still look at them. */
            cn->ac = NULL;
            cn->state = MC_AC_IDLE;
            ac->data = NULL;
            redisAsyncFree(ac);
        }
    }
    wake_close(a);
    if (a->has_loop) {
        a->loop.set_timer(a->loop.data, -1);
        if (a->loop.cleanup != NULL) {
            a->loop.cleanup(a->loop.data);
        }
        a->has_loop = 0;
    }
    leave(a);
}
