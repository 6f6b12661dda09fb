/*
 * test_split.c -- unit tests of the I/O-free core of multi-group commands
 * (libclient/mc_split.c), shared by the blocking and the async front ends:
 * parsing a formatted command, the split kind, each leg's argv, the merge
 * of the legs' replies, and which writes a mirror refuses.  No server.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mc_commands.h"
#include "mc_split.h"

/* Parse argv built by hiredis's formatter into a. */
static char *
fmt(struct mc_argv *a, int argc, const char *const *argv)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, (const char **)argv, NULL);

    assert_true(len > 0);
    assert_int_equal(mc_argv_parse(cmd, (size_t)len, a), 0);
    return cmd;
}

static void
test_parse(void **state)
{
    const char *argv[] = {"MGET", "a", "", "key with spaces\r\n"};
    struct mc_argv a;
    char *cmd;
    int i;

    (void)state;
    cmd = fmt(&a, 4, argv);
    assert_int_equal(a.argc, 4);
    for (i = 0; i < 4; i++) {
        assert_int_equal(a.argvlen[i], strlen(argv[i]));
        assert_memory_equal(a.argv[i], argv[i], a.argvlen[i]);
    }
    mc_argv_free(&a);
    /* malformed and truncated buffers are refused, never read past */
    assert_int_equal(mc_argv_parse("garbage", 7, &a), -1);
    assert_int_equal(mc_argv_parse(cmd, strlen(cmd) - 3, &a), -1);
    assert_int_equal(mc_argv_parse("*2\r\n$3\r\nGET\r\n", 13, &a), -1);
    assert_int_equal(mc_argv_parse("*1\r\n$99\r\nGET\r\n", 14, &a), -1);
    redisFreeCommand(cmd);
}

/* More arguments than the stack arrays: the parser allocates. */
static void
test_parse_many(void **state)
{
    enum { N = MC_ARGV_STACK * 3 };
    const char *argv[N];
    char keys[N][8];
    struct mc_argv a;
    char *cmd;
    int i;

    (void)state;
    argv[0] = "DEL";
    for (i = 1; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        argv[i] = keys[i];
    }
    cmd = fmt(&a, N, argv);
    assert_int_equal(a.argc, N);
    assert_memory_equal(a.argv[N - 1], keys[N - 1], a.argvlen[N - 1]);
    mc_argv_free(&a);
    redisFreeCommand(cmd);
}

static void
test_kind(void **state)
{
    static const struct {
        const char *name;
        int kind;
    } cases[] = {
        {"MGET", MC_SPLIT_MGET}, {"mget", MC_SPLIT_MGET},   {"MSET", MC_SPLIT_MSET},
        {"DEL", MC_SPLIT_SUM},   {"unlink", MC_SPLIT_SUM},  {"EXISTS", MC_SPLIT_SUM},
        {"touch", MC_SPLIT_SUM}, {"MSETNX", MC_SPLIT_NONE}, {"SUNION", MC_SPLIT_NONE},
        {"GET", MC_SPLIT_NONE},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[] = {cases[i].name, "a", "b", "c", "d"};
        struct mc_argv a;
        char *cmd = fmt(&a, 5, argv);

        assert_int_equal(mc_split_kind_of(&a), cases[i].kind);
        mc_argv_free(&a);
        redisFreeCommand(cmd);
    }
}

static void
test_leg_argv(void **state)
{
    const char *mget[] = {"MGET", "k0", "k1", "k2", "k3"};
    const char *mset[] = {"MSET", "k0", "v0", "k1", "v1", "k2", "v2"};
    const int mget_member[] = {1, 0, 1, 2};         /* key i -> member */
    const int mset_member[] = {0, 1, 0};
    const char *sub[8];
    size_t sublen[8];
    struct mc_argv a;
    char *cmd;
    int n;

    (void)state;
    cmd = fmt(&a, 5, mget);
    n = mc_split_leg_argv(&a, MC_SPLIT_MGET, mget_member, 1, sub, sublen);
    assert_int_equal(n, 3);
    assert_memory_equal(sub[0], "MGET", 4);
    assert_memory_equal(sub[1], "k0", 2);
    assert_memory_equal(sub[2], "k2", 2);
    assert_int_equal(mc_split_leg_argv(&a, MC_SPLIT_MGET, mget_member, 2, sub, sublen), 2);
    assert_memory_equal(sub[1], "k3", 2);
    assert_int_equal(mc_split_leg_argv(&a, MC_SPLIT_MGET, mget_member, 3, sub, sublen), 1);
    mc_argv_free(&a);
    redisFreeCommand(cmd);

    cmd = fmt(&a, 7, mset);
    n = mc_split_leg_argv(&a, MC_SPLIT_MSET, mset_member, 0, sub, sublen);
    assert_int_equal(n, 5);
    assert_memory_equal(sub[1], "k0", 2);
    assert_memory_equal(sub[2], "v0", 2);
    assert_memory_equal(sub[3], "k2", 2);
    assert_memory_equal(sub[4], "v2", 2);
    mc_argv_free(&a);
    redisFreeCommand(cmd);
}

