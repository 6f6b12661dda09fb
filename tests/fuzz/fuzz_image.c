/*
 * fuzz_image.c -- a valid segment image made by the real writer.  See
 * fuzz_image.h.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_image.h"
#include "mshm_write.h"

static void
setname(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);

    memset(dst, 0, n);
    memcpy(dst, src, l < n ? l : n - 1);
}

static int
put_group(struct mshm_writer *w, uint32_t gi, const char *name, uint32_t master,
          uint16_t n, const uint32_t *srv)
{
    struct mshm_group g;

    memset(&g, 0, sizeof(g));
    setname(g.name, sizeof(g.name), name);
    g.flags = MSHM_GF_IN_USE | MSHM_GF_SENTINEL;
    g.master_idx = master;
    g.power = 1;
    g.route = MSHM_ROUTE_SPLIT;
    g.n_servers = n;
    memcpy(g.servers, srv, n * sizeof(*srv));
    return mshm_w_put_group(w, gi, &g);
}

static int
put_server(struct mshm_writer *w, uint32_t si, const char *host, uint32_t gi, uint8_t role,
           uint32_t longname)
{
    struct mshm_server s;

    memset(&s, 0, sizeof(s));
    setname(s.host, sizeof(s.host), host);
    s.port = (uint16_t)(6379 + si);
    s.group_idx = gi;
    s.role = role;
    s.health = MSHM_HEALTH_UP;
    s.flags = MSHM_SF_IN_USE | (role == MSHM_ROLE_REPLICA ? MSHM_SF_READABLE : 0);
    s.longname_idx = longname;
    if (longname != MSHM_NONE) {
        s.flags |= MSHM_SF_HOST_LONG;
    }
    return mshm_w_put_server(w, si, &s);
}

static int
put_cluster(struct mshm_writer *w, uint32_t ci, const char *name, uint8_t kind, uint16_t n,
            const uint32_t *members)
{
    struct mshm_cluster c;
    uint16_t i;

    memset(&c, 0, sizeof(c));
    setname(c.name, sizeof(c.name), name);
    c.flags = MSHM_CF_IN_USE;
    c.kind = kind;
    c.rule = kind == MSHM_KIND_FARM ? MSHM_RULE_MARSHAL10 : MSHM_RULE_MARSHAL1;
    c.primary = n > 0 ? 0 : MSHM_NONE;
    c.n_members = n;
    for (i = 0; i < n; i++) {
        c.members[i].idx = members[i];
        c.members[i].power = (uint16_t)(i + 1);
    }
    return mshm_w_put_cluster(w, ci, &c);
}

static int
emit(struct mshm_writer *w, uint16_t type, uint32_t gi, uint32_t si)
{
    struct mshm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.group_idx = gi;
    ev.server_idx = si;
    ev.old_idx = MSHM_NONE;
    ev.new_idx = MSHM_NONE;
    ev.cluster_idx = MSHM_NONE;
    return mshm_w_emit(w, &ev);
}

static int
populate(struct mshm_writer *w)
{
    static const uint32_t g0[] = {0, 1, 2}, g1[] = {3, 4}, g2[] = {5}, g3[] = {6};
    static const uint32_t c0[] = {0, 1}, c1[] = {2}, f0[] = {0, 1};
    char lh[MSHM_HOST_MAX];
    int rc = 0, i;

    for (i = 0; i < 255; i++) {
        lh[i] = (char)('a' + i % 26);
    }
    lh[255] = '\0';
    rc |= put_group(w, 0, "g0", 0, 3, g0);
    rc |= put_group(w, 1, "g1", 3, 2, g1);
    rc |= put_group(w, 2, "g2", 5, 1, g2);
    rc |= put_group(w, 3, "g3", MSHM_NONE, 1, g3);
    rc |= put_server(w, 0, "10.0.0.1", 0, MSHM_ROLE_MASTER, MSHM_NONE);
    rc |= put_server(w, 1, "10.0.0.2", 0, MSHM_ROLE_REPLICA, MSHM_NONE);
    rc |= put_server(w, 2, "redis-2.example", 0, MSHM_ROLE_REPLICA, MSHM_NONE);
    rc |= put_server(w, 3, "10.0.1.1", 1, MSHM_ROLE_MASTER, MSHM_NONE);
    rc |= put_server(w, 4, "10.0.1.2", 1, MSHM_ROLE_REPLICA, MSHM_NONE);
    rc |= mshm_w_put_longname(w, 1, lh);
    rc |= mshm_w_put_longname(w, 0, "short.long.example");
    rc |= put_server(w, 5, "", 2, MSHM_ROLE_MASTER, 1);
    rc |= put_server(w, 6, "10.0.3.1", 3, MSHM_ROLE_UNKNOWN, MSHM_NONE);
    rc |= put_cluster(w, 0, "c0", MSHM_KIND_CLUSTER, 2, c0);
    {   /* c0 also has a slot map (layout 1.1): slots alternate between its members */
        struct mshm_slotmap *sm = calloc(1, sizeof(*sm));
        struct mshm_cluster c = *mshm_w_cluster(w, 0);
        uint32_t s;

        if (sm == NULL) {
            return -1;
        }
        sm->flags = MSHM_SMF_IN_USE;
        sm->cluster_idx = 0;
        for (s = 0; s < MSHM_SLOTS; s++) {
            sm->member[s] = (uint8_t)(s & 1);
        }
        rc |= mshm_w_put_slotmap(w, 0, sm);
        free(sm);
        c.flags |= MSHM_CF_SLOTMAP;
        c.slotmap_idx = 0;
        rc |= mshm_w_put_cluster(w, 0, &c);
    }
    rc |= put_cluster(w, 1, "c1", MSHM_KIND_CLUSTER, 1, c1);
    rc |= put_cluster(w, 2, "f0", MSHM_KIND_FARM, 2, f0);
    rc |= emit(w, MSHM_EV_GROUP_ADDED, 0, MSHM_NONE);
    rc |= emit(w, MSHM_EV_GROUP_ADDED, 1, MSHM_NONE);
    if (rc != 0 || mshm_w_commit(w) <= 0) {
        return -1;
    }
    /* a deleted group and server below the high-water marks, more events */
    rc |= mshm_w_del_server(w, 6);
    rc |= mshm_w_del_group(w, 3);
    rc |= emit(w, MSHM_EV_GROUP_REMOVED, 3, MSHM_NONE);
    rc |= emit(w, MSHM_EV_SLAVE_DOWN, 0, 2);
    rc |= emit(w, MSHM_EV_MASTER_SWITCH, 1, 3);
    if (rc != 0 || mshm_w_commit(w) <= 0) {
        return -1;
    }
    mshm_w_set_flags(w, MSHM_HF_WARMING_UP, 0);
    mshm_w_heartbeat(w);
    return 0;
}

