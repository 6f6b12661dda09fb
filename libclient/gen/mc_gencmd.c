/*
 * mc_gencmd.c -- marshal-gencmd: writes libclient/mc_commands_gen.c, the
 * command table of libmarshal-shm, from a live redis-server's COMMAND reply.
 *
 *   marshal-gencmd [-h host] [-p port] [-o out.c]
 *
 * Redis 7 describes every command as a 10-field array: name, arity, flags,
 * first key, last key, step, ACL categories, tips, key specifications and
 * subcommands (each of the same shape, named "parent|sub").  We check the
 * shape of every field (a server that answers anything unexpected makes us
 * exit 1 with the path to the offending field), sort the commands by name
 * and each container's subcommands after it, and emit constant tables (see
 * mc_commands.h): the entries, their key specs, and an open-addressing hash
 * table over the top-level names built with the same mc_cmd_hash() the
 * runtime probes with.
 *
 * The output depends only on the server's COMMAND reply and redis_version:
 * no host, port or time goes into it, so two runs against the same server
 * version give byte-identical files (tests/client/commands_live.sh checks
 * the committed file that way).  With -o a regular file is written to a
 * temporary name and renamed into place, so a failed run leaves the old file
 * intact; anything else that exists (/dev/stdout, a FIFO) is written to.
 *
 * Regenerate the committed table:
 *   redis-server --port 6390 --save '' --appendonly no &
 *   marshal-gencmd -p 6390 -o libclient/mc_commands_gen.c
 * or `bash tests/client/commands_live.sh --regen ...` which does both.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "mc_commands.h"

/* A key spec while parsing (the generated struct mc_keyspec). */
struct gen_spec {
    uint16_t flags;    /* MC_KS_* */
    uint8_t bs_type;   /* enum mc_ks_bs */
    uint8_t fk_type;   /* enum mc_ks_fk */
    char *keyword;     /* KEYWORD: owned copy */
    long bs_index;     /* INDEX */
    long bs_startfrom; /* KEYWORD */
    long fk_lastkey;   /* RANGE */
    long fk_step;      /* RANGE, KEYNUM */
    long fk_limit;     /* RANGE */
    long fk_keynumidx; /* KEYNUM */
    long fk_firstkey;  /* KEYNUM */
};

/* A command or subcommand while parsing. */
struct gen_cmd {
    char *name;              /* lowercase, owned */
    size_t name_len;         /* strlen(name) */
    long arity;              /* COMMAND field 1 */
    uint32_t flags;          /* MC_CMD_* from flags and tips */
    long first, last, step;  /* fields 3..5 */
    struct gen_spec *specs;  /* field 8, owned */
    size_t n_specs;          /* entries in specs */
    struct gen_cmd *subs;    /* field 9, owned, sorted */
    size_t n_subs;           /* entries in subs */
    size_t index;            /* position in the output table */
};

/* A name and the bit it maps to. */
struct name_bit {
    const char *name; /* as COMMAND spells it */
    uint32_t bit;     /* MC_CMD_* or MC_KS_* */
    const char *sym;  /* the macro's name, for the output */
};

static const struct name_bit cmd_flag_names[] = {
    {"readonly", MC_CMD_READONLY, "MC_CMD_READONLY"},
    {"write", MC_CMD_WRITE, "MC_CMD_WRITE"},
    {"movablekeys", MC_CMD_MOVABLEKEYS, "MC_CMD_MOVABLEKEYS"},
    {"admin", MC_CMD_ADMIN, "MC_CMD_ADMIN"},
    {"pubsub", MC_CMD_PUBSUB, "MC_CMD_PUBSUB"},
    {"noscript", MC_CMD_NOSCRIPT, "MC_CMD_NOSCRIPT"},
    {"blocking", MC_CMD_BLOCKING, "MC_CMD_BLOCKING"},
    {"denyoom", MC_CMD_DENYOOM, "MC_CMD_DENYOOM"},
    {"no_multi", MC_CMD_NO_MULTI, "MC_CMD_NO_MULTI"},
    {"loading", MC_CMD_LOADING, "MC_CMD_LOADING"},
    {"stale", MC_CMD_STALE, "MC_CMD_STALE"},
    {"fast", MC_CMD_FAST, "MC_CMD_FAST"},
    {"no_mandatory_keys", MC_CMD_NO_MANDATORY_KEYS, "MC_CMD_NO_MANDATORY_KEYS"},
    {"skip_monitor", MC_CMD_SKIP_MONITOR, "MC_CMD_SKIP_MONITOR"},
    {"skip_slowlog", MC_CMD_SKIP_SLOWLOG, "MC_CMD_SKIP_SLOWLOG"},
    {"asking", MC_CMD_ASKING, "MC_CMD_ASKING"},
    {"no_auth", MC_CMD_NO_AUTH, "MC_CMD_NO_AUTH"},
    {"allow_busy", MC_CMD_ALLOW_BUSY, "MC_CMD_ALLOW_BUSY"},
    {"no_async_loading", MC_CMD_NO_ASYNC_LOADING, "MC_CMD_NO_ASYNC_LOADING"},
    {"module", MC_CMD_MODULE, "MC_CMD_MODULE"},
    {NULL, 0, NULL}
};

