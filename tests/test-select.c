/*
 * Selection: smooth weighted round robin (exact sequences and shares),
 * priority tiers and spill-over, the weighted and least-cost policies,
 * plans sharing health, panic both ways, the ejection guard on 2-, 3- and
 * 10-route fleets, the local-fault guard, slow start and explanations.
 */
#include "internal-helpers.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static fo_route_id add_w(fo_router *r, const char *name, uint32_t priority,
                         uint32_t weight, uint32_t cost)
{
    fo_route_id id;

    assert_int_equal(fo_route_add(r, name, priority, weight, cost, &id), FO_OK);
    return id;
}

static void eject(fo_router *r, fo_route_id id)
{
    report_n(r, id, FO_RESULT_TIMEOUT, FO_DEFAULT_CONSECUTIVE_FAULTS);
    assert_int_equal(route_state(r, id), FO_STATE_EJECTED);
}

/* Picks n times without an attempt and writes the names' first letters. */
static void sequence(fo_router *r, int n, char *out)
{
    for (int i = 0; i < n; i++) {
        char name[FO_ROUTE_NAME_MAX + 1];

        assert_int_equal(fo_route_get_name(r, pick(r, NULL), name, sizeof name),
                         FO_OK);
        out[i] = name[0];
    }
    out[n] = '\0';
}

/* ---- smooth weighted round robin --------------------------------------- */

static void test_swrr_nginx_sequence(void **state)
{
    struct fixture *f = *state;
    char seq[32];

    add_w(f->router, "a", 1, 5, 0);
    add_w(f->router, "b", 1, 1, 0);
    add_w(f->router, "c", 1, 1, 0);
    sequence(f->router, 14, seq);
    assert_string_equal(seq, "aabacaaaabacaa");
}

static void test_swrr_other_sequences(void **state)
{
    struct fixture *f = *state;
    char seq[32];

    add_w(f->router, "x", 1, 2, 0);
    add_w(f->router, "y", 1, 1, 0);
    sequence(f->router, 6, seq);
    assert_string_equal(seq, "xyxxyx");

    fixture_reopen(f);
    add_w(f->router, "p", 1, 1, 0);
    add_w(f->router, "q", 1, 1, 0);
    add_w(f->router, "r", 1, 1, 0);
    sequence(f->router, 6, seq);
    assert_string_equal(seq, "pqrpqr");
}

static void test_swrr_shares_over_100k(void **state)
{
    struct fixture *f = *state;
    const uint32_t weights[] = {50, 30, 15, 4, 1};
    fo_route_id ids[NELEM(weights)];
    long count[NELEM(weights)] = {0};

    for (size_t i = 0; i < NELEM(weights); i++) {
        char name[8];

        snprintf(name, sizeof name, "w%zu", i);
        ids[i] = add_w(f->router, name, 7, weights[i], 0);
    }
    for (int n = 0; n < 100000; n++) {
        fo_route_id got = pick(f->router, NULL);

        for (size_t i = 0; i < NELEM(weights); i++)
            count[i] += got == ids[i];
    }
    for (size_t i = 0; i < NELEM(weights); i++) {
        double share = (double)count[i] / 100000.0 * 100.0;

        assert_true(share > weights[i] - 1.0 && share < weights[i] + 1.0);
    }
    /* Smooth: exact, not just close. */
    assert_int_equal(count[0], 50000);
    assert_int_equal(count[4], 1000);
}

/* A retry of the same call moves to the next route of the tier. */
static void test_swrr_with_attempts(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_w(f->router, "a", 1, 3, 0);
    fo_route_id b = add_w(f->router, "b", 1, 1, 0);
    fo_route_id c = add_w(f->router, "c", 2, 1, 0);
    fo_attempt at = FO_ATTEMPT_INIT;

    assert_true(pick(f->router, &at) == a);
    assert_true(pick(f->router, &at) == b);
    assert_true(pick(f->router, &at) == c);
}

/* ---- tiers and policies ------------------------------------------------- */

static void test_tier_spill_over(void **state)
{
    struct fixture *f = *state;
    fo_route_id a1 = add_w(f->router, "a1", 1, 1, 0);
    fo_route_id a2 = add_w(f->router, "a2", 1, 1, 0);
    fo_route_id b = add_w(f->router, "b", 2, 1, 0);
    char seq[8];

    sequence(f->router, 4, seq);
    assert_string_equal(seq, "aaaa"); /* b gets nothing */
    eject(f->router, a1);
    assert_true(pick(f->router, NULL) == a2);
    eject(f->router, a2);
    assert_true(pick(f->router, NULL) == b); /* spill */
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);     /* both in trial */
    assert_true(pick(f->router, NULL) == a1);
    assert_true(pick(f->router, NULL) == a2);
    assert_true(pick(f->router, NULL) == b); /* trial slots busy */
}

static void test_weighted_policy_ignores_priority(void **state)
{
    struct fixture *f = *state;
    char seq[16];

    f->opts.policy = FO_POLICY_WEIGHTED;
    fixture_reopen(f);
    add_w(f->router, "a", 1, 1, 0);
    add_w(f->router, "b", 9, 1, 0);
    add_w(f->router, "c", 5, 2, 0);
    sequence(f->router, 8, seq);
    assert_string_equal(seq, "cabccabc");
    /* Backups still wait for everything else. */
    add_w(f->router, "z", 0, 0, 0);
    sequence(f->router, 8, seq);
    assert_null(strchr(seq, 'z'));
}

static void test_least_cost_order(void **state)
{
    struct fixture *f = *state;
    fo_route_id pricey = add_w(f->router, "pricey", 1, 1, 300);
    fo_route_id cheap_b = add_w(f->router, "cheap-b", 2, 1, 100);
    fo_route_id cheap_a = add_w(f->router, "cheap-a", 1, 1, 100);
    fo_route_id mid = add_w(f->router, "mid", 0, 1, 200);
    fo_attempt at = FO_ATTEMPT_INIT;
    char seq[16];

    assert_int_equal(
        fo_plan_set_policy(f->router, FO_PLAN_ID_NONE, FO_POLICY_LEAST_COST),
        FO_OK);
    /* Lowest cost first, then lowest priority (3 attempts by default). */
    assert_true(pick(f->router, &at) == cheap_a);
    assert_true(pick(f->router, &at) == cheap_b);
    assert_true(pick(f->router, &at) == mid);
    assert_int_equal(fo_pick_route(f->router, &at, &(fo_route_id){0}),
                     FO_ELIMIT);
    (void)pricey;
    /* Equal cost and priority share by weight. */
    add_w(f->router, "x-split", 1, 3, 50);
    add_w(f->router, "y-split", 1, 1, 50);
    sequence(f->router, 8, seq);
    assert_string_equal(seq, "xxyxxxyx");
    /* Back to priority order. */
    fo_plan_set_policy(f->router, FO_PLAN_ID_NONE, FO_POLICY_PRIORITY);
    assert_true(pick(f->router, NULL) == mid);
}

