/*
 * Reentrancy detection.
 *
 * Before invoking a user callback the library pushes a frame on a
 * thread-local list; public entry points consult it to refuse calls that
 * are not allowed from inside that callback (FO_EBUSY), the way curl
 * reports CURLE_RECURSIVE_API_CALL. Frames live on the caller's stack, so
 * nothing is allocated and nothing outlives the callback.
 */
#include "internal.h"

_Thread_local struct fo__cb_frame *fo__cb_top FO__TLS_MODEL;

bool fo__cb_active_slow(const fo_router *router, unsigned kind_mask)
{
    for (const struct fo__cb_frame *f = fo__cb_top; f != NULL; f = f->prev) {
        if (f->router == router && (f->kind & kind_mask) != 0)
            return true;
    }
    return false;
}
