/*
 * ctl_health.c -- the controller's own health checks of every redis-server.
 *
 * Per watched server (struct hsrv): one ctl_conn named "marshal-health" and
 * one repeating ev_timer (health.interval_ms; after the first, immediate
 * round all servers' timers share one phase, so one wake-up checks them all).  Each expiry starts a round unless one is still in flight:
 *
 *   connection DOWN: ctl_conn_connect() (AUTH and CLIENT SETNAME are its
 *       handshake).  A refused, failed or timed-out connect or handshake ends
 *       the round with ok = 0 and ctl_conn's reason; once the connection is
 *       up, the same round goes on with the commands below.
 *   connection UP: one pipeline of PING, ROLE and, when due (every
 *       health.info_ms, and on ctl_health_check_now), INFO replication +
 *       persistence (persistence carries "loading:").
 *
 * A round ends when every reply is in, with exactly one ctl_model_probe().
 * A round without INFO repeats the INFO fields (sync, link status, lags) of
 * the last good INFO on the same connection while the role is unchanged,
 * with have_info = 0: a consumer that copies every probe never sees them
 * blink to zero between INFO rounds.  A failed round, a disconnect or a role
 * change drops them, and the next round (like the first on every new
 * connection) fetches INFO.
 * ctl_conn puts a deadline on every connect and command, so every round
 * ends; a tick that finds the previous round still running is skipped,
 * never doubled up.
 *
 * Rounds are objects counted by their outstanding reply callbacks.  A
 * round dropped by unwatch or by a reconnect after a reconfiguration is
 * detached from its server (r->hs = NULL) and freed by its last callback, so
 * a late reply never reaches freed state and never reports twice.  A
 * finished round is kept as its server's next one (hs->spare): each round
 * embeds a whole probe, whose ~9 KiB lag table only masters use (a few
 * entries); rounds live in their own anonymous mappings, which read as
 * zeros untouched, so a server's round costs only the pages it writes (one
 * for most) and no round is allocated or cleared whole (see round_new).
 * When a command gets no reply (NULL: timeout, EOF, close), the round waits
 * for ctl_conn's state callback, which follows at once and names the reason
 * ("command timeout", "connection lost: ..."); the probe carries it.
 *
 * Connections are never freed from inside their own callbacks: an unwatched
 * server goes to a graveyard that a zero-delay timer empties on the next
 * loop iteration (the model may unwatch from inside ctl_model_probe).
 *
 * Reply parsing trusts nothing: types and element counts are checked before
 * indexing, numbers go through strtoull with errno and end checks, and every
 * copy is bounded.  Only PING, ROLE, INFO (plus ctl_conn's AUTH and CLIENT
 * SETNAME) are ever sent.  Passwords are copied only to notice changes, are
 * wiped on free, and never reach a log line or a probe.
 */
#define _GNU_SOURCE             /* explicit_bzero */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_health.h"
#include "ctl_metrics.h"
#include "ctl_log.h"

#define CLIENT_NAME     "marshal-health"
#define ROLE_MAX_ELEMS  16u     /* ROLE has 3 (master) or 5 (replica) items  */
#define INFO_MAX_BYTES  (1u << 20) /* larger INFO replies are not parsed     */

enum round_phase {
    PH_CONNECTING = 0,          /* waiting for ctl_conn's state callback     */
    PH_COMMANDS = 1             /* PING/ROLE/INFO sent, replies outstanding  */
};

struct hsrv;

/* One health-check round of one server. */
struct round {
    struct hsrv *hs;            /* owner; NULL once abandoned                */
    enum round_phase phase;
    uint32_t refs;              /* reply callbacks still to come             */
    int lost;                   /* a command got no reply (NULL)             */
    int gone;                   /* the state callback reported the drop      */
    int failed;                 /* ok = 0; the first reason is in p.error    */
    uint32_t info_sent;         /* INFO commands sent (0, 1 or 2)            */
    uint32_t info_ok;           /* INFO replies parsed                       */
    int info_bad;               /* an INFO reply could not be parsed         */
    int info_split;             /* the combined INFO was refused             */
    int link_info;              /* INFO master_link_status: 1 up, 0 down, -1 */
    int masterdown;             /* PING said MASTERDOWN                      */
    uint64_t start_ms;          /* when the commands were sent               */
    uint64_t ping_ns;           /* when PING was sent                        */
    int mapped;                 /* its own mapping (round_new), else heap    */
    uint32_t lags_hw;           /* p.lags entries ever written (re-cleared)  */
    struct ctl_probe p;         /* the result being built; last: the lag
                                   table's unused pages stay untouched       */
};

/* The INFO fields a round without INFO repeats (info_carry): a heap copy
 * sized to the lag entries in use rather than a whole ~9 KiB probe. */
struct info_memo {
    int role;
    int sync_in_progress;
    uint32_t n_lags, cap;
    struct ctl_lag lags[];
};

