/*
 * mc_outcome.c -- classify replies into applied / not applied / unknown.
 *
 * The error prefixes are those of Redis 7.0 (server.c processCommand,
 * acl.c, cluster.c, script.c): each is returned by processCommand or the
 * ACL check before the command's implementation runs.
 */
#include <string.h>

#include "marshal/marshal.h"
#include "mc_outcome.h"

/* Error codes raised before execution (first word of the error reply). */
static const char *const pre_exec[] = {
    "READONLY",     /* write against a read-only replica                    */
    "MASTERDOWN",   /* replica-serve-stale-data no and the link is down      */
    "LOADING",      /* dataset being loaded                                  */
    "NOREPLICAS",   /* min-replicas-to-write not met                         */
    "BUSY",         /* a script or function is running                       */
    "NOAUTH",       /* authentication required                               */
    "WRONGPASS",    /* bad credentials                                       */
    "NOPERM",       /* ACL denies the command or key                         */
    "MISCONF",      /* RDB snapshot failing: writes refused                  */
    "NOSCRIPT",     /* EVALSHA of an unknown script                          */
    "EXECABORT",    /* transaction discarded because of earlier errors       */
    "CROSSSLOT",    /* cluster-mode checks                                   */
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MOVED",
    "ASK",
    NULL
};

int
mc_error_pre_exec(const char *str, size_t len)
{
    size_t i, n;

    if (str == NULL) {
        return 0;
    }
    for (i = 0; pre_exec[i] != NULL; i++) {
        n = strlen(pre_exec[i]);
        if (len >= n && memcmp(str, pre_exec[i], n) == 0 && (len == n || str[n] == ' ')) {
            return 1;
        }
    }
    return 0;
}

int
mc_reply_outcome(const redisReply *r, int special)
{
    if (r == NULL) {
        return MARSHAL_OUTCOME_UNKNOWN;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (mc_error_pre_exec(r->str, r->len)) {
            return MARSHAL_OUTCOME_NOT_APPLIED;
        }
        return special == MC_SP_SCRIPT ? MARSHAL_OUTCOME_UNKNOWN : MARSHAL_OUTCOME_NOT_APPLIED;
    }
    if (special == MC_SP_EXEC && r->type == REDIS_REPLY_NIL) {
        return MARSHAL_OUTCOME_NOT_APPLIED;
    }
    return MARSHAL_OUTCOME_APPLIED;
}

static int
prefix(const redisReply *r, const char *p)
{
    size_t n = strlen(p);

    return r->len >= n && memcmp(r->str, p, n) == 0 && (r->len == n || r->str[n] == ' ');
}

int
mc_reply_retryable(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL &&
           (prefix(r, "READONLY") || prefix(r, "MASTERDOWN") || prefix(r, "LOADING"));
}

int
mc_reply_verdict(const redisReply *r, int is_read, int from_master, int can_retry)
{
    if (!can_retry || !mc_reply_retryable(r)) {
        return MC_V_DONE;
    }
    return is_read && !from_master ? MC_V_RETRY : MC_V_PARK;
}

int
mc_loss_verdict(int sent, int is_read, int read_retried, int protocol, int can_retry)
{
    if (!can_retry) {
        return MC_V_DONE;
    }
    if (!sent) {
        return MC_V_PARK;
    }
    return is_read && !read_retried && !protocol ? MC_V_RETRY : MC_V_DONE;
}
