/*
 * test_commands.c -- the command table of libmarshal-shm (libclient/
 * mc_commands.{h,c} over the generated mc_commands_gen.c): lookup, routing
 * classes, subcommand resolution, key positions (Redis 7.0's key-spec
 * algorithm and its getkeys fallbacks) and the integrity of the generated
 * tables (every entry reachable, the hash table consistent).
 *
 * The expected positions here are what COMMAND GETKEYS answers on
 * redis-server 7.0.15; tests/client/commands_live.sh asks a live server the
 * same questions.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mc_commands.h"

#define MAXARGS 32

/* A command line split on spaces; '' is an empty argument. */
struct line {
    char buf[512];               /* the arguments, NUL-separated */
    const char *argv[MAXARGS];   /* into buf */
    size_t argvlen[MAXARGS];     /* lengths */
    int argc;                    /* arguments */
};

static void
split(struct line *l, const char *text)
{
    char *p;

    assert_true(strlen(text) < sizeof(l->buf));
    strcpy(l->buf, text);
    l->argc = 0;
    for (p = strtok(l->buf, " "); p != NULL; p = strtok(NULL, " ")) {
        assert_true(l->argc < MAXARGS);
        if (strcmp(p, "''") == 0)
            *p = '\0';
        l->argv[l->argc] = p;
        l->argvlen[l->argc] = strlen(p);
        l->argc++;
    }
}

/* mc_cmd_keys() of a command line (resolved first); positions into pos. */
static int
keys_of(const char *text, int *pos, int maxpos)
{
    struct line l;
    const struct mc_cmd *cmd;

    split(&l, text);
    cmd = mc_cmd_resolve(l.argc, l.argv, l.argvlen);
    assert_non_null(cmd);
    return mc_cmd_keys(cmd, l.argc, l.argv, l.argvlen, pos, maxpos);
}

/* Assert that text has exactly the n key positions that follow. */
static void
expect_keys(const char *text, int n, ...)
{
    int pos[MAXARGS], got, i;
    va_list ap;

    got = keys_of(text, pos, MAXARGS);
    if (got != n)
        fail_msg("%s: %d keys, expected %d", text, got, n);
    va_start(ap, n);
    for (i = 0; i < n; i++) {
        int want = va_arg(ap, int);

        if (pos[i] != want)
            fail_msg("%s: key %d at position %d, expected %d", text, i, pos[i], want);
    }
    va_end(ap);
}

static const struct mc_cmd *
resolve(const char *text)
{
    struct line l;

    split(&l, text);
    return mc_cmd_resolve(l.argc, l.argv, l.argvlen);
}

static const struct mc_cmd *
lookup(const char *name)
{
    return mc_cmd_lookup(name, strlen(name));
}

/* ---- lookup ---------------------------------------------------------------- */

static void
test_lookup_case(void **state)
{
    const struct mc_cmd *get = lookup("get");

    (void)state;
    assert_non_null(get);
    assert_string_equal(get->name, "get");
    assert_int_equal(get->name_len, 3);
    assert_int_equal(get->arity, 2);
    assert_ptr_equal(lookup("GET"), get);
    assert_ptr_equal(lookup("GeT"), get);
    assert_ptr_equal(lookup("gEt"), get);
    /* the length counts, not a NUL */
    assert_ptr_equal(mc_cmd_lookup("getrange", 3), get);
    assert_ptr_equal(lookup("ZRANGEBYSCORE"), lookup("zrangebyscore"));
    assert_string_equal(lookup("ZRangeByScore")->name, "zrangebyscore");
    assert_string_equal(lookup("CLIENT")->name, "client");
}

