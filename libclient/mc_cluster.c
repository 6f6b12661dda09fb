/*
 * mc_cluster.c -- cluster targets: marshal0 striping over member groups.
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
 * Multi-key commands whose keys span groups: MGET, MSET, DEL, UNLINK,
 * EXISTS and TOUCH are split per group, the legs sent pipelined to all groups
 * at once and merged in key order (counts summed); every leg's result is kept
 * (marshal_client_legs).  Any other command spanning groups fails with
 * MARSHAL_ERR_CROSSGROUP; a keyless command fails with MARSHAL_ERR_UNSUPPORTED
 * (send it to a group target).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

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
            marshal_target_close(cl->member[i]);
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
                marshal_target_close(members[i]);
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
        marshal_target_close(t->cl->member[i]);
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

/* ---- arguments -------------------------------------------------------------------------- */

void
mc_argv_free(struct mc_argv *a)
{
    if (a->argv != a->sargv) {
        free((void *)a->argv);
        free(a->argvlen);
    }
}

/* Parse every argument of a RESP array (hiredis-formatted: well formed). */
int
mc_argv_parse(const char *b, size_t len, struct mc_argv *a)
{
    const char *p = b, *end = b + len;
    unsigned long v;
    int i;

    a->argv = a->sargv;
    a->argvlen = a->slen;
    a->argc = 0;
    if (len < 4 || *p != '*') {
        return -1;
    }
    for (v = 0, p++; p < end && *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 1000000000UL) {
            return -1;
        }
    }
    if (p + 2 > end || v < 1) {
        return -1;
    }
    p += 2;
    if (v > MC_ARGV_STACK) {
        a->argv = malloc(v * sizeof(*a->argv));
        a->argvlen = malloc(v * sizeof(*a->argvlen));
        if (a->argv == NULL || a->argvlen == NULL) {
            free((void *)a->argv);
            free(a->argvlen);
            a->argv = a->sargv;
            a->argvlen = a->slen;
            return -2;
        }
    }
    for (i = 0; i < (int)v; i++) {
        unsigned long l = 0;

        if (p >= end || *p != '$') {
            mc_argv_free(a);
            return -1;
        }
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
            l = l * 10 + (unsigned long)(*p - '0');
            if (l > 1000000000UL) {
                mc_argv_free(a);
                return -1;
            }
        }
        if (p + 2 > end || (size_t)(end - p - 2) < l + 2) {
            mc_argv_free(a);
            return -1;
        }
        p += 2;
        a->argv[i] = p;
        a->argvlen[i] = l;
        p += l + 2;
    }
    a->argc = (int)v;
    return 0;
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

/* ---- split commands ------------------------------------------------------------------------ */


int
mc_name_eq(const char *s, size_t n, const char *lower)
{
    size_t i;

    if (strlen(lower) != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char ch = s[i];

        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (ch != lower[i]) {
            return 0;
        }
    }
    return 1;
}

enum mc_split_kind
mc_split_kind_of(const struct mc_argv *a)
{
    const char *n = a->argv[0];
    size_t l = a->argvlen[0];

    if (mc_name_eq(n, l, "mget")) {
        return MC_SPLIT_MGET;
    }
    if (mc_name_eq(n, l, "mset")) {
        return (a->argc % 2) == 1 ? MC_SPLIT_MSET : MC_SPLIT_NONE;
    }
    if (mc_name_eq(n, l, "del") || mc_name_eq(n, l, "unlink") || mc_name_eq(n, l, "exists") ||
        mc_name_eq(n, l, "touch")) {
        return MC_SPLIT_SUM;
    }
    return MC_SPLIT_NONE;
}

int
mc_split_leg_argv(const struct mc_argv *a, int kind, const int *member, int m, const char **sub,
                  size_t *sublen)
{
    int step = kind == MC_SPLIT_MSET ? 2 : 1, nk = (a->argc - 1) / step, i, n = 1;

    sub[0] = a->argv[0];
    sublen[0] = a->argvlen[0];
    for (i = 0; i < nk; i++) {
        if (member[i] != m) {
            continue;
        }
        sub[n] = a->argv[1 + i * step];
        sublen[n++] = a->argvlen[1 + i * step];
        if (step == 2) {
            sub[n] = a->argv[2 + i * step];
            sublen[n++] = a->argvlen[2 + i * step];
        }
    }
    return n;
}

