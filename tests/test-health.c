/*
 * The health engine: consecutive faults, hold-down growth/cap/decay/jitter,
 * trial (rise, concurrency, expiry, stale evidence), Retry-After, signals,
 * operator states and drills, reasons, classification overrides.
 * Rates live in test-window.c, damping in test-damping.c.
 */
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
#define N        FO_DEFAULT_CONSECUTIVE_FAULTS

static struct fo__health *health_of(struct fixture *f, fo_route_id id)
{
    struct fo__route *rt = fo__route_get(f->router, id);

    assert_non_null(rt);
    return &rt->health;
}

static void eject_now(struct fixture *f, fo_route_id id)
{
    report_n(f->router, id, FO_RESULT_TIMEOUT, (int)N);
    assert_int_equal(route_state(f->router, id), FO_STATE_EJECTED);
}

/* Ejects, waits out the hold-down and passes the trial. */
static void flap_and_recover(struct fixture *f, fo_route_id id)
{
    eject_now(f, id);
    advance(f, health_of(f, id)->hold_down_ns);
    assert_int_equal(route_state(f->router, id), FO_STATE_TRIAL);
    report_n(f->router, id, FO_RESULT_SUCCESS, FO_DEFAULT_TRIAL_SUCCESSES);
    assert_int_equal(route_state(f->router, id), FO_STATE_UP);
}

/* ---- consecutive faults ------------------------------------------------ */

