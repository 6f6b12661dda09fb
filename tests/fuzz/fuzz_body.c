/*
 * fuzz_body.c -- one fuzz iteration: attach an untrusted image and run every
 * reader path on it.  See fuzz_body.h.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_body.h"
#include "mshm_read.h"

/* Caps the oracle loops so a large input cannot make one run quadratic. */
#define ORACLE_MAX 256

struct fz {
    int bad;                        /* violations so far */
    char *why;
    size_t whylen;
    struct mshm_fuzz_stats *st;
};

static void
violation(struct fz *f, const char *fmt, ...)
{
    va_list ap;

    if (f->bad++ == 0 && f->why != NULL && f->whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(f->why, f->whylen, fmt, ap);
        va_end(ap);
    }
}

#define A(code) (1u << (unsigned)-(code))

/* Is rc a defined status that this call may return (mask of A(...))? */
static void
expect(struct fz *f, const char *what, int rc, unsigned mask)
{
    if (rc > 0 || rc < MSHM_ERR_LOST || (mask & A(rc)) == 0) {
        violation(f, "%s returned %d (%s), not a documented result", what, rc,
                  mshm_strerror(rc));
    }
}

static int
terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

/* Boundary indices for a capacity. */
static size_t
boundary_indices(uint32_t cap, uint32_t *out)
{
    size_t n = 0;

    out[n++] = 0;
    out[n++] = 1;
    out[n++] = 2;
    out[n++] = cap - 1;   /* 0xffffffff when cap == 0 */
    out[n++] = cap;
    out[n++] = cap + 1;
    out[n++] = 0x7fffffffu;
    out[n++] = MSHM_NONE;
    return n;
}

static void
snapshots(struct fz *f, const struct mshm_reader *r)
{
    struct mshm_group_snap gs;
    struct mshm_server s;
    struct mshm_cluster c;
    uint8_t slots[MSHM_SLOTS];
    char host[MSHM_HOST_MAX];
    uint32_t idx[8], i, j, found;
    size_t n, k;
    int rc;

    n = boundary_indices(r->geo.group_cap, idx);
    for (k = 0; k < n; k++) {
        i = idx[k];
        rc = mshm_snap_group(r, i, &gs);
        expect(f, "mshm_snap_group", rc,
               A(MSHM_OK) | A(MSHM_ERR_RANGE) | A(MSHM_ERR_NOTFOUND) | A(MSHM_ERR_CORRUPT));
        if ((rc == MSHM_ERR_RANGE) != (i >= r->geo.group_cap)) {
            violation(f, "mshm_snap_group(%u) cap %u: %d", i, r->geo.group_cap, rc);
        }
        if (rc == MSHM_OK) {
            f->st->snap_ok++;
            if (gs.group.n_servers > MSHM_GROUP_SERVERS ||
                !terminated(gs.group.name, MSHM_NAME_MAX)) {
                violation(f, "group snapshot %u unbounded", i);
            }
            for (j = 0; j < gs.group.n_servers && j < MSHM_GROUP_SERVERS; j++) {
                if (!terminated(gs.servers[j].host, MSHM_HOST_INLINE)) {
                    violation(f, "group snapshot %u server %u host unterminated", i, j);
                }
            }
        }
    }
    n = boundary_indices(r->geo.server_cap, idx);
    for (k = 0; k < n; k++) {
        i = idx[k];
        rc = mshm_snap_server(r, i, &s, host);
        expect(f, "mshm_snap_server", rc,
               A(MSHM_OK) | A(MSHM_ERR_RANGE) | A(MSHM_ERR_NOTFOUND) | A(MSHM_ERR_CORRUPT));
        if ((rc == MSHM_ERR_RANGE) != (i >= r->geo.server_cap)) {
            violation(f, "mshm_snap_server(%u) cap %u: %d", i, r->geo.server_cap, rc);
        }
        if (rc == MSHM_OK) {
            f->st->snap_ok++;
            if (!terminated(host, MSHM_HOST_MAX) || !terminated(s.host, MSHM_HOST_INLINE)) {
                violation(f, "server snapshot %u host unterminated", i);
            }
        }
        /* without a host buffer nothing can be corrupt */
        rc = mshm_snap_server(r, i, &s, NULL);
        expect(f, "mshm_snap_server(host=NULL)", rc,
               A(MSHM_OK) | A(MSHM_ERR_RANGE) | A(MSHM_ERR_NOTFOUND));
    }
    n = boundary_indices(r->geo.cluster_cap, idx);
    for (k = 0; k < n; k++) {
        i = idx[k];
        rc = mshm_snap_cluster(r, i, &c);
        expect(f, "mshm_snap_cluster", rc,
               A(MSHM_OK) | A(MSHM_ERR_RANGE) | A(MSHM_ERR_NOTFOUND) | A(MSHM_ERR_CORRUPT));
        if ((rc == MSHM_ERR_RANGE) != (i >= r->geo.cluster_cap)) {
            violation(f, "mshm_snap_cluster(%u) cap %u: %d", i, r->geo.cluster_cap, rc);
        }
        if (rc == MSHM_OK) {
            f->st->snap_ok++;
            if (c.n_members > MSHM_CLUSTER_MEMBERS || !terminated(c.name, MSHM_NAME_MAX)) {
                violation(f, "cluster snapshot %u unbounded", i);
            }
        }
        rc = mshm_snap_cluster_slots(r, i, &c, slots);
        expect(f, "mshm_snap_cluster_slots", rc,
               A(MSHM_OK) | A(MSHM_ERR_RANGE) | A(MSHM_ERR_NOTFOUND) | A(MSHM_ERR_CORRUPT));
        if (rc == MSHM_OK) {
            f->st->snap_ok++;
            for (j = 0; j < MSHM_SLOTS; j++) {
                if (slots[j] != MSHM_SLOT_NONE && slots[j] >= c.n_members) {
                    violation(f, "slot map of cluster %u: slot %u -> member %u of %u", i, j,
                              slots[j], c.n_members);
                    break;
                }
            }
        }
    }
    {
        static const char *const names[] = {"g0", "g1", "c0", "f0", ""};

        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            found = MSHM_NONE;
            rc = mshm_find_group(r, names[k], &found);
            expect(f, "mshm_find_group", rc,
                   A(MSHM_OK) | A(MSHM_ERR_NOTFOUND) | A(MSHM_ERR_CORRUPT));
            if (rc == MSHM_OK && found >= r->geo.group_cap) {
                violation(f, "mshm_find_group index %u >= cap", found);
            }
            found = MSHM_NONE;
            rc = mshm_find_cluster(r, names[k], &found);
            expect(f, "mshm_find_cluster", rc,
                   A(MSHM_OK) | A(MSHM_ERR_NOTFOUND) | A(MSHM_ERR_CORRUPT));
            if (rc == MSHM_OK && found >= r->geo.cluster_cap) {
                violation(f, "mshm_find_cluster index %u >= cap", found);
            }
        }
    }
}

