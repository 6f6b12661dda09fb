/*
 * mc_client.c -- the client handle: options, segment attachment, errors,
 * version, state, and target handles.
 *
 * The segment is attached read-only with the shm core's mshm_attach(), the
 * same validation marshal-shmdump uses.  A client whose segment does not
 * exist yet is ABSENT and retries the attach (at most every 100 ms) from
 * every call, so applications may start before the controller.  A retired
 * segment (the controller replaced it) is re-attached when noticed: the
 * notify word moves on retirement, so the next command notices.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mc_cluster.h"
#include "mc_commands.h"
#include "mc_internal.h"

#define MC_ATTACH_RETRY_NS 100000000ull
#define MC_DEFAULT_SEGMENT "/dev/shm/marshal.main"

/* ---- version, names ------------------------------------------------------------------- */

MARSHAL_API int
marshal_version(void)
{
    return MARSHAL_VERSION_NUMBER;
}

#define MC_STR2(x) #x
#define MC_STR(x) MC_STR2(x)

MARSHAL_API const char *
marshal_version_string(void)
{
    return MC_STR(MARSHAL_VERSION_MAJOR) "." MC_STR(MARSHAL_VERSION_MINOR) "."
        MC_STR(MARSHAL_VERSION_PATCH);
}

MARSHAL_API const char *
marshal_strerror(int status)
{
    switch (status) {
    case MARSHAL_OK:              return "ok";
    case MARSHAL_ERR_NOENT:       return "no segment (is marshal-controller running?)";
    case MARSHAL_ERR_PERM:        return "segment not accessible or unsafe owner/mode";
    case MARSHAL_ERR_VERSION:     return "segment layout version not supported";
    case MARSHAL_ERR_CORRUPT:     return "segment corrupt";
    case MARSHAL_ERR_RETIRED:     return "segment retired";
    case MARSHAL_ERR_STALE:       return "controller stale: write refused by policy";
    case MARSHAL_ERR_BUSY:        return "segment busy";
    case MARSHAL_ERR_NOTFOUND:    return "no such target";
    case MARSHAL_ERR_RANGE:       return "argument out of range";
    case MARSHAL_ERR_NOMEM:       return "out of memory";
    case MARSHAL_ERR_SYS:         return "system call failed";
    case MARSHAL_ERR_LOST:        return "events lost";
    case MARSHAL_ERR_NOMASTER:    return "no confirmed master (not sent)";
    case MARSHAL_ERR_NOSERVER:    return "no server available (not sent)";
    case MARSHAL_ERR_CONN:        return "connection failed (not sent)";
    case MARSHAL_ERR_TIMEOUT:     return "timeout after sending (outcome unknown)";
    case MARSHAL_ERR_IO:          return "connection lost after sending (outcome unknown)";
    case MARSHAL_ERR_PROTOCOL:    return "protocol error (outcome unknown)";
    case MARSHAL_ERR_DEGRADED:    return "group degraded: writes refused by policy";
    case MARSHAL_ERR_INVAL:       return "invalid argument";
    case MARSHAL_ERR_UNSUPPORTED: return "command not supported by marshal";
    case MARSHAL_ERR_CROSSGROUP:  return "keys map to different groups";
    case MARSHAL_ERR_PIPELINE:    return "pipeline misuse";
    case MARSHAL_ERR_PARK_FULL:   return "park queue full while waiting for a master (not sent)";
    case MARSHAL_ERR_PARK_EXPIRED: return "no master within the failover wait (not sent)";
    case MARSHAL_ERR_CLOSED:      return "handle closed before the command ended";
    default:                      return "unknown status";
    }
}

MARSHAL_API const char *
marshal_outcome_name(int outcome)
{
    switch (outcome) {
    case MARSHAL_OUTCOME_APPLIED:     return "applied";
    case MARSHAL_OUTCOME_NOT_APPLIED: return "not applied";
    case MARSHAL_OUTCOME_UNKNOWN:     return "unknown";
    case MARSHAL_OUTCOME_PARTIAL:     return "partial";
    default:                          return "none";
    }
}

