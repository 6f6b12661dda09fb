/*
 * mc_ring.h -- key -> member-group placement, twemproxy-exact: the ketama
 * continuum (src/hashkit/nc_ketama.c) and modula (nc_modula.c), with
 * twemproxy's server order (nc_conf.c conf_validate_server) and dispatch
 * (nc_server.c server_pool_idx).  No networking; the ring is private memory
 * a client builds from the segment's cluster record, never shared memory.
 *
 * What is reproduced (docs: /work/shared/reference/placement.md 2.1):
 *   - nodes are sorted by their ketama string, shorter first, then strncmp;
 *     that order is the server index both distributions use;
 *   - ketama points per node: float32 arithmetic, step by step,
 *       pct = (float)w / (float)total;  points = floorf(pct*160/4*nlive
 *       + 1e-10) * 4  (the +1e-10 is a double add rounded back to float);
 *     weights 5,3,1,1,1,1 give 400 points (a double model would give 396);
 *   - point values: MD5("<node>-<i>"), i = 0 .. points/4 - 1, four
 *     little-endian words per digest;
 *   - continuum sorted by value; equal values ordered by server index (what
 *     glibc's merge-sort qsort did; twemproxy's comparator leaves it open);
 *   - dispatch: first point with value >= hash, wrapping to the first point;
 *   - modula: each node repeated weight times in sorted order, hash % total;
 *   - lookup: hash tag, then one node -> that node without hashing, empty key
 *     -> hash 0.
 * Not reproduced: auto_eject_hosts (a Marshal group fails over inside the
 * group; callers pass only the nodes they place on) and distribution random.
 */
#ifndef MC_RING_H
#define MC_RING_H

#include <stddef.h>
#include <stdint.h>

#define MC_RING_MAX_NODES 32          /* = MSHM_CLUSTER_MEMBERS               */
#define MC_RING_NONE      UINT32_MAX  /* dispatch sentinel: no node (empty)   */

/*
 * Longest ketama node string accepted: a 255-byte DNS name + ':' + 5-digit
 * port.  "<node>-<i>" then always fits twemproxy's 273-byte buffer (i has
 * at most 4 digits here), so the string hashed is never truncated.
 */
#define MC_RING_NAME_MAX 261

#define MC_RING_POINTS_PER_SERVER 160 /* KETAMA_POINTS_PER_SERVER             */
#define MC_RING_POINTS_PER_HASH   4   /* MD5 digest = 4 points                */
#define MC_RING_DEFAULT_PORT      11211 /* CONF_DEFAULT_KETAMA_PORT           */

/* Distributions; values equal enum mshm_dist (SLOTS is not a ring). */
enum mc_ring_dist {
    MC_RING_KETAMA = 0,
    MC_RING_MODULA = 1
};

/* One node as the caller describes it to mc_ring_build(). */
struct mc_ring_node {
    const char *name;             /* ketama node string, NUL-terminated,
                                     1..MC_RING_NAME_MAX bytes; see
                                     mc_ring_node_string()                  */
    uint32_t    weight;           /* > 0 (twemproxy rejects weight 0)       */
    uint32_t    id;               /* opaque (group index); != MC_RING_NONE  */
};

/*
 * A point of the ketama continuum, or a node's run of the modula array.
 * twemproxy's modula array repeats each node weight times (total_weight
 * entries); here each node is one entry whose value is the end (exclusive)
 * of its run, found by binary search -- the same answer in O(nodes) memory.
 */
struct mc_ring_point {
    uint32_t value;               /* ketama: point value; modula: cumulative
                                     weight through this node             */
    uint32_t index;               /* node position in sorted order          */
};

/* A built ring.  Zero-initialise or mc_ring_build() before use. */
struct mc_ring {
    int      dist;                               /* ro: enum mc_ring_dist    */
    uint32_t nnodes;                             /* ro: nodes (sorted)       */
    uint32_t npoints;                            /* ro: entries in points[]  */
    uint32_t total_weight;                       /* ro: sum of weights       */
    uint32_t node_id[MC_RING_MAX_NODES];         /* ro: sorted pos -> id     */
    uint32_t node_weight[MC_RING_MAX_NODES];     /* ro: sorted pos -> weight */
    uint32_t node_points[MC_RING_MAX_NODES];     /* ro: sorted pos -> points
                                                    (ketama) or slots
                                                    (modula)                 */
    uint32_t node_input[MC_RING_MAX_NODES];      /* ro: sorted pos -> index
                                                    into the build array     */
    struct mc_ring_point *points;                /* private: malloc'd        */
};

/*
 * Write twemproxy's ketama node string for a server into buf[len]: `name`
 * if non-NULL and non-empty; else "host" when port == 11211 (libmemcached
 * compatibility); else "host:port".  port 0 (a unix socket path) gives
 * "host:" -- twemproxy's conf_add_server takes addrlen + 1 + portlen(0)
 * bytes of "/path:weight" (read from the source, not run).
 * Returns the string length (NUL excluded), or MARSHAL_ERR_RANGE when host
 * is NULL/empty, port > 65535, the string exceeds MC_RING_NAME_MAX or does
 * not fit in len (buf then holds "" if len > 0).
 */
int mc_ring_node_string(const char *host, int port, const char *name,
                        char *buf, size_t len);

/*
 * Build r (dist MC_RING_KETAMA or MC_RING_MODULA) from n nodes, in any
 * order; they are sorted as twemproxy sorts them.  r needs no prior state
 * (any previous contents are overwritten, not freed: call mc_ring_free()
 * first on a built ring).  n == 0 builds an empty ring (dispatch returns
 * MC_RING_NONE).
 * Returns 0, MARSHAL_ERR_RANGE (n > MC_RING_MAX_NODES, unknown dist, a bad
 * name, weight 0, total weight > UINT32_MAX, id == MC_RING_NONE, duplicate
 * node strings -- all rejected by twemproxy's config too) or
 * MARSHAL_ERR_NOMEM.  On error r is left empty and owns nothing.
 * Ketama with extreme weight ratios can give a node 0 points (twemproxy:
 * weights 100000,1); that node then receives no keys, as in twemproxy.
 */
int mc_ring_build(struct mc_ring *r, int dist, const struct mc_ring_node *nodes, size_t n);

/* Release r's memory and leave it empty (safe on an empty/zeroed ring). */
void mc_ring_free(struct mc_ring *r);

/*
 * The node id a key hash lands on: ketama_dispatch (lower bound, wrap) or
 * modula_dispatch (hash % npoints).  MC_RING_NONE on an empty ring (no
 * nodes, or every node got 0 points).
 */
uint32_t mc_ring_dispatch(const struct mc_ring *r, uint32_t hash);

/*
 * Full twemproxy routing of a key (server_pool_idx): hash tag (tag = two
 * delimiter chars, or NULL for none; twemproxy/Redis empty-tag rule), then
 * a one-node ring answers that node without hashing, an empty key hashes
 * to 0, otherwise mc_hash(hash_kind, ...).  MC_RING_NONE on an empty ring.
 */
uint32_t mc_ring_lookup(const struct mc_ring *r, int hash_kind, const char *tag,
                        const void *key, size_t len);

/*
 * Fraction (0..1) of nkeys synthetic keys "key:<i>", i = 0 .. nkeys-1, whose
 * node id differs between rings a and b under hash_kind (no hash tag).  Ids
 * must mean the same groups in both rings.  Returns 0 when nkeys is 0.
 */
double mc_ring_moved_fraction(const struct mc_ring *a, const struct mc_ring *b,
                              int hash_kind, uint32_t nkeys);

#endif /* MC_RING_H */
