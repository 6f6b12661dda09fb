/*
 * async_check.c -- a command-line driver of the asynchronous libmarshal-shm
 * API (include/marshal/async.h) on a libev loop, for tests/client/
 * lib_async.sh (static groups, clusters and mirrors against real servers).
 * It is to the async API what mc_probe.c is to the blocking one: it uses
 * nothing but the public headers, so what it prints is what an application
 * would see.
 *
 *   async_check [OPTIONS] SEGMENT MODE ARGS...
 *
 * Modes (GROUP, CLUSTER: target names; N, M, K, L: counts):
 *   pipeline GROUP N   N SETs <prefix><i> = <nonce>:<i> issued at once (all in
 *                      flight), then N GETs checked against those values, then
 *                      binary data: SET/GET of a binary key and value through
 *                      marshal_async_command_argv, and SET <prefix>binv %b
 *                      (marshal_async_command) read back with GET
 *   park GROUP N       N SETs issued at once (the group has no master: they
 *                      park or are refused); ends when every callback ran
 *   parked GROUP N     the same, printing "parked" once they were issued;
 *                      meant to be left waiting while the master comes back
 *   timeout G1 G2 N DURATION_MS INTERVAL_MS
 *                      one SET on each group (connections up), "ready"; on
 *                      SIGUSR1 ("trigger"): N SETs to G1 at once, and one SET
 *                      to G2 every INTERVAL_MS for DURATION_MS
 *   mset CLUSTER N     one MSET of <prefix><i> = <nonce>:<i>, i < N
 *   mget CLUSTER N     one MGET of those keys (merged reply checked in order),
 *                      then GET <prefix>0 (one group: one leg)
 *   del CLUSTER N      one DEL of those keys and 2 absent ones (count checked)
 *   mirror TARGET KEY VALUE   one SET
 *   close GUP GDOWN N M K L   M SETs to GDOWN (no master: parked), N SETs to
 *                      GUP; inside the callback of the K-th APPLIED reply:
 *                      L more SETs to GUP ("late": queued in hiredis, not yet
 *                      written), then marshal_async_close(); a command issued
 *                      after the close must be refused with CLOSED
 *   close-timer GUP GDOWN N M K   the same without late commands, the close
 *                      from a loop timer started by the K-th reply
 *   close-expire GROUP M      M SETs to GROUP; inside the first callback
 *                      with MARSHAL_ERR_PARK_EXPIRED: marshal_async_close()
 *   events GROUP       only events, until SIGTERM
 *
 * Options:
 *   --park-max N  --failover-wait MS  --timeout MS  --connect-timeout MS
 *   --max-attempts N  --database N      marshal_options fields
 *   --seconds S        watchdog: exit 3 if the mode has not ended by then (30)
 *   --prefix P         key prefix ("k")
 *   --nonce X          value prefix ("v")
 *   --log FILE         library log lines (--log-level debug|verbose|notice|warning)
 *
 * Output: one line per record, flushed at once; fields separated by one
 * space, never containing one (keys: bytes <= ' ' or >= 0x7f become '_').
 * T is wall-clock ms since the Unix epoch (CLOCK_REALTIME, comparable with
 * bash's $EPOCHREALTIME and the segment's event time_ms), MS a duration in
 * ms since the command was issued.
 *   cb ID KIND KEY STATUS OUTCOME SERVER ATTEMPTS MS T REPLY legs=N parked_ms=P [# errstr]
 *                      one per callback.  KIND: set get bset bget fset fget
 *                      mset mget del warm late; STATUS OK or the
 *                      marshal_status name without MARSHAL_ERR_; OUTCOME
 *                      applied not_applied unknown partial; SERVER host:port
 *                      or "-"; REPLY nil int:N str:TEXT status:TEXT err:TEXT
 *                      array:N or "-" (NULL)
 *   leg ID I GROUP SERVER STATUS OUTCOME NKEYS     the legs of callback ID
 *   error dup ID KIND KEY STATUS OUTCOME (callback N)   a second callback for a command
 *   event NAME GROUP SERVER seq=S age=A t=T        an event (marshal_client_on)
 *   inflight N                  (pipeline) stats.in_flight right after issuing
 *   parked T n=N parked=P in_flight=F              (parked) issued
 *   ready T / trigger T         (timeout, events)
 *   check NAME ok=A bad=B ...   a mode's own verification
 *   closed T rc_after=STATUS missing=M             (close modes) after the close
 *   stats commands=.. applied=.. ... in_flight=..  marshal_async_stats before the end
 *   gap MS t=T                  a 5 ms loop timer ran MS (>= 50) ms after its last run
 *   maxgap MS at=T              the longest such gap of the run
 *   summary issued=N cb=C dup=D missing=M errors=E applied=A not_applied=X
 *           unknown=U partial=P statuses=NAME:n,...
 *   error WHAT ...              a broken promise or a failed check
 *   done T rc=R
 *
 * Exit status: 0 every command had exactly one callback and no check
 * failed; 1 otherwise (an "error" line says why); 2 usage or setup error;
 * 3 the watchdog fired.
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

#include <marshal/adapters/libev.h>

#define KEY_MAX     256         /* key bytes kept per command             */
#define FIELD_MAX   320         /* a printed field                        */
#define BIN_LEN     512         /* binary value bytes                     */
#define MAX_TARGETS 2           /* targets a mode opens                   */

