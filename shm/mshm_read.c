/*
 * mshm_read.c -- latch read loop, record snapshots, whole-state copies,
 * invariant checks, the event ring cursor, futex waits and liveness.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mshm_read.h"

uint64_t
mshm_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
mshm_read(const struct mshm_reader *r, mshm_copy_fn fn, void *arg, uint64_t *latch_out)
{
    const struct mshm_header *h = mshm_hdr(r);
    struct mshm_view v;
    uint64_t l1;
    unsigned tries;
    int rc;

    v.geo = &r->geo;
    for (tries = 0;; tries++) {
        l1 = mshm_ld_acq(&h->latch);                 /* LMM(read:A) */
        v.slot = r->base + r->geo.slot_off[l1 & 1];
        rc = fn(&v, arg);
        mshm_fence_acq();                            /* LMM(read:B) */
        if (mshm_ld(&h->latch) == l1) {
            break;
        }
        if (tries < MSHM_READ_SPINS) {
            mshm_cpu_relax();
        } else if (tries < MSHM_READ_SPINS + MSHM_READ_YIELDS) {
            sched_yield();
        } else {
            return MSHM_ERR_BUSY;
        }
    }
    if (latch_out != NULL) {
        *latch_out = l1;
    }
    return rc;
}

const struct mshm_slot_hdr *
mshm_view_slot_hdr(const struct mshm_view *v)
{
    return (const struct mshm_slot_hdr *)(const void *)v->slot;
}

const struct mshm_group *
mshm_view_group(const struct mshm_view *v, uint32_t idx)
{
    if (idx >= v->geo->group_cap) {
        return NULL;
    }
    return (const void *)(v->slot + v->geo->group_off + (size_t)idx * v->geo->group_stride);
}

const struct mshm_server *
mshm_view_server(const struct mshm_view *v, uint32_t idx)
{
    if (idx >= v->geo->server_cap) {
        return NULL;
    }
    return (const void *)(v->slot + v->geo->server_off + (size_t)idx * v->geo->server_stride);
}

const struct mshm_cluster *
mshm_view_cluster(const struct mshm_view *v, uint32_t idx)
{
    if (idx >= v->geo->cluster_cap) {
        return NULL;
    }
    return (const void *)(v->slot + v->geo->cluster_off +
                          (size_t)idx * v->geo->cluster_stride);
}

const struct mshm_longname *
mshm_view_longname(const struct mshm_view *v, uint32_t idx)
{
    if (idx >= v->geo->longname_cap) {
        return NULL;
    }
    return (const void *)(v->slot + v->geo->longname_off +
                          (size_t)idx * v->geo->longname_stride);
}

const struct mshm_slotmap *
mshm_view_slotmap(const struct mshm_view *v, uint32_t idx)
{
    if (idx >= v->geo->slotmap_cap) {
        return NULL;
    }
    return (const void *)(v->slot + v->geo->slotmap_off +
                          (size_t)idx * v->geo->slotmap_stride);
}

/* ---- group snapshot ----------------------------------------------------- */

struct group_arg {
    uint32_t gi;
    struct mshm_group_snap *out;
};

static int
copy_group(const struct mshm_view *v, void *arg)
{
    struct group_arg *a = arg;
    const struct mshm_group *g = mshm_view_group(v, a->gi);
    const struct mshm_server *s;
    uint32_t i, n;

    if (g == NULL) {
        return MSHM_ERR_RANGE;
    }
    mshm_copy_in(&a->out->group, g, sizeof(*g));
    if ((a->out->group.flags & MSHM_GF_IN_USE) == 0) {
        return MSHM_ERR_NOTFOUND;
    }
    n = a->out->group.n_servers;
    if (n > MSHM_GROUP_SERVERS) {
        return MSHM_ERR_CORRUPT;
    }
    for (i = 0; i < n; i++) {
        s = mshm_view_server(v, a->out->group.servers[i]);
        if (s == NULL) {
            return MSHM_ERR_CORRUPT;
        }
        mshm_copy_in(&a->out->servers[i], s, sizeof(*s));
    }
    return MSHM_OK;
}

