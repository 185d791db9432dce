/*
 * libfailover internals shared between lib/ files. Never installed.
 *
 * Locking: one mutex per router guards every route and the route table.
 * The clock is read before the lock is taken (it is a user callback, and
 * callbacks never run under our locks); the allocator is the documented
 * exception and runs under the lock.
 */
#ifndef FO_INTERNAL_H
#define FO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <failover/failover.h>

/* ---- struct versioning (options.c) ------------------------------------ */

/*
 * Validates a caller's size-versioned struct: caller_size must be at least
 * min_size (the first version) and every byte past known_size (what this
 * build knows) must be zero. Returns FO_OK, FO_EINVAL or FO_EVERSION.
 */
int fo__struct_check(const void *p, size_t caller_size, size_t min_size,
                     size_t known_size);

/* Every published size of fo_router_options, oldest first. */
extern const size_t fo__router_options_sizes[];
extern const size_t fo__router_options_nsizes;

/* Options resolved to their effective values. */
struct fo__config {
    uint64_t hold_down_ns;
    uint32_t consecutive_faults;
    uint32_t max_attempts;
    uint32_t max_routes;
};

/* Validates opts (NULL = defaults) and resolves the effective settings. */
struct fo__clock;
struct fo__allocator;
int fo__options_resolve(const fo_router_options *opts, struct fo__config *cfg,
                        struct fo__clock *clock,
                        struct fo__allocator *allocator);

/* ---- callbacks and reentrancy (callback.c) ---------------------------- */

enum fo__cb_kind {
    FO__CB_CLOCK = 1u << 0,
    FO__CB_ALLOC = 1u << 1,
};

/* Kinds from which no call on the same router is allowed. */
#define FO__CB_NO_REENTRY (FO__CB_CLOCK | FO__CB_ALLOC)

struct fo__cb_frame {
    const fo_router *router;
    unsigned kind;
    struct fo__cb_frame *prev;
};

void fo__cb_enter(struct fo__cb_frame *frame, const fo_router *router,
                  unsigned kind);
void fo__cb_leave(struct fo__cb_frame *frame);
/* True if this thread is inside a callback of router of a kind in mask. */
bool fo__cb_active(const fo_router *router, unsigned kind_mask);

/* ---- memory (alloc.c) -------------------------------------------------- */

struct fo__allocator {
    fo_alloc_cb alloc;
    fo_free_cb free;
    void *userdata;
};

void fo__allocator_default(struct fo__allocator *a);
/* Allocate/free through the router's allocator (router may be NULL while
 * the router itself is being built). */
void *fo__alloc(const fo_router *router, const struct fo__allocator *a,
                size_t size);
void *fo__calloc(const fo_router *router, const struct fo__allocator *a,
                 size_t n, size_t size);
void fo__free(const fo_router *router, const struct fo__allocator *a, void *p);

/* ---- time (clock.c) ---------------------------------------------------- */

struct fo__clock {
    fo_clock_now_cb now_ns; /* NULL = CLOCK_MONOTONIC */
    void *userdata;
};

/* Reads the router's clock and clamps it to the largest value seen.
 * Call outside the router lock. */
uint64_t fo__now(fo_router *router);

static inline uint64_t fo__add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- health (health.c) ------------------------------------------------- */

/* Why a route last changed state. Internal for now; public with events. */
enum fo__reason {
    FO__REASON_NONE = 0,
    FO__REASON_ADDED,
    FO__REASON_CONSECUTIVE_FAULTS,
    FO__REASON_HOLD_DOWN_ENDED,
};

struct fo__health {
    uint64_t state_since_ns;
    uint64_t hold_down_until_ns;
    uint32_t consecutive_faults;
    uint32_t ejections;
    uint8_t state;       /* fo_route_state */
    uint8_t last_reason; /* enum fo__reason */
};

void fo__health_init(struct fo__health *h, uint64_t now);
/* Applies time-driven transitions (end of hold-down); true on change. */
bool fo__health_refresh(struct fo__health *h, uint64_t now);
/* True if the route may be picked (call fo__health_refresh first). */
static inline bool fo__health_eligible(const struct fo__health *h)
{
    return h->state == FO_STATE_UP;
}
/* Feeds one classified result; true if the state changed. */
bool fo__health_report(struct fo__health *h, const struct fo__config *cfg,
                       fo_result_class cls, uint64_t now);

/* ---- routes (route.c) -------------------------------------------------- */

#define FO__RESULT_MAX FO_RESULT_REJECTED

