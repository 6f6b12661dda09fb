/*
 * async_example.c -- marshal-async-example: the original specification's
 * usage example on the asynchronous API and a libev loop.
 *
 * The specification is callback-driven:
 *
 *     group.use(marshal.mutableRouting);
 *     group.set('foo', 'Set me on Master please');
 *     group.get('bar');
 *     cluster.use(marshal.stripe);
 *     cluster.set('test', function(err, res){ ... });
 *
 * In C with Marshal: the group and the cluster are declared in marshal.conf
 * and kept current by marshal-controller; the application names them
 * (marshal_async_target_open), picks the rule (marshal_target_use), and
 * issues commands whose callbacks run on its own loop, never blocking it --
 * also across a failover, when commands wait in a bounded queue and are sent
 * as soon as the controller publishes the new master.
 *
 *   marshal-async-example [-g GROUP] [-c CLUSTER] [-t SECONDS] [-i INTERVAL_MS] [SEGMENT]
 *
 * GROUP defaults to "cache"; CLUSTER (optional) to none.  Every INTERVAL_MS
 * (100) it sets foo and gets bar on the group (and sets test on the cluster),
 * printing each result with the server that served it, and every event.
 * Kill the master and watch: the loop keeps ticking, writes park, and resume
 * on the new master.  Ctrl-C ends it; the close runs every pending callback.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <marshal/adapters/libev.h>

/* The program's state, reached from every callback. */
struct app {
    struct ev_loop *loop;
    marshal_async *a;
    marshal_target *group;
    marshal_target *cluster;    /* NULL without -c */
    ev_timer tick;
    ev_timer end;
    ev_signal sigint, sigterm;
    unsigned long n;            /* ticks so far */
    unsigned long pending;      /* callbacks not yet run */
};

static void
print_result(const char *what, redisReply *r, const marshal_result *res)
{
    int i;

    printf("%-10s %-11s %-9s %s:%d", what, marshal_outcome_name(res->outcome),
           res->status == MARSHAL_OK ? "ok" : "error", res->host[0] ? res->host : "-", res->port);
    if (r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                      r->type == REDIS_REPLY_ERROR)) {
        printf("  %.*s", (int)(r->len > 60 ? 60 : r->len), r->str);
    } else if (r != NULL && r->type == REDIS_REPLY_NIL) {
        printf("  (nil)");
    }
    if (res->status != MARSHAL_OK) {
        printf("  [%s]", res->errstr);
    }
    if (res->parked_ns > 0) {
        printf("  parked %.1f ms", res->parked_ns / 1e6);
    }
    for (i = 0; i < res->n_legs; i++) {
        printf("  leg %s:%s", res->legs[i].group, marshal_outcome_name(res->legs[i].outcome));
    }
    printf("\n");
    fflush(stdout);
}

/* group.set('foo', ...), group.get('bar') and cluster.set('test', cb) land here. */
static void
on_reply(marshal_async *a, redisReply *r, const marshal_result *res, void *priv)
{
    struct app *app = (struct app *)ev_userdata(EV_DEFAULT);

    (void)a;
    app->pending--;
    print_result((const char *)priv, r, res);
}

static void
on_event(marshal_client *c, const marshal_event *ev, void *ud)
{
    (void)c;
    (void)ud;
    printf("event      %-14s group %s server %s:%d", marshal_event_name(ev->type),
           ev->group[0] ? ev->group : "-", ev->host[0] ? ev->host : "-", ev->port);
    if (ev->type == MARSHAL_EV_MASTER_SWITCH) {
        printf(" (was %s:%d, epoch %" PRIu64 ")", ev->old_host, ev->old_port, ev->epoch);
    }
    printf("\n");
    fflush(stdout);
}

static void
issue(struct app *app, marshal_target *t, const char *what, const char *fmt, const char *arg)
{
    int rc = marshal_async_command(t, on_reply, (void *)what, fmt, arg);

    if (rc == MARSHAL_OK) {
        app->pending++;
    } else {
        printf("%-10s not issued: %s\n", what, marshal_strerror(rc));
    }
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct app *app = w->data;
    char val[64];

    (void)loop;
    (void)revents;
    snprintf(val, sizeof(val), "Set me on Master please #%lu", ++app->n);
    issue(app, app->group, "set foo", "SET foo %s", val);
    issue(app, app->group, "get bar", "GET %s", "bar");
    if (app->cluster != NULL) {
        issue(app, app->cluster, "set test", "SET test %s", val);
    }
}