/* Command kinds (the KIND field). */
enum kind { K_SET, K_GET, K_BSET, K_BGET, K_FSET, K_FGET, K_MSET, K_MGET, K_DEL, K_WARM,
            K_LATE, K_NKINDS };
static const char *const kind_names[K_NKINDS] = {"set", "get", "bset", "bget", "fset", "fget",
                                                 "mset", "mget", "del", "warm", "late"};

/* Modes. */
enum mode { M_PIPELINE, M_PARK, M_PARKED, M_TIMEOUT, M_MSET, M_MGET, M_DEL, M_MIRROR,
            M_CLOSE, M_CLOSE_TIMER, M_CLOSE_EXPIRE, M_EVENTS };

/* One issued command. */
struct rec {
    long id;                    /* issue order, from 0                      */
    int kind;                   /* enum kind                                */
    int target;                 /* index in run.t                           */
    long index;                 /* key index (<prefix><index>)              */
    char key[KEY_MAX];          /* the key (first key for multi-key)        */
    size_t keylen;
    int seen;                   /* callbacks so far                         */
    uint64_t t0_ns;             /* CLOCK_MONOTONIC at issue                 */
};

/* Parsed command line. */
struct args {
    const char *segment;
    int mode;
    char **pos;                 /* the mode's arguments                     */
    int n_pos;
    int park_max, failover_wait_ms, timeout_ms, connect_timeout_ms, max_attempts, database;
    double seconds;
    const char *prefix, *nonce;
    const char *log_path;
    int log_level;
};

/* Everything the callbacks reach. */
static struct {
    struct args args;
    struct ev_loop *loop;
    marshal_async *a;           /* NULL once closed                         */
    marshal_target *t[MAX_TARGETS];
    struct rec **recs;          /* every issued command                     */
    long n_recs, cap_recs;
    long n_cb, n_dup, n_errors, n_refused;
    long outcomes[5];           /* by MARSHAL_OUTCOME_*                     */
    long statuses[64];          /* by -status                               */
    int phase;                  /* the mode's step                          */
    long phase_issued, phase_done;
    long count;                 /* N of the mode                            */
    long applied_up;            /* close: APPLIED callbacks on GUP          */
    int closed;                 /* the close modes closed the handle        */
    int finished;
    long get_ok, get_bad;       /* pipeline/mget checks                     */
    char bin_key[32];
    size_t bin_key_len;
    char bin_val[BIN_LEN];
    int bin_ok, bin_checked;
    /* timeout mode */
    int triggered;
    uint64_t trigger_ns;
    long duration_ms, interval_ms, n_g2;
    ev_timer ticker;
    ev_timer closer;
    ev_timer gauge;             /* 5 ms: how long the loop was ever held up */
    uint64_t gauge_last_ns, max_gap_ns;
    long long max_gap_at;
    ev_timer watchdog;
    ev_signal sigterm, sigint, sigusr1;
} run;

static FILE *log_file;

/* ---- small helpers -------------------------------------------------------------------- */

static long long
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* printf one line to stdout and flush it (tests read it while we run). */
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