/* Bits the generator derives (output spelling only). */
static const struct name_bit cmd_derived_names[] = {
    {"", MC_CMD_CONTAINER, "MC_CMD_CONTAINER"},
    {"", MC_CMD_NONDETERMINISTIC, "MC_CMD_NONDETERMINISTIC"},
    {"", MC_CMD_NONDET_ORDER, "MC_CMD_NONDET_ORDER"},
    {"", MC_CMD_SUBCOMMAND, "MC_CMD_SUBCOMMAND"},
    {NULL, 0, NULL}
};

static const struct name_bit ks_flag_names[] = {
    {"RO", MC_KS_RO, "MC_KS_RO"},
    {"RW", MC_KS_RW, "MC_KS_RW"},
    {"OW", MC_KS_OW, "MC_KS_OW"},
    {"RM", MC_KS_RM, "MC_KS_RM"},
    {"access", MC_KS_ACCESS, "MC_KS_ACCESS"},
    {"update", MC_KS_UPDATE, "MC_KS_UPDATE"},
    {"insert", MC_KS_INSERT, "MC_KS_INSERT"},
    {"delete", MC_KS_DELETE, "MC_KS_DELETE"},
    {"not_key", MC_KS_NOT_KEY, "MC_KS_NOT_KEY"},
    {"incomplete", MC_KS_INCOMPLETE, "MC_KS_INCOMPLETE"},
    {"variable_flags", MC_KS_VARIABLE_FLAGS, "MC_KS_VARIABLE_FLAGS"},
    {NULL, 0, NULL}
};

/* Where in the reply we are, for error messages ("command 'sort': key spec 2: ..."). */
static char where[256];
static size_t where_len; /* strlen(where) */

