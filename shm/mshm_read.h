/*
 * mshm_read.h -- lock-free reads of an attached segment.
 *
 * Every read is a bounded retry loop over the two-copy latch: load the latch
 * (acquire), copy what is needed out of copy (latch & 1) with relaxed word
 * loads, acquire fence, re-load the latch; equal means the copy is
 * consistent.  Readers never wait for the writer and never write.  Every
 * index taken from the segment is bounds-checked before it is followed.
 */
#ifndef MSHM_READ_H
#define MSHM_READ_H

#include "mshm_atomic.h"
#include "mshm_attach.h"

/* Retry bounds: spins, then yields, then MSHM_ERR_BUSY. */
#define MSHM_READ_SPINS  64
#define MSHM_READ_YIELDS 64

/* A consistent view handed to a copy function inside the retry loop. */
struct mshm_view {
    const struct mshm_geo *geo;
    const unsigned char *slot;   /* start of the copy being read */
};

/*
 * Copy function: copy what is needed out of v (only via mshm_copy_in and the
 * mshm_view_* accessors), return MSHM_OK or a negative code.  It may be
 * called several times; it must not act on what it copied (the caller
 * decides after the latch re-check).  Errors are only returned to the caller
 * when the copy was consistent (a torn copy is retried instead).
 */
typedef int (*mshm_copy_fn)(const struct mshm_view *v, void *arg);

/*
 * Run fn under the latch.  *latch_out (may be NULL) receives the latch value
 * the copy is consistent with.  Returns fn's result, or MSHM_ERR_BUSY when
 * the bound was hit (a writer publishing without pause).
 */
int mshm_read(const struct mshm_reader *r, mshm_copy_fn fn, void *arg,
              uint64_t *latch_out);

/* Record pointers inside a view; NULL when idx >= cap. */
const struct mshm_slot_hdr *mshm_view_slot_hdr(const struct mshm_view *v);
const struct mshm_group *mshm_view_group(const struct mshm_view *v, uint32_t idx);
const struct mshm_server *mshm_view_server(const struct mshm_view *v, uint32_t idx);
const struct mshm_cluster *mshm_view_cluster(const struct mshm_view *v, uint32_t idx);
const struct mshm_longname *mshm_view_longname(const struct mshm_view *v, uint32_t idx);
const struct mshm_slotmap *mshm_view_slotmap(const struct mshm_view *v, uint32_t idx);

/* The hot-path generation check: one acquire load of the latch. */
static inline uint64_t
mshm_generation(const struct mshm_reader *r)
{
    return mshm_ld_acq(&mshm_hdr(r)->latch); /* LMM(read:A) */
}

/* A group with its servers, copied consistently. */
struct mshm_group_snap {
    uint64_t latch;                               /* consistent with      */
    struct mshm_group group;
    struct mshm_server servers[MSHM_GROUP_SERVERS]; /* group.n_servers used */
};

/*
 * Snapshot group gi and its servers.  Errors: RANGE (gi >= cap), NOTFOUND
 * (not in use), CORRUPT (bad count/index inside), BUSY.
 */
int mshm_snap_group(const struct mshm_reader *r, uint32_t gi, struct mshm_group_snap *out);

/* Snapshot one server; host (MSHM_HOST_MAX bytes, may be NULL) gets its host. */
int mshm_snap_server(const struct mshm_reader *r, uint32_t si, struct mshm_server *out,
                     char *host);

/* Snapshot one cluster or farm. */
int mshm_snap_cluster(const struct mshm_reader *r, uint32_t ci, struct mshm_cluster *out);

/*
 * Snapshot cluster ci together with its slot map (distribution `slots`),
 * both from the same published state: member[s] = member position of slot
 * s or MSHM_SLOT_NONE.  NOTFOUND: not in use or no slot map; CORRUPT: the
 * map is missing, owned elsewhere or names a member beyond n_members.
 */
