/*
 * mc_stripe.c -- the blocking executor of striped (marshal0) cluster targets.
 *
 * A command whose keys all land in one group is sent through that group's
 * target (mc_command.c), so the group's own rule (master-only, read-only
 * mode, split) and failover handling apply.  A group that is down keeps its
 * keys: its commands fail, nothing moves.  MGET, MSET, DEL, UNLINK, EXISTS
 * and TOUCH spanning groups are split per group (mc_split.c), the legs sent
 * pipelined to all groups at once and merged in key order (counts summed);
 * every leg's result is kept (marshal_client_legs).  Any other command
 * spanning groups fails with MARSHAL_ERR_CROSSGROUP; a keyless command fails
 * with MARSHAL_ERR_UNSUPPORTED (send it to a group target).
 *
 * Layering: uses the group executor and the cluster targets below it; the
 * mirror executor (mc_mirror.c) and the API (mc_api.c) sit above.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "mc_exec.h"
#include "mc_commands.h"

/*
 * Split a multi-key command over the groups its keys land on, send every
 * leg pipelined, merge.  place[i] is the member of argv key i (keys at
 * 1..argc-1, step 1, or step 2 for MSET).
 */
static redisReply *
run_split(marshal_target *t, const struct mc_argv *a, enum mc_split_kind kind, const int *member)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    int step = kind == MC_SPLIT_MSET ? 2 : 1, nk = (a->argc - 1) / step;
    int count[MSHM_CLUSTER_MEMBERS] = {0}, legidx[MSHM_CLUSTER_MEMBERS];
    struct mc_leg *leg[MSHM_CLUSTER_MEMBERS] = {0};
    redisReply *rep[MSHM_CLUSTER_MEMBERS] = {0};
    const char **sub = malloc((size_t)a->argc * sizeof(*sub));
    size_t *sublen = malloc((size_t)a->argc * sizeof(*sublen));
    int i, m, applied = 0, not_applied = 0, failed = 0, first_err = MARSHAL_OK, nlegs = 0;
    redisReply *out = NULL;

    if (sub == NULL || sublen == NULL) {
        free((void *)sub);
        free(sublen);
        mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
        c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
        return NULL;
    }
    for (i = 0; i < nk; i++) {
        count[member[i]]++;
    }
    /* append one leg per group (each routed by its group's rule), then read */
    for (m = 0; m < cl->n; m++) {
        int k, rc;

        legidx[m] = -1;
        if (count[m] == 0) {
            continue;
        }
        k = mc_split_leg_argv(a, kind, member, m, sub, sublen);
        leg[m] = mc_leg_add(c, cl->member[m], count[m]);
        rc = mc_append_argv(cl->member[m], k, sub, sublen);
        if (rc != MARSHAL_OK) {
            c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
            c->last_conn = NULL;
            mc_leg_done(c, leg[m], rc);
            if (first_err == MARSHAL_OK) {
                first_err = rc;
            }
            continue;
        }
        legidx[m] = nlegs++;
    }
    for (m = 0; m < cl->n; m++) {
        if (legidx[m] >= 0) {
            mc_target_flush(cl->member[m]);
        }
    }
    for (m = 0; m < cl->n; m++) {
        int rc;

        if (legidx[m] < 0) {
            continue;
        }
        rc = mc_get_reply(cl->member[m], &rep[m]);
        if (rc == MARSHAL_OK && rep[m]->type == REDIS_REPLY_ERROR) {
            rc = MARSHAL_ERR_NOSERVER;      /* an error reply: the leg failed */
        }
        mc_leg_done(c, leg[m], rc == MARSHAL_ERR_NOSERVER ? MARSHAL_OK : rc);
        if (rc != MARSHAL_OK && first_err == MARSHAL_OK) {
            first_err = rc == MARSHAL_ERR_NOSERVER ? MARSHAL_OK : rc;
        }
    }
    /* merge */
    for (m = 0; m < cl->n; m++) {
        if (leg[m] == NULL) {
            continue;
        }
        if (leg[m]->pub.outcome == MARSHAL_OUTCOME_APPLIED && rep[m] != NULL &&
            rep[m]->type != REDIS_REPLY_ERROR) {
            applied++;
        } else {
            failed++;
            not_applied += leg[m]->pub.outcome == MARSHAL_OUTCOME_NOT_APPLIED;
        }
    }
    if (failed == 0) {
        out = mc_split_merge(kind, nk, member, rep, cl->n);
        if (out == NULL) {
            mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory (the command ran)");
        }
        c->outcome = MARSHAL_OUTCOME_APPLIED;
    } else {
        c->outcome = applied == 0 && not_applied == failed ? MARSHAL_OUTCOME_NOT_APPLIED
                     : applied == 0 && not_applied == 0    ? MARSHAL_OUTCOME_UNKNOWN
                                                           : MARSHAL_OUTCOME_PARTIAL;
        mc_seterr(c, first_err != MARSHAL_OK ? first_err : MARSHAL_ERR_NOSERVER,
                  "%d of %d groups failed (%s); see marshal_client_legs()", failed,
                  applied + failed,
                  first_err != MARSHAL_OK ? marshal_strerror(first_err) : "error reply");
    }
    for (m = 0; m < cl->n; m++) {
        freeReplyObject(rep[m]);
    }
    free((void *)sub);
    free(sublen);
    c->last_conn = NULL;
    return out;
}

