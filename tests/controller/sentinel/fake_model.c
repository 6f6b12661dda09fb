/*
 * fake_model.c -- a stand-in for ctl_model.c for the ctl_sentinel tests.
 *
 * Defines every ctl_model_* symbol ctl_sentinel.c references, so the real
 * ctl_model.o is never pulled out of the ctl_core archive.  Each call is
 * counted and, when fake_model_out is set, printed as one machine-checkable
 * line prefixed with the wall-clock time in milliseconds (the test runner
 * compares it with the time it killed a process):
 *
 *   <ms> COUNT <n>
 *   <ms> STATE <si> <reachable> <tilt>
 *   <ms> VIEW <si> <group> NULL
 *   <ms> VIEW <si> <group> master=<h:p> epoch=<e> mflags=<f> others=<n> quorum=<q>
 *        replicas=<n> [<h:p>/<flags>/<link_ok>/<follows h:p>/<offset>/<prio> ...]
 *   <ms> EVENT <si> <channel> <payload>
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl_model.h"
#include "fake_model.h"

FILE *fake_model_out;
struct fake_model_stats fake_model_stats;

static unsigned long long
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

void
ctl_model_sentinel_view(struct ctl_model *m, uint32_t si, const char *group,
                        const struct ctl_sentinel_view *v)
{
    uint32_t i;

    (void)m;
    fake_model_stats.views++;
    if (v == NULL) {
        fake_model_stats.null_views++;
    } else {
        fake_model_stats.last_view = *v;
    }
    if (fake_model_out == NULL) {
        return;
    }
    if (v == NULL) {
        fprintf(fake_model_out, "%llu VIEW %u %s NULL\n", wall_ms(), si, group);
        return;
    }
    fprintf(fake_model_out, "%llu VIEW %u %s master=%s:%u epoch=%llu mflags=0x%x others=%u "
            "quorum=%u replicas=%u", wall_ms(), si, group, v->master.host,
            (unsigned)v->master.port, (unsigned long long)v->config_epoch, v->master_flags,
            v->num_other_sentinels, v->quorum, v->n_replicas);
    for (i = 0; i < v->n_replicas && i < MSHM_GROUP_SERVERS; i++) {
        fprintf(fake_model_out, " %s:%u/0x%x/%d/%s:%u/%llu/%u", v->replicas[i].addr.host,
                (unsigned)v->replicas[i].addr.port, v->replicas[i].flags,
                v->replicas[i].link_ok,
                v->replicas[i].follows.host[0] ? v->replicas[i].follows.host : "-",
                (unsigned)v->replicas[i].follows.port,
                (unsigned long long)v->replicas[i].offset, v->replicas[i].priority);
    }
    fputc('\n', fake_model_out);
}

void
ctl_model_sentinel_state(struct ctl_model *m, uint32_t si, int reachable, int tilt)
{
    (void)m;
    fake_model_stats.states++;
    if (fake_model_out != NULL) {
        fprintf(fake_model_out, "%llu STATE %u %d %d\n", wall_ms(), si, reachable, tilt);
    }
}

void
ctl_model_sentinel_count(struct ctl_model *m, uint32_t n)
{
    (void)m;
    fake_model_stats.counts++;
    fake_model_stats.last_count = n;
    if (fake_model_out != NULL) {
        fprintf(fake_model_out, "%llu COUNT %u\n", wall_ms(), n);
    }
}

void
ctl_model_sentinel_event(struct ctl_model *m, uint32_t si, const char *channel,
                         const char *payload)
{
    (void)m;
    fake_model_stats.events++;
    if (fake_model_out != NULL) {
        fprintf(fake_model_out, "%llu EVENT %u %s %s\n", wall_ms(), si, channel, payload);
    }
}

/* Identity: the tests run everything on 127.0.0.1. */
void
ctl_model_map_addr(const struct ctl_model *m, const struct ctl_addr *in, struct ctl_addr *out)
{
    (void)m;
    if (out != in) {
        memcpy(out, in, sizeof(*out));
    }
}
