/* Error codes: pinned values, a name and a message for every code. */
#include "helpers.h"

#include <stdio.h>

struct code {
    int value;
    const char *name;
};

/* The pinned table, written out by hand: if a value in error.h moves,
 * this test fails. */
static const struct code pinned[] = {
    {FO_OK, "FO_OK"},
    {FO_EINVAL, "FO_EINVAL"},
    {FO_ENOMEM, "FO_ENOMEM"},
    {FO_ENOENT, "FO_ENOENT"},
    {FO_EEXIST, "FO_EEXIST"},
    {FO_EBUSY, "FO_EBUSY"},
    {FO_ENOROUTE, "FO_ENOROUTE"},
    {FO_EVERSION, "FO_EVERSION"},
    {FO_ERANGE, "FO_ERANGE"},
    {FO_ELIMIT, "FO_ELIMIT"},
    {FO_ESYS, "FO_ESYS"},
    {FO_EALREADY, "FO_EALREADY"},
};
#define NPINNED (sizeof pinned / sizeof pinned[0])

static void test_values_are_pinned(void **state)
{
    (void)state;
    assert_int_equal(FO_OK, 0);
    assert_int_equal(FO_EINVAL, -1);
    assert_int_equal(FO_ENOMEM, -2);
    assert_int_equal(FO_ENOENT, -3);
    assert_int_equal(FO_EEXIST, -4);
    assert_int_equal(FO_EBUSY, -5);
    assert_int_equal(FO_ENOROUTE, -6);
    assert_int_equal(FO_EVERSION, -7);
    assert_int_equal(FO_ERANGE, -8);
    assert_int_equal(FO_ELIMIT, -9);
    assert_int_equal(FO_ESYS, -10);
    assert_int_equal(FO_EALREADY, -11);
}

static void test_every_code_has_name_and_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPINNED; i++) {
        const char *msg = fo_strerror(pinned[i].value);

        assert_string_equal(fo_error_name(pinned[i].value), pinned[i].name);
        assert_non_null(msg);
        assert_true(strlen(msg) > 0);
        assert_string_not_equal(msg, "unknown error");
    }
}

static void test_messages_are_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPINNED; i++)
        for (size_t j = i + 1; j < NPINNED; j++)
            assert_string_not_equal(fo_strerror(pinned[i].value),
                                    fo_strerror(pinned[j].value));
}

/* The X-macro table and the hand-written list above must agree in size:
 * a code added to error.h without a test entry is caught here. */
static void test_table_matches_header(void **state)
{
    size_t n = 0;

    (void)state;
#define COUNT_CODE(name, value, message) n++;
    FO_ERROR_MAP(COUNT_CODE)
#undef COUNT_CODE
    assert_int_equal(n, NPINNED);
}

static void test_unknown_codes(void **state)
{
    static const int unknown[] = {1,    2,     42,        -12,
                                  -100, -1000, INT32_MAX, INT32_MIN};

    (void)state;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(fo_strerror(unknown[i]), "unknown error");
        assert_string_equal(fo_error_name(unknown[i]), "unknown");
    }
}

/* Strings are static: the same pointer every time, valid forever. */
static void test_strings_are_static(void **state)
{
    (void)state;
    assert_ptr_equal(fo_strerror(FO_EINVAL), fo_strerror(FO_EINVAL));
    assert_ptr_equal(fo_error_name(FO_EBUSY), fo_error_name(FO_EBUSY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_are_pinned),
        cmocka_unit_test(test_every_code_has_name_and_message),
        cmocka_unit_test(test_messages_are_distinct),
        cmocka_unit_test(test_table_matches_header),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_strings_are_static),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
