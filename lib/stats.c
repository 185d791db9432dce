/*
 * Statistics snapshots. Each is taken under the router lock, after the
 * time-driven changes due by now, so it is consistent and shows what a
 * pick would see.
 */
#include <string.h>

#include "internal.h"

#define FO__END_OF(type, member)                                               \
    (offsetof(type, member) + sizeof(((type *)0)->member))
#define FO__ROUTE_STATS_SIZE_0_1  FO__END_OF(fo_route_stats, probes_late)
#define FO__ROUTER_STATS_SIZE_0_1 FO__END_OF(fo_router_stats, events_dropped)
_Static_assert(FO__ROUTE_STATS_SIZE_0_1 == sizeof(fo_route_stats),
               "fo_route_stats changed: record the new version's size and "
               "keep it free of tail padding");
_Static_assert(FO__ROUTER_STATS_SIZE_0_1 == sizeof(fo_router_stats),
               "fo_router_stats changed: record the new version's size and "
               "keep it free of tail padding");
/* A size beyond this is not a struct of any version: garbage. */
#define FO__STATS_SIZE_MAX 65536u

_Static_assert(FO__RESULT_MAX < FO_STATS_RESULTS, "results do not fit");
_Static_assert(FO_CLASS_ROUTE_FAULT < FO_STATS_CLASSES, "classes do not fit");
_Static_assert(FO_STATE_DRILL < FO_STATS_STATES, "states do not fit");

void fo__stats_copy_out(void *out, size_t caller_size, const void *full,
                        size_t full_size)
{
    size_t n = caller_size < full_size ? caller_size : full_size;

    /* Everything but the caller's size field, then zeros for fields of a
     * newer version than this library knows. */
    memcpy((char *)out + sizeof(size_t), (const char *)full + sizeof(size_t),
           n - sizeof(size_t));
    if (caller_size > full_size)
        memset((char *)out + full_size, 0, caller_size - full_size);
}

void fo__route_snapshot(fo_router *r, struct fo__route *rt, uint64_t now,
                        fo_route_stats *s)
{
    struct fo__health *h = &rt->health;
    const struct fo__config *c = &r->cfg;
    double penalty;
    uint64_t until = 0;

    fo__health_refresh(h, r, now);
    fo__window_advance(&h->window, now, c->bucket_ns);
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    s->route = rt->id;
    memcpy(s->name, rt->name.text, rt->name.len + 1);
    memcpy(s->reason_text, h->text, sizeof s->reason_text);
    s->reason_text[sizeof s->reason_text - 1] = '\0';
    s->state = (fo_route_state)h->state;
    s->reason = (fo_reason)h->reason;
    s->admin = (fo_admin)h->admin;
    s->priority = rt->priority;
    s->weight = rt->weight;
    s->cost = rt->cost;
    if (h->guarded)
        s->flags |= FO_STATS_GUARDED;
    if (rt->probe != NULL)
        s->flags |= FO_STATS_PROBED;
    if (h->ramp_since_ns != 0 && c->slow_start_ns != 0 &&
        now < fo__add_sat(h->ramp_since_ns, c->slow_start_ns))
        s->flags |= FO_STATS_RAMPING;
    if (h->health == FO_STATE_EJECTED && h->hold_cause == FO__HOLD_REGISTRATION)
        s->flags |= FO_STATS_AWAITS_REGISTRATION;
    s->consecutive_faults = h->consecutive_faults;
    penalty = fo__damp_value(&h->damp, c, now);
    s->penalty =
        penalty > (double)UINT32_MAX ? UINT32_MAX : (uint32_t)(penalty + 0.5);
    s->ejections = h->ejections;
    s->transitions = h->transitions;
    for (uint32_t i = 0; i < FO_MAX_TRIAL_CONCURRENCY; i++)
        if (h->trial_deadline_ns[i] != 0)
            s->trial_slots_in_use++;
    s->trial_slots = c->trial_concurrency;
    s->trial_passes = h->trial_passes;
    s->now_ns = now;
    s->state_since_ns = h->state_since_ns;
    s->time_in_state_ns = now > h->state_since_ns ? now - h->state_since_ns : 0;
    if (h->health == FO_STATE_EJECTED)
        s->hold_down_ns = h->hold_down_ns;
    switch ((fo_route_state)h->state) {
    case FO_STATE_EJECTED:
        if (h->hold_cause != FO__HOLD_REGISTRATION)
            until = h->hold_down_until_ns;
        break;
    case FO_STATE_SUPPRESSED:
        until = fo__damp_reuse_at(&h->damp, c);
        break;
    case FO_STATE_DRILL:
        until = h->drill_until_ns;
        break;
    default:
        break;
    }
    s->until_ns = until == UINT64_MAX ? 0 : until;
    s->last_fault_ns = rt->last_fault_ns;
    s->last_success_ns = rt->last_ok_ns;
    s->window_attempts = h->window.volume;
    s->window_faults = h->window.faults;
    s->window_timed = h->window.timed;
    s->window_slow = h->window.slow;
    if (h->window.volume != 0)
        s->window_failure_rate =
            (double)h->window.faults / (double)h->window.volume;
    if (h->window.timed != 0)
        s->window_slow_rate = (double)h->window.slow / (double)h->window.timed;
    for (int i = 1; i <= FO__RESULT_MAX; i++) {
        s->results[i] = rt->counters.results[i - 1];
        s->reports += rt->counters.results[i - 1];
    }
    for (int i = 1; i <= FO_CLASS_ROUTE_FAULT; i++)
        s->classes[i] = rt->counters.classes[i - 1];
    s->stale_reports = rt->counters.stale;
    s->picks = atomic_load_explicit(&rt->picks, memory_order_relaxed);
    s->trial_picks = rt->counters.trial_picks;
    s->panic_picks = rt->counters.panic_picks;
    if (rt->probes != NULL) {
        s->probes_sent = rt->probes->sent;
        s->probes_answered = rt->probes->answered;
        s->probes_failed = rt->probes->failed;
        s->probes_timed_out = rt->probes->timed_out;
        s->probes_late = rt->probes->late;
    }
}

