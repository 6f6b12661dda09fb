/*
 * fmt.h -- marshal-shmdump's shared formatting, owned by fmt.c: the program's
 * constants and exit codes, the enum and flag name tables of the segment
 * (one copy, shared by the table, JSON, watch and check modes), enum/flag
 * words, terminal-safe text, times, and the streaming JSON writer (one
 * document at a time on stdout; jreset() starts one).
 */
#ifndef SHMDUMP_FMT_H
#define SHMDUMP_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "mshm_read.h"

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

/* A flag bit and its name. */
struct bitname {
    uint32_t bit;
    const char *name;
};

/* Name tables, indexed by the segment's enum values (fmt.c). */
extern const char *const seg_state_names[3];
extern const char *const route_names[MSHM_ROUTE_SPLIT + 1];
extern const char *const role_names[3];
extern const char *const health_names[3];
extern const char *const kind_names[2];
extern const char *const rule_names[MSHM_RULE_MARSHAL10 + 1];
extern const char *const dist_names[MSHM_DIST_SLOTS + 1];
extern const char *const hash_names[MSHM_HASH_ONE_AT_A_TIME + 1];
extern const char *const mirror_names[2];
extern const char *const liveness_names[MSHM_RETIRED + 1];
extern const char *const event_names[MSHM_EV_TYPE_MAX];
extern const struct bitname hdr_flag_names[2];
extern const struct bitname group_flag_names[10];
extern const struct bitname server_flag_names[11];
extern const struct bitname cluster_flag_names[3];
extern const struct bitname member_flag_names[2];

const char *ename(const char *const *tab, size_t n, unsigned v, char buf[16]);
const char *flag_words(char *out, size_t len, const struct bitname *t, size_t n, uint32_t f,
                       uint32_t skip, int upper);
const char *safe_text(char *out, size_t len, const char *s, size_t max);
const char *fmt_time(char *out, size_t len, uint64_t realtime_ns, int iso);
uint64_t realtime_now_ns(void);
void sleep_ms(unsigned ms);
int same_boot(const struct mshm_reader *r);
void jopen(const char *k, char c);
void jclose(char c);
void jnum(const char *k, uint64_t v);
void jidx(const char *k, uint32_t v);
void jnull(const char *k);
void jbool(const char *k, int v);
void jstr(const char *k, const char *s, size_t max);
void jhex(const char *k, uint64_t v);
void jenum(const char *k, const char *const *tab, size_t n, unsigned v);
void jflags(const char *k, const struct bitname *t, size_t n, uint32_t f, uint32_t skip);
void jreset(void);

/* Table-sized wrappers of ename(), flag_words(), jenum(), jflags(). */
#define ENAME(tab, v, buf) ename((tab), NELEM(tab), (unsigned)(v), (buf))
#define FLAGS(buf, tab, f, skip, upper) \
    flag_words((buf), sizeof(buf), (tab), NELEM(tab), (f), (skip), (upper))
#define JENUM(k, tab, v) jenum((k), (tab), NELEM(tab), (unsigned)(v))
#define JFLAGS(k, tab, f, skip) jflags((k), (tab), NELEM(tab), (f), (skip))

#endif /* SHMDUMP_FMT_H */
