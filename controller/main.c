/*
 * main.c -- marshal-controller entry point.
 *
 * This increment implements configuration loading and --check-config; the
 * sentinel client, health checker and publisher land with the rest of
 * issue 4, and until then running without --check-config says so and exits.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_config.h"

#define CTL_EXIT_CONFIG 2

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: marshal-controller [-c FILE] [--check-config]\n"
            "  -c, --config FILE   configuration (default /etc/marshal/marshal.conf)\n"
            "      --check-config  validate the configuration, print a summary, exit\n"
            "  -h, --help          this text\n"
            "exit status: 0 ok, 1 runtime error, 2 configuration error\n");
}

static void
summary(const struct ctl_config *cfg)
{
    uint32_t i, j;

    printf("%s: OK\n", cfg->file);
    printf("segment %s mode %04o, capacity %u groups / %u servers / %u clusters\n",
           cfg->seg_path, (unsigned)cfg->seg_mode, cfg->cap_groups, cfg->cap_servers,
           cfg->cap_clusters);
    printf("sentinels %u\n", cfg->n_sentinels);
    for (i = 0; i < cfg->n_groups; i++) {
        const struct ctl_group_cfg *g = &cfg->groups[i];

        if (g->sentinel) {
            printf("group %s: sentinel-managed, route %s, power %u\n", g->name,
                   ctl_route_name(g->route), g->power);
        } else {
            printf("group %s: static, master %s:%u, %u replicas, route %s, power %u\n",
                   g->name, g->master.host, g->master.port, g->n_replicas,
                   ctl_route_name(g->route), g->power);
        }
    }
    for (i = 0; i < cfg->n_clusters; i++) {
        const struct ctl_cluster_cfg *c = &cfg->clusters[i];

        printf("%s %s: %s, members", c->rule == 2 ? "farm" : "cluster", c->name,
               ctl_rule_name(c->rule));
        for (j = 0; j < c->n_members; j++) {
            printf(" %s(%u)%s", c->members[j].name, c->members[j].power,
                   (int)j == c->primary ? "*" : "");
        }
        printf("\n");
    }
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = "/etc/marshal/marshal.conf";
    struct ctl_config cfg;
    char err[1024];
    int ch, check = 0;

    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            file = optarg;
            break;
        case 'C':
            check = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return CTL_EXIT_CONFIG;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return CTL_EXIT_CONFIG;
    }
    if (ctl_config_load(file, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "marshal-controller: configuration error: %s\n", err);
        return CTL_EXIT_CONFIG;
    }
    if (check) {
        summary(&cfg);
        ctl_config_free(&cfg);
        return 0;
    }
    fprintf(stderr, "marshal-controller: only --check-config is implemented in this build "
            "(the daemon lands with issue 4)\n");
    ctl_config_free(&cfg);
    return 1;
}
