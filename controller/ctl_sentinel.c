/*
 * ctl_sentinel.c -- talking to Redis Sentinel: subscriptions and polling.
 *
 * The sentinel list is the configured sentinels (first, in configuration
 * order) followed by the sentinels discovered through SENTINEL SENTINELS
 * <group>, deduplicated by (mapped) ip:port and by the id SENTINEL MYID
 * reports.  A sentinel's number (si) is its index in that list and is what
 * the model sees.  Numbers stay stable; the only renumbering is the
 * swap-remove of a sentinel that a reload dropped (or a discovered duplicate
 * of another): the last sentinel moves into the hole, and the model is told
 * everything it knew under the old number is gone before the sentinel is
 * reported again under the new one (slot_remove()).
 *
 * Per sentinel two ctl_conn connections ("marshal-ctl"):
 *  - cmd: polls, every sentinels.poll_ms and at once after any (re)connect,
 *    INFO sentinel (sentinel_tilt) and, per sentinel-managed group,
 *    SENTINEL MASTER + REPLICAS (SLAVES after an "unknown subcommand") +
 *    SENTINELS.  MASTER and REPLICAS become one struct ctl_sentinel_view and
 *    one ctl_model_sentinel_view() call per group per poll (NULL when the
 *    sentinel does not know the group or the poll failed).  At most one poll
 *    of a group is in flight per sentinel; a request that arrives meanwhile
 *    is remembered and run when it completes.
 *  - sub: PSUBSCRIBE * (every event, whatever its name: see below) and
 *    PSUBSCRIBE <token>, probed every sentinels.ping_ms with PING <token>
 *    (the pong reaches the token's callback, hiredis 0.14 drops it
 *    otherwise); no pong within sentinels.timeout_ms drops the connection.
 *    Resync (poll of every group on that sentinel) once "*" is confirmed, so
 *    nothing that happened while unsubscribed is missed.
 *
 * Why PSUBSCRIBE *: a sentinel's pub/sub carries nothing but its events
 * (PUBLISH on a sentinel only accepts __sentinel__:hello and does not fan
 * out), the volume is tiny, and the model gets every event for its log
 * without a list that can drift from what a given Redis version publishes
 * (reference/sentinel.md a2 lists names the docs get wrong).  Which events
 * trigger a re-poll is decided here by name (event_table).
 *
 * Re-poll debounce: a relevant event marks its group (all groups if the
 * payload names none) dirty for all sentinels and arms one timer: it fires
 * REPOLL_DEBOUNCE_MS after the first event (the same event from the other
 * sentinels lands in that window), and never sooner than REPOLL_HOLDOFF_MS
 * after the previous event-driven round.  A failover's burst of ~15 events
 * per sentinel therefore costs a handful of rounds, not dozens, and the
 * first re-poll still goes out within milliseconds.  The few events that
 * mean "re-resolve now" (+promoted-slave, +failover-state-reconf-slaves,
 * +switch-master, +convert-to-slave, +odown: once per sentinel per
 * failover) skip both: their round goes out in the next loop iteration (a
 * poll per group per sentinel is in flight at most once, so a burst still
 * coalesces), because the time from +switch-master to a published master
 * is what clients wait for.
 *
 * Reconnects use exponential backoff with jitter: BACKOFF_MIN_MS doubling to
 * BACKOFF_MAX_MS, the actual delay uniform in [d/2, d]; the backoff restarts
 * from the minimum once a connection stayed up BACKOFF_STABLE_MS.
 *
 * Every command goes through ctl_sentinel_allowed() (send_cmd(),
 * send_sub(), send_ping()): a read-only allow-list, never
 * IS-MASTER-DOWN-BY-ADDR.  Replies are parsed by key with type checks,
 * overflow-checked numbers and bounded counts; garbage is logged (rate
 * limited) and treated as a failed poll.
 *
 * Lifetime: a sentinel that leaves the list is marked dead, its connections
 * are closed (pending callbacks run with NULL and see it is dead) and it is
 * freed from a zero-delay timer, never from inside one of its own callbacks.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_log.h"
#include "ctl_metrics.h"
#include "ctl_sentinel.h"

#define CLIENT_NAME          "marshal-ctl"
#define BACKOFF_MIN_MS       100u
#define BACKOFF_MAX_MS       5000u
#define BACKOFF_STABLE_MS    5000u
#define REPOLL_DEBOUNCE_MS   10u
#define REPOLL_HOLDOFF_MS    250u
#define SENTINELS_MAX        64u     /* configured + discovered              */
#define RUNID_MAX            64      /* sentinel id (40 hex) incl. NUL       */
#define CHANNEL_MAX          128     /* event name incl. NUL                 */
#define PAYLOAD_MAX          2048    /* event payload incl. NUL (sentinel: 1024) */
#define MAP_ELEMENTS_MAX     512     /* flat key/value reply elements        */
#define LIST_ELEMENTS_MAX    100000u /* entries looked at in a list reply    */
#define LOG_EVERY_MS         10000u  /* rate limit for repeated complaints   */

enum { CONN_CMD = 0, CONN_SUB = 1 };

/* Reconnect backoff of one connection. */
struct backoff {
    uint32_t ms;                  /* current step; 0 = start at the minimum  */
    uint64_t up_since;            /* ctl_now_ms() when it came up; 0 = down   */
    ev_timer timer;               /* reconnect timer                          */
    int logged;                   /* the current outage has been logged       */
};

/* One group as seen on one sentinel. */
struct sgroup {
    int inflight;                 /* a MASTER/REPLICAS/SENTINELS poll is out  */
    int again;                    /* poll again when it completes             */
    int have_view;                /* last report to the model was a view      */
};

/* One sentinel. */
struct sentinel {
    struct ctl_sentinels *owner;
    uint32_t si;                  /* index in owner->s (the model's number)   */
    struct ctl_addr addr;         /* where we connect (address map applied)   */
    int configured;               /* listed in the configuration              */
    int dead;                     /* left the list; waiting to be freed       */
    char runid[RUNID_MAX];        /* SENTINEL MYID, "" until known            */
    struct ctl_conn *cmd;         /* command connection                       */
    struct ctl_conn *sub;         /* subscribed connection                    */
    struct backoff bo[2];         /* [CONN_CMD], [CONN_SUB]                    */
    ev_timer ping_timer;          /* every ping_ms: PING <token>              */
    ev_timer pong_timer;          /* deadline for the outstanding pong        */
    int token_ok;                 /* token pattern confirmed                  */
    int ping_out;                 /* PING sent, pong not yet seen             */
    uint64_t ping_sent_ms;
    char token[64];               /* __marshal_ping_<pid>_<serial>            */
    int use_slaves;               /* REPLICAS unknown here: send SLAVES       */
    int info_inflight, info_again;
    int tilt;                     /* INFO sentinel_tilt                       */
    int rep_reachable, rep_tilt;  /* last reported to the model; -1 = never   */
    int repoll_all;               /* debounced: poll everything (TILT event)  */
    struct sgroup *g;             /* [owner->n_groups]                        */
    uint64_t last_poll_ms;        /* ctl_now_ms() of the last group view; 0 never */
    uint64_t log_garbage_ms;      /* rate limit for reply complaints          */
    uint64_t log_overflow_ms;     /* rate limit for "too many replicas"       */
    struct sentinel *next_zombie;
};

/* The module. */
struct ctl_sentinels {
    struct ev_loop *loop;
    struct ctl_model *m;
    struct ctl_cred cred;         /* sentinel credentials (owned copies)      */
    uint32_t connect_timeout_ms, timeout_ms, poll_ms, ping_ms;
    char (*groups)[CTL_NAME_MAX]; /* sentinel-managed group names            */
    uint32_t n_groups;
    uint64_t ggen;                /* bumped when groups[] is rebuilt          */
    uint8_t *dirty;               /* [n_groups]: debounced re-poll wanted     */
    struct sentinel **s;          /* the sentinel list                        */
    uint32_t n, cap;
    uint32_t rep_count;           /* last count told to the model             */
    int count_reported;
    ev_timer poll_timer;          /* periodic round                           */
    ev_timer repoll_timer;        /* debounced event-driven round             */
    ev_timer reap_timer;          /* frees zombies                            */
    uint64_t last_repoll_ms;
    struct sentinel *zombies;
    uint64_t rng;                 /* xorshift64 state (jitter)                */
    uint64_t serial;              /* token numbers                            */
    int freeing;
    uint64_t log_full_ms;         /* rate limit for "sentinel list full"      */
};

