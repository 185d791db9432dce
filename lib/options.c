/*
 * Size-versioned structs: validation against the caller's size, the
 * table of historical sizes, and resolution of router options.
 *
 * The rule, after libxkbcommon: the caller's compiler supplies the size;
 * bytes an older caller does not have read as zero (= default); bytes a
 * newer caller has and this library does not know must be zero, or the
 * call fails with FO_EVERSION rather than silently ignoring a setting.
 */
#include <string.h>

#include "internal.h"

/* A struct past this size is not a struct of ours: refuse to read it. */
#define FO__STRUCT_SIZE_MAX 4096u

#define FO__END_OF(type, member)                                               \
    (offsetof(type, member) + sizeof(((type *)0)->member))

/*
 * Every published size of fo_router_options, oldest first: the end of the
 * last field of each version. Appending a field without recording its
 * version here fails the build at the _Static_assert below.
 */
#define FO__ROUTER_OPTIONS_SIZE_0_1    FO__END_OF(fo_router_options, reserved)
#define FO__ROUTER_OPTIONS_SIZE_LATEST FO__ROUTER_OPTIONS_SIZE_0_1

const size_t fo__router_options_sizes[] = {
    FO__ROUTER_OPTIONS_SIZE_0_1,
};
const size_t fo__router_options_nsizes =
    sizeof fo__router_options_sizes / sizeof *fo__router_options_sizes;

/* Also proves the struct does not end in padding, whose bytes an older
 * caller could leave undefined. */
_Static_assert(FO__ROUTER_OPTIONS_SIZE_LATEST == sizeof(fo_router_options),
               "fo_router_options changed: record the new version's size "
               "in fo__router_options_sizes[] (and fill any tail padding with "
               "an explicit reserved field)");
_Static_assert(FO__END_OF(fo_clock, userdata) == sizeof(fo_clock),
               "fo_clock must not end in padding");
_Static_assert(FO__END_OF(fo_allocator, userdata) == sizeof(fo_allocator),
               "fo_allocator must not end in padding");

int fo__struct_check(const void *p, size_t caller_size, size_t min_size,
                     size_t known_size)
{
    const unsigned char *bytes = p;

    if (p == NULL || caller_size < min_size ||
        caller_size > FO__STRUCT_SIZE_MAX)
        return FO_EINVAL;
    for (size_t i = known_size; i < caller_size; i++) {
        if (bytes[i] != 0)
            return FO_EVERSION;
    }
    return FO_OK;
}

int fo_router_options_init(fo_router_options *opts, size_t size)
{
    if (opts == NULL || size < fo__router_options_sizes[0] ||
        size > FO__STRUCT_SIZE_MAX)
        return FO_EINVAL;
    memset(opts, 0, size);
    opts->size = size;
    return FO_OK;
}

/* Resolved defaults, used when the caller passes no options at all. */
static void config_defaults(struct fo__config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_routes = FO_ROUTES_MAX;
    cfg->max_attempts = FO_DEFAULT_MAX_ATTEMPTS;
    cfg->consecutive_faults = FO_DEFAULT_CONSECUTIVE_FAULTS;
    cfg->hold_down_multiplier_pct = FO_DEFAULT_HOLD_DOWN_MULTIPLIER_PCT;
    cfg->hold_down_ns = FO_DEFAULT_HOLD_DOWN_NS;
    cfg->hold_down_max_ns = FO_DEFAULT_HOLD_DOWN_MAX_NS;
    cfg->hold_down_decay_ns = FO_DEFAULT_HOLD_DOWN_DECAY_NS;
    cfg->hold_down_jitter_pct = 0;
    cfg->trial_successes = FO_DEFAULT_TRIAL_SUCCESSES;
    cfg->trial_concurrency = FO_DEFAULT_TRIAL_CONCURRENCY;
    cfg->window_min_volume = FO_DEFAULT_WINDOW_MIN_VOLUME;
    cfg->trial_timeout_ns = FO_DEFAULT_TRIAL_TIMEOUT_NS;
    cfg->window_ns = FO_DEFAULT_WINDOW_NS;
    cfg->failure_rate_pct = FO_DEFAULT_FAILURE_RATE_PCT;
    cfg->slow_call_rate_pct = FO_DEFAULT_SLOW_CALL_RATE_PCT;
    cfg->slow_call_ns = 0;
    cfg->damping_penalty = FO_DEFAULT_DAMPING_PENALTY;
    cfg->damping_suppress = FO_DEFAULT_DAMPING_SUPPRESS;
    cfg->damping_reuse = FO_DEFAULT_DAMPING_REUSE;
    cfg->damping_half_life_ns = FO_DEFAULT_DAMPING_HALF_LIFE_NS;
    cfg->damping_max_suppress_ns = FO_DEFAULT_DAMPING_MAX_SUPPRESS_NS;
    cfg->retry_after_max_ns = FO_DEFAULT_RETRY_AFTER_MAX_NS;
    cfg->detectors_off = 0;
    cfg->seed = 0;
    cfg->policy = FO_POLICY_PRIORITY;
    cfg->panic = FO_PANIC_BEST_EFFORT;
    cfg->max_ejected_pct = FO_DEFAULT_MAX_EJECTED_PCT;
    cfg->guards_off = 0;
    cfg->local_fault_window_ns = FO_DEFAULT_LOCAL_FAULT_WINDOW_NS;
    cfg->slow_start_ns = 0;
    cfg->slow_start_floor_pct = FO_DEFAULT_SLOW_START_FLOOR_PCT;
}

