/*
 * Stress: every kind of call on one router from many threads at once, on
 * the real clock, for a bounded time (RUN_NS of wall clock, or a fixed
 * number of operations per thread, whichever comes first). Hold-downs,
 * trials, drills and probe intervals are milliseconds long, so routes pass
 * through every state while it runs.
 *
 * Each thread checks what it can see at once: legal states, consistent
 * snapshots, nothing picked or accepted after its removal returned,
 * nothing picked that the operator had taken out, callbacks never running
 * concurrently. At the end the router's counters must equal what the
 * threads did, the events must have told each route's changes in order,
 * and nothing may be left allocated. Run under ThreadSanitizer in CI.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define RUN_NS       (1500 * MSEC) /* wall clock for the busy phase */
#define NSTABLE      6             /* routes never removed */
#define NPICKERS     3
#define PICKER_HUNTS 400000 /* calls per picker, if time allows */
#define CHURN_OPS    4000
#define CHURN_LIVE   4 /* churned routes alive at once, at most */
/* Routes added and removed while one delivery is held up: more events than
 * the queue holds. */
#define FLOOD        FO_EVENT_QUEUE_MAX /* two events each */
#define OPERATOR_OPS 8000
#define READER_OPS   3000
#define MAX_ATTEMPTS 4u
#define NREC         8192u /* routes the test can follow (a power of 2) */
#define NRESULTS     (FO_RESULT_REJECTED + 1)
#define RING         1024u /* probe tokens waiting for the completer */
#define METRICS_SIZE 65536u

/* ---- failures ------------------------------------------------------------ */

/* Threads cannot use cmocka's asserts: they count failures and keep the
 * first message, which the test prints after joining them. */
static atomic_int failures;
static char first_failure[256];

__attribute__((format(printf, 2, 3))) static void failf(int line,
                                                        const char *fmt, ...)
{
    va_list ap;
    int n;

    if (atomic_fetch_add(&failures, 1) != 0)
        return;
    n = snprintf(first_failure, sizeof first_failure, "line %d: ", line);
    va_start(ap, fmt);
    vsnprintf(first_failure + n, sizeof first_failure - (size_t)n, fmt, ap);
    va_end(ap);
}

#define check(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            failf(__LINE__, "%s", #cond);                                      \
    } while (0)
#define checkf(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            failf(__LINE__, __VA_ARGS__);                                      \
    } while (0)

/* ---- shared state -------------------------------------------------------- */

static struct fixture fx; /* the counting allocator checks for leaks */
static fo_router *router;
static fo_route_id stable[NSTABLE];
static uint64_t start_ns;
static atomic_bool stop;
static atomic_int registrations; /* probe registrations made */
static atomic_int destroys;      /* ... and released */

/*
 * One order for "that call had returned" and "this call had not started".
 * A removal takes a ticket with release after it returned; a pick, report
 * or probe completion takes one with acquire before it starts. A removal
 * ticket below the caller's then means the removal returned before the
 * call started (the acquire reads from the removal's release sequence),
 * which is when the library promises FO_ENOENT. Tickets order only calls
 * that did not overlap, so ThreadSanitizer still sees every race between
 * calls that did.
 */
static _Atomic uint64_t tickets;

static uint64_t ticket_before(void)
{
    return atomic_fetch_add_explicit(&tickets, 1, memory_order_acquire) + 1;
}

static uint64_t ticket_after(void)
{
    return atomic_fetch_add_explicit(&tickets, 1, memory_order_release) + 1;
}

/* The operator's setting of each stable route, as a generation: odd while
 * a DISABLED or DRAINING set by the operator has returned and the ENABLED
 * that ends it has not started. A pick that reads the same odd value
 * before and after ran entirely while the route was out. */
static _Atomic uint64_t admin_out[NSTABLE];

/*
 * What the test knows about every route it has seen, in an open-addressing
 * table keyed by id (never deleted from). The counters are bumped by the
 * threads that did the thing, with relaxed atomics: they only count, so
 * they add no ordering that could hide a race from ThreadSanitizer. The
 * ev_ fields belong to the event callback, which never runs concurrently
 * with itself; the library's ordering of deliveries is what makes them
 * safe, and ThreadSanitizer checks it.
 */
struct rec {
    _Atomic fo_route_id id;    /* 0: a free slot */
    _Atomic uint64_t removing; /* set before fo_route_remove() started */
    _Atomic uint64_t removed;  /* its ticket, taken after it returned */
    _Atomic uint64_t reported[NRESULTS]; /* FO_OK reports per result */
    _Atomic uint64_t picks;              /* FO_OK picks of it */
    _Atomic uint64_t plain_picks;        /* ... by fo_pick_route() */
    _Atomic uint64_t panic_picks;        /* ... flagged PANIC (by _ex) */
    _Atomic uint64_t trial_picks;        /* ... flagged TRIAL (by _ex) */
    _Atomic uint64_t probe_calls;        /* probe callbacks run */
    _Atomic uint64_t probe_taken;        /* FO_OK completions, not neutral */
    _Atomic uint64_t probe_already;      /* FO_EALREADY completions */
    uint64_t ev_known;       /* 1 + drop epoch when ev_state was set */
    fo_route_state ev_state; /* the state the events say it has */
    uint64_t ev_transitions; /* STATE events */
    bool ev_removed;         /* ROUTE_REMOVED seen */
};

static struct rec recs[NREC];

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static struct rec *rec_of(fo_route_id id, bool create)
{
    uint64_t h = mix(id);

    for (uint32_t i = 0; i < NREC; i++) {
        struct rec *r = &recs[(h + i) & (NREC - 1)];
        fo_route_id cur = atomic_load_explicit(&r->id, memory_order_relaxed);

        if (cur == id)
            return r;
        if (cur != 0)
            continue;
        if (!create)
            return NULL;
        if (atomic_compare_exchange_strong_explicit(
                &r->id, &cur, id, memory_order_relaxed, memory_order_relaxed) ||
            cur == id)
            return r;
    }
    failf(__LINE__, "more than %u routes: raise NREC", NREC);
    return NULL;
}

