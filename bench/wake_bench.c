/*
 * wake_bench.c -- publish -> wake-socket subscriber woken (controller/
 * ctl_wake.c), with 1 and 64 subscribers, and what ctl_wake_all() costs the
 * publisher; the futex wake (the segment's notify word) measured the same
 * way alongside, for comparison.
 *
 *   wake_bench [--rounds N] [--spacing-us US] [--subs K] [--smoke]
 *
 * The program is the publisher, not the controller: it creates its own
 * segment with the shm core's writer (/dev/shm/mshm-wake-<pid>, default
 * capacities, one group "prop": master + 2 replicas) and runs the
 * controller's own wake code, ctl_wake_new() / ctl_wake_all() from
 * ctl_core, on a libev loop -- the same listener, the same accept path and
 * the same send loop as marshal-controller.  Each round does what the
 * controller's ev_prepare callback does after a change: mshm_w_commit() of
 * a master transition (server + group records, counters, 1 ring event; the
 * commit includes the futex wake), then, because the notify word moved,
 * ctl_wake_all().  What the controller adds and this does not: resolving
 * the model before the commit, and the rest of its loop.
 *
 * Stamps (CLOCK_MONOTONIC): t0 just before mshm_w_commit(); around
 * ctl_wake_all() (wall, and the publisher's CPU time).  Each subscriber is
 * a forked process doing what an event-loop application would: epoll_wait
 * on its connected SOCK_SEQPACKET socket, stamp ("woke"), drain it,
 * mshm_snap_group() and stamp when the snapshot shows the round ("seen";
 * the round comes from the group's transition counters, not from this
 * program).  For comparison, futex subscribers block in mshm_wait() on the
 * notify word and stamp the same two points.  Stamps go to a MAP_SHARED
 * anonymous page indexed by round and subscriber.
 *
 * A round starts --spacing-us (default 2000) after every subscriber saw the
 * previous one (or 200 ms passed: missed), so every round wakes processes
 * asleep in epoll_wait / FUTEX_WAIT.  Latency = stamp - t0, over every
 * (round, subscriber) pair, and per round for the last subscriber to wake.
 *
 * Prints figures; asserts none (exit 0 when every scenario ran, 1 on a
 * setup failure).  Children are forked with PR_SET_PDEATHSIG, exit by
 * themselves after a time limit, and are killed and reaped on every exit
 * path; the segment, its lock file and the wake socket are removed (also on
 * SIGINT/SIGTERM/SIGHUP).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "ctl_config.h"
#include "ctl_log.h"
#include "ctl_wake.h"
#include "mshm_atomic.h"
#include "mshm_read.h"
#include "mshm_write.h"

#define MAX_ROUNDS        20000
#define MAX_SUBS          256
#define ROUND_DEADLINE_NS 200000000ull  /* a round not seen by then is missed */
#define CHILD_LIMIT_S     600           /* every child exits by itself after this */

/* Shared control page (MAP_SHARED anonymous): flags, then the stamps. */
struct shared {
    uint32_t stop;               /* children: leave your loop            */
    uint32_t ready[MAX_SUBS];    /* 1 connected/attached and held, 2 failed */
};

static char g_path[128], g_lock[160], g_sock[176];
static pid_t g_parent;
static pid_t g_kids[MAX_SUBS];
static int g_nkids;
static struct shared *g_sh;
static uint64_t *g_woke, *g_seen; /* [round * k + sub], MAP_SHARED */
static int g_k;                   /* subscribers in the current scenario */
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
        unlink(g_sock);  /* normally gone with ctl_wake_free() */
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
    fprintf(stderr, "wake_bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);    /* atexit: children killed and reaped, files removed */
}

/* ---- subscribers ---------------------------------------------------------- */

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
    /* never keep the writer's lock file, the listener or the loop */
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

/* Stamp round idx for subscriber id (first time only). */
static void
stamp(int id, uint64_t idx, uint64_t woke)
{
    size_t at = (size_t)idx * (size_t)g_k + (size_t)id;

    if (g_seen[at] == 0) {
        __atomic_store_n(&g_woke[at], woke, __ATOMIC_RELAXED);
        __atomic_store_n(&g_seen[at], now_ns(), __ATOMIC_RELEASE);
    }
}

/* Rounds the segment shows so far (the group's transition counters). */
static int
rounds_seen(struct mshm_reader *r, uint32_t base, int nrounds, uint64_t *idx)
{
    struct mshm_group_snap s;
    uint64_t done;

    if (mshm_snap_group(r, 0, &s) != MSHM_OK) {
        return 0;
    }
    done = (uint32_t)(s.group.n_master_down + s.group.n_master_up - base);
    if (done == 0 || done > (uint64_t)nrounds) {
        return 0;
    }
    *idx = done - 1;
    return 1;
}

