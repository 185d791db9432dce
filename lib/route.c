/*
 * Routes: adding, changing and removing them (router lock, then the
 * lists' and the route's own), and the calls on one route (its lock only).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct fo__route *fo__route_get(fo_router *router, fo_route_id id)
{
    return fo__table_get(router, &router->routes, id);
}

struct fo__route *fo__route_acquire(fo_router *r, fo_route_id id)
{
    struct fo__route *rt = fo__table_find(r, &r->routes, id);

    if (rt == NULL || id == FO_ROUTE_ID_NONE)
        return NULL;
    fo__route_lock(rt);
    if (rt->id != id) {
        /* Removed, or its slot holds another route now. */
        fo__route_unlock(rt);
        return NULL;
    }
    return rt;
}

int fo__route_obj_init(void *obj)
{
    struct fo__route *rt = obj;

    atomic_init(&rt->view, 0);
    atomic_init(&rt->view_next_ns, UINT64_MAX);
    atomic_init(&rt->view_ramp_ns, 0);
    atomic_init(&rt->view_fault_ns, 0);
    atomic_init(&rt->view_ok_ns, 0);
    atomic_init(&rt->view_ejected_ns, 0);
    atomic_init(&rt->picks, 0);
    return pthread_mutex_init(&rt->lock, NULL) == 0 ? FO_OK : FO_ESYS;
}

void fo__route_obj_fini(fo_router *r, void *obj)
{
    struct fo__route *rt = obj;

    fo__free(r, &r->allocator, rt->lists);
    fo__free(r, &r->allocator, rt->probes);
    (void)pthread_mutex_destroy(&rt->lock);
}

/* Everything of a route but its lock and its allocations, fresh. */
static void route_reset(struct fo__route *rt)
{
    struct fo__plan **lists = rt->lists;
    uint32_t lists_cap = rt->lists_cap;
    struct fo__probe_counts *probes = rt->probes;
    size_t from = offsetof(struct fo__route, name);
    size_t to = offsetof(struct fo__route, view);

    memset((char *)rt + from, 0, to - from);
    rt->lists = lists;
    rt->lists_cap = lists_cap;
    rt->probes = probes;
    if (probes != NULL)
        memset(probes, 0, sizeof *probes);
    atomic_store_explicit(&rt->picks, 0, memory_order_relaxed);
    atomic_store_explicit(&rt->view_fault_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&rt->view_ok_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&rt->view_ejected_ns, 0, memory_order_relaxed);
}

int fo_route_add(fo_router *router, const char *name, uint32_t priority,
                 uint32_t weight, uint32_t cost, fo_route_id *out)
{
    struct fo__route *rt;
    struct fo__plan *def;
    uint64_t now, id;
    size_t len;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    def = &router->defplan;
    if (name == NULL || out == NULL)
        return FO_EINVAL;
    len = fo__name_check(name);
    if (len == 0)
        return FO_EINVAL;
    if (weight > FO_WEIGHT_MAX)
        return FO_ERANGE;
    now = fo__lock_now(router);
    if (fo__names_find(&router->route_names, name, len) != NULL) {
        rc = FO_EEXIST;
        goto out;
    }
    if (router->routes.count >= router->cfg.max_routes) {
        rc = FO_ELIMIT;
        goto out;
    }
    /* Make room everywhere before changing anything: a failure leaves the
     * router as it was (with, at most, larger tables). */
    rc = fo__table_reserve(router, &router->routes);
    if (rc == FO_OK)
        rc = fo__names_reserve(router, &router->route_names);
    if (rc == FO_OK)
        rc = fo__plan_reserve(router, def, 1);
    if (rc != FO_OK)
        goto out;
    /* Nothing below can fail. */
    rt = fo__table_insert(router, &router->routes, &id);
    fo__plan_lock(def);
    fo__route_lock(rt);
    route_reset(rt);
    rt->seq = router->route_seq++;
    if (rt->probes != NULL) /* a removed route's, zeroed: for this one now */
        rt->probes->seq0 = atomic_load(&router->probe_seq);
    rt->priority = priority;
    rt->weight = weight;
    rt->cost = cost;
    rt->now_ns = now;
    rt->rng = fo__route_seed(router);
    fo__name_set(&rt->name, name, len);
    fo__health_init(&rt->health, now);
    rt->health.lf_gen_seen = atomic_load(&router->lf_gen); /* none to catch */
    rt->id = id;
    (void)fo__plan_put(router, def, rt, priority, weight, cost);
    fo__lists_join(def, rt, 1); /* a member; its share comes with publish */
    fo__route_publish(router, rt);
    fo__names_link(&router->route_names, &rt->name);
    *out = id;
    {
        struct fo__event_rec e;

        if (fo__event_begin(router, &e, FO_EVENT_ROUTE_ADDED, FO_LOG_INFO,
                            now)) {
            fo__event_route(router, &e, rt, now);
            e.reason = FO_REASON_ADDED;
            snprintf(e.text, sizeof e.text,
                     "added (priority %u, weight %u, cost %u)",
                     (unsigned)priority, (unsigned)weight, (unsigned)cost);
            fo__event_push(router, &e);
        }
    }
    fo__route_unlock(rt);
    fo__plan_unlock(def);
out:
    fo__unlock(router);
    return rc;
}

