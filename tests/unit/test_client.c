/*
 * test_client.c -- unit tests of libmarshal-shm's decisions that need no
 * server: weighted round-robin picks, the routing-rule table, outcome
 * classification of every error reply Redis gives, and the API's error paths.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mc_internal.h"
#include "mc_outcome.h"
#include "mc_route.h"

/* ---- weighted round-robin -------------------------------------------------------------- */

static void
wrr_init(struct mc_wrr *w, int n, const int *weights)
{
    int i;

    memset(w, 0, sizeof(*w));
    w->n = n;
    for (i = 0; i < n; i++) {
        w->weight[i] = weights[i];
    }
}

/* nginx's documented sequence for weights 5,1,1: a a b a c a a */
static void
test_wrr_sequence(void **state)
{
    static const int weights[3] = {5, 1, 1};
    static const int expect[7] = {0, 0, 1, 0, 2, 0, 0};
    struct mc_wrr w;
    int round, i;

    (void)state;
    wrr_init(&w, 3, weights);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < 7; i++) {
            assert_int_equal(mc_wrr_pick(&w, 0), expect[i]);
        }
    }
}

/* exact shares over N full rounds, for several weight sets */
static void
test_wrr_exact_counts(void **state)
{
    static const int sets[][4] = {{1, 2, 0, 0}, {1, 1, 1, 0}, {3, 7, 0, 0}, {10, 1, 5, 4}};
    static const int sizes[] = {2, 3, 2, 4};
    size_t s;

    (void)state;
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        struct mc_wrr w;
        int count[4] = {0}, total = 0, i, k, rounds = 1000;

        wrr_init(&w, sizes[s], sets[s]);
        for (i = 0; i < sizes[s]; i++) {
            total += sets[s][i];
        }
        for (k = 0; k < total * rounds; k++) {
            count[mc_wrr_pick(&w, 0)]++;
        }
        for (i = 0; i < sizes[s]; i++) {
            assert_int_equal(count[i], sets[s][i] * rounds);
        }
    }
}

/* weights 1,2: picks are spread (never the light one twice in a row) */
static void
test_wrr_smooth(void **state)
{
    static const int weights[2] = {1, 2};
    struct mc_wrr w;
    int prev = -1, k, p;

    (void)state;
    wrr_init(&w, 2, weights);
    for (k = 0; k < 300; k++) {
        p = mc_wrr_pick(&w, 0);
        assert_false(p == 0 && prev == 0);
        prev = p;
    }
}

static void
test_wrr_skip(void **state)
{
    static const int weights[3] = {1, 1, 2};
    struct mc_wrr w;
    int count[3] = {0}, k;

    (void)state;
    wrr_init(&w, 3, weights);
    for (k = 0; k < 300; k++) {
        count[mc_wrr_pick(&w, 1u << 2)]++;
    }
    assert_int_equal(count[2], 0);
    assert_int_equal(count[0], 150);
    assert_int_equal(count[1], 150);
    assert_int_equal(mc_wrr_pick(&w, 7u), -1);
    w.n = 0;
    assert_int_equal(mc_wrr_pick(&w, 0), -1);
}

/* ---- routing rules ---------------------------------------------------------------------- */

struct rule_fixture {
    struct marshal_client c;
    struct marshal_target t;
    struct mc_conn master, rep[2];
};

/* A target whose cached route has a master (up or down or none) and readable replicas. */
static void
fixture(struct rule_fixture *f, int master, int master_up, int n_readable, int route)
{
    static const int weights[2] = {1, 2};
    int i;

    memset(f, 0, sizeof(*f));
    f->t.c = &f->c;
    f->t.route_override = route;
    f->t.r.valid = 1;
    f->t.r.published_route = MSHM_ROUTE_MASTER;
    f->t.r.master = master ? &f->master : NULL;
    f->t.r.master_up = master_up;
    wrr_init(&f->t.r.wrr, n_readable, weights);
    for (i = 0; i < n_readable; i++) {
        f->t.r.rep[i] = &f->rep[i];
    }
}

/* Expected pick: 'M' master, 'R' a replica, or the status. */
struct rule_case {
    int route, master, master_up, n_readable, cls;
    char expect;            /* 'M', 'R', or 0 for an error             */
    int status, waitable;
};

