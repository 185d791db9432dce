/*
 * Events and the log: every kind and every reason, the numbers behind
 * them, ordering (within a thread, across threads, through callbacks that
 * call back in), replacing callbacks while one runs, a full queue, an
 * allocator that fails, and bad input.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "internal-helpers.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* cmocka's asserts must not run off the test's thread (they longjmp):
 * callbacks and worker threads record the first failing line instead,
 * and every test's teardown checks it. */
static _Atomic int thread_failure;
#define TCHECK(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            int zero_ = 0;                                                     \
            atomic_compare_exchange_strong(&thread_failure, &zero_, __LINE__); \
        }                                                                      \
    } while (0)
#define TCHECK_EQ(a, b) TCHECK((a) == (b))

/* ---- a recorder ------------------------------------------------------------
 */

struct rec_event {
    fo_event ev;
    char name[FO_ROUTE_NAME_MAX + 1];
    char text[FO_REASON_TEXT_MAX];
};

struct recorder {
    struct rec_event e[4096];
    size_t n;
    uint64_t total;     /* calls, also past the array */
    _Atomic int inside; /* callbacks running now */
    int max_inside;
    /* what to do inside the callback */
    void (*hook)(fo_router *router, const fo_event *ev, struct recorder *rec);
    int rc_free, rc_stop, rc_start, rc_tick;
};

static struct recorder rec;

/* Every reason seen by any test in this file (checked by the last test). */
static uint32_t reasons_seen;
static uint32_t kinds_seen;

static void record(fo_router *router, const fo_event *ev, void *userdata)
{
    struct recorder *r = userdata;
    int now_inside = atomic_fetch_add(&r->inside, 1) + 1;

    if (now_inside > r->max_inside)
        r->max_inside = now_inside;
    TCHECK(ev->size == sizeof(fo_event));
    TCHECK(ev->text);
    TCHECK(ev->route_name);
    if (r->n < NELEM(r->e)) {
        struct rec_event *e = &r->e[r->n++];

        e->ev = *ev;
        snprintf(e->name, sizeof e->name, "%s", ev->route_name);
        snprintf(e->text, sizeof e->text, "%s", ev->text);
        e->ev.route_name = e->name;
        e->ev.text = e->text;
    }
    r->total++;
    if (ev->reason > 0 && ev->reason < 32)
        reasons_seen |= 1u << ev->reason;
    if (ev->kind > 0 && ev->kind < 32)
        kinds_seen |= 1u << ev->kind;
    if (r->hook != NULL)
        r->hook(router, ev, r);
    atomic_fetch_sub(&r->inside, 1);
}

static int teardown(void **state)
{
    int line = atomic_exchange(&thread_failure, 0);

    fixture_teardown(state);
    if (line != 0)
        fail_msg("a check off the test's thread failed at line %d", line);
    return 0;
}

static int tests_run, tests_total;

static int setup(void **state)
{
    tests_run++;
    memset(&rec, 0, sizeof rec);
    fixture_setup(state);
    assert_int_equal(fo_router_set_event_cb(((struct fixture *)*state)->router,
                                            record, &rec),
                     FO_OK);
    return 0;
}

static void listen_again(struct fixture *f)
{
    fixture_reopen(f);
    memset(&rec, 0, sizeof rec);
    assert_int_equal(fo_router_set_event_cb(f->router, record, &rec), FO_OK);
}

/* The index of the first recorded event of this kind (and reason, unless
 * FO_REASON_NONE) at or after from; fails the test if there is none. */
static size_t find(size_t from, fo_event_kind kind, fo_reason reason)
{
    for (size_t i = from; i < rec.n; i++)
        if (rec.e[i].ev.kind == kind &&
            (reason == FO_REASON_NONE || rec.e[i].ev.reason == reason))
            return i;
    fail_msg("no %s event with reason %s after #%zu (of %zu)",
             fo_event_kind_name(kind), fo_reason_name(reason), from, rec.n);
    return 0;
}

static size_t count_kind(fo_event_kind kind)
{
    size_t n = 0;

    for (size_t i = 0; i < rec.n; i++)
        n += rec.e[i].ev.kind == kind;
    return n;
}

/* Every route's STATE events chain (old = the previous new), sequence
 * numbers count 1, 2, 3, ... and time never goes back. */
static void assert_well_ordered(void)
{
    for (size_t i = 0; i < rec.n; i++) {
        const fo_event *ev = &rec.e[i].ev;

        assert_true(ev->seq == (uint64_t)i + 1);
        if (i > 0)
            assert_true(ev->time_ns >= rec.e[i - 1].ev.time_ns);
        if (ev->kind != FO_EVENT_STATE)
            continue;
        for (size_t k = i; k-- > 0;) {
            const fo_event *prev = &rec.e[k].ev;

            if (prev->route != ev->route)
                continue;
            if (prev->kind == FO_EVENT_STATE) {
                assert_int_equal(ev->old_state, prev->new_state);
                break;
            }
            if (prev->kind == FO_EVENT_ROUTE_ADDED) {
                assert_int_equal(ev->old_state, FO_STATE_UP);
                break;
            }
        }
    }
}

/* ---- route state events
 * ------------------------------------------------------ */

static void test_added_and_removed(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "carrier-a", 1);
    size_t i;

    i = find(0, FO_EVENT_ROUTE_ADDED, FO_REASON_ADDED);
    assert_true(rec.e[i].ev.route == a);
    assert_string_equal(rec.e[i].name, "carrier-a");
    assert_string_equal(rec.e[i].text, "added (priority 1, weight 1, cost 0)");
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_UP);
    assert_true(rec.e[i].ev.time_ns == f->clock.now);
    assert_int_equal(fo_route_remove(f->router, a), FO_OK);
    i = find(i + 1, FO_EVENT_ROUTE_REMOVED, FO_REASON_NONE);
    assert_true(rec.e[i].ev.route == a);
    assert_string_equal(rec.e[i].name, "carrier-a");
    assert_well_ordered();
}