static void err_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An "error" line: the run fails. */
static void
err_line(const char *fmt, ...)
{
    va_list ap;

    run.n_errors++;
    fputs("error ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* MARSHAL_ERR_TIMEOUT -> "TIMEOUT"; 0 -> "OK". */
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
    case MARSHAL_ERR_PARK_FULL: return "PARK_FULL";
    case MARSHAL_ERR_PARK_EXPIRED: return "PARK_EXPIRED";
    case MARSHAL_ERR_CLOSED: return "CLOSED";
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
    if (j == 0 && n > 2) {
        snprintf(dst, n, "\"\"");
    }
}

/* The REPLY field. */
static void
reply_field(char *dst, size_t n, const redisReply *r)
{
    char text[96];

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

/* "not applied" -> "not_applied". */
static const char *
outcome_field(int outcome)
{
    static char buf[32];
    const char *s = marshal_outcome_name(outcome);

    field(buf, sizeof(buf), s, strlen(s));
    return buf;
}

static void
addr_field(char *dst, size_t n, const char *host, int port)
{
    if (host == NULL || host[0] == '\0') {
        snprintf(dst, n, "-");
    } else {
        snprintf(dst, n, "%s:%d", host, port);
    }
}

/* The value written for key index i: "<nonce>:<i>". */
static int
value_of(char *dst, size_t n, long i)
{
    return snprintf(dst, n, "%s:%ld", run.args.nonce, i);
}

/* ---- records ---------------------------------------------------------------------------- */

static struct rec *
rec_new(int kind, int target, long index)
{
    struct rec *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        out("error nomem");
        _exit(2);
    }
    if (run.n_recs == run.cap_recs) {
        long cap = run.cap_recs ? run.cap_recs * 2 : 1024;
        struct rec **n = realloc(run.recs, (size_t)cap * sizeof(*n));

        if (n == NULL) {
            out("error nomem");
            _exit(2);
        }
        run.recs = n;
        run.cap_recs = cap;
    }
    r->id = run.n_recs;
    r->kind = kind;
    r->target = target;
    r->index = index;
    run.recs[run.n_recs++] = r;
    return r;
}

static void
rec_key(struct rec *r, const char *key, size_t len)
{
    r->keylen = len < sizeof(r->key) ? len : sizeof(r->key);
    memcpy(r->key, key, r->keylen);
}

static void on_reply(marshal_async *a, redisReply *reply, const marshal_result *res, void *priv);

/* A command could not be accepted: no callback will come. */
static void
refused(struct rec *r, int rc)
{
    r->seen = -1;
    run.n_refused++;
    err_line("issue %ld %s %s # %s", r->id, kind_names[r->kind], status_name(rc),
             run.a != NULL ? marshal_client_errstr(marshal_async_client(run.a)) : "");
}

static void
issue_argv(struct rec *r, int argc, const char **argv, const size_t *lens)
{
    int rc;

    r->t0_ns = mono_ns();
    run.phase_issued++;
    rc = marshal_async_command_argv(run.t[r->target], on_reply, r, argc, argv, lens);
    if (rc != MARSHAL_OK) {
        run.phase_issued--;
        refused(r, rc);
    }
}

/* SET <prefix><i> <nonce>:<i> on target ti. */
static void
issue_set(int kind, int ti, long i)
{
    char key[KEY_MAX], val[128];
    const char *argv[3];
    size_t lens[3];
    struct rec *r = rec_new(kind, ti, i);

    lens[1] = (size_t)snprintf(key, sizeof(key), "%s%ld", run.args.prefix, i);
    lens[2] = (size_t)value_of(val, sizeof(val), i);
    argv[0] = "SET";
    lens[0] = 3;
    argv[1] = key;
    argv[2] = val;
    rec_key(r, key, lens[1]);
    issue_argv(r, 3, argv, lens);
}

/* GET <prefix><i>. */
static void
issue_get(int ti, long i)
{
    char key[KEY_MAX];
    const char *argv[2];
    size_t lens[2];
    struct rec *r = rec_new(K_GET, ti, i);

    argv[0] = "GET";
    lens[0] = 3;
    lens[1] = (size_t)snprintf(key, sizeof(key), "%s%ld", run.args.prefix, i);
    argv[1] = key;
    rec_key(r, key, lens[1]);
    issue_argv(r, 2, argv, lens);
}

/* A multi-key command over <prefix><0..n-1> (MSET with values; extra absent keys for DEL). */
static void
issue_multi(int kind, const char *cmd, long n, int with_values, int extra)
{
    long argc = 1 + n * (with_values ? 2 : 1) + extra, i, j = 1;
    const char **argv = calloc((size_t)argc, sizeof(*argv));
    size_t *lens = calloc((size_t)argc, sizeof(*lens));
    char *buf = calloc((size_t)argc, 128);
    struct rec *r = rec_new(kind, 0, 0);

    if (argv == NULL || lens == NULL || buf == NULL) {
        out("error nomem");
        _exit(2);
    }
    argv[0] = cmd;
    lens[0] = strlen(cmd);
    for (i = 0; i < n; i++) {
        char *k = buf + (size_t)j * 128;

        lens[j] = (size_t)snprintf(k, 128, "%s%ld", run.args.prefix, i);
        argv[j++] = k;
        if (with_values) {
            char *v = buf + (size_t)j * 128;

            lens[j] = (size_t)value_of(v, 128, i);
            argv[j++] = v;
        }
    }
    for (i = 0; i < extra; i++) {
        char *k = buf + (size_t)j * 128;

        lens[j] = (size_t)snprintf(k, 128, "%sabsent%ld", run.args.prefix, i);
        argv[j++] = k;
    }
    rec_key(r, argv[1], lens[1]);
    issue_argv(r, (int)argc, argv, lens);
    free(argv);
    free(lens);
    free(buf);
}

/* ---- the end ------------------------------------------------------------------------------ */

static long
missing(void)
{
    long i, n = 0;

    for (i = 0; i < run.n_recs; i++) {
        n += run.recs[i]->seen == 0;
    }
    return n;
}

static void
print_stats(void)
{
    marshal_async_stats st;

    if (run.a == NULL) {
        return;
    }
    marshal_async_stats_get(run.a, &st);
    out("stats commands=%" PRIu64 " applied=%" PRIu64 " not_applied=%" PRIu64
        " unknown=%" PRIu64 " retries=%" PRIu64 " parked=%" PRIu64 " park_full=%" PRIu64
        " park_expired=%" PRIu64 " timeouts=%" PRIu64 " connects=%" PRIu64 " wakes=%" PRIu64
        " in_flight=%" PRIu64,
        st.commands, st.applied, st.not_applied, st.unknown, st.retries, st.parked, st.park_full,
        st.park_expired, st.timeouts, st.connects, st.wakes, st.in_flight);
}

/* The mode is over: close the handle (pending callbacks end CLOSED) and leave the loop. */
static void
finish(void)
{
    marshal_async *a = run.a;

    if (run.finished) {
        return;
    }
    run.finished = 1;
    print_stats();
    run.a = NULL;
    marshal_async_close(a);
    ev_break(run.loop, EVBREAK_ALL);
}

static void
summary(void)
{
    char st[1024];
    size_t off = 0;
    int i;

    st[0] = '\0';
    for (i = 0; i < 64; i++) {
        if (run.statuses[i] > 0 && off < sizeof(st)) {
            off += (size_t)snprintf(st + off, sizeof(st) - off, "%s%s:%ld", off ? "," : "",
                                    status_name(-i), run.statuses[i]);
        }
    }
    out("summary issued=%ld cb=%ld dup=%ld missing=%ld errors=%ld applied=%ld not_applied=%ld "
        "unknown=%ld partial=%ld statuses=%s",
        run.n_recs - run.n_refused, run.n_cb, run.n_dup, missing(), run.n_errors,
        run.outcomes[MARSHAL_OUTCOME_APPLIED], run.outcomes[MARSHAL_OUTCOME_NOT_APPLIED],
        run.outcomes[MARSHAL_OUTCOME_UNKNOWN], run.outcomes[MARSHAL_OUTCOME_PARTIAL],
        st[0] ? st : "-");
}

/* ---- modes ----------------------------------------------------------------------------------- */

static void
pipeline_binary(void)
{
    const char *argv[3];
    size_t lens[3];
    struct rec *r;
    char key[KEY_MAX];
    int i, rc;

    /* a key with NUL, CR LF, space and 0xff in it; a value with every byte value twice */
    run.bin_key_len = (size_t)snprintf(run.bin_key, sizeof(run.bin_key), "bin:_\r\n _%s",
                                       run.args.prefix);
    run.bin_key[4] = '\0';
    run.bin_key[8] = (char)0xff;
    for (i = 0; i < BIN_LEN; i++) {
        run.bin_val[i] = (char)(i & 0xff);
    }
    r = rec_new(K_BSET, 0, -1);
    rec_key(r, run.bin_key, run.bin_key_len);
    argv[0] = "SET";
    lens[0] = 3;
    argv[1] = run.bin_key;
    lens[1] = run.bin_key_len;
    argv[2] = run.bin_val;
    lens[2] = BIN_LEN;
    issue_argv(r, 3, argv, lens);
    /* the same value through the format API (%b), under a printable key */
    r = rec_new(K_FSET, 0, -1);
    snprintf(key, sizeof(key), "%sbinv", run.args.prefix);
    rec_key(r, key, strlen(key));
    r->t0_ns = mono_ns();
    run.phase_issued++;
    rc = marshal_async_command(run.t[0], on_reply, r, "SET %s %b", key, run.bin_val,
                               (size_t)BIN_LEN);
    if (rc != MARSHAL_OK) {
        run.phase_issued--;
        refused(r, rc);
    }
}

static void
pipeline_binary_get(void)
{
    const char *argv[2];
    size_t lens[2];
    struct rec *r;
    char key[KEY_MAX];
    int rc;

    r = rec_new(K_BGET, 0, -1);
    rec_key(r, run.bin_key, run.bin_key_len);
    argv[0] = "GET";
    lens[0] = 3;
    argv[1] = run.bin_key;
    lens[1] = run.bin_key_len;
    issue_argv(r, 2, argv, lens);
    r = rec_new(K_FGET, 0, -1);
    snprintf(key, sizeof(key), "%sbinv", run.args.prefix);
    rec_key(r, key, strlen(key));
    r->t0_ns = mono_ns();
    run.phase_issued++;
    rc = marshal_async_command(run.t[0], on_reply, r, "GET %s", key);
    if (rc != MARSHAL_OK) {
        run.phase_issued--;
        refused(r, rc);
    }
}

/* Start the next step of the mode once every command of this one ended. */
static void
advance(void)
{
    long i;

    if (run.finished || run.closed || run.phase_done < run.phase_issued) {
        return;
    }
    run.phase_done = run.phase_issued = 0;
    switch (run.args.mode) {
    case M_PIPELINE:
        if (run.phase == 0) {
            run.phase = 1;
            for (i = 0; i < run.count; i++) {
                issue_get(0, i);
            }
        } else if (run.phase == 1) {
            out("check get n=%ld ok=%ld bad=%ld", run.count, run.get_ok, run.get_bad);
            run.phase = 2;
            pipeline_binary();
        } else if (run.phase == 2) {
            run.phase = 3;
            pipeline_binary_get();
        } else {
            out("check binary ok=%d of=2 key_len=%zu val_len=%d", run.bin_ok, run.bin_key_len,
                BIN_LEN);
            if (run.bin_ok != 2) {
                err_line("binary round trip failed");
            }
            finish();
        }
        break;
    case M_MGET:
        if (run.phase == 0) {
            char key[KEY_MAX];
            const char *argv[2] = {"GET", key};
            size_t lens[2] = {3, 0};
            struct rec *r = rec_new(K_GET, 0, 0);

            run.phase = 1;
            lens[1] = (size_t)snprintf(key, sizeof(key), "%s0", run.args.prefix);
            rec_key(r, key, lens[1]);
            issue_argv(r, 2, argv, lens);
        } else {
            finish();
        }
        break;
    case M_TIMEOUT:
        if (run.phase == 0) {
            run.phase = 1;
            out("ready %lld", wall_ms());
        } else if (run.phase == 2 && !ev_is_active(&run.ticker)) {
            finish();
        }
        break;
    case M_EVENTS:
    case M_CLOSE:
    case M_CLOSE_TIMER:
    case M_CLOSE_EXPIRE:
        break;
    default:
        finish();
        break;
    }
}

/* Mode-specific look at one callback (after it was printed). */
static void
check_reply(struct rec *r, redisReply *reply, const marshal_result *res)
{
    char val[128];
    int n;

    switch (r->kind) {
    case K_GET:
        if (run.args.mode != M_PIPELINE && run.args.mode != M_MGET) {
            break;
        }
        n = value_of(val, sizeof(val), r->index);
        if (reply != NULL && reply->type == REDIS_REPLY_STRING && reply->len == (size_t)n &&
            memcmp(reply->str, val, (size_t)n) == 0) {
            run.get_ok++;
        } else {
            run.get_bad++;
            if (run.get_bad <= 10) {
                err_line("get %ld %s: expected %s", r->id, r->key, val);
            }
        }
        break;
    case K_BGET:
    case K_FGET:
        if (reply != NULL && reply->type == REDIS_REPLY_STRING && reply->len == BIN_LEN &&
            memcmp(reply->str, run.bin_val, BIN_LEN) == 0) {
            run.bin_ok++;
        }
        break;
    case K_MGET: {
        size_t i;
        long ok = 0, bad = 0;

        for (i = 0; reply != NULL && reply->type == REDIS_REPLY_ARRAY && i < reply->elements;
             i++) {
            redisReply *e = reply->element[i];

            n = value_of(val, sizeof(val), (long)i);
            if (e != NULL && e->type == REDIS_REPLY_STRING && e->len == (size_t)n &&
                memcmp(e->str, val, (size_t)n) == 0) {
                ok++;
            } else {
                bad++;
                if (bad <= 10) {
                    err_line("mget element %zu: expected %s", i, val);
                }
            }
        }
        out("check mget n=%ld elements=%zu ok=%ld bad=%ld", run.count,
            reply != NULL && reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0, ok, bad);
        if (ok != run.count || bad != 0) {
            err_line("mget merged reply wrong");
        }
        break;
    }
    case K_DEL:
        out("check del n=%ld deleted=%lld", run.count,
            reply != NULL && reply->type == REDIS_REPLY_INTEGER ? (long long)reply->integer : -1);
        if (reply == NULL || reply->type != REDIS_REPLY_INTEGER || reply->integer != run.count) {
            err_line("del count wrong");
        }
        break;
    default:
        break;
    }
    (void)res;
}

static void close_now(int in_callback);

static void
on_reply(marshal_async *a, redisReply *reply, const marshal_result *res, void *priv)
{
    struct rec *r = priv;
    double ms = (double)(mono_ns() - r->t0_ns) / 1e6;
    char key[FIELD_MAX], server[FIELD_MAX], rep[160];
    int i;

    (void)a;
    if (r == NULL) {
        err_line("a callback for a command that was refused (privdata NULL): status %s",
                 status_name(res->status));
        return;
    }
    field(key, sizeof(key), r->key, r->keylen);
    if (r->seen != 0) {
        run.n_dup++;
        err_line("dup %ld %s %s %s %s (callback %d)", r->id, kind_names[r->kind], key,
                 status_name(res->status), outcome_field(res->outcome), r->seen + 1);
        r->seen++;
        return;
    }
    r->seen = 1;
    run.n_cb++;
    run.phase_done++;
    if (res->outcome >= 0 && res->outcome < 5) {
        run.outcomes[res->outcome]++;
    }
    if (res->status <= 0 && res->status > -64) {
        run.statuses[-res->status]++;
    }
    addr_field(server, sizeof(server), res->host, res->port);
    reply_field(rep, sizeof(rep), reply);
    if (res->status != MARSHAL_OK && res->errstr != NULL && res->errstr[0] != '\0') {
        out("cb %ld %s %s %s %s %s %d %.3f %lld %s legs=%d parked_ms=%.1f # %s", r->id,
            kind_names[r->kind], key, status_name(res->status), outcome_field(res->outcome),
            server, res->attempts, ms, wall_ms(), rep, res->n_legs, (double)res->parked_ns / 1e6,
            res->errstr);
    } else {
        out("cb %ld %s %s %s %s %s %d %.3f %lld %s legs=%d parked_ms=%.1f", r->id,
            kind_names[r->kind], key, status_name(res->status), outcome_field(res->outcome),
            server, res->attempts, ms, wall_ms(), rep, res->n_legs, (double)res->parked_ns / 1e6);
    }
    for (i = 0; i < res->n_legs; i++) {
        const marshal_leg *l = &res->legs[i];
        char g[FIELD_MAX];

        field(g, sizeof(g), l->group, strlen(l->group));
        addr_field(server, sizeof(server), l->host, l->port);
        out("leg %ld %d %s %s %s %s %d", r->id, i, g, server, status_name(l->status),
            outcome_field(l->outcome), l->nkeys);
    }
    if (res->status == MARSHAL_OK && reply == NULL) {
        err_line("cb %ld: status OK without a reply", r->id);
    }
    check_reply(r, reply, res);
    if (run.closed || run.finished) {
        return;         /* a callback run by the close: nothing new */
    }
    switch (run.args.mode) {
    case M_CLOSE:
    case M_CLOSE_TIMER:
        if (r->target == 0 && res->outcome == MARSHAL_OUTCOME_APPLIED &&
            ++run.applied_up == atol(run.args.pos[4])) {
            if (run.args.mode == M_CLOSE) {
                long l, n = atol(run.args.pos[5]);

                for (l = 0; l < n; l++) {
                    issue_set(K_LATE, 0, run.count + l);
                }
                close_now(1);
            } else {
                ev_timer_start(run.loop, &run.closer);
            }
        } else if (run.phase_done == run.phase_issued && !ev_is_active(&run.closer)) {
            err_line("every command ended before the close");
            finish();
        }
        break;
    case M_CLOSE_EXPIRE:
        if (res->status == MARSHAL_ERR_PARK_EXPIRED) {
            close_now(1);
        } else if (run.phase_done == run.phase_issued) {
            err_line("every command ended before the close");
            finish();
        }
        break;
    default:
        advance();
        break;
    }
}

/*
 * Close the handle now; every pending callback must have run when it
 * returns.  Inside a library callback the handle (and its targets) stay
 * valid until that callback returns, so a command can still be tried on a
 * target: it must be refused with CLOSED.  From a loop timer the close
 * frees everything at once.
 */
static void
close_now(int in_callback)
{
    marshal_async *a = run.a;
    marshal_target *t = run.t[0];
    long m;
    int rc = 1;

    run.closed = 1;
    print_stats();
    marshal_async_close(a);
    if (in_callback) {
        rc = marshal_async_command(t, on_reply, NULL, "SET %s x", "after-close");
    }
    run.a = NULL;
    m = missing();
    out("closed %lld from=%s rc_after=%s missing=%ld", wall_ms(),
        in_callback ? "callback" : "timer", in_callback ? status_name(rc) : "-", m);
    if (in_callback && rc != MARSHAL_ERR_CLOSED) {
        err_line("a command after the close was not refused with CLOSED: %s", status_name(rc));
    }
    if (m != 0) {
        err_line("%ld callbacks had not run when marshal_async_close returned", m);
    }
    run.finished = 1;
    ev_break(run.loop, EVBREAK_ALL);
}

static void
on_closer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    if (!run.closed) {
        close_now(0);
    }
}

