/*
 * async_failover.c -- writes through the asynchronous libmarshal-shm API
 * (include/marshal/async.h) on a libev loop, for
 * tests/client/lib_async_failover.sh (a Sentinel failover under load).
 *
 *   async_failover [OPTIONS] SEGMENT TARGET
 *
 * Keeps up to --inflight commands in flight (SET k<i> v<i>-<run id>; every
 * key is written once, with a value no other run or key has), issuing a new
 * one from each callback, until --count commands were issued, --duration
 * seconds passed or SIGTERM/SIGINT arrived.  Then it stops issuing, lets the
 * commands in flight end (at most --drain-ms), closes the handle (which ends
 * the rest with MARSHAL_ERR_CLOSED) and checks that every issued command had
 * exactly one callback.  A 1 ms ev_timer on the same loop measures how long
 * the loop was ever kept from running it.
 *
 * Options:
 *   --timeout MS         command_timeout_ms          (library default)
 *   --connect-timeout MS connect_timeout_ms          (library default)
 *   --failover-wait MS   failover_wait_ms            (library default)
 *   --park-max N         park_max                    (library default)
 *   --max-attempts N     max_attempts                (library default)
 *   --inflight N         commands in flight at most  (1000)
 *   --count N            commands issued at most     (10000000)
 *   --duration S         seconds of issuing at most  (60)
 *   --drain-ms MS        wait for the last callbacks (5000)
 *   --settle-rate N      once a write was applied on the master a masterSwitch
 *                        event named, issue at most N commands a second (0: no
 *                        limit; default): full load across the failover, then a
 *                        bounded number of keys for the checks
 *   --log-level L        library log to stderr: debug|verbose|notice|warning
 *
 * Output (stdout, one line per record, fields separated by one space and
 * never containing one; flushed every millisecond by the loop timer).
 * Times: *_us fields are CLOCK_REALTIME microseconds since the Unix epoch
 * (comparable with bash's $EPOCHREALTIME), mono_us is CLOCK_MONOTONIC.
 *   ready T_US run=RUNID inflight=N
 *   c N I STATUS OUTCOME SERVER ATTEMPTS PARKED_NS ISSUE_US DONE_US MONO_US REPLY
 *        a callback: N its rank (1, 2, ...), I the key index (key k<I>),
 *        STATUS OK or the marshal_status name without MARSHAL_ERR_, OUTCOME
 *        applied|not_applied|unknown|partial, SERVER host:port or "-",
 *        REPLY status:OK, err:TEXT, ... or "-" (no reply)
 *   event NAME GROUP SERVER OLD EPOCH seq=S age=A t_us=T mono_us=M
 *   throttle T_US rate=N   --settle-rate took effect
 *   first_new I t_us=T after_event_us=D server=H:P
 *        the first APPLIED callback on the master named by the last
 *        masterSwitch event, after that event
 *   gap US t_us=T          the 1 ms timer fired US after its previous firing
 *                          (printed when US >= 10000)
 *   tick T_US issued=N done=N in_flight=N parked=N wakes=N connects=N maxgap_us=G
 *                          every second; G the largest timer gap since the last one
 *   error WHAT ...         a broken promise of the API (e.g. "error dup I N":
 *                          a second callback for one command)
 *   stop T_US why=signal|duration|count
 *   summary issued=N callbacks=N applied=A not_applied=X unknown=U partial=P
 *           closed=C rejected=R parked_applied=... errors=E stats_...=...
 *   max_loop_gap_us N at_us=T
 *   done T_US
 *
 * Exit status: 0 clean, 1 an "error" line was printed, 2 usage or setup
 * failure.  The program uses nothing but the public headers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include <marshal/adapters/libev.h>
#include <marshal/async.h>
#include <marshal/marshal.h>

#define ADDR_MAX     300        /* "host:port", bytes                         */
#define REPLY_MAX    96         /* printed reply text, bytes                  */
#define GAP_PRINT_US 10000      /* print timer gaps at least this long        */