/* Append to where; returns the length to go back to with where_pop(). */
static size_t
where_push(const char *fmt, ...)
{
    size_t old = where_len;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(where + old, sizeof(where) - old, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    where_len = old + (size_t)n < sizeof(where) ? old + (size_t)n : sizeof(where) - 1;
    return old;
}

static void
where_pop(size_t len)
{
    where_len = len;
    where[len] = '\0';
}

/* Print "marshal-gencmd: <where>: <msg>" and return -1. */
static int
perr(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "marshal-gencmd: %s%s", where, where[0] ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static const char *
type_name(int type)
{
    switch (type) {
    case REDIS_REPLY_STRING: return "bulk string";
    case REDIS_REPLY_ARRAY: return "array";
    case REDIS_REPLY_INTEGER: return "integer";
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_STATUS: return "status";
    case REDIS_REPLY_ERROR: return "error";
    default: return "unknown reply type";
    }
}

/* Is r a string (bulk or status) without NUL bytes? */
static int
is_str(const redisReply *r)
{
    return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           r->str != NULL && strlen(r->str) == r->len;
}

static int
want_str(const redisReply *r, const char *what)
{
    if (!is_str(r))
        return perr("%s: expected a string, got %s", what, r ? type_name(r->type) : "nothing");
    return 0;
}

static int
want_array(const redisReply *r, const char *what)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return perr("%s: expected an array, got %s", what, r ? type_name(r->type) : "nothing");
    return 0;
}

/* An integer field that must fit in int16_t (every position and count does). */
static int
want_int16(const redisReply *r, const char *what, long *out)
{
    if (r == NULL || r->type != REDIS_REPLY_INTEGER)
        return perr("%s: expected an integer, got %s", what, r ? type_name(r->type) : "nothing");
    if (r->integer < INT16_MIN || r->integer > INT16_MAX)
        return perr("%s: %lld is out of range", what, r->integer);
    *out = (long)r->integer;
    return 0;
}

/*
 * A RESP2 "map" (an array of alternating field names and values): the value
 * of field key, or NULL.  An odd length or a non-string name is an error
 * (*bad set).  Unknown fields are ignored (COMMAND may grow "notes" and the
 * like); missing required ones are reported by the caller.
 */
static const redisReply *
map_get(const redisReply *map, const char *key, int *bad)
{
    size_t i;

    if (map->elements % 2 != 0) {
        perr("expected field/value pairs, got %zu elements", map->elements);
        *bad = 1;
        return NULL;
    }
    for (i = 0; i < map->elements; i += 2) {
        if (!is_str(map->element[i])) {
            perr("field name %zu is not a string", i / 2);
            *bad = 1;
            return NULL;
        }
        if (strcmp(map->element[i]->str, key) == 0)
            return map->element[i + 1];
    }
    return NULL;
}

/* A required map field of type int16. */
static int
map_int16(const redisReply *map, const char *key, long *out)
{
    int bad = 0;
    const redisReply *v = map_get(map, key, &bad);

    if (bad)
        return -1;
    if (v == NULL)
        return perr("missing field '%s'", key);
    return want_int16(v, key, out);
}

/* Map an array of flag names to bits; an unknown name is an error. */
static int
parse_flags(const redisReply *arr, const struct name_bit *names, const char *what, uint32_t *out)
{
    size_t i, j;

    if (want_array(arr, what) < 0)
        return -1;
    for (i = 0; i < arr->elements; i++) {
        if (want_str(arr->element[i], what) < 0)
            return -1;
        for (j = 0; names[j].name != NULL; j++)
            if (strcmp(names[j].name, arr->element[i]->str) == 0)
                break;
        if (names[j].name == NULL)
            return perr("%s: unknown flag '%s' (teach marshal-gencmd and mc_commands.h about it)",
                        what, arr->element[i]->str);
        *out |= names[j].bit;
    }
    return 0;
}

/* The "type"/"spec" pair of a begin_search or find_keys field. */
static int
type_and_spec(const redisReply *v, const char *what, const char **type, const redisReply **spec)
{
    int bad = 0;
    const redisReply *t;

    if (want_array(v, what) < 0)
        return -1;
    t = map_get(v, "type", &bad);
    if (bad)
        return -1;
    if (t == NULL)
        return perr("%s: missing field 'type'", what);
    if (want_str(t, what) < 0)
        return -1;
    *spec = map_get(v, "spec", &bad);
    if (bad)
        return -1;
    if (*spec == NULL)
        return perr("%s: missing field 'spec'", what);
    if (want_array(*spec, what) < 0)
        return -1;
    *type = t->str;
    return 0;
}

static int
parse_spec(const redisReply *r, struct gen_spec *s)
{
    const redisReply *v, *spec;
    const char *type;
    uint32_t flags = 0;
    int bad = 0;

    memset(s, 0, sizeof(*s));
    if (want_array(r, "key spec") < 0)
        return -1;

    v = map_get(r, "flags", &bad);
    if (bad)
        return -1;
    if (v == NULL)
        return perr("missing field 'flags'");
    if (parse_flags(v, ks_flag_names, "flags", &flags) < 0)
        return -1;
    s->flags = (uint16_t)flags;

    v = map_get(r, "begin_search", &bad);
    if (bad)
        return -1;
    if (v == NULL)
        return perr("missing field 'begin_search'");
    if (type_and_spec(v, "begin_search", &type, &spec) < 0)
        return -1;
    if (strcmp(type, "index") == 0) {
        s->bs_type = MC_KS_BS_INDEX;
        if (map_int16(spec, "index", &s->bs_index) < 0)
            return -1;
    } else if (strcmp(type, "keyword") == 0) {
        const redisReply *kw;

        s->bs_type = MC_KS_BS_KEYWORD;
        kw = map_get(spec, "keyword", &bad);
        if (bad)
            return -1;
        if (kw == NULL)
            return perr("begin_search: missing field 'keyword'");
        if (want_str(kw, "keyword") < 0)
            return -1;
        if (kw->len == 0 || kw->len > 255)
            return perr("begin_search: keyword length %zu", kw->len);
        s->keyword = strdup(kw->str);
        if (s->keyword == NULL)
            return perr("out of memory");
        if (map_int16(spec, "startfrom", &s->bs_startfrom) < 0)
            return -1;
    } else if (strcmp(type, "unknown") == 0) {
        s->bs_type = MC_KS_BS_UNKNOWN;
    } else {
        return perr("begin_search: unknown type '%s'", type);
    }

    v = map_get(r, "find_keys", &bad);
    if (bad)
        return -1;
    if (v == NULL)
        return perr("missing field 'find_keys'");
    if (type_and_spec(v, "find_keys", &type, &spec) < 0)
        return -1;
    if (strcmp(type, "range") == 0) {
        s->fk_type = MC_KS_FK_RANGE;
        if (map_int16(spec, "lastkey", &s->fk_lastkey) < 0 ||
            map_int16(spec, "keystep", &s->fk_step) < 0 ||
            map_int16(spec, "limit", &s->fk_limit) < 0)
            return -1;
    } else if (strcmp(type, "keynum") == 0) {
        s->fk_type = MC_KS_FK_KEYNUM;
        if (map_int16(spec, "keynumidx", &s->fk_keynumidx) < 0 ||
            map_int16(spec, "firstkey", &s->fk_firstkey) < 0 ||
            map_int16(spec, "keystep", &s->fk_step) < 0)
            return -1;
    } else if (strcmp(type, "unknown") == 0) {
        s->fk_type = MC_KS_FK_UNKNOWN;
    } else {
        return perr("find_keys: unknown type '%s'", type);
    }
    if (s->fk_type != MC_KS_FK_UNKNOWN && s->fk_step <= 0)
        return perr("find_keys: keystep %ld is not positive", s->fk_step);
    if (s->fk_type == MC_KS_FK_RANGE && s->fk_limit < 0)
        return perr("find_keys: limit %ld is negative", s->fk_limit);
    return 0;
}

static int
cmd_cmp(const void *a, const void *b)
{
    const struct gen_cmd *x = a, *y = b;

    /* bytewise (strcmp on lowercase ASCII): no locale can reorder the output */
    return strcmp(x->name, y->name);
}

/* Parse one COMMAND entry; parent is NULL for a top-level command. */
static int
parse_cmd(const redisReply *r, const struct gen_cmd *parent, struct gen_cmd *c)
{
    const redisReply *f;
    size_t i, saved = where_len;
    int rc = -1;

    memset(c, 0, sizeof(*c));
    if (want_array(r, "command entry") < 0)
        return -1;
    if (r->elements < 10)
        return perr("command entry has %zu fields, need 10 (redis-server >= 7.0)", r->elements);

    if (want_str(r->element[0], "name") < 0)
        return -1;
    if (r->element[0]->len == 0 || r->element[0]->len > 200)
        return perr("command name length %zu", r->element[0]->len);
    c->name = strdup(r->element[0]->str);
    if (c->name == NULL)
        return perr("out of memory");
    c->name_len = r->element[0]->len;
    for (i = 0; i < c->name_len; i++) {
        unsigned char ch = (unsigned char)c->name[i];

        if (ch >= 'A' && ch <= 'Z')
            c->name[i] = (char)(ch + 32);
        else if (ch <= ' ' || ch >= 0x7f)
            return perr("command name '%s' has byte 0x%02x", c->name, ch);
    }
    where_push("%scommand '%s'", saved ? ": " : "", c->name);

    if (parent != NULL) {
        if (c->name_len <= parent->name_len + 1 ||
            memcmp(c->name, parent->name, parent->name_len) != 0 ||
            c->name[parent->name_len] != '|')
            goto fail_msg_sub;
        c->flags |= MC_CMD_SUBCOMMAND;
    } else if (strchr(c->name, '|') != NULL) {
        perr("a top-level name with '|'");
        goto out;
    }

    if (want_int16(r->element[1], "arity", &c->arity) < 0)
        goto out;
    if (c->arity == 0) {
        perr("arity 0");
        goto out;
    }
    if (parse_flags(r->element[2], cmd_flag_names, "flags", &c->flags) < 0)
        goto out;
    if (want_int16(r->element[3], "first key", &c->first) < 0 ||
        want_int16(r->element[4], "last key", &c->last) < 0 ||
        want_int16(r->element[5], "step", &c->step) < 0)
        goto out;
    if (want_array(r->element[6], "ACL categories") < 0)
        goto out;

    /* tips: free-form strings; two of them matter to mirroring */
    f = r->element[7];
    if (want_array(f, "tips") < 0)
        goto out;
    for (i = 0; i < f->elements; i++) {
        if (want_str(f->element[i], "tips") < 0)
            goto out;
        if (strcmp(f->element[i]->str, "nondeterministic_output") == 0)
            c->flags |= MC_CMD_NONDETERMINISTIC;
        else if (strcmp(f->element[i]->str, "nondeterministic_output_order") == 0)
            c->flags |= MC_CMD_NONDET_ORDER;
    }

    f = r->element[8];
    if (want_array(f, "key specs") < 0)
        goto out;
    if (f->elements > 0) {
        c->specs = calloc(f->elements, sizeof(*c->specs));
        if (c->specs == NULL) {
            perr("out of memory");
            goto out;
        }
    }
    for (i = 0; i < f->elements; i++) {
        size_t inner = where_push(": key spec %zu", i);

        c->n_specs = i + 1;
        if (parse_spec(f->element[i], &c->specs[i]) < 0)
            goto out;
        where_pop(inner);
    }

    f = r->element[9];
    if (f->type == REDIS_REPLY_NIL) {
        /* a subcommand reports none */
    } else if (want_array(f, "subcommands") < 0) {
        goto out;
    } else if (f->elements > 0) {
        if (parent != NULL) {
            perr("subcommands of a subcommand");
            goto out;
        }
        c->subs = calloc(f->elements, sizeof(*c->subs));
        if (c->subs == NULL) {
            perr("out of memory");
            goto out;
        }
        for (i = 0; i < f->elements; i++) {
            c->n_subs = i + 1;
            if (parse_cmd(f->element[i], c, &c->subs[i]) < 0)
                goto out;
        }
        qsort(c->subs, c->n_subs, sizeof(*c->subs), cmd_cmp);
        for (i = 1; i < c->n_subs; i++)
            if (strcmp(c->subs[i - 1].name, c->subs[i].name) == 0) {
                perr("duplicate subcommand '%s'", c->subs[i].name);
                goto out;
            }
        c->flags |= MC_CMD_CONTAINER;
    }
    rc = 0;
    goto out;

fail_msg_sub:
    perr("subcommand name does not start with '%s|'", parent->name);
out:
    where_pop(saved);
    return rc;
}

static void
free_cmd(struct gen_cmd *c)
{
    size_t i;

    for (i = 0; i < c->n_specs; i++)
        free(c->specs[i].keyword);
    free(c->specs);
    for (i = 0; i < c->n_subs; i++)
        free_cmd(&c->subs[i]);
    free(c->subs);
    free(c->name);
}

/* ---- output --------------------------------------------------------------- */

/* A C string literal of s (printable ASCII as is, the rest octal-escaped). */
static void
put_cstr(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch >= ' ' && ch < 0x7f && ch != '?') /* '?': no trigraphs */
            fputc(ch, out);
        else
            fprintf(out, "\\%03o", ch);
    }
    fputc('"', out);
}

