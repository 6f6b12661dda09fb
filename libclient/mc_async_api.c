/*
 * mc_async_api.c -- the asynchronous command calls (include/marshal/async.h):
 * format, classify, and hand the request to the top of the async front end
 * (mc_acl_submit: a group's request engine, or the split/mirror layer for a
 * cluster or farm).  Nothing below this file calls it.
 */
#include <stdarg.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "mc_async.h"
#include "mc_outcome.h"

/* Accept one formatted command; takes cmd (hiredis-formatted, malloc'd) in all cases. */
static int
accept_cmd(marshal_target *t, marshal_async_fn fn, void *priv, char *cmd, size_t len)
{
    marshal_async *a = t->c->async;
    struct mc_areq *q;
    int cls, sp;

    if (a != NULL && a->closing) {
        redisFreeCommand(cmd);
        return MARSHAL_ERR_CLOSED;      /* from a callback run by (or after) the close */
    }
    if (a == NULL || !a->has_loop) {
        redisFreeCommand(cmd);
        return MARSHAL_ERR_INVAL;
    }
    if (mc_classify(t->c, cmd, len, &cls, &sp) != 0) {
        mc_seterr(t->c, MARSHAL_ERR_INVAL, "malformed command");
        redisFreeCommand(cmd);
        return MARSHAL_ERR_INVAL;
    }
    if (sp == MC_SP_UNSUPPORTED) {
        mc_seterr(t->c, MARSHAL_ERR_UNSUPPORTED, "command not routable by marshal");
        redisFreeCommand(cmd);
        return MARSHAL_ERR_UNSUPPORTED;
    }
    q = mc_areq_take(a, t, cmd, len);
    if (q == NULL) {
        redisFreeCommand(cmd);
        return MARSHAL_ERR_NOMEM;
    }
    q->cls = cls;
    q->sp = sp;
    q->fn = fn;
    q->priv = priv;
    a->st.commands++;
    a->st.in_flight++;
    a->in_api++;
    mc_acl_submit(q);
    a->in_api--;
    return MARSHAL_OK;
}

MARSHAL_API int
marshal_async_vcommand(marshal_target *t, marshal_async_fn fn, void *privdata, const char *format,
                       va_list ap)
{
    char *cmd = NULL;
    int len;

    if (t == NULL || format == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    len = redisvFormatCommand(&cmd, format, ap);
    if (len < 0 || cmd == NULL) {
        return len == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL;
    }
    return accept_cmd(t, fn, privdata, cmd, (size_t)len);
}

MARSHAL_API int
marshal_async_command(marshal_target *t, marshal_async_fn fn, void *privdata, const char *format,
                      ...)
{
    va_list ap;
    int rc;

    va_start(ap, format);
    rc = marshal_async_vcommand(t, fn, privdata, format, ap);
    va_end(ap);
    return rc;
}

MARSHAL_API int
marshal_async_command_argv(marshal_target *t, marshal_async_fn fn, void *privdata, int argc,
                           const char **argv, const size_t *argvlen)
{
    char *cmd = NULL;
    int len;

    if (t == NULL || argc < 1 || argv == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0 || cmd == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    return accept_cmd(t, fn, privdata, cmd, (size_t)len);
}
