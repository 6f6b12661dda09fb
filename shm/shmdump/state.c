/*
 * state.c -- marshal-shmdump's view of a segment (see state.h): loading a
 * checked copy, record access and labels, event text, attach errors.
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

#include "state.h"

/* ---- state access -------------------------------------------------------- */


int
group_ok(const struct ctx *c, uint32_t gi)
{
    return gi < c->st.hdr.n_groups && (c->st.groups[gi].flags & MSHM_GF_IN_USE);
}

int
server_ok(const struct ctx *c, uint32_t si)
{
    return si < c->st.hdr.n_servers && (c->st.servers[si].flags & MSHM_SF_IN_USE);
}

int
cluster_ok(const struct ctx *c, uint32_t ci)
{
    return ci < c->st.hdr.n_clusters && (c->st.clusters[ci].flags & MSHM_CF_IN_USE);
}

/*
 * Hash slots member j of cluster ci owns under its slot map, as ranges
 * "0-5460,6000" in buf (ends in "..." when it does not fit).  Returns the
 * slot count, or -1 when the cluster has no usable slot map.
 */
int
member_slots(const struct ctx *c, uint32_t ci, uint32_t j, char *buf, size_t len)
{
    const struct mshm_cluster *cl = &c->st.clusters[ci];
    const struct mshm_slotmap *sm;
    size_t used = 0;
    uint32_t s, e;
    int n = 0, w;

    buf[0] = '\0';
    if ((sm = mshm_state_slotmap(&c->st, cl)) == NULL) {
        return -1;
    }
    for (s = 0; s < MSHM_SLOTS; s = e + 1) {
        e = s;
        if (sm->member[s] != j) {
            continue;
        }
        while (e + 1 < MSHM_SLOTS && sm->member[e + 1] == j) {
            e++;
        }
        n += (int)(e - s + 1);
        if (used + 32 < len) {
            w = e == s ? snprintf(buf + used, len - used, "%s%u", used ? "," : "", s)
                       : snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", s, e);
            used += (size_t)w;
        } else if (used + 4 <= len && strcmp(buf + used - 3, "...") != 0) {
            memcpy(buf + used, "...", 4);
            used += 3;
        }
    }
    return n;
}

/* Raw host of an in-use server (never NULL). */
const char *
server_host(const struct ctx *c, uint32_t si)
{
    return mshm_state_host(&c->st, &c->st.servers[si]);
}

/* "host:port" (terminal-safe), "-" for NONE, "server#N" when unresolvable. */
const char *
server_label(const struct ctx *c, uint32_t si, char *out, size_t len)
{
    char h[TXT];

    if (si == MSHM_NONE) {
        snprintf(out, len, "-");
    } else if (!server_ok(c, si)) {
        snprintf(out, len, "server#%" PRIu32, si);
    } else {
        snprintf(out, len, "%s:%u", safe_text(h, sizeof(h), server_host(c, si), MSHM_HOST_MAX),
                 (unsigned)c->st.servers[si].port);
    }
    return out;
}

const char *
group_label(const struct ctx *c, uint32_t gi, char *out, size_t len)
{
    if (gi == MSHM_NONE) {
        snprintf(out, len, "-");
    } else if (!group_ok(c, gi)) {
        snprintf(out, len, "group#%" PRIu32, gi);
    } else {
        safe_text(out, len, c->st.groups[gi].name, MSHM_NAME_MAX);
    }
    return out;
}

const char *
cluster_label(const struct ctx *c, uint32_t ci, char *out, size_t len)
{
    if (ci == MSHM_NONE) {
        snprintf(out, len, "-");
    } else if (!cluster_ok(c, ci)) {
        snprintf(out, len, "cluster#%" PRIu32, ci);
    } else {
        safe_text(out, len, c->st.clusters[ci].name, MSHM_NAME_MAX);
    }
    return out;
}

