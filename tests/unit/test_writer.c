/*
 * test_writer.c -- the single writer: create / adopt / replace, the lock,
 * change counters, the latch, events-only commits, heartbeat, header flags
 * and long host names.
 */
#define _GNU_SOURCE
#include <sys/file.h>

#include "test_util.h"

static int
setup(void **state)
{
    return tu_setup_module(state, "writer");
}

static const struct mshm_header *
H(const struct mshm_reader *r)
{
    return mshm_hdr(r);
}

/* ---- create ------------------------------------------------------------- */

static void
test_create(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    const struct mshm_geo *g = mshm_w_geo(w);
    struct mshm_reader r;
    struct mshm_state st;
    struct stat sb;
    char tmp[320];
    int i, nz = 0;

    assert_int_equal(stat(c->path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 0640);
    assert_int_equal(sb.st_uid, geteuid());
    assert_int_equal((uint64_t)sb.st_size, g->total_size);
    /* every page allocated up front (posix_fallocate on tmpfs) */
    assert_true((uint64_t)sb.st_blocks * 512 >= g->total_size);
    /* the lock file exists and the temporary name is gone */
    assert_int_equal(stat(c->lock, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", c->path, (long)getpid());
    assert_int_equal(stat(tmp, &sb), -1);
    assert_int_equal(errno, ENOENT);

    tu_attach(&r, c->path);
    assert_memory_equal(&r.geo, g, sizeof(*g));
    assert_int_equal(g->group_cap, 8);
    assert_int_equal(g->server_cap, 32);
    assert_int_equal(g->ring_cap, 16);
    assert_int_equal(mshm_ld(&H(&r)->state), MSHM_STATE_LIVE);
    assert_int_equal(mshm_ld(&H(&r)->writer_epoch), 1);
    assert_int_equal(mshm_ld(&H(&r)->writer_pid), (uint32_t)getpid());
    assert_true(mshm_ld(&H(&r)->writer_starttime) > 0);
    assert_int_equal(mshm_ld(&H(&r)->ev_head), 1);
    assert_int_equal(mshm_ld(&H(&r)->latch), 0);
    assert_int_equal(mshm_w_latch(w), 0);
    assert_true(mshm_ld(&H(&r)->hb_count) >= 1);
    assert_true(mshm_ld(&H(&r)->hb_mono_ns) > 0);
    assert_int_equal(mshm_ld(&H(&r)->hb_interval_ms), MSHM_DEF_HB_MS);
    assert_int_equal(mshm_ld(&H(&r)->stale_after_ms), MSHM_DEF_STALE_MS);
    assert_int_equal(mshm_ld(&H(&r)->flags), 0);
    for (i = 0; i < 16; i++) {
        nz |= H(&r)->boot_id[i];
    }
    assert_true(nz != 0);
    assert_true(H(&r)->segment_id != 0);

    /* an empty, consistent state */
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.n_groups, 0);
    assert_int_equal(st.hdr.n_servers, 0);
    assert_int_equal(st.hdr.state_sum, 0);
    mshm_state_free(&st);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_create_options(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w;
    struct mshm_reader r;
    struct stat sb;

    o.mode = 0600;
    o.hb_interval_ms = 250;
    o.stale_after_ms = 1500;
    w = tu_open_opts(&o, MSHM_CREATED);
    assert_int_equal(stat(c->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    tu_attach(&r, c->path);
    assert_int_equal(mshm_ld(&H(&r)->hb_interval_ms), 250);
    assert_int_equal(mshm_ld(&H(&r)->stale_after_ms), 1500);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_create_bad_options(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o;
    struct mshm_writer *w = (void *)&o;
    char err[256], longpath[600];
    struct stat sb;

    o = tu_opts(c->path);
    o.ring_cap = 12;
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_RANGE);
    assert_null(w);
    assert_non_null(strstr(err, "power of two"));
    o = tu_opts(c->path);
    o.group_cap = MSHM_MAX_GROUPS + 1;
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_RANGE);
    o = tu_opts(c->path);
    o.ring_cap = MSHM_MAX_RING * 2;
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_RANGE);
    o = tu_opts(NULL);
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_RANGE);
    o = tu_opts("");
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_RANGE);
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    o = tu_opts(longpath);
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_RANGE);
    /* a mode readers would refuse (and so would the next writer) */
    o = tu_opts(c->path);
    o.mode = 0660;
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_RANGE);
    assert_null(w);
    o.mode = 0602;
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_RANGE);
    /* nothing was created */
    assert_int_equal(stat(c->path, &sb), -1);
    /* a read-only-for-others mode is fine */
    o.mode = 0644;
    w = tu_open_opts(&o, MSHM_CREATED);
    assert_int_equal(stat(c->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0644);
    mshm_writer_close(w, 0);
}

/* ---- the writer lock ---------------------------------------------------- */

