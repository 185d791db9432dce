/*
 * libfailover: the router and its options.
 */
#ifndef FAILOVER_ROUTER_H
#define FAILOVER_ROUTER_H

#include <failover/alloc.h>
#include <failover/clock.h>
#include <failover/common.h>

FO_BEGIN_DECLS

/** Default hold-down after an ejection: 30 s. */
#define FO_DEFAULT_HOLD_DOWN_NS (30ull * 1000000000ull)
/** Largest accepted hold-down: 7 days. */
#define FO_MAX_HOLD_DOWN_NS (7ull * 24 * 3600 * 1000000000ull)
/** Default number of route faults in a row that eject a route. */
#define FO_DEFAULT_CONSECUTIVE_FAULTS 3u
/** Largest accepted consecutive_faults. */
#define FO_MAX_CONSECUTIVE_FAULTS 1000u
/** Default number of routes one call may try (see fo_attempt). */
#define FO_DEFAULT_MAX_ATTEMPTS 3u
/** Most routes one router can hold. */
#define FO_ROUTES_MAX (1u << 24)

/**
 * @brief Options for fo_router_new().
 *
 * Size-versioned: always initialize with fo_router_options_init() (or
 * FO_ROUTER_OPTIONS_INIT()), then set the fields you need. A field left at
 * zero takes the library default, so a program built against older
 * headers keeps working with a newer library. A program built against
 * newer headers that sets a field this library does not know gets
 * FO_EVERSION from fo_router_new() instead of having it ignored.
 *
 * Fields are only ever appended.
 */
typedef struct fo_router_options {
    /** sizeof(fo_router_options) as the caller knows it. */
    size_t size;
    /** Time source; NULL = CLOCK_MONOTONIC. Copied. */
    const fo_clock *clock;
    /** Memory allocator; NULL = malloc()/free(). Copied. */
    const fo_allocator *allocator;
    /**
     * How long an ejected route stays out before it is eligible again,
     * in ns; 0 = FO_DEFAULT_HOLD_DOWN_NS; at most FO_MAX_HOLD_DOWN_NS.
     */
    uint64_t hold_down_ns;
    /**
     * Route faults in a row that eject a route; 0 =
     * FO_DEFAULT_CONSECUTIVE_FAULTS; at most FO_MAX_CONSECUTIVE_FAULTS.
     */
    uint32_t consecutive_faults;
    /**
     * Routes one call may try (picks per fo_attempt); 0 =
     * FO_DEFAULT_MAX_ATTEMPTS; at most FO_ATTEMPT_MAX_ROUTES.
     */
    uint32_t max_attempts;
    /** Most routes this router accepts; 0 = FO_ROUTES_MAX. */
    uint32_t max_routes;
    /** Must be zero. */
    uint32_t reserved;
} fo_router_options;

/**
 * @brief Fills opts with defaults for a struct of the given size.
 *
 * Zeroes all size bytes (padding included) and sets opts->size.
 *
 * @param[out] opts The options to initialize.
 * @param[in]  size sizeof(*opts) in the caller's build.
 * @return FO_OK.
 * @retval FO_EINVAL opts is NULL or size is smaller than the first
 *                   version of the struct.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API int fo_router_options_init(fo_router_options *opts, size_t size);

/** Initializes *opts for the size the caller was compiled with. */
#define FO_ROUTER_OPTIONS_INIT(opts)                                           \
    fo_router_options_init((opts), sizeof *(opts))

/**
 * @brief Creates a router.
 *
 * @param[out] out  The new router; set only on success. Free it with
 *                  fo_router_free().
 * @param[in]  opts Options, or NULL for all defaults. Copied; the caller
 *                  keeps ownership.
 * @return FO_OK.
 * @retval FO_EINVAL   out is NULL; opts->size is too small; a clock or
 *                     allocator table lacks a required callback.
 * @retval FO_EVERSION opts (or a table it points to) sets fields this
 *                     library does not know.
 * @retval FO_ERANGE   a field is outside its documented range.
 * @retval FO_ENOMEM   allocation failed.
 * @retval FO_ESYS     a pthread primitive could not be created.
 * @since 0.1
 * Thread safety: MT-Safe (each call creates an independent router).
 * Callback-safe: yes.
 */
FO_API int fo_router_new(fo_router **out, const fo_router_options *opts);

/**
 * @brief Destroys a router and everything it owns.
 *
 * No other call on this router may run concurrently or afterwards.
 *
 * @param[in] router The router; NULL is a no-op returning FO_OK.
 * @return FO_OK.
 * @retval FO_EBUSY called from inside one of this router's callbacks;
 *                  nothing was freed.
 * @since 0.1
 * Thread safety: MT-Unsafe (create/free): must not race with any other
 * call on this router.
 * Callback-safe: no (returns FO_EBUSY).
 */
FO_API int fo_router_free(fo_router *router);

FO_END_DECLS

#endif /* FAILOVER_ROUTER_H */
