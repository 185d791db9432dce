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

size_t fo__utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = c < 0x80           ? 1
               : (c >> 5) == 0x6  ? 2
               : (c >> 4) == 0xe  ? 3
               : (c >> 3) == 0x1e ? 4
                                  : 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0xf : c & 7;

    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void fo__utf8_trim(char *s)
{
    size_t len = strlen(s), i = len;

    /* Back over the continuation bytes to the last sequence's lead. */
    while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0)
        return;
    i--;
    if (fo__utf8_len((const unsigned char *)s + i) != len - i)
        s[i] = '\0';
}

/* A name is UTF-8 without control characters (C0, DEL, C1): it goes into
 * logs, terminals and Prometheus labels as it is. */
size_t fo__name_check(const char *name)
{
    size_t len = fo__name_len(name);

    for (size_t i = 0; i < len;) {
        const unsigned char *p = (const unsigned char *)name + i;
        size_t n = fo__utf8_len(p);

        if (n == 0 || i + n > len || p[0] < 0x20 || p[0] == 0x7f ||
            (p[0] == 0xc2 && p[1] < 0xa0))
            return 0;
        i += n;
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