static void
put_bits(FILE *out, uint32_t bits, const struct name_bit *a, const struct name_bit *b)
{
    const struct name_bit *t[2] = {a, b};
    int any = 0, k;
    size_t j;

    /* in bit order, so the spelling does not depend on the tables' order */
    for (uint32_t bit = 1; bit != 0; bit <<= 1) {
        if (!(bits & bit))
            continue;
        for (k = 0; k < 2; k++)
            for (j = 0; t[k] != NULL && t[k][j].name != NULL; j++)
                if (t[k][j].bit == bit) {
                    fprintf(out, "%s%s", any ? " | " : "", t[k][j].sym);
                    any = 1;
                }
    }
    if (!any)
        fputs("0", out);
}

/* Every entry in output order: each top-level command, then its subcommands. */
struct flat {
    struct gen_cmd **v; /* entries */
    size_t n;           /* used */
};

static int
emit(FILE *out, const char *version, struct gen_cmd *cmds, size_t ncmds)
{
    struct flat fl = {NULL, 0};
    size_t total = 0, nspecs = 0, i, j, slots, probe_max = 0, probe_sum = 0;
    uint16_t *hash = NULL;
    size_t maxlen = 0;
    int rc = -1;

    for (i = 0; i < ncmds; i++)
        total += 1 + cmds[i].n_subs;
    if (total >= MC_CMD_HASH_EMPTY)
        return perr("%zu commands: the table indexes are 16 bits", total);
    fl.v = calloc(total, sizeof(*fl.v));
    if (fl.v == NULL)
        return perr("out of memory");
    for (i = 0; i < ncmds; i++) {
        cmds[i].index = fl.n;
        fl.v[fl.n++] = &cmds[i];
        for (j = 0; j < cmds[i].n_subs; j++) {
            cmds[i].subs[j].index = fl.n;
            fl.v[fl.n++] = &cmds[i].subs[j];
        }
        if (cmds[i].name_len > maxlen)
            maxlen = cmds[i].name_len;
    }
    for (i = 0; i < total; i++)
        nspecs += fl.v[i]->n_specs;
    if (nspecs >= UINT16_MAX) {
        perr("%zu key specs: the table indexes are 16 bits", nspecs);
        goto out;
    }

    /* the hash table: at least 4 slots a name, a power of two */
    for (slots = 16; slots < 4 * ncmds; slots *= 2)
        ;
    hash = malloc(slots * sizeof(*hash));
    if (hash == NULL) {
        perr("out of memory");
        goto out;
    }
    for (i = 0; i < slots; i++)
        hash[i] = MC_CMD_HASH_EMPTY;
    for (i = 0; i < ncmds; i++) {
        size_t h = mc_cmd_hash(cmds[i].name, cmds[i].name_len) & (slots - 1), probes = 1;

        while (hash[h] != MC_CMD_HASH_EMPTY) {
            h = (h + 1) & (slots - 1);
            probes++;
        }
        hash[h] = (uint16_t)cmds[i].index;
        probe_sum += probes;
        if (probes > probe_max)
            probe_max = probes;
    }

    fprintf(out,
            "/*\n"
            " * mc_commands_gen.c -- the Redis command table of libmarshal-shm.\n"
            " *\n"
            " * GENERATED by marshal-gencmd from redis-server %s COMMAND output; do not edit.\n"
            " * Regenerate with libclient/gen/mc_gencmd.c (see there); mc_commands.h describes\n"
            " * the tables, tests/client/commands_live.sh checks them against a live server.\n"
            " *\n"
            " * %zu commands, %zu subcommands, %zu key specs; hash table of %zu slots over\n"
            " * the commands, at most %zu probes (%zu.%02zu on average).\n"
            " */\n"
            "#include \"mc_commands.h\"\n"
            "\n"
            "const char mc_cmd_gen_version[] = ",
            version, ncmds, total - ncmds, nspecs, slots, probe_max,
            probe_sum / ncmds, (probe_sum * 100 / ncmds) % 100);
    put_cstr(out, version);
    fputs(";\n\n", out);

    /* key specs, in entry order */
    fputs("const struct mc_keyspec mc_keyspec_table[] = {\n", out);
    nspecs = 0;
    for (i = 0; i < total; i++) {
        const struct gen_cmd *c = fl.v[i];

        for (j = 0; j < c->n_specs; j++) {
            const struct gen_spec *s = &c->specs[j];

            fprintf(out, "    /* %zu: %s */\n    {.flags = ", nspecs++, c->name);
            put_bits(out, s->flags, ks_flag_names, NULL);
            switch (s->bs_type) {
            case MC_KS_BS_INDEX:
                fprintf(out, ",\n     .bs_type = MC_KS_BS_INDEX, .bs_index = %ld", s->bs_index);
                break;
            case MC_KS_BS_KEYWORD:
                fputs(",\n     .bs_type = MC_KS_BS_KEYWORD, .keyword = ", out);
                put_cstr(out, s->keyword);
                fprintf(out, ", .keyword_len = %zu, .bs_startfrom = %ld", strlen(s->keyword),
                        s->bs_startfrom);
                break;
            default:
                fputs(",\n     .bs_type = MC_KS_BS_UNKNOWN", out);
                break;
            }
            switch (s->fk_type) {
            case MC_KS_FK_RANGE:
                fprintf(out,
                        ",\n     .fk_type = MC_KS_FK_RANGE, .fk_lastkey = %ld, .fk_step = %ld,"
                        " .fk_limit = %ld},\n",
                        s->fk_lastkey, s->fk_step, s->fk_limit);
                break;
            case MC_KS_FK_KEYNUM:
                fprintf(out,
                        ",\n     .fk_type = MC_KS_FK_KEYNUM, .fk_keynumidx = %ld,"
                        " .fk_firstkey = %ld, .fk_step = %ld},\n",
                        s->fk_keynumidx, s->fk_firstkey, s->fk_step);
                break;
            default:
                fputs(",\n     .fk_type = MC_KS_FK_UNKNOWN},\n", out);
                break;
            }
        }
    }
    if (nspecs == 0)
        fputs("    {.flags = 0} /* placeholder: C has no empty arrays */\n", out);
    fprintf(out, "};\n\nconst size_t mc_keyspec_table_len = %zu;\n\n", nspecs);

    /* the entries */
    fputs("const struct mc_cmd mc_cmd_table[] = {\n", out);
    nspecs = 0;
    for (i = 0; i < total; i++) {
        const struct gen_cmd *c = fl.v[i];

        fprintf(out, "    /* %zu */\n    {.name = ", i);
        put_cstr(out, c->name);
        fprintf(out, ", .name_len = %zu, .arity = %ld,\n     .flags = ", c->name_len, c->arity);
        put_bits(out, c->flags, cmd_flag_names, cmd_derived_names);
        fprintf(out,
                ",\n     .first = %ld, .last = %ld, .step = %ld, .spec_first = %zu, .n_specs = %zu,"
                " .sub_first = %zu, .n_subs = %zu},\n",
                c->first, c->last, c->step, c->n_specs ? nspecs : 0, c->n_specs,
                c->n_subs ? c->subs[0].index : 0, c->n_subs);
        nspecs += c->n_specs;
    }
    fprintf(out, "};\n\nconst size_t mc_cmd_table_len = %zu;\n\n", total);

    fprintf(out,
            "/* open addressing, linear probing; slot = mc_cmd_hash(name) & mask */\n"
            "const uint32_t mc_cmd_hash_mask = %zu;\n"
            "const uint16_t mc_cmd_max_name_len = %zu;\n"
            "const uint16_t mc_cmd_hash_slots[%zu] = {\n",
            slots - 1, maxlen, slots);
    for (i = 0; i < slots; i++) {
        if (i % 10 == 0)
            fputs("   ", out);
        if (hash[i] == MC_CMD_HASH_EMPTY)
            fputs(" 0xffff,", out);
        else
            fprintf(out, " %6u,", (unsigned)hash[i]);
        if (i % 10 == 9 || i + 1 == slots)
            fputc('\n', out);
    }
    fputs("};\n", out);
    rc = 0;
out:
    free(hash);
    free(fl.v);
    return rc;
}

