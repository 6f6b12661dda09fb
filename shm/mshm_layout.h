/*
 * mshm_layout.h -- the single definition of Marshal's shared-memory segment.
 *
 * Types only (HAProxy "-t.h" role): no functions, no globals.  Included by
 * the controller (the only writer), libmarshal-shm and marshal-shmdump.  Valid
 * C11 and C++; only fixed-width types; every size and offset is pinned with a
 * static assertion below so that any accidental change fails the build.
 * Every field is read and written through shm/mshm_atomic.h helpers, never
 * with plain loads/stores (see docs/shm-format.md, "Access rules").
 *
 * This header is NOT installed.  The public API (include/marshal/marshal.h)
 * never exposes it, so the layout can change behind a version bump.
 *
 * ------------------------------------------------------------------------
 * Versioning rules
 * ------------------------------------------------------------------------
 *  - MSHM_VERSION_MAJOR: bump on ANY change an old reader would misread:
 *    moving, resizing, re-typing or re-purposing a field; changing an enum
 *    value's meaning; changing the latch/ring protocol.  Readers refuse a
 *    segment whose major differs from theirs (MSHM_ERR_VERSION); the writer
 *    replaces (never adopts) a segment of another major.
 *  - MSHM_VERSION_MINOR: bump when fields are appended in space that older
 *    readers ignore: at the end of the header (header_size grows), or in a
 *    record's reserved tail (strides stay) / by growing a stride (older
 *    readers honour the stride and read only the prefix they know).  New
 *    fields must be zero-meaning-absent.  Readers accept any minor.
 *  - New enum values / flag bits may be added with a minor bump; readers
 *    treat unknown values as "unknown" and unknown flag bits as absent.
 *  - Never reuse a removed field's bytes within the same major.
 *
 * Change log of layout versions
 *  1.0  2026-11-25  first layout: header 320 B, slot header 64 B, group
 *                   256 B, server 128 B, cluster 384 B, long name 256 B,
 *                   event 64 B.
 *  1.1  2026-12-02  slot maps for the `slots` distribution: header line 5
 *                   (header_size 384: slotmap_cap/stride/off, geo_check2),
 *                   mshm_slot_hdr.n_slotmaps (from pad), mshm_cluster
 *                   .slotmap_idx/.slotmap_seq (from pad2) with MSHM_CF_SLOTMAP, record
 *                   mshm_slotmap 16448 B.  A 1.0 reader ignores them (and
 *                   refuses to route a `slots` cluster, as it always did); a
 *                   1.1 reader of a 1.0 segment (header_size 320) sees no
 *                   slot maps.
 *  1.2  2026-12-04  events mean what the specification says (issue 17):
 *                   n_all_slaves_down/up and MSHM_EV_ALL_SLAVES_* count
 *                   replica AVAILABILITY (every replica down / the first
 *                   back), no longer readability; group flag 0x0100 keeps
 *                   its 1.0 meaning under the name MSHM_GF_NO_READS, new
 *                   flag MSHM_GF_ALL_REPLICAS_DOWN (0x0200); new event
 *                   types MSHM_EV_READS_UNAVAILABLE/AVAILABLE (18, 19)
 *                   with the reason in mshm_event.flags (MSHM_RR_*).  No
 *                   field moves; a 1.1 reader keeps working (it ignores
 *                   the new types and bit, and delivers allSlavesDown/Up
 *                   with the corrected meaning).
 */
#ifndef MSHM_LAYOUT_H
#define MSHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define MSHM_STATIC_ASSERT static_assert
#else
#define MSHM_STATIC_ASSERT _Static_assert
#endif

#define MSHM_MAGIC          0x314c53524d48534dULL /* "MSHMRSL1" little-endian */
#define MSHM_VERSION_MAJOR  1
#define MSHM_VERSION_MINOR  2
#define MSHM_NONE           0xffffffffu           /* null record index */

/* Compile-time maxima.  A reader refuses geometry beyond them, so a hostile
 * header cannot make it allocate or scan without bound. */
