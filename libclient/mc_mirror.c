/*
 * mc_mirror.c -- marshal1 cluster targets: mirroring over member groups.
 *
 * Writes go to the primary group and to every mirror group:
 *   policy "all"      every leg is sent at once (pipelined to each group) and
 *                     the write succeeds only if every leg applied; a leg
 *                     that provably did not run because its group is failing
 *                     over (not sent, READONLY, MASTERDOWN, LOADING) is sent
 *                     again through the group's own failover handling;
 *   policy "primary"  the primary leg runs first (with failover handling);
 *                     once it applied, the mirror legs are sent without
 *                     waiting for their replies, which are read later
 *                     (mc_mirror_drain, from the next command on the target
 *                     or marshal_client_poll) -- a failed mirror leg is
 *                     counted.
 * Reads go to the primary group, and to the first mirror with a readable
 * server when the primary has none (a mirror marked diverged is skipped);
 * on a farm, to the first cluster where every key of the command is in a
 * group with a readable server.
 * Every leg's result is in marshal_client_legs(); the outcome is APPLIED only
 * when every leg applied (policy all) or the primary applied (policy
 * primary, mirror legs UNKNOWN until read).
 *
 * A mirror that missed a write the primary applied has diverged: the
 * library tells the controller (one datagram to <segment>.ctl, best effort),
 * which marks the member DIVERGED in the segment until an operator clears it.
 *
 * Refused on a mirrored target (their effect differs between groups):
 * writes Redis flags nondeterministic (SPOP, XADD, XTRIM, XCLAIM,
 * XAUTOCLAIM, MIGRATE), relative expiries (EXPIRE, PEXPIRE, SETEX, PSETEX,
 * SET/GETEX with EX or PX, RESTORE without ABSTTL), scripts and functions
 * (EVAL*, FCALL*), transactions (MULTI, EXEC, WATCH, DISCARD) and unknown
 * commands.  Read-only forms (EVAL_RO, FCALL_RO, SRANDMEMBER) go to the
 * primary like any read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mc_exec.h"
#include "mc_commands.h"
#include "mc_outcome.h"

/* ---- legs ------------------------------------------------------------------------------ */

/* Results of one mirrored command, per member, turned into legs at the end
 * (a member cluster's own command resets the client's legs). */
struct mres {
    int used;
    int status;
    int outcome;
    char host[MSHM_HOST_MAX];
    int port;
};

static void
res_take(marshal_client *c, struct mres *r, int status)
{
    const char *h;
    int port;

    r->used = 1;
    r->status = status;
    r->outcome = c->outcome;
    r->host[0] = '\0';
    r->port = 0;
    if (c->n_legs <= 1 && mc_last_server(c, &h, &port) == MARSHAL_OK) {
        snprintf(r->host, sizeof(r->host), "%s", h);
        r->port = port;
    }
}

static void
res_publish(marshal_client *c, struct mc_cluster *cl, const struct mres *res)
{
    int m;

    mc_legs_reset(c);
    for (m = 0; m < cl->n; m++) {
        struct mc_leg *l;

        if (!res[m].used || (l = mc_leg_add(c, cl->member[m], 0)) == NULL) {
            continue;
        }
        l->pub.status = res[m].status;
        l->pub.outcome = res[m].outcome;
        snprintf(l->host, sizeof(l->host), "%s", res[m].host);
        l->pub.port = res[m].port;
    }
}

/* ---- draining legs sent without waiting ----------------------------------------------- */

/* Is a reply (or EOF) waiting for t's oldest pipelined command? */
static int
reply_ready(marshal_target *t)
{
    const struct mc_pend *e = &t->pend[t->pend_head];
    const redisContext *ctx;
    struct pollfd p;

    if (e->sub != NULL) {
        return e->sub->pend_len == 0 || reply_ready(e->sub);
    }
    ctx = e->conn != NULL ? e->conn->ctx : NULL;
    if (ctx == NULL || e->epoch != e->conn->epoch) {
        return 1;       /* dead: marshal_get_reply reports it without I/O */
    }
    if (ctx->reader != NULL && ctx->reader->len > ctx->reader->pos) {
        return 1;
    }
    p.fd = ctx->fd;
    p.events = POLLIN;
    return poll(&p, 1, 0) == 1;
}

int
mc_mirror_drain(marshal_target *t, int block)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    int m, failed = 0;

    if (cl == NULL || cl->rule == MSHM_RULE_MARSHAL0) {
        return 0;
    }
    for (m = 0; m < cl->n; m++) {
        marshal_target *g = cl->member[m];

        while (g != NULL && g->pend_len > 0 && (block || reply_ready(g))) {
            redisReply *r = NULL;
            int rc = mc_get_reply(g, &r);

            if (rc != MARSHAL_OK || r == NULL || r->type == REDIS_REPLY_ERROR) {
                failed++;
                cl->mirror_failed++;
                mc_log(c, MARSHAL_LOG_WARNING, "%s: mirror leg to %s failed: %s", t->name,
                       g->name,
                       rc != MARSHAL_OK ? marshal_strerror(rc) : r != NULL ? r->str : "no reply");
                mc_mirror_report_diverged(c, t, g);
            }
            freeReplyObject(r);
        }
    }
    return failed;
}

