/*
 * libfailover: routes.
 *
 * A route is one destination a call can be sent through: a SIP carrier, a
 * trunk, a gateway or a server. Each has a priority (lower is preferred),
 * a weight (its share among routes of equal priority; 0 = backup only)
 * and a cost (for least-cost routing), and a health state that the router
 * derives from the results reported for it.
 */
#ifndef FAILOVER_ROUTE_H
#define FAILOVER_ROUTE_H

#include <failover/common.h>

FO_BEGIN_DECLS

/** Longest route name in bytes, not counting the terminating NUL. */
#define FO_ROUTE_NAME_MAX 63u
/** Largest route weight. */
#define FO_WEIGHT_MAX 1000000u

/**
 * @brief The health state of a route.
 *
 * Values are pinned; new states are appended.
 */
typedef enum fo_route_state {
    /** In service: eligible for picks. */
    FO_STATE_UP = 0,
    /** Taken out by its failures until its hold-down ends. */
    FO_STATE_EJECTED = 1
} fo_route_state;

/**
 * @brief Adds a route.
 *
 * @param[in]  router   The router.
 * @param[in]  name     Unique name for logs and lookup: 1 to
 *                      FO_ROUTE_NAME_MAX bytes, no control characters.
 *                      Copied.
 * @param[in]  priority Lower values are tried first.
 * @param[in]  weight   Share among routes of equal priority, 0 to
 *                      FO_WEIGHT_MAX; 0 marks a backup-only route.
 * @param[in]  cost     Cost of a call on this route, in the embedder's
 *                      unit (e.g. 1/10000 cent per minute).
 * @param[out] out      The new route's id; set only on success.
 * @return FO_OK. The route starts in FO_STATE_UP.
 * @retval FO_EINVAL router, name or out is NULL, or name is empty, too
 *                   long or contains control characters.
 * @retval FO_ERANGE weight is above FO_WEIGHT_MAX.
 * @retval FO_EEXIST a route with this name exists.
 * @retval FO_ELIMIT the router holds its maximum number of routes.
 * @retval FO_ENOMEM allocation failed.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 */
FO_API int fo_route_add(fo_router *router, const char *name, uint32_t priority,
                        uint32_t weight, uint32_t cost, fo_route_id *out);

/**
 * @brief Changes a route's priority, weight and cost.
 *
 * Its health, counters and name are kept. Picks that start after this call
 * returns see the new values.
 *
 * @param[in] router   The router.
 * @param[in] route    The route.
 * @param[in] priority New priority.
 * @param[in] weight   New weight, 0 to FO_WEIGHT_MAX.
 * @param[in] cost     New cost.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_ENOENT route is not a route of this router (unknown or
 *                   removed).
 * @retval FO_ERANGE weight is above FO_WEIGHT_MAX.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_update(fo_router *router, fo_route_id route,
                           uint32_t priority, uint32_t weight, uint32_t cost);

/**
 * @brief Removes a route.
 *
 * Once this returns, no pick returns the route and its id is dead: every
 * call given it returns FO_ENOENT, and no later route gets the same id.
 *
 * @param[in] router The router.
 * @param[in] route  The route.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_ENOENT route is not a route of this router.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 */
FO_API int fo_route_remove(fo_router *router, fo_route_id route);

/**
 * @brief Finds a route by name.
 *
 * @param[in]  router The router.
 * @param[in]  name   The name, compared byte for byte.
 * @param[out] out    The route's id; set only on success.
 * @return FO_OK.
 * @retval FO_EINVAL router, name or out is NULL.
 * @retval FO_ENOENT no route has this name.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_lookup(fo_router *router, const char *name,
                           fo_route_id *out);

/**
 * @brief Copies a route's name into buf.
 *
 * @param[in]  router The router.
 * @param[in]  route  The route.
 * @param[out] buf    Receives the NUL-terminated name.
 * @param[in]  size   Size of buf; FO_ROUTE_NAME_MAX + 1 always suffices.
 * @return FO_OK.
 * @retval FO_EINVAL router or buf is NULL, or size is 0.
 * @retval FO_ENOENT route is not a route of this router.
 * @retval FO_ERANGE buf is too small; it holds the truncated,
 *                   NUL-terminated name.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_get_name(fo_router *router, fo_route_id route, char *buf,
                             size_t size);

/**
 * @brief Reads a route's current health state.
 *
 * A hold-down that has ended by the router's clock is applied first, so
 * the state is the one a pick would see now.
 *
 * @param[in]  router The router.
 * @param[in]  route  The route.
 * @param[out] out    The state.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL.
 * @retval FO_ENOENT route is not a route of this router.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_get_state(fo_router *router, fo_route_id route,
                              fo_route_state *out);

/**
 * @brief The name of a route state, e.g. "UP".
 *
 * @param[in] state Any value; unknown values give "UNKNOWN".
 * @return A static string; never NULL.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API const char *fo_route_state_name(fo_route_state state);

FO_END_DECLS

#endif /* FAILOVER_ROUTE_H */