/* Per-server state (s->health_priv). */
struct hsrv {
    struct hsrv *next;          /* h->servers or h->graveyard                */
    struct ctl_health *h;
    struct ctl_server *s;       /* NULL once unwatched                       */
    struct ctl_conn *conn;      /* NULL until the first round / after a
                                   reconfiguration retired it                */
    ev_timer tick;              /* repeating: health.interval_ms             */
    int aligned;                /* tick moved onto the shared phase          */
    struct round *round;        /* in flight, or NULL                        */
    struct round *spare;        /* the last finished round, for the next one */
    uint64_t last_info_ms;      /* start of the last round with good INFO    */
    int force_info;             /* next round sends INFO whatever the time   */
    int info_split;             /* server refuses multi-section INFO (<7.0)  */
    int last_ok;                /* previous probe's ok (-1: none yet), logs  */
    struct info_memo *info;     /* last good INFO fields (heap, lazily)      */
    int info_valid;             /* info holds this connection's last INFO    */
    int info_link;              /* ... and its master_link_status (-1/0/1)   */
    char *username, *password;  /* what conn authenticates with              */
    uint32_t conn_timeout_ms;   /* what conn was made with                   */
};

struct ctl_health {
    struct ev_loop *loop;
    struct ctl_model *m;
    uint32_t interval_ms, timeout_ms, info_ms;
    struct hsrv *servers;       /* watched                                   */
    struct hsrv *graveyard;     /* unwatched, freed by the reaper            */
    struct ctl_metrics *metrics; /* check durations go here (NULL: off)     */
    ev_timer reaper;            /* zero delay while the graveyard is full    */
};

/* ---------------------------------------------------------------- helpers */

static int
same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return strcmp(a, b) == 0;
}

static void
free_secret(char **p)
{
    if (*p != NULL) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

/* Parse exactly len decimal digits (no sign, no blanks) into *out <= max.
 * Returns 0 or -1. */
static int
parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    char buf[24];
    char *end;
    unsigned long long v;
    size_t i;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtoull(buf, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* A string-ish reply (bulk or status) with its exact length. */
static int
reply_is_str(const redisReply *r)
{
    return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           r->str != NULL;
}

static int
reply_str_is(const redisReply *r, const char *want)
{
    size_t n = strlen(want);

    return reply_is_str(r) && r->len == n && strncasecmp(r->str, want, n) == 0;
}

/* An integer reply, or a bulk string of digits (ports in ROLE's replica
 * list), as an unsigned number <= max.  Negative integers are rejected. */
static int
reply_u64(const redisReply *r, uint64_t max, uint64_t *out)
{
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0 || (unsigned long long)r->integer > max) {
            return -1;
        }
        *out = (uint64_t)r->integer;
        return 0;
    }
    if (reply_is_str(r)) {
        return parse_u64(r->str, r->len, max, out);
    }
    return -1;
}

/* Error reply whose code (first word) is code. */
static int
error_is(const redisReply *r, const char *code)
{
    size_t n = strlen(code);

    return r->type == REDIS_REPLY_ERROR && r->str != NULL && r->len >= n &&
           strncmp(r->str, code, n) == 0 && (r->len == n || r->str[n] == ' ');
}

/* Record the first failure of r (later ones are consequences). */
static void __attribute__((format(printf, 2, 3)))
round_fail(struct round *r, const char *fmt, ...)
{
    va_list ap;

    if (r->failed) {
        return;
    }
    r->failed = 1;
    va_start(ap, fmt);
    vsnprintf(r->p.error, sizeof(r->p.error), fmt, ap);
    va_end(ap);
}

/* An error reply to what: -LOADING means reachable but loading; anything
 * else (NOAUTH, WRONGPASS, NOPERM, BUSY ...) fails the round with the
 * server's text (which never contains our password). */
static void
round_error_reply(struct round *r, const char *what, const redisReply *reply)
{
    if (error_is(reply, "LOADING")) {
        r->p.loading = 1;
        return;
    }
    round_fail(r, "%s: %.*s", what, (int)(reply->len > 80 ? 80 : reply->len),
               reply->str != NULL ? reply->str : "");
}

/* ------------------------------------------------------------ connections */

/* Retire hs->conn (never from inside its own callbacks: callers are the
 * reconfiguration and ctl_health_free). */
static void
conn_drop(struct hsrv *hs)
{
    if (hs->conn != NULL) {
        ctl_conn_free(hs->conn);
        hs->conn = NULL;
    }
    free_secret(&hs->username);
    free_secret(&hs->password);
}

static void on_state(struct ctl_conn *c, int up, const char *reason, void *ud);

