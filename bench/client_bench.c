/*
 * client_bench.c -- libmarshal-shm's routed command throughput against raw
 * hiredis on the same redis-server, measured in the same run, interleaved.
 *
 *   client_bench --port P [--replica-port R ...] [--shard-port S ...] [--twemproxy-port T]
 *                [--n N] [--rounds K] [--conns C] [--smoke]
 *
 * The program publishes its own segment (a temp file, written with the shm
 * core's writer, no controller needed) describing one group "bench" whose
 * master is 127.0.0.1:P (and replicas if given), then for K rounds runs,
 * in alternation (A B A B ...):
 *   raw      hiredis redisCommand(ctx, "GET %s") on its own connection to P
 *   marshal  marshal_command(t, "GET %s") with the group's master-only rule
 *            (same server, its own connection)
 * and the same for SET, then pipelined GET depth 16 (redisAppendCommand /
 * marshal_append).  Prints per-round rates, the median and spread of the
 * marshal/raw ratio, and p50/p99 latency.
 *
 * With --twemproxy-port (a nutcracker pool whose only server is P): the same
 * GET/SET through twemproxy against raw hiredis, interleaved.
 * With --conns C (default 4; 0 = off): C connections pipelined at depth 16,
 * one thread each, every thread with its own connection (raw hiredis, its
 * own marshal_client + target on the same segment, its own connection to
 * twemproxy), all started together at a barrier, each doing N pipelined
 * GETs; the run's rate is the aggregate (C x N / wall time from the barrier
 * to the last thread's end).  Per round raw, marshal and twemproxy run in
 * turn (A B C A B C ...); printed as the other rows: rates, ratio to raw.
 * With 4 --shard-port servers: groups s1..s4, a marshal0 cluster "stripe"
 * over them and a marshal1 mirror "mirror" over s1+s2 (policy all):
 *   MGET of 100 keys through the cluster (split over 4 groups, pipelined in
 *   parallel) vs the same MGET on one server with raw hiredis (latency);
 *   mirrored SET (2 legs) vs SET on one group (rate).  Prints figures; asserts nothing
 * about them (exit 0 when every command succeeded).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <hiredis/hiredis.h>

#include "bench_util.h"
#include "marshal/marshal.h"
#include "mshm_write.h"

#define MAX_ROUNDS 64
#define MAX_REPLICAS 8
#define DEPTH 16
#define MAX_CONNS 64




static void
die(const char *what)
{
    fprintf(stderr, "client_bench: %s\n", what);
    exit(1);
}

/* Publish group "bench": master :port, replicas :rports (power 1). */
static void
put_plain_group(struct mshm_writer *w, uint32_t gi, uint32_t si, const char *name, int port)
{
    struct mshm_group g;
    struct mshm_server s;

    memset(&s, 0, sizeof(s));
    snprintf(s.host, sizeof(s.host), "127.0.0.1");
    s.port = (uint16_t)port;
    s.flags = MSHM_SF_IN_USE;
    s.role = MSHM_ROLE_MASTER;
    s.health = MSHM_HEALTH_UP;
    s.power = 1;
    s.group_idx = gi;
    s.longname_idx = MSHM_NONE;
    mshm_w_put_server(w, si, &s);
    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "%s", name);
    g.flags = MSHM_GF_IN_USE;
    g.route = MSHM_ROUTE_MASTER;
    g.power = 1;
    g.master_idx = si;
    g.n_servers = 1;
    g.servers[0] = si;
    mshm_w_put_group(w, gi, &g);
}

