/*
 * libfailover internals shared between lib/ files. Never installed.
 *
 * Locking: the router's lock (L0) guards the route and plan tables; each
 * list (L1), route (L2), the guards (L3) and the event queue (L4) have
 * their own, taken in that order. Picks take their list's lock, or none
 * for a list's sole pick (select.c); reports take their route's. The
 * clock is read before any lock is taken (it is a user callback, and
 * callbacks never run under our locks); the allocator is the documented
 * exception and runs under the lock.
 */
#ifndef FO_INTERNAL_H
#define FO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <failover/failover.h>

#define FO__RESULT_MAX FO_RESULT_REJECTED

#if defined(__GNUC__)
#define FO__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FO__PRINTF(f, a)
#endif

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
    uint32_t max_routes;
    uint32_t max_attempts;
    uint32_t consecutive_faults;
    uint32_t hold_down_multiplier_pct;
    uint64_t hold_down_ns;
    uint64_t hold_down_max_ns;
    uint64_t hold_down_decay_ns;
    uint32_t hold_down_jitter_pct;
    uint32_t trial_successes;
    uint32_t trial_concurrency;
    uint32_t window_min_volume;
    uint64_t trial_timeout_ns;
    uint64_t window_ns;
    uint64_t bucket_ns; /* window_ns / FO__WINDOW_BUCKETS */
    uint32_t failure_rate_pct;
    uint32_t slow_call_rate_pct;
    uint64_t slow_call_ns; /* 0 = slow-call detector off */
    double damping_penalty;
    double damping_suppress;
    double damping_reuse;
    double damping_ceiling; /* reuse * 2^(max_suppress / half_life) */
    uint64_t damping_half_life_ns;
    uint64_t damping_max_suppress_ns;
    uint64_t retry_after_max_ns;
    uint32_t detectors_off;
    uint64_t seed;
    uint32_t policy;
    uint32_t panic;
    uint32_t max_ejected_pct;
    uint32_t guards_off;
    uint64_t local_fault_window_ns;
    uint64_t slow_start_ns; /* 0 = off */
    uint32_t slow_start_floor_pct;
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
    FO__CB_PROBE = 1u << 2, /* a probe callback, or a destroy callback */
    FO__CB_EVENT = 1u << 3,
    FO__CB_FREE = 1u << 4, /* not a callback: fo_router_free() is running */
};

/* Kinds from which no call on the same router is allowed. */
#define FO__CB_NO_REENTRY (FO__CB_CLOCK | FO__CB_ALLOC | FO__CB_FREE)

struct fo__cb_frame {
    const fo_router *router;
    unsigned kind;
    struct fo__cb_frame *prev;
};

/* initial-exec: a plain TLS offset instead of a __tls_get_addr() call on
 * every public entry (the library is not meant for dlopen() after
 * startup into a process short of static TLS space). */
#if defined(__GNUC__)
#define FO__TLS_MODEL                                                          \
    __attribute__((tls_model("initial-exec"), visibility("hidden")))
#else
#define FO__TLS_MODEL
#endif
/* The innermost callback frame of this thread, NULL outside callbacks. */
extern _Thread_local struct fo__cb_frame *fo__cb_top FO__TLS_MODEL;

static inline void fo__cb_enter(struct fo__cb_frame *frame,
                                const fo_router *router, unsigned kind)
{
    frame->router = router;
    frame->kind = kind;
    frame->prev = fo__cb_top;
    fo__cb_top = frame;
}

static inline void fo__cb_leave(struct fo__cb_frame *frame)
{
    fo__cb_top = frame->prev;
}

bool fo__cb_active_slow(const fo_router *router, unsigned kind_mask);
/* True if this thread is inside a callback of router of a kind in mask. */
static inline bool fo__cb_active(const fo_router *router, unsigned kind_mask)
{
    return fo__cb_top != NULL && fo__cb_active_slow(router, kind_mask);
}

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

/* Reads the router's clock source (a user callback: never under a lock). */
uint64_t fo__now(fo_router *router);
/* Router time now: the source's reading turned into router time (for an
 * embedder's clock, under clock_lock). Call with no lock held. */
uint64_t fo__time(fo_router *router);
/* Takes the router lock at router time now (never earlier than the last
 * time seen under the lock). */
uint64_t fo__lock_now(fo_router *router);
/* CLOCK_MONOTONIC_COARSE where fine enough, else CLOCK_MONOTONIC. */
int fo__default_clock_id(void);
/* A forward step of the source larger than this counts as this much. */
#define FO__CLOCK_MAX_STEP_NS (30ull * 24 * 3600 * FO_SECOND_NS)
/* A backward step up to this is two readings taking the lock out of
 * order; a larger one is the source stepping back. */
#define FO__CLOCK_REORDER_NS (1ull * FO_SECOND_NS)

static inline uint64_t fo__add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- failure window (window.c) ---------------------------------------- */

#define FO__WINDOW_BUCKETS 12

struct fo__bucket {
    uint16_t volume; /* attempts that say something about the route */
    uint16_t faults; /* route faults among them */
    uint16_t timed;  /* attempts that reported a latency */
    uint16_t slow;   /* ... at or above slow_call_ns */
};

/* A ring of buckets over window_ns, with running sums so a decision reads
 * four numbers instead of summing the ring. A bucket counts up to 65,535
 * attempts (13,000 a second with the default window) and then stops
 * counting, all four numbers together: beyond that the rates are judged
 * on the bucket's first 65,535 attempts, a sample. */
