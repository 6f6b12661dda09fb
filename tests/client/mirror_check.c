/*
 * mirror_check.c -- drive a mirrored target (marshal1 cluster, marshal10 farm)
 * through the public API, for lib_mirror.sh and lib_farm.sh.
 *
 *   mirror_check SEGMENT TARGET write PREFIX N NLEGS
 *       SET PREFIX:i v:i (i < N): every reply OK, outcome applied, exactly
 *       NLEGS legs, each status OK, applied, with a server.
 *   mirror_check SEGMENT TARGET killrun PREFIX DOWN NPARTIAL SECS
 *       policy all: SET PREFIX:i in a loop; prints "progress" (stdout,
 *       flushed) after 200 applied writes, then expects member DOWN to die
 *       (killed by the caller): every write is either applied on every leg
 *       (before) or fails with outcome partial (after: the DOWN leg not
 *       applied -- unknown only for writes in flight at the kill, at most 3,
 *       all before the first refused one --, every
 *       other leg applied); never applied again once partial.  Ends after
 *       NPARTIAL partial writes; fails after SECS seconds.
 *   mirror_check SEGMENT TARGET primary PREFIX N PRIMARY DOWN
 *       policy primary with DOWN down: SET PREFIX:i acknowledged (applied),
 *       PRIMARY's leg applied, DOWN's leg not applied (status != OK), the
 *       other legs unknown at return; after close (mirror replies drained)
 *       no mirror leg but DOWN's failed (log callback) and DOWN was
 *       reported diverged once per write.
 *   mirror_check SEGMENT TARGET read PREFIX N GROUP
 *       GET PREFIX:i returns v:i, served by member GROUP (a leg with status
 *       OK, applied); any other leg is a member that failed (not applied).
 *   mirror_check SEGMENT TARGET readfail KEY
 *       GET KEY fails: no member may serve it (status NOSERVER, not applied,
 *       no leg that succeeded).
 *   mirror_check SEGMENT TARGET refuse KEY SETKEY
 *       SPOP SETKEY, EXPIRE KEY 10, SET KEY v EX 10, SET KEY v PX 10000,
 *       SETEX, EVAL, MULTI: MARSHAL_ERR_UNSUPPORTED, outcome not applied, no
 *       leg, no server; pipelining refused too.
 *   mirror_check SEGMENT TARGET allowed KEY SETKEY ABS_S ABS_MS NLEGS
 *       SET KEY2 v EXAT ABS_S and PEXPIREAT KEY ABS_MS applied on NLEGS legs;
 *       SRANDMEMBER SETKEY is a read: one member of SETKEY, one leg.
 *   mirror_check SEGMENT TARGET place PREFIX N
 *       (a marshal0 cluster) GET PREFIX:i == v:i; prints "PREFIX:i GROUP".
 *   mirror_check SEGMENT TARGET fread PREFIX FROM TO PRIMARY FALLBACK DOWN
 *       (a farm) DOWN is a group of member cluster PRIMARY that is down.
 *       For every key PREFIX:i, FROM <= i < TO: its group in PRIMARY (a GET through the PRIMARY
 *       target: fails exactly for DOWN's keys); GET through the farm returns
 *       v:i from PRIMARY (one leg) or, for DOWN's keys, from FALLBACK (one
 *       leg).  Both kinds must occur.
 *   mirror_check SEGMENT TARGET fmulti PREFIX N NLEGS
 *       (a farm) MGET of PREFIX:0..N-1 (one command) returns every value,
 *       one leg (the primary cluster); DEL of PREFIX:0..N/4-1 plus 10 missing
 *       keys returns N/4 on NLEGS legs; EXISTS of all N returns N - N/4.
 *
 * Prints a summary line, or "FAIL: ..." on the first violated expectation
 * (exit 1).  Every loop is bounded by N or a deadline.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "marshal/marshal.h"

static marshal_client *c;
static marshal_target *t;

/* log callback: mirror failures and divergence reports, per member */
#define MAXG 16
static struct {
    char group[64];
    int leg_failed;     /* "mirror leg to G failed" */
    int diverged;       /* "mirror G diverged" */
} logc[MAXG];
static int n_logc;
static char last_log[512];

