/*
 * The router's clock: CLOCK_MONOTONIC or the embedder's callback, read
 * once per public call outside the lock, and turned into router time under
 * the lock (fo__lock_at) so that time inside a router never goes backwards
 * even if the source does.
 */
#include <time.h>

#include "internal.h"

uint64_t fo_clock_monotonic_ns(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux; keep a
     * defined value anyway. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t fo__now(fo_router *router)
{
    struct fo__cb_frame frame;
    uint64_t raw;

    if (router->clock.now_ns == NULL)
        return fo_clock_monotonic_ns();
    fo__cb_enter(&frame, router, FO__CB_CLOCK);
    raw = router->clock.now_ns(router->clock.userdata);
    fo__cb_leave(&frame);
    return raw;
}

/*
 * Router time follows the source's forward steps, not its absolute value:
 * a source that steps back (a wall clock corrected by NTP, a buggy
 * callback) neither turns time back nor freezes it until the source has
 * caught up, and one wild reading far in the future moves time by at most
 * FO__CLOCK_MAX_STEP_NS instead of pinning it there. Time starts at the
 * source's first reading, so a well-behaved source and router time agree.
 */
uint64_t fo__lock_at(fo_router *r, uint64_t raw)
{
    fo__lock(r);
    if (raw > r->raw_last_ns) {
        uint64_t step = raw - r->raw_last_ns;

        if (step > FO__CLOCK_MAX_STEP_NS)
            step = FO__CLOCK_MAX_STEP_NS;
        r->now_ns = fo__add_sat(r->now_ns, step);
        r->raw_last_ns = raw;
    } else if (r->raw_last_ns - raw > FO__CLOCK_REORDER_NS) {
        r->raw_last_ns = raw; /* the source stepped back: follow it */
    }
    return r->now_ns;
}

int fo_router_now(fo_router *router, uint64_t *out)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    *out = fo__lock_at(router, fo__now(router));
    fo__unlock(router);
    return FO_OK;
}
