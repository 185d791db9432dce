/*
 * Probes on a manual clock: the schedule (interval, faster interval while
 * out, jitter determinism with a seed), rise and fall, timeouts, late,
 * duplicate and stray completions, completion from another thread,
 * replacement and removal in flight, destroy callbacks, reentrancy, the
 * evidence rule (and a brownout that must stay out), next_deadline.
 */
#include "internal-helpers.h"

#include <pthread.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Recorders live in static storage: the router may release them (destroy
 * callback) in the fixture's teardown, after the test function returned. */
struct recorder {
    fo_router *router;
    struct fixture *f;
    int calls;
    fo_probe_token token[256];
    fo_route_id route[256];
    uint64_t at[256];
    bool sync; /* complete inside the callback */
    fo_result sync_result;
    int destroys;
    /* inside the callback: what calls back into the router returned */
    int rc_tick, rc_free, rc_stop, rc_set;
    bool replace_self;
    struct recorder *replacement;
    int destroys_seen_inside;
};

static void record(fo_router *router, fo_route_id route, fo_probe_token token,
                   void *userdata)
{
    struct recorder *rec = userdata;
    int i = rec->calls++;

    if (i < (int)NELEM(rec->token)) {
        rec->token[i] = token;
        rec->route[i] = route;
        rec->at[i] = rec->f != NULL ? rec->f->clock.now : 0;
    }
    rec->rc_tick = fo_router_tick(router);
    rec->rc_free = fo_router_free(router);
    rec->rc_stop = fo_router_stop_thread(router);
    if (rec->replace_self) {
        rec->replace_self = false;
        rec->rc_set =
            fo_set_probe(router, route, record, rec->replacement, NULL);
        rec->destroys_seen_inside = rec->destroys;
    }
    if (rec->sync)
        assert_int_equal(fo_probe_done(router, token, rec->sync_result), FO_OK);
}

static void count_destroy(void *userdata)
{
    ((struct recorder *)userdata)->destroys++;
}

static struct fo__probe *probe_of(struct fixture *f, fo_route_id id)
{
    return fo__route_get(f->router, id)->probe;
}

/* A probe without jitter: interval 10 s, timeout 2 s, down 5 s. */
static void set_plain(struct fixture *f, fo_route_id r, struct recorder *rec,
                      uint32_t rise, uint32_t fall)
{
    fo_probe_options o;

    FO_PROBE_OPTIONS_INIT(&o);
    o.flags = FO_PROBE_NO_JITTER;
    o.destroy = count_destroy;
    o.rise = rise;
    o.fall = fall;
    rec->f = f;
    rec->router = f->router;
    assert_int_equal(fo_set_probe(f->router, r, record, rec, &o), FO_OK);
}

static void tick(struct fixture *f)
{
    assert_int_equal(fo_router_tick(f->router), FO_OK);
}

static uint64_t deadline(struct fixture *f)
{
    uint64_t t = 0;

    assert_int_equal(fo_router_next_deadline(f->router, &t), FO_OK);
    return t;
}

/* ---- schedule ---------------------------------------------------------- */

static void test_interval(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t t0 = f->clock.now;

    set_plain(f, r, &rec, 2, 3);
    assert_true(deadline(f) == t0); /* first probe at once */
    tick(f);
    assert_int_equal(rec.calls, 1);
    assert_true(rec.route[0] == r && rec.token[0] != 0);
    assert_true(deadline(f) == t0 + FO_DEFAULT_PROBE_TIMEOUT_NS);
    advance(f, 500 * MSEC);
    assert_int_equal(fo_probe_done(f->router, rec.token[0], FO_RESULT_SUCCESS),
                     FO_OK);
    /* The next starts one interval after this one started. */
    assert_true(deadline(f) == t0 + FO_DEFAULT_PROBE_INTERVAL_NS);
    f->clock.now = t0 + FO_DEFAULT_PROBE_INTERVAL_NS - 1;
    tick(f);
    assert_int_equal(rec.calls, 1);
    f->clock.now = t0 + FO_DEFAULT_PROBE_INTERVAL_NS;
    tick(f);
    assert_int_equal(rec.calls, 2);
    assert_true(rec.token[1] != rec.token[0]);
    /* At most one in flight: nothing new before it ends. */
    advance(f, 30 * SEC);
    tick(f); /* times it out, then starts the next one */
    assert_int_equal(rec.calls, 3);
    assert_int_equal(fo__route_get(f->router, r)->probes->timed_out, 1);
    /* Its own callbacks never ran with the tick able to nest. */
    assert_int_equal(rec.rc_tick, FO_EBUSY);
    assert_int_equal(rec.rc_free, FO_EBUSY);
    assert_int_equal(rec.rc_stop, FO_EBUSY);
}

