/*
 * The route table: slots with generation-tagged ids, a name index and the
 * selection order. All functions here run with the router lock held,
 * except the public entry points, which take it.
 */
#include <string.h>

#include "internal.h"

/* FNV-1a: small, good enough for short names, no allocation. */
static uint32_t name_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    return h;
}

/* Length of a valid name, or 0 if the name is not acceptable. */
static size_t name_check(const char *name)
{
    size_t len = strnlen(name, FO_ROUTE_NAME_MAX + 1);

    if (len == 0 || len > FO_ROUTE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return len;
}

static struct fo__route *name_find(const struct fo__table *t, const char *name,
                                   size_t len, uint32_t hash)
{
    if (t->nbuckets == 0)
        return NULL;
    for (struct fo__route *rt = t->buckets[hash & (t->nbuckets - 1)];
         rt != NULL; rt = rt->name_next) {
        if (rt->name_hash == hash && rt->name_len == len &&
            memcmp(rt->name, name, len) == 0)
            return rt;
    }
    return NULL;
}

static void name_link(struct fo__table *t, struct fo__route *rt)
{
    struct fo__route **head = &t->buckets[rt->name_hash & (t->nbuckets - 1)];

    rt->name_next = *head;
    *head = rt;
}

static void name_unlink(struct fo__table *t, struct fo__route *rt)
{
    struct fo__route **p = &t->buckets[rt->name_hash & (t->nbuckets - 1)];

    while (*p != rt)
        p = &(*p)->name_next;
    *p = rt->name_next;
    rt->name_next = NULL;
}

struct fo__route *fo__route_get(fo_router *router, fo_route_id id)
{
    const struct fo__table *t = &router->table;
    uint32_t index = FO__ID_INDEX(id);
    struct fo__route *rt;

    if (FO__ID_SALT(id) != router->id_salt || index >= t->nslots)
        return NULL;
    rt = t->slots[index].route;
    if (rt == NULL || rt->id != id)
        return NULL;
    return rt;
}

/*
 * Makes room for one more route: a slot (unless one is free), a place in
 * the selection order and a name bucket. Every allocation happens before
 * anything is changed, so a failure leaves the table as it was.
 */
static int table_reserve(fo_router *router)
{
    struct fo__table *t = &router->table;
    const struct fo__allocator *a = &router->allocator;
    uint32_t need = t->count + 1;
    struct fo__slot *slots = NULL;
    struct fo__route **order = NULL, **buckets = NULL;
    uint32_t slot_cap = t->capacity, order_cap = t->order_capacity;
    uint32_t nbuckets = t->nbuckets;

    if (t->free_head == FO__NO_SLOT && t->nslots == t->capacity) {
        slot_cap = t->capacity ? t->capacity * 2 : 8;
        if (slot_cap > FO_ROUTES_MAX)
            slot_cap = FO_ROUTES_MAX;
        if (slot_cap <= t->nslots)
            return FO_ELIMIT; /* every slot index used or retired */
        slots = fo__calloc(router, a, slot_cap, sizeof *slots);
        if (slots == NULL)
            goto nomem;
    }
    if (need > t->order_capacity) {
        order_cap = t->order_capacity ? t->order_capacity * 2 : 8;
        order = fo__calloc(router, a, order_cap, sizeof *order);
        if (order == NULL)
            goto nomem;
    }
    if (need > t->nbuckets) {
        nbuckets = t->nbuckets ? t->nbuckets * 2 : 16;
        buckets = fo__calloc(router, a, nbuckets, sizeof *buckets);
        if (buckets == NULL)
            goto nomem;
    }

    /* Commit: nothing below can fail. */
    if (slots != NULL) {
        if (t->nslots > 0)
            memcpy(slots, t->slots, t->nslots * sizeof *slots);
        fo__free(router, a, t->slots);
        t->slots = slots;
        t->capacity = slot_cap;
    }
    if (order != NULL) {
        if (t->count > 0)
            memcpy(order, t->order, t->count * sizeof *order);
        fo__free(router, a, t->order);
        t->order = order;
        t->order_capacity = order_cap;
    }
    if (buckets != NULL) {
        struct fo__route **old = t->buckets;
        uint32_t old_n = t->nbuckets;

        t->buckets = buckets;
        t->nbuckets = nbuckets;
        for (uint32_t i = 0; i < old_n; i++) {
            struct fo__route *rt = old[i];

            while (rt != NULL) {
                struct fo__route *next = rt->name_next;

                name_link(t, rt);
                rt = next;
            }
        }
        fo__free(router, a, old);
    }
    return FO_OK;

nomem:
    fo__free(router, a, slots);
    fo__free(router, a, order);
    fo__free(router, a, buckets);
    return FO_ENOMEM;
}

static bool order_before(const struct fo__route *a, const struct fo__route *b)
{
    return a->priority != b->priority ? a->priority < b->priority
                                      : a->seq < b->seq;
}

/* First position whose route does not come before rt. */
static uint32_t order_lower_bound(const struct fo__table *t,
                                  const struct fo__route *rt)
{
    uint32_t lo = 0, hi = t->count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (order_before(t->order[mid], rt))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Inserts rt in the selection order; the caller reserved the room and
 * counts it afterwards. Adding routes in priority order appends. */
static void order_insert(struct fo__table *t, struct fo__route *rt)
{
    uint32_t pos = order_lower_bound(t, rt);

    memmove(&t->order[pos + 1], &t->order[pos],
            (t->count - pos) * sizeof *t->order);
    t->order[pos] = rt;
}

/* Takes rt out of the selection order; the caller uncounts it after. */
static void order_remove(struct fo__table *t, const struct fo__route *rt)
{
    uint32_t pos = order_lower_bound(t, rt);

    /* (priority, seq) is unique, so pos is rt's place. */
    memmove(&t->order[pos], &t->order[pos + 1],
            (t->count - pos - 1) * sizeof *t->order);
}

void fo__table_free(fo_router *router)
{
    struct fo__table *t = &router->table;
    const struct fo__allocator *a = &router->allocator;

    for (uint32_t i = 0; i < t->nslots; i++)
        fo__free(router, a, t->slots[i].route);
    fo__free(router, a, t->slots);
    fo__free(router, a, t->order);
    fo__free(router, a, t->buckets);
    memset(t, 0, sizeof *t);
    t->free_head = FO__NO_SLOT;
}

int fo_route_add(fo_router *router, const char *name, uint32_t priority,
                 uint32_t weight, uint32_t cost, fo_route_id *out)
{
    struct fo__table *t;
    struct fo__route *rt;
    uint32_t index, hash;
    uint64_t now;
    size_t len;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (name == NULL || out == NULL)
        return FO_EINVAL;
    len = name_check(name);
    if (len == 0)
        return FO_EINVAL;
    if (weight > FO_WEIGHT_MAX)
        return FO_ERANGE;
    hash = name_hash(name, len);
    now = fo__lock_at(router, fo__now(router));
    t = &router->table;
    if (name_find(t, name, len, hash) != NULL) {
        rc = FO_EEXIST;
        goto out;
    }
    if (t->count >= router->cfg.max_routes) {
        rc = FO_ELIMIT;
        goto out;
    }
    /* Allocate everything before changing anything: a failure leaves the
     * router exactly as it was, holding no extra memory. */
    rt = fo__calloc(router, &router->allocator, 1, sizeof *rt);
    if (rt == NULL) {
        rc = FO_ENOMEM;
        goto out;
    }
    rc = table_reserve(router);
    if (rc != FO_OK) {
        fo__free(router, &router->allocator, rt);
        goto out;
    }

    if (t->free_head != FO__NO_SLOT) {
        index = t->free_head;
        t->free_head = t->slots[index].next_free;
    } else {
        index = t->nslots++;
        t->slots[index].gen = 1;
    }
    t->slots[index].route = rt;
    t->slots[index].next_free = FO__NO_SLOT;

    rt->id = FO__MAKE_ID(t->slots[index].gen, router->id_salt, index);
    rt->seq = t->next_seq++;
    rt->priority = priority;
    rt->weight = weight;
    rt->cost = cost;
    rt->name_hash = hash;
    rt->name_len = (uint32_t)len;
    memcpy(rt->name, name, len);
    rt->name[len] = '\0';
    fo__health_init(&rt->health, now);
    name_link(t, rt);
    order_insert(t, rt);
    t->count++;
    *out = rt->id;
out:
    fo__unlock(router);
    return rc;
}

int fo_route_update(fo_router *router, fo_route_id route, uint32_t priority,
                    uint32_t weight, uint32_t cost)
{
    struct fo__route *rt;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    fo__lock(router);
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
    } else if (weight > FO_WEIGHT_MAX) {
        rc = FO_ERANGE;
    } else {
        if (rt->priority != priority) {
            order_remove(&router->table, rt);
            router->table.count--;
            rt->priority = priority;
            order_insert(&router->table, rt);
            router->table.count++;
        }
        rt->weight = weight;
        rt->cost = cost;
    }
    fo__unlock(router);
    return rc;
}

int fo_route_remove(fo_router *router, fo_route_id route)
{
    struct fo__table *t;
    struct fo__route *rt;
    uint32_t index;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    fo__lock(router);
    t = &router->table;
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
        goto out;
    }
    index = FO__ID_INDEX(route);
    name_unlink(t, rt);
    order_remove(t, rt);
    t->slots[index].route = NULL;
    if (t->slots[index].gen >= FO__ID_GEN_MAX) {
        /* Generation exhausted: retire the slot so the id never repeats. */
        t->slots[index].next_free = FO__NO_SLOT;
    } else {
        t->slots[index].gen++;
        t->slots[index].next_free = t->free_head;
        t->free_head = index;
    }
    t->count--;
    fo__free(router, &router->allocator, rt);
out:
    fo__unlock(router);
    return rc;
}