#define MSHM_NAME_MAX        64      /* group/cluster name field, incl. NUL  */
#define MSHM_HOST_INLINE     64      /* inline host field, incl. NUL         */
#define MSHM_HOST_MAX        256     /* long host name record, incl. NUL:
                                        hostnames up to 255 bytes            */
#define MSHM_GROUP_SERVERS   32      /* servers per group (master+replicas)  */
#define MSHM_CLUSTER_MEMBERS 32      /* groups per cluster / clusters per farm */
#define MSHM_MAX_GROUPS      65536
#define MSHM_MAX_SERVERS     262144
#define MSHM_MAX_CLUSTERS    16384
#define MSHM_MAX_LONGNAMES   65536
#define MSHM_MAX_RING        1048576
#define MSHM_MAX_SLOTMAPS    1024
#define MSHM_SLOTS           16384   /* Redis Cluster hash slots (CRC16 & 16383) */
#define MSHM_SLOT_NONE       0xffu   /* mshm_slotmap.member[]: slot unassigned  */
#define MSHM_HEADER_SIZE_1_0 320     /* header_size of a 1.0 segment (no line 5) */
#define MSHM_MAX_TOTAL       (1ULL << 30)  /* 1 GiB: sanity bound on size  */
#define MSHM_LINE            64

/* mshm_header.state */
enum mshm_seg_state {
    MSHM_STATE_INITIALIZING = 0,  /* being built; never visible at the public path */
    MSHM_STATE_LIVE         = 1,  /* the current segment                           */
    MSHM_STATE_RETIRED      = 2   /* replaced: re-open the path                     */
};

/* mshm_header.flags */
#define MSHM_HF_WARMING_UP     0x0001u /* writer adopted; not yet fully resolved */
#define MSHM_HF_WRITER_STOPPED 0x0002u /* writer exited cleanly                  */

/* mshm_group.route -- routing rule published by the controller */
enum mshm_route {
    MSHM_ROUTE_MASTER          = 0, /* everything to the confirmed master         */
    MSHM_ROUTE_MASTER_READONLY = 1, /* master; reads to replicas while no master  */
    MSHM_ROUTE_SPLIT           = 2  /* writes to master, reads to replicas by WRR */
};

/* mshm_group.flags */
#define MSHM_GF_IN_USE        0x0001u /* record describes a live group              */
#define MSHM_GF_SENTINEL      0x0002u /* managed by sentinels (else static)         */
#define MSHM_GF_NO_MASTER     0x0004u /* no confirmed master: no write target       */
#define MSHM_GF_DEGRADED      0x0008u /* sentinel majority lost                      */
#define MSHM_GF_DISAGREE      0x0010u /* sentinels/ROLE disagree about the master   */
#define MSHM_GF_FAILOVER      0x0020u /* a failover is in progress                  */
#define MSHM_GF_ODOWN         0x0040u /* master objectively down per sentinels      */
#define MSHM_GF_FAIL_WRITES_DEGRADED 0x0080u /* policy: fail writes while degraded  */
#define MSHM_GF_NO_READS      0x0100u /* group has replicas and none is readable
                                         (1.0/1.1 name: ALL_SLAVES_DOWN)          */
#define MSHM_GF_ALL_REPLICAS_DOWN 0x0200u /* 1.2: group has replicas and every one
                                         is down (availability, not readability) */

/* mshm_server.role */
enum mshm_role {
    MSHM_ROLE_UNKNOWN = 0,
    MSHM_ROLE_MASTER  = 1,
    MSHM_ROLE_REPLICA = 2
};

/* mshm_server.health */
enum mshm_health {
    MSHM_HEALTH_UNKNOWN = 0,
    MSHM_HEALTH_UP      = 1,
    MSHM_HEALTH_DOWN    = 2
};