/* timeout mode: one SET to G2 per tick for DURATION_MS. */
static void
on_ticker(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    if (run.finished) {
        ev_timer_stop(loop, w);
        return;
    }
    if ((mono_ns() - run.trigger_ns) / 1000000 >= (uint64_t)run.duration_ms) {
        ev_timer_stop(loop, w);
        advance();
        return;
    }
    issue_set(K_SET, 1, 1000000 + run.n_g2++);
}

/* The loop ran this 5 ms timer late by more than 50 ms: say so. */
static void
on_gauge(struct ev_loop *loop, ev_timer *w, int revents)
{
    uint64_t now = mono_ns(), gap = now - run.gauge_last_ns;

    (void)loop;
    (void)w;
    (void)revents;
    if (gap > run.max_gap_ns) {
        run.max_gap_ns = gap;
        run.max_gap_at = wall_ms();
    }
    if (gap >= 50000000ull) {
        out("gap %.1f t=%lld", (double)gap / 1e6, wall_ms());
    }
    run.gauge_last_ns = now;
}

static void
on_sigusr1(struct ev_loop *loop, ev_signal *w, int revents)
{
    long i;

    (void)w;
    (void)revents;
    if (run.args.mode != M_TIMEOUT || run.triggered || run.phase != 1 || run.finished) {
        return;
    }
    run.triggered = 1;
    run.phase = 2;
    run.trigger_ns = mono_ns();
    out("trigger %lld", wall_ms());
    for (i = 0; i < run.count; i++) {
        issue_set(K_SET, 0, i);
    }
    ev_timer_init(&run.ticker, on_ticker, 0., run.interval_ms / 1000.0);
    ev_timer_start(loop, &run.ticker);
}