static void
dump_legs(void)
{
    const marshal_leg *l;
    int i, n = marshal_client_legs(c, &l);

    for (i = 0; i < n; i++) {
        printf("  leg %s %s:%d status %d (%s) outcome %s keys %d\n", l[i].group, l[i].host,
               l[i].port, l[i].status, marshal_strerror(l[i].status),
               marshal_outcome_name(l[i].outcome), l[i].nkeys);
    }
}

#define FAIL(...)                                                                     \
    do {                                                                              \
        printf("FAIL: ");                                                             \
        printf(__VA_ARGS__);                                                          \
        printf(" [%s; errcode %d; outcome %s; last log: %s]\n", marshal_client_errstr(c), \
               marshal_client_errcode(c), marshal_outcome_name(marshal_client_outcome(c)), \
               last_log);                                                             \
        dump_legs();                                                                  \
        exit(1);                                                                      \
    } while (0)

static int *
logc_slot(const char *g, size_t len, int which)
{
    int i;

    if (len >= sizeof(logc[0].group)) {
        return NULL;
    }
    for (i = 0; i < n_logc; i++) {
        if (strlen(logc[i].group) == len && memcmp(logc[i].group, g, len) == 0) {
            break;
        }
    }
    if (i == n_logc) {
        if (n_logc == MAXG) {
            return NULL;
        }
        memcpy(logc[i].group, g, len);
        logc[i].group[len] = '\0';
        n_logc++;
    }
    return which ? &logc[i].diverged : &logc[i].leg_failed;
}

static void
on_log(void *ud, int level, const char *msg)
{
    const char *p, *e;
    int *n;

    (void)ud;
    (void)level;
    snprintf(last_log, sizeof(last_log), "%s", msg);
    if ((p = strstr(msg, "mirror leg to ")) != NULL) {
        p += strlen("mirror leg to ");
        e = strstr(p, " failed");
        if (e != NULL && (n = logc_slot(p, (size_t)(e - p), 0)) != NULL) {
            (*n)++;
        }
    } else if ((p = strstr(msg, ": mirror ")) != NULL && strstr(msg, " diverged") != NULL) {
        p += strlen(": mirror ");
        e = strstr(p, " diverged");
        if (e != NULL && (n = logc_slot(p, (size_t)(e - p), 1)) != NULL) {
            (*n)++;
        }
    }
}

static int
logc_get(const char *g, int which)
{
    int i;

    for (i = 0; i < n_logc; i++) {
        if (strcmp(logc[i].group, g) == 0) {
            return which ? logc[i].diverged : logc[i].leg_failed;
        }
    }
    return 0;
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The leg of member g in the last command, or NULL. */
static const marshal_leg *
leg_of(const char *g)
{
    const marshal_leg *l;
    int i, n = marshal_client_legs(c, &l);

    for (i = 0; i < n; i++) {
        if (strcmp(l[i].group, g) == 0) {
            return &l[i];
        }
    }
    return NULL;
}

static int
leg_applied(const marshal_leg *l)
{
    return l->status == MARSHAL_OK && l->outcome == MARSHAL_OUTCOME_APPLIED;
}

/* Every leg of the last write applied, and there are nlegs of them. */
static void
expect_all_applied(const char *what, int nlegs)
{
    const marshal_leg *l;
    int i, n = marshal_client_legs(c, &l);

    if (n != nlegs) {
        FAIL("%s: %d legs, expected %d", what, n, nlegs);
    }
    for (i = 0; i < n; i++) {
        if (!leg_applied(&l[i])) {
            FAIL("%s: leg %s not applied", what, l[i].group);
        }
        if (l[i].host[0] == '\0' || l[i].port <= 0) {
            FAIL("%s: applied leg %s names no server", what, l[i].group);
        }
    }
}

static void
expect_status_ok(const char *what, redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0) {
        FAIL("%s: expected +OK, got %s", what,
             r == NULL ? "NULL" : r->type == REDIS_REPLY_ERROR ? r->str : "another reply");
    }
    if (marshal_client_outcome(c) != MARSHAL_OUTCOME_APPLIED ||
        marshal_client_errcode(c) != MARSHAL_OK) {
        FAIL("%s: +OK but not reported applied", what);
    }
}

