/*
 * libfailover: statistics, a readable dump and Prometheus metrics.
 *
 * A route's statistics are one consistent snapshot, taken under the
 * router's lock: no counter in it is torn or from another moment than the
 * others. Counters count since the route was added; removing a route
 * removes its counters (the router's totals keep them). Time-driven
 * changes due by now (an ended hold-down) are applied first, so the
 * snapshot shows the state a pick would see.
 */
#ifndef FAILOVER_STATS_H
#define FAILOVER_STATS_H

#include <stdio.h>

#include <failover/common.h>
#include <failover/health.h>
#include <failover/route.h>

FO_BEGIN_DECLS

/** Entries of the per-result array: indexed by fo_result (0 unused). */
#define FO_STATS_RESULTS 16u
/** Entries of the per-class array: indexed by fo_result_class. */
#define FO_STATS_CLASSES 8u
/** Entries of the per-state array: indexed by fo_route_state. */
#define FO_STATS_STATES 16u

/** fo_route_stats.flags: a guard keeps the failing route in service. */
#define FO_STATS_GUARDED 0x1u
/** fo_route_stats.flags: the route has a probe. */
#define FO_STATS_PROBED 0x2u
/** fo_route_stats.flags: back in service and still ramping up. */
#define FO_STATS_RAMPING 0x4u
/** fo_route_stats.flags: out until its registration is restored. */
#define FO_STATS_AWAITS_REGISTRATION 0x8u

/**
 * @brief A snapshot of one route.
 *
 * Size-versioned: set size (FO_ROUTE_STATS_INIT does); the library fills
 * what it knows and zeroes the rest of the caller's struct.
 */
typedef struct fo_route_stats {
    size_t size;                          /**< In: sizeof as you know it. */
    fo_route_id route;                    /**< The route. */
    char name[FO_ROUTE_NAME_MAX + 1];     /**< Its name. */
    char reason_text[FO_REASON_TEXT_MAX]; /**< Its explanation. */
    fo_route_state state;                 /**< As a pick sees it. */
    fo_reason reason;            /**< Of the last change or explanation. */
    fo_admin admin;              /**< The operator's setting. */
    uint32_t priority;           /**< As configured. */
    uint32_t weight;             /**< As configured. */
    uint32_t cost;               /**< As configured. */
    uint32_t flags;              /**< FO_STATS_* bits. */
    uint32_t consecutive_faults; /**< Route faults in a row. */
    uint32_t penalty;            /**< Flap-damping penalty, rounded. */
    uint32_t ejections;          /**< Times taken out by its health. */
    uint32_t transitions;        /**< State changes. */
    uint32_t trial_slots_in_use; /**< Trial attempts in flight. */
    uint32_t trial_slots;        /**< Trial attempts allowed at once. */
    uint32_t trial_passes;       /**< Successes in the current trial. */
    uint64_t now_ns;             /**< When: the router's clock. */
    uint64_t state_since_ns;     /**< In this state since. */
    uint64_t time_in_state_ns;   /**< now_ns - state_since_ns. */
    uint64_t hold_down_ns;       /**< The current hold-down (ejected). */
    uint64_t until_ns;           /**< When due back (hold-down end,
                                      reuse, drill end); 0 if not out or
                                      waiting for a signal. */
    uint64_t last_fault_ns;      /**< Last route fault; 0 = none. */
    uint64_t last_success_ns;    /**< Last success or callee result. */
    uint64_t window_attempts;    /**< Attempts in the failure window. */
    uint64_t window_faults;      /**< Route faults among them. */
    uint64_t window_timed;       /**< Attempts with a latency. */
    uint64_t window_slow;        /**< Slow ones among those (not faults). */
    double window_failure_rate;  /**< faults / attempts (0 if none). */
    double window_slow_rate;     /**< slow / timed (0 if none). */
    uint64_t results[FO_STATS_RESULTS]; /**< Reports per fo_result. */
    uint64_t classes[FO_STATS_CLASSES]; /**< Reports per class, as
                                             classified when reported. */
    uint64_t reports;                   /**< All reports. */
    uint64_t stale_reports;             /**< Of calls placed before the route's
                                             last change: counted, not judged. */
    uint64_t picks;                     /**< Times picked. */
    uint64_t trial_picks;               /**< Picks that were trial attempts. */
    uint64_t panic_picks;               /**< Picks as the least-bad route. */
    uint64_t probes_sent;               /**< Probes started: answered + failed +
                                             timed out + cancelled + in flight. */
    uint64_t probes_answered;  /**< Reported with a result that is not a
                                    route fault. */
    uint64_t probes_failed;    /**< Reported with a route fault. */
    uint64_t probes_timed_out; /**< Not done by their timeout. */
    uint64_t probes_late;      /**< Completions after the timeout (not
                                    counted above). */
} fo_route_stats;

/** Initializer for an fo_route_stats. */
#define FO_ROUTE_STATS_INIT                                                    \
    {                                                                          \
        sizeof(fo_route_stats), 0, {0}, {0}, FO_STATE_UP, FO_REASON_NONE,      \
            FO_ADMIN_ENABLED, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  \
            0, 0, 0, 0, 0, 0, 0.0, 0.0, {0}, {0}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 \
    }

