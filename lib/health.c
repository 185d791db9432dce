/*
 * Per-route health: turns results, signals and time into a state.
 *
 * Underlying health is UP -> EJECTED -> TRIAL -> UP:
 * - UP: every result feeds the window; a route fault that makes N faults
 *   in a row, or a failure rate at or above the threshold with enough
 *   volume, or a slow-call rate likewise, or a fault with Retry-After,
 *   ejects the route.
 * - EJECTED: out for a hold-down of base * multiplier^level (capped, with
 *   optional jitter); level grows with each ejection and shrinks by one for
 *   every hold_down_decay_ns spent UP. A lost registration holds the route
 *   until the registration is restored.
 * - TRIAL: at most trial_concurrency attempts at once; trial_successes
 *   successes (a callee-side result proves the carrier reached the callee
 *   and counts) return it to UP with a fresh window; one route fault
 *   ejects it again, for longer. A trial attempt never reported frees its
 *   slot after trial_timeout_ns.
 * On top: flap damping (damping.c) suppresses a route whose ejections from
 * service pile up (a failed trial adds no penalty: it is the same outage);
 * the operator's DISABLED, DRAINING and DRILL override everything.
 *
 * Time-driven changes are applied lazily: every route knows the earliest
 * instant something can change by itself (next_event_ns), so looking at a
 * route costs one comparison until then.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static bool detector_on(const struct fo__config *c, uint32_t bit)
{
    return (c->detectors_off & bit) == 0;
}

/* Records why something changed; several causes in one call are joined
 * with "; " and the last one gives the reason code. */
FO__PRINTF(3, 4)
static void why(struct fo__change *ch, fo_reason reason, const char *fmt, ...)
{
    size_t len = strnlen(ch->text, sizeof ch->text);
    va_list ap;

    if (len > 0 && len + 3 < sizeof ch->text) {
        ch->text[len++] = ';';
        ch->text[len++] = ' ';
        ch->text[len] = '\0';
    }
    if (len + 1 < sizeof ch->text) {
        va_start(ap, fmt);
        vsnprintf(ch->text + len, sizeof ch->text - len, fmt, ap);
        va_end(ap);
        fo__utf8_trim(ch->text); /* never half a character at the cut */
    }
    ch->reason = reason;
}

void fo__format_duration(char *buf, size_t size, uint64_t ns)
{
    uint64_t ms = ns / 1000000u;

    if (ns == UINT64_MAX)
        snprintf(buf, size, "ever");
    else if (ms < 1000)
        snprintf(buf, size, "%llu ms", (unsigned long long)ms);
    else if (ms % 1000 == 0 || ms >= 100000)
        snprintf(buf, size, "%llu s", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, size, "%llu.%llu s", (unsigned long long)(ms / 1000),
                 (unsigned long long)(ms % 1000 / 100));
}

/* The route a health record belongs to: it is always a route's. */
static struct fo__route *route_of(struct fo__health *h)
{
    return (struct fo__route *)(void *)((char *)h -
                                        offsetof(struct fo__route, health));
}

