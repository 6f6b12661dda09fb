/*
 * test_events.c -- libmarshal-shm's events against a real segment written by
 * the shm core's writer (no servers needed): each transition is delivered
 * exactly once, in ring order with detail, from counters when the ring was
 * overrun, never for transitions before the target was opened; controller
 * stale/live; the libev adapter and the event fd deliver too; readability
 * events (readsUnavailable with its reason / readsAvailable) once each, from
 * the ring or, after an overrun, from the group's NO_READS flag; no
 * slaveDown for a server this client never saw up (issue 17).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#include <cmocka.h>

#include "marshal/adapters/libev.h"
#include "marshal/marshal.h"
#include "mshm_write.h"

struct fx {
    char path[64];
    struct mshm_writer *w;
    struct mshm_group g;
    marshal_client *c;
    marshal_target *t;
    int count[MARSHAL_EV_TYPE_MAX];
    int order[256];
    int n;
    uint64_t last_seq;
    unsigned last_reason;
    char last_host[64];
};

static void
on_event(marshal_client *c, const marshal_event *e, void *ud)
{
    struct fx *f = ud;

    (void)c;
    assert_true(e->type > 0 && e->type < MARSHAL_EV_TYPE_MAX);
    f->count[e->type]++;
    if (f->n < 256) {
        f->order[f->n++] = e->type;
    }
    f->last_seq = e->seq;
    f->last_reason = e->reason;
    snprintf(f->last_host, sizeof(f->last_host), "%s:%d", e->host, e->port);
}

static void
put_server(struct fx *f, uint32_t i, uint16_t port, int role, int health)
{
    struct mshm_server s;

    memset(&s, 0, sizeof(s));
    snprintf(s.host, sizeof(s.host), "127.0.0.1");
    s.port = port;
    s.flags = MSHM_SF_IN_USE | (role == MSHM_ROLE_REPLICA && health == MSHM_HEALTH_UP
                                    ? MSHM_SF_READABLE : 0);
    s.role = (uint8_t)role;
    s.health = (uint8_t)health;
    s.power = 1;
    s.group_idx = 0;
    s.longname_idx = MSHM_NONE;
    assert_int_equal(mshm_w_put_server(f->w, i, &s), MSHM_OK);
}

static void
emit_why(struct fx *f, int type, uint32_t server, uint16_t why)
{
    struct mshm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = (uint16_t)type;
    ev.flags = why;
    ev.group_idx = 0;
    ev.server_idx = server;
    ev.old_idx = ev.new_idx = ev.cluster_idx = MSHM_NONE;
    assert_int_equal(mshm_w_emit(f->w, &ev), MSHM_OK);
}

static void
emit(struct fx *f, int type, uint32_t server)
{
    emit_why(f, type, server, 0);
}

static int
setup(void **state)
{
    struct mshm_writer_opts o;
    struct fx *f = calloc(1, sizeof(*f));
    char err[256];

    assert_non_null(f);
    snprintf(f->path, sizeof(f->path), "/tmp/test_events.%d", (int)getpid());
    unlink(f->path);
    memset(&o, 0, sizeof(o));
    o.path = f->path;
    o.mode = 0600;
    o.gid = (gid_t)-1;
    o.group_cap = 8;
    o.server_cap = 16;
    o.cluster_cap = 2;
    o.longname_cap = 2;
    o.ring_cap = 16;             /* small: overruns are easy to make */
    o.hb_interval_ms = 50;
    o.stale_after_ms = 200;
    assert_int_equal(mshm_writer_open(&o, &f->w, NULL, err, sizeof(err)), MSHM_OK);
    put_server(f, 0, 7000, MSHM_ROLE_MASTER, MSHM_HEALTH_UP);
    put_server(f, 1, 7001, MSHM_ROLE_REPLICA, MSHM_HEALTH_UP);
    memset(&f->g, 0, sizeof(f->g));
    snprintf(f->g.name, sizeof(f->g.name), "g1");
    f->g.flags = MSHM_GF_IN_USE;
    f->g.master_idx = 0;
    f->g.n_servers = 2;
    f->g.servers[0] = 0;
    f->g.servers[1] = 1;
    f->g.n_master_down = 5;      /* history before the client opens: not delivered */
    f->g.n_master_up = 5;
    assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
    emit(f, MSHM_EV_MASTER_DOWN, 0);
    assert_true(mshm_w_commit(f->w) >= 0);
    mshm_w_heartbeat(f->w);
    assert_int_equal(marshal_client_open(f->path, NULL, &f->c), MARSHAL_OK);
    assert_int_equal(marshal_target_open(f->c, "g1", &f->t), MARSHAL_OK);
    /* controller events only where a test asks for them (a slow run may go stale) */
    assert_int_equal(marshal_client_on(f->c, MARSHAL_EV_ALL & ~(MARSHAL_EV_BIT(MARSHAL_EV_CONTROLLER_STALE) |
                                                                 MARSHAL_EV_BIT(MARSHAL_EV_CONTROLLER_LIVE)),
                                       on_event, f), MARSHAL_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char lock[80];

    marshal_client_close(f->c);
    mshm_writer_close(f->w, 1);
    unlink(f->path);
    snprintf(lock, sizeof(lock), "%s.lock", f->path);
    unlink(lock);
    free(f);
    return 0;
}

