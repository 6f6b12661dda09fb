/*
 * ctl_config.c -- parse and validate marshal.conf (libconfig syntax).
 *
 * Every error names file:line and the setting's path.  Unknown settings are
 * errors (a misspelt "down_after" must not silently fall back to a default).
 * The secrets file, if any, is refused when group or others can access it.
 * See etc/marshal.conf for every setting with its default.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ctl_config.h"
#include "mshm_layout.h"

/* Parser state: the file being read and where errors go. */
struct parse {
    const char *file;
    char *err;
    size_t errlen;
    int failed;
};

static void
fail_at(struct parse *p, const config_setting_t *s, const char *fmt, ...)
{
    char path[256] = "", msg[384];
    const config_setting_t *c;
    char part[80];
    const char *file = p->file;
    va_list ap;
    int line = 0;

    if (p->failed) {
        return;             /* keep the first error */
    }
    p->failed = 1;
    /* build "a.b.[2].c" from the setting up to the root */
    for (c = s; c != NULL && config_setting_parent(c) != NULL; c = config_setting_parent(c)) {
        char tmp[sizeof(path) + sizeof(part) + 2];
        size_t n;

        if (config_setting_name(c) != NULL) {
            snprintf(part, sizeof(part), "%s", config_setting_name(c));
        } else {
            snprintf(part, sizeof(part), "[%d]", config_setting_index(c));
        }
        snprintf(tmp, sizeof(tmp), "%s%s%s", part, path[0] ? "." : "", path);
        n = strnlen(tmp, sizeof(path) - 1);
        memcpy(path, tmp, n);
        path[n] = '\0';
    }
    if (s != NULL) {
        line = config_setting_source_line(s);
        if (line == 0) {
            line = 1;   /* the root setting has no line of its own */
        }
        if (config_setting_source_file(s) != NULL) {
            file = config_setting_source_file(s);
        }
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%d: %s: %s", file, line, path[0] ? path : "(top)", msg);
}

/* Refuse settings not in the allowed list. */
static void
only_keys(struct parse *p, const config_setting_t *grp, const char *const *keys)
{
    int i, n;
    const char *const *k;

    if (grp == NULL || !config_setting_is_group(grp)) {
        return;
    }
    n = config_setting_length(grp);
    for (i = 0; i < n; i++) {
        const config_setting_t *c = config_setting_get_elem(grp, (unsigned)i);
        const char *name = config_setting_name(c);

        for (k = keys; *k != NULL; k++) {
            if (strcmp(*k, name) == 0) {
                break;
            }
        }
        if (*k == NULL) {
            fail_at(p, c, "unknown setting");
            return;
        }
    }
}

static const config_setting_t *
member(struct parse *p, const config_setting_t *grp, const char *name, int type, int required)
{
    config_setting_t *c;

    if (grp == NULL) {
        return NULL;
    }
    c = config_setting_get_member(grp, name);
    if (c == NULL) {
        if (required) {
            fail_at(p, grp, "missing required setting \"%s\"", name);
        }
        return NULL;
    }
    if (type == CONFIG_TYPE_GROUP && !config_setting_is_group(c)) {
        fail_at(p, c, "must be a group { ... }");
        return NULL;
    }
    if (type == CONFIG_TYPE_LIST &&
        !(config_setting_is_list(c) || config_setting_is_array(c))) {
        fail_at(p, c, "must be a list ( ... ) or array [ ... ]");
        return NULL;
    }
    if (type == CONFIG_TYPE_STRING && config_setting_type(c) != CONFIG_TYPE_STRING) {
        fail_at(p, c, "must be a string");
        return NULL;
    }
    if (type == CONFIG_TYPE_BOOL && config_setting_type(c) != CONFIG_TYPE_BOOL) {
        fail_at(p, c, "must be true or false");
        return NULL;
    }
    return c;
}

/* Integer setting in [lo, hi]; *out untouched when absent. */
static void
get_uint(struct parse *p, const config_setting_t *grp, const char *name, uint32_t lo,
         uint32_t hi, uint32_t *out)
{
    const config_setting_t *c = config_setting_get_member(grp, name);
    long long v;

    if (grp == NULL || c == NULL) {
        return;
    }
    if (config_setting_type(c) != CONFIG_TYPE_INT && config_setting_type(c) != CONFIG_TYPE_INT64) {
        fail_at(p, c, "must be an integer");
        return;
    }
    v = config_setting_get_int64(c);
    if (v < (long long)lo || v > (long long)hi) {
        fail_at(p, c, "%lld out of range [%u, %u]", v, lo, hi);
        return;
    }
    *out = (uint32_t)v;
}

static void
get_bool(struct parse *p, const config_setting_t *grp, const char *name, int *out)
{
    const config_setting_t *c = member(p, grp, name, CONFIG_TYPE_BOOL, 0);

    if (c != NULL) {
        *out = config_setting_get_bool(c);
    }
}

/* String setting copied into buf (bounded); returns 1 if present. */
static int
get_str(struct parse *p, const config_setting_t *grp, const char *name, int required,
        char *buf, size_t len)
{
    const config_setting_t *c = member(p, grp, name, CONFIG_TYPE_STRING, required);
    const char *v;

    if (c == NULL) {
        return 0;
    }
    v = config_setting_get_string(c);
    if (strlen(v) >= len) {
        fail_at(p, c, "longer than %zu bytes", len - 1);
        return 0;
    }
    snprintf(buf, len, "%s", v);
    return 1;
}

/* Owned copy of a string setting, or NULL. */
static char *
dup_str(struct parse *p, const config_setting_t *grp, const char *name)
{
    const config_setting_t *c = member(p, grp, name, CONFIG_TYPE_STRING, 0);
    char *s;

    if (c == NULL) {
        return NULL;
    }
    s = strdup(config_setting_get_string(c));
    if (s == NULL) {
        fail_at(p, c, "out of memory");
    }
    return s;
}

/* Index of s in names[] or -1. */
static int
lookup(const char *s, const char *const *names)
{
    int i;

    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static void
list_names(const char *const *names, char *buf, size_t len)
{
    size_t used = 0;
    int i;

    buf[0] = '\0';
    for (i = 0; names[i] != NULL && used < len; i++) {
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
    }
}

/* Enumerated string setting; *out untouched when absent. values may be NULL (index). */
static void
get_enum(struct parse *p, const config_setting_t *grp, const char *name,
         const char *const *names, const int *values, int *out)
{
    const config_setting_t *c = member(p, grp, name, CONFIG_TYPE_STRING, 0);
    char all[256];
    int i;

    if (c == NULL) {
        return;
    }
    i = lookup(config_setting_get_string(c), names);
    if (i < 0) {
        list_names(names, all, sizeof(all));
        fail_at(p, c, "unknown value \"%s\" (one of: %s)", config_setting_get_string(c), all);
        return;
    }
    *out = values ? values[i] : i;
}

int
ctl_parse_addr(const char *s, struct ctl_addr *out)
{
    const char *colon, *host = s;
    size_t hlen;
    char *end;
    long port;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');

        if (rb == NULL || rb[1] != ':') {
            return -1;
        }
        host = s + 1;
        hlen = (size_t)(rb - host);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            return -1;
        }
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen) != NULL) {
            return -1;      /* bare IPv6 needs brackets */
        }
    }
    if (hlen == 0 || hlen >= sizeof(out->host)) {
        return -1;
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char ch = (unsigned char)host[i];

        if (ch <= ' ' || ch >= 0x7f || ch == '"' || ch == '\\') {
            return -1;
        }
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 || port > 65535) {
        return -1;
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (uint16_t)port;
    return 0;
}

