/*
 * demo_writer.c -- marshal-demo-writer: a small, real segment writer that
 * stands in for marshal-controller until it exists (demos, integration tests
 * of marshal-shmdump and of the client library).
 *
 * Health mode (default): every --interval-ms it checks each configured
 * redis-server with PING, ROLE and INFO replication (replica link state
 * from the replica, replica lag from the master's view) over
 * synchronous hiredis connections (200 ms connect/command timeouts), decides
 * health with thresholds of 2 consecutive results, and publishes groups,
 * servers and transition events.  There is no Sentinel here: the master is the
 * one server that is up and says ROLE=master, and a group without exactly one
 * such server has no master (MSHM_GF_NO_MASTER).
 *
 * Static mode (--static): publishes the topology given on the command line
 * (first server of each group is the master, the others readable replicas),
 * optionally flips a replica's health (--churn), then heartbeats until killed.
 *
 * The writer heartbeats every 100 ms and exits cleanly (WRITER_STOPPED) on
 * SIGTERM/SIGINT.  Each event is also logged on stderr in Sentinel's words.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "mshm_attach.h"
#include "mshm_read.h"
#include "mshm_write.h"

#define PROG            "marshal-demo-writer"
#define DEFAULT_SEGMENT "/dev/shm/marshal.main"
#define MAX_GROUPS      32
#define MAX_SERVERS     256
#define MAX_CLUSTERS    32
#define HB_MS           100    /* heartbeat period                         */
#define IO_TIMEOUT_MS   200    /* connect and command timeouts             */
#define THRESHOLD       2      /* consecutive results to change health     */
#define SOFT_REFRESH_MS 5000   /* republish rtt/lag/last_ok at most this often */
#define LONG_HOST_LEN   200

/* A configured redis-server and what we know about it. */
struct server {
    char host[MSHM_HOST_MAX];
    uint16_t port;
    uint32_t gi;               /* owning group (index into groups[])         */
    redisContext *ctx;         /* health mode: kept open between checks      */
    /* last check */
    int ok_streak, fail_streak;
    uint8_t role;              /* last role seen (kept while down)           */
    int link_up, syncing, loading;
    char master_host[MSHM_HOST_MAX]; /* replica: the master it follows     */
    int master_port;
    uint32_t lag_ms, rtt_us;
    uint64_t offset, last_ok_ns;
    /* published */
    uint8_t health;
    uint32_t flags, n_down, n_up;
    uint32_t longname;         /* long-name record, or MSHM_NONE             */
};

/* A group: a replica set. */
struct group {
    char name[MSHM_NAME_MAX];
    uint32_t srv[MSHM_GROUP_SERVERS]; /* indices into servers[]              */
    uint32_t n;
    uint32_t master, last_master;     /* indices into servers[] or MSHM_NONE */
    uint64_t epoch;
    int all_down;                     /* no replica readable: -1 unknown, 0, 1 */
    uint32_t n_master_down, n_master_up, n_master_switch;
    uint32_t n_all_slaves_down, n_all_slaves_up;
};

/* A cluster (members are groups) or a farm (members are clusters). */
struct cluster {
    char name[MSHM_NAME_MAX];
    uint8_t kind, rule, dist, hash;
    uint32_t member[MSHM_CLUSTER_MEMBERS];
    uint16_t power[MSHM_CLUSTER_MEMBERS];
    uint16_t mflags[MSHM_CLUSTER_MEMBERS];
    uint32_t n;
};

static struct group groups[MAX_GROUPS];
static struct server servers[MAX_SERVERS];
static struct cluster clusters[MAX_CLUSTERS];
static uint32_t n_groups, n_servers, n_clusters, n_longnames;
static uint8_t route = MSHM_ROUTE_MASTER;
static uint32_t max_lag_ms = 10000;
static struct mshm_writer *wr;
static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void
die_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see --help)\n");
    exit(2);
}

/* Log a line on stderr; bytes that are not printable ASCII appear as \xNN. */
static void
logmsg(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    size_t i;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fputs(PROG ": ", stderr);
    for (i = 0; line[i] != '\0'; i++) {
        unsigned char c = (unsigned char)line[i];

        if (c >= 0x20 && c < 0x7f) {
            fputc(c, stderr);
        } else {
            fprintf(stderr, "\\x%02x", c);
        }
    }
    fputc('\n', stderr);
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);    /* EINTR: the caller re-checks stop_flag */
}

/* ---- events ---------------------------------------------------------------- */

static const char *
addr(uint32_t si, char *buf, size_t len)
{
    if (si == MSHM_NONE) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%s:%u", servers[si].host, (unsigned)servers[si].port);
    }
    return buf;
}

/*
 * Queue an event (indices are ours; in this program they equal the segment's
 * record indices) and log it.
 */