static void test_ejection_carries_its_numbers(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "carrier-a", 1);
    const fo_event *ev;
    size_t i;

    add_route(f->router, "carrier-b", 2);
    report_n(f->router, a, FO_RESULT_SUCCESS, 4);
    advance(f, SEC);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    i = find(0, FO_EVENT_STATE, FO_REASON_CONSECUTIVE_FAULTS);
    ev = &rec.e[i].ev;
    assert_true(ev->route == a);
    assert_string_equal(ev->route_name, "carrier-a");
    assert_int_equal(ev->old_state, FO_STATE_UP);
    assert_int_equal(ev->new_state, FO_STATE_EJECTED);
    assert_string_equal(ev->text,
                        "3 consecutive route faults (last TIMEOUT); out for "
                        "15 s");
    assert_true(ev->time_ns == f->clock.now);
    /* The numbers that decided it, from before the ejection reset them. */
    assert_int_equal(ev->consecutive_faults, 3);
    assert_true(ev->window_attempts == 7);
    assert_true(ev->window_faults == 3);
    assert_int_equal(ev->penalty, FO_DEFAULT_DAMPING_PENALTY);
    assert_true(ev->hold_down_ns == FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(ev->until_ns == f->clock.now + FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(ev->plan == FO_PLAN_ID_NONE);
    assert_true(ev->count == 0);
    assert_well_ordered();
}

static void test_full_cycle_in_order(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t i;

    add_route(f->router, "b", 2);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    /* Any call notices the hold-down is over. */
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
    i = find(0, FO_EVENT_STATE, FO_REASON_HOLD_DOWN_ENDED);
    assert_int_equal(rec.e[i].ev.old_state, FO_STATE_EJECTED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_TRIAL);
    assert_string_equal(rec.e[i].text, "hold-down of 15 s ended");
    /* The trial fails: out again, for longer. */
    {
        fo_attempt at = FO_ATTEMPT_INIT;

        assert_true(pick(f->router, &at) == a);
        assert_int_equal(
            fo_report_result(f->router, a, FO_RESULT_REJECTED, &at), FO_OK);
    }
    i = find(i, FO_EVENT_STATE, FO_REASON_TRIAL_FAILED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_EJECTED);
    assert_true(rec.e[i].ev.hold_down_ns > FO_DEFAULT_HOLD_DOWN_NS);
    advance(f, rec.e[i].ev.hold_down_ns);
    for (int k = 0; k < (int)FO_DEFAULT_TRIAL_SUCCESSES; k++) {
        fo_attempt at = FO_ATTEMPT_INIT;

        assert_true(pick(f->router, &at) == a);
        assert_int_equal(fo_report_result(f->router, a, FO_RESULT_SUCCESS, &at),
                         FO_OK);
    }
    i = find(i, FO_EVENT_STATE, FO_REASON_TRIAL_PASSED);
    assert_int_equal(rec.e[i].ev.old_state, FO_STATE_TRIAL);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_UP);
    assert_true(rec.e[i].ev.until_ns == 0);
    assert_well_ordered();
}

static void test_rate_detectors(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;

    f->opts.consecutive_faults = 50;
    f->opts.slow_call_ns = 2 * SEC;
    listen_again(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 1);
    /* Every other call fails: never three in a row, but 50% of 20. */
    for (int k = 0; k < 10; k++) {
        report_n(f->router, a, FO_RESULT_SUCCESS, 1);
        report_n(f->router, a, FO_RESULT_CONGESTION, 1);
    }
    find(0, FO_EVENT_STATE, FO_REASON_FAILURE_RATE);
    /* Calls that work, slowly. */
    for (int k = 0; k < 20; k++)
        report_ex(f->router, b, FO_RESULT_SUCCESS, 3 * SEC, 0);
    find(0, FO_EVENT_STATE, FO_REASON_SLOW_CALLS);
    assert_well_ordered();
}

static void test_retry_after_and_updates(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t i;

    add_route(f->router, "b", 2);
    report_ex(f->router, a, FO_RESULT_REJECTED, 0, 60 * SEC);
    i = find(0, FO_EVENT_STATE, FO_REASON_RETRY_AFTER);
    assert_true(rec.e[i].ev.until_ns == f->clock.now + 60 * SEC);
    /* A longer Retry-After while out: the state stays, the reason is
     * new. */
    advance(f, 10 * SEC);
    report_ex(f->router, a, FO_RESULT_REJECTED, 0, 120 * SEC);
    i = find(i + 1, FO_EVENT_UPDATE, FO_REASON_RETRY_AFTER);
    assert_int_equal(rec.e[i].ev.old_state, FO_STATE_EJECTED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_EJECTED);
    assert_string_equal(rec.e[i].text,
                        "REJECTED with Retry-After 120 s; out for 120 s more");
    assert_true(rec.e[i].ev.until_ns == f->clock.now + 120 * SEC);
    /* The registration goes while it is out: out until it is back. */
    assert_int_equal(fo_route_signal(f->router, a, FO_SIGNAL_REGISTRATION_LOST),
                     FO_OK);
    i = find(i + 1, FO_EVENT_UPDATE, FO_REASON_REGISTRATION_LOST);
    assert_true(rec.e[i].ev.until_ns == 0);
    assert_int_equal(
        fo_route_signal(f->router, a, FO_SIGNAL_REGISTRATION_RESTORED), FO_OK);
    i = find(i + 1, FO_EVENT_STATE, FO_REASON_REGISTRATION_RESTORED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_TRIAL);
    assert_well_ordered();
}

static void test_signals(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t before;

    add_route(f->router, "b", 2);
    assert_int_equal(fo_route_signal(f->router, a, FO_SIGNAL_REGISTRATION_LOST),
                     FO_OK);
    find(0, FO_EVENT_STATE, FO_REASON_REGISTRATION_LOST);
    assert_int_equal(
        fo_route_signal(f->router, a, FO_SIGNAL_REGISTRATION_RESTORED), FO_OK);
    advance(f, SEC);
    report_n(f->router, a, FO_RESULT_SUCCESS, 2);
    assert_int_equal(fo_route_signal(f->router, a, FO_SIGNAL_KEEPALIVE_LOST),
                     FO_OK);
    find(0, FO_EVENT_STATE, FO_REASON_KEEPALIVE_LOST);
    assert_int_equal(
        fo_route_signal(f->router, a, FO_SIGNAL_KEEPALIVE_RESTORED), FO_OK);
    find(0, FO_EVENT_STATE, FO_REASON_KEEPALIVE_RESTORED);
    /* A signal that changes nothing says nothing. */
    before = rec.n;
    assert_int_equal(
        fo_route_signal(f->router, a, FO_SIGNAL_KEEPALIVE_RESTORED), FO_OK);
    assert_int_equal(rec.n, before);
    assert_well_ordered();
}

