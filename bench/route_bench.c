/*
 * route_bench.c -- the cost of libmarshal-shm's route decision, no I/O.
 *
 *   route_bench [--n N] [--rounds K] [--smoke]
 *
 * Publishes its own segment (one group: master + 2 replicas, route split),
 * opens a client and a target, and times mc_route_decide() -- what every
 * command does before hiredis I/O: parse the command name from the RESP
 * buffer, look it up in the command table, one atomic load of the segment's
 * notify word, pick the server (weighted round-robin for reads) -- for:
 *   GET (a read: round-robin over the replicas) and SET (the master), on the
 *   cached path (the segment does not change);
 *   GET with a topology change (a replica's lag changes: a real publish)
 *   every 1000 and every 100 commands, so the route is rebuilt from a
 *   snapshot that often.
 * Prints ns per decision (median of K rounds, min, max).  Asserts nothing
 * about the figures; exits 1 only if a decision fails.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench_util.h"
#include "mc_internal.h"
#include "mshm_write.h"

#define MAX_ROUNDS 64

/* A field of /proc/self/status in KiB ("RssAnon:", "RssShmem:", "VmRSS:"), or -1. */
static long
status_kib(const char *field)
{
    char line[256];
    size_t n = strlen(field);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, n) == 0) {
            v = strtol(line + n, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}



static void
put_server(struct mshm_writer *w, uint32_t i, int port, int role, uint32_t lag)
{
    struct mshm_server s;

    memset(&s, 0, sizeof(s));
    snprintf(s.host, sizeof(s.host), "127.0.0.1");
    s.port = (uint16_t)port;
    s.flags = MSHM_SF_IN_USE | (role == MSHM_ROLE_REPLICA ? MSHM_SF_READABLE : 0);
    s.role = (uint8_t)role;
    s.health = MSHM_HEALTH_UP;
    s.power = 1 + i;
    s.lag_ms = lag;
    s.longname_idx = MSHM_NONE;
    mshm_w_put_server(w, i, &s);
}

int
main(int argc, char **argv)
{
    char path[] = "/dev/shm/route_bench.XXXXXX", lock[64];
    long n = 2000000;
    int rounds = 9, i, fd;
    struct mshm_writer_opts o;
    struct mshm_writer *w;
    struct mshm_group g;
    marshal_client *c;
    marshal_target *t;
    char *get = NULL, *set = NULL, err[256];
    int lget, lset;
    static const long every[] = {0, 0, 1000, 100};
    static const char *const label[] = {"SET (master), cached", "GET (split), cached",
                                        "GET, change every 1000", "GET, change every 100"};
    double res[4][MAX_ROUNDS];
    long anon0, file0, shm0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = atol(argv[++i]);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--smoke") == 0) {
            n = 20000;
            rounds = 2;
        } else {
            fprintf(stderr, "usage: route_bench [--n N] [--rounds K] [--smoke]\n");
            return 2;
        }
    }
    if (n < 1000 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "route_bench: n >= 1000, 1 <= rounds <= %d\n", MAX_ROUNDS);
        return 2;
    }
    fd = mkstemp(path);
    if (fd < 0) {
        return 1;
    }
    close(fd);
    unlink(path);
    memset(&o, 0, sizeof(o));
    o.path = path;
    o.mode = 0600;
    o.gid = (gid_t)-1;
    o.group_cap = 4;
    o.server_cap = 8;
    o.cluster_cap = 1;
    o.longname_cap = 1;
    o.ring_cap = 16;
    o.stale_after_ms = 3600000;
    if (mshm_writer_open(&o, &w, NULL, err, sizeof(err)) != MSHM_OK) {
        fprintf(stderr, "route_bench: %s\n", err);
        return 1;
    }
    put_server(w, 0, 7000, MSHM_ROLE_MASTER, 0);
    put_server(w, 1, 7001, MSHM_ROLE_REPLICA, 0);
    put_server(w, 2, 7002, MSHM_ROLE_REPLICA, 0);
    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "bench");
    g.flags = MSHM_GF_IN_USE;
    g.route = MSHM_ROUTE_SPLIT;
    g.master_idx = 0;
    g.max_lag_ms = 10000;
    g.n_servers = 3;
    g.servers[0] = 0;
    g.servers[1] = 1;
    g.servers[2] = 2;
    mshm_w_put_group(w, 0, &g);
    mshm_w_commit(w);
    mshm_w_heartbeat(w);
    anon0 = status_kib("RssAnon:");
    file0 = status_kib("RssFile:");
    shm0 = status_kib("RssShmem:");
    if (marshal_client_open(path, NULL, &c) != MARSHAL_OK ||
        marshal_target_open(c, "bench", &t) != MARSHAL_OK) {
        fprintf(stderr, "route_bench: open failed\n");
        return 1;
    }
    lget = redisFormatCommand(&get, "GET %s", "user:1234");
    lset = redisFormatCommand(&set, "SET %s %s", "user:1234", "v");
    for (int r = 0; r < rounds; r++) {
        for (int m = 0; m < 4; m++) {
            const char *cmd = m == 0 ? set : get;
            size_t len = (size_t)(m == 0 ? lset : lget);
            uint64_t t0, el = 0;
            long k, done = 0;
            int st;

            while (done < n) {
                long chunk = every[m] > 0 ? every[m] : n;

                if (every[m] > 0) {
                    /* a real topology change: replica 1's lag moves (outside the timing) */
                    put_server(w, 1, 7001, MSHM_ROLE_REPLICA, (uint32_t)(done / chunk) % 50);
                    mshm_w_commit(w);
                }
                t0 = now_ns();
                for (k = 0; k < chunk; k++) {
                    if (mc_route_decide(t, cmd, len, &st) == NULL) {
                        fprintf(stderr, "route_bench: decision failed: %d\n", st);
                        return 1;
                    }
                }
                el += now_ns() - t0;
                done += chunk;
            }
            res[m][r] = (double)el / (double)done;
        }
    }
    /* the library's own memory in this process: anonymous pages (heap: client,
     * target, route, event tracker) and the segment pages it touched (shared
     * with every process on the host; this process also writes the segment,
     * so its own writer pages count there too) */
    printf("route_bench: libmarshal-shm fixed memory per process: +%ld KiB anonymous (client + "
           "target + route + events), +%ld KiB file-backed (code), +%ld KiB of segment pages touched "
           "(shared)\n", status_kib("RssAnon:") - anon0, status_kib("RssFile:") - file0,
           status_kib("RssShmem:") - shm0);
    printf("route_bench: ns per route decision (parse + table lookup + 1 atomic load + pick),"
           " %ld decisions per run, %d rounds\n", n, rounds);
    for (int m = 0; m < 4; m++) {
        qsort(res[m], (size_t)rounds, sizeof(double), cmp_dbl);
        printf("  %-24s median %6.1f ns  (min %.1f, max %.1f)\n", label[m], res[m][rounds / 2],
               res[m][0], res[m][rounds - 1]);
    }
    redisFreeCommand(get);
    redisFreeCommand(set);
    marshal_client_close(c);
    mshm_writer_close(w, 1);
    unlink(path);
    snprintf(lock, sizeof(lock), "%s.lock", path);
    unlink(lock);
    return 0;
}
