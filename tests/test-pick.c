/* Selection: strict priority order, retries that move down the list,
 * the attempt context and its limits. */
#include "internal-helpers.h"

static void test_lowest_priority_value_first(void **state)
{
    struct fixture *f = *state;
    fo_route_id c = add_route(f->router, "c", 30);
    fo_route_id a = add_route(f->router, "a", 10);
    fo_route_id b = add_route(f->router, "b", 20);

    (void)b;
    (void)c;
    /* Without an attempt every pick is a fresh call: always the best. */
    for (int i = 0; i < 5; i++)
        assert_true(pick(f->router, NULL) == a);
}

static void test_retry_moves_down_the_list(void **state)
{
    struct fixture *f = *state;
    fo_route_id c = add_route(f->router, "c", 30);
    fo_route_id a = add_route(f->router, "a", 10);
    fo_route_id b = add_route(f->router, "b", 20);
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out = 99;

    assert_true(pick(f->router, &at) == a);
    assert_true(pick(f->router, &at) == b);
    assert_true(pick(f->router, &at) == c);
    assert_int_equal(fo_attempt_count(&at), 3);
    assert_true(fo_attempt_route(&at, 0) == a);
    assert_true(fo_attempt_route(&at, 1) == b);
    assert_true(fo_attempt_route(&at, 2) == c);
    assert_true(fo_attempt_route(&at, 3) == FO_ROUTE_ID_NONE);
    /* The default limit is 3 attempts: the 4th pick reports the limit. */
    assert_int_equal(fo_pick_route(f->router, &at, &out), FO_ELIMIT);
    assert_true(out == FO_ROUTE_ID_NONE);
}

static void test_no_more_routes(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out = 99;

    assert_true(pick(f->router, &at) == a);
    assert_true(pick(f->router, &at) == b);
    assert_int_equal(fo_pick_route(f->router, &at, &out), FO_ENOROUTE);
    assert_true(out == FO_ROUTE_ID_NONE);
    assert_int_equal(fo_attempt_count(&at), 2);
}

static void test_equal_priority_in_order_of_addition(void **state)
{
    struct fixture *f = *state;
    fo_route_id x = add_route(f->router, "x", 5);
    fo_route_id y = add_route(f->router, "y", 5);
    fo_route_id z = add_route(f->router, "z", 5);
    fo_attempt at = FO_ATTEMPT_INIT;

    assert_true(pick(f->router, &at) == x);
    assert_true(pick(f->router, &at) == y);
    assert_true(pick(f->router, &at) == z);
}

static void test_skips_ejected_routes(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_route_id c = add_route(f->router, "c", 3);
    fo_attempt at = FO_ATTEMPT_INIT;

    report_n(f->router, a, FO_RESULT_CONGESTION, FO_DEFAULT_CONSECUTIVE_FAULTS);
    assert_int_equal(route_state(f->router, a), FO_STATE_EJECTED);
    assert_true(pick(f->router, NULL) == b);
    assert_true(pick(f->router, &at) == b);
    assert_true(pick(f->router, &at) == c);

    /* Every route out: no route. */
    report_n(f->router, b, FO_RESULT_UNAVAILABLE,
             FO_DEFAULT_CONSECUTIVE_FAULTS);
    report_n(f->router, c, FO_RESULT_REJECTED, FO_DEFAULT_CONSECUTIVE_FAULTS);
    fo_route_id out;
    assert_int_equal(fo_pick_route(f->router, NULL, &out), FO_ENOROUTE);
}

static void test_update_and_remove_change_the_order(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_route_id out;

    assert_true(pick(f->router, NULL) == a);
    assert_int_equal(fo_route_update(f->router, b, 0, 1, 0), FO_OK);
    assert_true(pick(f->router, NULL) == b);
    assert_int_equal(fo_route_remove(f->router, b), FO_OK);
    assert_true(pick(f->router, NULL) == a);
    assert_int_equal(fo_route_remove(f->router, a), FO_OK);
    assert_int_equal(fo_pick_route(f->router, NULL, &out), FO_ENOROUTE);
}

static void test_attempt_is_copyable(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b = add_route(f->router, "b", 2);
    fo_route_id c = add_route(f->router, "c", 3);
    fo_attempt first = FO_ATTEMPT_INIT, copy;

    assert_true(pick(f->router, &first) == a);
    copy = first; /* plain assignment: no pointers inside */
    assert_true(pick(f->router, &first) == b);
    assert_true(pick(f->router, &copy) == b);
    assert_true(pick(f->router, &copy) == c);
    assert_true(pick(f->router, &first) == c);
}