/* ---- plans ----------------------------------------------------------------
 */

static void test_plans_share_health(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_w(f->router, "carrier-a", 1, 1, 0);
    fo_route_id b = add_w(f->router, "carrier-b", 2, 1, 0);
    fo_route_id c = add_w(f->router, "carrier-c", 3, 1, 0);
    fo_plan_id uk, us, found;
    fo_attempt at;

    assert_int_equal(fo_plan_new(f->router, "44", FO_POLICY_LEAST_COST, &uk),
                     FO_OK);
    assert_int_equal(fo_plan_new(f->router, "1", FO_POLICY_PRIORITY, &us),
                     FO_OK);
    assert_true(uk != us && uk != FO_PLAN_ID_NONE);
    /* UK: c is cheapest, then a; b is not used. */
    assert_int_equal(fo_plan_set_route(f->router, uk, a, 1, 1, 20), FO_OK);
    assert_int_equal(fo_plan_set_route(f->router, uk, c, 1, 1, 10), FO_OK);
    /* US: b first, then a. */
    assert_int_equal(fo_plan_set_route(f->router, us, b, 1, 1, 0), FO_OK);
    assert_int_equal(fo_plan_set_route(f->router, us, a, 2, 1, 0), FO_OK);
    assert_int_equal(fo_plan_lookup(f->router, "44", &found), FO_OK);
    assert_true(found == uk);

    fo_attempt_init_plan(&at, uk);
    assert_true(pick(f->router, &at) == c);
    assert_true(pick(f->router, &at) == a);
    assert_int_equal(fo_pick_route(f->router, &at, &(fo_route_id){0}),
                     FO_ENOROUTE);
    fo_attempt_init_plan(&at, us);
    assert_true(pick(f->router, &at) == b);
    assert_true(pick(f->router, NULL) == a); /* the default list */

    /* b dies on the default list: the US plan fails over too. */
    eject(f->router, b);
    fo_attempt_init_plan(&at, us);
    assert_true(pick(f->router, &at) == a);
    /* A plan's values change; a route leaves a plan. */
    assert_int_equal(fo_plan_set_route(f->router, uk, a, 1, 1, 5), FO_OK);
    fo_attempt_init_plan(&at, uk);
    assert_true(pick(f->router, &at) == a);
    assert_int_equal(fo_plan_unset_route(f->router, uk, a), FO_OK);
    fo_attempt_init_plan(&at, uk);
    assert_true(pick(f->router, &at) == c);
    assert_int_equal(fo_plan_unset_route(f->router, uk, a), FO_ENOENT);
    /* A route removed from the router leaves every plan. */
    assert_int_equal(fo_route_remove(f->router, c), FO_OK);
    fo_attempt_init_plan(&at, uk);
    assert_int_equal(fo_pick_route(f->router, &at, &(fo_route_id){0}),
                     FO_ENOROUTE);
    assert_int_equal(fo__route_get(f->router, a)->plan_refs, 1);
    /* A freed plan: calls using it get ENOENT, the name is free again. */
    fo_attempt_init_plan(&at, us);
    assert_int_equal(fo_plan_free(f->router, us), FO_OK);
    assert_rejected(f->router, FO_ENOENT,
                    fo_pick_route(f->router, &at, &(fo_route_id){0}));
    assert_int_equal(fo__route_get(f->router, a)->plan_refs, 0);
    assert_int_equal(fo_plan_new(f->router, "1", FO_POLICY_PRIORITY, &found),
                     FO_OK);
    assert_true(found != us);
    assert_int_equal(fo_plan_free(f->router, us), FO_ENOENT);
}

static void test_plan_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_w(f->router, "a", 1, 1, 0);
    fo_plan_id p, q;

    assert_int_equal(fo_plan_new(f->router, "p", FO_POLICY_PRIORITY, &p),
                     FO_OK);
    assert_rejected(f->router, FO_EEXIST,
                    fo_plan_new(f->router, "p", FO_POLICY_PRIORITY, &q));
    assert_rejected(f->router, FO_EINVAL,
                    fo_plan_new(f->router, "", FO_POLICY_PRIORITY, &q));
    assert_rejected(f->router, FO_EINVAL,
                    fo_plan_new(f->router, "x", (fo_policy)3, &q));
    assert_rejected(f->router, FO_EINVAL,
                    fo_plan_new(f->router, NULL, FO_POLICY_PRIORITY, &q));
    assert_rejected(f->router, FO_EINVAL,
                    fo_plan_new(f->router, "x", FO_POLICY_PRIORITY, NULL));
    assert_rejected(
        f->router, FO_ERANGE,
        fo_plan_set_route(f->router, p, a, 1, FO_WEIGHT_MAX + 1, 0));
    assert_rejected(f->router, FO_ENOENT,
                    fo_plan_set_route(f->router, p, bogus_id(a), 1, 1, 0));
    assert_rejected(f->router, FO_ENOENT,
                    fo_plan_set_route(f->router, p + 1, a, 1, 1, 0));
    /* A route id is not a plan id, nor the other way round. */
    assert_rejected(f->router, FO_ENOENT,
                    fo_plan_set_route(f->router, a, a, 1, 1, 0));
    assert_rejected(f->router, FO_ENOENT,
                    fo_plan_set_route(f->router, FO_PLAN_ID_NONE, a, 1, 1, 0));
    assert_rejected(f->router, FO_ENOENT, fo_route_remove(f->router, p));
    assert_rejected(f->router, FO_ENOENT, fo_plan_free(f->router, a));
    assert_rejected(f->router, FO_EINVAL,
                    fo_plan_set_policy(f->router, p, (fo_policy)9));
    assert_rejected(f->router, FO_ENOENT,
                    fo_plan_set_policy(f->router, p + 1, FO_POLICY_WEIGHTED));
    assert_rejected(f->router, FO_ENOENT, fo_plan_lookup(f->router, "q", &q));
    assert_rejected(f->router, FO_EINVAL, fo_plan_lookup(f->router, "p", NULL));
    assert_int_equal(fo_plan_new(NULL, "z", FO_POLICY_PRIORITY, &q), FO_EINVAL);
    assert_int_equal(fo_plan_free(NULL, p), FO_EINVAL);
    assert_string_equal(fo_policy_name(FO_POLICY_LEAST_COST), "LEAST_COST");
    assert_string_equal(fo_policy_name(FO_POLICY_WEIGHTED), "WEIGHTED");
    assert_string_equal(fo_policy_name(FO_POLICY_PRIORITY), "PRIORITY");
    assert_string_equal(fo_policy_name((fo_policy)7), "UNKNOWN");
}

