/*
 * mc_probe.c -- a small command-line client over the public libmarshal-shm
 * API (include/marshal/marshal.h), for the library's integration tests
 * (tests/client/lib_*.sh).  It uses nothing but the public header, so what
 * it prints is what an application would see.
 *
 *   mc_probe [OPTIONS] SEGMENT TARGET COMMAND [OPTIONS] [ARGS...]
 *
 * TARGET is a group name ("-": open no target; only for `state`).
 * Commands:
 *   write-loop   SET <prefix><i> <i>, one per --interval-us, --count times
 *   read-loop    GET <prefix><i % keys>
 *   rw-loop      SET then GET of the same key, each iteration
 *   events       print every event for --seconds (marshal_client_wait loop)
 *   state        print the client state once ("state live")
 *   info         print the target's view once (an "info" line)
 *   cmd ARGS...  send one command (marshal_command_argv) and print the result
 *
 * Options (anywhere before ARGS of `cmd`):
 *   --route master|readonly|split|default   marshal_target_use override
 *   --count N  --interval-us U  --max-seconds S  --seconds S  --keys N
 *   --prefix P          key prefix (default "k")
 *   --each              print every read (reads print only failures otherwise)
 *   --failover-wait MS  --stale-writes-fail MS  --timeout MS  --connect-timeout MS
 *   --max-attempts N
 *   --log FILE          library log lines (--log-level debug|verbose|notice|warning)
 *
 * Output: one line per result, flushed at once, fields separated by one
 * space; a field never contains a space except the free text after "#".
 * T is wall-clock milliseconds since the Unix epoch (comparable with bash's
 * $EPOCHREALTIME), DUR the command's duration in ms.
 *   w I T DUR STATUS OUTCOME SERVER REPLY [# detail]     a write
 *   r I T DUR STATUS OUTCOME SERVER REPLY [# detail]     a read
 *   event NAME GROUP SERVER OLD EPOCH seq=S age=A t=T reason=R
 *                                 GROUP/SERVER/OLD "-" if none; R: readsUnavailable's
 *                                 MARSHAL_READS_* bits (hex), else 0
 *   info T master=H:P up=0|1 epoch=E readable=N/M route=R degraded=0|1 failover=0|1
 *                                                        (loops: on every change)
 *   state T NAME                                         (loops: on every change)
 *   summary w|r n=N ok=K fail=F applied=A not_applied=X unknown=U servers H:P=C ...
 *   stats commands=N applied=A not_applied=X unknown=U partial=P retries=R connects=C
 *         failover_waits=W failover_wait_ms=M      (marshal_client_stats_get, loops)
 *   ready T        the client and target are open (events / loops)
 *   done T events=N
 * STATUS is OK or the marshal_status name without MARSHAL_ERR_ (NOMASTER,
 * STALE, ...); OUTCOME is marshal_outcome_name() with "_" for " ";
 * SERVER is marshal_client_last_server() or "-"; REPLY is "nil", "int:N",
 * "str:TEXT", "status:TEXT", "err:TEXT", "array:N" or "-" (no reply).
 *
 * Exit status: 0 ok (cmd: a reply was returned), 1 cmd got no reply,
 * 2 usage or open error, 3 target open error.  SIGTERM/SIGINT end a loop
 * early with its summary and status 0 (the handler is the probe's: the
 * library installs none).
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

#include <hiredis/hiredis.h>

#include <marshal/marshal.h>

#define MAX_SERVERS 64          /* distinct servers tallied per op kind   */
#define REPLY_MAX   96          /* printed reply text, bytes              */
#define ADDR_MAX    300         /* "host:port" field, bytes               */

/* Set by SIGTERM/SIGINT: loops finish the current command and stop. */
static volatile sig_atomic_t stop_requested;

