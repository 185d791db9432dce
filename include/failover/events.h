/*
 * libfailover: events and logging.
 *
 * An event callback receives every change of a route's state (with the
 * reason, its explanation and the numbers behind it) and router-level
 * events: panic picks, guards keeping a route in service, suspected local
 * faults. The library never prints; a log callback receives the same
 * events as readable lines, filtered by level.
 *
 * Ordering: events are delivered in the order they happened, router-wide
 * (so in order per route), one at a time, never concurrently, and never
 * with an internal lock held. Route events of one route therefore arrive
 * in the order of its changes, and a STATE event's old_state is the
 * new_state of that route's previous STATE event.
 *
 * Who delivers: when a call has queued events, it delivers the events
 * queued before it returns, unless another thread is delivering at that
 * moment, in which case that thread delivers them, after the ones before
 * them, and the call returns at once: a call may return before its own
 * events are delivered. A thread delivers at most what was queued when it
 * began; what other threads queue meanwhile goes to the router's own
 * thread when it runs (fo_router_start_thread()), so no call on the call
 * path is held up for long by the callbacks of others. Without that
 * thread, the delivering thread delivers those too.
 *
 * A callback may call back into the library (except fo_router_free(),
 * fo_router_start_thread(), fo_router_stop_thread() and fo_router_tick(),
 * which return FO_EBUSY); events those calls cause are delivered after the
 * current one returns.
 *
 * Events are queued only while a callback is set (with only a log
 * callback, only events at its level or more important), up to
 * FO_EVENT_QUEUE_MAX waiting; the queue, about 300 KiB, is allocated when
 * a callback is first set, so the calls that queue events never allocate.
 * Past that, events are counted and one FO_EVENT_DROPPED event, in their
 * place in the order, says how many were lost. seq counts the events
 * queued: a log callback alone sees no gaps; removing every callback
 * discards what is queued, unsaid.
 */
#ifndef FAILOVER_EVENTS_H
#define FAILOVER_EVENTS_H

#include <failover/common.h>
#include <failover/health.h>
#include <failover/plan.h>
#include <failover/route.h>

FO_BEGIN_DECLS

/**
 * @brief What an event is about. Values are pinned; new kinds appended.
 */
typedef enum fo_event_kind {
    /** A route changed state: old_state -> new_state, with the reason and
     *  its explanation. */
    FO_EVENT_STATE = 1,
    /** A route kept its state but the explanation changed: a hold-down
     *  lengthened by Retry-After, a registration lost while out, an
     *  operator's change that leaves the state as it was. */
    FO_EVENT_UPDATE = 2,
    /** A guard kept a failing route in service, or in trial (reason
     *  FO_REASON_EJECTION_GUARD or FO_REASON_LOCAL_FAULT; sent again,
     *  with the latest numbers, each time the guard is looked at anew and
     *  still holds), or no longer keeps it (FO_REASON_GUARD_ENDED: it
     *  works again, the local fault is over, or the guard's time ran out
     *  and its next fault asks again). */
    FO_EVENT_GUARD = 3,
    /** No route of a list (the default list or a plan) can be picked,
     *  whatever a call has tried: picks take the least-bad one
     *  (best-effort panic policy) or fail (fail policy). Sent by the first
     *  pick that finds so; route is the least-bad route, if taken. */
    FO_EVENT_PANIC_STARTED = 4,
    /** The first pick of that list to find a route it can pick again;
     *  count is the picks made in panic. */
    FO_EVENT_PANIC_ENDED = 5,
    /** Every route in service is failing at once: a local fault is
     *  suspected (our uplink, DNS, a bad number block). The local-fault
     *  guard keeps the failing routes in service and brings back those
     *  its first faults took out. */
    FO_EVENT_LOCAL_FAULT = 6,
    /** The suspected local fault is over: a route works again (route
     *  set), or no sign of it for the local-fault window (no route).
     *  Faults during it no longer count against the routes. */
    FO_EVENT_LOCAL_FAULT_ENDED = 7,
    /** A route was added (reason FO_REASON_ADDED). */
    FO_EVENT_ROUTE_ADDED = 8,
    /** A route was removed. */
    FO_EVENT_ROUTE_REMOVED = 9,
    /** The event queue was full: count events were lost here. */
    FO_EVENT_DROPPED = 10
} fo_event_kind;

/**
 * @brief One event. Valid only during the callback; copy what you keep.
 *
 * Fields that do not apply to a kind are 0 (strings: "").
 */
