/*
 * The readable dump and the Prometheus text exposition.
 *
 * Both read every route under the router lock at once, so what they show
 * is one moment. The dump copies the snapshots and writes after unlocking
 * (a FILE may block); the metrics are formatted into the caller's buffer
 * under the lock, with no allocation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *class_name(int cls)
{
    switch (cls) {
    case FO_CLASS_SUCCESS:
        return "SUCCESS";
    case FO_CLASS_CALLEE:
        return "CALLEE";
    case FO_CLASS_NEUTRAL:
        return "NEUTRAL";
    case FO_CLASS_ROUTE_FAULT:
        return "ROUTE_FAULT";
    default:
        return "UNKNOWN";
    }
}

static const char *admin_name(fo_admin admin)
{
    switch (admin) {
    case FO_ADMIN_ENABLED:
        return "ENABLED";
    case FO_ADMIN_DRAINING:
        return "DRAINING";
    case FO_ADMIN_DISABLED:
        return "DISABLED";
    }
    return "UNKNOWN";
}

/* ---- dump ---------------------------------------------------------------- */

/* A name for a terminal: bytes that are not UTF-8 become '?'. Returns its
 * width in characters. */
static int printable(char *dst, size_t size, const char *src)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t o = 0;
    int width = 0;

    while (*p != '\0' && o + 5 < size) {
        size_t n = fo__utf8_len(p);

        if (n == 0) {
            dst[o++] = '?';
            p++;
        } else {
            memcpy(dst + o, p, n);
            o += n;
            p += n;
        }
        width++;
    }
    dst[o] = '\0';
    return width;
}

/* Seconds with milliseconds, e.g. "125.000". */
static void seconds(char *buf, size_t size, uint64_t ns)
{
    snprintf(buf, size, "%" PRIu64 ".%03" PRIu64, (uint64_t)(ns / FO_SECOND_NS),
             (uint64_t)(ns % FO_SECOND_NS / FO_MILLISECOND_NS));
}

static void flags_text(char *buf, size_t size, uint32_t flags)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {FO_STATS_GUARDED, "guarded"},
        {FO_STATS_PROBED, "probed"},
        {FO_STATS_RAMPING, "ramping"},
        {FO_STATS_AWAITS_REGISTRATION, "registration"},
    };
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((flags & names[i].bit) == 0)
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                len > 0 ? "," : "", names[i].name);
        if (len >= size)
            break;
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "-");
}

static int print_dump(FILE *out, const fo_router_stats *rs,
                      const fo_route_stats *s, uint32_t n)
{
    char now[32], dur[32], back[32], flags[64], window[48];
    char name[4 * FO_ROUTE_NAME_MAX + 8];
    int name_w = 5;
    bool first = true;

    seconds(now, sizeof now, rs->now_ns);
    if (fprintf(out, "router at %s s: %" PRIu32 " route%s", now, rs->routes,
                rs->routes == 1 ? "" : "s") < 0)
        return FO_ESYS;
    for (uint32_t st = 0; st < FO_STATS_STATES; st++) {
        if (rs->routes_in_state[st] == 0)
            continue;
        if (fprintf(out, "%s%s %" PRIu32, first ? " (" : ", ",
                    fo_route_state_name((fo_route_state)st),
                    rs->routes_in_state[st]) < 0)
            return FO_ESYS;
        first = false;
    }
    if (fprintf(out,
                "%s, %" PRIu64 " picks (%" PRIu64 " panic, %" PRIu64
                " no route), %" PRIu64 " reports%s%s\n",
                first ? "" : ")", rs->picks, rs->panic_picks,
                rs->no_route_picks, rs->reports,
                rs->lists_in_panic ? ", PANIC" : "",
                (rs->flags & FO_ROUTER_STATS_LOCAL_FAULT)
                    ? ", LOCAL FAULT SUSPECTED"
                    : "") < 0)
        return FO_ESYS;
    for (uint32_t i = 0; i < n; i++) {
        int len = printable(name, sizeof name, s[i].name);

        if (len > name_w)
            name_w = len;
    }
    if (fprintf(out,
                "%-*s %-10s %-8s %4s %6s %7s %7s %6s %-14s %6s %7s %4s %-8s "
                "%-12s %s\n",
                name_w, "ROUTE", "STATE", "FOR", "PRIO", "WEIGHT", "PICKS",
                "REPORTS", "FAULTS", "WINDOW", "CONSEC", "PENALTY", "OUT",
                "BACK IN", "FLAGS", "REASON") < 0)
        return FO_ESYS;
    for (uint32_t i = 0; i < n; i++) {
        const fo_route_stats *r = &s[i];

        fo__format_duration(dur, sizeof dur, r->time_in_state_ns);
        if (r->until_ns > r->now_ns)
            fo__format_duration(back, sizeof back, r->until_ns - r->now_ns);
        else
            snprintf(back, sizeof back, "-");
        if (r->window_attempts != 0)
            snprintf(window, sizeof window,
                     "%" PRIu64 "/%" PRIu64 " %" PRIu64 "%%", r->window_faults,
                     r->window_attempts,
                     (r->window_faults * 100 + r->window_attempts / 2) /
                         r->window_attempts);
        else
            snprintf(window, sizeof window, "-");
        flags_text(flags, sizeof flags, r->flags);
        /* Padded by characters, not bytes: names may be UTF-8. */
        if (fprintf(out, "%s%*s", name,
                    name_w - printable(name, sizeof name, r->name), "") < 0)
            return FO_ESYS;
        if (fprintf(out,
                    " %-10s %-8s %4" PRIu32 " %6" PRIu32 " %7" PRIu64
                    " %7" PRIu64 " %6" PRIu64 " %-14s %6" PRIu32 " %7" PRIu32
                    " %4" PRIu32 " %-8s %-12s %s: %s\n",
                    fo_route_state_name(r->state), dur, r->priority, r->weight,
                    r->picks, r->reports, r->classes[FO_CLASS_ROUTE_FAULT],
                    window, r->consecutive_faults, r->penalty, r->ejections,
                    back, flags, fo_reason_name(r->reason), r->reason_text) < 0)
            return FO_ESYS;
    }
    return fflush(out) == 0 ? FO_OK : FO_ESYS;
}

