/*
 * mc_command.c -- commands: classify, route, send, fail over, pipeline.
 *
 * Every command is formatted once with hiredis (printf or argv form), its
 * name (and subcommand) is read back from the RESP buffer and classified
 * with the table generated from Redis's COMMAND output (mc_commands_gen.c),
 * and the buffer is sent to the server the route picks.
 *
 * Failover (DESIGN.md "Library rules"): READONLY, MASTERDOWN, LOADING or a
 * connection that could not be made mean the command did not run.  Marshal
 * then waits -- bounded by failover_wait_ms, sleeping on the segment's futex
 * word -- for the segment to show a different master (or the same server
 * changed), and sends again; at most max_attempts sends.  A timeout or EOF
 * after sending is UNKNOWN and never retried for a write; a read-only
 * command has no effect, so it is retried once on a fresh connection.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "mc_cluster.h"
#include "mc_internal.h"
#include "mc_outcome.h"
#include "mc_route.h"

/* Track MULTI/WATCH pinning after a command was sent on k. */
static void
pin_update(marshal_target *t, struct mc_conn *k, int sp, const redisReply *rep)
{
    int ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;

    switch (sp) {
    case MC_SP_MULTI:
        if (ok) {
            t->pinned = k;
            t->in_multi = 1;
        }
        break;
    case MC_SP_WATCH:
        if (ok) {
            t->pinned = k;
        }
        break;
    case MC_SP_EXEC:
    case MC_SP_DISCARD:
        t->pinned = NULL;
        t->in_multi = 0;
        break;
    case MC_SP_UNWATCH:
        if (!t->in_multi) {
            t->pinned = NULL;
        }
        break;
    default:
        break;
    }
}

/*
 * Connection k owes replies to another target's pipeline (targets of one
 * client share connections).  If those are mirror legs sent without
 * waiting, read them now through their mirror (which counts failures);
 * otherwise the caller misuses pipelines: MARSHAL_ERR_PIPELINE.
 */
static int
reclaim(marshal_target *t, struct mc_conn *k)
{
    marshal_target *o = k->owner, *up;

    for (up = o != NULL ? o->parent : NULL; up != NULL; up = up->parent) {
        if (up->cl != NULL && up->cl->rule != MSHM_RULE_MARSHAL0) {
            t->c->drain(up, 1);
            break;
        }
    }
    if (k->pending > 0 && k->owner != t) {
        mc_seterr(t->c, MARSHAL_ERR_PIPELINE,
                  "%s:%u owes pipelined replies to another target: read them first", k->host,
                  k->port);
        return MARSHAL_ERR_PIPELINE;
    }
    return MARSHAL_OK;
}

/* ---- the single-command path ---------------------------------------------------------- */

/*
 * Wait until the segment changes in a way that may help: returns 1 if it
 * changed before deadline_ns, 0 on timeout.
 */
static int
wait_change(marshal_target *t, uint64_t deadline_ns)
{
    marshal_client *c = t->c;
    int rc;
    uint32_t seen = t->r.notify;
    uint64_t now = mshm_now_ns();
    int ms;

    if (mc_notify(c) != seen) {
        return 1;
    }
    if (now >= deadline_ns) {
        return 0;
    }
    ms = (int)((deadline_ns - now + 999999) / 1000000);
    rc = mshm_wait(&c->rd, &seen, ms);
    c->st.failover_wait_ns += mshm_now_ns() - now;
    return rc;
}

static redisReply *
finish(marshal_client *c, redisReply *rep, int status, int outcome)
{
    c->outcome = outcome;
    if (status != MARSHAL_OK) {
        c->errcode = status;
    }
    return rep;
}

