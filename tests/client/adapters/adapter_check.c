/*
 * adapter_check.c -- one program, built once per loop adapter (libev,
 * libevent, libuv: -DMC_LOOP_LIBEV / _LIBEVENT / _LIBUV), that drives the
 * asynchronous API through that adapter against a real server: N SETs with
 * unique values in flight at once, then a GET of each, then a close with
 * commands in flight.  Every callback must run exactly once.
 *
 *   adapter_check SEGMENT GROUP N [PASSWORD]
 *
 * Prints "ok <adapter> sets N gets N closed K" and exits 0, or a reason and 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(MC_LOOP_LIBEV)
#include <marshal/adapters/libev.h>
#define ADAPTER "libev"
#elif defined(MC_LOOP_LIBEVENT)
#include <marshal/adapters/libevent.h>
#define ADAPTER "libevent"
#elif defined(MC_LOOP_LIBUV)
#include <marshal/adapters/libuv.h>
#define ADAPTER "libuv"
#else
#error "define MC_LOOP_LIBEV, MC_LOOP_LIBEVENT or MC_LOOP_LIBUV"
#endif

static marshal_async *A;
static marshal_target *G;
static int N, done_sets, done_gets, done_close, bad;
static unsigned char *seen;     /* per command: callbacks run */

static void
fail(const char *what, int i, const marshal_result *res)
{
    if (bad++ < 5) {
        printf("FAIL %s #%d: %s / %s: %s\n", what, i, marshal_strerror(res->status),
               marshal_outcome_name(res->outcome), res->errstr);
    }
}

static void issue_gets(void);
static void issue_close_batch(void);

static void
on_set(marshal_async *a, redisReply *r, const marshal_result *res, void *priv)
{
    int i = (int)(intptr_t)priv;

    (void)a;
    if (seen[i]++ != 0) {
        fail("second callback for set", i, res);
    }
    if (res->status != MARSHAL_OK || res->outcome != MARSHAL_OUTCOME_APPLIED || r == NULL ||
        r->type != REDIS_REPLY_STATUS) {
        fail("set", i, res);
    }
    if (++done_sets == N) {
        issue_gets();
    }
}

static void
on_get(marshal_async *a, redisReply *r, const marshal_result *res, void *priv)
{
    int i = (int)(intptr_t)priv;
    char want[64];

    (void)a;
    if (seen[N + i]++ != 0) {
        fail("second callback for get", i, res);
    }
    snprintf(want, sizeof(want), "v-%s-%d", ADAPTER, i);
    if (res->status != MARSHAL_OK || r == NULL || r->type != REDIS_REPLY_STRING ||
        r->len != strlen(want) || memcmp(r->str, want, r->len) != 0) {
        fail("get", i, res);
    }
    if (++done_gets == N) {
        issue_close_batch();
    }
}

static void
on_closing(marshal_async *a, redisReply *r, const marshal_result *res, void *priv)
{
    int i = (int)(intptr_t)priv;

    (void)a;
    (void)r;
    if (seen[2 * N + i]++ != 0) {
        fail("second callback at close", i, res);
    }
    if (res->status == MARSHAL_ERR_CLOSED) {
        done_close++;
    } else if (res->status != MARSHAL_OK) {
        fail("closing batch", i, res);
    }
}

static void
issue_gets(void)
{
    int i;

    for (i = 0; i < N; i++) {
        if (marshal_async_command(G, on_get, (void *)(intptr_t)i, "GET k-%s-%d", ADAPTER, i) !=
            MARSHAL_OK) {
            printf("FAIL get #%d not accepted\n", i);
            bad++;
        }
    }
}

/* Commands in flight, then close at once: each callback still runs once. */
static void
issue_close_batch(void)
{
    int i;

    for (i = 0; i < N; i++) {
        if (marshal_async_command(G, on_closing, (void *)(intptr_t)i, "INCR c-%s", ADAPTER) !=
            MARSHAL_OK) {
            bad++;
        }
    }
    marshal_async_close(A);
    A = NULL;
    for (i = 0; i < N; i++) {
        if (seen[2 * N + i] != 1) {
            printf("FAIL close: command %d had %d callbacks\n", i, seen[2 * N + i]);
            bad++;
            break;
        }
    }
    /* a call on a closed handle is refused, never called back: nothing to check */
}

int
main(int argc, char **argv)
{
    marshal_options o;
    int i, rc;

    if (argc < 4) {
        fprintf(stderr, "usage: %s SEGMENT GROUP N [PASSWORD]\n", argv[0]);
        return 2;
    }
    N = atoi(argv[3]);
    if (N < 1 || N > 1000000) {
        return 2;
    }
    seen = calloc((size_t)N * 3, 1);
    marshal_options_init(&o);
    o.command_timeout_ms = 5000;
    if (argc > 4) {
        o.password = argv[4];
    }
    rc = marshal_async_open(argv[1], &o, &A);
    if (rc != MARSHAL_OK) {
        printf("FAIL open: %s\n", marshal_strerror(rc));
        return 1;
    }
#if defined(MC_LOOP_LIBEV)
    struct ev_loop *loop = EV_DEFAULT;
    rc = marshal_async_libev_attach(A, loop);
#elif defined(MC_LOOP_LIBEVENT)
    struct event_base *base = event_base_new();
    rc = marshal_async_libevent_attach(A, base);
#else
    uv_loop_t *loop = uv_default_loop();
    rc = marshal_async_libuv_attach(A, loop);
#endif
    if (rc != MARSHAL_OK || marshal_async_target_open(A, argv[2], &G) != MARSHAL_OK) {
        printf("FAIL attach/target\n");
        return 1;
    }
    if (marshal_async_command(G, on_set, NULL, "SUBSCRIBE x") != MARSHAL_ERR_UNSUPPORTED) {
        printf("FAIL SUBSCRIBE accepted\n");
        return 1;
    }
    for (i = 0; i < N; i++) {
        char key[64], val[64];
        const char *av[3] = {"SET", key, val};

        snprintf(key, sizeof(key), "k-%s-%d", ADAPTER, i);
        snprintf(val, sizeof(val), "v-%s-%d", ADAPTER, i);
        if (marshal_async_command_argv(G, on_set, (void *)(intptr_t)i, 3, av, NULL) !=
            MARSHAL_OK) {
            printf("FAIL set #%d not accepted\n", i);
            return 1;
        }
    }
    /* the loop ends when the close released every watcher */
#if defined(MC_LOOP_LIBEV)
    ev_run(loop, 0);
#elif defined(MC_LOOP_LIBEVENT)
    event_base_dispatch(base);
    event_base_free(base);
#else
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
#endif
    if (done_sets != N || done_gets != N || bad != 0) {
        printf("FAIL %s: sets %d gets %d of %d, %d errors\n", ADAPTER, done_sets, done_gets, N,
               bad);
        return 1;
    }
    printf("ok %s sets %d gets %d closed %d\n", ADAPTER, done_sets, done_gets, done_close);
    free(seen);
    return 0;
}
