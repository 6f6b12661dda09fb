/*
 * async_bench.c -- the asynchronous API (include/marshal/async.h on libev)
 * against raw hiredis redisAsyncContext + hiredis's libev adapter, on the
 * same loop type and the same redis-server, in one run; then how fast
 * commands parked during a master outage leave once the controller
 * publishes the master again; and the loop's largest stall meanwhile.
 *
 *   async_bench --port P --segment PATH --server-pid PID --server-dir DIR
 *               [--n N] [--rounds K (0: no throughput)] [--reps R (0: no wake runs)]
 *               [--parked W] [--pin CPU] [--baseline-idle-ms MS]
 *               [--pin-pid PID ...] [--wake-pinned] [--smoke]
 *
 * bench/async_bench.sh starts the redis-server on a free loopback port and
 * marshal-controller publishing a static group "bench" (that server as its
 * master, no replicas) into PATH, and passes the pids.  Prints figures;
 * asserts none of them (exit 0 when every measurement ran and every command
 * succeeded).
 *
 * 1. Throughput.  One connection, `depth` commands in flight (1, 16, 256),
 *    each callback issuing the next until N (x5 at depth 16, x10 at 256)
 *    are done: GET and SET, raw (redisAsyncCommand) and marshal
 *    (marshal_async_command on the group's target), both on the one libev
 *    loop of this process.  Per round, for every (command, depth), raw and
 *    marshal run back to back, the order alternating between rounds; the
 *    ratio marshal/raw of a round compares runs seconds apart.  During this
 *    phase this process, the redis-server and the controller are pinned to
 *    one CPU (--pin, default 0; -1 = not pinned; every thread of each
 *    process, sched_setaffinity), as run_all.sh pins client_bench: on a VM
 *    an idle vCPU takes tens of microseconds to wake, and where the
 *    scheduler puts client and server would dominate the ratio.  On one CPU
 *    the ratio is the per-command CPU cost.  The loop thread's own CPU time
 *    per command (CLOCK_THREAD_CPUTIME_ID) is printed alongside.
 *
 * 2. Wake latency.  Affinities restored (unless --wake-pinned).  A driver
 *    thread, R times: kill -9 the group's redis-server; wait (blocking API:
 *    marshal_client_wait + marshal_target_info_get) until the controller
 *    publishes the group without a master; have the loop issue W writes
 *    (the first an EVAL that SETs and returns the server's TIME, the others
 *    SETs), which all park; restart redis-server on the same port.  The
 *    controller's health checks see it up and publish the master; the
 *    library is woken through the controller's wake socket and sends the
 *    parked writes on a new connection.  The publish instant is the
 *    CLOCK_MONOTONIC stamp of the MASTER_UP ring event, which
 *    mshm_w_commit() takes right after the new state became visible and
 *    before its futex wake and the wake-socket send (read back through the
 *    shm core after the repetition: nothing else waits on the segment at
 *    that moment).  From it:
 *      loop woken     the loop iteration (its start: an ev_check stamp) in
 *                     which the handle counted a wake-socket wakeup
 *      dispatched     the iteration in which it opened the connection for
 *                     the parked writes (marshal_async_stats.connects moved)
 *      server ran #1  the server's TIME inside the EVAL, against the
 *                     event's CLOCK_REALTIME stamp: when the first parked
 *                     write executed on the server, which bounds when it
 *                     was sent (connect + write happen before it)
 *      callback #1 / #W  CLOCK_MONOTONIC in the write callbacks
 *    and, for scale, in the same repetition before the publish: a fresh
 *    blocking hiredis connection to the idle server running the same EVAL
 *    (connect() -> the server's TIME), the path without the library.  The
 *    restarted server is warmed up first (one EVAL + SET) as a failover's
 *    promoted replica would be; a repetition where the publish came before
 *    that was done is not counted.
 *
 * 3. Loop stall.  An ev_timer repeating every 1 ms on the same loop, running
 *    during every depth-256 run (raw and marshal alike) and during the whole
 *    of phase 2; the largest gap between two of its callbacks is printed
 *    (the timer's own granularity included: an idle loop is measured first),
 *    with "busy", the most CPU time the loop thread used within one gap: a
 *    gap far above its busy time is the machine (runqueue wait, or on this
 *    kind of VM the hypervisor, which reports no steal time), not the loop.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <marshal/adapters/libev.h>

#include "bench_util.h"
#include "mshm_read.h"

#define MAX_ROUNDS  64
#define MAX_REPS    200
#define MAX_PARKED  1000
#define MAX_PIN     1024       /* threads pinned (all processes together)     */
#define MAX_STAMPS  16         /* loop iterations recorded per repetition     */
#define N_DEPTHS    3
#define GROUP       "bench"

extern char **environ;

static const int depths[N_DEPTHS] = {1, 16, 256};
static const int depth_mult[N_DEPTHS] = {1, 5, 10};

/* Command line. */
static struct {
    int port;
    const char *seg;
    pid_t server_pid;          /* the redis-server the script started          */
    const char *server_dir;    /* where restarted servers keep their logs      */
    long n;
    int rounds, reps, parked, pin, wake_pinned, smoke;
    int base_idle_ms;          /* baseline: how long the server idles first    */
    pid_t pin_pids[8];
    int n_pin_pids;
} opt = {.n = 20000, .rounds = 7, .reps = 30, .parked = 100, .pin = 0, .base_idle_ms = 30};

static struct ev_loop *loop;
static redisAsyncContext *rac;     /* raw hiredis                             */
static marshal_async *ma;          /* libmarshal-shm async handle ...         */
static marshal_target *mt;         /* ... and its target "bench"              */