redisReply *
mc_run(marshal_target *t, const char *cmd, size_t len)
{
    marshal_client *c = t->c;
    struct mc_pick p;
    struct mc_conn *k, *failed = NULL;
    uint64_t deadline = 0, failed_seq = 0;
    int cls, sp, rc, sent, attempts = 0, read_retried = 0;

    mc_clearerr(c);
    c->last_conn = NULL;
    c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
    if (mc_classify(t->c, cmd, len, &cls, &sp) != 0) {
        mc_seterr(c, MARSHAL_ERR_INVAL, "malformed command");
        return NULL;
    }
    if (sp == MC_SP_UNSUPPORTED) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED,
                  "command not routable by marshal (use client options for AUTH/SELECT; "
                  "subscriptions need their own connection)");
        return NULL;
    }
    if (t->pend_len > 0) {
        mc_seterr(c, MARSHAL_ERR_PIPELINE, "read the %u pipelined replies first", t->pend_len);
        return NULL;
    }
    for (;;) {
        redisReply *rep = NULL;
        int err;

        rc = mc_route_refresh(t);
        if (rc != MARSHAL_OK) {
            return finish(c, NULL, rc, MARSHAL_OUTCOME_NOT_APPLIED);
        }
        if (cls == MC_CLASS_WRITE && t->pinned == NULL && mc_stale_refused(c)) {
            mc_seterr(c, MARSHAL_ERR_STALE, "controller heartbeat stopped; writes refused after %d ms",
                      c->o.stale_writes_fail_ms);
            return NULL;
        }
        /* a server that just failed stays avoided until its record or the master changes */
        p.avoid = NULL;
        if (failed != NULL && (failed != t->r.master || t->r.master_change_seq == failed_seq)) {
            p.avoid = failed;
        }
        k = mc_route_pick(t, cls, &p);
        if (k == NULL) {
            if (p.waitable && t->pinned == NULL) {
                if (deadline == 0) {
                    deadline = mshm_now_ns() + (uint64_t)c->o.failover_wait_ms * 1000000ull;
                    c->st.failover_waits++;
                }
                if (wait_change(t, deadline)) {
                    continue;
                }
                /* the wait is over: a published master that is down is the last resort */
                if (p.fallback != NULL && p.fallback != failed && attempts < c->o.max_attempts) {
                    k = p.fallback;
                }
            }
            if (k == NULL) {
                mc_seterr(c, p.status, "group \"%s\": %s", t->name, marshal_strerror(p.status));
                return finish(c, NULL, p.status, MARSHAL_OUTCOME_NOT_APPLIED);
            }
        }
        if (k->pending > 0 && reclaim(t, k) != MARSHAL_OK) {
            return NULL;
        }
        if (attempts++ > 0) {
            c->st.retries++;
        }
        c->last_conn = k;
        rc = mc_conn_call(c, k, cmd, len, &rep, &sent);
        if (rc == MARSHAL_OK) {
            err = mc_reply_retryable(rep);
            if (err && attempts < c->o.max_attempts && t->pinned == NULL &&
                c->o.failover_wait_ms > 0) {
                mc_log(c, MARSHAL_LOG_VERBOSE, "%s:%u: %.*s: waiting for the topology", k->host,
                       k->port, (int)(rep->len > 80 ? 80 : rep->len), rep->str);
                k->suspect_until_ns = mc_coarse_ns() + MC_SUSPECT_NS;
                failed = k;
                failed_seq = k == t->r.master ? t->r.master_change_seq : 0;
                if (deadline == 0) {
                    deadline = mshm_now_ns() + (uint64_t)c->o.failover_wait_ms * 1000000ull;
                    c->st.failover_waits++;
                }
                if (cls == MC_CLASS_READ && k != t->r.master) {
                    freeReplyObject(rep);
                    continue;       /* another replica or the master may serve it now */
                }
                if (wait_change(t, deadline)) {
                    freeReplyObject(rep);
                    continue;
                }
            }
            pin_update(t, k, sp, rep);
            return finish(c, rep, MARSHAL_OK, mc_reply_outcome(rep, sp));
        }
        if (!sent) {
            /* provably not applied: try again where the topology says */
            failed = k;
            failed_seq = k == t->r.master ? t->r.master_change_seq : 0;
            if (t->pinned == k) {
                t->pinned = NULL;
                t->in_multi = 0;
                return finish(c, NULL, rc, MARSHAL_OUTCOME_NOT_APPLIED);
            }
            if (attempts < c->o.max_attempts && rc == MARSHAL_ERR_CONN) {
                continue;
            }
            return finish(c, NULL, rc, MARSHAL_OUTCOME_NOT_APPLIED);
        }
        /* sent, then lost: unknown.  A read has no effect: one more try. */
        if (t->pinned == k) {
            t->pinned = NULL;
            t->in_multi = 0;
        }
        if (cls == MC_CLASS_READ && !read_retried && attempts < c->o.max_attempts &&
            rc != MARSHAL_ERR_PROTOCOL) {
            read_retried = 1;
            failed = k;
            failed_seq = k == t->r.master ? t->r.master_change_seq : 0;
            k->suspect_until_ns = mc_coarse_ns() + MC_SUSPECT_NS;
            continue;
        }
        return finish(c, NULL, rc, MARSHAL_OUTCOME_UNKNOWN);
    }
}

/* ---- pipelines ------------------------------------------------------------------------ */

/* Room for one more pipeline entry; MARSHAL_OK or NOMEM. */
int
mc_pend_grow(marshal_target *t)
{
    uint32_t ncap, i;
    struct mc_pend *np;

    if (t->pend_len < t->pend_cap) {
        return MARSHAL_OK;
    }
    ncap = t->pend_cap ? t->pend_cap * 2 : 16;
    np = malloc(ncap * sizeof(*np));
    if (np == NULL) {
        mc_seterr(t->c, MARSHAL_ERR_NOMEM, "out of memory");
        return MARSHAL_ERR_NOMEM;
    }
    for (i = 0; i < t->pend_len; i++) {
        np[i] = t->pend[(t->pend_head + i) % t->pend_cap];
    }
    free(t->pend);
    t->pend = np;
    t->pend_cap = ncap;
    t->pend_head = 0;
    return MARSHAL_OK;
}