static void
cmd_write(const char *prefix, int n, int nlegs)
{
    char what[96];
    int i;

    for (i = 0; i < n; i++) {
        redisReply *r = marshal_command(t, "SET %s:%d v:%d", prefix, i, i);

        snprintf(what, sizeof(what), "SET %s:%d", prefix, i);
        expect_status_ok(what, r);
        freeReplyObject(r);
        expect_all_applied(what, nlegs);
    }
    printf("wrote %d keys, %d legs applied each\n", n, nlegs);
}

static void
cmd_killrun(const char *prefix, const char *down, int npartial, int secs)
{
    long long deadline = now_ms() + (long long)secs * 1000;
    int i, applied = 0, partial = 0, unknown_legs = 0, notapp_legs = 0, first_partial = -1;
    int progressed = 0, nlegs = 0;
    char what[96], seq[256] = "";
    size_t sl = 0;

    for (i = 0; partial < npartial; i++) {
        redisReply *r;
        const marshal_leg *l;
        int k, n;

        if (now_ms() > deadline) {
            FAIL("after %d s: %d applied, %d partial writes (%s never went down?)", secs,
                 applied, partial, down);
        }
        r = marshal_command(t, "SET %s:%d v:%d", prefix, i, i);
        snprintf(what, sizeof(what), "SET %s:%d", prefix, i);
        n = marshal_client_legs(c, &l);
        if (nlegs == 0) {
            nlegs = n;
        }
        if (n != nlegs || n < 2) {
            FAIL("%s: %d legs (earlier writes had %d)", what, n, nlegs);
        }
        if (marshal_client_outcome(c) == MARSHAL_OUTCOME_APPLIED) {
            expect_status_ok(what, r);
            freeReplyObject(r);
            if (partial > 0) {
                FAIL("%s applied after a partial write: %s is still down", what, down);
            }
            expect_all_applied(what, nlegs);
            if (++applied == 200 && !progressed) {
                printf("progress %d\n", i);
                fflush(stdout);
                progressed = 1;
            }
            continue;
        }
        /* the down member's leg did not apply: never reported applied */
        if (r != NULL) {
            FAIL("%s: a reply (type %d) although not every leg applied", what, r->type);
        }
        if (!progressed) {
            FAIL("%s: not applied before the kill", what);
        }
        if (marshal_client_outcome(c) != MARSHAL_OUTCOME_PARTIAL) {
            FAIL("%s: outcome should be partial", what);
        }
        if (marshal_client_errcode(c) == MARSHAL_OK) {
            FAIL("%s: partial write with errcode OK", what);
        }
        for (k = 0; k < n; k++) {
            if (strcmp(l[k].group, down) == 0) {
                if (l[k].status == MARSHAL_OK || l[k].outcome == MARSHAL_OUTCOME_APPLIED) {
                    FAIL("%s: leg of the killed member %s reported ok/applied", what, down);
                }
                if (sl + 24 < sizeof(seq)) {
                    sl += (size_t)snprintf(seq + sl, sizeof(seq) - sl, "%s%d/%c", sl ? "," : "",
                                           l[k].status,
                                           l[k].outcome == MARSHAL_OUTCOME_UNKNOWN ? 'U' : 'N');
                }
                if (l[k].outcome == MARSHAL_OUTCOME_UNKNOWN) {
                    /* only a write in flight when the server died */
                    if (notapp_legs > 0) {
                        FAIL("%s: %s's leg unknown after it was refused", what, down);
                    }
                    unknown_legs++;
                } else if (l[k].outcome == MARSHAL_OUTCOME_NOT_APPLIED) {
                    notapp_legs++;
                } else {
                    FAIL("%s: %s's leg outcome %s", what, down,
                         marshal_outcome_name(l[k].outcome));
                }
            } else if (!leg_applied(&l[k])) {
                FAIL("%s: leg %s (up) not applied", what, l[k].group);
            }
        }
        if (leg_of(down) == NULL) {
            FAIL("%s: no leg for %s", what, down);
        }
        if (first_partial < 0) {
            first_partial = i;
        }
        partial++;
    }
    /* the write in flight at the kill, and one sent on a connection the dying
     * server still accepted, may be unknown; then every attempt is refused */
    if (unknown_legs > 3) {
        FAIL("%d writes had an unknown leg on %s (%s): only those in flight at the kill may",
             unknown_legs, down, seq);
    }
    printf("killrun: applied %d partial %d first_partial %d last %d unknown_legs %d "
           "not_applied_legs %d legs %d (%s leg status/outcome: %s)\n",
           applied, partial, first_partial, i - 1, unknown_legs, notapp_legs, nlegs, down, seq);
}