static void
die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "async_bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static uint64_t
thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "1.07 0.95 0.80" from /proc/loadavg ("?" if unreadable). */
static const char *
loadavg(void)
{
    static char buf[64];
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;

    snprintf(buf, sizeof(buf), "?");
    if (f != NULL) {
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) {
            snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", a, b, c);
        }
        fclose(f);
    }
    return buf;
}

/* ---- pinning: every thread of the given processes, restorable ---------------------------- */

/* A thread whose affinity we changed, and what it was. */
static struct {
    pid_t tid;
    cpu_set_t old;
} pins[MAX_PIN];
static int n_pins;

static void
pin_process(pid_t pid, int cpu)
{
    char path[64];
    struct dirent *de;
    cpu_set_t one;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (d == NULL) {
        die("pin: %s: %s", path, strerror(errno));
    }
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    while ((de = readdir(d)) != NULL && n_pins < MAX_PIN) {
        pid_t tid = (pid_t)atoi(de->d_name);

        if (tid <= 0 || sched_getaffinity(tid, sizeof(pins[0].old), &pins[n_pins].old) != 0) {
            continue;
        }
        if (sched_setaffinity(tid, sizeof(one), &one) != 0) {
            die("pin: thread %d of %d to CPU %d: %s", (int)tid, (int)pid, cpu, strerror(errno));
        }
        pins[n_pins++].tid = tid;
    }
    closedir(d);
}

static void
unpin_all(void)
{
    int i;

    for (i = 0; i < n_pins; i++) {
        (void)sched_setaffinity(pins[i].tid, sizeof(pins[i].old), &pins[i].old); /* gone: fine */
    }
    n_pins = 0;
}

/* ---- the 1 ms stall probe --------------------------------------------------------------- */

/*
 * Gaps between the probe's callbacks.  A long gap is the loop's own work
 * only if the loop thread was on a CPU for it: "busy" is the thread's
 * on-CPU time within one gap (schedstat's sum_exec_runtime).  The rest of a
 * gap is runqueue wait (2 CPUs shared with redis-server, the controller and
 * anything else), sleeping past the timeout, or the hypervisor running
 * something else (this guest reports no steal time).
 */
struct gapstat {
    uint64_t max_ns;           /* largest gap                                  */
    uint64_t max_busy_ns;      /* most on-CPU time of the loop within one gap  */
    uint64_t n;                /* gaps measured                                */
    uint64_t over2;            /* gaps > 2 ms                                  */
};

static ev_timer gap_w;
static uint64_t gap_last, gap_last_run;
static struct gapstat gap_all;     /* since gap_start()                       */
static struct gapstat gap_win;     /* inside a wake window (phase 2)          */
static int gap_win_on;
static int schedstat_fd = -1;      /* /proc/thread-self/schedstat of the loop */

/* The loop thread's time on a CPU, ns (0 if unknown). */
static uint64_t
on_cpu_ns(void)
{
    char buf[128];
    unsigned long long run, wait;
    ssize_t n;

    if (schedstat_fd < 0) {
        return 0;
    }
    n = pread(schedstat_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return sscanf(buf, "%llu %llu", &run, &wait) == 2 ? (uint64_t)run : 0;
}

static void
gap_add(struct gapstat *g, uint64_t d, uint64_t busy)
{
    g->n++;
    if (d > g->max_ns) {
        g->max_ns = d;
    }
    if (busy > g->max_busy_ns) {
        g->max_busy_ns = busy;
    }
    if (d > 2000000) {
        g->over2++;
    }
}

static void
gap_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    uint64_t t = now_ns(), run = on_cpu_ns(), d = t - gap_last, busy = run - gap_last_run;

    (void)l;
    (void)w;
    (void)revents;
    gap_add(&gap_all, d, busy);
    if (gap_win_on) {
        gap_add(&gap_win, d, busy);
    }
    gap_last = t;
    gap_last_run = run;
}

static void
gap_start(void)
{
    memset(&gap_all, 0, sizeof(gap_all));
    ev_now_update(loop);
    gap_last_run = on_cpu_ns();
    gap_last = now_ns();
    ev_timer_set(&gap_w, 0.001, 0.001);
    ev_timer_start(loop, &gap_w);
}

static struct gapstat
gap_stop(void)
{
    ev_timer_stop(loop, &gap_w);
    return gap_all;
}

/* ---- phase 1: throughput ---------------------------------------------------------------- */

enum { RAW = 0, MAR = 1 };
static const char *const side_name[2] = {"raw", "marshal"};

/* One run: n commands of one kind, depth in flight. */
struct run {
    int side, set;
    long n, issued, done;
    int failed;
    char err[160];
    uint64_t t0, t1;
};

static void issue(struct run *r);

static void
run_fail(struct run *r, const char *fmt, ...)
{
    va_list ap;

    if (r->failed) {
        return;
    }
    r->failed = 1;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
}

static void
one_done(struct run *r)
{
    r->done++;
    if (!r->failed && r->issued < r->n) {
        issue(r);
    }
    if (r->done == r->issued && (r->failed || r->issued == r->n)) {
        r->t1 = now_ns();
        ev_break(loop, EVBREAK_ONE);
    }
}

static void
raw_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *rep = reply;
    struct run *r = priv;

    (void)ac;
    if (rep == NULL) {
        run_fail(r, "raw: no reply (%s)", ac->errstr);
    } else if (rep->type == REDIS_REPLY_ERROR) {
        run_fail(r, "raw: %s", rep->str);
    }
    one_done(r);
}

static void
mar_cb(marshal_async *a, redisReply *rep, const marshal_result *res, void *priv)
{
    struct run *r = priv;

    (void)a;
    if (res->status != MARSHAL_OK) {
        run_fail(r, "marshal: %s (%s)", marshal_strerror(res->status), res->errstr);
    } else if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        run_fail(r, "marshal: %s", rep != NULL ? rep->str : "no reply");
    }
    one_done(r);
}