static void
test_lookup_unknown(void **state)
{
    char big[4096];

    (void)state;
    assert_null(lookup("nosuchcommand"));
    assert_null(lookup("ge"));
    assert_null(lookup("gett"));
    assert_null(mc_cmd_lookup("get ", 4));
    assert_null(mc_cmd_lookup("get\0", 4));
    assert_null(mc_cmd_lookup("", 0));
    assert_null(mc_cmd_lookup(NULL, 3));
    /* only letters fold: "GET" is not "g\x05t" and so on */
    assert_null(lookup("g\x05t"));
    assert_null(lookup("G@T"));
    assert_null(lookup("[et"));
    /* subcommands are not top-level names */
    assert_null(lookup("config|get"));
    memset(big, 'a', sizeof(big));
    assert_null(mc_cmd_lookup(big, sizeof(big)));
    assert_int_equal(mc_cmd_class(NULL), MC_CLASS_WRITE);
    assert_null(resolve("nosuchcommand a b"));
    assert_null(mc_cmd_resolve(0, NULL, NULL));
}

/* ---- classes and flags ----------------------------------------------------- */

static void
test_classes(void **state)
{
    static const struct {
        const char *line;   /* resolved as a command line */
        enum mc_class want; /* its class */
    } cases[] = {
        {"get", MC_CLASS_READ},        {"mget", MC_CLASS_READ},
        {"exists", MC_CLASS_READ},     {"hgetall", MC_CLASS_READ},
        {"zrange", MC_CLASS_READ},     {"zrangebyscore", MC_CLASS_READ},
        {"xrange", MC_CLASS_READ},     {"scan", MC_CLASS_READ},
        {"eval_ro", MC_CLASS_READ},    {"evalsha_ro", MC_CLASS_READ},
        {"fcall_ro", MC_CLASS_READ},   {"sort_ro", MC_CLASS_READ},
        {"georadius_ro", MC_CLASS_READ},
        {"object encoding", MC_CLASS_READ},
        {"xinfo stream", MC_CLASS_READ}, {"memory usage", MC_CLASS_READ},
        {"ping", MC_CLASS_WRITE},      /* neither readonly nor write */
        {"echo", MC_CLASS_WRITE},      {"set", MC_CLASS_WRITE},
        {"del", MC_CLASS_WRITE},       {"incr", MC_CLASS_WRITE},
        {"eval", MC_CLASS_WRITE},      {"evalsha", MC_CLASS_WRITE},
        {"fcall", MC_CLASS_WRITE},     {"publish", MC_CLASS_WRITE},
        {"sort", MC_CLASS_WRITE},      {"georadius", MC_CLASS_WRITE},
        {"xreadgroup", MC_CLASS_WRITE}, {"multi", MC_CLASS_WRITE},
        {"config get", MC_CLASS_WRITE}, {"config set", MC_CLASS_WRITE},
        {"config", MC_CLASS_WRITE},    {"object", MC_CLASS_WRITE},
        {"xinfo", MC_CLASS_WRITE},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct mc_cmd *c = resolve(cases[i].line);

        if (c == NULL)
            fail_msg("%s: unknown", cases[i].line);
        if (mc_cmd_class(c) != cases[i].want)
            fail_msg("%s: class %d, expected %d", cases[i].line, mc_cmd_class(c), cases[i].want);
    }
}

static void
test_flags(void **state)
{
    (void)state;
    assert_int_equal(lookup("get")->flags, MC_CMD_READONLY | MC_CMD_FAST);
    assert_true(lookup("blpop")->flags & MC_CMD_BLOCKING);
    assert_true(lookup("set")->flags & MC_CMD_DENYOOM);
    assert_true(lookup("eval")->flags & MC_CMD_NO_MANDATORY_KEYS);
    assert_true(lookup("eval")->flags & MC_CMD_MOVABLEKEYS);
    assert_true(lookup("subscribe")->flags & MC_CMD_PUBSUB);
    assert_true(lookup("multi")->flags & MC_CMD_NOSCRIPT);
    assert_true(lookup("flushall")->flags & MC_CMD_WRITE);
    assert_true(lookup("shutdown")->flags & MC_CMD_ADMIN);
    assert_true(lookup("shutdown")->flags & MC_CMD_NO_MULTI);
    assert_true(lookup("info")->flags & MC_CMD_LOADING);
    assert_true(lookup("info")->flags & MC_CMD_STALE);
    /* tips */
    assert_true(lookup("randomkey")->flags & MC_CMD_NONDETERMINISTIC);
    assert_true(lookup("spop")->flags & MC_CMD_NONDETERMINISTIC);
    assert_true(lookup("time")->flags & MC_CMD_NONDETERMINISTIC);
    assert_false(lookup("get")->flags & MC_CMD_NONDETERMINISTIC);
    assert_true(lookup("hgetall")->flags & MC_CMD_NONDET_ORDER);
    assert_false(lookup("hgetall")->flags & MC_CMD_NONDETERMINISTIC);
    assert_true(resolve("object encoding")->flags & MC_CMD_NONDETERMINISTIC);
    /* derived */
    assert_true(lookup("config")->flags & MC_CMD_CONTAINER);
    assert_false(lookup("config")->flags & MC_CMD_SUBCOMMAND);
    assert_true(resolve("config get")->flags & MC_CMD_SUBCOMMAND);
    assert_false(lookup("get")->flags & (MC_CMD_CONTAINER | MC_CMD_SUBCOMMAND));
    assert_string_equal(mc_cmd_server_version(), mc_cmd_gen_version);
    assert_true(strlen(mc_cmd_server_version()) >= 3);
}