static void
stop(struct app *app)
{
    ev_timer_stop(app->loop, &app->tick);
    ev_timer_stop(app->loop, &app->end);
    ev_signal_stop(app->loop, &app->sigint);
    ev_signal_stop(app->loop, &app->sigterm);
    /* every pending callback runs now, once, with MARSHAL_ERR_CLOSED */
    marshal_async_close(app->a);
    app->a = NULL;
}

static void
on_end(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    stop(w->data);
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    stop(w->data);
}

int
main(int argc, char **argv)
{
    const char *gname = "cache", *cname = NULL, *seg = NULL;
    double seconds = 30, interval = 0.1;
    struct app app;
    int opt, rc;

    while ((opt = getopt(argc, argv, "g:c:t:i:")) != -1) {
        switch (opt) {
        case 'g': gname = optarg; break;
        case 'c': cname = optarg; break;
        case 't': seconds = atof(optarg); break;
        case 'i': interval = atof(optarg) / 1000.0; break;
        default:
            fprintf(stderr, "usage: %s [-g GROUP] [-c CLUSTER] [-t SECONDS] [-i INTERVAL_MS] "
                    "[SEGMENT]\n", argv[0]);
            return 2;
        }
    }
    if (optind < argc) {
        seg = argv[optind];
    }
    if (seconds <= 0 || interval <= 0) {
        fprintf(stderr, "%s: -t and -i must be positive\n", argv[0]);
        return 2;
    }
    memset(&app, 0, sizeof(app));
    app.loop = EV_DEFAULT;
    ev_set_userdata(app.loop, &app);

    rc = marshal_async_open(seg, NULL, &app.a);
    if (app.a == NULL) {
        fprintf(stderr, "%s: %s\n", argv[0], marshal_strerror(rc));
        return 1;
    }
    if (rc != MARSHAL_OK) {     /* no controller yet: the handle keeps trying */
        fprintf(stderr, "%s: %s (%s); waiting\n", argv[0], marshal_strerror(rc),
                marshal_client_errstr(marshal_async_client(app.a)));
    }
    if (marshal_async_libev_attach(app.a, app.loop) != MARSHAL_OK) {
        fprintf(stderr, "%s: cannot attach to the loop\n", argv[0]);
        marshal_async_close(app.a);
        return 1;
    }
    /* group = marshal.newGroup(...) ... : declared in marshal.conf, named here */
    rc = marshal_async_target_open(app.a, gname, &app.group);
    if (rc != MARSHAL_OK) {
        fprintf(stderr, "%s: group %s: %s\n", argv[0], gname, marshal_strerror(rc));
        marshal_async_close(app.a);
        return 1;
    }
    marshal_target_use(app.group, MARSHAL_ROUTE_SPLIT);     /* group.use(mutableRouting) */
    if (cname != NULL) {
        rc = marshal_async_target_open(app.a, cname, &app.cluster);
        if (rc != MARSHAL_OK) {
            fprintf(stderr, "%s: cluster %s: %s\n", argv[0], cname, marshal_strerror(rc));
            marshal_async_close(app.a);
            return 1;
        }
    }
    marshal_client_on(marshal_async_client(app.a), MARSHAL_EV_ALL, on_event, NULL);

    ev_timer_init(&app.tick, on_tick, 0., interval);
    app.tick.data = &app;
    ev_timer_start(app.loop, &app.tick);
    ev_timer_init(&app.end, on_end, seconds, 0.);
    app.end.data = &app;
    ev_timer_start(app.loop, &app.end);
    ev_signal_init(&app.sigint, on_signal, SIGINT);
    app.sigint.data = &app;
    ev_signal_start(app.loop, &app.sigint);
    ev_signal_init(&app.sigterm, on_signal, SIGTERM);
    app.sigterm.data = &app;
    ev_signal_start(app.loop, &app.sigterm);

    ev_run(app.loop, 0);
    printf("done: %lu ticks, %lu callbacks left\n", app.n, app.pending);
    return app.pending == 0 ? 0 : 1;
}