struct fo__window {
    uint64_t head;        /* period (now / bucket_ns) of the newest bucket */
    uint64_t head_end_ns; /* when the newest bucket's period ends */
    struct fo__bucket b[FO__WINDOW_BUCKETS];
    uint64_t volume, faults, timed, slow; /* sums over the ring */
};

void fo__window_reset(struct fo__window *w);
/* Drops the buckets that fell out of the window by now. */
void fo__window_advance(struct fo__window *w, uint64_t now, uint64_t bucket_ns);
void fo__window_add(struct fo__window *w, uint64_t now, uint64_t bucket_ns,
                    bool fault, bool timed, bool slow);

/* ---- flap damping (damping.c) ------------------------------------------ */

struct fo__damping {
    double penalty; /* as of at_ns */
    uint64_t at_ns;
    bool suppressed;
};

/* 2^x without libm, accurate to a few ulps over the range used here. */
double fo__exp2(double x);
/* log2(x) for x > 0, without libm. */
double fo__log2(double x);
/* reuse * 2^(max_suppress / half_life): the RFC 2439 penalty ceiling. */
double fo__damp_ceiling(double reuse, uint64_t max_suppress_ns,
                        uint64_t half_life_ns);
/* The penalty decayed to now. */
double fo__damp_value(const struct fo__damping *d, const struct fo__config *c,
                      uint64_t now);
/* Adds one ejection's penalty; true if the route became suppressed. */
bool fo__damp_add(struct fo__damping *d, const struct fo__config *c,
                  uint64_t now);
/* Ends suppression once the penalty is below reuse; true if it ended. */
bool fo__damp_refresh(struct fo__damping *d, const struct fo__config *c,
                      uint64_t now);
/* When a suppressed route's penalty falls below reuse (UINT64_MAX if not
 * suppressed). */
uint64_t fo__damp_reuse_at(const struct fo__damping *d,
                           const struct fo__config *c);

/* ---- health (health.c) ------------------------------------------------- */

/* Why an ejected route is held: until its hold-down ends, or until a
 * signal says the cause is gone. */
enum fo__hold {
    FO__HOLD_TIMED = 0,
    FO__HOLD_REGISTRATION = 1, /* until REGISTRATION_RESTORED */
    FO__HOLD_KEEPALIVE = 2,    /* timed, or until KEEPALIVE_RESTORED */
};

/* What took a route out: decides what may bring it back early. */
enum fo__eject_kind {
    FO__EJECT_REACH = 0,   /* unreachable: timeouts, unavailable, keepalive */
    FO__EJECT_QUALITY = 1, /* failing calls: rejects, congestion, rates */
    FO__EJECT_PROBE = 2,   /* failed probes */
    FO__EJECT_ORDER = 3,   /* Retry-After, lost registration: wait it out */
};

struct fo__health {
    uint8_t state;        /* fo_route_state as last committed (effective) */
    uint8_t eject_kind;   /* enum fo__eject_kind of the last ejection */
    uint8_t guard_kind;   /* what a guard kept it from (while guarded) */
    uint8_t reason;       /* fo_reason of the last committed change */
    uint8_t health;       /* underlying: FO_STATE_UP, EJECTED or TRIAL */
    uint8_t hold_cause;   /* enum fo__hold */
    uint8_t admin;        /* fo_admin */
    bool guarded;         /* failing, kept in service by a guard */
    bool guard_lapsed;    /* the guard's time ran out, no success since */
    uint16_t trial_epoch; /* bumped on every entry into TRIAL */
    uint32_t lf_gen_seen; /* router's local-fault generation */
    uint32_t consecutive_faults;
    uint32_t trial_passes; /* successes in the current trial */
    uint32_t level;        /* hold-down growth steps */
    uint32_t ejections;
    uint32_t transitions;
    uint64_t state_since_ns;
    uint64_t hold_down_until_ns; /* unused while held by registration */
    uint64_t hold_down_ns;       /* length of the last hold-down */
    uint64_t level_since_ns;     /* decay of level counts from here */
    uint64_t drill_until_ns;     /* 0 = no drill */
    uint64_t next_event_ns;      /* earliest time-driven change */
    uint64_t ramp_since_ns;      /* slow start began; 0 = not ramping */
    uint64_t guard_until_ns;     /* while guarded: when to look again */
    uint8_t slot_gen[FO_MAX_TRIAL_CONCURRENCY]; /* bumped per slot use */
    uint64_t ejected_ns;                        /* when last ejected */
    double undo_penalty; /* damping before that ejection, */
    uint64_t undo_at_ns; /* ...as of then */
    uint64_t trial_deadline_ns[FO_MAX_TRIAL_CONCURRENCY]; /* 0 = free */
    struct fo__damping damp;
    struct fo__window window;
    char text[FO_REASON_TEXT_MAX]; /* explanation of reason */
};

/* How much a reported result says about the route's current state. */
enum fo__evidence {
    FO__EVIDENCE_CURRENT = 0, /* a call placed under the current state */
    FO__EVIDENCE_STALE = 1,   /* placed before the route went out */
    FO__EVIDENCE_TRIAL = 2,   /* this trial's own attempt */
};

struct fo__outcome {
    fo_result result;
    fo_result_class cls;
    uint64_t latency_ns;     /* 0 = not measured */
    uint64_t retry_after_ns; /* 0 = none */
    enum fo__evidence evidence;
    int trial_slot;      /* slot the attempt held, -1 if none */
    bool release_oldest; /* no attempt: free the oldest trial slot */
};

/* What changed, and why, while one public call ran. */
struct fo__change {
    fo_reason reason;
    bool explain; /* update the explanation even if the state stays */
    bool numbers; /* the numbers below were taken before an ejection */
    uint32_t consecutive_faults;
    uint64_t window_attempts, window_faults;
    char text[FO_REASON_TEXT_MAX];
};

