/*
 * mc_events.c -- masterDown, masterUp, slaveDown, ... for the application.
 *
 * Two sources, each used for what it is good at:
 *   - the group record's transition counters (n_master_down, n_master_up,
 *     n_master_switch, n_all_slaves_down/up, n_degraded) are monotonic and
 *     never lost: every increment since the last poll is delivered exactly
 *     once, however rarely the application polls;
 *   - the events ring gives order and detail (which server, old and new
 *     master, config epoch).  A ring event of a counted type is delivered
 *     only while the counter has an undelivered increment, so ring and
 *     counters never both deliver one transition.  Increments the ring no
 *     longer holds (overrun, or appended after our ring read) are delivered
 *     from the counters without ring detail (seq 0).
 * Replica up/down has no counter of its own: the ring is authoritative,
 * gated by the last health this client saw for the server (so a transition
 * is delivered once, and a slaveDown only after the server was up), and
 * after a ring overrun the servers' current health is compared with what
 * was last delivered.  readsUnavailable / readsAvailable work the same way
 * against the group's NO_READS flag (layout 1.2, issue 17).
 *
 * Tracking starts when a target of the group is opened: transitions before
 * that are not delivered (the baseline is the state at that moment).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mc_internal.h"
#include "mc_route.h"

#define MC_EV_BATCH 256

/* Snapshot the tracked group (by index, verified by name; re-found if moved). */
static int
snap(marshal_client *c, struct mc_evgroup *eg, struct mc_gsnap *es)
{
    int rc = mc_gsnap_read(c, eg->name, eg->gidx, 1, es);

    if (rc == MSHM_OK) {
        eg->gidx = es->gi;
    }
    return rc;
}

/* Remember server i of the snapshot in the tracker (health as given). */
static void
track_server(struct mc_evgroup *eg, const struct mc_gsnap *es, uint32_t i, uint8_t health)
{
    struct mc_evserver *t = NULL;
    uint32_t j;

    for (j = 0; j < eg->n_servers; j++) {
        if (eg->servers[j].sidx == es->g.servers[i] && eg->servers[j].gen == es->s[i].gen) {
            t = &eg->servers[j];
            break;
        }
    }
    if (t == NULL) {
        if (eg->n_servers == MSHM_GROUP_SERVERS) {
            /* full of departed servers: forget the oldest */
            memmove(&eg->servers[0], &eg->servers[1],
                    (MSHM_GROUP_SERVERS - 1) * sizeof(eg->servers[0]));
            eg->n_servers--;
        }
        t = &eg->servers[eg->n_servers++];
        t->sidx = es->g.servers[i];
        t->gen = es->s[i].gen;
        t->health = health;
    }
    t->role = es->s[i].role;
    t->port = es->s[i].port;
    snprintf(t->host, sizeof(t->host), "%s", es->host[i]);
}

static struct mc_evserver *
find_server(struct mc_evgroup *eg, uint32_t sidx)
{
    uint32_t j;

    for (j = eg->n_servers; j > 0; j--) {
        if (eg->servers[j - 1].sidx == sidx) {
            return &eg->servers[j - 1];
        }
    }
    return NULL;
}

/* Baseline: what the group looks like now counts as delivered. */
static void
prime(marshal_client *c, struct mc_evgroup *eg, const struct mc_gsnap *es)
{
    uint32_t i;

    eg->ggen = es->g.gen;
    eg->change_seq = es->g.change_seq;
    eg->n_master_down = es->g.n_master_down;
    eg->n_master_up = es->g.n_master_up;
    eg->n_master_switch = es->g.n_master_switch;
    eg->n_all_down = es->g.n_all_slaves_down;
    eg->n_all_up = es->g.n_all_slaves_up;
    eg->n_degraded = es->g.n_degraded;
    eg->degraded = (es->g.flags & MSHM_GF_DEGRADED) != 0;
    eg->reads = (es->g.flags & MSHM_GF_NO_READS) == 0;
    eg->n_servers = 0;
    for (i = 0; i < es->g.n_servers; i++) {
        track_server(eg, es, i, es->s[i].health);
    }
    eg->base_seq = mshm_ld_acq(&mshm_hdr(&c->rd)->ev_head);
    eg->primed = 1;
}