int fo_route_lookup(fo_router *router, const char *name, fo_route_id *out)
{
    struct fo__route *rt;
    size_t len;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (name == NULL || out == NULL)
        return FO_EINVAL;
    len = strnlen(name, FO_ROUTE_NAME_MAX + 1);
    if (len == 0 || len > FO_ROUTE_NAME_MAX)
        return FO_ENOENT; /* no route can have such a name */
    fo__lock(router);
    rt = name_find(&router->table, name, len, name_hash(name, len));
    if (rt == NULL)
        rc = FO_ENOENT;
    else
        *out = rt->id;
    fo__unlock(router);
    return rc;
}

int fo_route_get_name(fo_router *router, fo_route_id route, char *buf,
                      size_t size)
{
    struct fo__route *rt;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (buf == NULL || size == 0)
        return FO_EINVAL;
    fo__lock(router);
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
    } else if (rt->name_len >= size) {
        memcpy(buf, rt->name, size - 1);
        buf[size - 1] = '\0';
        rc = FO_ERANGE;
    } else {
        memcpy(buf, rt->name, rt->name_len + 1);
    }
    fo__unlock(router);
    return rc;
}

int fo_route_get_state(fo_router *router, fo_route_id route,
                       fo_route_state *out)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (out == NULL)
        return FO_EINVAL;
    now = fo__lock_at(router, fo__now(router));
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
    } else {
        fo__health_refresh(&rt->health, router, now);
        *out = (fo_route_state)rt->health.state;
    }
    fo__unlock(router);
    return rc;
}

