/*
 * Statistics, the dump and the metrics: every field of the snapshots,
 * size versioning, exact counts under concurrent updates with consistent
 * snapshots, golden files for the dump and the metrics on a manual clock,
 * truncation, and bad input.
 *
 * To update the golden files after an intended change of format, run the
 * suite with FO_UPDATE_GOLDEN=1 and review the diff.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "internal-helpers.h"

/* cmocka's asserts must not run off the test's thread (they longjmp):
 * worker threads record the first failing line instead. */
static _Atomic int thread_failure;
#define TCHECK(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            int zero_ = 0;                                                     \
            atomic_compare_exchange_strong(&thread_failure, &zero_, __LINE__); \
        }                                                                      \
    } while (0)
#define TCHECK_EQ(a, b) TCHECK((a) == (b))

#ifndef FO_GOLDEN_DIR
#error "FO_GOLDEN_DIR must name the directory of the golden files"
#endif

static fo_route_stats route_stats(fo_router *r, fo_route_id id)
{
    fo_route_stats s = FO_ROUTE_STATS_INIT;

    assert_int_equal(fo_route_get_stats(r, id, &s), FO_OK);
    assert_true(s.size == sizeof s);
    return s;
}

static fo_router_stats router_stats(fo_router *r)
{
    fo_router_stats s = FO_ROUTER_STATS_INIT;

    assert_int_equal(fo_router_get_stats(r, &s), FO_OK);
    return s;
}

/* ---- route snapshots
 * --------------------------------------------------------- */

static void test_counts_by_result_and_class(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_stats s;

    add_route(f->router, "b", 2);
    report_n(f->router, a, FO_RESULT_SUCCESS, 5);
    report_n(f->router, a, FO_RESULT_BUSY, 2);
    report_n(f->router, a, FO_RESULT_CANCELLED, 1);
    /* Classified when reported: a later change of class does not rewrite
     * the past. */
    assert_int_equal(fo_router_set_result_class(f->router, FO_RESULT_BUSY,
                                                FO_CLASS_ROUTE_FAULT),
                     FO_OK);
    report_n(f->router, a, FO_RESULT_BUSY, 1);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 1);
    s = route_stats(f->router, a);
    assert_string_equal(s.name, "a");
    assert_true(s.route == a);
    assert_true(s.results[FO_RESULT_SUCCESS] == 5);
    assert_true(s.results[FO_RESULT_BUSY] == 3);
    assert_true(s.results[FO_RESULT_CANCELLED] == 1);
    assert_true(s.results[FO_RESULT_TIMEOUT] == 1);
    assert_true(s.reports == 10);
    assert_true(s.classes[FO_CLASS_SUCCESS] == 5);
    assert_true(s.classes[FO_CLASS_CALLEE] == 2);
    assert_true(s.classes[FO_CLASS_NEUTRAL] == 1);
    assert_true(s.classes[FO_CLASS_ROUTE_FAULT] == 2);
    assert_int_equal(s.consecutive_faults, 2);
    /* The window counts what says something about the route. */
    assert_true(s.window_attempts == 9);
    assert_true(s.window_faults == 2);
    assert_true(s.window_failure_rate > 2.0 / 9 - 1e-9 &&
                s.window_failure_rate < 2.0 / 9 + 1e-9);
    assert_true(s.last_fault_ns == f->clock.now);
    assert_true(s.last_success_ns == f->clock.now);
    assert_true(router_stats(f->router).reports == 10);
}

