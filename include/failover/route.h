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
 * @brief The state of a route, as a pick sees it.
 *
 * The health states (UP, EJECTED, TRIAL) come from the results, probes and
 * signals the router receives. SUPPRESSED (flap damping) overlays them, and
 * the operator's states (DISABLED, DRAINING, DRILL) override everything:
 * while one of them holds, health is still tracked underneath and shows
 * again when it ends. Values are pinned; new states are appended.
 */
typedef enum fo_route_state {
    /** In service: eligible for picks. */
    FO_STATE_UP = 0,
    /** Taken out by its failures until its hold-down ends. */
    FO_STATE_EJECTED = 1,
    /** Half-open: a bounded number of trial attempts decide whether it
     *  returns to UP or is ejected again with a longer hold-down. */
    FO_STATE_TRIAL = 2,
    /** Flap damping: kept out while its penalty decays. */
    FO_STATE_SUPPRESSED = 3,
    /** Taken out by the operator until enabled again. */
    FO_STATE_DISABLED = 4,
    /** Taking no new calls on the operator's request; calls in flight
     *  still report. */
    FO_STATE_DRAINING = 5,
    /** Taken out on purpose for a set time, to prove the backups carry
     *  the load; returns by itself. */
    FO_STATE_DRILL = 6
} fo_route_state;

/**
 * @brief The operator's setting for a route (see fo_route_set_admin()).
 */
typedef enum fo_admin {
    /** Normal: health decides. */
    FO_ADMIN_ENABLED = 0,
    /** No new calls; in-flight calls may finish and report. */
    FO_ADMIN_DRAINING = 1,
    /** Out of service. */
    FO_ADMIN_DISABLED = 2
} fo_admin;

/**
 * @brief Adds a route.
 *
 * @param[in]  router   The router.
 * @param[in]  name     Unique name for logs, metrics and lookup: 1 to
 *                      FO_ROUTE_NAME_MAX bytes of UTF-8 (ASCII is UTF-8)
 *                      without control characters (C0, DEL, C1), so it
 *                      goes into logs, terminals and Prometheus labels
 *                      as it is. Copied.
 * @param[in]  priority Lower values are tried first.
 * @param[in]  weight   Share among routes of equal priority, 0 to
 *                      FO_WEIGHT_MAX; 0 marks a backup-only route.
 * @param[in]  cost     Cost of a call on this route, in the embedder's
 *                      unit (e.g. 1/10000 cent per minute).
 * @param[out] out      The new route's id; set only on success.
 * @return FO_OK. The route starts in FO_STATE_UP.
 * @retval FO_EINVAL router, name or out is NULL, or name is empty, too
 *                   long, not UTF-8 or contains control characters.
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
 * @brief Sets the operator's state of a route.
 *
 * DISABLED and DRAINING take the route out of selection until it is
 * ENABLED again; its health keeps being tracked meanwhile. These states
 * are never limited by the library's own guards.
 *
 * @param[in] router The router.
 * @param[in] route  The route.
 * @param[in] admin  The new setting.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL or admin is not an fo_admin value.
 * @retval FO_ENOENT route is not a route of this router.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_set_admin(fo_router *router, fo_route_id route,
                              fo_admin admin);

/**
 * @brief Takes a route out on purpose for a while: a failover drill.
 *
 * Operators use a drill to test in daylight that the backups pick up the
 * load. The route is in FO_STATE_DRILL until duration_ns has passed on the
 * router's clock, then returns by itself to whatever its health is.
 * Calling again replaces the end time; a duration of 0 ends the drill now.
 *
 * @param[in] router      The router.
 * @param[in] route       The route.
 * @param[in] duration_ns How long, at most one day; 0 ends a drill.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_ENOENT route is not a route of this router.
 * @retval FO_ERANGE duration_ns is longer than one day.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_route_drill(fo_router *router, fo_route_id route,
                          uint64_t duration_ns);

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