static void
test_busy_in_process(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w1, *w2 = (void *)&o;
    char err[256] = "";
    int fd, how = -1;

    w1 = tu_open(c->path, MSHM_CREATED);
    /* flock() is per open file description: a second open in this process
     * conflicts just like another process would */
    assert_int_equal(mshm_writer_open(&o, &w2, &how, err, sizeof(err)), MSHM_ERR_BUSY);
    assert_null(w2);
    assert_non_null(strstr(err, "another writer"));
    fd = open(c->lock, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);
    close(fd);
    /* the failed attempt left the segment alone */
    mshm_writer_close(w1, 0);
    w1 = tu_open(c->path, MSHM_ADOPTED);
    mshm_writer_close(w1, 0);
}

static void
test_busy_other_process(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    pid_t pid;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mshm_writer_opts o = tu_opts(c->path);
        struct mshm_writer *w2 = NULL;
        int rc = mshm_writer_open(&o, &w2, NULL, NULL, 0);

        _exit(rc == MSHM_ERR_BUSY && w2 == NULL ? 0 : 1);
    }
    assert_int_equal(tu_wait_child(pid), 0);
    mshm_writer_close(w, 0);

    /* once the lock is released another process gets it */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mshm_writer_opts o = tu_opts(c->path);
        struct mshm_writer *w2 = NULL;
        int how = -1;
        int rc = mshm_writer_open(&o, &w2, &how, NULL, 0);

        _exit(rc == MSHM_OK && how == MSHM_ADOPTED ? 0 : 1);
    }
    assert_int_equal(tu_wait_child(pid), 0);
}

/* ---- adopt -------------------------------------------------------------- */

static void
test_adopt(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_group g0;
    struct mshm_server s0;
    struct mshm_cluster c2;
    struct mshm_event ev;
    struct mshm_reader r;
    struct mshm_state st;
    struct mshm_group_snap gs;
    uint64_t latch, head, seg;
    char lh[MSHM_HOST_MAX];
    uint32_t i;

    tu_populate(w);
    memset(&ev, 0, sizeof(ev));
    ev.type = MSHM_EV_GROUP_ADDED;
    ev.group_idx = 0;
    assert_int_equal(mshm_w_emit(w, &ev), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 0);
    g0 = *mshm_w_group(w, 0);
    s0 = *mshm_w_server(w, 0);
    c2 = *mshm_w_cluster(w, 2);
    memcpy(lh, mshm_w_longname(w, 0), sizeof(lh));
    latch = mshm_w_latch(w);
    tu_attach(&r, c->path);
    head = mshm_ld(&H(&r)->ev_head);
    seg = H(&r)->segment_id;
    assert_int_equal(head, 2);
    mshm_writer_close(w, 1);
    assert_true(mshm_ld(&H(&r)->flags) & MSHM_HF_WRITER_STOPPED);

    w = tu_open(c->path, MSHM_ADOPTED);
    /* same file, same segment: readers keep their mapping */
    assert_int_equal(mshm_replaced(&r), 0);
    assert_int_equal(H(&r)->segment_id, seg);
    assert_int_equal(mshm_ld(&H(&r)->writer_epoch), 2);
    assert_int_equal(mshm_ld(&H(&r)->writer_pid), (uint32_t)getpid());
    assert_false(mshm_ld(&H(&r)->flags) & MSHM_HF_WRITER_STOPPED);
    assert_int_equal(mshm_ld(&H(&r)->state), MSHM_STATE_LIVE);
    /* adoption publishes nothing: latch and ring head continue */
    assert_int_equal(mshm_w_latch(w), latch);
    assert_int_equal(mshm_ld(&H(&r)->latch), latch);
    assert_int_equal(mshm_ld(&H(&r)->ev_head), head);
    assert_int_equal(mshm_w_pending(w), 0);
    /* the model is the adopted state, field for field */
    assert_memory_equal(mshm_w_group(w, 0), &g0, sizeof(g0));
    assert_memory_equal(mshm_w_server(w, 0), &s0, sizeof(s0));
    assert_memory_equal(mshm_w_cluster(w, 2), &c2, sizeof(c2));
    assert_memory_equal(mshm_w_longname(w, 0), lh, sizeof(lh));
    assert_string_equal(mshm_w_group(w, 1)->name, "g1");
    for (i = 3; i < 8; i++) {
        assert_false(mshm_w_group(w, i)->flags & MSHM_GF_IN_USE);
    }

    /* change counters continue from the adopted values */
    g0.power = 7;
    assert_int_equal(mshm_w_put_group(w, 0, &g0), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 1);
    assert_int_equal(mshm_w_group(w, 0)->change_seq, g0.change_seq + 1);
    assert_int_equal(mshm_w_group(w, 0)->gen, g0.gen);
    assert_int_equal(mshm_w_latch(w), latch + 2);
    assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_OK);
    assert_int_equal(gs.group.power, 7);
    assert_int_equal(gs.group.change_seq, g0.change_seq + 1);
    assert_int_equal(gs.latch, latch + 2);
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.n_groups, 3);
    mshm_state_free(&st);
    /* and the ring continues after the adopted head */
    assert_int_equal(mshm_w_emit(w, &ev), MSHM_OK);
    mshm_w_commit(w);
    assert_int_equal(mshm_ld(&H(&r)->ev_head), head + 1);
    mshm_detach(&r);
    mshm_writer_close(w, 0);

    /* a third writer: epoch 3 */
    w = tu_open(c->path, MSHM_ADOPTED);
    tu_attach(&r, c->path);
    assert_int_equal(mshm_ld(&H(&r)->writer_epoch), 3);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