static void test_lifecycle_fields(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    fo_route_stats s;
    fo_attempt at = FO_ATTEMPT_INIT;

    f->opts.trial_concurrency = 2;
    f->opts.slow_call_ns = SEC;
    fixture_reopen(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 2);
    report_ex(f->router, a, FO_RESULT_SUCCESS, 2 * SEC, 0);
    report_ex(f->router, a, FO_RESULT_SUCCESS, 100 * MSEC, 0);
    s = route_stats(f->router, a);
    assert_true(s.window_timed == 2 && s.window_slow == 1);
    assert_true(s.window_slow_rate == 0.5);
    assert_true(pick(f->router, &at) == a); /* in service */
    advance(f, 2 * SEC);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    s = route_stats(f->router, a);
    assert_int_equal(s.state, FO_STATE_EJECTED);
    assert_int_equal(s.reason, FO_REASON_CONSECUTIVE_FAULTS);
    assert_string_equal(s.reason_text,
                        "3 consecutive route faults (last TIMEOUT); out for "
                        "15 s");
    assert_int_equal(s.ejections, 1);
    assert_int_equal(s.transitions, 1);
    assert_int_equal(s.penalty, FO_DEFAULT_DAMPING_PENALTY);
    assert_true(s.hold_down_ns == FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(s.until_ns == f->clock.now + FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(s.state_since_ns == f->clock.now);
    assert_true(s.window_attempts == 0); /* a new start after ejection */
    advance(f, 5 * SEC);
    s = route_stats(f->router, a);
    assert_true(s.time_in_state_ns == 5 * SEC);
    assert_true(s.now_ns == f->clock.now);
    /* The call picked before the ejection reports late: counted, not
     * judged. */
    assert_int_equal(fo_report_result(f->router, a, FO_RESULT_TIMEOUT, &at),
                     FO_OK);
    s = route_stats(f->router, a);
    assert_true(s.stale_reports == 1);
    assert_int_equal(s.state, FO_STATE_EJECTED);

    /* Trial: the snapshot applies the ended hold-down itself. */
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    s = route_stats(f->router, a);
    assert_int_equal(s.state, FO_STATE_TRIAL);
    assert_int_equal(s.trial_slots, 2);
    assert_int_equal(s.trial_slots_in_use, 0);
    assert_true(s.hold_down_ns == 0 && s.until_ns == 0);
    {
        fo_attempt t1 = FO_ATTEMPT_INIT, t2 = FO_ATTEMPT_INIT;

        assert_true(pick(f->router, &t1) == a);
        assert_true(pick(f->router, &t2) == a);
        s = route_stats(f->router, a);
        assert_int_equal(s.trial_slots_in_use, 2);
        assert_true(s.trial_picks == 2);
        assert_int_equal(fo_report_result(f->router, a, FO_RESULT_SUCCESS, &t1),
                         FO_OK);
        s = route_stats(f->router, a);
        assert_int_equal(s.trial_slots_in_use, 1);
        assert_int_equal(s.trial_passes, 1);
    }
    assert_true(s.picks == 3);

    /* Flags. */
    assert_int_equal(fo_route_signal(f->router, b, FO_SIGNAL_REGISTRATION_LOST),
                     FO_OK);
    s = route_stats(f->router, b);
    assert_true(s.flags & FO_STATS_AWAITS_REGISTRATION);
    assert_true(s.until_ns == 0);
    assert_int_equal(fo_route_set_admin(f->router, b, FO_ADMIN_DRAINING),
                     FO_OK);
    s = route_stats(f->router, b);
    assert_int_equal(s.admin, FO_ADMIN_DRAINING);
    assert_int_equal(s.state, FO_STATE_DRAINING);
    assert_int_equal(fo_route_drill(f->router, a, 60 * SEC), FO_OK);
    s = route_stats(f->router, a);
    assert_int_equal(s.state, FO_STATE_DRILL);
    assert_true(s.until_ns == f->clock.now + 60 * SEC);
}

static void test_guarded_ramping_and_panic_fields(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    fo_route_stats s;
    fo_router_stats rs;

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    f->opts.slow_start_ns = 60 * SEC;
    f->opts.panic = FO_PANIC_BEST_EFFORT;
    fixture_reopen(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 1);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    report_n(f->router, b, FO_RESULT_TIMEOUT, 3);
    s = route_stats(f->router, b);
    assert_true(s.flags & FO_STATS_GUARDED);
    assert_int_equal(s.state, FO_STATE_UP);
    rs = router_stats(f->router);
    assert_int_equal(rs.routes, 2);
    assert_int_equal(rs.routes_in_state[FO_STATE_UP], 1);
    assert_int_equal(rs.routes_in_state[FO_STATE_EJECTED], 1);
    /* Back in service: ramping. */
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    report_n(f->router, a, FO_RESULT_SUCCESS, FO_DEFAULT_TRIAL_SUCCESSES);
    s = route_stats(f->router, a);
    assert_int_equal(s.state, FO_STATE_UP);
    assert_true(s.flags & FO_STATS_RAMPING);
    advance(f, 60 * SEC);
    s = route_stats(f->router, a);
    assert_false(s.flags & FO_STATS_RAMPING);

    /* Panic: both out (the guard lets the last one go once a is back and
     * b's time is up, so take them out by hand). */
    assert_int_equal(fo_route_signal(f->router, a, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_OK);
    assert_int_equal(fo_route_signal(f->router, b, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_OK);
    for (int k = 0; k < 4; k++)
        (void)pick(f->router, NULL);
    rs = router_stats(f->router);
    assert_true(rs.panic_picks == 4);
    assert_int_equal(rs.lists_in_panic, 1);
    assert_true(route_stats(f->router, a).panic_picks +
                    route_stats(f->router, b).panic_picks ==
                4);
    assert_int_equal(fo_router_set_panic(f->router, FO_PANIC_FAIL), FO_OK);
    {
        fo_route_id r;

        assert_int_equal(fo_pick_route(f->router, NULL, &r), FO_ENOROUTE);
    }
    rs = router_stats(f->router);
    assert_true(rs.no_route_picks == 1);
    assert_true(rs.picks == 5);
    assert_int_equal(rs.flags & FO_ROUTER_STATS_THREAD, 0);
    assert_int_equal(fo_router_start_thread(f->router), FO_OK);
    assert_true(router_stats(f->router).flags & FO_ROUTER_STATS_THREAD);
    assert_int_equal(fo_router_stop_thread(f->router), FO_OK);
}

static void test_local_fault_flag(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;

    f->opts.guards_off = FO_GUARD_EJECTION;
    fixture_reopen(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 1);
    for (int k = 0; k < 3; k++) {
        report_n(f->router, a, FO_RESULT_UNAVAILABLE, 1);
        report_n(f->router, b, FO_RESULT_UNAVAILABLE, 1);
    }
    assert_true(router_stats(f->router).flags & FO_ROUTER_STATS_LOCAL_FAULT);
    report_n(f->router, b, FO_RESULT_SUCCESS, 1);
    assert_false(router_stats(f->router).flags & FO_ROUTER_STATS_LOCAL_FAULT);
}

static uint64_t probe_token;
static int probe_calls;

static void probe_cb(fo_router *router, fo_route_id route, fo_probe_token token,
                     void *userdata)
{
    (void)router;
    (void)route;
    (void)userdata;
    probe_token = token;
    probe_calls++;
}

static void test_probe_counters(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_probe_options o;
    fo_route_stats s;
    fo_probe_token late;

    assert_int_equal(FO_PROBE_OPTIONS_INIT(&o), FO_OK);
    o.flags = FO_PROBE_NO_JITTER;
    assert_int_equal(fo_set_probe(f->router, a, probe_cb, NULL, &o), FO_OK);
    s = route_stats(f->router, a);
    assert_true(s.flags & FO_STATS_PROBED);
    assert_int_equal(fo_router_tick(f->router), FO_OK); /* 1: answered */
    assert_int_equal(fo_probe_done(f->router, probe_token, FO_RESULT_SUCCESS),
                     FO_OK);
    advance(f, FO_DEFAULT_PROBE_INTERVAL_NS);
    assert_int_equal(fo_router_tick(f->router), FO_OK); /* 2: failed */
    assert_int_equal(
        fo_probe_done(f->router, probe_token, FO_RESULT_UNAVAILABLE), FO_OK);
    advance(f, FO_DEFAULT_PROBE_INTERVAL_NS);
    assert_int_equal(fo_router_tick(f->router), FO_OK); /* 3: times out */
    late = probe_token;
    advance(f, FO_DEFAULT_PROBE_TIMEOUT_NS);
    assert_int_equal(fo_router_tick(f->router), FO_OK);
    assert_int_equal(fo_probe_done(f->router, late, FO_RESULT_SUCCESS),
                     FO_EALREADY); /* ...and answers late */
    assert_int_equal(fo_probe_done(f->router, 12345, FO_RESULT_SUCCESS),
                     FO_ENOENT);
    s = route_stats(f->router, a);
    assert_true(s.probes_sent == 3);
    assert_true(s.probes_answered == 1);
    assert_true(s.probes_failed == 1);
    assert_true(s.probes_timed_out == 1);
    assert_true(s.probes_late == 1);
    assert_true(router_stats(f->router).probe_strays == 1);
    /* New probe settings, or none: the counters stay the route's. */
    o.interval_ns = 2 * FO_DEFAULT_PROBE_INTERVAL_NS;
    assert_int_equal(fo_set_probe(f->router, a, probe_cb, NULL, &o), FO_OK);
    assert_int_equal(fo_set_probe(f->router, a, NULL, NULL, NULL), FO_OK);
    s = route_stats(f->router, a);
    assert_true(s.probes_sent == 3 && s.probes_late == 1);
    assert_false(s.flags & FO_STATS_PROBED);
}

/* ---- size versioning and bad input
 * -------------------------------------------- */

static void test_sizes_and_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    union {
        fo_route_stats s;
        unsigned char bytes[sizeof(fo_route_stats) + 64];
    } big;
    fo_route_stats s;
    fo_router_stats rs;

    report_n(f->router, a, FO_RESULT_SUCCESS, 3);
    /* A newer caller: the tail this library does not know is zeroed. */
    memset(&big, 0xa5, sizeof big);
    big.s.size = sizeof big;
    assert_int_equal(fo_route_get_stats(f->router, a, &big.s), FO_OK);
    assert_true(big.s.size == sizeof big);
    assert_true(big.s.results[FO_RESULT_SUCCESS] == 3);
    for (size_t k = sizeof(fo_route_stats); k < sizeof big; k++)
        assert_int_equal(big.bytes[k], 0);
    /* An older caller: nothing past its size is touched. */
    memset(&s, 0xa5, sizeof s);
    s.size = offsetof(fo_route_stats, probes_late);
    assert_int_equal(fo_route_get_stats(f->router, a, &s), FO_EINVAL);
    memset(&s, 0xa5, sizeof s);
    s.size = sizeof s;
    assert_int_equal(fo_route_get_stats(f->router, a, &s), FO_OK);

    assert_rejected(f->router, FO_ENOENT,
                    fo_route_get_stats(f->router, bogus_id(a), &s));
    assert_rejected(f->router, FO_EINVAL,
                    fo_route_get_stats(f->router, a, NULL));
    s.size = 8;
    assert_rejected(f->router, FO_EINVAL, fo_route_get_stats(f->router, a, &s));
    s.size = (size_t)-1;
    assert_rejected(f->router, FO_EINVAL, fo_route_get_stats(f->router, a, &s));
    assert_int_equal(fo_route_get_stats(NULL, a, &s), FO_EINVAL);
    /* Names go into labels and logs as they are: UTF-8, no controls. */
    {
        static const char *const bad[] = {
            "x\xff", "x\xc0\xaf", "x\xed\xa0\x80",     "x\xc2\x85",
            "x\x7f", "caf\xc3",   "x\xf4\x90\x80\x80",
        };
        fo_route_id id;
        fo_plan_id p;

        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            assert_rejected(f->router, FO_EINVAL,
                            fo_route_add(f->router, bad[k], 1, 1, 0, &id));
            assert_rejected(
                f->router, FO_EINVAL,
                fo_plan_new(f->router, bad[k], FO_POLICY_PRIORITY, &p));
        }
        assert_int_equal(
            fo_route_add(f->router, "\xc3\xbc\xc2\xa0\xf0\x9f\x93\x9e", 1, 1, 0,
                         &id),
            FO_OK); /* "ü", a no-break space, a telephone receiver */
    }
    rs.size = 8;
    assert_rejected(f->router, FO_EINVAL, fo_router_get_stats(f->router, &rs));
    assert_rejected(f->router, FO_EINVAL, fo_router_get_stats(f->router, NULL));
    assert_int_equal(fo_router_get_stats(NULL, &rs), FO_EINVAL);
    assert_int_equal(fo_router_dump(NULL, stdout), FO_EINVAL);
    assert_rejected(f->router, FO_EINVAL, fo_router_dump(f->router, NULL));
    assert_true(fo_router_write_metrics(NULL, NULL, 0) == FO_EINVAL);
    {
        int64_t rc = 0;

        assert_rejected(
            f->router, FO_EINVAL,
            (int)(rc = fo_router_write_metrics(f->router, NULL, 10)));
        (void)rc;
    }
}

static void test_dump_errors(void **state)
{
    struct fixture *f = *state;
    FILE *ro;

    add_route(f->router, "a", 1);
    /* A stream that cannot be written. */
    ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    assert_int_equal(fo_router_dump(f->router, ro), FO_ESYS);
    fclose(ro);
    /* No memory for the snapshot. */
    f->alloc.fail_after = f->alloc.calls;
    assert_rejected(f->router, FO_ENOMEM, fo_router_dump(f->router, stdout));
    f->alloc.fail_after = -1;
}

/* ---- concurrent updates
 * ------------------------------------------------------- */

#define WORKERS 4
#define CALLS   20000

struct worker {
    fo_router *router;
    fo_route_id routes[3];
    uint64_t results[3][FO_STATS_RESULTS];
    unsigned seed;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    static const fo_result outcomes[] = {
        FO_RESULT_SUCCESS, FO_RESULT_SUCCESS,  FO_RESULT_SUCCESS,
        FO_RESULT_BUSY,    FO_RESULT_NOANSWER, FO_RESULT_CANCELLED,
        FO_RESULT_TIMEOUT,
    };

    for (int k = 0; k < CALLS; k++) {
        int i = (int)(rand_r(&w->seed) % 3);
        fo_result res =
            outcomes[rand_r(&w->seed) % (sizeof outcomes / sizeof outcomes[0])];

        TCHECK_EQ(fo_report_result(w->router, w->routes[i], res, NULL), FO_OK);
        w->results[i][res]++;
    }
    return NULL;
}

struct reader {
    fo_router *router;
    fo_route_id routes[3];
    _Atomic int stop;
    uint64_t snapshots;
};

static void *read_stats(void *arg)
{
    struct reader *rd = arg;
    uint64_t last[3] = {0, 0, 0};

    while (!atomic_load(&rd->stop)) {
        for (int i = 0; i < 3; i++) {
            fo_route_stats s = FO_ROUTE_STATS_INIT;
            uint64_t sum = 0, classes = 0;

            TCHECK_EQ(fo_route_get_stats(rd->router, rd->routes[i], &s), FO_OK);
            /* One moment: the parts add up to the whole. */
            for (unsigned k = 0; k < FO_STATS_RESULTS; k++)
                sum += s.results[k];
            for (unsigned k = 0; k < FO_STATS_CLASSES; k++)
                classes += s.classes[k];
            TCHECK(sum == s.reports);
            TCHECK(classes == s.reports);
            TCHECK(s.window_faults <= s.window_attempts);
            TCHECK(s.reports >= last[i]); /* never backwards */
            last[i] = s.reports;
            rd->snapshots++;
        }
    }
    return NULL;
}

static void test_concurrent_counts_add_up(void **state)
{
    struct fixture *f = *state;
    struct worker w[WORKERS];
    struct reader rd;
    pthread_t t[WORKERS], tr;
    fo_route_id ids[3];

    /* Faults must not take routes out here: only counting is tested. */
    f->opts.detectors_off = FO_DETECTOR_CONSECUTIVE | FO_DETECTOR_FAILURE_RATE |
                            FO_DETECTOR_SLOW_CALLS;
    fixture_reopen(f);
    ids[0] = add_route(f->router, "a", 1);
    ids[1] = add_route(f->router, "b", 1);
    ids[2] = add_route(f->router, "c", 2);
    memset(&rd, 0, sizeof rd);
    rd.router = f->router;
    memcpy(rd.routes, ids, sizeof ids);
    assert_int_equal(pthread_create(&tr, NULL, read_stats, &rd), 0);
    for (int k = 0; k < WORKERS; k++) {
        memset(&w[k], 0, sizeof w[k]);
        w[k].router = f->router;
        memcpy(w[k].routes, ids, sizeof ids);
        w[k].seed = 1234u + (unsigned)k;
        assert_int_equal(pthread_create(&t[k], NULL, work, &w[k]), 0);
    }
    for (int k = 0; k < WORKERS; k++)
        assert_int_equal(pthread_join(t[k], NULL), 0);
    atomic_store(&rd.stop, 1);
    assert_int_equal(pthread_join(tr, NULL), 0);
    assert_true(rd.snapshots > 0);
    for (int i = 0; i < 3; i++) {
        fo_route_stats s = route_stats(f->router, ids[i]);

        for (int res = FO_RESULT_SUCCESS; res <= FO_RESULT_REJECTED; res++) {
            uint64_t want = 0;

            for (int k = 0; k < WORKERS; k++)
                want += w[k].results[i][res];
            assert_true(s.results[res] == want);
        }
    }
    assert_int_equal(atomic_load(&thread_failure), 0);
    assert_true(router_stats(f->router).reports == (uint64_t)WORKERS * CALLS);
}

/* ---- golden dump and metrics ------------------------------------------------
 */

/* A router in every interesting condition, on the manual clock. */
static void golden_scene(struct fixture *f)
{
    fo_route_id a, b, c, d, e;
    fo_probe_options o;

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    f->opts.max_ejected_pct = 20; /* 1 of 5 */
    fixture_reopen(f);
    assert_int_equal(fo_route_add(f->router, "carrier-a", 1, 100, 0, &a),
                     FO_OK);
    assert_int_equal(fo_route_add(f->router, "carrier-b", 1, 50, 0, &b), FO_OK);
    assert_int_equal(
        fo_route_add(f->router, "say \"hi\" \\ bye", 2, 100, 3, &c), FO_OK);
    assert_int_equal(
        fo_route_add(f->router, "caf\xc3\xa9-\xe2\x82\xac", 3, 0, 0, &d),
        FO_OK); /* café-€: UTF-8 padded by characters */
    assert_int_equal(fo_route_add(f->router, "drill-e", 3, 10, 0, &e), FO_OK);
    for (int k = 0; k < 8; k++) {
        fo_attempt at = FO_ATTEMPT_INIT;
        fo_route_id r = pick(f->router, &at);

        assert_int_equal(
            fo_report_result(f->router, r,
                             k % 4 == 3 ? FO_RESULT_BUSY : FO_RESULT_SUCCESS,
                             &at),
            FO_OK);
        advance(f, 500 * MSEC);
    }
    report_n(f->router, b, FO_RESULT_TIMEOUT, 3);
    advance(f, 4 * SEC);
    report_n(f->router, c, FO_RESULT_REJECTED, 3); /* guarded */
    assert_int_equal(fo_route_drill(f->router, e, 60 * SEC), FO_OK);
    assert_int_equal(FO_PROBE_OPTIONS_INIT(&o), FO_OK);
    o.flags = FO_PROBE_NO_JITTER;
    assert_int_equal(fo_set_probe(f->router, d, probe_cb, NULL, &o), FO_OK);
    assert_int_equal(fo_router_tick(f->router), FO_OK);
    assert_int_equal(fo_probe_done(f->router, probe_token, FO_RESULT_SUCCESS),
                     FO_OK);
    advance(f, 2500 * MSEC);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *in = fopen(path, "rb");
    char *buf;
    long n;

    if (in == NULL)
        return NULL;
    assert_int_equal(fseek(in, 0, SEEK_END), 0);
    n = ftell(in);
    assert_true(n >= 0);
    rewind(in);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_true(fread(buf, 1, (size_t)n, in) == (size_t)n);
    buf[n] = '\0';
    fclose(in);
    *len = (size_t)n;
    return buf;
}

static void check_golden(const char *name, const char *text, size_t len)
{
    char path[512];
    const char *update = getenv("FO_UPDATE_GOLDEN");
    char *want;
    size_t want_len = 0;

    snprintf(path, sizeof path, "%s/%s", FO_GOLDEN_DIR, name);
    if (update != NULL && strcmp(update, "1") == 0) {
        FILE *out = fopen(path, "wb");

        assert_non_null(out);
        assert_true(fwrite(text, 1, len, out) == len);
        assert_int_equal(fclose(out), 0);
    }
    want = read_file(path, &want_len);
    if (want == NULL)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    if (want_len != len || memcmp(want, text, len) != 0) {
        print_error("---- %s differs; got:\n%s\n---- (end)\n", path, text);
        free(want);
        fail_msg("output differs from %s (FO_UPDATE_GOLDEN=1 rewrites it)",
                 path);
    }
    free(want);
}

static void test_golden_dump(void **state)
{
    struct fixture *f = *state;
    char *text = NULL;
    size_t len = 0;
    FILE *mem;

    golden_scene(f);
    mem = open_memstream(&text, &len);
    assert_non_null(mem);
    assert_int_equal(fo_router_dump(f->router, mem), FO_OK);
    assert_int_equal(fclose(mem), 0);
    check_golden("dump.txt", text, len);
    free(text);
}

static void test_golden_metrics(void **state)
{
    struct fixture *f = *state;
    int64_t n;
    char *buf;

    golden_scene(f);
    n = fo_router_write_metrics(f->router, NULL, 0);
    assert_true(n > 0);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_true(fo_router_write_metrics(f->router, buf, (size_t)n + 1) == n);
    assert_true(strlen(buf) == (size_t)n);
    check_golden("metrics.prom", buf, (size_t)n);

    /* One byte short: complete lines only, and the full length. */
    memset(buf, 'x', (size_t)n + 1);
    assert_true(fo_router_write_metrics(f->router, buf, (size_t)n) == n);
    assert_true(strlen(buf) < (size_t)n);
    assert_true(strlen(buf) > 0 && buf[strlen(buf) - 1] == '\n');
    /* Any size: a prefix of whole lines. */
    for (size_t size = 1; size < 400; size += 37) {
        char small[400];
        size_t got;

        assert_true(fo_router_write_metrics(f->router, small, size) == n);
        got = strlen(small);
        assert_true(got < size);
        assert_true(got == 0 || small[got - 1] == '\n');
    }
    free(buf);
}

static void test_metrics_of_an_empty_router(void **state)
{
    struct fixture *f = *state;
    char buf[8192];
    int64_t n = fo_router_write_metrics(f->router, buf, sizeof buf);

    assert_true(n > 0 && (size_t)n < sizeof buf);
    assert_non_null(strstr(buf, "# TYPE failover_route_state gauge\n"));
    assert_null(strstr(buf, "failover_route_state{"));
    assert_non_null(strstr(buf, "failover_routes{state=\"UP\"} 0\n"));
}

static void test_metrics_numbers(void **state)
{
    struct fixture *f = *state;
    fo_route_id a;
    char buf[16384];

    f->opts.detectors_off = FO_DETECTOR_CONSECUTIVE | FO_DETECTOR_FAILURE_RATE;
    fixture_reopen(f);
    a = add_route(f->router, "a", 1);
    /* 2 faults of 9: a fraction with nine digits, rounded. */
    report_n(f->router, a, FO_RESULT_SUCCESS, 4);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 2);
    report_n(f->router, a, FO_RESULT_SUCCESS, 3);
    advance(f, 2 * SEC + 500); /* 2.0000005 s */
    assert_true(fo_router_write_metrics(f->router, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf,
                           "\nfailover_route_window_failure_ratio{route=\"a\"} "
                           "0.222222222\n"));
    assert_non_null(strstr(
        buf,
        "\nfailover_route_time_in_state_seconds{route=\"a\"} 2.0000005\n"));
    assert_non_null(strstr(buf,
                           "\nfailover_route_results_total{route=\"a\",result="
                           "\"SUCCESS\"} 7\n"));
    assert_non_null(
        strstr(buf, "\nfailover_route_consecutive_faults{route=\"a\"} 0\n"));
    assert_non_null(
        strstr(buf, "\nfailover_route_hold_down_seconds{route=\"a\"} 0\n"));
    /* 2 of 3: rounds up in the last digit. */
    report_n(f->router, a, FO_RESULT_TIMEOUT, 12);
    assert_true(fo_router_write_metrics(f->router, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf,
                           "\nfailover_route_window_failure_ratio{route=\"a\"} "
                           "0.666666667\n"));
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_counts_by_result_and_class),
        T(test_lifecycle_fields),
        T(test_guarded_ramping_and_panic_fields),
        T(test_local_fault_flag),
        T(test_probe_counters),
        T(test_sizes_and_bad_input),
        T(test_dump_errors),
        T(test_concurrent_counts_add_up),
        T(test_golden_dump),
        T(test_golden_metrics),
        T(test_metrics_of_an_empty_router),
        T(test_metrics_numbers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
