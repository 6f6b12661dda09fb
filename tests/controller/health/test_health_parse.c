/*
 * test_health_parse.c -- cmocka tests of ctl_health's reply handling on
 * hand-built hiredis replies: well-formed ROLE / INFO from Redis 7.0, and
 * hostile ones (wrong types, short or long arrays, huge numbers, oversized
 * hosts, lines without colons, NUL bytes, too many replicas).  It includes
 * ctl_health.c to reach the static parsers and the round bookkeeping, and
 * provides the fake model functions ctl_health calls.
 */
#include "../../../controller/ctl_health.c"

#include <setjmp.h>
#include <stddef.h>
#include <stdarg.h>
#include <cmocka.h>

/* ------------------------------------------------------------ fake model */

struct ctl_model {
    int n_probes;
    struct ctl_probe last;
};

static struct ctl_model fake_model;
static struct ctl_cred fake_cred;

const struct ctl_cred *
ctl_model_server_cred(struct ctl_model *m, struct ctl_server *s)
{
    (void)m;
    (void)s;
    return &fake_cred;
}

void
ctl_model_probe(struct ctl_model *m, struct ctl_server *s, const struct ctl_probe *p)
{
    (void)s;
    m->n_probes++;
    m->last = *p;
}

/* ------------------------------------------------------- reply builders */

static redisReply *
r_new(int type)
{
    redisReply *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->type = type;
    return r;
}

static redisReply *
r_strn(int type, const char *s, size_t len)
{
    redisReply *r = r_new(type);

    r->str = malloc(len + 1);
    assert_non_null(r->str);
    memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static redisReply *
r_str(const char *s)
{
    return r_strn(REDIS_REPLY_STRING, s, strlen(s));
}

static redisReply *
r_status(const char *s)
{
    return r_strn(REDIS_REPLY_STATUS, s, strlen(s));
}

static redisReply *
r_err(const char *s)
{
    return r_strn(REDIS_REPLY_ERROR, s, strlen(s));
}

static redisReply *
r_int(long long v)
{
    redisReply *r = r_new(REDIS_REPLY_INTEGER);

    r->integer = v;
    return r;
}

/* Array of n replies (NULL-terminated variadic list is not used: n given). */
static redisReply *
r_arr(size_t n, ...)
{
    redisReply *r = r_new(REDIS_REPLY_ARRAY);
    va_list ap;
    size_t i;

    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    assert_non_null(r->element);
    va_start(ap, n);
    for (i = 0; i < n; i++) {
        r->element[i] = va_arg(ap, redisReply *);
    }
    va_end(ap);
    return r;
}

static void
r_free(redisReply *r)
{
    size_t i;

    if (r == NULL) {
        return;
    }
    for (i = 0; i < r->elements; i++) {
        r_free(r->element[i]);
    }
    free(r->element);
    free(r->str);
    free(r);
}

/* A fresh round (not attached to any server) for the pure parsers. */
static struct round *
fresh_round(void)
{
    static struct round r;

    memset(&r, 0, sizeof(r));
    r.link_info = -1;
    r.p.role = MSHM_ROLE_UNKNOWN;
    return &r;
}

static int
role_of(redisReply *rep, struct round **out)
{
    struct round *r = fresh_round();

    parse_role(r, rep);
    r_free(rep);
    *out = r;
    return r->failed ? -1 : 0;
}

/* ------------------------------------------------------------- numbers */

static void
test_parse_u64(void **state)
{
    uint64_t v = 7;

    (void)state;
    assert_int_equal(parse_u64("0", 1, UINT64_MAX, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_u64("18446744073709551615", 20, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(parse_u64("18446744073709551616", 20, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64("99999999999999999999999", 23, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64("-1", 2, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64("+1", 2, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64(" 1", 2, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64("1 ", 2, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64("1x", 2, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64("", 0, UINT64_MAX, &v), -1);
    assert_int_equal(parse_u64("65536", 5, 65535, &v), -1);
    assert_int_equal(parse_u64("65535", 5, 65535, &v), 0);
    assert_int_equal(v, 65535);
    /* length, not NUL, bounds the number */
    assert_int_equal(parse_u64("123456", 3, UINT64_MAX, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(parse_u64("000000000000000000000001", 24, UINT64_MAX, &v), -1);
}

static void
test_reply_u64(void **state)
{
    uint64_t v;
    redisReply *r;

    (void)state;
    r = r_int(-1);
    assert_int_equal(reply_u64(r, UINT64_MAX, &v), -1);
    r_free(r);
    r = r_int(6379);
    assert_int_equal(reply_u64(r, 65535, &v), 0);
    assert_int_equal(v, 6379);
    r_free(r);
    r = r_str("6380");
    assert_int_equal(reply_u64(r, 65535, &v), 0);
    assert_int_equal(v, 6380);
    r_free(r);
    r = r_new(REDIS_REPLY_NIL);
    assert_int_equal(reply_u64(r, 65535, &v), -1);
    r_free(r);
    assert_int_equal(reply_u64(NULL, 65535, &v), -1);
}

/* ---------------------------------------------------------------- ROLE */

static void
test_role_master(void **state)
{
    struct round *r;

    (void)state;
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_int(3129659),
                                   r_arr(2, r_arr(3, r_str("127.0.0.1"), r_str("9001"),
                                                  r_str("3129242")),
                                         r_arr(3, r_str("127.0.0.1"), r_str("9002"),
                                               r_str("3129543")))),
                             &r),
                     0);
    assert_int_equal(r->p.role, MSHM_ROLE_MASTER);
    assert_true(r->p.offset == 3129659);
    /* no replicas */
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_int(0), r_arr(0)), &r), 0);
    assert_int_equal(r->p.role, MSHM_ROLE_MASTER);
}

static void
test_role_master_hostile(void **state)
{
    struct round *r;

    (void)state;
    assert_int_equal(role_of(r_arr(2, r_str("master"), r_int(1)), &r), -1);
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_str("x1"), r_arr(0)), &r), -1);
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_int(-5), r_arr(0)), &r), -1);
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_int(1), r_str("no")), &r), -1);
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_int(1), r_new(REDIS_REPLY_NIL)), &r),
                     -1);
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_int(1),
                                   r_arr(1, r_arr(2, r_str("a"), r_str("1")))),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_int(1),
                                   r_arr(1, r_arr(3, r_str("a"), r_new(REDIS_REPLY_NIL),
                                                  r_str("1")))),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(3, r_str("master"), r_int(1), r_arr(1, r_str("x"))), &r),
                     -1);
    assert_string_equal(r->p.error, "ROLE: malformed replica entry");
}