void fo__health_init(struct fo__health *h, uint64_t now);
bool fo__health_refresh_slow(struct fo__health *h, fo_router *r, uint64_t now);
/* Applies time-driven changes due by now (and catches up with local-fault
 * episodes); true if the state changed. Inline for the common case,
 * nothing due: defined after the router. */
static inline bool fo__health_refresh(struct fo__health *h, fo_router *r,
                                      uint64_t now);
/* Feeds one result; true if the state changed. */
struct fo__route;
bool fo__health_report(struct fo__route *rt, fo_router *r,
                       const struct fo__outcome *o, uint64_t now);
bool fo__health_signal(struct fo__health *h, fo_router *r, fo_signal sig,
                       uint64_t now);
bool fo__health_set_admin(struct fo__health *h, fo_router *r, fo_admin admin,
                          uint64_t now);
bool fo__health_drill(struct fo__health *h, fo_router *r, uint64_t duration_ns,
                      uint64_t now);
/* A probe concluded: ok (answered) or not; true if the state changed. */
bool fo__health_probe(struct fo__route *rt, fo_router *r, bool ok,
                      fo_result result, uint64_t now);

/* An ejected route the local-fault guard would have kept, had it known:
 * taken out by its own faults within the local-fault window. */
bool fo__local_fault_reinstatable(const struct fo__health *h,
                                  const fo_router *r, uint64_t now);

/* Whether a pick may take the route now (after a refresh). */
static inline bool fo__health_pickable(const struct fo__health *h,
                                       uint32_t trial_concurrency)
{
    if (h->state == FO_STATE_UP)
        return true;
    if (h->state != FO_STATE_TRIAL)
        return false;
    for (uint32_t i = 0; i < trial_concurrency; i++)
        if (h->trial_deadline_ns[i] == 0)
            return true;
    return false;
}
/* Takes a free trial slot (the route must be pickable in TRIAL); returns
 * its index. */
int fo__health_take_slot(struct fo__health *h, fo_router *r, uint64_t now);

/* ---- handle tables (table.c) ------------------------------------------ */

/*
 * Routes and plans live in tables of slots and are named by 64-bit ids:
 *   bit 63     kind (0 route, 1 plan)
 *   bits 44-62 generation of the slot: grows every time the slot is reused,
 *              so an id is never given twice; an exhausted slot is retired
 *   bits 24-43 the router's salt: an id of one router is not an id of
 *              another (up to 2^20 routers in a process, then salts repeat)
 *   bits 0-23  slot index
 */
#define FO__ID_INDEX_BITS 24
#define FO__ID_SALT_BITS  20
#define FO__ID_GEN_SHIFT  (FO__ID_INDEX_BITS + FO__ID_SALT_BITS)
#define FO__ID_GEN_MAX    ((1u << 19) - 1)
#define FO__ID_KIND_PLAN  (1ull << 63)
#define FO__ID_INDEX(id)  ((uint32_t)((id) & ((1u << FO__ID_INDEX_BITS) - 1)))
#define FO__ID_SALT(id)                                                        \
    ((uint32_t)(((id) >> FO__ID_INDEX_BITS) & ((1u << FO__ID_SALT_BITS) - 1)))
#define FO__ID_GEN(id) ((uint32_t)(((id) >> FO__ID_GEN_SHIFT) & FO__ID_GEN_MAX))
#define FO__MAKE_ID(gen, salt, index)                                          \
    (((uint64_t)(gen) << FO__ID_GEN_SHIFT) |                                   \
     ((uint64_t)(salt) << FO__ID_INDEX_BITS) | (uint64_t)(index))

/*
 * A slot's object is made the first time the slot is used and stays at its
 * address until the router is freed (a removed route's slot keeps it for
 * the next route): calls that find an object by id without the router
 * lock (picks, reports) lock the object and compare its id, and never
 * touch freed memory. Slots live in chunks that never move; the directory
 * of chunks is replaced when it grows, the old one kept until the end.
 */
#define FO__CHUNK_BITS 4
#define FO__CHUNK      (1u << FO__CHUNK_BITS)

struct fo__slot {
    void *_Atomic obj;  /* the slot's object, made with its chunk */
    uint32_t gen : 31;  /* generation of the current/next object (L0) */
    uint32_t live : 1;  /* holds a live object (L0) */
    uint32_t next_free; /* free-list link when free (L0) */
};

struct fo__chunk {
    void *block; /* its objects, each on its own cache lines */
    struct fo__slot slot[FO__CHUNK];
};

struct fo__dir {
    struct fo__dir *older; /* replaced directories, freed at the end */
    uint32_t nchunks;
    struct fo__chunk *_Atomic chunk[];
};

#define FO__NO_SLOT UINT32_MAX

struct fo__table {
    struct fo__dir *_Atomic dir;
    _Atomic uint32_t nslots; /* slots in use, free or retired */
    uint32_t free_head;      /* FO__NO_SLOT when empty */
    uint32_t count;          /* live objects */
    uint32_t limit;          /* most live objects */
    uint64_t kind;           /* 0 or FO__ID_KIND_PLAN */
    size_t obj_size;
    int (*obj_init)(void *obj); /* makes an object's locks */
    void (*obj_fini)(fo_router *r, void *obj);
};

void fo__table_init(struct fo__table *t, uint64_t kind, uint32_t limit,
                    size_t obj_size, int (*obj_init)(void *),
                    void (*obj_fini)(fo_router *, void *));
/* Makes room for one more object, made and initialised; changes nothing
 * visible. Router lock held. */
