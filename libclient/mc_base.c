/*
 * mc_base.c -- the ground floor of the client: version and names, errors and
 * logging, the coarse clock, options, segment attachment and state.  Calls
 * nothing else in libclient (mc_client.c opens and closes handles on top).
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
#include "mc_internal.h"

#define MC_ATTACH_RETRY_NS 100000000ull

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
    case MARSHAL_ERR_PERM:        return "segment not readable or unsafe (run in the group of segment.group; the segment must not be group/other-writable or a symlink)";
    case MARSHAL_ERR_VERSION:     return "segment layout version not supported (the controller and this library are from different releases: upgrade the older)";
    case MARSHAL_ERR_CORRUPT:     return "segment corrupt";
    case MARSHAL_ERR_RETIRED:     return "segment retired (the controller replaced it: open the handle again)";
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

/* ---- options, attachment --------------------------------------------------------------- */

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

int
mc_check_options(const marshal_options *o, char *err, size_t errlen)
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
int
mc_attach(marshal_client *c)
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
    return mc_attach(c);
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

int
mc_client_state(marshal_client *c)
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

MARSHAL_API int
marshal_client_state(marshal_client *c)
{
    return mc_client_state(c);
}
