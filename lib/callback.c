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

/* initial-exec: a plain TLS offset instead of a __tls_get_addr() call on
 * every public entry (the library is not meant for dlopen() after
 * startup into a process short of static TLS space). */
#if defined(__GNUC__)
#define FO__TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define FO__TLS_MODEL
#endif
static _Thread_local struct fo__cb_frame *fo__cb_top FO__TLS_MODEL;

void fo__cb_enter(struct fo__cb_frame *frame, const fo_router *router,
                  unsigned kind)
{
    frame->router = router;
    frame->kind = kind;
    frame->prev = fo__cb_top;
    fo__cb_top = frame;
}

void fo__cb_leave(struct fo__cb_frame *frame)
{
    fo__cb_top = frame->prev;
}

bool fo__cb_active(const fo_router *router, unsigned kind_mask)
{
    for (const struct fo__cb_frame *f = fo__cb_top; f != NULL; f = f->prev) {
        if (f->router == router && (f->kind & kind_mask) != 0)
            return true;
    }
    return false;
}
