/*
 * shm_torture.c -- multi-process stress test of the segment's two-copy latch.
 *
 * One writer process publishes continuously into a small segment; the parent
 * SIGKILLs it at random points and starts a new one, which adopts the segment
 * (mshm_writer_open repairs the copy the dead writer may have torn).  Half of
 * the deaths come from the parent (a real SIGKILL after a random 1-150 ms),
 * half from the writer's own test hook (opts.test_kill_after: SIGKILL itself
 * after writing N records into the first copy of a commit), so a crash
 * always lands in the middle of a copy.  Meanwhile R reader processes verify
 * every snapshot they get:
 *
 *  - mshm_read_state + mshm_check_state (state_sum catches torn copies);
 *  - every record is self-describing: its content is a pure function of its
 *    index and a per-commit stamp ((pub_seq << 16) | writer incarnation) kept
 *    in a numeric field, so it is rebuilt and compared word by word (all but
 *    the writer-assigned change_seq and gen);
 *  - cross-record agreement: a group and its servers (and the long host name
 *    of server 0) carry the same stamp; servers in use are exactly those the
 *    group lists; the newest stamp in the state equals slot pub_seq; pub_seq,
 *    the latch and each group's stamp never go back;
 *  - mshm_snap_group of random groups: group and servers agree as above;
 *  - an own mshm_read() copy function taking the slot header, one group and
 *    its servers in one latch read: a group in use lies below n_groups and
 *    its stamp is not newer than pub_seq (also counts latch retries);
 *  - mshm_next_event: seq contiguous (MSHM_ERR_LOST resyncs allowed and
 *    counted), payload derived from (epoch, index in its commit), epoch's
 *    pub_seq == event pub_seq, batches ordered, and the state a reader sees
 *    after an event is at least the one the event reflects.
 *
 * MSHM_ERR_BUSY (latch retry bound) is counted, never a failure.  Any other
 * inconsistency is a torn read.  Normal mode passes when torn == 0, kills
 * and adoptions >= --kills, readers verified something, no segment was
 * replaced and no child failed.  --no-repair runs the writers with
 * MSHM_W_NO_REPAIR (adopt without levelling the other copy), every kill by
 * test_kill_after so each crash lands mid-copy, and passes only when the
 * readers DO detect torn reads: the self-test of this harness.
 *
 * Every loop is bounded by time and count; children die with the parent
 * (PR_SET_PDEATHSIG); the parent SIGKILLs and reaps all children and
 * removes the segment, its lock and any leftover temporary file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mshm_atomic.h"
#include "mshm_attach.h"
#include "mshm_read.h"
#include "mshm_write.h"

/* Segment shape and the test's record scheme. */
#define T_GROUPS       64   /* group capacity                                  */
#define T_PER_GROUP    8    /* group gi owns servers [8 gi, 8 gi + 8)          */
#define T_SERVERS      (T_GROUPS * T_PER_GROUP)
#define T_FIXED        32   /* groups [0, 32) are never deleted                */
#define T_CLUSTERS     4    /* cluster ci has member groups [8 ci, 8 ci + 8)   */
#define T_CLUSTER_CAP  8
#define T_LONGNAMES    8    /* long name li: host of server 0 of group 4 li    */
#define T_LONGNAME_CAP 32
#define T_RING         256
#define T_MAX_READERS  64
#define T_MSG_MAX      3    /* torn-read messages printed per reader           */

#define STAMP_PUB(s)   ((s) >> 16)

#define ST_ADD(f, n)   __atomic_fetch_add(&(f), (uint64_t)(n), __ATOMIC_RELAXED)
#define ST_GET(f)      __atomic_load_n(&(f), __ATOMIC_RELAXED)

/* Counters of one reader; only that reader writes them. */
struct reader_stats {
    uint64_t iterations;     /* reader loop turns                         */
    uint64_t snapshots;      /* consistent whole-state copies verified    */
    uint64_t group_snaps;    /* consistent group snapshots verified       */
    uint64_t busy;           /* MSHM_ERR_BUSY results (not failures)      */
    uint64_t torn;           /* inconsistencies of any kind               */
    uint64_t torn_sum;       /*   mshm_check_state refused the copy       */
    uint64_t torn_record;    /*   a record differs from its stamp's model */
    uint64_t torn_cross;     /*   records of one copy disagree            */
    uint64_t torn_order;     /*   something went back in time             */
    uint64_t torn_event;     /*   bad event or event order                */
    uint64_t events;         /* events read and verified                  */
    uint64_t lost_resyncs;   /* MSHM_ERR_LOST results                     */
    uint64_t lost_events;    /* events skipped by those                   */
    uint64_t reattaches;     /* segment replaced: attached the new one    */
    uint64_t attached;       /* 1 once attached                           */
    uint64_t done;           /* 1 when the reader left its loop           */
    uint64_t view_reads;     /* consistent slot header + group views      */
    uint64_t retries;        /* extra copy passes of those (latch moved)  */
    uint64_t raced;          /* state/group reads during which the latch
                                moved (they raced a publish)              */
    uint64_t pad[13];        /* keep readers on separate cache lines      */
};

/* MAP_SHARED anonymous region shared by the parent and all children. */
struct shared {
    uint32_t stop;           /* parent -> readers: leave the loop         */
    uint32_t pad0;
    uint64_t created;        /* writer opens by outcome                   */
    uint64_t adopted;
    uint64_t replaced;
    uint64_t open_errors;
    uint64_t writer_errors;  /* writer children that failed on their own  */
    uint64_t commits;        /* commits completed, all writers            */
    uint64_t pad1[8];
    struct reader_stats rs[T_MAX_READERS];
};

/* Command line. */
struct cfg {
    unsigned kills;          /* minimum writer kills required             */
    unsigned readers;
    double seconds;          /* total run time                            */
    int no_repair;
    int verbose;
    uint64_t seed;
    char path[128];
};

static struct shared *sh;
static struct cfg cfg;
static uint64_t rng;

/* ---- small helpers ------------------------------------------------------ */

static uint64_t
rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static uint32_t
rnd_below(uint32_t n)
{
    return n ? (uint32_t)(rnd() % n) : 0;
}

static void
seed_rng(uint64_t s)
{
    rng = s ^ 0x9e3779b97f4a7c15ull;
    if (rng == 0) {
        rng = 1;
    }
    (void)rnd();
}

static double
now_s(void)
{
    return (double)mshm_now_ns() / 1e9;
}

static void
sleep_us(uint64_t us)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(us / 1000000u);
    ts.tv_nsec = (long)(us % 1000000u) * 1000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Die with the parent, so an aborted run leaves no process behind. */
static void
die_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(9);
    }
}

