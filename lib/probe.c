/*
 * Probes and the ticker.
 *
 * Scheduling: a route's next probe starts one interval (the down interval
 * while the route is not UP) after the previous one started, plus that
 * wait's jitter, and never while one is in flight; the first starts within
 * the jitter of fo_set_probe(). A probe not done by its timeout has failed.
 *
 * Tokens: (router probe sequence << 24) | route slot index, with the low 40
 * bits of the sequence. The sequence only grows, from a starting point of
 * the router's own (so another router's tokens are not this one's), and a
 * token's 40 bits are read back as the latest sequence number, not after
 * the router's, that ends in them: tokens keep working past 2^40 probes,
 * and are reused only 2^40 probes later. Comparing a token's sequence with
 * the one the route was added at tells a late completion (EALREADY) from
 * one for a route that is gone (ENOENT).
 *
 * Callbacks: fo_router_tick() starts due probes under the lock, then calls
 * their callbacks after unlocking. Each running callback holds a reference
 * on its registration, so replacing or removing the probe meanwhile frees
 * nothing it uses; the destroy callback runs when the last reference goes,
 * always outside the lock.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define FO__TOKEN_INDEX_BITS 24
#define FO__TOKEN_INDEX(t)                                                     \
    ((uint32_t)((t) & ((1u << FO__TOKEN_INDEX_BITS) - 1)))
#define FO__TOKEN_SEQ(t)   ((t) >> FO__TOKEN_INDEX_BITS)
#define FO__TOKEN_SEQ_MASK ((1ull << (64 - FO__TOKEN_INDEX_BITS)) - 1)
#define FO__TICK_BATCH     32

#define FO__END_OF(type, member)                                               \
    (offsetof(type, member) + sizeof(((type *)0)->member))
#define FO__PROBE_OPTIONS_SIZE_0_1 FO__END_OF(fo_probe_options, reserved)
_Static_assert(FO__PROBE_OPTIONS_SIZE_0_1 == sizeof(fo_probe_options),
               "fo_probe_options changed: record the new version's size and "
               "keep it free of tail padding");

int fo_probe_options_init(fo_probe_options *opts, size_t size)
{
    if (opts == NULL || size < FO__PROBE_OPTIONS_SIZE_0_1 || size > 4096)
        return FO_EINVAL;
    memset(opts, 0, size);
    opts->size = size;
    return FO_OK;
}

/* Validates opts (NULL: defaults) into p; fills the destroy callback. */
static int resolve(const fo_probe_options *opts, struct fo__probe *p,
                   fo_destroy_cb *destroy)
{
    const uint64_t day = 24 * 3600 * FO_SECOND_NS;
    fo_probe_options o;
    int rc;

    memset(&o, 0, sizeof o);
    if (opts != NULL) {
        rc = fo__struct_check(opts, opts->size, FO__PROBE_OPTIONS_SIZE_0_1,
                              sizeof o);
        if (rc != FO_OK)
            return rc;
        memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    }
    if ((o.flags & ~FO_PROBE_NO_JITTER) != 0 || o.reserved != 0)
        return FO_EVERSION;
    if (o.evidence != FO_PROBE_WEAK && o.evidence != FO_PROBE_STRONG)
        return FO_EINVAL;
    if ((o.interval_ns != 0 && o.interval_ns < 10 * FO_MILLISECOND_NS) ||
        o.interval_ns > day ||
        (o.down_interval_ns != 0 &&
         o.down_interval_ns < 10 * FO_MILLISECOND_NS) ||
        o.down_interval_ns > day || o.timeout_ns > 3600 * FO_SECOND_NS ||
        o.rise > FO_MAX_CONSECUTIVE_FAULTS ||
        o.fall > FO_MAX_CONSECUTIVE_FAULTS || o.jitter_pct > 100)
        return FO_ERANGE;
    p->interval_ns =
        o.interval_ns ? o.interval_ns : FO_DEFAULT_PROBE_INTERVAL_NS;
    p->timeout_ns = o.timeout_ns ? o.timeout_ns : FO_DEFAULT_PROBE_TIMEOUT_NS;
    p->down_interval_ns =
        o.down_interval_ns
            ? o.down_interval_ns
            : (o.interval_ns ? o.interval_ns / 2
                             : FO_DEFAULT_PROBE_DOWN_INTERVAL_NS);
    if (p->down_interval_ns < 10 * FO_MILLISECOND_NS)
        p->down_interval_ns = 10 * FO_MILLISECOND_NS;
    p->rise = o.rise ? o.rise : FO_DEFAULT_PROBE_RISE;
    p->fall = o.fall ? o.fall : FO_DEFAULT_PROBE_FALL;
    p->jitter_pct =
        (o.flags & FO_PROBE_NO_JITTER)
            ? 0
            : (o.jitter_pct ? o.jitter_pct : FO_DEFAULT_PROBE_JITTER_PCT);
    p->evidence = o.evidence;
    *destroy = o.destroy;
    return FO_OK;
}

