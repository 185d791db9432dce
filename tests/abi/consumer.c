/*
 * A program built only with `pkg-config --cflags --libs failover` against
 * the installed library: headers, .pc file and shared object must all be
 * where the .pc file says.
 */
#include <stdio.h>

#include <failover/failover.h>

int main(void)
{
    fo_router *router;
    fo_route_id primary, backup, got;
    fo_attempt attempt = FO_ATTEMPT_INIT;

    if (fo_version() != FO_VERSION_NUMBER) {
        fprintf(stderr, "header %s, library %s\n", FO_VERSION_STRING,
                fo_version_string());
        return 1;
    }
    if (fo_router_new(&router, NULL) != FO_OK ||
        fo_route_add(router, "primary", 1, 1, 0, &primary) != FO_OK ||
        fo_route_add(router, "backup", 2, 1, 0, &backup) != FO_OK)
        return 2;
    if (fo_pick_route(router, &attempt, &got) != FO_OK || got != primary)
        return 3;
    fo_report_result(router, got, FO_RESULT_TIMEOUT, &attempt);
    if (fo_pick_route(router, &attempt, &got) != FO_OK || got != backup)
        return 4;
    fo_router_free(router);
    printf("installed consumer ok: libfailover %s\n", fo_version_string());
    return 0;
}