static void
sub_socket(int id, int nrounds)
{
    uint64_t limit = now_ns() + CHILD_LIMIT_S * 1000000000ull, t, idx;
    struct mshm_reader r;
    struct mshm_group_snap s;
    struct sockaddr_un sa;
    struct epoll_event ev;
    uint32_t base;
    int fd, ep, held = 0;
    char buf[64];

    memset(&r, 0, sizeof(r));
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, g_sock, strlen(g_sock) + 1);    /* fits: ctl_wake_path() */
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ep = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    if (fd < 0 || ep < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0 || mshm_attach(&r, g_path, 0) != MSHM_OK ||
        mshm_snap_group(&r, 0, &s) != MSHM_OK) {
        fprintf(stderr, "wake_bench: subscriber %d: %s\n", id, strerror(errno));
        __atomic_store_n(&g_sh->ready[id], 2, __ATOMIC_RELEASE);
        _exit(2);
    }
    base = s.group.n_master_down + s.group.n_master_up;
    while (!stopped(limit)) {
        if (epoll_wait(ep, &ev, 1, 50) != 1) {
            continue;
        }
        t = now_ns();
        for (;;) {
            ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

            if (n > 0 || (n < 0 && errno == EINTR)) {
                continue;
            }
            if (n == 0) {
                _exit(0);               /* the publisher closed us */
            }
            break;
        }
        if (!held) {
            /* the first byte: the publisher holds us now */
            held = 1;
            __atomic_store_n(&g_sh->ready[id], 1, __ATOMIC_RELEASE);
            continue;
        }
        if (rounds_seen(&r, base, nrounds, &idx)) {
            stamp(id, idx, t);
        }
    }
    mshm_detach(&r);
    _exit(0);
}

static void
sub_futex(int id, int nrounds)
{
    uint64_t limit = now_ns() + CHILD_LIMIT_S * 1000000000ull, t, idx;
    struct mshm_reader r;
    struct mshm_group_snap s;
    uint32_t seen, base;

    memset(&r, 0, sizeof(r));
    if (mshm_attach(&r, g_path, 0) != MSHM_OK || mshm_snap_group(&r, 0, &s) != MSHM_OK) {
        fprintf(stderr, "wake_bench: futex subscriber %d: %s\n", id, r.errstr);
        __atomic_store_n(&g_sh->ready[id], 2, __ATOMIC_RELEASE);
        _exit(2);
    }
    base = s.group.n_master_down + s.group.n_master_up;
    seen = mshm_ld_acq(&mshm_hdr(&r)->notify);
    __atomic_store_n(&g_sh->ready[id], 1, __ATOMIC_RELEASE);
    while (!stopped(limit)) {
        if (mshm_wait(&r, &seen, 50) != 1) {
            continue;
        }
        t = now_ns();
        if (rounds_seen(&r, base, nrounds, &idx)) {
            stamp(id, idx, t);
        }
    }
    mshm_detach(&r);
    _exit(0);
}

static void
spawn(void (*fn)(int, int), int id, int nrounds)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        die("fork", strerror(errno));
    }
    if (pid == 0) {
        child_setup();
        fn(id, nrounds);
        _exit(0);
    }
    g_kids[g_nkids++] = pid;
}

/* Stop every child (flag, then SIGKILL after 3 s) and reap it. */
static void
stop_all(void)
{
    uint64_t deadline = now_ns() + 3000000000ull;
    int i, status;
    pid_t p;

    __atomic_store_n(&g_sh->stop, 1, __ATOMIC_RELEASE);
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

/* ---- the publisher ------------------------------------------------------ */

static struct mshm_writer *g_w;
static struct ev_loop *g_loop;
static struct ctl_wake *g_wake;
static uint32_t g_down;      /* transitions published: odd -> master down */

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
    ev.old_idx = ev.new_idx = ev.cluster_idx = MSHM_NONE;
    ev.epoch = round_tag;
    mshm_w_emit(w, &ev);
}

/* Run the loop (accepts, client reads) without blocking for up to ns. */
static void
spin_loop_for(uint64_t ns)
{
    uint64_t end = now_ns() + ns;

    do {
        ev_run(g_loop, EVRUN_NOWAIT);
        sleep_ns(100000);
    } while (now_ns() < end);
}

struct dist {
    int n, missed;
    double p50, p90, p99, max;
};

