/*
 * ctl_model.c -- authoritative topology, master resolution, events, publish.
 *
 * Inputs (health probes, sentinel views, sentinel states) only record facts
 * and mark groups dirty.  ctl_model_flush() -- once per loop iteration --
 * resolves every dirty group, derives events by comparing with what was
 * last published, and publishes the changed records in one commit.
 *
 * Confirmed master (sentinel-managed group), tag-20261125-2:
 *   voters    = reachable sentinels not in TILT (that answered since they
 *               became reachable)
 *   candidate = master address at the highest config-epoch among the views
 *   confirmed = views naming the candidate are a majority of the voters,
 *               AND the candidate itself answered ROLE = master.
 * Anything else publishes no write target (NO_MASTER, DISAGREE if they
 * disagree) -- never a guess.  A node answering ROLE = master that is not
 * the candidate (a stale old master) is flagged STALE_MASTER and never
 * published as write target.  When fewer than a majority of the known
 * sentinels are voters the group is DEGRADED: the last confirmed master is
 * kept (clients fail writes instead if the group's policy says so).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_conn.h"
#include "ctl_log.h"
#include "ctl_model.h"
#include "ctl_sentinel.h"
#include "mshm_write.h"

#define MAX_SENTINELS 64

/*
 * rtt, lag, replication offset and last-ok time change on every probe.
 * Publishing each change would make every health check a state change for
 * every client, so these informational fields are refreshed only when the
 * record is republished for a real change, or every VOLATILE_REFRESH_MS.
 */
#define VOLATILE_REFRESH_MS 10000

/* A server, as the model sees it. */
struct mserver {
    struct ctl_server pub;       /* must be first: handed out as ctl_server */
    int health;                  /* MSHM_HEALTH_* after thresholds          */
    uint32_t fails, oks;         /* consecutive check results               */
    int probed;                  /* got at least one probe                  */
    struct ctl_probe probe;      /* last successful probe                   */
    uint64_t last_ok_ns;
    uint32_t n_down, n_up;       /* transition counters (published)         */
    uint32_t sv_flags;           /* CTL_SV_* from the agreeing views        */
    int in_views;                /* listed by an agreeing view this round   */
    int stale_master;            /* claims master, is not the candidate     */
    uint32_t lag_ms;
    uint32_t longname_idx;       /* MSHM_NONE unless the host is long       */
    struct mserver *next;        /* all servers, for iteration              */
};

/* A sentinel's latest view of a group. */
struct view {
    int valid;
    uint64_t at_ms;
    struct ctl_sentinel_view v;
};

/* What clients last saw of a group (for deriving events). */
struct seen {
    uint32_t master_idx;         /* published master, or MSHM_NONE          */
    uint32_t last_master;        /* last published non-NONE master          */
    uint32_t last_master_gen;    /* its record's gen (an index can be reused) */
    int master_up;
    int readable;                /* number of readable replicas            */
    int avail;                   /* number of available (up) replicas      */
    int all_down;                /* allSlavesDown delivered, allSlavesUp not yet */
    int degraded;
    int no_master;
    int disagree;
    int valid;
};

struct mgroup {
    const struct ctl_group_cfg *cfg;
    uint32_t idx;                /* segment group index                    */
    struct mserver *servers[MSHM_GROUP_SERVERS];
    uint32_t n_servers;
    struct mserver *master;      /* confirmed master, or NULL              */
    uint64_t master_epoch;
    uint32_t flags;              /* MSHM_GF_* (published)                  */
    uint32_t n_master_down, n_master_up, n_master_switch;
    uint32_t n_all_down, n_all_up, n_degraded;
    struct view *views[MAX_SENTINELS]; /* allocated at a sentinel's first answer */
    struct seen seen;
    int dirty;
    uint64_t volatile_ms;        /* last refresh of rtt/lag/offset/last-ok */
    uint64_t unconfirmed_ms;     /* since when the candidate lacks ROLE=master */
};

struct ctl_model {
    const struct ctl_config *cfg;
    struct mshm_writer *w;
    struct mgroup *groups;
    uint32_t n_groups;
    struct mserver *servers;     /* list of every server                   */
    uint8_t *idx_used;           /* server index allocation                */
    uint8_t *ln_used;            /* long-name index allocation             */
    uint32_t server_cap, longname_cap;
    int sent_reachable[MAX_SENTINELS];
    int sent_tilt[MAX_SENTINELS];
    uint32_t n_sentinels;        /* known: configured + discovered         */
    struct ctl_model_hooks hooks;
    int warming;
    int adopted;
    uint64_t start_ms;
    /* Mirror divergence (tag-20261125-3): per configured cluster (config
     * order = segment cluster index), bit j set = members[j] missed writes
     * its primary applied.  Kept here, not only in the segment, so every
     * republish and reload carries it; set by ctl_model_mirror_diverged(),
     * carried over from an adopted segment, remapped by name on reload. */
    uint32_t *diverged;          /* cfg->n_clusters words (>= 1 allocated)  */
};

/* ---- events funnel ------------------------------------------------------ */

static const char *
addr_str(const struct mserver *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%u", s->pub.addr.host, s->pub.addr.port);
    return buf;
}

/*
 * The one place events are born: logged in Sentinel's vocabulary and queued
 * for the ring (published with the commit that carries the state change).
 * why: MSHM_RR_* of a readsUnavailable (the event's flags, the hook's
 * OLD_SERVER word, the log line), else 0.
 */
static const char *const event_names[MSHM_EV_TYPE_MAX] = {
    [MSHM_EV_MASTER_DOWN] = "masterDown",       [MSHM_EV_MASTER_UP] = "masterUp",
    [MSHM_EV_MASTER_SWITCH] = "masterSwitch",   [MSHM_EV_SLAVE_DOWN] = "slaveDown",
    [MSHM_EV_SLAVE_UP] = "slaveUp",             [MSHM_EV_ALL_SLAVES_DOWN] = "allSlavesDown",
    [MSHM_EV_ALL_SLAVES_UP] = "allSlavesUp",    [MSHM_EV_GROUP_DEGRADED] = "groupDegraded",
    [MSHM_EV_GROUP_RECOVERED] = "groupRecovered", [MSHM_EV_NO_MASTER] = "noMaster",
    [MSHM_EV_READS_UNAVAILABLE] = "readsUnavailable",
    [MSHM_EV_READS_AVAILABLE] = "readsAvailable",
};

/* The MSHM_RR_* reasons as the words of the hook's argv and the log:
 * "down,link_down,syncing,lagging,not_replica" (any subset, in that order). */
static const char *
reason_str(uint16_t why, char *buf, size_t len)
{
    static const struct {
        uint16_t bit;
        const char *word;
    } words[] = {{MSHM_RR_DOWN, "down"},       {MSHM_RR_LINK_DOWN, "link_down"},
                 {MSHM_RR_SYNCING, "syncing"}, {MSHM_RR_LAGGING, "lagging"},
                 {MSHM_RR_NO_REPLICA, "not_replica"}};
    size_t i, off = 0;

    buf[0] = '\0';
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if ((why & words[i].bit) && off < len) {
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", words[i].word);
        }
    }
    if (buf[0] == '\0') {
        snprintf(buf, len, "-");
    }
    return buf;
}

static void
ctl_event_why(struct ctl_model *m, struct mgroup *g, int type, struct mserver *s,
              struct mserver *old_s, const char *word, uint16_t why)
{
    struct mshm_event ev;
    char a[300], b[300];
    int reads = type == MSHM_EV_READS_UNAVAILABLE || type == MSHM_EV_READS_AVAILABLE;

    if (m->hooks.event != NULL && type < MSHM_EV_TYPE_MAX && event_names[type] != NULL) {
        /* readsUnavailable passes its reason where other events name the
         * old server (docs/client.md, "Events") */
        m->hooks.event(m->hooks.ud, event_names[type], g->cfg->name,
                       s ? addr_str(s, a, sizeof(a)) : NULL,
                       old_s                                ? addr_str(old_s, b, sizeof(b))
                       : type == MSHM_EV_READS_UNAVAILABLE ? reason_str(why, b, sizeof(b))
                                                            : NULL,
                       (unsigned long long)g->master_epoch);
    }

    memset(&ev, 0, sizeof(ev));
    ev.type = (uint16_t)type;
    ev.group_idx = g->idx;
    ev.server_idx = s ? s->pub.idx : MSHM_NONE;
    ev.old_idx = old_s ? old_s->pub.idx : MSHM_NONE;
    ev.new_idx = (type == MSHM_EV_MASTER_SWITCH && s) ? s->pub.idx : MSHM_NONE;
    ev.cluster_idx = MSHM_NONE;
    ev.epoch = g->master_epoch;
    ev.flags = why;
    if (mshm_w_emit(m->w, &ev) != MSHM_OK) {
        log_warn("event queue full: %s %s not queued", word, g->cfg->name);
    }
    if (type == MSHM_EV_MASTER_SWITCH) {
        log_notice("+switch-master %s %s %s epoch %llu", g->cfg->name,
                   old_s ? addr_str(old_s, a, sizeof(a)) : "-", addr_str(s, b, sizeof(b)),
                   (unsigned long long)g->master_epoch);
    } else if (reads) {
        log_notice("%s %s %s", word, g->cfg->name, reason_str(why, a, sizeof(a)));
    } else if (s != NULL) {
        log_notice("%s %s %s @ %s", word,
                   type == MSHM_EV_MASTER_DOWN || type == MSHM_EV_MASTER_UP ? "master" : "slave",
                   addr_str(s, a, sizeof(a)), g->cfg->name);
    } else {
        log_notice("%s %s", word, g->cfg->name);
    }
}

