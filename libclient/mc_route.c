/*
 * mc_route.c -- a target's cached route and the choice of a server.
 *
 * The route (master connection, readable replicas with their weights) is
 * rebuilt from a consistent group snapshot only when the segment's notify
 * word moved; otherwise mc_route_refresh() is one atomic load and a compare.
 * Which replicas may serve reads is the controller's verdict
 * (MSHM_SF_READABLE: following the current master, link up, not syncing,
 * not loading, lag under the group's limit, not down); the library adds only
 * its local "suspect" mark for a server that just failed.
 */
#define _GNU_SOURCE
#include <string.h>

#include "mc_internal.h"
#include "mc_route.h"

static int
copy_gsnap(const struct mshm_view *v, void *arg)
{
    struct mc_gsnap *a = arg;
    const struct mshm_group *g = mshm_view_group(v, a->gi);
    uint32_t i, n;

    if (g == NULL) {
        return MSHM_ERR_RANGE;
    }
    mshm_copy_in(&a->g, g, sizeof(*g));
    if ((a->g.flags & MSHM_GF_IN_USE) == 0) {
        return MSHM_ERR_NOTFOUND;
    }
    n = a->g.n_servers;
    if (n > MSHM_GROUP_SERVERS) {
        return MSHM_ERR_CORRUPT;
    }
    for (i = 0; i < n; i++) {
        const struct mshm_server *s = mshm_view_server(v, a->g.servers[i]);

        if (s == NULL) {
            return MSHM_ERR_CORRUPT;
        }
        mshm_copy_in(&a->s[i], s, sizeof(*s));
        if (a->s[i].flags & MSHM_SF_HOST_LONG) {
            const struct mshm_longname *ln = mshm_view_longname(v, a->s[i].longname_idx);

            if (ln == NULL) {
                return MSHM_ERR_CORRUPT;
            }
            mshm_copy_in(a->host[i], ln->host, MSHM_HOST_MAX);
        } else {
            mshm_copy_in(a->host[i], a->s[i].host, MSHM_HOST_INLINE);
        }
    }
    return MSHM_OK;
}

int
mc_gsnap_read(marshal_client *c, const char *name, uint32_t hint, int have_hint,
              struct mc_gsnap *gs)
{
    uint32_t gi;
    int rc;

    if (have_hint) {
        gs->gi = hint;
        rc = mshm_read(&c->rd, copy_gsnap, gs, NULL);
        if (rc == MSHM_OK && strncmp(gs->g.name, name, MSHM_NAME_MAX) == 0) {
            return MSHM_OK;
        }
        if (rc != MSHM_OK && rc != MSHM_ERR_NOTFOUND && rc != MSHM_ERR_RANGE) {
            return rc;
        }
    }
    rc = mshm_find_group(&c->rd, name, &gi);
    if (rc != MSHM_OK) {
        return rc;
    }
    gs->gi = gi;
    rc = mshm_read(&c->rd, copy_gsnap, gs, NULL);
    if (rc == MSHM_OK && strncmp(gs->g.name, name, MSHM_NAME_MAX) != 0) {
        rc = MSHM_ERR_BUSY;     /* reused between find and copy: the caller retries */
    }
    return rc;
}

/* May this replica serve reads? */
static int
readable(const struct mshm_server *s)
{
    /* no LINK_DOWN here: with the master down the controller keeps in-sync
     * replicas readable (read-only mode needs them) and flags the link down */
    const uint32_t bad = MSHM_SF_SDOWN | MSHM_SF_ODOWN | MSHM_SF_LOADING | MSHM_SF_SYNCING |
                         MSHM_SF_LAGGING | MSHM_SF_STALE_MASTER;

    return (s->flags & MSHM_SF_IN_USE) && (s->flags & MSHM_SF_READABLE) &&
           !(s->flags & bad) && s->role == MSHM_ROLE_REPLICA && s->health == MSHM_HEALTH_UP &&
           s->power > 0;
}