int fo__table_reserve(fo_router *r, struct fo__table *t);
/* Takes the reserved slot: its object, to be filled, and its new id in
 * *id. The object is live for the router lock's holders at once; callers
 * without it see it once they find its id in it. Router lock held. */
void *fo__table_insert(fo_router *r, struct fo__table *t, uint64_t *id);
/* The slot's object for this id, live or not, or NULL: without the router
 * lock; lock the object and compare its id. */
void *fo__table_find(const fo_router *r, const struct fo__table *t,
                     uint64_t id);
/* The live object with this id, or NULL. Router lock held. */
void *fo__table_get(const fo_router *r, const struct fo__table *t, uint64_t id);
/* Slot index, or NULL if its chunk is not made yet. */
struct fo__slot *fo__table_slot(const struct fo__table *t, uint32_t index);
/* The object of slot index (live or not), or NULL; any lock. */
void *fo__table_at(const struct fo__table *t, uint32_t index);
/* Whether slot index holds a live object. Router lock held. */
bool fo__table_live(const struct fo__table *t, uint32_t index);
static inline uint32_t fo__table_slots(const struct fo__table *t)
{
    return atomic_load_explicit(&t->nslots, memory_order_acquire);
}
/* Ends a live id: its slot and object wait for the next insert. Router
 * lock held. */
void fo__table_remove(struct fo__table *t, uint64_t id);
/* Finalises and frees every object, the chunks and the directories. */
void fo__table_release(fo_router *r, struct fo__table *t);

/* ---- name index (names.c) ---------------------------------------------- */

struct fo__name {
    struct fo__name *next; /* chain in the index */
    uint32_t hash;
    uint32_t len;
    char text[FO_ROUTE_NAME_MAX + 1];
};

struct fo__names {
    struct fo__name **buckets; /* power-of-two count */
    uint32_t nbuckets;
    uint32_t count;
};

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 if it does not
 * start one (overlong forms, surrogates, past U+10FFFF). */
size_t fo__utf8_len(const unsigned char *p);
/* Drops an incomplete UTF-8 sequence at the end of s (cut by a size). */
void fo__utf8_trim(char *s);
/* Length of an acceptable name (1 to FO_ROUTE_NAME_MAX bytes of UTF-8, no
 * control characters), or 0. Reads at most FO_ROUTE_NAME_MAX + 1 bytes. */
size_t fo__name_check(const char *name);
/* Length of name if it could be a name, else 0 (for lookups). */
size_t fo__name_len(const char *name);
void fo__name_set(struct fo__name *n, const char *text, size_t len);
struct fo__name *fo__names_find(const struct fo__names *x, const char *text,
                                size_t len);
int fo__names_reserve(fo_router *r, struct fo__names *x);
void fo__names_link(struct fo__names *x, struct fo__name *n);
void fo__names_unlink(struct fo__names *x, struct fo__name *n);
void fo__names_release(fo_router *r, struct fo__names *x);

/* ---- routes (route.c) -------------------------------------------------- */

/* A route's probe counters: they outlive its registrations. */
struct fo__probe_counts {
    uint64_t seq0; /* the router's probe sequence when they began: older
                      tokens are of routes gone */
    uint64_t sent, answered, failed, timed_out, late;
    uint64_t timed_out_token; /* the last probe that timed out */
};

struct fo__counters {
    uint64_t results[FO__RESULT_MAX];       /* by fo_result - 1 */
    uint64_t classes[FO_CLASS_ROUTE_FAULT]; /* by class - 1, when reported */
    uint64_t trial_picks;                   /* picks that took a trial slot */
    uint64_t panic_picks; /* picks of it as the least-bad route */
    uint64_t stale;       /* results judged stale: counted, not judged */
};

/* Bits of a route's published view (fo__route.view). */
#define FO__V_STATE       0xffu      /* effective fo_route_state */
#define FO__V_LIVE        (1u << 8)  /* a live route */
#define FO__V_GUARDED     (1u << 9)  /* kept in service by a guard */
#define FO__V_ENABLED     (1u << 10) /* enabled for the guards */
#define FO__V_EJECTED     (1u << 11) /* health EJECTED (whatever overlays) */
#define FO__V_PASSIVE     (1u << 12) /* ...by its own faults, on a timer */
#define FO__V_SLOTS_SHIFT 13         /* free trial slots, 4 bits */
#define FO__V_SLOTS(v)    ((uint32_t)((v) >> FO__V_SLOTS_SHIFT) & 0xfu)
#define FO__V_EPOCH_SHIFT 24 /* ejections, low 8 bits (attempts' epoch) */
#define FO__V_EPOCH(v)    ((uint32_t)((v) >> FO__V_EPOCH_SHIFT) & 0xffu)
#define FO__V_LFGEN_SHIFT 32 /* local-fault generation seen, low 16 bits */
#define FO__V_LFGEN(v)    ((uint32_t)((v) >> FO__V_LFGEN_SHIFT) & 0xffffu)

/*
 * A route. Everything but the atomics is under its lock (L2 below); the
 * router lock (L0) is also held to change what other objects see of it
 * (its name, its values in lists, its lists). Callers that do not take
 * the router lock read the route's published view: atomics written under
 * its lock whenever what they say changes.
 */
