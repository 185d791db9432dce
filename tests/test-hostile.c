/*
 * Hostile and odd input: NULL handles and out-pointers for every public
 * function, stale ids after slot reuse, size-versioned structs of every
 * wrong size, names at and past their limits (read next to a guard page),
 * 100,000 routes, clocks that jump and stick, values at the end of the
 * 64-bit range, callbacks that call every function back, probes that never
 * complete, and a router freed with probes in flight and its thread
 * running. Every test also checks that the router still works afterwards.
 */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS */

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal-helpers.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define DAY      (24ull * 3600 * SEC)

/* cmocka's asserts must not run inside a callback (they longjmp over the
 * library's frames) nor off the test's thread: those record the first
 * failing line and its value, and the test checks it afterwards. */
static _Atomic int cb_failure_line;
static _Atomic long long cb_failure_value;
#define TCHECK_V(cond, value)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            int zero_ = 0;                                                     \
            if (atomic_compare_exchange_strong(&cb_failure_line, &zero_,       \
                                               __LINE__))                      \
                atomic_store(&cb_failure_value, (long long)(value));           \
        }                                                                      \
    } while (0)
#define TCHECK(cond) TCHECK_V(cond, 0)

static void assert_no_callback_failure(void)
{
    int line = atomic_load(&cb_failure_line);

    if (line != 0)
        print_error("check inside a callback failed at line %d (value %lld)\n",
                    line, atomic_load(&cb_failure_value));
    assert_int_equal(line, 0);
}

static int hostile_setup(void **state)
{
    atomic_store(&cb_failure_line, 0);
    return fixture_setup(state);
}

static int hostile_teardown(void **state)
{
    int rc = fixture_teardown(state);

    assert_no_callback_failure();
    return rc;
}

/* ---- memory next to a guard page ----------------------------------------- */

/* size bytes that end exactly where an inaccessible page begins: reading
 * or writing one byte past them faults. */
struct guarded {
    unsigned char *map;
    size_t len;
    size_t usable;
};

static unsigned char *guarded_tail(struct guarded *g, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (size + page - 1) / page;

    if (pages == 0)
        pages = 1;
    g->usable = pages * page;
    g->len = g->usable + page;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + g->usable, page, PROT_NONE), 0);
    return g->map + g->usable - size;
}

static void guarded_free(struct guarded *g)
{
    assert_int_equal(munmap(g->map, g->len), 0);
}

/* ---- the router still works ---------------------------------------------- */

static unsigned serial;

/* A new route can be added, picked (through a plan of its own, so the
 * rest of the router's state does not matter), reported on, read and
 * removed; the router's totals move by exactly that. */
static void assert_usable(fo_router *r)
{
    char name[40], pname[40];
    fo_route_id id, picked = FO_ROUTE_ID_NONE;
    fo_plan_id plan;
    fo_attempt att;
    fo_route_stats rs = FO_ROUTE_STATS_INIT;
    fo_router_stats before = FO_ROUTER_STATS_INIT, after = FO_ROUTER_STATS_INIT;
    unsigned n = serial++;

    snprintf(name, sizeof name, "usable-%u", n);
    snprintf(pname, sizeof pname, "usable-plan-%u", n);
    assert_int_equal(fo_router_get_stats(r, &before), FO_OK);
    assert_int_equal(fo_route_add(r, name, 0, 1, 0, &id), FO_OK);
    assert_int_equal(fo_plan_new(r, pname, FO_POLICY_PRIORITY, &plan), FO_OK);
    assert_int_equal(fo_plan_set_route(r, plan, id, 0, 1, 0), FO_OK);
    assert_int_equal(fo_attempt_init_plan(&att, plan), FO_OK);
    assert_int_equal(fo_pick_route(r, &att, &picked), FO_OK);
    assert_true(picked == id);
    assert_int_equal(fo_report_result(r, id, FO_RESULT_SUCCESS, &att), FO_OK);
    assert_int_equal(fo_route_get_stats(r, id, &rs), FO_OK);
    assert_string_equal(rs.name, name);
    assert_true(rs.reports == 1 && rs.picks == 1);
    assert_int_equal(rs.results[FO_RESULT_SUCCESS], 1);
    assert_int_equal(fo_plan_free(r, plan), FO_OK);
    assert_int_equal(fo_route_remove(r, id), FO_OK);
    assert_int_equal(fo_router_get_stats(r, &after), FO_OK);
    assert_int_equal(after.routes, before.routes);
    assert_int_equal(after.plans, before.plans);
    assert_true(after.reports == before.reports + 1);
    assert_true(after.picks == before.picks + 1);
    assert_true(after.now_ns >= before.now_ns);
}

/* Router totals without the clock: what a rejected call must not move. */
static void totals(fo_router *r, fo_router_stats *s)
{
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    assert_int_equal(fo_router_get_stats(r, s), FO_OK);
    s->now_ns = 0;
}

/* ---- 1. NULL handles and NULL out-pointers ---------------------------------
 */

static void noop_probe(fo_router *router, fo_route_id route,
                       fo_probe_token token, void *userdata)
{
    (void)router;
    (void)route;
    (void)token;
    (void)userdata;
}

static void noop_event(fo_router *router, const fo_event *event, void *userdata)
{
    (void)router;
    (void)event;
    (void)userdata;
}

static void noop_log(fo_router *router, fo_log_level level, const char *message,
                     const fo_event *event, void *userdata)
{
    (void)router;
    (void)level;
    (void)message;
    (void)event;
    (void)userdata;
}

/* Every function that takes a router, given NULL. */
static void test_null_router_everywhere(void **state)
{
    fo_route_id id = 1;
    fo_plan_id plan = 1;
    fo_route_state st;
    fo_reason reason;
    fo_result res;
    fo_result_class cls;
    fo_route_stats rs = FO_ROUTE_STATS_INIT;
    fo_router_stats gs = FO_ROUTER_STATS_INIT;
    fo_attempt att = FO_ATTEMPT_INIT;
    fo_pick pk = FO_PICK_INIT;
    fo_report rep = FO_REPORT_INIT(FO_RESULT_SUCCESS);
    char buf[FO_REASON_TEXT_MAX];
    uint64_t t;
    int ms;

    (void)state;
    assert_int_equal(fo_router_free(NULL), FO_OK); /* documented no-op */
    assert_int_equal(fo_router_now(NULL, &t), FO_EINVAL);
    assert_int_equal(fo_router_set_panic(NULL, FO_PANIC_FAIL), FO_EINVAL);
    assert_int_equal(fo_route_add(NULL, "a", 1, 1, 0, &id), FO_EINVAL);
    assert_int_equal(fo_route_update(NULL, id, 1, 1, 0), FO_EINVAL);
    assert_int_equal(fo_route_remove(NULL, id), FO_EINVAL);
    assert_int_equal(fo_route_lookup(NULL, "a", &id), FO_EINVAL);
    assert_int_equal(fo_route_get_name(NULL, id, buf, sizeof buf), FO_EINVAL);
    assert_int_equal(fo_route_get_state(NULL, id, &st), FO_EINVAL);
    assert_int_equal(fo_route_set_admin(NULL, id, FO_ADMIN_ENABLED), FO_EINVAL);
    assert_int_equal(fo_route_drill(NULL, id, SEC), FO_EINVAL);
    assert_int_equal(fo_route_signal(NULL, id, FO_SIGNAL_REGISTRATION_RESTORED),
                     FO_EINVAL);
    assert_int_equal(fo_route_get_reason(NULL, id, &reason, buf, sizeof buf),
                     FO_EINVAL);
    assert_int_equal(fo_report_result(NULL, id, FO_RESULT_SUCCESS, &att),
                     FO_EINVAL);
    assert_int_equal(fo_report_result_ex(NULL, id, &rep, &att), FO_EINVAL);
    assert_int_equal(
        fo_router_set_result_class(NULL, FO_RESULT_BUSY, FO_CLASS_CALLEE),
        FO_EINVAL);
    assert_int_equal(fo_router_get_result_class(NULL, FO_RESULT_BUSY, &cls),
                     FO_EINVAL);
    assert_int_equal(fo_router_result_from_sip(NULL, 200, 0, &res), FO_EINVAL);
    assert_int_equal(fo_router_set_sip_result(NULL, 404, FO_RESULT_DECLINED),
                     FO_EINVAL);
    assert_int_equal(fo_plan_new(NULL, "p", FO_POLICY_PRIORITY, &plan),
                     FO_EINVAL);
    assert_int_equal(fo_plan_free(NULL, plan), FO_EINVAL);
    assert_int_equal(fo_plan_lookup(NULL, "p", &plan), FO_EINVAL);
    assert_int_equal(fo_plan_set_route(NULL, plan, id, 1, 1, 0), FO_EINVAL);
    assert_int_equal(fo_plan_unset_route(NULL, plan, id), FO_EINVAL);
    assert_int_equal(fo_plan_set_policy(NULL, plan, FO_POLICY_WEIGHTED),
                     FO_EINVAL);
    assert_int_equal(fo_set_probe(NULL, id, noop_probe, NULL, NULL), FO_EINVAL);
    assert_int_equal(fo_probe_done(NULL, 1, FO_RESULT_SUCCESS), FO_EINVAL);
    assert_int_equal(fo_router_next_deadline(NULL, &t), FO_EINVAL);
    assert_int_equal(fo_router_next_timeout_ms(NULL, &ms), FO_EINVAL);
    assert_int_equal(fo_router_tick(NULL), FO_EINVAL);
    assert_int_equal(fo_router_start_thread(NULL), FO_EINVAL);
    assert_int_equal(fo_router_stop_thread(NULL), FO_EINVAL);
    assert_int_equal(fo_pick_route(NULL, &att, &id), FO_EINVAL);
    assert_int_equal(fo_pick_route_ex(NULL, &att, &pk), FO_EINVAL);
    assert_int_equal(fo_router_set_event_cb(NULL, noop_event, NULL), FO_EINVAL);
    assert_int_equal(fo_router_set_log_cb(NULL, FO_LOG_INFO, noop_log, NULL),
                     FO_EINVAL);
    assert_int_equal(fo_route_get_stats(NULL, id, &rs), FO_EINVAL);
    assert_int_equal(fo_router_get_stats(NULL, &gs), FO_EINVAL);
    assert_int_equal(fo_router_dump(NULL, stderr), FO_EINVAL);
    assert_true(fo_router_write_metrics(NULL, buf, sizeof buf) == FO_EINVAL);
    assert_true(fo_router_write_metrics(NULL, NULL, 0) == FO_EINVAL);
    /* An attempt used with a NULL router is left as it was. */
    assert_int_equal(fo_attempt_count(&att), 0);
}

/* Every out-pointer (and every other pointer that must not be NULL),
 * given NULL on a live router: FO_EINVAL and nothing changed. */
