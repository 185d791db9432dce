/*
 * Mapping telephony outcomes to results: SIP final responses (every class
 * and the codes with a meaning of their own), Q.850 causes, Asterisk
 * DIALSTATUS values, and a router's own SIP overrides. Public API only.
 */
#include "helpers.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static fo_result sip(int status, unsigned flags)
{
    fo_result r = (fo_result)0;

    assert_int_equal(fo_result_from_sip(status, flags, &r), FO_OK);
    return r;
}

static void test_sip_named_codes(void **state)
{
    static const struct {
        int status;
        fo_result result;
    } table[] = {
        {200, FO_RESULT_SUCCESS},  {202, FO_RESULT_SUCCESS},
        {300, FO_RESULT_REJECTED}, {302, FO_RESULT_REJECTED},
        {400, FO_RESULT_REJECTED}, {401, FO_RESULT_REJECTED},
        {402, FO_RESULT_REJECTED}, {403, FO_RESULT_REJECTED},
        {404, FO_RESULT_DECLINED}, {405, FO_RESULT_REJECTED},
        {407, FO_RESULT_REJECTED}, {410, FO_RESULT_DECLINED},
        {415, FO_RESULT_REJECTED}, {420, FO_RESULT_REJECTED},
        {480, FO_RESULT_NOANSWER}, {481, FO_RESULT_REJECTED},
        {482, FO_RESULT_REJECTED}, {483, FO_RESULT_REJECTED},
        {484, FO_RESULT_DECLINED}, {485, FO_RESULT_DECLINED},
        {486, FO_RESULT_BUSY},     {487, FO_RESULT_CANCELLED},
        {488, FO_RESULT_REJECTED}, {491, FO_RESULT_REJECTED},
        {500, FO_RESULT_REJECTED}, {501, FO_RESULT_REJECTED},
        {502, FO_RESULT_REJECTED}, {503, FO_RESULT_REJECTED},
        {504, FO_RESULT_REJECTED}, {505, FO_RESULT_REJECTED},
        {513, FO_RESULT_REJECTED}, {580, FO_RESULT_REJECTED},
        {600, FO_RESULT_BUSY},     {603, FO_RESULT_DECLINED},
        {604, FO_RESULT_DECLINED}, {606, FO_RESULT_DECLINED},
        {607, FO_RESULT_DECLINED}, {608, FO_RESULT_DECLINED},
    };

    (void)state;
    for (size_t i = 0; i < NELEM(table); i++) {
        fo_result got = sip(table[i].status, 0);

        if (got != table[i].result)
            fail_msg("SIP %d gave %s, want %s", table[i].status,
                     fo_result_name(got), fo_result_name(table[i].result));
    }
}

/* Every code of every class maps to a result of the class's kind. */
static void test_sip_every_class(void **state)
{
    (void)state;
    for (int s = 200; s <= 299; s++)
        assert_int_equal(sip(s, 0), FO_RESULT_SUCCESS);
    for (int s = 300; s <= 399; s++)
        assert_int_equal(sip(s, 0), FO_RESULT_REJECTED);
    for (int s = 400; s <= 699; s++) {
        fo_result r = sip(s, 0);
        fo_result_class c = fo_result_default_class(r);

        assert_true(c != 0);
        if (s >= 500 && s <= 599)
            assert_int_equal(c, FO_CLASS_ROUTE_FAULT);
        if (s >= 600 && s != 600)
            assert_int_equal(r, FO_RESULT_DECLINED);
    }
}

/* 408 is the one code whose meaning depends on what came before it. */
static void test_sip_408_and_local_responses(void **state)
{
    (void)state;
    assert_int_equal(sip(408, 0), FO_RESULT_TIMEOUT);
    assert_int_equal(sip(408, FO_SIP_RANG), FO_RESULT_NOANSWER);
    assert_int_equal(sip(408, FO_SIP_LOCAL), FO_RESULT_TIMEOUT);
    assert_int_equal(sip(408, FO_SIP_LOCAL | FO_SIP_RANG), FO_RESULT_NOANSWER);
    assert_int_equal(sip(503, FO_SIP_LOCAL), FO_RESULT_UNAVAILABLE);
    assert_int_equal(sip(500, FO_SIP_LOCAL), FO_RESULT_UNAVAILABLE);
    assert_int_equal(sip(502, FO_SIP_LOCAL), FO_RESULT_REJECTED);
    assert_int_equal(sip(486, FO_SIP_RANG), FO_RESULT_BUSY);
}

