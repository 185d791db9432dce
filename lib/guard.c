/*
 * Guards against the library's own detectors. Passive detection (runs of
 * faults, failure and slow-call rates) must never empty a list because of
 * one bad minute:
 *
 * - The ejection guard keeps at most max_ejected_pct of a list's enabled
 *   routes out at once, rounded, but always lets one go and always keeps
 *   one: 2 routes -> 1 may be out, 3 -> 2 (at 50%), 10 -> 5. Envoy's
 *   "10%, at least one" gives a 2-route cluster nothing to protect it; a
 *   single route is never ejected by passive detection (there is nowhere
 *   to fail over to). Lists are the default list and every plan of two or
 *   more routes that uses the route.
 * - The local-fault guard: when every route in service that was tried
 *   within local_fault_window_ns failed its latest attempt, the fault is
 *   more likely ours (uplink, DNS, a bad number block) than every
 *   carrier's at once, and nothing is ejected; when it clears, the routes
 *   are already in service, in their usual order.
 *
 * A route a guard keeps is flagged: picks take it only when no healthy
 * route is left (sharing by weight among such routes). The decision holds
 * for local_fault_window_ns, then the route is in ordinary service again
 * and its next fault asks the guards anew; a success ends it at once.
 * Operators' states, signals and Retry-After are never limited. These
 * checks walk the lists, but run only when a detector fires on a route not
 * already guarded, never on an ordinary pick or report.
 */
#include <stdio.h>

#include "internal.h"

static uint32_t allowed_out(uint32_t n, uint32_t pct)
{
    uint32_t a = (uint32_t)(((uint64_t)n * pct + 50) / 100);

    if (a < 1)
        a = 1;
    if (a > n - 1)
        a = n - 1;
    return a;
}

/* The guards count, per list, its members enabled (not disabled,
 * draining or in a drill) and those among them ejected: a route moves
 * its share when its view changes, so a decision reads two numbers per
 * list instead of walking it. */
static void count_in(struct fo__plan *p, int d_enabled, int d_ejected)
{
    if (d_enabled != 0)
        atomic_fetch_add_explicit(&p->g_enabled, (uint32_t)d_enabled,
                                  memory_order_relaxed);
    if (d_ejected != 0)
        atomic_fetch_add_explicit(&p->g_ejected, (uint32_t)d_ejected,
                                  memory_order_relaxed);
}

static void shares(uint8_t g, int *enabled, int *ejected)
{
    *enabled = (g & FO__G_ENABLED) != 0;
    *ejected = g == (FO__G_ENABLED | FO__G_EJECTED);
}

void fo__lists_count(fo_router *r, struct fo__route *rt, uint8_t g)
{
    int en0, ej0, en1, ej1;

    shares(rt->gstat, &en0, &ej0);
    shares(g, &en1, &ej1);
    count_in(&r->defplan, en1 - en0, ej1 - ej0);
    for (uint32_t i = 0; i < rt->plan_refs; i++)
        count_in(rt->lists[i], en1 - en0, ej1 - ej0);
    rt->gstat = g;
}

void fo__lists_join(struct fo__plan *p, const struct fo__route *rt, int sign)
{
    int en, ej;

    shares(rt->gstat, &en, &ej);
    atomic_fetch_add_explicit(&p->g_count, (uint32_t)sign,
                              memory_order_relaxed);
    count_in(p, sign * en, sign * ej);
}

/* Would ejecting rt leave list p with too many routes out? A route in
 * trial can take calls: it counts as in service (a backup sitting in trial
 * must not keep a dead primary in service); a failing trial asks the
 * guards in turn. A plan of one route has no failover to protect; the
 * router's only route is kept. */
static bool list_full(const fo_router *r, struct fo__plan *p,
                      const struct fo__route *rt, uint32_t pct, uint32_t *n_out,
                      uint32_t *out_out)
{
    uint32_t n = atomic_load_explicit(&p->g_enabled, memory_order_relaxed);
    uint32_t out = atomic_load_explicit(&p->g_ejected, memory_order_relaxed);

    if (rt->gstat == (FO__G_ENABLED | FO__G_EJECTED) && out > 0)
        out--; /* counts the others only */
    *n_out = n;
    *out_out = out;
    if (n < 2)
        return p == &r->defplan && n == 1;
    return out + 1 > allowed_out(n, pct);
}

