/*
 * mshm_attach.c -- open, validate and map a segment read-only.
 *
 * The order matters: open O_RDONLY, fstat, check owner/mode/type, pread the
 * header, validate it against the file size, and only then mmap PROT_READ.
 * The validated geometry is copied into the reader; later code uses only
 * that copy (the mapped header lines 0-1 could change under a hostile
 * writer: TOCTOU).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mshm_atomic.h"
#include "mshm_attach.h"

static const char *const errnames[] = {
    "ok",
    "no segment",
    "permission denied or unsafe segment owner/mode",
    "incompatible segment version",
    "corrupt segment",
    "segment retired (replaced)",
    "controller stale",
    "busy",
    "not found",
    "out of range",
    "out of memory",
    "system error",
    "events lost",
};

const char *
mshm_strerror(int rc)
{
    int i = -rc;

    if (i < 0 || i >= (int)(sizeof(errnames) / sizeof(errnames[0]))) {
        return "unknown error";
    }
    return errnames[i];
}

uint32_t
mshm_fnv1a32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

void
mshm_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Is [off, off+len) inside [lo, hi)?  All 64-bit, overflow-safe. */
static int
range_ok(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi)
{
    return off >= lo && off <= hi && len <= hi - off;
}

/* Do [a, a+al) and [b, b+bl) overlap?  Caller guarantees no overflow. */
static int
overlaps(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
    if (al == 0 || bl == 0) {
        return 0;
    }
    return a < b + bl && b < a + al;
}

struct array_geo {
    const char *name;
    uint32_t cap, stride, off, min_stride, max_cap;
};

int
mshm_validate_header(const struct mshm_header *h, uint64_t file_size,
                     struct mshm_geo *geo, char *err, size_t errlen)
{
    struct array_geo a[5];
    uint64_t ring_len;
    uint32_t sm_cap = 0, sm_stride = sizeof(struct mshm_slotmap), sm_off = 0;
    int i, j, na = 4;

    if (h->magic != MSHM_MAGIC) {
        mshm_seterr(err, errlen, "bad magic 0x%016llx (not a Marshal segment)",
               (unsigned long long)h->magic);
        return MSHM_ERR_CORRUPT;
    }
    if (h->version_major != MSHM_VERSION_MAJOR) {
        mshm_seterr(err, errlen, "segment layout version %u.%u, this build reads %u.x",
               h->version_major, h->version_minor, MSHM_VERSION_MAJOR);
        return MSHM_ERR_VERSION;
    }
    if (h->geo_check != mshm_fnv1a32(h, offsetof(struct mshm_header, geo_check))) {
        mshm_seterr(err, errlen, "header checksum mismatch");
        return MSHM_ERR_CORRUPT;
    }
    if (h->header_size < MSHM_HEADER_SIZE_1_0 || h->header_size % 8 != 0) {
        mshm_seterr(err, errlen, "header_size %u < %u or unaligned", h->header_size,
               MSHM_HEADER_SIZE_1_0);
        return MSHM_ERR_CORRUPT;
    }
    /* line 5 (1.1): slot maps.  Absent in a 1.0 header and when all zero. */
    if (h->header_size >= sizeof(struct mshm_header) &&
        (h->slotmap_cap != 0 || h->slotmap_stride != 0 || h->slotmap_off != 0 ||
         h->geo_check2 != 0)) {
        if (h->geo_check2 != mshm_fnv1a32((const unsigned char *)h + MSHM_HEADER_SIZE_1_0,
                                          offsetof(struct mshm_header, geo_check2) -
                                              MSHM_HEADER_SIZE_1_0)) {
            mshm_seterr(err, errlen, "header checksum (line 5) mismatch");
            return MSHM_ERR_CORRUPT;
        }
        sm_cap = h->slotmap_cap;
        sm_stride = h->slotmap_stride;
        sm_off = h->slotmap_off;
        na = 5;
    }
    if (h->total_size != file_size) {
        mshm_seterr(err, errlen, "segment total_size %llu != file size %llu",
               (unsigned long long)h->total_size, (unsigned long long)file_size);
        return MSHM_ERR_CORRUPT;
    }
    if (h->total_size > MSHM_MAX_TOTAL || h->total_size < h->header_size) {
        mshm_seterr(err, errlen, "segment total_size %llu out of bounds",
               (unsigned long long)h->total_size);
        return MSHM_ERR_CORRUPT;
    }