int
mc_events_track(marshal_client *c, marshal_target *t)
{
    struct mc_evgroup *eg;
    struct mc_gsnap *es;
    int rc;

    for (eg = c->evgroups; eg != NULL; eg = eg->next) {
        if (strcmp(eg->name, t->name) == 0) {
            eg->refs++;
            t->eg = eg;
            return MARSHAL_OK;
        }
    }
    eg = calloc(1, sizeof(*eg));
    es = malloc(sizeof(*es));
    if (eg == NULL || es == NULL) {
        free(eg);
        free(es);
        mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
        return MARSHAL_ERR_NOMEM;
    }
    snprintf(eg->name, sizeof(eg->name), "%s", t->name);
    eg->gidx = t->r.gidx;
    rc = snap(c, eg, es);
    if (rc != MSHM_OK) {
        free(eg);
        free(es);
        mc_seterr(c, rc, "group \"%s\": %s", t->name, mshm_strerror(rc));
        return rc;
    }
    prime(c, eg, es);
    free(es);
    if (c->evgroups == NULL) {
        c->ev_notify = mc_notify(c);
    }
    eg->refs = 1;
    eg->next = c->evgroups;
    c->evgroups = eg;
    t->eg = eg;
    return MARSHAL_OK;
}

void
mc_events_untrack(marshal_client *c, marshal_target *t)
{
    struct mc_evgroup **pp;

    if (t->eg == NULL) {
        return;
    }
    if (--t->eg->refs == 0) {
        for (pp = &c->evgroups; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == t->eg) {
                *pp = t->eg->next;
                break;
            }
        }
        free(t->eg);
    }
    t->eg = NULL;
}

void
mc_events_free(marshal_client *c)
{
    struct mc_evgroup *eg, *n;

    for (eg = c->evgroups; eg != NULL; eg = n) {
        n = eg->next;
        free(eg);
    }
    c->evgroups = NULL;
}

MARSHAL_API const char *
marshal_event_name(int type)
{
    static const char *const names[MARSHAL_EV_TYPE_MAX] = {
        [MARSHAL_EV_MASTER_DOWN] = "masterDown",         [MARSHAL_EV_MASTER_UP] = "masterUp",
        [MARSHAL_EV_MASTER_SWITCH] = "masterSwitch",     [MARSHAL_EV_SLAVE_DOWN] = "slaveDown",
        [MARSHAL_EV_SLAVE_UP] = "slaveUp",               [MARSHAL_EV_ALL_SLAVES_DOWN] = "allSlavesDown",
        [MARSHAL_EV_ALL_SLAVES_UP] = "allSlavesUp",      [MARSHAL_EV_GROUP_DEGRADED] = "groupDegraded",
        [MARSHAL_EV_GROUP_RECOVERED] = "groupRecovered",
        [MARSHAL_EV_CONTROLLER_STALE] = "controllerStale",
        [MARSHAL_EV_CONTROLLER_LIVE] = "controllerLive",
        [MARSHAL_EV_READS_UNAVAILABLE] = "readsUnavailable",
        [MARSHAL_EV_READS_AVAILABLE] = "readsAvailable",
    };

    if (type <= 0 || type >= MARSHAL_EV_TYPE_MAX) {
        return "unknown";
    }
    return names[type];
}