/*
 * Every route in service that was tried within the window failed its
 * latest attempt (and at least two were tried). Routes out of service,
 * disabled, in a drill or not tried lately give no evidence either way: a
 * fourth carrier that the calls never reach does not prove our uplink
 * works, while one healthy carrier that answers does prove it. Routes are
 * read through their published views: this runs under one route's lock.
 */
bool fo__local_fault(fo_router *r, uint64_t now)
{
    uint64_t w = r->cfg.local_fault_window_ns;
    uint32_t n = 0, slots = fo__table_slots(&r->routes);

    for (uint32_t i = 0; i < slots; i++) {
        const struct fo__route *e = fo__table_at(&r->routes, i);
        uint64_t v, fault, ok, latest;

        if (e == NULL)
            continue;
        v = atomic_load_explicit(&e->view, memory_order_acquire);
        if ((v & FO__V_LIVE) == 0 || (v & FO__V_ENABLED) == 0)
            continue;
        fault = atomic_load_explicit(&e->view_fault_ns, memory_order_relaxed);
        ok = atomic_load_explicit(&e->view_ok_ns, memory_order_relaxed);
        latest = fault > ok ? fault : ok;
        if (latest == 0 || fo__add_sat(latest, w) < now)
            continue;
        if (v & FO__V_EJECTED) {
            /* Taken out by its faults within the window: the first
             * casualty of what may be our own fault, and evidence. */
            if ((v & FO__V_PASSIVE) &&
                fo__add_sat(atomic_load_explicit(&e->view_ejected_ns,
                                                 memory_order_relaxed),
                            w) >= now)
                n++;
            continue;
        }
        if (ok >= fault)
            return false; /* its latest attempt worked */
        n++;
    }
    return n >= 2;
}

/* The guards' decision for rt (its lock held, guard_lock held). */
static fo_reason decide(fo_router *r, struct fo__route *rt, uint64_t now,
                        char *why, size_t size)
{
    const struct fo__config *c = &r->cfg;
    uint32_t n, out;

    if ((c->guards_off & FO_GUARD_LOCAL_FAULT) == 0 &&
        fo__local_fault(r, now)) {
        if (!atomic_load_explicit(&r->local_fault_open, memory_order_relaxed)) {
            struct fo__event_rec e;

            /* Routes its first faults ejected come back on their next
             * refresh (fo__health_refresh), kept by the guard. */
            atomic_store_explicit(&r->lf_from_ns,
                                  now > c->local_fault_window_ns
                                      ? now - c->local_fault_window_ns
                                      : 0,
                                  memory_order_relaxed);
            atomic_store_explicit(&r->local_fault_open, true,
                                  memory_order_relaxed);
            atomic_fetch_add_explicit(&r->lf_gen, 1, memory_order_release);
            /* Lists look at every route again (reinstated ones too). */
            atomic_fetch_add_explicit(&r->epoch, 1, memory_order_release);
            if (fo__event_begin(r, &e, FO_EVENT_LOCAL_FAULT, FO_LOG_WARNING,
                                now)) {
                fo__event_route(r, &e, rt, now);
                e.reason = FO_REASON_LOCAL_FAULT;
                snprintf(e.text, sizeof e.text,
                         "every route in service failing at once (latest %s)",
                         rt->name.text);
                fo__event_push(r, &e);
            }
        }
        atomic_store_explicit(&r->local_fault_seen_ns, now,
                              memory_order_relaxed);
        snprintf(why, size,
                 "kept in service: every route failing at once, "
                 "suspected local fault");
        return FO_REASON_LOCAL_FAULT;
    }
    if ((c->guards_off & FO_GUARD_EJECTION) != 0)
        return FO_REASON_NONE;
    if (list_full(r, &r->defplan, rt, c->max_ejected_pct, &n, &out)) {
        if (n == 1)
            snprintf(why, size,
                     "kept in service by the ejection guard: the only "
                     "route");
        else
            snprintf(why, size,
                     "kept in service by the ejection guard: %u of %u "
                     "routes already out",
                     (unsigned)out, (unsigned)n);
        return FO_REASON_EJECTION_GUARD;
    }
    for (uint32_t i = 0; i < rt->plan_refs; i++) {
        struct fo__plan *p = rt->lists[i];

        if (list_full(r, p, rt, c->max_ejected_pct, &n, &out)) {
            snprintf(why, size,
                     "kept in service by the ejection guard: %u of %u "
                     "routes of plan %s already out",
                     (unsigned)out, (unsigned)n, p->name.text);
            return FO_REASON_EJECTION_GUARD;
        }
    }
    return FO_REASON_NONE;
}