struct fo__route {
    pthread_mutex_t lock;
    struct fo__name name; /* the name index links these (L0) */
    fo_route_id id;       /* FO_ROUTE_ID_NONE when not live */
    uint64_t seq;         /* order of addition to the router */
    uint32_t priority;
    uint32_t weight;
    uint32_t cost;
    uint32_t plan_refs; /* plans (other than the default) using it */
    uint32_t lists_cap;
    uint8_t gstat;           /* FO__G_* as counted in its lists */
    struct fo__plan **lists; /* those plans (L0 and L2 to change) */
    uint64_t last_fault_ns;  /* last route fault reported; 0 = none */
    uint64_t last_ok_ns;     /* last success or callee result; 0 = none */
    uint64_t now_ns;         /* latest router time seen under its lock */
    uint64_t rng;            /* xorshift64* for jitter */
    struct fo__probe *probe; /* NULL: not probed */
    struct fo__probe_counts *probes; /* from its first probe on */
    struct fo__health health;
    struct fo__counters counters;
    /* published view */
    _Atomic uint64_t view;            /* FO__V_* bits */
    _Atomic uint64_t view_next_ns;    /* health.next_event_ns */
    _Atomic uint64_t view_ramp_ns;    /* health.ramp_since_ns */
    _Atomic uint64_t view_fault_ns;   /* last_fault_ns */
    _Atomic uint64_t view_ok_ns;      /* last_ok_ns */
    _Atomic uint64_t view_ejected_ns; /* health.ejected_ns */
    _Atomic uint64_t picks;           /* counted by picks, plan lock only */
};

static inline void fo__route_lock(struct fo__route *rt)
{
    (void)pthread_mutex_lock(&rt->lock);
}

static inline void fo__route_unlock(struct fo__route *rt)
{
    (void)pthread_mutex_unlock(&rt->lock);
}

/* Router time under a route's lock: never earlier than it has seen. */
static inline uint64_t fo__route_now(struct fo__route *rt, uint64_t now)
{
    if (now < rt->now_ns)
        return rt->now_ns;
    rt->now_ns = now;
    return now;
}

/* fo__route.gstat: as the guards' list counts have it. */
#define FO__G_ENABLED 0x1u
#define FO__G_EJECTED 0x2u

/* xorshift64*: small, fast, good enough to spread hold-downs and probes. */
uint64_t fo__random(uint64_t *state);
/* A route's own random state, drawn from the router's. Router lock held. */
uint64_t fo__route_seed(fo_router *r);
/* Moves a route's contribution to its lists' guard counts to g (the
 * route's lock held). */
void fo__lists_count(fo_router *r, struct fo__route *rt, uint8_t g);
/* Adds (sign 1) or takes (-1) a route's share to or from a list's guard
 * counts, as it joins or leaves it (both locks held). */
void fo__lists_join(struct fo__plan *p, const struct fo__route *rt, int sign);

/* The route table's object hooks (route.c). */
int fo__route_obj_init(void *obj);
void fo__route_obj_fini(fo_router *r, void *obj);

/* Publishes what picks and guards read of the route, after a change
 * under its lock (health.c). */
void fo__route_publish(fo_router *r, struct fo__route *rt);
/* Whether the route has a local-fault episode to catch up with (its view,
 * without its lock). */
bool fo__view_lf_stale(fo_router *r, const struct fo__route *rt);
/* The live route with this id, locked, or NULL (without the router
 * lock). */
struct fo__route *fo__route_acquire(fo_router *r, fo_route_id id);

/* The live route with this id, or NULL. Router lock held. */
struct fo__route *fo__route_get(fo_router *router, fo_route_id id);

/* ---- lists and plans (plan.c) ------------------------------------------ */

/* One route in a list, with the list's own values for it. */
struct fo__entry {
    struct fo__route *rt;
    fo_route_id id; /* rt's id: a route leaves its lists before its id
                       goes, but is marked gone first (read this one) */
    uint32_t priority;
    uint32_t weight;
    uint32_t cost;
    uint32_t credit; /* slow-start gate, in thousandths of a pick */
    uint64_t seq;    /* order of addition to this list */
    int64_t swrr;    /* smooth weighted round robin: current weight */
    /* scratch of a pick (the list's lock held) */
    uint64_t until;   /* when the reason it was passed over ends */
    uint32_t penalty; /* its damping penalty, rounded */
    uint16_t share;   /* its weight share while ramping up, in 1/1000 */
    uint8_t mark;     /* fallback mark; 0 between picks */
    uint8_t sflags;   /* what the full way saw (select.c) */
};

/*
 * A list of routes (the router's default list, or a plan), kept sorted by
 * its policy's key so a pick walks it in order and never sorts. Under its
 * lock (L1); changes of its entries also hold the router lock. Picks keep
 * a bitmap of the entries that may be picked (cand) so a pick finds the
 * first usable tier without walking what is out.
 */
struct fo__plan {
    pthread_mutex_t lock;
    struct fo__name name; /* the name index links these (L0) */
    fo_plan_id id;        /* FO_PLAN_ID_NONE: the default list, or dead */
    uint32_t policy;      /* fo_policy */
    uint32_t count;
    uint32_t capacity;
    uint64_t next_seq;
    struct fo__entry *entries;
    uint64_t *cand;       /* one bit per entry: worth looking at */
    uint32_t *tier_end;   /* per entry: the end of its tier */
    uint64_t cand_epoch;  /* r->epoch when cand was made; 0 = stale */
    uint64_t wake_ns;     /* when an entry not in cand may change */
    bool panic;           /* no route of the list could be picked */
    uint64_t panic_picks; /* picks made in the current panic */
    uint64_t picks, panic_total, failed_picks; /* counters */
    /* For the ejection guard, without the list's lock: members, and those
     * enabled and ejected among them (fo__route.gstat). */
    _Atomic uint32_t g_count, g_enabled, g_ejected;
    /* The sole pick (select.c): when the list's first tier with a
     * candidate holds exactly one, in service at full weight, every pick
     * takes it until the router's epoch moves, the list changes or
     * solo_until passes. Published under the list's lock through a
     * sequence lock (solo_seq odd while written) and read without it. */
    _Atomic uint32_t solo_seq;
    _Atomic(struct fo__route *) solo_rt; /* NULL: none */
    _Atomic uint64_t solo_id;            /* the route's id */
    _Atomic uint64_t solo_plan;          /* the list's id when published */
    _Atomic uint64_t solo_epoch;         /* r->epoch it holds for */
    _Atomic uint64_t solo_until;         /* it holds before this time */
    /* Picks made that way. Never reset, not even when the slot's plan is
     * freed and another takes it: the router's total sums every slot, so
     * a pick racing a free is never lost, and threads picking from
     * different lists never write the same line. */
    _Atomic uint64_t solo_picks;
};

