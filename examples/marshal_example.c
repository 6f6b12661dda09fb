/*
 * marshal_example.c -- marshal-example: the original specification's usage
 * example, in C, against the topology marshal-controller publishes.
 *
 * The specification built its group by hand and let it discover the rest
 * through a sentinel:
 *
 *     var group = marshal.newGroup({power: 1});
 *     group.setMaster(master).addSlave(slave1, {power: 1})
 *          .addSlave(slave2, {power: 2}).addSentinel(sentinel1);
 *     group.use(marshal.mutableRouting);
 *     group.set('foo', 'Set me on Master please');
 *     group.get('bar');
 *
 * With Marshal the group is declared once per host, in marshal.conf
 * (`{ name = "cache"; sentinel = true; route = "split"; replicas = (...) }`),
 * and marshal-controller keeps it current in shared memory.  An application
 * only names it: marshal_target_open() replaces newGroup/setMaster/addSlave/
 * addSentinel, marshal_target_use() is group.use(), marshal_command() is
 * group.set()/group.get(), and marshal_client_on() subscribes to the
 * spec's events (masterDown, masterUp, slaveDown, slaveUp, allSlavesDown,
 * allSlavesUp, and a few more).
 *
 *   marshal-example [-g GROUP] [-t SECONDS] [-i INTERVAL_MS] [SEGMENT]
 *
 * SEGMENT defaults to $MARSHAL_SEGMENT, then /dev/shm/marshal.main; GROUP to
 * "cache".  After the two calls above it loops for SECONDS (30) doing one SET
 * and one GET every INTERVAL_MS (100) and prints each result, the server that
 * served it and every event -- kill the master and watch the failover.
 * Ctrl-C ends the loop early.
 *
 * Clusters (cluster.use(marshal.stripe) in the specification) use the same
 * calls on a cluster's name once cluster routing lands (issue 6).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <marshal/marshal.h>

/* Set by SIGINT/SIGTERM: the application owns signals, the library installs none. */
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Wall-clock time as HH:MM:SS.mmm, for the lines we print. */
static const char *
now_str(void)
{
    static char buf[32];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000);
    return buf;
}

/*
 * The event callback: called from marshal_client_poll()/marshal_client_wait()
 * on this thread, in the order the controller recorded the transitions.
 */
static void
on_event(marshal_client *c, const marshal_event *ev, void *ud)
{
    (void)c;
    (void)ud;
    switch (ev->type) {
    case MARSHAL_EV_MASTER_SWITCH:
        printf("%s  event %-14s %s: master %s:%d -> %s:%d (epoch %" PRIu64 ")\n", now_str(),
               marshal_event_name(ev->type), ev->group, ev->old_host, ev->old_port, ev->host,
               ev->port, ev->epoch);
        break;
    case MARSHAL_EV_CONTROLLER_STALE:
    case MARSHAL_EV_CONTROLLER_LIVE:
        printf("%s  event %-14s (controller heartbeat)\n", now_str(), marshal_event_name(ev->type));
        break;
    default:
        if (ev->host != NULL && ev->host[0] != '\0') {
            printf("%s  event %-14s %s: %s:%d\n", now_str(), marshal_event_name(ev->type),
                   ev->group, ev->host, ev->port);
        } else {
            printf("%s  event %-14s %s\n", now_str(), marshal_event_name(ev->type), ev->group);
        }
        break;
    }
    fflush(stdout);
}

/* Library diagnostics: the library never prints; we send them to stderr. */
static void
on_log(void *ud, int level, const char *msg)
{
    (void)ud;
    fprintf(stderr, "%s  marshal[%d]: %s\n", now_str(), level, msg);
}

/*
 * Print one command's result the way an application would look at it: the
 * reply (a hiredis redisReply, NULL on error), and on error the status, its
 * detail and the outcome -- whether the command ran ("not applied" means it
 * provably did not; "unknown" that it was sent and the reply was lost).
 * Frees the reply.
 */
static void
report(marshal_client *c, const char *what, redisReply *r)
{
    const char *host = "-";
    int port = 0;

    if (marshal_client_last_server(c, &host, &port) != MARSHAL_OK) {
        host = "-";
        port = 0;
    }
    if (r == NULL) {
        int rc = marshal_client_errcode(c);

        printf("%s  %-24s FAILED: %s (%s); outcome: %s\n", now_str(), what, marshal_strerror(rc),
               marshal_client_errstr(c), marshal_outcome_name(marshal_client_outcome(c)));
    } else if (r->type == REDIS_REPLY_ERROR) {
        printf("%s  %-24s -> error reply \"%s\" from %s:%d; outcome: %s\n", now_str(), what, r->str,
               host, port, marshal_outcome_name(marshal_client_outcome(c)));
    } else if (r->type == REDIS_REPLY_NIL) {
        printf("%s  %-24s -> (nil) from %s:%d\n", now_str(), what, host, port);
    } else if (r->type == REDIS_REPLY_INTEGER) {
        printf("%s  %-24s -> %lld from %s:%d\n", now_str(), what, (long long)r->integer, host, port);
    } else if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        printf("%s  %-24s -> \"%.*s\" from %s:%d\n", now_str(), what, (int)r->len, r->str, host,
               port);
    } else {
        printf("%s  %-24s -> reply type %d from %s:%d\n", now_str(), what, r->type, host, port);
    }
    fflush(stdout);
    if (r != NULL) {
        freeReplyObject(r);
    }
}