static void test_exactly_n_faults_eject(void **state)
{
    struct fixture *f = *state;
    char text[FO_REASON_TEXT_MAX];

    for (size_t i = 0; i < NELEM(faults); i++) {
        char name[16];
        fo_route_id r;

        snprintf(name, sizeof name, "r%zu", i);
        r = add_route(f->router, name, 1);
        report_n(f->router, r, faults[i], (int)N - 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
        report_n(f->router, r, faults[i], 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
        assert_int_equal(route_reason(f->router, r, text, sizeof text),
                         FO_REASON_CONSECUTIVE_FAULTS);
        char want[96];
        snprintf(want, sizeof want,
                 "3 consecutive route faults (last %s); out for 15 s",
                 fo_result_name(faults[i]));
        assert_string_equal(text, want);
    }
}

static void test_configured_threshold(void **state)
{
    struct fixture *f = *state;

    for (uint32_t n = 1; n <= 10; n++) {
        fo_route_id r;

        f->opts.consecutive_faults = n;
        fixture_reopen(f);
        r = add_route(f->router, "r", 1);
        report_n(f->router, r, FO_RESULT_TIMEOUT, (int)n - 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
        report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    }
}

static void test_callee_results_never_eject(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    for (size_t i = 0; i < NELEM(callee_side); i++)
        report_n(f->router, r, callee_side[i], 1000);
    report_n(f->router, r, FO_RESULT_CANCELLED, 1000);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(health_of(f, r)->consecutive_faults, 0);
    /* ... and count as volume without faults in the window. */
    assert_true(health_of(f, r)->window.volume == 3000);
    assert_true(health_of(f, r)->window.faults == 0);
}

/* A callee-side result proves the carrier reached the callee: it breaks a
 * run of faults just as a success does. (The failure-rate detector is off
 * here: two faults in three calls would trip it, as they should.) */
static void test_success_and_callee_results_reset_the_run(void **state)
{
    struct fixture *f = *state;
    const fo_result breakers[] = {FO_RESULT_SUCCESS, FO_RESULT_BUSY,
                                  FO_RESULT_NOANSWER, FO_RESULT_DECLINED};

    f->opts.detectors_off = FO_DETECTOR_FAILURE_RATE;
    fixture_reopen(f);
    for (size_t i = 0; i < NELEM(breakers); i++) {
        char name[16];
        fo_route_id r;

        snprintf(name, sizeof name, "r%zu", i);
        r = add_route(f->router, name, 1);
        for (int round = 0; round < 20; round++) {
            report_n(f->router, r, FO_RESULT_TIMEOUT, (int)N - 1);
            report_n(f->router, r, breakers[i], 1);
        }
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    }
}

static void test_cancel_is_neutral(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    report_n(f->router, r, FO_RESULT_CANCELLED, 5);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_true(health_of(f, r)->window.volume == 2);
    report_n(f->router, r, FO_RESULT_CANCELLED, 5);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
}

static void test_consecutive_detector_off(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.detectors_off = FO_DETECTOR_CONSECUTIVE | FO_DETECTOR_FAILURE_RATE;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1000);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* ---- hold-down and trial ------------------------------------------------ */

static void test_hold_down_ends_in_trial(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1), out;
    char text[FO_REASON_TEXT_MAX];

    eject_now(f, r);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS - 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(fo_pick_route(f->router, NULL, &out), FO_ENOROUTE);
    advance(f, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_HOLD_DOWN_ENDED);
    assert_string_equal(text, "hold-down of 15 s ended");
}

static void test_trial_needs_rise_successes(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    char text[FO_REASON_TEXT_MAX];

    eject_now(f, r);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    report_n(f->router, r, FO_RESULT_SUCCESS, FO_DEFAULT_TRIAL_SUCCESSES - 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    report_n(f->router, r, FO_RESULT_SUCCESS, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_TRIAL_PASSED);
    assert_string_equal(text, "2 trial attempts succeeded");

    /* Configured rise. */
    f->opts.trial_successes = 5;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    eject_now(f, r);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    report_n(f->router, r, FO_RESULT_SUCCESS, 4);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    report_n(f->router, r, FO_RESULT_SUCCESS, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* A busy callee proves the carrier carried the call; a cancellation
 * proves nothing. */
static void test_trial_evidence_by_class(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    eject_now(f, r);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    report_n(f->router, r, FO_RESULT_CANCELLED, 10);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    report_n(f->router, r, FO_RESULT_BUSY, 1);
    report_n(f->router, r, FO_RESULT_NOANSWER, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

static void test_trial_fault_reejects_longer_up_to_the_cap(void **state)
{
    struct fixture *f = *state;
    /* 15 s, x1.5 per ejection, capped at 40 s. */
    const uint64_t expect[] = {15000 * MSEC, 22500 * MSEC, 33750 * MSEC,
                               40 * SEC, 40 * SEC};
    char text[FO_REASON_TEXT_MAX];
    fo_route_id r;

    f->opts.hold_down_max_ns = 40 * SEC;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    eject_now(f, r);
    for (size_t i = 0; i < NELEM(expect); i++) {
        assert_true(health_of(f, r)->hold_down_ns == expect[i]);
        advance(f, expect[i] - 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
        advance(f, 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
        report_n(f->router, r, FO_RESULT_UNAVAILABLE, 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
        assert_int_equal(route_reason(f->router, r, text, sizeof text),
                         FO_REASON_TRIAL_FAILED);
    }
    assert_string_equal(text, "trial attempt UNAVAILABLE; out for 40 s");
    assert_int_equal(health_of(f, r)->ejections, NELEM(expect) + 1);
}

static void test_no_growth_with_multiplier_100(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.hold_down_multiplier_pct = 100;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    eject_now(f, r);
    for (int i = 0; i < 5; i++) {
        assert_true(health_of(f, r)->hold_down_ns == FO_DEFAULT_HOLD_DOWN_NS);
        advance(f, FO_DEFAULT_HOLD_DOWN_NS);
        report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    }
}

/* Every hold_down_decay_ns spent UP undoes one step of growth. */
static void test_growth_decays_while_healthy(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.detectors_off = FO_DETECTOR_DAMPING;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    flap_and_recover(f, r); /* level 1 */
    flap_and_recover(f, r); /* level 2 */
    flap_and_recover(f, r); /* level 3 */
    assert_int_equal(health_of(f, r)->level, 3);
    /* 59.999 s later: nothing forgiven yet. */
    advance(f, FO_DEFAULT_HOLD_DOWN_DECAY_NS - 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(health_of(f, r)->level, 3);
    advance(f, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(health_of(f, r)->level, 2);
    /* Ejected now: 15 * 1.5^2 = 33.75 s. */
    eject_now(f, r);
    assert_true(health_of(f, r)->hold_down_ns == 33750 * MSEC);
    advance(f, health_of(f, r)->hold_down_ns);
    report_n(f->router, r, FO_RESULT_SUCCESS, 2);
    /* Long healthy: back to the base. */
    advance(f, 10 * FO_DEFAULT_HOLD_DOWN_DECAY_NS);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(health_of(f, r)->level, 0);
    eject_now(f, r);
    assert_true(health_of(f, r)->hold_down_ns == FO_DEFAULT_HOLD_DOWN_NS);
}

static uint64_t hold_down_with(struct fixture *f, uint32_t jitter,
                               uint64_t seed)
{
    fo_route_id r;

    f->opts.hold_down_jitter_pct = jitter;
    f->opts.seed = seed;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    eject_now(f, r);
    return health_of(f, r)->hold_down_ns;
}

static void test_jitter_is_bounded_and_seeded(void **state)
{
    struct fixture *f = *state;
    int differs = 0;

    for (uint64_t seed = 1; seed <= 50; seed++) {
        uint64_t a = hold_down_with(f, 50, seed);
        uint64_t b = hold_down_with(f, 50, seed);

        assert_true(a == b); /* same seed, same hold-down */
        assert_true(a >= FO_DEFAULT_HOLD_DOWN_NS);
        assert_true(a <= FO_DEFAULT_HOLD_DOWN_NS / 2 * 3);
        differs += a != FO_DEFAULT_HOLD_DOWN_NS;
    }
    assert_true(differs > 40);
    assert_true(hold_down_with(f, 0, 7) == FO_DEFAULT_HOLD_DOWN_NS);
}

static void test_trial_concurrency(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_attempt c1 = FO_ATTEMPT_INIT, c2 = FO_ATTEMPT_INIT;
    fo_attempt c3 = FO_ATTEMPT_INIT;

    eject_now(f, a);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    /* One trial call at a time by default: the next call goes to b. */
    assert_true(pick(f->router, &c1) == a);
    assert_true(pick(f->router, &c2) == b);
    assert_true(pick(f->router, NULL) == b);
    /* The trial call succeeds: its slot is free for the next call. */
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_SUCCESS, &c1),
                     FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
    assert_true(pick(f->router, &c3) == a);
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_SUCCESS, &c3),
                     FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);

    /* Three at a time when configured. */
    f->opts.trial_concurrency = 3;
    fixture_reopen(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 2);
    eject_now(f, a);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    for (int i = 0; i < 3; i++)
        assert_true(pick(f->router, NULL) == a);
    assert_true(pick(f->router, NULL) == b);
}

/* A trial attempt that is never reported does not wedge the route. */
static void test_unreported_trial_expires(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_attempt lost = FO_ATTEMPT_INIT;

    eject_now(f, a);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(pick(f->router, &lost) == a); /* never reported */
    advance(f, FO_DEFAULT_TRIAL_TIMEOUT_NS - 1);
    assert_true(pick(f->router, NULL) == b);
    advance(f, 1);
    assert_true(pick(f->router, NULL) == a);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
}

/* A call placed while the route was still UP and reported once it is in
 * trial says nothing about the recovery: it neither fails nor passes the
 * trial, and does not free the trial's slot. */
static void test_stale_results_do_not_decide_a_trial(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_attempt old_fail = FO_ATTEMPT_INIT, old_ok = FO_ATTEMPT_INIT;
    fo_attempt trial = FO_ATTEMPT_INIT;

    assert_true(pick(f->router, &old_fail) == a); /* calls in flight */
    assert_true(pick(f->router, &old_ok) == a);
    eject_now(f, a);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(pick(f->router, &trial) == a);
    assert_int_equal(
        fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &old_fail), FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_SUCCESS, &old_ok),
                     FO_OK);
    assert_int_equal(health_of(f, a)->trial_passes, 0);
    assert_true(pick(f->router, NULL) == b); /* slot still held */
    /* The trial's own result counts. */
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_SUCCESS, &trial),
                     FO_OK);
    assert_int_equal(health_of(f, a)->trial_passes, 1);
    /* A trial attempt from an earlier trial is stale too. */
    fo_attempt earlier = FO_ATTEMPT_INIT;
    assert_true(pick(f->router, &earlier) == a);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 1); /* fails the trial */
    advance(f, health_of(f, a)->hold_down_ns);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
    assert_int_equal(
        fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &earlier), FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
}

/* Without an attempt the router cannot tell; it trusts the report. */
static void test_trial_reports_without_attempt(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);

    eject_now(f, a);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(pick(f->router, NULL) == a);
    assert_true(pick(f->router, NULL) == b);
    report_n(f->router, a, FO_RESULT_SUCCESS, 1); /* frees the slot */
    assert_true(pick(f->router, NULL) == a);
    report_n(f->router, a, FO_RESULT_SUCCESS, 1);
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);
}

/* Fresh start after recovery: faults before the ejection are gone. */
static void test_window_and_count_reset_on_recovery(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    report_n(f->router, r, FO_RESULT_SUCCESS, 30);
    flap_and_recover(f, r);
    assert_true(health_of(f, r)->window.volume == 0);
    report_n(f->router, r, FO_RESULT_TIMEOUT, (int)N - 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* ---- Retry-After -------------------------------------------------------- */

static void test_retry_after_ejects_at_once(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    char text[FO_REASON_TEXT_MAX];

    report_ex(f->router, r, FO_RESULT_REJECTED, 0, 120 * SEC);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_RETRY_AFTER);
    assert_string_equal(text, "REJECTED with Retry-After 120 s; out for 120 s");
    advance(f, 120 * SEC - 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    advance(f, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
}

static void test_retry_after_is_a_floor_and_capped(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_route_id s = add_route(f->router, "s", 1);

    /* Shorter than the hold-down: the hold-down wins. */
    report_ex(f->router, r, FO_RESULT_CONGESTION, 0, 2 * SEC);
    assert_true(health_of(f, r)->hold_down_ns == FO_DEFAULT_HOLD_DOWN_NS);
    /* Longer than the cap: the cap wins. */
    report_ex(f->router, s, FO_RESULT_REJECTED, 0, 3600 * SEC);
    assert_true(health_of(f, s)->hold_down_ns == FO_DEFAULT_RETRY_AFTER_MAX_NS);
}

static void test_retry_after_extends_a_hold_down(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t t0 = f->clock.now;

    eject_now(f, r);
    advance(f, 5 * SEC);
    report_ex(f->router, r, FO_RESULT_REJECTED, 0, 60 * SEC);
    assert_true(health_of(f, r)->hold_down_until_ns == t0 + 65 * SEC);
    /* ... but never shortens it. */
    report_ex(f->router, r, FO_RESULT_REJECTED, 0, 1 * SEC);
    assert_true(health_of(f, r)->hold_down_until_ns == t0 + 65 * SEC);
    f->clock.now = t0 + 65 * SEC;
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
}

static void test_retry_after_off_or_not_a_fault(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    r = add_route(f->router, "r", 1);
    report_ex(f->router, r, FO_RESULT_SUCCESS, 0, 600 * SEC);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);

    f->opts.detectors_off = FO_DETECTOR_RETRY_AFTER;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    report_ex(f->router, r, FO_RESULT_REJECTED, 0, 600 * SEC);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* ---- signals ----------------------------------------------------------- */

static void test_registration_lost_holds_until_restored(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    char text[FO_REASON_TEXT_MAX];

    assert_int_equal(fo_route_signal(f->router, r, FO_SIGNAL_REGISTRATION_LOST),
                     FO_OK);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_REGISTRATION_LOST);
    assert_string_equal(text, "registration lost; out until registered again");
    advance(f, 24ull * 3600 * SEC);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(
        fo_route_signal(f->router, r, FO_SIGNAL_REGISTRATION_RESTORED), FO_OK);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    assert_int_equal(route_reason(f->router, r, NULL, 0),
                     FO_REASON_REGISTRATION_RESTORED);
    report_n(f->router, r, FO_RESULT_SUCCESS, 2);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

static void test_registration_lost_while_ejected(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    char text[FO_REASON_TEXT_MAX];

    eject_now(f, r);
    assert_int_equal(fo_route_signal(f->router, r, FO_SIGNAL_REGISTRATION_LOST),
                     FO_OK);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_REGISTRATION_LOST);
    advance(f, 3600 * SEC); /* the hold-down no longer ends it */
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    fo_route_signal(f->router, r, FO_SIGNAL_REGISTRATION_RESTORED);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
}

static void test_keepalive_signals(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t until;

    assert_int_equal(fo_route_signal(f->router, r, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_OK);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(route_reason(f->router, r, NULL, 0),
                     FO_REASON_KEEPALIVE_LOST);
    assert_int_equal(health_of(f, r)->ejections, 1);
    /* Lost again while out: nothing more (no second ejection, the
     * hold-down is not restarted). */
    until = health_of(f, r)->hold_down_until_ns;
    advance(f, SEC);
    assert_int_equal(fo_route_signal(f->router, r, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_OK);
    assert_int_equal(health_of(f, r)->ejections, 1);
    assert_true(health_of(f, r)->hold_down_until_ns == until);
    /* The usual hold-down applies... */
    f->clock.now = until;
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    /* ... lost in trial: out again, for longer. */
    assert_int_equal(fo_route_signal(f->router, r, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_OK);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(health_of(f, r)->ejections, 2);
    assert_true(health_of(f, r)->hold_down_ns == 22500 * MSEC);
    /* ... and "restored" ends the hold-down early. */
    advance(f, SEC);
    assert_int_equal(
        fo_route_signal(f->router, r, FO_SIGNAL_KEEPALIVE_RESTORED), FO_OK);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    assert_int_equal(route_reason(f->router, r, NULL, 0),
                     FO_REASON_KEEPALIVE_RESTORED);
}

static void test_restored_without_loss_is_a_no_op(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    assert_rejected(
        f->router, FO_OK,
        fo_route_signal(f->router, r, FO_SIGNAL_REGISTRATION_RESTORED));
    assert_rejected(
        f->router, FO_OK,
        fo_route_signal(f->router, r, FO_SIGNAL_KEEPALIVE_RESTORED));
    /* A keepalive "restored" does not end a hold-down it did not cause. */
    eject_now(f, r);
    fo_route_signal(f->router, r, FO_SIGNAL_KEEPALIVE_RESTORED);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
}

static void test_signal_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    assert_rejected(f->router, FO_EINVAL,
                    fo_route_signal(f->router, r, (fo_signal)0));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_signal(f->router, r, (fo_signal)5));
    assert_rejected(
        f->router, FO_ENOENT,
        fo_route_signal(f->router, bogus_id(r), FO_SIGNAL_REGISTRATION_LOST));
    assert_int_equal(fo_route_signal(NULL, r, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_EINVAL);
}

/* ---- operator states and drills ---------------------------------------- */

static void test_disabled_and_draining(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    char text[FO_REASON_TEXT_MAX];

    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_DISABLED);
    assert_int_equal(route_reason(f->router, a, text, sizeof text),
                     FO_REASON_DISABLED);
    assert_string_equal(text, "disabled by the operator");
    assert_true(pick(f->router, NULL) == b);
    /* Health is still tracked underneath. */
    report_n(f->router, a, FO_RESULT_TIMEOUT, (int)N);
    assert_int_equal(route_state(f->router, a), FO_STATE_DISABLED);
    assert_int_equal(health_of(f, a)->health, FO_STATE_EJECTED);
    fo_route_set_admin(f->router, a, FO_ADMIN_DRAINING);
    assert_int_equal(route_state(f->router, a), FO_STATE_DRAINING);
    assert_int_equal(route_reason(f->router, a, text, sizeof text),
                     FO_REASON_DRAINING);
    assert_string_equal(text, "draining on the operator's request");
    /* Calls in flight still report while draining. */
    report_n(f->router, a, FO_RESULT_SUCCESS, 1);
    assert_true(
        fo__route_get(f->router, a)->counters.results[FO_RESULT_SUCCESS - 1] ==
        1);
    assert_true(pick(f->router, NULL) == b);
    fo_route_set_admin(f->router, a, FO_ADMIN_ENABLED);
    assert_int_equal(route_state(f->router, a), FO_STATE_EJECTED);
    assert_int_equal(route_reason(f->router, a, NULL, 0), FO_REASON_ENABLED);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);

    assert_rejected(f->router, FO_EINVAL,
                    fo_route_set_admin(f->router, a, (fo_admin)3));
    assert_rejected(
        f->router, FO_ENOENT,
        fo_route_set_admin(f->router, bogus_id(a), FO_ADMIN_DISABLED));
    assert_int_equal(fo_route_set_admin(NULL, a, FO_ADMIN_DISABLED), FO_EINVAL);
}

static void test_drill_returns_by_itself(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    char text[FO_REASON_TEXT_MAX];

    assert_int_equal(fo_route_drill(f->router, a, 300 * SEC), FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_DRILL);
    assert_int_equal(route_reason(f->router, a, text, sizeof text),
                     FO_REASON_DRILL_STARTED);
    assert_string_equal(text, "failover drill for 300 s");
    assert_true(pick(f->router, NULL) == b);
    advance(f, 300 * SEC - 1);
    assert_int_equal(route_state(f->router, a), FO_STATE_DRILL);
    advance(f, 1);
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);
    assert_int_equal(route_reason(f->router, a, text, sizeof text),
                     FO_REASON_DRILL_ENDED);
    assert_true(pick(f->router, NULL) == a);

    /* Ended early by the operator. */
    fo_route_drill(f->router, a, 60 * SEC);
    assert_int_equal(fo_route_drill(f->router, a, 0), FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);
    assert_int_equal(route_reason(f->router, a, NULL, 0),
                     FO_REASON_DRILL_ENDED);

    /* A drill over a sick route ends in the route's own state. */
    fo_route_drill(f->router, a, 10 * SEC);
    report_n(f->router, a, FO_RESULT_TIMEOUT, (int)N);
    assert_int_equal(route_state(f->router, a), FO_STATE_DRILL);
    advance(f, 10 * SEC);
    assert_int_equal(route_state(f->router, a), FO_STATE_EJECTED);

    /* Disabled beats a drill. */
    fo_route_drill(f->router, b, 10 * SEC);
    fo_route_set_admin(f->router, b, FO_ADMIN_DISABLED);
    assert_int_equal(route_state(f->router, b), FO_STATE_DISABLED);

    assert_rejected(f->router, FO_ERANGE,
                    fo_route_drill(f->router, a, 24ull * 3600 * SEC + 1));
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_drill(f->router, bogus_id(a), SEC));
    assert_int_equal(fo_route_drill(NULL, a, SEC), FO_EINVAL);
}

/* ---- reasons, classification ------------------------------------------ */

static void test_reason_accessor(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    char small[8];
    fo_reason reason;

    assert_int_equal(route_reason(f->router, r, NULL, 0), FO_REASON_ADDED);
    eject_now(f, r);
    assert_int_equal(
        fo_route_get_reason(f->router, r, &reason, small, sizeof small),
        FO_ERANGE);
    assert_string_equal(small, "3 conse");
    assert_int_equal(reason, FO_REASON_CONSECUTIVE_FAULTS);
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_get_reason(f->router, r, &reason, small, 0));
    assert_rejected(
        f->router, FO_ENOENT,
        fo_route_get_reason(f->router, bogus_id(r), &reason, NULL, 0));
    assert_int_equal(fo_route_get_reason(NULL, r, &reason, NULL, 0), FO_EINVAL);
}

static void test_reason_names(void **state)
{
    static const char *const names[] = {
        "NONE",
        "ADDED",
        "CONSECUTIVE_FAULTS",
        "FAILURE_RATE",
        "SLOW_CALLS",
        "RETRY_AFTER",
        "REGISTRATION_LOST",
        "REGISTRATION_RESTORED",
        "KEEPALIVE_LOST",
        "KEEPALIVE_RESTORED",
        "HOLD_DOWN_ENDED",
        "TRIAL_PASSED",
        "TRIAL_FAILED",
        "SUPPRESSED",
        "REUSED",
        "DISABLED",
        "DRAINING",
        "ENABLED",
        "DRILL_STARTED",
        "DRILL_ENDED",
        "EJECTION_GUARD",
        "LOCAL_FAULT",
        "PROBE_FAILED",
        "PROBE_PASSED",
        "GUARD_ENDED",
    };

    (void)state;
    for (size_t i = 0; i < NELEM(names); i++)
        assert_string_equal(fo_reason_name((fo_reason)i), names[i]);
    assert_string_equal(fo_reason_name((fo_reason)NELEM(names)), "UNKNOWN");
    assert_string_equal(fo_reason_name((fo_reason)-1), "UNKNOWN");
    assert_string_equal(fo_route_state_name(FO_STATE_TRIAL), "TRIAL");
    assert_string_equal(fo_route_state_name(FO_STATE_SUPPRESSED), "SUPPRESSED");
    assert_string_equal(fo_route_state_name(FO_STATE_DISABLED), "DISABLED");
    assert_string_equal(fo_route_state_name(FO_STATE_DRAINING), "DRAINING");
    assert_string_equal(fo_route_state_name(FO_STATE_DRILL), "DRILL");
}

static void test_classification_override(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_route_id s = add_route(f->router, "s", 1);
    fo_result_class cls;

    /* A carrier answering 404 to everything while its routing is broken. */
    assert_int_equal(fo_router_set_result_class(f->router, FO_RESULT_DECLINED,
                                                FO_CLASS_ROUTE_FAULT),
                     FO_OK);
    assert_int_equal(
        fo_router_get_result_class(f->router, FO_RESULT_DECLINED, &cls), FO_OK);
    assert_int_equal(cls, FO_CLASS_ROUTE_FAULT);
    report_n(f->router, r, FO_RESULT_DECLINED, (int)N);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);

    /* Timeouts that are the callee's (a dialer with a short ring time). */
    fo_router_set_result_class(f->router, FO_RESULT_TIMEOUT, FO_CLASS_CALLEE);
    report_n(f->router, s, FO_RESULT_TIMEOUT, 100);
    assert_int_equal(route_state(f->router, s), FO_STATE_UP);
    fo_router_set_result_class(f->router, FO_RESULT_TIMEOUT,
                               fo_result_default_class(FO_RESULT_TIMEOUT));
    report_n(f->router, s, FO_RESULT_TIMEOUT, (int)N);
    assert_int_equal(route_state(f->router, s), FO_STATE_EJECTED);

    assert_rejected(
        f->router, FO_EINVAL,
        fo_router_set_result_class(f->router, (fo_result)0, FO_CLASS_CALLEE));
    assert_rejected(f->router, FO_EINVAL,
                    fo_router_set_result_class(f->router, FO_RESULT_BUSY,
                                               (fo_result_class)5));
    assert_rejected(
        f->router, FO_EINVAL,
        fo_router_get_result_class(f->router, FO_RESULT_BUSY, NULL));
    assert_int_equal(fo_router_get_result_class(NULL, FO_RESULT_BUSY, &cls),
                     FO_EINVAL);
}

