/*
 * ctl_notify.c -- bounded, shell-free execution of the notification program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ctl_log.h"
#include "ctl_notify.h"

struct child {
    ev_child watcher;
    ev_timer deadline;
    pid_t pid;
    int used;
    struct ctl_notify *n;
};

struct ctl_notify {
    struct ev_loop *loop;
    const struct ctl_config *cfg;
    struct child kids[CTL_NOTIFY_MAX];
};

static void
reap(struct child *k)
{
    ev_child_stop(k->n->loop, &k->watcher);
    ev_timer_stop(k->n->loop, &k->deadline);
    k->used = 0;
}

static void
on_exit_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    struct child *k = w->data;

    (void)loop;
    (void)revents;
    if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) != 0) {
        log_warn("notification program exited with status %d", WEXITSTATUS(w->rstatus));
    } else if (WIFSIGNALED(w->rstatus)) {
        log_warn("notification program killed by signal %d", WTERMSIG(w->rstatus));
    }
    reap(k);
}

static void
on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct child *k = w->data;

    (void)loop;
    (void)revents;
    log_warn("notification program (pid %d) ran longer than %u ms: killing it", (int)k->pid,
             k->n->cfg->notify_timeout_ms);
    kill(k->pid, SIGKILL);      /* the child watcher reaps it */
}

struct ctl_notify *
ctl_notify_new(struct ev_loop *loop, const struct ctl_config *cfg)
{
    struct ctl_notify *n = calloc(1, sizeof(*n));

    if (n != NULL) {
        n->loop = loop;
        n->cfg = cfg;
    }
    return n;
}

void
ctl_notify_reconfigure(struct ctl_notify *n, const struct ctl_config *cfg)
{
    n->cfg = cfg;
}

void
ctl_notify_free(struct ctl_notify *n)
{
    int i;

    if (n == NULL) {
        return;
    }
    for (i = 0; i < CTL_NOTIFY_MAX; i++) {
        if (n->kids[i].used) {
            reap(&n->kids[i]);  /* still running: let it finish on its own */
        }
    }
    free(n);
}

void
ctl_notify_event(struct ctl_notify *n, const char *event, const char *group,
                 const char *server, const char *old_server, unsigned long long epoch)
{
    char *argv[64], epoch_s[32];
    char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dflt;
    struct child *k = NULL;
    uint32_t i, argc = 0;
    int rc;

    if (n == NULL || n->cfg->notify_argv == NULL) {
        return;
    }
    for (i = 0; i < CTL_NOTIFY_MAX; i++) {
        if (!n->kids[i].used) {
            k = &n->kids[i];
            break;
        }
    }
    if (k == NULL) {
        log_warn("notification dropped (%d programs still running): %s %s", CTL_NOTIFY_MAX,
                 event, group);
        return;
    }
    for (i = 0; i < n->cfg->notify_argc && argc < 58; i++) {
        argv[argc++] = n->cfg->notify_argv[i];
    }
    snprintf(epoch_s, sizeof(epoch_s), "%llu", epoch);
    argv[argc++] = (char *)event;
    argv[argc++] = (char *)group;
    argv[argc++] = (char *)(server ? server : "-");
    argv[argc++] = (char *)(old_server ? old_server : "-");
    argv[argc++] = epoch_s;
    argv[argc] = NULL;
    /* the child gets none of our descriptors (hiredis sockets have no
     * FD_CLOEXEC) and default signal dispositions (we ignore SIGPIPE) */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dflt);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&k->pid, argv[0], &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        log_warn("cannot run notification program %s: %s", argv[0], strerror(rc));
        return;
    }
    k->used = 1;
    k->n = n;
    ev_child_init(&k->watcher, on_exit_cb, k->pid, 0);
    k->watcher.data = k;
    ev_child_start(n->loop, &k->watcher);
    ev_timer_init(&k->deadline, on_deadline, n->cfg->notify_timeout_ms / 1000.0, 0.0);
    k->deadline.data = k;
    ev_timer_start(n->loop, &k->deadline);
}