int
mshm_snap_group(const struct mshm_reader *r, uint32_t gi, struct mshm_group_snap *out)
{
    struct group_arg a = {gi, out};
    uint32_t i;
    int rc;

    if (gi >= r->geo.group_cap) {
        return MSHM_ERR_RANGE;
    }
    rc = mshm_read(r, copy_group, &a, &out->latch);
    if (rc != MSHM_OK) {
        return rc;
    }
    out->group.name[MSHM_NAME_MAX - 1] = '\0';
    for (i = 0; i < out->group.n_servers; i++) {
        out->servers[i].host[MSHM_HOST_INLINE - 1] = '\0';
    }
    if (out->group.master_idx != MSHM_NONE && out->group.master_idx >= r->geo.server_cap) {
        return MSHM_ERR_CORRUPT;
    }
    return MSHM_OK;
}

/* ---- server snapshot ---------------------------------------------------- */

struct server_arg {
    uint32_t si;
    struct mshm_server *out;
    char *host;
};

static int
copy_server(const struct mshm_view *v, void *arg)
{
    struct server_arg *a = arg;
    const struct mshm_server *s = mshm_view_server(v, a->si);
    const struct mshm_longname *ln;

    if (s == NULL) {
        return MSHM_ERR_RANGE;
    }
    mshm_copy_in(a->out, s, sizeof(*s));
    if ((a->out->flags & MSHM_SF_IN_USE) == 0) {
        return MSHM_ERR_NOTFOUND;
    }
    if (a->host == NULL) {
        return MSHM_OK;
    }
    if (a->out->flags & MSHM_SF_HOST_LONG) {
        ln = mshm_view_longname(v, a->out->longname_idx);
        if (ln == NULL) {
            return MSHM_ERR_CORRUPT;
        }
        mshm_copy_in(a->host, ln->host, MSHM_HOST_MAX);
    } else {
        memcpy(a->host, a->out->host, MSHM_HOST_INLINE);
    }
    return MSHM_OK;
}

int
mshm_snap_server(const struct mshm_reader *r, uint32_t si, struct mshm_server *out,
                 char *host)
{
    struct server_arg a = {si, out, host};
    int rc;

    if (si >= r->geo.server_cap) {
        return MSHM_ERR_RANGE;
    }
    rc = mshm_read(r, copy_server, &a, NULL);
    if (rc != MSHM_OK) {
        return rc;
    }
    out->host[MSHM_HOST_INLINE - 1] = '\0';
    if (host != NULL) {
        host[(out->flags & MSHM_SF_HOST_LONG) ? MSHM_HOST_MAX - 1 : MSHM_HOST_INLINE - 1] =
            '\0';
    }
    return MSHM_OK;
}

/* ---- cluster snapshot --------------------------------------------------- */

struct cluster_arg {
    uint32_t ci;
    struct mshm_cluster *out;
    uint8_t *member;              /* NULL: the record only; else its slot map too */
};

static int
copy_cluster(const struct mshm_view *v, void *arg)
{
    struct cluster_arg *a = arg;
    const struct mshm_cluster *c = mshm_view_cluster(v, a->ci);
    const struct mshm_slotmap *m;

    if (c == NULL) {
        return MSHM_ERR_RANGE;
    }
    mshm_copy_in(a->out, c, sizeof(*c));
    if ((a->out->flags & MSHM_CF_IN_USE) == 0) {
        return MSHM_ERR_NOTFOUND;
    }
    if (a->member == NULL) {
        return MSHM_OK;
    }
    if ((a->out->flags & MSHM_CF_SLOTMAP) == 0) {
        return MSHM_ERR_NOTFOUND;
    }
    if (a->out->slotmap_idx >= mshm_ld(&mshm_view_slot_hdr(v)->n_slotmaps) ||
        (m = mshm_view_slotmap(v, a->out->slotmap_idx)) == NULL) {
        return MSHM_ERR_CORRUPT;
    }
    if ((mshm_ld(&m->flags) & MSHM_SMF_IN_USE) == 0 || mshm_ld(&m->cluster_idx) != a->ci) {
        return MSHM_ERR_CORRUPT;
    }
    mshm_copy_in(a->member, m->member, MSHM_SLOTS);
    return MSHM_OK;
}

