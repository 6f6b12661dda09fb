/*
 * check.c -- marshal-shmdump --check: validate the segment and say why not
 * (see modes.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "modes.h"

/* ---- --check ------------------------------------------------------------- */

/* Enumerations of clusters a same-or-older-minor writer must keep in range. */
static int
check_enums(const struct ctx *c, char *err, size_t len)
{
    uint32_t i;

    for (i = 0; i < c->st.hdr.n_clusters; i++) {
        const struct mshm_cluster *cl = &c->st.clusters[i];

        if (!cluster_ok(c, i)) {
            continue;
        }
        if (cl->dist > MSHM_DIST_SLOTS || cl->hash > MSHM_HASH_ONE_AT_A_TIME ||
            cl->mirror_policy > MSHM_MIRROR_PRIMARY) {
            snprintf(err, len, "cluster %u: dist %u, hash %u or mirror policy %u unknown", i,
                     cl->dist, cl->hash, cl->mirror_policy);
            return -1;
        }
    }
    return 0;
}

/*
 * One pass over the event ring.  Every non-empty slot must hold a sequence
 * number that maps to its index, lies inside the window [head-cap, head) and
 * carries a known type.  Returns 0, or -1 with err set.
 */
static int
check_ring_once(const struct mshm_reader *r, int known_types, uint64_t *present,
                char *err, size_t len)
{
    const struct mshm_header *h = mshm_hdr(r);
    uint64_t head0 = mshm_ld_acq(&h->ev_head), head1, seq, cap = r->geo.ring_cap;
    struct mshm_event ev = {0};
    uint64_t i;

    *present = 0;
    if (head0 == 0) {
        snprintf(err, len, "event ring head is 0 (sequence numbers start at 1)");
        return -1;
    }
    for (i = 0; i < cap; i++) {
        const struct mshm_event *e =
            (const void *)(r->base + r->geo.ring_off + i * r->geo.ring_stride);

        seq = mshm_ld_acq(&e->seq);
        if (seq == 0 || seq == UINT64_MAX) {
            continue;       /* empty, or being written */
        }
        mshm_copy_in(&ev, e, sizeof(ev));
        mshm_fence_acq();
        if (mshm_ld(&e->seq) != seq) {
            continue;       /* rewritten while we looked: the next pass sees it */
        }
        head1 = mshm_ld_acq(&h->ev_head);
        if ((seq & (cap - 1)) != i) {
            snprintf(err, len, "event ring slot %" PRIu64 " holds seq %" PRIu64
                     " which belongs in slot %" PRIu64, i, seq, seq & (cap - 1));
            return -1;
        }
        if (seq >= head1) {
            snprintf(err, len, "event ring slot %" PRIu64 " holds seq %" PRIu64
                     " >= ev_head %" PRIu64, i, seq, head1);
            return -1;
        }
        if (head0 > cap && seq < head0 - cap) {
            snprintf(err, len, "event ring slot %" PRIu64 " holds seq %" PRIu64
                     " older than the ring window [%" PRIu64 ", %" PRIu64 ")",
                     i, seq, head0 - cap, head0);
            return -1;
        }
        if (known_types && (ev.type == MSHM_EV_NONE || ev.type >= MSHM_EV_TYPE_MAX)) {
            snprintf(err, len, "event seq %" PRIu64 " has unknown type %u", seq,
                     (unsigned)ev.type);
            return -1;
        }
        if ((ev.group_idx != MSHM_NONE && ev.group_idx >= r->geo.group_cap) ||
            (ev.server_idx != MSHM_NONE && ev.server_idx >= r->geo.server_cap) ||
            (ev.old_idx != MSHM_NONE &&
             ev.old_idx >= (ev.type == MSHM_EV_MIRROR_DIVERGED ? r->geo.cluster_cap
                                                                : r->geo.server_cap)) ||
            (ev.new_idx != MSHM_NONE && ev.new_idx >= r->geo.server_cap) ||
            (ev.cluster_idx != MSHM_NONE && ev.cluster_idx >= r->geo.cluster_cap)) {
            snprintf(err, len, "event seq %" PRIu64 " refers to a record index beyond "
                     "the segment's capacities", seq);
            return -1;
        }
        (*present)++;
    }
    return 0;
}

int
run_check(struct ctx *c)
{
    char err[256], safe[1100];
    uint64_t present = 0;
    int rc, i, known = c->r.geo.version_minor <= MSHM_VERSION_MINOR;
    uint32_t ng = 0, ns = 0, nc = 0, nf = 0;
    enum mshm_liveness lv;
    char num[16];

    safe_text(safe, sizeof(safe), c->path, SIZE_MAX);
    rc = load_state(c);
    if (rc != MSHM_OK && rc != MSHM_ERR_CORRUPT) {
        errmsg("%s: %s", safe, c->invalid);
        return EX_SYS;
    }
    if (rc != MSHM_OK || !c->valid) {
        errmsg("%s: state copy %u (generation %" PRIu64 ") fails validation: %s", safe,
               (unsigned)(c->st.latch & 1), c->st.latch, c->invalid);
        return EX_CORRUPT;
    }
    if (known && check_enums(c, err, sizeof(err)) != 0) {
        errmsg("%s: state copy %u (generation %" PRIu64 ") fails validation: %s", safe,
               (unsigned)(c->st.latch & 1), c->st.latch, err);
        return EX_CORRUPT;
    }
    /* the writer may be appending: a failure must persist to count */
    for (i = 0; i < 5; i++) {
        if (check_ring_once(&c->r, known, &present, err, sizeof(err)) == 0) {
            break;
        }
        sleep_ms(20);
    }
    if (i == 5) {
        errmsg("%s: event ring fails validation: %s", safe, err);
        return EX_CORRUPT;
    }
    for (uint32_t k = 0; k < c->st.hdr.n_groups; k++) {
        ng += group_ok(c, k);
    }
    for (uint32_t k = 0; k < c->st.hdr.n_servers; k++) {
        ns += server_ok(c, k);
    }
    for (uint32_t k = 0; k < c->st.hdr.n_clusters; k++) {
        if (cluster_ok(c, k)) {
            nc += c->st.clusters[k].kind == MSHM_KIND_CLUSTER;
            nf += c->st.clusters[k].kind == MSHM_KIND_FARM;
        }
    }
    lv = mshm_liveness(&c->r, mshm_now_ns());
    printf("OK %s: layout %u.%u, generation %" PRIu64 ", %" PRIu32 " groups, %" PRIu32
           " servers, %" PRIu32 " clusters, %" PRIu32 " farms, %" PRIu64
           " events in the ring (%" PRIu32 " slots), controller %s\n",
           safe, c->r.geo.version_major, c->r.geo.version_minor, c->st.latch, ng, ns, nc, nf,
           present, c->r.geo.ring_cap, ENAME(liveness_names, lv, num));
    return EX_OK;
}