static void
emit(uint16_t type, uint32_t gi, uint32_t si, uint32_t old_si, uint32_t new_si,
     uint64_t epoch)
{
    struct mshm_event ev;
    char a[300], b[300];
    const char *g = gi == MSHM_NONE ? "-" : groups[gi].name;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.group_idx = gi;
    ev.server_idx = si;
    ev.old_idx = old_si;
    ev.new_idx = new_si;
    ev.cluster_idx = MSHM_NONE;
    ev.epoch = epoch;
    if (mshm_w_emit(wr, &ev) != MSHM_OK) {
        logmsg("event queue full: event dropped");
    }
    switch (type) {
    case MSHM_EV_MASTER_DOWN:
        logmsg("+sdown master %s %s", g, addr(si, a, sizeof(a)));
        break;
    case MSHM_EV_MASTER_UP:
        logmsg("-sdown master %s %s", g, addr(si, a, sizeof(a)));
        break;
    case MSHM_EV_MASTER_SWITCH:
        logmsg("+switch-master %s %s %s", g, addr(old_si, a, sizeof(a)),
               addr(new_si, b, sizeof(b)));
        break;
    case MSHM_EV_SLAVE_DOWN:
        logmsg("+sdown slave %s @ %s", addr(si, a, sizeof(a)), g);
        break;
    case MSHM_EV_SLAVE_UP:
        logmsg("-sdown slave %s @ %s", addr(si, a, sizeof(a)), g);
        break;
    case MSHM_EV_ALL_SLAVES_DOWN:
        logmsg("+all-slaves-down %s", g);
        break;
    case MSHM_EV_ALL_SLAVES_UP:
        logmsg("-all-slaves-down %s", g);
        break;
    case MSHM_EV_READS_UNAVAILABLE:
        logmsg("+reads-unavailable %s", g);
        break;
    case MSHM_EV_READS_AVAILABLE:
        logmsg("-reads-unavailable %s", g);
        break;
    case MSHM_EV_WRITER_ADOPT:
        logmsg("+writer-adopt epoch %" PRIu64, epoch);
        break;
    default:
        logmsg("+event %u", (unsigned)type);
        break;
    }
}

/* ---- the model --------------------------------------------------------------- */

/* Apply a new health verdict to server si: counters and server events. */
static void
set_health(uint32_t si, uint8_t health)
{
    struct server *s = &servers[si];
    struct group *g = &groups[s->gi];
    int is_master = g->master == si;

    if (health == s->health) {
        return;
    }
    if (health == MSHM_HEALTH_DOWN && s->health == MSHM_HEALTH_UP) {
        s->n_down++;
    }
    if (health == MSHM_HEALTH_UP) {
        s->n_up++;
    }
    s->health = health;
    /* the group's master going down/up is a group-level event (evaluate) */
    if (!is_master && s->role != MSHM_ROLE_MASTER) {
        emit(health == MSHM_HEALTH_UP ? MSHM_EV_SLAVE_UP : MSHM_EV_SLAVE_DOWN, s->gi, si,
             MSHM_NONE, MSHM_NONE, 0);
    }
}

/* Is replica s following the server m (or anyone, when m is NONE)? */
static int
follows(const struct server *s, uint32_t m)
{
    if (m == MSHM_NONE) {
        return 1;
    }
    return s->master_port == servers[m].port && strcmp(s->master_host, servers[m].host) == 0;
}

/* Decide the group's master, server flags and group-level events. */
static void
evaluate(uint32_t gi)
{
    struct group *g = &groups[gi];
    uint32_t i, cand = MSHM_NONE, ncand = 0, nrep = 0, nread = 0, known = 0;
    uint32_t old = g->master;
    int state;

    for (i = 0; i < g->n; i++) {
        struct server *s = &servers[g->srv[i]];

        known += s->health != MSHM_HEALTH_UNKNOWN;
        if (s->health == MSHM_HEALTH_UP && s->role == MSHM_ROLE_MASTER) {
            cand = g->srv[i];
            ncand++;
        }
    }
    if (ncand != 1) {
        cand = MSHM_NONE;
    }
    if (cand != old) {
        if (cand == MSHM_NONE) {
            g->n_master_down++;
            emit(MSHM_EV_MASTER_DOWN, gi, old, MSHM_NONE, MSHM_NONE, g->epoch);
        } else if (old == MSHM_NONE) {
            if (g->last_master != MSHM_NONE && g->last_master != cand) {
                g->epoch++;
                g->n_master_switch++;
                emit(MSHM_EV_MASTER_SWITCH, gi, cand, g->last_master, cand, g->epoch);
            }
            g->n_master_up++;
            emit(MSHM_EV_MASTER_UP, gi, cand, MSHM_NONE, MSHM_NONE, g->epoch);
        } else {
            g->epoch++;
            g->n_master_switch++;
            emit(MSHM_EV_MASTER_SWITCH, gi, cand, old, cand, g->epoch);
        }
        g->master = cand;
        if (cand != MSHM_NONE) {
            g->last_master = cand;
        }
    }

    for (i = 0; i < g->n; i++) {
        uint32_t si = g->srv[i];
        struct server *s = &servers[si];
        uint32_t f = MSHM_SF_IN_USE | (s->longname != MSHM_NONE ? MSHM_SF_HOST_LONG : 0);
        int up = s->health == MSHM_HEALTH_UP;

        if (up && s->loading) {
            f |= MSHM_SF_LOADING;
        }
        if (s->role == MSHM_ROLE_MASTER && up && si != g->master) {
            f |= MSHM_SF_STALE_MASTER;
        }
        if (si != g->master && s->role != MSHM_ROLE_MASTER) {
            nrep++;
            if (up && s->role == MSHM_ROLE_REPLICA) {
                if (!s->link_up) {
                    f |= MSHM_SF_LINK_DOWN;
                }
                if (s->syncing) {
                    f |= MSHM_SF_SYNCING;
                }
                if (s->lag_ms > max_lag_ms) {
                    f |= MSHM_SF_LAGGING;
                }
                if (s->link_up && !s->syncing && !s->loading && s->lag_ms <= max_lag_ms &&
                    follows(s, g->master)) {
                    f |= MSHM_SF_READABLE;
                    nread++;
                }
            }
        }
        s->flags = f;
    }

    /* readability (layout 1.2): no replica readable is readsUnavailable, not
     * allSlavesDown (that one means every replica down); the first state
     * is the baseline, so no "unavailable" comes before an "available" */
    state = nrep > 0 && nread == 0;
    if (g->all_down < 0) {
        if (known == g->n) {
            g->all_down = state;
        }
    } else if (state != g->all_down) {
        emit(state ? MSHM_EV_READS_UNAVAILABLE : MSHM_EV_READS_AVAILABLE, gi, MSHM_NONE,
             MSHM_NONE, MSHM_NONE, 0);
        g->all_down = state;
    }
}

