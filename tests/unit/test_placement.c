/*
 * test_placement.c -- unit tests of the placement primitives (marshal_place:
 * shm/place/mc_hash.c, shm/place/mc_ring.c).
 *
 * Golden vectors come from /work/shared/reference/placement.md (section 2.1:
 * real nutcracker 0.5.0 placements and hash outputs; 2.3: redis-server 7.0.15
 * CLUSTER KEYSLOT) and are copied verbatim; RFC 1321's MD5 suite; and an
 * 8-key x 12-kind table produced by a literal transcription of twemproxy's
 * src/hashkit C semantics on x86-64 (it reproduces every doc vector).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "marshal/marshal.h"
#include "mc_hash.h"
#include "mc_ring.h"

#define S(lit) (lit), (sizeof(lit) - 1)   /* string literal, its length */

/* ---- MD5 --------------------------------------------------------------------------------- */

static void
hex16(const unsigned char d[16], char out[33])
{
    int i;

    for (i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

/* RFC 1321 appendix A.5 test suite. */
static void
test_md5_rfc1321(void **state)
{
    static const struct { const char *in, *md; } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890"
         "1234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    unsigned char d[16];
    char hex[33];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        mc_md5(v[i].in, strlen(v[i].in), d);
        hex16(d, hex);
        assert_string_equal(hex, v[i].md);
    }
}

/* Padding edges: 55, 56, 63, 64, 65 bytes cross the one/two final block line. */
static void
test_md5_lengths(void **state)
{
    static const struct { size_t n; const char *md; } v[] = {
        {55, "ef1772b6dff9a122358552954ad0df65"},
        {56, "3b0c8ac703f828b04c6c197006d17218"},
        {63, "b06521f39153d618550606be297466d5"},
        {64, "014842d480b571495a4a0363793f7367"},
        {65, "c743a45e0d2e6a95cb859adae0248435"},
    };
    char buf[65];
    unsigned char d[16];
    char hex[33];
    size_t i;

    (void)state;
    memset(buf, 'a', sizeof(buf));
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        mc_md5(buf, v[i].n, d);
        hex16(d, hex);
        assert_string_equal(hex, v[i].md);
    }
}

/* placement.md 2.1 item 5: MD5("127.0.0.1:7001-0") as four LE words. */
static void
test_md5_ketama_words(void **state)
{
    static const uint32_t want[4] = {0xd057ef07u, 0x6bec316cu, 0x993cb913u, 0x2d21d8b4u};
    unsigned char d[16];
    int a;

    (void)state;
    mc_md5(S("127.0.0.1:7001-0"), d);
    for (a = 0; a < 4; a++) {
        uint32_t w = (uint32_t)d[4 * a] | ((uint32_t)d[4 * a + 1] << 8) |
                     ((uint32_t)d[4 * a + 2] << 16) | ((uint32_t)d[4 * a + 3] << 24);
        assert_int_equal(w, want[a]);
    }
}

/* ---- hash functions ---------------------------------------------------------------------- */

/* placement.md 2.1 "Hash function details", verbatim. */
static void
test_hash_doc_vectors(void **state)
{
    (void)state;
    assert_int_equal(mc_hash(MC_HASH_FNV1A_64, S("foo")), 0xfed9d577u);
    /* sign-extended bytes >= 0x80 (x86 twemproxy); unsigned model would be 0xcfa40d89 */
    assert_int_equal(mc_hash(MC_HASH_FNV1A_64, S("caf\xc3\xa9")), 0xcef6bb89u);
    assert_int_not_equal(mc_hash(MC_HASH_FNV1A_64, S("caf\xc3\xa9")), 0xcfa40d89u);
    assert_int_equal(mc_hash(MC_HASH_MD5, S("foo")), 0xdb18bdacu);
    assert_int_equal(mc_hash(MC_HASH_CRC32A, S("foo")), 0x8c736521u);
    assert_int_equal(mc_hash(MC_HASH_MURMUR, S("foo")), 0xc4e0338fu);
    assert_int_equal(mc_hash(MC_HASH_CRC16, S("123456789")), 0x869031c3u);
    assert_int_equal(mc_hash(MC_HASH_CRC16, S("123456789")) & 0xffffu, 0x31c3u);
}

/* The unsigned-byte model of fnv1a_64 gives the doc's 0xcfa40d89: the trap is real. */
static void
test_hash_fnv1a_unsigned_model(void **state)
{
    static const unsigned char k[] = "caf\xc3\xa9";
    uint32_t h = 0x84222325u;
    size_t i;

    (void)state;
    for (i = 0; i < 5; i++) {
        h ^= k[i];
        h *= 0x1b3u;
    }
    assert_int_equal(h, 0xcfa40d89u);
}

