/*
 * Fuzz target: a program of API calls on one router, checked after every
 * step.
 *
 * The input is read as a program. Its first bytes choose the router's
 * options (valid and invalid ones: an invalid set must fail with the
 * documented error, and the program then runs on the defaults); every
 * following operation is one code byte and a few argument bytes. Reading
 * past the end gives zeros, and every byte value means something, so any
 * byte string is a valid program. The router runs on a manual clock and a
 * counting allocator, and its seed is fixed, so a program always does the
 * same thing.
 *
 * The target keeps a model of what it did (routes, plans, attempts,
 * results reported, picks, probes and their tokens, the operator's
 * settings, overrides, the router's time) and checks the router against
 * it and against what the headers and the README promise: return codes,
 * counters, legal changes of state, picks that never return a route the
 * operator took out, the ceilings of penalties and hold-downs, the
 * snprintf() contract of the metrics, no allocation where none is
 * documented, and nothing left allocated at the end. A violation prints
 * what was expected and calls abort(), so libFuzzer reports it and a
 * replay fails.
 *
 * Program format (fuzz/make-corpus.py writes the same):
 *   header  N = byte % 16 option assignments, each two bytes: a field of
 *           opt_fields[] (byte % 32) and an index into its values
 *           (byte % 8); then one byte for the size the options claim
 *           (byte % 16: 13 larger with a zero tail, 14 larger with a
 *           non-zero tail, 15 too small, else exact); bit 4 of that byte
 *           leaves the event callback unset at the start.
 *   ops     code = byte % OP_CODES (enum op, then the aliases), followed
 *           by its argument bytes as listed at each op_* function.
 *
 * FO_FUZZ_TRACE=1 in the environment prints every step to stderr, which
 * is how a saved crash is read.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <failover/failover.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MS   FO_MILLISECOND_NS
#define SEC  FO_SECOND_NS
#define HOUR (3600 * SEC)
#define DAY  (24 * HOUR)

#define MAX_REC    16   /* routes the model follows, live or removed */
#define MAX_LIVE   10   /* routes alive at once */
#define MAX_PLANS  4    /* plans the model follows, live or freed */
#define MAX_ATT    4    /* attempt contexts */
#define MAX_TOKENS 64   /* probe tokens remembered */
#define MAX_IDS    512  /* ids handed out, to prove none is reused */
#define MAX_STEPS  3000 /* operations per input */
#define CTX_MAGIC  0x70726f62u

/* ---- failures -------------------------------------------------------- */

static unsigned long fail_step;
static const char *fail_op = "setup";
static int tracing = -1;

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

PRINTF_LIKE(2, 3) _Noreturn static void fail(int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr,
            "api_sequence: invariant violated at line %d, step %lu (%s): ",
            line, fail_step, fail_op);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            fail(__LINE__, "%s", #cond);                                       \
    } while (0)
#define CHECKF(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            fail(__LINE__, __VA_ARGS__);                                       \
    } while (0)

PRINTF_LIKE(1, 2) static void trace(const char *fmt, ...)
{
    va_list ap;

    if (tracing <= 0)
        return;
    fprintf(stderr, "  %4lu ", fail_step);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Error codes as a set, for calls where several documented errors apply
 * at once and the headers do not say which one wins. */
#define BIT(code) (1u << (unsigned)-(code))

static void expect_in(int line, const char *call, int rc, unsigned accept)
{
    if (rc <= 0 && rc > -32 && (accept & BIT(rc)) != 0)
        return;
    fail(line, "%s returned %s, which is not among the expected codes 0x%x",
         call, fo_error_name(rc), accept);
}

#define EXPECT(call, rc, want)                                                 \
    do {                                                                       \
        int rc_ = (rc), want_ = (want);                                        \
        if (rc_ != want_)                                                      \
            fail(__LINE__, "%s returned %s, expected %s", call,                \
                 fo_error_name(rc_), fo_error_name(want_));                    \
    } while (0)
#define EXPECT_IN(call, rc, accept) expect_in(__LINE__, call, rc, accept)

/* ---- the model ------------------------------------------------------- */

/* A probe registration's userdata. What its callback does each time is
 * chosen when it is set, so the program's bytes are read by operations
 * only, however often the library probes. */
struct probe_ctx {
    uint32_t magic;
    fo_route_id route;
    int running;  /* its callback is running */
    uint8_t act;  /* bits 0-2: what the callback does; 3-7: a parameter */
    uint8_t a, b; /* its options, for a replacement */
};

struct rec {
    fo_route_id id;
    bool live;
    char name[96];
    uint32_t priority, weight, cost;
    fo_admin admin;
    bool reg_lost;        /* held out until REGISTRATION_RESTORED */
    uint64_t drill_until; /* router time; 0 = no drill */
    uint64_t results[FO_STATS_RESULTS];
    uint64_t classes[FO_STATS_CLASSES];
    uint64_t reports, picks, trial_picks, panic_picks;
    /* probes: counters outlive registrations, as the library's do */
    struct probe_ctx *ctx; /* the current registration, or NULL */
    uint64_t probe_timeout;
    uint64_t calls, answered, failed, cancelled, timed_out, late, abandoned;
    fo_probe_token inflight, timed_out_token;
    uint64_t inflight_start;
    /* what the events said */
    bool ev_known;
    fo_route_state ev_state;
    bool ev_removed;
};

struct member {
    fo_route_id id;
    uint32_t priority, weight, cost;
};

struct plan {
    fo_plan_id id;
    bool live;
    char name[96];
    uint32_t policy;
    uint32_t n;
    struct member m[MAX_REC];
    bool panic; /* per the PANIC events */
};

struct att {
    fo_attempt a;
    fo_plan_id plan;
    uint32_t n;
    fo_route_id tried[FO_ATTEMPT_MAX_ROUTES];
    uint32_t reported; /* bit per index */
};

struct token {
    fo_probe_token token;
    fo_route_id route;
};

/* The options in effect, as documented: what the invariants need. */
struct eff {
    uint32_t max_routes, max_attempts, trial_concurrency, jitter_pct;
    uint32_t detectors_off, panic, policy;
    uint64_t hold_down_ns, hold_down_max_ns, retry_after_max_ns;
    uint64_t slow_start_ns;
    double reuse, suppress, ceiling;
};

struct input {
    const uint8_t *data;
    size_t size, pos;
};

struct world {
    struct input in;
    fo_router *r;
    bool freeing;
    /* the manual clock and the router time it should give */
    uint64_t clock, raw_last, now;
    /* the counting allocator */
    long live_blocks;
    unsigned long alloc_calls;
    bool fail_armed, alloc_failed;
    struct eff cfg;
    uint32_t panic, def_policy;
    uint8_t cls[FO_STATS_RESULTS];
    uint8_t sip[500];
    struct rec recs[MAX_REC];
    uint32_t nrec;
    struct plan plans[MAX_PLANS];
    uint32_t nplan;
    struct att atts[MAX_ATT];
    struct token tokens[MAX_TOKENS];
    uint32_t ntok;
    fo_probe_token last_token;
    uint64_t ids[MAX_IDS];
    uint32_t nids;
    uint64_t tot_reports, tot_picks, tot_noroute, tot_panic, strays;
    long live_ctx;
    unsigned long registrations, destroys;
    bool cb_acted;       /* a probe callback changed something this tick */
    unsigned lf_changes; /* LOCAL_FAULT and LOCAL_FAULT_ENDED events */
    bool quiet_valid;    /* a tick at quiet_now left nothing due */
    uint64_t quiet_now;
    unsigned fresh;
    /* events. ev_full: the event callback was set before the first route
     * and has stayed set with nothing dropped, so the PANIC and
     * LOCAL_FAULT events tell the whole story of every list. */
    bool ev_cb, ev_full, log_cb, queue_allocated, ev_contiguous;
    int log_level;
    uint64_t ev_last_seq, ev_last_time, log_last_seq;
    uint64_t delivered, last_delivered_seq, dropped;
    bool def_panic, lf_open;
    bool quiet_start; /* no event callback until the program sets one */
    fo_route_id added_id;
    bool added_seen;
    unsigned long step;
};

static struct world W;

/* ---- reading the program --------------------------------------------- */

static uint8_t u8(struct world *w)
{
    return w->in.pos < w->in.size ? w->in.data[w->in.pos++] : 0;
}

static uint16_t u16(struct world *w)
{
    uint16_t lo = u8(w);

    return (uint16_t)(lo | (uint16_t)(u8(w) << 8));
}

static const char *sname(fo_route_state s)
{
    return fo_route_state_name(s);
}

static bool state_valid(int s)
{
    return s >= FO_STATE_UP && s <= FO_STATE_DRILL;
}

static bool operator_state(int s)
{
    return s == FO_STATE_DISABLED || s == FO_STATE_DRAINING ||
           s == FO_STATE_DRILL;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Results: most bytes give a valid one, a few give values that are not
 * results (the call must say FO_EINVAL). */
static const int result_table[16] = {
    0,
    FO_RESULT_SUCCESS,
    FO_RESULT_BUSY,
    FO_RESULT_NOANSWER,
    FO_RESULT_DECLINED,
    FO_RESULT_CANCELLED,
    FO_RESULT_CONGESTION,
    FO_RESULT_UNAVAILABLE,
    FO_RESULT_TIMEOUT,
    FO_RESULT_REJECTED,
    FO_RESULT_SUCCESS,
    FO_RESULT_SUCCESS,
    FO_RESULT_TIMEOUT,
    FO_RESULT_CONGESTION,
    FO_RESULT_BUSY,
    42,
};

static fo_result result_arg(uint8_t b)
{
    return (fo_result)result_table[b % 16];
}

static bool result_valid(int r)
{
    return r >= FO_RESULT_SUCCESS && r <= FO_RESULT_REJECTED;
}

static const uint32_t weight_table[8] = {
    0, 1, 1, 2, 5, 100, FO_WEIGHT_MAX, FO_WEIGHT_MAX + 1,
};

static uint32_t weight_arg(uint8_t b)
{
    return weight_table[b % 8];
}

/* ---- names ----------------------------------------------------------- */

/* A few ordinary names, so that adds collide, and the odd ones: UTF-8 of
 * every length, the longest name, and names the library must refuse. */
static const char *const route_names[] = {
    "carrier-a",
    "carrier-b",
    "carrier-c",
    "trunk-1",
    "trunk-2",
    "gw.example.net",
    "b",
    "sip:backup@10.0.0.1",
    "carrier-\xc3\xbc",           /* U+00FC */
    "\xe6\x97\xa5\xe6\x9c\xac-1", /* CJK */
    "emoji-\xf0\x9f\x98\x80",     /* U+1F600 */
    "quote\"back\\slash",         /* label escapes */
    "nbsp-\xc2\xa0",              /* U+00A0, not C1 */
    "max-\xf4\x8f\xbf\xbf",       /* U+10FFFF */
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",  /* 63 */
    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy", /* 64 */
    "",
    "bad-\xff",
    "trunc-\xc3",
    "overlong-\xc0\xaf",
    "surrogate-\xed\xa0\x80",
    "c1-\xc2\x85",
    "tab\there",
    "del\x7f",
    "beyond-\xf4\x90\x80\x80",
    "newline\n",
};
#define NROUTE_NAMES (sizeof route_names / sizeof *route_names)

static const char *const plan_names[] = {
    "uk-44",
    "de-49",
    "campaign-1",
    "plan-\xc3\xa9",
    "",
    "bad-\xfe",
    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", /* 64 */
    "uk-44",
};

/* The name from byte b: a table entry, or a fresh one that collides with
 * nothing. */
static void route_name(struct world *w, uint8_t b, char *buf, size_t size)
{
    if (b % 32 < NROUTE_NAMES)
        snprintf(buf, size, "%s", route_names[b % 32]);
    else
        snprintf(buf, size, "r-%u", w->fresh++);
}

/*
 * What the headers promise a name is: 1 to FO_ROUTE_NAME_MAX bytes of
 * UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF) without control characters (C0, DEL, C1). Written from the
 * documentation, independently of the library's checker.
 */
static bool name_ok(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > FO_ROUTE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        size_t n;

        if (c < 0x80) {
            n = 1;
            cp = c;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (i + n > len)
            return false;
        for (size_t k = 1; k < n; k++) {
            unsigned char cc = (unsigned char)s[i + k];

            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3fu);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return false;
        i += n;
    }
    return true;
}

/* ---- records ----------------------------------------------------------- */

static struct rec *rec_by_id(struct world *w, fo_route_id id)
{
    for (uint32_t i = 0; i < w->nrec; i++)
        if (w->recs[i].id == id)
            return &w->recs[i];
    return NULL;
}

static uint32_t live_count(const struct world *w)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < w->nrec; i++)
        n += w->recs[i].live;
    return n;
}

static struct rec *live_by_name(struct world *w, const char *name)
{
    for (uint32_t i = 0; i < w->nrec; i++)
        if (w->recs[i].live && strcmp(w->recs[i].name, name) == 0)
            return &w->recs[i];
    return NULL;
}

/* A free record, forgetting the oldest removed route if the table is
 * full; NULL if every record is a live route. */
static struct rec *rec_new(struct world *w)
{
    if (w->nrec == MAX_REC) {
        uint32_t i = 0;

        while (i < w->nrec && w->recs[i].live)
            i++;
        if (i == w->nrec)
            return NULL;
        memmove(&w->recs[i], &w->recs[i + 1],
                (w->nrec - i - 1) * sizeof *w->recs);
        w->nrec--;
    }
    memset(&w->recs[w->nrec], 0, sizeof *w->recs);
    return &w->recs[w->nrec++];
}

/* Remembers an id handed out by the library; ids are never reused. */
static void id_issued(struct world *w, uint64_t id)
{
    CHECKF(id != 0, "the library handed out id 0");
    for (uint32_t i = 0; i < w->nids; i++)
        CHECKF(w->ids[i] != id, "id %llu handed out twice",
               (unsigned long long)id);
    if (w->nids < MAX_IDS)
        w->ids[w->nids++] = id;
}

/*
 * A route id from one byte: mostly a route the model knows, live or
 * removed (the call must then say FO_ENOENT), sometimes ids that never
 * named a route of this router.
 */
static fo_route_id route_arg(struct world *w, uint8_t b, struct rec **out)
{
    *out = NULL;
    if (b < 0xf0) {
        if (w->nrec == 0)
            return FO_ROUTE_ID_NONE;
        *out = &w->recs[b % w->nrec];
        return (*out)->id;
    }
    switch (b & 3) {
    case 0:
        return FO_ROUTE_ID_NONE;
    case 1:
        return UINT64_MAX;
    case 2:
        /* A route's id with a high generation bit flipped. */
        if (w->nrec > 0) {
            fo_route_id id = w->recs[b % w->nrec].id ^ (1ull << 62);

            return rec_by_id(w, id) == NULL ? id : UINT64_MAX;
        }
        return UINT64_MAX;
    default:
        /* A plan's id is never a route's. */
        return w->nplan > 0 ? w->plans[0].id : UINT64_MAX - 1;
    }
}

static bool rec_live(const struct rec *r)
{
    return r != NULL && r->live;
}

static struct plan *plan_arg(struct world *w, uint8_t b)
{
    if (b >= 0xf0 || w->nplan == 0)
        return NULL; /* the default list */
    return &w->plans[b % w->nplan];
}

static uint32_t plan_live_count(const struct world *w)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < w->nplan; i++)
        n += w->plans[i].live;
    return n;
}

static int member_index(const struct plan *p, fo_route_id id)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (p->m[i].id == id)
            return (int)i;
    return -1;
}

static void member_drop(struct plan *p, int i)
{
    memmove(&p->m[i], &p->m[i + 1], (p->n - (uint32_t)i - 1) * sizeof *p->m);
    p->n--;
}

/* ---- the manual clock ------------------------------------------------ */

static uint64_t clock_now(void *userdata)
{
    struct world *w = userdata;
    uint64_t t;

    CHECK(w == &W);
    /* The clock runs outside the lock and must not call into its own
     * router: such calls are refused, never deadlocked. */
    if (w->r != NULL && !w->freeing)
        EXPECT("fo_router_now from the clock", fo_router_now(w->r, &t),
               FO_EBUSY);
    return w->clock;
}

/*
 * Router time as documented: it starts at the first reading, follows the
 * clock's forward steps (each counting for at most 30 days), ignores a
 * step back of up to a second (two readings out of order) and, after a
 * larger one, follows the clock from where it now is.
 */
static void model_observe(struct world *w)
{
    const uint64_t max_step = 30 * DAY;

    if (w->clock > w->raw_last) {
        uint64_t step = w->clock - w->raw_last;

        w->now = add_sat(w->now, step > max_step ? max_step : step);
        w->raw_last = w->clock;
    } else if (w->raw_last - w->clock > SEC) {
        w->raw_last = w->clock;
    }
}

/* ---- the counting allocator ------------------------------------------ */

