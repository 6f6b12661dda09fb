/*
 * mshm_write_rec.c -- record encoding of the writer: its private model of
 * every record and the mshm_w_put_*() / mshm_w_del_*() / mshm_w_<kind>()
 * entry points of mshm_write.h.
 *
 * A put compares the new record with the model and stages it only when it
 * changed: the writer, not the caller, assigns change_seq (+1 once per
 * commit), gen (+1 when IN_USE flips), the change_seq bump of the groups a
 * server leaves or joins, and the high-water counts of the slot header.  The
 * state checksum (state_sum) is kept as the sum of every in-use record's
 * contribution, updated for the staged records just before a publish.
 * Nothing here touches the mapping: mshm_write.c copies the staged records
 * out through the latch (mshm_write_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include "mshm_write_int.h"

/* ---- private model ------------------------------------------------------ */

void
mshm_wr_model_free(struct mshm_writer *w)
{
    int k;

    for (k = 0; k < K_NKINDS; k++) {
        free(w->a[k].recs);
        free(w->a[k].contrib);
        free(w->a[k].dirty);
        free(w->a[k].dirty_list);
        memset(&w->a[k], 0, sizeof(w->a[k]));
    }
    free(w->evq);
    w->evq = NULL;
}

int
mshm_wr_model_alloc(struct mshm_writer *w)
{
    static const unsigned sums[K_NKINDS] = {MSHM_SUM_GROUP, MSHM_SUM_SERVER,
                                            MSHM_SUM_CLUSTER, MSHM_SUM_LONGNAME,
                                            MSHM_SUM_SLOTMAP};
    const struct mshm_geo *g = &w->geo;
    uint32_t caps[K_NKINDS] = {g->group_cap, g->server_cap, g->cluster_cap, g->longname_cap,
                               g->slotmap_cap};
    uint32_t sizes[K_NKINDS] = {g->group_stride, g->server_stride, g->cluster_stride,
                                g->longname_stride, g->slotmap_stride};
    uint32_t offs[K_NKINDS] = {g->group_off, g->server_off, g->cluster_off, g->longname_off,
                               g->slotmap_off};
    int k;

    for (k = 0; k < K_NKINDS; k++) {
        size_t n = caps[k] ? caps[k] : 1;
        struct model_array *m = &w->a[k];

        m->cap = caps[k];
        m->size = sizes[k];
        m->off = offs[k];
        m->sum_kind = sums[k];
        m->recs = calloc(n, sizes[k]);
        m->contrib = calloc(n, sizeof(uint64_t));
        m->dirty = calloc(n, 1);
        m->dirty_list = calloc(n, sizeof(uint32_t));
        if (m->recs == NULL || m->contrib == NULL || m->dirty == NULL ||
            m->dirty_list == NULL) {
            mshm_wr_model_free(w);
            return MSHM_ERR_NOMEM;
        }
    }
    return MSHM_OK;
}

static void
mark_dirty(struct model_array *m, uint32_t idx)
{
    if (!m->dirty[idx]) {
        m->dirty[idx] = 1;
        m->dirty_list[m->n_dirty++] = idx;
    }
}

static uint32_t *
highwater(struct mshm_writer *w, int k)
{
    switch (k) {
    case K_GROUP:
        return &w->sh.n_groups;
    case K_SERVER:
        return &w->sh.n_servers;
    case K_CLUSTER:
        return &w->sh.n_clusters;
    case K_SLOTMAP:
        return &w->sh.n_slotmaps;
    default:
        return &w->sh.n_longnames;
    }
}

/* Is a record in use (counted in state_sum)? */
static int
in_use(struct mshm_writer *w, int k, uint32_t idx)
{
    struct model_array *m = &w->a[k];

    switch (k) {
    case K_GROUP:
        return (((struct mshm_group *)mshm_wr_rec_at(m, idx))->flags & MSHM_GF_IN_USE) != 0;
    case K_SERVER:
        return (((struct mshm_server *)mshm_wr_rec_at(m, idx))->flags & MSHM_SF_IN_USE) != 0;
    case K_CLUSTER:
        return (((struct mshm_cluster *)mshm_wr_rec_at(m, idx))->flags & MSHM_CF_IN_USE) != 0;
    case K_SLOTMAP:
        return (((struct mshm_slotmap *)mshm_wr_rec_at(m, idx))->flags & MSHM_SMF_IN_USE) != 0;
    default:
        return idx < w->sh.n_longnames;
    }
}

