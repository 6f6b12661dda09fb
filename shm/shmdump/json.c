/*
 * json.c -- marshal-shmdump --json (see modes.h).
 *
 * ------------------------------------------------------------------------
 * JSON schema (--json), version 1.  Also in docs/shmdump-json.md.
 * ------------------------------------------------------------------------
 * One object on one line.  Keys are never removed within a schema version;
 * new keys may be added.  Enumerations are lower-case strings; a value this
 * build does not know is emitted as its raw number instead.  Flag sets are
 * arrays of lower-case names; an unknown bit is emitted as a "0x...." string.
 * 64-bit identifiers are hex strings; times are integer milliseconds since the
 * Unix epoch plus an ISO-8601 UTC string.  Strings from the segment (names,
 * hosts) are JSON-escaped; bytes that are not valid UTF-8 are emitted as the
 * code point of the same value (\u0080..\u00ff).
 *
 * {
 *   "schema": 1,
 *   "segment": {
 *     "path": str, "version": "1.0", "version_major": int, "version_minor": int,
 *     "header_size": int, "size": int, "segment_id": "hex16",
 *     "created_ms": int, "created": "ISO",
 *     "state": "initializing"|"live"|"retired",
 *     "flags": ["warming_up","writer_stopped"], "flags_raw": int,
 *     "writer_pid": int, "writer_epoch": int, "writer_starttime": int,
 *     "config_version": int,
 *     "hb_count": int, "hb_interval_ms": int, "stale_after_ms": int,
 *     "heartbeat_age_ms": int|null,        (null: other boot / unknown)
 *     "generation": int,                   (latch the state is consistent with)
 *     "copy": 0|1, "pub_seq": int, "state_sum": "hex16", "ev_head": int,
 *     "capacity": {"groups","servers","clusters","longnames","ring","slotmaps": int},
 *     "used": {"groups","servers","clusters","longnames","slotmaps": int} (high-water marks),
 *     "valid": bool, "invalid_reason": str|null   (mshm_check_state verdict)
 *   },
 *   "liveness": "live"|"stale"|"stopped"|"retired",
 *   "groups": [ {
 *     "index": int, "gen": int, "name": str,
 *     "route": "master"|"readonly"|"split",
 *     "flags": ["sentinel","no_master","degraded","disagree","failover","odown",
 *               "fail_writes_degraded","no_reads","all_slaves_down"],
 *              "flags_raw": int,  (no_reads: no replica readable; all_slaves_down:
 *              every replica down, from 1.2)
 *     "master": {"index": int, "host": str, "port": int} | null,
 *     "master_epoch": int, "change_seq": int, "power": int, "max_lag_ms": int,
 *     "counters": {"master_down","master_up","master_switch","all_slaves_down",
 *                  "all_slaves_up","degraded": int},
 *     "servers": [ {
 *       "index": int, "gen": int, "host": str, "port": int,
 *       "role": "unknown"|"master"|"replica", "health": "unknown"|"up"|"down",
 *       "flags": ["sdown","odown","loading","syncing","link_down","lagging",
 *                 "readable","discovered","host_long","stale_master"],
 *       "flags_raw": int, "power": int, "lag_ms": int, "rtt_us": int,
 *       "n_down": int, "n_up": int, "repl_offset": int, "change_seq": int,
 *       "last_ok_age_ms": int|null
 *     } ... ]
 *   } ... ],
 *   "clusters": [ {                         (kind cluster; "farms" the same)
 *     "index": int, "gen": int, "name": str, "kind": "cluster"|"farm",
 *     "rule": "marshal0"|"marshal1"|"marshal10",
 *     "dist": "ketama"|"modula"|"slots",
 *     "hash": "fnv1a_64"|"md5"|"crc32a"|"murmur"|"fnv1_64"|"fnv1a_32"|"fnv1_32"|
 *             "crc32"|"crc16"|"jenkins"|"hsieh"|"one_at_a_time",
 *     "hash_tag": "{}"|null, "mirror_policy": "all"|"primary",
 *     "primary": int|null (member position), "flags": ["hash_tag"],
 *     "flags_raw": int, "change_seq": int,
 *     "members": [ {"index": int, "name": str|null, "power": int,
 *                   "flags": ["primary","diverged"],
 *                   (clusters only, the member group's health:)
 *                   "master": "up"|"down"|"none", "replicas": int,
 *                   "readable": int,
 *                   (distribution slots, with a slot map:)
 *                   "slots": int, "slot_ranges": "0-5460,6000"} ... ]
 *   } ... ],
 *   "farms": [ ... as clusters ... ],
 *   "events": [ {                           (the last --events N, oldest first)
 *     "seq": int, "type": "master_down"|"master_up"|"master_switch"|
 *       "slave_down"|"slave_up"|"all_slaves_down"|"all_slaves_up"|
 *       "group_degraded"|"group_recovered"|"no_master"|"group_added"|
 *       "group_removed"|"server_added"|"server_removed"|"writer_adopt"|
 *       "config_reload"|"mirror_diverged"|"reads_unavailable"|"reads_available",
 *     "type_code": int, "time_ms": int, "time": "ISO", "pub_seq": int,
 *     "epoch": int, "flags": int,
 *     "group_index": int|null, "group": str|null,
 *     "server_index": int|null, "server": "host:port"|null,
 *     "old_index": int|null, "old": "host:port"|null,
 *     "new_index": int|null, "new": "host:port"|null,
 *     "cluster_index": int|null, "cluster": str|null,
 *     "member": str|null  (mirror_diverged: the member group, or a farm's
 *                          member cluster, whose index is then old_index),
 *     "reason": str|null  (reads_unavailable: why no replica is readable, e.g.
 *                          "down", "link_down,syncing"; "lagging", "not_replica"),
 *     "text": str     (the table's Sentinel-style line; non-printable bytes as \xNN)
 *   } ... ],
 *   "events_lost": int                     (skipped while reading: overrun)
 * }
 * Index-to-name resolution ("group", "server", ...) uses the current state; it
 * is null when the index is out of range or the record is no longer in use.
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

/* ---- JSON output --------------------------------------------------------- */