static void
cmd_primary(const char *prefix, int n, const char *prim, const char *down)
{
    char what[96];
    int i, m, nlegs = 0;

    for (i = 0; i < n; i++) {
        redisReply *r = marshal_command(t, "SET %s:%d v:%d", prefix, i, i);
        const marshal_leg *l;

        snprintf(what, sizeof(what), "SET %s:%d", prefix, i);
        expect_status_ok(what, r);
        freeReplyObject(r);
        nlegs = marshal_client_legs(c, &l);
        if (nlegs < 3) {
            FAIL("%s: %d legs, expected one per member (3)", what, nlegs);
        }
        for (m = 0; m < nlegs; m++) {
            if (strcmp(l[m].group, prim) == 0) {
                if (!leg_applied(&l[m]) || l[m].host[0] == '\0') {
                    FAIL("%s: primary leg %s not applied", what, prim);
                }
            } else if (strcmp(l[m].group, down) == 0) {
                if (l[m].status == MARSHAL_OK || l[m].outcome != MARSHAL_OUTCOME_NOT_APPLIED) {
                    FAIL("%s: leg of down member %s should be not applied with an error", what,
                         down);
                }
            } else if (l[m].status != MARSHAL_OK || l[m].outcome != MARSHAL_OUTCOME_UNKNOWN) {
                FAIL("%s: mirror leg %s should be sent, reply unknown at return", what,
                     l[m].group);
            }
        }
        if (leg_of(prim) == NULL || leg_of(down) == NULL) {
            FAIL("%s: legs lack %s or %s", what, prim, down);
        }
    }
    /* close reads every mirror reply still owed (and logs a failed one) */
    {
        const marshal_leg *l;
        char names[8][64];
        int nn = marshal_client_legs(c, &l);

        for (m = 0; m < nn && m < 8; m++) {
            snprintf(names[m], sizeof(names[m]), "%s", l[m].group);
        }
        marshal_client_close(c);
        c = NULL;
        for (m = 0; m < nn && m < 8; m++) {
            int failed = logc_get(names[m], 0), div = logc_get(names[m], 1);

            if (strcmp(names[m], down) == 0) {
                if (div < n) {
                    FAIL("%s diverged reports %d, expected one per write (%d)", down, div, n);
                }
            } else if (failed != 0 || div != 0) {
                FAIL("member %s: %d failed mirror legs, %d divergence reports", names[m],
                     failed, div);
            }
        }
        printf("primary: %d writes acknowledged (%d legs); %s reported diverged %d times; "
               "other mirrors: no failed leg\n",
               n, nlegs, down, logc_get(down, 1));
    }
}

