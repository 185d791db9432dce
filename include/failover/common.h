/*
 * libfailover: shared definitions for every public header.
 *
 * This header defines the export macro, the C++ linkage guards, the
 * deprecation helper and the handle types that several concepts share.
 * Users include <failover/failover.h>, which includes this one.
 */
#ifndef FAILOVER_COMMON_H
#define FAILOVER_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Marks a declaration as part of the exported ABI. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define FO_API __attribute__((visibility("default")))
#else
#define FO_API
#endif

#ifdef __cplusplus
#define FO_BEGIN_DECLS extern "C" {
#define FO_END_DECLS   }
#else
#define FO_BEGIN_DECLS
#define FO_END_DECLS
#endif

/* Marks a declaration deprecated, naming its replacement in msg. */
#if !defined(FO_NO_DEPRECATION_WARNINGS) && defined(__GNUC__) &&               \
    (__GNUC__ > 4 || (__GNUC__ == 4 && __GNUC_MINOR__ >= 5))
#define FO_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define FO_DEPRECATED(msg)
#endif

FO_BEGIN_DECLS

/**
 * @brief A router: the object that owns routes, options and the clock.
 *
 * Opaque. Created with fo_router_new() and destroyed with fo_router_free().
 */
typedef struct fo_router fo_router;

/**
 * @brief Handle of a route inside one router.
 *
 * Returned by fo_route_add(). Never 0 (see FO_ROUTE_ID_NONE). A removed
 * route's id is never given to a route added later, so a stale id is
 * always reported as FO_ENOENT instead of reaching another route.
 */
typedef uint64_t fo_route_id;

/** One second in the library's time unit (nanoseconds). */
#define FO_SECOND_NS 1000000000ull
/** One millisecond in nanoseconds. */
#define FO_MILLISECOND_NS 1000000ull

/** The value of an fo_route_id that names no route. */
#define FO_ROUTE_ID_NONE ((fo_route_id)0)

/**
 * @brief The per-call retry context (see <failover/attempt.h>).
 */
typedef struct fo_attempt fo_attempt;

FO_END_DECLS

#endif /* FAILOVER_COMMON_H */