static redisReply *
new_reply(int type)
{
    redisReply *r = calloc(1, sizeof(*r));

    if (r != NULL) {
        r->type = type;
    }
    return r;
}

/*
 * Split a multi-key command over the groups its keys land on, send every
 * leg pipelined, merge.  place[i] is the member of argv key i (keys at
 * 1..argc-1, step 1, or step 2 for MSET).
 */
static redisReply *
run_split(marshal_target *t, const struct mc_argv *a, enum mc_split_kind kind, const int *member)
{
    marshal_client *c = t->c;
    struct mc_cluster *cl = t->cl;
    int step = kind == MC_SPLIT_MSET ? 2 : 1, nk = (a->argc - 1) / step;
    int count[MSHM_CLUSTER_MEMBERS] = {0}, legidx[MSHM_CLUSTER_MEMBERS];
    struct mc_leg *leg[MSHM_CLUSTER_MEMBERS] = {0};
    redisReply *rep[MSHM_CLUSTER_MEMBERS] = {0};
    const char **sub = malloc((size_t)a->argc * sizeof(*sub));
    size_t *sublen = malloc((size_t)a->argc * sizeof(*sublen));
    int i, m, applied = 0, not_applied = 0, failed = 0, first_err = MARSHAL_OK, nlegs = 0;
    redisReply *out = NULL;
    long long sum = 0;

    if (sub == NULL || sublen == NULL) {
        free((void *)sub);
        free(sublen);
        mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
        c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
        return NULL;
    }
    for (i = 0; i < nk; i++) {
        count[member[i]]++;
    }
    /* append one leg per group (each routed by its group's rule), then read */
    for (m = 0; m < cl->n; m++) {
        int k, rc;

        legidx[m] = -1;
        if (count[m] == 0) {
            continue;
        }
        k = mc_split_leg_argv(a, kind, member, m, sub, sublen);
        leg[m] = mc_leg_add(c, cl->member[m], count[m]);
        rc = mc_append_argv(cl->member[m], k, sub, sublen);
        if (rc != MARSHAL_OK) {
            c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
            c->last_conn = NULL;
            mc_leg_done(c, leg[m], rc);
            if (first_err == MARSHAL_OK) {
                first_err = rc;
            }
            continue;
        }
        legidx[m] = nlegs++;
    }
    for (m = 0; m < cl->n; m++) {
        if (legidx[m] >= 0) {
            mc_target_flush(cl->member[m]);
        }
    }
    for (m = 0; m < cl->n; m++) {
        int rc;

        if (legidx[m] < 0) {
            continue;
        }
        rc = mc_get_reply(cl->member[m], &rep[m]);
        if (rc == MARSHAL_OK && rep[m]->type == REDIS_REPLY_ERROR) {
            rc = MARSHAL_ERR_NOSERVER;      /* an error reply: the leg failed */
        }
        mc_leg_done(c, leg[m], rc == MARSHAL_ERR_NOSERVER ? MARSHAL_OK : rc);
        if (rc != MARSHAL_OK && first_err == MARSHAL_OK) {
            first_err = rc == MARSHAL_ERR_NOSERVER ? MARSHAL_OK : rc;
        }
    }
    /* merge */
    for (m = 0; m < cl->n; m++) {
        if (leg[m] == NULL) {
            continue;
        }
        if (leg[m]->pub.outcome == MARSHAL_OUTCOME_APPLIED && rep[m] != NULL &&
            rep[m]->type != REDIS_REPLY_ERROR) {
            applied++;
        } else {
            failed++;
            not_applied += leg[m]->pub.outcome == MARSHAL_OUTCOME_NOT_APPLIED;
        }
    }
    if (failed == 0) {
        if (kind == MC_SPLIT_MGET) {
            int pos[MSHM_CLUSTER_MEMBERS] = {0};

            out = new_reply(REDIS_REPLY_ARRAY);
            if (out != NULL) {
                out->element = calloc((size_t)nk, sizeof(*out->element));
                out->elements = out->element != NULL ? (size_t)nk : 0;
            }
            for (i = 0; out != NULL && out->element != NULL && i < nk; i++) {
                m = member[i];
                if (rep[m]->type == REDIS_REPLY_ARRAY && (size_t)pos[m] < rep[m]->elements) {
                    out->element[i] = rep[m]->element[pos[m]];
                    rep[m]->element[pos[m]++] = NULL;
                }
            }
        } else if (kind == MC_SPLIT_MSET) {
            out = new_reply(REDIS_REPLY_STATUS);
            if (out != NULL) {
                out->str = strdup("OK");
                out->len = 2;
            }
        } else {
            for (m = 0; m < cl->n; m++) {
                if (rep[m] != NULL && rep[m]->type == REDIS_REPLY_INTEGER) {
                    sum += rep[m]->integer;
                }
            }
            out = new_reply(REDIS_REPLY_INTEGER);
            if (out != NULL) {
                out->integer = sum;
            }
        }
        if (out == NULL) {
            mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory (the command ran)");
        }
        c->outcome = MARSHAL_OUTCOME_APPLIED;
    } else {
        c->outcome = applied == 0 && not_applied == failed ? MARSHAL_OUTCOME_NOT_APPLIED
                     : applied == 0 && not_applied == 0    ? MARSHAL_OUTCOME_UNKNOWN
                                                           : MARSHAL_OUTCOME_PARTIAL;
        mc_seterr(c, first_err != MARSHAL_OK ? first_err : MARSHAL_ERR_NOSERVER,
                  "%d of %d groups failed (%s); see marshal_client_legs()", failed,
                  applied + failed,
                  first_err != MARSHAL_OK ? marshal_strerror(first_err) : "error reply");
    }
    for (m = 0; m < cl->n; m++) {
        freeReplyObject(rep[m]);
    }
    free((void *)sub);
    free(sublen);
    c->last_conn = NULL;
    return out;
}

