/*
 * mshm_prom.c -- Prometheus text format of a segment state (mshm_prom.h).
 *
 * Cardinality is linear in servers: per group a fixed set of series, per
 * server a fixed set; label values come from the segment (group names,
 * host:port) and are escaped as the format requires (\\, \", \n).
 */
#include "mshm_prom.h"

#include <inttypes.h>
#include <string.h>

#include "mshm_layout.h"

const char *
mshm_prom_escape(const char *s, char *buf, size_t len)
{
    size_t o = 0;

    for (; *s != '\0' && o + 3 < len; s++) {
        if (*s == '\\' || *s == '"') {
            buf[o++] = '\\';
            buf[o++] = *s;
        } else if (*s == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *s;
        }
    }
    buf[o] = '\0';
    return buf;
}

static void
help(FILE *f, const char *name, const char *type, const char *text)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static const struct mshm_group *
group_at(const struct mshm_state *st, uint32_t i)
{
    const struct mshm_group *g = &st->groups[i];

    return (g->flags & MSHM_GF_IN_USE) != 0 ? g : NULL;
}

/* Server label "host:port" of server record s. */
static const char *
server_label(const struct mshm_state *st, const struct mshm_server *s, char *buf, size_t len)
{
    char host[2 * MSHM_HOST_MAX + 16], e[4 * MSHM_HOST_MAX + 32];

    snprintf(host, sizeof(host), "%s:%u", mshm_state_host(st, s), (unsigned)s->port);
    snprintf(buf, len, "%s", mshm_prom_escape(host, e, sizeof(e)));
    return buf;
}

/* Each group's servers in use, calling fn for each. */
typedef void (*server_fn)(FILE *f, const char *g, const char *srv, const struct mshm_server *s,
                          long *n);

static void
each_server(FILE *f, const struct mshm_state *st, server_fn fn, long *n)
{
    char gname[4 * MSHM_NAME_MAX], srv[4 * MSHM_HOST_MAX + 32];
    uint32_t i, j;

    for (i = 0; i < st->hdr.n_groups; i++) {
        const struct mshm_group *g = group_at(st, i);

        if (g == NULL) {
            continue;
        }
        mshm_prom_escape(g->name, gname, sizeof(gname));
        for (j = 0; j < g->n_servers && j < MSHM_GROUP_SERVERS; j++) {
            uint32_t si = g->servers[j];

            if (si >= st->hdr.n_servers || !(st->servers[si].flags & MSHM_SF_IN_USE)) {
                continue;
            }
            fn(f, gname, server_label(st, &st->servers[si], srv, sizeof(srv)), &st->servers[si],
               n);
        }
    }
}

static void
s_up(FILE *f, const char *g, const char *srv, const struct mshm_server *s, long *n)
{
    fprintf(f, "marshal_server_up{group=\"%s\",server=\"%s\"} %d\n", g, srv,
            s->health == MSHM_HEALTH_UP);
    ++*n;
}

static void
s_role(FILE *f, const char *g, const char *srv, const struct mshm_server *s, long *n)
{
    static const char *const roles[] = {"unknown", "master", "replica"};

    fprintf(f, "marshal_server_role{group=\"%s\",server=\"%s\",role=\"%s\"} 1\n", g, srv,
            s->role <= MSHM_ROLE_REPLICA ? roles[s->role] : "unknown");
    ++*n;
}

static void
s_lag(FILE *f, const char *g, const char *srv, const struct mshm_server *s, long *n)
{
    if (s->role == MSHM_ROLE_REPLICA) {
        fprintf(f, "marshal_replica_lag_seconds{group=\"%s\",server=\"%s\"} %.3f\n", g, srv,
                s->lag_ms / 1000.0);
        ++*n;
    }
}

static void
s_readable(FILE *f, const char *g, const char *srv, const struct mshm_server *s, long *n)
{
    if (s->role == MSHM_ROLE_REPLICA) {
        fprintf(f, "marshal_replica_readable{group=\"%s\",server=\"%s\"} %d\n", g, srv,
                (s->flags & MSHM_SF_READABLE) != 0);
        ++*n;
    }
}

static void
s_rtt(FILE *f, const char *g, const char *srv, const struct mshm_server *s, long *n)
{
    fprintf(f, "marshal_server_check_rtt_seconds{group=\"%s\",server=\"%s\"} %.6f\n", g, srv,
            s->rtt_us / 1e6);
    ++*n;
}

static void
s_trans(FILE *f, const char *g, const char *srv, const struct mshm_server *s, long *n)
{
    fprintf(f, "marshal_server_transitions_total{group=\"%s\",server=\"%s\",to=\"down\"} %" PRIu32
               "\n", g, srv, s->n_down);
    fprintf(f, "marshal_server_transitions_total{group=\"%s\",server=\"%s\",to=\"up\"} %" PRIu32
               "\n", g, srv, s->n_up);
    *n += 2;
}

