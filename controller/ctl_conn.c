/*
 * ctl_conn.c -- hiredis async connection with connect and command deadlines.
 *
 * hiredis 0.14.1 facts this relies on (checked against its async.c):
 *  - a failed connect calls onConnect(REDIS_ERR) and frees the context; the
 *    disconnect callback is not called;
 *  - redisAsyncFree() outside a hiredis callback runs every pending reply
 *    callback with NULL, then onDisconnect if the context was connected;
 *    inside a callback it is deferred until that callback returns;
 *  - freeing the context from inside onConnect is a use-after-free, so the
 *    connection is reported up only from the reply to a handshake command;
 *  - a (P)SUBSCRIBE with N distinct channels/patterns stores the callback N
 *    times, and redisAsyncFree() runs it with NULL N times: a subscription
 *    request is therefore reference-counted (see struct req, sub_refs());
 *  - a command sent on a subscribed context (PING) pushes its callback onto
 *    ac->sub.invalid, but an array reply (["pong", arg]) is routed through
 *    the pattern table and never pops it: one leaked node per PING until the
 *    context is freed.  ctl_conn_send() takes the node back (drop_invalid()).
 *
 * The libev glue is our own (struct evh) rather than hiredis/adapters/libev.h:
 * that adapter starts the write watcher for every command batch and stops it
 * once the batch is written, two epoll_ctl(2) calls per batch -- with the
 * health checks of thousands of servers, as many syscalls as the write and
 * read themselves.  Here the read watcher stays started for the life of the
 * context, and a corked batch (ctl_conn_cork/uncork) is written directly
 * with one write(2); the write watcher runs only while connecting and when
 * the socket would block (or failed: hiredis's write path then reports it).
 * Uncorked commands (handshake, sentinels) keep hiredis's usual path: the
 * write watcher writes whatever the loop iteration queued.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl_conn.h"

/* One request in flight (or one subscription). */
struct req {
    struct req *next, *prev;
    struct ctl_conn *c;
    ctl_reply_fn fn;
    void *pd;
    uint64_t deadline_ms;         /* 0 for subscriptions          */
    int persistent;               /* subscription: many replies   */
    int refs;                     /* subscription: NULL calls still to come
                                     (one per distinct channel/pattern) */
};

struct ctl_conn {
    struct ev_loop *loop;
    redisAsyncContext *ac;        /* NULL when DOWN                */
    struct ctl_addr addr;
    char *username, *password, *client_name;
    uint32_t connect_timeout_ms, timeout_ms;
    ctl_state_fn state_fn;
    void *ud;
    enum ctl_conn_state state;
    uint64_t connect_deadline_ms;
    ev_timer timer;               /* fires at or before the earliest
                                     deadline (see rearm())         */
    uint64_t timer_at_ms;         /* when timer fires, if active   */
    int corked;                   /* ctl_conn_cork(): hold writes  */
    uint64_t cork_ms;             /* ... since then: the batch's
                                     submission time               */
    struct req pending;           /* FIFO sentinel node: commands  */
    struct req subs;              /* sentinel node: subscriptions  */
    uint32_t n_pending;
    char reason[128];             /* why it went down              */
};

uint64_t
ctl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
ctl_now_ms(void)
{
    return ctl_now_ns() / 1000000ull;
}

static void
list_init(struct req *head)
{
    head->next = head->prev = head;
}

static void
list_append(struct req *head, struct req *r)
{
    r->prev = head->prev;
    r->next = head;
    head->prev->next = r;
    head->prev = r;
}

static void
list_unlink(struct req *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
    r->next = r->prev = r;
}

/*
 * Make the timer fire no later than the nearest deadline (connect or oldest
 * request).  It is moved only when it would fire too late: a timer that
 * fires early (its request was answered) finds nothing due and is re-armed
 * by on_timer(), so answered requests cost no timer-heap update each -- with
 * thousands of connections each re-arm is an O(log n) heap operation.
 */