/* Draws the jitter of the next wait, in thousandths of it (the route's
 * lock held). */
static void draw_jitter(struct fo__route *rt, struct fo__probe *p)
{
    p->jitter_pm =
        p->jitter_pct == 0
            ? 0
            : (uint32_t)(fo__random(&rt->rng) % (p->jitter_pct * 10 + 1));
}

uint64_t fo__probe_due(const struct fo__route *rt)
{
    const struct fo__probe *p = rt->probe;
    uint64_t wait;

    if (p == NULL || p->reg == NULL)
        return UINT64_MAX;
    if (p->token != 0)
        return p->deadline_ns;
    if (p->started_ns == 0)
        return p->first_due_ns;
    wait =
        rt->health.state == FO_STATE_UP ? p->interval_ns : p->down_interval_ns;
    wait += wait / 1000 * p->jitter_pm;
    return fo__add_sat(p->started_ns, wait);
}

/* Drops one reference; the last one puts the registration on *destroy. */
static void unref(struct fo__probe_reg *reg, struct fo__probe_reg **destroy)
{
    if (--reg->refs == 0) {
        reg->next = *destroy;
        *destroy = reg;
    }
}

void fo__probe_drop(fo_router *r, struct fo__route *rt,
                    struct fo__probe_reg **destroy)
{
    struct fo__probe *p = rt->probe;

    if (p == NULL)
        return;
    if (p->reg != NULL)
        unref(p->reg, destroy);
    rt->probe = NULL;
    fo__free(r, &r->allocator, p);
}

void fo__probe_destroy_list(fo_router *r, struct fo__probe_reg *list)
{
    struct fo__cb_frame frame;

    if (list == NULL)
        return;
    /* A destroy callback is one of the router's callbacks: it may call in
     * as a probe callback may, but not free the router under our feet
     * (nor tick it, nor stop its thread): FO_EBUSY. */
    fo__cb_enter(&frame, r, FO__CB_PROBE);
    for (struct fo__probe_reg *p = list; p != NULL; p = p->next)
        if (p->destroy != NULL)
            p->destroy(p->userdata);
    fo__cb_leave(&frame);
    /* The allocator runs under the lock, as documented. */
    fo__lock(r);
    while (list != NULL) {
        struct fo__probe_reg *next = list->next;

        fo__free(r, &r->allocator, list);
        list = next;
    }
    fo__unlock(r);
}

void fo__wake(fo_router *r)
{
    (void)pthread_mutex_lock(&r->wake_lock);
    r->wake_gen++;
    if (r->thread_running)
        (void)pthread_cond_broadcast(&r->wake);
    (void)pthread_mutex_unlock(&r->wake_lock);
}

int fo_set_probe(fo_router *router, fo_route_id route, fo_probe_cb cb,
                 void *userdata, const fo_probe_options *opts)
{
    struct fo__probe_reg *destroy = NULL, *reg = NULL;
    struct fo__probe *p = NULL, conf;
    struct fo__route *rt;
    fo_destroy_cb on_destroy = NULL;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    memset(&conf, 0, sizeof conf);
    rc = resolve(opts, &conf, &on_destroy);
    if (rc != FO_OK)
        return rc;

    now = fo__lock_now(router);
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
        goto out;
    }
    if (cb != NULL) {
        struct fo__probe_counts *counts = NULL;

        p = fo__alloc(router, &router->allocator, sizeof *p);
        reg = fo__alloc(router, &router->allocator, sizeof *reg);
        if (rt->probes == NULL)
            counts = fo__calloc(router, &router->allocator, 1, sizeof *counts);
        if (p == NULL || reg == NULL ||
            (rt->probes == NULL && counts == NULL)) {
            fo__free(router, &router->allocator, p);
            fo__free(router, &router->allocator, reg);
            fo__free(router, &router->allocator, counts);
            rc = FO_ENOMEM;
            goto out;
        }
        if (counts != NULL) {
            counts->seq0 = atomic_load(&router->probe_seq);
            fo__route_lock(rt);
            rt->probes = counts; /* from now on, for good */
            fo__route_unlock(rt);
        }
        *p = conf;
        reg->cb = cb;
        reg->userdata = userdata;
        reg->destroy = on_destroy;
        reg->refs = 1;
        reg->next = NULL;
        p->reg = reg;
    }
    fo__route_lock(rt);
    if (p != NULL) {
        draw_jitter(rt, p);
        /* The first probe starts within the jitter of now. */
        p->first_due_ns =
            fo__add_sat(now, p->interval_ns / 1000 * p->jitter_pm);
        draw_jitter(rt, p);
    }
    fo__probe_drop(router, rt, &destroy); /* a probe in flight goes stale */
    rt->probe = p;
    fo__route_unlock(rt);
    fo__wake(router);
