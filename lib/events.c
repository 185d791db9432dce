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

/* The next free record, or NULL when the queue is full. Lock held. */
static struct fo__event_rec *slot(fo_router *r, fo_event_kind kind,
                                  fo_log_level level)
{
    struct fo__events *q = &r->ev;
    struct fo__event_rec *e;

    if (q->count == q->cap)
        return NULL;
    e = &q->ring[(q->head + q->count) % q->cap];
    q->count++;
    memset(e, 0, sizeof *e);
    e->kind = (uint8_t)kind;
    e->level = (uint8_t)level;
    e->seq = ++q->seq;
    e->time_ns = r->now_ns;
    return e;
}

struct fo__event_rec *fo__event_new(fo_router *r, fo_event_kind kind,
                                    fo_log_level level)
{
    struct fo__events *q = &r->ev;
    struct fo__event_rec *e;

    if (!events_on(r))
        return NULL;
    if (q->cb == NULL && (uint32_t)level > q->log_level)
        return NULL; /* only a log listens, and not at this level */
    if (q->dropped_pending != 0) {
        /* The loss takes its place in the order, before what follows. */
        e = slot(r, FO_EVENT_DROPPED, FO_LOG_ERROR);
        if (e == NULL)
            goto drop;
        e->count = q->dropped_pending;
        snprintf(e->text, sizeof e->text,
                 "%" PRIu64 " events lost: the event queue was full",
                 q->dropped_pending);
        q->dropped_pending = 0;
    }
    e = slot(r, kind, level);
    if (e != NULL)
        return e;
drop:
    q->dropped_pending++;
    q->dropped++;
    return NULL;
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

/* Says where lost events were lost, at the end of the queue. Lock held. */
static void drops_at_end(fo_router *r)
{
    struct fo__events *q = &r->ev;
    struct fo__event_rec *d;

    if (q->count != 0 || q->dropped_pending == 0)
        return;
    d = slot(r, FO_EVENT_DROPPED, FO_LOG_ERROR);
    if (d != NULL) {
        d->count = q->dropped_pending;
        snprintf(d->text, sizeof d->text,
                 "%" PRIu64 " events lost: the event queue was full",
                 q->dropped_pending);
    }
    q->dropped_pending = 0;
}

void fo__events_deliver(fo_router *r)
{
    struct fo__events *q = &r->ev;
    struct fo__event_rec e;
    struct fo__cb_frame frame;
    fo_event ev;
    char line[2 * FO_REASON_TEXT_MAX + FO_ROUTE_NAME_MAX + 64];
    uint64_t limit;
    bool router_thread;

    fo__lock(r);
    if (q->delivering) {
        /* That thread delivers ours after the ones before them. */
        (void)pthread_mutex_unlock(&r->lock);
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
    router_thread = r->thread_running && pthread_equal(r->thread, q->deliverer);
    for (;;) {
        fo_event_cb cb;
        fo_log_cb log;
        void *cb_userdata, *log_userdata;
        uint64_t gen;
        bool logged;

        drops_at_end(r);
        if (q->count == 0)
            break;
        if (q->ring[q->head].seq > limit && r->thread_running &&
            !router_thread) {
            fo__wake(r);
            break;
        }
        e = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
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
        (void)pthread_mutex_unlock(&r->lock);

        fo__cb_enter(&frame, r, FO__CB_EVENT);
        to_event(&e, &ev);
        if (cb != NULL)
            cb(r, &ev, cb_userdata);
        if (atomic_load_explicit(&q->gen, memory_order_relaxed) != gen) {
            /* The event callback changed the callbacks: log to the log
             * callback set now, not to one that was removed. */
            fo__lock(r);
            log = q->log;
            log_userdata = q->log_userdata;
            logged = log != NULL && e.level <= q->log_level;
            q->call_gen = atomic_load_explicit(&q->gen, memory_order_relaxed);
            (void)pthread_mutex_unlock(&r->lock);
        }
        if (logged) {
            render(&e, line, sizeof line);
            log(r, (fo_log_level)e.level, line, &ev, log_userdata);
        }
        fo__cb_leave(&frame);

        fo__lock(r);
        q->running = false;
        (void)pthread_cond_broadcast(&q->idle);
    }
    q->delivering = false;
    (void)pthread_mutex_unlock(&r->lock);
}

/* ---- setting the callbacks ----------------------------------------------- */

/* Changes the callbacks, then waits until no callback set before the
 * change is running, unless this thread is the one running it. */
static int set(fo_router *router, bool is_log, fo_event_cb cb, fo_log_cb log,
               void *userdata, uint32_t level)
{
    struct fo__events *q = &router->ev;
    uint64_t gen;
    int rc = FO_OK;

    fo__lock(router);
    if ((cb != NULL || log != NULL) && q->ring == NULL) {
        /* All of it now: the calls that queue events never allocate. */
        q->ring = fo__alloc(router, &router->allocator,
                            FO_EVENT_QUEUE_MAX * sizeof *q->ring);
        if (q->ring == NULL) {
            rc = FO_ENOMEM;
            goto out;
        }
        q->cap = FO_EVENT_QUEUE_MAX;
        q->head = 0;
        q->count = 0;
    }
    if (is_log) {
        q->log = log;
        q->log_userdata = userdata;
        q->log_level = level;
    } else {
        q->cb = cb;
        q->cb_userdata = userdata;
    }
    gen = atomic_fetch_add_explicit(&q->gen, 1, memory_order_relaxed) + 1;
    if (!events_on(router)) {
        /* Nobody listens: what is queued goes unsaid. */
        q->count = 0;
        q->head = 0;
        q->dropped_pending = 0;
    }
    if (!(q->delivering && pthread_equal(q->deliverer, pthread_self()))) {
        while (q->running && q->call_gen < gen)
            (void)pthread_cond_wait(&q->idle, &router->lock);
    }
out:
    fo__unlock(router);
    return rc;
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