static void
test_role_replica(void **state)
{
    struct round *r;

    (void)state;
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_str("10.0.0.1"), r_int(6379),
                                   r_str("connected"), r_int(3167038)),
                             &r),
                     0);
    assert_int_equal(r->p.role, MSHM_ROLE_REPLICA);
    assert_string_equal(r->p.follows.host, "10.0.0.1");
    assert_int_equal(r->p.follows.port, 6379);
    assert_int_equal(r->p.link_up, 1);
    assert_true(r->p.offset == 3167038);
    /* just demoted: handshake, -1 */
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_str("h"), r_int(7000),
                                   r_str("handshake"), r_int(-1)),
                             &r),
                     0);
    assert_int_equal(r->p.link_up, 0);
    assert_true(r->p.offset == 0);
    /* naming drift */
    assert_int_equal(role_of(r_arr(5, r_str("replica"), r_str("h"), r_int(1),
                                   r_str("connected"), r_int(5)),
                             &r),
                     0);
    assert_int_equal(r->p.role, MSHM_ROLE_REPLICA);
}

static void
test_role_replica_hostile(void **state)
{
    struct round *r;
    char big[CTL_HOST_MAX + 10];

    (void)state;
    memset(big, 'h', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(role_of(r_arr(4, r_str("slave"), r_str("h"), r_int(1), r_str("connected")),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_str(big), r_int(1),
                                   r_str("connected"), r_int(5)),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_str(""), r_int(1),
                                   r_str("connected"), r_int(5)),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_strn(REDIS_REPLY_STRING, "a\0b", 3),
                                   r_int(1), r_str("connected"), r_int(5)),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_str("h"), r_int(70000),
                                   r_str("connected"), r_int(5)),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_str("h"), r_int(0),
                                   r_str("connected"), r_int(5)),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_int(1), r_int(1),
                                   r_str("connected"), r_int(5)),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_str("h"), r_int(1), r_int(3),
                                   r_int(5)),
                             &r),
                     -1);
    assert_int_equal(role_of(r_arr(5, r_str("slave"), r_str("h"), r_int(1),
                                   r_str("connected"), r_str("5")),
                             &r),
                     -1);
    assert_string_equal(r->p.error, "ROLE: malformed replica reply");
}