static void test_null_out_pointers_everywhere(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    fo_route_id id = add_route(r, "a", 1);
    fo_plan_id plan;
    fo_router_stats before, after;
    fo_attempt att = FO_ATTEMPT_INIT;
    fo_pick pk = FO_PICK_INIT;

    assert_int_equal(fo_plan_new(r, "p", FO_POLICY_PRIORITY, &plan), FO_OK);
    totals(r, &before);
    assert_rejected(r, FO_EINVAL, fo_router_now(r, NULL));
    assert_rejected(r, FO_EINVAL, fo_route_add(r, NULL, 1, 1, 0, &id));
    assert_rejected(r, FO_EINVAL, fo_route_add(r, "b", 1, 1, 0, NULL));
    assert_rejected(r, FO_EINVAL, fo_route_lookup(r, NULL, &id));
    assert_rejected(r, FO_EINVAL, fo_route_lookup(r, "a", NULL));
    assert_rejected(r, FO_EINVAL, fo_route_get_name(r, id, NULL, 8));
    assert_rejected(r, FO_EINVAL, fo_route_get_name(r, id, NULL, 0));
    assert_rejected(r, FO_EINVAL, fo_route_get_state(r, id, NULL));
    /* reason and text may each be NULL (documented); text with size 0 is
     * not acceptable. */
    assert_rejected(r, FO_OK, fo_route_get_reason(r, id, NULL, NULL, 0));
    assert_rejected(r, FO_OK, fo_route_get_reason(r, id, NULL, NULL, 9));
    {
        char text[4] = "xyz";

        assert_rejected(r, FO_EINVAL,
                        fo_route_get_reason(r, id, NULL, text, 0));
        assert_string_equal(text, "xyz");
    }
    assert_rejected(r, FO_EINVAL, fo_report_result_ex(r, id, NULL, NULL));
    assert_rejected(r, FO_EINVAL,
                    fo_router_get_result_class(r, FO_RESULT_BUSY, NULL));
    assert_rejected(r, FO_EINVAL, fo_router_result_from_sip(r, 200, 0, NULL));
    assert_rejected(r, FO_EINVAL,
                    fo_plan_new(r, NULL, FO_POLICY_PRIORITY, &plan));
    assert_rejected(r, FO_EINVAL,
                    fo_plan_new(r, "q", FO_POLICY_PRIORITY, NULL));
    assert_rejected(r, FO_EINVAL, fo_plan_lookup(r, NULL, &plan));
    assert_rejected(r, FO_EINVAL, fo_plan_lookup(r, "p", NULL));
    assert_rejected(r, FO_EINVAL, fo_router_next_deadline(r, NULL));
    assert_rejected(r, FO_EINVAL, fo_router_next_timeout_ms(r, NULL));
    assert_rejected(r, FO_EINVAL, fo_pick_route(r, &att, NULL));
    assert_rejected(r, FO_EINVAL, fo_pick_route(r, NULL, NULL));
    assert_rejected(r, FO_EINVAL, fo_pick_route_ex(r, &att, NULL));
    pk.skipped_capacity = 4; /* and no array */
    assert_rejected(r, FO_EINVAL, fo_pick_route_ex(r, &att, &pk));
    assert_rejected(r, FO_EINVAL, fo_route_get_stats(r, id, NULL));
    assert_rejected(r, FO_EINVAL, fo_router_get_stats(r, NULL));
    assert_rejected(r, FO_EINVAL, fo_router_dump(r, NULL));
    assert_rejected(r, FO_EINVAL, (int)fo_router_write_metrics(r, NULL, 1));
    assert_rejected(r, FO_EINVAL,
                    (int)fo_router_write_metrics(r, NULL, SIZE_MAX));
    /* The attempt was not touched by the rejected picks. */
    assert_int_equal(fo_attempt_count(&att), 0);
    totals(r, &after);
    assert_memory_equal(&before, &after, sizeof before);

    /* Functions without a router. */
    assert_int_equal(fo_router_options_init(NULL, sizeof(fo_router_options)),
                     FO_EINVAL);
    assert_int_equal(fo_probe_options_init(NULL, sizeof(fo_probe_options)),
                     FO_EINVAL);
    assert_int_equal(fo_router_new(NULL, NULL), FO_EINVAL);
    assert_int_equal(fo_attempt_init(NULL), FO_EINVAL);
    assert_int_equal(fo_attempt_init_plan(NULL, plan), FO_EINVAL);
    assert_int_equal(fo_attempt_count(NULL), 0);
    assert_true(fo_attempt_route(NULL, 0) == FO_ROUTE_ID_NONE);
    assert_true(fo_attempt_route(&att, SIZE_MAX) == FO_ROUTE_ID_NONE);
    assert_int_equal(fo_result_from_sip(200, 0, NULL), FO_EINVAL);
    assert_int_equal(fo_result_from_q850(16, NULL), FO_EINVAL);
    assert_int_equal(fo_result_from_dialstatus(NULL, NULL), FO_EINVAL);
    assert_int_equal(fo_result_from_dialstatus("ANSWER", NULL), FO_EINVAL);
    {
        fo_result res;

        assert_int_equal(fo_result_from_dialstatus(NULL, &res), FO_EINVAL);
    }
    /* Functions that take no pointer: any value is answered. */
    assert_non_null(fo_strerror(INT32_MIN));
    assert_non_null(fo_error_name(INT32_MAX));
    assert_string_equal(fo_result_name((fo_result)-1), "UNKNOWN");
    assert_int_equal(fo_result_default_class((fo_result)INT32_MAX), 0);
    assert_string_equal(fo_reason_name((fo_reason)-7), "UNKNOWN");
    assert_string_equal(fo_policy_name((fo_policy)99), "UNKNOWN");
    assert_string_equal(fo_route_state_name((fo_route_state)1000), "UNKNOWN");
    assert_string_equal(fo_event_kind_name((fo_event_kind)-1), "UNKNOWN");
    assert_string_equal(fo_log_level_name((fo_log_level)77), "UNKNOWN");
    assert_true(fo_clock_monotonic_ns() > 0);
    assert_true(fo_version() != 0);
    assert_non_null(fo_version_string());
    assert_usable(r);
}

/* ---- 2. unknown and stale ids ----------------------------------------------
 */

/* Every call that takes a route id, given one that names no route here. */
static void assert_route_id_dead(fo_router *r, fo_route_id dead,
                                 fo_plan_id plan)
{
    fo_route_state st;
    fo_route_stats rs = FO_ROUTE_STATS_INIT;
    fo_report rep = FO_REPORT_INIT(FO_RESULT_TIMEOUT);
    char buf[FO_REASON_TEXT_MAX];

    assert_rejected(r, FO_ENOENT, fo_route_update(r, dead, 1, 1, 0));
    assert_rejected(r, FO_ENOENT, fo_route_remove(r, dead));
    assert_rejected(r, FO_ENOENT, fo_route_get_name(r, dead, buf, sizeof buf));
    assert_rejected(r, FO_ENOENT, fo_route_get_state(r, dead, &st));
    assert_rejected(r, FO_ENOENT,
                    fo_route_set_admin(r, dead, FO_ADMIN_DISABLED));
    assert_rejected(r, FO_ENOENT, fo_route_drill(r, dead, SEC));
    assert_rejected(r, FO_ENOENT,
                    fo_route_signal(r, dead, FO_SIGNAL_REGISTRATION_LOST));
    assert_rejected(r, FO_ENOENT,
                    fo_route_get_reason(r, dead, NULL, buf, sizeof buf));
    assert_rejected(r, FO_ENOENT, fo_route_get_stats(r, dead, &rs));
    assert_rejected(r, FO_ENOENT,
                    fo_report_result(r, dead, FO_RESULT_TIMEOUT, NULL));
    assert_rejected(r, FO_ENOENT, fo_report_result_ex(r, dead, &rep, NULL));
    assert_rejected(r, FO_ENOENT,
                    fo_set_probe(r, dead, noop_probe, NULL, NULL));
    assert_rejected(r, FO_ENOENT, fo_set_probe(r, dead, NULL, NULL, NULL));
    if (plan != FO_PLAN_ID_NONE) {
        assert_rejected(r, FO_ENOENT,
                        fo_plan_set_route(r, plan, dead, 1, 1, 0));
        assert_rejected(r, FO_ENOENT, fo_plan_unset_route(r, plan, dead));
    }
}

static void destroy_count(void *userdata)
{
    (*(int *)userdata)++;
}

/* One slot reused thousands of times: no old id reaches the route that
 * lives there now, and no old probe token either. */
static void test_stale_ids_after_slot_reuse(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    enum { CYCLES = 3000, TOKENS = 60 };
    fo_route_id *ids = test_malloc(CYCLES * sizeof *ids);
    fo_probe_token tokens[TOKENS];
    static int destroyed;
    fo_route_id live, other = add_route(r, "other", 1);
    fo_route_stats rs = FO_ROUTE_STATS_INIT;
    fo_router_stats before, after;
    fo_plan_id plan;
    fo_probe_options po;
    size_t ntok = 0;
    uint64_t strays;

    destroyed = 0;
    assert_int_equal(fo_plan_new(r, "plan", FO_POLICY_PRIORITY, &plan), FO_OK);
    FO_PROBE_OPTIONS_INIT(&po);
    po.flags = FO_PROBE_NO_JITTER;
    po.destroy = destroy_count;
    for (int i = 0; i < CYCLES; i++) {
        ids[i] = add_route(r, "churn", 1);
        /* The same slot every time: aliasing would be possible. */
        assert_int_equal(FO__ID_INDEX(ids[i]), FO__ID_INDEX(ids[0]));
        if (i > 0)
            assert_true(ids[i] != ids[i - 1]);
        if (i % (CYCLES / TOKENS) == 0 && ntok < TOKENS) {
            /* A probe in flight when the route goes. */
            assert_int_equal(
                fo_set_probe(r, ids[i], noop_probe, &destroyed, &po), FO_OK);
            assert_int_equal(fo_router_tick(r), FO_OK);
            assert_int_equal(fo_route_get_stats(r, ids[i], &rs), FO_OK);
            assert_true(rs.probes_sent == 1);
            tokens[ntok++] = fo__route_get(r, ids[i])->probe->token;
            assert_true(tokens[ntok - 1] != 0);
        }
        assert_int_equal(fo_plan_set_route(r, plan, ids[i], 1, 1, 0), FO_OK);
        assert_int_equal(fo_route_remove(r, ids[i]), FO_OK);
    }
    assert_int_equal(destroyed, (int)ntok);
    live = add_route(r, "churn", 1);
    assert_int_equal(FO__ID_INDEX(live), FO__ID_INDEX(ids[0]));
    assert_int_equal(fo_plan_set_route(r, plan, live, 1, 1, 0), FO_OK);

    /* Every old id names nothing; the full set of calls on a sample. */
    for (int i = 0; i < CYCLES; i++) {
        fo_route_state st;

        assert_true(ids[i] != live);
        assert_int_equal(fo_route_get_state(r, ids[i], &st), FO_ENOENT);
        if (i % 300 == 0 || i >= CYCLES - 3)
            assert_route_id_dead(r, ids[i], plan);
    }
    /* Ids that were never given, and a plan's id as a route's. */
    assert_route_id_dead(r, FO_ROUTE_ID_NONE, plan);
    assert_route_id_dead(r, UINT64_MAX, plan);
    assert_route_id_dead(r, bogus_id(live), plan);
    assert_route_id_dead(r, plan, plan);
    assert_route_id_dead(r, live ^ (1ull << 30), plan); /* another salt */

    /* Old tokens reach no probe: FO_ENOENT, counted as strays. */
    totals(r, &before);
    strays = before.probe_strays;
    assert_int_equal(fo_set_probe(r, live, noop_probe, &destroyed, &po), FO_OK);
    assert_int_equal(fo_router_tick(r), FO_OK);
    for (size_t k = 0; k < ntok; k++)
        assert_int_equal(fo_probe_done(r, tokens[k], FO_RESULT_TIMEOUT),
                         FO_ENOENT);
    totals(r, &after);
    assert_true(after.probe_strays == strays + ntok);

    /* The live route saw none of it. */
    assert_int_equal(fo_route_get_stats(r, live, &rs), FO_OK);
    assert_true(rs.reports == 0 && rs.picks == 0 && rs.transitions == 0);
    assert_int_equal(rs.state, FO_STATE_UP);
    assert_true(rs.probes_sent == 1 && rs.probes_failed == 0);
    assert_int_equal(fo_route_get_stats(r, other, &rs), FO_OK);
    assert_true(rs.reports == 0);
    test_free(ids);
    assert_usable(r);
}

/* An attempt that tried a route that is gone: the old id is dead for it,
 * and the route now in the same slot is a different route to it. */
static void test_attempt_with_a_removed_route(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    fo_attempt att = FO_ATTEMPT_INIT;
    fo_route_id a = add_route(r, "a", 1), again, picked;

    assert_true(pick(r, &att) == a);
    assert_int_equal(fo_route_remove(r, a), FO_OK);
    again = add_route(r, "a", 1);
    assert_int_equal(FO__ID_INDEX(again), FO__ID_INDEX(a));
    assert_rejected(r, FO_ENOENT,
                    fo_report_result(r, a, FO_RESULT_TIMEOUT, &att));
    assert_int_equal(fo_attempt_count(&att), 1);
    assert_int_equal(fo_pick_route(r, &att, &picked), FO_OK);
    assert_true(picked == again);
    assert_int_equal(fo_report_result(r, again, FO_RESULT_SUCCESS, &att),
                     FO_OK);
    assert_int_equal(fo_report_result(r, again, FO_RESULT_SUCCESS, &att),
                     FO_EALREADY);
}

/* Plans: a freed plan's id is dead for good, across many reuses of its
 * slot and name, also inside an attempt that started with it. */
static void test_stale_plan_ids(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    enum { CYCLES = 1000 };
    fo_plan_id *plans = test_malloc(CYCLES * sizeof *plans);
    fo_route_id a = add_route(r, "a", 1), out;
    fo_attempt att;
    fo_plan_id live, found;

    for (int i = 0; i < CYCLES; i++) {
        assert_int_equal(fo_plan_new(r, "p", FO_POLICY_PRIORITY, &plans[i]),
                         FO_OK);
        assert_true(plans[i] != FO_PLAN_ID_NONE && plans[i] != a);
        assert_int_equal(fo_plan_set_route(r, plans[i], a, 1, 1, 0), FO_OK);
        assert_int_equal(fo_plan_free(r, plans[i]), FO_OK);
    }
    assert_int_equal(fo_plan_new(r, "p", FO_POLICY_PRIORITY, &live), FO_OK);
    assert_int_equal(fo_plan_set_route(r, live, a, 1, 1, 0), FO_OK);
    for (int i = 0; i < CYCLES; i++) {
        assert_true(plans[i] != live);
        if (i % 100 != 0 && i != CYCLES - 1)
            continue;
        assert_rejected(r, FO_ENOENT, fo_plan_free(r, plans[i]));
        assert_rejected(r, FO_ENOENT,
                        fo_plan_set_route(r, plans[i], a, 1, 1, 0));
        assert_rejected(r, FO_ENOENT, fo_plan_unset_route(r, plans[i], a));
        assert_rejected(r, FO_ENOENT,
                        fo_plan_set_policy(r, plans[i], FO_POLICY_WEIGHTED));
        assert_int_equal(fo_attempt_init_plan(&att, plans[i]), FO_OK);
        assert_rejected(r, FO_ENOENT, fo_pick_route(r, &att, &out));
        assert_true(out == FO_ROUTE_ID_NONE);
    }
    /* A route's id is not a plan's; the default list is not a plan to
     * free or fill, but its policy can be set. */
    assert_rejected(r, FO_ENOENT, fo_plan_free(r, a));
    assert_rejected(r, FO_ENOENT, fo_plan_set_route(r, a, a, 1, 1, 0));
    assert_rejected(r, FO_ENOENT, fo_plan_free(r, FO_PLAN_ID_NONE));
    assert_rejected(r, FO_ENOENT,
                    fo_plan_set_route(r, FO_PLAN_ID_NONE, a, 1, 1, 0));
    assert_rejected(r, FO_ENOENT, fo_plan_unset_route(r, FO_PLAN_ID_NONE, a));
    assert_rejected(r, FO_ENOENT, fo_plan_free(r, UINT64_MAX));
    assert_rejected(r, FO_ENOENT,
                    fo_plan_set_policy(r, UINT64_MAX, FO_POLICY_WEIGHTED));
    assert_int_equal(fo_plan_set_policy(r, FO_PLAN_ID_NONE, FO_POLICY_PRIORITY),
                     FO_OK);
    /* An attempt on a plan freed after its first pick. */
    assert_int_equal(fo_attempt_init_plan(&att, live), FO_OK);
    assert_true(pick(r, &att) == a);
    assert_int_equal(fo_plan_free(r, live), FO_OK);
    assert_int_equal(fo_plan_new(r, "p", FO_POLICY_PRIORITY, &found), FO_OK);
    assert_int_equal(fo_plan_set_route(r, found, a, 1, 1, 0), FO_OK);
    assert_rejected(r, FO_ENOENT, fo_pick_route(r, &att, &out));
    /* Reporting the pick it made still works: the route is alive. */
    assert_int_equal(fo_report_result(r, a, FO_RESULT_SUCCESS, &att), FO_OK);
    test_free(plans);
    assert_usable(r);
}