static int
snap_cluster(const struct mshm_reader *r, uint32_t ci, struct mshm_cluster *out,
             uint8_t *member)
{
    struct cluster_arg a = {ci, out, member};
    uint32_t s;
    int rc;

    if (ci >= r->geo.cluster_cap) {
        return MSHM_ERR_RANGE;
    }
    rc = mshm_read(r, copy_cluster, &a, NULL);
    if (rc != MSHM_OK) {
        return rc;
    }
    out->name[MSHM_NAME_MAX - 1] = '\0';
    if (out->n_members > MSHM_CLUSTER_MEMBERS) {
        return MSHM_ERR_CORRUPT;
    }
    for (s = 0; member != NULL && s < MSHM_SLOTS; s++) {
        if (member[s] != MSHM_SLOT_NONE && member[s] >= out->n_members) {
            return MSHM_ERR_CORRUPT;
        }
    }
    return MSHM_OK;
}

int
mshm_snap_cluster(const struct mshm_reader *r, uint32_t ci, struct mshm_cluster *out)
{
    return snap_cluster(r, ci, out, NULL);
}

int
mshm_snap_cluster_slots(const struct mshm_reader *r, uint32_t ci, struct mshm_cluster *out,
                        uint8_t member[MSHM_SLOTS])
{
    return snap_cluster(r, ci, out, member);
}

/* ---- find by name ------------------------------------------------------- */

struct find_arg {
    const char *name;
    size_t len;
    int groups;          /* 1 = groups, 0 = clusters */
    uint32_t idx;
};

static int
copy_find(const struct mshm_view *v, void *arg)
{
    struct find_arg *a = arg;
    const struct mshm_slot_hdr *sh = mshm_view_slot_hdr(v);
    char name[MSHM_NAME_MAX];
    uint32_t i, n, flags, inuse;

    n = mshm_ld(a->groups ? &sh->n_groups : &sh->n_clusters);
    if (n > (a->groups ? v->geo->group_cap : v->geo->cluster_cap)) {
        return MSHM_ERR_CORRUPT;
    }
    inuse = a->groups ? MSHM_GF_IN_USE : MSHM_CF_IN_USE;
    for (i = 0; i < n; i++) {
        const char *src;

        if (a->groups) {
            const struct mshm_group *g = mshm_view_group(v, i);
            flags = mshm_ld(&g->flags);
            src = g->name;
        } else {
            const struct mshm_cluster *c = mshm_view_cluster(v, i);
            flags = mshm_ld(&c->flags);
            src = c->name;
        }
        if ((flags & inuse) == 0) {
            continue;
        }
        mshm_copy_in(name, src, sizeof(name));
        name[sizeof(name) - 1] = '\0';
        if (memcmp(name, a->name, a->len + 1) == 0) {
            a->idx = i;
            return MSHM_OK;
        }
    }
    return MSHM_ERR_NOTFOUND;
}

static int
find_named(const struct mshm_reader *r, const char *name, int groups, uint32_t *idx)
{
    struct find_arg a;
    int rc;

    a.name = name;
    a.len = strlen(name);
    a.groups = groups;
    a.idx = MSHM_NONE;
    if (a.len >= MSHM_NAME_MAX) {
        return MSHM_ERR_NOTFOUND;
    }
    rc = mshm_read(r, copy_find, &a, NULL);
    if (rc == MSHM_OK) {
        *idx = a.idx;
    }
    return rc;
}

int
mshm_find_group(const struct mshm_reader *r, const char *name, uint32_t *idx)
{
    return find_named(r, name, 1, idx);
}

int
mshm_find_cluster(const struct mshm_reader *r, const char *name, uint32_t *idx)
{
    return find_named(r, name, 0, idx);
}

/* ---- whole state -------------------------------------------------------- */