/* Parsed command line. */
struct opts {
    const char *segment;        /* SEGMENT                                    */
    const char *target;         /* TARGET                                     */
    int timeout_ms;             /* -1: library default (all four)             */
    int connect_timeout_ms;
    int failover_wait_ms;
    int park_max;
    int max_attempts;
    long inflight;              /* commands in flight at most                 */
    long count;                 /* commands issued at most                    */
    double duration;            /* seconds of issuing                         */
    long drain_ms;              /* wait for callbacks after stopping          */
    long settle_rate;           /* commands/s after the switch (0: no limit)  */
    int log_level;              /* -1: no library log                         */
};

/* The whole run (one loop, one handle). */
struct run {
    struct opts o;
    struct ev_loop *loop;
    marshal_async *a;           /* NULL once closed                           */
    marshal_target *t;
    ev_timer tick;              /* 1 ms: gap measurement, flush, drain check  */
    ev_timer end;               /* --duration                                 */
    ev_signal sterm, sint;
    char runid[40];             /* part of every value: unique to this run    */
    /* per key index: callbacks seen (0, 1, more is an error) and issue time */
    unsigned char *seen;
    int64_t *issue_us;
    size_t nalloc;
    long issued, callbacks, in_flight, rejected;
    long applied, not_applied, unknown, partial, closed, parked_applied;
    long errors;
    int stopping;               /* no more issuing                            */
    int closing;                /* inside marshal_async_close                 */
    int64_t stop_mono_us;
    int64_t last_tick_mono;     /* previous firing of the 1 ms timer (0: none) */
    int64_t max_gap_us, max_gap_at_us;
    int64_t win_gap_us;         /* largest gap since the last tick line       */
    int64_t last_report_mono;
    /* the last masterSwitch event and the first write applied after it */
    char switch_new[ADDR_MAX];
    int64_t switch_mono_us;
    int first_new_done;
    int throttled;              /* --settle-rate in force                     */
    double tokens;              /* commands it may issue now                  */
    int64_t tokens_mono;        /* when tokens were last topped up            */
};

static struct run R;

/* ---- clocks and output ------------------------------------------------------------ */

