/*
 * ctl_metrics.c -- Prometheus text format over HTTP with libmicrohttpd
 * (ctl_metrics.h).
 *
 * One internal epoll thread (MHD_USE_EPOLL_INTERNAL_THREAD: the
 * controller's own descriptors may exceed FD_SETSIZE), so handlers run one
 * at a time and the reader needs no lock.  Bounds: 16 KiB of memory per
 * connection (a larger request line or header is answered with an error by
 * libmicrohttpd and closed), 16 connections, 4 per address, 10 s per
 * connection.
 */
#define _GNU_SOURCE
#include "ctl_metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl_conn.h"
#include "ctl_log.h"
#include "mshm_prom.h"
#include "mshm_read.h"
#include "mshm_version.h"

/* A histogram of relaxed atomic per-bucket counts (cumulated when rendered). */
#define HIST_MAX 12
struct hist {
    const char *name, *help;
    const double *le;             /* upper bounds in seconds, ascending        */
    unsigned n_le;                /* buckets before +Inf                       */
    atomic_uint_fast64_t bucket[HIST_MAX + 1];
    atomic_uint_fast64_t sum_ns;
};

static const double publish_le[] = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4,
                                    1e-3, 1e-2};
static const double check_le[] = {1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
                                  5e-2, 0.1, 0.25, 1};

struct ctl_metrics {
    struct MHD_Daemon *d;
    struct hist publish, check;
    pthread_mutex_t smu;          /* guards sent[] and n_sent: memcpy only     */
    struct ctl_metrics_sentinel *sent;
    uint32_t n_sent, cap_sent;
    struct mshm_reader r;
    int attached;
    char path[512];
    unsigned long scrapes;
    double last_scrape_s;
};

static void
hist_init(struct hist *h, const char *name, const char *help, const double *le, unsigned n)
{
    unsigned i;

    h->name = name;
    h->help = help;
    h->le = le;
    h->n_le = n;
    for (i = 0; i <= HIST_MAX; i++) {
        atomic_init(&h->bucket[i], 0);
    }
    atomic_init(&h->sum_ns, 0);
}