static void bump(_Atomic uint64_t *counter)
{
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

/* True if the route's removal returned before the call holding ticket t
 * started: the call must have seen the route gone. */
static bool removed_before(struct rec *r, uint64_t t)
{
    uint64_t removed;

    if (r == NULL)
        return false;
    removed = atomic_load_explicit(&r->removed, memory_order_relaxed);
    return removed != 0 && removed < t;
}

/* A call that found the route gone: its removal must have started. */
static bool removal_started(struct rec *r)
{
    return r != NULL &&
           atomic_load_explicit(&r->removing, memory_order_relaxed) != 0;
}

static int stable_index(fo_route_id id)
{
    for (int i = 0; i < NSTABLE; i++)
        if (stable[i] == id)
            return i;
    return -1;
}

/* ---- small helpers ------------------------------------------------------- */

static uint64_t rnd(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

static void sleep_us(unsigned us)
{
    struct timespec ts = {(time_t)(us / 1000000u),
                          (long)(us % 1000000u) * 1000L};

    nanosleep(&ts, NULL);
}

static bool stopping(void)
{
    return atomic_load_explicit(&stop, memory_order_relaxed);
}

static bool state_valid(int s)
{
    return s >= FO_STATE_UP && s <= FO_STATE_DRILL;
}

static bool reason_valid(int r)
{
    return r >= FO_REASON_NONE && r <= FO_REASON_GUARD_ENDED;
}

/* Routes take turns being sick (most calls and probes fail), so each goes
 * out and comes back during the run. */
static bool sick(fo_route_id id)
{
    return (fo_clock_monotonic_ns() / (250 * MSEC) + mix(id)) % 3 == 0;
}

static const fo_result faults[] = {FO_RESULT_CONGESTION, FO_RESULT_UNAVAILABLE,
                                   FO_RESULT_TIMEOUT, FO_RESULT_REJECTED};
static const fo_result others[] = {FO_RESULT_SUCCESS,  FO_RESULT_SUCCESS,
                                   FO_RESULT_SUCCESS,  FO_RESULT_SUCCESS,
                                   FO_RESULT_BUSY,     FO_RESULT_NOANSWER,
                                   FO_RESULT_DECLINED, FO_RESULT_CANCELLED};

static fo_result some_result(uint64_t *rng, fo_route_id id)
{
    unsigned fault_pct = sick(id) ? 75 : 2;

    if (rnd(rng) % 100 < fault_pct)
        return faults[rnd(rng) % 4];
    return others[rnd(rng) % 8];
}

/* ---- snapshots ----------------------------------------------------------- */

/* What any route snapshot must satisfy, however busy the router. */
static void check_route_stats(const fo_route_stats *s)
{
    uint64_t results = 0, classes = 0;

    checkf(state_valid((int)s->state), "state %d", (int)s->state);
    checkf(reason_valid((int)s->reason), "reason %d", (int)s->reason);
    check(s->admin == FO_ADMIN_ENABLED || s->admin == FO_ADMIN_DRAINING ||
          s->admin == FO_ADMIN_DISABLED);
    check(memchr(s->name, '\0', sizeof s->name) != NULL && s->name[0] != 0);
    check(memchr(s->reason_text, '\0', sizeof s->reason_text) != NULL);
    for (unsigned i = 0; i < FO_STATS_RESULTS; i++) {
        if (i == 0 || i >= NRESULTS)
            check(s->results[i] == 0); /* not a result */
        results += s->results[i];
    }
    for (unsigned i = 0; i < FO_STATS_CLASSES; i++) {
        if (i < FO_CLASS_SUCCESS || i > FO_CLASS_ROUTE_FAULT)
            check(s->classes[i] == 0); /* not a class */
        classes += s->classes[i];
    }
    checkf(results == s->reports && classes == s->reports,
           "%s: results %llu, classes %llu, reports %llu", s->name,
           (unsigned long long)results, (unsigned long long)classes,
           (unsigned long long)s->reports);
    check(s->stale_reports <= s->reports);
    checkf(s->window_faults <= s->window_attempts,
           "%s: window faults %llu > attempts %llu", s->name,
           (unsigned long long)s->window_faults,
           (unsigned long long)s->window_attempts);
    check(s->window_slow <= s->window_timed);
    check(s->window_timed <= s->window_attempts);
    check(s->window_failure_rate >= 0.0 && s->window_failure_rate <= 1.0);
    check(s->trial_slots == 2 && s->trial_slots_in_use <= s->trial_slots);
    check(s->trial_picks + s->panic_picks <= s->picks);
    check(s->probes_answered + s->probes_failed + s->probes_timed_out <=
          s->probes_sent);
    check((s->flags & ~(FO_STATS_GUARDED | FO_STATS_PROBED | FO_STATS_RAMPING |
                        FO_STATS_AWAITS_REGISTRATION)) == 0);
    check(s->now_ns >= s->state_since_ns &&
          s->time_in_state_ns == s->now_ns - s->state_since_ns);
    /* The operator's states overlay health: DISABLED wins, then a drill,
     * then DRAINING. */
    check((s->admin == FO_ADMIN_DISABLED) == (s->state == FO_STATE_DISABLED));
    check(s->state != FO_STATE_DRAINING || s->admin == FO_ADMIN_DRAINING);
    check(s->admin != FO_ADMIN_DRAINING || s->state == FO_STATE_DRAINING ||
          s->state == FO_STATE_DRILL);
    check(s->state == FO_STATE_EJECTED || s->state == FO_STATE_SUPPRESSED ||
          s->state == FO_STATE_DRILL || s->until_ns == 0);
}

static void check_router_stats(const fo_router_stats *s)
{
    uint64_t in_states = 0;

    for (unsigned i = 0; i < FO_STATS_STATES; i++) {
        check(state_valid((int)i) || s->routes_in_state[i] == 0);
        in_states += s->routes_in_state[i];
    }
    checkf(in_states == s->routes, "routes %u, by state %llu", s->routes,
           (unsigned long long)in_states);
    check(s->plans == 0 && s->lists_in_panic <= 1);
    check(s->panic_picks + s->no_route_picks <= s->picks);
    check((s->flags &
           ~(FO_ROUTER_STATS_LOCAL_FAULT | FO_ROUTER_STATS_THREAD)) == 0);
}

/* ---- events -------------------------------------------------------------- */

static atomic_int in_callback; /* event and log callbacks running now */
static uint64_t ev_calls, ev_last_seq, ev_last_time, ev_dropped_sum;
static uint64_t ev_drops; /* DROPPED events: the drop epoch */
static uint64_t log_last_seq, log_lines;
static unsigned states_seen; /* bit per state entered */
static uint64_t ev_kinds[FO_EVENT_DROPPED + 1];

/* Holding up one delivery so the queue overflows: the churn thread asks,
 * the next event callback on another thread waits, the churn thread makes
 * more events than the queue holds, then lets it go. */
enum { HOLD_IDLE, HOLD_WANTED, HOLD_HELD, HOLD_RELEASED };
static atomic_int hold;
static _Thread_local bool is_flooder;

static void callback_enter(void)
{
    /* Relaxed: an overlap shows in the count without ordering anything. */
    checkf(atomic_fetch_add_explicit(&in_callback, 1, memory_order_relaxed) ==
               0,
           "event or log callbacks ran concurrently");
}

static void callback_leave(void)
{
    atomic_fetch_sub_explicit(&in_callback, 1, memory_order_relaxed);
}

static void track_route_event(const fo_event *ev)
{
    struct rec *r = rec_of(ev->route, true);
    bool known;

    if (r == NULL)
        return;
    check(!r->ev_removed); /* nothing happens to a route after removal */
    known = r->ev_known == ev_drops + 1;
    switch (ev->kind) {
    case FO_EVENT_ROUTE_ADDED:
        check(ev->new_state == FO_STATE_UP && r->ev_known == 0);
        break;
    case FO_EVENT_STATE:
        /* Each change starts where the previous one ended, unless the
         * events between them were lost. */
        checkf(!known || ev->old_state == r->ev_state,
               "%s: STATE %s -> %s after %s (seq %llu)", ev->route_name,
               fo_route_state_name(ev->old_state),
               fo_route_state_name(ev->new_state),
               fo_route_state_name(r->ev_state), (unsigned long long)ev->seq);
        check(ev->old_state != ev->new_state);
        r->ev_transitions++;
        states_seen |= 1u << ev->new_state;
        break;
    case FO_EVENT_UPDATE:
    case FO_EVENT_GUARD:
        checkf(!known || ev->new_state == r->ev_state,
               "%s: %s in %s after STATE to %s", ev->route_name,
               fo_event_kind_name(ev->kind), fo_route_state_name(ev->new_state),
               fo_route_state_name(r->ev_state));
        check(ev->old_state == ev->new_state);
        break;
    case FO_EVENT_ROUTE_REMOVED:
        r->ev_removed = true;
        break;
    default:
        break;
    }
    r->ev_state = ev->new_state;
    r->ev_known = ev_drops + 1;
}

static void maybe_hold(void)
{
    int want = HOLD_WANTED;

    if (is_flooder || atomic_load(&hold) != HOLD_WANTED ||
        !atomic_compare_exchange_strong(&hold, &want, HOLD_HELD))
        return;
    for (int i = 0; i < 3000 && atomic_load(&hold) != HOLD_RELEASED; i++)
        sleep_us(1000);
    check(atomic_load(&hold) == HOLD_RELEASED);
}

static void on_event(fo_router *r, const fo_event *ev, void *userdata)
{
    callback_enter();
    check(r == router && userdata == &ev_calls);
    ev_calls++;
    /* 1, 2, 3, ...: lost events are one DROPPED event in their place. */
    checkf(ev->seq == ev_last_seq + 1, "seq %llu after %llu",
           (unsigned long long)ev->seq, (unsigned long long)ev_last_seq);
    ev_last_seq = ev->seq;
    check(ev->time_ns >= ev_last_time);
    ev_last_time = ev->time_ns;
    check(ev->text != NULL && ev->route_name != NULL);
    check(reason_valid((int)ev->reason));
    checkf(state_valid((int)ev->old_state) && state_valid((int)ev->new_state),
           "event states %d -> %d", (int)ev->old_state, (int)ev->new_state);
    checkf(ev->kind >= FO_EVENT_STATE && ev->kind <= FO_EVENT_DROPPED,
           "event kind %d", (int)ev->kind);
    if (ev->kind >= FO_EVENT_STATE && ev->kind <= FO_EVENT_DROPPED)
        ev_kinds[ev->kind]++;
    switch (ev->kind) {
    case FO_EVENT_STATE:
    case FO_EVENT_UPDATE:
    case FO_EVENT_GUARD:
    case FO_EVENT_ROUTE_ADDED:
    case FO_EVENT_ROUTE_REMOVED:
        check(ev->route != FO_ROUTE_ID_NONE && ev->route_name[0] != '\0');
        track_route_event(ev);
        break;
    case FO_EVENT_DROPPED:
        check(ev->count > 0);
        ev_dropped_sum += ev->count;
        ev_drops++; /* what the routes' events said is unknown now */
        break;
    case FO_EVENT_PANIC_STARTED:
    case FO_EVENT_PANIC_ENDED:
        check(ev->plan == FO_PLAN_ID_NONE);
        break;
    default:
        break;
    }
    /* Calling back in is allowed, except what would wait for this very
     * callback. */
    if (ev->seq % 64 == 0) {
        fo_route_state st;
        int rc = fo_route_get_state(r, ev->route, &st);

        check(rc == FO_OK || rc == FO_ENOENT);
        check(rc != FO_OK || state_valid((int)st));
        check(fo_router_stop_thread(r) == FO_EBUSY);
        check(fo_router_start_thread(r) == FO_EBUSY);
    }
    maybe_hold();
    callback_leave();
}

static void on_log(fo_router *r, fo_log_level level, const char *line,
                   const fo_event *ev, void *userdata)
{
    callback_enter();
    check(r == router && userdata == &log_lines);
    check(level >= FO_LOG_ERROR && level <= FO_LOG_DEBUG);
    check(line != NULL && line[0] != '\0' && ev != NULL);
    check(ev->seq > log_last_seq);
    log_last_seq = ev->seq;
    log_lines++;
    callback_leave();
}

/* ---- probes -------------------------------------------------------------- */

struct probe_ctx {
    fo_route_id route;
    atomic_int running;
};

struct pending {
    fo_probe_token token;
    fo_route_id route;
};

/* Tokens handed from the probe callbacks to the completer. */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending ring[RING];
static unsigned ring_head, ring_count;

static void complete(fo_route_id route, fo_probe_token token, fo_result res)
{
    struct rec *r = rec_of(route, true);
    uint64_t t = ticket_before();
    int rc = fo_probe_done(router, token, res);

    if (r == NULL)
        return;
    switch (rc) {
    case FO_OK:
        if (fo_result_default_class(res) != FO_CLASS_NEUTRAL)
            bump(&r->probe_taken);
        checkf(!removed_before(r, t), "probe of a removed route taken");
        break;
    case FO_EALREADY: /* after its timeout, twice, or replaced */
        bump(&r->probe_already);
        checkf(!removed_before(r, t), "EALREADY for a removed route's probe");
        break;
    case FO_ENOENT:
        checkf(stable_index(route) < 0 && removal_started(r),
               "probe of a route that exists: ENOENT");
        break;
    default:
        failf(__LINE__, "fo_probe_done: %s", fo_error_name(rc));
        break;
    }
}

static _Thread_local uint64_t cb_rng;

static void on_probe(fo_router *r, fo_route_id route, fo_probe_token token,
                     void *userdata)
{
    struct probe_ctx *ctx = userdata;
    struct rec *rr = rec_of(route, true);

    atomic_fetch_add(&ctx->running, 1);
    if (cb_rng == 0)
        cb_rng = (uint64_t)(uintptr_t)&cb_rng | 1;
    check(r == router && route == ctx->route && token != 0);
    if (rr != NULL)
        bump(&rr->probe_calls);
    if (rnd(&cb_rng) % 16 == 0) {
        /* Waiting for this callback's own thread would never end. */
        check(fo_router_tick(r) == FO_EBUSY);
        check(fo_router_stop_thread(r) == FO_EBUSY);
    }
    if (rnd(&cb_rng) % 8 == 0) {
        /* A probe that completes at once, from inside its callback. */
        complete(route, token,
                 sick(route) ? FO_RESULT_TIMEOUT : FO_RESULT_SUCCESS);
    } else {
        pthread_mutex_lock(&ring_lock);
        if (ring_count < RING) { /* else it times out */
            ring[(ring_head + ring_count) % RING] =
                (struct pending){token, route};
            ring_count++;
        }
        pthread_mutex_unlock(&ring_lock);
    }
    atomic_fetch_sub(&ctx->running, 1);
}

static void on_probe_destroy(void *userdata)
{
    struct probe_ctx *ctx = userdata;

    check(atomic_load(&ctx->running) == 0); /* never while it runs */
    atomic_fetch_add(&destroys, 1);
    free(ctx); /* a later callback would be a use after free */
}

/* Sets a probe on route; returns fo_set_probe()'s code. */
static int set_probe(fo_route_id route, uint64_t *rng)
{
    struct probe_ctx *ctx = malloc(sizeof *ctx);
    fo_probe_options o;
    int rc;

    if (ctx == NULL) {
        failf(__LINE__, "out of memory");
        return FO_ENOMEM;
    }
    ctx->route = route;
    atomic_init(&ctx->running, 0);
    FO_PROBE_OPTIONS_INIT(&o);
    o.destroy = on_probe_destroy;
    o.interval_ns = (10 + rnd(rng) % 10) * MSEC;
    o.down_interval_ns = 10 * MSEC;
    o.timeout_ns = 20 * MSEC;
    o.rise = 2;
    o.fall = 2;
    o.evidence = rnd(rng) % 2 ? FO_PROBE_STRONG : FO_PROBE_WEAK;
    rc = fo_set_probe(router, route, on_probe, ctx, &o);
    if (rc == FO_OK)
        atomic_fetch_add(&registrations, 1);
    else
        free(ctx); /* not registered: still ours */
    return rc;
}

static void *completer_main(void *arg)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;

    (void)arg;
    while (!stopping()) {
        struct pending p;
        bool got = false;
        unsigned action;

        pthread_mutex_lock(&ring_lock);
        if (ring_count > 0) {
            p = ring[ring_head];
            ring_head = (ring_head + 1) % RING;
            ring_count--;
            got = true;
        }
        pthread_mutex_unlock(&ring_lock);
        if (!got) {
            sleep_us(300);
            continue;
        }
        action = (unsigned)(rnd(&rng) % 20);
        if (action < 2)
            continue; /* never answered: the router times it out */
        if (action < 3) {
            complete(p.route, p.token, FO_RESULT_CANCELLED);
        } else if (sick(p.route) ? action < 17 : action < 5) {
            complete(p.route, p.token, faults[rnd(&rng) % 4]);
        } else {
            complete(p.route, p.token,
                     action % 2 ? FO_RESULT_SUCCESS : FO_RESULT_BUSY);
        }
        if (action % 7 == 0) /* a duplicate answer */
            complete(p.route, p.token, FO_RESULT_SUCCESS);
    }
    check(fo_probe_done(router, 0, FO_RESULT_SUCCESS) == FO_ENOENT);
    return NULL;
}

/* ---- pickers ------------------------------------------------------------- */

struct picker {
    uint64_t rng;
    uint64_t hunts, picks, no_route, reports;
};

/* Reports res for id; counts it if the router took it. */
static int report(struct picker *p, fo_attempt *at, fo_route_id id,
                  fo_result res)
{
    struct rec *r = rec_of(id, true);
    uint64_t t = ticket_before();
    int rc;

    if (rnd(&p->rng) % 3 == 0) {
        fo_report rep = FO_REPORT_INIT(res);

        rep.latency_ns = rnd(&p->rng) % 12 * MSEC;
        if (fo_result_default_class(res) == FO_CLASS_ROUTE_FAULT &&
            rnd(&p->rng) % 8 == 0)
            rep.retry_after_ns = (20 + rnd(&p->rng) % 130) * MSEC;
        rc = fo_report_result_ex(router, id, &rep, at);
    } else {
        rc = fo_report_result(router, id, res, at);
    }
    if (r == NULL)
        return rc;
    if (rc == FO_OK) {
        p->reports++;
        bump(&r->reported[res]);
        checkf(!removed_before(r, t),
               "report accepted for a route removed before it started");
    } else {
        checkf(rc == FO_ENOENT && stable_index(id) < 0 && removal_started(r),
               "report: %s", fo_error_name(rc));
    }
    return rc;
}

static void picked(struct picker *p, const fo_attempt *at, fo_route_id id,
                   uint64_t t, const uint64_t *gen, const fo_pick *pk)
{
    struct rec *r = rec_of(id, true);
    size_t n = fo_attempt_count(at);
    int si = stable_index(id);

    p->picks++;
    check(id != FO_ROUTE_ID_NONE);
    check(n >= 1 && fo_attempt_route(at, n - 1) == id);
    for (size_t k = 0; k + 1 < n; k++)
        checkf(fo_attempt_route(at, k) != id, "a call got a route twice");
    if (r == NULL)
        return;
    checkf(!removed_before(r, t), "picked a route removed before the pick");
    if (si >= 0) {
        uint64_t now =
            atomic_load_explicit(&admin_out[si], memory_order_acquire);

        checkf(!(now == gen[si] && now % 2 == 1),
               "picked stable-%d while the operator had it out", si);
    }
    bump(&r->picks);
    if (pk == NULL) {
        bump(&r->plain_picks);
        return;
    }
    check((pk->flags & ~0x3fu) == 0);
    if (pk->flags & FO_PICK_PANIC)
        bump(&r->panic_picks);
    if (pk->flags & FO_PICK_TRIAL)
        bump(&r->trial_picks);
    /* Each route passed over is listed once, and the chosen one not at
     * all. */
    for (uint32_t k = 0; k < pk->skipped_count && k < pk->skipped_capacity;
         k++) {
        checkf(pk->skipped[k].route != FO_ROUTE_ID_NONE &&
                   pk->skipped[k].route != id,
               "skipped[%u] of %u (capacity %u) is the chosen route", k,
               pk->skipped_count, pk->skipped_capacity);
        check(pk->skipped[k].reason >= FO_SKIP_TRIED &&
              pk->skipped[k].reason <= FO_SKIP_GUARDED);
        for (uint32_t j = 0; j < k; j++)
            checkf(pk->skipped[j].route != pk->skipped[k].route,
                   "skipped[%u] and [%u] are the same route", j, k);
    }
}

/* One call: pick, report, and hunt down the list while routes fail. */
static void hunt(struct picker *p)
{
    fo_attempt at = FO_ATTEMPT_INIT;

    for (;;) {
        uint64_t gen[NSTABLE], t;
        fo_skip skipped[4];
        fo_pick pk = FO_PICK_INIT;
        bool ex = rnd(&p->rng) % 4 != 0;
        fo_route_id id = FO_ROUTE_ID_NONE;
        fo_result res;
        int rc;

        for (int i = 0; i < NSTABLE; i++)
            gen[i] = atomic_load_explicit(&admin_out[i], memory_order_acquire);
        t = ticket_before();
        if (ex) {
            if (rnd(&p->rng) % 2) {
                pk.skipped = skipped;
                pk.skipped_capacity = 4;
            }
            rc = fo_pick_route_ex(router, &at, &pk);
            id = pk.route;
        } else {
            rc = fo_pick_route(router, &at, &id);
        }
        if (rc == FO_ENOROUTE) {
            p->no_route++;
            check(id == FO_ROUTE_ID_NONE);
            return;
        }
        if (rc == FO_ELIMIT) {
            check(fo_attempt_count(&at) == MAX_ATTEMPTS);
            return;
        }
        if (rc != FO_OK) {
            failf(__LINE__, "pick: %s", fo_error_name(rc));
            return;
        }
        picked(p, &at, id, t, gen, ex ? &pk : NULL);
        res = some_result(&p->rng, id);
        rc = report(p, &at, id, res);
        if (rc == FO_OK && rnd(&p->rng) % 16 == 0) {
            /* A result counts once per route per call. */
            struct rec *r = rec_of(id, false);

            rc = fo_report_result(router, id, FO_RESULT_SUCCESS, &at);
            check(rc == FO_EALREADY ||
                  (rc == FO_ENOENT && stable_index(id) < 0 &&
                   removal_started(r)));
        }
        if (fo_result_default_class(res) != FO_CLASS_ROUTE_FAULT)
            return;
    }
}

static void *picker_main(void *arg)
{
    struct picker *p = arg;

    while (!stopping() && p->hunts < PICKER_HUNTS) {
        p->hunts++;
        if (rnd(&p->rng) % 32 == 0) {
            /* A result for a route nobody picked (no attempt). */
            fo_route_id id = stable[rnd(&p->rng) % NSTABLE];

            check(report(p, NULL, id, some_result(&p->rng, id)) == FO_OK);
            continue;
        }
        hunt(p);
    }
    return NULL;
}

/* ---- adding and removing routes ------------------------------------------ */

static fo_route_id churn_add(const char *prefix, unsigned serial, bool probe,
                             uint64_t *rng)
{
    char name[32];
    fo_route_id id = FO_ROUTE_ID_NONE, found = FO_ROUTE_ID_NONE;
    int rc;

    snprintf(name, sizeof name, "%s-%u", prefix, serial);
    /* Priority 0 competes with the best stable routes; weight 0 is a
     * backup. */
    rc = fo_route_add(router, name, (uint32_t)(rnd(rng) % 3),
                      (uint32_t)(rnd(rng) % 3), (uint32_t)(rnd(rng) % 5), &id);
    checkf(rc == FO_OK, "add %s: %s", name, fo_error_name(rc));
    if (rc != FO_OK)
        return FO_ROUTE_ID_NONE;
    rec_of(id, true);
    check(fo_route_lookup(router, name, &found) == FO_OK && found == id);
    if (probe)
        check(set_probe(id, rng) == FO_OK);
    return id;
}

static void churn_remove(fo_route_id id)
{
    struct rec *r = rec_of(id, true);
    fo_route_stats s = FO_ROUTE_STATS_INIT;
    fo_route_state st;
    uint64_t t;
    int rc;

    if (r == NULL)
        return;
    atomic_store_explicit(&r->removing, 1, memory_order_relaxed);
    rc = fo_route_remove(router, id);
    t = ticket_after();
    atomic_store_explicit(&r->removed, t, memory_order_relaxed);
    checkf(rc == FO_OK, "remove: %s", fo_error_name(rc));
    /* Dead for good, at once. */
    check(fo_route_get_state(router, id, &st) == FO_ENOENT);
    check(fo_route_get_stats(router, id, &s) == FO_ENOENT);
    check(fo_report_result(router, id, FO_RESULT_SUCCESS, NULL) == FO_ENOENT);
    check(fo_set_probe(router, id, on_probe, NULL, NULL) == FO_ENOENT);
    check(fo_route_update(router, id, 1, 1, 1) == FO_ENOENT);
    check(fo_route_remove(router, id) == FO_ENOENT);
}

/* Holds up one event delivery and makes more events than the queue holds,
 * so that events are lost and the loss is reported in order. */
static bool flood(uint64_t *rng)
{
    int want = HOLD_WANTED;
    bool held = false;

    is_flooder = true;
    atomic_store(&hold, HOLD_WANTED);
    for (int i = 0; i < 2000 && !held; i++) {
        held = atomic_load(&hold) == HOLD_HELD;
        if (!held)
            sleep_us(1000);
    }
    if (!held && atomic_compare_exchange_strong(&hold, &want, HOLD_IDLE))
        return false; /* no event to hold up: nothing to flood */
    for (unsigned i = 0; i < FLOOD; i++) {
        fo_route_id id = churn_add("flood", i, false, rng);

        if (id != FO_ROUTE_ID_NONE)
            churn_remove(id);
    }
    atomic_store(&hold, HOLD_RELEASED);
    return true;
}

static atomic_bool flooded;

static void *churn_main(void *arg)
{
    fo_route_id live[CHURN_LIVE];
    unsigned nlive = 0, serial = 0;
    uint64_t rng = 0x2545f4914f6cdd1dull;
    bool tried = false;

    (void)arg;
    for (int op = 0; op < CHURN_OPS && !stopping(); op++) {
        sleep_us(250);
        if (!tried && fo_clock_monotonic_ns() - start_ns > RUN_NS / 3) {
            tried = true;
            atomic_store(&flooded, flood(&rng));
        }
        if (nlive < CHURN_LIVE && (nlive == 0 || rnd(&rng) % 2)) {
            fo_route_id id = churn_add("churn", serial++, rnd(&rng) % 2, &rng);

            if (id != FO_ROUTE_ID_NONE)
                live[nlive++] = id;
        } else {
            unsigned k = (unsigned)(rnd(&rng) % nlive);

            churn_remove(live[k]);
            live[k] = live[--nlive];
        }
        if (nlive > 0 && rnd(&rng) % 4 == 0)
            check(fo_route_update(router, live[rnd(&rng) % nlive],
                                  (uint32_t)(rnd(&rng) % 3), 1 + rnd(&rng) % 3,
                                  0) == FO_OK);
    }
    return NULL;
}

/* ---- the operator -------------------------------------------------------- */

struct operator_state {
    uint64_t rng;
    fo_admin admin[NSTABLE];
    bool reg_lost[NSTABLE];      /* held out until REGISTRATION_RESTORED */
    bool drilling[NSTABLE];      /* a drill was started and not ended by us */
    uint64_t drill_end[NSTABLE]; /* router time it lasts at least until */
    bool log_on;
};

/* After each of its own calls the operator knows what the route must
 * show: nobody else changes these settings of stable routes. */
static void verify(struct operator_state *o, int si)
{
    fo_route_stats s = FO_ROUTE_STATS_INIT;
    int rc = fo_route_get_stats(router, stable[si], &s);

    checkf(rc == FO_OK, "stats: %s", fo_error_name(rc));
    if (rc != FO_OK)
        return;
    check_route_stats(&s);
    checkf(s.admin == o->admin[si], "stable-%d: admin %d, set %d", si,
           (int)s.admin, (int)o->admin[si]);
    if (o->reg_lost[si]) {
        /* Out until registered again, whatever calls and probes say. */
        checkf(s.state != FO_STATE_UP && s.state != FO_STATE_TRIAL &&
                   (s.flags & FO_STATS_AWAITS_REGISTRATION),
               "stable-%d: %s with its registration lost", si,
               fo_route_state_name(s.state));
    }
    if (o->drilling[si] && s.now_ns < o->drill_end[si] &&
        o->admin[si] != FO_ADMIN_DISABLED)
        checkf(s.state == FO_STATE_DRILL, "stable-%d: %s during a drill", si,
               fo_route_state_name(s.state));
    if (!o->drilling[si])
        check(s.state != FO_STATE_DRILL);
}

/* The same calls on a churned route, which may be gone by now. */
static void operate_churned(struct operator_state *o)
{
    fo_route_id id = atomic_load_explicit(&recs[rnd(&o->rng) % NREC].id,
                                          memory_order_relaxed);
    struct rec *r;
    uint64_t t;
    int rc;

    if (id == FO_ROUTE_ID_NONE || stable_index(id) >= 0)
        return;
    r = rec_of(id, false);
    t = ticket_before();
    switch (rnd(&o->rng) % 6) {
    case 0:
        rc = fo_route_set_admin(router, id, (fo_admin)(rnd(&o->rng) % 3));
        break;
    case 1:
        rc = fo_route_drill(router, id, rnd(&o->rng) % 30 * MSEC);
        break;
    case 2:
        rc = fo_route_signal(router, id, (fo_signal)(1 + rnd(&o->rng) % 4));
        break;
    case 3:
        rc = fo_route_update(router, id, (uint32_t)(rnd(&o->rng) % 3), 1, 0);
        break;
    case 4:
        rc = set_probe(id, &o->rng); /* replaces the probe */
        break;
    default:
        rc = fo_set_probe(router, id, NULL, NULL, NULL); /* removes it */
        break;
    }
    if (rc == FO_OK)
        checkf(!removed_before(r, t), "a removed route took a change");
    else
        checkf(rc == FO_ENOENT && removal_started(r), "operator: %s",
               fo_error_name(rc));
}

static void operate(struct operator_state *o)
{
    int si = (int)(rnd(&o->rng) % NSTABLE);
    fo_route_id id = stable[si];
    fo_result_class cls;
    uint64_t now;

    switch (rnd(&o->rng) % 14) {
    case 0: /* out of service for a while */
    case 1:
        if (o->admin[si] != FO_ADMIN_ENABLED)
            break;
        o->admin[si] = rnd(&o->rng) % 2 ? FO_ADMIN_DISABLED : FO_ADMIN_DRAINING;
        check(fo_route_set_admin(router, id, o->admin[si]) == FO_OK);
        atomic_fetch_add_explicit(&admin_out[si], 1, memory_order_release);
        break;
    case 2: /* and back */
    case 3:
    case 4:
        if (o->admin[si] == FO_ADMIN_ENABLED)
            break;
        atomic_fetch_add_explicit(&admin_out[si], 1, memory_order_release);
        o->admin[si] = FO_ADMIN_ENABLED;
        check(fo_route_set_admin(router, id, FO_ADMIN_ENABLED) == FO_OK);
        break;
    case 5:
        check(fo_router_now(router, &now) == FO_OK);
        o->drill_end[si] = now + (5 + rnd(&o->rng) % 40) * MSEC;
        o->drilling[si] = true;
        check(fo_route_drill(router, id, o->drill_end[si] - now) == FO_OK);
        break;
    case 6:
        o->drilling[si] = false;
        check(fo_route_drill(router, id, 0) == FO_OK);
        break;
    case 7:
        check(fo_route_signal(router, id,
                              o->reg_lost[si]
                                  ? FO_SIGNAL_REGISTRATION_RESTORED
                                  : FO_SIGNAL_REGISTRATION_LOST) == FO_OK);
        o->reg_lost[si] = !o->reg_lost[si];
        break;
    case 8:
        check(fo_route_signal(router, id, FO_SIGNAL_KEEPALIVE_LOST) == FO_OK);
        break;
    case 9:
        check(fo_route_signal(router, id, FO_SIGNAL_KEEPALIVE_RESTORED) ==
              FO_OK);
        break;
    case 10:
        check(fo_route_update(router, id, (uint32_t)(si / 2 + rnd(&o->rng) % 2),
                              1 + (uint32_t)(rnd(&o->rng) % 3),
                              (uint32_t)(rnd(&o->rng) % 5)) == FO_OK);
        break;
    case 11:
        cls = rnd(&o->rng) % 2 ? FO_CLASS_CALLEE : FO_CLASS_ROUTE_FAULT;
        check(fo_router_set_result_class(router, FO_RESULT_DECLINED, cls) ==
              FO_OK);
        check(fo_router_get_result_class(router, FO_RESULT_DECLINED, &cls) ==
              FO_OK);
        check(fo_router_set_panic(router, rnd(&o->rng) % 4
                                              ? FO_PANIC_BEST_EFFORT
                                              : FO_PANIC_FAIL) == FO_OK);
        break;
    case 12:
        o->log_on = !o->log_on;
        check(fo_router_set_log_cb(router, FO_LOG_DEBUG,
                                   o->log_on ? on_log : NULL,
                                   &log_lines) == FO_OK);
        break;
    default:
        operate_churned(o);
        return;
    }
    verify(o, si);
}

static void *operator_main(void *arg)
{
    struct operator_state *o = arg;

    for (int op = 0; op < OPERATOR_OPS && !stopping(); op++) {
        sleep_us(200);
        operate(o);
    }
    return NULL;
}

/* ---- ticking ------------------------------------------------------------- */

static void check_thread_flag(bool running)
{
    fo_router_stats s = FO_ROUTER_STATS_INIT;

    check(fo_router_get_stats(router, &s) == FO_OK);
    check(((s.flags & FO_ROUTER_STATS_THREAD) != 0) == running);
}

/* Drives the timers by hand, and by turns lets the router's own thread do
 * it, starting and stopping it while everything else runs. */
static void *ticker_main(void *arg)
{
    uint64_t rng = 0x853c49e6748fea9bull, switch_at = 0;
    bool threaded = false;

    (void)arg;
    while (!stopping()) {
        uint64_t now = fo_clock_monotonic_ns(), deadline;
        int rc, ms = 0;

        if (now >= switch_at) {
            rc = threaded ? fo_router_stop_thread(router)
                          : fo_router_start_thread(router);
            checkf(rc == FO_OK, "start/stop thread: %s", fo_error_name(rc));
            threaded = !threaded;
            check_thread_flag(threaded);
            switch_at = now + (30 + rnd(&rng) % 70) * MSEC;
        }
        rc = fo_router_tick(router);
        /* Nobody else ticks while the router's thread is stopped. */
        checkf(rc == FO_OK || (threaded && rc == FO_EBUSY), "tick: %s",
               fo_error_name(rc));
        check(fo_router_next_timeout_ms(router, &ms) == FO_OK && ms >= -1);
        check(fo_router_next_deadline(router, &deadline) == FO_OK);
        sleep_us(ms >= 0 && ms < 2 ? (unsigned)ms * 1000 + 100 : 2000);
    }
    if (threaded)
        check(fo_router_stop_thread(router) == FO_OK);
    check_thread_flag(false);
    return NULL;
}

/* ---- reading ------------------------------------------------------------- */

struct reader {
    uint64_t rng;
    fo_route_stats prev[NSTABLE];
    fo_router_stats prev_router;
    uint64_t metrics_reports;
    char *metrics;
    uint64_t dumps, scrapes;
};

static void read_route(struct reader *rd, int si)
{
    fo_route_stats s = FO_ROUTE_STATS_INIT;
    fo_route_stats *p = &rd->prev[si];
    fo_route_state st;
    fo_reason reason;
    char text[FO_REASON_TEXT_MAX];

    check(fo_route_get_stats(router, stable[si], &s) == FO_OK);
    check_route_stats(&s);
    check(s.route == stable[si]);
    /* Counters only grow. */
    for (unsigned i = 0; i < NRESULTS; i++)
        check(s.results[i] >= p->results[i]);
    check(s.picks >= p->picks && s.transitions >= p->transitions &&
          s.ejections >= p->ejections && s.probes_sent >= p->probes_sent &&
          s.now_ns >= p->now_ns);
    *p = s;
    check(fo_route_get_state(router, stable[si], &st) == FO_OK);
    checkf(state_valid((int)st), "state %d", (int)st);
    check(fo_route_get_reason(router, stable[si], &reason, text, sizeof text) ==
          FO_OK);
    check(reason_valid((int)reason) && memchr(text, '\0', sizeof text));
}

static void read_churned(struct reader *rd)
{
    fo_route_id id = atomic_load_explicit(&recs[rnd(&rd->rng) % NREC].id,
                                          memory_order_relaxed);
    fo_route_stats s = FO_ROUTE_STATS_INIT;
    struct rec *r;
    uint64_t t;
    int rc;

    if (id == FO_ROUTE_ID_NONE)
        return;
    r = rec_of(id, false);
    t = ticket_before();
    rc = fo_route_get_stats(router, id, &s);
    if (rc == FO_OK) {
        check_route_stats(&s);
        checkf(!removed_before(r, t), "stats of a removed route");
    } else {
        checkf(rc == FO_ENOENT && removal_started(r), "stats: %s",
               fo_error_name(rc));
    }
}

static uint64_t metrics_value(const char *text, const char *name)
{
    size_t len = strlen(name);

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, name, len) == 0 && p[len] == ' ')
            return strtoull(p + len + 1, NULL, 10);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    failf(__LINE__, "%s missing from the metrics", name);
    return 0;
}

