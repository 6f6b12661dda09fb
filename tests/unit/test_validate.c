/*
 * test_validate.c -- the attach-time validator and the state invariants.
 *
 * Every case starts from a real writer-created segment (tu_populate()),
 * read into an aligned buffer, then mutated.  Header cases go through
 * mshm_validate_header(), mshm_attach_buf() and mshm_attach() on a file;
 * state cases go through mshm_read_state() + mshm_check_state() and the
 * snapshot functions.  geo_check covers bytes [0, 124), so geometry cases
 * recompute it (FIX) to reach the specific check; the checksum itself is
 * tested separately.  State cases likewise recompute state_sum with
 * mshm_fuzz_fixup() (tests/fuzz/fuzz_body.c).
 */
#define _GNU_SOURCE
#include "test_util.h"

#include "fuzz_body.h"

static unsigned char *g_img;   /* valid segment image (64-aligned)  */
static size_t g_len;

static int
group_setup(void **state)
{
    struct tu_ctx *c;
    struct mshm_writer *w;

    (void)state;
    if (tu_setup_module((void **)&c, "validate-img") != 0) {
        return -1;
    }
    w = tu_open(c->path, MSHM_CREATED);
    tu_populate(w);
    mshm_writer_close(w, 0);
    g_img = tu_read_file(c->path, &g_len);
    tu_teardown((void **)&c);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    free(g_img);
    g_img = NULL;
    return 0;
}

static int
setup(void **state)
{
    return tu_setup_module(state, "validate");
}

/* A private copy of the image with its validated geometry. */
struct img {
    unsigned char *buf;
    size_t len;
    struct mshm_geo geo;
    unsigned char *slot;       /* the copy the latch points at */
};

static void
img_load(struct img *m)
{
    void *p = NULL;
    const struct mshm_header *h;

    assert_int_equal(posix_memalign(&p, 64, g_len), 0);
    memcpy(p, g_img, g_len);
    m->buf = p;
    m->len = g_len;
    h = (const void *)m->buf;
    assert_int_equal(mshm_validate_header(h, m->len, &m->geo, NULL, 0), MSHM_OK);
    m->slot = m->buf + m->geo.slot_off[h->latch & 1];
}

static struct mshm_header *
img_hdr(struct img *m)
{
    return (struct mshm_header *)(void *)m->buf;
}

static struct mshm_slot_hdr *
img_sh(struct img *m)
{
    return (struct mshm_slot_hdr *)(void *)m->slot;
}

static struct mshm_group *
img_group(struct img *m, uint32_t i)
{
    return (void *)(m->slot + m->geo.group_off + (size_t)i * m->geo.group_stride);
}

static struct mshm_server *
img_server(struct img *m, uint32_t i)
{
    return (void *)(m->slot + m->geo.server_off + (size_t)i * m->geo.server_stride);
}

static struct mshm_cluster *
img_cluster(struct img *m, uint32_t i)
{
    return (void *)(m->slot + m->geo.cluster_off + (size_t)i * m->geo.cluster_stride);
}

static struct mshm_longname *
img_longname(struct img *m, uint32_t i)
{
    return (void *)(m->slot + m->geo.longname_off + (size_t)i * m->geo.longname_stride);
}

/* ---- the valid image ---------------------------------------------------- */

static void
test_valid_image(void **state)
{
    struct img m;
    struct mshm_reader r;
    struct mshm_state st;
    struct mshm_geo geo;
    char err[256] = "";
    const struct mshm_header *h;

    (void)state;
    img_load(&m);
    h = img_hdr(&m);
    assert_int_equal(mshm_validate_header(h, m.len, &geo, err, sizeof(err)), MSHM_OK);
    assert_int_equal(geo.total_size, m.len);
    assert_int_equal(geo.group_cap, 8);
    assert_int_equal(geo.server_cap, 32);
    assert_int_equal(geo.cluster_cap, 4);
    assert_int_equal(geo.longname_cap, 4);
    assert_int_equal(geo.ring_cap, 16);
    assert_int_equal(geo.slot_off[0], h->slot_off[0]);
    assert_int_equal(geo.slot_off[1], h->slot_off[1]);
    assert_int_equal(geo.ring_off, h->ring_off);
    assert_int_equal(geo.segment_id, h->segment_id);
    /* geo may be NULL, err may be NULL */
    assert_int_equal(mshm_validate_header(h, m.len, NULL, NULL, 0), MSHM_OK);
    /* a file one byte longer or shorter than total_size is refused */
    assert_int_equal(mshm_validate_header(h, m.len + 1, NULL, NULL, 0), MSHM_ERR_CORRUPT);
    assert_int_equal(mshm_validate_header(h, m.len - 1, NULL, NULL, 0), MSHM_ERR_CORRUPT);

    memset(&r, 0, sizeof(r));
    assert_int_equal(mshm_attach_buf(&r, m.buf, m.len), MSHM_OK);
    assert_ptr_equal(r.base, m.buf);
    assert_memory_equal(&r.geo, &geo, sizeof(geo));
    assert_int_equal(mshm_read_state(&r, &st), MSHM_OK);
    assert_int_equal(mshm_check_state(&st, err, sizeof(err)), MSHM_OK);
    assert_int_equal(st.hdr.n_groups, 3);
    assert_int_equal(st.hdr.n_servers, 6);
    assert_int_equal(st.hdr.n_clusters, 3);
    assert_int_equal(st.hdr.n_longnames, 1);
    mshm_state_free(&st);
    mshm_detach_buf(&r);
    assert_null(r.base);

    /* unaligned or short buffers are refused before anything is read */
    assert_int_equal(mshm_attach_buf(&r, m.buf + 4, m.len - 8), MSHM_ERR_CORRUPT);
    assert_null(r.base);
    assert_int_equal(mshm_attach_buf(&r, m.buf, 319), MSHM_ERR_CORRUPT);
    assert_int_equal(mshm_attach_buf(&r, m.buf, 0), MSHM_ERR_CORRUPT);
    free(m.buf);
}

