/*
 * mc_hash.h -- key hash functions of twemproxy (nutcracker 0.5.0,
 * src/hashkit/), Redis Cluster's CRC16 key slot, MD5 (RFC 1321) and hash-tag
 * extraction.  No networking, no allocation, no global state.
 *
 * Every mc_hash() kind returns exactly the uint32 that twemproxy returns on
 * x86-64/glibc, including its quirks (docs: /work/shared/reference/placement.md
 * section 2.1 "Hash function details"):
 *   - fnv1a_64 is 32-bit arithmetic with the truncated 64-bit FNV constants;
 *   - fnv1*, one_at_a_time and hsieh's 3-byte tail read key bytes as plain
 *     (signed on x86) char, so bytes >= 0x80 are sign-extended; we reproduce
 *     the x86 result on every platform (twemproxy on arm64 would differ);
 *   - crc32 is libmemcached's 15-bit ((~crc) >> 16) & 0x7fff, crc32a is the
 *     standard CRC-32;
 *   - crc16 is CRC-16/XMODEM run in a 32-bit accumulator that is never
 *     masked ("123456789" -> 0x869031c3, low 16 bits 0x31c3);
 *   - murmur is MurmurHash2 with seed 0xdeadbeef * len, little-endian loads;
 *   - jenkins is lookup3 hashlittle with initval 13 (all of twemproxy's
 *     aligned/unaligned paths agree on little-endian hosts).
 * twemproxy gets some of these through unaligned loads and shifts of signed
 * values; here everything is byte loads and unsigned arithmetic, so the
 * results are the same and ASan/UBSan stay quiet.
 */
#ifndef MC_HASH_H
#define MC_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Hash kinds; values equal enum mshm_hash in shm/mshm_layout.h. */
enum mc_hash_kind {
    MC_HASH_FNV1A_64      = 0,
    MC_HASH_MD5           = 1,
    MC_HASH_CRC32A        = 2,
    MC_HASH_MURMUR        = 3,
    MC_HASH_FNV1_64       = 4,
    MC_HASH_FNV1A_32      = 5,
    MC_HASH_FNV1_32       = 6,
    MC_HASH_CRC32         = 7,
    MC_HASH_CRC16         = 8,
    MC_HASH_JENKINS       = 9,
    MC_HASH_HSIEH         = 10,
    MC_HASH_ONE_AT_A_TIME = 11,
    MC_HASH_NKINDS        = 12
};

/* Redis Cluster slot count (slot = crc16 & (MC_SLOTS - 1)). */
#define MC_SLOTS 16384u

/*
 * Hash-tag rule for an empty tag ("{}"), mc_hash_tag_ex() flags.
 *
 * MC_TAG_EMPTY_WHOLE (default, 0): an empty tag is no tag; the whole key is
 *   hashed.  This is both twemproxy's rule (server_pool_idx: the tag is used
 *   only when tag_end - tag_start > 1) and Redis Cluster's (keyHashSlot:
 *   e == s+1 hashes the whole key) -- the two agree byte for byte, also on
 *   "foo{{bar}}zap" (tag "{bar") and "foo{}{bar}" (whole key).
 * MC_TAG_EMPTY_TAG: an empty tag is a tag; the empty string between the
 *   delimiters is hashed (Codis' rule).  Provided for completeness only.
 */
#define MC_TAG_EMPTY_WHOLE 0
#define MC_TAG_EMPTY_TAG   1

/*
 * Hash len bytes at key with twemproxy's hash function `kind` (enum
 * mc_hash_kind).  key may be NULL when len is 0.  Returns the 32-bit value
 * twemproxy computes; an unknown kind returns 0.  Note that twemproxy's
 * routing never hashes an empty key (server_pool_hash uses hash 0); this
 * function hashes whatever it is given -- see mc_ring_lookup().
 */
uint32_t mc_hash(int kind, const void *key, size_t len);

/* Name of a hash kind as twemproxy's config spells it ("fnv1a_64"), or NULL. */
const char *mc_hash_name(int kind);

/* MD5 (RFC 1321) of n bytes at p into out[16].  p may be NULL when n is 0. */
void mc_md5(const void *p, size_t n, unsigned char out[16]);

/* CRC-16/XMODEM (poly 0x1021, init 0, no reflection, no final xor). */
uint16_t mc_crc16_xmodem(const void *p, size_t n);

/*
 * Find the hash tag of key: the first `open`, then the first `close` after
 * it.  With flags MC_TAG_EMPTY_WHOLE an empty inside counts as no tag (see
 * above).  On a tag, sets *off and *tlen to the inside and returns 1; otherwise
 * sets *off = 0, *tlen = len (the whole key) and returns 0.  open may equal
 * close (e.g. "$$").
 */
int mc_hash_tag_ex(const char *key, size_t len, char open, char close, int flags,
                   size_t *off, size_t *tlen);

/* mc_hash_tag_ex() with MC_TAG_EMPTY_WHOLE (twemproxy = Redis Cluster). */
int mc_hash_tag(const char *key, size_t len, char open, char close,
                size_t *off, size_t *tlen);

/* Redis Cluster key slot: crc16 of the {..} tag part, else the whole key, & 16383. */
uint16_t mc_slot(const void *key, size_t len);

/* The same with the tag delimiters tag[0], tag[1] (a cluster's hash_tag), or
 * with no tag at all (tag NULL: the whole key is hashed). */
uint16_t mc_slot_tag(const void *key, size_t len, const char *tag);

#endif /* MC_HASH_H */
