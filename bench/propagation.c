/*
 * propagation.c -- how fast a publish reaches a blocked client, and what
 * concurrent readers cost the publisher (issue workload 4).
 *
 *   propagation [--rounds N] [--spacing-us US] [--readers K] [--block B] [--smoke]
 *
 * The program is the writer: it creates its own segment with the shm core's
 * writer (/dev/shm/mshm-prop-<pid>, no controller needed) holding one group
 * "prop" (master + 2 replicas).  Each round it publishes a master transition
 * the way the controller does: the master's health flips DOWN / UP, the
 * group's NO_MASTER flag and n_master_down / n_master_up counter move, and a
 * MASTER_DOWN / MASTER_UP ring event (epoch = round + 1) is queued.  It stamps
 * CLOCK_MONOTONIC just before mshm_w_commit() and just after it returns
 * (wall, and its own CPU time around the commit).
 *
 * A forked waiter process blocks on the segment and stamps when it sees the
 * round:
 *   lib  libmarshal-shm: marshal_client_open + marshal_target_open("prop") +
 *        marshal_client_on(MASTER_DOWN | MASTER_UP) + a marshal_client_wait()
 *        loop; the stamp is taken in the event callback (the event was
 *        derived from the segment: counters + ring);
 *   raw  the shm core: mshm_wait() on the notify word, then mshm_snap_group();
 *        stamps both when mshm_wait returned ("woke") and after the snapshot
 *        showed the round's counters ("sees").
 * Stamps go to a MAP_SHARED anonymous page indexed by round.  Rounds are
 * spaced (default 2 ms after the previous round was seen) so every round is a
 * cold wake of a process asleep in FUTEX_WAIT.
 *
 * Scenarios:
 *   1. idle: only the writer and the waiter (lib, then raw);
 *   2. 64 readers spinning: K processes attached read-only, each looping
 *      mshm_snap_group() of the group + mshm_generation(), sched_yield() every
 *      64 snapshots;
 *   3. 64 readers blocked in marshal_client_wait(): every publish wakes them
 *      all (the FUTEX_WAKE is part of the commit).
 * In 2 and 3 the readers exist for the whole scenario and are paused (asleep
 * on a private futex, not on the segment) or running in alternating blocks of
 * B rounds (A B A B ...), so "0 readers" and "K readers" are measured
 * interleaved under the same machine conditions.  The ratio printed is
 * median(commit with K running) / median(commit with them paused), overall
 * and as the median of the per-block-pair ratios.
 *
 * Prints figures; asserts none (exit 0 when every phase ran, whatever the
 * numbers; 1 on a setup failure).  Bounded: a fixed number of rounds, a
 * per-round deadline (a round not seen within 200 ms counts as missed), and
 * every child exits by itself after a time limit.  Children are forked with
 * PR_SET_PDEATHSIG and fds >= 3 closed; they are killed and reaped on every
 * exit path, and the segment and its lock file are unlinked (also on
 * SIGINT/SIGTERM/SIGHUP).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "marshal/marshal.h"
#include "mshm_atomic.h"
#include "mshm_read.h"
#include "mshm_write.h"

#define MAX_ROUNDS      100000
#define MAX_READERS     256
#define ROUND_DEADLINE_NS 200000000ull   /* a round not seen by then is missed */
#define CHILD_LIMIT_S   600              /* every child exits by itself after this */
#define TARGET_P99_NS   100000.0
#define TARGET_RATIO    1.1

/* ---- shared control page ------------------------------------------------- */

struct reader_stats {           /* one cache line per reader */
    uint64_t iters;             /* snapshots (spin) or wake-ups (wait) */
    uint64_t errors;
    uint32_t ready;             /* 1 attached, 2 failed */
    uint32_t paused;            /* 1 while asleep on the pause word */
    uint64_t pad[5];
};

struct shared {
    uint32_t stop;              /* children: leave your loop */
    uint32_t pause;             /* readers: 1 = sleep on this word */
    uint32_t waiter_ready;      /* 1 attached and waiting, 2 failed */
    uint32_t pad0;
    uint64_t waiter_events;     /* events the lib waiter was given */
    uint64_t waiter_odd;        /* events it could not place in a round */
    uint64_t pad1[5];
    struct reader_stats rd[MAX_READERS];
    /* per round, written by the waiter */
    uint64_t seen[MAX_ROUNDS];  /* lib: callback; raw: snapshot shows the round */
    uint64_t woke[MAX_ROUNDS];  /* raw: mshm_wait returned (first wake of the round) */
};