    /* the two state copies */
    if (h->slot_size < sizeof(struct mshm_slot_hdr) || h->slot_size % MSHM_LINE != 0) {
        mshm_seterr(err, errlen, "slot_size %u too small or not line-aligned", h->slot_size);
        return MSHM_ERR_CORRUPT;
    }
    for (i = 0; i < 2; i++) {
        if (h->slot_off[i] % MSHM_LINE != 0 ||
            !range_ok(h->slot_off[i], h->slot_size, h->header_size, h->total_size)) {
            mshm_seterr(err, errlen, "slot %d [%llu,+%u) outside segment or unaligned", i,
                   (unsigned long long)h->slot_off[i], h->slot_size);
            return MSHM_ERR_CORRUPT;
        }
    }
    if (overlaps(h->slot_off[0], h->slot_size, h->slot_off[1], h->slot_size)) {
        mshm_seterr(err, errlen, "state copies overlap");
        return MSHM_ERR_CORRUPT;
    }

    /* arrays inside a slot: bounds, alignment, disjointness */
    a[0] = (struct array_geo){"group", h->group_cap, h->group_stride, h->group_off,
                              sizeof(struct mshm_group), MSHM_MAX_GROUPS};
    a[1] = (struct array_geo){"server", h->server_cap, h->server_stride, h->server_off,
                              sizeof(struct mshm_server), MSHM_MAX_SERVERS};
    a[2] = (struct array_geo){"cluster", h->cluster_cap, h->cluster_stride, h->cluster_off,
                              sizeof(struct mshm_cluster), MSHM_MAX_CLUSTERS};
    a[3] = (struct array_geo){"longname", h->longname_cap, h->longname_stride,
                              h->longname_off, sizeof(struct mshm_longname),
                              MSHM_MAX_LONGNAMES};
    a[4] = (struct array_geo){"slotmap", sm_cap, sm_stride, sm_off,
                              sizeof(struct mshm_slotmap), MSHM_MAX_SLOTMAPS};
    for (i = 0; i < na; i++) {
        if (a[i].cap > a[i].max_cap) {
            mshm_seterr(err, errlen, "%s_cap %u above maximum %u", a[i].name, a[i].cap,
                   a[i].max_cap);
            return MSHM_ERR_CORRUPT;
        }
        if (a[i].stride < a[i].min_stride || a[i].stride % 8 != 0 ||
            a[i].stride > 65536) {
            mshm_seterr(err, errlen, "%s_stride %u invalid (minimum %u, multiple of 8)",
                   a[i].name, a[i].stride, a[i].min_stride);
            return MSHM_ERR_CORRUPT;
        }
        if (a[i].off % 8 != 0 ||
            !range_ok(a[i].off, (uint64_t)a[i].cap * a[i].stride,
                      sizeof(struct mshm_slot_hdr), h->slot_size)) {
            mshm_seterr(err, errlen, "%s array [%u,+%u*%u) outside the state copy (%u)",
                   a[i].name, a[i].off, a[i].cap, a[i].stride, h->slot_size);
            return MSHM_ERR_CORRUPT;
        }
    }
    for (i = 0; i < na; i++) {
        for (j = i + 1; j < na; j++) {
            if (overlaps(a[i].off, (uint64_t)a[i].cap * a[i].stride, a[j].off,
                         (uint64_t)a[j].cap * a[j].stride)) {
                mshm_seterr(err, errlen, "%s and %s arrays overlap", a[i].name, a[j].name);
                return MSHM_ERR_CORRUPT;
            }
        }
    }
    if (h->group_cap == 0 || h->server_cap == 0) {
        mshm_seterr(err, errlen, "group_cap/server_cap is zero");
        return MSHM_ERR_CORRUPT;
    }