/* Is conn k one of the servers of this snapshot? */
static int
in_snap(const struct mc_gsnap *gs, const struct mc_conn *k)
{
    uint32_t i;

    for (i = 0; i < gs->g.n_servers; i++) {
        if (gs->s[i].port == k->port && strcmp(gs->host[i], k->host) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Close a connection the topology no longer wants (unless replies are owed on it). */
static void
retire_conn(marshal_client *c, struct mc_conn *k, const char *why)
{
    if (k != NULL && k->ctx != NULL && k->pending == 0) {
        mc_log(c, MARSHAL_LOG_VERBOSE, "closing %s:%u: %s", k->host, k->port, why);
        mc_conn_drop(c, k, MARSHAL_ERR_IO);
    }
}

int
mc_route_rebuild(marshal_target *t)
{
    marshal_client *c = t->c;
    struct mc_route *r = &t->r, nr;
    struct mc_gsnap *gs, gsbuf;
    uint32_t notify, i;
    int rc, tries;

    gs = &gsbuf;
    for (tries = 0;; tries++) {
        notify = mc_notify(c);
        rc = mc_gsnap_read(c, t->name, r->gidx, r->valid, gs);
        if (rc != MSHM_ERR_BUSY || tries >= 3) {
            break;
        }
    }
    if (rc != MSHM_OK) {
        if (rc == MSHM_ERR_NOTFOUND) {
            mc_seterr(c, rc, "group \"%s\" is no longer in the segment", t->name);
            r->master = NULL;
            r->wrr.n = 0;
            r->valid = 0;
        } else {
            mc_seterr(c, rc, "reading group \"%s\": %s", t->name, mshm_strerror(rc));
        }
        return rc;
    }
    if (r->valid && gs->gi == r->gidx && gs->g.gen == r->ggen &&
        gs->g.change_seq == r->change_seq) {
        r->notify = notify;     /* nothing in this group changed */
        return MARSHAL_OK;
    }

    memset(&nr, 0, sizeof(nr));
    nr.notify = notify;
    nr.valid = 1;
    nr.gidx = gs->gi;
    nr.ggen = gs->g.gen;
    nr.change_seq = gs->g.change_seq;
    nr.gflags = gs->g.flags;
    nr.published_route = gs->g.route <= MSHM_ROUTE_SPLIT ? gs->g.route : MSHM_ROUTE_MASTER;
    nr.master_epoch = gs->g.master_epoch;
    nr.master_sidx = MSHM_NONE;
    for (i = 0; i < gs->g.n_servers; i++) {
        const struct mshm_server *s = &gs->s[i];
        struct mc_conn *k;

        if (gs->g.master_idx != MSHM_NONE && gs->g.servers[i] == gs->g.master_idx &&
            !(gs->g.flags & MSHM_GF_NO_MASTER)) {
            k = mc_conn_get(c, gs->host[i], s->port);
            if (k == NULL) {
                mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
                return MARSHAL_ERR_NOMEM;
            }
            nr.master = k;
            nr.master_up = s->health == MSHM_HEALTH_UP;
            nr.master_sidx = gs->g.servers[i];
            nr.master_change_seq = s->change_seq;
            continue;
        }
        if (s->role == MSHM_ROLE_REPLICA) {
            nr.n_replicas++;
        }
        if (readable(s) && nr.wrr.n < MC_WRR_MAX) {
            k = mc_conn_get(c, gs->host[i], s->port);
            if (k == NULL) {
                mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
                return MARSHAL_ERR_NOMEM;
            }
            nr.rep[nr.wrr.n] = k;
            nr.wrr.weight[nr.wrr.n] = (int32_t)(s->power > 1000000 ? 1000000 : s->power);
            nr.wrr.n++;
        }
    }
    /* keep the round-robin position of replicas that stay with the same weight */
    if (r->valid) {
        int a, b;

        for (a = 0; a < nr.wrr.n; a++) {
            for (b = 0; b < r->wrr.n; b++) {
                if (r->rep[b] == nr.rep[a] && r->wrr.weight[b] == nr.wrr.weight[a]) {
                    nr.wrr.cur[a] = r->wrr.cur[b];
                }
            }
        }
        /* a demoted master's connection may still be mid-transaction: close it */
        if (r->master != NULL && r->master != nr.master) {
            retire_conn(c, r->master, "no longer the master");
        }
        for (b = 0; b < r->wrr.n; b++) {
            if (!in_snap(gs, r->rep[b])) {
                retire_conn(c, r->rep[b], "removed from the group");
            }
        }
    }
    if (t->pinned != NULL && t->pinned != nr.master) {
        /* MULTI/WATCH state lives on the old master's connection: it is gone */
        retire_conn(c, t->pinned, "transaction pinned to a former master");
        t->pinned = NULL;
        t->in_multi = 0;
    }
    *r = nr;
    return MARSHAL_OK;
}

int
mc_route_refresh(marshal_target *t)
{
    marshal_client *c = t->c;
    int rc;

    if (!c->attached) {
        rc = mc_ensure_attached(c);
        if (rc != MARSHAL_OK) {
            return rc;
        }
        t->r.valid = 0;
    }
    if (t->r.valid && mc_notify(c) == t->r.notify) {
        return MARSHAL_OK;
    }
    if (mshm_ld(&mshm_hdr(&c->rd)->state) == MSHM_STATE_RETIRED) {
        mc_check_segment(c);
    }
    return mc_route_rebuild(t);
}

int
mc_effective_route(const marshal_target *t)
{
    return t->route_override >= 0 ? t->route_override : t->r.published_route;
}

/* Bit mask of replicas marked suspect right now. */
static uint32_t
suspects(const struct mc_route *r, uint64_t now)
{
    uint32_t m = 0;
    int i;

    for (i = 0; i < r->wrr.n; i++) {
        if (r->rep[i]->suspect_until_ns > now) {
            m |= 1u << i;
        }
    }
    return m;
}

/* A readable replica by weighted round-robin, or NULL. */
static struct mc_conn *
pick_replica(struct mc_route *r)
{
    uint32_t skip = 0;
    int i;

    if (r->wrr.n == 0) {
        return NULL;
    }
    for (i = 0; i < r->wrr.n; i++) {
        if (r->rep[i]->suspect_until_ns != 0) {
            skip = suspects(r, mc_coarse_ns());
            break;
        }
    }
    i = mc_wrr_pick(&r->wrr, skip);
    return i < 0 ? NULL : r->rep[i];
}

struct mc_conn *
mc_route_pick(marshal_target *t, int cls, struct mc_pick *p)
{
    struct mc_route *r = &t->r;
    int route = mc_effective_route(t);
    struct mc_conn *k;

    p->status = MARSHAL_OK;
    p->waitable = 0;
    p->fallback = NULL;
    if (t->pinned != NULL) {
        return t->pinned;
    }
    if (cls == MC_CLASS_WRITE || route == MARSHAL_ROUTE_MASTER) {
        if (cls == MC_CLASS_WRITE && (r->gflags & MSHM_GF_DEGRADED) &&
            (r->gflags & MSHM_GF_FAIL_WRITES_DEGRADED)) {
            p->status = MARSHAL_ERR_DEGRADED;
            return NULL;
        }
        if (r->master != NULL && r->master_up && r->master != p->avoid) {
            return r->master;
        }
        if (route == MARSHAL_ROUTE_MASTER_READONLY && cls == MC_CLASS_WRITE) {
            p->status = MARSHAL_ERR_NOMASTER;       /* read-only mode: fail at once */
            return NULL;
        }
        p->status = MARSHAL_ERR_NOMASTER;
        p->waitable = 1;
        /* published but down (or just failed us): the last resort after the wait */
        p->fallback = r->master;
        return NULL;
    }
    /* reads */
    if (route == MARSHAL_ROUTE_SPLIT ||
        (route == MARSHAL_ROUTE_MASTER_READONLY && (r->master == NULL || !r->master_up))) {
        k = pick_replica(r);
        if (k != NULL && k != p->avoid) {
            return k;
        }
        if (k != NULL && r->wrr.n > 1) {
            k = pick_replica(r);
            if (k != p->avoid) {
                return k;
            }
        }
    }
    if (r->master != NULL && r->master_up && r->master != p->avoid) {
        return r->master;
    }
    p->status = route == MARSHAL_ROUTE_MASTER_READONLY || route == MARSHAL_ROUTE_SPLIT
                    ? MARSHAL_ERR_NOSERVER : MARSHAL_ERR_NOMASTER;
    p->waitable = 1;
    p->fallback = r->master;
    return NULL;
}

/* ---- decisions without I/O ------------------------------------------------------------ */

/*
 * The route decision alone, as the command path makes it, without I/O:
 * classify, refresh the cached route (one atomic load when the segment did
 * not move), pick.  For bench/route_bench.c.  Returns the connection or NULL
 * with *status.
 */
struct mc_conn *
mc_route_decide(marshal_target *t, const char *cmd, size_t len, int *status)
{
    struct mc_pick p;
    struct mc_conn *k;
    int cls, sp;

    if (mc_classify(t->c, cmd, len, &cls, &sp) != 0) {
        *status = MARSHAL_ERR_INVAL;
        return NULL;
    }
    *status = mc_route_refresh(t);
    if (*status != MARSHAL_OK) {
        return NULL;
    }
    p.avoid = NULL;
    k = mc_route_pick(t, cls, &p);
    *status = p.status;
    return k;
}

/* Writes refused by the stale-controller policy? */
int
mc_stale_refused(marshal_client *c)
{
    uint64_t now;

    if (c->o.stale_writes_fail_ms <= 0) {
        return 0;
    }
    now = mshm_now_ns();
    if (mshm_liveness(&c->rd, now) != MSHM_STALE) {
        c->stale_since_ns = 0;
        return 0;
    }
    /* stale means no heartbeat for stale_after_ms; the policy counts from then */
    if (c->stale_since_ns == 0) {
        c->stale_since_ns = c->rd.hb_seen_ns;
    }
    return now - c->stale_since_ns >= (uint64_t)c->o.stale_writes_fail_ms * 1000000ull;
}

