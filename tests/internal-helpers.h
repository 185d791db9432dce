/*
 * For suites that link the internal library: a digest of every piece of
 * router state, so a test can prove a rejected call changed nothing.
 */
#ifndef FO_TEST_INTERNAL_HELPERS_H
#define FO_TEST_INTERNAL_HELPERS_H

#include "helpers.h"
#include "internal.h"

/* Asserts that the expression returns code and leaves the router as it
 * was. */
#define assert_rejected(router, code, expr)                                    \
    do {                                                                       \
        uint64_t digest_before_ = fo__router_digest(router);                   \
        assert_int_equal((expr), (code));                                      \
        assert_true(fo__router_digest(router) == digest_before_);              \
    } while (0)

#endif /* FO_TEST_INTERNAL_HELPERS_H */