/* mshm_server.flags */
#define MSHM_SF_IN_USE     0x0001u /* record describes a live server             */
#define MSHM_SF_SDOWN      0x0002u /* subjectively down per sentinels            */
#define MSHM_SF_ODOWN      0x0004u /* objectively down per sentinels             */
#define MSHM_SF_LOADING    0x0008u /* server is loading its dataset              */
#define MSHM_SF_SYNCING    0x0010u /* replica sync in progress                   */
#define MSHM_SF_LINK_DOWN  0x0020u /* replica's link to its master is down       */
#define MSHM_SF_LAGGING    0x0040u /* replica lag above the group's limit        */
#define MSHM_SF_READABLE   0x0080u /* replica may serve reads (controller's verdict) */
#define MSHM_SF_DISCOVERED 0x0100u /* learnt from sentinels, not configured      */
#define MSHM_SF_HOST_LONG  0x0200u /* host is in longnames[longname_idx]         */
#define MSHM_SF_STALE_MASTER 0x0400u /* claims ROLE=master but is not confirmed  */

/* mshm_cluster.kind / rule / dist / hash / mirror_policy */
enum mshm_cluster_kind { MSHM_KIND_CLUSTER = 0, MSHM_KIND_FARM = 1 };
enum mshm_rule {
    MSHM_RULE_MARSHAL0  = 0, /* striping across member groups            */
    MSHM_RULE_MARSHAL1  = 1, /* mirroring to member groups              */
    MSHM_RULE_MARSHAL10 = 2  /* farm: mirror of marshal0 clusters       */
};
enum mshm_dist { MSHM_DIST_KETAMA = 0, MSHM_DIST_MODULA = 1, MSHM_DIST_SLOTS = 2 };
enum mshm_hash {
    MSHM_HASH_FNV1A_64 = 0, MSHM_HASH_MD5 = 1, MSHM_HASH_CRC32A = 2,
    MSHM_HASH_MURMUR = 3, MSHM_HASH_FNV1_64 = 4, MSHM_HASH_FNV1A_32 = 5,
    MSHM_HASH_FNV1_32 = 6, MSHM_HASH_CRC32 = 7, MSHM_HASH_CRC16 = 8,
    MSHM_HASH_JENKINS = 9, MSHM_HASH_HSIEH = 10, MSHM_HASH_ONE_AT_A_TIME = 11
};
enum mshm_mirror_policy { MSHM_MIRROR_ALL = 0, MSHM_MIRROR_PRIMARY = 1 };

/* mshm_cluster.flags */
#define MSHM_CF_IN_USE   0x0001u
#define MSHM_CF_HASH_TAG 0x0002u /* hash_tag[0..1] holds the tag delimiters */
#define MSHM_CF_SLOTMAP  0x0004u /* slotmap_idx names this cluster's slot map (1.1) */

/* mshm_slotmap.flags */
#define MSHM_SMF_IN_USE  0x0001u

/* mshm_member.flags */
#define MSHM_MF_PRIMARY  0x0001u /* primary member of a mirror (marshal1/10)  */
#define MSHM_MF_DIVERGED 0x0002u /* mirror missed writes; operator must clear */

/* mshm_event.type */
enum mshm_event_type {
    MSHM_EV_NONE            = 0,
    MSHM_EV_MASTER_DOWN     = 1,
    MSHM_EV_MASTER_UP       = 2,
    MSHM_EV_MASTER_SWITCH   = 3,  /* old_idx -> new_idx at epoch            */
    MSHM_EV_SLAVE_DOWN      = 4,
    MSHM_EV_SLAVE_UP        = 5,
    MSHM_EV_ALL_SLAVES_DOWN = 6,
    MSHM_EV_ALL_SLAVES_UP   = 7,
    MSHM_EV_GROUP_DEGRADED  = 8,
    MSHM_EV_GROUP_RECOVERED = 9,
    MSHM_EV_NO_MASTER       = 10, /* disagreement: no write target          */
    MSHM_EV_GROUP_ADDED     = 11,
    MSHM_EV_GROUP_REMOVED   = 12,
    MSHM_EV_SERVER_ADDED    = 13,
    MSHM_EV_SERVER_REMOVED  = 14,
    MSHM_EV_WRITER_ADOPT    = 15, /* controller restarted and adopted       */
    MSHM_EV_CONFIG_RELOAD   = 16,
    MSHM_EV_MIRROR_DIVERGED = 17,
    MSHM_EV_READS_UNAVAILABLE = 18, /* 1.2: no replica may serve reads; flags =
                                       MSHM_RR_* why, over every replica      */
    MSHM_EV_READS_AVAILABLE = 19, /* 1.2: a replica may serve reads again     */
    MSHM_EV_TYPE_MAX        = 20  /* one past the last known type           */
};