/*
 * Every kind, 8 keys (empty, 1 byte, ASCII, non-ASCII, an embedded NUL, 43
 * bytes): from the twemproxy-semantics oracle.  Columns in enum order:
 * fnv1a_64 md5 crc32a murmur fnv1_64 fnv1a_32 / fnv1_32 crc32 crc16 jenkins
 * hsieh one_at_a_time.  Public cross-checks inside: fnv1a_32/fnv1_32 "foo",
 * crc32a "123456789" = 0xcbf43926, one_at_a_time "a" = 0xca2e9442 and the
 * fox sentence = 0x519e91f5, md5 "" = d41d8cd9...
 */
struct oracle_vec {
    const char *key;
    size_t len;
    uint32_t h[MC_HASH_NKINDS];
};

static const struct oracle_vec oracle[] = {
    {"", 0,
     {0x84222325u, 0xd98c1dd4u, 0x00000000u, 0x00000000u, 0x84222325u, 0x811c9dc5u,
      0x811c9dc5u, 0x00000000u, 0x00000000u, 0xdeadbefcu, 0x00000000u, 0x00000000u}},
    {"a", 1,
     {0x8601ec8cu, 0xb975c10cu, 0xe8b7be43u, 0x4b41757cu, 0x8601b7beu, 0xe40c292cu,
      0x050c5d7eu, 0x000068b7u, 0x00007c87u, 0xe0a38690u, 0x93642e87u, 0xca2e9442u}},
    {"foo", 3,
     {0xfed9d577u, 0xdb18bdacu, 0x8c736521u, 0xc4e0338fu, 0x6ba13533u, 0xa9f37ed7u,
      0x408f5e13u, 0x00000c73u, 0x0c3caf96u, 0x99f84f99u, 0x76d4d427u, 0x238678ddu}},
    {"123456789", 9,
     {0x23c6cdfcu, 0x94e7f925u, 0xcbf43926u, 0xb7760690u, 0x2bf916d6u, 0xbb86b11cu,
      0x24148816u, 0x00004bf4u, 0x869031c3u, 0x19777af6u, 0xe4fc1670u, 0xc66b58c5u}},
    {"caf\303\251", 5,
     {0xcef6bb89u, 0xe47f1107u, 0x98ad42b5u, 0xda11981fu, 0x8a06fef1u, 0x7572c049u,
      0xd682f171u, 0x000018adu, 0xf6269667u, 0xcb6225adu, 0xde3f8855u, 0xd99c709eu}},
    {"user:{42}:profile", 17,
     {0x6071f861u, 0x0933edecu, 0x40728207u, 0x8795950au, 0x08f70261u, 0x27be9521u,
      0xe49f5c21u, 0x00004072u, 0x62ffecf3u, 0x0191bbb2u, 0x91b66ae7u, 0x0539e088u}},
    {"\377\200\177\000abc", 7,
     {0x4ce84533u, 0x9d39fc4au, 0xa00d6e58u, 0xeb2ba168u, 0x2fe6e623u, 0xd0d408b3u,
      0x75beb8e3u, 0x0000200du, 0x0f9494f8u, 0x3ff301dbu, 0x7799e709u, 0xb731f48eu}},
    {"The quick brown fox jumps over the lazy dog", 43,
     {0xe7e47110u, 0x9d7d109eu, 0x414fa339u, 0x30c79125u, 0x7de37aceu, 0x048fff90u,
      0xe9c86c6eu, 0x0000414fu, 0x22a3f0c8u, 0x12b8163cu, 0x1c19ee97u, 0x519e91f5u}},
};

static void
test_hash_all_kinds(void **state)
{
    size_t i;
    int kind;

    (void)state;
    for (i = 0; i < sizeof(oracle) / sizeof(oracle[0]); i++) {
        for (kind = 0; kind < MC_HASH_NKINDS; kind++) {
            uint32_t got = mc_hash(kind, oracle[i].key, oracle[i].len);

            if (got != oracle[i].h[kind]) {
                print_error("key #%zu kind %s: got 0x%08x want 0x%08x\n", i,
                            mc_hash_name(kind), got, oracle[i].h[kind]);
            }
            assert_int_equal(got, oracle[i].h[kind]);
        }
    }
    /* libmemcached crc32 is the top 15 bits of crc32a */
    assert_int_equal(mc_hash(MC_HASH_CRC32, S("foo")),
                     (mc_hash(MC_HASH_CRC32A, S("foo")) >> 16) & 0x7fffu);
    assert_int_equal(mc_hash(99, S("foo")), 0);
    assert_null(mc_hash_name(99));
    assert_string_equal(mc_hash_name(MC_HASH_FNV1A_64), "fnv1a_64");
    assert_string_equal(mc_hash_name(MC_HASH_ONE_AT_A_TIME), "one_at_a_time");
}

/* Unaligned keys of every length: same hash at every offset (no aligned-load path). */
static void
test_hash_unaligned(void **state)
{
    char buf[64 + 8];
    size_t len, off;
    int kind;

    (void)state;
    for (kind = 0; kind < MC_HASH_NKINDS; kind++) {
        for (len = 0; len <= 40; len++) {
            uint32_t ref;

            memset(buf, 0, sizeof(buf));
            for (off = 0; off < len; off++) {
                buf[off] = (char)(0x41 + off * 37);
            }
            ref = mc_hash(kind, buf, len);
            for (off = 1; off < 8; off++) {
                memmove(buf + off, buf + off - 1, len);
                assert_int_equal(mc_hash(kind, buf + off, len), ref);
            }
        }
    }
}

