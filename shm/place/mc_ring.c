/*
 * mc_ring.c -- twemproxy-exact ketama and modula placement (see mc_ring.h
 * for what is reproduced and why).  Built once per topology change, in
 * private memory; dispatch is a binary search over at most 5120 points.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marshal/marshal.h"
#include "mc_hash.h"
#include "mc_ring.h"

/* "<node>-<i>" buffer: twemproxy's KETAMA_MAX_HOSTLEN after the 2021 fix. */
#define KETAMA_HOSTBUF 273

int
mc_ring_node_string(const char *host, int port, const char *name, char *buf, size_t len)
{
    int w;

    if (buf != NULL && len > 0) {
        buf[0] = '\0';
    }
    if (name != NULL && name[0] != '\0') {
        w = snprintf(buf, len, "%s", name);
    } else if (host == NULL || host[0] == '\0' || port < 0 || port > 65535) {
        return MARSHAL_ERR_RANGE;
    } else if (port == MC_RING_DEFAULT_PORT) {
        w = snprintf(buf, len, "%s", host);
    } else if (port == 0) {
        w = snprintf(buf, len, "%s:", host);
    } else {
        w = snprintf(buf, len, "%s:%d", host, port);
    }
    if (w < 0 || w > MC_RING_NAME_MAX || (size_t)w >= len) {
        if (buf != NULL && len > 0) {
            buf[0] = '\0';
        }
        return MARSHAL_ERR_RANGE;
    }
    return w;
}

/* qsort context-free helper: a node's sort key. */
struct sort_ent {
    const char *name;
    size_t      len;
    uint32_t    input;            /* index into the caller's array */
};

/* twemproxy string_compare(): shorter first, then strncmp (unsigned bytes). */
static int
name_cmp(const void *pa, const void *pb)
{
    const struct sort_ent *a = pa, *b = pb;

    if (a->len != b->len) {
        return a->len > b->len ? 1 : -1;
    }
    return memcmp(a->name, b->name, a->len);
}

/* Continuum order: value, then server index (glibc merge-sort stability). */
static int
point_cmp(const void *pa, const void *pb)
{
    const struct mc_ring_point *a = pa, *b = pb;

    if (a->value != b->value) {
        return a->value > b->value ? 1 : -1;
    }
    if (a->index != b->index) {
        return a->index > b->index ? 1 : -1;
    }
    return 0;
}

/*
 * ketama_update's points for one server, in float32 exactly as the C
 * expression evaluates (FLT_EVAL_METHOD 0; every step stored to a float):
 *   (uint32)(floorf((float)(pct * 160 / 4 * (float)nlive + 0.0000000001)) * 4)
 * pct * 160 and / 4 are float ops (int operands convert to float); the
 * + 1e-10 is a double add, converted back to float.  The result is in
 * [0, 1280], so (uint32_t) truncation is floorf and * 4 is exact.
 */
static uint32_t
ketama_points(uint32_t weight, uint32_t total_weight, uint32_t nlive)
{
    volatile float pct, x;        /* volatile: keep every float32 rounding */
    double d;
    float f;

    pct = (float)weight / (float)total_weight;
    x = pct * 160.0f;
    x = x / 4.0f;
    x = x * (float)nlive;
    d = (double)x + 0.0000000001;
    f = (float)d;
    return (uint32_t)f * 4u;
}

void
mc_ring_free(struct mc_ring *r)
{
    if (r == NULL) {
        return;
    }
    free(r->points);
    memset(r, 0, sizeof(*r));
}

