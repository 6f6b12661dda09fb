/*
 * mc_conn.c -- per-server hiredis connections and I/O with honest outcomes.
 *
 * Connections are made lazily with connect and command timeouts, then AUTH
 * and SELECT from the client's options (never from the segment).  A context
 * that reported any error is dropped; the next use reconnects.
 *
 * Whether a command reached the server is tracked in bytes: hiredis keeps
 * unsent output in ctx->obuf, so (bytes appended) - sdslen(obuf) is what the
 * kernel accepted.  A command none of whose bytes left is provably not
 * applied; one that left and got no reply is of unknown outcome.
 *
 * An idle connection can hold an EOF from a server that died meanwhile; a
 * write on it would "succeed" and the reply would never come, turning a
 * provably-not-applied command into an unknown one.  So a connection idle for
 * more than MC_IDLE_CHECK_NS is peeked (one non-blocking recv) before use.
 * Busy connections are not: no syscall on the hot path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <hiredis/sds.h>

#include "mc_internal.h"

struct mc_conn *
mc_conn_get(marshal_client *c, const char *host, uint16_t port)
{
    struct mc_conn *k;

    for (k = c->conns; k != NULL; k = k->next) {
        if (k->port == port && strcmp(k->host, host) == 0) {
            return k;
        }
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return NULL;
    }
    snprintf(k->host, sizeof(k->host), "%s", host);
    k->port = port;
    k->next = c->conns;
    c->conns = k;
    return k;
}

void
mc_conn_drop(marshal_client *c, struct mc_conn *k, int status)
{
    (void)c;
    if (k->ctx == NULL) {
        return;
    }
    k->dead_epoch = k->epoch;
    k->dead_sent = k->out_sent;
    k->dead_status = status;
    redisFree(k->ctx);
    k->ctx = NULL;
    k->pending = 0;
    k->owner = NULL;
}

void
mc_conn_free_all(marshal_client *c)
{
    struct mc_conn *k, *n;

    for (k = c->conns; k != NULL; k = n) {
        n = k->next;
        if (k->ctx != NULL) {
            redisFree(k->ctx);
        }
        free(k);
    }
    c->conns = NULL;
}

static struct timeval
ms_tv(int ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/* One setup command (AUTH / SELECT) on a fresh context; 0 on success. */
static int
setup_cmd(marshal_client *c, struct mc_conn *k, int argc, const char **argv, const char *what)
{
    redisReply *rep = redisCommandArgv(k->ctx, argc, argv, NULL);

    if (rep == NULL) {
        mc_seterr(c, MARSHAL_ERR_CONN, "%s:%u: %s failed: %s", k->host, k->port, what,
                  k->ctx->errstr);
        return -1;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        mc_seterr(c, MARSHAL_ERR_CONN, "%s:%u: %s refused: %.*s", k->host, k->port, what,
                  (int)(rep->len > 160 ? 160 : rep->len), rep->str);
        freeReplyObject(rep);
        return -1;
    }
    freeReplyObject(rep);
    return 0;
}

int
mc_conn_connect(marshal_client *c, struct mc_conn *k)
{
    struct timeval tv = ms_tv(c->o.connect_timeout_ms);
    redisContext *ctx;

    if (k->ctx != NULL) {
        return MARSHAL_OK;
    }
    ctx = redisConnectWithTimeout(k->host, k->port, tv);
    if (ctx == NULL) {
        mc_seterr(c, MARSHAL_ERR_NOMEM, "%s:%u: out of memory", k->host, k->port);
        return MARSHAL_ERR_NOMEM;
    }
    if (ctx->err) {
        mc_seterr(c, MARSHAL_ERR_CONN, "%s:%u: connect: %s", k->host, k->port, ctx->errstr);
        redisFree(ctx);
        k->suspect_until_ns = mc_coarse_ns() + MC_SUSPECT_NS;
        return MARSHAL_ERR_CONN;
    }
    k->ctx = ctx;
    k->epoch++;
    c->st.connects++;
    k->out_queued = k->out_sent = 0;
    k->pending = 0;
    k->owner = NULL;
    /* AUTH and SELECT under the connect bound, then the command bound */
    redisSetTimeout(ctx, tv);
    redisEnableKeepAlive(ctx);
    if (c->password != NULL) {
        const char *av[3] = {"AUTH", c->username != NULL ? c->username : c->password,
                             c->password};

        if (setup_cmd(c, k, c->username != NULL ? 3 : 2, av, "AUTH") != 0) {
            goto fail;
        }
    }
    if (c->o.database != 0) {
        char db[16];
        const char *av[2] = {"SELECT", db};

        snprintf(db, sizeof(db), "%d", c->o.database);
        if (setup_cmd(c, k, 2, av, "SELECT") != 0) {
            goto fail;
        }
    }
    if (c->o.command_timeout_ms > 0) {
        redisSetTimeout(ctx, ms_tv(c->o.command_timeout_ms));
    } else {
        struct timeval none = {0, 0};

        redisSetTimeout(ctx, none);
    }
    k->last_used_ns = mc_coarse_ns();
    mc_log(c, MARSHAL_LOG_DEBUG, "connected to %s:%u", k->host, k->port);
    return MARSHAL_OK;

fail:
    redisFree(k->ctx);
    k->ctx = NULL;
    k->suspect_until_ns = mc_coarse_ns() + MC_SUSPECT_NS;
    return MARSHAL_ERR_CONN;
}

