/*
 * libfailover: route health, its signals and the reasons for its changes.
 *
 * A route's health comes from three sources: the results of real calls
 * (fo_report_result()), active probes, and explicit signals from the
 * embedder (registration and keepalive state, fo_route_signal()). Every
 * change of a route's state records a reason code and a readable
 * explanation such as "3 consecutive route faults (last TIMEOUT)" or
 * "failure rate 42% >= 25% over 60 s, 57 attempts".
 */
#ifndef FAILOVER_HEALTH_H
#define FAILOVER_HEALTH_H

#include <failover/common.h>

FO_BEGIN_DECLS

/** Longest explanation, in bytes, including the terminating NUL. */
#define FO_REASON_TEXT_MAX 128u

/**
 * @brief Why a route last changed state. Values are pinned; new reasons
 * are appended.
 */
typedef enum fo_reason {
    FO_REASON_NONE = 0,                  /**< no change yet */
    FO_REASON_ADDED = 1,                 /**< route added: starts UP */
    FO_REASON_CONSECUTIVE_FAULTS = 2,    /**< N route faults in a row */
    FO_REASON_FAILURE_RATE = 3,          /**< failure rate over the window */
    FO_REASON_SLOW_CALLS = 4,            /**< slow-call rate over the window */
    FO_REASON_RETRY_AFTER = 5,           /**< the carrier asked for a pause */
    FO_REASON_REGISTRATION_LOST = 6,     /**< signal: registration lost */
    FO_REASON_REGISTRATION_RESTORED = 7, /**< signal: registered again */
    FO_REASON_KEEPALIVE_LOST = 8,        /**< signal: keepalive lost */
    FO_REASON_KEEPALIVE_RESTORED = 9,    /**< signal: keepalive answered */
    FO_REASON_HOLD_DOWN_ENDED = 10,      /**< ejected -> trial */
    FO_REASON_TRIAL_PASSED = 11,         /**< trial -> up */
    FO_REASON_TRIAL_FAILED = 12,         /**< trial -> ejected, longer */
    FO_REASON_SUPPRESSED = 13,           /**< damping penalty too high */
    FO_REASON_REUSED = 14,               /**< damping penalty decayed */
    FO_REASON_DISABLED = 15,             /**< operator: disabled */
    FO_REASON_DRAINING = 16,             /**< operator: draining */
    FO_REASON_ENABLED = 17,              /**< operator: enabled again */
    FO_REASON_DRILL_STARTED = 18,        /**< operator: drill */
    FO_REASON_DRILL_ENDED = 19,          /**< drill time over */
    FO_REASON_EJECTION_GUARD = 20,       /**< kept in service: too many out */
    FO_REASON_LOCAL_FAULT = 21,          /**< kept in service: all failing */
    FO_REASON_PROBE_FAILED = 22,         /**< probes failed in a row */
    FO_REASON_PROBE_PASSED = 23,         /**< probes answered in a row */
    FO_REASON_GUARD_ENDED = 24           /**< a guard no longer keeps it: it
                                              works again, or the guard's
                                              time is up */
} fo_reason;

/**
 * @brief Explicit health signals from the embedder.
 */
typedef enum fo_signal {
    /** The trunk's registration was lost: eject at once and stay out
     *  until FO_SIGNAL_REGISTRATION_RESTORED. */
    FO_SIGNAL_REGISTRATION_LOST = 1,
    /** Registered again: a route held out by a lost registration goes to
     *  trial. */
    FO_SIGNAL_REGISTRATION_RESTORED = 2,
    /** The embedder's own keepalive (e.g. an Asterisk qualify) failed:
     *  eject at once with the usual hold-down. */
    FO_SIGNAL_KEEPALIVE_LOST = 3,
    /** The keepalive answers again: a route ejected by a lost keepalive
     *  goes to trial without waiting for its hold-down to end. */
    FO_SIGNAL_KEEPALIVE_RESTORED = 4
} fo_signal;

/**
 * @brief Feeds an explicit health signal for a route.
 *
 * Signals are the embedder's facts, not guesses: they act at once. A
 * signal that does not apply to the route's current state (e.g. restored
 * while nothing was lost) changes nothing and still returns FO_OK.
 *
 * @param[in] router The router.
 * @param[in] route  The route.
 * @param[in] signal The signal.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL or signal is not an fo_signal value.
 * @retval FO_ENOENT route is not a route of this router.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_signal(fo_router *router, fo_route_id route,
                           fo_signal signal);

/**
 * @brief Why a route is in its current state.
 *
 * @param[in]  router The router.
 * @param[in]  route  The route.
 * @param[out] reason The reason code of the last state change; may be
 *                    NULL.
 * @param[out] text   Receives the NUL-terminated explanation; may be NULL.
 * @param[in]  size   Size of text; FO_REASON_TEXT_MAX always suffices.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL, or text is given with size 0.
 * @retval FO_ENOENT route is not a route of this router.
 * @retval FO_ERANGE text is too small; it holds the truncated text.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_get_reason(fo_router *router, fo_route_id route,
                               fo_reason *reason, char *text, size_t size);

/**
 * @brief The name of a reason, e.g. "CONSECUTIVE_FAULTS".
 *
 * @param[in] reason Any value; unknown values give "UNKNOWN".
 * @return A static string; never NULL.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API const char *fo_reason_name(fo_reason reason);

FO_END_DECLS

#endif /* FAILOVER_HEALTH_H */