static void
on_sigterm(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    out("stop %lld why=signal", wall_ms());
    finish();
}

static void
on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    out("error watchdog %lld: the mode did not end within %.1f s (phase %d, %ld/%ld done)",
        wall_ms(), run.args.seconds, run.phase, run.phase_done, run.phase_issued);
    print_stats();
    summary();
    fflush(stdout);
    _exit(3);
}

static void
on_event(marshal_client *c, const marshal_event *ev, void *ud)
{
    char server[FIELD_MAX], group[FIELD_MAX];

    (void)c;
    (void)ud;
    addr_field(server, sizeof(server), ev->host, ev->port);
    if (ev->group == NULL || ev->group[0] == '\0') {
        snprintf(group, sizeof(group), "-");
    } else {
        field(group, sizeof(group), ev->group, strlen(ev->group));
    }
    out("event %s %s %s seq=%" PRIu64 " age=%" PRId64 " t=%lld", marshal_event_name(ev->type),
        group, server, ev->seq, ev->age_ms, wall_ms());
}

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

/* Issue the mode's first commands. */
static void
start_mode(void)
{
    struct args *g = &run.args;
    marshal_async_stats st;
    long i, m;

    switch (g->mode) {
    case M_PIPELINE:
        for (i = 0; i < run.count; i++) {
            issue_set(K_SET, 0, i);
        }
        marshal_async_stats_get(run.a, &st);
        out("inflight %" PRIu64, st.in_flight);
        break;
    case M_PARK:
    case M_PARKED:
        for (i = 0; i < run.count; i++) {
            issue_set(K_SET, 0, i);
        }
        if (g->mode == M_PARKED) {
            marshal_async_stats_get(run.a, &st);
            out("parked %lld n=%ld parked=%" PRIu64 " in_flight=%" PRIu64, wall_ms(), run.count,
                st.parked, st.in_flight);
        }
        break;
    case M_TIMEOUT:
        issue_set(K_WARM, 0, 2000000);
        issue_set(K_WARM, 1, 2000001);
        break;
    case M_MSET:
        issue_multi(K_MSET, "MSET", run.count, 1, 0);
        break;
    case M_MGET:
        issue_multi(K_MGET, "MGET", run.count, 0, 0);
        break;
    case M_DEL:
        issue_multi(K_DEL, "DEL", run.count, 0, 2);
        break;
    case M_MIRROR: {
        const char *argv[3] = {"SET", g->pos[1], g->pos[2]};
        size_t lens[3] = {3, strlen(g->pos[1]), strlen(g->pos[2])};
        struct rec *r = rec_new(K_SET, 0, -1);

        rec_key(r, g->pos[1], lens[1]);
        issue_argv(r, 3, argv, lens);
        break;
    }
    case M_CLOSE:
    case M_CLOSE_TIMER:
        m = atol(g->pos[3]);
        for (i = 0; i < m; i++) {
            issue_set(K_SET, 1, 1000000 + i);
        }
        for (i = 0; i < run.count; i++) {
            issue_set(K_SET, 0, i);
        }
        break;
    case M_CLOSE_EXPIRE:
        for (i = 0; i < run.count; i++) {
            issue_set(K_SET, 0, i);
        }
        break;
    case M_EVENTS:
        out("ready %lld", wall_ms());
        break;
    default:
        break;
    }
}

