/*
 * Lists of routes: the router's default list (every route, with its own
 * priority, weight and cost) and plans (some routes, with the plan's own
 * values). A list is an array of entries kept sorted by its policy's key,
 * so a pick walks it in order and never sorts:
 *   priority and weighted: (priority, seq)
 *   least cost:            (cost, priority, seq)
 * where seq is the order the route joined the list (in the default list,
 * the order routes were added to the router). Changing a policy re-sorts
 * in place (heapsort: no allocation).
 */
#include <string.h>

#include "internal.h"

static int entry_cmp(uint32_t policy, const struct fo__entry *a,
                     const struct fo__entry *b)
{
    if (policy == FO_POLICY_LEAST_COST && a->cost != b->cost)
        return a->cost < b->cost ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

bool fo__plan_same_tier(const struct fo__plan *p, const struct fo__entry *a,
                        const struct fo__entry *b)
{
    switch (p->policy) {
    case FO_POLICY_WEIGHTED:
        return true;
    case FO_POLICY_LEAST_COST:
        return a->cost == b->cost && a->priority == b->priority;
    default:
        return a->priority == b->priority;
    }
}

/* First position whose entry does not come before e. */
static uint32_t lower_bound(const struct fo__plan *p, const struct fo__entry *e)
{
    uint32_t lo = 0, hi = p->count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (entry_cmp(p->policy, &p->entries[mid], e) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int fo__plan_find(const struct fo__plan *p, const struct fo__route *rt)
{
    if (p->id == FO_PLAN_ID_NONE) {
        /* The default list's key comes from the route itself. */
        struct fo__entry probe = {
            .priority = rt->priority, .cost = rt->cost, .seq = rt->seq};
        uint32_t i = lower_bound(p, &probe);

        return i < p->count && p->entries[i].rt == rt ? (int)i : -1;
    }
    for (uint32_t i = 0; i < p->count; i++)
        if (p->entries[i].rt == rt)
            return (int)i;
    return -1;
}

static void insert_at(struct fo__plan *p, uint32_t pos,
                      const struct fo__entry *e)
{
    memmove(&p->entries[pos + 1], &p->entries[pos],
            (p->count - pos) * sizeof *p->entries);
    p->entries[pos] = *e;
    p->count++;
}

static void remove_at(struct fo__plan *p, uint32_t pos)
{
    memmove(&p->entries[pos], &p->entries[pos + 1],
            (p->count - pos - 1) * sizeof *p->entries);
    p->count--;
}

int fo__plan_reserve(fo_router *r, struct fo__plan *p, uint32_t n)
{
    struct fo__entry *entries;
    uint64_t *cand;
    uint32_t *tier_end;
    uint32_t cap;

    if (p->count + n <= p->capacity)
        return FO_OK;
    cap = p->capacity ? p->capacity * 2 : 8;
    while (cap < p->count + n)
        cap *= 2;
    entries = fo__calloc(r, &r->allocator, cap, sizeof *entries);
    cand = fo__calloc(r, &r->allocator, (cap + 63) / 64, sizeof *cand);
    tier_end = fo__calloc(r, &r->allocator, cap, sizeof *tier_end);
    if (entries == NULL || cand == NULL || tier_end == NULL) {
        fo__free(r, &r->allocator, entries);
        fo__free(r, &r->allocator, cand);
        fo__free(r, &r->allocator, tier_end);
        return FO_ENOMEM;
    }
    /* Swapped under the list's lock: picks walk the entries under it. */
    fo__plan_lock(p);
    if (p->count > 0)
        memcpy(entries, p->entries, p->count * sizeof *entries);
    {
        struct fo__entry *old_entries = p->entries;
        uint64_t *old_cand = p->cand;
        uint32_t *old_tier_end = p->tier_end;

        p->entries = entries;
        p->cand = cand;
        p->tier_end = tier_end;
        entries = old_entries;
        cand = old_cand;
        tier_end = old_tier_end;
    }
    p->capacity = cap;
    fo__plan_stale(p); /* remade at the next pick */
    fo__plan_unlock(p);
    fo__free(r, &r->allocator, entries);
    fo__free(r, &r->allocator, cand);
    fo__free(r, &r->allocator, tier_end);
    return FO_OK;
}

int fo__plan_put(fo_router *r, struct fo__plan *p, struct fo__route *rt,
                 uint32_t priority, uint32_t weight, uint32_t cost)
{
    int index = fo__plan_find(p, rt);
    struct fo__entry e;

    (void)r;
    fo__plan_stale(p); /* its bitmap and tiers are remade at the next pick */
    if (index >= 0) {
        e = p->entries[index];
        if (e.priority == priority && e.cost == cost) {
            p->entries[index].weight = weight;
            return FO_OK;
        }
        /* A new key: move the entry, keeping its place among equals
         * (seq) and its round-robin state. */
        remove_at(p, (uint32_t)index);
    } else {
        if (p->id != FO_PLAN_ID_NONE && p->count >= FO_PLAN_ROUTES_MAX)
            return FO_ELIMIT;
        if (p->count >= p->capacity)
            return FO_ENOMEM; /* the caller reserves room first */
        memset(&e, 0, sizeof e);
        e.rt = rt;
        e.id = rt->id;
        e.seq = p->id == FO_PLAN_ID_NONE ? rt->seq : p->next_seq++;
    }
    e.priority = priority;
    e.weight = weight;
    e.cost = cost;
    insert_at(p, lower_bound(p, &e), &e);
    return FO_OK;
}

bool fo__plan_drop(struct fo__plan *p, const struct fo__route *rt)
{
    int index = fo__plan_find(p, rt);

    if (index < 0)
        return false;
    remove_at(p, (uint32_t)index);
    fo__plan_stale(p);
    return true;
}

/* In-place heapsort by the policy's key. */
static void sift_down(struct fo__plan *p, uint32_t root, uint32_t n)
{
    for (;;) {
        uint32_t child = 2 * root + 1;
        struct fo__entry tmp;

        if (child >= n)
            return;
        if (child + 1 < n && entry_cmp(p->policy, &p->entries[child],
                                       &p->entries[child + 1]) < 0)
            child++;
        if (entry_cmp(p->policy, &p->entries[root], &p->entries[child]) >= 0)
            return;
        tmp = p->entries[root];
        p->entries[root] = p->entries[child];
        p->entries[child] = tmp;
        root = child;
    }
}

static void resort(struct fo__plan *p)
{
    for (uint32_t i = p->count / 2; i-- > 0;)
        sift_down(p, i, p->count);
    for (uint32_t n = p->count; n-- > 1;) {
        struct fo__entry tmp = p->entries[0];

        p->entries[0] = p->entries[n];
        p->entries[n] = tmp;
        sift_down(p, 0, n);
    }
}

void fo__plan_solo(struct fo__plan *p, struct fo__route *rt, uint64_t id,
                   uint64_t epoch, uint64_t until)
{
    uint32_t seq = atomic_load_explicit(&p->solo_seq, memory_order_relaxed);

    atomic_store_explicit(&p->solo_seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&p->solo_rt, rt, memory_order_relaxed);
    atomic_store_explicit(&p->solo_id, id, memory_order_relaxed);
    atomic_store_explicit(&p->solo_plan, p->id, memory_order_relaxed);
    atomic_store_explicit(&p->solo_epoch, epoch, memory_order_relaxed);
    atomic_store_explicit(&p->solo_until, until, memory_order_relaxed);
    atomic_store_explicit(&p->solo_seq, seq + 2, memory_order_release);
}

int fo__plan_obj_init(void *obj)
{
    struct fo__plan *p = obj;

    atomic_init(&p->g_count, 0);
    atomic_init(&p->g_enabled, 0);
    atomic_init(&p->g_ejected, 0);
    atomic_init(&p->solo_seq, 0);
    atomic_init(&p->solo_rt, NULL);
    atomic_init(&p->solo_id, 0);
    atomic_init(&p->solo_plan, 0);
    atomic_init(&p->solo_epoch, 0);
    atomic_init(&p->solo_until, 0);
    atomic_init(&p->solo_picks, 0);
    return pthread_mutex_init(&p->lock, NULL) == 0 ? FO_OK : FO_ESYS;
}

void fo__plan_obj_fini(fo_router *r, void *obj)
{
    struct fo__plan *p = obj;

    fo__free(r, &r->allocator, p->entries);
    fo__free(r, &r->allocator, p->cand);
    fo__free(r, &r->allocator, p->tier_end);
    (void)pthread_mutex_destroy(&p->lock);
}

struct fo__plan *fo__plan_get(fo_router *r, fo_plan_id id)
{
    if (id == FO_PLAN_ID_NONE)
        return &r->defplan;
    return fo__table_get(r, &r->plans, id);
}

struct fo__plan *fo__plan_acquire(fo_router *r, fo_plan_id id)
{
    struct fo__plan *p;

    if (id == FO_PLAN_ID_NONE) {
        fo__plan_lock(&r->defplan);
        return &r->defplan;
    }
    p = fo__table_find(r, &r->plans, id);
    if (p == NULL)
        return NULL;
    fo__plan_lock(p);
    if (p->id != id) {
        /* Freed, or its slot holds another plan now. */
        fo__plan_unlock(p);
        return NULL;
    }
    return p;
}

/* Makes room in rt's list of plans. Router lock held. */
static int lists_reserve(fo_router *r, struct fo__route *rt)
{
    struct fo__plan **lists;
    uint32_t cap;

    if (rt->plan_refs < rt->lists_cap)
        return FO_OK;
    cap = rt->lists_cap ? rt->lists_cap * 2 : 4;
    lists = fo__calloc(r, &r->allocator, cap, sizeof *lists);
    if (lists == NULL)
        return FO_ENOMEM;
    if (rt->plan_refs > 0)
        memcpy(lists, rt->lists, rt->plan_refs * sizeof *lists);
    /* Swapped under the route's lock: guards read it under that lock. */
    fo__route_lock(rt);
    fo__free(r, &r->allocator, rt->lists);
    rt->lists = lists;
    rt->lists_cap = cap;
    fo__route_unlock(rt);
    return FO_OK;
}

/* rt joins or leaves plan p's membership (both locks held). */
static void join(struct fo__plan *p, struct fo__route *rt)
{
    rt->lists[rt->plan_refs++] = p;
    fo__lists_join(p, rt, 1);
}

static void leave(struct fo__plan *p, struct fo__route *rt)
{
    for (uint32_t i = 0; i < rt->plan_refs; i++) {
        if (rt->lists[i] == p) {
            rt->lists[i] = rt->lists[--rt->plan_refs];
            fo__lists_join(p, rt, -1);
            return;
        }
    }
}

void fo__plans_forget_route(fo_router *r, struct fo__route *rt)
{
    struct fo__plan *def = &r->defplan;

    while (rt->plan_refs > 0) {
        struct fo__plan *p = rt->lists[rt->plan_refs - 1];

        fo__plan_lock(p);
        fo__route_lock(rt);
        fo__plan_drop(p, rt);
        leave(p, rt);
        fo__route_unlock(rt);
        fo__plan_unlock(p);
    }
    fo__plan_lock(def);
    fo__route_lock(rt);
    fo__plan_drop(def, rt);
    fo__lists_join(def, rt, -1);
    rt->gstat = 0; /* counted nowhere now */
    fo__route_unlock(rt);
    fo__plan_unlock(def);
}

static bool policy_valid(fo_policy policy)
{
    return policy == FO_POLICY_PRIORITY || policy == FO_POLICY_WEIGHTED ||
           policy == FO_POLICY_LEAST_COST;
}

/* ---- public API ---------------------------------------------------------- */

int fo_plan_new(fo_router *router, const char *name, fo_policy policy,
                fo_plan_id *out)
{
    struct fo__plan *p;
    uint64_t id;
    size_t len;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (name == NULL || out == NULL || !policy_valid(policy))
        return FO_EINVAL;
    len = fo__name_check(name);
    if (len == 0)
        return FO_EINVAL;

    fo__lock(router);
    if (fo__names_find(&router->plan_names, name, len) != NULL) {
        rc = FO_EEXIST;
        goto out;
    }
    rc = fo__table_reserve(router, &router->plans);
    if (rc == FO_OK)
        rc = fo__names_reserve(router, &router->plan_names);
    if (rc != FO_OK)
        goto out;
    p = fo__table_insert(router, &router->plans, &id);
    fo__plan_lock(p);
    /* A slot's plan is reused: what it held was freed with it. */
    fo__name_set(&p->name, name, len);
    p->policy = (uint32_t)policy;
    p->count = 0;
    p->next_seq = 0;
    fo__plan_stale(p);
    p->wake_ns = 0;
    p->panic = false;
    p->panic_picks = p->picks = p->panic_total = p->failed_picks = 0;
    p->id = id;
    fo__plan_unlock(p);
    fo__names_link(&router->plan_names, &p->name);
    *out = id;
out:
    fo__unlock(router);
    return rc;
}

int fo_plan_free(fo_router *router, fo_plan_id plan)
{
    struct fo__plan *p;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    fo__lock(router);
    p = plan == FO_PLAN_ID_NONE ? NULL
                                : fo__table_get(router, &router->plans, plan);
    if (p == NULL) {
        rc = FO_ENOENT;
    } else {
        fo__plan_lock(p);
        for (uint32_t i = 0; i < p->count; i++) {
            struct fo__route *rt = p->entries[i].rt;

            fo__route_lock(rt);
            leave(p, rt);
            fo__route_unlock(rt);
        }
        p->count = 0;
        fo__plan_stale(p); /* no pick without the lock takes it either */
        router->gone_picks += p->picks;
        router->gone_panic_picks += p->panic_total;
        router->gone_failed_picks += p->failed_picks;
        p->id = FO_PLAN_ID_NONE; /* picks that find it now see it gone */
        fo__plan_unlock(p);
        fo__names_unlink(&router->plan_names, &p->name);
        fo__table_remove(&router->plans, plan);
    }
    fo__unlock(router);
    return rc;
}

int fo_plan_lookup(fo_router *router, const char *name, fo_plan_id *out)
{
    struct fo__name *n;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (name == NULL || out == NULL)
        return FO_EINVAL;
    fo__lock(router);
    n = fo__names_find(&router->plan_names, name, fo__name_len(name));
    if (n == NULL)
        rc = FO_ENOENT;
    else
        *out = ((struct fo__plan *)(void *)((char *)n -
                                            offsetof(struct fo__plan, name)))
                   ->id;
    fo__unlock(router);
    return rc;
}

int fo_plan_set_route(fo_router *router, fo_plan_id plan, fo_route_id route,
                      uint32_t priority, uint32_t weight, uint32_t cost)
{
    struct fo__plan *p;
    struct fo__route *rt;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    fo__lock(router);
    p = plan == FO_PLAN_ID_NONE ? NULL
                                : fo__table_get(router, &router->plans, plan);
    rt = fo__route_get(router, route);
    if (p == NULL || rt == NULL) {
        rc = FO_ENOENT;
    } else if (weight > FO_WEIGHT_MAX) {
        rc = FO_ERANGE;
    } else {
        bool added = fo__plan_find(p, rt) < 0;

        /* Room first: a failure changes nothing. */
        if (added && p->count >= FO_PLAN_ROUTES_MAX)
            rc = FO_ELIMIT;
        if (rc == FO_OK && added)
            rc = fo__plan_reserve(router, p, 1);
        if (rc == FO_OK && added)
            rc = lists_reserve(router, rt);
        if (rc == FO_OK) {
            fo__plan_lock(p);
            fo__route_lock(rt);
            (void)fo__plan_put(router, p, rt, priority, weight, cost);
            if (added)
                join(p, rt);
            fo__route_unlock(rt);
            fo__plan_unlock(p);
        }
    }
    fo__unlock(router);
    return rc;
}

int fo_plan_unset_route(fo_router *router, fo_plan_id plan, fo_route_id route)
{
    struct fo__plan *p;
    struct fo__route *rt;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    fo__lock(router);
    p = plan == FO_PLAN_ID_NONE ? NULL
                                : fo__table_get(router, &router->plans, plan);
    rt = fo__route_get(router, route);
    if (p == NULL || rt == NULL || fo__plan_find(p, rt) < 0) {
        rc = FO_ENOENT;
    } else {
        fo__plan_lock(p);
        fo__route_lock(rt);
        fo__plan_drop(p, rt);
        leave(p, rt);
        fo__route_unlock(rt);
        fo__plan_unlock(p);
    }
    fo__unlock(router);
    return rc;
}

int fo_plan_set_policy(fo_router *router, fo_plan_id plan, fo_policy policy)
{
    struct fo__plan *p;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (!policy_valid(policy))
        return FO_EINVAL;
    fo__lock(router);
    p = fo__plan_get(router, plan);
    if (p == NULL) {
        rc = FO_ENOENT;
    } else {
        fo__plan_lock(p);
        if (p->policy != (uint32_t)policy) {
            p->policy = (uint32_t)policy;
            resort(p);
            fo__plan_stale(p);
        }
        fo__plan_unlock(p);
    }
    fo__unlock(router);
    return rc;
}

const char *fo_policy_name(fo_policy policy)
{
    switch (policy) {
    case FO_POLICY_PRIORITY:
        return "PRIORITY";
    case FO_POLICY_WEIGHTED:
        return "WEIGHTED";
    case FO_POLICY_LEAST_COST:
        return "LEAST_COST";
    default:
        return "UNKNOWN";
    }
}