/* Create hs->conn with the model's current credentials for the server. */
static int
conn_make(struct hsrv *hs)
{
    struct ctl_health *h = hs->h;
    const struct ctl_cred *cred = ctl_model_server_cred(h->m, hs->s);
    struct ctl_cred none = {NULL, NULL};

    if (cred == NULL) {
        cred = &none;
    }
    if ((cred->username != NULL && (hs->username = strdup(cred->username)) == NULL) ||
        (cred->password != NULL && (hs->password = strdup(cred->password)) == NULL)) {
        goto out_nomem;
    }
    hs->conn = ctl_conn_new(h->loop, &hs->s->addr, cred, CLIENT_NAME, h->timeout_ms,
                            h->timeout_ms, on_state, hs);
    if (hs->conn == NULL) {
        goto out_nomem;
    }
    hs->conn_timeout_ms = h->timeout_ms;
    return 0;

out_nomem:
    free_secret(&hs->username);
    free_secret(&hs->password);
    return -1;
}

/* ----------------------------------------------------------------- rounds */

/*
 * A blank round for hs: its spare, else a fresh anonymous mapping.  glibc
 * clears a recycled ~9.6 KiB chunk in calloc() (every page touched, for
 * every server); a mapping reads as zeros until written, and a spare only
 * needs its header and the lag entries it used cleared again.  Either way
 * the lag entries past n_lags read as zeros, as from calloc().
 */
static struct round *
round_new(struct hsrv *hs)
{
    struct round *r = hs->spare;

    if (r != NULL) {
        hs->spare = NULL;
        memset(r->p.lags, 0, r->lags_hw * sizeof(r->p.lags[0]));
        memset(r, 0, offsetof(struct round, p.lags));
    } else {
        r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r == MAP_FAILED) {
            return NULL;
        }
    }
    r->mapped = 1;
    return r;
}

static void
round_free(struct round *r)
{
    if (r == NULL) {
        return;
    }
    if (r->mapped) {
        munmap(r, sizeof(*r));
    } else {
        free(r);            /* made by someone else (the unit tests) */
    }
}

/* Note the lag entries r's probe uses, for round_new to clear. */
static void
round_lags_used(struct round *r)
{
    if (r->p.n_lags > r->lags_hw) {
        r->lags_hw = r->p.n_lags;
    }
}

/* Detach the round in flight without reporting it; its outstanding
 * callbacks free it. */
static void
round_abandon(struct hsrv *hs)
{
    struct round *r = hs->round;

    if (r == NULL) {
        return;
    }
    hs->round = NULL;
    r->hs = NULL;
    if (r->refs == 0) {
        round_free(r);
    }
}

/* Drop the remembered INFO fields; the next round fetches INFO. */
static void
info_forget(struct hsrv *hs)
{
    hs->info_valid = 0;
    hs->force_info = 1;
}

/*
 * INFO fields of an ok round: remember them when INFO came with it, else
 * repeat the remembered ones (same connection, same role), else clear them.
 * Then apply INFO's master_link_status to ROLE's link state.
 */
static void
info_carry(struct hsrv *hs, struct round *r)
{
    struct ctl_probe *p = &r->p;
    int link = r->link_info;

    if (p->have_info) {
        hs->last_info_ms = r->start_ms;
        hs->force_info = 0;
        hs->info_valid = 0;
        if (hs->info == NULL || hs->info->cap < p->n_lags) {
            struct info_memo *im = realloc(hs->info, sizeof(*im) +
                                                         p->n_lags * sizeof(im->lags[0]));

            if (im != NULL) {           /* none: just not carried */
                hs->info = im;
                im->cap = p->n_lags;
            }
        }
        if (hs->info != NULL && hs->info->cap >= p->n_lags) {
            hs->info->role = p->role;
            hs->info->sync_in_progress = p->sync_in_progress;
            hs->info->n_lags = p->n_lags;
            memcpy(hs->info->lags, p->lags, sizeof(p->lags[0]) * p->n_lags);
            hs->info_link = link;
            hs->info_valid = 1;
        }
    } else if (hs->info_valid && hs->info->role == p->role) {
        p->sync_in_progress = hs->info->sync_in_progress;
        p->n_lags = hs->info->n_lags;
        memcpy(p->lags, hs->info->lags, sizeof(p->lags[0]) * p->n_lags);
        round_lags_used(r);
        link = hs->info_link;
    } else {
        p->sync_in_progress = 0;
        p->n_lags = 0;
        if (hs->info_valid) {
            info_forget(hs);        /* the role changed: fetch INFO next round */
        }
    }
    if (p->role == MSHM_ROLE_REPLICA && link == 0) {
        p->link_up = 0;
    }
}

/* Report the round in flight (exactly once) and free it.  hs must not be
 * touched afterwards: the model may unwatch it from ctl_model_probe. */