/* Per-group series: one family at a time (the format wants families contiguous). */
enum gfield { G_DEGRADED, G_MASTER, G_FAILOVER, G_READABLE, G_EPOCH, G_SWITCHES, G_EVENTS };

static void
each_group(FILE *f, const struct mshm_state *st, enum gfield which, long *n)
{
    char gname[4 * MSHM_NAME_MAX];
    uint32_t i, j;

    for (i = 0; i < st->hdr.n_groups; i++) {
        const struct mshm_group *g = group_at(st, i);
        int readable = 0;

        if (g == NULL) {
            continue;
        }
        mshm_prom_escape(g->name, gname, sizeof(gname));
        switch (which) {
        case G_DEGRADED:
            fprintf(f, "marshal_group_degraded{group=\"%s\"} %d\n", gname,
                    (g->flags & MSHM_GF_DEGRADED) != 0);
            break;
        case G_MASTER:
            fprintf(f, "marshal_group_has_master{group=\"%s\"} %d\n", gname,
                    !(g->flags & MSHM_GF_NO_MASTER) && g->master_idx != MSHM_NONE);
            break;
        case G_FAILOVER:
            fprintf(f, "marshal_group_failover_in_progress{group=\"%s\"} %d\n", gname,
                    (g->flags & MSHM_GF_FAILOVER) != 0);
            break;
        case G_READABLE:
            for (j = 0; j < g->n_servers && j < MSHM_GROUP_SERVERS; j++) {
                uint32_t si = g->servers[j];

                readable += si < st->hdr.n_servers &&
                            (st->servers[si].flags & (MSHM_SF_IN_USE | MSHM_SF_READABLE)) ==
                                (MSHM_SF_IN_USE | MSHM_SF_READABLE);
            }
            fprintf(f, "marshal_group_readable_replicas{group=\"%s\"} %d\n", gname, readable);
            break;
        case G_EPOCH:
            fprintf(f, "marshal_group_master_epoch{group=\"%s\"} %" PRIu64 "\n", gname,
                    g->master_epoch);
            break;
        case G_SWITCHES:
            fprintf(f, "marshal_master_changes_total{group=\"%s\"} %" PRIu32 "\n", gname,
                    g->n_master_switch);
            break;
        case G_EVENTS:
            fprintf(f, "marshal_events_total{group=\"%s\",event=\"masterDown\"} %" PRIu32 "\n"
                       "marshal_events_total{group=\"%s\",event=\"masterUp\"} %" PRIu32 "\n"
                       "marshal_events_total{group=\"%s\",event=\"masterSwitch\"} %" PRIu32 "\n"
                       "marshal_events_total{group=\"%s\",event=\"allSlavesDown\"} %" PRIu32 "\n"
                       "marshal_events_total{group=\"%s\",event=\"allSlavesUp\"} %" PRIu32 "\n"
                       "marshal_events_total{group=\"%s\",event=\"groupDegraded\"} %" PRIu32 "\n",
                    gname, g->n_master_down, gname, g->n_master_up, gname, g->n_master_switch,
                    gname, g->n_all_slaves_down, gname, g->n_all_slaves_up, gname,
                    g->n_degraded);
            *n += 5;
            break;
        }
        ++*n;
    }
}

/* Per cluster/farm: members, members that cannot take writes, diverged mirrors. */
enum cfield { C_MEMBERS, C_NOMASTER, C_DIVERGED };

static int
group_writable(const struct mshm_state *st, uint32_t gi)
{
    const struct mshm_group *g = gi < st->hdr.n_groups ? group_at(st, gi) : NULL;

    return g != NULL && !(g->flags & MSHM_GF_NO_MASTER) && g->master_idx < st->hdr.n_servers &&
           st->servers[g->master_idx].health == MSHM_HEALTH_UP;
}