/* Parsed command line. */
struct args {
    const char *segment;        /* SEGMENT                                 */
    const char *target;         /* TARGET or NULL ("-")                    */
    const char *command;        /* COMMAND                                 */
    int route;                  /* MARSHAL_ROUTE_* or -2 (no override)     */
    long count;                 /* loop iterations                         */
    long interval_us;           /* pause between iterations                */
    double max_seconds;         /* loop wall bound                         */
    double seconds;             /* events: how long to listen              */
    long keys;                  /* read-loop key space (0: i)              */
    const char *prefix;         /* key prefix                              */
    int each;                   /* print every read                        */
    int failover_wait_ms;       /* -1: library default                     */
    int stale_writes_fail_ms;   /* -1: library default                     */
    int timeout_ms;             /* -1: library default                     */
    int connect_timeout_ms;     /* -1: library default                     */
    int max_attempts;           /* -1: library default                     */
    const char *log_path;       /* library log file or NULL                */
    int log_level;              /* MARSHAL_LOG_*                           */
    int cmd_argc;               /* cmd: the command's words                */
    char **cmd_argv;
};

/* Per op kind tally for the summary line. */
struct tally {
    long n, ok, fail, applied, not_applied, unknown;
    int n_servers;
    char server[MAX_SERVERS][ADDR_MAX];
    long count[MAX_SERVERS];
};

/* What the last "info" line said, to print only changes. */
struct view {
    int valid;
    char line[512];             /* the info line without its time field    */
};

