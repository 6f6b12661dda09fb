/*
 * responder.c -- a stand-in for many redis-servers, for controller benchmarks.
 *
 *   responder --base PORT --count N [--host 127.0.0.1] [--max-seconds S] [--partial]
 *
 * One libev (epoll) process listening on ports PORT .. PORT+N-1 of host,
 * laid out as replica sets of 3: with i = port - PORT, port PORT + 3*(i/3) is
 * the master of its group and the next two ports are its replicas (N need not
 * be a multiple of 3: a trailing short group has 1 or 2 servers).  It speaks
 * enough RESP2 for what marshal-controller's health checker sends
 * (controller/ctl_health.c, ctl_conn.c):
 *
 *   PING [msg]            +PONG (or the message)
 *   ROLE                  master:  ["master", offset, [[ip, "port", "offset"], ...]]
 *                         replica: ["slave", ip, master port, "connected", offset]
 *   INFO [section ...]    replication (role, connected_slaves, slaveN:ip=,port=,
 *                         state=online,offset=,lag=0 on masters; master_host,
 *                         master_port, master_link_status:up,
 *                         master_sync_in_progress:0, slave_repl_offset, ... on
 *                         replicas), persistence (loading:0, ...), server;
 *                         no section / "all" / "default" / "everything": all three
 *   QUIT                  +OK, then close
 *   COMMAND               empty array
 *   anything else         +OK (AUTH, SELECT, CLIENT SETNAME, HELLO is refused
 *                         with -ERR as by Redis 5 so clients fall back to RESP2)
 *
 * Requests may be multibulk (what hiredis sends) or inline ("PING\r\n"),
 * pipelined, and split across reads at any byte.  Bounded: 64 KiB of input
 * and 1 MiB of unsent output per connection, 32 arguments of at most 64 KiB
 * each; anything malformed or over a bound closes the connection.
 *
 * Replication offsets grow with time (about 1 KiB/s, equal on a master and
 * its replicas), as on an idle Redis with pings from the master.
 *
 * Start-up: RLIMIT_NOFILE's soft limit is raised to the hard limit.  Every
 * port is bound before serving; without --partial, one port that cannot be
 * bound (in use) makes the program print it and exit 3, so the caller can
 * pick another range.  When all are bound it prints one line
 * "responder: ready: N ports PORT-LAST" to stdout (flushed) and serves until
 * SIGTERM/SIGINT or --max-seconds (default 3600) pass: it never lingers.
 * SIGUSR1 prints a "responder: stats: mono_ms=... commands=... ping=...
 * role=... info=... accepted=... open=..." line (flushed), for rates.
 * At exit it prints connections accepted, commands answered and closes for
 * protocol errors to stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#define IN_MAX    (64u * 1024u)     /* unparsed input per connection     */
#define OUT_MAX   (1024u * 1024u)   /* unsent output per connection      */
#define ARGS_MAX  32
#define ARG_MAX   (64u * 1024u)

struct listener {
    ev_io io;
    int idx;                /* port - base */
};

struct conn {
    struct conn *prev, *next;   /* g.conns */
    ev_io rio, wio;
    int fd;
    int idx;                /* server index of the port it came in on */
    int closing;            /* QUIT: close once the output is out */
    char *in;
    size_t in_len, in_cap;  /* grows up to IN_MAX */
    char *out;
    size_t out_len, out_cap, out_off;
};

static struct {
    const char *host;
    int base, count;
    struct ev_loop *loop;
    char replid[41];
    double t0;
    unsigned long long accepted, commands, proto_errors, overflows;
    unsigned long long n_ping, n_role, n_info;
    int open_conns;
    struct conn *conns;     /* open connections, freed at exit */
} g;

/* ---- small helpers -------------------------------------------------------- */

static int
master_of(int idx)
{
    return idx - idx % 3;
}

static int
group_size(int idx)
{
    int m = master_of(idx);

    return g.count - m >= 3 ? 3 : g.count - m;
}

static long long
repl_offset(void)
{
    return 1000 + (long long)((ev_now(g.loop) - g.t0) * 1024.0);
}

static void conn_close(struct conn *c);

/* Append to c's output; -1 (and the connection is doomed) past OUT_MAX. */
static int
out_put(struct conn *c, const char *p, size_t n)
{
    if (c->out_len + n > OUT_MAX) {
        g.overflows++;
        return -1;
    }
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        char *np;

        while (cap < c->out_len + n) {
            cap *= 2;
        }
        np = realloc(c->out, cap);
        if (np == NULL) {
            return -1;
        }
        c->out = np;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

static int __attribute__((format(printf, 2, 3)))
out_fmt(struct conn *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        return -1;
    }
    return out_put(c, buf, (size_t)n);
}

