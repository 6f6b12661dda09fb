/*
 * marshal-shmdump.c -- inspect a Marshal shared-memory segment, read-only.
 *
 * Links only marshal_shm_core and attaches with the same mshm_attach() as the
 * client library, so it sees exactly what applications see and validates the
 * segment with the same code.  It never writes to the segment.
 *
 *   marshal-shmdump [options] [SEGMENT]
 *
 * Modes (at most one): the default human-readable table, --json, --watch,
 * --check.  See usage() for options and exit codes.
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

#include "mshm_attach.h"
#include "mshm_read.h"
#include "shmdump_key.h"

#define PROG            "marshal-shmdump"
#define DEFAULT_SEGMENT "/dev/shm/marshal.main"
#define NELEM(a)        (sizeof(a) / sizeof((a)[0]))
#define JSON_SCHEMA     1
#define MAX_EVENTS_ARG  MSHM_MAX_RING
#define TXT             1100  /* an escaped host: 255 bytes * 4 + port + slack */

/* Exit codes (documented in usage()) */
enum {
    EX_OK = 0,
    EX_CORRUPT = 1,   /* the segment fails validation                     */
    EX_ATTACH = 2,    /* cannot use it: missing, permission, version, ... */
    EX_SYS = 3,       /* system error, out of memory, writer never quiet  */
    EX_USAGE = 64
};

/* ---- name tables --------------------------------------------------------- */

static const char *const seg_state_names[] = {"initializing", "live", "retired"};
static const char *const route_names[] = {"master", "readonly", "split"};
static const char *const role_names[] = {"unknown", "master", "replica"};
static const char *const health_names[] = {"unknown", "up", "down"};
static const char *const kind_names[] = {"cluster", "farm"};
static const char *const rule_names[] = {"marshal0", "marshal1", "marshal10"};
static const char *const dist_names[] = {"ketama", "modula", "slots"};
static const char *const hash_names[] = {
    "fnv1a_64", "md5",   "crc32a", "murmur", "fnv1_64", "fnv1a_32",
    "fnv1_32",  "crc32", "crc16",  "jenkins", "hsieh",  "one_at_a_time"};
static const char *const mirror_names[] = {"all", "primary"};
static const char *const liveness_names[] = {"live", "stale", "stopped", "retired"};
static const char *const event_names[] = {
    "none",          "master_down",     "master_up",       "master_switch",
    "slave_down",    "slave_up",        "all_slaves_down", "all_slaves_up",
    "group_degraded", "group_recovered", "no_master",      "group_added",
    "group_removed", "server_added",    "server_removed",  "writer_adopt",
    "config_reload", "mirror_diverged", "reads_unavailable", "reads_available"};

_Static_assert(NELEM(event_names) == MSHM_EV_TYPE_MAX, "event name table");
_Static_assert(NELEM(hash_names) == MSHM_HASH_ONE_AT_A_TIME + 1, "hash name table");
_Static_assert(NELEM(rule_names) == MSHM_RULE_MARSHAL10 + 1, "rule name table");
_Static_assert(NELEM(dist_names) == MSHM_DIST_SLOTS + 1, "dist name table");
_Static_assert(NELEM(route_names) == MSHM_ROUTE_SPLIT + 1, "route name table");
_Static_assert(NELEM(liveness_names) == MSHM_RETIRED + 1, "liveness name table");

/* A flag bit and its name. */
struct bitname {
    uint32_t bit;
    const char *name;
};

static const struct bitname hdr_flag_names[] = {
    {MSHM_HF_WARMING_UP, "warming_up"},
    {MSHM_HF_WRITER_STOPPED, "writer_stopped"},
};
static const struct bitname group_flag_names[] = {
    {MSHM_GF_IN_USE, "in_use"},
    {MSHM_GF_SENTINEL, "sentinel"},
    {MSHM_GF_NO_MASTER, "no_master"},
    {MSHM_GF_DEGRADED, "degraded"},
    {MSHM_GF_DISAGREE, "disagree"},
    {MSHM_GF_FAILOVER, "failover"},
    {MSHM_GF_ODOWN, "odown"},
    {MSHM_GF_FAIL_WRITES_DEGRADED, "fail_writes_degraded"},
    {MSHM_GF_NO_READS, "no_reads"},
    {MSHM_GF_ALL_REPLICAS_DOWN, "all_slaves_down"},
};
static const struct bitname server_flag_names[] = {
    {MSHM_SF_IN_USE, "in_use"},
    {MSHM_SF_SDOWN, "sdown"},
    {MSHM_SF_ODOWN, "odown"},
    {MSHM_SF_LOADING, "loading"},
    {MSHM_SF_SYNCING, "syncing"},
    {MSHM_SF_LINK_DOWN, "link_down"},
    {MSHM_SF_LAGGING, "lagging"},
    {MSHM_SF_READABLE, "readable"},
    {MSHM_SF_DISCOVERED, "discovered"},
    {MSHM_SF_HOST_LONG, "host_long"},
    {MSHM_SF_STALE_MASTER, "stale_master"},
};
static const struct bitname cluster_flag_names[] = {
    {MSHM_CF_IN_USE, "in_use"},
    {MSHM_CF_HASH_TAG, "hash_tag"},
    {MSHM_CF_SLOTMAP, "slot_map"},
};
static const struct bitname member_flag_names[] = {
    {MSHM_MF_PRIMARY, "primary"},
    {MSHM_MF_DIVERGED, "diverged"},
};

/* Name of enum value v, or its number (in buf) when unknown. */
static const char *
ename(const char *const *tab, size_t n, unsigned v, char buf[16])
{
    if (v < n) {
        return tab[v];
    }
    snprintf(buf, 16, "%u", v);
    return buf;
}
#define ENAME(tab, v, buf) ename((tab), NELEM(tab), (unsigned)(v), (buf))

/*
 * Flags f as words joined by sep ("readable,syncing"), skipping the bits in
 * skip; unknown bits as 0x....; "-" when nothing is left.  upper: WORDS.
 */
