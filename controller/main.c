/*
 * main.c -- marshal-controller: one libev loop, the single writer of the
 * segment.
 *
 *   config -> writer (create / adopt / replace) -> model <- health, sentinels
 *   ev_prepare: ctl_model_flush()  (every change published before the loop
 *                                   blocks again: sub-millisecond), then
 *               ctl_wake_all() if the segment's notify word moved
 *   timers: heartbeat, model tick;  signals: HUP reload, TERM/INT stop
 *   ev_io: the control socket <segment>.ctl (ctl_control: mirror divergence)
 *          the wake socket <segment>.wake (ctl_wake: a byte per publish)
 *   thread: the metrics endpoint (ctl_metrics, config `metrics`), reading
 *           the segment; the loop hands it publish and check durations and,
 *           every tick, the sentinel table
 *
 * --clear-diverged CLUSTER MEMBER is the operator's side of that socket: it
 * sends "clear" and waits (bounded) until the segment shows the mark gone.
 *
 * Runs in the foreground (systemd Type=simple); logs to stderr by default.
 */
#define _GNU_SOURCE
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_config.h"
#include "ctl_conn.h"
#include "ctl_control.h"
#include "ctl_health.h"
#include "ctl_log.h"
#include "ctl_metrics.h"
#include "ctl_model.h"
#include "ctl_notify.h"
#include "ctl_sentinel.h"
#include "ctl_wake.h"
#include "mshm_read.h"
#include "mshm_write.h"
#include "mshm_version.h"

#define CTL_EXIT_RUNTIME 1
#define CTL_EXIT_CONFIG  2
#define CTL_CLEAR_WAIT_MS 5000   /* --clear-diverged: how long to wait for the segment */

/* Everything the daemon owns. */
struct daemon {
    struct ev_loop *loop;
    char conf_path[CTL_PATH_MAX];
    struct ctl_config *cfg;
    struct mshm_writer *w;
    struct ctl_model *m;
    struct ctl_health *h;
    struct ctl_sentinels *s;
    struct ctl_notify *notify;
    struct ctl_control *control; /* the control socket                      */
    struct ctl_wake *wake;       /* the wake socket (NULL: running without)  */
    uint32_t woke_notify;        /* segment notify word at the last wake     */
    struct ctl_metrics *metrics; /* the Prometheus endpoint (NULL: off)      */
    struct ctl_metrics_sentinel *mstats; /* scratch for the sentinel table   */
    uint32_t mstats_cap;
    ev_prepare flush;
    ev_timer heartbeat, tick;
    ev_signal sighup, sigterm, sigint;
    uint64_t config_gen;         /* ++ per successful reload */
};

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: marshal-controller [-c FILE] [--check-config]\n"
            "       marshal-controller [-c FILE] --clear-diverged CLUSTER MEMBER\n"
            "  -c, --config FILE   configuration (default /etc/marshal/marshal.conf)\n"
            "      --check-config  validate the configuration, print a summary, exit\n"
            "      --clear-diverged CLUSTER MEMBER\n"
            "                      tell the running controller that mirror MEMBER (a group\n"
            "                      of marshal1 cluster CLUSTER, or a cluster of marshal10\n"
            "                      farm CLUSTER) is in sync again, and wait up to 5 s for\n"
            "                      the segment to show it (root or the controller's user)\n"
            "  -h, --help          this text\n"
            "      --version       release, git revision, segment layout version\n"
            "Runs in the foreground; SIGHUP reloads the configuration (the old one is\n"
            "kept if the new one is invalid), SIGTERM/SIGINT stop it.  The segment is\n"
            "left in place on exit, marked WRITER_STOPPED.  Applications report\n"
            "diverged mirrors through the socket <segment path>.ctl; event loops\n"
            "can wait for publishes on the socket <segment path>.wake.\n"
            "exit status: 0 ok, 1 runtime error (--clear-diverged: not cleared),\n"
            "2 configuration or usage error\n");
}

