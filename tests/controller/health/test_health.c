/*
 * test_health.c -- ctl_health against real redis-servers (driven by
 * run_health.sh, which starts the servers and passes their ports in the
 * environment: M_PORT master, R_PORT its replica, A_PORT requirepass
 * AUTH_PW, L_PORT a server that can be restarted into a long LOADING, S_PORT
 * a redis-sentinel (optional), D_PORT nothing listening; HEALTH_CTL is the
 * command that kills/restarts/stops/continues a server by name).
 *
 * The fake model below provides the ctl_model_* symbols ctl_health uses
 * (ctl_model_probe, ctl_model_server_cred), records every probe and checks
 * invariants on each one.  Every wait is a bounded run of our own ev loop
 * until a predicate holds on a probe, never a sleep.
 */
#define _GNU_SOURCE
#include <ev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_conn.h"
#include "ctl_health.h"
#include "ctl_log.h"
#include "ctl_model.h"

/* Health settings for most cases (ms). */
#define INTERVAL   200u
#define TIMEOUT    300u
#define INFO_MS    600u
/* Scheduling allowance on top of the protocol bounds (sanitizers, CI). */
#define SLACK      400u

static struct ev_loop *loop;
static int failures;
static const char *auth_pw;

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            failures++;                                                                \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
        }                                                                              \
    } while (0)

/* ------------------------------------------------------------ fake model */

struct tsrv;
typedef int (*pred_fn)(const struct ctl_probe *p, const void *arg);

/* A test server: the model's ctl_server plus what the fake model recorded. */
struct tsrv {
    struct ctl_server s;        /* first: ctl_server * <-> tsrv *            */
    const char *name;
    struct ctl_cred cred;       /* what ctl_model_server_cred returns        */
    int watched;                /* probes are allowed                        */
    /* recording */
    uint32_t n_probes, n_ok, n_fail, n_info;
    uint32_t n_no_lags;         /* ok master probes without any lag entry    */
    uint32_t n_unlinked;        /* ok replica probes with link_up = 0        */
    uint64_t last_ms;           /* time of the last probe                    */
    uint64_t min_gap_ms;        /* smallest gap between probes since reset   */
    uint64_t min_gap_fail_ms;   /* ... between consecutive failed probes     */
    struct ctl_probe last;
    /* waiting */
    pred_fn want;
    const void *want_arg;
    int matched;
    uint64_t arm_ms;
    struct ctl_probe match;
    uint64_t match_ms;
    /* behaviour inside ctl_model_probe */
    int unwatch_in_probe;       /* unwatch s from inside the callback        */
    int check_now_in_probe;     /* this many more check_now calls from it    */
};

struct ctl_model {
    struct ctl_health *h;
};

static struct ctl_model model;

const struct ctl_cred *
ctl_model_server_cred(struct ctl_model *m, struct ctl_server *s)
{
    (void)m;
    return &((struct tsrv *)(void *)s)->cred;
}