/* Recompute the share of state_sum of every record of every kind. */
static void
model_resum(struct mshm_writer *w)
{
    uint32_t i, n;
    int k;

    w->sh.state_sum = 0;
    for (k = 0; k < K_NKINDS; k++) {
        struct model_array *m = &w->a[k];

        n = *highwater(w, k);
        for (i = 0; i < m->cap; i++) {
            m->contrib[i] = 0;
            if (i < n && in_use(w, k, i)) {
                m->contrib[i] = mshm_record_sum(m->sum_kind, i, mshm_wr_rec_at(m, i), m->size);
                w->sh.state_sum += m->contrib[i];
            }
        }
    }
}

/*
 * Stage rec at idx of kind k.  change_seq/gen live at different offsets per
 * kind, so the callers pass pointers into the staged copy.
 */
static void
stage(struct mshm_writer *w, int k, uint32_t idx)
{
    uint32_t *hw = highwater(w, k);

    mark_dirty(&w->a[k], idx);
    if (idx >= *hw) {
        *hw = idx + 1;
    }
}

/* ---- puts --------------------------------------------------------------- */

static void
bump_group(struct mshm_writer *w, uint32_t gi)
{
    struct model_array *m = &w->a[K_GROUP];
    struct mshm_group *g;

    if (gi >= m->cap) {
        return;
    }
    g = mshm_wr_rec_at(m, gi);
    if ((g->flags & MSHM_GF_IN_USE) == 0) {
        return;
    }
    if (!m->dirty[gi]) {
        g->change_seq++;
    }
    stage(w, K_GROUP, gi);
}

int
mshm_w_put_group(struct mshm_writer *w, uint32_t idx, const struct mshm_group *rec)
{
    struct model_array *m = &w->a[K_GROUP];
    struct mshm_group *cur, next;

    if (idx >= m->cap) {
        return MSHM_ERR_RANGE;
    }
    cur = mshm_wr_rec_at(m, idx);
    next = *rec;
    next.name[MSHM_NAME_MAX - 1] = '\0';
    next.change_seq = cur->change_seq;
    next.gen = cur->gen + (((cur->flags ^ next.flags) & MSHM_GF_IN_USE) ? 1 : 0);
    if (memcmp(cur, &next, sizeof(next)) == 0) {
        return MSHM_OK;               /* no change: nothing to publish */
    }
    if (!m->dirty[idx]) {
        next.change_seq++;
    }
    *cur = next;
    stage(w, K_GROUP, idx);
    return MSHM_OK;
}

int
mshm_w_put_server(struct mshm_writer *w, uint32_t idx, const struct mshm_server *rec)
{
    struct model_array *m = &w->a[K_SERVER];
    struct mshm_server *cur, next;
    uint32_t old_group;

    if (idx >= m->cap) {
        return MSHM_ERR_RANGE;
    }
    cur = mshm_wr_rec_at(m, idx);
    next = *rec;
    next.host[MSHM_HOST_INLINE - 1] = '\0';
    next.change_seq = cur->change_seq;
    next.gen = cur->gen + (((cur->flags ^ next.flags) & MSHM_SF_IN_USE) ? 1 : 0);
    if (memcmp(cur, &next, sizeof(next)) == 0) {
        return MSHM_OK;               /* no change: nothing to publish */
    }
    if (!m->dirty[idx]) {
        next.change_seq++;
    }
    /* a record not in use belongs to no group: don't bump group_idx 0 of a blank */
    old_group = (cur->flags & MSHM_SF_IN_USE) ? cur->group_idx : MSHM_NONE;
    *cur = next;
    stage(w, K_SERVER, idx);
    bump_group(w, next.group_idx);
    if (old_group != next.group_idx) {
        bump_group(w, old_group);
    }
    return MSHM_OK;
}

int
mshm_w_put_cluster(struct mshm_writer *w, uint32_t idx, const struct mshm_cluster *rec)
{
    struct model_array *m = &w->a[K_CLUSTER];
    struct mshm_cluster *cur, next;

    if (idx >= m->cap) {
        return MSHM_ERR_RANGE;
    }
    cur = mshm_wr_rec_at(m, idx);
    next = *rec;
    next.name[MSHM_NAME_MAX - 1] = '\0';
    next.change_seq = cur->change_seq;
    next.gen = cur->gen + (((cur->flags ^ next.flags) & MSHM_CF_IN_USE) ? 1 : 0);
    if (memcmp(cur, &next, sizeof(next)) == 0) {
        return MSHM_OK;
    }
    if (!m->dirty[idx]) {
        next.change_seq++;
    }
    *cur = next;
    stage(w, K_CLUSTER, idx);
    return MSHM_OK;
}

