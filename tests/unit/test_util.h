/*
 * test_util.h -- helpers shared by the cmocka unit tests of the shm core.
 *
 * Header-only (static inline) so every test binary stays one .c file.
 * Each test gets its own segment path /dev/shm/mshm-test-<pid>-<module>-<n>
 * from tu_setup(); tu_teardown() removes it, its lock file, a leftover
 * temporary file and the auxiliary path tests may use for copies, symlinks
 * or directories.
 */
#ifndef MSHM_TEST_UTIL_H
#define MSHM_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mshm_read.h"
#include "mshm_write.h"

/* Per-test context: the segment path and an auxiliary path. */
struct tu_ctx {
    char path[256];      /* segment file                                  */
    char aux[300];       /* scratch path: copies, symlinks, directories   */
    char lock[300];      /* <path>.lock                                   */
};

static inline void
tu_remove_all(const struct tu_ctx *c)
{
    char tmp[320];

    unlink(c->path);
    unlink(c->lock);
    unlink(c->aux);
    rmdir(c->aux);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", c->path, (long)getpid());
    unlink(tmp);
}

static inline int
tu_setup_module(void **state, const char *module)
{
    static unsigned counter;
    struct tu_ctx *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return -1;
    }
    snprintf(c->path, sizeof(c->path), "/dev/shm/mshm-test-%ld-%s-%u", (long)getpid(),
             module, counter++);
    snprintf(c->aux, sizeof(c->aux), "%s.aux", c->path);
    snprintf(c->lock, sizeof(c->lock), "%s.lock", c->path);
    tu_remove_all(c);
    *state = c;
    return 0;
}

static inline int
tu_teardown(void **state)
{
    struct tu_ctx *c = *state;

    if (c != NULL) {
        tu_remove_all(c);
        free(c);
    }
    *state = NULL;
    return 0;
}

/* Small capacities: the segment is 32 KiB, fast to create, copy and fuzz. */
static inline struct mshm_writer_opts
tu_opts(const char *path)
{
    struct mshm_writer_opts o;

    memset(&o, 0, sizeof(o));
    o.path = path;
    o.gid = (gid_t)-1;
    o.group_cap = 8;
    o.server_cap = 32;
    o.cluster_cap = 4;
    o.longname_cap = 4;
    o.ring_cap = 16;
    o.slotmap_cap = 1;
    return o;
}

static inline struct mshm_writer *
tu_open_opts(const struct mshm_writer_opts *o, int expect_how)
{
    struct mshm_writer *w = NULL;
    char err[256] = "";
    int how = -1, rc;

    rc = mshm_writer_open(o, &w, &how, err, sizeof(err));
    if (rc != MSHM_OK) {
        print_error("mshm_writer_open(%s): %s: %s\n", o->path, mshm_strerror(rc), err);
    }
    assert_int_equal(rc, MSHM_OK);
    assert_non_null(w);
    assert_int_equal(how, expect_how);
    return w;
}

static inline struct mshm_writer *
tu_open(const char *path, int expect_how)
{
    struct mshm_writer_opts o = tu_opts(path);

    return tu_open_opts(&o, expect_how);
}

static inline void
tu_attach(struct mshm_reader *r, const char *path)
{
    int rc;

    memset(r, 0, sizeof(*r));
    rc = mshm_attach(r, path, 0);
    if (rc != MSHM_OK) {
        print_error("mshm_attach(%s): %s: %s\n", path, mshm_strerror(rc), r->errstr);
    }
    assert_int_equal(rc, MSHM_OK);
}

/* Copy a C string into a fixed NUL-padded field (truncating). */
static inline void
tu_setname(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);

    memset(dst, 0, n);
    memcpy(dst, src, l < n ? l : n - 1);
}