static void
put_cluster(struct mshm_writer *w, uint32_t ci, const char *name, int rule, int n)
{
    struct mshm_cluster cl;
    int i;

    memset(&cl, 0, sizeof(cl));
    snprintf(cl.name, sizeof(cl.name), "%s", name);
    cl.flags = MSHM_CF_IN_USE;
    cl.kind = MSHM_KIND_CLUSTER;
    cl.rule = (uint8_t)rule;
    cl.dist = MSHM_DIST_KETAMA;
    cl.hash = MSHM_HASH_FNV1A_64;
    cl.mirror_policy = MSHM_MIRROR_ALL;
    cl.n_members = (uint16_t)n;
    cl.primary = rule == MSHM_RULE_MARSHAL1 ? 0 : MSHM_NONE;
    for (i = 0; i < n; i++) {
        cl.members[i].idx = (uint32_t)(1 + i);   /* groups s1.. follow group 0 */
        cl.members[i].power = 1;
        cl.members[i].flags = rule == MSHM_RULE_MARSHAL1 && i == 0 ? MSHM_MF_PRIMARY : 0;
    }
    mshm_w_put_cluster(w, ci, &cl);
}

static struct mshm_writer *
publish(const char *path, int port, const int *rports, int nrep, const int *sports, int nshard)
{
    struct mshm_writer_opts o;
    struct mshm_writer *w;
    struct mshm_group g;
    char err[256];
    int i;

    memset(&o, 0, sizeof(o));
    o.path = path;
    o.mode = 0600;
    o.gid = (gid_t)-1;
    o.group_cap = 16;
    o.server_cap = 64;
    o.cluster_cap = 4;
    o.longname_cap = 4;
    o.ring_cap = 64;
    o.stale_after_ms = 3600000;
    o.hb_interval_ms = 1000;
    if (mshm_writer_open(&o, &w, NULL, err, sizeof(err)) != MSHM_OK) {
        fprintf(stderr, "client_bench: writer: %s\n", err);
        exit(1);
    }
    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "bench");
    g.flags = MSHM_GF_IN_USE;
    g.route = MSHM_ROUTE_MASTER;
    g.power = 1;
    g.master_idx = 0;
    g.max_lag_ms = 10000;
    for (i = 0; i <= nrep; i++) {
        struct mshm_server s;

        memset(&s, 0, sizeof(s));
        snprintf(s.host, sizeof(s.host), "127.0.0.1");
        s.port = (uint16_t)(i == 0 ? port : rports[i - 1]);
        s.flags = MSHM_SF_IN_USE | (i > 0 ? MSHM_SF_READABLE : 0);
        s.role = i == 0 ? MSHM_ROLE_MASTER : MSHM_ROLE_REPLICA;
        s.health = MSHM_HEALTH_UP;
        s.power = 1;
        s.group_idx = 0;
        s.longname_idx = MSHM_NONE;
        mshm_w_put_server(w, (uint32_t)i, &s);
        g.servers[i] = (uint32_t)i;
    }
    g.n_servers = (uint16_t)(nrep + 1);
    mshm_w_put_group(w, 0, &g);
    for (i = 0; i < nshard; i++) {
        char name[16];

        snprintf(name, sizeof(name), "s%d", i + 1);
        put_plain_group(w, (uint32_t)(1 + i), (uint32_t)(nrep + 1 + i), name, sports[i]);
    }
    if (nshard == 4) {
        put_cluster(w, 0, "stripe", MSHM_RULE_MARSHAL0, 4);
        put_cluster(w, 1, "mirror", MSHM_RULE_MARSHAL1, 2);
    }
    if (mshm_w_commit(w) < 0) {
        die("commit failed");
    }
    mshm_w_heartbeat(w);
    return w;
}

struct run {
    double rps;
    uint64_t p50, p99;     /* ns per command (unpipelined) */
};

static uint64_t *lat;

static void
finish_run(struct run *r, uint64_t t0, int n, int nlat)
{
    uint64_t el = now_ns() - t0;

    r->rps = (double)n * 1e9 / (double)el;
    r->p50 = r->p99 = 0;
    if (nlat > 0) {         /* lat[0, nlat): per command, or per pipelined batch */
        qsort(lat, (size_t)nlat, sizeof(lat[0]), cmp_u64);
        r->p50 = lat[nlat / 2];
        r->p99 = lat[(size_t)nlat * 99 / 100];
    }
}