/* Deterministic 64-bit content derived from a stamp, an index and a salt. */
static uint64_t
mix(uint64_t stamp, uint32_t idx, uint32_t salt)
{
    uint64_t h = stamp ^ ((((uint64_t)idx << 32) | salt) * 0x9e3779b97f4a7c15ull);

    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

/* ---- the record scheme (shared by writer and readers) ------------------- */

static uint32_t
g_nsrv(uint32_t gi, uint64_t stamp)
{
    return 1 + (uint32_t)(mix(stamp, gi, 1) % T_PER_GROUP);
}

/* Position of the master among the group's servers, or MSHM_NONE. */
static uint32_t
g_master(uint32_t gi, uint64_t stamp)
{
    if (mix(stamp, gi, 2) % 6 == 0) {
        return MSHM_NONE;
    }
    return (uint32_t)(mix(stamp, gi, 3) % g_nsrv(gi, stamp));
}

/* Server 0 of groups 0, 4, ..., 28 has its host in long name gi / 4. */
static int
has_long(uint32_t si)
{
    uint32_t gi = si / T_PER_GROUP;

    return si % T_PER_GROUP == 0 && gi % 4 == 0 && gi < T_FIXED;
}

static void
build_group(struct mshm_group *g, uint32_t gi, uint64_t stamp)
{
    uint32_t nsrv = g_nsrv(gi, stamp), mj = g_master(gi, stamp), j;

    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof(g->name), "g%u-%016" PRIx64, gi, stamp);
    g->master_epoch = stamp;
    g->flags = MSHM_GF_IN_USE | MSHM_GF_SENTINEL |
               ((uint32_t)mix(stamp, gi, 4) &
                (MSHM_GF_DEGRADED | MSHM_GF_FAILOVER | MSHM_GF_ODOWN));
    if (mj == MSHM_NONE) {
        g->flags |= MSHM_GF_NO_MASTER;
        g->master_idx = MSHM_NONE;
    } else {
        g->master_idx = gi * T_PER_GROUP + mj;
    }
    g->power = (uint32_t)mix(stamp, gi, 5);
    g->max_lag_ms = (uint32_t)STAMP_PUB(stamp);
    g->n_servers = (uint16_t)nsrv;
    g->route = (uint8_t)(mix(stamp, gi, 6) % 3);
    g->n_master_down = (uint32_t)mix(stamp, gi, 10);
    g->n_master_up = (uint32_t)mix(stamp, gi, 11);
    g->n_master_switch = (uint32_t)mix(stamp, gi, 12);
    g->n_all_slaves_down = (uint32_t)mix(stamp, gi, 13);
    g->n_all_slaves_up = (uint32_t)mix(stamp, gi, 14);
    g->n_degraded = (uint32_t)mix(stamp, gi, 15);
    for (j = 0; j < MSHM_GROUP_SERVERS; j++) {
        g->servers[j] = j < nsrv ? gi * T_PER_GROUP + j : MSHM_NONE;
    }
}

static void
build_server(struct mshm_server *s, uint32_t si, uint64_t stamp)
{
    uint32_t gi = si / T_PER_GROUP, j = si % T_PER_GROUP;

    memset(s, 0, sizeof(*s));
    s->flags = MSHM_SF_IN_USE |
               ((uint32_t)mix(stamp, si, 21) &
                (MSHM_SF_SDOWN | MSHM_SF_LOADING | MSHM_SF_SYNCING | MSHM_SF_LAGGING |
                 MSHM_SF_READABLE));
    if (has_long(si)) {
        s->flags |= MSHM_SF_HOST_LONG;
        s->longname_idx = gi / 4;
    } else {
        snprintf(s->host, sizeof(s->host), "10.%u.%u.%u-%016" PRIx64, gi, j,
                 (unsigned)(stamp & 0xff), stamp);
        s->longname_idx = MSHM_NONE;
    }
    s->last_ok_mono_ns = mix(stamp, si, 20);
    s->repl_offset = stamp;
    s->group_idx = gi;
    s->power = (uint32_t)(mix(stamp, si, 22) % 1000);
    s->n_down = (uint32_t)mix(stamp, si, 23);
    s->n_up = (uint32_t)mix(stamp, si, 24);
    s->lag_ms = (uint32_t)mix(stamp, si, 25);
    s->rtt_us = (uint32_t)mix(stamp, si, 26);
    s->port = (uint16_t)(1024 + mix(stamp, si, 27) % 60000);
    s->role = j == g_master(gi, stamp) ? MSHM_ROLE_MASTER : MSHM_ROLE_REPLICA;
    s->health = (uint8_t)(1 + mix(stamp, si, 28) % 2);
}

static void
build_longname(char out[MSHM_HOST_MAX], uint32_t li, uint64_t stamp)
{
    int n;
    size_t i, len = 80 + (size_t)(mix(stamp, li, 40) % 150);

    memset(out, 0, MSHM_HOST_MAX);
    n = snprintf(out, MSHM_HOST_MAX, "longhost-%u-%016" PRIx64 "-", li, stamp);
    for (i = (size_t)n; i < len; i++) {
        out[i] = (char)('a' + (stamp + i) % 26);
    }
}

static void
build_cluster(struct mshm_cluster *c, uint32_t ci, uint64_t stamp)
{
    uint32_t j;

    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "c%u-%016" PRIx64, ci, stamp);
    c->flags = MSHM_CF_IN_USE;
    if (mix(stamp, ci, 50) & 1) {
        c->flags |= MSHM_CF_HASH_TAG;
        c->hash_tag[0] = '{';
        c->hash_tag[1] = '}';
    }
    c->kind = MSHM_KIND_CLUSTER;
    c->rule = (uint8_t)(mix(stamp, ci, 51) % 2);
    c->dist = (uint8_t)(mix(stamp, ci, 52) % 3);
    c->hash = (uint8_t)(mix(stamp, ci, 53) % 12);
    c->n_members = T_PER_GROUP;
    c->primary = MSHM_NONE;
    if (c->rule == MSHM_RULE_MARSHAL1) {
        c->mirror_policy = (uint8_t)(mix(stamp, ci, 54) % 2);
        c->primary = (uint32_t)(mix(stamp, ci, 55) % T_PER_GROUP);
    }
    for (j = 0; j < T_PER_GROUP; j++) {
        c->members[j].idx = ci * T_PER_GROUP + j;
        c->members[j].power = (uint16_t)(1 + mix(stamp, ci * T_PER_GROUP + j, 56) % 100);
        c->members[j].flags = j == c->primary ? MSHM_MF_PRIMARY : 0;
    }
}

/* Event k of the commit stamped epoch, about group gi. */
static void
build_event(struct mshm_event *e, uint64_t epoch, uint32_t gi, uint32_t k)
{
    memset(e, 0, sizeof(*e));
    e->epoch = epoch;
    e->type = (uint16_t)(1 + mix(epoch, gi * 4 + k, 30) % (MSHM_EV_TYPE_MAX - 1));
    e->flags = (uint16_t)k;
    e->group_idx = gi;
    e->server_idx = gi * T_PER_GROUP;
    e->old_idx = (uint32_t)mix(epoch, gi * 4 + k, 31);
    e->new_idx = k;
    e->cluster_idx = MSHM_NONE;
}

/* Events per commit, a function of the commit's pub_seq. */
static uint32_t
events_per_commit(uint64_t pub)
{
    return 1 + (uint32_t)(pub % 3);
}

/* Record equality ignoring the writer-assigned change_seq and gen. */
static int
same_group(const struct mshm_group *a, const struct mshm_group *b)
{
    struct mshm_group x = *a, y = *b;

    x.change_seq = y.change_seq = 0;
    x.gen = y.gen = 0;
    return memcmp(&x, &y, sizeof(x)) == 0;
}

