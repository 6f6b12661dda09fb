/*
 * ctl_control.h -- the controller's control socket "<segment path>.ctl".
 *
 * A SOCK_DGRAM unix socket next to the segment.  The segment is mapped
 * read-only by everyone but the controller, so this is how applications and
 * operators tell the single writer something.  One datagram = one line of
 * printable ASCII, at most CTL_CONTROL_MSG_MAX bytes, an optional trailing
 * "\n", exactly three words separated by single spaces:
 *
 *   diverged CLUSTER MEMBER   a mirror member missed a write its primary
 *                             applied (libmarshal-shm sends it, best
 *                             effort); any sender that can write the socket
 *   clear CLUSTER MEMBER      an operator clears the mark (uid 0 or the
 *                             controller's own uid, from SCM_CREDENTIALS);
 *                             marshal-controller --clear-diverged sends it
 *
 * CLUSTER is a marshal1 cluster (MEMBER: one of its groups) or a marshal10
 * farm (MEMBER: one of its clusters); MEMBER is never the primary.
 * Anything else is logged (at most CTL_CONTROL_LOG_PER_SEC lines a second)
 * and ignored.  No reply is sent: the result shows in the segment.
 */
#ifndef CTL_CONTROL_H
#define CTL_CONTROL_H

#include <ev.h>
#include <stddef.h>

#include "ctl_config.h"

#define CTL_CONTROL_MSG_MAX     255  /* bytes per datagram, "\n" included  */
#define CTL_CONTROL_PER_WAKEUP  64   /* datagrams read per ev_io callback   */
#define CTL_CONTROL_LOG_PER_SEC 10   /* log lines about bad datagrams / s   */

struct ctl_control;
struct ctl_model;

/* Verbs of a control message. */
enum ctl_control_verb { CTL_CONTROL_DIVERGED = 1, CTL_CONTROL_CLEAR = 2 };

/* A parsed control message (names are printable ASCII, < CTL_NAME_MAX). */
struct ctl_control_msg {
    int verb;                        /* enum ctl_control_verb            */
    char cluster[CTL_NAME_MAX];
    char member[CTL_NAME_MAX];
};

/*
 * Parse one datagram (len bytes of buf, not NUL-terminated) strictly.
 * Returns 0 and fills *out, or -1 with the reason in why[whylen] (the
 * reason never quotes non-printable bytes).  Pure function.
 */
int ctl_control_parse(const char *buf, size_t len, struct ctl_control_msg *out, char *why,
                      size_t whylen);

/*
 * The socket path for a segment path ("<seg_path>.ctl") into out[len].
 * Returns 0, or -1 when it does not fit a sockaddr_un.
 */
int ctl_control_path(const char *seg_path, char *out, size_t len);

/*
 * Create the socket for cfg's segment (after the segment is open: the
 * writer's lock proves no other controller owns the path), bound at
 * "<segment>.ctl": a stale socket there is removed first, anything else at
 * the path is refused.  Mode = the segment's mode plus write for owner and
 * group (0660 for a 0640 segment), group = the segment file's group;
 * SO_PASSCRED on; non-blocking; read by an ev_io on loop that applies
 * messages to m.  Returns NULL (the reason logged) on failure.
 */
struct ctl_control *ctl_control_new(struct ev_loop *loop, const struct ctl_config *cfg,
                                    struct ctl_model *m);

/* Stop watching, close, and unlink the socket if it is still the one we
 * bound.  NULL is a no-op. */
void ctl_control_free(struct ctl_control *c);

/*
 * Operator side (marshal-controller --clear-diverged): attach the segment at
 * seg_path read-only, check that member is a non-primary member of the
 * mirror cluster, send "clear CLUSTER MEMBER" to the control socket and
 * poll the segment until the member's DIVERGED flag is clear, at most
 * timeout_ms.  Returns 0 (clear; *was_set says whether it had been set), or
 * -1 with a message in err[errlen] (no segment, no such mirror or member,
 * cannot send, timed out).
 */
int ctl_control_clear(const char *seg_path, const char *cluster, const char *member,
                      int timeout_ms, int *was_set, char *err, size_t errlen);

#endif /* CTL_CONTROL_H */