/* Force every string of the private copy to be terminated. */
static void
terminate_strings(struct mshm_state *st)
{
    uint32_t i;

    for (i = 0; i < st->hdr.n_groups; i++) {
        st->groups[i].name[MSHM_NAME_MAX - 1] = '\0';
    }
    for (i = 0; i < st->hdr.n_servers; i++) {
        st->servers[i].host[MSHM_HOST_INLINE - 1] = '\0';
    }
    for (i = 0; i < st->hdr.n_clusters; i++) {
        st->clusters[i].name[MSHM_NAME_MAX - 1] = '\0';
    }
    for (i = 0; i < st->hdr.n_longnames; i++) {
        st->longnames[i].host[MSHM_HOST_MAX - 1] = '\0';
    }
}

/*
 * Copy the state (retrying a writer that never pauses), validate it, make
 * the copy safe to print.  Returns MSHM_OK (c->valid says whether it passed
 * mshm_check_state), or CORRUPT / BUSY / NOMEM with c->invalid set.
 */
int
load_state(struct ctx *c)
{
    int rc = MSHM_ERR_BUSY, tries;

    mshm_state_free(&c->st);
    for (tries = 0; tries < 20; tries++) {
        rc = mshm_read_state(&c->r, &c->st);
        if (rc != MSHM_ERR_BUSY) {
            break;
        }
        mshm_state_free(&c->st);
        sleep_ms(5);
    }
    if (rc != MSHM_OK) {
        if (rc == MSHM_ERR_CORRUPT) {
            snprintf(c->invalid, sizeof(c->invalid),
                     "state copy record counts exceed the segment's capacities");
        } else {
            snprintf(c->invalid, sizeof(c->invalid), "reading the state: %s",
                     mshm_strerror(rc));
        }
        mshm_state_free(&c->st);
        c->valid = 0;
        return rc;
    }
    c->invalid[0] = '\0';
    c->valid = mshm_check_state(&c->st, c->invalid, sizeof(c->invalid)) == MSHM_OK;
    terminate_strings(&c->st);
    c->now_mono = mshm_now_ns();
    return MSHM_OK;
}

/* Heartbeat age in ms, or -1 when unknown. */
int64_t
hb_age_ms(const struct ctx *c)
{
    uint64_t hb = mshm_ld(&mshm_hdr(&c->r)->hb_mono_ns);

    if (!c->same_boot || hb == 0 || hb > c->now_mono) {
        return -1;
    }
    return (int64_t)((c->now_mono - hb) / 1000000ull);
}

/* Age of a server's last good check in ms, or -1. */
int64_t
ok_age_ms(const struct ctx *c, const struct mshm_server *s)
{
    if (!c->same_boot || s->last_ok_mono_ns == 0 || s->last_ok_mono_ns > c->now_mono) {
        return -1;
    }
    return (int64_t)((c->now_mono - s->last_ok_mono_ns) / 1000000ull);
}

/* ---- events -------------------------------------------------------------- */

/* The MSHM_RR_* reasons of a readsUnavailable event: "down,syncing", ... */
const char *
reason_text(uint16_t why, char *out, size_t len)
{
    static const struct bitname rr[] = {
        {MSHM_RR_DOWN, "down"},       {MSHM_RR_LINK_DOWN, "link_down"},
        {MSHM_RR_SYNCING, "syncing"}, {MSHM_RR_LAGGING, "lagging"},
        {MSHM_RR_NO_REPLICA, "not_replica"},
    };
    size_t i, off = 0;

    out[0] = '\0';
    for (i = 0; i < NELEM(rr); i++) {
        if ((why & rr[i].bit) && off < len) {
            off += (size_t)snprintf(out + off, len - off, "%s%s", off ? "," : "", rr[i].name);
        }
    }
    return out;
}