/* Both copies are identical after adoption (the repair levelled them). */
static void
test_adopt_levels_copies(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    unsigned char *buf;
    size_t len;

    tu_populate(w);
    mshm_writer_close(w, 0);
    w = tu_open(c->path, MSHM_ADOPTED);
    tu_attach(&r, c->path);
    buf = tu_read_file(c->path, &len);
    assert_memory_equal(buf + r.geo.slot_off[0], buf + r.geo.slot_off[1], r.geo.slot_size);
    free(buf);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

/* ---- replace ------------------------------------------------------------ */

static void
test_replace_on_capacity_change(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r, r2;
    struct mshm_state st;
    struct stat sb;
    uint64_t seg;

    tu_populate(w);
    tu_attach(&r, c->path);
    seg = H(&r)->segment_id;
    mshm_writer_close(w, 0);

    o.group_cap = 16;
    w = tu_open_opts(&o, MSHM_REPLACED);
    /* the old mapping is told, the path holds a new inode */
    assert_int_equal(mshm_ld(&H(&r)->state), MSHM_STATE_RETIRED);
    assert_int_equal(mshm_replaced(&r), 1);
    assert_int_equal(stat(c->path, &sb), 0);
    assert_true(sb.st_ino != r.ino);
    assert_int_equal(sb.st_mode & 07777, 0640);
    tu_attach(&r2, c->path);
    assert_int_equal(r2.geo.group_cap, 16);
    assert_true(H(&r2)->segment_id != seg);
    assert_int_equal(mshm_ld(&H(&r2)->writer_epoch), 1);
    /* a replaced segment starts empty: the controller republishes */
    tu_read_checked(&r2, &st);
    assert_int_equal(st.hdr.n_groups, 0);
    mshm_state_free(&st);
    /* old readers still hold their last state */
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.n_groups, 3);
    mshm_state_free(&st);
    mshm_detach(&r);
    mshm_detach(&r2);
    mshm_writer_close(w, 0);
}

static void
test_replace_forced_and_foreign(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    unsigned char *img;
    size_t len;

    tu_populate(w);
    mshm_writer_close(w, 0);
    img = tu_read_file(c->path, &len);

    /* same geometry, but the caller insists */
    o.flags = MSHM_W_FORCE_REPLACE;
    w = tu_open_opts(&o, MSHM_REPLACED);
    mshm_writer_close(w, 0);

    /* another layout major: replaced, never adopted */
    ((struct mshm_header *)(void *)img)->version_major = MSHM_VERSION_MAJOR + 1;
    unlink(c->path);
    tu_write_file(c->path, img, len, 0640);
    w = tu_open(c->path, MSHM_REPLACED);
    tu_attach(&r, c->path);
    assert_int_equal(H(&r)->version_major, MSHM_VERSION_MAJOR);
    mshm_detach(&r);
    mshm_writer_close(w, 0);

    /* garbage at the path (our own file, safe mode): replaced */
    memset(img, 0x5a, len);
    unlink(c->path);
    tu_write_file(c->path, img, 1000, 0640);
    w = tu_open(c->path, MSHM_REPLACED);
    tu_attach(&r, c->path);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
    free(img);
}

