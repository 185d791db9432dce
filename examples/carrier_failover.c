/*
 * carrier_failover: three SIP carriers in priority order. The primary dies
 * for two minutes, and meanwhile the first backup is congested for 20 s.
 * Calls flow down the list while carriers are out and return when they
 * recover.
 *
 * Calls are simulated on a manual clock: the program runs in milliseconds
 * and prints the same timeline every time (a real dialer keeps the default
 * clock, and its dial() sends an INVITE). State changes come from the
 * event callback; the table at the end is fo_router_dump().
 *
 * Build against an installed libfailover:
 *     cc carrier_failover.c $(pkg-config --cflags --libs failover)
 */
#include <stdio.h>
#include <stdlib.h>

#include <failover/failover.h>

#define SEC          FO_SECOND_NS
#define NCARRIERS    3
#define CALL_EVERY   (2 * SEC)      /* one new call every 2 s */
#define RUN_FOR      (8 * 60 * SEC) /* for 8 minutes */
#define DIAL_TIMEOUT 4              /* seconds a call waits on a dead carrier */

static struct carrier {
    const char *name;
    uint32_t priority;
    fo_route_id id;
    unsigned carried; /* calls that ended on this carrier */
} carriers[NCARRIERS] = {
    {"carrier-a", 1, 0, 0}, /* primary */
    {"carrier-b", 2, 0, 0}, /* first backup */
    {"carrier-c", 3, 0, 0}, /* last resort */
};

static uint64_t sim_now; /* the simulation's clock, read by the router */
static uint64_t sim_clock(void *userdata)
{
    (void)userdata;
    return sim_now;
}

/* The trouble the network has in store: carrier, from, to, what happens. */
static const struct {
    int carrier;
    uint64_t from, to;
    fo_result result;
} outages[] = {
    {0, 60 * SEC, 180 * SEC, FO_RESULT_TIMEOUT},     /* a: no answer */
    {1, 120 * SEC, 140 * SEC, FO_RESULT_CONGESTION}, /* b: congested */
};

/* What the network does with a call sent to carrier c. */
static fo_result dial(int c)
{
    static uint32_t x = 2463534242u; /* xorshift: repeatable callee noise */
    uint32_t r = (x ^= x << 13, x ^= x >> 17, x ^= x << 5) % 100;

    for (size_t i = 0; i < sizeof outages / sizeof outages[0]; i++)
        if (outages[i].carrier == c && sim_now >= outages[i].from &&
            sim_now < outages[i].to)
            return outages[i].result;
    if (r < 12)
        return FO_RESULT_NOANSWER; /* the callee did not pick up */
    if (r < 18)
        return FO_RESULT_BUSY; /* the callee was busy */
    return FO_RESULT_SUCCESS;
}

static int carrier_of(fo_route_id id)
{
    int c = 0;
    while (c < NCARRIERS - 1 && carriers[c].id != id)
        c++;
    return c;
}

#define print_time() /* the simulated time as m:ss, starting a line */         \
    printf("%u:%02u  ", (unsigned)(sim_now / SEC / 60),                        \
           (unsigned)(sim_now / SEC % 60))

/* Every state change, with the router's explanation of why, on the thread
 * whose call caused it, before that call returns: the timeline is ordered. */
static void on_event(fo_router *router, const fo_event *ev, void *userdata)
{
    (void)router;
    (void)userdata;
    if (ev->kind != FO_EVENT_STATE)
        return;
    print_time();
    printf("%s %s -> %s: %s\n", ev->route_name,
           fo_route_state_name(ev->old_state),
           fo_route_state_name(ev->new_state), ev->text);
}

/* Says what failed, frees the router (NULL is fine), returns 1. */
static int give_up(const char *what, int rc, fo_router *router)
{
    fprintf(stderr, "%s: %s\n", what, fo_strerror(rc));
    fo_router_free(router);
    return 1;
}

int main(void)
{
    fo_clock clock = FO_CLOCK_INIT(sim_clock, NULL);
    fo_router_options opts;
    fo_router *router;
    unsigned calls = 0, connected = 0, callee = 0, failed_over = 0, failed = 0,
             wasted = 0;
    int rc;

    /* 1. A router on our clock; everything else keeps its default: e.g.
     *    3 route faults in a row eject a carrier for 15 s, then one trial
     *    call at a time decides whether it is back (2 successes). */
    FO_ROUTER_OPTIONS_INIT(&opts);
    opts.clock = &clock;
    if ((rc = fo_router_new(&router, &opts)) != FO_OK)
        return give_up("fo_router_new", rc, NULL);
    /* Tell us what the router decides, and why. */
    if ((rc = fo_router_set_event_cb(router, on_event, NULL)) != FO_OK)
        return give_up("fo_router_set_event_cb", rc, router);

    /* 2. The carriers: lower priority values are tried first. */
    for (int c = 0; c < NCARRIERS; c++) {
        rc = fo_route_add(router, carriers[c].name, carriers[c].priority, 1, 0,
                          &carriers[c].id);
        if (rc != FO_OK)
            return give_up("fo_route_add", rc, router);
    }
    printf("libfailover %s: a call every 2 s; carrier-a dead 1:00-3:00, "
           "carrier-b congested 2:00-2:20\n\n",
           fo_version_string());

    /* 3. The dialer loop. */
    for (sim_now = 0; sim_now < RUN_FOR; sim_now += CALL_EVERY) {
        fo_attempt attempt = FO_ATTEMPT_INIT; /* one per call */
        fo_route_id route;
        fo_result result = FO_RESULT_TIMEOUT;
        int first = -1, c = -1;

        calls++;
        /* Each pick skips carriers that are out and carriers this call
         * already tried, so a retry moves down the list. */
        while ((rc = fo_pick_route(router, &attempt, &route)) == FO_OK) {
            c = carrier_of(route);
            if (first < 0)
                first = c;
            result = dial(c);
            if (fo_result_default_class(result) == FO_CLASS_ROUTE_FAULT) {
                wasted++;
                print_time();
                printf("call %u: %s %s, trying the next carrier\n", calls,
                       carriers[c].name, fo_result_name(result));
            }
            /* Report every attempt, not only the last one. */
            fo_report_result(router, route, result, &attempt);
            if (fo_result_default_class(result) != FO_CLASS_ROUTE_FAULT)
                break; /* the carrier did its job; the call is over */
        }
        if (rc != FO_OK) { /* nothing left to try (or attempts used up) */
            failed++;
            print_time();
            printf("call %u FAILED: %s\n", calls, fo_strerror(rc));
            continue;
        }
        carriers[c].carried++;
        if (c != first) {
            failed_over++;
            print_time();
            printf("call %u: carried by %s (%s)\n", calls, carriers[c].name,
                   fo_result_name(result));
        }
        if (result == FO_RESULT_SUCCESS)
            connected++;
        else
            callee++;
    }

    printf("\nSummary after %u calls:\n"
           "  answered            %4u\n"
           "  busy / no answer    %4u  (the callee's doing: never held "
           "against a carrier)\n"
           "  failed over         %4u  (carried by a backup after a failed "
           "attempt)\n"
           "  failed              %4u\n"
           "  attempts wasted     %4u  (up to %u s of dialling delay)\n",
           calls, connected, callee, failed_over, failed, wasted,
           wasted * DIAL_TIMEOUT);
    for (int c = 0; c < NCARRIERS; c++)
        printf("  %-10s carried  %4u calls\n", carriers[c].name,
               carriers[c].carried);
    printf("\nThe router at the end:\n");
    fo_router_dump(router, stdout);
    fo_router_free(router);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