_Static_assert(sizeof(struct reader_stats) == 64, "one line per reader");

/* ---- state for cleanup --------------------------------------------------- */

static char g_path[128];
static char g_lock[160];
static pid_t g_parent;
static pid_t g_kids[MAX_READERS + 1];
static int g_nkids;
static struct shared *g_sh;
static volatile sig_atomic_t g_cleaned;


static uint64_t
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void
futex_wait_shared(uint32_t *word, uint32_t val, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    (void)syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
}

static void
futex_wake_all(uint32_t *word)
{
    (void)syscall(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

static void
reap_all(void)
{
    int i;

    for (i = 0; i < g_nkids; i++) {
        if (g_kids[i] > 0) {
            kill(g_kids[i], SIGKILL);
            while (waitpid(g_kids[i], NULL, 0) < 0 && errno == EINTR) {
            }
            g_kids[i] = 0;
        }
    }
    g_nkids = 0;
}

static void
cleanup(void)
{
    if (getpid() != g_parent || g_cleaned) {
        return;
    }
    g_cleaned = 1;
    reap_all();
    if (g_path[0] != '\0') {
        unlink(g_path);
        unlink(g_lock);
    }
}

static void
on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
die(const char *what, const char *detail)
{
    fprintf(stderr, "propagation: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);    /* atexit: children killed and reaped, files removed */
}



/* ---- children ------------------------------------------------------------ */

static void
child_setup(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != g_parent) {
        _exit(3);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    /* never keep the writer's lock file (or anything else) open */
    if (close_range(3, ~0u, 0) != 0) {
        int fd;

        for (fd = 3; fd < 1024; fd++) {
            close(fd);
        }
    }
}

static int
stopped(uint64_t limit)
{
    return __atomic_load_n(&g_sh->stop, __ATOMIC_ACQUIRE) != 0 || now_ns() > limit;
}

struct waiter_ctx {
    uint64_t count;     /* events placed so far */
    int nrounds;
};

static void
on_event(marshal_client *c, const marshal_event *ev, void *ud)
{
    struct waiter_ctx *w = ud;
    uint64_t t = now_ns();
    uint64_t idx;

    (void)c;
    __atomic_add_fetch(&g_sh->waiter_events, 1, __ATOMIC_RELAXED);
    /* from the ring the epoch names the round; from counters (seq 0) count */
    idx = ev->seq != 0 && ev->epoch > 0 ? ev->epoch - 1 : w->count;
    w->count = idx + 1;
    if (idx < (uint64_t)w->nrounds && g_sh->seen[idx] == 0) {
        __atomic_store_n(&g_sh->seen[idx], t, __ATOMIC_RELEASE);
    } else {
        __atomic_add_fetch(&g_sh->waiter_odd, 1, __ATOMIC_RELAXED);
    }
}

static void
waiter_lib(int nrounds)
{
    uint64_t limit = now_ns() + CHILD_LIMIT_S * 1000000000ull;
    struct waiter_ctx w = {0, nrounds};
    marshal_client *c = NULL;
    marshal_target *t = NULL;

    if (marshal_client_open(g_path, NULL, &c) != MARSHAL_OK ||
        marshal_target_open(c, "prop", &t) != MARSHAL_OK ||
        marshal_client_on(c, MARSHAL_EV_BIT(MARSHAL_EV_MASTER_DOWN) |
                                 MARSHAL_EV_BIT(MARSHAL_EV_MASTER_UP), on_event, &w) != MARSHAL_OK) {
        fprintf(stderr, "propagation: waiter: %s\n", c ? marshal_client_errstr(c) : "open failed");
        __atomic_store_n(&g_sh->waiter_ready, 2, __ATOMIC_RELEASE);
        _exit(2);
    }
    (void)marshal_client_poll(c);   /* baseline */
    __atomic_store_n(&g_sh->waiter_ready, 1, __ATOMIC_RELEASE);
    while (!stopped(limit)) {
        (void)marshal_client_wait(c, 50);
    }
    marshal_client_close(c);
    _exit(0);
}

static void
waiter_raw(int nrounds)
{
    uint64_t limit = now_ns() + CHILD_LIMIT_S * 1000000000ull;
    struct mshm_reader r;
    struct mshm_group_snap s;
    uint32_t seen, base;
    uint64_t t, idx, done = 0;

    memset(&r, 0, sizeof(r));
    if (mshm_attach(&r, g_path, 0) != MSHM_OK || mshm_snap_group(&r, 0, &s) != MSHM_OK) {
        fprintf(stderr, "propagation: raw waiter: attach: %s\n", r.errstr);
        __atomic_store_n(&g_sh->waiter_ready, 2, __ATOMIC_RELEASE);
        _exit(2);
    }
    base = s.group.n_master_down + s.group.n_master_up;
    seen = mshm_ld_acq(&mshm_hdr(&r)->notify);
    __atomic_store_n(&g_sh->waiter_ready, 1, __ATOMIC_RELEASE);
    while (!stopped(limit)) {
        if (mshm_wait(&r, &seen, 50) != 1) {
            continue;
        }
        t = now_ns();
        if (mshm_snap_group(&r, 0, &s) != MSHM_OK) {
            continue;
        }
        /* rounds published so far, counted by the group's transition counters */
        done = (uint32_t)(s.group.n_master_down + s.group.n_master_up - base);
        if (done == 0 || done > (uint64_t)nrounds) {
            continue;
        }
        idx = done - 1;
        if (g_sh->woke[idx] == 0) {
            __atomic_store_n(&g_sh->woke[idx], t, __ATOMIC_RELAXED);
            __atomic_store_n(&g_sh->seen[idx], now_ns(), __ATOMIC_RELEASE);
        }
    }
    mshm_detach(&r);
    _exit(0);
}

/* Sleep on the pause word while the parent says so; 1 if we paused. */
static int
maybe_pause(struct reader_stats *st)
{
    int paused = 0;

    while (__atomic_load_n(&g_sh->pause, __ATOMIC_ACQUIRE) != 0 &&
           __atomic_load_n(&g_sh->stop, __ATOMIC_ACQUIRE) == 0) {
        if (!paused) {
            __atomic_store_n(&st->paused, 1, __ATOMIC_RELEASE);
            paused = 1;
        }
        futex_wait_shared(&g_sh->pause, 1, 100);
    }
    if (paused) {
        __atomic_store_n(&st->paused, 0, __ATOMIC_RELEASE);
    }
    return paused;
}

static void
reader_spin(int id)
{
    struct reader_stats *st = &g_sh->rd[id];
    uint64_t limit = now_ns() + CHILD_LIMIT_S * 1000000000ull;
    struct mshm_reader r;
    struct mshm_group_snap s;
    uint64_t it = 0, errs = 0, cached = 0;
    int j;

    memset(&r, 0, sizeof(r));
    if (mshm_attach(&r, g_path, 0) != MSHM_OK) {
        __atomic_store_n(&st->ready, 2, __ATOMIC_RELEASE);
        _exit(2);
    }
    __atomic_store_n(&st->ready, 1, __ATOMIC_RELEASE);
    while (!stopped(limit)) {
        maybe_pause(st);
        for (j = 0; j < 64; j++) {
            if (mshm_snap_group(&r, 0, &s) != MSHM_OK) {
                errs++;
            }
            cached += mshm_generation(&r) != s.latch;
        }
        it += 64;
        __atomic_store_n(&st->iters, it, __ATOMIC_RELAXED);
        __atomic_store_n(&st->errors, errs, __ATOMIC_RELAXED);
        sched_yield();
    }
    (void)cached;
    mshm_detach(&r);
    _exit(0);
}

static void
reader_ev(marshal_client *c, const marshal_event *ev, void *ud)
{
    (void)c;
    (void)ev;
    (void)ud;
}

static void
reader_wait(int id)
{
    struct reader_stats *st = &g_sh->rd[id];
    uint64_t limit = now_ns() + CHILD_LIMIT_S * 1000000000ull;
    marshal_client *c = NULL;
    marshal_target *t = NULL;
    uint64_t it = 0;

    if (marshal_client_open(g_path, NULL, &c) != MARSHAL_OK ||
        marshal_target_open(c, "prop", &t) != MARSHAL_OK ||
        marshal_client_on(c, MARSHAL_EV_ALL, reader_ev, NULL) != MARSHAL_OK) {
        __atomic_store_n(&st->ready, 2, __ATOMIC_RELEASE);
        _exit(2);
    }
    __atomic_store_n(&st->ready, 1, __ATOMIC_RELEASE);
    while (!stopped(limit)) {
        maybe_pause(st);
        if (marshal_client_wait(c, 50) > 0) {
            it++;
            __atomic_store_n(&st->iters, it, __ATOMIC_RELAXED);
        }
    }
    marshal_client_close(c);
    _exit(0);
}

static pid_t
spawn(void (*fn)(int), int arg)
{
    pid_t pid;

    if (g_nkids >= MAX_READERS + 1) {
        die("too many children", NULL);
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        die("fork", strerror(errno));
    }
    if (pid == 0) {
        child_setup();
        fn(arg);
        _exit(0);
    }
    g_kids[g_nkids++] = pid;
    return pid;
}

/* Stop every child (flag, then SIGKILL after 3 s) and reap it. */
static void
stop_all(void)
{
    uint64_t deadline;
    int i, status;
    pid_t p;

    __atomic_store_n(&g_sh->stop, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&g_sh->pause, 0, __ATOMIC_RELEASE);
    futex_wake_all(&g_sh->pause);
    deadline = now_ns() + 3000000000ull;
    for (i = 0; i < g_nkids; i++) {
        for (;;) {
            p = waitpid(g_kids[i], &status, WNOHANG);
            if (p == g_kids[i] || (p < 0 && errno != EINTR)) {
                break;
            }
            if (now_ns() > deadline) {
                kill(g_kids[i], SIGKILL);
                while (waitpid(g_kids[i], &status, 0) < 0 && errno == EINTR) {
                }
                break;
            }
            sleep_ns(1000000);
        }
        g_kids[i] = 0;
    }
    g_nkids = 0;
    __atomic_store_n(&g_sh->stop, 0, __ATOMIC_RELEASE);
}

static void
wait_flag(uint32_t *flag, const char *what)
{
    uint64_t deadline = now_ns() + 10000000000ull;
    uint32_t v;

    for (;;) {
        v = __atomic_load_n(flag, __ATOMIC_ACQUIRE);
        if (v == 1) {
            return;
        }
        if (v == 2 || now_ns() > deadline) {
            die(what, "did not start");
        }
        sleep_ns(1000000);
    }
}

/* Wait until every reader is paused (want 1) or running (want 0). */
static int
readers_settle(int k, uint32_t want)
{
    uint64_t deadline = now_ns() + 2000000000ull;
    int i, n;

    for (;;) {
        for (i = n = 0; i < k; i++) {
            n += __atomic_load_n(&g_sh->rd[i].paused, __ATOMIC_ACQUIRE) == want;
        }
        if (n == k) {
            return 1;
        }
        if (now_ns() > deadline) {
            return 0;
        }
        sleep_ns(500000);
    }
}

/* ---- the writer ---------------------------------------------------------- */

static struct mshm_writer *g_w;
static uint32_t g_down;     /* transitions published: odd -> master down */

static struct mshm_writer *
make_segment(void)
{
    struct mshm_writer_opts o;
    struct mshm_writer *w;
    struct mshm_group g;
    char err[256];
    int i;

    memset(&o, 0, sizeof(o));
    o.path = g_path;
    o.mode = 0600;
    o.gid = (gid_t)-1;
    o.flags = MSHM_W_FORCE_REPLACE;
    o.hb_interval_ms = 1000;
    o.stale_after_ms = 3600000;  /* the benchmark heartbeats rarely */
    /* default capacities: the segment the controller makes */
    if (mshm_writer_open(&o, &w, NULL, err, sizeof(err)) != MSHM_OK) {
        die("writer open", err);
    }
    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "prop");
    g.flags = MSHM_GF_IN_USE;
    g.route = MSHM_ROUTE_SPLIT;
    g.power = 1;
    g.master_idx = 0;
    g.max_lag_ms = 10000;
    for (i = 0; i < 3; i++) {
        struct mshm_server s;

        memset(&s, 0, sizeof(s));
        snprintf(s.host, sizeof(s.host), "127.0.0.1");
        s.port = (uint16_t)(6379 + i);
        s.flags = MSHM_SF_IN_USE | (i > 0 ? MSHM_SF_READABLE : 0);
        s.role = i == 0 ? MSHM_ROLE_MASTER : MSHM_ROLE_REPLICA;
        s.health = MSHM_HEALTH_UP;
        s.power = 1;
        s.group_idx = 0;
        s.longname_idx = MSHM_NONE;
        mshm_w_put_server(w, (uint32_t)i, &s);
        g.servers[i] = (uint32_t)i;
    }
    g.n_servers = 3;
    mshm_w_put_group(w, 0, &g);
    if (mshm_w_commit(w) < 0) {
        die("first commit failed", NULL);
    }
    mshm_w_heartbeat(w);
    return w;
}

/* Stage one master transition (down on odd publishes, up on even ones). */
static void
stage_transition(struct mshm_writer *w, uint64_t round_tag)
{
    struct mshm_group g = *mshm_w_group(w, 0);
    struct mshm_server s = *mshm_w_server(w, 0);
    struct mshm_event ev;
    int down;

    g_down++;
    down = g_down & 1;
    s.health = down ? MSHM_HEALTH_DOWN : MSHM_HEALTH_UP;
    if (down) {
        s.n_down++;
        g.n_master_down++;
        g.flags |= MSHM_GF_NO_MASTER;
    } else {
        s.n_up++;
        g.n_master_up++;
        g.flags &= ~MSHM_GF_NO_MASTER;
    }
    mshm_w_put_server(w, 0, &s);
    mshm_w_put_group(w, 0, &g);
    memset(&ev, 0, sizeof(ev));
    ev.type = down ? MSHM_EV_MASTER_DOWN : MSHM_EV_MASTER_UP;
    ev.group_idx = 0;
    ev.server_idx = 0;
    ev.old_idx = MSHM_NONE;
    ev.new_idx = MSHM_NONE;
    ev.cluster_idx = MSHM_NONE;
    ev.epoch = round_tag;
    mshm_w_emit(w, &ev);
}

struct rounds {
    int n;
    uint64_t *commit_wall;  /* per round */
    uint64_t *commit_cpu;
    uint64_t *lat;          /* seen - before commit; 0 = missed */
    uint64_t *wlat;         /* raw: woke - before commit */
    int *cond;              /* 0 = readers paused / none, 1 = readers running */
};

/*
 * Publish rounds [from, to) of r: each one after the previous round was seen
 * (or missed) and spacing_ns more.
 */
static void
run_rounds(struct rounds *r, int from, int to, uint64_t spacing_ns, int cond)
{
    uint64_t t0, t1, c0, c1, deadline, s;
    int i;

    for (i = from; i < to; i++) {
        sleep_ns(spacing_ns);
        if ((i & 127) == 0) {
            mshm_w_heartbeat(g_w);
        }
        stage_transition(g_w, (uint64_t)i + 1);
        c0 = cpu_ns();
        t0 = now_ns();
        mshm_w_commit(g_w);
        t1 = now_ns();
        c1 = cpu_ns();
        r->commit_wall[i] = t1 - t0;
        r->commit_cpu[i] = c1 - c0;
        r->cond[i] = cond;
        deadline = t1 + ROUND_DEADLINE_NS;
        /* the waiter runs on the other CPU; sleep-poll (not spin) meanwhile */
        while ((s = __atomic_load_n(&g_sh->seen[i], __ATOMIC_ACQUIRE)) == 0 && now_ns() < deadline) {
            sleep_ns(200000);
        }
        r->lat[i] = s > t0 ? s - t0 : (s != 0 ? 1 : 0);
        s = __atomic_load_n(&g_sh->woke[i], __ATOMIC_RELAXED);
        r->wlat[i] = s > t0 ? s - t0 : (s != 0 ? 1 : 0);
    }
}

struct dist {
    int n, missed;
    double p50, p90, p99, max;
};

static struct dist
dist_of(const uint64_t *v, const int *cond, int want, int n, uint64_t *tmp)
{
    struct dist d;
    int i, m = 0;

    memset(&d, 0, sizeof(d));
    for (i = 0; i < n; i++) {
        if (cond != NULL && cond[i] != want) {
            continue;
        }
        if (v[i] == 0) {
            d.missed++;
            continue;
        }
        tmp[m++] = v[i];
    }
    d.n = m;
    if (m == 0) {
        return d;
    }
    qsort(tmp, (size_t)m, sizeof(tmp[0]), cmp_u64);
    d.p50 = (double)tmp[m / 2];
    d.p90 = (double)tmp[(size_t)m * 90 / 100];
    d.p99 = (double)tmp[(size_t)m * 99 / 100];
    d.max = (double)tmp[m - 1];
    return d;
}

static void
print_dist(const char *scenario, const char *what, struct dist d, double target)
{
    printf("  %-36s %-24s %6d %5d %9.1f %9.1f %9.1f %9.1f", scenario, what, d.n, d.missed,
           d.p50 / 1e3, d.p90 / 1e3, d.p99 / 1e3, d.max / 1e3);
    if (target > 0 && d.n > 0) {
        printf("   p99 %s %.0f us", d.p99 <= target ? "<=" : "> ", target / 1e3);
    }
    printf("\n");
}

static void
print_head(void)
{
    printf("  %-36s %-24s %6s %5s %9s %9s %9s %9s\n", "scenario", "figure (us)", "n", "miss",
           "p50", "p90", "p99", "max");
}

static void
reset_round_marks(void)
{
    memset(g_sh->seen, 0, sizeof(g_sh->seen));
    memset(g_sh->woke, 0, sizeof(g_sh->woke));
    g_sh->waiter_events = 0;
    g_sh->waiter_odd = 0;
}

static void
alloc_rounds(struct rounds *r, int n)
{
    r->n = n;
    r->commit_wall = calloc((size_t)n, sizeof(uint64_t));
    r->commit_cpu = calloc((size_t)n, sizeof(uint64_t));
    r->lat = calloc((size_t)n, sizeof(uint64_t));
    r->wlat = calloc((size_t)n, sizeof(uint64_t));
    r->cond = calloc((size_t)n, sizeof(int));
    if (!r->commit_wall || !r->commit_cpu || !r->lat || !r->wlat || !r->cond) {
        die("out of memory", NULL);
    }
}

static void
free_rounds(struct rounds *r)
{
    free(r->commit_wall);
    free(r->commit_cpu);
    free(r->lat);
    free(r->wlat);
    free(r->cond);
}

static void
start_waiter(void (*fn)(int), int nrounds)
{
    g_sh->waiter_ready = 0;
    spawn(fn, nrounds);
    wait_flag(&g_sh->waiter_ready, "the waiter");
    sleep_ns(20000000);     /* let it reach FUTEX_WAIT */
}

/* Scenario 1: nobody but the writer and one waiter. */
static void
scenario_idle(int raw, int n, uint64_t spacing, uint64_t *tmp)
{
    struct rounds r;
    const char *name = raw ? "idle, raw mshm_wait" : "idle, libmarshal-shm";

    alloc_rounds(&r, n);
    reset_round_marks();
    /* the group's counters keep counting across scenarios: the waiter's
     * baseline is taken at attach, round tags restart at 1 */
    start_waiter(raw ? waiter_raw : waiter_lib, n);
    run_rounds(&r, 0, n, spacing, 0);
    stop_all();
    print_dist(name, raw ? "commit -> seen (snap)" : "commit -> callback", dist_of(r.lat, NULL, 0, n, tmp),
               TARGET_P99_NS);
    if (raw) {
        print_dist(name, "commit -> futex return", dist_of(r.wlat, NULL, 0, n, tmp), 0);
    }
    print_dist(name, "commit wall", dist_of(r.commit_wall, NULL, 0, n, tmp), 0);
    print_dist(name, "commit cpu", dist_of(r.commit_cpu, NULL, 0, n, tmp), 0);
    if (!raw && (g_sh->waiter_events != (uint64_t)n || g_sh->waiter_odd != 0)) {
        printf("  (waiter got %" PRIu64 " events for %d rounds, %" PRIu64 " unplaced)\n",
               g_sh->waiter_events, n, g_sh->waiter_odd);
    }
    free_rounds(&r);
}

static double
median_of_cond(const uint64_t *v, const int *cond, int want, int from, int to, uint64_t *tmp)
{
    int i, m = 0;

    for (i = from; i < to; i++) {
        if (cond[i] == want && v[i] != 0) {
            tmp[m++] = v[i];
        }
    }
    if (m == 0) {
        return 0;
    }
    qsort(tmp, (size_t)m, sizeof(tmp[0]), cmp_u64);
    return (double)tmp[m / 2];
}

/*
 * Scenarios 2 and 3: k readers of a kind, paused / running in alternating
 * blocks of `block` rounds, the lib waiter measuring throughout.
 */
static void
scenario_readers(int wait_kind, int k, int n, int block, uint64_t spacing, uint64_t *tmp)
{
    struct rounds r;
    char name[64];
    double *ratios[2], wall_b, wall_a;
    int nr = 0, i, from, cond, unsettled = 0;
    uint64_t it0 = 0, it1 = 0, t0, t1, el_run = 0;

    snprintf(name, sizeof(name), "%d readers %s", k, wait_kind ? "in client_wait" : "spinning");
    alloc_rounds(&r, n);
    ratios[0] = calloc((size_t)n / (size_t)block + 1, sizeof(double));
    ratios[1] = calloc((size_t)n / (size_t)block + 1, sizeof(double));
    if (ratios[0] == NULL || ratios[1] == NULL) {
        die("out of memory", NULL);
    }
    reset_round_marks();
    __atomic_store_n(&g_sh->pause, 1, __ATOMIC_RELEASE);
    for (i = 0; i < k; i++) {
        memset(&g_sh->rd[i], 0, sizeof(g_sh->rd[i]));
        spawn(wait_kind ? reader_wait : reader_spin, i);
    }
    for (i = 0; i < k; i++) {
        wait_flag(&g_sh->rd[i].ready, "a reader");
    }
    unsettled += !readers_settle(k, 1);
    start_waiter(waiter_lib, n);
    for (from = 0, cond = 0; from < n; from += block, cond ^= 1) {
        int to = from + block < n ? from + block : n;

        __atomic_store_n(&g_sh->pause, cond ? 0 : 1, __ATOMIC_RELEASE);
        if (cond) {
            futex_wake_all(&g_sh->pause);
        }
        unsettled += !readers_settle(k, cond ? 0 : 1);
        sleep_ns(5000000);  /* running readers get going / paused ones are asleep */
        t0 = now_ns();
        for (i = 0; cond && i < k; i++) {
            it0 += __atomic_load_n(&g_sh->rd[i].iters, __ATOMIC_RELAXED);
        }
        run_rounds(&r, from, to, spacing, cond);
        t1 = now_ns();
        for (i = 0; cond && i < k; i++) {
            it1 += __atomic_load_n(&g_sh->rd[i].iters, __ATOMIC_RELAXED);
        }
        el_run += cond ? t1 - t0 : 0;
        if (cond && from >= block) {
            /* this block (B) against the A block just before it */
            wall_b = median_of_cond(r.commit_wall, r.cond, 1, from, to, tmp);
            wall_a = median_of_cond(r.commit_wall, r.cond, 0, from - block, from, tmp);
            ratios[0][nr] = wall_a > 0 ? wall_b / wall_a : 0;
            wall_b = median_of_cond(r.commit_cpu, r.cond, 1, from, to, tmp);
            wall_a = median_of_cond(r.commit_cpu, r.cond, 0, from - block, from, tmp);
            ratios[1][nr] = wall_a > 0 ? wall_b / wall_a : 0;
            nr++;
        }
    }
    stop_all();

    {
        struct dist a = dist_of(r.lat, r.cond, 0, n, tmp), b = dist_of(r.lat, r.cond, 1, n, tmp);
        struct dist ca = dist_of(r.commit_wall, r.cond, 0, n, tmp);
        struct dist cb = dist_of(r.commit_wall, r.cond, 1, n, tmp);
        struct dist pa = dist_of(r.commit_cpu, r.cond, 0, n, tmp);
        struct dist pb = dist_of(r.commit_cpu, r.cond, 1, n, tmp);
        char nm[80];

        snprintf(nm, sizeof(nm), "%s: paused", name);
        print_dist(nm, "commit -> callback", a, TARGET_P99_NS);
        print_dist(nm, "commit wall", ca, 0);
        print_dist(nm, "commit cpu", pa, 0);
        snprintf(nm, sizeof(nm), "%s: running", name);
        print_dist(nm, "commit -> callback", b, TARGET_P99_NS);
        print_dist(nm, "commit wall", cb, 0);
        print_dist(nm, "commit cpu", pb, 0);
        qsort(ratios[0], (size_t)nr, sizeof(double), cmp_dbl);
        qsort(ratios[1], (size_t)nr, sizeof(double), cmp_dbl);
        printf("  -> publish cost, %s / paused: wall p50 ratio %.3f (median of %d block pairs "
               "%.3f, range %.3f-%.3f); cpu p50 ratio %.3f (blocks %.3f)   target <= %.1fx: %s\n",
               name, ca.p50 > 0 ? cb.p50 / ca.p50 : 0, nr, nr ? ratios[0][nr / 2] : 0,
               nr ? ratios[0][0] : 0, nr ? ratios[0][nr - 1] : 0, pa.p50 > 0 ? pb.p50 / pa.p50 : 0,
               nr ? ratios[1][nr / 2] : 0, TARGET_RATIO,
               ca.p50 > 0 && cb.p50 / ca.p50 <= TARGET_RATIO ? "met" : "not met");
        printf("     readers did %.0f %s per second while running (all %d together)%s\n",
               el_run ? (double)(it1 - it0) / ((double)el_run / 1e9) : 0.0,
               wait_kind ? "wake-ups" : "snapshots", k,
               unsettled ? "; some pause/resume switches timed out" : "");
    }
    free(ratios[0]);
    free(ratios[1]);
    free_rounds(&r);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: propagation [--rounds N] [--spacing-us US] [--readers K] [--block B] "
               "[--no-raw] [--no-wait-readers] [--smoke]\n"
               "  --rounds N        rounds per scenario (default 2000, max %d)\n"
               "  --spacing-us US   pause after a round was seen (default 2000)\n"
               "  --readers K       concurrent reader processes (default 64, max %d)\n"
               "  --block B         rounds per paused/running block (default 100)\n"
               "  --smoke           50 rounds, blocks of 10 (CI: proves the program runs)\n",
            MAX_ROUNDS, MAX_READERS);
}

static void
print_machine(void)
{
    char buf[256] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");

    while (f != NULL && fgets(buf, sizeof(buf), f) != NULL) {
        if (strncmp(buf, "model name", 10) == 0) {
            break;
        }
        buf[0] = '\0';
    }
    if (f != NULL) {
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    printf("machine: %ld CPUs, %s\n", sysconf(_SC_NPROCESSORS_ONLN),
           strchr(buf, ':') ? strchr(buf, ':') + 2 : "?");
    f = fopen("/proc/loadavg", "r");
    if (f != NULL && fgets(buf, sizeof(buf), f) != NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        printf("load average at start: %s\n", buf);
    }
    if (f != NULL) {
        fclose(f);
    }
}

int
main(int argc, char **argv)
{
    int n = 2000, k = 64, block = 100, smoke = 0, raw = 1, waitr = 1, i;
    uint64_t spacing = 2000000, t_start = now_ns();
    uint64_t *tmp;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--spacing-us") == 0 && i + 1 < argc) {
            spacing = (uint64_t)atoi(argv[++i]) * 1000u;
        } else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc) {
            k = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--block") == 0 && i + 1 < argc) {
            block = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-raw") == 0) {
            raw = 0;
        } else if (strcmp(argv[i], "--no-wait-readers") == 0) {
            waitr = 0;
        } else if (strcmp(argv[i], "--smoke") == 0) {
            smoke = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (smoke) {
        n = 50;
        block = 10;
    }
    if (n < 2 || n > MAX_ROUNDS || k < 1 || k > MAX_READERS || block < 1 || block > n ||
        spacing > 1000000000u) {
        usage(stderr);
        return 2;
    }

    g_parent = getpid();
    snprintf(g_path, sizeof(g_path), "/dev/shm/mshm-prop-%ld", (long)g_parent);
    snprintf(g_lock, sizeof(g_lock), "%s.lock", g_path);
    g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    tmp = calloc((size_t)n, sizeof(uint64_t));
    if (g_sh == MAP_FAILED || tmp == NULL) {
        die("mmap", strerror(errno));
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    /* nanosleep()'s default 50 us slack would stretch the spacing only, but
     * the polling for the stamp should not lag either */
    prctl(PR_SET_TIMERSLACK, 1UL);

    g_w = make_segment();
    print_machine();
    printf("propagation: segment %s (%.2f MiB, default capacities), group \"prop\" (1 master + "
           "2 replicas); %d rounds per scenario, %.1f ms apart%s\n",
           g_path, (double)mshm_w_geo(g_w)->total_size / 1048576.0, n, (double)spacing / 1e6,
           smoke ? " (smoke)" : "");
    printf("each round: master DOWN/UP (server + group records, counters, 1 ring event), "
           "CLOCK_MONOTONIC before mshm_w_commit -> the waiter's stamp\n\n");
    print_head();
    scenario_idle(0, n, spacing, tmp);
    if (raw) {
        scenario_idle(1, n, spacing, tmp);
    }
    printf("\n");
    scenario_readers(0, k, n, block, spacing, tmp);
    if (waitr) {
        printf("\n");
        scenario_readers(1, k, n, block, spacing, tmp);
    }
    printf("\n(%d CPUs: with more runnable processes than CPUs, wake latency includes waiting "
           "for a CPU; 'commit cpu' is the writer's own CPU time)\n",
           (int)sysconf(_SC_NPROCESSORS_ONLN));
    printf("propagation: done in %.1f s\n", (double)(now_ns() - t_start) / 1e9);
    mshm_writer_close(g_w, 1);
    free(tmp);
    return 0;
}
