// The public API from C++: extern "C" linkage, initializer macros, and a
// short session against the shared library.
#include <failover/failover.h>

#include <cstdio>
#include <cstring>

static uint64_t now_ns = 0;

static uint64_t manual_now(void *)
{
    return now_ns;
}

static int ejections;

static void on_event(fo_router *, const fo_event *ev, void *)
{
    if (ev->kind == FO_EVENT_STATE && ev->new_state == FO_STATE_EJECTED)
        ejections++;
}

int main()
{
    fo_clock clock = FO_CLOCK_INIT(manual_now, nullptr);
    fo_router_options opts;
    fo_router *router = nullptr;
    fo_route_id a = FO_ROUTE_ID_NONE, b = FO_ROUTE_ID_NONE, got;
    fo_attempt attempt = FO_ATTEMPT_INIT;

    if (fo_version() != FO_VERSION_NUMBER)
        return 1;
    if (FO_ROUTER_OPTIONS_INIT(&opts) != FO_OK)
        return 2;
    opts.clock = &clock;
    opts.consecutive_faults = 1;
    if (fo_router_new(&router, &opts) != FO_OK)
        return 3;
    if (fo_route_add(router, "a", 1, 1, 0, &a) != FO_OK ||
        fo_route_add(router, "b", 2, 1, 0, &b) != FO_OK)
        return 4;
    if (fo_router_set_event_cb(router, on_event, nullptr) != FO_OK)
        return 10;
    if (fo_pick_route(router, &attempt, &got) != FO_OK || got != a)
        return 5;
    if (fo_report_result(router, a, FO_RESULT_CONGESTION, &attempt) != FO_OK)
        return 6;
    if (fo_pick_route(router, &attempt, &got) != FO_OK || got != b)
        return 7;
    if (std::strcmp(fo_error_name(FO_ENOROUTE), "FO_ENOROUTE") != 0)
        return 8;
    {
        fo_route_stats rs = FO_ROUTE_STATS_INIT;
        fo_router_stats ts = FO_ROUTER_STATS_INIT;

        if (fo_route_get_stats(router, a, &rs) != FO_OK || rs.ejections != 1 ||
            fo_router_get_stats(router, &ts) != FO_OK || ts.picks != 2 ||
            ejections != 1)
            return 11;
        if (fo_router_write_metrics(router, nullptr, 0) <= 0)
            return 12;
    }
    if (fo_router_free(router) != FO_OK)
        return 9;
    std::printf("C++ consumer ok (%s)\n", fo_version_string());
    return 0;
}