static struct dist
dist_of(const uint64_t *v, int n, uint64_t *tmp)
{
    struct dist d;
    int i, m = 0;

    memset(&d, 0, sizeof(d));
    for (i = 0; i < n; i++) {
        if (v[i] == 0) {
            d.missed++;
        } else {
            tmp[m++] = v[i];
        }
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
print_dist(const char *scenario, const char *what, struct dist d)
{
    printf("  %-26s %-34s %7d %5d %9.1f %9.1f %9.1f %9.1f\n", scenario, what, d.n, d.missed,
           d.p50 / 1e3, d.p90 / 1e3, d.p99 / 1e3, d.max / 1e3);
}

static void
print_head(void)
{
    printf("  %-26s %-34s %7s %5s %9s %9s %9s %9s\n", "scenario", "figure (us)", "n", "miss",
           "p50", "p90", "p99", "max");
}

/*
 * One scenario: k subscribers of a kind (socket: the wake socket, else the
 * futex), n rounds.
 */
static void
scenario(int socket_kind, int k, int n, uint64_t spacing, uint64_t *tmp)
{
    size_t pairs = (size_t)n * (size_t)k;
    uint64_t *lat_woke = calloc(pairs, sizeof(uint64_t));
    uint64_t *lat_seen = calloc(pairs, sizeof(uint64_t));
    uint64_t *last_woke = calloc((size_t)n, sizeof(uint64_t));
    uint64_t *commit = calloc((size_t)n, sizeof(uint64_t));
    uint64_t *wall = calloc((size_t)n, sizeof(uint64_t));
    uint64_t *cpu = calloc((size_t)n, sizeof(uint64_t));
    uint64_t deadline, t0, t1, c0, c1, tw0, tw1;
    uint32_t woke_notify;
    char name[64];
    int i, j, missed;

    if (!lat_woke || !lat_seen || !last_woke || !commit || !wall || !cpu) {
        die("out of memory", NULL);
    }
    snprintf(name, sizeof(name), "%d %s", k, socket_kind ? "wake-socket subs" : "futex subs");
    g_k = k;
    g_woke = mmap(NULL, pairs * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    g_seen = mmap(NULL, pairs * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_woke == MAP_FAILED || g_seen == MAP_FAILED) {
        die("mmap", strerror(errno));
    }
    memset(g_sh->ready, 0, sizeof(g_sh->ready));
    for (j = 0; j < k; j++) {
        spawn(socket_kind ? sub_socket : sub_futex, j, n);
    }
    /* every subscriber attached (socket: held by ctl_wake, its first byte read) */
    deadline = now_ns() + 10000000000ull;
    for (;;) {
        int ok = 0;

        for (j = 0; j < k; j++) {
            uint32_t v = __atomic_load_n(&g_sh->ready[j], __ATOMIC_ACQUIRE);

            if (v == 2) {
                die("a subscriber", "did not start");
            }
            ok += v == 1;
        }
        if (ok == k) {
            break;
        }
        if (now_ns() > deadline) {
            die("subscribers", "not ready within 10 s");
        }
        spin_loop_for(1000000);
    }
    spin_loop_for(20000000);    /* let them reach epoll_wait / FUTEX_WAIT */
    woke_notify = mshm_w_notify(g_w);
    for (i = 0; i < n; i++) {
        spin_loop_for(spacing);
        if ((i & 127) == 0) {
            mshm_w_heartbeat(g_w);
        }
        stage_transition(g_w, (uint64_t)i + 1);
        t0 = now_ns();
        mshm_w_commit(g_w);
        t1 = now_ns();
        commit[i] = t1 - t0;
        /* what main.c's on_prepare does after ctl_model_flush() */
        if (socket_kind && mshm_w_notify(g_w) != woke_notify) {
            woke_notify = mshm_w_notify(g_w);
            c0 = cpu_ns();
            tw0 = now_ns();
            ctl_wake_all(g_wake);
            tw1 = now_ns();
            c1 = cpu_ns();
            wall[i] = tw1 - tw0 ? tw1 - tw0 : 1;
            cpu[i] = c1 - c0 ? c1 - c0 : 1;
        }
        deadline = t1 + ROUND_DEADLINE_NS;
        for (;;) {
            int done = 0;

            for (j = 0; j < k; j++) {
                done += __atomic_load_n(&g_seen[(size_t)i * k + j], __ATOMIC_ACQUIRE) != 0;
            }
            if (done == k || now_ns() > deadline) {
                break;
            }
            sleep_ns(200000);   /* the subscribers need the CPUs: sleep-poll */
        }
        missed = 0;
        for (j = 0; j < k; j++) {
            size_t at = (size_t)i * k + j;
            uint64_t w = __atomic_load_n(&g_woke[at], __ATOMIC_RELAXED);
            uint64_t s = __atomic_load_n(&g_seen[at], __ATOMIC_ACQUIRE);

            lat_woke[at] = w > t0 ? w - t0 : (w != 0 ? 1 : 0);
            lat_seen[at] = s > t0 ? s - t0 : (s != 0 ? 1 : 0);
            missed |= lat_woke[at] == 0;
            if (lat_woke[at] > last_woke[i]) {
                last_woke[i] = lat_woke[at];
            }
        }
        if (missed) {
            last_woke[i] = 0;           /* someone missed it: the round is missed */
        }
    }
    stop_all();
    if (socket_kind) {
        spin_loop_for(5000000);         /* the loop sees their EOFs */
    }

    print_dist(name, "publish -> woken (each sub)", dist_of(lat_woke, (int)pairs, tmp));
    print_dist(name, "publish -> seen in segment (each)", dist_of(lat_seen, (int)pairs, tmp));
    if (k > 1) {
        print_dist(name, "publish -> last sub woken", dist_of(last_woke, n, tmp));
    }
    print_dist(name, "mshm_w_commit wall (futex wake)", dist_of(commit, n, tmp));
    if (socket_kind) {
        print_dist(name, "ctl_wake_all wall", dist_of(wall, n, tmp));
        print_dist(name, "ctl_wake_all cpu", dist_of(cpu, n, tmp));
    }
    munmap(g_woke, pairs * 8);
    munmap(g_seen, pairs * 8);
    free(lat_woke);
    free(lat_seen);
    free(last_woke);
    free(commit);
    free(wall);
    free(cpu);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: wake_bench [--rounds N] [--spacing-us US] [--subs K] [--smoke]\n"
               "  --rounds N        rounds per scenario (default 2000, max %d)\n"
               "  --spacing-us US   pause after a round was seen (default 2000)\n"
               "  --subs K          subscribers in the many-subscriber scenarios (default 64, "
               "max %d)\n"
               "  --smoke           50 rounds, 4 subscribers (CI: proves the program runs)\n",
            MAX_ROUNDS, MAX_SUBS);
}

int
main(int argc, char **argv)
{
    int n = 2000, k = 64, smoke = 0, i;
    uint64_t spacing = 2000000, t_start = now_ns();
    uint64_t *tmp;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--spacing-us") == 0 && i + 1 < argc) {
            spacing = (uint64_t)atoi(argv[++i]) * 1000u;
        } else if (strcmp(argv[i], "--subs") == 0 && i + 1 < argc) {
            k = atoi(argv[++i]);
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
        k = 4;
    }
    if (n < 2 || n > MAX_ROUNDS || k < 1 || k > MAX_SUBS || spacing > 1000000000u) {
        usage(stderr);
        return 2;
    }

    g_parent = getpid();
    snprintf(g_path, sizeof(g_path), "/dev/shm/mshm-wake-%ld", (long)g_parent);
    snprintf(g_lock, sizeof(g_lock), "%s.lock", g_path);
    if (ctl_wake_path(g_path, g_sock, sizeof(g_sock)) != 0) {
        die("socket path too long", g_path);
    }
    g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    tmp = calloc((size_t)n * (size_t)k, sizeof(uint64_t));
    if (g_sh == MAP_FAILED || tmp == NULL) {
        die("mmap", strerror(errno));
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);       /* as the controller */
    prctl(PR_SET_TIMERSLACK, 1UL);
    ctl_log_set_level(CTL_LOG_WARNING);

    g_w = make_segment();
    g_loop = ev_default_loop(EVFLAG_AUTO);
    g_wake = g_loop ? ctl_wake_new(g_loop, g_path) : NULL;
    if (g_wake == NULL) {
        die("ctl_wake_new failed", g_sock);
    }
    printf("machine: %ld CPUs\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("wake_bench: segment %s, wake socket %s (controller/ctl_wake.c); %d rounds per "
           "scenario, %.1f ms apart%s\n", g_path, g_sock, n, (double)spacing / 1e6,
           smoke ? " (smoke)" : "");
    printf("each round: master DOWN/UP committed (mshm_w_commit: records, ring event, "
           "FUTEX_WAKE), then ctl_wake_all(); t0 = CLOCK_MONOTONIC before the commit\n\n");
    print_head();
    scenario(1, 1, n, spacing, tmp);
    scenario(0, 1, n, spacing, tmp);
    printf("\n");
    scenario(1, k, n, spacing, tmp);
    scenario(0, k, n, spacing, tmp);
    printf("\n(%d CPUs: with more runnable subscribers than CPUs, the latency of the later "
           "ones includes waiting for a CPU; 'ctl_wake_all cpu' is the publisher's own CPU "
           "time for the sends)\n", (int)sysconf(_SC_NPROCESSORS_ONLN));
    printf("wake_bench: done in %.1f s\n", (double)(now_ns() - t_start) / 1e9);
    ctl_wake_free(g_wake);
    mshm_writer_close(g_w, 1);
    free(tmp);
    return 0;
}