MARSHAL_API const char *
marshal_state_name(int state)
{
    switch (state) {
    case MARSHAL_STATE_LIVE:    return "live";
    case MARSHAL_STATE_STALE:   return "stale";
    case MARSHAL_STATE_STOPPED: return "stopped";
    case MARSHAL_STATE_RETIRED: return "retired";
    case MARSHAL_STATE_ABSENT:  return "absent";
    default:                    return "unknown";
    }
}

/* ---- errors, logging ---------------------------------------------------------------- */

void
mc_seterr(marshal_client *c, int code, const char *fmt, ...)
{
    va_list ap;

    c->errcode = code;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof(c->errstr), fmt, ap);
    va_end(ap);
}

void
mc_clearerr(marshal_client *c)
{
    c->errcode = MARSHAL_OK;
    c->errstr[0] = '\0';
}

void
mc_log(marshal_client *c, int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (c->o.log_fn == NULL || level < c->o.log_level) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    c->o.log_fn(c->o.log_ud, level, buf);
}

MARSHAL_API const char *
marshal_client_errstr(const marshal_client *c)
{
    return c == NULL ? "no client" : c->errstr;
}

MARSHAL_API int
marshal_client_errcode(const marshal_client *c)
{
    return c == NULL ? MARSHAL_ERR_INVAL : c->errcode;
}

MARSHAL_API int
marshal_client_outcome(const marshal_client *c)
{
    return c == NULL ? MARSHAL_OUTCOME_NONE : c->outcome;
}

MARSHAL_API int
marshal_client_last_server(const marshal_client *c, const char **host, int *port)
{
    return mc_last_server(c, host, port);
}

int
mc_last_server(const marshal_client *c, const char **host, int *port)
{
    if (c == NULL || c->last_conn == NULL) {
        return MARSHAL_ERR_NOTFOUND;
    }
    if (host != NULL) {
        *host = c->last_conn->host;
    }
    if (port != NULL) {
        *port = c->last_conn->port;
    }
    return MARSHAL_OK;
}

uint64_t
mc_coarse_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- options, open, close -------------------------------------------------------------- */

MARSHAL_API void
marshal_options_init(marshal_options *o)
{
    if (o == NULL) {
        return;
    }
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 1000;
    o->command_timeout_ms = 1000;
    o->failover_wait_ms = 5000;
    o->stale_writes_fail_ms = 0;
    o->database = 0;
    o->max_attempts = 3;
    o->park_max = 1024;
    o->log_level = MARSHAL_LOG_NOTICE;
}

static int
check_options(const marshal_options *o, char *err, size_t errlen)
{
    if (o->connect_timeout_ms <= 0 || o->connect_timeout_ms > 3600000) {
        snprintf(err, errlen, "connect_timeout_ms %d not in 1..3600000", o->connect_timeout_ms);
        return 0;
    }
    if (o->command_timeout_ms < 0 || o->command_timeout_ms > 3600000) {
        snprintf(err, errlen, "command_timeout_ms %d not in 0..3600000", o->command_timeout_ms);
        return 0;
    }
    if (o->failover_wait_ms < 0 || o->failover_wait_ms > 3600000) {
        snprintf(err, errlen, "failover_wait_ms %d not in 0..3600000", o->failover_wait_ms);
        return 0;
    }
    if (o->stale_writes_fail_ms < 0) {
        snprintf(err, errlen, "stale_writes_fail_ms %d < 0", o->stale_writes_fail_ms);
        return 0;
    }
    if (o->database < 0 || o->database > 1000000) {
        snprintf(err, errlen, "database %d out of range", o->database);
        return 0;
    }
    if (o->max_attempts < 1 || o->max_attempts > 16) {
        snprintf(err, errlen, "max_attempts %d not in 1..16", o->max_attempts);
        return 0;
    }
    if (o->park_max < 0 || o->park_max > 1000000) {
        snprintf(err, errlen, "park_max %d not in 0..1000000", o->park_max);
        return 0;
    }
    return 1;
}