/* ---- the server ---------------------------------------------------------- */

static redisReply *
command(redisContext *c, const char *cmd)
{
    redisReply *r = redisCommand(c, cmd);

    if (r == NULL) {
        perr("%s: %s", cmd, c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        perr("%s: server error: %s", cmd, r->str ? r->str : "");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* redis_version from INFO server into buf. */
static int
server_version(redisContext *c, char *buf, size_t bufsz)
{
    redisReply *r = command(c, "INFO server");
    const char *p;
    size_t n;
    int rc = -1;

    if (r == NULL)
        return -1;
    if (want_str(r, "INFO server") < 0)
        goto out;
    p = strstr(r->str, "redis_version:");
    if (p == NULL || (p != r->str && p[-1] != '\n')) {
        perr("INFO server has no redis_version");
        goto out;
    }
    p += strlen("redis_version:");
    n = strspn(p, "0123456789.");
    if (n == 0 || n >= bufsz || (p[n] != '\r' && p[n] != '\n')) {
        perr("INFO server: malformed redis_version");
        goto out;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    rc = 0;
out:
    freeReplyObject(r);
    return rc;
}

static void
usage(FILE *f)
{
    fputs("usage: marshal-gencmd [-h host] [-p port] [-o out.c]\n"
          "Writes the libmarshal-shm command table (C source) from a live redis-server's\n"
          "COMMAND reply; to stdout without -o.  Default 127.0.0.1:6379.\n",
          f);
}

int
main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *outpath = NULL, *outname = "stdout";
    long port = 6379;
    struct timeval tv = {5, 0};
    redisContext *rc_ctx = NULL;
    redisReply *r = NULL;
    struct gen_cmd *cmds = NULL;
    size_t ncmds = 0, i;
    char version[64], *tmp = NULL, *end;
    FILE *out = stdout;
    struct stat st;
    int opt, status = 1;

    while ((opt = getopt(argc, argv, "h:p:o:")) != -1) {
        switch (opt) {
        case 'h':
            host = optarg;
            break;
        case 'p':
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
                fprintf(stderr, "marshal-gencmd: bad port '%s'\n", optarg);
                return 2;
            }
            break;
        case 'o':
            outpath = optarg;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    rc_ctx = redisConnectWithTimeout(host, (int)port, tv);
    if (rc_ctx == NULL || rc_ctx->err) {
        fprintf(stderr, "marshal-gencmd: connect %s:%ld: %s\n", host, port,
                rc_ctx ? rc_ctx->errstr : "out of memory");
        goto out;
    }
    if (redisSetTimeout(rc_ctx, tv) != REDIS_OK) {
        fprintf(stderr, "marshal-gencmd: cannot set the socket timeout\n");
        goto out;
    }
    if (server_version(rc_ctx, version, sizeof(version)) < 0)
        goto out;

    r = command(rc_ctx, "COMMAND");
    if (r == NULL)
        goto out;
    where_push("COMMAND reply");
    if (want_array(r, "top level") < 0)
        goto out;
    if (r->elements == 0) {
        perr("no commands");
        goto out;
    }
    cmds = calloc(r->elements, sizeof(*cmds));
    if (cmds == NULL) {
        perr("out of memory");
        goto out;
    }
    for (i = 0; i < r->elements; i++) {
        ncmds = i + 1;
        if (parse_cmd(r->element[i], NULL, &cmds[i]) < 0)
            goto out;
    }
    qsort(cmds, ncmds, sizeof(*cmds), cmd_cmp);
    for (i = 1; i < ncmds; i++)
        if (strcmp(cmds[i - 1].name, cmds[i].name) == 0) {
            perr("duplicate command '%s'", cmds[i].name);
            goto out;
        }
    where_pop(0);

    if (outpath != NULL && stat(outpath, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or FIFO (/dev/stdout): write to it, never rename over it */
        outname = outpath;
        outpath = NULL;
        out = fopen(outname, "w");
        if (out == NULL) {
            perr("%s: %s", outname, strerror(errno));
            goto out;
        }
    } else if (outpath != NULL) {
        size_t n = strlen(outpath) + 32;

        tmp = malloc(n);
        if (tmp == NULL) {
            perr("out of memory");
            goto out;
        }
        snprintf(tmp, n, "%s.tmp.%ld", outpath, (long)getpid());
        outname = tmp;
        out = fopen(tmp, "w");
        if (out == NULL) {
            perr("%s: %s", tmp, strerror(errno));
            goto out;
        }
    }
    if (emit(out, version, cmds, ncmds) < 0)
        goto out;
    if (fflush(out) != 0 || ferror(out)) {
        perr("write %s: %s", outname, strerror(errno));
        goto out;
    }
    if (out != stdout) {
        FILE *f = out;

        out = stdout;
        if (fclose(f) != 0) {
            perr("write %s: %s", outname, strerror(errno));
            goto out;
        }
    }
    if (outpath != NULL) {
        if (rename(tmp, outpath) != 0) {
            perr("rename %s -> %s: %s", tmp, outpath, strerror(errno));
            goto out;
        }
        free(tmp);
        tmp = NULL;
    }
    status = 0;
out:
    if (out != NULL && out != stdout)
        fclose(out);
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    for (i = 0; i < ncmds; i++)
        free_cmd(&cmds[i]);
    free(cmds);
    if (r != NULL)
        freeReplyObject(r);
    if (rc_ctx != NULL)
        redisFree(rc_ctx);
    return status;
}