void
ctl_model_probe(struct ctl_model *m, struct ctl_server *s, const struct ctl_probe *p)
{
    struct tsrv *t = (struct tsrv *)(void *)s;
    uint64_t now = ctl_now_ms();
    size_t elen = strnlen(p->error, sizeof(p->error));

    CHECK(t->watched, "%s: probe while not watched", t->name);
    CHECK(s->health_priv != NULL, "%s: probe after unwatch", t->name);
    CHECK(elen < sizeof(p->error), "%s: error not terminated", t->name);
    CHECK(p->ok == 0 || p->ok == 1, "%s: ok=%d", t->name, p->ok);
    if (p->ok) {
        CHECK(elen == 0, "%s: ok with error '%s'", t->name, p->error);
        CHECK(p->role == MSHM_ROLE_MASTER || p->role == MSHM_ROLE_REPLICA,
              "%s: ok with role %d", t->name, p->role);
        CHECK(p->rtt_us < TIMEOUT * 1000u, "%s: rtt %u us", t->name, p->rtt_us);
    } else {
        CHECK(elen > 0, "%s: failed probe without a reason", t->name);
        CHECK(p->role == MSHM_ROLE_UNKNOWN, "%s: failed with role %d", t->name, p->role);
        CHECK(p->n_lags == 0 && !p->have_info, "%s: failed probe with data", t->name);
    }
    CHECK(p->n_lags <= MSHM_GROUP_SERVERS, "%s: n_lags %u", t->name, p->n_lags);
    CHECK(p->n_lags == 0 || p->role == MSHM_ROLE_MASTER, "%s: lags on a non-master", t->name);
    CHECK(auth_pw == NULL || strstr(p->error, auth_pw) == NULL, "%s: password in '%s'",
          t->name, p->error);
    CHECK(strstr(p->error, "wrong-pw") == NULL, "%s: password in '%s'", t->name, p->error);

    if (t->n_probes > 0 && now - t->last_ms < t->min_gap_ms) {
        t->min_gap_ms = now - t->last_ms;
    }
    if (t->n_probes > 0 && !p->ok && !t->last.ok && now - t->last_ms < t->min_gap_fail_ms) {
        t->min_gap_fail_ms = now - t->last_ms;
    }
    t->n_probes++;
    t->n_ok += p->ok != 0;
    t->n_fail += p->ok == 0;
    t->n_info += p->have_info != 0;
    t->n_no_lags += p->ok && p->role == MSHM_ROLE_MASTER && p->n_lags == 0;
    t->n_unlinked += p->ok && p->role == MSHM_ROLE_REPLICA && !p->link_up;
    t->last_ms = now;
    t->last = *p;
    if (t->want != NULL && !t->matched && t->want(p, t->want_arg)) {
        t->matched = 1;
        t->match = *p;
        t->match_ms = now;
    }
    if (t->unwatch_in_probe) {
        t->unwatch_in_probe = 0;
        ctl_health_unwatch(m->h, s);
        t->watched = 0;
    } else if (t->check_now_in_probe > 0) {
        t->check_now_in_probe--;
        ctl_health_check_now(m->h, s);
    }
}

/* ---------------------------------------------------------------- helpers */

static uint16_t
env_port(const char *name)
{
    const char *v = getenv(name);
    long p = v != NULL ? strtol(v, NULL, 10) : 0;

    return p > 0 && p < 65536 ? (uint16_t)p : 0;
}

static void
tsrv_init(struct tsrv *t, const char *name, uint16_t port, const char *user, const char *pw)
{
    memset(t, 0, sizeof(*t));
    t->name = name;
    snprintf(t->s.addr.host, sizeof(t->s.addr.host), "127.0.0.1");
    t->s.addr.port = port;
    t->cred.username = (char *)user;
    t->cred.password = (char *)pw;
    t->min_gap_ms = t->min_gap_fail_ms = UINT64_MAX;
}

static void
tsrv_reset_stats(struct tsrv *t)
{
    t->n_probes = t->n_ok = t->n_fail = t->n_info = t->n_no_lags = t->n_unlinked = 0;
    t->min_gap_ms = t->min_gap_fail_ms = UINT64_MAX;
}

static void
watch(struct tsrv *t)
{
    t->watched = 1;
    CHECK(ctl_health_watch(model.h, &t->s) == 0, "%s: watch failed", t->name);
    CHECK(t->s.health_priv != NULL, "%s: no health_priv", t->name);
}

static void
unwatch(struct tsrv *t)
{
    ctl_health_unwatch(model.h, &t->s);
    t->watched = 0;
    CHECK(t->s.health_priv == NULL, "%s: health_priv left", t->name);
}

static void
on_guard(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
}

/* Run the loop for ms milliseconds. */
static void
run_for(uint32_t ms)
{
    uint64_t end = ctl_now_ms() + ms;
    ev_timer guard;

    ev_timer_init(&guard, on_guard, ms / 1000.0, 0.0);
    ev_timer_start(loop, &guard);
    while (ctl_now_ms() < end) {
        ev_run(loop, EVRUN_ONCE);
    }
    ev_timer_stop(loop, &guard);
}

/* From now on, note the first probe of t that satisfies pred. */
static void
arm(struct tsrv *t, pred_fn pred, const void *arg)
{
    t->want = pred;
    t->want_arg = arg;
    t->matched = 0;
    t->arm_ms = ctl_now_ms();
}