static int
out_bulk(struct conn *c, const char *p, size_t n)
{
    if (out_fmt(c, "$%zu\r\n", n) != 0 || out_put(c, p, n) != 0) {
        return -1;
    }
    return out_put(c, "\r\n", 2);
}

static int
out_bulk_str(struct conn *c, const char *s)
{
    return out_bulk(c, s, strlen(s));
}

/* ---- replies ------------------------------------------------------------- */

static int
reply_role(struct conn *c)
{
    int m = master_of(c->idx), n = group_size(c->idx), i, rc = 0;
    long long off = repl_offset();
    char port[16], offs[32];

    if (c->idx == m) {
        rc |= out_put(c, "*3\r\n", 4);
        rc |= out_bulk_str(c, "master");
        rc |= out_fmt(c, ":%lld\r\n", off);
        rc |= out_fmt(c, "*%d\r\n", n - 1);
        for (i = 1; i < n; i++) {
            snprintf(port, sizeof(port), "%d", g.base + m + i);
            snprintf(offs, sizeof(offs), "%lld", off);
            rc |= out_put(c, "*3\r\n", 4);
            rc |= out_bulk_str(c, g.host);
            rc |= out_bulk_str(c, port);
            rc |= out_bulk_str(c, offs);
        }
        return rc;
    }
    rc |= out_put(c, "*5\r\n", 4);
    rc |= out_bulk_str(c, "slave");
    rc |= out_bulk_str(c, g.host);
    rc |= out_fmt(c, ":%d\r\n", g.base + m);
    rc |= out_bulk_str(c, "connected");
    rc |= out_fmt(c, ":%lld\r\n", off);
    return rc;
}

#define S_SERVER      1u
#define S_REPLICATION 2u
#define S_PERSISTENCE 4u

static size_t
info_text(const struct conn *c, unsigned sections, char *buf, size_t cap)
{
    int m = master_of(c->idx), n = group_size(c->idx), i;
    long long off = repl_offset();
    size_t len = 0;

#define ADD(...)                                                                  \
    do {                                                                          \
        int k_ = snprintf(buf + len, cap - len, __VA_ARGS__);                     \
        if (k_ < 0 || (size_t)k_ >= cap - len) {                                  \
            return 0;                                                             \
        }                                                                         \
        len += (size_t)k_;                                                        \
    } while (0)

    if (sections & S_SERVER) {
        ADD("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n"
            "process_id:%ld\r\nrun_id:%s\r\ntcp_port:%d\r\nuptime_in_seconds:%lld\r\n",
            (long)getpid(), g.replid, g.base + c->idx, (long long)(ev_now(g.loop) - g.t0));
    }
    if (sections & S_REPLICATION) {
        if (len > 0) {
            ADD("\r\n");
        }
        ADD("# Replication\r\n");
        if (c->idx == m) {
            ADD("role:master\r\nconnected_slaves:%d\r\n", n - 1);
            for (i = 1; i < n; i++) {
                ADD("slave%d:ip=%s,port=%d,state=online,offset=%lld,lag=0\r\n", i - 1, g.host,
                    g.base + m + i, off);
            }
        } else {
            ADD("role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\nmaster_link_status:up\r\n"
                "master_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\n"
                "slave_read_repl_offset:%lld\r\nslave_repl_offset:%lld\r\nslave_priority:100\r\n"
                "slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n",
                g.host, g.base + m, off, off);
        }
        ADD("master_failover_state:no-failover\r\nmaster_replid:%s\r\n"
            "master_replid2:0000000000000000000000000000000000000000\r\n"
            "master_repl_offset:%lld\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\n"
            "repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:1\r\n"
            "repl_backlog_histlen:%lld\r\n",
            g.replid, off, off);
    }
    if (sections & S_PERSISTENCE) {
        if (len > 0) {
            ADD("\r\n");
        }
        ADD("# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\n"
            "current_cow_size:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\n"
            "current_save_keys_total:0\r\nrdb_changes_since_last_save:0\r\n"
            "rdb_bgsave_in_progress:0\r\nrdb_last_save_time:%lld\r\n"
            "rdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\n"
            "rdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\nrdb_last_cow_size:0\r\n"
            "rdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\n"
            "aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n"
            "aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\n"
            "aof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\n"
            "aof_last_write_status:ok\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\n"
            "module_fork_last_cow_size:0\r\n",
            (long long)time(NULL));
    }
#undef ADD
    return len;
}