int
mshm_w_put_slotmap(struct mshm_writer *w, uint32_t idx, const struct mshm_slotmap *rec)
{
    struct model_array *m = &w->a[K_SLOTMAP];
    struct mshm_slotmap *cur;
    uint64_t seq;
    uint32_t gen;

    if (idx >= m->cap) {
        return MSHM_ERR_RANGE;
    }
    cur = mshm_wr_rec_at(m, idx);
    gen = cur->gen + (((cur->flags ^ rec->flags) & MSHM_SMF_IN_USE) ? 1 : 0);
    if (gen == cur->gen && cur->flags == rec->flags && cur->cluster_idx == rec->cluster_idx &&
        memcmp(cur->member, rec->member, sizeof(cur->member)) == 0) {
        return MSHM_OK;               /* no change: nothing to publish */
    }
    seq = cur->change_seq + (m->dirty[idx] ? 0 : 1);
    memcpy(cur, rec, sizeof(*cur));
    memset(cur->pad, 0, sizeof(cur->pad));
    cur->pad0 = 0;
    cur->change_seq = seq;
    cur->gen = gen;
    stage(w, K_SLOTMAP, idx);
    return MSHM_OK;
}

int
mshm_w_del_slotmap(struct mshm_writer *w, uint32_t idx)
{
    struct model_array *m = &w->a[K_SLOTMAP];
    struct mshm_slotmap *cur;

    if (idx >= m->cap) {
        return MSHM_ERR_RANGE;
    }
    cur = mshm_wr_rec_at(m, idx);
    if ((cur->flags & MSHM_SMF_IN_USE) == 0) {
        return MSHM_OK;
    }
    cur->flags &= ~MSHM_SMF_IN_USE;
    cur->gen++;
    if (!m->dirty[idx]) {
        cur->change_seq++;
    }
    stage(w, K_SLOTMAP, idx);
    return MSHM_OK;
}

const struct mshm_slotmap *
mshm_w_slotmap(const struct mshm_writer *w, uint32_t idx)
{
    return idx < w->a[K_SLOTMAP].cap
               ? mshm_wr_rec_at((struct model_array *)&w->a[K_SLOTMAP], idx)
               : NULL;
}

int
mshm_w_put_longname(struct mshm_writer *w, uint32_t idx, const char *host)
{
    struct model_array *m = &w->a[K_LONGNAME];
    struct mshm_longname next;
    uint32_t i;

    if (idx >= m->cap || strlen(host) >= MSHM_HOST_MAX) {
        return MSHM_ERR_RANGE;
    }
    memset(&next, 0, sizeof(next));
    memcpy(next.host, host, strlen(host));
    if (idx < w->sh.n_longnames && memcmp(mshm_wr_rec_at(m, idx), &next, sizeof(next)) == 0) {
        return MSHM_OK;
    }
    /* records below a new high-water mark start counting in state_sum */
    for (i = w->sh.n_longnames; i < idx; i++) {
        stage(w, K_LONGNAME, i);
    }
    memcpy(mshm_wr_rec_at(m, idx), &next, sizeof(next));
    stage(w, K_LONGNAME, idx);
    return MSHM_OK;
}

int
mshm_w_del_group(struct mshm_writer *w, uint32_t idx)
{
    struct mshm_group g;

    if (idx >= w->a[K_GROUP].cap) {
        return MSHM_ERR_RANGE;
    }
    g = *(struct mshm_group *)mshm_wr_rec_at(&w->a[K_GROUP], idx);
    g.flags &= ~MSHM_GF_IN_USE;
    return mshm_w_put_group(w, idx, &g);
}

int
mshm_w_del_server(struct mshm_writer *w, uint32_t idx)
{
    struct mshm_server s;

    if (idx >= w->a[K_SERVER].cap) {
        return MSHM_ERR_RANGE;
    }
    s = *(struct mshm_server *)mshm_wr_rec_at(&w->a[K_SERVER], idx);
    s.flags &= ~MSHM_SF_IN_USE;
    return mshm_w_put_server(w, idx, &s);
}

