/*
 * Events and the log.
 *
 * Events are queued under the router lock, in the order they happen, and
 * delivered after it is released: every public call unlocks through
 * fo__unlock(), which delivers what it queued. One thread delivers at a
 * time (the "deliverer"); a thread that queues events while another
 * delivers leaves them to it, so callbacks never run concurrently and
 * always in sequence order. A callback that calls back into the library
 * queues more events, which the same loop delivers after it returns.
 *
 * The queue is a ring of FO_EVENT_QUEUE_MAX events, allocated whole when a
 * callback is first set, so queueing never allocates; when it is full,
 * events are counted and a single DROPPED event takes their place in the
 * order.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *fo_event_kind_name(fo_event_kind kind)
{
    switch (kind) {
    case FO_EVENT_STATE:
        return "STATE";
    case FO_EVENT_UPDATE:
        return "UPDATE";
    case FO_EVENT_GUARD:
        return "GUARD";
    case FO_EVENT_PANIC_STARTED:
        return "PANIC_STARTED";
    case FO_EVENT_PANIC_ENDED:
        return "PANIC_ENDED";
    case FO_EVENT_LOCAL_FAULT:
        return "LOCAL_FAULT";
    case FO_EVENT_LOCAL_FAULT_ENDED:
        return "LOCAL_FAULT_ENDED";
    case FO_EVENT_ROUTE_ADDED:
        return "ROUTE_ADDED";
    case FO_EVENT_ROUTE_REMOVED:
        return "ROUTE_REMOVED";
    case FO_EVENT_DROPPED:
        return "DROPPED";
    }
    return "UNKNOWN";
}

void fo__textf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (size > 0)
        fo__utf8_trim(buf); /* never half a character at the cut */
}

const char *fo_log_level_name(fo_log_level level)
{
    switch (level) {
    case FO_LOG_ERROR:
        return "ERROR";
    case FO_LOG_WARNING:
        return "WARNING";
    case FO_LOG_INFO:
        return "INFO";
    case FO_LOG_DEBUG:
        return "DEBUG";
    }
    return "UNKNOWN";
}

static bool events_on(const fo_router *r)
{
    return r->ev.cb != NULL || r->ev.log != NULL;
}

/* The most detailed level anyone listens at (an event callback hears
 * everything), 0 for nobody. ev.lock held. */
static void update_want(fo_router *r)
{
    struct fo__events *q = &r->ev;
    uint32_t want = q->cb != NULL    ? FO_LOG_DEBUG
                    : q->log != NULL ? q->log_level
                                     : 0;

    atomic_store_explicit(&q->want, want, memory_order_relaxed);
}

static void update_pending(fo_router *r)
{
    struct fo__events *q = &r->ev;

    atomic_store_explicit(&q->pending, q->count != 0 || q->dropped_pending != 0,
                          memory_order_release);
}

/* The next free record, or NULL when the queue is full. ev.lock held. */
static struct fo__event_rec *slot(fo_router *r)
{
    struct fo__events *q = &r->ev;

    if (q->count == q->cap)
        return NULL;
    q->count++;
    return &q->ring[(q->head + q->count - 1) % q->cap];
}

static void dropped_record(struct fo__event_rec *e, uint64_t count,
                           uint64_t seq, uint64_t now)
{
    memset(e, 0, sizeof *e);
    e->kind = FO_EVENT_DROPPED;
    e->level = FO_LOG_ERROR;
    e->seq = seq;
    e->time_ns = now;
    e->count = count;
    snprintf(e->text, sizeof e->text,
             "%" PRIu64 " events lost: the event queue was full", count);
}

bool fo__event_begin(fo_router *r, struct fo__event_rec *e, fo_event_kind kind,
                     fo_log_level level, uint64_t now)
{
    if ((uint32_t)level >
        atomic_load_explicit(&r->ev.want, memory_order_relaxed))
        return false; /* nobody listens at this level: costs nothing */
    memset(e, 0, sizeof *e);
    e->kind = (uint8_t)kind;
    e->level = (uint8_t)level;
    e->time_ns = now;
    e->route = FO_ROUTE_ID_NONE;
    return true;
}

void fo__event_push(fo_router *r, const struct fo__event_rec *rec)
{
    struct fo__events *q = &r->ev;
    struct fo__event_rec *e;

    (void)pthread_mutex_lock(&q->lock);
    if (!events_on(r) || (q->cb == NULL && rec->level > q->log_level))
        goto out; /* the listeners changed meanwhile */
    if (q->dropped_pending != 0) {
        /* The loss takes its place in the order, before what follows. */
        e = slot(r);
        if (e == NULL)
            goto drop;
        dropped_record(e, q->dropped_pending, ++q->seq, rec->time_ns);
        q->dropped_pending = 0;
    }
    e = slot(r);
    if (e == NULL)
        goto drop;
    *e = *rec;
    e->seq = ++q->seq;
    /* Calls read the clock before their locks: two of them may queue in
     * the other order. Events never go back in time. */
    if (e->time_ns < q->last_time)
        e->time_ns = q->last_time;
    q->last_time = e->time_ns;
    goto out;
drop:
    q->dropped_pending++;
    q->dropped++;
out:
    update_pending(r);
    (void)pthread_mutex_unlock(&q->lock);
}

