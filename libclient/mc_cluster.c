/*
 * mc_cluster.c -- cluster and farm targets: members, ring, placement, legs.
 *
 * A cluster target holds one internal group target per member group and a
 * private placement ring (mc_ring.c: twemproxy-exact ketama or modula, node
 * string = the group's name, weight = the member's power) rebuilt when the
 * cluster record or its members change.  A command's keys (from the command
 * table's key specs) are placed on the ring; a command whose keys all land
 * in one group is sent through that group's target, so the group's own rule
 * (master-only, read-only mode, split) and failover handling apply.  A group
 * that is down keeps its keys: its commands fail, nothing moves.
 *
 * The commands themselves run in the executors above: mc_stripe.c
 * (blocking), mc_mirror.c (blocking mirrors and farms), mc_async_cluster.c.
 * This file owns the cluster state (struct mc_cluster), the member targets'
 * lifetime, placement, the legs of the last command and the divergence
 * report to the controller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mc_cluster.h"
#include "mc_commands.h"
#include "mc_hash.h"
#include "mc_outcome.h"
#include "mc_ring.h"

/* ---- refresh ---------------------------------------------------------------------------- */

static int
snap_cluster(marshal_client *c, struct mc_cluster *cl, const char *name, struct mshm_cluster *rec)
{
    uint32_t ci;
    int rc;

    if (cl->valid) {
        rc = mshm_snap_cluster(&c->rd, cl->cidx, rec);
        if (rc == MSHM_OK && (rec->flags & MSHM_CF_IN_USE) &&
            strncmp(rec->name, name, MSHM_NAME_MAX) == 0) {
            return MSHM_OK;
        }
    }
    rc = mshm_find_cluster(&c->rd, name, &ci);
    if (rc != MSHM_OK) {
        return rc;
    }
    rc = mshm_snap_cluster(&c->rd, ci, rec);
    if (rc == MSHM_OK && strncmp(rec->name, name, MSHM_NAME_MAX) != 0) {
        rc = MSHM_ERR_BUSY;
    }
    if (rc == MSHM_OK) {
        cl->cidx = ci;
    }
    return rc;
}

/* Name of group gi ("" if not in use). */
static int
group_name(marshal_client *c, uint32_t gi, char name[MSHM_NAME_MAX])
{
    struct mshm_group_snap *gs = malloc(sizeof(*gs));
    int rc;

    if (gs == NULL) {
        return MSHM_ERR_NOMEM;
    }
    rc = mshm_snap_group(&c->rd, gi, gs);
    if (rc == MSHM_OK) {
        memcpy(name, gs->group.name, MSHM_NAME_MAX);
        name[MSHM_NAME_MAX - 1] = '\0';
    }
    free(gs);
    return rc;
}

/* Name of cluster ci (a farm's member). */
static int
cluster_name(marshal_client *c, uint32_t ci, char name[MSHM_NAME_MAX])
{
    struct mshm_cluster rec;
    int rc = mshm_snap_cluster(&c->rd, ci, &rec);

    if (rc == MSHM_OK) {
        if (!(rec.flags & MSHM_CF_IN_USE) || rec.kind != MSHM_KIND_CLUSTER ||
            rec.rule != MSHM_RULE_MARSHAL0) {
            return MSHM_ERR_NOTFOUND;       /* a farm mirrors marshal0 clusters only */
        }
        memcpy(name, rec.name, MSHM_NAME_MAX);
        name[MSHM_NAME_MAX - 1] = '\0';
    }
    return rc;
}

/* Rebuild members and ring (or slot table: slots, owned on success) from
 * the cluster record. */