int fo_router_dump(fo_router *router, FILE *out)
{
    fo_router_stats rs;
    fo_route_stats *s;
    uint32_t n;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    now = fo__lock_now(router);
    n = router->defplan.count;
    s = n == 0 ? NULL : fo__calloc(router, &router->allocator, n, sizeof *s);
    if (n != 0 && s == NULL) {
        fo__unlock(router);
        return FO_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct fo__route *rt = router->defplan.entries[i].rt;

        fo__route_lock(rt);
        fo__route_snapshot(router, rt, fo__route_now(rt, now), &s[i]);
        fo__route_unlock(rt);
    }
    fo__router_snapshot(router, now, &rs);
    fo__unlock(router);

    errno = 0;
    rc = print_dump(out, &rs, s, n);
    if (s != NULL) {
        /* The allocator runs under the lock, as documented: it need not
         * be thread-safe itself. */
        fo__lock(router);
        fo__free(router, &router->allocator, s);
        fo__unlock(router);
    }
    return rc;
}

/* ---- Prometheus text format ---------------------------------------------- */

struct writer {
    char *buf;
    size_t size;
    size_t len; /* of the whole text so far */
    size_t fit; /* end of the last complete line that fits */
};

FO__PRINTF(2, 3)
static void put(struct writer *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    if (w->len < w->size)
        n = vsnprintf(w->buf + w->len, w->size - w->len, fmt, ap);
    else
        n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->len += (size_t)n;
}

/* Ends a line: if it fitted, it is part of what the caller gets. */
static void line(struct writer *w)
{
    put(w, "\n");
    if (w->len < w->size)
        w->fit = w->len;
}

/* Escapes a label value: backslash, double quote and line feed, as the
 * format requires; bytes that are not UTF-8 become U+FFFD. */
