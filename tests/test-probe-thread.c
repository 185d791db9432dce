/*
 * The router's own thread: start/stop (prompt, repeatable, from two
 * threads at once), waking early when something changes, completions from
 * other threads, a manual clock, and freeing the router with the thread
 * running and probes in flight. Real time is only waited on, never
 * measured: every wait is bounded and succeeds as soon as the event shows.
 * Run under ThreadSanitizer in CI.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <time.h>

struct counter {
    atomic_int calls;
    atomic_int destroys;
    atomic_int stop_rc;
    bool sync;
    /* tokens handed to a completer thread */
    _Atomic fo_probe_token pending;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Waits until *value >= want, up to 10 s; true if it got there. */
static bool wait_for(atomic_int *value, int want)
{
    for (int i = 0; i < 2000; i++) {
        if (atomic_load(value) >= want)
            return true;
        sleep_ms(5);
    }
    return false;
}

static void on_probe(fo_router *router, fo_route_id route, fo_probe_token token,
                     void *userdata)
{
    struct counter *c = userdata;

    (void)route;
    atomic_fetch_add(&c->calls, 1);
    atomic_store(&c->stop_rc, fo_router_stop_thread(router));
    if (c->sync)
        fo_probe_done(router, token, FO_RESULT_SUCCESS);
    else
        atomic_store(&c->pending, token);
}

static void on_destroy(void *userdata)
{
    atomic_fetch_add(&((struct counter *)userdata)->destroys, 1);
}

static fo_route_id probed_route(fo_router *r, struct counter *c,
                                uint64_t interval)
{
    fo_probe_options o;
    fo_route_id id;

    assert_int_equal(fo_route_add(r, "r", 1, 1, 0, &id), FO_OK);
    FO_PROBE_OPTIONS_INIT(&o);
    o.flags = FO_PROBE_NO_JITTER;
    o.interval_ns = interval;
    o.timeout_ns = interval;
    o.destroy = on_destroy;
    assert_int_equal(fo_set_probe(r, id, on_probe, c, &o), FO_OK);
    return id;
}

static void test_start_and_stop(void **state)
{
    static struct counter c;
    fo_router *r;
    int seen;

    (void)state;
    memset(&c, 0, sizeof c);
    c.sync = true;
    assert_int_equal(fo_router_new(&r, NULL), FO_OK);
    probed_route(r, &c, 20 * MSEC);
    assert_int_equal(fo_router_start_thread(r), FO_OK);
    assert_int_equal(fo_router_start_thread(r), FO_EBUSY);
    assert_true(wait_for(&c.calls, 5));
    /* The probe callback runs on the router's thread: it cannot stop the
     * thread it runs on. */
    assert_int_equal(atomic_load(&c.stop_rc), FO_EBUSY);
    assert_int_equal(fo_router_stop_thread(r), FO_OK);
    seen = atomic_load(&c.calls);
    sleep_ms(100);
    assert_int_equal(atomic_load(&c.calls), seen);     /* really stopped */
    assert_int_equal(fo_router_stop_thread(r), FO_OK); /* idempotent */
    /* And again. */
    assert_int_equal(fo_router_start_thread(r), FO_OK);
    assert_true(wait_for(&c.calls, seen + 3));
    assert_int_equal(fo_router_stop_thread(r), FO_OK);
    assert_int_equal(fo_router_free(r), FO_OK);
    assert_int_equal(atomic_load(&c.destroys), 1);
    assert_int_equal(fo_router_start_thread(NULL), FO_EINVAL);
    assert_int_equal(fo_router_stop_thread(NULL), FO_EINVAL);
}

/* Sleeping for an hour, the thread wakes at once for a new probe. */
static void test_wakes_early(void **state)
{
    static struct counter slow, fast;
    fo_router *r;
    fo_probe_options o;
    fo_route_id id;

    (void)state;
    memset(&slow, 0, sizeof slow);
    memset(&fast, 0, sizeof fast);
    slow.sync = fast.sync = true;
    assert_int_equal(fo_router_new(&r, NULL), FO_OK);
    id = probed_route(r, &slow, 3600 * SEC);
    assert_int_equal(fo_router_start_thread(r), FO_OK);
    assert_true(wait_for(&slow.calls, 1)); /* the first, right away */
    sleep_ms(20);                          /* now asleep for an hour */
    FO_PROBE_OPTIONS_INIT(&o);
    o.flags = FO_PROBE_NO_JITTER;
    o.interval_ns = 10 * MSEC;
    o.destroy = on_destroy;
    assert_int_equal(fo_set_probe(r, id, on_probe, &fast, &o), FO_OK);
    assert_true(wait_for(&fast.calls, 3));
    assert_int_equal(atomic_load(&slow.destroys), 1);
    assert_int_equal(fo_router_free(r), FO_OK); /* stops the thread */
    assert_int_equal(atomic_load(&fast.destroys), 1);
}

