/*
 * test_reader.c -- the reader side: snapshots, whole-state reads, the event
 * ring cursor, futex waits, liveness, replace/reattach, and a writer killed
 * in the middle of a publish.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <time.h>

#include "test_util.h"

static int
setup(void **state)
{
    return tu_setup_module(state, "reader");
}

/* ---- snapshots ---------------------------------------------------------- */

static void
test_snap_group(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_group_snap gs;

    tu_populate(w);
    tu_attach(&r, c->path);
    assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_OK);
    assert_int_equal(gs.latch, mshm_generation(&r));
    assert_int_equal(gs.latch, mshm_w_latch(w));
    assert_string_equal(gs.group.name, "g0");
    assert_int_equal(gs.group.master_idx, 0);
    assert_int_equal(gs.group.n_servers, 3);
    assert_true(gs.group.flags & MSHM_GF_IN_USE);
    assert_int_equal(gs.servers[0].role, MSHM_ROLE_MASTER);
    assert_string_equal(gs.servers[0].host, "10.0.0.1");
    assert_int_equal(gs.servers[0].port, 6379);
    assert_int_equal(gs.servers[1].role, MSHM_ROLE_REPLICA);
    assert_string_equal(gs.servers[1].host, "10.0.0.2");
    assert_int_equal(gs.servers[2].role, MSHM_ROLE_REPLICA);
    assert_string_equal(gs.servers[2].host, "10.0.0.3");
    assert_true(gs.servers[2].flags & MSHM_SF_READABLE);
    assert_int_equal(gs.servers[2].group_idx, 0);

    assert_int_equal(mshm_snap_group(&r, 1, &gs), MSHM_OK);
    assert_int_equal(gs.group.master_idx, 3);
    assert_int_equal(gs.group.n_servers, 2);
    assert_int_equal(gs.servers[0].port, 6380);
    assert_int_equal(gs.servers[1].role, MSHM_ROLE_REPLICA);

    /* the long-named master: the inline host is empty, the flag says where */
    assert_int_equal(mshm_snap_group(&r, 2, &gs), MSHM_OK);
    assert_int_equal(gs.group.n_servers, 1);
    assert_string_equal(gs.servers[0].host, "");
    assert_true(gs.servers[0].flags & MSHM_SF_HOST_LONG);

    assert_int_equal(mshm_snap_group(&r, 3, &gs), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_group(&r, 8, &gs), MSHM_ERR_RANGE);
    assert_int_equal(mshm_snap_group(&r, UINT32_MAX, &gs), MSHM_ERR_RANGE);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_snap_server(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_server s;
    char host[MSHM_HOST_MAX], lh[MSHM_HOST_MAX];

    tu_populate(w);
    tu_attach(&r, c->path);
    assert_int_equal(mshm_snap_server(&r, 3, &s, host), MSHM_OK);
    assert_string_equal(host, "10.0.1.1");
    assert_string_equal(s.host, "10.0.1.1");
    assert_int_equal(s.port, 6380);
    assert_int_equal(s.group_idx, 1);
    assert_int_equal(s.role, MSHM_ROLE_MASTER);
    assert_int_equal(s.health, MSHM_HEALTH_UP);
    assert_int_equal(mshm_snap_server(&r, 4, &s, NULL), MSHM_OK);
    assert_int_equal(s.role, MSHM_ROLE_REPLICA);

    tu_long_host(lh, 255);
    assert_int_equal(mshm_snap_server(&r, 5, &s, host), MSHM_OK);
    assert_string_equal(host, lh);

    assert_int_equal(mshm_snap_server(&r, 6, &s, host), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_server(&r, 32, &s, host), MSHM_ERR_RANGE);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_snap_cluster_and_farm(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_cluster cl;

    tu_populate(w);
    tu_attach(&r, c->path);
    assert_int_equal(mshm_snap_cluster(&r, 0, &cl), MSHM_OK);
    assert_string_equal(cl.name, "c0");
    assert_int_equal(cl.kind, MSHM_KIND_CLUSTER);
    assert_int_equal(cl.rule, MSHM_RULE_MARSHAL0);
    assert_int_equal(cl.n_members, 2);
    assert_int_equal(cl.members[0].idx, 0);
    assert_int_equal(cl.members[1].idx, 1);
    assert_int_equal(cl.primary, MSHM_NONE);

    assert_int_equal(mshm_snap_cluster(&r, 2, &cl), MSHM_OK);
    assert_string_equal(cl.name, "f0");
    assert_int_equal(cl.kind, MSHM_KIND_FARM);
    assert_int_equal(cl.rule, MSHM_RULE_MARSHAL10);
    assert_int_equal(cl.n_members, 2);
    assert_int_equal(cl.members[0].idx, 0);
    assert_int_equal(cl.members[1].idx, 1);

    assert_int_equal(mshm_snap_cluster(&r, 3, &cl), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_cluster(&r, 4, &cl), MSHM_ERR_RANGE);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_find(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    char name[80];
    uint32_t idx;

    tu_populate(w);
    tu_attach(&r, c->path);
    assert_int_equal(mshm_find_group(&r, "g0", &idx), MSHM_OK);
    assert_int_equal(idx, 0);
    assert_int_equal(mshm_find_group(&r, "g2", &idx), MSHM_OK);
    assert_int_equal(idx, 2);
    assert_int_equal(mshm_find_cluster(&r, "c1", &idx), MSHM_OK);
    assert_int_equal(idx, 1);
    assert_int_equal(mshm_find_cluster(&r, "f0", &idx), MSHM_OK);
    assert_int_equal(idx, 2);
    idx = 77;
    assert_int_equal(mshm_find_group(&r, "nope", &idx), MSHM_ERR_NOTFOUND);
    assert_int_equal(idx, 77);      /* untouched on failure */
    assert_int_equal(mshm_find_group(&r, "c0", &idx), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_find_cluster(&r, "g0", &idx), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_find_group(&r, "", &idx), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_find_group(&r, "g", &idx), MSHM_ERR_NOTFOUND);   /* no prefix match */
    assert_int_equal(mshm_find_group(&r, "g00", &idx), MSHM_ERR_NOTFOUND);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(mshm_find_group(&r, name, &idx), MSHM_ERR_NOTFOUND);
    name[MSHM_NAME_MAX - 1] = '\0';      /* 63 chars: the longest legal name */
    assert_int_equal(mshm_find_group(&r, name, &idx), MSHM_ERR_NOTFOUND);

    /* a 63-char name is found; a deleted group is not */
    {
        struct mshm_group g = tu_group(name, MSHM_NONE, 0, NULL);

        assert_int_equal(mshm_w_put_group(w, 6, &g), MSHM_OK);
        assert_int_equal(mshm_w_del_group(w, 1), MSHM_OK);
        mshm_w_commit(w);
    }
    assert_int_equal(mshm_find_group(&r, name, &idx), MSHM_OK);
    assert_int_equal(idx, 6);
    assert_int_equal(mshm_find_group(&r, "g1", &idx), MSHM_ERR_NOTFOUND);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_read_state(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_state st;
    char lh[MSHM_HOST_MAX];
    uint32_t i;

    tu_populate(w);
    tu_attach(&r, c->path);
    tu_read_checked(&r, &st);
    assert_int_equal(st.latch, mshm_generation(&r));
    assert_int_equal(st.hdr.n_groups, 3);
    assert_int_equal(st.hdr.n_servers, 6);
    assert_int_equal(st.hdr.n_clusters, 3);
    assert_int_equal(st.hdr.n_longnames, 1);
    assert_int_equal(st.hdr.pub_seq, 1);
    assert_true(st.hdr.state_sum != 0);
    assert_int_equal(st.group_cap, 8);
    assert_int_equal(st.server_cap, 32);
    for (i = 0; i < 3; i++) {
        assert_memory_equal(&st.groups[i], mshm_w_group(w, i), sizeof(struct mshm_group));
        assert_memory_equal(&st.clusters[i], mshm_w_cluster(w, i),
                            sizeof(struct mshm_cluster));
    }
    for (i = 0; i < 6; i++) {
        assert_memory_equal(&st.servers[i], mshm_w_server(w, i), sizeof(struct mshm_server));
    }
    tu_long_host(lh, 255);
    assert_string_equal(mshm_state_host(&st, &st.servers[5]), lh);
    assert_string_equal(mshm_state_host(&st, &st.servers[1]), "10.0.0.2");
    mshm_state_free(&st);
    assert_null(st.groups);
    mshm_state_free(&st);       /* idempotent */

    /* deletions keep the state consistent */
    assert_int_equal(mshm_w_del_cluster(w, 2), MSHM_OK);
    assert_int_equal(mshm_w_del_server(w, 4), MSHM_OK);
    {
        static const uint32_t g1s[] = {3};
        struct mshm_group g = tu_group("g1", 3, 1, g1s);

        assert_int_equal(mshm_w_put_group(w, 1, &g), MSHM_OK);
    }
    mshm_w_commit(w);
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.n_servers, 6);     /* high-water mark stays */
    assert_false(st.servers[4].flags & MSHM_SF_IN_USE);
    mshm_state_free(&st);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

/* ---- events ------------------------------------------------------------- */

static void
emit(struct mshm_writer *w, uint16_t type, uint32_t gi)
{
    struct mshm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.group_idx = gi;
    ev.server_idx = MSHM_NONE;
    ev.old_idx = MSHM_NONE;
    ev.new_idx = MSHM_NONE;
    ev.cluster_idx = MSHM_NONE;
    ev.epoch = gi * 10u;
    assert_int_equal(mshm_w_emit(w, &ev), MSHM_OK);
}

static void
test_events_in_order(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_event ev;
    struct mshm_state st;
    uint64_t lost = 0;
    uint32_t i;

    tu_attach(&r, c->path);
    assert_int_equal(mshm_next_event(&r, &ev, &lost), 0);
    /* events ride along a publish; the ring starts at seq 1 */
    tu_populate(w);
    emit(w, MSHM_EV_GROUP_ADDED, 0);
    emit(w, MSHM_EV_GROUP_ADDED, 1);
    emit(w, MSHM_EV_MASTER_SWITCH, 2);
    {
        struct mshm_group g = *mshm_w_group(w, 2);

        g.master_epoch = 5;
        assert_int_equal(mshm_w_put_group(w, 2, &g), MSHM_OK);
    }
    assert_int_equal(mshm_w_commit(w), 1);
    tu_read_checked(&r, &st);
    for (i = 0; i < 3; i++) {
        memset(&ev, 0, sizeof(ev));
        assert_int_equal(mshm_next_event(&r, &ev, &lost), 1);
        assert_int_equal(ev.seq, i + 1);
        assert_int_equal(ev.group_idx, i);
        assert_int_equal(ev.epoch, i * 10u);
        assert_int_equal(ev.server_idx, MSHM_NONE);
        /* the state that reflects the event is already published */
        assert_int_equal(ev.pub_seq, st.hdr.pub_seq);
    }
    assert_int_equal(ev.type, MSHM_EV_MASTER_SWITCH);
    mshm_state_free(&st);
    assert_int_equal(mshm_next_event(&r, &ev, &lost), 0);
    assert_int_equal(mshm_next_event(&r, &ev, &lost), 0);

    emit(w, MSHM_EV_SLAVE_DOWN, 4);
    emit(w, MSHM_EV_SLAVE_UP, 5);
    assert_int_equal(mshm_w_commit(w), 0);
    assert_int_equal(mshm_next_event(&r, &ev, NULL), 1);
    assert_int_equal(ev.seq, 4);
    assert_int_equal(ev.type, MSHM_EV_SLAVE_DOWN);
    assert_int_equal(mshm_next_event(&r, &ev, NULL), 1);
    assert_int_equal(ev.seq, 5);
    assert_int_equal(mshm_next_event(&r, &ev, NULL), 0);

    /* a reader attached now starts at the head: no history replay */
    {
        struct mshm_reader r2;

        tu_attach(&r2, c->path);
        assert_int_equal(r2.ev_next, 6);
        assert_int_equal(mshm_next_event(&r2, &ev, NULL), 0);
        mshm_detach(&r2);
    }
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_events_overrun(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w;
    struct mshm_reader r;
    struct mshm_event ev;
    uint64_t lost = 0, want;
    uint32_t i;

    o.ring_cap = 8;
    w = tu_open_opts(&o, MSHM_CREATED);
    tu_attach(&r, c->path);
    assert_int_equal(r.geo.ring_cap, 8);
    for (i = 1; i <= 20; i++) {
        emit(w, MSHM_EV_CONFIG_RELOAD, i);
        if (i % 3 == 0) {
            mshm_w_commit(w);   /* over several commits */
        }
    }
    mshm_w_commit(w);
    assert_int_equal(mshm_ld(&mshm_hdr(&r)->ev_head), 21);

    /* 20 events in a ring of 8: events 1..12 are gone */
    assert_int_equal(mshm_next_event(&r, &ev, &lost), MSHM_ERR_LOST);
    assert_int_equal(lost, 12);
    for (want = 13; want <= 20; want++) {
        assert_int_equal(mshm_next_event(&r, &ev, &lost), 1);
        assert_int_equal(ev.seq, want);
        assert_int_equal(ev.group_idx, (uint32_t)want);  /* payload matches its seq */
    }
    assert_int_equal(mshm_next_event(&r, &ev, &lost), 0);

    /* seek: clamped to [oldest, head] */
    mshm_events_seek(&r, 0);
    assert_int_equal(r.ev_next, 13);
    assert_int_equal(mshm_next_event(&r, &ev, NULL), 1);
    assert_int_equal(ev.seq, 13);
    mshm_events_seek(&r, 17);
    assert_int_equal(mshm_next_event(&r, &ev, NULL), 1);
    assert_int_equal(ev.seq, 17);
    mshm_events_seek(&r, 1000);
    assert_int_equal(r.ev_next, 21);
    assert_int_equal(mshm_next_event(&r, &ev, NULL), 0);

    /* lapped again mid-way (NULL lost pointer allowed) */
    mshm_events_seek(&r, 14);
    for (i = 0; i < 10; i++) {
        emit(w, MSHM_EV_CONFIG_RELOAD, 100 + i);
    }
    mshm_w_commit(w);            /* head 31, oldest 23 */
    assert_int_equal(mshm_next_event(&r, &ev, NULL), MSHM_ERR_LOST);
    assert_int_equal(r.ev_next, 23);
    assert_int_equal(mshm_next_event(&r, &ev, &lost), 1);
    assert_int_equal(ev.seq, 23);
    assert_int_equal(ev.group_idx, 102);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

/* ---- waits -------------------------------------------------------------- */

static void
test_wait_timeout(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    uint32_t seen, before;
    uint64_t t0, dt;

    tu_attach(&r, c->path);
    seen = mshm_ld(&mshm_hdr(&r)->notify);
    before = seen;
    assert_int_equal(mshm_wait(&r, &seen, 0), 0);
    t0 = mshm_now_ns();
    assert_int_equal(mshm_wait(&r, &seen, 20), 0);
    dt = mshm_now_ns() - t0;
    assert_true(dt >= 19000000ull);
    assert_true(dt < 2000000000ull);
    assert_int_equal(seen, before);

    /* something already happened: no blocking at all */
    tu_populate(w);
    t0 = mshm_now_ns();
    assert_int_equal(mshm_wait(&r, &seen, 5000), 1);
    assert_true(mshm_now_ns() - t0 < 1000000000ull);
    assert_int_equal(seen, mshm_ld(&mshm_hdr(&r)->notify));
    assert_true(seen != before);
    assert_int_equal(mshm_wait(&r, &seen, 0), 0);
    /* no limit (-1) still returns at once when the word already moved */
    seen = before;
    assert_int_equal(mshm_wait(&r, &seen, -1), 1);
    assert_int_equal(seen, mshm_ld(&mshm_hdr(&r)->notify));
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_wait_wakeup_from_child(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    uint64_t gen0, t0;
    uint32_t seen;
    pid_t pid;
    int rc;

    tu_populate(w);
    tu_attach(&r, c->path);
    gen0 = mshm_generation(&r);
    seen = mshm_ld(&mshm_hdr(&r)->notify);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child shares the writer's MAP_SHARED mapping and its lock */
        struct timespec ts = {0, 30 * 1000000L};
        struct mshm_group g = *mshm_w_group(w, 0);

        nanosleep(&ts, NULL);   /* let the parent block; correctness doesn't depend on it */
        g.power = 42;
        mshm_w_put_group(w, 0, &g);
        _exit(mshm_w_commit(w) == 1 ? 0 : 1);
    }
    t0 = mshm_now_ns();
    rc = mshm_wait(&r, &seen, 5000);
    assert_int_equal(rc, 1);
    assert_true(mshm_now_ns() - t0 < 5000000000ull);
    assert_int_equal(tu_wait_child(pid), 0);
    /* the wakeup comes after the publish */
    assert_int_equal(mshm_generation(&r), gen0 + 2);
    {
        struct mshm_group_snap gs;

        assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_OK);
        assert_int_equal(gs.group.power, 42);
    }
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

/* ---- liveness ----------------------------------------------------------- */

#define MS(x) ((uint64_t)(x) * 1000000ull)

static void
test_liveness(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w;
    struct mshm_reader r, r2;
    uint64_t now, hb_mono;

    o.stale_after_ms = 500;
    w = tu_open_opts(&o, MSHM_CREATED);
    tu_attach(&r, c->path);
    mshm_w_heartbeat(w);
    /* the reader's clock is a parameter: no sleeping.  Time 0 is the
     * writer's last heartbeat (same boot, same CLOCK_MONOTONIC). */
    now = mshm_ld(&mshm_hdr(&r)->hb_mono_ns);
    assert_true(now > 0 && now <= mshm_now_ns());
    assert_int_equal(mshm_liveness(&r, now), MSHM_LIVE);
    assert_int_equal(mshm_liveness(&r, now + MS(400)), MSHM_LIVE);
    assert_int_equal(mshm_liveness(&r, now + MS(600)), MSHM_STALE);
    assert_int_equal(mshm_liveness(&r, now + MS(5000)), MSHM_STALE);
    /* a heartbeat revives it, timed from when the reader saw it move */
    mshm_w_heartbeat(w);
    assert_int_equal(mshm_liveness(&r, now + MS(6000)), MSHM_LIVE);
    assert_int_equal(mshm_liveness(&r, now + MS(6400)), MSHM_LIVE);
    assert_int_equal(mshm_liveness(&r, now + MS(6600)), MSHM_STALE);
    /* publishing is not a heartbeat */
    tu_populate(w);
    assert_int_equal(mshm_liveness(&r, now + MS(6700)), MSHM_STALE);
    mshm_w_heartbeat(w);
    assert_int_equal(mshm_liveness(&r, now + MS(6800)), MSHM_LIVE);

    /* a fresh reader judges the first look by the writer's heartbeat clock */
    tu_attach(&r2, c->path);
    hb_mono = mshm_ld(&mshm_hdr(&r2)->hb_mono_ns);
    assert_int_equal(mshm_liveness(&r2, hb_mono + MS(600)), MSHM_STALE);
    mshm_detach(&r2);
    tu_attach(&r2, c->path);
    assert_int_equal(mshm_liveness(&r2, hb_mono + MS(100)), MSHM_LIVE);
    mshm_detach(&r2);

    /* clean stop wins over staleness */
    mshm_writer_close(w, 1);
    assert_int_equal(mshm_liveness(&r, now + MS(6900)), MSHM_STOPPED);
    assert_int_equal(mshm_liveness(&r, now + MS(60000)), MSHM_STOPPED);

    /* adoption clears STOPPED */
    w = tu_open_opts(&o, MSHM_ADOPTED);
    assert_int_equal(mshm_liveness(&r, now + MS(60001)), MSHM_LIVE);
    mshm_writer_close(w, 0);

    /* replaced: RETIRED, whatever the heartbeat says */
    o.group_cap = 16;
    w = tu_open_opts(&o, MSHM_REPLACED);
    assert_int_equal(mshm_liveness(&r, now + MS(60002)), MSHM_RETIRED);
    mshm_detach(&r);
    tu_attach(&r, c->path);
    hb_mono = mshm_ld(&mshm_hdr(&r)->hb_mono_ns);
    assert_int_equal(mshm_liveness(&r, hb_mono), MSHM_LIVE);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

/* ---- replace / reattach ------------------------------------------------- */

static void
test_replaced_reattach(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_state st;
    struct mshm_group_snap gs;
    struct stat sb;
    const unsigned char *old_base;

    tu_populate(w);
    tu_attach(&r, c->path);
    assert_int_equal(mshm_replaced(&r), 0);
    mshm_writer_close(w, 0);
    assert_int_equal(mshm_replaced(&r), 0);     /* a restarting writer is no replace */

    o.server_cap = 64;
    w = tu_open_opts(&o, MSHM_REPLACED);
    assert_int_equal(mshm_replaced(&r), 1);
    /* the old mapping keeps serving the last state until reattach */
    assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_OK);
    assert_string_equal(gs.group.name, "g0");
    tu_populate(w);
    assert_int_equal(mshm_reattach(&r, 0), MSHM_OK);
    assert_int_equal(mshm_replaced(&r), 0);
    assert_int_equal(r.geo.server_cap, 64);
    assert_int_equal(stat(c->path, &sb), 0);
    assert_int_equal(r.ino, sb.st_ino);
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.n_groups, 3);
    mshm_state_free(&st);

    /* a failed reattach keeps the current mapping */
    old_base = r.base;
    assert_int_equal(rename(c->path, c->aux), 0);
    assert_int_equal(mshm_replaced(&r), 0);     /* missing path: not replaced */
    assert_int_equal(mshm_reattach(&r, 0), MSHM_ERR_NOENT);
    assert_ptr_equal(r.base, old_base);
    assert_true(r.errstr[0] != '\0');
    assert_int_equal(mshm_snap_group(&r, 1, &gs), MSHM_OK);
    /* another inode at the path: replaced even though not RETIRED */
    tu_write_file(c->path, r.base, r.map_len, 0640);
    assert_int_equal(mshm_replaced(&r), 1);
    assert_int_equal(mshm_reattach(&r, 0), MSHM_OK);
    assert_int_equal(mshm_replaced(&r), 0);
    mshm_detach(&r);
    assert_int_equal(mshm_replaced(&r), 1);     /* detached: nothing mapped */
    mshm_writer_close(w, 0);
}

/* ---- a writer killed in the middle of a publish ------------------------- */

/*
 * The child adopts, stages several records and commits with
 * test_kill_after = 1: it SIGKILLs itself after writing the first record
 * into the first copy, i.e. with the latch odd (readers on the old copy).
 */
static void
kill_mid_commit(const struct tu_ctx *c)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct mshm_writer_opts o = tu_opts(c->path);
        struct mshm_writer *w = NULL;
        struct mshm_group g;
        struct mshm_server s;
        int how = -1;

        o.test_kill_after = 1;
        if (mshm_writer_open(&o, &w, &how, NULL, 0) != MSHM_OK || how != MSHM_ADOPTED) {
            _exit(2);
        }
        g = *mshm_w_group(w, 0);
        g.power = 99;
        g.master_epoch = 99;
        mshm_w_put_group(w, 0, &g);
        g = *mshm_w_group(w, 1);
        g.power = 99;
        mshm_w_put_group(w, 1, &g);
        s = *mshm_w_server(w, 4);
        s.health = MSHM_HEALTH_DOWN;
        mshm_w_put_server(w, 4, &s);
        mshm_w_commit(w);
        _exit(3);       /* not reached: the hook kills us */
    }
    assert_int_equal(tu_wait_child(pid), 128 + SIGKILL);
}

static void
test_killed_writer_then_adopt(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_state st, s0, s1;
    struct mshm_group g;
    uint64_t latch0, pub0;
    int cur;

    tu_populate(w);
    latch0 = mshm_w_latch(w);
    mshm_writer_close(w, 0);
    tu_attach(&r, c->path);
    tu_read_checked(&r, &st);
    pub0 = st.hdr.pub_seq;
    mshm_state_free(&st);

    kill_mid_commit(c);
    /* the latch is left odd relative to the last publish ... */
    assert_int_equal(mshm_generation(&r), latch0 + 1);
    /* ... and readers get the previous state, complete and consistent */
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.pub_seq, pub0);
    assert_int_equal(st.groups[0].power, 1);
    assert_int_equal(st.groups[1].power, 1);
    assert_int_equal(st.servers[4].health, MSHM_HEALTH_UP);
    mshm_state_free(&st);
    /* the other copy is the torn one (self-check of this test) */
    cur = (int)(mshm_generation(&r) & 1);
    assert_int_equal(tu_read_copy(&r, !cur, &st), MSHM_OK);
    assert_int_equal(mshm_check_state(&st, NULL, 0), MSHM_ERR_CORRUPT);
    assert_int_equal(st.groups[0].power, 99);
    mshm_state_free(&st);

    /* a new writer adopts and repairs the torn copy before publishing */
    w = tu_open(c->path, MSHM_ADOPTED);
    assert_int_equal(mshm_w_group(w, 0)->power, 1);   /* the model is the old state */
    assert_int_equal(tu_read_copy(&r, 0, &s0), MSHM_OK);
    assert_int_equal(tu_read_copy(&r, 1, &s1), MSHM_OK);
    assert_int_equal(mshm_check_state(&s0, NULL, 0), MSHM_OK);
    assert_int_equal(mshm_check_state(&s1, NULL, 0), MSHM_OK);
    assert_memory_equal(&s0.hdr, &s1.hdr, sizeof(s0.hdr));
    assert_memory_equal(s0.groups, s1.groups, s0.hdr.n_groups * sizeof(struct mshm_group));
    mshm_state_free(&s0);
    mshm_state_free(&s1);

    /* one more publish: readers move through the repaired copy and land on new data */
    g = *mshm_w_group(w, 2);
    g.power = 5;
    assert_int_equal(mshm_w_put_group(w, 2, &g), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 1);
    assert_int_equal(mshm_generation(&r), latch0 + 3);
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.pub_seq, pub0 + 1);
    assert_int_equal(st.groups[2].power, 5);
    assert_int_equal(st.groups[0].power, 1);   /* the killed commit never happened */
    mshm_state_free(&st);
    assert_int_equal(tu_read_copy(&r, 0, &s0), MSHM_OK);
    assert_int_equal(tu_read_copy(&r, 1, &s1), MSHM_OK);
    assert_int_equal(mshm_check_state(&s0, NULL, 0), MSHM_OK);
    assert_int_equal(mshm_check_state(&s1, NULL, 0), MSHM_OK);
    mshm_state_free(&s0);
    mshm_state_free(&s1);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

/* Negative control: without the repair the copy readers go to next is torn. */
static void
test_killed_writer_no_repair_is_detected(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_state st;
    struct mshm_group g;
    char err[256] = "";
    int cur;

    tu_populate(w);
    mshm_writer_close(w, 0);
    tu_attach(&r, c->path);
    kill_mid_commit(c);

    o.flags = MSHM_W_NO_REPAIR;
    w = tu_open_opts(&o, MSHM_ADOPTED);
    g = *mshm_w_group(w, 2);
    g.power = 5;
    assert_int_equal(mshm_w_put_group(w, 2, &g), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 1);
    /* the latch rests on the good copy ... */
    tu_read_checked(&r, &st);
    mshm_state_free(&st);
    /* ... but the copy every reader passes through during the next publish
     * still holds the dead writer's half commit: the checksum catches it */
    cur = (int)(mshm_generation(&r) & 1);
    assert_int_equal(tu_read_copy(&r, !cur, &st), MSHM_OK);
    assert_int_equal(mshm_check_state(&st, err, sizeof(err)), MSHM_ERR_CORRUPT);
    assert_non_null(strstr(err, "checksum"));
    assert_int_equal(st.groups[0].power, 99);
    mshm_state_free(&st);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, tu_teardown)
    const struct CMUnitTest tests[] = {
        T(test_snap_group),
        T(test_snap_server),
        T(test_snap_cluster_and_farm),
        T(test_find),
        T(test_read_state),
        T(test_events_in_order),
        T(test_events_overrun),
        T(test_wait_timeout),
        T(test_wait_wakeup_from_child),
        T(test_liveness),
        T(test_replaced_reattach),
        T(test_killed_writer_then_adopt),
        T(test_killed_writer_no_repair_is_detected),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