static void
test_role_other(void **state)
{
    struct round *r;
    redisReply *big;
    size_t i;

    (void)state;
    assert_int_equal(role_of(r_arr(2, r_str("sentinel"), r_arr(1, r_str("mymaster"))), &r),
                     -1);
    assert_string_equal(r->p.error, "is a sentinel");
    assert_int_equal(r->p.role, MSHM_ROLE_UNKNOWN);
    assert_int_equal(role_of(r_arr(1, r_str("witch")), &r), -1);
    assert_string_equal(r->p.error, "ROLE: unknown role");
    assert_int_equal(role_of(r_arr(0), &r), -1);
    assert_int_equal(role_of(r_int(1), &r), -1);
    assert_int_equal(role_of(r_str("master"), &r), -1);
    assert_int_equal(role_of(r_arr(1, r_int(1)), &r), -1);
    assert_int_equal(role_of(r_arr(1, r_new(REDIS_REPLY_NIL)), &r), -1);
    /* "masterX" is not "master" */
    assert_int_equal(role_of(r_arr(3, r_str("masterX"), r_int(1), r_arr(0)), &r), -1);
    /* absurdly long */
    big = r_new(REDIS_REPLY_ARRAY);
    big->elements = ROLE_MAX_ELEMS + 1;
    big->element = calloc(big->elements, sizeof(*big->element));
    assert_non_null(big->element);
    big->element[0] = r_str("master");
    for (i = 1; i < big->elements; i++) {
        big->element[i] = r_int(1);
    }
    assert_int_equal(role_of(big, &r), -1);
}

/* ---------------------------------------------------------------- INFO */

static struct round *
info_of(const char *text, size_t len)
{
    struct round *r = fresh_round();

    parse_info(r, text, len);
    return r;
}

#define INFO(s) info_of(s, sizeof(s) - 1)

static void
test_info_replica(void **state)
{
    struct round *r;

    (void)state;
    r = INFO("# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\n"
             "master_link_status:up\r\nmaster_last_io_seconds_ago:0\r\n"
             "master_sync_in_progress:0\r\nslave_read_repl_offset:14\r\n"
             "slave_repl_offset:14\r\nslave_priority:100\r\nslave_read_only:1\r\n"
             "replica_announced:1\r\nconnected_slaves:0\r\nmaster_repl_offset:14\r\n"
             "\r\n# Persistence\r\nloading:0\r\nasync_loading:0\r\n");
    assert_int_equal(r->link_info, 1);
    assert_int_equal(r->p.sync_in_progress, 0);
    assert_int_equal(r->p.loading, 0);
    assert_int_equal(r->p.n_lags, 0);
    assert_int_equal(r->info_bad, 0);

    r = INFO("master_link_status:down\nmaster_sync_in_progress:1\nloading:1\n"
             "loading_loaded_perc:10.41\nloading_eta_seconds:8");
    assert_int_equal(r->link_info, 0);
    assert_int_equal(r->p.sync_in_progress, 1);
    assert_int_equal(r->p.loading, 1);
    assert_int_equal(r->info_bad, 0);
}

