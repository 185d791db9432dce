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

/* Smallest fo_report this library accepts (the first version's). */
#define FO__REPORT_SIZE_0_1                                                    \
    (offsetof(fo_report, retry_after_ns) + sizeof(uint64_t))
_Static_assert(FO__REPORT_SIZE_0_1 == sizeof(fo_report),
               "fo_report changed: record the new version's size and keep "
               "it free of tail padding");

/*
 * What a result says about the route's current state, from what the
 * attempt remembers of the pick: a trial pick of this very trial is the
 * trial's evidence; a pick made while the route was still in service,
 * reported now that it is in trial, is stale.
 */
static void classify_evidence(const fo_router *r, const struct fo__route *rt,
                              const fo_attempt *attempt, int index,
                              struct fo__outcome *o)
{
    const struct fo__health *h = &rt->health;
    uint16_t info;
    uint32_t epoch;

    o->evidence = FO__EVIDENCE_CURRENT;
    o->trial_slot = -1;
    o->release_oldest = false;
    if (attempt == NULL || index < 0) {
        o->release_oldest = true; /* cannot tell which call it was */
        return;
    }
    info = fo__attempt_info(attempt, index);
    epoch = (info >> FO__PICK_EPOCH_SHIFT) & FO__PICK_EPOCH_MASK;
    if (info & FO__PICK_TRIAL) {
        /* A trial call: it decides its own trial (and frees its slot, if
         * the slot has not been reused since it expired). */
        unsigned slot = (info >> FO__PICK_SLOT_SHIFT) & 0x7;
        unsigned gen = (info >> FO__PICK_SLOTGEN_SHIFT) & 0x7;

        if (epoch != (h->trial_epoch & FO__PICK_EPOCH_MASK) ||
            h->health == FO_STATE_EJECTED) {
            o->evidence = FO__EVIDENCE_STALE;
        } else if (h->health == FO_STATE_TRIAL) {
            o->evidence = FO__EVIDENCE_TRIAL;
            if ((h->slot_gen[slot] & 0x7) == gen)
                o->trial_slot = (int)slot;
        }
        /* else: the trial passed meanwhile; a current result */
    } else if (info & FO__PICK_PANIC) {
        if (epoch != (h->trial_epoch & FO__PICK_EPOCH_MASK))
            o->evidence = FO__EVIDENCE_STALE;
    } else if (epoch != (h->ejections & FO__PICK_EPOCH_MASK)) {
        /* Picked in service before the route's last ejection: an old
         * outage's call, however late it reports. */
        o->evidence = FO__EVIDENCE_STALE;
    }
    /* Placed before a suspected local fault ended, reported after it:
     * what happened to it belongs to the fault, not to the route. */
    if (!atomic_load_explicit(&r->local_fault_open, memory_order_relaxed) &&
        fo__attempt_lfgen(attempt, index) !=
            (uint16_t)atomic_load_explicit(&r->lf_gen, memory_order_relaxed))
        o->evidence = FO__EVIDENCE_STALE;
}

/* A checked report: the route's part. */
static int report(fo_router *router, fo_route_id route, fo_result result,
                  uint64_t latency_ns, uint64_t retry_after_ns,
                  fo_attempt *attempt)
{
    struct fo__outcome o;
    struct fo__route *rt;
    uint64_t now;
    int index = -1;
    int rc = FO_OK;

    if (attempt != NULL && fo__attempt_check(attempt, router) != FO_OK)
        return FO_EINVAL;
    o.result = result;
    o.cls = (fo_result_class)atomic_load_explicit(&router->result_class[result],
                                                  memory_order_relaxed);
    o.latency_ns = latency_ns;
    o.retry_after_ns = retry_after_ns;

    now = fo__time(router);
    rt = fo__route_acquire(router, route);
    if (rt == NULL)
        return FO_ENOENT;
    now = fo__route_now(rt, now);
    if (attempt != NULL) {
        index = fo__attempt_find(attempt, route);
        if (index >= 0 && fo__attempt_reported(attempt, index)) {
            rc = FO_EALREADY;
            goto out;
        }
        if (index < 0 && fo__attempt_count(attempt) >= FO_ATTEMPT_MAX_ROUTES) {
            rc = FO_ELIMIT; /* could not remember it: count nothing */
            goto out;
        }
    }
    /* Time-driven changes first (a hold-down that has just ended), then
     * the evidence is judged from the pick, before the attempt is updated:
     * a route reported without having been picked is current. */
    fo__health_refresh(&rt->health, router, now);
    classify_evidence(router, rt, attempt, index, &o);
    if (attempt != NULL) {
        if (index < 0)
            index = fo__attempt_append(attempt, router, route);
        fo__attempt_mark_reported(attempt, index);
    }
    rt->counters.results[o.result - 1]++;
    rt->counters.classes[o.cls - 1]++;
    if (o.evidence == FO__EVIDENCE_STALE)
        rt->counters.stale++;
    {
        uint64_t before = rt->health.next_event_ns;

        fo__health_report(rt, router, &o, now);
        fo__local_fault_lapse(router, now);
        if (rt->health.next_event_ns < before)
            fo__wake(router); /* a timer the router's thread must see */
    }
out:
    fo__route_unlock(rt);
    fo__flush(router);
    return rc;
}

int fo_report_result_ex(fo_router *router, fo_route_id route,
                        const fo_report *rep, fo_attempt *attempt)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (rep == NULL)
        return FO_EINVAL;
    rc = fo__struct_check(rep, rep->size, FO__REPORT_SIZE_0_1,
                          sizeof(fo_report));
    if (rc != FO_OK)
        return rc;
    if (!fo__result_valid((int)rep->result) || rep->flags != 0)
        return FO_EINVAL;
    return report(router, route, rep->result, rep->latency_ns,
                  rep->retry_after_ns, attempt);
}

int fo_report_result(fo_router *router, fo_route_id route, fo_result result,
                     fo_attempt *attempt)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (!fo__result_valid((int)result))
        return FO_EINVAL;
    return report(router, route, result, 0, 0, attempt);
}

int fo_router_set_result_class(fo_router *router, fo_result result,
                               fo_result_class cls)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (!fo__result_valid((int)result) || !fo__class_valid((int)cls))
        return FO_EINVAL;
    atomic_store_explicit(&router->result_class[result], (uint8_t)cls,
                          memory_order_relaxed);
    return FO_OK;
}

int fo_router_get_result_class(fo_router *router, fo_result result,
                               fo_result_class *out)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL || !fo__result_valid((int)result))
        return FO_EINVAL;
    *out = (fo_result_class)atomic_load_explicit(&router->result_class[result],
                                                 memory_order_relaxed);
    return FO_OK;
}