/* ---- header cases ------------------------------------------------------- */

typedef void (*hmut_fn)(struct mshm_header *h, size_t len);

struct hcase {
    const char *name;
    hmut_fn mutate;
    int fix_geo;          /* recompute geo_check after mutating         */
    int expect;           /* MSHM_OK / MSHM_ERR_*                       */
    const char *msg;      /* substring of the error message, or NULL    */
};

#define FIX 1
#define NOFIX 0

static void m_magic(struct mshm_header *h, size_t l) { (void)l; h->magic ^= 1ull << 56; }
static void m_magic0(struct mshm_header *h, size_t l) { (void)l; h->magic = 0; }
static void m_major2(struct mshm_header *h, size_t l) { (void)l; h->version_major = 2; }
static void m_major0(struct mshm_header *h, size_t l) { (void)l; h->version_major = 0; }
static void m_minor(struct mshm_header *h, size_t l) { (void)l; h->version_minor = 7; }
static void m_minor_hdr(struct mshm_header *h, size_t l)
{
    (void)l;
    h->version_minor = 3;
    h->header_size = 384;   /* a newer minor appended header fields */
}
static void m_hsize_small(struct mshm_header *h, size_t l) { (void)l; h->header_size = 256; }
static void m_hsize_zero(struct mshm_header *h, size_t l) { (void)l; h->header_size = 0; }
static void m_hsize_unal(struct mshm_header *h, size_t l) { (void)l; h->header_size = 324; }
static void m_hsize_huge(struct mshm_header *h, size_t l) { (void)l; h->header_size = 8192; }
static void m_total_big(struct mshm_header *h, size_t l) { h->total_size = l + 4096; }
static void m_total_small(struct mshm_header *h, size_t l) { h->total_size = l - 4096; }
static void m_geo_flip(struct mshm_header *h, size_t l) { (void)l; h->geo_check ^= 1; }
static void m_gcap9(struct mshm_header *h, size_t l) { (void)l; h->group_cap = 9; }
static void m_slot_overlap(struct mshm_header *h, size_t l)
{
    (void)l;
    h->slot_off[1] = h->slot_off[0] + MSHM_LINE;
}
static void m_slot_same(struct mshm_header *h, size_t l) { (void)l; h->slot_off[1] = h->slot_off[0]; }
static void m_slot_outside(struct mshm_header *h, size_t l) { h->slot_off[1] = l - MSHM_LINE; }
static void m_slot_in_hdr(struct mshm_header *h, size_t l) { (void)l; h->slot_off[0] = 0; }
static void m_slot_unal(struct mshm_header *h, size_t l) { (void)l; h->slot_off[0] += 8; }
static void m_slot_wrap(struct mshm_header *h, size_t l)
{
    (void)l;
    h->slot_off[1] = UINT64_MAX - 63;   /* off + size wraps in 64 bits */
}
static void m_slot_size_small(struct mshm_header *h, size_t l) { (void)l; h->slot_size = 32; }
static void m_slot_size_unal(struct mshm_header *h, size_t l) { (void)l; h->slot_size += 8; }
static void m_slot_size_huge(struct mshm_header *h, size_t l) { (void)l; h->slot_size = 0xffffffc0u; }
static void m_server_ovf(struct mshm_header *h, size_t l)
{
    (void)l;
    /* 262144 * 65536 = 2^34: wraps to 0 in 32-bit arithmetic */
    h->server_cap = MSHM_MAX_SERVERS;
    h->server_stride = 65536;
}
static void m_group_ovf(struct mshm_header *h, size_t l)
{
    (void)l;
    h->group_cap = MSHM_MAX_GROUPS;     /* 65536 * 65536 = 2^32 */
    h->group_stride = 65536;
}
static void m_longname_ovf(struct mshm_header *h, size_t l)
{
    (void)l;
    h->longname_cap = MSHM_MAX_LONGNAMES;
    h->longname_stride = 65536;
}
static void m_group_off_huge(struct mshm_header *h, size_t l) { (void)l; h->group_off = 0xfffffff8u; }
static void m_group_off_unal(struct mshm_header *h, size_t l) { (void)l; h->group_off += 4; }
static void m_group_off_in_slot_hdr(struct mshm_header *h, size_t l) { (void)l; h->group_off = 0; }
static void m_cluster_off_end(struct mshm_header *h, size_t l)
{
    (void)l;
    h->cluster_off = h->slot_size - h->cluster_stride;  /* 4 records from here overflow */
}
static void m_arrays_overlap(struct mshm_header *h, size_t l) { (void)l; h->server_off = h->group_off; }
static void m_gstride_small(struct mshm_header *h, size_t l) { (void)l; h->group_stride = 248; }
static void m_gstride_unal(struct mshm_header *h, size_t l) { (void)l; h->group_stride = 260; }
static void m_gstride_huge(struct mshm_header *h, size_t l) { (void)l; h->group_stride = 65544; }
static void m_sstride_small(struct mshm_header *h, size_t l) { (void)l; h->server_stride = 120; }
static void m_cstride_small(struct mshm_header *h, size_t l) { (void)l; h->cluster_stride = 376; }
static void m_lstride_zero(struct mshm_header *h, size_t l) { (void)l; h->longname_stride = 0; }
static void m_rstride_small(struct mshm_header *h, size_t l) { (void)l; h->ring_stride = 56; }
static void m_rstride_unal(struct mshm_header *h, size_t l) { (void)l; h->ring_stride = 68; }
static void m_rstride_huge(struct mshm_header *h, size_t l) { (void)l; h->ring_stride = 8192; }
static void m_gcap_max(struct mshm_header *h, size_t l) { (void)l; h->group_cap = MSHM_MAX_GROUPS + 1; }
static void m_scap_max(struct mshm_header *h, size_t l) { (void)l; h->server_cap = MSHM_MAX_SERVERS + 1; }
static void m_ccap_max(struct mshm_header *h, size_t l) { (void)l; h->cluster_cap = MSHM_MAX_CLUSTERS + 1; }
static void m_lcap_max(struct mshm_header *h, size_t l) { (void)l; h->longname_cap = MSHM_MAX_LONGNAMES + 1; }
static void m_rcap_max(struct mshm_header *h, size_t l) { (void)l; h->ring_cap = MSHM_MAX_RING * 2; }
static void m_rcap_u32max(struct mshm_header *h, size_t l) { (void)l; h->ring_cap = 0x80000000u; }
static void m_gcap0(struct mshm_header *h, size_t l) { (void)l; h->group_cap = 0; }
static void m_scap0(struct mshm_header *h, size_t l) { (void)l; h->server_cap = 0; }
static void m_ccap0(struct mshm_header *h, size_t l) { (void)l; h->cluster_cap = 0; h->longname_cap = 0; }
static void m_rcap12(struct mshm_header *h, size_t l) { (void)l; h->ring_cap = 12; }
static void m_rcap0(struct mshm_header *h, size_t l) { (void)l; h->ring_cap = 0; }
static void m_ring_on_slot1(struct mshm_header *h, size_t l) { (void)l; h->ring_off = h->slot_off[1]; }
static void m_ring_in_slot0(struct mshm_header *h, size_t l) { (void)l; h->ring_off = h->slot_off[0] + 64; }
static void m_ring_in_hdr(struct mshm_header *h, size_t l) { (void)l; h->ring_off = 8; }
static void m_ring_unal(struct mshm_header *h, size_t l) { (void)l; h->ring_off += 4; }
static void m_ring_outside(struct mshm_header *h, size_t l) { h->ring_off = l - 64; }
static void m_ring_wrap(struct mshm_header *h, size_t l) { (void)l; h->ring_off = UINT64_MAX - 7; }
static void m_state_init(struct mshm_header *h, size_t l) { (void)l; h->state = MSHM_STATE_INITIALIZING; }
static void m_state_retired(struct mshm_header *h, size_t l) { (void)l; h->state = MSHM_STATE_RETIRED; }
static void m_state_bogus(struct mshm_header *h, size_t l) { (void)l; h->state = 7; }
static void m_flags_unknown(struct mshm_header *h, size_t l) { (void)l; h->flags = 0xfff0u; }

