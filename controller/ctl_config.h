/*
 * ctl_config.h -- marshal-controller configuration (libconfig).
 *
 * ctl_config_load() parses and validates a whole configuration into a
 * struct ctl_config, or fails with a message naming the file, the line and
 * the offending setting ("marshal.conf:42: groups.[1].route: unknown
 * routing rule \"fast\" (master, master-readonly, split)").  Nothing is
 * applied before validation succeeds, so a SIGHUP reload with a bad file
 * keeps the old configuration.  Secrets (passwords) live only here and in
 * the connections; they never reach the segment or the logs.
 */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_NAME_MAX  64   /* group/cluster/farm name incl. NUL (segment bound) */
#define CTL_HOST_MAX  256  /* host name incl. NUL (segment bound)               */
#define CTL_PATH_MAX  512

/* host:port */
struct ctl_addr {
    char host[CTL_HOST_MAX];
    uint16_t port;
};

/* Username/password pair; NULL members mean "none". Owned strings. */
struct ctl_cred {
    char *username;
    char *password;
};

/* A configured server with its read weight. */
struct ctl_server_cfg {
    struct ctl_addr addr;
    uint32_t power;
};

enum ctl_route { CTL_ROUTE_MASTER = 0, CTL_ROUTE_MASTER_READONLY = 1, CTL_ROUTE_SPLIT = 2 };

struct ctl_group_cfg {
    char name[CTL_NAME_MAX];
    int sentinel;                   /* managed by sentinels (else static)      */
    struct ctl_addr master;         /* static groups                           */
    struct ctl_server_cfg *replicas;/* static groups: replicas; sentinel groups:
                                       per-replica power overrides            */
    uint32_t n_replicas;
    uint32_t power;                 /* weight in clusters                      */
    int route;                      /* enum ctl_route                          */
    uint32_t max_lag_ms;
    int fail_writes_degraded;       /* policy when the sentinel majority is lost */
    struct ctl_cred cred;           /* server credentials (NULL: defaults)     */
    int line;
};

enum ctl_rule { CTL_RULE_MARSHAL0 = 0, CTL_RULE_MARSHAL1 = 1, CTL_RULE_MARSHAL10 = 2 };

struct ctl_member_cfg {
    char name[CTL_NAME_MAX];        /* group (cluster) or cluster (farm) name  */
    uint32_t power;
    uint32_t idx;                   /* resolved index in groups[] / clusters[] */
};

/* A cluster (members are groups) or a farm (members are clusters). */
struct ctl_cluster_cfg {
    char name[CTL_NAME_MAX];
    int rule;                       /* enum ctl_rule                           */
    int dist;                       /* MSHM_DIST_*                             */
    int hash;                       /* MSHM_HASH_*                             */
    int has_tag;
    char tag[2];                    /* hash tag delimiters, e.g. "{}"          */
    int policy;                     /* MSHM_MIRROR_*                           */
    int primary;                    /* member position, or -1                  */
    struct ctl_member_cfg *members;
    uint32_t n_members;
    uint8_t *slots;                 /* distribution slots: MSHM_SLOTS entries,
                                       member position per hash slot         */
    int line;
};

/* Sentinel-reported address -> reachable address (NAT, announce-ip). */
struct ctl_addr_map {
    struct ctl_addr from;
    struct ctl_addr to;
};

enum ctl_log_level { CTL_LOG_DEBUG = 0, CTL_LOG_VERBOSE, CTL_LOG_NOTICE, CTL_LOG_WARNING };

struct ctl_config {
    char file[CTL_PATH_MAX];

    /* segment */
    char seg_path[CTL_PATH_MAX];
    mode_t seg_mode;
    gid_t seg_gid;                  /* (gid_t)-1: unchanged                    */
    uint32_t cap_groups, cap_servers, cap_clusters, cap_longnames, cap_events;
    uint32_t cap_slotmaps;          /* clusters with distribution slots        */
    uint32_t heartbeat_ms, stale_after_ms;

    /* logging */
    int log_level;                  /* enum ctl_log_level                      */
    int log_syslog;
    char log_file[CTL_PATH_MAX];    /* "" = stderr                             */

    /* sentinels */
    struct ctl_addr *sentinels;
    uint32_t n_sentinels;
    struct ctl_cred sentinel_cred;
    uint32_t sentinel_connect_timeout_ms, sentinel_timeout_ms;
    uint32_t sentinel_poll_ms, sentinel_ping_ms;

    /* health checks */
    uint32_t health_interval_ms, health_timeout_ms, health_info_ms;
    uint32_t health_down_after, health_up_after;

    /* default server credentials */
    struct ctl_cred server_cred;

    struct ctl_addr_map *addr_map;
    uint32_t n_addr_map;

    struct ctl_group_cfg *groups;
    uint32_t n_groups;
    struct ctl_cluster_cfg *clusters; /* clusters first, then farms            */
    uint32_t n_clusters;            /* clusters and farms together             */

    /* notification program: argv[0] and fixed arguments; event args appended */
    char **notify_argv;
    uint32_t notify_argc;
    uint32_t notify_timeout_ms;

    /* Prometheus endpoint (ctl_metrics.c): has_metrics == 0 when absent */
    int has_metrics;
    struct ctl_addr metrics_listen;  /* numeric IPv4 or IPv6 address and port  */
};

/*
 * Load and validate path into *cfg (zeroed first).  Returns 0, or -1 with a
 * "file:line: setting: reason" message in err.  On failure *cfg holds
 * nothing that needs freeing.
 */
int ctl_config_load(const char *path, struct ctl_config *cfg, char *err, size_t errlen);

/* Free everything a successful ctl_config_load() allocated. */
void ctl_config_free(struct ctl_config *cfg);

/* Parse "host:port" or "[v6]:port".  Returns 0 or -1. */
int ctl_parse_addr(const char *s, struct ctl_addr *out);

/* Names for logs and --check-config output. */
const char *ctl_route_name(int route);
const char *ctl_rule_name(int rule);

#endif /* CTL_CONFIG_H */