/* ---- reads ----------------------------------------------------------------------------- */

/* Can group target g serve a read now (per its cached route)? */
static int
group_can_read(marshal_target *g)
{
    if (mc_route_refresh(g) != MARSHAL_OK) {
        return 0;
    }
    return (g->r.master != NULL && g->r.master_up) || g->r.wrr.n > 0;
}

/*
 * Can member g serve this read: a group, or a farm's cluster whose groups
 * holding the command's keys (every one of them) can?
 */
static int
can_read(marshal_target *g, const struct mc_cmd *e, const struct mc_argv *a)
{
    int pos[MC_ARGV_STACK], n, i, k;

    if (g->cl == NULL) {
        return group_can_read(g);
    }
    if (mc_cluster_refresh(g) != MARSHAL_OK) {
        return 0;
    }
    n = e != NULL ? mc_cmd_keys(e, a->argc, a->argv, a->argvlen, pos, MC_ARGV_STACK) : -1;
    if (n <= 0) {
        return 1;           /* let the cluster say why */
    }
    for (i = 0; i < n && i < MC_ARGV_STACK; i++) {
        k = mc_cluster_place(g, a->argv[pos[i]], a->argvlen[pos[i]]);
        if (k < 0 || !group_can_read(g->cl->member[k])) {
            return 0;
        }
    }
    return 1;
}

static redisReply *
mirror_read(marshal_target *t, const char *cmd, size_t len, const struct mc_cmd *e,
            const struct mc_argv *a)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    struct mres res[MSHM_CLUSTER_MEMBERS] = {{0}};
    redisReply *r = NULL;
    int m, k, tried = 0;

    /* the primary first, then the undiverged mirrors in order */
    for (k = -1; k < cl->n; k++) {
        marshal_target *g;

        m = k < 0 ? cl->primary : k;
        if (k >= 0 && (m == cl->primary || (cl->mflags[m] & MSHM_MF_DIVERGED))) {
            continue;
        }
        g = cl->member[m];
        if (!can_read(g, e, a)) {
            continue;
        }
        if (k >= 0 && !tried) {
            mc_mirror_drain(t, 1);      /* replies still owed on the mirrors */
        }
        tried = 1;
        r = mc_run_any(g, cmd, len);
        res_take(c, &res[m], r != NULL ? MARSHAL_OK : c->errcode);
        if (r != NULL || c->outcome != MARSHAL_OUTCOME_NOT_APPLIED) {
            break;
        }
    }
    {
        int oc = c->outcome, ec = c->errcode;
        char es[MC_ERRSTR_MAX];

        memcpy(es, c->errstr, sizeof(es));
        res_publish(c, cl, res);
        c->outcome = oc;
        c->errcode = ec;
        memcpy(c->errstr, es, sizeof(es));
    }
    if (!tried) {
        mc_seterr(c, MARSHAL_ERR_NOSERVER, "\"%s\": no member can serve this read", t->name);
        c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
    }
    return r;
}

/* ---- writes ---------------------------------------------------------------------------- */

/* A leg that provably did not run because its group is between masters? */
static int
leg_retryable(int status, const redisReply *r)
{
    if (r != NULL) {
        return mc_reply_retryable(r);
    }
    return status == MARSHAL_ERR_NOMASTER || status == MARSHAL_ERR_CONN ||
           status == MARSHAL_ERR_NOSERVER || status == MARSHAL_ERR_CROSSGROUP;
}

