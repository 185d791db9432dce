/*
 * decision: what fo_pick_route() and fo_report_result() cost.
 *
 * For each policy and route count it times a pick with a healthy primary,
 * a pick where every route but the last tier is out (the worst case for
 * a walk of the list), and reports (a success, a route fault), and prints
 * each in nanoseconds and as a ratio to the floor measured in the same
 * run: an uncontended pthread mutex lock+unlock pair. It then runs one and
 * two threads, on different routes and on the same route, and prints the
 * throughput ratio, and the memory a route costs.
 *
 * Timings on a shared machine are noisy: compare the ratios, not the
 * nanoseconds, and use instruction counts for a stable figure:
 *
 *     bench/decision --case pick-priority-16 --iterations 200000
 *
 * runs one case in the function measured(), which
 *     valgrind --tool=callgrind --toggle-collect=measured ...
 * counts alone; bench/instructions.py does that for every case and prints
 * instructions per operation.
 *
 * The routers here run on a manual clock that stands still, so the figures
 * are the library's own; the clocks' costs are printed separately: a real
 * dialer's router reads its clock once per call, by default
 * CLOCK_MONOTONIC_COARSE where that is 4 ms fine or better (Linux), else
 * CLOCK_MONOTONIC.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <failover/failover.h>

#define SEC FO_SECOND_NS

static uint64_t manual_now = 1000 * SEC;

static uint64_t manual_clock(void *userdata)
{
    (void)userdata;
    return manual_now;
}

/* The default router clock on Linux (lib/clock.c), read as it reads it. */
static uint64_t coarse_ns(void)
{
    struct timespec ts;

#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

#define CHECK(expr)                                                            \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        if (rc_ != FO_OK) {                                                    \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr,      \
                    fo_strerror(rc_));                                         \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* ---- routers to measure ------------------------------------------------- */

enum shape {
    HEALTHY, /* every route up: the primary tier answers */
    WORST,   /* every route but the last tier is out */
};

struct bench_router {
    fo_router *router;
    fo_route_id *ids;
    uint32_t n;
};

/*
 * n routes, as dialers list carriers: the priority policy gets a primary
 * and n - 1 backups in order (priority i), least cost n prices (cost i),
 * weighted one tier of n routes sharing the traffic. WORST leaves only the
 * last tier: the last backup, the dearest route, one route of the n.
 */
static void build(struct bench_router *b, fo_policy policy, uint32_t n,
                  enum shape shape, bool manual)
{
    fo_clock clock = FO_CLOCK_INIT(manual_clock, NULL);
    fo_router_options opts;

    FO_ROUTER_OPTIONS_INIT(&opts);
    if (manual)
        opts.clock = &clock;
    opts.policy = policy;
    opts.max_routes = n;
    /* The bench reports faults on purpose: keep routes where they are. */
    opts.detectors_off = FO_DETECTOR_CONSECUTIVE | FO_DETECTOR_FAILURE_RATE |
                         FO_DETECTOR_SLOW_CALLS;
    opts.guards_off = FO_GUARD_EJECTION | FO_GUARD_LOCAL_FAULT;
    CHECK(fo_router_new(&b->router, &opts));
    b->n = n;
    b->ids = calloc(n, sizeof *b->ids);
    if (b->ids == NULL)
        exit(1);
    for (uint32_t i = 0; i < n; i++) {
        char name[32];

        snprintf(name, sizeof name, "carrier-%u", (unsigned)i);
        CHECK(fo_route_add(b->router, name, i, 100 + i % 3, i, &b->ids[i]));
    }
    if (shape == WORST)
        for (uint32_t i = 0; i + 1 < n; i++)
            CHECK(fo_route_signal(b->router, b->ids[i],
                                  FO_SIGNAL_REGISTRATION_LOST));
}

static void destroy(struct bench_router *b)
{
    CHECK(fo_router_free(b->router));
    free(b->ids);
}

/* ---- the operations -------------------------------------------------------
 */

enum op {
    OP_PICK,
    OP_REPORT_SUCCESS,
    OP_REPORT_FAULT,
    OP_MUTEX,
    OP_ATOMIC,
    OP_CLOCK,
    OP_CLOCK_COARSE,
    OP_PICK_EXPLAINED,
};

static pthread_mutex_t floor_mutex = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t floor_atomic;
static volatile uint64_t sink;