static const char *
flag_words(char *out, size_t len, const struct bitname *t, size_t n, uint32_t f,
           uint32_t skip, int upper)
{
    size_t used = 0, i, k;
    uint32_t known = 0;

    out[0] = '\0';
    f &= ~skip;
    for (i = 0; i < n; i++) {
        known |= t[i].bit;
        if ((f & t[i].bit) == 0) {
            continue;
        }
        if (used != 0 && used + 1 < len) {
            out[used++] = ',';
        }
        for (k = 0; t[i].name[k] != '\0' && used + 1 < len; k++) {
            char c = t[i].name[k];

            out[used++] = upper && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
        }
        out[used] = '\0';
    }
    if ((f & ~known) != 0) {
        snprintf(out + used, len - used, "%s0x%04x", used ? "," : "", f & ~known);
        used = strlen(out);
    }
    if (used == 0) {
        snprintf(out, len, "-");
    }
    return out;
}
#define FLAGS(buf, tab, f, skip, upper) \
    flag_words((buf), sizeof(buf), (tab), NELEM(tab), (f), (skip), (upper))

/*
 * Terminal-safe copy of a segment string (at most max bytes): printable
 * ASCII as is, backslash doubled, everything else as \xNN.
 */
static const char *
safe_text(char *out, size_t len, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    for (i = 0; i < max && s[i] != '\0' && o + 5 < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- time ---------------------------------------------------------------- */

/* "YYYY-MM-DD HH:MM:SS.mmm" local time, or ISO-8601 UTC when iso. */
static const char *
fmt_time(char *out, size_t len, uint64_t realtime_ns, int iso)
{
    time_t secs = (time_t)(realtime_ns / 1000000000ull);
    unsigned ms = (unsigned)(realtime_ns / 1000000ull % 1000);
    struct tm tm;
    char b[40];

    if ((iso ? gmtime_r(&secs, &tm) : localtime_r(&secs, &tm)) == NULL) {
        snprintf(out, len, "?");
        return out;
    }
    strftime(b, sizeof(b), iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, len, "%s.%03u%s", b, ms, iso ? "Z" : "");
    return out;
}

static uint64_t
realtime_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Is the segment's monotonic clock ours (same kernel boot)?  Unknown = yes. */
static int
same_boot(const struct mshm_reader *r)
{
    const struct mshm_header *h = mshm_hdr(r);
    uint8_t seg[16], mine[16];
    char buf[64];
    int fd, i, k = 0, hi = -1, zero = 1;
    ssize_t n;

    for (i = 0; i < 16; i++) {
        seg[i] = mshm_ld(&h->boot_id[i]);
        zero &= seg[i] == 0;
    }
    fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (zero || fd < 0) {
        if (fd >= 0) {
            close(fd);
        }
        return 1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 1;
    }
    buf[n] = '\0';
    for (i = 0; buf[i] != '\0' && k < 16; i++) {
        int d;

        if (buf[i] >= '0' && buf[i] <= '9') {
            d = buf[i] - '0';
        } else if (buf[i] >= 'a' && buf[i] <= 'f') {
            d = buf[i] - 'a' + 10;
        } else {
            continue;
        }
        if (hi < 0) {
            hi = d;
        } else {
            mine[k++] = (uint8_t)(hi << 4 | d);
            hi = -1;
        }
    }
    return k == 16 && memcmp(seg, mine, 16) == 0;
}

/* ---- JSON writer --------------------------------------------------------- */

static int jfirst[32];  /* per nesting level: no member written yet */
static int jdepth;

static void
jsep(void)
{
    if (!jfirst[jdepth]) {
        putchar(',');
    }
    jfirst[jdepth] = 0;
}

/* A JSON string literal of at most max bytes of s (stops at NUL). */
static void
json_string(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n, k;

    putchar('"');
    while (i < max && p[i] != '\0') {
        unsigned char c = p[i];

        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            switch (c) {
            case '\n': fputs("\\n", stdout); break;
            case '\r': fputs("\\r", stdout); break;
            case '\t': fputs("\\t", stdout); break;
            default: printf("\\u%04x", c); break;
            }
            i++;
            continue;
        }
        if (c < 0x80) {
            putchar(c);
            i++;
            continue;
        }
        /* multi-byte: copy a well-formed UTF-8 sequence, escape a stray byte */
        n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
          : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        for (k = 1; n != 0 && k < n; k++) {
            unsigned char d = i + k < max ? p[i + k] : 0;
            unsigned char lo = 0x80, hi = 0xbf;

            if (k == 1) {
                lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
                hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
            }
            if (d < lo || d > hi) {
                n = 0;
            }
        }
        if (n == 0) {
            printf("\\u%04x", c);
            i++;
        } else {
            fwrite(p + i, 1, n, stdout);
            i += n;
        }
    }
    putchar('"');
}

static void
jkey(const char *k)
{
    jsep();
    if (k != NULL) {
        json_string(k, SIZE_MAX);
        putchar(':');
    }
}

static void
jopen(const char *k, char c)
{
    jkey(k);
    putchar(c);
    jfirst[++jdepth] = 1;
}

static void
jclose(char c)
{
    jdepth--;
    putchar(c);
}

static void
jnum(const char *k, uint64_t v)
{
    jkey(k);
    printf("%" PRIu64, v);
}

/* v, or null when v == MSHM_NONE */
static void
jidx(const char *k, uint32_t v)
{
    jkey(k);
    if (v == MSHM_NONE) {
        fputs("null", stdout);
    } else {
        printf("%" PRIu32, v);
    }
}

static void
jnull(const char *k)
{
    jkey(k);
    fputs("null", stdout);
}

static void
jbool(const char *k, int v)
{
    jkey(k);
    fputs(v ? "true" : "false", stdout);
}

static void
jstr(const char *k, const char *s, size_t max)
{
    jkey(k);
    if (s == NULL) {
        fputs("null", stdout);
    } else {
        json_string(s, max);
    }
}

static void
jhex(const char *k, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%016" PRIx64, v);
    jstr(k, b, SIZE_MAX);
}

/* An enum: its name, or the number when unknown. */
static void
jenum(const char *k, const char *const *tab, size_t n, unsigned v)
{
    if (v < n) {
        jstr(k, tab[v], SIZE_MAX);
    } else {
        jnum(k, v);
    }
}
#define JENUM(k, tab, v) jenum((k), (tab), NELEM(tab), (unsigned)(v))

static void
jflags(const char *k, const struct bitname *t, size_t n, uint32_t f, uint32_t skip)
{
    uint32_t known = 0;
    char b[16];
    size_t i;

    jopen(k, '[');
    f &= ~skip;
    for (i = 0; i < n; i++) {
        known |= t[i].bit;
        if (f & t[i].bit) {
            jstr(NULL, t[i].name, SIZE_MAX);
        }
    }
    for (i = 0; i < 32; i++) {
        uint32_t bit = 1u << i;

        if ((f & bit) && !(known & bit)) {
            snprintf(b, sizeof(b), "0x%04" PRIx32, bit);
            jstr(NULL, b, SIZE_MAX);
        }
    }
    jclose(']');
}
#define JFLAGS(k, tab, f, skip) jflags((k), (tab), NELEM(tab), (f), (skip))

/* ---- state access -------------------------------------------------------- */

/* Everything one dump works from. */
struct ctx {
    const char *path;
    struct mshm_reader r;
    struct mshm_state st;        /* private copy, strings forced terminated */
    int valid;                   /* mshm_check_state verdict                */
    char invalid[256];           /* its reason                              */
    uint64_t now_mono;
    int same_boot;
};

static int
group_ok(const struct ctx *c, uint32_t gi)
{
    return gi < c->st.hdr.n_groups && (c->st.groups[gi].flags & MSHM_GF_IN_USE);
}

static int
server_ok(const struct ctx *c, uint32_t si)
{
    return si < c->st.hdr.n_servers && (c->st.servers[si].flags & MSHM_SF_IN_USE);
}

static int
cluster_ok(const struct ctx *c, uint32_t ci)
{
    return ci < c->st.hdr.n_clusters && (c->st.clusters[ci].flags & MSHM_CF_IN_USE);
}

/*
 * Hash slots member j of cluster ci owns under its slot map, as ranges
 * "0-5460,6000" in buf (ends in "..." when it does not fit).  Returns the
 * slot count, or -1 when the cluster has no usable slot map.
 */
static int
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
static const char *
server_host(const struct ctx *c, uint32_t si)
{
    return mshm_state_host(&c->st, &c->st.servers[si]);
}

/* "host:port" (terminal-safe), "-" for NONE, "server#N" when unresolvable. */
static const char *
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

static const char *
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

static const char *
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
static int
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
static int64_t
hb_age_ms(const struct ctx *c)
{
    uint64_t hb = mshm_ld(&mshm_hdr(&c->r)->hb_mono_ns);

    if (!c->same_boot || hb == 0 || hb > c->now_mono) {
        return -1;
    }
    return (int64_t)((c->now_mono - hb) / 1000000ull);
}

/* Age of a server's last good check in ms, or -1. */
static int64_t
ok_age_ms(const struct ctx *c, const struct mshm_server *s)
{
    if (!c->same_boot || s->last_ok_mono_ns == 0 || s->last_ok_mono_ns > c->now_mono) {
        return -1;
    }
    return (int64_t)((c->now_mono - s->last_ok_mono_ns) / 1000000ull);
}

/* ---- events -------------------------------------------------------------- */

/* The MSHM_RR_* reasons of a readsUnavailable event: "down,syncing", ... */
static const char *
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
static const char *
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
static uint32_t
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

static void
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
static int
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
            errmsg("%s: unsafe segment: %s", safe, strip_path(r, path));
        }
        return EX_ATTACH;
    case MSHM_ERR_VERSION:
        errmsg("%s: incompatible segment version: %s", safe, strip_path(r, path));
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
static int
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