/* mshm_event.flags of MSHM_EV_READS_UNAVAILABLE (1.2): why each replica is
 * not readable, OR-ed over the group's replicas */
#define MSHM_RR_DOWN      0x0001u /* replica down (health checks / sentinels)  */
#define MSHM_RR_LINK_DOWN 0x0002u /* up, but its link to the master is down or
                                     it follows another master               */
#define MSHM_RR_SYNCING   0x0004u /* up, full resync or loading in progress    */
#define MSHM_RR_LAGGING   0x0008u /* up, lag above the group's max_lag_ms      */
#define MSHM_RR_NO_REPLICA 0x0010u /* up, but not a replica (e.g. ROLE master) */

/*
 * Header: offset 0 of the segment.  Five 64-byte lines; hot, independently
 * written fields live on separate lines.
 */
struct mshm_header {
    /* lines 0-1: written once at creation, then immutable.  Readers copy and
     * validate them at attach and never re-read geometry from the map. */
    uint64_t magic;               /* MSHM_MAGIC                                */
    uint16_t version_major;       /* MSHM_VERSION_MAJOR                        */
    uint16_t version_minor;       /* MSHM_VERSION_MINOR                        */
    uint32_t header_size;         /* bytes of header the writer knows (>=320)  */
    uint64_t total_size;          /* == file size                              */
    uint64_t segment_id;          /* random per creation                       */
    uint64_t created_realtime_ns; /* CLOCK_REALTIME at creation                */
    uint64_t slot_off[2];         /* absolute offsets of the two state copies  */
    uint32_t slot_size;           /* bytes per state copy                      */
    uint32_t group_cap;           /* group records per copy                    */
    uint32_t group_stride;        /* bytes per group record (>= 256)           */
    uint32_t server_cap;
    uint32_t server_stride;       /* >= 128                                    */
    uint32_t cluster_cap;
    uint32_t cluster_stride;      /* >= 384                                    */
    uint32_t longname_cap;
    uint32_t longname_stride;     /* >= 256                                    */
    uint32_t group_off;           /* slot-relative offsets of the arrays       */
    uint32_t server_off;
    uint32_t cluster_off;
    uint32_t longname_off;
    uint32_t ring_cap;            /* events in the ring; power of two          */
    uint64_t ring_off;            /* absolute offset of the event ring         */
    uint32_t ring_stride;         /* >= 64                                     */
    uint32_t geo_check;           /* FNV-1a 32 of bytes [0, 124)               */

    /* line 2: publish line, written only when publishing */
    uint64_t latch;               /* copy = latch & 1; also the generation     */
    uint32_t state;               /* enum mshm_seg_state                         */
    uint32_t flags;               /* MSHM_HF_*                                 */
    uint32_t writer_epoch;        /* ++ on every adopt                         */
    uint32_t notify;              /* futex word: ++ and FUTEX_WAKE per publish */
    uint64_t config_version;      /* controller config generation              */
    uint64_t pad2[4];

    /* line 3: heartbeat line, written every hb_interval_ms */
    uint64_t hb_count;            /* ++ per heartbeat                          */
    uint64_t hb_mono_ns;          /* writer's CLOCK_MONOTONIC at heartbeat     */
    uint64_t hb_realtime_ns;      /* writer's CLOCK_REALTIME at heartbeat      */
    uint64_t writer_starttime;    /* /proc/<pid>/stat starttime of the writer  */
    uint32_t writer_pid;
    uint32_t hb_interval_ms;      /* writer's heartbeat period                 */
    uint32_t stale_after_ms;      /* readers call the writer stale after this  */
    uint32_t pad3;
    uint8_t  boot_id[16];         /* kernel boot id: mono clocks comparable    */

    /* line 4: event ring head */
    uint64_t ev_head;             /* seq of the next event to write (>= 1)     */
    uint64_t pad4[7];

