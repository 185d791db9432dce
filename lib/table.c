/*
 * Handle tables: slots of objects named by generation-tagged, salted ids
 * (the layout is in internal.h). Routes and plans each have one.
 */
#include <string.h>

#include "internal.h"

void fo__table_init(struct fo__table *t, uint64_t kind, uint32_t limit)
{
    memset(t, 0, sizeof *t);
    t->free_head = FO__NO_SLOT;
    t->kind = kind;
    t->limit = limit;
}

int fo__table_reserve(fo_router *r, struct fo__table *t)
{
    struct fo__slot *slots;
    uint32_t cap;

    if (t->count >= t->limit)
        return FO_ELIMIT;
    if (t->free_head != FO__NO_SLOT || t->nslots < t->capacity)
        return FO_OK;
    cap = t->capacity ? t->capacity * 2 : 8;
    if (cap > (1u << FO__ID_INDEX_BITS))
        cap = 1u << FO__ID_INDEX_BITS;
    if (cap <= t->nslots)
        return FO_ELIMIT; /* every index used or retired */
    slots = fo__calloc(r, &r->allocator, cap, sizeof *slots);
    if (slots == NULL)
        return FO_ENOMEM;
    if (t->nslots > 0)
        memcpy(slots, t->slots, t->nslots * sizeof *slots);
    fo__free(r, &r->allocator, t->slots);
    t->slots = slots;
    t->capacity = cap;
    return FO_OK;
}

uint64_t fo__table_insert(fo_router *r, struct fo__table *t, void *obj)
{
    uint32_t index;

    if (t->free_head != FO__NO_SLOT) {
        index = t->free_head;
        t->free_head = t->slots[index].next_free;
    } else {
        index = t->nslots++;
        t->slots[index].gen = 1;
    }
    t->slots[index].obj = obj;
    t->slots[index].next_free = FO__NO_SLOT;
    t->count++;
    return t->kind | FO__MAKE_ID(t->slots[index].gen, r->id_salt, index);
}

void *fo__table_get(const fo_router *r, const struct fo__table *t, uint64_t id)
{
    uint32_t index = FO__ID_INDEX(id);
    const struct fo__slot *slot;

    if ((id & FO__ID_KIND_PLAN) != t->kind || FO__ID_SALT(id) != r->id_salt ||
        index >= t->nslots)
        return NULL;
    slot = &t->slots[index];
    if (slot->obj == NULL || slot->gen != FO__ID_GEN(id))
        return NULL;
    return slot->obj;
}

void fo__table_remove(struct fo__table *t, uint64_t id)
{
    uint32_t index = FO__ID_INDEX(id);
    struct fo__slot *slot = &t->slots[index];

    slot->obj = NULL;
    if (slot->gen >= FO__ID_GEN_MAX) {
        /* Generation exhausted: retire the slot so the id never repeats. */
        slot->next_free = FO__NO_SLOT;
    } else {
        slot->gen++;
        slot->next_free = t->free_head;
        t->free_head = index;
    }
    t->count--;
}

void fo__table_release(fo_router *r, struct fo__table *t)
{
    fo__free(r, &r->allocator, t->slots);
    fo__table_init(t, t->kind, t->limit);
}