static void test_operator_changes(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t i, before;

    add_route(f->router, "b", 2);
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DRAINING),
                     FO_OK);
    i = find(0, FO_EVENT_STATE, FO_REASON_DRAINING);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_DRAINING);
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    find(i, FO_EVENT_STATE, FO_REASON_DISABLED);
    /* The same setting again: no event. */
    before = rec.n;
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    assert_int_equal(rec.n, before);
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_ENABLED), FO_OK);
    i = find(i, FO_EVENT_STATE, FO_REASON_ENABLED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_UP);
    assert_int_equal(fo_route_drill(f->router, a, 30 * SEC), FO_OK);
    i = find(i, FO_EVENT_STATE, FO_REASON_DRILL_STARTED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_DRILL);
    assert_true(rec.e[i].ev.until_ns == f->clock.now + 30 * SEC);
    advance(f, 30 * SEC);
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);
    i = find(i, FO_EVENT_STATE, FO_REASON_DRILL_ENDED);
    assert_int_equal(rec.e[i].ev.old_state, FO_STATE_DRILL);
    assert_well_ordered();
}

static void test_damping(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t i;

    add_route(f->router, "b", 2);
    /* Flap: out, back, out, back, out. */
    for (int flap = 0; flap < 4; flap++) {
        report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
        if (route_state(f->router, a) == FO_STATE_SUPPRESSED)
            break;
        advance(f, 60 * SEC);
        report_n(f->router, a, FO_RESULT_SUCCESS, 2);
        (void)route_state(f->router, a);
        advance(f, SEC);
    }
    i = find(0, FO_EVENT_STATE, FO_REASON_SUPPRESSED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_SUPPRESSED);
    assert_true(rec.e[i].ev.penalty >= FO_DEFAULT_DAMPING_SUPPRESS);
    assert_true(rec.e[i].ev.until_ns > f->clock.now);
    advance(f, FO_DEFAULT_DAMPING_MAX_SUPPRESS_NS);
    (void)route_state(f->router, a);
    i = find(i, FO_EVENT_STATE, FO_REASON_REUSED);
    assert_int_equal(rec.e[i].ev.old_state, FO_STATE_SUPPRESSED);
    assert_true(rec.e[i].ev.penalty < FO_DEFAULT_DAMPING_REUSE);
    assert_well_ordered();
}

/* ---- guards, local faults, panic
 * ---------------------------------------------- */

static void test_ejection_guard_events(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    size_t i;

    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    listen_again(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 1);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    report_n(f->router, b, FO_RESULT_TIMEOUT, 3);
    i = find(0, FO_EVENT_GUARD, FO_REASON_EJECTION_GUARD);
    assert_true(rec.e[i].ev.route == b);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_UP);
    assert_int_equal(rec.e[i].ev.consecutive_faults, 3);
    assert_string_equal(rec.e[i].text,
                        "3 consecutive route faults (last TIMEOUT); kept in "
                        "service by the ejection guard: 1 of 2 routes "
                        "already out");
    report_n(f->router, b, FO_RESULT_SUCCESS, 1);
    i = find(i, FO_EVENT_GUARD, FO_REASON_GUARD_ENDED);
    assert_true(rec.e[i].ev.route == b);
    assert_string_equal(rec.e[i].text, "working again: SUCCESS");
    assert_well_ordered();
}

static void test_local_fault_events(void **state)
{
    struct fixture *f = *state;
    fo_route_id ids[3];
    size_t i, g;

    f->opts.guards_off = FO_GUARD_EJECTION;
    listen_again(f);
    for (int k = 0; k < 3; k++) {
        char name[8];

        snprintf(name, sizeof name, "r%d", k);
        ids[k] = add_route(f->router, name, (uint32_t)k);
    }
    for (int call = 0; call < 5; call++) {
        fo_attempt at = FO_ATTEMPT_INIT;
        fo_route_id r;

        while (fo_pick_route(f->router, &at, &r) == FO_OK)
            fo_report_result(f->router, r, FO_RESULT_UNAVAILABLE, &at);
        advance(f, SEC);
    }
    i = find(0, FO_EVENT_LOCAL_FAULT, FO_REASON_LOCAL_FAULT);
    assert_non_null(strstr(rec.e[i].text, "every route in service failing"));
    /* The router-level event comes first, then the route kept. */
    g = find(i, FO_EVENT_GUARD, FO_REASON_LOCAL_FAULT);
    assert_true(g > i);
    assert_true(rec.e[g].ev.route == rec.e[i].ev.route);
    /* Only one announcement for one suspicion. */
    assert_int_equal(count_kind(FO_EVENT_LOCAL_FAULT), 1);
    report_n(f->router, ids[1], FO_RESULT_SUCCESS, 1);
    i = find(i, FO_EVENT_LOCAL_FAULT_ENDED, FO_REASON_NONE);
    assert_true(rec.e[i].ev.route == ids[1]);
    assert_string_equal(rec.e[i].text, "r1 works again: SUCCESS");
    assert_int_equal(count_kind(FO_EVENT_LOCAL_FAULT_ENDED), 1);
    assert_well_ordered();
}

static void test_panic_events(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;
    fo_pick pk = FO_PICK_INIT;
    size_t i;

    f->opts.panic = FO_PANIC_BEST_EFFORT;
    listen_again(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 2);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    advance(f, 5 * SEC);
    report_n(f->router, b, FO_RESULT_TIMEOUT, 3);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
        assert_true(pk.flags & FO_PICK_PANIC);
    }
    i = find(0, FO_EVENT_PANIC_STARTED, FO_REASON_NONE);
    assert_true(rec.e[i].ev.route == a); /* back soonest */
    assert_true(rec.e[i].ev.plan == FO_PLAN_ID_NONE);
    assert_string_equal(rec.e[i].text,
                        "no route eligible in the default list; taking the "
                        "least-bad, a (EJECTED)");
    assert_true(rec.e[i].ev.count == 0);
    assert_int_equal(count_kind(FO_EVENT_PANIC_STARTED), 1);
    /* a's hold-down ends (b's not yet): a trial is an eligible route. */
    advance(f, FO_DEFAULT_HOLD_DOWN_NS - 5 * SEC);
    assert_int_equal(fo_pick_route_ex(f->router, NULL, &pk), FO_OK);
    assert_true((pk.flags & FO_PICK_PANIC) == 0);
    i = find(i, FO_EVENT_PANIC_ENDED, FO_REASON_NONE);
    assert_true(rec.e[i].ev.count == 3);
    assert_true(rec.e[i].ev.route == a);
    assert_string_equal(rec.e[i].text,
                        "a eligible again in the default list after 3 picks "
                        "in panic");

    /* With the fail policy, in a plan. */
    {
        fo_plan_id p;
        fo_attempt at;
        fo_route_id r;

        assert_int_equal(
            fo_plan_new(f->router, "inbound", FO_POLICY_PRIORITY, &p), FO_OK);
        assert_int_equal(fo_plan_set_route(f->router, p, b, 1, 1, 0), FO_OK);
        assert_int_equal(fo_router_set_panic(f->router, FO_PANIC_FAIL), FO_OK);
        assert_int_equal(fo_attempt_init_plan(&at, p), FO_OK);
        assert_int_equal(fo_pick_route(f->router, &at, &r), FO_ENOROUTE);
        i = find(i, FO_EVENT_PANIC_STARTED, FO_REASON_NONE);
        assert_true(rec.e[i].ev.plan == p);
        assert_true(rec.e[i].ev.route == FO_ROUTE_ID_NONE);
        assert_string_equal(rec.e[i].text,
                            "no route eligible in plan inbound; picks fail "
                            "(panic policy FAIL)");
    }
    assert_well_ordered();
}