out:
    fo__unlock(router);
    fo__probe_destroy_list(router, destroy);
    return rc;
}

/* A probe's outcome is in: answered, failed, or (expired) not done by its
 * timeout. Lock held. */
static void conclude(fo_router *r, struct fo__route *rt, fo_result result,
                     bool expired, uint64_t now)
{
    struct fo__probe *p = rt->probe;
    fo_result_class cls = fo_result_default_class(result);

    p->token = 0;
    draw_jitter(rt, p);
    if (cls == FO_CLASS_NEUTRAL)
        return; /* abandoned: says nothing */
    if (expired)
        rt->probes->timed_out++;
    else if (cls == FO_CLASS_ROUTE_FAULT)
        rt->probes->failed++;
    else
        rt->probes->answered++;
    fo__health_probe(rt, r, cls != FO_CLASS_ROUTE_FAULT, result, now);
}

/* A new token for a probe of slot index (router lock held). */
static fo_probe_token new_token(fo_router *r, uint32_t index)
{
    uint64_t seq = atomic_fetch_add(&r->probe_seq, 1) + 1;

    /* Its 40 bits all 0 would make token 0 (no probe) for slot 0. */
    if ((seq & FO__TOKEN_SEQ_MASK) == 0)
        seq = atomic_fetch_add(&r->probe_seq, 1) + 1;
    return (seq << FO__TOKEN_INDEX_BITS) | index;
}

/* The sequence number a token was issued with: the latest one, not after
 * the router's, that ends in its 40 bits; 0 if there is none. */
static uint64_t token_seq(fo_router *r, fo_probe_token token)
{
    uint64_t cur = atomic_load(&r->probe_seq);
    uint64_t back = (cur - FO__TOKEN_SEQ(token)) & FO__TOKEN_SEQ_MASK;

    return token != 0 && back < cur ? cur - back : 0;
}

int fo_probe_done(fo_router *router, fo_probe_token token, fo_result result)
{
    struct fo__route *rt = NULL;
    uint32_t index = FO__TOKEN_INDEX(token);
    uint64_t now, seq;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (!fo__result_valid((int)result))
        return FO_EINVAL;
    now = fo__time(router);
    seq = token_seq(router, token);
    if (seq != 0 && index < fo__table_slots(&router->routes))
        rt = fo__table_at(&router->routes, index);
    if (rt != NULL) {
        fo__route_lock(rt);
        if (rt->id == FO_ROUTE_ID_NONE || rt->probes == NULL ||
            seq <= rt->probes->seq0) {
            /* Issued to a route that was removed since. */
            fo__route_unlock(rt);
            rt = NULL;
        }
    }
    if (rt == NULL) {
        atomic_fetch_add_explicit(&router->probe_strays, 1,
                                  memory_order_relaxed);
        return FO_ENOENT;
    }
    now = fo__route_now(rt, now);
    if (rt->probe == NULL || rt->probe->token != token) {
        /* Concluded already: late if it was by its timeout (counted once),
         * else a second completion or one of a replaced registration's. */
        if (rt->probes != NULL && token == rt->probes->timed_out_token) {
            rt->probes->late++;
            rt->probes->timed_out_token = 0;
        } else {
            atomic_fetch_add_explicit(&router->probe_strays, 1,
                                      memory_order_relaxed);
        }
        rc = FO_EALREADY;
    } else {
        conclude(router, rt, result, false, now);
        fo__wake(router);
    }
    fo__route_unlock(rt);
    fo__flush(router);
    return rc;
}