/* ---- panic ----------------------------------------------------------------
 */

static void test_panic_fail(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_w(f->router, "a", 1, 1, 0);
    fo_pick pk = FO_PICK_INIT;

    eject(f->router, a);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_ENOROUTE);
    assert_true(pk.route == FO_ROUTE_ID_NONE);
    assert_int_equal(pk.skipped_count, 1);
}

static void test_panic_best_effort_takes_the_least_bad(void **state)
{
    struct fixture *f = *state;
    fo_route_id soon, later, off;
    fo_pick pk = FO_PICK_INIT;
    fo_attempt at = FO_ATTEMPT_INIT;
    uint64_t t0;

    f->opts.panic = FO_PANIC_BEST_EFFORT;
    fixture_reopen(f);
    off = add_w(f->router, "off", 0, 1, 0);
    soon = add_w(f->router, "soon", 1, 1, 0);
    later = add_w(f->router, "later", 2, 1, 0);
    fo_route_set_admin(f->router, off, FO_ADMIN_DISABLED);
    t0 = f->clock.now;
    eject(f->router, soon); /* back at t0 + 15 s */
    advance(f, SEC);
    eject(f->router, later); /* back at t0 + 16 s */

    /* Everything out: the one back soonest, never the disabled one. */
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_true(pk.route == soon);
    assert_int_equal(pk.flags, FO_PICK_PANIC);
    f->clock.now = t0 + 15 * SEC; /* soon in trial: an ordinary pick */
    assert_int_equal(fo_pick_route_ex(f->router, &at, &pk), FO_OK);
    assert_true(pk.route == soon);
    assert_int_equal(pk.flags, FO_PICK_TRIAL);
    /* Its one slot busy: a route in trial beats one still ejected. */
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_true(pk.route == soon);
    assert_int_equal(pk.flags, FO_PICK_PANIC);
    /* A route the call already tried is not tried again. */
    fo_attempt_init(&at);
    assert_int_equal(fo_pick_route_ex(f->router, &at, &pk), FO_OK);
    assert_true(pk.route == soon);
    assert_int_equal(fo_pick_route_ex(f->router, &at, &pk), FO_OK);
    assert_true(pk.route == later);
    assert_int_equal(fo_pick_route_ex(f->router, &at, &pk), FO_ENOROUTE);
    /* Switched to fail at run time. */
    assert_int_equal(fo_router_set_panic(f->router, FO_PANIC_FAIL), FO_OK);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_ENOROUTE);
    assert_rejected(f->router, FO_EINVAL,
                    fo_router_set_panic(f->router, (fo_panic)2));
    assert_int_equal(fo_router_set_panic(NULL, FO_PANIC_FAIL), FO_EINVAL);
}

/* Among routes back at the same time, the lower penalty wins. */
static void test_panic_prefers_lower_penalty(void **state)
{
    struct fixture *f = *state;
    fo_route_id worn, fresh;

    f->opts.panic = FO_PANIC_BEST_EFFORT;
    f->opts.hold_down_multiplier_pct = 100;
    fixture_reopen(f);
    worn = add_w(f->router, "worn", 1, 1, 0);
    fresh = add_w(f->router, "fresh", 2, 1, 0);
    eject(f->router, worn);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    report_n(f->router, worn, FO_RESULT_SUCCESS, 2); /* back */
    eject(f->router, worn);                          /* flap: 2 penalties */
    eject(f->router, fresh);                         /* same hold-down */
    assert_true(pick(f->router, NULL) == fresh);
}

/* ---- ejection guard -------------------------------------------------------
 */

/* n routes, the guard on; ejects them in order; returns how many went. */
static unsigned guarded_fleet(struct fixture *f, unsigned n)
{
    fo_route_id ids[16];
    unsigned out = 0;

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
    for (unsigned i = 0; i < n; i++) {
        char name[8];

        snprintf(name, sizeof name, "r%u", i);
        ids[i] = add_w(f->router, name, i, 1, 0);
    }
    for (unsigned i = 0; i < n; i++) {
        report_n(f->router, ids[i], FO_RESULT_TIMEOUT, 10);
        if (route_state(f->router, ids[i]) == FO_STATE_EJECTED) {
            out++;
        } else {
            char text[FO_REASON_TEXT_MAX];

            assert_int_equal(route_state(f->router, ids[i]), FO_STATE_UP);
            assert_int_equal(route_reason(f->router, ids[i], text, sizeof text),
                             FO_REASON_EJECTION_GUARD);
            assert_non_null(strstr(text, "kept in service by the ejection "
                                         "guard"));
        }
    }
    return out;
}

static void test_ejection_guard_fleets(void **state)
{
    struct fixture *f = *state;

    /* At 50%: 2 routes -> 1 out, 3 -> 2, 10 -> 5; 1 route never. */
    assert_int_equal(guarded_fleet(f, 1), 0);
    assert_int_equal(guarded_fleet(f, 2), 1);
    assert_int_equal(guarded_fleet(f, 3), 2);
    assert_int_equal(guarded_fleet(f, 10), 5);
    f->opts.max_ejected_pct = 100; /* never all, though */
    assert_int_equal(guarded_fleet(f, 3), 2);
    f->opts.max_ejected_pct = 10; /* always at least one */
    assert_int_equal(guarded_fleet(f, 3), 1);
    assert_int_equal(guarded_fleet(f, 10), 1);
    f->opts.max_ejected_pct = 0;
    f->opts.guards_off = FO_GUARD_EJECTION | FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
}

/* A guarded route stays in service but is taken only when no healthy
 * route is left; its success clears the flag. Operators and signals are
 * not limited. */