static void
test_rule_table(void **state)
{
    enum { RD = MC_CLASS_READ, WR = MC_CLASS_WRITE };
    static const struct rule_case cases[] = {
        /* master-only: everything to the master; no master -> wait */
        {MARSHAL_ROUTE_MASTER, 1, 1, 2, RD, 'M', 0, 0},
        {MARSHAL_ROUTE_MASTER, 1, 1, 2, WR, 'M', 0, 0},
        {MARSHAL_ROUTE_MASTER, 0, 0, 2, RD, 0, MARSHAL_ERR_NOMASTER, 1},
        {MARSHAL_ROUTE_MASTER, 0, 0, 2, WR, 0, MARSHAL_ERR_NOMASTER, 1},
        {MARSHAL_ROUTE_MASTER, 1, 0, 2, WR, 0, MARSHAL_ERR_NOMASTER, 1},
        /* read-only mode: master while up; else reads to replicas, writes fail at once */
        {MARSHAL_ROUTE_MASTER_READONLY, 1, 1, 2, RD, 'M', 0, 0},
        {MARSHAL_ROUTE_MASTER_READONLY, 1, 1, 2, WR, 'M', 0, 0},
        {MARSHAL_ROUTE_MASTER_READONLY, 0, 0, 2, RD, 'R', 0, 0},
        {MARSHAL_ROUTE_MASTER_READONLY, 1, 0, 2, RD, 'R', 0, 0},
        {MARSHAL_ROUTE_MASTER_READONLY, 0, 0, 2, WR, 0, MARSHAL_ERR_NOMASTER, 0},
        {MARSHAL_ROUTE_MASTER_READONLY, 1, 0, 2, WR, 0, MARSHAL_ERR_NOMASTER, 0},
        {MARSHAL_ROUTE_MASTER_READONLY, 0, 0, 0, RD, 0, MARSHAL_ERR_NOSERVER, 1},
        /* split: reads to replicas, to the master when none is readable */
        {MARSHAL_ROUTE_SPLIT, 1, 1, 2, RD, 'R', 0, 0},
        {MARSHAL_ROUTE_SPLIT, 1, 1, 2, WR, 'M', 0, 0},
        {MARSHAL_ROUTE_SPLIT, 1, 1, 0, RD, 'M', 0, 0},
        {MARSHAL_ROUTE_SPLIT, 0, 0, 2, RD, 'R', 0, 0},
        {MARSHAL_ROUTE_SPLIT, 0, 0, 2, WR, 0, MARSHAL_ERR_NOMASTER, 1},
        {MARSHAL_ROUTE_SPLIT, 0, 0, 0, RD, 0, MARSHAL_ERR_NOSERVER, 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rule_case *rc = &cases[i];
        struct rule_fixture f;
        struct mc_pick p = {0};
        struct mc_conn *k;

        fixture(&f, rc->master, rc->master_up, rc->n_readable, rc->route);
        k = mc_route_pick(&f.t, rc->cls, &p);
        if (rc->expect == 'M') {
            assert_ptr_equal(k, &f.master);
        } else if (rc->expect == 'R') {
            assert_true(k == &f.rep[0] || k == &f.rep[1]);
        } else {
            assert_null(k);
            assert_int_equal(p.status, rc->status);
            assert_int_equal(p.waitable, rc->waitable);
        }
    }
}

/* degraded + fail-writes policy; pinned transactions; a suspect replica is skipped */
static void
test_rule_special(void **state)
{
    struct rule_fixture f;
    struct mc_pick p = {0};
    int k;

    (void)state;
    fixture(&f, 1, 1, 2, MARSHAL_ROUTE_SPLIT);
    f.t.r.gflags = MSHM_GF_DEGRADED | MSHM_GF_FAIL_WRITES_DEGRADED;
    assert_null(mc_route_pick(&f.t, MC_CLASS_WRITE, &p));
    assert_int_equal(p.status, MARSHAL_ERR_DEGRADED);
    assert_non_null(mc_route_pick(&f.t, MC_CLASS_READ, &p));
    f.t.r.gflags = MSHM_GF_DEGRADED;            /* keep-master policy */
    assert_ptr_equal(mc_route_pick(&f.t, MC_CLASS_WRITE, &p), &f.master);

    f.t.pinned = &f.master;                      /* MULTI: reads stay on the master */
    assert_ptr_equal(mc_route_pick(&f.t, MC_CLASS_READ, &p), &f.master);
    f.t.pinned = NULL;

    f.rep[1].suspect_until_ns = UINT64_MAX;      /* replica 1 just failed */
    for (k = 0; k < 50; k++) {
        assert_ptr_equal(mc_route_pick(&f.t, MC_CLASS_READ, &p), &f.rep[0]);
    }
    p.avoid = &f.rep[0];                          /* and replica 0 failed this command */
    assert_ptr_equal(mc_route_pick(&f.t, MC_CLASS_READ, &p), &f.master);
}

/* The split rule's read shares follow the powers exactly (1:2). */
static void
test_rule_split_shares(void **state)
{
    struct rule_fixture f;
    struct mc_pick p = {0};
    int n0 = 0, n1 = 0, k;

    (void)state;
    fixture(&f, 1, 1, 2, MARSHAL_ROUTE_SPLIT);
    for (k = 0; k < 30000; k++) {
        struct mc_conn *c = mc_route_pick(&f.t, MC_CLASS_READ, &p);

        n0 += c == &f.rep[0];
        n1 += c == &f.rep[1];
    }
    assert_int_equal(n0, 10000);
    assert_int_equal(n1, 20000);
}

/* ---- outcomes --------------------------------------------------------------------------- */

static redisReply
reply(int type, const char *str)
{
    redisReply r;

    memset(&r, 0, sizeof(r));
    r.type = type;
    r.str = (char *)(uintptr_t)str;
    r.len = str != NULL ? strlen(str) : 0;
    return r;
}

/* every error reply reference/sentinel.md lists, for ordinary commands and scripts */
static void
test_outcome_errors(void **state)
{
    static const struct {
        const char *err;
        int plain, script, retry;
    } cases[] = {
        {"READONLY You can't write against a read only replica.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 1},
        {"NOREPLICAS Not enough good replicas to write.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 0},
        {"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 1},
        {"LOADING Redis is loading the dataset in memory",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 1},
        {"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 0},
        {"NOAUTH Authentication required.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 0},
        {"WRONGPASS invalid username-password pair or user is disabled.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 0},
        {"NOPERM User app has no permissions to run the 'set' command",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 0},
        {"OOM command not allowed when used memory > 'maxmemory'.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_UNKNOWN, 0},
        {"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 0},
        {"NOSCRIPT No matching script. Please use EVAL.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 0},
        {"EXECABORT Transaction discarded because of previous errors.",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 0},
        {"WRONGTYPE Operation against a key holding the wrong kind of value",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_UNKNOWN, 0},
        {"ERR user_script:1: Script attempted to access nonexistent global variable 'x'",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_UNKNOWN, 0},
        {"ERR unknown command 'FOO', with args beginning with: ",
         MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_UNKNOWN, 0},
        /* a prefix must be a whole word */
        {"READONLYX not really", MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_UNKNOWN, 0},
        {"LOADING", MARSHAL_OUTCOME_NOT_APPLIED, MARSHAL_OUTCOME_NOT_APPLIED, 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        redisReply r = reply(REDIS_REPLY_ERROR, cases[i].err);

        assert_int_equal(mc_reply_outcome(&r, MC_SP_NONE), cases[i].plain);
        assert_int_equal(mc_reply_outcome(&r, MC_SP_SCRIPT), cases[i].script);
        assert_int_equal(mc_reply_retryable(&r), cases[i].retry);
    }
}

static void
test_outcome_replies(void **state)
{
    redisReply ok = reply(REDIS_REPLY_STATUS, "OK");
    redisReply nil = reply(REDIS_REPLY_NIL, NULL);
    redisReply arr = reply(REDIS_REPLY_ARRAY, NULL);
    redisReply num = reply(REDIS_REPLY_INTEGER, NULL);

    (void)state;
    assert_int_equal(mc_reply_outcome(&ok, MC_SP_NONE), MARSHAL_OUTCOME_APPLIED);
    assert_int_equal(mc_reply_outcome(&num, MC_SP_SCRIPT), MARSHAL_OUTCOME_APPLIED);
    assert_int_equal(mc_reply_outcome(&nil, MC_SP_NONE), MARSHAL_OUTCOME_APPLIED);
    /* EXEC's nil: WATCH aborted the transaction, nothing ran */
    assert_int_equal(mc_reply_outcome(&nil, MC_SP_EXEC), MARSHAL_OUTCOME_NOT_APPLIED);
    assert_int_equal(mc_reply_outcome(&arr, MC_SP_EXEC), MARSHAL_OUTCOME_APPLIED);
    assert_int_equal(mc_reply_outcome(NULL, MC_SP_NONE), MARSHAL_OUTCOME_UNKNOWN);
    assert_int_equal(mc_reply_retryable(&ok), 0);
    assert_int_equal(mc_reply_retryable(NULL), 0);
}

/* ---- API error paths -------------------------------------------------------------------- */

static void
test_strerror_names(void **state)
{
    int a, b;

    (void)state;
    for (a = MARSHAL_ERR_PIPELINE; a <= MARSHAL_OK; a++) {
        assert_non_null(marshal_strerror(a));
        assert_string_not_equal(marshal_strerror(a), "unknown status");
        for (b = a + 1; b <= MARSHAL_OK; b++) {
            assert_string_not_equal(marshal_strerror(a), marshal_strerror(b));
        }
    }
    assert_string_equal(marshal_strerror(-1000), "unknown status");
    assert_string_equal(marshal_outcome_name(MARSHAL_OUTCOME_UNKNOWN), "unknown");
    assert_string_equal(marshal_event_name(MARSHAL_EV_MASTER_DOWN), "masterDown");
    assert_string_equal(marshal_event_name(MARSHAL_EV_ALL_SLAVES_UP), "allSlavesUp");
    assert_string_equal(marshal_event_name(0), "unknown");
    assert_int_equal(marshal_version(), MARSHAL_VERSION_NUMBER);
    assert_string_equal(marshal_version_string(), "0.2.0");
}

static void
test_open_errors(void **state)
{
    marshal_options o;
    marshal_client *c = (marshal_client *)(uintptr_t)1;
    marshal_target *t;

    (void)state;
    assert_int_equal(marshal_client_open("/nonexistent/marshal-seg", NULL, NULL),
                     MARSHAL_ERR_INVAL);
    /* no segment yet: an ABSENT client that keeps trying */
    assert_int_equal(marshal_client_open("/nonexistent/marshal-seg", NULL, &c), MARSHAL_ERR_NOENT);
    assert_non_null(c);
    assert_int_equal(marshal_client_state(c), MARSHAL_STATE_ABSENT);
    assert_true(strlen(marshal_client_errstr(c)) > 0);
    assert_int_not_equal(marshal_target_open(c, "g1", &t), MARSHAL_OK);
    assert_null(t);
    assert_int_equal(marshal_client_poll(c), MARSHAL_ERR_NOENT);
    marshal_client_close(c);

    marshal_options_init(&o);
    o.connect_timeout_ms = 0;
    c = (marshal_client *)(uintptr_t)1;
    assert_int_equal(marshal_client_open("/nonexistent", &o, &c), MARSHAL_ERR_RANGE);
    assert_null(c);
    marshal_options_init(&o);
    o.max_attempts = 0;
    assert_int_equal(marshal_client_open("/nonexistent", &o, &c), MARSHAL_ERR_RANGE);
    marshal_client_close(NULL);
    marshal_target_close(NULL);
    assert_null(marshal_command(NULL, "PING"));
    assert_int_equal(marshal_append(NULL, "PING"), MARSHAL_ERR_INVAL);
}

/* ---- the I/O-free core shared by both front ends ---- */

static redisReply
err_reply(const char *s)
{
    redisReply r;

    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_ERROR;
    r.str = (char *)s;
    r.len = strlen(s);
    return r;
}

/* READONLY/MASTERDOWN/LOADING re-route; a replica's read goes elsewhere at once. */
static void
test_reply_verdict(void **state)
{
    redisReply ro = err_reply("READONLY You can't write against a read only replica.");
    redisReply md = err_reply("MASTERDOWN Link with MASTER is down");
    redisReply ld = err_reply("LOADING Redis is loading the dataset in memory");
    redisReply wt = err_reply("WRONGTYPE Operation against a key holding the wrong kind");
    redisReply ok;

    (void)state;
    memset(&ok, 0, sizeof(ok));
    ok.type = REDIS_REPLY_STATUS;
    ok.str = (char *)"OK";
    ok.len = 2;
    assert_int_equal(mc_reply_verdict(&ro, 0, 1, 1), MC_V_PARK);
    assert_int_equal(mc_reply_verdict(&md, 0, 1, 1), MC_V_PARK);
    assert_int_equal(mc_reply_verdict(&ld, 1, 0, 1), MC_V_RETRY);   /* replica read */
    assert_int_equal(mc_reply_verdict(&ld, 1, 1, 1), MC_V_PARK);    /* master read  */
    assert_int_equal(mc_reply_verdict(&ro, 0, 1, 0), MC_V_DONE);    /* no retry left */
    assert_int_equal(mc_reply_verdict(&wt, 0, 1, 1), MC_V_DONE);
    assert_int_equal(mc_reply_verdict(&ok, 0, 1, 1), MC_V_DONE);
    assert_int_equal(mc_reply_verdict(NULL, 0, 1, 1), MC_V_DONE);
}

/* A lost connection: unsent -> park; sent write -> done (unknown); sent read -> one retry. */
static void
test_loss_verdict(void **state)
{
    (void)state;
    assert_int_equal(mc_loss_verdict(0, 0, 0, 0, 1), MC_V_PARK);
    assert_int_equal(mc_loss_verdict(0, 1, 0, 0, 1), MC_V_PARK);
    assert_int_equal(mc_loss_verdict(1, 0, 0, 0, 1), MC_V_DONE);
    assert_int_equal(mc_loss_verdict(1, 1, 0, 0, 1), MC_V_RETRY);
    assert_int_equal(mc_loss_verdict(1, 1, 1, 0, 1), MC_V_DONE);    /* retried once already */
    assert_int_equal(mc_loss_verdict(1, 1, 0, 1, 1), MC_V_DONE);    /* protocol error       */
    assert_int_equal(mc_loss_verdict(0, 0, 0, 0, 0), MC_V_DONE);    /* attempts used up     */
}

/* Classification of formatted commands, cached or not. */
static void
test_classify(void **state)
{
    static const struct { const char *fmt; int cls, sp; } cases[] = {
        {"GET k", MC_CLASS_READ, MC_SP_NONE},
        {"get k", MC_CLASS_READ, MC_SP_NONE},
        {"SET k v", MC_CLASS_WRITE, MC_SP_NONE},
        {"MULTI", -1, MC_SP_MULTI},
        {"EXEC", -1, MC_SP_EXEC},
        {"EVAL x 0", -1, MC_SP_SCRIPT},
        {"SUBSCRIBE ch", -1, MC_SP_UNSUPPORTED},
        {"MGET a b", MC_CLASS_READ, MC_SP_NONE},
        {"NOSUCHCOMMAND x", MC_CLASS_WRITE, MC_SP_NONE},   /* unknown: treated as a write */
    };
    struct marshal_client *c = calloc(1, sizeof(*c));
    size_t i;
    int pass;

    (void)state;
    assert_non_null(c);
    for (pass = 0; pass < 2; pass++) {          /* second pass: from the name cache */
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char *cmd = NULL;
            int len = redisFormatCommand(&cmd, cases[i].fmt), cls = -2, sp = -2;

            assert_true(len > 0);
            assert_int_equal(mc_classify(c, cmd, (size_t)len, &cls, &sp), 0);
            if (cases[i].cls >= 0) {
                assert_int_equal(cls, cases[i].cls);
            }
            assert_int_equal(sp, cases[i].sp);
            redisFreeCommand(cmd);
        }
    }
    {
        int cls, sp;

        assert_int_equal(mc_classify(c, "garbage", 7, &cls, &sp), -1);
        assert_int_equal(mc_classify(c, "*1\r\n$9\r\nGET", 13, &cls, &sp), -1);
    }
    free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_verdict),
        cmocka_unit_test(test_loss_verdict),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_wrr_sequence),
        cmocka_unit_test(test_wrr_exact_counts),
        cmocka_unit_test(test_wrr_smooth),
        cmocka_unit_test(test_wrr_skip),
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_rule_special),
        cmocka_unit_test(test_rule_split_shares),
        cmocka_unit_test(test_outcome_errors),
        cmocka_unit_test(test_outcome_replies),
        cmocka_unit_test(test_strerror_names),
        cmocka_unit_test(test_open_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