int
mshm_w_del_cluster(struct mshm_writer *w, uint32_t idx)
{
    struct mshm_cluster c;

    if (idx >= w->a[K_CLUSTER].cap) {
        return MSHM_ERR_RANGE;
    }
    c = *(struct mshm_cluster *)mshm_wr_rec_at(&w->a[K_CLUSTER], idx);
    c.flags &= ~MSHM_CF_IN_USE;
    return mshm_w_put_cluster(w, idx, &c);
}

const struct mshm_group *
mshm_w_group(const struct mshm_writer *w, uint32_t idx)
{
    return idx < w->a[K_GROUP].cap ? mshm_wr_rec_at((struct model_array *)&w->a[K_GROUP], idx)
                                   : NULL;
}

const struct mshm_server *
mshm_w_server(const struct mshm_writer *w, uint32_t idx)
{
    return idx < w->a[K_SERVER].cap ? mshm_wr_rec_at((struct model_array *)&w->a[K_SERVER], idx)
                                    : NULL;
}

const struct mshm_cluster *
mshm_w_cluster(const struct mshm_writer *w, uint32_t idx)
{
    return idx < w->a[K_CLUSTER].cap
               ? mshm_wr_rec_at((struct model_array *)&w->a[K_CLUSTER], idx)
               : NULL;
}

const char *
mshm_w_longname(const struct mshm_writer *w, uint32_t idx)
{
    return idx < w->a[K_LONGNAME].cap
               ? mshm_wr_rec_at((struct model_array *)&w->a[K_LONGNAME], idx)
               : NULL;
}

/* ---- the model as the publish protocol sees it ---------------------------- */

void
mshm_wr_model_load(struct mshm_writer *w, const struct mshm_state *st)
{
    uint32_t i;

    w->sh = st->hdr;
    for (i = 0; i < st->hdr.n_groups; i++) {
        memcpy(mshm_wr_rec_at(&w->a[K_GROUP], i), &st->groups[i], sizeof(st->groups[i]));
    }
    for (i = 0; i < st->hdr.n_servers; i++) {
        memcpy(mshm_wr_rec_at(&w->a[K_SERVER], i), &st->servers[i], sizeof(st->servers[i]));
    }
    for (i = 0; i < st->hdr.n_clusters; i++) {
        memcpy(mshm_wr_rec_at(&w->a[K_CLUSTER], i), &st->clusters[i], sizeof(st->clusters[i]));
    }
    for (i = 0; i < st->hdr.n_longnames; i++) {
        memcpy(mshm_wr_rec_at(&w->a[K_LONGNAME], i), &st->longnames[i],
               sizeof(st->longnames[i]));
    }
    for (i = 0; i < st->hdr.n_slotmaps; i++) {
        memcpy(mshm_wr_rec_at(&w->a[K_SLOTMAP], i), &st->slotmaps[i], sizeof(st->slotmaps[i]));
    }
    model_resum(w);
}

uint32_t
mshm_wr_n_dirty(const struct mshm_writer *w)
{
    uint32_t n = 0;
    int k;

    for (k = 0; k < K_NKINDS; k++) {
        n += w->a[k].n_dirty;
    }
    return n;
}

void
mshm_wr_sum_dirty(struct mshm_writer *w)
{
    uint32_t i;
    int k;

    /* update the integrity sum for the staged records */
    for (k = 0; k < K_NKINDS; k++) {
        struct model_array *m = &w->a[k];

        for (i = 0; i < m->n_dirty; i++) {
            uint32_t idx = m->dirty_list[i];
            uint64_t c = in_use(w, k, idx)
                             ? mshm_record_sum(m->sum_kind, idx, mshm_wr_rec_at(m, idx), m->size)
                             : 0;

            w->sh.state_sum += c - m->contrib[idx];
            m->contrib[idx] = c;
        }
    }
}

void
mshm_wr_clear_dirty(struct mshm_writer *w)
{
    uint32_t i;
    int k;

    for (k = 0; k < K_NKINDS; k++) {
        struct model_array *m = &w->a[k];

        for (i = 0; i < m->n_dirty; i++) {
            m->dirty[m->dirty_list[i]] = 0;
        }
        m->n_dirty = 0;
    }
}
