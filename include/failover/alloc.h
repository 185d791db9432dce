/*
 * libfailover: memory allocation.
 *
 * A router allocates when it is created and when routes are added or
 * removed; never while picking a route or recording a result. By default
 * it uses malloc() and free(); an embedder may pass its own allocator
 * (a pool, a counting allocator, a test allocator that fails on demand).
 */
#ifndef FAILOVER_ALLOC_H
#define FAILOVER_ALLOC_H

#include <failover/common.h>

FO_BEGIN_DECLS

/**
 * @brief Allocates size bytes aligned for any object, or returns NULL.
 * @param[in] size     Bytes wanted; never 0.
 * @param[in] userdata The pointer registered with the allocator.
 */
typedef void *(*fo_alloc_cb)(size_t size, void *userdata);

/**
 * @brief Releases memory returned by the matching fo_alloc_cb.
 * @param[in] ptr      Never NULL.
 * @param[in] userdata The pointer registered with the allocator.
 */
typedef void (*fo_free_cb)(void *ptr, void *userdata);

/**
 * @brief An allocator table, passed in fo_router_options.allocator.
 *
 * Size-versioned: set size to sizeof(fo_allocator), e.g. with
 * FO_ALLOCATOR_INIT(). Both callbacks are required. The router copies the
 * table; the callbacks must stay callable until fo_router_free() returns.
 * They are called with the router's internal lock held and must not call
 * into libfailover.
 */
typedef struct fo_allocator {
    size_t size;       /**< sizeof(fo_allocator) as the caller knows it. */
    fo_alloc_cb alloc; /**< Required. */
    fo_free_cb free;   /**< Required. */
    void *userdata;    /**< Passed to both callbacks; owned by the caller. */
} fo_allocator;

/** Initializer: FO_ALLOCATOR_INIT(my_alloc, my_free, my_state). */
#define FO_ALLOCATOR_INIT(alloc_cb, free_cb, userdata_ptr)                     \
    {                                                                          \
        sizeof(fo_allocator), (alloc_cb), (free_cb), (userdata_ptr)            \
    }

FO_END_DECLS

#endif /* FAILOVER_ALLOC_H */
