/* Router lifetime. */
#include <string.h>

#include "internal.h"

/* The one piece of process-wide state: a counter that gives each router a
 * distinct tag, so an attempt used with the wrong router is detected. */
static _Atomic uint64_t fo__next_tag = 1;

int fo_router_new(fo_router **out, const fo_router_options *opts)
{
    struct fo__config cfg;
    struct fo__clock clock;
    struct fo__allocator allocator;
    fo_router *r;
    int rc;

    if (out == NULL)
        return FO_EINVAL;
    rc = fo__options_resolve(opts, &cfg, &clock, &allocator);
    if (rc != FO_OK)
        return rc;

    r = fo__alloc(NULL, &allocator, sizeof *r);
    if (r == NULL)
        return FO_ENOMEM;
    memset(r, 0, sizeof *r);
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        fo__free(NULL, &allocator, r);
        return FO_ESYS;
    }
    r->cfg = cfg;
    r->clock = clock;
    r->allocator = allocator;
    r->tag = atomic_fetch_add_explicit(&fo__next_tag, 1, memory_order_relaxed);
    atomic_init(&r->last_now_ns, 0);
    r->table.free_head = FO__NO_SLOT;
    *out = r;
    return FO_OK;
}

int fo_router_free(fo_router *router)
{
    struct fo__allocator allocator;

    if (router == NULL)
        return FO_OK;
    if (fo__cb_active(router, ~0u))
        return FO_EBUSY;
    fo__table_free(router);
    (void)pthread_mutex_destroy(&router->lock);
    allocator = router->allocator;
    fo__free(NULL, &allocator, router);
    return FO_OK;
}

/* ---- digest for tests -------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v)
{
    /* FNV-1a over the 8 bytes of v. */
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xffu;
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t fo__router_digest(fo_router *router)
{
    const struct fo__table *t = &router->table;
    uint64_t h = 14695981039346656037ull;

    fo__lock(router);
    h = mix(h, router->cfg.hold_down_ns);
    h = mix(h, router->cfg.consecutive_faults);
    h = mix(h, router->cfg.max_attempts);
    h = mix(h, router->cfg.max_routes);
    h = mix(h, t->count);
    h = mix(h, t->nslots);
    h = mix(h, t->free_head);
    h = mix(h, t->next_seq);
    for (uint32_t i = 0; i < t->nslots; i++) {
        const struct fo__route *rt = t->slots[i].route;

        h = mix(h, t->slots[i].gen);
        h = mix(h, t->slots[i].next_free);
        if (rt == NULL)
            continue;
        h = mix(h, rt->id);
        h = mix(h, rt->seq);
        h = mix(h, rt->priority);
        h = mix(h, rt->weight);
        h = mix(h, rt->cost);
        for (uint32_t k = 0; k < rt->name_len; k++)
            h = mix(h, (unsigned char)rt->name[k]);
        h = mix(h, rt->health.state);
        h = mix(h, rt->health.last_reason);
        h = mix(h, rt->health.state_since_ns);
        h = mix(h, rt->health.hold_down_until_ns);
        h = mix(h, rt->health.consecutive_faults);
        h = mix(h, rt->health.ejections);
        for (int k = 0; k <= FO__RESULT_MAX; k++)
            h = mix(h, rt->counters.results[k]);
        h = mix(h, rt->counters.picks);
    }
    fo__unlock(router);
    return h;
}