int fo_route_set_admin(fo_router *router, fo_route_id route, fo_admin admin)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (admin != FO_ADMIN_ENABLED && admin != FO_ADMIN_DRAINING &&
        admin != FO_ADMIN_DISABLED)
        return FO_EINVAL;
    now = fo__lock_at(router, fo__now(router));
    rt = fo__route_get(router, route);
    if (rt == NULL)
        rc = FO_ENOENT;
    else
        fo__health_set_admin(&rt->health, router, admin, now);
    fo__unlock(router);
    return rc;
}

#define FO__DRILL_MAX_NS (24ull * 3600 * FO_SECOND_NS)

int fo_route_drill(fo_router *router, fo_route_id route, uint64_t duration_ns)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    now = fo__lock_at(router, fo__now(router));
    rt = fo__route_get(router, route);
    if (rt == NULL)
        rc = FO_ENOENT;
    else if (duration_ns > FO__DRILL_MAX_NS)
        rc = FO_ERANGE;
    else
        fo__health_drill(&rt->health, router, duration_ns, now);
    fo__unlock(router);
    return rc;
}

int fo_route_signal(fo_router *router, fo_route_id route, fo_signal signal)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (signal < FO_SIGNAL_REGISTRATION_LOST ||
        signal > FO_SIGNAL_KEEPALIVE_RESTORED)
        return FO_EINVAL;
    now = fo__lock_at(router, fo__now(router));
    rt = fo__route_get(router, route);
    if (rt == NULL)
        rc = FO_ENOENT;
    else
        fo__health_signal(&rt->health, router, signal, now);
    fo__unlock(router);
    return rc;
}