redisReply *
mc_cluster_run(marshal_target *t, const char *cmd, size_t len)
{
    marshal_client *c = t->c;
    struct mc_argv a;
    const struct mc_cmd *e;
    int pos_stack[MC_ARGV_STACK], *pos = pos_stack, member_stack[MC_ARGV_STACK];
    int *member = member_stack, nkeys, i, first, same = 1, rc;
    enum mc_split_kind kind;
    redisReply *rep = NULL;
    struct mc_leg *l;

    mc_clearerr(c);
    mc_legs_reset(c);
    c->outcome = MARSHAL_OUTCOME_NOT_APPLIED;
    c->last_conn = NULL;
    rc = mc_cluster_refresh(t);
    if (rc != MARSHAL_OK) {
        return NULL;
    }
    rc = mc_argv_parse(cmd, len, &a);
    if (rc != 0) {
        mc_seterr(c, rc == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL, "malformed command");
        return NULL;
    }
    e = mc_cmd_resolve(a.argc, a.argv, a.argvlen);
    if (t->cl->rule == MSHM_RULE_MARSHAL1 || t->cl->rule == MSHM_RULE_MARSHAL10) {
        rep = mc_mirror_run(t, cmd, len, e, &a);
        goto out;
    }
    if (e != NULL && (mc_name_eq(a.argv[0], a.argvlen[0], "multi") ||
                      mc_name_eq(a.argv[0], a.argvlen[0], "watch") ||
                      mc_name_eq(a.argv[0], a.argvlen[0], "exec") ||
                      mc_name_eq(a.argv[0], a.argvlen[0], "discard"))) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED,
                  "transactions on a cluster target: open the group's target instead");
        goto out;
    }
    nkeys = e != NULL ? mc_cmd_keys(e, a.argc, a.argv, a.argvlen, pos, MC_ARGV_STACK) : -1;
    if (nkeys > MC_ARGV_STACK) {
        pos = malloc((size_t)nkeys * sizeof(*pos));
        member = malloc((size_t)nkeys * sizeof(*member));
        if (pos == NULL || member == NULL) {
            mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
            goto out;
        }
        nkeys = mc_cmd_keys(e, a.argc, a.argv, a.argvlen, pos, nkeys);
    }
    if (nkeys < 0) {
        mc_seterr(c, e == NULL ? MARSHAL_ERR_UNSUPPORTED : MARSHAL_ERR_INVAL,
                  e == NULL ? "unknown command: its keys cannot be placed"
                            : "cannot find the keys of this command (wrong arguments?)");
        goto out;
    }
    if (nkeys == 0) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED,
                  "a command without keys has no place in a cluster: send it to a group target");
        goto out;
    }
    for (i = 0; i < nkeys; i++) {
        member[i] = mc_cluster_place(t, a.argv[pos[i]], a.argvlen[pos[i]]);
        if (member[i] < 0) {
            mc_seterr(c, MARSHAL_ERR_NOSERVER, "cluster \"%s\" has no group to place keys on",
                      t->name);
            goto out;
        }
        same &= member[i] == member[0];
    }
    first = member[0];
    if (same) {
        l = mc_leg_add(c, t->cl->member[first], nkeys);
        rep = mc_run(t->cl->member[first], cmd, len);
        mc_leg_done(c, l, rep != NULL ? MARSHAL_OK : c->errcode);
        goto out;
    }
    kind = mc_split_kind_of(&a);
    if (kind == MC_SPLIT_NONE) {
        mc_seterr(c, MARSHAL_ERR_CROSSGROUP,
                  "keys of this command map to different groups of \"%s\" (use a hash tag)",
                  t->name);
        goto out;
    }
    rep = run_split(t, &a, kind, member);