uint64_t fo__next_deadline_locked(fo_router *r)
{
    uint64_t t = UINT64_MAX;
    uint32_t n = fo__table_slots(&r->routes);

    if (atomic_load(&r->local_fault_open)) /* its end is announced on time */
        t = fo__add_sat(fo__add_sat(atomic_load(&r->local_fault_seen_ns),
                                    r->cfg.local_fault_window_ns),
                        1);

    for (uint32_t i = 0; i < n; i++) {
        struct fo__route *rt = fo__table_at(&r->routes, i);
        uint64_t due;

        if (rt == NULL || !fo__table_live(&r->routes, i))
            continue;
        fo__route_lock(rt);
        due = fo__probe_due(rt);
        if (rt->health.next_event_ns < due)
            due = rt->health.next_event_ns;
        fo__route_unlock(rt);
        if (due < t)
            t = due;
    }
    return t;
}

int fo_router_next_deadline(fo_router *router, uint64_t *out)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    fo__lock(router);
    *out = fo__next_deadline_locked(router);
    fo__unlock(router);
    return FO_OK;
}

int fo_router_next_timeout_ms(fo_router *router, int *out)
{
    uint64_t now, due;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    now = fo__lock_now(router);
    due = fo__next_deadline_locked(router);
    fo__unlock(router);
    if (due == UINT64_MAX) {
        *out = -1;
    } else if (due <= now) {
        *out = 0;
    } else {
        uint64_t ms = (due - now + FO_MILLISECOND_NS - 1) / FO_MILLISECOND_NS;

        *out = ms > INT32_MAX ? INT32_MAX : (int)ms;
    }
    return FO_OK;
}

struct launch {
    struct fo__route *rt;
    struct fo__probe_reg *reg;
    fo_route_id route;
    fo_probe_token token;
};

/*
 * One pass over the routes (lock held): applies time-driven changes, fails
 * probes past their timeout, and starts up to FO__TICK_BATCH due probes
 * into batch. Returns how many; *more if some are still due.
 */
static uint32_t tick_pass(fo_router *r, uint64_t now, struct launch *batch,
                          bool *more)
{
    uint32_t n = 0, slots = fo__table_slots(&r->routes);

    *more = false;
    fo__local_fault_lapse(r, now);
    for (uint32_t i = 0; i < slots; i++) {
        struct fo__route *rt = fo__table_at(&r->routes, i);
        struct fo__probe *p;
        uint64_t t;

        if (rt == NULL || !fo__table_live(&r->routes, i))
            continue;
        fo__route_lock(rt);
        t = fo__route_now(rt, now);
        fo__health_refresh(&rt->health, r, t);
        p = rt->probe;
        if (p == NULL || p->reg == NULL)
            goto next;
        if (p->token != 0 && t >= p->deadline_ns) {
            rt->probes->timed_out_token = p->token;
            conclude(r, rt, FO_RESULT_TIMEOUT, true, t);
        }
        if (p->token != 0 || t < fo__probe_due(rt))
            goto next;
        if (n == FO__TICK_BATCH) {
            *more = true;
            goto next;
        }
        p->token = new_token(r, i);
        p->started_ns = t != 0 ? t : 1;
        p->deadline_ns = fo__add_sat(t, p->timeout_ns);
        rt->probes->sent++;
        p->reg->refs++;
        batch[n].rt = rt;
        batch[n].reg = p->reg;
        batch[n].route = rt->id;
        batch[n].token = p->token;
        n++;
    next:
        fo__route_unlock(rt);
    }
    return n;
}

int fo_router_tick(fo_router *router)
{
    struct launch batch[FO__TICK_BATCH];
    struct fo__probe_reg *destroy = NULL;
    struct fo__cb_frame frame;
    uint64_t now;
    bool more;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (fo__cb_active(router, FO__CB_PROBE | FO__CB_EVENT))
        return FO_EBUSY;
    now = fo__lock_now(router);
    if (router->ticking) {
        fo__unlock(router);
        return FO_EBUSY;
    }
    router->ticking = true;
    do {
        uint32_t n = tick_pass(router, now, batch, &more);

        fo__unlock(router);
        for (uint32_t i = 0; i < n; i++) {
            fo__cb_enter(&frame, router, FO__CB_PROBE);
            batch[i].reg->cb(router, batch[i].route, batch[i].token,
                             batch[i].reg->userdata);
            fo__cb_leave(&frame);
        }
        fo__lock(router);
        for (uint32_t i = 0; i < n; i++) {
            fo__route_lock(batch[i].rt);
            unref(batch[i].reg, &destroy);
            fo__route_unlock(batch[i].rt);
        }
    } while (more);
    router->ticking = false;
    fo__unlock(router);
    fo__probe_destroy_list(router, destroy);
    return FO_OK;
}