static void
test_info_master(void **state)
{
    struct round *r;

    (void)state;
    r = INFO("role:master\r\nconnected_slaves:4\r\n"
             "slave0:ip=127.0.0.1,port=6380,state=online,offset=14,lag=1\r\n"
             "slave1:ip=::1,port=6381,state=wait_bgsave,offset=0,lag=0\r\n"
             "slave2:ip=10.0.0.9,port=abc,state=online,offset=14,lag=0\r\n"
             "slave3:ip=10.0.0.3,port=6383,state=online,offset=99999999999999999999,lag=0\r\n"
             "slave4:port=6384,ip=10.0.0.4,lag=7,offset=20,state=online,extra=1\r\n"
             "slave5:ip=10.0.0.5,port=6385,state=online,offset=20\r\n"
             "slave_x:ip=10.0.0.6,port=6386,state=online,offset=20,lag=0\r\n"
             "slave:ip=10.0.0.7,port=6387,state=online,offset=20,lag=0\r\n"
             "master_repl_offset:14\r\n");
    assert_int_equal(r->p.n_lags, 2);
    assert_string_equal(r->p.lags[0].addr.host, "127.0.0.1");
    assert_int_equal(r->p.lags[0].addr.port, 6380);
    assert_true(r->p.lags[0].offset == 14);
    assert_int_equal(r->p.lags[0].lag_s, 1);
    assert_string_equal(r->p.lags[1].addr.host, "10.0.0.4");
    assert_int_equal(r->p.lags[1].lag_s, 7);
    assert_int_equal(r->link_info, -1);
}