void fo__event_route(fo_router *r, struct fo__event_rec *e,
                     struct fo__route *rt, uint64_t now)
{
    struct fo__health *h = &rt->health;
    double penalty = fo__damp_value(&h->damp, &r->cfg, now);
    uint64_t until = 0;

    fo__window_advance(&h->window, now, r->cfg.bucket_ns);

    e->route = rt->id;
    memcpy(e->name, rt->name.text, rt->name.len + 1);
    e->old_state = h->state;
    e->new_state = h->state;
    e->consecutive_faults = h->consecutive_faults;
    e->penalty =
        penalty > (double)UINT32_MAX ? UINT32_MAX : (uint32_t)(penalty + 0.5);
    e->window_attempts = h->window.volume;
    e->window_faults = h->window.faults;
    switch ((fo_route_state)h->state) {
    case FO_STATE_EJECTED:
        if (h->hold_cause != FO__HOLD_REGISTRATION)
            until = h->hold_down_until_ns;
        break;
    case FO_STATE_SUPPRESSED:
        until = fo__damp_reuse_at(&h->damp, &r->cfg);
        break;
    case FO_STATE_DRILL:
        until = h->drill_until_ns;
        break;
    default:
        break;
    }
    if (h->health == FO_STATE_EJECTED)
        e->hold_down_ns = h->hold_down_ns;
    e->until_ns = until == UINT64_MAX ? 0 : until;
}

/* ---- delivery ------------------------------------------------------------ */

static void to_event(const struct fo__event_rec *e, fo_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->size = sizeof *ev;
    ev->kind = (fo_event_kind)e->kind;
    ev->reason = (fo_reason)e->reason;
    ev->seq = e->seq;
    ev->time_ns = e->time_ns;
    ev->route = e->route;
    ev->route_name = e->name;
    ev->plan = e->plan;
    ev->old_state = (fo_route_state)e->old_state;
    ev->new_state = (fo_route_state)e->new_state;
    ev->text = e->text;
    ev->consecutive_faults = e->consecutive_faults;
    ev->penalty = e->penalty;
    ev->window_attempts = e->window_attempts;
    ev->window_faults = e->window_faults;
    ev->hold_down_ns = e->hold_down_ns;
    ev->until_ns = e->until_ns;
    ev->count = e->count;
}

/* The log line of an event. */
static void render(const struct fo__event_rec *e, char *buf, size_t size)
{
    const char *reason = fo_reason_name((fo_reason)e->reason);
    const char *state = fo_route_state_name((fo_route_state)e->new_state);

    switch ((fo_event_kind)e->kind) {
    case FO_EVENT_STATE:
        snprintf(buf, size, "%s: %s -> %s (%s): %s", e->name,
                 fo_route_state_name((fo_route_state)e->old_state), state,
                 reason, e->text);
        break;
    case FO_EVENT_UPDATE:
    case FO_EVENT_GUARD:
        snprintf(buf, size, "%s: %s (%s): %s", e->name, state, reason, e->text);
        break;
    case FO_EVENT_ROUTE_ADDED:
    case FO_EVENT_ROUTE_REMOVED:
        snprintf(buf, size, "%s: %s", e->name, e->text);
        break;
    case FO_EVENT_PANIC_STARTED:
        snprintf(buf, size, "panic: %s", e->text);
        break;
    case FO_EVENT_PANIC_ENDED:
        snprintf(buf, size, "panic over: %s", e->text);
        break;
    case FO_EVENT_LOCAL_FAULT:
        snprintf(buf, size, "local fault suspected: %s", e->text);
        break;
    case FO_EVENT_LOCAL_FAULT_ENDED:
        snprintf(buf, size, "local fault over: %s", e->text);
        break;
    case FO_EVENT_DROPPED:
    default:
        snprintf(buf, size, "%s", e->text);
        break;
    }
}

/* Says where lost events were lost, at the end of the queue. ev.lock
 * held. */
static void drops_at_end(fo_router *r, uint64_t now)
{
    struct fo__events *q = &r->ev;
    struct fo__event_rec *d;

    if (q->count != 0 || q->dropped_pending == 0)
        return;
    d = slot(r);
    if (d != NULL)
        dropped_record(d, q->dropped_pending, ++q->seq, now);
    q->dropped_pending = 0;
}

