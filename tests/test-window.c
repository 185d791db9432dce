/*
 * The sliding failure window and the two rate detectors that read it:
 * failure rate and slow-call rate, each at the edges of its minimum volume
 * and threshold; buckets sliding out of the window.
 */
#include "internal-helpers.h"

#define BUCKET (FO_DEFAULT_WINDOW_NS / 12)

static struct fo__health *health_of(struct fixture *f, fo_route_id id)
{
    return &fo__route_get(f->router, id)->health;
}

/* Only the rate detectors, so runs of faults do not eject first. */
static int rate_setup(void **state)
{
    struct fixture *f = test_malloc(sizeof *f);

    fixture_prepare(f);
    f->opts.detectors_off = FO_DETECTOR_CONSECUTIVE;
    fixture_open(f);
    *state = f;
    return 0;
}

/* ---- the window itself ------------------------------------------------- */

static void test_window_sums_and_slides(void **state)
{
    struct fo__window w;
    const uint64_t b = 5 * SEC;

    (void)state;
    memset(&w, 0, sizeof w);
    fo__window_add(&w, 1000 * SEC, b, true, false, false);
    fo__window_add(&w, 1000 * SEC, b, false, true, true);
    assert_true(w.volume == 2 && w.faults == 1 && w.timed == 1 && w.slow == 1);
    /* 11 buckets later both are still in the 60 s window. */
    fo__window_add(&w, 1055 * SEC, b, false, false, false);
    assert_true(w.volume == 3 && w.faults == 1);
    /* The 12th bucket after the first pushes it out. */
    fo__window_advance(&w, 1060 * SEC, b);
    assert_true(w.volume == 1 && w.faults == 0 && w.timed == 0 && w.slow == 0);
    /* Time inside the same bucket, or earlier, changes nothing. */
    fo__window_advance(&w, 1059 * SEC, b);
    assert_true(w.volume == 1);
    /* A gap longer than the window clears it. */
    fo__window_advance(&w, 5000 * SEC, b);
    assert_true(w.volume == 0);
    for (int i = 0; i < 12; i++)
        assert_int_equal(w.b[i].volume, 0);
}

static void test_window_sums_match_buckets(void **state)
{
    struct fo__window w;
    uint32_t x = 12345;

    (void)state;
    memset(&w, 0, sizeof w);
    for (uint64_t t = 0; t < 100000; t++) {
        uint64_t vol = 0, fl = 0;

        x = x * 1103515245u + 12345u;
        fo__window_add(&w, t * 397 * MSEC, 5 * SEC, (x >> 16) % 3 == 0, false,
                       false);
        for (int i = 0; i < 12; i++) {
            vol += w.b[i].volume;
            fl += w.b[i].faults;
        }
        assert_true(vol == w.volume && fl == w.faults);
    }
}

/* A bucket that fills (65,535 attempts in one bucket) stops counting as a
 * whole: volume and faults stop together, so the sample's ratio stands,
 * the sums match the buckets, and nothing wraps; the next bucket counts
 * again and the full one slides out in its time. */
static void test_window_bucket_saturates(void **state)
{
    struct fo__window w;
    const uint64_t b = 5 * SEC;
    uint64_t vol = 0;

    (void)state;
    memset(&w, 0, sizeof w);
    for (uint32_t i = 0; i < 200000; i++)
        fo__window_add(&w, 1000 * SEC, b, i % 4 == 0, true, i % 2 == 0);
    assert_int_equal(w.b[w.head % 12].volume, UINT16_MAX);
    assert_int_equal(w.volume, UINT16_MAX);
    assert_int_equal(w.faults, (UINT16_MAX + 3) / 4);
    assert_int_equal(w.timed, UINT16_MAX);
    assert_int_equal(w.slow, (UINT16_MAX + 1) / 2);
    /* Eleven more full buckets: the running sums pass 16 bits. */
    for (uint64_t k = 1; k < 12; k++)
        for (uint32_t i = 0; i < 70000; i++)
            fo__window_add(&w, (1000 + 5 * k) * SEC, b, i % 4 == 0, false,
                           false);
    for (int i = 0; i < 12; i++)
        vol += w.b[i].volume;
    assert_true(vol == w.volume);
    assert_true(w.volume == 12ull * UINT16_MAX);
    assert_true(w.faults == 12ull * ((UINT16_MAX + 3) / 4));
    /* The first bucket slides out: its share leaves the sums exactly. */
    fo__window_add(&w, 1060 * SEC, b, true, false, false);
    assert_true(w.volume == 11ull * UINT16_MAX + 1);
    assert_true(w.faults == 11ull * ((UINT16_MAX + 3) / 4) + 1);
    assert_true(w.timed == 0 && w.slow == 0);
}

