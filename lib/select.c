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
 *
 * Two ways to the same choice, both under the list's lock only:
 *
 * - The fast way (fo_pick_route()): a bitmap of the list's entries worth
 *   looking at (ordinary routes in service or in trial, as their views
 *   last said) finds the first usable tier without walking what is out,
 *   and reads the routes' published views, taking a route's own lock only
 *   to take a trial slot or to apply a change that is due. The bitmap is
 *   remade when a route's view changes what may be picked (the router's
 *   epoch) or when the first route out may come back (wake_ns).
 * - The full way, for explanations (fo_pick_route_ex()) and when no
 *   ordinary route is left (fallbacks, panic): every route is looked at
 *   under its own lock, in order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* fo__entry.sflags: what the full way saw of the entry's route. */
#define S_STATE    0x07u /* fo_route_state */
#define S_TRIED    0x08u /* this attempt tried it */
#define S_PICKABLE 0x10u /* in service, or in trial with a free slot */
#define S_GUARDED  0x20u
#define S_GONE     0x40u /* removed meanwhile: not there at all */

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
    bool worst_in_trial;
    uint64_t worst_until;
    uint32_t worst_penalty;
    /* a route this attempt tried that could be picked: the list is not
     * in panic even when the attempt has nowhere good left to go */
    struct fo__entry *eligible_tried;
};

/* Marks of entries passed over for now but usable as fallbacks; noted in
 * the explanation once the pick is decided, unless chosen. */
enum { MARK_NONE, MARK_RAMPING, MARK_BACKUP, MARK_GUARDED };
/* Marks value for a candidate in the first pass. */
#define MARK_CANDIDATE 0xff

static bool tried(const fo_attempt *a, fo_route_id id)
{
    return a != NULL && fo__attempt_find(a, id) >= 0;
}

/* Weight share while ramping up, in thousandths (1000 = full). */
static uint32_t ramp(uint64_t since, const struct fo__config *c, uint64_t now)
{
    uint64_t elapsed, floor;

    if (since == 0 || c->slow_start_ns == 0)
        return 1000;
    elapsed = now > since ? now - since : 0;
    if (elapsed >= c->slow_start_ns)
        return 1000;
    floor = (uint64_t)c->slow_start_floor_pct * 10;
    return (uint32_t)(floor + (1000 - floor) * elapsed / c->slow_start_ns);
}

static uint64_t earliest_slot(const struct fo__health *h)
{
    uint64_t t = UINT64_MAX;

    for (uint32_t i = 0; i < FO_MAX_TRIAL_CONCURRENCY; i++)
        if (h->trial_deadline_ns[i] != 0 && h->trial_deadline_ns[i] < t)
            t = h->trial_deadline_ns[i];
    return t == UINT64_MAX ? 0 : t;
}

/* Why a route that cannot be picked now cannot, and until when. */
static fo_skip_reason out_reason(fo_route_state state)
{
    switch (state) {
    case FO_STATE_EJECTED:
        return FO_SKIP_EJECTED;
    case FO_STATE_SUPPRESSED:
        return FO_SKIP_SUPPRESSED;
    case FO_STATE_DISABLED:
        return FO_SKIP_DISABLED;
    case FO_STATE_DRAINING:
        return FO_SKIP_DRAINING;
    case FO_STATE_DRILL:
        return FO_SKIP_DRILL;
    default:
        return FO_SKIP_TRIAL_FULL;
    }
}

static uint64_t out_until(const struct fo__health *h,
                          const struct fo__config *c)
{
    switch (h->state) {
    case FO_STATE_EJECTED:
        return h->hold_cause != FO__HOLD_REGISTRATION ? h->hold_down_until_ns
                                                      : 0;
    case FO_STATE_SUPPRESSED:
        return fo__damp_reuse_at(&h->damp, c);
    case FO_STATE_DRILL:
        return h->drill_until_ns;
    case FO_STATE_TRIAL:
        return earliest_slot(h);
    default:
        return 0;
    }
}