/* ---- CRC16 and Redis Cluster slots ------------------------------------------------------- */

static void
test_crc16_xmodem(void **state)
{
    (void)state;
    assert_int_equal(mc_crc16_xmodem(S("123456789")), 0x31c3);
    assert_int_equal(mc_crc16_xmodem("", 0), 0);
}

/* placement.md 2.3, verified against redis-server 7.0.15 CLUSTER KEYSLOT. */
static void
test_slot_vectors(void **state)
{
    (void)state;
    assert_int_equal(mc_slot(S("foo")), 12182);
    assert_int_equal(mc_slot(S("123456789")), 12739);
    assert_int_equal(mc_slot(S("{user1000}.following")), 3443);
    assert_int_equal(mc_slot(S("{user1000}.followers")), 3443);
    assert_int_equal(mc_slot(S("foo{}{bar}")), 8363);
    assert_int_equal(mc_slot(S("foo{}{bar}")), mc_crc16_xmodem(S("foo{}{bar}")) & 16383);
    assert_int_equal(mc_slot(S("foo{{bar}}zap")), 4015);
    assert_int_equal(mc_slot(S("foo{{bar}}zap")), mc_crc16_xmodem(S("{bar")) & 16383);
    assert_int_equal(mc_slot(S("foo{bar}{zap}")), 5061);
    assert_int_equal(mc_slot(S("foo{bar}{zap}")), mc_crc16_xmodem(S("bar")) & 16383);
    assert_int_equal(mc_slot(S("{}")), 15257);
    assert_int_equal(mc_slot(S("user:{42}:profile")), 8000);
    assert_int_equal(mc_slot(NULL, 0), 0);
}

static void
test_hash_tag(void **state)
{
    size_t off, tlen;

    (void)state;
    /* twemproxy "{}" = Redis Cluster */
    assert_int_equal(mc_hash_tag(S("user:{42}:profile"), '{', '}', &off, &tlen), 1);
    assert_int_equal(off, 6);
    assert_int_equal(tlen, 2);
    assert_int_equal(mc_hash_tag(S("foo{}{bar}"), '{', '}', &off, &tlen), 0);
    assert_int_equal(off, 0);
    assert_int_equal(tlen, 10);
    assert_int_equal(mc_hash_tag(S("foo{{bar}}zap"), '{', '}', &off, &tlen), 1);
    assert_int_equal(off, 4);
    assert_int_equal(tlen, 4);                 /* "{bar" */
    assert_int_equal(mc_hash_tag(S("foo{bar"), '{', '}', &off, &tlen), 0);
    assert_int_equal(tlen, 7);
    assert_int_equal(mc_hash_tag(S("}foo{"), '{', '}', &off, &tlen), 0);
    assert_int_equal(mc_hash_tag("", 0, '{', '}', &off, &tlen), 0);
    /* same delimiter twice: close searched after open */
    assert_int_equal(mc_hash_tag(S("a$b$c$"), '$', '$', &off, &tlen), 1);
    assert_int_equal(off, 2);
    assert_int_equal(tlen, 1);
    assert_int_equal(mc_hash_tag(S("a$$b$"), '$', '$', &off, &tlen), 0);
    /* Codis rule: an empty tag hashes the empty string */
    assert_int_equal(mc_hash_tag_ex(S("foo{}{bar}"), '{', '}', MC_TAG_EMPTY_TAG, &off, &tlen), 1);
    assert_int_equal(off, 4);
    assert_int_equal(tlen, 0);
    assert_int_equal(mc_hash_tag_ex(S("x{ab}"), '{', '}', MC_TAG_EMPTY_TAG, &off, &tlen), 1);
    assert_int_equal(tlen, 2);
}

/* ---- node strings and order -------------------------------------------------------------- */