static void test_faster_interval_while_out(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t t0 = f->clock.now;

    set_plain(f, r, &rec, 2, 1);
    tick(f);
    fo_probe_done(f->router, rec.token[0], FO_RESULT_TIMEOUT);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_true(deadline(f) == t0 + FO_DEFAULT_PROBE_DOWN_INTERVAL_NS);
    f->clock.now = t0 + FO_DEFAULT_PROBE_DOWN_INTERVAL_NS;
    tick(f);
    assert_int_equal(rec.calls, 2);
    /* Back in service: the normal interval again. */
    fo_probe_done(f->router, rec.token[1], FO_RESULT_SUCCESS);
    f->clock.now = t0 + 2 * FO_DEFAULT_PROBE_DOWN_INTERVAL_NS;
    tick(f);
    fo_probe_done(f->router, rec.token[2], FO_RESULT_SUCCESS);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_true(deadline(f) == f->clock.now + FO_DEFAULT_PROBE_INTERVAL_NS);
}

/* Probe start times of one route over 12 probes, with 30% jitter. */
static void run_jittered(struct fixture *f, uint64_t seed, uint64_t *times)
{
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_probe_options o;
    fo_route_id r;
    uint64_t t0;

    f->opts.seed = seed;
    fixture_reopen(f);
    t0 = f->clock.now;
    r = add_route(f->router, "r", 1);
    FO_PROBE_OPTIONS_INIT(&o);
    o.jitter_pct = 30;
    rec.f = f;
    rec.sync = true;
    rec.sync_result = FO_RESULT_SUCCESS;
    assert_int_equal(fo_set_probe(f->router, r, record, &rec, &o), FO_OK);
    while (rec.calls < 12) {
        f->clock.now = deadline(f);
        tick(f);
    }
    for (int i = 0; i < 12; i++)
        times[i] = rec.at[i] - t0;
}

static void test_jitter_is_seeded_and_bounded(void **state)
{
    struct fixture *f = *state;
    uint64_t a[12], b[12], c[12];
    const uint64_t iv = FO_DEFAULT_PROBE_INTERVAL_NS;

    run_jittered(f, 42, a);
    run_jittered(f, 42, b);
    run_jittered(f, 43, c);
    assert_memory_equal(a, b, sizeof a); /* same seed, same schedule */
    assert_true(memcmp(a, c, sizeof a) != 0);
    assert_true(a[0] <= iv / 100 * 30); /* first within the jitter */
    for (int i = 1; i < 12; i++) {
        uint64_t gap = a[i] - a[i - 1];

        assert_true(gap >= iv && gap <= iv + iv / 100 * 30);
    }
}

/* 200 routes are not probed in the same millisecond. */
static void test_jitter_spreads_routes(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_probe_options o;
    uint64_t first = UINT64_MAX, last = 0;

    f->opts.seed = 7;
    fixture_reopen(f);
    FO_PROBE_OPTIONS_INIT(&o);
    o.jitter_pct = 50;
    for (int i = 0; i < 200; i++) {
        char name[16];
        fo_route_id r;

        snprintf(name, sizeof name, "r%d", i);
        r = add_route(f->router, name, 1);
        assert_int_equal(fo_set_probe(f->router, r, record, &rec, &o), FO_OK);
        if (probe_of(f, r)->first_due_ns < first)
            first = probe_of(f, r)->first_due_ns;
        if (probe_of(f, r)->first_due_ns > last)
            last = probe_of(f, r)->first_due_ns;
    }
    assert_true(last - first > 4 * SEC); /* spread over the 5 s */
}