static void
issue(struct run *r)
{
    int k = (int)(r->issued & 1023), rc;

    if (r->side == RAW) {
        rc = r->set ? redisAsyncCommand(rac, raw_cb, r, "SET ab:%d v", k)
                    : redisAsyncCommand(rac, raw_cb, r, "GET ab:%d", k);
        if (rc != REDIS_OK) {
            run_fail(r, "redisAsyncCommand failed (%s)", rac->errstr);
            return;
        }
    } else {
        rc = r->set ? marshal_async_command(mt, mar_cb, r, "SET ab:%d v", k)
                    : marshal_async_command(mt, mar_cb, r, "GET ab:%d", k);
        if (rc != MARSHAL_OK) {
            run_fail(r, "marshal_async_command: %s", marshal_strerror(rc));
            return;
        }
    }
    r->issued++;
}

/* Figures of one run. */
struct res {
    double rps;
    double cpu_ns;             /* loop thread CPU per command                 */
    struct gapstat gap;        /* depth 256 only                              */
};

static ev_timer watchdog_w;
static const char *watchdog_what;

static void
watchdog_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    die("%s: no progress for 60 s", watchdog_what);
}

static void
one_run(int side, int set, int depth, long n, int probe, struct res *out)
{
    struct run r;
    uint64_t c0;
    int i;

    memset(&r, 0, sizeof(r));
    r.side = side;
    r.set = set;
    r.n = n;
    watchdog_what = side_name[side];
    ev_now_update(loop);
    ev_timer_set(&watchdog_w, 60., 0.);
    ev_timer_start(loop, &watchdog_w);
    if (probe) {
        gap_start();
    }
    c0 = thread_cpu_ns();
    r.t0 = now_ns();
    for (i = 0; i < depth && i < n && !r.failed; i++) {
        issue(&r);
    }
    if (r.issued > 0) {
        ev_run(loop, 0);
    }
    if (probe) {
        out->gap = gap_stop();
    }
    ev_timer_stop(loop, &watchdog_w);
    if (r.failed) {
        die("%s %s depth %d: %s", side_name[side], set ? "SET" : "GET", depth, r.err);
    }
    out->rps = (double)n * 1e9 / (double)(r.t1 - r.t0);
    out->cpu_ns = (double)(thread_cpu_ns() - c0) / (double)n;
}

