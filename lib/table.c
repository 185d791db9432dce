/*
 * Handle tables: slots of objects named by generation-tagged, salted ids
 * (the layout is in internal.h). Routes and plans each have one.
 *
 * Writers hold the router lock. Readers that do not (picks, reports) find
 * a slot's object through atomics; objects never move or go away while the
 * router lives, so what they find is always a valid object, which they
 * lock and check by id.
 */
#include <string.h>

#include "internal.h"

void fo__table_init(struct fo__table *t, uint64_t kind, uint32_t limit,
                    size_t obj_size, int (*obj_init)(void *),
                    void (*obj_fini)(fo_router *, void *))
{
    memset(t, 0, sizeof *t);
    atomic_init(&t->dir, NULL);
    atomic_init(&t->nslots, 0);
    t->free_head = FO__NO_SLOT;
    t->kind = kind;
    t->limit = limit;
    t->obj_size = obj_size;
    t->obj_init = obj_init;
    t->obj_fini = obj_fini;
}

struct fo__slot *fo__table_slot(const struct fo__table *t, uint32_t index)
{
    const struct fo__dir *d =
        atomic_load_explicit(&t->dir, memory_order_acquire);
    struct fo__chunk *chunk;

    if (d == NULL || (index >> FO__CHUNK_BITS) >= d->nchunks)
        return NULL;
    chunk = atomic_load_explicit(&d->chunk[index >> FO__CHUNK_BITS],
                                 memory_order_acquire);
    return chunk == NULL ? NULL : &chunk->slot[index & (FO__CHUNK - 1)];
}

/* A slot known to exist (made by a reserve). Router lock held. */
static struct fo__slot *slot_of(const struct fo__table *t, uint32_t index)
{
    const struct fo__dir *d =
        atomic_load_explicit(&t->dir, memory_order_relaxed);

    return &atomic_load_explicit(&d->chunk[index >> FO__CHUNK_BITS],
                                 memory_order_relaxed)
                ->slot[index & (FO__CHUNK - 1)];
}

/* Objects sit on their own cache lines: a route picked on one core and
 * another reported on the next never share one. */
#define FO__LINE 64u

static size_t stride_of(const struct fo__table *t)
{
    return (t->obj_size + FO__LINE - 1) / FO__LINE * FO__LINE;
}

/* A chunk of slots, with its objects made in one block. */
static struct fo__chunk *make_chunk(fo_router *r, struct fo__table *t)
{
    size_t stride = stride_of(t);
    struct fo__chunk *chunk = fo__calloc(r, &r->allocator, 1, sizeof *chunk);
    char *objs;
    uint32_t made = 0;

    if (chunk == NULL)
        return NULL;
    chunk->block = fo__calloc(r, &r->allocator, 1,
                              (size_t)FO__CHUNK * stride + FO__LINE - 1);
    if (chunk->block == NULL) {
        fo__free(r, &r->allocator, chunk);
        return NULL;
    }
    objs = (char *)chunk->block +
           (FO__LINE - (uintptr_t)chunk->block % FO__LINE) % FO__LINE;
    for (; made < FO__CHUNK; made++) {
        void *obj = objs + (size_t)made * stride;

        if (t->obj_init != NULL && t->obj_init(obj) != FO_OK)
            break;
        atomic_init(&chunk->slot[made].obj, obj);
    }
    if (made < FO__CHUNK) {
        while (made-- > 0)
            t->obj_fini(r, atomic_load_explicit(&chunk->slot[made].obj,
                                                memory_order_relaxed));
        fo__free(r, &r->allocator, chunk->block);
        fo__free(r, &r->allocator, chunk);
        return NULL;
    }
    return chunk;
}

/* One more chunk of slots (and a larger directory if it is full). */
static int grow(fo_router *r, struct fo__table *t)
{
    struct fo__dir *d = atomic_load_explicit(&t->dir, memory_order_relaxed);
    uint32_t used = fo__table_slots(t) >> FO__CHUNK_BITS;
    struct fo__chunk *chunk;

    if (d == NULL || used >= d->nchunks) {
        uint32_t n = d == NULL ? 4 : d->nchunks * 2;
        struct fo__dir *nd = fo__calloc(
            r, &r->allocator, 1, sizeof *nd + n * sizeof(struct fo__chunk *));

        if (nd == NULL)
            return FO_ENOMEM;
        nd->nchunks = n;
        for (uint32_t i = 0; d != NULL && i < d->nchunks; i++)
            atomic_init(&nd->chunk[i], atomic_load_explicit(
                                           &d->chunk[i], memory_order_relaxed));
        for (uint32_t i = d == NULL ? 0 : d->nchunks; i < n; i++)
            atomic_init(&nd->chunk[i], NULL);
        /* Readers may still hold the old directory: it stays. */
        nd->older = d;
        atomic_store_explicit(&t->dir, nd, memory_order_release);
        d = nd;
    }
    chunk = make_chunk(r, t);
    if (chunk == NULL)
        return FO_ENOMEM;
    atomic_store_explicit(&d->chunk[used], chunk, memory_order_release);
    return FO_OK;
}