/* Address setting given as a string element. */
static int
addr_of(struct parse *p, const config_setting_t *c, struct ctl_addr *out)
{
    if (c == NULL) {
        return -1;
    }
    if (config_setting_type(c) != CONFIG_TYPE_STRING) {
        fail_at(p, c, "must be a \"host:port\" string");
        return -1;
    }
    if (ctl_parse_addr(config_setting_get_string(c), out) != 0) {
        fail_at(p, c, "invalid address \"%s\" (expected host:port or [ipv6]:port, "
                "port 1-65535, host up to 255 bytes)", config_setting_get_string(c));
        return -1;
    }
    return 0;
}

static int
valid_name(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= CTL_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch <= ' ' || ch >= 0x7f || ch == '"' || ch == '\\') {
            return 0;
        }
    }
    return 1;
}

static void
get_name(struct parse *p, const config_setting_t *grp, char *out)
{
    const config_setting_t *c = member(p, grp, "name", CONFIG_TYPE_STRING, 1);

    if (c == NULL) {
        return;
    }
    if (!valid_name(config_setting_get_string(c))) {
        fail_at(p, c, "name must be 1-%d printable characters without spaces or quotes",
                CTL_NAME_MAX - 1);
        return;
    }
    snprintf(out, CTL_NAME_MAX, "%s", config_setting_get_string(c));
}

static void
get_cred(struct parse *p, const config_setting_t *grp, struct ctl_cred *cred)
{
    char *u = dup_str(p, grp, "username");
    char *pw = dup_str(p, grp, "password");

    if (u != NULL) {
        free(cred->username);
        cred->username = u;
    }
    if (pw != NULL) {
        free(cred->password);
        cred->password = pw;
    }
}

static void
free_cred(struct ctl_cred *c)
{
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
    }
    free(c->username);
    free(c->password);
    c->username = c->password = NULL;
}

/* ---- sections ----------------------------------------------------------- */

static void
parse_segment(struct parse *p, const config_setting_t *s, struct ctl_config *cfg)
{
    static const char *const keys[] = {"path", "mode", "group", "heartbeat_ms",
                                       "stale_after_ms", "capacity", NULL};
    static const char *const capkeys[] = {"groups", "servers", "clusters", "long_names",
                                          "events", "slot_maps", NULL};
    const config_setting_t *c, *cap;
    char buf[64];

    if (s == NULL) {
        return;
    }
    only_keys(p, s, keys);
    if (get_str(p, s, "path", 0, cfg->seg_path, sizeof(cfg->seg_path)) &&
        cfg->seg_path[0] != '/') {
        fail_at(p, config_setting_get_member(s, "path"), "must be an absolute path");
    }
    if ((c = member(p, s, "mode", CONFIG_TYPE_STRING, 0)) != NULL) {
        char *end;
        long m = strtol(config_setting_get_string(c), &end, 8);

        if (*end != '\0' || end == config_setting_get_string(c) || m < 0 || m > 0777 ||
            (m & 0022) != 0 || (m & 0600) != 0600) {
            fail_at(p, c, "mode must be octal like \"0640\": owner read+write, no group or "
                    "other write");
        } else {
            cfg->seg_mode = (mode_t)m;
        }
    }
    if (get_str(p, s, "group", 0, buf, sizeof(buf))) {
        struct group *gr = getgrnam(buf);

        if (gr == NULL) {
            fail_at(p, config_setting_get_member(s, "group"), "no such group \"%s\"", buf);
        } else {
            cfg->seg_gid = gr->gr_gid;
        }
    }
    get_uint(p, s, "heartbeat_ms", 10, 10000, &cfg->heartbeat_ms);
    get_uint(p, s, "stale_after_ms", 50, 3600000, &cfg->stale_after_ms);
    if ((cap = member(p, s, "capacity", CONFIG_TYPE_GROUP, 0)) != NULL) {
        only_keys(p, cap, capkeys);
        get_uint(p, cap, "groups", 1, MSHM_MAX_GROUPS, &cfg->cap_groups);
        get_uint(p, cap, "servers", 1, MSHM_MAX_SERVERS, &cfg->cap_servers);
        get_uint(p, cap, "clusters", 1, MSHM_MAX_CLUSTERS, &cfg->cap_clusters);
        get_uint(p, cap, "long_names", 1, MSHM_MAX_LONGNAMES, &cfg->cap_longnames);
        get_uint(p, cap, "events", 2, MSHM_MAX_RING, &cfg->cap_events);
        get_uint(p, cap, "slot_maps", 1, MSHM_MAX_SLOTMAPS, &cfg->cap_slotmaps);
        if (!p->failed && (cfg->cap_events & (cfg->cap_events - 1)) != 0) {
            fail_at(p, config_setting_get_member(cap, "events"), "must be a power of two");
        }
    }
    if (!p->failed && cfg->stale_after_ms < 2 * cfg->heartbeat_ms) {
        fail_at(p, s, "stale_after_ms (%u) must be at least twice heartbeat_ms (%u)",
                cfg->stale_after_ms, cfg->heartbeat_ms);
    }
}

