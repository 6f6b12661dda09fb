/*
 * marshal.h -- libmarshal-shm: route Redis commands with the topology that
 * marshal-controller publishes in shared memory.
 *
 * The only public header of the library.  An application opens the segment
 * once (marshal_client_open), looks up targets by name (marshal_target_open:
 * a group, a cluster (marshal0 striping, marshal1 mirroring) or a farm (marshal10):
 * the same handle and the same calls),
 * and sends commands hiredis-style (marshal_command, marshal_command_argv,
 * marshal_append + marshal_get_reply).  Replies are hiredis redisReply
 * objects, freed with hiredis's freeReplyObject().
 *
 * Routing reads the segment lock-free: on the hot path one atomic load of the
 * segment generation; when it is unchanged the cached route is used (no
 * syscall, lock or allocation besides hiredis's own I/O).
 *
 * Threads: a marshal_client and its targets belong to one thread at a time,
 * exactly like a hiredis redisContext (no internal locks).  Use one client
 * per thread; every client maps the same segment read-only, so the pages are
 * shared.  Distinct clients never share connections.
 *
 * The library never prints, never aborts, never installs signal handlers and
 * never creates threads; diagnostics go to the log callback in the options.
 *
 * Status codes are 0 or negative (enum marshal_status); marshal_strerror()
 * names them and marshal_client_errstr() gives the detail of the last error.
 */
#ifndef MARSHAL_MARSHAL_H
#define MARSHAL_MARSHAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ----------------------------------------------------------------------- */

#define MARSHAL_VERSION_MAJOR 0
#define MARSHAL_VERSION_MINOR 2
#define MARSHAL_VERSION_PATCH 0
/* (major << 16) | (minor << 8) | patch, comparable with marshal_version(). */
#define MARSHAL_VERSION_NUMBER \
    ((MARSHAL_VERSION_MAJOR << 16) | (MARSHAL_VERSION_MINOR << 8) | MARSHAL_VERSION_PATCH)

#if defined(MARSHAL_BUILDING) && defined(__GNUC__)
#define MARSHAL_API __attribute__((visibility("default")))
#else
#define MARSHAL_API
#endif

/* Runtime version of the linked library, encoded as MARSHAL_VERSION_NUMBER. */
MARSHAL_API int marshal_version(void);

/* The same as a static string, "0.2.0". */
MARSHAL_API const char *marshal_version_string(void);

/* ---- status codes ------------------------------------------------------------------ */

/*
 * Returned as negative ints.  New codes are appended, never renumbered.
 * For MARSHAL_ERR_SYS errno is preserved.
 */
enum marshal_status {
    MARSHAL_OK               = 0,
    MARSHAL_ERR_NOENT        = -1,  /* no segment at the path (controller not running?)  */
    MARSHAL_ERR_PERM         = -2,  /* no permission, or unsafe segment owner/mode       */
    MARSHAL_ERR_VERSION      = -3,  /* segment layout from an incompatible version       */
    MARSHAL_ERR_CORRUPT      = -4,  /* segment failed validation                         */
    MARSHAL_ERR_RETIRED      = -5,  /* segment replaced and the new one cannot be opened */
    MARSHAL_ERR_STALE        = -6,  /* controller stale: write refused by policy         */
    MARSHAL_ERR_BUSY         = -7,  /* segment kept changing under the reader            */
    MARSHAL_ERR_NOTFOUND     = -8,  /* no target of that name in the segment             */
    MARSHAL_ERR_RANGE        = -9,  /* argument out of range                             */
    MARSHAL_ERR_NOMEM        = -10, /* allocation failed                                 */
    MARSHAL_ERR_SYS          = -11, /* system call failed; errno preserved               */
    MARSHAL_ERR_LOST         = -12, /* events overrun (internal; resynced from state)     */
    MARSHAL_ERR_NOMASTER     = -13, /* no confirmed master: write not sent               */
    MARSHAL_ERR_NOSERVER     = -14, /* no server may take this command: not sent         */
    MARSHAL_ERR_CONN         = -15, /* could not connect / authenticate: not sent        */
    MARSHAL_ERR_TIMEOUT      = -16, /* sent, no reply in time: outcome unknown           */
    MARSHAL_ERR_IO           = -17, /* connection lost after sending: outcome unknown    */
    MARSHAL_ERR_PROTOCOL     = -18, /* unparseable reply: outcome unknown                */
    MARSHAL_ERR_DEGRADED     = -19, /* group degraded and its policy fails writes        */
    MARSHAL_ERR_INVAL        = -20, /* bad argument or command format                    */
    MARSHAL_ERR_UNSUPPORTED  = -21, /* command not routable by Marshal (e.g. SUBSCRIBE)  */
    MARSHAL_ERR_CROSSGROUP   = -22, /* keys of one command map to different groups       */
    MARSHAL_ERR_PIPELINE     = -23, /* pipeline misuse (get_reply with nothing queued)   */
    MARSHAL_ERR_PARK_FULL    = -24, /* async: park queue full while waiting for a master:
                                     * not sent                                         */
    MARSHAL_ERR_PARK_EXPIRED = -25, /* async: no master within failover_wait_ms: not sent */
    MARSHAL_ERR_CLOSED       = -26  /* async: handle closed before the command ended     */
};