int fo_route_update(fo_router *router, fo_route_id route, uint32_t priority,
                    uint32_t weight, uint32_t cost)
{
    struct fo__route *rt;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    fo__lock(router);
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
    } else if (weight > FO_WEIGHT_MAX) {
        rc = FO_ERANGE;
    } else {
        /* The entry exists, so this moves it without allocating. */
        fo__plan_lock(&router->defplan);
        fo__route_lock(rt);
        (void)fo__plan_put(router, &router->defplan, rt, priority, weight,
                           cost);
        rt->priority = priority;
        rt->weight = weight;
        rt->cost = cost;
        fo__route_unlock(rt);
        fo__plan_unlock(&router->defplan);
    }
    fo__unlock(router);
    return rc;
}

int fo_route_remove(fo_router *router, fo_route_id route)
{
    struct fo__probe_reg *destroy = NULL;
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    now = fo__lock_now(router);
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
    } else {
        struct fo__event_rec e;

        fo__route_lock(rt);
        now = fo__route_now(rt, now);
        fo__health_refresh(&rt->health, router, now); /* as it leaves */
        if (fo__event_begin(router, &e, FO_EVENT_ROUTE_REMOVED, FO_LOG_INFO,
                            now)) {
            fo__event_route(router, &e, rt, now);
            snprintf(e.text, sizeof e.text, "removed");
            fo__event_push(router, &e);
        }
        /* Gone from here on: calls that find it by id see it gone, picks
         * that still find it in a list pass it over. */
        fo__probe_drop(router, rt, &destroy);
        for (int k = 0; k < FO__RESULT_MAX; k++)
            router->gone_reports += rt->counters.results[k];
        rt->id = FO_ROUTE_ID_NONE;
        fo__route_publish(router, rt);
        fo__route_unlock(rt);
        fo__plans_forget_route(router, rt);
        fo__names_unlink(&router->route_names, &rt->name);
        fo__table_remove(&router->routes, route);
        fo__wake(router);
    }
    fo__unlock(router);
    fo__probe_destroy_list(router, destroy);
    return rc;
}

int fo_route_lookup(fo_router *router, const char *name, fo_route_id *out)
{
    struct fo__name *n;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (name == NULL || out == NULL)
        return FO_EINVAL;
    fo__lock(router);
    n = fo__names_find(&router->route_names, name, fo__name_len(name));
    if (n == NULL)
        rc = FO_ENOENT;
    else
        *out = ((struct fo__route *)(void *)((char *)n -
                                             offsetof(struct fo__route, name)))
                   ->id;
    fo__unlock(router);
    return rc;
}

int fo_route_get_name(fo_router *router, fo_route_id route, char *buf,
                      size_t size)
{
    struct fo__route *rt;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (buf == NULL || size == 0)
        return FO_EINVAL;
    rt = fo__route_acquire(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
    } else if (rt->name.len >= size) {
        memcpy(buf, rt->name.text, size - 1);
        buf[size - 1] = '\0';
        rc = FO_ERANGE;
    } else {
        memcpy(buf, rt->name.text, rt->name.len + 1);
    }
    if (rt != NULL)
        fo__route_unlock(rt);
    return rc;
}

/* The route, locked, at router time now (refreshed), or NULL. */
static struct fo__route *acquire_now(fo_router *r, fo_route_id id,
                                     uint64_t *now)
{
    uint64_t t = fo__time(r);
    struct fo__route *rt = fo__route_acquire(r, id);

    if (rt == NULL)
        return NULL;
    *now = fo__route_now(rt, t);
    fo__health_refresh(&rt->health, r, *now);
    return rt;
}

/* Unlocks a route after a call that may have queued events. */
static void release(fo_router *r, struct fo__route *rt)
{
    fo__route_unlock(rt);
    fo__flush(r);
}

int fo_route_get_state(fo_router *router, fo_route_id route,
                       fo_route_state *out)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    rt = acquire_now(router, route, &now);
    if (rt == NULL)
        return FO_ENOENT;
    *out = (fo_route_state)rt->health.state;
    release(router, rt);
    return FO_OK;
}