static void
check(redisReply *r, const char *what)
{
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "client_bench: %s failed%s%s\n", what, r ? ": " : "", r ? r->str : "");
        exit(1);
    }
    freeReplyObject(r);
}

static void
raw_cmd(redisContext *ctx, int n, int set, struct run *r)
{
    uint64_t t0 = now_ns(), t;
    int i;

    for (i = 0; i < n; i++) {
        t = now_ns();
        check(set ? redisCommand(ctx, "SET bench:%d v", i & 1023)
                  : redisCommand(ctx, "GET bench:%d", i & 1023), "raw");
        lat[i] = now_ns() - t;
    }
    finish_run(r, t0, n, n);
}

static void
marshal_cmd(marshal_target *tg, int n, int set, struct run *r)
{
    uint64_t t0 = now_ns(), t;
    int i;

    for (i = 0; i < n; i++) {
        t = now_ns();
        check(set ? marshal_command(tg, "SET bench:%d v", i & 1023)
                  : marshal_command(tg, "GET bench:%d", i & 1023), "marshal");
        lat[i] = now_ns() - t;
    }
    finish_run(r, t0, n, n);
}

static void
raw_pipe(redisContext *ctx, int n, struct run *r)
{
    uint64_t t0 = now_ns(), t;
    void *rep;
    int i, j, b = 0;

    for (i = 0; i < n; i += DEPTH) {
        t = now_ns();
        for (j = 0; j < DEPTH; j++) {
            redisAppendCommand(ctx, "GET bench:%d", (i + j) & 1023);
        }
        for (j = 0; j < DEPTH; j++) {
            if (redisGetReply(ctx, &rep) != REDIS_OK) {
                die("raw pipeline failed");
            }
            freeReplyObject(rep);
        }
        lat[b++] = now_ns() - t;
    }
    finish_run(r, t0, n, b);
}

static void
marshal_pipe(marshal_target *tg, int n, struct run *r)
{
    uint64_t t0 = now_ns(), t;
    redisReply *rep;
    int i, j, b = 0;

    for (i = 0; i < n; i += DEPTH) {
        t = now_ns();
        for (j = 0; j < DEPTH; j++) {
            if (marshal_append(tg, "GET bench:%d", (i + j) & 1023) != MARSHAL_OK) {
                die("marshal_append failed");
            }
        }
        for (j = 0; j < DEPTH; j++) {
            if (marshal_get_reply(tg, &rep) != MARSHAL_OK) {
                die("marshal pipeline failed");
            }
            freeReplyObject(rep);
        }
        lat[b++] = now_ns() - t;
    }
    finish_run(r, t0, n, b);
}

static void
report2(const char *name, const char *la, const char *lb, const struct run *a,
        const struct run *b, int rounds)
{
    double ratio[MAX_ROUNDS], ra[MAX_ROUNDS], rb[MAX_ROUNDS];
    uint64_t pa50 = 0, pa99 = 0, pb50 = 0, pb99 = 0;
    int i;

    for (i = 0; i < rounds; i++) {
        ratio[i] = b[i].rps / a[i].rps;
        ra[i] = a[i].rps;
        rb[i] = b[i].rps;
        pa50 += a[i].p50;
        pa99 += a[i].p99;
        pb50 += b[i].p50;
        pb99 += b[i].p99;
    }
    qsort(ratio, (size_t)rounds, sizeof(double), cmp_dbl);
    qsort(ra, (size_t)rounds, sizeof(double), cmp_dbl);
    qsort(rb, (size_t)rounds, sizeof(double), cmp_dbl);
    printf("%-22s %s %9.0f/s  %s %9.0f/s  ratio median %.3f (min %.3f max %.3f)", name, la,
           ra[rounds / 2], lb, rb[rounds / 2], ratio[rounds / 2], ratio[0], ratio[rounds - 1]);
    if (pa50 != 0) {
        printf("  %sp50 %.1f/%.1f us  p99 %.1f/%.1f us",
               strstr(name, "pipe") != NULL ? "batch " : "", (double)pa50 / rounds / 1e3,
               (double)pb50 / rounds / 1e3, (double)pa99 / rounds / 1e3,
               (double)pb99 / rounds / 1e3);
    }
    printf("\n");
}