/* The state passed mshm_check_state(): the snapshot paths must agree with it. */
static void
oracles(struct fz *f, const struct mshm_reader *r, const struct mshm_state *st)
{
    struct mshm_group_snap gs;
    struct mshm_server s;
    struct mshm_cluster c;
    char host[MSHM_HOST_MAX];
    uint32_t i, j, idx;
    int rc;

    for (i = 0; i < st->hdr.n_groups && i < ORACLE_MAX; i++) {
        const struct mshm_group *g = &st->groups[i];

        rc = mshm_snap_group(r, i, &gs);
        if ((g->flags & MSHM_GF_IN_USE) == 0) {
            if (rc != MSHM_ERR_NOTFOUND) {
                violation(f, "checked state: unused group %u snapshot %d", i, rc);
            }
            continue;
        }
        if (rc != MSHM_OK) {
            violation(f, "checked state: group %u snapshot %d", i, rc);
            continue;
        }
        if (gs.group.n_servers != g->n_servers || gs.group.master_idx != g->master_idx ||
            gs.group.change_seq != g->change_seq || strcmp(gs.group.name, g->name) != 0 ||
            gs.latch != st->latch) {
            violation(f, "checked state: group %u snapshot differs", i);
            continue;
        }
        for (j = 0; j < g->n_servers; j++) {
            const struct mshm_server *ss = &st->servers[g->servers[j]];

            if (gs.servers[j].change_seq != ss->change_seq || gs.servers[j].group_idx != i) {
                violation(f, "checked state: group %u server %u differs", i, j);
            }
        }
        idx = MSHM_NONE;
        rc = mshm_find_group(r, g->name, &idx);
        if (rc != MSHM_OK || idx != i) {
            violation(f, "checked state: find_group(%s) = %d/%u, want %u", g->name, rc, idx, i);
        }
    }
    for (i = 0; i < st->hdr.n_servers && i < ORACLE_MAX; i++) {
        const struct mshm_server *ss = &st->servers[i];

        rc = mshm_snap_server(r, i, &s, host);
        if ((ss->flags & MSHM_SF_IN_USE) == 0) {
            if (rc != MSHM_ERR_NOTFOUND) {
                violation(f, "checked state: unused server %u snapshot %d", i, rc);
            }
            continue;
        }
        if (rc != MSHM_OK || strcmp(host, mshm_state_host(st, ss)) != 0 ||
            s.group_idx != ss->group_idx || s.port != ss->port) {
            violation(f, "checked state: server %u snapshot %d differs", i, rc);
        }
    }
    for (i = 0; i < st->hdr.n_clusters && i < ORACLE_MAX; i++) {
        const struct mshm_cluster *cc = &st->clusters[i];

        rc = mshm_snap_cluster(r, i, &c);
        if ((cc->flags & MSHM_CF_IN_USE) == 0) {
            if (rc != MSHM_ERR_NOTFOUND) {
                violation(f, "checked state: unused cluster %u snapshot %d", i, rc);
            }
            continue;
        }
        if (rc != MSHM_OK || c.n_members != cc->n_members || c.kind != cc->kind ||
            strcmp(c.name, cc->name) != 0) {
            violation(f, "checked state: cluster %u snapshot %d differs", i, rc);
            continue;
        }
        idx = MSHM_NONE;
        rc = mshm_find_cluster(r, cc->name, &idx);
        if (rc != MSHM_OK || idx != i) {
            violation(f, "checked state: find_cluster(%s) = %d/%u, want %u", cc->name, rc,
                      idx, i);
        }
    }
}