static void
summary(const struct ctl_config *cfg)
{
    uint32_t i, j;

    printf("%s: OK\n", cfg->file);
    printf("segment %s mode %04o, capacity %u groups / %u servers / %u clusters\n",
           cfg->seg_path, (unsigned)cfg->seg_mode, cfg->cap_groups, cfg->cap_servers,
           cfg->cap_clusters);
    printf("sentinels %u\n", cfg->n_sentinels);
    for (i = 0; i < cfg->n_groups; i++) {
        const struct ctl_group_cfg *g = &cfg->groups[i];

        if (g->sentinel) {
            printf("group %s: sentinel-managed, route %s, power %u\n", g->name,
                   ctl_route_name(g->route), g->power);
        } else {
            printf("group %s: static, master %s:%u, %u replicas, route %s, power %u\n",
                   g->name, g->master.host, g->master.port, g->n_replicas,
                   ctl_route_name(g->route), g->power);
        }
    }
    for (i = 0; i < cfg->n_clusters; i++) {
        const struct ctl_cluster_cfg *c = &cfg->clusters[i];

        printf("%s %s: %s, members", c->rule == CTL_RULE_MARSHAL10 ? "farm" : "cluster",
               c->name, ctl_rule_name(c->rule));
        for (j = 0; j < c->n_members; j++) {
            printf(" %s(%u)%s", c->members[j].name, c->members[j].power,
                   (int)j == c->primary ? "*" : "");
        }
        printf("\n");
    }
}

/* ---- loop callbacks ----------------------------------------------------- */

/*
 * Wake the wake socket's clients if anything was published since the last
 * wake.  Every publish from the loop (model flush, a reload's WARMING_UP
 * flag, ...) moves the notify word and happens in a callback, and the
 * prepare watcher runs after all of them before the loop blocks: checking
 * here catches them all, coalesced.  Nothing changed: one load, a compare.
 */
static int
wake_if_published(struct daemon *d)
{
    uint32_t n = mshm_w_notify(d->w);

    if (n != d->woke_notify) {
        d->woke_notify = n;
        ctl_wake_all(d->wake);
        return 1;
    }
    return 0;
}

static void
on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct daemon *d = w->data;

    uint64_t t0 = d->metrics != NULL ? mshm_now_ns() : 0;

    (void)loop;
    (void)revents;
    ctl_model_flush(d->m);
    if (wake_if_published(d) && d->metrics != NULL) {
        ctl_metrics_publish(d->metrics, mshm_now_ns() - t0);
    }
}

static void
on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct daemon *d = w->data;

    (void)loop;
    (void)revents;
    mshm_w_heartbeat(d->w);
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct daemon *d = w->data;

    (void)loop;
    (void)revents;
    ctl_model_tick(d->m);
    if (d->metrics != NULL) {
        uint32_t n = ctl_sentinels_stats(d->s, d->mstats, d->mstats_cap);

        if (n == d->mstats_cap) {       /* maybe more: grow for the next tick */
            struct ctl_metrics_sentinel *g =
                realloc(d->mstats, (d->mstats_cap * 2 + 8) * sizeof(*g));

            if (g != NULL) {
                d->mstats = g;
                d->mstats_cap = d->mstats_cap * 2 + 8;
            }
        }
        ctl_metrics_sentinels(d->metrics, d->mstats, n);
    }
}

/* Start, restart or stop the metrics endpoint as cfg says (start, reload). */
static void
metrics_apply(struct daemon *d, const struct ctl_config *old, const struct ctl_config *cfg)
{
    char err[512];

    if (old != NULL && old->has_metrics == cfg->has_metrics &&
        (!cfg->has_metrics ||
         (strcmp(old->metrics_listen.host, cfg->metrics_listen.host) == 0 &&
          old->metrics_listen.port == cfg->metrics_listen.port))) {
        return;                         /* unchanged */
    }
    ctl_health_set_metrics(d->h, NULL);
    ctl_metrics_stop(d->metrics);
    d->metrics = NULL;
    if (!cfg->has_metrics) {
        if (old != NULL) {
            log_notice("metrics endpoint stopped");
        }
        return;
    }
    d->metrics = ctl_metrics_start(&cfg->metrics_listen, d->cfg->seg_path, err, sizeof(err));
    if (d->metrics == NULL) {
        log_warn("%s; running without the metrics endpoint (fix metrics.listen, then "
                 "reload with SIGHUP)", err);
        return;
    }
    ctl_health_set_metrics(d->h, d->metrics);
    log_notice("metrics: serving http://%s%s%s:%u/metrics",
               strchr(cfg->metrics_listen.host, ':') ? "[" : "", cfg->metrics_listen.host,
               strchr(cfg->metrics_listen.host, ':') ? "]" : "", (unsigned)cfg->metrics_listen.port);
}