/* ---- 3. size-versioned structs and inconsistent options --------------------
 */

static void test_router_options_sizes(void **state)
{
    struct test_alloc ta = {0, 0, -1};
    fo_allocator al = FO_ALLOCATOR_INIT(test_alloc_cb, test_free_cb, &ta);
    fo_router *r = (fo_router *)0x1;
    struct guarded g;
    unsigned char *mem;
    fo_router_options *o;
    size_t big = 4096;

    (void)state;
    /* Too small, at every size below the first version. */
    for (size_t size = 0; size < sizeof(fo_router_options); size++) {
        fo_router_options small;

        assert_int_equal(fo_router_options_init(&small, size), FO_EINVAL);
        FO_ROUTER_OPTIONS_INIT(&small);
        small.allocator = &al;
        small.size = size;
        assert_int_equal(fo_router_new(&r, &small), FO_EINVAL);
    }
    /* Exactly the size, the struct ending at a guard page: nothing past it
     * is read. */
    mem = guarded_tail(&g, sizeof(fo_router_options));
    o = (fo_router_options *)(void *)mem;
    assert_int_equal(fo_router_options_init(o, sizeof *o), FO_OK);
    o->allocator = &al;
    assert_int_equal(fo_router_new(&r, o), FO_OK);
    assert_int_equal(fo_router_free(r), FO_OK);
    guarded_free(&g);

    /* Larger, as from newer headers, ending at the guard page: a zero tail
     * is accepted, any one byte set in it is refused. */
    mem = guarded_tail(&g, big);
    o = (fo_router_options *)(void *)mem;
    assert_int_equal(fo_router_options_init(o, big), FO_OK);
    assert_int_equal(o->size, big);
    o->allocator = &al;
    o->consecutive_faults = 5;
    assert_int_equal(fo_router_new(&r, o), FO_OK);
    assert_int_equal(r->cfg.consecutive_faults, 5);
    assert_int_equal(fo_router_free(r), FO_OK);
    for (size_t at = sizeof(fo_router_options); at < big; at += 61) {
        r = (fo_router *)0x1;
        mem[at] = 0x80;
        assert_int_equal(fo_router_new(&r, o), FO_EVERSION);
        assert_ptr_equal(r, (fo_router *)0x1);
        mem[at] = 0;
    }
    mem[big - 1] = 1;
    assert_int_equal(fo_router_new(&r, o), FO_EVERSION);
    guarded_free(&g);
    /* Nothing was allocated for a refused router. */
    assert_int_equal(ta.live, 0);
}

/* Tables the options point to, versioned the same way. */
static void test_clock_and_allocator_table_sizes(void **state)
{
    struct test_alloc ta = {0, 0, -1};
    struct manual_clock mc = {5 * SEC};
    fo_router_options o;
    fo_router *r = NULL;
    struct guarded g;
    struct {
        fo_allocator known;
        uint64_t newer[4];
    } al;
    struct {
        fo_clock known;
        uint64_t newer[4];
    } cl;
    fo_clock *edge;

    (void)state;
    memset(&al, 0, sizeof al);
    memset(&cl, 0, sizeof cl);
    al.known =
        (fo_allocator)FO_ALLOCATOR_INIT(test_alloc_cb, test_free_cb, &ta);
    cl.known = (fo_clock)FO_CLOCK_INIT(manual_clock_now, &mc);
    FO_ROUTER_OPTIONS_INIT(&o);
    o.allocator = &al.known;
    o.clock = &cl.known;
    al.known.size = sizeof al;
    cl.known.size = sizeof cl;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    assert_int_equal(fo_router_free(r), FO_OK);
    al.newer[3] = 1;
    assert_int_equal(fo_router_new(&r, &o), FO_EVERSION);
    al.newer[3] = 0;
    cl.newer[0] = 1;
    assert_int_equal(fo_router_new(&r, &o), FO_EVERSION);
    cl.newer[0] = 0;
    al.known.size = sizeof(size_t);
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    al.known.size = sizeof(fo_allocator);
    cl.known.size = 0;
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    cl.known.size = (size_t)1 << 62;
    assert_int_equal(fo_router_new(&r, &o), FO_EINVAL);
    /* A clock table at the edge of a guard page. */
    edge = (fo_clock *)(void *)guarded_tail(&g, sizeof(fo_clock));
    *edge = (fo_clock)FO_CLOCK_INIT(manual_clock_now, &mc);
    o.clock = edge;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    guarded_free(&g); /* copied: need not outlive fo_router_new() */
    assert_usable(r);
    assert_int_equal(fo_router_free(r), FO_OK);
    assert_int_equal(ta.live, 0);
}

/* Fields out of range or contradicting each other: refused, no router,
 * nothing allocated. */
static void test_inconsistent_options(void **state)
{
    struct test_alloc ta = {0, 0, -1};
    fo_allocator al = FO_ALLOCATOR_INIT(test_alloc_cb, test_free_cb, &ta);
    fo_router_options o;
    fo_router *r;

    (void)state;
#define EXPECT(setup, code)                                                    \
    do {                                                                       \
        FO_ROUTER_OPTIONS_INIT(&o);                                            \
        o.allocator = &al;                                                     \
        setup;                                                                 \
        r = (fo_router *)0x1;                                                  \
        assert_int_equal(fo_router_new(&r, &o), (code));                       \
        if ((code) == FO_OK)                                                   \
            assert_int_equal(fo_router_free(r), FO_OK);                        \
        else                                                                   \
            assert_ptr_equal(r, (fo_router *)0x1);                             \
        assert_int_equal(ta.live, 0);                                          \
    } while (0)
    /* min above max */
    EXPECT((o.hold_down_ns = 10 * SEC, o.hold_down_max_ns = 10 * SEC - 1),
           FO_EINVAL);
    EXPECT((o.hold_down_ns = 10 * SEC, o.hold_down_max_ns = 10 * SEC), FO_OK);
    EXPECT((o.damping_reuse = 5000), FO_EINVAL);   /* above suppress 2500 */
    EXPECT((o.damping_suppress = 700), FO_EINVAL); /* below reuse 750 */
    EXPECT((o.damping_suppress = 751), FO_OK);
    EXPECT((o.damping_suppress = 10000001), FO_ERANGE);
    /* A window shorter than its smallest bucket, or absurdly long. */
    EXPECT((o.window_ns = 1), FO_ERANGE);
    EXPECT((o.window_ns = UINT64_MAX), FO_ERANGE);
    /* Rates above 100 %. */
    EXPECT((o.failure_rate_pct = 101), FO_ERANGE);
    EXPECT((o.failure_rate_pct = UINT32_MAX), FO_ERANGE);
    EXPECT((o.slow_call_rate_pct = 200), FO_ERANGE);
    EXPECT((o.max_ejected_pct = 101), FO_ERANGE);
    EXPECT((o.slow_start_floor_pct = 101), FO_ERANGE);
    EXPECT((o.hold_down_jitter_pct = UINT32_MAX), FO_ERANGE);
    /* Durations at the end of the range. */
    EXPECT((o.hold_down_ns = UINT64_MAX), FO_ERANGE);
    EXPECT((o.hold_down_max_ns = UINT64_MAX), FO_ERANGE);
    EXPECT((o.hold_down_decay_ns = FO_MAX_HOLD_DOWN_NS + 1), FO_ERANGE);
    EXPECT((o.trial_timeout_ns = UINT64_MAX), FO_ERANGE);
    EXPECT((o.damping_half_life_ns = DAY + 1), FO_ERANGE);
    EXPECT((o.damping_max_suppress_ns = UINT64_MAX), FO_ERANGE);
    EXPECT((o.retry_after_max_ns = UINT64_MAX), FO_ERANGE);
    EXPECT((o.local_fault_window_ns = 3601 * SEC), FO_ERANGE);
    EXPECT((o.slow_start_ns = UINT64_MAX), FO_ERANGE);
    EXPECT((o.slow_call_ns = UINT64_MAX), FO_ERANGE);
    EXPECT((o.window_min_volume = 1000001), FO_ERANGE);
    EXPECT((o.max_routes = UINT32_MAX), FO_ERANGE);
    EXPECT((o.trial_concurrency = UINT32_MAX), FO_ERANGE);
    /* Values that are not of their enum, and bits of a newer library. */
    EXPECT((o.policy = FO_POLICY_LEAST_COST + 1), FO_EINVAL);
    EXPECT((o.panic = FO_PANIC_FAIL + 1), FO_EINVAL);
    EXPECT((o.guards_off = 0x4), FO_EVERSION);
    EXPECT((o.detectors_off = 0x20), FO_EVERSION);
    EXPECT((o.reserved = 1), FO_EVERSION);
    /* Zero is "the default" everywhere: a router of all defaults. */
    EXPECT((void)0, FO_OK);
#undef EXPECT
}

/* Changing settings of a live router with bad values: refused, the router
 * exactly as it was. */
static void test_bad_updates_leave_router_unchanged(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    fo_route_id a = add_route(r, "a", 1);
    fo_probe_options po;
    fo_plan_id plan;
    fo_router_stats before, after;
    struct {
        fo_probe_options known;
        uint32_t newer[8];
    } bigpo;

    assert_int_equal(fo_plan_new(r, "p", FO_POLICY_PRIORITY, &plan), FO_OK);
    assert_int_equal(fo_set_probe(r, a, noop_probe, NULL, NULL), FO_OK);
    totals(r, &before);
#define BADPROBE(field, value, code)                                           \
    do {                                                                       \
        FO_PROBE_OPTIONS_INIT(&po);                                            \
        po.field = (value);                                                    \
        assert_rejected(r, (code), fo_set_probe(r, a, noop_probe, &po, &po));  \
    } while (0)
    BADPROBE(size, 0, FO_EINVAL);
    BADPROBE(size, sizeof po - 1, FO_EINVAL);
    BADPROBE(size, (size_t)1 << 40, FO_EINVAL);
    BADPROBE(interval_ns, 1, FO_ERANGE);
    BADPROBE(interval_ns, UINT64_MAX, FO_ERANGE);
    BADPROBE(down_interval_ns, UINT64_MAX, FO_ERANGE);
    BADPROBE(timeout_ns, UINT64_MAX, FO_ERANGE);
    BADPROBE(rise, UINT32_MAX, FO_ERANGE);
    BADPROBE(fall, UINT32_MAX, FO_ERANGE);
    BADPROBE(jitter_pct, UINT32_MAX, FO_ERANGE);
    BADPROBE(evidence, UINT32_MAX, FO_EINVAL);
    BADPROBE(flags, 0x80000000u, FO_EVERSION);
    BADPROBE(reserved, 7, FO_EVERSION);
#undef BADPROBE
    memset(&bigpo, 0, sizeof bigpo);
    assert_int_equal(fo_probe_options_init(&bigpo.known, sizeof bigpo), FO_OK);
    bigpo.newer[7] = 1;
    assert_rejected(r, FO_EVERSION,
                    fo_set_probe(r, a, noop_probe, NULL, &bigpo.known));
    bigpo.newer[7] = 0;
    /* rise and fall 0 take the defaults: a defined, accepted setting. */
    bigpo.known.rise = 0;
    bigpo.known.fall = 0;
    assert_int_equal(fo_set_probe(r, a, noop_probe, NULL, &bigpo.known), FO_OK);
    assert_int_equal(fo__route_get(r, a)->probe->rise, FO_DEFAULT_PROBE_RISE);
    assert_int_equal(fo__route_get(r, a)->probe->fall, FO_DEFAULT_PROBE_FALL);

    assert_rejected(r, FO_EINVAL, fo_router_set_panic(r, (fo_panic)2));
    assert_rejected(r, FO_EINVAL, fo_router_set_panic(r, (fo_panic)-1));
    assert_rejected(
        r, FO_EINVAL,
        fo_router_set_result_class(r, (fo_result)0, FO_CLASS_SUCCESS));
    assert_rejected(
        r, FO_EINVAL,
        fo_router_set_result_class(r, FO_RESULT_BUSY, (fo_result_class)5));
    assert_rejected(
        r, FO_EINVAL,
        fo_router_set_result_class(r, (fo_result)10, FO_CLASS_SUCCESS));
    assert_rejected(r, FO_EINVAL,
                    fo_router_set_sip_result(r, 199, FO_RESULT_SUCCESS));
    assert_rejected(r, FO_EINVAL,
                    fo_router_set_sip_result(r, 700, FO_RESULT_SUCCESS));
    assert_rejected(r, FO_EINVAL,
                    fo_router_set_sip_result(r, INT32_MIN, FO_RESULT_SUCCESS));
    assert_rejected(r, FO_EINVAL,
                    fo_router_set_sip_result(r, 503, (fo_result)10));
    assert_rejected(r, FO_EINVAL,
                    fo_router_set_log_cb(r, (fo_log_level)0, noop_log, NULL));
    assert_rejected(r, FO_EINVAL, fo_plan_set_policy(r, plan, (fo_policy)3));
    assert_rejected(r, FO_EINVAL,
                    fo_plan_set_policy(r, FO_PLAN_ID_NONE, (fo_policy)-1));
    assert_rejected(r, FO_EINVAL, fo_route_set_admin(r, a, (fo_admin)3));
    assert_rejected(r, FO_EINVAL, fo_route_signal(r, a, (fo_signal)0));
    assert_rejected(r, FO_EINVAL, fo_route_signal(r, a, (fo_signal)5));
    assert_rejected(r, FO_ERANGE, fo_route_drill(r, a, DAY + 1));
    assert_rejected(r, FO_ERANGE, fo_route_drill(r, a, UINT64_MAX));
    assert_rejected(r, FO_ERANGE, fo_route_update(r, a, 1, UINT32_MAX, 0));
    assert_rejected(r, FO_ERANGE,
                    fo_plan_set_route(r, plan, a, 1, FO_WEIGHT_MAX + 1, 0));
    assert_rejected(r, FO_EINVAL, fo_report_result(r, a, (fo_result)0, NULL));
    assert_rejected(r, FO_EINVAL,
                    fo_report_result(r, a, (fo_result)INT32_MAX, NULL));
    assert_rejected(r, FO_EINVAL, fo_plan_new(r, "q", (fo_policy)3, &plan));
    totals(r, &after);
    assert_memory_equal(&before, &after, sizeof before);
    assert_int_equal(route_state(r, a), FO_STATE_UP);
    assert_usable(r);
}

