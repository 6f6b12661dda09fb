/*
 * mc_client.c -- the public lifecycle of client and target handles: open,
 * close, route override, target info.  The top of the library: it wires
 * the layers below (mc_base.c, mc_target.c, mc_cluster.c, mc_mirror.c) and
 * nothing below calls into it.  The async front end (mc_async.c) opens its
 * client through these calls.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mc_exec.h"
#include "mc_internal.h"

#define MC_DEFAULT_SEGMENT "/dev/shm/marshal.main"

static char *
dup_str(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

int
mc_client_open(const char *path, const marshal_options *opts, marshal_client **out)
{
    marshal_client *c;
    char err[128];
    int rc;

    if (out == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    if (opts != NULL) {
        c->o = *opts;
    } else {
        marshal_options_init(&c->o);
    }
    c->ev_fd = -1;
    c->ev_state = MARSHAL_STATE_LIVE;
    c->drain = mc_mirror_drain;
    if (!mc_check_options(&c->o, err, sizeof(err))) {
        free(c);
        return MARSHAL_ERR_RANGE;
    }
    c->username = dup_str(c->o.username);
    c->password = dup_str(c->o.password);
    c->o.username = c->username;
    c->o.password = c->password;
    if ((c->o.username != NULL && c->username == NULL) ||
        (opts != NULL && opts->password != NULL && c->password == NULL)) {
        mc_client_close(c);
        return MARSHAL_ERR_NOMEM;
    }
    if (path == NULL) {
        path = getenv("MARSHAL_SEGMENT");
    }
    if (path == NULL || path[0] == '\0') {
        path = MC_DEFAULT_SEGMENT;
    }
    if (strlen(path) >= sizeof(c->path) || strlen(path) >= sizeof(c->rd.path)) {
        mc_client_close(c);
        return MARSHAL_ERR_RANGE;
    }
    snprintf(c->path, sizeof(c->path), "%s", path);
    rc = mc_attach(c);
    *out = c;
    switch (rc) {
    case MARSHAL_OK:
    case MARSHAL_ERR_NOENT:
    case MARSHAL_ERR_PERM:
    case MARSHAL_ERR_VERSION:
    case MARSHAL_ERR_CORRUPT:
    case MARSHAL_ERR_RETIRED:
        return rc;          /* segment errors: an ABSENT client that keeps trying */
    default:
        mc_client_close(c);
        *out = NULL;
        return rc;
    }
}

void
mc_client_close(marshal_client *c)
{
    marshal_target *t, *n;

    if (c == NULL) {
        return;
    }
    for (t = c->targets; t != NULL; t = t->next) {
        mc_mirror_drain(t, 1);
    }
    for (t = c->targets; t != NULL; t = n) {
        n = t->next;
        mc_cluster_free(t, 0);      /* its members are in this list too */
        free(t->pend);
        free(t);
    }
    c->targets = NULL;
    mc_events_free(c);
    mc_conn_free_all(c);
    if (c->attached) {
        mshm_detach(&c->rd);
    }
    if (c->ev_fd >= 0) {
        close(c->ev_fd);
    }
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
    }
    free(c->username);
    free(c->password);
    free(c);
}

int
mc_target_open(marshal_client *c, const char *name, marshal_target **out)
{
    marshal_target *t;
    uint32_t idx;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (c == NULL || name == NULL || out == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    mc_clearerr(c);
    if (strlen(name) >= MSHM_NAME_MAX || name[0] == '\0') {
        mc_seterr(c, MARSHAL_ERR_INVAL, "target name must have 1..%d bytes", MSHM_NAME_MAX - 1);
        return MARSHAL_ERR_INVAL;
    }
    rc = mc_ensure_attached(c);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    mc_check_segment(c);
    if (mshm_find_group(&c->rd, name, &idx) == MSHM_OK) {
        rc = mc_target_open_group(c, name, &t);
        if (rc == MARSHAL_OK) {
            t->internal = 0;
            *out = t;
        }
        return rc;
    }
    rc = mshm_find_cluster(&c->rd, name, &idx);
    if (rc != MSHM_OK) {
        mc_seterr(c, rc, "no group or cluster \"%s\" in %s", name, c->path);
        return rc;
    }
    rc = mc_target_open_cluster(c, name, &t);
    if (rc == MARSHAL_OK) {
        t->internal = 0;
        *out = t;
    }
    return rc;
}

MARSHAL_API void
marshal_target_close(marshal_target *t)
{
    if (t == NULL) {
        return;
    }
    if (t->c->async != NULL) {
        return;     /* async commands may still hold it: freed by marshal_async_close */
    }
    mc_mirror_drain(t, 1);      /* mirror legs still owed: read (and count) them */
    mc_target_free(t);
}

/* A rule for t and, for clusters and farms, every member down to the groups. */
static void
set_route(marshal_target *t, int route)
{
    int i;

    t->route_override = route;
    for (i = 0; t->cl != NULL && i < t->cl->n; i++) {
        set_route(t->cl->member[i], route);     /* each group keeps its failover rules */
    }
}

MARSHAL_API int
marshal_target_use(marshal_target *t, int route)
{
    if (t == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    if (route != MARSHAL_ROUTE_DEFAULT && route != MARSHAL_ROUTE_MASTER &&
        route != MARSHAL_ROUTE_MASTER_READONLY && route != MARSHAL_ROUTE_SPLIT) {
        mc_seterr(t->c, MARSHAL_ERR_RANGE, "unknown route %d", route);
        return MARSHAL_ERR_RANGE;
    }
    set_route(t, route);
    return MARSHAL_OK;
}

MARSHAL_API int
marshal_target_info_get(marshal_target *t, marshal_target_info *info)
{
    int rc;

    if (t == NULL || info == NULL) {
        return MARSHAL_ERR_INVAL;
    }
    if (t->cl != NULL) {
        rc = mc_cluster_refresh(t);
        if (rc != MARSHAL_OK) {
            return rc;
        }
        memset(info, 0, sizeof(*info));
        info->name = t->name;
        info->kind = t->kind;
        info->route = info->published_route = -1;
        info->master_host = "";
        info->n_replicas = t->cl->n;      /* members, for a cluster */
        info->generation = t->cl->notify;
        return MARSHAL_OK;
    }
    rc = mc_route_refresh(t);
    if (rc != MARSHAL_OK) {
        return rc;
    }
    memset(info, 0, sizeof(*info));
    info->name = t->name;
    info->kind = t->kind;
    info->route = mc_effective_route(t);
    info->published_route = t->r.published_route;
    info->has_master = t->r.master != NULL && t->r.master_up;
    if (t->r.master != NULL) {
        snprintf(t->info_host, sizeof(t->info_host), "%s", t->r.master->host);
        info->master_port = t->r.master->port;
    } else {
        t->info_host[0] = '\0';
    }
    info->master_host = t->info_host;
    info->master_epoch = t->r.master_epoch;
    info->n_replicas = t->r.n_replicas;
    info->n_readable = t->r.wrr.n;
    info->degraded = (t->r.gflags & MSHM_GF_DEGRADED) != 0;
    info->failover = (t->r.gflags & MSHM_GF_FAILOVER) != 0;
    info->generation = t->r.notify;
    return MARSHAL_OK;
}


MARSHAL_API int
marshal_client_open(const char *path, const marshal_options *opts, marshal_client **out)
{
    return mc_client_open(path, opts, out);
}

MARSHAL_API void
marshal_client_close(marshal_client *c)
{
    mc_client_close(c);
}

MARSHAL_API int
marshal_target_open(marshal_client *c, const char *name, marshal_target **out)
{
    return mc_target_open(c, name, out);
}
