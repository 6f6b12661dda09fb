/*
 * mshm_write.h -- the single writer of a segment (the controller only).
 *
 * The writer keeps a private model of every record.  Callers change records
 * with mshm_w_put_*() / mshm_w_del_*() and queue events with mshm_w_emit();
 * mshm_w_commit() then publishes all dirty records through the two-copy
 * latch, appends the queued events to the ring and wakes futex waiters.
 * The writer assigns change_seq, gen, the group change_seq bump for server
 * changes, the high-water counts and the state checksum, so callers cannot
 * get them wrong.  Single-threaded: call everything from one thread.
 */
#ifndef MSHM_WRITE_H
#define MSHM_WRITE_H

#include <stdint.h>
#include <sys/types.h>

#include "mshm_attach.h"

struct mshm_writer;

/* Defaults (docs/shm-format.md, "Sizing") */
#define MSHM_DEF_GROUPS    1024
#define MSHM_DEF_SERVERS   8192
#define MSHM_DEF_CLUSTERS  256
#define MSHM_DEF_LONGNAMES 256
#define MSHM_DEF_RING      4096
#define MSHM_DEF_SLOTMAPS  16        /* 16 x 16448 B per copy            */
#define MSHM_W_NO_SLOTMAPS UINT32_MAX /* slotmap_cap: none at all          */
#define MSHM_DEF_HB_MS     100
#define MSHM_DEF_STALE_MS  3000

/* mshm_writer_opts.flags */
#define MSHM_W_FORCE_REPLACE 0x1u /* never adopt: always create a new segment  */
#define MSHM_W_NO_REPAIR     0x2u /* TEST ONLY: adopt without repairing the
                                     other copy (the stress test proves this
                                     tears readers)                           */

struct mshm_writer_opts {
    const char *path;        /* segment file, e.g. /dev/shm/marshal.main        */
    mode_t mode;             /* 0 = 0640                                        */
    gid_t gid;               /* (gid_t)-1 = leave the group unchanged           */
    uint32_t group_cap, server_cap, cluster_cap, longname_cap, ring_cap; /* 0 = default */
    uint32_t slotmap_cap;    /* 0 = default, MSHM_W_NO_SLOTMAPS = none          */
    uint32_t hb_interval_ms, stale_after_ms;                             /* 0 = default */
    unsigned flags;          /* MSHM_W_*                                        */
    uint64_t test_kill_after;/* TEST ONLY: SIGKILL self after writing this many
                                records into the first copy of a commit (0 = off) */
};

/* How mshm_writer_open() got its segment. */
enum mshm_open_how {
    MSHM_CREATED = 0,   /* no segment existed                          */
    MSHM_ADOPTED = 1,   /* compatible live segment adopted and repaired */
    MSHM_REPLACED = 2   /* incompatible segment replaced and retired   */
};

/*
 * Open the writer: take the lock file (<path>.lock), then adopt a
 * compatible segment or create/replace one.  *how (may be NULL) says which.
 * Errors: BUSY (another writer holds the lock), PERM (the existing file is
 * not ours or is group/other-writable), RANGE (bad options), NOMEM, SYS.
 * err receives a message.
 */
int mshm_writer_open(const struct mshm_writer_opts *o, struct mshm_writer **out,
                     int *how, char *err, size_t errlen);

/*
 * Close.  stopped: set MSHM_HF_WRITER_STOPPED (clean shutdown) so readers
 * report STOPPED rather than STALE.  The segment stays in place.
 */
void mshm_writer_close(struct mshm_writer *w, int stopped);

/* Geometry of the open segment. */
const struct mshm_geo *mshm_w_geo(const struct mshm_writer *w);

/* Private model records (what the next commit will publish).  NULL if idx >= cap. */
const struct mshm_group *mshm_w_group(const struct mshm_writer *w, uint32_t idx);
const struct mshm_server *mshm_w_server(const struct mshm_writer *w, uint32_t idx);
const struct mshm_cluster *mshm_w_cluster(const struct mshm_writer *w, uint32_t idx);
const char *mshm_w_longname(const struct mshm_writer *w, uint32_t idx);
const struct mshm_slotmap *mshm_w_slotmap(const struct mshm_writer *w, uint32_t idx);

/*
 * Stage a record.  change_seq and gen in *rec are ignored: the writer sets
 * them.  A group/server/cluster put without its IN_USE flag is a delete.
 * RANGE if idx >= cap.
 */
int mshm_w_put_group(struct mshm_writer *w, uint32_t idx, const struct mshm_group *rec);
int mshm_w_put_server(struct mshm_writer *w, uint32_t idx, const struct mshm_server *rec);
int mshm_w_put_cluster(struct mshm_writer *w, uint32_t idx, const struct mshm_cluster *rec);
int mshm_w_put_longname(struct mshm_writer *w, uint32_t idx, const char *host);

/*
 * Stage slot map idx (1.1).  Its change_seq/gen are set by the writer; put
 * one with MSHM_SMF_IN_USE and the owning cluster_idx, and a cluster record
 * with MSHM_CF_SLOTMAP + slotmap_idx in the same commit.  A put without
 * MSHM_SMF_IN_USE, or mshm_w_del_slotmap(), removes it.  RANGE if idx >= cap.
 */
int mshm_w_put_slotmap(struct mshm_writer *w, uint32_t idx, const struct mshm_slotmap *rec);
int mshm_w_del_slotmap(struct mshm_writer *w, uint32_t idx);

/* Stage the removal of a record (clears IN_USE, bumps gen). */
int mshm_w_del_group(struct mshm_writer *w, uint32_t idx);
int mshm_w_del_server(struct mshm_writer *w, uint32_t idx);
int mshm_w_del_cluster(struct mshm_writer *w, uint32_t idx);

/*
 * Queue an event for the next commit (seq, pub_seq and the clocks are set
 * by the writer).  NOMEM if the queue cannot grow.
 */
int mshm_w_emit(struct mshm_writer *w, const struct mshm_event *ev);

/*
 * Publish staged records, then the queued events, then wake waiters.
 * With nothing staged, only events are appended (the latch is untouched).
 * Returns the number of records published (>= 0).
 */
int mshm_w_commit(struct mshm_writer *w);

/* Number of staged (dirty) records and queued events. */
uint32_t mshm_w_pending(const struct mshm_writer *w);

/* Heartbeat: bump hb_count with the writer's clocks.  Never publishes state. */
void mshm_w_heartbeat(struct mshm_writer *w);

/* Set/clear header flags (MSHM_HF_*) and wake waiters. */
void mshm_w_set_flags(struct mshm_writer *w, uint32_t set, uint32_t clear);

/* Publish the controller's config generation in the header. */
void mshm_w_set_config_version(struct mshm_writer *w, uint64_t v);

/* Writer epoch: 1 at creation, +1 per adoption. */
uint32_t mshm_w_writer_epoch(const struct mshm_writer *w);

/* Current latch value (the state generation readers see). */
uint64_t mshm_w_latch(const struct mshm_writer *w);

/*
 * Current header notify word: +1 per commit, header flag change, adoption
 * (what FUTEX_WAKE wakes readers for).  A caller that remembers it can tell
 * with one load whether anything was published since (the controller's wake
 * socket).  Single writer: no barrier needed.
 */
uint32_t mshm_w_notify(const struct mshm_writer *w);

#endif /* MSHM_WRITE_H */
