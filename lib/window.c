/*
 * The sliding failure window: FO__WINDOW_BUCKETS buckets of bucket_ns
 * each, indexed by period number (now / bucket_ns). Advancing clears the
 * buckets that fell out of the window and subtracts them from the running
 * sums, so adding a result and reading a rate are O(1).
 */
#include <string.h>

#include "internal.h"

void fo__window_reset(struct fo__window *w)
{
    uint64_t head = w->head, head_end = w->head_end_ns;

    memset(w, 0, sizeof *w);
    w->head = head;
    w->head_end_ns = head_end;
}

static void drop_bucket(struct fo__window *w, struct fo__bucket *b)
{
    w->volume -= b->volume;
    w->faults -= b->faults;
    w->timed -= b->timed;
    w->slow -= b->slow;
    memset(b, 0, sizeof *b);
}

void fo__window_advance(struct fo__window *w, uint64_t now, uint64_t bucket_ns)
{
    uint64_t period;

    if (now < w->head_end_ns)
        return; /* the newest bucket still: no division */
    period = now / bucket_ns;
    w->head_end_ns =
        period < UINT64_MAX / bucket_ns ? (period + 1) * bucket_ns : UINT64_MAX;
    if (period <= w->head)
        return; /* same bucket (time never goes back inside a router) */
    if (period - w->head >= FO__WINDOW_BUCKETS) {
        fo__window_reset(w);
    } else {
        for (uint64_t p = w->head + 1; p <= period; p++)
            drop_bucket(w, &w->b[p % FO__WINDOW_BUCKETS]);
    }
    w->head = period;
}

void fo__window_add(struct fo__window *w, uint64_t now, uint64_t bucket_ns,
                    bool fault, bool timed, bool slow)
{
    struct fo__bucket *b;

    fo__window_advance(w, now, bucket_ns);
    b = &w->b[w->head % FO__WINDOW_BUCKETS];
    if (b->volume == UINT16_MAX)
        return; /* full: the bucket keeps its sample */
    b->volume++;
    w->volume++;
    if (fault) {
        b->faults++;
        w->faults++;
    }
    if (timed) {
        b->timed++;
        w->timed++;
        if (slow) {
            b->slow++;
            w->slow++;
        }
    }
}
