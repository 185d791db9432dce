/* Result names, default classes, and fo_report_result(). */
#include "internal.h"

const char *fo_result_name(fo_result result)
{
    switch (result) {
    case FO_RESULT_SUCCESS:
        return "SUCCESS";
    case FO_RESULT_BUSY:
        return "BUSY";
    case FO_RESULT_NOANSWER:
        return "NOANSWER";
    case FO_RESULT_DECLINED:
        return "DECLINED";
    case FO_RESULT_CANCELLED:
        return "CANCELLED";
    case FO_RESULT_CONGESTION:
        return "CONGESTION";
    case FO_RESULT_UNAVAILABLE:
        return "UNAVAILABLE";
    case FO_RESULT_TIMEOUT:
        return "TIMEOUT";
    case FO_RESULT_REJECTED:
        return "REJECTED";
    default:
        return "UNKNOWN";
    }
}

fo_result_class fo_result_default_class(fo_result result)
{
    switch (result) {
    case FO_RESULT_SUCCESS:
        return FO_CLASS_SUCCESS;
    case FO_RESULT_BUSY:
    case FO_RESULT_NOANSWER:
    case FO_RESULT_DECLINED:
        return FO_CLASS_CALLEE;
    case FO_RESULT_CANCELLED:
        return FO_CLASS_NEUTRAL;
    case FO_RESULT_CONGESTION:
    case FO_RESULT_UNAVAILABLE:
    case FO_RESULT_TIMEOUT:
    case FO_RESULT_REJECTED:
        return FO_CLASS_ROUTE_FAULT;
    default:
        return (fo_result_class)0;
    }
}

int fo_report_result(fo_router *router, fo_route_id route, fo_result result,
                     fo_attempt *attempt)
{
    struct fo__route *rt;
    uint64_t now;
    int index = -1;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (!fo__result_valid((int)result))
        return FO_EINVAL;
    if (attempt != NULL && fo__attempt_check(attempt, router) != FO_OK)
        return FO_EINVAL;
    now = fo__now(router);

    fo__lock(router);
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
        goto out;
    }
    if (attempt != NULL) {
        index = fo__attempt_find(attempt, route);
        if (index >= 0 && fo__attempt_reported(attempt, index)) {
            rc = FO_EALREADY;
            goto out;
        }
        if (index < 0 && fo__attempt_count(attempt) < FO_ATTEMPT_MAX_ROUTES)
            index = fo__attempt_append(attempt, router, route);
        if (index >= 0)
            fo__attempt_mark_reported(attempt, index);
    }
    rt->counters.results[result]++;
    fo__health_report(&rt->health, &router->cfg,
                      fo_result_default_class(result), now);
out:
    fo__unlock(router);
    return rc;
}