static void scrape(struct reader *rd, uint64_t reports_before)
{
    fo_router_stats after = FO_ROUTER_STATS_INIT;
    size_t size = rnd(&rd->rng) % 4 ? METRICS_SIZE : 1000;
    int64_t n = fo_router_write_metrics(router, rd->metrics, size);
    uint64_t reports;

    rd->scrapes++;
    checkf(n > 0, "metrics: %lld", (long long)n);
    if (n <= 0)
        return;
    if ((size_t)n >= size) {
        /* Too small: only whole lines. */
        size_t len = strlen(rd->metrics);

        check(len < size && (len == 0 || rd->metrics[len - 1] == '\n'));
        return;
    }
    check(strlen(rd->metrics) == (size_t)n && rd->metrics[n - 1] == '\n');
    reports = metrics_value(rd->metrics, "failover_reports_total");
    check(fo_router_get_stats(router, &after) == FO_OK);
    /* A consistent total: between the snapshots taken around it. */
    checkf(reports >= reports_before && reports <= after.reports &&
               reports >= rd->metrics_reports,
           "metrics reports %llu, stats %llu..%llu",
           (unsigned long long)reports, (unsigned long long)reports_before,
           (unsigned long long)after.reports);
    rd->metrics_reports = reports;
    check(fo_router_write_metrics(router, NULL, 0) > 0);
}

