/*
 * mc_async_cluster.c -- cluster and farm targets in the asynchronous front
 * end: placement, split multi-key commands, mirrors.
 *
 * The same rules as the blocking front end (mc_cluster.c, mc_mirror.c):
 *   - marshal0: the keys are placed with the cluster's ring or slot map
 *     (mc_cluster_place); one group -> the request is re-addressed to that
 *     group (one leg in the result); MGET / MSET / DEL / UNLINK / EXISTS /
 *     TOUCH over several groups -> one leg per group, all in flight at once,
 *     merged into one reply and one callback; any other multi-group command
 *     is CROSSGROUP.  A group without a master parks its own leg: keys never
 *     move to another group.
 *   - marshal1 / marshal10: a write goes to every member at once (each leg
 *     through its member's own routing and failover), a read to the primary.
 *     The reply is the primary's; the outcome is APPLIED when every leg
 *     applied (policy all) or the primary did (policy primary), PARTIAL when
 *     legs differ.  A mirror that missed a write the primary applied is
 *     reported to the controller as diverged.
 * A composite holds its legs' replies by stealing them out of hiredis's
 * reply objects (hiredis frees the emptied shell after the callback).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "mc_async.h"
#include "mc_commands.h"
#include "mc_outcome.h"

#define MC_ACL_MIRROR 100   /* composite kind beside MC_SPLIT_* */

/* A composite request's state. */
struct mc_acomp {
    int kind;                     /* MC_SPLIT_* or MC_ACL_MIRROR                    */
    int n;                        /* legs                                          */
    int left;                     /* legs not yet ended                            */
    int primary;                  /* mirror: leg of the primary                    */
    int policy;                   /* mirror: MSHM_MIRROR_*                         */
    int is_write;
    marshal_target *cluster;
    int nk;                       /* MGET: keys                                    */
    int *legof_key;               /* MGET: leg of key i                            */
    struct mc_leg legs[MSHM_CLUSTER_MEMBERS];
    marshal_leg pub[MSHM_CLUSTER_MEMBERS];
    marshal_target *member[MSHM_CLUSTER_MEMBERS]; /* leg -> member target          */
    redisReply *rep[MSHM_CLUSTER_MEMBERS];        /* stolen leg replies            */
    struct mc_conn *srv[MSHM_CLUSTER_MEMBERS];    /* server each leg went to       */
    redisReply *merged;           /* the reply given to the callback               */
};

/* Take the contents of r (hiredis frees the emptied shell). */
static redisReply *
steal(redisReply *r)
{
    redisReply *n = malloc(sizeof(*n));

    if (n == NULL) {
        return NULL;
    }
    *n = *r;
    r->type = REDIS_REPLY_NIL;
    r->str = NULL;
    r->len = 0;
    r->element = NULL;
    r->elements = 0;
    return n;
}

static void
acl_free(struct mc_areq *q)
{
    struct mc_acomp *k = q->comp;
    int i;

    if (k == NULL) {
        return;
    }
    for (i = 0; i < k->n; i++) {
        if (k->rep[i] != NULL) {
            freeReplyObject(k->rep[i]);
        }
    }
    if (k->merged != NULL) {
        freeReplyObject(k->merged);
    }
    free(k->legof_key);
    free(k);
    q->comp = NULL;
}

static int
acl_legs(struct mc_areq *q, const marshal_leg **legs)
{
    struct mc_acomp *k = q->comp;
    int i;

    for (i = 0; i < k->n; i++) {
        k->pub[i] = k->legs[i].pub;
    }
    *legs = k->pub;
    return k->n;
}

/* A new leg of composite q to member m with command cmd (taken; freed on NOMEM). */
static struct mc_areq *
leg_new(struct mc_areq *q, int m, char *cmd, size_t len, int nkeys)
{
    struct mc_acomp *k = q->comp;
    marshal_target *g = q->t->cl->member[m];
    struct mc_areq *l = cmd != NULL ? mc_areq_take(q->a, g, cmd, len) : NULL;
    struct mc_leg *lg = &k->legs[k->n];

    if (l == NULL) {
        free(cmd);
        return NULL;
    }
    l->cls = q->cls;
    l->sp = q->sp;
    l->parent = q;
    l->leg = k->n;
    l->nkeys = nkeys;
    memset(lg, 0, sizeof(*lg));
    snprintf(lg->group, sizeof(lg->group), "%s", g->name);
    lg->pub.group = lg->group;
    lg->pub.host = lg->host;
    lg->pub.nkeys = nkeys;
    lg->pub.status = MARSHAL_OK;
    lg->pub.outcome = MARSHAL_OUTCOME_NOT_APPLIED;
    k->member[k->n] = g;
    k->n++;
    return l;
}

