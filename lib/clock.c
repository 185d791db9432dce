/*
 * The router's clock: a monotonic clock of the system or the embedder's
 * callback, read once per public call outside the router's locks, and
 * turned into router time (fo__time) so that time inside a router never
 * goes backwards even if the source does.
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

/* Linux's tick-updated monotonic clock: the same origin as
 * CLOCK_MONOTONIC, read without the TSC (11 ns instead of 32 on the
 * machines we measure on), late by a tick or so. */
#if defined(__linux__) && !defined(CLOCK_MONOTONIC_COARSE)
#define CLOCK_MONOTONIC_COARSE 6
#endif
/* The coarse clock is used by default when it is at least this fine:
 * routing decisions are made in seconds, and every interval the library
 * accepts is at least 10 ms. */
#define FO__COARSE_MAX_RES_NS (4 * FO_MILLISECOND_NS)

int fo__default_clock_id(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec res;

    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
        (uint64_t)res.tv_nsec <= FO__COARSE_MAX_RES_NS)
        return (int)CLOCK_MONOTONIC_COARSE;
#endif
    return (int)CLOCK_MONOTONIC;
}

uint64_t fo__now(fo_router *router)
{
    struct fo__cb_frame frame;
    uint64_t raw;

    if (router->clock.now_ns == NULL) {
        struct timespec ts;

        if (clock_gettime((clockid_t)router->clock_id, &ts) != 0)
            return 0;
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
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
 * The default clock is monotonic already: its readings are router time.
 */
uint64_t fo__time(fo_router *r)
{
    uint64_t raw = fo__now(r), last, off, then, now;

    if (r->clock.now_ns == NULL)
        return raw;
    /* The common case without a lock: the source moves forward by a sane
     * step (or back by less than a reordering), and router time is the
     * reading plus an offset that only the rare cases change. Router time
     * at the latest reading (last + offset) never wraps: a step that
     * would carry it past the end of its range goes to the lock, which
     * holds it there. */
    last = atomic_load_explicit(&r->raw_last_ns, memory_order_acquire);
    while (raw > last && raw - last <= FO__CLOCK_MAX_STEP_NS) {
        off = atomic_load_explicit(&r->clock_offset, memory_order_acquire);
        if (last + off > UINT64_MAX - (raw - last))
            break;
        if (atomic_compare_exchange_weak_explicit(&r->raw_last_ns, &last, raw,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
            return raw + off;
    }
    if (raw <= last && last - raw <= FO__CLOCK_REORDER_NS)
        return last +
               atomic_load_explicit(&r->clock_offset, memory_order_acquire);
    /* A step back, a wild step forward, or the end of the range: move the
     * offset so router time goes on from where it was (by at most the
     * longest step, and never past UINT64_MAX). */
    (void)pthread_mutex_lock(&r->clock_lock);
    last = atomic_load_explicit(&r->raw_last_ns, memory_order_relaxed);
    then = last + atomic_load_explicit(&r->clock_offset, memory_order_relaxed);
    now = then;
    if (raw > last)
        now = fo__add_sat(then, raw - last < FO__CLOCK_MAX_STEP_NS
                                    ? raw - last
                                    : FO__CLOCK_MAX_STEP_NS);
    if (raw > last || last - raw > FO__CLOCK_REORDER_NS) {
        atomic_store_explicit(&r->clock_offset, now - raw,
                              memory_order_release);
        atomic_store_explicit(&r->raw_last_ns, raw, memory_order_release);
    }
    (void)pthread_mutex_unlock(&r->clock_lock);
    return now;
}

uint64_t fo__lock_now(fo_router *r)
{
    uint64_t now = fo__time(r);

    fo__lock(r);
    /* Two callers may read the clock in one order and lock in the other:
     * time inside the router never goes back. */
    if (now < r->now_ns)
        now = r->now_ns;
    else
        r->now_ns = now;
    return now;
}

int fo_router_now(fo_router *router, uint64_t *out)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    *out = fo__lock_now(router);
    fo__unlock(router);
    return FO_OK;
}
