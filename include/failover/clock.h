/*
 * libfailover: the router's clock.
 *
 * Every time-based decision (hold-downs, windows, probe schedules) reads
 * the router's clock: a callback returning monotonic nanoseconds. The
 * default reads CLOCK_MONOTONIC_COARSE where its resolution is 4 ms or
 * finer (Linux: about 11 ns per read instead of 32 here, late by a tick
 * or so, a few ms; routing decisions are made in seconds), else
 * CLOCK_MONOTONIC. Tests and simulations pass a manual clock and become
 * fully deterministic.
 */
#ifndef FAILOVER_CLOCK_H
#define FAILOVER_CLOCK_H

#include <failover/common.h>

FO_BEGIN_DECLS

/**
 * @brief Returns the current time in nanoseconds on a monotonic scale.
 *
 * The origin is arbitrary; only differences matter. The router reads the
 * clock once per public call, outside its locks, and advances its own time
 * by the clock's forward steps: a step back (more than a second) is
 * ignored, so time inside a router never goes backwards and never stands
 * still waiting for the clock to catch up, and a single forward step
 * counts for at most 30 days. The callback must not call into the router
 * whose clock it is: such calls return FO_EBUSY.
 *
 * @param[in] userdata The pointer registered with the callback.
 * @return Nanoseconds.
 */
typedef uint64_t (*fo_clock_now_cb)(void *userdata);

/**
 * @brief A clock table, passed in fo_router_options.clock.
 *
 * Size-versioned: set size to sizeof(fo_clock), e.g. with FO_CLOCK_INIT().
 * The router copies the table; it need not outlive fo_router_new().
 */
typedef struct fo_clock {
    size_t size;            /**< sizeof(fo_clock) as the caller knows it. */
    fo_clock_now_cb now_ns; /**< Required: the time source. */
    void *userdata;         /**< Passed to now_ns; owned by the caller. */
} fo_clock;

/** Initializer for an fo_clock: FO_CLOCK_INIT(my_now, my_state). */
#define FO_CLOCK_INIT(now_cb, userdata_ptr)                                    \
    {                                                                          \
        sizeof(fo_clock), (now_cb), (userdata_ptr)                             \
    }

/**
 * @brief CLOCK_MONOTONIC in nanoseconds.
 *
 * Exposed so an embedder's own timers can share the router's time base:
 * the default router clock has the same origin (it may read a few ms
 * late).
 *
 * @return Nanoseconds since an arbitrary, fixed origin.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 * Allocation: none.
 */
FO_API uint64_t fo_clock_monotonic_ns(void);

/**
 * @brief Reads the router's clock as the router sees it.
 *
 * Router time starts at the clock's first reading and advances by its
 * forward steps (see fo_clock_now_cb), so it never goes backwards. Useful
 * to compute deadlines on the router's time base.
 *
 * @param[in]  router The router.
 * @param[out] out    The time in nanoseconds.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL.
 * @retval FO_EBUSY  called from inside this router's clock callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's own clock callback.
 * Allocation: none.
 */
FO_API int fo_router_now(fo_router *router, uint64_t *out);

FO_END_DECLS

#endif /* FAILOVER_CLOCK_H */