static const struct hcase hcases[] = {
    {"bad magic", m_magic, FIX, MSHM_ERR_CORRUPT, "bad magic"},
    {"zero magic", m_magic0, NOFIX, MSHM_ERR_CORRUPT, "bad magic"},
    {"major 2", m_major2, NOFIX, MSHM_ERR_VERSION, "version 2."},
    {"major 2 (checksum fixed)", m_major2, FIX, MSHM_ERR_VERSION, "version"},
    {"major 0", m_major0, FIX, MSHM_ERR_VERSION, "version"},
    {"newer minor accepted", m_minor, FIX, MSHM_OK, NULL},
    {"newer minor, longer header accepted", m_minor_hdr, FIX, MSHM_OK, NULL},
    {"header_size too small", m_hsize_small, FIX, MSHM_ERR_CORRUPT, "header_size"},
    {"header_size zero", m_hsize_zero, FIX, MSHM_ERR_CORRUPT, "header_size"},
    {"header_size unaligned", m_hsize_unal, FIX, MSHM_ERR_CORRUPT, "header_size"},
    {"header_size covers the slots", m_hsize_huge, FIX, MSHM_ERR_CORRUPT, "slot 0"},
    {"total_size > file", m_total_big, FIX, MSHM_ERR_CORRUPT, "total_size"},
    {"total_size < file", m_total_small, FIX, MSHM_ERR_CORRUPT, "total_size"},
    {"geo_check flipped", m_geo_flip, NOFIX, MSHM_ERR_CORRUPT, "checksum"},
    {"geometry edited, geo_check stale", m_gcap9, NOFIX, MSHM_ERR_CORRUPT, "checksum"},
    {"slots overlap", m_slot_overlap, FIX, MSHM_ERR_CORRUPT, "overlap"},
    {"slots identical", m_slot_same, FIX, MSHM_ERR_CORRUPT, "overlap"},
    {"slot past end of file", m_slot_outside, FIX, MSHM_ERR_CORRUPT, "slot 1"},
    {"slot inside header", m_slot_in_hdr, FIX, MSHM_ERR_CORRUPT, "slot 0"},
    {"slot unaligned", m_slot_unal, FIX, MSHM_ERR_CORRUPT, "slot 0"},
    {"slot offset wraps 64 bits", m_slot_wrap, FIX, MSHM_ERR_CORRUPT, "slot 1"},
    {"slot_size below slot header", m_slot_size_small, FIX, MSHM_ERR_CORRUPT, "slot_size"},
    {"slot_size not line-aligned", m_slot_size_unal, FIX, MSHM_ERR_CORRUPT, "slot_size"},
    {"slot_size huge", m_slot_size_huge, FIX, MSHM_ERR_CORRUPT, "slot 0"},
    {"server cap*stride overflows 32 bits", m_server_ovf, FIX, MSHM_ERR_CORRUPT,
     "server array"},
    {"group cap*stride == 2^32", m_group_ovf, FIX, MSHM_ERR_CORRUPT, "group array"},
    {"longname cap*stride overflows", m_longname_ovf, FIX, MSHM_ERR_CORRUPT,
     "longname array"},
    {"group_off near 2^32", m_group_off_huge, FIX, MSHM_ERR_CORRUPT, "group array"},
    {"group_off unaligned", m_group_off_unal, FIX, MSHM_ERR_CORRUPT, "group array"},
    {"group array over slot header", m_group_off_in_slot_hdr, FIX, MSHM_ERR_CORRUPT,
     "group array"},
    {"cluster array past slot end", m_cluster_off_end, FIX, MSHM_ERR_CORRUPT,
     "cluster array"},
    {"arrays overlap", m_arrays_overlap, FIX, MSHM_ERR_CORRUPT, "overlap"},
    {"group_stride below minimum", m_gstride_small, FIX, MSHM_ERR_CORRUPT, "group_stride"},
    {"group_stride unaligned", m_gstride_unal, FIX, MSHM_ERR_CORRUPT, "group_stride"},
    {"group_stride huge", m_gstride_huge, FIX, MSHM_ERR_CORRUPT, "group_stride"},
    {"server_stride below minimum", m_sstride_small, FIX, MSHM_ERR_CORRUPT, "server_stride"},
    {"cluster_stride below minimum", m_cstride_small, FIX, MSHM_ERR_CORRUPT,
     "cluster_stride"},
    {"longname_stride zero", m_lstride_zero, FIX, MSHM_ERR_CORRUPT, "longname_stride"},
    {"ring_stride below minimum", m_rstride_small, FIX, MSHM_ERR_CORRUPT, "ring_stride"},
    {"ring_stride unaligned", m_rstride_unal, FIX, MSHM_ERR_CORRUPT, "ring_stride"},
    {"ring_stride huge", m_rstride_huge, FIX, MSHM_ERR_CORRUPT, "ring_stride"},
    {"group_cap above maximum", m_gcap_max, FIX, MSHM_ERR_CORRUPT, "group_cap"},
    {"server_cap above maximum", m_scap_max, FIX, MSHM_ERR_CORRUPT, "server_cap"},
    {"cluster_cap above maximum", m_ccap_max, FIX, MSHM_ERR_CORRUPT, "cluster_cap"},
    {"longname_cap above maximum", m_lcap_max, FIX, MSHM_ERR_CORRUPT, "longname_cap"},
    {"ring_cap above maximum", m_rcap_max, FIX, MSHM_ERR_CORRUPT, "ring_cap"},
    {"ring_cap 2^31", m_rcap_u32max, FIX, MSHM_ERR_CORRUPT, "ring_cap"},
    {"group_cap zero", m_gcap0, FIX, MSHM_ERR_CORRUPT, "zero"},
    {"server_cap zero", m_scap0, FIX, MSHM_ERR_CORRUPT, "zero"},
    {"cluster/longname caps zero accepted", m_ccap0, FIX, MSHM_OK, NULL},
    {"ring_cap not a power of two", m_rcap12, FIX, MSHM_ERR_CORRUPT, "power of two"},
    {"ring_cap zero", m_rcap0, FIX, MSHM_ERR_CORRUPT, "power of two"},
    {"ring on slot 1", m_ring_on_slot1, FIX, MSHM_ERR_CORRUPT, "event ring"},
    {"ring inside slot 0", m_ring_in_slot0, FIX, MSHM_ERR_CORRUPT, "event ring"},
    {"ring inside header", m_ring_in_hdr, FIX, MSHM_ERR_CORRUPT, "event ring"},
    {"ring unaligned", m_ring_unal, FIX, MSHM_ERR_CORRUPT, "event ring"},
    {"ring past end of file", m_ring_outside, FIX, MSHM_ERR_CORRUPT, "event ring"},
    {"ring offset wraps 64 bits", m_ring_wrap, FIX, MSHM_ERR_CORRUPT, "event ring"},
    {"state INITIALIZING", m_state_init, NOFIX, MSHM_ERR_CORRUPT, "not LIVE"},
    {"state RETIRED", m_state_retired, NOFIX, MSHM_ERR_RETIRED, "retired"},
    {"state unknown", m_state_bogus, NOFIX, MSHM_ERR_CORRUPT, "not LIVE"},
    {"unknown header flags ignored", m_flags_unknown, NOFIX, MSHM_OK, NULL},
};