static int probe_calls;
static fo_probe_token probe_token;

static void probe_cb(fo_router *router, fo_route_id route, fo_probe_token token,
                     void *userdata)
{
    (void)router;
    (void)route;
    (void)userdata;
    probe_calls++;
    probe_token = token;
}

static void test_probe_events(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_probe_options o;
    size_t i;

    add_route(f->router, "b", 2);
    assert_int_equal(FO_PROBE_OPTIONS_INIT(&o), FO_OK);
    o.flags = FO_PROBE_NO_JITTER;
    o.fall = 2;
    o.rise = 2;
    assert_int_equal(fo_set_probe(f->router, a, probe_cb, NULL, &o), FO_OK);
    for (int k = 0; k < 2; k++) {
        int before = probe_calls;

        if (k > 0)
            advance(f, FO_DEFAULT_PROBE_INTERVAL_NS);
        assert_int_equal(fo_router_tick(f->router), FO_OK);
        assert_int_equal(probe_calls, before + 1);
        assert_int_equal(
            fo_probe_done(f->router, probe_token, FO_RESULT_UNAVAILABLE),
            FO_OK);
    }
    i = find(0, FO_EVENT_STATE, FO_REASON_PROBE_FAILED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_EJECTED);
    /* Probes of a route that is out come every down interval. */
    for (int k = 0; k < 2; k++) {
        int before = probe_calls;

        advance(f, FO_DEFAULT_PROBE_DOWN_INTERVAL_NS);
        assert_int_equal(fo_router_tick(f->router), FO_OK);
        assert_int_equal(probe_calls, before + 1);
        assert_int_equal(
            fo_probe_done(f->router, probe_token, FO_RESULT_SUCCESS), FO_OK);
    }
    i = find(i, FO_EVENT_STATE, FO_REASON_PROBE_PASSED);
    assert_int_equal(rec.e[i].ev.new_state, FO_STATE_UP);
    assert_int_equal(fo_set_probe(f->router, a, NULL, NULL, NULL), FO_OK);
    assert_well_ordered();
}

/* ---- the log
 * ------------------------------------------------------------------- */

struct log_rec {
    char lines[64][512];
    fo_log_level levels[64];
    int n;
};

static void log_cb(fo_router *router, fo_log_level level, const char *message,
                   const fo_event *ev, void *userdata)
{
    struct log_rec *l = userdata;

    (void)router;
    assert_non_null(ev);
    assert_true(ev->size == sizeof(fo_event));
    if (l->n < 64) {
        snprintf(l->lines[l->n], sizeof l->lines[0], "%s", message);
        l->levels[l->n] = level;
    }
    l->n++;
}

static void test_log_lines_and_levels(void **state)
{
    struct fixture *f = *state;
    static struct log_rec warn, debug;
    fo_route_id a, b;

    memset(&warn, 0, sizeof warn);
    memset(&debug, 0, sizeof debug);
    f->opts.guards_off = FO_GUARD_LOCAL_FAULT;
    listen_again(f);
    assert_int_equal(fo_router_set_event_cb(f->router, NULL, NULL), FO_OK);
    assert_int_equal(
        fo_router_set_log_cb(f->router, FO_LOG_WARNING, log_cb, &warn), FO_OK);
    a = add_route(f->router, "carrier-a", 1);
    b = add_route(f->router, "carrier-b", 1);
    assert_int_equal(warn.n, 0); /* additions are INFO */
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    assert_int_equal(warn.n, 1);
    assert_int_equal(warn.levels[0], FO_LOG_WARNING);
    assert_string_equal(warn.lines[0],
                        "carrier-a: UP -> EJECTED (CONSECUTIVE_FAULTS): 3 "
                        "consecutive route faults (last TIMEOUT); out for "
                        "15 s");
    /* b is kept by the guard: news the first time, detail after. */
    report_n(f->router, b, FO_RESULT_TIMEOUT, 3);
    assert_int_equal(warn.n, 2);
    assert_string_equal(warn.lines[1],
                        "carrier-b: UP (EJECTION_GUARD): 3 consecutive route "
                        "faults (last TIMEOUT); kept in service by the "
                        "ejection guard: 1 of 2 routes already out");
    assert_int_equal(
        fo_router_set_log_cb(f->router, FO_LOG_DEBUG, log_cb, &debug), FO_OK);
    /* The guard's time runs out, the next fault asks it again: detail. */
    advance(f, FO_DEFAULT_LOCAL_FAULT_WINDOW_NS);
    report_n(f->router, b, FO_RESULT_TIMEOUT, 1);
    assert_int_equal(debug.n, 2);
    assert_int_equal(debug.levels[0], FO_LOG_DEBUG);
    assert_string_equal(debug.lines[0],
                        "carrier-b: UP (GUARD_ENDED): kept for 10 s: back in "
                        "ordinary service, its next fault asks the guards "
                        "again");
    assert_int_equal(debug.levels[1], FO_LOG_DEBUG);
    assert_string_equal(debug.lines[1],
                        "carrier-b: UP (EJECTION_GUARD): 4 consecutive route "
                        "faults (last TIMEOUT); kept in service by the "
                        "ejection guard: 1 of 2 routes already out");
    advance(f, FO_DEFAULT_HOLD_DOWN_NS);
    assert_int_equal(route_state(f->router, a), FO_STATE_TRIAL);
    assert_int_equal(debug.n, 3);
    assert_int_equal(debug.levels[2], FO_LOG_INFO);
    assert_string_equal(debug.lines[2],
                        "carrier-a: EJECTED -> TRIAL (HOLD_DOWN_ENDED): "
                        "hold-down of 15 s ended");
    /* Nothing of this reached the WARNING log. */
    assert_int_equal(warn.n, 2);
    /* Removing the log callback: nothing more. */
    assert_int_equal(fo_router_set_log_cb(f->router, FO_LOG_DEBUG, NULL, NULL),
                     FO_OK);
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    assert_int_equal(debug.n, 3);
    assert_int_equal(warn.n, 2);
}