static void
parse_log(struct parse *p, const config_setting_t *s, struct ctl_config *cfg)
{
    static const char *const keys[] = {"level", "syslog", "file", NULL};
    static const char *const levels[] = {"debug", "verbose", "notice", "warning", NULL};

    if (s == NULL) {
        return;
    }
    only_keys(p, s, keys);
    get_enum(p, s, "level", levels, NULL, &cfg->log_level);
    get_bool(p, s, "syslog", &cfg->log_syslog);
    get_str(p, s, "file", 0, cfg->log_file, sizeof(cfg->log_file));
}

/* A list of "host:port" strings into a freshly allocated array. */
static struct ctl_addr *
parse_addr_list(struct parse *p, const config_setting_t *list, uint32_t *n_out)
{
    struct ctl_addr *a;
    int i, n = config_setting_length(list);

    *n_out = 0;
    if (n == 0) {
        return NULL;
    }
    a = calloc((size_t)n, sizeof(*a));
    if (a == NULL) {
        fail_at(p, list, "out of memory");
        return NULL;
    }
    for (i = 0; i < n && !p->failed; i++) {
        addr_of(p, config_setting_get_elem(list, (unsigned)i), &a[i]);
    }
    *n_out = (uint32_t)n;
    return a;
}

static void
parse_sentinels(struct parse *p, const config_setting_t *s, struct ctl_config *cfg)
{
    static const char *const keys[] = {"addresses", "username", "password",
                                       "connect_timeout_ms", "timeout_ms", "poll_ms",
                                       "ping_ms", NULL};
    const config_setting_t *l;
    uint32_t i, j;

    if (s == NULL) {
        return;
    }
    only_keys(p, s, keys);
    l = member(p, s, "addresses", CONFIG_TYPE_LIST, 1);
    if (l != NULL) {
        if (config_setting_length(l) == 0) {
            fail_at(p, l, "needs at least one sentinel address");
            return;
        }
        cfg->sentinels = parse_addr_list(p, l, &cfg->n_sentinels);
        for (i = 0; i < cfg->n_sentinels && !p->failed; i++) {
            for (j = 0; j < i; j++) {
                if (strcmp(cfg->sentinels[i].host, cfg->sentinels[j].host) == 0 &&
                    cfg->sentinels[i].port == cfg->sentinels[j].port) {
                    fail_at(p, config_setting_get_elem(l, i), "sentinel listed twice");
                }
            }
        }
    }
    get_cred(p, s, &cfg->sentinel_cred);
    get_uint(p, s, "connect_timeout_ms", 10, 60000, &cfg->sentinel_connect_timeout_ms);
    get_uint(p, s, "timeout_ms", 10, 60000, &cfg->sentinel_timeout_ms);
    get_uint(p, s, "poll_ms", 50, 600000, &cfg->sentinel_poll_ms);
    get_uint(p, s, "ping_ms", 50, 600000, &cfg->sentinel_ping_ms);
}

static void
parse_health(struct parse *p, const config_setting_t *s, struct ctl_config *cfg)
{
    static const char *const keys[] = {"interval_ms", "timeout_ms", "info_ms", "down_after",
                                       "up_after", NULL};

    if (s == NULL) {
        return;
    }
    only_keys(p, s, keys);
    get_uint(p, s, "interval_ms", 10, 600000, &cfg->health_interval_ms);
    get_uint(p, s, "timeout_ms", 10, 60000, &cfg->health_timeout_ms);
    get_uint(p, s, "info_ms", 10, 600000, &cfg->health_info_ms);
    get_uint(p, s, "down_after", 1, 1000, &cfg->health_down_after);
    get_uint(p, s, "up_after", 1, 1000, &cfg->health_up_after);
}

static void
parse_servers(struct parse *p, const config_setting_t *s, struct ctl_config *cfg)
{
    static const char *const keys[] = {"username", "password", NULL};

    if (s == NULL) {
        return;
    }
    only_keys(p, s, keys);
    get_cred(p, s, &cfg->server_cred);
}

static void
parse_addr_map(struct parse *p, const config_setting_t *l, struct ctl_config *cfg)
{
    static const char *const keys[] = {"from", "to", NULL};
    int i, j, n;

    if (l == NULL) {
        return;
    }
    n = config_setting_length(l);
    if (n == 0) {
        return;
    }
    cfg->addr_map = calloc((size_t)n, sizeof(*cfg->addr_map));
    if (cfg->addr_map == NULL) {
        fail_at(p, l, "out of memory");
        return;
    }
    cfg->n_addr_map = (uint32_t)n;
    for (i = 0; i < n && !p->failed; i++) {
        const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);

        if (!config_setting_is_group(e)) {
            fail_at(p, e, "must be a group { from = \"ip:port\"; to = \"host:port\"; }");
            return;
        }
        only_keys(p, e, keys);
        addr_of(p, member(p, e, "from", CONFIG_TYPE_STRING, 1), &cfg->addr_map[i].from);
        addr_of(p, member(p, e, "to", CONFIG_TYPE_STRING, 1), &cfg->addr_map[i].to);
        for (j = 0; j < i && !p->failed; j++) {
            if (strcmp(cfg->addr_map[i].from.host, cfg->addr_map[j].from.host) == 0 &&
                cfg->addr_map[i].from.port == cfg->addr_map[j].from.port) {
                fail_at(p, e, "address %s:%u mapped twice", cfg->addr_map[i].from.host,
                        cfg->addr_map[i].from.port);
            }
        }
    }
}

/* A replica: "host:port" or { address = "host:port"; power = N; } */
static void
parse_replica(struct parse *p, const config_setting_t *e, struct ctl_server_cfg *out)
{
    static const char *const keys[] = {"address", "power", NULL};

    out->power = 1;
    if (config_setting_is_group(e)) {
        only_keys(p, e, keys);
        addr_of(p, member(p, e, "address", CONFIG_TYPE_STRING, 1), &out->addr);
        get_uint(p, e, "power", 0, 65535, &out->power);
    } else {
        addr_of(p, e, &out->addr);
    }
}