static double
median_d(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
raw_connected(const redisAsyncContext *ac, int status)
{
    (void)ac;
    if (status != REDIS_OK) {
        die("raw connect failed: %s", ac->errstr);
    }
    ev_break(loop, EVBREAK_ONE);
}

static struct res tp[2][N_DEPTHS][2][MAX_ROUNDS];    /* [set][depth][side][round] */

static void
phase_throughput(void)
{
    struct res w;
    int r, d, set, k, side;

    rac = redisAsyncConnect("127.0.0.1", opt.port);
    if (rac == NULL || rac->err) {
        die("redisAsyncConnect: %s", rac != NULL ? rac->errstr : "out of memory");
    }
    redisLibevAttach(loop, rac);
    redisAsyncSetConnectCallback(rac, raw_connected);
    ev_run(loop, 0);
    /* the keys GET reads, and both connections warm */
    one_run(RAW, 1, 256, 1024, 0, &w);
    one_run(MAR, 1, 256, 1024, 0, &w);
    one_run(RAW, 0, 16, 1024, 0, &w);
    one_run(MAR, 0, 16, 1024, 0, &w);
    for (r = 0; r < opt.rounds; r++) {
        for (d = 0; d < N_DEPTHS; d++) {
            for (set = 0; set < 2; set++) {
                for (k = 0; k < 2; k++) {
                    side = (r & 1) ? 1 - k : k;     /* raw first in even rounds */
                    one_run(side, set, depths[d], opt.n * depth_mult[d], d == N_DEPTHS - 1,
                            &tp[set][d][side][r]);
                }
            }
        }
        fprintf(stderr, "[round %d/%d done]\n", r + 1, opt.rounds);
    }
    redisAsyncFree(rac);
    rac = NULL;
}

static void
report_throughput(const struct gapstat *idle)
{
    double a[MAX_ROUNDS], b[MAX_ROUNDS], q[MAX_ROUNDS], ca[MAX_ROUNDS], cb[MAX_ROUNDS];
    int d, set, r, n = opt.rounds;

    printf("-- throughput: one connection each, `depth` commands in flight, refilled from the "
           "callback; commands/s; ratio = marshal/raw of the same round\n");
    printf("%-4s %5s %8s %12s %12s  %-28s %s\n", "cmd", "depth", "per run", "raw /s",
           "marshal /s", "ratio median (min - max)", "loop CPU ns/cmd raw / marshal");
    for (d = 0; d < N_DEPTHS; d++) {
        for (set = 0; set < 2; set++) {
            double lo = 1e9, hi = 0;

            for (r = 0; r < n; r++) {
                a[r] = tp[set][d][RAW][r].rps;
                b[r] = tp[set][d][MAR][r].rps;
                q[r] = b[r] / a[r];
                ca[r] = tp[set][d][RAW][r].cpu_ns;
                cb[r] = tp[set][d][MAR][r].cpu_ns;
                lo = q[r] < lo ? q[r] : lo;
                hi = q[r] > hi ? q[r] : hi;
            }
            printf("%-4s %5d %8ld %12.0f %12.0f  %.3f (%.3f - %.3f)%8s %7.0f / %.0f\n",
                   set ? "SET" : "GET", depths[d], opt.n * depth_mult[d], median_d(a, n),
                   median_d(b, n), median_d(q, n), lo, hi, "", median_d(ca, n),
                   median_d(cb, n));
        }
    }
    printf("-- loop stall: an ev_timer every 1 ms on the same loop; largest gap between two of "
           "its callbacks, ms: max over runs [median of the runs' max]; busy = the most CPU time "
           "the loop thread used within one gap (schedstat); >2ms = gaps over 2 ms\n");
    printf("%-30s %6.2f, busy %.2f (%" PRIu64 " gaps, %" PRIu64 " >2ms)\n", "idle loop, 0.5 s",
           (double)idle->max_ns / 1e6, (double)idle->max_busy_ns / 1e6, idle->n, idle->over2);
    d = N_DEPTHS - 1;
    for (set = 0; set < 2; set++) {
        int side;

        for (side = 0; side < 2; side++) {
            uint64_t mx = 0, mo = 0, over = 0;
            char name[64];

            for (r = 0; r < n; r++) {
                const struct gapstat *g = &tp[set][d][side][r].gap;

                a[r] = (double)g->max_ns / 1e6;
                mx = g->max_ns > mx ? g->max_ns : mx;
                mo = g->max_busy_ns > mo ? g->max_busy_ns : mo;
                over += g->over2;
            }
            snprintf(name, sizeof(name), "%s depth %d, %s", set ? "SET" : "GET", depths[d],
                     side_name[side]);
            printf("%-30s %6.2f [%.2f], busy %.2f (%" PRIu64 " >2ms)\n", name, (double)mx / 1e6,
                   median_d(a, n), (double)mo / 1e6, over);
        }
    }
}

/* ---- phase 2: wake latency ---------------------------------------------------------------- */

/* One parked write. */
struct wrec {
    int idx;
    int status, outcome;
    uint64_t cb_ns;            /* CLOCK_MONOTONIC in its callback              */
    uint64_t srv_real_ns;      /* #0 only: the server's TIME                   */
    char err[120];
};

/* One repetition as the loop saw it (copied under the mutex when done). */
struct loopview {
    uint64_t wake_it[MAX_STAMPS];  /* iterations that counted a wake-socket wakeup */
    int n_wake;
    uint64_t conn_it[MAX_STAMPS];  /* iterations that opened a connection           */
    int n_conn;
    struct gapstat gap;            /* the probe, park -> last callback              */
};

/* Driver <-> loop. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int parked_done, parked_ok, all_done;
    char park_err[160];
    struct loopview lv;
} sh = {.mu = PTHREAD_MUTEX_INITIALIZER};

static ev_async park_w, stop_w;
static ev_check check_w;
static ev_prepare prep_w;
static struct wrec wrecs[MAX_PARKED];
static int n_cb;                   /* loop: callbacks so far this repetition     */
static uint64_t it_start;          /* loop: start of the current iteration       */
static marshal_async_stats last_st;
static struct loopview lv;         /* loop's working copy                        */

static void
check_cb(struct ev_loop *l, ev_check *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    it_start = now_ns();
}

/* Before the loop blocks: did the iteration that just ended wake or connect? */
static void
prep_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
    marshal_async_stats st;

    (void)l;
    (void)w;
    (void)revents;
    marshal_async_stats_get(ma, &st);
    if (st.wakes != last_st.wakes && lv.n_wake < MAX_STAMPS) {
        lv.wake_it[lv.n_wake++] = it_start;
    }
    if (st.connects != last_st.connects && lv.n_conn < MAX_STAMPS) {
        lv.conn_it[lv.n_conn++] = it_start;
    }
    last_st = st;
}

static void
wake_cb(marshal_async *a, redisReply *rep, const marshal_result *res, void *priv)
{
    struct wrec *w = priv;

    (void)a;
    w->cb_ns = now_ns();
    w->status = res->status;
    w->outcome = res->outcome;
    if (res->status != MARSHAL_OK) {
        snprintf(w->err, sizeof(w->err), "%s (%s)", marshal_strerror(res->status), res->errstr);
    } else if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        w->status = MARSHAL_ERR_PROTOCOL;
        snprintf(w->err, sizeof(w->err), "%s", rep != NULL ? rep->str : "no reply");
    } else if (w->idx == 0) {
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
            rep->element[0]->type == REDIS_REPLY_STRING) {
            w->srv_real_ns = strtoull(rep->element[0]->str, NULL, 10) * 1000000000ull +
                             strtoull(rep->element[1]->str, NULL, 10) * 1000ull;
        }
    }
    if (++n_cb == opt.parked) {
        gap_win_on = 0;
        lv.gap = gap_win;
        pthread_mutex_lock(&sh.mu);
        sh.lv = lv;
        sh.all_done = 1;
        pthread_cond_signal(&sh.cv);
        pthread_mutex_unlock(&sh.mu);
    }
}

/* Parked write #1: a SET that returns the server's clock. */
static const char script[] = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('TIME')";