static void
cmd_read(const char *prefix, int n, const char *group)
{
    char want[64];
    int i, k, maxlegs = 0;

    for (i = 0; i < n; i++) {
        redisReply *r = marshal_command(t, "GET %s:%d", prefix, i);
        const marshal_leg *l, *g;
        int nl;

        snprintf(want, sizeof(want), "v:%d", i);
        if (r == NULL || r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0) {
            FAIL("GET %s:%d: expected %s, got %s", prefix, i, want,
                 r == NULL ? "NULL" : r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_ERROR ? r->str : "(nil/other)");
        }
        freeReplyObject(r);
        if (marshal_client_outcome(c) != MARSHAL_OUTCOME_APPLIED) {
            FAIL("GET %s:%d: outcome", prefix, i);
        }
        g = leg_of(group);
        if (g == NULL || !leg_applied(g)) {
            FAIL("GET %s:%d: not served by %s", prefix, i, group);
        }
        nl = marshal_client_legs(c, &l);
        for (k = 0; k < nl; k++) {
            if (&l[k] != g && (l[k].status == MARSHAL_OK || l[k].outcome != MARSHAL_OUTCOME_NOT_APPLIED)) {
                FAIL("GET %s:%d: also a leg on %s that did not fail", prefix, i, l[k].group);
            }
        }
        maxlegs = nl > maxlegs ? nl : maxlegs;
    }
    printf("read %d keys, all served by %s (up to %d legs)\n", n, group, maxlegs);
}

static void
cmd_readfail(const char *key)
{
    redisReply *r = marshal_command(t, "GET %s", key);
    const marshal_leg *l;
    int i, n;

    if (r != NULL) {
        FAIL("GET %s served (type %d, %s) although no undiverged member can serve it", key,
             r->type, r->type == REDIS_REPLY_STRING ? r->str : "-");
    }
    if (marshal_client_outcome(c) != MARSHAL_OUTCOME_NOT_APPLIED ||
        marshal_client_errcode(c) != MARSHAL_ERR_NOSERVER) {
        FAIL("GET %s: expected MARSHAL_ERR_NOSERVER, not applied", key);
    }
    n = marshal_client_legs(c, &l);
    for (i = 0; i < n; i++) {
        if (l[i].status == MARSHAL_OK || l[i].outcome == MARSHAL_OUTCOME_APPLIED) {
            FAIL("GET %s: leg %s succeeded", key, l[i].group);
        }
    }
    printf("readfail: GET %s refused (%s), %d legs\n", key,
           marshal_strerror(marshal_client_errcode(c)), n);
}

static void
expect_refused(const char *what, redisReply *r)
{
    const char *h;
    int port;

    if (r != NULL) {
        FAIL("%s: accepted (reply type %d) on a mirrored target", what, r->type);
    }
    if (marshal_client_errcode(c) != MARSHAL_ERR_UNSUPPORTED) {
        FAIL("%s: errcode %d, expected MARSHAL_ERR_UNSUPPORTED", what, marshal_client_errcode(c));
    }
    if (marshal_client_outcome(c) != MARSHAL_OUTCOME_NOT_APPLIED) {
        FAIL("%s: outcome should be not applied", what);
    }
    if (marshal_client_legs(c, NULL) != 0) {
        FAIL("%s: refused but %d legs", what, marshal_client_legs(c, NULL));
    }
    if (marshal_client_last_server(c, &h, &port) != MARSHAL_ERR_NOTFOUND) {
        FAIL("%s: refused but a last server %s:%d", what, h, port);
    }
}