static void acl_leg_done(struct mc_areq *q, struct mc_areq *l, redisReply *reply);

/* What the request engine calls on a composite (mc_async.h). */
static const struct mc_acomp_ops acl_ops = {
    acl_leg_done,
    acl_legs,
    acl_free,
};

static struct mc_acomp *
comp_new(struct mc_areq *q, int kind)
{
    struct mc_acomp *k = calloc(1, sizeof(*k));

    if (k != NULL) {
        k->kind = kind;
        k->cluster = q->t;
        k->left = 1;        /* held while legs are being dispatched */
        q->comp = k;
        q->cops = &acl_ops;
        q->where = MC_RQ_LEGS;
    }
    return k;
}

static void finish(struct mc_areq *q);

/* Legs are all created: send them, then release the dispatch hold. */
static void
launch(struct mc_areq *q, struct mc_areq **legs, int n)
{
    int i;

    q->comp->left += n;
    for (i = 0; i < n; i++) {
        mc_acl_submit(legs[i]);
    }
    if (--q->comp->left == 0) {
        finish(q);
    }
}

static void
acl_leg_done(struct mc_areq *q, struct mc_areq *l, redisReply *reply)
{
    struct mc_acomp *k = q->comp;
    struct mc_leg *lg = &k->legs[l->leg];

    snprintf(lg->host, sizeof(lg->host), "%s", MC_AREQ_HOST(l));
    lg->pub.port = MC_AREQ_PORT(l);
    k->srv[l->leg] = l->srv;
    lg->pub.status = l->status;
    lg->pub.outcome = l->outcome;
    if (l->attempts > q->attempts) {
        q->attempts = l->attempts;
    }
    if (l->parked_ns > q->parked_ns) {
        q->parked_ns = l->parked_ns;
    }
    if (reply != NULL && k->rep[l->leg] == NULL) {
        k->rep[l->leg] = steal(reply);
        if (k->rep[l->leg] == NULL && l->status == MARSHAL_OK) {
            lg->pub.status = MARSHAL_ERR_NOMEM;     /* the command ran; we lost its reply */
        }
    }
    if (--k->left == 0) {
        finish(q);
    }
}

/* Outcome of a composite from its legs. */
static int
fold_outcome(const struct mc_acomp *k, int *first_err, int *failed)
{
    int i, applied = 0, not_applied = 0;

    *first_err = MARSHAL_OK;
    *failed = 0;
    for (i = 0; i < k->n; i++) {
        const marshal_leg *l = &k->legs[i].pub;
        int ok = l->outcome == MARSHAL_OUTCOME_APPLIED && l->status == MARSHAL_OK &&
                 k->rep[i] != NULL && k->rep[i]->type != REDIS_REPLY_ERROR;

        if (ok) {
            applied++;
            continue;
        }
        (*failed)++;
        not_applied += l->outcome == MARSHAL_OUTCOME_NOT_APPLIED;
        if (*first_err == MARSHAL_OK) {
            *first_err = l->status != MARSHAL_OK ? l->status : MARSHAL_ERR_NOSERVER;
        }
    }
    if (*failed == 0) {
        return MARSHAL_OUTCOME_APPLIED;
    }
    if (applied == 0) {
        return not_applied == *failed ? MARSHAL_OUTCOME_NOT_APPLIED : MARSHAL_OUTCOME_UNKNOWN;
    }
    return MARSHAL_OUTCOME_PARTIAL;
}

static void
finish(struct mc_areq *q)
{
    struct mc_acomp *k = q->comp;
    int first_err, failed, i;
    redisReply *out = NULL;

    q->outcome = fold_outcome(k, &first_err, &failed);
    q->status = MARSHAL_OK;
    q->errstr[0] = '\0';
    if (k->kind == MC_ACL_MIRROR) {
        const marshal_leg *p = &k->legs[k->primary].pub;

        out = k->rep[k->primary];
        k->rep[k->primary] = NULL;
        k->merged = out;
        q->srv = k->srv[k->primary];
        if (k->policy == MSHM_MIRROR_PRIMARY || !k->is_write) {
            q->outcome = p->outcome;
            q->status = p->status;
        } else if (failed > 0) {
            q->status = first_err;
        }
        if (k->is_write && p->outcome == MARSHAL_OUTCOME_APPLIED) {
            for (i = 0; i < k->n; i++) {
                if (i != k->primary && k->legs[i].pub.outcome != MARSHAL_OUTCOME_APPLIED) {
                    mc_mirror_report_diverged(q->a->c, k->cluster, k->member[i]);
                }
            }
        }
        if (q->status != MARSHAL_OK) {
            snprintf(q->errstr, sizeof(q->errstr), "%d of %d legs failed (%s)", failed, k->n,
                     marshal_strerror(q->status));
        }
    } else if (failed == 0) {
        out = k->merged = mc_split_merge(k->kind, k->nk, k->legof_key, k->rep, k->n);
        if (out == NULL) {
            q->status = MARSHAL_ERR_NOMEM;
            snprintf(q->errstr, sizeof(q->errstr), "out of memory (the command ran)");
        }
    } else {
        q->status = first_err;
        snprintf(q->errstr, sizeof(q->errstr), "%d of %d groups failed (%s); see the legs",
                 failed, k->n, marshal_strerror(first_err));
    }
    /* as documented (and as the blocking API): no reply unless the status is OK */
    mc_areq_complete(q, q->status == MARSHAL_OK ? out : NULL);
}