static int
same_server(const struct mshm_server *a, const struct mshm_server *b)
{
    struct mshm_server x = *a, y = *b;

    x.change_seq = y.change_seq = 0;
    x.gen = y.gen = 0;
    return memcmp(&x, &y, sizeof(x)) == 0;
}

static int
same_cluster(const struct mshm_cluster *a, const struct mshm_cluster *b)
{
    struct mshm_cluster x = *a, y = *b;

    x.change_seq = y.change_seq = 0;
    x.gen = y.gen = 0;
    return memcmp(&x, &y, sizeof(x)) == 0;
}

static int
copy_pub(const struct mshm_view *v, void *arg)
{
    *(uint64_t *)arg = mshm_ld(&mshm_view_slot_hdr(v)->pub_seq);
    return MSHM_OK;
}

/* ---- writer child -------------------------------------------------------- */

struct wctx {
    struct mshm_writer *w;
    uint64_t pub;            /* pub_seq of the last publish                 */
    uint32_t inc;            /* incarnation number (1, 2, ...)              */
    uint8_t picked[T_GROUPS];
    uint32_t list[T_GROUPS]; /* groups restamped in the commit being staged */
    uint32_t n_list;
};

static void
wfail(const char *what, int rc)
{
    fprintf(stderr, "torture: writer: %s: %s\n", what, mshm_strerror(rc));
    ST_ADD(sh->writer_errors, 1);
    _exit(4);
}

static int
w_group_in_use(const struct wctx *c, uint32_t gi)
{
    return (mshm_w_group(c->w, gi)->flags & MSHM_GF_IN_USE) != 0;
}

/* Stage group gi, its servers and its long host name with a new stamp. */
static void
restamp_group(struct wctx *c, uint32_t gi, uint64_t stamp)
{
    struct mshm_group g;
    struct mshm_server s;
    char ln[MSHM_HOST_MAX];
    uint32_t j, si, nsrv = g_nsrv(gi, stamp);
    int rc;

    build_group(&g, gi, stamp);
    if ((rc = mshm_w_put_group(c->w, gi, &g)) != MSHM_OK) {
        wfail("put group", rc);
    }
    for (j = 0; j < T_PER_GROUP; j++) {
        si = gi * T_PER_GROUP + j;
        if (j < nsrv) {
            build_server(&s, si, stamp);
            rc = mshm_w_put_server(c->w, si, &s);
        } else if (mshm_w_server(c->w, si)->flags & MSHM_SF_IN_USE) {
            rc = mshm_w_del_server(c->w, si);
        } else {
            rc = MSHM_OK;
        }
        if (rc != MSHM_OK) {
            wfail("put server", rc);
        }
    }
    if (has_long(gi * T_PER_GROUP)) {
        build_longname(ln, gi / 4, stamp);
        if ((rc = mshm_w_put_longname(c->w, gi / 4, ln)) != MSHM_OK) {
            wfail("put long name", rc);
        }
    }
    c->picked[gi] = 1;
    c->list[c->n_list++] = gi;
}

static void
delete_group(struct wctx *c, uint32_t gi)
{
    uint32_t j, si;
    int rc;

    for (j = 0; j < T_PER_GROUP; j++) {
        si = gi * T_PER_GROUP + j;
        if ((mshm_w_server(c->w, si)->flags & MSHM_SF_IN_USE) &&
            (rc = mshm_w_del_server(c->w, si)) != MSHM_OK) {
            wfail("delete server", rc);
        }
    }
    if ((rc = mshm_w_del_group(c->w, gi)) != MSHM_OK) {
        wfail("delete group", rc);
    }
    c->picked[gi] = 1;
}

static uint32_t
pick_unpicked(struct wctx *c)
{
    uint32_t gi = rnd_below(T_GROUPS), i;

    for (i = 0; i < T_GROUPS; i++, gi = (gi + 1) % T_GROUPS) {
        if (!c->picked[gi]) {
            return gi;
        }
    }
    return MSHM_NONE;
}

/*
 * Stage one commit: fill (groups [0, 32) and the clusters if missing), then
 * restamp at least ngroups random groups and at least min_records records;
 * extra = 1 allows a cluster restamp and a group delete.  Queues the events.
 */
static void
stage_commit(struct wctx *c, uint32_t ngroups, uint32_t min_records, int extra)
{
    uint64_t stamp = ((c->pub + 1) << 16) | (c->inc & 0xffffu);
    struct mshm_cluster cl;
    struct mshm_event ev;
    uint32_t gi, ci, k, nev;
    int rc;

    memset(c->picked, 0, sizeof(c->picked));
    c->n_list = 0;
    for (gi = 0; gi < T_FIXED; gi++) {
        if (!w_group_in_use(c, gi)) {
            restamp_group(c, gi, stamp);
        }
    }
    for (ci = 0; ci < T_CLUSTERS; ci++) {
        if ((mshm_w_cluster(c->w, ci)->flags & MSHM_CF_IN_USE) == 0) {
            build_cluster(&cl, ci, stamp);
            if ((rc = mshm_w_put_cluster(c->w, ci, &cl)) != MSHM_OK) {
                wfail("put cluster", rc);
            }
        }
    }
    do {
        gi = pick_unpicked(c);
        if (gi == MSHM_NONE) {
            break;
        }
        restamp_group(c, gi, stamp);
    } while (c->n_list < ngroups || mshm_w_pending(c->w) < min_records);
    if (extra && rnd_below(4) == 0) {
        ci = rnd_below(T_CLUSTERS);
        build_cluster(&cl, ci, stamp);
        if ((rc = mshm_w_put_cluster(c->w, ci, &cl)) != MSHM_OK) {
            wfail("put cluster", rc);
        }
    }
    if (extra && rnd_below(8) == 0) {
        gi = T_FIXED + rnd_below(T_GROUPS - T_FIXED);
        if (!c->picked[gi] && w_group_in_use(c, gi)) {
            delete_group(c, gi);
        }
    }
    nev = events_per_commit(c->pub + 1);
    for (k = 0; k < nev; k++) {
        build_event(&ev, stamp, c->list[k % c->n_list], k);
        if ((rc = mshm_w_emit(c->w, &ev)) != MSHM_OK) {
            wfail("emit", rc);
        }
    }
}

/* pub_seq of the published state, read as a reader would. */
static uint64_t
published_pub(void)
{
    struct mshm_reader r;
    uint64_t pub = 0;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = mshm_attach(&r, cfg.path, 0);
    if (rc != MSHM_OK) {
        fprintf(stderr, "torture: writer: attach: %s\n", r.errstr);
        wfail("attach", rc);
    }
    rc = mshm_read(&r, copy_pub, &pub, NULL);
    mshm_detach(&r);
    if (rc != MSHM_OK) {
        wfail("read pub_seq", rc);
    }
    return pub;
}