/* ---- rise, fall, outcomes ----------------------------------------------- */

static void test_rise_and_fall(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);
    char text[FO_REASON_TEXT_MAX];

    set_plain(f, r, &rec, 2, 3);
    rec.sync = true;
    rec.sync_result = FO_RESULT_TIMEOUT;
    for (int i = 0; i < 2; i++) {
        f->clock.now = deadline(f);
        tick(f);
        assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    }
    f->clock.now = deadline(f);
    tick(f);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_PROBE_FAILED);
    assert_string_equal(
        text, "3 probes failed in a row (last TIMEOUT); out for 15 s");
    /* Probes took it out, probes bring it back, before the hold-down. */
    rec.sync_result = FO_RESULT_SUCCESS;
    f->clock.now = deadline(f);
    tick(f);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    f->clock.now = deadline(f);
    tick(f);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    assert_int_equal(route_reason(f->router, r, text, sizeof text),
                     FO_REASON_PROBE_PASSED);
    assert_string_equal(text, "2 probes answered in a row");
    /* Any answer counts as an answer; a cancelled probe says nothing. */
    rec.sync_result = FO_RESULT_BUSY;
    f->clock.now = deadline(f);
    tick(f);
    rec.sync_result = FO_RESULT_CANCELLED;
    f->clock.now = deadline(f);
    tick(f);
    assert_int_equal(fo__route_get(f->router, r)->probes->answered, 3);
    assert_int_equal(fo__route_get(f->router, r)->probes->failed, 3);
    assert_int_equal(fo__route_get(f->router, r)->probes->sent, 7);
}

static void test_timeout_and_late_completion(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);
    uint64_t t0 = f->clock.now;

    set_plain(f, r, &rec, 2, 1);
    tick(f);
    f->clock.now = t0 + FO_DEFAULT_PROBE_TIMEOUT_NS - 1;
    tick(f);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    f->clock.now = t0 + FO_DEFAULT_PROBE_TIMEOUT_NS;
    tick(f);
    assert_int_equal(fo__route_get(f->router, r)->probes->timed_out, 1);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    /* The answer comes after all: too late, ignored and counted. */
    assert_int_equal(fo_probe_done(f->router, rec.token[0], FO_RESULT_SUCCESS),
                     FO_EALREADY);
    assert_int_equal(fo__route_get(f->router, r)->probes->late, 1);
    assert_int_equal(fo__route_get(f->router, r)->probes->answered, 0);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
}

static void test_duplicate_and_stray_completions(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1), s;
    fo_probe_token gone;

    set_plain(f, r, &rec, 2, 3);
    tick(f);
    assert_int_equal(fo_probe_done(f->router, rec.token[0], FO_RESULT_SUCCESS),
                     FO_OK);
    assert_int_equal(fo_probe_done(f->router, rec.token[0], FO_RESULT_SUCCESS),
                     FO_EALREADY);
    assert_int_equal(fo__route_get(f->router, r)->probes->answered, 1);
    /* A second completion is not a late one: a stray. */
    assert_int_equal(fo__route_get(f->router, r)->probes->late, 0);
    assert_true(f->router->probe_strays == 1);
    /* Tokens that are nobody's. */
    assert_int_equal(fo_probe_done(f->router, 0, FO_RESULT_SUCCESS), FO_ENOENT);
    assert_int_equal(fo_probe_done(f->router, ~0ull, FO_RESULT_SUCCESS),
                     FO_ENOENT);
    assert_int_equal(fo_probe_done(f->router, rec.token[0] + (1ull << 40),
                                   FO_RESULT_SUCCESS),
                     FO_ENOENT);
    /* A probe of a route removed meanwhile; its slot reused since. */
    f->clock.now = deadline(f);
    tick(f);
    gone = rec.token[1];
    assert_int_equal(fo_route_remove(f->router, r), FO_OK);
    assert_int_equal(rec.destroys, 1);
    assert_int_equal(fo_probe_done(f->router, gone, FO_RESULT_SUCCESS),
                     FO_ENOENT);
    s = add_route(f->router, "s", 1);
    assert_true(FO__ID_INDEX(s) == (uint32_t)(gone & 0xffffff));
    set_plain(f, s, &rec, 2, 3);
    assert_int_equal(fo_probe_done(f->router, gone, FO_RESULT_SUCCESS),
                     FO_ENOENT);
    assert_int_equal(f->router->probe_strays, 6); /* and the duplicate */
    assert_rejected(f->router, FO_EINVAL,
                    fo_probe_done(f->router, gone, (fo_result)0));
    assert_int_equal(fo_probe_done(NULL, gone, FO_RESULT_SUCCESS), FO_EINVAL);
}