static void note(struct picker *pk, const struct fo__entry *e,
                 fo_skip_reason reason, uint64_t until)
{
    fo_pick *o = pk->out;

    if (o != NULL && o->skipped != NULL &&
        pk->nskipped <= o->skipped_capacity) {
        fo_skip *s = pk->nskipped < o->skipped_capacity
                         ? &o->skipped[pk->nskipped]
                         : &pk->spill;

        s->route = e->id;
        s->reason = reason;
        s->until_ns = until;
        s->penalty = e->penalty;
    }
    pk->nskipped++;
}

/* A route noted as passed over was chosen after all (the panic pick): take
 * it out of the explanation. Only the panic candidate is noted before the
 * decision, and it is the last out-of-service route noted or earlier. */
static void unnote(struct picker *pk, const struct fo__entry *e)
{
    fo_pick *o = pk->out;
    uint32_t n;

    pk->nskipped--;
    if (o == NULL || o->skipped == NULL)
        return;
    n = pk->nskipped + 1 < o->skipped_capacity ? pk->nskipped + 1
                                               : o->skipped_capacity;
    for (uint32_t i = 0; i < n; i++) {
        if (o->skipped[i].route == e->id) {
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

/* ---- the full way ----------------------------------------------------------
 */

/*
 * Considers a route out of service as the least-bad one for panic: a route
 * in trial first, then the one back soonest, then the lower penalty.
 * Operators' states are never overridden. Route lock held.
 */
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
            if (until == pk->worst_until && e->penalty >= pk->worst_penalty)
                return;
        }
    }
    pk->worst_best = e;
    pk->worst_in_trial = trial;
    pk->worst_until = until;
    pk->worst_penalty = e->penalty;
}

/* Looks at every route of the list under its own lock and keeps what the
 * choice needs in the entries' scratch. List lock held. */
static void scan(struct picker *pk, struct fo__plan *p)
{
    const struct fo__config *c = &pk->r->cfg;

    for (uint32_t k = 0; k < p->count; k++) {
        struct fo__entry *e = &p->entries[k];
        struct fo__route *rt = e->rt;
        struct fo__health *h = &rt->health;
        uint64_t now;
        double penalty;

        fo__route_lock(rt);
        if (rt->id == FO_ROUTE_ID_NONE) {
            e->sflags = S_GONE;
            e->mark = MARK_NONE;
            fo__route_unlock(rt);
            continue;
        }
        now = fo__route_now(rt, pk->now);
        fo__health_refresh(h, pk->r, now);
        penalty = h->damp.penalty > 0 ? fo__damp_value(&h->damp, c, now) : 0;
        e->penalty =
            penalty >= 4294967295.0 ? UINT32_MAX : (uint32_t)(penalty + 0.5);
        e->sflags = (uint8_t)(h->state & S_STATE);
        if (fo__health_pickable(h, c->trial_concurrency))
            e->sflags |= S_PICKABLE;
        if (h->guarded)
            e->sflags |= S_GUARDED;
        e->share = (uint16_t)ramp(h->ramp_since_ns, c, pk->now);
        e->mark = MARK_NONE;
        if (tried(pk->attempt, e->id)) {
            e->sflags |= S_TRIED;
            e->until = 0;
        } else if ((e->sflags & S_PICKABLE) == 0) {
            e->until = out_until(h, c);
            consider_worst(pk, e);
        } else {
            /* When slow start ends, for explanations. */
            e->until = h->ramp_since_ns != 0
                           ? fo__add_sat(h->ramp_since_ns, c->slow_start_ns)
                           : 0;
        }
        fo__route_unlock(rt);
    }
}

/*
 * Smooth weighted round robin over one tier [i, end) among the entries
 * marked want. Returns the winner (its current weight already reduced by
 * the total), or NULL. *all_ramping: every candidate is ramping up.
 */
