/*
 * libfailover: active probes (keepalives) and driving the router's timers.
 *
 * Real calls only tell about routes that carry traffic; probes (a SIP
 * OPTIONS keepalive, a TCP connect, an HTTP check) tell about backups,
 * idle routes and recovery. The library schedules probes and decides what
 * their results mean; the embedder sends them. A probe never blocks: the
 * callback starts it and returns, and the embedder reports the outcome
 * later, from any thread, with fo_probe_done().
 *
 * Time-driven work (due probes, probe timeouts, hold-downs, trials,
 * drills) is done by fo_router_tick(). Call it from your event loop when
 * fo_router_next_deadline() is due, or let the router run a thread of its
 * own (fo_router_start_thread()).
 */
#ifndef FAILOVER_PROBE_H
#define FAILOVER_PROBE_H

#include <failover/common.h>
#include <failover/result.h>

FO_BEGIN_DECLS

/** Identifies one probe in flight; pass it to fo_probe_done(). */
typedef uint64_t fo_probe_token;

/**
 * @brief Starts one probe of a route. Must return at once.
 *
 * Called by fo_router_tick() (on the thread that ticks, or the router's
 * own thread), never with an internal lock held: it may call any
 * libfailover function, including fo_probe_done() with this token for a
 * probe that completes at once, except fo_router_tick() and
 * fo_router_free() (FO_EBUSY). At most one probe per route is in flight.
 *
 * @param[in] router   The router.
 * @param[in] route    The route to probe.
 * @param[in] token    Identifies this probe for fo_probe_done().
 * @param[in] userdata As registered with fo_set_probe().
 */
typedef void (*fo_probe_cb)(fo_router *router, fo_route_id route,
                            fo_probe_token token, void *userdata);

/**
 * @brief Releases userdata registered with a callback; called exactly once,
 * when the registration ends (replaced, removed, route removed, router
 * freed), and never while the callback runs.
 */
typedef void (*fo_destroy_cb)(void *userdata);

/**
 * @brief How much a probe's answer says about a route.
 */
typedef enum fo_probe_evidence {
    /** A probe answer is weaker than a connected call (the default): a
     *  route that answers OPTIONS can still fail calls. Probes undo what
     *  probes showed (a route ejected by failed probes returns after rise
     *  answers) and end early a hold-down caused by unreachability
     *  (timeouts, unavailability, a lost keepalive), after which real
     *  calls must pass the trial. They never re-admit a route ejected for
     *  failing calls (congestion, rejections, failure or slow-call rate). */
    FO_PROBE_WEAK = 0,
    /** A probe answer counts as a successful call: rise answers end any
     *  timed hold-down (not a Retry-After or a lost registration), and
     *  each answer counts toward the trial. For peers whose keepalive
     *  really exercises the call path. */
    FO_PROBE_STRONG = 1
} fo_probe_evidence;

/** Default time between probes of a route in service: 10 s. */
#define FO_DEFAULT_PROBE_INTERVAL_NS (10ull * FO_SECOND_NS)
/** Default time a probe may take: 2 s. */
#define FO_DEFAULT_PROBE_TIMEOUT_NS (2ull * FO_SECOND_NS)
/** Default time between probes while the route is out or in trial: 5 s. */
#define FO_DEFAULT_PROBE_DOWN_INTERVAL_NS (5ull * FO_SECOND_NS)
/** Default answers in a row that bring a route back. */
#define FO_DEFAULT_PROBE_RISE 2u
/** Default failures in a row that take a route out. */
#define FO_DEFAULT_PROBE_FALL 3u
/** Default spread of probe times, in percent of the interval. */
#define FO_DEFAULT_PROBE_JITTER_PCT 10u

/** fo_probe_options.flags: probe exactly on the interval, no spread. */
#define FO_PROBE_NO_JITTER 0x1u

/**
 * @brief Options of a probe, for fo_set_probe().
 *
 * Size-versioned: initialise with FO_PROBE_OPTIONS_INIT(); zero fields take
 * the defaults above.
 */
typedef struct fo_probe_options {
    size_t size;               /**< sizeof(fo_probe_options). */
    fo_destroy_cb destroy;     /**< Optional: releases userdata. */
    uint64_t interval_ns;      /**< Between probes while in service, from
                                    one probe's start to the next. */
    uint64_t timeout_ns;       /**< A probe not done by then failed. */
    uint64_t down_interval_ns; /**< Between probes while out or in trial. */
    uint32_t rise;             /**< Answers in a row that bring it back. */
    uint32_t fall;             /**< Failures in a row that take it out. */
    uint32_t jitter_pct;       /**< Each wait grows by a random 0 to this
                                    percent; the first probe starts within
                                    it (seeded by options.seed). */
    uint32_t flags;            /**< FO_PROBE_NO_JITTER. */
    uint32_t evidence;         /**< An fo_probe_evidence. */
    uint32_t reserved;         /**< Must be 0. */
} fo_probe_options;

/**
 * @brief Fills opts with defaults for a struct of the given size.
 *
 * @param[out] opts The options.
 * @param[in]  size sizeof(*opts) in the caller's build.
 * @return FO_OK.
 * @retval FO_EINVAL opts is NULL or size is smaller than the first
 *                   version of the struct.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API int fo_probe_options_init(fo_probe_options *opts, size_t size);

/** Initializes *opts for the size the caller was compiled with. */
#define FO_PROBE_OPTIONS_INIT(opts)                                            \
    fo_probe_options_init((opts), sizeof *(opts))

