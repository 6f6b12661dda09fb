/*
 * mc_outcome.h -- what a reply says about whether its command ran.
 */
#ifndef MC_OUTCOME_H
#define MC_OUTCOME_H

#include <hiredis/hiredis.h>

/* Commands that need special handling (set by mc_command.c's classifier). */
enum mc_special {
    MC_SP_NONE = 0,
    MC_SP_UNSUPPORTED,   /* refused: subscriptions, MONITOR, SELECT, AUTH, ... */
    MC_SP_MULTI,         /* pins the target to the master connection          */
    MC_SP_WATCH,         /* pins too                                           */
    MC_SP_EXEC,          /* unpins; a nil reply means WATCH aborted it         */
    MC_SP_DISCARD,       /* unpins                                             */
    MC_SP_UNWATCH,       /* unpins outside MULTI                               */
    MC_SP_SCRIPT         /* EVAL*, FCALL*: an error may come after partial work */
};

/*
 * Outcome (MARSHAL_OUTCOME_*) of a command given its reply and MC_SP_* kind:
 *   - a non-error reply: APPLIED, except EXEC's nil (a WATCHed key changed:
 *     the transaction was not executed) which is NOT_APPLIED;
 *   - an error Redis raises before executing anything (see
 *     mc_error_pre_exec): NOT_APPLIED;
 *   - any other error of an ordinary command: NOT_APPLIED too (Redis commands
 *     validate before they modify), but of a script or function: UNKNOWN,
 *     because a script can fail after some of its writes.
 */
int mc_reply_outcome(const redisReply *r, int special);

/* Is this error reply one Redis gives before executing (by its prefix)? */
int mc_error_pre_exec(const char *str, size_t len);

/*
 * Does this reply mean "wrong server, try where the topology says":
 * READONLY, MASTERDOWN or LOADING (all given before executing)?
 */
int mc_reply_retryable(const redisReply *r);

#endif /* MC_OUTCOME_H */