/* ---- resolution -------------------------------------------------------------- */

static void
test_resolve(void **state)
{
    const struct mc_cmd *config = lookup("config");

    (void)state;
    assert_non_null(config);
    assert_string_equal(resolve("CONFIG GET maxmemory")->name, "config|get");
    assert_string_equal(resolve("config get maxmemory")->name, "config|get");
    assert_string_equal(resolve("Config gEt")->name, "config|get");
    assert_string_equal(resolve("config set a b")->name, "config|set");
    assert_string_equal(resolve("OBJECT ENCODING k")->name, "object|encoding");
    assert_string_equal(resolve("xinfo stream s")->name, "xinfo|stream");
    assert_string_equal(resolve("CLIENT KILL ID 1")->name, "client|kill");
    /* the container itself: alone, or with an unknown subcommand */
    assert_ptr_equal(resolve("config"), config);
    assert_ptr_equal(resolve("config nosuch"), config);
    assert_ptr_equal(resolve("config getx"), config);
    assert_ptr_equal(resolve("config ge"), config);
    assert_ptr_equal(resolve("config ''"), config);
    /* not a container: argv[1] is an argument */
    assert_string_equal(resolve("get encoding")->name, "get");
    assert_string_equal(resolve("GET")->name, "get");
}

/* ---- keys ---------------------------------------------------------------- */

static void
test_keys_simple(void **state)
{
    (void)state;
    expect_keys("GET k", 1, 1);
    expect_keys("get k", 1, 1);
    expect_keys("MSET a 1 b 2 c 3", 3, 1, 3, 5);
    expect_keys("MGET a b c", 3, 1, 2, 3);
    expect_keys("DEL a b", 2, 1, 2);
    expect_keys("LMOVE a b LEFT RIGHT", 2, 1, 2);
    expect_keys("BLPOP a b 0", 2, 1, 2);
    expect_keys("BLMOVE a b LEFT RIGHT 0", 2, 1, 2);
    expect_keys("RENAME a b", 2, 1, 2);
    expect_keys("SET k v", 1, 1);
    expect_keys("SET k v GET", 1, 1);           /* variable flags: setGetKeys */
    expect_keys("BITFIELD k GET u8 0", 1, 1);
    expect_keys("OBJECT ENCODING k", 1, 2);
    expect_keys("MEMORY USAGE k SAMPLES 5", 1, 2);
    expect_keys("XINFO STREAM s FULL", 1, 2);
    expect_keys("LCS a b", 2, 1, 2);
    /* MSET's range runs to the end, step 2: an odd tail still counts */
    expect_keys("MSET a 1 b", 2, 1, 3);
}