/* GET on a 4-group cluster vs one group (one by one and pipelined: the cluster's
 * pipeline spreads over 4 servers); MGET of 100 keys over 4 groups vs one server;
 * mirrored SET vs one group. */
static void
shard_bench(marshal_client *c, redisContext *ctx, int n, int rounds)
{
    const char *argv[101];
    char keys[100][32];
    struct run raw[MAX_ROUNDS], cl[MAX_ROUNDS], one[MAX_ROUNDS], mir[MAX_ROUNDS];
    struct run g1[MAX_ROUNDS], gc[MAX_ROUNDS], p1[MAX_ROUNDS], pc[MAX_ROUNDS];
    marshal_target *stripe, *mirror, *s1;
    int i, r, k, m = n / 20 > 10 ? n / 20 : 10;
    int np = (m * 5 / DEPTH) * DEPTH > DEPTH ? (m * 5 / DEPTH) * DEPTH : DEPTH;
    uint64_t t0, t;

    if (marshal_target_open(c, "stripe", &stripe) != MARSHAL_OK ||
        marshal_target_open(c, "mirror", &mirror) != MARSHAL_OK ||
        marshal_target_open(c, "s1", &s1) != MARSHAL_OK) {
        die("cluster targets missing");
    }
    argv[0] = "MGET";
    for (k = 0; k < 100; k++) {
        snprintf(keys[k], sizeof(keys[k]), "shard:%d", k);
        argv[1 + k] = keys[k];
        check(marshal_command(stripe, "SET %s v%d", keys[k], k), "populate cluster");
        check(redisCommand(ctx, "SET %s v%d", keys[k], k), "populate server");
    }
    check(marshal_command_argv(stripe, 101, argv, NULL), "warm-up MGET");
    for (r = 0; r < rounds; r++) {
        marshal_cmd(s1, m * 5, 0, &g1[r]);
        marshal_cmd(stripe, m * 5, 0, &gc[r]);
        marshal_pipe(s1, np, &p1[r]);
        marshal_pipe(stripe, np, &pc[r]);
        t0 = now_ns();
        for (i = 0; i < m; i++) {
            t = now_ns();
            check(redisCommandArgv(ctx, 101, argv, NULL), "raw MGET");
            lat[i] = now_ns() - t;
        }
        finish_run(&raw[r], t0, m, m);
        t0 = now_ns();
        for (i = 0; i < m; i++) {
            t = now_ns();
            check(marshal_command_argv(stripe, 101, argv, NULL), "cluster MGET");
            lat[i] = now_ns() - t;
        }
        finish_run(&cl[r], t0, m, m);
        if (marshal_client_legs(c, NULL) < 2) {
            die("MGET of 100 keys did not span groups");
        }
        t0 = now_ns();
        for (i = 0; i < m * 5; i++) {
            t = now_ns();
            check(marshal_command(s1, "SET mirror:%d v", i & 1023), "group SET");
            lat[i] = now_ns() - t;
        }
        finish_run(&one[r], t0, m * 5, m * 5);
        t0 = now_ns();
        for (i = 0; i < m * 5; i++) {
            t = now_ns();
            check(marshal_command(mirror, "SET mirror:%d v", i & 1023), "mirrored SET");
            lat[i] = now_ns() - t;
        }
        finish_run(&mir[r], t0, m * 5, m * 5);
    }
    printf("-- clusters (rates: commands/s; 'raw'/'group' is the baseline):\n");
    report2("GET, 1 conn/group", "1 group", "4 groups", g1, gc, rounds);
    report2("GET, pipeline 16", "1 group", "4 groups", p1, pc, rounds);
    report2("MGET 100 keys", "1 server", "4 groups", raw, cl, rounds);
    report2("SET", "1 group", "mirror of 2", one, mir, rounds);
}