/* Runs op iterations times. Kept out of line: callgrind counts it alone. */
__attribute__((noinline)) static void measured(struct bench_router *b,
                                               enum op op, uint64_t iterations)
{
    fo_route_id got;
    uint32_t i = 0;

    for (uint64_t k = 0; k < iterations; k++) {
        switch (op) {
        case OP_PICK:
            if (fo_pick_route(b->router, NULL, &got) != FO_OK)
                exit(2);
            break;
        case OP_PICK_EXPLAINED: {
            /* fo_pick_route_ex() with room for 8 skipped routes, as a
             * dialer that logs why each call went where it went. */
            fo_skip skipped[8];
            fo_pick pick = FO_PICK_INIT;

            pick.skipped = skipped;
            pick.skipped_capacity = 8;
            if (fo_pick_route_ex(b->router, NULL, &pick) != FO_OK)
                exit(2);
            break;
        }
        case OP_REPORT_SUCCESS:
            if (fo_report_result(b->router, b->ids[i], FO_RESULT_SUCCESS,
                                 NULL) != FO_OK)
                exit(2);
            break;
        case OP_REPORT_FAULT:
            if (fo_report_result(b->router, b->ids[i], FO_RESULT_CONGESTION,
                                 NULL) != FO_OK)
                exit(2);
            break;
        case OP_MUTEX:
            pthread_mutex_lock(&floor_mutex);
            pthread_mutex_unlock(&floor_mutex);
            break;
        case OP_ATOMIC:
            atomic_fetch_add_explicit(&floor_atomic, 1, memory_order_relaxed);
            break;
        case OP_CLOCK:
            sink += fo_clock_monotonic_ns();
            break;
        case OP_CLOCK_COARSE:
            sink += coarse_ns();
            break;
        }
    }
}

/* Best of a few runs, in ns per operation. */
static double time_op(struct bench_router *b, enum op op, uint64_t iterations)
{
    double best = 1e30;

    for (int run = 0; run < 5; run++) {
        uint64_t t0 = wall_ns();
        double ns;

        measured(b, op, iterations);
        ns = (double)(wall_ns() - t0) / (double)iterations;
        if (ns < best)
            best = ns;
    }
    return best;
}

static const char *policy_name(fo_policy p)
{
    return p == FO_POLICY_PRIORITY   ? "priority"
           : p == FO_POLICY_WEIGHTED ? "weighted"
                                     : "least-cost";
}

static const fo_policy policies[] = {FO_POLICY_PRIORITY, FO_POLICY_WEIGHTED,
                                     FO_POLICY_LEAST_COST};
static const uint32_t sizes[] = {4, 16, 256, 4096};

/* ---- one case, for callgrind ----------------------------------------------
 */

static int run_case(const char *name, uint64_t iterations)
{
    char what[16], pol[16];
    unsigned n = 0;
    enum op op;
    enum shape shape = HEALTHY;
    fo_policy policy = FO_POLICY_PRIORITY;
    struct bench_router b;

    if (strcmp(name, "mutex") == 0 || strcmp(name, "atomic") == 0 ||
        strcmp(name, "clock") == 0 || strcmp(name, "coarse-clock") == 0) {
        measured(NULL,
                 name[0] == 'm'                     ? OP_MUTEX
                 : name[0] == 'a'                   ? OP_ATOMIC
                 : name[0] == 'c' && name[1] == 'o' ? OP_CLOCK_COARSE
                                                    : OP_CLOCK,
                 iterations);
        return 0;
    }
    /* pick-<policy>-<n>, worst-<policy>-<n>, success-<n>, fault-<n> */
    if (sscanf(name, "%15[a-z]-%15[a-z]-%u", what, pol, &n) == 3) {
        for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++)
            if (strcmp(pol, policy_name(policies[i])) == 0 ||
                (strcmp(pol, "cost") == 0 &&
                 policies[i] == FO_POLICY_LEAST_COST))
                policy = policies[i];
        if (strcmp(what, "worst") == 0)
            shape = WORST;
        op = OP_PICK;
        if (strcmp(what, "explain") == 0) {
            shape = WORST;
            op = OP_PICK_EXPLAINED;
        }
    } else if (sscanf(name, "%15[a-z]-%u", what, &n) == 2) {
        op = strcmp(what, "fault") == 0 ? OP_REPORT_FAULT : OP_REPORT_SUCCESS;
    } else {
        fprintf(stderr, "unknown case %s\n", name);
        return 1;
    }
    if (n == 0 || n > 1u << 20) {
        fprintf(stderr, "bad route count in %s\n", name);
        return 1;
    }
    build(&b, policy, n, shape, true);
    measured(&b, op, 1000); /* warm up: first touches, branch history */
    measured(&b, op, iterations);
    destroy(&b);
    return 0;
}