static void test_sip_bad_input(void **state)
{
    fo_result r = FO_RESULT_BUSY;
    static const int bad[] = {-1, 0, 100, 180, 183, 199, 700, 999};

    (void)state;
    for (size_t i = 0; i < NELEM(bad); i++)
        assert_int_equal(fo_result_from_sip(bad[i], 0, &r), FO_EINVAL);
    assert_int_equal(fo_result_from_sip(200, 0x4, &r), FO_EINVAL);
    assert_int_equal(fo_result_from_sip(200, 0, NULL), FO_EINVAL);
    assert_int_equal(r, FO_RESULT_BUSY); /* untouched */
}

static fo_result q850(int cause)
{
    fo_result r = (fo_result)0;

    assert_int_equal(fo_result_from_q850(cause, &r), FO_OK);
    return r;
}

static void test_q850_causes(void **state)
{
    static const struct {
        int cause;
        fo_result result;
    } table[] = {
        {1, FO_RESULT_DECLINED},     /* unallocated number */
        {2, FO_RESULT_DECLINED},     /* no route to transit network */
        {3, FO_RESULT_DECLINED},     /* no route to destination */
        {16, FO_RESULT_SUCCESS},     /* normal clearing */
        {17, FO_RESULT_BUSY},        /* user busy */
        {18, FO_RESULT_NOANSWER},    /* no user responding */
        {19, FO_RESULT_NOANSWER},    /* no answer */
        {20, FO_RESULT_NOANSWER},    /* subscriber absent */
        {21, FO_RESULT_DECLINED},    /* call rejected */
        {22, FO_RESULT_DECLINED},    /* number changed */
        {23, FO_RESULT_DECLINED},    /* redirected */
        {25, FO_RESULT_REJECTED},    /* exchange routing error */
        {27, FO_RESULT_DECLINED},    /* destination out of order */
        {28, FO_RESULT_DECLINED},    /* invalid number format */
        {29, FO_RESULT_REJECTED},    /* facility rejected */
        {31, FO_RESULT_NOANSWER},    /* normal, unspecified */
        {34, FO_RESULT_CONGESTION},  /* no circuit available */
        {38, FO_RESULT_UNAVAILABLE}, /* network out of order */
        {41, FO_RESULT_CONGESTION},  /* temporary failure */
        {42, FO_RESULT_CONGESTION},  /* switching equipment congestion */
        {44, FO_RESULT_CONGESTION},  /* requested channel not available */
        {47, FO_RESULT_CONGESTION},  /* resource unavailable */
        {50, FO_RESULT_REJECTED},    /* facility not subscribed */
        {57, FO_RESULT_REJECTED},    /* bearer capability not authorized */
        {58, FO_RESULT_CONGESTION},  /* bearer capability not available */
        {63, FO_RESULT_REJECTED},    /* service not available */
        {65, FO_RESULT_REJECTED},    /* bearer capability not implemented */
        {88, FO_RESULT_REJECTED},    /* incompatible destination */
        {102, FO_RESULT_TIMEOUT},    /* recovery on timer expiry */
        {111, FO_RESULT_REJECTED},   /* protocol error */
        {127, FO_RESULT_REJECTED},   /* interworking */
    };
    fo_result r = FO_RESULT_BUSY;

    (void)state;
    for (size_t i = 0; i < NELEM(table); i++) {
        fo_result got = q850(table[i].cause);

        if (got != table[i].result)
            fail_msg("cause %d gave %s, want %s", table[i].cause,
                     fo_result_name(got), fo_result_name(table[i].result));
    }
    for (int c = 1; c <= 127; c++)
        assert_true(fo_result_default_class(q850(c)) != 0);
    assert_int_equal(fo_result_from_q850(0, &r), FO_EINVAL);
    assert_int_equal(fo_result_from_q850(128, &r), FO_EINVAL);
    assert_int_equal(fo_result_from_q850(-17, &r), FO_EINVAL);
    assert_int_equal(fo_result_from_q850(17, NULL), FO_EINVAL);
    assert_int_equal(r, FO_RESULT_BUSY);
}