static void dump(struct reader *rd)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    check(out != NULL);
    if (out == NULL)
        return;
    check(fo_router_dump(router, out) == FO_OK);
    fclose(out);
    check(text != NULL && strncmp(text, "router at ", 10) == 0 &&
          strstr(text, "\nROUTE") != NULL);
    free(text);
    rd->dumps++;
}

static void *reader_main(void *arg)
{
    struct reader *rd = arg;

    for (int op = 0; op < READER_OPS && !stopping(); op++) {
        fo_router_stats s = FO_ROUTER_STATS_INIT;
        fo_router_stats *p = &rd->prev_router;

        sleep_us(500);
        for (int si = 0; si < NSTABLE; si++)
            read_route(rd, si);
        for (int k = 0; k < 4; k++)
            read_churned(rd);
        check(fo_router_get_stats(router, &s) == FO_OK);
        check_router_stats(&s);
        check(s.picks >= p->picks && s.reports >= p->reports &&
              s.no_route_picks >= p->no_route_picks &&
              s.panic_picks >= p->panic_picks &&
              s.events_delivered >= p->events_delivered &&
              s.events_dropped >= p->events_dropped && s.now_ns >= p->now_ns);
        *p = s;
        if (op % 8 == 0)
            scrape(rd, s.reports);
        if (op % 16 == 0)
            dump(rd);
    }
    return NULL;
}

