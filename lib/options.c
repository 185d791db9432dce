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
    cfg->hold_down_ns = FO_DEFAULT_HOLD_DOWN_NS;
    cfg->consecutive_faults = FO_DEFAULT_CONSECUTIVE_FAULTS;
    cfg->max_attempts = FO_DEFAULT_MAX_ATTEMPTS;
    cfg->max_routes = FO_ROUTES_MAX;
}

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
        return FO_OK;

    rc = fo__struct_check(
        opts, opts->size, fo__router_options_sizes[0],
        fo__router_options_sizes[fo__router_options_nsizes - 1]);
    if (rc != FO_OK)
        return rc;

    /* Copy what both sides know; the rest reads as zero (default). */
    memset(&o, 0, sizeof o);
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);

    if (o.reserved != 0)
        return FO_EVERSION;
    if (o.hold_down_ns > FO_MAX_HOLD_DOWN_NS ||
        o.consecutive_faults > FO_MAX_CONSECUTIVE_FAULTS ||
        o.max_attempts > FO_ATTEMPT_MAX_ROUTES || o.max_routes > FO_ROUTES_MAX)
        return FO_ERANGE;

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

    if (o.hold_down_ns != 0)
        cfg->hold_down_ns = o.hold_down_ns;
    if (o.consecutive_faults != 0)
        cfg->consecutive_faults = o.consecutive_faults;
    if (o.max_attempts != 0)
        cfg->max_attempts = o.max_attempts;
    if (o.max_routes != 0)
        cfg->max_routes = o.max_routes;
    return FO_OK;
}