struct remote {
    fo_router *router;
    fo_probe_token token;
    int rc;
};

static void *complete_elsewhere(void *arg)
{
    struct remote *rm = arg;

    rm->rc = fo_probe_done(rm->router, rm->token, FO_RESULT_SUCCESS);
    return NULL;
}

static void test_completion_from_another_thread(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);
    struct remote rm;
    pthread_t t;

    set_plain(f, r, &rec, 2, 3);
    tick(f);
    rm.router = f->router;
    rm.token = rec.token[0];
    rm.rc = -100;
    assert_int_equal(pthread_create(&t, NULL, complete_elsewhere, &rm), 0);
    pthread_join(t, NULL);
    assert_int_equal(rm.rc, FO_OK);
    assert_int_equal(fo__route_get(f->router, r)->probes->answered, 1);
    assert_true(probe_of(f, r)->token == 0);
}

static void test_synchronous_probe(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){.sync = true, .sync_result = FO_RESULT_SUCCESS};
    fo_route_id r = add_route(f->router, "r", 1);

    set_plain(f, r, &rec, 2, 3);
    tick(f);
    assert_int_equal(fo__route_get(f->router, r)->probes->answered, 1);
    assert_true(probe_of(f, r)->token == 0);
}

/* ---- registrations ------------------------------------------------------- */

static void test_replace_and_remove_in_flight(void **state)
{
    struct fixture *f = *state;
    static struct recorder one, two;
    one = (struct recorder){0};
    two = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);

    set_plain(f, r, &one, 2, 3);
    tick(f);
    assert_int_equal(one.calls, 1); /* in flight */
    set_plain(f, r, &two, 2, 3);
    assert_int_equal(one.destroys, 1);
    assert_int_equal(fo_probe_done(f->router, one.token[0], FO_RESULT_TIMEOUT),
                     FO_EALREADY);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
    tick(f);
    assert_int_equal(two.calls, 1);
    /* Removing it: no more probes, destroyed once. */
    assert_int_equal(fo_set_probe(f->router, r, NULL, NULL, NULL), FO_OK);
    assert_int_equal(two.destroys, 1);
    assert_int_equal(fo_probe_done(f->router, two.token[0], FO_RESULT_SUCCESS),
                     FO_EALREADY);
    advance(f, 3600 * SEC);
    tick(f);
    assert_int_equal(two.calls, 1);
    assert_int_equal(one.destroys, 1);
    assert_int_equal(two.destroys, 1);
    assert_true(deadline(f) == UINT64_MAX);
    assert_int_equal(fo_set_probe(f->router, r, NULL, NULL, NULL), FO_OK);
}

/* Replacing its own probe from inside the callback: the old userdata is
 * released only after the callback returns. */