/* The structs passed in and out of calls, at every wrong size. */
static void test_call_struct_sizes(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    fo_route_id a = add_route(r, "a", 1);
    struct guarded g;
    struct {
        fo_report known;
        uint8_t newer[64];
    } rep;
    struct {
        fo_pick known;
        uint8_t newer[64];
    } pk;
    struct {
        fo_route_stats known;
        uint8_t newer[64];
    } rs;
    struct {
        fo_router_stats known;
        uint8_t newer[64];
    } gs;
    fo_report *edge_rep;
    fo_pick *edge_pick;
    fo_route_stats *edge_rs;
    fo_router_stats *edge_gs;

    /* fo_report: too small, newer with zero tail, newer with a set byte. */
    memset(&rep, 0, sizeof rep);
    rep.known = (fo_report)FO_REPORT_INIT(FO_RESULT_SUCCESS);
    for (size_t s = 0; s < sizeof(fo_report); s++) {
        rep.known.size = s;
        assert_rejected(r, FO_EINVAL,
                        fo_report_result_ex(r, a, &rep.known, NULL));
    }
    rep.known.size = sizeof rep;
    assert_int_equal(fo_report_result_ex(r, a, &rep.known, NULL), FO_OK);
    rep.newer[63] = 1;
    assert_rejected(r, FO_EVERSION,
                    fo_report_result_ex(r, a, &rep.known, NULL));
    rep.newer[63] = 0;
    rep.known.size = (size_t)1 << 40;
    assert_rejected(r, FO_EINVAL, fo_report_result_ex(r, a, &rep.known, NULL));
    rep.known.size = sizeof(fo_report);
    rep.known.flags = 1;
    assert_rejected(r, FO_EINVAL, fo_report_result_ex(r, a, &rep.known, NULL));
    edge_rep = (fo_report *)(void *)guarded_tail(&g, sizeof(fo_report));
    *edge_rep = (fo_report)FO_REPORT_INIT(FO_RESULT_BUSY);
    assert_int_equal(fo_report_result_ex(r, a, edge_rep, NULL), FO_OK);
    guarded_free(&g);

    /* fo_pick */
    memset(&pk, 0, sizeof pk);
    pk.known = (fo_pick)FO_PICK_INIT;
    for (size_t s = 0; s < sizeof(fo_pick); s++) {
        pk.known.size = s;
        assert_rejected(r, FO_EINVAL, fo_pick_route_ex(r, NULL, &pk.known));
    }
    pk.known.size = sizeof pk;
    assert_int_equal(fo_pick_route_ex(r, NULL, &pk.known), FO_OK);
    assert_true(pk.known.route == a);
    pk.newer[0] = 1;
    assert_rejected(r, FO_EVERSION, fo_pick_route_ex(r, NULL, &pk.known));
    pk.newer[0] = 0;
    pk.known.size = sizeof(fo_pick);
    pk.known.reserved = 1;
    assert_rejected(r, FO_EINVAL, fo_pick_route_ex(r, NULL, &pk.known));
    edge_pick = (fo_pick *)(void *)guarded_tail(&g, sizeof(fo_pick));
    *edge_pick = (fo_pick)FO_PICK_INIT;
    assert_int_equal(fo_pick_route_ex(r, NULL, edge_pick), FO_OK);
    assert_true(edge_pick->route == a);
    guarded_free(&g);

    /* Snapshots: too small refused; larger filled, the tail zeroed; exact
     * size written up to the guard page and not past it. */
    memset(&rs, 0xa5, sizeof rs);
    rs.known.size = sizeof(size_t);
    assert_rejected(r, FO_EINVAL, fo_route_get_stats(r, a, &rs.known));
    rs.known.size = sizeof rs;
    assert_int_equal(fo_route_get_stats(r, a, &rs.known), FO_OK);
    assert_int_equal(rs.known.size, sizeof rs);
    assert_string_equal(rs.known.name, "a");
    for (size_t k = 0; k < sizeof rs.newer; k++)
        assert_int_equal(rs.newer[k], 0);
    rs.known.size = SIZE_MAX;
    assert_rejected(r, FO_EINVAL, fo_route_get_stats(r, a, &rs.known));
    edge_rs =
        (fo_route_stats *)(void *)guarded_tail(&g, sizeof(fo_route_stats));
    *edge_rs = (fo_route_stats)FO_ROUTE_STATS_INIT;
    assert_int_equal(fo_route_get_stats(r, a, edge_rs), FO_OK);
    assert_true(edge_rs->route == a);
    guarded_free(&g);

    memset(&gs, 0xa5, sizeof gs);
    gs.known.size = 1;
    assert_rejected(r, FO_EINVAL, fo_router_get_stats(r, &gs.known));
    gs.known.size = sizeof gs;
    assert_int_equal(fo_router_get_stats(r, &gs.known), FO_OK);
    assert_int_equal(gs.known.routes, 1);
    for (size_t k = 0; k < sizeof gs.newer; k++)
        assert_int_equal(gs.newer[k], 0);
    edge_gs =
        (fo_router_stats *)(void *)guarded_tail(&g, sizeof(fo_router_stats));
    *edge_gs = (fo_router_stats)FO_ROUTER_STATS_INIT;
    assert_int_equal(fo_router_get_stats(r, edge_gs), FO_OK);
    assert_int_equal(edge_gs->routes, 1);
    guarded_free(&g);
    assert_usable(r);
}

/* ---- 4. names
 * ------------------------------------------------------------------ */

static void test_names_at_and_past_the_limit(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    const size_t huge = 1u << 20;
    char *big = test_malloc(huge + 1);
    char longest[FO_ROUTE_NAME_MAX + 1];
    char over[FO_ROUTE_NAME_MAX + 2];
    struct guarded g;
    char *edge;
    fo_route_id id, found;
    fo_plan_id plan, pfound;
    fo_router_stats before, after;

    memset(big, 'n', huge);
    big[huge] = '\0';
    memset(longest, 'L', FO_ROUTE_NAME_MAX);
    longest[FO_ROUTE_NAME_MAX] = '\0';
    memset(over, 'O', FO_ROUTE_NAME_MAX + 1);
    over[FO_ROUTE_NAME_MAX + 1] = '\0';
    totals(r, &before);

    /* Empty, one over, huge: refused everywhere, lookups miss. */
    assert_rejected(r, FO_EINVAL, fo_route_add(r, "", 1, 1, 0, &id));
    assert_rejected(r, FO_EINVAL, fo_route_add(r, over, 1, 1, 0, &id));
    assert_rejected(r, FO_EINVAL, fo_route_add(r, big, 1, 1, 0, &id));
    assert_rejected(r, FO_EINVAL,
                    fo_plan_new(r, "", FO_POLICY_PRIORITY, &plan));
    assert_rejected(r, FO_EINVAL,
                    fo_plan_new(r, over, FO_POLICY_PRIORITY, &plan));
    assert_rejected(r, FO_EINVAL,
                    fo_plan_new(r, big, FO_POLICY_PRIORITY, &plan));
    assert_rejected(r, FO_ENOENT, fo_route_lookup(r, "", &found));
    assert_rejected(r, FO_ENOENT, fo_route_lookup(r, over, &found));
    assert_rejected(r, FO_ENOENT, fo_route_lookup(r, big, &found));
    assert_rejected(r, FO_ENOENT, fo_plan_lookup(r, "", &pfound));
    assert_rejected(r, FO_ENOENT, fo_plan_lookup(r, big, &pfound));
    totals(r, &after);
    assert_memory_equal(&before, &after, sizeof before);

    /* A name of one over that shares the longest one's first 63 bytes is
     * not that name. */
    assert_int_equal(fo_route_add(r, longest, 1, 1, 0, &id), FO_OK);
    memcpy(big, longest, FO_ROUTE_NAME_MAX);
    assert_rejected(r, FO_ENOENT, fo_route_lookup(r, big, &found));
    assert_rejected(r, FO_EINVAL, fo_route_add(r, big, 1, 1, 0, &found));
    assert_int_equal(fo_route_lookup(r, longest, &found), FO_OK);
    assert_true(found == id);
    assert_int_equal(fo_plan_new(r, longest, FO_POLICY_PRIORITY, &plan), FO_OK);
    assert_int_equal(fo_plan_lookup(r, longest, &pfound), FO_OK);
    assert_true(pfound == plan);

    /* Not NUL-terminated within the limit, right before a guard page:
     * reading one byte past FO_ROUTE_NAME_MAX + 1 would fault. */
    edge = (char *)guarded_tail(&g, FO_ROUTE_NAME_MAX + 1);
    memset(edge, 'U', FO_ROUTE_NAME_MAX + 1);
    assert_rejected(r, FO_EINVAL, fo_route_add(r, edge, 1, 1, 0, &found));
    assert_rejected(r, FO_EINVAL,
                    fo_plan_new(r, edge, FO_POLICY_PRIORITY, &pfound));
    assert_rejected(r, FO_ENOENT, fo_route_lookup(r, edge, &found));
    assert_rejected(r, FO_ENOENT, fo_plan_lookup(r, edge, &pfound));
    /* Its last byte a NUL: the longest name, accepted. */
    edge[FO_ROUTE_NAME_MAX] = '\0';
    assert_int_equal(fo_route_add(r, edge, 1, 1, 0, &found), FO_OK);
    assert_int_equal(fo_route_lookup(r, edge, &id), FO_OK);
    assert_true(id == found);
    assert_int_equal(fo_plan_new(r, edge, FO_POLICY_PRIORITY, &pfound), FO_OK);
    /* A multi-byte character cut by the limit, and one cut by the NUL. */
    memset(edge, 'u', FO_ROUTE_NAME_MAX + 1);
    edge[FO_ROUTE_NAME_MAX - 1] = '\xc3';
    edge[FO_ROUTE_NAME_MAX] = '\xbc';
    assert_rejected(r, FO_EINVAL, fo_route_add(r, edge, 1, 1, 0, &id));
    edge[FO_ROUTE_NAME_MAX] = '\0';
    assert_rejected(r, FO_EINVAL, fo_route_add(r, edge, 1, 1, 0, &id));
    edge[FO_ROUTE_NAME_MAX - 1] = '\xf0'; /* a 4-byte lead, then the NUL */
    assert_rejected(r, FO_EINVAL, fo_route_add(r, edge, 1, 1, 0, &id));
    guarded_free(&g);

    /* Reading a name back into buffers that end at a guard page: every
     * size, never a byte past it, cut on a character boundary. */
    {
        char name[FO_ROUTE_NAME_MAX + 1];
        size_t len = 0;

        while (len + 2 <= FO_ROUTE_NAME_MAX) {
            name[len++] = '\xc3';
            name[len++] = '\xbc';
        }
        name[len] = '\0';
        assert_int_equal(fo_route_add(r, name, 1, 1, 0, &id), FO_OK);
        for (size_t size = 1; size <= FO_ROUTE_NAME_MAX + 1; size++) {
            char *buf = (char *)guarded_tail(&g, size);
            int rc = fo_route_get_name(r, id, buf, size);
            size_t got = strnlen(buf, size);

            assert_int_equal(rc, size > len ? FO_OK : FO_ERANGE);
            assert_true(got < size);
            if (rc == FO_ERANGE) /* as much as fits */
                assert_int_equal(got, size - 1);
            assert_memory_equal(buf, name, got);
            if (rc == FO_OK)
                assert_string_equal(buf, name);
            guarded_free(&g);
        }
        for (size_t size = 1; size <= FO_REASON_TEXT_MAX; size++) {
            char *buf = (char *)guarded_tail(&g, size);
            int rc = fo_route_get_reason(r, id, NULL, buf, size);

            assert_true(rc == FO_OK || rc == FO_ERANGE);
            assert_true(strnlen(buf, size) < size);
            guarded_free(&g);
        }
    }

    /* DIALSTATUS strings: blanks around a value are ignored however many,
     * a value followed by blanks and more text is not a value. */
    {
        fo_result res = (fo_result)0;

        memset(big, ' ', huge);
        memcpy(big + huge / 2, "answer", 6);
        assert_int_equal(fo_result_from_dialstatus(big, &res), FO_OK);
        assert_int_equal(res, FO_RESULT_SUCCESS);
        assert_int_equal(fo_result_from_dialstatus("ANSWER X", &res),
                         FO_EINVAL);
        for (size_t gap = 1; gap < 64; gap++) {
            char s[80];

            memset(s, ' ', sizeof s);
            memcpy(s, "BUSY", 4);
            s[4 + gap] = 'X';
            s[5 + gap] = '\0';
            res = (fo_result)0;
            assert_int_equal(fo_result_from_dialstatus(s, &res), FO_EINVAL);
            assert_int_equal(res, 0);
            s[4 + gap] = '\0';
            assert_int_equal(fo_result_from_dialstatus(s, &res), FO_OK);
            assert_int_equal(res, FO_RESULT_BUSY);
        }
        big[huge / 2 + 6] = 'x'; /* "answerx" */
        assert_int_equal(fo_result_from_dialstatus(big, &res), FO_EINVAL);
        memset(big, 'B', huge);
        assert_int_equal(fo_result_from_dialstatus(big, &res), FO_EINVAL);
        assert_int_equal(fo_result_from_dialstatus("", &res), FO_EINVAL);
    }
    test_free(big);
    assert_usable(r);
}

