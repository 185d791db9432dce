/* The foundation health rule: N route faults in a row eject for a
 * hold-down; callee-side results never count against a route. */
#include "internal-helpers.h"

static const fo_result faults[] = {
    FO_RESULT_CONGESTION,
    FO_RESULT_UNAVAILABLE,
    FO_RESULT_TIMEOUT,
    FO_RESULT_REJECTED,
};
static const fo_result callee_side[] = {
    FO_RESULT_BUSY,
    FO_RESULT_NOANSWER,
    FO_RESULT_DECLINED,
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void test_exactly_n_faults_eject(void **state)
{
    struct fixture *f = *state;
    const uint32_t n = FO_DEFAULT_CONSECUTIVE_FAULTS;

    for (size_t i = 0; i < NELEM(faults); i++) {
        char name[16];
        fo_route_id r;

        snprintf(name, sizeof name, "r%zu", i);
        r = add_route(f->router, name, 1);
        report_n(f->router, r, faults[i], (int)n - 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
        report_n(f->router, r, faults[i], 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    }
}

static void test_configured_threshold(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    for (uint32_t n = 1; n <= 10; n++) {
        fixture_close(f);
        fixture_prepare(f);
        f->opts.consecutive_faults = n;
        fixture_open(f);
        r = add_route(f->router, "r", 1);
        report_n(f->router, r, FO_RESULT_TIMEOUT, (int)n - 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
        report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    }
}

static void test_mixed_faults_count_together(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    report_n(f->router, r, FO_RESULT_CONGESTION, 1);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    report_n(f->router, r, FO_RESULT_REJECTED, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
}

static void test_callee_results_never_eject(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    for (size_t i = 0; i < NELEM(callee_side); i++)
        report_n(f->router, r, callee_side[i], 1000);
    report_n(f->router, r, FO_RESULT_CANCELLED, 1000);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(fo__route_get(f->router, r)->health.consecutive_faults, 0);
}

/* A callee-side result proves the carrier reached the callee: it breaks
 * a run of faults just as a success does. */
static void test_success_and_callee_results_reset_the_run(void **state)
{
    struct fixture *f = *state;
    const fo_result breakers[] = {FO_RESULT_SUCCESS, FO_RESULT_BUSY,
                                  FO_RESULT_NOANSWER, FO_RESULT_DECLINED};

    for (size_t i = 0; i < NELEM(breakers); i++) {
        char name[16];
        fo_route_id r;

        snprintf(name, sizeof name, "r%zu", i);
        r = add_route(f->router, name, 1);
        for (int round = 0; round < 20; round++) {
            report_n(f->router, r, FO_RESULT_TIMEOUT,
                     FO_DEFAULT_CONSECUTIVE_FAULTS - 1);
            report_n(f->router, r, breakers[i], 1);
        }
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    }
}

/* A cancellation says nothing about the route: it neither counts nor
 * breaks the run. */
static void test_cancel_is_neutral(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    report_n(f->router, r, FO_RESULT_CANCELLED, 5);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    report_n(f->router, r, FO_RESULT_CANCELLED, 5);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
}

static void test_hold_down_expiry(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_route_id out;
    uint64_t t0 = f->clock.now;

    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    f->clock.now = t0 + FO_DEFAULT_HOLD_DOWN_NS - 1;
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(fo_pick_route(f->router, NULL, &out), FO_ENOROUTE);
    f->clock.now = t0 + FO_DEFAULT_HOLD_DOWN_NS;
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(fo_pick_route(f->router, NULL, &out), FO_OK);
    assert_true(out == r);
}

static void test_configured_hold_down(void **state)
{
    struct fixture *f = *state;
    fo_route_id r, out;
    uint64_t t0;

    fixture_close(f);
    fixture_prepare(f);
    f->opts.hold_down_ns = 5 * SEC;
    f->opts.consecutive_faults = 1;
    fixture_open(f);
    r = add_route(f->router, "r", 1);
    t0 = f->clock.now;
    report_n(f->router, r, FO_RESULT_UNAVAILABLE, 1);
    f->clock.now = t0 + 5 * SEC - 1;
    assert_int_equal(fo_pick_route(f->router, NULL, &out), FO_ENOROUTE);
    f->clock.now = t0 + 5 * SEC;
    assert_int_equal(fo_pick_route(f->router, NULL, &out), FO_OK);
}

/* Results of calls that were in flight when the route was ejected do not
 * stretch the hold-down, and a success does not cut it short. */
static void test_results_while_ejected(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t t0 = f->clock.now;

    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
    f->clock.now = t0 + 10 * SEC;
    report_n(f->router, r, FO_RESULT_TIMEOUT, 10);
    report_n(f->router, r, FO_RESULT_SUCCESS, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    f->clock.now = t0 + FO_DEFAULT_HOLD_DOWN_NS;
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(fo__route_get(f->router, r)->health.ejections, 1);
}

/* After the hold-down the route starts with a clean count: it takes N
 * fresh faults to eject it again. */
static void test_clean_count_after_hold_down(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
    f->clock.now += FO_DEFAULT_HOLD_DOWN_NS;
    report_n(f->router, r, FO_RESULT_TIMEOUT,
             FO_DEFAULT_CONSECUTIVE_FAULTS - 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(fo__route_get(f->router, r)->health.ejections, 2);
}

static void test_health_is_per_route(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 1);

    report_n(f->router, a, FO_RESULT_TIMEOUT, 2);
    report_n(f->router, b, FO_RESULT_TIMEOUT, 2);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, a), FO_STATE_EJECTED);
    assert_int_equal(route_state(f->router, b), FO_STATE_UP);
}

static void test_counters(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    struct fo__route *rt;

    report_n(f->router, r, FO_RESULT_SUCCESS, 4);
    report_n(f->router, r, FO_RESULT_BUSY, 3);
    report_n(f->router, r, FO_RESULT_CANCELLED, 2);
    report_n(f->router, r, FO_RESULT_REJECTED, 1);
    rt = fo__route_get(f->router, r);
    assert_int_equal(rt->counters.results[FO_RESULT_SUCCESS], 4);
    assert_int_equal(rt->counters.results[FO_RESULT_BUSY], 3);
    assert_int_equal(rt->counters.results[FO_RESULT_CANCELLED], 2);
    assert_int_equal(rt->counters.results[FO_RESULT_REJECTED], 1);
}

static void test_result_once_per_attempt(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out;

    assert_int_equal(fo_pick_route(f->router, &at, &out), FO_OK);
    assert_true(out == a);
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &at),
                     FO_OK);
    /* The same call reporting the same route again counts nothing. */
    assert_rejected(f->router, FO_EALREADY,
                    fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &at));
    assert_rejected(f->router, FO_EALREADY,
                    fo_report_result(f->router, a, FO_RESULT_SUCCESS, &at));
    assert_int_equal(fo__route_get(f->router, a)->health.consecutive_faults, 1);
    /* Every attempt of a hunt counts, not only the last. */
    assert_int_equal(fo_pick_route(f->router, &at, &out), FO_OK);
    assert_true(out == b);
    assert_int_equal(fo_report_result(f->router, b, FO_RESULT_TIMEOUT, &at),
                     FO_OK);
    assert_int_equal(fo__route_get(f->router, b)->health.consecutive_faults, 1);
}

/* Reporting a route the call did not pick through the router adds it to
 * the attempt, so the next pick moves past it. */
static void test_report_adds_route_to_attempt(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out;

    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &at),
                     FO_OK);
    assert_int_equal(fo_attempt_count(&at), 1);
    assert_int_equal(fo_pick_route(f->router, &at, &out), FO_OK);
    assert_true(out == b);
}