    /* line 5 (1.1; present when header_size >= 384): immutable geometry of
     * the slot-map array.  All zero = no slot maps. */
    uint32_t slotmap_cap;         /* slot maps per copy                        */
    uint32_t slotmap_stride;      /* >= 16448                                  */
    uint32_t slotmap_off;         /* slot-relative offset of the array         */
    uint32_t geo_check2;          /* FNV-1a 32 of bytes [320, 332)             */
    uint64_t pad5[6];
};

/* Header of each of the two state copies ("slots"). 64 B. */
struct mshm_slot_hdr {
    uint64_t pub_seq;             /* publishes ever made into this state       */
    uint64_t state_sum;           /* writer's integrity sum of the state; see
                                     docs/shm-format.md (0 = not maintained)  */
    uint32_t n_groups;            /* high-water marks: records [0, n) may be   */
    uint32_t n_servers;           /* in use; readers scan no further           */
    uint32_t n_clusters;
    uint32_t n_longnames;
    uint32_t n_slotmaps;          /* 1.1: high-water mark of slot maps         */
    uint32_t pad0;
    uint64_t pad[3];
};

/* A replica set. 256 B. */
struct mshm_group {
    char     name[MSHM_NAME_MAX]; /* NUL-terminated, NUL-padded                */
    uint64_t change_seq;          /* ++ on any change to this group/its servers */
    uint64_t master_epoch;        /* sentinel config-epoch of current master   */
    uint32_t gen;                 /* ++ when this index is reused              */
    uint32_t flags;               /* MSHM_GF_*                                 */
    uint32_t master_idx;          /* confirmed master, or MSHM_NONE            */
    uint32_t power;               /* weight in clusters                        */
    uint32_t max_lag_ms;          /* replicas lagging more are not readable    */
    uint16_t n_servers;           /* entries used in servers[]                 */
    uint8_t  route;               /* enum mshm_route                           */
    uint8_t  pad0;
    /* monotonic transition counters: readers derive events they never saw */
    uint32_t n_master_down;
    uint32_t n_master_up;
    uint32_t n_master_switch;
    uint32_t n_all_slaves_down;
    uint32_t n_all_slaves_up;
    uint32_t n_degraded;
    uint32_t servers[MSHM_GROUP_SERVERS]; /* server indices, master included   */
};

/* A redis-server. 128 B. */
struct mshm_server {
    char     host[MSHM_HOST_INLINE]; /* NUL-terminated; "" if MSHM_SF_HOST_LONG */
    uint64_t change_seq;          /* ++ on any change to this record           */
    uint64_t last_ok_mono_ns;     /* writer's clock: last successful check     */
    uint64_t repl_offset;         /* replication offset last seen              */
    uint32_t group_idx;           /* owning group                              */
    uint32_t gen;                 /* ++ when this index is reused              */
    uint32_t flags;               /* MSHM_SF_*                                 */
    uint32_t power;               /* read weight within the group              */
    uint32_t n_down;              /* monotonic: UP -> DOWN transitions         */
    uint32_t n_up;                /* monotonic: -> UP transitions              */
    uint32_t lag_ms;              /* replica lag                               */
    uint32_t rtt_us;              /* last health-check round trip              */
    uint32_t longname_idx;        /* host record if MSHM_SF_HOST_LONG          */
    uint16_t port;
    uint8_t  role;                /* enum mshm_role                            */
    uint8_t  health;              /* enum mshm_health                          */
};

/* A member of a cluster (a group) or of a farm (a cluster). 8 B. */
struct mshm_member {
    uint32_t idx;                 /* group index (cluster) or cluster index (farm) */
    uint16_t power;               /* weight on the ring                        */
    uint16_t flags;               /* MSHM_MF_*                                 */
};

