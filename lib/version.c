/* The running library's version. */
#include "internal.h"

unsigned fo_version(void)
{
    return FO_VERSION_NUMBER;
}

const char *fo_version_string(void)
{
    return FO_VERSION_STRING;
}
