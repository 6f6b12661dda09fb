/*
 * ctl_wake.h -- the wake socket "<segment path>.wake": a pollable wake-up
 * after every publish, for applications that run an event loop.
 *
 * The segment's futex word (header.notify) wakes threads blocked in
 * FUTEX_WAIT, but epoll cannot watch a futex.  This is the same signal as a
 * file descriptor: an AF_UNIX SOCK_SEQPACKET listener next to the segment.
 * A client connects and waits for its socket to become readable:
 *
 *   once the controller holds the connection it sends the first "w": read
 *   the segment after that byte (a publish between connect() and the
 *   controller's accept() woke only the clients it already held);
 *   after every publish (header.notify moved) the controller sends the
 *   1-byte message "w" to every client; wakes coalesce (a client that does
 *   not drain has at most a few queued, the rest are dropped: a pending
 *   one already says "re-read the segment");
 *   the client drains (recv until EAGAIN), then re-reads the segment;
 *   EOF means the controller is gone (clean exit or killed): reconnect
 *   later; a client must poll the segment at a slow interval anyway.
 *
 * Clients are not trusted: anything they send is read into a small buffer
 * and discarded (an empty message counts as a hang-up), at most
 * CTL_WAKE_MAX are held at once (more are accepted and closed at once), and
 * a refusal costs one log line at most (CTL_WAKE_LOG_PER_SEC a second).
 * Protocol and permissions for applications: docs/client.md, "Wake socket".
 */
#ifndef CTL_WAKE_H
#define CTL_WAKE_H

#include <ev.h>
#include <stddef.h>

#define CTL_WAKE_MAX               4096 /* clients held at once                   */
#define CTL_WAKE_ACCEPT_PER_WAKEUP 64   /* accept4() calls per listener callback   */
#define CTL_WAKE_READS_PER_WAKEUP  4    /* recv() calls per client callback        */
#define CTL_WAKE_READ_BUF          64   /* bytes read per recv(), then discarded   */
#define CTL_WAKE_LOG_PER_SEC       10   /* log lines about refused clients / s     */
#define CTL_WAKE_RETRY_S           1.0  /* accept paused this long after EMFILE    */

struct ctl_wake;

/*
 * The socket path for a segment path ("<seg_path>.wake") into out[len].
 * Returns 0, or -1 when it does not fit a sockaddr_un.
 */
int ctl_wake_path(const char *seg_path, char *out, size_t len);

/*
 * Listen at "<seg_path>.wake" (call after the segment is open: the writer's
 * lock proves no other controller owns the path).  A stale socket there is
 * removed first; anything else at the path is refused.  Mode: read and
 * write for each class (owner, group, other) that may read the segment file
 * (0660 for a 0640 segment), group = the segment file's group.  Non-blocking
 * and close-on-exec; accepted and read by ev_io watchers on loop.  Raises
 * the soft RLIMIT_NOFILE by up to CTL_WAKE_MAX (never past the hard limit)
 * so the clients do not eat into the descriptors the rest of the controller
 * needs; when it cannot, fewer clients are held (logged).
 * Returns the handle, or NULL with the reason logged: the caller may run
 * without it (clients then only poll).  Free with ctl_wake_free().
 */
struct ctl_wake *ctl_wake_new(struct ev_loop *loop, const char *seg_path);

/*
 * Send one wake message to every client (non-blocking).  A client whose
 * queue is full already has a wake pending and is skipped; a client that
 * hung up (EPIPE, ECONNRESET, any other error) is closed and forgotten.
 * No allocation.  NULL is a no-op.
 */
void ctl_wake_all(struct ctl_wake *w);

/* Clients currently held (0 for NULL). */
unsigned ctl_wake_clients(const struct ctl_wake *w);

/*
 * Stop watching, close every client (they see EOF) and the listener, and
 * unlink the socket file if it is still the one we bound.  NULL is a no-op.
 */
void ctl_wake_free(struct ctl_wake *w);

#endif /* CTL_WAKE_H */
