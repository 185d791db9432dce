/*
 * The router's clock: CLOCK_MONOTONIC or the embedder's callback, read
 * once per public call outside the lock, and clamped so that time inside
 * a router never goes backwards even if the source does.
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
    uint64_t raw, seen;

    if (router->clock.now_ns == NULL) {
        raw = fo_clock_monotonic_ns();
    } else {
        struct fo__cb_frame frame;

        fo__cb_enter(&frame, router, FO__CB_CLOCK);
        raw = router->clock.now_ns(router->clock.userdata);
        fo__cb_leave(&frame);
    }

    /* Atomic maximum: concurrent readers may race, but nobody ever
     * observes a value below one already returned. */
    seen = atomic_load_explicit(&router->last_now_ns, memory_order_relaxed);
    while (raw > seen) {
        if (atomic_compare_exchange_weak_explicit(&router->last_now_ns, &seen,
                                                  raw, memory_order_relaxed,
                                                  memory_order_relaxed))
            return raw;
    }
    return seen;
}

int fo_router_now(fo_router *router, uint64_t *out)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    *out = fo__now(router);
    return FO_OK;
}
