/* The router's clock: default, injected, backwards, huge jumps, and
 * callbacks that try to call back into the router. */
#include "internal-helpers.h"

static void test_default_clock_is_monotonic(void **state)
{
    fo_router *r;
    uint64_t prev = 0, now = 0;

    (void)state;
    prev = fo_clock_monotonic_ns();
    assert_true(prev > 0);
    assert_int_equal(fo_router_new(&r, NULL), FO_OK);
    /* The default may be the coarse clock: the same origin, late by at
     * most a tick or two (a few ms; allow for a loaded machine). */
    assert_int_equal(fo_router_now(r, &now), FO_OK);
    assert_true(now + 100 * MSEC >= prev);
    assert_true(now <= fo_clock_monotonic_ns());
    prev = now;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(fo_router_now(r, &now), FO_OK);
        assert_true(now >= prev);
        prev = now;
    }
    assert_int_equal(fo_router_now(r, NULL), FO_EINVAL);
    assert_int_equal(fo_router_now(NULL, &now), FO_EINVAL);
    fo_router_free(r);
}

static void test_manual_clock_is_read(void **state)
{
    struct fixture *f = *state;
    uint64_t now;

    f->clock.now = 1077 * SEC;
    assert_int_equal(fo_router_now(f->router, &now), FO_OK);
    assert_true(now == 1077 * SEC);
    f->clock.now = 1078 * SEC;
    assert_int_equal(fo_router_now(f->router, &now), FO_OK);
    assert_true(now == 1078 * SEC);
}

/* Router time follows the source's forward steps: a step back neither
 * turns time back nor freezes it until the source has caught up. */
static void test_backwards_clock(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t now;

    f->clock.now = 1000 * SEC;
    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
    /* The source jumps back by 1000 s: the router's time does not. */
    f->clock.now = 0;
    assert_int_equal(fo_router_now(f->router, &now), FO_OK);
    assert_true(now == 1000 * SEC);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    /* 15 s of the source later, the 15 s hold-down is over. */
    f->clock.now = FO_DEFAULT_HOLD_DOWN_NS - 1;
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    f->clock.now = FO_DEFAULT_HOLD_DOWN_NS;
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    assert_int_equal(fo_router_now(f->router, &now), FO_OK);
    assert_true(now == 1000 * SEC + FO_DEFAULT_HOLD_DOWN_NS);
}

/* Two readings taking the lock out of order look like a small step back:
 * ignored, and not counted twice afterwards. */
static void test_reordered_readings(void **state)
{
    struct fixture *f = *state;
    uint64_t now;

    f->clock.now = 2000 * SEC;
    fo_router_now(f->router, &now);
    f->clock.now = 2000 * SEC - 500 * MSEC;
    assert_int_equal(fo_router_now(f->router, &now), FO_OK);
    assert_true(now == 2000 * SEC);
    f->clock.now = 2000 * SEC + 200 * MSEC;
    assert_int_equal(fo_router_now(f->router, &now), FO_OK);
    assert_true(now == 2000 * SEC + 200 * MSEC);
}

static void test_jump_by_days(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_route_id out;

    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
    f->clock.now += 3ull * 24 * 3600 * SEC;
    assert_int_equal(fo_pick_route(f->router, NULL, &out), FO_OK);
    assert_true(out == r);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
}

/* One wild reading far in the future moves time by at most 30 days, and
 * the router keeps working when the source comes back to its senses. */
static void test_wild_forward_reading(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t before, now;

    fo_router_now(f->router, &before);
    f->clock.now = UINT64_MAX - 5;
    assert_int_equal(fo_router_now(f->router, &now), FO_OK);
    assert_true(now == before + 30ull * 24 * 3600 * SEC);
    f->clock.now = 1100 * SEC; /* back to normal */
    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    f->clock.now += FO_DEFAULT_HOLD_DOWN_NS;
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
}

/* Near the end of the 64-bit range the hold-down saturates instead of
 * wrapping around to the past (which would end it at once). */
static void test_time_arithmetic_saturates(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    fixture_close(f);
    f->clock.now = UINT64_MAX - SEC; /* the router starts here */
    fixture_open(f);
    r = add_route(f->router, "r", 1);
    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_true(fo__route_get(f->router, r)->health.hold_down_until_ns ==
                UINT64_MAX);
    f->clock.now = UINT64_MAX - 1;
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    f->clock.now = UINT64_MAX;
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
}

/* ---- reentrancy -------------------------------------------------------- */