/* Derived values and the checks that involve several fields. */
static int config_finish(struct fo__config *cfg)
{
    cfg->bucket_ns = cfg->window_ns / FO__WINDOW_BUCKETS;
    if (cfg->hold_down_max_ns < cfg->hold_down_ns)
        return FO_EINVAL;
    if (cfg->damping_reuse >= cfg->damping_suppress)
        return FO_EINVAL;
    cfg->damping_ceiling =
        fo__damp_ceiling(cfg->damping_reuse, cfg->damping_max_suppress_ns,
                         cfg->damping_half_life_ns);
    /* A ceiling at or below the suppress limit means a route could never
     * be suppressed however often it flaps: the settings contradict. */
    if (cfg->damping_ceiling <= cfg->damping_suppress)
        return FO_EINVAL;
    return FO_OK;
}

#define FO__ALL_DETECTORS                                                      \
    (FO_DETECTOR_CONSECUTIVE | FO_DETECTOR_FAILURE_RATE |                      \
     FO_DETECTOR_SLOW_CALLS | FO_DETECTOR_DAMPING | FO_DETECTOR_RETRY_AFTER)

/* Ranges of single fields; 0 always means "default" and is not checked. */
static int check_ranges(const fo_router_options *o)
{
    const uint64_t day = 24 * 3600 * FO_SECOND_NS;

    if (o->max_routes > FO_ROUTES_MAX ||
        o->max_attempts > FO_ATTEMPT_MAX_ROUTES ||
        o->consecutive_faults > FO_MAX_CONSECUTIVE_FAULTS ||
        (o->hold_down_multiplier_pct != 0 &&
         (o->hold_down_multiplier_pct < 100 ||
          o->hold_down_multiplier_pct > 1000)) ||
        o->hold_down_ns > FO_MAX_HOLD_DOWN_NS ||
        o->hold_down_max_ns > FO_MAX_HOLD_DOWN_NS ||
        o->hold_down_decay_ns > FO_MAX_HOLD_DOWN_NS ||
        o->hold_down_jitter_pct > 100 ||
        o->trial_successes > FO_MAX_CONSECUTIVE_FAULTS ||
        o->trial_concurrency > FO_MAX_TRIAL_CONCURRENCY ||
        o->window_min_volume > 1000000 || o->trial_timeout_ns > day ||
        (o->window_ns != 0 &&
         (o->window_ns < FO_SECOND_NS || o->window_ns > 3600 * FO_SECOND_NS)) ||
        o->failure_rate_pct > 100 || o->slow_call_rate_pct > 100 ||
        o->slow_call_ns > 3600 * FO_SECOND_NS || o->damping_penalty > 1000000 ||
        o->damping_suppress > 10000000 || o->damping_reuse > 10000000 ||
        (o->damping_half_life_ns != 0 &&
         (o->damping_half_life_ns < FO_SECOND_NS ||
          o->damping_half_life_ns > day)) ||
        o->damping_max_suppress_ns > FO_MAX_HOLD_DOWN_NS ||
        o->retry_after_max_ns > FO_MAX_HOLD_DOWN_NS ||
        o->max_ejected_pct > 100 ||
        o->local_fault_window_ns > 3600 * FO_SECOND_NS ||
        o->slow_start_ns > 3600 * FO_SECOND_NS || o->slow_start_floor_pct > 100)
        return FO_ERANGE;
    if (o->policy > FO_POLICY_LEAST_COST || o->panic > FO_PANIC_FAIL)
        return FO_EINVAL;
    return FO_OK;
}