/* Stage every record; soft: also refresh rtt/lag/offset/last_ok. */
static void
stage_all(int soft)
{
    uint32_t gi, si, ci, i;

    for (si = 0; si < n_servers; si++) {
        struct server *s = &servers[si];
        const struct mshm_server *cur = mshm_w_server(wr, si);
        struct mshm_server rec;

        memset(&rec, 0, sizeof(rec));
        if (s->longname == MSHM_NONE) {
            memcpy(rec.host, s->host, strlen(s->host));
        } else {
            rec.longname_idx = s->longname;
        }
        rec.group_idx = s->gi;
        rec.flags = s->flags;
        rec.power = 1;
        rec.n_down = s->n_down;
        rec.n_up = s->n_up;
        rec.port = s->port;
        rec.role = s->role;
        rec.health = s->health;
        if (soft || cur == NULL) {
            rec.lag_ms = s->lag_ms;
            rec.rtt_us = s->rtt_us;
            rec.repl_offset = s->offset;
            rec.last_ok_mono_ns = s->last_ok_ns;
        } else {
            rec.lag_ms = cur->lag_ms;
            rec.rtt_us = cur->rtt_us;
            rec.repl_offset = cur->repl_offset;
            rec.last_ok_mono_ns = cur->last_ok_mono_ns;
        }
        mshm_w_put_server(wr, si, &rec);
    }
    for (gi = 0; gi < n_groups; gi++) {
        struct group *g = &groups[gi];
        struct mshm_group rec;

        memset(&rec, 0, sizeof(rec));
        memcpy(rec.name, g->name, strlen(g->name));
        rec.master_epoch = g->epoch;
        rec.flags = MSHM_GF_IN_USE | (g->master == MSHM_NONE ? MSHM_GF_NO_MASTER : 0) |
                    (g->all_down == 1 ? MSHM_GF_NO_READS : 0);
        rec.master_idx = g->master;
        rec.power = 1;
        rec.max_lag_ms = max_lag_ms;
        rec.n_servers = (uint16_t)g->n;
        rec.route = route;
        rec.n_master_down = g->n_master_down;
        rec.n_master_up = g->n_master_up;
        rec.n_master_switch = g->n_master_switch;
        rec.n_all_slaves_down = g->n_all_slaves_down;
        rec.n_all_slaves_up = g->n_all_slaves_up;
        for (i = 0; i < g->n; i++) {
            rec.servers[i] = g->srv[i];
        }
        mshm_w_put_group(wr, gi, &rec);
    }
    for (ci = 0; ci < n_clusters; ci++) {
        struct cluster *c = &clusters[ci];
        struct mshm_cluster rec;

        memset(&rec, 0, sizeof(rec));
        memcpy(rec.name, c->name, strlen(c->name));
        rec.flags = MSHM_CF_IN_USE;
        rec.kind = c->kind;
        rec.rule = c->rule;
        rec.dist = c->dist;
        rec.hash = c->hash;
        rec.mirror_policy = MSHM_MIRROR_ALL;
        rec.primary = MSHM_NONE;
        if (c->kind == MSHM_KIND_CLUSTER && c->rule == MSHM_RULE_MARSHAL0) {
            rec.flags |= MSHM_CF_HASH_TAG;
            rec.hash_tag[0] = '{';
            rec.hash_tag[1] = '}';
        }
        rec.n_members = (uint16_t)c->n;
        for (i = 0; i < c->n; i++) {
            rec.members[i].idx = c->member[i];
            rec.members[i].power = c->power[i];
            rec.members[i].flags = c->mflags[i];
        }
        if (c->rule != MSHM_RULE_MARSHAL0 && c->n > 0) {
            rec.primary = 0;
            rec.members[0].flags |= MSHM_MF_PRIMARY;
        }
        mshm_w_put_cluster(wr, ci, &rec);
    }
}