/* Open the writer on cfg.path with the test hook kill_after; _exit on failure. */
static struct mshm_writer *
open_writer(uint32_t inc, uint64_t kill_after, int *how)
{
    struct mshm_writer_opts o;
    struct mshm_writer *w = NULL;
    char err[256];
    int rc;

    memset(&o, 0, sizeof(o));
    o.path = cfg.path;
    o.gid = (gid_t)-1;
    o.group_cap = T_GROUPS;
    o.server_cap = T_SERVERS;
    o.cluster_cap = T_CLUSTER_CAP;
    o.longname_cap = T_LONGNAME_CAP;
    o.ring_cap = T_RING;
    o.hb_interval_ms = 10;
    o.flags = cfg.no_repair ? MSHM_W_NO_REPAIR : 0;
    o.test_kill_after = kill_after;
    err[0] = '\0';
    *how = -1;
    rc = mshm_writer_open(&o, &w, how, err, sizeof(err));
    if (rc != MSHM_OK) {
        fprintf(stderr, "torture: writer %u: open: %s: %s\n", inc, mshm_strerror(rc), err);
        ST_ADD(sh->open_errors, 1);
        _exit(3);
    }
    if (*how == MSHM_REPLACED && (cfg.verbose || !cfg.no_repair)) {
        fprintf(stderr, "torture: writer %u replaced the segment: %s\n", inc, err);
    }
    return w;
}