static struct fo__entry *swrr_tier(struct fo__plan *p, uint32_t i, uint32_t end,
                                   uint8_t want, bool *all_ramping)
{
    struct fo__entry *best = NULL;
    int64_t total = 0;

    *all_ramping = true;
    for (uint32_t k = i; k < end; k++) {
        struct fo__entry *e = &p->entries[k];
        int64_t w;

        if (e->mark != want)
            continue;
        if (e->share >= 1000)
            *all_ramping = false;
        w = (int64_t)e->weight * e->share / 1000;
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

static uint32_t tier_end(const struct fo__plan *p, uint32_t i)
{
    uint32_t end = i + 1;

    while (end < p->count &&
           fo__plan_same_tier(p, &p->entries[i], &p->entries[end]))
        end++;
    return end;
}

static struct fo__entry *choose(struct picker *pk, struct fo__plan *p,
                                uint32_t *flags, uint32_t *scanned)
{
    fo_router *r = pk->r;
    struct fo__entry *backup = NULL, *ramping = NULL;
    bool any_guarded = false;
    uint32_t i = 0;

    *scanned = p->count;
    while (i < p->count) {
        struct fo__entry *best;
        bool all_ramping;
        uint32_t end = tier_end(p, i);

        for (uint32_t k = i; k < end; k++) {
            struct fo__entry *e = &p->entries[k];

            e->mark = MARK_NONE;
            if (e->sflags & S_GONE) {
                continue;
            } else if (e->sflags & S_TRIED) {
                note(pk, e, FO_SKIP_TRIED, 0);
                if (pk->eligible_tried == NULL && (e->sflags & S_PICKABLE))
                    pk->eligible_tried = e;
            } else if ((e->sflags & S_PICKABLE) == 0) {
                note(pk, e, out_reason((fo_route_state)(e->sflags & S_STATE)),
                     e->until);
            } else if (e->weight == 0) {
                e->mark = MARK_BACKUP;
                if (backup == NULL)
                    backup = e;
            } else if (e->sflags & S_GUARDED) {
                e->mark = MARK_GUARDED;
                any_guarded = true;
            } else {
                e->mark = MARK_CANDIDATE;
            }
        }
        best = swrr_tier(p, i, end, MARK_CANDIDATE, &all_ramping);
        for (uint32_t k = i; k < end; k++)
            if (p->entries[k].mark == MARK_CANDIDATE)
                p->entries[k].mark = MARK_NONE;
        if (best != NULL) {
            if (!all_ramping) {
                if (best->share < 1000)
                    *flags |= FO_PICK_SLOW_START;
                *scanned = end;
                return best;
            }
            /* Only ramping routes here: each takes its share of the picks
             * and leaves the rest to the next tier. */
            best->credit += best->share;
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
            uint32_t end = tier_end(p, i);
            struct fo__entry *best;
            bool all_ramping;

            best = swrr_tier(p, i, end, MARK_GUARDED, &all_ramping);
            if (best != NULL) {
                *flags |= FO_PICK_GUARDED;
                return best;
            }
            i = end;
        }
    }
    if (pk->worst_best != NULL &&
        atomic_load_explicit(&r->panic, memory_order_relaxed) ==
            FO_PANIC_BEST_EFFORT) {
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
    for (uint32_t k = 0; k < scanned; k++) {
        struct fo__entry *e = &p->entries[k];
        uint8_t mark = e->mark;

        e->mark = MARK_NONE;
        if (mark == MARK_NONE || e == chosen)
            continue;
        if (mark == MARK_BACKUP)
            note(pk, e, FO_SKIP_BACKUP, 0);
        else if (mark == MARK_GUARDED)
            note(pk, e, FO_SKIP_GUARDED, 0);
        else
            note(pk, e, FO_SKIP_SLOW_START, e->until);
    }
}

/* ---- the fast way ---------------------------------------------------------
 */

static inline bool candidate_view(uint64_t v, const struct fo__entry *e)
{
    uint32_t st = (uint32_t)(v & FO__V_STATE);

    return (v & (FO__V_LIVE | FO__V_GUARDED)) == FO__V_LIVE && e->weight != 0 &&
           (st == FO_STATE_UP || st == FO_STATE_TRIAL);
}

/* Applies a change that is due to a route (its lock taken for that only)
 * and returns its view. */
static uint64_t refresh_view(fo_router *r, struct fo__route *rt, uint64_t now)
{
    fo__route_lock(rt);
    if (rt->id != FO_ROUTE_ID_NONE)
        fo__health_refresh(&rt->health, r, fo__route_now(rt, now));
    fo__route_unlock(rt);
    return atomic_load_explicit(&rt->view, memory_order_acquire);
}

/* A route's view, current at now: with a change due, applied first. */
static inline uint64_t current_view(fo_router *r, struct fo__route *rt,
                                    uint64_t now, uint32_t lfgen)
{
    uint64_t v = atomic_load_explicit(&rt->view, memory_order_acquire);

    if (now >= atomic_load_explicit(&rt->view_next_ns, memory_order_relaxed) ||
        ((v & FO__V_LIVE) && FO__V_LFGEN(v) != lfgen))
        v = refresh_view(r, rt, now);
    return v;
}

/* Remakes the list's bitmap of entries worth looking at, its tiers, and
 * when a route out may come back. List lock held. */
static void remake(fo_router *r, struct fo__plan *p, uint64_t now)
{
    uint64_t epoch = atomic_load_explicit(&r->epoch, memory_order_acquire);
    uint32_t lfgen =
        atomic_load_explicit(&r->lf_gen, memory_order_relaxed) & 0xffffu;
    uint64_t wake = UINT64_MAX;
    uint32_t words = (p->count + 63) / 64;

    if (words != 0) /* an empty list may have no bitmap at all */
        memset(p->cand, 0, words * sizeof *p->cand);
    for (uint32_t i = 0; i < p->count;) {
        uint32_t end = tier_end(p, i);

        for (uint32_t k = i; k < end; k++) {
            struct fo__entry *e = &p->entries[k];
            uint64_t v = current_view(r, e->rt, now, lfgen);

            p->tier_end[k] = end;
            if (candidate_view(v, e)) {
                p->cand[k / 64] |= 1ull << (k % 64);
            } else if (e->weight != 0) {
                uint64_t next = atomic_load_explicit(&e->rt->view_next_ns,
                                                     memory_order_relaxed);

                if (next < wake)
                    wake = next;
            }
        }
        i = end;
    }
    p->cand_epoch = epoch != 0 ? epoch : 1;
    p->wake_ns = wake;
}

/* The index of the first entry at or after k worth looking at, or count. */
static inline uint32_t next_cand(const struct fo__plan *p, uint32_t k)
{
    uint32_t w = k / 64, words = (p->count + 63) / 64;
    uint64_t bits;

    if (k >= p->count)
        return p->count;
    bits = p->cand[w] & (~0ull << (k % 64));
    while (bits == 0) {
        if (++w >= words)
            return p->count;
        bits = p->cand[w];
    }
    k = w * 64 + (uint32_t)__builtin_ctzll(bits);
    return k < p->count ? k : p->count;
}

/* The next entry at or after k, before end, worth looking at (or end): a
 * few bit tests in a small tier, a word at a time in a large one. */
static inline uint32_t next_in_tier(const struct fo__plan *p, uint32_t k,
                                    uint32_t end)
{
    if (end - k <= 8) {
        while (k < end && !(p->cand[k / 64] & (1ull << (k % 64))))
            k++;
        return k;
    }
    k = next_cand(p, k);
    return k < end ? k : end;
}

/*
 * The choice the full way would make when an ordinary route (or a ramping
 * one) is left, from the bitmap and the views; NULL when none is: the full
 * way decides then. List lock held.
 */
static struct fo__entry *choose_fast(fo_router *r, struct fo__plan *p,
                                     const fo_attempt *attempt, uint64_t now,
                                     uint32_t *flags, bool *solo)
{
    const struct fo__config *c = &r->cfg;
    struct fo__entry *ramping = NULL;
    uint64_t epoch = atomic_load_explicit(&r->epoch, memory_order_acquire);
    uint32_t lfgen =
        atomic_load_explicit(&r->lf_gen, memory_order_relaxed) & 0xffffu;

    if (p->cand_epoch != epoch || now >= p->wake_ns)
        remake(r, p, now);
    *solo = false;
    for (uint32_t i = next_cand(p, 0); i < p->count;) {
        uint32_t end = p->tier_end[i];
        struct fo__entry *best = NULL;
        int64_t total = 0;
        bool all_ramping = true;

        for (uint32_t k = i; k < end; k = next_in_tier(p, k + 1, end)) {
            struct fo__entry *e = &p->entries[k];
            uint64_t v = current_view(r, e->rt, now, lfgen);
            uint64_t since;
            uint32_t share = 1000;
            int64_t w = e->weight;

            if (!candidate_view(v, e) ||
                ((v & FO__V_STATE) == FO_STATE_TRIAL && FO__V_SLOTS(v) == 0) ||
                (attempt != NULL && tried(attempt, e->id)))
                continue;
            since = atomic_load_explicit(&e->rt->view_ramp_ns,
                                         memory_order_relaxed);
            if (since != 0) {
                share = ramp(since, c, now);
                w = w * share / 1000;
                if (w < 1)
                    w = 1;
            }
            if (share >= 1000)
                all_ramping = false;
            e->share = (uint16_t)share;
            e->swrr += w;
            total += w;
            if (best == NULL || e->swrr > best->swrr)
                best = e;
        }
        if (best != NULL) {
            best->swrr -= total;
            if (!all_ramping) {
                if (best->share < 1000)
                    *flags |= FO_PICK_SLOW_START;
                /* The first tier with a candidate, and it the only one,
                 * in service at full weight: every pick takes it until
                 * something changes (see pick_solo()). */
                *solo = ramping == NULL && i == next_cand(p, 0) &&
                        best == &p->entries[i] && best->share >= 1000 &&
                        next_in_tier(p, i + 1, end) == end &&
                        (atomic_load_explicit(&best->rt->view,
                                              memory_order_relaxed) &
                         FO__V_STATE) == FO_STATE_UP;
                return best;
            }
            best->credit += best->share;
            if (best->credit >= 1000) {
                best->credit -= 1000;
                *flags |= FO_PICK_SLOW_START;
                return best;
            }
            if (ramping == NULL)
                ramping = best;
        }
        i = next_cand(p, end);
    }
    if (ramping != NULL)
        *flags |= FO_PICK_SLOW_START;
    return ramping;
}

/* ---- panic and the pick ---------------------------------------------------
 */

#define FO__PICK_SIZE_0_1 (offsetof(fo_pick, reserved) + sizeof(uint32_t))
_Static_assert(FO__PICK_SIZE_0_1 == sizeof(fo_pick),
               "fo_pick changed: record the new version's size and keep it "
               "free of tail padding");

/*
 * Panic of a list: no route in it can be picked, whatever the attempt has
 * tried. A pick that finds none starts it; the list's next pick that finds
 * one (chosen, or tried already by that attempt) ends it. eligible: such a
 * route, or NULL. List lock held.
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
            fo__route_lock(chosen->rt);
            fo__event_route(r, e, chosen->rt, now);
            fo__textf(
                e->text, sizeof e->text,
                "no route eligible in %s; taking the least-bad, %s (%s)", list,
                chosen->rt->name.text,
                fo_route_state_name((fo_route_state)chosen->rt->health.state));
            fo__route_unlock(chosen->rt);
        } else {
            fo__textf(e->text, sizeof e->text,
                      "no route eligible in %s; picks fail (panic policy "
                      "FAIL)",
                      list);
        }
        fo__event_push(r, e);
        return;
    }
    p->panic = false;
    if (fo__event_begin(r, e, FO_EVENT_PANIC_ENDED, FO_LOG_INFO, now)) {
        e->plan = p->id;
        fo__route_lock(eligible->rt);
        fo__event_route(r, e, eligible->rt, now);
        fo__route_unlock(eligible->rt);
        e->count = p->panic_picks;
        fo__textf(e->text, sizeof e->text,
                  "%s eligible again in %s after %" PRIu64 " picks in panic",
                  eligible->rt->name.text, list, p->panic_picks);
        fo__event_push(r, e);
    }
    p->panic_picks = 0;
}

/*
 * Takes the chosen route for the attempt: a trial slot if it is in trial,
 * the counts, what the attempt must remember. List lock held. False if the
 * route is no longer what the choice saw (a report changed it meanwhile):
 * choose again.
 */
/* take() for a panic pick or a route in trial: under the route's lock. */
static __attribute__((noinline)) bool take_locked(fo_router *r,
                                                  struct fo__entry *chosen,
                                                  uint32_t *flags, uint64_t now,
                                                  uint16_t *info)
{
    struct fo__route *rt = chosen->rt;
    struct fo__health *h = &rt->health;
    bool ok = true;

    fo__route_lock(rt);
    now = fo__route_now(rt, now);
    if (rt->id == FO_ROUTE_ID_NONE) {
        ok = false;
    } else if (*flags & FO_PICK_PANIC) {
        rt->counters.panic_picks++;
        *info =
            (uint16_t)(FO__PICK_PANIC | ((h->trial_epoch & FO__PICK_EPOCH_MASK)
                                         << FO__PICK_EPOCH_SHIFT));
    } else if (h->state == FO_STATE_TRIAL &&
               fo__health_pickable(h, r->cfg.trial_concurrency)) {
        int slot = fo__health_take_slot(h, r, now);

        rt->counters.trial_picks++;
        *flags |= FO_PICK_TRIAL;
        *info =
            (uint16_t)(FO__PICK_TRIAL |
                       ((unsigned)slot << FO__PICK_SLOT_SHIFT) |
                       ((h->slot_gen[slot] & 0x7u) << FO__PICK_SLOTGEN_SHIFT) |
                       ((h->trial_epoch & FO__PICK_EPOCH_MASK)
                        << FO__PICK_EPOCH_SHIFT));
        fo__wake(r); /* the slot's expiry is a new deadline */
    } else if (h->state != FO_STATE_UP) {
        ok = false;
    } else {
        *info = (uint16_t)((h->ejections & FO__PICK_EPOCH_MASK)
                           << FO__PICK_EPOCH_SHIFT);
    }
    /* Counted under the lock with its trial or panic count, so a snapshot
     * never sees those ahead of the picks. */
    if (ok)
        atomic_fetch_add_explicit(&rt->picks, 1, memory_order_relaxed);
    fo__route_unlock(rt);
    return ok;
}

/* What every pick that took a route does once it is counted, with or
 * without a lock: flags a local fault in progress and records the route in
 * the attempt. */
static inline void record(fo_router *r, fo_route_id id, uint16_t info,
                          uint64_t now, uint32_t *flags, fo_attempt *attempt)
{
    uint64_t seen;

    seen = atomic_load_explicit(&r->local_fault_seen_ns, memory_order_relaxed);
    if (seen != 0 && fo__add_sat(seen, r->cfg.local_fault_window_ns) >= now)
        *flags |= FO_PICK_LOCAL_FAULT;
    if (attempt != NULL) {
        int index = fo__attempt_append(attempt, r, id);

        fo__attempt_set_info(attempt, index, info);
        fo__attempt_set_lfgen(
            attempt, index,
            (uint16_t)atomic_load_explicit(&r->lf_gen, memory_order_relaxed));
    }
}

/*
 * Takes the chosen route for the attempt: a trial slot if it is in trial,
 * the counts, what the attempt must remember. List lock held. False if the
 * route is no longer what the choice saw (a report changed it meanwhile):
 * choose again.
 */
static inline bool take(fo_router *r, struct fo__entry *chosen, uint32_t *flags,
                        uint64_t now, fo_attempt *attempt)
{
    struct fo__route *rt = chosen->rt;
    uint64_t v = atomic_load_explicit(&rt->view, memory_order_acquire);
    uint16_t info;

    if ((*flags & FO_PICK_PANIC) || (v & FO__V_STATE) == FO_STATE_TRIAL) {
        if (!take_locked(r, chosen, flags, now, &info))
            return false;
    } else {
        /* In service: remember which service period it was. */
        info = (uint16_t)(FO__V_EPOCH(v) << FO__PICK_EPOCH_SHIFT);
        atomic_fetch_add_explicit(&rt->picks, 1, memory_order_relaxed);
    }
    record(r, chosen->id, info, now, flags, attempt);
    return true;
}

/* The full way, and what follows a choice either way. List lock held;
 * released here. */
static __attribute__((noinline)) int
pick_full(fo_router *router, struct fo__plan *plan, fo_attempt *attempt,
          fo_pick *out, uint64_t now, fo_route_id *route_out,
          uint32_t *flags_out)
{
    struct picker pk;
    struct fo__entry *chosen;
    uint32_t flags = 0, scanned = 0;
    int rc = FO_OK;

    memset(&pk, 0, sizeof pk);
    pk.r = router;
    pk.attempt = attempt;
    pk.out = out;
    pk.now = now;
    scan(&pk, plan);
    chosen = choose(&pk, plan, &flags, &scanned);
    if (chosen == pk.worst_best && chosen != NULL) {
        /* The panic pick was noted as out of service: take it back. */
        unnote(&pk, chosen);
    }
    note_fallbacks(&pk, plan, scanned, chosen);
    if (out != NULL)
        out->skipped_count = pk.nskipped;
    if (chosen != NULL && !take(router, chosen, &flags, now, attempt)) {
        /* A report took it out between the scan and now: the rare race of
         * a route in its last trial slot. The call finds no route now. */
        chosen = NULL;
    }
    panic_watch(router, plan, chosen,
                chosen != NULL && (flags & FO_PICK_PANIC) == 0
                    ? chosen
                    : pk.eligible_tried,
                now);
    plan->picks++;
    if (chosen == NULL) {
        plan->failed_picks++;
        rc = FO_ENOROUTE;
    } else {
        if (flags & FO_PICK_PANIC)
            plan->panic_total++;
        *route_out = chosen->id;
        *flags_out = flags;
    }
    fo__plan_unlock(plan);
    fo__flush(router);
    return rc;
}

/*
 * The pick without a lock: the list's sole pick (fo__plan_solo), if it
 * still holds: read whole (the sequence did not move), published for this
 * list, at the router's current epoch (no route changed state since),
 * before its time (no route out comes back, nothing of its own is due),
 * in service at full weight, and not tried by this attempt. The choice
 * the locked way would make then, with no state of its own to move. True
 * if it was taken.
 */
static inline bool pick_solo(fo_router *r, fo_attempt *attempt,
                             fo_plan_id plan_id, uint64_t now,
                             fo_route_id *route_out, uint32_t *flags_out)
{
    struct fo__plan *p = plan_id == FO_PLAN_ID_NONE
                             ? &r->defplan
                             : fo__table_find(r, &r->plans, plan_id);
    struct fo__route *rt;
    uint32_t seq, flags = 0;
    uint64_t id, plan, epoch, until, v;

    if (p == NULL)
        return false;
    seq = atomic_load_explicit(&p->solo_seq, memory_order_acquire);
    rt = atomic_load_explicit(&p->solo_rt, memory_order_relaxed);
    id = atomic_load_explicit(&p->solo_id, memory_order_relaxed);
    plan = atomic_load_explicit(&p->solo_plan, memory_order_relaxed);
    epoch = atomic_load_explicit(&p->solo_epoch, memory_order_relaxed);
    until = atomic_load_explicit(&p->solo_until, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if ((seq & 1u) != 0 || rt == NULL || plan != plan_id ||
        atomic_load_explicit(&p->solo_seq, memory_order_relaxed) != seq ||
        epoch != atomic_load_explicit(&r->epoch, memory_order_acquire) ||
        now >= until)
        return false;
    v = atomic_load_explicit(&rt->view, memory_order_acquire);
    if ((v & (FO__V_STATE | FO__V_LIVE | FO__V_GUARDED)) !=
            (FO_STATE_UP | FO__V_LIVE) ||
        FO__V_LFGEN(v) !=
            (atomic_load_explicit(&r->lf_gen, memory_order_relaxed) &
             0xffffu) ||
        now >= atomic_load_explicit(&rt->view_next_ns, memory_order_relaxed) ||
        atomic_load_explicit(&rt->view_ramp_ns, memory_order_relaxed) != 0 ||
        (attempt != NULL && tried(attempt, id)))
        return false;
    atomic_fetch_add_explicit(&p->solo_picks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rt->picks, 1, memory_order_relaxed);
    record(r, id, (uint16_t)(FO__V_EPOCH(v) << FO__PICK_EPOCH_SHIFT), now,
           &flags, attempt);
    *route_out = id;
    *flags_out = flags;
    return true;
}

static int pick(fo_router *router, fo_attempt *attempt, fo_pick *out,
                fo_route_id *route_out, uint32_t *flags_out)
{
    struct fo__plan *plan;
    struct fo__entry *chosen;
    uint32_t flags;
    uint64_t now;

    if (attempt != NULL &&
        (fo__attempt_check(attempt, router) != FO_OK ||
         fo__attempt_count(attempt) >= router->cfg.max_attempts))
        return fo__attempt_check(attempt, router) != FO_OK ? FO_EINVAL
                                                           : FO_ELIMIT;
    now = fo__time(router);
    fo__local_fault_lapse(router, now);
    if (out == NULL &&
        pick_solo(router, attempt,
                  attempt != NULL ? attempt->fo_private_[FO__ATT_PLAN]
                                  : FO_PLAN_ID_NONE,
                  now, route_out, flags_out)) {
        fo__flush(router);
        return FO_OK;
    }
    plan = fo__plan_acquire(router, attempt != NULL
                                        ? attempt->fo_private_[FO__ATT_PLAN]
                                        : FO_PLAN_ID_NONE);
    if (plan == NULL) {
        if (out != NULL)
            out->skipped_count = 0;
        return FO_ENOENT;
    }
    /* The fast way, unless explanations are wanted; a route changed under
     * it (rare) is chosen again, twice at most, then the full way. */
    for (int tries = 0; out == NULL && tries < 3; tries++) {
        bool solo;

        flags = 0;
        chosen = choose_fast(router, plan, attempt, now, &flags, &solo);
        if (chosen == NULL)
            break;
        if (take(router, chosen, &flags, now, attempt)) {
            plan->picks++;
            if (plan->panic)
                panic_watch(router, plan, chosen, chosen, now);
            if (solo && !plan->panic) {
                uint64_t next = atomic_load_explicit(&chosen->rt->view_next_ns,
                                                     memory_order_relaxed);

                fo__plan_solo(plan, chosen->rt, chosen->id, plan->cand_epoch,
                              next < plan->wake_ns ? next : plan->wake_ns);
            } else if (atomic_load_explicit(&plan->solo_rt,
                                            memory_order_relaxed) != NULL) {
                fo__plan_solo(plan, NULL, 0, 0, 0);
            }
            *route_out = chosen->id;
            *flags_out = flags;
            fo__plan_unlock(plan);
            fo__flush(router);
            return FO_OK;
        }
    }
    return pick_full(router, plan, attempt, out, now, route_out, flags_out);
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
