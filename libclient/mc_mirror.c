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
 * server when the primary has none (a mirror marked diverged is skipped).
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

#include "mc_cluster.h"
#include "mc_commands.h"
#include "mc_outcome.h"

/* ---- divergence report ---------------------------------------------------------------- */

/* Tell the controller that member group g of cluster t missed a write. */
static void
report_diverged(marshal_client *c, marshal_target *t, const marshal_target *g)
{
    struct sockaddr_un sa;
    char msg[256];
    int fd, n;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.ctl", c->path);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        return;
    }
    n = snprintf(msg, sizeof(msg), "diverged %s %s\n", t->name, g->name);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return;
    }
    if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        mc_log(c, MARSHAL_LOG_WARNING, "cluster %s: mirror %s diverged; cannot tell the "
               "controller (%s: %s)", t->name, g->name, sa.sun_path, strerror(errno));
    } else {
        mc_log(c, MARSHAL_LOG_WARNING, "cluster %s: mirror %s diverged (reported)", t->name,
               g->name);
    }
    close(fd);
}

/* ---- refusals ------------------------------------------------------------------------- */

/* Does argv contain option word w (case-insensitive) after the key? */
static int
has_word(const struct mc_argv *a, int from, const char *w)
{
    int i;

    for (i = from; i < a->argc; i++) {
        if (mc_name_eq(a->argv[i], a->argvlen[i], w)) {
            return 1;
        }
    }
    return 0;
}

/* Why a write cannot be mirrored, or NULL when it can. */
static const char *
not_mirrorable(const struct mc_cmd *e, const struct mc_argv *a)
{
    const char *n = a->argv[0];
    size_t l = a->argvlen[0];

    if (e == NULL) {
        return "unknown command";
    }
    if (e->flags & MC_CMD_NONDETERMINISTIC) {
        return "its effect is not deterministic";
    }
    if (mc_name_eq(n, l, "eval") || mc_name_eq(n, l, "evalsha") || mc_name_eq(n, l, "fcall") ||
        mc_name_eq(n, l, "eval_ro") || mc_name_eq(n, l, "evalsha_ro") ||
        mc_name_eq(n, l, "fcall_ro") || mc_name_eq(n, l, "function") ||
        mc_name_eq(n, l, "script")) {
        return "scripts and functions are not mirrored";
    }
    if (mc_name_eq(n, l, "multi") || mc_name_eq(n, l, "exec") || mc_name_eq(n, l, "watch") ||
        mc_name_eq(n, l, "discard") || mc_name_eq(n, l, "unwatch")) {
        return "transactions are not mirrored";
    }
    if (mc_name_eq(n, l, "expire") || mc_name_eq(n, l, "pexpire") || mc_name_eq(n, l, "setex") ||
        mc_name_eq(n, l, "psetex")) {
        return "a relative expiry differs between groups (use EXPIREAT/PEXPIREAT)";
    }
    if ((mc_name_eq(n, l, "set") || mc_name_eq(n, l, "getex")) &&
        (has_word(a, 2, "ex") || has_word(a, 2, "px"))) {
        return "a relative expiry differs between groups (use EXAT/PXAT)";
    }
    if (mc_name_eq(n, l, "restore") && !has_word(a, 4, "absttl") && a->argc > 2 &&
        !(a->argvlen[2] == 1 && a->argv[2][0] == '0')) {
        return "a relative TTL differs between groups (use ABSTTL)";
    }
    return NULL;
}

/* ---- draining legs sent without waiting ----------------------------------------------- */

/* Is a reply (or EOF) waiting on the connection of t's oldest pipelined command? */
static int
reply_ready(marshal_target *t)
{
    const struct mc_pend *e = &t->pend[t->pend_head];
    const redisContext *ctx = e->conn != NULL ? e->conn->ctx : NULL;
    struct pollfd p;

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

    if (cl == NULL || cl->rule != MSHM_RULE_MARSHAL1) {
        return 0;
    }
    for (m = 0; m < cl->n; m++) {
        marshal_target *g = cl->member[m];

        while (g != NULL && g->pend_len > 0 && (block || reply_ready(g))) {
            redisReply *r = NULL;
            int rc = marshal_get_reply(g, &r);

            if (rc != MARSHAL_OK || r == NULL || r->type == REDIS_REPLY_ERROR) {
                failed++;
                cl->mirror_failed++;
                mc_log(c, MARSHAL_LOG_WARNING, "cluster %s: mirror leg to %s failed: %s",
                       t->name, g->name,
                       rc != MARSHAL_OK ? marshal_strerror(rc) : r != NULL ? r->str : "no reply");
                report_diverged(c, t, g);
            }
            freeReplyObject(r);
        }
    }
    return failed;
}

/* ---- reads ----------------------------------------------------------------------------- */

/* Can group target g serve a read now (per its cached route)? */
static int
can_read(marshal_target *g)
{
    if (mc_route_refresh(g) != MARSHAL_OK) {
        return 0;
    }
    return (g->r.master != NULL && g->r.master_up) || g->r.wrr.n > 0;
}

