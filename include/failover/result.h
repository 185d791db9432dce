/*
 * libfailover: call results.
 *
 * After every attempt the dialer tells the router what happened on the
 * route it used. The taxonomy separates the route's fault from the
 * callee's: a busy or absent callee proves the route works and never
 * harms it; congestion, unavailability, timeouts and carrier rejections
 * are the route's fault and can take it out of service.
 */
#ifndef FAILOVER_RESULT_H
#define FAILOVER_RESULT_H

#include <failover/common.h>

FO_BEGIN_DECLS

/**
 * @brief What happened to one attempt on one route.
 *
 * Values are pinned; new results are appended. 0 is not a result, so a
 * forgotten initialisation is caught as FO_EINVAL.
 */
typedef enum fo_result {
    /** Answered, or progressing normally (SIP 1xx with media, 2xx). */
    FO_RESULT_SUCCESS = 1,
    /** The callee was busy (SIP 486/600, Q.850 17). Route healthy. */
    FO_RESULT_BUSY = 2,
    /** The callee did not answer (SIP 480, Q.850 18/19). Route healthy. */
    FO_RESULT_NOANSWER = 3,
    /** The callee side refused: unknown or invalid number, declined
     *  (SIP 404/484/603, Q.850 1/21/22/28). Route healthy. */
    FO_RESULT_DECLINED = 4,
    /** The caller gave up before an answer (SIP 487). Neutral. */
    FO_RESULT_CANCELLED = 5,
    /** The route is congested (Q.850 34/42, Asterisk CONGESTION). Fault. */
    FO_RESULT_CONGESTION = 6,
    /** The route cannot be reached: transport error, no registration,
     *  Asterisk CHANUNAVAIL. Fault. */
    FO_RESULT_UNAVAILABLE = 7,
    /** No response within the dial timeout. Fault. */
    FO_RESULT_TIMEOUT = 8,
    /** The carrier refused the call itself (SIP 403 from the trunk,
     *  500/502/503/504). Fault. */
    FO_RESULT_REJECTED = 9
} fo_result;

/**
 * @brief How a result bears on the health of the route that carried it.
 */
typedef enum fo_result_class {
    /** The route carried the call: evidence the route works. */
    FO_CLASS_SUCCESS = 1,
    /** The route reached the callee, who did not take the call: evidence
     *  the route works, never a failure. */
    FO_CLASS_CALLEE = 2,
    /** Says nothing about the route (e.g. the caller cancelled). */
    FO_CLASS_NEUTRAL = 3,
    /** The route failed the call. */
    FO_CLASS_ROUTE_FAULT = 4
} fo_result_class;

/**
 * @brief The name of a result, e.g. "CONGESTION".
 *
 * @param[in] result Any value; unknown values give "UNKNOWN".
 * @return A static string; never NULL.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API const char *fo_result_name(fo_result result);

/**
 * @brief The class the library gives a result by default.
 *
 * SUCCESS is FO_CLASS_SUCCESS; BUSY, NOANSWER and DECLINED are
 * FO_CLASS_CALLEE; CANCELLED is FO_CLASS_NEUTRAL; CONGESTION, UNAVAILABLE,
 * TIMEOUT and REJECTED are FO_CLASS_ROUTE_FAULT.
 *
 * @param[in] result The result.
 * @return The class, or 0 if result is not a valid fo_result.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API fo_result_class fo_result_default_class(fo_result result);

/**
 * @brief Reports what happened to one attempt on a route.
 *
 * Feed every attempt's outcome, including each attempt of a call that
 * moved down the list. Route faults in a row (options.consecutive_faults)
 * eject the route for options.hold_down_ns; a success or a callee-side
 * result on the route resets the count; a neutral result changes nothing.
 *
 * With an attempt, the result counts once per route per call: a second
 * report for the same route in the same attempt returns FO_EALREADY and
 * changes nothing. A route not yet in the attempt is added to it, so a
 * later pick does not return it again.
 *
 * @param[in]     router  The router.
 * @param[in]     route   The route the attempt used.
 * @param[in]     result  What happened.
 * @param[in,out] attempt The call's attempt context, or NULL.
 * @return FO_OK.
 * @retval FO_EINVAL   router is NULL, result is not a valid fo_result, or
 *                     attempt is corrupt or belongs to another router.
 * @retval FO_ENOENT   route is not a route of this router.
 * @retval FO_EALREADY a result for route is already in attempt.
 * @retval FO_EBUSY    called from inside this router's clock or allocator
 *                     callback.
 * @since 0.1
 * Thread safety: MT-Safe. The attempt must not be used by two threads at
 * once.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_report_result(fo_router *router, fo_route_id route,
                            fo_result result, fo_attempt *attempt);

FO_END_DECLS

#endif /* FAILOVER_RESULT_H */
