/*
 * shm_bench.c -- figures for the shared-memory segment core.
 *
 * Prints ns/op (median, min and max over several rounds) for the three hot
 * operations of the segment, each with no other process running and with
 * concurrent processes (spinning readers, a writer publishing every 100 us):
 *
 *   1. the cached "has anything changed?" check (one mshm_generation()),
 *   2. mshm_snap_group() of a group of 1 master + 2 replicas,
 *   3. mshm_w_commit() of one changed server, and of 1 group + 3 servers.
 *
 * This is a program that prints figures, never a timed assertion: it exits
 * 0 whenever every measurement ran, whatever the numbers.  --smoke runs tiny
 * iteration counts so CI can prove the program still works.
 *
 * Processes: the parent measures.  Children are forked with fds >= 3 closed
 * (so they never hold the writer's lock) and PR_SET_PDEATHSIG; they are
 * stopped through a private shared control page, then killed and reaped.
 * The segment lives at /dev/shm/mshm-bench-<pid> and is unlinked at exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "mshm_atomic.h"
#include "mshm_read.h"
#include "mshm_write.h"

/* ---- parameters ---------------------------------------------------------- */

#define N_READERS     4
#define BENCH_GROUPS  1024u         /* groups populated (default capacity)   */
#define BENCH_GI      517u          /* the group every benchmark snapshots   */
#define WRITER_PERIOD_NS 100000ull  /* writer child publishes every 100 us   */

#define TARGET_GEN_NS     5.0
#define TARGET_SNAP_NS    100.0
#define TARGET_PUBLISH_NS 20000.0

struct params {
    int smoke;
    int rounds;
    uint64_t gen_iters;     /* per round */
    uint64_t snap_iters;    /* per round */
    uint64_t pub_iters;     /* per round */
    unsigned settle_ms;     /* let children get going before measuring */
};

/* ---- time ---------------------------------------------------------------- */

/* now_ns(): bench_util.h */

static uint64_t
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- control page shared with the children ------------------------------- */

struct ctl_line {
    uint64_t v[8];
};

struct child_stats {          /* one cache line per child */
    uint32_t ready;           /* 1 = attached and looping, 2 = failed */
    uint32_t pad;
    uint64_t iters;           /* reader: snap+gen iterations; writer: publishes */
    uint64_t busy;            /* reader: MSHM_ERR_BUSY; writer: commit ns total */
    uint64_t errors;          /* reader: other errors; writer: max commit ns    */
    uint64_t changes;         /* reader: generation changes seen                */
    uint64_t elapsed_ns;      /* wall time the loop ran                          */
    uint64_t late;            /* writer: periods overrun by > 1 period           */
    uint64_t pad2;
};

struct ctl {
    struct ctl_line stop;     /* written once by the parent per phase */
    struct child_stats reader[N_READERS];
    struct child_stats writer;
};

_Static_assert(sizeof(struct child_stats) == 64, "one line per child");

/* ---- global state for cleanup (also used from the signal handler) -------- */

static char g_path[128];
static char g_lock_path[160];
static pid_t g_children[N_READERS + 1];
static volatile sig_atomic_t g_cleaned;
static pid_t g_parent;
static struct ctl *g_ctl;

static void
kill_children(void)
{
    size_t i;

    for (i = 0; i < sizeof(g_children) / sizeof(g_children[0]); i++) {
        if (g_children[i] > 0) {
            kill(g_children[i], SIGKILL);
            while (waitpid(g_children[i], NULL, 0) < 0 && errno == EINTR) {
            }
            g_children[i] = 0;
        }
    }
}