static void test_attempt_limit_option(void **state)
{
    struct fixture *f = *state;
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out;
    char name[8];

    fixture_close(f);
    fixture_prepare(f);
    f->opts.max_attempts = FO_ATTEMPT_MAX_ROUTES;
    fixture_open(f);
    for (unsigned i = 0; i < FO_ATTEMPT_MAX_ROUTES + 4; i++) {
        snprintf(name, sizeof name, "r%u", i);
        add_route(f->router, name, i);
    }
    for (unsigned i = 0; i < FO_ATTEMPT_MAX_ROUTES; i++)
        pick(f->router, &at);
    assert_int_equal(fo_attempt_count(&at), FO_ATTEMPT_MAX_ROUTES);
    assert_rejected(f->router, FO_ELIMIT, fo_pick_route(f->router, &at, &out));

    fixture_close(f);
    fixture_prepare(f);
    f->opts.max_attempts = 1;
    fixture_open(f);
    add_route(f->router, "a", 1);
    add_route(f->router, "b", 2);
    fo_attempt_init(&at);
    pick(f->router, &at);
    assert_rejected(f->router, FO_ELIMIT, fo_pick_route(f->router, &at, &out));
}

static void test_attempt_from_another_router_is_refused(void **state)
{
    struct fixture *f = *state;
    fo_router *other;
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out, a;

    a = add_route(f->router, "a", 1);
    assert_int_equal(fo_router_new(&other, NULL), FO_OK);
    add_route(other, "a", 1);
    pick(other, &at);
    assert_rejected(f->router, FO_EINVAL, fo_pick_route(f->router, &at, &out));
    assert_rejected(f->router, FO_EINVAL,
                    fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &at));
    fo_router_free(other);
}

static void test_corrupt_attempt_is_refused(void **state)
{
    struct fixture *f = *state;
    fo_route_id out;
    fo_attempt at;

    add_route(f->router, "a", 1);
    add_route(f->router, "b", 2);

    /* A count beyond capacity. */
    fo_attempt_init(&at);
    pick(f->router, &at);
    at.fo_private_[1] = 99;
    assert_rejected(f->router, FO_EINVAL, fo_pick_route(f->router, &at, &out));
    assert_int_equal(fo_attempt_count(&at), 0);
    assert_true(fo_attempt_route(&at, 0) == FO_ROUTE_ID_NONE);

    /* Uninitialised garbage. */
    memset(&at, 0x5a, sizeof at);
    assert_rejected(f->router, FO_EINVAL, fo_pick_route(f->router, &at, &out));

    /* A route slot filled beyond the count. */
    fo_attempt_init(&at);
    pick(f->router, &at);
    at.fo_private_[4 + 5] = 7;
    assert_rejected(f->router, FO_EINVAL, fo_pick_route(f->router, &at, &out));

    /* Reserved words must stay zero. */
    fo_attempt_init(&at);
    at.fo_private_[3] = 1;
    assert_rejected(f->router, FO_EINVAL, fo_pick_route(f->router, &at, &out));
    fo_attempt_init(&at);
    at.fo_private_[31] = 1;
    assert_rejected(f->router, FO_EINVAL, fo_pick_route(f->router, &at, &out));

    /* A reported bit for a route the attempt does not hold. */
    fo_attempt_init(&at);
    pick(f->router, &at);
    at.fo_private_[1] |= (uint64_t)1 << (32 + 3);
    assert_rejected(f->router, FO_EINVAL, fo_pick_route(f->router, &at, &out));

    /* A fresh attempt is fine again. */
    fo_attempt_init(&at);
    pick(f->router, &at);
}

static void test_pick_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out;

    add_route(f->router, "a", 1);
    assert_rejected(f->router, FO_EINVAL, fo_pick_route(f->router, &at, NULL));
    assert_int_equal(fo_pick_route(NULL, &at, &out), FO_EINVAL);
    assert_int_equal(fo_attempt_count(&at), 0);
    assert_int_equal(fo_attempt_init(NULL), FO_EINVAL);
    assert_int_equal(fo_attempt_count(NULL), 0);
    assert_true(fo_attempt_route(NULL, 0) == FO_ROUTE_ID_NONE);
}