static void
run_hcase(const struct tu_ctx *c, const struct hcase *k)
{
    struct img m;
    struct mshm_reader r;
    struct mshm_geo geo;
    char err[256] = "";
    int rc;

    img_load(&m);
    k->mutate(img_hdr(&m), m.len);
    if (k->fix_geo) {
        tu_fix_geo(img_hdr(&m));
    }

    /* 1. the pure validator */
    memset(&geo, 0xa5, sizeof(geo));
    rc = mshm_validate_header(img_hdr(&m), m.len, &geo, err, sizeof(err));
    if (rc != k->expect || (k->msg != NULL && strstr(err, k->msg) == NULL)) {
        print_error("case \"%s\": got %d (%s) \"%s\", want %d with \"%s\"\n", k->name, rc,
                    mshm_strerror(rc), err, k->expect, k->msg ? k->msg : "");
    }
    assert_int_equal(rc, k->expect);
    if (k->msg != NULL) {
        assert_non_null(strstr(err, k->msg));
    }
    if (rc == MSHM_OK || rc == MSHM_ERR_RETIRED) {
        assert_int_equal(geo.total_size, m.len);
    }

    /* 2. the in-memory attach agrees */
    memset(&r, 0, sizeof(r));
    rc = mshm_attach_buf(&r, m.buf, m.len);
    assert_int_equal(rc, k->expect);
    if (rc == MSHM_OK || rc == MSHM_ERR_RETIRED) {
        struct mshm_state st;

        assert_ptr_equal(r.base, m.buf);
        /* a header-only change leaves the state readable, except when the
         * caps shrink below the published counts */
        assert_int_equal(mshm_read_state(&r, &st),
                         k->mutate == m_ccap0 ? MSHM_ERR_CORRUPT : MSHM_OK);
        mshm_state_free(&st);
    } else {
        assert_null(r.base);
        assert_true(r.errstr[0] != '\0');
    }
    mshm_detach_buf(&r);

    /* 3. the file attach agrees, and keeps no mapping on error */
    tu_write_file(c->aux, m.buf, m.len, 0640);
    rc = mshm_attach(&r, c->aux, 0);
    if (rc != k->expect) {
        print_error("case \"%s\" (file): got %d: %s\n", k->name, rc, r.errstr);
    }
    assert_int_equal(rc, k->expect);
    if (rc == MSHM_OK) {
        assert_non_null(r.base);
        assert_int_equal(r.map_len, m.len);
        mshm_detach(&r);
    } else {
        assert_null(r.base);
        assert_int_equal(r.map_len, 0);
        if (k->msg != NULL) {
            assert_non_null(strstr(r.errstr, k->msg));
        }
    }
    unlink(c->aux);
    free(m.buf);
}