/* The Sentinel-style text of an event. */
const char *
event_text(const struct ctx *c, const struct mshm_event *e, char *out, size_t len)
{
    char g[TXT], s[TXT], o[TXT], n[TXT], cl[TXT], num[16];

    group_label(c, e->group_idx, g, sizeof(g));
    server_label(c, e->server_idx, s, sizeof(s));
    switch (e->type) {
    case MSHM_EV_MASTER_DOWN:
        snprintf(out, len, "+sdown master %s %s", g, s);
        break;
    case MSHM_EV_MASTER_UP:
        snprintf(out, len, "-sdown master %s %s", g, s);
        break;
    case MSHM_EV_MASTER_SWITCH:
        snprintf(out, len, "+switch-master %s %s -> %s epoch %" PRIu64, g,
                 server_label(c, e->old_idx, o, sizeof(o)),
                 server_label(c, e->new_idx, n, sizeof(n)), e->epoch);
        break;
    case MSHM_EV_SLAVE_DOWN:
        snprintf(out, len, "+sdown slave %s @ %s", s, g);
        break;
    case MSHM_EV_SLAVE_UP:
        snprintf(out, len, "-sdown slave %s @ %s", s, g);
        break;
    case MSHM_EV_ALL_SLAVES_DOWN:
        snprintf(out, len, "+all-slaves-down %s", g);
        break;
    case MSHM_EV_ALL_SLAVES_UP:
        snprintf(out, len, "-all-slaves-down %s", g);
        break;
    case MSHM_EV_GROUP_DEGRADED:
        snprintf(out, len, "+degraded %s", g);
        break;
    case MSHM_EV_GROUP_RECOVERED:
        snprintf(out, len, "-degraded %s", g);
        break;
    case MSHM_EV_NO_MASTER:
        snprintf(out, len, "+no-master %s", g);
        break;
    case MSHM_EV_GROUP_ADDED:
        snprintf(out, len, "+group %s", g);
        break;
    case MSHM_EV_GROUP_REMOVED:
        snprintf(out, len, "-group %s", g);
        break;
    case MSHM_EV_SERVER_ADDED:
        snprintf(out, len, "+server %s @ %s", s, g);
        break;
    case MSHM_EV_SERVER_REMOVED:
        snprintf(out, len, "-server %s @ %s", s, g);
        break;
    case MSHM_EV_WRITER_ADOPT:
        snprintf(out, len, "+writer-adopt epoch %" PRIu64, e->epoch);
        break;
    case MSHM_EV_CONFIG_RELOAD:
        snprintf(out, len, "+config-reload");
        break;
    case MSHM_EV_READS_UNAVAILABLE:
        snprintf(out, len, "+reads-unavailable %s %s", g, reason_text(e->flags, n, sizeof(n)));
        break;
    case MSHM_EV_READS_AVAILABLE:
        snprintf(out, len, "-reads-unavailable %s", g);
        break;
    case MSHM_EV_MIRROR_DIVERGED:
        /* the member: a group (marshal1), or a cluster in old_idx (farm) */
        if (e->group_idx == MSHM_NONE && e->old_idx != MSHM_NONE) {
            cluster_label(c, e->old_idx, g, sizeof(g));
        }
        snprintf(out, len, "+mirror-diverged %s %s",
                 cluster_label(c, e->cluster_idx, cl, sizeof(cl)), g);
        break;
    default:
        snprintf(out, len, "+event-%s group %s server %s",
                 ENAME(event_names, e->type, num), g, s);
        break;
    }
    return out;
}

/*
 * The last n events (oldest first) into *out (malloc'ed, caller frees).
 * Returns how many; *lost counts events overrun while reading.
 */
uint32_t
collect_events(struct mshm_reader *r, uint32_t n, struct mshm_event **out, uint64_t *lost)
{
    uint64_t head = mshm_ld_acq(&mshm_hdr(r)->ev_head), l;
    uint32_t k = 0;
    int rc;

    *out = NULL;
    *lost = 0;
    if (n == 0 || head <= 1) {
        return 0;
    }
    *out = calloc(n, sizeof(**out));
    if (*out == NULL) {
        return 0;
    }
    mshm_events_seek(r, head > n ? head - n : 1);
    while (k < n && r->ev_next < head) {
        l = 0;
        rc = mshm_next_event(r, &(*out)[k], &l);
        if (rc == 1) {
            k++;
        } else if (rc == MSHM_ERR_LOST) {
            *lost += l;
        } else {
            break;
        }
    }
    return k;
}

/* ---- errors -------------------------------------------------------------- */

