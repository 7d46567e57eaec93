/*
 * test_abtest.c - A/B statistics against SciPy 1.10 (Debian bookworm).
 *
 * Every expected value below was computed once with /usr/bin/python3 and
 * SciPy; the call is shown next to it. tests/python/ab_check.py recomputes
 * them when SciPy is present (ctest test python/ab_check).
 */
#include "testutil.h"

#include <junco/abtest.h>
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/event.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define REL(a, b, r) assert_true(fabs((a) - (b)) <= (r)*fabs(b) + 1e-300)

static void test_distributions(void **state)
{
    (void)state;
    REL(jc_ab_normal_ppf(0.975), 1.959963984540054, 1e-14);  /* stats.norm.ppf(0.975) */
    REL(jc_ab_normal_ppf(1e-10), -6.361340902404056, 1e-13); /* stats.norm.ppf(1e-10) */
    REL(jc_ab_normal_ppf(0.3), -0.5244005127080409, 1e-13);  /* stats.norm.ppf(0.3) */
    REL(jc_ab_normal_ppf(0.999999), 4.753424308817087, 1e-12);
    assert_true(isnan(jc_ab_normal_ppf(0)));
    assert_true(isnan(jc_ab_normal_ppf(1.5)));
    REL(jc_ab_normal_sf(1.96), 0.024997895148220435, 1e-13); /* stats.norm.sf(1.96) */
    REL(jc_ab_normal_sf(8.5), 9.47953482220325e-18, 1e-12);  /* stats.norm.sf(8.5) */
    REL(jc_ab_normal_sf(-1.0), 0.8413447460685429, 1e-14);
    /* stats.chi2.sf(x, df) */
    REL(jc_ab_chi2_sf(3.84, 1), 0.05004352124870519, 1e-12);
    REL(jc_ab_chi2_sf(0.5, 3), 0.9188914116546758, 1e-12);
    REL(jc_ab_chi2_sf(50, 10), 2.669083424904495e-07, 1e-11);
    REL(jc_ab_chi2_sf(200, 150), 0.003973185970821635, 1e-10);
    REL(jc_ab_chi2_sf(1e-3, 2), 0.9995001249791693, 1e-13);
    REL(jc_ab_chi2_sf(7.0, 2), 0.0301973834223185, 1e-12);
    assert_double_near(jc_ab_chi2_sf(0, 3), 1.0, 0);
    assert_true(isnan(jc_ab_chi2_sf(1, 0)));
}

static void test_wilson(void **state)
{
    (void)state;
    double lo, hi;
    /* stats.binomtest(500, 10000).proportion_ci(0.95, method='wilson') */
    jc_ab_wilson(500, 10000, 1.959963984540054, &lo, &hi);
    REL(lo, 0.04589848269058477, 1e-12);
    REL(hi, 0.05444711584302416, 1e-12);
    /* stats.binomtest(200, 5000).proportion_ci(0.99, method='wilson') */
    jc_ab_wilson(200, 5000, jc_ab_normal_ppf(0.995), &lo, &hi);
    REL(lo, 0.03344998620595641, 1e-11);
    REL(hi, 0.04776921691130776, 1e-11);
    /* 0 of n: the interval starts at 0 and is not empty */
    jc_ab_wilson(0, 100, 1.96, &lo, &hi);
    assert_double_near(lo, 0, 0);
    assert_true(hi > 0.03 && hi < 0.04);
}