/* The driver asks: issue the writes; they must all park. */
static void
park_cb(struct ev_loop *l, ev_async *w, int revents)
{
    marshal_async_stats s0, s1;
    char err[160] = "";
    int i, rc;

    (void)l;
    (void)w;
    (void)revents;
    memset(&lv, 0, sizeof(lv));
    memset(&gap_win, 0, sizeof(gap_win));
    gap_win_on = 1;
    n_cb = 0;
    marshal_async_stats_get(ma, &s0);
    for (i = 0; i < opt.parked; i++) {
        memset(&wrecs[i], 0, sizeof(wrecs[i]));
        wrecs[i].idx = i;
        rc = i == 0 ? marshal_async_command(mt, wake_cb, &wrecs[i], "EVAL %s 1 wk:0 v", script)
                    : marshal_async_command(mt, wake_cb, &wrecs[i], "SET wk:%d v", i);
        if (rc != MARSHAL_OK) {
            die("parked write %d: %s", i, marshal_strerror(rc));
        }
    }
    marshal_async_stats_get(ma, &s1);
    if (s1.parked - s0.parked != (uint64_t)opt.parked) {
        snprintf(err, sizeof(err), "%" PRIu64 " of %d writes parked",
                 s1.parked - s0.parked, opt.parked);
    }
    last_st = s1;
    pthread_mutex_lock(&sh.mu);
    sh.parked_done = 1;
    sh.parked_ok = err[0] == '\0';
    snprintf(sh.park_err, sizeof(sh.park_err), "%s", err);
    pthread_cond_signal(&sh.cv);
    pthread_mutex_unlock(&sh.mu);
}

static void
stop_cb(struct ev_loop *l, ev_async *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(l, EVBREAK_ONE);
}

static void
idle_end_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(l, EVBREAK_ONE);
}

/* Results of one repetition, in ns relative to the publish. */
struct rep {
    int ok;
    int64_t woke, dispatched, srv, cb1, cbn;
    int64_t restart_to_pub;    /* spawn -> publish: the controller's health checks */
    int64_t base_srv;          /* baseline: connect() -> the idle server ran an EVAL */
    struct gapstat gap;
};

static struct rep reps[MAX_REPS];
static int n_reps_ok, n_reps_failed;

/* Wait (mutex held) until *flag or deadline_ms from now; 0 on timeout. */
static int
wait_flag(int *flag, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!*flag) {
        if (pthread_cond_timedwait(&sh.cv, &sh.mu, &ts) == ETIMEDOUT) {
            return *flag;
        }
    }
    return 1;
}

/* has_master of the group as published, -1 on error. */
static int
has_master(marshal_target *t)
{
    marshal_target_info ti;

    return marshal_target_info_get(t, &ti) == MARSHAL_OK ? ti.has_master : -1;
}

/* Block (futex, bounded) until the group's has_master is want. */
static int
await_master(marshal_client *c, marshal_target *t, int want, int ms)
{
    uint64_t end = now_ns() + (uint64_t)ms * 1000000ull;

    while (has_master(t) != want) {
        if (now_ns() >= end) {
            return 0;
        }
        (void)marshal_client_wait(c, 50);
    }
    return 1;
}

/* Restart redis-server on the port: its parent thread is the driver (PDEATHSIG). */
static pid_t
spawn_server(int rep)
{
    char port[16], log[512], *argv[20];
    posix_spawn_file_actions_t fa;
    int i = 0, rc;
    pid_t pid;

    snprintf(port, sizeof(port), "%d", opt.port);
    snprintf(log, sizeof(log), "%s/redis-restart-%d.log", opt.server_dir, rep % 4);
    if (access("/usr/bin/setpriv", X_OK) == 0) {
        /* dies with this thread (and so with this process) even if we crash */
        argv[i++] = "/usr/bin/setpriv";
        argv[i++] = "--pdeathsig";
        argv[i++] = "KILL";
        argv[i++] = "--";
    }
    argv[i++] = "redis-server";
    argv[i++] = "--port";
    argv[i++] = port;
    argv[i++] = "--bind";
    argv[i++] = "127.0.0.1";
    argv[i++] = "--save";
    argv[i++] = "";
    argv[i++] = "--appendonly";
    argv[i++] = "no";
    argv[i++] = "--dir";
    argv[i++] = (char *)opt.server_dir;
    argv[i++] = "--logfile";
    argv[i++] = log;
    argv[i] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        die("spawn redis-server: %s", strerror(rc));
    }
    return pid;
}

/*
 * Bring the restarted server to the state of a running one before the
 * controller publishes it (a failover promotes a warm replica, not a fresh
 * process): connect, run the parked EVAL's script once (compiled and
 * cached) and a SET.  0 when it could not be done.
 */
static int
warm_server(void)
{
    struct timeval tv = {0, 100000};
    uint64_t end = now_ns() + 5000000000ull;
    redisContext *ctx = NULL;
    redisReply *r1, *r2;
    int ok;

    while (ctx == NULL || ctx->err) {
        if (ctx != NULL) {
            redisFree(ctx);
        }
        if (now_ns() >= end) {
            return 0;
        }
        usleep(1000);
        ctx = redisConnectWithTimeout("127.0.0.1", opt.port, tv);
    }
    r1 = redisCommand(ctx, "EVAL %s 1 wk:warm v", script);
    r2 = redisCommand(ctx, "SET wk:warm v");
    ok = r1 != NULL && r1->type == REDIS_REPLY_ARRAY && r2 != NULL && r2->type != REDIS_REPLY_ERROR;
    freeReplyObject(r1);
    freeReplyObject(r2);
    redisFree(ctx);
    return ok;
}

/*
 * Baseline for "dispatched -> server ran #1": the same path without the
 * library, a fresh blocking hiredis connection to the same idle server and
 * the same EVAL, from connect() (CLOCK_REALTIME) to the server's TIME.
 * Run once the server has idled --baseline-idle-ms (30), still before the
 * publish (a repetition where it was not is not counted).  -1 on failure.
 */
static int64_t
baseline_connect(void)
{
    redisContext *ctx;
    redisReply *r;
    struct timespec ts;
    uint64_t t0;
    int64_t d = -1;

    usleep((useconds_t)opt.base_idle_ms * 1000u);
    clock_gettime(CLOCK_REALTIME, &ts);
    t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    ctx = redisConnect("127.0.0.1", opt.port);
    if (ctx == NULL || ctx->err) {
        redisFree(ctx);
        return -1;
    }
    r = redisCommand(ctx, "EVAL %s 1 wk:base v", script);
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        d = (int64_t)(strtoull(r->element[0]->str, NULL, 10) * 1000000000ull +
                      strtoull(r->element[1]->str, NULL, 10) * 1000ull - t0);
    }
    freeReplyObject(r);
    redisFree(ctx);
    return d;
}