int mshm_snap_cluster_slots(const struct mshm_reader *r, uint32_t ci, struct mshm_cluster *out,
                            uint8_t member[MSHM_SLOTS]);

/* Find an in-use group / cluster by name.  NOTFOUND if absent. */
int mshm_find_group(const struct mshm_reader *r, const char *name, uint32_t *idx);
int mshm_find_cluster(const struct mshm_reader *r, const char *name, uint32_t *idx);

/* A private copy of the whole published state (shmdump, tests, --check). */
struct mshm_state {
    uint64_t latch;
    struct mshm_slot_hdr hdr;
    struct mshm_group *groups;       /* hdr.n_groups records    */
    struct mshm_server *servers;     /* hdr.n_servers records   */
    struct mshm_cluster *clusters;   /* hdr.n_clusters records  */
    struct mshm_longname *longnames; /* hdr.n_longnames records */
    struct mshm_slotmap *slotmaps;   /* hdr.n_slotmaps records  */
    uint32_t group_cap, server_cap, cluster_cap, longname_cap, slotmap_cap; /* allocated */
};

/* Copy the whole state.  Free with mshm_state_free().  NOMEM, CORRUPT, BUSY. */
int mshm_read_state(const struct mshm_reader *r, struct mshm_state *st);
void mshm_state_free(struct mshm_state *st);

/*
 * Check every invariant of a state copy: counts within caps, every index in
 * range, strings terminated, servers belong to the group listing them, master
 * is one of the group's servers, names unique, state_sum matches.  Returns
 * MSHM_OK or MSHM_ERR_CORRUPT with the reason in err.
 */
int mshm_check_state(const struct mshm_state *st, char *err, size_t errlen);

/* Host string of a server in a state copy ("" if unresolvable). */
const char *mshm_state_host(const struct mshm_state *st, const struct mshm_server *s);

/* Slot map of a cluster in a state copy, or NULL (none, or not in use). */
const struct mshm_slotmap *mshm_state_slotmap(const struct mshm_state *st,
                                              const struct mshm_cluster *c);

/* Integrity word of one record, as summed into mshm_slot_hdr.state_sum. */
uint64_t mshm_record_sum(unsigned kind, uint32_t idx, const void *rec, size_t len);
#define MSHM_SUM_GROUP    1u
#define MSHM_SUM_SERVER   2u
#define MSHM_SUM_CLUSTER  3u
#define MSHM_SUM_LONGNAME 4u
#define MSHM_SUM_SLOTMAP  5u

/*
 * Read the next event from the ring.  Returns 1 and fills *ev, 0 if there is
 * none yet, or MSHM_ERR_LOST when the writer lapped us (*lost = how many);
 * the reader then skips to the oldest event still present and the caller
 * must resync from state.  r->ev_next starts at the head at attach.
 */
int mshm_next_event(struct mshm_reader *r, struct mshm_event *ev, uint64_t *lost);

/* Position the event cursor at seq (clamped to what the ring still holds). */
void mshm_events_seek(struct mshm_reader *r, uint64_t seq);

/*
 * Block until the writer publishes (notify word moves past *seen) or
 * timeout_ms passes (-1 = no limit; 0 = don't block).  *seen is updated.
 * Returns 1 if something changed, 0 on timeout.  Works on PROT_READ maps.
 */
int mshm_wait(const struct mshm_reader *r, uint32_t *seen, int timeout_ms);

/* Writer liveness as judged on the reader's own clock. */
enum mshm_liveness {
    MSHM_LIVE = 0,       /* heartbeat moving                     */
    MSHM_STALE = 1,      /* heartbeat stopped for stale_after_ms */
    MSHM_STOPPED = 2,    /* writer exited cleanly                */
    MSHM_RETIRED = 3     /* segment replaced                     */
};
enum mshm_liveness mshm_liveness(struct mshm_reader *r, uint64_t now_mono_ns);

/* CLOCK_MONOTONIC in ns. */
uint64_t mshm_now_ns(void);

#endif /* MSHM_READ_H */