/* poll until nothing more comes (a deferral costs one extra poll) */
static int
drain(struct fx *f)
{
    int total = 0, k, n;

    for (k = 0; k < 4; k++) {
        n = marshal_client_poll(f->c);
        assert_true(n >= 0);
        total += n;
    }
    return total;
}

static void
test_exactly_once_with_detail(void **state)
{
    struct fx *f = *state;

    assert_int_equal(drain(f), 0);   /* the history before open is not delivered */
    f->g.n_master_down++;
    assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
    emit(f, MSHM_EV_MASTER_DOWN, 0);
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 1);
    assert_int_equal(f->count[MARSHAL_EV_MASTER_DOWN], 1);
    assert_true(f->last_seq > 0);                       /* from the ring, with detail */
    assert_string_equal(f->last_host, "127.0.0.1:7000");
    assert_int_equal(drain(f), 0);                      /* and only once */

    /* a replica down then up: ring-only events, gated by the health seen */
    put_server(f, 1, 7001, MSHM_ROLE_REPLICA, MSHM_HEALTH_DOWN);
    emit(f, MSHM_EV_SLAVE_DOWN, 1);
    assert_true(mshm_w_commit(f->w) >= 0);
    put_server(f, 1, 7001, MSHM_ROLE_REPLICA, MSHM_HEALTH_UP);
    emit(f, MSHM_EV_SLAVE_UP, 1);
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 2);
    assert_int_equal(f->order[1], MARSHAL_EV_SLAVE_DOWN);
    assert_int_equal(f->order[2], MARSHAL_EV_SLAVE_UP);
    assert_string_equal(f->last_host, "127.0.0.1:7001");
}

/* counters without ring events (or a lapped ring) still deliver, exactly */
static void
test_counters_survive_overrun(void **state)
{
    struct fx *f = *state;
    int i;

    assert_int_equal(drain(f), 0);
    for (i = 0; i < 40; i++) {              /* 40 down/up pairs through a 16-slot ring */
        f->g.n_master_down++;
        assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
        emit(f, MSHM_EV_MASTER_DOWN, 0);
        assert_true(mshm_w_commit(f->w) >= 0);
        f->g.n_master_up++;
        assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
        emit(f, MSHM_EV_MASTER_UP, 0);
        assert_true(mshm_w_commit(f->w) >= 0);
    }
    f->g.n_master_switch += 3;              /* no ring event at all for these */
    assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 83);
    assert_int_equal(f->count[MARSHAL_EV_MASTER_DOWN], 40);
    assert_int_equal(f->count[MARSHAL_EV_MASTER_UP], 40);
    assert_int_equal(f->count[MARSHAL_EV_MASTER_SWITCH], 3);
    assert_int_equal(drain(f), 0);
}

/* a ring event whose transition the counters already delivered is not repeated */
static void
test_late_ring_event(void **state)
{
    struct fx *f = *state;

    assert_int_equal(drain(f), 0);
    f->g.n_master_down++;
    assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
    assert_true(mshm_w_commit(f->w) >= 0);        /* counter only */
    assert_int_equal(drain(f), 1);
    assert_int_equal(f->last_seq, 0);               /* derived from the counter */
    emit(f, MSHM_EV_MASTER_DOWN, 0);               /* its ring event, late */
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 0);
    assert_int_equal(f->count[MARSHAL_EV_MASTER_DOWN], 1);
}

