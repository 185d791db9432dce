/* Error names and messages, generated from FO_ERROR_MAP. */
#include "internal.h"

const char *fo_strerror(int code)
{
    switch (code) {
#define FO_ERROR_MESSAGE_CASE(name, value, message)                            \
    case (value):                                                              \
        return message;
        FO_ERROR_MAP(FO_ERROR_MESSAGE_CASE)
#undef FO_ERROR_MESSAGE_CASE
    default:
        return "unknown error";
    }
}

const char *fo_error_name(int code)
{
    switch (code) {
#define FO_ERROR_NAME_CASE(name, value, message)                               \
    case (value):                                                              \
        return "FO_" #name;
        FO_ERROR_MAP(FO_ERROR_NAME_CASE)
#undef FO_ERROR_NAME_CASE
    default:
        return "unknown";
    }
}