/* ---- table output -------------------------------------------------------- */

static void
print_header(struct ctx *c)
{
    const struct mshm_reader *r = &c->r;
    const struct mshm_header *h = mshm_hdr(r);
    enum mshm_liveness lv = mshm_liveness(&c->r, c->now_mono);
    char t[64], fl[128], safe[1100], age[48], num[16];
    int64_t a = hb_age_ms(c);
    uint64_t head = mshm_ld_acq(&h->ev_head);

    if (a >= 0) {
        snprintf(age, sizeof(age), "heartbeat %" PRId64 " ms ago", a);
    } else {
        snprintf(age, sizeof(age), "heartbeat age unknown");
    }
    printf("segment %s  layout %u.%u  id %016" PRIx64 "  size %" PRIu64 " B  created %s\n",
           safe_text(safe, sizeof(safe), c->path, SIZE_MAX), r->geo.version_major,
           r->geo.version_minor, r->geo.segment_id, r->geo.total_size,
           fmt_time(t, sizeof(t), r->geo.created_realtime_ns, 0));
    flag_words(fl, sizeof(fl), hdr_flag_names, NELEM(hdr_flag_names), mshm_ld(&h->flags), 0, 1);
    {
        char lvu[16];
        const char *ln = ENAME(liveness_names, lv, num);
        size_t i;

        for (i = 0; ln[i] != '\0' && i + 1 < sizeof(lvu); i++) {
            lvu[i] = (char)(ln[i] >= 'a' && ln[i] <= 'z' ? ln[i] - 'a' + 'A' : ln[i]);
        }
        lvu[i] = '\0';
        printf("writer pid %" PRIu32 "  epoch %" PRIu32 "  controller %s (%s, every %" PRIu32
               " ms, stale after %" PRIu32 " ms)  flags %s\n",
               mshm_ld(&h->writer_pid), mshm_ld(&h->writer_epoch), lvu, age,
               mshm_ld(&h->hb_interval_ms), mshm_ld(&h->stale_after_ms), fl);
    }
    printf("generation %" PRIu64 " (copy %u)  pub_seq %" PRIu64 "  config %" PRIu64
           "  events %" PRIu64 " (ring %" PRIu32 ")\n",
           c->st.latch, (unsigned)(c->st.latch & 1), c->st.hdr.pub_seq,
           mshm_ld(&h->config_version), head > 0 ? head - 1 : 0, r->geo.ring_cap);
    printf("capacity groups %" PRIu32 "/%" PRIu32 "  servers %" PRIu32 "/%" PRIu32
           "  clusters %" PRIu32 "/%" PRIu32 "  long names %" PRIu32 "/%" PRIu32
           "  slot maps %" PRIu32 "/%" PRIu32 "\n",
           c->st.hdr.n_groups, r->geo.group_cap, c->st.hdr.n_servers, r->geo.server_cap,
           c->st.hdr.n_clusters, r->geo.cluster_cap, c->st.hdr.n_longnames,
           r->geo.longname_cap, c->st.hdr.n_slotmaps, r->geo.slotmap_cap);
    if (!c->valid) {
        printf("INVALID STATE: %s\n", c->invalid);
    }
}

