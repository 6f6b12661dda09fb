/*
 * key.c -- marshal-shmdump --key KEY [--target NAME]: where a key
 * routes, and why.
 *
 * For every cluster (or the one named by --target): the hash tag applied,
 * the hash value, the ring point it lands on (ketama) or the modula slot,
 * the member group, and inside that group the server that takes writes and
 * the servers reads may go to under the group's published rule.  For a farm:
 * the same for each member cluster (a write goes to every one of them).
 * For a group target: just the group's routing.
 *
 * The placement is computed with the library's own code (shm/place/: mc_ring.c,
 * mc_hash.c, twemproxy-exact), from a consistent copy of the state.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "mc_hash.h"
#include "mc_ring.h"
#include "modes.h"

static const char *const route_txt[] = {"master-only", "master-only, read-only mode",
                                         "read/write split"};
static const char *const dist_txt[] = {"ketama", "modula", "slots"};

static const struct mshm_group *
group_at(const struct mshm_state *st, uint32_t gi)
{
    if (gi >= st->hdr.n_groups || !(st->groups[gi].flags & MSHM_GF_IN_USE)) {
        return NULL;
    }
    return &st->groups[gi];
}

static const struct mshm_server *
server_at(const struct mshm_state *st, uint32_t si)
{
    return si < st->hdr.n_servers && (st->servers[si].flags & MSHM_SF_IN_USE) ? &st->servers[si]
                                                                             : NULL;
}

/* Inside a group: who takes writes, who may take reads. */
static void
explain_group(FILE *out, const struct mshm_state *st, const struct mshm_group *g,
              const char *indent)
{
    const struct mshm_server *m = NULL;
    unsigned route = g->route <= MSHM_ROUTE_SPLIT ? g->route : 0;
    int n_read = 0;
    uint32_t i;

    if (g->master_idx != MSHM_NONE && !(g->flags & MSHM_GF_NO_MASTER)) {
        m = server_at(st, g->master_idx);
    }
    fprintf(out, "%sgroup %s: rule %s\n", indent, g->name, route_txt[route]);
    if (m != NULL && m->health == MSHM_HEALTH_UP) {
        fprintf(out, "%s  writes -> %s:%u (confirmed master, epoch %llu)\n", indent,
                mshm_state_host(st, m), m->port, (unsigned long long)g->master_epoch);
    } else if (m != NULL) {
        fprintf(out, "%s  writes -> %s:%u is DOWN: %s\n", indent, mshm_state_host(st, m), m->port,
                route == MSHM_ROUTE_MASTER_READONLY ? "writes fail at once (read-only mode)"
                                                    : "writes wait for a failover, then fail");
    } else {
        fprintf(out, "%s  writes -> none: no confirmed master; writes %s\n", indent,
                route == MSHM_ROUTE_MASTER_READONLY ? "fail at once" : "wait, then fail");
    }
    if (route == MSHM_ROUTE_MASTER && m != NULL) {
        fprintf(out, "%s  reads  -> the master\n", indent);
        return;
    }
    for (i = 0; i < g->n_servers && i < MSHM_GROUP_SERVERS; i++) {
        const struct mshm_server *s = server_at(st, g->servers[i]);

        if (s == NULL || s == m || !(s->flags & MSHM_SF_READABLE) || s->power == 0) {
            continue;
        }
        if (route == MSHM_ROUTE_SPLIT || m == NULL || m->health != MSHM_HEALTH_UP) {
            fprintf(out, "%s  reads  -> %s:%u (readable replica, power %u)\n", indent,
                    mshm_state_host(st, s), s->port, s->power);
            n_read++;
        }
    }
    if (n_read > 1) {
        fprintf(out, "%s           (smooth weighted round-robin over these)\n", indent);
    }
    if (n_read == 0) {
        if (m != NULL && m->health == MSHM_HEALTH_UP) {
            fprintf(out, "%s  reads  -> the master (%s)\n", indent,
                    route == MSHM_ROUTE_SPLIT ? "no readable replica" : "it is up");
        } else {
            fprintf(out, "%s  reads  -> none: no readable server\n", indent);
        }
    }
}