static redisReply *
write_all(marshal_target *t, const char *cmd, size_t len)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    redisReply *rep[MSHM_CLUSTER_MEMBERS] = {0};
    struct mres res[MSHM_CLUSTER_MEMBERS] = {{0}};
    int st[MSHM_CLUSTER_MEMBERS], sent[MSHM_CLUSTER_MEMBERS] = {0};
    int m, applied = 0, not_applied = 0, unknown = 0, err_same = 1, first_err = MARSHAL_OK;
    redisReply *out = NULL;

    /* every leg at once (a split multi-key command on a farm's cluster: one by one below) */
    for (m = 0; m < cl->n; m++) {
        st[m] = mc_append_any(cl->member[m], cmd, len);
        sent[m] = st[m] == MARSHAL_OK;
    }
    for (m = 0; m < cl->n; m++) {
        if (sent[m]) {
            mc_target_flush(cl->member[m]);
        }
    }
    for (m = 0; m < cl->n; m++) {
        int oc = MARSHAL_OUTCOME_NOT_APPLIED;

        if (sent[m]) {
            st[m] = mc_get_reply(cl->member[m], &rep[m]);
            oc = c->outcome;
        }
        /* not sent, or a group between masters: through the member's own path */
        if (leg_retryable(st[m], rep[m])) {
            freeReplyObject(rep[m]);
            rep[m] = mc_run_any(cl->member[m], cmd, len);
            st[m] = rep[m] != NULL ? MARSHAL_OK : c->errcode;
            oc = c->outcome;
        }
        c->outcome = oc;
        res_take(c, &res[m], st[m]);
        if (rep[m] != NULL && rep[m]->type != REDIS_REPLY_ERROR && oc == MARSHAL_OUTCOME_APPLIED) {
            applied++;
        } else if (oc == MARSHAL_OUTCOME_UNKNOWN || oc == MARSHAL_OUTCOME_PARTIAL) {
            unknown++;
        } else {
            not_applied++;
        }
        if (st[m] != MARSHAL_OK && first_err == MARSHAL_OK) {
            first_err = st[m];
        }
        if (rep[m] == NULL || rep[m]->type != REDIS_REPLY_ERROR || rep[0] == NULL ||
            rep[0]->type != REDIS_REPLY_ERROR || strcmp(rep[m]->str, rep[0]->str) != 0) {
            err_same = 0;
        }
    }
    res_publish(c, cl, res);
    mc_clearerr(c);
    if (applied == cl->n) {
        out = rep[cl->primary];
        rep[cl->primary] = NULL;
        c->outcome = MARSHAL_OUTCOME_APPLIED;
    } else if (not_applied == cl->n && err_same) {
        /* the same error reply everywhere (e.g. WRONGTYPE): nothing ran anywhere */
        out = rep[cl->primary];
        rep[cl->primary] = NULL;
        c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
    } else {
        c->outcome = applied == 0 && unknown == 0 ? MARSHAL_OUTCOME_NOT_APPLIED
                     : applied == 0 && not_applied == 0 ? MARSHAL_OUTCOME_UNKNOWN
                                                        : MARSHAL_OUTCOME_PARTIAL;
        mc_seterr(c, first_err != MARSHAL_OK ? first_err : MARSHAL_ERR_NOSERVER,
                  "\"%s\": %d of %d legs applied; see marshal_client_legs()", t->name, applied,
                  cl->n);
        if (applied > 0) {
            for (m = 0; m < cl->n; m++) {
                if (res[m].outcome != MARSHAL_OUTCOME_APPLIED || rep[m] == NULL ||
                    rep[m]->type == REDIS_REPLY_ERROR) {
                    mc_mirror_report_diverged(c, t, cl->member[m]);
                }
            }
        }
    }
    for (m = 0; m < cl->n; m++) {
        freeReplyObject(rep[m]);
    }
    c->last_conn = NULL;
    return out;
}

static redisReply *
write_primary(marshal_target *t, const char *cmd, size_t len)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    struct mres res[MSHM_CLUSTER_MEMBERS] = {{0}};
    redisReply *r = mc_run_any(cl->member[cl->primary], cmd, len);
    int outcome = c->outcome, ec = c->errcode, m;
    char es[MC_ERRSTR_MAX];

    memcpy(es, c->errstr, sizeof(es));
    res_take(c, &res[cl->primary], r != NULL ? MARSHAL_OK : ec);
    if (r != NULL && r->type != REDIS_REPLY_ERROR && outcome == MARSHAL_OUTCOME_APPLIED) {
        /* the primary applied it: the mirrors get it, replies read later */
        for (m = 0; m < cl->n; m++) {
            marshal_target *g = cl->member[m];
            int rc;

            if (m == cl->primary) {
                continue;
            }
            rc = mc_append_any(g, cmd, len);
            if (rc == MARSHAL_OK) {
                mc_target_flush(g);
                c->outcome = MARSHAL_OUTCOME_UNKNOWN;   /* sent; its reply comes later */
            } else {
                c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
                cl->mirror_failed++;
                mc_mirror_report_diverged(c, t, g);
            }
            res_take(c, &res[m], rc);
            res[m].host[0] = '\0';
            res[m].port = 0;
        }
    }
    res_publish(c, cl, res);
    c->outcome = outcome;
    c->errcode = ec;
    memcpy(c->errstr, es, sizeof(es));
    return r;
}

redisReply *
mc_mirror_run(marshal_target *t, const char *cmd, size_t len, const struct mc_cmd *e,
              const struct mc_argv *a)
{
    marshal_client *c = t->c;
    const char *why;

    mc_mirror_drain(t, 0);
    if (t->cl->n == 0) {
        mc_seterr(c, MARSHAL_ERR_NOSERVER, "\"%s\" has no members", t->name);
        return NULL;
    }
    if (e != NULL && mc_cmd_class(e) == MC_CLASS_READ) {
        return mirror_read(t, cmd, len, e, a);
    }
    why = mc_mirror_refused(e, a);
    if (why != NULL) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED, "\"%s\" mirrors writes: %.*s refused: %s",
                  t->name, (int)(a->argvlen[0] > 32 ? 32 : a->argvlen[0]), a->argv[0], why);
        return NULL;
    }
    return t->cl->policy == MSHM_MIRROR_PRIMARY ? write_primary(t, cmd, len)
                                                : write_all(t, cmd, len);
}