static void
test_keys_keynum(void **state)
{
    (void)state;
    expect_keys("EVAL s 2 k1 k2 a1", 2, 3, 4);
    expect_keys("EVALSHA sha 1 k a", 1, 3);
    expect_keys("FCALL f 1 k a", 1, 3);
    expect_keys("EVAL_RO s 1 k", 1, 3);
    expect_keys("EVAL s 0", 0);                 /* no-mandatory-keys: keyless */
    expect_keys("EVAL s 0 a b", 0);
    expect_keys("FCALL_RO f 0", 0);
    expect_keys("ZUNIONSTORE dst 2 a b WEIGHTS 1 2", 3, 1, 3, 4);
    expect_keys("ZINTERSTORE dst 1 a", 2, 1, 3);
    expect_keys("ZDIFF 2 a b", 2, 2, 3);
    expect_keys("ZINTERCARD 2 a b LIMIT 3", 2, 2, 3);
    expect_keys("SINTERCARD 1 a", 1, 2);
    expect_keys("LMPOP 2 a b LEFT", 2, 2, 3);
    expect_keys("BLMPOP 0 2 a b LEFT", 2, 3, 4);
    expect_keys("ZMPOP 1 a MIN", 1, 2);
    expect_keys("BZMPOP 0 1 a MIN", 1, 3);
}

static void
test_keys_keyword(void **state)
{
    (void)state;
    expect_keys("XREAD COUNT 2 STREAMS s1 s2 0 0", 2, 4, 5);
    expect_keys("XREAD STREAMS s 0", 1, 2);
    expect_keys("xread block 0 streams s 0", 1, 4);
    /* the spec (limit 2) rounds an odd rest down; Redis answers the same */
    expect_keys("XREAD STREAMS a b 0", 1, 2);
    expect_keys("XREADGROUP GROUP g c STREAMS s1 >", 1, 5);
    expect_keys("XREADGROUP GROUP g c COUNT 1 NOACK STREAMS s1 s2 > >", 2, 8, 9);
    expect_keys("GEORADIUS k 0 0 1 m STORE d", 2, 1, 7);
    expect_keys("GEORADIUS k 0 0 1 m STOREDIST d", 2, 1, 7);
    /* both: the specs find both (georadiusGetKeys would keep the last only) */
    expect_keys("GEORADIUS k 0 0 1 m STORE a STOREDIST b", 3, 1, 7, 9);
    expect_keys("GEORADIUS k 0 0 1 m", 1, 1);
    expect_keys("GEORADIUS k 0 0 1 m STORE", 1, 1);  /* a last keyword is never matched */
    expect_keys("GEORADIUSBYMEMBER k m 1 km STORE d", 2, 1, 6);
}

static void
test_keys_procs(void **state)
{
    (void)state;
    /* SORT: specs 2 and 3 are "unknown": sortGetKeys */
    expect_keys("SORT k", 1, 1);
    expect_keys("SORT k STORE dst", 2, 1, 3);
    expect_keys("sort k by w_* limit 0 10 get # get o_* desc alpha store dst", 2, 1, 14);
    expect_keys("SORT k STORE a STORE b", 2, 1, 5);  /* the last STORE wins */
    expect_keys("SORT k STORE", 1, 1);
    expect_keys("SORT k GET store x", 1, 1);        /* "store" is GET's argument */
    expect_keys("SORT k LIMIT store 1 x", 1, 1);
    expect_keys("SORT_RO k BY w_* GET #", 1, 1);
    /* MIGRATE: spec 2 (KEYS) is incomplete */
    expect_keys("MIGRATE h p '' 0 5000 KEYS a b", 2, 7, 8);
    expect_keys("MIGRATE h p '' 0 5000 COPY REPLACE KEYS a", 1, 9);
    expect_keys("MIGRATE h p k 0 5000", 1, 3);
    expect_keys("MIGRATE h p k 0 5000 COPY", 1, 3);
    expect_keys("MIGRATE h p k 0 5000 KEYS a b", -1);  /* KEYS needs key "": syntax error */
    expect_keys("MIGRATE h p '' 0 5000 AUTH keys KEYS a", 1, 9); /* a password "keys" */
    expect_keys("MIGRATE h p '' 0 5000 AUTH2 u keys KEYS a b", 2, 10, 11);
    expect_keys("MIGRATE h p '' 0 5000", 1, 3);        /* the key "" */
}