static void test_replace_from_inside_the_callback(void **state)
{
    struct fixture *f = *state;
    static struct recorder one, two;
    one = (struct recorder){0};
    two = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);

    set_plain(f, r, &one, 2, 3);
    one.replace_self = true;
    one.replacement = &two;
    tick(f);
    assert_int_equal(one.rc_set, FO_OK);
    assert_int_equal(one.destroys_seen_inside, 0);
    assert_int_equal(one.destroys, 1);
    assert_int_equal(two.destroys, 0);
}

static void test_destroy_exactly_once_everywhere(void **state)
{
    struct fixture *f = *state;
    static struct recorder a, b, c;
    a = (struct recorder){0};
    b = (struct recorder){0};
    c = (struct recorder){0};
    fo_route_id ra = add_route(f->router, "a", 1);
    fo_route_id rb = add_route(f->router, "b", 1);
    fo_probe_options bad;

    set_plain(f, ra, &a, 2, 3);
    set_plain(f, rb, &b, 2, 3);
    tick(f); /* both in flight */
    assert_int_equal(fo_route_remove(f->router, rb), FO_OK);
    assert_int_equal(b.destroys, 1);
    /* A failed registration never calls destroy. */
    FO_PROBE_OPTIONS_INIT(&bad);
    bad.destroy = count_destroy;
    assert_int_equal(fo_set_probe(f->router, rb, record, &c, &bad), FO_ENOENT);
    bad.rise = FO_MAX_CONSECUTIVE_FAULTS + 1;
    assert_rejected(f->router, FO_ERANGE,
                    fo_set_probe(f->router, ra, record, &c, &bad));
    assert_int_equal(c.destroys, 0);
    assert_int_equal(a.destroys, 0);
    /* Freeing the router with a probe in flight releases it once. */
    fixture_close(f);
    assert_int_equal(a.destroys, 1);
    assert_int_equal(b.destroys, 1);
    fixture_open(f);
}

static void test_probe_options(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);
    fo_probe_options o;
    struct {
        fo_probe_options known;
        uint64_t newer;
    } big;

    assert_int_equal(fo_probe_options_init(NULL, sizeof o), FO_EINVAL);
    assert_int_equal(fo_probe_options_init(&o, 8), FO_EINVAL);
    assert_int_equal(fo_set_probe(f->router, r, record, &rec, NULL), FO_OK);
    assert_true(probe_of(f, r)->interval_ns == FO_DEFAULT_PROBE_INTERVAL_NS);
    assert_true(probe_of(f, r)->timeout_ns == FO_DEFAULT_PROBE_TIMEOUT_NS);
    assert_true(probe_of(f, r)->down_interval_ns ==
                FO_DEFAULT_PROBE_DOWN_INTERVAL_NS);
    assert_int_equal(probe_of(f, r)->rise, FO_DEFAULT_PROBE_RISE);
    assert_int_equal(probe_of(f, r)->fall, FO_DEFAULT_PROBE_FALL);
    assert_int_equal(probe_of(f, r)->jitter_pct, FO_DEFAULT_PROBE_JITTER_PCT);
    /* A custom interval gets half of it while out. */
    FO_PROBE_OPTIONS_INIT(&o);
    o.interval_ns = 4 * SEC;
    assert_int_equal(fo_set_probe(f->router, r, record, &rec, &o), FO_OK);
    assert_true(probe_of(f, r)->down_interval_ns == 2 * SEC);

#define BAD(field, value, code)                                                \
    do {                                                                       \
        FO_PROBE_OPTIONS_INIT(&o);                                             \
        o.field = (value);                                                     \
        assert_rejected(f->router, (code),                                     \
                        fo_set_probe(f->router, r, record, &rec, &o));         \
    } while (0)
    BAD(interval_ns, MSEC, FO_ERANGE);
    BAD(interval_ns, 25 * 3600 * SEC, FO_ERANGE);
    BAD(down_interval_ns, MSEC, FO_ERANGE);
    BAD(timeout_ns, 3601 * SEC, FO_ERANGE);
    BAD(jitter_pct, 101, FO_ERANGE);
    BAD(fall, FO_MAX_CONSECUTIVE_FAULTS + 1, FO_ERANGE);
    BAD(evidence, 2, FO_EINVAL);
    BAD(flags, 0x2, FO_EVERSION);
    BAD(reserved, 1, FO_EVERSION);
    BAD(size, 8, FO_EINVAL);
