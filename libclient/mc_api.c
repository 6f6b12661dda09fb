/*
 * mc_api.c -- the blocking API's command and pipeline entry points.
 *
 * The top of the blocking front end: format the command once (hiredis),
 * then hand it to the executor of the target's kind -- a group (mc_command.c),
 * a striped cluster (mc_stripe.c) or a mirrored cluster or farm
 * (mc_mirror.c).  Nothing below calls back up into these functions.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "mc_exec.h"
#include "mc_internal.h"

/* Count a command that ended, by its outcome. */
static void
count(marshal_client *c)
{
    c->st.commands++;
    switch (c->outcome) {
    case MARSHAL_OUTCOME_APPLIED:     c->st.applied++; break;
    case MARSHAL_OUTCOME_UNKNOWN:     c->st.unknown++; break;
    case MARSHAL_OUTCOME_PARTIAL:     c->st.partial++; break;
    default:                          c->st.not_applied++; break;
    }
}

/* One formatted command on any target: the executor of its kind. */
static redisReply *
exec_any(marshal_target *t, const char *cmd, size_t len)
{
    const struct mc_cmd *e;
    struct mc_argv a;
    redisReply *rep;

    if (t->cl == NULL) {
        rep = mc_run(t, cmd, len);
        t->c->n_legs = 0;
        return rep;
    }
    if (mc_cluster_prepare(t, cmd, len, &a, &e) != MARSHAL_OK) {
        return NULL;
    }
    if (t->cl->rule == MSHM_RULE_MARSHAL1 || t->cl->rule == MSHM_RULE_MARSHAL10) {
        rep = mc_mirror_run(t, cmd, len, e, &a);
    } else {
        rep = mc_stripe_run(t, cmd, len, e, &a);
    }
    mc_argv_free(&a);
    return rep;
}

MARSHAL_API redisReply *
marshal_vcommand(marshal_target *t, const char *format, va_list ap)
{
    char *cmd = NULL;
    redisReply *rep;
    int len;

    if (t == NULL || format == NULL) {
        return NULL;
    }
    len = redisvFormatCommand(&cmd, format, ap);
    if (len < 0 || cmd == NULL) {
        t->c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
        t->c->last_conn = NULL;
        mc_seterr(t->c, len == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL,
                  "cannot format command \"%.40s\"", format);
        return NULL;
    }
    rep = exec_any(t, cmd, (size_t)len);
    redisFreeCommand(cmd);
    count(t->c);
    return rep;
}

MARSHAL_API redisReply *
marshal_command(marshal_target *t, const char *format, ...)
{
    redisReply *rep;
    va_list ap;

    va_start(ap, format);
    rep = marshal_vcommand(t, format, ap);
    va_end(ap);
    return rep;
}

MARSHAL_API redisReply *
marshal_command_argv(marshal_target *t, int argc, const char **argv, const size_t *argvlen)
{
    char *cmd = NULL;
    redisReply *rep;
    int len;

    if (t == NULL) {
        return NULL;
    }
    if (argc < 1 || argv == NULL) {
        t->c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
        t->c->last_conn = NULL;
        mc_seterr(t->c, MARSHAL_ERR_INVAL, "empty command");
        return NULL;
    }
    len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0 || cmd == NULL) {
        t->c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
        t->c->last_conn = NULL;
        mc_seterr(t->c, MARSHAL_ERR_NOMEM, "cannot format command");
        return NULL;
    }
    rep = exec_any(t, cmd, (size_t)len);
    redisFreeCommand(cmd);
    count(t->c);
    return rep;
}

MARSHAL_API int
marshal_vappend(marshal_target *t, const char *format, va_list ap)
{
    char *cmd = NULL;
    int len, rc;

    if (t == NULL || format == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    len = redisvFormatCommand(&cmd, format, ap);
    if (len < 0 || cmd == NULL) {
        mc_seterr(t->c, MARSHAL_ERR_INVAL, "cannot format command \"%.40s\"", format);
        return MARSHAL_ERR_INVAL;
    }
    rc = mc_append_any(t, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

MARSHAL_API int
marshal_append(marshal_target *t, const char *format, ...)
{
    va_list ap;
    int rc;

    va_start(ap, format);
    rc = marshal_vappend(t, format, ap);
    va_end(ap);
    return rc;
}

MARSHAL_API int
marshal_append_argv(marshal_target *t, int argc, const char **argv, const size_t *argvlen)
{
    return mc_append_argv(t, argc, argv, argvlen);
}

MARSHAL_API int
marshal_pending(const marshal_target *t)
{
    return t == NULL ? 0 : (int)t->pend_len;
}

MARSHAL_API int
marshal_get_reply(marshal_target *t, redisReply **reply)
{
    int had = t != NULL && t->pend_len > 0;
    int rc = mc_get_reply(t, reply);

    if (had) {
        count(t->c);
    }
    return rc;
}

MARSHAL_API void
marshal_client_stats_get(const marshal_client *c, marshal_client_stats *st)
{
    if (st == NULL) {
        return;
    }
    if (c == NULL) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = c->st;
}

