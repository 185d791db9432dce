/*
 * Route selection: strict priority order (lowest value first, ties in the
 * order routes were added), skipping routes that are out of service and
 * routes this call has already tried.
 */
#include "internal.h"

int fo_pick_route(fo_router *router, fo_attempt *attempt, fo_route_id *out)
{
    const struct fo__table *t;
    struct fo__route *chosen = NULL;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    *out = FO_ROUTE_ID_NONE;
    if (attempt != NULL && fo__attempt_check(attempt, router) != FO_OK)
        return FO_EINVAL;
    if (attempt != NULL &&
        fo__attempt_count(attempt) >= router->cfg.max_attempts)
        return FO_ELIMIT;
    now = fo__now(router);

    fo__lock(router);
    fo__table_order(router);
    t = &router->table;
    for (uint32_t i = 0; i < t->count; i++) {
        struct fo__route *rt = t->order[i];

        fo__health_refresh(&rt->health, now);
        if (!fo__health_eligible(&rt->health))
            continue;
        if (attempt != NULL && fo__attempt_find(attempt, rt->id) >= 0)
            continue;
        chosen = rt;
        break;
    }
    if (chosen == NULL) {
        rc = FO_ENOROUTE;
    } else {
        chosen->counters.picks++;
        if (attempt != NULL)
            fo__attempt_append(attempt, router, chosen->id);
        *out = chosen->id;
    }
    fo__unlock(router);
    return rc;
}