struct completer {
    fo_router *router;
    struct counter *c;
    atomic_bool stop;
    atomic_int done;
};

static void *complete_loop(void *arg)
{
    struct completer *k = arg;

    while (!atomic_load(&k->stop)) {
        fo_probe_token t = atomic_exchange(&k->c->pending, 0);

        if (t != 0 && fo_probe_done(k->router, t, FO_RESULT_SUCCESS) == FO_OK)
            atomic_fetch_add(&k->done, 1);
        sleep_ms(1);
    }
    return NULL;
}

static void test_completions_from_another_thread(void **state)
{
    static struct counter c;
    struct completer k;
    pthread_t t;
    fo_router *r;

    (void)state;
    memset(&c, 0, sizeof c);
    assert_int_equal(fo_router_new(&r, NULL), FO_OK);
    probed_route(r, &c, 10 * MSEC);
    k.router = r;
    k.c = &c;
    atomic_init(&k.stop, false);
    atomic_init(&k.done, 0);
    assert_int_equal(pthread_create(&t, NULL, complete_loop, &k), 0);
    assert_int_equal(fo_router_start_thread(r), FO_OK);
    assert_true(wait_for(&k.done, 5));
    /* Freed with the thread running and, likely, a probe in flight. */
    assert_int_equal(fo_router_stop_thread(r), FO_OK);
    atomic_store(&k.stop, true);
    pthread_join(t, NULL);
    assert_int_equal(fo_router_free(r), FO_OK);
    assert_int_equal(atomic_load(&c.destroys), 1);
}

static void *stopper(void *arg)
{
    return (void *)(intptr_t)fo_router_stop_thread(arg);
}

static void test_stop_from_two_threads(void **state)
{
    static struct counter c;
    fo_router *r;
    pthread_t a, b;
    void *ra, *rb;

    (void)state;
    memset(&c, 0, sizeof c);
    c.sync = true;
    assert_int_equal(fo_router_new(&r, NULL), FO_OK);
    probed_route(r, &c, 10 * MSEC);
    for (int round = 0; round < 20; round++) {
        assert_int_equal(fo_router_start_thread(r), FO_OK);
        assert_int_equal(pthread_create(&a, NULL, stopper, r), 0);
        assert_int_equal(pthread_create(&b, NULL, stopper, r), 0);
        pthread_join(a, &ra);
        pthread_join(b, &rb);
        assert_int_equal((intptr_t)ra, FO_OK);
        assert_int_equal((intptr_t)rb, FO_OK);
    }
    assert_int_equal(fo_router_free(r), FO_OK);
}

static _Atomic uint64_t manual_ns;

static uint64_t manual_now_atomic(void *userdata)
{
    (void)userdata;
    return atomic_load(&manual_ns);
}

/* On a clock of the embedder's, the thread looks at it often enough. */
static void test_manual_clock(void **state)
{
    static struct counter c;
    fo_clock clk = FO_CLOCK_INIT(manual_now_atomic, NULL);
    fo_router_options o;
    fo_router *r;

    (void)state;
    memset(&c, 0, sizeof c);
    c.sync = true;
    atomic_store(&manual_ns, 1000 * SEC);
    FO_ROUTER_OPTIONS_INIT(&o);
    o.clock = &clk;
    assert_int_equal(fo_router_new(&r, &o), FO_OK);
    probed_route(r, &c, 60 * SEC);
    assert_int_equal(fo_router_start_thread(r), FO_OK);
    assert_true(wait_for(&c.calls, 1));
    sleep_ms(50);
    assert_int_equal(atomic_load(&c.calls), 1); /* manual time stands */
    atomic_fetch_add(&manual_ns, 60 * SEC);
    assert_true(wait_for(&c.calls, 2));
    assert_int_equal(fo_router_free(r), FO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_and_stop),
        cmocka_unit_test(test_wakes_early),
        cmocka_unit_test(test_completions_from_another_thread),
        cmocka_unit_test(test_stop_from_two_threads),
        cmocka_unit_test(test_manual_clock),
    };
    return cmocka_run_group_tests_name("probe-thread", tests, NULL, NULL);
}