    /* event ring */
    if (h->ring_cap == 0 || (h->ring_cap & (h->ring_cap - 1)) != 0 ||
        h->ring_cap > MSHM_MAX_RING) {
        mshm_seterr(err, errlen, "ring_cap %u not a power of two in [1, %u]", h->ring_cap,
               MSHM_MAX_RING);
        return MSHM_ERR_CORRUPT;
    }
    if (h->ring_stride < sizeof(struct mshm_event) || h->ring_stride % 8 != 0 ||
        h->ring_stride > 4096) {
        mshm_seterr(err, errlen, "ring_stride %u invalid", h->ring_stride);
        return MSHM_ERR_CORRUPT;
    }
    ring_len = (uint64_t)h->ring_cap * h->ring_stride;
    if (h->ring_off % 8 != 0 ||
        !range_ok(h->ring_off, ring_len, h->header_size, h->total_size) ||
        overlaps(h->ring_off, ring_len, h->slot_off[0], h->slot_size) ||
        overlaps(h->ring_off, ring_len, h->slot_off[1], h->slot_size)) {
        mshm_seterr(err, errlen, "event ring [%llu,+%llu) outside segment or overlapping",
               (unsigned long long)h->ring_off, (unsigned long long)ring_len);
        return MSHM_ERR_CORRUPT;
    }

    if (geo != NULL) {
        memset(geo, 0, sizeof(*geo));
        geo->total_size = h->total_size;
        geo->segment_id = h->segment_id;
        geo->created_realtime_ns = h->created_realtime_ns;
        geo->slot_off[0] = h->slot_off[0];
        geo->slot_off[1] = h->slot_off[1];
        geo->ring_off = h->ring_off;
        geo->header_size = h->header_size;
        geo->version_major = h->version_major;
        geo->version_minor = h->version_minor;
        geo->slot_size = h->slot_size;
        geo->group_cap = h->group_cap;
        geo->group_stride = h->group_stride;
        geo->group_off = h->group_off;
        geo->server_cap = h->server_cap;
        geo->server_stride = h->server_stride;
        geo->server_off = h->server_off;
        geo->cluster_cap = h->cluster_cap;
        geo->cluster_stride = h->cluster_stride;
        geo->cluster_off = h->cluster_off;
        geo->longname_cap = h->longname_cap;
        geo->longname_stride = h->longname_stride;
        geo->longname_off = h->longname_off;
        geo->ring_cap = h->ring_cap;
        geo->ring_stride = h->ring_stride;
        geo->slotmap_cap = sm_cap;
        geo->slotmap_stride = sm_stride;
        geo->slotmap_off = sm_off;
    }

    switch (h->state) {
    case MSHM_STATE_LIVE:
        return MSHM_OK;
    case MSHM_STATE_RETIRED:
        mshm_seterr(err, errlen, "segment is retired (replaced by a newer one)");
        return MSHM_ERR_RETIRED;
    default:
        mshm_seterr(err, errlen, "segment state %u is not LIVE", h->state);
        return MSHM_ERR_CORRUPT;
    }
}

static void
reader_reset(struct mshm_reader *r)
{
    r->base = NULL;
    r->map_len = 0;
    memset(&r->geo, 0, sizeof(r->geo));
    r->ev_next = 0;
    r->hb_seen = 0;
    r->hb_seen_ns = 0;
}

/* Map an already validated fd; fills r on success. */
static int
attach_fd(struct mshm_reader *r, int fd, const char *path, unsigned flags)
{
    struct mshm_header h;
    struct stat st;
    void *map;
    ssize_t n;
    int rc;

    if (fstat(fd, &st) != 0) {
        mshm_seterr(r->errstr, sizeof(r->errstr), "%s: fstat: %s", path, strerror(errno));
        return MSHM_ERR_SYS;
    }
    if (!S_ISREG(st.st_mode)) {
        mshm_seterr(r->errstr, sizeof(r->errstr), "%s: not a regular file", path);
        return MSHM_ERR_PERM;
    }
    if ((flags & MSHM_ATTACH_ALLOW_WRITABLE) == 0 && (st.st_mode & 0022) != 0) {
        mshm_seterr(r->errstr, sizeof(r->errstr),
               "%s: writable by group or others (mode %04o): refusing to trust it",
               path, (unsigned)(st.st_mode & 07777));
        return MSHM_ERR_PERM;
    }
    if ((uint64_t)st.st_size < sizeof(h)) {
        mshm_seterr(r->errstr, sizeof(r->errstr),
               "%s: file size %lld smaller than a segment header (%zu)", path,
               (long long)st.st_size, sizeof(h));
        return MSHM_ERR_CORRUPT;
    }
    n = pread(fd, &h, sizeof(h), 0);
    if (n != (ssize_t)sizeof(h)) {
        mshm_seterr(r->errstr, sizeof(r->errstr), "%s: short header read", path);
        return n < 0 ? MSHM_ERR_SYS : MSHM_ERR_CORRUPT;
    }
    rc = mshm_validate_header(&h, (uint64_t)st.st_size, &r->geo, r->errstr,
                              sizeof(r->errstr));
    if (rc != MSHM_OK) {
        return rc;
    }
    map = mmap(NULL, (size_t)r->geo.total_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        mshm_seterr(r->errstr, sizeof(r->errstr), "%s: mmap: %s", path, strerror(errno));
        return MSHM_ERR_SYS;
    }
    r->base = map;
    r->map_len = (size_t)r->geo.total_size;
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    r->ev_next = mshm_ld_acq(&mshm_hdr(r)->ev_head);
    r->hb_seen = mshm_ld_acq(&mshm_hdr(r)->hb_count);
    r->hb_seen_ns = 0;
    return MSHM_OK;
}