/* ---- command line ---------------------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr,
            "usage: async_check [OPTIONS] SEGMENT MODE ARGS...\n"
            "modes: pipeline GROUP N | park GROUP N | parked GROUP N |\n"
            "       timeout G1 G2 N DURATION_MS INTERVAL_MS | mset|mget|del CLUSTER N |\n"
            "       mirror TARGET KEY VALUE | close GUP GDOWN N M K L |\n"
            "       close-timer GUP GDOWN N M K | close-expire GROUP M | events GROUP\n"
            "options: --park-max N --failover-wait MS --timeout MS --connect-timeout MS\n"
            "         --max-attempts N --database N --seconds S --prefix P --nonce X\n"
            "         --log FILE --log-level L\n");
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
        fprintf(stderr, "async_check: %s: not a non-negative integer: %s\n", what, s);
        exit(2);
    }
    return v;
}

/* MODE name -> enum mode and its argument count. */
static int
parse_mode(const char *s, int *nargs)
{
    static const struct { const char *name; int mode, nargs; } modes[] = {
        {"pipeline", M_PIPELINE, 2}, {"park", M_PARK, 2}, {"parked", M_PARKED, 2},
        {"timeout", M_TIMEOUT, 5}, {"mset", M_MSET, 2}, {"mget", M_MGET, 2}, {"del", M_DEL, 2},
        {"mirror", M_MIRROR, 3}, {"close", M_CLOSE, 6}, {"close-timer", M_CLOSE_TIMER, 5},
        {"close-expire", M_CLOSE_EXPIRE, 2}, {"events", M_EVENTS, 1},
    };
    size_t i;

    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(s, modes[i].name) == 0) {
            *nargs = modes[i].nargs;
            return modes[i].mode;
        }
    }
    fprintf(stderr, "async_check: unknown mode: %s\n", s);
    usage();
    return -1;
}