static int
copy_state(const struct mshm_view *v, void *arg)
{
    struct mshm_state *st = arg;
    const struct mshm_geo *g = v->geo;
    struct mshm_slot_hdr *h = &st->hdr;
    uint32_t i;

    mshm_copy_in(h, mshm_view_slot_hdr(v), sizeof(*h));
    if (h->n_groups > g->group_cap || h->n_servers > g->server_cap ||
        h->n_clusters > g->cluster_cap || h->n_longnames > g->longname_cap ||
        h->n_slotmaps > g->slotmap_cap) {
        return MSHM_ERR_CORRUPT;
    }
    for (i = 0; i < h->n_groups; i++) {
        mshm_copy_in(&st->groups[i], mshm_view_group(v, i), sizeof(struct mshm_group));
    }
    for (i = 0; i < h->n_servers; i++) {
        mshm_copy_in(&st->servers[i], mshm_view_server(v, i), sizeof(struct mshm_server));
    }
    for (i = 0; i < h->n_clusters; i++) {
        mshm_copy_in(&st->clusters[i], mshm_view_cluster(v, i),
                     sizeof(struct mshm_cluster));
    }
    for (i = 0; i < h->n_longnames; i++) {
        mshm_copy_in(&st->longnames[i], mshm_view_longname(v, i),
                     sizeof(struct mshm_longname));
    }
    for (i = 0; i < h->n_slotmaps; i++) {
        mshm_copy_in(&st->slotmaps[i], mshm_view_slotmap(v, i), sizeof(struct mshm_slotmap));
    }
    return MSHM_OK;
}

void
mshm_state_free(struct mshm_state *st)
{
    free(st->groups);
    free(st->servers);
    free(st->clusters);
    free(st->longnames);
    free(st->slotmaps);
    memset(st, 0, sizeof(*st));
}

int
mshm_read_state(const struct mshm_reader *r, struct mshm_state *st)
{
    const struct mshm_geo *g = &r->geo;
    int rc;

    memset(st, 0, sizeof(*st));
    st->groups = calloc(g->group_cap, sizeof(struct mshm_group));
    st->servers = calloc(g->server_cap, sizeof(struct mshm_server));
    st->clusters = calloc(g->cluster_cap ? g->cluster_cap : 1, sizeof(struct mshm_cluster));
    st->longnames = calloc(g->longname_cap ? g->longname_cap : 1,
                           sizeof(struct mshm_longname));
    st->slotmaps = calloc(g->slotmap_cap ? g->slotmap_cap : 1, sizeof(struct mshm_slotmap));
    if (st->groups == NULL || st->servers == NULL || st->clusters == NULL ||
        st->longnames == NULL || st->slotmaps == NULL) {
        mshm_state_free(st);
        return MSHM_ERR_NOMEM;
    }
    st->slotmap_cap = g->slotmap_cap;
    st->group_cap = g->group_cap;
    st->server_cap = g->server_cap;
    st->cluster_cap = g->cluster_cap;
    st->longname_cap = g->longname_cap;
    rc = mshm_read(r, copy_state, st, &st->latch);
    if (rc != MSHM_OK) {
        mshm_state_free(st);    /* nothing is held on error (load_model leaked) */
    }
    return rc;
}