static int
rebuild(marshal_target *t, const struct mshm_cluster *rec, uint8_t *slots)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    struct mc_ring_node nodes[MSHM_CLUSTER_MEMBERS];
    char names[MSHM_CLUSTER_MEMBERS][MSHM_NAME_MAX];
    marshal_target *members[MSHM_CLUSTER_MEMBERS] = {0};
    struct mc_ring ring;
    uint32_t i, n = rec->n_members;
    int rc;

    if ((rec->kind == MSHM_KIND_CLUSTER && rec->rule != MSHM_RULE_MARSHAL0 &&
         rec->rule != MSHM_RULE_MARSHAL1) ||
        (rec->kind == MSHM_KIND_FARM && rec->rule != MSHM_RULE_MARSHAL10) ||
        rec->kind > MSHM_KIND_FARM) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED, "\"%s\": kind %u rule %u not supported", t->name,
                  rec->kind, rec->rule);
        return MARSHAL_ERR_UNSUPPORTED;
    }
    if (rec->rule == MSHM_RULE_MARSHAL0 && rec->dist != MSHM_DIST_KETAMA &&
        rec->dist != MSHM_DIST_MODULA && (rec->dist != MSHM_DIST_SLOTS || slots == NULL)) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED, "\"%s\": distribution %u not supported",
                  t->name, rec->dist);
        return MARSHAL_ERR_UNSUPPORTED;
    }
    if (n > MSHM_CLUSTER_MEMBERS) {
        mc_seterr(c, MARSHAL_ERR_CORRUPT, "\"%s\": %u members", t->name, n);
        return MARSHAL_ERR_CORRUPT;
    }
    for (i = 0; i < n; i++) {
        rc = rec->kind == MSHM_KIND_FARM ? cluster_name(c, rec->members[i].idx, names[i])
                                         : group_name(c, rec->members[i].idx, names[i]);
        if (rc != MSHM_OK) {
            mc_seterr(c, rc, "\"%s\": member %u (group %u): %s", t->name, i,
                      rec->members[i].idx, mshm_strerror(rc));
            goto out_members;
        }
        /* keep the member target of the same group; open the others */
        if (i < (uint32_t)cl->n && cl->member[i] != NULL &&
            strcmp(cl->member[i]->name, names[i]) == 0) {
            members[i] = cl->member[i];
            cl->member[i] = NULL;
        } else {
            rc = rec->kind == MSHM_KIND_FARM ? mc_target_open_cluster(c, names[i], &members[i])
                                             : mc_target_open_group(c, names[i], &members[i]);
            if (rc != MARSHAL_OK) {
                goto out_members;
            }
            members[i]->route_override = t->route_override;
            members[i]->parent = t;
        }
        nodes[i].name = names[i];
        nodes[i].weight = rec->members[i].power > 0 ? rec->members[i].power : 1;
        nodes[i].id = i;
    }
    memset(&ring, 0, sizeof(ring));
    rc = rec->rule == MSHM_RULE_MARSHAL0 && rec->dist != MSHM_DIST_SLOTS
             ? mc_ring_build(&ring, rec->dist, nodes, n)
             : 0;
    if (rc != 0) {
        mc_seterr(c, rc, "\"%s\": cannot build the ring", t->name);
        goto out_members;
    }
    /* commit: release members no longer used, swap the ring */
    for (i = 0; i < (uint32_t)cl->n; i++) {
        if (cl->member[i] != NULL) {
            mc_target_free(cl->member[i]);
        }
    }
    memcpy(cl->member, members, sizeof(members));
    cl->n = (int)n;
    mc_ring_free(&cl->ring);
    cl->ring = ring;
    free(cl->slots);
    cl->slots = slots;
    cl->rule = rec->rule;
    cl->policy = rec->mirror_policy;
    cl->primary = rec->primary < n ? (int)rec->primary : 0;
    for (i = 0; i < n; i++) {
        cl->mflags[i] = rec->members[i].flags;
        if (rec->members[i].flags & MSHM_MF_PRIMARY) {
            cl->primary = (int)i;
        }
    }
    cl->hash = rec->hash;
    cl->has_tag = (rec->flags & MSHM_CF_HASH_TAG) != 0;
    cl->tag[0] = (char)rec->hash_tag[0];
    cl->tag[1] = (char)rec->hash_tag[1];
    cl->cgen = rec->gen;
    cl->change_seq = rec->change_seq;
    cl->valid = 1;
    return MARSHAL_OK;

