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

/* What the front end does next with a command (mc_reply_verdict, mc_loss_verdict). */
enum mc_verdict {
    MC_V_DONE = 0,   /* report the outcome to the caller                      */
    MC_V_PARK,       /* provably not run, wrong server: wait for the topology  */
    MC_V_RETRY       /* try again now on another server (or a new connection) */
};

/*
 * After a reply: READONLY / MASTERDOWN / LOADING mean the command did not
 * run on the wrong server; a read served by a replica may go elsewhere at
 * once (RETRY), anything else waits for the topology (PARK).  Every other
 * reply is DONE (its outcome from mc_reply_outcome).  can_retry is 0 when
 * the attempts are used up or the command is pinned (MULTI/WATCH).
 */
int mc_reply_verdict(const redisReply *r, int is_read, int from_master, int can_retry);

/*
 * After the connection was lost before a reply: not sent -> PARK (connection
 * refused/failed: the command did not run); sent -> a read with no retry
 * used yet may be RETRIED (no effect), everything else is DONE with outcome
 * UNKNOWN.  protocol: the reply was unparseable (never retried).
 */
int mc_loss_verdict(int sent, int is_read, int read_retried, int protocol, int can_retry);

#endif /* MC_OUTCOME_H */