static redisReply *
mirror_read(marshal_target *t, const char *cmd, size_t len)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    marshal_target *p = cl->member[cl->primary];
    struct mc_leg *l;
    redisReply *r;
    int m;

    if (can_read(p)) {
        l = mc_leg_add(c, p, 0);
        r = mc_run(p, cmd, len);
        mc_leg_done(c, l, r != NULL ? MARSHAL_OK : c->errcode);
        if (r != NULL || c->outcome != MARSHAL_OUTCOME_NOT_APPLIED) {
            return r;
        }
    }
    /* the primary has no readable server: the first healthy, undiverged mirror
     * (after the replies still owed on the mirrors' connections) */
    mc_mirror_drain(t, 1);
    for (m = 0; m < cl->n; m++) {
        marshal_target *g = cl->member[m];

        if (m == cl->primary || (cl->mflags[m] & MSHM_MF_DIVERGED) || !can_read(g)) {
            continue;
        }
        l = mc_leg_add(c, g, 0);
        r = mc_run(g, cmd, len);
        mc_leg_done(c, l, r != NULL ? MARSHAL_OK : c->errcode);
        if (r != NULL || c->outcome != MARSHAL_OUTCOME_NOT_APPLIED) {
            return r;
        }
    }
    if (c->n_legs == 0) {
        mc_seterr(c, MARSHAL_ERR_NOSERVER, "cluster \"%s\": no group can serve reads", t->name);
        c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
    }
    return NULL;
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
           status == MARSHAL_ERR_NOSERVER;
}

static redisReply *
write_all(marshal_target *t, const char *cmd, size_t len)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    redisReply *rep[MSHM_CLUSTER_MEMBERS] = {0};
    int st[MSHM_CLUSTER_MEMBERS], oc[MSHM_CLUSTER_MEMBERS], sent[MSHM_CLUSTER_MEMBERS] = {0};
    struct mc_leg *leg[MSHM_CLUSTER_MEMBERS];
    int m, applied = 0, not_applied = 0, unknown = 0, err_same = 1, first_err = MARSHAL_OK;
    redisReply *out = NULL;

    /* every leg at once */
    for (m = 0; m < cl->n; m++) {
        leg[m] = mc_leg_add(c, cl->member[m], 0);
        st[m] = mc_append_formatted(cl->member[m], cmd, len);
        sent[m] = st[m] == MARSHAL_OK;
    }
    for (m = 0; m < cl->n; m++) {
        if (sent[m]) {
            mc_target_flush(cl->member[m]);
        }
    }
    for (m = 0; m < cl->n; m++) {
        if (sent[m]) {
            st[m] = marshal_get_reply(cl->member[m], &rep[m]);
            oc[m] = c->outcome;
        } else {
            oc[m] = MARSHAL_OUTCOME_NOT_APPLIED;
        }
        /* a group between masters: once more, through its failover handling */
        if (leg_retryable(st[m], rep[m])) {
            freeReplyObject(rep[m]);
            rep[m] = mc_run(cl->member[m], cmd, len);
            st[m] = rep[m] != NULL ? MARSHAL_OK : c->errcode;
            oc[m] = c->outcome;
        }
        c->outcome = oc[m];
        mc_leg_done(c, leg[m], st[m]);
        if (rep[m] != NULL && rep[m]->type != REDIS_REPLY_ERROR && oc[m] == MARSHAL_OUTCOME_APPLIED) {
            applied++;
        } else if (oc[m] == MARSHAL_OUTCOME_UNKNOWN) {
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
                  "cluster \"%s\": %d of %d legs applied; see marshal_client_legs()", t->name,
                  applied, cl->n);
        if (applied > 0) {
            for (m = 0; m < cl->n; m++) {
                if (oc[m] != MARSHAL_OUTCOME_APPLIED || rep[m] == NULL ||
                    rep[m]->type == REDIS_REPLY_ERROR) {
                    report_diverged(c, t, cl->member[m]);
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
    marshal_target *p = cl->member[cl->primary];
    struct mc_leg *l = mc_leg_add(c, p, 0);
    redisReply *r = mc_run(p, cmd, len);
    int outcome = c->outcome, status = r != NULL ? MARSHAL_OK : c->errcode, m;

    mc_leg_done(c, l, status);
    if (r == NULL || r->type == REDIS_REPLY_ERROR || outcome != MARSHAL_OUTCOME_APPLIED) {
        return r;           /* the primary did not apply it: the mirrors get nothing */
    }
    for (m = 0; m < cl->n; m++) {
        marshal_target *g = cl->member[m];
        struct mc_leg *ml;
        int rc;

        if (m == cl->primary) {
            continue;
        }
        ml = mc_leg_add(c, g, 0);
        rc = mc_append_formatted(g, cmd, len);
        if (rc == MARSHAL_OK) {
            mc_target_flush(g);
            c->outcome = MARSHAL_OUTCOME_UNKNOWN;   /* sent; its reply is read later */
        } else {
            c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
            cl->mirror_failed++;
            report_diverged(c, t, g);
        }
        mc_leg_done(c, ml, rc);
    }
    c->outcome = outcome;
    c->errcode = MARSHAL_OK;
    c->errstr[0] = '\0';
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
        mc_seterr(c, MARSHAL_ERR_NOSERVER, "cluster \"%s\" has no groups", t->name);
        return NULL;
    }
    if (e != NULL && mc_cmd_class(e) == MC_CLASS_READ) {
        return mirror_read(t, cmd, len);
    }
    why = not_mirrorable(e, a);
    if (why != NULL) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED, "cluster \"%s\" mirrors writes: %.*s refused: %s",
                  t->name, (int)(a->argvlen[0] > 32 ? 32 : a->argvlen[0]), a->argv[0], why);
        return NULL;
    }
    return t->cl->policy == MSHM_MIRROR_PRIMARY ? write_primary(t, cmd, len)
                                                : write_all(t, cmd, len);
}
