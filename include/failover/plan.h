/*
 * libfailover: selection policies and plans.
 *
 * Every router has a default list: all its routes, each with the priority,
 * weight and cost given to fo_route_add(), chosen by the router's policy.
 * A plan is a destination-specific list (one per dialled prefix for
 * least-cost routing, one per campaign, ...) that references some of the
 * same routes with its own priority, weight and cost and its own policy.
 * Health belongs to the route: when a carrier dies, every plan that uses it
 * fails over. A call uses a plan by starting its attempt with
 * fo_attempt_init_plan().
 */
#ifndef FAILOVER_PLAN_H
#define FAILOVER_PLAN_H

#include <failover/common.h>

FO_BEGIN_DECLS

/**
 * @brief How a list chooses among its eligible routes.
 */
typedef enum fo_policy {
    /** Lowest priority value first; routes of equal priority share by
     *  weight (smooth weighted round robin); the next priority is used only
     *  when no route of this one is eligible. */
    FO_POLICY_PRIORITY = 0,
    /** Smooth weighted round robin across all eligible routes. */
    FO_POLICY_WEIGHTED = 1,
    /** Lowest cost first, then lowest priority; routes equal in both share
     *  by weight. */
    FO_POLICY_LEAST_COST = 2
} fo_policy;

/**
 * @brief Handle of a plan inside one router. Never 0; never the id of a
 * route; a freed plan's id is never reused.
 */
typedef uint64_t fo_plan_id;

/** The value of an fo_plan_id that names no plan (the default list). */
#define FO_PLAN_ID_NONE ((fo_plan_id)0)

/** Most routes one plan can reference. */
#define FO_PLAN_ROUTES_MAX 65536u

/**
 * @brief Creates an empty plan.
 *
 * @param[in]  router The router.
 * @param[in]  name   Unique name among this router's plans, 1 to
 *                    FO_ROUTE_NAME_MAX bytes of UTF-8 without control
 *                    characters, as for routes. Copied.
 * @param[in]  policy How the plan chooses.
 * @param[out] out    The new plan's id; set only on success.
 * @return FO_OK.
 * @retval FO_EINVAL router, name or out is NULL, the name is not
 *                   acceptable, or policy is not an fo_policy.
 * @retval FO_EEXIST a plan with this name exists.
 * @retval FO_ELIMIT the router holds its maximum number of plans (65535).
 * @retval FO_ENOMEM allocation failed.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 */
FO_API int fo_plan_new(fo_router *router, const char *name, fo_policy policy,
                       fo_plan_id *out);

/**
 * @brief Frees a plan. Calls whose attempt uses it get FO_ENOENT from
 * their next pick.
 *
 * @param[in] router The router.
 * @param[in] plan   The plan.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_ENOENT plan is not a plan of this router.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 */
FO_API int fo_plan_free(fo_router *router, fo_plan_id plan);

/**
 * @brief Finds a plan by name.
 *
 * @param[in]  router The router.
 * @param[in]  name   The name.
 * @param[out] out    The plan's id; set only on success.
 * @return FO_OK.
 * @retval FO_EINVAL router, name or out is NULL.
 * @retval FO_ENOENT no plan has this name.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_plan_lookup(fo_router *router, const char *name, fo_plan_id *out);

/**
 * @brief Adds a route to a plan, or changes its values there.
 *
 * The route keeps one health, shared by the default list and every plan.
 * Removing the route from the router removes it from every plan.
 *
 * @param[in] router   The router.
 * @param[in] plan     The plan.
 * @param[in] route    The route.
 * @param[in] priority The route's priority in this plan.
 * @param[in] weight   Its weight in this plan, 0 to FO_WEIGHT_MAX; 0 makes
 *                     it a backup in this plan.
 * @param[in] cost     Its cost in this plan (e.g. the rate to this
 *                     prefix).
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_ENOENT plan or route does not exist in this router.
 * @retval FO_ERANGE weight is above FO_WEIGHT_MAX.
 * @retval FO_ELIMIT the plan holds FO_PLAN_ROUTES_MAX routes.
 * @retval FO_ENOMEM allocation failed.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 */
FO_API int fo_plan_set_route(fo_router *router, fo_plan_id plan,
                             fo_route_id route, uint32_t priority,
                             uint32_t weight, uint32_t cost);

/**
 * @brief Takes a route out of a plan (the route stays in the router).
 *
 * @param[in] router The router.
 * @param[in] plan   The plan.
 * @param[in] route  The route.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_ENOENT plan does not exist, or route is not in it.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_plan_unset_route(fo_router *router, fo_plan_id plan,
                               fo_route_id route);

/**
 * @brief Changes a plan's policy.
 *
 * @param[in] router The router.
 * @param[in] plan   The plan, or FO_PLAN_ID_NONE for the router's default
 *                   list.
 * @param[in] policy The policy.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL or policy is not an fo_policy.
 * @retval FO_ENOENT plan does not exist.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_plan_set_policy(fo_router *router, fo_plan_id plan,
                              fo_policy policy);

/**
 * @brief The name of a policy, e.g. "LEAST_COST".
 *
 * @param[in] policy Any value; unknown values give "UNKNOWN".
 * @return A static string; never NULL.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API const char *fo_policy_name(fo_policy policy);

FO_END_DECLS

#endif /* FAILOVER_PLAN_H */