uint64_t
mshm_record_sum(unsigned kind, uint32_t idx, const void *rec, size_t len)
{
    const uint64_t *w = rec;
    uint64_t h = ((uint64_t)kind << 56) ^ ((uint64_t)idx * 0x9e3779b97f4a7c15ull);
    size_t i;

    for (i = 0; i < len / 8; i++) {
        h = (h ^ w[i]) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    /* splitmix64 finaliser */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

const char *
mshm_state_host(const struct mshm_state *st, const struct mshm_server *s)
{
    if (s->flags & MSHM_SF_HOST_LONG) {
        if (s->longname_idx >= st->hdr.n_longnames) {
            return "";
        }
        return st->longnames[s->longname_idx].host;
    }
    return s->host;
}

const struct mshm_slotmap *
mshm_state_slotmap(const struct mshm_state *st, const struct mshm_cluster *c)
{
    if (!(c->flags & MSHM_CF_SLOTMAP) || c->slotmap_idx >= st->hdr.n_slotmaps ||
        !(st->slotmaps[c->slotmap_idx].flags & MSHM_SMF_IN_USE)) {
        return NULL;
    }
    return &st->slotmaps[c->slotmap_idx];
}

static int
terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

#define FAIL(...)                                                                      \
    do {                                                                               \
        if (err != NULL && errlen > 0) {                                               \
            snprintf(err, errlen, __VA_ARGS__);                                        \
        }                                                                              \
        return MSHM_ERR_CORRUPT;                                                       \
    } while (0)

int
mshm_check_state(const struct mshm_state *st, char *err, size_t errlen)
{
    const struct mshm_slot_hdr *h = &st->hdr;
    uint64_t sum = 0;
    uint32_t i, j, k;

    if (h->n_groups > st->group_cap || h->n_servers > st->server_cap ||
        h->n_clusters > st->cluster_cap || h->n_longnames > st->longname_cap ||
        h->n_slotmaps > st->slotmap_cap) {
        FAIL("record counts %u/%u/%u/%u/%u exceed capacities", h->n_groups, h->n_servers,
             h->n_clusters, h->n_longnames, h->n_slotmaps);
    }
    for (i = 0; i < h->n_longnames; i++) {
        if (!terminated(st->longnames[i].host, MSHM_HOST_MAX)) {
            FAIL("long host name %u not NUL-terminated", i);
        }
        sum += mshm_record_sum(MSHM_SUM_LONGNAME, i, &st->longnames[i],
                               sizeof(struct mshm_longname));
    }
    for (i = 0; i < h->n_servers; i++) {
        const struct mshm_server *s = &st->servers[i];

        if ((s->flags & MSHM_SF_IN_USE) == 0) {
            continue;
        }
        sum += mshm_record_sum(MSHM_SUM_SERVER, i, s, sizeof(*s));
        if (!terminated(s->host, MSHM_HOST_INLINE)) {
            FAIL("server %u host not NUL-terminated", i);
        }
        if ((s->flags & MSHM_SF_HOST_LONG) && s->longname_idx >= h->n_longnames) {
            FAIL("server %u long host index %u >= %u", i, s->longname_idx, h->n_longnames);
        }
        if (mshm_state_host(st, s)[0] == '\0') {
            FAIL("server %u has an empty host", i);
        }
        if (s->group_idx >= h->n_groups ||
            (st->groups[s->group_idx].flags & MSHM_GF_IN_USE) == 0) {
            FAIL("server %u belongs to group %u which is not in use", i, s->group_idx);
        }
        if (s->role > MSHM_ROLE_REPLICA || s->health > MSHM_HEALTH_DOWN) {
            FAIL("server %u role %u / health %u invalid", i, s->role, s->health);
        }
    }
    for (i = 0; i < h->n_groups; i++) {
        const struct mshm_group *g = &st->groups[i];
        int master_listed = 0;

        if ((g->flags & MSHM_GF_IN_USE) == 0) {
            continue;
        }
        sum += mshm_record_sum(MSHM_SUM_GROUP, i, g, sizeof(*g));
        if (!terminated(g->name, MSHM_NAME_MAX) || g->name[0] == '\0') {
            FAIL("group %u name empty or not NUL-terminated", i);
        }
        if (g->n_servers > MSHM_GROUP_SERVERS) {
            FAIL("group %s lists %u servers (max %u)", g->name, g->n_servers,
                 MSHM_GROUP_SERVERS);
        }
        if (g->route > MSHM_ROUTE_SPLIT) {
            FAIL("group %s route %u invalid", g->name, g->route);
        }
        for (j = 0; j < g->n_servers; j++) {
            uint32_t si = g->servers[j];

            if (si >= h->n_servers || (st->servers[si].flags & MSHM_SF_IN_USE) == 0) {
                FAIL("group %s lists server %u which is not in use", g->name, si);
            }
            if (st->servers[si].group_idx != i) {
                FAIL("group %s lists server %u owned by group %u", g->name, si,
                     st->servers[si].group_idx);
            }
            for (k = 0; k < j; k++) {
                if (g->servers[k] == si) {
                    FAIL("group %s lists server %u twice", g->name, si);
                }
            }
            if (si == g->master_idx) {
                master_listed = 1;
            }
        }
        if (g->master_idx != MSHM_NONE && !master_listed) {
            FAIL("group %s master %u is not one of its servers", g->name, g->master_idx);
        }
        for (j = 0; j < i; j++) {
            if ((st->groups[j].flags & MSHM_GF_IN_USE) &&
                strcmp(st->groups[j].name, g->name) == 0) {
                FAIL("group name %s used twice (%u and %u)", g->name, j, i);
            }
        }
    }
    for (i = 0; i < h->n_clusters; i++) {
        const struct mshm_cluster *c = &st->clusters[i];

        if ((c->flags & MSHM_CF_IN_USE) == 0) {
            continue;
        }
        sum += mshm_record_sum(MSHM_SUM_CLUSTER, i, c, sizeof(*c));
        if (!terminated(c->name, MSHM_NAME_MAX) || c->name[0] == '\0') {
            FAIL("cluster %u name empty or not NUL-terminated", i);
        }
        if (c->n_members > MSHM_CLUSTER_MEMBERS || c->kind > MSHM_KIND_FARM ||
            c->rule > MSHM_RULE_MARSHAL10) {
            FAIL("cluster %s: members %u, kind %u or rule %u invalid", c->name,
                 c->n_members, c->kind, c->rule);
        }
        if (c->primary != MSHM_NONE && c->primary >= c->n_members) {
            FAIL("cluster %s primary %u >= %u members", c->name, c->primary, c->n_members);
        }
        for (j = 0; j < c->n_members; j++) {
            uint32_t mi = c->members[j].idx;

            if (c->kind == MSHM_KIND_CLUSTER) {
                if (mi >= h->n_groups || (st->groups[mi].flags & MSHM_GF_IN_USE) == 0) {
                    FAIL("cluster %s member %u: group %u not in use", c->name, j, mi);
                }
            } else if (mi >= h->n_clusters || mi == i ||
                       (st->clusters[mi].flags & MSHM_CF_IN_USE) == 0 ||
                       st->clusters[mi].kind != MSHM_KIND_CLUSTER) {
                FAIL("farm %s member %u: cluster %u not a cluster in use", c->name, j, mi);
            }
        }
        for (j = 0; j < i; j++) {
            if ((st->clusters[j].flags & MSHM_CF_IN_USE) &&
                strcmp(st->clusters[j].name, c->name) == 0) {
                FAIL("cluster name %s used twice (%u and %u)", c->name, j, i);
            }
        }
        if (c->flags & MSHM_CF_SLOTMAP) {
            if (c->slotmap_idx >= h->n_slotmaps ||
                (st->slotmaps[c->slotmap_idx].flags & MSHM_SMF_IN_USE) == 0 ||
                st->slotmaps[c->slotmap_idx].cluster_idx != i) {
                FAIL("cluster %s slot map %u not in use or owned by another cluster", c->name,
                     c->slotmap_idx);
            }
        }
    }
    for (i = 0; i < h->n_slotmaps; i++) {
        const struct mshm_slotmap *sm = &st->slotmaps[i];
        const struct mshm_cluster *c;

        if ((sm->flags & MSHM_SMF_IN_USE) == 0) {
            continue;
        }
        sum += mshm_record_sum(MSHM_SUM_SLOTMAP, i, sm, sizeof(*sm));
        if (sm->cluster_idx >= h->n_clusters) {
            FAIL("slot map %u: owner %u out of range", i, sm->cluster_idx);
        }
        c = &st->clusters[sm->cluster_idx];
        if ((c->flags & (MSHM_CF_IN_USE | MSHM_CF_SLOTMAP)) !=
                (MSHM_CF_IN_USE | MSHM_CF_SLOTMAP) || c->slotmap_idx != i) {
            FAIL("slot map %u: cluster %u does not name it", i, sm->cluster_idx);
        }
        for (j = 0; j < MSHM_SLOTS; j++) {
            if (sm->member[j] != MSHM_SLOT_NONE && sm->member[j] >= c->n_members) {
                FAIL("slot map %u (cluster %s): slot %u -> member %u of %u", i, c->name, j,
                     sm->member[j], c->n_members);
            }
        }
    }
    if (sum != h->state_sum) {
        FAIL("state checksum mismatch (computed %016llx, published %016llx): torn or "
             "corrupt state copy",
             (unsigned long long)sum, (unsigned long long)h->state_sum);
    }
    return MSHM_OK;
}

#undef FAIL

/* ---- events ------------------------------------------------------------- */

static const struct mshm_event *
ring_at(const struct mshm_reader *r, uint64_t seq)
{
    uint64_t i = seq & (r->geo.ring_cap - 1);

    return (const void *)(r->base + r->geo.ring_off + i * r->geo.ring_stride);
}

void
mshm_events_seek(struct mshm_reader *r, uint64_t seq)
{
    uint64_t head = mshm_ld_acq(&mshm_hdr(r)->ev_head);
    uint64_t oldest = head > r->geo.ring_cap ? head - r->geo.ring_cap : 1;

    if (seq < oldest) {
        seq = oldest;
    }
    if (seq > head) {
        seq = head;
    }
    r->ev_next = seq;
}

int
mshm_next_event(struct mshm_reader *r, struct mshm_event *ev, uint64_t *lost)
{
    const struct mshm_event *e;
    uint64_t next = r->ev_next, head, oldest, s1;

    if (next == 0) {
        next = r->ev_next = 1;
    }
    e = ring_at(r, next);
    s1 = mshm_ld_acq(&e->seq);                          /* LMM(event:A) */
    if (s1 == next) {
        mshm_copy_in(ev, e, sizeof(*ev));
        mshm_fence_acq();                               /* LMM(event:B) */
        if (mshm_ld(&e->seq) == next) {
            ev->seq = next;
            r->ev_next = next + 1;
            return 1;
        }
    }
    head = mshm_ld_acq(&mshm_hdr(r)->ev_head);
    oldest = head > r->geo.ring_cap ? head - r->geo.ring_cap : 1;
    if (next < oldest || (s1 != next && s1 != UINT64_MAX && s1 > next && s1 != 0)) {
        if (oldest <= next) {
            oldest = next + 1;  /* slot lapped while the head looked fine */
        }
        if (lost != NULL) {
            *lost = oldest - next;
        }
        r->ev_next = oldest;
        return MSHM_ERR_LOST;
    }
    /*
     * next == head + 1 is normal: we read event `head` between its seq store
     * and the head store (LMM(ring:B) / LMM(ring:C)), or its writer died in
     * between and the adopter advances the head past it (repair_ring).
     * Rewinding then would deliver that event twice.
     */
    if (next > head + 1) {
        r->ev_next = head;      /* writer went back (adopted an older head) */
    }
    return 0;
}

/* ---- wait --------------------------------------------------------------- */

int
mshm_wait(const struct mshm_reader *r, uint32_t *seen, int timeout_ms)
{
    const uint32_t *word = &mshm_hdr(r)->notify;
    uint64_t deadline = 0, now;
    struct timespec ts, *tsp;
    uint32_t cur;

    if (timeout_ms > 0) {
        deadline = mshm_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    }
    for (;;) {
        cur = mshm_ld_acq(word);                        /* LMM(wait:A) */
        if (cur != *seen) {
            *seen = cur;
            return 1;
        }
        if (timeout_ms == 0) {
            return 0;
        }
        tsp = NULL;
        if (timeout_ms > 0) {
            now = mshm_now_ns();
            if (now >= deadline) {
                return 0;
            }
            ts.tv_sec = (time_t)((deadline - now) / 1000000000ull);
            ts.tv_nsec = (long)((deadline - now) % 1000000000ull);
            tsp = &ts;
        }
        /* shared (non-PRIVATE) futex: the word lives in a MAP_SHARED file */
        if (syscall(SYS_futex, word, FUTEX_WAIT, cur, tsp, NULL, 0) != 0 &&
            errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT) {
            return 0;
        }
    }
}

/* ---- liveness ----------------------------------------------------------- */

enum mshm_liveness
mshm_liveness(struct mshm_reader *r, uint64_t now)
{
    const struct mshm_header *h = mshm_hdr(r);
    uint64_t hb = mshm_ld_acq(&h->hb_count);       /* LMM(liveness:A) */
    uint64_t stale_ns, hb_mono;
    uint32_t stale_ms = mshm_ld(&h->stale_after_ms);

    if (mshm_ld(&h->state) == MSHM_STATE_RETIRED) {
        return MSHM_RETIRED;
    }
    if (mshm_ld(&h->flags) & MSHM_HF_WRITER_STOPPED) {
        return MSHM_STOPPED;
    }
    if (stale_ms == 0 || stale_ms > 3600000u) {
        stale_ms = 3000;
    }
    stale_ns = (uint64_t)stale_ms * 1000000ull;
    if (r->hb_seen_ns == 0) {
        /* first look: same boot means the writer's monotonic clock is ours */
        hb_mono = mshm_ld(&h->hb_mono_ns);
        r->hb_seen = hb;
        r->hb_seen_ns = (hb_mono != 0 && hb_mono <= now) ? hb_mono : now;
    } else if (hb != r->hb_seen) {
        r->hb_seen = hb;
        r->hb_seen_ns = now;
    }
    return now - r->hb_seen_ns > stale_ns ? MSHM_STALE : MSHM_LIVE;
}
