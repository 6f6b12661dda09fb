/*
 * watch.c -- marshal-shmdump --watch: follow a segment and print one line per
 * change (see modes.h).
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

#include "modes.h"

/* ---- --watch ------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* What the watcher last saw of each group. */
struct watch {
    struct ctx c;
    uint64_t latch;          /* generation last compared (UINT64_MAX: none) */
    uint32_t notify_seen;
    uint32_t cap;            /* entries in the arrays below                */
    uint64_t *seq;           /* change_seq per group index                 */
    uint32_t *gen;
    uint8_t *used;
    char (*name)[MSHM_NAME_MAX];
    int liveness;            /* -1: not yet reported                       */
    uint32_t hflags;
    long lines, max_lines;   /* max_lines 0: no limit                      */
};

/* Print one line (time-stamped now unless ts given); 1 when the count is reached. */
static int
wline(struct watch *w, uint64_t ts_ns, const char *fmt, ...)
{
    char t[64];
    va_list ap;

    printf("%s ", fmt_time(t, sizeof(t), ts_ns ? ts_ns : realtime_now_ns(), 0));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    w->lines++;
    return w->max_lines > 0 && w->lines >= w->max_lines;
}

/* Forget the baseline: the next state compare reports every group. */
static int
watch_reset(struct watch *w)
{
    uint32_t cap = w->c.r.geo.group_cap;

    free(w->seq);
    free(w->gen);
    free(w->used);
    free(w->name);
    w->cap = cap;
    w->seq = calloc(cap, sizeof(*w->seq));
    w->gen = calloc(cap, sizeof(*w->gen));
    w->used = calloc(cap, sizeof(*w->used));
    w->name = calloc(cap, sizeof(*w->name));
    w->latch = UINT64_MAX;
    w->notify_seen = mshm_ld_acq(&mshm_hdr(&w->c.r)->notify);
    return w->seq && w->gen && w->used && w->name ? 0 : -1;
}

/* Take the current state as the baseline without printing. */
static void
watch_baseline(struct watch *w)
{
    uint32_t i;

    if (load_state(&w->c) != MSHM_OK) {
        return;
    }
    for (i = 0; i < w->c.st.hdr.n_groups && i < w->cap; i++) {
        const struct mshm_group *g = &w->c.st.groups[i];

        w->used[i] = (g->flags & MSHM_GF_IN_USE) != 0;
        w->seq[i] = g->change_seq;
        w->gen[i] = g->gen;
        memcpy(w->name[i], g->name, MSHM_NAME_MAX);
    }
    w->latch = w->c.st.latch;
}

/* One line summing up group gi of the current state. */
static int
watch_group_line(struct watch *w, uint32_t gi)
{
    const struct ctx *c = &w->c;
    const struct mshm_group *g = &c->st.groups[gi];
    uint32_t j, up = 0, down = 0, unk = 0, readable = 0;
    uint32_t ns = g->n_servers > MSHM_GROUP_SERVERS ? MSHM_GROUP_SERVERS : g->n_servers;
    char name[TXT], m[TXT + 32], fl[256], mh[16];

    for (j = 0; j < ns; j++) {
        const struct mshm_server *s;

        if (!server_ok(c, g->servers[j])) {
            continue;
        }
        s = &c->st.servers[g->servers[j]];
        up += s->health == MSHM_HEALTH_UP;
        down += s->health == MSHM_HEALTH_DOWN;
        unk += s->health != MSHM_HEALTH_UP && s->health != MSHM_HEALTH_DOWN;
        readable += (s->flags & MSHM_SF_READABLE) != 0;
    }
    if (g->master_idx == MSHM_NONE) {
        snprintf(m, sizeof(m), "(none)");
    } else if (server_ok(c, g->master_idx)) {
        char lab[TXT];

        snprintf(m, sizeof(m), "%s (%s)", server_label(c, g->master_idx, lab, sizeof(lab)),
                 ENAME(health_names, c->st.servers[g->master_idx].health, mh));
    } else {
        server_label(c, g->master_idx, m, sizeof(m));
    }
    return wline(w, 0,
                 "group %s: master %s, %" PRIu32 " servers (%" PRIu32 " up, %" PRIu32
                 " down, %" PRIu32 " unknown, %" PRIu32 " readable), epoch %" PRIu64
                 ", flags %s",
                 group_label(c, gi, name, sizeof(name)), m, ns, up, down, unk, readable,
                 g->master_epoch, FLAGS(fl, group_flag_names, g->flags, MSHM_GF_IN_USE, 0));
}