static void
drain_events(struct fz *f, struct mshm_reader *r, int max)
{
    struct mshm_event ev;
    uint64_t lost, before;
    int i, rc;

    for (i = 0; i < max; i++) {
        before = r->ev_next;
        lost = 0;
        rc = mshm_next_event(r, &ev, &lost);
        if (rc == 1) {
            f->st->events++;
            if (ev.seq != (before == 0 ? 1 : before)) {
                violation(f, "event seq %llu delivered for cursor %llu",
                          (unsigned long long)ev.seq, (unsigned long long)before);
            }
        } else if (rc == MSHM_ERR_LOST) {
            f->st->lost++;
            if (lost == 0) {
                violation(f, "MSHM_ERR_LOST with a lost count of 0");
            }
        } else if (rc == 0) {
            break;
        } else {
            violation(f, "mshm_next_event returned %d", rc);
            break;
        }
    }
}

static void
exercise(struct fz *f, struct mshm_reader *r)
{
    struct mshm_state st;
    char err[256];
    uint32_t seen = 0;
    int rc;

    if (r->geo.total_size != r->map_len) {
        violation(f, "attached geometry total_size %llu != buffer %zu",
                  (unsigned long long)r->geo.total_size, r->map_len);
    }
    (void)mshm_generation(r);

    rc = mshm_read_state(r, &st);
    /* BUSY is impossible: nothing writes this buffer */
    expect(f, "mshm_read_state", rc, A(MSHM_OK) | A(MSHM_ERR_CORRUPT) | A(MSHM_ERR_NOMEM));
    if (rc == MSHM_OK) {
        f->st->state_read++;
        err[0] = '\0';
        rc = mshm_check_state(&st, err, sizeof(err));
        expect(f, "mshm_check_state", rc, A(MSHM_OK) | A(MSHM_ERR_CORRUPT));
        if (rc == MSHM_OK) {
            f->st->check_ok++;
            oracles(f, r, &st);
        } else if (rc == MSHM_ERR_CORRUPT) {
            f->st->check_corrupt++;
            if (err[0] == '\0') {
                violation(f, "mshm_check_state: CORRUPT without a message");
            }
        }
    }
    mshm_state_free(&st);

    snapshots(f, r);

    drain_events(f, r, 32);
    mshm_events_seek(r, 0);
    drain_events(f, r, 32);

    rc = (int)mshm_liveness(r, 1ull << 40);
    if (rc < MSHM_LIVE || rc > MSHM_RETIRED) {
        violation(f, "mshm_liveness returned %d", rc);
    }
    rc = mshm_wait(r, &seen, 0);
    if (rc != 0 && rc != 1) {
        violation(f, "mshm_wait returned %d", rc);
    }
    rc = mshm_replaced(r);
    if (rc != 0 && rc != 1) {
        violation(f, "mshm_replaced returned %d", rc);
    }
}