static void
hook_added(void *ud, struct ctl_server *s)
{
    struct daemon *d = ud;

    if (ctl_health_watch(d->h, s) != 0) {
        log_warn("cannot health-check %s:%u", s->addr.host, s->addr.port);
    }
}

static void
hook_removed(void *ud, struct ctl_server *s)
{
    struct daemon *d = ud;

    ctl_health_unwatch(d->h, s);
}

static void
hook_check_now(void *ud, struct ctl_server *s)
{
    struct daemon *d = ud;

    ctl_health_check_now(d->h, s);
}

static void
hook_event(void *ud, const char *name, const char *group, const char *server,
           const char *old_server, unsigned long long epoch)
{
    struct daemon *d = ud;

    ctl_notify_event(d->notify, name, group, server, old_server, epoch);
}

static void
on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct daemon *d = w->data;
    struct ctl_config *next;
    char err[1024];

    (void)loop;
    (void)revents;
    next = calloc(1, sizeof(*next));
    if (next == NULL) {
        log_warn("reload: out of memory; keeping the current configuration");
        return;
    }
    if (ctl_config_load(d->conf_path, next, err, sizeof(err)) != 0) {
        log_warn("reload refused, keeping the current configuration: %s", err);
        free(next);
        return;
    }
    if (ctl_model_reconfigure(d->m, next) != 0) {
        log_warn("reload refused, keeping the current configuration: %s: out of memory "
                 "or segment capacity while rebuilding the topology", d->conf_path);
        ctl_config_free(next);
        free(next);
        return;
    }
    if (strcmp(next->seg_path, d->cfg->seg_path) != 0 || next->seg_mode != d->cfg->seg_mode ||
        next->seg_gid != d->cfg->seg_gid || next->cap_groups != d->cfg->cap_groups ||
        next->cap_servers != d->cfg->cap_servers || next->cap_clusters != d->cfg->cap_clusters ||
        next->cap_longnames != d->cfg->cap_longnames || next->cap_events != d->cfg->cap_events ||
        next->cap_slotmaps != d->cfg->cap_slotmaps ||
        next->heartbeat_ms != d->cfg->heartbeat_ms ||
        next->stale_after_ms != d->cfg->stale_after_ms ||
        strcmp(next->log_file, d->cfg->log_file) != 0 || next->log_syslog != d->cfg->log_syslog) {
        log_warn("reload: segment.* and log destination changes take effect at the next "
                 "restart; still publishing into %s", d->cfg->seg_path);
    }
    ctl_health_reconfigure(d->h, next);
    ctl_sentinels_reconfigure(d->s, next);
    ctl_notify_reconfigure(d->notify, next);
    metrics_apply(d, d->cfg, next);
    ctl_log_set_level(next->log_level);
    ctl_config_free(d->cfg);
    free(d->cfg);
    d->cfg = next;
    mshm_w_set_config_version(d->w, ++d->config_gen);
    log_notice("configuration reloaded from %s", d->conf_path);
}

static void
on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    log_notice("signal %d: shutting down", w->signum);
    ev_break(loop, EVBREAK_ALL);
}

/* ---- setup -------------------------------------------------------------- */