/* ---- the test ------------------------------------------------------------ */

static void set_options(fo_router_options *o)
{
    o->clock = NULL; /* the real CLOCK_MONOTONIC */
    o->guards_off = 0;
    o->panic = FO_PANIC_BEST_EFFORT;
    o->max_attempts = MAX_ATTEMPTS;
    o->consecutive_faults = 3;
    o->hold_down_ns = 50 * MSEC;
    o->hold_down_max_ns = 200 * MSEC;
    o->hold_down_multiplier_pct = 150;
    o->hold_down_decay_ns = 300 * MSEC;
    o->hold_down_jitter_pct = 20;
    o->trial_successes = 2;
    o->trial_concurrency = 2;
    o->trial_timeout_ns = 100 * MSEC;
    o->window_ns = 1 * SEC; /* the shortest allowed */
    o->window_min_volume = 10;
    o->failure_rate_pct = 40;
    o->slow_call_ns = 8 * MSEC;
    o->slow_call_rate_pct = 60;
    /* Suppressed after about three flaps, back within a second or two. */
    o->damping_penalty = 1000;
    o->damping_suppress = 3000;
    o->damping_reuse = 1500;
    o->damping_half_life_ns = 1 * SEC;
    o->damping_max_suppress_ns = 2 * SEC;
    o->retry_after_max_ns = 100 * MSEC;
    o->local_fault_window_ns = 200 * MSEC;
    o->slow_start_ns = 100 * MSEC;
    o->seed = 42;
}