int fo_route_get_reason(fo_router *router, fo_route_id route, fo_reason *reason,
                        char *text, size_t size)
{
    struct fo__route *rt;
    uint64_t now;
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (text != NULL && size == 0)
        return FO_EINVAL;
    now = fo__lock_at(router, fo__now(router));
    rt = fo__route_get(router, route);
    if (rt == NULL) {
        rc = FO_ENOENT;
    } else {
        fo__health_refresh(&rt->health, router, now);
        if (reason != NULL)
            *reason = (fo_reason)rt->health.reason;
        if (text != NULL) {
            size_t len = strnlen(rt->health.text, sizeof rt->health.text);

            if (len >= size) {
                len = size - 1;
                rc = FO_ERANGE;
            }
            memcpy(text, rt->health.text, len);
            text[len] = '\0';
        }
    }
    fo__unlock(router);
    return rc;
}

const char *fo_reason_name(fo_reason reason)
{
    static const char *const names[] = {
        [FO_REASON_NONE] = "NONE",
        [FO_REASON_ADDED] = "ADDED",
        [FO_REASON_CONSECUTIVE_FAULTS] = "CONSECUTIVE_FAULTS",
        [FO_REASON_FAILURE_RATE] = "FAILURE_RATE",
        [FO_REASON_SLOW_CALLS] = "SLOW_CALLS",
        [FO_REASON_RETRY_AFTER] = "RETRY_AFTER",
        [FO_REASON_REGISTRATION_LOST] = "REGISTRATION_LOST",
        [FO_REASON_REGISTRATION_RESTORED] = "REGISTRATION_RESTORED",
        [FO_REASON_KEEPALIVE_LOST] = "KEEPALIVE_LOST",
        [FO_REASON_KEEPALIVE_RESTORED] = "KEEPALIVE_RESTORED",
        [FO_REASON_HOLD_DOWN_ENDED] = "HOLD_DOWN_ENDED",
        [FO_REASON_TRIAL_PASSED] = "TRIAL_PASSED",
        [FO_REASON_TRIAL_FAILED] = "TRIAL_FAILED",
        [FO_REASON_SUPPRESSED] = "SUPPRESSED",
        [FO_REASON_REUSED] = "REUSED",
        [FO_REASON_DISABLED] = "DISABLED",
        [FO_REASON_DRAINING] = "DRAINING",
        [FO_REASON_ENABLED] = "ENABLED",
        [FO_REASON_DRILL_STARTED] = "DRILL_STARTED",
        [FO_REASON_DRILL_ENDED] = "DRILL_ENDED",
    };

    if ((unsigned)reason >= sizeof names / sizeof *names)
        return "UNKNOWN";
    return names[reason];
}

const char *fo_route_state_name(fo_route_state state)
{
    switch (state) {
    case FO_STATE_UP:
        return "UP";
    case FO_STATE_EJECTED:
        return "EJECTED";
    case FO_STATE_TRIAL:
        return "TRIAL";
    case FO_STATE_SUPPRESSED:
        return "SUPPRESSED";
    case FO_STATE_DISABLED:
        return "DISABLED";
    case FO_STATE_DRAINING:
        return "DRAINING";
    case FO_STATE_DRILL:
        return "DRILL";
    default:
        return "UNKNOWN";
    }
}
