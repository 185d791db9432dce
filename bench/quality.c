/*
 * quality: how well failover serves a dialer, in figures.
 *
 * A deterministic simulation on a manual clock: three SIP carriers in
 * priority order, a new call every 50 ms (20 calls/s), and a caller that
 * moves each failed call down the list through one fo_attempt until a
 * carrier takes it or the router has nothing left to offer. Attempts are
 * concurrent: each one is an entry in a queue of calls in flight, ordered
 * by when it completes, so an attempt on a dead carrier reports its
 * TIMEOUT 4 s after it started while new calls keep arriving meanwhile,
 * exactly as a dialer's reports lag behind its picks.
 *
 * Every scenario runs twice, with the library's defaults and with the
 * tuned set described at tuned_options(), and prints one row per
 * scenario. The network's behaviour depends only on the call, the carrier
 * and the simulated time, never on the order of events, so both option
 * sets face the same calls and every run prints the same figures.
 *
 *     quality                     both tables and a reading of them
 *     quality --csv               the rows, machine-readable
 *     quality --scenario outage   one scenario only
 *     quality --events            the router's events, as they happen
 *     quality --seed 7            other dice: is a figure luck or rule?
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <failover/failover.h>

#define SEC  FO_SECOND_NS
#define MSEC FO_MILLISECOND_NS

#define NCARRIERS  3
#define PRIMARY    0
#define CALL_EVERY (50 * MSEC) /* 20 calls/s */

/* How long an attempt takes to tell its outcome. A dead carrier answers
 * nothing, so the caller waits for its dial timeout; a carrier refusing a
 * call (503, congestion) says so within one round trip; a working carrier
 * shows progress (180/183, which a dialer reports as SUCCESS) within a
 * couple of seconds; an absent callee rings out. */
#define DIAL_TIMEOUT    (4 * SEC)
#define FAST_FAILURE    (200 * MSEC)
#define PROGRESS_MIN    (1 * SEC)
#define PROGRESS_SPREAD (2 * SEC)
#define BUSY_TIME       (1 * SEC)
#define RING_OUT        (25 * SEC)

/* Background noise, in parts per million of attempts: 1% the callee's
 * doing (busy or no answer, which must never count against a carrier),
 * and 1% route faults that have nothing to do with any outage. */
#define CALLEE_NOISE_PPM 10000u
#define ROUTE_NOISE_PPM  10000u
#define PPM              1000000u

/* The router's clock starts here, not at 0, so that no instant of the
 * simulation can be mistaken for "never". Only differences matter. */
#define CLOCK_ORIGIN (1000 * SEC)
#define SEED         0x5eed0f0a11001ull
#define NEVER        UINT64_MAX

enum shape {
    SHAPE_NONE,     /* nothing wrong */
    SHAPE_OUTAGE,   /* the primary fails every attempt */
    SHAPE_BROWNOUT, /* 30%, then 100%, then well again */
    SHAPE_FLAP,     /* dead and alive in turns of 5 s */
    SHAPE_RAMP,     /* failures ramp up, then it is dead, then well */
    SHAPE_ALL_DOWN  /* every carrier fails every attempt */
};

struct scenario {
    const char *name;    /* for --scenario and the CSV rows */
    const char *summary; /* for the legend */
    enum shape shape;
    uint64_t duration_ns;   /* calls start until then; the run drains */
    uint64_t fault_from_ns; /* the fault's start and end (SHAPE_NONE: 0) */
    uint64_t fault_to_ns;
    fo_result fault; /* what an attempt hit by the fault returns (unused
                        without a fault) */
};

/* The fault always starts after a healthy minute, so the detectors judge
 * a carrier with a full history, as they would in production. Runs with a
 * fault last 20 minutes, long enough to see the carrier back in service
 * even after flap damping has suppressed it. */