/* ---- callbacks that call back in
 * ------------------------------------------------ */

static void reenter(fo_router *router, const fo_event *ev, struct recorder *r)
{
    fo_route_stats st = FO_ROUTE_STATS_INIT;

    r->rc_free = fo_router_free(router);
    r->rc_stop = fo_router_stop_thread(router);
    r->rc_start = fo_router_start_thread(router);
    r->rc_tick = fo_router_tick(router);
    if (ev->kind == FO_EVENT_STATE && ev->new_state == FO_STATE_DISABLED) {
        /* Causes an event of its own: delivered after this returns. */
        assert_int_equal(fo_route_get_stats(router, ev->route, &st), FO_OK);
        assert_int_equal(st.state, FO_STATE_DISABLED);
        assert_int_equal(
            fo_route_set_admin(router, ev->route, FO_ADMIN_ENABLED), FO_OK);
    }
}

static void test_reentrancy(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t i;

    rec.hook = reenter;
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    /* Both events arrived, one after the other, never nested. */
    i = find(0, FO_EVENT_STATE, FO_REASON_DISABLED);
    assert_int_equal(rec.e[i + 1].ev.reason, FO_REASON_ENABLED);
    assert_int_equal(rec.e[i + 1].ev.old_state, FO_STATE_DISABLED);
    assert_int_equal(rec.max_inside, 1);
    assert_int_equal(rec.rc_free, FO_EBUSY);
    assert_int_equal(rec.rc_stop, FO_EBUSY);
    assert_int_equal(rec.rc_start, FO_EBUSY);
    assert_int_equal(rec.rc_tick, FO_EBUSY);
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);
    assert_well_ordered();
}

static struct recorder rec2;

static void switch_inside(fo_router *router, const fo_event *ev,
                          struct recorder *r)
{
    (void)r;
    if (ev->kind == FO_EVENT_STATE) {
        /* From the next event on: the one this call causes. */
        assert_int_equal(fo_router_set_event_cb(router, record, &rec2), FO_OK);
        assert_int_equal(
            fo_route_set_admin(router, ev->route, FO_ADMIN_ENABLED), FO_OK);
    }
}

static void test_replace_from_inside(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t before;

    memset(&rec2, 0, sizeof rec2);
    rec.hook = switch_inside;
    before = rec.n;
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    assert_int_equal(rec.n, before + 1);
    assert_int_equal(rec2.n, 1);
    assert_int_equal(rec2.e[0].ev.reason, FO_REASON_ENABLED);
    assert_true(rec2.e[0].ev.seq == rec.e[before].ev.seq + 1);
}

/* The previous callback is not running when the setter returns. */
struct slow {
    _Atomic int entered, release, returned;
};
static struct slow slow;

static void slow_cb(fo_router *router, const fo_event *ev, void *userdata)
{
    (void)router;
    (void)ev;
    (void)userdata;
    atomic_store(&slow.entered, 1);
    for (int k = 0; k < 5000 && !atomic_load(&slow.release); k++) {
        struct timespec ts = {0, MSEC};

        nanosleep(&ts, NULL);
    }
    atomic_store(&slow.returned, 1);
}

struct setter {
    fo_router *router;
    fo_route_id route;
    _Atomic int done;
    int returned_seen; /* slow.returned when the setter came back */
};

static void *cause(void *arg)
{
    struct setter *s = arg;

    TCHECK_EQ(fo_route_set_admin(s->router, s->route, FO_ADMIN_DISABLED),
              FO_OK);
    return NULL;
}

static void *replace(void *arg)
{
    struct setter *s = arg;

    TCHECK_EQ(fo_router_set_event_cb(s->router, record, &rec), FO_OK);
    s->returned_seen = atomic_load(&slow.returned);
    atomic_store(&s->done, 1);
    return NULL;
}

static void test_replace_waits_for_running_callback(void **state)
{
    struct fixture *f = *state;
    struct setter s;
    pthread_t t1, t2;

    memset(&slow, 0, sizeof slow);
    memset(&s, 0, sizeof s);
    s.router = f->router;
    s.route = add_route(f->router, "a", 1);
    assert_int_equal(fo_router_set_event_cb(f->router, slow_cb, NULL), FO_OK);
    assert_int_equal(pthread_create(&t1, NULL, cause, &s), 0);
    for (int k = 0; k < 5000 && !atomic_load(&slow.entered); k++) {
        struct timespec ts = {0, MSEC};

        nanosleep(&ts, NULL);
    }
    assert_true(atomic_load(&slow.entered));
    assert_int_equal(pthread_create(&t2, NULL, replace, &s), 0);
    {
        struct timespec ts = {0, 100 * MSEC};

        nanosleep(&ts, NULL);
    }
    /* The setter waits while the old callback runs... */
    assert_false(atomic_load(&s.done));
    /* ...and other calls go on meanwhile. */
    assert_int_equal(route_state(f->router, s.route), FO_STATE_DISABLED);
    atomic_store(&slow.release, 1);
    assert_int_equal(pthread_join(t2, NULL), 0);
    assert_int_equal(pthread_join(t1, NULL), 0);
    assert_int_equal(s.returned_seen, 1);
}

/* ---- a full queue
 * ---------------------------------------------------------------- */

static int flips_inside;

static void flood(fo_router *router, const fo_event *ev, struct recorder *r)
{
    (void)r;
    if (ev->kind != FO_EVENT_ROUTE_ADDED || flips_inside != 0)
        return;
    /* While this callback runs, nothing is delivered: the queue fills. */
    for (int k = 0; k < 3000; k++) {
        assert_int_equal(
            fo_route_set_admin(router, ev->route,
                               k % 2 ? FO_ADMIN_ENABLED : FO_ADMIN_DISABLED),
            FO_OK);
        flips_inside++;
    }
}