/* The counters of every route still there equal what the threads did;
 * the events told its changes in order. Returns how many are there. */
static uint32_t check_routes_at_end(uint64_t *picks_total)
{
    uint32_t routes = 0;

    for (uint32_t i = 0; i < NREC; i++) {
        struct rec *r = &recs[i];
        fo_route_id id = atomic_load(&r->id);
        fo_route_stats s = FO_ROUTE_STATS_INIT;
        int si = stable_index(id);
        int rc;

        if (id == FO_ROUTE_ID_NONE)
            continue;
        *picks_total += get(&r->picks);
        rc = fo_route_get_stats(router, id, &s);
        if (atomic_load(&r->removing) != 0) {
            assert_int_equal(rc, FO_ENOENT);
            assert_true(r->ev_removed || ev_drops > 0);
            continue;
        }
        assert_int_equal(rc, FO_OK);
        routes++;
        check_route_stats(&s);
        for (unsigned res = 0; res < NRESULTS; res++)
            if (s.results[res] != get(&r->reported[res]))
                fail_msg("%s: %llu %s results, reported %llu", s.name,
                         (unsigned long long)s.results[res],
                         fo_result_name((fo_result)res),
                         (unsigned long long)get(&r->reported[res]));
        assert_true(s.picks == get(&r->picks));
        assert_true(s.panic_picks >= get(&r->panic_picks) &&
                    s.panic_picks <=
                        get(&r->panic_picks) + get(&r->plain_picks));
        assert_true(s.trial_picks >= get(&r->trial_picks) &&
                    s.trial_picks <=
                        get(&r->trial_picks) + get(&r->plain_picks));
        /* Each change of state is one event, unless lost to a full
         * queue. */
        if (s.transitions < r->ev_transitions ||
            s.transitions > r->ev_transitions + ev_dropped_sum)
            fail_msg("%s: %u transitions, %llu STATE events, %llu lost", s.name,
                     s.transitions, (unsigned long long)r->ev_transitions,
                     (unsigned long long)ev_dropped_sum);
        if (r->ev_known == ev_drops + 1 && s.state != r->ev_state)
            fail_msg("%s: %s, events say %s", s.name,
                     fo_route_state_name(s.state),
                     fo_route_state_name(r->ev_state));
        if (si >= 0) {
            /* Stable probes were never replaced: every count is exact. */
            assert_true(s.probes_sent == get(&r->probe_calls));
            assert_true(s.probes_answered + s.probes_failed ==
                        get(&r->probe_taken));
            /* A late completion returns FO_EALREADY; so do duplicates. */
            assert_true(s.probes_late <= get(&r->probe_already));
            assert_true(s.flags & FO_STATS_PROBED);
        }
    }
    return routes;
}