/* One poll of one group on one sentinel (MASTER + REPLICAS + SENTINELS). */
struct gpoll {
    struct sentinel *s;
    uint32_t gi;                  /* group index when sent ...                */
    uint64_t ggen;                /* ... valid while owner->ggen == ggen      */
    int refs;                     /* replies still to come                    */
    int master_ok, replicas_ok, nomaster;
    char name[CTL_NAME_MAX];
    struct ctl_sentinel_view view;
};

/* One SENTINEL SENTINELS entry. */
struct peer {
    struct ctl_addr addr;
    char runid[RUNID_MAX];
};

#define SFMT      "sentinel %s:%u (#%u)"
#define SARG(s)   (s)->addr.host, (unsigned)(s)->addr.port, (unsigned)(s)->si

static void poll_all(struct sentinel *s);
static void poll_group(struct sentinel *s, uint32_t gi);
static void slot_remove(struct ctl_sentinels *S, uint32_t si);

/* ------------------------------------------------------------------------ */
/* allow-list                                                                */
/* ------------------------------------------------------------------------ */

/*
 * The only commands this module sends to a sentinel.  Read-only SENTINEL
 * subcommands with their exact arity, INFO, ROLE, PING, AUTH, CLIENT SETNAME
 * and (P)SUBSCRIBE.  Everything else -- IS-MASTER-DOWN-BY-ADDR (it votes),
 * FAILOVER, RESET, SET, MONITOR, REMOVE, CONFIG, DEBUG, CLIENT KILL, ... --
 * is refused.  Returns 1 if allowed, 0 if not.
 */