static void
rearm(struct ctl_conn *c)
{
    uint64_t deadline = 0, now;

    if (c->pending.next != &c->pending) {
        deadline = c->pending.next->deadline_ms;     /* includes the handshake */
    } else if (c->state == CTL_CONN_CONNECTING) {
        deadline = c->connect_deadline_ms;
    }
    if (deadline == 0 || (ev_is_active(&c->timer) && c->timer_at_ms <= deadline)) {
        return;         /* nothing due, or the timer comes first anyway */
    }
    ev_timer_stop(c->loop, &c->timer);
    now = ctl_now_ms();
    ev_timer_set(&c->timer, deadline > now ? (double)(deadline - now) / 1000.0 : 0.0, 0.0);
    ev_timer_start(c->loop, &c->timer);
    c->timer_at_ms = deadline;
}

/* ---- libev glue (see the file comment) ---------------------------------- */

/* The event state of one hiredis context (ac->ev.data). */
struct evh {
    redisAsyncContext *ac;
    struct ev_loop *loop;
    ev_io rev, wev;
};

static void
evh_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct evh *e = w->data;

    (void)loop;
    (void)revents;
    redisAsyncHandleRead(e->ac);
}

static void
evh_write(struct ev_loop *loop, ev_io *w, int revents)
{
    struct evh *e = w->data;

    (void)loop;
    (void)revents;
    redisAsyncHandleWrite(e->ac);
}

static void
evh_add_read(void *privdata)
{
    struct evh *e = privdata;

    ev_io_start(e->loop, &e->rev);      /* no-op when started */
}

static void
evh_del_read(void *privdata)
{
    struct evh *e = privdata;

    ev_io_stop(e->loop, &e->rev);
}

/* hiredis queued output.  A corked connection writes it at ctl_conn_uncork();
 * otherwise (connecting, uncorked commands, a write that would block) the
 * write watcher does. */
static void
evh_add_write(void *privdata)
{
    struct evh *e = privdata;
    struct ctl_conn *c = e->ac->data;

    if (c != NULL && c->corked && (e->ac->c.flags & REDIS_CONNECTED)) {
        return;
    }
    ev_io_start(e->loop, &e->wev);
}

static void
evh_del_write(void *privdata)
{
    struct evh *e = privdata;

    ev_io_stop(e->loop, &e->wev);
}

static void
evh_cleanup(void *privdata)
{
    struct evh *e = privdata;

    ev_io_stop(e->loop, &e->rev);
    ev_io_stop(e->loop, &e->wev);
    free(e);
}

static int
evh_attach(struct ev_loop *loop, redisAsyncContext *ac)
{
    struct evh *e;

    if (ac->ev.data != NULL || (e = calloc(1, sizeof(*e))) == NULL) {
        return REDIS_ERR;
    }
    e->ac = ac;
    e->loop = loop;
    ev_io_init(&e->rev, evh_read, ac->c.fd, EV_READ);
    ev_io_init(&e->wev, evh_write, ac->c.fd, EV_WRITE);
    e->rev.data = e;
    e->wev.data = e;
    ac->ev.addRead = evh_add_read;
    ac->ev.delRead = evh_del_read;
    ac->ev.addWrite = evh_add_write;
    ac->ev.delWrite = evh_del_write;
    ac->ev.cleanup = evh_cleanup;
    ac->ev.data = e;
    return REDIS_OK;
}

static void
set_reason(struct ctl_conn *c, const char *reason)
{
    if (c->reason[0] == '\0') {
        snprintf(c->reason, sizeof(c->reason), "%s", reason);
    }
}

/* The connection is gone: report it once. */
static void
went_down(struct ctl_conn *c)
{
    char reason[sizeof(c->reason)];

    c->ac = NULL;
    c->state = CTL_CONN_DOWN;
    ev_timer_stop(c->loop, &c->timer);
    snprintf(reason, sizeof(reason), "%s", c->reason[0] ? c->reason : "disconnected");
    c->reason[0] = '\0';
    if (c->state_fn != NULL) {
        c->state_fn(c, 0, reason, c->ud);
    }
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct req *r = privdata;
    struct ctl_conn *c = r->c;

    (void)ac;
    if (r->persistent) {
        if (reply == NULL && --r->refs > 0) {
            return;             /* hiredis calls once per channel/pattern */
        }
        if (r->fn != NULL) {
            r->fn(c, reply, r->pd);
        }
        if (reply == NULL) {
            list_unlink(r);
            free(r);
        }
        return;
    }
    list_unlink(r);
    c->n_pending--;
    if (c->state == CTL_CONN_UP || c->state == CTL_CONN_CONNECTING) {
        rearm(c);
    }
    if (r->fn != NULL) {
        r->fn(c, reply, r->pd);
    }
    free(r);
}