/*
 * Run one formatted command on striped cluster t: a command whose keys all
 * land in one group runs on that group's target; MGET, MSET, DEL, UNLINK,
 * EXISTS and TOUCH spanning groups are split (run_split).  a and e are the
 * command's arguments and table entry (mc_cluster_prepare).
 */
redisReply *
mc_stripe_run(marshal_target *t, const char *cmd, size_t len, const struct mc_cmd *e,
              const struct mc_argv *a)
{
    marshal_client *c = t->c;
    int pos_stack[MC_ARGV_STACK], *pos = pos_stack, member_stack[MC_ARGV_STACK];
    int *member = member_stack, nkeys, i, first, same = 1;
    enum mc_split_kind kind;
    redisReply *rep = NULL;
    struct mc_leg *l;

    if (e != NULL && (mc_name_eq(a->argv[0], a->argvlen[0], "multi") ||
                      mc_name_eq(a->argv[0], a->argvlen[0], "watch") ||
                      mc_name_eq(a->argv[0], a->argvlen[0], "exec") ||
                      mc_name_eq(a->argv[0], a->argvlen[0], "discard"))) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED,
                  "transactions on a cluster target: open the group's target instead");
        goto out;
    }
    nkeys = e != NULL ? mc_cmd_keys(e, a->argc, a->argv, a->argvlen, pos, MC_ARGV_STACK) : -1;
    if (nkeys > MC_ARGV_STACK) {
        pos = malloc((size_t)nkeys * sizeof(*pos));
        member = malloc((size_t)nkeys * sizeof(*member));
        if (pos == NULL || member == NULL) {
            mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
            goto out;
        }
        nkeys = mc_cmd_keys(e, a->argc, a->argv, a->argvlen, pos, nkeys);
    }
    if (nkeys < 0) {
        mc_seterr(c, e == NULL ? MARSHAL_ERR_UNSUPPORTED : MARSHAL_ERR_INVAL,
                  e == NULL ? "unknown command: its keys cannot be placed"
                            : "cannot find the keys of this command (wrong arguments?)");
        goto out;
    }
    if (nkeys == 0) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED,
                  "a command without keys has no place in a cluster: send it to a group target");
        goto out;
    }
    for (i = 0; i < nkeys; i++) {
        member[i] = mc_cluster_place(t, a->argv[pos[i]], a->argvlen[pos[i]]);
        if (member[i] < 0) {
            mc_seterr(c, MARSHAL_ERR_NOSERVER, "cluster \"%s\" has no group to place keys on",
                      t->name);
            goto out;
        }
        same &= member[i] == member[0];
    }
    first = member[0];
    if (same) {
        l = mc_leg_add(c, t->cl->member[first], nkeys);
        rep = mc_run(t->cl->member[first], cmd, len);
        mc_leg_done(c, l, rep != NULL ? MARSHAL_OK : c->errcode);
        goto out;
    }
    kind = mc_split_kind_of(a);
    if (kind == MC_SPLIT_NONE) {
        mc_seterr(c, MARSHAL_ERR_CROSSGROUP,
                  "keys of this command map to different groups of \"%s\" (use a hash tag)",
                  t->name);
        goto out;
    }
    rep = run_split(t, a, kind, member);

out:
    if (pos != pos_stack) {
        free(pos);
    }
    if (member != member_stack) {
        free(member);
    }
    return rep;
}