int
mc_append_formatted(marshal_target *t, const char *cmd, size_t len)
{
    marshal_client *c = t->c;
    struct mc_pick p;
    struct mc_conn *k;
    struct mc_pend *e;
    int cls, sp, rc;
    uint64_t start;

    mc_clearerr(c);
    if (mc_classify(t->c, cmd, len, &cls, &sp) != 0) {
        mc_seterr(c, MARSHAL_ERR_INVAL, "malformed command");
        return MARSHAL_ERR_INVAL;
    }
    if (sp == MC_SP_UNSUPPORTED) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED, "command not routable by marshal");
        return MARSHAL_ERR_UNSUPPORTED;
    }
    rc = mc_route_refresh(t);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    if (cls == MC_CLASS_WRITE && t->pinned == NULL && mc_stale_refused(c)) {
        mc_seterr(c, MARSHAL_ERR_STALE, "controller heartbeat stopped; writes refused");
        return MARSHAL_ERR_STALE;
    }
    p.avoid = NULL;
    k = mc_route_pick(t, cls, &p);
    if (k == NULL) {
        mc_seterr(c, p.status, "group \"%s\": %s", t->name, marshal_strerror(p.status));
        return p.status;
    }
    rc = mc_pend_grow(t);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    if (k->pending > 0 && k->owner != t && (rc = reclaim(t, k)) != MARSHAL_OK) {
        return rc;
    }
    rc = mc_conn_append(c, k, cmd, len);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    k->owner = t;
    start = k->out_queued - len;
    e = &t->pend[(t->pend_head + t->pend_len) % t->pend_cap];
    e->conn = k;
    e->sub = NULL;
    e->epoch = k->epoch;
    e->start = start;
    e->special = (uint8_t)sp;
    t->pend_len++;
    t->unflushed = 1;
    k->pending++;
    /* transactions pin at append time: order on the connection is what counts */
    if (sp == MC_SP_MULTI) {
        t->pinned = k;
        t->in_multi = 1;
    } else if (sp == MC_SP_WATCH) {
        t->pinned = k;
    } else if (sp == MC_SP_EXEC || sp == MC_SP_DISCARD || (sp == MC_SP_UNWATCH && !t->in_multi)) {
        t->pinned = NULL;
        t->in_multi = 0;
    }
    return MARSHAL_OK;
}

void
mc_target_flush(marshal_target *t)
{
    struct mc_pend *e;
    uint32_t i;

    if (!t->unflushed) {
        return;         /* nothing appended since the last flush */
    }
    t->unflushed = 0;
    for (i = 0; i < t->pend_len; i++) {
        e = &t->pend[(t->pend_head + i) % t->pend_cap];
        if (e->sub != NULL) {
            mc_target_flush(e->sub);
        } else if (e->conn->ctx != NULL && e->conn->out_sent < e->conn->out_queued) {
            (void)mc_conn_flush(t->c, e->conn);   /* failures are accounted per entry */
        }
    }
}

int
mc_get_reply(marshal_target *t, redisReply **reply)
{
    marshal_client *c;
    struct mc_pend *e;
    struct mc_conn *k;
    int rc;

    if (reply != NULL) {
        *reply = NULL;
    }
    if (t == NULL || reply == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    c = t->c;
    mc_clearerr(c);
    c->outcome = MARSHAL_OUTCOME_NONE;
    if (t->pend_len == 0) {
        mc_seterr(c, MARSHAL_ERR_PIPELINE, "no pipelined command to read");
        return MARSHAL_ERR_PIPELINE;
    }
    mc_target_flush(t);     /* every server works in parallel */
    e = &t->pend[t->pend_head];
    t->pend_head = (t->pend_head + 1) % t->pend_cap;
    t->pend_len--;
    if (e->sub != NULL) {
        c->n_legs = 0;
        return mc_get_reply(e->sub, reply);
    }
    k = e->conn;
    c->last_conn = k;
    if (k->ctx == NULL || k->epoch != e->epoch) {
        /* its connection died: did this command's bytes leave before? */
        rc = k->dead_epoch == e->epoch ? k->dead_status : MARSHAL_ERR_IO;
        c->outcome = (k->dead_epoch == e->epoch && k->dead_sent <= e->start)
                         ? MARSHAL_OUTCOME_NOT_APPLIED : MARSHAL_OUTCOME_UNKNOWN;
        mc_seterr(c, rc, "%s:%u: connection lost before this reply", k->host, k->port);
        return rc;
    }
    rc = mc_conn_read(c, k, reply);
    if (rc != MARSHAL_OK) {
        c->outcome = MARSHAL_OUTCOME_UNKNOWN;
        return rc;
    }
    c->outcome = mc_reply_outcome(*reply, e->special);
    return MARSHAL_OK;
}