/* A cluster (groups + rule) or a farm (clusters + rule). 384 B. */
struct mshm_cluster {
    char     name[MSHM_NAME_MAX];
    uint64_t change_seq;
    uint32_t gen;
    uint32_t flags;               /* MSHM_CF_*                                 */
    uint8_t  kind;                /* enum mshm_cluster_kind                    */
    uint8_t  rule;                /* enum mshm_rule                            */
    uint8_t  dist;                /* enum mshm_dist                            */
    uint8_t  hash;                /* enum mshm_hash                            */
    uint8_t  mirror_policy;       /* enum mshm_mirror_policy                   */
    uint8_t  hash_tag[2];         /* e.g. '{' '}' when MSHM_CF_HASH_TAG        */
    uint8_t  pad0;
    uint16_t n_members;
    uint16_t pad1;
    uint32_t primary;             /* member position of the primary, or NONE  */
    uint32_t slotmap_idx;         /* 1.1, with MSHM_CF_SLOTMAP: slot map index */
    uint32_t slotmap_seq;         /* 1.1: low 32 bits of the slot map's
                                     change_seq, so this record changes
                                     whenever its map does                    */
    struct mshm_member members[MSHM_CLUSTER_MEMBERS];
    uint64_t pad3[3];
};

/* A host name too long for the inline field. 256 B. */
struct mshm_longname {
    char     host[MSHM_HOST_MAX]; /* NUL-terminated                            */
};

/*
 * The slot -> member table of a cluster with distribution `slots` (1.1).
 * member[s] is the member position (index into the owning cluster's
 * members[]) serving Redis Cluster hash slot s, or MSHM_SLOT_NONE.  16448 B.
 */
struct mshm_slotmap {
    uint64_t change_seq;
    uint32_t gen;
    uint32_t flags;               /* MSHM_SMF_*                                */
    uint32_t cluster_idx;         /* owning cluster                            */
    uint32_t pad0;
    uint64_t pad[5];
    uint8_t  member[MSHM_SLOTS];
};

/* One event in the overwrite ring. 64 B. */
struct mshm_event {
    uint64_t seq;                 /* 0 = empty, UINT64_MAX = being written     */
    uint64_t pub_seq;             /* state publish that reflects this event    */
    uint64_t mono_ns;             /* writer's CLOCK_MONOTONIC                  */
    uint64_t epoch;               /* sentinel config-epoch, if any             */
    uint16_t type;                /* enum mshm_event_type                      */
    uint16_t flags;               /* READS_UNAVAILABLE: MSHM_RR_*; else 0      */
    uint32_t group_idx;           /* or MSHM_NONE                              */
    uint32_t server_idx;          /* or MSHM_NONE                              */
    uint32_t old_idx;             /* MASTER_SWITCH: old master, else NONE      */
    uint32_t new_idx;             /* MASTER_SWITCH: new master, else NONE      */
    uint32_t cluster_idx;         /* or MSHM_NONE                              */
    uint64_t realtime_ns;         /* writer's CLOCK_REALTIME                   */
};

/* ---- pinned ABI: every size and offset ---------------------------------- */
#define MSHM_PIN(T, f, off) MSHM_STATIC_ASSERT(offsetof(T, f) == (off), #T "." #f)

