/*
 * mshm_write.c -- create / adopt / replace a segment and publish into it:
 * the writer's protocol side.  Record encoding (the private model, puts and
 * deletes, change_seq/gen, checksum contributions) is mshm_write_rec.c; the
 * two share mshm_write_int.h.
 *
 * Publishing follows the latch protocol (docs/shm-format.md):
 *
 *   l = latch
 *   latch = l+1      LMM(publish:A)  readers move to copy (l+1)&1 (old state)
 *   write copy l&1                    nobody consistent reads it now
 *   latch = l+2      LMM(publish:B)  readers move to copy l&1 (new state)
 *   write copy (l+1)&1                bring the other copy level
 *   append events    LMM(ring:A/B)   after the state they describe
 *   notify++, FUTEX_WAKE             LMM(notify:A)
 *
 * A writer killed anywhere leaves copy (latch & 1) complete.  A restarted
 * writer adopts the segment and repairs the other copy from it before its
 * first publish (tag-20261125-1): without that repair the next latch flip
 * would send readers to a torn copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mshm_atomic.h"
#include "mshm_write_int.h"

static uint64_t
realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
futex_wake_all(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void
notify(struct mshm_writer *w)
{
    mshm_st_rel(&w->hdr->notify, w->hdr->notify + 1);   /* LMM(notify:A) */
    futex_wake_all(&w->hdr->notify);
}

/* starttime (field 22) of /proc/self/stat: identifies this process instance. */
static uint64_t
self_starttime(void)
{
    char buf[1024], *p;
    unsigned long long v = 0;
    ssize_t n;
    int fd, field;

    fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL) {
        return 0;
    }
    for (field = 2; field < 22 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    if (p != NULL) {
        v = strtoull(p + 1, NULL, 10);
    }
    return v;
}

static void
read_boot_id(uint8_t out[16])
{
    char buf[64];
    ssize_t n;
    int fd, i = 0, hi = -1;
    char *p;

    memset(out, 0, 16);
    fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    for (p = buf; *p != '\0' && i < 16; p++) {
        int d;

        if (*p >= '0' && *p <= '9') {
            d = *p - '0';
        } else if (*p >= 'a' && *p <= 'f') {
            d = *p - 'a' + 10;
        } else {
            continue;
        }
        if (hi < 0) {
            hi = d;
        } else {
            out[i++] = (uint8_t)(hi << 4 | d);
            hi = -1;
        }
    }
}

static void
set_writer_identity(struct mshm_writer *w)
{
    struct mshm_header *h = w->hdr;
    uint8_t boot[16];
    size_t i;

    read_boot_id(boot);
    for (i = 0; i < 16; i++) {
        mshm_st(&h->boot_id[i], boot[i]);
    }
    mshm_st(&h->writer_pid, (uint32_t)getpid());
    mshm_st(&h->writer_starttime, self_starttime());
}

const struct mshm_geo *
mshm_w_geo(const struct mshm_writer *w)
{
    return &w->geo;
}

uint32_t
mshm_w_writer_epoch(const struct mshm_writer *w)
{
    return w->hdr->writer_epoch;
}

uint64_t
mshm_w_latch(const struct mshm_writer *w)
{
    return w->hdr->latch;
}

uint32_t
mshm_w_notify(const struct mshm_writer *w)
{
    return w->hdr->notify;
}

uint32_t
mshm_w_pending(const struct mshm_writer *w)
{
    return w->n_evq + mshm_wr_n_dirty(w);
}

int
mshm_w_emit(struct mshm_writer *w, const struct mshm_event *ev)
{
    struct mshm_event *q;
    uint32_t cap;

    if (w->n_evq == w->cap_evq) {
        cap = w->cap_evq ? w->cap_evq * 2 : 16;
        if (cap > w->geo.ring_cap * 2u + 16u) {
            return MSHM_ERR_NOMEM;  /* more than the ring could ever hold */
        }
        q = realloc(w->evq, cap * sizeof(*q));
        if (q == NULL) {
            return MSHM_ERR_NOMEM;
        }
        w->evq = q;
        w->cap_evq = cap;
    }
    w->evq[w->n_evq++] = *ev;
    return MSHM_OK;
}

/* ---- publish ------------------------------------------------------------ */