/* A route reported at any rate keeps a true failure rate: 100,000 calls
 * a bucket with every fifth a fault read as 20%, not as a wrapped count. */
static void test_failure_rate_under_saturation(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_route_stats st = FO_ROUTE_STATS_INIT;

    for (int i = 0; i < 100000; i++)
        assert_int_equal(fo_report_result(f->router, r,
                                          i % 5 == 0 ? FO_RESULT_CONGESTION
                                                     : FO_RESULT_SUCCESS,
                                          NULL),
                         FO_OK);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(fo_route_get_stats(f->router, r, &st), FO_OK);
    assert_true(st.window_attempts == UINT16_MAX);
    assert_true(st.window_faults == (UINT16_MAX + 4) / 5);
}

/* ---- failure rate -------------------------------------------------------- */

/* volume - 1 attempts cannot decide, however bad; the volume-th can. */
static void test_failure_rate_minimum_volume(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    char text[FO_REASON_TEXT_MAX];

    report_n(f->router, r, FO_RESULT_TIMEOUT, FO_DEFAULT_WINDOW_MIN_VOLUME - 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_FAILURE_RATE);
    assert_string_equal(
        text, "failure rate 100% >= 25% over 60 s, 20 attempts; out for 15 s");
}

/* 100 attempts: 24 faults stay, the 25th ejects (25% >= 25%). */
static void test_failure_rate_threshold(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);
    char text[FO_REASON_TEXT_MAX];

    report_n(f->router, r, FO_RESULT_SUCCESS, 75);
    for (int i = 0; i < 24; i++) {
        report_n(f->router, r, FO_RESULT_CONGESTION, 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    }
    /* 24 of 99: still below. */
    report_n(f->router, r, FO_RESULT_CONGESTION, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    route_reason(f->router, r, text, sizeof text);
    assert_string_equal(
        text, "failure rate 25% >= 25% over 60 s, 100 attempts; out for 15 s");
}

/* k faults in 4k + 1 attempts is below 25% at every step; one more fault
 * crosses it. */
static void test_failure_rate_just_below(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    report_n(f->router, r, FO_RESULT_SUCCESS, 1);
    for (int k = 0; k < 249; k++) {
        report_n(f->router, r, FO_RESULT_BUSY, 3);
        report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    }
    assert_true(health_of(f, r)->window.faults == 249);
    assert_true(health_of(f, r)->window.volume == 997);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1); /* 250 / 998 */
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
}

static void test_failure_rate_configured(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.failure_rate_pct = 50;
    f->opts.window_min_volume = 4;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    report_n(f->router, r, FO_RESULT_SUCCESS, 1);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);
    report_n(f->router, r, FO_RESULT_SUCCESS, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP); /* volume 3 */
    report_n(f->router, r, FO_RESULT_TIMEOUT, 1);             /* 2 of 4 */
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
}

/* Faults that slid out of the window no longer count. */
static void test_old_faults_slide_out(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    report_n(f->router, r, FO_RESULT_TIMEOUT, 10);
    advance(f, FO_DEFAULT_WINDOW_NS + BUCKET);
    report_n(f->router, r, FO_RESULT_SUCCESS, 30);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 9); /* 9 of 39 = 23% */
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_true(health_of(f, r)->window.faults == 9);
    /* Had the old ten still counted, 19 of 49 would have ejected. */
}

static void test_failure_rate_off(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.detectors_off = FO_DETECTOR_CONSECUTIVE | FO_DETECTOR_FAILURE_RATE;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 500);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* ---- slow calls ---------------------------------------------------------- */

static void test_slow_calls_off_by_default(void **state)
{
    struct fixture *f = *state;
    fo_route_id r = add_route(f->router, "r", 1);

    for (int i = 0; i < 100; i++)
        report_ex(f->router, r, FO_RESULT_SUCCESS, 60 * SEC, 0);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_true(health_of(f, r)->window.slow == 0);
    assert_true(health_of(f, r)->window.timed == 100);
}

static void test_slow_call_rate_edges(void **state)
{
    struct fixture *f = *state;
    char text[FO_REASON_TEXT_MAX];
    fo_route_id r;

    f->opts.slow_call_ns = 8 * SEC;
    /* The slow-call rate alone: slow calls also count as failures for the
     * failure rate (test_slow_calls_count_as_failures). */
    f->opts.detectors_off = FO_DETECTOR_FAILURE_RATE;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    /* Untimed attempts are not part of the slow-call rate. */
    report_n(f->router, r, FO_RESULT_SUCCESS, 50);
    /* 19 timed attempts, all slow: below the minimum volume. */
    for (int i = 0; i < 19; i++)
        report_ex(f->router, r, FO_RESULT_SUCCESS, 8 * SEC, 0);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    /* Just under the threshold is not slow. */
    report_ex(f->router, r, FO_RESULT_SUCCESS, 8 * SEC - 1, 0);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_true(health_of(f, r)->window.slow == 19);
    /* The 20th slow one of 21 timed: 90% >= 50%. */
    report_ex(f->router, r, FO_RESULT_BUSY, 9 * SEC, 0);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_SLOW_CALLS);
    assert_string_equal(text, "slow calls 95% >= 50% (latency >= 8 s) over "
                              "60 s, 21 attempts; out for 15 s");
}

