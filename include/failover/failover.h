/**
 * @mainpage libfailover
 *
 * libfailover decides which route (a SIP carrier, trunk, gateway or
 * server) the next call attempt should use, notices when a route stops
 * working, moves traffic to a backup, and brings the route back when it
 * recovers. Include this header only; it includes the others.
 *
 * Conventions that hold for every function:
 * - Names: functions and types start with fo_, macros and enum constants
 *   with FO_.
 * - Errors: fallible functions return int, FO_OK (0) or a negative FO_E*
 *   code (see <failover/error.h>). A call that fails changes nothing: the
 *   router's state is as it was, and a callback passed to a failed call is
 *   never called.
 * - Pointers: a pointer parameter must not be NULL unless its
 *   documentation says so; a NULL router or out-pointer gives FO_EINVAL.
 * - Time: every duration and instant is a uint64_t in nanoseconds (names
 *   end in _ns), read from the router's clock.
 * - Ownership: the library copies what it is given (names, options,
 *   tables); strings it returns are static; nothing it returns needs
 *   freeing except the router itself.
 * - Threads: every function documents its thread safety. Router functions
 *   are MT-Safe except fo_router_new() and fo_router_free().
 * - Callbacks receive userdata as their last parameter, exactly as it was
 *   registered.
 */
#ifndef FAILOVER_FAILOVER_H
#define FAILOVER_FAILOVER_H

#include <failover/common.h>
#include <failover/version.h>
#include <failover/error.h>
#include <failover/alloc.h>
#include <failover/clock.h>
#include <failover/router.h>
#include <failover/route.h>
#include <failover/result.h>
#include <failover/health.h>
#include <failover/plan.h>
#include <failover/probe.h>
#include <failover/attempt.h>
#include <failover/events.h>
#include <failover/stats.h>

#endif /* FAILOVER_FAILOVER_H */