struct reentry {
    fo_router *target; /* router the callback calls into */
    bool armed;
    int rc_pick, rc_add, rc_now, rc_free, rc_report, rc_lookup;
    uint64_t now;
};

static uint64_t reentrant_clock(void *userdata)
{
    struct reentry *re = userdata;

    if (re->armed) {
        fo_route_id id;
        uint64_t t;

        re->armed = false; /* one level only, whatever happens */
        re->rc_pick = fo_pick_route(re->target, NULL, &id);
        re->rc_add = fo_route_add(re->target, "inner", 1, 1, 0, &id);
        re->rc_now = fo_router_now(re->target, &t);
        re->rc_report =
            fo_report_result(re->target, 1, FO_RESULT_SUCCESS, NULL);
        re->rc_lookup = fo_route_lookup(re->target, "x", &id);
        re->rc_free = fo_router_free(re->target);
    }
    return re->now;
}

static void test_clock_callback_cannot_reenter_its_router(void **state)
{
    struct reentry re = {0};
    fo_clock c = FO_CLOCK_INIT(reentrant_clock, &re);
    fo_router_options o;
    fo_router *r;
    fo_route_id out;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.clock = &c;
    re.now = 5 * SEC;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    add_route(r, "x", 1);
    re.target = r;
    re.armed = true;
    assert_int_equal(fo_pick_route(r, NULL, &out), FO_OK);
    assert_int_equal(re.rc_pick, FO_EBUSY);
    assert_int_equal(re.rc_add, FO_EBUSY);
    assert_int_equal(re.rc_now, FO_EBUSY);
    assert_int_equal(re.rc_report, FO_EBUSY);
    assert_int_equal(re.rc_lookup, FO_EBUSY);
    assert_int_equal(re.rc_free, FO_EBUSY);
    /* Nothing happened inside: the router is intact. */
    assert_int_equal(fo_route_lookup(r, "inner", &out), FO_ENOENT);
    assert_int_equal(fo_router_free(r), FO_OK);
}

static void test_clock_callback_may_use_another_router(void **state)
{
    struct reentry re = {0};
    fo_clock c = FO_CLOCK_INIT(reentrant_clock, &re);
    fo_router_options o;
    fo_router *r, *other;
    fo_route_id out;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.clock = &c;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    assert_int_equal(fo_router_new(&other, NULL), FO_OK);
    add_route(other, "x", 1);
    re.target = other;
    re.armed = true;
    assert_int_equal(fo_router_now(r, &re.now), FO_OK);
    assert_int_equal(re.rc_pick, FO_OK);
    assert_int_equal(re.rc_add, FO_OK);
    assert_int_equal(re.rc_now, FO_OK);
    assert_int_equal(re.rc_free, FO_OK); /* freed "other" */
    assert_int_equal(fo_pick_route(r, NULL, &out), FO_ENOROUTE);
    assert_int_equal(fo_router_free(r), FO_OK);
}

struct alloc_reentry {
    fo_router *target;
    int rc;
    bool tried;
};

static void *reentrant_alloc(size_t size, void *userdata)
{
    struct alloc_reentry *ar = userdata;

    if (ar->target != NULL && !ar->tried) {
        fo_route_id id;

        ar->tried = true;
        ar->rc = fo_route_lookup(ar->target, "x", &id);
    }
    return malloc(size);
}

static void plain_free(void *p, void *userdata)
{
    (void)userdata;
    free(p);
}

static void test_allocator_cannot_reenter_its_router(void **state)
{
    struct alloc_reentry ar = {0};
    fo_allocator a = FO_ALLOCATOR_INIT(reentrant_alloc, plain_free, &ar);
    fo_router_options o;
    fo_router *r;
    fo_route_id id;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.allocator = &a;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    ar.target = r;
    assert_int_equal(fo_route_add(r, "x", 1, 1, 0, &id), FO_OK);
    assert_true(ar.tried);
    assert_int_equal(ar.rc, FO_EBUSY);
    assert_int_equal(fo_router_free(r), FO_OK);
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_clock_is_monotonic),
        T(test_manual_clock_is_read),
        T(test_backwards_clock),
        T(test_reordered_readings),
        T(test_jump_by_days),
        T(test_wild_forward_reading),
        T(test_time_arithmetic_saturates),
        cmocka_unit_test(test_clock_callback_cannot_reenter_its_router),
        cmocka_unit_test(test_clock_callback_may_use_another_router),
        cmocka_unit_test(test_allocator_cannot_reenter_its_router),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
