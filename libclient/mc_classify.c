/*
 * mc_classify.c -- what a formatted command is: its read/write class and
 * its MC_SP_* kind, from the table generated from Redis's COMMAND output.
 *
 * Part of the I/O-free routing core shared by the blocking front end
 * (mc_command.c) and the asynchronous one (mc_async.c): no sockets, no
 * segment access, only the per-client cache of classified names.
 */
#define _GNU_SOURCE
#include <string.h>

#include "mc_commands.h"
#include "mc_internal.h"
#include "mc_outcome.h"

#define MC_ARGS_MAX 4   /* argv entries parsed for classification */

/* Command name and first arguments, pointing into a RESP buffer. */
struct mc_args {
    int argc;                     /* total arguments                    */
    int n;                        /* parsed (<= MC_ARGS_MAX)            */
    const char *argv[MC_ARGS_MAX];
    size_t argvlen[MC_ARGS_MAX];
};

/* Parse "*N\r\n$L\r\n...": 0 or -1 when the buffer is not a RESP array. */
static int
parse_args(const char *b, size_t len, struct mc_args *a)
{
    const char *p = b, *end = b + len;
    long v;
    int i;

    a->argc = a->n = 0;
    if (len < 4 || *p != '*') {
        return -1;
    }
    for (v = 0, p++; p < end && *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > 1000000000L) {
            return -1;
        }
    }
    if (p + 2 > end || p[0] != '\r' || p[1] != '\n' || v < 1) {
        return -1;
    }
    p += 2;
    a->argc = (int)v;
    for (i = 0; i < a->argc && i < MC_ARGS_MAX; i++) {
        if (p >= end || *p != '$') {
            return -1;
        }
        for (v = 0, p++; p < end && *p >= '0' && *p <= '9'; p++) {
            v = v * 10 + (*p - '0');
            if (v > 1000000000L) {
                return -1;
            }
        }
        if (p + 2 > end || p[0] != '\r' || p[1] != '\n' || (size_t)(end - p - 2) < (size_t)v + 2) {
            return -1;
        }
        p += 2;
        a->argv[i] = p;
        a->argvlen[i] = (size_t)v;
        p += v + 2;
        a->n++;
    }
    return 0;
}

/* ---- special commands ------------------------------------------------------------------ */

static int
name_is(const struct mc_args *a, const char *lower)
{
    size_t i, n = strlen(lower);

    if (a->n < 1 || a->argvlen[0] != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char ch = a->argv[0][i];

        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (ch != lower[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * MC_SP_* of a command.  Only called for commands whose first letter can
 * start a special name, so the common GET/SET path does two compares.
 */
static int
special_of(const struct mc_args *a)
{
    static const char *const unsupported[] = {
        "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
        "sunsubscribe", "monitor", "select", "auth", "hello", "quit", "reset", "sync",
        "psync", NULL};
    int i;

    if (a->n < 1 || a->argvlen[0] < 4 || a->argvlen[0] > 12) {
        return MC_SP_NONE;
    }
    switch (a->argv[0][0] | 0x20) {
    case 'm':
        if (name_is(a, "multi")) {
            return MC_SP_MULTI;
        }
        break;
    case 'w':
        if (name_is(a, "watch")) {
            return MC_SP_WATCH;
        }
        break;
    case 'e':
        if (name_is(a, "exec")) {
            return MC_SP_EXEC;
        }
        if (name_is(a, "eval") || name_is(a, "evalsha") || name_is(a, "eval_ro") ||
            name_is(a, "evalsha_ro")) {
            return MC_SP_SCRIPT;
        }
        break;
    case 'f':
        if (name_is(a, "fcall") || name_is(a, "fcall_ro")) {
            return MC_SP_SCRIPT;
        }
        break;
    case 'd':
        if (name_is(a, "discard")) {
            return MC_SP_DISCARD;
        }
        break;
    case 'u':
        if (name_is(a, "unwatch")) {
            return MC_SP_UNWATCH;
        }
        break;
    default:
        break;
    }
    for (i = 0; unsupported[i] != NULL; i++) {
        if (name_is(a, unsupported[i])) {
            return MC_SP_UNSUPPORTED;
        }
    }
    return MC_SP_NONE;
}

/*
 * The command name of a hiredis-formatted buffer (array header, then the
 * first bulk string): 0 with *name and *nlen set, or -1.
 */
static int
first_arg(const char *b, size_t len, const char **name, size_t *nlen)
{
    const char *p = b + 1, *end = b + len;
    size_t v = 0;

    if (len < 4 || b[0] != '*') {
        return -1;
    }
    while (p < end && *p >= '0' && *p <= '9') {
        p++;
    }
    if (p + 3 > end || p[0] != '\r' || p[1] != '\n' || p[2] != '$' || p == b + 1) {
        return -1;
    }
    for (p += 3; p < end && *p >= '0' && *p <= '9' && v < 1000000; p++) {
        v = v * 10 + (size_t)(*p - '0');
    }
    if (p + 2 > end || p[0] != '\r' || p[1] != '\n' || (size_t)(end - p - 2) < v + 2 || v == 0) {
        return -1;
    }
    *name = p + 2;
    *nlen = v;
    return 0;
}

/*
 * Classify a formatted command.  Returns 0, or -1 (malformed) leaving cls
 * and sp unset.  A small per-client cache keyed by the name's exact bytes
 * answers repeated commands without the table lookup (containers, whose
 * class depends on the subcommand, are never cached).
 */
int
mc_classify(marshal_client *c, const char *cmd, size_t len, int *cls, int *sp)
{
    struct mc_args a;
    const struct mc_cmd *e;
    struct mc_cmd_cache *ce;
    const char *name;
    size_t nlen;

    if (first_arg(cmd, len, &name, &nlen) != 0) {
        return -1;
    }
    ce = &c->cmd_cache[(nlen ^ (unsigned char)name[0]) & (MC_CMD_CACHE - 1)];
    if (ce->len == nlen && memcmp(ce->name, name, nlen) == 0) {
        *cls = ce->cls;
        *sp = ce->sp;
        return 0;
    }
    if (parse_args(cmd, len, &a) != 0 || a.n < 1) {
        return -1;
    }
    e = mc_cmd_resolve(a.n, a.argv, a.argvlen);
    *cls = mc_cmd_class(e);
    *sp = special_of(&a);
    if (nlen <= sizeof(ce->name) && (e == NULL || !(e->flags & MC_CMD_CONTAINER))) {
        memcpy(ce->name, name, nlen);
        ce->len = (uint8_t)nlen;
        ce->cls = (uint8_t)*cls;
        ce->sp = (uint8_t)*sp;
    }
    return 0;
}