static void test_guarded_route_is_last_resort(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b, c;
    fo_pick pk = FO_PICK_INIT;
    fo_skip why[4];

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    c = add_w(f->router, "c", 3, 1, 0);
    eject(f->router, a);
    eject(f->router, b);
    report_n(f->router, c, FO_RESULT_TIMEOUT, 5); /* guarded */
    assert_int_equal(route_state(f->router, c), FO_STATE_UP);
    pk.skipped = why;
    pk.skipped_capacity = NELEM(why);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_true(pk.route == c);
    assert_int_equal(pk.flags, FO_PICK_GUARDED);
    assert_int_equal(pk.skipped_count, 2); /* a and b, not c */
    /* Healthy again: an ordinary pick, and it says so. */
    report_n(f->router, c, FO_RESULT_SUCCESS, 1);
    assert_int_equal(route_reason(f->router, c, NULL, 0),
                     FO_REASON_GUARD_ENDED);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_int_equal(pk.flags, 0);
    /* Signals and operators are not limited by the guard. */
    fo_route_signal(f->router, c, FO_SIGNAL_REGISTRATION_LOST);
    assert_int_equal(route_state(f->router, c), FO_STATE_EJECTED);
    fo_route_signal(f->router, c, FO_SIGNAL_REGISTRATION_RESTORED);
    fo_route_set_admin(f->router, c, FO_ADMIN_DISABLED);
    assert_int_equal(route_state(f->router, c), FO_STATE_DISABLED);
}

/* A plan of two routes is protected even when the router has many. */
static void test_ejection_guard_per_plan(void **state)
{
    struct fixture *f = *state;
    fo_route_id ids[10];
    fo_plan_id p;
    char text[FO_REASON_TEXT_MAX];

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
    for (int i = 0; i < 10; i++) {
        char name[8];

        snprintf(name, sizeof name, "r%d", i);
        ids[i] = add_w(f->router, name, 1, 1, 0);
    }
    fo_plan_new(f->router, "premium", FO_POLICY_PRIORITY, &p);
    fo_plan_set_route(f->router, p, ids[0], 1, 1, 0);
    fo_plan_set_route(f->router, p, ids[1], 2, 1, 0);
    eject(f->router, ids[0]);
    report_n(f->router, ids[1], FO_RESULT_TIMEOUT, 5);
    assert_int_equal(route_state(f->router, ids[1]), FO_STATE_UP);
    route_reason(f->router, ids[1], text, sizeof text);
    assert_non_null(strstr(text, "of plan premium already out"));
    /* Another route of the router, in no plan, may still go. */
    eject(f->router, ids[2]);
}

/* ---- local-fault guard ----------------------------------------------------
 */

static void test_local_fault_guard(void **state)
{
    struct fixture *f = *state;
    fo_route_id ids[3];
    fo_pick pk = FO_PICK_INIT;
    char text[FO_REASON_TEXT_MAX];

    f->opts.guards_off = FO_GUARD_EJECTION;
    fixture_reopen(f);
    for (int i = 0; i < 3; i++) {
        char name[8];

        snprintf(name, sizeof name, "r%d", i);
        ids[i] = add_w(f->router, name, (uint32_t)i, 1, 0);
    }
    /* Our uplink is down: every call fails on every route. */
    for (int call = 0; call < 5; call++) {
        fo_attempt at = FO_ATTEMPT_INIT;
        fo_route_id r;

        while (fo_pick_route(f->router, &at, &r) == FO_OK)
            fo_report_result(f->router, r, FO_RESULT_UNAVAILABLE, &at);
        advance(f, SEC);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(route_state(f->router, ids[i]), FO_STATE_UP);
        assert_int_equal(route_reason(f->router, ids[i], text, sizeof text),
                         FO_REASON_LOCAL_FAULT);
    }
    assert_non_null(strstr(text, "suspected local fault"));
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_true(pk.route == ids[0]); /* the usual order, still */
    assert_true(pk.flags & FO_PICK_LOCAL_FAULT);
    /* The uplink is back: the first success clears the suspicion. */
    report_n(f->router, ids[0], FO_RESULT_SUCCESS, 1);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_int_equal(pk.flags, 0);
    /* A real outage of one carrier while the others work is not local
     * (once the guard's decision has run its time). */
    advance(f, FO_DEFAULT_LOCAL_FAULT_WINDOW_NS);
    report_n(f->router, ids[0], FO_RESULT_SUCCESS, 1);
    report_n(f->router, ids[1], FO_RESULT_SUCCESS, 1);
    /* Its faults during the local fault were ours: it starts afresh. */
    report_n(f->router, ids[2], FO_RESULT_TIMEOUT, 2);
    assert_int_equal(route_state(f->router, ids[2]), FO_STATE_UP);
    report_n(f->router, ids[2], FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, ids[2]), FO_STATE_EJECTED);
}

static void test_local_fault_guard_needs_silence(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;

    f->opts.guards_off = FO_GUARD_EJECTION;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    /* b failed, but long ago: a's faults are a's own. */
    report_n(f->router, b, FO_RESULT_TIMEOUT, 1);
    advance(f, FO_DEFAULT_LOCAL_FAULT_WINDOW_NS + 1);
    eject(f->router, a);
    /* And with the guard off, all can go. */
    f->opts.guards_off = FO_GUARD_EJECTION | FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    report_n(f->router, b, FO_RESULT_TIMEOUT, 2);
    eject(f->router, a);
    eject(f->router, b);
}

/* ---- slow start ------------------------------------------------------------
 */

/* Recovers route r (ejected, trial passed) at the current time. */
static void recover(struct fixture *f, fo_route_id r)
{
    eject(f->router, r);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    report_n(f->router, r, FO_RESULT_SUCCESS, FO_DEFAULT_TRIAL_SUCCESSES);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

static void test_slow_start_ramp_alone_in_its_tier(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    const struct {
        uint64_t at;
        int share; /* of 1000 picks */
    } points[] = {
        {0, 100},        {15 * SEC, 325},  {30 * SEC, 550},
        {59 * SEC, 985}, {60 * SEC, 1000},
    };
    uint64_t t0;

    f->opts.slow_start_ns = 60 * SEC; /* floor 10% */
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    recover(f, a);
    t0 = f->clock.now;
    for (size_t i = 0; i < NELEM(points); i++) {
        int got = 0;

        f->clock.now = t0 + points[i].at;
        for (int n = 0; n < 1000; n++)
            got += pick(f->router, NULL) == a;
        assert_int_equal(got, points[i].share);
    }
    (void)b;
}

static void test_slow_start_within_a_tier(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    fo_pick pk = FO_PICK_INIT;
    int got = 0;

    f->opts.slow_start_ns = 60 * SEC;
    f->opts.slow_start_floor_pct = 20;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 100, 0);
    b = add_w(f->router, "b", 1, 100, 0);
    recover(f, a);
    advance(f, 30 * SEC); /* 20% + 80% / 2 = 60: a weighs 60, b 100 */
    for (int n = 0; n < 1600; n++) {
        assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
        if (pk.route == a) {
            got++;
            assert_true(pk.flags & FO_PICK_SLOW_START);
        }
    }
    assert_int_equal(got, 600);
    (void)b;
}