int
mshm_attach(struct mshm_reader *r, const char *path, unsigned flags)
{
    int fd, rc, saved;

    reader_reset(r);
    r->errstr[0] = '\0';
    if (strlen(path) >= sizeof(r->path)) {
        mshm_seterr(r->errstr, sizeof(r->errstr), "segment path too long");
        return MSHM_ERR_RANGE;
    }
    snprintf(r->path, sizeof(r->path), "%s", path);

    /* never O_CREAT: fs.protected_regular refuses it on others' files */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        saved = errno;
        mshm_seterr(r->errstr, sizeof(r->errstr), "%s: %s", path, strerror(saved));
        errno = saved;
        if (saved == ENOENT) {
            return MSHM_ERR_NOENT;
        }
        if (saved == EACCES || saved == EPERM || saved == ELOOP) {
            return MSHM_ERR_PERM;
        }
        return MSHM_ERR_SYS;
    }
    rc = attach_fd(r, fd, path, flags);
    saved = errno;
    close(fd);
    errno = saved;
    if (rc != MSHM_OK) {
        reader_reset(r);
    }
    return rc;
}

int
mshm_attach_buf(struct mshm_reader *r, const void *buf, size_t len)
{
    struct mshm_header h;
    int rc;

    reader_reset(r);
    r->errstr[0] = '\0';
    r->path[0] = '\0';
    if (len < sizeof(h) || ((uintptr_t)buf & 7) != 0) {
        mshm_seterr(r->errstr, sizeof(r->errstr), "buffer of %zu bytes too small or unaligned",
               len);
        return MSHM_ERR_CORRUPT;
    }
    memcpy(&h, buf, sizeof(h));
    rc = mshm_validate_header(&h, len, &r->geo, r->errstr, sizeof(r->errstr));
    if (rc != MSHM_OK && rc != MSHM_ERR_RETIRED) {
        return rc;
    }
    r->base = buf;
    r->map_len = len;
    r->ev_next = mshm_ld_acq(&mshm_hdr(r)->ev_head);
    return rc;
}

void
mshm_detach_buf(struct mshm_reader *r)
{
    reader_reset(r);
}

void
mshm_detach(struct mshm_reader *r)
{
    if (r->base != NULL && r->map_len != 0) {
        munmap((void *)r->base, r->map_len);
    }
    reader_reset(r);
}

int
mshm_replaced(struct mshm_reader *r)
{
    struct stat st;

    if (r->base == NULL) {
        return 1;
    }
    if (mshm_ld_acq(&mshm_hdr(r)->state) == MSHM_STATE_RETIRED) {
        return 1;
    }
    if (r->path[0] == '\0' || stat(r->path, &st) != 0) {
        return 0;
    }
    return st.st_dev != r->dev || st.st_ino != r->ino;
}

int
mshm_reattach(struct mshm_reader *r, unsigned flags)
{
    struct mshm_reader fresh;
    int rc;

    memset(&fresh, 0, sizeof(fresh));
    rc = mshm_attach(&fresh, r->path, flags);
    if (rc != MSHM_OK) {
        snprintf(r->errstr, sizeof(r->errstr), "%s", fresh.errstr);
        return rc;
    }
    mshm_detach(r);
    *r = fresh;
    return MSHM_OK;
}
