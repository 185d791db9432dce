/* Size-versioned router options: old, current and newer callers;
 * defaults; ranges; clock and allocator tables. */
#include "internal-helpers.h"

static void test_init_rejects_bad_input(void **state)
{
    fo_router_options o;

    (void)state;
    assert_int_equal(fo_router_options_init(NULL, sizeof o), FO_EINVAL);
    assert_int_equal(fo_router_options_init(&o, 0), FO_EINVAL);
    assert_int_equal(fo_router_options_init(&o, sizeof(size_t)), FO_EINVAL);
    assert_int_equal(
        fo_router_options_init(&o, fo__router_options_sizes[0] - 1), FO_EINVAL);
}

static void test_init_zeroes_and_sets_size(void **state)
{
    fo_router_options o;

    (void)state;
    memset(&o, 0xa5, sizeof o);
    assert_int_equal(FO_ROUTER_OPTIONS_INIT(&o), FO_OK);
    assert_int_equal(o.size, sizeof o);
    assert_null(o.clock);
    assert_null(o.allocator);
    assert_int_equal(o.hold_down_ns, 0);
    assert_int_equal(o.consecutive_faults, 0);
    assert_int_equal(o.max_attempts, 0);
    assert_int_equal(o.max_routes, 0);
    assert_int_equal(o.detectors_off, 0);
    assert_int_equal(o.seed, 0);
}

static void test_null_options_give_defaults(void **state)
{
    fo_router *r = NULL;

    (void)state;
    assert_int_equal(fo_router_new(&r, NULL), FO_OK);
    assert_non_null(r);
    assert_true(r->cfg.hold_down_ns == FO_DEFAULT_HOLD_DOWN_NS);
    assert_int_equal(r->cfg.consecutive_faults, FO_DEFAULT_CONSECUTIVE_FAULTS);
    assert_int_equal(r->cfg.max_attempts, FO_DEFAULT_MAX_ATTEMPTS);
    assert_int_equal(r->cfg.max_routes, FO_ROUTES_MAX);
    assert_int_equal(fo_router_free(r), FO_OK);
}

static void test_zero_fields_give_defaults(void **state)
{
    fo_router_options o;
    fo_router *r = NULL;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    assert_true(r->cfg.hold_down_ns == FO_DEFAULT_HOLD_DOWN_NS);
    assert_int_equal(r->cfg.consecutive_faults, FO_DEFAULT_CONSECUTIVE_FAULTS);
    assert_int_equal(r->cfg.max_attempts, FO_DEFAULT_MAX_ATTEMPTS);
    fo_router_free(r);
}

static void test_fields_are_applied_and_copied(void **state)
{
    fo_router_options o;
    fo_router *r = NULL;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.hold_down_ns = 5 * SEC;
    o.consecutive_faults = 7;
    o.max_attempts = 2;
    o.max_routes = 10;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    /* The router keeps its own copy. */
    memset(&o, 0xff, sizeof o);
    assert_true(r->cfg.hold_down_ns == 5 * SEC);
    assert_int_equal(r->cfg.consecutive_faults, 7);
    assert_int_equal(r->cfg.max_attempts, 2);
    assert_int_equal(r->cfg.max_routes, 10);
    fo_router_free(r);
}

/* Every historical size is accepted; an old caller's struct is exactly
 * that many bytes, with nothing readable after it. */
static void test_every_historical_size_is_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; i < fo__router_options_nsizes; i++) {
        size_t size = fo__router_options_sizes[i];
        fo_router_options *o = test_malloc(size);
        fo_router *r = NULL;

        assert_int_equal(fo_router_options_init(o, size), FO_OK);
        o->consecutive_faults = 4;
        assert_int_equal(fo_router_new(&r, o), FO_OK);
        assert_int_equal(r->cfg.consecutive_faults, 4);
        fo_router_free(r);
        test_free(o);
    }
    assert_int_equal(fo__router_options_sizes[fo__router_options_nsizes - 1],
                     sizeof(fo_router_options));
}

/* A newer caller: the struct is larger than this library knows. */
struct newer_options {
    fo_router_options known;
    uint64_t unknown_field;
    uint64_t another;
};

static void test_newer_size_with_zero_tail_is_accepted(void **state)
{
    struct newer_options n;
    fo_router *r = NULL;

    (void)state;
    assert_int_equal(fo_router_options_init(&n.known, sizeof n), FO_OK);
    assert_int_equal(n.known.size, sizeof n);
    assert_int_equal(n.unknown_field, 0);
    n.known.consecutive_faults = 9;
    assert_int_equal(fo_router_new(&r, &n.known), FO_OK);
    assert_int_equal(r->cfg.consecutive_faults, 9);
    fo_router_free(r);
}