/* Report groups changed since the baseline; 1 when the line count is reached. */
static int
watch_state(struct watch *w)
{
    uint64_t l = mshm_generation(&w->c.r);
    uint32_t i, n;
    char safe[TXT];

    if (l == w->latch) {
        return 0;
    }
    if (load_state(&w->c) != MSHM_OK) {
        return wline(w, 0, "state unreadable: %s", w->c.invalid);
    }
    if (!w->c.valid && wline(w, 0, "state fails validation: %s", w->c.invalid)) {
        return 1;
    }
    n = w->c.st.hdr.n_groups > w->cap ? w->cap : w->c.st.hdr.n_groups;
    for (i = 0; i < w->cap; i++) {
        const struct mshm_group *g = i < n ? &w->c.st.groups[i] : NULL;
        int used = g != NULL && (g->flags & MSHM_GF_IN_USE);

        if (used && (!w->used[i] || w->seq[i] != g->change_seq || w->gen[i] != g->gen)) {
            if (watch_group_line(w, i)) {
                return 1;
            }
        } else if (!used && w->used[i]) {
            if (wline(w, 0, "group %s: removed",
                      safe_text(safe, sizeof(safe), w->name[i], MSHM_NAME_MAX))) {
                return 1;
            }
        }
        w->used[i] = (uint8_t)used;
        if (g != NULL) {
            w->seq[i] = g->change_seq;
            w->gen[i] = g->gen;
            memcpy(w->name[i], g->name, MSHM_NAME_MAX);
        }
    }
    w->latch = w->c.st.latch;
    return 0;
}

/* New events from the ring; 1 when the line count is reached. */
static int
watch_events(struct watch *w)
{
    struct mshm_event ev = {0};
    uint64_t lost;
    char txt[4 * TXT];
    int rc, loaded = 0;

    for (;;) {
        lost = 0;
        rc = mshm_next_event(&w->c.r, &ev, &lost);
        if (rc == MSHM_ERR_LOST) {
            if (wline(w, 0, "events lost: %" PRIu64 " (overrun; state resynced)", lost)) {
                return 1;
            }
            w->latch = UINT64_MAX;     /* force a state compare */
            continue;
        }
        if (rc != 1) {
            return 0;
        }
        if (!loaded) {
            /* names of the records the events refer to */
            if (w->c.st.groups == NULL || w->c.st.latch != mshm_generation(&w->c.r)) {
                load_state(&w->c);
            }
            loaded = 1;
        }
        if (wline(w, ev.realtime_ns, "#%" PRIu64 " %s", ev.seq,
                  event_text(&w->c, &ev, txt, sizeof(txt)))) {
            return 1;
        }
    }
}

/* Liveness / header flag changes; 1 when the line count is reached. */
static int
watch_liveness(struct watch *w)
{
    enum mshm_liveness lv = mshm_liveness(&w->c.r, mshm_now_ns());
    uint32_t f = mshm_ld_acq(&mshm_hdr(&w->c.r)->flags);
    char fl[128], num[16];

    if ((int)lv == w->liveness && f == w->hflags) {
        return 0;
    }
    w->liveness = (int)lv;
    w->hflags = f;
    return wline(w, 0, "controller %s, flags %s", ENAME(liveness_names, lv, num),
                 FLAGS(fl, hdr_flag_names, f, 0, 1));
}