/* ---- threads
 * ----------------------------------------------------------------- */

struct worker {
    fo_router *router;
    fo_route_id route;
    fo_plan_id plan;
    _Atomic int *go;
    uint64_t ops;
    double seconds;
};

/* A call: pick from the worker's plan, report the outcome. */
static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t t0, end;

    while (!atomic_load(w->go))
        ;
    t0 = wall_ns();
    end = t0 + 300 * 1000 * 1000ull;
    w->ops = 0;
    do {
        for (int k = 0; k < 1000; k++) {
            fo_attempt at;
            fo_route_id got;

            fo_attempt_init_plan(&at, w->plan);
            if (fo_pick_route(w->router, &at, &got) != FO_OK ||
                fo_report_result(w->router, got, FO_RESULT_SUCCESS, &at) !=
                    FO_OK)
                exit(3);
        }
        w->ops += 1000;
    } while (wall_ns() < end);
    w->seconds = (double)(wall_ns() - t0) / 1e9;
    return NULL;
}

/* Calls per second with nthreads; same: every thread on one route. The
 * router runs on the default clock here, as a dialer's does. */
static double throughput(int nthreads, int same)
{
    struct bench_router b;
    struct worker w[2];
    pthread_t t[2];
    _Atomic int go = 0;
    double total = 0;

    build(&b, FO_POLICY_PRIORITY, 4, HEALTHY, false);
    for (int i = 0; i < nthreads; i++) {
        char name[16];

        w[i].router = b.router;
        w[i].go = &go;
        w[i].route = b.ids[same ? 0 : i];
        snprintf(name, sizeof name, "plan-%d", i);
        CHECK(fo_plan_new(b.router, name, FO_POLICY_PRIORITY, &w[i].plan));
        CHECK(fo_plan_set_route(b.router, w[i].plan, w[i].route, 1, 1, 0));
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
            exit(1);
    }
    atomic_store(&go, 1);
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        total += (double)w[i].ops / w[i].seconds;
    }
    destroy(&b);
    return total;
}

/* ---- memory per route
 * ---------------------------------------------------------- */

static _Atomic long live_bytes;

static void *count_alloc(size_t size, void *userdata)
{
    size_t *p = malloc(size + 16);

    (void)userdata;
    if (p == NULL)
        return NULL;
    p[0] = size;
    atomic_fetch_add(&live_bytes, (long)size);
    return (char *)p + 16;
}

static void count_free(void *ptr, void *userdata)
{
    size_t *p = (size_t *)(void *)((char *)ptr - 16);

    (void)userdata;
    atomic_fetch_sub(&live_bytes, (long)p[0]);
    free(p);
}

static double bytes_per_route(uint32_t n)
{
    fo_allocator alloc = FO_ALLOCATOR_INIT(count_alloc, count_free, NULL);
    fo_router_options opts;
    fo_router *r;
    long empty;

    FO_ROUTER_OPTIONS_INIT(&opts);
    opts.allocator = &alloc;
    opts.max_routes = n;
    CHECK(fo_router_new(&r, &opts));
    empty = atomic_load(&live_bytes);
    for (uint32_t i = 0; i < n; i++) {
        char name[32];
        fo_route_id id;

        snprintf(name, sizeof name, "carrier-%u", (unsigned)i);
        CHECK(fo_route_add(r, name, i % 8, 100, 0, &id));
    }
    {
        double per = (double)(atomic_load(&live_bytes) - empty) / n;

        CHECK(fo_router_free(r));
        return per;
    }
}