/* Run the loop until the armed predicate of t has matched (1, *took = ms
 * since arm()) or timeout_ms passes (0). */
static int
wait_armed(struct tsrv *t, uint32_t timeout_ms, uint64_t *took)
{
    uint64_t start = t->arm_ms, end = ctl_now_ms() + timeout_ms;
    ev_timer guard;

    ev_timer_init(&guard, on_guard, timeout_ms / 1000.0, 0.0);
    ev_timer_start(loop, &guard);
    while (!t->matched && ctl_now_ms() < end) {
        ev_run(loop, EVRUN_ONCE);
    }
    ev_timer_stop(loop, &guard);
    t->want = NULL;
    if (took != NULL) {
        *took = t->matched ? t->match_ms - start : ctl_now_ms() - start;
    }
    return t->matched;
}

/* Run the loop until a probe of t, from now on, satisfies pred (1, *took =
 * ms waited) or timeout_ms passes (0). */
static int
wait_probe(struct tsrv *t, pred_fn pred, const void *arg, uint32_t timeout_ms, uint64_t *took)
{
    arm(t, pred, arg);
    return wait_armed(t, timeout_ms, took);
}

static void
server_ctl(const char *action, const char *name)
{
    char cmd[1024];
    const char *ctl = getenv("HEALTH_CTL");
    int rc;

    if (ctl == NULL) {
        fprintf(stderr, "HEALTH_CTL not set\n");
        exit(2);
    }
    snprintf(cmd, sizeof(cmd), "%s %s %s", ctl, action, name);
    rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "'%s' failed (%d)\n", cmd, rc);
        exit(1);
    }
}

static struct ctl_health *
health_new(uint32_t interval, uint32_t timeout, uint32_t info)
{
    struct ctl_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.health_interval_ms = interval;
    cfg.health_timeout_ms = timeout;
    cfg.health_info_ms = info;
    model.h = ctl_health_new(loop, &cfg, &model);
    if (model.h == NULL) {
        fprintf(stderr, "ctl_health_new failed\n");
        exit(1);
    }
    return model.h;
}

static void
health_free(void)
{
    ctl_health_free(model.h);
    model.h = NULL;
}

static const char *
role_name(int role)
{
    return role == MSHM_ROLE_MASTER ? "master" : role == MSHM_ROLE_REPLICA ? "replica" : "unknown";
}

/* -------------------------------------------------------------- predicates */

static int
p_ok(const struct ctl_probe *p, const void *arg)
{
    (void)arg;
    return p->ok;
}

static int
p_fail(const struct ctl_probe *p, const void *arg)
{
    (void)arg;
    return !p->ok;
}

static int
p_any(const struct ctl_probe *p, const void *arg)
{
    (void)p;
    (void)arg;
    return 1;
}

/* master with INFO listing the replica on port *arg */
static int
p_master_with_lag(const struct ctl_probe *p, const void *arg)
{
    uint16_t port = *(const uint16_t *)arg;
    uint32_t i;

    if (!p->ok || p->role != MSHM_ROLE_MASTER || !p->have_info) {
        return 0;
    }
    for (i = 0; i < p->n_lags; i++) {
        if (p->lags[i].addr.port == port && strcmp(p->lags[i].addr.host, "127.0.0.1") == 0) {
            return 1;
        }
    }
    return 0;
}

/* replica following 127.0.0.1:*arg, link up, INFO fresh, in sync */
static int
p_replica_linked(const struct ctl_probe *p, const void *arg)
{
    uint16_t port = *(const uint16_t *)arg;

    return p->ok && p->role == MSHM_ROLE_REPLICA && p->link_up && p->have_info &&
           !p->sync_in_progress && !p->loading && p->follows.port == port &&
           strcmp(p->follows.host, "127.0.0.1") == 0;
}

static int
p_loading(const struct ctl_probe *p, const void *arg)
{
    (void)arg;
    return p->ok && p->loading;
}

static int
p_loaded(const struct ctl_probe *p, const void *arg)
{
    (void)arg;
    return p->ok && !p->loading && p->have_info;
}

/* ------------------------------------------------------------------ cases */

static uint16_t m_port, r_port, a_port, l_port, s_port, d_port;

/* master + replica: roles, follows, link, lags, rtt, INFO cadence, one probe
 * per round. */