/* ---- C connections pipelined, one thread each ------------------------------------------ */

struct mworker {
    redisContext *ctx;          /* raw / twemproxy: this thread's connection  */
    marshal_client *c;          /* marshal: this thread's own client ...      */
    marshal_target *t;          /* ... and target                             */
    int n, base, failed;
    pthread_barrier_t *bar;
};

static void *
mworker_raw(void *arg)
{
    struct mworker *w = arg;
    void *rep;
    int i, j;

    pthread_barrier_wait(w->bar);
    for (i = 0; i < w->n && !w->failed; i += DEPTH) {
        for (j = 0; j < DEPTH; j++) {
            redisAppendCommand(w->ctx, "GET bench:%d", (w->base + i + j) & 1023);
        }
        for (j = 0; j < DEPTH; j++) {
            if (redisGetReply(w->ctx, &rep) != REDIS_OK) {
                w->failed = 1;
                break;
            }
            if (((redisReply *)rep)->type == REDIS_REPLY_ERROR) {
                w->failed = 1;
            }
            freeReplyObject(rep);
        }
    }
    return NULL;
}

static void *
mworker_marshal(void *arg)
{
    struct mworker *w = arg;
    redisReply *rep;
    int i, j;

    pthread_barrier_wait(w->bar);
    for (i = 0; i < w->n && !w->failed; i += DEPTH) {
        for (j = 0; j < DEPTH; j++) {
            if (marshal_append(w->t, "GET bench:%d", (w->base + i + j) & 1023) != MARSHAL_OK) {
                w->failed = 1;
            }
        }
        for (j = 0; j < DEPTH; j++) {
            if (marshal_get_reply(w->t, &rep) != MARSHAL_OK) {
                w->failed = 1;
                break;
            }
            if (rep->type == REDIS_REPLY_ERROR) {
                w->failed = 1;
            }
            freeReplyObject(rep);
        }
    }
    return NULL;
}

/* One run: C threads released together, n pipelined GETs each; aggregate rate. */
static void
multi_run(struct mworker *ws, int nconn, int n, void *(*fn)(void *), struct run *r,
          const char *what)
{
    pthread_t th[MAX_CONNS];
    pthread_barrier_t bar;
    uint64_t t0, el;
    int i;

    if (pthread_barrier_init(&bar, NULL, (unsigned)nconn + 1) != 0) {
        die("pthread_barrier_init failed");
    }
    for (i = 0; i < nconn; i++) {
        ws[i].n = n;
        ws[i].base = i * 256;
        ws[i].failed = 0;
        ws[i].bar = &bar;
        if (pthread_create(&th[i], NULL, fn, &ws[i]) != 0) {
            die("pthread_create failed");
        }
    }
    pthread_barrier_wait(&bar);
    t0 = now_ns();
    for (i = 0; i < nconn; i++) {
        pthread_join(th[i], NULL);
    }
    el = now_ns() - t0;
    pthread_barrier_destroy(&bar);
    for (i = 0; i < nconn; i++) {
        if (ws[i].failed) {
            fprintf(stderr, "client_bench: %s: a pipelined GET failed on connection %d\n", what, i);
            exit(1);
        }
    }
    r->rps = (double)nconn * (double)n * 1e9 / (double)el;
    r->p50 = r->p99 = 0;
}