static void
test_node_string(void **state)
{
    char buf[300];

    (void)state;
    assert_int_equal(mc_ring_node_string("127.0.0.1", 7001, NULL, buf, sizeof(buf)), 14);
    assert_string_equal(buf, "127.0.0.1:7001");
    assert_int_equal(mc_ring_node_string("127.0.0.1", 7011, "shard-a", buf, sizeof(buf)), 7);
    assert_string_equal(buf, "shard-a");
    assert_int_equal(mc_ring_node_string("127.0.0.1", 7011, "", buf, sizeof(buf)), 14);
    assert_string_equal(buf, "127.0.0.1:7011");
    /* libmemcached compatibility: port 11211 leaves the port out */
    assert_int_equal(mc_ring_node_string("cache1", 11211, NULL, buf, sizeof(buf)), 6);
    assert_string_equal(buf, "cache1");
    assert_int_equal(mc_ring_node_string("cache1", 11211, "n1", buf, sizeof(buf)), 2);
    assert_string_equal(buf, "n1");
    assert_int_equal(mc_ring_node_string("/tmp/r.sock", 0, NULL, buf, sizeof(buf)), 12);
    assert_string_equal(buf, "/tmp/r.sock:");
    /* errors */
    assert_int_equal(mc_ring_node_string("h", 7001, NULL, buf, 4), MARSHAL_ERR_RANGE);
    assert_string_equal(buf, "");
    assert_int_equal(mc_ring_node_string(NULL, 7001, NULL, buf, sizeof(buf)), MARSHAL_ERR_RANGE);
    assert_int_equal(mc_ring_node_string("h", 70000, NULL, buf, sizeof(buf)), MARSHAL_ERR_RANGE);
    {
        char host[300];

        memset(host, 'h', 280);
        host[280] = '\0';
        assert_int_equal(mc_ring_node_string(host, 7001, NULL, buf, sizeof(buf)),
                         MARSHAL_ERR_RANGE);
        host[255] = '\0';       /* a 255-byte DNS name + ":65535" = 261: accepted */
        assert_int_equal(mc_ring_node_string(host, 65535, NULL, buf, sizeof(buf)), 261);
    }
}

/* placement.md 2.1 item 2: server10, server2, server1 -> server1, server2, server10. */
static void
test_sort_order(void **state)
{
    static const struct mc_ring_node nodes[3] = {
        {"server10", 1, 7031}, {"server2", 1, 7032}, {"server1", 2, 7033},
    };
    struct mc_ring r;

    (void)state;
    assert_int_equal(mc_ring_build(&r, MC_RING_MODULA, nodes, 3), 0);
    assert_int_equal(r.node_id[0], 7033);
    assert_int_equal(r.node_id[1], 7032);
    assert_int_equal(r.node_id[2], 7031);
    assert_int_equal(r.node_input[0], 2);
    assert_int_equal(r.node_input[2], 0);
    mc_ring_free(&r);

    /* same length: strncmp order; input order does not matter */
    {
        static const struct mc_ring_node n2[3] = {
            {"b", 1, 2}, {"ab", 1, 3}, {"a", 1, 1},
        };
        assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, n2, 3), 0);
        assert_int_equal(r.node_id[0], 1);
        assert_int_equal(r.node_id[1], 2);
        assert_int_equal(r.node_id[2], 3);
        mc_ring_free(&r);
    }
}

/* ---- ketama points ----------------------------------------------------------------------- */

static void
points_of(const uint32_t *w, size_t n, uint32_t *out, uint32_t *total)
{
    struct mc_ring_node nodes[MC_RING_MAX_NODES];
    char names[MC_RING_MAX_NODES][32];
    struct mc_ring r;
    size_t i;

    for (i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "n%02zu", i);   /* sorted = input order */
        nodes[i].name = names[i];
        nodes[i].weight = w[i];
        nodes[i].id = (uint32_t)i;
    }
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, n), 0);
    for (i = 0; i < n; i++) {
        out[i] = r.node_points[i];
    }
    *total = r.npoints;
    mc_ring_free(&r);
}

/* placement.md 2.1 item 4 and the pool tables' point counts. */
static void
test_ketama_points(void **state)
{
    uint32_t p[8], total;

    (void)state;
    {   /* equal weights: 160 each */
        static const uint32_t w[4] = {1, 1, 1, 1};
        points_of(w, 4, p, &total);
        assert_int_equal(p[0], 160);
        assert_int_equal(p[3], 160);
        assert_int_equal(total, 640);
    }
    {   /* 1,1,2,1 -> 128/128/256/128 */
        static const uint32_t w[4] = {1, 1, 2, 1};
        points_of(w, 4, p, &total);
        assert_int_equal(p[0], 128);
        assert_int_equal(p[1], 128);
        assert_int_equal(p[2], 256);
        assert_int_equal(p[3], 128);
    }
    {   /* 3,1,1 -> 288/96/96 */
        static const uint32_t w[3] = {3, 1, 1};
        points_of(w, 3, p, &total);
        assert_int_equal(p[0], 288);
        assert_int_equal(p[1], 96);
        assert_int_equal(p[2], 96);
    }
    {   /* 1..5 -> 52,104,160,212,264 = 792 */
        static const uint32_t w[5] = {1, 2, 3, 4, 5};
        points_of(w, 5, p, &total);
        assert_int_equal(p[0], 52);
        assert_int_equal(p[1], 104);
        assert_int_equal(p[2], 160);
        assert_int_equal(p[3], 212);
        assert_int_equal(p[4], 264);
        assert_int_equal(total, 792);
    }
    {   /* float32 trap: 5,3,1,1,1,1 -> 400 for the weight-5 server (double: 396) */
        static const uint32_t w[6] = {5, 3, 1, 1, 1, 1};
        points_of(w, 6, p, &total);
        assert_int_equal(p[0], 400);
    }
    {   /* README's omega pool: 100000 and 1 -> the weight-1 server gets 0 points */
        static const uint32_t w[2] = {100000, 1};
        points_of(w, 2, p, &total);
        assert_int_equal(p[1], 0);
    }
}

