/* Version macros and the running library's version agree. */
#include "helpers.h"

#include <stdio.h>

static void test_runtime_matches_headers(void **state)
{
    (void)state;
    assert_int_equal(fo_version(), FO_VERSION_NUMBER);
    assert_string_equal(fo_version_string(), FO_VERSION_STRING);
}

static void test_number_matches_string(void **state)
{
    char buf[32];

    (void)state;
    snprintf(buf, sizeof buf, "%u.%u.%u", (fo_version() >> 16) & 0xffu,
             (fo_version() >> 8) & 0xffu, fo_version() & 0xffu);
    assert_string_equal(buf, fo_version_string());
    assert_int_equal(FO_VERSION_NUMBER, (FO_VERSION_MAJOR << 16) |
                                            (FO_VERSION_MINOR << 8) |
                                            FO_VERSION_PATCH);
}

static void test_version_check_macro(void **state)
{
    (void)state;
    assert_true(FO_VERSION_CHECK(0, 0, 0));
    assert_true(
        FO_VERSION_CHECK(FO_VERSION_MAJOR, FO_VERSION_MINOR, FO_VERSION_PATCH));
    assert_false(FO_VERSION_CHECK(FO_VERSION_MAJOR, FO_VERSION_MINOR,
                                  FO_VERSION_PATCH + 1));
    assert_false(FO_VERSION_CHECK(FO_VERSION_MAJOR + 1, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runtime_matches_headers),
        cmocka_unit_test(test_number_matches_string),
        cmocka_unit_test(test_version_check_macro),
    };
    return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}