static const char *const route_names[] = {"master", "master-readonly", "split", NULL};

const char *
ctl_route_name(int route)
{
    return route >= 0 && route <= CTL_ROUTE_SPLIT ? route_names[route] : "?";
}

static void
parse_group(struct parse *p, const config_setting_t *e, struct ctl_config *cfg,
            struct ctl_group_cfg *g)
{
    static const char *const keys[] = {"name", "sentinel", "master", "replicas", "power",
                                       "route", "max_lag_ms", "on_degraded", "username",
                                       "password", NULL};
    static const char *const degraded[] = {"keep-master", "fail-writes", NULL};
    const config_setting_t *c, *l;
    uint32_t i, j;
    int n;

    g->line = config_setting_source_line(e);
    g->power = 1;
    g->route = CTL_ROUTE_MASTER;
    g->max_lag_ms = 10000;
    if (!config_setting_is_group(e)) {
        fail_at(p, e, "each group must be a group { name = ...; ... }");
        return;
    }
    only_keys(p, e, keys);
    get_name(p, e, g->name);
    get_bool(p, e, "sentinel", &g->sentinel);
    get_uint(p, e, "power", 0, 65535, &g->power);
    get_enum(p, e, "route", route_names, NULL, &g->route);
    get_uint(p, e, "max_lag_ms", 0, 86400000, &g->max_lag_ms);
    get_enum(p, e, "on_degraded", degraded, NULL, &g->fail_writes_degraded);
    get_cred(p, e, &g->cred);
    if (p->failed) {
        return;
    }
    c = config_setting_get_member(e, "master");
    if (g->sentinel) {
        if (c != NULL) {
            fail_at(p, c, "a sentinel-managed group learns its master from the sentinels; "
                    "remove \"master\" or set sentinel = false");
            return;
        }
        if (cfg->n_sentinels == 0) {
            fail_at(p, e, "group \"%s\" is sentinel-managed but no sentinels are configured",
                    g->name);
            return;
        }
    } else {
        if (c == NULL) {
            fail_at(p, e, "static group \"%s\" needs \"master\" (or sentinel = true)", g->name);
            return;
        }
        addr_of(p, member(p, e, "master", CONFIG_TYPE_STRING, 1), &g->master);
    }
    l = member(p, e, "replicas", CONFIG_TYPE_LIST, 0);
    if (l != NULL && (n = config_setting_length(l)) > 0) {
        if (n > MSHM_GROUP_SERVERS - 1) {
            fail_at(p, l, "at most %d replicas per group", MSHM_GROUP_SERVERS - 1);
            return;
        }
        g->replicas = calloc((size_t)n, sizeof(*g->replicas));
        if (g->replicas == NULL) {
            fail_at(p, l, "out of memory");
            return;
        }
        g->n_replicas = (uint32_t)n;
        for (i = 0; i < g->n_replicas && !p->failed; i++) {
            parse_replica(p, config_setting_get_elem(l, i), &g->replicas[i]);
            for (j = 0; j < i && !p->failed; j++) {
                if (strcmp(g->replicas[i].addr.host, g->replicas[j].addr.host) == 0 &&
                    g->replicas[i].addr.port == g->replicas[j].addr.port) {
                    fail_at(p, config_setting_get_elem(l, i), "replica listed twice");
                }
            }
            if (!p->failed && !g->sentinel &&
                strcmp(g->replicas[i].addr.host, g->master.host) == 0 &&
                g->replicas[i].addr.port == g->master.port) {
                fail_at(p, config_setting_get_elem(l, i), "replica is also the master");
            }
        }
    }
}

static const char *const rule_names[] = {"marshal0", "marshal1", "marshal10", NULL};

const char *
ctl_rule_name(int rule)
{
    return rule >= 0 && rule <= CTL_RULE_MARSHAL10 ? rule_names[rule] : "?";
}