out_members:
    for (i = 0; i < n; i++) {
        if (members[i] != NULL && (i >= (uint32_t)cl->n || cl->member[i] == NULL)) {
            if (i < (uint32_t)cl->n && cl->member[i] == NULL) {
                cl->member[i] = members[i];     /* give back the kept one */
            } else {
                mc_target_free(members[i]);
            }
        }
    }
    return rc;
}

int
mc_cluster_refresh(marshal_target *t)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    struct mshm_cluster rec;
    uint32_t notify;
    int rc;

    if (!c->attached) {
        rc = mc_ensure_attached(c);
        if (rc != MARSHAL_OK) {
            return rc;
        }
        cl->valid = 0;
    }
    notify = mc_notify(c);
    if (cl->valid && notify == cl->notify) {
        return MARSHAL_OK;
    }
    rc = snap_cluster(c, cl, t->name, &rec);
    if (rc != MSHM_OK) {
        mc_seterr(c, rc, "cluster \"%s\": %s", t->name, mshm_strerror(rc));
        return rc;
    }
    if (!cl->valid || rec.gen != cl->cgen || rec.change_seq != cl->change_seq) {
        uint8_t *slots = NULL;

        if (rec.rule == MSHM_RULE_MARSHAL0 && rec.dist == MSHM_DIST_SLOTS) {
            /* the record and its slot map, from one published state */
            if ((rec.flags & MSHM_CF_SLOTMAP) == 0) {
                mc_seterr(c, MARSHAL_ERR_UNSUPPORTED, "cluster \"%s\": distribution slots "
                          "published without a slot map (segment.capacity.slot_maps full, "
                          "or a controller older than layout 1.1)", t->name);
                return MARSHAL_ERR_UNSUPPORTED;
            }
            if ((slots = malloc(MSHM_SLOTS)) == NULL) {
                mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
                return MARSHAL_ERR_NOMEM;
            }
            rc = mshm_snap_cluster_slots(&c->rd, cl->cidx, &rec, slots);
            if (rc == MSHM_OK && strncmp(rec.name, t->name, MSHM_NAME_MAX) != 0) {
                rc = MSHM_ERR_BUSY;     /* the index was reused meanwhile: retry later */
            }
            if (rc != MSHM_OK) {
                free(slots);
                mc_seterr(c, rc, "cluster \"%s\": slot map: %s", t->name, mshm_strerror(rc));
                return rc;
            }
        }
        rc = rebuild(t, &rec, slots);
        if (rc != MARSHAL_OK) {
            free(slots);
            return rc;
        }
    }
    cl->notify = notify;
    return MARSHAL_OK;
}

int
mc_cluster_open(marshal_target *t)
{
    int rc;

    t->cl = calloc(1, sizeof(*t->cl));
    if (t->cl == NULL) {
        mc_seterr(t->c, MARSHAL_ERR_NOMEM, "out of memory");
        return MARSHAL_ERR_NOMEM;
    }
    t->kind = MARSHAL_KIND_CLUSTER;
    rc = mc_cluster_refresh(t);
    if (rc == MARSHAL_OK && t->cl->rule == MSHM_RULE_MARSHAL10) {
        t->kind = MARSHAL_KIND_FARM;
    }
    return rc;
}

void
mc_cluster_free(marshal_target *t, int close_members)
{
    int i;

    if (t->cl == NULL) {
        return;
    }
    for (i = 0; close_members && i < t->cl->n; i++) {
        mc_target_free(t->cl->member[i]);
    }
    mc_ring_free(&t->cl->ring);
    free(t->cl->slots);
    free(t->cl);
    t->cl = NULL;
}

/* ---- placement -------------------------------------------------------------------------- */

int
mc_cluster_place(marshal_target *t, const char *key, size_t len)
{
    struct mc_cluster *cl = t->cl;
    char tag[2];
    uint32_t id;

    tag[0] = cl->tag[0];
    tag[1] = cl->tag[1];
    if (cl->slots != NULL) {
        id = cl->slots[mc_slot_tag(key, len, cl->has_tag ? tag : NULL)];
        return id == MSHM_SLOT_NONE || id >= (uint32_t)cl->n ? -1 : (int)id;
    }
    id = mc_ring_lookup(&cl->ring, cl->hash, cl->has_tag ? tag : NULL, key, len);
    return id == MC_RING_NONE || id >= (uint32_t)cl->n ? -1 : (int)id;
}