MARSHAL_API int
marshal_client_on(marshal_client *c, uint32_t mask, marshal_event_fn fn, void *ud)
{
    if (c == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    c->ev_fn = fn;
    c->ev_ud = ud;
    c->ev_mask = fn != NULL ? mask : 0;
    return MARSHAL_OK;
}

/* Deliver one event; returns 1 if the callback was called. */
static int
deliver_why(marshal_client *c, int type, const char *group, const struct mc_evserver *s,
            const struct mc_evserver *old, const struct mshm_event *ev, unsigned reason)
{
    marshal_event e;

    if (c->ev_fn == NULL || !(c->ev_mask & MARSHAL_EV_BIT(type))) {
        return 0;
    }
    memset(&e, 0, sizeof(e));
    e.type = type;
    e.group = group;
    e.host = s != NULL ? s->host : "";
    e.port = s != NULL ? s->port : 0;
    e.old_host = old != NULL ? old->host : "";
    e.old_port = old != NULL ? old->port : 0;
    e.age_ms = -1;
    e.reason = reason;
    if (ev != NULL) {
        struct timespec ts;
        uint64_t now;

        e.seq = ev->seq;
        e.epoch = ev->epoch;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        if (ev->realtime_ns != 0 && now >= ev->realtime_ns) {
            e.age_ms = (int64_t)((now - ev->realtime_ns) / 1000000ull);
        }
    }
    c->ev_fn(c, &e, c->ev_ud);
    return 1;
}

/* deliver_why() of an event without a reason. */
static int
deliver(marshal_client *c, int type, const char *group, const struct mc_evserver *s,
        const struct mc_evserver *old, const struct mshm_event *ev)
{
    return deliver_why(c, type, group, s, old, ev, 0);
}

/* MSHM_RR_* (the ring) as MARSHAL_READS_* (the API): the same bits. */
_Static_assert(MARSHAL_READS_DOWN == MSHM_RR_DOWN && MARSHAL_READS_LINK_DOWN == MSHM_RR_LINK_DOWN &&
                   MARSHAL_READS_SYNCING == MSHM_RR_SYNCING &&
                   MARSHAL_READS_LAGGING == MSHM_RR_LAGGING &&
                   MARSHAL_READS_NOT_REPLICA == MSHM_RR_NO_REPLICA,
               "reads reasons");
#define MC_READS_MASK 0x1fu

/* The tracker of the group an event is about, if tracked. */
static struct mc_evgroup *
tracker_of(marshal_client *c, const struct mshm_event *ev)
{
    struct mc_evgroup *eg;

    for (eg = c->evgroups; eg != NULL; eg = eg->next) {
        if (eg->gidx == ev->group_idx && ev->seq >= eg->base_seq) {
            return eg;
        }
    }
    return NULL;
}

/* One ring event: delivered when its counter (or the tracked health) says it is new. */
static int
ring_event(marshal_client *c, const struct mshm_event *ev, const struct mc_gsnap *snaps)
{
    struct mc_evgroup *eg = tracker_of(c, ev);
    const struct mc_gsnap *es;
    struct mc_evserver *s, *old;
    struct mc_evgroup *g;
    int k = 0;

    if (eg == NULL) {
        return 0;
    }
    for (g = c->evgroups; g != eg; g = g->next) {
        k++;
    }
    es = &snaps[k];
    if (es->gi == MSHM_NONE) {
        return 0;
    }
    s = ev->server_idx != MSHM_NONE ? find_server(eg, ev->server_idx) : NULL;
    switch (ev->type) {
    case MSHM_EV_MASTER_DOWN:
        if (eg->n_master_down == es->g.n_master_down) {
            return 0;
        }
        eg->n_master_down++;
        return deliver(c, MARSHAL_EV_MASTER_DOWN, eg->name, s, NULL, ev);
    case MSHM_EV_MASTER_UP:
        if (eg->n_master_up == es->g.n_master_up) {
            return 0;
        }
        eg->n_master_up++;
        return deliver(c, MARSHAL_EV_MASTER_UP, eg->name, s, NULL, ev);
    case MSHM_EV_MASTER_SWITCH:
        if (eg->n_master_switch == es->g.n_master_switch) {
            return 0;
        }
        eg->n_master_switch++;
        s = ev->new_idx != MSHM_NONE ? find_server(eg, ev->new_idx) : s;
        old = ev->old_idx != MSHM_NONE ? find_server(eg, ev->old_idx) : NULL;
        return deliver(c, MARSHAL_EV_MASTER_SWITCH, eg->name, s, old, ev);
    case MSHM_EV_ALL_SLAVES_DOWN:
        if (eg->n_all_down == es->g.n_all_slaves_down) {
            return 0;
        }
        eg->n_all_down++;
        return deliver(c, MARSHAL_EV_ALL_SLAVES_DOWN, eg->name, NULL, NULL, ev);
    case MSHM_EV_ALL_SLAVES_UP:
        if (eg->n_all_up == es->g.n_all_slaves_up) {
            return 0;
        }
        eg->n_all_up++;
        return deliver(c, MARSHAL_EV_ALL_SLAVES_UP, eg->name, NULL, NULL, ev);
    case MSHM_EV_GROUP_DEGRADED:
        if (eg->n_degraded == es->g.n_degraded) {
            return 0;
        }
        eg->n_degraded++;
        eg->degraded = 1;
        return deliver(c, MARSHAL_EV_GROUP_DEGRADED, eg->name, NULL, NULL, ev);
    case MSHM_EV_GROUP_RECOVERED:
        if (!eg->degraded) {
            return 0;
        }
        eg->degraded = 0;
        return deliver(c, MARSHAL_EV_GROUP_RECOVERED, eg->name, NULL, NULL, ev);
    case MSHM_EV_SLAVE_DOWN:
        /* only a server seen up goes down (never before its up) */
        if (s == NULL || s->health != MSHM_HEALTH_UP) {
            return 0;
        }
        s->health = MSHM_HEALTH_DOWN;
        return deliver(c, MARSHAL_EV_SLAVE_DOWN, eg->name, s, NULL, ev);
    case MSHM_EV_SLAVE_UP:
        if (s == NULL || s->health == MSHM_HEALTH_UP) {
            return 0;
        }
        s->health = MSHM_HEALTH_UP;
        return deliver(c, MARSHAL_EV_SLAVE_UP, eg->name, s, NULL, ev);
    case MSHM_EV_READS_UNAVAILABLE:
        if (!eg->reads) {
            return 0;
        }
        eg->reads = 0;
        return deliver_why(c, MARSHAL_EV_READS_UNAVAILABLE, eg->name, NULL, NULL, ev,
                           ev->flags & MC_READS_MASK);
    case MSHM_EV_READS_AVAILABLE:
        if (eg->reads) {
            return 0;
        }
        eg->reads = 1;
        return deliver(c, MARSHAL_EV_READS_AVAILABLE, eg->name, NULL, NULL, ev);
    default:
        return 0;
    }
}

/* Counter increments the ring did not explain: deliver them without detail. */
static int
reconcile(marshal_client *c, struct mc_evgroup *eg, const struct mc_gsnap *es, int lost)
{
    const struct mc_evserver *m = NULL;
    uint32_t i;
    int n = 0;

    for (i = 0; i < es->g.n_servers; i++) {
        if (es->g.servers[i] == es->g.master_idx) {
            m = find_server(eg, es->g.master_idx);
        }
    }
    /*
     * Counters ahead of the ring without an overrun: the publish landed
     * between our ring read and our snapshot, and its events follow it into
     * the ring (state first, then events).  Wait one poll for their detail;
     * after that the counters win.
     */
    if (!lost && !eg->deferred &&
        (eg->n_master_down != es->g.n_master_down || eg->n_master_switch != es->g.n_master_switch ||
         eg->n_master_up != es->g.n_master_up || eg->n_all_down != es->g.n_all_slaves_down ||
         eg->n_all_up != es->g.n_all_slaves_up || eg->n_degraded != es->g.n_degraded)) {
        eg->deferred = 1;
        c->ev_again = 1;
        return 0;
    }
    eg->deferred = 0;
    while (eg->n_master_down != es->g.n_master_down) {
        eg->n_master_down++;
        n += deliver(c, MARSHAL_EV_MASTER_DOWN, eg->name, NULL, NULL, NULL);
    }
    while (eg->n_master_switch != es->g.n_master_switch) {
        eg->n_master_switch++;
        n += deliver(c, MARSHAL_EV_MASTER_SWITCH, eg->name, m, NULL, NULL);
    }
    while (eg->n_master_up != es->g.n_master_up) {
        eg->n_master_up++;
        n += deliver(c, MARSHAL_EV_MASTER_UP, eg->name, m, NULL, NULL);
    }
    while (eg->n_all_down != es->g.n_all_slaves_down) {
        eg->n_all_down++;
        n += deliver(c, MARSHAL_EV_ALL_SLAVES_DOWN, eg->name, NULL, NULL, NULL);
    }
    while (eg->n_all_up != es->g.n_all_slaves_up) {
        eg->n_all_up++;
        n += deliver(c, MARSHAL_EV_ALL_SLAVES_UP, eg->name, NULL, NULL, NULL);
    }
    while (eg->n_degraded != es->g.n_degraded) {
        eg->n_degraded++;
        eg->degraded = 1;
        n += deliver(c, MARSHAL_EV_GROUP_DEGRADED, eg->name, NULL, NULL, NULL);
    }
    if (eg->degraded && !(es->g.flags & MSHM_GF_DEGRADED) && lost) {
        eg->degraded = 0;
        n += deliver(c, MARSHAL_EV_GROUP_RECOVERED, eg->name, NULL, NULL, NULL);
    }
    if (lost && eg->reads != ((es->g.flags & MSHM_GF_NO_READS) == 0)) {
        /* the ring lost the transition: the flag says where we are now */
        eg->reads = !eg->reads;
        n += deliver(c, eg->reads ? MARSHAL_EV_READS_AVAILABLE : MARSHAL_EV_READS_UNAVAILABLE,
                     eg->name, NULL, NULL, NULL);
    }
    /* servers: new ones join with their current health; after an overrun,
     * replica health is compared with what was delivered */
    for (i = 0; i < es->g.n_servers; i++) {
        struct mc_evserver *s = find_server(eg, es->g.servers[i]);
        uint8_t h = es->s[i].health;

        if (s == NULL || s->gen != es->s[i].gen) {
            track_server(eg, es, i, h);
            continue;
        }
        track_server(eg, es, i, s->health);     /* refresh host/port/role */
        if (lost && es->g.servers[i] != es->g.master_idx && s->health != h &&
            (h == MSHM_HEALTH_UP || (h == MSHM_HEALTH_DOWN && s->health == MSHM_HEALTH_UP))) {
            s->health = h;
            n += deliver(c, h == MSHM_HEALTH_DOWN ? MARSHAL_EV_SLAVE_DOWN : MARSHAL_EV_SLAVE_UP,
                         eg->name, s, NULL, NULL);
        }
    }
    eg->ggen = es->g.gen;
    eg->change_seq = es->g.change_seq;
    return n;
}

/* Controller liveness transitions. */
static int
liveness_events(marshal_client *c)
{
    int st = mc_client_state(c), was = c->ev_state;

    if (st == MARSHAL_STATE_ABSENT || st == MARSHAL_STATE_RETIRED) {
        return 0;
    }
    if (st == MARSHAL_STATE_STOPPED) {
        st = MARSHAL_STATE_STALE;
    }
    c->ev_state = st;
    if (st == was) {
        return 0;
    }
    return deliver(c, st == MARSHAL_STATE_STALE ? MARSHAL_EV_CONTROLLER_STALE
                                                : MARSHAL_EV_CONTROLLER_LIVE,
                   "", NULL, NULL, NULL);
}

/* A new segment: start over from its state (indices and ring are new). */
static void
new_segment(marshal_client *c)
{
    struct mc_evgroup *eg;
    struct mc_gsnap *es = malloc(sizeof(*es));

    c->ev_segment_id = c->rd.geo.segment_id;
    if (es == NULL) {
        return;
    }
    for (eg = c->evgroups; eg != NULL; eg = eg->next) {
        if (snap(c, eg, es) == MSHM_OK) {
            prime(c, eg, es);
        }
    }
    free(es);
}

int
mc_events_poll(marshal_client *c)
{
    struct mshm_event batch[MC_EV_BATCH];
    struct mc_gsnap *snaps;
    struct mc_evgroup *eg;
    uint64_t lost = 0, drain;
    uint32_t notify;
    int n = 0, nb = 0, lostflag = 0, ng = 0, i, rc;

    if (c == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    if (c->ev_fd >= 0) {
        while (read(c->ev_fd, &drain, sizeof(drain)) > 0) {
            /* drained */
        }
    }
    rc = mc_ensure_attached(c);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    {
        marshal_target *t;

        for (t = c->targets; t != NULL; t = t->next) {
            c->drain(t, 0);     /* mirror legs sent without waiting */
        }
    }
    n += liveness_events(c);
    if (c->rd.geo.segment_id != c->ev_segment_id) {
        new_segment(c);
    }
    notify = mc_notify(c);
    if ((notify == c->ev_notify && !c->ev_again) || c->evgroups == NULL) {
        c->ev_notify = notify;
        return n;
    }
    if (mshm_ld(&mshm_hdr(&c->rd)->state) == MSHM_STATE_RETIRED) {
        mc_check_segment(c);
        if (c->rd.geo.segment_id != c->ev_segment_id) {
            new_segment(c);
            c->ev_notify = mc_notify(c);
            return n;
        }
    }
    c->ev_notify = notify;
    c->ev_again = 0;
    for (eg = c->evgroups; eg != NULL; eg = eg->next) {
        ng++;
    }
    snaps = malloc((size_t)ng * sizeof(*snaps));
    if (snaps == NULL) {
        mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
        return MARSHAL_ERR_NOMEM;
    }
    /* ring first, then state: every event read has its state in the snapshot */
    for (;;) {
        struct mshm_event ev;

        rc = mshm_next_event(&c->rd, &ev, &lost);
        if (rc == MSHM_ERR_LOST) {
            lostflag = 1;
            mc_log(c, MARSHAL_LOG_NOTICE, "events ring overrun: %llu lost, resync from counters",
                   (unsigned long long)lost);
            continue;
        }
        if (rc != 1) {
            break;
        }
        if (nb == MC_EV_BATCH) {
            /* more than a batch since the last poll: keep the newest in order */
            memmove(&batch[0], &batch[1], (MC_EV_BATCH - 1) * sizeof(batch[0]));
            nb--;
            lostflag = 1;
        }
        batch[nb++] = ev;
    }
    for (eg = c->evgroups, i = 0; eg != NULL; eg = eg->next, i++) {
        rc = snap(c, eg, &snaps[i]);
        if (rc != MSHM_OK) {
            snaps[i].g = (struct mshm_group){0};
            snaps[i].gi = MSHM_NONE;
        }
    }
    for (i = 0; i < nb; i++) {
        n += ring_event(c, &batch[i], snaps);
    }
    for (eg = c->evgroups, i = 0; eg != NULL; eg = eg->next, i++) {
        if (snaps[i].gi != MSHM_NONE) {
            n += reconcile(c, eg, &snaps[i], lostflag);
        }
    }
    free(snaps);
    return n;
}

MARSHAL_API int
marshal_client_wait(marshal_client *c, int timeout_ms)
{
    uint32_t seen;
    int rc;

    if (c == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    rc = mc_ensure_attached(c);
    if (rc != MARSHAL_OK) {
        struct timespec ts = {0, 100000000L};

        if (timeout_ms != 0) {
            nanosleep(&ts, NULL);   /* no segment to wait on: bounded pause */
        }
        return rc;
    }
    seen = c->ev_notify;
    if (mc_notify(c) == seen && !c->ev_again) {
        int ms = timeout_ms;
        uint32_t hb = mshm_ld(&mshm_hdr(&c->rd)->stale_after_ms);

        /* wake in time to notice a stale controller */
        if (hb > 0 && hb < 3600000u && (ms < 0 || ms > (int)hb / 2)) {
            ms = (int)hb / 2 > 0 ? (int)hb / 2 : 1;
        }
        (void)mshm_wait(&c->rd, &seen, ms);
    }
    return mc_events_poll(c);
}

MARSHAL_API int
marshal_client_event_fd(marshal_client *c, int interval_ms)
{
    struct itimerspec its;

    if (c == NULL || interval_ms <= 0 || interval_ms > 3600000) {
        return MARSHAL_ERR_RANGE;
    }
    if (c->ev_fd < 0) {
        c->ev_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (c->ev_fd < 0) {
            mc_seterr(c, MARSHAL_ERR_SYS, "timerfd_create: %s", strerror(errno));
            return MARSHAL_ERR_SYS;
        }
    }
    memset(&its, 0, sizeof(its));
    its.it_interval.tv_sec = interval_ms / 1000;
    its.it_interval.tv_nsec = (long)(interval_ms % 1000) * 1000000L;
    its.it_value = its.it_interval;
    if (timerfd_settime(c->ev_fd, 0, &its, NULL) != 0) {
        mc_seterr(c, MARSHAL_ERR_SYS, "timerfd_settime: %s", strerror(errno));
        return MARSHAL_ERR_SYS;
    }
    return c->ev_fd;
}

MARSHAL_API int
marshal_client_poll(marshal_client *c)
{
    return mc_events_poll(c);
}
