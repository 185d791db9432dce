/*
 * Route selection.
 *
 * A list (the default list or the attempt's plan) is sorted by its
 * policy's key and walked tier by tier: a tier is the routes that share
 * the key (one priority; one cost and priority; or the whole list for the
 * weighted policy). Within a tier the eligible routes share by weight with
 * smooth weighted round robin, the nginx algorithm: every candidate's
 * current weight grows by its weight, the largest wins and gives back the
 * total, so weights 5,1,1 give a a b a c a a. A later tier is used only
 * when a tier has no eligible route.
 *
 * Passed over, in the order they serve as fallbacks when no ordinary
 * route is left: a route ramping up after recovery (slow start) whose
 * share went on to the next tier; backup-only routes (weight 0); routes a
 * guard keeps in service although they fail; and, with the best-effort
 * panic policy, the least-bad route out of service. Every route passed
 * over can be explained to the caller (fo_pick.skipped).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct picker {
    fo_router *r;
    fo_attempt *attempt;
    uint64_t now;
    fo_pick *out; /* NULL: no explanation wanted */
    uint32_t nskipped;
    /* the first explanation that did not fit: it moves up if one before
     * it is taken back (unnote) */
    fo_skip spill;
    /* the least-bad route out of service, for the panic policy */
    struct fo__entry *worst_best;
    /* a route this attempt tried that could be picked: the list is not
     * in panic even when the attempt has nowhere good left to go */
    struct fo__entry *eligible_tried;
    bool worst_in_trial;
    uint64_t worst_until;
};

static uint64_t earliest_slot(const struct fo__health *h)
{
    uint64_t t = UINT64_MAX;

    for (uint32_t i = 0; i < FO_MAX_TRIAL_CONCURRENCY; i++)
        if (h->trial_deadline_ns[i] != 0 && h->trial_deadline_ns[i] < t)
            t = h->trial_deadline_ns[i];
    return t == UINT64_MAX ? 0 : t;
}

/* Why a route that cannot be picked now cannot, and until when. */
static fo_skip_reason out_reason(const struct fo__health *h,
                                 const struct fo__config *c, uint64_t *until)
{
    *until = 0;
    switch (h->state) {
    case FO_STATE_EJECTED:
        if (h->hold_cause != FO__HOLD_REGISTRATION)
            *until = h->hold_down_until_ns;
        return FO_SKIP_EJECTED;
    case FO_STATE_SUPPRESSED:
        *until = fo__damp_reuse_at(&h->damp, c);
        return FO_SKIP_SUPPRESSED;
    case FO_STATE_DISABLED:
        return FO_SKIP_DISABLED;
    case FO_STATE_DRAINING:
        return FO_SKIP_DRAINING;
    case FO_STATE_DRILL:
        *until = h->drill_until_ns;
        return FO_SKIP_DRILL;
    default:
        *until = earliest_slot(h);
        return FO_SKIP_TRIAL_FULL;
    }
}

static void note(struct picker *pk, const struct fo__route *rt,
                 fo_skip_reason reason, uint64_t until)
{
    fo_pick *o = pk->out;

    if (o != NULL && o->skipped != NULL &&
        pk->nskipped <= o->skipped_capacity) {
        fo_skip *s = pk->nskipped < o->skipped_capacity
                         ? &o->skipped[pk->nskipped]
                         : &pk->spill;
        double penalty =
            rt->health.damp.penalty > 0
                ? fo__damp_value(&rt->health.damp, &pk->r->cfg, pk->now)
                : 0;

        s->route = rt->id;
        s->reason = reason;
        s->until_ns = until;
        s->penalty =
            penalty >= 4294967295.0 ? UINT32_MAX : (uint32_t)(penalty + 0.5);
    }
    pk->nskipped++;
}

/* Considers a route out of service as the least-bad one for panic: a route
 * in trial first, then the one back soonest, then the lower penalty.
 * Operators' states are never overridden. */