static void *counting_alloc(size_t size, void *userdata)
{
    struct world *w = userdata;
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    void *p;

    CHECK(w == &W);
    CHECKF(size != 0, "the allocator was asked for 0 bytes");
    w->alloc_calls++;
    /* Called with the router locked: calling back in must be refused. */
    if (w->r != NULL && !w->freeing)
        EXPECT("fo_router_get_stats from the allocator",
               fo_router_get_stats(w->r, &rs), FO_EBUSY);
    if (w->fail_armed) {
        w->fail_armed = false;
        w->alloc_failed = true;
        return NULL;
    }
    p = malloc(size);
    CHECKF(p != NULL, "out of memory (%zu bytes)", size);
    w->live_blocks++;
    return p;
}

static void counting_free(void *ptr, void *userdata)
{
    struct world *w = userdata;

    CHECK(w == &W);
    CHECKF(ptr != NULL, "the allocator was asked to free NULL");
    w->live_blocks--;
    CHECKF(w->live_blocks >= 0, "more blocks freed than allocated");
    free(ptr);
}

/* The expected code of a call that may allocate: what it would return,
 * unless the allocation the program made fail failed it. */
static int alloc_or(const struct world *w, int want)
{
    return w->alloc_failed ? FO_ENOMEM : want;
}

/* ---- options ----------------------------------------------------------- */

struct opt_field {
    const char *name;
    size_t offset;
    size_t width;
    uint64_t values[8];
};

#define OPT(field, ...)                                                        \
    {                                                                          \
#field, offsetof(fo_router_options, field),                            \
            sizeof(((fo_router_options *)0)->field),                           \
        {                                                                      \
            __VA_ARGS__                                                        \
        }                                                                      \
    }

/* Values per field: the default (0), ordinary and boundary values, and
 * values outside the documented range. Fields whose range the headers do
 * not state get values the library accepts. The seed is never 0, so that
 * runs with jitter repeat. The order is the program format. */
static const struct opt_field opt_fields[32] = {
    OPT(max_routes, 0, 1, 2, 3, 4, 16, FO_ROUTES_MAX, FO_ROUTES_MAX + 1),
    OPT(max_attempts, 0, 1, 2, 3, 5, 16, 17, UINT32_MAX),
    OPT(consecutive_faults, 0, 1, 2, 3, 5, 1000, 1001, UINT32_MAX),
    OPT(hold_down_multiplier_pct, 0, 100, 150, 200, 1000, 99, 1001, 50),
    OPT(hold_down_ns, 0, MS, SEC, 15 * SEC, 600 * SEC, FO_MAX_HOLD_DOWN_NS,
        FO_MAX_HOLD_DOWN_NS + 1, UINT64_MAX),
    OPT(hold_down_max_ns, 0, SEC, 30 * SEC, 300 * SEC, HOUR,
        FO_MAX_HOLD_DOWN_NS, FO_MAX_HOLD_DOWN_NS + 1, 10 * MS),
    OPT(hold_down_decay_ns, 0, SEC, 60 * SEC, HOUR, FO_MAX_HOLD_DOWN_NS,
        FO_MAX_HOLD_DOWN_NS + 1, MS, 10 * SEC),
    OPT(hold_down_jitter_pct, 0, 1, 10, 50, 100, 101, 0, 25),
    OPT(trial_successes, 0, 1, 2, 3, 5, 1000, 1001, 1),
    OPT(trial_concurrency, 0, 1, 2, 3, 8, 9, 1, 2),
    OPT(window_min_volume, 0, 1, 2, 5, 20, 100, 1, 3),
    OPT(trial_timeout_ns, 0, SEC, 5 * SEC, 120 * SEC, HOUR, 100 * MS, 30 * SEC,
        0),
    OPT(window_ns, 0, SEC, 12 * SEC, 60 * SEC, HOUR, SEC - 1, HOUR + 1, 0),
    OPT(failure_rate_pct, 0, 1, 25, 50, 100, 101, 10, 0),
    OPT(slow_call_rate_pct, 0, 1, 50, 100, 101, 20, 0, 0),
    OPT(slow_call_ns, 0, MS, 100 * MS, 2 * SEC, 60 * SEC, 0, 0, 0),
    OPT(damping_penalty, 0, 1, 500, 1000, 3000, 100000, 0, 0),
    OPT(damping_suppress, 0, 1000, 2000, 2500, 3000, 10000, 0, 0),
    OPT(damping_reuse, 0, 100, 750, 1500, 2999, 5000, 0, 0),
    OPT(detectors_off, 0, FO_DETECTOR_CONSECUTIVE, FO_DETECTOR_FAILURE_RATE,
        FO_DETECTOR_SLOW_CALLS, FO_DETECTOR_DAMPING, FO_DETECTOR_RETRY_AFTER,
        0x1f, 0x20),
    OPT(damping_half_life_ns, 0, SEC, 60 * SEC, 300 * SEC, DAY, SEC - 1,
        DAY + 1, 0),
    OPT(damping_max_suppress_ns, 0, SEC, 60 * SEC, 1200 * SEC, HOUR, 2 * SEC, 0,
        0),
    OPT(retry_after_max_ns, 0, SEC, 600 * SEC, FO_MAX_HOLD_DOWN_NS,
        FO_MAX_HOLD_DOWN_NS + 1, 30 * SEC, 0, 0),
    OPT(seed, 1, 2, 42, 0xdeadbeef, UINT64_MAX, 7, 1, 1),
    OPT(policy, 0, 1, 2, 3, 0, 1, 2, UINT32_MAX),
    OPT(panic, 0, 1, 2, 0, 1, 0, 1, 0),
    OPT(max_ejected_pct, 0, 1, 50, 100, 101, 34, 0, 0),
    OPT(guards_off, 0, FO_GUARD_EJECTION, FO_GUARD_LOCAL_FAULT, 3, 4, 0, 0, 0),
    OPT(local_fault_window_ns, 0, SEC, 10 * SEC, HOUR, 100 * MS, 0, 0, 0),
    OPT(slow_start_ns, 0, SEC, 60 * SEC, HOUR, 0, 0, 0, 0),
    OPT(slow_start_floor_pct, 0, 1, 10, 100, 101, 0, 0, 0),
    OPT(reserved, 0, 1, 0, 0, 0, 0, 0, 0),
};

static void set_field(fo_router_options *o, const struct opt_field *f,
                      uint64_t v)
{
    if (f->width == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;

        memcpy((char *)o + f->offset, &x, sizeof x);
    } else {
        memcpy((char *)o + f->offset, &v, sizeof v);
    }
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
    return v != 0 ? v : def;
}

/* The effective settings, from the documented defaults. A first hold-down
 * longer than the default cap raises the cap with it when the cap is left
 * at its default (lib/options.c; the headers only say the cap is "not
 * below hold_down_ns"). */
static void resolve(const fo_router_options *o, struct eff *e)
{
    uint64_t half_life, max_suppress;

    memset(e, 0, sizeof *e);
    e->max_routes = (uint32_t)or_default(o->max_routes, FO_ROUTES_MAX);
    e->max_attempts =
        (uint32_t)or_default(o->max_attempts, FO_DEFAULT_MAX_ATTEMPTS);
    e->trial_concurrency = (uint32_t)or_default(o->trial_concurrency,
                                                FO_DEFAULT_TRIAL_CONCURRENCY);
    e->jitter_pct = o->hold_down_jitter_pct;
    e->detectors_off = o->detectors_off;
    e->panic = o->panic;
    e->policy = o->policy;
    e->hold_down_ns = or_default(o->hold_down_ns, FO_DEFAULT_HOLD_DOWN_NS);
    e->hold_down_max_ns =
        or_default(o->hold_down_max_ns, FO_DEFAULT_HOLD_DOWN_MAX_NS);
    if (o->hold_down_ns != 0 && o->hold_down_max_ns == 0 &&
        e->hold_down_max_ns < e->hold_down_ns)
        e->hold_down_max_ns = e->hold_down_ns;
    e->retry_after_max_ns =
        or_default(o->retry_after_max_ns, FO_DEFAULT_RETRY_AFTER_MAX_NS);
    e->slow_start_ns = o->slow_start_ns;
    e->reuse = (double)or_default(o->damping_reuse, FO_DEFAULT_DAMPING_REUSE);
    e->suppress =
        (double)or_default(o->damping_suppress, FO_DEFAULT_DAMPING_SUPPRESS);
    half_life =
        or_default(o->damping_half_life_ns, FO_DEFAULT_DAMPING_HALF_LIFE_NS);
    max_suppress = or_default(o->damping_max_suppress_ns,
                              FO_DEFAULT_DAMPING_MAX_SUPPRESS_NS);
    e->ceiling = e->reuse * exp2((double)max_suppress / (double)half_life);
}

/*
 * The errors fo_router_new() may give for these options, per the headers
 * (0: the options are valid). Where several problems are present any of
 * their codes is accepted. Unknown bits and a non-zero reserved field are
 * something "this library does not know" (FO_EVERSION), or simply not
 * acceptable (FO_EINVAL).
 */
static unsigned options_errors(const fo_router_options *o, int size_mode)
{
    unsigned err = 0;
    struct eff e;

    if (size_mode == 15)
        return BIT(FO_EINVAL); /* smaller than the first version */
    if (size_mode == 14)
        return BIT(FO_EVERSION); /* a field this library does not know */
    if ((o->detectors_off & ~0x1fu) != 0 || (o->guards_off & ~0x3u) != 0 ||
        o->reserved != 0)
        err |= BIT(FO_EVERSION) | BIT(FO_EINVAL);
    if (o->max_routes > FO_ROUTES_MAX ||
        o->max_attempts > FO_ATTEMPT_MAX_ROUTES ||
        o->consecutive_faults > FO_MAX_CONSECUTIVE_FAULTS ||
        (o->hold_down_multiplier_pct != 0 &&
         (o->hold_down_multiplier_pct < 100 ||
          o->hold_down_multiplier_pct > 1000)) ||
        o->hold_down_ns > FO_MAX_HOLD_DOWN_NS ||
        o->hold_down_max_ns > FO_MAX_HOLD_DOWN_NS ||
        o->hold_down_decay_ns > FO_MAX_HOLD_DOWN_NS ||
        o->retry_after_max_ns > FO_MAX_HOLD_DOWN_NS ||
        o->hold_down_jitter_pct > 100 ||
        o->trial_successes > FO_MAX_CONSECUTIVE_FAULTS ||
        o->trial_concurrency > FO_MAX_TRIAL_CONCURRENCY ||
        (o->window_ns != 0 && (o->window_ns < SEC || o->window_ns > HOUR)) ||
        o->failure_rate_pct > 100 || o->slow_call_rate_pct > 100 ||
        (o->damping_half_life_ns != 0 &&
         (o->damping_half_life_ns < SEC || o->damping_half_life_ns > DAY)) ||
        o->max_ejected_pct > 100 || o->slow_start_floor_pct > 100)
        err |= BIT(FO_ERANGE);
    if (o->policy > FO_POLICY_LEAST_COST || o->panic > FO_PANIC_FAIL)
        err |= BIT(FO_EINVAL) | BIT(FO_ERANGE);
    resolve(o, &e);
    if (e.hold_down_max_ns < e.hold_down_ns || e.reuse >= e.suppress)
        err |= BIT(FO_EINVAL);
    /* The ceiling must exceed the suppress limit; at equality the two
     * sides' arithmetic may round differently, so either answer goes. */
    if (e.ceiling <= e.suppress * (1 + 1e-9)) {
        if (e.ceiling < e.suppress * (1 - 1e-9))
            err |= BIT(FO_EINVAL);
        else
            err |= BIT(FO_EINVAL) | BIT(FO_OK);
    }
    return err;
}

/* ---- events ------------------------------------------------------------ */

/*
 * Legal changes of the state a pick sees, old -> new.
 *
 * The state is derived (lib/health.c, effective()): DISABLED if the
 * operator disabled the route, else DRILL while a drill runs, else
 * DRAINING if draining, else SUPPRESSED while flap damping holds it, else
 * its health: UP, EJECTED or TRIAL. Hence:
 *
 * - Operator states: any state may go to DISABLED, DRAINING or DRILL, and
 *   each of them to any state, since health and damping are tracked
 *   underneath and show when the operator's state ends (README, Health).
 * - Health (README state table): UP -> EJECTED (a detector, a signal,
 *   failed probes, Retry-After); EJECTED -> TRIAL (hold-down ended,
 *   registration or keepalive restored, probes answered); EJECTED -> UP
 *   (probes bring back a route probes took out; the local-fault guard
 *   puts back a route its first faults ejected); TRIAL -> UP (trial
 *   passed); TRIAL -> EJECTED (trial failed, a lost signal, failed probes).
 *   UP -> TRIAL is not a change the library makes: a trial only follows an
 *   ejection.
 * - Damping: UP -> SUPPRESSED when an ejection from service brings the
 *   penalty to the suppress limit; SUPPRESSED -> UP, EJECTED or TRIAL when
 *   the penalty decays below reuse (health moved on underneath) or the
 *   local-fault guard undoes the ejection. Only an ejection from service
 *   adds a penalty (RFC 2439: a failed trial is the same outage), so
 *   EJECTED -> SUPPRESSED and TRIAL -> SUPPRESSED are not legal.
 */
#define S_UP FO_STATE_UP
#define S_EJ FO_STATE_EJECTED
#define S_TR FO_STATE_TRIAL
#define S_SU FO_STATE_SUPPRESSED

static bool transition_legal(int from, int to)
{
    if (from == to || !state_valid(from) || !state_valid(to))
        return false;
    if (operator_state(from) || operator_state(to))
        return true;
    switch (from) {
    case S_UP:
        return to == S_EJ || to == S_SU;
    case S_EJ:
        return to == S_UP || to == S_TR;
    case S_TR:
        return to == S_UP || to == S_EJ;
    case S_SU:
        return to == S_UP || to == S_EJ || to == S_TR;
    default:
        return false;
    }
}

static void forget_states(struct world *w)
{
    for (uint32_t i = 0; i < w->nrec; i++)
        w->recs[i].ev_known = false;
}

static struct plan *plan_by_id(struct world *w, fo_plan_id id)
{
    for (uint32_t i = 0; i < w->nplan; i++)
        if (w->plans[i].id == id)
            return &w->plans[i];
    return NULL;
}

static void track_route_event(struct world *w, const fo_event *ev)
{
    struct rec *r = rec_by_id(w, ev->route);

    if (r == NULL) {
        /* Delivered inside fo_route_add(), before it returns the id. */
        CHECKF(ev->kind == FO_EVENT_ROUTE_ADDED,
               "%s event for route %llu, which the model never added",
               fo_event_kind_name(ev->kind), (unsigned long long)ev->route);
        CHECK(!w->added_seen);
        CHECK(ev->new_state == FO_STATE_UP && ev->reason == FO_REASON_ADDED);
        w->added_seen = true;
        w->added_id = ev->route;
        return;
    }
    CHECKF(!r->ev_removed, "%s event for %s after its ROUTE_REMOVED",
           fo_event_kind_name(ev->kind), r->name);
    CHECKF(r->live, "%s event for %s, removed before",
           fo_event_kind_name(ev->kind), r->name);
    switch (ev->kind) {
    case FO_EVENT_STATE:
        CHECKF(transition_legal(ev->old_state, ev->new_state),
               "%s: illegal transition %s -> %s (%s: %s)", r->name,
               sname(ev->old_state), sname(ev->new_state),
               fo_reason_name(ev->reason), ev->text);
        CHECKF(!r->ev_known || ev->old_state == r->ev_state,
               "%s: STATE %s -> %s, but the previous event left it %s", r->name,
               sname(ev->old_state), sname(ev->new_state), sname(r->ev_state));
        break;
    case FO_EVENT_ROUTE_ADDED:
        fail(__LINE__, "ROUTE_ADDED for %s, added before", r->name);
    default:
        CHECKF(ev->old_state == ev->new_state, "%s event changes %s to %s",
               fo_event_kind_name(ev->kind), sname(ev->old_state),
               sname(ev->new_state));
        CHECKF(!r->ev_known || ev->new_state == r->ev_state,
               "%s: %s event in %s, but the events left it %s", r->name,
               fo_event_kind_name(ev->kind), sname(ev->new_state),
               sname(r->ev_state));
        break;
    }
    if (ev->kind == FO_EVENT_ROUTE_REMOVED)
        r->ev_removed = true;
    r->ev_state = ev->new_state;
    r->ev_known = true;
}

static void count_delivered(struct world *w, uint64_t seq)
{
    if (seq != w->last_delivered_seq) {
        w->delivered++;
        w->last_delivered_seq = seq;
    }
}

static void check_quiet(struct world *w, uint64_t due, const char *when);

