/*
 * wake_check.c -- a client of marshal-controller's wake socket
 * "<segment>.wake" for the integration test wake.sh (tests only).
 *
 *   wake_check watch SOCKET SEGMENT TIMEOUT_MS
 *       Connect, then behave like an event-loop application: epoll_wait on
 *       the socket, drain it, re-read the segment.  Prints one line per
 *       wake-up, flushed at once:
 *         held MS gen=G notify=N      the first byte: the controller holds us
 *         wake MS gen=G notify=N bytes=B
 *         eof MS gen=G notify=N stopped=0|1   the controller closed us
 *       MS is CLOCK_REALTIME in milliseconds (comparable with the event
 *       "time_ms" of marshal-shmdump --json), G and N are the segment's
 *       latch and notify word read after draining, B the bytes drained.
 *       Exit 0 at EOF, 1 when TIMEOUT_MS passed without one.
 *   wake_check flood SOCKET N
 *       Open N connections: every 4th is closed right after connect()
 *       (possibly before the controller accepted it), the others wait for
 *       their first byte and are closed after.  Connection 1 first sends
 *       garbage (binary messages, 4 KiB messages, a burst of 500) and then
 *       an empty message, which the controller takes as a hang-up: it must
 *       see EOF.  Prints "flood: N connected, H held, garbage sender closed
 *       by the controller"; exit 0, 1 when something did not happen within
 *       10 s.
 *   wake_check fill SOCKET N
 *       Open N connections at once and wait (10 s at most) until each one
 *       got either its first byte (held) or EOF (refused: the controller
 *       holds its maximum).  Prints "fill: H held R refused"; exit 0, 1 on a
 *       timeout, 77 when this process cannot open N descriptors.
 * Exit 2 on usage or connect errors (errno text on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mshm_attach.h"
#include "mshm_read.h"

static uint64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned long long
real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

static void
usage(void)
{
    fprintf(stderr, "usage: wake_check watch SOCKET SEGMENT TIMEOUT_MS\n"
                    "       wake_check flood SOCKET N\n"
                    "       wake_check fill SOCKET N\n");
    exit(2);
}

/* A blocking connect() to path, then non-blocking.  Exits 2 on failure. */
static int
connect_to(const char *path)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        usage();
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "wake_check: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return fd;
}

/* Read everything queued on fd (non-blocking).  Returns the bytes read,
 * or -1 at EOF / error. */
static long
drain(int fd)
{
    char buf[64];
    long total = 0;
    ssize_t r;

    for (;;) {
        r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0) {
            total += r;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return total;
        }
        return -1;
    }
}

/* ---- watch -------------------------------------------------------------- */

static const char *g_seg;       /* the segment path (watch) */

static void
seg_line(struct mshm_reader *r, const char *what, const char *extra)
{
    unsigned long long gen = 0, notify = 0;

    if (r->base == NULL) {
        (void)mshm_attach(r, g_seg, 0);
    } else if (mshm_replaced(r)) {
        (void)mshm_reattach(r, 0);
    }
    if (r->base != NULL) {
        gen = mshm_generation(r);
        notify = mshm_ld_acq(&mshm_hdr(r)->notify);
    }
    printf("%s %llu gen=%llu notify=%llu%s\n", what, real_ms(), gen, notify, extra);
    fflush(stdout);
}

static int
watch(const char *sock, const char *seg, long timeout_ms)
{
    struct epoll_event ev;
    struct mshm_reader r;
    uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
    int fd, ep, held = 0;

    memset(&r, 0, sizeof(r));
    g_seg = seg;
    fd = connect_to(sock);
    ep = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("wake_check: epoll");
        return 2;
    }
    for (;;) {
        uint64_t now = mono_ms();
        char extra[64];
        long n;

        if (now >= deadline) {
            printf("timeout %llu\n", real_ms());
            fflush(stdout);
            return 1;
        }
        if (epoll_wait(ep, &ev, 1, (int)(deadline - now)) <= 0) {
            continue;
        }
        n = drain(fd);
        if (n < 0) {
            int stopped = 0;

            if (r.base != NULL || mshm_attach(&r, seg, 0) == MSHM_OK) {
                stopped = (mshm_ld_acq(&mshm_hdr(&r)->flags) & MSHM_HF_WRITER_STOPPED) != 0;
            }
            snprintf(extra, sizeof(extra), " stopped=%d", stopped);
            seg_line(&r, "eof", extra);
            return 0;
        }
        if (n == 0) {
            continue;           /* spurious */
        }
        if (!held) {
            held = 1;
            /* the first byte: anything queued after it is a publish too */
            snprintf(extra, sizeof(extra), n > 1 ? " bytes=%ld" : "", n);
            seg_line(&r, "held", extra);
            continue;
        }
        snprintf(extra, sizeof(extra), " bytes=%ld", n);
        seg_line(&r, "wake", extra);
    }
}

/* ---- flood / fill ------------------------------------------------------- */

