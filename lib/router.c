/* Router lifetime. */
#include <string.h>
#include <time.h>

#include "internal.h"

/* The one piece of process-wide state: a counter that gives each router a
 * distinct tag, so an attempt used with the wrong router is detected. */
static _Atomic uint64_t fo__next_tag = 1;

/* The router's mutexes and condition variables, all or none. */
static int sync_init(fo_router *r)
{
    pthread_condattr_t attr;

    if (pthread_mutex_init(&r->lock, NULL) != 0)
        return FO_ESYS;
    if (pthread_mutex_init(&r->clock_lock, NULL) != 0)
        goto no_clock_lock;
    if (pthread_mutex_init(&r->wake_lock, NULL) != 0)
        goto no_wake_lock;
    if (pthread_mutex_init(&r->ev.lock, NULL) != 0)
        goto no_ev_lock;
    if (pthread_condattr_init(&attr) != 0)
        goto no_wake;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&r->wake, &attr) != 0) {
        (void)pthread_condattr_destroy(&attr);
        goto no_wake;
    }
    (void)pthread_condattr_destroy(&attr);
    if (pthread_cond_init(&r->ev.idle, NULL) != 0)
        goto no_idle;
    if (pthread_mutex_init(&r->guard_lock, NULL) != 0)
        goto no_guard;
    if (fo__plan_obj_init(&r->defplan) != FO_OK)
        goto no_defplan;
    return FO_OK;
no_defplan:
    (void)pthread_mutex_destroy(&r->guard_lock);
no_guard:
    (void)pthread_cond_destroy(&r->ev.idle);
no_idle:
    (void)pthread_cond_destroy(&r->wake);
no_wake:
    (void)pthread_mutex_destroy(&r->ev.lock);
no_ev_lock:
    (void)pthread_mutex_destroy(&r->wake_lock);
no_wake_lock:
    (void)pthread_mutex_destroy(&r->clock_lock);
no_clock_lock:
    (void)pthread_mutex_destroy(&r->lock);
    return FO_ESYS;
}

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
    if (sync_init(r) != FO_OK) {
        fo__free(NULL, &allocator, r);
        return FO_ESYS;
    }
    r->cfg = cfg;
    r->clock = clock;
    r->allocator = allocator;
    r->tag = atomic_fetch_add_explicit(&fo__next_tag, 1, memory_order_relaxed);
    r->id_salt = (uint32_t)(r->tag & ((1u << FO__ID_SALT_BITS) - 1));
    /* Probe tokens count from a point of this router's own, spread over
     * the 40 bits a token keeps: another router's token is not one of
     * this router's (probe.c). */
    atomic_init(&r->probe_seq, (r->tag * 0x9e3779b97f4a7c15ull) >> 24);
    atomic_init(&r->panic, cfg.panic);
    fo__table_init(&r->routes, 0, cfg.max_routes, sizeof(struct fo__route),
                   fo__route_obj_init, fo__route_obj_fini);
    fo__table_init(&r->plans, FO__ID_KIND_PLAN, 65535, sizeof(struct fo__plan),
                   fo__plan_obj_init, fo__plan_obj_fini);
    r->defplan.id = FO_PLAN_ID_NONE;
    r->defplan.policy = cfg.policy;
    for (int res = 0; res <= FO__RESULT_MAX; res++)
        atomic_init(&r->result_class[res],
                    (uint8_t)fo_result_default_class((fo_result)res));
    for (size_t i = 0; i < sizeof r->sip_override; i++)
        atomic_init(&r->sip_override[i], 0);
    /* Router time starts at the source's first reading. */
    r->clock_id = fo__default_clock_id();
    {
        uint64_t first = fo__now(r);

        atomic_init(&r->raw_last_ns, first);
        atomic_init(&r->clock_offset, 0);
        r->now_ns = first;
        r->rng = cfg.seed != 0 ? cfg.seed
                               : (first ^ (r->tag * 0x9e3779b97f4a7c15ull) ^
                                  (uint64_t)(uintptr_t)r);
    }
    if (r->rng == 0)
        r->rng = 0x9e3779b97f4a7c15ull;
    *out = r;
    return FO_OK;
}

