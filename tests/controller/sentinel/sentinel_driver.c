/*
 * sentinel_driver.c -- runs ctl_sentinel against real sentinels with the
 * fake model (fake_model.c), printing one line per model call on stdout.
 *
 * usage: sentinel_driver [options]
 *   --sentinel HOST:PORT     configured sentinel (repeatable)
 *   --group NAME             sentinel-managed group (repeatable)
 *   --poll-ms N --ping-ms N --timeout-ms N --connect-timeout-ms N
 *   --log-level debug|verbose|notice|warning   (ctl_log, on stderr)
 *
 * Commands on stdin, one per line:
 *   poll                     ctl_sentinels_poll_now()
 *   reconfigure <options>    ctl_sentinels_reconfigure() with a config built
 *                            from the same options, between "<ms> RECONFIGURING"
 *                            and "<ms> RECONFIGURED"
 *   quit                     (or EOF) free everything and exit 0
 * SIGTERM/SIGINT also end the loop cleanly (so LeakSanitizer runs).
 */
#define _GNU_SOURCE
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_config.h"
#include "ctl_log.h"
#include "ctl_sentinel.h"
#include "fake_model.h"

#define MAX_ARGS 64

static struct ctl_sentinels *sentinels;
static char linebuf[4096];
static size_t linelen;

static unsigned long long
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

static void
cfg_release(struct ctl_config *cfg)
{
    free(cfg->sentinels);
    free(cfg->groups);
    memset(cfg, 0, sizeof(*cfg));
}

/* Build cfg from options.  0, or -1 with a message on stderr. */
static int
cfg_build(int argc, char **argv, struct ctl_config *cfg, int *log_level)
{
    int i;

    memset(cfg, 0, sizeof(*cfg));
    cfg->sentinel_connect_timeout_ms = 500;
    cfg->sentinel_timeout_ms = 1000;
    cfg->sentinel_poll_ms = 1000;
    cfg->sentinel_ping_ms = 1000;
    cfg->sentinels = calloc(MAX_ARGS, sizeof(*cfg->sentinels));
    cfg->groups = calloc(MAX_ARGS, sizeof(*cfg->groups));
    if (cfg->sentinels == NULL || cfg->groups == NULL) {
        goto out_fail;
    }
    for (i = 0; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (val == NULL) {
            fprintf(stderr, "driver: %s needs a value\n", opt);
            goto out_fail;
        }
        i++;
        if (strcmp(opt, "--sentinel") == 0 && cfg->n_sentinels < MAX_ARGS) {
            if (ctl_parse_addr(val, &cfg->sentinels[cfg->n_sentinels]) != 0) {
                fprintf(stderr, "driver: bad address %s\n", val);
                goto out_fail;
            }
            cfg->n_sentinels++;
        } else if (strcmp(opt, "--group") == 0 && cfg->n_groups < MAX_ARGS) {
            struct ctl_group_cfg *g = &cfg->groups[cfg->n_groups++];

            snprintf(g->name, sizeof(g->name), "%s", val);
            g->sentinel = 1;
        } else if (strcmp(opt, "--poll-ms") == 0) {
            cfg->sentinel_poll_ms = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--ping-ms") == 0) {
            cfg->sentinel_ping_ms = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--timeout-ms") == 0) {
            cfg->sentinel_timeout_ms = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--connect-timeout-ms") == 0) {
            cfg->sentinel_connect_timeout_ms = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(opt, "--log-level") == 0 && log_level != NULL) {
            *log_level = strcmp(val, "debug") == 0     ? CTL_LOG_DEBUG
                         : strcmp(val, "verbose") == 0 ? CTL_LOG_VERBOSE
                         : strcmp(val, "notice") == 0  ? CTL_LOG_NOTICE
                                                       : CTL_LOG_WARNING;
        } else {
            fprintf(stderr, "driver: unknown option %s\n", opt);
            goto out_fail;
        }
    }
    return 0;

out_fail:
    cfg_release(cfg);
    return -1;
}

static void
command(struct ev_loop *loop, char *line)
{
    char *argv[MAX_ARGS], *save = NULL, *tok;
    int argc = 0;

    for (tok = strtok_r(line, " \t\r", &save); tok != NULL && argc < MAX_ARGS;
         tok = strtok_r(NULL, " \t\r", &save)) {
        argv[argc++] = tok;
    }
    if (argc == 0) {
        return;
    }
    if (strcmp(argv[0], "poll") == 0) {
        ctl_sentinels_poll_now(sentinels);
        printf("%llu POLLED\n", wall_ms());
    } else if (strcmp(argv[0], "reconfigure") == 0) {
        struct ctl_config cfg;

        if (cfg_build(argc - 1, argv + 1, &cfg, NULL) == 0) {
            printf("%llu RECONFIGURING\n", wall_ms());
            ctl_sentinels_reconfigure(sentinels, &cfg);
            cfg_release(&cfg);      /* the module keeps no pointer into it */
            printf("%llu RECONFIGURED\n", wall_ms());
        }
    } else if (strcmp(argv[0], "quit") == 0) {
        ev_break(loop, EVBREAK_ALL);
    } else {
        fprintf(stderr, "driver: unknown command %s\n", argv[0]);
    }
}

static void
on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
    ssize_t n;
    char *nl;

    (void)revents;
    n = read(w->fd, linebuf + linelen, sizeof(linebuf) - 1 - linelen);
    if (n <= 0) {
        ev_io_stop(loop, w);
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    linelen += (size_t)n;
    linebuf[linelen] = '\0';
    while ((nl = strchr(linebuf, '\n')) != NULL) {
        size_t used = (size_t)(nl - linebuf) + 1;

        *nl = '\0';
        command(loop, linebuf);
        memmove(linebuf, linebuf + used, linelen - used + 1);
        linelen -= used;
    }
    if (linelen == sizeof(linebuf) - 1) {
        linelen = 0;        /* absurd line: drop it */
    }
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
    struct ev_loop *loop = EV_DEFAULT;
    struct ctl_config cfg;
    ev_io in;
    ev_signal sterm, sint;
    int level = CTL_LOG_VERBOSE;

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (cfg_build(argc - 1, argv + 1, &cfg, &level) != 0) {
        return 2;
    }
    ctl_log_set_level(level);
    fake_model_out = stdout;
    sentinels = ctl_sentinels_new(loop, &cfg, NULL);
    cfg_release(&cfg);
    if (sentinels == NULL) {
        fprintf(stderr, "driver: ctl_sentinels_new failed\n");
        return 1;
    }
    printf("%llu STARTED\n", wall_ms());
    ev_io_init(&in, on_stdin, STDIN_FILENO, EV_READ);
    ev_io_start(loop, &in);
    ev_signal_init(&sterm, on_signal, SIGTERM);
    ev_signal_start(loop, &sterm);
    ev_signal_init(&sint, on_signal, SIGINT);
    ev_signal_start(loop, &sint);
    ev_run(loop, 0);
    ctl_sentinels_free(sentinels);
    ev_io_stop(loop, &in);
    ev_signal_stop(loop, &sterm);
    ev_signal_stop(loop, &sint);
    printf("%llu EXIT\n", wall_ms());
    return 0;
}