static void
cleanup(void)
{
    if (getpid() != g_parent || g_cleaned) {
        return;
    }
    g_cleaned = 1;
    kill_children();
    if (g_path[0] != '\0') {
        unlink(g_path);
        unlink(g_lock_path);
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
die(const char *fmt, const char *detail)
{
    fprintf(stderr, "shm_bench: ");
    fprintf(stderr, fmt, detail);
    fprintf(stderr, "\n");
    exit(1);    /* atexit cleanup kills the children and unlinks the segment */
}

/* ---- statistics ---------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}


struct result {
    double med, min, max;     /* wall ns/op over rounds */
    double cpu_med;           /* this process's CPU ns/op, median round */
};

static struct result
summarise(double *wall, double *cpu, int n)
{
    struct result r;

    qsort(wall, (size_t)n, sizeof(*wall), cmp_double);
    qsort(cpu, (size_t)n, sizeof(*cpu), cmp_double);
    r.min = wall[0];
    r.max = wall[n - 1];
    r.med = (n & 1) ? wall[n / 2] : (wall[n / 2 - 1] + wall[n / 2]) / 2;
    r.cpu_med = (n & 1) ? cpu[n / 2] : (cpu[n / 2 - 1] + cpu[n / 2]) / 2;
    return r;
}

/* "0.42 ns", "48.1 ns", "2.31 us" */
static const char *
fmt_ns(char *buf, size_t len, double ns)
{
    if (ns < 10) {
        snprintf(buf, len, "%.2f ns", ns);
    } else if (ns < 1000) {
        snprintf(buf, len, "%.1f ns", ns);
    } else if (ns < 1e6) {
        snprintf(buf, len, "%.2f us", ns / 1e3);
    } else {
        snprintf(buf, len, "%.2f ms", ns / 1e6);
    }
    return buf;
}

/* ---- measured loops (noinline: easy to find with objdump -d) ------------- */

/*
 * The cached check as a client does it before each command.  The latch load
 * is an acquire atomic: the compiler must emit one load per iteration (on
 * x86-64 a plain mov from the mapping; verified with objdump -d).
 */
__attribute__((noinline)) static uint64_t
gen_check_loop(const struct mshm_reader *r, uint64_t n, uint64_t *cached_io)
{
    uint64_t cached = *cached_io, changes = 0, i, g;

    for (i = 0; i < n; i++) {
        g = mshm_generation(r);
        if (__builtin_expect(g != cached, 0)) {
            cached = g;
            changes++;
        }
    }
    *cached_io = cached;
    return changes;
}

__attribute__((noinline)) static uint64_t
snap_loop(const struct mshm_reader *r, uint32_t gi, uint64_t n, struct mshm_group_snap *s,
          uint64_t *bad)
{
    uint64_t i, sink = 0;

    for (i = 0; i < n; i++) {
        if (mshm_snap_group(r, gi, s) != MSHM_OK) {
            (*bad)++;
        }
        sink += s->latch;
    }
    return sink;
}

/* ---- benchmarks ---------------------------------------------------------- */

struct bench_ctx {
    const struct params *p;
    struct mshm_reader *r;
    struct mshm_writer *w;    /* NULL while a writer child owns the segment */
    uint32_t gi;
};

static struct result
bench_gen(const struct bench_ctx *c, uint64_t *changes)
{
    double wall[64], cpu[64];
    uint64_t cached = mshm_generation(c->r), t0, t1, c0, c1;
    int k;

    *changes = 0;
    gen_check_loop(c->r, c->p->gen_iters / 10 + 1, &cached);  /* warm up */
    for (k = 0; k < c->p->rounds; k++) {
        c0 = cpu_ns();
        t0 = now_ns();
        *changes += gen_check_loop(c->r, c->p->gen_iters, &cached);
        t1 = now_ns();
        c1 = cpu_ns();
        wall[k] = (double)(t1 - t0) / (double)c->p->gen_iters;
        cpu[k] = (double)(c1 - c0) / (double)c->p->gen_iters;
    }
    return summarise(wall, cpu, c->p->rounds);
}

static struct result
bench_snap(const struct bench_ctx *c, uint64_t *bad)
{
    double wall[64], cpu[64];
    struct mshm_group_snap s;
    uint64_t t0, t1, c0, c1, sink = 0;
    int k;

    *bad = 0;
    if (mshm_snap_group(c->r, c->gi, &s) != MSHM_OK || s.group.n_servers != 3) {
        die("%s", "cannot snapshot the benchmark group (expected 3 servers)");
    }
    sink += snap_loop(c->r, c->gi, c->p->snap_iters / 10 + 1, &s, bad);
    *bad = 0;
    for (k = 0; k < c->p->rounds; k++) {
        c0 = cpu_ns();
        t0 = now_ns();
        sink += snap_loop(c->r, c->gi, c->p->snap_iters, &s, bad);
        t1 = now_ns();
        c1 = cpu_ns();
        wall[k] = (double)(t1 - t0) / (double)c->p->snap_iters;
        cpu[k] = (double)(c1 - c0) / (double)c->p->snap_iters;
    }
    __asm__ __volatile__("" : : "r"(sink));
    return summarise(wall, cpu, c->p->rounds);
}

/* Flip lag_ms of server si in the writer's model (always a real change). */
static void
flip_server(struct mshm_writer *w, uint32_t si)
{
    struct mshm_server s = *mshm_w_server(w, si);

    s.lag_ms = s.lag_ms == 5 ? 7 : 5;
    if (mshm_w_put_server(w, si, &s) != MSHM_OK) {
        die("%s", "mshm_w_put_server failed");
    }
}

static void
flip_group(struct mshm_writer *w, uint32_t gi)
{
    struct mshm_group g = *mshm_w_group(w, gi);

    g.master_epoch++;
    if (mshm_w_put_group(w, gi, &g) != MSHM_OK) {
        die("%s", "mshm_w_put_group failed");
    }
}

struct pub_result {
    struct result r;
    uint64_t p50, p99, p999, max;  /* per-commit ns over all rounds */
    int records;                   /* records one commit published  */
};

/* servers == 1: one server changed; servers == 3: the group + its 3 servers. */
static struct pub_result
bench_publish(const struct bench_ctx *c, int servers)
{
    struct pub_result pr;
    double wall[64], cpu[64];
    uint64_t n = c->p->pub_iters, *lat, t0, t1, c0, c1, sum;
    uint32_t base = c->gi * 3;
    uint64_t i;
    int k, j;

    lat = malloc(sizeof(*lat) * n * (size_t)c->p->rounds);
    if (lat == NULL) {
        die("%s", "out of memory");
    }
    pr.records = 0;
    for (i = 0; i < n / 10 + 1; i++) {                       /* warm up */
        flip_server(c->w, base + 1);
        mshm_w_commit(c->w);
    }
    for (k = 0; k < c->p->rounds; k++) {
        sum = 0;
        c0 = cpu_ns();
        for (i = 0; i < n; i++) {
            if (servers == 1) {
                flip_server(c->w, base + 1);
            } else {
                flip_group(c->w, c->gi);
                for (j = 0; j < 3; j++) {
                    flip_server(c->w, base + (uint32_t)j);
                }
            }
            t0 = now_ns();
            pr.records = mshm_w_commit(c->w);
            t1 = now_ns();
            lat[(uint64_t)k * n + i] = t1 - t0;
            sum += t1 - t0;
        }
        c1 = cpu_ns();
        wall[k] = (double)sum / (double)n;
        cpu[k] = (double)(c1 - c0) / (double)n;   /* includes the puts */
    }
    pr.r = summarise(wall, cpu, c->p->rounds);
    n *= (uint64_t)c->p->rounds;
    qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
    pr.p50 = lat[n / 2];
    pr.p99 = lat[n * 99 / 100];
    pr.p999 = lat[n * 999 / 1000];
    pr.max = lat[n - 1];
    free(lat);
    return pr;
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
    /* never keep the parent's fds: above all not the writer's lock file */
    if (close_range(3, ~0u, 0) != 0) {
        int fd;

        for (fd = 3; fd < 1024; fd++) {
            close(fd);
        }
    }
}

static int
stopped(void)
{
    return __atomic_load_n(&g_ctl->stop.v[0], __ATOMIC_ACQUIRE) != 0;
}

static void
reader_child(int id, uint32_t gi)
{
    struct child_stats *cs = &g_ctl->reader[id];
    struct mshm_reader r;
    struct mshm_group_snap s;
    uint64_t it = 0, busy = 0, errs = 0, changes = 0, cached, g, t0;
    int rc, j;

    memset(&r, 0, sizeof(r));
    rc = mshm_attach(&r, g_path, 0);
    if (rc != MSHM_OK) {
        fprintf(stderr, "shm_bench: reader %d: attach: %s\n", id, r.errstr);
        __atomic_store_n(&cs->ready, 2, __ATOMIC_RELEASE);
        _exit(2);
    }
    cached = mshm_generation(&r);
    __atomic_store_n(&cs->ready, 1, __ATOMIC_RELEASE);
    t0 = now_ns();
    while (!stopped()) {
        for (j = 0; j < 64; j++) {
            rc = mshm_snap_group(&r, gi, &s);
            if (rc == MSHM_ERR_BUSY) {
                busy++;
            } else if (rc != MSHM_OK) {
                errs++;
            }
            g = mshm_generation(&r);
            if (g != cached) {
                cached = g;
                changes++;
            }
        }
        it += 64;
    }
    cs->elapsed_ns = now_ns() - t0;
    cs->iters = it;
    cs->busy = busy;
    cs->errors = errs;
    cs->changes = changes;
    mshm_detach(&r);
    _exit(0);
}

static void
writer_child(uint32_t gi)
{
    struct child_stats *cs = &g_ctl->writer;
    struct mshm_writer_opts o;
    struct mshm_writer *w;
    struct timespec ts;
    char err[256];
    uint64_t next, t, t0, t1, pubs = 0, total = 0, mx = 0, late = 0, start;
    int rc, how;

    /* the default 50 us timer slack would stretch a 100 us period a lot */
    prctl(PR_SET_TIMERSLACK, 1UL);
    memset(&o, 0, sizeof(o));
    o.path = g_path;
    o.gid = (gid_t)-1;
    rc = mshm_writer_open(&o, &w, &how, err, sizeof(err));
    if (rc != MSHM_OK || how != MSHM_ADOPTED) {
        fprintf(stderr, "shm_bench: writer child: open: %s (%s)\n", mshm_strerror(rc),
                rc == MSHM_OK ? "not adopted" : err);
        __atomic_store_n(&cs->ready, 2, __ATOMIC_RELEASE);
        _exit(2);
    }
    __atomic_store_n(&cs->ready, 1, __ATOMIC_RELEASE);
    start = next = now_ns();
    while (!stopped()) {
        next += WRITER_PERIOD_NS;
        ts.tv_sec = (time_t)(next / 1000000000ull);
        ts.tv_nsec = (long)(next % 1000000000ull);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        t = now_ns();
        if (t > next + WRITER_PERIOD_NS) {
            late++;
            next = t;          /* no catch-up bursts: keep the period */
        }
        /* worst case for readers: the group they snapshot changes each time */
        flip_server(w, gi * 3 + 1 + (uint32_t)(pubs & 1));
        t0 = now_ns();
        mshm_w_commit(w);
        t1 = now_ns();
        pubs++;
        total += t1 - t0;
        if (t1 - t0 > mx) {
            mx = t1 - t0;
        }
        if ((pubs & 1023) == 0) {
            mshm_w_heartbeat(w);
        }
    }
    cs->elapsed_ns = now_ns() - start;
    cs->iters = pubs;
    cs->busy = total;
    cs->errors = mx;
    cs->late = late;
    mshm_writer_close(w, 0);
    _exit(0);
}

static pid_t
spawn(int slot, void (*fn)(int, uint32_t), int id, uint32_t gi)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        child_setup();
        fn(id, gi);
        _exit(0);
    }
    g_children[slot] = pid;
    return pid;
}