static void
parse_args(int argc, char **argv, struct args *a)
{
    enum { O_PARKMAX = 256, O_FOWAIT, O_TIMEOUT, O_CTIMEOUT, O_ATTEMPTS, O_DB, O_SECONDS,
           O_PREFIX, O_NONCE, O_LOG, O_LOGLEVEL };
    static const struct option opts[] = {
        {"park-max", required_argument, NULL, O_PARKMAX},
        {"failover-wait", required_argument, NULL, O_FOWAIT},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
        {"max-attempts", required_argument, NULL, O_ATTEMPTS},
        {"database", required_argument, NULL, O_DB},
        {"seconds", required_argument, NULL, O_SECONDS},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"nonce", required_argument, NULL, O_NONCE},
        {"log", required_argument, NULL, O_LOG},
        {"log-level", required_argument, NULL, O_LOGLEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const levels[] = {"debug", "verbose", "notice", "warning"};
    int o, nargs, i;

    memset(a, 0, sizeof(*a));
    a->park_max = a->failover_wait_ms = a->timeout_ms = a->connect_timeout_ms = -1;
    a->max_attempts = a->database = -1;
    a->seconds = 30;
    a->prefix = "k";
    a->nonce = "v";
    a->log_level = MARSHAL_LOG_VERBOSE;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_PARKMAX: a->park_max = (int)num(optarg, "--park-max"); break;
        case O_FOWAIT: a->failover_wait_ms = (int)num(optarg, "--failover-wait"); break;
        case O_TIMEOUT: a->timeout_ms = (int)num(optarg, "--timeout"); break;
        case O_CTIMEOUT: a->connect_timeout_ms = (int)num(optarg, "--connect-timeout"); break;
        case O_ATTEMPTS: a->max_attempts = (int)num(optarg, "--max-attempts"); break;
        case O_DB: a->database = (int)num(optarg, "--database"); break;
        case O_SECONDS: a->seconds = (double)num(optarg, "--seconds"); break;
        case O_PREFIX: a->prefix = optarg; break;
        case O_NONCE: a->nonce = optarg; break;
        case O_LOG: a->log_path = optarg; break;
        case O_LOGLEVEL:
            for (i = 0; i < 4 && strcmp(optarg, levels[i]) != 0; i++) {
            }
            if (i == 4) {
                usage();
            }
            a->log_level = i;
            break;
        default: usage();
        }
    }
    if (argc - optind < 2) {
        usage();
    }
    a->segment = argv[optind];
    a->mode = parse_mode(argv[optind + 1], &nargs);
    a->pos = argv + optind + 2;
    a->n_pos = argc - optind - 2;
    if (a->n_pos != nargs) {
        fprintf(stderr, "async_check: %s takes %d arguments\n", argv[optind + 1], nargs);
        usage();
    }
}