static const struct scenario scenarios[] = {
    {"baseline", "nothing wrong for 10 min", SHAPE_NONE, 600 * SEC, 0, 0,
     FO_RESULT_SUCCESS},
    {"outage", "primary dead (TIMEOUT) 1:00-3:00", SHAPE_OUTAGE, 1200 * SEC,
     60 * SEC, 180 * SEC, FO_RESULT_TIMEOUT},
    {"brownout", "primary 503s 30% 1:00-3:00, 100% 3:00-4:00", SHAPE_BROWNOUT,
     1200 * SEC, 60 * SEC, 240 * SEC, FO_RESULT_REJECTED},
    {"flapping", "primary dead/alive every 5 s 1:00-5:00", SHAPE_FLAP,
     1200 * SEC, 60 * SEC, 300 * SEC, FO_RESULT_TIMEOUT},
    {"slow-death", "primary TIMEOUTs 0->100% 1:00-6:00, dead to 8:00",
     SHAPE_RAMP, 1200 * SEC, 60 * SEC, 480 * SEC, FO_RESULT_TIMEOUT},
    {"all-down", "every carrier dead (TIMEOUT) 1:00-1:30", SHAPE_ALL_DOWN,
     1200 * SEC, 60 * SEC, 90 * SEC, FO_RESULT_TIMEOUT},
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

/* The share of attempts started at t on carrier c that the fault hits. */
static uint32_t fault_ppm(const struct scenario *sc, int c, uint64_t t)
{
    uint64_t from = sc->fault_from_ns, to = sc->fault_to_ns;

    if (sc->shape == SHAPE_NONE || t < from || t >= to)
        return 0;
    if (sc->shape == SHAPE_ALL_DOWN)
        return PPM;
    if (c != PRIMARY)
        return 0;
    switch (sc->shape) {
    case SHAPE_BROWNOUT:
        return t < from + 120 * SEC ? 300000u : PPM;
    case SHAPE_FLAP:
        return (t - from) / (5 * SEC) % 2 == 0 ? PPM : 0;
    case SHAPE_RAMP:
        /* 0 to 100% over 5 minutes, one ppm every 300 us. */
        if (t < from + 300 * SEC)
            return (uint32_t)((t - from) / (300 * SEC / PPM));
        return PPM;
    default:
        return PPM;
    }
}

/* Was carrier c under the fault at any time in [from, to]? Ejections
 * outside such a span are false ones. */
static bool faulty_between(const struct scenario *sc, int c, uint64_t from,
                           uint64_t to)
{
    if (sc->shape == SHAPE_NONE)
        return false;
    if (sc->shape != SHAPE_ALL_DOWN && c != PRIMARY)
        return false;
    return from < sc->fault_to_ns && to >= sc->fault_from_ns;
}

/*
 * splitmix64's output function over a counter: a fixed-seed generator
 * that can be indexed. The dice of an attempt are drawn from its call's
 * number and its carrier, so an attempt's fate does not depend on how
 * many attempts the router caused before it, and both option sets meet
 * the same network.
 */
static uint64_t dice(uint64_t seed, uint64_t call, int carrier, unsigned stream)
{
    uint64_t z = seed + ((call * NCARRIERS + (uint64_t)carrier) * 4 + stream) *
                            0x9e3779b97f4a7c15ull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* What the network does with call `call` sent to carrier c at time t,
 * and how long the caller waits to learn it. */
static fo_result network(const struct scenario *sc, uint64_t seed,
                         uint64_t call, int c, uint64_t t, uint64_t *took)
{
    uint32_t noise = (uint32_t)(dice(seed, call, c, 1) % PPM);

    if (dice(seed, call, c, 0) % PPM < fault_ppm(sc, c, t)) {
        *took = sc->fault == FO_RESULT_TIMEOUT ? DIAL_TIMEOUT : FAST_FAILURE;
        return sc->fault;
    }
    if (noise < ROUTE_NOISE_PPM) {
        *took = FAST_FAILURE;
        return noise < ROUTE_NOISE_PPM / 2 ? FO_RESULT_REJECTED
                                           : FO_RESULT_CONGESTION;
    }
    noise -= ROUTE_NOISE_PPM;
    if (noise < CALLEE_NOISE_PPM) {
        if (noise < CALLEE_NOISE_PPM / 2) {
            *took = BUSY_TIME;
            return FO_RESULT_BUSY;
        }
        *took = RING_OUT;
        return FO_RESULT_NOANSWER;
    }
    *took = PROGRESS_MIN + dice(seed, call, c, 2) % PROGRESS_SPREAD;
    return FO_RESULT_SUCCESS;
}

/* One call with an attempt in flight. The attempt context travels with
 * it: fo_attempt may be copied freely. */
struct flight {
    uint64_t due_ns;     /* when the attempt completes */
    uint64_t seq;        /* ties on due_ns complete in start order */
    uint64_t call;       /* the call's number: the network's dice */
    uint64_t started_ns; /* when this attempt started */
    uint64_t delay_ns;   /* lost so far in attempts that ended in a
                            route fault: the dialling delay the call
                            would not have had on a healthy carrier */
    uint64_t up_epoch;   /* the primary's spell in UP at the pick */
    fo_attempt attempt;
    int carrier;
    fo_result result;
    bool primary_up; /* the primary was UP when this attempt was picked */
};

/* What one run measured. */
struct figures {
    uint64_t calls;
    uint64_t failed;  /* every attempt failed */
    uint64_t refused; /* no route for the first attempt */
    uint64_t wasted;  /* attempts that ended in a route fault */
    uint64_t delay_sum_ns;
    uint64_t delay_p99_ns;
    uint64_t detect_ns;  /* NEVER: the primary never left UP */
    uint64_t recover_ns; /* NEVER: not back to stay within the run */
    uint64_t false_ejections;
    uint64_t primary_transitions;
    uint64_t carried;
    uint64_t carried_on[NCARRIERS];
    uint64_t blind;        /* attempts on the faulty primary before it
                              first left UP */
    uint64_t suppressions; /* the primary suppressed by flap damping */
    uint64_t guard_events; /* FO_EVENT_GUARD */
    uint64_t panic_events; /* FO_EVENT_PANIC_STARTED */
};

struct sim {
    const struct scenario *sc;
    fo_router *router;
    fo_route_id id[NCARRIERS];
    fo_route_state state[NCARRIERS]; /* as the STATE events tell it */
    uint64_t now_ns;                 /* simulated time since the start */
    uint64_t seed;
    uint64_t seq;
    uint64_t up_epoch;   /* counts the primary's departures from UP */
    uint64_t back_at_ns; /* first carried call on the primary, picked in
                            UP after the fault, in the current spell */
    struct flight *heap; /* min-heap on (due_ns, seq) */
    size_t nheap, capheap;
    uint64_t *delays; /* per call that made an attempt */
    size_t ndelays, capdelays;
    struct figures fig;
    bool trace; /* --events: print every event as it happens */
};

static const char *const carrier_names[NCARRIERS] = {"carrier-a", "carrier-b",
                                                     "carrier-c"};

static void die(const char *what, int rc)
{
    fprintf(stderr, "quality: %s: %s (%s)\n", what, fo_strerror(rc),
            fo_error_name(rc));
    exit(EXIT_FAILURE);
}

static void check(const char *what, int rc)
{
    if (rc != FO_OK)
        die(what, rc);
}

static void *grow(void *p, size_t *cap, size_t elem)
{
    size_t n = *cap != 0 ? *cap * 2 : 1024;
    void *q = realloc(p, n * elem);

    if (q == NULL) {
        fprintf(stderr, "quality: out of memory\n");
        exit(EXIT_FAILURE);
    }
    *cap = n;
    return q;
}

static uint64_t sim_clock(void *userdata)
{
    const struct sim *s = userdata;

    return CLOCK_ORIGIN + s->now_ns;
}

static int carrier_of(const struct sim *s, fo_route_id id)
{
    for (int c = 0; c < NCARRIERS; c++)
        if (s->id[c] == id)
            return c;
    return -1;
}

static bool out_of_service(fo_route_state st)
{
    return st == FO_STATE_EJECTED || st == FO_STATE_SUPPRESSED;
}

static void print_event(const struct sim *s, const fo_event *ev)
{
    printf("  %3u:%06.3f  %-17s %-9s ", (unsigned)(s->now_ns / SEC / 60),
           (double)(s->now_ns % (60 * SEC)) / (double)SEC,
           fo_event_kind_name(ev->kind), ev->route_name);
    if (ev->kind == FO_EVENT_STATE)
        printf("%s -> %s: ", fo_route_state_name(ev->old_state),
               fo_route_state_name(ev->new_state));
    printf("%s\n", ev->text);
}

/* The router's account of its decisions: the states, the transitions
 * and the moment the primary was first taken out. Events are delivered
 * before the call that caused them returns, so now_ns is their time. */
static void on_event(fo_router *router, const fo_event *ev, void *userdata)
{
    struct sim *s = userdata;
    const struct scenario *sc = s->sc;
    int c;

    (void)router;
    if (s->trace)
        print_event(s, ev);
    if (ev->kind == FO_EVENT_GUARD)
        s->fig.guard_events++;
    if (ev->kind == FO_EVENT_PANIC_STARTED)
        s->fig.panic_events++;
    if (ev->kind != FO_EVENT_STATE || (c = carrier_of(s, ev->route)) < 0)
        return;
    s->state[c] = ev->new_state;
    if (c == PRIMARY) {
        s->fig.primary_transitions++;
        if (ev->new_state == FO_STATE_SUPPRESSED)
            s->fig.suppressions++;
        if (ev->old_state == FO_STATE_UP) {
            /* A relapse after the fault cancels an earlier return. */
            s->up_epoch++;
            s->back_at_ns = NEVER;
            if (s->fig.detect_ns == NEVER && sc->shape != SHAPE_NONE &&
                s->now_ns >= sc->fault_from_ns)
                s->fig.detect_ns = s->now_ns - sc->fault_from_ns;
        }
    }
    if (out_of_service(ev->new_state) && !out_of_service(ev->old_state)) {
        uint64_t since =
            s->now_ns > DIAL_TIMEOUT ? s->now_ns - DIAL_TIMEOUT : 0;

        /* A report arrives at most one dial timeout after its attempt
         * started: a fault in that span may still be the cause. */
        if (!faulty_between(sc, c, since, s->now_ns))
            s->fig.false_ejections++;
    }
}

static bool before(const struct flight *a, const struct flight *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_push(struct sim *s, const struct flight *f)
{
    size_t i;

    if (s->nheap == s->capheap)
        s->heap = grow(s->heap, &s->capheap, sizeof *s->heap);
    i = s->nheap++;
    while (i > 0 && before(f, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = *f;
}

static void heap_pop(struct sim *s, struct flight *out)
{
    struct flight last;
    size_t i = 0;

    *out = s->heap[0];
    last = s->heap[--s->nheap];
    for (;;) {
        size_t k = 2 * i + 1;

        if (k >= s->nheap)
            break;
        if (k + 1 < s->nheap && before(&s->heap[k + 1], &s->heap[k]))
            k++;
        if (!before(&s->heap[k], &last))
            break;
        s->heap[i] = s->heap[k];
        i = k;
    }
    if (s->nheap > 0)
        s->heap[i] = last;
}

/* Sends the call's next attempt down the route the router picked. */
static void start_attempt(struct sim *s, struct flight *f, fo_route_id route)
{
    const struct scenario *sc = s->sc;
    uint64_t took;

    f->carrier = carrier_of(s, route);
    if (f->carrier < 0)
        die("fo_pick_route returned an unknown route", FO_ENOENT);
    f->result = network(sc, s->seed, f->call, f->carrier, s->now_ns, &took);
    f->started_ns = s->now_ns;
    f->due_ns = s->now_ns + took;
    f->seq = s->seq++;
    f->primary_up = f->carrier == PRIMARY && s->state[PRIMARY] == FO_STATE_UP;
    f->up_epoch = s->up_epoch;
    if (f->carrier == PRIMARY && sc->shape != SHAPE_NONE &&
        s->now_ns >= sc->fault_from_ns && s->fig.detect_ns == NEVER &&
        fault_ppm(sc, PRIMARY, s->now_ns) != 0)
        s->fig.blind++;
    heap_push(s, f);
}

static void call_over(struct sim *s, const struct flight *f)
{
    if (s->ndelays == s->capdelays)
        s->delays = grow(s->delays, &s->capdelays, sizeof *s->delays);
    s->delays[s->ndelays++] = f->delay_ns;
    s->fig.delay_sum_ns += f->delay_ns;
}

static void new_call(struct sim *s, uint64_t number)
{
    struct flight f;
    fo_route_id route;
    int rc;

    memset(&f, 0, sizeof f);
    check("fo_attempt_init", fo_attempt_init(&f.attempt));
    f.call = number;
    s->fig.calls++;
    rc = fo_pick_route(s->router, &f.attempt, &route);
    if (rc == FO_ENOROUTE) {
        s->fig.refused++;
        return;
    }
    check("fo_pick_route", rc);
    start_attempt(s, &f, route);
}

/* An attempt's outcome arrives: report it, and move a failed call on. */
static void complete(struct sim *s)
{
    const struct scenario *sc = s->sc;
    struct flight f;
    fo_route_id route;
    int rc;

    heap_pop(s, &f);
    check("fo_report_result",
          fo_report_result(s->router, s->id[f.carrier], f.result, &f.attempt));
    if (fo_result_default_class(f.result) == FO_CLASS_ROUTE_FAULT) {
        s->fig.wasted++;
        f.delay_ns += s->now_ns - f.started_ns;
        rc = fo_pick_route(s->router, &f.attempt, &route);
        if (rc == FO_OK) {
            start_attempt(s, &f, route);
            return;
        }
        if (rc != FO_ENOROUTE && rc != FO_ELIMIT)
            die("fo_pick_route", rc);
        s->fig.failed++;
        call_over(s, &f);
        return;
    }
    s->fig.carried++;
    s->fig.carried_on[f.carrier]++;
    call_over(s, &f);
    /* Back means back in ordinary service to stay: picked while UP, after
     * the fault, in the spell of UP that lasts to the end of the run. */
    if (f.primary_up && f.up_epoch == s->up_epoch && sc->shape != SHAPE_NONE &&
        f.started_ns >= sc->fault_to_ns && f.started_ns < s->back_at_ns)
        s->back_at_ns = f.started_ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static void run(const struct scenario *sc, const fo_router_options *base,
                uint64_t seed, bool trace, struct figures *out)
{
    struct sim s;
    fo_router_options opts = *base;
    fo_clock clock = FO_CLOCK_INIT(sim_clock, NULL);
    uint64_t next_call = 0, number = 0, ticked_at = NEVER;

    memset(&s, 0, sizeof s);
    s.sc = sc;
    s.seed = seed;
    s.trace = trace;
    s.back_at_ns = NEVER;
    s.fig.detect_ns = NEVER;
    clock.userdata = &s;
    opts.clock = &clock;
    check("fo_router_new", fo_router_new(&s.router, &opts));
    check("fo_router_set_event_cb",
          fo_router_set_event_cb(s.router, on_event, &s));
    for (int c = 0; c < NCARRIERS; c++) {
        /* name, priority (lower first), weight, cost */
        check("fo_route_add", fo_route_add(s.router, carrier_names[c],
                                           (uint32_t)c + 1, 1, 0, &s.id[c]));
        s.state[c] = FO_STATE_UP;
    }

    /* Discrete events, earliest first: completions, then the router's
     * timers (at the instant fo_router_next_deadline() names, as a poll()
     * loop would), then the next new call. Calls stop at the scenario's
     * end; the run ends when the last one is over. */
    for (;;) {
        uint64_t t = NEVER, next_tick = NEVER, deadline;

        check("fo_router_next_deadline",
              fo_router_next_deadline(s.router, &deadline));
        if (deadline != NEVER) {
            next_tick = deadline > CLOCK_ORIGIN + s.now_ns
                            ? deadline - CLOCK_ORIGIN
                            : s.now_ns;
            /* Still due right after a tick: a poll() loop would spin. */
            if (next_tick == ticked_at) {
                fprintf(stderr, "quality: the deadline is still due after "
                                "fo_router_tick()\n");
                exit(EXIT_FAILURE);
            }
        }
        if (next_call < sc->duration_ns)
            t = next_call;
        if (s.nheap > 0 && s.heap[0].due_ns < t)
            t = s.heap[0].due_ns;
        if (t == NEVER)
            break;
        if (next_tick < t)
            t = next_tick;
        s.now_ns = t;
        while (s.nheap > 0 && s.heap[0].due_ns == t)
            complete(&s);
        if (next_tick == t) {
            check("fo_router_tick", fo_router_tick(s.router));
            ticked_at = t;
        }
        if (next_call == t && next_call < sc->duration_ns) {
            new_call(&s, number++);
            next_call += CALL_EVERY;
        }
    }

    check("fo_router_free", fo_router_free(s.router));
    if (sc->shape != SHAPE_NONE && s.back_at_ns != NEVER)
        s.fig.recover_ns = s.back_at_ns - sc->fault_to_ns;
    else
        s.fig.recover_ns = NEVER;
    if (s.ndelays > 0) {
        /* Nearest rank: the smallest delay at least 99% of calls beat. */
        size_t rank = (s.ndelays * 99 + 99) / 100;

        qsort(s.delays, s.ndelays, sizeof *s.delays, cmp_u64);
        s.fig.delay_p99_ns = s.delays[rank - 1];
    }
    free(s.delays);
    free(s.heap);
    *out = s.fig;
}

/* The library's defaults: every field left at zero. */
static void default_options(fo_router_options *o)
{
    check("fo_router_options_init", FO_ROUTER_OPTIONS_INIT(o));
}

/*
 * A tuned set for a dialer like the simulated one: 20 calls/s, three
 * carriers, about 1% route faults on a good day. Each change answers a
 * weakness the default rows show.
 *
 * - Failure rate over 20 s at 10%, from 40 attempts (defaults: 60 s, 25%,
 *   20). Three faults in a row come quickly only once a carrier fails
 *   about one call in five, so a carrier dying slowly is detected close
 *   to a minute late by default. The primary's 20 s window holds about
 *   400 attempts: 10% is some 40 faults where the 1% background gives 4,
 *   and the shorter window forgets an outage sooner. Set the rate a few
 *   times above your carriers' normal fault rate, never near it.
 * - Trials of 5 successes, 2 at a time (defaults: 2, one at a time). A
 *   carrier still failing 30% of calls passes a 2-success trial about
 *   half the time (0.7^2) and a 5-success one about one time in six
 *   (0.7^5). Every pass followed by a relapse is one more ejection, and
 *   the third within a few minutes has flap damping suppress the carrier
 *   for about 9 minutes, long after it recovered (brownout, flapping).
 *   Two slots keep the longer trial about as quick; on a carrier still
 *   dead it costs two calls a dial timeout each instead of one.
 * - A hold-down of at most 60 s (default 5 min): a carrier that has
 *   recovered waits at most a minute for its trial, and one still dead
 *   costs two trial calls a minute.
 *
 * consecutive_faults stays 3: at 1% noise, 3 faults in a row come about
 * once in a million attempts (once in 14 h at 20 calls/s), 2 in a row
 * once in ten thousand (every 8 minutes), which shows as a false ejection
 * in the baseline. The slow-call detector stays off: the simulated
 * carriers report no post-dial delay.
 */
static void tuned_options(fo_router_options *o)
{
    check("fo_router_options_init", FO_ROUTER_OPTIONS_INIT(o));
    o->window_ns = 20 * SEC;
    o->failure_rate_pct = 10;
    o->window_min_volume = 40;
    o->trial_successes = 5;
    o->trial_concurrency = 2;
    o->hold_down_max_ns = 60 * SEC;
}

static const struct option_set {
    const char *name;
    const char *title;
    void (*init)(fo_router_options *o);
} option_sets[] = {
    {"default", "default options", default_options},
    {"tuned", "tuned options (see tuned_options() in bench/quality.c)",
     tuned_options},
};
#define NSETS (sizeof option_sets / sizeof option_sets[0])

/* Seconds with one decimal, or "-" for never. */
static const char *secs(char *buf, size_t size, uint64_t ns, bool csv)
{
    if (ns == NEVER)
        snprintf(buf, size, "%s", csv ? "" : "-");
    else
        snprintf(buf, size, "%.1f", (double)ns / (double)SEC);
    return buf;
}

static double share(const struct figures *f)
{
    return f->carried != 0
               ? 100.0 * (double)f->carried_on[PRIMARY] / (double)f->carried
               : 0.0;
}

static void print_header(void)
{
    printf("%-10s %6s %6s %7s %6s %7s %5s %6s %7s %5s %5s %7s\n", "", "calls",
           "calls", "calls", "wasted", "delay", "delay", "detect", "recover",
           "false", "trans", "primary");
    printf("%-10s %6s %6s %7s %6s %7s %5s %6s %7s %5s %5s %7s\n", "scenario",
           "placed", "failed", "refused", "tries", "sum s", "p99 s", "s", "s",
           "ejec", "prim", "share");
}

static void print_row(const struct scenario *sc, const struct figures *f)
{
    char det[32], rec[32];

    printf("%-10s %6" PRIu64 " %6" PRIu64 " %7" PRIu64 " %6" PRIu64
           " %7.0f %5.1f %6s %7s %5" PRIu64 " %5" PRIu64 " %6.1f%%\n",
           sc->name, f->calls, f->failed, f->refused, f->wasted,
           (double)f->delay_sum_ns / (double)SEC,
           (double)f->delay_p99_ns / (double)SEC,
           secs(det, sizeof det, f->detect_ns, false),
           secs(rec, sizeof rec, f->recover_ns, false), f->false_ejections,
           f->primary_transitions, share(f));
}

static void print_csv(const char *set, const struct scenario *sc,
                      const struct figures *f)
{
    char det[32], rec[32];

    printf("%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
           ",%.1f,%.1f,%s,%s,%" PRIu64 ",%" PRIu64 ",%.1f\n",
           set, sc->name, f->calls, f->failed, f->refused, f->wasted,
           (double)f->delay_sum_ns / (double)SEC,
           (double)f->delay_p99_ns / (double)SEC,
           secs(det, sizeof det, f->detect_ns, true),
           secs(rec, sizeof rec, f->recover_ns, true), f->false_ejections,
           f->primary_transitions, share(f));
}

/* Seconds, one decimal, "-" for never: for the reading notes. */
#define S(buf, ns) secs((buf), sizeof(buf), (ns), false)

/* The share of the primary's attempts failing at the moment of
 * detection, in the slow death's ramp. */
static double ramp_pct(uint64_t detect_ns)
{
    return detect_ns == NEVER || detect_ns >= 300 * SEC
               ? 100.0
               : 100.0 * (double)detect_ns / (double)(300 * SEC);
}

/* One line per scenario: the figure that matters, default / tuned. */
static void print_reading(const struct scenario *sc, const struct figures *d,
                          const struct figures *t)
{
    char a[32], b[32], c[32];

    printf("  %-10s ", sc->name);
    switch (sc->shape) {
    case SHAPE_NONE:
        printf("false ejections %" PRIu64 " / %" PRIu64
               ": 1%% noise gives 3 faults in a row once in ~10^6 attempts; "
               "the %" PRIu64 " wasted tries are that noise, each retried "
               "within 200 ms\n",
               d->false_ejections, t->false_ejections, d->wasted);
        break;
    case SHAPE_OUTAGE:
        printf("detection %s s is one dial timeout: %" PRIu64
               " calls went to the dead carrier first; recovery %s / %s s "
               "is the rest of its hold-down plus the trial\n",
               S(a, d->detect_ns), d->blind, S(b, d->recover_ns),
               S(c, t->recover_ns));
        break;
    case SHAPE_BROWNOUT:
        printf("recovery %s / %s s: a 2-success trial readmits a carrier "
               "still failing 30%% half the time, and each relapse holds it "
               "down longer (%" PRIu64 " / %" PRIu64 " transitions, %" PRIu64
               " / %" PRIu64 " suppressions)\n",
               S(a, d->recover_ns), S(b, t->recover_ns), d->primary_transitions,
               t->primary_transitions, d->suppressions, t->suppressions);
        break;
    case SHAPE_FLAP:
        printf("recovery %s / %s s: readmitted in an alive spell, the "
               "carrier fails again, and the third ejection has damping "
               "suppress it for minutes (%" PRIu64 " / %" PRIu64
               " suppressions)\n",
               S(a, d->recover_ns), S(b, t->recover_ns), d->suppressions,
               t->suppressions);
        break;
    case SHAPE_RAMP:
        printf("detection %s / %s s, when %.0f%% / %.0f%% of calls failed: "
               "%" PRIu64 " / %" PRIu64 " calls went to the dying carrier "
               "before, which the delay sum shows\n",
               S(a, d->detect_ns), S(b, t->detect_ns), ramp_pct(d->detect_ns),
               ramp_pct(t->detect_ns), d->blind, t->blind);
        break;
    case SHAPE_ALL_DOWN:
    default:
        printf("%" PRIu64 " / %" PRIu64
               " calls failed, each after 3 dial timeouts (p99 %.0f s); the "
               "primary was out %s s in, back %s / %s s after the network; "
               "%" PRIu64 " panic, %" PRIu64 " guard events\n",
               d->failed, t->failed, (double)d->delay_p99_ns / (double)SEC,
               S(a, d->detect_ns), S(b, d->recover_ns), S(c, t->recover_ns),
               d->panic_events, d->guard_events);
        break;
    }
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: quality [--csv] [--events] [--scenario NAME] [--seed N]\n"
            "  --csv       print machine-readable rows only\n"
            "  --events    print the router's events as they happen (best "
            "with --scenario)\n"
            "  --scenario  run one scenario:");
    for (size_t i = 0; i < NSCENARIOS; i++)
        fprintf(to, " %s", scenarios[i].name);
    fprintf(to, "\n  --seed      other dice for the network (default %#llx)\n",
            (unsigned long long)SEED);
}

int main(int argc, char **argv)
{
    static struct figures fig[NSETS][NSCENARIOS];
    const char *only = NULL;
    bool csv = false, trace = false, ran[NSCENARIOS] = {false};
    uint64_t seed = SEED;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0) {
            csv = true;
        } else if (strcmp(argv[i], "--events") == 0) {
            trace = true;
        } else if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;

            seed = strtoull(argv[++i], &end, 0);
            if (*argv[i] == '\0' || *end != '\0') {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_SUCCESS;
        } else {
            usage(stderr);
            return 2;
        }
    }
    for (size_t i = 0; i < NSCENARIOS; i++)
        ran[i] = only == NULL || strcmp(only, scenarios[i].name) == 0;
    if (only != NULL) {
        size_t i = 0;

        while (i < NSCENARIOS && !ran[i])
            i++;
        if (i == NSCENARIOS) {
            fprintf(stderr, "quality: no scenario named '%s'\n", only);
            usage(stderr);
            return 2;
        }
    }

    if (csv)
        printf("options,scenario,calls,failed,refused,wasted,delay_sum_s,"
               "delay_p99_s,detection_s,recovery_s,false_ejections,"
               "primary_transitions,primary_share_pct\n");
    else
        printf("libfailover %s failover quality: %d carriers in priority "
               "order, %u calls/s, %u s dial\ntimeout, 1%% callee-side and "
               "1%% route-fault noise on every carrier\n",
               fo_version_string(), NCARRIERS, (unsigned)(SEC / CALL_EVERY),
               (unsigned)(DIAL_TIMEOUT / SEC));
    for (size_t k = 0; k < NSETS; k++) {
        fo_router_options opts;

        option_sets[k].init(&opts);
        if (!csv) {
            printf("\n%s\n", option_sets[k].title);
            print_header();
        }
        for (size_t i = 0; i < NSCENARIOS; i++) {
            if (!ran[i])
                continue;
            run(&scenarios[i], &opts, seed, trace && !csv, &fig[k][i]);
            if (csv)
                print_csv(option_sets[k].name, &scenarios[i], &fig[k][i]);
            else
                print_row(&scenarios[i], &fig[k][i]);
        }
    }
    if (csv)
        return EXIT_SUCCESS;

    printf("\ncolumns\n"
           "  calls      placed; failed on every attempt; refused (no route "
           "for the first)\n"
           "  wasted     attempts that ended in a route fault, the noise's "
           "included\n"
           "  delay      dialling time calls lost in such attempts: the sum, "
           "and the 99th\n"
           "             percentile per call\n"
           "  detect     from the fault's start until the primary first left "
           "UP\n"
           "  recover    from the fault's end until the primary, UP for good, "
           "carried a call\n"
           "  false ejec routes taken out of service with no fault in the "
           "dial timeout before\n"
           "  trans prim state changes of the primary\n"
           "  share      calls carried by the primary, of all carried\n");
    printf("\nscenarios\n");
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (ran[i])
            printf("  %-10s %s\n", scenarios[i].name, scenarios[i].summary);
    printf("\nreading (default / tuned)\n");
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (ran[i])
            print_reading(&scenarios[i], &fig[0][i], &fig[1][i]);
    return EXIT_SUCCESS;
}