static void
test_header_table(void **state)
{
    const struct tu_ctx *c = *state;
    size_t i;

    for (i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
        run_hcase(c, &hcases[i]);
    }
}

/* Any single bit flip in the immutable lines is caught: magic, version or checksum. */
static void
test_geo_check_covers_every_byte(void **state)
{
    struct img m;
    char err[256];
    size_t off;
    int bit, rc;

    (void)state;
    img_load(&m);
    for (off = 0; off < offsetof(struct mshm_header, latch); off++) {
        for (bit = 0; bit < 8; bit += 3) {
            m.buf[off] ^= (unsigned char)(1u << bit);
            err[0] = '\0';
            rc = mshm_validate_header(img_hdr(&m), m.len, NULL, err, sizeof(err));
            if (off < 8) {
                assert_int_equal(rc, MSHM_ERR_CORRUPT);
                assert_non_null(strstr(err, "magic"));
            } else if (off < 10) {
                assert_int_equal(rc, MSHM_ERR_VERSION);
            } else {
                assert_int_equal(rc, MSHM_ERR_CORRUPT);
                assert_non_null(strstr(err, "checksum"));
            }
            m.buf[off] ^= (unsigned char)(1u << bit);
        }
    }
    /* the hot lines are not covered: flags/notify/hb may change freely */
    img_hdr(&m)->notify += 5;
    img_hdr(&m)->hb_count += 5;
    img_hdr(&m)->ev_head += 5;
    assert_int_equal(mshm_validate_header(img_hdr(&m), m.len, NULL, NULL, 0), MSHM_OK);
    free(m.buf);
}

/* ---- file cases --------------------------------------------------------- */

static void
test_truncated_files(void **state)
{
    const struct tu_ctx *c = *state;
    static const size_t cuts[] = {4096, 1, 8};
    struct mshm_reader r;
    off_t sizes[8];
    size_t i, n = 0;
    int rc;

    for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        sizes[n++] = (off_t)(g_len - cuts[i]);
    }
    sizes[n++] = (off_t)(g_len / 2);
    sizes[n++] = 320;  /* exactly a header, nothing else */
    sizes[n++] = 319;
    sizes[n++] = 1;
    sizes[n++] = 0;
    for (i = 0; i < n; i++) {
        int fd;

        tu_write_file(c->aux, g_img, g_len, 0640);
        fd = open(c->aux, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, sizes[i]), 0);
        close(fd);
        memset(&r, 0, sizeof(r));
        rc = mshm_attach(&r, c->aux, 0);
        if (rc != MSHM_ERR_CORRUPT) {
            print_error("size %lld: %d %s\n", (long long)sizes[i], rc, r.errstr);
        }
        assert_int_equal(rc, MSHM_ERR_CORRUPT);
        assert_null(r.base);
        assert_true(r.errstr[0] != '\0');
    }
    /* grown by a page: also refused (total_size != file size) */
    {
        int fd;

        tu_write_file(c->aux, g_img, g_len, 0640);
        fd = open(c->aux, O_RDWR | O_CLOEXEC);
        assert_int_equal(ftruncate(fd, (off_t)g_len + 4096), 0);
        close(fd);
        assert_int_equal(mshm_attach(&r, c->aux, 0), MSHM_ERR_CORRUPT);
        assert_non_null(strstr(r.errstr, "total_size"));
    }
}

static void
test_empty_file(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_reader r;

    tu_write_file(c->aux, NULL, 0, 0640);
    memset(&r, 0, sizeof(r));
    assert_int_equal(mshm_attach(&r, c->aux, 0), MSHM_ERR_CORRUPT);
    assert_null(r.base);
    assert_non_null(strstr(r.errstr, "smaller than a segment header"));
}

static void
test_missing_path(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_reader r;
    char longpath[600];

    memset(&r, 0, sizeof(r));
    assert_int_equal(mshm_attach(&r, c->path, 0), MSHM_ERR_NOENT);
    assert_null(r.base);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(mshm_attach(&r, "/nonexistent-dir-mshm/x", 0), MSHM_ERR_NOENT);
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(mshm_attach(&r, longpath, 0), MSHM_ERR_RANGE);
}

static void
test_writable_file(void **state)
{
    const struct tu_ctx *c = *state;
    static const mode_t bad[] = {0660, 0646, 0622, 0666, 0620};
    struct mshm_reader r;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tu_write_file(c->aux, g_img, g_len, bad[i]);
        memset(&r, 0, sizeof(r));
        assert_int_equal(mshm_attach(&r, c->aux, 0), MSHM_ERR_PERM);
        assert_null(r.base);
        assert_non_null(strstr(r.errstr, "writable"));
        /* the caller may explicitly accept it */
        assert_int_equal(mshm_attach(&r, c->aux, MSHM_ATTACH_ALLOW_WRITABLE), MSHM_OK);
        assert_non_null(r.base);
        mshm_detach(&r);
        assert_null(r.base);
    }
    /* read-only modes are fine */
    tu_write_file(c->aux, g_img, g_len, 0444);
    assert_int_equal(mshm_attach(&r, c->aux, 0), MSHM_OK);
    mshm_detach(&r);
}