static void
kill_server(pid_t pid, int ours)
{
    kill(pid, SIGKILL);
    if (ours) {
        (void)waitpid(pid, NULL, 0);
    }
}

/* The first MASTER_UP of group gi in the ring not yet read. */
static int
find_master_up(struct mshm_reader *r, uint32_t gi, struct mshm_event *out)
{
    struct mshm_event ev;
    uint64_t lost;
    int rc, found = 0;

    while ((rc = mshm_next_event(r, &ev, &lost)) != 0) {
        if (rc < 0) {
            continue;        /* lapped: cannot happen at these rates; skip */
        }
        if (!found && ev.type == MSHM_EV_MASTER_UP && ev.group_idx == gi) {
            *out = ev;
            found = 1;
        }
    }
    return found;
}

static void *
driver(void *arg)
{
    struct mshm_reader rd;
    struct mshm_event ev;
    struct loopview lvc;
    marshal_client *c;
    marshal_target *t;
    pid_t server = opt.server_pid;
    uint64_t t_spawn;
    int64_t base;
    int ours = 0, i, k;
    uint32_t gi;

    (void)arg;
    if (marshal_client_open(opt.seg, NULL, &c) != MARSHAL_OK ||
        marshal_target_open(c, GROUP, &t) != MARSHAL_OK) {
        die("driver: blocking client on %s failed", opt.seg);
    }
    memset(&rd, 0, sizeof(rd));
    if (mshm_attach(&rd, opt.seg, 0) != MSHM_OK || mshm_find_group(&rd, GROUP, &gi) != MSHM_OK) {
        die("driver: shm reader: %s", rd.errstr);
    }
    for (i = 0; i < opt.reps; i++) {
        struct rep *p = &reps[i];
        const struct wrec *w0 = &wrecs[0], *wn = &wrecs[opt.parked - 1];
        char why[200] = "";

        memset(p, 0, sizeof(*p));
        while (mshm_next_event(&rd, &ev, NULL) != 0) {
            /* skip what happened before this repetition */
        }
        kill_server(server, ours);
        if (!await_master(c, t, 0, 20000)) {
            die("rep %d: the controller did not publish the master down within 20 s", i + 1);
        }
        pthread_mutex_lock(&sh.mu);
        sh.parked_done = sh.all_done = 0;
        ev_async_send(loop, &park_w);
        if (!wait_flag(&sh.parked_done, 10000)) {
            die("rep %d: the loop did not park the writes", i + 1);
        }
        if (!sh.parked_ok) {
            snprintf(why, sizeof(why), "%s", sh.park_err);
        }
        pthread_mutex_unlock(&sh.mu);
        t_spawn = now_ns();
        server = spawn_server(i);
        ours = 1;
        if (!warm_server()) {
            die("rep %d: the restarted redis-server did not answer within 5 s", i + 1);
        }
        base = baseline_connect();
        if (why[0] == '\0' && has_master(t) != 0) {
            snprintf(why, sizeof(why), "published before the warm-up and baseline were done");
        }
        pthread_mutex_lock(&sh.mu);
        if (!wait_flag(&sh.all_done, 40000)) {
            die("rep %d: parked writes not all answered within 40 s", i + 1);
        }
        lvc = sh.lv;
        pthread_mutex_unlock(&sh.mu);
        p->gap = lvc.gap;
        for (k = 0; k < opt.parked && why[0] == '\0'; k++) {
            if (wrecs[k].status != MARSHAL_OK || wrecs[k].outcome != MARSHAL_OUTCOME_APPLIED) {
                snprintf(why, sizeof(why), "write %d: %s", k + 1,
                         wrecs[k].err[0] ? wrecs[k].err : marshal_outcome_name(wrecs[k].outcome));
            }
        }
        if (why[0] == '\0' && !find_master_up(&rd, gi, &ev)) {
            snprintf(why, sizeof(why), "no MASTER_UP event in the ring");
        }
        if (why[0] == '\0' && w0->srv_real_ns == 0) {
            snprintf(why, sizeof(why), "no server TIME in the EVAL reply");
        }
        if (why[0] != '\0') {
            fprintf(stderr, "[rep %d: not counted: %s]\n", i + 1, why);
            n_reps_failed++;
        } else {
            p->ok = 1;
            p->woke = p->dispatched = -1;
            for (k = 0; k < lvc.n_wake; k++) {
                if (lvc.wake_it[k] >= ev.mono_ns) {
                    p->woke = (int64_t)(lvc.wake_it[k] - ev.mono_ns);
                    break;
                }
            }
            for (k = 0; k < lvc.n_conn; k++) {
                if (lvc.conn_it[k] >= ev.mono_ns) {
                    p->dispatched = (int64_t)(lvc.conn_it[k] - ev.mono_ns);
                    break;
                }
            }
            p->srv = (int64_t)w0->srv_real_ns - (int64_t)ev.realtime_ns;
            p->cb1 = (int64_t)(w0->cb_ns - ev.mono_ns);
            p->cbn = (int64_t)(wn->cb_ns - ev.mono_ns);
            p->restart_to_pub = (int64_t)(ev.mono_ns - t_spawn);
            p->base_srv = base;
            n_reps_ok++;
            fprintf(stderr, "[rep %d: woke %.1f dispatched %.1f server %.1f cb1 %.1f cb%d %.1f us]\n",
                    i + 1, p->woke / 1e3, p->dispatched / 1e3, p->srv / 1e3, p->cb1 / 1e3,
                    opt.parked, p->cbn / 1e3);
        }
        if (!await_master(c, t, 1, 20000)) {
            die("rep %d: master not published up again", i + 1);
        }
    }
    kill_server(server, ours);
    mshm_detach(&rd);
    marshal_client_close(c);
    ev_async_send(loop, &stop_w);
    return NULL;
}