fo_reason fo__guard_check(fo_router *r, struct fo__route *rt, uint64_t now,
                          char *why, size_t size)
{
    fo_reason kept;

    /* One decision at a time: two routes failing together must not both
     * see the other still in service. An ejection allowed is counted
     * before the lock goes, so the next decision sees it. */
    (void)pthread_mutex_lock(&r->guard_lock);
    kept = decide(r, rt, now, why, size);
    if (kept == FO_REASON_NONE && (rt->gstat & FO__G_ENABLED))
        fo__lists_count(r, rt, FO__G_ENABLED | FO__G_EJECTED);
    (void)pthread_mutex_unlock(&r->guard_lock);
    return kept;
}

/* The faults of an episode were ours: routes forget them on their next
 * refresh (their windows and runs of faults restart). guard_lock held. */
static void end_episode(fo_router *r, uint64_t now)
{
    atomic_store_explicit(&r->local_fault_open, false, memory_order_relaxed);
    atomic_store_explicit(&r->local_fault_seen_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&r->lf_until_ns, now, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->lf_gen, 1, memory_order_release);
    atomic_fetch_add_explicit(&r->epoch, 1, memory_order_release);
}

void fo__local_fault_lapse_slow(fo_router *r, uint64_t now)
{
    struct fo__event_rec e;
    char dur[32];

    (void)pthread_mutex_lock(&r->guard_lock);
    if (!atomic_load_explicit(&r->local_fault_open, memory_order_relaxed) ||
        fo__add_sat(
            atomic_load_explicit(&r->local_fault_seen_ns, memory_order_relaxed),
            r->cfg.local_fault_window_ns) >= now) {
        (void)pthread_mutex_unlock(&r->guard_lock);
        return;
    }
    end_episode(r, now);
    if (fo__event_begin(r, &e, FO_EVENT_LOCAL_FAULT_ENDED, FO_LOG_INFO, now)) {
        fo__format_duration(dur, sizeof dur, r->cfg.local_fault_window_ns);
        fo__textf(e.text, sizeof e.text,
                  "no sign of it for %s: every route kept is back to "
                  "ordinary service",
                  dur);
        fo__event_push(r, &e);
    }
    (void)pthread_mutex_unlock(&r->guard_lock);
}

void fo__local_fault_over_slow(fo_router *r, struct fo__route *rt,
                               const char *what, uint64_t now)
{
    struct fo__event_rec e;

    (void)pthread_mutex_lock(&r->guard_lock);
    atomic_store_explicit(&r->local_fault_seen_ns, 0, memory_order_relaxed);
    if (atomic_load_explicit(&r->local_fault_open, memory_order_relaxed)) {
        end_episode(r, now);
        if (fo__event_begin(r, &e, FO_EVENT_LOCAL_FAULT_ENDED, FO_LOG_INFO,
                            now)) {
            fo__event_route(r, &e, rt, now);
            snprintf(e.text, sizeof e.text, "%s works again: %s", rt->name.text,
                     what);
            fo__event_push(r, &e);
        }
    }
    (void)pthread_mutex_unlock(&r->guard_lock);
}