static void
test_keys_errors(void **state)
{
    int pos[4];
    struct line l;

    (void)state;
    /* arity */
    split(&l, "GET");
    assert_int_equal(mc_cmd_keys(lookup("get"), l.argc, l.argv, l.argvlen, pos, 4), -1);
    expect_keys("GET a b", -1);
    expect_keys("MSET a", -1);
    expect_keys("EVAL s", -1);
    expect_keys("OBJECT ENCODING", -1);
    expect_keys("CONFIG", -1);                  /* arity -2 */
    /* malformed numkeys */
    expect_keys("EVAL s x k", -1);
    expect_keys("EVAL s -1", -1);
    expect_keys("EVAL s 01 k", -1);
    expect_keys("EVAL s +1 k", -1);
    expect_keys("EVAL s 1.0 k", -1);
    expect_keys("EVAL s 2abc k1 k2", -1);
    expect_keys("EVAL s 3 k1 k2", -1);
    expect_keys("EVAL s 99999999999999999999999 k", -1);
    expect_keys("EVAL s 9223372036854775807 k", -1);
    expect_keys("EVAL s '' k", -1);
    /* no key where one is mandatory */
    expect_keys("ZUNIONSTORE dst 0 a", -1);
    expect_keys("ZUNION 0 a", -1);
    expect_keys("XREAD COUNT 1 x", -1);
    expect_keys("XREAD COUNT 1 STREAMS", -1);
    expect_keys("XREAD STREAMS a", -1);
    expect_keys("XREADGROUP GROUP g c COUNT 1 s", -1);
    /* bad arguments */
    split(&l, "GET k");
    assert_int_equal(mc_cmd_keys(NULL, l.argc, l.argv, l.argvlen, pos, 4), -1);
    assert_int_equal(mc_cmd_keys(lookup("get"), 0, l.argv, l.argvlen, pos, 4), -1);
    assert_int_equal(mc_cmd_keys(lookup("get"), l.argc, NULL, l.argvlen, pos, 4), -1);
    assert_int_equal(mc_cmd_keys(lookup("get"), l.argc, l.argv, NULL, pos, 4), -1);
    assert_int_equal(mc_cmd_keys(lookup("get"), l.argc, l.argv, l.argvlen, NULL, 4), -1);
    assert_int_equal(mc_cmd_keys(lookup("get"), l.argc, l.argv, l.argvlen, pos, -1), -1);
}

static void
test_keys_keyless(void **state)
{
    (void)state;
    expect_keys("PING", 0);
    expect_keys("PING hello", 0);
    expect_keys("CONFIG GET maxmemory", 0);
    expect_keys("CONFIG NOSUCH x", 0);
    expect_keys("PUBLISH ch msg", 0);
    expect_keys("SPUBLISH ch msg", 0);          /* a not_key spec: a channel */
    expect_keys("SSUBSCRIBE a b", 0);
    expect_keys("INFO", 0);
    expect_keys("SCAN 0 MATCH *", 0);
}

static void
test_keys_maxpos(void **state)
{
    int pos[3] = {-7, -7, -7};

    (void)state;
    /* the full count comes back; only maxpos positions are written */
    assert_int_equal(keys_of("MGET a b c", pos, 2), 3);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 2);
    assert_int_equal(pos[2], -7);
    assert_int_equal(keys_of("MGET a b c", NULL, 0), 3);
    assert_int_equal(keys_of("SORT k STORE d", pos, 1), 2);
    assert_int_equal(pos[0], 1);
    assert_int_equal(keys_of("MIGRATE h p '' 0 5000 KEYS a b c", pos, 3), 3);
    assert_int_equal(keys_of("EVAL s 0", NULL, 0), 0);
}

/* ---- the tables ---------------------------------------------------------- */