/* Write every dirty record and the slot header into copy c. */
static void
apply(struct mshm_writer *w, int c, int first)
{
    unsigned char *slot = w->base + w->geo.slot_off[c];
    uint64_t written = 0;
    uint32_t i;
    int k;

    for (k = 0; k < K_NKINDS; k++) {
        struct model_array *m = &w->a[k];

        for (i = 0; i < m->n_dirty; i++) {
            uint32_t idx = m->dirty_list[i];

            mshm_copy_out(slot + m->off + (size_t)idx * m->size, mshm_wr_rec_at(m, idx),
                          m->size);
            if (first && w->test_kill_after != 0 && ++written >= w->test_kill_after) {
                kill(getpid(), SIGKILL);        /* test hook: die mid-publish */
            }
        }
    }
    mshm_copy_out(slot, &w->sh, sizeof(w->sh));
}

static void
ring_emit(struct mshm_writer *w, struct mshm_event *ev)
{
    uint64_t h = w->hdr->ev_head;
    struct mshm_event *e = (void *)(w->base + w->geo.ring_off +
                                    (h & (w->geo.ring_cap - 1)) * w->geo.ring_stride);

    ev->seq = h;
    mshm_st(&e->seq, UINT64_MAX);
    mshm_fence_rel();                                   /* LMM(ring:A) */
    mshm_copy_out((unsigned char *)e + 8, (unsigned char *)ev + 8, sizeof(*ev) - 8);
    mshm_st_rel(&e->seq, h);                            /* LMM(ring:B) */
    mshm_st_rel(&w->hdr->ev_head, h + 1);               /* LMM(ring:C) */
}

int
mshm_w_commit(struct mshm_writer *w)
{
    uint64_t l, mono, real;
    uint32_t i, published;

    published = mshm_wr_n_dirty(w);
    if (published == 0 && w->n_evq == 0) {
        return 0;
    }
    if (published > 0) {
        mshm_wr_sum_dirty(w);
        w->sh.pub_seq++;

        l = w->hdr->latch;
        mshm_fence_rel();
        mshm_st(&w->hdr->latch, l + 1);                 /* LMM(publish:A) */
        mshm_fence_rel();
        apply(w, (int)(l & 1), 1);
        mshm_fence_rel();
        mshm_st(&w->hdr->latch, l + 2);                 /* LMM(publish:B) */
        mshm_fence_rel();
        apply(w, (int)((l + 1) & 1), 0);
        mshm_wr_clear_dirty(w);
    }
    if (w->n_evq > 0) {
        mono = mshm_now_ns();
        real = realtime_ns();
        for (i = 0; i < w->n_evq; i++) {
            w->evq[i].pub_seq = w->sh.pub_seq;
            w->evq[i].mono_ns = mono;
            w->evq[i].realtime_ns = real;
            ring_emit(w, &w->evq[i]);
        }
        w->n_evq = 0;
    }
    notify(w);
    return (int)published;
}

void
mshm_w_heartbeat(struct mshm_writer *w)
{
    mshm_st(&w->hdr->hb_mono_ns, mshm_now_ns());
    mshm_st(&w->hdr->hb_realtime_ns, realtime_ns());
    mshm_st_rel(&w->hdr->hb_count, w->hdr->hb_count + 1);   /* LMM(heartbeat:A) */
}

void
mshm_w_set_flags(struct mshm_writer *w, uint32_t set, uint32_t clear)
{
    uint32_t f = (w->hdr->flags | set) & ~clear;

    if (f != w->hdr->flags) {
        mshm_st_rel(&w->hdr->flags, f);
        notify(w);
    }
}

void
mshm_w_set_config_version(struct mshm_writer *w, uint64_t v)
{
    mshm_st_rel(&w->hdr->config_version, v);
}

/* ---- open: create / adopt / replace ------------------------------------- */

static uint32_t
def(uint32_t v, uint32_t d)
{
    return v ? v : d;
}