/**
 * @brief Sets, replaces or removes a route's probe.
 *
 * Safe at any time, also while a probe of the route is in flight (its
 * completion is then ignored) and from inside a probe callback. The
 * previous registration's destroy callback runs exactly once (after the
 * previous callback returns, if it is running). The first probe starts
 * within the jitter of now.
 *
 * @param[in] router   The router.
 * @param[in] route    The route.
 * @param[in] cb       Starts a probe; NULL removes the route's probe.
 * @param[in] userdata Passed to cb and to opts->destroy.
 * @param[in] opts     Options, or NULL for the defaults. Copied.
 * @return FO_OK.
 * @retval FO_EINVAL   router is NULL, opts->size is too small, or a field
 *                     is not acceptable (evidence, flags, reserved).
 * @retval FO_EVERSION opts sets fields this library does not know.
 * @retval FO_ERANGE   a duration, rise, fall or jitter is out of range.
 * @retval FO_ENOENT   route is not a route of this router.
 * @retval FO_ENOMEM   allocation failed.
 * @retval FO_EBUSY    called from inside this router's clock or allocator
 *                     callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 */
FO_API int fo_set_probe(fo_router *router, fo_route_id route, fo_probe_cb cb,
                        void *userdata, const fo_probe_options *opts);

/**
 * @brief Reports the outcome of a probe.
 *
 * A success, or a callee-side result (any answer from the peer), means the
 * route answers; a route fault means it failed; FO_RESULT_CANCELLED means
 * the probe was abandoned and says nothing.
 *
 * @param[in] router The router.
 * @param[in] token  The token given to the probe callback.
 * @param[in] result The outcome.
 * @return FO_OK: the outcome was taken.
 * @retval FO_EINVAL   router is NULL or result is not a valid fo_result.
 * @retval FO_EALREADY the probe was already concluded (late after its
 *                     timeout, reported twice, or its probe replaced):
 *                     ignored, and counted.
 * @retval FO_ENOENT   no such probe: its route was removed, or the token is
 *                     not one of this router's. Ignored, and counted.
 * @retval FO_EBUSY    called from inside this router's clock or allocator
 *                     callback.
 * @since 0.1
 * Thread safety: MT-Safe: from any thread.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_probe_done(fo_router *router, fo_probe_token token,
                         fo_result result);

/**
 * @brief When fo_router_tick() next has work, on the router's clock.
 *
 * @param[in]  router The router.
 * @param[out] out    The instant in ns; UINT64_MAX if nothing is scheduled.
 *                    May be in the past: tick now.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_router_next_deadline(fo_router *router, uint64_t *out);

/**
 * @brief fo_router_next_deadline() as a poll()/epoll_wait() timeout.
 *
 * @param[in]  router The router.
 * @param[out] out    Milliseconds until the deadline, rounded up (so the
 *                    loop never wakes too early and spins), at most
 *                    INT32_MAX; 0 if due; -1 if nothing is scheduled.
 * @return FO_OK.
 * @retval FO_EINVAL router or out is NULL.
 * @retval FO_EBUSY  called from inside this router's clock or allocator
 *                   callback.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes, except from the router's clock or allocator.
 * Allocation: none.
 */
FO_API int fo_router_next_timeout_ms(fo_router *router, int *out);

/**
 * @brief Does the router's time-driven work that is due, and returns.
 *
 * Starts due probes (calling their callbacks), fails probes past their
 * timeout, and applies ended hold-downs, trials, drills and suppressions.
 * Never blocks and never sleeps.
 *
 * @param[in] router The router.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_EBUSY  called from inside one of this router's callbacks, or
 *                   while another thread (e.g. the router's own) is ticking.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: no (returns FO_EBUSY).
 */
FO_API int fo_router_tick(fo_router *router);

/**
 * @brief Starts a thread, owned by the router, that ticks it on time.
 *
 * The thread sleeps until the next deadline and wakes early when
 * something changes; probe callbacks then run on it. With a clock of your
 * own (fo_router_options.clock), it looks at the clock at least every
 * 100 ms, since it cannot sleep on your clock.
 *
 * @param[in] router The router.
 * @return FO_OK.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_EBUSY  the thread already runs, or called from inside a
 *                   callback of this router.
 * @retval FO_ESYS   the thread could not be created.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: no (returns FO_EBUSY).
 */
FO_API int fo_router_start_thread(fo_router *router);

/**
 * @brief Stops the router's thread and waits for it to end.
 *
 * Prompt: the thread is woken, finishes any callback it is running and
 * exits. fo_router_free() also stops it.
 *
 * @param[in] router The router.
 * @return FO_OK, also if no thread runs.
 * @retval FO_EINVAL router is NULL.
 * @retval FO_EBUSY  called from inside a callback of this router (the
 *                   thread cannot wait for itself).
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: no (returns FO_EBUSY).
 */
FO_API int fo_router_stop_thread(fo_router *router);

FO_END_DECLS

#endif /* FAILOVER_PROBE_H */
