/*
 * keys_check.c -- compares mc_cmd_keys() with a live server's COMMAND GETKEYS.
 *
 *   keys_check [-h host] [-p port] < cases
 *
 * Reads one command line per input line (blank lines and lines starting
 * with '#' are skipped).  Arguments are separated by blanks; "double
 * quotes" make one argument of anything, "" is an empty one, and \" and \\
 * escape inside quotes.  A line starting with '!' is a documented deviation:
 * Redis finds no keys there (an empty array, or "Invalid arguments") and
 * mc_cmd_keys() must say -1 (see the head comment of libclient/
 * mc_commands.c).
 *
 * For every line we resolve and extract the keys ourselves, ask the server
 * COMMAND GETKEYS <line>, and require:
 *   array of keys             the same keys, in the same order
 *   "Invalid command ..."     unknown to us too, or a container whose
 *                             subcommand we do not know (keyless for us)
 *   "... has no key arguments"  0 keys (or -1 when the arity is wrong: Redis
 *                             answers this before it checks the arity)
 *   "Invalid number of arguments" / "Invalid arguments"  -1
 * Prints one line per case; exit 0 when all agree, 1 on any mismatch, 2 on
 * usage, input or connection errors.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "mc_commands.h"

#define MAXARGS 64

/* One parsed input line. */
struct line {
    char buf[4096];            /* the arguments, NUL-separated */
    const char *argv[MAXARGS]; /* into buf (COMMAND GETKEYS in front) */
    size_t argvlen[MAXARGS];   /* lengths */
    int argc;                  /* arguments, COMMAND GETKEYS included */
};

/* Split text into l->argv[2..]; 0, or -1 on a syntax error. */
static int
split(const char *text, struct line *l)
{
    const char *p = text;
    char *o = l->buf, *end = l->buf + sizeof(l->buf) - 1;

    l->argv[0] = "COMMAND";
    l->argvlen[0] = 7;
    l->argv[1] = "GETKEYS";
    l->argvlen[1] = 7;
    l->argc = 2;
    for (;;) {
        char *start;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '\n')
            return 0;
        if (l->argc == MAXARGS)
            return -1;
        start = o;
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                if (*p == '\0' || *p == '\n' || o == end)
                    return -1;
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                *o++ = *p;
            }
            p++;
            if (*p != '\0' && *p != '\n' && *p != ' ' && *p != '\t')
                return -1;
        } else {
            while (*p != '\0' && *p != '\n' && *p != ' ' && *p != '\t') {
                if (o == end)
                    return -1;
                *o++ = *p++;
            }
        }
        if (o == end)
            return -1;
        l->argv[l->argc] = start;
        l->argvlen[l->argc] = (size_t)(o - start);
        l->argc++;
        *o++ = '\0';
    }
}

/* Print our keys as [a, b] or the status. */
static void
print_ours(const struct line *l, int n, const int *pos)
{
    int i;

    if (n < 0) {
        printf("-1");
        return;
    }
    printf("[");
    for (i = 0; i < n && i < MAXARGS; i++)
        printf("%s%s", i ? ", " : "", l->argv[2 + pos[i]]);
    printf("]");
}

static void
print_redis(const redisReply *r)
{
    size_t i;

    if (r->type == REDIS_REPLY_ERROR) {
        printf("error \"%s\"", r->str);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        printf("reply type %d", r->type);
        return;
    }
    printf("[");
    for (i = 0; i < r->elements; i++)
        printf("%s%s", i ? ", " : "", r->element[i]->str ? r->element[i]->str : "?");
    printf("]");
}

/* Does error reply s (after its "ERR " code) start with prefix? */
static int
has_prefix(const char *s, const char *prefix)
{
    if (s == NULL)
        return 0;
    if (strncmp(s, "ERR ", 4) == 0)
        s += 4;
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
arity_ok(const struct mc_cmd *cmd, int argc)
{
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* Do our answer (cmd, n keys at pos) and Redis's reply r agree? */
static int
agree(const struct line *l, const struct mc_cmd *cmd, int n, const int *pos,
      const redisReply *r, int deviation)
{
    size_t i;

    if (deviation) {
        if (n != -1)
            return 0;
        return (r->type == REDIS_REPLY_ARRAY && r->elements == 0) ||
               (r->type == REDIS_REPLY_ERROR && has_prefix(r->str, "Invalid arguments"));
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (has_prefix(r->str, "Invalid command"))
            return cmd == NULL || ((cmd->flags & MC_CMD_CONTAINER) && n == 0);
        /* Redis asks "has keys?" before it checks the arity */
        if (strstr(r->str, "no key arguments") != NULL)
            return cmd != NULL && (n == 0 || (n == -1 && !arity_ok(cmd, l->argc - 2)));
        if (has_prefix(r->str, "Invalid number of arguments") ||
            has_prefix(r->str, "Invalid arguments"))
            return n == -1;
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || cmd == NULL || n < 0 || (size_t)n != r->elements ||
        n > MAXARGS)
        return 0;
    for (i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        int p = 2 + pos[i];

        if (e->type != REDIS_REPLY_STRING || e->len != l->argvlen[p] ||
            memcmp(e->str, l->argv[p], e->len) != 0)
            return 0;
    }
    return 1;
}

int
main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 6379, opt, lineno = 0, cases = 0, bad = 0;
    struct timeval tv = {5, 0};
    redisContext *c;
    char text[4096];

    while ((opt = getopt(argc, argv, "h:p:")) != -1) {
        switch (opt) {
        case 'h':
            host = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: keys_check [-h host] [-p port] < cases\n");
            return 2;
        }
    }
    c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        fprintf(stderr, "keys_check: connect %s:%d: %s\n", host, port,
                c ? c->errstr : "out of memory");
        return 2;
    }
    redisSetTimeout(c, tv);

    while (fgets(text, sizeof(text), stdin) != NULL) {
        struct line l;
        const struct mc_cmd *cmd;
        const char *p = text;
        int pos[MAXARGS], n = -1, deviation = 0, ok;
        redisReply *r;

        lineno++;
        text[strcspn(text, "\n")] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (*p == '!') {
            deviation = 1;
            p++;
        }
        if (split(p, &l) < 0 || l.argc < 3) {
            fprintf(stderr, "keys_check: line %d: cannot parse\n", lineno);
            redisFree(c);
            return 2;
        }
        cases++;
        cmd = mc_cmd_resolve(l.argc - 2, l.argv + 2, l.argvlen + 2);
        if (cmd != NULL)
            n = mc_cmd_keys(cmd, l.argc - 2, l.argv + 2, l.argvlen + 2, pos, MAXARGS);
        r = redisCommandArgv(c, l.argc, l.argv, l.argvlen);
        if (r == NULL) {
            fprintf(stderr, "keys_check: line %d: %s\n", lineno, c->errstr);
            redisFree(c);
            return 2;
        }
        ok = agree(&l, cmd, n, pos, r, deviation);
        bad += !ok;
        printf("%s %s%s: ours (%s) ", ok ? "ok      " : "MISMATCH", deviation ? "!" : "", p,
               cmd ? cmd->name : "unknown");
        print_ours(&l, n, pos);
        printf(", redis ");
        print_redis(r);
        printf("\n");
        freeReplyObject(r);
    }
    redisFree(c);
    if (ferror(stdin)) {
        fprintf(stderr, "keys_check: reading the cases: %s\n", strerror(errno));
        return 2;
    }
    printf("%d cases, %d mismatches\n", cases, bad);
    if (cases == 0)
        return 2;
    return bad ? 1 : 0;
}