static uint64_t
round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Compute the header lines 0-1 for the requested capacities. */
static int
plan_geometry(const struct mshm_writer_opts *o, struct mshm_header *h, char *err,
              size_t errlen)
{
    uint64_t off, slot_size, total;
    uint32_t gcap = def(o->group_cap, MSHM_DEF_GROUPS);
    uint32_t scap = def(o->server_cap, MSHM_DEF_SERVERS);
    uint32_t ccap = def(o->cluster_cap, MSHM_DEF_CLUSTERS);
    uint32_t lcap = def(o->longname_cap, MSHM_DEF_LONGNAMES);
    uint32_t rcap = def(o->ring_cap, MSHM_DEF_RING);
    uint32_t mcap = o->slotmap_cap == MSHM_W_NO_SLOTMAPS ? 0
                                                          : def(o->slotmap_cap, MSHM_DEF_SLOTMAPS);

    if (mcap > MSHM_MAX_SLOTMAPS) {
        mshm_seterr(err, errlen, "segment capacity of slot maps %u above the maximum %u", mcap,
               MSHM_MAX_SLOTMAPS);
        return MSHM_ERR_RANGE;
    }
    if (gcap > MSHM_MAX_GROUPS || scap > MSHM_MAX_SERVERS || ccap > MSHM_MAX_CLUSTERS ||
        lcap > MSHM_MAX_LONGNAMES || rcap > MSHM_MAX_RING || (rcap & (rcap - 1)) != 0) {
        mshm_seterr(err, errlen, "segment capacities out of range (groups %u, servers %u, "
               "clusters %u, long names %u, ring %u: ring must be a power of two)",
               gcap, scap, ccap, lcap, rcap);
        return MSHM_ERR_RANGE;
    }
    memset(h, 0, sizeof(*h));
    h->magic = MSHM_MAGIC;
    h->version_major = MSHM_VERSION_MAJOR;
    h->version_minor = MSHM_VERSION_MINOR;
    h->header_size = sizeof(struct mshm_header);
    h->group_cap = gcap;
    h->group_stride = sizeof(struct mshm_group);
    h->server_cap = scap;
    h->server_stride = sizeof(struct mshm_server);
    h->cluster_cap = ccap;
    h->cluster_stride = sizeof(struct mshm_cluster);
    h->longname_cap = lcap;
    h->longname_stride = sizeof(struct mshm_longname);
    h->ring_cap = rcap;
    h->ring_stride = sizeof(struct mshm_event);
    h->slotmap_cap = mcap;
    h->slotmap_stride = sizeof(struct mshm_slotmap);

    off = sizeof(struct mshm_slot_hdr);
    h->group_off = (uint32_t)off;
    off += (uint64_t)gcap * h->group_stride;
    h->server_off = (uint32_t)off;
    off += (uint64_t)scap * h->server_stride;
    h->cluster_off = (uint32_t)off;
    off += (uint64_t)ccap * h->cluster_stride;
    h->longname_off = (uint32_t)off;
    off += (uint64_t)lcap * h->longname_stride;
    h->slotmap_off = (uint32_t)off;
    off += (uint64_t)mcap * h->slotmap_stride;
    h->geo_check2 = mshm_fnv1a32((const unsigned char *)h + MSHM_HEADER_SIZE_1_0,
                                 offsetof(struct mshm_header, geo_check2) -
                                     MSHM_HEADER_SIZE_1_0);
    slot_size = round_up(off, 4096);
    h->slot_off[0] = 4096;
    h->slot_off[1] = 4096 + slot_size;
    h->ring_off = 4096 + 2 * slot_size;
    total = round_up(h->ring_off + (uint64_t)rcap * h->ring_stride, 4096);
    if (slot_size > UINT32_MAX || total > MSHM_MAX_TOTAL) {
        mshm_seterr(err, errlen, "segment would be %llu bytes: above the %llu limit",
               (unsigned long long)total, (unsigned long long)MSHM_MAX_TOTAL);
        return MSHM_ERR_RANGE;
    }
    h->slot_size = (uint32_t)slot_size;
    h->total_size = total;
    return MSHM_OK;
}

