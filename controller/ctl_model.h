/*
 * ctl_model.h -- the controller's authoritative topology.
 *
 * The model owns every group and server the controller knows (configured or
 * discovered), their stable segment indices, what the controller's own
 * health checks found (ctl_health) and what each sentinel says (ctl_sentinel).
 * From those inputs it resolves, per group, the confirmed master and the
 * readable replicas, derives the events (down/up from availability, reads
 * events from readability: issue 17), and publishes changes into the
 * segment (ctl_model_flush, called once per loop iteration).
 *
 * Input functions (ctl_model_probe, ctl_model_sentinel_*) may be called from
 * any loop callback; they only record and mark the group dirty.
 */
#ifndef CTL_MODEL_H
#define CTL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_config.h"
#include "mshm_layout.h"

struct ctl_model;
struct ctl_group;
struct mshm_writer;

/* A replica as its master's INFO replication lists it. */
struct ctl_lag {
    struct ctl_addr addr;
    uint32_t lag_s;
    uint64_t offset;
};

/*
 * What one health check (PING + ROLE, and INFO replication when due) found.
 * The lag table comes last and is ~9 KiB against ~0.4 KiB for the rest:
 * entries past n_lags are never read, so producers and copies touch only
 * offsetof(struct ctl_probe, lags) plus the entries in use.
 */
struct ctl_probe {
    int ok;                       /* PING and ROLE answered in time             */
    int role;                     /* MSHM_ROLE_* from ROLE                      */
    struct ctl_addr follows;      /* replica: master host:port from ROLE        */
    int link_up;                  /* replica: ROLE state "connected"            */
    int have_info;                /* the INFO fields below are fresh            */
    int sync_in_progress;         /* INFO master_sync_in_progress:1             */
    int loading;                  /* INFO loading:1 or a -LOADING reply         */
    uint64_t offset;              /* ROLE offset (master or replica)            */
    uint32_t rtt_us;              /* PING round trip                            */
    char error[96];               /* why !ok (for logs)                         */
    /* master only, from INFO replication "slaveN:ip=,port=,state=,offset=,lag=" */
    uint32_t n_lags;
    struct ctl_lag lags[MSHM_GROUP_SERVERS];
};

/* A server the model tracks. Fields are read-only outside ctl_model.c. */
struct ctl_server {
    uint32_t idx;                 /* segment server index (stable)              */
    struct ctl_group *group;
    struct ctl_addr addr;         /* reachable address (address map applied)    */
    uint32_t power;
    int configured;               /* listed in the configuration                */
    int discovered;               /* reported by a sentinel                     */
    void *health_priv;            /* ctl_health's per-server state              */
};

/* One sentinel's view of one group: SENTINEL MASTER + SENTINEL REPLICAS. */
#define CTL_SV_SDOWN        0x01u
#define CTL_SV_ODOWN        0x02u
#define CTL_SV_DISCONNECTED 0x04u
#define CTL_SV_FAILOVER     0x08u  /* failover_in_progress / promoted flags */
struct ctl_sentinel_view {
    struct ctl_addr master;       /* as reported (before address map)           */
    uint64_t config_epoch;
    uint32_t master_flags;        /* CTL_SV_*                                   */
    uint32_t num_other_sentinels;
    uint32_t quorum;
    uint32_t n_replicas;
    struct {
        struct ctl_addr addr;     /* as reported                                */
        uint32_t flags;           /* CTL_SV_*                                   */
        int link_ok;              /* master-link-status:ok                      */
        struct ctl_addr follows;  /* master-host:master-port                    */
        uint64_t offset;          /* slave-repl-offset                          */
        uint32_t priority;        /* slave-priority                             */
    } replicas[MSHM_GROUP_SERVERS];
};

/* Hooks the model calls as servers come and go (main wires ctl_health). */
struct ctl_model_hooks {
    void (*server_added)(void *ud, struct ctl_server *s);
    void (*server_removed)(void *ud, struct ctl_server *s);
    void (*check_now)(void *ud, struct ctl_server *s);  /* re-probe soon */
    /* an event happened: name (masterDown ...), group, server, old server */
    void (*event)(void *ud, const char *name, const char *group, const char *server,
                  const char *old_server, unsigned long long epoch);
    void *ud;
};
void ctl_model_set_hooks(struct ctl_model *m, const struct ctl_model_hooks *h);

/* Credentials to use for server s (its group's, else the default). */
const struct ctl_cred *ctl_model_server_cred(struct ctl_model *m, struct ctl_server *s);

/* Periodic housekeeping (warm-up deadline, stale sentinel views); main calls
 * it every 100 ms. */
void ctl_model_tick(struct ctl_model *m);

/* Create the model for cfg, publishing through w.  adopted: w holds a state
 * from an earlier run (indices are reused, events are derived against it). */
struct ctl_model *ctl_model_new(const struct ctl_config *cfg, struct mshm_writer *w);
void ctl_model_free(struct ctl_model *m);

/* Apply a new (already validated) configuration.  0 or -1 (old one kept). */
int ctl_model_reconfigure(struct ctl_model *m, const struct ctl_config *cfg);

/* Health checker input: the result of one check of s. */
void ctl_model_probe(struct ctl_model *m, struct ctl_server *s, const struct ctl_probe *p);

/* Sentinel input: sentinel number si (index into the sentinel list the
 * sentinel module keeps) answered about group name; view NULL = this
 * sentinel does not know the group or the poll failed. */
void ctl_model_sentinel_view(struct ctl_model *m, uint32_t si, const char *group,
                             const struct ctl_sentinel_view *view);

/* Sentinel input: sentinel si is reachable (or not) and in TILT (or not). */
void ctl_model_sentinel_state(struct ctl_model *m, uint32_t si, int reachable, int tilt);

/* Sentinel input: the number of sentinels known (configured + discovered). */
void ctl_model_sentinel_count(struct ctl_model *m, uint32_t n);

/* Sentinel input: a relevant event arrived (channel incl. +/-, payload). */
void ctl_model_sentinel_event(struct ctl_model *m, uint32_t si, const char *channel,
                              const char *payload);

/*
 * Control input (ctl_control): mark member `member` of the mirror `cluster`
 * (a marshal1 cluster: a member group; a marshal10 farm: a member cluster)
 * diverged (on = 1) or clear the mark (on = 0).  The mark lives in the
 * model, so every republish and reload keeps it (a reload that removes the
 * mirror or the member drops it) and a restart carries it over from the
 * adopted segment.  Marking emits MSHM_EV_MIRROR_DIVERGED through the event
 * funnel ("+mirror-diverged CLUSTER MEMBER"); clearing logs
 * "-mirror-diverged".  The cluster record is republished at the next flush.
 * Returns 1 (changed), 0 (already so) or -1: refused, with the reason in
 * why[whylen] (no such cluster or member, not a mirror, the primary).
 * Names are only compared, never stored.
 */
int ctl_model_mirror_diverged(struct ctl_model *m, const char *cluster, const char *member,
                              int on, char *why, size_t whylen);

/* Publish everything that changed since the last flush.  Call once per loop
 * iteration (ev_prepare).  Returns records published. */
int ctl_model_flush(struct ctl_model *m);

/* Map a sentinel-reported address through the configured address map. */
void ctl_model_map_addr(const struct ctl_model *m, const struct ctl_addr *in,
                        struct ctl_addr *out);

#endif /* CTL_MODEL_H */