/* ---- explanations ---------------------------------------------------------
 */

static void test_explanations(void **state)
{
    struct fixture *f = *state;
    fo_route_id tried, ejected, disabled, draining, drill, trial, backup;
    fo_route_id suppressed, chosen;
    fo_attempt at = FO_ATTEMPT_INIT, again;
    fo_plan_id only_trial;
    fo_skip why[16];
    fo_pick pk = FO_PICK_INIT;
    uint64_t t0;

    f->opts.damping_suppress = 1500; /* two flaps in 15 s suppress */
    f->opts.damping_reuse = 500;
    fixture_reopen(f);
    t0 = f->clock.now;
    tried = add_w(f->router, "tried", 1, 1, 0);
    suppressed = add_w(f->router, "suppressed", 2, 1, 0);
    ejected = add_w(f->router, "ejected", 3, 1, 0);
    disabled = add_w(f->router, "disabled", 4, 1, 0);
    draining = add_w(f->router, "draining", 5, 1, 0);
    drill = add_w(f->router, "drill", 6, 1, 0);
    trial = add_w(f->router, "trial", 7, 1, 0);
    backup = add_w(f->router, "backup", 8, 0, 0);
    chosen = add_w(f->router, "chosen", 9, 1, 0);

    eject(f->router, suppressed); /* penalty 1000 at t0 */
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    report_n(f->router, suppressed, FO_RESULT_SUCCESS, 2);
    report_n(f->router, suppressed, FO_RESULT_TIMEOUT, 3); /* 1965.9 */
    assert_int_equal(route_state(f->router, suppressed), FO_STATE_SUPPRESSED);
    eject(f->router, trial);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS); /* t0 + 30 s: trial in trial */
    /* Its one trial slot taken by a call through a plan of its own. */
    fo_plan_new(f->router, "only-trial", FO_POLICY_PRIORITY, &only_trial);
    fo_plan_set_route(f->router, only_trial, trial, 1, 1, 0);
    fo_attempt_init_plan(&again, only_trial);
    assert_true(pick(f->router, &again) == trial);
    eject(f->router, ejected);
    fo_route_set_admin(f->router, disabled, FO_ADMIN_DISABLED);
    fo_route_set_admin(f->router, draining, FO_ADMIN_DRAINING);
    fo_route_drill(f->router, drill, 60 * SEC);
    assert_true(pick(f->router, &at) == tried);
    again = at;

    pk.skipped = why;
    pk.skipped_capacity = NELEM(why);
    assert_int_equal(fo_pick_route_ex(f->router, &at, &pk), FO_OK);
    assert_true(pk.route == chosen);
    assert_int_equal(pk.flags, 0);
    assert_int_equal(pk.skipped_count, 8);
    const struct {
        fo_route_id id;
        fo_skip_reason reason;
        uint64_t until;
    } want[] = {
        {tried, FO_SKIP_TRIED, 0},
        {suppressed, FO_SKIP_SUPPRESSED, 0 /* checked below */},
        {ejected, FO_SKIP_EJECTED, f->clock.now + FO_DEFAULT_HOLD_DOWN_NS},
        {disabled, FO_SKIP_DISABLED, 0},
        {draining, FO_SKIP_DRAINING, 0},
        {drill, FO_SKIP_DRILL, f->clock.now + 60 * SEC},
        {trial, FO_SKIP_TRIAL_FULL, f->clock.now + FO_DEFAULT_TRIAL_TIMEOUT_NS},
        {backup, FO_SKIP_BACKUP, 0},
    };
    for (size_t i = 0; i < NELEM(want); i++) {
        assert_true(why[i].route == want[i].id);
        assert_int_equal(why[i].reason, want[i].reason);
        if (want[i].reason != FO_SKIP_SUPPRESSED)
            assert_true(why[i].until_ns == want[i].until);
    }
    /* Every ejection from service adds to the penalty. */
    assert_int_equal(why[0].penalty, 0);
    assert_int_equal(why[2].penalty, 1000); /* just ejected */
    assert_int_equal(why[6].penalty, 966);  /* 1000, 15 s ago */
    assert_int_equal(why[7].penalty, 0);
    /* (1000 * 2^(-15/300) + 1000) * 2^(-15/300) = 1899.0; reuse when the
     * second flap's 1965.9 has decayed to 500: 592.5 s after it. */
    assert_int_equal(why[1].penalty, 1899);
    assert_true(why[1].until_ns > t0 + 15 * SEC + 592 * SEC &&
                why[1].until_ns < t0 + 15 * SEC + 593 * SEC);

    /* A small array holds the first ones; the count says how many. */
    memset(why, 0, sizeof why);
    pk.skipped_capacity = 2;
    at = again;
    assert_int_equal(fo_pick_route_ex(f->router, &at, &pk), FO_OK);
    assert_int_equal(pk.skipped_count, 8);
    assert_true(why[0].route == tried && why[1].route == suppressed);
    assert_true(why[2].route == FO_ROUTE_ID_NONE);
    /* No array: only the count. */
    pk.skipped = NULL;
    pk.skipped_capacity = 0;
    at = again;
    assert_int_equal(fo_pick_route_ex(f->router, &at, &pk), FO_OK);
    assert_int_equal(pk.skipped_count, 8);
    assert_true(pk.route == chosen);
}