static int
reply_info(struct conn *c, int argc, char **argv, const size_t *lens)
{
    unsigned sections = 0;
    char buf[8192];
    size_t len;
    int i;

    if (argc == 1) {
        sections = S_SERVER | S_REPLICATION | S_PERSISTENCE;
    }
    for (i = 1; i < argc; i++) {
        (void)lens;
        if (strcasecmp(argv[i], "replication") == 0) {
            sections |= S_REPLICATION;
        } else if (strcasecmp(argv[i], "persistence") == 0) {
            sections |= S_PERSISTENCE;
        } else if (strcasecmp(argv[i], "server") == 0) {
            sections |= S_SERVER;
        } else if (strcasecmp(argv[i], "all") == 0 || strcasecmp(argv[i], "default") == 0 ||
                   strcasecmp(argv[i], "everything") == 0) {
            sections |= S_SERVER | S_REPLICATION | S_PERSISTENCE;
        }
        /* unknown sections contribute nothing, as in Redis */
    }
    len = info_text(c, sections, buf, sizeof(buf));
    return out_bulk(c, buf, len);
}

/* Answer one command; -1 closes the connection. */
static int
dispatch(struct conn *c, int argc, char **argv, size_t *lens)
{
    const char *cmd = argv[0];

    g.commands++;
    if (strcasecmp(cmd, "PING") == 0) {
        g.n_ping++;
        if (argc > 1) {
            return out_bulk(c, argv[1], lens[1]);
        }
        return out_put(c, "+PONG\r\n", 7);
    }
    if (strcasecmp(cmd, "ROLE") == 0) {
        g.n_role++;
        return reply_role(c);
    }
    if (strcasecmp(cmd, "INFO") == 0) {
        g.n_info++;
        return reply_info(c, argc, argv, lens);
    }
    if (strcasecmp(cmd, "QUIT") == 0) {
        c->closing = 1;
        return out_put(c, "+OK\r\n", 5);
    }
    if (strcasecmp(cmd, "COMMAND") == 0) {
        return out_put(c, "*0\r\n", 4);
    }
    if (strcasecmp(cmd, "HELLO") == 0) {
        return out_fmt(c, "-ERR unknown command 'HELLO'\r\n");
    }
    return out_put(c, "+OK\r\n", 5);   /* AUTH, SELECT, CLIENT SETNAME, ... */
}

/* ---- RESP request parsing -------------------------------------------------- */

/*
 * Parse one decimal number terminated by CRLF at p (within end).  Returns the
 * bytes consumed, 0 when incomplete, -1 when malformed.
 */
static long
parse_num_line(const char *p, const char *end, long long min, long long max, long long *out)
{
    const char *q = p;
    long long v = 0;
    int neg = 0, digits = 0;

    if (q < end && *q == '-') {
        neg = 1;
        q++;
    }
    while (q < end && *q >= '0' && *q <= '9') {
        if (v > 100000000000LL) {
            return -1;
        }
        v = v * 10 + (*q - '0');
        digits++;
        q++;
    }
    if (q >= end || (q + 1 >= end && *q == '\r')) {
        return 0;
    }
    if (digits == 0 || q[0] != '\r' || q[1] != '\n') {
        return -1;
    }
    v = neg ? -v : v;
    if (v < min || v > max) {
        return -1;
    }
    *out = v;
    return (long)(q + 2 - p);
}

/*
 * Parse one request at the front of buf[0, blen) into argv (pointers into
 * buf, NUL-terminated in place once the request is known to be complete).
 * Returns the bytes consumed, 0 when incomplete, -1 when malformed.  *argc
 * may be 0 (an empty inline line, or "*0").
 */
