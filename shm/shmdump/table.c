/*
 * table.c -- marshal-shmdump's default mode: the human-readable dump of the
 * header, groups, clusters, farms and the last events (see modes.h).
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

/* ---- table output -------------------------------------------------------- */

void
print_header(struct ctx *c)
{
    const struct mshm_reader *r = &c->r;
    const struct mshm_header *h = mshm_hdr(r);
    enum mshm_liveness lv = mshm_liveness(&c->r, c->now_mono);
    char t[64], fl[128], safe[1100], age[48], num[16];
    int64_t a = hb_age_ms(c);
    uint64_t head = mshm_ld_acq(&h->ev_head);

    if (a >= 0) {
        snprintf(age, sizeof(age), "heartbeat %" PRId64 " ms ago", a);
    } else {
        snprintf(age, sizeof(age), "heartbeat age unknown");
    }
    printf("segment %s  layout %u.%u  id %016" PRIx64 "  size %" PRIu64 " B  created %s\n",
           safe_text(safe, sizeof(safe), c->path, SIZE_MAX), r->geo.version_major,
           r->geo.version_minor, r->geo.segment_id, r->geo.total_size,
           fmt_time(t, sizeof(t), r->geo.created_realtime_ns, 0));
    flag_words(fl, sizeof(fl), hdr_flag_names, NELEM(hdr_flag_names), mshm_ld(&h->flags), 0, 1);
    {
        char lvu[16];
        const char *ln = ENAME(liveness_names, lv, num);
        size_t i;

        for (i = 0; ln[i] != '\0' && i + 1 < sizeof(lvu); i++) {
            lvu[i] = (char)(ln[i] >= 'a' && ln[i] <= 'z' ? ln[i] - 'a' + 'A' : ln[i]);
        }
        lvu[i] = '\0';
        printf("writer pid %" PRIu32 "  epoch %" PRIu32 "  controller %s (%s, every %" PRIu32
               " ms, stale after %" PRIu32 " ms)  flags %s\n",
               mshm_ld(&h->writer_pid), mshm_ld(&h->writer_epoch), lvu, age,
               mshm_ld(&h->hb_interval_ms), mshm_ld(&h->stale_after_ms), fl);
    }
    printf("generation %" PRIu64 " (copy %u)  pub_seq %" PRIu64 "  config %" PRIu64
           "  events %" PRIu64 " (ring %" PRIu32 ")\n",
           c->st.latch, (unsigned)(c->st.latch & 1), c->st.hdr.pub_seq,
           mshm_ld(&h->config_version), head > 0 ? head - 1 : 0, r->geo.ring_cap);
    printf("capacity groups %" PRIu32 "/%" PRIu32 "  servers %" PRIu32 "/%" PRIu32
           "  clusters %" PRIu32 "/%" PRIu32 "  long names %" PRIu32 "/%" PRIu32
           "  slot maps %" PRIu32 "/%" PRIu32 "\n",
           c->st.hdr.n_groups, r->geo.group_cap, c->st.hdr.n_servers, r->geo.server_cap,
           c->st.hdr.n_clusters, r->geo.cluster_cap, c->st.hdr.n_longnames,
           r->geo.longname_cap, c->st.hdr.n_slotmaps, r->geo.slotmap_cap);
    if (!c->valid) {
        printf("INVALID STATE: %s\n", c->invalid);
    }
}

static void
print_server(const struct ctx *c, uint32_t si)
{
    const struct mshm_server *s = &c->st.servers[si];
    char lab[TXT], fl[256], num1[16], num2[16], ok[40];
    int64_t a = ok_age_ms(c, s);

    if (a >= 0) {
        snprintf(ok, sizeof(ok), "  ok %" PRId64 " ms ago", a);
    } else {
        ok[0] = '\0';
    }
    printf("      %-22s %-8s %-8s power %-3" PRIu32 " lag %" PRIu32 " ms  rtt %" PRIu32
           " us  down %" PRIu32 " up %" PRIu32 "%s  flags %s\n",
           server_label(c, si, lab, sizeof(lab)), ENAME(role_names, s->role, num1),
           ENAME(health_names, s->health, num2), s->power, s->lag_ms, s->rtt_us, s->n_down,
           s->n_up, ok, FLAGS(fl, server_flag_names, s->flags, MSHM_SF_IN_USE, 0));
}

