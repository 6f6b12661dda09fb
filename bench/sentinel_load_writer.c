/*
 * sentinel_load_writer.c -- one writer process for bench/sentinel_load.sh
 * (issue workload 8: how many commands the sentinels receive around a
 * failover).  A SET every INTERVAL_US (an absolute CLOCK_MONOTONIC schedule,
 * no catch-up burst after a slow write) for at most SECONDS, two ways:
 *
 *   sentinel_load_writer marshal SEGMENT GROUP INTERVAL_US SECONDS
 *       through libmarshal-shm: the library reads the topology from the
 *       segment and never talks to a sentinel;
 *   sentinel_load_writer naive SPORT[,SPORT...] NAME INTERVAL_US SECONDS
 *       the comparison baseline, a "naive" Sentinel client (what redis-py's
 *       Sentinel pool does): plain hiredis to the master a sentinel names, and
 *       on each failed write (no reply, refused, error reply) one
 *       SENTINEL get-master-addr-by-name NAME on a persistent sentinel
 *       connection (next sentinel in the list when that one fails), then a
 *       reconnect when the address changed or the connection broke.
 *
 * Output (stdout, line buffered; times are CLOCK_REALTIME in us):
 *   ready <us> <port>            the first successful write
 *   err <us> <what>              the first failed write of an outage
 *   rec <us> <port> <n_failed>   the first successful write after an outage
 *   q <us> <port|->              naive: one sentinel query (the port it named)
 *   c <us> <ok> <err>            every 100 ms: the counts so far (achieved rate)
 *   done <us> ok=N err=N q=N     at the end (SECONDS elapsed, SIGTERM, SIGINT)
 * Exit 0 after "done", 1 when the start failed (no client, no master), 2 usage.
 * Prints figures only; asserts nothing.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "marshal/marshal.h"

#define MAX_SENTINELS 8
#define IO_TIMEOUT_MS 200

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static long long
rt_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/*
 * Pace the loop: one write every iv us on an absolute CLOCK_MONOTONIC
 * schedule (the write's own time included), without a catch-up burst after
 * a slow write: when behind, the schedule restarts from now.
 */
static void
pace(struct timespec *next, long iv)
{
    struct timespec now;
    long long n, t;

    clock_gettime(CLOCK_MONOTONIC, &now);
    t = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    if (next->tv_sec == 0 && next->tv_nsec == 0) {
        n = t;
    } else {
        n = (long long)next->tv_sec * 1000000000LL + next->tv_nsec;
    }
    n += (long long)iv * 1000LL;
    if (n <= t) {
        n = t;
    }
    next->tv_sec = (time_t)(n / 1000000000LL);
    next->tv_nsec = (long)(n % 1000000000LL);
    if (n > t) {
        /* EINTR (SIGTERM): the loop checks stop */
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL);
    }
}

struct counts {
    long long ok, err, q, streak;   /* streak: failed writes of the current outage */
    long long next_c;               /* when the next "c" line is due (us)          */
};

/* Account one write; prints ready / err / rec lines. */
static void
account(struct counts *k, int ok, int port, const char *what)
{
    long long now = rt_us();

    if (now >= k->next_c) {
        printf("c %lld %lld %lld\n", now, k->ok, k->err);
        k->next_c = now + 100000;
    }
    if (ok) {
        if (k->ok == 0) {
            printf("ready %lld %d\n", rt_us(), port);
        }
        if (k->streak > 0) {
            printf("rec %lld %d %lld\n", rt_us(), port, k->streak);
            k->streak = 0;
        }
        k->ok++;
    } else {
        if (k->streak == 0) {
            printf("err %lld %s\n", rt_us(), what);
        }
        k->streak++;
        k->err++;
    }
}

/* ---- through libmarshal-shm ----------------------------------------------------------- */

static int
run_marshal(const char *seg, const char *group, long iv, long long end, struct counts *k)
{
    marshal_options o;
    marshal_client *c = NULL;
    marshal_target *t;
    struct timespec next = {0, 0};
    long long i = 0;

    marshal_options_init(&o);
    o.command_timeout_ms = IO_TIMEOUT_MS;
    o.connect_timeout_ms = IO_TIMEOUT_MS;
    o.failover_wait_ms = 50;    /* keep one write short: the loop tries again anyway */
    if (marshal_client_open(seg, &o, &c) != MARSHAL_OK ||
        marshal_target_open(c, group, &t) != MARSHAL_OK) {
        fprintf(stderr, "sentinel_load_writer: %s\n", c ? marshal_client_errstr(c) : "open failed");
        marshal_client_close(c);
        return 1;
    }
    while (!stop && rt_us() < end) {
        redisReply *r = marshal_command(t, "SET slw:%d %lld", (int)(i % 1000), i);
        const char *host;
        int port = 0;

        i++;
        if (r != NULL && r->type != REDIS_REPLY_ERROR) {
            marshal_client_last_server(c, &host, &port);
            account(k, 1, port, NULL);
        } else {
            account(k, 0, 0, r != NULL ? "reply-error" : marshal_strerror(marshal_client_errcode(c)));
        }
        if (r != NULL) {
            freeReplyObject(r);
        }
        pace(&next, iv);
    }
    marshal_client_close(c);
    return 0;
}

/* ---- the naive Sentinel client ----------------------------------------------------------- */