static void test_report_ex_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_report rep = FO_REPORT_INIT(FO_RESULT_TIMEOUT);
    struct {
        fo_report known;
        uint64_t newer;
    } big;

    assert_rejected(f->router, FO_EINVAL,
                    fo_report_result_ex(f->router, r, NULL, NULL));
    rep.flags = 1;
    assert_rejected(f->router, FO_EINVAL,
                    fo_report_result_ex(f->router, r, &rep, NULL));
    rep.flags = 0;
    rep.size = sizeof(size_t);
    assert_rejected(f->router, FO_EINVAL,
                    fo_report_result_ex(f->router, r, &rep, NULL));
    rep.size = sizeof rep;
    rep.result = (fo_result)0;
    assert_rejected(f->router, FO_EINVAL,
                    fo_report_result_ex(f->router, r, &rep, NULL));
    memset(&big, 0, sizeof big);
    big.known = (fo_report)FO_REPORT_INIT(FO_RESULT_TIMEOUT);
    big.known.size = sizeof big;
    big.newer = 1;
    assert_rejected(f->router, FO_EVERSION,
                    fo_report_result_ex(f->router, r, &big.known, NULL));
    big.newer = 0;
    assert_int_equal(fo_report_result_ex(f->router, r, &big.known, NULL),
                     FO_OK);
}