static struct gapstat wake_gap_all;

static void
phase_wake(void)
{
    pthread_condattr_t ca;
    pthread_t th;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sh.cv, &ca);
    pthread_condattr_destroy(&ca);
    ev_async_init(&park_w, park_cb);
    ev_async_start(loop, &park_w);
    ev_async_init(&stop_w, stop_cb);
    ev_async_start(loop, &stop_w);
    ev_check_init(&check_w, check_cb);
    ev_check_start(loop, &check_w);
    ev_prepare_init(&prep_w, prep_cb);
    ev_prepare_start(loop, &prep_w);
    marshal_async_stats_get(ma, &last_st);
    gap_start();
    if (pthread_create(&th, NULL, driver, NULL) != 0) {
        die("pthread_create failed");
    }
    ev_run(loop, 0);
    pthread_join(th, NULL);
    wake_gap_all = gap_stop();
    ev_check_stop(loop, &check_w);
    ev_prepare_stop(loop, &prep_w);
    ev_async_stop(loop, &park_w);
    ev_async_stop(loop, &stop_w);
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* One figure: n, p50, p99, max over the counted repetitions, in units of div ns. */
static void
row(const char *name, size_t off, double div)
{
    int64_t v[MAX_REPS];
    int i, n = 0, p99;

    for (i = 0; i < opt.reps; i++) {
        int64_t x = *(const int64_t *)((const char *)&reps[i] + off);

        if (reps[i].ok && x >= 0) {
            v[n++] = x;
        }
    }
    if (n == 0) {
        printf("  %-56s %4d\n", name, 0);
        return;
    }
    qsort(v, (size_t)n, sizeof(v[0]), cmp_i64);
    p99 = (n * 99 + 99) / 100 - 1;      /* nearest rank */
    printf("  %-56s %4d %9.1f %9.1f %9.1f\n", name, n, v[n / 2] / div, v[p99] / div,
           v[n - 1] / div);
}

static void
report_wake(void)
{
    uint64_t mx = 0, mo = 0, over = 0;
    char name[64];
    int i;

    printf("-- wake latency: kill -9 of the group's master, %d writes parked, redis-server "
           "restarted on its port and warmed up (one EVAL + SET) before the controller "
           "publishes it; %d repetitions, %s\n", opt.parked, opt.reps,
           opt.wake_pinned && opt.pin >= 0 ? "pinned as above" : "not pinned");
    printf("   t0 = the publish: CLOCK_MONOTONIC (CLOCK_REALTIME for 'server') stamped by the "
           "controller's mshm_w_commit in the MASTER_UP ring event, after the state is "
           "visible, before the futex and wake-socket wakes\n");
    printf("  %-56s %4s %9s %9s %9s\n", "t0 -> (us)", "n", "p50", "p99", "max");
    row("loop woken by the wake socket (iteration start)", offsetof(struct rep, woke), 1e3);
    row("parked writes dispatched (connect opened)", offsetof(struct rep, dispatched), 1e3);
    row("server ran write #1 (its TIME, realtime clock)", offsetof(struct rep, srv), 1e3);
    row("callback of write #1", offsetof(struct rep, cb1), 1e3);
    snprintf(name, sizeof(name), "callback of write #%d (the last)", opt.parked);
    row(name, offsetof(struct rep, cbn), 1e3);
    snprintf(name, sizeof(name), "(baseline) no library: the server idle %d ms, a fresh",
             opt.base_idle_ms);
    row(name, offsetof(struct rep, base_srv), 1e3);
    printf("    blocking hiredis connect() -> server ran the EVAL\n");
    row("(for scale, ms) restart -> t0: the controller's checks",
        offsetof(struct rep, restart_to_pub), 1e6);
    for (i = 0; i < opt.reps; i++) {
        if (reps[i].ok) {
            mx = reps[i].gap.max_ns > mx ? reps[i].gap.max_ns : mx;
            mo = reps[i].gap.max_busy_ns > mo ? reps[i].gap.max_busy_ns : mo;
            over += reps[i].gap.over2;
        }
    }
    printf("  loop stall (1 ms timer): largest gap %.2f ms (busy %.2f) over the whole phase "
           "(%" PRIu64 " gaps, %" PRIu64 " >2ms); %.2f ms (busy %.2f) inside the windows park -> "
           "last callback (%" PRIu64 " >2ms)\n",
           (double)wake_gap_all.max_ns / 1e6, (double)wake_gap_all.max_busy_ns / 1e6,
           wake_gap_all.n, wake_gap_all.over2, (double)mx / 1e6, (double)mo / 1e6, over);
    if (n_reps_failed > 0) {
        printf("  %d repetition(s) not counted (see the [rep ...] lines on stderr)\n",
               n_reps_failed);
    }
}