static long
parse_request(char *buf, size_t blen, int *argc, char **argv, size_t *lens)
{
    char *p = buf, *end = buf + blen;
    long long n, len;
    long k;
    int i;

    *argc = 0;
    if (blen == 0) {
        return 0;
    }
    if (*p != '*') {
        /* inline: blank-separated words up to \n */
        char *nl = memchr(p, '\n', blen), *q, *e;

        if (nl == NULL) {
            return blen > 4096 ? -1 : 0;
        }
        e = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        for (q = p; q < e;) {
            if (*q == ' ' || *q == '\t') {
                *q++ = '\0';
                continue;
            }
            if (*argc == ARGS_MAX) {
                return -1;
            }
            argv[*argc] = q;
            while (q < e && *q != ' ' && *q != '\t') {
                q++;
            }
            lens[*argc] = (size_t)(q - argv[*argc]);
            (*argc)++;
        }
        *e = '\0';
        return (long)(nl + 1 - buf);
    }
    k = parse_num_line(p + 1, end, 0, ARGS_MAX, &n);
    if (k <= 0) {
        return k;
    }
    p += 1 + k;
    for (i = 0; i < n; i++) {
        if (p >= end) {
            return 0;
        }
        if (*p != '$') {
            return -1;
        }
        k = parse_num_line(p + 1, end, 0, ARG_MAX, &len);
        if (k <= 0) {
            return k;
        }
        p += 1 + k;
        if (end - p < len + 2) {
            return 0;
        }
        if (p[len] != '\r' || p[len + 1] != '\n') {
            return -1;
        }
        argv[i] = p;
        lens[i] = (size_t)len;
        p += len + 2;
    }
    /* complete: terminate the arguments (over their \r) */
    for (i = 0; i < n; i++) {
        argv[i][lens[i]] = '\0';
    }
    *argc = (int)n;
    return (long)(p - buf);
}

/* ---- connections --------------------------------------------------------- */

static void
conn_close(struct conn *c)
{
    ev_io_stop(g.loop, &c->rio);
    ev_io_stop(g.loop, &c->wio);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        g.conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
    g.open_conns--;
}

/* Write what we can; returns -1 when the connection was closed. */
static int
flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            conn_close(c);
            return -1;
        }
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        ev_io_stop(g.loop, &c->wio);
        if (c->closing) {
            conn_close(c);
            return -1;
        }
    } else if (!ev_is_active(&c->wio)) {
        ev_io_start(g.loop, &c->wio);
    }
    return 0;
}

static void
on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    (void)flush_out(w->data);
}

/* Parse and answer every complete request in c->in; -1 on a protocol error. */
static int
process(struct conn *c)
{
    char *argv[ARGS_MAX];
    size_t lens[ARGS_MAX];
    size_t used = 0;
    long k;
    int argc;

    while (used < c->in_len && !c->closing) {
        k = parse_request(c->in + used, c->in_len - used, &argc, argv, lens);
        if (k < 0) {
            g.proto_errors++;
            return -1;
        }
        if (k == 0) {
            break;
        }
        used += (size_t)k;
        if (argc > 0 && dispatch(c, argc, argv, lens) != 0) {
            return -1;
        }
    }
    if (used > 0) {
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
    return 0;
}

static void
on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    size_t space;
    ssize_t r;

    (void)loop;
    (void)revents;
    for (;;) {
        if (c->in_len == c->in_cap) {
            char *np;

            if (c->in_cap == IN_MAX) {
                g.proto_errors++;   /* a request larger than the bound */
                conn_close(c);
                return;
            }
            np = realloc(c->in, c->in_cap * 4 > IN_MAX ? IN_MAX : c->in_cap * 4);
            if (np == NULL) {
                conn_close(c);
                return;
            }
            c->in = np;
            c->in_cap = c->in_cap * 4 > IN_MAX ? IN_MAX : c->in_cap * 4;
        }
        space = c->in_cap - c->in_len;
        r = read(c->fd, c->in + c->in_len, space);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (r <= 0) {
            conn_close(c);
            return;
        }
        c->in_len += (size_t)r;
        if (process(c) != 0) {
            conn_close(c);
            return;
        }
        if (c->closing) {
            break;
        }
        if ((size_t)r < space) {
            break;          /* short read: the socket is drained */
        }
    }
    if (c->closing) {
        ev_io_stop(g.loop, &c->rio);
    }
    (void)flush_out(c);
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct listener *l = (struct listener *)w;
    struct conn *c;
    int fd, one = 1;

    (void)revents;
    for (;;) {
        fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
                fprintf(stderr, "responder: accept on %d: %s\n", g.base + l->idx,
                        strerror(errno));
            }
            return;
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL || (c->in = malloc(1024)) == NULL) {
            free(c);
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        c->in_cap = 1024;
        c->idx = l->idx;
        ev_io_init(&c->rio, on_read, fd, EV_READ);
        ev_io_init(&c->wio, on_write, fd, EV_WRITE);
        c->rio.data = c->wio.data = c;
        ev_io_start(loop, &c->rio);
        c->next = g.conns;
        if (g.conns != NULL) {
            g.conns->prev = c;
        }
        g.conns = c;
        g.accepted++;
        g.open_conns++;
    }
}

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* SIGUSR1: one counters line on stdout, stamped with CLOCK_MONOTONIC (ms). */
static void
on_stats(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct timespec ts;

    (void)loop;
    (void)w;
    (void)revents;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("responder: stats: mono_ms=%lld commands=%llu ping=%llu role=%llu info=%llu "
           "accepted=%llu open=%d\n",
           (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, g.commands, g.n_ping, g.n_role,
           g.n_info, g.accepted, g.open_conns);
    fflush(stdout);
}

static void
on_limit(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    fprintf(stderr, "responder: --max-seconds reached, exiting\n");
    ev_break(loop, EVBREAK_ALL);
}

static int
listen_on(const char *host, int port)
{
    struct sockaddr_in sa;
    int fd, one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: responder --base PORT --count N [--host IPV4] [--max-seconds S] "
               "[--partial]\n"
               "  ports PORT..PORT+N-1 in replica sets of 3 (master, replica, replica)\n"
               "  --partial   serve the ports that could be bound instead of exiting 3\n");
}