static void
test_info_hostile(void **state)
{
    struct round *r;
    char *buf;
    size_t len = 0, cap = 64 * 1024, i;
    char host[CTL_HOST_MAX + 20];
    static const char nul[] = "loading:1\0garbage\nmaster_sync_in_progress:1\n\0\0\0:\n";

    (void)state;
    /* too many replicas: capped at the probe's table size */
    buf = malloc(cap);
    assert_non_null(buf);
    for (i = 0; i < 100; i++) {
        len += (size_t)snprintf(buf + len, cap - len,
                                "slave%zu:ip=10.0.%zu.%zu,port=%zu,state=online,offset=%zu,"
                                "lag=0\r\n",
                                i, i / 256, i % 256, 1000 + i, i);
    }
    r = info_of(buf, len);
    assert_int_equal(r->p.n_lags, MSHM_GROUP_SERVERS);
    free(buf);

    /* an oversized ip is skipped */
    memset(host, 'a', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    buf = malloc(cap);
    assert_non_null(buf);
    len = (size_t)snprintf(buf, cap, "slave0:ip=%s,port=1,state=online,offset=1,lag=1\n", host);
    r = info_of(buf, len);
    assert_int_equal(r->p.n_lags, 0);
    free(buf);

    /* odd field shapes: empty fields, a bare "=", trailing commas, no "=" */
    r = INFO("slave0:,,=,ip=1.2.3.4,port=1,state=online,offset=1,lag=1,\n"
             "slave1:ip\nslave2:=\nslave3:,\nslave4:\n"
             "slave5:ip=,port=2,state=online,offset=1,lag=1\n"
             "slave6:ip=5.6.7.8,port=3,state=online,offset=1,lag=1,ip=9.9.9.9");
    assert_int_equal(r->p.n_lags, 2);
    assert_string_equal(r->p.lags[0].addr.host, "1.2.3.4");
    assert_string_equal(r->p.lags[1].addr.host, "9.9.9.9");     /* last one wins */

    /* bad values of known keys make the INFO unusable */
    r = INFO("loading:x\n");
    assert_int_equal(r->info_bad, 1);
    r = INFO("master_sync_in_progress:2\n");
    assert_int_equal(r->info_bad, 1);
    r = INFO("master_sync_in_progress:\n");
    assert_int_equal(r->info_bad, 1);

    /* junk: no colon, empty lines, lone \r, colon first, unknown keys */
    r = INFO("\n\n\r\n:\n::::\nno colon here\r\nweird:key:value\nloading\n#loading:1\n");
    assert_int_equal(r->info_bad, 0);
    assert_int_equal(r->p.loading, 0);

    /* NUL bytes inside the bulk are just bytes */
    r = info_of(nul, sizeof(nul) - 1);
    assert_int_equal(r->p.sync_in_progress, 1);
    assert_int_equal(r->info_bad, 1);       /* "1\0garbage" is not a number */

    /* empty */
    r = info_of("", 0);
    assert_int_equal(r->info_bad, 0);
}

/* ------------------------------------------------- rounds (bookkeeping) */

static struct ctl_health fake_h;
static struct hsrv fake_hs;
static struct ctl_server fake_s;

/* A round in the COMMANDS phase of fake_hs with n replies outstanding. */
static struct round *
start_round(uint32_t refs, uint32_t info_sent)
{
    struct round *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    memset(&fake_h, 0, sizeof(fake_h));
    fake_h.m = &fake_model;
    memset(&fake_s, 0, sizeof(fake_s));
    snprintf(fake_s.addr.host, sizeof(fake_s.addr.host), "127.0.0.1");
    fake_s.addr.port = 6379;
    if (fake_hs.h == NULL) {
        fake_hs.last_ok = -1;
    }
    fake_hs.h = &fake_h;
    fake_hs.s = &fake_s;
    fake_hs.conn = NULL;
    r->hs = &fake_hs;
    r->phase = PH_COMMANDS;
    r->refs = refs;
    r->info_sent = info_sent;
    r->link_info = -1;
    r->p.role = MSHM_ROLE_UNKNOWN;
    r->ping_ns = ctl_now_ns();
    fake_hs.round = r;
    memset(&fake_model, 0, sizeof(fake_model));
    return r;
}

static redisReply *
replica_role(void)
{
    return r_arr(5, r_str("slave"), r_str("127.0.0.1"), r_int(6379), r_str("connected"),
                 r_int(42));
}

static void
feed(ctl_reply_fn fn, struct round *r, redisReply *reply)
{
    fn(NULL, reply, r);
    r_free(reply);
}

static void
test_round_ok(void **state)
{
    struct round *r;

    (void)state;
    fake_hs.info_split = 0;
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    assert_int_equal(fake_model.n_probes, 0);
    feed(on_info, r, r_str("master_link_status:up\r\nmaster_sync_in_progress:0\r\nloading:0\r\n"));
    assert_int_equal(fake_model.n_probes, 1);
    assert_null(fake_hs.round);
    assert_int_equal(fake_model.last.ok, 1);
    assert_int_equal(fake_model.last.have_info, 1);
    assert_int_equal(fake_model.last.link_up, 1);
    assert_int_equal(fake_model.last.role, MSHM_ROLE_REPLICA);
    assert_string_equal(fake_model.last.error, "");

    /* INFO says the link is down although ROLE said connected */
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    feed(on_info, r, r_str("master_link_status:down\r\n"));
    assert_int_equal(fake_model.last.ok, 1);
    assert_int_equal(fake_model.last.link_up, 0);

    /* bad INFO: probe ok (PING + ROLE) but no INFO */
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    feed(on_info, r, r_int(5));
    assert_int_equal(fake_model.last.ok, 1);
    assert_int_equal(fake_model.last.have_info, 0);
}

static void
test_round_errors(void **state)
{
    struct round *r;

    (void)state;
    /* -LOADING: reachable, loading */
    r = start_round(2, 0);
    feed(on_ping, r, r_err("LOADING Redis is loading the dataset in memory"));
    feed(on_role, r, r_arr(3, r_str("master"), r_int(0), r_arr(0)));
    assert_int_equal(fake_model.n_probes, 1);
    assert_int_equal(fake_model.last.ok, 1);
    assert_int_equal(fake_model.last.loading, 1);
    assert_int_equal(fake_model.last.have_info, 0);

    /* -MASTERDOWN: reachable replica, not readable */
    r = start_round(2, 0);
    feed(on_ping, r, r_err("MASTERDOWN Link with MASTER is down"));
    feed(on_role, r, replica_role());
    assert_int_equal(fake_model.last.ok, 1);
    assert_int_equal(fake_model.last.link_up, 0);

    /* -NOAUTH: failed with the server's text */
    r = start_round(2, 0);
    feed(on_ping, r, r_err("NOAUTH Authentication required."));
    feed(on_role, r, r_err("NOAUTH Authentication required."));
    assert_int_equal(fake_model.last.ok, 0);
    assert_string_equal(fake_model.last.error, "PING: NOAUTH Authentication required.");
    assert_int_equal(fake_model.last.role, MSHM_ROLE_UNKNOWN);

    /* -LOADINGX is not -LOADING */
    r = start_round(2, 0);
    feed(on_ping, r, r_err("LOADINGX whatever"));
    feed(on_role, r, replica_role());
    assert_int_equal(fake_model.last.ok, 0);

    /* ROLE error */
    r = start_round(2, 0);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, r_err("NOPERM this user has no permissions to run the 'role' command"));
    assert_int_equal(fake_model.last.ok, 0);
    assert_true(strncmp(fake_model.last.error, "ROLE: NOPERM", 12) == 0);

    /* odd PING reply */
    r = start_round(2, 0);
    feed(on_ping, r, r_int(1));
    feed(on_role, r, replica_role());
    assert_int_equal(fake_model.last.ok, 0);
    assert_string_equal(fake_model.last.error, "PING: unexpected reply");

    /* a long error is cut, the probe's error stays terminated */
    {
        char big[400];

        memset(big, 'E', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        r = start_round(2, 0);
        feed(on_ping, r, r_err(big));
        feed(on_role, r, replica_role());
        assert_int_equal(fake_model.last.ok, 0);
        assert_true(strlen(fake_model.last.error) < sizeof(fake_model.last.error));
    }
}

static void
test_round_lost(void **state)
{
    struct round *r;

    (void)state;
    /* no reply: the round waits for the state callback's reason */
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    on_role(NULL, NULL, r);
    on_info(NULL, NULL, r);
    assert_int_equal(fake_model.n_probes, 0);
    assert_non_null(fake_hs.round);
    on_state(NULL, 0, "command timeout", &fake_hs);
    assert_int_equal(fake_model.n_probes, 1);
    assert_int_equal(fake_model.last.ok, 0);
    assert_string_equal(fake_model.last.error, "command timeout");
    /* a second state callback reports nothing more */
    on_state(NULL, 0, "again", &fake_hs);
    assert_int_equal(fake_model.n_probes, 1);

    /* connect phase: the state callback ends it */
    r = start_round(0, 0);
    r->phase = PH_CONNECTING;
    on_state(NULL, 0, "connect failed: Connection refused", &fake_hs);
    assert_int_equal(fake_model.n_probes, 1);
    assert_string_equal(fake_model.last.error, "connect failed: Connection refused");
}

/* Rounds without INFO repeat the last INFO's fields; failures, disconnects
 * and role changes drop them and force INFO. */
static void
test_round_info_carry(void **state)
{
    struct round *r;
    redisReply *master_role;

    (void)state;
    fake_hs.info_valid = 0;
    fake_hs.info_split = 0;
    /* master with INFO: two lags */
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, r_arr(3, r_str("master"), r_int(9), r_arr(0)));
    feed(on_info, r, r_str("slave0:ip=10.0.0.1,port=1,state=online,offset=9,lag=0\r\n"
                           "slave1:ip=10.0.0.2,port=2,state=online,offset=8,lag=3\r\n"));
    assert_int_equal(fake_model.last.have_info, 1);
    assert_int_equal(fake_model.last.n_lags, 2);
    assert_int_equal(fake_hs.force_info, 0);
    /* without INFO: the same lags, have_info 0 */
    r = start_round(2, 0);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, r_arr(3, r_str("master"), r_int(10), r_arr(0)));
    assert_int_equal(fake_model.last.have_info, 0);
    assert_int_equal(fake_model.last.n_lags, 2);
    assert_int_equal(fake_model.last.lags[1].lag_s, 3);
    assert_string_equal(fake_model.last.lags[1].addr.host, "10.0.0.2");
    /* role change (demoted): nothing carried, INFO forced */
    r = start_round(2, 0);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    assert_int_equal(fake_model.last.n_lags, 0);
    assert_int_equal(fake_model.last.link_up, 1);
    assert_int_equal(fake_hs.info_valid, 0);
    assert_int_equal(fake_hs.force_info, 1);
    /* replica INFO with the link down, then a round without INFO */
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    feed(on_info, r, r_str("master_link_status:down\r\nmaster_sync_in_progress:1\r\n"));
    assert_int_equal(fake_model.last.link_up, 0);
    assert_int_equal(fake_model.last.sync_in_progress, 1);
    r = start_round(2, 0);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    assert_int_equal(fake_model.last.have_info, 0);
    assert_int_equal(fake_model.last.link_up, 0);
    assert_int_equal(fake_model.last.sync_in_progress, 1);
    /* a failed round forgets */
    r = start_round(2, 0);
    feed(on_ping, r, r_err("NOAUTH Authentication required."));
    feed(on_role, r, replica_role());
    assert_int_equal(fake_model.last.ok, 0);
    assert_int_equal(fake_hs.info_valid, 0);
    assert_int_equal(fake_hs.force_info, 1);
    r = start_round(2, 0);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    assert_int_equal(fake_model.last.sync_in_progress, 0);
    assert_int_equal(fake_model.last.link_up, 1);
    /* a disconnect between rounds forgets too */
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    feed(on_info, r, r_str("master_sync_in_progress:1\r\n"));
    assert_int_equal(fake_hs.info_valid, 1);
    on_state(NULL, 0, "connection lost", &fake_hs);
    assert_int_equal(fake_hs.info_valid, 0);
    master_role = r_arr(3, r_str("master"), r_int(1), r_arr(0));
    r = start_round(2, 0);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, master_role);
    assert_int_equal(fake_model.last.n_lags, 0);
    free(fake_hs.info);
    fake_hs.info = NULL;
    fake_hs.info_valid = 0;
}

