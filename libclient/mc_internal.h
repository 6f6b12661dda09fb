/*
 * mc_internal.h -- private structures of libmarshal-shm.
 *
 * A client owns: the read-only segment mapping (struct mshm_reader), the
 * connections (one per server address, lazily connected), the targets, and
 * the event trackers.  A target caches its route: the group's master and
 * readable replicas as connection pointers, valid while the segment's
 * notify word is unchanged (tag-20261125-1: notify moves on every publish and
 * on retirement, after the latch, so an unchanged notify means the cached
 * route is at most as old as a consistent snapshot we already took).
 */
#ifndef MC_INTERNAL_H
#define MC_INTERNAL_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "marshal/marshal.h"
#include "mc_wrr.h"
#include "mshm_attach.h"
#include "mshm_read.h"

#define MC_ERRSTR_MAX     256
#define MC_SUSPECT_NS     1000000000ull /* a server that failed is skipped for 1 s */
#define MC_IDLE_CHECK_NS  50000000ull   /* peek idle connections for EOF after 50 ms */

/* One server address and its (lazy) hiredis connection. */
struct mc_conn {
    char host[MSHM_HOST_MAX];     /* server address                                  */
    uint16_t port;
    redisContext *ctx;            /* NULL when not connected                         */
    uint32_t epoch;               /* ++ per new ctx (pipeline entries remember it)   */
    uint32_t dead_epoch;          /* epoch of the ctx that died last                 */
    uint64_t dead_sent;           /* bytes of that ctx that reached the socket       */
    int dead_status;              /* how it died (MARSHAL_ERR_*)                     */
    uint64_t out_queued;          /* bytes appended to this ctx                      */
    uint64_t out_sent;            /* bytes of them written to the socket             */
    int pending;                  /* pipelined replies not yet read                  */
    marshal_target *owner;        /* target whose pipeline they belong to (pending)  */
    uint64_t last_used_ns;        /* coarse clock: last I/O                          */
    uint64_t suspect_until_ns;    /* coarse clock: skip for reads until then         */
    struct mc_aconn *async;       /* async front end: its connection (mc_async.c)    */
    struct mc_conn *next;         /* client's list                                   */
};

/* A group's route, rebuilt when the segment changes. */
struct mc_route {
    uint32_t notify;              /* segment notify word this route matches          */
    int valid;                    /* built at least once                             */
    uint32_t gidx, ggen;          /* group record index and its reuse generation     */
    uint64_t change_seq;          /* group's change_seq when built                   */
    uint32_t gflags;              /* MSHM_GF_*                                       */
    int published_route;          /* MSHM_ROUTE_* the controller published           */
    struct mc_conn *master;       /* confirmed master, NULL if none                  */
    int master_up;                /* its health is UP                                */
    uint32_t master_sidx;         /* its server index                                */
    uint64_t master_change_seq;   /* its server record's change_seq                  */
    uint64_t master_epoch;
    int n_replicas;               /* replicas listed                                 */
    struct mc_wrr wrr;            /* readable replicas and their weights             */
    struct mc_conn *rep[MC_WRR_MAX];
};

/* A pipelined command waiting for its reply. */
struct mc_pend {
    struct mc_conn *conn;         /* where it went                                   */
    uint32_t epoch;               /* conn->epoch when appended                       */
    uint64_t start;               /* conn->out_queued before it                      */
    uint8_t special;              /* MC_SP_* of the command                          */
    marshal_target *sub;          /* cluster targets: the group target it went to    */
};