static void
round_finish(struct hsrv *hs)
{
    struct round *r = hs->round;
    struct ctl_probe *p = &r->p;
    struct ctl_server *s = hs->s;

    hs->round = NULL;
    if (r->info_split && !hs->info_split) {
        log_info("health %s:%u: multi-section INFO refused, sending sections separately",
                 s->addr.host, (unsigned)s->addr.port);
        hs->info_split = 1;
        hs->force_info = 1;
    }
    if (r->failed) {
        info_forget(hs);
        /* everything but the reason; lags past n_lags are not read */
        memset(p, 0, offsetof(struct ctl_probe, error));
        p->n_lags = 0;
        p->role = MSHM_ROLE_UNKNOWN;
    } else {
        p->ok = 1;
        p->error[0] = '\0';
        p->have_info = r->info_sent > 0 && r->info_ok == r->info_sent && !r->info_bad;
        if (p->role != MSHM_ROLE_MASTER) {
            p->n_lags = 0;
        }
        info_carry(hs, r);
        if (r->masterdown) {
            p->link_up = 0;
        }
    }
    if (hs->last_ok != p->ok) {
        if (p->ok) {
            log_info("health %s:%u: ok (%s%s)", s->addr.host, (unsigned)s->addr.port,
                     p->role == MSHM_ROLE_MASTER ? "master" : "replica",
                     p->loading ? ", loading" : "");
        } else {
            log_info("health %s:%u: failed: %s", s->addr.host, (unsigned)s->addr.port,
                     p->error);
        }
        hs->last_ok = p->ok;
    }
    ctl_model_probe(hs->h->m, s, p);    /* may unwatch hs */
    /* keep r for hs's next round: an unwatched hs is still allocated here
     * (freed on the next loop iteration, spare included) */
    if (hs->spare == NULL && r->mapped) {
        hs->spare = r;
    } else {
        round_free(r);
    }
}

/* Finish the round in flight when nothing more is coming. */
static void
round_maybe_finish(struct hsrv *hs)
{
    struct round *r = hs->round;

    if (r == NULL || r->refs != 0) {
        return;
    }
    if (r->gone || (r->phase == PH_COMMANDS && !r->lost)) {
        round_finish(hs);
    }
}

/* A reply callback of r is in: 1 when reply should be parsed. */
static int
reply_begin(struct round *r, const redisReply *reply)
{
    if (r->hs == NULL) {
        return 0;
    }
    if (reply == NULL) {
        r->lost = 1;        /* the state callback with the reason follows */
        return 0;
    }
    return 1;
}

/* ... and done with: free an abandoned round, or finish a complete one. */
static void
reply_end(struct round *r)
{
    r->refs--;
    if (r->hs == NULL) {
        if (r->refs == 0) {
            round_free(r);
        }
        return;
    }
    round_maybe_finish(r->hs);
}

static void
on_ping(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct round *r = pd;
    uint64_t rtt;

    (void)c;
    if (reply_begin(r, reply)) {
        rtt = (ctl_now_ns() - r->ping_ns) / 1000u;
        r->p.rtt_us = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
        ctl_metrics_check(r->hs->h->metrics, r->p.rtt_us);
        if (error_is(reply, "MASTERDOWN")) {
            r->masterdown = 1;      /* a replica without its master: up, not readable */
        } else if (reply->type == REDIS_REPLY_ERROR) {
            round_error_reply(r, "PING", reply);
        } else if (!reply_str_is(reply, "PONG")) {
            round_fail(r, "PING: unexpected reply");
        }
    }
    reply_end(r);
}

/* ROLE: ["master", offset, [[ip, port, ack], ...]] |
 *       ["slave", host, port, state, offset] | ["sentinel", [names]] */
static void
parse_role(struct round *r, const redisReply *rep)
{
    struct ctl_probe *p = &r->p;
    const redisReply *e, *list;
    uint64_t v;
    size_t i, j;

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || rep->elements > ROLE_MAX_ELEMS ||
        !reply_is_str(rep->element[0])) {
        round_fail(r, "ROLE: malformed reply");
        return;
    }
    e = rep->element[0];
    if (reply_str_is(e, "master")) {
        if (rep->elements < 3 || reply_u64(rep->element[1], INT64_MAX, &v) != 0 ||
            rep->element[2] == NULL || rep->element[2]->type != REDIS_REPLY_ARRAY) {
            round_fail(r, "ROLE: malformed master reply");
            return;
        }
        list = rep->element[2];
        for (i = 0; i < list->elements; i++) {
            const redisReply *rr = list->element[i];

            if (rr == NULL || rr->type != REDIS_REPLY_ARRAY || rr->elements < 3) {
                round_fail(r, "ROLE: malformed replica entry");
                return;
            }
            for (j = 0; j < 3; j++) {
                if (!reply_is_str(rr->element[j]) && (rr->element[j] == NULL ||
                                                      rr->element[j]->type != REDIS_REPLY_INTEGER)) {
                    round_fail(r, "ROLE: malformed replica entry");
                    return;
                }
            }
        }
        p->role = MSHM_ROLE_MASTER;
        p->offset = v;
    } else if (reply_str_is(e, "slave") || reply_str_is(e, "replica")) {
        const redisReply *host, *state;
        uint64_t port;

        if (rep->elements < 5) {
            round_fail(r, "ROLE: malformed replica reply");
            return;
        }
        host = rep->element[1];
        state = rep->element[3];
        if (!reply_is_str(host) || host->len == 0 || host->len >= sizeof(p->follows.host) ||
            memchr(host->str, '\0', host->len) != NULL ||
            reply_u64(rep->element[2], 65535, &port) != 0 || port == 0 ||
            !reply_is_str(state) || rep->element[4] == NULL ||
            rep->element[4]->type != REDIS_REPLY_INTEGER) {
            round_fail(r, "ROLE: malformed replica reply");
            return;
        }
        p->role = MSHM_ROLE_REPLICA;
        memcpy(p->follows.host, host->str, host->len);
        p->follows.host[host->len] = '\0';
        p->follows.port = (uint16_t)port;
        p->link_up = reply_str_is(state, "connected");
        /* -1 while there is no master link */
        p->offset = rep->element[4]->integer > 0 ? (uint64_t)rep->element[4]->integer : 0;
    } else if (reply_str_is(e, "sentinel")) {
        round_fail(r, "is a sentinel");
    } else {
        round_fail(r, "ROLE: unknown role");
    }
}