/* A list's share of the totals (L1 taken here). */
static void add_list(struct fo__plan *p, fo_router_stats *s)
{
    fo__plan_lock(p);
    s->lists_in_panic += p->panic ? 1 : 0;
    s->picks += p->picks;
    s->panic_picks += p->panic_total;
    s->no_route_picks += p->failed_picks;
    fo__plan_unlock(p);
}

void fo__router_snapshot(fo_router *r, uint64_t now, fo_router_stats *s)
{
    uint32_t n = fo__table_slots(&r->routes);
    uint64_t seen;

    fo__local_fault_lapse(r, now);
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    s->now_ns = now;
    s->routes = r->routes.count;
    s->plans = r->plans.count;
    s->reports = r->gone_reports;
    for (uint32_t i = 0; i < n; i++) {
        struct fo__route *rt = fo__table_at(&r->routes, i);

        if (rt == NULL || !fo__table_live(&r->routes, i))
            continue;
        fo__route_lock(rt);
        fo__health_refresh(&rt->health, r, fo__route_now(rt, now));
        s->routes_in_state[rt->health.state]++;
        for (int k = 0; k < FO__RESULT_MAX; k++)
            s->reports += rt->counters.results[k];
        fo__route_unlock(rt);
    }
    s->picks = r->gone_picks + atomic_load_explicit(&r->defplan.solo_picks,
                                                    memory_order_relaxed);
    s->panic_picks = r->gone_panic_picks;
    s->no_route_picks = r->gone_failed_picks;
    add_list(&r->defplan, s);
    n = fo__table_slots(&r->plans);
    for (uint32_t i = 0; i < n; i++) {
        struct fo__plan *p = fo__table_at(&r->plans, i);

        if (p == NULL)
            continue;
        /* Every slot's picks without the lock, freed plans' too. */
        s->picks += atomic_load_explicit(&p->solo_picks, memory_order_relaxed);
        if (fo__table_live(&r->plans, i))
            add_list(p, s);
    }
    seen = atomic_load_explicit(&r->local_fault_seen_ns, memory_order_relaxed);
    if (seen != 0 && fo__add_sat(seen, r->cfg.local_fault_window_ns) >= now)
        s->flags |= FO_ROUTER_STATS_LOCAL_FAULT;
    if (atomic_load_explicit(&r->thread_active, memory_order_acquire))
        s->flags |= FO_ROUTER_STATS_THREAD;
    s->probe_strays =
        atomic_load_explicit(&r->probe_strays, memory_order_relaxed);
    (void)pthread_mutex_lock(&r->ev.lock);
    s->events_delivered = r->ev.delivered;
    s->events_dropped = r->ev.dropped;
    (void)pthread_mutex_unlock(&r->ev.lock);
}

int fo_route_get_stats(fo_router *router, fo_route_id route,
                       fo_route_stats *out)
{
    fo_route_stats s;
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL || out->size < FO__ROUTE_STATS_SIZE_0_1 ||
        out->size > FO__STATS_SIZE_MAX)
        return FO_EINVAL;
    now = fo__time(router);
    rt = fo__route_acquire(router, route);
    if (rt == NULL)
        return FO_ENOENT;
    fo__route_snapshot(router, rt, fo__route_now(rt, now), &s);
    fo__route_unlock(rt);
    fo__flush(router);
    fo__stats_copy_out(out, out->size, &s, sizeof s);
    return FO_OK;
}

int fo_router_get_stats(fo_router *router, fo_router_stats *out)
{
    fo_router_stats s;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL || out->size < FO__ROUTER_STATS_SIZE_0_1 ||
        out->size > FO__STATS_SIZE_MAX)
        return FO_EINVAL;
    now = fo__lock_now(router);
    fo__router_snapshot(router, now, &s);
    fo__unlock(router);
    fo__stats_copy_out(out, out->size, &s, sizeof s);
    return FO_OK;
}