/* A route noted as passed over was chosen after all (the panic pick): take
 * it out of the explanation. Only the panic candidate is noted before the
 * decision, and it is the last out-of-service route noted or earlier. */
static void unnote(struct picker *pk, const struct fo__route *rt)
{
    fo_pick *o = pk->out;
    uint32_t n;

    pk->nskipped--;
    if (o == NULL || o->skipped == NULL)
        return;
    n = pk->nskipped + 1 < o->skipped_capacity ? pk->nskipped + 1
                                               : o->skipped_capacity;
    for (uint32_t i = 0; i < n; i++) {
        if (o->skipped[i].route == rt->id) {
            memmove(&o->skipped[i], &o->skipped[i + 1],
                    (n - i - 1) * sizeof *o->skipped);
            /* A full array: the first one that did not fit takes the
             * freed last place. */
            if (pk->nskipped >= o->skipped_capacity)
                o->skipped[o->skipped_capacity - 1] = pk->spill;
            return;
        }
    }
}

static void consider_worst(struct picker *pk, struct fo__entry *e)
{
    const struct fo__health *h = &e->rt->health;
    const struct fo__config *c = &pk->r->cfg;
    bool trial = h->state == FO_STATE_TRIAL;
    uint64_t until;

    if (h->state != FO_STATE_EJECTED && h->state != FO_STATE_SUPPRESSED &&
        !trial)
        return;
    if (trial) {
        until = 0;
    } else if (h->state == FO_STATE_SUPPRESSED) {
        until = fo__damp_reuse_at(&h->damp, c);
        if (h->health == FO_STATE_EJECTED && h->hold_down_until_ns > until)
            until = h->hold_down_until_ns;
    } else {
        until = h->hold_cause == FO__HOLD_REGISTRATION ? UINT64_MAX
                                                       : h->hold_down_until_ns;
    }
    if (pk->worst_best != NULL) {
        if (pk->worst_in_trial && !trial)
            return;
        if (pk->worst_in_trial == trial) {
            if (until > pk->worst_until)
                return;
            if (until == pk->worst_until &&
                fo__damp_value(&h->damp, c, pk->now) >=
                    fo__damp_value(&pk->worst_best->rt->health.damp, c,
                                   pk->now))
                return;
        }
    }
    pk->worst_best = e;
    pk->worst_in_trial = trial;
    pk->worst_until = until;
}

/* Weight share while ramping up, in thousandths (1000 = full). */
static uint32_t ramp(struct fo__health *h, const struct fo__config *c,
                     uint64_t now)
{
    uint64_t elapsed, floor;

    if (h->ramp_since_ns == 0)
        return 1000;
    elapsed = now > h->ramp_since_ns ? now - h->ramp_since_ns : 0;
    if (c->slow_start_ns == 0 || elapsed >= c->slow_start_ns) {
        h->ramp_since_ns = 0;
        return 1000;
    }
    floor = (uint64_t)c->slow_start_floor_pct * 10;
    return (uint32_t)(floor + (1000 - floor) * elapsed / c->slow_start_ns);
}

/* Marks of entries passed over for now but usable as fallbacks; noted in
 * the explanation once the pick is decided, unless chosen. */
enum { MARK_NONE, MARK_RAMPING, MARK_BACKUP, MARK_GUARDED };

/*
 * Smooth weighted round robin over one tier [i, end) among the entries
 * that pass `want`; returns the winner (or NULL) and whether every
 * candidate is ramping up.
 */
static struct fo__entry *swrr_tier(struct picker *pk, struct fo__plan *p,
                                   uint32_t i, uint32_t end, uint8_t want,
                                   bool *all_ramping)
{
    const struct fo__config *c = &pk->r->cfg;
    struct fo__entry *best = NULL;
    int64_t total = 0;

    *all_ramping = true;
    for (uint32_t k = i; k < end; k++) {
        struct fo__entry *e = &p->entries[k];
        uint32_t share;
        int64_t w;

        if (e->mark != want)
            continue;
        share = ramp(&e->rt->health, c, pk->now);
        if (share >= 1000)
            *all_ramping = false;
        w = (int64_t)e->weight * share / 1000;
        if (w < 1)
            w = 1;
        e->swrr += w;
        total += w;
        if (best == NULL || e->swrr > best->swrr)
            best = e;
    }
    if (best != NULL)
        best->swrr -= total;
    return best;
}