static void
each_cluster(FILE *f, const struct mshm_state *st, enum cfield which, long *n)
{
    static const char *const names[] = {"marshal_cluster_members",
                                        "marshal_cluster_members_without_master",
                                        "marshal_cluster_members_diverged"};
    char cname[4 * MSHM_NAME_MAX];
    uint32_t i, j;

    for (i = 0; i < st->hdr.n_clusters; i++) {
        const struct mshm_cluster *c = &st->clusters[i];
        uint32_t v = 0;

        if (!(c->flags & MSHM_CF_IN_USE)) {
            continue;
        }
        for (j = 0; j < c->n_members && j < MSHM_CLUSTER_MEMBERS; j++) {
            const struct mshm_member *mb = &c->members[j];

            if (which == C_MEMBERS) {
                v++;
            } else if (which == C_DIVERGED) {
                v += (mb->flags & MSHM_MF_DIVERGED) != 0;
            } else if (c->kind == MSHM_KIND_CLUSTER) {
                v += !group_writable(st, mb->idx);
            } else if (mb->idx < st->hdr.n_clusters) {
                /* a farm member (a cluster) without a master in any of its groups */
                const struct mshm_cluster *mc = &st->clusters[mb->idx];
                uint32_t k, bad = 0;

                for (k = 0; k < mc->n_members && k < MSHM_CLUSTER_MEMBERS; k++) {
                    bad += !group_writable(st, mc->members[k].idx);
                }
                v += bad > 0;
            }
        }
        fprintf(f, "%s{%s=\"%s\"} %" PRIu32 "\n", names[which],
                c->kind == MSHM_KIND_FARM ? "farm" : "cluster",
                mshm_prom_escape(c->name, cname, sizeof(cname)), v);
        ++*n;
    }
}

long
mshm_prom_render(FILE *f, const struct mshm_state *st, int liveness, const char *release,
                 const char *revision)
{
    char rel[64], rev[128];
    long n = 0;

    help(f, "marshal_build_info", "gauge", "Marshal build: release, git revision, segment layout.");
    fprintf(f, "marshal_build_info{version=\"%s\",revision=\"%s\",layout=\"%d.%d\"} 1\n",
            mshm_prom_escape(release, rel, sizeof(rel)), mshm_prom_escape(revision, rev, sizeof(rev)), MSHM_VERSION_MAJOR,
            MSHM_VERSION_MINOR);
    help(f, "marshal_segment_generation", "gauge",
         "Latch value of the published state (moves on every publish).");
    fprintf(f, "marshal_segment_generation %" PRIu64 "\n", st->latch);
    help(f, "marshal_publishes_total", "counter", "Publishes into the segment's state.");
    fprintf(f, "marshal_publishes_total %" PRIu64 "\n", st->hdr.pub_seq);
    help(f, "marshal_controller_up", "gauge",
         "1 while the controller's heartbeat moves, 0 when stale, stopped or replaced.");
    fprintf(f, "marshal_controller_up %d\n", liveness == MSHM_LIVE);
    n += 4;

    help(f, "marshal_group_degraded", "gauge", "1 while the group's sentinel majority is lost.");
    each_group(f, st, G_DEGRADED, &n);
    help(f, "marshal_group_has_master", "gauge", "1 while the group has a confirmed master.");
    each_group(f, st, G_MASTER, &n);
    help(f, "marshal_group_failover_in_progress", "gauge", "1 while a failover is in progress.");
    each_group(f, st, G_FAILOVER, &n);
    help(f, "marshal_group_readable_replicas", "gauge", "Replicas that may serve reads.");
    each_group(f, st, G_READABLE, &n);
    help(f, "marshal_group_master_epoch", "gauge", "Sentinel config epoch of the current master.");
    each_group(f, st, G_EPOCH, &n);
    help(f, "marshal_master_changes_total", "counter", "Master switches of the group.");
    each_group(f, st, G_SWITCHES, &n);
    help(f, "marshal_events_total", "counter", "Group events by type.");
    each_group(f, st, G_EVENTS, &n);

    help(f, "marshal_cluster_members", "gauge",
         "Members of a cluster (groups) or farm (clusters); label cluster or farm.");
    each_cluster(f, st, C_MEMBERS, &n);
    help(f, "marshal_cluster_members_without_master", "gauge",
         "Members whose keys cannot be written now (a group without a confirmed master that is "
         "up; for a farm, a cluster with such a group).");
    each_cluster(f, st, C_NOMASTER, &n);
    help(f, "marshal_cluster_members_diverged", "gauge",
         "Mirror members marked diverged (missed writes; an operator must clear them).");
    each_cluster(f, st, C_DIVERGED, &n);

    help(f, "marshal_server_up", "gauge", "1 while the server passes its health checks.");
    each_server(f, st, s_up, &n);
    help(f, "marshal_server_role", "gauge", "The server's role (ROLE), 1 for the role it has.");
    each_server(f, st, s_role, &n);
    help(f, "marshal_replica_lag_seconds", "gauge", "Replication lag of a replica.");
    each_server(f, st, s_lag, &n);
    help(f, "marshal_replica_readable", "gauge", "1 while the replica may serve reads.");
    each_server(f, st, s_readable, &n);
    help(f, "marshal_server_check_rtt_seconds", "gauge",
         "Round trip of the server's last health check.");
    each_server(f, st, s_rtt, &n);
    help(f, "marshal_server_transitions_total", "counter",
         "Health transitions of the server, by the state entered.");
    each_server(f, st, s_trans, &n);
    return n;
}
