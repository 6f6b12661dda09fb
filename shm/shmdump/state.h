/*
 * state.h -- what every marshal-shmdump mode works from, owned by state.c:
 * the dump context (one attached reader and a private, checked copy of the
 * state), bounds-checked record access and labels, group health, event text
 * and collection from the ring, and error reporting for attach failures
 * (with the exit code each maps to).
 */
#ifndef SHMDUMP_STATE_H
#define SHMDUMP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "fmt.h"
#include "mshm_attach.h"
#include "mshm_read.h"

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

/* A group's master and replica health (group_health()). */
struct ghealth {
    int has_master, master_up;
    uint32_t replicas, readable;
};

int group_ok(const struct ctx *c, uint32_t gi);
int server_ok(const struct ctx *c, uint32_t si);
int cluster_ok(const struct ctx *c, uint32_t ci);
int member_slots(const struct ctx *c, uint32_t ci, uint32_t j, char *buf, size_t len);
const char *server_host(const struct ctx *c, uint32_t si);
const char *server_label(const struct ctx *c, uint32_t si, char *out, size_t len);
const char *group_label(const struct ctx *c, uint32_t gi, char *out, size_t len);
const char *cluster_label(const struct ctx *c, uint32_t ci, char *out, size_t len);
int load_state(struct ctx *c);
int64_t hb_age_ms(const struct ctx *c);
int64_t ok_age_ms(const struct ctx *c, const struct mshm_server *s);
const char *reason_text(uint16_t why, char *out, size_t len);
const char *event_text(const struct ctx *c, const struct mshm_event *e, char *out, size_t len);
uint32_t collect_events(struct mshm_reader *r, uint32_t n, struct mshm_event **out, uint64_t *lost);
void errmsg(const char *fmt, ...);
int report_attach(const struct mshm_reader *r, const char *path, int rc);
int attach(struct mshm_reader *r, const char *path);
struct ghealth group_health(const struct ctx *c, uint32_t gi);

#endif /* SHMDUMP_STATE_H */