#undef BAD
    memset(&big, 0, sizeof big);
    fo_probe_options_init(&big.known, sizeof big);
    big.newer = 3;
    assert_rejected(f->router, FO_EVERSION,
                    fo_set_probe(f->router, r, record, &rec, &big.known));
    assert_rejected(f->router, FO_ENOENT,
                    fo_set_probe(f->router, bogus_id(r), record, &rec, NULL));
    assert_int_equal(fo_set_probe(NULL, r, record, &rec, NULL), FO_EINVAL);
}

static void test_next_deadline_and_timeout_ms(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){0};
    fo_route_id r = add_route(f->router, "r", 1);
    int ms = 7;

    assert_true(deadline(f) == UINT64_MAX);
    assert_int_equal(fo_router_next_timeout_ms(f->router, &ms), FO_OK);
    assert_int_equal(ms, -1);
    set_plain(f, r, &rec, 2, 3);
    assert_int_equal(fo_router_next_timeout_ms(f->router, &ms), FO_OK);
    assert_int_equal(ms, 0);
    tick(f);
    advance(f, 1500 * MSEC + 1); /* 499.999999 ms left: rounds up */
    assert_int_equal(fo_router_next_timeout_ms(f->router, &ms), FO_OK);
    assert_int_equal(ms, 500);
    /* Hold-downs count too: a route ejected by calls. */
    fo_probe_done(f->router, rec.token[0], FO_RESULT_SUCCESS);
    fo_route_id s = add_route(f->router, "s", 1);
    report_n(f->router, s, FO_RESULT_TIMEOUT, 3);
    /* The earliest of the probe's next start and the hold-down's end. */
    assert_true(deadline(f) == fo__probe_due(fo__route_get(f->router, r)));
    fo_set_probe(f->router, r, NULL, NULL, NULL);
    assert_true(deadline(f) ==
                fo__route_get(f->router, s)->health.hold_down_until_ns);
    assert_int_equal(fo_router_next_deadline(f->router, NULL), FO_EINVAL);
    assert_int_equal(fo_router_next_timeout_ms(f->router, NULL), FO_EINVAL);
    assert_int_equal(fo_router_tick(NULL), FO_EINVAL);
}

/* ---- evidence ------------------------------------------------------------ */

/* A carrier that stopped answering (calls timed out) may be shown
 * reachable by probes; calls still decide in the trial. */
static void test_weak_probes_after_unreachable(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){.sync = true, .sync_result = FO_RESULT_SUCCESS};
    fo_route_id r = add_route(f->router, "r", 1);

    report_n(f->router, r, FO_RESULT_TIMEOUT, 3);
    set_plain(f, r, &rec, 2, 3);
    tick(f);
    f->clock.now = deadline(f);
    tick(f); /* 2 answers, long before the 15 s hold-down ends */
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    assert_int_equal(route_reason(f->router, r, NULL, 0),
                     FO_REASON_PROBE_PASSED);
    for (int i = 0; i < 5; i++) {
        f->clock.now = deadline(f);
        tick(f);
    }
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    report_n(f->router, r, FO_RESULT_SUCCESS, 2);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* Answers from before an ejection prove nothing about the outage: after
 * calls take the route out, `rise` answers must come after the ejection. */
static void test_answers_before_ejection_do_not_count(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){.sync = true, .sync_result = FO_RESULT_SUCCESS};
    fo_route_id r = add_route(f->router, "r", 1);

    set_plain(f, r, &rec, 2, 3);
    for (int i = 0; i < 4; i++) {
        f->clock.now = deadline(f);
        tick(f);
    }
    assert_int_equal(probe_of(f, r)->ok_run, 4);
    report_n(f->router, r, FO_RESULT_TIMEOUT, 3);
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    assert_int_equal(probe_of(f, r)->ok_run, 0);
    f->clock.now = deadline(f);
    tick(f); /* one answer since: not enough */
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
    f->clock.now = deadline(f);
    tick(f);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    assert_int_equal(route_reason(f->router, r, NULL, 0),
                     FO_REASON_PROBE_PASSED);
}