/* Publishes a list's sole pick, or none (rt NULL). List lock held. */
void fo__plan_solo(struct fo__plan *p, struct fo__route *rt, uint64_t id,
                   uint64_t epoch, uint64_t until);
/* The list's entries, bitmap or sole pick are out of date. List lock
 * held. */
static inline void fo__plan_stale(struct fo__plan *p)
{
    p->cand_epoch = 0;
    if (atomic_load_explicit(&p->solo_rt, memory_order_relaxed) != NULL)
        fo__plan_solo(p, NULL, 0, 0, 0);
}

static inline void fo__plan_lock(struct fo__plan *p)
{
    (void)pthread_mutex_lock(&p->lock);
}

static inline void fo__plan_unlock(struct fo__plan *p)
{
    (void)pthread_mutex_unlock(&p->lock);
}

int fo__plan_obj_init(void *obj);
void fo__plan_obj_fini(fo_router *r, void *obj);
/* True if a and b are in the same tier under the list's policy. */
bool fo__plan_same_tier(const struct fo__plan *p, const struct fo__entry *a,
                        const struct fo__entry *b);
/* Makes room for n more entries. Router lock held. */
int fo__plan_reserve(fo_router *r, struct fo__plan *p, uint32_t n);
/* Adds or updates rt's entry (room reserved for a new one). Router lock and
 * the list's lock held. */
int fo__plan_put(fo_router *r, struct fo__plan *p, struct fo__route *rt,
                 uint32_t priority, uint32_t weight, uint32_t cost);
/* Takes rt out of the list; false if it was not in it. */
bool fo__plan_drop(struct fo__plan *p, const struct fo__route *rt);
/* Index of rt's entry, or -1. */
int fo__plan_find(const struct fo__plan *p, const struct fo__route *rt);
/* The list for this plan id (FO_PLAN_ID_NONE: the default list), locked,
 * or NULL: without the router lock. */
struct fo__plan *fo__plan_acquire(fo_router *r, fo_plan_id id);
/* The live plan with this id (FO_PLAN_ID_NONE: the default list), or
 * NULL. Router lock held. */
struct fo__plan *fo__plan_get(fo_router *r, fo_plan_id id);
/* Takes a route being removed out of every list. Router lock held. */
void fo__plans_forget_route(fo_router *r, struct fo__route *rt);

/* ---- probes (probe.c) -------------------------------------------------- */

/* A registration: shared by the route and every callback running with it,
 * so replacing it while a callback runs cannot free what it uses. */
struct fo__probe_reg {
    fo_probe_cb cb;
    void *userdata;
    fo_destroy_cb destroy;
    uint32_t refs;              /* lock held */
    struct fo__probe_reg *next; /* on a to-destroy list */
};

struct fo__probe {
    struct fo__probe_reg *reg;
    uint64_t interval_ns;
    uint64_t timeout_ns;
    uint64_t down_interval_ns;
    uint32_t rise;
    uint32_t fall;
    uint32_t jitter_pct; /* 0 with FO_PROBE_NO_JITTER */
    uint32_t evidence;
    uint32_t ok_run;     /* answers in a row */
    uint32_t fail_run;   /* failures in a row */
    uint32_t jitter_pm;  /* this wait's extra, in thousandths of it */
    uint64_t token;      /* in flight; 0 = none */
    uint64_t started_ns; /* the last probe's start; 0 = none yet */
    uint64_t deadline_ns;
    uint64_t first_due_ns;
};

/* When the probe next needs the ticker: its timeout while in flight, else
 * its next start (UINT64_MAX without a probe). */
uint64_t fo__probe_due(const struct fo__route *rt);
/* Ends a route's probe registration (route removed or router freed); the
 * destroy callback, if due, goes on *destroy for after the unlock. */
void fo__probe_drop(fo_router *r, struct fo__route *rt,
                    struct fo__probe_reg **destroy);
/* Runs and frees the registrations on a to-destroy list. Lock not held. */
void fo__probe_destroy_list(fo_router *r, struct fo__probe_reg *list);
/* The earliest instant tick has work (lock held). */
uint64_t fo__next_deadline_locked(fo_router *r);
/* Wakes the router's thread: its deadline may have moved. Lock held. */
void fo__wake(fo_router *r);

/* ---- guards (guard.c) -------------------------------------------------- */

/* Whether passive detection may eject rt now. FO_REASON_NONE if so, else
 * the guard that keeps it in service (FO_REASON_EJECTION_GUARD or
 * FO_REASON_LOCAL_FAULT), with an explanation in why. */
fo_reason fo__guard_check(fo_router *r, struct fo__route *rt, uint64_t now,
                          char *why, size_t size);
/* True if every enabled route has failed and none succeeded within the
 * local-fault window (and there are at least two). */
bool fo__local_fault(fo_router *r, uint64_t now);

