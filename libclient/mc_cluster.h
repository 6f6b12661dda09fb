/*
 * mc_cluster.h -- cluster and farm targets (mc_cluster.c owns struct
 * mc_cluster: members, ring, slot table, mirror flags) --
 * the cluster layer below both front ends' executors (mc_exec.h, async).
 */
#ifndef MC_CLUSTER_H
#define MC_CLUSTER_H

#include "mc_internal.h"
#include "mc_ring.h"
#include "mc_split.h"

/* A cluster target's members and placement ring. */
struct mc_cluster {
    uint32_t notify;              /* segment notify word this view matches          */
    int valid;
    uint32_t cidx, cgen;          /* cluster record index and reuse generation      */
    uint64_t change_seq;
    int n;                                        /* members                         */
    marshal_target *member[MSHM_CLUSTER_MEMBERS]; /* internal group targets          */
    struct mc_ring ring;          /* node id = member position                      */
    uint8_t *slots;               /* distribution slots: member position per hash
                                     slot (MSHM_SLOTS, malloc'd), else NULL         */
    int rule;                     /* MSHM_RULE_MARSHAL0 / MARSHAL1                   */
    int primary;                  /* marshal1: member position of the primary        */
    int policy;                   /* marshal1: MSHM_MIRROR_ALL / PRIMARY             */
    uint16_t mflags[MSHM_CLUSTER_MEMBERS]; /* MSHM_MF_* per member (DIVERGED)        */
    uint64_t mirror_failed;       /* mirror legs that failed (this process)          */
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

/* Member position a key lands on, or -1 (empty ring, unassigned slot). */
int mc_cluster_place(marshal_target *t, const char *key, size_t len);

/* Open a cluster or farm target called name (internal: not the application's). */
int mc_target_open_cluster(marshal_client *c, const char *name, marshal_target **out);

/* Free any target: release it (mc_target_release), free its members.  No-op
 * on an async client (its requests may still hold the target). */
void mc_target_free(marshal_target *t);

/*
 * The common start of a command on cluster t: reset the last command's
 * state, refresh the cluster, parse the command into a (free it with
 * mc_argv_free when this returns MARSHAL_OK) and look up its table entry e
 * (NULL: unknown).
 */
struct mc_cmd;
int mc_cluster_prepare(marshal_target *t, const char *cmd, size_t len, struct mc_argv *a,
                       const struct mc_cmd **e);

/* Legs of the last command (marshal_client_legs). */
void mc_legs_reset(marshal_client *c);
struct mc_leg *mc_leg_add(marshal_client *c, const marshal_target *g, int nkeys);
void mc_leg_done(marshal_client *c, struct mc_leg *l, int status);

/* Tell the controller that member g of mirrored cluster t missed a write. */
void mc_mirror_report_diverged(marshal_client *c, marshal_target *t, const marshal_target *g);

#endif /* MC_CLUSTER_H */