static void
json_server_ref(const struct ctx *c, const char *kidx, const char *kname, uint32_t si)
{
    char b[TXT + 8];

    jidx(kidx, si);
    if (si != MSHM_NONE && server_ok(c, si)) {
        snprintf(b, sizeof(b), "%s:%u", server_host(c, si), (unsigned)c->st.servers[si].port);
        jstr(kname, b, sizeof(b));
    } else {
        jnull(kname);
    }
}

static void
json_segment(struct ctx *c)
{
    const struct mshm_reader *r = &c->r;
    const struct mshm_header *h = mshm_hdr(r);
    char b[64];
    int64_t a = hb_age_ms(c);

    jopen("segment", '{');
    jstr("path", c->path, SIZE_MAX);
    snprintf(b, sizeof(b), "%u.%u", r->geo.version_major, r->geo.version_minor);
    jstr("version", b, SIZE_MAX);
    jnum("version_major", r->geo.version_major);
    jnum("version_minor", r->geo.version_minor);
    jnum("header_size", r->geo.header_size);
    jnum("size", r->geo.total_size);
    jhex("segment_id", r->geo.segment_id);
    jnum("created_ms", r->geo.created_realtime_ns / 1000000ull);
    jstr("created", fmt_time(b, sizeof(b), r->geo.created_realtime_ns, 1), SIZE_MAX);
    JENUM("state", seg_state_names, mshm_ld(&h->state));
    JFLAGS("flags", hdr_flag_names, mshm_ld(&h->flags), 0);
    jnum("flags_raw", mshm_ld(&h->flags));
    jnum("writer_pid", mshm_ld(&h->writer_pid));
    jnum("writer_epoch", mshm_ld(&h->writer_epoch));
    jnum("writer_starttime", mshm_ld(&h->writer_starttime));
    jnum("config_version", mshm_ld(&h->config_version));
    jnum("hb_count", mshm_ld(&h->hb_count));
    jnum("hb_interval_ms", mshm_ld(&h->hb_interval_ms));
    jnum("stale_after_ms", mshm_ld(&h->stale_after_ms));
    if (a >= 0) {
        jnum("heartbeat_age_ms", (uint64_t)a);
    } else {
        jnull("heartbeat_age_ms");
    }
    jnum("generation", c->st.latch);
    jnum("copy", c->st.latch & 1);
    jnum("pub_seq", c->st.hdr.pub_seq);
    jhex("state_sum", c->st.hdr.state_sum);
    jnum("ev_head", mshm_ld_acq(&h->ev_head));
    jopen("capacity", '{');
    jnum("groups", r->geo.group_cap);
    jnum("servers", r->geo.server_cap);
    jnum("clusters", r->geo.cluster_cap);
    jnum("longnames", r->geo.longname_cap);
    jnum("ring", r->geo.ring_cap);
    jnum("slotmaps", r->geo.slotmap_cap);
    jclose('}');
    jopen("used", '{');
    jnum("groups", c->st.hdr.n_groups);
    jnum("servers", c->st.hdr.n_servers);
    jnum("clusters", c->st.hdr.n_clusters);
    jnum("longnames", c->st.hdr.n_longnames);
    jnum("slotmaps", c->st.hdr.n_slotmaps);
    jclose('}');
    jbool("valid", c->valid);
    if (c->valid) {
        jnull("invalid_reason");
    } else {
        jstr("invalid_reason", c->invalid, sizeof(c->invalid));
    }
    jclose('}');
}

