/* Memory through the router's allocator (default: malloc/free). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *default_alloc(size_t size, void *userdata)
{
    (void)userdata;
    return malloc(size);
}

static void default_free(void *ptr, void *userdata)
{
    (void)userdata;
    free(ptr);
}

void fo__allocator_default(struct fo__allocator *a)
{
    a->alloc = default_alloc;
    a->free = default_free;
    a->userdata = NULL;
}

void *fo__alloc(const fo_router *router, const struct fo__allocator *a,
                size_t size)
{
    struct fo__cb_frame frame;
    void *p;

    if (size == 0)
        size = 1;
    fo__cb_enter(&frame, router, FO__CB_ALLOC);
    p = a->alloc(size, a->userdata);
    fo__cb_leave(&frame);
    return p;
}

void *fo__calloc(const fo_router *router, const struct fo__allocator *a,
                 size_t n, size_t size)
{
    void *p;

    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    p = fo__alloc(router, a, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void fo__free(const fo_router *router, const struct fo__allocator *a, void *p)
{
    struct fo__cb_frame frame;

    if (p == NULL)
        return;
    fo__cb_enter(&frame, router, FO__CB_ALLOC);
    a->free(p, a->userdata);
    fo__cb_leave(&frame);
}