static fo_route_state effective(const struct fo__health *h)
{
    if (h->admin == FO_ADMIN_DISABLED)
        return FO_STATE_DISABLED;
    if (h->drill_until_ns != 0)
        return FO_STATE_DRILL;
    if (h->admin == FO_ADMIN_DRAINING)
        return FO_STATE_DRAINING;
    if (h->damp.suppressed)
        return FO_STATE_SUPPRESSED;
    return (fo_route_state)h->health;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t next_event(const struct fo__health *h,
                           const struct fo__config *c)
{
    uint64_t t = UINT64_MAX;

    if (h->drill_until_ns != 0)
        t = h->drill_until_ns;
    if (h->health == FO_STATE_TRIAL) /* slots are only ever held in trial */
        for (uint32_t i = 0; i < FO_MAX_TRIAL_CONCURRENCY; i++)
            if (h->trial_deadline_ns[i] != 0)
                t = min64(t, h->trial_deadline_ns[i]);
    if (h->health == FO_STATE_EJECTED && h->hold_cause != FO__HOLD_REGISTRATION)
        t = min64(t, h->hold_down_until_ns);
    if (h->health == FO_STATE_UP && h->level > 0 && c->hold_down_decay_ns)
        t = min64(t, fo__add_sat(h->level_since_ns, c->hold_down_decay_ns));
    if (h->damp.suppressed)
        t = min64(t, fo__damp_reuse_at(&h->damp, c));
    if (h->guarded)
        t = min64(t, h->guard_until_ns);
    return t;
}

/*
 * Publishes the effect of a call: recomputes the next time-driven event,
 * and if the state a pick sees has changed, records when and why. A change
 * that keeps the state but explains it anew (a registration lost while
 * already ejected) updates the explanation only.
 */
static void announce(fo_router *r, struct fo__health *h,
                     const struct fo__change *ch, fo_route_state old,
                     fo_reason old_reason, bool changed, uint64_t now)
{
    struct fo__route *rt =
        (struct fo__route *)(void *)((char *)h -
                                     offsetof(struct fo__route, health));
    fo_reason reason = (fo_reason)h->reason;
    fo_event_kind kind = FO_EVENT_STATE;
    fo_log_level level = FO_LOG_INFO;
    struct fo__event_rec ev, *e;

    if (changed) {
        if (h->state == FO_STATE_EJECTED || h->state == FO_STATE_SUPPRESSED)
            level = FO_LOG_WARNING;
    } else if (reason == FO_REASON_EJECTION_GUARD ||
               reason == FO_REASON_LOCAL_FAULT) {
        kind = FO_EVENT_GUARD;
        /* Looked at again and still holding (after its time ran out, or
         * at once): detail, not news. */
        level = reason == old_reason || h->guard_lapsed ? FO_LOG_DEBUG
                                                        : FO_LOG_WARNING;
        h->guard_lapsed = false;
    } else if (reason == FO_REASON_GUARD_ENDED) {
        kind = FO_EVENT_GUARD;
        if (h->guard_lapsed)
            level = FO_LOG_DEBUG; /* time up, not recovery */
    } else {
        kind = FO_EVENT_UPDATE;
    }
    if (!fo__event_begin(r, &ev, kind, level, now))
        return;
    e = &ev;
    fo__event_route(r, e, rt, now);
    e->old_state = (uint8_t)old;
    e->reason = (uint8_t)reason;
    if (ch->numbers) {
        e->consecutive_faults = ch->consecutive_faults;
        e->window_attempts = ch->window_attempts;
        e->window_faults = ch->window_faults;
    }
    memcpy(e->text, h->text, sizeof e->text);
    fo__event_push(r, e);
}

static bool commit(struct fo__health *h, fo_router *r,
                   const struct fo__change *ch, bool explain, uint64_t now)
{
    const struct fo__config *c = &r->cfg;
    fo_route_state eff = effective(h);
    fo_route_state old = (fo_route_state)h->state;
    fo_reason old_reason = (fo_reason)h->reason;
    bool changed = eff != old;
    bool explained;

    explain = explain || ch->explain;
    if (changed) {
        /* Back in service after being out: ramp up (slow start). */
        h->ramp_since_ns = eff == FO_STATE_UP && c->slow_start_ns != 0
                               ? (now != 0 ? now : 1)
                               : 0;
    }
    h->next_event_ns = next_event(h, c);
    explained = changed || (explain && ch->reason != FO_REASON_NONE);
    if (explained) {
        size_t len = strnlen(ch->text, sizeof h->text - 1);

        h->reason = (uint8_t)ch->reason;
        memcpy(h->text, ch->text, len);
        h->text[len] = '\0';
    }
    if (changed) {
        h->state = (uint8_t)eff;
        h->state_since_ns = now;
        if (h->transitions < UINT32_MAX)
            h->transitions++;
    }
    if (explained)
        announce(r, h, ch, old, old_reason, changed, now);
    fo__route_publish(r, route_of(h));
    return changed;
}

void fo__health_init(struct fo__health *h, uint64_t now)
{
    memset(h, 0, sizeof *h);
    h->state = FO_STATE_UP;
    h->health = FO_STATE_UP;
    h->admin = FO_ADMIN_ENABLED;
    h->reason = FO_REASON_ADDED;
    snprintf(h->text, sizeof h->text, "added");
    h->state_since_ns = now;
    h->level_since_ns = now;
    h->next_event_ns = UINT64_MAX;
}

uint64_t fo__random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

uint64_t fo__route_seed(fo_router *r)
{
    uint64_t seed = fo__random(&r->rng);

    return seed != 0 ? seed : 0x9e3779b97f4a7c15ull;
}

bool fo__view_lf_stale(fo_router *r, const struct fo__route *rt)
{
    uint64_t v = atomic_load_explicit(&rt->view, memory_order_relaxed);

    return (v & FO__V_LIVE) != 0 &&
           FO__V_LFGEN(v) !=
               (atomic_load_explicit(&r->lf_gen, memory_order_relaxed) &
                0xffffu);
}

void fo__route_publish(fo_router *r, struct fo__route *rt)
{
    const struct fo__health *h = &rt->health;
    uint64_t view = 0, old;
    uint32_t slots = 0;
    uint8_t g;

    if (rt->id != FO_ROUTE_ID_NONE) {
        view = h->state | FO__V_LIVE |
               (uint64_t)(h->ejections & 0xffu) << FO__V_EPOCH_SHIFT |
               (uint64_t)(h->lf_gen_seen & 0xffffu) << FO__V_LFGEN_SHIFT;
        if (h->guarded)
            view |= FO__V_GUARDED;
        if (h->admin == FO_ADMIN_ENABLED && h->drill_until_ns == 0)
            view |= FO__V_ENABLED;
        if (h->health == FO_STATE_EJECTED) {
            view |= FO__V_EJECTED;
            if (h->hold_cause == FO__HOLD_TIMED &&
                h->eject_kind != FO__EJECT_ORDER)
                view |= FO__V_PASSIVE;
        }
        if (h->health == FO_STATE_TRIAL)
            for (uint32_t i = 0; i < r->cfg.trial_concurrency; i++)
                slots += h->trial_deadline_ns[i] == 0;
        view |= (uint64_t)slots << FO__V_SLOTS_SHIFT;
    }
    old = atomic_load_explicit(&rt->view, memory_order_relaxed);
    if (view != old) {
        const uint64_t pick = FO__V_STATE | FO__V_LIVE | FO__V_GUARDED;

        atomic_store_explicit(&rt->view, view, memory_order_release);
        if ((view & pick) != (old & pick))
            atomic_fetch_add_explicit(&r->epoch, 1, memory_order_release);
    }
#define FO__PUBLISH(field, value)                                              \
    do {                                                                       \
        uint64_t v_ = (value);                                                 \
        if (atomic_load_explicit(&rt->field, memory_order_relaxed) != v_)      \
            atomic_store_explicit(&rt->field, v_, memory_order_release);       \
    } while (0)
    FO__PUBLISH(view_next_ns, h->next_event_ns);
    FO__PUBLISH(view_ramp_ns, h->ramp_since_ns);
    FO__PUBLISH(view_ejected_ns, h->ejected_ns);
#undef FO__PUBLISH
    /* The guards' counts of the lists it is in. */
    g = (uint8_t)(((view & FO__V_ENABLED) ? FO__G_ENABLED : 0) |
                  ((view & FO__V_EJECTED) ? FO__G_EJECTED : 0));
    if (g != rt->gstat)
        fo__lists_count(r, rt, g);
}

/*
 * The hold-down of the next ejection: base * multiplier^level, capped at
 * hold_down_max_ns, at least a Retry-After floor, then spread by the
 * jitter (so dialers sharing a carrier come back at different seconds, also
 * after a Retry-After or at the cap).
 */
static uint64_t hold_down_for(const struct fo__health *h, fo_router *r,
                              uint64_t floor_ns)
{
    const struct fo__config *c = &r->cfg;
    uint64_t hold = c->hold_down_ns;

    /* hold <= 7 days (6.1e14 ns) and the multiplier <= 1000 %, so the
     * product stays far below 2^64. */
    for (uint32_t i = 0; i < h->level && hold < c->hold_down_max_ns; i++)
        hold = hold / 100 * c->hold_down_multiplier_pct +
               hold % 100 * c->hold_down_multiplier_pct / 100;
    if (hold > c->hold_down_max_ns)
        hold = c->hold_down_max_ns;
    if (hold < floor_ns)
        hold = floor_ns;
    if (c->hold_down_jitter_pct != 0) {
        uint64_t span = hold / 100 * c->hold_down_jitter_pct;

        if (span != 0)
            hold +=
                fo__random(&route_of((struct fo__health *)h)->rng) % (span + 1);
    }
    return hold;
}

static void clear_slots(struct fo__health *h)
{
    memset(h->trial_deadline_ns, 0, sizeof h->trial_deadline_ns);
}

/* Takes the route out. min_hold_ns: a floor (Retry-After); cause: what
 * brings it back. The caller has recorded why. */
static void eject(struct fo__health *h, fo_router *r, uint64_t now,
                  uint64_t min_hold_ns, enum fo__hold cause,
                  enum fo__eject_kind kind, struct fo__change *ch)
{
    const struct fo__config *c = &r->cfg;
    bool withdrawn = h->health == FO_STATE_UP;
    char dur[32];

    h->health = FO_STATE_EJECTED;
    h->hold_cause = (uint8_t)cause;
    h->eject_kind = (uint8_t)kind;
    if (cause == FO__HOLD_REGISTRATION) {
        h->hold_down_ns = 0;
        h->hold_down_until_ns = UINT64_MAX;
        why(ch, (fo_reason)ch->reason, "out until registered again");
    } else {
        uint64_t hold = hold_down_for(h, r, min_hold_ns);

        h->hold_down_ns = hold;
        h->hold_down_until_ns = fo__add_sat(now, hold);
        fo__format_duration(dur, sizeof dur, hold);
        why(ch, (fo_reason)ch->reason, "out for %s", dur);
    }
    if (!ch->numbers) {
        /* What the event about this ejection shows, before the reset. */
        ch->numbers = true;
        ch->consecutive_faults = h->consecutive_faults;
        ch->window_attempts = h->window.volume;
        ch->window_faults = h->window.faults;
    }
    h->guarded = false;
    h->guard_lapsed = false;
    h->ejected_ns = now;
    h->undo_penalty = h->damp.penalty;
    h->undo_at_ns = h->damp.at_ns;
    if (h->level < 64)
        h->level++;
    if (h->ejections < UINT32_MAX)
        h->ejections++;
    h->consecutive_faults = 0;
    h->trial_passes = 0;
    clear_slots(h);
    fo__window_reset(&h->window);
    /* Probe answers from before the ejection prove nothing about the
     * outage that began now: `rise` answers in a row must come after it. */
    if (route_of(h)->probe != NULL)
        route_of(h)->probe->ok_run = 0;

    /* Damping counts flaps: a route in service going out. A failed trial
     * is the same outage going on (its hold-down grows instead), as in
     * RFC 2439, where only a withdrawal of a usable route is penalised. */
    if (withdrawn && detector_on(c, FO_DETECTOR_DAMPING) &&
        fo__damp_add(&h->damp, c, now))
        why(ch, FO_REASON_SUPPRESSED, "penalty %.0f >= suppress %.0f",
            h->damp.penalty, c->damping_suppress);
}

static void enter_trial(struct fo__health *h)
{
    h->health = FO_STATE_TRIAL;
    h->trial_epoch++;
    h->trial_passes = 0;
    clear_slots(h);
}

static void back_in_service(struct fo__health *h, uint64_t now)
{
    h->health = FO_STATE_UP;
    h->consecutive_faults = 0;
    h->trial_passes = 0;
    h->level_since_ns = now;
    clear_slots(h);
    fo__window_reset(&h->window);
}

static void release_slot(struct fo__health *h, int slot)
{
    if (slot >= 0 && slot < (int)FO_MAX_TRIAL_CONCURRENCY) {
        h->trial_deadline_ns[slot] = 0;
        return;
    }
    /* Unknown slot (no attempt given): free the one taken first. */
    slot = -1;
    for (int i = 0; i < (int)FO_MAX_TRIAL_CONCURRENCY; i++)
        if (h->trial_deadline_ns[i] != 0 &&
            (slot < 0 || h->trial_deadline_ns[i] < h->trial_deadline_ns[slot]))
            slot = i;
    if (slot >= 0)
        h->trial_deadline_ns[slot] = 0;
}

static void apply_time(struct fo__health *h, fo_router *r, uint64_t now,
                       struct fo__change *ch)
{
    const struct fo__config *c = &r->cfg;
    char dur[32];

    if (h->drill_until_ns != 0 && now >= h->drill_until_ns) {
        h->drill_until_ns = 0;
        why(ch, FO_REASON_DRILL_ENDED, "drill ended");
    }
    for (uint32_t i = 0; i < FO_MAX_TRIAL_CONCURRENCY; i++)
        if (h->trial_deadline_ns[i] != 0 && now >= h->trial_deadline_ns[i])
            h->trial_deadline_ns[i] = 0; /* never reported: written off */
    if (h->health == FO_STATE_EJECTED && now >= h->hold_down_until_ns &&
        h->hold_cause != FO__HOLD_REGISTRATION) {
        enter_trial(h);
        fo__format_duration(dur, sizeof dur, h->hold_down_ns);
        why(ch, FO_REASON_HOLD_DOWN_ENDED, "hold-down of %s ended", dur);
    }
    if (h->health == FO_STATE_UP && h->level > 0 && c->hold_down_decay_ns &&
        now > h->level_since_ns) {
        uint64_t steps = (now - h->level_since_ns) / c->hold_down_decay_ns;

        if (steps >= h->level) {
            h->level = 0;
        } else {
            h->level -= (uint32_t)steps;
            h->level_since_ns += steps * c->hold_down_decay_ns;
        }
    }
    if (h->guarded && now >= h->guard_until_ns) {
        /* The guard is looked at again: back to ordinary service, one more
         * fault and the detectors ask the guards anew. */
        h->guarded = false;
        h->guard_lapsed = true;
        fo__format_duration(dur, sizeof dur, c->local_fault_window_ns);
        why(ch, FO_REASON_GUARD_ENDED,
            "kept for %s: back in ordinary service, its next fault asks "
            "the guards again",
            dur);
        ch->explain = true;
    }
    if (detector_on(c, FO_DETECTOR_DAMPING) &&
        fo__damp_refresh(&h->damp, c, now))
        why(ch, FO_REASON_REUSED, "penalty decayed below reuse %.0f",
            c->damping_reuse);
}

bool fo__local_fault_reinstatable(const struct fo__health *h,
                                  const fo_router *r, uint64_t now)
{
    return h->health == FO_STATE_EJECTED && h->hold_cause == FO__HOLD_TIMED &&
           h->eject_kind != FO__EJECT_ORDER &&
           fo__add_sat(h->ejected_ns, r->cfg.local_fault_window_ns) >= now;
}

/*
 * Catches up with local-fault episodes (guard.c). While one is open, a
 * route its first faults took out comes back, kept by the guard, as if the
 * guard had known then: hold-down, growth and damping undone. When it has
 * ended, what a route suffered during it was ours, not the route's: its
 * window and run of faults restart, and a route the guard kept is back in
 * ordinary service.
 */
static void catch_up(struct fo__health *h, fo_router *r, uint64_t now,
                     struct fo__change *ch)
{
    const struct fo__route *rt = route_of(h);
    uint64_t from;
    char dur[32];

    h->lf_gen_seen = atomic_load_explicit(&r->lf_gen, memory_order_acquire);
    from = atomic_load_explicit(&r->lf_from_ns, memory_order_relaxed);
    if (atomic_load_explicit(&r->local_fault_open, memory_order_relaxed)) {
        if ((r->cfg.guards_off & FO_GUARD_LOCAL_FAULT) != 0 ||
            !fo__local_fault_reinstatable(h, r, now) || h->ejected_ns < from)
            return;
        h->health = FO_STATE_UP;
        h->hold_down_ns = 0;
        h->hold_down_until_ns = 0;
        if (h->level > 0)
            h->level--;
        /* In service before that ejection: not suppressed then. */
        h->damp.penalty = h->undo_penalty;
        h->damp.at_ns = h->undo_at_ns;
        h->damp.suppressed = false;
        h->consecutive_faults = 0;
        h->guarded = true;
        h->guard_kind = h->eject_kind;
        h->guard_until_ns = fo__add_sat(now, r->cfg.local_fault_window_ns);
        /* In service all along: what time has done since (the growth
         * level's decay) is due now, in this same refresh. */
        h->next_event_ns = next_event(h, &r->cfg);
        fo__format_duration(dur, sizeof dur, now - h->ejected_ns);
        why(ch, FO_REASON_LOCAL_FAULT,
            "back in service: taken out %s ago by what looks like a local "
            "fault; kept in service",
            dur);
        return;
    }
    if (rt->last_fault_ns < from || rt->last_fault_ns == 0)
        return;
    h->consecutive_faults = 0;
    fo__window_reset(&h->window);
    if (h->guarded && h->reason == FO_REASON_LOCAL_FAULT) {
        h->guarded = false;
        h->guard_lapsed = false;
        why(ch, FO_REASON_GUARD_ENDED, "the local fault is over");
        ch->explain = true;
    }
}

bool fo__health_refresh_slow(struct fo__health *h, fo_router *r, uint64_t now)
{
    struct fo__change ch;
    uint32_t gen = atomic_load_explicit(&r->lf_gen, memory_order_relaxed);

    ch.reason = FO_REASON_NONE;
    ch.explain = false;
    ch.numbers = false;
    ch.text[0] = '\0';
    if (h->lf_gen_seen != gen)
        catch_up(h, r, now, &ch);
    if (now >= h->next_event_ns)
        apply_time(h, r, now, &ch);
    return commit(h, r, &ch, false, now);
}

/* Timeouts and unavailability say the route cannot be reached, which a
 * probe can show has changed; anything else is about how it handles
 * calls, which only calls can show. */
static enum fo__eject_kind kind_of(fo_result result)
{
    return result == FO_RESULT_TIMEOUT || result == FO_RESULT_UNAVAILABLE
               ? FO__EJECT_REACH
               : FO__EJECT_QUALITY;
}

/* A passive detector fired: eject, unless a guard keeps the route. */
static void passive_eject(struct fo__route *rt, fo_router *r, uint64_t now,
                          fo_reason reason, enum fo__eject_kind kind,
                          const char *detail, struct fo__change *ch)
{
    struct fo__health *h = &rt->health;
    char guard[FO_REASON_TEXT_MAX];
    fo_reason kept;

    /* Already kept by a guard: it is looked at again when the guard's
     * time is up, not on every fault (the walk is over every list). */
    if (h->guarded && now < h->guard_until_ns)
        return;
    kept = fo__guard_check(r, rt, now, guard, sizeof guard);
    if (kept != FO_REASON_NONE) {
        h->guarded = true;
        h->guard_kind = (uint8_t)kind;
        h->guard_until_ns = fo__add_sat(now, r->cfg.local_fault_window_ns);
        ch->explain = true;
        why(ch, kept, "%s; %s", detail, guard);
        return;
    }
    why(ch, reason, "%s", detail);
    eject(h, r, now, 0, FO__HOLD_TIMED, kind, ch);
}

static void report_up(struct fo__route *rt, fo_router *r,
                      const struct fo__outcome *o, uint64_t now,
                      struct fo__change *ch)
{
    struct fo__health *h = &rt->health;
    const struct fo__config *c = &r->cfg;
    const struct fo__window *w = &h->window;
    bool fault = o->cls == FO_CLASS_ROUTE_FAULT;
    bool timed = o->latency_ns != 0;
    /* Slow: a latency at or above the threshold, on an attempt that was
     * not a route fault (a fault counts once, as a fault). With the
     * slow-call detector on, a slow attempt is a failure for the failure
     * rate as well as a slow call for the slow-call rate. */
    bool slow = timed && !fault && c->slow_call_ns != 0 &&
                o->latency_ns >= c->slow_call_ns;
    bool slow_fails = slow && detector_on(c, FO_DETECTOR_SLOW_CALLS);
    uint64_t failures;
    char detail[FO_REASON_TEXT_MAX], dur[32], dur2[32];

    fo__window_add(&h->window, now, c->bucket_ns, fault, timed, slow);
    if (!fault) {
        h->consecutive_faults = 0;
        h->guard_lapsed = false;
        if (h->guarded) {
            /* Works again: the faults that had it kept are history, or
             * the next one would find the rate still over and keep it
             * again at once. */
            h->guarded = false;
            fo__window_reset(&h->window);
            fo__window_add(&h->window, now, c->bucket_ns, false, timed, slow);
            ch->explain = true;
            why(ch, FO_REASON_GUARD_ENDED, "working again: %s",
                fo_result_name(o->result));
        }
    } else {
        if (h->consecutive_faults < UINT32_MAX)
            h->consecutive_faults++;
        if (o->retry_after_ns != 0 && detector_on(c, FO_DETECTOR_RETRY_AFTER)) {
            /* The carrier's own word: no guard holds it back. */
            uint64_t ra = min64(o->retry_after_ns, c->retry_after_max_ns);

            fo__format_duration(dur, sizeof dur, ra);
            why(ch, FO_REASON_RETRY_AFTER, "%s with Retry-After %s",
                fo_result_name(o->result), dur);
            eject(h, r, now, ra, FO__HOLD_TIMED, FO__EJECT_ORDER, ch);
            return;
        }
        if (detector_on(c, FO_DETECTOR_CONSECUTIVE) &&
            h->consecutive_faults >= c->consecutive_faults) {
            snprintf(
                detail, sizeof detail, "%u consecutive route faults (last %s)",
                (unsigned)h->consecutive_faults, fo_result_name(o->result));
            passive_eject(rt, r, now, FO_REASON_CONSECUTIVE_FAULTS,
                          kind_of(o->result), detail, ch);
            return;
        }
    }
    /* A slow attempt asks the slow-call rate first: over its own limit,
     * that is the more telling reason. */
    if (slow_fails && w->timed >= c->window_min_volume &&
        w->slow * 100 >= (uint64_t)c->slow_call_rate_pct * w->timed) {
        fo__format_duration(dur, sizeof dur, c->slow_call_ns);
        fo__format_duration(dur2, sizeof dur2, c->window_ns);
        snprintf(detail, sizeof detail,
                 "slow calls %u%% >= %u%% (latency >= %s) over %s, %llu "
                 "attempts",
                 (unsigned)(w->slow * 100 / w->timed),
                 (unsigned)c->slow_call_rate_pct, dur, dur2,
                 (unsigned long long)w->timed);
        passive_eject(rt, r, now, FO_REASON_SLOW_CALLS, FO__EJECT_QUALITY,
                      detail, ch);
        return;
    }
    /* w->slow counts only while a threshold is set. */
    failures =
        w->faults + (detector_on(c, FO_DETECTOR_SLOW_CALLS) ? w->slow : 0);
    if ((fault || slow_fails) && detector_on(c, FO_DETECTOR_FAILURE_RATE) &&
        w->volume >= c->window_min_volume &&
        failures * 100 >= (uint64_t)c->failure_rate_pct * w->volume) {
        int n;

        fo__format_duration(dur, sizeof dur, c->window_ns);
        n = snprintf(detail, sizeof detail,
                     "failure rate %u%% >= %u%% over %s, %llu attempts",
                     (unsigned)(failures * 100 / w->volume),
                     (unsigned)c->failure_rate_pct, dur,
                     (unsigned long long)w->volume);
        if (failures != w->faults && n > 0 && (size_t)n < sizeof detail)
            snprintf(detail + n, sizeof detail - (size_t)n,
                     " (%llu route faults, %llu slow calls)",
                     (unsigned long long)w->faults,
                     (unsigned long long)w->slow);
        passive_eject(rt, r, now, FO_REASON_FAILURE_RATE, FO__EJECT_QUALITY,
                      detail, ch);
    }
}

static void report_trial(struct fo__route *rt, fo_router *r,
                         const struct fo__outcome *o, uint64_t now,
                         struct fo__change *ch)
{
    struct fo__health *h = &rt->health;
    const struct fo__config *c = &r->cfg;

    if (o->cls == FO_CLASS_ROUTE_FAULT) {
        uint64_t floor = 0;

        if (o->retry_after_ns != 0 && detector_on(c, FO_DETECTOR_RETRY_AFTER))
            floor = min64(o->retry_after_ns, c->retry_after_max_ns);
        if (floor == 0) {
            /* The last route that could take calls stays in trial: the
             * others are out, or every route is failing at once. */
            char guard[FO_REASON_TEXT_MAX];
            fo_reason kept = fo__guard_check(r, rt, now, guard, sizeof guard);

            if (kept != FO_REASON_NONE) {
                h->trial_passes = 0;
                ch->explain = true;
                why(ch, kept, "trial attempt %s; %s; still in trial",
                    fo_result_name(o->result), guard);
                return;
            }
        }
        why(ch, FO_REASON_TRIAL_FAILED, "trial attempt %s",
            fo_result_name(o->result));
        eject(h, r, now, floor, FO__HOLD_TIMED,
              floor != 0 ? FO__EJECT_ORDER : kind_of(o->result), ch);
        return;
    }
    if (h->trial_passes < UINT32_MAX)
        h->trial_passes++;
    if (h->trial_passes >= c->trial_successes) {
        back_in_service(h, now);
        why(ch, FO_REASON_TRIAL_PASSED, "%u trial attempts succeeded",
            (unsigned)c->trial_successes);
    }
}

bool fo__health_report(struct fo__route *rt, fo_router *r,
                       const struct fo__outcome *o, uint64_t now)
{
    struct fo__health *h = &rt->health;
    const struct fo__config *c = &r->cfg;
    bool changed = fo__health_refresh(h, r, now);
    struct fo__change ch;

    ch.reason = FO_REASON_NONE;
    ch.explain = false;
    ch.numbers = false;
    ch.text[0] = '\0';
    /* A trial call's result frees its slot; a report that cannot say
     * which call it was (no attempt) frees the oldest. */
    if (h->health == FO_STATE_TRIAL) {
        if (o->evidence == FO__EVIDENCE_TRIAL && o->trial_slot >= 0)
            release_slot(h, o->trial_slot);
        else if (o->release_oldest)
            release_slot(h, -1);
    }
    /* A call placed before the route's last change of service says
     * nothing about it now: counted, not judged. */
    if (o->evidence == FO__EVIDENCE_STALE || o->cls == FO_CLASS_NEUTRAL) {
        if (h->health != FO_STATE_TRIAL)
            return changed; /* nothing moved */
        return commit(h, r, &ch, false, now) || changed;
    }

    /* What the guards look at: when each route last failed and worked. */
    if (o->cls == FO_CLASS_ROUTE_FAULT) {
        rt->last_fault_ns = now;
        atomic_store_explicit(&rt->view_fault_ns, now, memory_order_release);
    } else {
        rt->last_ok_ns = now;
        atomic_store_explicit(&rt->view_ok_ns, now, memory_order_release);
        fo__local_fault_over(r, rt, fo_result_name(o->result), now);
    }

    switch (h->health) {
    case FO_STATE_UP:
        report_up(rt, r, o, now, &ch);
        /* The common case: a route in service that stays so, its window
         * and runs updated, nothing a pick or a guard reads changed. */
        if (ch.reason == FO_REASON_NONE && !ch.explain &&
            h->health == FO_STATE_UP)
            return changed;
        break;
    case FO_STATE_TRIAL:
        report_trial(rt, r, o, now, &ch);
        break;
    case FO_STATE_EJECTED:
    default:
        /* In-flight calls neither extend nor end a hold-down, except a
         * carrier's own Retry-After, which can only lengthen it. */
        if (o->cls == FO_CLASS_ROUTE_FAULT && o->retry_after_ns != 0 &&
            detector_on(c, FO_DETECTOR_RETRY_AFTER) &&
            h->hold_cause != FO__HOLD_REGISTRATION) {
            uint64_t until = fo__add_sat(
                now, min64(o->retry_after_ns, c->retry_after_max_ns));

            if (until > h->hold_down_until_ns) {
                char dur[32], left[32];

                h->hold_down_ns += until - h->hold_down_until_ns;
                h->hold_down_until_ns = until;
                fo__format_duration(dur, sizeof dur, o->retry_after_ns);
                fo__format_duration(left, sizeof left, until - now);
                why(&ch, FO_REASON_RETRY_AFTER,
                    "%s with Retry-After %s; out for %s more",
                    fo_result_name(o->result), dur, left);
                ch.explain = true;
            }
        }
        break;
    }
    return commit(h, r, &ch, false, now) || changed;
}

bool fo__health_signal(struct fo__health *h, fo_router *r, fo_signal sig,
                       uint64_t now)
{
    bool changed = fo__health_refresh(h, r, now);
    bool explain = false;
    struct fo__change ch;

    ch.reason = FO_REASON_NONE;
    ch.explain = false;
    ch.numbers = false;
    ch.text[0] = '\0';
    switch (sig) {
    case FO_SIGNAL_REGISTRATION_LOST:
        if (h->health == FO_STATE_EJECTED) {
            if (h->hold_cause == FO__HOLD_REGISTRATION)
                break;
            /* Already out: now out until the registration is back. */
            h->hold_cause = FO__HOLD_REGISTRATION;
            h->eject_kind = FO__EJECT_ORDER;
            h->hold_down_until_ns = UINT64_MAX;
            h->hold_down_ns = 0;
            why(&ch, FO_REASON_REGISTRATION_LOST,
                "registration lost; out until registered again");
            explain = true;
            break;
        }
        why(&ch, FO_REASON_REGISTRATION_LOST, "registration lost");
        eject(h, r, now, 0, FO__HOLD_REGISTRATION, FO__EJECT_ORDER, &ch);
        break;
    case FO_SIGNAL_REGISTRATION_RESTORED:
        if (h->health == FO_STATE_EJECTED &&
            h->hold_cause == FO__HOLD_REGISTRATION) {
            enter_trial(h);
            why(&ch, FO_REASON_REGISTRATION_RESTORED, "registration restored");
        }
        break;
    case FO_SIGNAL_KEEPALIVE_LOST:
        if (h->health != FO_STATE_EJECTED) {
            why(&ch, FO_REASON_KEEPALIVE_LOST, "keepalive lost");
            eject(h, r, now, 0, FO__HOLD_KEEPALIVE, FO__EJECT_REACH, &ch);
        }
        break;
    case FO_SIGNAL_KEEPALIVE_RESTORED:
        if (h->health == FO_STATE_EJECTED &&
            h->hold_cause == FO__HOLD_KEEPALIVE) {
            enter_trial(h);
            why(&ch, FO_REASON_KEEPALIVE_RESTORED, "keepalive answered again");
        }
        break;
    default:
        break;
    }
    return commit(h, r, &ch, explain, now) || changed;
}

bool fo__health_set_admin(struct fo__health *h, fo_router *r, fo_admin admin,
                          uint64_t now)
{
    bool changed = fo__health_refresh(h, r, now);
    struct fo__change ch;

    ch.reason = FO_REASON_NONE;
    ch.explain = false;
    ch.numbers = false;
    ch.text[0] = '\0';
    if (admin != (fo_admin)h->admin) {
        h->admin = (uint8_t)admin;
        if (admin == FO_ADMIN_DISABLED)
            why(&ch, FO_REASON_DISABLED, "disabled by the operator");
        else if (admin == FO_ADMIN_DRAINING)
            why(&ch, FO_REASON_DRAINING, "draining on the operator's request");
        else
            why(&ch, FO_REASON_ENABLED, "enabled by the operator");
    }
    return commit(h, r, &ch, true, now) || changed;
}

bool fo__health_drill(struct fo__health *h, fo_router *r, uint64_t duration_ns,
                      uint64_t now)
{
    bool changed = fo__health_refresh(h, r, now);
    struct fo__change ch;
    char dur[32];

    ch.reason = FO_REASON_NONE;
    ch.explain = false;
    ch.numbers = false;
    ch.text[0] = '\0';
    if (duration_ns == 0) {
        if (h->drill_until_ns != 0) {
            h->drill_until_ns = 0;
            why(&ch, FO_REASON_DRILL_ENDED, "drill ended by the operator");
        }
    } else {
        h->drill_until_ns = fo__add_sat(now, duration_ns);
        fo__format_duration(dur, sizeof dur, duration_ns);
        why(&ch, FO_REASON_DRILL_STARTED, "failover drill for %s", dur);
    }
    return commit(h, r, &ch, true, now) || changed;
}

bool fo__health_probe(struct fo__route *rt, fo_router *r, bool ok,
                      fo_result result, uint64_t now)
{
    struct fo__health *h = &rt->health;
    struct fo__probe *p = rt->probe;
    bool changed = fo__health_refresh(h, r, now);
    bool strong = p->evidence == FO_PROBE_STRONG;
    struct fo__change ch;
    char detail[FO_REASON_TEXT_MAX];

    ch.reason = FO_REASON_NONE;
    ch.explain = false;
    ch.numbers = false;
    ch.text[0] = '\0';
    if (!ok) {
        p->ok_run = 0;
        if (p->fail_run < UINT32_MAX)
            p->fail_run++;
        /* For the local-fault guard, a probe that fails is a fault. */
        rt->last_fault_ns = now;
        atomic_store_explicit(&rt->view_fault_ns, now, memory_order_release);
        if (p->fail_run >= p->fall && h->health != FO_STATE_EJECTED) {
            snprintf(detail, sizeof detail,
                     "%u probes failed in a row (last %s)",
                     (unsigned)p->fail_run, fo_result_name(result));
            if (h->health == FO_STATE_UP) {
                passive_eject(rt, r, now, FO_REASON_PROBE_FAILED,
                              FO__EJECT_PROBE, detail, &ch);
            } else {
                why(&ch, FO_REASON_PROBE_FAILED, "%s", detail);
                eject(h, r, now, 0, FO__HOLD_TIMED, FO__EJECT_PROBE, &ch);
            }
        }
        return commit(h, r, &ch, false, now) || changed;
    }

    p->fail_run = 0;
    if (p->ok_run < UINT32_MAX)
        p->ok_run++;
    rt->last_ok_ns = now;
    atomic_store_explicit(&rt->view_ok_ns, now, memory_order_release);
    fo__local_fault_over(r, rt, "probe answered", now);
    if (h->health == FO_STATE_UP) {
        /* An answer clears a guard's flag only if the probes put it
         * there; a failing call path is not disproved by a keepalive. */
        if (h->guarded && h->guard_kind == FO__EJECT_PROBE) {
            h->guarded = false;
            ch.explain = true;
            why(&ch, FO_REASON_GUARD_ENDED, "working again: probe answered");
        }
    } else if (h->health == FO_STATE_EJECTED && p->ok_run >= p->rise &&
               h->hold_cause != FO__HOLD_REGISTRATION &&
               h->eject_kind != FO__EJECT_ORDER &&
               (strong || h->eject_kind != FO__EJECT_QUALITY)) {
        snprintf(detail, sizeof detail, "%u probes answered in a row",
                 (unsigned)p->ok_run);
        if (h->eject_kind == FO__EJECT_PROBE) {
            /* Probes took it out; probes bring it back. */
            back_in_service(h, now);
        } else {
            /* It can be reached again; real calls decide the rest. */
            enter_trial(h);
        }
        why(&ch, FO_REASON_PROBE_PASSED, "%s", detail);
    } else if (h->health == FO_STATE_TRIAL && strong) {
        if (h->trial_passes < UINT32_MAX)
            h->trial_passes++;
        if (h->trial_passes >= r->cfg.trial_successes) {
            back_in_service(h, now);
            why(&ch, FO_REASON_PROBE_PASSED,
                "%u trial successes, with probe answers",
                (unsigned)r->cfg.trial_successes);
        }
    }
    return commit(h, r, &ch, false, now) || changed;
}

int fo__health_take_slot(struct fo__health *h, fo_router *r, uint64_t now)
{
    for (uint32_t i = 0; i < r->cfg.trial_concurrency; i++) {
        if (h->trial_deadline_ns[i] == 0) {
            uint64_t deadline = fo__add_sat(now, r->cfg.trial_timeout_ns);

            h->slot_gen[i]++; /* results of its earlier users go stale */
            h->trial_deadline_ns[i] = deadline;
            h->next_event_ns = min64(h->next_event_ns, deadline);
            fo__route_publish(r, route_of(h));
            return (int)i;
        }
    }
    return -1;
}