static void
connect_workers(struct mworker *ws, int nconn, int port, const char *what)
{
    int i;

    for (i = 0; i < nconn; i++) {
        memset(&ws[i], 0, sizeof(ws[i]));
        ws[i].ctx = redisConnect("127.0.0.1", port);
        if (ws[i].ctx == NULL || ws[i].ctx->err) {
            fprintf(stderr, "client_bench: %s connection %d failed\n", what, i);
            exit(1);
        }
        check(redisCommand(ws[i].ctx, "GET bench:0"), what);
    }
}

/* raw hiredis vs libmarshal-shm (vs twemproxy) with nconn connections pipelined. */
static void
multi_bench(const char *seg, int port, int tport, int nconn, int n, int rounds)
{
    struct mworker raw[MAX_CONNS], mar[MAX_CONNS], tw[MAX_CONNS];
    struct run rr[MAX_ROUNDS], mr[MAX_ROUNDS], tr[MAX_ROUNDS];
    char name[32];
    int i;

    connect_workers(raw, nconn, port, "raw");
    if (tport > 0) {
        connect_workers(tw, nconn, tport, "twemproxy");
    }
    for (i = 0; i < nconn; i++) {
        memset(&mar[i], 0, sizeof(mar[i]));
        if (marshal_client_open(seg, NULL, &mar[i].c) != MARSHAL_OK ||
            marshal_target_open(mar[i].c, "bench", &mar[i].t) != MARSHAL_OK) {
            die("marshal open failed (multi)");
        }
        check(marshal_command(mar[i].t, "GET bench:0"), "marshal warm-up (multi)");
    }
    for (i = 0; i < rounds; i++) {
        multi_run(raw, nconn, n, mworker_raw, &rr[i], "raw");
        multi_run(mar, nconn, n, mworker_marshal, &mr[i], "marshal");
        if (tport > 0) {
            multi_run(tw, nconn, n, mworker_raw, &tr[i], "twemproxy");
        }
    }
    printf("-- %d connections pipelined (depth %d), one thread each, own connection / own "
           "marshal client; aggregate rates; raw, marshal%s interleaved:\n",
           nconn, DEPTH, tport > 0 ? ", twemproxy" : "");
    snprintf(name, sizeof(name), "GET, %d conns pipe %d", nconn, DEPTH);
    report2(name, "raw", "marshal", rr, mr, rounds);
    if (tport > 0) {
        report2(name, "raw", "twemproxy", rr, tr, rounds);
    }
    for (i = 0; i < nconn; i++) {
        redisFree(raw[i].ctx);
        if (tport > 0) {
            redisFree(tw[i].ctx);
        }
        marshal_client_close(mar[i].c);
    }
}

static void
report(const char *name, const struct run *a, const struct run *b, int rounds)
{
    report2(name, "raw", "marshal", a, b, rounds);
}