/* ---- golden placements (placement.md 2.1 table) ------------------------------------------ */

static const char *const golden_keys[5] = {"foo", "bar", "user:{42}:profile", "key:1", "key:2"};

static void
check_pool(const struct mc_ring *r, int hash, const char *tag, const uint32_t want[5])
{
    int i;

    for (i = 0; i < 5; i++) {
        uint32_t got = mc_ring_lookup(r, hash, tag, golden_keys[i], strlen(golden_keys[i]));

        if (got != want[i]) {
            print_error("key %s: got %u want %u\n", golden_keys[i], got, want[i]);
        }
        assert_int_equal(got, want[i]);
    }
}

/* fnv1a_64, ketama, 127.0.0.1:7001:1 :7002:1 :7003:2 :7004:1, no names. */
static void
test_golden_ketama_fnv_unnamed(void **state)
{
    static const uint32_t ports[4] = {7001, 7002, 7003, 7004}, weights[4] = {1, 1, 2, 1};
    static const uint32_t want[5] = {7003, 7001, 7001, 7002, 7002};
    struct mc_ring_node nodes[4];
    char names[4][64];
    struct mc_ring r;
    int i;

    (void)state;
    for (i = 0; i < 4; i++) {
        assert_true(mc_ring_node_string("127.0.0.1", (int)ports[i], NULL, names[i],
                                        sizeof(names[i])) > 0);
        nodes[i].name = names[i];
        nodes[i].weight = weights[i];
        nodes[i].id = ports[i];
    }
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 4), 0);
    assert_int_equal(r.npoints, 640);
    check_pool(&r, MC_HASH_FNV1A_64, NULL, want);
    mc_ring_free(&r);
}

/* fnv1a_64, ketama, hash_tag "{}", :7011:1 shard-a, :7012:1 shard-b, :7013:1 shard-c. */
static void
test_golden_ketama_fnv_named_tag(void **state)
{
    static const struct mc_ring_node nodes[3] = {
        {"shard-a", 1, 7011}, {"shard-b", 1, 7012}, {"shard-c", 1, 7013},
    };
    static const uint32_t want[5] = {7011, 7013, 7012, 7012, 7012};
    struct mc_ring r;

    (void)state;
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 3), 0);
    check_pool(&r, MC_HASH_FNV1A_64, "{}", want);
    mc_ring_free(&r);
}

/* md5, ketama, :7021:3, :7022:1, :7023:1 (points 288/96/96). */
static void
test_golden_ketama_md5(void **state)
{
    static const struct mc_ring_node nodes[3] = {
        {"127.0.0.1:7021", 3, 7021}, {"127.0.0.1:7022", 1, 7022}, {"127.0.0.1:7023", 1, 7023},
    };
    static const uint32_t want[5] = {7021, 7021, 7022, 7021, 7022};
    struct mc_ring r;

    (void)state;
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 3), 0);
    assert_int_equal(r.node_points[0], 288);
    assert_int_equal(r.node_points[1], 96);
    assert_int_equal(r.node_points[2], 96);
    check_pool(&r, MC_HASH_MD5, NULL, want);
    mc_ring_free(&r);
}

/* crc32a, modula, :7031:1 server10, :7032:1 server2, :7033:2 server1. */
static void
test_golden_modula_crc32a(void **state)
{
    static const struct mc_ring_node nodes[3] = {
        {"server10", 1, 7031}, {"server2", 1, 7032}, {"server1", 2, 7033},
    };
    static const uint32_t want[5] = {7033, 7032, 7031, 7033, 7032};
    struct mc_ring r;

    (void)state;
    assert_int_equal(mc_ring_build(&r, MC_RING_MODULA, nodes, 3), 0);
    assert_int_equal(r.total_weight, 4);
    check_pool(&r, MC_HASH_CRC32A, NULL, want);
    /* twemproxy's array is [server1, server1, server2, server10]; hash % 4 */
    assert_int_equal(mc_ring_dispatch(&r, 0), 7033);
    assert_int_equal(mc_ring_dispatch(&r, 1), 7033);
    assert_int_equal(mc_ring_dispatch(&r, 2), 7032);
    assert_int_equal(mc_ring_dispatch(&r, 3), 7031);
    assert_int_equal(mc_ring_dispatch(&r, 7), 7031);
    assert_int_equal(mc_ring_dispatch(&r, UINT32_MAX), 7031);   /* 2^32-1 % 4 = 3 */
    mc_ring_free(&r);
}

/* ---- dispatch edges ---------------------------------------------------------------------- */