/* Attach the segment now; MARSHAL_OK or a segment error (c->errstr says why). */
static int
attach(marshal_client *c)
{
    int rc = mshm_attach(&c->rd, c->path, 0);

    if (rc != MSHM_OK) {
        mc_seterr(c, rc, "%s", c->rd.errstr);
        c->next_attach_ns = mc_coarse_ns() + MC_ATTACH_RETRY_NS;
        return rc;
    }
    c->attached = 1;
    c->ev_segment_id = c->rd.geo.segment_id;
    mc_log(c, MARSHAL_LOG_VERBOSE, "attached segment %s", c->path);
    return MARSHAL_OK;
}

/* Attached, or attach now (rate-limited while ABSENT). */
int
mc_ensure_attached(marshal_client *c)
{
    if (c->attached) {
        return MARSHAL_OK;
    }
    if (mc_coarse_ns() < c->next_attach_ns) {
        if (c->errcode == MARSHAL_OK) {
            mc_seterr(c, MARSHAL_ERR_NOENT, "segment %s not attached yet", c->path);
        }
        return c->errcode;
    }
    return attach(c);
}

/*
 * Called when the notify word moved: re-attach a retired/replaced segment.
 * Returns MARSHAL_OK when the mapping is usable (the old one is kept if the
 * new one cannot be attached: the last snapshot keeps routing).
 */
int
mc_check_segment(marshal_client *c)
{
    int rc;

    if (!mshm_replaced(&c->rd)) {
        return MARSHAL_OK;
    }
    rc = mshm_reattach(&c->rd, 0);
    if (rc != MSHM_OK) {
        mc_log(c, MARSHAL_LOG_WARNING, "segment %s replaced, re-attach failed: %s", c->path,
               c->rd.errstr);
        return MARSHAL_OK;
    }
    mc_invalidate_routes(c);
    mc_log(c, MARSHAL_LOG_NOTICE, "segment %s replaced: re-attached", c->path);
    return MARSHAL_OK;
}