static void
test_table_roundtrip(void **state)
{
    size_t i, j, n = mc_cmd_count(), top = 0;

    (void)state;
    assert_true(n > 200);
    assert_int_equal(n, mc_cmd_table_len);
    assert_null(mc_cmd_at(n));
    assert_null(mc_keyspec_at(mc_keyspec_table_len));
    for (i = 0; i < n; i++) {
        const struct mc_cmd *c = mc_cmd_at(i);
        char upper[256];

        assert_non_null(c);
        assert_int_equal(strlen(c->name), c->name_len);
        assert_true(c->name_len < sizeof(upper));
        assert_true(c->arity != 0);
        assert_true((size_t)c->spec_first + c->n_specs <= mc_keyspec_table_len);
        for (j = 0; j < c->name_len; j++) {
            assert_false(c->name[j] >= 'A' && c->name[j] <= 'Z');
            upper[j] = (char)(c->name[j] >= 'a' && c->name[j] <= 'z' ? c->name[j] - 32
                                                                      : c->name[j]);
        }
        upper[c->name_len] = '\0';

        if (c->flags & MC_CMD_SUBCOMMAND) {
            const char *bar = strchr(c->name, '|');
            const char *argv[2];
            size_t argvlen[2];

            assert_non_null(bar);
            argv[0] = upper;
            argvlen[0] = (size_t)(bar - c->name);
            argv[1] = upper + argvlen[0] + 1;
            argvlen[1] = c->name_len - argvlen[0] - 1;
            assert_ptr_equal(mc_cmd_resolve(2, argv, argvlen), c);
            argv[0] = c->name;
            argv[1] = bar + 1;
            assert_ptr_equal(mc_cmd_resolve(2, argv, argvlen), c);
            assert_null(mc_cmd_lookup(c->name, c->name_len));
            assert_int_equal(c->n_subs, 0);
        } else {
            top++;
            assert_null(strchr(c->name, '|'));
            assert_ptr_equal(mc_cmd_lookup(c->name, c->name_len), c);
            assert_ptr_equal(mc_cmd_lookup(upper, c->name_len), c);
            assert_ptr_equal(mc_cmd_resolve(1, &c->name, (const size_t[]){c->name_len}), c);
            assert_int_equal(!!(c->flags & MC_CMD_CONTAINER), c->n_subs > 0);
            /* the subcommands follow their container, sorted */
            if (c->n_subs > 0)
                assert_int_equal(c->sub_first, i + 1);
            for (j = 0; j < c->n_subs; j++) {
                const struct mc_cmd *s = mc_cmd_at(c->sub_first + j);

                assert_non_null(s);
                assert_true(s->flags & MC_CMD_SUBCOMMAND);
                assert_int_equal(strncmp(s->name, c->name, c->name_len), 0);
                assert_int_equal(s->name[c->name_len], '|');
                if (j > 0)
                    assert_true(strcmp(mc_cmd_at(c->sub_first + j - 1)->name, s->name) < 0);
            }
        }
    }
    /* top-level names are sorted bytewise */
    for (i = 1, j = 0; i < n; i++) {
        if (mc_cmd_at(i)->flags & MC_CMD_SUBCOMMAND)
            continue;
        assert_true(strcmp(mc_cmd_at(j)->name, mc_cmd_at(i)->name) < 0);
        j = i;
    }
    assert_true(top > 200);
}