static void
test_ketama_dispatch_edges(void **state)
{
    static const struct mc_ring_node nodes[2] = {{"a", 1, 10}, {"b", 1, 20}};
    struct mc_ring r;
    uint32_t i;

    (void)state;
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 2), 0);
    assert_int_equal(r.npoints, 320);
    for (i = 1; i < r.npoints; i++) {
        assert_true(r.points[i - 1].value <= r.points[i].value);
    }
    /* hash equal to a point's value -> that point (lower bound, >=) */
    for (i = 0; i < r.npoints; i += 17) {
        assert_int_equal(mc_ring_dispatch(&r, r.points[i].value),
                         r.node_id[r.points[i].index]);
        if (r.points[i].value > 0 && (i == 0 || r.points[i - 1].value < r.points[i].value - 1)) {
            /* just below it also lands on it */
            assert_int_equal(mc_ring_dispatch(&r, r.points[i].value - 1),
                             r.node_id[r.points[i].index]);
        }
    }
    /* 0 -> first point; past the last point -> wrap to the first */
    assert_int_equal(mc_ring_dispatch(&r, 0), r.node_id[r.points[0].index]);
    if (r.points[r.npoints - 1].value < UINT32_MAX) {
        assert_int_equal(mc_ring_dispatch(&r, r.points[r.npoints - 1].value + 1),
                         r.node_id[r.points[0].index]);
        assert_int_equal(mc_ring_dispatch(&r, UINT32_MAX), r.node_id[r.points[0].index]);
    }
    /* empty key: hash 0 (server_pool_hash), not mc_hash("") */
    assert_int_equal(mc_ring_lookup(&r, MC_HASH_FNV1A_64, NULL, "", 0),
                     mc_ring_dispatch(&r, 0));
    /* "{}" tag on "{}x" is empty: whole key hashed */
    assert_int_equal(mc_ring_lookup(&r, MC_HASH_FNV1A_64, "{}", S("{}x")),
                     mc_ring_dispatch(&r, mc_hash(MC_HASH_FNV1A_64, S("{}x"))));
    /* "{}" tag "{x}" hashes "x" */
    assert_int_equal(mc_ring_lookup(&r, MC_HASH_FNV1A_64, "{}", S("a{x}b")),
                     mc_ring_dispatch(&r, mc_hash(MC_HASH_FNV1A_64, S("x"))));
    mc_ring_free(&r);
}

/* ---- weights and movement ---------------------------------------------------------------- */

static void
build_n(struct mc_ring *r, const uint32_t *weights, size_t n, char names[][32])
{
    struct mc_ring_node nodes[MC_RING_MAX_NODES];
    size_t i;

    for (i = 0; i < n; i++) {
        snprintf(names[i], 32, "127.0.0.1:%u", (unsigned)(7001 + i));
        nodes[i].name = names[i];
        nodes[i].weight = weights[i];
        nodes[i].id = (uint32_t)i;
    }
    assert_int_equal(mc_ring_build(r, MC_RING_KETAMA, nodes, n), 0);
}

/*
 * Fraction of the 2^32 hash space each sorted node owns on a ketama ring:
 * point i takes the hashes in (value[i-1], value[i]]; point 0 also takes
 * everything past the last point (the wrap).
 */
static void
arc_shares(const struct mc_ring *r, double *share)
{
    uint32_t i;

    for (i = 0; i < r->nnodes; i++) {
        share[i] = 0.0;
    }
    for (i = 0; i < r->npoints; i++) {
        uint32_t prev = r->points[(i + r->npoints - 1) % r->npoints].value;
        uint32_t span = r->points[i].value - prev;   /* mod 2^32: the wrap arc */

        share[r->points[i].index] += (double)span / 4294967296.0;
    }
}

/*
 * 4 nodes weights 1,1,1,2, 100,000 keys "key:<i>", fnv1a_64.
 *
 * Ketama: points are exactly proportional (128/128/128/256), but the share
 * of the hash space a node's points cover varies with the node strings:
 * the arc sum of k of N random points has a standard deviation of about
 * sqrt(k)/N (1.8 points of share for 128 of 640, 2.5 for 256).  So key
 * shares are checked against the ring's exact arc shares (+-1 point: the
 * key hash is uniform), against the weight shares with +-4 points (the
 * ring's own spread, about 2 sd; +-2 does not hold for twemproxy's ketama
 * with these node strings: the weight-2 node gets 43.4 %), and the weight-2
 * node must get 1.5x..2.5x a weight-1 node's mean.
 * Modula's shares depend on the key hash alone: with md5 they meet +-2
 * points.  With fnv1a_64 they do not (17.9..22.8 % per residue of hash % 5
 * for these keys; a literal transcription of twemproxy's C agrees): its
 * multiplier 0x1b3 = 435 is a multiple of 5 and 2^32 % 5 == 1, so hash % 5
 * depends only on the top 9 bits of the last product's carry.  That is
 * twemproxy's behaviour, reproduced, and only printed here.
 */