static void
cmd_refuse(const char *key, const char *setkey)
{
    static const char script[] = "redis.call('set', KEYS[1], 'eval'); return 1";
    int rc, n = 0;

    expect_refused("SPOP", marshal_command(t, "SPOP %s", setkey)), n++;
    expect_refused("SPOP count", marshal_command(t, "SPOP %s 2", setkey)), n++;
    expect_refused("EXPIRE", marshal_command(t, "EXPIRE %s 10", key)), n++;
    expect_refused("PEXPIRE", marshal_command(t, "PEXPIRE %s 10000", key)), n++;
    expect_refused("SET EX", marshal_command(t, "SET %s refused EX 10", key)), n++;
    expect_refused("SET ex (lower case)", marshal_command(t, "SET %s refused ex 10", key)), n++;
    expect_refused("SET PX", marshal_command(t, "SET %s refused PX 10000", key)), n++;
    expect_refused("SETEX", marshal_command(t, "SETEX %s 10 refused", key)), n++;
    expect_refused("GETEX EX", marshal_command(t, "GETEX %s EX 10", key)), n++;
    expect_refused("EVAL", marshal_command(t, "EVAL %s 1 %s", script, key)), n++;
    expect_refused("MULTI", marshal_command(t, "MULTI")), n++;
    expect_refused("EXEC", marshal_command(t, "EXEC")), n++;
    /* pipelines are refused on mirrored targets */
    rc = marshal_append(t, "SET %s pipelined", key);
    if (rc != MARSHAL_ERR_UNSUPPORTED || marshal_pending(t) != 0) {
        FAIL("pipelined SET on a mirrored target: status %d, pending %d", rc, marshal_pending(t));
    }
    printf("refused %d commands and a pipeline; nothing sent\n", n);
}

static void
cmd_allowed(const char *key, const char *setkey, const char *abs_s, const char *abs_ms,
            int nlegs)
{
    redisReply *r;
    const marshal_leg *l = NULL;
    int i;

    r = marshal_command(t, "SET %s:exat v EXAT %s", key, abs_s);
    expect_status_ok("SET EXAT", r);
    freeReplyObject(r);
    expect_all_applied("SET EXAT", nlegs);
    r = marshal_command(t, "PEXPIREAT %s %s", key, abs_ms);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
        FAIL("PEXPIREAT %s: expected :1", key);
    }
    freeReplyObject(r);
    if (marshal_client_outcome(c) != MARSHAL_OUTCOME_APPLIED) {
        FAIL("PEXPIREAT outcome");
    }
    expect_all_applied("PEXPIREAT", nlegs);
    for (i = 0; i < 20; i++) {
        r = marshal_command(t, "SRANDMEMBER %s", setkey);
        if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 1 || r->str[0] < 'a' ||
            r->str[0] > 'e') {
            FAIL("SRANDMEMBER %s: expected one of a..e", setkey);
        }
        freeReplyObject(r);
        if (marshal_client_outcome(c) != MARSHAL_OUTCOME_APPLIED ||
            marshal_client_legs(c, &l) != 1 || !leg_applied(&l[0])) {
            FAIL("SRANDMEMBER: a read goes to one member");
        }
    }
    printf("allowed: SET EXAT and PEXPIREAT on %d legs; SRANDMEMBER read from %s\n", nlegs,
           l[0].group);
}

/* A GET through target x; the group of its (single) leg, NULL reply allowed. */
static redisReply *
get_via(marshal_target *x, const char *key, char *group, size_t glen)
{
    redisReply *r = marshal_command(x, "GET %s", key);
    const marshal_leg *l;

    if (marshal_client_legs(c, &l) != 1) {
        FAIL("GET %s through a marshal0 cluster: %d legs", key, marshal_client_legs(c, NULL));
    }
    snprintf(group, glen, "%s", l[0].group);
    return r;
}

static void
expect_value(const char *what, redisReply *r, const char *want)
{
    if (r == NULL || r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0) {
        FAIL("%s: expected %s, got %s", what, want,
             r == NULL ? "NULL" : r->type == REDIS_REPLY_STRING ? r->str : "(not a string)");
    }
}