/* Metrics into buffers of many sizes, each ending at a guard page, with
 * names that need escaping: the same length every time, complete lines
 * only, never a byte past the buffer. */
static void test_metrics_into_tight_buffers(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    char quotes[FO_ROUTE_NAME_MAX + 1], slashes[FO_ROUTE_NAME_MAX + 1];
    char *full;
    int64_t len;
    fo_route_id a, b;
    struct guarded g;

    memset(quotes, '"', FO_ROUTE_NAME_MAX);
    quotes[FO_ROUTE_NAME_MAX] = '\0';
    memset(slashes, '\\', FO_ROUTE_NAME_MAX);
    slashes[FO_ROUTE_NAME_MAX] = '\0';
    a = add_route(r, quotes, 1);
    b = add_route(r, slashes, 2);
    report_n(r, a, FO_RESULT_TIMEOUT, 3);
    report_n(r, b, FO_RESULT_SUCCESS, 2);
    len = fo_router_write_metrics(r, NULL, 0);
    assert_true(len > 0);
    full = test_malloc((size_t)len + 1);
    assert_true(fo_router_write_metrics(r, full, (size_t)len + 1) == len);
    assert_int_equal(strlen(full), (size_t)len);
    for (size_t size = 0; size <= (size_t)len + 1;) {
        char *buf = (char *)guarded_tail(&g, size == 0 ? 1 : size);
        int64_t got = fo_router_write_metrics(r, size == 0 ? NULL : buf, size);

        assert_true(got == len);
        if (size > 0) {
            size_t n = strnlen(buf, size);

            assert_true(n < size);
            assert_memory_equal(buf, full, n);
            if (size > (size_t)len)
                assert_int_equal(n, (size_t)len);
            else if (n > 0)
                assert_int_equal(buf[n - 1], '\n');
        }
        guarded_free(&g);
        /* Every size near a line's end, and a sample of the rest. */
        if (size < (size_t)len && full[size] == '\n')
            size++;
        else if (size + 1 < (size_t)len && full[size + 1] == '\n')
            size++;
        else
            size += 1 + size % 53;
    }
    test_free(full);
    assert_usable(r);
}

/* ---- 5. 100,000 routes
 * ---------------------------------------------------------- */

static void test_hundred_thousand_routes(void **state)
{
    struct fixture *f = *state;
    enum { N = 100000, FRONT = 100 };
    fo_route_id *ids = test_malloc(N * sizeof *ids);
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    char name[32];
    long live_full = 0;
    fo_route_id extra;

    /* The default cap is FO_ROUTES_MAX (above N); set it to N to see the
     * cap work right at it. */
    fixture_close(f);
    fixture_prepare(f);
    f->opts.max_routes = N;
    fixture_open(f);
    for (int round = 0; round < 2; round++) {
        /* Priorities in the order of addition: the default list grows at
         * its end (a route inserted or removed in the middle moves the
         * entries after it: done below for a few only, to stay fast). */
        for (int i = 0; i < N; i++) {
            snprintf(name, sizeof name, "route-%06d", i);
            assert_int_equal(
                fo_route_add(f->router, name, (uint32_t)(i / (N / 5)),
                             (uint32_t)(i % 3), (uint32_t)i, &ids[i]),
                FO_OK);
        }
        if (round == 0)
            live_full = f->alloc.live;
        else /* removed routes' memory was reused, not leaked */
            assert_true(f->alloc.live <= live_full);
        assert_rejected(
            f->router, FO_ELIMIT,
            fo_route_add(f->router, "one-too-many", 1, 1, 0, &extra));
        assert_int_equal(fo_router_get_stats(f->router, &rs), FO_OK);
        assert_int_equal(rs.routes, N);
        assert_int_equal(rs.routes_in_state[FO_STATE_UP], N);
        /* Picks, reports and lookups still work, at both ends. */
        for (int k = 0; k < 20; k++) {
            fo_attempt att = FO_ATTEMPT_INIT;
            fo_route_id p = pick(f->router, &att);

            assert_int_equal(
                fo_report_result(f->router, p, FO_RESULT_SUCCESS, &att), FO_OK);
        }
        report_n(f->router, ids[N - 1], FO_RESULT_TIMEOUT, 3);
        assert_int_equal(route_state(f->router, ids[N - 1]), FO_STATE_EJECTED);
        assert_int_equal(fo_route_lookup(f->router, "route-099999", &extra),
                         FO_OK);
        assert_true(extra == ids[N - 1]);
        assert_int_equal(fo_route_get_stats(f->router, ids[0], &st), FO_OK);
        /* One out of the middle and one in its place, at another
         * priority. */
        assert_int_equal(fo_route_remove(f->router, ids[N / 2]), FO_OK);
        assert_int_equal(
            fo_route_add(f->router, "replacement", 7, 1, 0, &ids[N / 2]),
            FO_OK);
        assert_int_equal(fo_route_update(f->router, ids[N / 2], 2, 1, 0),
                         FO_OK);
        /* Remove them all: some from the front, the rest from the end. */
        for (int i = 0; i < FRONT; i++)
            assert_int_equal(fo_route_remove(f->router, ids[i]), FO_OK);
        for (int i = N - 1; i >= FRONT; i--)
            assert_int_equal(fo_route_remove(f->router, ids[i]), FO_OK);
        assert_int_equal(fo_router_get_stats(f->router, &rs), FO_OK);
        assert_int_equal(rs.routes, 0);
        assert_int_equal(fo_route_lookup(f->router, "route-000000", &extra),
                         FO_ENOENT);
        assert_rejected(f->router, FO_ENOENT,
                        fo_route_remove(f->router, ids[N - 1]));
    }
    assert_usable(f->router);
    test_free(ids);
    /* The fixture's teardown checks every block came back. */
}

/* ---- 6. clocks
 * ------------------------------------------------------------------ */

#define MAX_STEP (30ull * DAY)

/* What router time must be after each reading (fo_clock_now_cb). */
struct clock_model {
    uint64_t last, now;
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void model_read(struct clock_model *m, uint64_t raw)
{
    if (raw > m->last) {
        m->now = sat_add(m->now,
                         raw - m->last < MAX_STEP ? raw - m->last : MAX_STEP);
        m->last = raw;
    } else if (m->last - raw > SEC) {
        m->last = raw; /* a step back: ignored, and followed from here */
    }
}

static uint64_t router_now(fo_router *r)
{
    uint64_t t = 0;

    assert_int_equal(fo_router_now(r, &t), FO_OK);
    return t;
}

static void test_hostile_clock_sequence(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    struct clock_model m = {f->clock.now, f->clock.now};
    uint32_t x = 2024;
    uint64_t prev = router_now(r), until = 0;
    fo_route_id a = add_route(r, "a", 1);
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    bool ejected = false;

    assert_true(prev == m.now);
    for (int i = 0; i < 3000; i++) {
        uint64_t raw = f->clock.now, t;

        x = x * 1103515245u + 12345u;
        switch ((x >> 16) % 12) {
        case 0:
            raw -= raw > 500 * MSEC ? 500 * MSEC : raw;
            break;
        case 1:
            raw = raw > 1000 * SEC ? raw - 1000 * SEC : 0;
            break;
        case 2:
            raw = 0;
            break;
        case 3:
            raw = UINT64_MAX;
            break;
        case 4:
            raw = UINT64_MAX - (x % 1000);
            break;
        case 5:
            raw = sat_add(raw, 3 * DAY);
            break;
        case 6:
            raw = sat_add(raw, 45 * DAY);
            break;
        case 7:
            raw = raw > SEC ? raw - SEC : 0;
            break; /* exactly 1 s back */
        case 8:
            raw = raw > SEC + 1 ? raw - SEC - 1 : 0;
            break;
        default:
            raw = sat_add(raw, (x >> 8) % (20 * SEC));
            break;
        }
        f->clock.now = raw;
        model_read(&m, raw);
        t = router_now(r);
        assert_true(t >= prev);            /* never backwards */
        assert_true(t - prev <= MAX_STEP); /* at most 30 days a step */
        assert_true(t == m.now);
        prev = t;
        /* Hold-downs follow router time, nothing else. */
        if (!ejected && m.now < UINT64_MAX / 2 && i % 7 == 0) {
            report_n(r, a, FO_RESULT_TIMEOUT, 3);
            assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
            assert_int_equal(st.state, FO_STATE_EJECTED);
            until = st.until_ns;
            assert_true(until == m.now + st.hold_down_ns);
            ejected = true;
        } else if (ejected) {
            fo_route_state s = route_state(r, a);

            if (m.now < until) {
                assert_int_equal(s, FO_STATE_EJECTED);
            } else {
                assert_int_equal(s, FO_STATE_TRIAL);
                /* The trial passes and the route is back. */
                report_n(r, a, FO_RESULT_SUCCESS, 2);
                assert_int_equal(route_state(r, a), FO_STATE_UP);
                ejected = false;
            }
        }
    }
    /* Wild readings, back and forth, drive time to the end of its range:
     * it stops there, it does not wrap. */
    for (int i = 0; i < 20000 && m.now != UINT64_MAX; i++) {
        f->clock.now = i % 2 ? UINT64_MAX : 0;
        model_read(&m, f->clock.now);
        assert_true(router_now(r) == m.now);
    }
    assert_true(m.now == UINT64_MAX);
    for (int i = 0; i < 4; i++) {
        f->clock.now = i % 2 ? 0 : UINT64_MAX;
        assert_true(router_now(r) == UINT64_MAX);
        assert_usable(r);
    }
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.now_ns == UINT64_MAX);
    assert_true(st.state_since_ns <= st.now_ns);
    assert_true(st.time_in_state_ns == st.now_ns - st.state_since_ns);
}

/* A forward jump longer than 30 days counts as 30 days: a hold-down
 * longer than that (a Retry-After cap of 7 days is less, so use a drill
 * and a 7-day hold-down) ends as router time says. */
static void test_forward_jumps_and_hold_downs(void **state)
{
    struct fixture *f = *state;
    fo_router *r;
    fo_route_id a, b;
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    uint64_t t0;

    fixture_close(f);
    f->clock.now = 400 * DAY;
    f->opts.hold_down_ns = FO_MAX_HOLD_DOWN_NS;
    f->opts.hold_down_max_ns = FO_MAX_HOLD_DOWN_NS;
    fixture_open(f);
    r = f->router;
    a = add_route(r, "a", 1);
    b = add_route(r, "b", 1);
    report_n(r, a, FO_RESULT_TIMEOUT, 3);
    t0 = router_now(r);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.until_ns == t0 + FO_MAX_HOLD_DOWN_NS);
    /* 6 days forward, in one step: still out. */
    advance(f, 6 * DAY);
    assert_int_equal(route_state(r, a), FO_STATE_EJECTED);
    /* Back by a year (ignored), then 2 days forward of that: 8 days of
     * router time, the 7-day hold-down is over. */
    f->clock.now -= 365 * DAY;
    assert_int_equal(route_state(r, a), FO_STATE_EJECTED);
    advance(f, 2 * DAY);
    assert_true(router_now(r) == t0 + 8 * DAY);
    assert_int_equal(route_state(r, a), FO_STATE_TRIAL);
    /* A drill of a day and a jump of a century: 30 days pass, it is over;
     * the router time moved by 30 days exactly. */
    assert_int_equal(fo_route_drill(r, b, DAY), FO_OK);
    assert_int_equal(route_state(r, b), FO_STATE_DRILL);
    f->clock.now += 100ull * 365 * DAY;
    assert_true(router_now(r) == t0 + 8 * DAY + MAX_STEP);
    assert_int_equal(route_state(r, b), FO_STATE_UP);
    assert_usable(r);
}

