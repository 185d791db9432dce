/*
 * libfailover: error codes.
 *
 * Every fallible function returns int: FO_OK (0) on success or one of the
 * negative codes below. The values are pinned: a code is never renumbered
 * and a retired code is never reused.
 */
#ifndef FAILOVER_ERROR_H
#define FAILOVER_ERROR_H

#include <failover/common.h>

FO_BEGIN_DECLS

/**
 * The error table: XX(name, value, message) for every code.
 *
 * The enum below, fo_error_name() and fo_strerror() are all generated
 * from this one table. New codes are appended with the next free value.
 */
#define FO_ERROR_MAP(XX)                                                       \
    XX(OK, 0, "success")                                                       \
    XX(EINVAL, -1, "invalid argument")                                         \
    XX(ENOMEM, -2, "out of memory")                                            \
    XX(ENOENT, -3, "no such route")                                            \
    XX(EEXIST, -4, "already exists")                                           \
    XX(EBUSY, -5, "not allowed from inside a callback")                        \
    XX(ENOROUTE, -6, "no eligible route")                                      \
    XX(EVERSION, -7, "unsupported structure size or version")                  \
    XX(ERANGE, -8, "value out of range")                                       \
    XX(ELIMIT, -9, "limit reached")                                            \
    XX(ESYS, -10, "system resource error")                                     \
    XX(EALREADY, -11, "result already reported for this attempt")

/**
 * @brief Error codes returned by libfailover functions.
 */
typedef enum fo_error {
#define FO_ERROR_ENUM_ENTRY_(name, value, message) FO_##name = (value),
    FO_ERROR_MAP(FO_ERROR_ENUM_ENTRY_)
#undef FO_ERROR_ENUM_ENTRY_
} fo_error;

/**
 * @brief A human-readable message for an error code.
 *
 * @param[in] code Any int; codes the library does not know get
 *                 "unknown error".
 * @return A static string; never NULL, never allocated.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API const char *fo_strerror(int code);

/**
 * @brief The symbolic name of an error code, e.g. "FO_EINVAL".
 *
 * @param[in] code Any int; codes the library does not know get "unknown".
 * @return A static string; never NULL, never allocated.
 * @since 0.1
 * Thread safety: MT-Safe.
 * Callback-safe: yes.
 */
FO_API const char *fo_error_name(int code);

FO_END_DECLS

#endif /* FAILOVER_ERROR_H */
