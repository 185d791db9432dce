/*
 * libfailover: the router and its options.
 */
#ifndef FAILOVER_ROUTER_H
#define FAILOVER_ROUTER_H

#include <failover/alloc.h>
#include <failover/clock.h>
#include <failover/common.h>

FO_BEGIN_DECLS

/* Defaults and limits of fo_router_options. */

/** Default route faults in a row that eject a route. */
#define FO_DEFAULT_CONSECUTIVE_FAULTS 3u
/** Default first hold-down after an ejection: 15 s. */
#define FO_DEFAULT_HOLD_DOWN_NS (15ull * FO_SECOND_NS)
/** Default growth of the hold-down per repeated ejection: x1.5. */
#define FO_DEFAULT_HOLD_DOWN_MULTIPLIER_PCT 150u
/** Default longest hold-down: 5 min. */
#define FO_DEFAULT_HOLD_DOWN_MAX_NS (300ull * FO_SECOND_NS)
/** Default time in service that forgives one step of growth: 60 s. */
#define FO_DEFAULT_HOLD_DOWN_DECAY_NS (60ull * FO_SECOND_NS)
/** Default successes a route in trial needs to return to service. */
#define FO_DEFAULT_TRIAL_SUCCESSES 2u
/** Default trial attempts allowed at the same time. */
#define FO_DEFAULT_TRIAL_CONCURRENCY 1u
/** Default time after which an unreported trial attempt is written off. */
#define FO_DEFAULT_TRIAL_TIMEOUT_NS (120ull * FO_SECOND_NS)
/** Default length of the failure-rate window: 60 s (12 buckets of 5 s). */
#define FO_DEFAULT_WINDOW_NS (60ull * FO_SECOND_NS)
/** Default attempts the window needs before any rate decision. */
#define FO_DEFAULT_WINDOW_MIN_VOLUME 20u
/** Default failure rate that ejects: 25 %. */
#define FO_DEFAULT_FAILURE_RATE_PCT 25u
/** Default slow-call rate that ejects (once slow_call_ns is set): 50 %. */
#define FO_DEFAULT_SLOW_CALL_RATE_PCT 50u
/** Default flap-damping penalty added per ejection. */
#define FO_DEFAULT_DAMPING_PENALTY 1000u
/** Default penalty at or above which a route is suppressed. */
#define FO_DEFAULT_DAMPING_SUPPRESS 2500u
/** Default penalty below which a suppressed route may return. */
#define FO_DEFAULT_DAMPING_REUSE 750u
/** Default half-life of the penalty: 5 min. */
#define FO_DEFAULT_DAMPING_HALF_LIFE_NS (300ull * FO_SECOND_NS)
/** Default longest suppression: 20 min. */
#define FO_DEFAULT_DAMPING_MAX_SUPPRESS_NS (1200ull * FO_SECOND_NS)
/** Default longest Retry-After honoured: 10 min. */
#define FO_DEFAULT_RETRY_AFTER_MAX_NS (600ull * FO_SECOND_NS)
/** Default number of routes one call may try (see fo_attempt). */
#define FO_DEFAULT_MAX_ATTEMPTS 3u

/** Default share of a list's routes passive detection may eject at once. */
#define FO_DEFAULT_MAX_EJECTED_PCT 50u
/** Default window in which every route failing means a local fault. */
#define FO_DEFAULT_LOCAL_FAULT_WINDOW_NS (10ull * FO_SECOND_NS)
/** Default weight, in percent, a route starts slow start with. */
#define FO_DEFAULT_SLOW_START_FLOOR_PCT 10u

/** Most routes one router can hold. */
#define FO_ROUTES_MAX (1u << 24)
/** Largest accepted hold-down, growth cap, decay or Retry-After cap. */
#define FO_MAX_HOLD_DOWN_NS (7ull * 24 * 3600 * FO_SECOND_NS)
/** Largest accepted consecutive_faults and trial_successes. */
#define FO_MAX_CONSECUTIVE_FAULTS 1000u
/** Largest accepted trial_concurrency. */
#define FO_MAX_TRIAL_CONCURRENCY 8u

/** Bits of fo_router_options.detectors_off: each turns one detector off. */
#define FO_DETECTOR_CONSECUTIVE  0x01u /**< N route faults in a row */
#define FO_DETECTOR_FAILURE_RATE 0x02u /**< failure rate over the window */
#define FO_DETECTOR_SLOW_CALLS   0x04u /**< slow-call rate over the window */
#define FO_DETECTOR_DAMPING      0x08u /**< flap damping (suppression) */
#define FO_DETECTOR_RETRY_AFTER  0x10u /**< holding down on Retry-After */

