/*
 * ctl_wake.c -- the wake socket "<segment path>.wake" (ctl_wake.h has the
 * protocol): one listener, up to CTL_WAKE_MAX connected clients, one byte
 * to each of them per publish.
 *
 * Clients live in a fixed arena allocated once (their ev_io watchers must
 * not move while active), and their descriptors in a dense array that
 * ctl_wake_all() walks: a wake costs one send() per client and no
 * allocation.  Removal swaps the last client into the hole.
 *
 * Every accepted socket gets the smallest send buffer the kernel allows:
 * a client that never reads then holds a handful of queued wakes (a few KiB
 * of kernel memory) before send() says EAGAIN, instead of ~200 KiB each.
 * A queued wake is as good as many: the client re-reads the segment anyway.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_log.h"
#include "ctl_wake.h"

/* One connected client (a slot of the arena). */
struct wake_client {
    ev_io io;                   /* readable: drain and discard, or EOF     */
    struct ctl_wake *w;         /* owner                                   */
    uint32_t pos;               /* index in ctl_wake.fds / .cli while held */
};

/* The listener and its clients. */
struct ctl_wake {
    struct ev_loop *loop;
    ev_io io;                   /* the listener                            */
    ev_timer retry;             /* restarts io after EMFILE & co.          */
    int fd;                     /* listening socket                        */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;                  /* the socket file we bound: only it is    */
    ino_t ino;                  /* unlinked at exit                        */
    unsigned cap;               /* clients held at most (<= CTL_WAKE_MAX)  */
    unsigned n;                 /* clients held                            */
    int *fds;                   /* [cap] descriptors of held clients, dense */
    struct wake_client **cli;   /* [cap] the client of fds[i]              */
    struct wake_client *slots;  /* [cap] arena                             */
    uint32_t *free_slots;       /* [cap] stack of unused arena indices     */
    uint32_t n_free;            /* entries on that stack (cap - n)         */
    uint64_t log_sec;           /* current rate-limit window (s)           */
    uint32_t log_lines;         /* lines logged in it                      */
    uint64_t log_dropped;       /* refusals not logged since last summary  */
};

int
ctl_wake_path(const char *seg_path, char *out, size_t len)
{
    int n = snprintf(out, len, "%s.wake", seg_path);

    if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        return -1;
    }
    return 0;
}

/* A refusal or error: logged unless this second's budget is spent. */
static void
note(struct ctl_wake *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note(struct ctl_wake *w, const char *fmt, ...)
{
    uint64_t sec = ctl_now_ms() / 1000;
    char msg[256];
    va_list ap;

    if (sec != w->log_sec) {
        if (w->log_dropped > 0) {
            log_warn("wake socket %s: %llu more refusals without a log line (at most %d "
                     "lines a second)", w->path, (unsigned long long)w->log_dropped,
                     CTL_WAKE_LOG_PER_SEC);
        }
        w->log_sec = sec;
        w->log_lines = 0;
        w->log_dropped = 0;
    }
    if (w->log_lines >= CTL_WAKE_LOG_PER_SEC) {
        w->log_dropped++;
        return;
    }
    w->log_lines++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn("wake socket %s: %s", w->path, msg);
}

/* ---- clients ------------------------------------------------------------ */

/* Close client c and forget it (the last client moves into its place). */
static void
drop(struct ctl_wake *w, struct wake_client *c)
{
    uint32_t pos = c->pos, last = w->n - 1;

    ev_io_stop(w->loop, &c->io);
    close(c->io.fd);
    if (pos != last) {
        w->fds[pos] = w->fds[last];
        w->cli[pos] = w->cli[last];
        w->cli[pos]->pos = pos;
    }
    w->n--;
    w->free_slots[w->n_free++] = (uint32_t)(c - w->slots);
}

/* A client is readable: whatever it sent is discarded; EOF or an error
 * closes it.  At most CTL_WAKE_READS_PER_WAKEUP reads, then the
 * (level-triggered) watcher fires again on the next iteration. */
static void
on_client(struct ev_loop *loop, ev_io *io, int revents)
{
    struct wake_client *c = io->data;
    char buf[CTL_WAKE_READ_BUF];
    ssize_t r;
    int k;

    (void)loop;
    (void)revents;
    for (k = 0; k < CTL_WAKE_READS_PER_WAKEUP; k++) {
        r = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0) {
            continue;                   /* hostile or confused: ignored */
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        /* 0: hang-up (or an empty message: treated alike); < 0: error */
        drop(c->w, c);
        return;
    }
}

/* Hold the accepted socket fd (the caller checked there is room). */
static void
hold(struct ctl_wake *w, int fd)
{
    struct wake_client *c = &w->slots[w->free_slots[--w->n_free]];
    int small = 1;      /* the kernel rounds up to its minimum (~4.5 KiB) */

    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    c->w = w;
    c->pos = w->n;
    w->fds[w->n] = fd;
    w->cli[w->n] = c;
    w->n++;
    ev_io_init(&c->io, on_client, fd, EV_READ);
    c->io.data = c;
    ev_io_start(w->loop, &c->io);
    /* the first wake says "held": a publish between the client's connect()
     * and this accept() woke only the others, so the client must (re-)read
     * the segment after this byte -- and every later publish wakes it.  A
     * client already gone shows up as EOF on its watcher. */
    (void)send(fd, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct ctl_wake *w = t->data;

    (void)revents;
    ev_io_start(loop, &w->io);
}

/* The listener is readable: accept at most CTL_WAKE_ACCEPT_PER_WAKEUP. */
static void
on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    struct ctl_wake *w = io->data;
    int k, fd;

    (void)revents;
    for (k = 0; k < CTL_WAKE_ACCEPT_PER_WAKEUP; k++) {
        fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
                continue;               /* that one is gone; next */
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM, ...: the connection stays
             * queued and the listener readable; pause instead of spinning */
            note(w, "accept: %s; not accepting for %.0f s (%u clients held)", strerror(errno),
                 CTL_WAKE_RETRY_S, w->n);
            ev_io_stop(loop, &w->io);
            ev_timer_set(&w->retry, CTL_WAKE_RETRY_S, 0.0);
            ev_timer_start(loop, &w->retry);
            return;
        }
        if (w->n >= w->cap) {
            close(fd);
            note(w, "%u clients already held: a new one was closed at once", w->n);
            continue;
        }
        hold(w, fd);
    }
    /* more may be queued: the (level-triggered) watcher fires again */
}