static void test_pick_ex_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_pick pk = FO_PICK_INIT;
    struct {
        fo_pick known;
        uint64_t newer;
    } big;

    add_w(f->router, "a", 1, 1, 0);
    assert_rejected(f->router, FO_EINVAL,
                    fo_pick_route_ex(f->router, NULL, NULL));
    pk.skipped_capacity = 3; /* but no array */
    assert_rejected(f->router, FO_EINVAL,
                    fo_pick_route_ex(f->router, NULL, &pk));
    pk = (fo_pick)FO_PICK_INIT;
    pk.reserved = 1;
    assert_rejected(f->router, FO_EINVAL,
                    fo_pick_route_ex(f->router, NULL, &pk));
    pk = (fo_pick)FO_PICK_INIT;
    pk.size = 8;
    assert_rejected(f->router, FO_EINVAL,
                    fo_pick_route_ex(f->router, NULL, &pk));
    memset(&big, 0, sizeof big);
    big.known = (fo_pick)FO_PICK_INIT;
    big.known.size = sizeof big;
    big.newer = 1;
    assert_rejected(f->router, FO_EVERSION,
                    fo_pick_route_ex(f->router, NULL, &big.known));
    big.newer = 0;
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &big.known), FO_OK);
    assert_int_equal(fo_pick_route_ex(NULL, NULL, &pk), FO_EINVAL);
    assert_int_equal(fo_attempt_init_plan(NULL, 1), FO_EINVAL);
}

/* ---- regressions from review ------------------------------------------ */

/* A guarded route is not stranded: its guard is looked at again after the
 * window, and it takes its share again. */
static void test_guard_expires(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    int on_a = 0;

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 1, 1, 0);
    fo_route_signal(f->router, b, FO_SIGNAL_KEEPALIVE_LOST);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3); /* guarded: 1 of 2 out */
    assert_true(fo__route_get(f->router, a)->health.guarded);
    fo_route_signal(f->router, b, FO_SIGNAL_KEEPALIVE_RESTORED);
    report_n(f->router, b, FO_RESULT_SUCCESS, 2); /* b is back */
    for (int i = 0; i < 10; i++)
        on_a += pick(f->router, NULL) == a;
    assert_int_equal(on_a, 0); /* healthy b first */
    advance(f, FO_DEFAULT_LOCAL_FAULT_WINDOW_NS);
    for (int i = 0; i < 10; i++)
        on_a += pick(f->router, NULL) == a;
    assert_int_equal(on_a, 5); /* back in ordinary service */
    /* Its run of faults still stands: one more, and it goes. */
    report_n(f->router, a, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(route_state(f->router, a), FO_STATE_EJECTED);
}

/* Guarded routes share the load by weight, like ordinary ones. */
static void test_guarded_routes_share(void **state)
{
    struct fixture *f = *state;
    fo_route_id ids[4];
    int count[4] = {0};
    fo_pick pk = FO_PICK_INIT;

    f->opts.guards_off = FO_GUARD_EJECTION;
    fixture_reopen(f);
    for (int i = 0; i < 4; i++) {
        char name[8];

        snprintf(name, sizeof name, "r%d", i);
        ids[i] = add_w(f->router, name, 1, 1, 0);
    }
    /* The uplink dies on a busy dialer: each route fails in turn. */
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 4; i++)
            report_n(f->router, ids[i], FO_RESULT_UNAVAILABLE, 1);
    for (int i = 0; i < 4; i++)
        assert_true(fo__route_get(f->router, ids[i])->health.guarded);
    for (int n = 0; n < 400; n++) {
        assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
        assert_true(pk.flags & FO_PICK_GUARDED);
        for (int i = 0; i < 4; i++)
            count[i] += pk.route == ids[i];
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(count[i], 100);
}

/* The local-fault guard on a busy dialer: successes right up to the
 * outage, and a fourth carrier the calls never reach. */
static void test_local_fault_on_a_busy_dialer(void **state)
{
    struct fixture *f = *state;
    fo_route_id ids[4];

    f->opts.guards_off = FO_GUARD_EJECTION;
    fixture_reopen(f);
    for (int i = 0; i < 4; i++) {
        char name[8];

        snprintf(name, sizeof name, "r%d", i);
        ids[i] = add_w(f->router, name, (uint32_t)i, 1, 0);
    }
    for (int n = 0; n < 50; n++) {
        report_n(f->router, ids[0], FO_RESULT_SUCCESS, 1);
        report_n(f->router, ids[1], FO_RESULT_SUCCESS, 1);
        report_n(f->router, ids[2], FO_RESULT_SUCCESS, 1);
        advance(f, 10 * MSEC);
    }
    /* Uplink down: every call fails on the three routes it tries. */
    for (int call = 0; call < 3; call++)
        for (int i = 0; i < 3; i++)
            report_n(f->router, ids[i], FO_RESULT_UNAVAILABLE, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(route_state(f->router, ids[i]), FO_STATE_UP);
        assert_int_equal(route_reason(f->router, ids[i], NULL, 0),
                         FO_REASON_LOCAL_FAULT);
    }
}

/* A route in a drill is not in service for the guards either. */
static void test_guard_ignores_drills(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    assert_int_equal(fo_route_drill(f->router, a, 60 * SEC), FO_OK);
    report_n(f->router, b, FO_RESULT_CONGESTION, 3);
    assert_int_equal(route_state(f->router, b), FO_STATE_UP); /* kept */
    assert_true(pick(f->router, NULL) == b);
}

/* Explanations count the same with or without an array, and the chosen
 * route is never among them, also when it is a fallback. */
static void test_explanations_of_fallbacks(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b, c, backup;
    fo_skip why[2];
    fo_pick with = FO_PICK_INIT, without = FO_PICK_INIT;

    a = add_w(f->router, "a", 1, 1, 0);
    backup = add_w(f->router, "backup", 2, 0, 0);
    b = add_w(f->router, "b", 3, 1, 0);
    c = add_w(f->router, "c", 4, 1, 0);
    eject(f->router, a);
    eject(f->router, b);
    eject(f->router, c);
    with.skipped = why;
    with.skipped_capacity = 2;
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &with), FO_OK);
    assert_true(with.route == backup && with.flags == FO_PICK_BACKUP);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &without), FO_OK);
    assert_int_equal(with.skipped_count, 3);
    assert_int_equal(without.skipped_count, 3);
    assert_true(why[0].route == a && why[1].route == b);
}

/* A route in trial can take calls: it does not count as out for the
 * ejection guard (a backup sitting in trial, unused, must not keep a dead
 * primary in service). */
static void test_guard_counts_trial_as_in_service(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    eject(f->router, b);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_int_equal(route_state(f->router, b), FO_STATE_TRIAL);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    assert_int_equal(route_state(f->router, a), FO_STATE_EJECTED);
}

/* All carriers fail at once, one after the other: the first is ejected
 * before the others have failed, then the guard sees the pattern, keeps
 * the rest and brings the first back; once a call works, the faults of the
 * episode are forgotten. */
