/*
 * mc_target.c -- target handles and group targets.
 *
 * Owns the client's list of targets (c->targets): a new handle is linked in
 * unrouted; a group target gets its route (mc_route.c) and its event
 * tracker (mc_events.c).  Cluster and farm targets are built on these by
 * mc_cluster.c; the public open/close calls are in mc_client.c.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_internal.h"

/* A new target handle called name, linked into c's list (not yet routed). */
marshal_target *
mc_target_new(marshal_client *c, const char *name)
{
    marshal_target *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        mc_seterr(c, MARSHAL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->c = c;
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->kind = MARSHAL_KIND_GROUP;
    t->route_override = MARSHAL_ROUTE_DEFAULT;
    t->next = c->targets;
    c->targets = t;
    return t;
}

int
mc_target_open_group(marshal_client *c, const char *name, marshal_target **out)
{
    marshal_target *t = mc_target_new(c, name);
    int rc;

    *out = NULL;
    if (t == NULL) {
        return MARSHAL_ERR_NOMEM;
    }
    t->internal = 1;
    rc = mc_route_rebuild(t);
    if (rc == MARSHAL_OK) {
        rc = mc_events_track(c, t);
    }
    if (rc != MARSHAL_OK) {
        mc_target_release(t);
        free(t->pend);
        free(t);
        return rc;
    }
    *out = t;
    return MARSHAL_OK;
}

/*
 * Take t out of its client: unlink it, drop the connections that still owe
 * it replies (they would desynchronise), stop tracking its events.  The
 * caller frees it (mc_target_free for any kind of target).
 */
void
mc_target_release(marshal_target *t)
{
    marshal_client *c = t->c;
    marshal_target **pp;

    for (pp = &c->targets; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    /* replies still owed on its connections would desynchronise them */
    while (t->pend_len > 0) {
        struct mc_pend *p = &t->pend[t->pend_head];

        if (p->conn != NULL && p->conn->ctx != NULL && p->epoch == p->conn->epoch) {
            mc_conn_drop(c, p->conn, MARSHAL_ERR_IO);
        }
        t->pend_head = (t->pend_head + 1) % t->pend_cap;
        t->pend_len--;
    }
    mc_events_untrack(c, t);
}