static void
case_topology(void)
{
    struct tsrv m, r;
    uint64_t took;

    fprintf(stderr, "case topology\n");
    health_new(INTERVAL, TIMEOUT, INFO_MS);
    tsrv_init(&m, "master", m_port, NULL, NULL);
    tsrv_init(&r, "replica", r_port, NULL, NULL);
    watch(&m);
    watch(&r);
    CHECK(wait_probe(&m, p_master_with_lag, &r_port, 10000, &took),
          "master never listed the replica: last ok=%d role=%s n_lags=%u err='%s'", m.last.ok,
          role_name(m.last.role), m.last.n_lags, m.last.error);
    CHECK(wait_probe(&r, p_replica_linked, &m_port, 10000, &took),
          "replica never linked: last ok=%d role=%s link=%d follows=%s:%u err='%s'", r.last.ok,
          role_name(r.last.role), r.last.link_up, r.last.follows.host, r.last.follows.port,
          r.last.error);
    CHECK(m.match.rtt_us > 0, "master rtt 0");
    CHECK(r.match.lags[0].offset == 0 && r.match.n_lags == 0, "replica reports lags");

    /* steady state: 3 s of probes */
    tsrv_reset_stats(&m);
    tsrv_reset_stats(&r);
    run_for(3000);
    fprintf(stderr, "  3 s: master %u probes (%u with INFO), min gap %llu ms; replica %u (%u)\n",
            m.n_probes, m.n_info, (unsigned long long)m.min_gap_ms, r.n_probes, r.n_info);
    CHECK(m.n_fail == 0 && r.n_fail == 0, "failures in steady state: %u %u '%s' '%s'",
          m.n_fail, r.n_fail, m.last.error, r.last.error);
    CHECK(m.n_probes >= 3000 / INTERVAL - 3 && m.n_probes <= 3000 / INTERVAL + 1,
          "master: %u probes in 3 s at %u ms", m.n_probes, INTERVAL);
    CHECK(m.min_gap_ms >= INTERVAL / 2, "master: probes %llu ms apart (doubled round?)",
          (unsigned long long)m.min_gap_ms);
    CHECK(r.min_gap_ms >= INTERVAL / 2, "replica: probes %llu ms apart",
          (unsigned long long)r.min_gap_ms);
    /* INFO every 600 ms of 200 ms rounds: about a third */
    CHECK(m.n_info >= 3 && m.n_info <= 8, "master: %u INFO rounds of %u", m.n_info, m.n_probes);
    CHECK(m.n_probes - m.n_info >= 6, "master: INFO in %u of %u rounds", m.n_info, m.n_probes);
    CHECK(r.last.ok && r.last.role == MSHM_ROLE_REPLICA && r.last.link_up,
          "replica state lost");
    /* rounds without INFO repeat the last INFO's fields: nothing blinks */
    CHECK(m.n_no_lags == 0, "master: %u of %u probes without the replica's lag", m.n_no_lags,
          m.n_probes);
    CHECK(r.n_unlinked == 0, "replica: %u of %u probes unlinked", r.n_unlinked, r.n_probes);
    unwatch(&m);
    unwatch(&r);
    run_for(3 * INTERVAL);      /* nothing may arrive (checked in the model) */
    health_free();
}