static void escape(char *dst, size_t size, const char *src)
{
    const unsigned char *p = (const unsigned char *)src;
    size_t o = 0;

    while (*p != '\0' && o + 5 < size) {
        size_t n = fo__utf8_len(p);

        if (n == 0) {
            memcpy(dst + o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        } else if (*p == '\\' || *p == '"') {
            dst[o++] = '\\';
            dst[o++] = (char)*p++;
        } else if (*p == '\n') {
            dst[o++] = '\\';
            dst[o++] = 'n';
            p++;
        } else {
            memcpy(dst + o, p, n);
            o += n;
            p += n;
        }
    }
    dst[o] = '\0';
}

/* What one route family shows of a route's snapshot. */
typedef void (*route_family_fn)(struct writer *w, const char *family,
                                const char *route, const fo_route_stats *s);

static void family_head(struct writer *w, const char *name, const char *type,
                        const char *help)
{
    put(w, "# HELP %s %s", name, help);
    line(w);
    put(w, "# TYPE %s %s", name, type);
    line(w);
}

static void sample_u64(struct writer *w, const char *family, const char *route,
                       uint64_t v)
{
    put(w, "%s{route=\"%s\"} %" PRIu64, family, route, v);
    line(w);
}

/* num / den as a decimal with up to 9 digits after the point, in integer
 * arithmetic: printf's %f and %g follow the process's locale, and a host
 * that sets one (Asterisk, FreeSWITCH) would get "0,25", which is not a
 * number in this format. */
static void sample_ratio(struct writer *w, const char *family,
                         const char *route, uint64_t num, uint64_t den)
{
    uint64_t whole, rest, frac = 0;
    char digits[16];
    int n = 9;

    while (den > UINT64_MAX / 10) { /* so rest * 10 cannot overflow */
        num >>= 1;
        den >>= 1;
    }
    whole = den != 0 ? num / den : 0;
    rest = den != 0 ? num % den : 0;
    /* rest < den: one digit per step, the last one rounded. */
    for (int k = 0; k < 9 && den != 0; k++) {
        frac = frac * 10 + rest * 10 / den;
        rest = rest * 10 % den;
    }
    if (den != 0 && rest >= den - rest) {
        if (++frac == 1000000000u) {
            frac = 0;
            whole++;
        }
    }
    snprintf(digits, sizeof digits, "%09" PRIu64, frac);
    while (n > 0 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    if (n == 0)
        put(w, "%s{route=\"%s\"} %" PRIu64, family, route, whole);
    else
        put(w, "%s{route=\"%s\"} %" PRIu64 ".%s", family, route, whole, digits);
    line(w);
}

static void f_state(struct writer *w, const char *family, const char *route,
                    const fo_route_stats *s)
{
    for (int st = FO_STATE_UP; st <= FO_STATE_DRILL; st++) {
        put(w, "%s{route=\"%s\",state=\"%s\"} %d", family, route,
            fo_route_state_name((fo_route_state)st),
            (int)s->state == st ? 1 : 0);
        line(w);
    }
}

static void f_info(struct writer *w, const char *family, const char *route,
                   const fo_route_stats *s)
{
    put(w,
        "%s{route=\"%s\",priority=\"%" PRIu32 "\",weight=\"%" PRIu32
        "\",cost=\"%" PRIu32 "\",admin=\"%s\"} 1",
        family, route, s->priority, s->weight, s->cost, admin_name(s->admin));
    line(w);
}

static void f_results(struct writer *w, const char *family, const char *route,
                      const fo_route_stats *s)
{
    for (int res = FO_RESULT_SUCCESS; res <= FO__RESULT_MAX; res++) {
        put(w, "%s{route=\"%s\",result=\"%s\"} %" PRIu64, family, route,
            fo_result_name((fo_result)res), s->results[res]);
        line(w);
    }
}

static void f_classes(struct writer *w, const char *family, const char *route,
                      const fo_route_stats *s)
{
    for (int cls = FO_CLASS_SUCCESS; cls <= FO_CLASS_ROUTE_FAULT; cls++) {
        put(w, "%s{route=\"%s\",class=\"%s\"} %" PRIu64, family, route,
            class_name(cls), s->classes[cls]);
        line(w);
    }
}

static void f_picks(struct writer *w, const char *family, const char *route,
                    const fo_route_stats *s)
{
    put(w, "%s{route=\"%s\",kind=\"all\"} %" PRIu64, family, route, s->picks);
    line(w);
    put(w, "%s{route=\"%s\",kind=\"trial\"} %" PRIu64, family, route,
        s->trial_picks);
    line(w);
    put(w, "%s{route=\"%s\",kind=\"panic\"} %" PRIu64, family, route,
        s->panic_picks);
    line(w);
}

static void f_probes(struct writer *w, const char *family, const char *route,
                     const fo_route_stats *s)
{
    const struct {
        const char *outcome;
        uint64_t v;
    } o[] = {
        {"answered", s->probes_answered},
        {"failed", s->probes_failed},
        {"timed_out", s->probes_timed_out},
    };

    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++) {
        put(w, "%s{route=\"%s\",outcome=\"%s\"} %" PRIu64, family, route,
            o[i].outcome, o[i].v);
        line(w);
    }
}

static void f_probes_sent(struct writer *w, const char *family,
                          const char *route, const fo_route_stats *s)
{
    sample_u64(w, family, route, s->probes_sent);
}

static void f_probes_late(struct writer *w, const char *family,
                          const char *route, const fo_route_stats *s)
{
    sample_u64(w, family, route, s->probes_late);
}

static void f_ejections(struct writer *w, const char *family, const char *route,
                        const fo_route_stats *s)
{
    sample_u64(w, family, route, s->ejections);
}

static void f_transitions(struct writer *w, const char *family,
                          const char *route, const fo_route_stats *s)
{
    sample_u64(w, family, route, s->transitions);
}

static void f_time_in_state(struct writer *w, const char *family,
                            const char *route, const fo_route_stats *s)
{
    sample_ratio(w, family, route, s->time_in_state_ns, FO_SECOND_NS);
}

static void f_consecutive(struct writer *w, const char *family,
                          const char *route, const fo_route_stats *s)
{
    sample_u64(w, family, route, s->consecutive_faults);
}

static void f_window_attempts(struct writer *w, const char *family,
                              const char *route, const fo_route_stats *s)
{
    sample_u64(w, family, route, s->window_attempts);
}

static void f_window_faults(struct writer *w, const char *family,
                            const char *route, const fo_route_stats *s)
{
    sample_u64(w, family, route, s->window_faults);
}

static void f_window_ratio(struct writer *w, const char *family,
                           const char *route, const fo_route_stats *s)
{
    sample_ratio(w, family, route, s->window_faults, s->window_attempts);
}

static void f_penalty(struct writer *w, const char *family, const char *route,
                      const fo_route_stats *s)
{
    sample_u64(w, family, route, s->penalty);
}

static void f_hold_down(struct writer *w, const char *family, const char *route,
                        const fo_route_stats *s)
{
    sample_ratio(w, family, route, s->hold_down_ns, FO_SECOND_NS);
}

static void f_trial_slots(struct writer *w, const char *family,
                          const char *route, const fo_route_stats *s)
{
    sample_u64(w, family, route, s->trial_slots_in_use);
}

static void f_guarded(struct writer *w, const char *family, const char *route,
                      const fo_route_stats *s)
{
    sample_u64(w, family, route, (s->flags & FO_STATS_GUARDED) ? 1 : 0);
}

static const struct {
    const char *name;
    const char *type;
    const char *help;
    route_family_fn fn;
} route_families[] = {
    {"failover_route_state", "gauge",
     "Route state as a pick sees it: 1 for the current state.", f_state},
    {"failover_route_info", "gauge",
     "Route configuration and operator setting (value always 1).", f_info},
    {"failover_route_results_total", "counter",
     "Results reported for the route, by result.", f_results},
    {"failover_route_outcomes_total", "counter",
     "Results reported for the route, by class when reported.", f_classes},
    {"failover_route_picks_total", "counter",
     "Times the route was picked: all, trial attempts, least-bad in panic.",
     f_picks},
    {"failover_route_ejections_total", "counter",
     "Times the route was taken out by its health.", f_ejections},
    {"failover_route_transitions_total", "counter",
     "Changes of the route's state.", f_transitions},
    {"failover_route_probes_sent_total", "counter",
     "Active probes of the route started.", f_probes_sent},
    {"failover_route_probes_total", "counter",
     "Active probes of the route concluded, by outcome.", f_probes},
    {"failover_route_probes_late_total", "counter",
     "Probe completions that came after the probe's timeout.", f_probes_late},
    {"failover_route_time_in_state_seconds", "gauge",
     "Time since the route's last change of state.", f_time_in_state},
    {"failover_route_consecutive_faults", "gauge", "Route faults in a row.",
     f_consecutive},
    {"failover_route_window_attempts", "gauge",
     "Attempts in the failure-rate window.", f_window_attempts},
    {"failover_route_window_faults", "gauge",
     "Route faults in the failure-rate window.", f_window_faults},
    {"failover_route_window_failure_ratio", "gauge",
     "Route faults / attempts in the failure-rate window.", f_window_ratio},
    {"failover_route_damping_penalty", "gauge",
     "Flap-damping penalty (suppressed at or above the suppress threshold).",
     f_penalty},
    {"failover_route_hold_down_seconds", "gauge",
     "Length of the current hold-down (0 when not ejected).", f_hold_down},
    {"failover_route_trial_slots_in_use", "gauge", "Trial attempts in flight.",
     f_trial_slots},
    {"failover_route_guarded", "gauge",
     "1 if a guard keeps the failing route in service.", f_guarded},
};

/* A route as the metrics show it: its snapshot and its label. */
struct metric_route {
    fo_route_stats s;
    char label[2 * FO_ROUTE_NAME_MAX + 8];
};

static void write_metrics(const struct metric_route *m, uint32_t n,
                          const fo_router_stats *rs, struct writer *w)
{
    for (size_t f = 0; f < sizeof route_families / sizeof route_families[0];
         f++) {
        family_head(w, route_families[f].name, route_families[f].type,
                    route_families[f].help);
        for (uint32_t i = 0; i < n; i++)
            route_families[f].fn(w, route_families[f].name, m[i].label,
                                 &m[i].s);
    }

    family_head(w, "failover_routes", "gauge", "Routes by state.");
    for (int st = FO_STATE_UP; st <= FO_STATE_DRILL; st++) {
        put(w, "failover_routes{state=\"%s\"} %" PRIu32,
            fo_route_state_name((fo_route_state)st), rs->routes_in_state[st]);
        line(w);
    }
    family_head(w, "failover_picks_total", "counter",
                "Picks by outcome: an eligible route, the least-bad route "
                "(panic), no route.");
    put(w, "failover_picks_total{outcome=\"routed\"} %" PRIu64,
        rs->picks - rs->panic_picks - rs->no_route_picks);
    line(w);
    put(w, "failover_picks_total{outcome=\"panic\"} %" PRIu64, rs->panic_picks);
    line(w);
    put(w, "failover_picks_total{outcome=\"no_route\"} %" PRIu64,
        rs->no_route_picks);
    line(w);
    family_head(w, "failover_reports_total", "counter", "Results reported.");
    put(w, "failover_reports_total %" PRIu64, rs->reports);
    line(w);
    family_head(w, "failover_lists_in_panic", "gauge",
                "Lists (default and plans) where no route can be picked.");
    put(w, "failover_lists_in_panic %" PRIu32, rs->lists_in_panic);
    line(w);
    family_head(w, "failover_local_fault_suspected", "gauge",
                "1 while every route in service fails at once.");
    put(w, "failover_local_fault_suspected %d",
        (rs->flags & FO_ROUTER_STATS_LOCAL_FAULT) ? 1 : 0);
    line(w);
    family_head(w, "failover_probe_strays_total", "counter",
                "Probe completions for no probe in flight.");
    put(w, "failover_probe_strays_total %" PRIu64, rs->probe_strays);
    line(w);
    family_head(w, "failover_events_dropped_total", "counter",
                "Events lost to a full event queue.");
    put(w, "failover_events_dropped_total %" PRIu64, rs->events_dropped);
    line(w);
}

int64_t fo_router_write_metrics(fo_router *router, char *buf, size_t size)
{
    struct metric_route *m = NULL;
    fo_router_stats rs;
    struct writer w;
    uint64_t now;
    uint32_t n;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (buf == NULL && size != 0)
        return FO_EINVAL;
    /* Snapshots under the lock, one moment for all routes; the text is
     * written after it is released, so picks never wait for it. */
    now = fo__lock_now(router);
    n = router->defplan.count;
    if (n != 0) {
        m = fo__calloc(router, &router->allocator, n, sizeof *m);
        if (m == NULL) {
            fo__unlock(router);
            return FO_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        struct fo__route *rt = router->defplan.entries[i].rt;

        fo__route_lock(rt);
        fo__route_snapshot(router, rt, fo__route_now(rt, now), &m[i].s);
        fo__route_unlock(rt);
    }
    fo__router_snapshot(router, now, &rs);
    fo__unlock(router);

    for (uint32_t i = 0; i < n; i++)
        escape(m[i].label, sizeof m[i].label, m[i].s.name);
    w.buf = buf;
    w.size = size;
    w.len = 0;
    w.fit = 0;
    write_metrics(m, n, &rs, &w);
    if (m != NULL) {
        fo__lock(router); /* the allocator runs under the lock */
        fo__free(router, &router->allocator, m);
        fo__unlock(router);
    }
    if (w.len >= size && size > 0)
        buf[w.fit] = '\0'; /* complete lines only */
    return w.len > (size_t)INT64_MAX ? INT64_MAX : (int64_t)w.len;
}