static redisReply *
str_reply(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));

    r->type = s != NULL ? REDIS_REPLY_STRING : REDIS_REPLY_NIL;
    if (s != NULL) {
        r->len = strlen(s);
        r->str = strdup(s);
    }
    return r;
}

static redisReply *
arr_reply(int n, const char **vals)
{
    redisReply *r = calloc(1, sizeof(*r));
    int i;

    r->type = REDIS_REPLY_ARRAY;
    r->elements = (size_t)n;
    r->element = calloc((size_t)n, sizeof(*r->element));
    for (i = 0; i < n; i++) {
        r->element[i] = str_reply(vals[i]);
    }
    return r;
}

static redisReply *
int_reply(long long v)
{
    redisReply *r = calloc(1, sizeof(*r));

    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

/* MGET's values come back in key order, taken from each leg in its order. */
static void
test_merge_mget(void **state)
{
    const char *leg0[] = {"v1"};
    const char *leg1[] = {"v0", NULL};      /* k0 present, k2 missing */
    const char *leg2[] = {"v3"};
    const int leg_of_key[] = {1, 0, 1, 2};
    redisReply *rep[3], *m;
    int i;

    (void)state;
    rep[0] = arr_reply(1, leg0);
    rep[1] = arr_reply(2, leg1);
    rep[2] = arr_reply(1, leg2);
    m = mc_split_merge(MC_SPLIT_MGET, 4, leg_of_key, rep, 3);
    assert_non_null(m);
    assert_int_equal(m->type, REDIS_REPLY_ARRAY);
    assert_int_equal(m->elements, 4);
    assert_string_equal(m->element[0]->str, "v0");
    assert_string_equal(m->element[1]->str, "v1");
    assert_int_equal(m->element[2]->type, REDIS_REPLY_NIL);
    assert_string_equal(m->element[3]->str, "v3");
    freeReplyObject(m);
    for (i = 0; i < 3; i++) {
        freeReplyObject(rep[i]);    /* values were moved out; the shells stay valid */
    }
}

static void
test_merge_sum_mset(void **state)
{
    redisReply *rep[3], *m;
    int i;

    (void)state;
    rep[0] = int_reply(2);
    rep[1] = NULL;                  /* a leg not sent */
    rep[2] = int_reply(5);
    m = mc_split_merge(MC_SPLIT_SUM, 0, NULL, rep, 3);
    assert_non_null(m);
    assert_int_equal(m->type, REDIS_REPLY_INTEGER);
    assert_int_equal(m->integer, 7);
    freeReplyObject(m);
    m = mc_split_merge(MC_SPLIT_MSET, 0, NULL, rep, 3);
    assert_non_null(m);
    assert_int_equal(m->type, REDIS_REPLY_STATUS);
    assert_string_equal(m->str, "OK");
    freeReplyObject(m);
    for (i = 0; i < 3; i++) {
        if (rep[i] != NULL) {
            freeReplyObject(rep[i]);
        }
    }
}

static void
test_mirror_refused(void **state)
{
    static const struct {
        int argc;
        const char *argv[5];
        int refused;
    } cases[] = {
        {3, {"SET", "k", "v"}, 0},
        {5, {"SET", "k", "v", "EX", "10"}, 1},
        {5, {"SET", "k", "v", "EXAT", "1999999999"}, 0},
        {3, {"EXPIRE", "k", "10"}, 1},
        {3, {"EXPIREAT", "k", "1999999999"}, 0},
        {3, {"SPOP", "k", "1"}, 1},
        {3, {"EVAL", "return 1", "0"}, 1},
        {1, {"MULTI"}, 1},
        {2, {"NOSUCHCOMMAND", "x"}, 1},
        {3, {"INCRBY", "k", "2"}, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mc_argv a;
        char *cmd = fmt(&a, cases[i].argc, cases[i].argv);
        const struct mc_cmd *e = mc_cmd_resolve(a.argc, a.argv, a.argvlen);
        const char *why = mc_mirror_refused(e, &a);

        if (cases[i].refused) {
            assert_non_null(why);
        } else {
            assert_null(why);
        }
        mc_argv_free(&a);
        redisFreeCommand(cmd);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),       cmocka_unit_test(test_parse_many),
        cmocka_unit_test(test_kind),        cmocka_unit_test(test_leg_argv),
        cmocka_unit_test(test_merge_mget),  cmocka_unit_test(test_merge_sum_mset),
        cmocka_unit_test(test_mirror_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
