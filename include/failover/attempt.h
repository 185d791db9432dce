/*
 * libfailover: the attempt context and route selection.
 *
 * One call may need several attempts: when the first route fails, the
 * dialer retries on the next. An fo_attempt, declared on the caller's
 * stack and initialised with FO_ATTEMPT_INIT, remembers the routes this
 * call has tried so fo_pick_route() moves down the list and never repeats
 * a route, and so each route's result counts once per call.
 *
 *     fo_attempt attempt = FO_ATTEMPT_INIT;
 *     fo_route_id route;
 *     while (fo_pick_route(router, &attempt, &route) == FO_OK) {
 *         fo_result r = dial(route);
 *         fo_report_result(router, route, r, &attempt);
 *         if (r != FO_RESULT_CONGESTION && ...) break;
 *     }
 */
#ifndef FAILOVER_ATTEMPT_H
#define FAILOVER_ATTEMPT_H

#include <failover/common.h>

FO_BEGIN_DECLS

/** Most routes one attempt can remember (the cap of max_attempts). */
#define FO_ATTEMPT_MAX_ROUTES 16u

/**
 * @brief The per-call retry context.
 *
 * Public size, private layout: do not touch the member. It holds no
 * pointers and owns nothing, so it can be copied with memcpy() or
 * assignment and needs no cleanup. Initialise with FO_ATTEMPT_INIT or
 * fo_attempt_init(). One attempt belongs to one call on one router and
 * must not be used by two threads at once.
 */
struct fo_attempt {
    uint64_t fo_private_[32]; /**< Private; zero means a fresh attempt. */
};

/** Initializer for a fresh attempt. */
#define FO_ATTEMPT_INIT                                                        \
    {                                                                          \
        {                                                                      \
            0                                                                  \
        }                                                                      \
    }

/**
 * @brief Resets an attempt to a fresh one (same as FO_ATTEMPT_INIT).
 *
 * @param[out] attempt The attempt.
 * @return FO_OK.
 * @retval FO_EINVAL attempt is NULL.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 * Allocation: none.
 */
FO_API int fo_attempt_init(fo_attempt *attempt);

/**
 * @brief The number of routes this attempt has tried so far.
 *
 * @param[in] attempt The attempt.
 * @return The count, or 0 if attempt is NULL or corrupt.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 * Allocation: none.
 */
FO_API size_t fo_attempt_count(const fo_attempt *attempt);

/**
 * @brief The index-th route this attempt tried, in order.
 *
 * @param[in] attempt The attempt.
 * @param[in] index   0 for the first route tried.
 * @return The route, or FO_ROUTE_ID_NONE if attempt is NULL or corrupt, or
 *         index is not below fo_attempt_count().
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 * Allocation: none.
 */
FO_API fo_route_id fo_attempt_route(const fo_attempt *attempt, size_t index);

/**
 * @brief Chooses the route for the next attempt of a call.
 *
 * Routes are considered in priority order (lowest value first; among
 * equal priorities, in the order they were added). A route is skipped if
 * it is not in service (ejected and its hold-down has not ended) or if
 * this attempt has already tried it. The chosen route is recorded in the
 * attempt.
 *
 * @param[in]     router  The router.
 * @param[in,out] attempt The call's attempt context, or NULL for a
 *                        one-off pick that remembers nothing.
 * @param[out]    out     The chosen route; FO_ROUTE_ID_NONE on failure.
 * @return FO_OK.
 * @retval FO_EINVAL   router or out is NULL, or attempt is corrupt or
 *                     belongs to another router.
 * @retval FO_ENOROUTE no route is eligible and untried.
 * @retval FO_ELIMIT   the attempt has tried options.max_attempts routes.
 * @retval FO_EBUSY    called from inside this router's clock or allocator
 *                     callback.
 * @since 0.1
 * Thread safety: MT-Safe. The attempt must not be used by two threads at
 * once.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_pick_route(fo_router *router, fo_attempt *attempt,
                         fo_route_id *out);

FO_END_DECLS

#endif /* FAILOVER_ATTEMPT_H */