/* Same layout as planned (so adoption keeps every index meaningful)? */
static int
same_geometry(const struct mshm_header *a, const struct mshm_geo *g)
{
    return a->group_cap == g->group_cap && a->group_stride == g->group_stride &&
           a->server_cap == g->server_cap && a->server_stride == g->server_stride &&
           a->cluster_cap == g->cluster_cap && a->cluster_stride == g->cluster_stride &&
           a->longname_cap == g->longname_cap && a->longname_stride == g->longname_stride &&
           a->ring_cap == g->ring_cap && a->ring_stride == g->ring_stride &&
           a->total_size == g->total_size && a->slot_size == g->slot_size &&
           a->slot_off[0] == g->slot_off[0] && a->slot_off[1] == g->slot_off[1] &&
           a->ring_off == g->ring_off && a->group_off == g->group_off &&
           a->server_off == g->server_off && a->cluster_off == g->cluster_off &&
           a->longname_off == g->longname_off && a->slotmap_cap == g->slotmap_cap &&
           a->slotmap_stride == g->slotmap_stride && a->slotmap_off == g->slotmap_off;
}

static int
take_lock(struct mshm_writer *w, const char *path, char *err, size_t errlen)
{
    char lock_path[600];

    snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
    w->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->lock_fd < 0) {
        mshm_seterr(err, errlen, "%s: %s", lock_path, strerror(errno));
        return errno == EACCES ? MSHM_ERR_PERM : MSHM_ERR_SYS;
    }
    if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        mshm_seterr(err, errlen, "%s: another writer holds the segment lock", lock_path);
        close(w->lock_fd);
        w->lock_fd = -1;
        return MSHM_ERR_BUSY;
    }
    return MSHM_OK;
}

/* Map fd read-write and remember it in w. */
static int
map_rw(struct mshm_writer *w, int fd, uint64_t len, char *err, size_t errlen)
{
    void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (p == MAP_FAILED) {
        mshm_seterr(err, errlen, "mmap: %s", strerror(errno));
        return MSHM_ERR_SYS;
    }
    w->base = p;
    w->len = (size_t)len;
    w->hdr = p;
    return MSHM_OK;
}

/* Load the private model from copy c of the mapped segment. */
static int
load_model(struct mshm_writer *w, int c, char *err, size_t errlen)
{
    struct mshm_reader r;
    struct mshm_state st;
    int rc;

    memset(&r, 0, sizeof(r));
    r.base = w->base;
    r.map_len = w->len;
    r.geo = w->geo;
    /* read copy c directly: the writer lock excludes any other writer */
    r.geo.slot_off[0] = r.geo.slot_off[1] = w->geo.slot_off[c];
    rc = mshm_read_state(&r, &st);
    if (rc != MSHM_OK) {
        mshm_seterr(err, errlen, "reading the adopted state: %s", mshm_strerror(rc));
        return rc;
    }
    rc = mshm_check_state(&st, err, errlen);
    if (rc != MSHM_OK) {
        mshm_state_free(&st);
        return rc;
    }
    mshm_wr_model_load(w, &st);
    mshm_state_free(&st);
    return MSHM_OK;
}

/* Fix the ring after a crash: half-written slots, a head not yet advanced. */
static void
repair_ring(struct mshm_writer *w)
{
    uint64_t h = w->hdr->ev_head, i;
    struct mshm_event *e;

    if (h == 0) {
        h = 1;
    }
    e = (void *)(w->base + w->geo.ring_off + (h & (w->geo.ring_cap - 1)) * w->geo.ring_stride);
    if (e->seq == h) {
        h++;            /* emitted, but died before advancing the head */
    }
    for (i = 0; i < w->geo.ring_cap; i++) {
        e = (void *)(w->base + w->geo.ring_off + i * w->geo.ring_stride);
        if (e->seq == UINT64_MAX) {
            mshm_st_rel(&e->seq, 0);    /* died mid-emit: slot is garbage */
        }
    }
    mshm_st_rel(&w->hdr->ev_head, h);
}

static int
adopt(struct mshm_writer *w, int fd, char *err, size_t errlen)
{
    uint64_t l;
    int rc, good;

    rc = map_rw(w, fd, w->geo.total_size, err, errlen);
    if (rc != MSHM_OK) {
        return rc;
    }
    rc = mshm_wr_model_alloc(w);
    if (rc != MSHM_OK) {
        return rc;
    }
    l = w->hdr->latch;
    good = (int)(l & 1);
    rc = load_model(w, good, err, errlen);
    if (rc != MSHM_OK) {
        return rc;
    }
    if ((w->flags & MSHM_W_NO_REPAIR) == 0) {
        /* tag-20261125-1: level the other copy before the first latch flip */
        mshm_copy_out(w->base + w->geo.slot_off[!good], w->base + w->geo.slot_off[good],
                      w->geo.slot_size);
        mshm_fence_rel();
    }
    repair_ring(w);
    mshm_st_rel(&w->hdr->writer_epoch, w->hdr->writer_epoch + 1);
    set_writer_identity(w);
    mshm_w_set_flags(w, 0, MSHM_HF_WRITER_STOPPED);
    mshm_w_heartbeat(w);
    notify(w);
    return MSHM_OK;
}