/* Target handle (marshal_target). */
struct marshal_target {
    marshal_client *c;
    char name[MSHM_NAME_MAX];
    int kind;                     /* MARSHAL_KIND_*                                  */
    int route_override;           /* MARSHAL_ROUTE_* or DEFAULT                      */
    struct mc_route r;
    struct mc_conn *pinned;       /* MULTI/WATCH: every command to this conn         */
    int in_multi;                 /* between MULTI and EXEC/DISCARD                  */
    struct mc_pend *pend;         /* pipeline ring                                   */
    uint32_t pend_cap, pend_head, pend_len;
    int unflushed;                /* appended since the last mc_target_flush         */
    struct mc_evgroup *eg;        /* event tracker of this group                     */
    struct mc_cluster *cl;        /* cluster targets: members and ring (else NULL)   */
    int internal;                 /* a cluster's member: not the application's      */
    marshal_target *parent;       /* internal members: the cluster or farm           */
    char info_host[MSHM_HOST_MAX];/* storage behind marshal_target_info.master_host  */
    struct mc_atarget *async;     /* async front end: park queue (mc_async.c)        */
    struct marshal_target *next;
};

/* Event tracking of one group for one client (shared by its targets). */
struct mc_evserver {
    uint32_t sidx, gen;
    uint8_t health, role;
    uint16_t port;
    char host[MSHM_HOST_MAX];
};
struct mc_evgroup {
    char name[MSHM_NAME_MAX];
    int refs;
    int primed;                   /* baseline taken                                  */
    uint64_t base_seq;            /* ring events before this predate tracking        */
    uint32_t gidx, ggen;
    uint64_t change_seq;
    /* transitions delivered so far, per counter (mirror of the group record) */
    uint32_t n_master_down, n_master_up, n_master_switch;
    uint32_t n_all_down, n_all_up, n_degraded;
    int degraded;                 /* last seen DEGRADED flag (recovered has no counter) */
    int reads;                    /* last delivered readability: 1 a replica may serve
                                     reads, 0 none (readsUnavailable/Available)     */
    int deferred;                 /* counters ahead of the ring: wait one poll for it */
    uint32_t n_servers;
    struct mc_evserver servers[MSHM_GROUP_SERVERS];
    struct mc_evgroup *next;
};

/* One leg of the last cluster command, with storage for its strings. */
struct mc_leg {
    marshal_leg pub;
    char group[MSHM_NAME_MAX];
    char host[MSHM_HOST_MAX];
};

/* A classified command name (mc_command.c's cache). */
#define MC_CMD_CACHE 8
struct mc_cmd_cache {
    char name[22];                /* exact bytes as sent (case kept)                 */
    uint8_t len;                  /* 0 = empty                                       */
    uint8_t cls;                  /* MC_CLASS_*                                      */
    uint8_t sp;                   /* MC_SP_*                                         */
};

/* Client handle (marshal_client). */
struct marshal_client {
    marshal_options o;            /* copy; strings below                              */
    char *username, *password;
    char path[512];
    int attached;                 /* rd holds a mapping                              */
    struct mshm_reader rd;
    uint64_t next_attach_ns;      /* ABSENT: next attach attempt                      */
    struct mc_conn *conns;
    struct marshal_target *targets;
    /* last command */
    int errcode;
    int outcome;
    marshal_client_stats st;      /* marshal_client_stats_get */
    char errstr[MC_ERRSTR_MAX];
    struct mc_conn *last_conn;
    struct mc_cmd_cache cmd_cache[MC_CMD_CACHE];
    int n_legs;                   /* legs of the last cluster command                */
    struct mc_leg legs[MSHM_CLUSTER_MEMBERS];
    marshal_leg legs_pub[MSHM_CLUSTER_MEMBERS];
    /* events */
    marshal_event_fn ev_fn;
    void *ev_ud;
    uint32_t ev_mask;
    struct mc_evgroup *evgroups;
    uint32_t ev_notify;           /* notify word at the last poll                      */
    int ev_again;                 /* poll again even if notify did not move            */
    int ev_state;                 /* last reported MARSHAL_STATE_*                     */
    uint64_t ev_segment_id;       /* segment the cursor belongs to                     */
    int ev_fd;                    /* timerfd or -1                                     */
    uint64_t stale_since_ns;      /* stale-writes policy: when staleness was first seen */
    struct marshal_async *async;  /* the async handle owning this client, or NULL      */
    /* Read the mirror legs target t still owes (block: all of them).  Set by
     * mc_client.c to mc_mirror_drain: the layers below the mirror executor
     * (mc_command.c, mc_events.c) reach it only through this hook. */
    int (*drain)(marshal_target *t, int block);
};