/* kill -9 the replica -> ok=0 within interval+timeout; restart -> ok=1. */
static void
case_kill_restart(void)
{
    struct tsrv r;
    uint64_t took;

    fprintf(stderr, "case kill -9 / restart\n");
    health_new(INTERVAL, TIMEOUT, INFO_MS);
    tsrv_init(&r, "replica", r_port, NULL, NULL);
    watch(&r);
    CHECK(wait_probe(&r, p_ok, NULL, 5000, NULL), "replica not ok: '%s'", r.last.error);

    server_ctl("kill9", "replica");
    CHECK(wait_probe(&r, p_fail, NULL, INTERVAL + TIMEOUT + SLACK, &took),
          "no failed probe %llu ms after kill -9", (unsigned long long)took);
    fprintf(stderr, "  down after %llu ms: '%s'\n", (unsigned long long)took, r.match.error);
    CHECK(strstr(r.match.error, "connect failed") != NULL ||
              strstr(r.match.error, "connection lost") != NULL,
          "reason '%s'", r.match.error);
    tsrv_reset_stats(&r);
    run_for(1000);
    CHECK(r.n_ok == 0 && r.n_fail >= 1000 / INTERVAL - 2, "while dead: %u ok, %u failed",
          r.n_ok, r.n_fail);
    CHECK(strstr(r.last.error, "connect failed") != NULL, "reason while dead '%s'",
          r.last.error);

    server_ctl("start", "replica");
    CHECK(wait_probe(&r, p_ok, NULL, INTERVAL + SLACK, &took),
          "no ok probe %llu ms after restart: '%s'", (unsigned long long)took, r.last.error);
    fprintf(stderr, "  up after %llu ms (role %s)\n", (unsigned long long)took,
            role_name(r.match.role));
    CHECK(wait_probe(&r, p_replica_linked, &m_port, 10000, &took),
          "restarted replica never linked (link=%d sync=%d)", r.last.link_up,
          r.last.sync_in_progress);
    unwatch(&r);
    health_free();
}

/* SIGSTOP -> ok=0 by timeout within interval+timeout, rounds never doubled
 * although interval < timeout; unwatch with a round in flight; SIGCONT ->
 * ok=1. */
static void
case_sigstop(void)
{
    struct tsrv m;
    uint64_t took;

    fprintf(stderr, "case SIGSTOP / SIGCONT\n");
    health_new(INTERVAL, TIMEOUT, INFO_MS);
    tsrv_init(&m, "master", m_port, NULL, NULL);
    watch(&m);
    CHECK(wait_probe(&m, p_ok, NULL, 5000, NULL), "master not ok: '%s'", m.last.error);

    server_ctl("stop", "master");
    CHECK(wait_probe(&m, p_fail, NULL, INTERVAL + TIMEOUT + SLACK, &took),
          "no failed probe %llu ms after SIGSTOP", (unsigned long long)took);
    fprintf(stderr, "  down after %llu ms: '%s'\n", (unsigned long long)took, m.match.error);
    CHECK(strstr(m.match.error, "timeout") != NULL, "reason '%s'", m.match.error);
    tsrv_reset_stats(&m);
    run_for(1500);
    fprintf(stderr, "  stopped 1.5 s: %u probes, min gap %llu ms, last '%s'\n", m.n_probes,
            (unsigned long long)m.min_gap_fail_ms, m.last.error);
    CHECK(m.n_ok == 0 && m.n_fail >= 2, "while stopped: %u ok, %u failed", m.n_ok, m.n_fail);
    /* each round waits out the deadline: never more often than the timeout */
    CHECK(m.min_gap_fail_ms + 20 >= TIMEOUT, "rounds %llu ms apart < timeout",
          (unsigned long long)m.min_gap_fail_ms);
    CHECK(strstr(m.last.error, "timeout") != NULL, "reason '%s'", m.last.error);

    /* a round is almost surely in flight now: dropping it must report nothing */
    unwatch(&m);
    run_for(2 * TIMEOUT);
    watch(&m);

    server_ctl("cont", "master");
    CHECK(wait_probe(&m, p_ok, NULL, INTERVAL + TIMEOUT + SLACK, &took),
          "no ok probe %llu ms after SIGCONT: '%s'", (unsigned long long)took, m.last.error);
    fprintf(stderr, "  up after %llu ms\n", (unsigned long long)took);
    CHECK(m.match.role == MSHM_ROLE_MASTER, "role %s", role_name(m.match.role));
    unwatch(&m);
    health_free();
}