/* ---- waking ------------------------------------------------------------- */

void
ctl_wake_all(struct ctl_wake *w)
{
    unsigned i = 0;
    ssize_t r;

    if (w == NULL) {
        return;
    }
    while (i < w->n) {
        do {
            r = send(w->fds[i], "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (r < 0 && errno == EINTR);
        if (r >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            i++;                        /* sent, or a wake is already queued */
            continue;
        }
        drop(w, w->cli[i]);             /* EPIPE, ECONNRESET, ...: gone; the
                                           last client is now at i */
    }
}

unsigned
ctl_wake_clients(const struct ctl_wake *w)
{
    return w != NULL ? w->n : 0;
}

/* ---- setup -------------------------------------------------------------- */

/*
 * How many clients fit: raise the soft descriptor limit by up to
 * CTL_WAKE_MAX (clients get their own budget on top of what the controller
 * started with); what could not be added comes out of a quarter of the
 * limit at most, so clients never starve health checks of descriptors.
 */
static unsigned
client_budget(void)
{
    struct rlimit rl;
    rlim_t old, want, room;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return CTL_WAKE_MAX / 4;
    }
    old = rl.rlim_cur;
    want = old + CTL_WAKE_MAX;
    if (old == RLIM_INFINITY || want < old) {
        return CTL_WAKE_MAX;
    }
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) {
        want = rl.rlim_max;
    }
    if (want > old) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
            log_info("wake socket: open-file limit raised from %llu to %llu",
                     (unsigned long long)old, (unsigned long long)want);
        } else {
            want = old;
        }
    }
    room = want - old;
    if (room < want / 4) {
        room = want / 4;
    }
    return room >= CTL_WAKE_MAX ? CTL_WAKE_MAX : (unsigned)room;
}

/* Allocate the client arrays for cap clients. */
static int
alloc_clients(struct ctl_wake *w, unsigned cap)
{
    uint32_t i;

    w->cap = cap;
    w->fds = calloc(cap, sizeof(*w->fds));
    w->cli = calloc(cap, sizeof(*w->cli));
    w->slots = calloc(cap, sizeof(*w->slots));
    w->free_slots = calloc(cap, sizeof(*w->free_slots));
    if (w->fds == NULL || w->cli == NULL || w->slots == NULL || w->free_slots == NULL) {
        return -1;
    }
    for (i = 0; i < cap; i++) {
        w->free_slots[i] = cap - 1 - i;     /* slot 0 first */
    }
    w->n_free = cap;
    return 0;
}

static void
free_clients(struct ctl_wake *w)
{
    free(w->fds);
    free(w->cli);
    free(w->slots);
    free(w->free_slots);
}

