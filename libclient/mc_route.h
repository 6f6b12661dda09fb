/*
 * mc_route.h -- choosing the server for one command (see mc_route.c).
 */
#ifndef MC_ROUTE_H
#define MC_ROUTE_H

#include "mc_commands.h"
#include "mc_internal.h"

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