/* ---- regressions from review ------------------------------------------ */

/* A result is judged after the route's due timers ran: a late report that
 * is the first thing to touch a route whose hold-down has just ended must
 * not fail the new trial. */
static void test_refresh_before_judging(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_attempt old = FO_ATTEMPT_INIT;

    assert_true(pick(f->router, &old) == r); /* a 30 s dial starts */
    report_n(f->router, r, FO_RESULT_TIMEOUT, (int)N);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS); /* nothing looks at the route */
    assert_int_equal(fo_report_result(f->router, r, FO_RESULT_TIMEOUT, &old),
                     FO_OK);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    assert_int_equal(route_reason(f->router, r, NULL, 0),
                     FO_REASON_HOLD_DOWN_ENDED);
}

/* Calls placed before an outage and reporting after the route recovered
 * (a long dial timeout) must not eject it again. */
static void test_old_calls_do_not_reeject_a_recovered_route(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_attempt old[N], now = FO_ATTEMPT_INIT;

    for (unsigned i = 0; i < N; i++) {
        fo_attempt_init(&old[i]);
        assert_true(pick(f->router, &old[i]) == r);
    }
    report_n(f->router, r, FO_RESULT_TIMEOUT, (int)N); /* ejected */
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    report_n(f->router, r, FO_RESULT_SUCCESS, 2); /* trial passed */
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    advance(f, 40 * SEC);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(
            fo_report_result(f->router, r, FO_RESULT_TIMEOUT, &old[i]), FO_OK);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(health_of(f, r)->consecutive_faults, 0);
    /* Counted all the same. */
    assert_true(
        fo__route_get(f->router, r)->counters.results[FO_RESULT_TIMEOUT - 1] ==
        2 * N);
    /* A call placed after the recovery counts as usual. */
    assert_true(pick(f->router, &now) == r);
    fo_report_result(f->router, r, FO_RESULT_TIMEOUT, &now);
    assert_int_equal(health_of(f, r)->consecutive_faults, 1);
}