static int
open_segment(struct daemon *d)
{
    struct mshm_writer_opts o;
    char err[512];
    int how = 0, rc;

    memset(&o, 0, sizeof(o));
    o.path = d->cfg->seg_path;
    o.mode = d->cfg->seg_mode;
    o.gid = d->cfg->seg_gid;
    o.group_cap = d->cfg->cap_groups;
    o.server_cap = d->cfg->cap_servers;
    o.cluster_cap = d->cfg->cap_clusters;
    o.longname_cap = d->cfg->cap_longnames;
    o.ring_cap = d->cfg->cap_events;
    o.slotmap_cap = d->cfg->cap_slotmaps;
    o.hb_interval_ms = d->cfg->heartbeat_ms;
    o.stale_after_ms = d->cfg->stale_after_ms;
    rc = mshm_writer_open(&o, &d->w, &how, err, sizeof(err));
    if (rc != MSHM_OK) {
        log_warn("segment %s: %s (%s)", d->cfg->seg_path, err, mshm_strerror(rc));
        return -1;
    }
    mshm_w_set_flags(d->w, MSHM_HF_WARMING_UP, 0);
    log_notice("%s segment %s (%u groups, %u servers); warming up",
               how == MSHM_ADOPTED ? "+writer-adopt: adopted" :
               how == MSHM_REPLACED ? "replaced incompatible" : "created",
               d->cfg->seg_path, d->cfg->cap_groups, d->cfg->cap_servers);
    if (how == MSHM_ADOPTED) {
        struct mshm_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.type = MSHM_EV_WRITER_ADOPT;
        ev.group_idx = ev.server_idx = ev.old_idx = ev.new_idx = ev.cluster_idx = MSHM_NONE;
        ev.epoch = mshm_w_writer_epoch(d->w);     /* "+writer-adopt epoch N" */
        mshm_w_emit(d->w, &ev);
    }
    return 0;
}

static int
run(struct daemon *d)
{
    struct ctl_model_hooks hooks;
    double hb = d->cfg->heartbeat_ms / 1000.0;

    d->loop = ev_default_loop(EVFLAG_AUTO);
    if (d->loop == NULL) {
        log_warn("cannot create the event loop");
        return CTL_EXIT_RUNTIME;
    }
    /* signal watchers first: a reload or stop during start-up (segment
     * adoption, first connections) must not hit the default action */
    ev_signal_init(&d->sighup, on_sighup, SIGHUP);
    d->sighup.data = d;
    ev_signal_start(d->loop, &d->sighup);
    ev_signal_init(&d->sigterm, on_stop, SIGTERM);
    ev_signal_start(d->loop, &d->sigterm);
    ev_signal_init(&d->sigint, on_stop, SIGINT);
    ev_signal_start(d->loop, &d->sigint);
    if (open_segment(d) != 0) {
        return CTL_EXIT_RUNTIME;
    }
    d->m = ctl_model_new(d->cfg, d->w);
    d->h = d->m ? ctl_health_new(d->loop, d->cfg, d->m) : NULL;
    if (d->m == NULL || d->h == NULL) {
        log_warn("out of memory");
        return CTL_EXIT_RUNTIME;
    }
    hooks.server_added = hook_added;
    hooks.server_removed = hook_removed;
    hooks.check_now = hook_check_now;
    hooks.event = hook_event;
    d->notify = ctl_notify_new(d->loop, d->cfg);
    hooks.ud = d;
    ctl_model_set_hooks(d->m, &hooks);
    d->s = ctl_sentinels_new(d->loop, d->cfg, d->m);
    if (d->s == NULL) {
        log_warn("cannot start the sentinel client");
        return CTL_EXIT_RUNTIME;
    }
    /* after the segment (its lock makes the path ours) and the model */
    d->control = ctl_control_new(d->loop, d->cfg, d->m);
    if (d->control == NULL) {
        return CTL_EXIT_RUNTIME;
    }
    /* an optimisation over polling: without it (logged) clients only poll */
    d->wake = ctl_wake_new(d->loop, d->cfg->seg_path);
    d->woke_notify = mshm_w_notify(d->w);
    metrics_apply(d, NULL, d->cfg);

    ev_prepare_init(&d->flush, on_prepare);
    d->flush.data = d;
    ev_prepare_start(d->loop, &d->flush);
    ev_timer_init(&d->heartbeat, on_heartbeat, hb, hb);
    d->heartbeat.data = d;
    ev_timer_start(d->loop, &d->heartbeat);
    ev_timer_init(&d->tick, on_tick, 0.1, 0.1);
    d->tick.data = d;
    ev_timer_start(d->loop, &d->tick);

    log_notice("marshal-controller started (pid %d), config %s", (int)getpid(), d->conf_path);
    ev_run(d->loop, 0);
    return 0;
}