/* Wait until fd has something (1), EOF (0), or the deadline passed (-1). */
static int
first_byte(int fd, uint64_t deadline)
{
    char b;
    ssize_t r;

    for (;;) {
        struct timeval tv = {0, 100000};

        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        r = recv(fd, &b, 1, 0);
        if (r == 1) {
            return 1;
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            return 0;
        }
        if (mono_ms() >= deadline) {
            return -1;
        }
    }
}

static int
garbage(int fd)
{
    static const unsigned char bin[] = {0x00, 0xff, 0x01, 0x02, 0xfe, '\n', 'w', 0x00};
    char big[4096];
    struct timeval tv = {5, 0};
    int i;

    memset(big, 'G', sizeof(big));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    for (i = 0; i < 500; i++) {
        const void *p = (i % 3 == 0) ? (const void *)big : (const void *)bin;
        size_t len = (i % 3 == 0) ? sizeof(big) : sizeof(bin) - (size_t)(i % 5);

        if (send(fd, p, len, MSG_NOSIGNAL) < 0) {
            fprintf(stderr, "wake_check: garbage send %d: %s\n", i, strerror(errno));
            return -1;
        }
    }
    /* an empty message: a hang-up to the controller */
    if (send(fd, "", 0, MSG_NOSIGNAL) < 0) {
        fprintf(stderr, "wake_check: empty send: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int
flood(const char *sock, long n)
{
    int *fds = calloc((size_t)n, sizeof(int));
    uint64_t deadline = mono_ms() + 10000;
    long i, held = 0;
    int gone;

    if (fds == NULL) {
        return 2;
    }
    for (i = 0; i < n; i++) {
        fds[i] = connect_to(sock);
        if (i % 4 == 3) {
            close(fds[i]);          /* gone before (or just after) the accept */
            fds[i] = -1;
        }
    }
    for (i = 0; i < n; i++) {
        if (fds[i] < 0) {
            continue;
        }
        if (first_byte(fds[i], deadline) != 1) {
            fprintf(stderr, "wake_check: connection %ld: no first byte within 10 s\n", i);
            return 1;
        }
        held++;
    }
    if (garbage(fds[0]) != 0) {
        return 1;
    }
    /* the controller must now close the garbage sender: drain until EOF */
    for (;;) {
        gone = first_byte(fds[0], deadline);
        if (gone == 0) {
            break;
        }
        if (gone < 0) {
            fprintf(stderr, "wake_check: the garbage sender was not closed within 10 s\n");
            return 1;
        }
    }
    for (i = n - 1; i >= 0; i--) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    printf("flood: %ld connected, %ld held, garbage sender closed by the controller\n", n, held);
    free(fds);
    return 0;
}

static int
fill(const char *sock, long n)
{
    struct rlimit rl;
    struct epoll_event ev, evs[256];
    uint64_t deadline = mono_ms() + 10000;
    long i, held = 0, refused = 0, left = n;
    int ep, k, got;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 16) {
        rl.rlim_cur = rl.rlim_max;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)n + 16) {
            fprintf(stderr, "wake_check: RLIMIT_NOFILE %llu < %ld\n",
                    (unsigned long long)rl.rlim_max, n + 16);
            return 77;
        }
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            perror("wake_check: setrlimit");
            return 77;
        }
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("wake_check: epoll_create1");
        return 2;
    }
    for (i = 0; i < n; i++) {
        int fd = connect_to(sock);

        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            perror("wake_check: epoll_ctl");
            return 2;
        }
    }
    while (left > 0) {
        uint64_t now = mono_ms();

        if (now >= deadline) {
            fprintf(stderr, "wake_check: %ld connections neither held nor refused after 10 s "
                            "(%ld held, %ld refused)\n", left, held, refused);
            return 1;
        }
        got = epoll_wait(ep, evs, 256, (int)(deadline - now));
        for (k = 0; k < got; k++) {
            char b;
            ssize_t r = recv(evs[k].data.fd, &b, 1, MSG_DONTWAIT);

            if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            if (r == 1) {
                held++;
            } else {
                refused++;
            }
            left--;
            epoll_ctl(ep, EPOLL_CTL_DEL, evs[k].data.fd, NULL);
        }
    }
    printf("fill: %ld held %ld refused\n", held, refused);
    fflush(stdout);
    return 0;           /* exit closes them all */
}

int
main(int argc, char **argv)
{
    long n;

    if (argc < 4) {
        usage();
    }
    if (strcmp(argv[1], "watch") == 0 && argc == 5) {
        n = strtol(argv[4], NULL, 10);
        return n > 0 ? watch(argv[2], argv[3], n) : (usage(), 2);
    }
    n = strtol(argv[3], NULL, 10);
    if (argc != 4 || n < 1 || n > 100000) {
        usage();
    }
    if (strcmp(argv[1], "flood") == 0) {
        return flood(argv[2], n);
    }
    if (strcmp(argv[1], "fill") == 0) {
        return fill(argv[2], n);
    }
    usage();
    return 2;
}