/* ---- mc_base.c ---- */
void mc_seterr(marshal_client *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mc_clearerr(marshal_client *c);
void mc_log(marshal_client *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Options a client cannot use: 0 (reason in err), else 1. */
int mc_check_options(const marshal_options *o, char *err, size_t errlen);
/* Attach c->path read-only (MARSHAL_OK or a segment error). */
int mc_attach(marshal_client *c);
int mc_ensure_attached(marshal_client *c);
int mc_check_segment(marshal_client *c);
int mc_client_state(marshal_client *c);  /* marshal_client_state */
void mc_invalidate_routes(marshal_client *c);
uint64_t mc_coarse_ns(void);
/* marshal_client_last_server() for internal callers. */
int mc_last_server(const marshal_client *c, const char **host, int *port);

/* The hot-path generation: the segment's notify word (tag-20261125-1). */
static inline uint32_t
mc_notify(const marshal_client *c)
{
    return mshm_ld_acq(&mshm_hdr(&c->rd)->notify); /* LMM(client:A) */
}

/* ---- mc_client.c: the handles; the public calls are thin wrappers, so the
 * async front end opens and closes them without re-entering the public API. */
int mc_client_open(const char *path, const marshal_options *opts, marshal_client **out);
void mc_client_close(marshal_client *c);
int mc_target_open(marshal_client *c, const char *name, marshal_target **out);

/* ---- mc_conn.c ---- */
struct mc_conn *mc_conn_get(marshal_client *c, const char *host, uint16_t port);
int mc_conn_connect(marshal_client *c, struct mc_conn *k);
void mc_conn_drop(marshal_client *c, struct mc_conn *k, int status);
void mc_conn_free_all(marshal_client *c);
int mc_conn_call(marshal_client *c, struct mc_conn *k, const char *cmd, size_t len,
                 redisReply **reply, int *sent);
int mc_conn_append(marshal_client *c, struct mc_conn *k, const char *cmd, size_t len);
int mc_conn_flush(marshal_client *c, struct mc_conn *k);
int mc_conn_read(marshal_client *c, struct mc_conn *k, redisReply **reply);

/* ---- mc_classify.c (I/O-free core) ---- */
/* Class (MC_CLASS_*) and kind (MC_SP_*) of a formatted command: 0, or -1 if malformed. */
int mc_classify(marshal_client *c, const char *cmd, size_t len, int *cls, int *sp);

/* ---- mc_target.c ---- */
/* A new target handle called name, linked into c's list (not yet routed). */
marshal_target *mc_target_new(marshal_client *c, const char *name);
/* Open a group target called name (internal: not the application's). */
int mc_target_open_group(marshal_client *c, const char *name, marshal_target **out);
void mc_target_release(marshal_target *t);

/* ---- mc_command.c (blocking executor of group targets) ---- */
redisReply *mc_run(marshal_target *t, const char *cmd, size_t len);
int mc_append_formatted(marshal_target *t, const char *cmd, size_t len);
int mc_get_reply(marshal_target *t, redisReply **reply);
void mc_target_flush(marshal_target *t);
/* Room for one more pipeline entry in t; MARSHAL_OK or NOMEM. */
int mc_pend_grow(marshal_target *t);

/* ---- mc_route.c ---- */
/* Writes refused now by the stale-controller policy (stale_writes_fail_ms)? */
int mc_stale_refused(marshal_client *c);
/* The route decision alone, without I/O (bench/route_bench.c). */
struct mc_conn *mc_route_decide(marshal_target *t, const char *cmd, size_t len, int *status);
int mc_route_refresh(marshal_target *t);
int mc_route_rebuild(marshal_target *t);
int mc_effective_route(const marshal_target *t);

/* ---- mc_events.c ---- */
int mc_events_poll(marshal_client *c);   /* marshal_client_poll */
int mc_events_track(marshal_client *c, marshal_target *t);
void mc_events_untrack(marshal_client *c, marshal_target *t);
void mc_events_free(marshal_client *c);

#endif /* MC_INTERNAL_H */