struct fo__counters {
    uint64_t results[FO__RESULT_MAX + 1]; /* indexed by fo_result */
    uint64_t picks;
};

struct fo__route {
    fo_route_id id;
    uint64_t seq; /* order of addition, for stable tie-breaks */
    uint32_t priority;
    uint32_t weight;
    uint32_t cost;
    uint32_t name_hash;
    struct fo__route *name_next;
    struct fo__health health;
    struct fo__counters counters;
    uint32_t name_len;
    char name[FO_ROUTE_NAME_MAX + 1];
};

/*
 * A slot of the route table. Ids are (generation << 32) | index; the
 * generation of a slot grows every time the slot is reused, so an id is
 * never given twice. A slot whose generation is exhausted is retired.
 */
struct fo__slot {
    struct fo__route *route; /* NULL when free */
    uint32_t gen;            /* generation of the current/next route */
    uint32_t next_free;      /* free-list link when free */
};

#define FO__NO_SLOT UINT32_MAX

struct fo__table {
    struct fo__slot *slots;
    uint32_t nslots;    /* slots in use or on the free list */
    uint32_t capacity;  /* allocated slots */
    uint32_t free_head; /* FO__NO_SLOT when empty */
    uint32_t count;     /* live routes */
    /* name index: chained hash, power-of-two buckets */
    struct fo__route **buckets;
    uint32_t nbuckets;
    /* selection order: live routes sorted by (priority, seq) */
    struct fo__route **order;
    uint32_t order_capacity;
    bool order_dirty;
    uint64_t next_seq;
};

void fo__table_free(fo_router *router);
/* The live route with this id, or NULL. Lock held. */
struct fo__route *fo__route_get(fo_router *router, fo_route_id id);
/* Sorts the selection order if routes changed. Lock held. */
void fo__table_order(fo_router *router);

/* ---- the router (router.c) --------------------------------------------- */

struct fo_router {
    pthread_mutex_t lock;
    struct fo__clock clock;
    struct fo__allocator allocator;
    struct fo__config cfg;
    uint64_t tag; /* identifies this router inside attempts */
    _Atomic uint64_t last_now_ns;
    struct fo__table table;
};

static inline void fo__lock(fo_router *r)
{
    (void)pthread_mutex_lock(&r->lock);
}

static inline void fo__unlock(fo_router *r)
{
    (void)pthread_mutex_unlock(&r->lock);
}

/*
 * Entry check of every public call on a router: rejects a NULL router and
 * calls made from inside the router's own clock or allocator callbacks.
 */
static inline int fo__enter(const fo_router *r)
{
    if (r == NULL)
        return FO_EINVAL;
    if (fo__cb_active(r, FO__CB_NO_REENTRY))
        return FO_EBUSY;
    return FO_OK;
}

/* A digest of all of a router's observable state, for tests that check a
 * failed call changed nothing. */
uint64_t fo__router_digest(fo_router *router);

/* ---- attempts (attempt.c) ---------------------------------------------- */

/*
 * Layout of fo_attempt.fo_private_ (all uint64_t words, so no aliasing):
 *   [0]      tag of the router that first used it (0 = fresh)
 *   [1]      count (low 32 bits) | reported mask (high 32 bits)
 *   [2..3]   reserved, zero
 *   [4..19]  routes tried, in order
 *   [20..31] reserved, zero
 */
#define FO__ATT_TAG    0
#define FO__ATT_META   1
#define FO__ATT_ROUTES 4
#define FO__ATT_WORDS  32

/* FO_OK if the attempt is well formed and fits this router. */
int fo__attempt_check(const fo_attempt *a, const fo_router *router);
static inline uint32_t fo__attempt_count(const fo_attempt *a)
{
    return (uint32_t)(a->fo_private_[FO__ATT_META] & 0xffffffffu);
}
/* Index of route in the attempt, or -1. */
int fo__attempt_find(const fo_attempt *a, fo_route_id route);
bool fo__attempt_reported(const fo_attempt *a, int index);
/* Appends route (the caller checked the capacity); returns its index. */
int fo__attempt_append(fo_attempt *a, const fo_router *router,
                       fo_route_id route);
void fo__attempt_mark_reported(fo_attempt *a, int index);

/* ---- results (result.c) ------------------------------------------------ */

static inline bool fo__result_valid(int result)
{
    return result >= FO_RESULT_SUCCESS && result <= FO__RESULT_MAX;
}

#endif /* FO_INTERNAL_H */