int
mshm_fuzz_one(const uint8_t *data, size_t size, struct mshm_fuzz_stats *stats, char *why,
              size_t whylen)
{
    struct mshm_fuzz_stats dummy;
    struct mshm_reader r;
    struct fz f;
    void *buf;
    int rc;

    memset(&dummy, 0, sizeof(dummy));
    f.bad = 0;
    f.why = why;
    f.whylen = whylen;
    f.st = stats != NULL ? stats : &dummy;
    if (why != NULL && whylen > 0) {
        why[0] = '\0';
    }
    f.st->runs++;

    /* exactly size bytes, so the sanitizer sees any read past the image;
     * malloc() alignment (>= 16) gives the 8 the attach requires */
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(buf, data, size);
    }
    memset(&r, 0, sizeof(r));
    rc = mshm_attach_buf(&r, buf, size);
    expect(&f, "mshm_attach_buf", rc,
           A(MSHM_OK) | A(MSHM_ERR_CORRUPT) | A(MSHM_ERR_VERSION) | A(MSHM_ERR_RETIRED));
    if (rc == MSHM_OK || rc == MSHM_ERR_RETIRED) {
        if (rc == MSHM_OK) {
            f.st->attach_ok++;
        } else {
            f.st->attach_retired++;
        }
        if (r.base != buf) {
            violation(&f, "mshm_attach_buf %d without a base", rc);
        } else {
            exercise(&f, &r);
        }
    } else if (r.base != NULL || r.errstr[0] == '\0') {
        violation(&f, "mshm_attach_buf %d left a base or no message", rc);
    }
    mshm_detach_buf(&r);
    free(buf);
    return f.bad;
}

/* ---- checksum fix-ups --------------------------------------------------- */

static uint64_t
sum_slot(const unsigned char *slot, const struct mshm_geo *g)
{
    const struct mshm_slot_hdr *sh = (const void *)slot;
    uint64_t sum = 0;
    uint32_t i, n;

    n = sh->n_longnames < g->longname_cap ? sh->n_longnames : g->longname_cap;
    for (i = 0; i < n; i++) {
        sum += mshm_record_sum(MSHM_SUM_LONGNAME, i,
                               slot + g->longname_off + (size_t)i * g->longname_stride,
                               sizeof(struct mshm_longname));
    }
    n = sh->n_servers < g->server_cap ? sh->n_servers : g->server_cap;
    for (i = 0; i < n; i++) {
        const struct mshm_server *s =
            (const void *)(slot + g->server_off + (size_t)i * g->server_stride);

        if (s->flags & MSHM_SF_IN_USE) {
            sum += mshm_record_sum(MSHM_SUM_SERVER, i, s, sizeof(*s));
        }
    }
    n = sh->n_groups < g->group_cap ? sh->n_groups : g->group_cap;
    for (i = 0; i < n; i++) {
        const struct mshm_group *gr =
            (const void *)(slot + g->group_off + (size_t)i * g->group_stride);

        if (gr->flags & MSHM_GF_IN_USE) {
            sum += mshm_record_sum(MSHM_SUM_GROUP, i, gr, sizeof(*gr));
        }
    }
    n = sh->n_clusters < g->cluster_cap ? sh->n_clusters : g->cluster_cap;
    for (i = 0; i < n; i++) {
        const struct mshm_cluster *c =
            (const void *)(slot + g->cluster_off + (size_t)i * g->cluster_stride);

        if (c->flags & MSHM_CF_IN_USE) {
            sum += mshm_record_sum(MSHM_SUM_CLUSTER, i, c, sizeof(*c));
        }
    }
    n = sh->n_slotmaps < g->slotmap_cap ? sh->n_slotmaps : g->slotmap_cap;
    for (i = 0; i < n; i++) {
        const struct mshm_slotmap *m =
            (const void *)(slot + g->slotmap_off + (size_t)i * g->slotmap_stride);

        if (m->flags & MSHM_SMF_IN_USE) {
            sum += mshm_record_sum(MSHM_SUM_SLOTMAP, i, m, sizeof(*m));
        }
    }
    return sum;
}

void
mshm_fuzz_fixup(uint8_t *buf, size_t len, int fix_state)
{
    struct mshm_header *h;
    struct mshm_geo geo;
    unsigned char *tmp;
    uint64_t sum;
    int rc;

    if (len < sizeof(struct mshm_header)) {
        return;
    }
    tmp = malloc(len);      /* aligned working copy: records are read as words */
    if (tmp == NULL) {
        return;
    }
    memcpy(tmp, buf, len);
    h = (void *)tmp;
    h->geo_check = mshm_fnv1a32(h, offsetof(struct mshm_header, geo_check));
    if (fix_state) {
        rc = mshm_validate_header(h, len, &geo, NULL, 0);
        if (rc == MSHM_OK || rc == MSHM_ERR_RETIRED) {
            unsigned char *slot = tmp + geo.slot_off[h->latch & 1];

            sum = sum_slot(slot, &geo);
            memcpy(slot + offsetof(struct mshm_slot_hdr, state_sum), &sum, sizeof(sum));
        }
    }
    memcpy(buf, tmp, len);
    free(tmp);
}
