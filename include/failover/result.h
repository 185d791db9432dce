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
 * moved down the list. The result is classified by the router (see
 * fo_router_set_result_class()) and feeds the route's health: route faults
 * count toward ejection, successes and callee-side results prove the route
 * works, neutral results change nothing (README, "Health").
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

/**
 * @brief A result with the details that come with it, for
 * fo_report_result_ex().
 *
 * Size-versioned: initialise with FO_REPORT_INIT(result) (or zero it and
 * set size to sizeof(fo_report)). Zero fields mean "not known".
 */
typedef struct fo_report {
    size_t size;      /**< sizeof(fo_report) as the caller knows it. */
    fo_result result; /**< Required: what happened. */
    uint32_t flags;   /**< Must be 0 (reserved for later use). */
    /** Post-dial delay: from sending the attempt to its first ring,
     *  answer or final response; 0 = not measured. Compared with
     *  options.slow_call_ns. */
    uint64_t latency_ns;
    /** The carrier's Retry-After (e.g. with SIP 503), converted to ns;
     *  0 = none. The route is held down at least this long, up to
     *  options.retry_after_max_ns. */
    uint64_t retry_after_ns;
} fo_report;

/** Initializer: fo_report rep = FO_REPORT_INIT(FO_RESULT_REJECTED); */
#define FO_REPORT_INIT(result)                                                 \
    {                                                                          \
        sizeof(fo_report), (result), 0, 0, 0                                   \
    }

/**
 * @brief Reports an attempt's result with its latency and Retry-After.
 *
 * Works as fo_report_result(), and in addition: a latency at or above
 * options.slow_call_ns counts as a slow call in the route's window; a
 * Retry-After with a route fault holds the route down at least that long
 * (capped at options.retry_after_max_ns), ejecting it at once if needed.
 *
 * @param[in]     router  The router.
 * @param[in]     route   The route the attempt used.
 * @param[in]     report  The result and its details. Read only during the
 *                        call.
 * @param[in,out] attempt The call's attempt context, or NULL.
 * @return FO_OK.
 * @retval FO_EINVAL   router or report is NULL, report->size is too small,
 *                     the result is not valid, flags are not 0, or attempt
 *                     is corrupt or belongs to another router.
 * @retval FO_EVERSION report sets fields this library does not know.
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
FO_API int fo_report_result_ex(fo_router *router, fo_route_id route,
                               const fo_report *report, fo_attempt *attempt);

/**
 * @brief Changes how this router classifies a result.
 *
 * For example, a carrier that answers 404 for every number while its
 * routing is broken can have FO_RESULT_DECLINED count as a route fault.
 * Applies to results reported after the call returns.
 *
 * @param[in] router The router.
 * @param[in] result The result.
 * @param[in] cls    Its new class; fo_result_default_class(result)
 *                   restores the default.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL, or result or cls is not valid.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_router_set_result_class(fo_router *router, fo_result result,
                                      fo_result_class cls);

/**
 * @brief How this router classifies a result.
 *
 * @param[in]  router The router.
 * @param[in]  result The result.
 * @param[out] out    Its class.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL, or result is not valid.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_router_get_result_class(fo_router *router, fo_result result,
                                      fo_result_class *out);

/* ---- mapping telephony outcomes to results ------------------------------ */

/** The final response was preceded by ringing or session progress (SIP
 *  180/183): a 408 then means nobody answered, not a dead route. */
#define FO_SIP_RANG 0x01u
/** The final response was generated by our own SIP stack, not received
 *  (e.g. a 408 after Timer B fired, a 503 for a transport error). */
#define FO_SIP_LOCAL 0x02u

/**
 * @brief Maps a SIP final response status code to a result.
 *
 * The table is in the README ("From SIP, Q.850 and DIALSTATUS to a
 * result"): 2xx is SUCCESS; 486/600 BUSY; 480 NOANSWER; 404/410/433/484/
 * 485/603/604/606/607/608 DECLINED; 487 CANCELLED; 408 NOANSWER after
 * ringing, else TIMEOUT; 3xx, other 4xx and 5xx REJECTED (a local 503 or
 * 500 is UNAVAILABLE); other 6xx DECLINED.
 *
 * @param[in]  status A final status, 200 to 699.
 * @param[in]  flags  FO_SIP_RANG, FO_SIP_LOCAL or 0.
 * @param[out] out    The result.
 * @return FO_OK.
 * @retval FO_EINVAL out is NULL, status is not a final status (below 200
 *                   or above 699), or flags has unknown bits.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API int fo_result_from_sip(int status, unsigned flags, fo_result *out);

/**
 * @brief Maps a Q.850 cause (Asterisk HANGUPCAUSE) to a result.
 *
 * 16 is SUCCESS; 17 BUSY; 18/19/20/31 NOANSWER; 25 and 29 REJECTED; the
 * rest of the normal class (1-31: 1/2/3/21/22/23/27/28, ...) DECLINED; 38
 * UNAVAILABLE; 34/41/42/44/47/58 and the rest of the resource class
 * (32-47) CONGESTION; 102 TIMEOUT; everything else from 48 to 127
 * REJECTED.
 *
 * @param[in]  cause  A cause value, 1 to 127.
 * @param[out] out    The result.
 * @return FO_OK.
 * @retval FO_EINVAL out is NULL or cause is not 1 to 127.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API int fo_result_from_q850(int cause, fo_result *out);

/**
 * @brief Maps an Asterisk DIALSTATUS value to a result.
 *
 * ANSWER SUCCESS, BUSY BUSY, NOANSWER NOANSWER, CANCEL CANCELLED,
 * CONGESTION CONGESTION, CHANUNAVAIL UNAVAILABLE, DONTCALL and TORTURE
 * DECLINED (the callee's privacy manager turned the call away),
 * INVALIDARGS REJECTED (the trunk's dial string is wrong: this route
 * cannot carry calls). Case-insensitive; surrounding blanks are ignored.
 *
 * @param[in]  dialstatus The value, NUL-terminated.
 * @param[out] out        The result.
 * @return FO_OK.
 * @retval FO_EINVAL dialstatus or out is NULL, or dialstatus is not a
 *                   known value.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API int fo_result_from_dialstatus(const char *dialstatus, fo_result *out);

/**
 * @brief Maps a SIP status like fo_result_from_sip(), applying this
 * router's overrides first (fo_router_set_sip_result()).
 *
 * @param[in]  router The router.
 * @param[in]  status A final status, 200 to 699.
 * @param[in]  flags  FO_SIP_RANG, FO_SIP_LOCAL or 0.
 * @param[out] out    The result.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL, status is not final, or flags
 *                   has unknown bits.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_router_result_from_sip(fo_router *router, int status,
                                     unsigned flags, fo_result *out);

/**
 * @brief Overrides the result this router gives one SIP status code.
 *
 * For example, a trunk that sends 403 when a callee has barred calls can
 * have 403 mean FO_RESULT_DECLINED. The override applies whatever the
 * flags of the response.
 *
 * @param[in] router The router.
 * @param[in] status A final status, 200 to 699.
 * @param[in] result The result to give it; 0 removes the override.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL, status is not final, or result is
 *                   neither 0 nor valid.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_router_set_sip_result(fo_router *router, int status,
                                    fo_result result);

FO_END_DECLS

#endif /* FAILOVER_RESULT_H */