MSHM_STATIC_ASSERT(sizeof(struct mshm_header) == 384, "header size");
MSHM_PIN(struct mshm_header, magic, 0);
MSHM_PIN(struct mshm_header, version_major, 8);
MSHM_PIN(struct mshm_header, version_minor, 10);
MSHM_PIN(struct mshm_header, header_size, 12);
MSHM_PIN(struct mshm_header, total_size, 16);
MSHM_PIN(struct mshm_header, segment_id, 24);
MSHM_PIN(struct mshm_header, created_realtime_ns, 32);
MSHM_PIN(struct mshm_header, slot_off, 40);
MSHM_PIN(struct mshm_header, slot_size, 56);
MSHM_PIN(struct mshm_header, group_cap, 60);
MSHM_PIN(struct mshm_header, group_stride, 64);
MSHM_PIN(struct mshm_header, server_cap, 68);
MSHM_PIN(struct mshm_header, server_stride, 72);
MSHM_PIN(struct mshm_header, cluster_cap, 76);
MSHM_PIN(struct mshm_header, cluster_stride, 80);
MSHM_PIN(struct mshm_header, longname_cap, 84);
MSHM_PIN(struct mshm_header, longname_stride, 88);
MSHM_PIN(struct mshm_header, group_off, 92);
MSHM_PIN(struct mshm_header, server_off, 96);
MSHM_PIN(struct mshm_header, cluster_off, 100);
MSHM_PIN(struct mshm_header, longname_off, 104);
MSHM_PIN(struct mshm_header, ring_cap, 108);
MSHM_PIN(struct mshm_header, ring_off, 112);
MSHM_PIN(struct mshm_header, ring_stride, 120);
MSHM_PIN(struct mshm_header, geo_check, 124);
MSHM_PIN(struct mshm_header, latch, 128);
MSHM_PIN(struct mshm_header, state, 136);
MSHM_PIN(struct mshm_header, flags, 140);
MSHM_PIN(struct mshm_header, writer_epoch, 144);
MSHM_PIN(struct mshm_header, notify, 148);
MSHM_PIN(struct mshm_header, config_version, 152);
MSHM_PIN(struct mshm_header, pad2, 160);
MSHM_PIN(struct mshm_header, hb_count, 192);
MSHM_PIN(struct mshm_header, hb_mono_ns, 200);
MSHM_PIN(struct mshm_header, hb_realtime_ns, 208);
MSHM_PIN(struct mshm_header, writer_starttime, 216);
MSHM_PIN(struct mshm_header, writer_pid, 224);
MSHM_PIN(struct mshm_header, hb_interval_ms, 228);
MSHM_PIN(struct mshm_header, stale_after_ms, 232);
MSHM_PIN(struct mshm_header, pad3, 236);
MSHM_PIN(struct mshm_header, boot_id, 240);
MSHM_PIN(struct mshm_header, ev_head, 256);
MSHM_PIN(struct mshm_header, pad4, 264);
MSHM_PIN(struct mshm_header, slotmap_cap, 320);
MSHM_PIN(struct mshm_header, slotmap_stride, 324);
MSHM_PIN(struct mshm_header, slotmap_off, 328);
MSHM_PIN(struct mshm_header, geo_check2, 332);
MSHM_PIN(struct mshm_header, pad5, 336);

MSHM_STATIC_ASSERT(sizeof(struct mshm_slot_hdr) == 64, "slot header size");
MSHM_PIN(struct mshm_slot_hdr, pub_seq, 0);
MSHM_PIN(struct mshm_slot_hdr, state_sum, 8);
MSHM_PIN(struct mshm_slot_hdr, n_groups, 16);
MSHM_PIN(struct mshm_slot_hdr, n_servers, 20);
MSHM_PIN(struct mshm_slot_hdr, n_clusters, 24);
MSHM_PIN(struct mshm_slot_hdr, n_longnames, 28);
MSHM_PIN(struct mshm_slot_hdr, n_slotmaps, 32);
MSHM_PIN(struct mshm_slot_hdr, pad0, 36);
MSHM_PIN(struct mshm_slot_hdr, pad, 40);

MSHM_STATIC_ASSERT(sizeof(struct mshm_group) == 256, "group size");
MSHM_PIN(struct mshm_group, name, 0);
MSHM_PIN(struct mshm_group, change_seq, 64);
MSHM_PIN(struct mshm_group, master_epoch, 72);
MSHM_PIN(struct mshm_group, gen, 80);
MSHM_PIN(struct mshm_group, flags, 84);
MSHM_PIN(struct mshm_group, master_idx, 88);
MSHM_PIN(struct mshm_group, power, 92);
MSHM_PIN(struct mshm_group, max_lag_ms, 96);
MSHM_PIN(struct mshm_group, n_servers, 100);
MSHM_PIN(struct mshm_group, route, 102);
MSHM_PIN(struct mshm_group, pad0, 103);
MSHM_PIN(struct mshm_group, n_master_down, 104);
MSHM_PIN(struct mshm_group, n_master_up, 108);
MSHM_PIN(struct mshm_group, n_master_switch, 112);
MSHM_PIN(struct mshm_group, n_all_slaves_down, 116);
MSHM_PIN(struct mshm_group, n_all_slaves_up, 120);
MSHM_PIN(struct mshm_group, n_degraded, 124);
MSHM_PIN(struct mshm_group, servers, 128);