static FILE *log_file;
static long n_events;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void
install_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;            /* no SA_RESTART: a blocking wait returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Wall-clock ms since the Unix epoch. */
static long long
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic seconds, for durations. */
static double
mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* printf one line to stdout and flush it (tests read it while we run). */
static void
out(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static void
out(const char *fmt, ...)
{
    va_list ap;

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

    switch (rc) {
    case MARSHAL_OK: return "OK";
    case MARSHAL_ERR_NOENT: return "NOENT";
    case MARSHAL_ERR_PERM: return "PERM";
    case MARSHAL_ERR_VERSION: return "VERSION";
    case MARSHAL_ERR_CORRUPT: return "CORRUPT";
    case MARSHAL_ERR_RETIRED: return "RETIRED";
    case MARSHAL_ERR_STALE: return "STALE";
    case MARSHAL_ERR_BUSY: return "BUSY";
    case MARSHAL_ERR_NOTFOUND: return "NOTFOUND";
    case MARSHAL_ERR_RANGE: return "RANGE";
    case MARSHAL_ERR_NOMEM: return "NOMEM";
    case MARSHAL_ERR_SYS: return "SYS";
    case MARSHAL_ERR_LOST: return "LOST";
    case MARSHAL_ERR_NOMASTER: return "NOMASTER";
    case MARSHAL_ERR_NOSERVER: return "NOSERVER";
    case MARSHAL_ERR_CONN: return "CONN";
    case MARSHAL_ERR_TIMEOUT: return "TIMEOUT";
    case MARSHAL_ERR_IO: return "IO";
    case MARSHAL_ERR_PROTOCOL: return "PROTOCOL";
    case MARSHAL_ERR_DEGRADED: return "DEGRADED";
    case MARSHAL_ERR_INVAL: return "INVAL";
    case MARSHAL_ERR_UNSUPPORTED: return "UNSUPPORTED";
    case MARSHAL_ERR_CROSSGROUP: return "CROSSGROUP";
    case MARSHAL_ERR_PIPELINE: return "PIPELINE";
    default:
        snprintf(buf, sizeof(buf), "E%d", rc);
        return buf;
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

/* The REPLY field of a result line. */
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

/* The OUTCOME field: "not applied" -> "not_applied". */
static void
outcome_field(char *dst, size_t n, int outcome)
{
    const char *s = marshal_outcome_name(outcome);

    field(dst, n, s, strlen(s));
}

/* The SERVER field from marshal_client_last_server(). */
static void
server_field(char *dst, size_t n, const marshal_client *c)
{
    const char *host = NULL;
    int port = 0;

    if (marshal_client_last_server(c, &host, &port) == MARSHAL_OK && host != NULL) {
        snprintf(dst, n, "%s:%d", host, port);
    } else {
        snprintf(dst, n, "-");
    }
}

static void
tally_add(struct tally *t, int ok, int outcome, const char *server)
{
    int i;

    t->n++;
    if (ok) {
        t->ok++;
    } else {
        t->fail++;
    }
    if (outcome == MARSHAL_OUTCOME_APPLIED) {
        t->applied++;
    } else if (outcome == MARSHAL_OUTCOME_NOT_APPLIED) {
        t->not_applied++;
    } else if (outcome == MARSHAL_OUTCOME_UNKNOWN) {
        t->unknown++;
    }
    if (!ok || strcmp(server, "-") == 0) {
        return;
    }
    for (i = 0; i < t->n_servers; i++) {
        if (strcmp(t->server[i], server) == 0) {
            t->count[i]++;
            return;
        }
    }
    if (t->n_servers < MAX_SERVERS) {
        snprintf(t->server[t->n_servers], sizeof(t->server[0]), "%s", server);
        t->count[t->n_servers++] = 1;
    }
}

static void
tally_print(const struct tally *t, const char *kind)
{
    char servers[MAX_SERVERS * (ADDR_MAX + 24)];
    size_t off = 0;
    int i;

    servers[0] = '\0';
    for (i = 0; i < t->n_servers && off < sizeof(servers); i++) {
        off += (size_t)snprintf(servers + off, sizeof(servers) - off, " %s=%ld", t->server[i],
                                t->count[i]);
    }
    out("summary %s n=%ld ok=%ld fail=%ld applied=%ld not_applied=%ld unknown=%ld servers%s", kind,
        t->n, t->ok, t->fail, t->applied, t->not_applied, t->unknown, servers);
}

/* ---- library callbacks ------------------------------------------------------------- */

static void
on_log(void *ud, int level, const char *msg)
{
    static const char *const names[] = {"debug", "verbose", "notice", "warning"};

    (void)ud;
    if (log_file != NULL) {
        fprintf(log_file, "%lld %s %s\n", wall_ms(),
                level >= 0 && level <= 3 ? names[level] : "?", msg);
        fflush(log_file);
    }
}

/* "host:port", or "-" for an empty host. */
static void
addr_field(char *dst, size_t n, const char *host, int port)
{
    if (host == NULL || host[0] == '\0') {
        snprintf(dst, n, "-");
    } else {
        snprintf(dst, n, "%s:%d", host, port);
    }
}

static void
on_event(marshal_client *c, const marshal_event *ev, void *ud)
{
    char server[ADDR_MAX], old[ADDR_MAX], group[ADDR_MAX];

    (void)c;
    (void)ud;
    addr_field(server, sizeof(server), ev->host, ev->port);
    addr_field(old, sizeof(old), ev->old_host, ev->old_port);
    if (ev->group == NULL || ev->group[0] == '\0') {
        snprintf(group, sizeof(group), "-");
    } else {
        field(group, sizeof(group), ev->group, strlen(ev->group));
    }
    n_events++;
    out("event %s %s %s %s %" PRIu64 " seq=%" PRIu64 " age=%" PRId64 " t=%lld reason=%#x",
        marshal_event_name(ev->type), group, server, old, ev->epoch, ev->seq, ev->age_ms,
        wall_ms(), ev->reason);
}

/* ---- views --------------------------------------------------------------------------- */

static const char *
route_name(int route)
{
    switch (route) {
    case MARSHAL_ROUTE_MASTER: return "master";
    case MARSHAL_ROUTE_MASTER_READONLY: return "readonly";
    case MARSHAL_ROUTE_SPLIT: return "split";
    case MARSHAL_ROUTE_DEFAULT: return "default";
    default: return "?";
    }
}

/* Print an "info" line when the target's view changed (always if force). */
static void
show_info(marshal_target *t, struct view *v, int force)
{
    marshal_target_info info;
    char line[512], master[ADDR_MAX];
    int rc;

    if (t == NULL) {
        return;
    }
    rc = marshal_target_info_get(t, &info);
    if (rc != MARSHAL_OK) {
        snprintf(line, sizeof(line), "error=%s", status_name(rc));
    } else {
        addr_field(master, sizeof(master), info.master_host, info.master_port);
        snprintf(line, sizeof(line),
                 "master=%s up=%d epoch=%" PRIu64 " readable=%d/%d route=%s degraded=%d failover=%d",
                 master, info.has_master, info.master_epoch, info.n_readable, info.n_replicas,
                 route_name(info.route), info.degraded, info.failover);
    }
    if (force || !v->valid || strcmp(v->line, line) != 0) {
        out("info %lld %s", wall_ms(), line);
        snprintf(v->line, sizeof(v->line), "%s", line);
        v->valid = 1;
    }
}

/* Print a "state" line when the client state changed. */
static void
show_state(marshal_client *c, int *last)
{
    int s = marshal_client_state(c);

    if (s != *last) {
        out("state %lld %s", wall_ms(), marshal_state_name(s));
        *last = s;
    }
}

/* ---- commands -------------------------------------------------------------------------- */

/*
 * Send one command and print its result line (always for writes, for reads
 * with --each or when it failed).  Returns 1 when a non-error reply came back.
 */
static int
run_one(marshal_client *c, marshal_target *t, char kind, long i, int argc, const char **argv,
        int print_ok, struct tally *tl)
{
    size_t lens[8];
    redisReply *r;
    double t0, dur;
    long long now;
    char reply[REPLY_MAX + 16], outcome[32], server[ADDR_MAX];
    int k, rc, ok, oc;

    for (k = 0; k < argc; k++) {
        lens[k] = strlen(argv[k]);
    }
    t0 = mono_s();
    r = marshal_command_argv(t, argc, argv, lens);
    dur = (mono_s() - t0) * 1000.0;
    now = wall_ms();
    rc = r == NULL ? marshal_client_errcode(c) : MARSHAL_OK;
    oc = marshal_client_outcome(c);
    reply_field(reply, sizeof(reply), r);
    outcome_field(outcome, sizeof(outcome), oc);
    server_field(server, sizeof(server), c);
    ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (print_ok || !ok) {
        if (r == NULL) {
            out("%c %ld %lld %.3f %s %s %s %s # %s: %s", kind, i, now, dur, status_name(rc), outcome,
                server, reply, marshal_strerror(rc), marshal_client_errstr(c));
        } else {
            out("%c %ld %lld %.3f %s %s %s %s", kind, i, now, dur, status_name(rc), outcome, server,
                reply);
        }
    }
    tally_add(tl, ok, oc, server);
    if (r != NULL) {
        freeReplyObject(r);
    }
    return ok;
}

/* Sleep us microseconds (an interrupted sleep just ends early). */
static void
pause_us(long us)
{
    struct timespec ts;

    if (us <= 0) {
        return;
    }
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = (us % 1000000) * 1000;
    nanosleep(&ts, NULL);
}

/* write-loop, read-loop, rw-loop. */
static int
cmd_loop(marshal_client *c, marshal_target *t, const struct args *a, int writes, int reads)
{
    struct tally tw, tr;
    marshal_client_stats st;
    struct view v;
    char key[256], val[32];
    const char *argv[3];
    double start = mono_s();
    int state = -1;
    long i;

    memset(&tw, 0, sizeof(tw));
    memset(&tr, 0, sizeof(tr));
    memset(&v, 0, sizeof(v));
    marshal_client_poll(c);
    show_state(c, &state);
    show_info(t, &v, 1);
    out("ready %lld", wall_ms());
    for (i = 0; i < a->count && !stop_requested; i++) {
        if (a->max_seconds > 0 && mono_s() - start >= a->max_seconds) {
            break;
        }
        marshal_client_poll(c);
        show_state(c, &state);
        show_info(t, &v, 0);
        if (writes) {
            snprintf(key, sizeof(key), "%s%ld", a->prefix, i);
            snprintf(val, sizeof(val), "%ld", i);
            argv[0] = "SET";
            argv[1] = key;
            argv[2] = val;
            run_one(c, t, 'w', i, 3, argv, 1, &tw);
        }
        if (reads) {
            snprintf(key, sizeof(key), "%s%ld", a->prefix, a->keys > 0 ? i % a->keys : i);
            argv[0] = "GET";
            argv[1] = key;
            run_one(c, t, 'r', i, 2, argv, a->each, &tr);
        }
        pause_us(a->interval_us);
    }
    marshal_client_poll(c);
    show_state(c, &state);
    show_info(t, &v, 0);
    if (writes) {
        tally_print(&tw, "w");
    }
    if (reads) {
        tally_print(&tr, "r");
    }
    marshal_client_stats_get(c, &st);
    out("stats commands=%llu applied=%llu not_applied=%llu unknown=%llu partial=%llu "
        "retries=%llu connects=%llu failover_waits=%llu failover_wait_ms=%llu",
        (unsigned long long)st.commands, (unsigned long long)st.applied,
        (unsigned long long)st.not_applied, (unsigned long long)st.unknown,
        (unsigned long long)st.partial, (unsigned long long)st.retries,
        (unsigned long long)st.connects, (unsigned long long)st.failover_waits,
        (unsigned long long)(st.failover_wait_ns / 1000000));
    out("done %lld events=%ld", wall_ms(), n_events);
    return 0;
}

/* events: block on the segment and print every event until told to stop. */
static int
cmd_events(marshal_client *c, const struct args *a)
{
    double start = mono_s();
    int rc;

    out("ready %lld", wall_ms());
    while (!stop_requested && (a->seconds <= 0 || mono_s() - start < a->seconds)) {
        rc = marshal_client_wait(c, 200);
        if (rc < 0 && rc != MARSHAL_ERR_LOST) {
            out("error %lld wait %s # %s", wall_ms(), status_name(rc), marshal_client_errstr(c));
            pause_us(100000);
        }
    }
    out("done %lld events=%ld", wall_ms(), n_events);
    return 0;
}

/* cmd ARGS...: one command, result as key/value lines. */
static int
cmd_cmd(marshal_client *c, marshal_target *t, const struct args *a)
{
    size_t *lens;
    redisReply *r;
    char buf[REPLY_MAX + 16], server[ADDR_MAX];
    int i, rc;

    lens = calloc((size_t)a->cmd_argc, sizeof(*lens));
    if (lens == NULL) {
        out("error nomem");
        return 2;
    }
    for (i = 0; i < a->cmd_argc; i++) {
        lens[i] = strlen(a->cmd_argv[i]);
    }
    r = marshal_command_argv(t, a->cmd_argc, (const char **)a->cmd_argv, lens);
    free(lens);
    rc = r == NULL ? marshal_client_errcode(c) : MARSHAL_OK;
    out("status %s", status_name(rc));
    outcome_field(buf, sizeof(buf), marshal_client_outcome(c));
    out("outcome %s", buf);
    server_field(server, sizeof(server), c);
    out("server %s", server);
    reply_field(buf, sizeof(buf), r);
    out("reply %s", buf);
    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        size_t k;

        for (k = 0; k < r->elements; k++) {
            reply_field(buf, sizeof(buf), r->element[k]);
            out("element %zu %s", k, buf);
        }
    }
    if (r == NULL) {
        out("detail %s: %s", marshal_strerror(rc), marshal_client_errstr(c));
        return 1;
    }
    freeReplyObject(r);
    return 0;
}

/* ---- command line ---------------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr,
            "usage: mc_probe [OPTIONS] SEGMENT TARGET COMMAND [OPTIONS] [ARGS...]\n"
            "commands: write-loop read-loop rw-loop events state info cmd ARGS...\n"
            "options: --route master|readonly|split|default --count N --interval-us U\n"
            "         --max-seconds S --seconds S --keys N --prefix P --each\n"
            "         --failover-wait MS --stale-writes-fail MS --timeout MS\n"
            "         --connect-timeout MS --max-attempts N --log FILE --log-level L\n");
    exit(2);
}

static long
num(const char *s, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0) {
        fprintf(stderr, "mc_probe: %s: not a non-negative integer: %s\n", what, s);
        exit(2);
    }
    return v;
}

static double
fnum(const char *s, const char *what)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < 0) {
        fprintf(stderr, "mc_probe: %s: not a non-negative number: %s\n", what, s);
        exit(2);
    }
    return v;
}

static int
parse_route(const char *s)
{
    if (strcmp(s, "master") == 0) {
        return MARSHAL_ROUTE_MASTER;
    }
    if (strcmp(s, "readonly") == 0 || strcmp(s, "master-readonly") == 0) {
        return MARSHAL_ROUTE_MASTER_READONLY;
    }
    if (strcmp(s, "split") == 0) {
        return MARSHAL_ROUTE_SPLIT;
    }
    if (strcmp(s, "default") == 0) {
        return MARSHAL_ROUTE_DEFAULT;
    }
    fprintf(stderr, "mc_probe: unknown route: %s\n", s);
    exit(2);
}

static int
parse_level(const char *s)
{
    static const char *const names[] = {"debug", "verbose", "notice", "warning"};
    int i;

    for (i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    fprintf(stderr, "mc_probe: unknown log level: %s\n", s);
    exit(2);
}

/*
 * Options may come anywhere; positionals are SEGMENT TARGET COMMAND and,
 * for cmd, the command's words (after an optional "--", everything).
 */
static void
parse_args(int argc, char **argv, struct args *a)
{
    enum { O_ROUTE = 256, O_COUNT, O_INTERVAL, O_MAXSEC, O_SEC, O_KEYS, O_PREFIX, O_EACH,
           O_FOWAIT, O_STALE, O_TIMEOUT, O_CTIMEOUT, O_ATTEMPTS, O_LOG, O_LOGLEVEL };
    static const struct option opts[] = {
        {"route", required_argument, NULL, O_ROUTE},
        {"count", required_argument, NULL, O_COUNT},
        {"interval-us", required_argument, NULL, O_INTERVAL},
        {"max-seconds", required_argument, NULL, O_MAXSEC},
        {"seconds", required_argument, NULL, O_SEC},
        {"keys", required_argument, NULL, O_KEYS},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"each", no_argument, NULL, O_EACH},
        {"failover-wait", required_argument, NULL, O_FOWAIT},
        {"stale-writes-fail", required_argument, NULL, O_STALE},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
        {"max-attempts", required_argument, NULL, O_ATTEMPTS},
        {"log", required_argument, NULL, O_LOG},
        {"log-level", required_argument, NULL, O_LOGLEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *pos[3];
    int n_pos = 0, o;

    memset(a, 0, sizeof(*a));
    a->route = -2;
    a->count = 1000;
    a->interval_us = 1000;
    a->max_seconds = 120;
    a->seconds = 60;
    a->prefix = "k";
    a->failover_wait_ms = a->stale_writes_fail_ms = a->timeout_ms = -1;
    a->connect_timeout_ms = a->max_attempts = -1;
    a->log_level = MARSHAL_LOG_VERBOSE;

    /* "+": stop at the first positional; positionals are taken one by one so
     * options may follow them, and cmd's words are never parsed as options */
    optind = 1;
    while (optind < argc) {
        o = getopt_long(argc, argv, "+h", opts, NULL);
        if (o == -1) {
            if (n_pos == 3 || optind >= argc) {
                break;
            }
            pos[n_pos++] = argv[optind++];
            if (n_pos == 3 && strcmp(pos[2], "cmd") == 0) {
                break;
            }
            continue;
        }
        switch (o) {
        case O_ROUTE: a->route = parse_route(optarg); break;
        case O_COUNT: a->count = num(optarg, "--count"); break;
        case O_INTERVAL: a->interval_us = num(optarg, "--interval-us"); break;
        case O_MAXSEC: a->max_seconds = fnum(optarg, "--max-seconds"); break;
        case O_SEC: a->seconds = fnum(optarg, "--seconds"); break;
        case O_KEYS: a->keys = num(optarg, "--keys"); break;
        case O_PREFIX: a->prefix = optarg; break;
        case O_EACH: a->each = 1; break;
        case O_FOWAIT: a->failover_wait_ms = (int)num(optarg, "--failover-wait"); break;
        case O_STALE: a->stale_writes_fail_ms = (int)num(optarg, "--stale-writes-fail"); break;
        case O_TIMEOUT: a->timeout_ms = (int)num(optarg, "--timeout"); break;
        case O_CTIMEOUT: a->connect_timeout_ms = (int)num(optarg, "--connect-timeout"); break;
        case O_ATTEMPTS: a->max_attempts = (int)num(optarg, "--max-attempts"); break;
        case O_LOG: a->log_path = optarg; break;
        case O_LOGLEVEL: a->log_level = parse_level(optarg); break;
        default: usage();
        }
    }
    if (n_pos < 3) {
        usage();
    }
    a->segment = pos[0];
    a->target = strcmp(pos[1], "-") == 0 ? NULL : pos[1];
    a->command = pos[2];
    if (strcmp(a->command, "cmd") == 0) {
        if (optind < argc && strcmp(argv[optind], "--") == 0) {
            optind++;
        }
        a->cmd_argc = argc - optind;
        a->cmd_argv = argv + optind;
        if (a->cmd_argc < 1) {
            usage();
        }
    } else if (optind < argc) {
        fprintf(stderr, "mc_probe: unexpected argument: %s\n", argv[optind]);
        usage();
    }
}

int
main(int argc, char **argv)
{
    struct args a;
    marshal_options o;
    marshal_client *c = NULL;
    marshal_target *t = NULL;
    int rc, ret;

    parse_args(argc, argv, &a);
    install_handlers();
    if (a.log_path != NULL) {
        log_file = fopen(a.log_path, "a");
        if (log_file == NULL) {
            fprintf(stderr, "mc_probe: %s: %s\n", a.log_path, strerror(errno));
            return 2;
        }
    }

    marshal_options_init(&o);
    if (a.failover_wait_ms >= 0) {
        o.failover_wait_ms = a.failover_wait_ms;
    }
    if (a.stale_writes_fail_ms >= 0) {
        o.stale_writes_fail_ms = a.stale_writes_fail_ms;
    }
    if (a.timeout_ms >= 0) {
        o.command_timeout_ms = a.timeout_ms;
    }
    if (a.connect_timeout_ms >= 0) {
        o.connect_timeout_ms = a.connect_timeout_ms;
    }
    if (a.max_attempts >= 0) {
        o.max_attempts = a.max_attempts;
    }
    if (log_file != NULL) {
        o.log_fn = on_log;
        o.log_level = a.log_level;
    }

    rc = marshal_client_open(a.segment, &o, &c);
    if (rc != MARSHAL_OK) {
        out("error open %s # %s: %s", status_name(rc), marshal_strerror(rc),
            c ? marshal_client_errstr(c) : "");
        if (strcmp(a.command, "state") == 0 && c != NULL) {
            out("state %s", marshal_state_name(marshal_client_state(c)));
        }
        marshal_client_close(c);
        return 2;
    }
    rc = marshal_client_on(c, MARSHAL_EV_ALL, on_event, NULL);
    if (rc != MARSHAL_OK) {
        out("error on %s # %s", status_name(rc), marshal_client_errstr(c));
        marshal_client_close(c);
        return 2;
    }
    if (a.target != NULL) {
        rc = marshal_target_open(c, a.target, &t);
        if (rc != MARSHAL_OK) {
            out("error target %s # %s: %s", status_name(rc), marshal_strerror(rc),
                marshal_client_errstr(c));
            marshal_client_close(c);
            return 3;
        }
        if (a.route != -2 && (rc = marshal_target_use(t, a.route)) != MARSHAL_OK) {
            out("error use %s # %s", status_name(rc), marshal_client_errstr(c));
            marshal_client_close(c);
            return 2;
        }
    }

    if (strcmp(a.command, "state") == 0) {
        out("state %s", marshal_state_name(marshal_client_state(c)));
        ret = 0;
    } else if (t == NULL) {
        fprintf(stderr, "mc_probe: %s needs a TARGET\n", a.command);
        ret = 2;
    } else if (strcmp(a.command, "write-loop") == 0) {
        ret = cmd_loop(c, t, &a, 1, 0);
    } else if (strcmp(a.command, "read-loop") == 0) {
        ret = cmd_loop(c, t, &a, 0, 1);
    } else if (strcmp(a.command, "rw-loop") == 0) {
        ret = cmd_loop(c, t, &a, 1, 1);
    } else if (strcmp(a.command, "events") == 0) {
        ret = cmd_events(c, &a);
    } else if (strcmp(a.command, "info") == 0) {
        struct view v;

        memset(&v, 0, sizeof(v));
        show_info(t, &v, 1);
        ret = 0;
    } else if (strcmp(a.command, "cmd") == 0) {
        ret = cmd_cmd(c, t, &a);
    } else {
        fprintf(stderr, "mc_probe: unknown command: %s\n", a.command);
        ret = 2;
    }
    marshal_client_close(c);
    if (log_file != NULL) {
        fclose(log_file);
    }
    return ret;
}