/*
 * Before sending on a connection idle for a while: did the server close it
 * meanwhile?  Drops it if so (the caller reconnects).  Not for connections
 * owing pipelined replies.
 */
static void
idle_check(marshal_client *c, struct mc_conn *k)
{
    uint64_t now = mc_coarse_ns();
    char b;
    ssize_t n;

    if (k->ctx == NULL || k->pending > 0 || now - k->last_used_ns < MC_IDLE_CHECK_NS) {
        return;
    }
    n = recv(k->ctx->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
        n > 0) {
        /* EOF, an error, or unsolicited bytes: this connection is unusable */
        mc_log(c, MARSHAL_LOG_VERBOSE, "%s:%u: idle connection closed by the server", k->host,
               k->port);
        mc_conn_drop(c, k, MARSHAL_ERR_IO);
    }
}

/* Status for a hiredis context error after sending. */
static int
io_status(const redisContext *ctx)
{
    if (ctx->err == REDIS_ERR_PROTOCOL) {
        return MARSHAL_ERR_PROTOCOL;
    }
    if (ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                     strstr(ctx->errstr, "temporarily unavailable") != NULL)) {
        return MARSHAL_ERR_TIMEOUT;
    }
    return MARSHAL_ERR_IO;
}

int
mc_conn_append(marshal_client *c, struct mc_conn *k, const char *cmd, size_t len)
{
    int rc;

    idle_check(c, k);
    rc = mc_conn_connect(c, k);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    if (redisAppendFormattedCommand(k->ctx, cmd, len) != REDIS_OK) {
        mc_seterr(c, MARSHAL_ERR_NOMEM, "%s:%u: append: %s", k->host, k->port, k->ctx->errstr);
        mc_conn_drop(c, k, MARSHAL_ERR_NOMEM);
        return MARSHAL_ERR_NOMEM;
    }
    k->out_queued += len;
    return MARSHAL_OK;
}

int
mc_conn_flush(marshal_client *c, struct mc_conn *k)
{
    int done = 0;

    if (k->ctx == NULL) {
        return MARSHAL_ERR_IO;
    }
    while (!done) {
        size_t before = sdslen(k->ctx->obuf);
        int rc = redisBufferWrite(k->ctx, &done);

        k->out_sent += before - (k->ctx->err ? before : sdslen(k->ctx->obuf));
        if (rc != REDIS_OK) {
            int st = io_status(k->ctx);

            mc_seterr(c, st, "%s:%u: write: %s", k->host, k->port, k->ctx->errstr);
            mc_conn_drop(c, k, st);
            return st;
        }
    }
    k->last_used_ns = mc_coarse_ns();
    return MARSHAL_OK;
}

int
mc_conn_read(marshal_client *c, struct mc_conn *k, redisReply **reply)
{
    void *r = NULL;

    *reply = NULL;
    if (k->ctx == NULL) {
        return MARSHAL_ERR_IO;
    }
    if (redisGetReply(k->ctx, &r) != REDIS_OK || r == NULL) {
        int st = k->ctx->err ? io_status(k->ctx) : MARSHAL_ERR_PROTOCOL;

        mc_seterr(c, st, "%s:%u: %s", k->host, k->port,
                  k->ctx->err ? k->ctx->errstr : "no reply");
        mc_conn_drop(c, k, st);
        return st;
    }
    if (k->pending > 0 && --k->pending == 0) {
        k->owner = NULL;
    }
    k->last_used_ns = mc_coarse_ns();
    *reply = r;
    return MARSHAL_OK;
}

int
mc_conn_call(marshal_client *c, struct mc_conn *k, const char *cmd, size_t len,
             redisReply **reply, int *sent)
{
    uint64_t sent0;
    int rc;

    *reply = NULL;
    *sent = 0;
    rc = mc_conn_append(c, k, cmd, len);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    sent0 = k->out_sent;
    rc = mc_conn_flush(c, k);
    if (rc != MARSHAL_OK) {
        /* dead_sent is what left before the drop */
        *sent = k->dead_sent > sent0;
        return rc;
    }
    *sent = 1;
    return mc_conn_read(c, k, reply);
}