static void
test_directory(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_reader r;

    assert_int_equal(mkdir(c->aux, 0750), 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(mshm_attach(&r, c->aux, 0), MSHM_ERR_PERM);
    assert_null(r.base);
    assert_non_null(strstr(r.errstr, "not a regular file"));
    assert_int_equal(mshm_attach(&r, c->aux, MSHM_ATTACH_ALLOW_WRITABLE), MSHM_ERR_PERM);
    /* a character device is not a segment either */
    assert_int_equal(mshm_attach(&r, "/dev/null", 0), MSHM_ERR_PERM);
    assert_null(r.base);
}

static void
test_symlink(void **state)
{
    const struct tu_ctx *c = *state;
    struct mshm_reader r;

    /* a valid segment behind a symlink is still refused (O_NOFOLLOW: ELOOP) */
    tu_write_file(c->path, g_img, g_len, 0640);
    assert_int_equal(symlink(c->path, c->aux), 0);
    memset(&r, 0, sizeof(r));
    assert_int_equal(mshm_attach(&r, c->aux, 0), MSHM_ERR_PERM);
    assert_null(r.base);
    assert_int_equal(errno, ELOOP);
    /* the target itself attaches */
    assert_int_equal(mshm_attach(&r, c->path, 0), MSHM_OK);
    mshm_detach(&r);
}

/* ---- state cases -------------------------------------------------------- */

enum snap_kind { SNAP_NONE, SNAP_GROUP, SNAP_SERVER, SNAP_SERVER_HOST, SNAP_CLUSTER,
                 SNAP_FIND_G0 };

struct scase {
    const char *name;
    void (*mutate)(struct img *m);
    int resum;            /* recompute state_sum so the specific check runs */
    int expect_read;      /* mshm_read_state() result                       */
    const char *msg;      /* mshm_check_state() message (NULL: check passes) */
    enum snap_kind snap;
    uint32_t snap_idx;
    int expect_snap;
};

static void s_ngroups(struct img *m) { img_sh(m)->n_groups = m->geo.group_cap + 1; }
static void s_nservers(struct img *m) { img_sh(m)->n_servers = 0xffffffffu; }
static void s_nclusters(struct img *m) { img_sh(m)->n_clusters = m->geo.cluster_cap + 1; }
static void s_nlongnames(struct img *m) { img_sh(m)->n_longnames = 0x80000000u; }
static void s_gnserv33(struct img *m) { img_group(m, 0)->n_servers = 33; }
static void s_gnservmax(struct img *m) { img_group(m, 0)->n_servers = 0xffff; }
static void s_gserv_oob(struct img *m) { img_group(m, 0)->servers[1] = 0xfffffff0u; }
static void s_gserv_unused(struct img *m) { img_group(m, 0)->servers[1] = 20; }
static void s_gserv_twice(struct img *m) { img_group(m, 0)->servers[2] = 1; }
static void s_master_other(struct img *m) { img_group(m, 0)->master_idx = 3; }
static void s_master_oob(struct img *m) { img_group(m, 0)->master_idx = 0x7fffffffu; }
static void s_srv_group(struct img *m) { img_server(m, 1)->group_idx = 1; }
static void s_srv_group_unused(struct img *m) { img_server(m, 1)->group_idx = 7; }
static void s_srv_group_oob(struct img *m) { img_server(m, 1)->group_idx = 0xffffffffu; }
static void s_gname_unterm(struct img *m) { memset(img_group(m, 1)->name, 'x', MSHM_NAME_MAX); }
static void s_gname_empty(struct img *m) { img_group(m, 1)->name[0] = '\0'; }
static void s_host_unterm(struct img *m) { memset(img_server(m, 0)->host, 'h', MSHM_HOST_INLINE); }
static void s_host_empty(struct img *m) { img_server(m, 0)->host[0] = '\0'; }
static void s_long_unterm(struct img *m) { memset(img_longname(m, 0)->host, 'l', MSHM_HOST_MAX); }
static void s_long_idx(struct img *m) { img_server(m, 5)->longname_idx = 3; }
static void s_long_idx_oob(struct img *m) { img_server(m, 5)->longname_idx = 0xffffffffu; }
static void s_dup_group(struct img *m) { tu_setname(img_group(m, 1)->name, MSHM_NAME_MAX, "g0"); }
static void s_dup_cluster(struct img *m) { tu_setname(img_cluster(m, 1)->name, MSHM_NAME_MAX, "c0"); }
static void s_sum_record(struct img *m) { img_group(m, 0)->power++; }
static void s_sum_word(struct img *m) { img_sh(m)->state_sum ^= 1; }
static void s_cl_members(struct img *m) { img_cluster(m, 0)->n_members = 33; }
static void s_cl_member_unused(struct img *m) { img_cluster(m, 0)->members[1].idx = 6; }
static void s_farm_self(struct img *m) { img_cluster(m, 2)->members[0].idx = 2; }
static void s_cl_primary(struct img *m) { img_cluster(m, 0)->primary = 5; }
static void s_cl_kind(struct img *m) { img_cluster(m, 1)->kind = 9; }
static void s_role(struct img *m) { img_server(m, 2)->role = 3; }
static void s_health(struct img *m) { img_server(m, 2)->health = 9; }
static void s_route(struct img *m) { img_group(m, 1)->route = 3; }
static void s_unused_group(struct img *m) { img_group(m, 1)->flags &= ~MSHM_GF_IN_USE; }

static const struct scase scases[] = {
    {"n_groups > cap", s_ngroups, 0, MSHM_ERR_CORRUPT, NULL, SNAP_FIND_G0, 0,
     MSHM_ERR_CORRUPT},
    {"n_servers huge", s_nservers, 0, MSHM_ERR_CORRUPT, NULL, SNAP_GROUP, 0, MSHM_OK},
    {"n_clusters > cap", s_nclusters, 0, MSHM_ERR_CORRUPT, NULL, SNAP_CLUSTER, 0, MSHM_OK},
    {"n_longnames huge", s_nlongnames, 0, MSHM_ERR_CORRUPT, NULL, SNAP_SERVER_HOST, 5,
     MSHM_OK},
    {"group lists 33 servers", s_gnserv33, 1, MSHM_OK, "lists 33 servers", SNAP_GROUP, 0,
     MSHM_ERR_CORRUPT},
    {"group n_servers 0xffff", s_gnservmax, 1, MSHM_OK, "servers (max 32)", SNAP_GROUP, 0,
     MSHM_ERR_CORRUPT},
    {"server index out of range", s_gserv_oob, 1, MSHM_OK, "not in use", SNAP_GROUP, 0,
     MSHM_ERR_CORRUPT},
    {"server index of unused record", s_gserv_unused, 1, MSHM_OK, "server 20 which is not in use",
     SNAP_GROUP, 0, MSHM_OK},
    {"server listed twice", s_gserv_twice, 1, MSHM_OK, "twice", SNAP_NONE, 0, 0},
    {"master not among servers", s_master_other, 1, MSHM_OK, "not one of its servers",
     SNAP_GROUP, 0, MSHM_OK},
    {"master index out of range", s_master_oob, 1, MSHM_OK, "not one of its servers",
     SNAP_GROUP, 0, MSHM_ERR_CORRUPT},
    {"server's group_idx mismatch", s_srv_group, 1, MSHM_OK, "owned by group 1", SNAP_SERVER,
     1, MSHM_OK},
    {"server's group not in use", s_srv_group_unused, 1, MSHM_OK, "group 7 which is not in use",
     SNAP_NONE, 0, 0},
    {"server's group_idx out of range", s_srv_group_oob, 1, MSHM_OK, "not in use", SNAP_SERVER,
     1, MSHM_OK},
    {"group name unterminated", s_gname_unterm, 1, MSHM_OK, "not NUL-terminated", SNAP_GROUP,
     1, MSHM_OK},
    {"group name empty", s_gname_empty, 1, MSHM_OK, "name empty", SNAP_NONE, 0, 0},
    {"server host unterminated", s_host_unterm, 1, MSHM_OK, "host not NUL-terminated",
     SNAP_SERVER_HOST, 0, MSHM_OK},
    {"server host empty", s_host_empty, 1, MSHM_OK, "empty host", SNAP_NONE, 0, 0},
    {"long host unterminated", s_long_unterm, 1, MSHM_OK, "long host name 0", SNAP_SERVER_HOST,
     5, MSHM_OK},
    {"long host index beyond count", s_long_idx, 1, MSHM_OK, "long host index 3",
     SNAP_SERVER_HOST, 5, MSHM_OK},
    {"long host index out of range", s_long_idx_oob, 1, MSHM_OK, "long host index",
     SNAP_SERVER_HOST, 5, MSHM_ERR_CORRUPT},
    {"duplicate group names", s_dup_group, 1, MSHM_OK, "group name g0 used twice",
     SNAP_FIND_G0, 0, MSHM_OK},
    {"duplicate cluster names", s_dup_cluster, 1, MSHM_OK, "cluster name c0 used twice",
     SNAP_NONE, 0, 0},
    {"record changed, state_sum not", s_sum_record, 0, MSHM_OK, "checksum mismatch",
     SNAP_GROUP, 0, MSHM_OK},
    {"state_sum flipped", s_sum_word, 0, MSHM_OK, "checksum mismatch", SNAP_NONE, 0, 0},
    {"cluster with 33 members", s_cl_members, 1, MSHM_OK, "members 33", SNAP_CLUSTER, 0,
     MSHM_ERR_CORRUPT},
    {"cluster member group unused", s_cl_member_unused, 1, MSHM_OK, "group 6 not in use",
     SNAP_CLUSTER, 0, MSHM_OK},
    {"farm member is itself", s_farm_self, 1, MSHM_OK, "farm f0 member 0", SNAP_CLUSTER, 2,
     MSHM_OK},
    {"cluster primary out of range", s_cl_primary, 1, MSHM_OK, "primary 5", SNAP_NONE, 0, 0},
    {"cluster kind unknown", s_cl_kind, 1, MSHM_OK, "kind 9", SNAP_NONE, 0, 0},
    {"server role invalid", s_role, 1, MSHM_OK, "role 3", SNAP_NONE, 0, 0},
    {"server health invalid", s_health, 1, MSHM_OK, "health 9", SNAP_NONE, 0, 0},
    {"group route invalid", s_route, 1, MSHM_OK, "route 3", SNAP_NONE, 0, 0},
    {"group of listed servers unused", s_unused_group, 1, MSHM_OK, "not in use", SNAP_GROUP, 1,
     MSHM_ERR_NOTFOUND},
};

static void
run_scase(const struct scase *k)
{
    struct img m;
    struct mshm_reader r;
    struct mshm_state st;
    struct mshm_group_snap gs;
    struct mshm_server srv;
    struct mshm_cluster cl;
    char host[MSHM_HOST_MAX];
    char err[256] = "";
    uint32_t idx = 12345;
    int rc;

    img_load(&m);
    k->mutate(&m);
    if (k->resum) {
        mshm_fuzz_fixup(m.buf, m.len, 1);
    }
    memset(&r, 0, sizeof(r));
    assert_int_equal(mshm_attach_buf(&r, m.buf, m.len), MSHM_OK);

    rc = mshm_read_state(&r, &st);
    if (rc != k->expect_read) {
        print_error("case \"%s\": read_state %d, want %d\n", k->name, rc, k->expect_read);
    }
    assert_int_equal(rc, k->expect_read);
    if (rc == MSHM_OK) {
        rc = mshm_check_state(&st, err, sizeof(err));
        if (rc != MSHM_ERR_CORRUPT || strstr(err, k->msg) == NULL) {
            print_error("case \"%s\": check_state %d \"%s\", want CORRUPT \"%s\"\n", k->name,
                        rc, err, k->msg);
        }
        assert_int_equal(rc, MSHM_ERR_CORRUPT);
        assert_non_null(strstr(err, k->msg));
        /* err may be NULL */
        assert_int_equal(mshm_check_state(&st, NULL, 0), MSHM_ERR_CORRUPT);
    }
    mshm_state_free(&st);

    switch (k->snap) {
    case SNAP_NONE:
        rc = k->expect_snap;
        break;
    case SNAP_GROUP:
        rc = mshm_snap_group(&r, k->snap_idx, &gs);
        if (rc == MSHM_OK) {
            assert_true(gs.group.n_servers <= MSHM_GROUP_SERVERS);
            assert_true(strlen(gs.group.name) < MSHM_NAME_MAX);
        }
        break;
    case SNAP_SERVER:
        rc = mshm_snap_server(&r, k->snap_idx, &srv, NULL);
        break;
    case SNAP_SERVER_HOST:
        rc = mshm_snap_server(&r, k->snap_idx, &srv, host);
        if (rc == MSHM_OK) {
            assert_true(strlen(host) < MSHM_HOST_MAX);
            assert_true(strlen(srv.host) < MSHM_HOST_INLINE);
        }
        break;
    case SNAP_CLUSTER:
        rc = mshm_snap_cluster(&r, k->snap_idx, &cl);
        break;
    case SNAP_FIND_G0:
        rc = mshm_find_group(&r, "g0", &idx);
        if (rc == MSHM_OK) {
            assert_int_equal(idx, 0);
        }
        break;
    }
    if (rc != k->expect_snap) {
        print_error("case \"%s\": snapshot %d, want %d\n", k->name, rc, k->expect_snap);
    }
    assert_int_equal(rc, k->expect_snap);
    mshm_detach_buf(&r);
    free(m.buf);
}

static void
test_state_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
        run_scase(&scases[i]);
    }
}