int
mshm_fuzz_make_image(const char *path, unsigned char **buf, size_t *len)
{
    struct mshm_writer_opts o;
    struct mshm_writer *w = NULL;
    char lock[600];
    struct stat st;
    void *p = NULL;
    int fd, rc;

    *buf = NULL;
    *len = 0;
    memset(&o, 0, sizeof(o));
    o.path = path;
    o.gid = (gid_t)-1;
    o.group_cap = 8;
    o.server_cap = 32;
    o.cluster_cap = 4;
    o.longname_cap = 4;
    o.ring_cap = 16;
    o.slotmap_cap = 1;
    o.flags = MSHM_W_FORCE_REPLACE;
    rc = mshm_writer_open(&o, &w, NULL, NULL, 0);
    if (rc != MSHM_OK) {
        return rc;
    }
    rc = populate(w) == 0 ? MSHM_OK : MSHM_ERR_CORRUPT;
    mshm_writer_close(w, 0);
    if (rc == MSHM_OK) {
        rc = MSHM_ERR_SYS;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (fstat(fd, &st) == 0 && posix_memalign(&p, 64, (size_t)st.st_size) == 0) {
                if (pread(fd, p, (size_t)st.st_size, 0) == (ssize_t)st.st_size) {
                    *buf = p;
                    *len = (size_t)st.st_size;
                    rc = MSHM_OK;
                } else {
                    free(p);
                }
            }
            close(fd);
        }
    }
    snprintf(lock, sizeof(lock), "%s.lock", path);
    unlink(path);
    unlink(lock);
    return rc;
}