/* Remove records an adopted segment holds beyond our topology. */
static void
drop_foreign(void)
{
    const struct mshm_geo *geo = mshm_w_geo(wr);
    uint32_t i;

    for (i = n_groups; i < geo->group_cap; i++) {
        if (mshm_w_group(wr, i)->flags & MSHM_GF_IN_USE) {
            mshm_w_del_group(wr, i);
        }
    }
    for (i = n_servers; i < geo->server_cap; i++) {
        if (mshm_w_server(wr, i)->flags & MSHM_SF_IN_USE) {
            mshm_w_del_server(wr, i);
        }
    }
    for (i = n_clusters; i < geo->cluster_cap; i++) {
        if (mshm_w_cluster(wr, i)->flags & MSHM_CF_IN_USE) {
            mshm_w_del_cluster(wr, i);
        }
    }
}

/* ---- health checks ------------------------------------------------------------ */

static void
drop_conn(struct server *s)
{
    if (s->ctx != NULL) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
}

/* "key:value" line of an INFO reply; 1 and *out on success. */
static int
info_field(const char *info, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    const char *p = info;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
            size_t n = strcspn(p + kl + 1, "\r\n");

            if (n >= len) {
                n = len - 1;
            }
            memcpy(out, p + kl + 1, n);
            out[n] = '\0';
            return 1;
        }
        p = strchr(p, '\n');
        if (p != NULL) {
            p++;
        }
    }
    return 0;
}

/*
 * A master's INFO replication lists its replicas as
 * "slaveN:ip=...,port=...,state=online,offset=...,lag=S"; lag is the seconds
 * since the replica's last REPLCONF ACK (sent every second).  Copy it to the
 * replicas of m's group that it lists.
 */
static void
master_lags(const struct server *m, const char *info)
{
    const struct group *g = &groups[m->gi];
    const char *p = info;
    uint32_t i;

    while (p != NULL && *p != '\0') {
        char ip[MSHM_HOST_MAX];
        int port = -1;
        long lag = -1;
        const char *q, *eol = p + strcspn(p, "\r\n");

        if (strncmp(p, "slave", 5) == 0 && (q = strstr(p, ":ip=")) != NULL && q < eol) {
            size_t n = strcspn(q + 4, ",\r\n");

            if (n < sizeof(ip)) {
                memcpy(ip, q + 4, n);
                ip[n] = '\0';
                q = strstr(q, ",port=");
                if (q != NULL && q < eol) {
                    port = atoi(q + 6);
                }
                q = strstr(p, ",lag=");
                if (q != NULL && q < eol) {
                    lag = strtol(q + 5, NULL, 10);
                }
                for (i = 0; i < g->n && lag >= 0 && lag < 4000000; i++) {
                    struct server *s = &servers[g->srv[i]];

                    if (s != m && s->port == port && strcmp(s->host, ip) == 0) {
                        s->lag_ms = (uint32_t)lag * 1000u;
                    }
                }
            }
        }
        p = strchr(p, '\n');
        if (p != NULL) {
            p++;
        }
    }
}

/* One check of s: PING, ROLE, INFO replication.  0 ok, -1 failed. */
static int
check_server(struct server *s)
{
    struct timeval tv = {0, IO_TIMEOUT_MS * 1000};
    redisReply *r;
    uint64_t t0;
    char v[64];

    if (s->ctx != NULL && s->ctx->err) {
        drop_conn(s);
    }
    if (s->ctx == NULL) {
        s->ctx = redisConnectWithTimeout(s->host, s->port, tv);
        if (s->ctx == NULL || s->ctx->err) {
            drop_conn(s);
            return -1;
        }
        redisSetTimeout(s->ctx, tv);
    }
    s->loading = 0;
    t0 = mshm_now_ns();
    r = redisCommand(s->ctx, "PING");
    if (r == NULL) {
        drop_conn(s);
        return -1;
    }
    s->rtt_us = (uint32_t)((mshm_now_ns() - t0) / 1000);
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "LOADING", 7) == 0) {
        s->loading = 1;          /* up, but not serving: not readable */
    } else if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);

    r = redisCommand(s->ctx, "ROLE");
    if (r == NULL) {
        drop_conn(s);
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        const char *role = r->element[0]->str;

        if (strcmp(role, "master") == 0) {
            s->role = MSHM_ROLE_MASTER;
            if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_INTEGER) {
                s->offset = (uint64_t)r->element[1]->integer;
            }
            s->link_up = 1;
            s->syncing = 0;
            s->lag_ms = 0;
        } else if (strcmp(role, "slave") == 0) {
            s->role = MSHM_ROLE_REPLICA;
            if (r->elements >= 3 && r->element[1]->type == REDIS_REPLY_STRING &&
                r->element[2]->type == REDIS_REPLY_INTEGER) {
                snprintf(s->master_host, sizeof(s->master_host), "%s", r->element[1]->str);
                s->master_port = (int)r->element[2]->integer;
            }
        } else {
            s->role = MSHM_ROLE_UNKNOWN;
        }
    } else if (!s->loading) {
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);

    if (s->role == MSHM_ROLE_MASTER) {
        r = redisCommand(s->ctx, "INFO replication");
        if (r == NULL) {
            drop_conn(s);
            return -1;
        }
        if (r->type == REDIS_REPLY_STRING) {
            master_lags(s, r->str);
        }
        freeReplyObject(r);
    }
    if (s->role == MSHM_ROLE_REPLICA) {
        r = redisCommand(s->ctx, "INFO replication");
        if (r == NULL) {
            drop_conn(s);
            return -1;
        }
        if (r->type == REDIS_REPLY_STRING) {
            s->link_up = info_field(r->str, "master_link_status", v, sizeof(v)) &&
                         strcmp(v, "up") == 0;
            s->syncing = info_field(r->str, "master_sync_in_progress", v, sizeof(v)) &&
                         strcmp(v, "1") == 0;
            if (info_field(r->str, "slave_repl_offset", v, sizeof(v))) {
                s->offset = strtoull(v, NULL, 10);
            }
            /* lag_ms comes from the master's view (master_lags) */
        } else {
            s->link_up = 0;
        }
        freeReplyObject(r);
    }
    s->last_ok_ns = mshm_now_ns();
    return 0;
}

