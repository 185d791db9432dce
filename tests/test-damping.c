/*
 * Flap damping against values computed by hand from RFC 2439's formulas:
 *     p(t) = p0 * 2^(-(t - t0) / half_life)
 *     ceiling = reuse * 2^(max_suppress / half_life)
 *     suppressed while p >= suppress ... until p < reuse
 * The test uses libm's pow/exp2/log2 for the expected values; the library
 * computes them itself (it depends on libc alone).
 */
#include "internal-helpers.h"

#include <math.h>

#define HALF   (60 * SEC)
#define PEN    1000.0
#define SUPP   2500.0
#define REUSE  750.0
#define MAXSUP (300 * SEC)

static struct fo__health *health_of(struct fixture *f, fo_route_id id)
{
    return &fo__route_get(f->router, id)->health;
}

/* Hold-down 1 s without growth, so flaps can be placed at will. */
static int damping_setup(void **state)
{
    struct fixture *f = test_malloc(sizeof *f);

    fixture_prepare(f);
    f->opts.hold_down_ns = SEC;
    f->opts.hold_down_multiplier_pct = 100;
    f->opts.damping_penalty = (uint32_t)PEN;
    f->opts.damping_suppress = (uint32_t)SUPP;
    f->opts.damping_reuse = (uint32_t)REUSE;
    f->opts.damping_half_life_ns = HALF;
    f->opts.damping_max_suppress_ns = MAXSUP;
    fixture_open(f);
    *state = f;
    return 0;
}

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void test_exp2_and_log2(void **state)
{
    (void)state;
    for (double x = -80.0; x <= 80.0; x += 0.0625) {
        double want = exp2(x), got = fo__exp2(x);

        assert_true(fabs(got - want) <= 1e-13 * want);
    }
    for (double x = 1e-6; x < 1e7; x *= 1.37) {
        assert_true(fabs(fo__log2(x) - log2(x)) < 1e-12);
    }
    assert_true(fo__exp2(0.0) == 1.0);
    assert_true(fo__exp2(-2000.0) == 0.0);
    assert_true(fo__log2(1.0) == 0.0);
}

static void test_ceiling(void **state)
{
    (void)state;
    /* The vendor defaults: 750 * 2^(60 min / 15 min) = 12000. */
    assert_true(fabs(fo__damp_ceiling(750, 3600 * SEC, 900 * SEC) - 12000) <
                1e-9);
    /* Ours: 750 * 2^(20 min / 5 min) = 12000 too. */
    assert_true(fabs(fo__damp_ceiling(750, 1200 * SEC, 300 * SEC) - 12000) <
                1e-9);
    assert_true(fabs(fo__damp_ceiling(REUSE, MAXSUP, HALF) - 24000) < 1e-9);
}

static void test_decay_by_half_lives(void **state)
{
    struct fixture *f = *state;
    struct fo__damping d = {0, 0, false};
    const struct fo__config *c = &f->router->cfg;
    const uint64_t t0 = 5000 * SEC;

    assert_false(fo__damp_add(&d, c, t0));
    assert_true(fabs(fo__damp_value(&d, c, t0) - 1000) < 1e-9);
    assert_true(fabs(fo__damp_value(&d, c, t0 + HALF) - 500) < 1e-9);
    assert_true(fabs(fo__damp_value(&d, c, t0 + 2 * HALF) - 250) < 1e-9);
    assert_true(fabs(fo__damp_value(&d, c, t0 + HALF / 2) -
                     1000 * pow(2, -0.5)) < 1e-9);
    /* Second flap one half-life later: 500 + 1000. */
    assert_false(fo__damp_add(&d, c, t0 + HALF));
    assert_true(fabs(d.penalty - 1500) < 1e-9);
    /* Third, right away: 2500 >= suppress. */
    assert_true(fo__damp_add(&d, c, t0 + HALF));
    assert_true(d.suppressed);
    /* Reuse when 2500 * 2^(-t/60 s) < 750: t = 60 * log2(2500/750). */
    uint64_t reuse_at = fo__damp_reuse_at(&d, c);
    double expect = seconds(t0 + HALF) + 60.0 * log2(2500.0 / 750.0);
    assert_true(fabs(seconds(reuse_at) - expect) < 1e-6);
    assert_false(fo__damp_refresh(&d, c, reuse_at - 1));
    assert_true(d.suppressed);
    assert_true(fo__damp_refresh(&d, c, reuse_at));
    assert_false(d.suppressed);
    assert_true(fo__damp_value(&d, c, reuse_at) < REUSE);
}

/* Takes the route from UP to EJECTED by three faults. */
static void flap(struct fixture *f, fo_route_id r)
{
    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
}

/* Waits out the 1 s hold-down and passes the trial (by reports without an
 * attempt, which count even while the route is suppressed). */
static void recover(struct fixture *f, fo_route_id r)
{
    advance(f, SEC);
    report_n(f->router, r, FO_RESULT_SUCCESS, FO_DEFAULT_TRIAL_SUCCESSES);
    assert_int_equal(health_of(f, r)->health, FO_STATE_UP);
}