static void
cmd_place(const char *prefix, int n)
{
    char key[64], want[64], g[64];
    int i;

    for (i = 0; i < n; i++) {
        redisReply *r;

        snprintf(key, sizeof(key), "%s:%d", prefix, i);
        snprintf(want, sizeof(want), "v:%d", i);
        r = get_via(t, key, g, sizeof(g));
        expect_value(key, r, want);
        freeReplyObject(r);
        printf("%s %s\n", key, g);
    }
}

static void
cmd_fread(const char *prefix, int from, int n, const char *prim, const char *fb, const char *down)
{
    marshal_target *pt;
    char key[64], want[64], g[64];
    int i, from_prim = 0, from_fb = 0;

    if (marshal_target_open(c, prim, &pt) != MARSHAL_OK) {
        FAIL("open %s", prim);
    }
    for (i = from; i < n; i++) {
        redisReply *r;
        const marshal_leg *l;
        int on_down;

        snprintf(key, sizeof(key), "%s:%d", prefix, i);
        snprintf(want, sizeof(want), "v:%d", i);
        /* where the key lives in the primary cluster, and whether that group serves */
        r = get_via(pt, key, g, sizeof(g));
        on_down = strcmp(g, down) == 0;
        if (on_down) {
            if (r != NULL || marshal_client_outcome(c) != MARSHAL_OUTCOME_NOT_APPLIED) {
                FAIL("%s on down group %s through %s: should fail, not applied", key, down, prim);
            }
        } else {
            expect_value(key, r, want);
        }
        freeReplyObject(r);
        /* through the farm */
        r = marshal_command(t, "GET %s", key);
        expect_value(key, r, want);
        freeReplyObject(r);
        if (marshal_client_outcome(c) != MARSHAL_OUTCOME_APPLIED ||
            marshal_client_legs(c, &l) != 1 || !leg_applied(&l[0])) {
            FAIL("GET %s through the farm: one applied leg expected", key);
        }
        if (strcmp(l[0].group, on_down ? fb : prim) != 0) {
            FAIL("GET %s (group %s in %s%s) served by %s, expected %s", key, g, prim,
                 on_down ? ", down" : "", l[0].group, on_down ? fb : prim);
        }
        if (on_down) {
            from_fb++;
        } else {
            from_prim++;
        }
    }
    marshal_target_close(pt);
    if (from_fb == 0 || from_prim == 0) {
        FAIL("expected reads from both clusters: %d from %s, %d from %s", from_prim, prim,
             from_fb, fb);
    }
    printf("fread: %d keys read from %s, %d (group %s down) from %s\n", from_prim, prim, from_fb,
           down, fb);
}