static void
writer_entry(int id, uint32_t gi)
{
    (void)id;
    writer_child(gi);
}

static void
wait_ready(struct child_stats *cs, const char *what)
{
    uint64_t deadline = now_ns() + 10000000000ull;
    uint32_t st;

    for (;;) {
        st = __atomic_load_n(&cs->ready, __ATOMIC_ACQUIRE);
        if (st == 1) {
            return;
        }
        if (st == 2 || now_ns() > deadline) {
            die("%s did not start", what);
        }
        sleep_ms(1);
    }
}

static void
start_readers(uint32_t gi, unsigned settle_ms)
{
    int i;

    for (i = 0; i < N_READERS; i++) {
        memset(&g_ctl->reader[i], 0, sizeof(g_ctl->reader[i]));
        spawn(i, reader_child, i, gi);
    }
    for (i = 0; i < N_READERS; i++) {
        wait_ready(&g_ctl->reader[i], "a reader child");
    }
    sleep_ms(settle_ms);
}

static void
start_writer(uint32_t gi, unsigned settle_ms)
{
    memset(&g_ctl->writer, 0, sizeof(g_ctl->writer));
    spawn(N_READERS, writer_entry, 0, gi);
    wait_ready(&g_ctl->writer, "the writer child");
    sleep_ms(settle_ms);
}