static void test_empty_router(void **state)
{
    struct fixture *f = *state;
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out = 5;

    assert_int_equal(fo_pick_route(f->router, &at, &out), FO_ENOROUTE);
    assert_true(out == FO_ROUTE_ID_NONE);
    assert_int_equal(fo_attempt_count(&at), 0);
}

static void test_removed_route_is_never_picked(void **state)
{
    struct fixture *f = *state;
    fo_route_id ids[50];
    char name[8];

    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof name, "r%d", i);
        ids[i] = add_route(f->router, name, (uint32_t)i);
    }
    for (int i = 0; i < 50; i++) {
        assert_true(pick(f->router, NULL) == ids[i]);
        assert_int_equal(fo_route_remove(f->router, ids[i]), FO_OK);
    }
}

/* Weight 0 marks a backup-only route: used only when nothing else is. */
static void test_weight_zero_is_backup_only(void **state)
{
    struct fixture *f = *state;
    fo_route_id backup, a, b;
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_route_id out;

    assert_int_equal(fo_route_add(f->router, "backup", 1, 0, 0, &backup),
                     FO_OK);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 5);
    assert_true(pick(f->router, NULL) == a);
    assert_true(pick(f->router, &at) == a);
    assert_true(pick(f->router, &at) == b);
    assert_true(pick(f->router, &at) == backup);
    assert_int_equal(fo_attempt_count(&at), 3);
    fo_attempt_init(&at);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    report_n(f->router, b, FO_RESULT_TIMEOUT, 3);
    assert_true(pick(f->router, &at) == backup);
    assert_int_equal(fo_pick_route(f->router, &at, &out), FO_ENOROUTE);
}

/* An attempt that remembers FO_ATTEMPT_MAX_ROUTES routes cannot take a
 * report for another one without losing "once per call": refused. */
static void test_full_attempt_refuses_new_routes(void **state)
{
    struct fixture *f = *state;
    fo_route_id extra;
    fo_attempt at = FO_ATTEMPT_INIT, copy;
    char name[8];

    f->opts.max_attempts = FO_ATTEMPT_MAX_ROUTES;
    fixture_reopen(f);
    for (unsigned i = 0; i < FO_ATTEMPT_MAX_ROUTES; i++) {
        snprintf(name, sizeof name, "r%u", i);
        add_route(f->router, name, i);
        pick(f->router, &at);
    }
    extra = add_route(f->router, "extra", 100);
    copy = at;
    assert_rejected(f->router, FO_ELIMIT,
                    fo_report_result(f->router, extra, FO_RESULT_TIMEOUT, &at));
    assert_memory_equal(&at, &copy, sizeof at);
    /* Routes it remembers still report once each. */
    assert_int_equal(fo_report_result(f->router, fo_attempt_route(&at, 0),
                                      FO_RESULT_TIMEOUT, &at),
                     FO_OK);
}

/* The accessors apply the same checks as the router: a corrupt attempt
 * reads as empty. */
static void test_accessors_on_corrupt_attempts(void **state)
{
    struct fixture *f = *state;
    fo_attempt at = FO_ATTEMPT_INIT;

    add_route(f->router, "a", 1);
    pick(f->router, &at);
    assert_int_equal(fo_attempt_count(&at), 1);
    at.fo_private_[3] = 1; /* reserved word */
    assert_int_equal(fo_attempt_count(&at), 0);
    assert_true(fo_attempt_route(&at, 0) == FO_ROUTE_ID_NONE);
    fo_attempt_init(&at);
    at.fo_private_[1] = 5; /* count without routes */
    assert_int_equal(fo_attempt_count(&at), 0);
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lowest_priority_value_first),
        T(test_retry_moves_down_the_list),
        T(test_no_more_routes),
        T(test_equal_priority_in_order_of_addition),
        T(test_skips_ejected_routes),
        T(test_update_and_remove_change_the_order),
        T(test_attempt_is_copyable),
        T(test_attempt_limit_option),
        T(test_attempt_from_another_router_is_refused),
        T(test_corrupt_attempt_is_refused),
        T(test_pick_bad_input),
        T(test_empty_router),
        T(test_removed_route_is_never_picked),
        T(test_weight_zero_is_backup_only),
        T(test_full_attempt_refuses_new_routes),
        T(test_accessors_on_corrupt_attempts),
    };
    return cmocka_run_group_tests_name("pick", tests, NULL, NULL);
}
