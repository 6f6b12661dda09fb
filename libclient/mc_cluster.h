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

/* Run one formatted command on a cluster target. */
redisReply *mc_cluster_run(marshal_target *t, const char *cmd, size_t len);

/*
 * Append a pipelined command whose keys all land in one group to that
 * group's pipeline; *sub receives the group target.  Split commands are not
 * pipelined (CROSSGROUP).
 */
int mc_cluster_append(marshal_target *t, const char *cmd, size_t len, marshal_target **sub);

/* Every argument of a formatted command (pointers into its buffer). */
#define MC_ARGV_STACK 64
struct mc_argv {
    int argc;
    const char **argv;
    size_t *argvlen;
    const char *sargv[MC_ARGV_STACK];
    size_t slen[MC_ARGV_STACK];
};

/* Parse a hiredis-formatted command: 0, -1 malformed, -2 out of memory. */
int mc_argv_parse(const char *b, size_t len, struct mc_argv *a);
void mc_argv_free(struct mc_argv *a);

/* Is s[0..n) the lowercase name lower, case-insensitively? */
int mc_name_eq(const char *s, size_t n, const char *lower);

/* Legs of the last command (marshal_client_legs). */
void mc_legs_reset(marshal_client *c);
struct mc_leg *mc_leg_add(marshal_client *c, const marshal_target *g, int nkeys);
void mc_leg_done(marshal_client *c, struct mc_leg *l, int status);

/* ---- mc_mirror.c ---- */

/* Run a command on a marshal1 cluster target (e: its table entry or NULL). */
struct mc_cmd;
redisReply *mc_mirror_run(marshal_target *t, const char *cmd, size_t len, const struct mc_cmd *e,
                          const struct mc_argv *a);

/* Read the replies of mirror legs sent without waiting that have arrived
 * (block = 1: all of them); failures are counted.  Returns how many failed. */
int mc_mirror_drain(marshal_target *t, int block);

/* Why command e cannot be mirrored (a static reason), or NULL when it can. */
const char *mc_mirror_refused(const struct mc_cmd *e, const struct mc_argv *a);

/* Tell the controller that member g of mirrored cluster t missed a write. */
void mc_mirror_report_diverged(marshal_client *c, marshal_target *t, const marshal_target *g);

/* Split kinds of multi-key commands on striped clusters. */
enum mc_split_kind { MC_SPLIT_NONE = 0, MC_SPLIT_MGET, MC_SPLIT_MSET, MC_SPLIT_SUM };

/* How a command splits over groups (MC_SPLIT_NONE: it does not). */
enum mc_split_kind mc_split_kind_of(const struct mc_argv *a);

/*
 * The argv of one leg of a split command: the name, then the keys (with their
 * values for MSET) that land on member m (member[i]: member of key i).  sub
 * and sublen need a->argc entries.  Returns the leg's argc.
 */
int mc_split_leg_argv(const struct mc_argv *a, int kind, const int *member, int m,
                      const char **sub, size_t *sublen);

#endif /* MC_CLUSTER_H */