/** Bits of fo_router_options.guards_off: each turns one guard off. */
#define FO_GUARD_EJECTION    0x01u /**< at most max_ejected_pct ejected */
#define FO_GUARD_LOCAL_FAULT 0x02u /**< all failing at once: keep them */

/**
 * @brief What a pick does when no route of its list is eligible.
 */
typedef enum fo_panic {
    /** Take the least-bad route and say so (FO_PICK_PANIC): a route in
     *  trial, else the one whose hold-down or suppression ends soonest. A
     *  call center would rather try than refuse. */
    FO_PANIC_BEST_EFFORT = 0,
    /** Fail the pick with FO_ENOROUTE. */
    FO_PANIC_FAIL = 1
} fo_panic;

/**
 * @brief Options for fo_router_new().
 *
 * Size-versioned: always initialize with fo_router_options_init() (or
 * FO_ROUTER_OPTIONS_INIT()), then set the fields you need. A field left at
 * zero takes the library default (the FO_DEFAULT_* macros), so a program
 * built against older headers keeps working with a newer library. A
 * program built against newer headers that sets a field this library does
 * not know gets FO_EVERSION from fo_router_new() instead of having it
 * ignored. Fields are only ever appended.
 *
 * How the fields work together is described in the README ("Health").
 */
typedef struct fo_router_options {
    /** sizeof(fo_router_options) as the caller knows it. */
    size_t size;
    /** Time source; NULL = the default clock (see clock.h). Copied. */
    const fo_clock *clock;
    /** Memory allocator; NULL = malloc()/free(). Copied. */
    const fo_allocator *allocator;

    /** Most routes this router accepts; at most FO_ROUTES_MAX. */
    uint32_t max_routes;
    /** Routes one call may try (picks per fo_attempt); at most
     *  FO_ATTEMPT_MAX_ROUTES. */
    uint32_t max_attempts;

    /** Route faults in a row that eject a route; at most
     *  FO_MAX_CONSECUTIVE_FAULTS. */
    uint32_t consecutive_faults;
    /** Growth of the hold-down per repeated ejection, in percent:
     *  100 (no growth) to 1000. */
    uint32_t hold_down_multiplier_pct;
    /** First hold-down after an ejection. */
    uint64_t hold_down_ns;
    /** Cap of the hold-down's growth, not below hold_down_ns; the jitter,
     *  and a longer Retry-After, come on top. */
    uint64_t hold_down_max_ns;
    /** Time in service that undoes one step of hold-down growth. */
    uint64_t hold_down_decay_ns;
    /** Random extra hold-down, up to this percent of it (0 to 100;
     *  default 0, none), also after a Retry-After or at the cap. Spreads
     *  the trials of many dialers sharing a carrier. */
    uint32_t hold_down_jitter_pct;

    /** Successes a route in trial needs to return to service. */
    uint32_t trial_successes;
    /** Trial attempts allowed at once, 1 to FO_MAX_TRIAL_CONCURRENCY. */
    uint32_t trial_concurrency;
    /** Attempts the window must hold before a rate can eject. */
    uint32_t window_min_volume;
    /** Time after which a trial attempt never reported frees its slot. */
    uint64_t trial_timeout_ns;

    /** Length of the sliding window (12 buckets), 1 s to 1 h. */
    uint64_t window_ns;
    /** Share of failures in the window that ejects, 1 to 100: route
     *  faults, and slow attempts while the slow-call detector is on. */
    uint32_t failure_rate_pct;
    /** Share of slow attempts among the timed ones in the window that
     *  ejects on its own, 1 to 100. */
    uint32_t slow_call_rate_pct;
    /** An attempt that was not a route fault and whose reported latency
     *  (post-dial delay) is at least this is slow: it counts toward the
     *  failure rate and the slow-call rate. 0 (default) leaves the
     *  slow-call detector off. */
    uint64_t slow_call_ns;

    /** Flap-damping penalty added per ejection. */
    uint32_t damping_penalty;
    /** Penalty at or above which a route is suppressed. */
    uint32_t damping_suppress;
    /** Penalty below which a suppressed route may return; below
     *  damping_suppress. */
    uint32_t damping_reuse;
    /** FO_DETECTOR_* bits of detectors to turn off; 0 = all on. */
    uint32_t detectors_off;
    /** Half-life of the penalty, 1 s to 1 day. */
    uint64_t damping_half_life_ns;
    /** Longest a route stays suppressed: the penalty is capped at
     *  reuse * 2^(max_suppress / half_life), which must exceed
     *  damping_suppress. */
    uint64_t damping_max_suppress_ns;
    /** Longest Retry-After (fo_report.retry_after_ns) honoured. */
    uint64_t retry_after_max_ns;
    /** Seed of the jitter generator; 0 = seeded from the clock. Set it to
     *  make runs with jitter repeatable. */
    uint64_t seed;

    /** How the default list chooses (an fo_policy); 0 = priority. */
    uint32_t policy;
    /** What a pick does when nothing is eligible (an fo_panic); 0 = best
     *  effort. */
    uint32_t panic;
    /** Ejection guard: most routes of a list (the default list or a plan
     *  of two or more routes) that passive detection may have out at once,
     *  in percent of its enabled routes, rounded, but always at least one
     *  and never all; 1 to 100. A route the guard keeps in service is
     *  picked only when no healthy route is left. */
    uint32_t max_ejected_pct;
    /** FO_GUARD_* bits of guards to turn off; 0 = all on. */
    uint32_t guards_off;
    /** Local-fault guard: when every route in service that was tried
     *  within this window failed its latest attempt, no route is ejected.
     *  Also how long a guard's decision holds before it is looked at
     *  again. */
    uint64_t local_fault_window_ns;
    /** Slow start: a route back in service ramps its weight from
     *  slow_start_floor_pct to full over this time; 0 (default) = off. */
    uint64_t slow_start_ns;
    /** Weight, in percent, a route starts slow start with, 1 to 100. */
    uint32_t slow_start_floor_pct;
    /** Must be 0. */
    uint32_t reserved;
} fo_router_options;