int fo_router_free(fo_router *router)
{
    struct fo__allocator allocator;
    struct fo__cb_frame frame;

    if (router == NULL)
        return FO_OK;
    if (fo__cb_active(router, ~0u))
        return FO_EBUSY;
    (void)fo_router_stop_thread(router);
    /* From here on the router is being torn down: a callback it runs now
     * (a destroy callback) that calls back in gets FO_EBUSY. */
    fo__cb_enter(&frame, router, FO__CB_FREE);
    for (uint32_t i = 0; i < fo__table_slots(&router->routes); i++) {
        struct fo__route *rt = fo__table_at(&router->routes, i);
        struct fo__probe_reg *destroy = NULL;

        if (rt == NULL)
            continue;
        fo__lock(router); /* the allocator runs under the lock */
        fo__probe_drop(router, rt, &destroy);
        fo__unlock(router);
        fo__probe_destroy_list(router, destroy);
    }
    fo__plan_obj_fini(router, &router->defplan);
    fo__table_release(router, &router->routes);
    fo__table_release(router, &router->plans);
    fo__names_release(router, &router->route_names);
    fo__names_release(router, &router->plan_names);
    fo__events_release(router);
    (void)pthread_cond_destroy(&router->ev.idle);
    (void)pthread_cond_destroy(&router->wake);
    (void)pthread_mutex_destroy(&router->ev.lock);
    (void)pthread_mutex_destroy(&router->guard_lock);
    (void)pthread_mutex_destroy(&router->wake_lock);
    (void)pthread_mutex_destroy(&router->clock_lock);
    (void)pthread_mutex_destroy(&router->lock);
    allocator = router->allocator;
    fo__cb_leave(&frame);
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

static uint64_t mix_double(uint64_t h, double d)
{
    uint64_t bits;

    memcpy(&bits, &d, sizeof bits);
    return mix(h, bits);
}

static uint64_t mix_health(uint64_t h, const struct fo__health *hl)
{
    h = mix(h, hl->state);
    h = mix(h, hl->reason);
    h = mix(h, hl->health);
    h = mix(h, hl->hold_cause);
    h = mix(h, hl->admin);
    h = mix(h, hl->trial_epoch);
    h = mix(h, hl->consecutive_faults);
    h = mix(h, hl->trial_passes);
    h = mix(h, hl->level);
    h = mix(h, hl->ejections);
    h = mix(h, hl->transitions);
    h = mix(h, hl->state_since_ns);
    h = mix(h, hl->hold_down_until_ns);
    h = mix(h, hl->hold_down_ns);
    h = mix(h, hl->level_since_ns);
    h = mix(h, hl->drill_until_ns);
    h = mix(h, hl->next_event_ns);
    h = mix(h, hl->ramp_since_ns);
    h = mix(h, hl->guarded);
    h = mix(h, hl->guard_lapsed);
    h = mix(h, hl->lf_gen_seen);
    h = mix(h, hl->ejected_ns);
    h = mix_double(h, hl->undo_penalty);
    h = mix(h, hl->undo_at_ns);
    for (uint32_t i = 0; i < FO_MAX_TRIAL_CONCURRENCY; i++)
        h = mix(h, hl->trial_deadline_ns[i]);
    h = mix_double(h, hl->damp.penalty);
    h = mix(h, hl->damp.at_ns);
    h = mix(h, hl->damp.suppressed);
    h = mix(h, hl->window.head);
    for (int i = 0; i < FO__WINDOW_BUCKETS; i++) {
        h = mix(h, hl->window.b[i].volume);
        h = mix(h, hl->window.b[i].faults);
        h = mix(h, hl->window.b[i].timed);
        h = mix(h, hl->window.b[i].slow);
    }
    h = mix(h, hl->window.volume);
    h = mix(h, hl->window.faults);
    h = mix(h, hl->window.timed);
    h = mix(h, hl->window.slow);
    for (size_t k = 0; k < sizeof hl->text && hl->text[k] != '\0'; k++)
        h = mix(h, (unsigned char)hl->text[k]);
    return h;
}

static uint64_t mix_plan(uint64_t h, const struct fo__plan *p)
{
    h = mix(h, p->id);
    h = mix(h, p->policy);
    h = mix(h, p->count);
    h = mix(h, p->next_seq);
    h = mix(h, p->panic);
    h = mix(h, p->panic_picks);
    h = mix(h, p->picks);
    h = mix(h, atomic_load(&((struct fo__plan *)(uintptr_t)p)->solo_picks));
    h = mix(h, p->panic_total);
    h = mix(h, p->failed_picks);
    h = mix(h, atomic_load(&((struct fo__plan *)(uintptr_t)p)->g_count));
    h = mix(h, atomic_load(&((struct fo__plan *)(uintptr_t)p)->g_enabled));
    h = mix(h, atomic_load(&((struct fo__plan *)(uintptr_t)p)->g_ejected));
    for (uint32_t i = 0; i < p->count; i++) {
        const struct fo__entry *e = &p->entries[i];

        h = mix(h, e->rt->id);
        h = mix(h, e->priority);
        h = mix(h, e->weight);
        h = mix(h, e->cost);
        h = mix(h, e->credit);
        h = mix(h, e->seq);
        h = mix(h, (uint64_t)e->swrr);
    }
    for (uint32_t k = 0; k < p->name.len; k++)
        h = mix(h, (unsigned char)p->name.text[k]);
    return h;
}

uint64_t fo__router_digest(fo_router *router)
{
    const struct fo__table *t = &router->routes;
    uint64_t h = 14695981039346656037ull;
    uint32_t nr, np;

    /* The router's lock keeps routes and plans where they are; each list
     * and route is read under its own lock, one at a time (a digest is
     * taken of a router at rest: tests compare one before and after). */
    fo__lock(router);
    nr = fo__table_slots(t);
    np = fo__table_slots(&router->plans);
    h = mix(h, router->cfg.hold_down_ns);
    h = mix(h, router->cfg.consecutive_faults);
    h = mix(h, router->cfg.max_attempts);
    h = mix(h, router->cfg.max_routes);
    h = mix(h, router->rng);
    h = mix(h, atomic_load(&router->panic));
    h = mix(h, atomic_load(&router->local_fault_seen_ns));
    h = mix(h, router->gone_picks);
    h = mix(h, router->gone_panic_picks);
    h = mix(h, router->gone_failed_picks);
    h = mix(h, router->gone_reports);
    h = mix(h, atomic_load(&router->probe_seq));
    h = mix(h, atomic_load(&router->probe_strays));
    h = mix(h, atomic_load(&router->local_fault_open));
    h = mix(h, atomic_load(&router->lf_gen));
    h = mix(h, atomic_load(&router->lf_from_ns));
    h = mix(h, atomic_load(&router->lf_until_ns));
    /* Events: a rejected call queues none and changes no callback. */
    (void)pthread_mutex_lock(&router->ev.lock);
    h = mix(h, router->ev.seq);
    h = mix(h, router->ev.dropped);
    h = mix(h, atomic_load(&router->ev.gen));
    h = mix(h, router->ev.log_level);
    (void)pthread_mutex_unlock(&router->ev.lock);
    for (int i = 0; i <= FO__RESULT_MAX; i++)
        h = mix(h, atomic_load(&router->result_class[i]));
    for (size_t i = 0; i < sizeof router->sip_override; i++)
        h = mix(h, atomic_load(&router->sip_override[i]));
    h = mix(h, t->count);
    h = mix(h, nr);
    h = mix(h, t->free_head);
    h = mix(h, router->route_seq);
    fo__plan_lock(&router->defplan);
    h = mix_plan(h, &router->defplan);
    fo__plan_unlock(&router->defplan);
    for (uint32_t i = 0; i < np; i++) {
        struct fo__plan *p = fo__table_at(&router->plans, i);

        h = mix(h, fo__table_live(&router->plans, i));
        if (p != NULL && fo__table_live(&router->plans, i)) {
            fo__plan_lock(p);
            h = mix_plan(h, p);
            fo__plan_unlock(p);
        }
    }
    for (uint32_t i = 0; i < nr; i++) {
        struct fo__route *rt = fo__table_at(t, i);

        h = mix(h, fo__table_live(t, i));
        if (rt == NULL || !fo__table_live(t, i))
            continue;
        fo__route_lock(rt);
        h = mix(h, rt->id);
        h = mix(h, rt->seq);
        h = mix(h, rt->priority);
        h = mix(h, rt->weight);
        h = mix(h, rt->cost);
        h = mix(h, rt->plan_refs);
        h = mix(h, rt->gstat);
        h = mix(h, rt->last_fault_ns);
        h = mix(h, rt->last_ok_ns);
        h = mix(h, rt->rng);
        for (int k = 0; k < FO__RESULT_MAX; k++)
            h = mix(h, rt->counters.results[k]);
        for (int k = 0; k < FO_CLASS_ROUTE_FAULT; k++)
            h = mix(h, rt->counters.classes[k]);
        h = mix(h, atomic_load(&rt->picks));
        h = mix(h, rt->counters.trial_picks);
        h = mix(h, rt->counters.panic_picks);
        h = mix(h, rt->counters.stale);
        for (uint32_t k = 0; k < rt->name.len; k++)
            h = mix(h, (unsigned char)rt->name.text[k]);
        h = mix_health(h, &rt->health);
        if (rt->probe != NULL) {
            const struct fo__probe *p = rt->probe;

            h = mix(h, (uint64_t)(uintptr_t)p->reg->cb);
            h = mix(h, (uint64_t)(uintptr_t)p->reg->userdata);
            h = mix(h, p->interval_ns);
            h = mix(h, p->timeout_ns);
            h = mix(h, p->down_interval_ns);
            h = mix(h, p->rise);
            h = mix(h, p->fall);
            h = mix(h, p->jitter_pct);
            h = mix(h, p->evidence);
            h = mix(h, p->ok_run);
            h = mix(h, p->fail_run);
            h = mix(h, p->jitter_pm);
            h = mix(h, p->token);
            h = mix(h, p->started_ns);
            h = mix(h, p->deadline_ns);
            h = mix(h, p->first_due_ns);
        }
        if (rt->probes != NULL) {
            h = mix(h, rt->probes->sent);
            h = mix(h, rt->probes->answered);
            h = mix(h, rt->probes->failed);
            h = mix(h, rt->probes->timed_out);
            h = mix(h, rt->probes->late);
            h = mix(h, rt->probes->timed_out_token);
        }
        fo__route_unlock(rt);
    }
    fo__unlock(router);
    return h;
}

int fo_router_set_panic(fo_router *router, fo_panic panic)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (panic != FO_PANIC_BEST_EFFORT && panic != FO_PANIC_FAIL)
        return FO_EINVAL;
    fo__lock(router);
    router->panic = (uint32_t)panic;
    fo__unlock(router);
    return FO_OK;
}
