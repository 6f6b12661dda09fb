/*
 * cluster_check.c -- drive a cluster (marshal0) target for lib_cluster.sh.
 *
 *   cluster_check SEGMENT TARGET write PREFIX N        SET PREFIX:i v:i through Marshal
 *   cluster_check SEGMENT TARGET verify PREFIX N       MGET (100 keys per command, split
 *                                                      over groups) and check every value
 *   cluster_check SEGMENT TARGET multikey PREFIX       split/merge semantics (below)
 *   cluster_check SEGMENT TARGET tags                  hash-tagged keys stay together
 *   cluster_check SEGMENT TARGET down PREFIX N GROUP   GROUP is down: its keys fail, the
 *                                                      others are served, nothing moves
 *   cluster_check SEGMENT TARGET where KEY             prints the group a key lands on
 *   cluster_check SEGMENT TARGET share PREFIX N        EXISTS PREFIX:i for i < N; prints
 *                                                      "GROUP COUNT" per group reached
 *
 * Prints a summary line and "FAIL: ..." on the first violated expectation
 * (exit 1).  Every loop is bounded by N.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marshal/marshal.h"

static marshal_client *c;
static marshal_target *t;

#define FAIL(...)                                                   \
    do {                                                            \
        printf("FAIL: ");                                           \
        printf(__VA_ARGS__);                                        \
        printf(" [%s; outcome %s]\n", marshal_client_errstr(c),     \
               marshal_outcome_name(marshal_client_outcome(c)));    \
        exit(1);                                                    \
    } while (0)

/* Group the last (single-leg) command went to. */
static const char *
leg_group(void)
{
    const marshal_leg *l;

    return marshal_client_legs(c, &l) >= 1 ? l[0].group : "";
}

static void
cmd_write(const char *prefix, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        redisReply *r = marshal_command(t, "SET %s:%d v:%d", prefix, i, i);

        if (r == NULL || r->type != REDIS_REPLY_STATUS) {
            FAIL("SET %s:%d", prefix, i);
        }
        freeReplyObject(r);
        if (marshal_client_outcome(c) != MARSHAL_OUTCOME_APPLIED) {
            FAIL("SET %s:%d outcome", prefix, i);
        }
    }
    printf("wrote %d keys\n", n);
}

static void
cmd_verify(const char *prefix, int n)
{
    const char *argv[101];
    char keys[100][64], want[64];
    int i, j, ok = 0, maxlegs = 0;

    argv[0] = "MGET";
    for (i = 0; i < n; i += 100) {
        int k = n - i < 100 ? n - i : 100, legs;
        redisReply *r;

        for (j = 0; j < k; j++) {
            snprintf(keys[j], sizeof(keys[j]), "%s:%d", prefix, i + j);
            argv[1 + j] = keys[j];
        }
        r = marshal_command_argv(t, k + 1, argv, NULL);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)k) {
            FAIL("MGET of %s:%d..%d", prefix, i, i + k - 1);
        }
        legs = marshal_client_legs(c, NULL);
        maxlegs = legs > maxlegs ? legs : maxlegs;
        for (j = 0; j < k; j++) {
            snprintf(want, sizeof(want), "v:%d", i + j);
            if (r->element[j] == NULL || r->element[j]->type != REDIS_REPLY_STRING ||
                strcmp(r->element[j]->str, want) != 0) {
                const marshal_leg *lg;
                int q, nl = marshal_client_legs(c, &lg);

                for (q = 0; q < nl; q++) {
                    printf("leg %s %s:%d keys %d status %d outcome %s\n", lg[q].group, lg[q].host,
                           lg[q].port, lg[q].nkeys, lg[q].status, marshal_outcome_name(lg[q].outcome));
                }
                FAIL("%s: expected \"%s\", got %s", keys[j], want,
                     r->element[j] && r->element[j]->str ? r->element[j]->str : "(nil)");
            }
            ok++;
        }
        freeReplyObject(r);
    }
    printf("verified %d keys (up to %d groups per MGET)\n", ok, maxlegs);
}

static long long
integer(const char *what, redisReply *r)
{
    long long v;

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        FAIL("%s: no integer reply", what);
    }
    v = r->integer;
    freeReplyObject(r);
    return v;
}

