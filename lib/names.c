/* Names of routes and plans: validation and a chained hash index. */
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

size_t fo__name_len(const char *name)
{
    size_t len = strnlen(name, FO_ROUTE_NAME_MAX + 1);

    return len > FO_ROUTE_NAME_MAX ? 0 : len;
}

size_t fo__name_check(const char *name)
{
    size_t len = fo__name_len(name);

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return len;
}

void fo__name_set(struct fo__name *n, const char *text, size_t len)
{
    n->next = NULL;
    n->hash = name_hash(text, len);
    n->len = (uint32_t)len;
    memcpy(n->text, text, len);
    n->text[len] = '\0';
}

struct fo__name *fo__names_find(const struct fo__names *x, const char *text,
                                size_t len)
{
    uint32_t hash;

    if (x->nbuckets == 0 || len == 0)
        return NULL;
    hash = name_hash(text, len);
    for (struct fo__name *n = x->buckets[hash & (x->nbuckets - 1)]; n != NULL;
         n = n->next) {
        if (n->hash == hash && n->len == len && memcmp(n->text, text, len) == 0)
            return n;
    }
    return NULL;
}

static void link_into(struct fo__name **buckets, uint32_t nbuckets,
                      struct fo__name *n)
{
    struct fo__name **head = &buckets[n->hash & (nbuckets - 1)];

    n->next = *head;
    *head = n;
}

int fo__names_reserve(fo_router *r, struct fo__names *x)
{
    struct fo__name **buckets;
    uint32_t n;

    if (x->count + 1 <= x->nbuckets)
        return FO_OK;
    n = x->nbuckets ? x->nbuckets * 2 : 16;
    buckets = fo__calloc(r, &r->allocator, n, sizeof *buckets);
    if (buckets == NULL)
        return FO_ENOMEM;
    for (uint32_t i = 0; i < x->nbuckets; i++) {
        struct fo__name *e = x->buckets[i];

        while (e != NULL) {
            struct fo__name *next = e->next;

            link_into(buckets, n, e);
            e = next;
        }
    }
    fo__free(r, &r->allocator, x->buckets);
    x->buckets = buckets;
    x->nbuckets = n;
    return FO_OK;
}

void fo__names_link(struct fo__names *x, struct fo__name *n)
{
    link_into(x->buckets, x->nbuckets, n);
    x->count++;
}

void fo__names_unlink(struct fo__names *x, struct fo__name *n)
{
    struct fo__name **p = &x->buckets[n->hash & (x->nbuckets - 1)];

    while (*p != n)
        p = &(*p)->next;
    *p = n->next;
    n->next = NULL;
    x->count--;
}

void fo__names_release(fo_router *r, struct fo__names *x)
{
    fo__free(r, &r->allocator, x->buckets);
    memset(x, 0, sizeof *x);
}