static void on_event(fo_router *router, const fo_event *ev, void *userdata)
{
    struct world *w = userdata;
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    fo_route_stats s = FO_ROUTE_STATS_INIT;
    fo_route_state st;
    uint64_t t;
    int rc;

    CHECK(w == &W && router == w->r);
    CHECKF(w->ev_cb, "the event callback ran after it was removed");
    CHECK(ev != NULL && ev->size == sizeof *ev);
    CHECK(ev->text != NULL && ev->route_name != NULL);
    CHECKF(ev->kind >= FO_EVENT_STATE && ev->kind <= FO_EVENT_DROPPED,
           "event kind %d", (int)ev->kind);
    CHECKF(ev->reason >= FO_REASON_NONE && ev->reason <= FO_REASON_GUARD_ENDED,
           "event reason %d", (int)ev->reason);
    CHECKF(!w->ev_contiguous || ev->seq == w->ev_last_seq + 1,
           "event seq %llu after %llu", (unsigned long long)ev->seq,
           (unsigned long long)w->ev_last_seq);
    CHECK(ev->seq > w->ev_last_seq);
    w->ev_last_seq = ev->seq;
    w->ev_contiguous = true;
    CHECKF(ev->time_ns <= w->now && ev->time_ns >= w->ev_last_time,
           "event time %llu (last %llu, now %llu)",
           (unsigned long long)ev->time_ns, (unsigned long long)w->ev_last_time,
           (unsigned long long)w->now);
    w->ev_last_time = ev->time_ns;
    count_delivered(w, ev->seq);
    trace("    event %llu %s %s %s -> %s (%s) %s", (unsigned long long)ev->seq,
          fo_event_kind_name(ev->kind), ev->route_name, sname(ev->old_state),
          sname(ev->new_state), fo_reason_name(ev->reason), ev->text);

    if (ev->route != FO_ROUTE_ID_NONE) {
        CHECK(ev->route_name[0] != '\0');
        CHECKF(state_valid(ev->old_state) && state_valid(ev->new_state),
               "event states %d -> %d", (int)ev->old_state, (int)ev->new_state);
        track_route_event(w, ev);
    }
    switch (ev->kind) {
    case FO_EVENT_STATE:
    case FO_EVENT_UPDATE:
    case FO_EVENT_GUARD:
    case FO_EVENT_ROUTE_ADDED:
    case FO_EVENT_ROUTE_REMOVED:
        CHECKF(ev->route != FO_ROUTE_ID_NONE, "%s event without a route",
               fo_event_kind_name(ev->kind));
        break;
    case FO_EVENT_PANIC_STARTED:
    case FO_EVENT_PANIC_ENDED: {
        struct plan *p = plan_by_id(w, ev->plan);
        bool *panic = ev->plan == FO_PLAN_ID_NONE ? &w->def_panic
                      : p != NULL                 ? &p->panic
                                                  : NULL;

        CHECKF(panic != NULL && (ev->plan == FO_PLAN_ID_NONE || p->live),
               "panic event for plan %llu, not a live plan",
               (unsigned long long)ev->plan);
        if (w->ev_full)
            CHECKF(*panic == (ev->kind == FO_EVENT_PANIC_ENDED),
                   "%s while the list was%s in panic",
                   fo_event_kind_name(ev->kind), *panic ? "" : " not");
        *panic = ev->kind == FO_EVENT_PANIC_STARTED;
        break;
    }
    case FO_EVENT_LOCAL_FAULT:
    case FO_EVENT_LOCAL_FAULT_ENDED:
        w->lf_changes++;
        if (w->ev_full)
            CHECKF(w->lf_open == (ev->kind == FO_EVENT_LOCAL_FAULT_ENDED),
                   "%s while a local fault was%s open",
                   fo_event_kind_name(ev->kind), w->lf_open ? "" : " not");
        w->lf_open = ev->kind == FO_EVENT_LOCAL_FAULT;
        break;
    case FO_EVENT_DROPPED:
        /* One call never queues a full queue's worth here. */
        CHECK(ev->count > 0);
        w->dropped += ev->count;
        forget_states(w);
        w->ev_full = false;
        break;
    default:
        break;
    }

    /* The deadlines as committed when the event was queued: reading them
     * changes nothing, so a deadline set in the past shows here even if
     * the next refresh would apply it at once. */
    EXPECT("fo_router_next_deadline in an event",
           fo_router_next_deadline(router, &t), FO_OK);
    check_quiet(w, t, "at an event");

    /* Calling back in: reading is allowed, waiting for this very callback
     * (ticking, stopping the thread, freeing) is refused. */
    switch (ev->seq % 4) {
    case 0:
        if (ev->route != FO_ROUTE_ID_NONE) {
            rc = fo_route_get_state(router, ev->route, &st);
            EXPECT_IN("fo_route_get_state in an event", rc,
                      BIT(FO_OK) | BIT(FO_ENOENT));
            CHECK(rc != FO_OK || state_valid(st));
        }
        break;
    case 1:
        EXPECT("fo_router_get_stats in an event",
               fo_router_get_stats(router, &rs), FO_OK);
        break;
    case 2:
        EXPECT("fo_router_tick in an event", fo_router_tick(router), FO_EBUSY);
        EXPECT("fo_router_free in an event", fo_router_free(router), FO_EBUSY);
        EXPECT("fo_router_stop_thread in an event",
               fo_router_stop_thread(router), FO_EBUSY);
        break;
    default:
        if (ev->route != FO_ROUTE_ID_NONE)
            EXPECT_IN("fo_route_get_stats in an event",
                      fo_route_get_stats(router, ev->route, &s),
                      BIT(FO_OK) | BIT(FO_ENOENT));
        EXPECT("fo_router_next_deadline in an event",
               fo_router_next_deadline(router, &t), FO_OK);
        break;
    }
}

static void on_log(fo_router *router, fo_log_level level, const char *line,
                   const fo_event *ev, void *userdata)
{
    struct world *w = userdata;
    size_t len;

    CHECK(w == &W && router == w->r);
    CHECKF(w->log_cb, "the log callback ran after it was removed");
    CHECKF(level >= FO_LOG_ERROR && (int)level <= w->log_level,
           "log line at level %d, callback set for %d", (int)level,
           w->log_level);
    CHECK(line != NULL && ev != NULL);
    len = strlen(line);
    CHECKF(len > 0 && strchr(line, '\n') == NULL, "log line \"%s\"", line);
    CHECK(ev->seq > w->log_last_seq);
    w->log_last_seq = ev->seq;
    if (ev->kind == FO_EVENT_STATE)
        CHECKF(strstr(line, " -> ") != NULL, "STATE log line \"%s\"", line);
    count_delivered(w, ev->seq);
}

/* ---- probes ------------------------------------------------------------ */

static void remember_token(struct world *w, fo_probe_token token,
                           fo_route_id route)
{
    CHECKF(token > w->last_token, "probe token %llu after %llu",
           (unsigned long long)token, (unsigned long long)w->last_token);
    w->last_token = token;
    if (w->ntok < MAX_TOKENS) {
        w->tokens[w->ntok++] = (struct token){token, route};
    } else {
        memmove(&w->tokens[0], &w->tokens[1],
                (MAX_TOKENS - 1) * sizeof *w->tokens);
        w->tokens[MAX_TOKENS - 1] = (struct token){token, route};
    }
}

static void on_destroy(void *userdata)
{
    struct probe_ctx *ctx = userdata;
    struct world *w = &W;

    CHECKF(ctx != NULL && ctx->magic == CTX_MAGIC,
           "probe destroy with a userdata that is not a live registration");
    CHECKF(ctx->running == 0, "probe userdata destroyed while its callback "
                              "runs");
    ctx->magic = 0;
    w->destroys++;
    w->live_ctx--;
    free(ctx);
}

static struct probe_ctx *ctx_new(struct world *w, fo_route_id route,
                                 uint8_t act, uint8_t a, uint8_t b)
{
    struct probe_ctx *ctx = malloc(sizeof *ctx);

    CHECKF(ctx != NULL, "out of memory");
    ctx->magic = CTX_MAGIC;
    ctx->route = route;
    ctx->running = 0;
    ctx->act = act;
    ctx->a = a;
    ctx->b = b;
    w->live_ctx++;
    return ctx;
}

/* A registration the library refused is still ours. */
static void ctx_drop(struct world *w, struct probe_ctx *ctx)
{
    CHECK(ctx->magic == CTX_MAGIC);
    ctx->magic = 0;
    w->live_ctx--;
    free(ctx);
}

/* A probe outcome the library took (FO_OK). */
static void probe_taken(struct rec *r, fo_result res)
{
    switch (fo_result_default_class(res)) {
    case FO_CLASS_NEUTRAL:
        r->cancelled++;
        break;
    case FO_CLASS_ROUTE_FAULT:
        r->failed++;
        break;
    default:
        r->answered++;
        break;
    }
    r->inflight = 0;
}

static void route_removed(struct world *w, struct rec *r);
static int probe_options(uint8_t mode, uint8_t a, uint8_t b,
                         fo_probe_options *o, uint64_t *timeout);

/*
 * The probe callback. Actions (ctx->act % 8): 4 completes the probe at
 * once with the result given by the parameter; 5 checks that ticking and
 * freeing are refused; 6 replaces its own registration (with the same
 * options, and no action); 7 removes its own route; the others leave the
 * probe to the program (fo_probe_done, or the timeout).
 */
static void on_probe(fo_router *router, fo_route_id route, fo_probe_token token,
                     void *userdata)
{
    struct probe_ctx *ctx = userdata;
    struct world *w = &W;
    struct rec *r;
    uint8_t action;
    int rc;

    CHECKF(ctx != NULL && ctx->magic == CTX_MAGIC,
           "probe callback with a userdata that is not a live registration");
    CHECK(router == w->r && route == ctx->route && token != 0);
    r = rec_by_id(w, route);
    CHECKF(rec_live(r), "probe of route %llu, which is not live",
           (unsigned long long)route);
    CHECKF(r->ctx == ctx, "%s probed through a replaced registration", r->name);
    ctx->running++;
    if (r->inflight != 0) {
        /* At most one probe in flight: the one before timed out in this
         * tick, and only once its timeout had passed. */
        CHECKF(w->now >= add_sat(r->inflight_start, r->probe_timeout),
               "%s: a second probe started while one was in flight", r->name);
        r->timed_out++;
        r->timed_out_token = r->inflight;
    }
    remember_token(w, token, route);
    r->inflight = token;
    r->inflight_start = w->now;
    r->calls++;

    action = ctx->act;
    trace("    probe %s token %llu, action %u", r->name,
          (unsigned long long)token, action % 8u);
    switch (action % 8) {
    case 4: { /* a probe that completes at once, from its callback */
        fo_result res = result_arg((uint8_t)(action >> 3));

        rc = fo_probe_done(router, token, res);
        if (!result_valid(res)) {
            EXPECT("fo_probe_done (bad result)", rc, FO_EINVAL);
        } else {
            EXPECT("fo_probe_done in the probe callback", rc, FO_OK);
            probe_taken(r, res);
            w->cb_acted = true;
        }
        break;
    }
    case 5:
        EXPECT("fo_router_tick in a probe", fo_router_tick(router), FO_EBUSY);
        EXPECT("fo_router_free in a probe", fo_router_free(router), FO_EBUSY);
        break;
    case 6: { /* replaces its own registration */
        fo_probe_options o;
        uint64_t timeout;
        bool failed_before;
        struct probe_ctx *next = ctx_new(w, route, 0, ctx->a, ctx->b);

        EXPECT("probe options", probe_options(0, ctx->a, ctx->b, &o, &timeout),
               FO_OK);
        /* The allocation the program made fail may be this one. */
        failed_before = w->alloc_failed;
        w->alloc_failed = false;
        rc = fo_set_probe(router, route, on_probe, next, &o);
        trace("    probe %s replaces itself -> %s", r->name, fo_error_name(rc));
        EXPECT("fo_set_probe in a probe", rc, alloc_or(w, FO_OK));
        w->alloc_failed = w->alloc_failed || failed_before;
        if (rc != FO_OK) {
            ctx_drop(w, next);
            break;
        }
        w->registrations++;
        w->cb_acted = true;
        r->abandoned++;
        r->inflight = 0;
        r->ctx = next;
        r->probe_timeout = timeout;
        CHECKF(ctx->magic == CTX_MAGIC, "a running probe's userdata was "
                                        "destroyed when it was replaced");
        break;
    }
    case 7: /* removes its own route */
        rc = fo_route_remove(router, route);
        EXPECT("fo_route_remove in a probe", rc, FO_OK);
        route_removed(w, r);
        w->cb_acted = true;
        CHECKF(ctx->magic == CTX_MAGIC,
               "a running probe's userdata was destroyed with its route");
        break;
    default:
        break; /* answered later, or never */
    }
    ctx->running--;
}

/*
 * Probe options from two bytes: a gives the interval (bits 0-2), the
 * timeout (bits 3-5) and the down interval (bits 6-7); b the rise (bits
 * 0-1), the fall (2-3), strong evidence (4), no jitter (5) and the jitter
 * (6-7). mode 6 and 7 give invalid options instead (selected by a % 8).
 * Returns the code fo_set_probe() must give, FO_OK for valid options.
 */
static int probe_options(uint8_t mode, uint8_t a, uint8_t b,
                         fo_probe_options *o, uint64_t *timeout)
{
    static const uint64_t intervals[8] = {
        0, 10 * MS, 100 * MS, SEC, 10 * SEC, HOUR, 50 * MS, 500 * MS,
    };
    static const uint64_t timeouts[8] = {
        0, MS, 500 * MS, 5 * SEC, HOUR, 100 * MS, 2 * SEC, 10 * MS,
    };
    static const uint64_t downs[4] = {0, 10 * MS, 5 * SEC, DAY};
    static const uint32_t falls[4] = {0, 1, 2, 5};
    static const uint32_t jitters[4] = {0, 10, 50, 100};

    FO_PROBE_OPTIONS_INIT(o);
    o->destroy = on_destroy;
    o->interval_ns = intervals[a % 8];
    o->timeout_ns = timeouts[(a / 8) % 8];
    o->down_interval_ns = downs[(a / 64) % 4];
    o->rise = b % 4;
    o->fall = falls[(b / 4) % 4];
    o->evidence = (b / 16) % 2 ? FO_PROBE_STRONG : FO_PROBE_WEAK;
    o->flags = (b / 32) % 2 ? FO_PROBE_NO_JITTER : 0;
    o->jitter_pct = jitters[(b / 64) % 4];
    *timeout = o->timeout_ns != 0 ? o->timeout_ns : FO_DEFAULT_PROBE_TIMEOUT_NS;
    if (mode % 8 < 6)
        return FO_OK;
    switch (a % 8) {
    case 0:
        o->interval_ns = 5 * MS;
        return FO_ERANGE;
    case 1:
        o->timeout_ns = HOUR + 1;
        return FO_ERANGE;
    case 2:
        o->evidence = 2;
        return FO_EINVAL;
    case 3:
        o->flags = 0x2;
        return FO_EVERSION;
    case 4:
        o->reserved = 1;
        return FO_EVERSION;
    case 5:
        o->rise = FO_MAX_CONSECUTIVE_FAULTS + 1;
        return FO_ERANGE;
    case 6:
        o->jitter_pct = 101;
        return FO_ERANGE;
    default:
        o->size = sizeof *o - 1;
        return FO_EINVAL;
    }
}

/* ---- checks after every step ------------------------------------------ */

static double hold_cap(const struct world *w)
{
    uint64_t base = w->cfg.hold_down_max_ns > w->cfg.retry_after_max_ns
                        ? w->cfg.hold_down_max_ns
                        : w->cfg.retry_after_max_ns;

    return (double)base * (1.0 + w->cfg.jitter_pct / 100.0) + 1.0;
}

static bool drill_active(const struct world *w, const struct rec *r)
{
    return r->drill_until != 0 && w->now < r->drill_until;
}