/* Ask every running child to stop, reap them (SIGKILL after 5 s). */
static void
stop_children(void)
{
    uint64_t deadline;
    size_t i;
    int status;
    pid_t p;

    __atomic_store_n(&g_ctl->stop.v[0], 1, __ATOMIC_RELEASE);
    deadline = now_ns() + 5000000000ull;
    for (i = 0; i < sizeof(g_children) / sizeof(g_children[0]); i++) {
        if (g_children[i] <= 0) {
            continue;
        }
        for (;;) {
            p = waitpid(g_children[i], &status, WNOHANG);
            if (p == g_children[i] || (p < 0 && errno != EINTR)) {
                break;
            }
            if (now_ns() > deadline) {
                kill(g_children[i], SIGKILL);
                waitpid(g_children[i], &status, 0);
                break;
            }
            sleep_ms(1);
        }
        if (p == g_children[i] && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
            fprintf(stderr, "shm_bench: child %ld ended abnormally (status 0x%x)\n",
                    (long)g_children[i], status);
        }
        g_children[i] = 0;
    }
    __atomic_store_n(&g_ctl->stop.v[0], 0, __ATOMIC_RELEASE);
}

/* ---- machine info and segment sizes -------------------------------------- */

static void
read_first_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");

    buf[0] = '\0';
    if (f == NULL) {
        snprintf(buf, len, "?");
        return;
    }
    if (fgets(buf, (int)len, f) == NULL) {
        snprintf(buf, len, "?");
    }
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static void
print_machine(const struct params *p)
{
    char line[1024], model[256] = "?", mhz[64] = "?", clocksrc[64], loadavg[128];
    int cpus = 0, hyper = 0, opt = 0, san = 0;
    struct utsname u;
    uint64_t t0, t1, t2, t3, i, n = 100000;
    FILE *f;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);

    f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL) {
            char *v = strchr(line, ':');

            if (v == NULL) {
                continue;
            }
            v += 1 + (v[1] == ' ');
            v[strcspn(v, "\n")] = '\0';
            if (strncmp(line, "processor", 9) == 0) {
                cpus++;
            } else if (strncmp(line, "model name", 10) == 0 && model[0] == '?') {
                snprintf(model, sizeof(model), "%s", v);
            } else if (strncmp(line, "cpu MHz", 7) == 0 && mhz[0] == '?') {
                snprintf(mhz, sizeof(mhz), "%s", v);
            } else if (strncmp(line, "flags", 5) == 0 && strstr(v, "hypervisor") != NULL) {
                hyper = 1;
            }
        }
        fclose(f);
    }
    read_first_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                    clocksrc, sizeof(clocksrc));
    if (uname(&u) != 0) {
        snprintf(u.release, sizeof(u.release), "?");
        snprintf(u.machine, sizeof(u.machine), "?");
    }
#ifdef __OPTIMIZE__
    opt = 1;
#endif
#if defined(__SANITIZE_ADDRESS__)
    san = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    san = 1;