/* Takes the value if it is set (non-zero). */
#define FO__TAKE(field)                                                        \
    do {                                                                       \
        if (o.field != 0)                                                      \
            cfg->field = o.field;                                              \
    } while (0)

int fo__options_resolve(const fo_router_options *opts, struct fo__config *cfg,
                        struct fo__clock *clock,
                        struct fo__allocator *allocator)
{
    fo_router_options o;
    int rc;

    config_defaults(cfg);
    clock->now_ns = NULL;
    clock->userdata = NULL;
    fo__allocator_default(allocator);
    if (opts == NULL)
        return config_finish(cfg);

    rc = fo__struct_check(
        opts, opts->size, fo__router_options_sizes[0],
        fo__router_options_sizes[fo__router_options_nsizes - 1]);
    if (rc != FO_OK)
        return rc;

    /* Copy what both sides know; the rest reads as zero (default). */
    memset(&o, 0, sizeof o);
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);

    if ((o.detectors_off & ~FO__ALL_DETECTORS) != 0 ||
        (o.guards_off & ~(FO_GUARD_EJECTION | FO_GUARD_LOCAL_FAULT)) != 0 ||
        o.reserved != 0)
        return FO_EVERSION; /* something this library does not have */
    rc = check_ranges(&o);
    if (rc != FO_OK)
        return rc;

    if (o.clock != NULL) {
        fo_clock c;

        rc = fo__struct_check(o.clock, o.clock->size,
                              FO__END_OF(fo_clock, userdata), sizeof c);
        if (rc != FO_OK)
            return rc;
        if (o.clock->now_ns == NULL)
            return FO_EINVAL;
        clock->now_ns = o.clock->now_ns;
        clock->userdata = o.clock->userdata;
    }
    if (o.allocator != NULL) {
        fo_allocator a;

        rc = fo__struct_check(o.allocator, o.allocator->size,
                              FO__END_OF(fo_allocator, userdata), sizeof a);
        if (rc != FO_OK)
            return rc;
        if (o.allocator->alloc == NULL || o.allocator->free == NULL)
            return FO_EINVAL;
        allocator->alloc = o.allocator->alloc;
        allocator->free = o.allocator->free;
        allocator->userdata = o.allocator->userdata;
    }

    FO__TAKE(max_routes);
    FO__TAKE(max_attempts);
    FO__TAKE(consecutive_faults);
    FO__TAKE(hold_down_multiplier_pct);
    FO__TAKE(hold_down_ns);
    FO__TAKE(hold_down_max_ns);
    FO__TAKE(hold_down_decay_ns);
    FO__TAKE(hold_down_jitter_pct);
    FO__TAKE(trial_successes);
    FO__TAKE(trial_concurrency);
    FO__TAKE(window_min_volume);
    FO__TAKE(trial_timeout_ns);
    FO__TAKE(window_ns);
    FO__TAKE(failure_rate_pct);
    FO__TAKE(slow_call_rate_pct);
    FO__TAKE(slow_call_ns);
    FO__TAKE(damping_half_life_ns);
    FO__TAKE(damping_max_suppress_ns);
    FO__TAKE(retry_after_max_ns);
    FO__TAKE(detectors_off);
    FO__TAKE(seed);
    FO__TAKE(policy);
    FO__TAKE(panic);
    FO__TAKE(max_ejected_pct);
    FO__TAKE(guards_off);
    FO__TAKE(local_fault_window_ns);
    FO__TAKE(slow_start_ns);
    FO__TAKE(slow_start_floor_pct);
    if (o.damping_penalty != 0)
        cfg->damping_penalty = o.damping_penalty;
    if (o.damping_suppress != 0)
        cfg->damping_suppress = o.damping_suppress;
    if (o.damping_reuse != 0)
        cfg->damping_reuse = o.damping_reuse;
    /* A longer first hold-down raises the default cap with it. */
    if (o.hold_down_ns != 0 && o.hold_down_max_ns == 0 &&
        cfg->hold_down_max_ns < cfg->hold_down_ns)
        cfg->hold_down_max_ns = cfg->hold_down_ns;
    return config_finish(cfg);
}