static void
test_hash_table(void **state)
{
    size_t slots = (size_t)mc_cmd_hash_mask + 1, i, used = 0, top = 0;
    unsigned char seen[65536 / 8];

    (void)state;
    memset(seen, 0, sizeof(seen));
    assert_int_equal(slots & (slots - 1), 0); /* a power of two */
    for (i = 0; i < mc_cmd_count(); i++)
        if (!(mc_cmd_at(i)->flags & MC_CMD_SUBCOMMAND))
            top++;
    assert_true(slots >= 2 * top);
    for (i = 0; i < slots; i++) {
        uint16_t idx = mc_cmd_hash_slots[i];
        const struct mc_cmd *c;
        size_t h;

        if (idx == MC_CMD_HASH_EMPTY)
            continue;
        used++;
        c = mc_cmd_at(idx);
        assert_non_null(c);
        assert_false(c->flags & MC_CMD_SUBCOMMAND);
        assert_false(seen[idx / 8] & (1u << (idx % 8))); /* at most once */
        seen[idx / 8] |= (unsigned char)(1u << (idx % 8));
        assert_true(c->name_len <= mc_cmd_max_name_len);
        /* reachable: no empty slot between its home and here */
        for (h = mc_cmd_hash(c->name, c->name_len) & mc_cmd_hash_mask; h != i;
             h = (h + 1) & mc_cmd_hash_mask)
            assert_int_not_equal(mc_cmd_hash_slots[h], MC_CMD_HASH_EMPTY);
    }
    assert_int_equal(used, top); /* every top-level entry is in it */
    /* the hash folds ASCII letters only */
    assert_int_equal(mc_cmd_hash("GET", 3), mc_cmd_hash("get", 3));
    assert_int_equal(mc_cmd_hash("ZrAnGe", 6), mc_cmd_hash("zrange", 6));
    assert_int_not_equal(mc_cmd_hash("@", 1), mc_cmd_hash("`", 1));
    assert_int_not_equal(mc_cmd_hash("[", 1), mc_cmd_hash("{", 1));
}

static void
test_keyspecs(void **state)
{
    const struct mc_cmd *xread = lookup("xread"), *eval = lookup("eval"), *sort = lookup("sort");
    const struct mc_keyspec *s;
    size_t i;

    (void)state;
    assert_int_equal(xread->n_specs, 1);
    s = mc_keyspec_at(xread->spec_first);
    assert_int_equal(s->bs_type, MC_KS_BS_KEYWORD);
    assert_string_equal(s->keyword, "STREAMS");
    assert_int_equal(s->keyword_len, 7);
    assert_int_equal(s->bs_startfrom, 1);
    assert_int_equal(s->fk_type, MC_KS_FK_RANGE);
    assert_int_equal(s->fk_lastkey, -1);
    assert_int_equal(s->fk_limit, 2);
    assert_int_equal(s->flags, MC_KS_RO | MC_KS_ACCESS);

    s = mc_keyspec_at(eval->spec_first);
    assert_int_equal(s->bs_type, MC_KS_BS_INDEX);
    assert_int_equal(s->bs_index, 2);
    assert_int_equal(s->fk_type, MC_KS_FK_KEYNUM);
    assert_int_equal(s->fk_keynumidx, 0);
    assert_int_equal(s->fk_firstkey, 1);
    assert_int_equal(s->fk_step, 1);

    assert_int_equal(sort->n_specs, 3);
    assert_int_equal(mc_keyspec_at(sort->spec_first + 2)->bs_type, MC_KS_BS_UNKNOWN);
    assert_int_equal(mc_keyspec_at(sort->spec_first + 2)->fk_type, MC_KS_FK_UNKNOWN);
    assert_true(mc_keyspec_at(lookup("migrate")->spec_first + 1)->flags & MC_KS_INCOMPLETE);
    assert_true(mc_keyspec_at(lookup("set")->spec_first)->flags & MC_KS_VARIABLE_FLAGS);
    assert_true(mc_keyspec_at(lookup("spublish")->spec_first)->flags & MC_KS_NOT_KEY);

    for (i = 0; i < mc_keyspec_table_len; i++) {
        s = mc_keyspec_at(i);
        assert_int_equal(s->keyword != NULL, s->bs_type == MC_KS_BS_KEYWORD);
        if (s->keyword != NULL)
            assert_int_equal(strlen(s->keyword), s->keyword_len);
        if (s->fk_type != MC_KS_FK_UNKNOWN)
            assert_true(s->fk_step > 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_case),
        cmocka_unit_test(test_lookup_unknown),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_keys_simple),
        cmocka_unit_test(test_keys_keynum),
        cmocka_unit_test(test_keys_keyword),
        cmocka_unit_test(test_keys_procs),
        cmocka_unit_test(test_keys_errors),
        cmocka_unit_test(test_keys_keyless),
        cmocka_unit_test(test_keys_maxpos),
        cmocka_unit_test(test_table_roundtrip),
        cmocka_unit_test(test_hash_table),
        cmocka_unit_test(test_keyspecs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