static void
on_role(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct round *r = pd;

    (void)c;
    if (reply_begin(r, reply)) {
        if (reply->type == REDIS_REPLY_ERROR) {
            /* ROLE runs while loading and while stale: any error means no
             * role, hence no usable probe */
            round_fail(r, "ROLE: %.*s", (int)(reply->len > 80 ? 80 : reply->len),
                       reply->str != NULL ? reply->str : "");
        } else {
            parse_role(r, reply);
        }
    }
    reply_end(r);
}

/* Does [k, k+klen) equal key? */
static int
key_is(const char *k, size_t klen, const char *key)
{
    return klen == strlen(key) && memcmp(k, key, klen) == 0;
}

/* "ip=10.0.0.2,port=6380,state=online,offset=123,lag=0" into the lag table.
 * Entries that are not online or do not parse are skipped (ROLE lists only
 * online replicas too; the replica's own probe says why it is not). */
static void
parse_slave_entry(struct round *r, const char *v, size_t vlen)
{
    struct ctl_probe *p = &r->p;
    const char *end = v + vlen, *f, *comma, *eq;
    const char *ip = NULL;
    size_t iplen = 0;
    uint64_t port = 0, offset = 0, lag = 0;
    int have = 0, online = 0;

    if (p->n_lags >= MSHM_GROUP_SERVERS) {
        return;
    }
    for (f = v; f < end; f = comma < end ? comma + 1 : end) {
        size_t flen, klen;

        comma = memchr(f, ',', (size_t)(end - f));
        if (comma == NULL) {
            comma = end;
        }
        eq = memchr(f, '=', (size_t)(comma - f));
        if (eq == NULL) {
            continue;
        }
        klen = (size_t)(eq - f);
        eq++;
        flen = (size_t)(comma - eq);
        if (key_is(f, klen, "ip")) {
            ip = eq;
            iplen = flen;
            have |= 1;
        } else if (key_is(f, klen, "port")) {
            have |= parse_u64(eq, flen, 65535, &port) == 0 && port != 0 ? 2 : 0;
        } else if (key_is(f, klen, "state")) {
            online = flen == 6 && memcmp(eq, "online", 6) == 0;
        } else if (key_is(f, klen, "offset")) {
            have |= parse_u64(eq, flen, INT64_MAX, &offset) == 0 ? 4 : 0;
        } else if (key_is(f, klen, "lag")) {
            have |= parse_u64(eq, flen, UINT32_MAX, &lag) == 0 ? 8 : 0;
        }
    }
    if (have != 15 || !online || iplen == 0 || iplen >= sizeof(p->lags[0].addr.host) ||
        memchr(ip, '\0', iplen) != NULL) {
        return;
    }
    memcpy(p->lags[p->n_lags].addr.host, ip, iplen);
    p->lags[p->n_lags].addr.host[iplen] = '\0';
    p->lags[p->n_lags].addr.port = (uint16_t)port;
    p->lags[p->n_lags].offset = offset;
    p->lags[p->n_lags].lag_s = (uint32_t)lag;
    p->n_lags++;
    round_lags_used(r);
}