static void
cmd_fmulti(const char *prefix, int n, int nlegs)
{
    const char **argv = calloc((size_t)n + 11, sizeof(*argv));
    char (*keys)[64] = calloc((size_t)n + 10, sizeof(*keys));
    char want[64];
    const marshal_leg *l;
    redisReply *r;
    int i, q = n / 4;

    if (argv == NULL || keys == NULL) {
        FAIL("out of memory");
    }
    for (i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%s:%d", prefix, i);
    }
    for (i = 0; i < 10; i++) {
        snprintf(keys[n + i], sizeof(keys[n + i]), "%s:missing:%d", prefix, i);
    }
    argv[0] = "MGET";
    for (i = 0; i < n; i++) {
        argv[1 + i] = keys[i];
    }
    r = marshal_command_argv(t, n + 1, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)n) {
        FAIL("MGET of %d keys through the farm", n);
    }
    for (i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "v:%d", i);
        expect_value(keys[i], r->element[i], want);
    }
    freeReplyObject(r);
    if (marshal_client_outcome(c) != MARSHAL_OUTCOME_APPLIED || marshal_client_legs(c, &l) != 1 ||
        !leg_applied(&l[0])) {
        FAIL("MGET through the farm: one applied leg (the primary cluster) expected");
    }
    printf("MGET of %d keys through the farm: all values, from %s\n", n, l[0].group);
    /* DEL: the first quarter and 10 missing keys, in every member cluster */
    argv[0] = "DEL";
    for (i = 0; i < q; i++) {
        argv[1 + i] = keys[i];
    }
    for (i = 0; i < 10; i++) {
        argv[1 + q + i] = keys[n + i];
    }
    r = marshal_command_argv(t, q + 11, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != q) {
        FAIL("DEL of %d existing + 10 missing keys: expected :%d, got %lld", q, q,
             r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
    }
    freeReplyObject(r);
    if (marshal_client_outcome(c) != MARSHAL_OUTCOME_APPLIED) {
        FAIL("DEL outcome");
    }
    {
        int k, nl = marshal_client_legs(c, &l);

        if (nl != nlegs) {
            FAIL("DEL through the farm: %d legs, expected %d", nl, nlegs);
        }
        for (k = 0; k < nl; k++) {
            if (!leg_applied(&l[k])) {
                FAIL("DEL leg %s not applied", l[k].group);
            }
        }
    }
    argv[0] = "EXISTS";
    for (i = 0; i < n; i++) {
        argv[1 + i] = keys[i];
    }
    r = marshal_command_argv(t, n + 1, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != n - q) {
        FAIL("EXISTS of %d keys after DEL of %d: expected :%d", n, q, n - q);
    }
    freeReplyObject(r);
    free(argv);
    free(keys);
    printf("DEL of %d keys (+10 missing) returned %d on %d legs; EXISTS %d\n", q, q, nlegs, n - q);
}

int
main(int argc, char **argv)
{
    marshal_options o;
    const char *cmd;
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: mirror_check SEGMENT TARGET CMD ARGS...\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    cmd = argv[3];
    marshal_options_init(&o);
    /* downed members stay down in these tests: wait for them only briefly */
    o.failover_wait_ms = strcmp(cmd, "fread") == 0 ? 0 : 100;
    o.connect_timeout_ms = 500;
    o.log_fn = on_log;
    o.log_level = MARSHAL_LOG_WARNING;
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
    if (strcmp(cmd, "write") == 0 && argc == 7) {
        cmd_write(argv[4], atoi(argv[5]), atoi(argv[6]));
    } else if (strcmp(cmd, "killrun") == 0 && argc == 8) {
        cmd_killrun(argv[4], argv[5], atoi(argv[6]), atoi(argv[7]));
    } else if (strcmp(cmd, "primary") == 0 && argc == 8) {
        cmd_primary(argv[4], atoi(argv[5]), argv[6], argv[7]);
    } else if (strcmp(cmd, "read") == 0 && argc == 7) {
        cmd_read(argv[4], atoi(argv[5]), argv[6]);
    } else if (strcmp(cmd, "readfail") == 0 && argc == 5) {
        cmd_readfail(argv[4]);
    } else if (strcmp(cmd, "refuse") == 0 && argc == 6) {
        cmd_refuse(argv[4], argv[5]);
    } else if (strcmp(cmd, "allowed") == 0 && argc == 9) {
        cmd_allowed(argv[4], argv[5], argv[6], argv[7], atoi(argv[8]));
    } else if (strcmp(cmd, "place") == 0 && argc == 6) {
        cmd_place(argv[4], atoi(argv[5]));
    } else if (strcmp(cmd, "fread") == 0 && argc == 10) {
        cmd_fread(argv[4], atoi(argv[5]), atoi(argv[6]), argv[7], argv[8], argv[9]);
    } else if (strcmp(cmd, "fmulti") == 0 && argc == 7) {
        cmd_fmulti(argv[4], atoi(argv[5]), atoi(argv[6]));
    } else {
        fprintf(stderr, "mirror_check: bad command\n");
        return 2;
    }
    marshal_client_close(c);
    return 0;
}