/** fo_router_stats.flags: a local fault is suspected now. */
#define FO_ROUTER_STATS_LOCAL_FAULT 0x1u
/** fo_router_stats.flags: the router's own thread is running. */
#define FO_ROUTER_STATS_THREAD 0x2u

/**
 * @brief A snapshot of the router as a whole. Size-versioned like
 * fo_route_stats.
 */
typedef struct fo_router_stats {
    size_t size;     /**< In: sizeof as you know it. */
    uint64_t now_ns; /**< When: the router's clock. */
    uint32_t routes; /**< Routes now. */
    uint32_t plans;  /**< Plans now. */
    uint32_t routes_in_state[FO_STATS_STATES]; /**< By fo_route_state. */
    uint32_t lists_in_panic;   /**< The default list and plans whose last
                                    telling pick found no route eligible. */
    uint32_t flags;            /**< FO_ROUTER_STATS_* bits. */
    uint64_t picks;            /**< Picks made, including those below. */
    uint64_t panic_picks;      /**< Picks of a least-bad route. */
    uint64_t no_route_picks;   /**< Picks that found no route. */
    uint64_t reports;          /**< Results reported. */
    uint64_t probe_strays;     /**< Probe completions for no known probe. */
    uint64_t events_delivered; /**< Events delivered to callbacks. */
    uint64_t events_dropped;   /**< Events lost to a full queue. */
} fo_router_stats;

/** Initializer for an fo_router_stats. */
#define FO_ROUTER_STATS_INIT                                                   \
    {                                                                          \
        sizeof(fo_router_stats), 0, 0, 0, {0}, 0, 0, 0, 0, 0, 0, 0, 0, 0       \
    }

/**
 * @brief A consistent snapshot of one route.
 *
 * @param[in]     router The router.
 * @param[in]     route  The route.
 * @param[in,out] out    In: size. Out: the snapshot.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL, or out->size is smaller than
 *                   the first version of the struct.
 * @retval FO_ENOENT route is not a route of this router.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_get_stats(fo_router *router, fo_route_id route,
                              fo_route_stats *out);

/**
 * @brief A consistent snapshot of the router's totals.
 *
 * @param[in]     router The router.
 * @param[in,out] out    In: size. Out: the snapshot.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL, or out->size is too small.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_router_get_stats(fo_router *router, fo_router_stats *out);

/**
 * @brief Writes a readable table of the routes, in the order of the
 * default list, with their state, counters and reasons.
 *
 * For CLIs and debugging; the format may change between releases (parse
 * the stats or the metrics instead). The snapshot is taken under the lock
 * at once; the writing happens after it is released.
 *
 * @param[in] router The router.
 * @param[in] out    Where to write, e.g. stdout.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL.
 * @retval FO_ENOMEM no memory for the snapshot.
 * @retval FO_ESYS   writing failed (see errno).
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe (out must not be written by others meanwhile).
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: a snapshot of every route, freed before returning.
 */
FO_API int fo_router_dump(fo_router *router, FILE *out);

/**
 * @brief Writes the router's metrics in the Prometheus text exposition
 * format (version 0.0.4), for a /metrics endpoint.
 *
 * Like snprintf(): returns the length of the whole text (without the
 * terminating NUL). If that is less than size, buf holds it all,
 * NUL-terminated; otherwise buf holds only complete lines that fit (a
 * scraper never sees half a sample) and you call again with a larger
 * buffer. Pass NULL and 0 to learn the length. Route names (UTF-8, see
 * fo_route_add()) are label values, escaped as the format requires
 * (backslash, double quote).
 *
 * Families (label route on every route series): failover_route_state
 * {state} (1 for the current state, 0 for the others),
 * failover_route_info{priority,weight,cost,admin},
 * failover_route_results_total{result},
 * failover_route_outcomes_total{class}, failover_route_picks_total{kind}
 * (all, trial, panic), failover_route_ejections_total,
 * failover_route_transitions_total, failover_route_probes_sent_total,
 * failover_route_probes_total{outcome} (answered, failed, timed_out),
 * failover_route_probes_late_total,
 * failover_route_time_in_state_seconds,
 * failover_route_consecutive_faults,
 * failover_route_window_attempts, failover_route_window_faults,
 * failover_route_window_failure_ratio, failover_route_damping_penalty,
 * failover_route_hold_down_seconds, failover_route_trial_slots_in_use,
 * failover_route_guarded; router-wide: failover_routes{state},
 * failover_picks_total{outcome} (routed, panic, no_route),
 * failover_reports_total, failover_lists_in_panic,
 * failover_local_fault_suspected, failover_probe_strays_total,
 * failover_events_dropped_total.
 *
 * @param[in]  router The router.
 * @param[out] buf    Where to write; may be NULL if size is 0.
 * @param[in]  size   Size of buf.
 * @return The length of the whole text, or a negative fo_error.
 * @retval FO_EINVAL router is NULL, or buf is NULL with a size.
 * @retval FO_ENOMEM no memory for the snapshot.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: a snapshot of every route, freed before returning. The
 * routes are read under the lock at once (one moment for all); the text is
 * written after it is released.
 */
FO_API int64_t fo_router_write_metrics(fo_router *router, char *buf,
                                       size_t size);

FO_END_DECLS

#endif /* FAILOVER_STATS_H */
