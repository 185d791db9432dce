/*
 * Many threads on one router: pickers/reporters with attempts, a thread
 * that adds and removes routes, and a reader. Bounded by iteration
 * counts, not time. At the end: every counter equals what the threads
 * reported, no removed route was picked after its removal returned, and
 * every state seen was a legal one. Run under ThreadSanitizer in CI.
 */
#include "internal-helpers.h"

#include <pthread.h>
#include <stdatomic.h>

#define NSTABLE    8
#define NWORKERS   4
#define ITERATIONS 20000
#define NCHURN     300

static fo_router *router;
static fo_route_id stable[NSTABLE];
static fo_route_id removed[NCHURN];
static _Atomic int nremoved;
static atomic_bool failed;
static uint64_t planner_busy[NSTABLE]; /* BUSY reports by the planner */

struct worker {
    unsigned seed;
    /* results this thread reported successfully, per stable route */
    uint64_t reported[NSTABLE][FO__RESULT_MAX + 1];
};

static int stable_index(fo_route_id id)
{
    for (int i = 0; i < NSTABLE; i++)
        if (stable[i] == id)
            return i;
    return -1;
}

static _Atomic int failed_line;

static void check_at(bool ok, int line)
{
    if (!ok) {
        int zero = 0;

        atomic_store(&failed, true);
        atomic_compare_exchange_strong(&failed_line, &zero, line);
    }
}
#define check(ok) check_at((ok), __LINE__)

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int it = 0; it < ITERATIONS; it++) {
        fo_attempt at = FO_ATTEMPT_INIT;
        fo_route_id id;

        for (;;) {
            int seen_removed = atomic_load(&nremoved);
            int rc = fo_pick_route(router, &at, &id);
            fo_result res;
            int si;

            if (rc != FO_OK) {
                check(rc == FO_ENOROUTE || rc == FO_ELIMIT);
                break;
            }
            /* A route whose removal had returned before this pick
             * started must never come back. */
            for (int k = 0; k < seen_removed; k++)
                check(removed[k] != id);

            w->seed = w->seed * 1103515245u + 12345u;
            res = (fo_result)(1 + (w->seed >> 16) % FO__RESULT_MAX);
            rc = fo_report_result(router, id, res, &at);
            si = stable_index(id);
            if (si >= 0) {
                if (rc != FO_OK)
                    fprintf(stderr, "report rc %d (%s) count %zu\n", rc,
                            fo_error_name(rc), fo_attempt_count(&at));
                check(rc == FO_OK);
                if (rc == FO_OK)
                    w->reported[si][res]++;
            } else {
                check(rc == FO_OK || rc == FO_ENOENT);
            }
            if (fo_result_default_class(res) != FO_CLASS_ROUTE_FAULT)
                break;
        }
    }
    return NULL;
}

static void *churn_main(void *arg)
{
    char name[32];

    (void)arg;
    for (int i = 0; i < NCHURN; i++) {
        fo_route_id id;

        snprintf(name, sizeof name, "churn-%d", i);
        check(fo_route_add(router, name, (uint32_t)(i % 3), 1, 0, &id) ==
              FO_OK);
        check(fo_route_update(router, id, (uint32_t)(i % 5), 2, 1) == FO_OK);
        check(fo_route_remove(router, id) == FO_OK);
        removed[i] = id;
        atomic_store(&nremoved, i + 1); /* publish after removal returned */
    }
    return NULL;
}

static void *reader_main(void *arg)
{
    (void)arg;
    for (int it = 0; it < ITERATIONS / 4; it++) {
        for (int i = 0; i < NSTABLE; i++) {
            fo_route_state st;
            char name[FO_ROUTE_NAME_MAX + 1];
            fo_route_id found;

            check(fo_route_get_state(router, stable[i], &st) == FO_OK);
            check(strcmp(fo_route_state_name(st), "UNKNOWN") != 0);
            check(fo_route_get_name(router, stable[i], name, sizeof name) ==
                  FO_OK);
            check(fo_route_lookup(router, name, &found) == FO_OK);
            check(found == stable[i]);
        }
    }
    return NULL;
}

/* The operator and the embedder's signals, concurrently with the calls. */
static void *operator_main(void *arg)
{
    (void)arg;
    for (int it = 0; it < ITERATIONS / 8; it++) {
        fo_route_id id = stable[it % NSTABLE];
        fo_result res;

        switch (it % 7) {
        case 0:
            check(fo_route_signal(router, id, FO_SIGNAL_KEEPALIVE_LOST) ==
                  FO_OK);
            break;
        case 1:
            check(fo_route_signal(router, id, FO_SIGNAL_KEEPALIVE_RESTORED) ==
                  FO_OK);
            break;
        case 2:
            check(fo_route_drill(router, id, 1 * MSEC) == FO_OK);
            break;
        case 3:
            check(fo_route_set_admin(router, id, FO_ADMIN_DRAINING) == FO_OK);
            break;
        case 4:
            check(fo_route_set_admin(router, id, FO_ADMIN_ENABLED) == FO_OK);
            break;
        case 5:
            check(fo_router_set_result_class(router, FO_RESULT_DECLINED,
                                             it % 2 ? FO_CLASS_CALLEE
                                                    : FO_CLASS_ROUTE_FAULT) ==
                  FO_OK);
            break;
        default:
            check(fo_router_result_from_sip(router, 503, 0, &res) == FO_OK);
            check(fo_router_set_sip_result(router, 403, FO_RESULT_DECLINED) ==
                  FO_OK);
            break;
        }
    }
    return NULL;
}

