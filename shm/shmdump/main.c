/*
 * main.c -- marshal-shmdump: inspect a Marshal shared-memory segment, read-only.
 *
 * Links only marshal_shm_core and attaches with the same mshm_attach() as the
 * client library, so it sees exactly what applications see and validates the
 * segment with the same code.  It never writes to the segment.
 *
 *   marshal-shmdump [options] [SEGMENT]
 *
 * Modes (at most one): the default human-readable table, --json, --prometheus, --watch,
 * --check.  See usage() for options and exit codes.
 *
 *
 * This file parses the arguments and dispatches; each mode is its own file
 * (modes.h), the shared helpers are fmt.c and state.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mshm_version.h"
#include "modes.h"
#include "mshm_prom.h"

/* ---- main ---------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f,
"usage: " PROG " [options] [SEGMENT]\n"
"\n"
"Inspect a Marshal shared-memory segment (read-only; never writes to it).\n"
"SEGMENT is the segment file; default $MARSHAL_SEGMENT, else " DEFAULT_SEGMENT ".\n"
"\n"
"Modes (at most one; default: a human-readable table):\n"
"  -j, --json         one JSON object (schema: docs/shmdump-json.md)\n"
"  -w, --watch        block on the segment's futex and print every change as it\n"
"                     happens: each new event, each changed group, controller\n"
"                     liveness changes; re-attaches when the segment is replaced.\n"
"                     Waits for a missing segment to appear.  stdout is flushed\n"
"                     per line.\n"
"  -c, --check        validate the header, every state invariant and the event\n"
"                     ring; print \"OK ...\" and exit 0, or the reason and exit 1\n"
"  -p, --prometheus   the per-group and per-server series in Prometheus text\n"
"                     format, as the controller's /metrics serves them (for\n"
"                     node_exporter's textfile collector)\n"
"  -k, --key KEY      where KEY routes in every cluster and farm (or only in\n"
"                     --target NAME, which may also be a group): hash tag, hash\n"
"                     value, ring point, group, and the servers for writes and\n"
"                     for reads; exit 1 if it cannot be placed, 2 unknown target\n"
"\n"
"Options:\n"
"  -e, --events N     events to show in the table / JSON (default 10, 0 = none)\n"
"  -T, --target NAME  --key: only this cluster, farm or group\n"
"  -n, --count N      --watch: stop after printing N lines\n"
"  -t, --timeout MS   --watch: stop after MS milliseconds (also bounds the wait\n"
"                     for a missing segment)\n"
"      --version      release, git revision, segment layout version\n"
"  -h, --help         this text\n"
"\n"
"Exit codes:\n"
"  0   success (--watch: --count reached, --timeout expired or SIGINT/SIGTERM)\n"
"  1   the segment is corrupt: header, state copy or event ring fails validation\n"
"      (the table/JSON is still printed for a state that fails validation)\n"
"  2   the segment cannot be used: no segment at the path, permission denied or\n"
"      unsafe owner/mode (group/other-writable, symlink), incompatible layout\n"
"      version, retired\n"
"  3   system error, out of memory, or the writer never paused long enough\n"
"  64  usage error\n");
}

static int
parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},      {"prometheus", no_argument, NULL, 'p'},
        {"watch", no_argument, NULL, 'w'},
        {"check", no_argument, NULL, 'c'},     {"events", required_argument, NULL, 'e'},
        {"count", required_argument, NULL, 'n'}, {"timeout", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},  {"target", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},      {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *key = NULL, *target = NULL;
    long nev = 10, count = 0, timeout = 0;
    int mode = 0, o, rc;
    const char *path;
    struct ctx c;

    while ((o = getopt_long(argc, argv, "jpwck:T:e:n:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'j':
        case 'p':
        case 'w':
        case 'c':
        case 'k':
            if (mode != 0 && mode != o) {
                errmsg("--json, --prometheus, --watch, --check and --key are exclusive");
                return EX_USAGE;
            }
            mode = o;
            if (o == 'k') {
                key = optarg;
            }
            break;
        case 'T':
            target = optarg;
            break;
        case 'e':
            if (parse_num(optarg, 0, MAX_EVENTS_ARG, &nev) != 0) {
                errmsg("--events: expected a number in [0, %d]", MAX_EVENTS_ARG);
                return EX_USAGE;
            }
            break;
        case 'n':
            if (parse_num(optarg, 1, LONG_MAX, &count) != 0) {
                errmsg("--count: expected a positive number");
                return EX_USAGE;
            }
            break;
        case 't':
            if (parse_num(optarg, 1, INT_MAX, &timeout) != 0) {
                errmsg("--timeout: expected a positive number of milliseconds");
                return EX_USAGE;
            }
            break;
        case 'V':
            mshm_version_print(stdout, PROG);
            return EX_OK;
        case 'h':
            usage(stdout);
            return EX_OK;
        default:
            fprintf(stderr, "Try '" PROG " --help' for more information.\n");
            return EX_USAGE;
        }
    }
    if (optind + 1 < argc) {
        errmsg("expected at most one SEGMENT argument");
        return EX_USAGE;
    }
    if ((count || timeout) && mode != 'w') {
        errmsg("--count and --timeout only apply to --watch");
        return EX_USAGE;
    }
    if (target != NULL && mode != 'k') {
        errmsg("--target only applies to --key");
        return EX_USAGE;
    }
    if (optind < argc) {
        path = argv[optind];
    } else if (getenv("MARSHAL_SEGMENT") != NULL && getenv("MARSHAL_SEGMENT")[0] != '\0') {
        path = getenv("MARSHAL_SEGMENT");
    } else {
        path = DEFAULT_SEGMENT;
    }

    if (mode == 'w') {
        return run_watch(path, count, timeout);
    }

    memset(&c, 0, sizeof(c));
    c.path = path;
    rc = attach(&c.r, path);
    if (rc != MSHM_OK) {
        return report_attach(&c.r, path, rc);
    }
    c.same_boot = same_boot(&c.r);
    if (mode == 'c') {
        rc = run_check(&c);
    } else {
        rc = load_state(&c);
        if (rc != MSHM_OK) {
            char safe[1100];

            errmsg("%s: %s", safe_text(safe, sizeof(safe), path, SIZE_MAX), c.invalid);
            rc = rc == MSHM_ERR_CORRUPT ? EX_CORRUPT : EX_SYS;
        } else {
            if (mode == 'k') {
                rc = shmdump_key(stdout, &c.st, key, target);
            } else if (mode == 'p') {
                mshm_prom_render(stdout, &c.st, (int)mshm_liveness(&c.r, mshm_now_ns()),
                                 mshm_release(), mshm_git_rev());
            } else if (mode == 'j') {
                print_json(&c, (uint32_t)nev);
            } else {
                print_header(&c);
                print_groups(&c);
                print_clusters(&c, MSHM_KIND_CLUSTER);
                print_clusters(&c, MSHM_KIND_FARM);
                if (nev > 0) {
                    print_events(&c, (uint32_t)nev);
                }
            }
            if (mode != 'k') {
                rc = EX_OK;
            }
            if (!c.valid) {
                char safe[1100];

                errmsg("%s: state copy fails validation: %s",
                       safe_text(safe, sizeof(safe), path, SIZE_MAX), c.invalid);
                rc = EX_CORRUPT;
            }
        }
    }
    if (fflush(stdout) != 0 && rc == EX_OK) {
        rc = EX_SYS;
    }
    mshm_state_free(&c.st);
    mshm_detach(&c.r);
    return rc;
}
