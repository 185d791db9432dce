/*
 * Route selection: strict priority order (lowest value first, ties in the
 * order routes were added), skipping routes that are out of service and
 * routes this call has already tried. Weight 0 marks a backup-only route:
 * it is taken only when no other route is eligible. A route in trial is taken
 * only while it has a free trial slot; the slot and the trial it belongs to are
 * noted in the attempt, so the result reported later is credited to that trial.
 */
#include "internal.h"

int fo_pick_route(fo_router *router, fo_attempt *attempt, fo_route_id *out)
{
    const struct fo__table *t;
    struct fo__route *chosen = NULL, *backup = NULL;
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

    now = fo__lock_at(router, fo__now(router));
    t = &router->table;
    for (uint32_t i = 0; i < t->count; i++) {
        struct fo__route *rt = t->order[i];

        fo__health_refresh(&rt->health, router, now);
        if (!fo__health_pickable(&rt->health, router->cfg.trial_concurrency))
            continue;
        if (attempt != NULL && fo__attempt_find(attempt, rt->id) >= 0)
            continue;
        if (rt->weight == 0) { /* backup only: if nothing else is */
            if (backup == NULL)
                backup = rt;
            continue;
        }
        chosen = rt;
        break;
    }
    if (chosen == NULL)
        chosen = backup;
    if (chosen == NULL) {
        rc = FO_ENOROUTE;
    } else {
        uint16_t info = 0;

        if (chosen->health.state == FO_STATE_TRIAL) {
            int slot = fo__health_take_slot(&chosen->health, router, now);

            info =
                (uint16_t)(FO__PICK_TRIAL |
                           ((unsigned)slot << FO__PICK_SLOT_SHIFT) |
                           ((chosen->health.trial_epoch & FO__PICK_EPOCH_MASK)
                            << FO__PICK_EPOCH_SHIFT));
        }
        chosen->counters.picks++;
        if (attempt != NULL) {
            int index = fo__attempt_append(attempt, router, chosen->id);

            fo__attempt_set_info(attempt, index, info);
        }
        *out = chosen->id;
    }
    fo__unlock(router);
    return rc;
}