/* ctl_event_why() for the events without a reason. */
static void
ctl_event(struct ctl_model *m, struct mgroup *g, int type, struct mserver *s,
          struct mserver *old_s, const char *word)
{
    ctl_event_why(m, g, type, s, old_s, word, 0);
}

/*
 * The funnel's cluster side: member j of mirror cluster (or farm) ci was
 * marked diverged (on) or cleared.  Marking logs "+mirror-diverged CLUSTER
 * MEMBER", runs the notification program (mirrorDiverged CLUSTER MEMBER) and
 * queues MSHM_EV_MIRROR_DIVERGED: cluster_idx = ci; for a marshal1 cluster
 * group_idx = the member group's index; for a marshal10 farm group_idx =
 * MSHM_NONE and old_idx = the member cluster's index.  Clearing has no
 * event type: it is logged ("-mirror-diverged") and shows in the flag.
 */
static void
mirror_event(struct ctl_model *m, uint32_t ci, uint32_t j, int on)
{
    const struct ctl_cluster_cfg *c = &m->cfg->clusters[ci];
    const struct ctl_member_cfg *mc = &c->members[j];
    struct mshm_event ev;

    if (!on) {
        log_notice("-mirror-diverged %s %s", c->name, mc->name);
        return;
    }
    if (m->hooks.event != NULL) {
        m->hooks.event(m->hooks.ud, "mirrorDiverged", c->name, mc->name, NULL, 0);
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = MSHM_EV_MIRROR_DIVERGED;
    ev.cluster_idx = ci;
    ev.server_idx = ev.new_idx = MSHM_NONE;
    if (c->rule == CTL_RULE_MARSHAL10) {
        ev.group_idx = MSHM_NONE;
        ev.old_idx = mc->idx;
    } else {
        ev.group_idx = m->groups[mc->idx].idx;
        ev.old_idx = MSHM_NONE;
    }
    if (mshm_w_emit(m->w, &ev) != MSHM_OK) {
        log_warn("event queue full: +mirror-diverged %s %s not queued", c->name, mc->name);
    }
    log_notice("+mirror-diverged %s %s", c->name, mc->name);
}

/* ---- helpers ------------------------------------------------------------ */

static int
addr_eq(const struct ctl_addr *a, const struct ctl_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

void
ctl_model_map_addr(const struct ctl_model *m, const struct ctl_addr *in, struct ctl_addr *out)
{
    uint32_t i;

    for (i = 0; i < m->cfg->n_addr_map; i++) {
        if (addr_eq(&m->cfg->addr_map[i].from, in)) {
            *out = m->cfg->addr_map[i].to;
            return;
        }
    }
    if (out != in) {
        *out = *in;
    }
}

static uint32_t
alloc_idx(uint8_t *used, uint32_t cap)
{
    uint32_t i;

    for (i = 0; i < cap; i++) {
        if (!used[i]) {
            used[i] = 1;
            return i;
        }
    }
    return MSHM_NONE;
}

/* Index an adopted segment gave this (group, address), or MSHM_NONE. */
static uint32_t
adopted_server_idx(struct ctl_model *m, uint32_t gi, const struct ctl_addr *a)
{
    const struct mshm_server *r;
    const char *host;
    uint32_t i;

    for (i = 0; i < m->server_cap; i++) {
        r = mshm_w_server(m->w, i);
        if ((r->flags & MSHM_SF_IN_USE) == 0 || r->group_idx != gi || r->port != a->port ||
            m->idx_used[i]) {
            continue;
        }
        host = (r->flags & MSHM_SF_HOST_LONG) ? mshm_w_longname(m->w, r->longname_idx) : r->host;
        if (host != NULL && strcmp(host, a->host) == 0) {
            return i;
        }
    }
    return MSHM_NONE;
}

static struct mserver *
find_server(struct mgroup *g, const struct ctl_addr *a)
{
    uint32_t i;

    for (i = 0; i < g->n_servers; i++) {
        if (addr_eq(&g->servers[i]->pub.addr, a)) {
            return g->servers[i];
        }
    }
    return NULL;
}

/* Add a server to group g (or return the existing one).  NULL when full. */
static struct mserver *
add_server(struct ctl_model *m, struct mgroup *g, const struct ctl_addr *a, int configured)
{
    struct mserver *s = find_server(g, a);
    uint32_t idx;

    if (s != NULL) {
        s->pub.configured |= configured;
        return s;
    }
    if (g->n_servers >= MSHM_GROUP_SERVERS) {
        log_warn("group %s: more than %d servers; ignoring %s:%u", g->cfg->name,
                 MSHM_GROUP_SERVERS, a->host, a->port);
        return NULL;
    }
    idx = adopted_server_idx(m, g->idx, a);
    if (idx != MSHM_NONE) {
        m->idx_used[idx] = 1;
    } else {
        /* prefer indices no adopted record uses, so none is reused early */
        idx = MSHM_NONE;
        for (uint32_t i = 0; i < m->server_cap; i++) {
            if (!m->idx_used[i] && (mshm_w_server(m->w, i)->flags & MSHM_SF_IN_USE) == 0) {
                m->idx_used[i] = 1;
                idx = i;
                break;
            }
        }
        if (idx == MSHM_NONE) {
            /* full: take a record left from before that nothing reclaimed */
            idx = alloc_idx(m->idx_used, m->server_cap);
            if (idx != MSHM_NONE) {
                mshm_w_del_server(m->w, idx);
            }
        }
    }
    if (idx == MSHM_NONE) {
        log_warn("segment server capacity (%u) exhausted; ignoring %s:%u", m->server_cap,
                 a->host, a->port);
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        m->idx_used[idx] = 0;
        return NULL;
    }
    s->pub.idx = idx;
    s->pub.group = (struct ctl_group *)g;
    s->pub.addr = *a;
    s->pub.power = 1;
    s->pub.configured = configured;
    s->pub.discovered = !configured;
    s->health = MSHM_HEALTH_UNKNOWN;
    s->longname_idx = MSHM_NONE;
    if (strlen(a->host) >= MSHM_HOST_INLINE) {
        s->longname_idx = alloc_idx(m->ln_used, m->longname_cap);
        if (s->longname_idx == MSHM_NONE) {
            log_warn("segment long-name capacity exhausted; ignoring %s:%u", a->host, a->port);
            m->idx_used[idx] = 0;
            free(s);
            return NULL;
        }
    }
    /* an adopted record carries the counters clients have seen */
    if (mshm_w_server(m->w, idx)->flags & MSHM_SF_IN_USE) {
        const struct mshm_server *r = mshm_w_server(m->w, idx);

        s->n_down = r->n_down;
        s->n_up = r->n_up;
        s->health = r->health;
        /* what clients saw, until the node answers for itself: an adopted
         * master whose first probe fails stays the (down) master instead of
         * turning into a false masterDown/noMaster */
        if (g->idx != MSHM_NONE && idx == mshm_w_group(m->w, g->idx)->master_idx) {
            s->probe.role = r->role;
        }
    }
    g->servers[g->n_servers++] = s;
    s->next = m->servers;
    m->servers = s;
    g->dirty = 1;
    if (m->hooks.server_added != NULL) {
        m->hooks.server_added(m->hooks.ud, &s->pub);
    }
    return s;
}

static void
remove_server(struct ctl_model *m, struct mgroup *g, struct mserver *s)
{
    struct mserver **pp;
    uint32_t i;

    if (m->hooks.server_removed != NULL) {
        m->hooks.server_removed(m->hooks.ud, &s->pub);
    }
    for (i = 0; i < g->n_servers; i++) {
        if (g->servers[i] == s) {
            g->servers[i] = g->servers[--g->n_servers];
            break;
        }
    }
    for (pp = &m->servers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (g->master == s) {
        g->master = NULL;
    }
    mshm_w_del_server(m->w, s->pub.idx);
    m->idx_used[s->pub.idx] = 0;
    if (s->longname_idx != MSHM_NONE) {
        m->ln_used[s->longname_idx] = 0;
    }
    g->dirty = 1;
    free(s);
}

static uint32_t
configured_power(const struct mgroup *g, const struct ctl_addr *a)
{
    uint32_t i;

    for (i = 0; i < g->cfg->n_replicas; i++) {
        if (addr_eq(&g->cfg->replicas[i].addr, a)) {
            return g->cfg->replicas[i].power;
        }
    }
    return 1;
}

/* ---- mirror divergence (tag-20261125-3) ---------------------------------- */

/* Is c a mirror: a marshal1 cluster (members are groups) or a marshal10
 * farm (members are clusters)? */
static int
is_mirror(const struct ctl_cluster_cfg *c)
{
    return c->rule == CTL_RULE_MARSHAL1 || c->rule == CTL_RULE_MARSHAL10;
}

/* Position of the cluster or farm called name in cfg, or -1. */
static int
cfg_cluster(const struct ctl_config *cfg, const char *name)
{
    uint32_t i;

    for (i = 0; i < cfg->n_clusters; i++) {
        if (strcmp(cfg->clusters[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Position of member name in c, or -1. */
static int
cfg_member(const struct ctl_cluster_cfg *c, const char *name)
{
    uint32_t j;

    for (j = 0; j < c->n_members && j < MSHM_CLUSTER_MEMBERS; j++) {
        if (strcmp(c->members[j].name, name) == 0) {
            return (int)j;
        }
    }
    return -1;
}

/*
 * Restart: carry over the DIVERGED flags an adopted segment holds, for
 * mirrors and members that still exist (matched by name: the configuration
 * may have reordered them) and are not the primary now.
 */
static void
adopt_diverged(struct ctl_model *m)
{
    const struct mshm_geo *geo = mshm_w_geo(m->w);
    uint32_t i, j;

    for (i = 0; i < geo->cluster_cap; i++) {
        const struct mshm_cluster *r = mshm_w_cluster(m->w, i);
        const struct ctl_cluster_cfg *c;
        char name[MSHM_NAME_MAX];
        int ci, mj;

        if ((r->flags & MSHM_CF_IN_USE) == 0) {
            continue;
        }
        snprintf(name, sizeof(name), "%s", r->name);
        if ((ci = cfg_cluster(m->cfg, name)) < 0 || !is_mirror(&m->cfg->clusters[ci])) {
            continue;
        }
        c = &m->cfg->clusters[ci];
        for (j = 0; j < r->n_members && j < MSHM_CLUSTER_MEMBERS; j++) {
            const char *mname = NULL;
            uint32_t idx = r->members[j].idx;

            if ((r->members[j].flags & MSHM_MF_DIVERGED) == 0) {
                continue;
            }
            if (r->kind == MSHM_KIND_FARM && idx < geo->cluster_cap &&
                (mshm_w_cluster(m->w, idx)->flags & MSHM_CF_IN_USE)) {
                mname = mshm_w_cluster(m->w, idx)->name;
            } else if (r->kind == MSHM_KIND_CLUSTER && idx < geo->group_cap &&
                       (mshm_w_group(m->w, idx)->flags & MSHM_GF_IN_USE)) {
                mname = mshm_w_group(m->w, idx)->name;
            }
            if (mname == NULL) {
                continue;
            }
            snprintf(name, sizeof(name), "%s", mname);
            mj = cfg_member(c, name);
            if (mj < 0 || mj == c->primary ||
                (r->kind == MSHM_KIND_FARM) != (c->rule == CTL_RULE_MARSHAL10)) {
                log_notice("-mirror-diverged %s %s: not a mirror member any more", c->name,
                           name);
                continue;
            }
            m->diverged[ci] |= 1u << mj;
            log_notice("mirror %s: member %s still diverged (adopted)", c->name, name);
        }
    }
}

/*
 * Reload: translate the divergence bits of cur into d (zeroed, one word per
 * cluster of next) by cluster and member name.  A mirror or member the
 * reload removed (or turned into the primary, or into another rule) loses
 * its bit.
 */
static void
remap_diverged(const struct ctl_config *cur, const uint32_t *bits,
               const struct ctl_config *next, uint32_t *d)
{
    uint32_t i, j;

    for (i = 0; i < cur->n_clusters; i++) {
        const struct ctl_cluster_cfg *c = &cur->clusters[i];
        int ni = cfg_cluster(next, c->name), nj;

        for (j = 0; bits[i] != 0 && j < c->n_members && j < MSHM_CLUSTER_MEMBERS; j++) {
            if ((bits[i] & (1u << j)) == 0) {
                continue;
            }
            nj = ni >= 0 && is_mirror(&next->clusters[ni]) &&
                 (next->clusters[ni].rule == c->rule)
                     ? cfg_member(&next->clusters[ni], c->members[j].name) : -1;
            if (nj < 0 || nj == next->clusters[ni].primary) {
                log_notice("-mirror-diverged %s %s: removed by the reload", c->name,
                           c->members[j].name);
                continue;
            }
            d[ni] |= 1u << nj;
        }
    }
}

/* ---- construction ------------------------------------------------------- */

static int
build_groups(struct ctl_model *m, const struct ctl_config *cfg)
{
    const struct mshm_geo *geo = mshm_w_geo(m->w);
    uint8_t *gused;
    uint32_t i, j;

    m->groups = calloc(cfg->n_groups ? cfg->n_groups : 1, sizeof(*m->groups));
    gused = calloc(geo->group_cap, 1);
    if (m->groups == NULL || gused == NULL) {
        free(gused);
        return -1;
    }
    m->n_groups = cfg->n_groups;
    /* adopted indices first, by name */
    for (i = 0; i < cfg->n_groups; i++) {
        struct mgroup *g = &m->groups[i];

        g->cfg = &cfg->groups[i];
        g->idx = MSHM_NONE;
        g->seen.master_idx = g->seen.last_master = MSHM_NONE;
        for (j = 0; j < geo->group_cap; j++) {
            const struct mshm_group *r = mshm_w_group(m->w, j);

            if ((r->flags & MSHM_GF_IN_USE) && strcmp(r->name, g->cfg->name) == 0) {
                g->idx = j;
                gused[j] = 1;
                /* carry what clients have seen */
                g->master_epoch = r->master_epoch;
                g->n_master_down = r->n_master_down;
                g->n_master_up = r->n_master_up;
                g->n_master_switch = r->n_master_switch;
                g->n_all_down = r->n_all_slaves_down;
                g->n_all_up = r->n_all_slaves_up;
                g->n_degraded = r->n_degraded;
                g->flags = r->flags;
                g->seen.valid = 1;
                g->seen.master_idx = r->master_idx;
                g->seen.last_master = r->master_idx;
                if (r->master_idx < geo->server_cap) {
                    g->seen.last_master_gen = mshm_w_server(m->w, r->master_idx)->gen;
                }
                g->seen.disagree = (r->flags & MSHM_GF_DISAGREE) != 0;
                g->seen.degraded = (r->flags & MSHM_GF_DEGRADED) != 0;
                g->seen.no_master = (r->flags & MSHM_GF_NO_MASTER) != 0;
                g->seen.readable = (r->flags & MSHM_GF_NO_READS) ? 0 : 1;
                /* a 1.1 segment has no ALL_REPLICAS_DOWN: its counters
                 * meant readability, so start from "not all down" */
                g->seen.all_down = (r->flags & MSHM_GF_ALL_REPLICAS_DOWN) != 0;
                g->seen.avail = g->seen.all_down ? 0 : 1;
                if (r->master_idx < geo->server_cap) {
                    g->seen.master_up =
                        mshm_w_server(m->w, r->master_idx)->health == MSHM_HEALTH_UP;
                }
                break;
            }
        }
    }
    for (i = 0; i < cfg->n_groups; i++) {
        struct mgroup *g = &m->groups[i];

        if (g->idx != MSHM_NONE) {
            continue;
        }
        for (j = 0; j < geo->group_cap; j++) {
            if (!gused[j] && (mshm_w_group(m->w, j)->flags & MSHM_GF_IN_USE) == 0) {
                g->idx = j;
                gused[j] = 1;
                break;
            }
        }
        if (g->idx == MSHM_NONE) {
            free(gused);
            return -1;
        }
    }
    free(gused);
    return 0;
}

/* Servers every group starts with: configured ones, and for sentinel groups
 * the ones an adopted segment listed (so they are checked from the start). */
static void
seed_servers(struct ctl_model *m, struct mgroup *g)
{
    uint32_t i;

    if (!g->cfg->sentinel) {
        struct mserver *s = add_server(m, g, &g->cfg->master, 1);

        if (s != NULL) {
            s->pub.power = 1;
        }
        for (i = 0; i < g->cfg->n_replicas; i++) {
            s = add_server(m, g, &g->cfg->replicas[i].addr, 1);
            if (s != NULL) {
                s->pub.power = g->cfg->replicas[i].power;
            }
        }
        return;
    }
    if (g->idx != MSHM_NONE && (mshm_w_group(m->w, g->idx)->flags & MSHM_GF_IN_USE)) {
        const struct mshm_group *r = mshm_w_group(m->w, g->idx);

        for (i = 0; i < r->n_servers && i < MSHM_GROUP_SERVERS; i++) {
            const struct mshm_server *rs = mshm_w_server(m->w, r->servers[i]);
            struct ctl_addr a;
            struct mserver *s;

            if (rs == NULL || (rs->flags & MSHM_SF_IN_USE) == 0) {
                continue;
            }
            snprintf(a.host, sizeof(a.host), "%s",
                     (rs->flags & MSHM_SF_HOST_LONG) ? mshm_w_longname(m->w, rs->longname_idx)
                                                     : rs->host);
            a.port = rs->port;
            s = add_server(m, g, &a, 0);
            if (s != NULL) {
                s->pub.power = configured_power(g, &a);
                if (r->servers[i] == r->master_idx) {
                    g->master = s;      /* adopted: still the master clients use */
                }
            }
        }
    }
}

struct ctl_model *
ctl_model_new(const struct ctl_config *cfg, struct mshm_writer *w)
{
    const struct mshm_geo *geo = mshm_w_geo(w);
    struct ctl_model *m = calloc(1, sizeof(*m));
    uint32_t i;

    if (m == NULL) {
        return NULL;
    }
    m->cfg = cfg;
    m->w = w;
    m->server_cap = geo->server_cap;
    m->longname_cap = geo->longname_cap;
    m->idx_used = calloc(geo->server_cap, 1);
    m->ln_used = calloc(geo->longname_cap ? geo->longname_cap : 1, 1);
    m->diverged = calloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*m->diverged));
    if (m->idx_used == NULL || m->ln_used == NULL || m->diverged == NULL ||
        build_groups(m, cfg) != 0) {
        ctl_model_free(m);
        return NULL;
    }
    adopt_diverged(m);
    for (i = 0; i < geo->group_cap; i++) {
        if (mshm_w_group(w, i)->flags & MSHM_GF_IN_USE) {
            m->adopted = 1;
        }
    }
    m->n_sentinels = cfg->n_sentinels;
    for (i = 0; i < m->n_groups; i++) {
        m->groups[i].dirty = 1;
    }
    m->warming = 1;
    m->start_ms = ctl_now_ms();
    return m;
}

void
ctl_model_set_hooks(struct ctl_model *m, const struct ctl_model_hooks *h)
{
    uint32_t i;

    m->hooks = *h;
    /* servers are seeded once the hooks can see them */
    for (i = 0; i < m->n_groups; i++) {
        if (m->groups[i].n_servers == 0) {
            seed_servers(m, &m->groups[i]);
        }
    }
}

static void
free_views(struct mgroup *groups, uint32_t n)
{
    uint32_t i, si;

    for (i = 0; groups != NULL && i < n; i++) {
        for (si = 0; si < MAX_SENTINELS; si++) {
            free(groups[i].views[si]);
        }
    }
}

void
ctl_model_free(struct ctl_model *m)
{
    struct mserver *s, *next;

    if (m == NULL) {
        return;
    }
    for (s = m->servers; s != NULL; s = next) {
        next = s->next;
        if (m->hooks.server_removed != NULL) {
            m->hooks.server_removed(m->hooks.ud, &s->pub);
        }
        free(s);
    }
    free_views(m->groups, m->n_groups);
    free(m->groups);
    free(m->idx_used);
    free(m->ln_used);
    free(m->diverged);
    free(m);
}

const struct ctl_cred *
ctl_model_server_cred(struct ctl_model *m, struct ctl_server *s)
{
    const struct mgroup *g = (const struct mgroup *)s->group;

    if (g->cfg->cred.password != NULL || g->cfg->cred.username != NULL) {
        return &g->cfg->cred;
    }
    return &m->cfg->server_cred;
}

/* ---- inputs ------------------------------------------------------------- */

void
ctl_model_probe(struct ctl_model *m, struct ctl_server *cs, const struct ctl_probe *p)
{
    struct mserver *s = (struct mserver *)cs;
    struct mgroup *g = (struct mgroup *)cs->group;
    int old = s->health, material;
    uint32_t i;

    /* only what changes the published state makes the group dirty: rtt,
     * offsets and last-ok times move on every probe */
    material = !s->probed ||
               (p->ok && (p->role != s->probe.role || p->link_up != s->probe.link_up ||
               p->loading != s->probe.loading ||
               p->sync_in_progress != s->probe.sync_in_progress ||
               !addr_eq(&p->follows, &s->probe.follows) || p->n_lags != s->probe.n_lags));
    for (i = 0; p->ok && !material && i < p->n_lags && i < MSHM_GROUP_SERVERS; i++) {
        material = p->lags[i].lag_s != s->probe.lags[i].lag_s ||
                   !addr_eq(&p->lags[i].addr, &s->probe.lags[i].addr);
    }
    s->probed = 1;
    if (p->ok) {
        s->oks++;
        s->fails = 0;
        s->last_ok_ns = ctl_now_ns();
        /* the header and the lags in use (a whole probe is ~9 KiB) */
        memcpy(&s->probe, p, offsetof(struct ctl_probe, lags));
        memcpy(s->probe.lags, p->lags,
               (p->n_lags < MSHM_GROUP_SERVERS ? p->n_lags : MSHM_GROUP_SERVERS) *
                   sizeof(p->lags[0]));
        if (s->health != MSHM_HEALTH_UP &&
            (s->health == MSHM_HEALTH_UNKNOWN || s->oks >= m->cfg->health_up_after)) {
            s->health = MSHM_HEALTH_UP;
        }
    } else {
        s->fails++;
        s->oks = 0;
        if (s->health != MSHM_HEALTH_DOWN &&
            (s->health == MSHM_HEALTH_UNKNOWN || s->fails >= m->cfg->health_down_after)) {
            s->health = MSHM_HEALTH_DOWN;
            log_info("%s:%u down: %s", s->pub.addr.host, s->pub.addr.port, p->error);
        }
    }
    /* n_down / n_up count transitions of the published health
     * (avail_health()), in publish_group() */
    if (material || old != s->health) {
        g->dirty = 1;
    }
}

void
ctl_model_sentinel_view(struct ctl_model *m, uint32_t si, const char *group,
                        const struct ctl_sentinel_view *view)
{
    uint32_t i;

    if (si >= MAX_SENTINELS) {
        return;
    }
    for (i = 0; i < m->n_groups; i++) {
        struct mgroup *g = &m->groups[i];

        if (!g->cfg->sentinel || strcmp(g->cfg->name, group) != 0) {
            continue;
        }
        if (g->views[si] == NULL && (g->views[si] = calloc(1, sizeof(struct view))) == NULL) {
            log_warn("out of memory: view of sentinel #%u about %s dropped", si, group);
            continue;
        }
        g->views[si]->valid = view != NULL;
        g->views[si]->at_ms = ctl_now_ms();
        if (view != NULL) {
            g->views[si]->v = *view;
        }
        g->dirty = 1;
    }
}

void
ctl_model_sentinel_state(struct ctl_model *m, uint32_t si, int reachable, int tilt)
{
    uint32_t i;

    if (si >= MAX_SENTINELS) {
        return;
    }
    if (m->sent_reachable[si] != reachable || m->sent_tilt[si] != tilt) {
        if (tilt && !m->sent_tilt[si]) {
            log_notice("+tilt sentinel #%u: excluded from the majority", si);
        } else if (!tilt && m->sent_tilt[si]) {
            log_notice("-tilt sentinel #%u", si);
        }
        m->sent_reachable[si] = reachable;
        m->sent_tilt[si] = tilt;
        if (!reachable) {
            for (i = 0; i < m->n_groups; i++) {
                if (m->groups[i].views[si] != NULL) {
                    m->groups[i].views[si]->valid = 0;
                }
            }
        }
        for (i = 0; i < m->n_groups; i++) {
            m->groups[i].dirty = 1;
        }
    }
}

void
ctl_model_sentinel_count(struct ctl_model *m, uint32_t n)
{
    uint32_t i;

    if (n > MAX_SENTINELS) {
        n = MAX_SENTINELS;
    }
    if (n != m->n_sentinels) {
        m->n_sentinels = n;
        for (i = 0; i < m->n_groups; i++) {
            m->groups[i].dirty = 1;
        }
    }
}

void
ctl_model_sentinel_event(struct ctl_model *m, uint32_t si, const char *channel,
                         const char *payload)
{
    char name[CTL_NAME_MAX];
    int named;
    uint32_t i, j;

    (void)si;
    /* a role or reachability change is coming: re-probe that group's servers
     * now rather than at the next interval (all groups if none is named) */
    if (strcmp(channel, "+switch-master") != 0 && strcmp(channel, "+promoted-slave") != 0 &&
        strcmp(channel, "+convert-to-slave") != 0 && strcmp(channel, "-role-change") != 0 &&
        strcmp(channel, "+role-change") != 0 && strcmp(channel, "+reboot") != 0 &&
        strcmp(channel, "+failover-state-reconf-slaves") != 0) {
        return;
    }
    if (m->hooks.check_now == NULL) {
        return;
    }
    named = ctl_sentinel_event_group(channel, payload, name, sizeof(name));
    for (i = 0; i < m->n_groups; i++) {
        struct mgroup *g = &m->groups[i];

        if (named && strcmp(g->cfg->name, name) != 0) {
            continue;
        }
        for (j = 0; j < g->n_servers; j++) {
            m->hooks.check_now(m->hooks.ud, &g->servers[j]->pub);
        }
    }
}

/* ---- resolution --------------------------------------------------------- */

/* View of sentinel si, if fresh and from a voter. */
static const struct ctl_sentinel_view *
voter_view(struct ctl_model *m, struct mgroup *g, uint32_t si, uint64_t now)
{
    uint64_t max_age = 3ull * m->cfg->sentinel_poll_ms + m->cfg->sentinel_timeout_ms;

    if (!m->sent_reachable[si] || m->sent_tilt[si] || g->views[si] == NULL ||
        !g->views[si]->valid || now - g->views[si]->at_ms > max_age) {
        return NULL;
    }
    return &g->views[si]->v;
}

/*
 * Sentinel majority for group g.  Returns the candidate (mapped) in *cand and
 * its epoch, and sets *degraded / *disagree / *failover.  0 = a majority of
 * the voters names *cand.
 *
 * Counted per group, from the sentinels that watch it: voters = reachable,
 * non-TILT sentinels with a fresh view of g (one answering "no such master"
 * is not part of g's sentinel set); known = the larger of what the freshest
 * views say (num-other-sentinels + 1: sentinels never forget a peer, so a
 * dead one still counts) and the number of voters.  Degraded = voters are
 * not a majority of known.
 */
static int
sentinel_majority(struct ctl_model *m, struct mgroup *g, struct ctl_addr *cand,
                  uint64_t *epoch, int *degraded, int *disagree, int *failover)
{
    const struct ctl_sentinel_view *views[MAX_SENTINELS], *v, *bv = NULL;
    uint64_t now = ctl_now_ms(), best = 0;
    uint32_t si, j, n = 0, known = 0, agree = 0, votes, bvotes = 0;
    uint32_t nsent = m->n_sentinels < MAX_SENTINELS ? m->n_sentinels : MAX_SENTINELS;
    int pass;

    for (si = 0; si < nsent; si++) {
        if ((v = voter_view(m, g, si, now)) != NULL) {
            views[n++] = v;
            if (v->num_other_sentinels < MAX_SENTINELS && v->num_other_sentinels + 1 > known) {
                known = v->num_other_sentinels + 1;
            }
        }
    }
    if (known < n) {
        known = n;
    }
    *degraded = n == 0 || n * 2 <= known;
    *disagree = 0;
    *failover = 0;
    /*
     * Candidate: the address at the highest config-epoch.  The leader of a
     * failover already carries the new epoch while it still names the old
     * master (until its own +switch-master, ~1 s after the others'), so views
     * flagged failover-in-progress only count when there is nothing else.
     * Equal epochs go to the address more views name.
     */
    for (pass = 0; pass < 2 && bv == NULL; pass++) {
        for (j = 0; j < n; j++) {
            v = views[j];
            if (pass == 0 && (v->master_flags & CTL_SV_FAILOVER)) {
                continue;
            }
            votes = 0;
            for (si = 0; si < n; si++) {
                votes += addr_eq(&views[si]->master, &v->master);
            }
            if (bv == NULL || v->config_epoch > best ||
                (v->config_epoch == best && votes > bvotes)) {
                bv = v;
                best = v->config_epoch;
                bvotes = votes;
            }
        }
    }
    if (bv == NULL) {
        return -1;
    }
    /* a leader already at a newer epoch than every settled view is promoting
     * another node: hold writes (no target) until the others follow */
    for (j = 0; j < n; j++) {
        if ((views[j]->master_flags & CTL_SV_FAILOVER) && views[j]->config_epoch > best) {
            *failover = 1;
            return -1;
        }
    }
    for (j = 0; j < n; j++) {
        agree += addr_eq(&views[j]->master, &bv->master);
    }
    ctl_model_map_addr(m, &bv->master, cand);
    *epoch = best;
    if (agree * 2 <= n) {
        *disagree = 1;
        return -1;
    }
    return 0;
}

/* Sync group membership with the agreeing views (sentinel groups). */
static void
sync_members(struct ctl_model *m, struct mgroup *g, const struct ctl_addr *cand)
{
    static const uint32_t bits[3] = {CTL_SV_SDOWN, CTL_SV_ODOWN, CTL_SV_DISCONNECTED};
    uint64_t now = ctl_now_ms();
    const struct ctl_sentinel_view *v;
    struct mserver *s;
    struct ctl_addr a;
    uint32_t si, r, i, b, n_agree = 0;
    uint8_t votes[MSHM_GROUP_SERVERS][3];

    memset(votes, 0, sizeof(votes));
    for (i = 0; i < g->n_servers; i++) {
        g->servers[i]->in_views = 0;
        g->servers[i]->sv_flags = 0;
    }
    s = add_server(m, g, cand, 0);
    if (s != NULL) {
        s->in_views = 1;
    }
    for (si = 0; si < m->n_sentinels && si < MAX_SENTINELS; si++) {
        v = voter_view(m, g, si, now);
        if (v == NULL) {
            continue;
        }
        ctl_model_map_addr(m, &v->master, &a);
        if (!addr_eq(&a, cand)) {
            continue;       /* only views that agree define the membership */
        }
        n_agree++;
        if (s != NULL) {
            s->sv_flags |= v->master_flags & CTL_SV_FAILOVER;
            for (b = 0; b < 3; b++) {
                for (i = 0; i < g->n_servers; i++) {
                    if (g->servers[i] == s && (v->master_flags & bits[b])) {
                        votes[i][b]++;
                    }
                }
            }
        }
        for (r = 0; r < v->n_replicas && r < MSHM_GROUP_SERVERS; r++) {
            struct mserver *rs;

            ctl_model_map_addr(m, &v->replicas[r].addr, &a);
            rs = add_server(m, g, &a, 0);
            if (rs == NULL) {
                continue;
            }
            rs->in_views = 1;
            rs->pub.power = configured_power(g, &a);
            for (i = 0; i < g->n_servers; i++) {
                if (g->servers[i] != rs) {
                    continue;
                }
                for (b = 0; b < 3; b++) {
                    votes[i][b] += (v->replicas[r].flags & bits[b]) != 0;
                }
            }
        }
    }
    /* a server is down/disconnected in the sentinels' eyes only when most of
     * the agreeing sentinels say so: one that has just discovered a replica
     * reports it disconnected for a while */
    for (i = 0; i < g->n_servers; i++) {
        for (b = 0; b < 3; b++) {
            if (votes[i][b] * 2 > n_agree) {
                g->servers[i]->sv_flags |= bits[b];
            }
        }
    }
    /* servers no agreeing sentinel lists any more are dropped */
    for (i = 0; i < g->n_servers;) {
        s = g->servers[i];
        if (!s->in_views && !s->pub.configured && s != g->master) {
            remove_server(m, g, s);
            continue;
        }
        i++;
    }
}

/* Replica lag as the master reports it (INFO slaveN:...,lag=); the master
 * names replicas by the address they connect from, so map it like any
 * sentinel-reported address before comparing. */
static uint32_t
replica_lag_ms(const struct ctl_model *m, const struct mgroup *g, const struct mserver *s)
{
    const struct ctl_probe *mp;
    struct ctl_addr a;
    uint32_t i;

    if (g->master == NULL || !g->master->probed) {
        return 0;
    }
    mp = &g->master->probe;
    for (i = 0; i < mp->n_lags && i < MSHM_GROUP_SERVERS; i++) {
        ctl_model_map_addr(m, &mp->lags[i].addr, &a);
        if (addr_eq(&a, &s->pub.addr)) {
            return mp->lags[i].lag_s * 1000u;
        }
    }
    return 0;
}

/*
 * A server's availability (issue 17): what mshm_server.health publishes and
 * what slaveDown / slaveUp / allSlavesDown / allSlavesUp follow.  The health
 * checks' verdict (after health_down_after / health_up_after), and for a
 * replica also DOWN while most agreeing sentinels flag it +sdown or +odown.
 * Readability never enters: a replica that answers but is syncing, lagging,
 * follows another master or has master_link_status:down is UP (and not
 * readable: server_flags()).  The master keeps the checks' verdict; the
 * sentinels' view of it drives ODOWN, failover and the master events.
 */
static int
avail_health(const struct mgroup *g, const struct mserver *s)
{
    if (s != g->master && s->health == MSHM_HEALTH_UP &&
        (s->sv_flags & (CTL_SV_SDOWN | CTL_SV_ODOWN))) {
        return MSHM_HEALTH_DOWN;
    }
    return s->health;
}

/* Why a replica with published record r may not serve reads (MSHM_RR_*). */
static uint16_t
unreadable_why(const struct mshm_server *r)
{
    uint16_t why = 0;

    if (r->health != MSHM_HEALTH_UP) {
        return MSHM_RR_DOWN;
    }
    if (r->flags & MSHM_SF_LINK_DOWN) {
        why |= MSHM_RR_LINK_DOWN;
    }
    if (r->flags & (MSHM_SF_SYNCING | MSHM_SF_LOADING)) {
        why |= MSHM_RR_SYNCING;
    }
    if (r->flags & MSHM_SF_LAGGING) {
        why |= MSHM_RR_LAGGING;
    }
    if (r->role != MSHM_ROLE_REPLICA) {
        why |= MSHM_RR_NO_REPLICA;
    }
    return why != 0 ? why : MSHM_RR_LINK_DOWN; /* disconnected per sentinels */
}

/* Server flags as published, and whether it may serve reads. */
static uint32_t
server_flags(struct ctl_model *m, struct mgroup *g, struct mserver *s, int *readable)
{
    uint32_t f = MSHM_SF_IN_USE;
    int master_ok = g->master != NULL && g->master->health == MSHM_HEALTH_UP;
    struct ctl_addr follows;

    *readable = 0;
    if (s->pub.discovered) {
        f |= MSHM_SF_DISCOVERED;
    }
    if (s->sv_flags & CTL_SV_SDOWN) {
        f |= MSHM_SF_SDOWN;
    }
    if (s->sv_flags & CTL_SV_ODOWN) {
        f |= MSHM_SF_ODOWN;
    }
    if (s->longname_idx != MSHM_NONE) {
        f |= MSHM_SF_HOST_LONG;
    }
    if (s->stale_master) {
        f |= MSHM_SF_STALE_MASTER;
    }
    if (s == g->master || s->health != MSHM_HEALTH_UP || !s->probed) {
        return f;
    }
    if (s->probe.loading) {
        f |= MSHM_SF_LOADING;
    }
    if (s->probe.sync_in_progress) {
        f |= MSHM_SF_SYNCING;
    }
    ctl_model_map_addr(m, &s->probe.follows, &follows);
    if (s->probe.role != MSHM_ROLE_REPLICA || !s->probe.link_up ||
        (g->master != NULL && !addr_eq(&follows, &g->master->pub.addr))) {
        f |= MSHM_SF_LINK_DOWN;
    }
    s->lag_ms = replica_lag_ms(m, g, s);
    if (s->lag_ms > g->cfg->max_lag_ms) {
        f |= MSHM_SF_LAGGING;
    }
    if (s->probe.role != MSHM_ROLE_REPLICA ||
        (f & (MSHM_SF_LOADING | MSHM_SF_SYNCING | MSHM_SF_SDOWN | MSHM_SF_LAGGING)) ||
        (s->sv_flags & CTL_SV_DISCONNECTED)) {
        return f;
    }
    /* with a healthy master a replica must follow it; while there is none
     * (read-only mode) an up replica serves its possibly stale data */
    if (master_ok && (f & MSHM_SF_LINK_DOWN)) {
        return f;
    }
    *readable = 1;
    return f | MSHM_SF_READABLE;
}

static void
resolve(struct ctl_model *m, struct mgroup *g)
{
    struct mserver *cand_s = NULL, *old_master = g->master;
    struct ctl_addr cand;
    uint64_t epoch = g->master_epoch;
    int degraded = 0, disagree = 0, failover = 0, have = -1;
    uint32_t i;

    g->flags = MSHM_GF_IN_USE;
    if (g->cfg->sentinel) {
        g->flags |= MSHM_GF_SENTINEL;
        have = sentinel_majority(m, g, &cand, &epoch, &degraded, &disagree, &failover);
        if (have == 0) {
            sync_members(m, g, &cand);
            cand_s = find_server(g, &cand);
        }
        if (failover) {
            g->flags |= MSHM_GF_FAILOVER;
        }
        /* without a majority of the group's sentinels the write target may be
         * kept, never moved: the answering minority may be partitioned or
         * restarted with an old configuration (sentinel.md b2 #1, #7) */
        if (have == 0 && degraded && g->master != NULL && cand_s != g->master) {
            have = -1;
        }
    } else {
        cand_s = find_server(g, &g->cfg->master);
        have = cand_s != NULL ? 0 : -1;
    }
    if (degraded) {
        g->flags |= MSHM_GF_DEGRADED;
        if (g->cfg->fail_writes_degraded) {
            g->flags |= MSHM_GF_FAIL_WRITES_DEGRADED;
        }
    }

    /* ROLE confirmation (tag-20261125-2) */
    if (have == 0 && cand_s != NULL) {
        if (cand_s->probed && cand_s->probe.role == MSHM_ROLE_MASTER) {
            g->master = cand_s;
            if (g->cfg->sentinel) {
                g->master_epoch = epoch;
            }
        } else if (cand_s == g->master && cand_s->health == MSHM_HEALTH_DOWN) {
            /* the confirmed master stopped answering: it stays the master
             * (reported down) until the sentinels name another */
        } else {
            /* sentinels and ROLE disagree: no write target.  Right after a
             * failover the candidate's last ROLE predates its promotion:
             * re-probe it at once. */
            g->master = NULL;
            if (g->unconfirmed_ms == 0 && m->hooks.check_now != NULL) {
                m->hooks.check_now(m->hooks.ud, &cand_s->pub);
            }
            disagree = cand_s->probed && cand_s->health == MSHM_HEALTH_UP;
        }
    } else if (degraded && g->master != NULL &&
               (g->master->health != MSHM_HEALTH_UP || g->master->probe.role == MSHM_ROLE_MASTER)) {
        /* no majority to ask: keep the last confirmed master, unless it says
         * itself that it is no master any more */
    } else {
        g->master = NULL;
    }
    /*
     * No write target is published at once; the disagreement is reported
     * (DISAGREE, noMaster event) only when it outlasts a poll round and two
     * check rounds: during every failover the sentinels switch a few ms
     * apart and the new master's ROLE is confirmed a moment later.
     */
    if (g->master == NULL) {
        uint64_t now = ctl_now_ms();
        uint64_t grace = (uint64_t)m->cfg->sentinel_poll_ms + m->cfg->sentinel_timeout_ms +
                         2ull * (m->cfg->health_interval_ms + m->cfg->health_timeout_ms);

        g->flags |= MSHM_GF_NO_MASTER;
        if (g->unconfirmed_ms == 0) {
            g->unconfirmed_ms = now;
        }
        if (disagree && now - g->unconfirmed_ms > grace) {
            g->flags |= MSHM_GF_DISAGREE;
        }
    } else {
        g->unconfirmed_ms = 0;
    }
    for (i = 0; i < g->n_servers; i++) {
        struct mserver *s = g->servers[i];

        s->stale_master = s != g->master && s->probed && s->health == MSHM_HEALTH_UP &&
                          s->probe.role == MSHM_ROLE_MASTER;
    }
    if (g->master != NULL && (g->master->sv_flags & CTL_SV_ODOWN)) {
        g->flags |= MSHM_GF_ODOWN;
    }
    if (g->master != NULL && (g->master->sv_flags & CTL_SV_FAILOVER)) {
        g->flags |= MSHM_GF_FAILOVER;
    }
    if (old_master != g->master && g->master != NULL && old_master != NULL) {
        log_info("group %s: master %s:%u -> %s:%u", g->cfg->name, old_master->pub.addr.host,
                 old_master->pub.addr.port, g->master->pub.addr.host, g->master->pub.addr.port);
    }
}

/* Build and stage the segment records of group g; derive its events. */
static void
publish_group(struct ctl_model *m, struct mgroup *g, int emit)
{
    struct mshm_group rec;
    struct mshm_server srec;
    uint32_t i, master_idx = g->master ? g->master->pub.idx : MSHM_NONE;
    int readable = 0, n_replicas = 0, n_avail = 0, n_rdown = 0, master_up;
    int all_down = g->seen.all_down;
    uint16_t why = 0;

    uint64_t now = ctl_now_ms();
    int refresh = now - g->volatile_ms >= VOLATILE_REFRESH_MS;

    memset(&rec, 0, sizeof(rec));
    for (i = 0; i < g->n_servers; i++) {
        struct mserver *s = g->servers[i];
        const struct mshm_server *prev = mshm_w_server(m->w, s->pub.idx);
        int r;

        memset(&srec, 0, sizeof(srec));
        srec.flags = server_flags(m, g, s, &r);
        readable += r;
        srec.health = (uint8_t)avail_health(g, s);
        /* transitions of the published availability (adopted records
         * carry the counts clients have seen) */
        if (srec.health == MSHM_HEALTH_DOWN && prev->health == MSHM_HEALTH_UP &&
            (prev->flags & MSHM_SF_IN_USE)) {
            s->n_down++;
        } else if (srec.health == MSHM_HEALTH_UP &&
                   (prev->health != MSHM_HEALTH_UP || !(prev->flags & MSHM_SF_IN_USE))) {
            s->n_up++;
        }
        if (s->longname_idx != MSHM_NONE) {
            mshm_w_put_longname(m->w, s->longname_idx, s->pub.addr.host);
            srec.longname_idx = s->longname_idx;
        } else {
            /* short: add_server put long ones in the long-name table */
            memcpy(srec.host, s->pub.addr.host,
                   strnlen(s->pub.addr.host, sizeof(srec.host) - 1));
            srec.longname_idx = MSHM_NONE;
        }
        srec.port = s->pub.addr.port;
        srec.group_idx = g->idx;
        srec.power = s->pub.power;
        srec.role = (uint8_t)(s == g->master ? MSHM_ROLE_MASTER
                              : s->probed   ? s->probe.role
                                            : MSHM_ROLE_UNKNOWN);
        srec.n_down = s->n_down;
        srec.n_up = s->n_up;
        srec.lag_ms = s->lag_ms;
        srec.rtt_us = s->probe.rtt_us;
        srec.repl_offset = s->probe.offset;
        srec.last_ok_mono_ns = s->last_ok_ns;
        if (!refresh && (prev->flags & MSHM_SF_IN_USE)) {
            struct mshm_server same = srec;

            same.lag_ms = prev->lag_ms;
            same.rtt_us = prev->rtt_us;
            same.repl_offset = prev->repl_offset;
            same.last_ok_mono_ns = prev->last_ok_mono_ns;
            same.change_seq = prev->change_seq;
            same.gen = prev->gen;
            if (memcmp(&same, prev, sizeof(same)) == 0) {
                srec = same;    /* nothing but the volatile fields moved */
            }
        }
        if (s != g->master) {
            n_replicas++;
            n_avail += srec.health == MSHM_HEALTH_UP;
            n_rdown += srec.health == MSHM_HEALTH_DOWN;
            if (!r) {
                why |= unreadable_why(&srec);
            }
        }
        mshm_w_put_server(m->w, s->pub.idx, &srec);
        rec.servers[i] = s->pub.idx;
    }
    master_up = g->master != NULL && g->master->health == MSHM_HEALTH_UP;

    /* events: compare with what clients saw last */
    if (emit && g->seen.valid) {
        struct mserver *last = NULL;

        for (i = 0; i < g->n_servers; i++) {
            if (g->servers[i]->pub.idx == g->seen.last_master) {
                last = g->servers[i];
            }
        }
        if (g->master != NULL && g->seen.last_master != MSHM_NONE &&
            (master_idx != g->seen.last_master ||
             mshm_w_server(m->w, master_idx)->gen != g->seen.last_master_gen)) {
            /* a different node than the last published master */
            g->n_master_switch++;
            ctl_event(m, g, MSHM_EV_MASTER_SWITCH, g->master, last, "+switch-master");
            if (master_up) {
                g->n_master_up++;
                ctl_event(m, g, MSHM_EV_MASTER_UP, g->master, NULL, "-sdown");
            }
        } else if (g->master != NULL) {
            /* the same node: up/down, also across a no-master interval */
            int was_up = g->seen.master_idx == master_idx && g->seen.master_up;

            if (g->seen.master_up && !master_up) {
                g->n_master_down++;
                ctl_event(m, g, MSHM_EV_MASTER_DOWN, g->master, NULL, "+sdown");
            } else if (!was_up && master_up) {
                g->n_master_up++;
                ctl_event(m, g, MSHM_EV_MASTER_UP, g->master, NULL, "-sdown");
            }
        } else if (g->seen.master_idx != MSHM_NONE && g->seen.master_up) {
            /* no write target any more while the master looked up */
            g->n_master_down++;
            ctl_event(m, g, MSHM_EV_MASTER_DOWN, last, NULL, "+sdown");
        }
        if (g->master == NULL && (g->flags & MSHM_GF_DISAGREE) &&
            !(g->seen.no_master && g->seen.disagree)) {
            ctl_event(m, g, MSHM_EV_NO_MASTER, NULL, NULL, "+no-master");
        }
        /* availability (issue 17): allSlavesDown when every replica is
         * down and one was up at the last publish; allSlavesUp when the
         * first is up again after that -- never from readability */
        if (!all_down && n_replicas > 0 && n_rdown == n_replicas && g->seen.avail > 0) {
            g->n_all_down++;
            all_down = 1;
            ctl_event(m, g, MSHM_EV_ALL_SLAVES_DOWN, NULL, NULL, "+all-slaves-down");
        } else if (all_down && n_avail > 0) {
            g->n_all_up++;
            all_down = 0;
            ctl_event(m, g, MSHM_EV_ALL_SLAVES_UP, NULL, NULL, "-all-slaves-down");
        }
        /* readability: no replica may serve reads (with why), and back */
        if (n_replicas > 0 && readable == 0 && g->seen.readable > 0) {
            ctl_event_why(m, g, MSHM_EV_READS_UNAVAILABLE, NULL, NULL, "+reads-unavailable",
                          why);
        } else if (readable > 0 && g->seen.readable == 0) {
            ctl_event(m, g, MSHM_EV_READS_AVAILABLE, NULL, NULL, "-reads-unavailable");
        }
        if ((g->flags & MSHM_GF_DEGRADED) && !g->seen.degraded) {
            g->n_degraded++;
            ctl_event(m, g, MSHM_EV_GROUP_DEGRADED, NULL, NULL, "+degraded");
        } else if (!(g->flags & MSHM_GF_DEGRADED) && g->seen.degraded) {
            ctl_event(m, g, MSHM_EV_GROUP_RECOVERED, NULL, NULL, "-degraded");
        }
    }
    if (emit && !g->seen.valid) {
        /* the group's first publish (a new segment, or a group added by a
         * reload): "up for the first time" -- the replicas' slaveUp came
         * from replica_events() */
        if (master_up) {
            g->n_master_up++;
            ctl_event(m, g, MSHM_EV_MASTER_UP, g->master, NULL, "-sdown");
        }
        if (readable > 0) {
            ctl_event(m, g, MSHM_EV_READS_AVAILABLE, NULL, NULL, "-reads-unavailable");
        }
    }
    if (n_replicas > 0 && readable == 0) {
        g->flags |= MSHM_GF_NO_READS;
    }
    if (all_down) {
        g->flags |= MSHM_GF_ALL_REPLICAS_DOWN;
    }

    snprintf(rec.name, sizeof(rec.name), "%s", g->cfg->name);
    rec.flags = g->flags | MSHM_GF_IN_USE;
    rec.master_idx = master_idx;
    rec.master_epoch = g->master_epoch;
    rec.power = g->cfg->power;
    rec.max_lag_ms = g->cfg->max_lag_ms;
    rec.route = (uint8_t)g->cfg->route;
    rec.n_servers = (uint16_t)g->n_servers;
    rec.n_master_down = g->n_master_down;
    rec.n_master_up = g->n_master_up;
    rec.n_master_switch = g->n_master_switch;
    rec.n_all_slaves_down = g->n_all_down;
    rec.n_all_slaves_up = g->n_all_up;
    rec.n_degraded = g->n_degraded;
    mshm_w_put_group(m->w, g->idx, &rec);

    if (refresh) {
        g->volatile_ms = now;
    }
    g->seen.valid = 1;
    g->seen.master_idx = master_idx;
    if (master_idx != MSHM_NONE) {
        g->seen.last_master = master_idx;
        g->seen.last_master_gen = mshm_w_server(m->w, master_idx)->gen;
    }
    g->seen.disagree = (g->flags & MSHM_GF_DISAGREE) != 0;
    g->seen.master_up = master_up;
    g->seen.readable = readable;
    g->seen.avail = n_avail;
    g->seen.all_down = all_down;
    g->seen.degraded = (g->flags & MSHM_GF_DEGRADED) != 0;
    g->seen.no_master = g->master == NULL;
}

/* Replica down/up events: from each server's availability transition since
 * the last publish, (published health) vs avail_health(). */
static void
replica_events(struct ctl_model *m, struct mgroup *g)
{
    uint32_t i;

    for (i = 0; i < g->n_servers; i++) {
        struct mserver *s = g->servers[i];
        const struct mshm_server *prev = mshm_w_server(m->w, s->pub.idx);
        int in_use = (prev->flags & MSHM_SF_IN_USE) != 0;
        int was, now;

        if (s == g->master) {
            continue;
        }
        if (in_use && prev->role == MSHM_ROLE_MASTER && prev->health == MSHM_HEALTH_UP &&
            avail_health(g, s) != MSHM_HEALTH_UP) {
            continue;       /* the old master going down was reported as such */
        }
        /* availability, never readability: up but unreadable is up.  A
         * server not yet published (first publish, new in the group) or
         * never checked is up for the first time when it comes up, and
         * never goes down before it was up. */
        was = in_use ? prev->health : MSHM_HEALTH_UNKNOWN;
        now = avail_health(g, s);
        if (was == MSHM_HEALTH_UP && now == MSHM_HEALTH_DOWN) {
            ctl_event(m, g, MSHM_EV_SLAVE_DOWN, s, NULL, "+sdown");
        } else if (was != MSHM_HEALTH_UP && now == MSHM_HEALTH_UP) {
            ctl_event(m, g, MSHM_EV_SLAVE_UP, s, NULL, "-sdown");
        }
    }
}

/*
 * Before a `slots` cluster's new table replaces the published one (a reload
 * that moved slots), say how many slots now map to another group: those are
 * the keys an operator migrates.  Compares by cluster name and by group
 * index (stable across reloads), so reordered members move nothing.
 */
static void
log_slot_moves(struct ctl_model *m)
{
    const struct ctl_config *cfg = m->cfg;
    const struct mshm_geo *geo = mshm_w_geo(m->w);
    uint32_t i, oi, s, moved;

    for (i = 0; i < cfg->n_clusters; i++) {
        const struct ctl_cluster_cfg *c = &cfg->clusters[i];
        const struct mshm_cluster *old = NULL;
        const struct mshm_slotmap *om;

        if (c->slots == NULL) {
            continue;
        }
        for (oi = 0; oi < geo->cluster_cap; oi++) {
            const struct mshm_cluster *r = mshm_w_cluster(m->w, oi);

            if ((r->flags & (MSHM_CF_IN_USE | MSHM_CF_SLOTMAP)) ==
                    (MSHM_CF_IN_USE | MSHM_CF_SLOTMAP) && strcmp(r->name, c->name) == 0) {
                old = r;
                break;
            }
        }
        if (old == NULL || (om = mshm_w_slotmap(m->w, old->slotmap_idx)) == NULL ||
            (om->flags & MSHM_SMF_IN_USE) == 0) {
            continue;
        }
        moved = 0;
        for (s = 0; s < MSHM_SLOTS; s++) {
            uint32_t was = om->member[s] < old->n_members ? old->members[om->member[s]].idx
                                                          : MSHM_NONE;

            if (was != m->groups[c->members[c->slots[s]].idx].idx) {
                moved++;
            }
        }
        if (moved > 0) {
            log_notice("cluster %s: %u of %u slots (%.2f%%) now map to another group; their "
                       "keys must be migrated by the operator", c->name, moved, MSHM_SLOTS,
                       100.0 * moved / MSHM_SLOTS);
        }
    }
}

/* Publish clusters and farms from the configuration. */
static void
publish_clusters(struct ctl_model *m)
{
    const struct ctl_config *cfg = m->cfg;
    const struct mshm_geo *geo = mshm_w_geo(m->w);
    struct mshm_slotmap *sm = NULL;
    uint32_t i, j, n_maps = 0;

    log_slot_moves(m);

    for (i = 0; i < cfg->n_clusters && i < geo->cluster_cap; i++) {
        const struct ctl_cluster_cfg *c = &cfg->clusters[i];
        struct mshm_cluster rec;

        memset(&rec, 0, sizeof(rec));
        snprintf(rec.name, sizeof(rec.name), "%s", c->name);
        rec.flags = MSHM_CF_IN_USE | (c->has_tag ? MSHM_CF_HASH_TAG : 0);
        rec.kind = c->rule == CTL_RULE_MARSHAL10 ? MSHM_KIND_FARM : MSHM_KIND_CLUSTER;
        rec.rule = (uint8_t)c->rule;
        rec.dist = (uint8_t)c->dist;
        rec.hash = (uint8_t)c->hash;
        rec.mirror_policy = (uint8_t)c->policy;
        rec.hash_tag[0] = (uint8_t)c->tag[0];
        rec.hash_tag[1] = (uint8_t)c->tag[1];
        rec.n_members = (uint16_t)c->n_members;
        rec.primary = c->primary >= 0 ? (uint32_t)c->primary : MSHM_NONE;
        for (j = 0; j < c->n_members && j < MSHM_CLUSTER_MEMBERS; j++) {
            rec.members[j].idx = rec.kind == MSHM_KIND_FARM ? c->members[j].idx
                                                            : m->groups[c->members[j].idx].idx;
            rec.members[j].power = (uint16_t)c->members[j].power;
            rec.members[j].flags = (int)j == c->primary ? MSHM_MF_PRIMARY : 0;
            if (m->diverged[i] & (1u << j)) {
                rec.members[j].flags |= MSHM_MF_DIVERGED;
            }
        }
        /* the k-th `slots` cluster owns slot map k; both go out in one commit */
        if (c->slots != NULL && n_maps < geo->slotmap_cap) {
            if (sm == NULL && (sm = malloc(sizeof(*sm))) == NULL) {
                log_warn("cluster %s: out of memory for its slot map: not routable", c->name);
            } else {
                memset(sm, 0, sizeof(*sm));
                sm->flags = MSHM_SMF_IN_USE;
                sm->cluster_idx = i;
                memcpy(sm->member, c->slots, MSHM_SLOTS);
                mshm_w_put_slotmap(m->w, n_maps, sm);
                rec.flags |= MSHM_CF_SLOTMAP;
                rec.slotmap_idx = n_maps;
                rec.slotmap_seq = (uint32_t)mshm_w_slotmap(m->w, n_maps)->change_seq;
                n_maps++;
            }
        } else if (c->slots != NULL) {
            log_warn("cluster %s: segment.capacity.slot_maps (%u) is full: not routable "
                     "until a restart with a larger capacity", c->name, geo->slotmap_cap);
        }
        mshm_w_put_cluster(m->w, i, &rec);
    }
    for (; i < geo->cluster_cap; i++) {
        if (mshm_w_cluster(m->w, i)->flags & MSHM_CF_IN_USE) {
            mshm_w_del_cluster(m->w, i);
        }
    }
    for (; n_maps < geo->slotmap_cap; n_maps++) {
        mshm_w_del_slotmap(m->w, n_maps);
    }
    free(sm);
}

int
ctl_model_mirror_diverged(struct ctl_model *m, const char *cluster, const char *member, int on,
                          char *why, size_t whylen)
{
    const struct ctl_cluster_cfg *c;
    int ci, j;
    uint32_t bit;

    if ((ci = cfg_cluster(m->cfg, cluster)) < 0) {
        snprintf(why, whylen, "no cluster or farm named \"%s\"", cluster);
        return -1;
    }
    c = &m->cfg->clusters[ci];
    if (!is_mirror(c)) {
        snprintf(why, whylen, "%s is a %s cluster, not a mirror (marshal1 or marshal10)",
                 c->name, ctl_rule_name(c->rule));
        return -1;
    }
    if ((uint32_t)ci >= mshm_w_geo(m->w)->cluster_cap) {
        snprintf(why, whylen, "%s is not in the segment (segment.capacity.clusters)", c->name);
        return -1;
    }
    if ((j = cfg_member(c, member)) < 0) {
        snprintf(why, whylen, "%s has no member \"%s\"", c->name, member);
        return -1;
    }
    if (j == c->primary) {
        snprintf(why, whylen, "%s is the primary of %s", member, c->name);
        return -1;
    }
    bit = 1u << j;
    if (((m->diverged[ci] & bit) != 0) == (on != 0)) {
        return 0;
    }
    m->diverged[ci] ^= bit;
    mirror_event(m, (uint32_t)ci, (uint32_t)j, on);
    if (!m->warming) {
        publish_clusters(m);    /* committed by the next ctl_model_flush */
    }
    return 1;
}

/* After warm-up: remove adopted records nothing in the model owns. */
static void
drop_orphans(struct ctl_model *m)
{
    const struct mshm_geo *geo = mshm_w_geo(m->w);
    uint32_t i, j;

    for (i = 0; i < geo->server_cap; i++) {
        if (!m->idx_used[i] && (mshm_w_server(m->w, i)->flags & MSHM_SF_IN_USE)) {
            mshm_w_del_server(m->w, i);
        }
    }
    for (i = 0; i < geo->group_cap; i++) {
        int owned = 0;

        if ((mshm_w_group(m->w, i)->flags & MSHM_GF_IN_USE) == 0) {
            continue;
        }
        for (j = 0; j < m->n_groups; j++) {
            owned |= m->groups[j].idx == i;
        }
        if (!owned) {
            mshm_w_del_group(m->w, i);
        }
    }
}

/* Warm-up is over when every server was probed and every sentinel group has
 * a view from a majority of the known sentinels -- or after a deadline. */
static int
warm(struct ctl_model *m)
{
    uint64_t now = ctl_now_ms();
    uint64_t deadline = 2ull * m->cfg->sentinel_poll_ms + m->cfg->sentinel_timeout_ms +
                        (uint64_t)m->cfg->health_timeout_ms + 500;
    struct mserver *s;
    uint32_t i, si, n;

    if (now - m->start_ms > deadline) {
        return 1;
    }
    for (s = m->servers; s != NULL; s = s->next) {
        if (!s->probed) {
            return 0;
        }
    }
    for (i = 0; i < m->n_groups; i++) {
        if (!m->groups[i].cfg->sentinel) {
            continue;
        }
        for (si = 0, n = 0; si < m->n_sentinels && si < MAX_SENTINELS; si++) {
            n += m->groups[i].views[si] != NULL && m->groups[i].views[si]->valid;
        }
        if (n * 2 <= m->n_sentinels) {
            return 0;
        }
    }
    return 1;
}

int
ctl_model_flush(struct ctl_model *m)
{
    uint32_t i;
    int rc, first = 0;

    if (m->warming) {
        /* learn membership and probe it, but publish nothing yet */
        for (i = 0; i < m->n_groups; i++) {
            if (m->groups[i].dirty) {
                m->groups[i].dirty = 0;
                resolve(m, &m->groups[i]);
            }
        }
        if (!warm(m)) {
            return 0;
        }
        m->warming = 0;
        first = 1;
        log_notice("first full resolve done: publishing%s", m->adopted ? " (adopted segment)" : "");
    }
    for (i = 0; i < m->n_groups; i++) {
        struct mgroup *g = &m->groups[i];

        if (!g->dirty && !first) {
            continue;
        }
        g->dirty = 0;
        resolve(m, g);
        replica_events(m, g);
        publish_group(m, g, 1);
    }
    if (first) {
        publish_clusters(m);
        drop_orphans(m);
        mshm_w_set_flags(m->w, 0, MSHM_HF_WARMING_UP);
    }
    rc = mshm_w_commit(m->w);
    return rc;
}

void
ctl_model_tick(struct ctl_model *m)
{
    uint32_t i;

    uint64_t now = ctl_now_ms();
    uint64_t max_age = 3ull * m->cfg->sentinel_poll_ms + m->cfg->sentinel_timeout_ms;
    uint32_t si;

    /* re-resolve groups a silent sentinel's view is ageing out of (it must
     * stop counting), and groups waiting for a master to be confirmed */
    for (i = 0; i < m->n_groups; i++) {
        struct mgroup *g = &m->groups[i];

        if (!g->cfg->sentinel || g->dirty) {
            continue;
        }
        if (g->unconfirmed_ms != 0) {
            g->dirty = 1;
            continue;
        }
        for (si = 0; si < MAX_SENTINELS && si < m->n_sentinels; si++) {
            if (g->views[si] != NULL && g->views[si]->valid &&
                now - g->views[si]->at_ms > max_age) {
                g->views[si]->valid = 0;    /* expired: stops counting */
                g->dirty = 1;
            }
        }
    }
}

/* Same groups, and the same servers in every static group? */
static int
same_topology(const struct ctl_model *m, const struct ctl_config *cfg)
{
    uint32_t i, j;

    if (cfg->n_groups != m->n_groups) {
        return 0;
    }
    for (i = 0; i < cfg->n_groups; i++) {
        const struct ctl_group_cfg *a = &cfg->groups[i], *b = m->groups[i].cfg;

        if (strcmp(a->name, b->name) != 0 || a->sentinel != b->sentinel ||
            (!a->sentinel && !addr_eq(&a->master, &b->master)) ||
            (!a->sentinel && a->n_replicas != b->n_replicas)) {
            return 0;
        }
        for (j = 0; !a->sentinel && j < a->n_replicas; j++) {
            if (!addr_eq(&a->replicas[j].addr, &b->replicas[j].addr)) {
                return 0;
            }
        }
    }
    return 1;
}

/*
 * Groups were added, removed or changed their servers: rebuild the model the
 * way a restarted controller would -- from the state last published, which
 * keeps every index, counter and master clients know, so there are no false
 * events -- and warm up again (nothing is published until the new topology
 * is resolved; clients keep the previous state meanwhile).
 */
static int
rebuild(struct ctl_model *m, const struct ctl_config *cfg)
{
    const struct mshm_geo *geo = mshm_w_geo(m->w);
    struct mgroup *old_groups = m->groups;
    uint32_t old_n = m->n_groups, i;
    struct mserver *s, *next;

    m->groups = NULL;
    if (build_groups(m, cfg) != 0) {
        free(m->groups);
        m->groups = old_groups;
        m->n_groups = old_n;
        return -1;
    }
    for (s = m->servers; s != NULL; s = next) {
        next = s->next;
        if (m->hooks.server_removed != NULL) {
            m->hooks.server_removed(m->hooks.ud, &s->pub);
        }
        free(s);
    }
    m->servers = NULL;
    free_views(old_groups, old_n);
    free(old_groups);
    memset(m->idx_used, 0, geo->server_cap);
    memset(m->ln_used, 0, geo->longname_cap ? geo->longname_cap : 1);
    m->cfg = cfg;
    m->adopted = 1;
    m->warming = 1;
    m->start_ms = ctl_now_ms();
    mshm_w_set_flags(m->w, MSHM_HF_WARMING_UP, 0);
    for (i = 0; i < m->n_groups; i++) {
        m->groups[i].dirty = 1;
        seed_servers(m, &m->groups[i]);
    }
    log_notice("groups changed: topology rebuilt from the published state; warming up");
    return 0;
}

int
ctl_model_reconfigure(struct ctl_model *m, const struct ctl_config *cfg)
{
    const struct ctl_config *old = m->cfg;
    uint32_t *div = calloc(cfg->n_clusters ? cfg->n_clusters : 1, sizeof(*div));
    uint32_t i;

    if (div == NULL) {
        return -1;
    }
    if (!same_topology(m, cfg)) {
        if (rebuild(m, cfg) != 0) {
            free(div);
            return -1;
        }
        /* clusters are published with the first resolve of the new topology */
        remap_diverged(old, m->diverged, cfg, div);
        free(m->diverged);
        m->diverged = div;
        return 0;
    }
    remap_diverged(old, m->diverged, cfg, div);
    free(m->diverged);
    m->diverged = div;
    m->cfg = cfg;
    for (i = 0; i < cfg->n_groups; i++) {
        struct mgroup *g = &m->groups[i];
        uint32_t j;

        g->cfg = &cfg->groups[i];
        g->dirty = 1;
        for (j = 0; !g->cfg->sentinel && j < g->n_servers; j++) {
            struct mserver *s = g->servers[j];

            s->pub.power = addr_eq(&s->pub.addr, &g->cfg->master)
                               ? 1 : configured_power(g, &s->pub.addr);
        }
    }
    publish_clusters(m);
    return 0;
}