/* Does the model lack the fixed groups or the clusters (fresh segment)? */
static int
needs_fill(const struct wctx *c)
{
    uint32_t i;

    for (i = 0; i < T_FIXED; i++) {
        if (!w_group_in_use(c, i)) {
            return 1;
        }
    }
    for (i = 0; i < T_CLUSTERS; i++) {
        if ((mshm_w_cluster(c->w, i)->flags & MSHM_CF_IN_USE) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * One writer incarnation.  kill_after != 0: after `small` commits small
 * enough not to trigger it (only possible when kill_after > 10: one group
 * restamp stages at most 10 records), commit at least kill_after records so
 * the hook fires inside the first copy.  A fresh segment is filled first by
 * an open without the hook (else a hooked writer would always die filling
 * it and the state would never grow past empty), then the writer re-opens
 * (adopts) with the hook.
 */
static void
writer_main(uint32_t inc, uint64_t kill_after, uint32_t small, double deadline)
{
    struct wctx c;
    uint32_t n, burst = 0;
    int how, how2, rc, big;

    memset(&c, 0, sizeof(c));
    c.inc = inc;
    c.w = open_writer(inc, 0, &how);
    if (how == MSHM_ADOPTED) {
        ST_ADD(sh->adopted, 1);
    } else if (how == MSHM_CREATED) {
        ST_ADD(sh->created, 1);
    } else {
        ST_ADD(sh->replaced, 1);
    }
    c.pub = how == MSHM_ADOPTED ? published_pub() : 0;
    if (needs_fill(&c)) {
        stage_commit(&c, 1, 0, 0);
        if (mshm_w_commit(c.w) <= 0) {
            wfail("fill commit published nothing", MSHM_OK);
        }
        c.pub++;
        ST_ADD(sh->commits, 1);
    }
    if (kill_after != 0) {
        mshm_writer_close(c.w, 0);
        c.w = open_writer(inc, kill_after, &how2);
        if (how2 != MSHM_ADOPTED) {
            wfail("re-open did not adopt", MSHM_OK);
        }
        c.pub = published_pub();
    }
    for (n = 0; n < 100000000u && now_s() < deadline; n++) {
        big = 0;
        if (kill_after == 0) {
            stage_commit(&c, 1 + rnd_below(6), 0, 1);
        } else if (kill_after > 10 && n < small) {
            stage_commit(&c, 1, 0, 0);
        } else {
            stage_commit(&c, 1, (uint32_t)kill_after, 1);
            big = 1;
        }
        rc = mshm_w_commit(c.w);
        if (rc <= 0) {
            wfail("commit published nothing", rc);
        }
        if (big) {
            fprintf(stderr, "torture: writer %u survived test_kill_after=%" PRIu64
                    " committing %d records\n", inc, kill_after, rc);
            wfail("test_kill_after did not fire", MSHM_OK);
        }
        c.pub++;
        ST_ADD(sh->commits, 1);
        if (n % 8 == 0) {
            mshm_w_heartbeat(c.w);
        }
        /* bursts of back-to-back commits, then a short pause */
        if (burst == 0) {
            burst = 1 + rnd_below(200);
            sleep_us(rnd_below(100));
        }
        burst--;
    }
    mshm_writer_close(c.w, 1);
    _exit(0);
}

/* ---- reader child -------------------------------------------------------- */

/* What a reader remembers about the segment it is attached to. */
struct rtrack {
    uint64_t last_latch;     /* latch of the newest consistent read       */
    uint64_t last_pub;       /* pub_seq of the newest whole-state read    */
    uint64_t gpub[T_GROUPS]; /* newest stamp pub seen per group (0 none)  */
    uint64_t max_ev_pub;     /* newest event pub_seq read                 */
    int have_prev;           /* previous event valid for order checks     */
    uint64_t prev_seq, prev_pub;
    uint32_t prev_k;
};

static int reader_id;
static unsigned msgs;

/* Count an inconsistency in category *cat and print the first few. */
static void
torn(struct reader_stats *s, uint64_t *cat, const char *fmt, ...)
{
    va_list ap;
    char buf[400];

    ST_ADD(s->torn, 1);
    ST_ADD(*cat, 1);
    if (msgs < T_MSG_MAX || cfg.verbose) {
        msgs++;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        fprintf(stderr, "torture: reader %d: TORN: %s\n", reader_id, buf);
    }
}

static int
check_latch(struct reader_stats *s, struct rtrack *t, uint64_t latch)
{
    if (latch < t->last_latch) {
        torn(s, &s->torn_order, "latch went back %" PRIu64 " -> %" PRIu64, t->last_latch,
             latch);
        return -1;
    }
    t->last_latch = latch;
    return 0;
}

/* Stamp pub of group gi must not go back. */
static int
check_gpub(struct reader_stats *s, struct rtrack *t, uint32_t gi, uint64_t stamp)
{
    if (STAMP_PUB(stamp) < t->gpub[gi]) {
        torn(s, &s->torn_order, "group %u went back from pub %" PRIu64 " to %" PRIu64, gi,
             t->gpub[gi], STAMP_PUB(stamp));
        return -1;
    }
    t->gpub[gi] = STAMP_PUB(stamp);
    return 0;
}

/* Word-by-word checks of a whole-state copy beyond mshm_check_state. */
static void
verify_state(struct reader_stats *s, struct rtrack *t, const struct mshm_state *st)
{
    const struct mshm_slot_hdr *h = &st->hdr;
    struct mshm_group eg;
    struct mshm_server es;
    struct mshm_cluster ec;
    char eln[MSHM_HOST_MAX];
    uint64_t maxpub = 0, stamp;
    uint32_t gi, si, li, ci, j;
    unsigned cin;
    int any = 0;

    if (check_latch(s, t, st->latch) != 0) {
        return;
    }
    if (h->pub_seq < t->last_pub) {
        torn(s, &s->torn_order, "pub_seq went back %" PRIu64 " -> %" PRIu64, t->last_pub,
             h->pub_seq);
        return;
    }
    t->last_pub = h->pub_seq;
    if (h->n_groups > T_GROUPS || h->n_servers > T_SERVERS || h->n_clusters > T_CLUSTER_CAP ||
        h->n_longnames > T_LONGNAMES) {
        torn(s, &s->torn_cross, "counts %u/%u/%u/%u beyond what the writer uses",
             h->n_groups, h->n_servers, h->n_clusters, h->n_longnames);
        return;
    }
    for (gi = 0; gi < h->n_groups; gi++) {
        const struct mshm_group *g = &st->groups[gi];

        if ((g->flags & MSHM_GF_IN_USE) == 0) {
            if (gi < T_FIXED && t->gpub[gi] != 0) {
                torn(s, &s->torn_order, "fixed group %u vanished", gi);
                return;
            }
            continue;
        }
        stamp = g->master_epoch;
        if (STAMP_PUB(stamp) == 0 || STAMP_PUB(stamp) > h->pub_seq) {
            torn(s, &s->torn_cross, "group %u stamp pub %" PRIu64 " vs slot pub_seq %" PRIu64,
                 gi, STAMP_PUB(stamp), h->pub_seq);
            return;
        }
        build_group(&eg, gi, stamp);
        if (!same_group(g, &eg)) {
            torn(s, &s->torn_record, "group %u (stamp %016" PRIx64 ") differs from its model",
                 gi, stamp);
            return;
        }
        if (check_gpub(s, t, gi, stamp) != 0) {
            return;
        }
        if (STAMP_PUB(stamp) > maxpub) {
            maxpub = STAMP_PUB(stamp);
        }
        any = 1;
    }
    for (si = 0; si < h->n_servers; si++) {
        const struct mshm_server *sv = &st->servers[si];
        const struct mshm_group *g;

        gi = si / T_PER_GROUP;
        j = si % T_PER_GROUP;
        g = gi < h->n_groups ? &st->groups[gi] : NULL;
        if ((sv->flags & MSHM_SF_IN_USE) == 0) {
            if (g != NULL && (g->flags & MSHM_GF_IN_USE) && j < g->n_servers) {
                torn(s, &s->torn_cross, "server %u listed by group %u but not in use", si, gi);
                return;
            }
            continue;
        }
        if (g == NULL || (g->flags & MSHM_GF_IN_USE) == 0 || j >= g->n_servers) {
            torn(s, &s->torn_cross, "server %u in use but not listed by group %u", si, gi);
            return;
        }
        if (sv->repl_offset != g->master_epoch) {
            torn(s, &s->torn_cross, "server %u stamp %016" PRIx64 " != group %u stamp %016"
                 PRIx64, si, sv->repl_offset, gi, g->master_epoch);
            return;
        }
        build_server(&es, si, sv->repl_offset);
        if (!same_server(sv, &es)) {
            torn(s, &s->torn_record, "server %u (stamp %016" PRIx64 ") differs from its model",
                 si, sv->repl_offset);
            return;
        }
    }
    for (li = 0; li < h->n_longnames; li++) {
        si = li * 4 * T_PER_GROUP;
        if (si >= h->n_servers || (st->servers[si].flags & MSHM_SF_IN_USE) == 0) {
            continue;
        }
        build_longname(eln, li, st->servers[si].repl_offset);
        if (memcmp(st->longnames[li].host, eln, MSHM_HOST_MAX) != 0) {
            torn(s, &s->torn_cross, "long name %u does not match server %u stamp %016" PRIx64,
                 li, si, st->servers[si].repl_offset);
            return;
        }
    }
    if (any && (h->n_clusters < T_CLUSTERS || h->n_longnames < T_LONGNAMES)) {
        torn(s, &s->torn_cross, "groups in use but only %u clusters, %u long names",
             h->n_clusters, h->n_longnames);
        return;
    }
    for (ci = 0; ci < h->n_clusters; ci++) {
        const struct mshm_cluster *cl = &st->clusters[ci];

        if ((cl->flags & MSHM_CF_IN_USE) == 0) {
            if (ci < T_CLUSTERS && any) {
                torn(s, &s->torn_cross, "cluster %u not in use while groups are", ci);
                return;
            }
            continue;
        }
        if (sscanf(cl->name, "c%u-%" SCNx64, &cin, &stamp) != 2 || cin != ci) {
            torn(s, &s->torn_record, "cluster %u name '%.63s' unparsable", ci, cl->name);
            return;
        }
        if (STAMP_PUB(stamp) == 0 || STAMP_PUB(stamp) > h->pub_seq) {
            torn(s, &s->torn_cross, "cluster %u stamp pub %" PRIu64 " vs slot pub_seq %"
                 PRIu64, ci, STAMP_PUB(stamp), h->pub_seq);
            return;
        }
        build_cluster(&ec, ci, stamp);
        if (!same_cluster(cl, &ec)) {
            torn(s, &s->torn_record, "cluster %u (stamp %016" PRIx64 ") differs from its model",
                 ci, stamp);
            return;
        }
        if (STAMP_PUB(stamp) > maxpub) {
            maxpub = STAMP_PUB(stamp);
        }
    }
    /* every commit restamps at least one group that stays in use */
    if (any && maxpub != h->pub_seq) {
        torn(s, &s->torn_cross, "newest record pub %" PRIu64 " != slot pub_seq %" PRIu64,
             maxpub, h->pub_seq);
        return;
    }
    if (!any && h->pub_seq != 0) {
        torn(s, &s->torn_cross, "no group in use at pub_seq %" PRIu64, h->pub_seq);
        return;
    }
    ST_ADD(s->snapshots, 1);
}

static void
verify_group_snap(struct reader_stats *s, struct rtrack *t, uint32_t gi,
                  const struct mshm_group_snap *gs)
{
    struct mshm_group eg;
    struct mshm_server es;
    uint64_t stamp = gs->group.master_epoch;
    uint32_t j;

    if (check_latch(s, t, gs->latch) != 0) {
        return;
    }
    build_group(&eg, gi, stamp);
    if (!same_group(&gs->group, &eg)) {
        torn(s, &s->torn_record, "snap: group %u (stamp %016" PRIx64 ") differs from its model",
             gi, stamp);
        return;
    }
    for (j = 0; j < gs->group.n_servers; j++) {
        const struct mshm_server *sv = &gs->servers[j];

        if (sv->repl_offset != stamp || sv->group_idx != gi) {
            torn(s, &s->torn_cross, "snap: group %u stamp %016" PRIx64 " but its server %u has "
                 "stamp %016" PRIx64 " group %u", gi, stamp, gi * T_PER_GROUP + j,
                 sv->repl_offset, sv->group_idx);
            return;
        }
        build_server(&es, gi * T_PER_GROUP + j, stamp);
        if (!same_server(sv, &es)) {
            torn(s, &s->torn_record, "snap: server %u (stamp %016" PRIx64 ") differs from its "
                 "model", gi * T_PER_GROUP + j, stamp);
            return;
        }
    }
    if (check_gpub(s, t, gi, stamp) != 0) {
        return;
    }
    ST_ADD(s->group_snaps, 1);
}

static void
verify_event(struct reader_stats *s, struct rtrack *t, const struct mshm_event *ev)
{
    struct mshm_event ee;
    uint32_t k = ev->flags;

    if (STAMP_PUB(ev->epoch) != ev->pub_seq || k >= events_per_commit(ev->pub_seq) ||
        ev->group_idx >= T_GROUPS) {
        torn(s, &s->torn_event, "event %" PRIu64 ": epoch %016" PRIx64 " pub_seq %" PRIu64
             " k %u group %u inconsistent", ev->seq, ev->epoch, ev->pub_seq, k, ev->group_idx);
        t->have_prev = 0;
        return;
    }
    build_event(&ee, ev->epoch, ev->group_idx, k);
    if (ev->type != ee.type || ev->server_idx != ee.server_idx || ev->old_idx != ee.old_idx ||
        ev->new_idx != ee.new_idx || ev->cluster_idx != ee.cluster_idx || ev->mono_ns == 0 ||
        ev->realtime_ns == 0) {
        torn(s, &s->torn_event, "event %" PRIu64 " payload differs from its model", ev->seq);
        t->have_prev = 0;
        return;
    }
    if (t->have_prev) {
        if (ev->seq != t->prev_seq + 1) {
            torn(s, &s->torn_event, "event seq %" PRIu64 " after %" PRIu64, ev->seq,
                 t->prev_seq);
        } else if (ev->pub_seq == t->prev_pub ? k != t->prev_k + 1
                                              : (ev->pub_seq < t->prev_pub || k != 0)) {
            torn(s, &s->torn_event, "event %" PRIu64 " (pub %" PRIu64 " #%u) after (pub %"
                 PRIu64 " #%u)", ev->seq, ev->pub_seq, k, t->prev_pub, t->prev_k);
        }
    }
    t->have_prev = 1;
    t->prev_seq = ev->seq;
    t->prev_pub = ev->pub_seq;
    t->prev_k = k;
    if (ev->pub_seq > t->max_ev_pub) {
        t->max_ev_pub = ev->pub_seq;
    }
    ST_ADD(s->events, 1);
}

static void
drain_events(struct reader_stats *s, struct rtrack *t, struct mshm_reader *r)
{
    struct mshm_event ev;
    uint64_t lost = 0, pub = 0;
    int i, rc, got = 0;

    for (i = 0; i < 4 * T_RING; i++) {
        rc = mshm_next_event(r, &ev, &lost);
        if (rc == 0) {
            break;
        }
        if (rc == MSHM_ERR_LOST) {
            ST_ADD(s->lost_resyncs, 1);
            ST_ADD(s->lost_events, lost);
            t->have_prev = 0;
            continue;
        }
        if (rc != 1) {
            torn(s, &s->torn_event, "mshm_next_event: %s", mshm_strerror(rc));
            break;
        }
        verify_event(s, t, &ev);
        got = 1;
    }
    /* events are appended after the state they describe is published */
    if (got) {
        rc = mshm_read(r, copy_pub, &pub, NULL);
        if (rc == MSHM_ERR_BUSY) {
            ST_ADD(s->busy, 1);
        } else if (rc == MSHM_OK && pub < t->max_ev_pub) {
            torn(s, &s->torn_event, "event of pub %" PRIu64 " visible before state pub %"
                 PRIu64 " (state shows %" PRIu64 ")", t->max_ev_pub, t->max_ev_pub, pub);
        }
    }
}

/* A slot header, one group and its servers, copied in one latch read. */
struct gview {
    uint32_t gi;
    unsigned calls;          /* copy passes: > 1 means the latch moved   */
    struct mshm_slot_hdr hdr;
    struct mshm_group g;
    struct mshm_server s[T_PER_GROUP];
};

static int
copy_gview(const struct mshm_view *v, void *arg)
{
    struct gview *a = arg;
    const struct mshm_group *g = mshm_view_group(v, a->gi);
    uint32_t j, n;

    a->calls++;
    mshm_copy_in(&a->hdr, mshm_view_slot_hdr(v), sizeof(a->hdr));
    if (g == NULL) {
        return MSHM_ERR_RANGE;
    }
    mshm_copy_in(&a->g, g, sizeof(a->g));
    n = a->g.n_servers < T_PER_GROUP ? a->g.n_servers : T_PER_GROUP;
    for (j = 0; j < n; j++) {
        mshm_copy_in(&a->s[j], mshm_view_server(v, a->gi * T_PER_GROUP + j),
                     sizeof(a->s[j]));
    }
    return MSHM_OK;
}

/*
 * Our own latch read: the group must agree with the slot header it was
 * copied with (in use only below n_groups, stamp not newer than pub_seq).
 */
static void
read_gview(struct reader_stats *s, struct rtrack *t, const struct mshm_reader *r,
           uint32_t gi)
{
    struct gview a;
    struct mshm_group eg;
    struct mshm_server es;
    uint64_t latch = 0, stamp;
    uint32_t j;
    int rc;

    memset(&a, 0, sizeof(a));
    a.gi = gi;
    rc = mshm_read(r, copy_gview, &a, &latch);
    ST_ADD(s->retries, a.calls > 0 ? a.calls - 1 : 0);
    if (rc == MSHM_ERR_BUSY) {
        ST_ADD(s->busy, 1);
        return;
    }
    if (rc != MSHM_OK) {
        torn(s, &s->torn_cross, "view of group %u: %s", gi, mshm_strerror(rc));
        return;
    }
    if (check_latch(s, t, latch) != 0) {
        return;
    }
    if (a.hdr.pub_seq < t->last_pub) {
        torn(s, &s->torn_order, "view: pub_seq went back %" PRIu64 " -> %" PRIu64,
             t->last_pub, a.hdr.pub_seq);
        return;
    }
    t->last_pub = a.hdr.pub_seq;
    if ((a.g.flags & MSHM_GF_IN_USE) == 0) {
        if (gi < T_FIXED && t->gpub[gi] != 0) {
            torn(s, &s->torn_order, "view: fixed group %u not in use", gi);
        }
        ST_ADD(s->view_reads, 1);
        return;
    }
    stamp = a.g.master_epoch;
    if (gi >= a.hdr.n_groups || STAMP_PUB(stamp) == 0 || STAMP_PUB(stamp) > a.hdr.pub_seq) {
        torn(s, &s->torn_cross, "view: group %u (stamp pub %" PRIu64 ") in use with slot "
             "n_groups %u pub_seq %" PRIu64, gi, STAMP_PUB(stamp), a.hdr.n_groups,
             a.hdr.pub_seq);
        return;
    }
    build_group(&eg, gi, stamp);
    if (!same_group(&a.g, &eg)) {
        torn(s, &s->torn_record, "view: group %u (stamp %016" PRIx64 ") differs from its "
             "model", gi, stamp);
        return;
    }
    for (j = 0; j < a.g.n_servers; j++) {
        build_server(&es, gi * T_PER_GROUP + j, stamp);
        if (!same_server(&a.s[j], &es)) {
            torn(s, &s->torn_cross, "view: server %u (stamp %016" PRIx64 ") does not match "
                 "group %u stamp %016" PRIx64, gi * T_PER_GROUP + j, a.s[j].repl_offset, gi,
                 stamp);
            return;
        }
    }
    if (check_gpub(s, t, gi, stamp) != 0) {
        return;
    }
    ST_ADD(s->view_reads, 1);
}

static void
reader_main(int id, double deadline)
{
    struct reader_stats *s = &sh->rs[id];
    struct mshm_reader r;
    struct mshm_state st;
    struct mshm_group_snap gs;
    struct rtrack *t;
    char err[256];
    uint64_t it, l0;
    uint32_t seen = 0, gi;
    int rc, i, attached = 0;

    reader_id = id;
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        _exit(2);
    }
    memset(&r, 0, sizeof(r));
    for (it = 0; it < 100000000u; it++) {
        if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE) || now_s() >= deadline) {
            break;
        }
        if (!attached) {
            if (mshm_attach(&r, cfg.path, 0) != MSHM_OK) {
                sleep_us(500);
                continue;
            }
            attached = 1;
            __atomic_store_n(&s->attached, 1, __ATOMIC_RELAXED);
        }
        ST_ADD(s->iterations, 1);

        l0 = mshm_generation(&r);
        rc = mshm_read_state(&r, &st);
        if (rc == MSHM_OK && st.latch != l0) {
            ST_ADD(s->raced, 1);
        }
        if (rc == MSHM_OK) {
            err[0] = '\0';
            if (mshm_check_state(&st, err, sizeof(err)) != MSHM_OK) {
                torn(s, &s->torn_sum, "mshm_check_state at latch %" PRIu64 ": %s", st.latch,
                     err);
            } else {
                verify_state(s, t, &st);
            }
        } else if (rc == MSHM_ERR_BUSY) {
            ST_ADD(s->busy, 1);
        } else if (rc == MSHM_ERR_CORRUPT) {
            torn(s, &s->torn_sum, "mshm_read_state: corrupt copy");
        } else {
            fprintf(stderr, "torture: reader %d: mshm_read_state: %s\n", id, mshm_strerror(rc));
            _exit(2);
        }
        mshm_state_free(&st);

        for (i = 0; i < 4; i++) {
            gi = rnd_below(T_GROUPS);
            l0 = mshm_generation(&r);
            rc = mshm_snap_group(&r, gi, &gs);
            if (rc == MSHM_OK && gs.latch != l0) {
                ST_ADD(s->raced, 1);
            }
            if (rc == MSHM_OK) {
                verify_group_snap(s, t, gi, &gs);
            } else if (rc == MSHM_ERR_BUSY) {
                ST_ADD(s->busy, 1);
            } else if (rc == MSHM_ERR_NOTFOUND) {
                if (gi < T_FIXED && t->gpub[gi] != 0) {
                    torn(s, &s->torn_order, "snap: fixed group %u not found", gi);
                }
            } else {
                torn(s, &s->torn_cross, "mshm_snap_group(%u): %s", gi, mshm_strerror(rc));
            }
        }

        for (i = 0; i < 4; i++) {
            read_gview(s, t, &r, rnd_below(T_GROUPS));
        }

        drain_events(s, t, &r);

        /* leave the writer a core now and then, so reads overlap publishes */
        if (rnd_below(4) == 0) {
            sleep_us(rnd_below(100));
        }
        if (it % 16 == 0) {
            /* nothing may block on a dead writer: wait at most 1 ms */
            (void)mshm_wait(&r, &seen, rnd_below(2));
            (void)mshm_liveness(&r, mshm_now_ns());
            if (mshm_replaced(&r) && mshm_reattach(&r, 0) == MSHM_OK) {
                ST_ADD(s->reattaches, 1);
                memset(t, 0, sizeof(*t));
                seen = 0;
            }
        }
    }
    if (attached) {
        mshm_detach(&r);
    }
    free(t);
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    _exit(0);
}

