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
#include <failover/plan.h>

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
 * @brief Starts a fresh attempt that picks from a plan instead of the
 * router's default list.
 *
 * @param[out] attempt The attempt.
 * @param[in]  plan    The plan, or FO_PLAN_ID_NONE for the default list.
 *                     Checked at each pick.
 * @return FO_OK.
 * @retval FO_EINVAL attempt is NULL.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 * Allocation: none.
 */
FO_API int fo_attempt_init_plan(fo_attempt *attempt, fo_plan_id plan);

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

/* Flags of a pick (fo_pick.flags). */
/** No route was eligible: this is the least-bad one (panic policy). */
#define FO_PICK_PANIC 0x01u
/** A trial attempt of a recovering route: report its result. */
#define FO_PICK_TRIAL 0x02u
/** A backup-only route (weight 0): nothing else was eligible. */
#define FO_PICK_BACKUP 0x04u
/** The route is ramping up after recovering (slow start). */
#define FO_PICK_SLOW_START 0x08u
/** The route is failing but a guard keeps it in service, and no healthy
 *  route was left. */
#define FO_PICK_GUARDED 0x10u
/** Every route is failing at once: the router suspects a local fault
 *  (uplink, DNS, a bad number block) and keeps them in service. */
#define FO_PICK_LOCAL_FAULT 0x20u

/**
 * @brief Why a pick passed over a route (fo_skip.reason).
 */
typedef enum fo_skip_reason {
    FO_SKIP_TRIED = 1,      /**< this call already tried it */
    FO_SKIP_EJECTED = 2,    /**< ejected; until_ns = end of hold-down, or 0
                                 while held by a lost registration */
    FO_SKIP_SUPPRESSED = 3, /**< flap damping; penalty, until_ns = reuse */
    FO_SKIP_DISABLED = 4,   /**< the operator disabled it */
    FO_SKIP_DRAINING = 5,   /**< the operator is draining it */
    FO_SKIP_DRILL = 6,      /**< in a drill; until_ns = its end */
    FO_SKIP_TRIAL_FULL = 7, /**< in trial, all trial slots busy; until_ns =
                                 when the oldest expires */
    FO_SKIP_BACKUP = 8,     /**< backup only, and not needed */
    FO_SKIP_SLOW_START = 9, /**< ramping up: its share went elsewhere */
    FO_SKIP_GUARDED = 10    /**< failing, kept in service by a guard: used
                                 only when no healthy route is left */
} fo_skip_reason;

/**
 * @brief One route a pick passed over, and why.
 */
typedef struct fo_skip {
    fo_route_id route;     /**< The route. */
    fo_skip_reason reason; /**< Why. */
    uint32_t penalty;      /**< Flap-damping penalty now, rounded. */
    uint64_t until_ns;     /**< When the reason ends, on the router's clock;
                                0 if it has no set end. */
} fo_skip;

/**
 * @brief The result of fo_pick_route_ex(), with an optional explanation.
 *
 * Size-versioned: initialise with FO_PICK_INIT (or zero it and set size).
 * To have the pick explain itself, point skipped at an array and set
 * skipped_capacity; the library fills it and never allocates.
 */
typedef struct fo_pick {
    size_t size;               /**< sizeof(fo_pick) as the caller knows it. */
    fo_skip *skipped;          /**< In: array for explanations, or NULL. */
    uint32_t skipped_capacity; /**< In: entries in skipped. */
    uint32_t skipped_count;    /**< Out: routes passed over (may exceed
                                    capacity; the array holds the first). */
    fo_route_id route;         /**< Out: the route; FO_ROUTE_ID_NONE on
                                    failure. */
    uint32_t flags;            /**< Out: FO_PICK_* bits. */
    uint32_t reserved;         /**< Must be 0. */
} fo_pick;

/** Initializer for an fo_pick without explanation. */
#define FO_PICK_INIT                                                           \
    {                                                                          \
        sizeof(fo_pick), NULL, 0, 0, FO_ROUTE_ID_NONE, 0, 0                    \
    }

/**
 * @brief Chooses the route for the next attempt of a call.
 *
 * The call's list (the attempt's plan, or the router's default list) is
 * walked by its policy (see fo_policy), skipping routes that are out of
 * service and routes this attempt has already tried; a route in trial is
 * taken while it has a free trial slot. When no ordinary route is left the
 * pick falls back, in this order, to a ramping route, a backup-only route
 * (weight 0), a failing route kept in service by a guard, and finally,
 * with the default best-effort panic policy, the least-bad route: one in
 * trial, then the one whose hold-down or suppression ends soonest. The
 * chosen route is recorded in the attempt.
 *
 * @param[in]     router  The router.
 * @param[in,out] attempt The call's attempt context, or NULL for a
 *                        one-off pick from the default list that
 *                        remembers nothing.
 * @param[out]    out     The chosen route; FO_ROUTE_ID_NONE on failure.
 * @return FO_OK.
 * @retval FO_EINVAL   router or out is NULL, or attempt is corrupt or
 *                     belongs to another router.
 * @retval FO_ENOENT   the attempt's plan does not exist (any more).
 * @retval FO_ENOROUTE no route is left untried (with the fail panic
 *                     policy: no route is eligible).
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

/**
 * @brief fo_pick_route() that also says how it chose, and optionally why
 * it passed over each route it skipped.
 *
 * @param[in]     router  The router.
 * @param[in,out] attempt The call's attempt context, or NULL.
 * @param[in,out] pick    In: size and the optional explanation array.
 *                        Out: route, flags, skipped_count and the array.
 * @return As fo_pick_route().
 * @retval FO_EINVAL   as fo_pick_route(), or pick is NULL, pick->size is
 *                     too small, reserved is not 0, or skipped is NULL with
 *                     a capacity.
 * @retval FO_EVERSION pick sets fields this library does not know.
 * @retval FO_ENOENT   the attempt's plan does not exist (any more).
 * @retval FO_ENOROUTE no route is left (see fo_pick_route()).
 * @retval FO_ELIMIT   the attempt has tried options.max_attempts routes.
 * @retval FO_EBUSY    called from inside this router's clock or allocator
 *                     callback.
 * @since 0.1
 * Thread safety: MT-Safe. The attempt must not be used by two threads at
 * once.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_pick_route_ex(fo_router *router, fo_attempt *attempt,
                            fo_pick *pick);

FO_END_DECLS

#endif /* FAILOVER_ATTEMPT_H */