static void test_full_queue_drops_and_says_so(void **state)
{
    struct fixture *f = *state;
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    uint64_t states = 0, lost = 0;
    size_t d;

    flips_inside = 0;
    rec.hook = flood;
    add_route(f->router, "a", 1);
    rec.hook = NULL;
    for (size_t i = 0; i < rec.n; i++) {
        if (rec.e[i].ev.kind == FO_EVENT_STATE)
            states++;
        if (rec.e[i].ev.kind == FO_EVENT_DROPPED)
            lost += rec.e[i].ev.count;
    }
    /* Every flip is either delivered or counted as lost. */
    assert_true(states + lost == 3000);
    assert_true(states == FO_EVENT_QUEUE_MAX);
    d = find(0, FO_EVENT_DROPPED, FO_REASON_NONE);
    assert_true(d == rec.n - 1); /* the loss is where it happened: last */
    assert_int_equal(fo_router_get_stats(f->router, &rs), FO_OK);
    assert_true(rs.events_dropped == lost);
    assert_true(rs.events_delivered == rec.n);
    assert_well_ordered();
    /* Delivery goes on normally afterwards. */
    assert_int_equal(
        fo_route_set_admin(f->router, rec.e[0].ev.route, FO_ADMIN_DRAINING),
        FO_OK);
    assert_int_equal(rec.e[rec.n - 1].ev.kind, FO_EVENT_STATE);
    assert_well_ordered();
}

/* ---- across threads
 * ----------------------------------------------------------------- */

#define FLIPPERS 4
#define FLIPS    2000

struct flipper {
    fo_router *router;
    fo_route_id route;
};

static void *flip(void *arg)
{
    struct flipper *fl = arg;

    for (int k = 0; k < FLIPS; k++)
        TCHECK_EQ(
            fo_route_set_admin(fl->router, fl->route,
                               k % 2 ? FO_ADMIN_ENABLED : FO_ADMIN_DISABLED),
            FO_OK);
    return NULL;
}

static uint64_t per_route[FLIPPERS];
static uint64_t lost_events;

static void count_cb(fo_router *router, const fo_event *ev, void *userdata)
{
    static fo_route_state last[FLIPPERS];
    static bool known[FLIPPERS]; /* last[k] holds; a loss forgets it */
    static uint64_t last_seq;
    struct flipper *fl = userdata;

    (void)router;
    TCHECK_EQ(atomic_fetch_add(&rec.inside, 1), 0); /* never two */
    TCHECK(last_seq == 0 || ev->seq == last_seq + 1);
    last_seq = ev->seq;
    if (ev->kind == FO_EVENT_DROPPED) {
        lost_events += ev->count;
        memset(known, 0, sizeof known);
    }
    for (int k = 0; k < FLIPPERS; k++) {
        if (ev->kind != FO_EVENT_STATE || ev->route != fl[k].route)
            continue;
        if (known[k])
            TCHECK_EQ(ev->old_state, last[k]);
        last[k] = ev->new_state;
        known[k] = true;
        per_route[k]++;
    }
    atomic_fetch_sub(&rec.inside, 1);
}

static void test_threads_in_order_never_concurrent(void **state)
{
    struct fixture *f = *state;
    struct flipper fl[FLIPPERS];
    pthread_t t[FLIPPERS];
    uint64_t delivered = 0;

    memset(per_route, 0, sizeof per_route);
    lost_events = 0;
    for (int k = 0; k < FLIPPERS; k++) {
        char name[8];

        snprintf(name, sizeof name, "r%d", k);
        fl[k].router = f->router;
        fl[k].route = add_route(f->router, name, 1);
    }
    memset(&rec, 0, sizeof rec);
    assert_int_equal(fo_router_set_event_cb(f->router, count_cb, fl), FO_OK);
    for (int k = 0; k < FLIPPERS; k++)
        assert_int_equal(pthread_create(&t[k], NULL, flip, &fl[k]), 0);
    for (int k = 0; k < FLIPPERS; k++)
        assert_int_equal(pthread_join(t[k], NULL), 0);
    for (int k = 0; k < FLIPPERS; k++)
        delivered += per_route[k];
    /* Delivered, plus lost, is every flip. */
    assert_true(delivered + lost_events == (uint64_t)FLIPPERS * FLIPS);
    assert_int_equal(fo_router_set_event_cb(f->router, NULL, NULL), FO_OK);
}

/* A call that has tried the only route up retries on one that is out:
 * a panic pick for that call, but the list is not in panic. */
static void test_no_panic_for_one_attempt(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b, c, r;
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    fo_attempt at = FO_ATTEMPT_INIT;
    fo_pick pk = FO_PICK_INIT;

    f->opts.panic = FO_PANIC_BEST_EFFORT;
    listen_again(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 2);
    c = add_route(f->router, "c", 3);
    report_n(f->router, b, FO_RESULT_TIMEOUT, 3);
    report_n(f->router, c, FO_RESULT_TIMEOUT, 3);
    for (int call = 0; call < 3; call++) {
        fo_attempt_init(&at);
        assert_int_equal(fo_pick_route(f->router, &at, &r), FO_OK);
        assert_true(r == a);
        assert_int_equal(
            fo_report_result(f->router, a, FO_RESULT_CONGESTION, &at), FO_OK);
        advance(f, SEC); /* a stays in: faults never come 3 in a row */
        assert_int_equal(fo_pick_route_ex(f->router, &at, &pk), FO_OK);
        assert_true(pk.flags & FO_PICK_PANIC);
        assert_int_equal(
            fo_report_result(f->router, pk.route, FO_RESULT_TIMEOUT, &at),
            FO_OK);
        report_n(f->router, a, FO_RESULT_SUCCESS, 1);
    }
    assert_int_equal(count_kind(FO_EVENT_PANIC_STARTED), 0);
    assert_int_equal(fo_router_get_stats(f->router, &rs), FO_OK);
    assert_int_equal(rs.lists_in_panic, 0);
    assert_true(rs.panic_picks == 3);
}