int fo_route_set_admin(fo_router *router, fo_route_id route, fo_admin admin)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (admin != FO_ADMIN_ENABLED && admin != FO_ADMIN_DRAINING &&
        admin != FO_ADMIN_DISABLED)
        return FO_EINVAL;
    rt = acquire_now(router, route, &now);
    if (rt == NULL)
        return FO_ENOENT;
    fo__health_set_admin(&rt->health, router, admin, now);
    fo__wake(router);
    release(router, rt);
    return FO_OK;
}

#define FO__DRILL_MAX_NS (24ull * 3600 * FO_SECOND_NS)

int fo_route_drill(fo_router *router, fo_route_id route, uint64_t duration_ns)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    rt = acquire_now(router, route, &now);
    if (rt == NULL)
        return FO_ENOENT;
    if (duration_ns > FO__DRILL_MAX_NS) {
        rc = FO_ERANGE;
    } else {
        fo__health_drill(&rt->health, router, duration_ns, now);
        fo__wake(router);
    }
    release(router, rt);
    return rc;
}

int fo_route_signal(fo_router *router, fo_route_id route, fo_signal signal)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (signal < FO_SIGNAL_REGISTRATION_LOST ||
        signal > FO_SIGNAL_KEEPALIVE_RESTORED)
        return FO_EINVAL;
    rt = acquire_now(router, route, &now);
    if (rt == NULL)
        return FO_ENOENT;
    fo__health_signal(&rt->health, router, signal, now);
    fo__wake(router);
    release(router, rt);
    return FO_OK;
}

int fo_route_get_reason(fo_router *router, fo_route_id route, fo_reason *reason,
                        char *text, size_t size)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (text != NULL && size == 0)
        return FO_EINVAL;
    rt = acquire_now(router, route, &now);
    if (rt == NULL)
        return FO_ENOENT;
    if (reason != NULL)
        *reason = (fo_reason)rt->health.reason;
    if (text != NULL) {
        size_t len = strnlen(rt->health.text, sizeof rt->health.text);

        if (len >= size) {
            len = size - 1;
            rc = FO_ERANGE;
        }
        memcpy(text, rt->health.text, len);
        text[len] = '\0';
    }
    release(router, rt);
    return rc;
}

const char *fo_reason_name(fo_reason reason)
{
    static const char *const names[] = {
        [FO_REASON_NONE] = "NONE",
        [FO_REASON_ADDED] = "ADDED",
        [FO_REASON_CONSECUTIVE_FAULTS] = "CONSECUTIVE_FAULTS",
        [FO_REASON_FAILURE_RATE] = "FAILURE_RATE",
        [FO_REASON_SLOW_CALLS] = "SLOW_CALLS",
        [FO_REASON_RETRY_AFTER] = "RETRY_AFTER",
        [FO_REASON_REGISTRATION_LOST] = "REGISTRATION_LOST",
        [FO_REASON_REGISTRATION_RESTORED] = "REGISTRATION_RESTORED",
        [FO_REASON_KEEPALIVE_LOST] = "KEEPALIVE_LOST",
        [FO_REASON_KEEPALIVE_RESTORED] = "KEEPALIVE_RESTORED",
        [FO_REASON_HOLD_DOWN_ENDED] = "HOLD_DOWN_ENDED",
        [FO_REASON_TRIAL_PASSED] = "TRIAL_PASSED",
        [FO_REASON_TRIAL_FAILED] = "TRIAL_FAILED",
        [FO_REASON_SUPPRESSED] = "SUPPRESSED",
        [FO_REASON_REUSED] = "REUSED",
        [FO_REASON_DISABLED] = "DISABLED",
        [FO_REASON_DRAINING] = "DRAINING",
        [FO_REASON_ENABLED] = "ENABLED",
        [FO_REASON_DRILL_STARTED] = "DRILL_STARTED",
        [FO_REASON_DRILL_ENDED] = "DRILL_ENDED",
        [FO_REASON_EJECTION_GUARD] = "EJECTION_GUARD",
        [FO_REASON_LOCAL_FAULT] = "LOCAL_FAULT",
        [FO_REASON_PROBE_FAILED] = "PROBE_FAILED",
        [FO_REASON_PROBE_PASSED] = "PROBE_PASSED",
        [FO_REASON_GUARD_ENDED] = "GUARD_ENDED",
    };

    if ((unsigned)reason >= sizeof names / sizeof *names)
        return "UNKNOWN";
    return names[reason];
}

const char *fo_route_state_name(fo_route_state state)
{
    switch (state) {
    case FO_STATE_UP:
        return "UP";
    case FO_STATE_EJECTED:
        return "EJECTED";
    case FO_STATE_TRIAL:
        return "TRIAL";
    case FO_STATE_SUPPRESSED:
        return "SUPPRESSED";
    case FO_STATE_DISABLED:
        return "DISABLED";
    case FO_STATE_DRAINING:
        return "DRAINING";
    case FO_STATE_DRILL:
        return "DRILL";
    default:
        return "UNKNOWN";
    }
}