static const char *
route_name(int route)
{
    switch (route) {
    case MARSHAL_ROUTE_MASTER: return "master";
    case MARSHAL_ROUTE_MASTER_READONLY: return "master-readonly";
    case MARSHAL_ROUTE_SPLIT: return "split";
    default: return "?";
    }
}

/* Print what the controller publishes about the group right now. */
static void
show_group(marshal_target *g)
{
    marshal_target_info info;

    if (marshal_target_info_get(g, &info) != MARSHAL_OK) {
        return;
    }
    printf("%s  group %s: master %s:%d (%s, epoch %" PRIu64 "), %d/%d replicas readable, "
           "route %s (published %s)%s%s\n",
           now_str(), info.name, info.has_master ? info.master_host : "none",
           info.has_master ? info.master_port : 0, info.has_master ? "up" : "down",
           info.master_epoch, info.n_readable, info.n_replicas, route_name(info.route),
           route_name(info.published_route), info.degraded ? ", DEGRADED" : "",
           info.failover ? ", failover in progress" : "");
    fflush(stdout);
}

static void
usage(void)
{
    fprintf(stderr, "usage: marshal-example [-g GROUP] [-t SECONDS] [-i INTERVAL_MS] [SEGMENT]\n"
                    "  SEGMENT defaults to $MARSHAL_SEGMENT, then /dev/shm/marshal.main\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *segment = NULL, *group = "cache";
    int seconds = 30, interval_ms = 100, opt, rc, i;
    marshal_options opts;
    marshal_client *c = NULL;
    marshal_target *g = NULL;
    struct sigaction sa;
    struct timespec start, now, pause;

    while ((opt = getopt(argc, argv, "g:t:i:h")) != -1) {
        switch (opt) {
        case 'g': group = optarg; break;
        case 't': seconds = atoi(optarg); break;
        case 'i': interval_ms = atoi(optarg); break;
        default: usage();
        }
    }
    if (optind < argc) {
        segment = argv[optind++];
    }
    if (optind < argc || seconds < 0 || interval_ms <= 0) {
        usage();
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* 1. Open the segment.  Options start from the defaults; a write during
     *    a failover waits up to failover_wait_ms for the new master. */
    marshal_options_init(&opts);
    opts.failover_wait_ms = 5000;
    opts.log_fn = on_log;
    opts.log_level = MARSHAL_LOG_NOTICE;
    rc = marshal_client_open(segment, &opts, &c);
    if (rc != MARSHAL_OK) {
        /* for segment errors c is a client that keeps trying to attach; an
         * application could carry on with it, the example just explains */
        fprintf(stderr, "marshal-example: cannot open the segment: %s (%s)\n",
                marshal_strerror(rc), c != NULL ? marshal_client_errstr(c) : "");
        marshal_client_close(c);
        return 1;
    }
    printf("%s  libmarshal-shm %s, controller %s\n", now_str(), marshal_version_string(),
           marshal_state_name(marshal_client_state(c)));

    /* 2. The spec's events: one callback for every type we care about. */
    marshal_client_on(c, MARSHAL_EV_ALL, on_event, NULL);

    /* 3. The group, by name: what marshal.conf (and Sentinel) made of it. */
    rc = marshal_target_open(c, group, &g);
    if (rc != MARSHAL_OK) {
        fprintf(stderr, "marshal-example: group %s: %s (%s)\n", group, marshal_strerror(rc),
                marshal_client_errstr(c));
        marshal_client_close(c);
        return 1;
    }
    show_group(g);

    /* 4. group.set('foo', ...): writes always go to the confirmed master. */
    report(c, "SET foo", marshal_command(g, "SET %s %s", "foo", "Set me on Master please"));

    /* 5. group.use(<read/write segregation>) + group.get('bar'): reads go
     *    to the readable replicas by weighted round-robin (power).  A
     *    replica may not have 'foo' yet: replication is asynchronous. */
    marshal_target_use(g, MARSHAL_ROUTE_SPLIT);
    report(c, "GET bar (split)", marshal_command(g, "GET %s", "bar"));
    report(c, "GET foo (split)", marshal_command(g, "GET %s", "foo"));

    /* The spec's "master only, optional read-only mode": everything to the
     * master, reads falling back to replicas while it is down (and writes
     * then failing at once with MARSHAL_ERR_NOMASTER). */
    marshal_target_use(g, MARSHAL_ROUTE_MASTER_READONLY);
    report(c, "GET foo (master-ro)", marshal_command(g, "GET %s", "foo"));

    /* Back to what the controller publishes for this group. */
    marshal_target_use(g, MARSHAL_ROUTE_DEFAULT);
    show_group(g);

    /* 6. A loop to watch: one SET and one GET every interval; events are
     *    delivered by marshal_client_poll() (cheap when nothing changed). */
    printf("%s  SET/GET every %d ms for %d s (Ctrl-C to stop)\n", now_str(), interval_ms,
           seconds);
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; !stop; i++) {
        char key[64], what[96];

        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
            (long)seconds * 1000) {
            break;
        }
        if (marshal_client_poll(c) > 0) {
            show_group(g);
        }
        snprintf(key, sizeof(key), "marshal-example:%d", i);
        snprintf(what, sizeof(what), "SET %s", key);
        report(c, what, marshal_command(g, "SET %s %d", key, i));
        snprintf(what, sizeof(what), "GET %s", key);
        report(c, what, marshal_command(g, "GET %s", key));

        pause.tv_sec = interval_ms / 1000;
        pause.tv_nsec = (long)(interval_ms % 1000) * 1000000L;
        nanosleep(&pause, NULL);
    }

    /* 7. Close: every connection and the mapping go with the client. */
    marshal_client_close(c);
    return 0;
}