static void
hist_add(struct hist *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    unsigned i = 0;

    while (i < h->n_le && s > h->le[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

static void
hist_render(FILE *f, struct hist *h)
{
    uint64_t cum = 0;
    unsigned i;

    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
    for (i = 0; i <= h->n_le; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < h->n_le) {
            fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", h->name, h->le[i], cum);
        } else {
            fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", h->name, cum);
        }
    }
    fprintf(f, "%s_sum %.9f\n%s_count %" PRIu64 "\n", h->name,
            (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9, h->name, cum);
}

void
ctl_metrics_publish(struct ctl_metrics *m, uint64_t ns)
{
    if (m != NULL) {
        hist_add(&m->publish, ns);
    }
}

void
ctl_metrics_check(struct ctl_metrics *m, uint32_t us)
{
    if (m != NULL) {
        hist_add(&m->check, (uint64_t)us * 1000u);
    }
}

void
ctl_metrics_sentinels(struct ctl_metrics *m, const struct ctl_metrics_sentinel *s, uint32_t n)
{
    struct ctl_metrics_sentinel *grown = NULL;

    if (m == NULL) {
        return;
    }
    if (n > m->cap_sent) {
        grown = malloc(n * sizeof(*grown));     /* outside the lock */
        if (grown == NULL) {
            return;                             /* keep the old table */
        }
    }
    pthread_mutex_lock(&m->smu);
    if (grown != NULL) {
        free(m->sent);
        m->sent = grown;
        m->cap_sent = n;
    }
    if (n > 0) {
        memcpy(m->sent, s, n * sizeof(*s));
    }
    m->n_sent = n;
    pthread_mutex_unlock(&m->smu);
}

/* The sentinel series, from a copy taken under the lock. */
static void
sentinels_render(FILE *f, struct ctl_metrics *m)
{
    struct ctl_metrics_sentinel *c = NULL;
    uint64_t now = ctl_now_ms();
    uint32_t n, i;
    char e[2 * sizeof(c->addr)];

    pthread_mutex_lock(&m->smu);
    n = m->n_sent;
    if (n > 0 && (c = malloc(n * sizeof(*c))) != NULL) {
        memcpy(c, m->sent, n * sizeof(*c));
    }
    pthread_mutex_unlock(&m->smu);
    if (c == NULL) {
        n = 0;
    }
    fprintf(f, "# HELP marshal_sentinel_up 1 while the controller's command connection to the "
               "sentinel is up.\n# TYPE marshal_sentinel_up gauge\n");
    for (i = 0; i < n; i++) {
        fprintf(f, "marshal_sentinel_up{sentinel=\"%s\"} %d\n",
                mshm_prom_escape(c[i].addr, e, sizeof(e)), c[i].up);
    }
    fprintf(f, "# HELP marshal_sentinel_tilt 1 while the sentinel reports TILT mode.\n"
               "# TYPE marshal_sentinel_tilt gauge\n");
    for (i = 0; i < n; i++) {
        fprintf(f, "marshal_sentinel_tilt{sentinel=\"%s\"} %d\n",
                mshm_prom_escape(c[i].addr, e, sizeof(e)), c[i].tilt);
    }
    fprintf(f, "# HELP marshal_sentinel_last_poll_age_seconds Time since the last successful "
               "poll of the sentinel (absent: never polled).\n"
               "# TYPE marshal_sentinel_last_poll_age_seconds gauge\n");
    for (i = 0; i < n; i++) {
        if (c[i].last_poll_ms != 0) {
            fprintf(f, "marshal_sentinel_last_poll_age_seconds{sentinel=\"%s\"} %.3f\n",
                    mshm_prom_escape(c[i].addr, e, sizeof(e)),
                    now > c[i].last_poll_ms ? (double)(now - c[i].last_poll_ms) / 1e3 : 0.0);
        }
    }
    free(c);
}

static int marker;      /* *con_cls once the request line has been seen */

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned code, const char *text)
{
    struct MHD_Response *rsp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (rsp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    rc = MHD_queue_response(conn, code, rsp);
    MHD_destroy_response(rsp);
    return rc;
}

/* Attach (or re-attach after the segment was replaced): 0 or -1. */
static int
ensure_attached(struct ctl_metrics *m)
{
    if (m->attached && mshm_replaced(&m->r)) {
        if (mshm_reattach(&m->r, 0) != 0) {
            return 0;       /* keep serving the old mapping: it says "replaced" */
        }
        return 0;
    }
    if (!m->attached) {
        if (mshm_attach(&m->r, m->path, 0) != 0) {
            return -1;
        }
        m->attached = 1;
    }
    return 0;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct ctl_metrics *m = cls;
    struct mshm_state st;
    struct MHD_Response *rsp;
    enum MHD_Result rc;
    uint64_t t0;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    (void)version;
    (void)upload;
    if (*con_cls == NULL) {
        *con_cls = &marker;     /* headers seen; a body (if any) comes next */
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;       /* discard request bodies */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n");
    }
    if (strcmp(url, "/metrics") != 0) {
        return reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
    }
    t0 = mshm_now_ns();
    if (ensure_attached(m) != 0) {
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "segment not published yet\n");
    }
    if (mshm_read_state(&m->r, &st) != 0) {
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "segment busy or unreadable\n");
    }
    f = open_memstream(&buf, &len);
    if (f == NULL) {
        mshm_state_free(&st);
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    mshm_prom_render(f, &st, (int)mshm_liveness(&m->r, mshm_now_ns()), mshm_release(),
                     mshm_git_rev());
    mshm_state_free(&st);
    hist_render(f, &m->publish);
    hist_render(f, &m->check);
    sentinels_render(f, m);
    fprintf(f,
            "# HELP marshal_scrapes_total Scrapes of this endpoint.\n"
            "# TYPE marshal_scrapes_total counter\n"
            "marshal_scrapes_total %lu\n"
            "# HELP marshal_scrape_duration_seconds Time the previous scrape took to render.\n"
            "# TYPE marshal_scrape_duration_seconds gauge\n"
            "marshal_scrape_duration_seconds %.6f\n",
            ++m->scrapes, m->last_scrape_s);
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    m->last_scrape_s = (double)(mshm_now_ns() - t0) / 1e9;
    rsp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (rsp == NULL) {
        free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    rc = MHD_queue_response(conn, MHD_HTTP_OK, rsp);
    MHD_destroy_response(rsp);
    return rc;
}

/* libmicrohttpd's own errors go to the controller's log. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_info("metrics: %s", msg);
}

struct ctl_metrics *
ctl_metrics_start(const struct ctl_addr *addr, const char *seg_path, char *err, size_t errlen)
{
    struct ctl_metrics *m = calloc(1, sizeof(*m));
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;

    if (m == NULL) {
        snprintf(err, errlen, "metrics: out of memory");
        return NULL;
    }
    snprintf(m->path, sizeof(m->path), "%s", seg_path);
    hist_init(&m->publish, "marshal_publish_duration_seconds",
              "Time one publish of the segment took (latch, both copies, events, wake).",
              publish_le, sizeof(publish_le) / sizeof(publish_le[0]));
    hist_init(&m->check, "marshal_health_check_duration_seconds",
              "Round trip of the controller's health checks (PING), all servers.", check_le,
              sizeof(check_le) / sizeof(check_le[0]));
    pthread_mutex_init(&m->smu, NULL);
    memset(&sa4, 0, sizeof(sa4));
    memset(&sa6, 0, sizeof(sa6));
    if (inet_pton(AF_INET, addr->host, &sa4.sin_addr) == 1) {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons(addr->port);
        sa = (const struct sockaddr *)&sa4;
    } else if (inet_pton(AF_INET6, addr->host, &sa6.sin6_addr) == 1) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons(addr->port);
        sa = (const struct sockaddr *)&sa6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "metrics: listen: \"%s\" is not a numeric address", addr->host);
        pthread_mutex_destroy(&m->smu);
        free(m);
        return NULL;
    }
    m->d = MHD_start_daemon(flags, addr->port, NULL, NULL, handle, m,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)4,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_END);
    if (m->d == NULL) {
        snprintf(err, errlen, "metrics: cannot listen on %s:%u (address in use? not local?)",
                 addr->host, (unsigned)addr->port);
        pthread_mutex_destroy(&m->smu);
        free(m);
        return NULL;
    }
    return m;
}

void
ctl_metrics_stop(struct ctl_metrics *m)
{
    if (m == NULL) {
        return;
    }
    MHD_stop_daemon(m->d);
    if (m->attached) {
        mshm_detach(&m->r);
    }
    pthread_mutex_destroy(&m->smu);
    free(m->sent);
    free(m);
}