/* MSET/MGET/EXISTS/TOUCH/DEL/UNLINK over 100 keys that span the groups. */
static void
cmd_multikey(const char *prefix)
{
    const char *argv[202];
    char keys[100][64], vals[100][64];
    const marshal_leg *legs;
    redisReply *r;
    int i, n;

    argv[0] = "MSET";
    for (i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%s:%d", prefix, i);
        snprintf(vals[i], sizeof(vals[i]), "m%d", i * 7);
        argv[1 + 2 * i] = keys[i];
        argv[2 + 2 * i] = vals[i];
    }
    r = marshal_command_argv(t, 201, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0) {
        FAIL("split MSET");
    }
    freeReplyObject(r);
    n = marshal_client_legs(c, &legs);
    if (n < 2) {
        FAIL("MSET of 100 keys used %d group(s): the keys should span groups", n);
    }
    for (i = 0; i < n; i++) {
        if (legs[i].status != MARSHAL_OK || legs[i].outcome != MARSHAL_OUTCOME_APPLIED) {
            FAIL("MSET leg %s not applied", legs[i].group);
        }
    }
    printf("MSET split over %d groups\n", n);
    /* MGET in order, with a missing key in the middle */
    argv[0] = "MGET";
    for (i = 0; i < 100; i++) {
        argv[1 + i] = keys[i];
    }
    argv[51] = "missing-key-xyz";
    r = marshal_command_argv(t, 101, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 100) {
        FAIL("split MGET");
    }
    for (i = 0; i < 100; i++) {
        if (i == 50) {
            if (r->element[i]->type != REDIS_REPLY_NIL) {
                FAIL("MGET[50] should be nil");
            }
        } else if (r->element[i]->type != REDIS_REPLY_STRING ||
                   strcmp(r->element[i]->str, vals[i]) != 0) {
            FAIL("MGET[%d] = %s, expected %s", i, r->element[i]->str, vals[i]);
        }
    }
    freeReplyObject(r);
    /* counts are summed over the groups */
    argv[0] = "EXISTS";
    argv[51] = keys[50];
    if (integer("EXISTS", marshal_command_argv(t, 101, argv, NULL)) != 100) {
        FAIL("EXISTS of 100 keys != 100");
    }
    argv[0] = "TOUCH";
    if (integer("TOUCH", marshal_command_argv(t, 101, argv, NULL)) != 100) {
        FAIL("TOUCH of 100 keys != 100");
    }
    argv[0] = "DEL";
    if (integer("DEL", marshal_command_argv(t, 51, argv, NULL)) != 50) {
        FAIL("DEL of 50 keys != 50");
    }
    argv[0] = "UNLINK";
    if (integer("UNLINK", marshal_command_argv(t, 101, argv, NULL)) != 50) {
        FAIL("UNLINK of 100 keys (50 left) != 50");
    }
    /* a command that cannot be split across groups is refused, not half-run */
    r = marshal_command(t, "RENAME %s %s", keys[0], keys[1]);
    if (r != NULL || marshal_client_errcode(c) != MARSHAL_ERR_CROSSGROUP) {
        /* keys 0 and 1 may share a group: then try others */
        int a, b, found = 0;

        freeReplyObject(r);
        for (a = 0; a < 100 && !found; a++) {
            for (b = a + 1; b < 100 && !found; b++) {
                redisReply *x = marshal_command(t, "SUNIONSTORE %s %s", keys[a], keys[b]);

                if (x == NULL) {
                    if (marshal_client_errcode(c) != MARSHAL_ERR_CROSSGROUP ||
                        marshal_client_outcome(c) != MARSHAL_OUTCOME_NOT_APPLIED) {
                        FAIL("cross-group SUNIONSTORE: wrong error");
                    }
                    found = 1;
                } else {
                    freeReplyObject(x);
                }
            }
        }
        if (!found) {
            FAIL("no cross-group pair among 100 keys");
        }
    }
    r = marshal_command(t, "PING");
    if (r != NULL || marshal_client_errcode(c) != MARSHAL_ERR_UNSUPPORTED) {
        FAIL("a keyless command on a cluster should be refused");
    }
    printf("multikey ok\n");
}

/* {tag} keys land in one group; MSET of them is one leg */
static void
cmd_tags(void)
{
    char first[64];
    redisReply *r;
    int i;

    r = marshal_command(t, "MSET {user1000}.following a {user1000}.followers b {user1000}.x c");
    if (r == NULL) {
        FAIL("tagged MSET");
    }
    freeReplyObject(r);
    if (marshal_client_legs(c, NULL) != 1) {
        FAIL("tagged MSET used %d legs", marshal_client_legs(c, NULL));
    }
    snprintf(first, sizeof(first), "%s", leg_group());
    for (i = 0; i < 50; i++) {
        r = marshal_command(t, "SET {user1000}:%d x", i);
        if (r == NULL) {
            FAIL("SET {user1000}:%d", i);
        }
        freeReplyObject(r);
        if (strcmp(leg_group(), first) != 0) {
            FAIL("{user1000}:%d went to %s, not %s", i, leg_group(), first);
        }
    }
    /* a multi-key command over one tag is not split: it runs as one command */
    r = marshal_command(t, "SUNIONSTORE {user1000}.dst {user1000}.s1 {user1000}.s2");
    if (r == NULL) {
        FAIL("SUNIONSTORE within one tag");
    }
    freeReplyObject(r);
    printf("tags ok: group %s\n", first);
}