int fo__table_reserve(fo_router *r, struct fo__table *t)
{
    uint32_t n = fo__table_slots(t);

    if (t->count >= t->limit)
        return FO_ELIMIT;
    if (t->free_head != FO__NO_SLOT)
        return FO_OK; /* a used slot: its object exists */
    if (n >= (1u << FO__ID_INDEX_BITS))
        return FO_ELIMIT; /* every index used or retired */
    if (fo__table_slot(t, n) == NULL)
        return grow(r, t);
    return FO_OK;
}

void *fo__table_insert(fo_router *r, struct fo__table *t, uint64_t *id)
{
    uint32_t index;
    struct fo__slot *s;

    if (t->free_head != FO__NO_SLOT) {
        index = t->free_head;
        s = slot_of(t, index);
        t->free_head = s->next_free;
    } else {
        index = fo__table_slots(t);
        s = slot_of(t, index);
        s->gen = 1;
        atomic_store_explicit(&t->nslots, index + 1, memory_order_release);
    }
    s->live = true;
    s->next_free = FO__NO_SLOT;
    t->count++;
    *id = t->kind | FO__MAKE_ID(s->gen, r->id_salt, index);
    return atomic_load_explicit(&s->obj, memory_order_relaxed);
}

void *fo__table_find(const fo_router *r, const struct fo__table *t, uint64_t id)
{
    uint32_t index = FO__ID_INDEX(id);
    const struct fo__slot *s;

    if ((id & FO__ID_KIND_PLAN) != t->kind || FO__ID_SALT(id) != r->id_salt ||
        FO__ID_GEN(id) == 0 || index >= fo__table_slots(t))
        return NULL;
    s = fo__table_slot(t, index);
    return s == NULL ? NULL
                     : atomic_load_explicit(&s->obj, memory_order_acquire);
}

void *fo__table_get(const fo_router *r, const struct fo__table *t, uint64_t id)
{
    uint32_t index = FO__ID_INDEX(id);
    const struct fo__slot *s;

    if ((id & FO__ID_KIND_PLAN) != t->kind || FO__ID_SALT(id) != r->id_salt ||
        index >= fo__table_slots(t))
        return NULL;
    s = fo__table_slot(t, index);
    if (s == NULL || !s->live || s->gen != FO__ID_GEN(id))
        return NULL;
    return atomic_load_explicit(&s->obj, memory_order_relaxed);
}

void *fo__table_at(const struct fo__table *t, uint32_t index)
{
    const struct fo__slot *s = fo__table_slot(t, index);

    return s == NULL ? NULL
                     : atomic_load_explicit(&s->obj, memory_order_acquire);
}

bool fo__table_live(const struct fo__table *t, uint32_t index)
{
    const struct fo__slot *s = fo__table_slot(t, index);

    return s != NULL && s->live;
}

void fo__table_remove(struct fo__table *t, uint64_t id)
{
    uint32_t index = FO__ID_INDEX(id);
    struct fo__slot *s = slot_of(t, index);

    s->live = false;
    if (s->gen >= FO__ID_GEN_MAX) {
        /* Generation exhausted: retire the slot so the id never repeats. */
        s->next_free = FO__NO_SLOT;
    } else {
        s->gen++;
        s->next_free = t->free_head;
        t->free_head = index;
    }
    t->count--;
}

void fo__table_release(fo_router *r, struct fo__table *t)
{
    struct fo__dir *d = atomic_load_explicit(&t->dir, memory_order_relaxed);

    if (d != NULL) {
        for (uint32_t c = 0; c < d->nchunks; c++) {
            struct fo__chunk *chunk =
                atomic_load_explicit(&d->chunk[c], memory_order_relaxed);

            if (chunk == NULL)
                continue;
            for (uint32_t i = 0; i < FO__CHUNK; i++)
                if (t->obj_fini != NULL)
                    t->obj_fini(r, atomic_load_explicit(&chunk->slot[i].obj,
                                                        memory_order_relaxed));
            fo__free(r, &r->allocator, chunk->block);
            fo__free(r, &r->allocator, chunk);
        }
    }
    while (d != NULL) {
        struct fo__dir *older = d->older;

        fo__free(r, &r->allocator, d);
        d = older;
    }
    fo__table_init(t, t->kind, t->limit, t->obj_size, t->obj_init, t->obj_fini);
}
