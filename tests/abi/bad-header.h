/* A broken header: check-docs must reject it. */
#include <failover/common.h>

/**
 * @brief Documented, but says nothing about threads, versions, its
 * parameter or its errors.
 * @return 0.
 */
FO_API int fo_undocumented_contract(int count);

FO_API int fo_no_comment_at_all(void);