int
mc_ring_build(struct mc_ring *r, int dist, const struct mc_ring_node *nodes, size_t n)
{
    struct sort_ent ent[MC_RING_MAX_NODES];
    uint64_t total = 0;
    uint32_t i, npoints = 0;

    memset(r, 0, sizeof(*r));
    r->dist = dist;
    if ((dist != MC_RING_KETAMA && dist != MC_RING_MODULA) || n > MC_RING_MAX_NODES ||
        (n > 0 && nodes == NULL)) {
        return MARSHAL_ERR_RANGE;
    }
    for (i = 0; i < n; i++) {
        const struct mc_ring_node *nd = &nodes[i];
        size_t len;

        if (nd->name == NULL || nd->weight == 0 || nd->id == MC_RING_NONE) {
            return MARSHAL_ERR_RANGE;
        }
        for (len = 0; len <= MC_RING_NAME_MAX && nd->name[len] != '\0'; len++) {
            continue;
        }
        if (len == 0 || len > MC_RING_NAME_MAX) {
            return MARSHAL_ERR_RANGE;
        }
        ent[i].name = nd->name;
        ent[i].len = len;
        ent[i].input = i;
        total += nd->weight;
    }
    if (total > UINT32_MAX) {
        return MARSHAL_ERR_RANGE;
    }
    if (n > 1) {
        qsort(ent, n, sizeof(ent[0]), name_cmp);
        for (i = 1; i < n; i++) {
            if (name_cmp(&ent[i - 1], &ent[i]) == 0) {
                return MARSHAL_ERR_RANGE;   /* twemproxy: duplicate server name */
            }
        }
    }
    r->nnodes = (uint32_t)n;
    r->total_weight = (uint32_t)total;
    for (i = 0; i < n; i++) {
        const struct mc_ring_node *nd = &nodes[ent[i].input];

        r->node_id[i] = nd->id;
        r->node_weight[i] = nd->weight;
        r->node_input[i] = ent[i].input;
        r->node_points[i] = dist == MC_RING_KETAMA ?
            ketama_points(nd->weight, r->total_weight, (uint32_t)n) : nd->weight;
        npoints += dist == MC_RING_KETAMA ? r->node_points[i] : 1u;
    }
    if (npoints == 0) {
        return 0;
    }
    r->points = calloc(npoints, sizeof(*r->points));
    if (r->points == NULL) {
        memset(r, 0, sizeof(*r));
        return MARSHAL_ERR_NOMEM;
    }
    r->npoints = npoints;

    if (dist == MC_RING_MODULA) {
        uint32_t end = 0;

        for (i = 0; i < n; i++) {
            end += r->node_weight[i];
            r->points[i].value = end;
            r->points[i].index = i;
        }
        return 0;
    }

    npoints = 0;
    for (i = 0; i < n; i++) {
        const char *name = nodes[ent[i].input].name;
        uint32_t h;

        for (h = 0; h < r->node_points[i] / MC_RING_POINTS_PER_HASH; h++) {
            char host[KETAMA_HOSTBUF];
            unsigned char d[16];
            int hl, a;

            /* name <= 261 bytes and h < 1280: always fits, never truncated */
            hl = snprintf(host, sizeof(host), "%.*s-%u", (int)ent[i].len, name, (unsigned)h);
            if (hl < 0 || (size_t)hl >= sizeof(host)) {
                mc_ring_free(r);
                return MARSHAL_ERR_RANGE;
            }
            mc_md5(host, (size_t)hl, d);
            for (a = 0; a < MC_RING_POINTS_PER_HASH; a++) {
                r->points[npoints].value = (uint32_t)d[4 * a] | ((uint32_t)d[4 * a + 1] << 8) |
                                           ((uint32_t)d[4 * a + 2] << 16) |
                                           ((uint32_t)d[4 * a + 3] << 24);
                r->points[npoints].index = i;
                npoints++;
            }
        }
    }
    qsort(r->points, r->npoints, sizeof(*r->points), point_cmp);
    return 0;
}

uint32_t
mc_ring_dispatch(const struct mc_ring *r, uint32_t hash)
{
    const struct mc_ring_point *p;
    uint32_t lo = 0, hi, x;

    if (r == NULL || r->npoints == 0 || r->points == NULL) {
        return MC_RING_NONE;
    }
    p = r->points;
    hi = r->npoints;
    if (r->dist == MC_RING_MODULA) {
        /* twemproxy: continuum[hash % total_weight]; find the node's run */
        x = hash % r->total_weight;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;

            if (p[mid].value <= x) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return r->node_id[p[lo].index];
    }
    /* ketama_dispatch: lower bound (first value >= hash), wrap past the end */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (p[mid].value < hash) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == r->npoints) {
        lo = 0;
    }
    return r->node_id[p[lo].index];
}

uint32_t
mc_ring_lookup(const struct mc_ring *r, int hash_kind, const char *tag,
               const void *key, size_t len)
{
    const char *k = key;
    size_t off = 0, tlen = len;
    uint32_t hash;

    if (r == NULL || r->npoints == 0) {
        return MC_RING_NONE;
    }
    if (r->nnodes == 1) {
        return r->node_id[0];     /* server_pool_idx: one server, no hashing */
    }
    if (tag != NULL && tag[0] != '\0' && tag[1] != '\0' && k != NULL) {
        mc_hash_tag(k, len, tag[0], tag[1], &off, &tlen);
    }
    hash = tlen == 0 ? 0 : mc_hash(hash_kind, k + off, tlen);
    return mc_ring_dispatch(r, hash);
}

double
mc_ring_moved_fraction(const struct mc_ring *a, const struct mc_ring *b,
                       int hash_kind, uint32_t nkeys)
{
    uint32_t i, moved = 0;

    if (nkeys == 0) {
        return 0.0;
    }
    for (i = 0; i < nkeys; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "key:%u", (unsigned)i);

        if (mc_ring_lookup(a, hash_kind, NULL, key, (size_t)kl) !=
            mc_ring_lookup(b, hash_kind, NULL, key, (size_t)kl)) {
            moved++;
        }
    }
    return (double)moved / (double)nkeys;
}