/* One "key:value" line of INFO replication / persistence. */
static void
parse_info_line(struct round *r, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    const char *v;
    size_t klen, vlen, i;
    uint64_t n;

    if (colon == NULL) {
        return;
    }
    klen = (size_t)(colon - line);
    v = colon + 1;
    vlen = len - klen - 1;
    if (key_is(line, klen, "loading")) {
        if (parse_u64(v, vlen, 1, &n) != 0) {
            r->info_bad = 1;
        } else if (n) {
            r->p.loading = 1;
        }
    } else if (key_is(line, klen, "master_link_status")) {
        r->link_info = vlen == 2 && memcmp(v, "up", 2) == 0;
    } else if (key_is(line, klen, "master_sync_in_progress")) {
        if (parse_u64(v, vlen, 1, &n) != 0) {
            r->info_bad = 1;
        } else {
            r->p.sync_in_progress = (int)n;
        }
    } else if (klen > 5 && memcmp(line, "slave", 5) == 0) {
        for (i = 5; i < klen; i++) {
            if (line[i] < '0' || line[i] > '9') {
                return;     /* slave_repl_offset, slave_priority ... */
            }
        }
        parse_slave_entry(r, v, vlen);
    }
}

static void
parse_info(struct round *r, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len, *nl;
    size_t ll;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        ll = (size_t)((nl != NULL ? nl : end) - p);
        if (ll > 0 && p[ll - 1] == '\r') {
            ll--;
        }
        if (ll > 0 && p[0] != '#') {
            parse_info_line(r, p, ll);
        }
        p = nl != NULL ? nl + 1 : end;
    }
}

static void
on_info(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct round *r = pd;

    (void)c;
    if (reply_begin(r, reply)) {
        if (reply->type == REDIS_REPLY_ERROR && r->info_sent == 1 && !r->hs->info_split &&
            error_is(reply, "ERR")) {
            r->info_split = 1;      /* before 7.0: one section per INFO */
        } else if (reply->type == REDIS_REPLY_ERROR) {
            round_error_reply(r, "INFO", reply);
        } else if (reply->type != REDIS_REPLY_STRING || reply->str == NULL ||
                   reply->len > INFO_MAX_BYTES) {
            r->info_bad = 1;
        } else {
            parse_info(r, reply->str, reply->len);
            r->info_ok++;
        }
    }
    reply_end(r);
}

/* The commands, in RESP form once and for all (ctl_conn_command_formatted). */
#define RESP_CMD(s)     {s, sizeof(s) - 1}
struct resp_cmd {
    const char *text;
    size_t len;
};
static const struct resp_cmd cmd_ping = RESP_CMD("*1\r\n$4\r\nPING\r\n");
static const struct resp_cmd cmd_role = RESP_CMD("*1\r\n$4\r\nROLE\r\n");
static const struct resp_cmd cmd_info =
    RESP_CMD("*3\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n$11\r\npersistence\r\n");
static const struct resp_cmd cmd_info_repl = RESP_CMD("*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n");
static const struct resp_cmd cmd_info_pers = RESP_CMD("*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n");

/* Queue one command of r; 0 or -1. */
static int
send_cmd(struct hsrv *hs, ctl_reply_fn fn, const struct resp_cmd *cmd)
{
    if (ctl_conn_command_formatted(hs->conn, fn, hs->round, cmd->text, cmd->len) != 0) {
        return -1;
    }
    hs->round->refs++;
    return 0;
}

/* The connection is up: pipeline PING, ROLE and (when due) INFO. */
static void
round_send(struct hsrv *hs)
{
    struct ctl_health *h = hs->h;
    struct round *r = hs->round;
    uint64_t now;
    int want_info;
    int rc;

    r->ping_ns = ctl_now_ns();
    now = r->ping_ns / 1000000u;        /* ctl_now_ms() */
    r->phase = PH_COMMANDS;
    r->start_ms = now;
    /* a quarter interval of slack keeps INFO on its cadence despite timer jitter */
    want_info = hs->force_info || hs->last_info_ms == 0 ||
                now - hs->last_info_ms + h->interval_ms / 4 >= h->info_ms;
    /* one write(2) for the whole round, straight from here (see ctl_conn.c) */
    ctl_conn_cork(hs->conn);
    rc = send_cmd(hs, on_ping, &cmd_ping);
    if (rc == 0) {
        rc = send_cmd(hs, on_role, &cmd_role);
    }
    if (rc == 0 && want_info) {
        if (!hs->info_split) {
            rc = send_cmd(hs, on_info, &cmd_info);
            r->info_sent += rc == 0;
        } else {
            rc = send_cmd(hs, on_info, &cmd_info_repl);
            r->info_sent += rc == 0;
            if (rc == 0) {
                rc = send_cmd(hs, on_info, &cmd_info_pers);
                r->info_sent += rc == 0;
            }
        }
    }
    ctl_conn_uncork(hs->conn);
    if (rc != 0) {
        /* out of memory or a dying context: drop the link; the NULL replies
         * and the state callback end the round.  r may be gone after this. */
        round_fail(r, "send failed");
        if (r->refs == 0) {
            r->lost = 1;
        }
        ctl_conn_close(hs->conn, "send failed");
    }
}