static void test_local_fault_brings_back_its_first_casualty(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b, c;
    char text[FO_REASON_TEXT_MAX];
    fo_route_stats st = FO_ROUTE_STATS_INIT;

    f->opts.guards_off = FO_GUARD_EJECTION;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    c = add_w(f->router, "c", 3, 1, 0);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    assert_int_equal(route_state(f->router, a), FO_STATE_EJECTED);
    advance(f, 4 * SEC); /* one dial timeout later, b fails too */
    report_n(f->router, b, FO_RESULT_TIMEOUT, 3);
    assert_int_equal(route_state(f->router, b), FO_STATE_UP);
    assert_int_equal(route_reason(f->router, b, text, sizeof text),
                     FO_REASON_LOCAL_FAULT);
    /* a is back, kept by the guard, with its ejection undone. */
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);
    assert_int_equal(route_reason(f->router, a, text, sizeof text),
                     FO_REASON_LOCAL_FAULT);
    assert_string_equal(text, "back in service: taken out 4 s ago by what "
                              "looks like a local fault; kept in service");
    assert_int_equal(fo_route_get_stats(f->router, a, &st), FO_OK);
    assert_true(st.flags & FO_STATS_GUARDED);
    assert_int_equal(st.penalty, 0);
    assert_int_equal(st.ejections, 1); /* it did happen */
    /* The network is back: c answers. */
    report_n(f->router, c, FO_RESULT_SUCCESS, 1);
    /* b starts afresh: two faults are not three in a row. */
    report_n(f->router, b, FO_RESULT_TIMEOUT, 2);
    assert_int_equal(route_state(f->router, b), FO_STATE_UP);
    assert_int_equal(fo_route_get_stats(f->router, b, &st), FO_OK);
    assert_false(st.flags & FO_STATS_GUARDED);
    assert_true(st.window_faults == 2);
}

/* The last route that could take calls, failing its trial, stays in trial
 * (ejection guard); with another in service it is ejected as usual. */
static void test_failed_trial_guarded(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    fo_attempt at = FO_ATTEMPT_INIT;
    char text[FO_REASON_TEXT_MAX];

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    eject(f->router, a);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
    /* b goes out by an order (no guard for those). */
    assert_int_equal(fo_route_signal(f->router, b, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_OK);
    assert_true(pick(f->router, &at) == a);
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_CONGESTION, &at),
                     FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
    assert_int_equal(route_reason(f->router, a, text, sizeof text),
                     FO_REASON_EJECTION_GUARD);
    assert_string_equal(text, "trial attempt CONGESTION; kept in service by "
                              "the ejection guard: 1 of 2 routes already "
                              "out; still in trial");
    /* b is back: a's next failed trial ejects it. */
    assert_int_equal(
        fo_route_signal(f->router, b, FO_SIGNAL_KEEPALIVE_RESTORED), FO_OK);
    report_n(f->router, b, FO_RESULT_SUCCESS, FO_DEFAULT_TRIAL_SUCCESSES);
    assert_int_equal(route_state(f->router, b), FO_STATE_UP);
    fo_attempt_init(&at);
    assert_true(pick(f->router, &at) == a);
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_CONGESTION, &at),
                     FO_OK);
    assert_int_equal(route_state(f->router, a), FO_STATE_EJECTED);
}

/* A guarded route that works again forgets the faults that had it kept. */
static void test_guard_end_clears_the_window(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    fo_route_stats st = FO_ROUTE_STATS_INIT;

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    f->opts.consecutive_faults = 50;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 1, 1, 0);
    assert_int_equal(fo_route_signal(f->router, a, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_OK);
    /* b fails 60% of 20: the failure rate fires, the guard keeps it. */
    for (int k = 0; k < 20; k++)
        report_n(f->router, b,
                 k % 5 >= 2 ? FO_RESULT_CONGESTION : FO_RESULT_SUCCESS, 1);
    assert_int_equal(fo_route_get_stats(f->router, b, &st), FO_OK);
    assert_true(st.flags & FO_STATS_GUARDED);
    report_n(f->router, b, FO_RESULT_SUCCESS, 1);
    assert_int_equal(fo_route_get_stats(f->router, b, &st), FO_OK);
    assert_false(st.flags & FO_STATS_GUARDED);
    assert_true(st.window_attempts == 1 && st.window_faults == 0);
    /* One more fault is not a failure rate over the minimum volume. */
    report_n(f->router, b, FO_RESULT_CONGESTION, 1);
    assert_int_equal(fo_route_get_stats(f->router, b, &st), FO_OK);
    assert_false(st.flags & FO_STATS_GUARDED);
}

/* The panic pick was noted as passed over, in a full explanation array:
 * taken back, the one that did not fit moves up. */
static void test_full_explanation_with_a_panic_pick(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b, c;
    fo_skip why[2];
    fo_pick pk = FO_PICK_INIT;

    f->opts.panic = FO_PANIC_BEST_EFFORT;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    c = add_w(f->router, "c", 3, 1, 0);
    eject(f->router, b); /* back first: the least bad */
    advance(f, SEC);
    eject(f->router, a);
    eject(f->router, c);
    pk.skipped = why;
    pk.skipped_capacity = 2;
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_true(pk.route == b && (pk.flags & FO_PICK_PANIC));
    assert_int_equal(pk.skipped_count, 2);
    assert_true(why[0].route == a && why[1].route == c);
}

/* Calls placed before a local fault ended report on it, not on the route:
 * counted, not judged. */
static void test_calls_of_a_local_fault_are_stale(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    fo_attempt before = FO_ATTEMPT_INIT, during = FO_ATTEMPT_INIT,
               after = FO_ATTEMPT_INIT;
    fo_route_stats st = FO_ROUTE_STATS_INIT;

    f->opts.guards_off = FO_GUARD_EJECTION;
    fixture_reopen(f);
    a = add_w(f->router, "a", 1, 1, 0);
    b = add_w(f->router, "b", 2, 1, 0);
    assert_true(pick(f->router, &before) == a);
    for (int k = 0; k < 3; k++) {
        report_n(f->router, a, FO_RESULT_UNAVAILABLE, 1);
        report_n(f->router, b, FO_RESULT_UNAVAILABLE, 1);
    }
    assert_true(pick(f->router, &during) == a);
    report_n(f->router, b, FO_RESULT_SUCCESS, 1); /* the network is back */
    assert_true(pick(f->router, &after) == a);
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &before),
                     FO_OK);
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &during),
                     FO_OK);
    assert_int_equal(fo_route_get_stats(f->router, a, &st), FO_OK);
    assert_true(st.stale_reports == 2);
    assert_int_equal(st.consecutive_faults, 0);
    /* A call placed afterwards counts. */
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &after),
                     FO_OK);
    assert_int_equal(fo_route_get_stats(f->router, a, &st), FO_OK);
    assert_int_equal(st.consecutive_faults, 1);
}

