/* Routes: add, update, remove, lookup, names, ids, limits, memory. */
#include "internal-helpers.h"

static void test_add_and_lookup(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b, found = 0;
    char name[FO_ROUTE_NAME_MAX + 1];

    assert_int_equal(fo_route_add(f->router, "carrier-a", 1, 10, 250, &a),
                     FO_OK);
    assert_int_equal(fo_route_add(f->router, "carrier-b", 2, 0, 100, &b),
                     FO_OK);
    assert_true(a != b);
    assert_true(a != FO_ROUTE_ID_NONE && b != FO_ROUTE_ID_NONE);
    assert_int_equal(fo_route_lookup(f->router, "carrier-a", &found), FO_OK);
    assert_true(found == a);
    assert_int_equal(fo_route_lookup(f->router, "carrier-b", &found), FO_OK);
    assert_true(found == b);
    assert_int_equal(fo_route_get_name(f->router, b, name, sizeof name), FO_OK);
    assert_string_equal(name, "carrier-b");
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);

    struct fo__route *rt = fo__route_get(f->router, a);
    assert_non_null(rt);
    assert_int_equal(rt->priority, 1);
    assert_int_equal(rt->weight, 10);
    assert_int_equal(rt->cost, 250);
}

static void test_duplicate_name_is_refused(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, dup = 77;

    a = add_route(f->router, "trunk", 1);
    assert_rejected(f->router, FO_EEXIST,
                    fo_route_add(f->router, "trunk", 5, 1, 0, &dup));
    assert_true(dup == 77); /* out untouched */
    /* Names are exact: case and length matter. */
    assert_true(add_route(f->router, "Trunk", 1) != a);
    assert_true(add_route(f->router, "trunk2", 1) != a);
}

static void test_bad_names(void **state)
{
    struct fixture *f = *state;
    char longest[FO_ROUTE_NAME_MAX + 1];
    char too_long[FO_ROUTE_NAME_MAX + 2];
    char unterminated[FO_ROUTE_NAME_MAX + 1]; /* no NUL anywhere */
    fo_route_id id;

    memset(longest, 'x', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memset(too_long, 'y', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    memset(unterminated, 'z', sizeof unterminated);

    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(f->router, NULL, 1, 1, 0, &id));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(f->router, "", 1, 1, 0, &id));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(f->router, too_long, 1, 1, 0, &id));
    /* Read at most FO_ROUTE_NAME_MAX + 1 bytes (ASan checks the bound). */
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(f->router, unterminated, 1, 1, 0, &id));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(f->router, "tab\there", 1, 1, 0, &id));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(f->router, "nl\n", 1, 1, 0, &id));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(f->router, "del\x7f", 1, 1, 0, &id));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(f->router, "ok", 1, 1, 0, NULL));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_add(NULL, "ok", 1, 1, 0, &id));

    /* The longest legal name, and UTF-8, are fine. */
    assert_int_equal(fo_route_add(f->router, longest, 1, 1, 0, &id), FO_OK);
    assert_int_equal(fo_route_add(f->router, "m\xc3\xbcnchen", 1, 1, 0, &id),
                     FO_OK);

    /* Lookup of impossible names is a plain miss. */
    assert_int_equal(fo_route_lookup(f->router, "", &id), FO_ENOENT);
    assert_int_equal(fo_route_lookup(f->router, too_long, &id), FO_ENOENT);
    assert_int_equal(fo_route_lookup(f->router, unterminated, &id), FO_ENOENT);
}

static void test_weight_range(void **state)
{
    struct fixture *f = *state;
    fo_route_id id;

    assert_rejected(
        f->router, FO_ERANGE,
        fo_route_add(f->router, "heavy", 1, FO_WEIGHT_MAX + 1, 0, &id));
    assert_int_equal(
        fo_route_add(f->router, "heavy", 1, FO_WEIGHT_MAX, UINT32_MAX, &id),
        FO_OK);
    assert_int_equal(fo_route_add(f->router, "backup", 1, 0, 0, &id), FO_OK);
    assert_rejected(f->router, FO_ERANGE,
                    fo_route_update(f->router, id, 1, FO_WEIGHT_MAX + 1, 0));
}