/* Check every server and move health verdicts by the thresholds. */
static void
check_all(void)
{
    uint32_t si;

    for (si = 0; si < n_servers && !stop_flag; si++) {
        struct server *s = &servers[si];

        if (check_server(s) == 0) {
            s->ok_streak++;
            s->fail_streak = 0;
            if (s->ok_streak >= THRESHOLD) {
                set_health(si, MSHM_HEALTH_UP);
            }
        } else {
            s->fail_streak++;
            s->ok_streak = 0;
            if (s->fail_streak >= THRESHOLD) {
                set_health(si, MSHM_HEALTH_DOWN);
            }
        }
    }
}

/* ---- command line --------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f,
"usage: " PROG " [--path P] --group NAME --server HOST:PORT... [options]\n"
"       " PROG " --static [--path P] --group NAME --server HOST:PORT... [options]\n"
"\n"
"A stand-in for marshal-controller: writes a Marshal segment.\n"
"\n"
"Topology (repeatable; each --server belongs to the latest --group):\n"
"  --group NAME              a replica set (name < 64 bytes)\n"
"  --server HOST:PORT        a redis-server of the latest group\n"
"  --cluster NAME:RULE:G1,G2[:DIST[:HASH]]\n"
"                            a cluster of groups; RULE marshal0|marshal1,\n"
"                            DIST ketama|modula|slots, HASH fnv1a_64|md5|crc16|...\n"
"  --farm NAME:C1,C2         a farm (rule marshal10) of clusters\n"
"                            members may be written MEMBER=POWER and MEMBER! (diverged)\n"
"\n"
"Modes:\n"
"  (default)                 health mode: every --interval-ms, PING + ROLE + INFO\n"
"                            replication on each server (200 ms timeouts);\n"
"                            health changes after 2 consecutive results\n"
"  --static                  publish the topology as given (first server of a group\n"
"                            is its master, the others readable replicas)\n"
"  --long-host               --static: add a replica with a 200-byte host name\n"
"                            (\"a\" x 192 + \".invalid\", port 6399) to the first group\n"
"  --churn N                 --static: flip the first replica of the first group\n"
"                            N times (down, up, down, ...) 50 ms apart\n"
"  --churn-delay-ms MS       wait MS before churning (default 200)\n"
"\n"
"Options:\n"
"  --path P                  segment file (default $MARSHAL_SEGMENT, else\n"
"                            " DEFAULT_SEGMENT ")\n"
"  --interval-ms MS          health check interval (default 100)\n"
"  --route master|readonly|split  routing rule of every group (default master)\n"
"  --max-lag-ms MS           replicas lagging more are not readable (default 10000)\n"
"  --mode OCTAL              segment file mode (default 0640)\n"
"  --replace                 always create a new segment (never adopt)\n"
"  -h, --help                this text\n"
"\n"
"Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime error, 2 on a usage error.\n");
}

static uint32_t
find_group(const char *name)
{
    uint32_t i;

    for (i = 0; i < n_groups; i++) {
        if (strcmp(groups[i].name, name) == 0) {
            return i;
        }
    }
    return MSHM_NONE;
}

static uint32_t
find_cluster(const char *name)
{
    uint32_t i;

    for (i = 0; i < n_clusters; i++) {
        if (strcmp(clusters[i].name, name) == 0 && clusters[i].kind == MSHM_KIND_CLUSTER) {
            return i;
        }
    }
    return MSHM_NONE;
}

static void
add_group(const char *name)
{
    struct group *g;

    if (n_groups == MAX_GROUPS) {
        die_usage("too many groups (max %d)", MAX_GROUPS);
    }
    if (name[0] == '\0' || strlen(name) >= MSHM_NAME_MAX) {
        die_usage("group name must be 1..%d bytes", MSHM_NAME_MAX - 1);
    }
    if (find_group(name) != MSHM_NONE) {
        die_usage("group %s given twice", name);
    }
    g = &groups[n_groups++];
    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof(g->name), "%s", name);
    g->master = g->last_master = MSHM_NONE;
    g->epoch = 1;
    g->all_down = -1;
}

static void
add_server(const char *host, long port)
{
    struct group *g;
    struct server *s;

    if (n_groups == 0) {
        die_usage("--server before any --group");
    }
    g = &groups[n_groups - 1];
    if (n_servers == MAX_SERVERS || g->n == MSHM_GROUP_SERVERS) {
        die_usage("too many servers");
    }
    if (host[0] == '\0' || strlen(host) >= MSHM_HOST_MAX || port < 1 || port > 65535) {
        die_usage("bad server address %s:%ld", host, port);
    }
    s = &servers[n_servers];
    memset(s, 0, sizeof(*s));
    snprintf(s->host, sizeof(s->host), "%s", host);
    s->port = (uint16_t)port;
    s->gi = n_groups - 1;
    s->longname = MSHM_NONE;
    if (strlen(host) >= MSHM_HOST_INLINE) {
        s->longname = n_longnames++;
    }
    g->srv[g->n++] = n_servers++;
}

static void
parse_server(const char *arg)
{
    char host[MSHM_HOST_MAX + 8];
    const char *colon = strrchr(arg, ':');
    char *end;
    long port;

    if (colon == NULL || (size_t)(colon - arg) >= sizeof(host)) {
        die_usage("--server expects HOST:PORT, got %s", arg);
    }
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0') {
        die_usage("--server expects HOST:PORT, got %s", arg);
    }
    add_server(host, port);
}

static int
lookup(const char *const *tab, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(tab[i], s) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Parse "M1,M2=3,M3!" into c; farm: members are clusters. */
static void
parse_members(struct cluster *c, char *list, int farm)
{
    char *save = NULL, *m;

    for (m = strtok_r(list, ",", &save); m != NULL; m = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(m);
        uint16_t flags = 0, power = 1;
        char *eq;
        uint32_t idx;

        if (len > 0 && m[len - 1] == '!') {
            flags |= MSHM_MF_DIVERGED;
            m[--len] = '\0';
        }
        eq = strchr(m, '=');
        if (eq != NULL) {
            long p = strtol(eq + 1, NULL, 10);

            if (p < 1 || p > 65535) {
                die_usage("member %s: bad power", m);
            }
            power = (uint16_t)p;
            *eq = '\0';
        }
        idx = farm ? find_cluster(m) : find_group(m);
        if (idx == MSHM_NONE) {
            die_usage("%s member %s is not a %s defined before it", c->name, m,
                      farm ? "--cluster" : "--group");
        }
        if (c->n == MSHM_CLUSTER_MEMBERS) {
            die_usage("%s: too many members", c->name);
        }
        c->member[c->n] = idx;
        c->power[c->n] = power;
        c->mflags[c->n] = flags;
        c->n++;
    }
    if (c->n == 0) {
        die_usage("%s has no members", c->name);
    }
}