/* How many times hiredis will call back with NULL for this subscription:
 * once per distinct channel/pattern (it keys them in a dict). */
static int
sub_refs(int argc, const char **argv)
{
    int i, j, n = 0;

    for (i = 1; i < argc; i++) {
        for (j = 1; j < i && strcmp(argv[i], argv[j]) != 0; j++) {
        }
        n += (j == i);
    }
    return n > 0 ? n : 1;
}

/* Take back the callback node hiredis 0.14.1 pushed onto sub.invalid for a
 * command sent on a subscribed context (see the file comment).  Only a node
 * with no callback is ours; anything else is left alone. */
static void
drop_invalid(redisAsyncContext *ac)
{
    redisCallbackList *l = &ac->sub.invalid;
    redisCallback *prev = NULL, *cb = l->head;

    if (l->tail == NULL || l->tail->fn != NULL || l->tail->privdata != NULL) {
        return;
    }
    while (cb != NULL && cb != l->tail) {
        prev = cb;
        cb = cb->next;
    }
    if (cb == NULL) {
        return;
    }
    if (prev == NULL) {
        l->head = NULL;
    } else {
        prev->next = NULL;
    }
    l->tail = prev;
    free(cb);
}

/*
 * Queue one command: argv, or (argc == 0) the RESP text cmd[len] formatted
 * beforehand -- health checks send the same few commands thousands of times
 * a second, and hiredis would format each one anew.
 */
static int
submit(struct ctl_conn *c, ctl_reply_fn fn, void *pd, int persistent, int argc,
       const char **argv, const char *cmd, size_t len)
{
    struct req *r;
    int rc;

    if (c->ac == NULL || (argc <= 0 && (cmd == NULL || persistent))) {
        return -1;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return -1;
    }
    r->c = c;
    r->fn = fn;
    r->pd = pd;
    r->persistent = persistent;
    r->refs = persistent ? sub_refs(argc, argv) : 0;
    if (argc > 0) {
        rc = redisAsyncCommandArgv(c->ac, on_reply, r, argc, argv, NULL);
    } else {
        rc = redisAsyncFormattedCommand(c->ac, on_reply, r, cmd, len);
    }
    if (rc != REDIS_OK) {
        free(r);
        return -1;
    }
    if (persistent) {
        list_append(&c->subs, r);
    } else {
        /* a corked batch is submitted at once: one clock read for all */
        r->deadline_ms = (c->corked ? c->cork_ms : ctl_now_ms()) + c->timeout_ms;
        list_append(&c->pending, r);
        c->n_pending++;
        if (c->n_pending == 1) {
            rearm(c);
        }
    }
    return 0;
}

/* Handshake replies: AUTH must succeed; the final PING marks the link up. */
static void
on_auth(struct ctl_conn *c, redisReply *reply, void *pd)
{
    (void)pd;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        set_reason(c, "authentication failed");
        ctl_conn_close(c, "authentication failed");
    }
}

/*
 * A server that is loading its dataset, running a slow script, or a replica
 * without its master (replica-serve-stale-data no) refuses PING with
 * -LOADING / -BUSY / -MASTERDOWN, yet it is reachable and the connection is
 * authenticated: the handshake succeeded, and the owner judges the server's
 * state from its own commands (ROLE and INFO run while loading and stale).
 * Failing the handshake on these would keep such a server unreachable.
 */
static int
server_state_error(const redisReply *reply)
{
    return reply->str != NULL &&
           (strncmp(reply->str, "LOADING", 7) == 0 || strncmp(reply->str, "BUSY", 4) == 0 ||
            strncmp(reply->str, "MASTERDOWN", 10) == 0);
}