/* Snapshot truncation on unterminated strings: never read past the field. */
static void
test_snap_unterminated(void **state)
{
    struct img m;
    struct mshm_reader r;
    struct mshm_group_snap gs;
    struct mshm_server srv;
    char host[MSHM_HOST_MAX];

    (void)state;
    img_load(&m);
    memset(img_group(&m, 0)->name, 'n', MSHM_NAME_MAX);
    memset(img_server(&m, 0)->host, 'h', MSHM_HOST_INLINE);
    memset(img_longname(&m, 0)->host, 'l', MSHM_HOST_MAX);
    memset(&r, 0, sizeof(r));
    assert_int_equal(mshm_attach_buf(&r, m.buf, m.len), MSHM_OK);
    assert_int_equal(mshm_snap_group(&r, 0, &gs), MSHM_OK);
    assert_int_equal(strlen(gs.group.name), MSHM_NAME_MAX - 1);
    assert_int_equal(strlen(gs.servers[0].host), MSHM_HOST_INLINE - 1);
    assert_int_equal(mshm_snap_server(&r, 0, &srv, host), MSHM_OK);
    assert_int_equal(strlen(host), MSHM_HOST_INLINE - 1);
    assert_int_equal(mshm_snap_server(&r, 5, &srv, host), MSHM_OK);
    assert_int_equal(strlen(host), MSHM_HOST_MAX - 1);
    mshm_detach_buf(&r);
    free(m.buf);
}