#endif
#endif
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        (void)now_ns();
    }
    t1 = now_ns();
    t2 = now_ns();
    for (i = 0; i < n / 10; i++) {
        (void)syscall(SYS_getppid);     /* the floor under any futex wake */
    }
    t3 = now_ns();

    printf("Marshal shared-memory segment benchmark%s\n", p->smoke ? " (--smoke: figures "
           "are NOT meaningful)" : "");
    printf("=======================================\n");
    printf("machine    : nproc %ld (%d in /proc/cpuinfo), %s, %s MHz%s\n", nproc, cpus, model,
           mhz, hyper ? ", virtualised (hypervisor flag)" : "");
    read_first_line("/proc/loadavg", loadavg, sizeof(loadavg));
    printf("kernel     : Linux %s %s, clocksource %s, load average at start %s\n", u.release,
           u.machine, clocksrc, loadavg);
    printf("overheads  : clock_gettime %.1f ns, empty syscall (getppid) %.0f ns\n",
           (double)(t1 - t0) / (double)n, (double)(t3 - t2) / (double)(n / 10));
    printf("build      : %s, %s%s\n", __VERSION__, opt ? "optimised" : "NOT optimised",
           san ? ", ASan/UBSan (figures not representative)" : "");
    printf("method     : %d rounds per figure; ns/op = wall time (CLOCK_MONOTONIC) / ops;\n"
           "             median [min .. max] over rounds; cpu = this process's CPU time/op\n"
           "             (CLOCK_THREAD_CPUTIME_ID), median round.\n", p->rounds);
    if (nproc < N_READERS + 2) {
        printf("NOTE       : only %ld CPU(s): the %d reader processes (and the writer child) "
               "compete\n"
               "             with the measuring process for CPU.  Nothing is pinned.  Under "
               "load the\n"
               "             wall figures include time the measurer was not running (compare "
               "'cpu').\n", nproc, N_READERS);
    }
    printf("\n");
}

static void
print_sizes(void)
{
    static const struct {
        uint32_t groups, servers;
        const char *note;
    } rows[] = {
        {1024, 8192, "defaults"},
        {4096, 32768, ""},
        {16384, 131072, ""},
    };
    struct mshm_writer_opts o;
    struct mshm_writer *w;
    char path[160], lock[180], err[256];
    size_t i;
    int rc;

    printf("Segment size (clusters 256, long names 256, ring 4096 events unless noted)\n");
    printf("  %-7s %-8s %12s %14s %12s %16s  %s\n", "groups", "servers", "copy (slot)",
           "2 copies", "ring", "total", "");
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct mshm_geo *g;

        snprintf(path, sizeof(path), "%s.size%zu", g_path, i);
        snprintf(lock, sizeof(lock), "%s.lock", path);
        memset(&o, 0, sizeof(o));
        o.path = path;
        o.gid = (gid_t)-1;
        o.group_cap = rows[i].groups;
        o.server_cap = rows[i].servers;
        o.flags = MSHM_W_FORCE_REPLACE;
        rc = mshm_writer_open(&o, &w, NULL, err, sizeof(err));
        if (rc != MSHM_OK) {
            unlink(path);
            unlink(lock);
            die("size probe: %s", err);
        }
        g = mshm_w_geo(w);
        printf("  %-7u %-8u %8.1f KiB %10.1f KiB %8.1f KiB %10" PRIu64 " B %4.2f MiB  %s\n",
               g->group_cap, g->server_cap, g->slot_size / 1024.0, 2.0 * g->slot_size / 1024.0,
               (double)g->ring_cap * g->ring_stride / 1024.0, g->total_size,
               (double)g->total_size / 1048576.0, rows[i].note);
        mshm_writer_close(w, 1);
        unlink(path);
        unlink(lock);
    }
    printf("\n");
}

/* ---- populate ------------------------------------------------------------ */

static void
populate(struct mshm_writer *w, uint32_t ngroups)
{
    struct mshm_group g;
    struct mshm_server s;
    uint32_t gi, j;
    int rc = MSHM_OK;

    for (gi = 0; gi < ngroups; gi++) {
        memset(&g, 0, sizeof(g));
        snprintf(g.name, sizeof(g.name), "group-%04u", gi);
        g.flags = MSHM_GF_IN_USE | MSHM_GF_SENTINEL;
        g.master_idx = gi * 3;
        g.power = 1;
        g.max_lag_ms = 1000;
        g.n_servers = 3;
        g.route = MSHM_ROUTE_SPLIT;
        for (j = 0; j < 3; j++) {
            g.servers[j] = gi * 3 + j;
        }
        rc |= mshm_w_put_group(w, gi, &g);
    }
    for (gi = 0; gi < ngroups; gi++) {
        for (j = 0; j < 3; j++) {
            memset(&s, 0, sizeof(s));
            snprintf(s.host, sizeof(s.host), "10.%u.%u.%u", gi / 256, gi % 256, j + 1);
            s.port = 6379;
            s.group_idx = gi;
            s.role = j == 0 ? MSHM_ROLE_MASTER : MSHM_ROLE_REPLICA;
            s.health = MSHM_HEALTH_UP;
            s.flags = MSHM_SF_IN_USE | (j ? MSHM_SF_READABLE : 0u);
            s.power = 1;
            s.lag_ms = 5;
            rc |= mshm_w_put_server(w, gi * 3 + j, &s);
        }
    }
    if (rc != MSHM_OK) {
        die("%s", "populating the segment failed");
    }
    mshm_w_commit(w);
}

