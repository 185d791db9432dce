/*
 * Per-route health: the rule that turns classified results into a state.
 *
 * Current rule: consecutive_faults route faults in a row eject the route
 * for hold_down_ns; when the hold-down ends the route is UP again with a
 * clean count. Evidence that the route works (a success, or a callee-side
 * outcome, which proves the carrier reached the callee) resets the count.
 * Neutral results change nothing. Results that arrive while the route is
 * ejected (calls that were already in flight) neither extend nor end the
 * hold-down.
 *
 * Everything here is a pure function of (state, config, result, now), so
 * the detectors that come later slot in behind the same three calls.
 */
#include "internal.h"

void fo__health_init(struct fo__health *h, uint64_t now)
{
    h->state = FO_STATE_UP;
    h->last_reason = FO__REASON_ADDED;
    h->state_since_ns = now;
    h->hold_down_until_ns = 0;
    h->consecutive_faults = 0;
    h->ejections = 0;
}

static void set_state(struct fo__health *h, fo_route_state state,
                      enum fo__reason reason, uint64_t now)
{
    h->state = (uint8_t)state;
    h->last_reason = (uint8_t)reason;
    h->state_since_ns = now;
}

bool fo__health_refresh(struct fo__health *h, uint64_t now)
{
    if (h->state == FO_STATE_EJECTED && now >= h->hold_down_until_ns) {
        set_state(h, FO_STATE_UP, FO__REASON_HOLD_DOWN_ENDED, now);
        h->consecutive_faults = 0;
        return true;
    }
    return false;
}

bool fo__health_report(struct fo__health *h, const struct fo__config *cfg,
                       fo_result_class cls, uint64_t now)
{
    bool changed = fo__health_refresh(h, now);

    switch (cls) {
    case FO_CLASS_SUCCESS:
    case FO_CLASS_CALLEE:
        if (h->state == FO_STATE_UP)
            h->consecutive_faults = 0;
        break;
    case FO_CLASS_ROUTE_FAULT:
        if (h->state != FO_STATE_UP)
            break;
        if (h->consecutive_faults < UINT32_MAX)
            h->consecutive_faults++;
        if (h->consecutive_faults >= cfg->consecutive_faults) {
            set_state(h, FO_STATE_EJECTED, FO__REASON_CONSECUTIVE_FAULTS, now);
            h->hold_down_until_ns = fo__add_sat(now, cfg->hold_down_ns);
            if (h->ejections < UINT32_MAX)
                h->ejections++;
            changed = true;
        }
        break;
    case FO_CLASS_NEUTRAL:
    default:
        break;
    }
    return changed;
}