static void test_dialstatus(void **state)
{
    static const struct {
        const char *text;
        fo_result result;
    } table[] = {
        {"ANSWER", FO_RESULT_SUCCESS},
        {"BUSY", FO_RESULT_BUSY},
        {"NOANSWER", FO_RESULT_NOANSWER},
        {"CANCEL", FO_RESULT_CANCELLED},
        {"CONGESTION", FO_RESULT_CONGESTION},
        {"CHANUNAVAIL", FO_RESULT_UNAVAILABLE},
        {"DONTCALL", FO_RESULT_DECLINED},
        {"TORTURE", FO_RESULT_DECLINED},
        {"INVALIDARGS", FO_RESULT_REJECTED},
        {"chanunavail", FO_RESULT_UNAVAILABLE},
        {" Busy\n", FO_RESULT_BUSY},
        {"\tCONGESTION \r\n", FO_RESULT_CONGESTION},
    };
    static const char *const bad[] = {
        "",          " ",
        "ANSWERED",  "ANSWE",
        "NO ANSWER", "BUSYX",
        "17",        "CHANUNAVAILCHANUNAVAILCHANUNAVAILCHANUNAVAIL",
    };
    fo_result r = FO_RESULT_BUSY;

    (void)state;
    for (size_t i = 0; i < NELEM(table); i++) {
        assert_int_equal(fo_result_from_dialstatus(table[i].text, &r), FO_OK);
        assert_int_equal(r, table[i].result);
    }
    r = FO_RESULT_BUSY;
    for (size_t i = 0; i < NELEM(bad); i++)
        assert_int_equal(fo_result_from_dialstatus(bad[i], &r), FO_EINVAL);
    assert_int_equal(fo_result_from_dialstatus(NULL, &r), FO_EINVAL);
    assert_int_equal(fo_result_from_dialstatus("BUSY", NULL), FO_EINVAL);
    assert_int_equal(r, FO_RESULT_BUSY);
}

static void test_router_sip_overrides(void **state)
{
    fo_router *router;
    fo_result r;

    (void)state;
    assert_int_equal(fo_router_new(&router, NULL), FO_OK);
    assert_int_equal(fo_router_result_from_sip(router, 403, 0, &r), FO_OK);
    assert_int_equal(r, FO_RESULT_REJECTED);
    /* This trunk sends 403 when the callee barred calls. */
    assert_int_equal(fo_router_set_sip_result(router, 403, FO_RESULT_DECLINED),
                     FO_OK);
    assert_int_equal(fo_router_result_from_sip(router, 403, 0, &r), FO_OK);
    assert_int_equal(r, FO_RESULT_DECLINED);
    /* Overrides apply whatever the flags. */
    fo_router_set_sip_result(router, 408, FO_RESULT_NOANSWER);
    assert_int_equal(fo_router_result_from_sip(router, 408, 0, &r), FO_OK);
    assert_int_equal(r, FO_RESULT_NOANSWER);
    /* The plain mapping is not affected. */
    assert_int_equal(fo_result_from_sip(403, 0, &r), FO_OK);
    assert_int_equal(r, FO_RESULT_REJECTED);
    /* 0 removes an override. */
    fo_router_set_sip_result(router, 403, (fo_result)0);
    assert_int_equal(fo_router_result_from_sip(router, 403, 0, &r), FO_OK);
    assert_int_equal(r, FO_RESULT_REJECTED);

    assert_int_equal(fo_router_set_sip_result(router, 199, FO_RESULT_BUSY),
                     FO_EINVAL);
    assert_int_equal(fo_router_set_sip_result(router, 700, FO_RESULT_BUSY),
                     FO_EINVAL);
    assert_int_equal(fo_router_set_sip_result(router, 486, (fo_result)10),
                     FO_EINVAL);
    assert_int_equal(fo_router_result_from_sip(router, 486, 0, NULL),
                     FO_EINVAL);
    assert_int_equal(fo_router_result_from_sip(router, 486, 8, &r), FO_EINVAL);
    assert_int_equal(fo_router_result_from_sip(NULL, 486, 0, &r), FO_EINVAL);
    assert_int_equal(fo_router_set_sip_result(NULL, 486, FO_RESULT_BUSY),
                     FO_EINVAL);
    assert_int_equal(fo_router_result_from_sip(router, 486, 0, &r), FO_OK);
    assert_int_equal(r, FO_RESULT_BUSY);
    fo_router_free(router);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sip_named_codes),
        cmocka_unit_test(test_sip_every_class),
        cmocka_unit_test(test_sip_408_and_local_responses),
        cmocka_unit_test(test_sip_bad_input),
        cmocka_unit_test(test_q850_causes),
        cmocka_unit_test(test_dialstatus),
        cmocka_unit_test(test_router_sip_overrides),
    };
    return cmocka_run_group_tests_name("mapping", tests, NULL, NULL);
}