/* ---- report -------------------------------------------------------------- */

struct row {
    const char *bench;
    const char *scenario;
    struct result r;
    double idle_med;          /* 0 = this is the idle row */
    double target;
    char extra[256];
};

#define MAX_ROWS 32
static struct row g_rows[MAX_ROWS];
static int g_nrows;
static int g_polluted;      /* another process used the CPUs during a phase */

static struct row *
add_row(const char *bench, const char *scenario, struct result r, double target)
{
    struct row *rw;
    int i;

    if (g_nrows == MAX_ROWS) {
        die("%s", "too many rows");
    }
    rw = &g_rows[g_nrows++];
    memset(rw, 0, sizeof(*rw));
    rw->bench = bench;
    rw->scenario = scenario;
    rw->r = r;
    rw->target = target;
    for (i = 0; i < g_nrows - 1; i++) {
        if (strcmp(g_rows[i].bench, bench) == 0 && g_rows[i].idle_med == 0) {
            rw->idle_med = g_rows[i].r.med;
            break;
        }
    }
    return rw;
}

static void
print_row(const struct row *rw, int first)
{
    char a[32], b[32], c[32], d[32], t[32], ratio[16];

    snprintf(ratio, sizeof(ratio), "%.2fx", rw->idle_med > 0 ? rw->r.med / rw->idle_med : 1.0);
    printf("%-30s %-18s %10s %10s %10s %10s %7s %8s %s\n", first ? rw->bench : "",
           rw->scenario, fmt_ns(a, sizeof(a), rw->r.med), fmt_ns(b, sizeof(b), rw->r.min),
           fmt_ns(c, sizeof(c), rw->r.max), fmt_ns(d, sizeof(d), rw->r.cpu_med), ratio,
           fmt_ns(t, sizeof(t), rw->target), rw->r.med <= rw->target ? "MET" : "NOT MET");
    if (rw->extra[0] != '\0') {
        printf("%-30s %-18s   %s\n", "", "", rw->extra);
    }
}

static void
print_table(void)
{
    int i, j, k;

    printf("Results (ns/op: median [min .. max] over rounds)\n");
    printf("%-30s %-18s %10s %10s %10s %10s %7s %8s %s\n", "benchmark", "scenario", "median",
           "min", "max", "cpu", "vs idle", "target", "met");
    printf("%.*s\n", 117, "-----------------------------------------------------------------"
           "-----------------------------------------------------------------");
    /* the rows of one benchmark together, benchmarks in the order they first ran */
    for (k = 0; k < g_nrows; k++) {
        for (j = 0; j < k && strcmp(g_rows[j].bench, g_rows[k].bench) != 0; j++) {
        }
        if (j < k) {
            continue;               /* printed with an earlier row */
        }
        for (i = k; i < g_nrows; i++) {
            if (strcmp(g_rows[i].bench, g_rows[k].bench) == 0) {
                print_row(&g_rows[i], i == k);
            }
        }
    }
    printf("\n");
}

/* One line per benchmark: the idle figure and the worst loaded one. */
static void
print_summary(void)
{
    char a[32], b[32], t[32];
    const struct row *idle, *worst;
    int i, j, k, met;

    printf("Summary (median ns/op)\n");
    for (k = 0; k < g_nrows; k++) {
        for (j = 0; j < k && strcmp(g_rows[j].bench, g_rows[k].bench) != 0; j++) {
        }
        if (j < k) {
            continue;
        }
        idle = worst = &g_rows[k];
        met = 1;
        for (i = k; i < g_nrows; i++) {
            if (strcmp(g_rows[i].bench, g_rows[k].bench) != 0) {
                continue;
            }
            if (g_rows[i].r.med > worst->r.med) {
                worst = &g_rows[i];
            }
            met &= g_rows[i].r.med <= g_rows[i].target;
        }
        printf("  %-30s target %-9s idle %-9s worst %-9s (%s): %s\n", idle->bench,
               fmt_ns(t, sizeof(t), idle->target), fmt_ns(a, sizeof(a), idle->r.med),
               fmt_ns(b, sizeof(b), worst->r.med), worst->scenario,
               met ? "target met in every scenario"
                   : idle->r.med <= idle->target ? "target met idle, NOT MET under load"
                                                 : "target NOT MET");
    }
    printf("\n");
}

/*
 * Who used the machine during a phase: all CPUs from /proc/stat, this
 * benchmark (parent + reaped children) from getrusage.  The difference is
 * other processes; on a shared machine it says which figures are polluted.
 */
struct cpu_snap {
    uint64_t busy_ticks, steal_ticks;  /* /proc/stat, all CPUs, USER_HZ */
    uint64_t self_us;                  /* this process + reaped children */
    uint64_t wall_ns;
};