/* ---- parent -------------------------------------------------------------- */

static void
usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--kills N] [--readers R] [--seconds S] [--no-repair] [--seed X] "
            "[--verbose]\n"
            "  --kills N     writer SIGKILLs required (default 20)\n"
            "  --readers R   reader processes (default 4, max %d)\n"
            "  --seconds S   total run time (default 12)\n"
            "  --no-repair   writers adopt without repair: pass only if tearing is detected\n",
            argv0, T_MAX_READERS);
    exit(2);
}

static void
parse_args(int argc, char **argv)
{
    int i;

    cfg.kills = 20;
    cfg.readers = 4;
    cfg.seconds = 12;
    cfg.seed = mshm_now_ns() ^ ((uint64_t)getpid() << 40);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--kills") == 0 && i + 1 < argc) {
            cfg.kills = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc) {
            cfg.readers = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            cfg.seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            cfg.seed = strtoull(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--no-repair") == 0) {
            cfg.no_repair = 1;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            cfg.verbose = 1;
        } else {
            usage(argv[0]);
        }
    }
    if (cfg.readers < 1 || cfg.readers > T_MAX_READERS || cfg.seconds < 1 ||
        cfg.seconds > 3600) {
        usage(argv[0]);
    }
}

/* Remove the segment, its lock and temporary files of killed creators. */
static void
cleanup_files(void)
{
    char p[300], prefix[160];
    const char *base = strrchr(cfg.path, '/') + 1;
    struct dirent *de;
    DIR *d;

    unlink(cfg.path);
    snprintf(p, sizeof(p), "%s.lock", cfg.path);
    unlink(p);
    snprintf(prefix, sizeof(prefix), "%s.tmp.", base);
    d = opendir("/dev/shm");
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(p, sizeof(p), "/dev/shm/%s", de->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

/* Fork a writer incarnation. */
static pid_t
spawn_writer(uint32_t inc, uint64_t kill_after, uint32_t small, double deadline)
{
    pid_t parent = getpid(), pid;
    uint64_t seed = rnd();

    pid = fork();
    if (pid == 0) {
        die_with_parent(parent);
        seed_rng(seed ^ inc);
        writer_main(inc, kill_after, small, deadline);
    }
    return pid;
}

/*
 * Wait for writer pid to die by itself (up to max_ms), else SIGKILL it.
 * Returns 1 if we killed it, 0 if it died by SIGKILL itself, -1 otherwise.
 */
static int
kill_writer(pid_t pid, double max_ms)
{
    double until = now_s() + max_ms / 1000.0;
    int status = 0;
    pid_t w;

    for (;;) {
        w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            break;
        }
        if (now_s() >= until) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 1 : -1;
        }
        sleep_us(200);
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
        return 0;
    }
    fprintf(stderr, "torture: writer %ld ended with status 0x%x\n", (long)pid, status);
    return -1;
}