static void
test_round_abandoned(void **state)
{
    struct round *r;

    (void)state;
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    round_abandon(&fake_hs);
    assert_null(fake_hs.round);
    feed(on_role, r, replica_role());
    on_info(NULL, NULL, r);     /* the last callback frees it (ASan: no leak) */
    assert_int_equal(fake_model.n_probes, 0);
}

static void
test_round_info_split(void **state)
{
    struct round *r;

    (void)state;
    fake_hs.info_split = 0;
    fake_hs.force_info = 0;
    r = start_round(3, 1);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    feed(on_info, r, r_err("ERR syntax error"));
    assert_int_equal(fake_model.last.ok, 1);
    assert_int_equal(fake_model.last.have_info, 0);
    assert_int_equal(fake_hs.info_split, 1);
    assert_int_equal(fake_hs.force_info, 1);

    /* split INFO: both replies needed */
    r = start_round(4, 2);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    feed(on_info, r, r_str("master_link_status:up\r\n"));
    feed(on_info, r, r_str("loading:1\r\n"));
    assert_int_equal(fake_model.last.ok, 1);
    assert_int_equal(fake_model.last.have_info, 1);
    assert_int_equal(fake_model.last.loading, 1);
    assert_int_equal(fake_hs.force_info, 0);

    /* split mode: an ERR is now a real error */
    r = start_round(4, 2);
    feed(on_ping, r, r_status("PONG"));
    feed(on_role, r, replica_role());
    feed(on_info, r, r_err("ERR unknown"));
    feed(on_info, r, r_str("loading:0\r\n"));
    assert_int_equal(fake_model.last.ok, 0);
    assert_string_equal(fake_model.last.error, "INFO: ERR unknown");
}

int
main(void)
{
    int rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_reply_u64),
        cmocka_unit_test(test_role_master),
        cmocka_unit_test(test_role_master_hostile),
        cmocka_unit_test(test_role_replica),
        cmocka_unit_test(test_role_replica_hostile),
        cmocka_unit_test(test_role_other),
        cmocka_unit_test(test_info_replica),
        cmocka_unit_test(test_info_master),
        cmocka_unit_test(test_info_hostile),
        cmocka_unit_test(test_round_ok),
        cmocka_unit_test(test_round_errors),
        cmocka_unit_test(test_round_lost),
        cmocka_unit_test(test_round_info_carry),
        cmocka_unit_test(test_round_abandoned),
        cmocka_unit_test(test_round_info_split),
    };

    ctl_log_set_level(CTL_LOG_WARNING);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(fake_hs.info);
    return rc;
}