/* requirepass: right / wrong / no password; credential change reconnects. */
static void
case_auth(void)
{
    struct tsrv good, good_user, bad, none;
    uint64_t took;

    fprintf(stderr, "case requirepass\n");
    health_new(INTERVAL, TIMEOUT, INFO_MS);
    tsrv_init(&good, "auth-good", a_port, NULL, auth_pw);
    tsrv_init(&good_user, "auth-default-user", a_port, "default", auth_pw);
    tsrv_init(&bad, "auth-bad", a_port, NULL, "wrong-pw");
    tsrv_init(&none, "auth-none", a_port, NULL, NULL);
    watch(&good);
    watch(&good_user);
    watch(&bad);
    watch(&none);
    CHECK(wait_probe(&good, p_any, NULL, 3000, NULL) && good.match.ok,
          "right password: ok=%d '%s'", good.match.ok, good.match.error);
    CHECK(wait_probe(&good_user, p_any, NULL, 3000, NULL) && good_user.match.ok,
          "user + right password: ok=%d '%s'", good_user.match.ok, good_user.match.error);
    CHECK(wait_probe(&bad, p_any, NULL, 3000, NULL) && !bad.match.ok &&
              strcmp(bad.match.error, "authentication failed") == 0,
          "wrong password: ok=%d '%s'", bad.match.ok, bad.match.error);
    CHECK(wait_probe(&none, p_any, NULL, 3000, NULL) && !none.match.ok &&
              strstr(none.match.error, "NOAUTH") != NULL,
          "no password: ok=%d '%s'", none.match.ok, none.match.error);
    fprintf(stderr, "  wrong: '%s'; none: '%s'\n", bad.match.error, none.match.error);

    /* new credentials: bad gets the right one, good a wrong one */
    {
        struct ctl_config cfg;

        memset(&cfg, 0, sizeof(cfg));
        cfg.health_interval_ms = INTERVAL;
        cfg.health_timeout_ms = TIMEOUT;
        cfg.health_info_ms = INFO_MS;
        bad.cred.password = (char *)auth_pw;
        good.cred.password = (char *)"wrong-pw";
        ctl_health_reconfigure(model.h, &cfg);
    }
    CHECK(wait_probe(&bad, p_ok, NULL, INTERVAL + SLACK, &took),
          "fixed password not used after %llu ms: '%s'", (unsigned long long)took,
          bad.last.error);
    CHECK(wait_probe(&good, p_fail, NULL, INTERVAL + SLACK, &took) &&
              strcmp(good.match.error, "authentication failed") == 0,
          "changed password did not reconnect: ok=%d '%s'", good.last.ok, good.last.error);
    /* a server in the middle of a round when the health checker goes away */
    health_free();
}

/* nothing listening -> ok=0 "connect failed"; a sentinel -> "is a sentinel" */
static void
case_unreachable(void)
{
    struct tsrv d, s;
    uint64_t took;

    fprintf(stderr, "case nothing listening / sentinel\n");
    health_new(INTERVAL, TIMEOUT, INFO_MS);
    tsrv_init(&d, "dead-port", d_port, NULL, NULL);
    watch(&d);
    CHECK(wait_probe(&d, p_any, NULL, INTERVAL + SLACK, &took) && !d.match.ok &&
              strncmp(d.match.error, "connect failed", 14) == 0,
          "dead port: ok=%d '%s'", d.match.ok, d.match.error);
    fprintf(stderr, "  dead port after %llu ms: '%s'\n", (unsigned long long)took,
            d.match.error);
    if (s_port != 0) {
        tsrv_init(&s, "sentinel", s_port, NULL, NULL);
        watch(&s);
        CHECK(wait_probe(&s, p_any, NULL, 3000, NULL) && !s.match.ok &&
                  strcmp(s.match.error, "is a sentinel") == 0,
              "sentinel: ok=%d '%s'", s.match.ok, s.match.error);
        unwatch(&s);
    } else {
        fprintf(stderr, "  (no redis-sentinel: sentinel check skipped)\n");
    }
    unwatch(&d);
    health_free();
}

/* a server loading its dataset is reachable (ok=1) but loading=1 */
static void
case_loading(void)
{
    struct tsrv l;
    uint64_t took;

    fprintf(stderr, "case LOADING\n");
    server_ctl("loading", "loader");
    health_new(INTERVAL, TIMEOUT, INFO_MS);
    tsrv_init(&l, "loader", l_port, NULL, NULL);
    watch(&l);
    CHECK(wait_probe(&l, p_loading, NULL, 2000, &took),
          "no loading probe: ok=%d loading=%d '%s'", l.last.ok, l.last.loading, l.last.error);
    fprintf(stderr, "  loading seen after %llu ms (role %s, info %d)\n",
            (unsigned long long)took, role_name(l.match.role), l.match.have_info);
    CHECK(l.match.role == MSHM_ROLE_MASTER, "loading role %s", role_name(l.match.role));
    CHECK(wait_probe(&l, p_loaded, NULL, 30000, &took), "never finished loading: '%s'",
          l.last.error);
    fprintf(stderr, "  loaded after %llu ms more\n", (unsigned long long)took);
    unwatch(&l);
    health_free();
}