static char *
dup_str(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

MARSHAL_API int
marshal_client_open(const char *path, const marshal_options *opts, marshal_client **out)
{
    marshal_client *c;
    char err[128];
    int rc;

    if (out == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    if (opts != NULL) {
        c->o = *opts;
    } else {
        marshal_options_init(&c->o);
    }
    c->ev_fd = -1;
    c->ev_state = MARSHAL_STATE_LIVE;
    if (!check_options(&c->o, err, sizeof(err))) {
        free(c);
        return MARSHAL_ERR_RANGE;
    }
    c->username = dup_str(c->o.username);
    c->password = dup_str(c->o.password);
    c->o.username = c->username;
    c->o.password = c->password;
    if ((c->o.username != NULL && c->username == NULL) ||
        (opts != NULL && opts->password != NULL && c->password == NULL)) {
        marshal_client_close(c);
        return MARSHAL_ERR_NOMEM;
    }
    if (path == NULL) {
        path = getenv("MARSHAL_SEGMENT");
    }
    if (path == NULL || path[0] == '\0') {
        path = MC_DEFAULT_SEGMENT;
    }
    if (strlen(path) >= sizeof(c->path) || strlen(path) >= sizeof(c->rd.path)) {
        marshal_client_close(c);
        return MARSHAL_ERR_RANGE;
    }
    snprintf(c->path, sizeof(c->path), "%s", path);
    rc = attach(c);
    *out = c;
    switch (rc) {
    case MARSHAL_OK:
    case MARSHAL_ERR_NOENT:
    case MARSHAL_ERR_PERM:
    case MARSHAL_ERR_VERSION:
    case MARSHAL_ERR_CORRUPT:
    case MARSHAL_ERR_RETIRED:
        return rc;          /* segment errors: an ABSENT client that keeps trying */
    default:
        marshal_client_close(c);
        *out = NULL;
        return rc;
    }
}

MARSHAL_API void
marshal_client_close(marshal_client *c)
{
    marshal_target *t, *n;

    if (c == NULL) {
        return;
    }
    for (t = c->targets; t != NULL; t = t->next) {
        mc_mirror_drain(t, 1);
    }
    for (t = c->targets; t != NULL; t = n) {
        n = t->next;
        mc_cluster_free(t, 0);      /* its members are in this list too */
        free(t->pend);
        free(t);
    }
    c->targets = NULL;
    mc_events_free(c);
    mc_conn_free_all(c);
    if (c->attached) {
        mshm_detach(&c->rd);
    }
    if (c->ev_fd >= 0) {
        close(c->ev_fd);
    }
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
    }
    free(c->username);
    free(c->password);
    free(c);
}

MARSHAL_API int
marshal_client_state(marshal_client *c)
{
    if (c == NULL) {
        return MARSHAL_STATE_ABSENT;
    }
    if (mc_ensure_attached(c) != MARSHAL_OK) {
        return MARSHAL_STATE_ABSENT;
    }
    switch (mshm_liveness(&c->rd, mshm_now_ns())) {
    case MSHM_LIVE:    return MARSHAL_STATE_LIVE;
    case MSHM_STALE:   return MARSHAL_STATE_STALE;
    case MSHM_STOPPED: return MARSHAL_STATE_STOPPED;
    default:           break;
    }
    /* retired: try the replacement right away */
    if (mshm_reattach(&c->rd, 0) == MSHM_OK) {
        mc_invalidate_routes(c);
        return MARSHAL_STATE_LIVE;
    }
    return MARSHAL_STATE_RETIRED;
}

/* Forget every cached route (a new segment: indices and notify mean nothing). */
void
mc_invalidate_routes(marshal_client *c)
{
    marshal_target *t;

    for (t = c->targets; t != NULL; t = t->next) {
        t->r.valid = 0;
        if (t->cl != NULL) {
            t->cl->valid = 0;
        }
    }
}

/* ---- targets --------------------------------------------------------------------------- */

/* A new target handle called name, linked into c's list (not yet routed). */
static marshal_target *
target_new(marshal_client *c, const char *name)
{
    marshal_target *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->c = c;
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->kind = MARSHAL_KIND_GROUP;
    t->route_override = MARSHAL_ROUTE_DEFAULT;
    t->next = c->targets;
    c->targets = t;
    return t;
}

int
mc_target_open_group(marshal_client *c, const char *name, marshal_target **out)
{
    marshal_target *t = target_new(c, name);
    int rc;

    *out = NULL;
    if (t == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    t->internal = 1;
    rc = mc_route_rebuild(t);
    if (rc == MARSHAL_OK) {
        rc = mc_events_track(c, t);
    }
    if (rc != MARSHAL_OK) {
        marshal_target_close(t);
        return rc;
    }
    *out = t;
    return MARSHAL_OK;
}

int
mc_target_open_cluster(marshal_client *c, const char *name, marshal_target **out)
{
    marshal_target *t = target_new(c, name);
    int rc;

    *out = NULL;
    if (t == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    t->internal = 1;
    rc = mc_cluster_open(t);
    if (rc != MARSHAL_OK) {
        marshal_target_close(t);
        return rc;
    }
    *out = t;
    return MARSHAL_OK;
}

MARSHAL_API int
marshal_target_open(marshal_client *c, const char *name, marshal_target **out)
{
    marshal_target *t;
    uint32_t idx;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (c == NULL || name == NULL || out == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    mc_clearerr(c);
    if (strlen(name) >= MSHM_NAME_MAX || name[0] == '\0') {
        mc_seterr(c, MARSHAL_ERR_INVAL, "target name must have 1..%d bytes", MSHM_NAME_MAX - 1);
        return MARSHAL_ERR_INVAL;
    }
    rc = mc_ensure_attached(c);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    mc_check_segment(c);
    if (mshm_find_group(&c->rd, name, &idx) == MSHM_OK) {
        rc = mc_target_open_group(c, name, &t);
        if (rc == MARSHAL_OK) {
            t->internal = 0;
            *out = t;
        }
        return rc;
    }
    rc = mshm_find_cluster(&c->rd, name, &idx);
    if (rc != MSHM_OK) {
        mc_seterr(c, rc, "no group or cluster \"%s\" in %s", name, c->path);
        return rc;
    }
    rc = mc_target_open_cluster(c, name, &t);
    if (rc == MARSHAL_OK) {
        t->internal = 0;
        *out = t;
    }
    return rc;
}

MARSHAL_API void
marshal_target_close(marshal_target *t)
{
    marshal_client *c;
    marshal_target **pp;

    if (t == NULL) {
        return;
    }
    c = t->c;
    if (c->async != NULL) {
        return;     /* async commands may still hold it: freed by marshal_async_close */
    }
    mc_mirror_drain(t, 1);      /* mirror legs still owed: read (and count) them */
    for (pp = &c->targets; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    /* replies still owed on its connections would desynchronise them */
    while (t->pend_len > 0) {
        struct mc_pend *p = &t->pend[t->pend_head];

        if (p->conn != NULL && p->conn->ctx != NULL && p->epoch == p->conn->epoch) {
            mc_conn_drop(c, p->conn, MARSHAL_ERR_IO);
        }
        t->pend_head = (t->pend_head + 1) % t->pend_cap;
        t->pend_len--;
    }
    mc_events_untrack(c, t);
    mc_cluster_free(t, 1);
    free(t->pend);
    free(t);
}

/* A rule for t and, for clusters and farms, every member down to the groups. */
static void
set_route(marshal_target *t, int route)
{
    int i;

    t->route_override = route;
    for (i = 0; t->cl != NULL && i < t->cl->n; i++) {
        set_route(t->cl->member[i], route);     /* each group keeps its failover rules */
    }
}

MARSHAL_API int
marshal_target_use(marshal_target *t, int route)
{
    if (t == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    if (route != MARSHAL_ROUTE_DEFAULT && route != MARSHAL_ROUTE_MASTER &&
        route != MARSHAL_ROUTE_MASTER_READONLY && route != MARSHAL_ROUTE_SPLIT) {
        mc_seterr(t->c, MARSHAL_ERR_RANGE, "unknown route %d", route);
        return MARSHAL_ERR_RANGE;
    }
    set_route(t, route);
    return MARSHAL_OK;
}

MARSHAL_API int
marshal_target_info_get(marshal_target *t, marshal_target_info *info)
{
    int rc;

    if (t == NULL || info == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    if (t->cl != NULL) {
        rc = mc_cluster_refresh(t);
        if (rc != MARSHAL_OK) {
            return rc;
        }
        memset(info, 0, sizeof(*info));
        info->name = t->name;
        info->kind = t->kind;
        info->route = info->published_route = -1;
        info->master_host = "";
        info->n_replicas = t->cl->n;      /* members, for a cluster */
        info->generation = t->cl->notify;
        return MARSHAL_OK;
    }
    rc = mc_route_refresh(t);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    memset(info, 0, sizeof(*info));
    info->name = t->name;
    info->kind = t->kind;
    info->route = mc_effective_route(t);
    info->published_route = t->r.published_route;
    info->has_master = t->r.master != NULL && t->r.master_up;
    if (t->r.master != NULL) {
        snprintf(t->info_host, sizeof(t->info_host), "%s", t->r.master->host);
        info->master_port = t->r.master->port;
    } else {
        t->info_host[0] = '\0';
    }
    info->master_host = t->info_host;
    info->master_epoch = t->r.master_epoch;
    info->n_replicas = t->r.n_replicas;
    info->n_readable = t->r.wrr.n;
    info->degraded = (t->r.gflags & MSHM_GF_DEGRADED) != 0;
    info->failover = (t->r.gflags & MSHM_GF_FAILOVER) != 0;
    info->generation = t->r.notify;
    return MARSHAL_OK;
}
