/*
 * The call path allocates nothing: fo_pick_route(), fo_report_result()
 * and the other calls documented "Allocation: none." make no call to
 * malloc, calloc, realloc or free, not even from inside libc (qsort, for
 * one, allocates for large arrays). The program interposes glibc's malloc
 * family and counts calls while the library works on 1000 routes through
 * every state, with event and log callbacks set and stats read. Skipped under
 * sanitizers, which own malloc.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <failover/failover.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FO_NOALLOC_SKIP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||     \
    __has_feature(memory_sanitizer)
#define FO_NOALLOC_SKIP 1
#endif
#endif

#ifndef FO_NOALLOC_SKIP
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

static atomic_int counting;
static atomic_long calls;

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);

void *malloc(size_t size)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    return __libc_realloc(p, size);
}

void free(void *p)
{
    if (p != NULL && atomic_load(&counting))
        atomic_fetch_add(&calls, 1);
    __libc_free(p);
}

static uint64_t now_ns = 1000000000000ull;

static uint64_t manual_now(void *userdata)
{
    (void)userdata;
    return now_ns;
}

#define CHECK(expr)                                                            \
    do {                                                                       \
        if (!(expr)) {                                                         \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #expr);         \
            return 1;                                                          \
        }                                                                      \
    } while (0)

static long events, log_lines;

static void on_event(fo_router *router, const fo_event *ev, void *userdata)
{
    (void)router;
    (void)userdata;
    if (ev->text != NULL)
        events++;
}

static void on_log(fo_router *router, fo_log_level level, const char *message,
                   const fo_event *ev, void *userdata)
{
    (void)router;
    (void)level;
    (void)ev;
    (void)userdata;
    if (message[0] != '\0')
        log_lines++;
}

int main(void)
{
    enum { N = 1000 };
    static fo_route_id ids[N];
    fo_clock clock = FO_CLOCK_INIT(manual_now, NULL);
    fo_router_options opts;
    fo_router *router;
    uint32_t x = 7;
    char name[32], text[FO_REASON_TEXT_MAX];
    long seen;

    FO_ROUTER_OPTIONS_INIT(&opts);
    opts.clock = &clock;
    opts.slow_call_ns = 5 * FO_SECOND_NS;
    opts.hold_down_jitter_pct = 20;
    CHECK(fo_router_new(&router, &opts) == FO_OK);
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        snprintf(name, sizeof name, "carrier-%d", i);
        CHECK(fo_route_add(router, name, (x >> 16) % 97, (x >> 8) % 3, 0,
                           &ids[i]) == FO_OK);
    }

    CHECK(fo_router_set_event_cb(router, on_event, NULL) == FO_OK);
    CHECK(fo_router_set_log_cb(router, FO_LOG_DEBUG, on_log, NULL) == FO_OK);

    atomic_store(&counting, 1);
    for (int round = 0; round < 20000; round++) {
        fo_attempt attempt = FO_ATTEMPT_INIT;
        fo_route_id route;
        fo_route_state st;
        fo_result res;
        fo_report rep;

        x = x * 1103515245u + 12345u;
        now_ns += (x >> 20) % 3 * 100000000ull; /* 0 to 200 ms */
        while (fo_pick_route(router, &attempt, &route) == FO_OK) {
            x = x * 1103515245u + 12345u;
            res = (fo_result)(1 + (x >> 16) % 9);
            rep = (fo_report)FO_REPORT_INIT(res);
            rep.latency_ns = (x >> 8) % 8 * FO_SECOND_NS;
            rep.retry_after_ns = (x >> 4) % 50 == 0 ? 30 * FO_SECOND_NS : 0;
            CHECK(fo_report_result_ex(router, route, &rep, &attempt) == FO_OK);
            if (fo_result_default_class(res) != FO_CLASS_ROUTE_FAULT)
                break;
        }
        route = ids[(x >> 12) % N];
        switch (round % 50) {
        case 0:
            fo_route_signal(router, route, FO_SIGNAL_REGISTRATION_LOST);
            break;
        case 1:
            fo_route_signal(router, route, FO_SIGNAL_REGISTRATION_RESTORED);
            break;
        case 2:
            fo_route_signal(router, route, FO_SIGNAL_KEEPALIVE_LOST);
            break;
        case 3:
            fo_route_drill(router, route, 10 * FO_SECOND_NS);
            break;
        case 4:
            fo_route_set_admin(router, route, FO_ADMIN_DRAINING);
            break;
        case 5:
            fo_route_set_admin(router, route, FO_ADMIN_ENABLED);
            break;
        case 6:
            CHECK(fo_route_update(router, route, (x >> 16) % 97, 1, 0) ==
                  FO_OK);
            break;
        default:
            break;
        }
        CHECK(fo_route_get_state(router, route, &st) == FO_OK);
        CHECK(fo_route_get_reason(router, route, NULL, text, sizeof text) ==
              FO_OK);
        CHECK(fo_route_lookup(router, "carrier-17", &route) == FO_OK);
        CHECK(fo_router_result_from_sip(router, 503, 0, &res) == FO_OK);
        CHECK(fo_result_from_q850(34, &res) == FO_OK);
        CHECK(fo_result_from_dialstatus("CHANUNAVAIL", &res) == FO_OK);
        {
            fo_route_stats rs = FO_ROUTE_STATS_INIT;
            fo_router_stats ts = FO_ROUTER_STATS_INIT;

            CHECK(fo_route_get_stats(router, route, &rs) == FO_OK);
            CHECK(fo_router_get_stats(router, &ts) == FO_OK);
        }
    }
    atomic_store(&counting, 0);
    seen = atomic_load(&calls);

    fo_router_free(router);
    printf("allocator calls on the call path: %ld (%ld events, %ld log "
           "lines)\n",
           seen, events, log_lines);
    CHECK(events > 0 && log_lines > 0);
    return seen == 0 ? 0 : 1;
}
#else
int main(void)
{
    puts("skipped: sanitizers own malloc");
    return 77;
}
#endif