/* Marks value for a candidate in the first pass. */
#define MARK_CANDIDATE 0xff

static struct fo__entry *choose(struct picker *pk, struct fo__plan *p,
                                uint32_t *flags, uint32_t *scanned)
{
    fo_router *r = pk->r;
    const struct fo__config *c = &r->cfg;
    struct fo__entry *backup = NULL, *ramping = NULL;
    bool any_guarded = false;
    uint32_t i = 0;

    *scanned = p->count;
    while (i < p->count) {
        struct fo__entry *best;
        bool all_ramping;
        uint32_t end = i + 1;

        while (end < p->count &&
               fo__plan_same_tier(p, &p->entries[i], &p->entries[end]))
            end++;
        for (uint32_t k = i; k < end; k++) {
            struct fo__entry *e = &p->entries[k];
            struct fo__health *h = &e->rt->health;
            uint64_t until;

            e->mark = MARK_NONE;
            fo__health_refresh(h, r, pk->now);
            if (pk->attempt != NULL &&
                fo__attempt_find(pk->attempt, e->rt->id) >= 0) {
                note(pk, e->rt, FO_SKIP_TRIED, 0);
                if (pk->eligible_tried == NULL &&
                    fo__health_pickable(h, c->trial_concurrency))
                    pk->eligible_tried = e;
            } else if (!fo__health_pickable(h, c->trial_concurrency)) {
                fo_skip_reason why = out_reason(h, c, &until);

                note(pk, e->rt, why, until);
                consider_worst(pk, e);
            } else if (e->weight == 0) {
                e->mark = MARK_BACKUP;
                if (backup == NULL)
                    backup = e;
            } else if (h->guarded) {
                e->mark = MARK_GUARDED;
                any_guarded = true;
            } else {
                e->mark = MARK_CANDIDATE;
            }
        }
        best = swrr_tier(pk, p, i, end, MARK_CANDIDATE, &all_ramping);
        for (uint32_t k = i; k < end; k++)
            if (p->entries[k].mark == MARK_CANDIDATE)
                p->entries[k].mark = MARK_NONE;
        if (best != NULL) {
            uint32_t share = ramp(&best->rt->health, c, pk->now);

            if (!all_ramping) {
                if (share < 1000)
                    *flags |= FO_PICK_SLOW_START;
                *scanned = end;
                return best;
            }
            /* Only ramping routes here: each takes its share of the picks
             * and leaves the rest to the next tier. */
            best->credit += share;
            if (best->credit >= 1000) {
                best->credit -= 1000;
                *flags |= FO_PICK_SLOW_START;
                *scanned = end;
                return best;
            }
            best->mark = MARK_RAMPING;
            if (ramping == NULL)
                ramping = best;
        }
        i = end;
    }
    if (ramping != NULL) {
        *flags |= FO_PICK_SLOW_START;
        return ramping;
    }
    if (backup != NULL) {
        *flags |= FO_PICK_BACKUP;
        return backup;
    }
    if (any_guarded) {
        /* Failing routes kept in service: shared by weight, tier by tier,
         * like ordinary ones. */
        for (i = 0; i < p->count;) {
            uint32_t end = i + 1;
            struct fo__entry *best;
            bool all_ramping;

            while (end < p->count &&
                   fo__plan_same_tier(p, &p->entries[i], &p->entries[end]))
                end++;
            best = swrr_tier(pk, p, i, end, MARK_GUARDED, &all_ramping);
            if (best != NULL) {
                *flags |= FO_PICK_GUARDED;
                return best;
            }
            i = end;
        }
    }
    if (pk->worst_best != NULL && r->panic == FO_PANIC_BEST_EFFORT) {
        *flags |= FO_PICK_PANIC;
        return pk->worst_best;
    }
    return NULL;
}