/* ---- the report
 * ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const uint64_t iters = 200000;
    double mutex_ns, atomic_ns, clock_ns, coarse_clock_ns, one, two_diff,
        two_same;

    if (argc == 5 && strcmp(argv[1], "--case") == 0 &&
        strcmp(argv[3], "--iterations") == 0)
        return run_case(argv[2], strtoull(argv[4], NULL, 10));
    if (argc == 2 && strcmp(argv[1], "--threads") == 0) {
        one = throughput(1, 0);
        two_diff = throughput(2, 0);
        two_same = throughput(2, 1);
        printf("threads: 1 %.0f calls/s; 2 on other routes %.2fx; 2 on the "
               "same route %.2fx\n",
               one, two_diff / one, two_same / one);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr,
                "usage: %s\n"
                "       %s --threads   (the thread scaling only)\n"
                "       %s --case NAME --iterations N   (for callgrind)\n"
                "cases: mutex, atomic, clock, coarse-clock, pick-POLICY-N,\n"
                "       worst-POLICY-N, explain-POLICY-N (worst, explained),\n"
                "       success-N, fault-N\n"
                "       (POLICY: priority, weighted, cost)\n",
                argv[0], argv[0], argv[0]);
        return 2;
    }

    mutex_ns = time_op(NULL, OP_MUTEX, 10 * iters);
    atomic_ns = time_op(NULL, OP_ATOMIC, 10 * iters);
    clock_ns = time_op(NULL, OP_CLOCK, 10 * iters);
    coarse_clock_ns = time_op(NULL, OP_CLOCK_COARSE, 10 * iters);
    printf("libfailover %s decision cost (best of 5 runs)\n\n",
           fo_version_string());
    printf("floor: mutex lock+unlock %.1f ns, atomic increment %.1f ns\n",
           mutex_ns, atomic_ns);
    printf("clock, read once per call: CLOCK_MONOTONIC_COARSE (the default "
           "on Linux) %.1f ns = %.2fx mutex; CLOCK_MONOTONIC %.1f ns = "
           "%.2fx mutex\n\n",
           coarse_clock_ns, coarse_clock_ns / mutex_ns, clock_ns,
           clock_ns / mutex_ns);

    printf("%-11s %6s  %22s  %22s\n", "policy", "routes", "pick, healthy",
           "pick, all but last tier out");
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            struct bench_router b;
            double healthy, worst;

            build(&b, policies[p], sizes[s], HEALTHY, true);
            healthy = time_op(&b, OP_PICK, iters);
            destroy(&b);
            build(&b, policies[p], sizes[s], WORST, true);
            worst = time_op(&b, OP_PICK, sizes[s] >= 256 ? iters / 10 : iters);
            destroy(&b);
            printf("%-11s %6u  %9.1f ns %6.2fx mutex  %9.1f ns %6.2fx mutex\n",
                   policy_name(policies[p]), (unsigned)sizes[s], healthy,
                   healthy / mutex_ns, worst, worst / mutex_ns);
        }
    }
    printf("\n%-11s %6s  %22s  %22s\n", "explained", "routes",
           "pick, all but last out", "the same, explained");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct bench_router b;
        uint64_t n = sizes[s] >= 256 ? iters / 100 : iters;
        double plain, explained;

        build(&b, FO_POLICY_PRIORITY, sizes[s], WORST, true);
        plain = time_op(&b, OP_PICK, n);
        explained = time_op(&b, OP_PICK_EXPLAINED, n);
        destroy(&b);
        printf("%-11s %6u  %9.1f ns %6.2fx mutex  %9.1f ns %6.2fx mutex\n",
               "priority", (unsigned)sizes[s], plain, plain / mutex_ns,
               explained, explained / mutex_ns);
    }
    printf("\n%-11s %6s  %22s  %22s\n", "report", "routes", "success",
           "route fault");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct bench_router b;
        double ok, fault;

        build(&b, FO_POLICY_PRIORITY, sizes[s], HEALTHY, true);
        ok = time_op(&b, OP_REPORT_SUCCESS, iters);
        fault = time_op(&b, OP_REPORT_FAULT, iters);
        destroy(&b);
        printf("%-11s %6u  %9.1f ns %6.2fx mutex  %9.1f ns %6.2fx mutex\n", "",
               (unsigned)sizes[s], ok, ok / mutex_ns, fault, fault / mutex_ns);
    }

    one = throughput(1, 0);
    two_diff = throughput(2, 0);
    two_same = throughput(2, 1);
    printf("\nthreads (pick + report per call, each thread its own plan):\n"
           "  1 thread                 %10.0f calls/s\n"
           "  2 threads, other routes  %10.0f calls/s  %.2fx one thread\n"
           "  2 threads, same route    %10.0f calls/s  %.2fx one thread\n",
           one, two_diff, two_diff / one, two_same, two_same / one);

    printf("\nmemory: %.0f bytes per route at 16 routes, %.0f at 4096 "
           "(route, name, window, lists)\n",
           bytes_per_route(16), bytes_per_route(4096));
    return 0;
}