/* Range and not-found codes on the valid image. */
static void
test_snap_codes(void **state)
{
    struct img m;
    struct mshm_reader r;
    struct mshm_group_snap gs;
    struct mshm_server srv;
    struct mshm_cluster cl;
    uint32_t idx;

    (void)state;
    img_load(&m);
    memset(&r, 0, sizeof(r));
    assert_int_equal(mshm_attach_buf(&r, m.buf, m.len), MSHM_OK);
    assert_int_equal(mshm_snap_group(&r, 2, &gs), MSHM_OK);
    assert_int_equal(mshm_snap_group(&r, 3, &gs), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_group(&r, 7, &gs), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_group(&r, 8, &gs), MSHM_ERR_RANGE);
    assert_int_equal(mshm_snap_group(&r, MSHM_NONE, &gs), MSHM_ERR_RANGE);
    assert_int_equal(mshm_snap_server(&r, 5, &srv, NULL), MSHM_OK);
    assert_int_equal(mshm_snap_server(&r, 6, &srv, NULL), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_server(&r, 31, &srv, NULL), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_server(&r, 32, &srv, NULL), MSHM_ERR_RANGE);
    assert_int_equal(mshm_snap_cluster(&r, 2, &cl), MSHM_OK);
    assert_int_equal(mshm_snap_cluster(&r, 3, &cl), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_snap_cluster(&r, 4, &cl), MSHM_ERR_RANGE);
    assert_int_equal(mshm_find_group(&r, "g3", &idx), MSHM_ERR_NOTFOUND);
    assert_int_equal(mshm_find_cluster(&r, "f0", &idx), MSHM_OK);
    assert_int_equal(idx, 2);
    mshm_detach_buf(&r);
    free(m.buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_image),
        cmocka_unit_test_setup_teardown(test_header_table, setup, tu_teardown),
        cmocka_unit_test(test_geo_check_covers_every_byte),
        cmocka_unit_test_setup_teardown(test_truncated_files, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_missing_path, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_writable_file, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_directory, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_symlink, setup, tu_teardown),
        cmocka_unit_test(test_state_table),
        cmocka_unit_test(test_snap_unterminated),
        cmocka_unit_test(test_snap_codes),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
