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

/* Enabled for the guards: not disabled, draining or in a drill. */
static bool enabled(const struct fo__route *e)
{
    return e->health.admin == FO_ADMIN_ENABLED && e->health.drill_until_ns == 0;
}

/* Would ejecting rt leave list p with too many routes out? A route in
 * trial can take calls: it counts as in service (a backup sitting in trial
 * must not keep a dead primary in service); a failing trial asks the
 * guards in turn. A plan of one route has no failover to protect; the
 * router's only route is kept. */
static bool list_full(const struct fo__plan *p, const struct fo__route *rt,
                      uint32_t pct, uint32_t *n_out, uint32_t *out_out)
{
    uint32_t n = 0, out = 0;

    for (uint32_t i = 0; i < p->count; i++) {
        const struct fo__route *e = p->entries[i].rt;

        if (!enabled(e))
            continue;
        n++;
        if (e != rt && e->health.health == FO_STATE_EJECTED)
            out++;
    }
    *n_out = n;
    *out_out = out;
    if (n < 2)
        return p->id == FO_PLAN_ID_NONE && n == 1;
    return out + 1 > allowed_out(n, pct);
}

/*
 * Every route in service that was tried within the window failed its
 * latest attempt (and at least two were tried). Routes out of service,
 * disabled, in a drill or not tried lately give no evidence either way: a
 * fourth carrier that the calls never reach does not prove our uplink
 * works, while one healthy carrier that answers does prove it.
 */
bool fo__local_fault(fo_router *r, uint64_t now)
{
    const struct fo__plan *p = &r->defplan;
    uint64_t w = r->cfg.local_fault_window_ns;
    uint32_t n = 0;

    for (uint32_t i = 0; i < p->count; i++) {
        const struct fo__route *e = p->entries[i].rt;
        uint64_t latest =
            e->last_fault_ns > e->last_ok_ns ? e->last_fault_ns : e->last_ok_ns;

        if (!enabled(e) || latest == 0 || fo__add_sat(latest, w) < now)
            continue;
        if (e->health.health == FO_STATE_EJECTED) {
            /* Taken out by its faults within the window: the first
             * casualty of what may be our own fault, and evidence. */
            if (fo__local_fault_reinstatable(&e->health, r, now))
                n++;
            continue;
        }
        if (e->last_ok_ns >= e->last_fault_ns)
            return false; /* its latest attempt worked */
        n++;
    }
    return n >= 2;
}

fo_reason fo__guard_check(fo_router *r, struct fo__route *rt, uint64_t now,
                          char *why, size_t size)
{
    const struct fo__config *c = &r->cfg;
    uint32_t n, out;

    if ((c->guards_off & FO_GUARD_LOCAL_FAULT) == 0 &&
        fo__local_fault(r, now)) {
        if (!r->local_fault_open) {
            struct fo__event_rec e;

            r->local_fault_open = true;
            /* Routes its first faults ejected come back on their next
             * refresh (fo__health_refresh), kept by the guard. */
            r->lf_gen++;
            r->lf_from_ns = now > r->cfg.local_fault_window_ns
                                ? now - r->cfg.local_fault_window_ns
                                : 0;
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
        r->local_fault_seen_ns = now;
        snprintf(why, size,
                 "kept in service: every route failing at once, "
                 "suspected local fault");
        return FO_REASON_LOCAL_FAULT;
    }
    if ((c->guards_off & FO_GUARD_EJECTION) != 0)
        return FO_REASON_NONE;
    if (list_full(&r->defplan, rt, c->max_ejected_pct, &n, &out)) {
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
    for (uint32_t i = 0; i < r->plans.nslots && rt->plan_refs > 0; i++) {
        const struct fo__plan *p = r->plans.slots[i].obj;

        if (p == NULL || fo__plan_find(p, rt) < 0)
            continue;
        if (list_full(p, rt, c->max_ejected_pct, &n, &out)) {
            snprintf(why, size,
                     "kept in service by the ejection guard: %u of %u "
                     "routes of plan %s already out",
                     (unsigned)out, (unsigned)n, p->name.text);
            return FO_REASON_EJECTION_GUARD;
        }
    }
    return FO_REASON_NONE;
}

/* The faults of an episode were ours: routes forget them on their next
 * refresh (their windows and runs of faults restart). */
static void end_episode(fo_router *r, uint64_t now)
{
    r->local_fault_open = false;
    r->local_fault_seen_ns = 0;
    r->lf_until_ns = now;
    r->lf_gen++;
}

void fo__local_fault_lapse(fo_router *r, uint64_t now)
{
    struct fo__event_rec e;
    char dur[32];

    if (!r->local_fault_open ||
        fo__add_sat(r->local_fault_seen_ns, r->cfg.local_fault_window_ns) >=
            now)
        return;
    end_episode(r, now);
    if (!fo__event_begin(r, &e, FO_EVENT_LOCAL_FAULT_ENDED, FO_LOG_INFO, now))
        return;
    fo__format_duration(dur, sizeof dur, r->cfg.local_fault_window_ns);
    fo__textf(e.text, sizeof e.text,
              "no sign of it for %s: every route kept is back to ordinary "
              "service",
              dur);
    fo__event_push(r, &e);
}

void fo__local_fault_over(fo_router *r, struct fo__route *rt, const char *what,
                          uint64_t now)
{
    struct fo__event_rec e;

    r->local_fault_seen_ns = 0;
    if (!r->local_fault_open)
        return;
    end_episode(r, now);
    if (!fo__event_begin(r, &e, FO_EVENT_LOCAL_FAULT_ENDED, FO_LOG_INFO, now))
        return;
    fo__event_route(r, &e, rt, now);
    snprintf(e.text, sizeof e.text, "%s works again: %s", rt->name.text, what);
    fo__event_push(r, &e);
}
