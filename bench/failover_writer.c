/*
 * failover_writer.c -- SET through libmarshal-shm every interval, logging
 * each result with a CLOCK_REALTIME stamp, for bench/failover_bench.sh:
 *
 *   failover_writer SEGMENT GROUP INTERVAL_US SECONDS > log
 *   log lines: "<realtime us> ok <port>" | "<realtime us> err <status> <outcome>"
 *
 * The benchmark matches the first "ok" on the new master after the first
 * +switch-master.  Bounded by SECONDS; prints figures, asserts nothing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "marshal/marshal.h"

static long long
rt_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int
main(int argc, char **argv)
{
    marshal_options o;
    marshal_client *c;
    marshal_target *t;
    long long end, i = 0;
    long iv;
    int rc;

    if (argc != 5) {
        fprintf(stderr, "usage: failover_writer SEGMENT GROUP INTERVAL_US SECONDS\n");
        return 2;
    }
    iv = atol(argv[3]);
    end = rt_us() + atoll(argv[4]) * 1000000LL;
    marshal_options_init(&o);
    o.command_timeout_ms = 200;
    o.connect_timeout_ms = 200;
    o.failover_wait_ms = 50;    /* keep one write short: the loop tries again anyway */
    rc = marshal_client_open(argv[1], &o, &c);
    if (rc != MARSHAL_OK || marshal_target_open(c, argv[2], &t) != MARSHAL_OK) {
        fprintf(stderr, "failover_writer: %s\n", c ? marshal_client_errstr(c) : "open failed");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (rt_us() < end) {
        redisReply *r = marshal_command(t, "SET fw:%lld %lld", i % 1000, i);
        const char *host;
        int port = 0;

        i++;
        if (r != NULL && r->type != REDIS_REPLY_ERROR) {
            marshal_client_last_server(c, &host, &port);
            printf("%lld ok %d\n", rt_us(), port);
        } else {
            printf("%lld err %s %s\n", rt_us(),
                   r != NULL ? "reply-error" : marshal_strerror(marshal_client_errcode(c)),
                   marshal_outcome_name(marshal_client_outcome(c)));
        }
        if (r != NULL) {
            freeReplyObject(r);
        }
        {
            struct timespec ts = {0, iv * 1000L};

            nanosleep(&ts, NULL);
        }
    }
    marshal_client_close(c);
    return 0;
}