struct ctl_wake *
ctl_wake_new(struct ev_loop *loop, const char *seg_path)
{
    struct ctl_wake *w = calloc(1, sizeof(*w));
    struct sockaddr_un sa;
    struct stat st, seg;
    mode_t mode = 0600, old_mask;
    gid_t gid = (gid_t)-1;
    int rc;

    if (w == NULL) {
        log_warn("wake socket: out of memory; running without it");
        return NULL;
    }
    w->fd = -1;
    w->loop = loop;
    if (ctl_wake_path(seg_path, w->path, sizeof(w->path)) != 0) {
        log_warn("wake socket %s.wake: path longer than %zu bytes; running without it (use a "
                 "shorter segment.path)", seg_path, sizeof(sa.sun_path) - 1);
        goto out_free;
    }
    if (alloc_clients(w, client_budget()) != 0) {
        log_warn("wake socket %s: out of memory; running without it", w->path);
        goto out_free;
    }
    /* the segment's writer lock is ours: no other controller uses the path,
     * so a socket left there is a dead run's -- anything else is not ours */
    if (lstat(w->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_warn("wake socket %s: something that is not a socket is in the way; "
                     "refusing to remove it; running without a wake socket", w->path);
            goto out_free;
        }
        if (unlink(w->path) != 0) {
            log_warn("wake socket %s: cannot remove the stale socket: %s; running without it",
                     w->path, strerror(errno));
            goto out_free;
        }
    } else if (errno != ENOENT) {
        log_warn("wake socket %s: %s; running without it", w->path, strerror(errno));
        goto out_free;
    }
    w->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (w->fd < 0) {
        log_warn("wake socket: socket: %s; running without it", strerror(errno));
        goto out_free;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, w->path, strlen(w->path) + 1);
    /* created owner-only; opened up (mode, group) once it is ours */
    old_mask = umask(0177);
    rc = bind(w->fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_mask);
    if (rc != 0) {
        log_warn("wake socket %s: bind: %s; running without it", w->path, strerror(errno));
        goto out_close;
    }
    if (lstat(w->path, &st) != 0) {
        log_warn("wake socket %s: %s; running without it", w->path, strerror(errno));
        goto out_unlink;
    }
    w->dev = st.st_dev;
    w->ino = st.st_ino;
    /* whoever may read the segment may connect (connect needs write): the
     * segment file's group, and rw for each class that has read on it */
    if (stat(seg_path, &seg) == 0) {
        gid = seg.st_gid;
        mode |= ((seg.st_mode & 0040) ? 0060 : 0) | ((seg.st_mode & 0004) ? 0006 : 0);
    } else {
        log_warn("wake socket %s: cannot stat the segment %s (%s): owner-only", w->path,
                 seg_path, strerror(errno));
    }
    if (gid != (gid_t)-1 && gid != st.st_gid && lchown(w->path, (uid_t)-1, gid) != 0) {
        log_warn("wake socket %s: cannot give it group %ld: %s; running without it", w->path,
                 (long)gid, strerror(errno));
        goto out_unlink;
    }
    if (chmod(w->path, mode) != 0) {
        log_warn("wake socket %s: chmod %04o: %s; running without it", w->path, (unsigned)mode,
                 strerror(errno));
        goto out_unlink;
    }
    if (listen(w->fd, SOMAXCONN) != 0) {
        log_warn("wake socket %s: listen: %s; running without it", w->path, strerror(errno));
        goto out_unlink;
    }
    ev_io_init(&w->io, on_accept, w->fd, EV_READ);
    w->io.data = w;
    ev_init(&w->retry, on_retry);
    w->retry.data = w;
    ev_io_start(loop, &w->io);
    log_notice("wake socket %s (mode %04o, up to %u clients)", w->path, (unsigned)mode, w->cap);
    return w;

out_unlink:
    unlink(w->path);
out_close:
    close(w->fd);
out_free:
    free_clients(w);
    free(w);
    return NULL;
}

void
ctl_wake_free(struct ctl_wake *w)
{
    struct stat st;

    if (w == NULL) {
        return;
    }
    log_info("wake socket %s: closing, %u clients", w->path, w->n);
    while (w->n > 0) {
        drop(w, w->cli[w->n - 1]);
    }
    ev_io_stop(w->loop, &w->io);
    ev_timer_stop(w->loop, &w->retry);
    close(w->fd);
    if (lstat(w->path, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino) {
        unlink(w->path);
    }
    free_clients(w);
    free(w);
}