static void test_two_variants(void **state)
{
    (void)state;
    struct jc_ab_variant v[2] = {{"a", 5000, 10000, 500, 0}, {"b", 4600, 10000, 560, 0}};
    struct jc_ab_config c;
    jc_ab_config_default(&c);
    struct jc_ab_result r;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_OK);
    assert_double_near(r.v[0].ctr, 0.05, 1e-15);
    assert_true(isnan(r.v[0].lift) && isnan(r.v[0].p_value));
    REL(r.v[1].lift, 0.12, 1e-12);
    /* pooled z by hand; p = 2 * stats.norm.sf(abs(z)) */
    REL(r.v[1].z, 1.8937529756356748, 1e-12);
    REL(r.v[1].p_value, 0.05825780603351623, 1e-11);
    assert_int_equal(r.v[1].significant, 0);
    REL(r.v[1].ci_low, 0.051661752823658105, 1e-11);
    /* SRM on users: stats.chisquare([5000, 4600]) -> 16.666..., 4.4557e-05 */
    assert_int_equal(r.srm_on_units, 1);
    REL(r.srm_chi2, 16.666666666666668, 1e-12);
    assert_int_equal(r.srm_df, 1);
    REL(r.srm_p, 4.455709060405612e-05, 1e-10);
    assert_int_equal(r.srm_flag, 1);
    /* balanced users: stats.chisquare([5000, 5100]) -> p 0.3197 */
    v[1].units = 5100;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_OK);
    REL(r.srm_chi2, 0.9900990099009901, 1e-12);
    REL(r.srm_p, 0.3197181768128675, 1e-11);
    assert_int_equal(r.srm_flag, 0);
    /* without user counts the test runs on exposures */
    v[0].units = 0;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_OK);
    assert_int_equal(r.srm_on_units, 0);
    assert_double_near(r.srm_chi2, 0, 1e-12);
    /* normal intervals on request */
    c.ci = JC_AB_CI_NORMAL;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_OK);
    REL(r.v[0].ci_low, 0.05 - 1.959963984540054 * sqrt(0.05 * 0.95 / 10000), 1e-12);
}

static void test_three_variants(void **state)
{
    (void)state;
    /* control a 500/10000, b 270/5000, c 200/5000; expected shares .5/.25/.25 */
    struct jc_ab_variant v[3] = {
        {"a", 10200, 10000, 500, 0.5}, {"b", 4900, 5000, 270, 0.25}, {"c", 4900, 5000, 200, 0.25}};
    struct jc_ab_config c;
    jc_ab_config_default(&c);
    struct jc_ab_result r;
    assert_int_equal(jc_ab_analyze(v, 3, &c, &r), JC_OK);
    REL(r.v[1].z, 1.0465086211092132, 1e-12);
    REL(r.v[1].p_value, 0.295326266697552, 1e-11);
    REL(r.v[2].z, -2.737244507256795, 1e-12);
    REL(r.v[2].p_value, 0.006195622498906061, 1e-10);
    assert_int_equal(r.v[2].significant, 1);
    REL(r.v[2].lift, -0.2, 1e-12);
    /* stats.binomtest(270, 5000).proportion_ci(method='wilson') */
    REL(r.v[1].ci_low, 0.04807067117820129, 1e-11);
    REL(r.v[1].ci_high, 0.06061411895678966, 1e-11);
    /* stats.chisquare([10200, 4900, 4900], [10000, 5000, 5000]) -> 8.0, 0.0183 */
    REL(r.srm_chi2, 8.0, 1e-12);
    assert_int_equal(r.srm_df, 2);
    REL(r.srm_p, 0.018315638888734182, 1e-11);
    assert_int_equal(r.srm_flag, 0);
    /* another control */
    c.control = 2;
    assert_int_equal(jc_ab_analyze(v, 3, &c, &r), JC_OK);
    REL(r.v[0].z, 2.737244507256795, 1e-12);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct jc_ab_config c;
    jc_ab_config_default(&c);
    struct jc_ab_result r;
    struct jc_ab_variant v[2] = {{"a", 0, 100, 5, 0}, {"b", 0, 100, 200, 0}};
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "variant 'b' has 200 clicks for 100 exposures"));
    v[1].clicks = 5;
    v[1].exposures = 0;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_EINVAL);
    v[1].exposures = 100;
    assert_int_equal(jc_ab_analyze(v, 1, &c, &r), JC_EINVAL);
    v[0].expected_share = 0.7;
    v[1].expected_share = 0.7;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "sum to 1.4"));
    v[0].expected_share = v[1].expected_share = 0;
    c.control = 2;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_EINVAL);
    jc_ab_config_default(&c);
    c.confidence = 1;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_EINVAL);
    /* zero clicks everywhere: no z-test, no lift, but intervals and SRM */
    jc_ab_config_default(&c);
    v[0].clicks = v[1].clicks = 0;
    assert_int_equal(jc_ab_analyze(v, 2, &c, &r), JC_OK);
    assert_true(isnan(r.v[1].z) && isnan(r.v[1].p_value) && isnan(r.v[1].lift));
}