MSHM_STATIC_ASSERT(sizeof(struct mshm_server) == 128, "server size");
MSHM_PIN(struct mshm_server, host, 0);
MSHM_PIN(struct mshm_server, change_seq, 64);
MSHM_PIN(struct mshm_server, last_ok_mono_ns, 72);
MSHM_PIN(struct mshm_server, repl_offset, 80);
MSHM_PIN(struct mshm_server, group_idx, 88);
MSHM_PIN(struct mshm_server, gen, 92);
MSHM_PIN(struct mshm_server, flags, 96);
MSHM_PIN(struct mshm_server, power, 100);
MSHM_PIN(struct mshm_server, n_down, 104);
MSHM_PIN(struct mshm_server, n_up, 108);
MSHM_PIN(struct mshm_server, lag_ms, 112);
MSHM_PIN(struct mshm_server, rtt_us, 116);
MSHM_PIN(struct mshm_server, longname_idx, 120);
MSHM_PIN(struct mshm_server, port, 124);
MSHM_PIN(struct mshm_server, role, 126);
MSHM_PIN(struct mshm_server, health, 127);

MSHM_STATIC_ASSERT(sizeof(struct mshm_member) == 8, "member size");
MSHM_PIN(struct mshm_member, idx, 0);
MSHM_PIN(struct mshm_member, power, 4);
MSHM_PIN(struct mshm_member, flags, 6);

MSHM_STATIC_ASSERT(sizeof(struct mshm_cluster) == 384, "cluster size");
MSHM_PIN(struct mshm_cluster, name, 0);
MSHM_PIN(struct mshm_cluster, change_seq, 64);
MSHM_PIN(struct mshm_cluster, gen, 72);
MSHM_PIN(struct mshm_cluster, flags, 76);
MSHM_PIN(struct mshm_cluster, kind, 80);
MSHM_PIN(struct mshm_cluster, rule, 81);
MSHM_PIN(struct mshm_cluster, dist, 82);
MSHM_PIN(struct mshm_cluster, hash, 83);
MSHM_PIN(struct mshm_cluster, mirror_policy, 84);
MSHM_PIN(struct mshm_cluster, hash_tag, 85);
MSHM_PIN(struct mshm_cluster, pad0, 87);
MSHM_PIN(struct mshm_cluster, n_members, 88);
MSHM_PIN(struct mshm_cluster, pad1, 90);
MSHM_PIN(struct mshm_cluster, primary, 92);
MSHM_PIN(struct mshm_cluster, slotmap_idx, 96);
MSHM_PIN(struct mshm_cluster, slotmap_seq, 100);
MSHM_PIN(struct mshm_cluster, members, 104);
MSHM_PIN(struct mshm_cluster, pad3, 360);

MSHM_STATIC_ASSERT(sizeof(struct mshm_longname) == 256, "longname size");

MSHM_STATIC_ASSERT(sizeof(struct mshm_slotmap) == 16448, "slot map size");
MSHM_PIN(struct mshm_slotmap, change_seq, 0);
MSHM_PIN(struct mshm_slotmap, gen, 8);
MSHM_PIN(struct mshm_slotmap, flags, 12);
MSHM_PIN(struct mshm_slotmap, cluster_idx, 16);
MSHM_PIN(struct mshm_slotmap, pad0, 20);
MSHM_PIN(struct mshm_slotmap, pad, 24);
MSHM_PIN(struct mshm_slotmap, member, 64);

MSHM_STATIC_ASSERT(sizeof(struct mshm_event) == 64, "event size");
MSHM_PIN(struct mshm_event, seq, 0);
MSHM_PIN(struct mshm_event, pub_seq, 8);
MSHM_PIN(struct mshm_event, mono_ns, 16);
MSHM_PIN(struct mshm_event, epoch, 24);
MSHM_PIN(struct mshm_event, type, 32);
MSHM_PIN(struct mshm_event, flags, 34);
MSHM_PIN(struct mshm_event, group_idx, 36);
MSHM_PIN(struct mshm_event, server_idx, 40);
MSHM_PIN(struct mshm_event, old_idx, 44);
MSHM_PIN(struct mshm_event, new_idx, 48);
MSHM_PIN(struct mshm_event, cluster_idx, 52);
MSHM_PIN(struct mshm_event, realtime_ns, 56);

#undef MSHM_PIN

#endif /* MSHM_LAYOUT_H */