static void test_update(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    struct fo__route *rt;

    report_n(f->router, a, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(fo_route_update(f->router, a, 9, 3, 44), FO_OK);
    rt = fo__route_get(f->router, a);
    assert_int_equal(rt->priority, 9);
    assert_int_equal(rt->weight, 3);
    assert_int_equal(rt->cost, 44);
    /* Health and counters survive an update. */
    assert_int_equal(rt->health.consecutive_faults, 1);
    assert_int_equal(rt->counters.results[FO_RESULT_TIMEOUT - 1], 1);

    assert_rejected(f->router, FO_ENOENT,
                    fo_route_update(f->router, a + 1, 1, 1, 1));
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_update(f->router, FO_ROUTE_ID_NONE, 1, 1, 1));
    assert_int_equal(fo_route_update(NULL, a, 1, 1, 1), FO_EINVAL);
}

static void test_remove_kills_the_id_forever(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_id b, again;
    fo_route_state st;
    char buf[8];

    assert_int_equal(fo_route_remove(f->router, a), FO_OK);
    assert_rejected(f->router, FO_ENOENT, fo_route_remove(f->router, a));
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_update(f->router, a, 1, 1, 1));
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_get_state(f->router, a, &st));
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_get_name(f->router, a, buf, sizeof buf));
    assert_rejected(f->router, FO_ENOENT,
                    fo_report_result(f->router, a, FO_RESULT_SUCCESS, NULL));
    assert_int_equal(fo_route_lookup(f->router, "a", &again), FO_ENOENT);

    /* The slot is reused, but the new route gets a new id and the old id
     * still names nothing. */
    b = add_route(f->router, "a", 1);
    assert_true(b != a);
    assert_int_equal(fo_route_get_state(f->router, a, &st), FO_ENOENT);
    assert_int_equal(fo_route_lookup(f->router, "a", &again), FO_OK);
    assert_true(again == b);
}

static void test_ids_never_repeat_under_churn(void **state)
{
    struct fixture *f = *state;
    enum { N = 2000 };
    fo_route_id *seen = test_malloc(N * sizeof *seen);

    for (int i = 0; i < N; i++) {
        seen[i] = add_route(f->router, "churn", 1);
        for (int j = 0; j < i; j++)
            assert_true(seen[j] != seen[i]);
        assert_int_equal(fo_route_remove(f->router, seen[i]), FO_OK);
    }
    test_free(seen);
}

static void test_exhausted_generation_retires_slot(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1), b;
    uint32_t index = FO__ID_INDEX(a);

    /* Pretend the slot has been reused until its generation ran out. */
    a = FO__MAKE_ID(FO__ID_GEN_MAX, f->router->id_salt, index);
    fo__table_slot(&f->router->routes, index)->gen = FO__ID_GEN_MAX;
    ((struct fo__route *)fo__table_at(&f->router->routes, index))->id = a;
    assert_int_equal(fo_route_remove(f->router, a), FO_OK);
    b = add_route(f->router, "b", 1);
    assert_true(FO__ID_INDEX(b) != index); /* the slot is retired */
    assert_int_equal(fo_route_remove(f->router, a), FO_ENOENT);
}

/* An id is a handle inside one router: another router's ids, even for the
 * same slot and generation, name nothing here. */
static void test_ids_of_another_router(void **state)
{
    struct fixture *f = *state;
    fo_router *other;
    fo_route_id mine = add_route(f->router, "campaign-1", 1);
    fo_route_id theirs;
    fo_route_state st;
    char buf[16];

    assert_int_equal(fo_router_new(&other, NULL), FO_OK);
    assert_int_equal(fo_route_add(other, "campaign-2", 1, 1, 0, &theirs),
                     FO_OK);
    assert_true(FO__ID_INDEX(mine) == FO__ID_INDEX(theirs));
    assert_true(mine != theirs);
    assert_rejected(
        f->router, FO_ENOENT,
        fo_report_result(f->router, theirs, FO_RESULT_TIMEOUT, NULL));
    assert_rejected(f->router, FO_ENOENT, fo_route_remove(f->router, theirs));
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_update(f->router, theirs, 1, 1, 1));
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_get_state(f->router, theirs, &st));
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_get_name(f->router, theirs, buf, sizeof buf));
    assert_int_equal(fo_route_get_state(other, mine, &st), FO_ENOENT);
    fo_router_free(other);
}