/* A trial slot is freed only by the call that holds it. */
static void test_trial_slots_freed_only_by_their_holder(void **state)
{
    struct fixture *f = *state;
    fo_attempt trial = FO_ATTEMPT_INIT, panic = FO_ATTEMPT_INIT;
    fo_attempt late, next = FO_ATTEMPT_INIT;
    fo_pick pk = FO_PICK_INIT;
    fo_route_id a;

    f->opts.panic = FO_PANIC_BEST_EFFORT;
    fixture_reopen(f);
    a = add_route(f->router, "a", 1);
    eject_now(f, a);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_int_equal(fo_pick_route_ex(f->router, &trial, &pk), FO_OK);
    assert_int_equal(pk.flags, FO_PICK_TRIAL);
    /* The one slot is busy: a panic pick, whose report frees nothing. */
    assert_int_equal(fo_pick_route_ex(f->router, &panic, &pk), FO_OK);
    assert_int_equal(pk.flags, FO_PICK_PANIC);
    fo_report_result(f->router, a, FO_RESULT_CANCELLED, &panic);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_int_equal(pk.flags, FO_PICK_PANIC); /* still busy */
    /* The trial call never reports in time: its slot expires and is
     * reused; its late report counts for the trial but does not free the
     * new holder's slot. */
    late = trial;
    advance(f, FO_DEFAULT_TRIAL_TIMEOUT_NS);
    assert_int_equal(fo_pick_route_ex(f->router, &next, &pk), FO_OK);
    assert_int_equal(pk.flags, FO_PICK_TRIAL);
    fo_report_result(f->router, a, FO_RESULT_SUCCESS, &late);
    assert_int_equal(health_of(f, a)->trial_passes, 1);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_int_equal(pk.flags, FO_PICK_PANIC); /* next's slot still held */
    fo_report_result(f->router, a, FO_RESULT_SUCCESS, &next);
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);
}