int
main(int argc, char **argv)
{
    struct args *g = &run.args;
    marshal_options o;
    int rc, n_targets = 1, i;
    long m;

    parse_args(argc, argv, g);
    signal(SIGPIPE, SIG_IGN);
    if (g->log_path != NULL) {
        log_file = fopen(g->log_path, "a");
        if (log_file == NULL) {
            fprintf(stderr, "async_check: %s: %s\n", g->log_path, strerror(errno));
            return 2;
        }
    }
    marshal_options_init(&o);
    if (g->park_max >= 0) {
        o.park_max = g->park_max;
    }
    if (g->failover_wait_ms >= 0) {
        o.failover_wait_ms = g->failover_wait_ms;
    }
    if (g->timeout_ms >= 0) {
        o.command_timeout_ms = g->timeout_ms;
    }
    if (g->connect_timeout_ms >= 0) {
        o.connect_timeout_ms = g->connect_timeout_ms;
    }
    if (g->max_attempts >= 0) {
        o.max_attempts = g->max_attempts;
    }
    if (g->database >= 0) {
        o.database = g->database;
    }
    if (log_file != NULL) {
        o.log_fn = on_log;
        o.log_level = g->log_level;
    }
    run.loop = EV_DEFAULT;
    rc = marshal_async_open(g->segment, &o, &run.a);
    if (rc != MARSHAL_OK) {
        out("error open %s # %s", status_name(rc),
            run.a != NULL ? marshal_client_errstr(marshal_async_client(run.a)) : "");
        marshal_async_close(run.a);
        return 2;
    }
    rc = marshal_async_libev_attach(run.a, run.loop);
    if (rc == MARSHAL_OK) {
        rc = marshal_client_on(marshal_async_client(run.a), MARSHAL_EV_ALL, on_event, NULL);
    }
    if (rc != MARSHAL_OK) {
        out("error setup %s", status_name(rc));
        marshal_async_close(run.a);
        return 2;
    }
    if (g->mode == M_TIMEOUT || g->mode == M_CLOSE || g->mode == M_CLOSE_TIMER) {
        n_targets = 2;
    }
    for (i = 0; i < n_targets; i++) {
        rc = marshal_async_target_open(run.a, g->pos[i], &run.t[i]);
        if (rc != MARSHAL_OK) {
            out("error target %s %s # %s", g->pos[i], status_name(rc),
                marshal_client_errstr(marshal_async_client(run.a)));
            marshal_async_close(run.a);
            return 2;
        }
    }
    switch (g->mode) {
    case M_TIMEOUT:
        run.count = num(g->pos[2], "N");
        run.duration_ms = num(g->pos[3], "DURATION_MS");
        run.interval_ms = num(g->pos[4], "INTERVAL_MS");
        if (run.interval_ms < 1) {
            usage();
        }
        break;
    case M_CLOSE:
    case M_CLOSE_TIMER:
        run.count = num(g->pos[2], "N");
        (void)num(g->pos[3], "M");
        m = num(g->pos[4], "K");
        if (g->mode == M_CLOSE) {
            (void)num(g->pos[5], "L");
        }
        if (m < 1 || m > run.count) {
            fprintf(stderr, "async_check: K must be in 1..N\n");
            return 2;
        }
        break;
    case M_MIRROR:
    case M_EVENTS:
        break;
    default:
        run.count = num(g->pos[1], "N");
        break;
    }

    ev_timer_init(&run.watchdog, on_watchdog, g->seconds, 0.);
    ev_timer_start(run.loop, &run.watchdog);
    ev_timer_init(&run.closer, on_closer, 0., 0.);
    ev_timer_init(&run.gauge, on_gauge, 0.005, 0.005);
    run.gauge_last_ns = mono_ns();
    ev_timer_start(run.loop, &run.gauge);
    ev_signal_init(&run.sigterm, on_sigterm, SIGTERM);
    ev_signal_start(run.loop, &run.sigterm);
    ev_signal_init(&run.sigint, on_sigterm, SIGINT);
    ev_signal_start(run.loop, &run.sigint);
    ev_signal_init(&run.sigusr1, on_sigusr1, SIGUSR1);
    ev_signal_start(run.loop, &run.sigusr1);

    start_mode();
    if (run.n_refused > 0 && run.n_recs == run.n_refused && g->mode != M_EVENTS) {
        finish();       /* nothing was accepted: no callback will end the mode */
    } else {
        ev_run(run.loop, 0);
    }
    if (!run.finished) {
        err_line("the loop ended before the mode did");
        finish();
    }
    ev_timer_stop(run.loop, &run.watchdog);
    ev_timer_stop(run.loop, &run.ticker);
    ev_timer_stop(run.loop, &run.closer);
    ev_timer_stop(run.loop, &run.gauge);
    ev_signal_stop(run.loop, &run.sigterm);
    ev_signal_stop(run.loop, &run.sigint);
    ev_signal_stop(run.loop, &run.sigusr1);
    out("maxgap %.1f at=%lld", (double)run.max_gap_ns / 1e6, run.max_gap_at);
    summary();
    rc = run.n_dup == 0 && missing() == 0 && run.n_errors == 0 ? 0 : 1;
    out("done %lld rc=%d", wall_ms(), rc);
    for (m = 0; m < run.n_recs; m++) {
        free(run.recs[m]);
    }
    free(run.recs);
    if (log_file != NULL) {
        fclose(log_file);
    }
    return rc;
}