static void
print_server(const struct ctx *c, uint32_t si)
{
    const struct mshm_server *s = &c->st.servers[si];
    char lab[TXT], fl[256], num1[16], num2[16], ok[40];
    int64_t a = ok_age_ms(c, s);

    if (a >= 0) {
        snprintf(ok, sizeof(ok), "  ok %" PRId64 " ms ago", a);
    } else {
        ok[0] = '\0';
    }
    printf("      %-22s %-8s %-8s power %-3" PRIu32 " lag %" PRIu32 " ms  rtt %" PRIu32
           " us  down %" PRIu32 " up %" PRIu32 "%s  flags %s\n",
           server_label(c, si, lab, sizeof(lab)), ENAME(role_names, s->role, num1),
           ENAME(health_names, s->health, num2), s->power, s->lag_ms, s->rtt_us, s->n_down,
           s->n_up, ok, FLAGS(fl, server_flag_names, s->flags, MSHM_SF_IN_USE, 0));
}

static void
print_groups(const struct ctx *c)
{
    uint32_t i, j, n = 0;
    char name[TXT], m[TXT], fl[256], num[16];

    for (i = 0; i < c->st.hdr.n_groups; i++) {
        n += group_ok(c, i);
    }
    printf("\nGROUPS (%" PRIu32 ")\n", n);
    for (i = 0; i < c->st.hdr.n_groups; i++) {
        const struct mshm_group *g = &c->st.groups[i];
        uint32_t ns = g->n_servers > MSHM_GROUP_SERVERS ? MSHM_GROUP_SERVERS : g->n_servers;

        if (!group_ok(c, i)) {
            continue;
        }
        printf("  %s  route %s  master %s  epoch %" PRIu64 "  power %" PRIu32
               "  max_lag %" PRIu32 " ms  change %" PRIu64 "  flags %s\n",
               group_label(c, i, name, sizeof(name)), ENAME(route_names, g->route, num),
               g->master_idx == MSHM_NONE ? "(none)" : server_label(c, g->master_idx, m,
                                                                    sizeof(m)),
               g->master_epoch, g->power, g->max_lag_ms, g->change_seq,
               FLAGS(fl, group_flag_names, g->flags, MSHM_GF_IN_USE, 0));
        printf("      counters: master down %" PRIu32 " up %" PRIu32 " switch %" PRIu32
               ", all-slaves down %" PRIu32 " up %" PRIu32 ", degraded %" PRIu32 "\n",
               g->n_master_down, g->n_master_up, g->n_master_switch, g->n_all_slaves_down,
               g->n_all_slaves_up, g->n_degraded);
        for (j = 0; j < ns; j++) {
            if (server_ok(c, g->servers[j])) {
                print_server(c, g->servers[j]);
            } else {
                printf("      server#%" PRIu32 " (not in use)\n", g->servers[j]);
            }
        }
    }
}

/* A member group's health: master up?, replicas listed and readable. */
struct ghealth {
    int has_master, master_up;
    uint32_t replicas, readable;
};

static struct ghealth
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

static void
print_clusters(const struct ctx *c, unsigned kind)
{
    uint32_t i, j, n = 0;
    char name[TXT], mn[TXT], fl[128], n1[16], n2[16], n3[16], n4[16], tag[24];

    for (i = 0; i < c->st.hdr.n_clusters; i++) {
        n += cluster_ok(c, i) && c->st.clusters[i].kind == kind;
    }
    printf("\n%s (%" PRIu32 ")\n", kind == MSHM_KIND_FARM ? "FARMS" : "CLUSTERS", n);
    for (i = 0; i < c->st.hdr.n_clusters; i++) {
        const struct mshm_cluster *cl = &c->st.clusters[i];
        uint32_t nm = cl->n_members > MSHM_CLUSTER_MEMBERS ? MSHM_CLUSTER_MEMBERS
                                                           : cl->n_members;

        if (!cluster_ok(c, i) || cl->kind != kind) {
            continue;
        }
        if (cl->flags & MSHM_CF_HASH_TAG) {
            char raw[3] = {(char)cl->hash_tag[0], (char)cl->hash_tag[1], '\0'};

            safe_text(tag, sizeof(tag), raw, 2);
        } else {
            snprintf(tag, sizeof(tag), "-");
        }
        printf("  %s  rule %s  dist %s  hash %s  hash_tag %s  mirror %s  change %" PRIu64
               "  flags %s\n",
               cluster_label(c, i, name, sizeof(name)), ENAME(rule_names, cl->rule, n1),
               ENAME(dist_names, cl->dist, n2), ENAME(hash_names, cl->hash, n3), tag,
               ENAME(mirror_names, cl->mirror_policy, n4), cl->change_seq,
               FLAGS(fl, cluster_flag_names, cl->flags, MSHM_CF_IN_USE, 0));
        for (j = 0; j < nm; j++) {
            const struct mshm_member *m = &cl->members[j];

            if (kind == MSHM_KIND_FARM) {
                cluster_label(c, m->idx, mn, sizeof(mn));
                printf("      %-22s power %-3u flags %s\n", mn, (unsigned)m->power,
                       FLAGS(fl, member_flag_names, m->flags, 0, 0));
            } else {
                struct ghealth h = group_health(c, m->idx);

                char ranges[200];
                int ns = member_slots(c, i, j, ranges, sizeof(ranges));

                group_label(c, m->idx, mn, sizeof(mn));
                printf("      %-22s power %-3u master %-4s readable %u/%u  flags %s", mn,
                       (unsigned)m->power, !h.has_master ? "none" : h.master_up ? "up" : "down",
                       h.readable, h.replicas, FLAGS(fl, member_flag_names, m->flags, 0, 0));
                if (ns >= 0) {
                    printf("  slots %d%s%s%s", ns, ns ? " (" : "", ranges, ns ? ")" : "");
                }
                printf("\n");
            }
        }
    }
}

