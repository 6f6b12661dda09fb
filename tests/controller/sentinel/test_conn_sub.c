/*
 * test_conn_sub.c -- regression test for two hiredis 0.14.1 behaviours that
 * ctl_conn.c works around (see its file comment), against a real server:
 *  - a PSUBSCRIBE with several patterns: hiredis runs the callback with NULL
 *    once per distinct pattern at disconnect; the subscription callback must
 *    still see exactly one NULL (and, under ASan, no use-after-free);
 *  - PING <token> on a subscribed connection (ctl_conn_send): every pong
 *    reaches the token pattern's callback.
 * usage: test_conn_sub HOST:PORT     exit 0 pass, 1 fail
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "ctl_conn.h"

#define PINGS 500

static int up, nulls_multi, nulls_tok, pongs, confirms;

static void
on_state(struct ctl_conn *c, int u, const char *reason, void *ud)
{
    (void)c;
    (void)reason;
    (void)ud;
    up = u;
}

static void
on_multi(struct ctl_conn *c, redisReply *r, void *pd)
{
    (void)c;
    (void)pd;
    if (r == NULL) {
        nulls_multi++;
    } else {
        confirms++;
    }
}

static void
on_tok(struct ctl_conn *c, redisReply *r, void *pd)
{
    (void)c;
    (void)pd;
    if (r == NULL) {
        nulls_tok++;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[0]->type == REDIS_REPLY_STRING &&
               strcmp(r->element[0]->str, "pong") == 0) {
        pongs++;
    }
}

int
main(int argc, char **argv)
{
    const char *multi[] = {"PSUBSCRIBE", "a*", "b*", "c*", "a*"};
    const char *tok[] = {"PSUBSCRIBE", "__marshal_test_tok"};
    const char *ping[] = {"PING", "__marshal_test_tok"};
    struct ev_loop *loop = EV_DEFAULT;
    struct ctl_addr addr;
    struct ctl_conn *c;
    uint64_t t0;
    int i;

    if (argc != 2 || ctl_parse_addr(argv[1], &addr) != 0) {
        fprintf(stderr, "usage: test_conn_sub HOST:PORT\n");
        return 2;
    }
    c = ctl_conn_new(loop, &addr, NULL, "marshal-test", 500, 1000, on_state, NULL);
    if (c == NULL || ctl_conn_connect(c) != 0) {
        return 1;
    }
    t0 = ctl_now_ms();
    while (!up && ctl_now_ms() - t0 < 5000) {
        ev_run(loop, EVRUN_ONCE);
    }
    if (!up || ctl_conn_subscribe(c, on_multi, NULL, 5, multi) != 0 ||
        ctl_conn_subscribe(c, on_tok, NULL, 2, tok) != 0) {
        fprintf(stderr, "FAIL: connect/subscribe\n");
        return 1;
    }
    for (i = 0; i < PINGS; i++) {
        if (ctl_conn_send(c, 2, ping) != 0) {
            fprintf(stderr, "FAIL: ctl_conn_send\n");
            return 1;
        }
        ev_run(loop, EVRUN_NOWAIT);
    }
    t0 = ctl_now_ms();
    while (pongs < PINGS && ctl_now_ms() - t0 < 10000) {
        ev_run(loop, EVRUN_ONCE);
    }
    ctl_conn_close(c, "test");
    ctl_conn_free(c);
    printf("confirms=%d pongs=%d nulls_multi=%d nulls_tok=%d\n", confirms, pongs, nulls_multi,
           nulls_tok);
    if (confirms != 4 || pongs != PINGS || nulls_multi != 1 || nulls_tok != 1) {
        fprintf(stderr, "FAIL: expected confirms=4 pongs=%d nulls_multi=1 nulls_tok=1\n", PINGS);
        return 1;
    }
    return 0;
}