/* --cluster NAME:RULE:G1,G2[:DIST[:HASH]] or --farm NAME:C1,C2 */
static void
parse_cluster(const char *arg, int farm)
{
    static const char *const rules[] = {"marshal0", "marshal1", "marshal10"};
    static const char *const dists[] = {"ketama", "modula", "slots"};
    static const char *const hashes[] = {
        "fnv1a_64", "md5",   "crc32a", "murmur", "fnv1_64", "fnv1a_32",
        "fnv1_32",  "crc32", "crc16",  "jenkins", "hsieh",  "one_at_a_time"};
    char buf[1024], *f[5], *save = NULL, *p;
    struct cluster *c;
    int n = 0, v;

    if (strlen(arg) >= sizeof(buf) || n_clusters == MAX_CLUSTERS) {
        die_usage("bad or too many --cluster/--farm");
    }
    snprintf(buf, sizeof(buf), "%s", arg);
    for (p = strtok_r(buf, ":", &save); p != NULL && n < 5; p = strtok_r(NULL, ":", &save)) {
        f[n++] = p;
    }
    if ((farm && n != 2) || (!farm && (n < 3 || n > 5))) {
        die_usage(farm ? "--farm expects NAME:C1,C2" :
                         "--cluster expects NAME:RULE:G1,G2[:DIST[:HASH]]");
    }
    if (strlen(f[0]) >= MSHM_NAME_MAX) {
        die_usage("name %s too long", f[0]);
    }
    for (v = 0; v < (int)n_clusters; v++) {
        if (strcmp(clusters[v].name, f[0]) == 0) {
            die_usage("cluster/farm %s given twice", f[0]);
        }
    }
    c = &clusters[n_clusters];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", f[0]);
    if (farm) {
        c->kind = MSHM_KIND_FARM;
        c->rule = MSHM_RULE_MARSHAL10;
        parse_members(c, f[1], 1);
    } else {
        c->kind = MSHM_KIND_CLUSTER;
        v = lookup(rules, 2, f[1]);
        if (v < 0) {
            die_usage("cluster rule %s: expected marshal0 or marshal1", f[1]);
        }
        c->rule = (uint8_t)v;
        parse_members(c, f[2], 0);
        if (n >= 4) {
            v = lookup(dists, 3, f[3]);
            if (v < 0) {
                die_usage("unknown distribution %s", f[3]);
            }
            c->dist = (uint8_t)v;
        }
        if (n >= 5) {
            v = lookup(hashes, 12, f[4]);
            if (v < 0) {
                die_usage("unknown hash %s", f[4]);
            }
            c->hash = (uint8_t)v;
        }
    }
    n_clusters++;
}