/* check_now: immediate round with INFO, coalesced, no-op while in flight;
 * unwatch and check_now from inside ctl_model_probe. */
static void
case_check_now(void)
{
    struct tsrv m, m2;
    uint64_t took;

    fprintf(stderr, "case check_now / callbacks\n");
    health_new(3000, TIMEOUT, 60000);   /* rounds only when asked */
    tsrv_init(&m, "master", m_port, NULL, NULL);
    watch(&m);
    CHECK(wait_probe(&m, p_ok, NULL, 1000, &took), "first probe after %llu ms: '%s'",
          (unsigned long long)took, m.last.error);
    CHECK(m.match.have_info, "first round without INFO");
    run_for(100);
    tsrv_reset_stats(&m);
    ctl_health_check_now(model.h, &m.s);
    ctl_health_check_now(model.h, &m.s);        /* coalesced */
    CHECK(wait_probe(&m, p_ok, NULL, 200, &took), "check_now: nothing after %llu ms",
          (unsigned long long)took);
    CHECK(m.match.have_info, "check_now round without INFO");
    run_for(500);
    CHECK(m.n_probes == 1, "check_now x2: %u probes", m.n_probes);

    /* check_now from inside the probe callback, 5 times in a row */
    tsrv_reset_stats(&m);
    m.check_now_in_probe = 5;
    ctl_health_check_now(model.h, &m.s);
    run_for(700);
    CHECK(m.n_probes == 6, "chained check_now: %u probes", m.n_probes);

    /* unwatch from inside the probe callback: nothing afterwards */
    tsrv_reset_stats(&m);
    m.unwatch_in_probe = 1;
    ctl_health_check_now(model.h, &m.s);
    run_for(500);
    CHECK(m.n_probes == 1 && m.s.health_priv == NULL, "unwatch in probe: %u probes",
          m.n_probes);

    /* watch again; unwatch right after a check_now was queued */
    tsrv_init(&m2, "master-2", m_port, NULL, NULL);
    arm(&m, p_ok, NULL);
    arm(&m2, p_ok, NULL);
    watch(&m);
    watch(&m2);
    CHECK(wait_armed(&m, 1000, NULL), "rewatch: '%s'", m.last.error);
    CHECK(wait_armed(&m2, 1000, NULL), "second watcher: '%s'", m2.last.error);
    tsrv_reset_stats(&m);
    ctl_health_check_now(model.h, &m.s);
    unwatch(&m);
    run_for(300);
    CHECK(m.n_probes == 0, "probe after unwatch: %u", m.n_probes);
    unwatch(&m2);
    health_free();
}

int
main(void)
{
    const char *only = getenv("HEALTH_CASE");

    m_port = env_port("M_PORT");
    r_port = env_port("R_PORT");
    a_port = env_port("A_PORT");
    l_port = env_port("L_PORT");
    s_port = env_port("S_PORT");
    d_port = env_port("D_PORT");
    auth_pw = getenv("AUTH_PW");
    if (!m_port || !r_port || !a_port || !l_port || !d_port || auth_pw == NULL) {
        fprintf(stderr, "run me through run_health.sh (ports missing)\n");
        return 2;
    }
    ctl_log_set_level(getenv("HEALTH_DEBUG") != NULL ? CTL_LOG_DEBUG : CTL_LOG_WARNING);
    loop = ev_default_loop(0);

#define RUN(name)                                                   \
    if (only == NULL || strcmp(only, #name) == 0) {                 \
        case_##name();                                              \
    }
    RUN(topology);
    RUN(unreachable);
    RUN(auth);
    RUN(check_now);
    RUN(sigstop);
    RUN(kill_restart);
    RUN(loading);
#undef RUN

    ev_loop_destroy(loop);
    fprintf(stderr, "%s: %d failure(s)\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