/* Static, never NULL: "no confirmed master (write not sent)" etc. */
MARSHAL_API const char *marshal_strerror(int status);

/*
 * What happened to the last command: every command ends in exactly one.
 *   APPLIED      the server executed it and replied (the reply may still be
 *                an error reply of a command that ran, e.g. EXEC's array).
 *   NOT_APPLIED  provably not executed: never sent, or an error reply Redis
 *                gives before executing (READONLY, MASTERDOWN, LOADING,
 *                NOREPLICAS, OOM, NOAUTH, WRONGTYPE, ...).
 *   UNKNOWN      sent, then the reply was lost (timeout, EOF, reset), or a
 *                script/function failed part-way.  Never retried by Marshal.
 *   PARTIAL      (cluster targets) a command sent to several groups where the
 *                legs ended differently; marshal_client_legs() has each one.
 */
enum marshal_outcome {
    MARSHAL_OUTCOME_NONE        = 0, /* no command yet                         */
    MARSHAL_OUTCOME_APPLIED     = 1,
    MARSHAL_OUTCOME_NOT_APPLIED = 2,
    MARSHAL_OUTCOME_UNKNOWN     = 3,
    MARSHAL_OUTCOME_PARTIAL     = 4  /* a command split over groups or mirrored:
                                      * some legs applied, others not or unknown
                                      * (marshal_client_legs() says which)      */
};

/* Static name: "applied", "not applied", "unknown", "partial", "none". */
MARSHAL_API const char *marshal_outcome_name(int outcome);

/* ---- options and the client ---------------------------------------------------------- */

typedef struct marshal_client marshal_client;
typedef struct marshal_target marshal_target;

/* Log levels passed to the log callback (Redis's names). */
enum marshal_log_level {
    MARSHAL_LOG_DEBUG = 0, MARSHAL_LOG_VERBOSE = 1, MARSHAL_LOG_NOTICE = 2, MARSHAL_LOG_WARNING = 3
};

/* Log callback: msg is one line without a newline, valid during the call. */
typedef void (*marshal_log_fn)(void *ud, int level, const char *msg);

/*
 * Client options.  Initialise with marshal_options_init() and change what
 * you need; fields added later go into the reserved space, so a program
 * built against this header keeps working with later libraries.
 */