/* A suspicion that lapses is announced as over, and the next one as new. */
static void test_local_fault_episodes(void **state)
{
    struct fixture *f = *state;
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    fo_route_id a, b;
    size_t i;

    f->opts.guards_off = FO_GUARD_EJECTION;
    listen_again(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 2);
    for (int episode = 0; episode < 2; episode++) {
        for (int k = 0; k < 3; k++) {
            report_n(f->router, a, FO_RESULT_UNAVAILABLE, 1);
            report_n(f->router, b, FO_RESULT_UNAVAILABLE, 1);
        }
        assert_int_equal(count_kind(FO_EVENT_LOCAL_FAULT), episode + 1);
        assert_int_equal(fo_router_get_stats(f->router, &rs), FO_OK);
        assert_true(rs.flags & FO_ROUTER_STATS_LOCAL_FAULT);
        /* Silence: no call fails, none works; the window passes. */
        advance(f, FO_DEFAULT_LOCAL_FAULT_WINDOW_NS + SEC);
        assert_int_equal(fo_router_get_stats(f->router, &rs), FO_OK);
        assert_false(rs.flags & FO_ROUTER_STATS_LOCAL_FAULT);
        assert_int_equal(count_kind(FO_EVENT_LOCAL_FAULT_ENDED), episode + 1);
        advance(f, 600 * SEC);
    }
    i = find(0, FO_EVENT_LOCAL_FAULT_ENDED, FO_REASON_NONE);
    assert_true(rec.e[i].ev.route == FO_ROUTE_ID_NONE);
    assert_string_equal(rec.e[i].text,
                        "no sign of it for 10 s: every route kept is back to "
                        "ordinary service");
    assert_well_ordered();
}

/* The router's thread ends a suspicion on time, with no call at all. */
static void test_local_fault_lapse_on_the_thread(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, b;

    f->opts.guards_off = FO_GUARD_EJECTION;
    listen_again(f);
    a = add_route(f->router, "a", 1);
    b = add_route(f->router, "b", 2);
    for (int k = 0; k < 3; k++) {
        report_n(f->router, a, FO_RESULT_UNAVAILABLE, 1);
        report_n(f->router, b, FO_RESULT_UNAVAILABLE, 1);
    }
    {
        uint64_t seen = f->clock.now, due = 0;

        /* Tick at each deadline, as an event loop would. */
        for (int k = 0; k < 5 && count_kind(FO_EVENT_LOCAL_FAULT_ENDED) == 0;
             k++) {
            assert_int_equal(fo_router_next_deadline(f->router, &due), FO_OK);
            assert_true(due > f->clock.now);
            f->clock.now = due;
            assert_int_equal(fo_router_tick(f->router), FO_OK);
        }
        assert_int_equal(count_kind(FO_EVENT_LOCAL_FAULT_ENDED), 1);
        assert_true(f->clock.now <=
                    seen + FO_DEFAULT_LOCAL_FAULT_WINDOW_NS + 1);
    }
}

static struct log_rec swapped_log;

static void drop_the_log(fo_router *router, const fo_event *ev,
                         struct recorder *r)
{
    (void)r;
    if (ev->kind == FO_EVENT_STATE)
        assert_int_equal(fo_router_set_log_cb(router, FO_LOG_DEBUG, NULL, NULL),
                         FO_OK);
}

/* A log callback removed by the event callback does not get that event. */
static void test_log_removed_from_inside(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);

    memset(&swapped_log, 0, sizeof swapped_log);
    assert_int_equal(
        fo_router_set_log_cb(f->router, FO_LOG_DEBUG, log_cb, &swapped_log),
        FO_OK);
    rec.hook = drop_the_log;
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    assert_int_equal(swapped_log.n, 0);
    assert_int_equal(count_kind(FO_EVENT_STATE), 1);
}

/* An event's numbers are those of its moment: old faults have left the
 * window. */
static void test_event_numbers_are_current(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t i;

    report_n(f->router, a, FO_RESULT_SUCCESS, 1);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 2);
    advance(f, 600 * SEC);
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    i = find(0, FO_EVENT_STATE, FO_REASON_DISABLED);
    assert_true(rec.e[i].ev.window_attempts == 0);
    assert_true(rec.e[i].ev.window_faults == 0);
    assert_int_equal(rec.e[i].ev.consecutive_faults, 2);
}

/* With the router's thread running, a caller delivers what was queued when
 * it started; what others queue meanwhile goes to the thread. */
struct handoff {
    fo_router *router;
    fo_route_id mine, theirs;
    pthread_t caller;
    _Atomic int blocked, others_done, others_seen, by_caller;
};
static struct handoff ho;

static void handoff_cb(fo_router *router, const fo_event *ev, void *userdata)
{
    (void)router;
    (void)userdata;
    if (ev->kind != FO_EVENT_STATE)
        return;
    if (ev->route == ho.mine) {
        /* Hold the caller here until the other thread has queued. */
        atomic_store(&ho.blocked, 1);
        for (int k = 0; k < 5000 && !atomic_load(&ho.others_done); k++) {
            struct timespec ts = {0, MSEC};

            nanosleep(&ts, NULL);
        }
        return;
    }
    atomic_fetch_add(&ho.others_seen, 1);
    if (pthread_equal(pthread_self(), ho.caller))
        atomic_fetch_add(&ho.by_caller, 1);
}

static void *other_thread(void *arg)
{
    (void)arg;
    for (int k = 0; k < 500 && !atomic_load(&ho.blocked); k++) {
        struct timespec ts = {0, MSEC};

        nanosleep(&ts, NULL);
    }
    for (int k = 0; k < 6; k++)
        TCHECK_EQ(
            fo_route_set_admin(ho.router, ho.theirs,
                               k % 2 ? FO_ADMIN_ENABLED : FO_ADMIN_DISABLED),
            FO_OK);
    atomic_store(&ho.others_done, 1);
    return NULL;
}

static void test_delivery_handed_to_the_thread(void **state)
{
    struct fixture *f = *state;
    pthread_t t;

    memset(&ho, 0, sizeof ho);
    ho.router = f->router;
    ho.mine = add_route(f->router, "mine", 1);
    ho.theirs = add_route(f->router, "theirs", 1);
    ho.caller = pthread_self();
    assert_int_equal(fo_router_set_event_cb(f->router, handoff_cb, NULL),
                     FO_OK);
    assert_int_equal(fo_router_start_thread(f->router), FO_OK);
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    assert_int_equal(fo_route_set_admin(f->router, ho.mine, FO_ADMIN_DISABLED),
                     FO_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int k = 0; k < 5000 && atomic_load(&ho.others_seen) < 6; k++) {
        struct timespec ts = {0, MSEC};

        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&ho.others_seen), 6);
    assert_int_equal(atomic_load(&ho.by_caller), 0);
    assert_int_equal(fo_router_stop_thread(f->router), FO_OK);
}