static void
cpu_snap_take(struct cpu_snap *s)
{
    unsigned long long v[8] = {0};
    struct rusage ru;
    FILE *f;

    memset(s, 0, sizeof(*s));
    f = fopen("/proc/stat", "r");
    if (f != NULL) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
            /* user nice system idle iowait irq softirq steal */
            s->busy_ticks = v[0] + v[1] + v[2] + v[5] + v[6];
            s->steal_ticks = v[7];
        }
        fclose(f);
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->self_us += (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
                      (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
    }
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
        s->self_us += (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
                      (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
    }
    s->wall_ns = now_ns();
}

static void
print_phase_cpu(const char *phase, const struct cpu_snap *a)
{
    struct cpu_snap b;
    double wall, hz = (double)sysconf(_SC_CLK_TCK), busy, steal, self, others;
    int quiet;

    cpu_snap_take(&b);
    wall = (double)(b.wall_ns - a->wall_ns) / 1e9;
    if (wall <= 0 || hz <= 0) {
        return;
    }
    busy = (double)(b.busy_ticks - a->busy_ticks) / hz / wall;
    steal = (double)(b.steal_ticks - a->steal_ticks) / hz / wall;
    self = (double)(b.self_us - a->self_us) / 1e6 / wall;
    others = busy - self;
    quiet = wall < 0.5 || (others <= 0.15 && steal <= 0.05);  /* ticks are 10 ms */
    printf("  [%s] %.2f s; CPUs busy %.2f: this benchmark %.2f, other processes %.2f; "
           "steal %.2f%s\n", phase, wall, busy, self, others > 0 ? others : 0.0, steal,
           quiet ? "" : "  <-- machine not quiet: figures polluted");
    if (!quiet) {
        g_polluted = 1;
    }
}

static void
print_children(const char *phase, int readers, int writer)
{
    int i;

    if (readers) {
        uint64_t it = 0, busy = 0, errs = 0, changes = 0, el = 0;

        for (i = 0; i < N_READERS; i++) {
            it += g_ctl->reader[i].iters;
            busy += g_ctl->reader[i].busy;
            errs += g_ctl->reader[i].errors;
            changes += g_ctl->reader[i].changes;
            if (g_ctl->reader[i].elapsed_ns > el) {
                el = g_ctl->reader[i].elapsed_ns;
            }
        }
        printf("  [%s] %d readers: %.1f M snap+gen iterations in %.2f s (%.1f M/s total), "
               "BUSY %" PRIu64 ", errors %" PRIu64 ", generation changes seen %" PRIu64 "\n",
               phase, N_READERS, (double)it / 1e6, (double)el / 1e9,
               el ? (double)it / ((double)el / 1e9) / 1e6 : 0.0, busy, errs, changes);
    }
    if (writer) {
        const struct child_stats *w = &g_ctl->writer;
        char a[32], b[32];

        printf("  [%s] writer: %" PRIu64 " publishes in %.2f s (%.0f/s, target 10000/s), "
               "commit mean %s max %s, %" PRIu64 " periods overrun\n",
               phase, w->iters, (double)w->elapsed_ns / 1e9,
               w->elapsed_ns ? (double)w->iters / ((double)w->elapsed_ns / 1e9) : 0.0,
               fmt_ns(a, sizeof(a), w->iters ? (double)w->busy / (double)w->iters : 0),
               fmt_ns(b, sizeof(b), (double)w->errors), w->late);
    }
}

/* ---- main ---------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f, "usage: shm_bench [--smoke] [--rounds N]\n"
               "  --smoke     tiny iteration counts (CI: proves the program runs)\n"
               "  --rounds N  rounds per figure (default 7, max 64)\n");
}

static void
run_reader_benches(struct bench_ctx *c, const char *scenario)
{
    uint64_t n;
    struct row *rw;

    rw = add_row("1 cached gen check", scenario, bench_gen(c, &n), TARGET_GEN_NS);
    if (n > 0) {
        snprintf(rw->extra, sizeof(rw->extra), "(%" PRIu64 " generation changes seen)", n);
    }
    rw = add_row("2 snap group (1M+2R)", scenario, bench_snap(c, &n), TARGET_SNAP_NS);
    if (n > 0) {
        snprintf(rw->extra, sizeof(rw->extra), "(%" PRIu64 " snapshots failed, e.g. BUSY)", n);
    }
}

static void
run_publish_benches(struct bench_ctx *c, const char *scenario)
{
    static const char *names[2] = {"3a publish 1 server", "3b publish 1 group+3 servers"};
    char a[32], b[32], d[32], e[32];
    struct pub_result pr;
    struct row *rw;
    int i;

    for (i = 0; i < 2; i++) {
        pr = bench_publish(c, i == 0 ? 1 : 3);
        rw = add_row(names[i], scenario, pr.r, TARGET_PUBLISH_NS);
        snprintf(rw->extra, sizeof(rw->extra),
                 "(%d records/commit; per commit p50 %s p99 %s p99.9 %s max %s)", pr.records,
                 fmt_ns(a, sizeof(a), (double)pr.p50), fmt_ns(b, sizeof(b), (double)pr.p99),
                 fmt_ns(d, sizeof(d), (double)pr.p999), fmt_ns(e, sizeof(e), (double)pr.max));
    }
}

int
main(int argc, char **argv)
{
    struct params p = {0, 7, 10000000, 1000000, 20000, 200};
    struct mshm_writer_opts o;
    struct mshm_writer *w;
    struct mshm_reader r;
    struct bench_ctx c;
    struct cpu_snap cs;
    char err[256];
    uint64_t t_start = now_ns();
    int i, rc, how;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) {
            p.smoke = 1;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            p.rounds = atoi(argv[++i]);
            if (p.rounds < 1 || p.rounds > 64) {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (p.smoke) {
        p.rounds = p.rounds > 3 ? 3 : p.rounds;
        p.gen_iters = 20000;
        p.snap_iters = 2000;
        p.pub_iters = 100;
        p.settle_ms = 20;
    }

    g_parent = getpid();
    snprintf(g_path, sizeof(g_path), "/dev/shm/mshm-bench-%ld", (long)g_parent);
    snprintf(g_lock_path, sizeof(g_lock_path), "%s.lock", g_path);
    g_ctl = mmap(NULL, sizeof(struct ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
    if (g_ctl == MAP_FAILED) {
        die("mmap: %s", strerror(errno));
    }
    memset(g_ctl, 0, sizeof(*g_ctl));
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);

    print_machine(&p);
    print_sizes();

    /* the segment: defaults, 1024 groups of 1 master + 2 replicas */
    memset(&o, 0, sizeof(o));
    o.path = g_path;
    o.gid = (gid_t)-1;
    o.flags = MSHM_W_FORCE_REPLACE;
    rc = mshm_writer_open(&o, &w, &how, err, sizeof(err));
    if (rc != MSHM_OK) {
        die("writer open: %s", err);
    }
    populate(w, BENCH_GROUPS);
    memset(&r, 0, sizeof(r));
    rc = mshm_attach(&r, g_path, 0);
    if (rc != MSHM_OK) {
        die("attach: %s", r.errstr);
    }
    printf("Benchmark segment: %s, %u groups x (1 master + 2 replicas) = %u servers;\n"
           "  every figure uses group %u (servers %u..%u); publishes flip a replica's "
           "lag_ms.\n\n", g_path, BENCH_GROUPS, BENCH_GROUPS * 3, BENCH_GI, BENCH_GI * 3,
           BENCH_GI * 3 + 2);
    c.p = &p;
    c.r = &r;
    c.w = w;
    c.gi = BENCH_GI;

    printf("Phases (CPU use from /proc/stat and getrusage)\n");
    /* phase 1: alone */
    fprintf(stderr, "shm_bench: phase 1/4: no other process\n");
    cpu_snap_take(&cs);
    run_reader_benches(&c, "idle");
    run_publish_benches(&c, "idle");
    print_phase_cpu("phase 1: idle", &cs);

    /* phase 2: 4 spinning readers */
    fprintf(stderr, "shm_bench: phase 2/4: %d readers\n", N_READERS);
    cpu_snap_take(&cs);
    start_readers(c.gi, p.settle_ms);
    run_reader_benches(&c, "4 readers");
    run_publish_benches(&c, "4 readers");
    stop_children();
    print_phase_cpu("phase 2: 4 readers", &cs);
    print_children("phase 2: 4 readers", 1, 0);

    /* phase 3: a writer process publishing every 100 us owns the segment */
    fprintf(stderr, "shm_bench: phase 3/4: writer child every 100 us\n");
    mshm_writer_close(w, 0);
    c.w = NULL;
    cpu_snap_take(&cs);
    start_writer(c.gi, p.settle_ms);
    run_reader_benches(&c, "writer 100us");
    stop_children();
    print_phase_cpu("phase 3: writer", &cs);
    print_children("phase 3: writer", 0, 1);

    /* phase 4: the writer plus 4 readers */
    fprintf(stderr, "shm_bench: phase 4/4: writer child + %d readers\n", N_READERS);
    cpu_snap_take(&cs);
    start_writer(c.gi, 0);
    start_readers(c.gi, p.settle_ms);
    run_reader_benches(&c, "writer+4 readers");
    stop_children();
    print_phase_cpu("phase 4: writer+readers", &cs);
    print_children("phase 4: writer+readers", 1, 1);
    printf("\n");

    print_table();
    print_summary();
    printf("Targets: gen check <= 5 ns, group snapshot <= 100 ns, publish <= 20 us "
           "(judged on the median).\n");
    printf("3a writes 2 records per commit: the server and its group (change_seq bump).\n");
    if (g_polluted) {
        printf("WARNING: other processes used the CPUs during the run (see Phases): "
               "rerun on a quiet machine.\n");
    }
    printf("Total run time %.1f s.\n", (double)(now_ns() - t_start) / 1e9);

    mshm_detach(&r);
    cleanup();
    return 0;
}