/* Is name already used by a group, cluster or farm (targets share one namespace)? */
static int
name_taken(const struct ctl_config *cfg, const char *name, uint32_t n_groups,
           uint32_t n_clusters)
{
    uint32_t i;

    for (i = 0; i < n_groups; i++) {
        if (strcmp(cfg->groups[i].name, name) == 0) {
            return 1;
        }
    }
    for (i = 0; i < n_clusters; i++) {
        if (strcmp(cfg->clusters[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * Parse a member's `slots = "0-5460,5500,6000-6099"` into the cluster's slot
 * table: every listed slot gets member position pos.  A slot listed twice
 * (here or by another member) is an error.
 */
static void
parse_slot_ranges(struct parse *p, const config_setting_t *t, struct ctl_cluster_cfg *c,
                  uint32_t pos)
{
    const char *s = config_setting_get_string(t);
    const char *q = s;

    if (*q == '\0') {
        fail_at(p, t, "empty slot list: give ranges like \"0-5460,5461\" (slots 0..%u)",
                MSHM_SLOTS - 1);
        return;
    }
    while (*q != '\0') {
        unsigned long a, b;
        char *end;
        uint32_t k;

        while (*q == ' ') {
            q++;
        }
        if (*q < '0' || *q > '9') {
            fail_at(p, t, "bad slot list \"%s\": expected a slot number at \"%s\"", s, q);
            return;
        }
        a = strtoul(q, &end, 10);
        b = a;
        q = end;
        if (*q == '-') {
            q++;
            if (*q < '0' || *q > '9') {
                fail_at(p, t, "bad slot list \"%s\": range without an end", s);
                return;
            }
            b = strtoul(q, &end, 10);
            q = end;
        }
        while (*q == ' ') {
            q++;
        }
        if (a >= MSHM_SLOTS || b >= MSHM_SLOTS || a > b) {
            fail_at(p, t, "bad slot range %lu-%lu: slots are 0..%u, start <= end", a, b,
                    MSHM_SLOTS - 1);
            return;
        }
        for (k = (uint32_t)a; k <= (uint32_t)b; k++) {
            if (c->slots[k] != MSHM_SLOT_NONE) {
                fail_at(p, t, "slot %u is already assigned to member \"%s\"", k,
                        c->members[c->slots[k]].name);
                return;
            }
            c->slots[k] = (uint8_t)pos;
        }
        if (*q == ',') {
            q++;
            if (*q == '\0') {
                fail_at(p, t, "bad slot list \"%s\": trailing comma", s);
                return;
            }
        } else if (*q != '\0') {
            fail_at(p, t, "bad slot list \"%s\": unexpected \"%c\"", s, *q);
            return;
        }
    }
}

/*
 * The slot table of a `slots` cluster.  Without any member's `slots`, the
 * 16384 slots are split into contiguous ranges in member order, sized by
 * power (as redis-cli --cluster create does for equal weights).  With them,
 * the members' lists must cover every slot exactly once (a member without a
 * list owns none: a group being added before slots move to it).
 */
static void
build_slot_table(struct parse *p, const config_setting_t *e, const config_setting_t *l,
                 struct ctl_cluster_cfg *c)
{
    uint64_t total = 0, cum = 0;
    uint32_t i, k, lo, hi, given = 0;

    c->slots = malloc(MSHM_SLOTS);
    if (c->slots == NULL) {
        fail_at(p, e, "out of memory");
        return;
    }
    memset(c->slots, MSHM_SLOT_NONE, MSHM_SLOTS);
    for (i = 0; i < c->n_members && !p->failed; i++) {
        const config_setting_t *m = config_setting_get_elem(l, i);
        const config_setting_t *t;

        if (config_setting_is_group(m) &&
            (t = member(p, m, "slots", CONFIG_TYPE_STRING, 0)) != NULL) {
            parse_slot_ranges(p, t, c, i);
            given++;
        }
    }
    if (p->failed) {
        return;
    }
    if (given == 0) {
        for (i = 0; i < c->n_members; i++) {
            total += c->members[i].power;
        }
        for (i = 0; i < c->n_members; i++) {
            lo = (uint32_t)(cum * MSHM_SLOTS / total);
            cum += c->members[i].power;
            hi = (uint32_t)(cum * MSHM_SLOTS / total);
            for (k = lo; k < hi; k++) {
                c->slots[k] = (uint8_t)i;
            }
        }
        return;
    }
    for (k = 0; k < MSHM_SLOTS; k++) {
        if (c->slots[k] == MSHM_SLOT_NONE) {
            for (hi = k; hi + 1 < MSHM_SLOTS && c->slots[hi + 1] == MSHM_SLOT_NONE; hi++) {
            }
            fail_at(p, l, "slots %u-%u are not assigned to any member (every slot 0..%u "
                    "needs exactly one)", k, hi, MSHM_SLOTS - 1);
            return;
        }
    }
}

/*
 * A cluster (farm = 0: members are groups, rule marshal0 or marshal1) or a
 * farm (farm = 1: members are marshal0 clusters, rule marshal10).
 */
static void
parse_cluster(struct parse *p, const config_setting_t *e, struct ctl_config *cfg,
              struct ctl_cluster_cfg *c, int farm, uint32_t n_before)
{
    static const char *const keys[] = {"name", "rule", "distribution", "hash", "hash_tag",
                                       "policy", "primary", "members", NULL};
    static const char *const mkeys[] = {"name", "power", "slots", NULL};
    static const char *const dists[] = {"ketama", "modula", "slots", NULL};
    static const int dist_v[] = {MSHM_DIST_KETAMA, MSHM_DIST_MODULA, MSHM_DIST_SLOTS};
    static const char *const hashes[] = {"fnv1a_64", "md5", "crc32a", "murmur", "fnv1_64",
                                         "fnv1a_32", "fnv1_32", "crc32", "crc16", "jenkins",
                                         "hsieh", "one_at_a_time", NULL};
    static const char *const policies[] = {"all", "primary", NULL};
    static const int policy_v[] = {MSHM_MIRROR_ALL, MSHM_MIRROR_PRIMARY};
    const char *what = farm ? "farm" : "cluster";
    const config_setting_t *l, *t;
    char primary[CTL_NAME_MAX] = "";
    uint32_t i, j;
    int n;

    c->line = config_setting_source_line(e);
    c->rule = farm ? CTL_RULE_MARSHAL10 : -1;
    c->dist = MSHM_DIST_KETAMA;
    c->hash = MSHM_HASH_FNV1A_64;
    c->policy = MSHM_MIRROR_ALL;
    c->primary = -1;
    if (!config_setting_is_group(e)) {
        fail_at(p, e, "each %s must be a group { name = ...; ... }", what);
        return;
    }
    only_keys(p, e, keys);
    get_name(p, e, c->name);
    if (!p->failed && name_taken(cfg, c->name, cfg->n_groups, n_before)) {
        fail_at(p, config_setting_get_member(e, "name"),
                "name \"%s\" already used by a group, cluster or farm", c->name);
        return;
    }
    if (!farm) {
        if (member(p, e, "rule", CONFIG_TYPE_STRING, 1) == NULL) {
            return;
        }
        get_enum(p, e, "rule", rule_names, NULL, &c->rule);
        if (!p->failed && c->rule == CTL_RULE_MARSHAL10) {
            fail_at(p, config_setting_get_member(e, "rule"),
                    "marshal10 is a farm rule: declare it under farms");
            return;
        }
    } else {
        get_enum(p, e, "rule", rule_names, NULL, &c->rule);
        if (!p->failed && c->rule != CTL_RULE_MARSHAL10) {
            fail_at(p, config_setting_get_member(e, "rule"), "a farm's rule is marshal10");
            return;
        }
    }
    get_enum(p, e, "distribution", dists, dist_v, &c->dist);
    get_enum(p, e, "hash", hashes, NULL, &c->hash);
    get_enum(p, e, "policy", policies, policy_v, &c->policy);
    if ((t = member(p, e, "hash_tag", CONFIG_TYPE_STRING, 0)) != NULL) {
        const char *tag = config_setting_get_string(t);

        if (strlen(tag) != 2 || tag[0] == tag[1]) {
            fail_at(p, t, "hash_tag must be two different characters, e.g. \"{}\"");
        } else {
            c->has_tag = 1;
            c->tag[0] = tag[0];
            c->tag[1] = tag[1];
        }
    }
    get_str(p, e, "primary", 0, primary, sizeof(primary));
    if (p->failed) {
        return;
    }
    if (c->rule == CTL_RULE_MARSHAL0 && !farm &&
        (config_setting_get_member(e, "policy") || config_setting_get_member(e, "primary"))) {
        fail_at(p, config_setting_get_member(e, "policy") ? config_setting_get_member(e, "policy")
                                                           : config_setting_get_member(e, "primary"),
                "policy/primary apply to mirroring (marshal1, marshal10), not marshal0");
        return;
    }
    if (c->rule != CTL_RULE_MARSHAL0 &&
        (config_setting_get_member(e, "distribution") || config_setting_get_member(e, "hash") ||
         config_setting_get_member(e, "hash_tag"))) {
        fail_at(p, e, "distribution/hash/hash_tag apply to marshal0 striping only");
        return;
    }
    l = member(p, e, "members", CONFIG_TYPE_LIST, 1);
    if (l == NULL) {
        return;
    }
    n = config_setting_length(l);
    if (n < (c->rule == CTL_RULE_MARSHAL0 ? 1 : 2) || n > MSHM_CLUSTER_MEMBERS) {
        fail_at(p, l, "%s needs %d to %d members", ctl_rule_name(c->rule),
                c->rule == CTL_RULE_MARSHAL0 ? 1 : 2, MSHM_CLUSTER_MEMBERS);
        return;
    }
    c->members = calloc((size_t)n, sizeof(*c->members));
    if (c->members == NULL) {
        fail_at(p, l, "out of memory");
        return;
    }
    c->n_members = (uint32_t)n;
    for (i = 0; i < c->n_members && !p->failed; i++) {
        const config_setting_t *m = config_setting_get_elem(l, i);
        struct ctl_member_cfg *mc = &c->members[i];
        int found = 0;

        mc->power = 1;
        if (config_setting_is_group(m)) {
            only_keys(p, m, mkeys);
            get_str(p, m, "name", 1, mc->name, sizeof(mc->name));
            get_uint(p, m, "power", 1, 65535, &mc->power);
        } else if (config_setting_type(m) == CONFIG_TYPE_STRING) {
            snprintf(mc->name, sizeof(mc->name), "%s", config_setting_get_string(m));
        } else {
            fail_at(p, m, "member must be a name or { name = ...; power = N; }");
        }
        if (p->failed) {
            return;
        }
        if (!farm) {
            for (j = 0; j < cfg->n_groups; j++) {
                if (strcmp(cfg->groups[j].name, mc->name) == 0) {
                    mc->idx = j;
                    found = 1;
                    if (!config_setting_is_group(m) || !config_setting_get_member(m, "power")) {
                        mc->power = cfg->groups[j].power ? cfg->groups[j].power : 1;
                    }
                }
            }
        } else {
            for (j = 0; j < n_before; j++) {
                if (strcmp(cfg->clusters[j].name, mc->name) == 0) {
                    if (cfg->clusters[j].rule != CTL_RULE_MARSHAL0) {
                        fail_at(p, m, "farm member \"%s\" is not a marshal0 cluster", mc->name);
                        return;
                    }
                    mc->idx = j;
                    found = 1;
                }
            }
        }
        if (!found) {
            fail_at(p, m, "no %s named \"%s\"", farm ? "cluster" : "group", mc->name);
            return;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(c->members[j].name, mc->name) == 0) {
                fail_at(p, m, "\"%s\" listed twice", mc->name);
                return;
            }
        }
        if (primary[0] != '\0' && strcmp(primary, mc->name) == 0) {
            c->primary = (int)i;
        }
    }
    if (c->dist == MSHM_DIST_SLOTS) {
        if (config_setting_get_member(e, "hash") != NULL) {
            fail_at(p, config_setting_get_member(e, "hash"),
                    "hash does not apply to distribution slots (CRC16 of the key, as Redis "
                    "Cluster)");
            return;
        }
        if (!c->has_tag) {        /* Redis Cluster's hash tags */
            c->has_tag = 1;
            c->tag[0] = '{';
            c->tag[1] = '}';
        }
        build_slot_table(p, e, l, c);
    } else {
        for (i = 0; i < c->n_members; i++) {
            const config_setting_t *m = config_setting_get_elem(l, i);

            if (config_setting_is_group(m) && config_setting_get_member(m, "slots") != NULL) {
                fail_at(p, config_setting_get_member(m, "slots"),
                        "slots apply to distribution \"slots\" only");
                return;
            }
        }
    }
    if (c->rule != CTL_RULE_MARSHAL0) {
        if (primary[0] == '\0') {
            c->primary = 0;     /* default: the first member */
        } else if (c->primary < 0) {
            fail_at(p, config_setting_get_member(e, "primary"), "primary \"%s\" is not a member",
                    primary);
        }
    }
}

/* metrics = { listen = "127.0.0.1:9478"; }: a numeric address, never a name to resolve. */
static void
parse_metrics(struct parse *p, const config_setting_t *s, struct ctl_config *cfg)
{
    static const char *const keys[] = {"listen", NULL};
    const config_setting_t *l;
    unsigned char buf[16];

    if (s == NULL) {
        return;
    }
    only_keys(p, s, keys);
    l = member(p, s, "listen", CONFIG_TYPE_STRING, 1);
    if (addr_of(p, l, &cfg->metrics_listen) != 0) {
        return;
    }
    if (inet_pton(AF_INET, cfg->metrics_listen.host, buf) != 1 &&
        inet_pton(AF_INET6, cfg->metrics_listen.host, buf) != 1) {
        fail_at(p, l, "\"%s\" is not a numeric IPv4 or IPv6 address (e.g. \"127.0.0.1:9478\")",
                cfg->metrics_listen.host);
        return;
    }
    cfg->has_metrics = 1;
}

static void
parse_notify(struct parse *p, const config_setting_t *s, struct ctl_config *cfg)
{
    static const char *const keys[] = {"program", "args", "timeout_ms", NULL};
    const config_setting_t *prog, *args;
    uint32_t i, n = 0;

    if (s == NULL) {
        return;
    }
    only_keys(p, s, keys);
    prog = member(p, s, "program", CONFIG_TYPE_STRING, 1);
    args = member(p, s, "args", CONFIG_TYPE_LIST, 0);
    get_uint(p, s, "timeout_ms", 10, 600000, &cfg->notify_timeout_ms);
    if (p->failed) {
        return;
    }
    if (config_setting_get_string(prog)[0] != '/') {
        fail_at(p, prog, "must be an absolute path (it is executed directly, never via a shell)");
        return;
    }
    if (args != NULL) {
        n = (uint32_t)config_setting_length(args);
    }
    cfg->notify_argv = calloc(n + 2, sizeof(char *));
    if (cfg->notify_argv == NULL) {
        fail_at(p, s, "out of memory");
        return;
    }
    cfg->notify_argc = n + 1;
    cfg->notify_argv[0] = strdup(config_setting_get_string(prog));
    for (i = 0; i < n && !p->failed; i++) {
        const config_setting_t *a = config_setting_get_elem(args, i);

        if (config_setting_type(a) != CONFIG_TYPE_STRING) {
            fail_at(p, a, "must be a string");
            return;
        }
        cfg->notify_argv[i + 1] = strdup(config_setting_get_string(a));
    }
}

/* Credentials from the secrets file overlay the main file's. */
static void
load_secrets(struct parse *p, const config_setting_t *ref, struct ctl_config *cfg)
{
    static const char *const keys[] = {"sentinels", "servers", "groups", NULL};
    static const char *const ckeys[] = {"username", "password", NULL};
    struct parse sp;
    config_t sc;
    struct stat st;
    const char *path = config_setting_get_string(ref);
    const config_setting_t *root, *s, *gs;
    uint32_t i;
    int n, j;

    if (stat(path, &st) != 0) {
        fail_at(p, ref, "secrets file %s: %s", path, strerror(errno));
        return;
    }
    if ((st.st_mode & 0077) != 0) {
        fail_at(p, ref, "secrets file %s is accessible by group or others (mode %04o): "
                "refusing it; chmod 600", path, (unsigned)(st.st_mode & 07777));
        return;
    }
    config_init(&sc);
    if (!config_read_file(&sc, path)) {
        fail_at(p, ref, "secrets file %s:%d: %s", path, config_error_line(&sc),
                config_error_text(&sc));
        config_destroy(&sc);
        return;
    }
    sp = *p;
    sp.file = path;
    root = config_root_setting(&sc);
    only_keys(&sp, root, keys);
    if ((s = member(&sp, root, "sentinels", CONFIG_TYPE_GROUP, 0)) != NULL) {
        only_keys(&sp, s, ckeys);
        get_cred(&sp, s, &cfg->sentinel_cred);
    }
    if ((s = member(&sp, root, "servers", CONFIG_TYPE_GROUP, 0)) != NULL) {
        only_keys(&sp, s, ckeys);
        get_cred(&sp, s, &cfg->server_cred);
    }
    if ((gs = member(&sp, root, "groups", CONFIG_TYPE_GROUP, 0)) != NULL) {
        n = config_setting_length(gs);
        for (j = 0; j < n && !sp.failed; j++) {
            const config_setting_t *g = config_setting_get_elem(gs, (unsigned)j);
            int found = 0;

            if (!config_setting_is_group(g)) {
                fail_at(&sp, g, "must be a group { username = ...; password = ...; }");
                break;
            }
            only_keys(&sp, g, ckeys);
            for (i = 0; i < cfg->n_groups; i++) {
                if (strcmp(cfg->groups[i].name, config_setting_name(g)) == 0) {
                    get_cred(&sp, g, &cfg->groups[i].cred);
                    found = 1;
                }
            }
            if (!found && !sp.failed) {
                fail_at(&sp, g, "no group named \"%s\" in the configuration",
                        config_setting_name(g));
            }
        }
    }
    p->failed = sp.failed;
    config_destroy(&sc);
}

static void
set_defaults(struct ctl_config *cfg)
{
    snprintf(cfg->seg_path, sizeof(cfg->seg_path), "/dev/shm/marshal.main");
    cfg->seg_mode = 0640;
    cfg->seg_gid = (gid_t)-1;
    cfg->cap_groups = 1024;
    cfg->cap_servers = 8192;
    cfg->cap_clusters = 256;
    cfg->cap_slotmaps = 16;
    cfg->cap_longnames = 256;
    cfg->cap_events = 4096;
    cfg->heartbeat_ms = 100;
    cfg->stale_after_ms = 3000;
    cfg->log_level = CTL_LOG_NOTICE;
    cfg->sentinel_connect_timeout_ms = 500;
    cfg->sentinel_timeout_ms = 1000;
    cfg->sentinel_poll_ms = 1000;
    cfg->sentinel_ping_ms = 1000;
    cfg->health_interval_ms = 100;
    cfg->health_timeout_ms = 250;
    cfg->health_info_ms = 1000;
    cfg->health_down_after = 3;
    cfg->health_up_after = 2;
    cfg->notify_timeout_ms = 5000;
}

int
ctl_config_load(const char *path, struct ctl_config *cfg, char *err, size_t errlen)
{
    static const char *const keys[] = {"segment", "log", "sentinels", "health", "servers",
                                       "address_map", "groups", "clusters", "farms",
                                       "notify", "secrets_file", "metrics", NULL};
    struct parse p = {path, err, errlen, 0};
    const config_setting_t *root, *l, *c;
    config_t lc;
    uint32_t i, j, n_cl = 0, n_farms = 0;

    memset(cfg, 0, sizeof(*cfg));
    set_defaults(cfg);
    snprintf(cfg->file, sizeof(cfg->file), "%s", path);
    config_init(&lc);
    if (!config_read_file(&lc, path)) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        } else {
            snprintf(err, errlen, "%s:%d: syntax error: %s",
                     config_error_file(&lc) ? config_error_file(&lc) : path,
                     config_error_line(&lc), config_error_text(&lc));
        }
        config_destroy(&lc);
        return -1;
    }
    root = config_root_setting(&lc);
    only_keys(&p, root, keys);
    parse_segment(&p, member(&p, root, "segment", CONFIG_TYPE_GROUP, 0), cfg);
    parse_log(&p, member(&p, root, "log", CONFIG_TYPE_GROUP, 0), cfg);
    parse_sentinels(&p, member(&p, root, "sentinels", CONFIG_TYPE_GROUP, 0), cfg);
    parse_health(&p, member(&p, root, "health", CONFIG_TYPE_GROUP, 0), cfg);
    parse_servers(&p, member(&p, root, "servers", CONFIG_TYPE_GROUP, 0), cfg);
    parse_addr_map(&p, member(&p, root, "address_map", CONFIG_TYPE_LIST, 0), cfg);
    if (!p.failed && cfg->health_timeout_ms > cfg->health_interval_ms * 10) {
        fail_at(&p, member(&p, root, "health", CONFIG_TYPE_GROUP, 0),
                "timeout_ms (%u) must not exceed 10 x interval_ms (%u)",
                cfg->health_timeout_ms, cfg->health_interval_ms);
    }

    l = member(&p, root, "groups", CONFIG_TYPE_LIST, 1);
    if (l != NULL && !p.failed) {
        int n = config_setting_length(l);

        if (n == 0) {
            fail_at(&p, l, "needs at least one group");
        } else if ((uint32_t)n > cfg->cap_groups) {
            fail_at(&p, l, "%d groups exceed segment.capacity.groups (%u)", n, cfg->cap_groups);
        } else {
            cfg->groups = calloc((size_t)n, sizeof(*cfg->groups));
            if (cfg->groups == NULL) {
                fail_at(&p, l, "out of memory");
            }
        }
        for (i = 0; cfg->groups != NULL && i < (uint32_t)n && !p.failed; i++) {
            c = config_setting_get_elem(l, i);
            parse_group(&p, c, cfg, &cfg->groups[i]);
            cfg->n_groups = i + 1;
            for (j = 0; j < i && !p.failed; j++) {
                if (strcmp(cfg->groups[j].name, cfg->groups[i].name) == 0) {
                    fail_at(&p, config_setting_get_member(c, "name"),
                            "group name \"%s\" already used (line %d)", cfg->groups[i].name,
                            cfg->groups[j].line);
                }
            }
        }
    }

    /* clusters, then farms, in one array (farms refer to clusters by index) */
    {
        const config_setting_t *cl = member(&p, root, "clusters", CONFIG_TYPE_LIST, 0);
        const config_setting_t *fl = member(&p, root, "farms", CONFIG_TYPE_LIST, 0);

        n_cl = cl ? (uint32_t)config_setting_length(cl) : 0;
        n_farms = fl ? (uint32_t)config_setting_length(fl) : 0;
        if (!p.failed && n_cl + n_farms > cfg->cap_clusters) {
            fail_at(&p, cl ? cl : fl, "%u clusters and farms exceed segment.capacity.clusters "
                    "(%u)", n_cl + n_farms, cfg->cap_clusters);
        }
        if (!p.failed && n_cl + n_farms > 0) {
            cfg->clusters = calloc(n_cl + n_farms, sizeof(*cfg->clusters));
            if (cfg->clusters == NULL) {
                fail_at(&p, root, "out of memory");
            }
        }
        for (i = 0; i < n_cl && !p.failed; i++) {
            parse_cluster(&p, config_setting_get_elem(cl, i), cfg, &cfg->clusters[i], 0, i);
            cfg->n_clusters = i + 1;
        }
        for (i = 0; i < n_farms && !p.failed; i++) {
            parse_cluster(&p, config_setting_get_elem(fl, i), cfg, &cfg->clusters[n_cl + i], 1,
                          n_cl + i);
            cfg->n_clusters = n_cl + i + 1;
        }
        if (!p.failed) {
            uint32_t n_slots = 0;

            for (i = 0; i < cfg->n_clusters; i++) {
                if (cfg->clusters[i].slots != NULL && ++n_slots > cfg->cap_slotmaps) {
                    fail_at(&p, config_setting_get_member(
                                    config_setting_get_elem(cl, i), "distribution"),
                            "%u clusters with distribution slots exceed "
                            "segment.capacity.slot_maps (%u)", n_slots, cfg->cap_slotmaps);
                    break;
                }
            }
        }
    }
    parse_notify(&p, member(&p, root, "notify", CONFIG_TYPE_GROUP, 0), cfg);
    parse_metrics(&p, member(&p, root, "metrics", CONFIG_TYPE_GROUP, 0), cfg);
    if (!p.failed && (c = member(&p, root, "secrets_file", CONFIG_TYPE_STRING, 0)) != NULL) {
        load_secrets(&p, c, cfg);
    }
    if (!p.failed) {
        uint32_t servers = 0;

        for (i = 0; i < cfg->n_groups; i++) {
            servers += 1 + cfg->groups[i].n_replicas;
        }
        if (servers > cfg->cap_servers) {
            fail_at(&p, root, "%u configured servers exceed segment.capacity.servers (%u)",
                    servers, cfg->cap_servers);
        }
    }
    config_destroy(&lc);
    if (p.failed) {
        ctl_config_free(cfg);
        return -1;
    }
    return 0;
}

void
ctl_config_free(struct ctl_config *cfg)
{
    uint32_t i;

    free(cfg->sentinels);
    free_cred(&cfg->sentinel_cred);
    free_cred(&cfg->server_cred);
    free(cfg->addr_map);
    for (i = 0; i < cfg->n_groups; i++) {
        free(cfg->groups[i].replicas);
        free_cred(&cfg->groups[i].cred);
    }
    free(cfg->groups);
    for (i = 0; i < cfg->n_clusters; i++) {
        free(cfg->clusters[i].members);
        free(cfg->clusters[i].slots);
    }
    free(cfg->clusters);
    if (cfg->notify_argv != NULL) {
        for (i = 0; i < cfg->notify_argc; i++) {
            free(cfg->notify_argv[i]);
        }
        free(cfg->notify_argv);
    }
    memset(cfg, 0, sizeof(*cfg));
}
