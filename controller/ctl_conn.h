/*
 * ctl_conn.h -- one hiredis async connection on the controller's libev loop,
 * with the deadlines hiredis 0.14 does not have.
 *
 * Every connect and every command has a deadline.  When one passes, the
 * connection is dropped with redisAsyncFree(): every pending callback then
 * runs with a NULL reply (redisAsyncDisconnect would wait for late replies).
 * Commands are pipelined FIFO, so one timer armed at the oldest pending
 * deadline covers them all.  Reconnecting is the owner's decision: the state
 * callback says when the connection went up or down.
 *
 * Callbacks must not free the connection they are called for; schedule that
 * instead (they may call ctl_conn_close()).
 */
#ifndef CTL_CONN_H
#define CTL_CONN_H

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdint.h>

#include "ctl_config.h"

struct ctl_conn;

/* Reply callback: reply is NULL when the command failed (timeout, EOF, close). */
typedef void (*ctl_reply_fn)(struct ctl_conn *c, redisReply *reply, void *pd);

/* State callback: up = 1 after connect (+ AUTH), 0 after any disconnect or
 * failed connect; reason is a static/short description for logs. */
typedef void (*ctl_state_fn)(struct ctl_conn *c, int up, const char *reason, void *ud);

/* Connection states */
enum ctl_conn_state { CTL_CONN_DOWN = 0, CTL_CONN_CONNECTING = 1, CTL_CONN_UP = 2 };

/*
 * New, unconnected connection to addr.  cred may be NULL (no AUTH); the
 * strings are copied.  client_name (may be NULL) is sent as CLIENT SETNAME.
 */
struct ctl_conn *ctl_conn_new(struct ev_loop *loop, const struct ctl_addr *addr,
                              const struct ctl_cred *cred, const char *client_name,
                              uint32_t connect_timeout_ms, uint32_t timeout_ms,
                              ctl_state_fn state_fn, void *ud);

/* Start connecting (no-op unless DOWN).  Returns 0, or -1 if it failed at once
 * (the state callback is not called in that case). */
int ctl_conn_connect(struct ctl_conn *c);

/* Send a command (argv form).  Returns 0, or -1 if the connection is not UP
 * (fn is then NOT called).  fn runs exactly once otherwise. */
int ctl_conn_command(struct ctl_conn *c, ctl_reply_fn fn, void *pd, int argc,
                     const char **argv);

/* The same with the command already in RESP form (cmd[len], e.g.
 * "*1\r\n$4\r\nPING\r\n"), which saves formatting it for every send. */
int ctl_conn_command_formatted(struct ctl_conn *c, ctl_reply_fn fn, void *pd, const char *cmd,
                               size_t len);

/*
 * (P)SUBSCRIBE: fn runs for the confirmation and for every message, and once
 * more with NULL when the connection goes down.  No deadline applies.
 */
int ctl_conn_subscribe(struct ctl_conn *c, ctl_reply_fn fn, void *pd, int argc,
                       const char **argv);

/* Send a command whose reply arrives through a subscription callback (PING on
 * a subscribed connection).  No callback, no deadline.  Returns 0 or -1. */
int ctl_conn_send(struct ctl_conn *c, int argc, const char **argv);

/*
 * Batch commands into one write: after ctl_conn_cork(), commands are queued
 * but not written; ctl_conn_uncork() writes them at once (waiting for the
 * socket only if it would block).  Deadlines run from each command's
 * submission as always.  Safe from callbacks; a no-op on a connection that
 * is not UP (nothing was queued then).
 */
void ctl_conn_cork(struct ctl_conn *c);
void ctl_conn_uncork(struct ctl_conn *c);

/* Drop the connection now: pending callbacks run with NULL, then the state
 * callback with up = 0.  Safe in any state and from callbacks. */
void ctl_conn_close(struct ctl_conn *c, const char *reason);

/* Close and free.  Must not be called from this connection's callbacks. */
void ctl_conn_free(struct ctl_conn *c);

enum ctl_conn_state ctl_conn_state(const struct ctl_conn *c);

/* Monotonic milliseconds / nanoseconds of the loop's clock. */
uint64_t ctl_now_ms(void);
uint64_t ctl_now_ns(void);

#endif /* CTL_CONN_H */
