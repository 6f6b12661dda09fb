/*
 * mc_cluster.h -- cluster targets (marshal0 striping); see mc_cluster.c.
 */
#ifndef MC_CLUSTER_H
#define MC_CLUSTER_H

#include "mc_internal.h"
#include "mc_ring.h"

/* A cluster target's members and placement ring. */
struct mc_cluster {
    uint32_t notify;              /* segment notify word this view matches          */
    int valid;
    uint32_t cidx, cgen;          /* cluster record index and reuse generation      */
    uint64_t change_seq;
    int n;                                        /* members                         */
    marshal_target *member[MSHM_CLUSTER_MEMBERS]; /* internal group targets          */
    struct mc_ring ring;          /* node id = member position                      */
    int hash;                     /* MSHM_HASH_*                                     */
    int has_tag;
    char tag[2];
};

/* Make t (named a cluster) a cluster target.  Errors as marshal_target_open. */
int mc_cluster_open(marshal_target *t);

/* Re-read the cluster record when the segment moved; rebuild on change. */
int mc_cluster_refresh(marshal_target *t);

/* Free t's cluster state (and close its member targets if close_members). */
void mc_cluster_free(marshal_target *t, int close_members);

/* Member position a key lands on, or -1 (empty ring). */
int mc_cluster_place(marshal_target *t, const char *key, size_t len);

/* Run one formatted command on a cluster target. */
redisReply *mc_cluster_run(marshal_target *t, const char *cmd, size_t len);

/*
 * Append a pipelined command whose keys all land in one group to that
 * group's pipeline; *sub receives the group target.  Split commands are not
 * pipelined (CROSSGROUP).
 */
int mc_cluster_append(marshal_target *t, const char *cmd, size_t len, marshal_target **sub);

#endif /* MC_CLUSTER_H */