/* Plans created, used, changed and freed while everything else runs. */
static void *planner_main(void *arg)
{
    char name[32];

    (void)arg;
    for (int it = 0; it < ITERATIONS / 40; it++) {
        fo_plan_id plan;
        fo_attempt at;
        fo_route_id got;
        int rc;

        snprintf(name, sizeof name, "plan-%d", it);
        check(fo_plan_new(router, name, (fo_policy)(it % 3), &plan) == FO_OK);
        for (int k = 0; k < 3; k++)
            check(fo_plan_set_route(router, plan, stable[(it + k) % NSTABLE],
                                    (uint32_t)k, 1,
                                    (uint32_t)(3 - k)) == FO_OK);
        fo_attempt_init_plan(&at, plan);
        while ((rc = fo_pick_route(router, &at, &got)) == FO_OK) {
            bool in_plan = false;

            for (int k = 0; k < 3; k++)
                in_plan |= got == stable[(it + k) % NSTABLE];
            check(in_plan);
            check(fo_report_result(router, got, FO_RESULT_BUSY, &at) == FO_OK);
            planner_busy[stable_index(got)]++;
        }
        check(rc == FO_ENOROUTE || rc == FO_ELIMIT);
        check(fo_plan_set_policy(router, plan, FO_POLICY_LEAST_COST) == FO_OK);
        check(fo_plan_unset_route(router, plan, stable[it % NSTABLE]) == FO_OK);
        check(fo_plan_free(router, plan) == FO_OK);
        check(fo_pick_route(router, &at, &got) == FO_ENOENT ||
              fo_attempt_count(&at) >= 4);
    }
    return NULL;
}

/* The state a route shows is the one its parts make: no torn or
 * impossible combination survived the concurrency. */
static bool legal(const struct fo__health *h)
{
    fo_route_state want;

    if (h->admin == FO_ADMIN_DISABLED)
        want = FO_STATE_DISABLED;
    else if (h->drill_until_ns != 0)
        want = FO_STATE_DRILL;
    else if (h->admin == FO_ADMIN_DRAINING)
        want = FO_STATE_DRAINING;
    else if (h->damp.suppressed)
        want = FO_STATE_SUPPRESSED;
    else
        want = (fo_route_state)h->health;
    if (h->health != FO_STATE_UP && h->health != FO_STATE_EJECTED &&
        h->health != FO_STATE_TRIAL)
        return false;
    if (h->health != FO_STATE_TRIAL)
        for (int i = 0; i < (int)FO_MAX_TRIAL_CONCURRENCY; i++)
            if (h->trial_deadline_ns[i] != 0)
                return false;
    return (fo_route_state)h->state == want;
}

static void test_concurrent_use(void **state)
{
    fo_router_options o;
    pthread_t workers[NWORKERS], churn, reader, op, planner;
    struct worker *w = test_calloc(NWORKERS, sizeof *w);
    char name[16];

    (void)state;
    FO_ROUTER_OPTIONS_INIT(&o);
    o.hold_down_ns = 1 * MSEC; /* states flip back and forth */
    o.max_attempts = 4;
    assert_int_equal(fo_router_new(&router, &o), FO_OK);
    for (int i = 0; i < NSTABLE; i++) {
        snprintf(name, sizeof name, "stable-%d", i);
        stable[i] = add_route(router, name, (uint32_t)(i / 2));
    }

    for (int i = 0; i < NWORKERS; i++) {
        w[i].seed = (unsigned)i * 7919u + 1;
        assert_int_equal(pthread_create(&workers[i], NULL, worker_main, &w[i]),
                         0);
    }
    assert_int_equal(pthread_create(&churn, NULL, churn_main, NULL), 0);
    assert_int_equal(pthread_create(&reader, NULL, reader_main, NULL), 0);
    assert_int_equal(pthread_create(&op, NULL, operator_main, NULL), 0);
    assert_int_equal(pthread_create(&planner, NULL, planner_main, NULL), 0);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(workers[i], NULL);
    pthread_join(churn, NULL);
    pthread_join(reader, NULL);
    pthread_join(op, NULL);
    pthread_join(planner, NULL);

    if (atomic_load(&failed))
        fail_msg("a check failed at line %d", atomic_load(&failed_line));

    /* Counters add up exactly. */
    for (int i = 0; i < NSTABLE; i++) {
        struct fo__route *rt;

        fo__lock(router);
        rt = fo__route_get(router, stable[i]);
        assert_non_null(rt);
        for (int res = FO_RESULT_SUCCESS; res <= FO__RESULT_MAX; res++) {
            uint64_t sum = 0;

            for (int k = 0; k < NWORKERS; k++)
                sum += w[k].reported[i][res];
            if (res == FO_RESULT_BUSY)
                sum += planner_busy[i];
            assert_true(rt->counters.results[res - 1] == sum);
        }
        assert_true(legal(&rt->health));
        fo__unlock(router);
    }
    /* Every churn route is gone. */
    for (int i = 0; i < NCHURN; i++) {
        fo_route_state st;

        assert_int_equal(fo_route_get_state(router, removed[i], &st),
                         FO_ENOENT);
    }
    assert_int_equal(fo_router_free(router), FO_OK);
    test_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_use),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