/* GROUP is down: keys there fail (not applied), others work, nothing moves */
static void
cmd_down(const char *prefix, int n, const char *down)
{
    int i, ok = 0, failed = 0;

    for (i = 0; i < n; i++) {
        redisReply *r = marshal_command(t, "GET %s:%d", prefix, i);
        const char *g = leg_group();

        if (r != NULL) {
            char want[32];

            snprintf(want, sizeof(want), "v:%d", i);
            if (strcmp(g, down) == 0) {
                FAIL("%s:%d served by down group %s", prefix, i, g);
            }
            if (r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0) {
                FAIL("%s:%d wrong value from %s", prefix, i, g);
            }
            ok++;
            freeReplyObject(r);
            continue;
        }
        if (strcmp(g, down) != 0) {
            FAIL("%s:%d failed on group %s, which is up", prefix, i, g);
        }
        if (marshal_client_outcome(c) != MARSHAL_OUTCOME_NOT_APPLIED) {
            FAIL("%s:%d on the down group: outcome should be not applied", prefix, i);
        }
        failed++;
    }
    if (failed == 0 || ok == 0) {
        FAIL("expected both served and failed keys: ok %d failed %d", ok, failed);
    }
    printf("down %s: %d keys served by the other groups, %d failed (not applied)\n", down, ok,
           failed);
}

/* Where N keys land (one EXISTS each, read-only): "GROUP COUNT" lines. */
static void
cmd_share(const char *prefix, int n)
{
    char names[32][64];
    int counts[32] = {0}, ng = 0, i, j;

    for (i = 0; i < n; i++) {
        redisReply *r = marshal_command(t, "EXISTS %s:%d", prefix, i);
        const char *g = leg_group();

        if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
            FAIL("EXISTS %s:%d", prefix, i);
        }
        freeReplyObject(r);
        for (j = 0; j < ng && strcmp(names[j], g) != 0; j++) {
        }
        if (j == ng) {
            if (ng == 32) {
                FAIL("more than 32 groups");
            }
            snprintf(names[ng++], sizeof(names[0]), "%s", g);
        }
        counts[j]++;
    }
    for (j = 0; j < ng; j++) {
        printf("%s %d\n", names[j], counts[j]);
    }
}

int
main(int argc, char **argv)
{
    marshal_options o;
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: cluster_check SEGMENT TARGET CMD ARGS...\n");
        return 2;
    }
    marshal_options_init(&o);
    /* a down group is not coming back in these tests: don't wait for it */
    o.failover_wait_ms = strcmp(argv[3], "down") == 0 ? 0 : 200;
    rc = marshal_client_open(argv[1], &o, &c);
    if (rc != MARSHAL_OK) {
        printf("FAIL: open: %s\n", c ? marshal_client_errstr(c) : marshal_strerror(rc));
        return 1;
    }
    rc = marshal_target_open(c, argv[2], &t);
    if (rc != MARSHAL_OK) {
        printf("FAIL: target %s: %s\n", argv[2], marshal_client_errstr(c));
        return 1;
    }
    if (strcmp(argv[3], "write") == 0 && argc == 6) {
        cmd_write(argv[4], atoi(argv[5]));
    } else if (strcmp(argv[3], "verify") == 0 && argc == 6) {
        cmd_verify(argv[4], atoi(argv[5]));
    } else if (strcmp(argv[3], "multikey") == 0 && argc == 5) {
        cmd_multikey(argv[4]);
    } else if (strcmp(argv[3], "tags") == 0) {
        cmd_tags();
    } else if (strcmp(argv[3], "down") == 0 && argc == 7) {
        cmd_down(argv[4], atoi(argv[5]), argv[6]);
    } else if (strcmp(argv[3], "share") == 0 && argc == 6) {
        cmd_share(argv[4], atoi(argv[5]));
    } else if (strcmp(argv[3], "where") == 0 && argc == 5) {
        redisReply *r = marshal_command(t, "EXISTS %s", argv[4]);

        freeReplyObject(r);
        printf("%s\n", leg_group());
    } else {
        fprintf(stderr, "cluster_check: bad command\n");
        return 2;
    }
    marshal_client_close(c);
    return 0;
}