typedef struct fo_event {
    size_t size;              /**< sizeof(fo_event) in the library. */
    fo_event_kind kind;       /**< What happened. */
    fo_reason reason;         /**< Why (route events). */
    uint64_t seq;             /**< 1, 2, 3, ...: router-wide order. */
    uint64_t time_ns;         /**< When, on the router's clock. */
    fo_route_id route;        /**< The route, or FO_ROUTE_ID_NONE. */
    const char *route_name;   /**< Its name, or "". */
    fo_plan_id plan;          /**< FO_EVENT_PANIC_*: the list's plan, or
                                   FO_PLAN_ID_NONE for the default list. */
    fo_route_state old_state; /**< Before (FO_EVENT_STATE); else the
                                   route's state, as new_state. Only
                                   meaningful with a route. */
    fo_route_state new_state; /**< After (with a route). */
    const char *text;         /**< The explanation, e.g. "3 consecutive
                                   route faults (last TIMEOUT)"; never
                                   NULL. */
    /* The numbers behind it, as they were at the time. */
    uint32_t consecutive_faults; /**< Route faults in a row. */
    uint32_t penalty;            /**< Flap-damping penalty, rounded. */
    uint64_t window_attempts;    /**< Attempts in the failure window. */
    uint64_t window_faults;      /**< Route faults among them. */
    uint64_t hold_down_ns;       /**< Length of the hold-down, if out. */
    uint64_t until_ns;           /**< When the route is due back (hold-down end,
                                      suppression's reuse, drill end) on the
                                      router's clock; 0 if not out or waiting for a
                                      signal. */
    uint64_t count;              /**< FO_EVENT_DROPPED: events lost;
                                      FO_EVENT_PANIC_ENDED: picks made in panic. */
} fo_event;

/**
 * @brief Receives events. See the ordering guarantee above.
 *
 * @param[in] router   The router.
 * @param[in] event    The event; valid only during the call.
 * @param[in] userdata As registered.
 */
typedef void (*fo_event_cb)(fo_router *router, const fo_event *event,
                            void *userdata);

/** Most events waiting for delivery; more are counted as dropped. */
#define FO_EVENT_QUEUE_MAX 1024u

/**
 * @brief Sets (or, with NULL, removes) the router's event callback.
 *
 * When it returns, the previous callback is not running and will not run
 * again (unless called from inside it, where the change applies from the
 * next event on). Events are queued only while a callback (event or log)
 * is set.
 *
 * @param[in] router   The router.
 * @param[in] cb       The callback, or NULL.
 * @param[in] userdata Passed to cb; owned by the caller.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_ENOMEM the event queue could not be allocated.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 */
FO_API int fo_router_set_event_cb(fo_router *router, fo_event_cb cb,
                                  void *userdata);

/**
 * @brief Log levels.
 */
typedef enum fo_log_level {
    FO_LOG_ERROR = 1,   /**< Events were lost. */
    FO_LOG_WARNING = 2, /**< Routes out of service, guards, panic, local
                             faults. */
    FO_LOG_INFO = 3,    /**< Routes back in service, operators' changes. */
    FO_LOG_DEBUG = 4    /**< Everything else. */
} fo_log_level;

/**
 * @brief Receives one log line (no trailing newline).
 *
 * @param[in] router   The router.
 * @param[in] level    Its level.
 * @param[in] message  The line, e.g. "carrier-a: UP -> EJECTED
 *                     (CONSECUTIVE_FAULTS): 3 consecutive route faults
 *                     (last TIMEOUT); out for 15 s"; valid only during the
 *                     call.
 * @param[in] event    The event it renders: its time_ns is when it
 *                     happened (delivery may come later, on another
 *                     thread); valid only during the call.
 * @param[in] userdata As registered.
 */
typedef void (*fo_log_cb)(fo_router *router, fo_log_level level,
                          const char *message, const fo_event *event,
                          void *userdata);

/**
 * @brief Sets (or, with NULL, removes) the router's log callback.
 *
 * Same delivery rules as events. The library never prints by itself.
 *
 * @param[in] router   The router.
 * @param[in] level    The most detailed level wanted (e.g. FO_LOG_INFO
 *                     gives ERROR, WARNING and INFO).
 * @param[in] cb       The callback, or NULL.
 * @param[in] userdata Passed to cb; owned by the caller.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL or level is not an fo_log_level.
 * @retval FO_ENOMEM the event queue could not be allocated.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 */
FO_API int fo_router_set_log_cb(fo_router *router, fo_log_level level,
                                fo_log_cb cb, void *userdata);

/**
 * @brief The name of an event kind, e.g. "STATE".
 *
 * @param[in] kind Any value; unknown values give "UNKNOWN".
 * @return A static string; never NULL.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API const char *fo_event_kind_name(fo_event_kind kind);

/**
 * @brief The name of a log level, e.g. "WARNING".
 *
 * @param[in] level Any value; unknown values give "UNKNOWN".
 * @return A static string; never NULL.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API const char *fo_log_level_name(fo_log_level level);

FO_END_DECLS

#endif /* FAILOVER_EVENTS_H */