static int
create(struct mshm_writer *w, const struct mshm_writer_opts *o, struct mshm_header *plan,
       char *err, size_t errlen)
{
    char tmp[600];
    mode_t mode = o->mode ? o->mode : 0640;
    uint64_t id = 0;
    int fd, rc;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", o->path, (long)getpid());
    unlink(tmp);    /* a leftover of our own pid from an earlier crash */
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        mshm_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        return errno == EACCES ? MSHM_ERR_PERM : MSHM_ERR_SYS;
    }
    if (o->gid != (gid_t)-1 && fchown(fd, (uid_t)-1, o->gid) != 0) {
        mshm_seterr(err, errlen, "%s: fchown to group %ld: %s", tmp, (long)o->gid,
               strerror(errno));
        rc = MSHM_ERR_PERM;
        goto out_unlink;
    }
    if (fchmod(fd, mode) != 0 || ftruncate(fd, (off_t)plan->total_size) != 0) {
        mshm_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
        rc = MSHM_ERR_SYS;
        goto out_unlink;
    }
    /* allocate every page now: a full tmpfs must fail here, not SIGBUS later */
    rc = posix_fallocate(fd, 0, (off_t)plan->total_size);
    if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        mshm_seterr(err, errlen, "%s: allocating %llu bytes: %s", tmp,
               (unsigned long long)plan->total_size, strerror(rc));
        rc = MSHM_ERR_SYS;
        goto out_unlink;
    }
    rc = map_rw(w, fd, plan->total_size, err, errlen);
    if (rc != MSHM_OK) {
        goto out_unlink;
    }
    if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
        id = realtime_ns() ^ ((uint64_t)getpid() << 32);
    }
    plan->segment_id = id;
    plan->created_realtime_ns = realtime_ns();
    plan->geo_check = mshm_fnv1a32(plan, offsetof(struct mshm_header, geo_check));
    mshm_copy_out(w->hdr, plan, offsetof(struct mshm_header, latch));
    mshm_copy_out((unsigned char *)w->hdr + MSHM_HEADER_SIZE_1_0,
                  (const unsigned char *)plan + MSHM_HEADER_SIZE_1_0,
                  sizeof(*plan) - MSHM_HEADER_SIZE_1_0);       /* line 5 (1.1) */
    mshm_st(&w->hdr->ev_head, 1);
    mshm_st(&w->hdr->writer_epoch, 1);
    mshm_st(&w->hdr->hb_interval_ms, def(o->hb_interval_ms, MSHM_DEF_HB_MS));
    mshm_st(&w->hdr->stale_after_ms, def(o->stale_after_ms, MSHM_DEF_STALE_MS));
    set_writer_identity(w);
    mshm_w_heartbeat(w);
    mshm_st_rel(&w->hdr->state, MSHM_STATE_LIVE);
    rc = mshm_validate_header(w->hdr, plan->total_size, &w->geo, err, errlen);
    if (rc != MSHM_OK) {
        goto out_unlink;
    }
    rc = mshm_wr_model_alloc(w);
    if (rc != MSHM_OK) {
        goto out_unlink;
    }
    if (rename(tmp, o->path) != 0) {
        mshm_seterr(err, errlen, "rename %s -> %s: %s", tmp, o->path, strerror(errno));
        rc = errno == EACCES || errno == EPERM ? MSHM_ERR_PERM : MSHM_ERR_SYS;
        goto out_unlink;
    }
    close(fd);
    return MSHM_OK;

out_unlink:
    unlink(tmp);
    close(fd);
    return rc;
}