/* Jitter comes after the cap and after a Retry-After floor, so dialers
 * sharing a carrier are spread there too. */
static void test_jitter_after_cap_and_retry_after(void **state)
{
    struct fixture *f = *state;
    int spread_ra = 0, spread_cap = 0;

    for (uint64_t seed = 1; seed <= 30; seed++) {
        fo_route_id r, s;
        uint64_t hold;

        f->opts.hold_down_jitter_pct = 20;
        f->opts.hold_down_max_ns = 20 * SEC;
        f->opts.seed = seed;
        fixture_reopen(f);
        r = add_route(f->router, "r", 1);
        s = add_route(f->router, "s", 1);
        report_ex(f->router, r, FO_RESULT_REJECTED, 0, 600 * SEC);
        hold = health_of(f, r)->hold_down_ns;
        assert_true(hold >= 600 * SEC && hold <= 720 * SEC);
        spread_ra += hold != 600 * SEC;
        health_of(f, s)->level = 10; /* grown past the cap */
        eject_now(f, s);
        hold = health_of(f, s)->hold_down_ns;
        assert_true(hold >= 20 * SEC && hold <= 24 * SEC);
        spread_cap += hold != 20 * SEC;
    }
    assert_true(spread_ra > 25 && spread_cap > 25);
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_exactly_n_faults_eject),
        T(test_configured_threshold),
        T(test_callee_results_never_eject),
        T(test_success_and_callee_results_reset_the_run),
        T(test_cancel_is_neutral),
        T(test_consecutive_detector_off),
        T(test_hold_down_ends_in_trial),
        T(test_trial_needs_rise_successes),
        T(test_trial_evidence_by_class),
        T(test_trial_fault_reejects_longer_up_to_the_cap),
        T(test_no_growth_with_multiplier_100),
        T(test_growth_decays_while_healthy),
        T(test_jitter_is_bounded_and_seeded),
        T(test_trial_concurrency),
        T(test_unreported_trial_expires),
        T(test_stale_results_do_not_decide_a_trial),
        T(test_trial_reports_without_attempt),
        T(test_window_and_count_reset_on_recovery),
        T(test_retry_after_ejects_at_once),
        T(test_retry_after_is_a_floor_and_capped),
        T(test_retry_after_extends_a_hold_down),
        T(test_retry_after_off_or_not_a_fault),
        T(test_registration_lost_holds_until_restored),
        T(test_registration_lost_while_ejected),
        T(test_keepalive_signals),
        T(test_restored_without_loss_is_a_no_op),
        T(test_signal_bad_input),
        T(test_disabled_and_draining),
        T(test_drill_returns_by_itself),
        T(test_reason_accessor),
        T(test_reason_names),
        T(test_classification_override),
        T(test_report_ex_bad_input),
        T(test_refresh_before_judging),
        T(test_old_calls_do_not_reeject_a_recovered_route),
        T(test_trial_slots_freed_only_by_their_holder),
        T(test_jitter_after_cap_and_retry_after),
    };
    return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