/* Notes the fallbacks passed over (all but the chosen one), after the
 * routes noted in order; clears the marks. */
static void note_fallbacks(struct picker *pk, struct fo__plan *p,
                           uint32_t scanned, const struct fo__entry *chosen)
{
    const struct fo__config *c = &pk->r->cfg;

    for (uint32_t k = 0; k < scanned; k++) {
        struct fo__entry *e = &p->entries[k];
        uint8_t mark = e->mark;

        e->mark = MARK_NONE;
        if (mark == MARK_NONE || e == chosen)
            continue;
        if (mark == MARK_BACKUP)
            note(pk, e->rt, FO_SKIP_BACKUP, 0);
        else if (mark == MARK_GUARDED)
            note(pk, e->rt, FO_SKIP_GUARDED, 0);
        else
            note(pk, e->rt, FO_SKIP_SLOW_START,
                 e->rt->health.ramp_since_ns + c->slow_start_ns);
    }
}

#define FO__PICK_SIZE_0_1 (offsetof(fo_pick, reserved) + sizeof(uint32_t))
_Static_assert(FO__PICK_SIZE_0_1 == sizeof(fo_pick),
               "fo_pick changed: record the new version's size and keep it "
               "free of tail padding");

/*
 * Panic of a list: no route in it can be picked, whatever the attempt has
 * tried. A pick that finds none starts it; the list's next pick that finds
 * one (chosen, or tried already by that attempt) ends it. eligible: such a
 * route, or NULL.
 */
static void panic_watch(fo_router *r, struct fo__plan *p,
                        const struct fo__entry *chosen,
                        const struct fo__entry *eligible, uint64_t now)
{
    bool panic = eligible == NULL && p->count > 0;
    struct fo__event_rec ev, *e = &ev;
    char list[FO_ROUTE_NAME_MAX + 16];

    if (!panic && (eligible == NULL || !p->panic))
        return; /* the common case: nothing to say */
    if (p->id == FO_PLAN_ID_NONE)
        fo__textf(list, sizeof list, "the default list");
    else
        fo__textf(list, sizeof list, "plan %s", p->name.text);
    if (panic) {
        if (p->panic_picks < UINT64_MAX)
            p->panic_picks++;
        if (p->panic)
            return;
        p->panic = true;
        if (!fo__event_begin(r, e, FO_EVENT_PANIC_STARTED, FO_LOG_WARNING, now))
            return;
        e->plan = p->id;
        if (chosen != NULL) {
            fo__event_route(r, e, chosen->rt, now);
            fo__textf(
                e->text, sizeof e->text,
                "no route eligible in %s; taking the least-bad, %s (%s)", list,
                chosen->rt->name.text,
                fo_route_state_name((fo_route_state)chosen->rt->health.state));
        } else {
            fo__textf(e->text, sizeof e->text,
                      "no route eligible in %s; picks fail (panic policy "
                      "FAIL)",
                      list);
        }
        fo__event_push(r, e);
        return;
    }
    if (!p->panic)
        return;
    p->panic = false;
    if (fo__event_begin(r, e, FO_EVENT_PANIC_ENDED, FO_LOG_INFO, now)) {
        e->plan = p->id;
        fo__event_route(r, e, eligible->rt, now);
        e->count = p->panic_picks;
        fo__textf(e->text, sizeof e->text,
                  "%s eligible again in %s after %" PRIu64 " picks in panic",
                  eligible->rt->name.text, list, p->panic_picks);
        fo__event_push(r, e);
    }
    p->panic_picks = 0;
}