/* Mark a replaced segment RETIRED so its readers re-open the path. */
static void
retire(int fd)
{
    struct mshm_header h;
    struct stat st;
    struct mshm_header *m;

    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof(h) ||
        pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != MSHM_MAGIC) {
        return;     /* not a segment we understand: leave it alone */
    }
    m = mmap(NULL, sizeof(h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        return;
    }
    mshm_st_rel(&m->state, MSHM_STATE_RETIRED);
    mshm_st_rel(&m->notify, m->notify + 1);
    futex_wake_all(&m->notify);
    munmap(m, sizeof(h));
}

int
mshm_writer_open(const struct mshm_writer_opts *o, struct mshm_writer **out, int *how,
                 char *err, size_t errlen)
{
    struct mshm_header plan, cur;
    struct mshm_writer *w;
    struct stat st;
    int fd = -1, rc, vrc;

    *out = NULL;
    if (o->path == NULL || o->path[0] == '\0' || strlen(o->path) > 500) {
        mshm_seterr(err, errlen, "segment path empty or longer than 500 bytes");
        return MSHM_ERR_RANGE;
    }
    if ((o->mode & 0022) != 0) {   /* readers, and our own restart, would refuse it */
        mshm_seterr(err, errlen, "segment mode %04o is group/other-writable", (unsigned)o->mode);
        return MSHM_ERR_RANGE;
    }
    rc = plan_geometry(o, &plan, err, errlen);
    if (rc != MSHM_OK) {
        return rc;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return MSHM_ERR_NOMEM;
    }
    w->lock_fd = -1;
    w->flags = o->flags;
    w->test_kill_after = o->test_kill_after;
    rc = take_lock(w, o->path, err, errlen);
    if (rc != MSHM_OK) {
        goto out_free;
    }

    fd = open(o->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno != ENOENT) {
        mshm_seterr(err, errlen, "%s: %s", o->path, strerror(errno));
        rc = (errno == EACCES || errno == ELOOP) ? MSHM_ERR_PERM : MSHM_ERR_SYS;
        goto out_free;
    }
    if (fd >= 0) {
        /* never write into someone else's file (squatted name) */
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 0022) != 0) {
            mshm_seterr(err, errlen, "%s exists but is not a regular file owned by uid %ld "
                   "without group/other write access: refusing to use it", o->path,
                   (long)geteuid());
            rc = MSHM_ERR_PERM;
            goto out_free;
        }
        vrc = MSHM_ERR_CORRUPT;
        if ((uint64_t)st.st_size >= sizeof(cur) &&
            pread(fd, &cur, sizeof(cur), 0) == (ssize_t)sizeof(cur)) {
            vrc = mshm_validate_header(&cur, (uint64_t)st.st_size, &w->geo, NULL, 0);
        }
        if (vrc == MSHM_OK && (o->flags & MSHM_W_FORCE_REPLACE) == 0 &&
            same_geometry(&plan, &w->geo)) {
            rc = adopt(w, fd, err, errlen);
            if (rc == MSHM_OK) {
                close(fd);
                if (how != NULL) {
                    *how = MSHM_ADOPTED;
                }
                *out = w;
                return MSHM_OK;
            }
            /* unreadable adopted state: start over with a fresh segment */
            if (w->base != NULL) {
                munmap(w->base, w->len);
                w->base = NULL;
            }
            mshm_wr_model_free(w);
        }
    }
    rc = create(w, o, &plan, err, errlen);
    if (rc != MSHM_OK) {
        goto out_free;
    }
    if (how != NULL) {
        *how = fd >= 0 ? MSHM_REPLACED : MSHM_CREATED;
    }
    if (fd >= 0) {
        retire(fd);
        close(fd);
    }
    *out = w;
    return MSHM_OK;

out_free:
    if (fd >= 0) {
        close(fd);
    }
    if (w->base != NULL) {
        munmap(w->base, w->len);
    }
    mshm_wr_model_free(w);
    if (w->lock_fd >= 0) {
        close(w->lock_fd);
    }
    free(w);
    return rc;
}

void
mshm_writer_close(struct mshm_writer *w, int stopped)
{
    if (w == NULL) {
        return;
    }
    if (stopped && w->hdr != NULL) {
        mshm_w_set_flags(w, MSHM_HF_WRITER_STOPPED, 0);
    }
    if (w->base != NULL) {
        munmap(w->base, w->len);
    }
    mshm_wr_model_free(w);
    if (w->lock_fd >= 0) {
        close(w->lock_fd);
    }
    free(w);
}