/**
 * @brief Fills opts with defaults for a struct of the given size.
 *
 * Zeroes all size bytes (padding included) and sets opts->size.
 *
 * @param[out] opts The options to initialize.
 * @param[in]  size sizeof(*opts) in the caller's build.
 * @return FO_OK.
 * @retval FO_EINVAL opts is NULL or size is smaller than the first
 *                   version of the struct.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API int fo_router_options_init(fo_router_options *opts, size_t size);

/** Initializes *opts for the size the caller was compiled with. */
#define FO_ROUTER_OPTIONS_INIT(opts)                                           \
    fo_router_options_init((opts), sizeof *(opts))

/**
 * @brief Creates a router.
 *
 * @param[out] out  The new router; set only on success. Free it with
 *                  fo_router_free().
 * @param[in]  opts Options, or NULL for all defaults. Copied; the caller
 *                  keeps ownership.
 * @return FO_OK.
 * @retval FO_EINVAL   out is NULL; opts->size is too small; a clock or
 *                     allocator table lacks a required callback.
 * @retval FO_EVERSION opts (or a table it points to) sets fields this
 *                     library does not know.
 * @retval FO_ERANGE   a field is outside its documented range.
 * @retval FO_EINVAL   thresholds contradict each other (damping_reuse not
 *                     below damping_suppress, a penalty ceiling that never
 *                     reaches damping_suppress, hold_down_max_ns below
 *                     hold_down_ns).
 * @retval FO_ENOMEM   allocation failed.
 * @retval FO_ESYS     a pthread primitive could not be created.
 * @since 0.1
 * Thread safety: MT-Safe (each call creates an independent router).
 * Callback-safe: yes, except from an allocator callback.
 */
FO_API int fo_router_new(fo_router **out, const fo_router_options *opts);

/**
 * @brief Destroys a router and everything it owns.
 *
 * No other call on this router may run concurrently or afterwards.
 *
 * @param[in] router The router; NULL is a no-op returning FO_OK.
 * @return FO_OK.
 * @retval FO_EBUSY called from inside one of this router's callbacks;
 *                  nothing was freed.
 * @since 0.1
 * Thread safety: MT-Unsafe (create/free): must not race with any other
 * call on this router.
 * Callback-safe: no (returns FO_EBUSY).
 */
FO_API int fo_router_free(fo_router *router);

/**
 * @brief Changes what picks do when nothing is eligible.
 *
 * @param[in] router The router.
 * @param[in] panic  The policy.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL or panic is not an fo_panic.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_router_set_panic(fo_router *router, fo_panic panic);

FO_END_DECLS

#endif /* FAILOVER_ROUTER_H */