/* ---- events (events.c) ------------------------------------------------- */

/* An event waiting for delivery: a copy of everything it shows. */
struct fo__event_rec {
    uint8_t kind;
    uint8_t reason;
    uint8_t old_state;
    uint8_t new_state;
    uint8_t level; /* fo_log_level it is logged at */
    uint32_t consecutive_faults;
    uint32_t penalty;
    uint64_t seq;
    uint64_t time_ns;
    uint64_t route;
    uint64_t plan;
    uint64_t window_attempts;
    uint64_t window_faults;
    uint64_t hold_down_ns;
    uint64_t until_ns;
    uint64_t count;
    char name[FO_ROUTE_NAME_MAX + 1];
    char text[FO_REASON_TEXT_MAX];
};

/* Everything here is under lock (a leaf: taken last, never while calling
 * out), except the atomics. */
struct fo__events {
    pthread_mutex_t lock;
    _Atomic uint32_t want;      /* most detailed level listened to; 0 none */
    _Atomic uint32_t pending;   /* events wait for delivery */
    struct fo__event_rec *ring; /* FO_EVENT_QUEUE_MAX, from the first
                                   callback on (router lock too) */
    uint32_t cap, head, count;
    uint64_t seq;             /* last sequence number given */
    uint64_t last_time;       /* of the last event queued */
    uint64_t dropped_pending; /* lost since the last DROPPED event */
    uint64_t dropped;         /* lost in all */
    uint64_t delivered;
    fo_event_cb cb;
    void *cb_userdata;
    fo_log_cb log;
    void *log_userdata;
    uint32_t log_level;
    _Atomic uint64_t gen; /* bumped by every change of callbacks */
    uint64_t call_gen;    /* gen of the callback running, if running */
    bool running;         /* a callback is running */
    bool delivering;      /* a thread is delivering */
    pthread_t deliverer;  /* that thread */
    pthread_cond_t idle;  /* signalled when a callback returns */
};

/* Starts an event in e if anyone listens at this level (a relaxed read:
 * nothing else is done for events nobody hears); false if not. */
bool fo__event_begin(fo_router *r, struct fo__event_rec *e, fo_event_kind kind,
                     fo_log_level level, uint64_t now);
/* Queues a filled event (or counts it as dropped if the queue is full). */
void fo__event_push(fo_router *r, const struct fo__event_rec *e);
/* Fills a route event's route, name, state and numbers (its window
 * advanced to now first). Lock held. */
struct fo__route;
void fo__event_route(fo_router *r, struct fo__event_rec *e,
                     struct fo__route *rt, uint64_t now);
/* Delivers the queued events unless another thread is delivering (it
 * will deliver them). Lock not held. */
void fo__events_deliver(fo_router *r);
void fo__events_release(fo_router *r);

void fo__local_fault_lapse_slow(fo_router *r, uint64_t now);
void fo__local_fault_over_slow(fo_router *r, struct fo__route *rt,
                               const char *what, uint64_t now);

/* ---- statistics (stats.c) ---------------------------------------------- */

/* Fills a full snapshot of rt (time-driven changes applied). Its lock
 * held. */
void fo__route_snapshot(fo_router *r, struct fo__route *rt, uint64_t now,
                        fo_route_stats *s);
/* Fills the router's totals (routes refreshed). Router lock held. */
void fo__router_snapshot(fo_router *r, uint64_t now, fo_router_stats *s);
/* Copies a full snapshot to the caller's struct of caller_size bytes. */
void fo__stats_copy_out(void *out, size_t caller_size, const void *full,
                        size_t full_size);

/* ---- the router (router.c) --------------------------------------------- */

/*
 * Locks, in the order they are taken (never the other way):
 *   L0 router lock: the tables, names, lists' entries, probes' setup, the
 *      ticker; the allocator runs under it
 *   L1 a list's lock (fo__plan.lock)
 *   L2 a route's lock (fo__route.lock)
 *   L3 guard_lock: local-fault episodes and the guards' decisions
 *   L4 the events lock (a leaf)
 * and two leaves taken alone: clock_lock and wake_lock. Picks take L1 (and
 * L2 of a route they take a trial slot of or refresh), reports L2: neither
 * takes the router lock, so calls on different routes and plans do not
 * wait for each other.
 */
struct fo_router {
    pthread_mutex_t lock;
    _Atomic uint32_t panic; /* fo_panic */
    struct fo__clock clock;
    struct fo__allocator allocator;
    struct fo__config cfg;
    uint64_t tag;     /* identifies this router inside attempts */
    uint32_t id_salt; /* identifies this router inside route ids */
    uint64_t rng;     /* xorshift64* state seeding routes' own; L0 */
    /* The clock: the default one's id, or for an embedder's clock router
     * time, advanced by the source's forward steps (clock_lock held). */
    int clock_id;
    pthread_mutex_t clock_lock;
    _Atomic uint64_t raw_last_ns;  /* the source's latest reading */
    _Atomic uint64_t clock_offset; /* router time = reading + this */
    uint64_t now_ns;               /* latest router time seen under the lock */
    /* Local-fault episodes (written under guard_lock, read anywhere).
     * Routes catch up with them lazily, on their next refresh: lf_gen
     * counts openings and endings; an open episode's evidence starts at
     * lf_from_ns, an ended one lasted [lf_from_ns, lf_until_ns]. */
    pthread_mutex_t guard_lock;
    _Atomic uint64_t local_fault_seen_ns; /* last time the guard held */
    _Atomic bool local_fault_open;        /* LOCAL_FAULT sent, not ENDED */
    _Atomic uint32_t lf_gen;
    _Atomic uint64_t lf_from_ns, lf_until_ns;
    /* Bumped when a route's view changes what picks may take: lists
     * remake their bitmaps. */
    _Atomic uint64_t epoch;
    _Atomic uint64_t probe_seq;    /* probes started, for tokens */
    _Atomic uint64_t probe_strays; /* completions for no known probe */
    /* the router's own thread (wake_lock, a leaf) and the ticker */
    pthread_mutex_t wake_lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool thread_running;
    bool thread_stop;
    bool thread_joining;        /* a stop is waiting for the thread to end */
    _Atomic bool thread_active; /* thread_running, for event delivery */
    bool ticking;               /* router lock */
    uint64_t wake_gen;
    /* Counts of routes removed and plans freed, kept for the totals (L0). */
    uint64_t gone_reports, gone_picks, gone_panic_picks, gone_failed_picks;
    struct fo__table routes; /* struct fo__route */
    struct fo__names route_names;
    uint64_t route_seq;      /* order of addition of routes */
    struct fo__plan defplan; /* every route, with its own values */
    struct fo__table plans;  /* struct fo__plan */
    struct fo__names plan_names;
    /* Classification overrides, read without the lock. */
    _Atomic uint8_t result_class[FO__RESULT_MAX + 1];
    _Atomic uint8_t sip_override[500]; /* status - 200; 0 = default */
    struct fo__events ev;
};