int
main(int argc, char **argv)
{
    pid_t readers[T_MAX_READERS], pid;
    struct reader_stats tot;
    unsigned i, self_kills = 0, sig_kills = 0, writer_bad = 0, reader_bad = 0, stuck = 0;
    unsigned attached = 0;
    double start, kill_end, hard_end;
    uint32_t inc = 0;
    uint64_t kill_after;
    int rc, status, ok;

    parse_args(argc, argv);
    seed_rng(cfg.seed);
    snprintf(cfg.path, sizeof(cfg.path), "/dev/shm/mshm-torture-%ld", (long)getpid());
    cleanup_files();
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    memset(sh, 0, sizeof(*sh));
    start = now_s();
    kill_end = start + cfg.seconds - 0.6;
    hard_end = start + cfg.seconds + 5;
    fflush(NULL);

    for (i = 0; i < cfg.readers; i++) {
        uint64_t seed = rnd();
        pid_t parent = getpid();

        pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            die_with_parent(parent);
            seed_rng(seed);
            reader_main((int)i, hard_end);
        }
        readers[i] = pid;
    }

    /* kill loop: start a writer, let it live a random while, SIGKILL it */
    while (now_s() < kill_end) {
        uint32_t small = 0;
        double life;

        inc++;
        kill_after = 0;
        if (cfg.no_repair || rnd_below(2) == 0) {
            /* the writer kills itself inside the first copy of a commit */
            kill_after = 1 + rnd_below(60);
            small = cfg.no_repair ? rnd_below(3) : rnd_below(400);
            life = 500;
        } else if (rnd_below(5) != 0) {
            life = 1 + rnd_below(30);
        } else {
            life = 30 + rnd_below(120);
        }
        pid = spawn_writer(inc, kill_after, small, hard_end);
        if (pid < 0) {
            perror("fork");
            break;
        }
        rc = kill_writer(pid, life);
        if (rc == 1) {
            sig_kills++;
        } else if (rc == 0) {
            self_kills++;
        } else {
            writer_bad++;
        }
        /* a restart is never instant: readers see the segment writerless */
        sleep_us(rnd_below(3000));
    }

    /* a last writer publishes undisturbed; then readers watch it dead */
    inc++;
    pid = spawn_writer(inc, 0, 0, hard_end);
    if (pid > 0) {
        sleep_us(300000);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    sleep_us(150000);

    /* stop and reap the readers; SIGKILL any that does not leave in time */
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
    for (i = 0; i < cfg.readers; i++) {
        double until = now_s() + 3.0;
        pid_t w;

        status = 0;
        while ((w = waitpid(readers[i], &status, WNOHANG)) == 0 && now_s() < until) {
            sleep_us(1000);
        }
        if (w != readers[i]) {
            fprintf(stderr, "torture: reader %u did not stop: killed\n", i);
            stuck++;
            kill(readers[i], SIGKILL);
            while (waitpid(readers[i], &status, 0) < 0 && errno == EINTR) {
            }
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "torture: reader %u ended with status 0x%x\n", i, status);
            reader_bad++;
        }
    }
    cleanup_files();

    memset(&tot, 0, sizeof(tot));
    for (i = 0; i < cfg.readers; i++) {
        struct reader_stats *s = &sh->rs[i];

        tot.iterations += ST_GET(s->iterations);
        tot.snapshots += ST_GET(s->snapshots);
        tot.group_snaps += ST_GET(s->group_snaps);
        tot.busy += ST_GET(s->busy);
        tot.torn += ST_GET(s->torn);
        tot.torn_sum += ST_GET(s->torn_sum);
        tot.torn_record += ST_GET(s->torn_record);
        tot.torn_cross += ST_GET(s->torn_cross);
        tot.torn_order += ST_GET(s->torn_order);
        tot.torn_event += ST_GET(s->torn_event);
        tot.events += ST_GET(s->events);
        tot.lost_resyncs += ST_GET(s->lost_resyncs);
        tot.lost_events += ST_GET(s->lost_events);
        tot.reattaches += ST_GET(s->reattaches);
        tot.view_reads += ST_GET(s->view_reads);
        tot.retries += ST_GET(s->retries);
        tot.raced += ST_GET(s->raced);
        attached += ST_GET(s->attached) ? 1u : 0u;
    }

    printf("torture: mode=%s seed=0x%" PRIx64 " seconds=%.1f readers=%u kills=%u (self=%u "
           "sig=%u) adopts=%" PRIu64 " created=%" PRIu64 " replaced=%" PRIu64
           " commits=%" PRIu64 "\n",
           cfg.no_repair ? "no-repair" : "normal", cfg.seed, now_s() - start, cfg.readers,
           self_kills + sig_kills, self_kills, sig_kills, ST_GET(sh->adopted),
           ST_GET(sh->created), ST_GET(sh->replaced), ST_GET(sh->commits));
    printf("torture: snapshots=%" PRIu64 " group_snaps=%" PRIu64 " views=%" PRIu64
           " raced=%" PRIu64 " view_retries=%" PRIu64 " torn=%" PRIu64
           " (sum=%" PRIu64 " record=%" PRIu64 " cross=%" PRIu64 " order=%" PRIu64
           " event=%" PRIu64 ") busy=%" PRIu64 " events=%" PRIu64 " lost_resyncs=%" PRIu64
           " lost_events=%" PRIu64 " reattaches=%" PRIu64 "\n",
           tot.snapshots, tot.group_snaps, tot.view_reads, tot.raced, tot.retries, tot.torn,
           tot.torn_sum, tot.torn_record,
           tot.torn_cross, tot.torn_order, tot.torn_event, tot.busy, tot.events,
           tot.lost_resyncs, tot.lost_events, tot.reattaches);

    if (cfg.no_repair) {
        ok = tot.torn > 0 && self_kills + sig_kills >= 1;
        printf("torture: %s: %s\n", ok ? "PASS" : "FAIL",
               ok ? "readers detected the skipped repair"
                  : "a writer skipping the repair went UNDETECTED");
        return ok ? 0 : 1;
    }
    ok = 1;
    if (tot.torn != 0) {
        printf("torture: FAIL: %" PRIu64 " torn reads\n", tot.torn);
        ok = 0;
    }
    if (self_kills + sig_kills < cfg.kills || ST_GET(sh->adopted) < cfg.kills) {
        printf("torture: FAIL: only %u kills, %" PRIu64 " adoptions (need %u)\n",
               self_kills + sig_kills, ST_GET(sh->adopted), cfg.kills);
        ok = 0;
    }
    if (tot.snapshots == 0 || tot.group_snaps == 0 || tot.view_reads == 0 || tot.events == 0 ||
        attached != cfg.readers) {
        printf("torture: FAIL: readers verified too little (%u attached)\n", attached);
        ok = 0;
    }
    if (ST_GET(sh->adopted) == 0 || ST_GET(sh->replaced) != 0 || ST_GET(sh->open_errors) != 0 ||
        ST_GET(sh->writer_errors) != 0 || writer_bad != 0) {
        printf("torture: FAIL: writer restarts: adopted %" PRIu64 ", replaced %" PRIu64
               ", open errors %" PRIu64 ", writer errors %" PRIu64 "/%u\n",
               ST_GET(sh->adopted), ST_GET(sh->replaced), ST_GET(sh->open_errors),
               ST_GET(sh->writer_errors), writer_bad);
        ok = 0;
    }
    if (reader_bad != 0 || stuck != 0) {
        printf("torture: FAIL: %u readers failed, %u hung\n", reader_bad, stuck);
        ok = 0;
    }
    printf("torture: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