static struct jc_event ev(int type, const char *user, const char *exp, const char *var)
{
    struct jc_event e;
    jc_event_init(&e);
    e.type = (uint8_t)type;
    e.user = user;
    e.user_len = strlen(user);
    e.item = "i1";
    e.item_len = 2;
    e.experiment = exp;
    e.experiment_len = exp ? strlen(exp) : 0;
    e.variant = var;
    e.variant_len = var ? strlen(var) : 0;
    return e;
}

static void test_tally(void **state)
{
    (void)state;
    struct jc_ab_tally *t;
    assert_int_equal(jc_ab_tally_create(&t), JC_OK);
    struct jc_event evs[] = {
        ev(JC_EV_IMPRESSION, "u1", "color", "red"),
        ev(JC_EV_IMPRESSION, "u1", "color", "red"),
        ev(JC_EV_IMPRESSION, "u2", "color", "blue"),
        ev(JC_EV_CLICK, "u1", "color", "red"),
        ev(JC_EV_CLICK, "u2", "color", NULL), /* attributed to u2's exposure: blue */
        ev(JC_EV_CLICK, "u9", "color", NULL), /* never exposed: unattributed */
        ev(JC_EV_IMPRESSION, "u3", "size", "big"),
        ev(JC_EV_RATING, "u3", "size", "big"),  /* ignored */
        ev(JC_EV_IMPRESSION, "u4", NULL, NULL), /* no experiment: ignored */
        ev(JC_EV_IMPRESSION, "u3", "color", "blue"),
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        assert_int_equal(jc_ab_tally_add(t, &evs[i]), JC_OK);
    assert_int_equal(jc_ab_tally_n_experiments(t), 2);
    assert_string_equal(jc_ab_tally_experiment(t, 0), "color");
    assert_string_equal(jc_ab_tally_experiment(t, 1), "size");
    assert_null(jc_ab_tally_experiment(t, 2));
    struct jc_ab_variant v[4];
    uint64_t un;
    assert_int_equal(jc_ab_tally_variants(t, "color", v, 4, &un), 2);
    assert_string_equal(v[0].name, "blue"); /* sorted by name */
    assert_int_equal(v[0].exposures, 2);
    assert_int_equal(v[0].units, 2);
    assert_int_equal(v[0].clicks, 1);
    assert_string_equal(v[1].name, "red");
    assert_int_equal(v[1].exposures, 2);
    assert_int_equal(v[1].units, 1);
    assert_int_equal(v[1].clicks, 1);
    assert_int_equal(un, 1);
    assert_int_equal(jc_ab_tally_variants(t, "nope", v, 4, &un), 0);
    /* too many variants */
    char name[8];
    int rc = JC_OK;
    for (int i = 0; i < JC_AB_MAX_VARIANTS + 1 && rc == JC_OK; i++) {
        snprintf(name, sizeof name, "v%d", i);
        struct jc_event e = ev(JC_EV_IMPRESSION, "u", "many", name);
        rc = jc_ab_tally_add(t, &e);
    }
    assert_int_equal(rc, JC_ELIMIT);
    jc_ab_tally_destroy(t);
}

/* Exposures carrying every layer's assignment in the context (as serving
 * writes them), clicks with and without it: exact counts per layer. */
static void test_tally_layers(void **state)
{
    (void)state;
    struct jc_ab_tally *t;
    assert_int_equal(jc_ab_tally_create(&t), JC_OK);
    struct jc_event evs[8];
    evs[0] = ev(JC_EV_IMPRESSION, "u1", "rank", "a");
    evs[0].context = "{\"pos\":1,\"n\":2,\"scene\":\"home\",\"ab\":{\"rank\":\"a\","
                     "\"recall\":\"x\",\"rerank\":\"p\"}}";
    evs[1] = ev(JC_EV_IMPRESSION, "u1", "rank", "a");
    evs[1].context = evs[0].context;
    evs[2] = ev(JC_EV_IMPRESSION, "u2", "rank", "b");
    evs[2].context = "{\"pos\":1,\"n\":1,\"ab\":{\"rank\":\"b\",\"recall\":\"x\","
                     "\"rerank\":\"q\"}}";
    evs[3] = ev(JC_EV_IMPRESSION, "u3", "rank", "b");
    evs[3].context = "{\"pos\":1,\"n\":1,\"ab\":{\"rank\":\"b\",\"recall\":\"y\","
                     "\"rerank\":\"p\"}}";
    /* a click carrying the layers */
    evs[4] = ev(JC_EV_CLICK, "u1", "rank", "a");
    evs[4].context = "{\"ab\":{\"rank\":\"a\",\"recall\":\"x\",\"rerank\":\"p\"}}";
    /* a click with only the first layer: other layers via first exposure */
    evs[5] = ev(JC_EV_CLICK, "u3", "rank", "b");
    /* a click with no variant at all: first layer via first exposure too */
    evs[6] = ev(JC_EV_CLICK, "u2", "rank", NULL);
    /* a malformed context is ignored (counted by the event's own fields) */
    evs[7] = ev(JC_EV_IMPRESSION, "u4", "rank", "a");
    evs[7].context = "{\"ab\":";
    for (size_t i = 0; i < 8; i++) {
        if (evs[i].context)
            evs[i].context_len = strlen(evs[i].context);
        assert_int_equal(jc_ab_tally_add(t, &evs[i]), JC_OK);
    }
    assert_int_equal(jc_ab_tally_n_experiments(t), 3);
    assert_string_equal(jc_ab_tally_experiment(t, 0), "rank");
    assert_string_equal(jc_ab_tally_experiment(t, 1), "recall");
    assert_string_equal(jc_ab_tally_experiment(t, 2), "rerank");
    struct jc_ab_variant v[4];
    uint64_t un;
    /* rank: a = u1 x2 + u4, 1 click; b = u2 + u3, clicks u3 + u2 */
    assert_int_equal(jc_ab_tally_variants(t, "rank", v, 4, &un), 2);
    assert_string_equal(v[0].name, "a");
    assert_int_equal(v[0].exposures, 3);
    assert_int_equal(v[0].units, 2);
    assert_int_equal(v[0].clicks, 1);
    assert_string_equal(v[1].name, "b");
    assert_int_equal(v[1].exposures, 2);
    assert_int_equal(v[1].units, 2);
    assert_int_equal(v[1].clicks, 2);
    assert_int_equal(un, 0);
    /* recall: x = u1 x2 + u2, clicks u1 (context) + u2? no: u2's click has
     * no layers and its own experiment is rank -> credited via first
     * exposure in recall (x); y = u3, click u3 via first exposure */
    assert_int_equal(jc_ab_tally_variants(t, "recall", v, 4, &un), 2);
    assert_string_equal(v[0].name, "x");
    assert_int_equal(v[0].exposures, 3);
    assert_int_equal(v[0].units, 2);
    assert_int_equal(v[0].clicks, 2);
    assert_string_equal(v[1].name, "y");
    assert_int_equal(v[1].exposures, 1);
    assert_int_equal(v[1].units, 1);
    assert_int_equal(v[1].clicks, 1);
    /* rerank: p = u1 x2 + u3, clicks u1 + u3; q = u2, click u2 */
    assert_int_equal(jc_ab_tally_variants(t, "rerank", v, 4, &un), 2);
    assert_string_equal(v[0].name, "p");
    assert_int_equal(v[0].exposures, 3);
    assert_int_equal(v[0].units, 2);
    assert_int_equal(v[0].clicks, 2);
    assert_string_equal(v[1].name, "q");
    assert_int_equal(v[1].exposures, 1);
    assert_int_equal(v[1].clicks, 1);
    jc_ab_tally_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distributions), cmocka_unit_test(test_wilson),
        cmocka_unit_test(test_two_variants),  cmocka_unit_test(test_three_variants),
        cmocka_unit_test(test_bad_input),     cmocka_unit_test(test_tally),
        cmocka_unit_test(test_tally_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
