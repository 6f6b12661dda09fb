/*
 * fmt.c -- marshal-shmdump's shared formatting helpers (see fmt.h): name
 * tables, enum and flag words, safe text, times, the JSON writer.
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

#include "fmt.h"

/* ---- name tables --------------------------------------------------------- */

const char *const seg_state_names[] = {"initializing", "live", "retired"};
const char *const route_names[] = {"master", "readonly", "split"};
const char *const role_names[] = {"unknown", "master", "replica"};
const char *const health_names[] = {"unknown", "up", "down"};
const char *const kind_names[] = {"cluster", "farm"};
const char *const rule_names[] = {"marshal0", "marshal1", "marshal10"};
const char *const dist_names[] = {"ketama", "modula", "slots"};
const char *const hash_names[] = {
    "fnv1a_64", "md5",   "crc32a", "murmur", "fnv1_64", "fnv1a_32",
    "fnv1_32",  "crc32", "crc16",  "jenkins", "hsieh",  "one_at_a_time"};
const char *const mirror_names[] = {"all", "primary"};
const char *const liveness_names[] = {"live", "stale", "stopped", "retired"};
const char *const event_names[] = {
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

const struct bitname hdr_flag_names[] = {
    {MSHM_HF_WARMING_UP, "warming_up"},
    {MSHM_HF_WRITER_STOPPED, "writer_stopped"},
};
const struct bitname group_flag_names[] = {
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
const struct bitname server_flag_names[] = {
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
const struct bitname cluster_flag_names[] = {
    {MSHM_CF_IN_USE, "in_use"},
    {MSHM_CF_HASH_TAG, "hash_tag"},
    {MSHM_CF_SLOTMAP, "slot_map"},
};
const struct bitname member_flag_names[] = {
    {MSHM_MF_PRIMARY, "primary"},
    {MSHM_MF_DIVERGED, "diverged"},
};

/* Name of enum value v, or its number (in buf) when unknown. */
const char *
ename(const char *const *tab, size_t n, unsigned v, char buf[16])
{
    if (v < n) {
        return tab[v];
    }
    snprintf(buf, 16, "%u", v);
    return buf;
}

/*
 * Flags f as words joined by sep ("readable,syncing"), skipping the bits in
 * skip; unknown bits as 0x....; "-" when nothing is left.  upper: WORDS.
 */
const char *
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

/*
 * Terminal-safe copy of a segment string (at most max bytes): printable
 * ASCII as is, backslash doubled, everything else as \xNN.
 */
const char *
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
const char *
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

uint64_t
realtime_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Is the segment's monotonic clock ours (same kernel boot)?  Unknown = yes. */
int
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

void
jopen(const char *k, char c)
{
    jkey(k);
    putchar(c);
    jfirst[++jdepth] = 1;
}

void
jclose(char c)
{
    jdepth--;
    putchar(c);
}

void
jnum(const char *k, uint64_t v)
{
    jkey(k);
    printf("%" PRIu64, v);
}

/* v, or null when v == MSHM_NONE */
void
jidx(const char *k, uint32_t v)
{
    jkey(k);
    if (v == MSHM_NONE) {
        fputs("null", stdout);
    } else {
        printf("%" PRIu32, v);
    }
}

void
jnull(const char *k)
{
    jkey(k);
    fputs("null", stdout);
}

void
jbool(const char *k, int v)
{
    jkey(k);
    fputs(v ? "true" : "false", stdout);
}

void
jstr(const char *k, const char *s, size_t max)
{
    jkey(k);
    if (s == NULL) {
        fputs("null", stdout);
    } else {
        json_string(s, max);
    }
}

void
jhex(const char *k, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%016" PRIx64, v);
    jstr(k, b, SIZE_MAX);
}

/* An enum: its name, or the number when unknown. */
void
jenum(const char *k, const char *const *tab, size_t n, unsigned v)
{
    if (v < n) {
        jstr(k, tab[v], SIZE_MAX);
    } else {
        jnum(k, v);
    }
}

void
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


/* Start a new JSON document (top level, no member written yet). */
void
jreset(void)
{
    jdepth = 0;
    jfirst[0] = 1;
}