struct naive {
    int sports[MAX_SENTINELS];
    int ns, cur;                /* sentinel ports, the one in use */
    const char *name;
    redisContext *sc;           /* persistent sentinel connection */
    redisContext *mc;           /* master connection */
    char host[64];
    int port;                   /* master address as last named */
};

static redisContext *
connect_to(const char *host, int port)
{
    struct timeval tv = {0, IO_TIMEOUT_MS * 1000};
    redisContext *ctx = redisConnectWithTimeout(host, port, tv);

    if (ctx == NULL || ctx->err) {
        if (ctx != NULL) {
            redisFree(ctx);
        }
        return NULL;
    }
    redisSetTimeout(ctx, tv);
    return ctx;
}

/*
 * One SENTINEL get-master-addr-by-name on the current sentinel (the next one
 * when it cannot be reached).  0 and nv->host/port set, or -1.
 */
static int
ask_sentinel(struct naive *nv, struct counts *k)
{
    int tries;

    for (tries = 0; tries < nv->ns; tries++) {
        redisReply *r;

        if (nv->sc == NULL) {
            nv->sc = connect_to("127.0.0.1", nv->sports[nv->cur]);
            if (nv->sc == NULL) {
                nv->cur = (nv->cur + 1) % nv->ns;
                continue;
            }
        }
        r = redisCommand(nv->sc, "SENTINEL get-master-addr-by-name %s", nv->name);
        k->q++;
        if (r == NULL) {
            printf("q %lld -\n", rt_us());
            redisFree(nv->sc);
            nv->sc = NULL;
            nv->cur = (nv->cur + 1) % nv->ns;
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
            snprintf(nv->host, sizeof(nv->host), "%s", r->element[0]->str);
            nv->port = atoi(r->element[1]->str);
            printf("q %lld %d\n", rt_us(), nv->port);
            freeReplyObject(r);
            return 0;
        }
        printf("q %lld -\n", rt_us());
        freeReplyObject(r);
        return -1;
    }
    return -1;
}

static int
run_naive(const char *ports, const char *name, long iv, long long end, struct counts *k)
{
    struct naive nv;
    struct timespec next = {0, 0};
    const char *p = ports;
    long long i = 0;

    memset(&nv, 0, sizeof(nv));
    nv.name = name;
    while (*p != '\0' && nv.ns < MAX_SENTINELS) {
        char *e;
        long v = strtol(p, &e, 10);

        if (e == p || v <= 0 || v > 65535 || (*e != ',' && *e != '\0')) {
            fprintf(stderr, "sentinel_load_writer: bad sentinel port list '%s'\n", ports);
            return 2;
        }
        nv.sports[nv.ns++] = (int)v;
        p = *e == ',' ? e + 1 : e;
    }
    if (nv.ns == 0 || ask_sentinel(&nv, k) != 0) {
        fprintf(stderr, "sentinel_load_writer: no sentinel named a master for %s\n", name);
        return 1;
    }
    while (!stop && rt_us() < end) {
        redisReply *r = NULL;
        int old_port = nv.port, ok;
        const char *what = "refused";

        if (nv.mc == NULL) {
            nv.mc = connect_to(nv.host, nv.port);
        }
        if (nv.mc != NULL) {
            r = redisCommand(nv.mc, "SET slw:%d %lld", (int)(i % 1000), i);
            what = r == NULL ? "io" : "reply-error";
        }
        i++;
        ok = r != NULL && r->type != REDIS_REPLY_ERROR;
        account(k, ok, nv.port, what);
        if (r == NULL && nv.mc != NULL) {
            redisFree(nv.mc);
            nv.mc = NULL;
        }
        if (r != NULL) {
            freeReplyObject(r);
        }
        if (!ok && ask_sentinel(&nv, k) == 0 && nv.port != old_port && nv.mc != NULL) {
            redisFree(nv.mc);    /* the sentinel names another master: go there */
            nv.mc = NULL;
        }
        pace(&next, iv);
    }
    if (nv.mc != NULL) {
        redisFree(nv.mc);
    }
    if (nv.sc != NULL) {
        redisFree(nv.sc);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct counts k;
    struct sigaction sa;
    long iv;
    long long secs, end;
    int rc;

    if (argc != 6 || (strcmp(argv[1], "marshal") != 0 && strcmp(argv[1], "naive") != 0)) {
        fprintf(stderr, "usage: sentinel_load_writer marshal SEGMENT GROUP INTERVAL_US SECONDS\n"
                        "       sentinel_load_writer naive SPORT[,SPORT...] NAME INTERVAL_US SECONDS\n");
        return 2;
    }
    iv = atol(argv[4]);
    secs = atoll(argv[5]);
    if (iv < 0 || iv > 10000000L || secs <= 0 || secs > 86400) {
        fprintf(stderr, "sentinel_load_writer: INTERVAL_US 0..10000000, SECONDS 1..86400\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&k, 0, sizeof(k));
    end = rt_us() + secs * 1000000LL;
    if (argv[1][0] == 'm') {
        rc = run_marshal(argv[2], argv[3], iv, end, &k);
    } else {
        rc = run_naive(argv[2], argv[3], iv, end, &k);
    }
    if (rc == 0) {
        printf("done %lld ok=%lld err=%lld q=%lld\n", rt_us(), k.ok, k.err, k.q);
    }
    return rc;
}