static void
test_weight_shares(void **state)
{
    static const uint32_t w[4] = {1, 1, 1, 2};
    char names[4][32];
    uint32_t count[4] = {0, 0, 0, 0}, mcount[4] = {0, 0, 0, 0}, fcount[4] = {0, 0, 0, 0};
    struct mc_ring_node nodes[4];
    struct mc_ring r, m;
    double arc[4], mean1 = 0.0;
    uint32_t i;

    (void)state;
    build_n(&r, w, 4, names);
    for (i = 0; i < 4; i++) {
        nodes[i].name = names[i];
        nodes[i].weight = w[i];
        nodes[i].id = i;
    }
    assert_int_equal(mc_ring_build(&m, MC_RING_MODULA, nodes, 4), 0);
    arc_shares(&r, arc);
    for (i = 0; i < 100000; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "key:%u", (unsigned)i);
        uint32_t id = mc_ring_lookup(&r, MC_HASH_FNV1A_64, NULL, key, (size_t)kl);
        uint32_t mid = mc_ring_lookup(&m, MC_HASH_MD5, NULL, key, (size_t)kl);
        uint32_t fid = mc_ring_lookup(&m, MC_HASH_FNV1A_64, NULL, key, (size_t)kl);

        assert_true(id < 4 && mid < 4 && fid < 4);
        count[id]++;
        mcount[mid]++;
        fcount[fid]++;
    }
    for (i = 0; i < 4; i++) {
        print_message("weight share: %s w=%u ideal %.1f%% | ketama fnv1a_64: points=%u "
                      "keys=%u share=%.2f%% (arc %.2f%%) | modula md5 %.2f%%, "
                      "modula fnv1a_64 %.2f%%\n",
                      names[i], w[i], 100.0 * w[i] / 5.0, r.node_points[i], count[i],
                      count[i] / 1000.0, 100.0 * arc[i], mcount[i] / 1000.0,
                      fcount[i] / 1000.0);
    }
    for (i = 0; i < 4; i++) {
        double share = count[i] / 1000.0, want = 100.0 * w[i] / 5.0;
        double mshare = mcount[i] / 1000.0;

        assert_int_equal(r.node_points[i], 128 * w[i]);
        assert_true(share >= 100.0 * arc[i] - 2.0 && share <= 100.0 * arc[i] + 2.0);
        assert_true(share >= want - 4.0 && share <= want + 4.0);
        assert_true(mshare >= want - 2.0 && mshare <= want + 2.0);
        if (w[i] == 1) {
            mean1 += count[i] / 3.0;
        }
    }
    assert_true(count[3] >= 1.5 * mean1 && count[3] <= 2.5 * mean1);
    mc_ring_free(&r);
    mc_ring_free(&m);
}

/* 4 -> 5 equal-weight nodes: ~20% of keys move, and only to the new node. */
static void
test_add_fifth_node(void **state)
{
    static const uint32_t w[5] = {1, 1, 1, 1, 1};
    char n4[5][32], n5[5][32];
    struct mc_ring a, b;
    double f;
    uint32_t i, to_new = 0, moved = 0;

    (void)state;
    build_n(&a, w, 4, n4);
    build_n(&b, w, 5, n5);
    f = mc_ring_moved_fraction(&a, &b, MC_HASH_FNV1A_64, 100000);
    for (i = 0; i < 100000; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "key:%u", (unsigned)i);
        uint32_t x = mc_ring_lookup(&a, MC_HASH_FNV1A_64, NULL, key, (size_t)kl);
        uint32_t y = mc_ring_lookup(&b, MC_HASH_FNV1A_64, NULL, key, (size_t)kl);

        if (x != y) {
            moved++;
            to_new += (y == 4);
        }
    }
    print_message("4 -> 5 groups (ketama, fnv1a_64, 100000 keys \"key:<i>\"): "
                  "%.3f%% moved (%u keys, %u to the new group; ideal 20%%)\n",
                  100.0 * f, moved, to_new);
    assert_int_equal(moved, (uint32_t)(f * 100000.0 + 0.5));
    assert_int_equal(to_new, moved);      /* consistent hashing: nothing else moves */
    assert_true(f >= 0.15 && f <= 0.25);
    assert_true(mc_ring_moved_fraction(&a, &a, MC_HASH_FNV1A_64, 1000) == 0.0);
    assert_true(mc_ring_moved_fraction(&a, &b, MC_HASH_FNV1A_64, 0) == 0.0);

    /* modula for contrast: most keys move */
    {
        struct mc_ring_node nodes[5];
        struct mc_ring ma, mb;
        double fm;

        for (i = 0; i < 5; i++) {
            nodes[i].name = n5[i];
            nodes[i].weight = 1;
            nodes[i].id = i;
        }
        assert_int_equal(mc_ring_build(&ma, MC_RING_MODULA, nodes, 4), 0);
        assert_int_equal(mc_ring_build(&mb, MC_RING_MODULA, nodes, 5), 0);
        fm = mc_ring_moved_fraction(&ma, &mb, MC_HASH_FNV1A_64, 100000);
        print_message("4 -> 5 groups (modula, fnv1a_64, 100000 keys): %.3f%% moved\n",
                      100.0 * fm);
        assert_true(fm > 0.6);
        mc_ring_free(&ma);
        mc_ring_free(&mb);
    }
    mc_ring_free(&a);
    mc_ring_free(&b);
}

/* ---- edge cases -------------------------------------------------------------------------- */