typedef struct marshal_options {
    int connect_timeout_ms;     /* rw: TCP connect + AUTH/SELECT bound (1000)              */
    int command_timeout_ms;     /* rw: per-command reply bound; 0 = none (1000)            */
    int failover_wait_ms;       /* rw: how long a command waits for a confirmed master
                                 *     after READONLY/MASTERDOWN/LOADING/refused or while
                                 *     the group has none (5000; 0 = fail at once)          */
    int stale_writes_fail_ms;   /* rw: 0 = keep routing with the last snapshot while the
                                 *     controller is stale (default); N > 0 = fail writes
                                 *     with MARSHAL_ERR_STALE once it is stale for N ms     */
    const char *username;       /* rw: Redis ACL user (NULL: AUTH with password only)      */
    const char *password;       /* rw: Redis password (NULL: no AUTH).  Copied at open.   */
    int database;               /* rw: SELECT on every new connection (0)                  */
    int max_attempts;           /* rw: sends of one command, retries included (3)          */
    marshal_log_fn log_fn;      /* rw: NULL = no logging                                   */
    void *log_ud;               /* rw: passed to log_fn                                    */
    int log_level;              /* rw: least level passed to log_fn (MARSHAL_LOG_NOTICE)   */
    int park_max;               /* rw: async API: commands parked per group while it has
                                 *     no master (1024; 0 = never park, fail at once)       */
    int reserved_int[7];        /* private: zero                                           */
    void *reserved_ptr[8];      /* private: NULL                                           */
} marshal_options;

/* Fill *o with the defaults above. */
MARSHAL_API void marshal_options_init(marshal_options *o);

/*
 * Open the segment at path (NULL: $MARSHAL_SEGMENT, else
 * "/dev/shm/marshal.main") read-only and create a client.  opts may be NULL
 * (defaults); strings are copied.  On success *out is the client and
 * MARSHAL_OK is returned.  On error a negative status is returned and *out is
 * NULL, except for segment errors (NOENT, PERM, VERSION, CORRUPT) where *out
 * is still a client in state ABSENT that keeps trying to attach on every
 * call, so an application may start before the controller; pass it to
 * marshal_client_errstr() for the reason and marshal_client_close() it when
 * not wanted.  NOMEM leaves *out NULL.
 */
MARSHAL_API int marshal_client_open(const char *path, const marshal_options *opts,
                                    marshal_client **out);

/* Close every connection and target, unmap the segment, free c.  NULL is a no-op. */
MARSHAL_API void marshal_client_close(marshal_client *c);

/* Detail of the last error on c (or on one of its targets); "" if none. */
MARSHAL_API const char *marshal_client_errstr(const marshal_client *c);

/* Status code of the last error on c (MARSHAL_OK if the last call succeeded). */
MARSHAL_API int marshal_client_errcode(const marshal_client *c);

/* Outcome of the last command issued through c (enum marshal_outcome). */
MARSHAL_API int marshal_client_outcome(const marshal_client *c);

/*
 * Server the last command was sent to (*host valid until the next command on
 * c); MARSHAL_ERR_NOTFOUND when the last command was not sent anywhere.
 */
MARSHAL_API int marshal_client_last_server(const marshal_client *c, const char **host, int *port);

/*
 * One leg of the last command: a cluster target sends a command to one group
 * (one leg) or splits it over several (MGET, MSET, DEL, UNLINK, EXISTS,
 * TOUCH: one leg per group).  Valid until the next command on c.
 */
typedef struct marshal_leg {
    const char *group;        /* ro: group name                                   */
    const char *host;         /* ro: server it went to ("" if not sent)           */
    int port;                 /* ro */
    int status;               /* ro: MARSHAL_OK or the leg's error                */
    int outcome;              /* ro: MARSHAL_OUTCOME_* of the leg                 */
    int nkeys;                /* ro: keys of the command in this leg              */
} marshal_leg;

/*
 * The legs of the last command issued through a cluster target: *legs points
 * to an array owned by c; returns how many (0 after a group-target command).
 */
MARSHAL_API int marshal_client_legs(const marshal_client *c, const marshal_leg **legs);

/*
 * Counters of a blocking handle, monotonic since marshal_client_open, for an
 * application to export (for example as Prometheus counters).  A command is
 * counted once when it ends (marshal_command*, or each marshal_get_reply of a
 * pipeline), by its outcome; a split or mirrored command once, as a whole.
 * The async handle has its own: marshal_async_stats_get().
 */