static void test_stress(void **state)
{
    struct picker pickers[NPICKERS];
    struct operator_state op;
    struct reader *rd = calloc(1, sizeof *rd);
    pthread_t tp[NPICKERS], tchurn, top, trd, ttick, tcomp;
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    uint64_t picks = 0, no_route = 0, reports = 0, hunts = 0, route_picks = 0;
    uint64_t rng = 0x1234567887654321ull;
    uint32_t routes;
    char name[16];

    (void)state;
    assert_non_null(rd);
    rd->rng = 0xda942042e4dd58b5ull;
    rd->metrics = malloc(METRICS_SIZE);
    assert_non_null(rd->metrics);
    memset(&op, 0, sizeof op);
    op.rng = 0xb5ad4eceda1ce2a9ull;

    fixture_prepare(&fx);
    set_options(&fx.opts);
    fixture_open(&fx);
    router = fx.router;
    /* Before any route: every route's story is in the events. */
    assert_int_equal(fo_router_set_event_cb(router, on_event, &ev_calls),
                     FO_OK);
    for (int i = 0; i < NSTABLE; i++) {
        snprintf(name, sizeof name, "stable-%d", i);
        stable[i] = add_route(router, name, (uint32_t)(i / 2));
        rec_of(stable[i], true);
        assert_int_equal(set_probe(stable[i], &rng), FO_OK);
    }

    start_ns = fo_clock_monotonic_ns();
    for (int i = 0; i < NPICKERS; i++) {
        memset(&pickers[i], 0, sizeof pickers[i]);
        pickers[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        assert_int_equal(pthread_create(&tp[i], NULL, picker_main, &pickers[i]),
                         0);
    }
    assert_int_equal(pthread_create(&tchurn, NULL, churn_main, NULL), 0);
    assert_int_equal(pthread_create(&top, NULL, operator_main, &op), 0);
    assert_int_equal(pthread_create(&trd, NULL, reader_main, rd), 0);
    assert_int_equal(pthread_create(&ttick, NULL, ticker_main, NULL), 0);
    assert_int_equal(pthread_create(&tcomp, NULL, completer_main, NULL), 0);
    while (fo_clock_monotonic_ns() - start_ns < RUN_NS &&
           atomic_load(&failures) == 0)
        sleep_us(10000);
    atomic_store(&stop, true);
    for (int i = 0; i < NPICKERS; i++)
        pthread_join(tp[i], NULL);
    pthread_join(tchurn, NULL);
    pthread_join(top, NULL);
    pthread_join(trd, NULL);
    pthread_join(ttick, NULL);
    pthread_join(tcomp, NULL);
    if (atomic_load(&failures) != 0) {
        /* Freed first, so a leak report does not bury the message. */
        fo_router_free(router);
        free(rd->metrics);
        free(rd);
        fail_msg("%d failures; the first: %s", atomic_load(&failures),
                 first_failure);
    }

    for (int i = 0; i < NPICKERS; i++) {
        hunts += pickers[i].hunts;
        picks += pickers[i].picks;
        no_route += pickers[i].no_route;
        reports += pickers[i].reports;
    }
    routes = check_routes_at_end(&route_picks);
    assert_true(route_picks == picks);
    /* Once the callbacks are gone nothing is delivered: the router's
     * totals are final. */
    assert_int_equal(fo_router_set_log_cb(router, FO_LOG_DEBUG, NULL, NULL),
                     FO_OK);
    assert_int_equal(fo_router_set_event_cb(router, NULL, NULL), FO_OK);
    assert_int_equal(fo_router_get_stats(router, &rs), FO_OK);
    check_router_stats(&rs);
    if (atomic_load(&failures) != 0)
        fail_msg("%s", first_failure);
    assert_int_equal(rs.routes, routes);
    if (rs.reports != reports || rs.picks != picks + no_route ||
        rs.no_route_picks != no_route)
        fail_msg("router: %llu reports, %llu picks, %llu no route; threads: "
                 "%llu, %llu + %llu",
                 (unsigned long long)rs.reports, (unsigned long long)rs.picks,
                 (unsigned long long)rs.no_route_picks,
                 (unsigned long long)reports, (unsigned long long)picks,
                 (unsigned long long)no_route);
    assert_true(rs.events_delivered == ev_calls);
    assert_true(rs.events_dropped == ev_dropped_sum);
    if (atomic_load(&flooded))
        assert_true(ev_drops > 0 && ev_dropped_sum > 0);
    /* Enough happened for the checks to mean something. */
    assert_true(reports > 0 && picks > 0 && ev_kinds[FO_EVENT_STATE] > 0);

    print_message(
        "stress: %llu calls, %llu picks (%llu panic), %llu no "
        "route, %llu reports; %llu events (%llu STATE, %llu lost); "
        "%llu log lines; %llu dumps, %llu scrapes; states entered "
        "0x%02x; %d probe registrations\n",
        (unsigned long long)hunts, (unsigned long long)picks,
        (unsigned long long)rs.panic_picks, (unsigned long long)no_route,
        (unsigned long long)reports, (unsigned long long)ev_calls,
        (unsigned long long)ev_kinds[FO_EVENT_STATE],
        (unsigned long long)ev_dropped_sum, (unsigned long long)log_lines,
        (unsigned long long)rd->dumps, (unsigned long long)rd->scrapes,
        states_seen, atomic_load(&registrations));

    fixture_close(&fx); /* every allocation returned */
    router = NULL;
    assert_int_equal(atomic_load(&destroys), atomic_load(&registrations));
    free(rd->metrics);
    free(rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