static inline struct mshm_group
tu_group(const char *name, uint32_t master, uint16_t n, const uint32_t *srv)
{
    struct mshm_group g;

    memset(&g, 0, sizeof(g));
    tu_setname(g.name, sizeof(g.name), name);
    g.flags = MSHM_GF_IN_USE | MSHM_GF_SENTINEL | (master == MSHM_NONE ? MSHM_GF_NO_MASTER : 0);
    g.master_idx = master;
    g.power = 1;
    g.max_lag_ms = 1000;
    g.route = MSHM_ROUTE_MASTER;
    g.n_servers = n;
    if (n > 0) {
        memcpy(g.servers, srv, n * sizeof(uint32_t));
    }
    return g;
}

static inline struct mshm_server
tu_server(const char *host, uint16_t port, uint32_t gi, uint8_t role)
{
    struct mshm_server s;

    memset(&s, 0, sizeof(s));
    tu_setname(s.host, sizeof(s.host), host);
    s.port = port;
    s.group_idx = gi;
    s.role = role;
    s.health = MSHM_HEALTH_UP;
    s.power = 1;
    s.flags = MSHM_SF_IN_USE | (role == MSHM_ROLE_REPLICA ? MSHM_SF_READABLE : 0);
    s.longname_idx = MSHM_NONE;
    return s;
}

static inline struct mshm_cluster
tu_cluster(const char *name, uint8_t kind, uint16_t n, const uint32_t *members)
{
    struct mshm_cluster c;
    uint16_t i;

    memset(&c, 0, sizeof(c));
    tu_setname(c.name, sizeof(c.name), name);
    c.flags = MSHM_CF_IN_USE;
    c.kind = kind;
    c.rule = kind == MSHM_KIND_FARM ? MSHM_RULE_MARSHAL10 : MSHM_RULE_MARSHAL0;
    c.dist = MSHM_DIST_KETAMA;
    c.hash = MSHM_HASH_FNV1A_64;
    c.primary = MSHM_NONE;
    c.n_members = n;
    for (i = 0; i < n; i++) {
        c.members[i].idx = members[i];
        c.members[i].power = 1;
    }
    return c;
}

/* A 255-byte host name (the longest allowed). */
static inline void
tu_long_host(char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (char)('a' + i % 26);
        if (i % 40 == 39) {
            buf[i] = '.';
        }
    }
    buf[len] = '\0';
}

/*
 * Standard topology:
 *   group 0 "g0": servers 0 (master) 1 2 (replicas)
 *   group 1 "g1": servers 3 (master) 4 (replica)
 *   group 2 "g2": server 5 (master) whose host is long name 0 (255 bytes)
 *   cluster 0 "c0": groups 0,1   cluster 1 "c1": group 2   cluster 2 "f0": farm of 0,1
 * Committed in one publish.
 */