static void test_bad_ids(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    static const fo_route_id bad[] = {
        0, 1, 0xffffffffu, UINT64_MAX, (1ull << 32) | 5, (2ull << 32),
    };
    fo_route_state st;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i] == a)
            continue;
        assert_rejected(f->router, FO_ENOENT,
                        fo_route_get_state(f->router, bad[i], &st));
        assert_rejected(f->router, FO_ENOENT,
                        fo_route_remove(f->router, bad[i]));
    }
    /* An id whose index exists but with the wrong generation. */
    assert_rejected(f->router, FO_ENOENT,
                    fo_route_remove(f->router, a + (1ull << 32)));
}

static void test_get_name_buffer(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "carrier", 1);
    char buf[4];
    char big[FO_ROUTE_NAME_MAX + 1];

    assert_int_equal(fo_route_get_name(f->router, a, buf, sizeof buf),
                     FO_ERANGE);
    assert_string_equal(buf, "car");
    assert_int_equal(fo_route_get_name(f->router, a, buf, 1), FO_ERANGE);
    assert_string_equal(buf, "");
    assert_int_equal(fo_route_get_name(f->router, a, big, 8), FO_OK);
    assert_string_equal(big, "carrier");
    assert_int_equal(fo_route_get_name(f->router, a, big, 7), FO_ERANGE);
    assert_string_equal(big, "carrie");
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_get_name(f->router, a, NULL, 8));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_get_name(f->router, a, big, 0));
    assert_int_equal(fo_route_get_name(NULL, a, big, 8), FO_EINVAL);
}

static void test_lookup_and_state_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1), out;

    assert_rejected(f->router, FO_EINVAL,
                    fo_route_lookup(f->router, NULL, &out));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_lookup(f->router, "a", NULL));
    assert_int_equal(fo_route_lookup(NULL, "a", &out), FO_EINVAL);
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_get_state(f->router, a, NULL));
    assert_int_equal(fo_route_get_state(NULL, a, NULL), FO_EINVAL);
    assert_int_equal(fo_route_remove(NULL, a), FO_EINVAL);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(fo_route_state_name(FO_STATE_UP), "UP");
    assert_string_equal(fo_route_state_name(FO_STATE_EJECTED), "EJECTED");
    assert_string_equal(fo_route_state_name((fo_route_state)99), "UNKNOWN");
    assert_string_equal(fo_route_state_name((fo_route_state)-1), "UNKNOWN");
}

static void test_max_routes(void **state)
{
    struct fixture *f = *state;
    fo_route_id id;

    fixture_close(f);
    fixture_prepare(f);
    f->opts.max_routes = 3;
    fixture_open(f);
    add_route(f->router, "a", 1);
    id = add_route(f->router, "b", 1);
    add_route(f->router, "c", 1);
    assert_rejected(f->router, FO_ELIMIT,
                    fo_route_add(f->router, "d", 1, 1, 0, &id));
    /* Removing one makes room again. */
    assert_int_equal(fo_route_remove(f->router, id), FO_OK);
    add_route(f->router, "d", 1);
}

/* Every allocation made by fo_route_add can fail; each failure leaves
 * the router exactly as it was and leaks nothing. */
static void test_add_out_of_memory_at_every_step(void **state)
{
    struct fixture *f = *state;
    char name[32];
    int failures = 0;

    for (int i = 0; i < 40; i++) {
        long budget;
        fo_route_id id;

        snprintf(name, sizeof name, "r%d", i);
        /* Try with 0, 1, 2, ... allocations allowed until it works. */
        for (budget = 0;; budget++) {
            int rc;

            f->alloc.fail_after = f->alloc.calls + budget;
            {
                uint64_t before = fo__router_digest(f->router);
                long live = f->alloc.live;

                rc = fo_route_add(f->router, name, 1, 1, 0, &id);
                if (rc == FO_ENOMEM) {
                    /* Nothing visible changed; a table may have grown
                     * (it is the router's, freed with it: the fixture
                     * checks that nothing leaks). */
                    assert_true(fo__router_digest(f->router) == before);
                    assert_true(f->alloc.live >= live);
                    failures++;
                    continue;
                }
            }
            assert_int_equal(rc, FO_OK);
            break;
        }
        f->alloc.fail_after = -1;
    }
    /* Every growth (the route table's directory and first chunk, the name
     * index, the default list's arrays) failed once at least. */
    assert_true(failures >= 4);
    for (int i = 0; i < 40; i++) {
        fo_route_id id;

        snprintf(name, sizeof name, "r%d", i);
        assert_int_equal(fo_route_lookup(f->router, name, &id), FO_OK);
    }
}