static void test_flapping_route_is_suppressed_and_reused(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    /* Flaps 10 s apart. Expected penalty after each, by hand:
     * 1000, 1890.9, 2684.6. */
    double p = 0;
    uint64_t last = 0;
    char text[FO_REASON_TEXT_MAX], want[FO_REASON_TEXT_MAX];

    for (int i = 0; i < 3; i++) {
        uint64_t now = f->clock.now;

        p = (i == 0 ? 0 : p * pow(2, -seconds(now - last) / 60.0)) + PEN;
        last = now;
        flap(f, r);
        assert_true(fabs(health_of(f, r)->damp.penalty - p) < 1e-6);
        if (p < SUPP) {
            assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
            recover(f, r);
            advance(f, 9 * SEC);
        }
    }
    /* The third flap crosses 2500. */
    assert_true(p >= SUPP);
    assert_int_equal(route_state(f->router, r), FO_STATE_SUPPRESSED);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_SUPPRESSED);
    snprintf(want, sizeof want,
             "3 consecutive route faults (last TIMEOUT); out for 1 s; "
             "penalty %.0f >= suppress 2500",
             p);
    assert_string_equal(text, want);

    /* Out while the penalty decays, even after the route recovered. */
    recover(f, r);
    assert_true(pick(f->router, NULL) == b);
    double wait = 60.0 * log2(p / REUSE);
    uint64_t reuse_at = last + (uint64_t)(wait * 1e9) + 1;
    f->clock.now = reuse_at - MSEC;
    assert_int_equal(route_state(f->router, r), FO_STATE_SUPPRESSED);
    f->clock.now = reuse_at + MSEC;
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_REUSED);
    assert_string_equal(text, "penalty decayed below reuse 750");
    assert_true(pick(f->router, NULL) == r);
}

/* However often it flaps, a route is back max_suppress after its last
 * flap: the penalty is capped at the ceiling. */
static void test_max_suppress_bounds_the_time_out(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t last;

    for (int i = 0; i < 40; i++) {
        flap(f, r);
        recover(f, r);
    }
    last = f->clock.now - SEC; /* the last flap */
    flap(f, r);
    last = f->clock.now;
    assert_true(fabs(health_of(f, r)->damp.penalty - 24000.0) < 1e-6);
    recover(f, r);
    f->clock.now = last + MAXSUP - MSEC;
    assert_int_equal(route_state(f->router, r), FO_STATE_SUPPRESSED);
    f->clock.now = last + MAXSUP + MSEC;
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* A dead route failing its trials is one outage, not a flapping route. */
static void test_failed_trials_add_no_penalty(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t t0 = f->clock.now;

    flap(f, r);
    for (int i = 0; i < 20; i++) {
        advance(f, SEC);
        assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
        report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    }
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_true(health_of(f, r)->damp.penalty == PEN);
    assert_true(health_of(f, r)->damp.at_ns == t0);
}

/* Signals that take a route out of service are flaps too. */
static void test_signals_count_as_flaps(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    for (int i = 0; i < 3; i++) {
        fo_route_signal(f->router, r, FO_SIGNAL_REGISTRATION_LOST);
        fo_route_signal(f->router, r, FO_SIGNAL_REGISTRATION_RESTORED);
        report_n(f->router, r, FO_RESULT_SUCCESS, 2);
    }
    assert_int_equal(route_state(f->router, r), FO_STATE_SUPPRESSED);
}

static void test_damping_off(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.detectors_off = FO_DETECTOR_DAMPING;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    for (int i = 0; i < 10; i++) {
        flap(f, r);
        recover(f, r);
    }
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_true(health_of(f, r)->damp.penalty == 0);
}

/* The scheduler's view: next_event_ns is the reuse instant. */
static void test_next_event_is_reuse_time(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    /* No hold-down decay event to come first. */
    f->opts.hold_down_decay_ns = FO_MAX_HOLD_DOWN_NS;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);

    flap(f, r);
    recover(f, r);
    flap(f, r);
    recover(f, r);
    flap(f, r);
    recover(f, r);
    assert_int_equal(route_state(f->router, r), FO_STATE_SUPPRESSED);
    assert_true(health_of(f, r)->next_event_ns ==
                fo__damp_reuse_at(&health_of(f, r)->damp, &f->router->cfg));
    f->clock.now = health_of(f, r)->next_event_ns;
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* With the defaults (1000 per flap, suppress 2500, half-life 5 min): three
 * flaps within two minutes suppress a carrier for about ten minutes. */
static void test_defaults_three_flaps(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;
    double p = 0;
    uint64_t last = 0;

    fixture_close(f);
    fixture_prepare(f);
    fixture_open(f);
    r = add_route(f->router, "r", 1);
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            advance(f, fo__route_get(f->router, r)->health.hold_down_ns);
            report_n(f->router, r, FO_RESULT_SUCCESS, 2); /* back */
            advance(f, 5 * SEC);
        }
        p = (i == 0 ? 0 : p * pow(2, -seconds(f->clock.now - last) / 300.0)) +
            1000;
        last = f->clock.now;
        report_n(f->router, r, FO_RESULT_TIMEOUT, 3);
    }
    assert_true(p >= 2500);
    assert_int_equal(route_state(f->router, r), FO_STATE_SUPPRESSED);
    double wait = 300.0 * log2(p / 750.0); /* about ten minutes */
    assert_true(wait > 540 && wait < 660);
    f->clock.now = last + (uint64_t)(wait * 1e9) - SEC;
    assert_int_equal(route_state(f->router, r), FO_STATE_SUPPRESSED);
    f->clock.now = last + (uint64_t)(wait * 1e9) + SEC;
    assert_int_not_equal(route_state(f->router, r), FO_STATE_SUPPRESSED);
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, damping_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp2_and_log2),
        cmocka_unit_test(test_ceiling),
        T(test_decay_by_half_lives),
        T(test_flapping_route_is_suppressed_and_reused),
        T(test_max_suppress_bounds_the_time_out),
        T(test_failed_trials_add_no_penalty),
        T(test_signals_count_as_flaps),
        T(test_damping_off),
        T(test_next_event_is_reuse_time),
        T(test_defaults_three_flaps),
    };
    return cmocka_run_group_tests_name("damping", tests, NULL, NULL);
}