static long
num_arg(const char *opt, const char *s, long lo, long hi, int base)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, base);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        die_usage("%s: bad value %s", opt, s);
    }
    return v;
}

/* ---- main ---------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    enum { O_PATH = 256, O_GROUP, O_SERVER, O_INTERVAL, O_ROUTE, O_STATIC, O_CLUSTER,
           O_FARM, O_LONG, O_CHURN, O_CHURN_DELAY, O_MODE, O_REPLACE, O_MAXLAG };
    static const struct option opts[] = {
        {"path", required_argument, NULL, O_PATH},
        {"group", required_argument, NULL, O_GROUP},
        {"server", required_argument, NULL, O_SERVER},
        {"interval-ms", required_argument, NULL, O_INTERVAL},
        {"route", required_argument, NULL, O_ROUTE},
        {"static", no_argument, NULL, O_STATIC},
        {"cluster", required_argument, NULL, O_CLUSTER},
        {"farm", required_argument, NULL, O_FARM},
        {"long-host", no_argument, NULL, O_LONG},
        {"churn", required_argument, NULL, O_CHURN},
        {"churn-delay-ms", required_argument, NULL, O_CHURN_DELAY},
        {"mode", required_argument, NULL, O_MODE},
        {"replace", no_argument, NULL, O_REPLACE},
        {"max-lag-ms", required_argument, NULL, O_MAXLAG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const char *const routes[] = {"master", "readonly", "split"};
    struct mshm_writer_opts wo;
    struct sigaction sa;
    const char *path = NULL;
    long interval = 100, churn = 0, churn_delay = 200, mode = 0640;
    int is_static = 0, long_host = 0, replace = 0, how = 0, o, rc;
    uint64_t next_check, next_hb, next_soft, churn_at = 0, now;
    uint32_t si, gi, churn_si = MSHM_NONE;
    char err[512];

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_PATH:
            path = optarg;
            break;
        case O_GROUP:
            add_group(optarg);
            break;
        case O_SERVER:
            parse_server(optarg);
            break;
        case O_INTERVAL:
            interval = num_arg("--interval-ms", optarg, 10, 60000, 10);
            break;
        case O_ROUTE:
            rc = lookup(routes, 3, optarg);
            if (rc < 0) {
                die_usage("--route expects master, readonly or split");
            }
            route = (uint8_t)rc;
            break;
        case O_STATIC:
            is_static = 1;
            break;
        case O_CLUSTER:
            parse_cluster(optarg, 0);
            break;
        case O_FARM:
            parse_cluster(optarg, 1);
            break;
        case O_LONG:
            long_host = 1;
            break;
        case O_CHURN:
            churn = num_arg("--churn", optarg, 0, 1000000, 10);
            break;
        case O_CHURN_DELAY:
            churn_delay = num_arg("--churn-delay-ms", optarg, 0, 3600000, 10);
            break;
        case O_MODE:
            mode = num_arg("--mode", optarg, 0, 0777, 8);
            break;
        case O_REPLACE:
            replace = 1;
            break;
        case O_MAXLAG:
            max_lag_ms = (uint32_t)num_arg("--max-lag-ms", optarg, 0, 86400000, 10);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        die_usage("unexpected argument %s", argv[optind]);
    }
    if (n_groups == 0) {
        die_usage("give at least one --group with --server");
    }
    for (gi = 0; gi < n_groups; gi++) {
        if (groups[gi].n == 0) {
            die_usage("group %s has no --server", groups[gi].name);
        }
    }
    if (!is_static && (long_host || churn)) {
        die_usage("--long-host and --churn need --static");
    }
    if (long_host) {
        char h[LONG_HOST_LEN + 1];
        uint32_t saved = n_groups;

        memset(h, 'a', LONG_HOST_LEN - 8);
        memcpy(h + LONG_HOST_LEN - 8, ".invalid", 9);
        n_groups = 1;           /* add_server() appends to the latest group */
        add_server(h, 6399);
        n_groups = saved;
    }
    if (churn > 0) {
        if (groups[0].n < 2) {
            die_usage("--churn needs a replica in the first group");
        }
        churn_si = groups[0].srv[1];
    }
    if (path == NULL) {
        path = getenv("MARSHAL_SEGMENT");
        if (path == NULL || path[0] == '\0') {
            path = DEFAULT_SEGMENT;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;      /* no SA_RESTART: sleeps end at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);       /* a server closing on us is an error code */

    memset(&wo, 0, sizeof(wo));
    wo.path = path;
    wo.mode = (mode_t)mode;
    wo.gid = (gid_t)-1;
    wo.hb_interval_ms = HB_MS;
    wo.flags = replace ? MSHM_W_FORCE_REPLACE : 0;
    err[0] = '\0';
    rc = mshm_writer_open(&wo, &wr, &how, err, sizeof(err));
    if (rc != MSHM_OK) {
        logmsg("%s: cannot open the segment: %s: %s", path, mshm_strerror(rc), err);
        return 1;
    }
    logmsg("%s segment %s (%s mode, %u groups, %u servers, %u clusters/farms)",
           how == MSHM_ADOPTED ? "adopted" : how == MSHM_REPLACED ? "replaced" : "created",
           path, is_static ? "static" : "health", n_groups, n_servers, n_clusters);
    if (how == MSHM_ADOPTED) {
        struct mshm_reader r;
        uint64_t epoch = 0;

        memset(&r, 0, sizeof(r));
        if (mshm_attach(&r, path, MSHM_ATTACH_ALLOW_WRITABLE) == MSHM_OK) {
            epoch = mshm_ld(&mshm_hdr(&r)->writer_epoch);
            mshm_detach(&r);
        }
        emit(MSHM_EV_WRITER_ADOPT, MSHM_NONE, MSHM_NONE, MSHM_NONE, MSHM_NONE, epoch);
    }

    /* long host names live in their own table */
    for (si = 0; si < n_servers; si++) {
        if (servers[si].longname != MSHM_NONE) {
            mshm_w_put_longname(wr, servers[si].longname, servers[si].host);
        }
    }
    if (is_static) {
        for (gi = 0; gi < n_groups; gi++) {
            for (si = 0; si < groups[gi].n; si++) {
                struct server *s = &servers[groups[gi].srv[si]];

                s->role = si == 0 ? MSHM_ROLE_MASTER : MSHM_ROLE_REPLICA;
                s->link_up = 1;
                s->rtt_us = 100 + 10 * groups[gi].srv[si];
                s->last_ok_ns = mshm_now_ns();
                if (si > 0) {
                    /* another element of the same array: memmove, not snprintf */
                    memmove(s->master_host, servers[groups[gi].srv[0]].host,
                            sizeof(s->master_host));
                    s->master_port = servers[groups[gi].srv[0]].port;
                }
                set_health(groups[gi].srv[si], MSHM_HEALTH_UP);
            }
        }
        for (gi = 0; gi < n_groups; gi++) {
            evaluate(gi);
        }
        churn_at = mshm_now_ns() + (uint64_t)churn_delay * 1000000ull;
    } else {
        mshm_w_set_flags(wr, MSHM_HF_WARMING_UP, 0);
    }
    stage_all(1);
    drop_foreign();
    mshm_w_commit(wr);

    now = mshm_now_ns();
    next_check = now;
    next_hb = now + HB_MS * 1000000ull;
    next_soft = now + SOFT_REFRESH_MS * 1000000ull;
    while (!stop_flag) {
        int soft = 0;

        now = mshm_now_ns();
        if (!is_static && now >= next_check) {
            uint32_t known = 0;

            check_all();
            for (gi = 0; gi < n_groups; gi++) {
                evaluate(gi);
            }
            for (si = 0; si < n_servers; si++) {
                known += servers[si].health != MSHM_HEALTH_UNKNOWN;
            }
            if (known == n_servers) {
                mshm_w_set_flags(wr, 0, MSHM_HF_WARMING_UP);
            }
            next_check = now + (uint64_t)interval * 1000000ull;
        }
        if (is_static && churn > 0 && now >= churn_at) {
            struct server *s = &servers[churn_si];

            set_health(churn_si, s->health == MSHM_HEALTH_UP ? MSHM_HEALTH_DOWN
                                                             : MSHM_HEALTH_UP);
            s->link_up = s->health == MSHM_HEALTH_UP;
            if (s->health == MSHM_HEALTH_UP) {
                s->last_ok_ns = now;
            }
            evaluate(s->gi);
            churn--;
            churn_at = now + 50 * 1000000ull;
        }
        if (now >= next_soft) {
            soft = 1;
            next_soft = now + SOFT_REFRESH_MS * 1000000ull;
        }
        stage_all(soft);
        if (mshm_w_pending(wr) > 0) {
            /* a hard change publishes soft fields too */
            stage_all(1);
            mshm_w_commit(wr);
        }
        if (now >= next_hb) {
            mshm_w_heartbeat(wr);
            next_hb = now + HB_MS * 1000000ull;
        }
        now = mshm_now_ns();
        {
            uint64_t next = next_hb;

            if (!is_static && next_check < next) {
                next = next_check;
            }
            if (is_static && churn > 0 && churn_at < next) {
                next = churn_at;
            }
            if (next > now) {
                sleep_ms((unsigned)((next - now + 999999) / 1000000ull));
            }
        }
    }
    logmsg("stopping (clean exit)");
    for (si = 0; si < n_servers; si++) {
        drop_conn(&servers[si]);
    }
    mshm_writer_close(wr, 1);
    return 0;
}