/* ---- bad input and corner cases
 * ------------------------------------------------------ */

static int clock_rc_event = 1, clock_rc_log = 1;
static fo_router *clock_router;

static uint64_t reentering_clock(void *userdata)
{
    struct manual_clock *c = userdata;

    if (clock_router != NULL) {
        clock_rc_event = fo_router_set_event_cb(clock_router, record, &rec);
        clock_rc_log =
            fo_router_set_log_cb(clock_router, FO_LOG_INFO, log_cb, NULL);
    }
    return c->now;
}

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    fo_route_state st;

    assert_int_equal(fo_router_set_event_cb(NULL, record, &rec), FO_EINVAL);
    assert_int_equal(fo_router_set_log_cb(NULL, FO_LOG_INFO, log_cb, NULL),
                     FO_EINVAL);
    assert_rejected(
        f->router, FO_EINVAL,
        fo_router_set_log_cb(f->router, (fo_log_level)0, log_cb, NULL));
    assert_rejected(
        f->router, FO_EINVAL,
        fo_router_set_log_cb(f->router, (fo_log_level)5, log_cb, NULL));
    assert_string_equal(fo_event_kind_name(FO_EVENT_STATE), "STATE");
    assert_string_equal(fo_event_kind_name(FO_EVENT_DROPPED), "DROPPED");
    assert_string_equal(fo_event_kind_name((fo_event_kind)0), "UNKNOWN");
    assert_string_equal(fo_event_kind_name((fo_event_kind)99), "UNKNOWN");
    assert_string_equal(fo_log_level_name(FO_LOG_ERROR), "ERROR");
    assert_string_equal(fo_log_level_name(FO_LOG_WARNING), "WARNING");
    assert_string_equal(fo_log_level_name(FO_LOG_INFO), "INFO");
    assert_string_equal(fo_log_level_name(FO_LOG_DEBUG), "DEBUG");
    assert_string_equal(fo_log_level_name((fo_log_level)0), "UNKNOWN");
    for (int k = FO_EVENT_STATE; k <= FO_EVENT_DROPPED; k++)
        assert_string_not_equal(fo_event_kind_name((fo_event_kind)k),
                                "UNKNOWN");

    /* From inside the clock: refused. */
    (void)a;
    (void)st;
    clock_router = NULL;
    f->clock_table.now_ns = reentering_clock;
    fixture_reopen(f);
    clock_router = f->router;
    {
        uint64_t t;

        assert_int_equal(fo_router_now(f->router, &t), FO_OK);
    }
    clock_router = NULL;
    assert_int_equal(clock_rc_event, FO_EBUSY);
    assert_int_equal(clock_rc_log, FO_EBUSY);
    f->clock_table.now_ns = manual_clock_now;
}

static void test_no_memory_for_the_queue(void **state)
{
    struct fixture *f = *state;
    fo_route_id a;
    long calls;

    fixture_reopen(f); /* no callback yet */
    memset(&rec, 0, sizeof rec);
    f->alloc.fail_after = f->alloc.calls;
    assert_rejected(f->router, FO_ENOMEM,
                    fo_router_set_event_cb(f->router, record, &rec));
    assert_rejected(f->router, FO_ENOMEM,
                    fo_router_set_log_cb(f->router, FO_LOG_INFO, log_cb, NULL));
    f->alloc.fail_after = -1;
    a = add_route(f->router, "a", 1);
    assert_int_equal(rec.n, 0);
    /* No callback, no queue, no allocation for events. */
    calls = f->alloc.calls;
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    assert_true(f->alloc.calls == calls);
    assert_int_equal(rec.n, 0);
}

static void test_removing_the_callback_discards(void **state)
{
    struct fixture *f = *state;
    fo_route_id a = add_route(f->router, "a", 1);
    size_t before;

    assert_int_equal(fo_router_set_event_cb(f->router, NULL, NULL), FO_OK);
    before = rec.n;
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DISABLED),
                     FO_OK);
    assert_int_equal(fo_router_set_event_cb(f->router, record, &rec), FO_OK);
    assert_int_equal(rec.n, before); /* what happened unheard stays so */
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_ENABLED), FO_OK);
    assert_int_equal(rec.n, before + 1);
    /* The sequence goes on where it was. */
    assert_true(rec.e[before].ev.seq == rec.e[before - 1].ev.seq + 1);
}

/* Runs last: every reason and every kind appeared in some test above. */
static void test_every_reason_and_kind_was_seen(void **state)
{
    (void)state;
    if (tests_run < tests_total)
        skip(); /* a filtered run: the others did not all run */
    for (int r = FO_REASON_ADDED; r <= FO_REASON_GUARD_ENDED; r++)
        if ((reasons_seen & (1u << r)) == 0)
            fail_msg("no event with reason %s", fo_reason_name((fo_reason)r));
    for (int k = FO_EVENT_STATE; k <= FO_EVENT_DROPPED; k++)
        if ((kinds_seen & (1u << k)) == 0)
            fail_msg("no event of kind %s",
                     fo_event_kind_name((fo_event_kind)k));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_added_and_removed),
        T(test_ejection_carries_its_numbers),
        T(test_full_cycle_in_order),
        T(test_rate_detectors),
        T(test_retry_after_and_updates),
        T(test_signals),
        T(test_operator_changes),
        T(test_damping),
        T(test_ejection_guard_events),
        T(test_local_fault_events),
        T(test_panic_events),
        T(test_probe_events),
        T(test_log_lines_and_levels),
        T(test_reentrancy),
        T(test_replace_from_inside),
        T(test_replace_waits_for_running_callback),
        T(test_full_queue_drops_and_says_so),
        T(test_threads_in_order_never_concurrent),
        T(test_no_panic_for_one_attempt),
        T(test_local_fault_episodes),
        T(test_local_fault_lapse_on_the_thread),
        T(test_log_removed_from_inside),
        T(test_event_numbers_are_current),
        T(test_delivery_handed_to_the_thread),
        T(test_bad_input),
        T(test_no_memory_for_the_queue),
        T(test_removing_the_callback_discards),
        T(test_every_reason_and_kind_was_seen),
    };

    tests_total = (int)NELEM(tests);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