static void test_slow_call_rate_threshold(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.slow_call_ns = 5 * SEC;
    f->opts.slow_call_rate_pct = 50;
    f->opts.detectors_off = FO_DETECTOR_FAILURE_RATE;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    for (int i = 0; i < 51; i++)
        report_ex(f->router, r, FO_RESULT_SUCCESS, 2 * SEC, 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
        report_ex(f->router, r, FO_RESULT_SUCCESS, 6 * SEC, 0);
    }
    assert_int_equal(route_state(f->router, r), FO_STATE_UP); /* 50/101 */
    report_ex(f->router, r, FO_RESULT_SUCCESS, 6 * SEC, 0);   /* 51/102 */
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
}

/* With a slow-call threshold, slow attempts count toward the failure rate:
 * 15% route faults and 15% slow calls make 30%, over the default 25%,
 * though neither is over its own limit. A slow route fault counts once. */
static void test_slow_calls_count_as_failures(void **state)
{
    struct fixture *f = *state;
    char text[FO_REASON_TEXT_MAX];
    fo_route_id r;

    f->opts.slow_call_ns = 5 * SEC;
    f->opts.consecutive_faults = 100;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    /* 20 attempts: 14 fast successes, 3 slow ones, 3 route faults (each
     * reported slow, counted once, as a fault). */
    for (int i = 0; i < 14; i++)
        report_ex(f->router, r, FO_RESULT_SUCCESS, SEC, 0);
    for (int i = 0; i < 3; i++)
        report_ex(f->router, r, FO_RESULT_CONGESTION, 6 * SEC, 0);
    assert_true(health_of(f, r)->window.faults == 3);
    assert_true(health_of(f, r)->window.slow == 0);
    for (int i = 0; i < 2; i++)
        report_ex(f->router, r, FO_RESULT_SUCCESS, 6 * SEC, 0);
    /* 19 attempts: under the minimum volume, whatever the rate. */
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    /* The 20th: 3 faults + 3 slow = 30% >= 25%; slow calls 3 of 20 are
     * far under their own 50%. */
    report_ex(f->router, r, FO_RESULT_SUCCESS, 6 * SEC, 0);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_FAILURE_RATE);
    assert_string_equal(text, "failure rate 30% >= 25% over 60 s, 20 attempts "
                              "(3 route faults, 3 slow calls); out for 15 s");
}

/* The same attempts with the slow-call detector off: slow is not failed. */
static void test_slow_calls_not_failures_when_off(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.slow_call_ns = 5 * SEC;
    f->opts.consecutive_faults = 100;
    f->opts.detectors_off = FO_DETECTOR_SLOW_CALLS;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 14; i++)
            report_ex(f->router, r, FO_RESULT_SUCCESS, SEC, 0);
        for (int i = 0; i < 3; i++)
            report_ex(f->router, r, FO_RESULT_CONGESTION, 6 * SEC, 0);
        for (int i = 0; i < 3; i++)
            report_ex(f->router, r, FO_RESULT_SUCCESS, 6 * SEC, 0);
    }
    assert_int_equal(route_state(f->router, r), FO_STATE_UP); /* 15% */
}

static void test_slow_calls_detector_off(void **state)
{
    struct fixture *f = *state;
    fo_route_id r;

    f->opts.slow_call_ns = SEC;
    f->opts.detectors_off = FO_DETECTOR_SLOW_CALLS;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    for (int i = 0; i < 100; i++)
        report_ex(f->router, r, FO_RESULT_SUCCESS, 10 * SEC, 0);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, rate_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_sums_and_slides),
        cmocka_unit_test(test_window_sums_match_buckets),
        cmocka_unit_test(test_window_bucket_saturates),
        T(test_failure_rate_under_saturation),
        T(test_failure_rate_minimum_volume),
        T(test_failure_rate_threshold),
        T(test_failure_rate_just_below),
        T(test_failure_rate_configured),
        T(test_old_faults_slide_out),
        T(test_failure_rate_off),
        T(test_slow_calls_off_by_default),
        T(test_slow_call_rate_edges),
        T(test_slow_call_rate_threshold),
        T(test_slow_calls_count_as_failures),
        T(test_slow_calls_not_failures_when_off),
        T(test_slow_calls_detector_off),
    };
    return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