static void test_newer_size_with_set_tail_is_refused(void **state)
{
    struct newer_options n;
    fo_router *r = (fo_router *)0x1;

    (void)state;
    fo_router_options_init(&n.known, sizeof n);
    n.unknown_field = 1;
    assert_int_equal(fo_router_new(&r, &n.known), FO_EVERSION);
    assert_ptr_equal(r, (fo_router *)0x1); /* out untouched on failure */
    n.unknown_field = 0;
    n.another = 1ull << 63;
    assert_int_equal(fo_router_new(&r, &n.known), FO_EVERSION);
}

/* A detector bit this library does not know comes from a newer caller. */
static void test_unknown_detector_is_refused(void **state)
{
    fo_router_options o;
    fo_router *r = NULL;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.detectors_off = 0x80000000u;
    assert_int_equal(fo_router_new(&r, &o), FO_EVERSION);
    assert_null(r);
    o.detectors_off = FO_DETECTOR_CONSECUTIVE | FO_DETECTOR_FAILURE_RATE |
                      FO_DETECTOR_SLOW_CALLS | FO_DETECTOR_DAMPING |
                      FO_DETECTOR_RETRY_AFTER;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    fo_router_free(r);
}

static void test_bad_sizes_are_refused(void **state)
{
    fo_router_options o;
    fo_router *r = NULL;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.size = 0;
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    o.size = fo__router_options_sizes[0] - 1;
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    o.size = (size_t)1 << 40; /* garbage: never read that far */
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    assert_null(r);
    assert_int_equal(fo_router_new(NULL, NULL), FO_EINVAL);
}

static void test_out_of_range_fields(void **state)
{
    fo_router_options o;
    fo_router *r = NULL;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.hold_down_ns = FO_MAX_HOLD_DOWN_NS + 1;
    assert_int_equal(fo_router_new(&r, &o), FO_ERANGE);
    FO_ROUTER_OPTIONS_INIT(&o);
    o.consecutive_faults = FO_MAX_CONSECUTIVE_FAULTS + 1;
    assert_int_equal(fo_router_new(&r, &o), FO_ERANGE);
    FO_ROUTER_OPTIONS_INIT(&o);
    o.max_attempts = FO_ATTEMPT_MAX_ROUTES + 1;
    assert_int_equal(fo_router_new(&r, &o), FO_ERANGE);
    FO_ROUTER_OPTIONS_INIT(&o);
    o.max_routes = FO_ROUTES_MAX + 1;
    assert_int_equal(fo_router_new(&r, &o), FO_ERANGE);
    assert_null(r);

    /* The limits themselves are accepted. */
    FO_ROUTER_OPTIONS_INIT(&o);
    o.hold_down_ns = FO_MAX_HOLD_DOWN_NS;
    o.consecutive_faults = FO_MAX_CONSECUTIVE_FAULTS;
    o.max_attempts = FO_ATTEMPT_MAX_ROUTES;
    o.max_routes = FO_ROUTES_MAX;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    fo_router_free(r);
}

