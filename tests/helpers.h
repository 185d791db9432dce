/*
 * Test helpers shared by the cmocka suites: a manual clock, an allocator
 * that counts live blocks and can fail on demand (fixture_close() asserts
 * nothing is left, so every test is also a leak check), and router
 * construction. The allocator uses malloc() rather than cmocka's
 * test_malloc(): cmocka checks leaks per test function, but routes added
 * in a test are legitimately freed in its teardown.
 */
#ifndef FO_TEST_HELPERS_H
#define FO_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <failover/failover.h>

#define SEC  1000000000ull
#define MSEC 1000000ull

/* ---- manual clock ------------------------------------------------------ */

struct manual_clock {
    uint64_t now;
};

static inline uint64_t manual_clock_now(void *userdata)
{
    return ((struct manual_clock *)userdata)->now;
}

/* ---- counting, failing allocator --------------------------------------- */

struct test_alloc {
    long live;       /* allocations not yet freed */
    long calls;      /* allocation calls so far */
    long fail_after; /* fail the call with this index (0-based); -1 never */
};

static inline void *test_alloc_cb(size_t size, void *userdata)
{
    struct test_alloc *ta = userdata;
    long n = ta->calls++;

    if (ta->fail_after >= 0 && n >= ta->fail_after)
        return NULL;
    ta->live++;
    return malloc(size);
}

static inline void test_free_cb(void *ptr, void *userdata)
{
    struct test_alloc *ta = userdata;

    ta->live--;
    free(ptr);
}

/* ---- a router on a manual clock ---------------------------------------- */

struct fixture {
    struct manual_clock clock;
    struct test_alloc alloc;
    fo_clock clock_table;
    fo_allocator alloc_table;
    fo_router_options opts;
    fo_router *router;
};

/* Fills f->opts with a manual clock and the test allocator; the caller
 * may change opts before calling fixture_open(). */
static inline void fixture_prepare(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    f->clock.now = 1000 * SEC;
    f->alloc.fail_after = -1;
    f->clock_table = (fo_clock)FO_CLOCK_INIT(manual_clock_now, &f->clock);
    f->alloc_table =
        (fo_allocator)FO_ALLOCATOR_INIT(test_alloc_cb, test_free_cb, &f->alloc);
    assert_int_equal(FO_ROUTER_OPTIONS_INIT(&f->opts), FO_OK);
    f->opts.clock = &f->clock_table;
    f->opts.allocator = &f->alloc_table;
    /* Each suite tests one mechanism: the guards and the best-effort panic
     * policy, which would otherwise keep routes in service or pick routes
     * that are out, have their own suite (test-select.c). */
    f->opts.guards_off = FO_GUARD_EJECTION | FO_GUARD_LOCAL_FAULT;
    f->opts.panic = FO_PANIC_FAIL;
}

static inline void fixture_open(struct fixture *f)
{
    assert_int_equal(fo_router_new(&f->router, &f->opts), FO_OK);
}

static inline void fixture_close(struct fixture *f)
{
    assert_int_equal(fo_router_free(f->router), FO_OK);
    f->router = NULL;
    assert_int_equal(f->alloc.live, 0);
}

static inline int fixture_setup(void **state)
{
    struct fixture *f = test_malloc(sizeof *f);

    fixture_prepare(f);
    fixture_open(f);
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    struct fixture *f = *state;

    if (f->router != NULL)
        fixture_close(f);
    test_free(f);
    return 0;
}

/* Reopens the router with f->opts as they are now (the clock keeps its
 * time). */
static inline void fixture_reopen(struct fixture *f)
{
    fixture_close(f);
    fixture_open(f);
}

static inline void advance(struct fixture *f, uint64_t ns)
{
    f->clock.now += ns;
}

/* An id that names no route: another generation of the same slot. */
static inline fo_route_id bogus_id(fo_route_id id)
{
    return id + (1ull << 44);
}

static inline fo_route_id add_route(fo_router *r, const char *name,
                                    uint32_t priority)
{
    fo_route_id id = FO_ROUTE_ID_NONE;

    assert_int_equal(fo_route_add(r, name, priority, 1, 0, &id), FO_OK);
    assert_true(id != FO_ROUTE_ID_NONE);
    return id;
}

static inline fo_route_state route_state(fo_router *r, fo_route_id id)
{
    fo_route_state s = (fo_route_state)-1;

    assert_int_equal(fo_route_get_state(r, id, &s), FO_OK);
    return s;
}

static inline fo_reason route_reason(fo_router *r, fo_route_id id, char *text,
                                     size_t size)
{
    fo_reason reason = (fo_reason)-1;

    assert_int_equal(fo_route_get_reason(r, id, &reason, text, size), FO_OK);
    return reason;
}

static inline fo_route_id pick(fo_router *r, fo_attempt *a)
{
    fo_route_id id = 12345;

    assert_int_equal(fo_pick_route(r, a, &id), FO_OK);
    assert_true(id != FO_ROUTE_ID_NONE);
    return id;
}

static inline void report_ex(fo_router *r, fo_route_id id, fo_result res,
                             uint64_t latency_ns, uint64_t retry_after_ns)
{
    fo_report rep = FO_REPORT_INIT(res);

    rep.latency_ns = latency_ns;
    rep.retry_after_ns = retry_after_ns;
    assert_int_equal(fo_report_result_ex(r, id, &rep, NULL), FO_OK);
}

static inline void report_n(fo_router *r, fo_route_id id, fo_result res, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(fo_report_result(r, id, res, NULL), FO_OK);
}

#endif /* FO_TEST_HELPERS_H */