int
run_watch(const char *path, long count, long timeout_ms)
{
    struct watch w;
    struct sigaction sa;
    uint64_t deadline = 0, now;
    char safe[1100], num[16];
    int rc, waited = 0, slice, reattach_err = MSHM_OK;
    enum mshm_liveness lv;

    memset(&w, 0, sizeof(w));
    w.c.path = path;
    w.max_lines = count;
    w.liveness = -1;
    safe_text(safe, sizeof(safe), path, SIZE_MAX);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (timeout_ms > 0) {
        deadline = mshm_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    }

    /* wait for the segment to appear (bounded by --timeout) */
    for (;;) {
        rc = mshm_attach(&w.c.r, path, 0);
        if (rc == MSHM_OK) {
            break;
        }
        if (rc != MSHM_ERR_NOENT && rc != MSHM_ERR_RETIRED) {
            return report_attach(&w.c.r, path, rc);
        }
        if (stop_flag || (deadline != 0 && mshm_now_ns() >= deadline)) {
            return report_attach(&w.c.r, path, rc);
        }
        if (!waited) {
            errmsg("waiting for a segment at %s", safe);
            waited = 1;
        }
        sleep_ms(20);
    }
    w.c.same_boot = same_boot(&w.c.r);
    if (watch_reset(&w) != 0) {
        errmsg("out of memory");
        return EX_SYS;
    }
    if (waited) {
        mshm_events_seek(&w.c.r, 1);    /* a new segment: all of it is news */
    } else {
        watch_baseline(&w);
    }
    lv = mshm_liveness(&w.c.r, mshm_now_ns());
    w.liveness = (int)lv;
    w.hflags = mshm_ld_acq(&mshm_hdr(&w.c.r)->flags);
    rc = wline(&w, 0, "watching %s: segment %016" PRIx64 ", layout %u.%u, generation %" PRIu64
               ", controller %s", safe, w.c.r.geo.segment_id, w.c.r.geo.version_major,
               w.c.r.geo.version_minor, mshm_generation(&w.c.r),
               ENAME(liveness_names, lv, num));

    while (!rc && !stop_flag) {
        if (mshm_replaced(&w.c.r)) {
            int rrc = mshm_reattach(&w.c.r, 0);

            if (rrc != MSHM_OK && rrc != reattach_err) {
                /* keep the old mapping and retry; say why once */
                errmsg("%s: segment replaced, cannot re-attach yet: %s: %s", safe,
                       mshm_strerror(rrc), w.c.r.errstr);
            }
            reattach_err = rrc;
            if (rrc == MSHM_OK) {
                w.c.same_boot = same_boot(&w.c.r);
                if (watch_reset(&w) != 0) {
                    errmsg("out of memory");
                    return EX_SYS;
                }
                mshm_events_seek(&w.c.r, 1);
                w.liveness = -1;
                rc = wline(&w, 0, "segment replaced: re-attached %s: segment %016" PRIx64
                           ", layout %u.%u", safe, w.c.r.geo.segment_id,
                           w.c.r.geo.version_major, w.c.r.geo.version_minor);
                if (rc) {
                    break;
                }
            }
        }
        rc = watch_events(&w);
        if (!rc) {
            rc = watch_state(&w);
        }
        if (!rc) {
            rc = watch_liveness(&w);
        }
        if (rc) {
            break;
        }
        slice = 250;
        if (deadline != 0) {
            now = mshm_now_ns();
            if (now >= deadline) {
                break;
            }
            if ((deadline - now) / 1000000ull < (uint64_t)slice) {
                slice = (int)((deadline - now) / 1000000ull) + 1;
            }
        }
        mshm_wait(&w.c.r, &w.notify_seen, slice);
    }
    mshm_state_free(&w.c.st);
    mshm_detach(&w.c.r);
    free(w.seq);
    free(w.gen);
    free(w.used);
    free(w.name);
    return EX_OK;
}