/* A clock stuck at 0 from the start: time stands still, nothing that needs
 * time happens, everything else works; when it moves, the router follows. */
static void test_clock_stuck_at_zero(void **state)
{
    struct fixture *f = *state;
    fo_router *r;
    fo_route_id a, b;
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    fo_probe_options po;
    static int destroyed;
    uint64_t due;
    int ms;

    destroyed = 0;
    fixture_close(f);
    f->clock.now = 0;
    fixture_open(f);
    r = f->router;
    assert_true(router_now(r) == 0);
    a = add_route(r, "a", 1);
    b = add_route(r, "b", 2);
    FO_PROBE_OPTIONS_INIT(&po);
    po.flags = FO_PROBE_NO_JITTER;
    po.destroy = destroy_count;
    assert_int_equal(fo_set_probe(r, b, noop_probe, &destroyed, &po), FO_OK);
    assert_int_equal(fo_router_next_deadline(r, &due), FO_OK);
    assert_true(due == 0);
    assert_int_equal(fo_router_tick(r), FO_OK);
    assert_int_equal(fo_route_get_stats(r, b, &st), FO_OK);
    assert_true(st.probes_sent == 1);
    assert_int_equal(fo_router_next_deadline(r, &due), FO_OK);
    assert_true(due == FO_DEFAULT_PROBE_TIMEOUT_NS);
    report_n(r, a, FO_RESULT_TIMEOUT, 3);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_int_equal(st.state, FO_STATE_EJECTED);
    assert_true(st.until_ns == FO_DEFAULT_HOLD_DOWN_NS);
    assert_true(st.now_ns == 0 && st.time_in_state_ns == 0);
    assert_true(pick(r, NULL) == b);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(fo_router_tick(r), FO_OK);
        assert_int_equal(route_state(r, a), FO_STATE_EJECTED);
    }
    assert_int_equal(fo_router_next_timeout_ms(r, &ms), FO_OK);
    assert_int_equal(ms, 2000); /* the probe's timeout, 2 s away */
    assert_usable(r);
    /* Time moves: the probe times out, the hold-down ends. */
    f->clock.now = FO_DEFAULT_HOLD_DOWN_NS;
    assert_int_equal(fo_router_tick(r), FO_OK);
    assert_int_equal(fo_route_get_stats(r, b, &st), FO_OK);
    assert_true(st.probes_timed_out == 1);
    assert_int_equal(route_state(r, a), FO_STATE_TRIAL);
    assert_int_equal(destroyed, 0);
    fixture_close(f);
    assert_int_equal(destroyed, 1);
    fixture_open(f);
}

/* ---- 7. values at the end of the 64-bit range
 * ---------------------------------- */

static void assert_sane(fo_router *r, fo_route_id id)
{
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    uint64_t due;
    int ms;

    assert_int_equal(fo_route_get_stats(r, id, &st), FO_OK);
    assert_true(st.state_since_ns <= st.now_ns);
    assert_true(st.time_in_state_ns == st.now_ns - st.state_since_ns);
    assert_true(st.until_ns == 0 || st.until_ns >= st.now_ns ||
                st.state != FO_STATE_EJECTED);
    assert_true(st.window_failure_rate >= 0.0 && st.window_failure_rate <= 1.0);
    assert_true(st.window_slow_rate >= 0.0 && st.window_slow_rate <= 1.0);
    assert_true(st.window_faults <= st.window_attempts);
    assert_true(st.window_slow <= st.window_timed);
    assert_int_equal(fo_router_next_deadline(r, &due), FO_OK);
    assert_int_equal(fo_router_next_timeout_ms(r, &ms), FO_OK);
    assert_true(ms >= -1);
    assert_true((ms == -1) == (due == UINT64_MAX));
}

static void test_huge_retry_after_and_latency(void **state)
{
    struct fixture *f = *state;
    fo_router *r;
    fo_route_id a, b;
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    uint64_t t0, due;
    int ms;

    f->opts.slow_call_ns = 3600 * SEC;
    f->opts.window_min_volume = 5;
    f->opts.consecutive_faults = FO_MAX_CONSECUTIVE_FAULTS;
    fixture_reopen(f);
    r = f->router;
    a = add_route(r, "a", 1);
    b = add_route(r, "b", 1);
    t0 = router_now(r);
    /* Retry-After of UINT64_MAX: held at most retry_after_max_ns. */
    report_ex(r, a, FO_RESULT_REJECTED, 0, UINT64_MAX);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_int_equal(st.state, FO_STATE_EJECTED);
    assert_true(st.hold_down_ns == FO_DEFAULT_RETRY_AFTER_MAX_NS);
    assert_true(st.until_ns == t0 + FO_DEFAULT_RETRY_AFTER_MAX_NS);
    assert_int_equal(fo_router_next_deadline(r, &due), FO_OK);
    assert_true(due == st.until_ns);
    assert_int_equal(fo_router_next_timeout_ms(r, &ms), FO_OK);
    assert_int_equal(ms, (int)(FO_DEFAULT_RETRY_AFTER_MAX_NS / MSEC));
    /* Again while out, 100 s later: lengthened to the cap from now, no
     * more. */
    advance(f, 100 * SEC);
    report_ex(r, a, FO_RESULT_REJECTED, UINT64_MAX, UINT64_MAX);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.until_ns == t0 + 100 * SEC + FO_DEFAULT_RETRY_AFTER_MAX_NS);
    assert_true(st.hold_down_ns == FO_DEFAULT_RETRY_AFTER_MAX_NS + 100 * SEC);
    assert_sane(r, a);
    /* Latencies of UINT64_MAX are slow calls, counted once each. */
    for (int i = 0; i < 4; i++)
        report_ex(r, b, FO_RESULT_SUCCESS, UINT64_MAX, 0);
    assert_int_equal(fo_route_get_stats(r, b, &st), FO_OK);
    assert_true(st.window_timed == 4 && st.window_slow == 4);
    assert_true(st.window_slow_rate > 0.999);
    assert_sane(r, b);
    report_ex(r, b, FO_RESULT_SUCCESS, UINT64_MAX, 0);
    assert_int_equal(fo_route_get_stats(r, b, &st), FO_OK);
    assert_int_equal(st.state, FO_STATE_EJECTED); /* slow-call rate 100 % */
    assert_int_equal(st.reason, FO_REASON_SLOW_CALLS);
    assert_sane(r, b);
    /* Retry-After on a success means nothing. */
    f->clock.now = st.until_ns;
    assert_int_equal(route_state(r, b), FO_STATE_TRIAL);
    report_ex(r, b, FO_RESULT_SUCCESS, 0, UINT64_MAX);
    assert_int_equal(route_state(r, b), FO_STATE_TRIAL);
    assert_usable(r);
}

/* The longest settings everywhere at once, with hold-down jitter: no
 * product or sum wraps. */
static void test_longest_settings(void **state)
{
    struct fixture *f = *state;
    fo_router *r;
    fo_route_id a;
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    uint64_t prev_hold = 0;

    f->opts.hold_down_ns = FO_MAX_HOLD_DOWN_NS;
    f->opts.hold_down_max_ns = FO_MAX_HOLD_DOWN_NS;
    f->opts.hold_down_multiplier_pct = 1000;
    f->opts.hold_down_jitter_pct = 100;
    f->opts.retry_after_max_ns = FO_MAX_HOLD_DOWN_NS;
    f->opts.trial_timeout_ns = DAY;
    f->opts.seed = 99;
    f->opts.detectors_off = FO_DETECTOR_DAMPING; /* else suppressed */
    fixture_reopen(f);
    r = f->router;
    a = add_route(r, "a", 1);
    for (int i = 0; i < 70; i++) {
        uint64_t now = router_now(r);

        report_ex(r, a, FO_RESULT_REJECTED, UINT64_MAX, UINT64_MAX);
        assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
        assert_int_equal(st.state, FO_STATE_EJECTED);
        assert_true(st.hold_down_ns >= FO_MAX_HOLD_DOWN_NS);
        assert_true(st.hold_down_ns <= 2 * FO_MAX_HOLD_DOWN_NS);
        assert_true(st.until_ns == now + st.hold_down_ns);
        assert_sane(r, a);
        prev_hold = st.hold_down_ns;
        f->clock.now += st.hold_down_ns; /* at most 14 days: one step */
        assert_int_equal(route_state(r, a), FO_STATE_TRIAL);
    }
    assert_true(prev_hold != 0);
    assert_usable(r);
}

/* A router whose time starts a few seconds before the end of the range:
 * hold-downs, drills, probes and windows saturate at UINT64_MAX. */
static void test_time_near_the_end_of_the_range(void **state)
{
    struct fixture *f = *state;
    fo_router *r;
    fo_route_id a, b, c;
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    fo_probe_options po;
    static fo_probe_token token;
    uint64_t due, start;

    fixture_close(f);
    f->clock.now = start = UINT64_MAX - 10 * SEC;
    f->opts.slow_start_ns = 3600 * SEC;
    fixture_open(f);
    r = f->router;
    a = add_route(r, "a", 1);
    b = add_route(r, "b", 1);
    c = add_route(r, "c", 1);
    report_ex(r, a, FO_RESULT_REJECTED, 0, UINT64_MAX);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    /* Held to the end of the range, not wrapped to the past; the
     * snapshot shows UINT64_MAX as no set end (0). */
    assert_int_equal(st.state, FO_STATE_EJECTED);
    assert_true(st.hold_down_ns == FO_DEFAULT_RETRY_AFTER_MAX_NS);
    assert_true(fo__route_get(r, a)->health.hold_down_until_ns == UINT64_MAX);
    assert_true(st.until_ns == 0);
    assert_sane(r, a);
    assert_int_equal(fo_route_drill(r, b, DAY), FO_OK);
    assert_int_equal(fo_route_get_stats(r, b, &st), FO_OK);
    assert_int_equal(st.state, FO_STATE_DRILL);
    assert_true(fo__route_get(r, b)->health.drill_until_ns == UINT64_MAX);
    assert_true(st.until_ns == 0);
    assert_sane(r, b);
    FO_PROBE_OPTIONS_INIT(&po);
    po.flags = FO_PROBE_NO_JITTER;
    po.interval_ns = DAY;
    po.timeout_ns = 3600 * SEC;
    assert_int_equal(fo_set_probe(r, c, noop_probe, NULL, &po), FO_OK);
    assert_int_equal(fo_router_tick(r), FO_OK);
    token = fo__route_get(r, c)->probe->token;
    assert_true(token != 0);
    assert_int_equal(fo_router_next_deadline(r, &due), FO_OK);
    assert_true(due >= start);
    assert_int_equal(fo_probe_done(r, token, FO_RESULT_SUCCESS), FO_OK);
    assert_sane(r, c);
    /* Reports in the window's last bucket. */
    report_n(r, c, FO_RESULT_SUCCESS, 10);
    advance(f, 5 * SEC);
    report_n(r, c, FO_RESULT_SUCCESS, 10);
    assert_int_equal(fo_route_get_stats(r, c, &st), FO_OK);
    assert_true(st.window_attempts == 20);
    assert_sane(r, c);
    /* The end itself: everything due by then is done, nothing wraps. */
    f->clock.now = UINT64_MAX;
    assert_int_equal(fo_router_tick(r), FO_OK);
    assert_true(router_now(r) == UINT64_MAX);
    assert_int_equal(route_state(r, a), FO_STATE_TRIAL);
    assert_int_equal(route_state(r, b), FO_STATE_UP);
    assert_sane(r, a);
    assert_sane(r, b);
    assert_sane(r, c);
    assert_usable(r);
}

/* Probe tokens keep 40 bits of the probe sequence: across that boundary
 * they keep working and are never 0. */
static void test_probe_tokens_across_40_bits(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    fo_route_id a = add_route(r, "a", 1);
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    fo_probe_options po;
    fo_probe_token prev = 0;

    /* The sequence just before a multiple of 2^40 (before the route's
     * probe counters start, as in a router that has probed that much). */
    atomic_store(&r->probe_seq,
                 ((atomic_load(&r->probe_seq) >> 40) + 1) * (1ull << 40) - 3);
    FO_PROBE_OPTIONS_INIT(&po);
    po.flags = FO_PROBE_NO_JITTER;
    assert_int_equal(fo_set_probe(r, a, noop_probe, NULL, &po), FO_OK);
    for (int i = 0; i < 8; i++) {
        fo_probe_token t;

        f->clock.now += FO_DEFAULT_PROBE_INTERVAL_NS;
        assert_int_equal(fo_router_tick(r), FO_OK);
        t = fo__route_get(r, a)->probe->token;
        assert_true(t != 0 && t != prev);
        assert_int_equal(fo_probe_done(r, t, FO_RESULT_SUCCESS), FO_OK);
        assert_int_equal(fo_probe_done(r, t, FO_RESULT_SUCCESS), FO_EALREADY);
        if (prev != 0)
            assert_int_equal(fo_probe_done(r, prev, FO_RESULT_SUCCESS),
                             FO_EALREADY);
        prev = t;
    }
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.probes_sent == 8 && st.probes_answered == 8);
    assert_usable(r);
}

/* ---- 8. callbacks that call every function back
 * --------------------------------- */

struct sweep {
    fo_router *r;
    fo_route_id stable; /* a route that stays */
    fo_event_cb ev_cb;  /* what the callbacks are: set again from inside */
    void *ev_ud;
    fo_log_cb log_cb;
    void *log_ud;
    fo_log_level log_level;
    FILE *sink;
    bool busy;    /* every call must be refused with FO_EBUSY */
    bool armed;   /* clock and allocator: sweep once when armed */
    int max_runs; /* sweeps to do, then plain callbacks */
    int runs;
    int calls;   /* calls checked */
    int invoked; /* callback invocations */
};