/* ---- legs -------------------------------------------------------------------------------- */

void
mc_legs_reset(marshal_client *c)
{
    c->n_legs = 0;
}

struct mc_leg *
mc_leg_add(marshal_client *c, const marshal_target *g, int nkeys)
{
    struct mc_leg *l;

    if (c->n_legs >= MSHM_CLUSTER_MEMBERS) {
        return NULL;
    }
    l = &c->legs[c->n_legs++];
    memset(l, 0, sizeof(*l));
    snprintf(l->group, sizeof(l->group), "%s", g->name);
    l->pub.group = l->group;
    l->pub.host = l->host;
    l->pub.nkeys = nkeys;
    return l;
}

/* Fill a leg's result from the client's state after its command. */
void
mc_leg_done(marshal_client *c, struct mc_leg *l, int status)
{
    const char *h;
    int port;

    if (l == NULL) {
        return;
    }
    l->pub.status = status;
    l->pub.outcome = c->outcome;
    if (mc_last_server(c, &h, &port) == MARSHAL_OK) {
        snprintf(l->host, sizeof(l->host), "%s", h);
        l->pub.port = port;
    }
}

MARSHAL_API int
marshal_client_legs(const marshal_client *c, const marshal_leg **legs)
{
    static marshal_leg none;
    int i;

    if (c == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    if (legs != NULL) {
        *legs = c->n_legs > 0 ? &c->legs_pub[0] : &none;
    }
    for (i = 0; i < c->n_legs; i++) {
        ((marshal_client *)(uintptr_t)c)->legs_pub[i] = c->legs[i].pub;
    }
    return c->n_legs;
}

/* ---- cluster target handles ---------------------------------------------------------------- */

int
mc_target_open_cluster(marshal_client *c, const char *name, marshal_target **out)
{
    marshal_target *t = mc_target_new(c, name);
    int rc;

    *out = NULL;
    if (t == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    t->internal = 1;
    rc = mc_cluster_open(t);
    if (rc != MARSHAL_OK) {
        mc_target_free(t);
        return rc;
    }
    *out = t;
    return MARSHAL_OK;
}

void
mc_target_free(marshal_target *t)
{
    if (t->c->async != NULL) {
        return;     /* async commands may still hold it: freed by marshal_async_close */
    }
    mc_target_release(t);
    mc_cluster_free(t, 1);
    free(t->pend);
    free(t);
}

/* ---- commands on a cluster target ------------------------------------------------------------ */

int
mc_cluster_prepare(marshal_target *t, const char *cmd, size_t len, struct mc_argv *a,
                   const struct mc_cmd **e)
{
    marshal_client *c = t->c;
    int rc;

    mc_clearerr(c);
    mc_legs_reset(c);
    c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
    c->last_conn = NULL;
    rc = mc_cluster_refresh(t);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    rc = mc_argv_parse(cmd, len, a);
    if (rc != 0) {
        rc = rc == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL;
        mc_seterr(c, rc, "malformed command");
        return rc;
    }
    *e = mc_cmd_resolve(a->argc, a->argv, a->argvlen);
    return MARSHAL_OK;
}

/* ---- divergence report ---------------------------------------------------------------- */

/* Tell the controller that member group g of cluster t missed a write. */
void
mc_mirror_report_diverged(marshal_client *c, marshal_target *t, const marshal_target *g)
{
    struct sockaddr_un sa;
    char msg[256];
    int fd, n;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.ctl", c->path);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        return;
    }
    n = snprintf(msg, sizeof(msg), "diverged %s %s\n", t->name, g->name);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return;
    }
    if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        mc_log(c, MARSHAL_LOG_WARNING, "cluster %s: mirror %s diverged; cannot tell the "
               "controller (%s: %s)", t->name, g->name, sa.sun_path, strerror(errno));
    } else {
        mc_log(c, MARSHAL_LOG_WARNING, "cluster %s: mirror %s diverged (reported)", t->name,
               g->name);
    }
    close(fd);
}
