/*
 * mshm_attach.h -- open, validate and map a Marshal segment read-only.
 *
 * Shared by libmarshal-shm, marshal-shmdump and (for adoption) the writer, so
 * validation logic exists exactly once.  Nothing here trusts the segment:
 * the header is read with pread() and validated before anything is mapped,
 * the validated geometry is copied into the reader and never re-read.
 */
#ifndef MSHM_ATTACH_H
#define MSHM_ATTACH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mshm_layout.h"

/*
 * Result codes: 0 or negative.  The numbering matches the public
 * enum marshal_status so the client library can pass them through.
 * Append only; never renumber.
 */
enum mshm_status {
    MSHM_OK           = 0,
    MSHM_ERR_NOENT    = -1,  /* no segment at the path                   */
    MSHM_ERR_PERM     = -2,  /* no permission, or unsafe owner/mode      */
    MSHM_ERR_VERSION  = -3,  /* incompatible layout major version        */
    MSHM_ERR_CORRUPT  = -4,  /* failed validation                        */
    MSHM_ERR_RETIRED  = -5,  /* segment was replaced: re-attach          */
    MSHM_ERR_STALE    = -6,  /* writer heartbeat stopped                 */
    MSHM_ERR_BUSY     = -7,  /* retry bound hit, or writer lock held     */
    MSHM_ERR_NOTFOUND = -8,  /* no such record                           */
    MSHM_ERR_RANGE    = -9,  /* index or argument out of range           */
    MSHM_ERR_NOMEM    = -10, /* allocation failed                        */
    MSHM_ERR_SYS      = -11, /* system call failed; errno preserved      */
    MSHM_ERR_LOST     = -12  /* events overrun: resync from state        */
};

/* Static string for a status code. */
const char *mshm_strerror(int rc);

/* Geometry validated at attach; private to the reader (never re-read). */
struct mshm_geo {
    uint64_t total_size;
    uint64_t segment_id;
    uint64_t created_realtime_ns;
    uint64_t slot_off[2];
    uint64_t ring_off;
    uint32_t header_size;
    uint16_t version_major, version_minor;
    uint32_t slot_size;
    uint32_t group_cap, group_stride, group_off;
    uint32_t server_cap, server_stride, server_off;
    uint32_t cluster_cap, cluster_stride, cluster_off;
    uint32_t longname_cap, longname_stride, longname_off;
    uint32_t ring_cap, ring_stride;
    uint32_t slotmap_cap, slotmap_stride, slotmap_off; /* 1.1; cap 0 = none */
};

/* Reader handle.  One per thread (it caches), mapping is read-only. */
struct mshm_reader {
    const unsigned char *base;   /* ro: PROT_READ mapping                 */
    size_t map_len;              /* ro: mapped length                     */
    struct mshm_geo geo;         /* ro: validated geometry                */
    dev_t dev;                   /* ro: identity of the mapped file       */
    ino_t ino;
    char path[512];              /* ro: path attached                     */
    uint64_t ev_next;            /* private: next event seq to read       */
    uint64_t hb_seen;            /* private: last heartbeat count seen    */
    uint64_t hb_seen_ns;         /* private: our clock when it changed    */
    char errstr[256];            /* ro: detail of the last error          */
};

/* Attach flags */
#define MSHM_ATTACH_ALLOW_WRITABLE 0x1u /* accept group/other-writable files  */

/*
 * Validate a header copy against the size of the file it came from and fill
 * *geo.  Pure function (fuzzable).  Returns MSHM_OK, MSHM_ERR_CORRUPT,
 * MSHM_ERR_VERSION or MSHM_ERR_RETIRED; a message goes to err (may be NULL).
 * A RETIRED header still fills *geo when it is otherwise valid.
 */
int mshm_validate_header(const struct mshm_header *h, uint64_t file_size,
                         struct mshm_geo *geo, char *err, size_t errlen);

/*
 * Open path read-only, validate and map it into r.  flags: MSHM_ATTACH_*.
 * On error r holds no mapping and r->errstr says why.
 * Errors: NOENT, PERM, VERSION, CORRUPT, RETIRED, SYS.
 */
int mshm_attach(struct mshm_reader *r, const char *path, unsigned flags);

/*
 * Validate an in-memory image of a whole segment (tests, fuzzing, --check of
 * a copied file).  Maps nothing; r->base points into buf, r must be detached
 * with mshm_detach_buf() (which only clears it).
 */
int mshm_attach_buf(struct mshm_reader *r, const void *buf, size_t len);
void mshm_detach_buf(struct mshm_reader *r);

/* Unmap.  Safe on a zeroed or already detached reader. */
void mshm_detach(struct mshm_reader *r);

/*
 * Has the segment at r->path been replaced (RETIRED flag, or another inode at
 * the path)?  Returns 1 if so, 0 if not; never fails (a missing path with a
 * live mapping is "not replaced": the controller may just be restarting).
 */
int mshm_replaced(struct mshm_reader *r);

/*
 * Attach the segment now at r->path; on success swap it in and unmap the old
 * one, on failure keep the old mapping.  Returns as mshm_attach().
 */
int mshm_reattach(struct mshm_reader *r, unsigned flags);

/* printf into err[errlen] (no-op when err is NULL or errlen 0). */
void mshm_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Cheap checksum used for geo_check (FNV-1a 32). */
uint32_t mshm_fnv1a32(const void *p, size_t n);

/* Header pointer of an attached reader (for atomic loads of hot fields). */
static inline const struct mshm_header *
mshm_hdr(const struct mshm_reader *r)
{
    return (const struct mshm_header *)(const void *)r->base;
}

#endif /* MSHM_ATTACH_H */