/* A route's snapshot against the model and the documented invariants. */
static void check_route(struct world *w, struct rec *r, const fo_route_stats *s)
{
    uint64_t results = 0, classes = 0;

    if (r->drill_until != 0 && w->now >= r->drill_until)
        r->drill_until = 0; /* over by itself */
    CHECK(s->route == r->id);
    CHECKF(strcmp(s->name, r->name) == 0, "name \"%s\", added as \"%s\"",
           s->name, r->name);
    CHECKF(state_valid(s->state), "%s: state %d", r->name, (int)s->state);
    CHECKF(s->reason >= FO_REASON_NONE && s->reason <= FO_REASON_GUARD_ENDED,
           "%s: reason %d", r->name, (int)s->reason);
    CHECK(memchr(s->reason_text, '\0', sizeof s->reason_text) != NULL);
    CHECKF(s->admin == r->admin, "%s: admin %d, set %d", r->name, (int)s->admin,
           (int)r->admin);
    CHECK(s->priority == r->priority && s->weight == r->weight &&
          s->cost == r->cost);
    /* The operator's states override everything: DISABLED wins, then a
     * drill, then DRAINING. */
    CHECKF((s->state == FO_STATE_DISABLED) == (r->admin == FO_ADMIN_DISABLED),
           "%s: %s with admin %d", r->name, sname(s->state), (int)r->admin);
    CHECKF((s->state == FO_STATE_DRILL) ==
               (drill_active(w, r) && r->admin != FO_ADMIN_DISABLED),
           "%s: %s, drill until %llu, now %llu", r->name, sname(s->state),
           (unsigned long long)r->drill_until, (unsigned long long)w->now);
    CHECKF((s->state == FO_STATE_DRAINING) ==
               (r->admin == FO_ADMIN_DRAINING && !drill_active(w, r)),
           "%s: %s with admin %d", r->name, sname(s->state), (int)r->admin);
    if (s->state == FO_STATE_DRILL)
        CHECK(s->until_ns == r->drill_until);
    /* A lost registration holds the route out until it is restored. */
    CHECKF(((s->flags & FO_STATS_AWAITS_REGISTRATION) != 0) == r->reg_lost,
           "%s: flags 0x%x, registration %s", r->name, s->flags,
           r->reg_lost ? "lost" : "not lost");
    CHECKF(!r->reg_lost ||
               (s->state != FO_STATE_UP && s->state != FO_STATE_TRIAL),
           "%s: %s with its registration lost", r->name, sname(s->state));
    CHECK((s->flags & ~(FO_STATS_GUARDED | FO_STATS_PROBED | FO_STATS_RAMPING |
                        FO_STATS_AWAITS_REGISTRATION)) == 0);
    CHECK(((s->flags & FO_STATS_PROBED) != 0) == (r->ctx != NULL));

    /* Counters: exactly what was reported and picked. */
    for (unsigned i = 0; i < FO_STATS_RESULTS; i++) {
        CHECKF(s->results[i] == r->results[i],
               "%s: %llu %s results, %llu reported", r->name,
               (unsigned long long)s->results[i], fo_result_name((fo_result)i),
               (unsigned long long)r->results[i]);
        results += s->results[i];
    }
    for (unsigned i = 0; i < FO_STATS_CLASSES; i++) {
        CHECKF(s->classes[i] == r->classes[i],
               "%s: %llu results of class %u, %llu reported", r->name,
               (unsigned long long)s->classes[i], i,
               (unsigned long long)r->classes[i]);
        classes += s->classes[i];
    }
    CHECKF(results == s->reports && classes == s->reports &&
               s->reports == r->reports,
           "%s: results %llu, classes %llu, reports %llu, reported %llu",
           r->name, (unsigned long long)results, (unsigned long long)classes,
           (unsigned long long)s->reports, (unsigned long long)r->reports);
    CHECK(s->stale_reports <= s->reports);
    CHECKF(s->picks == r->picks && s->trial_picks == r->trial_picks &&
               s->panic_picks == r->panic_picks,
           "%s: picks %llu/%llu trial/%llu panic, made %llu/%llu/%llu", r->name,
           (unsigned long long)s->picks, (unsigned long long)s->trial_picks,
           (unsigned long long)s->panic_picks, (unsigned long long)r->picks,
           (unsigned long long)r->trial_picks,
           (unsigned long long)r->panic_picks);

    /* The window and the ceilings. */
    CHECKF(s->window_faults <= s->window_attempts,
           "%s: window faults %llu > attempts %llu", r->name,
           (unsigned long long)s->window_faults,
           (unsigned long long)s->window_attempts);
    CHECK(s->window_slow <= s->window_timed &&
          s->window_timed <= s->window_attempts);
    CHECK(s->window_failure_rate >= 0.0 && s->window_failure_rate <= 1.0);
    CHECK(s->window_slow_rate >= 0.0 && s->window_slow_rate <= 1.0);
    CHECKF((double)s->penalty <= w->cfg.ceiling * (1 + 1e-9) + 1.0,
           "%s: penalty %u above the RFC 2439 ceiling %.3f", r->name,
           s->penalty, w->cfg.ceiling);
    if (w->cfg.detectors_off & FO_DETECTOR_DAMPING)
        CHECKF(s->penalty == 0 && s->state != FO_STATE_SUPPRESSED,
               "%s: %s with penalty %u, damping off", r->name, sname(s->state),
               s->penalty);
    /*
     * The hold-down: never longer than max(hold_down_max_ns,
     * retry_after_max_ns) plus the jitter, counted from now. A Retry-After
     * reported while the route is out lengthens the hold-down to now +
     * Retry-After (README: "while the route is out it can only lengthen
     * the hold-down"), so hold_down_ns, counted from the ejection, may
     * exceed that by the time already spent out; what stays bounded is
     * how long the route is still out. The ejection (until - hold-down)
     * comes before the route showed EJECTED.
     */
    if (s->state == FO_STATE_EJECTED && s->until_ns != 0) {
        CHECKF((double)(s->until_ns - s->now_ns) <= hold_cap(w),
               "%s: out for %llu ns more, above max(hold_down_max %llu, "
               "retry_after_max %llu) + %u%% jitter",
               r->name, (unsigned long long)(s->until_ns - s->now_ns),
               (unsigned long long)w->cfg.hold_down_max_ns,
               (unsigned long long)w->cfg.retry_after_max_ns,
               w->cfg.jitter_pct);
        CHECKF(s->hold_down_ns <= s->until_ns &&
                   s->until_ns - s->hold_down_ns <= s->state_since_ns,
               "%s: hold-down %llu ns ending at %llu, EJECTED since %llu",
               r->name, (unsigned long long)s->hold_down_ns,
               (unsigned long long)s->until_ns,
               (unsigned long long)s->state_since_ns);
    }
    if (s->state == FO_STATE_EJECTED || s->state == FO_STATE_SUPPRESSED ||
        s->state == FO_STATE_DRILL)
        CHECKF(s->until_ns == 0 || s->until_ns > s->now_ns,
               "%s: %s until %llu, now %llu", r->name, sname(s->state),
               (unsigned long long)s->until_ns, (unsigned long long)s->now_ns);
    else
        CHECKF(s->until_ns == 0, "%s: %s with until %llu", r->name,
               sname(s->state), (unsigned long long)s->until_ns);
    CHECK(s->trial_slots == w->cfg.trial_concurrency &&
          s->trial_slots_in_use <= s->trial_slots);
    CHECK(s->now_ns == w->now && s->state_since_ns <= s->now_ns &&
          s->time_in_state_ns == s->now_ns - s->state_since_ns);
    CHECK(s->last_fault_ns <= w->now && s->last_success_ns <= w->now);

    /* Probes: every one started is answered, failed, timed out, cancelled,
     * abandoned by a new registration, or still in flight. */
    CHECKF(s->probes_sent == r->calls && s->probes_answered == r->answered &&
               s->probes_failed == r->failed &&
               s->probes_timed_out == r->timed_out && s->probes_late == r->late,
           "%s: probes sent %llu answered %llu failed %llu timed out %llu "
           "late %llu; model %llu %llu %llu %llu %llu",
           r->name, (unsigned long long)s->probes_sent,
           (unsigned long long)s->probes_answered,
           (unsigned long long)s->probes_failed,
           (unsigned long long)s->probes_timed_out,
           (unsigned long long)s->probes_late, (unsigned long long)r->calls,
           (unsigned long long)r->answered, (unsigned long long)r->failed,
           (unsigned long long)r->timed_out, (unsigned long long)r->late);
    CHECK(r->calls == r->answered + r->failed + r->timed_out + r->cancelled +
                          r->abandoned + (r->inflight != 0));

    /* What the events said is what the route shows. */
    if (w->ev_cb && !r->ev_known) {
        r->ev_known = true;
        r->ev_state = s->state;
    }
    CHECKF(!w->ev_cb || r->ev_state == s->state,
           "%s: %s, but the events said %s", r->name, sname(s->state),
           sname(r->ev_state));
}

static void read_route(struct world *w, struct rec *r, fo_route_stats *s)
{
    int rc;

    *s = (fo_route_stats)FO_ROUTE_STATS_INIT;
    rc = fo_route_get_stats(w->r, r->id, s);
    EXPECT("fo_route_get_stats", rc, FO_OK);
}

/*
 * Once a tick has left nothing due, nothing becomes due before the clock
 * moves, except probes (a new one starts within its jitter of now; a
 * route back in service may have one overdue). Every other deadline a
 * call sets lies ahead of it: a hold-down, a trial slot, a drill, a
 * suppression's reuse, a guard's time, a step of hold-down decay counted
 * from the route's return to service.
 */
static void check_quiet(struct world *w, uint64_t due, const char *when)
{
    bool probed = false;

    for (uint32_t i = 0; i < w->nrec; i++)
        probed = probed || (w->recs[i].live && w->recs[i].ctx != NULL);
    if (w->quiet_valid && w->quiet_now == w->now && !probed)
        CHECKF(due > w->now,
               "%s, the next deadline %llu is due at %llu, with no probe, "
               "and the clock has not moved since a tick left nothing due",
               when, (unsigned long long)due, (unsigned long long)w->now);
}

/* The next deadline, as an instant and as a poll() timeout. */
static void check_deadline(struct world *w)
{
    uint64_t due = 0;
    int ms = -2;

    EXPECT("fo_router_next_deadline", fo_router_next_deadline(w->r, &due),
           FO_OK);
    EXPECT("fo_router_next_timeout_ms", fo_router_next_timeout_ms(w->r, &ms),
           FO_OK);
    if (due == UINT64_MAX) {
        CHECKF(ms == -1, "no deadline, timeout %d ms", ms);
    } else if (due <= w->now) {
        CHECKF(ms == 0, "deadline due, timeout %d ms", ms);
    } else {
        uint64_t want = (due - w->now + MS - 1) / MS;

        CHECKF((uint64_t)ms == (want > INT32_MAX ? INT32_MAX : want),
               "deadline in %llu ns, timeout %d ms",
               (unsigned long long)(due - w->now), ms);
    }
    check_quiet(w, due, "after the step");
}

static void check_all(struct world *w)
{
    fo_router_stats rs = FO_ROUTER_STATS_INIT;
    uint64_t now = 0, in_states = 0;
    long probed = 0;
    uint32_t panics = w->def_panic;

    EXPECT("fo_router_now", fo_router_now(w->r, &now), FO_OK);
    CHECKF(now == w->now, "router time %llu, expected %llu",
           (unsigned long long)now, (unsigned long long)w->now);
    /* The first look applies what time has made due (and delivers its
     * events); a second look at the same instant changes nothing, so the
     * counters compared below are final. */
    EXPECT("fo_router_get_stats", fo_router_get_stats(w->r, &rs), FO_OK);
    for (uint32_t i = 0; i < w->nrec; i++) {
        struct rec *r = &w->recs[i];
        fo_route_stats s;

        if (!r->live)
            continue;
        read_route(w, r, &s);
        check_route(w, r, &s);
        probed += r->ctx != NULL;
    }
    EXPECT("fo_router_get_stats", fo_router_get_stats(w->r, &rs), FO_OK);
    CHECK(rs.now_ns == w->now);
    CHECKF(rs.routes == live_count(w) && rs.plans == plan_live_count(w),
           "router: %u routes, %u plans; model %u, %u", rs.routes, rs.plans,
           live_count(w), plan_live_count(w));
    for (unsigned i = 0; i < FO_STATS_STATES; i++) {
        CHECK(state_valid((int)i) || rs.routes_in_state[i] == 0);
        in_states += rs.routes_in_state[i];
    }
    CHECK(in_states == rs.routes);
    CHECKF(rs.reports == w->tot_reports && rs.picks == w->tot_picks &&
               rs.no_route_picks == w->tot_noroute &&
               rs.panic_picks == w->tot_panic,
           "router: reports %llu picks %llu (no route %llu, panic %llu); "
           "model %llu %llu (%llu, %llu)",
           (unsigned long long)rs.reports, (unsigned long long)rs.picks,
           (unsigned long long)rs.no_route_picks,
           (unsigned long long)rs.panic_picks,
           (unsigned long long)w->tot_reports, (unsigned long long)w->tot_picks,
           (unsigned long long)w->tot_noroute,
           (unsigned long long)w->tot_panic);
    CHECKF(rs.probe_strays == w->strays,
           "router: %llu probe strays, "
           "model %llu",
           (unsigned long long)rs.probe_strays, (unsigned long long)w->strays);
    CHECKF(rs.events_delivered == w->delivered &&
               rs.events_dropped == w->dropped,
           "router: %llu events delivered, %llu dropped; seen %llu, %llu",
           (unsigned long long)rs.events_delivered,
           (unsigned long long)rs.events_dropped,
           (unsigned long long)w->delivered, (unsigned long long)w->dropped);
    CHECK((rs.flags & FO_ROUTER_STATS_THREAD) == 0);
    for (uint32_t i = 0; i < w->nplan; i++)
        panics += w->plans[i].live && w->plans[i].panic;
    CHECK(rs.lists_in_panic <= 1 + plan_live_count(w));
    if (w->ev_full) {
        CHECKF(rs.lists_in_panic == panics,
               "router: %u lists in panic, the events say %u",
               rs.lists_in_panic, panics);
        CHECKF(((rs.flags & FO_ROUTER_STATS_LOCAL_FAULT) != 0) == w->lf_open,
               "router flags 0x%x, local fault %s by the events", rs.flags,
               w->lf_open ? "open" : "not open");
    }
    CHECKF(w->live_ctx == probed,
           "%ld probe registrations alive, %ld routes probed", w->live_ctx,
           probed);
    check_deadline(w);
}

/* ---- operations -------------------------------------------------------- */

enum op {
    OP_ADD,
    OP_UPDATE,
    OP_REMOVE,
    OP_REPORT,
    OP_PICK,
    OP_HUNT,
    OP_ATTEMPT,
    OP_PLAN_NEW,
    OP_PLAN_SET,
    OP_PLAN_UNSET,
    OP_PLAN_POLICY,
    OP_PLAN_FREE,
    OP_ADMIN,
    OP_DRILL,
    OP_SIGNAL,
    OP_SET_PROBE,
    OP_TICK,
    OP_PROBE_DONE,
    OP_CLOCK,
    OP_PANIC,
    OP_RESULT_CLASS,
    OP_SIP_RESULT,
    OP_REPORT_SIP,
    OP_READ,
    OP_DUMP,
    OP_METRICS,
    OP_EVENT_CB,
    OP_LOG_CB,
    OP_FAIL_ALLOC,
    OP_DEADLINE,
    OP_COUNT
};

/* Codes past OP_COUNT repeat the calls a dialer makes most, so random
 * programs make them more often. */
static const uint8_t op_alias[] = {
    OP_REPORT, OP_REPORT, OP_HUNT, OP_HUNT,   OP_CLOCK,
    OP_CLOCK,  OP_TICK,   OP_PICK, OP_REPORT, OP_PROBE_DONE,
};
#define OP_CODES (OP_COUNT + (int)sizeof op_alias)

static const char *const op_names[OP_COUNT] = {
    "add",          "update",     "remove",     "report",     "pick",
    "hunt",         "attempt",    "plan_new",   "plan_set",   "plan_unset",
    "plan_policy",  "plan_free",  "admin",      "drill",      "signal",
    "set_probe",    "tick",       "probe_done", "clock",      "panic",
    "result_class", "sip_result", "report_sip", "read",       "dump",
    "metrics",      "event_cb",   "log_cb",     "fail_alloc", "deadline",
};

/* add: name, priority, weight, cost */
static void op_add(struct world *w)
{
    char name[96];
    uint8_t nb = u8(w);
    uint32_t priority = u8(w) % 4, weight = weight_arg(u8(w));
    uint32_t cost = u8(w) % 4;
    fo_route_id id = 12345;
    unsigned accept = 0;
    struct rec *r;
    int rc;

    route_name(w, nb, name, sizeof name);
    if (!name_ok(name))
        accept |= BIT(FO_EINVAL);
    if (weight > FO_WEIGHT_MAX)
        accept |= BIT(FO_ERANGE);
    if (accept == 0) {
        if (live_by_name(w, name) != NULL)
            accept |= BIT(FO_EEXIST);
        if (live_count(w) >= w->cfg.max_routes)
            accept |= BIT(FO_ELIMIT);
    }
    if (accept == 0 && (live_count(w) >= MAX_LIVE || w->nrec == MAX_REC)) {
        /* Would succeed, but the model is full: forget a removed route,
         * or skip the call. */
        if (live_count(w) >= MAX_LIVE || rec_new(w) == NULL)
            return;
        w->nrec--;
    }
    w->added_seen = false;
    rc = fo_route_add(w->r, name, priority, weight, cost, &id);
    trace("add \"%s\" prio %u weight %u cost %u -> %s id %llu", name, priority,
          weight, cost, fo_error_name(rc), (unsigned long long)id);
    if (accept != 0) {
        EXPECT_IN("fo_route_add", rc, accept);
    } else {
        EXPECT("fo_route_add", rc, alloc_or(w, FO_OK));
    }
    if (rc != FO_OK) {
        CHECKF(id == 12345, "fo_route_add failed and set its id");
        return;
    }
    id_issued(w, id);
    r = rec_new(w);
    CHECK(r != NULL);
    r->id = id;
    r->live = true;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->priority = priority;
    r->weight = weight;
    r->cost = cost;
    r->admin = FO_ADMIN_ENABLED;
    if (w->ev_cb) {
        CHECKF(w->added_seen && w->added_id == id,
               "fo_route_add returned before its ROUTE_ADDED event");
        r->ev_known = true;
        r->ev_state = FO_STATE_UP;
    }
}