/* The sole pick, taken without the list's lock, gives exactly what the
 * locked way gives, and stops the moment anything it stands on changes. */
static uint64_t solo_picks(fo_router *r)
{
    uint64_t n = atomic_load(&r->defplan.solo_picks);

    for (uint32_t i = 0; i < fo__table_slots(&r->plans); i++)
        if (fo__table_at(&r->plans, i) != NULL)
            n += atomic_load(
                &((struct fo__plan *)fo__table_at(&r->plans, i))->solo_picks);
    return n;
}

static void test_sole_pick_follows_every_change(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    fo_route_id a = add_w(r, "a", 1, 1, 0), b = add_w(r, "b", 2, 1, 0);
    fo_route_id c = add_w(r, "c", 3, 1, 0), d;
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    fo_plan_id plan;
    fo_attempt at;
    uint64_t n;

    /* The first pick publishes a as the sole pick; the rest take it
     * without the lock. */
    for (int i = 0; i < 10; i++)
        assert_true(pick(r, NULL) == a);
    assert_true(solo_picks(r) == 9);
    /* An attempt that tried a moves down the list (the locked way). */
    fo_attempt_init(&at);
    assert_true(pick(r, &at) == a);
    assert_true(pick(r, &at) == b);
    assert_true(pick(r, &at) == c);
    /* a ejected: the next pick, at once, is b's. */
    eject(r, a);
    assert_true(pick(r, NULL) == b);
    n = solo_picks(r);
    assert_true(pick(r, NULL) == b);
    assert_true(solo_picks(r) == n + 1);
    /* Its hold-down over, a is on trial: taken by the locked way, one
     * trial call, and b again while the slot is held. */
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(pick(r, NULL) == a);
    assert_true(pick(r, NULL) == b);
    /* Back UP after its trial: a is the sole pick again. */
    report_n(r, a, FO_RESULT_SUCCESS, FO_DEFAULT_TRIAL_SUCCESSES);
    assert_int_equal(route_state(r, a), FO_STATE_UP);
    assert_true(pick(r, NULL) == a);
    n = solo_picks(r);
    assert_true(pick(r, NULL) == a);
    assert_true(solo_picks(r) == n + 1);
    /* A route joins a's tier: the two share it by weight. */
    d = add_w(r, "d", 1, 1, 0);
    assert_true(pick(r, NULL) != pick(r, NULL));
    assert_int_equal(fo_route_remove(r, d), FO_OK);
    /* a moves behind b: b at once. */
    assert_int_equal(fo_route_update(r, a, 5, 1, 0), FO_OK);
    assert_true(pick(r, NULL) == b);
    assert_true(pick(r, NULL) == b);
    /* b disabled: c, never b. */
    assert_int_equal(fo_route_set_admin(r, b, FO_ADMIN_DISABLED), FO_OK);
    assert_true(pick(r, NULL) == c);
    assert_true(pick(r, NULL) == c);
    /* c removed: a, and never c again. */
    assert_int_equal(fo_route_remove(r, c), FO_OK);
    for (int i = 0; i < 3; i++)
        assert_true(pick(r, NULL) == a);
    /* A plan of its own: its sole pick, and ENOENT once it is freed. */
    assert_int_equal(fo_plan_new(r, "p", FO_POLICY_PRIORITY, &plan), FO_OK);
    assert_int_equal(fo_plan_set_route(r, plan, b, 1, 1, 0), FO_OK);
    assert_int_equal(fo_plan_set_route(r, plan, a, 2, 1, 0), FO_OK);
    for (int i = 0; i < 3; i++) {
        fo_attempt_init_plan(&at, plan);
        assert_true(pick(r, &at) == a); /* b is disabled */
    }
    assert_int_equal(fo_route_set_admin(r, b, FO_ADMIN_ENABLED), FO_OK);
    fo_attempt_init_plan(&at, plan);
    assert_true(pick(r, &at) == b);
    fo_attempt_init_plan(&at, plan);
    assert_true(pick(r, &at) == b);
    assert_int_equal(fo_plan_free(r, plan), FO_OK);
    assert_int_equal(fo_pick_route(r, &at, &(fo_route_id){0}), FO_ENOENT);
    /* Every pick counted once, whichever way it went. */
    assert_int_equal(fo_router_get_stats(r, &rs), FO_OK);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    n = st.picks;
    assert_int_equal(fo_route_get_stats(r, b, &st), FO_OK);
    assert_true(rs.picks >= n + st.picks);
    assert_true(solo_picks(r) > 0);
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_swrr_nginx_sequence),
        T(test_swrr_other_sequences),
        T(test_swrr_shares_over_100k),
        T(test_swrr_with_attempts),
        T(test_tier_spill_over),
        T(test_weighted_policy_ignores_priority),
        T(test_least_cost_order),
        T(test_plans_share_health),
        T(test_sole_pick_follows_every_change),
        T(test_plan_bad_input),
        T(test_panic_fail),
        T(test_panic_best_effort_takes_the_least_bad),
        T(test_panic_prefers_lower_penalty),
        T(test_ejection_guard_fleets),
        T(test_guarded_route_is_last_resort),
        T(test_ejection_guard_per_plan),
        T(test_local_fault_guard),
        T(test_local_fault_guard_needs_silence),
        T(test_slow_start_ramp_alone_in_its_tier),
        T(test_slow_start_within_a_tier),
        T(test_explanations),
        T(test_pick_ex_bad_input),
        T(test_guard_expires),
        T(test_guard_counts_trial_as_in_service),
        T(test_local_fault_brings_back_its_first_casualty),
        T(test_failed_trial_guarded),
        T(test_guard_end_clears_the_window),
        T(test_full_explanation_with_a_panic_pick),
        T(test_calls_of_a_local_fault_are_stale),
        T(test_guarded_routes_share),
        T(test_local_fault_on_a_busy_dialer),
        T(test_guard_ignores_drills),
        T(test_explanations_of_fallbacks),
    };
    return cmocka_run_group_tests_name("select", tests, NULL, NULL);
}