static void
on_ready(struct ctl_conn *c, redisReply *reply, void *pd)
{
    (void)pd;
    if (reply == NULL || c->state != CTL_CONN_CONNECTING) {
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && !server_state_error(reply)) {
        char why[sizeof(c->reason)];

        snprintf(why, sizeof(why), "handshake: %.100s", reply->str);
        set_reason(c, why);
        ctl_conn_close(c, why);
        return;
    }
    c->state = CTL_CONN_UP;
    rearm(c);
    if (c->state_fn != NULL) {
        c->state_fn(c, 1, "connected", c->ud);
    }
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct ctl_conn *c = ac->data;
    const char *argv[4];
    int argc = 0;

    if (status != REDIS_OK) {
        char why[sizeof(c->reason)];

        snprintf(why, sizeof(why), "connect failed: %.100s", ac->errstr);
        set_reason(c, why);
        went_down(c);       /* hiredis frees the context itself */
        return;
    }
    /* never free the context in here (see the file comment) */
    if (c->password != NULL) {
        argv[argc++] = "AUTH";
        if (c->username != NULL) {
            argv[argc++] = c->username;
        }
        argv[argc++] = c->password;
        submit(c, on_auth, NULL, 0, argc, argv, NULL, 0);
    }
    if (c->client_name != NULL) {
        argv[0] = "CLIENT";
        argv[1] = "SETNAME";
        argv[2] = c->client_name;
        submit(c, NULL, NULL, 0, 3, argv, NULL, 0);
    }
    argv[0] = "PING";
    submit(c, on_ready, NULL, 0, 1, argv, NULL, 0);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct ctl_conn *c = ac->data;

    if (status != REDIS_OK) {
        char why[sizeof(c->reason)];

        snprintf(why, sizeof(why), "connection lost: %.100s", ac->errstr);
        set_reason(c, why);
    }
    if (c->ac == ac) {
        went_down(c);
    }
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ctl_conn *c = w->data;
    uint64_t now = ctl_now_ms();

    (void)loop;
    (void)revents;
    if (c->state == CTL_CONN_CONNECTING && now >= c->connect_deadline_ms &&
        c->pending.next == &c->pending) {
        ctl_conn_close(c, "connect timeout");
        return;
    }
    if (c->pending.next != &c->pending && now >= c->pending.next->deadline_ms) {
        ctl_conn_close(c, c->state == CTL_CONN_UP ? "command timeout" : "handshake timeout");
        return;
    }
    rearm(c);
}

struct ctl_conn *
ctl_conn_new(struct ev_loop *loop, const struct ctl_addr *addr, const struct ctl_cred *cred,
             const char *client_name, uint32_t connect_timeout_ms, uint32_t timeout_ms,
             ctl_state_fn state_fn, void *ud)
{
    struct ctl_conn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->loop = loop;
    c->addr = *addr;
    c->connect_timeout_ms = connect_timeout_ms ? connect_timeout_ms : 500;
    c->timeout_ms = timeout_ms ? timeout_ms : 1000;
    c->state_fn = state_fn;
    c->ud = ud;
    list_init(&c->pending);
    list_init(&c->subs);
    ev_init(&c->timer, on_timer);
    c->timer.data = c;
    if ((cred != NULL && cred->username != NULL && (c->username = strdup(cred->username)) == NULL) ||
        (cred != NULL && cred->password != NULL && (c->password = strdup(cred->password)) == NULL) ||
        (client_name != NULL && (c->client_name = strdup(client_name)) == NULL)) {
        ctl_conn_free(c);
        return NULL;
    }
    return c;
}