void fo__events_deliver(fo_router *r)
{
    struct fo__events *q = &r->ev;
    struct fo__event_rec e;
    struct fo__cb_frame frame;
    fo_event ev;
    char line[2 * FO_REASON_TEXT_MAX + FO_ROUTE_NAME_MAX + 64];
    uint64_t limit, last_time = 0;
    bool router_thread, thread_runs;

    (void)pthread_mutex_lock(&q->lock);
    if (q->delivering) {
        /* That thread delivers ours after the ones before them. */
        (void)pthread_mutex_unlock(&q->lock);
        return;
    }
    q->delivering = true;
    q->deliverer = pthread_self();
    /* A caller delivers what was queued when it started (its own events
     * among them); what other threads queue meanwhile goes to the router's
     * thread, if it runs, so no call on the call path is held up for
     * long by the callbacks of others. Without that thread someone must
     * deliver them, and it is this caller. */
    limit = q->seq;
    thread_runs = atomic_load_explicit(&r->thread_active, memory_order_acquire);
    router_thread = thread_runs && pthread_equal(r->thread, q->deliverer);
    for (;;) {
        fo_event_cb cb;
        fo_log_cb log;
        void *cb_userdata, *log_userdata;
        uint64_t gen;
        bool logged;

        drops_at_end(r, last_time);
        if (q->count == 0)
            break;
        if (q->ring[q->head].seq > limit && thread_runs && !router_thread) {
            fo__wake(r);
            break;
        }
        e = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        last_time = e.time_ns;
        cb = q->cb;
        cb_userdata = q->cb_userdata;
        log = q->log;
        log_userdata = q->log_userdata;
        logged = log != NULL && e.level <= q->log_level;
        if (cb == NULL && !logged)
            continue;
        gen = atomic_load_explicit(&q->gen, memory_order_relaxed);
        q->running = true;
        q->call_gen = gen;
        q->delivered++;
        (void)pthread_mutex_unlock(&q->lock);

        fo__cb_enter(&frame, r, FO__CB_EVENT);
        to_event(&e, &ev);
        if (cb != NULL)
            cb(r, &ev, cb_userdata);
        if (atomic_load_explicit(&q->gen, memory_order_relaxed) != gen) {
            /* The event callback changed the callbacks: log to the log
             * callback set now, not to one that was removed. */
            (void)pthread_mutex_lock(&q->lock);
            log = q->log;
            log_userdata = q->log_userdata;
            logged = log != NULL && e.level <= q->log_level;
            q->call_gen = atomic_load_explicit(&q->gen, memory_order_relaxed);
            (void)pthread_mutex_unlock(&q->lock);
        }
        if (logged) {
            render(&e, line, sizeof line);
            log(r, (fo_log_level)e.level, line, &ev, log_userdata);
        }
        fo__cb_leave(&frame);

        (void)pthread_mutex_lock(&q->lock);
        q->running = false;
        (void)pthread_cond_broadcast(&q->idle);
    }
    q->delivering = false;
    update_pending(r);
    (void)pthread_mutex_unlock(&q->lock);
}

/* ---- setting the callbacks ----------------------------------------------- */

/* Changes the callbacks, then waits until no callback set before the
 * change is running, unless this thread is the one running it. */
static int set(fo_router *router, bool is_log, fo_event_cb cb, fo_log_cb log,
               void *userdata, uint32_t level)
{
    struct fo__events *q = &router->ev;
    uint64_t gen;

    if (cb != NULL || log != NULL) {
        /* All of it now: the calls that queue events never allocate. The
         * allocator runs under the router lock. */
        fo__lock(router);
        if (q->ring == NULL) {
            struct fo__event_rec *ring = fo__alloc(
                router, &router->allocator, FO_EVENT_QUEUE_MAX * sizeof *ring);

            if (ring == NULL) {
                fo__unlock(router);
                return FO_ENOMEM;
            }
            (void)pthread_mutex_lock(&q->lock);
            q->ring = ring;
            q->cap = FO_EVENT_QUEUE_MAX;
            q->head = 0;
            q->count = 0;
            (void)pthread_mutex_unlock(&q->lock);
        }
        fo__unlock(router);
    }
    (void)pthread_mutex_lock(&q->lock);
    if (is_log) {
        q->log = log;
        q->log_userdata = userdata;
        q->log_level = log != NULL ? level : 0;
    } else {
        q->cb = cb;
        q->cb_userdata = userdata;
    }
    gen = atomic_fetch_add_explicit(&q->gen, 1, memory_order_relaxed) + 1;
    update_want(router);
    if (!events_on(router)) {
        /* Nobody listens: what is queued goes unsaid. */
        q->count = 0;
        q->head = 0;
        q->dropped_pending = 0;
        update_pending(router);
    }
    if (!(q->delivering && pthread_equal(q->deliverer, pthread_self()))) {
        while (q->running && q->call_gen < gen)
            (void)pthread_cond_wait(&q->idle, &q->lock);
    }
    (void)pthread_mutex_unlock(&q->lock);
    fo__flush(router);
    return FO_OK;
}

int fo_router_set_event_cb(fo_router *router, fo_event_cb cb, void *userdata)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    return set(router, false, cb, NULL, userdata, 0);
}

int fo_router_set_log_cb(fo_router *router, fo_log_level level, fo_log_cb cb,
                         void *userdata)
{
    int rc = fo__enter(router);

    if (rc != FO_OK)
        return rc;
    if (cb != NULL && (level < FO_LOG_ERROR || level > FO_LOG_DEBUG))
        return FO_EINVAL;
    return set(router, true, NULL, cb, userdata, (uint32_t)level);
}

void fo__events_release(fo_router *r)
{
    if (r->ev.ring != NULL)
        fo__free(r, &r->allocator, r->ev.ring);
    r->ev.ring = NULL;
}