int
ctl_sentinel_allowed(int argc, const char **argv)
{
    static const struct {
        const char *sub;
        int argc;
    } sentinel_subs[] = {
        {"MASTER", 3}, {"MASTERS", 2}, {"REPLICAS", 3}, {"SLAVES", 3}, {"SENTINELS", 3},
        {"GET-MASTER-ADDR-BY-NAME", 3}, {"CKQUORUM", 3}, {"MYID", 2},
    };
    size_t i;
    int k;

    if (argc < 1 || argv == NULL) {
        return 0;
    }
    for (k = 0; k < argc; k++) {
        if (argv[k] == NULL) {
            return 0;
        }
    }
    if (strcasecmp(argv[0], "SENTINEL") == 0) {
        if (argc < 2) {
            return 0;
        }
        for (i = 0; i < sizeof(sentinel_subs) / sizeof(sentinel_subs[0]); i++) {
            if (strcasecmp(argv[1], sentinel_subs[i].sub) == 0) {
                return argc == sentinel_subs[i].argc;
            }
        }
        return 0;
    }
    if (strcasecmp(argv[0], "INFO") == 0) {
        return 1;
    }
    if (strcasecmp(argv[0], "ROLE") == 0) {
        return argc == 1;
    }
    if (strcasecmp(argv[0], "PING") == 0) {
        return argc <= 2;
    }
    if (strcasecmp(argv[0], "AUTH") == 0) {
        return argc == 2 || argc == 3;
    }
    if (strcasecmp(argv[0], "CLIENT") == 0) {
        return argc == 3 && strcasecmp(argv[1], "SETNAME") == 0;
    }
    if (strcasecmp(argv[0], "SUBSCRIBE") == 0 || strcasecmp(argv[0], "PSUBSCRIBE") == 0) {
        return argc >= 2;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* parsers (pure; exercised by the unit test)                               */
/* ------------------------------------------------------------------------ */

/* r is a string-ish reply (bulk or status): its bytes. 0 or -1. */
static int
reply_str(const redisReply *r, const char **s, size_t *len)
{
    if (r == NULL || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) ||
        r->str == NULL) {
        return -1;
    }
    *s = r->str;
    *len = (size_t)r->len;
    return 0;
}

/* r is a string reply equal to lit (case-sensitive, length-checked). */
static int
reply_is(const redisReply *r, const char *lit)
{
    const char *s;
    size_t len;

    return reply_str(r, &s, &len) == 0 && len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* Decimal unsigned: digits only, no sign, no spaces, no overflow. 0 or -1. */
static int
parse_u64(const char *s, size_t len, uint64_t *out)
{
    char buf[32], *end;
    unsigned long long v;

    if (s == NULL || len == 0 || len >= sizeof(buf) || !isdigit((unsigned char)s[0])) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtoull(buf, &end, 10);
    if (errno != 0 || end != buf + len) {       /* also rejects an embedded NUL */
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* A number as a bulk string (RESP2 sentinel maps) or an integer reply. */
static int
reply_u64(const redisReply *r, uint64_t *out)
{
    const char *s;
    size_t len;

    if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0) {
            return -1;
        }
        *out = (uint64_t)r->integer;
        return 0;
    }
    if (reply_str(r, &s, &len) != 0) {
        return -1;
    }
    return parse_u64(s, len, out);
}

static int
reply_u32(const redisReply *r, uint32_t *out)
{
    uint64_t v;

    if (reply_u64(r, &v) != 0 || v > UINT32_MAX) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int
reply_port(const redisReply *r, uint16_t *out)
{
    uint64_t v;

    if (reply_u64(r, &v) != 0 || v == 0 || v > 65535) {
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

/* A host name or address: 1..CTL_HOST_MAX-1 printable, no blanks. */
static int
reply_host(const redisReply *r, char out[CTL_HOST_MAX])
{
    const char *s;
    size_t len, i;

    if (reply_str(r, &s, &len) != 0 || len == 0 || len >= CTL_HOST_MAX) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (!isgraph((unsigned char)s[i])) {
            return -1;
        }
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* "s_down,o_down,disconnected,..." -> CTL_SV_*; unknown words are ignored. */
static uint32_t
parse_flags(const char *s, size_t len)
{
    static const struct {
        const char *word;
        uint32_t flag;
    } words[] = {
        {"s_down", CTL_SV_SDOWN},
        {"o_down", CTL_SV_ODOWN},
        {"disconnected", CTL_SV_DISCONNECTED},
        {"failover_in_progress", CTL_SV_FAILOVER},
        {"promoted", CTL_SV_FAILOVER},
    };
    uint32_t flags = 0;
    size_t i = 0, j, k;

    while (s != NULL && i < len) {
        for (j = i; j < len && s[j] != ','; j++) {
        }
        for (k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
            if (j - i == strlen(words[k].word) && memcmp(s + i, words[k].word, j - i) == 0) {
                flags |= words[k].flag;
            }
        }
        i = j + 1;
    }
    return flags;
}

static int
reply_flags(const redisReply *r, uint32_t *out)
{
    const char *s;
    size_t len;

    if (reply_str(r, &s, &len) != 0) {
        return -1;
    }
    *out = parse_flags(s, len);
    return 0;
}

/* A flat key/value array: an array of an even number of elements, bounded. */
static int
is_map(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 0 &&
           r->elements <= MAP_ELEMENTS_MAX && (r->elements == 0 || r->element != NULL);
}

/*
 * SENTINEL MASTER <group> -> master fields of v.  Keys: name (must be group
 * if present), ip and port (required), flags, config-epoch,
 * num-other-sentinels, quorum; unknown keys are ignored, a known key with a
 * bad value is an error.  Returns 0, or -1 with a reason in *why.
 */
static int
parse_master(const redisReply *r, const char *group, struct ctl_sentinel_view *v,
             const char **why)
{
    int have_ip = 0, have_port = 0;
    size_t i;

    if (!is_map(r)) {
        *why = "not a key/value array";
        return -1;
    }
    for (i = 0; i < r->elements; i += 2) {
        const redisReply *k = r->element[i], *val = r->element[i + 1];
        const char *ks;
        size_t kl;

        if (reply_str(k, &ks, &kl) != 0 || val == NULL) {
            *why = "non-string key";
            return -1;
        }
#define KEY(lit) (kl == sizeof(lit) - 1 && memcmp(ks, lit, kl) == 0)
        if (KEY("name")) {
            if (!reply_is(val, group)) {
                *why = "name is not the group asked for";
                return -1;
            }
        } else if (KEY("ip")) {
            if (reply_host(val, v->master.host) != 0) {
                *why = "bad ip";
                return -1;
            }
            have_ip = 1;
        } else if (KEY("port")) {
            if (reply_port(val, &v->master.port) != 0) {
                *why = "bad port";
                return -1;
            }
            have_port = 1;
        } else if (KEY("flags")) {
            if (reply_flags(val, &v->master_flags) != 0) {
                *why = "bad flags";
                return -1;
            }
        } else if (KEY("config-epoch")) {
            if (reply_u64(val, &v->config_epoch) != 0) {
                *why = "bad config-epoch";
                return -1;
            }
        } else if (KEY("num-other-sentinels")) {
            if (reply_u32(val, &v->num_other_sentinels) != 0) {
                *why = "bad num-other-sentinels";
                return -1;
            }
        } else if (KEY("quorum")) {
            if (reply_u32(val, &v->quorum) != 0) {
                *why = "bad quorum";
                return -1;
            }
        }
    }
    if (!have_ip || !have_port) {
        *why = "ip or port missing";
        return -1;
    }
    return 0;
}

/* One SENTINEL REPLICAS entry into slot n of v.  0, or -1 (entry skipped). */
static int
parse_replica(const redisReply *e, struct ctl_sentinel_view *v, uint32_t n)
{
    struct ctl_addr follows = {{0}, 0};
    int have_ip = 0, have_port = 0;
    size_t i;

    memset(&v->replicas[n], 0, sizeof(v->replicas[n]));
    if (!is_map(e)) {
        return -1;
    }
    for (i = 0; i < e->elements; i += 2) {
        const redisReply *k = e->element[i], *val = e->element[i + 1];
        const char *ks;
        size_t kl;

        if (reply_str(k, &ks, &kl) != 0 || val == NULL) {
            return -1;
        }
        if (KEY("ip")) {
            if (reply_host(val, v->replicas[n].addr.host) != 0) {
                return -1;
            }
            have_ip = 1;
        } else if (KEY("port")) {
            if (reply_port(val, &v->replicas[n].addr.port) != 0) {
                return -1;
            }
            have_port = 1;
        } else if (KEY("flags")) {
            if (reply_flags(val, &v->replicas[n].flags) != 0) {
                return -1;
            }
        } else if (KEY("master-link-status")) {
            v->replicas[n].link_ok = reply_is(val, "ok");
        } else if (KEY("master-host")) {
            /* "?" while the replica has not reported a master: no address */
            if (reply_host(val, follows.host) != 0 || strcmp(follows.host, "?") == 0) {
                follows.host[0] = '\0';
            }
        } else if (KEY("master-port")) {
            if (reply_port(val, &follows.port) != 0) {
                follows.port = 0;
            }
        } else if (KEY("slave-repl-offset")) {
            if (reply_u64(val, &v->replicas[n].offset) != 0) {
                return -1;
            }
        } else if (KEY("slave-priority") || KEY("replica-priority")) {
            if (reply_u32(val, &v->replicas[n].priority) != 0) {
                return -1;
            }
        }
    }
    if (!have_ip || !have_port) {
        return -1;
    }
    if (follows.host[0] != '\0' && follows.port != 0) {
        v->replicas[n].follows = follows;
    }
    return 0;
}
#undef KEY

/*
 * SENTINEL REPLICAS <group> -> replicas of v.  Keeps at most
 * MSHM_GROUP_SERVERS entries (*ignored counts the rest), skips malformed
 * entries (*bad counts them).  Returns 0, or -1 if r is not an array.
 */
static int
parse_replicas(const redisReply *r, struct ctl_sentinel_view *v, uint32_t *ignored,
               uint32_t *bad)
{
    size_t i;

    *ignored = *bad = 0;
    v->n_replicas = 0;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || (r->elements > 0 && r->element == NULL)) {
        return -1;
    }
    for (i = 0; i < r->elements; i++) {
        if (v->n_replicas == MSHM_GROUP_SERVERS) {
            *ignored = (uint32_t)(r->elements - i > UINT32_MAX ? UINT32_MAX : r->elements - i);
            break;
        }
        if (parse_replica(r->element[i], v, v->n_replicas) == 0) {
            v->n_replicas++;
        } else {
            (*bad)++;
        }
    }
    return 0;
}

/*
 * SENTINEL SENTINELS <group> -> up to max peers (ip, port and, if sane, the
 * runid under "name").  Malformed entries are skipped (*bad).  Returns the
 * number of peers, or -1 if r is not an array.
 */
static int
parse_sentinels(const redisReply *r, struct peer *out, uint32_t max, uint32_t *bad)
{
    uint32_t n = 0;
    size_t i, j;

    *bad = 0;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || (r->elements > 0 && r->element == NULL)) {
        return -1;
    }
    for (i = 0; i < r->elements && i < LIST_ELEMENTS_MAX && n < max; i++) {
        const redisReply *e = r->element[i];
        int have_ip = 0, have_port = 0;
        struct peer *p = &out[n];

        memset(p, 0, sizeof(*p));
        if (!is_map(e)) {
            (*bad)++;
            continue;
        }
        for (j = 0; j < e->elements; j += 2) {
            const redisReply *k = e->element[j], *val = e->element[j + 1];

            if (reply_is(k, "ip")) {
                have_ip = reply_host(val, p->addr.host) == 0;
            } else if (reply_is(k, "port")) {
                have_port = reply_port(val, &p->addr.port) == 0;
            } else if (reply_is(k, "name")) {
                const char *s;
                size_t len, q;

                if (reply_str(val, &s, &len) == 0 && len > 0 && len < RUNID_MAX) {
                    for (q = 0; q < len && isalnum((unsigned char)s[q]); q++) {
                    }
                    if (q == len) {
                        memcpy(p->runid, s, len);
                        p->runid[len] = '\0';
                    }
                }
            }
        }
        if (have_ip && have_port) {
            n++;
        } else {
            (*bad)++;
        }
    }
    return (int)n;
}

/* SENTINEL MYID: a short alphanumeric bulk string.  0 or -1. */
static int
parse_myid(const redisReply *r, char out[RUNID_MAX])
{
    const char *s;
    size_t len, i;

    if (r == NULL || r->type != REDIS_REPLY_STRING || reply_str(r, &s, &len) != 0 ||
        len == 0 || len >= RUNID_MAX) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (!isalnum((unsigned char)s[i])) {
            return -1;
        }
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* INFO [sentinel]: the sentinel_tilt:<0|1> line.  0 (*tilt set) or -1. */
static int
parse_info_tilt(const redisReply *r, int *tilt)
{
    static const char key[] = "sentinel_tilt:";
    const char *s;
    size_t len, i = 0, j;

    if (r == NULL || r->type != REDIS_REPLY_STRING || reply_str(r, &s, &len) != 0) {
        return -1;
    }
    while (i < len) {
        for (j = i; j < len && s[j] != '\n'; j++) {
        }
        if (j - i > sizeof(key) - 1 && memcmp(s + i, key, sizeof(key) - 1) == 0) {
            const char *v = s + i + sizeof(key) - 1;
            size_t vl = j - i - (sizeof(key) - 1);
            uint64_t t;

            if (vl > 0 && v[vl - 1] == '\r') {
                vl--;
            }
            if (parse_u64(v, vl, &t) != 0 || t > 1) {
                return -1;
            }
            *tilt = (int)t;
            return 0;
        }
        i = j + 1;
    }
    return -1;
}

/* An error reply containing needle (case-insensitive). */
static int
error_has(const redisReply *r, const char *needle)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL &&
           strcasestr(r->str, needle) != NULL;
}

/* What an event means for polling. */
enum ev_action {
    EA_LOG = 0,                   /* log only (the model still gets it)       */
    EA_GROUP = 1,                 /* re-poll the group it names, everywhere   */
    EA_SENTINEL = 2,              /* re-poll everything on that sentinel      */
    EA_URGENT = 3,                /* EA_GROUP, skipping the hold-off          */
};

/*
 * Event name -> action (reference/sentinel.md a2, "Marshal use").  Names are
 * the real channel names, +/- included; "-failover-abort-*" is a prefix.
 * The re-resolve-now signals of hazard b2#4 are urgent: each comes once per
 * sentinel per failover, so they may skip the hold-off.
 */
static int
event_action(const char *channel)
{
    static const char *const urgent_events[] = {
        "+promoted-slave", "+failover-state-reconf-slaves", "+switch-master",
        "+convert-to-slave", "+odown",
    };
    static const char *const group_events[] = {
        "+monitor", "-monitor", "+reset-master", "+slave", "+sentinel",
        "+sentinel-address-switch", "+sentinel-invalid-addr", "+sentinel-address-update",
        "+sdown", "-sdown", "-odown", "+try-failover",
        "+slave-reconf-sent", "+slave-reconf-sent-be",
        "-slave-reconf-sent-timeout", "+slave-reconf-inprog", "+slave-reconf-done",
        "+failover-end", "+failover-end-for-timeout",
        "+fix-slave-config", "+role-change", "-role-change", "+reboot",
        "+config-update-from", "+elected-leader",
    };
    size_t i;

    if (strcmp(channel, "+tilt") == 0 || strcmp(channel, "-tilt") == 0) {
        return EA_SENTINEL;
    }
    if (strncmp(channel, "-failover-abort-", 16) == 0) {
        return EA_GROUP;
    }
    for (i = 0; i < sizeof(urgent_events) / sizeof(urgent_events[0]); i++) {
        if (strcmp(channel, urgent_events[i]) == 0) {
            return EA_URGENT;
        }
    }
    for (i = 0; i < sizeof(group_events) / sizeof(group_events[0]); i++) {
        if (strcmp(channel, group_events[i]) == 0) {
            return EA_GROUP;
        }
    }
    return EA_LOG;
}

/*
 * The master name an event is about (reference/sentinel.md a1/a2):
 *  +switch-master "<name> <old-ip> <old-port> <new-ip> <new-port>";
 *  M "master <name> <ip> <port> ...";
 *  S/X "slave|sentinel <id> <ip> <port> @ <name> <ip> <port> ...".
 * Payloads are split on spaces, extra tokens are ignored, a truncated
 * payload simply yields fewer tokens.  Returns 1 with the name in out, or
 * 0 if the payload names no master (or one that does not fit out).
 */
static int
event_group(const char *channel, const char *payload, char *out, size_t outlen)
{
    const char *tok[8];
    size_t toklen[8];
    int ntok = 0, i, at = -1;
    const char *p = payload;

    while (*p != '\0' && ntok < 8) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        tok[ntok] = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
        toklen[ntok] = (size_t)(p - tok[ntok]);
        ntok++;
    }
    if (strcmp(channel, "+switch-master") == 0) {
        at = 0;
    } else if (ntok >= 2 && toklen[0] == 6 && memcmp(tok[0], "master", 6) == 0) {
        at = 1;
    } else if (ntok >= 1 && ((toklen[0] == 5 && memcmp(tok[0], "slave", 5) == 0) ||
                             (toklen[0] == 8 && memcmp(tok[0], "sentinel", 8) == 0))) {
        for (i = 1; i < ntok - 1; i++) {
            if (toklen[i] == 1 && tok[i][0] == '@') {
                at = i + 1;
                break;
            }
        }
    }
    if (at < 0 || at >= ntok || toklen[at] == 0 || toklen[at] >= outlen) {
        return 0;
    }
    memcpy(out, tok[at], toklen[at]);
    out[toklen[at]] = '\0';
    return 1;
}

int
ctl_sentinel_event_group(const char *channel, const char *payload, char *out, size_t outlen)
{
    return event_group(channel, payload, out, outlen);
}

/* Copy a reply string into a bounded C string: stops at NUL, non-printable
 * bytes become '?' (log safety), truncates to outlen-1. */
static void
copy_text(char *out, size_t outlen, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len && i + 1 < outlen && s[i] != '\0'; i++) {
        out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
    }
    out[i] = '\0';
}

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */
/* ------------------------------------------------------------------------ */

static int
ratelimit(uint64_t *last_ms)
{
    uint64_t now = ctl_now_ms();

    if (*last_ms != 0 && now - *last_ms < LOG_EVERY_MS) {
        return 0;
    }
    *last_ms = now;
    return 1;
}

static uint64_t
rng_next(struct ctl_sentinels *S)
{
    uint64_t x = S->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    S->rng = x;
    return x;
}

static int
addr_eq(const struct ctl_addr *a, const struct ctl_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static int
find_group(const struct ctl_sentinels *S, const char *name)
{
    uint32_t i;

    for (i = 0; i < S->n_groups; i++) {
        if (strcmp(S->groups[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static struct sentinel *
find_by_addr(const struct ctl_sentinels *S, const struct ctl_addr *a)
{
    uint32_t i;

    for (i = 0; i < S->n; i++) {
        if (addr_eq(&S->s[i]->addr, a)) {
            return S->s[i];
        }
    }
    return NULL;
}

static struct sentinel *
find_by_runid(const struct ctl_sentinels *S, const char *runid, const struct sentinel *not)
{
    uint32_t i;

    if (runid[0] == '\0') {
        return NULL;
    }
    for (i = 0; i < S->n; i++) {
        if (S->s[i] != not && strcmp(S->s[i]->runid, runid) == 0) {
            return S->s[i];
        }
    }
    return NULL;
}

/* Send paths: every command passes the allow-list here. */
static int
send_cmd(struct sentinel *s, ctl_reply_fn fn, void *pd, int argc, const char **argv)
{
    if (!ctl_sentinel_allowed(argc, argv)) {
        log_warn(SFMT ": refusing to send \"%s\" (not on the allow-list)", SARG(s),
                 argc > 0 && argv != NULL && argv[0] != NULL ? argv[0] : "");
        return -1;
    }
    return ctl_conn_command(s->cmd, fn, pd, argc, argv);
}

static int
send_sub(struct sentinel *s, ctl_reply_fn fn, void *pd, int argc, const char **argv)
{
    if (!ctl_sentinel_allowed(argc, argv)) {
        log_warn(SFMT ": refusing to send \"%s\" (not on the allow-list)", SARG(s), argv[0]);
        return -1;
    }
    return ctl_conn_subscribe(s->sub, fn, pd, argc, argv);
}

static int
send_ping(struct sentinel *s)
{
    const char *argv[2] = {"PING", s->token};

    if (!ctl_sentinel_allowed(2, argv)) {
        return -1;
    }
    return ctl_conn_send(s->sub, 2, argv);
}

/* ------------------------------------------------------------------------ */
/* reporting to the model                                                   */
/* ------------------------------------------------------------------------ */

static void
report_count(struct ctl_sentinels *S)
{
    if (!S->count_reported || S->rep_count != S->n) {
        S->count_reported = 1;
        S->rep_count = S->n;
        ctl_model_sentinel_count(S->m, S->n);
    }
}

static void
report_state(struct sentinel *s)
{
    int reachable = ctl_conn_state(s->cmd) == CTL_CONN_UP;
    int tilt = reachable ? s->tilt : 0;

    if (reachable != s->rep_reachable || tilt != s->rep_tilt) {
        s->rep_reachable = reachable;
        s->rep_tilt = tilt;
        log_notice(SFMT ": %s%s", SARG(s), reachable ? "reachable" : "unreachable",
                   tilt ? ", in TILT" : "");
        ctl_model_sentinel_state(s->owner->m, s->si, reachable, tilt);
    }
}

static void
report_view(struct sentinel *s, uint32_t gi, const struct ctl_sentinel_view *v)
{
    s->g[gi].have_view = v != NULL;
    if (v != NULL) {
        s->last_poll_ms = ctl_now_ms();
    }
    ctl_model_sentinel_view(s->owner->m, s->si, s->owner->groups[gi], v);
}

/* Everything the model holds from s under its current number goes away. */
static void
report_gone(struct sentinel *s)
{
    uint32_t gi;

    for (gi = 0; gi < s->owner->n_groups; gi++) {
        if (s->g[gi].have_view) {
            report_view(s, gi, NULL);
        }
    }
    if (s->rep_reachable != 0 || s->rep_tilt != 0) {
        s->rep_reachable = 0;
        s->rep_tilt = 0;
        ctl_model_sentinel_state(s->owner->m, s->si, 0, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* polling                                                                  */
/* ------------------------------------------------------------------------ */

static void
garbage(struct sentinel *s, const char *what, const char *group, const char *why)
{
    if (ratelimit(&s->log_garbage_ms)) {
        log_warn(SFMT ": ignoring bad %s reply%s%s: %s", SARG(s), what, group ? " for " : "",
                 group ? group : "", why);
    }
}

/* The group a poll is about, now (the group list may have been rebuilt). */
static int
gpoll_group(const struct gpoll *gp)
{
    const struct ctl_sentinels *S = gp->s->owner;

    if (gp->ggen == S->ggen) {
        return (int)gp->gi;
    }
    return find_group(S, gp->name);
}

/* One reply of a group poll is in; the last one reports and cleans up. */
static void
gpoll_put(struct gpoll *gp)
{
    struct sentinel *s = gp->s;
    int gi;

    if (--gp->refs > 0) {
        return;
    }
    if (!s->dead && !s->owner->freeing && (gi = gpoll_group(gp)) >= 0) {
        struct sgroup *sg = &s->g[gi];

        sg->inflight = 0;
        report_view(s, (uint32_t)gi, gp->master_ok && gp->replicas_ok ? &gp->view : NULL);
        if (sg->again) {
            sg->again = 0;
            poll_group(s, (uint32_t)gi);
        }
    }
    free(gp);
}

static void
on_master(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct gpoll *gp = pd;
    struct sentinel *s = gp->s;
    const char *why = NULL;

    (void)c;
    if (reply != NULL && !s->dead) {
        if (error_has(reply, "No such master")) {
            gp->nomaster = 1;
            log_debug(SFMT ": does not know group %s", SARG(s), gp->name);
        } else if (reply->type == REDIS_REPLY_ERROR) {
            garbage(s, "SENTINEL MASTER", gp->name, reply->str ? reply->str : "error");
        } else if (parse_master(reply, gp->name, &gp->view, &why) == 0) {
            gp->master_ok = 1;
        } else {
            garbage(s, "SENTINEL MASTER", gp->name, why);
        }
    }
    gpoll_put(gp);
}

static void
on_replicas(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct gpoll *gp = pd;
    struct sentinel *s = gp->s;
    uint32_t ignored, bad;

    (void)c;
    if (reply != NULL && !s->dead) {
        if (!s->use_slaves && error_has(reply, "unknown") && error_has(reply, "subcommand")) {
            const char *argv[3] = {"SENTINEL", "SLAVES", gp->name};

            log_notice(SFMT ": no SENTINEL REPLICAS, using SENTINEL SLAVES", SARG(s));
            s->use_slaves = 1;
            if (send_cmd(s, on_replicas, gp, 3, argv) == 0) {
                return;         /* this reference moves to the SLAVES reply */
            }
        } else if (reply->type == REDIS_REPLY_ERROR) {
            if (!gp->nomaster) {
                garbage(s, "SENTINEL REPLICAS", gp->name, reply->str ? reply->str : "error");
            }
        } else if (parse_replicas(reply, &gp->view, &ignored, &bad) == 0) {
            gp->replicas_ok = 1;
            if ((ignored > 0 || bad > 0) && ratelimit(&s->log_overflow_ms)) {
                log_warn(SFMT ": group %s: kept %u replicas, ignored %u beyond %u, "
                         "skipped %u malformed", SARG(s), gp->name, gp->view.n_replicas,
                         ignored, (unsigned)MSHM_GROUP_SERVERS, bad);
            }
        } else {
            garbage(s, "SENTINEL REPLICAS", gp->name, "not an array");
        }
    }
    gpoll_put(gp);
}

/* A new sentinel slot at the end of the list.  NULL if it cannot be made. */
static struct sentinel *slot_add(struct ctl_sentinels *S, const struct ctl_addr *addr,
                                 int configured);

static void
discover(struct sentinel *from, const redisReply *reply, const char *group)
{
    struct ctl_sentinels *S = from->owner;
    struct peer peers[SENTINELS_MAX];
    uint32_t bad;
    int n, i;

    n = parse_sentinels(reply, peers, SENTINELS_MAX, &bad);
    if (n < 0) {
        garbage(from, "SENTINEL SENTINELS", group, "not an array");
        return;
    }
    if (bad > 0) {
        garbage(from, "SENTINEL SENTINELS", group, "malformed entries skipped");
    }
    for (i = 0; i < n; i++) {
        struct ctl_addr mapped;
        struct sentinel *t;

        ctl_model_map_addr(S->m, &peers[i].addr, &mapped);
        if (find_by_addr(S, &mapped) != NULL || find_by_runid(S, peers[i].runid, NULL) != NULL) {
            continue;
        }
        if (S->n >= SENTINELS_MAX) {
            if (ratelimit(&S->log_full_ms)) {
                log_warn("sentinel list full (%u): not adding %s:%u", (unsigned)SENTINELS_MAX,
                         mapped.host, (unsigned)mapped.port);
            }
            return;
        }
        t = slot_add(S, &mapped, 0);
        if (t != NULL) {
            log_notice(SFMT ": discovered through " SFMT " (group %s)", SARG(t), SARG(from),
                       group);
        }
    }
}

static void
on_sentinels(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct gpoll *gp = pd;
    struct sentinel *s = gp->s;

    (void)c;
    if (reply != NULL && !s->dead && !s->owner->freeing && reply->type != REDIS_REPLY_ERROR) {
        discover(s, reply, gp->name);
    }
    gpoll_put(gp);
}

/* Poll group gi on s (or remember to, if a poll of it is out). */
static void
poll_group(struct sentinel *s, uint32_t gi)
{
    struct ctl_sentinels *S = s->owner;
    struct sgroup *sg;
    struct gpoll *gp;
    const char *argv[3];

    if (s->dead || S->freeing || gi >= S->n_groups || ctl_conn_state(s->cmd) != CTL_CONN_UP) {
        return;
    }
    sg = &s->g[gi];
    if (sg->inflight) {
        sg->again = 1;
        return;
    }
    gp = calloc(1, sizeof(*gp));
    if (gp == NULL) {
        log_warn(SFMT ": out of memory polling %s", SARG(s), S->groups[gi]);
        return;
    }
    gp->s = s;
    gp->gi = gi;
    gp->ggen = S->ggen;
    memcpy(gp->name, S->groups[gi], sizeof(gp->name));
    argv[0] = "SENTINEL";
    argv[2] = gp->name;
    argv[1] = "MASTER";
    if (send_cmd(s, on_master, gp, 3, argv) != 0) {
        free(gp);
        return;
    }
    gp->refs = 1;
    sg->inflight = 1;
    sg->again = 0;
    argv[1] = s->use_slaves ? "SLAVES" : "REPLICAS";
    if (send_cmd(s, on_replicas, gp, 3, argv) == 0) {
        gp->refs++;
    }
    argv[1] = "SENTINELS";
    if (send_cmd(s, on_sentinels, gp, 3, argv) == 0) {
        gp->refs++;
    }
}

static void poll_info(struct sentinel *s);

static void
on_info(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct sentinel *s = pd;
    int tilt;

    (void)c;
    s->info_inflight = 0;
    if (reply == NULL || s->dead || s->owner->freeing) {
        return;
    }
    if (parse_info_tilt(reply, &tilt) != 0) {
        garbage(s, "INFO sentinel", NULL, reply->type == REDIS_REPLY_ERROR && reply->str ?
                reply->str : "no sentinel_tilt");
    } else if (tilt != s->tilt) {
        s->tilt = tilt;
        report_state(s);
    }
    if (s->info_again) {
        s->info_again = 0;
        poll_info(s);
    }
}

static void
poll_info(struct sentinel *s)
{
    const char *argv[2] = {"INFO", "sentinel"};

    if (s->dead || ctl_conn_state(s->cmd) != CTL_CONN_UP) {
        return;
    }
    if (s->info_inflight) {
        s->info_again = 1;
        return;
    }
    if (send_cmd(s, on_info, s, 2, argv) == 0) {
        s->info_inflight = 1;
    }
}

/* Poll everything on s: INFO and every group. */
static void
poll_all(struct sentinel *s)
{
    uint32_t gi;

    s->repoll_all = 0;
    poll_info(s);
    for (gi = 0; gi < s->owner->n_groups; gi++) {
        poll_group(s, gi);
    }
}

static void
on_poll_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ctl_sentinels *S = w->data;

    (void)loop;
    (void)revents;
    ctl_sentinels_poll_now(S);
}

static void
on_repoll_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ctl_sentinels *S = w->data;
    uint32_t gi, i;

    (void)loop;
    (void)revents;
    S->last_repoll_ms = ctl_now_ms();
    for (i = 0; i < S->n; i++) {
        if (S->s[i]->repoll_all) {
            poll_all(S->s[i]);
        }
    }
    for (gi = 0; gi < S->n_groups; gi++) {
        if (S->dirty[gi]) {
            S->dirty[gi] = 0;
            for (i = 0; i < S->n; i++) {
                poll_group(S->s[i], gi);
            }
        }
    }
}

/* Arm the debounced re-poll (see the file comment).  urgent: ignore the
 * hold-off, and pull an armed timer forward to the debounce delay. */
static void
schedule_repoll(struct ctl_sentinels *S, int urgent)
{
    uint64_t now = ctl_now_ms(), at = now + (urgent ? 0 : REPOLL_DEBOUNCE_MS);

    if (ev_is_active(&S->repoll_timer)) {
        if (!urgent || ev_timer_remaining(S->loop, &S->repoll_timer) <= 0.0) {
            return;
        }
        ev_timer_stop(S->loop, &S->repoll_timer);
    } else if (!urgent && S->last_repoll_ms != 0 &&
               S->last_repoll_ms + REPOLL_HOLDOFF_MS > at) {
        at = S->last_repoll_ms + REPOLL_HOLDOFF_MS;
    }
    ev_timer_set(&S->repoll_timer, (double)(at - now) / 1000.0, 0.0);
    ev_timer_start(S->loop, &S->repoll_timer);
}

/* ------------------------------------------------------------------------ */
/* the subscribed connection                                                */
/* ------------------------------------------------------------------------ */

static void
handle_event(struct sentinel *s, const char *channel, const char *payload)
{
    struct ctl_sentinels *S = s->owner;
    char name[CTL_NAME_MAX];
    int action, gi;

    log_info(SFMT ": %s %s", SARG(s), channel, payload);
    ctl_model_sentinel_event(S->m, s->si, channel, payload);
    action = event_action(channel);
    if (action == EA_SENTINEL) {
        s->repoll_all = 1;
        schedule_repoll(S, 0);
    } else if (action == EA_GROUP || action == EA_URGENT) {
        if (!event_group(channel, payload, name, sizeof(name))) {
            memset(S->dirty, 1, S->n_groups);   /* cannot tell: all of them */
            schedule_repoll(S, action == EA_URGENT);
        } else if ((gi = find_group(S, name)) >= 0) {
            S->dirty[gi] = 1;
            schedule_repoll(S, action == EA_URGENT);
        }                                       /* else: not one of ours */
    }
}

static void
on_sub_msg(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct sentinel *s = pd;
    char channel[CHANNEL_MAX], payload[PAYLOAD_MAX];
    const char *ch, *pl;
    size_t chl, pll;

    (void)c;
    if (reply == NULL || s->dead || s->owner->freeing) {
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || reply->element == NULL) {
        garbage(s, "pub/sub", NULL, "not an array of 3+");
        return;
    }
    if (reply_is(reply->element[0], "psubscribe")) {
        log_info(SFMT ": subscribed; resync", SARG(s));
        poll_all(s);
        return;
    }
    if (!reply_is(reply->element[0], "pmessage") || reply->elements != 4 ||
        reply_str(reply->element[2], &ch, &chl) != 0 ||
        reply_str(reply->element[3], &pl, &pll) != 0) {
        garbage(s, "pub/sub", NULL, "not a pmessage");
        return;
    }
    copy_text(channel, sizeof(channel), ch, chl);
    copy_text(payload, sizeof(payload), pl, pll);
    handle_event(s, channel, payload);
}

static void
on_token(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct sentinel *s = pd;

    (void)c;
    if (reply == NULL || s->dead || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element == NULL) {
        return;
    }
    if (reply_is(reply->element[0], "psubscribe")) {
        s->token_ok = 1;
    } else if (reply_is(reply->element[0], "pong")) {
        if (s->ping_out) {
            log_debug(SFMT ": pong in %" PRIu64 " ms", SARG(s), ctl_now_ms() - s->ping_sent_ms);
        }
        s->ping_out = 0;
        ev_timer_stop(s->owner->loop, &s->pong_timer);
    }
}

static void
on_ping_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct sentinel *s = w->data;

    (void)revents;
    if (s->dead || !s->token_ok || s->ping_out || ctl_conn_state(s->sub) != CTL_CONN_UP) {
        return;
    }
    if (send_ping(s) != 0) {
        ctl_conn_close(s->sub, "cannot send PING");
        return;
    }
    s->ping_out = 1;
    s->ping_sent_ms = ctl_now_ms();
    ev_timer_set(&s->pong_timer, (double)s->owner->timeout_ms / 1000.0, 0.0);
    ev_timer_start(loop, &s->pong_timer);
}

static void
on_pong_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct sentinel *s = w->data;

    (void)loop;
    (void)revents;
    if (s->dead || !s->ping_out) {
        return;
    }
    log_warn(SFMT ": no pong on the subscribed connection within %u ms: reconnecting",
             SARG(s), (unsigned)s->owner->timeout_ms);
    ctl_conn_close(s->sub, "pong timeout");
}

/* ------------------------------------------------------------------------ */
/* connections                                                              */
/* ------------------------------------------------------------------------ */

static struct ctl_conn *
conn_of(struct sentinel *s, int which)
{
    return which == CONN_CMD ? s->cmd : s->sub;
}

static void on_cmd_state(struct ctl_conn *c, int up, const char *reason, void *ud);
static void on_sub_state(struct ctl_conn *c, int up, const char *reason, void *ud);

static void
conn_start(struct sentinel *s, int which)
{
    struct ctl_conn *c = conn_of(s, which);

    if (s->dead || ctl_conn_state(c) != CTL_CONN_DOWN) {
        return;
    }
    if (ctl_conn_connect(c) != 0) {
        /* failed at once (no state callback from ctl_conn): same as a
         * failed connect -- report, back off, retry */
        if (which == CONN_CMD) {
            on_cmd_state(c, 0, "connect failed at once", s);
        } else {
            on_sub_state(c, 0, "connect failed at once", s);
        }
    }
}

/* The connection went down: next delay (see the file comment) and arm. */
static uint32_t
schedule_retry(struct sentinel *s, int which)
{
    struct backoff *b = &s->bo[which];
    uint64_t now = ctl_now_ms();
    uint32_t delay;

    if (b->up_since != 0 && now - b->up_since >= BACKOFF_STABLE_MS) {
        b->ms = 0;
    }
    b->up_since = 0;
    b->ms = b->ms == 0 ? BACKOFF_MIN_MS : (b->ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS
                                                                       : b->ms * 2);
    delay = b->ms / 2 + (uint32_t)(rng_next(s->owner) % (b->ms / 2 + 1));
    ev_timer_stop(s->owner->loop, &b->timer);
    ev_timer_set(&b->timer, (double)delay / 1000.0, 0.0);
    ev_timer_start(s->owner->loop, &b->timer);
    return delay;
}

static void
on_retry_cmd(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    conn_start(w->data, CONN_CMD);
}

static void
on_retry_sub(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    conn_start(w->data, CONN_SUB);
}

static void
on_myid(struct ctl_conn *c, redisReply *reply, void *pd)
{
    struct sentinel *s = pd, *t;
    struct ctl_sentinels *S = s->owner;
    char id[RUNID_MAX];

    (void)c;
    if (reply == NULL || s->dead || S->freeing) {
        return;
    }
    if (parse_myid(reply, id) != 0) {
        log_info(SFMT ": no usable SENTINEL MYID", SARG(s));
        return;
    }
    memcpy(s->runid, id, sizeof(s->runid));
    t = find_by_runid(S, id, s);
    if (t == NULL) {
        return;
    }
    /* the same sentinel under two addresses: keep the configured one */
    if (!s->configured) {
        log_notice(SFMT ": same sentinel as " SFMT " (id %s): dropping it", SARG(s), SARG(t), id);
        slot_remove(S, s->si);
    } else if (!t->configured) {
        log_notice(SFMT ": same sentinel as " SFMT " (id %s): dropping it", SARG(t), SARG(s), id);
        slot_remove(S, t->si);
    } else {
        log_warn(SFMT " and " SFMT " are the same sentinel (id %s): configured twice",
                 SARG(s), SARG(t), id);
    }
}

static void
on_cmd_state(struct ctl_conn *c, int up, const char *reason, void *ud)
{
    struct sentinel *s = ud;
    uint32_t gi;

    if (s->dead || s->owner->freeing || c != s->cmd) {
        return;
    }
    if (up) {
        const char *argv[2] = {"SENTINEL", "MYID"};

        log_notice(SFMT ": command connection up", SARG(s));
        s->bo[CONN_CMD].up_since = ctl_now_ms();
        s->bo[CONN_CMD].logged = 0;
        s->use_slaves = 0;
        report_state(s);
        send_cmd(s, on_myid, s, 2, argv);
        poll_all(s);            /* resync after every (re)connect */
        return;
    }
    /* every poll that was out has already reported (NULL replies run first) */
    for (gi = 0; gi < s->owner->n_groups; gi++) {
        if (s->g[gi].have_view) {
            report_view(s, gi, NULL);
        }
    }
    s->tilt = 0;
    report_state(s);
    {
        int was_up = s->bo[CONN_CMD].up_since != 0;
        uint32_t delay = schedule_retry(s, CONN_CMD);

        if (was_up || !s->bo[CONN_CMD].logged) {
            log_notice(SFMT ": command connection down (%s); retry in %u ms", SARG(s), reason,
                       delay);
            s->bo[CONN_CMD].logged = 1;
        } else {
            log_debug(SFMT ": command connection: %s; retry in %u ms", SARG(s), reason, delay);
        }
    }
}

static void
on_sub_state(struct ctl_conn *c, int up, const char *reason, void *ud)
{
    struct sentinel *s = ud;
    struct ev_loop *loop = s->owner->loop;

    if (s->dead || s->owner->freeing || c != s->sub) {
        return;
    }
    s->token_ok = 0;
    s->ping_out = 0;
    ev_timer_stop(loop, &s->ping_timer);
    ev_timer_stop(loop, &s->pong_timer);
    if (up) {
        const char *all[2] = {"PSUBSCRIBE", "*"};
        const char *tok[2] = {"PSUBSCRIBE", s->token};

        log_notice(SFMT ": subscribed connection up", SARG(s));
        s->bo[CONN_SUB].up_since = ctl_now_ms();
        s->bo[CONN_SUB].logged = 0;
        /* two commands: one callback per subscription (see ctl_conn.c) */
        if (send_sub(s, on_token, s, 2, tok) != 0 || send_sub(s, on_sub_msg, s, 2, all) != 0) {
            ctl_conn_close(c, "PSUBSCRIBE failed");
            return;
        }
        ev_timer_set(&s->ping_timer, (double)s->owner->ping_ms / 1000.0,
                     (double)s->owner->ping_ms / 1000.0);
        ev_timer_start(loop, &s->ping_timer);
        return;
    }
    {
        int was_up = s->bo[CONN_SUB].up_since != 0;
        uint32_t delay = schedule_retry(s, CONN_SUB);

        if (was_up || !s->bo[CONN_SUB].logged) {
            log_notice(SFMT ": subscribed connection down (%s); retry in %u ms", SARG(s), reason,
                       delay);
            s->bo[CONN_SUB].logged = 1;
        } else {
            log_debug(SFMT ": subscribed connection: %s; retry in %u ms", SARG(s), reason, delay);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* sentinel objects and the list                                            */
/* ------------------------------------------------------------------------ */

static struct sentinel *
sentinel_new(struct ctl_sentinels *S, const struct ctl_addr *addr, int configured)
{
    struct sentinel *s = calloc(1, sizeof(*s));
    uint32_t n = S->n_groups ? S->n_groups : 1;

    if (s == NULL || (s->g = calloc(n, sizeof(*s->g))) == NULL) {
        free(s);
        return NULL;
    }
    s->owner = S;
    s->addr = *addr;
    s->configured = configured;
    s->rep_reachable = -1;
    s->rep_tilt = -1;
    snprintf(s->token, sizeof(s->token), "__marshal_ping_%ld_%" PRIu64, (long)getpid(),
             ++S->serial);
    s->cmd = ctl_conn_new(S->loop, addr, &S->cred, CLIENT_NAME, S->connect_timeout_ms,
                          S->timeout_ms, on_cmd_state, s);
    s->sub = ctl_conn_new(S->loop, addr, &S->cred, CLIENT_NAME, S->connect_timeout_ms,
                          S->timeout_ms, on_sub_state, s);
    if (s->cmd == NULL || s->sub == NULL) {
        ctl_conn_free(s->cmd);
        ctl_conn_free(s->sub);
        free(s->g);
        free(s);
        return NULL;
    }
    ev_init(&s->bo[CONN_CMD].timer, on_retry_cmd);
    s->bo[CONN_CMD].timer.data = s;
    ev_init(&s->bo[CONN_SUB].timer, on_retry_sub);
    s->bo[CONN_SUB].timer.data = s;
    ev_init(&s->ping_timer, on_ping_timer);
    s->ping_timer.data = s;
    ev_init(&s->pong_timer, on_pong_timer);
    s->pong_timer.data = s;
    return s;
}

static void
on_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ctl_sentinels *S = w->data;

    (void)loop;
    (void)revents;
    while (S->zombies != NULL) {
        struct sentinel *z = S->zombies;

        S->zombies = z->next_zombie;
        ctl_conn_free(z->cmd);
        ctl_conn_free(z->sub);
        free(z->g);
        free(z);
    }
}

/* Take s out of service: no more reports, connections closed now, freed
 * from the reaper (never inside one of its own callbacks). */
static void
sentinel_retire(struct sentinel *s)
{
    struct ctl_sentinels *S = s->owner;

    s->dead = 1;
    ev_timer_stop(S->loop, &s->bo[CONN_CMD].timer);
    ev_timer_stop(S->loop, &s->bo[CONN_SUB].timer);
    ev_timer_stop(S->loop, &s->ping_timer);
    ev_timer_stop(S->loop, &s->pong_timer);
    ctl_conn_close(s->cmd, "sentinel removed");
    ctl_conn_close(s->sub, "sentinel removed");
    s->next_zombie = S->zombies;
    S->zombies = s;
    if (!ev_is_active(&S->reap_timer)) {
        ev_timer_set(&S->reap_timer, 0.0, 0.0);
        ev_timer_start(S->loop, &S->reap_timer);
    }
}

static struct sentinel *
slot_add(struct ctl_sentinels *S, const struct ctl_addr *addr, int configured)
{
    struct sentinel *s;

    if (S->n == S->cap) {
        uint32_t cap = S->cap ? S->cap * 2 : 8;
        struct sentinel **ns = realloc(S->s, cap * sizeof(*ns));

        if (ns == NULL) {
            return NULL;
        }
        S->s = ns;
        S->cap = cap;
    }
    s = sentinel_new(S, addr, configured);
    if (s == NULL) {
        log_warn("sentinel %s:%u: cannot set up (out of memory)", addr->host,
                 (unsigned)addr->port);
        return NULL;
    }
    s->si = S->n;
    S->s[S->n++] = s;
    report_count(S);
    conn_start(s, CONN_CMD);
    conn_start(s, CONN_SUB);
    return s;
}

/* Drop sentinel si; the last one takes its number (see the file comment). */
static void
slot_remove(struct ctl_sentinels *S, uint32_t si)
{
    struct sentinel *s = S->s[si], *t;
    uint32_t last = S->n - 1;

    report_gone(s);
    sentinel_retire(s);
    if (si != last) {
        t = S->s[last];
        report_gone(t);           /* forget everything under its old number */
        t->si = si;
        S->s[si] = t;
        t->rep_reachable = -1;
        t->rep_tilt = -1;
        log_notice(SFMT ": renumbered (was #%u)", SARG(t), (unsigned)last);
    }
    S->n--;
    report_count(S);
    if (si != last) {
        t = S->s[si];
        if (ctl_conn_state(t->cmd) == CTL_CONN_UP) {
            report_state(t);
            poll_all(t);
        } else if (t->bo[CONN_CMD].logged) {
            report_state(t);      /* known unreachable */
        }
    }
}

/* Replace s by a fresh object in the same slot (new credentials/timeouts),
 * carrying over what the model was told. */
static void
slot_renew(struct ctl_sentinels *S, uint32_t si)
{
    struct sentinel *old = S->s[si], *s;
    uint32_t gi;

    s = sentinel_new(S, &old->addr, old->configured);
    if (s == NULL) {
        log_warn(SFMT ": cannot apply new settings (out of memory)", SARG(old));
        return;
    }
    s->si = si;
    memcpy(s->runid, old->runid, sizeof(s->runid));
    s->rep_reachable = old->rep_reachable;
    s->rep_tilt = old->rep_tilt;
    s->tilt = old->tilt;
    for (gi = 0; gi < S->n_groups; gi++) {
        s->g[gi].have_view = old->g[gi].have_view;
    }
    sentinel_retire(old);
    S->s[si] = s;
    conn_start(s, CONN_CMD);
    conn_start(s, CONN_SUB);
}

/* ------------------------------------------------------------------------ */
/* configuration                                                            */
/* ------------------------------------------------------------------------ */

static int
str_eq_null(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
cred_free(struct ctl_cred *c)
{
    free(c->username);
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    c->username = c->password = NULL;
}

static int
cred_copy(struct ctl_cred *dst, const struct ctl_cred *src)
{
    dst->username = dst->password = NULL;
    if ((src->username != NULL && (dst->username = strdup(src->username)) == NULL) ||
        (src->password != NULL && (dst->password = strdup(src->password)) == NULL)) {
        cred_free(dst);
        return -1;
    }
    return 0;
}

/* Rebuild the group list from cfg, carrying per-sentinel state by name.
 * All or nothing: 0, or -1 (out of memory, nothing changed). */
static int
set_groups(struct ctl_sentinels *S, const struct ctl_config *cfg)
{
    char (*groups)[CTL_NAME_MAX];
    uint8_t *dirty;
    struct sgroup **ng;
    uint32_t i, n = 0, k;
    int old;

    for (i = 0; i < cfg->n_groups; i++) {
        n += cfg->groups[i].sentinel != 0;
    }
    groups = calloc(n ? n : 1, sizeof(*groups));
    dirty = calloc(n ? n : 1, 1);
    ng = calloc(S->n ? S->n : 1, sizeof(*ng));
    if (groups == NULL || dirty == NULL || ng == NULL) {
        goto out_free;
    }
    for (i = 0; i < S->n; i++) {
        if ((ng[i] = calloc(n ? n : 1, sizeof(**ng))) == NULL) {
            goto out_free;
        }
    }
    for (i = 0, k = 0; i < cfg->n_groups; i++) {
        if (cfg->groups[i].sentinel) {
            snprintf(groups[k++], CTL_NAME_MAX, "%s", cfg->groups[i].name);
        }
    }
    /* commit: per-sentinel state follows the group by name */
    for (i = 0; i < S->n; i++) {
        struct sentinel *s = S->s[i];

        for (k = 0; k < n; k++) {
            if ((old = find_group(S, groups[k])) >= 0) {
                ng[i][k] = s->g[old];
                s->g[old].have_view = -1;       /* carried over */
            }
        }
        for (k = 0; k < S->n_groups; k++) {
            if (s->g[k].have_view == 1) {
                report_view(s, k, NULL);        /* a group that went away */
            }
        }
        free(s->g);
        s->g = ng[i];
    }
    free(ng);
    free(S->groups);
    free(S->dirty);
    S->groups = groups;
    S->dirty = dirty;
    S->n_groups = n;
    S->ggen++;
    return 0;

out_free:
    for (i = 0; ng != NULL && i < S->n; i++) {
        free(ng[i]);
    }
    free(ng);
    free(groups);
    free(dirty);
    return -1;
}

static void
set_params(struct ctl_sentinels *S, const struct ctl_config *cfg)
{
    S->connect_timeout_ms = cfg->sentinel_connect_timeout_ms ? cfg->sentinel_connect_timeout_ms
                                                             : 500;
    S->timeout_ms = cfg->sentinel_timeout_ms ? cfg->sentinel_timeout_ms : 1000;
    S->poll_ms = cfg->sentinel_poll_ms ? cfg->sentinel_poll_ms : 1000;
    S->ping_ms = cfg->sentinel_ping_ms ? cfg->sentinel_ping_ms : 1000;
}

static void
start_poll_timer(struct ctl_sentinels *S)
{
    ev_timer_stop(S->loop, &S->poll_timer);
    ev_timer_set(&S->poll_timer, (double)S->poll_ms / 1000.0, (double)S->poll_ms / 1000.0);
    ev_timer_start(S->loop, &S->poll_timer);
}

struct ctl_sentinels *
ctl_sentinels_new(struct ev_loop *loop, const struct ctl_config *cfg, struct ctl_model *m)
{
    struct ctl_sentinels *S = calloc(1, sizeof(*S));
    uint32_t i;

    if (S == NULL) {
        return NULL;
    }
    S->loop = loop;
    S->m = m;
    S->rng = (ctl_now_ns() ^ ((uint64_t)getpid() << 32)) | 1;
    ev_init(&S->poll_timer, on_poll_timer);
    S->poll_timer.data = S;
    ev_init(&S->repoll_timer, on_repoll_timer);
    S->repoll_timer.data = S;
    ev_init(&S->reap_timer, on_reap);
    S->reap_timer.data = S;
    set_params(S, cfg);
    if (cred_copy(&S->cred, &cfg->sentinel_cred) != 0 || set_groups(S, cfg) != 0) {
        goto out_free;
    }
    for (i = 0; i < cfg->n_sentinels; i++) {
        if (find_by_addr(S, &cfg->sentinels[i]) != NULL) {
            continue;
        }
        if (S->n >= SENTINELS_MAX || slot_add(S, &cfg->sentinels[i], 1) == NULL) {
            log_warn("sentinel %s:%u: not added", cfg->sentinels[i].host,
                     (unsigned)cfg->sentinels[i].port);
        }
    }
    report_count(S);
    start_poll_timer(S);
    return S;

out_free:
    ctl_sentinels_free(S);
    return NULL;
}

void
ctl_sentinels_free(struct ctl_sentinels *S)
{
    uint32_t i;

    if (S == NULL) {
        return;
    }
    S->freeing = 1;
    ev_timer_stop(S->loop, &S->poll_timer);
    ev_timer_stop(S->loop, &S->repoll_timer);
    for (i = 0; i < S->n; i++) {
        sentinel_retire(S->s[i]);
    }
    S->n = 0;
    ev_timer_stop(S->loop, &S->reap_timer);
    on_reap(S->loop, &S->reap_timer, 0);
    free(S->s);
    free(S->groups);
    free(S->dirty);
    cred_free(&S->cred);
    free(S);
}

void
ctl_sentinels_reconfigure(struct ctl_sentinels *S, const struct ctl_config *cfg)
{
    int renew = 0;
    uint32_t i, j;
    uint32_t old_poll = S->poll_ms;

    if (!str_eq_null(S->cred.username, cfg->sentinel_cred.username) ||
        !str_eq_null(S->cred.password, cfg->sentinel_cred.password) ||
        S->connect_timeout_ms != (cfg->sentinel_connect_timeout_ms ?
                                  cfg->sentinel_connect_timeout_ms : 500) ||
        S->timeout_ms != (cfg->sentinel_timeout_ms ? cfg->sentinel_timeout_ms : 1000)) {
        struct ctl_cred c;

        if (cred_copy(&c, &cfg->sentinel_cred) == 0) {
            cred_free(&S->cred);
            S->cred = c;
            renew = 1;
        } else {
            log_warn("sentinels: out of memory applying new credentials; keeping the old ones");
        }
    }
    set_params(S, cfg);
    if (set_groups(S, cfg) != 0) {
        log_warn("sentinels: out of memory applying the new group list; keeping the old one");
    }
    /* configured sentinels no longer listed go; from the end (swap-remove) */
    for (i = S->n; i-- > 0;) {
        struct sentinel *s = S->s[i];
        int listed = 0;

        for (j = 0; j < cfg->n_sentinels && !listed; j++) {
            listed = addr_eq(&s->addr, &cfg->sentinels[j]);
        }
        if (s->configured && !listed) {
            log_notice(SFMT ": removed from the configuration", SARG(s));
            slot_remove(S, i);
        } else if (listed) {
            s->configured = 1;
        }
    }
    if (renew) {
        for (i = 0; i < S->n; i++) {
            slot_renew(S, i);
        }
    }
    for (j = 0; j < cfg->n_sentinels; j++) {
        if (find_by_addr(S, &cfg->sentinels[j]) == NULL) {
            if (S->n >= SENTINELS_MAX || slot_add(S, &cfg->sentinels[j], 1) == NULL) {
                log_warn("sentinel %s:%u: not added", cfg->sentinels[j].host,
                         (unsigned)cfg->sentinels[j].port);
            }
        }
    }
    report_count(S);
    if (old_poll != S->poll_ms) {
        start_poll_timer(S);
    }
    for (i = 0; i < S->n; i++) {
        struct sentinel *s = S->s[i];

        if (ev_is_active(&s->ping_timer) &&
            s->ping_timer.repeat != (double)S->ping_ms / 1000.0) {
            s->ping_timer.repeat = (double)S->ping_ms / 1000.0;
            ev_timer_again(S->loop, &s->ping_timer);
        }
    }
    ctl_sentinels_poll_now(S);
}

void
ctl_sentinels_poll_now(struct ctl_sentinels *S)
{
    uint32_t i;

    for (i = 0; i < S->n; i++) {
        poll_all(S->s[i]);
    }
}

uint32_t
ctl_sentinels_stats(const struct ctl_sentinels *S, struct ctl_metrics_sentinel *out,
                    uint32_t max)
{
    uint32_t i, n = 0;

    for (i = 0; i < S->n && n < max; i++) {
        const struct sentinel *s = S->s[i];

        if (s == NULL || s->dead) {
            continue;
        }
        snprintf(out[n].addr, sizeof(out[n].addr), "%s:%u", s->addr.host,
                 (unsigned)s->addr.port);
        out[n].up = ctl_conn_state(s->cmd) == CTL_CONN_UP;
        out[n].tilt = out[n].up && s->tilt;
        out[n].last_poll_ms = s->last_poll_ms;
        n++;
    }
    return n;
}