int
main(int argc, char **argv)
{
    int port = 0, rports[MAX_REPLICAS], nrep = 0, n = 20000, rounds = 7, i;
    int sports[4], nshard = 0, tport = 0, nconn = 4;
    struct run rg[MAX_ROUNDS], mg[MAX_ROUNDS], rs[MAX_ROUNDS], ms[MAX_ROUNDS];
    struct run rp[MAX_ROUNDS], mp[MAX_ROUNDS];
    char path[] = "/tmp/client_bench.XXXXXX";
    struct mshm_writer *w;
    marshal_client *c;
    marshal_target *t;
    redisContext *ctx;
    int fd;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--replica-port") == 0 && i + 1 < argc && nrep < MAX_REPLICAS) {
            rports[nrep++] = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--shard-port") == 0 && i + 1 < argc && nshard < 4) {
            sports[nshard++] = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--twemproxy-port") == 0 && i + 1 < argc) {
            tport = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc) {
            nconn = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--smoke") == 0) {
            n = 320;
            rounds = 2;
        } else {
            fprintf(stderr, "usage: client_bench --port P [--replica-port R]... "
                            "[--shard-port S]... [--twemproxy-port T] [--n N] [--rounds K] "
                            "[--conns C] [--smoke]\n");
            return 2;
        }
    }
    if (port <= 0 || n < DEPTH || rounds < 1 || rounds > MAX_ROUNDS || nconn < 0 ||
        nconn > MAX_CONNS) {
        fprintf(stderr, "client_bench: --port required; n >= %d; 1 <= rounds <= %d; "
                        "0 <= conns <= %d\n", DEPTH, MAX_ROUNDS, MAX_CONNS);
        return 2;
    }
    n -= n % DEPTH;
    lat = calloc((size_t)n, sizeof(lat[0]));
    fd = mkstemp(path);
    if (fd < 0 || lat == NULL) {
        die("setup failed");
    }
    close(fd);
    unlink(path);
    w = publish(path, port, rports, nrep, sports, nshard);
    if (marshal_client_open(path, NULL, &c) != MARSHAL_OK ||
        marshal_target_open(c, "bench", &t) != MARSHAL_OK) {
        die("marshal open failed");
    }
    ctx = redisConnect("127.0.0.1", port);
    if (ctx == NULL || ctx->err) {
        die("redis connect failed");
    }
    check(redisCommand(ctx, "SET bench:0 v"), "warm-up");
    check(marshal_command(t, "GET bench:0"), "warm-up");

    printf("client_bench: 127.0.0.1:%d, %d commands per run, %d rounds, interleaved\n", port, n,
           rounds);
    for (i = 0; i < rounds; i++) {
        raw_cmd(ctx, n, 0, &rg[i]);
        marshal_cmd(t, n, 0, &mg[i]);
        raw_cmd(ctx, n, 1, &rs[i]);
        marshal_cmd(t, n, 1, &ms[i]);
        raw_pipe(ctx, n, &rp[i]);
        marshal_pipe(t, n, &mp[i]);
    }
    report("GET, 1 conn", rg, mg, rounds);
    report("SET, 1 conn", rs, ms, rounds);
    report("GET, pipeline 16", rp, mp, rounds);

    if (nrep > 0) {
        /* read/write split: reads over the replicas; rate only (other servers) */
        struct run sp[MAX_ROUNDS];

        marshal_target_use(t, MARSHAL_ROUTE_SPLIT);
        for (i = 0; i < rounds; i++) {
            marshal_cmd(t, n, 0, &sp[i]);
        }
        report("GET split (replicas)", rg, sp, rounds);
    }
    if (tport > 0) {
        struct run tr[MAX_ROUNDS], ts[MAX_ROUNDS];
        redisContext *tw = redisConnect("127.0.0.1", tport);

        if (tw == NULL || tw->err) {
            die("twemproxy connect failed");
        }
        for (i = 0; i < rounds; i++) {
            raw_cmd(ctx, n, 0, &rg[i]);
            raw_cmd(tw, n, 0, &tr[i]);
            raw_cmd(ctx, n, 1, &rs[i]);
            raw_cmd(tw, n, 1, &ts[i]);
            raw_pipe(ctx, n, &rp[i]);
            raw_pipe(tw, n, &mp[i]);
        }
        printf("-- the same through twemproxy (nutcracker) instead of Marshal:\n");
        report2("GET, 1 conn", "raw", "twemproxy", rg, tr, rounds);
        report2("SET, 1 conn", "raw", "twemproxy", rs, ts, rounds);
        report2("GET, pipeline 16", "raw", "twemproxy", rp, mp, rounds);
        redisFree(tw);
    }
    if (nconn > 0) {
        multi_bench(path, port, tport, nconn, n, rounds);
    }
    if (nshard == 4) {
        shard_bench(c, ctx, n, rounds);
    }
    redisFree(ctx);
    marshal_client_close(c);
    mshm_writer_close(w, 1);
    unlink(path);
    {
        char lock[sizeof(path) + 8];

        snprintf(lock, sizeof(lock), "%s.lock", path);
        unlink(lock);
    }
    free(lat);
    return 0;
}