static void test_health_defaults(void **state)
{
    fo_router *r = NULL;

    (void)state;
    assert_int_equal(fo_router_new(&r, NULL), FO_OK);
    assert_true(r->cfg.hold_down_ns == FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(r->cfg.hold_down_max_ns == FO_DEFAULT_HOLD_DOWN_MAX_NS);
    assert_true(r->cfg.hold_down_decay_ns == FO_DEFAULT_HOLD_DOWN_DECAY_NS);
    assert_int_equal(r->cfg.hold_down_multiplier_pct,
                     FO_DEFAULT_HOLD_DOWN_MULTIPLIER_PCT);
    assert_int_equal(r->cfg.hold_down_jitter_pct, 0);
    assert_int_equal(r->cfg.trial_successes, FO_DEFAULT_TRIAL_SUCCESSES);
    assert_int_equal(r->cfg.trial_concurrency, FO_DEFAULT_TRIAL_CONCURRENCY);
    assert_true(r->cfg.trial_timeout_ns == FO_DEFAULT_TRIAL_TIMEOUT_NS);
    assert_true(r->cfg.window_ns == FO_DEFAULT_WINDOW_NS);
    assert_true(r->cfg.bucket_ns == FO_DEFAULT_WINDOW_NS / 12);
    assert_int_equal(r->cfg.window_min_volume, FO_DEFAULT_WINDOW_MIN_VOLUME);
    assert_int_equal(r->cfg.failure_rate_pct, FO_DEFAULT_FAILURE_RATE_PCT);
    assert_int_equal(r->cfg.slow_call_rate_pct, FO_DEFAULT_SLOW_CALL_RATE_PCT);
    assert_true(r->cfg.slow_call_ns == 0);
    assert_true(r->cfg.damping_penalty == FO_DEFAULT_DAMPING_PENALTY);
    assert_true(r->cfg.damping_suppress == FO_DEFAULT_DAMPING_SUPPRESS);
    assert_true(r->cfg.damping_reuse == FO_DEFAULT_DAMPING_REUSE);
    assert_true(r->cfg.damping_half_life_ns == FO_DEFAULT_DAMPING_HALF_LIFE_NS);
    /* ceiling = 750 * 2^(1200 s / 300 s) = 12000 */
    assert_true(r->cfg.damping_ceiling > 11999.999 &&
                r->cfg.damping_ceiling < 12000.001);
    assert_true(r->cfg.retry_after_max_ns == FO_DEFAULT_RETRY_AFTER_MAX_NS);
    fo_router_free(r);
}

static int new_with(fo_router_options *o)
{
    fo_router *r = NULL;
    int rc = fo_router_new(&r, o);

    fo_router_free(r);
    return rc;
}

static void test_health_ranges(void **state)
{
    fo_router_options o;

    (void)state;
#define EXPECT(field, value, code)                                             \
    do {                                                                       \
        FO_ROUTER_OPTIONS_INIT(&o);                                            \
        o.field = (value);                                                     \
        assert_int_equal(new_with(&o), (code));                                \
    } while (0)
    EXPECT(failure_rate_pct, 101, FO_ERANGE);
    EXPECT(failure_rate_pct, 100, FO_OK);
    EXPECT(slow_call_rate_pct, 101, FO_ERANGE);
    EXPECT(hold_down_jitter_pct, 101, FO_ERANGE);
    EXPECT(hold_down_jitter_pct, 100, FO_OK);
    EXPECT(hold_down_multiplier_pct, 99, FO_ERANGE);
    EXPECT(hold_down_multiplier_pct, 100, FO_OK);
    EXPECT(hold_down_multiplier_pct, 1000, FO_OK);
    EXPECT(hold_down_multiplier_pct, 1001, FO_ERANGE);
    EXPECT(trial_concurrency, FO_MAX_TRIAL_CONCURRENCY + 1, FO_ERANGE);
    EXPECT(trial_concurrency, FO_MAX_TRIAL_CONCURRENCY, FO_OK);
    EXPECT(trial_successes, FO_MAX_CONSECUTIVE_FAULTS + 1, FO_ERANGE);
    /* "Zero" half-life: anything below a second is refused (0 itself
     * means the default). */
    EXPECT(damping_half_life_ns, 1, FO_ERANGE);
    EXPECT(damping_half_life_ns, FO_SECOND_NS - 1, FO_ERANGE);
    EXPECT(window_ns, FO_SECOND_NS - 1, FO_ERANGE);
    EXPECT(window_ns, 3601 * FO_SECOND_NS, FO_ERANGE);
    EXPECT(window_ns, FO_SECOND_NS, FO_OK);
    EXPECT(slow_call_ns, 3601 * FO_SECOND_NS, FO_ERANGE);
    EXPECT(trial_timeout_ns, 25 * 3600 * FO_SECOND_NS, FO_ERANGE);
    EXPECT(retry_after_max_ns, FO_MAX_HOLD_DOWN_NS + 1, FO_ERANGE);
    EXPECT(damping_penalty, 1000001, FO_ERANGE);
#undef EXPECT
}

static void test_inconsistent_thresholds(void **state)
{
    fo_router_options o;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.damping_reuse = 3000;
    o.damping_suppress = 3000;
    assert_int_equal(new_with(&o), FO_EINVAL); /* reuse == suppress */
    o.damping_reuse = 3001;
    assert_int_equal(new_with(&o), FO_EINVAL); /* reuse > suppress */
    o.damping_reuse = 2999;
    assert_int_equal(new_with(&o), FO_OK);

    /* A ceiling that never reaches suppress (2500): 750 * 2^(300/300) is
     * 1500, 750 * 2^(521/300) is 2499.5; 750 * 2^(522/300) is 2505.3. */
    FO_ROUTER_OPTIONS_INIT(&o);
    o.damping_max_suppress_ns = o.damping_half_life_ns = 300 * FO_SECOND_NS;
    assert_int_equal(new_with(&o), FO_EINVAL);
    o.damping_max_suppress_ns = 521 * FO_SECOND_NS;
    assert_int_equal(new_with(&o), FO_EINVAL);
    o.damping_max_suppress_ns = 522 * FO_SECOND_NS;
    assert_int_equal(new_with(&o), FO_OK);

    FO_ROUTER_OPTIONS_INIT(&o);
    o.hold_down_ns = 60 * FO_SECOND_NS;
    o.hold_down_max_ns = 30 * FO_SECOND_NS;
    assert_int_equal(new_with(&o), FO_EINVAL);
    /* A first hold-down above the default cap raises the cap with it. */
    o.hold_down_max_ns = 0;
    o.hold_down_ns = 600 * FO_SECOND_NS;
    assert_int_equal(new_with(&o), FO_OK);
}

static uint64_t fixed_clock(void *userdata)
{
    return *(uint64_t *)userdata;
}

static void test_clock_table_versioning(void **state)
{
    uint64_t t = 42 * SEC, now = 0;
    struct {
        fo_clock known;
        uint64_t newer;
    } big;
    fo_clock c = FO_CLOCK_INIT(fixed_clock, &t);
    fo_router_options o;
    fo_router *r = NULL;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.clock = &c;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    assert_int_equal(fo_router_now(r, &now), FO_OK);
    assert_true(now == 42 * SEC);
    fo_router_free(r);

    c.now_ns = NULL;
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    c.now_ns = fixed_clock;
    c.size = sizeof(size_t);
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);

    memset(&big, 0, sizeof big);
    big.known = c;
    big.known.size = sizeof big;
    o.clock = &big.known;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    fo_router_free(r);
    big.newer = 7;
    assert_int_equal(fo_router_new(&r, &o), FO_EVERSION);
}

