/*
 * mshm_write_int.h -- private to the writer; included only by mshm_write.c
 * and mshm_write_rec.c, never installed, never included by a reader.
 *
 * It owns the writer handle (struct mshm_writer) and the private model of
 * every record (struct model_array), which the two halves of the writer
 * share:
 *   mshm_write.c      the publish protocol and the segment's life: create /
 *                     adopt / replace / retire, the two-copy latch, the event
 *                     ring, the notify word and futex wake, heartbeat, flags;
 *   mshm_write_rec.c  record encoding: the model arrays, mshm_w_put_*() /
 *                     mshm_w_del_*() (change_seq, gen, group bumps for server
 *                     changes, high-water counts), the state checksum
 *                     contributions, loading the model from an adopted state.
 * The protocol side reads the model only through the dirty lists (to copy
 * staged records out) and the helpers declared here.
 */
#ifndef MSHM_WRITE_INT_H
#define MSHM_WRITE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mshm_read.h"
#include "mshm_write.h"

/* Record kinds of the model, index into mshm_writer.a[]. */
enum { K_GROUP = 0, K_SERVER = 1, K_CLUSTER = 2, K_LONGNAME = 3, K_SLOTMAP = 4, K_NKINDS = 5 };

/* One record array of the private model. */
struct model_array {
    unsigned char *recs;     /* cap * size bytes                        */
    uint64_t *contrib;       /* record's current share of state_sum     */
    uint8_t *dirty;          /* staged in this commit                   */
    uint32_t *dirty_list;    /* indices staged, in order                */
    uint32_t n_dirty;        /* entries in dirty_list                   */
    uint32_t cap;            /* records (the segment's capacity)        */
    uint32_t size;           /* sizeof the record (== stride)           */
    uint32_t off;            /* slot-relative offset of the array       */
    unsigned sum_kind;       /* MSHM_SUM_*                              */
};

/* The writer handle (opaque to callers: mshm_write.h). */
struct mshm_writer {
    int lock_fd;                     /* flock'd <path>.lock, or -1  */
    unsigned char *base;             /* read-write mapping          */
    size_t len;                      /* bytes mapped at base        */
    struct mshm_header *hdr;         /* == base                     */
    struct mshm_geo geo;             /* validated geometry          */
    struct mshm_slot_hdr sh;         /* private slot header         */
    struct model_array a[K_NKINDS];  /* private model, by K_*       */
    struct mshm_event *evq;          /* queued events               */
    uint32_t n_evq, cap_evq;         /* queued / allocated in evq   */
    unsigned flags;                  /* mshm_writer_opts.flags      */
    uint64_t test_kill_after;        /* TEST ONLY: SIGKILL after n
                                        records of a publish        */
};

/* Record idx of model array m (idx < m->cap). */
static inline void *
mshm_wr_rec_at(struct model_array *m, uint32_t idx)
{
    return m->recs + (size_t)idx * m->size;
}

/*
 * mshm_write_rec.c: the model.
 *
 * mshm_wr_model_alloc() sizes every array from w->geo; returns MSHM_OK or
 * MSHM_ERR_NOMEM (then nothing is left allocated).  mshm_wr_model_free()
 * frees the arrays and the event queue (safe twice).
 * mshm_wr_model_load() copies a checked state (mshm_check_state() passed)
 * into the model, slot header included, and recomputes every record's
 * checksum contribution; the state stays the caller's.
 * mshm_wr_n_dirty() counts the records staged since the last commit.
 * mshm_wr_sum_dirty() folds the staged records into w->sh.state_sum (before
 * they are published); mshm_wr_clear_dirty() empties the dirty lists (after).
 */
int mshm_wr_model_alloc(struct mshm_writer *w);
void mshm_wr_model_free(struct mshm_writer *w);
void mshm_wr_model_load(struct mshm_writer *w, const struct mshm_state *st);
uint32_t mshm_wr_n_dirty(const struct mshm_writer *w);
void mshm_wr_sum_dirty(struct mshm_writer *w);
void mshm_wr_clear_dirty(struct mshm_writer *w);

#endif /* MSHM_WRITE_INT_H */