void
errmsg(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* r.errstr without a leading "PATH: " (we print the path ourselves). */
static const char *
strip_path(const struct mshm_reader *r, const char *path)
{
    size_t n = strlen(path);

    if (strncmp(r->errstr, path, n) == 0 && r->errstr[n] == ':' && r->errstr[n + 1] == ' ') {
        return r->errstr + n + 2;
    }
    return r->errstr;
}

/* One clear line for an attach failure; returns the exit code. */
int
report_attach(const struct mshm_reader *r, const char *path, int rc)
{
    char safe[1100], owner[64], group[64], hint[160] = "";
    struct stat st;
    struct passwd *pw;
    struct group *gr;

    safe_text(safe, sizeof(safe), path, SIZE_MAX);
    switch (rc) {
    case MSHM_ERR_NOENT:
        errmsg("no segment at %s (is marshal-controller running?)", safe);
        return EX_ATTACH;
    case MSHM_ERR_PERM:
        if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
            errmsg("%s: is a symbolic link: refusing to follow it", safe);
        } else if (lstat(path, &st) == 0 && access(path, R_OK) != 0) {
            pw = getpwuid(st.st_uid);
            gr = getgrgid(st.st_gid);
            snprintf(owner, sizeof(owner), "%s", pw ? pw->pw_name : "?");
            snprintf(group, sizeof(group), "%s", gr ? gr->gr_name : "?");
            if (pw == NULL) {
                snprintf(owner, sizeof(owner), "%ld", (long)st.st_uid);
            }
            if (gr == NULL) {
                snprintf(group, sizeof(group), "%ld", (long)st.st_gid);
            }
            if (st.st_mode & 0040) {
                snprintf(hint, sizeof(hint), "; run as %s or a member of group %s", owner,
                         group);
            } else {
                snprintf(hint, sizeof(hint), "; run as %s", owner);
            }
            errmsg("permission denied reading %s (mode %04o, owner %s:%s)%s", safe,
                   (unsigned)(st.st_mode & 07777), owner, group, hint);
        } else {
            errmsg("%s: unsafe segment: %s (see segment.path and segment.mode in "
                   "marshal.conf(5))", safe, strip_path(r, path));
        }
        return EX_ATTACH;
    case MSHM_ERR_VERSION:
        errmsg("%s: incompatible segment version: %s (use the marshal-shmdump of the "
               "controller's release)", safe, strip_path(r, path));
        return EX_ATTACH;
    case MSHM_ERR_RETIRED:
        errmsg("%s: segment retired (replaced) and no current segment found: %s", safe,
               strip_path(r, path));
        return EX_ATTACH;
    case MSHM_ERR_CORRUPT:
        errmsg("%s: corrupt segment: %s", safe, strip_path(r, path));
        return EX_CORRUPT;
    case MSHM_ERR_RANGE:
        errmsg("%s: %s", safe, r->errstr);
        return EX_USAGE;
    default:
        errmsg("%s: %s: %s", safe, mshm_strerror(rc), strip_path(r, path));
        return EX_SYS;
    }
}

/* Attach; a RETIRED segment at the path (a replace in flight) is retried. */
int
attach(struct mshm_reader *r, const char *path)
{
    int rc = MSHM_ERR_RETIRED, i;

    memset(r, 0, sizeof(*r));
    for (i = 0; i < 10 && rc == MSHM_ERR_RETIRED; i++) {
        if (i > 0) {
            sleep_ms(20);
        }
        rc = mshm_attach(r, path, 0);
    }
    return rc;
}


struct ghealth
group_health(const struct ctx *c, uint32_t gi)
{
    struct ghealth h = {0, 0, 0, 0};
    const struct mshm_group *g;
    uint32_t k;

    if (!group_ok(c, gi)) {
        return h;
    }
    g = &c->st.groups[gi];
    h.has_master = g->master_idx != MSHM_NONE && !(g->flags & MSHM_GF_NO_MASTER) &&
                   server_ok(c, g->master_idx);
    h.master_up = h.has_master && c->st.servers[g->master_idx].health == MSHM_HEALTH_UP;
    for (k = 0; k < g->n_servers && k < MSHM_GROUP_SERVERS; k++) {
        uint32_t si = g->servers[k];

        if (si == g->master_idx || !server_ok(c, si)) {
            continue;
        }
        h.replicas++;
        h.readable += (c->st.servers[si].flags & MSHM_SF_READABLE) != 0;
    }
    return h;
}