static void test_allocator_table(void **state)
{
    struct test_alloc ta = {0, 0, -1};
    fo_allocator a = FO_ALLOCATOR_INIT(test_alloc_cb, test_free_cb, &ta);
    fo_router_options o;
    fo_router *r = NULL;
    fo_route_id id;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.allocator = &a;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    assert_true(ta.live > 0);
    assert_int_equal(fo_route_add(r, "a", 1, 1, 0, &id), FO_OK);
    assert_int_equal(fo_router_free(r), FO_OK);
    assert_int_equal(ta.live, 0);

    a.free = NULL;
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    a.free = test_free_cb;
    a.alloc = NULL;
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    a.alloc = test_alloc_cb;
    a.size = 1;
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
}

static void test_new_out_of_memory(void **state)
{
    struct test_alloc ta = {0, 0, 0};
    fo_allocator a = FO_ALLOCATOR_INIT(test_alloc_cb, test_free_cb, &ta);
    fo_router_options o;
    fo_router *r = NULL;

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.allocator = &a;
    assert_int_equal(fo_router_new(&r, &o), FO_ENOMEM);
    assert_null(r);
    assert_int_equal(ta.live, 0);
}

static void test_free_null_is_noop(void **state)
{
    (void)state;
    assert_int_equal(fo_router_free(NULL), FO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_input),
        cmocka_unit_test(test_init_zeroes_and_sets_size),
        cmocka_unit_test(test_null_options_give_defaults),
        cmocka_unit_test(test_zero_fields_give_defaults),
        cmocka_unit_test(test_fields_are_applied_and_copied),
        cmocka_unit_test(test_every_historical_size_is_accepted),
        cmocka_unit_test(test_newer_size_with_zero_tail_is_accepted),
        cmocka_unit_test(test_newer_size_with_set_tail_is_refused),
        cmocka_unit_test(test_unknown_detector_is_refused),
        cmocka_unit_test(test_health_defaults),
        cmocka_unit_test(test_health_ranges),
        cmocka_unit_test(test_inconsistent_thresholds),
        cmocka_unit_test(test_bad_sizes_are_refused),
        cmocka_unit_test(test_out_of_range_fields),
        cmocka_unit_test(test_clock_table_versioning),
        cmocka_unit_test(test_allocator_table),
        cmocka_unit_test(test_new_out_of_memory),
        cmocka_unit_test(test_free_null_is_noop),
    };
    return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