/* A carrier rejecting calls answers OPTIONS just fine: weak probes never
 * re-admit it; strong ones (a peer whose keepalive is the call path) do. */
static void test_weak_and_strong_after_rejections(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){.sync = true, .sync_result = FO_RESULT_SUCCESS};
    fo_probe_options o;
    fo_route_id r;

    f->opts.hold_down_ns = 60 * SEC;
    fixture_reopen(f);
    r = add_route(f->router, "r", 1);
    report_n(f->router, r, FO_RESULT_REJECTED, 3);
    set_plain(f, r, &rec, 2, 3);
    for (int i = 0; i < 5; i++) {
        f->clock.now = deadline(f);
        tick(f);
    }
    assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);

    FO_PROBE_OPTIONS_INIT(&o);
    o.flags = FO_PROBE_NO_JITTER;
    o.evidence = FO_PROBE_STRONG;
    assert_int_equal(fo_set_probe(f->router, r, record, &rec, &o), FO_OK);
    f->clock.now = deadline(f);
    tick(f);
    f->clock.now = deadline(f);
    tick(f);
    assert_int_equal(route_state(f->router, r), FO_STATE_TRIAL);
    assert_int_equal(route_reason(f->router, r, NULL, 0),
                     FO_REASON_PROBE_PASSED);
    assert_true(f->clock.now <
                fo__route_get(f->router, r)->health.hold_down_until_ns);
    f->clock.now = deadline(f);
    tick(f);
    f->clock.now = deadline(f);
    tick(f);
    assert_int_equal(route_state(f->router, r), FO_STATE_UP);
}

/* Never earlier than the carrier asked, never past a lost registration. */
static void test_probes_respect_orders(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){.sync = true, .sync_result = FO_RESULT_SUCCESS};
    fo_probe_options o;
    fo_route_id r = add_route(f->router, "r", 1);
    fo_route_id s = add_route(f->router, "s", 1);
    uint64_t t0 = f->clock.now;

    FO_PROBE_OPTIONS_INIT(&o);
    o.evidence = FO_PROBE_STRONG;
    o.flags = FO_PROBE_NO_JITTER;
    rec.f = f;
    report_ex(f->router, r, FO_RESULT_REJECTED, 0, 300 * SEC);
    fo_route_signal(f->router, s, FO_SIGNAL_REGISTRATION_LOST);
    fo_set_probe(f->router, r, record, &rec, &o);
    fo_set_probe(f->router, s, record, &rec, &o);
    while (deadline(f) < t0 + 300 * SEC) {
        f->clock.now = deadline(f);
        tick(f);
        assert_int_equal(route_state(f->router, r), FO_STATE_EJECTED);
        assert_int_equal(route_state(f->router, s), FO_STATE_EJECTED);
    }
    assert_true(rec.calls > 100);
}

/*
 * A brownout: the primary answers every probe but fails 40% of calls
 * (carrier rejections). A call every 2 s for 30 minutes, retried on the
 * backup; probes every 10 s. Returns the primary's share of attempts after
 * the first minute, in thousandths, and how often probes brought it back.
 */