out:
    if (pos != pos_stack) {
        free(pos);
    }
    if (member != member_stack) {
        free(member);
    }
    mc_argv_free(&a);
    return rep;
}

/* ---- pipelines ---------------------------------------------------------------------------- */

int
mc_cluster_append(marshal_target *t, const char *cmd, size_t len, marshal_target **sub)
{
    marshal_client *c = t->c;
    struct mc_argv a;
    const struct mc_cmd *e;
    int pos[MC_ARGV_STACK], nkeys, i, m = -1, rc;

    *sub = NULL;
    rc = mc_cluster_refresh(t);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    if (t->cl->rule != MSHM_RULE_MARSHAL0) {
        mc_seterr(c, MARSHAL_ERR_UNSUPPORTED,
                  "pipelines on a mirrored target (marshal1/marshal10): use marshal_command");
        return MARSHAL_ERR_UNSUPPORTED;
    }
    rc = mc_argv_parse(cmd, len, &a);
    if (rc != 0) {
        mc_seterr(c, rc == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL, "malformed command");
        return rc == -2 ? MARSHAL_ERR_NOMEM : MARSHAL_ERR_INVAL;
    }
    e = mc_cmd_resolve(a.argc, a.argv, a.argvlen);
    nkeys = e != NULL ? mc_cmd_keys(e, a.argc, a.argv, a.argvlen, pos, MC_ARGV_STACK) : -1;
    rc = MARSHAL_OK;
    if (nkeys <= 0 || nkeys > MC_ARGV_STACK) {
        rc = nkeys == 0 || e == NULL ? MARSHAL_ERR_UNSUPPORTED : MARSHAL_ERR_INVAL;
        mc_seterr(c, rc, "a pipelined cluster command needs 1..%d keys that can be placed",
                  MC_ARGV_STACK);
    }
    for (i = 0; rc == MARSHAL_OK && i < nkeys; i++) {
        int k = mc_cluster_place(t, a.argv[pos[i]], a.argvlen[pos[i]]);

        if (k < 0 || (m >= 0 && k != m)) {
            rc = k < 0 ? MARSHAL_ERR_NOSERVER : MARSHAL_ERR_CROSSGROUP;
            mc_seterr(c, rc, k < 0 ? "no group to place keys on"
                                   : "keys map to different groups: a pipelined command is "
                                     "not split (use marshal_command)");
        }
        m = k;
    }
    mc_argv_free(&a);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    rc = mc_append_formatted(t->cl->member[m], cmd, len);
    if (rc == MARSHAL_OK) {
        *sub = t->cl->member[m];
    }
    return rc;
}