/* Split a multi-key command over the groups its keys land on. */
static void
split(struct mc_areq *q, const struct mc_argv *av, int kind, const int *member)
{
    struct mc_acomp *k;
    struct mc_areq *legs[MSHM_CLUSTER_MEMBERS];
    int step = kind == MC_SPLIT_MSET ? 2 : 1, nk = (av->argc - 1) / step;
    int count[MSHM_CLUSTER_MEMBERS] = {0}, legof_member[MSHM_CLUSTER_MEMBERS];
    const char **sub = malloc((size_t)av->argc * sizeof(*sub));
    size_t *sublen = malloc((size_t)av->argc * sizeof(*sublen));
    int i, m, nlegs = 0;

    k = comp_new(q, kind);
    if (k == NULL || sub == NULL || sublen == NULL) {
        free((void *)sub);
        free(sublen);
        acl_free(q);
        mc_areq_fail(q, MARSHAL_ERR_NOMEM, MARSHAL_OUTCOME_NOT_APPLIED, "out of memory");
        return;
    }
    k->nk = nk;
    k->legof_key = kind == MC_SPLIT_MGET ? malloc((size_t)(nk > 0 ? nk : 1) * sizeof(int)) : NULL;
    for (i = 0; i < nk; i++) {
        count[member[i]]++;
    }
    for (m = 0; m < q->t->cl->n; m++) {
        char *buf = NULL;
        int n, len;

        legof_member[m] = -1;
        if (count[m] == 0) {
            continue;
        }
        n = mc_split_leg_argv(av, kind, member, m, sub, sublen);
        len = redisFormatCommandArgv(&buf, n, sub, sublen);
        legs[nlegs] = len > 0 ? leg_new(q, m, buf, (size_t)len, count[m]) : NULL;
        if (len <= 0) {
            redisFreeCommand(buf);
        }
        if (legs[nlegs] == NULL || (kind == MC_SPLIT_MGET && k->legof_key == NULL)) {
            for (i = 0; i < nlegs; i++) {
                free(legs[i]->cmd);
                free(legs[i]);
            }
            free((void *)sub);
            free(sublen);
            acl_free(q);
            mc_areq_fail(q, MARSHAL_ERR_NOMEM, MARSHAL_OUTCOME_NOT_APPLIED, "out of memory");
            return;
        }
        legof_member[m] = nlegs++;
    }
    for (i = 0; kind == MC_SPLIT_MGET && i < nk; i++) {
        k->legof_key[i] = legof_member[member[i]];
    }
    free((void *)sub);
    free(sublen);
    launch(q, legs, nlegs);
}

/* A write on a mirrored target: every member at once; a read: the primary. */
static void
mirror(struct mc_areq *q, const struct mc_cmd *e, const struct mc_argv *av)
{
    struct mc_cluster *cl = q->t->cl;
    struct mc_areq *legs[MSHM_CLUSTER_MEMBERS];
    const char *why = mc_mirror_refused(e, av);
    struct mc_acomp *k;
    int m, n = 0;

    if (why != NULL) {
        mc_areq_fail(q, MARSHAL_ERR_UNSUPPORTED, MARSHAL_OUTCOME_NOT_APPLIED,
                     "not mirrorable: %s", why);
        return;
    }
    if (q->cls == MC_CLASS_READ) {
        q->via = q->t;
        q->t = cl->member[cl->primary];
        mc_acl_submit(q);
        return;
    }
    k = comp_new(q, MC_ACL_MIRROR);
    if (k == NULL) {
        mc_areq_fail(q, MARSHAL_ERR_NOMEM, MARSHAL_OUTCOME_NOT_APPLIED, "out of memory");
        return;
    }
    k->policy = cl->policy;
    k->is_write = 1;
    for (m = 0; m < cl->n; m++) {
        if (m == cl->primary) {
            k->primary = n;
        }
        char *copy = malloc(q->len > 0 ? q->len : 1);

        if (copy != NULL) {
            memcpy(copy, q->cmd, q->len);
        }
        legs[n] = leg_new(q, m, copy, q->len, 0);
        if (legs[n] == NULL) {
            while (n-- > 0) {
                free(legs[n]->cmd);
                free(legs[n]);
            }
            acl_free(q);
            mc_areq_fail(q, MARSHAL_ERR_NOMEM, MARSHAL_OUTCOME_NOT_APPLIED, "out of memory");
            return;
        }
        n++;
    }
    launch(q, legs, n);
}