static void
print_events(struct ctx *c, uint32_t n)
{
    struct mshm_event *ev;
    uint64_t lost;
    uint32_t k, i;
    char t[64], txt[4 * TXT];

    k = collect_events(&c->r, n, &ev, &lost);
    printf("\nEVENTS (last %" PRIu32 " of %" PRIu64 ")\n", k,
           mshm_ld_acq(&mshm_hdr(&c->r)->ev_head) - 1);
    for (i = 0; i < k; i++) {
        printf("  %s  #%-6" PRIu64 " %s\n", fmt_time(t, sizeof(t), ev[i].realtime_ns, 0),
               ev[i].seq, event_text(c, &ev[i], txt, sizeof(txt)));
    }
    if (lost > 0) {
        printf("  (%" PRIu64 " events overwritten while reading)\n", lost);
    }
    free(ev);
}

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

static void
print_json(struct ctx *c, uint32_t nev)
{
    enum mshm_liveness lv = mshm_liveness(&c->r, c->now_mono);

    jdepth = 0;
    jfirst[0] = 1;
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

/* ---- --check ------------------------------------------------------------- */

/* Enumerations of clusters a same-or-older-minor writer must keep in range. */
static int
check_enums(const struct ctx *c, char *err, size_t len)
{
    uint32_t i;

    for (i = 0; i < c->st.hdr.n_clusters; i++) {
        const struct mshm_cluster *cl = &c->st.clusters[i];

        if (!cluster_ok(c, i)) {
            continue;
        }
        if (cl->dist > MSHM_DIST_SLOTS || cl->hash > MSHM_HASH_ONE_AT_A_TIME ||
            cl->mirror_policy > MSHM_MIRROR_PRIMARY) {
            snprintf(err, len, "cluster %u: dist %u, hash %u or mirror policy %u unknown", i,
                     cl->dist, cl->hash, cl->mirror_policy);
            return -1;
        }
    }
    return 0;
}

/*
 * One pass over the event ring.  Every non-empty slot must hold a sequence
 * number that maps to its index, lies inside the window [head-cap, head) and
 * carries a known type.  Returns 0, or -1 with err set.
 */
static int
check_ring_once(const struct mshm_reader *r, int known_types, uint64_t *present,
                char *err, size_t len)
{
    const struct mshm_header *h = mshm_hdr(r);
    uint64_t head0 = mshm_ld_acq(&h->ev_head), head1, seq, cap = r->geo.ring_cap;
    struct mshm_event ev = {0};
    uint64_t i;

    *present = 0;
    if (head0 == 0) {
        snprintf(err, len, "event ring head is 0 (sequence numbers start at 1)");
        return -1;
    }
    for (i = 0; i < cap; i++) {
        const struct mshm_event *e =
            (const void *)(r->base + r->geo.ring_off + i * r->geo.ring_stride);

        seq = mshm_ld_acq(&e->seq);
        if (seq == 0 || seq == UINT64_MAX) {
            continue;       /* empty, or being written */
        }
        mshm_copy_in(&ev, e, sizeof(ev));
        mshm_fence_acq();
        if (mshm_ld(&e->seq) != seq) {
            continue;       /* rewritten while we looked: the next pass sees it */
        }
        head1 = mshm_ld_acq(&h->ev_head);
        if ((seq & (cap - 1)) != i) {
            snprintf(err, len, "event ring slot %" PRIu64 " holds seq %" PRIu64
                     " which belongs in slot %" PRIu64, i, seq, seq & (cap - 1));
            return -1;
        }
        if (seq >= head1) {
            snprintf(err, len, "event ring slot %" PRIu64 " holds seq %" PRIu64
                     " >= ev_head %" PRIu64, i, seq, head1);
            return -1;
        }
        if (head0 > cap && seq < head0 - cap) {
            snprintf(err, len, "event ring slot %" PRIu64 " holds seq %" PRIu64
                     " older than the ring window [%" PRIu64 ", %" PRIu64 ")",
                     i, seq, head0 - cap, head0);
            return -1;
        }
        if (known_types && (ev.type == MSHM_EV_NONE || ev.type >= MSHM_EV_TYPE_MAX)) {
            snprintf(err, len, "event seq %" PRIu64 " has unknown type %u", seq,
                     (unsigned)ev.type);
            return -1;
        }
        if ((ev.group_idx != MSHM_NONE && ev.group_idx >= r->geo.group_cap) ||
            (ev.server_idx != MSHM_NONE && ev.server_idx >= r->geo.server_cap) ||
            (ev.old_idx != MSHM_NONE &&
             ev.old_idx >= (ev.type == MSHM_EV_MIRROR_DIVERGED ? r->geo.cluster_cap
                                                                : r->geo.server_cap)) ||
            (ev.new_idx != MSHM_NONE && ev.new_idx >= r->geo.server_cap) ||
            (ev.cluster_idx != MSHM_NONE && ev.cluster_idx >= r->geo.cluster_cap)) {
            snprintf(err, len, "event seq %" PRIu64 " refers to a record index beyond "
                     "the segment's capacities", seq);
            return -1;
        }
        (*present)++;
    }
    return 0;
}

static int
run_check(struct ctx *c)
{
    char err[256], safe[1100];
    uint64_t present = 0;
    int rc, i, known = c->r.geo.version_minor <= MSHM_VERSION_MINOR;
    uint32_t ng = 0, ns = 0, nc = 0, nf = 0;
    enum mshm_liveness lv;
    char num[16];

    safe_text(safe, sizeof(safe), c->path, SIZE_MAX);
    rc = load_state(c);
    if (rc != MSHM_OK && rc != MSHM_ERR_CORRUPT) {
        errmsg("%s: %s", safe, c->invalid);
        return EX_SYS;
    }
    if (rc != MSHM_OK || !c->valid) {
        errmsg("%s: state copy %u (generation %" PRIu64 ") fails validation: %s", safe,
               (unsigned)(c->st.latch & 1), c->st.latch, c->invalid);
        return EX_CORRUPT;
    }
    if (known && check_enums(c, err, sizeof(err)) != 0) {
        errmsg("%s: state copy %u (generation %" PRIu64 ") fails validation: %s", safe,
               (unsigned)(c->st.latch & 1), c->st.latch, err);
        return EX_CORRUPT;
    }
    /* the writer may be appending: a failure must persist to count */
    for (i = 0; i < 5; i++) {
        if (check_ring_once(&c->r, known, &present, err, sizeof(err)) == 0) {
            break;
        }
        sleep_ms(20);
    }
    if (i == 5) {
        errmsg("%s: event ring fails validation: %s", safe, err);
        return EX_CORRUPT;
    }
    for (uint32_t k = 0; k < c->st.hdr.n_groups; k++) {
        ng += group_ok(c, k);
    }
    for (uint32_t k = 0; k < c->st.hdr.n_servers; k++) {
        ns += server_ok(c, k);
    }
    for (uint32_t k = 0; k < c->st.hdr.n_clusters; k++) {
        if (cluster_ok(c, k)) {
            nc += c->st.clusters[k].kind == MSHM_KIND_CLUSTER;
            nf += c->st.clusters[k].kind == MSHM_KIND_FARM;
        }
    }
    lv = mshm_liveness(&c->r, mshm_now_ns());
    printf("OK %s: layout %u.%u, generation %" PRIu64 ", %" PRIu32 " groups, %" PRIu32
           " servers, %" PRIu32 " clusters, %" PRIu32 " farms, %" PRIu64
           " events in the ring (%" PRIu32 " slots), controller %s\n",
           safe, c->r.geo.version_major, c->r.geo.version_minor, c->st.latch, ng, ns, nc, nf,
           present, c->r.geo.ring_cap, ENAME(liveness_names, lv, num));
    return EX_OK;
}

/* ---- --watch ------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* What the watcher last saw of each group. */
struct watch {
    struct ctx c;
    uint64_t latch;          /* generation last compared (UINT64_MAX: none) */
    uint32_t notify_seen;
    uint32_t cap;            /* entries in the arrays below                */
    uint64_t *seq;           /* change_seq per group index                 */
    uint32_t *gen;
    uint8_t *used;
    char (*name)[MSHM_NAME_MAX];
    int liveness;            /* -1: not yet reported                       */
    uint32_t hflags;
    long lines, max_lines;   /* max_lines 0: no limit                      */
};

/* Print one line (time-stamped now unless ts given); 1 when the count is reached. */
static int
wline(struct watch *w, uint64_t ts_ns, const char *fmt, ...)
{
    char t[64];
    va_list ap;

    printf("%s ", fmt_time(t, sizeof(t), ts_ns ? ts_ns : realtime_now_ns(), 0));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    w->lines++;
    return w->max_lines > 0 && w->lines >= w->max_lines;
}

/* Forget the baseline: the next state compare reports every group. */
static int
watch_reset(struct watch *w)
{
    uint32_t cap = w->c.r.geo.group_cap;

    free(w->seq);
    free(w->gen);
    free(w->used);
    free(w->name);
    w->cap = cap;
    w->seq = calloc(cap, sizeof(*w->seq));
    w->gen = calloc(cap, sizeof(*w->gen));
    w->used = calloc(cap, sizeof(*w->used));
    w->name = calloc(cap, sizeof(*w->name));
    w->latch = UINT64_MAX;
    w->notify_seen = mshm_ld_acq(&mshm_hdr(&w->c.r)->notify);
    return w->seq && w->gen && w->used && w->name ? 0 : -1;
}

/* Take the current state as the baseline without printing. */
static void
watch_baseline(struct watch *w)
{
    uint32_t i;

    if (load_state(&w->c) != MSHM_OK) {
        return;
    }
    for (i = 0; i < w->c.st.hdr.n_groups && i < w->cap; i++) {
        const struct mshm_group *g = &w->c.st.groups[i];

        w->used[i] = (g->flags & MSHM_GF_IN_USE) != 0;
        w->seq[i] = g->change_seq;
        w->gen[i] = g->gen;
        memcpy(w->name[i], g->name, MSHM_NAME_MAX);
    }
    w->latch = w->c.st.latch;
}

/* One line summing up group gi of the current state. */
static int
watch_group_line(struct watch *w, uint32_t gi)
{
    const struct ctx *c = &w->c;
    const struct mshm_group *g = &c->st.groups[gi];
    uint32_t j, up = 0, down = 0, unk = 0, readable = 0;
    uint32_t ns = g->n_servers > MSHM_GROUP_SERVERS ? MSHM_GROUP_SERVERS : g->n_servers;
    char name[TXT], m[TXT + 32], fl[256], mh[16];

    for (j = 0; j < ns; j++) {
        const struct mshm_server *s;

        if (!server_ok(c, g->servers[j])) {
            continue;
        }
        s = &c->st.servers[g->servers[j]];
        up += s->health == MSHM_HEALTH_UP;
        down += s->health == MSHM_HEALTH_DOWN;
        unk += s->health != MSHM_HEALTH_UP && s->health != MSHM_HEALTH_DOWN;
        readable += (s->flags & MSHM_SF_READABLE) != 0;
    }
    if (g->master_idx == MSHM_NONE) {
        snprintf(m, sizeof(m), "(none)");
    } else if (server_ok(c, g->master_idx)) {
        char lab[TXT];

        snprintf(m, sizeof(m), "%s (%s)", server_label(c, g->master_idx, lab, sizeof(lab)),
                 ENAME(health_names, c->st.servers[g->master_idx].health, mh));
    } else {
        server_label(c, g->master_idx, m, sizeof(m));
    }
    return wline(w, 0,
                 "group %s: master %s, %" PRIu32 " servers (%" PRIu32 " up, %" PRIu32
                 " down, %" PRIu32 " unknown, %" PRIu32 " readable), epoch %" PRIu64
                 ", flags %s",
                 group_label(c, gi, name, sizeof(name)), m, ns, up, down, unk, readable,
                 g->master_epoch, FLAGS(fl, group_flag_names, g->flags, MSHM_GF_IN_USE, 0));
}

/* Report groups changed since the baseline; 1 when the line count is reached. */
static int
watch_state(struct watch *w)
{
    uint64_t l = mshm_generation(&w->c.r);
    uint32_t i, n;
    char safe[TXT];

    if (l == w->latch) {
        return 0;
    }
    if (load_state(&w->c) != MSHM_OK) {
        return wline(w, 0, "state unreadable: %s", w->c.invalid);
    }
    if (!w->c.valid && wline(w, 0, "state fails validation: %s", w->c.invalid)) {
        return 1;
    }
    n = w->c.st.hdr.n_groups > w->cap ? w->cap : w->c.st.hdr.n_groups;
    for (i = 0; i < w->cap; i++) {
        const struct mshm_group *g = i < n ? &w->c.st.groups[i] : NULL;
        int used = g != NULL && (g->flags & MSHM_GF_IN_USE);

        if (used && (!w->used[i] || w->seq[i] != g->change_seq || w->gen[i] != g->gen)) {
            if (watch_group_line(w, i)) {
                return 1;
            }
        } else if (!used && w->used[i]) {
            if (wline(w, 0, "group %s: removed",
                      safe_text(safe, sizeof(safe), w->name[i], MSHM_NAME_MAX))) {
                return 1;
            }
        }
        w->used[i] = (uint8_t)used;
        if (g != NULL) {
            w->seq[i] = g->change_seq;
            w->gen[i] = g->gen;
            memcpy(w->name[i], g->name, MSHM_NAME_MAX);
        }
    }
    w->latch = w->c.st.latch;
    return 0;
}

/* New events from the ring; 1 when the line count is reached. */
static int
watch_events(struct watch *w)
{
    struct mshm_event ev = {0};
    uint64_t lost;
    char txt[4 * TXT];
    int rc, loaded = 0;

    for (;;) {
        lost = 0;
        rc = mshm_next_event(&w->c.r, &ev, &lost);
        if (rc == MSHM_ERR_LOST) {
            if (wline(w, 0, "events lost: %" PRIu64 " (overrun; state resynced)", lost)) {
                return 1;
            }
            w->latch = UINT64_MAX;     /* force a state compare */
            continue;
        }
        if (rc != 1) {
            return 0;
        }
        if (!loaded) {
            /* names of the records the events refer to */
            if (w->c.st.groups == NULL || w->c.st.latch != mshm_generation(&w->c.r)) {
                load_state(&w->c);
            }
            loaded = 1;
        }
        if (wline(w, ev.realtime_ns, "#%" PRIu64 " %s", ev.seq,
                  event_text(&w->c, &ev, txt, sizeof(txt)))) {
            return 1;
        }
    }
}

/* Liveness / header flag changes; 1 when the line count is reached. */
static int
watch_liveness(struct watch *w)
{
    enum mshm_liveness lv = mshm_liveness(&w->c.r, mshm_now_ns());
    uint32_t f = mshm_ld_acq(&mshm_hdr(&w->c.r)->flags);
    char fl[128], num[16];

    if ((int)lv == w->liveness && f == w->hflags) {
        return 0;
    }
    w->liveness = (int)lv;
    w->hflags = f;
    return wline(w, 0, "controller %s, flags %s", ENAME(liveness_names, lv, num),
                 FLAGS(fl, hdr_flag_names, f, 0, 1));
}

static int
run_watch(const char *path, long count, long timeout_ms)
{
    struct watch w;
    struct sigaction sa;
    uint64_t deadline = 0, now;
    char safe[1100], num[16];
    int rc, waited = 0, slice, reattach_err = MSHM_OK;
    enum mshm_liveness lv;

    memset(&w, 0, sizeof(w));
    w.c.path = path;
    w.max_lines = count;
    w.liveness = -1;
    safe_text(safe, sizeof(safe), path, SIZE_MAX);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (timeout_ms > 0) {
        deadline = mshm_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    }

    /* wait for the segment to appear (bounded by --timeout) */
    for (;;) {
        rc = mshm_attach(&w.c.r, path, 0);
        if (rc == MSHM_OK) {
            break;
        }
        if (rc != MSHM_ERR_NOENT && rc != MSHM_ERR_RETIRED) {
            return report_attach(&w.c.r, path, rc);
        }
        if (stop_flag || (deadline != 0 && mshm_now_ns() >= deadline)) {
            return report_attach(&w.c.r, path, rc);
        }
        if (!waited) {
            errmsg("waiting for a segment at %s", safe);
            waited = 1;
        }
        sleep_ms(20);
    }
    w.c.same_boot = same_boot(&w.c.r);
    if (watch_reset(&w) != 0) {
        errmsg("out of memory");
        return EX_SYS;
    }
    if (waited) {
        mshm_events_seek(&w.c.r, 1);    /* a new segment: all of it is news */
    } else {
        watch_baseline(&w);
    }
    lv = mshm_liveness(&w.c.r, mshm_now_ns());
    w.liveness = (int)lv;
    w.hflags = mshm_ld_acq(&mshm_hdr(&w.c.r)->flags);
    rc = wline(&w, 0, "watching %s: segment %016" PRIx64 ", layout %u.%u, generation %" PRIu64
               ", controller %s", safe, w.c.r.geo.segment_id, w.c.r.geo.version_major,
               w.c.r.geo.version_minor, mshm_generation(&w.c.r),
               ENAME(liveness_names, lv, num));

    while (!rc && !stop_flag) {
        if (mshm_replaced(&w.c.r)) {
            int rrc = mshm_reattach(&w.c.r, 0);

            if (rrc != MSHM_OK && rrc != reattach_err) {
                /* keep the old mapping and retry; say why once */
                errmsg("%s: segment replaced, cannot re-attach yet: %s: %s", safe,
                       mshm_strerror(rrc), w.c.r.errstr);
            }
            reattach_err = rrc;
            if (rrc == MSHM_OK) {
                w.c.same_boot = same_boot(&w.c.r);
                if (watch_reset(&w) != 0) {
                    errmsg("out of memory");
                    return EX_SYS;
                }
                mshm_events_seek(&w.c.r, 1);
                w.liveness = -1;
                rc = wline(&w, 0, "segment replaced: re-attached %s: segment %016" PRIx64
                           ", layout %u.%u", safe, w.c.r.geo.segment_id,
                           w.c.r.geo.version_major, w.c.r.geo.version_minor);
                if (rc) {
                    break;
                }
            }
        }
        rc = watch_events(&w);
        if (!rc) {
            rc = watch_state(&w);
        }
        if (!rc) {
            rc = watch_liveness(&w);
        }
        if (rc) {
            break;
        }
        slice = 250;
        if (deadline != 0) {
            now = mshm_now_ns();
            if (now >= deadline) {
                break;
            }
            if ((deadline - now) / 1000000ull < (uint64_t)slice) {
                slice = (int)((deadline - now) / 1000000ull) + 1;
            }
        }
        mshm_wait(&w.c.r, &w.notify_seen, slice);
    }
    mshm_state_free(&w.c.st);
    mshm_detach(&w.c.r);
    free(w.seq);
    free(w.gen);
    free(w.used);
    free(w.name);
    return EX_OK;
}

/* ---- main ---------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f,
"usage: " PROG " [options] [SEGMENT]\n"
"\n"
"Inspect a Marshal shared-memory segment (read-only; never writes to it).\n"
"SEGMENT is the segment file; default $MARSHAL_SEGMENT, else " DEFAULT_SEGMENT ".\n"
"\n"
"Modes (at most one; default: a human-readable table):\n"
"  -j, --json         one JSON object (schema: docs/shmdump-json.md)\n"
"  -w, --watch        block on the segment's futex and print every change as it\n"
"                     happens: each new event, each changed group, controller\n"
"                     liveness changes; re-attaches when the segment is replaced.\n"
"                     Waits for a missing segment to appear.  stdout is flushed\n"
"                     per line.\n"
"  -c, --check        validate the header, every state invariant and the event\n"
"                     ring; print \"OK ...\" and exit 0, or the reason and exit 1\n"
"  -k, --key KEY      where KEY routes in every cluster and farm (or only in\n"
"                     --target NAME, which may also be a group): hash tag, hash\n"
"                     value, ring point, group, and the servers for writes and\n"
"                     for reads; exit 1 if it cannot be placed, 2 unknown target\n"
"\n"
"Options:\n"
"  -e, --events N     events to show in the table / JSON (default 10, 0 = none)\n"
"  -T, --target NAME  --key: only this cluster, farm or group\n"
"  -n, --count N      --watch: stop after printing N lines\n"
"  -t, --timeout MS   --watch: stop after MS milliseconds (also bounds the wait\n"
"                     for a missing segment)\n"
"  -h, --help         this text\n"
"\n"
"Exit codes:\n"
"  0   success (--watch: --count reached, --timeout expired or SIGINT/SIGTERM)\n"
"  1   the segment is corrupt: header, state copy or event ring fails validation\n"
"      (the table/JSON is still printed for a state that fails validation)\n"
"  2   the segment cannot be used: no segment at the path, permission denied or\n"
"      unsafe owner/mode (group/other-writable, symlink), incompatible layout\n"
"      version, retired\n"
"  3   system error, out of memory, or the writer never paused long enough\n"
"  64  usage error\n");
}

static int
parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = v;
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},      {"watch", no_argument, NULL, 'w'},
        {"check", no_argument, NULL, 'c'},     {"events", required_argument, NULL, 'e'},
        {"count", required_argument, NULL, 'n'}, {"timeout", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},  {"target", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    const char *key = NULL, *target = NULL;
    long nev = 10, count = 0, timeout = 0;
    int mode = 0, o, rc;
    const char *path;
    struct ctx c;

    while ((o = getopt_long(argc, argv, "jwck:T:e:n:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'j':
        case 'w':
        case 'c':
        case 'k':
            if (mode != 0 && mode != o) {
                errmsg("--json, --watch, --check and --key are exclusive");
                return EX_USAGE;
            }
            mode = o;
            if (o == 'k') {
                key = optarg;
            }
            break;
        case 'T':
            target = optarg;
            break;
        case 'e':
            if (parse_num(optarg, 0, MAX_EVENTS_ARG, &nev) != 0) {
                errmsg("--events: expected a number in [0, %d]", MAX_EVENTS_ARG);
                return EX_USAGE;
            }
            break;
        case 'n':
            if (parse_num(optarg, 1, LONG_MAX, &count) != 0) {
                errmsg("--count: expected a positive number");
                return EX_USAGE;
            }
            break;
        case 't':
            if (parse_num(optarg, 1, INT_MAX, &timeout) != 0) {
                errmsg("--timeout: expected a positive number of milliseconds");
                return EX_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        default:
            fprintf(stderr, "Try '" PROG " --help' for more information.\n");
            return EX_USAGE;
        }
    }
    if (optind + 1 < argc) {
        errmsg("expected at most one SEGMENT argument");
        return EX_USAGE;
    }
    if ((count || timeout) && mode != 'w') {
        errmsg("--count and --timeout only apply to --watch");
        return EX_USAGE;
    }
    if (target != NULL && mode != 'k') {
        errmsg("--target only applies to --key");
        return EX_USAGE;
    }
    if (optind < argc) {
        path = argv[optind];
    } else if (getenv("MARSHAL_SEGMENT") != NULL && getenv("MARSHAL_SEGMENT")[0] != '\0') {
        path = getenv("MARSHAL_SEGMENT");
    } else {
        path = DEFAULT_SEGMENT;
    }

    if (mode == 'w') {
        return run_watch(path, count, timeout);
    }

    memset(&c, 0, sizeof(c));
    c.path = path;
    rc = attach(&c.r, path);
    if (rc != MSHM_OK) {
        return report_attach(&c.r, path, rc);
    }
    c.same_boot = same_boot(&c.r);
    if (mode == 'c') {
        rc = run_check(&c);
    } else {
        rc = load_state(&c);
        if (rc != MSHM_OK) {
            char safe[1100];

            errmsg("%s: %s", safe_text(safe, sizeof(safe), path, SIZE_MAX), c.invalid);
            rc = rc == MSHM_ERR_CORRUPT ? EX_CORRUPT : EX_SYS;
        } else {
            if (mode == 'k') {
                rc = shmdump_key(stdout, &c.st, key, target);
            } else if (mode == 'j') {
                print_json(&c, (uint32_t)nev);
            } else {
                print_header(&c);
                print_groups(&c);
                print_clusters(&c, MSHM_KIND_CLUSTER);
                print_clusters(&c, MSHM_KIND_FARM);
                if (nev > 0) {
                    print_events(&c, (uint32_t)nev);
                }
            }
            if (mode != 'k') {
                rc = EX_OK;
            }
            if (!c.valid) {
                char safe[1100];

                errmsg("%s: state copy fails validation: %s",
                       safe_text(safe, sizeof(safe), path, SIZE_MAX), c.invalid);
                rc = EX_CORRUPT;
            }
        }
    }
    if (fflush(stdout) != 0 && rc == EX_OK) {
        rc = EX_SYS;
    }
    mshm_state_free(&c.st);
    mshm_detach(&c.r);
    return rc;
}