static void
teardown(struct daemon *d)
{
    if (d->h != NULL) {
        ctl_health_set_metrics(d->h, NULL);
    }
    ctl_metrics_stop(d->metrics);   /* its thread reads the segment */
    free(d->mstats);
    ctl_control_free(d->control);   /* removes the socket */
    if (d->s != NULL) {
        ctl_sentinels_free(d->s);
    }
    if (d->m != NULL) {
        ctl_model_free(d->m);       /* unwatches every server */
    }
    if (d->h != NULL) {
        ctl_health_free(d->h);
    }
    ctl_notify_free(d->notify);
    if (d->w != NULL) {
        mshm_writer_close(d->w, 1);
    }
    /* after WRITER_STOPPED is set: the EOF its clients get is the last wake,
     * and the segment they re-read then says "stopped" */
    ctl_wake_free(d->wake);
    if (d->cfg != NULL) {
        ctl_config_free(d->cfg);
        free(d->cfg);
    }
    ctl_log_close();
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'C'},
        {"clear-diverged", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct daemon d;
    char err[1024];
    const char *clear_cluster = NULL, *clear_member = NULL;
    int ch, check = 0, rc;

    memset(&d, 0, sizeof(d));
    snprintf(d.conf_path, sizeof(d.conf_path), "/etc/marshal/marshal.conf");
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            snprintf(d.conf_path, sizeof(d.conf_path), "%s", optarg);
            break;
        case 'C':
            check = 1;
            break;
        case 'D':
            clear_cluster = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            mshm_version_print(stdout, "marshal-controller");
            return 0;
        default:
            usage(stderr);
            return CTL_EXIT_CONFIG;
        }
    }
    if (clear_cluster != NULL && !check && optind == argc - 1) {
        clear_member = argv[optind++];
    }
    if (optind != argc || (clear_cluster != NULL && clear_member == NULL)) {
        usage(stderr);
        return CTL_EXIT_CONFIG;
    }
    signal(SIGPIPE, SIG_IGN);
    d.cfg = calloc(1, sizeof(*d.cfg));
    if (d.cfg == NULL) {
        return CTL_EXIT_RUNTIME;
    }
    if (ctl_config_load(d.conf_path, d.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "marshal-controller: configuration error: %s\n", err);
        free(d.cfg);
        return CTL_EXIT_CONFIG;
    }
    if (check) {
        summary(d.cfg);
        ctl_config_free(d.cfg);
        free(d.cfg);
        return 0;
    }
    if (clear_cluster != NULL) {
        int was_set = 0;

        rc = ctl_control_clear(d.cfg->seg_path, clear_cluster, clear_member, CTL_CLEAR_WAIT_MS,
                               &was_set, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "marshal-controller: --clear-diverged %s %s: %s\n", clear_cluster,
                    clear_member, err);
        } else {
            printf("%s %s: %s\n", clear_cluster, clear_member,
                   was_set ? "cleared" : "was not diverged");
        }
        ctl_config_free(d.cfg);
        free(d.cfg);
        return rc == 0 ? 0 : CTL_EXIT_RUNTIME;
    }
    if (ctl_log_open(d.cfg) != 0) {
        fprintf(stderr, "marshal-controller: cannot open log file %s\n", d.cfg->log_file);
        ctl_config_free(d.cfg);
        free(d.cfg);
        return CTL_EXIT_CONFIG;
    }
    rc = run(&d);
    teardown(&d);
    return rc;
}
