/*
 * test_fuzz_validate.c -- deterministic fuzzing of the validator and every
 * reader path, with the same body as the libFuzzer target
 * (tests/fuzz/fuzz_body.c).
 *
 * A fixed-seed PRNG drives 2000 random buffers (pure noise, noise behind a
 * correct magic/version/checksum, and structurally valid headers over
 * random contents) and 20000 mutations of a valid image made by the real
 * writer (bit flips, 4/8-byte boundary values in the header, slot headers,
 * records and the ring, truncations).  The body reports any undocumented
 * status code or any snapshot disagreeing with a state that
 * mshm_check_state() accepted; crashes and out-of-bounds reads are caught by
 * the sanitizer build.  MSHM_FUZZ_SEED=<n> in the environment replays
 * another seed.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include "fuzz_body.h"
#include "fuzz_image.h"

#define N_RANDOM    2000
#define N_MUTATIONS 20000

static unsigned char *g_img;
static size_t g_len;
static struct mshm_geo g_geo;
static uint64_t g_seed = 0x6d73686d66757a7aull;   /* "mshmfuzz" */

/* ---- PRNG (splitmix64: tiny, deterministic, good enough) ----------------- */

static uint64_t g_rng;

static uint64_t
rnd(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t
below(uint32_t n)
{
    return n == 0 ? 0 : (uint32_t)(rnd() % n);
}

static void
fill_random(unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = (unsigned char)rnd();
    }
}

/* ---- fixtures ------------------------------------------------------------ */