static void
round_start(struct hsrv *hs)
{
    struct round *r;

    if (hs->round != NULL) {
        return;
    }
    r = round_new(hs);
    if (r == NULL) {
        log_warn("health %s:%u: out of memory, check skipped", hs->s->addr.host,
                 (unsigned)hs->s->addr.port);
        return;
    }
    r->hs = hs;
    r->link_info = -1;
    r->p.role = MSHM_ROLE_UNKNOWN;
    hs->round = r;
    if (hs->conn == NULL && conn_make(hs) != 0) {
        round_fail(r, "out of memory");
        round_finish(hs);
        return;
    }
    switch (ctl_conn_state(hs->conn)) {
    case CTL_CONN_UP:
        round_send(hs);
        break;
    case CTL_CONN_CONNECTING:
        r->phase = PH_CONNECTING;
        break;
    case CTL_CONN_DOWN:
    default:
        r->phase = PH_CONNECTING;
        if (ctl_conn_connect(hs->conn) != 0) {
            round_fail(r, "connect failed");
            round_finish(hs);
        }
        break;
    }
}

/* ctl_conn state changes of hs->conn. */
static void
on_state(struct ctl_conn *c, int up, const char *reason, void *ud)
{
    struct hsrv *hs = ud;
    struct round *r = hs->round;

    if (hs->s == NULL || c != hs->conn) {
        return;                 /* unwatched, or a retired connection */
    }
    log_debug("health %s:%u: connection %s (%s)", hs->s->addr.host,
              (unsigned)hs->s->addr.port, up ? "up" : "down", reason);
    info_forget(hs);            /* new link, or none: INFO in the next round */
    if (r == NULL) {
        return;                 /* between rounds: the next one reconnects */
    }
    if (up) {
        if (r->phase == PH_CONNECTING) {
            round_send(hs);
        }
        return;
    }
    round_fail(r, "%s", reason);
    r->gone = 1;
    round_maybe_finish(hs);
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct hsrv *hs = w->data;
    struct round *r = hs->round;

    (void)revents;
    if (!hs->aligned) {
        /* every server's ticks share one phase (multiples of the interval on
         * the monotonic clock): one wake-up checks them all, where spread
         * ticks cost a wake-up -- a context switch -- per server */
        uint32_t span = hs->h->interval_ms ? hs->h->interval_ms : 1;

        hs->aligned = 1;
        ev_timer_stop(loop, w);
        /* the next round a full interval from now at least, then on the phase */
        ev_timer_set(w, (double)(2 * span - ctl_now_ms() % span) / 1000.0,
                     (double)span / 1000.0);
        ev_timer_start(loop, w);
    }
    if (r == NULL) {
        round_start(hs);
        return;
    }
    /* Still in flight: ctl_conn's deadlines bound it, so do not double up.
     * Belt and braces: a round whose connection is down with nothing left
     * to come would otherwise wait forever. */
    if (r->refs == 0 && (hs->conn == NULL || ctl_conn_state(hs->conn) == CTL_CONN_DOWN)) {
        round_fail(r, "connection lost");
        round_finish(hs);
    }
}

/* ------------------------------------------------------------- graveyard */

static void
hsrv_free(struct hsrv *hs)
{
    round_abandon(hs);
    conn_drop(hs);      /* NULL replies free an abandoned round */
    round_free(hs->spare);
    free(hs->info);
    free(hs);
}

static void
on_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ctl_health *h = w->data;
    struct hsrv *hs;

    (void)loop;
    (void)revents;
    while ((hs = h->graveyard) != NULL) {
        h->graveyard = hs->next;
        hsrv_free(hs);
    }
}

/* ------------------------------------------------------------- interface */

/*
 * Create the health checker for cfg's health.* settings, reporting to m.
 * Nothing is checked until ctl_health_watch().  Returns NULL when out of
 * memory.  The caller keeps cfg (only numbers are copied).
 */
struct ctl_health *
ctl_health_new(struct ev_loop *loop, const struct ctl_config *cfg, struct ctl_model *m)
{
    struct ctl_health *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        return NULL;
    }
    h->loop = loop;
    h->m = m;
    h->interval_ms = cfg->health_interval_ms ? cfg->health_interval_ms : 100;
    h->timeout_ms = cfg->health_timeout_ms ? cfg->health_timeout_ms : 250;
    h->info_ms = cfg->health_info_ms ? cfg->health_info_ms : 1000;
    ev_timer_init(&h->reaper, on_reap, 0.0, 0.0);
    h->reaper.data = h;
    return h;
}

/*
 * Free h and everything it holds.  Servers still watched are dropped without
 * touching their struct ctl_server (the model may be gone already) and
 * without a final probe.  Must not be called from a ctl_model_probe()
 * callback.
 */