static unsigned sweep_serial;

#define SW(expr, want)                                                         \
    do {                                                                       \
        long long rc_ = (long long)(expr);                                     \
        s->calls++;                                                            \
        TCHECK_V(rc_ == (busy ? (long long)FO_EBUSY : (long long)(want)),      \
                 rc_);                                                         \
    } while (0)

/* Calls every function that takes the router, with valid arguments.
 * Inside an event, log, probe or destroy callback each must work, except
 * fo_router_free(), fo_router_tick() and starting or stopping the thread
 * (FO_EBUSY); inside the clock, the allocator, or while the router is
 * being freed, each must return FO_EBUSY and do nothing. */
static void sweep(struct sweep *s)
{
    fo_router *r = s->r;
    bool busy = s->busy;
    char name[40], pname[40], buf[FO_REASON_TEXT_MAX];
    fo_route_id tmp = FO_ROUTE_ID_NONE, found = 0, picked = 0;
    fo_plan_id plan = FO_PLAN_ID_NONE, pfound = 0;
    fo_route_state st;
    fo_reason reason;
    fo_result res;
    fo_result_class cls;
    fo_route_stats rs = FO_ROUTE_STATS_INIT;
    fo_router_stats gs = FO_ROUTER_STATS_INIT;
    fo_attempt att;
    fo_pick pk = FO_PICK_INIT;
    fo_report rep = FO_REPORT_INIT(FO_RESULT_SUCCESS);
    uint64_t t;
    int ms;
    int64_t len;
    unsigned n = sweep_serial++;

    s->runs++;
    snprintf(name, sizeof name, "reentrant-%u", n);
    snprintf(pname, sizeof pname, "reentrant-plan-%u", n);
    SW(fo_router_now(r, &t), FO_OK);
    SW(fo_route_add(r, name, 9, 1, 0, &tmp), FO_OK);
    if (busy)
        tmp = s->stable; /* the calls below are refused before any lookup */
    SW(fo_route_lookup(r, name, &found), FO_OK);
    TCHECK(busy || found == tmp);
    SW(fo_route_update(r, tmp, 9, 2, 3), FO_OK);
    SW(fo_route_get_name(r, tmp, buf, sizeof buf), FO_OK);
    SW(fo_route_get_state(r, tmp, &st), FO_OK);
    SW(fo_route_get_reason(r, tmp, &reason, buf, sizeof buf), FO_OK);
    SW(fo_route_set_admin(r, tmp, FO_ADMIN_DRAINING), FO_OK);
    SW(fo_route_set_admin(r, tmp, FO_ADMIN_ENABLED), FO_OK);
    SW(fo_route_drill(r, tmp, SEC), FO_OK);
    SW(fo_route_drill(r, tmp, 0), FO_OK);
    SW(fo_route_signal(r, tmp, FO_SIGNAL_KEEPALIVE_RESTORED), FO_OK);
    SW(fo_route_get_stats(r, tmp, &rs), FO_OK);
    SW(fo_router_get_stats(r, &gs), FO_OK);
    SW(fo_set_probe(r, tmp, noop_probe, NULL, NULL), FO_OK);
    SW(fo_set_probe(r, tmp, NULL, NULL, NULL), FO_OK);
    SW(fo_plan_new(r, pname, FO_POLICY_PRIORITY, &plan), FO_OK);
    SW(fo_plan_lookup(r, pname, &pfound), FO_OK);
    TCHECK(busy || pfound == plan);
    SW(fo_plan_set_route(r, plan, tmp, 1, 1, 0), FO_OK);
    SW(fo_plan_set_policy(r, plan, FO_POLICY_LEAST_COST), FO_OK);
    TCHECK(fo_attempt_init_plan(&att, plan) == FO_OK);
    SW(fo_pick_route(r, &att, &picked), FO_OK);
    TCHECK(busy || picked == tmp);
    SW(fo_report_result(r, busy ? s->stable : picked, FO_RESULT_SUCCESS, &att),
       FO_OK);
    SW(fo_plan_unset_route(r, plan, tmp), FO_OK);
    SW(fo_plan_free(r, plan), FO_OK);
    SW(fo_pick_route_ex(r, NULL, &pk), FO_OK);
    SW(fo_report_result_ex(r, tmp, &rep, NULL), FO_OK);
    SW(fo_router_set_result_class(r, FO_RESULT_DECLINED, FO_CLASS_CALLEE),
       FO_OK);
    SW(fo_router_get_result_class(r, FO_RESULT_DECLINED, &cls), FO_OK);
    SW(fo_router_set_sip_result(r, 404, (fo_result)0), FO_OK);
    SW(fo_router_result_from_sip(r, 486, 0, &res), FO_OK);
    SW(fo_router_set_panic(r, FO_PANIC_BEST_EFFORT), FO_OK);
    SW(fo_router_next_deadline(r, &t), FO_OK);
    SW(fo_router_next_timeout_ms(r, &ms), FO_OK);
    SW(fo_router_dump(r, s->sink), FO_OK);
    len = fo_router_write_metrics(r, NULL, 0);
    s->calls++;
    TCHECK_V(busy ? len == FO_EBUSY : len > 0, len);
    SW(fo_probe_done(r, 0, FO_RESULT_SUCCESS), FO_ENOENT);
    SW(fo_router_set_event_cb(r, s->ev_cb, s->ev_ud), FO_OK);
    SW(fo_router_set_log_cb(r, s->log_level, s->log_cb, s->log_ud), FO_OK);
    SW(fo_route_remove(r, tmp), FO_OK);
    /* Never from inside a callback of this router. */
    SW(fo_router_tick(r), FO_EBUSY);
    SW(fo_router_start_thread(r), FO_EBUSY);
    SW(fo_router_stop_thread(r), FO_EBUSY);
    SW(fo_router_free(r), FO_EBUSY);
}

static void sweeping_event(fo_router *router, const fo_event *event,
                           void *userdata)
{
    struct sweep *s = userdata;

    (void)event;
    TCHECK(router == s->r);
    s->invoked++;
    if (s->runs < s->max_runs)
        sweep(s);
}

static void sweeping_log(fo_router *router, fo_log_level level,
                         const char *message, const fo_event *event,
                         void *userdata)
{
    struct sweep *s = userdata;

    (void)level;
    TCHECK(router == s->r && message != NULL && event != NULL);
    s->invoked++;
    if (s->runs < s->max_runs)
        sweep(s);
}

static void sweeping_probe(fo_router *router, fo_route_id route,
                           fo_probe_token token, void *userdata)
{
    struct sweep *s = userdata;

    TCHECK(router == s->r && route == s->stable);
    s->invoked++;
    if (s->runs < s->max_runs)
        sweep(s);
    /* Completing its own probe at once works from inside, after all that. */
    TCHECK_V(fo_probe_done(router, token, FO_RESULT_SUCCESS) == FO_OK, token);
}

static void sweeping_destroy(void *userdata)
{
    struct sweep *s = userdata;

    s->invoked++;
    if (s->runs < s->max_runs)
        sweep(s);
}

static void sweep_init(struct sweep *s, fo_router *r, fo_route_id stable)
{
    memset(s, 0, sizeof *s);
    s->r = r;
    s->stable = stable;
    s->max_runs = 3;
    s->sink = fopen("/dev/null", "w");
    assert_non_null(s->sink);
}

static void test_reenter_from_event_callback(void **state)
{
    struct fixture *f = *state;
    static struct sweep s;
    fo_route_id a = add_route(f->router, "stable", 1);
    fo_router_stats gs = FO_ROUTER_STATS_INIT;

    sweep_init(&s, f->router, a);
    s.ev_cb = sweeping_event;
    s.ev_ud = &s;
    assert_int_equal(fo_router_set_event_cb(f->router, sweeping_event, &s),
                     FO_OK);
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_DRAINING),
                     FO_OK);
    assert_no_callback_failure();
    assert_int_equal(s.runs, s.max_runs);
    assert_true(s.invoked > s.max_runs); /* the sweeps' own events came */
    assert_true(s.calls > 40 * s.max_runs);
    assert_int_equal(fo_router_get_stats(f->router, &gs), FO_OK);
    assert_int_equal(gs.routes, 1); /* every temporary route went again */
    assert_int_equal(gs.plans, 0);
    assert_int_equal(fo_route_set_admin(f->router, a, FO_ADMIN_ENABLED), FO_OK);
    fclose(s.sink);
    assert_usable(f->router);
}

static void test_reenter_from_log_callback(void **state)
{
    struct fixture *f = *state;
    static struct sweep s;
    fo_route_id a = add_route(f->router, "stable", 1);
    fo_router_stats gs = FO_ROUTER_STATS_INIT;

    sweep_init(&s, f->router, a);
    s.log_cb = sweeping_log;
    s.log_ud = &s;
    s.log_level = FO_LOG_DEBUG;
    assert_int_equal(
        fo_router_set_log_cb(f->router, FO_LOG_DEBUG, sweeping_log, &s), FO_OK);
    report_n(f->router, a, FO_RESULT_TIMEOUT, 3);
    assert_no_callback_failure();
    assert_int_equal(s.runs, s.max_runs);
    assert_int_equal(fo_router_get_stats(f->router, &gs), FO_OK);
    assert_int_equal(gs.routes, 1);
    assert_int_equal(gs.plans, 0);
    fclose(s.sink);
    assert_usable(f->router);
}

static void test_reenter_from_probe_and_destroy_callbacks(void **state)
{
    struct fixture *f = *state;
    static struct sweep s, d;
    fo_route_id a = add_route(f->router, "stable", 1);
    fo_route_id gone = add_route(f->router, "gone", 1);
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    fo_probe_options po;

    sweep_init(&s, f->router, a);
    sweep_init(&d, f->router, a);
    FO_PROBE_OPTIONS_INIT(&po);
    po.flags = FO_PROBE_NO_JITTER;
    po.destroy = sweeping_destroy;
    assert_int_equal(fo_set_probe(f->router, a, sweeping_probe, &s, &po),
                     FO_OK);
    assert_int_equal(fo_router_tick(f->router), FO_OK);
    assert_no_callback_failure();
    assert_int_equal(s.invoked, 1);
    assert_int_equal(s.runs, 1);
    assert_int_equal(fo_route_get_stats(f->router, a, &st), FO_OK);
    assert_true(st.probes_sent == 1 && st.probes_answered == 1);
    /* The destroy callbacks: replaced, and with its route removed. */
    d.max_runs = 2;
    assert_int_equal(fo_set_probe(f->router, a, noop_probe, &d, &po), FO_OK);
    assert_int_equal(s.invoked, 2); /* s's registration ended: destroyed */
    assert_int_equal(s.runs, 2);
    assert_int_equal(fo_set_probe(f->router, gone, noop_probe, &d, &po), FO_OK);
    assert_int_equal(fo_route_remove(f->router, gone), FO_OK);
    assert_int_equal(d.invoked, 1);
    assert_int_equal(d.runs, 1);
    assert_int_equal(fo_set_probe(f->router, a, NULL, NULL, NULL), FO_OK);
    assert_int_equal(d.invoked, 2);
    assert_int_equal(d.runs, 2);
    assert_no_callback_failure();
    assert_int_equal(route_state(f->router, a), FO_STATE_UP);
    fclose(s.sink);
    fclose(d.sink);
    assert_usable(f->router);
}

/* While the router is freed, a destroy callback that calls in is refused
 * everything. */
static void test_reenter_while_freeing(void **state)
{
    struct fixture *f = *state;
    static struct sweep s;
    fo_route_id a = add_route(f->router, "stable", 1);
    fo_probe_options po;

    sweep_init(&s, f->router, a);
    s.busy = true;
    FO_PROBE_OPTIONS_INIT(&po);
    po.destroy = sweeping_destroy;
    assert_int_equal(fo_set_probe(f->router, a, noop_probe, &s, &po), FO_OK);
    assert_int_equal(fo_router_tick(f->router), FO_OK); /* one in flight */
    fixture_close(f);
    assert_no_callback_failure();
    assert_int_equal(s.invoked, 1);
    assert_int_equal(s.runs, 1);
    fclose(s.sink);
    fixture_open(f);
}

static struct sweep clock_sweep;

static uint64_t sweeping_clock(void *userdata)
{
    struct manual_clock *c = userdata;

    if (clock_sweep.armed) {
        clock_sweep.armed = false;
        clock_sweep.invoked++;
        sweep(&clock_sweep);
    }
    return c->now;
}

static struct sweep alloc_sweep;

static void *sweeping_alloc(size_t size, void *userdata)
{
    if (alloc_sweep.armed) {
        alloc_sweep.armed = false;
        alloc_sweep.invoked++;
        sweep(&alloc_sweep);
    }
    return test_alloc_cb(size, userdata);
}