static void
test_ring_edges(void **state)
{
    struct mc_ring_node nodes[MC_RING_MAX_NODES + 1];
    char names[MC_RING_MAX_NODES + 1][16];
    struct mc_ring r;
    uint32_t i;

    (void)state;
    for (i = 0; i <= MC_RING_MAX_NODES; i++) {
        snprintf(names[i], sizeof(names[i]), "g%u", (unsigned)i);
        nodes[i].name = names[i];
        nodes[i].weight = 1;
        nodes[i].id = i;
    }

    /* one node: everything goes there, without hashing */
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 1), 0);
    assert_int_equal(r.npoints, 160);
    assert_int_equal(mc_ring_lookup(&r, MC_HASH_FNV1A_64, NULL, S("foo")), 0);
    assert_int_equal(mc_ring_lookup(&r, MC_HASH_FNV1A_64, NULL, "", 0), 0);
    assert_int_equal(mc_ring_dispatch(&r, 12345), 0);
    mc_ring_free(&r);
    mc_ring_free(&r);     /* idempotent */

    /* empty ring: sentinel */
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 0), 0);
    assert_int_equal(mc_ring_dispatch(&r, 0), MC_RING_NONE);
    assert_int_equal(mc_ring_lookup(&r, MC_HASH_FNV1A_64, NULL, S("foo")), MC_RING_NONE);
    mc_ring_free(&r);
    assert_int_equal(mc_ring_build(&r, MC_RING_MODULA, NULL, 0), 0);
    assert_int_equal(mc_ring_dispatch(&r, 7), MC_RING_NONE);
    mc_ring_free(&r);
    assert_int_equal(mc_ring_dispatch(NULL, 7), MC_RING_NONE);

    /* 32 nodes: accepted, 160 points each; 33: rejected */
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, MC_RING_MAX_NODES), 0);
    assert_int_equal(r.npoints, 160 * MC_RING_MAX_NODES);
    mc_ring_free(&r);
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, MC_RING_MAX_NODES + 1),
                     MARSHAL_ERR_RANGE);
    assert_int_equal(mc_ring_dispatch(&r, 0), MC_RING_NONE);
    assert_int_equal(mc_ring_build(&r, MC_RING_MODULA, nodes, MC_RING_MAX_NODES + 1),
                     MARSHAL_ERR_RANGE);

    /* zero weight: twemproxy's config rejects it ("has a zero weight"), so do we */
    nodes[1].weight = 0;
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 3), MARSHAL_ERR_RANGE);
    assert_int_equal(mc_ring_build(&r, MC_RING_MODULA, nodes, 3), MARSHAL_ERR_RANGE);
    nodes[1].weight = 1;

    /* duplicate node strings: rejected (twemproxy conf_validate_server) */
    nodes[1].name = names[0];
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 3), MARSHAL_ERR_RANGE);
    nodes[1].name = names[1];

    /* other bad input */
    nodes[2].id = MC_RING_NONE;
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 3), MARSHAL_ERR_RANGE);
    nodes[2].id = 2;
    nodes[2].name = "";
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 3), MARSHAL_ERR_RANGE);
    nodes[2].name = names[2];
    assert_int_equal(mc_ring_build(&r, 2 /* MSHM_DIST_SLOTS */, nodes, 3), MARSHAL_ERR_RANGE);
    nodes[0].weight = UINT32_MAX;
    assert_int_equal(mc_ring_build(&r, MC_RING_MODULA, nodes, 3), MARSHAL_ERR_RANGE);
    nodes[0].weight = 1;

    /* a starved node (omega pool) never receives a key */
    nodes[0].weight = 100000;
    assert_int_equal(mc_ring_build(&r, MC_RING_KETAMA, nodes, 2), 0);
    assert_int_equal(r.node_points[1], 0);
    for (i = 0; i < 2000; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "key:%u", (unsigned)i);

        assert_int_equal(mc_ring_lookup(&r, MC_HASH_FNV1A_64, NULL, key, (size_t)kl), 0);
    }
    mc_ring_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_rfc1321),
        cmocka_unit_test(test_md5_lengths),
        cmocka_unit_test(test_md5_ketama_words),
        cmocka_unit_test(test_hash_doc_vectors),
        cmocka_unit_test(test_hash_fnv1a_unsigned_model),
        cmocka_unit_test(test_hash_all_kinds),
        cmocka_unit_test(test_hash_unaligned),
        cmocka_unit_test(test_crc16_xmodem),
        cmocka_unit_test(test_slot_vectors),
        cmocka_unit_test(test_hash_tag),
        cmocka_unit_test(test_node_string),
        cmocka_unit_test(test_sort_order),
        cmocka_unit_test(test_ketama_points),
        cmocka_unit_test(test_golden_ketama_fnv_unnamed),
        cmocka_unit_test(test_golden_ketama_fnv_named_tag),
        cmocka_unit_test(test_golden_ketama_md5),
        cmocka_unit_test(test_golden_modula_crc32a),
        cmocka_unit_test(test_ketama_dispatch_edges),
        cmocka_unit_test(test_weight_shares),
        cmocka_unit_test(test_add_fifth_node),
        cmocka_unit_test(test_ring_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