void
print_groups(const struct ctx *c)
{
    uint32_t i, j, n = 0;
    char name[TXT], m[TXT], fl[256], num[16];

    for (i = 0; i < c->st.hdr.n_groups; i++) {
        n += group_ok(c, i);
    }
    printf("\nGROUPS (%" PRIu32 ")\n", n);
    for (i = 0; i < c->st.hdr.n_groups; i++) {
        const struct mshm_group *g = &c->st.groups[i];
        uint32_t ns = g->n_servers > MSHM_GROUP_SERVERS ? MSHM_GROUP_SERVERS : g->n_servers;

        if (!group_ok(c, i)) {
            continue;
        }
        printf("  %s  route %s  master %s  epoch %" PRIu64 "  power %" PRIu32
               "  max_lag %" PRIu32 " ms  change %" PRIu64 "  flags %s\n",
               group_label(c, i, name, sizeof(name)), ENAME(route_names, g->route, num),
               g->master_idx == MSHM_NONE ? "(none)" : server_label(c, g->master_idx, m,
                                                                    sizeof(m)),
               g->master_epoch, g->power, g->max_lag_ms, g->change_seq,
               FLAGS(fl, group_flag_names, g->flags, MSHM_GF_IN_USE, 0));
        printf("      counters: master down %" PRIu32 " up %" PRIu32 " switch %" PRIu32
               ", all-slaves down %" PRIu32 " up %" PRIu32 ", degraded %" PRIu32 "\n",
               g->n_master_down, g->n_master_up, g->n_master_switch, g->n_all_slaves_down,
               g->n_all_slaves_up, g->n_degraded);
        for (j = 0; j < ns; j++) {
            if (server_ok(c, g->servers[j])) {
                print_server(c, g->servers[j]);
            } else {
                printf("      server#%" PRIu32 " (not in use)\n", g->servers[j]);
            }
        }
    }
}

/* A member group's health: master up?, replicas listed and readable. */


void
print_clusters(const struct ctx *c, unsigned kind)
{
    uint32_t i, j, n = 0;
    char name[TXT], mn[TXT], fl[128], n1[16], n2[16], n3[16], n4[16], tag[24];

    for (i = 0; i < c->st.hdr.n_clusters; i++) {
        n += cluster_ok(c, i) && c->st.clusters[i].kind == kind;
    }
    printf("\n%s (%" PRIu32 ")\n", kind == MSHM_KIND_FARM ? "FARMS" : "CLUSTERS", n);
    for (i = 0; i < c->st.hdr.n_clusters; i++) {
        const struct mshm_cluster *cl = &c->st.clusters[i];
        uint32_t nm = cl->n_members > MSHM_CLUSTER_MEMBERS ? MSHM_CLUSTER_MEMBERS
                                                           : cl->n_members;

        if (!cluster_ok(c, i) || cl->kind != kind) {
            continue;
        }
        if (cl->flags & MSHM_CF_HASH_TAG) {
            char raw[3] = {(char)cl->hash_tag[0], (char)cl->hash_tag[1], '\0'};

            safe_text(tag, sizeof(tag), raw, 2);
        } else {
            snprintf(tag, sizeof(tag), "-");
        }
        printf("  %s  rule %s  dist %s  hash %s  hash_tag %s  mirror %s  change %" PRIu64
               "  flags %s\n",
               cluster_label(c, i, name, sizeof(name)), ENAME(rule_names, cl->rule, n1),
               ENAME(dist_names, cl->dist, n2), ENAME(hash_names, cl->hash, n3), tag,
               ENAME(mirror_names, cl->mirror_policy, n4), cl->change_seq,
               FLAGS(fl, cluster_flag_names, cl->flags, MSHM_CF_IN_USE, 0));
        for (j = 0; j < nm; j++) {
            const struct mshm_member *m = &cl->members[j];

            if (kind == MSHM_KIND_FARM) {
                cluster_label(c, m->idx, mn, sizeof(mn));
                printf("      %-22s power %-3u flags %s\n", mn, (unsigned)m->power,
                       FLAGS(fl, member_flag_names, m->flags, 0, 0));
            } else {
                struct ghealth h = group_health(c, m->idx);

                char ranges[200];
                int ns = member_slots(c, i, j, ranges, sizeof(ranges));

                group_label(c, m->idx, mn, sizeof(mn));
                printf("      %-22s power %-3u master %-4s readable %u/%u  flags %s", mn,
                       (unsigned)m->power, !h.has_master ? "none" : h.master_up ? "up" : "down",
                       h.readable, h.replicas, FLAGS(fl, member_flag_names, m->flags, 0, 0));
                if (ns >= 0) {
                    printf("  slots %d%s%s%s", ns, ns ? " (" : "", ranges, ns ? ")" : "");
                }
                printf("\n");
            }
        }
    }
}

void
print_events(struct ctx *c, uint32_t n)
{
    struct mshm_event *ev;
    uint64_t lost;
    uint32_t k, i;
    char t[64], txt[4 * TXT];

    k = collect_events(&c->r, n, &ev, &lost);
    printf("\nEVENTS (last %" PRIu32 " of %" PRIu64 ")\n", k,
           mshm_ld_acq(&mshm_hdr(&c->r)->ev_head) - 1);
    for (i = 0; i < k; i++) {
        printf("  %s  #%-6" PRIu64 " %s\n", fmt_time(t, sizeof(t), ev[i].realtime_ns, 0),
               ev[i].seq, event_text(c, &ev[i], txt, sizeof(txt)));
    }
    if (lost > 0) {
        printf("  (%" PRIu64 " events overwritten while reading)\n", lost);
    }
    free(ev);
}