static int run_brownout(struct fixture *f, fo_probe_evidence evidence,
                        int *probe_backs)
{
    static struct recorder rec;
    rec = (struct recorder){.sync = true, .sync_result = FO_RESULT_SUCCESS};
    fo_probe_options o;
    fo_route_id primary;
    uint32_t x = 12345;
    int on_primary = 0, attempts = 0;
    fo_reason last = FO_REASON_ADDED;

    fixture_reopen(f);
    primary = add_route(f->router, "primary", 1);
    add_route(f->router, "backup", 2);
    FO_PROBE_OPTIONS_INIT(&o);
    o.evidence = evidence;
    rec.f = f;
    assert_int_equal(fo_set_probe(f->router, primary, record, &rec, &o), FO_OK);
    *probe_backs = 0;
    for (int step = 0; step < 900; step++) {
        fo_attempt at = FO_ATTEMPT_INIT;
        fo_route_id r;
        fo_reason now_reason;

        advance(f, 2 * SEC);
        tick(f);
        while (fo_pick_route(f->router, &at, &r) == FO_OK) {
            fo_result res = FO_RESULT_SUCCESS;

            x = x * 1103515245u + 12345u;
            if (r == primary && (x >> 16) % 100 < 40)
                res = FO_RESULT_REJECTED;
            if (step >= 30) {
                attempts++;
                on_primary += r == primary;
            }
            fo_report_result(f->router, r, res, &at);
            if (res == FO_RESULT_SUCCESS)
                break;
        }
        now_reason = route_reason(f->router, primary, NULL, 0);
        if (now_reason != last && now_reason == FO_REASON_PROBE_PASSED)
            (*probe_backs)++;
        last = now_reason;
    }
    assert_true(fo__route_get(f->router, primary)->probes->answered > 100);
    return on_primary * 1000 / attempts;
}

static void test_brownout_stays_out(void **state)
{
    struct fixture *f = *state;
    int weak_backs, strong_backs;
    int weak = run_brownout(f, FO_PROBE_WEAK, &weak_backs);
    int strong = run_brownout(f, FO_PROBE_STRONG, &strong_backs);

    print_message("brownout: primary share %d/1000 with weak probes, "
                  "%d/1000 with strong (%d re-admissions by probes)\n",
                  weak, strong, strong_backs);
    assert_int_equal(weak_backs, 0);
    assert_true(weak < 120); /* trial calls only: about 8% of attempts */
    /* The rule is what keeps it out: strong probes let it back in. */
    assert_true(strong_backs > 0);
    assert_true(strong > weak);
}

/* Probes failing on every route at once look like our own outage. */
static void test_probe_failures_and_the_local_fault_guard(void **state)
{
    struct fixture *f = *state;
    static struct recorder rec;
    rec = (struct recorder){.sync = true, .sync_result = FO_RESULT_TIMEOUT};
    fo_route_id r[3];

    f->opts.guards_off = FO_GUARD_EJECTION;
    fixture_reopen(f);
    for (int i = 0; i < 3; i++) {
        char name[8];

        snprintf(name, sizeof name, "r%d", i);
        r[i] = add_route(f->router, name, 1);
        set_plain(f, r[i], &rec, 2, 3);
    }
    for (int i = 0; i < 6; i++) {
        f->clock.now = deadline(f);
        tick(f);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(route_state(f->router, r[i]), FO_STATE_UP);
        assert_int_equal(route_reason(f->router, r[i], NULL, 0),
                         FO_REASON_LOCAL_FAULT);
    }
}

#define T(fn)                                                                  \
    cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_interval),
        T(test_faster_interval_while_out),
        T(test_jitter_is_seeded_and_bounded),
        T(test_jitter_spreads_routes),
        T(test_rise_and_fall),
        T(test_timeout_and_late_completion),
        T(test_duplicate_and_stray_completions),
        T(test_completion_from_another_thread),
        T(test_synchronous_probe),
        T(test_replace_and_remove_in_flight),
        T(test_replace_from_inside_the_callback),
        T(test_destroy_exactly_once_everywhere),
        T(test_probe_options),
        T(test_next_deadline_and_timeout_ms),
        T(test_weak_probes_after_unreachable),
        T(test_answers_before_ejection_do_not_count),
        T(test_weak_and_strong_after_rejections),
        T(test_probes_respect_orders),
        T(test_brownout_stays_out),
        T(test_probe_failures_and_the_local_fault_guard),
    };
    return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
