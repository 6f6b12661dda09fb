/*
 * mc_split.c -- multi-group commands without I/O: argument parsing, split
 * plans, reply merge, mirror refusals (see mc_split.h).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "mc_commands.h"
#include "mc_split.h"
#include "mshm_layout.h"

/* ---- arguments -------------------------------------------------------------------------- */

void
mc_argv_free(struct mc_argv *a)
{
    if (a->argv != a->sargv) {
        free((void *)a->argv);
        free(a->argvlen);
    }
}

/* Parse every argument of a RESP array (hiredis-formatted: well formed). */
int
mc_argv_parse(const char *b, size_t len, struct mc_argv *a)
{
    const char *p = b, *end = b + len;
    unsigned long v;
    int i;

    a->argv = a->sargv;
    a->argvlen = a->slen;
    a->argc = 0;
    if (len < 4 || *p != '*') {
        return -1;
    }
    for (v = 0, p++; p < end && *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 1000000000UL) {
            return -1;
        }
    }
    if (p + 2 > end || v < 1) {
        return -1;
    }
    p += 2;
    if (v > MC_ARGV_STACK) {
        a->argv = malloc(v * sizeof(*a->argv));
        a->argvlen = malloc(v * sizeof(*a->argvlen));
        if (a->argv == NULL || a->argvlen == NULL) {
            free((void *)a->argv);
            free(a->argvlen);
            a->argv = a->sargv;
            a->argvlen = a->slen;
            return -2;
        }
    }
    for (i = 0; i < (int)v; i++) {
        unsigned long l = 0;

        if (p >= end || *p != '$') {
            mc_argv_free(a);
            return -1;
        }
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
            l = l * 10 + (unsigned long)(*p - '0');
            if (l > 1000000000UL) {
                mc_argv_free(a);
                return -1;
            }
        }
        if (p + 2 > end || (size_t)(end - p - 2) < l + 2) {
            mc_argv_free(a);
            return -1;
        }
        p += 2;
        a->argv[i] = p;
        a->argvlen[i] = l;
        p += l + 2;
    }
    a->argc = (int)v;
    return 0;
}

/* ---- split commands ------------------------------------------------------------------------ */


int
mc_name_eq(const char *s, size_t n, const char *lower)
{
    size_t i;

    if (strlen(lower) != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char ch = s[i];

        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (ch != lower[i]) {
            return 0;
        }
    }
    return 1;
}

enum mc_split_kind
mc_split_kind_of(const struct mc_argv *a)
{
    const char *n = a->argv[0];
    size_t l = a->argvlen[0];

    if (mc_name_eq(n, l, "mget")) {
        return MC_SPLIT_MGET;
    }
    if (mc_name_eq(n, l, "mset")) {
        return (a->argc % 2) == 1 ? MC_SPLIT_MSET : MC_SPLIT_NONE;
    }
    if (mc_name_eq(n, l, "del") || mc_name_eq(n, l, "unlink") || mc_name_eq(n, l, "exists") ||
        mc_name_eq(n, l, "touch")) {
        return MC_SPLIT_SUM;
    }
    return MC_SPLIT_NONE;
}

int
mc_split_leg_argv(const struct mc_argv *a, int kind, const int *member, int m, const char **sub,
                  size_t *sublen)
{
    int step = kind == MC_SPLIT_MSET ? 2 : 1, nk = (a->argc - 1) / step, i, n = 1;

    sub[0] = a->argv[0];
    sublen[0] = a->argvlen[0];
    for (i = 0; i < nk; i++) {
        if (member[i] != m) {
            continue;
        }
        sub[n] = a->argv[1 + i * step];
        sublen[n++] = a->argvlen[1 + i * step];
        if (step == 2) {
            sub[n] = a->argv[2 + i * step];
            sublen[n++] = a->argvlen[2 + i * step];
        }
    }
    return n;
}

static redisReply *
new_reply(int type)
{
    redisReply *r = calloc(1, sizeof(*r));

    if (r != NULL) {
        r->type = type;
    }
    return r;
}

redisReply *
mc_split_merge(int kind, int nk, const int *leg_of_key, redisReply **rep, int nrep)
{
    redisReply *out = NULL;
    long long sum = 0;
    int i;

    if (kind == MC_SPLIT_MGET) {
        size_t pos[MSHM_CLUSTER_MEMBERS] = {0};

        out = new_reply(REDIS_REPLY_ARRAY);
        if (out != NULL && nk > 0) {
            out->element = calloc((size_t)nk, sizeof(*out->element));
            out->elements = out->element != NULL ? (size_t)nk : 0;
        }
        for (i = 0; out != NULL && out->element != NULL && i < nk; i++) {
            redisReply *r = rep[leg_of_key[i]];

            if (r != NULL && r->type == REDIS_REPLY_ARRAY && pos[leg_of_key[i]] < r->elements) {
                out->element[i] = r->element[pos[leg_of_key[i]]];
                r->element[pos[leg_of_key[i]]++] = NULL;
            }
        }
    } else if (kind == MC_SPLIT_MSET) {
        out = new_reply(REDIS_REPLY_STATUS);
        if (out != NULL) {
            out->str = strdup("OK");
            out->len = 2;
        }
    } else {
        for (i = 0; i < nrep; i++) {
            if (rep[i] != NULL && rep[i]->type == REDIS_REPLY_INTEGER) {
                sum += rep[i]->integer;
            }
        }
        out = new_reply(REDIS_REPLY_INTEGER);
        if (out != NULL) {
            out->integer = sum;
        }
    }
    return out;
}

/* ---- mirror refusals ---------------------------------------------------------------------- */


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
const char *
mc_mirror_refused(const struct mc_cmd *e, const struct mc_argv *a)
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