/* a second client sees the same transitions once each */
static void
test_two_clients(void **state)
{
    struct fx *f = *state, g2;
    marshal_target *t2;

    memset(&g2, 0, sizeof(g2));
    assert_int_equal(marshal_client_open(f->path, NULL, &g2.c), MARSHAL_OK);
    assert_int_equal(marshal_target_open(g2.c, "g1", &t2), MARSHAL_OK);
    assert_int_equal(marshal_client_on(g2.c, MARSHAL_EV_ALL & ~(MARSHAL_EV_BIT(MARSHAL_EV_CONTROLLER_STALE) |
                                                                 MARSHAL_EV_BIT(MARSHAL_EV_CONTROLLER_LIVE)),
                                       on_event, &g2), MARSHAL_OK);
    f->g.n_all_slaves_down++;
    f->g.n_degraded++;
    f->g.flags |= MSHM_GF_DEGRADED;
    assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
    emit(f, MSHM_EV_ALL_SLAVES_DOWN, MSHM_NONE);
    emit(f, MSHM_EV_GROUP_DEGRADED, MSHM_NONE);
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 2);
    assert_int_equal(drain(&g2), 2);
    assert_memory_equal(f->order, g2.order, 2 * sizeof(int));
    assert_int_equal(g2.order[0], MARSHAL_EV_ALL_SLAVES_DOWN);
    assert_int_equal(g2.order[1], MARSHAL_EV_GROUP_DEGRADED);
    marshal_client_close(g2.c);
}

/* readability has its own events, once each, with the reason */
static void
test_reads_events(void **state)
{
    struct fx *f = *state;

    assert_int_equal(drain(f), 0);
    /* the replica is up but lost its link and resyncs: unreadable, not down */
    f->g.flags |= MSHM_GF_NO_READS;
    assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
    emit_why(f, MSHM_EV_READS_UNAVAILABLE, MSHM_NONE, MSHM_RR_LINK_DOWN | MSHM_RR_SYNCING);
    emit_why(f, MSHM_EV_READS_UNAVAILABLE, MSHM_NONE, MSHM_RR_SYNCING); /* a repeat */
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 1);
    assert_int_equal(f->order[0], MARSHAL_EV_READS_UNAVAILABLE);
    assert_int_equal(f->last_reason, MARSHAL_READS_LINK_DOWN | MARSHAL_READS_SYNCING);
    assert_true(f->last_seq > 0);
    assert_int_equal(f->count[MARSHAL_EV_SLAVE_DOWN] + f->count[MARSHAL_EV_ALL_SLAVES_DOWN], 0);
    f->g.flags &= ~MSHM_GF_NO_READS;
    assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
    emit(f, MSHM_EV_READS_AVAILABLE, MSHM_NONE);
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 1);
    assert_int_equal(f->order[1], MARSHAL_EV_READS_AVAILABLE);
    assert_int_equal(f->last_reason, 0);
    assert_string_equal(marshal_event_name(MARSHAL_EV_READS_UNAVAILABLE), "readsUnavailable");
    assert_string_equal(marshal_event_name(MARSHAL_EV_READS_AVAILABLE), "readsAvailable");
    assert_string_equal(marshal_event_name(MARSHAL_EV_TYPE_MAX), "unknown");
}

/* a lapped ring: readability is made up from the NO_READS flag, once */
static void
test_reads_after_overrun(void **state)
{
    struct fx *f = *state;
    int i;

    assert_int_equal(drain(f), 0);
    f->g.flags |= MSHM_GF_NO_READS;
    assert_int_equal(mshm_w_put_group(f->w, 0, &f->g), MSHM_OK);
    emit_why(f, MSHM_EV_READS_UNAVAILABLE, MSHM_NONE, MSHM_RR_DOWN);
    assert_true(mshm_w_commit(f->w) >= 0);
    for (i = 0; i < 40; i++) {          /* laps the 16-slot ring */
        emit(f, MSHM_EV_CONFIG_RELOAD, MSHM_NONE);
        assert_true(mshm_w_commit(f->w) >= 0);
    }
    assert_int_equal(drain(f), 1);
    assert_int_equal(f->count[MARSHAL_EV_READS_UNAVAILABLE], 1);
    assert_int_equal(f->last_seq, 0);
    assert_int_equal(drain(f), 0);
}