int
ctl_conn_connect(struct ctl_conn *c)
{
    redisAsyncContext *ac;

    if (c->state != CTL_CONN_DOWN) {
        return 0;
    }
    ac = redisAsyncConnect(c->addr.host, c->addr.port);
    if (ac == NULL) {
        return -1;
    }
    if (ac->err) {
        redisAsyncFree(ac);
        return -1;
    }
    ac->data = c;
    if (evh_attach(c->loop, ac) != REDIS_OK) {
        redisAsyncFree(ac);
        return -1;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->reason[0] = '\0';
    c->state = CTL_CONN_CONNECTING;
    c->connect_deadline_ms = ctl_now_ms() + c->connect_timeout_ms;
    rearm(c);
    return 0;
}

int
ctl_conn_command(struct ctl_conn *c, ctl_reply_fn fn, void *pd, int argc, const char **argv)
{
    if (c->state != CTL_CONN_UP) {
        return -1;
    }
    return submit(c, fn, pd, 0, argc, argv, NULL, 0);
}

int
ctl_conn_command_formatted(struct ctl_conn *c, ctl_reply_fn fn, void *pd, const char *cmd,
                           size_t len)
{
    if (c->state != CTL_CONN_UP) {
        return -1;
    }
    return submit(c, fn, pd, 0, 0, NULL, cmd, len);
}

int
ctl_conn_subscribe(struct ctl_conn *c, ctl_reply_fn fn, void *pd, int argc, const char **argv)
{
    if (c->state != CTL_CONN_UP) {
        return -1;
    }
    return submit(c, fn, pd, 1, argc, argv, NULL, 0);
}

int
ctl_conn_send(struct ctl_conn *c, int argc, const char **argv)
{
    int subscribed;

    if (c->state != CTL_CONN_UP || c->ac == NULL || argc <= 0) {
        return -1;
    }
    subscribed = (c->ac->c.flags & REDIS_SUBSCRIBED) != 0;
    if (redisAsyncCommandArgv(c->ac, NULL, NULL, argc, argv, NULL) != REDIS_OK) {
        return -1;
    }
    if (subscribed && strcasecmp(argv[0], "subscribe") != 0 &&
        strcasecmp(argv[0], "psubscribe") != 0 && strcasecmp(argv[0], "unsubscribe") != 0 &&
        strcasecmp(argv[0], "punsubscribe") != 0) {
        drop_invalid(c->ac);
    }
    return 0;
}

void
ctl_conn_cork(struct ctl_conn *c)
{
    c->corked = 1;
    c->cork_ms = ctl_now_ms();
}

/*
 * Write what was queued since ctl_conn_cork() with one write(2), from here:
 * no write watcher, so no epoll_ctl(2) to start and stop it.  Only when the
 * socket takes part of it (or the write failed) does the write watcher take
 * over: hiredis's write path then writes the rest or reports the error and
 * drops the context -- which must not happen from here, since the caller
 * may be inside one of this context's reply callbacks.
 */
void
ctl_conn_uncork(struct ctl_conn *c)
{
    redisAsyncContext *ac = c->ac;
    struct evh *e;
    int done = 0;

    c->corked = 0;
    if (ac == NULL || (ac->c.flags & (REDIS_CONNECTED | REDIS_FREEING | REDIS_DISCONNECTING)) !=
                          REDIS_CONNECTED) {
        return;
    }
    e = ac->ev.data;
    if (ev_is_active(&e->wev)) {
        return;                 /* already waiting for the socket */
    }
    if (redisBufferWrite(&ac->c, &done) == REDIS_ERR || !done) {
        ev_io_start(c->loop, &e->wev);
    }
    ev_io_start(c->loop, &e->rev);      /* started since the connect: no-op */
}

void
ctl_conn_close(struct ctl_conn *c, const char *reason)
{
    redisAsyncContext *ac = c->ac;
    int deferred;

    if (ac == NULL) {
        return;
    }
    set_reason(c, reason);
    deferred = (ac->c.flags & REDIS_IN_CALLBACK) != 0;
    if (ac->c.flags & REDIS_FREEING) {
        return;             /* already on its way out */
    }
    c->state = CTL_CONN_DOWN;   /* commands from the NULL callbacks now fail */
    ev_timer_stop(c->loop, &c->timer);
    redisAsyncFree(ac);
    if (!deferred && c->ac == ac) {
        went_down(c);       /* was not connected: no onDisconnect */
    }
}

void
ctl_conn_free(struct ctl_conn *c)
{
    if (c == NULL) {
        return;
    }
    c->state_fn = NULL;     /* the owner is going away: no more reports */
    ctl_conn_close(c, "freed");
    ev_timer_stop(c->loop, &c->timer);
    free(c->username);
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->client_name);
    free(c);
}

enum ctl_conn_state
ctl_conn_state(const struct ctl_conn *c)
{
    return c->state;
}