static void test_reenter_from_clock_and_allocator(void **state)
{
    struct fixture *f = *state;
    fo_route_id a, id;
    uint64_t before, after, t;
    char name[32];

    f->clock_table.now_ns = sweeping_clock;
    f->alloc_table.alloc = sweeping_alloc;
    fixture_reopen(f);
    a = add_route(f->router, "stable", 1);
    sweep_init(&clock_sweep, f->router, a);
    clock_sweep.busy = true;
    sweep_init(&alloc_sweep, f->router, a);
    alloc_sweep.busy = true;
    before = fo__router_digest(f->router);
    clock_sweep.armed = true;
    assert_int_equal(fo_router_now(f->router, &t), FO_OK);
    assert_int_equal(clock_sweep.runs, 1);
    assert_no_callback_failure();
    after = fo__router_digest(f->router);
    assert_true(before == after);
    /* The allocator runs under the router's lock: calls into the router
     * from it must be refused without waiting for that lock. */
    alloc_sweep.armed = true;
    for (int i = 0; i < 1000 && alloc_sweep.armed; i++) {
        snprintf(name, sizeof name, "grows-%d", i);
        assert_int_equal(fo_route_add(f->router, name, 1, 1, 0, &id), FO_OK);
    }
    assert_int_equal(alloc_sweep.runs, 1);
    assert_no_callback_failure();
    assert_true(alloc_sweep.calls > 40 && clock_sweep.calls > 40);
    assert_int_equal(fo_route_lookup(f->router, "reentrant-0", &id), FO_ENOENT);
    fclose(clock_sweep.sink);
    fclose(alloc_sweep.sink);
    assert_usable(f->router);
    f->clock_table.now_ns = manual_clock_now;
    f->alloc_table.alloc = test_alloc_cb;
    fixture_reopen(f);
}

/* ---- 9. a probe that never completes
 * --------------------------------------------- */

struct silent {
    int calls;
    fo_probe_token token[64];
};

static void silent_probe(fo_router *router, fo_route_id route,
                         fo_probe_token token, void *userdata)
{
    struct silent *s = userdata;

    (void)router;
    (void)route;
    if (s->calls < (int)NELEM(s->token))
        s->token[s->calls] = token;
    s->calls++;
}

static void test_probe_that_never_completes(void **state)
{
    struct fixture *f = *state;
    fo_router *r = f->router;
    static struct silent s;
    fo_route_id a = add_route(r, "a", 1);
    fo_route_stats st = FO_ROUTE_STATS_INIT;
    fo_router_stats before, after;
    fo_probe_options po;
    uint64_t t0 = f->clock.now, due;

    memset(&s, 0, sizeof s);
    FO_PROBE_OPTIONS_INIT(&po);
    po.flags = FO_PROBE_NO_JITTER;
    po.fall = 100; /* timeouts do not take it out: only count them */
    assert_int_equal(fo_set_probe(r, a, silent_probe, &s, &po), FO_OK);
    assert_int_equal(fo_router_tick(r), FO_OK);
    assert_int_equal(s.calls, 1);
    /* Nothing more before the timeout; the deadline is the timeout. */
    assert_int_equal(fo_router_next_deadline(r, &due), FO_OK);
    assert_true(due == t0 + FO_DEFAULT_PROBE_TIMEOUT_NS);
    f->clock.now = due - 1;
    assert_int_equal(fo_router_tick(r), FO_OK);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.probes_timed_out == 0);
    f->clock.now = due;
    assert_int_equal(fo_router_tick(r), FO_OK);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.probes_sent == 1 && st.probes_timed_out == 1);
    assert_int_equal(s.calls, 1);
    /* The next probe runs on schedule, and it never answers either. */
    f->clock.now = t0 + FO_DEFAULT_PROBE_INTERVAL_NS;
    assert_int_equal(fo_router_tick(r), FO_OK);
    assert_int_equal(s.calls, 2);
    /* The first one's answer comes now, late, while the second is in
     * flight: refused, counted late, and the second is unaffected. */
    totals(r, &before);
    assert_int_equal(fo_probe_done(r, s.token[0], FO_RESULT_SUCCESS),
                     FO_EALREADY);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.probes_late == 1 && st.probes_answered == 0);
    /* The same late answer again: refused, not counted late twice. */
    assert_int_equal(fo_probe_done(r, s.token[0], FO_RESULT_SUCCESS),
                     FO_EALREADY);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.probes_late == 1);
    totals(r, &after);
    assert_true(after.probe_strays == before.probe_strays + 1);
    assert_int_equal(fo_probe_done(r, s.token[1], FO_RESULT_BUSY), FO_OK);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.probes_answered == 1 && st.probes_timed_out == 1);
    /* Ten more that never answer: all timed out, on schedule. */
    for (int i = 0; i < 10; i++) {
        f->clock.now += FO_DEFAULT_PROBE_INTERVAL_NS;
        assert_int_equal(fo_router_tick(r), FO_OK);
    }
    f->clock.now += FO_DEFAULT_PROBE_TIMEOUT_NS;
    assert_int_equal(fo_router_tick(r), FO_OK);
    assert_int_equal(s.calls, 12);
    assert_int_equal(fo_route_get_stats(r, a, &st), FO_OK);
    assert_true(st.probes_sent == 12 && st.probes_timed_out == 11);
    assert_true(st.probes_sent ==
                st.probes_answered + st.probes_failed + st.probes_timed_out);
    assert_int_equal(st.state, FO_STATE_UP);
    assert_usable(r);
}

/* ---- 10. freeing a router that is busy
 * -------------------------------------------- */

static uint64_t atomic_clock_now(void *userdata)
{
    return atomic_load((_Atomic uint64_t *)userdata);
}

struct inflight {
    _Atomic int started;
    _Atomic int destroyed;
    _Atomic int in_callback;   /* inside the callback now */
    _Atomic int returned;      /* callbacks returned */
    _Atomic int destroy_early; /* destroyed while a callback ran */
    _Atomic fo_probe_token token;
    int block_ms; /* the callback sleeps this long */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void inflight_probe(fo_router *router, fo_route_id route,
                           fo_probe_token token, void *userdata)
{
    struct inflight *p = userdata;

    (void)router;
    (void)route;
    atomic_store(&p->in_callback, 1);
    atomic_store(&p->token, token);
    atomic_fetch_add(&p->started, 1);
    if (p->block_ms > 0)
        sleep_ms(p->block_ms);
    atomic_store(&p->in_callback, 0);
    atomic_fetch_add(&p->returned, 1);
}

static void inflight_destroy(void *userdata)
{
    struct inflight *p = userdata;

    if (atomic_load(&p->in_callback))
        atomic_fetch_add(&p->destroy_early, 1);
    atomic_fetch_add(&p->destroyed, 1);
}

static bool wait_for(_Atomic int *value, int want)
{
    for (int i = 0; i < 10000; i++) {
        if (atomic_load(value) >= want)
            return true;
        sleep_ms(1);
    }
    return false;
}

struct completer {
    fo_router *r;
    struct inflight *p;
    int n;
    _Atomic int ok;
};

static void *complete_half(void *arg)
{
    struct completer *c = arg;

    for (int i = 0; i < c->n; i += 2) {
        int rc =
            fo_probe_done(c->r, atomic_load(&c->p[i].token), FO_RESULT_SUCCESS);

        TCHECK_V(rc == FO_OK || rc == FO_EALREADY, rc);
        if (rc == FO_OK)
            atomic_fetch_add(&c->ok, 1);
    }
    return NULL;
}

static void test_free_with_probes_in_flight_and_thread(void **state)
{
    enum { N = 40 };
    static struct inflight p[N];
    static _Atomic uint64_t now;
    struct test_alloc ta = {0, 0, -1};
    fo_allocator al = FO_ALLOCATOR_INIT(test_alloc_cb, test_free_cb, &ta);
    fo_clock cl = FO_CLOCK_INIT(atomic_clock_now, (void *)&now);
    fo_router_options o;
    fo_probe_options po;
    fo_router_stats gs = FO_ROUTER_STATS_INIT;
    struct completer c;
    pthread_t t;
    fo_router *r;

    (void)state;
    atomic_store(&cb_failure_line, 0);
    memset(p, 0, sizeof p);
    atomic_store(&now, 1000 * SEC);
    FO_ROUTER_OPTIONS_INIT(&o);
    o.allocator = &al;
    o.clock = &cl;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    FO_PROBE_OPTIONS_INIT(&po);
    po.flags = FO_PROBE_NO_JITTER;
    po.destroy = inflight_destroy;
    po.timeout_ns = 3600 * SEC; /* never times out here */
    for (int i = 0; i < N; i++) {
        char name[16];
        fo_route_id id;

        snprintf(name, sizeof name, "r%d", i);
        assert_int_equal(fo_route_add(r, name, 1, 1, 0, &id), FO_OK);
        assert_int_equal(fo_set_probe(r, id, inflight_probe, &p[i], &po),
                         FO_OK);
    }
    assert_int_equal(fo_router_start_thread(r), FO_OK);
    assert_int_equal(fo_router_start_thread(r), FO_EBUSY);
    for (int i = 0; i < N; i++)
        assert_true(wait_for(&p[i].returned, 1));
    assert_int_equal(fo_router_get_stats(r, &gs), FO_OK);
    assert_true(gs.flags & FO_ROUTER_STATS_THREAD);
    /* Half complete from another thread while the router's thread runs. */
    memset(&c, 0, sizeof c);
    c.r = r;
    c.p = p;
    c.n = N;
    assert_int_equal(pthread_create(&t, NULL, complete_half, &c), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(atomic_load(&c.ok), N / 2);
    /* Freed with the other half in flight and the thread running. */
    assert_int_equal(fo_router_free(r), FO_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&p[i].destroyed), 1);
        assert_int_equal(atomic_load(&p[i].started), 1);
        assert_int_equal(atomic_load(&p[i].destroy_early), 0);
    }
    assert_int_equal(ta.live, 0);
    assert_no_callback_failure();
}

/* Freed while the router's thread is inside a probe callback: the free
 * waits for it to return, then releases it exactly once. */
static void test_free_while_a_callback_runs(void **state)
{
    static struct inflight p;
    static _Atomic uint64_t now;
    struct test_alloc ta = {0, 0, -1};
    fo_allocator al = FO_ALLOCATOR_INIT(test_alloc_cb, test_free_cb, &ta);
    fo_clock cl = FO_CLOCK_INIT(atomic_clock_now, (void *)&now);
    fo_router_options o;
    fo_probe_options po;
    fo_router *r;
    fo_route_id id;

    (void)state;
    memset(&p, 0, sizeof p);
    p.block_ms = 200;
    atomic_store(&now, 5 * SEC);
    FO_ROUTER_OPTIONS_INIT(&o);
    o.allocator = &al;
    o.clock = &cl;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    assert_int_equal(fo_route_add(r, "slow", 1, 1, 0, &id), FO_OK);
    FO_PROBE_OPTIONS_INIT(&po);
    po.flags = FO_PROBE_NO_JITTER;
    po.destroy = inflight_destroy;
    assert_int_equal(fo_set_probe(r, id, inflight_probe, &p, &po), FO_OK);
    assert_int_equal(fo_router_start_thread(r), FO_OK);
    assert_true(wait_for(&p.in_callback, 1));
    assert_int_equal(fo_router_free(r), FO_OK);
    assert_int_equal(atomic_load(&p.returned), 1);
    assert_int_equal(atomic_load(&p.destroyed), 1);
    assert_int_equal(atomic_load(&p.destroy_early), 0);
    assert_int_equal(ta.live, 0);

    /* The same while the callback replaces its own probe: the old one is
     * destroyed once, after it returns; the new one once, by the free. */
    memset(&p, 0, sizeof p);
    p.block_ms = 200;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    assert_int_equal(fo_route_add(r, "slow", 1, 1, 0, &id), FO_OK);
    assert_int_equal(fo_set_probe(r, id, inflight_probe, &p, &po), FO_OK);
    assert_int_equal(fo_router_start_thread(r), FO_OK);
    assert_true(wait_for(&p.started, 1));
    assert_int_equal(fo_set_probe(r, id, inflight_probe, &p, &po), FO_OK);
    assert_true(wait_for(&p.destroyed, 1));
    assert_int_equal(fo_router_stop_thread(r), FO_OK);
    assert_int_equal(fo_router_stop_thread(r), FO_OK);
    assert_int_equal(fo_router_free(r), FO_OK);
    assert_int_equal(atomic_load(&p.destroyed), 2);
    assert_int_equal(atomic_load(&p.destroy_early), 0);
    assert_int_equal(ta.live, 0);
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, hostile_setup, hostile_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_router_everywhere),
        T(test_null_out_pointers_everywhere),
        T(test_stale_ids_after_slot_reuse),
        T(test_attempt_with_a_removed_route),
        T(test_stale_plan_ids),
        cmocka_unit_test(test_router_options_sizes),
        cmocka_unit_test(test_clock_and_allocator_table_sizes),
        cmocka_unit_test(test_inconsistent_options),
        T(test_bad_updates_leave_router_unchanged),
        T(test_call_struct_sizes),
        T(test_names_at_and_past_the_limit),
        T(test_metrics_into_tight_buffers),
        T(test_hundred_thousand_routes),
        T(test_hostile_clock_sequence),
        T(test_forward_jumps_and_hold_downs),
        T(test_clock_stuck_at_zero),
        T(test_huge_retry_after_and_latency),
        T(test_longest_settings),
        T(test_time_near_the_end_of_the_range),
        T(test_probe_tokens_across_40_bits),
        T(test_reenter_from_event_callback),
        T(test_reenter_from_log_callback),
        T(test_reenter_from_probe_and_destroy_callbacks),
        T(test_reenter_while_freeing),
        T(test_reenter_from_clock_and_allocator),
        T(test_probe_that_never_completes),
        cmocka_unit_test(test_free_with_probes_in_flight_and_thread),
        cmocka_unit_test(test_free_while_a_callback_runs),
    };
    return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