void
ctl_health_free(struct ctl_health *h)
{
    struct hsrv *hs;

    if (h == NULL) {
        return;
    }
    ev_timer_stop(h->loop, &h->reaper);
    while ((hs = h->servers) != NULL) {
        h->servers = hs->next;
        ev_timer_stop(h->loop, &hs->tick);
        hs->s = NULL;
        hsrv_free(hs);
    }
    while ((hs = h->graveyard) != NULL) {
        h->graveyard = hs->next;
        hsrv_free(hs);
    }
    free(h);
}

/*
 * Start checking s: the first round runs at once, then every
 * health.interval_ms on the phase all servers share.  The
 * connection is made by the first round with ctl_model_server_cred(m, s).
 * Returns 0 (also when s is already watched) or -1 when out of memory.
 */
int
ctl_health_watch(struct ctl_health *h, struct ctl_server *s)
{
    struct hsrv *hs;
    double first;

    if (s->health_priv != NULL) {
        return 0;
    }
    hs = calloc(1, sizeof(*hs));
    if (hs == NULL) {
        return -1;
    }
    hs->h = h;
    hs->s = s;
    hs->last_ok = -1;
    /* the first round at once; on_tick then moves the timer onto the phase
     * every server shares */
    first = 0.0;
    ev_timer_init(&hs->tick, on_tick, first, (double)h->interval_ms / 1000.0);
    hs->tick.data = hs;
    ev_timer_start(h->loop, &hs->tick);
    hs->next = h->servers;
    h->servers = hs;
    s->health_priv = hs;
    return 0;
}

/*
 * Stop checking s: no probe for s is reported after this returns (a round
 * in flight is dropped).  Safe from any callback, ctl_model_probe()
 * included: the connection is closed now and freed on the next loop
 * iteration.
 */
void
ctl_health_unwatch(struct ctl_health *h, struct ctl_server *s)
{
    struct hsrv *hs = s->health_priv, **pp;

    if (hs == NULL) {
        return;
    }
    s->health_priv = NULL;
    for (pp = &h->servers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == hs) {
            *pp = hs->next;
            break;
        }
    }
    ev_timer_stop(h->loop, &hs->tick);
    round_abandon(hs);
    hs->s = NULL;               /* on_state ignores it from now on */
    if (hs->conn != NULL) {
        ctl_conn_close(hs->conn, "unwatched");
    }
    hs->next = h->graveyard;
    h->graveyard = hs;
    if (!ev_is_active(&h->reaper)) {
        ev_timer_set(&h->reaper, 0.0, 0.0);
        ev_timer_start(h->loop, &h->reaper);
    }
}

/*
 * Check s on the next loop iteration, INFO included, unless a round is in
 * flight (then this is a no-op).  The periodic schedule is unchanged.
 */
void
ctl_health_check_now(struct ctl_health *h, struct ctl_server *s)
{
    struct hsrv *hs = s->health_priv;

    if (hs == NULL || hs->round != NULL) {
        return;
    }
    hs->force_info = 1;
    ev_feed_event(h->loop, &hs->tick, EV_TIMER);
}

/*
 * Take cfg's health.* numbers: a new interval applies from the next tick,
 * a new info_ms from the next round.  A server whose credentials
 * (ctl_model_server_cred, so call this after ctl_model_reconfigure) or
 * timeout changed gets a new connection: its round in flight is dropped
 * unreported and a new one starts on the next loop iteration.  Must not be
 * called from a connection or probe callback (main calls it on SIGHUP).
 */
void
ctl_health_reconfigure(struct ctl_health *h, const struct ctl_config *cfg)
{
    struct hsrv *hs;

    h->interval_ms = cfg->health_interval_ms ? cfg->health_interval_ms : 100;
    h->timeout_ms = cfg->health_timeout_ms ? cfg->health_timeout_ms : 250;
    h->info_ms = cfg->health_info_ms ? cfg->health_info_ms : 1000;
    for (hs = h->servers; hs != NULL; hs = hs->next) {
        const struct ctl_cred *cred;
        int was_busy;

        hs->tick.repeat = (double)h->interval_ms / 1000.0;
        hs->aligned = 0;        /* the next tick moves onto the new phase */
        if (hs->conn == NULL) {
            continue;           /* made with the new settings when needed */
        }
        cred = ctl_model_server_cred(h->m, hs->s);
        if (hs->conn_timeout_ms == h->timeout_ms &&
            same_str(cred != NULL ? cred->username : NULL, hs->username) &&
            same_str(cred != NULL ? cred->password : NULL, hs->password)) {
            continue;
        }
        log_info("health %s:%u: settings changed, reconnecting", hs->s->addr.host,
                 (unsigned)hs->s->addr.port);
        was_busy = hs->round != NULL;
        round_abandon(hs);
        conn_drop(hs);
        if (was_busy) {
            hs->force_info = 1;
            ev_feed_event(h->loop, &hs->tick, EV_TIMER);
        }
    }
}

void
ctl_health_set_metrics(struct ctl_health *h, struct ctl_metrics *metrics)
{
    h->metrics = metrics;
}