static int pick(fo_router *router, fo_attempt *attempt, fo_pick *out,
                fo_route_id *route_out, uint32_t *flags_out)
{
    struct picker pk;
    struct fo__plan *plan;
    struct fo__entry *chosen;
    uint32_t flags = 0, scanned = 0;
    int rc = FO_OK;

    if (attempt != NULL && fo__attempt_check(attempt, router) != FO_OK)
        return FO_EINVAL;
    if (attempt != NULL &&
        fo__attempt_count(attempt) >= router->cfg.max_attempts)
        return FO_ELIMIT;

    memset(&pk, 0, sizeof pk);
    pk.r = router;
    pk.attempt = attempt;
    pk.out = out;
    pk.now = fo__lock_now(router);
    fo__local_fault_lapse(router, pk.now);
    plan = fo__plan_get(router, attempt != NULL
                                    ? attempt->fo_private_[FO__ATT_PLAN]
                                    : FO_PLAN_ID_NONE);
    if (plan == NULL) {
        rc = FO_ENOENT;
        goto out;
    }
    chosen = choose(&pk, plan, &flags, &scanned);
    if (chosen == pk.worst_best && chosen != NULL) {
        /* The panic pick was noted as out of service: take it back. */
        unnote(&pk, chosen->rt);
    }
    note_fallbacks(&pk, plan, scanned, chosen);
    panic_watch(router, plan, chosen,
                chosen != NULL && (flags & FO_PICK_PANIC) == 0
                    ? chosen
                    : pk.eligible_tried,
                pk.now);
    router->picks++;
    if (chosen == NULL) {
        router->failed_picks++;
        rc = FO_ENOROUTE;
    } else {
        struct fo__route *rt = chosen->rt;
        struct fo__health *h = &rt->health;
        uint16_t info = (uint16_t)((h->trial_epoch & FO__PICK_EPOCH_MASK)
                                   << FO__PICK_EPOCH_SHIFT);

        if (flags & FO_PICK_PANIC) {
            router->panic_picks++;
            rt->counters.panic_picks++;
            info |= FO__PICK_PANIC;
        } else if (h->state == FO_STATE_TRIAL) {
            int slot = fo__health_take_slot(h, router, pk.now);

            fo__wake(router); /* the slot's expiry is a new deadline */
            flags |= FO_PICK_TRIAL;
            rt->counters.trial_picks++;
            info |= (uint16_t)(FO__PICK_TRIAL |
                               ((unsigned)slot << FO__PICK_SLOT_SHIFT) |
                               ((h->slot_gen[slot] & 0x7u)
                                << FO__PICK_SLOTGEN_SHIFT));
        } else {
            /* In service: remember which service period it was. */
            info = (uint16_t)((h->ejections & FO__PICK_EPOCH_MASK)
                              << FO__PICK_EPOCH_SHIFT);
        }
        if (router->local_fault_seen_ns != 0 &&
            fo__add_sat(router->local_fault_seen_ns,
                        router->cfg.local_fault_window_ns) >= pk.now)
            flags |= FO_PICK_LOCAL_FAULT;
        rt->counters.picks++;
        if (attempt != NULL) {
            int index = fo__attempt_append(attempt, router, rt->id);

            fo__attempt_set_info(attempt, index, info);
            fo__attempt_set_lfgen(attempt, index, (uint16_t)router->lf_gen);
        }
        *route_out = rt->id;
        *flags_out = flags;
    }
out:
    if (out != NULL)
        out->skipped_count = pk.nskipped;
    fo__unlock(router);
    return rc;
}

int fo_pick_route(fo_router *router, fo_attempt *attempt, fo_route_id *out)
{
    uint32_t flags;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    *out = FO_ROUTE_ID_NONE;
    return pick(router, attempt, NULL, out, &flags);
}

int fo_pick_route_ex(fo_router *router, fo_attempt *attempt, fo_pick *out)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    rc = fo__struct_check(out, out->size, FO__PICK_SIZE_0_1, sizeof *out);
    if (rc != FO_OK)
        return rc;
    if (out->reserved != 0 ||
        (out->skipped == NULL && out->skipped_capacity != 0))
        return FO_EINVAL;
    out->route = FO_ROUTE_ID_NONE;
    out->flags = 0;
    out->skipped_count = 0;
    return pick(router, attempt, out, &out->route, &out->flags);
}