/* The member group a key landed on, explained one level deeper. */
static void
explain_member(FILE *out, const struct mshm_state *st, const struct mshm_group *g,
               const char *indent)
{
    char sub[32];

    snprintf(sub, sizeof(sub), "%s  ", indent);
    explain_group(out, st, g, sub);
}

/* A marshal0 cluster: the key's group and why.  Returns 0, or 1 if unplaceable. */
static int
explain_cluster(FILE *out, const struct mshm_state *st, const struct mshm_cluster *cl,
                const char *key, size_t klen, const char *indent)
{
    struct mc_ring_node nodes[MSHM_CLUSTER_MEMBERS];
    const struct mshm_group *mg[MSHM_CLUSTER_MEMBERS];
    struct mc_ring ring;
    size_t off = 0, tlen = klen;
    uint32_t i, n = cl->n_members, id, hash = 0, pi;
    char tag[2] = {(char)cl->hash_tag[0], (char)cl->hash_tag[1]};
    int has_tag = (cl->flags & MSHM_CF_HASH_TAG) != 0;

    fprintf(out, "%scluster %s: marshal0, %s, hash %s%s%c%c\n", indent, cl->name,
            cl->dist <= MSHM_DIST_SLOTS ? dist_txt[cl->dist] : "?",
            cl->dist == MSHM_DIST_SLOTS ? "crc16 (Redis Cluster)" : mc_hash_name(cl->hash),
            has_tag ? ", hash tag " : "", has_tag ? tag[0] : ' ', has_tag ? tag[1] : ' ');
    if (n > MSHM_CLUSTER_MEMBERS) {
        n = MSHM_CLUSTER_MEMBERS;
    }
    if (cl->dist == MSHM_DIST_SLOTS) {
        const struct mshm_slotmap *sm = mshm_state_slotmap(st, cl);
        const struct mshm_group *g;
        uint32_t crc, slot;

        if (sm == NULL) {
            fprintf(out, "%s  no slot map published: not routable\n", indent);
            return 1;
        }
        if (has_tag && mc_hash_tag(key, klen, tag[0], tag[1], &off, &tlen)) {
            fprintf(out, "%s  hash tag: hashing \"%.*s\" (bytes %zu..%zu of the key)\n", indent,
                    (int)tlen, key + off, off, off + tlen);
        }
        crc = mc_crc16_xmodem(tlen == 0 ? "" : key + off, tlen);
        slot = crc & (MSHM_SLOTS - 1u);
        id = sm->member[slot];
        fprintf(out, "%s  crc16 0x%04x -> slot %u\n", indent, crc, slot);
        if (id >= n || (g = group_at(st, cl->members[id].idx)) == NULL) {
            fprintf(out, "%s  -> no group (slot %u unassigned)\n", indent, slot);
            return 1;
        }
        fprintf(out, "%s  -> member %u (slot map)\n", indent, id);
        explain_member(out, st, g, indent);
        return 0;
    }
    for (i = 0; i < n; i++) {
        mg[i] = group_at(st, cl->members[i].idx);
        if (mg[i] == NULL) {
            fprintf(out, "%s  member %u is not a group in use\n", indent, i);
            return 1;
        }
        nodes[i].name = mg[i]->name;
        nodes[i].weight = cl->members[i].power > 0 ? cl->members[i].power : 1;
        nodes[i].id = i;
    }
    memset(&ring, 0, sizeof(ring));
    if (mc_ring_build(&ring, cl->dist, nodes, n) != 0) {
        fprintf(out, "%s  cannot build its ring\n", indent);
        return 1;
    }
    if (has_tag && mc_hash_tag(key, klen, tag[0], tag[1], &off, &tlen)) {
        fprintf(out, "%s  hash tag: hashing \"%.*s\" (bytes %zu..%zu of the key)\n", indent,
                (int)tlen, key + off, off, off + tlen);
    }
    id = mc_ring_lookup(&ring, cl->hash, has_tag ? tag : NULL, key, klen);
    if (ring.nnodes == 1) {
        fprintf(out, "%s  one group: no hashing\n", indent);
    } else if (ring.npoints > 0) {
        hash = tlen == 0 ? 0 : mc_hash(cl->hash, key + off, tlen);
        if (cl->dist == MSHM_DIST_KETAMA) {
            uint32_t lo = 0, hi = ring.npoints;

            while (lo < hi) {   /* first point >= hash, wrapping to the first */
                uint32_t mid = lo + (hi - lo) / 2;

                if (ring.points[mid].value < hash) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            pi = lo == ring.npoints ? 0 : lo;
            fprintf(out, "%s  hash 0x%08x -> ring point #%u of %u (value 0x%08x%s)\n", indent,
                    hash, pi, ring.npoints, ring.points[pi].value,
                    lo == ring.npoints ? ", wrapped around" : "");
        } else {
            fprintf(out, "%s  hash 0x%08x -> modula slot %u of %u\n", indent, hash,
                    hash % ring.total_weight, ring.total_weight);
        }
    }
    mc_ring_free(&ring);
    if (id == MC_RING_NONE || id >= n) {
        fprintf(out, "%s  -> no group (empty ring)\n", indent);
        return 1;
    }
    fprintf(out, "%s  -> member %u, power %u\n", indent, id, cl->members[id].power);
    explain_member(out, st, mg[id], indent);
    return 0;
}

int
shmdump_key(FILE *out, const struct mshm_state *st, const char *key, const char *target)
{
    uint32_t i, j;
    int found = 0, bad = 0;
    size_t klen = strlen(key);

    fprintf(out, "key \"%s\" (%zu bytes)\n", key, klen);
    if (target != NULL) {
        for (i = 0; i < st->hdr.n_groups; i++) {
            const struct mshm_group *g = group_at(st, i);

            if (g != NULL && strcmp(g->name, target) == 0) {
                explain_group(out, st, g, "");
                return 0;
            }
        }
    }
    for (i = 0; i < st->hdr.n_clusters; i++) {
        const struct mshm_cluster *cl = &st->clusters[i];

        if (!(cl->flags & MSHM_CF_IN_USE) || (target != NULL && strcmp(cl->name, target) != 0)) {
            continue;
        }
        found = 1;
        if (cl->kind == MSHM_KIND_FARM) {
            fprintf(out, "farm %s: marshal10 -- writes go to the key's group in every member "
                         "cluster; reads to the primary's\n", cl->name);
            for (j = 0; j < cl->n_members && j < MSHM_CLUSTER_MEMBERS; j++) {
                uint32_t ci = cl->members[j].idx;

                if (ci >= st->hdr.n_clusters || !(st->clusters[ci].flags & MSHM_CF_IN_USE)) {
                    fprintf(out, "  member %u is not a cluster in use\n", j);
                    bad = 1;
                    continue;
                }
                if (cl->members[j].flags & MSHM_MF_PRIMARY) {
                    fprintf(out, "  (primary)\n");
                }
                bad |= explain_cluster(out, st, &st->clusters[ci], key, klen, "  ");
            }
        } else if (cl->rule == MSHM_RULE_MARSHAL0) {
            bad |= explain_cluster(out, st, cl, key, klen, "");
        } else {
            fprintf(out, "cluster %s: marshal1 mirror -- every write goes to all %u groups%s\n",
                    cl->name, cl->n_members,
                    cl->mirror_policy == MSHM_MIRROR_PRIMARY ? " (acknowledged after the primary)"
                                                             : " (all must succeed)");
            for (j = 0; j < cl->n_members && j < MSHM_CLUSTER_MEMBERS; j++) {
                const struct mshm_group *g = group_at(st, cl->members[j].idx);

                if (g != NULL) {
                    if (cl->members[j].flags & MSHM_MF_PRIMARY) {
                        fprintf(out, "  (primary: reads)\n");
                    }
                    explain_group(out, st, g, "  ");
                }
            }
        }
    }
    if (!found && target != NULL) {
        fprintf(out, "no group or cluster \"%s\"\n", target);
        return 2;
    }
    if (!found) {
        fprintf(out, "no clusters in the segment (give --target GROUP for a group)\n");
    }
    return bad;
}
