/*
 * mc_split.h -- the I/O-free core of multi-group commands, shared by the
 * blocking and the async front ends: a formatted command's arguments
 * (mc_argv), how a multi-key command splits over groups and the argv of
 * each leg, the merge of the legs' replies, and which writes cannot be
 * mirrored.  Owns no state; no sockets.
 */
#ifndef MC_SPLIT_H
#define MC_SPLIT_H

#include <stddef.h>

#include <hiredis/hiredis.h>

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

/*
 * The reply of a split command whose every leg succeeded: MGET's values in
 * key order (leg_of_key[i]: index in rep[] of key i's leg; the values are
 * moved out of rep[]), MSET's OK, or the sum of the integer replies.
 * rep[0..nrep) may hold NULLs (legs not sent).  NULL when out of memory.
 */
redisReply *mc_split_merge(int kind, int nk, const int *leg_of_key, redisReply **rep, int nrep);

/* Why command e cannot be mirrored (a static reason), or NULL when it can. */
struct mc_cmd;
const char *mc_mirror_refused(const struct mc_cmd *e, const struct mc_argv *a);

#endif /* MC_SPLIT_H */