typedef struct marshal_client_stats {
    uint64_t commands;          /* ro: commands ended                                  */
    uint64_t applied;           /* ro: ... with outcome APPLIED                        */
    uint64_t not_applied;       /* ro: NOT_APPLIED (never sent, or refused)            */
    uint64_t unknown;           /* ro: UNKNOWN (sent, no reply)                        */
    uint64_t partial;           /* ro: PARTIAL (legs of a split/mirror ended apart)    */
    uint64_t retries;           /* ro: sends after a command's first (failover, read
                                 *     retry on another server)                        */
    uint64_t connects;          /* ro: server connections opened                       */
    uint64_t failover_waits;    /* ro: commands that waited for the topology to change
                                 *     (no confirmed master, READONLY, refused connect) */
    uint64_t failover_wait_ns;  /* ro: total time spent in those waits                 */
    uint64_t reserved[7];       /* private                                             */
} marshal_client_stats;

/* Copy c's counters into *st (zeroes when c is NULL). */
MARSHAL_API void marshal_client_stats_get(const marshal_client *c, marshal_client_stats *st);

/* Controller/segment state as this process sees it. */
enum marshal_state {
    MARSHAL_STATE_LIVE    = 0, /* controller heartbeat moving                        */
    MARSHAL_STATE_STALE   = 1, /* heartbeat stopped (hung or killed controller)      */
    MARSHAL_STATE_STOPPED = 2, /* controller exited cleanly; last snapshot in use    */
    MARSHAL_STATE_RETIRED = 3, /* segment replaced and the new one not yet attached  */
    MARSHAL_STATE_ABSENT  = 4  /* no segment attached yet                            */
};

/* Current state (reads the heartbeat; cheap, no syscall besides the clock). */
MARSHAL_API int marshal_client_state(marshal_client *c);

/* Static name of a state: "live", "stale", ... */
MARSHAL_API const char *marshal_state_name(int state);

/* ---- targets ------------------------------------------------------------------------- */

/* Routing rules (the spec's group.use(...)). */
enum marshal_route {
    MARSHAL_ROUTE_DEFAULT         = -1, /* what the controller published            */
    MARSHAL_ROUTE_MASTER          = 0,  /* everything to the confirmed master       */
    MARSHAL_ROUTE_MASTER_READONLY = 1,  /* master; while it is down reads go to
                                         * readable replicas, writes fail at once   */
    MARSHAL_ROUTE_SPLIT           = 2   /* writes to the master, reads to readable
                                         * replicas by weighted round-robin          */
};

/*
 * Look up a target (a group, cluster or farm) by name and return a handle owned by c (freed by
 * marshal_target_close or marshal_client_close).  Opening the same name twice
 * returns two handles sharing c's connections.  Errors: NOTFOUND, NOMEM,
 * INVAL, and the segment errors of an ABSENT client.  Events for the target's
 * groups are tracked from this call on.
 */
MARSHAL_API int marshal_target_open(marshal_client *c, const char *name, marshal_target **out);

/* Release a target.  NULL is a no-op. */
MARSHAL_API void marshal_target_close(marshal_target *t);

/* Override the routing rule for this process (MARSHAL_ROUTE_*); RANGE if unknown. */
MARSHAL_API int marshal_target_use(marshal_target *t, int route);

/* Target kinds. */
enum marshal_kind { MARSHAL_KIND_GROUP = 0, MARSHAL_KIND_CLUSTER = 1, MARSHAL_KIND_FARM = 2 };

/* What a target looks like now (a copy; strings valid until the next call on t). */
typedef struct marshal_target_info {
    const char *name;          /* ro */
    int kind;                  /* ro: MARSHAL_KIND_*                                  */
    int route;                 /* ro: effective rule (override or published)          */
    int published_route;       /* ro: what the controller published                   */
    int has_master;            /* ro: a confirmed master is published and up          */
    const char *master_host;   /* ro: "" when none                                    */
    int master_port;           /* ro: 0 when none                                     */
    uint64_t master_epoch;     /* ro: sentinel config-epoch of that master            */
    int n_replicas;            /* ro: replicas listed                                 */
    int n_readable;            /* ro: replicas that may serve reads now               */
    int degraded;              /* ro: sentinel majority lost                          */
    int failover;              /* ro: a failover is in progress                       */
    uint64_t generation;       /* ro: segment generation this view came from          */
    int reserved[8];           /* private */
} marshal_target_info;

/* Fill *info from the current segment.  Errors: NOTFOUND (removed), BUSY. */
MARSHAL_API int marshal_target_info_get(marshal_target *t, marshal_target_info *info);