/* update: route, priority, weight, cost */
static void op_update(struct world *w)
{
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    uint32_t priority = u8(w) % 4, weight = weight_arg(u8(w));
    uint32_t cost = u8(w) % 4;
    unsigned accept = 0;
    unsigned long mark = w->alloc_calls;
    int rc;

    if (!rec_live(r))
        accept |= BIT(FO_ENOENT);
    if (weight > FO_WEIGHT_MAX)
        accept |= BIT(FO_ERANGE);
    rc = fo_route_update(w->r, id, priority, weight, cost);
    trace("update %llu prio %u weight %u cost %u -> %s", (unsigned long long)id,
          priority, weight, cost, fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_route_update allocated");
    EXPECT_IN("fo_route_update", rc, accept != 0 ? accept : BIT(FO_OK));
    if (rc == FO_OK) {
        r->priority = priority;
        r->weight = weight;
        r->cost = cost;
    }
}

/* The model's side of a removal the library accepted. */
static void route_removed(struct world *w, struct rec *r)
{
    fo_route_state st;

    CHECKF(!w->ev_cb || r->ev_removed,
           "fo_route_remove returned before its ROUTE_REMOVED event");
    r->live = false;
    r->ctx = NULL; /* the library destroys the registration */
    r->inflight = 0;
    for (uint32_t i = 0; i < w->nplan; i++) {
        int k = member_index(&w->plans[i], r->id);

        if (k >= 0)
            member_drop(&w->plans[i], k);
    }
    /* Dead for good, at once. */
    EXPECT("fo_route_get_state of a removed route",
           fo_route_get_state(w->r, r->id, &st), FO_ENOENT);
}

/* remove: route */
static void op_remove(struct world *w)
{
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    int rc = fo_route_remove(w->r, id);

    trace("remove %s -> %s", r != NULL ? r->name : "(bogus)",
          fo_error_name(rc));
    EXPECT("fo_route_remove", rc, rec_live(r) ? FO_OK : FO_ENOENT);
    if (rc == FO_OK)
        route_removed(w, r);
}

static void att_check(const struct att *at)
{
    CHECKF(fo_attempt_count(&at->a) == at->n, "attempt count %zu, model %u",
           fo_attempt_count(&at->a), at->n);
    for (uint32_t i = 0; i < at->n; i++)
        CHECK(fo_attempt_route(&at->a, i) == at->tried[i]);
    CHECK(fo_attempt_route(&at->a, at->n) == FO_ROUTE_ID_NONE);
}

static int att_find(const struct att *at, fo_route_id id)
{
    for (uint32_t i = 0; i < at->n; i++)
        if (at->tried[i] == id)
            return (int)i;
    return -1;
}

/* Reports one result and checks what the documentation says it does. */
static void report(struct world *w, fo_route_id id, struct rec *r,
                   fo_result res, const fo_report *rep, struct att *at)
{
    unsigned long mark = w->alloc_calls;
    fo_route_stats before = FO_ROUTE_STATS_INIT, after = FO_ROUTE_STATS_INIT;
    int index = at != NULL ? att_find(at, id) : -1;
    int want, rc;

    if (!result_valid(res) || (rep != NULL && rep->flags != 0))
        want = FO_EINVAL;
    else if (!rec_live(r))
        want = FO_ENOENT;
    else if (index >= 0 && (at->reported >> index) & 1u)
        want = FO_EALREADY;
    else if (at != NULL && index < 0 && at->n >= FO_ATTEMPT_MAX_ROUTES)
        want = FO_ELIMIT;
    else
        want = FO_OK;
    if (want == FO_OK)
        read_route(w, r, &before);
    rc = rep != NULL ? fo_report_result_ex(w->r, id, rep, at ? &at->a : NULL)
                     : fo_report_result(w->r, id, res, at ? &at->a : NULL);
    trace("report %s %s%s latency %llu retry-after %llu attempt %d -> %s",
          r != NULL ? r->name : "(bogus)", fo_result_name(res),
          rep != NULL ? " (ex)" : "",
          rep != NULL ? (unsigned long long)rep->latency_ns : 0ull,
          rep != NULL ? (unsigned long long)rep->retry_after_ns : 0ull,
          at != NULL ? (int)(at - w->atts) : -1, fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_report_result allocated");
    EXPECT("fo_report_result", rc, want);
    if (rc != FO_OK) {
        if (at != NULL)
            att_check(at); /* a failed report changes nothing */
        return;
    }
    r->results[res]++;
    r->classes[w->cls[res]]++;
    r->reports++;
    w->tot_reports++;
    if (at != NULL) {
        if (index < 0) {
            index = (int)at->n;
            at->tried[at->n++] = id;
        }
        at->reported |= 1u << index;
        att_check(at);
    }
    /*
     * A route fault with Retry-After ejects at once, no guard holding it
     * back, and holds the route down at least that long (capped). Only a
     * report without an attempt is sure to be judged (with one, a call
     * placed before the route's last change is stale: counted, not
     * judged), and only while the operator shows no state of its own.
     */
    if (at == NULL && rep != NULL && rep->retry_after_ns != 0 &&
        w->cls[res] == FO_CLASS_ROUTE_FAULT &&
        !(w->cfg.detectors_off & FO_DETECTOR_RETRY_AFTER) &&
        !operator_state(before.state)) {
        uint64_t ra = rep->retry_after_ns < w->cfg.retry_after_max_ns
                          ? rep->retry_after_ns
                          : w->cfg.retry_after_max_ns;

        read_route(w, r, &after);
        CHECKF(after.state == FO_STATE_EJECTED ||
                   after.state == FO_STATE_SUPPRESSED,
               "%s: %s after %s with Retry-After (was %s)", r->name,
               sname(after.state), fo_result_name(res), sname(before.state));
        if (after.state == FO_STATE_EJECTED && !r->reg_lost)
            CHECKF(after.until_ns >= add_sat(w->now, ra),
                   "%s: back at %llu, before the Retry-After ends at %llu",
                   r->name, (unsigned long long)after.until_ns,
                   (unsigned long long)add_sat(w->now, ra));
    }
}

static const uint64_t latency_table[8] = {
    0, MS, 50 * MS, 2 * SEC, 10 * SEC, HOUR, UINT64_MAX, 0,
};
static const uint64_t retry_table[8] = {
    0, SEC, 30 * SEC, 600 * SEC, 2 * HOUR, 30 * DAY, UINT64_MAX, 0,
};

/* report: route, result, mode, latency, retry-after.
 * mode bits 0-2: attempt slot 0-3, else none; bit 3: fo_report_result_ex;
 * bit 4: the route is the attempt's (route byte indexes its list); bits
 * 5-7 all set: non-zero flags. */
static void op_report(struct world *w)
{
    uint8_t rb = u8(w);
    fo_result res = result_arg(u8(w));
    uint8_t mode = u8(w);
    uint64_t latency = latency_table[u8(w) % 8];
    uint64_t retry = retry_table[u8(w) % 8];
    struct att *at = mode % 8 < MAX_ATT ? &w->atts[mode % 8] : NULL;
    fo_report rep = FO_REPORT_INIT(res);
    struct rec *r;
    fo_route_id id;

    if ((mode & 0x10) && at != NULL && at->n > 0) {
        id = at->tried[rb % at->n];
        r = rec_by_id(w, id);
    } else {
        id = route_arg(w, rb, &r);
    }
    rep.latency_ns = latency;
    rep.retry_after_ns = retry;
    if ((mode >> 5) == 7)
        rep.flags = 1;
    report(w, id, r, res, (mode & 0x08) || rep.flags ? &rep : NULL, at);
}

/* ---- picks ------------------------------------------------------------- */

struct ventry {
    struct rec *r;
    uint32_t priority, weight, cost;
    fo_route_stats s;
    int kind;
};

enum { K_TRIED, K_OPERATOR, K_OUT, K_ORDINARY, K_BACKUP, K_GUARDED };

struct view {
    uint32_t policy;
    uint32_t n;
    struct ventry e[MAX_REC];
};

static int tier_cmp(uint32_t policy, const struct ventry *a,
                    const struct ventry *b)
{
    if (policy == FO_POLICY_WEIGHTED)
        return 0;
    if (policy == FO_POLICY_LEAST_COST && a->cost != b->cost)
        return a->cost < b->cost ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    return 0;
}

/* What a pick can make of a route, from a snapshot taken just before. */
static int classify(const fo_route_stats *s, bool tried, uint32_t weight)
{
    if (tried)
        return K_TRIED;
    if (operator_state(s->state))
        return K_OPERATOR;
    if (s->state != FO_STATE_UP &&
        !(s->state == FO_STATE_TRIAL && s->trial_slots_in_use < s->trial_slots))
        return K_OUT;
    if (weight == 0)
        return K_BACKUP;
    if (s->flags & FO_STATS_GUARDED)
        return K_GUARDED;
    return K_ORDINARY;
}

/* The list a pick walks, each route with a snapshot. The router's
 * snapshot comes first: it ends a lapsed local fault, as a pick does. */
static void view_build(struct world *w, const struct plan *p,
                       const struct att *at, struct view *v,
                       fo_router_stats *rs)
{
    *rs = (fo_router_stats)FO_ROUTER_STATS_INIT;
    EXPECT("fo_router_get_stats", fo_router_get_stats(w->r, rs), FO_OK);
    v->n = 0;
    v->policy = p != NULL ? p->policy : w->def_policy;
    if (p != NULL) {
        for (uint32_t i = 0; i < p->n; i++) {
            struct ventry *e = &v->e[v->n++];

            e->r = rec_by_id(w, p->m[i].id);
            CHECK(rec_live(e->r));
            e->priority = p->m[i].priority;
            e->weight = p->m[i].weight;
            e->cost = p->m[i].cost;
        }
    } else {
        for (uint32_t i = 0; i < w->nrec; i++) {
            struct ventry *e;

            if (!w->recs[i].live)
                continue;
            e = &v->e[v->n++];
            e->r = &w->recs[i];
            e->priority = e->r->priority;
            e->weight = e->r->weight;
            e->cost = e->r->cost;
        }
    }
    for (uint32_t i = 0; i < v->n; i++) {
        struct ventry *e = &v->e[i];

        read_route(w, e->r, &e->s);
        e->kind = classify(&e->s, at != NULL && att_find(at, e->r->id) >= 0,
                           e->weight);
    }
}

static struct ventry *view_find(struct view *v, fo_route_id id)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (v->e[i].r->id == id)
            return &v->e[i];
    return NULL;
}

/* Each explanation names a route of the list, once, not the chosen one,
 * with a reason its snapshot bears out. */
static void check_skipped(struct world *w, struct view *v, const fo_pick *pk,
                          const struct ventry *chosen, bool whole_list)
{
    uint32_t shown = pk->skipped_count < pk->skipped_capacity
                         ? pk->skipped_count
                         : pk->skipped_capacity;
    uint32_t required = 0;

    for (uint32_t i = 0; i < shown; i++) {
        const fo_skip *k = &pk->skipped[i];
        struct ventry *e = view_find(v, k->route);
        fo_route_state st;

        CHECKF(e != NULL, "skipped[%u] is route %llu, not in the list", i,
               (unsigned long long)k->route);
        CHECKF(e != chosen, "skipped[%u] is the chosen route", i);
        for (uint32_t j = 0; j < i; j++)
            CHECKF(pk->skipped[j].route != k->route,
                   "skipped[%u] and [%u] are the same route", j, i);
        st = e->s.state;
        switch (k->reason) {
        case FO_SKIP_TRIED:
            CHECK(e->kind == K_TRIED);
            break;
        case FO_SKIP_EJECTED:
            CHECK(e->kind == K_OUT && st == FO_STATE_EJECTED);
            CHECKF(k->until_ns == e->s.until_ns,
                   "%s: skipped until %llu, "
                   "stats until %llu",
                   e->r->name, (unsigned long long)k->until_ns,
                   (unsigned long long)e->s.until_ns);
            break;
        case FO_SKIP_SUPPRESSED:
            CHECK(e->kind == K_OUT && st == FO_STATE_SUPPRESSED);
            break;
        case FO_SKIP_DISABLED:
            CHECK(e->kind == K_OPERATOR && st == FO_STATE_DISABLED);
            break;
        case FO_SKIP_DRAINING:
            CHECK(e->kind == K_OPERATOR && st == FO_STATE_DRAINING);
            break;
        case FO_SKIP_DRILL:
            CHECK(e->kind == K_OPERATOR && st == FO_STATE_DRILL);
            CHECK(k->until_ns == e->r->drill_until);
            break;
        case FO_SKIP_TRIAL_FULL:
            CHECK(e->kind == K_OUT && st == FO_STATE_TRIAL);
            CHECK(k->until_ns > w->now);
            break;
        case FO_SKIP_BACKUP:
            CHECK(e->kind == K_BACKUP);
            break;
        case FO_SKIP_SLOW_START:
            CHECK(e->kind == K_ORDINARY);
            break;
        case FO_SKIP_GUARDED:
            CHECK(e->kind == K_GUARDED);
            break;
        default:
            fail(__LINE__, "skip reason %d", (int)k->reason);
        }
        if (k->reason != FO_SKIP_TRIED)
            CHECKF(k->penalty == e->s.penalty, "%s: skip penalty %u, stats %u",
                   e->r->name, k->penalty, e->s.penalty);
    }
    /* Every route passed over in the tiers walked is explained: the whole
     * list, unless an ordinary route was found in a tier before its end. */
    for (uint32_t i = 0; i < v->n; i++) {
        const struct ventry *e = &v->e[i];

        if (e == chosen ||
            (e->kind != K_TRIED && e->kind != K_OPERATOR && e->kind != K_OUT))
            continue;
        if (!whole_list && tier_cmp(v->policy, e, chosen) > 0)
            continue;
        required++;
        if (pk->skipped_count <= pk->skipped_capacity) {
            bool found = false;

            for (uint32_t k = 0; k < shown; k++)
                found = found || pk->skipped[k].route == e->r->id;
            CHECKF(found, "%s (%s) passed over without an explanation",
                   e->r->name, sname(e->s.state));
        }
    }
    CHECKF(pk->skipped_count >= required &&
               pk->skipped_count <= v->n - (chosen != NULL),
           "skipped_count %u: %u routes must be explained, %u in the list",
           pk->skipped_count, required, v->n);
}

/*
 * One pick and everything the documentation says about it. Before the
 * pick, every route of the list is classified from a snapshot (the same
 * instant: the router's clock does not move), which predicts the outcome:
 * an ordinary route if there is one (lowest tier first), else a backup
 * (weight 0), else a route a guard keeps in service, else, under the
 * best-effort policy, the least-bad route out of service (FO_PICK_PANIC:
 * one in trial first). Operators' states never, routes this call tried
 * never. Returns the pick's code; *out is the route.
 */
static int pick(struct world *w, struct att *at, bool ex, uint8_t mode,
                fo_route_id *out)
{
    static const uint32_t caps[4] = {0, 1, 2, 8};
    struct plan *p = NULL;
    struct view v;
    fo_router_stats rs, rs2 = FO_ROUTER_STATS_INIT;
    fo_skip skipped[8];
    fo_pick pk = FO_PICK_INIT;
    fo_route_id id = 12345;
    struct ventry *chosen = NULL;
    bool has[K_GUARDED + 1] = {false};
    int want, expect_kind = -1, rc;
    bool panic, trial;
    unsigned long mark;

    /* A plan the model no longer follows was freed: only freed plans are
     * forgotten. */
    if (at != NULL && at->plan != FO_PLAN_ID_NONE)
        p = plan_by_id(w, at->plan);
    if (at != NULL && at->plan != FO_PLAN_ID_NONE && (p == NULL || !p->live)) {
        want = FO_ENOENT;
        v.n = 0;
        rs = (fo_router_stats)FO_ROUTER_STATS_INIT;
        EXPECT("fo_router_get_stats", fo_router_get_stats(w->r, &rs), FO_OK);
    } else {
        view_build(w, p, at, &v, &rs);
        for (uint32_t i = 0; i < v.n; i++)
            has[v.e[i].kind] = true;
        if (has[K_ORDINARY])
            expect_kind = K_ORDINARY;
        else if (has[K_BACKUP])
            expect_kind = K_BACKUP;
        else if (has[K_GUARDED])
            expect_kind = K_GUARDED;
        else if (has[K_OUT] && w->panic == FO_PANIC_BEST_EFFORT)
            expect_kind = K_OUT;
        want = expect_kind >= 0 ? FO_OK : FO_ENOROUTE;
    }
    if (at != NULL && at->n >= w->cfg.max_attempts)
        want = FO_ELIMIT;

    if (ex) {
        pk.skipped = caps[(mode >> 4) % 4] != 0 ? skipped : NULL;
        pk.skipped_capacity = caps[(mode >> 4) % 4];
        memset(skipped, 0, sizeof skipped);
        if ((mode >> 6) == 3) {
            /* Invalid requests change nothing. */
            if (pk.skipped_capacity != 0)
                pk.skipped = NULL;
            else
                pk.reserved = 1;
            want = FO_EINVAL;
        }
    }
    mark = w->alloc_calls;
    if (ex) {
        rc = fo_pick_route_ex(w->r, at != NULL ? &at->a : NULL, &pk);
        id = pk.route;
    } else {
        rc = fo_pick_route(w->r, at != NULL ? &at->a : NULL, &id);
    }
    CHECKF(w->alloc_calls == mark, "fo_pick_route allocated");
    EXPECT("fo_pick_route", rc, want);
    EXPECT("fo_router_get_stats", fo_router_get_stats(w->r, &rs2), FO_OK);
    if (rc != FO_OK && rc != FO_ENOROUTE) {
        CHECK(rs2.picks == rs.picks);
        if (at != NULL)
            att_check(at);
        trace("pick attempt %d -> %s", at != NULL ? (int)(at - w->atts) : -1,
              fo_error_name(rc));
        return rc;
    }
    CHECKF(rs2.picks == rs.picks + 1, "a pick counted %llu times",
           (unsigned long long)(rs2.picks - rs.picks));
    w->tot_picks++;
    if (rc == FO_ENOROUTE) {
        trace("pick attempt %d -> FO_ENOROUTE",
              at != NULL ? (int)(at - w->atts) : -1);
        CHECK(id == FO_ROUTE_ID_NONE);
        w->tot_noroute++;
        if (ex && pk.skipped != NULL)
            check_skipped(w, &v, &pk, NULL, true);
        if (ex)
            CHECKF(pk.skipped_count == v.n,
                   "no route, but %u of %u routes explained", pk.skipped_count,
                   v.n);
        if (at != NULL)
            att_check(at);
        return rc;
    }

    chosen = view_find(&v, id);
    CHECKF(chosen != NULL, "picked route %llu, not in the list",
           (unsigned long long)id);
    panic = rs2.panic_picks == rs.panic_picks + 1;
    CHECK(rs2.panic_picks == rs.panic_picks + (panic ? 1 : 0));
    trace("pick attempt %d -> %s (%s, flags 0x%x)",
          at != NULL ? (int)(at - w->atts) : -1, chosen->r->name,
          sname(chosen->s.state), ex ? pk.flags : 0u);
    CHECKF(chosen->kind != K_TRIED, "%s picked twice for one call",
           chosen->r->name);
    CHECKF(chosen->kind != K_OPERATOR,
           "%s picked while %s: the operator's states are never overridden",
           chosen->r->name, sname(chosen->s.state));
    CHECKF(chosen->kind == expect_kind,
           "%s picked as kind %d (%s), expected kind %d", chosen->r->name,
           chosen->kind, sname(chosen->s.state), expect_kind);
    CHECKF(panic == (expect_kind == K_OUT), "%s (%s) picked %s panic",
           chosen->r->name, sname(chosen->s.state), panic ? "in" : "without");
    if (ex) {
        CHECK((pk.flags & ~0x3fu) == 0);
        CHECK(((pk.flags & FO_PICK_PANIC) != 0) == panic);
        CHECK(((pk.flags & FO_PICK_BACKUP) != 0) == (expect_kind == K_BACKUP));
        CHECK(((pk.flags & FO_PICK_GUARDED) != 0) ==
              (expect_kind == K_GUARDED));
        if (w->cfg.slow_start_ns == 0)
            CHECK((pk.flags & FO_PICK_SLOW_START) == 0);
    }
    trial = !panic && chosen->s.state == FO_STATE_TRIAL;
    if (ex)
        CHECK(((pk.flags & FO_PICK_TRIAL) != 0) == trial);
    /* The best tier with such a route, and among routes out of service
     * the least bad. */
    for (uint32_t i = 0; i < v.n; i++) {
        const struct ventry *e = &v.e[i];

        if (e->kind != expect_kind || e == chosen)
            continue;
        if (expect_kind != K_OUT &&
            (expect_kind != K_ORDINARY || w->cfg.slow_start_ns == 0))
            CHECKF(tier_cmp(v.policy, e, chosen) >= 0,
                   "%s picked, %s is in a better tier", chosen->r->name,
                   e->r->name);
        if (expect_kind == K_OUT && e->s.state == FO_STATE_TRIAL)
            CHECKF(chosen->s.state == FO_STATE_TRIAL,
                   "panic took %s (%s), %s is in trial", chosen->r->name,
                   sname(chosen->s.state), e->r->name);
    }
    if (ex && pk.skipped != NULL)
        check_skipped(w, &v, &pk, chosen, expect_kind != K_ORDINARY);
    else if (ex)
        CHECK(pk.skipped_count <= v.n - 1);

    chosen->r->picks++;
    if (panic) {
        chosen->r->panic_picks++;
        w->tot_panic++;
    }
    if (trial)
        chosen->r->trial_picks++;
    if (at != NULL) {
        at->tried[at->n++] = id;
        att_check(at);
    }
    *out = id;
    return rc;
}

/* pick: mode. bits 0-2: attempt slot 0-3, else none; bit 3:
 * fo_pick_route_ex; bits 4-5: explanation capacity 0, 1, 2, 8; bits 6-7
 * both set: an invalid fo_pick. */
static void op_pick(struct world *w)
{
    uint8_t mode = u8(w);
    struct att *at = mode % 8 < MAX_ATT ? &w->atts[mode % 8] : NULL;
    fo_route_id id;

    pick(w, at, (mode & 0x08) != 0, mode, &id);
}

static void att_reset(struct world *w, struct att *at, const struct plan *p)
{
    int rc;

    memset(at, 0, sizeof *at);
    if (p != NULL) {
        rc = fo_attempt_init_plan(&at->a, p->id);
        at->plan = p->id;
    } else {
        rc = (w->step % 2) ? fo_attempt_init(&at->a)
                           : fo_attempt_init_plan(&at->a, FO_PLAN_ID_NONE);
    }
    EXPECT("fo_attempt_init", rc, FO_OK);
    att_check(at);
}

/* attempt: slot, plan (0xf0 and up: the default list) */
static void op_attempt(struct world *w)
{
    struct att *at = &w->atts[u8(w) % MAX_ATT];
    const struct plan *p = plan_arg(w, u8(w));

    trace("attempt %d on %s", (int)(at - w->atts),
          p != NULL ? p->name : "the default list");
    att_reset(w, at, p);
}

/* hunt: slot, plan, n (1 + n % 6), then n results (bits 0-3; bit 6: with
 * a latency from bits 4-6; bit 7: a pick without explanations). One call
 * down the list: pick, report, and again while the route fails; all n
 * bytes are read first, however far the call gets. */
static void op_hunt(struct world *w)
{
    struct att *at = &w->atts[u8(w) % MAX_ATT];
    const struct plan *p = plan_arg(w, u8(w));
    unsigned n = 1 + u8(w) % 6;
    uint8_t results[6];

    for (unsigned i = 0; i < n; i++)
        results[i] = u8(w);
    trace("hunt with attempt %d on %s", (int)(at - w->atts),
          p != NULL ? p->name : "the default list");
    att_reset(w, at, p);
    for (unsigned i = 0; i < n; i++) {
        fo_route_id id = FO_ROUTE_ID_NONE;
        uint8_t rb = results[i];
        fo_result res = result_arg(rb);
        fo_report rep = FO_REPORT_INIT(res);

        if (pick(w, at, true, (rb & 0x80) ? 0x00 : 0x30, &id) != FO_OK)
            return;
        rep.latency_ns = latency_table[(rb >> 4) % 8];
        report(w, id, rec_by_id(w, id), res, (rb & 0x40) ? &rep : NULL, at);
        if (!result_valid(res) || w->cls[res] != FO_CLASS_ROUTE_FAULT)
            return;
    }
}

/* ---- plans ------------------------------------------------------------- */

/* plan_new: name, policy */
static void op_plan_new(struct world *w)
{
    const char *name = plan_names[u8(w) % 8];
    uint32_t policy = u8(w) % 4;
    fo_plan_id id = 12345;
    unsigned accept = 0;
    struct plan *p = NULL;
    int rc;

    if (!name_ok(name) || policy > FO_POLICY_LEAST_COST)
        accept |= BIT(FO_EINVAL);
    for (uint32_t i = 0; i < w->nplan && accept == 0; i++)
        if (w->plans[i].live && strcmp(w->plans[i].name, name) == 0)
            accept |= BIT(FO_EEXIST);
    if (accept == 0) {
        if (w->nplan == MAX_PLANS) {
            uint32_t i = 0;

            while (i < w->nplan && w->plans[i].live)
                i++;
            if (i == w->nplan)
                return; /* the model is full */
            memmove(&w->plans[i], &w->plans[i + 1],
                    (w->nplan - i - 1) * sizeof *w->plans);
            w->nplan--;
        }
        p = &w->plans[w->nplan];
    }
    rc = fo_plan_new(w->r, name, (fo_policy)policy, &id);
    trace("plan_new \"%s\" policy %u -> %s", name, policy, fo_error_name(rc));
    if (accept != 0)
        EXPECT_IN("fo_plan_new", rc, accept);
    else
        EXPECT("fo_plan_new", rc, alloc_or(w, FO_OK));
    if (rc != FO_OK) {
        CHECKF(id == 12345, "fo_plan_new failed and set its id");
        return;
    }
    CHECKF(rec_by_id(w, id) == NULL, "a plan's id is a route's id");
    id_issued(w, id);
    memset(p, 0, sizeof *p);
    p->id = id;
    p->live = true;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->policy = policy;
    w->nplan++;
}

static fo_plan_id plan_id(const struct plan *p)
{
    return p != NULL ? p->id : FO_PLAN_ID_NONE;
}

/* plan_set: plan, route, priority, weight, cost */
static void op_plan_set(struct world *w)
{
    struct plan *p = plan_arg(w, u8(w));
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    uint32_t priority = u8(w) % 4, weight = weight_arg(u8(w));
    uint32_t cost = u8(w) % 4;
    unsigned accept = 0;
    int rc, k;

    if (p == NULL || !p->live || !rec_live(r))
        accept |= BIT(FO_ENOENT);
    if (weight > FO_WEIGHT_MAX)
        accept |= BIT(FO_ERANGE);
    rc = fo_plan_set_route(w->r, plan_id(p), id, priority, weight, cost);
    trace("plan_set %s %s prio %u weight %u cost %u -> %s",
          p != NULL ? p->name : "(none)", r != NULL ? r->name : "(bogus)",
          priority, weight, cost, fo_error_name(rc));
    if (accept != 0)
        EXPECT_IN("fo_plan_set_route", rc, accept);
    else
        EXPECT("fo_plan_set_route", rc, alloc_or(w, FO_OK));
    if (rc != FO_OK)
        return;
    k = member_index(p, id);
    if (k < 0)
        k = (int)p->n++;
    p->m[k] = (struct member){id, priority, weight, cost};
}

/* plan_unset: plan, route */
static void op_plan_unset(struct world *w)
{
    struct plan *p = plan_arg(w, u8(w));
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    unsigned long mark = w->alloc_calls;
    int k = p != NULL ? member_index(p, id) : -1;
    int rc = fo_plan_unset_route(w->r, plan_id(p), id);

    trace("plan_unset %s %s -> %s", p != NULL ? p->name : "(none)",
          r != NULL ? r->name : "(bogus)", fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_plan_unset_route allocated");
    EXPECT("fo_plan_unset_route", rc,
           p != NULL && p->live && rec_live(r) && k >= 0 ? FO_OK : FO_ENOENT);
    if (rc == FO_OK)
        member_drop(p, k);
}

/* plan_policy: plan (0xf0 and up: the default list), policy */
static void op_plan_policy(struct world *w)
{
    struct plan *p = plan_arg(w, u8(w));
    uint32_t policy = u8(w) % 4;
    unsigned long mark = w->alloc_calls;
    unsigned accept = 0;
    int rc = fo_plan_set_policy(w->r, plan_id(p), (fo_policy)policy);

    trace("plan_policy %s %u -> %s", p != NULL ? p->name : "(default)", policy,
          fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_plan_set_policy allocated");
    if (policy > FO_POLICY_LEAST_COST)
        accept |= BIT(FO_EINVAL);
    if (p != NULL && !p->live)
        accept |= BIT(FO_ENOENT);
    EXPECT_IN("fo_plan_set_policy", rc, accept != 0 ? accept : BIT(FO_OK));
    if (rc != FO_OK)
        return;
    if (p != NULL)
        p->policy = policy;
    else
        w->def_policy = policy;
}

/* plan_free: plan (0xf0 and up: the default list, which is no plan) */
static void op_plan_free(struct world *w)
{
    struct plan *p = plan_arg(w, u8(w));
    int rc = fo_plan_free(w->r, plan_id(p));

    trace("plan_free %s -> %s", p != NULL ? p->name : "(none)",
          fo_error_name(rc));
    EXPECT("fo_plan_free", rc, p != NULL && p->live ? FO_OK : FO_ENOENT);
    if (rc == FO_OK) {
        p->live = false;
        p->n = 0;
        p->panic = false;
    }
}

/* ---- the operator and signals ------------------------------------------ */

/* admin: route, admin (3: not an fo_admin) */
static void op_admin(struct world *w)
{
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    uint8_t b = u8(w) % 4;
    fo_admin admin = b == 3 ? (fo_admin)7 : (fo_admin)b;
    unsigned long mark = w->alloc_calls;
    unsigned accept = 0;
    int rc = fo_route_set_admin(w->r, id, admin);

    trace("admin %s %d -> %s", r != NULL ? r->name : "(bogus)", (int)admin,
          fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_route_set_admin allocated");
    if (b == 3)
        accept |= BIT(FO_EINVAL);
    if (!rec_live(r))
        accept |= BIT(FO_ENOENT);
    EXPECT_IN("fo_route_set_admin", rc, accept != 0 ? accept : BIT(FO_OK));
    if (rc == FO_OK)
        r->admin = admin;
}

/* drill: route, duration */
static void op_drill(struct world *w)
{
    static const uint64_t durations[8] = {
        0, MS, SEC, 30 * SEC, 600 * SEC, DAY, DAY + 1, UINT64_MAX,
    };
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    uint64_t d = durations[u8(w) % 8];
    unsigned long mark = w->alloc_calls;
    unsigned accept = 0;
    int rc = fo_route_drill(w->r, id, d);

    trace("drill %s %llu ns -> %s", r != NULL ? r->name : "(bogus)",
          (unsigned long long)d, fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_route_drill allocated");
    if (d > DAY)
        accept |= BIT(FO_ERANGE);
    if (!rec_live(r))
        accept |= BIT(FO_ENOENT);
    EXPECT_IN("fo_route_drill", rc, accept != 0 ? accept : BIT(FO_OK));
    if (rc == FO_OK)
        r->drill_until = d == 0 ? 0 : add_sat(w->now, d);
}

/* signal: route, signal (0 and 5: not an fo_signal). Signals are the
 * embedder's facts and act at once; no guard limits them. */
static void op_signal(struct world *w)
{
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    int sig = u8(w) % 6;
    unsigned long mark = w->alloc_calls;
    fo_route_stats before = FO_ROUTE_STATS_INIT, after = FO_ROUTE_STATS_INIT;
    unsigned accept = 0;
    int rc;

    if (rec_live(r))
        read_route(w, r, &before);
    rc = fo_route_signal(w->r, id, (fo_signal)sig);
    trace("signal %s %d -> %s", r != NULL ? r->name : "(bogus)", sig,
          fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_route_signal allocated");
    if (sig < FO_SIGNAL_REGISTRATION_LOST || sig > FO_SIGNAL_KEEPALIVE_RESTORED)
        accept |= BIT(FO_EINVAL);
    if (!rec_live(r))
        accept |= BIT(FO_ENOENT);
    EXPECT_IN("fo_route_signal", rc, accept != 0 ? accept : BIT(FO_OK));
    if (rc != FO_OK)
        return;
    read_route(w, r, &after);
    switch (sig) {
    case FO_SIGNAL_REGISTRATION_LOST:
        r->reg_lost = true;
        break;
    case FO_SIGNAL_REGISTRATION_RESTORED:
        if (r->reg_lost && !operator_state(after.state))
            CHECKF(after.state == FO_STATE_TRIAL ||
                       after.state == FO_STATE_SUPPRESSED,
                   "%s: %s after its registration was restored", r->name,
                   sname(after.state));
        r->reg_lost = false;
        break;
    case FO_SIGNAL_KEEPALIVE_LOST:
        if (before.state == FO_STATE_UP || before.state == FO_STATE_TRIAL)
            CHECKF(after.state == FO_STATE_EJECTED ||
                       after.state == FO_STATE_SUPPRESSED,
                   "%s: %s after its keepalive was lost in %s", r->name,
                   sname(after.state), sname(before.state));
        break;
    default:
        break;
    }
}

/* ---- probes and time --------------------------------------------------- */

/* set_probe: route, mode, a, b, act. mode % 8: 5 removes the probe, 6
 * and 7 give invalid options, the rest set or replace it with options
 * from a and b (see probe_options); act is what its callback does (see
 * on_probe). */
static void op_set_probe(struct world *w)
{
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    uint8_t mode = u8(w), a = u8(w), b = u8(w), act = u8(w);
    fo_probe_options o;
    uint64_t timeout = 0;
    struct probe_ctx *ctx = NULL;
    bool remove = mode % 8 == 5;
    int want = probe_options(mode, a, b, &o, &timeout);
    unsigned accept;
    int rc;

    if (!remove)
        ctx = ctx_new(w, id, act, a, b);
    rc = fo_set_probe(w->r, id, remove ? NULL : on_probe, ctx, &o);
    trace("set_probe %s mode %u -> %s", r != NULL ? r->name : "(bogus)",
          mode % 8u, fo_error_name(rc));
    if (want == FO_EVERSION)
        accept = BIT(FO_EVERSION) | BIT(FO_EINVAL);
    else
        accept = want != FO_OK ? BIT(want) : 0;
    if (!rec_live(r))
        accept |= BIT(FO_ENOENT);
    if (accept != 0)
        EXPECT_IN("fo_set_probe", rc, accept);
    else
        EXPECT("fo_set_probe", rc, remove ? FO_OK : alloc_or(w, FO_OK));
    if (rc != FO_OK) {
        if (ctx != NULL)
            ctx_drop(w, ctx);
        return;
    }
    /* The previous registration is destroyed before the call returns
     * (check_all counts them); its probe in flight is abandoned. */
    if (r->inflight != 0)
        r->abandoned++;
    r->inflight = 0;
    r->ctx = ctx;
    r->probe_timeout = timeout;
    if (ctx != NULL)
        w->registrations++;
}

/* tick */
static void op_tick(struct world *w)
{
    unsigned lf_changes = w->lf_changes;
    uint64_t due = 0;
    int rc;

    w->cb_acted = false;
    rc = fo_router_tick(w->r);
    trace("tick -> %s", fo_error_name(rc));
    EXPECT("fo_router_tick", rc, FO_OK);
    /* A probe in flight past its timeout has failed; none before. */
    for (uint32_t i = 0; i < w->nrec; i++) {
        struct rec *r = &w->recs[i];

        if (r->live && r->inflight != 0 &&
            w->now >= add_sat(r->inflight_start, r->probe_timeout)) {
            r->timed_out++;
            r->timed_out_token = r->inflight;
            r->inflight = 0;
        }
    }
    /*
     * Everything due has been done: the next deadline is in the future.
     * Not so if a probe callback changed something after the tick's pass
     * over the routes, or a local fault began or ended during it: routes
     * the pass had already looked at catch up with the episode on their
     * next refresh, and one put back in service may have a probe overdue
     * at once ("May be in the past: tick now"). Whether a local fault
     * changed is known from the events only.
     */
    EXPECT("fo_router_next_deadline", fo_router_next_deadline(w->r, &due),
           FO_OK);
    if (w->ev_cb && !w->cb_acted && w->lf_changes == lf_changes)
        CHECKF(due > w->now,
               "after a tick the next deadline %llu is not after now %llu",
               (unsigned long long)due, (unsigned long long)w->now);
    w->quiet_valid = due > w->now;
    w->quiet_now = w->now;
}

/* probe_done: which, index, result. which % 8: 0-3 the token in flight of
 * route index (else as 4), 4 a remembered token (a duplicate, replaced,
 * of a removed route), 5 the token of route index that last timed out
 * (late; else as 4), 6 a token never issued, 7 token 0. */
static void op_probe_done(struct world *w)
{
    uint8_t which = u8(w) % 8, idx = u8(w);
    fo_result res = result_arg(u8(w));
    fo_probe_token token = 0;
    fo_route_id route = FO_ROUTE_ID_NONE;
    bool made_up = false;
    struct rec *r = NULL;
    unsigned long mark = w->alloc_calls;
    unsigned accept;
    int rc;

    if ((which < 4 || which == 5) && w->nrec > 0) {
        r = &w->recs[idx % w->nrec];
        token = which < 4 ? r->inflight : r->timed_out_token;
        route = r->id;
    }
    if ((which < 6 && token == 0) && w->ntok > 0) {
        token = w->tokens[idx % w->ntok].token;
        route = w->tokens[idx % w->ntok].route;
    } else if (which == 6) {
        made_up = true;
        token = w->ntok > 0 && idx % 2 ? w->tokens[idx % w->ntok].token + 1
                                       : UINT64_MAX - idx;
    }
    r = route != FO_ROUTE_ID_NONE ? rec_by_id(w, route) : NULL;
    rc = fo_probe_done(w->r, token, res);
    trace("probe_done %llu (%s) %s -> %s", (unsigned long long)token,
          r != NULL ? r->name
          : made_up ? "made up"
                    : "-",
          fo_result_name(res), fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_probe_done allocated");
    if (!result_valid(res)) {
        EXPECT("fo_probe_done", rc, FO_EINVAL);
        return;
    }
    if (token == 0 || (route == FO_ROUTE_ID_NONE && !made_up) ||
        (!made_up && !rec_live(r))) {
        accept = BIT(FO_ENOENT);
    } else if (made_up) {
        /* Not one of this router's, though it may look like one. */
        accept = BIT(FO_ENOENT) | BIT(FO_EALREADY);
    } else if (token == r->inflight) {
        accept = BIT(FO_OK);
    } else {
        accept = BIT(FO_EALREADY);
    }
    EXPECT_IN("fo_probe_done", rc, accept);
    if (rc == FO_OK) {
        probe_taken(r, res);
    } else if (rc == FO_EALREADY && !made_up && token == r->timed_out_token) {
        r->late++; /* after its timeout: counted once */
        r->timed_out_token = 0;
    } else {
        w->strays++;
    }
}

/* clock: step (28 and up: a forward step of the next two bytes, in ms) */
static void op_clock(struct world *w)
{
    static const int64_t steps[28] = {
        0,
        (int64_t)MS,
        (int64_t)(10 * MS),
        (int64_t)(100 * MS),
        (int64_t)(500 * MS),
        (int64_t)SEC,
        (int64_t)(2 * SEC),
        (int64_t)(5 * SEC),
        (int64_t)(10 * SEC),
        (int64_t)(16 * SEC),
        (int64_t)(30 * SEC),
        (int64_t)(61 * SEC),
        (int64_t)(120 * SEC),
        (int64_t)(300 * SEC),
        (int64_t)(600 * SEC),
        (int64_t)(1200 * SEC),
        (int64_t)HOUR,
        (int64_t)(6 * HOUR),
        (int64_t)DAY,
        (int64_t)(8 * DAY),
        (int64_t)(40 * DAY),
        INT64_MAX,
        -(int64_t)(500 * MS),
        -(int64_t)SEC,
        -(int64_t)(2 * SEC),
        -(int64_t)(10 * SEC),
        -(int64_t)DAY,
        INT64_MIN,
    };
    uint8_t b = u8(w) % 32;
    int64_t step = b < 28 ? steps[b] : (int64_t)(u16(w) * MS);
    uint64_t now = 0;

    if (step >= 0)
        w->clock = add_sat(w->clock, (uint64_t)step);
    else if (step == INT64_MIN)
        w->clock = 0;
    else
        w->clock = w->clock > (uint64_t)-step ? w->clock - (uint64_t)-step : 0;
    model_observe(w);
    EXPECT("fo_router_now", fo_router_now(w->r, &now), FO_OK);
    trace("clock %+lld ns: clock %llu, router time %llu", (long long)step,
          (unsigned long long)w->clock, (unsigned long long)now);
    CHECKF(now == w->now, "router time %llu, expected %llu",
           (unsigned long long)now, (unsigned long long)w->now);
}

/* ---- overrides --------------------------------------------------------- */

/* panic: value (2: not an fo_panic) */
static void op_panic(struct world *w)
{
    uint32_t v = u8(w) % 3;
    unsigned long mark = w->alloc_calls;
    int rc = fo_router_set_panic(w->r, (fo_panic)v);

    trace("panic %u -> %s", v, fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_router_set_panic allocated");
    EXPECT("fo_router_set_panic", rc, v <= FO_PANIC_FAIL ? FO_OK : FO_EINVAL);
    if (rc == FO_OK)
        w->panic = v;
}

/* result_class: result, class (0 and 5: not a class) */
static void op_result_class(struct world *w)
{
    fo_result res = result_arg(u8(w));
    int cls = u8(w) % 6;
    fo_result_class got = (fo_result_class)0;
    unsigned long mark = w->alloc_calls;
    int rc = fo_router_set_result_class(w->r, res, (fo_result_class)cls);

    trace("result_class %s %d -> %s", fo_result_name(res), cls,
          fo_error_name(rc));
    EXPECT("fo_router_set_result_class", rc,
           result_valid(res) && cls >= FO_CLASS_SUCCESS &&
                   cls <= FO_CLASS_ROUTE_FAULT
               ? FO_OK
               : FO_EINVAL);
    if (rc == FO_OK)
        w->cls[res] = (uint8_t)cls;
    rc = fo_router_get_result_class(w->r, res, &got);
    EXPECT("fo_router_get_result_class", rc,
           result_valid(res) ? FO_OK : FO_EINVAL);
    CHECKF(w->alloc_calls == mark, "fo_router_*_result_class allocated");
    if (rc == FO_OK)
        CHECKF(got == w->cls[res], "class of %s is %d, set %d",
               fo_result_name(res), (int)got, w->cls[res]);
}

static const int status_table[16] = {
    199, 200, 302, 403, 404, 408, 480, 486,
    487, 500, 503, 603, 699, 700, 0,   183,
};

static bool status_valid(int status)
{
    return status >= 200 && status <= 699;
}

/* sip_result: status, result (0 removes the override) */
static void op_sip_result(struct world *w)
{
    int status = status_table[u8(w) % 16];
    fo_result res = result_arg(u8(w)); /* 0 removes the override */
    unsigned long mark = w->alloc_calls;
    int rc = fo_router_set_sip_result(w->r, status, res);

    trace("sip_result %d %s -> %s", status, fo_result_name(res),
          fo_error_name(rc));
    CHECKF(w->alloc_calls == mark, "fo_router_set_sip_result allocated");
    EXPECT("fo_router_set_sip_result", rc,
           status_valid(status) && (res == 0 || result_valid(res)) ? FO_OK
                                                                   : FO_EINVAL);
    if (rc == FO_OK)
        w->sip[status - 200] = (uint8_t)res;
}

/* report_sip: route, status, flags (4-7: an unknown flag). The result as
 * the router maps it, overrides first, then reported. */
static void op_report_sip(struct world *w)
{
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    int status = status_table[u8(w) % 16];
    unsigned flags = u8(w) % 8;
    fo_result res = (fo_result)0, plain = (fo_result)0;
    int rc = fo_router_result_from_sip(w->r, status, flags, &res);
    int rc2 = fo_result_from_sip(status, flags, &plain);

    EXPECT("fo_router_result_from_sip", rc,
           status_valid(status) && flags < 4 ? FO_OK : FO_EINVAL);
    EXPECT("fo_result_from_sip", rc2, rc);
    if (rc != FO_OK)
        return;
    CHECKF(res == (w->sip[status - 200] != 0 ? (fo_result)w->sip[status - 200]
                                             : plain),
           "SIP %d maps to %s, override %d, table %s", status,
           fo_result_name(res), w->sip[status - 200], fo_result_name(plain));
    report(w, id, r, res, NULL, NULL);
}

/* ---- reading ------------------------------------------------------------ */

/* read: route, what, size */
static void op_read(struct world *w)
{
    struct rec *r;
    fo_route_id id = route_arg(w, u8(w), &r);
    uint8_t what = u8(w) % 8, size = u8(w);
    unsigned long mark = w->alloc_calls;
    int want = rec_live(r) ? FO_OK : FO_ENOENT;
    char buf[FO_REASON_TEXT_MAX + 8];
    int rc;

    switch (what) {
    case 0: {
        fo_route_state st;

        rc = fo_route_get_state(w->r, id, &st);
        EXPECT("fo_route_get_state", rc, want);
        CHECK(rc != FO_OK || state_valid(st));
        break;
    }
    case 1: { /* the reason, into a buffer of any size */
        fo_reason reason = (fo_reason)-1;
        size_t n = size % 2 ? (size / 2) % 16 : sizeof buf;
        fo_route_stats s;

        rc = fo_route_get_reason(w->r, id, &reason, buf, n);
        if (n == 0) {
            EXPECT("fo_route_get_reason (size 0)", rc, FO_EINVAL);
            break;
        }
        EXPECT_IN("fo_route_get_reason", rc,
                  want == FO_OK ? BIT(FO_OK) | BIT(FO_ERANGE) : BIT(want));
        if (want != FO_OK)
            break;
        CHECK(memchr(buf, '\0', n) != NULL);
        read_route(w, r, &s);
        CHECK(reason == s.reason);
        if (rc == FO_OK)
            CHECK(strcmp(buf, s.reason_text) == 0);
        else
            CHECK(strlen(s.reason_text) >= n &&
                  strncmp(buf, s.reason_text, n - 1) == 0 &&
                  strlen(buf) == n - 1);
        break;
    }
    case 2: { /* the name, into a buffer of any size */
        size_t n = size % 72;

        rc = fo_route_get_name(w->r, id, buf, n);
        if (n == 0) {
            EXPECT("fo_route_get_name (size 0)", rc, FO_EINVAL);
            break;
        }
        if (want != FO_OK) {
            EXPECT("fo_route_get_name", rc, want);
            break;
        }
        EXPECT("fo_route_get_name", rc,
               strlen(r->name) < n ? FO_OK : FO_ERANGE);
        CHECK(strlen(buf) < n && strncmp(buf, r->name, n - 1) == 0);
        break;
    }
    case 3: { /* lookup by name, of a route or of a table entry */
        char name[96];
        fo_route_id found = 12345;
        struct rec *owner;

        if (size % 2 && r != NULL)
            snprintf(name, sizeof name, "%s", r->name);
        else
            snprintf(name, sizeof name, "%s", route_names[size % NROUTE_NAMES]);
        owner = live_by_name(w, name);
        rc = fo_route_lookup(w->r, name, &found);
        EXPECT("fo_route_lookup", rc, owner != NULL ? FO_OK : FO_ENOENT);
        CHECK(owner == NULL ? found == 12345 : found == owner->id);
        break;
    }
    case 4: { /* stats into a struct larger than this build knows */
        union {
            fo_route_stats s;
            unsigned char bytes[sizeof(fo_route_stats) + 16];
        } u;

        memset(&u, 0xa5, sizeof u);
        u.s.size = sizeof u.bytes;
        rc = fo_route_get_stats(w->r, id, &u.s);
        EXPECT("fo_route_get_stats (larger struct)", rc, want);
        if (rc == FO_OK) {
            CHECK(u.s.size == sizeof u.bytes);
            for (size_t i = sizeof u.s; i < sizeof u.bytes; i++)
                CHECKF(u.bytes[i] == 0, "stats tail byte %zu not zeroed", i);
        }
        u.s.size = size % 2 ? 0 : sizeof u.s - 1;
        EXPECT("fo_route_get_stats (small struct)",
               fo_route_get_stats(w->r, id, &u.s), FO_EINVAL);
        break;
    }
    case 5: { /* plans by name */
        const char *name = plan_names[size % 8];
        fo_plan_id found = 12345;
        const struct plan *owner = NULL;

        for (uint32_t i = 0; i < w->nplan; i++)
            if (w->plans[i].live && strcmp(w->plans[i].name, name) == 0)
                owner = &w->plans[i];
        rc = fo_plan_lookup(w->r, name, &found);
        EXPECT("fo_plan_lookup", rc, owner != NULL ? FO_OK : FO_ENOENT);
        CHECK(owner == NULL ? found == 12345 : found == owner->id);
        break;
    }
    case 6: { /* the Q.850 and DIALSTATUS maps, and names of everything */
        /* DIALSTATUS: case-insensitive, surrounding blanks ignored. */
        static const struct {
            const char *text;
            int result;
        } dialstatus[16] = {
            {"ANSWER", FO_RESULT_SUCCESS},
            {"busy", FO_RESULT_BUSY},
            {" NoAnswer\t", FO_RESULT_NOANSWER},
            {"CANCEL", FO_RESULT_CANCELLED},
            {"Congestion\r\n", FO_RESULT_CONGESTION},
            {"chanunavail", FO_RESULT_UNAVAILABLE},
            {"DONTCALL", FO_RESULT_DECLINED},
            {"torture", FO_RESULT_DECLINED},
            {"INVALIDARGS", FO_RESULT_REJECTED},
            {"", 0},
            {"ANSWERED", 0},
            {"BUSY X", 0},
            {"   ", 0},
            {"CHANUNAVAILCHANUNAVAILCHANUNAVAILCHANUNAVAIL", 0},
            {"B\xc3\xbcSY", 0},
            {"NOANSWE", 0},
        };
        fo_result res = (fo_result)0;
        int cause = size % 130;

        rc = fo_result_from_q850(cause, &res);
        EXPECT("fo_result_from_q850", rc,
               cause >= 1 && cause <= 127 ? FO_OK : FO_EINVAL);
        CHECK(rc != FO_OK || result_valid(res));
        res = (fo_result)0;
        rc = fo_result_from_dialstatus(dialstatus[size % 16].text, &res);
        EXPECT("fo_result_from_dialstatus", rc,
               dialstatus[size % 16].result != 0 ? FO_OK : FO_EINVAL);
        CHECKF(rc != FO_OK || (int)res == dialstatus[size % 16].result,
               "DIALSTATUS \"%s\" is %s", dialstatus[size % 16].text,
               fo_result_name(res));
        CHECK(fo_strerror(-(int)size) != NULL &&
              fo_error_name((int)size) != NULL);
        CHECK(fo_route_state_name((fo_route_state)size) != NULL &&
              fo_reason_name((fo_reason)size) != NULL &&
              fo_event_kind_name((fo_event_kind)size) != NULL &&
              fo_policy_name((fo_policy)size) != NULL &&
              fo_log_level_name((fo_log_level)size) != NULL &&
              fo_result_name((fo_result)size) != NULL);
        break;
    }
    default:
        for (int i = 0; i < MAX_ATT; i++)
            att_check(&w->atts[i]);
        break;
    }
    trace("read %s what %u -> done", r != NULL ? r->name : "(bogus)", what);
    CHECKF(w->alloc_calls == mark, "a read allocated");
}

/* dump */
static void op_dump(struct world *w)
{
    char *text = NULL;
    size_t len = 0, lines = 0;
    FILE *out = open_memstream(&text, &len);
    int rc;

    CHECKF(out != NULL, "open_memstream failed");
    rc = fo_router_dump(w->r, out);
    fclose(out);
    trace("dump -> %s", fo_error_name(rc));
    EXPECT("fo_router_dump", rc,
           live_count(w) > 0 ? alloc_or(w, FO_OK) : FO_OK);
    if (rc == FO_OK) {
        for (size_t i = 0; i < len; i++)
            lines += text[i] == '\n';
        CHECKF(strncmp(text, "router at ", 10) == 0 &&
                   strstr(text, "\nROUTE") != NULL &&
                   lines == 2 + live_count(w) && text[len - 1] == '\n',
               "dump of %u routes:\n%s", live_count(w), text);
    }
    free(text);
}

/* The number after `prefix ` on a line of the metrics text. */
static bool metric(const char *text, const char *prefix, uint64_t *out)
{
    size_t n = strlen(prefix);

    for (const char *p = text; *p != '\0';) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ') {
            *out = strtoull(p + n + 1, NULL, 10);
            return true;
        }
        p = strchr(p, '\n');
        if (p == NULL)
            break;
        p++;
    }
    return false;
}

/* One line of the text format: a comment, or name{labels} value. */
static void check_metrics_line(const char *p, const char *end)
{
    const char *s = p;

    if (*p == '#') {
        CHECK(strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) == 0);
        return;
    }
    CHECKF((*p >= 'a' && *p <= 'z') || *p == '_', "metrics line \"%.*s\"",
           (int)(end - s), s);
    while (p < end && ((*p >= 'a' && *p <= 'z') || *p == '_'))
        p++;
    if (p < end && *p == '{') {
        p++;
        while (p < end && *p != '}') {
            while (p < end && *p != '=')
                p++;
            CHECK(p + 1 < end && p[1] == '"');
            p += 2;
            while (p < end && *p != '"') {
                if (*p == '\\') {
                    CHECK(p + 1 < end &&
                          (p[1] == '\\' || p[1] == '"' || p[1] == 'n'));
                    p++;
                }
                p++;
            }
            CHECK(p < end);
            p++;
            if (p < end && *p == ',')
                p++;
        }
        CHECK(p < end);
        p++;
    }
    CHECKF(p < end && *p == ' ', "metrics line \"%.*s\"", (int)(end - s), s);
    p++;
    CHECKF(p < end && *p >= '0' && *p <= '9', "metrics line \"%.*s\"",
           (int)(end - s), s);
    while (p < end && ((*p >= '0' && *p <= '9') || *p == '.'))
        p++;
    CHECKF(p == end, "metrics line \"%.*s\"", (int)(end - s), s);
}

/* metrics: size. The snprintf() contract: the length of the whole text;
 * if that does not fit, only complete lines, NUL-terminated. */
static void op_metrics(struct world *w)
{
    uint8_t b = u8(w) % 12;
    int64_t total = fo_router_write_metrics(w->r, NULL, 0), n;
    char *full, *buf;
    size_t size, len;
    uint64_t v;

    trace("metrics size choice %u -> %lld", b, (long long)total);
    if (live_count(w) > 0 && w->alloc_failed) {
        EXPECT("fo_router_write_metrics", (int)total, FO_ENOMEM);
        return;
    }
    CHECKF(total > 0, "fo_router_write_metrics(NULL, 0) = %lld",
           (long long)total);
    EXPECT("fo_router_write_metrics (NULL with a size)",
           (int)fo_router_write_metrics(w->r, NULL, 1), FO_EINVAL);
    full = malloc((size_t)total + 1);
    CHECK(full != NULL);
    n = fo_router_write_metrics(w->r, full, (size_t)total + 1);
    CHECKF(n == total, "metrics: %lld bytes, then %lld", (long long)total,
           (long long)n);
    CHECK(strlen(full) == (size_t)total && full[total - 1] == '\n');
    for (const char *p = full; *p != '\0';) {
        const char *e = strchr(p, '\n');

        CHECK(e != NULL);
        check_metrics_line(p, e);
        p = e + 1;
    }
    CHECK(metric(full, "failover_reports_total", &v) && v == w->tot_reports);
    CHECK(metric(full, "failover_picks_total{outcome=\"no_route\"}", &v) &&
          v == w->tot_noroute);

    switch (b) {
    case 0:
        size = 1;
        break;
    case 1:
        size = 2;
        break;
    case 2:
        size = 64;
        break;
    case 3:
        size = 1000;
        break;
    case 4:
        size = (size_t)total - 1;
        break;
    case 5:
        size = (size_t)total;
        break;
    case 6:
        size = (size_t)total + 1;
        break;
    default:
        size = 1 + (size_t)u16(w) % ((size_t)total + 16);
        break;
    }
    /* Exactly size bytes, so a write past them is caught. */
    buf = malloc(size);
    CHECK(buf != NULL);
    memset(buf, 'X', size);
    n = fo_router_write_metrics(w->r, buf, size);
    CHECKF(n == total, "metrics into %zu bytes: %lld, whole text %lld", size,
           (long long)n, (long long)total);
    len = strnlen(buf, size);
    CHECKF(len < size, "metrics into %zu bytes: not NUL-terminated", size);
    if ((size_t)total < size) {
        CHECK(strcmp(buf, full) == 0);
    } else {
        const char *next;

        CHECKF(memcmp(buf, full, len) == 0 &&
                   (len == 0 || full[len - 1] == '\n'),
               "metrics into %zu bytes: %zu bytes that are not whole lines",
               size, len);
        /* As many whole lines as fit. */
        next = strchr(full + len, '\n');
        CHECKF(next != NULL && (size_t)(next - full) + 1 >= size,
               "metrics into %zu bytes: %zu bytes, the next line fits", size,
               len);
    }
    free(buf);
    free(full);
}

/* ---- callbacks --------------------------------------------------------- */

/* event_cb: on (odd) or off */
static void op_event_cb(struct world *w)
{
    bool on = u8(w) % 2;
    int rc = fo_router_set_event_cb(w->r, on ? on_event : NULL,
                                    on ? (void *)w : NULL);
    int want =
        on && !w->queue_allocated && !w->log_cb ? alloc_or(w, FO_OK) : FO_OK;

    trace("event_cb %s -> %s", on ? "on" : "off", fo_error_name(rc));
    EXPECT("fo_router_set_event_cb", rc, want);
    if (rc != FO_OK)
        return;
    if (on)
        w->queue_allocated = true;
    if (on != w->ev_cb) {
        forget_states(w);
        w->ev_contiguous = false;
        w->ev_full = false;
    }
    w->ev_cb = on;
}

/* log_cb: level (0 removes it; 5: not a level) */
static void op_log_cb(struct world *w)
{
    uint8_t b = u8(w) % 6;
    int level = b == 5 ? 7 : b;
    bool on = b != 0;
    int rc = fo_router_set_log_cb(w->r, (fo_log_level)level, on ? on_log : NULL,
                                  on ? (void *)w : NULL);
    int want;

    if (b == 5)
        want = FO_EINVAL;
    else if (on && !w->queue_allocated && !w->ev_cb)
        want = alloc_or(w, FO_OK);
    else
        want = FO_OK;
    trace("log_cb level %d -> %s", level, fo_error_name(rc));
    EXPECT("fo_router_set_log_cb", rc, want);
    if (rc != FO_OK)
        return;
    if (on)
        w->queue_allocated = true;
    w->log_cb = on;
    w->log_level = level;
}

/* ---- the program ------------------------------------------------------- */

static void run_op(struct world *w, int code)
{
    static void (*const ops[OP_COUNT])(struct world *) = {
        [OP_ADD] = op_add,
        [OP_UPDATE] = op_update,
        [OP_REMOVE] = op_remove,
        [OP_REPORT] = op_report,
        [OP_PICK] = op_pick,
        [OP_HUNT] = op_hunt,
        [OP_ATTEMPT] = op_attempt,
        [OP_PLAN_NEW] = op_plan_new,
        [OP_PLAN_SET] = op_plan_set,
        [OP_PLAN_UNSET] = op_plan_unset,
        [OP_PLAN_POLICY] = op_plan_policy,
        [OP_PLAN_FREE] = op_plan_free,
        [OP_ADMIN] = op_admin,
        [OP_DRILL] = op_drill,
        [OP_SIGNAL] = op_signal,
        [OP_SET_PROBE] = op_set_probe,
        [OP_TICK] = op_tick,
        [OP_PROBE_DONE] = op_probe_done,
        [OP_CLOCK] = op_clock,
        [OP_PANIC] = op_panic,
        [OP_RESULT_CLASS] = op_result_class,
        [OP_SIP_RESULT] = op_sip_result,
        [OP_REPORT_SIP] = op_report_sip,
        [OP_READ] = op_read,
        [OP_DUMP] = op_dump,
        [OP_METRICS] = op_metrics,
        [OP_EVENT_CB] = op_event_cb,
        [OP_LOG_CB] = op_log_cb,
        [OP_FAIL_ALLOC] = NULL,
        [OP_DEADLINE] = check_deadline,
    };

    if (code == OP_FAIL_ALLOC) {
        /* The next operation's first allocation fails. */
        w->fail_armed = true;
        trace("fail_alloc");
        return;
    }
    ops[code](w);
}

/* Creates the router from the header's options; an invalid set must fail
 * with a documented error and change nothing, and the program then runs
 * on the defaults. */
static void open_router(struct world *w, fo_clock *clock, fo_allocator *alloc)
{
    union {
        fo_router_options o;
        unsigned char bytes[sizeof(fo_router_options) + 16];
    } u;
    fo_router_options *o = &u.o;
    fo_router *sentinel = (fo_router *)(uintptr_t)0x5e9;
    fo_router *r = sentinel;
    unsigned n = u8(w) % 16, errors;
    int size_mode, rc;

    memset(&u, 0, sizeof u);
    EXPECT("fo_router_options_init", FO_ROUTER_OPTIONS_INIT(o), FO_OK);
    o->clock = clock;
    o->allocator = alloc;
    o->seed = 1;
    for (unsigned i = 0; i < n; i++) {
        const struct opt_field *f = &opt_fields[u8(w) % 32];
        uint64_t v = f->values[u8(w) % 8];

        set_field(o, f, v);
        trace("option %s = %llu", f->name, (unsigned long long)v);
    }
    size_mode = u8(w);
    w->quiet_start = (size_mode & 0x10) != 0;
    size_mode %= 16;
    if (size_mode == 13 || size_mode == 14) {
        o->size = sizeof u.bytes;
        if (size_mode == 14)
            u.bytes[sizeof *o + 3] = 1;
    } else if (size_mode == 15) {
        o->size = sizeof *o - 1;
    }
    errors = options_errors(o, size_mode);
    rc = fo_router_new(&r, o);
    trace("router_new -> %s (accepted 0x%x)", fo_error_name(rc), errors);
    if (errors == 0 || (errors & BIT(FO_OK)) != 0) {
        EXPECT_IN("fo_router_new", rc, errors | BIT(FO_OK));
    } else {
        EXPECT_IN("fo_router_new", rc, errors);
    }
    if (rc != FO_OK) {
        CHECKF(r == sentinel, "fo_router_new failed and set its router");
        CHECKF(w->live_blocks == 0,
               "fo_router_new failed and kept %ld "
               "blocks",
               w->live_blocks);
        memset(&u, 0, sizeof u);
        EXPECT("fo_router_options_init", FO_ROUTER_OPTIONS_INIT(o), FO_OK);
        o->clock = clock;
        o->allocator = alloc;
        o->seed = 1;
        rc = fo_router_new(&r, o);
        EXPECT("fo_router_new (defaults)", rc, FO_OK);
    }
    resolve(o, &w->cfg);
    w->panic = w->cfg.panic;
    w->def_policy = w->cfg.policy;
    w->r = r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct world *w = &W;
    fo_clock clock;
    fo_allocator alloc;
    int rc;

    if (tracing < 0) {
        const char *env = getenv("FO_FUZZ_TRACE");

        tracing = env != NULL && env[0] != '\0' && env[0] != '0';
    }
    memset(w, 0, sizeof *w);
    w->in.data = data;
    w->in.size = size;
    w->clock = 1000 * SEC;
    w->raw_last = w->clock;
    w->now = w->clock;
    for (int res = 0; res < (int)FO_STATS_RESULTS; res++)
        w->cls[res] = (uint8_t)fo_result_default_class((fo_result)res);
    fail_step = 0;
    fail_op = "router_new";
    clock = (fo_clock)FO_CLOCK_INIT(clock_now, w);
    alloc = (fo_allocator)FO_ALLOCATOR_INIT(counting_alloc, counting_free, w);
    open_router(w, &clock, &alloc);

    /* Unless the program says otherwise, every route's story is in the
     * events from the start. */
    if (!w->quiet_start) {
        fail_op = "event_cb";
        rc = fo_router_set_event_cb(w->r, on_event, w);
        EXPECT("fo_router_set_event_cb", rc, FO_OK);
        w->ev_cb = true;
        w->ev_full = true;
        w->queue_allocated = true;
    }
    for (int i = 0; i < MAX_ATT; i++)
        att_reset(w, &w->atts[i], NULL);
    check_all(w);

    while (w->in.pos < w->in.size && w->step < MAX_STEPS) {
        int code = u8(w) % OP_CODES;

        if (code >= OP_COUNT)
            code = op_alias[code - OP_COUNT];
        w->step++;
        fail_step = w->step;
        fail_op = op_names[code];
        w->alloc_failed = false;
        run_op(w, code);
        if (code != OP_FAIL_ALLOC)
            w->fail_armed = false;
        check_all(w);
    }

    fail_op = "router_free";
    w->fail_armed = false;
    w->freeing = true;
    rc = fo_router_free(w->r);
    EXPECT("fo_router_free", rc, FO_OK);
    w->r = NULL;
    CHECKF(w->live_blocks == 0, "%ld blocks left allocated by the router",
           w->live_blocks);
    CHECKF(w->live_ctx == 0 && w->destroys == w->registrations,
           "%lu probe registrations, %lu destroyed, %ld alive",
           w->registrations, w->destroys, w->live_ctx);
    return 0;
}