static int64_t
wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One line to stdout (buffered; the 1 ms timer flushes). */
static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
out(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

/* An "error" line: the API broke a promise. */
static void err_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
err_line(const char *fmt, ...)
{
    va_list ap;

    R.errors++;
    fputs("error ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* MARSHAL_ERR_NOMASTER -> "NOMASTER"; 0 -> "OK". */
static const char *
status_name(int rc)
{
    static char buf[32];
    static const char *const names[] = {
        "OK",       "NOENT",       "PERM",       "VERSION",   "CORRUPT",     "RETIRED",
        "STALE",    "BUSY",        "NOTFOUND",   "RANGE",     "NOMEM",       "SYS",
        "LOST",     "NOMASTER",    "NOSERVER",   "CONN",      "TIMEOUT",     "IO",
        "PROTOCOL", "DEGRADED",    "INVAL",      "UNSUPPORTED", "CROSSGROUP", "PIPELINE",
        "PARK_FULL", "PARK_EXPIRED", "CLOSED",
    };

    if (rc <= 0 && -rc < (int)(sizeof(names) / sizeof(names[0]))) {
        return names[-rc];
    }
    snprintf(buf, sizeof(buf), "E%d", rc);
    return buf;
}

static const char *
outcome_word(int outcome)
{
    switch (outcome) {
    case MARSHAL_OUTCOME_APPLIED: return "applied";
    case MARSHAL_OUTCOME_NOT_APPLIED: return "not_applied";
    case MARSHAL_OUTCOME_UNKNOWN: return "unknown";
    case MARSHAL_OUTCOME_PARTIAL: return "partial";
    case MARSHAL_OUTCOME_NONE: return "none";
    default: return "?";
    }
}

/* Copy s into dst (size n) as one field: spaces and controls become '_'. */
static void
field(char *dst, size_t n, const char *s, size_t len)
{
    size_t i, j = 0;

    for (i = 0; i < len && j + 1 < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        dst[j++] = (ch <= ' ' || ch >= 0x7f) ? '_' : (char)ch;
    }
    dst[j] = '\0';
    if (j == 0 && n > 1) {
        snprintf(dst, n, "\"\"");
    }
}

/* "host:port", or "-" for an empty host. */
static void
addr_field(char *dst, size_t n, const char *host, int port)
{
    char h[ADDR_MAX];

    if (host == NULL || host[0] == '\0') {
        snprintf(dst, n, "-");
        return;
    }
    field(h, sizeof(h), host, strlen(host));
    snprintf(dst, n, "%s:%d", h, port);
}

/* The REPLY field. */
static void
reply_field(char *dst, size_t n, const redisReply *r)
{
    char text[REPLY_MAX];

    if (r == NULL) {
        snprintf(dst, n, "-");
        return;
    }
    switch (r->type) {
    case REDIS_REPLY_NIL:
        snprintf(dst, n, "nil");
        break;
    case REDIS_REPLY_INTEGER:
        snprintf(dst, n, "int:%lld", (long long)r->integer);
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        field(text, sizeof(text), r->str ? r->str : "", r->str ? r->len : 0);
        snprintf(dst, n, "%s:%s",
                 r->type == REDIS_REPLY_STRING   ? "str"
                 : r->type == REDIS_REPLY_STATUS ? "status"
                                                 : "err",
                 text);
        break;
    case REDIS_REPLY_ARRAY:
        snprintf(dst, n, "array:%zu", r->elements);
        break;
    default:
        snprintf(dst, n, "type%d", r->type);
        break;
    }
}

/* ---- library callbacks -------------------------------------------------------------- */

static void
on_log(void *ud, int level, const char *msg)
{
    static const char *const names[] = {"debug", "verbose", "notice", "warning"};

    (void)ud;
    fprintf(stderr, "log %" PRId64 " %s %s\n", wall_us(),
            level >= 0 && level <= 3 ? names[level] : "?", msg);
}

static void
on_event(marshal_client *c, const marshal_event *ev, void *ud)
{
    char server[ADDR_MAX], old[ADDR_MAX], group[ADDR_MAX];
    int64_t m = mono_us();

    (void)c;
    (void)ud;
    addr_field(server, sizeof(server), ev->host, ev->port);
    addr_field(old, sizeof(old), ev->old_host, ev->old_port);
    if (ev->group == NULL || ev->group[0] == '\0') {
        snprintf(group, sizeof(group), "-");
    } else {
        field(group, sizeof(group), ev->group, strlen(ev->group));
    }
    out("event %s %s %s %s %" PRIu64 " seq=%" PRIu64 " age=%" PRId64 " t_us=%" PRId64
        " mono_us=%" PRId64,
        marshal_event_name(ev->type), group, server, old, ev->epoch, ev->seq, ev->age_ms,
        wall_us(), m);
    if (ev->type == MARSHAL_EV_MASTER_SWITCH) {
        snprintf(R.switch_new, sizeof(R.switch_new), "%s", server);
        R.switch_mono_us = m;
        R.first_new_done = 0;
    }
    fflush(stdout);
}

static void fill(void);
static void finish(void);

static void
on_reply(marshal_async *a, redisReply *reply, const marshal_result *res, void *priv)
{
    long i = (long)(intptr_t)priv;
    char server[ADDR_MAX], rep[REPLY_MAX + 16];
    int64_t done = wall_us(), m = mono_us();

    (void)a;
    R.callbacks++;
    addr_field(server, sizeof(server), res->host, res->port);
    reply_field(rep, sizeof(rep), reply);
    if (i < 0 || i >= R.issued) {
        err_line("callback for a command never issued: I=%ld", i);
        return;
    }
    if (R.seen[i] != 0) {
        err_line("dup %ld %ld %s %s %s", i, R.callbacks, status_name(res->status),
                 outcome_word(res->outcome), server);
        if (R.seen[i] < 255) {
            R.seen[i]++;
        }
        return;
    }
    R.seen[i] = 1;
    R.in_flight--;
    out("c %ld %ld %s %s %s %d %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " %s", R.callbacks, i,
        status_name(res->status), outcome_word(res->outcome), server, res->attempts,
        res->parked_ns, R.issue_us[i], done, m, rep);
    /* the result record must agree with itself (async.h) */
    if ((res->status == MARSHAL_OK) != (reply != NULL)) {
        err_line("I=%ld status %s but reply %s", i, status_name(res->status), rep);
    }
    if (res->status == MARSHAL_OK && reply->type == REDIS_REPLY_STATUS &&
        res->outcome != MARSHAL_OUTCOME_APPLIED) {
        err_line("I=%ld reply %s but outcome %s", i, rep, outcome_word(res->outcome));
    }
    if (res->outcome == MARSHAL_OUTCOME_APPLIED &&
        !(reply != NULL && reply->type == REDIS_REPLY_STATUS)) {
        err_line("I=%ld applied without an OK reply (%s)", i, rep);
    }
    if (res->attempts < 0 || (res->attempts == 0 && res->outcome != MARSHAL_OUTCOME_NOT_APPLIED)) {
        err_line("I=%ld attempts %d with outcome %s", i, res->attempts,
                 outcome_word(res->outcome));
    }
    switch (res->outcome) {
    case MARSHAL_OUTCOME_APPLIED:
        R.applied++;
        if (res->parked_ns > 0) {
            R.parked_applied++;
        }
        if (R.switch_mono_us != 0 && !R.first_new_done && strcmp(server, R.switch_new) == 0) {
            R.first_new_done = 1;
            out("first_new %ld t_us=%" PRId64 " after_event_us=%" PRId64 " server=%s", i, done,
                m - R.switch_mono_us, server);
            if (R.o.settle_rate > 0 && !R.throttled) {
                R.throttled = 1;
                R.tokens = 0;
                R.tokens_mono = m;
                out("throttle %" PRId64 " rate=%ld", done, R.o.settle_rate);
            }
        }
        break;
    case MARSHAL_OUTCOME_NOT_APPLIED: R.not_applied++; break;
    case MARSHAL_OUTCOME_UNKNOWN: R.unknown++; break;
    case MARSHAL_OUTCOME_PARTIAL: R.partial++; break;
    default: err_line("I=%ld outcome %d", i, res->outcome); break;
    }
    if (res->status == MARSHAL_ERR_CLOSED) {
        R.closed++;
    }
    if (!R.closing) {
        fill();
    }
}

/* ---- issuing ------------------------------------------------------------------------ */

static int
grow(void)
{
    size_t n = R.nalloc ? R.nalloc * 2 : 65536;
    unsigned char *s = realloc(R.seen, n);
    int64_t *u;

    if (s == NULL) {
        return -1;
    }
    memset(s + R.nalloc, 0, n - R.nalloc);
    R.seen = s;
    u = realloc(R.issue_us, n * sizeof(*u));
    if (u == NULL) {
        return -1;
    }
    R.issue_us = u;
    R.nalloc = n;
    return 0;
}

static void
stop_issuing(const char *why)
{
    if (R.stopping) {
        return;
    }
    R.stopping = 1;
    R.stop_mono_us = mono_us();
    out("stop %" PRId64 " why=%s in_flight=%ld", wall_us(), why, R.in_flight);
    fflush(stdout);
}

/* Top up to --inflight commands in flight. */
static void
fill(void)
{
    char key[32], val[96];
    long i;
    int rc;

    if (R.throttled) {
        int64_t m = mono_us();

        R.tokens += (double)(m - R.tokens_mono) * (double)R.o.settle_rate / 1e6;
        R.tokens_mono = m;
        if (R.tokens > (double)R.o.settle_rate / 100.0 + 1.0) {
            R.tokens = (double)R.o.settle_rate / 100.0 + 1.0;    /* bursts of 10 ms at most */
        }
    }
    while (!R.stopping && R.a != NULL && R.in_flight < R.o.inflight &&
           (!R.throttled || R.tokens >= 1.0)) {
        if (R.throttled) {
            R.tokens -= 1.0;
        }
        if (R.issued >= R.o.count) {
            stop_issuing("count");
            return;
        }
        if ((size_t)R.issued >= R.nalloc && grow() != 0) {
            err_line("out of memory for %ld keys", R.issued);
            stop_issuing("nomem");
            return;
        }
        i = R.issued;
        snprintf(key, sizeof(key), "k%ld", i);
        snprintf(val, sizeof(val), "v%ld-%s", i, R.runid);
        R.issue_us[i] = wall_us();
        /* counted first: the callback never runs inside the call, but the
         * index must be valid if it ever did */
        R.issued++;
        R.in_flight++;
        rc = marshal_async_command(R.t, on_reply, (void *)(intptr_t)i, "SET %s %s", key, val);
        if (rc != MARSHAL_OK) {
            /* not accepted: no callback will come (async.h) */
            R.in_flight--;
            R.seen[i] = 1;
            R.rejected++;
            out("reject %ld %s %s", i, status_name(rc),
                marshal_client_errstr(marshal_async_client(R.a)));
            if (R.rejected > 100) {
                err_line("more than 100 commands rejected");
                stop_issuing("rejected");
            }
            return;
        }
    }
}

/* ---- loop watchers ---------------------------------------------------------------------- */

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    int64_t m = mono_us();
    marshal_async_stats st;

    (void)loop;
    (void)w;
    (void)revents;
    if (R.last_tick_mono != 0) {
        int64_t gap = m - R.last_tick_mono;

        if (gap > R.win_gap_us) {
            R.win_gap_us = gap;
        }
        if (gap > R.max_gap_us) {
            R.max_gap_us = gap;
            R.max_gap_at_us = wall_us();
        }
        if (gap >= GAP_PRINT_US) {
            out("gap %" PRId64 " t_us=%" PRId64, gap, wall_us());
        }
    }
    R.last_tick_mono = m;
    if (R.a != NULL && m - R.last_report_mono >= 1000000) {
        R.last_report_mono = m;
        marshal_async_stats_get(R.a, &st);
        out("tick %" PRId64 " issued=%ld done=%ld in_flight=%ld parked=%" PRIu64 " wakes=%" PRIu64
            " connects=%" PRIu64 " maxgap_us=%" PRId64,
            wall_us(), R.issued, R.callbacks, R.in_flight, st.parked, st.wakes, st.connects,
            R.win_gap_us);
        R.win_gap_us = 0;
    }
    fflush(stdout);
    if (R.stopping && R.a != NULL &&
        (R.in_flight == 0 || m - R.stop_mono_us >= R.o.drain_ms * 1000)) {
        finish();
        return;
    }
    if (!R.stopping) {
        fill();     /* after a rejection, or if nothing was in flight */
    }
}

static void
on_end(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    stop_issuing("duration");
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    stop_issuing("signal");
}

/* Close the handle (remaining callbacks: CLOSED), compare its counters, stop the loop. */
static void
finish(void)
{
    marshal_async_stats st;

    marshal_async_stats_get(R.a, &st);
    if (st.commands != (uint64_t)(R.issued - R.rejected)) {
        err_line("stats: commands=%" PRIu64 " but %ld accepted", st.commands,
                 R.issued - R.rejected);
    }
    if (st.in_flight != (uint64_t)R.in_flight) {
        err_line("stats: in_flight=%" PRIu64 " but %ld callbacks outstanding", st.in_flight,
                 R.in_flight);
    }
    if (st.applied != (uint64_t)R.applied || st.not_applied != (uint64_t)R.not_applied ||
        st.unknown != (uint64_t)(R.unknown + R.partial)) {
        err_line("stats: applied=%" PRIu64 " not_applied=%" PRIu64 " unknown=%" PRIu64
                 " but callbacks say %ld %ld %ld",
                 st.applied, st.not_applied, st.unknown, R.applied, R.not_applied,
                 R.unknown + R.partial);
    }
    out("stats commands=%" PRIu64 " applied=%" PRIu64 " not_applied=%" PRIu64 " unknown=%" PRIu64
        " retries=%" PRIu64 " parked=%" PRIu64 " park_full=%" PRIu64 " park_expired=%" PRIu64
        " timeouts=%" PRIu64 " connects=%" PRIu64 " wakes=%" PRIu64 " in_flight=%" PRIu64,
        st.commands, st.applied, st.not_applied, st.unknown, st.retries, st.parked, st.park_full,
        st.park_expired, st.timeouts, st.connects, st.wakes, st.in_flight);
    R.closing = 1;
    marshal_async_close(R.a);
    R.a = NULL;
    R.t = NULL;
    ev_timer_stop(R.loop, &R.tick);
    ev_timer_stop(R.loop, &R.end);
    ev_signal_stop(R.loop, &R.sterm);
    ev_signal_stop(R.loop, &R.sint);
    ev_break(R.loop, EVBREAK_ALL);
}

/* ---- main ------------------------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr,
            "usage: async_failover [--timeout MS] [--connect-timeout MS] [--failover-wait MS]\n"
            "         [--park-max N] [--max-attempts N] [--inflight N] [--count N]\n"
            "         [--duration S] [--drain-ms MS] [--settle-rate N] [--log-level L]\n"
            "         SEGMENT TARGET\n");
}

static int
parse(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"connect-timeout", required_argument, NULL, 'C'},
        {"failover-wait", required_argument, NULL, 'f'},
        {"park-max", required_argument, NULL, 'p'},
        {"max-attempts", required_argument, NULL, 'a'},
        {"inflight", required_argument, NULL, 'i'},
        {"count", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"drain-ms", required_argument, NULL, 'D'},
        {"settle-rate", required_argument, NULL, 'r'},
        {"log-level", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof(*o));
    o->timeout_ms = o->connect_timeout_ms = o->failover_wait_ms = -1;
    o->park_max = o->max_attempts = -1;
    o->inflight = 1000;
    o->count = 10000000;
    o->duration = 60;
    o->drain_ms = 5000;
    o->log_level = -1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 't': o->timeout_ms = atoi(optarg); break;
        case 'C': o->connect_timeout_ms = atoi(optarg); break;
        case 'f': o->failover_wait_ms = atoi(optarg); break;
        case 'p': o->park_max = atoi(optarg); break;
        case 'a': o->max_attempts = atoi(optarg); break;
        case 'i': o->inflight = atol(optarg); break;
        case 'n': o->count = atol(optarg); break;
        case 'd': o->duration = atof(optarg); break;
        case 'D': o->drain_ms = atol(optarg); break;
        case 'r': o->settle_rate = atol(optarg); break;
        case 'l':
            if (strcmp(optarg, "debug") == 0) {
                o->log_level = MARSHAL_LOG_DEBUG;
            } else if (strcmp(optarg, "verbose") == 0) {
                o->log_level = MARSHAL_LOG_VERBOSE;
            } else if (strcmp(optarg, "notice") == 0) {
                o->log_level = MARSHAL_LOG_NOTICE;
            } else if (strcmp(optarg, "warning") == 0) {
                o->log_level = MARSHAL_LOG_WARNING;
            } else {
                return -1;
            }
            break;
        default: return -1;
        }
    }
    if (argc - optind != 2 || o->inflight < 1 || o->count < 1 || o->duration <= 0 ||
        o->drain_ms < 0 || o->settle_rate < 0) {
        return -1;
    }
    o->segment = argv[optind];
    o->target = argv[optind + 1];
    return 0;
}

int
main(int argc, char **argv)
{
    static char outbuf[1 << 20];
    marshal_options mo;
    long i, missing = 0, dups = 0;
    int rc;

    if (parse(argc, argv, &R.o) != 0) {
        usage();
        return 2;
    }
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    signal(SIGPIPE, SIG_IGN);
    snprintf(R.runid, sizeof(R.runid), "%ld-%" PRIx64, (long)getpid(), (uint64_t)wall_us());

    marshal_options_init(&mo);
    if (R.o.timeout_ms >= 0) {
        mo.command_timeout_ms = R.o.timeout_ms;
    }
    if (R.o.connect_timeout_ms >= 0) {
        mo.connect_timeout_ms = R.o.connect_timeout_ms;
    }
    if (R.o.failover_wait_ms >= 0) {
        mo.failover_wait_ms = R.o.failover_wait_ms;
    }
    if (R.o.park_max >= 0) {
        mo.park_max = R.o.park_max;
    }
    if (R.o.max_attempts >= 0) {
        mo.max_attempts = R.o.max_attempts;
    }
    if (R.o.log_level >= 0) {
        mo.log_fn = on_log;
        mo.log_level = R.o.log_level;
    }

    R.loop = EV_DEFAULT;
    rc = marshal_async_open(R.o.segment, &mo, &R.a);
    if (rc != MARSHAL_OK) {
        fprintf(stderr, "async_failover: open %s: %s: %s\n", R.o.segment, marshal_strerror(rc),
                R.a != NULL ? marshal_client_errstr(marshal_async_client(R.a)) : "");
        marshal_async_close(R.a);
        return 2;
    }
    rc = marshal_async_libev_attach(R.a, R.loop);
    if (rc == MARSHAL_OK) {
        rc = marshal_client_on(marshal_async_client(R.a), MARSHAL_EV_ALL, on_event, NULL);
    }
    if (rc == MARSHAL_OK) {
        rc = marshal_async_target_open(R.a, R.o.target, &R.t);
    }
    if (rc != MARSHAL_OK) {
        fprintf(stderr, "async_failover: setup: %s: %s\n", marshal_strerror(rc),
                marshal_client_errstr(marshal_async_client(R.a)));
        marshal_async_close(R.a);
        return 2;
    }

    ev_timer_init(&R.tick, on_tick, 0.001, 0.001);
    ev_timer_start(R.loop, &R.tick);
    ev_timer_init(&R.end, on_end, R.o.duration, 0.);
    ev_timer_start(R.loop, &R.end);
    ev_signal_init(&R.sterm, on_signal, SIGTERM);
    ev_signal_start(R.loop, &R.sterm);
    ev_signal_init(&R.sint, on_signal, SIGINT);
    ev_signal_start(R.loop, &R.sint);

    out("ready %" PRId64 " run=%s inflight=%ld", wall_us(), R.runid, R.o.inflight);
    fflush(stdout);
    R.last_report_mono = mono_us();
    fill();
    ev_run(R.loop, 0);

    /* every issued command had exactly one callback */
    for (i = 0; i < R.issued; i++) {
        if (R.seen[i] == 0) {
            if (++missing <= 20) {
                err_line("missing %ld (no callback)", i);
            }
        } else if (R.seen[i] > 1) {
            dups++;
        }
    }
    if (missing > 20) {
        err_line("missing callbacks: %ld in all", missing);
    }
    if (R.callbacks != R.issued - R.rejected + dups) {
        err_line("callbacks=%ld for %ld accepted commands", R.callbacks, R.issued - R.rejected);
    }
    out("summary issued=%ld callbacks=%ld applied=%ld not_applied=%ld unknown=%ld partial=%ld "
        "closed=%ld rejected=%ld parked_applied=%ld missing=%ld dup=%ld errors=%ld",
        R.issued, R.callbacks, R.applied, R.not_applied, R.unknown, R.partial, R.closed,
        R.rejected, R.parked_applied, missing, dups, R.errors);
    out("max_loop_gap_us %" PRId64 " at_us=%" PRId64, R.max_gap_us, R.max_gap_at_us);
    out("done %" PRId64, wall_us());
    fflush(stdout);
    free(R.seen);
    free(R.issue_us);
    ev_loop_destroy(R.loop);
    return R.errors > 0 ? 1 : 0;
}
