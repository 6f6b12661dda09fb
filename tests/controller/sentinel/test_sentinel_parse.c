/*
 * test_sentinel_parse.c -- unit tests (cmocka) of ctl_sentinel.c's parsers
 * and allow-list with hostile input: truncated payloads, wrong reply types,
 * huge numbers, odd arrays, missing keys, 10,000 replicas.
 *
 * ctl_sentinel.c is included so its static parsers can be called directly;
 * replies are built by feeding RESP bytes to hiredis's own reader, so they
 * have exactly the shape the module gets at run time.  The fake model
 * (fake_model.c) satisfies the ctl_model_* references.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ctl_sentinel.c"
#include "fake_model.h"

/* ------------------------------------------------------------------------ */
/* building replies                                                         */
/* ------------------------------------------------------------------------ */

/* A growable RESP buffer. */
struct buf {
    char *p;
    size_t len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
buf_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
buf_fmt(struct buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    buf_add(b, tmp, (size_t)n);
}

static void
bulk(struct buf *b, const char *s)
{
    buf_fmt(b, "$%zu\r\n", strlen(s));
    buf_add(b, s, strlen(s));
    buf_add(b, "\r\n", 2);
}

/* A flat map from NULL-terminated key, value pairs (all bulk strings). */
static void
map(struct buf *b, const char *const *kv)
{
    size_t n = 0;

    while (kv[n] != NULL) {
        n++;
    }
    buf_fmt(b, "*%zu\r\n", n);
    for (n = 0; kv[n] != NULL; n++) {
        bulk(b, kv[n]);
    }
}

/* Parse RESP bytes with hiredis's reader: exactly one complete reply. */
static redisReply *
resp(const char *proto, size_t len)
{
    redisReader *r = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(r);
    assert_int_equal(redisReaderFeed(r, proto, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(r);
    return reply;
}

static redisReply *
resp_s(const char *proto)
{
    return resp(proto, strlen(proto));
}

static redisReply *resp_buf(struct buf *b);

/* A bulk string reply holding s. */
static redisReply *
resp_bulk(const char *s)
{
    struct buf b = {0};

    bulk(&b, s);
    return resp_buf(&b);
}

static redisReply *
resp_buf(struct buf *b)
{
    redisReply *r = resp(b->p, b->len);

    free(b->p);
    memset(b, 0, sizeof(*b));
    return r;
}

/* What redis-sentinel 7.0.15 answers to SENTINEL MASTER g1 (key order kept). */
static const char *const master_kv[] = {
    "name", "g1", "ip", "127.0.0.1", "port", "6380", "runid",
    "7b66f542249243d1e5149b08dc2b7ce3302e3652", "flags", "master", "link-pending-commands", "0",
    "link-refcount", "1", "last-ping-sent", "0", "last-ok-ping-reply", "127", "last-ping-reply",
    "127", "down-after-milliseconds", "1000", "info-refresh", "1162", "role-reported", "master",
    "role-reported-time", "1307", "config-epoch", "7", "num-slaves", "2",
    "num-other-sentinels", "2", "quorum", "2", "failover-timeout", "5000", "parallel-syncs", "1",
    NULL,
};

static redisReply *
master_with(const char *key, const char *val)
{
    const char *kv[64];
    struct buf b = {0};
    size_t i, n = 0;
    int done = 0;

    for (i = 0; master_kv[i] != NULL; i += 2) {
        if (key != NULL && strcmp(master_kv[i], key) == 0) {
            done = 1;
            if (val == NULL) {
                continue;           /* drop the key */
            }
            kv[n++] = master_kv[i];
            kv[n++] = val;
        } else {
            kv[n++] = master_kv[i];
            kv[n++] = master_kv[i + 1];
        }
    }
    if (key != NULL && !done && val != NULL) {
        kv[n++] = key;
        kv[n++] = val;
    }
    kv[n] = NULL;
    map(&b, kv);
    return resp_buf(&b);
}

static int
master_rc(redisReply *r, struct ctl_sentinel_view *v)
{
    const char *why = NULL;
    int rc;

    memset(v, 0, sizeof(*v));
    rc = parse_master(r, "g1", v, &why);
    if (rc != 0) {
        assert_non_null(why);
    }
    freeReplyObject(r);
    return rc;
}

static void
replica(struct buf *b, int i, const char *flags)
{
    char name[64], port[16], off[32];
    const char *kv[] = {
        "name", name, "ip", "127.0.0.1", "port", port, "runid", "", "flags", flags,
        "link-pending-commands", "0", "master-link-down-time", "0", "master-link-status", "ok",
        "master-host", "127.0.0.1", "master-port", "6380", "slave-priority", "100",
        "slave-repl-offset", off, "replica-announced", "1", NULL,
    };

    snprintf(port, sizeof(port), "%d", 10000 + i % 50000);
    snprintf(name, sizeof(name), "127.0.0.1:%s", port);
    snprintf(off, sizeof(off), "%d", 1000 + i);
    map(b, kv);
}

/* ------------------------------------------------------------------------ */
/* tests                                                                    */
/* ------------------------------------------------------------------------ */

static void
test_allowed(void **state)
{
    static const char *const ok[][4] = {
        {"SENTINEL", "MASTER", "g1", NULL}, {"sentinel", "masters", NULL, NULL},
        {"SENTINEL", "REPLICAS", "g1", NULL}, {"SENTINEL", "slaves", "g1", NULL},
        {"SENTINEL", "SENTINELS", "g1", NULL}, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "g1", NULL},
        {"SENTINEL", "CKQUORUM", "g1", NULL}, {"SENTINEL", "MYID", NULL, NULL},
        {"INFO", NULL, NULL, NULL}, {"INFO", "sentinel", NULL, NULL}, {"ROLE", NULL, NULL, NULL},
        {"PING", NULL, NULL, NULL}, {"PING", "tok", NULL, NULL}, {"AUTH", "pw", NULL, NULL},
        {"AUTH", "user", "pw", NULL}, {"CLIENT", "SETNAME", "marshal-ctl", NULL},
        {"PSUBSCRIBE", "*", NULL, NULL}, {"SUBSCRIBE", "+switch-master", NULL, NULL},
    };
    static const char *const no[][6] = {
        {"SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "6379", "1", "*"},
        {"SENTINEL", "FAILOVER", "g1", NULL, NULL, NULL},
        {"SENTINEL", "RESET", "*", NULL, NULL, NULL},
        {"SENTINEL", "SET", "g1", "quorum", "1", NULL},
        {"SENTINEL", "REMOVE", "g1", NULL, NULL, NULL},
        {"SENTINEL", "MONITOR", "g2", "127.0.0.1", "6379", "2"},
        {"SENTINEL", "FLUSHCONFIG", NULL, NULL, NULL, NULL},
        {"SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes", NULL},
        {"SENTINEL", "DEBUG", NULL, NULL, NULL, NULL},
        {"SENTINEL", "SIMULATE-FAILURE", "crash-after-election", NULL, NULL, NULL},
        {"SENTINEL", "MASTER", NULL, NULL, NULL, NULL},          /* wrong arity */
        {"SENTINEL", "MASTER", "g1", "extra", NULL, NULL},
        {"SENTINEL", "MYID", "x", NULL, NULL, NULL},
        {"SENTINEL", NULL, NULL, NULL, NULL, NULL},
        {"CLIENT", "KILL", "TYPE", "pubsub", NULL, NULL},
        {"CLIENT", "SETNAME", NULL, NULL, NULL, NULL},
        {"SHUTDOWN", NULL, NULL, NULL, NULL, NULL},
        {"PUBLISH", "__sentinel__:hello", "x", NULL, NULL, NULL},
        {"REPLICAOF", "no", "one", NULL, NULL, NULL},
        {"CONFIG", "SET", "x", "y", NULL, NULL},
        {"PSUBSCRIBE", NULL, NULL, NULL, NULL, NULL},
        {"PING", "a", "b", NULL, NULL, NULL},
        {"ROLE", "x", NULL, NULL, NULL, NULL},
        {"", NULL, NULL, NULL, NULL, NULL},
    };
    const char *withnull[3] = {"SENTINEL", NULL, "g1"};
    size_t i;
    int n;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        for (n = 0; n < 4 && ok[i][n] != NULL; n++) {
        }
        assert_int_equal(ctl_sentinel_allowed(n, (const char **)ok[i]), 1);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        for (n = 0; n < 6 && no[i][n] != NULL; n++) {
        }
        assert_int_equal(ctl_sentinel_allowed(n, (const char **)no[i]), 0);
    }
    assert_int_equal(ctl_sentinel_allowed(0, NULL), 0);
    assert_int_equal(ctl_sentinel_allowed(3, withnull), 0);
}

static void
test_numbers(void **state)
{
    uint64_t v;
    uint32_t u;
    uint16_t p;
    redisReply *r;

    (void)state;
    assert_int_equal(parse_u64("0", 1, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_u64("18446744073709551615", 20, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(parse_u64("18446744073709551616", 20, &v), -1);
    assert_int_equal(parse_u64("99999999999999999999999999", 26, &v), -1);
    assert_int_equal(parse_u64("-1", 2, &v), -1);
    assert_int_equal(parse_u64("+1", 2, &v), -1);
    assert_int_equal(parse_u64(" 1", 2, &v), -1);
    assert_int_equal(parse_u64("1 ", 2, &v), -1);
    assert_int_equal(parse_u64("12a", 3, &v), -1);
    assert_int_equal(parse_u64("", 0, &v), -1);
    assert_int_equal(parse_u64("0x10", 4, &v), -1);
    assert_int_equal(parse_u64("123456", 3, &v), 0);     /* length-bounded */
    assert_int_equal(v, 123);

    r = resp_s("$10\r\n4294967295\r\n");
    assert_int_equal(reply_u32(r, &u), 0);
    assert_true(u == UINT32_MAX);
    freeReplyObject(r);
    r = resp_s("$10\r\n4294967296\r\n");
    assert_int_equal(reply_u32(r, &u), -1);
    freeReplyObject(r);
    r = resp_s(":42\r\n");
    assert_int_equal(reply_u32(r, &u), 0);
    assert_int_equal(u, 42);
    freeReplyObject(r);
    r = resp_s(":-42\r\n");
    assert_int_equal(reply_u32(r, &u), -1);
    freeReplyObject(r);
    r = resp_s("$-1\r\n");
    assert_int_equal(reply_u32(r, &u), -1);
    freeReplyObject(r);
    r = resp_s("*1\r\n$1\r\n1\r\n");
    assert_int_equal(reply_u32(r, &u), -1);
    freeReplyObject(r);
    r = resp_s("$5\r\n65535\r\n");
    assert_int_equal(reply_port(r, &p), 0);
    assert_int_equal(p, 65535);
    freeReplyObject(r);
    r = resp_s("$5\r\n65536\r\n");
    assert_int_equal(reply_port(r, &p), -1);
    freeReplyObject(r);
    r = resp_s("$1\r\n0\r\n");
    assert_int_equal(reply_port(r, &p), -1);
    freeReplyObject(r);
    r = resp("$3\r\n6\0003\r\n", 9);      /* embedded NUL */
    assert_int_equal(reply_port(r, &p), -1);
    freeReplyObject(r);
}

static void
test_flags(void **state)
{
    (void)state;
    assert_int_equal(parse_flags("master", 6), 0);
    assert_int_equal(parse_flags("master,s_down,o_down", 20), CTL_SV_SDOWN | CTL_SV_ODOWN);
    assert_int_equal(parse_flags("slave,s_down,disconnected", 25),
                     CTL_SV_SDOWN | CTL_SV_DISCONNECTED);
    assert_int_equal(parse_flags("master,failover_in_progress", 27), CTL_SV_FAILOVER);
    assert_int_equal(parse_flags("slave,promoted", 14), CTL_SV_FAILOVER);
    assert_int_equal(parse_flags("s_downx,xs_down,o_dow,", 22), 0);
    assert_int_equal(parse_flags(",,,", 3), 0);
    assert_int_equal(parse_flags("", 0), 0);
    assert_int_equal(parse_flags("s_down,o_down", 6), CTL_SV_SDOWN);   /* length-bounded */
    assert_int_equal(parse_flags(NULL, 5), 0);
}

static void
test_master_ok(void **state)
{
    struct ctl_sentinel_view v;

    (void)state;
    assert_int_equal(master_rc(master_with(NULL, NULL), &v), 0);
    assert_string_equal(v.master.host, "127.0.0.1");
    assert_int_equal(v.master.port, 6380);
    assert_int_equal(v.config_epoch, 7);
    assert_int_equal(v.master_flags, 0);
    assert_int_equal(v.num_other_sentinels, 2);
    assert_int_equal(v.quorum, 2);

    assert_int_equal(master_rc(master_with("flags", "master,s_down,o_down"), &v), 0);
    assert_int_equal(v.master_flags, CTL_SV_SDOWN | CTL_SV_ODOWN);
    assert_int_equal(master_rc(master_with("config-epoch", "18446744073709551615"), &v), 0);
    assert_true(v.config_epoch == UINT64_MAX);
    /* optional keys that come and go, unknown keys */
    assert_int_equal(master_rc(master_with("failover-state", "wait_promotion"), &v), 0);
    assert_int_equal(master_rc(master_with("some-future-key", "whatever"), &v), 0);
    assert_int_equal(master_rc(master_with("config-epoch", NULL), &v), 0);   /* defaults 0 */
    assert_int_equal(v.config_epoch, 0);
    assert_int_equal(master_rc(master_with("name", NULL), &v), 0);
    /* an unknown key may hold anything, even an array */
    {
        struct buf b = {0};

        buf_fmt(&b, "*6\r\n");
        bulk(&b, "ip");
        bulk(&b, "10.0.0.1");
        bulk(&b, "future");
        buf_fmt(&b, "*2\r\n:1\r\n$-1\r\n");
        bulk(&b, "port");
        buf_fmt(&b, ":6379\r\n");
        assert_int_equal(master_rc(resp_buf(&b), &v), 0);
        assert_string_equal(v.master.host, "10.0.0.1");
        assert_int_equal(v.master.port, 6379);
    }
}

static void
test_master_hostile(void **state)
{
    struct ctl_sentinel_view v;
    struct buf b = {0};
    int i;

    (void)state;
    assert_int_equal(master_rc(master_with("ip", NULL), &v), -1);
    assert_int_equal(master_rc(master_with("port", NULL), &v), -1);
    assert_int_equal(master_rc(master_with("port", "0"), &v), -1);
    assert_int_equal(master_rc(master_with("port", "65536"), &v), -1);
    assert_int_equal(master_rc(master_with("port", "-1"), &v), -1);
    assert_int_equal(master_rc(master_with("port", "6379x"), &v), -1);
    assert_int_equal(master_rc(master_with("port", ""), &v), -1);
    assert_int_equal(master_rc(master_with("ip", ""), &v), -1);
    assert_int_equal(master_rc(master_with("ip", "10.0.0.1 evil"), &v), -1);
    assert_int_equal(master_rc(master_with("config-epoch", "18446744073709551616"), &v), -1);
    assert_int_equal(master_rc(master_with("config-epoch", "-3"), &v), -1);
    assert_int_equal(master_rc(master_with("quorum", "4294967296"), &v), -1);
    assert_int_equal(master_rc(master_with("name", "other"), &v), -1);
    {
        char big[CTL_HOST_MAX + 10];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(master_rc(master_with("ip", big), &v), -1);
    }
    /* wrong reply types */
    assert_int_equal(master_rc(resp_s("+OK\r\n"), &v), -1);
    assert_int_equal(master_rc(resp_s(":1\r\n"), &v), -1);
    assert_int_equal(master_rc(resp_s("$-1\r\n"), &v), -1);
    assert_int_equal(master_rc(resp_s("*-1\r\n"), &v), -1);
    assert_int_equal(master_rc(resp_s("*0\r\n"), &v), -1);
    assert_int_equal(master_rc(resp_s("-ERR No such master with that name\r\n"), &v), -1);
    /* odd array: a key with no value */
    assert_int_equal(master_rc(resp_s("*3\r\n$2\r\nip\r\n$1\r\nx\r\n$4\r\nport\r\n"), &v), -1);
    /* non-string key, nil value, array value for a known key */
    assert_int_equal(master_rc(resp_s("*4\r\n:1\r\n$1\r\nx\r\n$4\r\nport\r\n$2\r\n10\r\n"), &v),
                     -1);
    assert_int_equal(master_rc(resp_s("*4\r\n$2\r\nip\r\n$-1\r\n$4\r\nport\r\n$2\r\n10\r\n"),
                               &v), -1);
    assert_int_equal(master_rc(resp_s("*4\r\n$2\r\nip\r\n*1\r\n$1\r\nx\r\n$4\r\nport\r\n"
                                      "$2\r\n10\r\n"), &v), -1);
    /* a huge map */
    buf_fmt(&b, "*%d\r\n", 2000);
    for (i = 0; i < 1000; i++) {
        bulk(&b, "k");
        bulk(&b, "v");
    }
    assert_int_equal(master_rc(resp_buf(&b), &v), -1);
}

static void
test_replicas(void **state)
{
    struct ctl_sentinel_view v;
    struct buf b = {0};
    uint32_t ignored, bad;
    redisReply *r;
    int i;

    (void)state;
    /* two replicas, the second one s_down with the link down and no master */
    buf_fmt(&b, "*2\r\n");
    replica(&b, 0, "slave");
    {
        const char *kv[] = {
            "ip", "127.0.0.2", "port", "7000", "flags", "slave,s_down,disconnected",
            "master-link-status", "err", "master-host", "?", "master-port", "0",
            "slave-repl-offset", "0", "slave-priority", "0", NULL,
        };
        map(&b, kv);
    }
    memset(&v, 0, sizeof(v));
    r = resp_buf(&b);
    assert_int_equal(parse_replicas(r, &v, &ignored, &bad), 0);
    freeReplyObject(r);
    assert_int_equal(v.n_replicas, 2);
    assert_int_equal(ignored, 0);
    assert_int_equal(bad, 0);
    assert_string_equal(v.replicas[0].addr.host, "127.0.0.1");
    assert_int_equal(v.replicas[0].addr.port, 10000);
    assert_int_equal(v.replicas[0].link_ok, 1);
    assert_string_equal(v.replicas[0].follows.host, "127.0.0.1");
    assert_int_equal(v.replicas[0].follows.port, 6380);
    assert_int_equal(v.replicas[0].offset, 1000);
    assert_int_equal(v.replicas[0].priority, 100);
    assert_int_equal(v.replicas[1].flags, CTL_SV_SDOWN | CTL_SV_DISCONNECTED);
    assert_int_equal(v.replicas[1].link_ok, 0);
    assert_string_equal(v.replicas[1].follows.host, "");
    assert_int_equal(v.replicas[1].follows.port, 0);

    /* 10,000 replicas: MSHM_GROUP_SERVERS kept, the rest counted */
    buf_fmt(&b, "*10000\r\n");
    for (i = 0; i < 10000; i++) {
        replica(&b, i, "slave");
    }
    memset(&v, 0, sizeof(v));
    r = resp_buf(&b);
    assert_int_equal(parse_replicas(r, &v, &ignored, &bad), 0);
    freeReplyObject(r);
    assert_int_equal(v.n_replicas, MSHM_GROUP_SERVERS);
    assert_int_equal(ignored, 10000 - MSHM_GROUP_SERVERS);
    assert_int_equal(v.replicas[MSHM_GROUP_SERVERS - 1].addr.port, 10000 + MSHM_GROUP_SERVERS - 1);

    /* malformed entries are skipped, good ones kept */
    buf_fmt(&b, "*7\r\n");
    buf_fmt(&b, ":5\r\n");                                   /* not a map     */
    buf_fmt(&b, "$-1\r\n");                                  /* nil           */
    buf_fmt(&b, "*1\r\n$2\r\nip\r\n");                       /* odd           */
    {
        const char *noport[] = {"ip", "127.0.0.1", "flags", "slave", NULL};
        const char *badoff[] = {"ip", "127.0.0.1", "port", "1", "slave-repl-offset",
                                "99999999999999999999999", NULL};
        const char *badport[] = {"ip", "127.0.0.1", "port", "123456", NULL};

        map(&b, noport);
        map(&b, badoff);
        map(&b, badport);
    }
    replica(&b, 7, "slave");
    memset(&v, 0, sizeof(v));
    r = resp_buf(&b);
    assert_int_equal(parse_replicas(r, &v, &ignored, &bad), 0);
    freeReplyObject(r);
    assert_int_equal(v.n_replicas, 1);
    assert_int_equal(bad, 6);
    assert_int_equal(v.replicas[0].addr.port, 10007);

    /* not an array at all; empty array */
    r = resp_s("-ERR unknown subcommand 'replicas'. Try SENTINEL HELP.\r\n");
    assert_int_equal(parse_replicas(r, &v, &ignored, &bad), -1);
    freeReplyObject(r);
    r = resp_s("$5\r\nhello\r\n");
    assert_int_equal(parse_replicas(r, &v, &ignored, &bad), -1);
    freeReplyObject(r);
    r = resp_s("*0\r\n");
    assert_int_equal(parse_replicas(r, &v, &ignored, &bad), 0);
    assert_int_equal(v.n_replicas, 0);
    freeReplyObject(r);
    assert_int_equal(parse_replicas(NULL, &v, &ignored, &bad), -1);
}

static void
test_sentinels(void **state)
{
    struct peer peers[4];
    struct buf b = {0};
    uint32_t bad;
    redisReply *r;
    int i;

    (void)state;
    buf_fmt(&b, "*4\r\n");
    {
        const char *a[] = {"name", "57229b032aeaccbcebed3c697c340ff2451fe6a2", "ip", "127.0.0.1",
                           "port", "26380", "runid", "x", "flags", "sentinel", NULL};
        const char *weird[] = {"name", "not an id!", "ip", "127.0.0.1", "port", "26381", NULL};
        const char *noip[] = {"name", "abc", "port", "26382", NULL};

        map(&b, a);
        map(&b, weird);
        map(&b, noip);
    }
    buf_fmt(&b, "+OK\r\n");
    r = resp_buf(&b);
    assert_int_equal(parse_sentinels(r, peers, 4, &bad), 2);
    freeReplyObject(r);
    assert_int_equal(bad, 2);
    assert_string_equal(peers[0].runid, "57229b032aeaccbcebed3c697c340ff2451fe6a2");
    assert_int_equal(peers[0].addr.port, 26380);
    assert_string_equal(peers[1].runid, "");               /* rejected id, kept address */
    assert_int_equal(peers[1].addr.port, 26381);

    /* bounded by max */
    buf_fmt(&b, "*100\r\n");
    for (i = 0; i < 100; i++) {
        char port[16];
        const char *kv[] = {"ip", "127.0.0.1", "port", port, NULL};

        snprintf(port, sizeof(port), "%d", 20000 + i);
        map(&b, kv);
    }
    r = resp_buf(&b);
    assert_int_equal(parse_sentinels(r, peers, 4, &bad), 4);
    freeReplyObject(r);
    r = resp_s(":3\r\n");
    assert_int_equal(parse_sentinels(r, peers, 4, &bad), -1);
    freeReplyObject(r);
}

static void
test_info_myid(void **state)
{
    char id[RUNID_MAX];
    redisReply *r;
    int tilt = -1;

    (void)state;
    r = resp_bulk("# Sentinel\r\nsentinel_masters:1\r\nsentinel_tilt:1\r\nx:1");
    assert_int_equal(parse_info_tilt(r, &tilt), 0);
    assert_int_equal(tilt, 1);
    freeReplyObject(r);
    r = resp_bulk("sentinel_tilt:0");          /* no trailing CRLF */
    assert_int_equal(parse_info_tilt(r, &tilt), 0);
    assert_int_equal(tilt, 0);
    freeReplyObject(r);
    r = resp_bulk("sentinel_tilt:2\r\n");
    assert_int_equal(parse_info_tilt(r, &tilt), -1);
    freeReplyObject(r);
    r = resp_bulk("sentinel_tilt:");
    assert_int_equal(parse_info_tilt(r, &tilt), -1);
    freeReplyObject(r);
    r = resp_bulk("xsentinel_tilt:1");
    assert_int_equal(parse_info_tilt(r, &tilt), -1);
    freeReplyObject(r);
    r = resp_bulk("sentinel_tilt:99999999999999999999");
    assert_int_equal(parse_info_tilt(r, &tilt), -1);
    freeReplyObject(r);
    r = resp_s("-NOAUTH Authentication required.\r\n");
    assert_int_equal(parse_info_tilt(r, &tilt), -1);
    freeReplyObject(r);
    r = resp_s("*1\r\n$15\r\nsentinel_tilt:1\r\n");
    assert_int_equal(parse_info_tilt(r, &tilt), -1);
    freeReplyObject(r);

    r = resp_bulk("57229b032aeaccbcebed3c697c340ff2451fe6a2");
    assert_int_equal(parse_myid(r, id), 0);
    assert_string_equal(id, "57229b032aeaccbcebed3c697c340ff2451fe6a2");
    freeReplyObject(r);
    r = resp_bulk("a b");
    assert_int_equal(parse_myid(r, id), -1);
    freeReplyObject(r);
    r = resp_s("$0\r\n\r\n");
    assert_int_equal(parse_myid(r, id), -1);
    freeReplyObject(r);
    r = resp_s("+57229b\r\n");
    assert_int_equal(parse_myid(r, id), -1);
    freeReplyObject(r);
    {
        struct buf b = {0};
        char big[200];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        bulk(&b, big);
        r = resp_buf(&b);
        assert_int_equal(parse_myid(r, id), -1);
        freeReplyObject(r);
    }
}

static void
test_event_group(void **state)
{
    char g[CTL_NAME_MAX];
    char longname[200], payload[400];

    (void)state;
    assert_int_equal(event_group("+switch-master", "g1 127.0.0.1 6380 127.0.0.1 6381", g,
                                 sizeof(g)), 1);
    assert_string_equal(g, "g1");
    assert_int_equal(event_group("+switch-master", "g1", g, sizeof(g)), 1);   /* truncated */
    assert_string_equal(g, "g1");
    assert_int_equal(event_group("+odown", "master g1 127.0.0.1 6380 #quorum 2/2", g,
                                 sizeof(g)), 1);
    assert_string_equal(g, "g1");
    assert_int_equal(event_group("+promoted-slave",
                                 "slave 127.0.0.1:6381 127.0.0.1 6381 @ g2 127.0.0.1 6380", g,
                                 sizeof(g)), 1);
    assert_string_equal(g, "g2");
    assert_int_equal(event_group("+sentinel",
                                 "sentinel 57229b03 127.0.0.1 26380 @ g3 127.0.0.1 6380", g,
                                 sizeof(g)), 1);
    assert_string_equal(g, "g3");
    assert_int_equal(event_group("-role-change", "slave 127.0.0.1:6381 127.0.0.1 6381 @ g1 "
                                 "127.0.0.1 6380 new reported role is master", g, sizeof(g)), 1);
    assert_string_equal(g, "g1");
    assert_int_equal(event_group("+sdown", "  master   g1  ", g, sizeof(g)), 1);
    assert_string_equal(g, "g1");
    /* truncated before the master name, or no '@' at all */
    assert_int_equal(event_group("+slave", "slave 127.0.0.1:6381 127.0.0.1 6381 @", g,
                                 sizeof(g)), 0);
    assert_int_equal(event_group("+slave", "slave 127.0.0.1:6381 127.0.0.1", g, sizeof(g)), 0);
    assert_int_equal(event_group("+slave", "slave", g, sizeof(g)), 0);
    assert_int_equal(event_group("+sdown", "master", g, sizeof(g)), 0);
    assert_int_equal(event_group("+sdown", "", g, sizeof(g)), 0);
    assert_int_equal(event_group("+sdown", "   ", g, sizeof(g)), 0);
    assert_int_equal(event_group("+switch-master", "", g, sizeof(g)), 0);
    /* payloads that carry no master */
    assert_int_equal(event_group("+new-epoch", "12", g, sizeof(g)), 0);
    assert_int_equal(event_group("+tilt", "#tilt mode entered", g, sizeof(g)), 0);
    assert_int_equal(event_group("+vote-for-leader", "57229b03 12", g, sizeof(g)), 0);
    assert_int_equal(event_group("+sdown", "replica 1.2.3.4:5 1.2.3.4 5 @ g1 x 1", g,
                                 sizeof(g)), 0);
    /* names that cannot be ours */
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    snprintf(payload, sizeof(payload), "master %s 127.0.0.1 6380", longname);
    assert_int_equal(event_group("+sdown", payload, g, sizeof(g)), 0);
    snprintf(payload, sizeof(payload), "%s 1 2 3 4", longname);
    assert_int_equal(event_group("+switch-master", payload, g, sizeof(g)), 0);
    /* '@' among the first 8 tokens only; more tokens than that are fine */
    assert_int_equal(event_group("+slave", "slave a b c d e f g h @ g1", g, sizeof(g)), 0);
}

static void
test_event_action(void **state)
{
    (void)state;
    assert_int_equal(event_action("+switch-master"), EA_URGENT);
    assert_int_equal(event_action("+promoted-slave"), EA_URGENT);
    assert_int_equal(event_action("+failover-state-reconf-slaves"), EA_URGENT);
    assert_int_equal(event_action("+convert-to-slave"), EA_URGENT);
    assert_int_equal(event_action("+odown"), EA_URGENT);
    assert_int_equal(event_action("+sdown"), EA_GROUP);
    assert_int_equal(event_action("+slave-reconf-done"), EA_GROUP);
    assert_int_equal(event_action("-failover-abort-no-good-slave"), EA_GROUP);
    assert_int_equal(event_action("-failover-abort-"), EA_GROUP);
    assert_int_equal(event_action("-odown"), EA_GROUP);
    assert_int_equal(event_action("+reboot"), EA_GROUP);
    assert_int_equal(event_action("-monitor"), EA_GROUP);
    assert_int_equal(event_action("+tilt"), EA_SENTINEL);
    assert_int_equal(event_action("-tilt"), EA_SENTINEL);
    assert_int_equal(event_action("+new-epoch"), EA_LOG);
    assert_int_equal(event_action("+vote-for-leader"), EA_LOG);
    assert_int_equal(event_action("+selected-slave"), EA_LOG);
    assert_int_equal(event_action("switch-master"), EA_LOG);      /* the docs' wrong name */
    assert_int_equal(event_action("+switch-masterx"), EA_LOG);
    assert_int_equal(event_action(""), EA_LOG);
}

static void
test_text_and_errors(void **state)
{
    char out[8];
    redisReply *r;

    (void)state;
    copy_text(out, sizeof(out), "ab\0cd", 5);
    assert_string_equal(out, "ab");
    copy_text(out, sizeof(out), "a\nb\x01" "c", 5);
    assert_string_equal(out, "a?b?c");
    copy_text(out, sizeof(out), "0123456789", 10);
    assert_string_equal(out, "0123456");
    copy_text(out, 1, "abc", 3);
    assert_string_equal(out, "");

    r = resp_s("-ERR No such master with that name\r\n");
    assert_true(error_has(r, "No such master"));
    assert_false(error_has(r, "unknown"));
    freeReplyObject(r);
    r = resp_s("-ERR unknown subcommand 'replicas'. Try SENTINEL HELP.\r\n");
    assert_true(error_has(r, "unknown") && error_has(r, "subcommand"));
    freeReplyObject(r);
    r = resp_s("-ERR Unknown sentinel subcommand 'replicas'\r\n");
    assert_true(error_has(r, "unknown") && error_has(r, "subcommand"));
    freeReplyObject(r);
    r = resp_s("$14\r\nNo such master\r\n");               /* not an error reply */
    assert_false(error_has(r, "No such master"));
    freeReplyObject(r);
    assert_false(error_has(NULL, "x"));
}

/* The whole module against a port nobody listens on: reports unreachable,
 * retries with backoff, frees cleanly (LeakSanitizer checks the rest). */
static void
test_module_unreachable(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct ctl_config cfg;
    struct ctl_addr addr;
    struct ctl_group_cfg groups[2];
    struct ctl_sentinels *S;
    uint64_t t0;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    memset(groups, 0, sizeof(groups));
    assert_int_equal(ctl_parse_addr("127.0.0.1:1", &addr), 0);
    snprintf(groups[0].name, sizeof(groups[0].name), "g1");
    groups[0].sentinel = 1;
    snprintf(groups[1].name, sizeof(groups[1].name), "static");
    cfg.sentinels = &addr;
    cfg.n_sentinels = 1;
    cfg.groups = groups;
    cfg.n_groups = 2;
    cfg.sentinel_connect_timeout_ms = 200;
    cfg.sentinel_timeout_ms = 200;
    cfg.sentinel_poll_ms = 100;
    cfg.sentinel_ping_ms = 100;
    memset(&fake_model_stats, 0, sizeof(fake_model_stats));
    S = ctl_sentinels_new(loop, &cfg, NULL);
    assert_non_null(S);
    assert_int_equal(S->n_groups, 1);               /* only sentinel-managed groups */
    assert_int_equal(fake_model_stats.last_count, 1);
    t0 = ctl_now_ms();
    while (fake_model_stats.states == 0 && ctl_now_ms() - t0 < 2000) {
        ev_run(loop, EVRUN_ONCE);
    }
    assert_int_equal(fake_model_stats.states, 1);   /* reported unreachable once */
    assert_int_equal(S->s[0]->rep_reachable, 0);
    /* a few more retries: still exactly one state report */
    while (ctl_now_ms() - t0 < 600) {
        ev_run(loop, EVRUN_ONCE);
    }
    assert_int_equal(fake_model_stats.states, 1);
    assert_true(S->s[0]->bo[CONN_CMD].ms >= 200);  /* backing off */
    ctl_sentinels_poll_now(S);                      /* nothing is up: a no-op */
    assert_int_equal(fake_model_stats.views, 0);
    /* reconfigure: another group, same sentinel */
    snprintf(groups[1].name, sizeof(groups[1].name), "g2");
    groups[1].sentinel = 1;
    ctl_sentinels_reconfigure(S, &cfg);
    assert_int_equal(S->n_groups, 2);
    assert_int_equal(S->n, 1);
    /* reconfigure: no sentinels at all */
    cfg.n_sentinels = 0;
    ctl_sentinels_reconfigure(S, &cfg);
    assert_int_equal(S->n, 0);
    assert_int_equal(fake_model_stats.last_count, 0);
    ev_run(loop, EVRUN_NOWAIT);
    ctl_sentinels_free(S);
    ev_loop_destroy(loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_master_ok),
        cmocka_unit_test(test_master_hostile),
        cmocka_unit_test(test_replicas),
        cmocka_unit_test(test_sentinels),
        cmocka_unit_test(test_info_myid),
        cmocka_unit_test(test_event_group),
        cmocka_unit_test(test_event_action),
        cmocka_unit_test(test_text_and_errors),
        cmocka_unit_test(test_module_unreachable),
    };

    ctl_log_set_level(CTL_LOG_WARNING);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