static void test_many_routes(void **state)
{
    struct fixture *f = *state;
    enum { N = 20000 };
    char name[32];
    fo_route_id id;

    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "route-%d", i);
        assert_int_equal(
            fo_route_add(f->router, name, (uint32_t)(i % 7), 1, 0, &id), FO_OK);
    }
    for (int i = 0; i < N; i += 97) {
        char back[FO_ROUTE_NAME_MAX + 1];

        snprintf(name, sizeof name, "route-%d", i);
        assert_int_equal(fo_route_lookup(f->router, name, &id), FO_OK);
        assert_int_equal(fo_route_get_name(f->router, id, back, sizeof back),
                         FO_OK);
        assert_string_equal(back, name);
    }
    /* Remove every other one; the rest stay reachable by name. */
    for (int i = 0; i < N; i += 2) {
        snprintf(name, sizeof name, "route-%d", i);
        assert_int_equal(fo_route_lookup(f->router, name, &id), FO_OK);
        assert_int_equal(fo_route_remove(f->router, id), FO_OK);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "route-%d", i);
        assert_int_equal(fo_route_lookup(f->router, name, &id),
                         i % 2 ? FO_OK : FO_ENOENT);
    }
}

/* The selection order is kept sorted through adds, priority changes and
 * removals, without ever sorting (no allocation on the pick path). */
static void test_order_stays_sorted(void **state)
{
    struct fixture *f = *state;
    enum { N = 600 };
    fo_route_id ids[N];
    uint32_t x = 99;
    char name[16];

    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        snprintf(name, sizeof name, "r%d", i);
        assert_int_equal(
            fo_route_add(f->router, name, (x >> 16) % 50, 1, 0, &ids[i]),
            FO_OK);
    }
    for (int round = 0; round < 3 * N; round++) {
        const struct fo__plan *t = &f->router->defplan;
        int i = (int)((x >> 8) % N);

        x = x * 1103515245u + 12345u;
        if (round % 3 == 0 && ids[i] != FO_ROUTE_ID_NONE) {
            assert_int_equal(fo_route_remove(f->router, ids[i]), FO_OK);
            ids[i] = FO_ROUTE_ID_NONE;
        } else if (ids[i] != FO_ROUTE_ID_NONE) {
            assert_int_equal(
                fo_route_update(f->router, ids[i], (x >> 16) % 50, 1, 0),
                FO_OK);
        } else {
            snprintf(name, sizeof name, "r%d", i);
            assert_int_equal(
                fo_route_add(f->router, name, (x >> 16) % 50, 1, 0, &ids[i]),
                FO_OK);
        }
        for (uint32_t k = 1; k < t->count; k++) {
            const struct fo__entry *p = &t->entries[k - 1], *q = &t->entries[k];

            assert_true(p->priority < q->priority ||
                        (p->priority == q->priority && p->seq < q->seq));
            assert_true(p->priority == p->rt->priority);
        }
    }
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_add_and_lookup),
        T(test_duplicate_name_is_refused),
        T(test_bad_names),
        T(test_weight_range),
        T(test_update),
        T(test_remove_kills_the_id_forever),
        T(test_ids_never_repeat_under_churn),
        T(test_exhausted_generation_retires_slot),
        T(test_ids_of_another_router),
        T(test_order_stays_sorted),
        T(test_bad_ids),
        T(test_get_name_buffer),
        T(test_lookup_and_state_bad_input),
        T(test_state_names),
        T(test_max_routes),
        T(test_add_out_of_memory_at_every_step),
        T(test_many_routes),
    };
    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