static void
json_groups(const struct ctx *c)
{
    uint32_t i, j;

    jopen("groups", '[');
    for (i = 0; i < c->st.hdr.n_groups; i++) {
        const struct mshm_group *g = &c->st.groups[i];
        uint32_t ns = g->n_servers > MSHM_GROUP_SERVERS ? MSHM_GROUP_SERVERS : g->n_servers;

        if (!group_ok(c, i)) {
            continue;
        }
        jopen(NULL, '{');
        jnum("index", i);
        jnum("gen", g->gen);
        jstr("name", g->name, MSHM_NAME_MAX);
        JENUM("route", route_names, g->route);
        JFLAGS("flags", group_flag_names, g->flags, MSHM_GF_IN_USE);
        jnum("flags_raw", g->flags);
        if (g->master_idx != MSHM_NONE && server_ok(c, g->master_idx)) {
            jopen("master", '{');
            jnum("index", g->master_idx);
            jstr("host", server_host(c, g->master_idx), MSHM_HOST_MAX);
            jnum("port", c->st.servers[g->master_idx].port);
            jclose('}');
        } else {
            jnull("master");
        }
        jnum("master_epoch", g->master_epoch);
        jnum("change_seq", g->change_seq);
        jnum("power", g->power);
        jnum("max_lag_ms", g->max_lag_ms);
        jopen("counters", '{');
        jnum("master_down", g->n_master_down);
        jnum("master_up", g->n_master_up);
        jnum("master_switch", g->n_master_switch);
        jnum("all_slaves_down", g->n_all_slaves_down);
        jnum("all_slaves_up", g->n_all_slaves_up);
        jnum("degraded", g->n_degraded);
        jclose('}');
        jopen("servers", '[');
        for (j = 0; j < ns; j++) {
            uint32_t si = g->servers[j];
            const struct mshm_server *s;
            int64_t a;

            if (!server_ok(c, si)) {
                continue;
            }
            s = &c->st.servers[si];
            a = ok_age_ms(c, s);
            jopen(NULL, '{');
            jnum("index", si);
            jnum("gen", s->gen);
            jstr("host", server_host(c, si), MSHM_HOST_MAX);
            jnum("port", s->port);
            JENUM("role", role_names, s->role);
            JENUM("health", health_names, s->health);
            JFLAGS("flags", server_flag_names, s->flags, MSHM_SF_IN_USE);
            jnum("flags_raw", s->flags);
            jnum("power", s->power);
            jnum("lag_ms", s->lag_ms);
            jnum("rtt_us", s->rtt_us);
            jnum("n_down", s->n_down);
            jnum("n_up", s->n_up);
            jnum("repl_offset", s->repl_offset);
            jnum("change_seq", s->change_seq);
            if (a >= 0) {
                jnum("last_ok_age_ms", (uint64_t)a);
            } else {
                jnull("last_ok_age_ms");
            }
            jclose('}');
        }
        jclose(']');
        jclose('}');
    }
    jclose(']');
}