/* ---- the router's own thread --------------------------------------------- */

/* With a clock of the embedder's, the thread cannot sleep on it: it looks
 * at least this often. */
#define FO__THREAD_POLL_NS (100 * FO_MILLISECOND_NS)
#define FO__THREAD_MAX_NS  (3600 * FO_SECOND_NS)

static void *thread_main(void *arg)
{
    fo_router *r = arg;

    for (;;) {
        uint64_t gen, now, due, wait;
        struct timespec ts;

        (void)pthread_mutex_lock(&r->wake_lock);
        gen = r->wake_gen;
        if (r->thread_stop) {
            (void)pthread_mutex_unlock(&r->wake_lock);
            break;
        }
        (void)pthread_mutex_unlock(&r->wake_lock);

        (void)fo_router_tick(r); /* EBUSY: someone else is ticking */
        fo__flush(r);            /* events handed over by callers */
        now = fo__lock_now(r);
        due = fo__next_deadline_locked(r);
        fo__unlock(r);

        (void)pthread_mutex_lock(&r->wake_lock);
        if (!r->thread_stop && r->wake_gen == gen && due > now) {
            wait = due - now;
            if (r->clock.now_ns != NULL && wait > FO__THREAD_POLL_NS)
                wait = FO__THREAD_POLL_NS;
            if (wait > FO__THREAD_MAX_NS)
                wait = FO__THREAD_MAX_NS;
            (void)clock_gettime(CLOCK_MONOTONIC, &ts);
            wait += (uint64_t)ts.tv_nsec;
            ts.tv_sec += (time_t)(wait / FO_SECOND_NS);
            ts.tv_nsec = (long)(wait % FO_SECOND_NS);
            while (!r->thread_stop && r->wake_gen == gen &&
                   pthread_cond_timedwait(&r->wake, &r->wake_lock, &ts) == 0)
                ; /* woken: recheck */
        }
        (void)pthread_mutex_unlock(&r->wake_lock);
    }
    return NULL;
}

int fo_router_start_thread(fo_router *router)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (fo__cb_active(router, ~0u))
        return FO_EBUSY;
    (void)pthread_mutex_lock(&router->wake_lock);
    if (router->thread_running || router->thread_joining) {
        rc = FO_EBUSY;
    } else {
        router->thread_stop = false;
        router->thread_running = true;
        if (pthread_create(&router->thread, NULL, thread_main, router) != 0) {
            router->thread_running = false;
            rc = FO_ESYS;
        } else {
            atomic_store_explicit(&router->thread_active, true,
                                  memory_order_release);
        }
    }
    (void)pthread_mutex_unlock(&router->wake_lock);
    return rc;
}

int fo_router_stop_thread(fo_router *router)
{
    pthread_t thread;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (fo__cb_active(router, ~0u))
        return FO_EBUSY;
    (void)pthread_mutex_lock(&router->wake_lock);
    if (router->thread_running &&
        pthread_equal(pthread_self(), router->thread)) {
        (void)pthread_mutex_unlock(&router->wake_lock);
        return FO_EBUSY;
    }
    if (router->thread_joining) {
        /* Another thread is stopping it: wait until it is done. */
        while (router->thread_running)
            (void)pthread_cond_wait(&router->wake, &router->wake_lock);
        (void)pthread_mutex_unlock(&router->wake_lock);
        return FO_OK;
    }
    if (!router->thread_running) {
        (void)pthread_mutex_unlock(&router->wake_lock);
        return FO_OK;
    }
    router->thread_stop = true;
    router->thread_joining = true;
    (void)pthread_cond_broadcast(&router->wake);
    thread = router->thread;
    (void)pthread_mutex_unlock(&router->wake_lock);
    (void)pthread_join(thread, NULL);
    (void)pthread_mutex_lock(&router->wake_lock);
    atomic_store_explicit(&router->thread_active, false, memory_order_release);
    router->thread_running = false;
    router->thread_stop = false;
    router->thread_joining = false;
    (void)pthread_cond_broadcast(&router->wake); /* other stoppers */
    (void)pthread_mutex_unlock(&router->wake_lock);
    /* Events handed to the thread that it had no time to deliver. */
    fo__flush(router);
    return FO_OK;
}