static inline void
tu_populate(struct mshm_writer *w)
{
    static const uint32_t g0s[] = {0, 1, 2}, g1s[] = {3, 4}, g2s[] = {5};
    static const uint32_t c0m[] = {0, 1}, c1m[] = {2}, f0m[] = {0, 1};
    struct mshm_group g;
    struct mshm_server s;
    struct mshm_cluster c;
    char lh[MSHM_HOST_MAX];

    g = tu_group("g0", 0, 3, g0s);
    assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
    g = tu_group("g1", 3, 2, g1s);
    assert_int_equal(mshm_w_put_group(w, 1, &g), MSHM_OK);
    g = tu_group("g2", 5, 1, g2s);
    assert_int_equal(mshm_w_put_group(w, 2, &g), MSHM_OK);

    s = tu_server("10.0.0.1", 6379, 0, MSHM_ROLE_MASTER);
    assert_int_equal(mshm_w_put_server(w, 0, &s), MSHM_OK);
    s = tu_server("10.0.0.2", 6379, 0, MSHM_ROLE_REPLICA);
    assert_int_equal(mshm_w_put_server(w, 1, &s), MSHM_OK);
    s = tu_server("10.0.0.3", 6379, 0, MSHM_ROLE_REPLICA);
    assert_int_equal(mshm_w_put_server(w, 2, &s), MSHM_OK);
    s = tu_server("10.0.1.1", 6380, 1, MSHM_ROLE_MASTER);
    assert_int_equal(mshm_w_put_server(w, 3, &s), MSHM_OK);
    s = tu_server("10.0.1.2", 6380, 1, MSHM_ROLE_REPLICA);
    assert_int_equal(mshm_w_put_server(w, 4, &s), MSHM_OK);
    tu_long_host(lh, 255);
    assert_int_equal(mshm_w_put_longname(w, 0, lh), MSHM_OK);
    s = tu_server("", 6381, 2, MSHM_ROLE_MASTER);
    s.flags |= MSHM_SF_HOST_LONG;
    s.longname_idx = 0;
    assert_int_equal(mshm_w_put_server(w, 5, &s), MSHM_OK);

    c = tu_cluster("c0", MSHM_KIND_CLUSTER, 2, c0m);
    {   /* c0 is a `slots` cluster: slots 0..8191 -> member 0, the rest -> 1 */
        struct mshm_slotmap *sm = calloc(1, sizeof(*sm));

        assert_non_null(sm);
        sm->flags = MSHM_SMF_IN_USE;
        sm->cluster_idx = 0;
        memset(sm->member, 0, MSHM_SLOTS / 2);
        memset(sm->member + MSHM_SLOTS / 2, 1, MSHM_SLOTS / 2);
        assert_int_equal(mshm_w_put_slotmap(w, 0, sm), MSHM_OK);
        free(sm);
        c.dist = MSHM_DIST_SLOTS;
        c.flags |= MSHM_CF_SLOTMAP;
        c.slotmap_idx = 0;
    }
    assert_int_equal(mshm_w_put_cluster(w, 0, &c), MSHM_OK);
    c = tu_cluster("c1", MSHM_KIND_CLUSTER, 1, c1m);
    assert_int_equal(mshm_w_put_cluster(w, 1, &c), MSHM_OK);
    c = tu_cluster("f0", MSHM_KIND_FARM, 2, f0m);
    assert_int_equal(mshm_w_put_cluster(w, 2, &c), MSHM_OK);

    assert_true(mshm_w_commit(w) > 0);
}

/* Read a whole file into a 64-aligned buffer (free() it). */
static inline unsigned char *
tu_read_file(const char *path, size_t *len)
{
    struct stat st;
    void *buf = NULL;
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(posix_memalign(&buf, 64, (size_t)st.st_size + 64), 0);
    n = pread(fd, buf, (size_t)st.st_size, 0);
    assert_int_equal(n, st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

/* Write buf to a new file with exactly the given mode. */
static inline void
tu_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, mode), 0);
    if (len > 0) {
        assert_int_equal(write(fd, buf, len), (ssize_t)len);
    }
    close(fd);
}

/* Recompute a header's geo_check after the geometry was edited. */
static inline void
tu_fix_geo(struct mshm_header *h)
{
    h->geo_check = mshm_fnv1a32(h, offsetof(struct mshm_header, geo_check));
}

/*
 * Read one specific copy c of an attached segment, bypassing the latch (as
 * the writer's adoption does): both slot offsets point at copy c.
 */
static inline int
tu_read_copy(const struct mshm_reader *r, int c, struct mshm_state *st)
{
    struct mshm_reader one = *r;

    one.geo.slot_off[0] = one.geo.slot_off[1] = r->geo.slot_off[c];
    return mshm_read_state(&one, st);
}

/* Wait for a child; return its exit status, or 128+signal. */
static inline int
tu_wait_child(pid_t pid)
{
    int status = 0;

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

/* Read the whole state and require that it passes every invariant. */
static inline void
tu_read_checked(const struct mshm_reader *r, struct mshm_state *st)
{
    char err[256] = "";
    int rc;

    assert_int_equal(mshm_read_state(r, st), MSHM_OK);
    rc = mshm_check_state(st, err, sizeof(err));
    if (rc != MSHM_OK) {
        print_error("check_state: %s\n", err);
    }
    assert_int_equal(rc, MSHM_OK);
}

#endif /* MSHM_TEST_UTIL_H */