static void
acl_dispatch(struct mc_areq *q)
{
    marshal_target *t = q->t;
    marshal_client *c = t->c;
    struct mc_argv av;
    const struct mc_cmd *e;
    int pos_stack[MC_ARGV_STACK], member_stack[MC_ARGV_STACK];
    int *pos = pos_stack, *member = member_stack, nkeys, i, same = 1, rc, kind;

    rc = mc_cluster_refresh(t);
    if (rc != MARSHAL_OK) {
        mc_areq_fail(q, rc, MARSHAL_OUTCOME_NOT_APPLIED, "%s", c->errstr);
        return;
    }
    rc = mc_argv_parse(q->cmd, q->len, &av);
    if (rc != 0) {
        mc_areq_fail(q, rc == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL,
                     MARSHAL_OUTCOME_NOT_APPLIED, "malformed command");
        return;
    }
    e = mc_cmd_resolve(av.argc, av.argv, av.argvlen);
    if (t->cl->rule == MSHM_RULE_MARSHAL1 || t->cl->rule == MSHM_RULE_MARSHAL10) {
        mirror(q, e, &av);
        goto out;
    }
    if (q->sp == MC_SP_MULTI || q->sp == MC_SP_WATCH || q->sp == MC_SP_EXEC ||
        q->sp == MC_SP_DISCARD) {
        mc_areq_fail(q, MARSHAL_ERR_UNSUPPORTED, MARSHAL_OUTCOME_NOT_APPLIED,
                     "transactions on a cluster target: open the group's target instead");
        goto out;
    }
    nkeys = e != NULL ? mc_cmd_keys(e, av.argc, av.argv, av.argvlen, pos, MC_ARGV_STACK) : -1;
    if (nkeys > MC_ARGV_STACK) {
        pos = malloc((size_t)nkeys * sizeof(*pos));
        member = malloc((size_t)nkeys * sizeof(*member));
        if (pos == NULL || member == NULL) {
            mc_areq_fail(q, MARSHAL_ERR_NOMEM, MARSHAL_OUTCOME_NOT_APPLIED, "out of memory");
            goto out;
        }
        nkeys = mc_cmd_keys(e, av.argc, av.argv, av.argvlen, pos, nkeys);
    }
    if (nkeys <= 0) {
        mc_areq_fail(q, MARSHAL_ERR_UNSUPPORTED, MARSHAL_OUTCOME_NOT_APPLIED, "%s",
                     nkeys == 0 ? "a command without keys has no place in a cluster"
                                : "the keys of this command cannot be placed");
        goto out;
    }
    for (i = 0; i < nkeys; i++) {
        member[i] = mc_cluster_place(t, av.argv[pos[i]], av.argvlen[pos[i]]);
        if (member[i] < 0) {
            mc_areq_fail(q, MARSHAL_ERR_NOSERVER, MARSHAL_OUTCOME_NOT_APPLIED,
                         "cluster \"%s\" has no group to place keys on", t->name);
            goto out;
        }
        same &= member[i] == member[0];
    }
    if (same) {
        q->via = t;
        q->nkeys = nkeys;
        q->t = t->cl->member[member[0]];
        mc_areq_dispatch(q);
        goto out;
    }
    kind = mc_split_kind_of(&av);
    if (kind == MC_SPLIT_NONE) {
        mc_areq_fail(q, MARSHAL_ERR_CROSSGROUP, MARSHAL_OUTCOME_NOT_APPLIED,
                     "keys of this command map to different groups of \"%s\" (use a hash tag)",
                     t->name);
        goto out;
    }
    split(q, &av, kind, member);
out:
    if (pos != pos_stack) {
        free(pos);
    }
    if (member != member_stack) {
        free(member);
    }
    mc_argv_free(&av);
}

void
mc_acl_submit(struct mc_areq *q)
{
    if (q->t->cl != NULL) {
        acl_dispatch(q);
    } else {
        mc_areq_dispatch(q);
    }
}