static inline void fo__lock(fo_router *r)
{
    (void)pthread_mutex_lock(&r->lock);
}

/* Delivers the events queued, if any (events.c). No lock held. */
static inline void fo__flush(fo_router *r)
{
    if (atomic_load_explicit(&r->ev.pending, memory_order_acquire))
        fo__events_deliver(r);
}

/* Unlocks, then delivers the events the call queued. */
static inline void fo__unlock(fo_router *r)
{
    (void)pthread_mutex_unlock(&r->lock);
    fo__flush(r);
}

static inline bool fo__health_refresh(struct fo__health *h, fo_router *r,
                                      uint64_t now)
{
    if (now < h->next_event_ns &&
        h->lf_gen_seen ==
            atomic_load_explicit(&r->lf_gen, memory_order_relaxed))
        return false;
    return fo__health_refresh_slow(h, r, now);
}

/* Ends a suspected local fault whose last sign is older than the
 * local-fault window (the guard no longer holds). Any lock but L3/L4. */
static inline void fo__local_fault_lapse(fo_router *r, uint64_t now)
{
    if (atomic_load_explicit(&r->local_fault_open, memory_order_relaxed))
        fo__local_fault_lapse_slow(r, now);
}

/* A local fault is no longer suspected: rt worked. what says how (only
 * computed when there is a suspicion to end). Route lock held. */
#define fo__local_fault_over(r, rt, what, now)                                 \
    do {                                                                       \
        if (atomic_load_explicit(&(r)->local_fault_open,                       \
                                 memory_order_relaxed) ||                      \
            atomic_load_explicit(&(r)->local_fault_seen_ns,                    \
                                 memory_order_relaxed) != 0)                   \
            fo__local_fault_over_slow((r), (rt), (what), (now));               \
    } while (0)

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
 *   [3]      reserved, zero
 *   [4..19]  routes tried, in order
 *   [2]      plan id (FO_PLAN_ID_NONE: the router's default list)
 *   [20..23] 16 bits of pick information per route tried: bit 0 trial
 *            pick, bits 1-3 its trial slot, bit 4 panic pick, bits 5-7 the
 *            slot's generation, bits 8-15 an epoch: the route's trial epoch
 *            (trial and panic picks) or its ejection count (picks in
 *            service) at the time of the pick
 *   [24..27] 16 bits per route tried: the router's local-fault generation
 *            at the pick (a call placed before a local fault ended
 *            reports on it, not on the route)
 *   [28..31] reserved, zero
 */
#define FO__ATT_TAG      0
#define FO__ATT_META     1
#define FO__ATT_ROUTES   4
#define FO__ATT_INFO     20
#define FO__ATT_LFGEN    24
#define FO__ATT_RESERVED 28
#define FO__ATT_WORDS    32

#define FO__ATT_PLAN           2
#define FO__PICK_TRIAL         0x1u
#define FO__PICK_SLOT_SHIFT    1
#define FO__PICK_PANIC         0x10u
#define FO__PICK_SLOTGEN_SHIFT 5
#define FO__PICK_EPOCH_SHIFT   8
#define FO__PICK_EPOCH_MASK    0xffu

/* FO_OK if the attempt is well formed and fits this router (router NULL:
 * well formed for some router). */
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
uint16_t fo__attempt_info(const fo_attempt *a, int index);
void fo__attempt_set_info(fo_attempt *a, int index, uint16_t info);
uint16_t fo__attempt_lfgen(const fo_attempt *a, int index);
void fo__attempt_set_lfgen(fo_attempt *a, int index, uint16_t gen);

/* ---- results (result.c) ------------------------------------------------ */

static inline bool fo__result_valid(int result)
{
    return result >= FO_RESULT_SUCCESS && result <= FO__RESULT_MAX;
}

static inline bool fo__class_valid(int cls)
{
    return cls >= FO_CLASS_SUCCESS && cls <= FO_CLASS_ROUTE_FAULT;
}

/* snprintf() for explanations, which are cut at their size on purpose. */
FO__PRINTF(3, 4)
void fo__textf(char *buf, size_t size, const char *fmt, ...);
/* Formats a duration for explanations: "15 s", "1.5 s", "250 ms". */
void fo__format_duration(char *buf, size_t size, uint64_t ns);

#endif /* FO_INTERNAL_H */