/* A valid header over a corrupt state: adoption fails, the segment is replaced. */
static void
test_replace_corrupt_state(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_state st;
    struct mshm_slot_hdr *sh;
    const struct mshm_header *h;
    unsigned char *img;
    size_t len;

    tu_populate(w);
    mshm_writer_close(w, 0);
    img = tu_read_file(c->path, &len);
    h = (const void *)img;
    sh = (void *)(img + h->slot_off[h->latch & 1]);
    sh->n_groups = 1000;    /* beyond group_cap: the state is unreadable */
    unlink(c->path);
    tu_write_file(c->path, img, len, 0640);
    free(img);

    w = tu_open(c->path, MSHM_REPLACED);
    tu_attach(&r, c->path);
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.n_groups, 0);
    mshm_state_free(&st);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_refuse_unsafe_file(void **state)
{
    const struct tu_ctx *c = *state;
    static const mode_t bad[] = {0666, 0660, 0602};
    struct mshm_writer_opts o = tu_opts(c->path);
    struct mshm_writer *w;
    unsigned char *img, *after;
    char err[256];
    size_t len, len2, i;
    struct stat sb;

    w = tu_open(c->path, MSHM_CREATED);
    tu_populate(w);
    mshm_writer_close(w, 0);
    img = tu_read_file(c->path, &len);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(chmod(c->path, bad[i]), 0);
        w = (void *)&o;
        err[0] = '\0';
        assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_PERM);
        assert_null(w);
        assert_non_null(strstr(err, "refusing"));
        /* untouched: same mode, same bytes */
        assert_int_equal(stat(c->path, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, bad[i]);
        after = tu_read_file(c->path, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(after, img, len);
        free(after);
    }
    free(img);

    /* a file owned by someone else is never written (root can test this) */
    assert_int_equal(chmod(c->path, 0640), 0);
    if (geteuid() == 0 && chown(c->path, 65534, (gid_t)-1) == 0) {
        w = (void *)&o;
        assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_PERM);
        assert_null(w);
        assert_int_equal(stat(c->path, &sb), 0);
        assert_int_equal(sb.st_uid, 65534);
    }

    /* a symlink squatting the name is refused too */
    unlink(c->path);
    tu_write_file(c->aux, NULL, 0, 0640);
    assert_int_equal(symlink(c->aux, c->path), 0);
    w = (void *)&o;
    assert_int_equal(mshm_writer_open(&o, &w, NULL, err, sizeof(err)), MSHM_ERR_PERM);
    assert_null(w);
    assert_int_equal(lstat(c->path, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
}

/* ---- change counters, gen, latch ---------------------------------------- */

static void
test_change_seq(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    static const uint32_t g0s[] = {0, 1, 2}, g1s[] = {3};
    struct mshm_group g;
    struct mshm_server s;
    struct mshm_reader r;
    struct mshm_group_snap gs;
    uint64_t latch;
    uint32_t notify;

    tu_attach(&r, c->path);
    g = tu_group("g0", MSHM_NONE, 0, NULL);
    assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
    g = tu_group("g1", MSHM_NONE, 0, NULL);
    assert_int_equal(mshm_w_put_group(w, 1, &g), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 2);
    assert_int_equal(mshm_w_group(w, 0)->change_seq, 1);

    /* an identical put publishes nothing: no commit, latch and notify still */
    g = *mshm_w_group(w, 0);
    g.change_seq = 999;     /* ignored: the writer owns change_seq and gen */
    g.gen = 999;
    assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
    assert_int_equal(mshm_w_pending(w), 0);
    latch = mshm_w_latch(w);
    notify = mshm_ld(&H(&r)->notify);
    assert_int_equal(mshm_w_commit(w), 0);
    assert_int_equal(mshm_w_latch(w), latch);
    assert_int_equal(mshm_ld(&H(&r)->notify), notify);
    assert_int_equal(mshm_w_group(w, 0)->change_seq, 1);

    /* a server change bumps its group's change_seq; the group is republished */
    s = tu_server("10.1.0.1", 6379, 0, MSHM_ROLE_MASTER);
    assert_int_equal(mshm_w_put_server(w, 0, &s), MSHM_OK);
    assert_int_equal(mshm_w_pending(w), 2);
    assert_int_equal(mshm_w_commit(w), 2);
    assert_int_equal(mshm_w_server(w, 0)->change_seq, 1);
    assert_int_equal(mshm_w_group(w, 0)->change_seq, 2);

    /* several changes to one group in one commit: one bump */
    g = tu_group("g0", 0, 3, g0s);
    assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
    s = tu_server("10.1.0.2", 6379, 0, MSHM_ROLE_REPLICA);
    assert_int_equal(mshm_w_put_server(w, 1, &s), MSHM_OK);
    s = tu_server("10.1.0.3", 6379, 0, MSHM_ROLE_REPLICA);
    assert_int_equal(mshm_w_put_server(w, 2, &s), MSHM_OK);
    s.port = 6390;      /* the same server twice: one bump for it too */
    assert_int_equal(mshm_w_put_server(w, 2, &s), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 3);
    assert_int_equal(mshm_w_group(w, 0)->change_seq, 3);
    assert_int_equal(mshm_w_server(w, 2)->change_seq, 1);
    assert_int_equal(mshm_w_server(w, 1)->change_seq, 1);
    assert_int_equal(mshm_w_server(w, 0)->change_seq, 1);

    /* a new server of group 1 touches group 1 only */
    s = tu_server("10.1.1.1", 6379, 1, MSHM_ROLE_MASTER);
    assert_int_equal(mshm_w_put_server(w, 3, &s), MSHM_OK);
    g = tu_group("g1", 3, 1, g1s);
    assert_int_equal(mshm_w_put_group(w, 1, &g), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 2);
    assert_int_equal(mshm_w_group(w, 1)->change_seq, 2);
    assert_int_equal(mshm_w_group(w, 0)->change_seq, 3);

    /* moving a server between groups bumps both */
    s = *mshm_w_server(w, 2);
    s.group_idx = 1;
    assert_int_equal(mshm_w_put_server(w, 2, &s), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 3);
    assert_int_equal(mshm_w_group(w, 0)->change_seq, 4);
    assert_int_equal(mshm_w_group(w, 1)->change_seq, 3);
    assert_int_equal(mshm_w_server(w, 2)->change_seq, 2);

    /* readers see exactly the model's counters */
    assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_OK);
    assert_int_equal(gs.group.change_seq, 4);
    assert_int_equal(gs.servers[0].change_seq, 1);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_gen(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    static const uint32_t m0[] = {0};
    struct mshm_group g;
    struct mshm_server s;
    struct mshm_cluster cl;
    struct mshm_reader r;
    struct mshm_group_snap gs;
    struct mshm_server ss;
    struct mshm_cluster cs;

    tu_attach(&r, c->path);
    g = tu_group("g0", MSHM_NONE, 0, NULL);
    assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
    assert_int_equal(mshm_w_group(w, 0)->gen, 1);
    cl = tu_cluster("c0", MSHM_KIND_CLUSTER, 1, m0);
    assert_int_equal(mshm_w_put_cluster(w, 0, &cl), MSHM_OK);
    assert_int_equal(mshm_w_cluster(w, 0)->gen, 1);
    mshm_w_commit(w);
    /* a change that keeps IN_USE keeps gen */
    g.power = 3;
    assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
    mshm_w_commit(w);
    assert_int_equal(mshm_w_group(w, 0)->gen, 1);
    assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_OK);
    assert_int_equal(gs.group.gen, 1);

    /* delete: IN_USE cleared, gen bumped; readers get NOTFOUND */
    assert_int_equal(mshm_w_del_cluster(w, 0), MSHM_OK);
    assert_int_equal(mshm_w_del_group(w, 0), MSHM_OK);
    mshm_w_commit(w);
    assert_int_equal(mshm_w_group(w, 0)->gen, 2);
    assert_false(mshm_w_group(w, 0)->flags & MSHM_GF_IN_USE);
    assert_int_equal(mshm_w_cluster(w, 0)->gen, 2);
    assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_cluster(&r, 0, &cs), MSHM_ERR_NOTFOUND);
    /* deleting again changes nothing */
    assert_int_equal(mshm_w_del_group(w, 0), MSHM_OK);
    assert_int_equal(mshm_w_pending(w), 0);

    /* reuse the index: gen bumps again, the reader can tell */
    g = tu_group("g0-new", MSHM_NONE, 0, NULL);
    assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
    s = tu_server("10.2.0.1", 6379, 0, MSHM_ROLE_MASTER);
    assert_int_equal(mshm_w_put_server(w, 0, &s), MSHM_OK);
    mshm_w_commit(w);
    assert_int_equal(mshm_w_group(w, 0)->gen, 3);
    assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_OK);
    assert_int_equal(gs.group.gen, 3);
    assert_string_equal(gs.group.name, "g0-new");
    assert_int_equal(mshm_w_server(w, 0)->gen, 1);
    assert_int_equal(mshm_w_del_server(w, 0), MSHM_OK);
    mshm_w_commit(w);
    assert_int_equal(mshm_w_server(w, 0)->gen, 2);
    assert_int_equal(mshm_snap_server(&r, 0, &ss, NULL), MSHM_ERR_NOTFOUND);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_latch_and_pub_seq(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_state st;
    struct mshm_group g;
    uint64_t l0, pub0;
    uint32_t n0;
    int i;

    tu_attach(&r, c->path);
    tu_read_checked(&r, &st);
    pub0 = st.hdr.pub_seq;
    mshm_state_free(&st);
    l0 = mshm_w_latch(w);
    for (i = 1; i <= 5; i++) {
        n0 = mshm_ld(&H(&r)->notify);
        g = tu_group("g", MSHM_NONE, 0, NULL);
        g.power = (uint32_t)i;
        assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
        assert_int_equal(mshm_w_commit(w), 1);
        assert_int_equal(mshm_w_latch(w), l0 + 2 * (uint64_t)i);
        assert_int_equal(mshm_generation(&r), l0 + 2 * (uint64_t)i);
        assert_int_equal(mshm_ld(&H(&r)->notify), n0 + 1);
        tu_read_checked(&r, &st);
        assert_int_equal(st.latch, l0 + 2 * (uint64_t)i);
        assert_int_equal(st.hdr.pub_seq, pub0 + (uint64_t)i);
        assert_int_equal(st.groups[0].power, (uint32_t)i);
        mshm_state_free(&st);
    }
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_events_only_commit(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    struct mshm_event ev, out;
    uint64_t latch, head;
    uint32_t notify;
    int n = 0;

    tu_populate(w);
    tu_attach(&r, c->path);
    latch = mshm_w_latch(w);
    head = mshm_ld(&H(&r)->ev_head);
    notify = mshm_ld(&H(&r)->notify);
    memset(&ev, 0, sizeof(ev));
    ev.type = MSHM_EV_MASTER_DOWN;
    ev.group_idx = 1;
    ev.server_idx = 3;
    ev.seq = 77;            /* ignored: the writer numbers events */
    assert_int_equal(mshm_w_emit(w, &ev), MSHM_OK);
    assert_int_equal(mshm_w_pending(w), 1);
    assert_int_equal(mshm_w_commit(w), 0);
    assert_int_equal(mshm_w_pending(w), 0);
    assert_int_equal(mshm_w_latch(w), latch);
    assert_int_equal(mshm_ld(&H(&r)->latch), latch);
    assert_int_equal(mshm_ld(&H(&r)->ev_head), head + 1);
    assert_int_equal(mshm_ld(&H(&r)->notify), notify + 1);
    /* the reader attached at the old head: it sees exactly this event */
    while (mshm_next_event(&r, &out, NULL) == 1) {
        n++;
        assert_int_equal(out.seq, head);
        assert_int_equal(out.type, MSHM_EV_MASTER_DOWN);
        assert_int_equal(out.group_idx, 1);
        assert_int_equal(out.server_idx, 3);
        assert_true(out.mono_ns > 0);
        assert_true(out.realtime_ns > 0);
    }
    assert_int_equal(n, 1);
    /* the event names the publish that already reflects it */
    {
        struct mshm_state st;

        tu_read_checked(&r, &st);
        assert_int_equal(out.pub_seq, st.hdr.pub_seq);
        mshm_state_free(&st);
    }
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_emit_queue_bound(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_event ev;
    uint32_t n = 0;
    int rc;

    memset(&ev, 0, sizeof(ev));
    ev.type = MSHM_EV_CONFIG_RELOAD;
    while ((rc = mshm_w_emit(w, &ev)) == MSHM_OK && n < 10000) {
        n++;
    }
    /* the queue never grows past what the ring could show */
    assert_int_equal(rc, MSHM_ERR_NOMEM);
    assert_true(n >= 16);
    assert_true(n <= 2 * 16 + 16);
    assert_int_equal(mshm_w_pending(w), n);
    assert_int_equal(mshm_w_commit(w), 0);
    assert_int_equal(mshm_w_pending(w), 0);
    assert_int_equal(mshm_w_emit(w, &ev), MSHM_OK);
    mshm_writer_close(w, 0);
}

static void
test_heartbeat(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    uint64_t hb, mono, latch;
    uint32_t notify;

    tu_populate(w);
    tu_attach(&r, c->path);
    hb = mshm_ld(&H(&r)->hb_count);
    mono = mshm_ld(&H(&r)->hb_mono_ns);
    latch = mshm_ld(&H(&r)->latch);
    notify = mshm_ld(&H(&r)->notify);
    mshm_w_heartbeat(w);
    mshm_w_heartbeat(w);
    assert_int_equal(mshm_ld(&H(&r)->hb_count), hb + 2);
    assert_true(mshm_ld(&H(&r)->hb_mono_ns) >= mono);
    assert_true(mshm_ld(&H(&r)->hb_mono_ns) <= mshm_now_ns());
    assert_true(mshm_ld(&H(&r)->hb_realtime_ns) > 0);
    assert_int_equal(mshm_ld(&H(&r)->latch), latch);
    assert_int_equal(mshm_ld(&H(&r)->notify), notify);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_header_flags(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_reader r;
    uint32_t n;

    tu_attach(&r, c->path);
    n = mshm_ld(&H(&r)->notify);
    mshm_w_set_flags(w, MSHM_HF_WARMING_UP, 0);
    assert_int_equal(mshm_ld(&H(&r)->flags), MSHM_HF_WARMING_UP);
    assert_int_equal(mshm_ld(&H(&r)->notify), n + 1);
    /* no change: no wakeup */
    mshm_w_set_flags(w, MSHM_HF_WARMING_UP, 0);
    assert_int_equal(mshm_ld(&H(&r)->notify), n + 1);
    mshm_w_set_flags(w, MSHM_HF_WRITER_STOPPED, MSHM_HF_WARMING_UP);
    assert_int_equal(mshm_ld(&H(&r)->flags), MSHM_HF_WRITER_STOPPED);
    assert_int_equal(mshm_ld(&H(&r)->notify), n + 2);
    mshm_w_set_flags(w, 0, MSHM_HF_WRITER_STOPPED | MSHM_HF_WARMING_UP);
    assert_int_equal(mshm_ld(&H(&r)->flags), 0);
    assert_int_equal(mshm_ld(&H(&r)->latch), 0);

    mshm_w_set_config_version(w, 42);
    assert_int_equal(mshm_ld(&H(&r)->config_version), 42);

    /* close(w, 0) leaves the flag clear; close(w, 1) sets it */
    mshm_writer_close(w, 0);
    assert_int_equal(mshm_ld(&H(&r)->flags), 0);
    w = tu_open(c->path, MSHM_ADOPTED);
    mshm_writer_close(w, 1);
    assert_int_equal(mshm_ld(&H(&r)->flags), MSHM_HF_WRITER_STOPPED);
    mshm_detach(&r);
}

/* ---- long host names ---------------------------------------------------- */

static void
test_long_host(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    static const uint32_t g0s[] = {0, 1};
    char h255[MSHM_HOST_MAX + 1], h256[MSHM_HOST_MAX + 1], host[MSHM_HOST_MAX];
    struct mshm_group g;
    struct mshm_server s, out;
    struct mshm_reader r;
    struct mshm_state st;

    tu_long_host(h255, 255);
    tu_long_host(h256, 256);
    assert_int_equal(mshm_w_put_longname(w, 0, h256), MSHM_ERR_RANGE);
    assert_int_equal(mshm_w_put_longname(w, 4, h255), MSHM_ERR_RANGE);   /* idx == cap */
    assert_int_equal(mshm_w_pending(w), 0);
    assert_int_equal(mshm_w_put_longname(w, 0, h255), MSHM_OK);
    assert_string_equal(mshm_w_longname(w, 0), h255);
    /* a higher index also counts the records below it */
    assert_int_equal(mshm_w_put_longname(w, 2, "second.long.name.example"), MSHM_OK);

    g = tu_group("g0", 0, 2, g0s);
    assert_int_equal(mshm_w_put_group(w, 0, &g), MSHM_OK);
    s = tu_server("", 6379, 0, MSHM_ROLE_MASTER);
    s.flags |= MSHM_SF_HOST_LONG;
    s.longname_idx = 0;
    assert_int_equal(mshm_w_put_server(w, 0, &s), MSHM_OK);
    s = tu_server("", 6380, 0, MSHM_ROLE_REPLICA);
    s.flags |= MSHM_SF_HOST_LONG;
    s.longname_idx = 2;
    assert_int_equal(mshm_w_put_server(w, 1, &s), MSHM_OK);
    assert_true(mshm_w_commit(w) > 0);

    tu_attach(&r, c->path);
    memset(host, 0x7f, sizeof(host));
    assert_int_equal(mshm_snap_server(&r, 0, &out, host), MSHM_OK);
    assert_int_equal(strlen(host), 255);
    assert_string_equal(host, h255);
    assert_string_equal(out.host, "");
    assert_true(out.flags & MSHM_SF_HOST_LONG);
    assert_int_equal(mshm_snap_server(&r, 1, &out, host), MSHM_OK);
    assert_string_equal(host, "second.long.name.example");
    tu_read_checked(&r, &st);
    assert_int_equal(st.hdr.n_longnames, 3);
    assert_string_equal(mshm_state_host(&st, &st.servers[0]), h255);
    mshm_state_free(&st);

    /* an identical put publishes nothing; a change republishes */
    assert_int_equal(mshm_w_put_longname(w, 0, h255), MSHM_OK);
    assert_int_equal(mshm_w_pending(w), 0);
    h255[0] = 'Z';
    assert_int_equal(mshm_w_put_longname(w, 0, h255), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 1);
    assert_int_equal(mshm_snap_server(&r, 0, &out, host), MSHM_OK);
    assert_int_equal(host[0], 'Z');
    tu_read_checked(&r, &st);
    mshm_state_free(&st);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
}

static void
test_put_range(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_group g = tu_group("g", MSHM_NONE, 0, NULL);
    struct mshm_server s = tu_server("h", 1, 0, MSHM_ROLE_MASTER);
    struct mshm_cluster cl = tu_cluster("c", MSHM_KIND_CLUSTER, 0, NULL);

    assert_int_equal(mshm_w_put_group(w, 8, &g), MSHM_ERR_RANGE);
    assert_int_equal(mshm_w_put_server(w, 32, &s), MSHM_ERR_RANGE);
    assert_int_equal(mshm_w_put_cluster(w, 4, &cl), MSHM_ERR_RANGE);
    assert_int_equal(mshm_w_put_group(w, MSHM_NONE, &g), MSHM_ERR_RANGE);
    assert_int_equal(mshm_w_del_group(w, 8), MSHM_ERR_RANGE);
    assert_int_equal(mshm_w_del_server(w, 32), MSHM_ERR_RANGE);
    assert_int_equal(mshm_w_del_cluster(w, 4), MSHM_ERR_RANGE);
    assert_null(mshm_w_group(w, 8));
    assert_null(mshm_w_server(w, 32));
    assert_null(mshm_w_cluster(w, 4));
    assert_null(mshm_w_longname(w, 4));
    assert_non_null(mshm_w_group(w, 7));
    assert_int_equal(mshm_w_pending(w), 0);
    /* a server naming a group beyond the cap is staged without a crash */
    s.group_idx = 1000;
    assert_int_equal(mshm_w_put_server(w, 0, &s), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 1);
    mshm_writer_close(w, 0);
}

/* ---- slot maps (1.1) ------------------------------------------------------ */

static void
test_slotmap(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_writer *w = tu_open(c->path, MSHM_CREATED);
    struct mshm_slotmap *sm = calloc(1, sizeof(*sm));
    uint8_t *member = malloc(MSHM_SLOTS);
    struct mshm_cluster cl;
    struct mshm_reader r;
    struct mshm_state st;
    uint64_t seq;
    char err[256];

    assert_non_null(sm);
    assert_non_null(member);
    tu_populate(w);             /* c0 owns slot map 0: halves to members 0 and 1 */
    assert_int_equal(mshm_attach(&r, c->path, 0), MSHM_OK);
    assert_int_equal(r.geo.slotmap_cap, 1);
    assert_int_equal(r.geo.header_size, sizeof(struct mshm_header));
    assert_int_equal(mshm_snap_cluster_slots(&r, 0, &cl, member), MSHM_OK);
    assert_string_equal(cl.name, "c0");
    assert_int_equal(member[0], 0);
    assert_int_equal(member[MSHM_SLOTS / 2 - 1], 0);
    assert_int_equal(member[MSHM_SLOTS / 2], 1);
    assert_int_equal(member[MSHM_SLOTS - 1], 1);
    /* c1 has no slot map */
    assert_int_equal(mshm_snap_cluster_slots(&r, 1, &cl, member), MSHM_ERR_NOTFOUND);

    /* moving slots changes the map's change_seq; an identical put publishes nothing */
    seq = mshm_w_slotmap(w, 0)->change_seq;
    memcpy(sm, mshm_w_slotmap(w, 0), sizeof(*sm));
    assert_int_equal(mshm_w_put_slotmap(w, 0, sm), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 0);
    memset(sm->member + 100, 1, 50);
    assert_int_equal(mshm_w_put_slotmap(w, 0, sm), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 1);
    assert_true(mshm_w_slotmap(w, 0)->change_seq == seq + 1);
    assert_int_equal(mshm_snap_cluster_slots(&r, 0, &cl, member), MSHM_OK);
    assert_int_equal(member[99], 0);
    assert_int_equal(member[100], 1);
    assert_int_equal(member[149], 1);
    assert_int_equal(member[150], 0);
    assert_int_equal(mshm_w_put_slotmap(w, 1, sm), MSHM_ERR_RANGE);   /* cap 1 */

    /* the whole state checks, and a member beyond n_members is caught */
    assert_int_equal(mshm_read_state(&r, &st), MSHM_OK);
    assert_int_equal(st.hdr.n_slotmaps, 1);
    assert_int_equal(mshm_check_state(&st, err, sizeof(err)), MSHM_OK);
    st.slotmaps[0].member[7] = 2;
    assert_int_equal(mshm_check_state(&st, err, sizeof(err)), MSHM_ERR_CORRUPT);
    assert_non_null(strstr(err, "slot map 0"));
    st.slotmaps[0].member[7] = 0;
    st.clusters[0].slotmap_idx = 1;
    assert_int_equal(mshm_check_state(&st, err, sizeof(err)), MSHM_ERR_CORRUPT);
    mshm_state_free(&st);
    mshm_detach(&r);

    /* adoption keeps the map */
    mshm_writer_close(w, 1);
    w = tu_open(c->path, MSHM_ADOPTED);
    assert_int_equal(mshm_w_slotmap(w, 0)->member[120], 1);
    assert_int_equal(mshm_w_slotmap(w, 0)->change_seq, seq + 1);

    /* removing it: the cluster stops naming it in the same commit */
    cl = *mshm_w_cluster(w, 0);
    cl.flags &= ~MSHM_CF_SLOTMAP;
    assert_int_equal(mshm_w_put_cluster(w, 0, &cl), MSHM_OK);
    assert_int_equal(mshm_w_del_slotmap(w, 0), MSHM_OK);
    assert_int_equal(mshm_w_commit(w), 2);
    assert_int_equal(mshm_attach(&r, c->path, 0), MSHM_OK);
    assert_int_equal(mshm_snap_cluster_slots(&r, 0, &cl, member), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_read_state(&r, &st), MSHM_OK);
    assert_int_equal(mshm_check_state(&st, err, sizeof(err)), MSHM_OK);
    mshm_state_free(&st);
    mshm_detach(&r);
    mshm_writer_close(w, 0);
    free(sm);
    free(member);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, tu_teardown)
    const struct CMUnitTest tests[] = {
        T(test_create),
        T(test_create_options),
        T(test_create_bad_options),
        T(test_busy_in_process),
        T(test_busy_other_process),
        T(test_adopt),
        T(test_adopt_levels_copies),
        T(test_replace_on_capacity_change),
        T(test_replace_forced_and_foreign),
        T(test_replace_corrupt_state),
        T(test_refuse_unsafe_file),
        T(test_change_seq),
        T(test_gen),
        T(test_latch_and_pub_seq),
        T(test_events_only_commit),
        T(test_emit_queue_bound),
        T(test_heartbeat),
        T(test_header_flags),
        T(test_long_host),
        T(test_put_range),
        T(test_slotmap),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