/* ---- pipelines and any-target calls ------------------------------------------------------ */

/*
 * Append a pipelined command whose keys all land in one group to that
 * group's pipeline; *sub receives the group target.  Split commands are not
 * pipelined (CROSSGROUP).
 */
static int
stripe_append(marshal_target *t, const char *cmd, size_t len, marshal_target **sub)
{
    marshal_client *c = t->c;
    struct mc_argv a;
    const struct mc_cmd *e;
    int pos[MC_ARGV_STACK], nkeys, i, m = -1, rc;

    *sub = NULL;
    rc = mc_cluster_refresh(t);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    if (t->cl->rule != MSHM_RULE_MARSHAL0) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED,
                  "pipelines on a mirrored target (marshal1/marshal10): use marshal_command");
        return MARSHAL_ERR_UNSUPPORTED;
    }
    rc = mc_argv_parse(cmd, len, &a);
    if (rc != 0) {
        mc_seterr(c, rc == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL, "malformed command");
        return rc == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL;
    }
    e = mc_cmd_resolve(a.argc, a.argv, a.argvlen);
    nkeys = e != NULL ? mc_cmd_keys(e, a.argc, a.argv, a.argvlen, pos, MC_ARGV_STACK) : -1;
    rc = MARSHAL_OK;
    if (nkeys <= 0 || nkeys > MC_ARGV_STACK) {
        rc = nkeys == 0 || e == NULL ? MARSHAL_ERR_UNSUPPORTED : MARSHAL_ERR_INVAL;
        mc_seterr(c, rc, "a pipelined cluster command needs 1..%d keys that can be placed",
                  MC_ARGV_STACK);
    }
    for (i = 0; rc == MARSHAL_OK && i < nkeys; i++) {
        int k = mc_cluster_place(t, a.argv[pos[i]], a.argvlen[pos[i]]);

        if (k < 0 || (m >= 0 && k != m)) {
            rc = k < 0 ? MARSHAL_ERR_NOSERVER : MARSHAL_ERR_CROSSGROUP;
            mc_seterr(c, rc, k < 0 ? "no group to place keys on"
                                   : "keys map to different groups: a pipelined command is "
                                     "not split (use marshal_command)");
        }
        m = k;
    }
    mc_argv_free(&a);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    rc = mc_append_formatted(t->cl->member[m], cmd, len);
    if (rc == MARSHAL_OK) {
        *sub = t->cl->member[m];
    }
    return rc;
}

/* A cluster target's pipelined command: queued in its group's pipeline. */
static int
append_cluster(marshal_target *t, const char *cmd, size_t len)
{
    marshal_target *sub;
    struct mc_pend *e;
    int rc;

    mc_clearerr(t->c);
    rc = mc_pend_grow(t);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    rc = stripe_append(t, cmd, len, &sub);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    e = &t->pend[(t->pend_head + t->pend_len) % t->pend_cap];
    memset(e, 0, sizeof(*e));
    e->sub = sub;
    t->pend_len++;
    t->unflushed = 1;
    return MARSHAL_OK;
}

int
mc_append_any(marshal_target *t, const char *cmd, size_t len)
{
    return t->cl != NULL ? append_cluster(t, cmd, len) : mc_append_formatted(t, cmd, len);
}

redisReply *
mc_run_any(marshal_target *t, const char *cmd, size_t len)
{
    const struct mc_cmd *e;
    struct mc_argv a;
    redisReply *rep;

    if (t->cl == NULL) {
        return mc_run(t, cmd, len);
    }
    if (mc_cluster_prepare(t, cmd, len, &a, &e) != MARSHAL_OK) {
        return NULL;
    }
    if (t->cl->rule != MSHM_RULE_MARSHAL0) {
        mc_seterr(t->c, MARSHAL_ERR_UNSUPPORTED, "a mirrored target inside a mirror");
        rep = NULL;
    } else {
        rep = mc_stripe_run(t, cmd, len, e, &a);
    }
    mc_argv_free(&a);
    return rep;
}

int
mc_append_argv(marshal_target *t, int argc, const char **argv, const size_t *argvlen)
{
    char *cmd = NULL;
    int len, rc;

    if (t == NULL || argc < 1 || argv == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0 || cmd == NULL) {
        mc_seterr(t->c, MARSHAL_ERR_NOMEM, "cannot format command");
        return MARSHAL_ERR_NOMEM;
    }
    rc = mc_append_any(t, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

