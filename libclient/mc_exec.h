/*
 * mc_exec.h -- the blocking front end's executors of composite targets,
 * bottom up: striped clusters (mc_stripe.c), then mirrors and farms
 * (mc_mirror.c), both on the group executor (mc_command.c) and the cluster
 * layer (mc_cluster.c); mc_api.c and mc_client.c sit on top.  They own no
 * state of their own beyond the mirror legs owed (in struct mc_cluster).
 */
#ifndef MC_EXEC_H
#define MC_EXEC_H

#include "mc_cluster.h"

/* ---- mc_stripe.c (blocking executor of striped clusters) ---- */

/* Run a command on striped cluster t (a, e: from mc_cluster_prepare). */
redisReply *mc_stripe_run(marshal_target *t, const char *cmd, size_t len, const struct mc_cmd *e,
                          const struct mc_argv *a);

/* Group or striped cluster target alike: append to its pipeline / run one
 * command (mirror legs and the API use these). */
int mc_append_any(marshal_target *t, const char *cmd, size_t len);
redisReply *mc_run_any(marshal_target *t, const char *cmd, size_t len);
int mc_append_argv(marshal_target *t, int argc, const char **argv, const size_t *argvlen);

/* ---- mc_mirror.c (blocking executor of mirrors and farms) ---- */

/* Run a command on a marshal1 cluster or farm target (e: its table entry or NULL). */
redisReply *mc_mirror_run(marshal_target *t, const char *cmd, size_t len, const struct mc_cmd *e,
                          const struct mc_argv *a);

/* Read the replies of mirror legs sent without waiting that have arrived
 * (block = 1: all of them); failures are counted.  Returns how many failed. */
int mc_mirror_drain(marshal_target *t, int block);

#endif /* MC_EXEC_H */