/* ---- commands ------------------------------------------------------------------------ */

/*
 * Send one command to the server the target's rule picks and return its
 * reply (free with freeReplyObject), or NULL on error: the status is
 * marshal_client_errcode(), the detail marshal_client_errstr(), and the
 * outcome marshal_client_outcome() (a Redis error reply is a reply, not
 * NULL: check reply->type == REDIS_REPLY_ERROR; its outcome is set too).
 *
 * Failover: READONLY, MASTERDOWN, LOADING or a refused connection re-read the
 * segment, wait (bounded by failover_wait_ms, blocking on the segment's
 * futex) for a confirmed master, and retry -- only because such a command
 * provably did not run.  A timeout or EOF after sending is returned as
 * UNKNOWN and a write is never retried; a read-only command (no side effect)
 * is retried once on a fresh connection.
 *
 * format is hiredis's (%s, %b, ...).  Commands Marshal cannot route safely
 * (SUBSCRIBE family, MONITOR, SELECT, AUTH, HELLO, QUIT, RESET, SYNC, PSYNC)
 * fail with MARSHAL_ERR_UNSUPPORTED.  MULTI and WATCH pin the target to the
 * master connection until EXEC, DISCARD or UNWATCH.
 */
MARSHAL_API redisReply *marshal_command(marshal_target *t, const char *format, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
MARSHAL_API redisReply *marshal_vcommand(marshal_target *t, const char *format, va_list ap);
MARSHAL_API redisReply *marshal_command_argv(marshal_target *t, int argc, const char **argv,
                                             const size_t *argvlen);

/*
 * Pipelining: append commands (each routed on its own), then read the replies
 * in append order with marshal_get_reply.  Output is flushed to every server
 * at the first marshal_get_reply.  Pipelined commands are never retried; each
 * reply has its own outcome (marshal_client_outcome() after each get_reply).
 * marshal_append* return MARSHAL_OK or a negative status (the command is then
 * not queued); marshal_get_reply returns MARSHAL_OK with *reply set, or a
 * negative status with *reply NULL (that command's outcome says whether it
 * ran), or MARSHAL_ERR_PIPELINE when nothing is queued.
 */
MARSHAL_API int marshal_append(marshal_target *t, const char *format, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
MARSHAL_API int marshal_vappend(marshal_target *t, const char *format, va_list ap);
MARSHAL_API int marshal_append_argv(marshal_target *t, int argc, const char **argv,
                                    const size_t *argvlen);
MARSHAL_API int marshal_get_reply(marshal_target *t, redisReply **reply);

/* Commands appended and not yet read. */
MARSHAL_API int marshal_pending(const marshal_target *t);

/* ---- events -------------------------------------------------------------------------- */

/*
 * Down = the server is unavailable (failing health checks, unreachable, or
 * +sdown/+odown per the sentinels); up = up for the first time, or back.
 * Readability (link to the master, sync, lag) never makes a server down:
 * it has its own events, READS_UNAVAILABLE / READS_AVAILABLE.  The exact
 * trigger of each is in docs/client.md, "Events".
 */
enum marshal_event_type {
    MARSHAL_EV_MASTER_DOWN      = 1,  /* the group's master went down / lost          */
    MARSHAL_EV_MASTER_UP        = 2,  /* a master is up (again, or after a switch)    */
    MARSHAL_EV_MASTER_SWITCH    = 3,  /* a different node is now the master           */
    MARSHAL_EV_SLAVE_DOWN       = 4,  /* a replica went down (unavailable)            */
    MARSHAL_EV_SLAVE_UP         = 5,  /* a replica came up (first time, or back)      */
    MARSHAL_EV_ALL_SLAVES_DOWN  = 6,  /* every replica of the group is down           */
    MARSHAL_EV_ALL_SLAVES_UP    = 7,  /* the first replica is up after ALL_SLAVES_DOWN */
    MARSHAL_EV_GROUP_DEGRADED   = 8,  /* sentinel majority lost                       */
    MARSHAL_EV_GROUP_RECOVERED  = 9,  /* sentinel majority back                       */
    MARSHAL_EV_CONTROLLER_STALE = 10, /* controller heartbeat stopped                 */
    MARSHAL_EV_CONTROLLER_LIVE  = 11, /* heartbeat moving again (or new segment)      */
    MARSHAL_EV_READS_UNAVAILABLE = 12, /* no replica may serve reads (see .reason)    */
    MARSHAL_EV_READS_AVAILABLE  = 13, /* a replica may serve reads (again)            */
    MARSHAL_EV_TYPE_MAX         = 14
};

/* marshal_event.reason of READS_UNAVAILABLE: why the group's replicas may
 * not serve reads, OR-ed over them (0 when unknown, e.g. after an overrun). */
#define MARSHAL_READS_DOWN        0x01u /* a replica is down                        */
#define MARSHAL_READS_LINK_DOWN   0x02u /* up, link to the master down / other master */
#define MARSHAL_READS_SYNCING     0x04u /* up, full resync or loading               */
#define MARSHAL_READS_LAGGING     0x08u /* up, lag above the group's max_lag_ms     */
#define MARSHAL_READS_NOT_REPLICA 0x10u /* up, but ROLE is not replica              */

/* Mask bit of an event type, for marshal_client_on(). */
#define MARSHAL_EV_BIT(type) (1u << (type))
#define MARSHAL_EV_ALL       0xfffffffeu

/* Static name: "masterDown", "masterUp", "masterSwitch", "slaveDown", ...,
 * "readsUnavailable", "readsAvailable"; "unknown" for anything else. */
MARSHAL_API const char *marshal_event_name(int type);

/* One event (valid during the callback only). */
typedef struct marshal_event {
    int type;                 /* ro: MARSHAL_EV_*                                        */
    const char *group;        /* ro: group name ("" for controller events)               */
    const char *host;         /* ro: the server concerned ("" if none)                   */
    int port;                 /* ro */
    const char *old_host;     /* ro: MASTER_SWITCH: the previous master ("" if unknown)  */
    int old_port;             /* ro */
    uint64_t epoch;           /* ro: sentinel config-epoch (MASTER_SWITCH)                */
    uint64_t seq;             /* ro: events-ring sequence, 0 when derived from counters  */
    int64_t age_ms;           /* ro: how long ago the controller recorded it (-1: n/a)    */
    unsigned reason;          /* ro: READS_UNAVAILABLE: MARSHAL_READS_* bits, else 0      */
} marshal_event;

typedef void (*marshal_event_fn)(marshal_client *c, const marshal_event *ev, void *ud);

/*
 * Register fn for the event types in mask (MARSHAL_EV_BIT(...) | ...); one
 * callback per client (a later call replaces it; fn NULL removes it).
 */
MARSHAL_API int marshal_client_on(marshal_client *c, uint32_t mask, marshal_event_fn fn, void *ud);

/*
 * Deliver pending events of the groups of c's open targets (and controller
 * events) by calling the callback, in the order the controller recorded them.
 * Events are derived from the segment's transition counters, so each
 * transition is delivered exactly once per client even if polls are rare
 * (ring overruns are made up from the counters).  Returns the number of
 * events delivered or a negative status.  Cheap when nothing changed (one
 * atomic load plus the clock).
 */
MARSHAL_API int marshal_client_poll(marshal_client *c);

/*
 * Block until the controller publishes something or timeout_ms passes
 * (-1: no limit), then poll.  Returns as marshal_client_poll.  Uses the
 * segment's futex word: no busy waiting.
 */
MARSHAL_API int marshal_client_wait(marshal_client *c, int timeout_ms);

/*
 * A file descriptor for event loops: it becomes readable at least every
 * interval_ms (a timerfd); on readability call marshal_client_poll(), which
 * also drains it.  The futex word the controller wakes cannot be watched by
 * poll/epoll, so this is a periodic check whose cost is one atomic load
 * when nothing changed.  Owned by c.  Returns the fd or a negative status.
 */
MARSHAL_API int marshal_client_event_fd(marshal_client *c, int interval_ms);

#ifdef __cplusplus
}
#endif

#endif /* MARSHAL_MARSHAL_H */