int
main(int argc, char **argv)
{
    struct listener *ls;
    struct rlimit rl;
    ev_signal sterm, sint, susr1;
    ev_timer limit;
    int i, fd, bound = 0, partial = 0, max_s = 3600;
    unsigned seed;

    g.host = "127.0.0.1";
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--base") == 0 && i + 1 < argc) {
            g.base = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            g.count = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            g.host = argv[++i];
        } else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc) {
            max_s = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--partial") == 0) {
            partial = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (g.base < 1 || g.count < 1 || g.count > 30000 || g.base + g.count - 1 > 65535 ||
        max_s < 1 || strlen(g.host) > 45) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* listeners + one connection per port from the controller + slack */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)g.count * 2 + 64) {
        fprintf(stderr, "responder: RLIMIT_NOFILE %llu is too low for %d ports (need %d)\n",
                (unsigned long long)rl.rlim_cur, g.count, g.count * 2 + 64);
        return 1;
    }
    g.loop = ev_loop_new(EVBACKEND_EPOLL);
    if (g.loop == NULL) {
        fprintf(stderr, "responder: no epoll loop\n");
        return 1;
    }
    g.t0 = ev_now(g.loop);
    seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (i = 0; i < 40; i++) {
        g.replid[i] = "0123456789abcdef"[rand_r(&seed) & 15];
    }
    ls = calloc((size_t)g.count, sizeof(*ls));
    if (ls == NULL) {
        fprintf(stderr, "responder: out of memory\n");
        return 1;
    }
    for (i = 0; i < g.count; i++) {
        fd = listen_on(g.host, g.base + i);
        if (fd < 0) {
            fprintf(stderr, "responder: cannot listen on %s:%d: %s\n", g.host, g.base + i,
                    strerror(errno));
            if (!partial) {
                while (--i >= 0) {
                    ev_io_stop(g.loop, &ls[i].io);
                    close(ls[i].io.fd);
                }
                free(ls);
                ev_loop_destroy(g.loop);
                return 3;
            }
            ls[i].idx = -1;
            continue;
        }
        ls[i].idx = i;
        ev_io_init(&ls[i].io, on_accept, fd, EV_READ);
        ev_io_start(g.loop, &ls[i].io);
        bound++;
    }
    ev_signal_init(&sterm, on_stop, SIGTERM);
    ev_signal_init(&sint, on_stop, SIGINT);
    ev_signal_start(g.loop, &sterm);
    ev_signal_start(g.loop, &sint);
    ev_signal_init(&susr1, on_stats, SIGUSR1);
    ev_signal_start(g.loop, &susr1);
    ev_timer_init(&limit, on_limit, (double)max_s, 0.0);
    ev_timer_start(g.loop, &limit);
    printf("responder: ready: %d ports %d-%d (%d groups of 3, %d not bound)\n", bound, g.base,
           g.base + g.count - 1, (g.count + 2) / 3, g.count - bound);
    fflush(stdout);
    ev_run(g.loop, 0);
    printf("responder: %llu connections accepted, %llu commands, %llu closed for protocol "
           "errors, %llu for output overflow, %d open at exit\n",
           g.accepted, g.commands, g.proto_errors, g.overflows, g.open_conns);
    fflush(stdout);
    while (g.conns != NULL) {
        conn_close(g.conns);
    }
    for (i = 0; i < g.count; i++) {
        if (ls[i].idx >= 0) {
            ev_io_stop(g.loop, &ls[i].io);
            close(ls[i].io.fd);
        }
    }
    ev_loop_destroy(g.loop);
    free(ls);
    return 0;
}