static void test_report_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    static const int bad_results[] = {0, -1, 10, 100, INT32_MIN, INT32_MAX};
    fo_attempt at;

    for (size_t i = 0; i < NELEM(bad_results); i++)
        assert_rejected(
            f->router, FO_EINVAL,
            fo_report_result(f->router, r, (fo_result)bad_results[i], NULL));
    assert_int_equal(fo_report_result(NULL, r, FO_RESULT_SUCCESS, NULL),
                     FO_EINVAL);
    assert_rejected(
        f->router, FO_ENOENT,
        fo_report_result(f->router, r + 1, FO_RESULT_TIMEOUT, NULL));
    memset(&at, 0xff, sizeof at);
    assert_rejected(f->router, FO_EINVAL,
                    fo_report_result(f->router, r, FO_RESULT_TIMEOUT, &at));
}

static void test_result_names_and_classes(void **state)
{
    (void)state;
    assert_string_equal(fo_result_name(FO_RESULT_SUCCESS), "SUCCESS");
    assert_string_equal(fo_result_name(FO_RESULT_BUSY), "BUSY");
    assert_string_equal(fo_result_name(FO_RESULT_NOANSWER), "NOANSWER");
    assert_string_equal(fo_result_name(FO_RESULT_DECLINED), "DECLINED");
    assert_string_equal(fo_result_name(FO_RESULT_CANCELLED), "CANCELLED");
    assert_string_equal(fo_result_name(FO_RESULT_CONGESTION), "CONGESTION");
    assert_string_equal(fo_result_name(FO_RESULT_UNAVAILABLE), "UNAVAILABLE");
    assert_string_equal(fo_result_name(FO_RESULT_TIMEOUT), "TIMEOUT");
    assert_string_equal(fo_result_name(FO_RESULT_REJECTED), "REJECTED");
    assert_string_equal(fo_result_name((fo_result)0), "UNKNOWN");
    assert_string_equal(fo_result_name((fo_result)10), "UNKNOWN");

    assert_int_equal(fo_result_default_class(FO_RESULT_SUCCESS),
                     FO_CLASS_SUCCESS);
    for (size_t i = 0; i < NELEM(callee_side); i++)
        assert_int_equal(fo_result_default_class(callee_side[i]),
                         FO_CLASS_CALLEE);
    assert_int_equal(fo_result_default_class(FO_RESULT_CANCELLED),
                     FO_CLASS_NEUTRAL);
    for (size_t i = 0; i < NELEM(faults); i++)
        assert_int_equal(fo_result_default_class(faults[i]),
                         FO_CLASS_ROUTE_FAULT);
    assert_int_equal(fo_result_default_class((fo_result)0), 0);
    assert_int_equal(fo_result_default_class((fo_result)10), 0);
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_exactly_n_faults_eject),
        T(test_configured_threshold),
        T(test_mixed_faults_count_together),
        T(test_callee_results_never_eject),
        T(test_success_and_callee_results_reset_the_run),
        T(test_cancel_is_neutral),
        T(test_hold_down_expiry),
        T(test_configured_hold_down),
        T(test_results_while_ejected),
        T(test_clean_count_after_hold_down),
        T(test_health_is_per_route),
        T(test_counters),
        T(test_result_once_per_attempt),
        T(test_report_adds_route_to_attempt),
        T(test_report_bad_input),
        T(test_result_names_and_classes),
    };
    return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