static int
group_setup(void **state)
{
    char path[256];
    const char *env = getenv("MSHM_FUZZ_SEED");

    (void)state;
    if (env != NULL && *env != '\0') {
        g_seed = strtoull(env, NULL, 0);
    }
    snprintf(path, sizeof(path), "/dev/shm/mshm-test-%ld-fuzz-img", (long)getpid());
    if (mshm_fuzz_make_image(path, &g_img, &g_len) != MSHM_OK) {
        return -1;
    }
    if (mshm_validate_header((const void *)g_img, g_len, &g_geo, NULL, 0) != MSHM_OK) {
        return -1;
    }
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

static void
run_one(const unsigned char *buf, size_t len, struct mshm_fuzz_stats *st, const char *what,
        uint32_t iter)
{
    char why[512];
    int bad = mshm_fuzz_one(buf, len, st, why, sizeof(why));

    if (bad != 0) {
        print_error("%s #%u (seed 0x%llx, len %zu): %d violation(s), first: %s\n", what, iter,
                    (unsigned long long)g_seed, len, bad, why);
    }
    assert_int_equal(bad, 0);
}

/* ---- the unmutated image -------------------------------------------------- */

static void
test_valid_image(void **state)
{
    struct mshm_fuzz_stats st;
    unsigned char *buf;

    (void)state;
    memset(&st, 0, sizeof(st));
    run_one(g_img, g_len, &st, "valid image", 0);
    assert_int_equal(st.attach_ok, 1);
    assert_int_equal(st.state_read, 1);
    assert_int_equal(st.check_ok, 1);       /* the oracles ran on real data */
    assert_int_equal(st.events, 5);         /* seek(0) replays the whole ring */
    assert_int_equal(st.lost, 0);
    assert_true(st.snap_ok >= 6);

    /* a retired image is still fully readable */
    buf = malloc(g_len);
    assert_non_null(buf);
    memcpy(buf, g_img, g_len);
    ((struct mshm_header *)(void *)buf)->state = MSHM_STATE_RETIRED;
    memset(&st, 0, sizeof(st));
    run_one(buf, g_len, &st, "retired image", 0);
    assert_int_equal(st.attach_retired, 1);
    assert_int_equal(st.check_ok, 1);
    free(buf);
}

/* ---- random buffers ------------------------------------------------------- */

/* A structurally valid, compact header over random contents. */
static size_t
random_valid_layout(unsigned char *buf, size_t cap_bytes)
{
    struct mshm_header h;
    struct mshm_slot_hdr *sh;
    uint64_t off, slot_size, total;
    uint32_t rcap;
    int c;

    memset(&h, 0, sizeof(h));
    h.magic = MSHM_MAGIC;
    h.version_major = MSHM_VERSION_MAJOR;
    h.version_minor = (uint16_t)below(3);
    h.header_size = sizeof(h);
    h.group_cap = 1 + below(4);
    h.group_stride = sizeof(struct mshm_group) + 8 * below(3);
    h.server_cap = 1 + below(8);
    h.server_stride = sizeof(struct mshm_server) + 8 * below(3);
    h.cluster_cap = below(4);
    h.cluster_stride = sizeof(struct mshm_cluster) + 8 * below(3);
    h.longname_cap = below(3);
    h.longname_stride = sizeof(struct mshm_longname) + 8 * below(3);
    rcap = 1u << below(4);
    h.ring_cap = rcap;
    h.ring_stride = sizeof(struct mshm_event) + 8 * below(3);
    off = sizeof(struct mshm_slot_hdr);
    h.group_off = (uint32_t)off;
    off += (uint64_t)h.group_cap * h.group_stride;
    h.server_off = (uint32_t)off;
    off += (uint64_t)h.server_cap * h.server_stride;
    h.cluster_off = (uint32_t)off;
    off += (uint64_t)h.cluster_cap * h.cluster_stride;
    h.longname_off = (uint32_t)off;
    off += (uint64_t)h.longname_cap * h.longname_stride;
    slot_size = (off + 63) / 64 * 64;
    h.slot_size = (uint32_t)slot_size;
    h.slot_off[0] = sizeof(h);                 /* 320: line-aligned */
    h.slot_off[1] = sizeof(h) + slot_size;
    h.ring_off = sizeof(h) + 2 * slot_size;
    total = h.ring_off + (uint64_t)rcap * h.ring_stride;
    if (total > cap_bytes) {
        return 0;
    }
    h.total_size = total;
    h.geo_check = mshm_fnv1a32(&h, offsetof(struct mshm_header, geo_check));
    fill_random(buf, total);
    memcpy(buf, &h, offsetof(struct mshm_header, latch));
    /* line 5 (1.1): no slot maps (a 16448-byte map does not fit this buffer) */
    memcpy(buf + MSHM_HEADER_SIZE_1_0, (unsigned char *)&h + MSHM_HEADER_SIZE_1_0,
           sizeof(h) - MSHM_HEADER_SIZE_1_0);
    ((struct mshm_header *)(void *)buf)->state = below(8) == 0 ? MSHM_STATE_RETIRED
                                                               : MSHM_STATE_LIVE;
    /* mostly plausible counts, so the record loops run */
    for (c = 0; c < 2; c++) {
        sh = (void *)(buf + h.slot_off[c]);
        if (below(4) != 0) {
            sh->n_groups = below(h.group_cap + 1);
            sh->n_servers = below(h.server_cap + 1);
            sh->n_clusters = below(h.cluster_cap + 1);
            sh->n_longnames = below(h.longname_cap + 1);
            sh->n_slotmaps = 0;
        }
    }
    ((struct mshm_header *)(void *)buf)->ev_head = below(40);
    return total;
}

static void
test_random_buffers(void **state)
{
    struct mshm_fuzz_stats st;
    unsigned char *buf;
    uint32_t i, structured = 0;
    size_t len;
    void *p = NULL;

    (void)state;
    g_rng = g_seed;
    memset(&st, 0, sizeof(st));
    assert_int_equal(posix_memalign(&p, 64, 16384), 0);
    buf = p;
    for (i = 0; i < N_RANDOM; i++) {
        switch (i % 3) {
        case 0:                 /* noise */
            len = below(4096);
            fill_random(buf, len);
            break;
        case 1:                 /* noise behind a correct magic/version/checksum */
            len = 320 + below(4096);
            fill_random(buf, len);
            ((struct mshm_header *)p)->magic = MSHM_MAGIC;
            ((struct mshm_header *)p)->version_major = MSHM_VERSION_MAJOR;
            if (below(2)) {
                ((struct mshm_header *)p)->total_size = len;
            }
            tu_fix_geo(p);
            break;
        default:                /* a valid layout over random contents */
            len = random_valid_layout(buf, 16384);
            assert_true(len > 0);
            if (below(2)) {
                mshm_fuzz_fixup(buf, len, 1);
            }
            structured++;
            break;
        }
        run_one(buf, len, &st, "random buffer", i);
    }
    free(buf);
    assert_int_equal(st.runs, N_RANDOM);
    /* every structurally valid layout attached, and got past the counts */
    assert_true(st.attach_ok + st.attach_retired >= structured);
    assert_true(st.state_read > structured / 2);
}

/* ---- mutations of the valid image ----------------------------------------- */

static uint64_t
boundary_value(void)
{
    const uint32_t caps[] = {g_geo.group_cap, g_geo.server_cap, g_geo.cluster_cap,
                             g_geo.longname_cap, g_geo.ring_cap, MSHM_GROUP_SERVERS,
                             MSHM_CLUSTER_MEMBERS};
    uint32_t cap = caps[below(sizeof(caps) / sizeof(caps[0]))];

    switch (below(16)) {
    case 0: return 0;
    case 1: return 1 + below(2);     /* also MSHM_STATE_RETIRED */
    case 2: return 0x7fffffffu;
    case 3: return 0xffffffffu;
    case 4: return 1ull << 32;
    case 5: return (uint64_t)cap - 1;
    case 6: return cap;
    case 7: return (uint64_t)cap + 1;
    case 8: return UINT64_MAX;
    case 9: return 0x80000000u;
    case 10: return g_len;
    case 11: return g_len - 64;
    case 12: return 64;
    case 13: return 4096;
    case 14: return rnd();
    default: return below(70000);
    }
}

/* Overwrite a 4- or 8-byte field at an aligned offset in [lo, hi). */
static void
overwrite(unsigned char *buf, size_t lo, size_t hi)
{
    uint64_t v = boundary_value();
    size_t off;

    if (hi <= lo + 8) {
        return;
    }
    if (below(2)) {
        uint32_t v32 = (uint32_t)v;

        off = lo + below((uint32_t)(hi - lo - 4)) / 4 * 4;
        memcpy(buf + off, &v32, 4);
    } else {
        off = lo + below((uint32_t)(hi - lo - 8)) / 8 * 8;
        memcpy(buf + off, &v, 8);
    }
}

/* Where the records of the copy the latch points at live. */
static void
record_range(int kind, uint32_t idx, size_t *lo, size_t *hi)
{
    const struct mshm_header *h = (const void *)g_img;
    uint64_t slot = g_geo.slot_off[h->latch & 1];

    switch (kind) {
    case 0:
        *lo = slot + g_geo.group_off + (size_t)idx * g_geo.group_stride;
        *hi = *lo + sizeof(struct mshm_group);
        break;
    case 1:
        *lo = slot + g_geo.server_off + (size_t)idx * g_geo.server_stride;
        *hi = *lo + sizeof(struct mshm_server);
        break;
    case 2:
        *lo = slot + g_geo.cluster_off + (size_t)idx * g_geo.cluster_stride;
        *hi = *lo + sizeof(struct mshm_cluster);
        break;
    default:
        *lo = slot + g_geo.longname_off + (size_t)idx * g_geo.longname_stride;
        *hi = *lo + sizeof(struct mshm_longname);
        break;
    }
}

static size_t
mutate(unsigned char *buf, size_t len)
{
    size_t lo, hi, i;
    int n = 1 + (int)below(3), k;

    for (k = 0; k < n; k++) {
        switch (below(8)) {
        case 0:                 /* bit flips anywhere */
            for (i = below(8) + 1; i > 0; i--) {
                size_t off = below((uint32_t)len);

                buf[off] ^= (unsigned char)(1u << below(8));
            }
            break;
        case 1:                 /* header fields (geometry and hot lines) */
            if (below(4) == 0) {
                ((struct mshm_header *)(void *)buf)->state = below(4);  /* incl. RETIRED */
            } else {
                overwrite(buf, 0, sizeof(struct mshm_header));
            }
            break;
        case 2:                 /* a slot header, either copy */
            lo = g_geo.slot_off[below(2)];
            overwrite(buf, lo, lo + sizeof(struct mshm_slot_hdr));
            break;
        case 3:                 /* groups and servers: the indices */
        case 4:
            record_range((int)below(2), below(8), &lo, &hi);
            overwrite(buf, lo, hi);
            break;
        case 5:                 /* clusters and long names */
            record_range(2 + (int)below(2), below(4), &lo, &hi);
            if (below(4) == 0 && hi - lo >= MSHM_NAME_MAX) {
                memset(buf + lo, 'x', MSHM_NAME_MAX);   /* unterminated name */
            } else {
                overwrite(buf, lo, hi);
            }
            break;
        case 6:                 /* the event ring: seq words and payloads */
            lo = g_geo.ring_off + (size_t)below(g_geo.ring_cap) * g_geo.ring_stride;
            overwrite(buf, lo, lo + sizeof(struct mshm_event));
            break;
        default:                /* truncation, sometimes made self-consistent */
            len = below((uint32_t)len);
            if (below(2) && len >= sizeof(struct mshm_header)) {
                ((struct mshm_header *)(void *)buf)->total_size = len;
            }
            break;
        }
    }
    /* reach past the checksums: none / geo_check / geo_check + state_sum */
    k = (int)below(4);
    if (k > 0) {
        mshm_fuzz_fixup(buf, len, k > 1);
    }
    return len;
}

static void
test_mutations(void **state)
{
    struct mshm_fuzz_stats st;
    unsigned char *buf;
    void *p = NULL;
    uint32_t i;
    size_t len;

    (void)state;
    g_rng = g_seed ^ 0x5555555555555555ull;
    memset(&st, 0, sizeof(st));
    assert_int_equal(posix_memalign(&p, 64, g_len), 0);
    buf = p;
    for (i = 0; i < N_MUTATIONS; i++) {
        memcpy(buf, g_img, g_len);
        len = mutate(buf, g_len);
        run_one(buf, len, &st, "mutation", i);
    }
    free(buf);
    print_message("mutations: %llu runs, %llu attached, %llu retired, %llu states read, "
                  "%llu checked ok, %llu corrupt, %llu snapshots, %llu events, %llu lost\n",
                  (unsigned long long)st.runs, (unsigned long long)st.attach_ok,
                  (unsigned long long)st.attach_retired, (unsigned long long)st.state_read,
                  (unsigned long long)st.check_ok, (unsigned long long)st.check_corrupt,
                  (unsigned long long)st.snap_ok, (unsigned long long)st.events,
                  (unsigned long long)st.lost);
    /* the mutations reached every layer, not just the magic check */
    assert_int_equal(st.runs, N_MUTATIONS);
    assert_true(st.attach_ok > N_MUTATIONS / 10);
    assert_true(st.attach_retired > 0);
    assert_true(st.state_read > N_MUTATIONS / 10);
    assert_true(st.check_ok > N_MUTATIONS / 20);
    assert_true(st.check_corrupt > N_MUTATIONS / 20);
    assert_true(st.events > 0);
    assert_true(st.lost > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_image),
        cmocka_unit_test(test_random_buffers),
        cmocka_unit_test(test_mutations),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