/* ---- main ------------------------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr, "usage: async_bench --port P --segment PATH --server-pid PID --server-dir DIR "
                    "[--n N] [--rounds K] [--reps R] [--parked W] [--pin CPU|-1] "
                    "[--pin-pid PID]... [--wake-pinned] [--baseline-idle-ms MS] [--smoke]\n");
    exit(2);
}

/* Bounded: the controller has published the group with its master up. */
static void
await_segment(void)
{
    uint64_t end = now_ns() + 30000000000ull;
    marshal_client *c = NULL;
    marshal_target *t = NULL;

    for (;;) {
        if (c == NULL && marshal_client_open(opt.seg, NULL, &c) != MARSHAL_OK) {
            marshal_client_close(c);
            c = NULL;
        }
        if (c != NULL && t == NULL && marshal_target_open(c, GROUP, &t) != MARSHAL_OK) {
            t = NULL;
        }
        if (t != NULL && has_master(t) == 1) {
            break;
        }
        if (now_ns() >= end) {
            die("%s: no group \"%s\" with its master up within 30 s", opt.seg, GROUP);
        }
        usleep(20000);
    }
    marshal_client_close(c);
}

int
main(int argc, char **argv)
{
    marshal_options o;
    struct gapstat idle;
    uint64_t t_start = now_ns();
    int i, rc;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--smoke") == 0) {
            opt.smoke = 1;
            opt.n = 200;
            opt.rounds = 2;
            opt.reps = 2;
            opt.parked = 16;
            continue;
        }
        if (strcmp(a, "--wake-pinned") == 0) {
            opt.wake_pinned = 1;
            continue;
        }
        if (v == NULL) {
            usage();
        }
        i++;
        if (strcmp(a, "--port") == 0) {
            opt.port = atoi(v);
        } else if (strcmp(a, "--segment") == 0) {
            opt.seg = v;
        } else if (strcmp(a, "--server-pid") == 0) {
            opt.server_pid = (pid_t)atoi(v);
        } else if (strcmp(a, "--server-dir") == 0) {
            opt.server_dir = v;
        } else if (strcmp(a, "--n") == 0) {
            opt.n = atol(v);
        } else if (strcmp(a, "--rounds") == 0) {
            opt.rounds = atoi(v);
        } else if (strcmp(a, "--reps") == 0) {
            opt.reps = atoi(v);
        } else if (strcmp(a, "--parked") == 0) {
            opt.parked = atoi(v);
        } else if (strcmp(a, "--baseline-idle-ms") == 0) {
            opt.base_idle_ms = atoi(v);
        } else if (strcmp(a, "--pin") == 0) {
            opt.pin = atoi(v);
        } else if (strcmp(a, "--pin-pid") == 0 && opt.n_pin_pids < 8) {
            opt.pin_pids[opt.n_pin_pids++] = (pid_t)atoi(v);
        } else {
            usage();
        }
    }
    if (opt.port <= 0 || opt.seg == NULL || opt.server_pid <= 0 || opt.server_dir == NULL ||
        opt.n < 16 || opt.rounds < 0 || opt.rounds > MAX_ROUNDS || opt.reps < 0 ||
        opt.reps > MAX_REPS || opt.parked < 1 || opt.parked > MAX_PARKED ||
        opt.pin >= CPU_SETSIZE || opt.base_idle_ms < 0 || opt.base_idle_ms > 10000) {
        usage();
    }
    await_segment();
    schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    loop = ev_default_loop(0);
    ev_init(&gap_w, gap_cb);
    ev_init(&watchdog_w, watchdog_cb);
    marshal_options_init(&o);
    o.failover_wait_ms = 15000;     /* parked through kill, detection and restart */
    rc = marshal_async_open(opt.seg, &o, &ma);
    if (rc != MARSHAL_OK) {
        die("marshal_async_open: %s", marshal_strerror(rc));
    }
    if ((rc = marshal_async_libev_attach(ma, loop)) != MARSHAL_OK ||
        (rc = marshal_async_target_open(ma, GROUP, &mt)) != MARSHAL_OK) {
        die("marshal async setup: %s", marshal_strerror(rc));
    }
    if (opt.pin >= 0) {
        pin_process(getpid(), opt.pin);
        for (i = 0; i < opt.n_pin_pids; i++) {
            pin_process(opt.pin_pids[i], opt.pin);
        }
    }
    printf("async_bench: 127.0.0.1:%d, group \"%s\" published by marshal-controller; libev %d.%d "
           "(backend %s); %s\n", opt.port, GROUP, ev_version_major(), ev_version_minor(),
           ev_backend(loop) == EVBACKEND_EPOLL ? "epoll" : "other",
           opt.pin >= 0 ? "throughput pinned to one CPU" : "nothing pinned");
    if (opt.pin >= 0) {
        printf("pinning: this process, the redis-server and the controller (every thread) on CPU "
               "%d for the throughput runs; %s for the wake-latency runs; %ld CPUs online\n",
               opt.pin, opt.wake_pinned ? "kept" : "restored", sysconf(_SC_NPROCESSORS_ONLN));
    }
    printf("load average at start: %s\n", loadavg());
    printf("%d rounds, raw and marshal back to back in each (order alternating); "
           "%ld / %ld / %ld commands per run at depth 1 / 16 / 256\n", opt.rounds, opt.n,
           opt.n * depth_mult[1], opt.n * depth_mult[2]);
    fflush(stdout);

    /* the probe alone: its own granularity on an idle loop */
    {
        ev_timer end;

        ev_timer_init(&end, idle_end_cb, 0.5, 0.);
        ev_now_update(loop);
        ev_timer_start(loop, &end);
        gap_start();
        ev_run(loop, 0);
        idle = gap_stop();
    }
    if (opt.rounds > 0) {
        phase_throughput();
        report_throughput(&idle);
    }
    fflush(stdout);
    if (!opt.wake_pinned) {
        unpin_all();
    }
    if (opt.reps > 0) {
        phase_wake();
        report_wake();
    }
    unpin_all();
    marshal_async_close(ma);
    printf("async_bench: done in %.1f s; load average at the end: %s\n",
           (double)(now_ns() - t_start) / 1e9, loadavg());
    return 0;
}