static void
json_clusters(const struct ctx *c, const char *key, unsigned kind)
{
    uint32_t i, j;

    jopen(key, '[');
    for (i = 0; i < c->st.hdr.n_clusters; i++) {
        const struct mshm_cluster *cl = &c->st.clusters[i];
        uint32_t nm = cl->n_members > MSHM_CLUSTER_MEMBERS ? MSHM_CLUSTER_MEMBERS
                                                           : cl->n_members;

        if (!cluster_ok(c, i) || cl->kind != kind) {
            continue;
        }
        jopen(NULL, '{');
        jnum("index", i);
        jnum("gen", cl->gen);
        jstr("name", cl->name, MSHM_NAME_MAX);
        JENUM("kind", kind_names, cl->kind);
        JENUM("rule", rule_names, cl->rule);
        JENUM("dist", dist_names, cl->dist);
        JENUM("hash", hash_names, cl->hash);
        if (cl->flags & MSHM_CF_HASH_TAG) {
            char raw[3] = {(char)cl->hash_tag[0], (char)cl->hash_tag[1], '\0'};

            jstr("hash_tag", raw, 2);
        } else {
            jnull("hash_tag");
        }
        JENUM("mirror_policy", mirror_names, cl->mirror_policy);
        jidx("primary", cl->primary);
        JFLAGS("flags", cluster_flag_names, cl->flags, MSHM_CF_IN_USE);
        jnum("flags_raw", cl->flags);
        jnum("change_seq", cl->change_seq);
        jopen("members", '[');
        for (j = 0; j < nm; j++) {
            const struct mshm_member *m = &cl->members[j];

            jopen(NULL, '{');
            jnum("index", m->idx);
            if (kind == MSHM_KIND_FARM) {
                jstr("name", cluster_ok(c, m->idx) ? c->st.clusters[m->idx].name : NULL,
                     MSHM_NAME_MAX);
            } else {
                struct ghealth h = group_health(c, m->idx);

                jstr("name", group_ok(c, m->idx) ? c->st.groups[m->idx].name : NULL,
                     MSHM_NAME_MAX);
                char ranges[4096];
                int ns = member_slots(c, i, j, ranges, sizeof(ranges));

                jstr("master", !h.has_master ? "none" : h.master_up ? "up" : "down", SIZE_MAX);
                jnum("replicas", h.replicas);
                jnum("readable", h.readable);
                if (ns >= 0) {
                    jnum("slots", (uint64_t)ns);
                    jstr("slot_ranges", ranges, SIZE_MAX);
                }
            }
            jnum("power", m->power);
            JFLAGS("flags", member_flag_names, m->flags, 0);
            jclose('}');
        }
        jclose(']');
        jclose('}');
    }
    jclose(']');
}

static void
json_events(struct ctx *c, uint32_t n)
{
    struct mshm_event *ev;
    uint64_t lost;
    uint32_t k, i;
    char t[64], txt[4 * TXT];

    k = collect_events(&c->r, n, &ev, &lost);
    jopen("events", '[');
    for (i = 0; i < k; i++) {
        const struct mshm_event *e = &ev[i];

        jopen(NULL, '{');
        jnum("seq", e->seq);
        JENUM("type", event_names, e->type);
        jnum("type_code", e->type);
        jnum("time_ms", e->realtime_ns / 1000000ull);
        jstr("time", fmt_time(t, sizeof(t), e->realtime_ns, 1), SIZE_MAX);
        jnum("pub_seq", e->pub_seq);
        jnum("epoch", e->epoch);
        jnum("flags", e->flags);
        jidx("group_index", e->group_idx);
        jstr("group", group_ok(c, e->group_idx) ? c->st.groups[e->group_idx].name : NULL,
             MSHM_NAME_MAX);
        json_server_ref(c, "server_index", "server", e->server_idx);
        if (e->type == MSHM_EV_MIRROR_DIVERGED) {
            /* old_idx: a farm's member cluster, not a server */
            jidx("old_index", e->old_idx);
            jnull("old");
        } else {
            json_server_ref(c, "old_index", "old", e->old_idx);
        }
        json_server_ref(c, "new_index", "new", e->new_idx);
        jidx("cluster_index", e->cluster_idx);
        jstr("cluster",
             cluster_ok(c, e->cluster_idx) ? c->st.clusters[e->cluster_idx].name : NULL,
             MSHM_NAME_MAX);
        if (e->type != MSHM_EV_MIRROR_DIVERGED) {
            jnull("member");
        } else if (e->group_idx != MSHM_NONE) {
            jstr("member", group_ok(c, e->group_idx) ? c->st.groups[e->group_idx].name : NULL,
                 MSHM_NAME_MAX);
        } else {
            jstr("member", cluster_ok(c, e->old_idx) ? c->st.clusters[e->old_idx].name : NULL,
                 MSHM_NAME_MAX);
        }
        if (e->type == MSHM_EV_READS_UNAVAILABLE) {
            char why[TXT];

            jstr("reason", reason_text(e->flags, why, sizeof(why)), SIZE_MAX);
        } else {
            jnull("reason");
        }
        jstr("text", event_text(c, e, txt, sizeof(txt)), sizeof(txt));
        jclose('}');
    }
    jclose(']');
    jnum("events_lost", lost);
    free(ev);
}

void
print_json(struct ctx *c, uint32_t nev)
{
    enum mshm_liveness lv = mshm_liveness(&c->r, c->now_mono);

    jreset();
    jopen(NULL, '{');
    jnum("schema", JSON_SCHEMA);
    json_segment(c);
    JENUM("liveness", liveness_names, lv);
    json_groups(c);
    json_clusters(c, "clusters", MSHM_KIND_CLUSTER);
    json_clusters(c, "farms", MSHM_KIND_FARM);
    json_events(c, nev);
    jclose('}');
    putchar('\n');
}
