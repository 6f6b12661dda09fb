/*
 * mc_route.h -- choosing the server for one command (see mc_route.c).
 */
#ifndef MC_ROUTE_H
#define MC_ROUTE_H

#include "mc_commands.h"
#include "mc_internal.h"

/* A group with its servers and their hosts, copied under the latch. */
struct mc_gsnap {
    uint32_t gi;                                  /* the group's record index */
    struct mshm_group g;
    struct mshm_server s[MSHM_GROUP_SERVERS];
    char host[MSHM_GROUP_SERVERS][MSHM_HOST_MAX];
};

/*
 * Snapshot the group called name: record hint first when have_hint (verified
 * by name), else found by name.  MSHM_OK, NOTFOUND, BUSY, CORRUPT.
 */
int mc_gsnap_read(marshal_client *c, const char *name, uint32_t hint, int have_hint,
                  struct mc_gsnap *gs);

/* In/out of a pick. */
struct mc_pick {
    struct mc_conn *avoid;     /* in: a server that just failed this command       */
    int status;                /* out: why nothing was picked (MARSHAL_ERR_*)      */
    int waitable;              /* out: waiting for a segment change may help       */
    struct mc_conn *fallback;  /* out: a published-but-down master, last resort    */
};

/*
 * The server for a command of class cls (MC_CLASS_READ / MC_CLASS_WRITE)
 * under the target's effective rule, from the cached route (call
 * mc_route_refresh first).  NULL with p->status when none may take it.
 */
struct mc_conn *mc_route_pick(marshal_target *t, int cls, struct mc_pick *p);

#endif /* MC_ROUTE_H */