/* no slaveDown for a server this client never saw up; its up, then down, do */
static void
test_no_down_before_up(void **state)
{
    struct fx *f = *state;

    put_server(f, 1, 7001, MSHM_ROLE_REPLICA, MSHM_HEALTH_UNKNOWN);
    assert_true(mshm_w_commit(f->w) >= 0);
    marshal_client_close(f->c);
    assert_int_equal(marshal_client_open(f->path, NULL, &f->c), MARSHAL_OK);
    assert_int_equal(marshal_target_open(f->c, "g1", &f->t), MARSHAL_OK);
    assert_int_equal(marshal_client_on(f->c, MARSHAL_EV_ALL & ~(MARSHAL_EV_BIT(MARSHAL_EV_CONTROLLER_STALE) |
                                                                 MARSHAL_EV_BIT(MARSHAL_EV_CONTROLLER_LIVE)),
                                       on_event, f), MARSHAL_OK);
    assert_int_equal(drain(f), 0);
    put_server(f, 1, 7001, MSHM_ROLE_REPLICA, MSHM_HEALTH_DOWN);
    emit(f, MSHM_EV_SLAVE_DOWN, 1);
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 0);
    put_server(f, 1, 7001, MSHM_ROLE_REPLICA, MSHM_HEALTH_UP);
    emit(f, MSHM_EV_SLAVE_UP, 1);
    assert_true(mshm_w_commit(f->w) >= 0);
    put_server(f, 1, 7001, MSHM_ROLE_REPLICA, MSHM_HEALTH_DOWN);
    emit(f, MSHM_EV_SLAVE_DOWN, 1);
    assert_true(mshm_w_commit(f->w) >= 0);
    assert_int_equal(drain(f), 2);
    assert_int_equal(f->order[0], MARSHAL_EV_SLAVE_UP);
    assert_int_equal(f->order[1], MARSHAL_EV_SLAVE_DOWN);
}

/* controller stale / live, and the libev adapter and event fd deliver */
static void
test_stale_and_loops(void **state)
{
    struct fx *f = *state;
    struct marshal_libev w;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct pollfd pfd;
    int fd, k;

    assert_non_null(loop);
    mshm_w_heartbeat(f->w);
    assert_int_equal(marshal_client_state(f->c), MARSHAL_STATE_LIVE);
    assert_int_equal(marshal_client_on(f->c, MARSHAL_EV_ALL, on_event, f), MARSHAL_OK);
    assert_true(marshal_client_poll(f->c) >= 0);
    assert_int_equal(f->count[MARSHAL_EV_CONTROLLER_STALE], 0);
    /* no heartbeat for > stale_after_ms (200): stale, bounded wait */
    for (k = 0; k < 100 && marshal_client_state(f->c) != MARSHAL_STATE_STALE; k++) {
        usleep(10000);
    }
    assert_int_equal(marshal_client_state(f->c), MARSHAL_STATE_STALE);
    marshal_libev_attach(&w, loop, f->c, 5);
    ev_run(loop, EVRUN_ONCE);
    for (k = 0; k < 20 && f->count[MARSHAL_EV_CONTROLLER_STALE] == 0; k++) {
        ev_run(loop, EVRUN_ONCE);
    }
    assert_int_equal(f->count[MARSHAL_EV_CONTROLLER_STALE], 1);
    marshal_libev_detach(&w);
    ev_loop_destroy(loop);

    mshm_w_heartbeat(f->w);
    fd = marshal_client_event_fd(f->c, 5);
    assert_true(fd >= 0);
    pfd.fd = fd;
    pfd.events = POLLIN;
    for (k = 0; k < 20 && f->count[MARSHAL_EV_CONTROLLER_LIVE] == 0; k++) {
        assert_true(poll(&pfd, 1, 1000) == 1);
        assert_true(marshal_client_poll(f->c) >= 0);
    }
    assert_int_equal(f->count[MARSHAL_EV_CONTROLLER_LIVE], 1);
    assert_int_equal(f->count[MARSHAL_EV_CONTROLLER_STALE], 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exactly_once_with_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_survive_overrun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_ring_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_after_overrun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_down_before_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_and_loops, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
