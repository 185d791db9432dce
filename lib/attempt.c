/*
 * The attempt context: a caller-owned, copyable record of the routes one
 * call has tried. Its layout is private (see internal.h) and made of
 * uint64_t words only, so it is read and written without type punning.
 */
#include <string.h>

#include "internal.h"

_Static_assert(FO__ATT_ROUTES + FO_ATTEMPT_MAX_ROUTES <= FO__ATT_WORDS,
               "fo_attempt is too small for FO_ATTEMPT_MAX_ROUTES");
_Static_assert(sizeof(((fo_attempt *)0)->fo_private_) ==
                   FO__ATT_WORDS * sizeof(uint64_t),
               "fo_attempt layout changed: it is part of the ABI");
_Static_assert(FO_ATTEMPT_MAX_ROUTES <= 32,
               "the reported mask holds 32 routes");
_Static_assert(FO__ATT_INFO + FO_ATTEMPT_MAX_ROUTES / 4 <= FO__ATT_LFGEN &&
                   FO__ATT_LFGEN + FO_ATTEMPT_MAX_ROUTES / 4 <=
                       FO__ATT_RESERVED,
               "pick information needs 2 x 16 bits per route");
_Static_assert(FO_MAX_TRIAL_CONCURRENCY <= 8,
               "pick information holds a 3-bit trial slot");

int fo__attempt_check(const fo_attempt *a, const fo_router *router)
{
    const uint64_t *w = a->fo_private_;
    uint32_t count = (uint32_t)(w[FO__ATT_META] & 0xffffffffu);
    uint32_t reported = (uint32_t)(w[FO__ATT_META] >> 32);

    if (count > FO_ATTEMPT_MAX_ROUTES)
        return FO_EINVAL;
    if (count < 32 && (reported >> count) != 0)
        return FO_EINVAL;
    if (w[3] != 0)
        return FO_EINVAL;
    if (count != 0 && w[FO__ATT_TAG] == 0)
        return FO_EINVAL;
    if (router != NULL && w[FO__ATT_TAG] != 0 && w[FO__ATT_TAG] != router->tag)
        return FO_EINVAL;
    for (uint32_t i = 0; i < FO_ATTEMPT_MAX_ROUTES; i++) {
        uint64_t id = w[FO__ATT_ROUTES + i];

        if ((i < count) != (id != FO_ROUTE_ID_NONE))
            return FO_EINVAL;
    }
    for (uint32_t i = count; i < FO_ATTEMPT_MAX_ROUTES; i++) {
        if (fo__attempt_info(a, (int)i) != 0 ||
            fo__attempt_lfgen(a, (int)i) != 0)
            return FO_EINVAL;
    }
    for (uint32_t i = FO__ATT_RESERVED; i < FO__ATT_WORDS; i++) {
        if (w[i] != 0)
            return FO_EINVAL;
    }
    return FO_OK;
}

int fo__attempt_find(const fo_attempt *a, fo_route_id route)
{
    uint32_t count = fo__attempt_count(a);

    for (uint32_t i = 0; i < count; i++) {
        if (a->fo_private_[FO__ATT_ROUTES + i] == route)
            return (int)i;
    }
    return -1;
}

bool fo__attempt_reported(const fo_attempt *a, int index)
{
    return ((a->fo_private_[FO__ATT_META] >> 32) >> index) & 1u;
}

int fo__attempt_append(fo_attempt *a, const fo_router *router,
                       fo_route_id route)
{
    uint32_t count = fo__attempt_count(a);

    a->fo_private_[FO__ATT_TAG] = router->tag;
    a->fo_private_[FO__ATT_ROUTES + count] = route;
    a->fo_private_[FO__ATT_META] += 1; /* count is the low word */
    return (int)count;
}

void fo__attempt_mark_reported(fo_attempt *a, int index)
{
    a->fo_private_[FO__ATT_META] |= (uint64_t)1 << (32 + index);
}

uint16_t fo__attempt_info(const fo_attempt *a, int index)
{
    uint64_t word = a->fo_private_[FO__ATT_INFO + index / 4];

    return (uint16_t)(word >> (16 * (index % 4)));
}

void fo__attempt_set_info(fo_attempt *a, int index, uint16_t info)
{
    uint64_t *word = &a->fo_private_[FO__ATT_INFO + index / 4];
    unsigned shift = 16u * (unsigned)(index % 4);

    *word = (*word & ~((uint64_t)0xffffu << shift)) | ((uint64_t)info << shift);
}

static uint16_t get16(const fo_attempt *a, int base, int index)
{
    return (uint16_t)(a->fo_private_[base + index / 4] >> (16 * (index % 4)));
}

static void set16(fo_attempt *a, int base, int index, uint16_t v)
{
    uint64_t *word = &a->fo_private_[base + index / 4];
    unsigned shift = 16u * (unsigned)(index % 4);

    *word = (*word & ~((uint64_t)0xffffu << shift)) | ((uint64_t)v << shift);
}

uint16_t fo__attempt_lfgen(const fo_attempt *a, int index)
{
    return get16(a, FO__ATT_LFGEN, index);
}

void fo__attempt_set_lfgen(fo_attempt *a, int index, uint16_t gen)
{
    set16(a, FO__ATT_LFGEN, index, gen);
}

int fo_attempt_init(fo_attempt *attempt)
{
    if (attempt == NULL)
        return FO_EINVAL;
    memset(attempt, 0, sizeof *attempt);
    return FO_OK;
}

int fo_attempt_init_plan(fo_attempt *attempt, fo_plan_id plan)
{
    if (attempt == NULL)
        return FO_EINVAL;
    memset(attempt, 0, sizeof *attempt);
    attempt->fo_private_[FO__ATT_PLAN] = plan;
    return FO_OK;
}

/* Well formed, whichever router it belongs to. */
static bool attempt_sane(const fo_attempt *a)
{
    return a != NULL && fo__attempt_check(a, NULL) == FO_OK;
}

size_t fo_attempt_count(const fo_attempt *attempt)
{
    if (!attempt_sane(attempt))
        return 0;
    return fo__attempt_count(attempt);
}

fo_route_id fo_attempt_route(const fo_attempt *attempt, size_t index)
{
    if (!attempt_sane(attempt) || index >= fo__attempt_count(attempt))
        return FO_ROUTE_ID_NONE;
    return attempt->fo_private_[FO__ATT_ROUTES + index];
}
