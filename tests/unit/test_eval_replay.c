/*
 * test_eval_replay.c - offline replay (replay.c) against known click-through
 * rates: seeded synthetic logs where item i is clicked with probability
 * q_i, logged (1) by a uniform-random variant (rejection-sampling replay),
 * (2) by a non-uniform policy with per-exposure propensities (self-
 * normalised IPS), (3) without propensities (not randomised: the biased
 * matched-impression estimate, flagged). Two fixed-list policies, whose
 * true CTR is the mean q over their lists, must be recovered within a few
 * standard errors. Plus click attribution and error paths.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/rng.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/event.h>
#include <junco/replay.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_ITEMS 200

static double q_of(uint32_t i)
{
    return 0.05 + 0.5 * (double)(i % 7) / 6.0 * (i < 100 ? 1.0 : 0.2);
}

struct fixed {
    uint32_t first;
    int calls;
};

static int fixed_list(void *self, uint32_t user, int64_t time_ms, uint32_t n, uint32_t *items,
                      uint32_t *n_out)
{
    (void)user;
    (void)time_ms;
    struct fixed *f = self;
    f->calls++;
    for (uint32_t k = 0; k < n; k++)
        items[k] = f->first + k;
    *n_out = n;
    return JC_OK;
}

static int failing(void *self, uint32_t user, int64_t time_ms, uint32_t n, uint32_t *items,
                   uint32_t *n_out)
{
    (void)self;
    (void)user;
    (void)time_ms;
    (void)n;
    (void)items;
    (void)n_out;
    return jc_err_set(JC_EIO, "policy broke");
}

static struct jc_catalog *items_catalog(void)
{
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    char id[16];
    uint32_t got;
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        snprintf(id, sizeof id, "m%u", i);
        assert_int_equal(jc_cb_item(b, id, strlen(id), &got, NULL), JC_OK);
    }
    assert_int_equal(jc_cb_user(b, "u0", 2, &got, NULL), JC_OK);
    const char *path = jc_test_path("replay.jcat");
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, path), JC_OK);
    return cat;
}

enum mode { UNIFORM, PROPENSITY, NOT_RANDOM };

/* Feeds `slates` logged slates into r: slate size 5 (uniform without
 * replacement) or 1 (drawn with weight 1 + 4 * [i < 20]). */
static void feed(struct jc_replay *r, enum mode mode, uint32_t slates, uint64_t seed)
{
    struct jc_rng g;
    jc_rng_seed(&g, seed);
    double wsum = 0;
    for (uint32_t i = 0; i < N_ITEMS; i++)
        wsum += 1 + 4 * (i < 20);
    char user[16], item[16], ctx[96], rid[24];
    int64_t t = 1000;
    for (uint32_t s = 0; s < slates; s++) {
        snprintf(user, sizeof user, "u%u", s % 50);
        snprintf(rid, sizeof rid, "r%u", s);
        uint32_t shown[5], n = mode == UNIFORM ? 5 : 1;
        double p[5];
        for (uint32_t k = 0; k < n; k++) {
            if (mode == UNIFORM) {
                int dup;
                do {
                    shown[k] = (uint32_t)jc_rng_below(&g, N_ITEMS);
                    dup = 0;
                    for (uint32_t j = 0; j < k; j++)
                        dup |= shown[j] == shown[k];
                } while (dup);
                p[k] = 5.0 / N_ITEMS;
            } else {
                double x = jc_rng_float(&g) * wsum, acc = 0;
                uint32_t i = 0;
                for (; i + 1 < N_ITEMS; i++) {
                    acc += 1 + 4 * (i < 20);
                    if (x < acc)
                        break;
                }
                shown[k] = i;
                p[k] = (1 + 4 * (i < 20)) / wsum;
            }
        }
        t += 10;
        for (uint32_t k = 0; k < n; k++) {
            struct jc_event e;
            jc_event_init(&e);
            e.type = JC_EV_IMPRESSION;
            e.user = user;
            e.user_len = strlen(user);
            snprintf(item, sizeof item, "m%u", shown[k]);
            e.item = item;
            e.item_len = strlen(item);
            e.request_id = rid;
            e.request_id_len = strlen(rid);
            e.time_ms = t;
            e.experiment = "explore";
            e.experiment_len = 7;
            e.variant = mode == UNIFORM ? "uniform" : "logging";
            e.variant_len = strlen(e.variant);
            int len = mode == PROPENSITY
                          ? snprintf(ctx, sizeof ctx, "{\"pos\":%u,\"n\":%u,\"propensity\":%.17g}",
                                     k + 1, n, p[k])
                          : snprintf(ctx, sizeof ctx, "{\"pos\":%u,\"n\":%u}", k + 1, n);
            e.context = ctx;
            e.context_len = (size_t)len;
            assert_int_equal(jc_replay_add(r, &e), JC_OK);
        }
        for (uint32_t k = 0; k < n; k++) {
            if (jc_rng_float(&g) >= q_of(shown[k]))
                continue;
            struct jc_event c;
            jc_event_init(&c);
            c.type = JC_EV_CLICK;
            c.user = user;
            c.user_len = strlen(user);
            snprintf(item, sizeof item, "m%u", shown[k]);
            c.item = item;
            c.item_len = strlen(item);
            c.time_ms = t + 1;
            assert_int_equal(jc_replay_add(r, &c), JC_OK);
        }
    }
}

static double true_ctr(uint32_t first, uint32_t n)
{
    double s = 0;
    for (uint32_t k = 0; k < n; k++)
        s += q_of(first + k);
    return s / n;
}

static void test_uniform_log(void **state)
{
    (void)state;
    struct jc_catalog *cat = items_catalog();
    struct fixed a = {0, 0}, b = {100, 0};
    struct jc_replay_policy pol[2] = {{"A", &a, fixed_list}, {"B", &b, fixed_list}};
    struct jc_replay_config c;
    jc_replay_config_default(&c);
    c.random_variant = "uniform";
    struct jc_replay *r;
    assert_int_equal(jc_replay_create(&r, cat, pol, 2, &c), JC_OK);
    feed(r, UNIFORM, 30000, 5);
    struct jc_replay_result res;
    assert_int_equal(jc_replay_result(r, &res), JC_OK);
    assert_int_equal(res.randomised, 1);
    assert_int_equal(res.exposures, 150000);
    assert_int_equal(res.used, 150000);
    assert_int_equal(res.slates, 30000);
    assert_int_equal(a.calls, 30000);
    assert_int_equal(res.unknown_items, 0);
    for (int p = 0; p < 2; p++) {
        double want = true_ctr(p ? 100 : 0, 10);
        const struct jc_replay_policy_result *x = &res.policy[p];
        double se = sqrt(want * (1 - want) / (double)x->matched);
        printf("# uniform %s: ctr %.4f want %.4f matched %llu se %.4f\n", x->name, x->ctr, want,
               (unsigned long long)x->matched, se);
        /* each slate item is in a 10-item list with probability 10/200 */
        assert_true(x->matched > 6500 && x->matched < 8500);
        assert_true(fabs(x->ctr - want) < 4 * se);
        assert_true(x->ci_low < want && want < x->ci_high);
        /* uniform weights: rejection sampling = the plain matched CTR */
        assert_double_near(x->ctr, (double)x->clicks / (double)x->matched, 1e-12);
        assert_double_near(x->ess, (double)x->matched, 1e-6 * (double)x->matched);
    }
    assert_true(res.policy[0].ctr > res.policy[1].ctr + 0.1);
    jc_replay_destroy(r);
    jc_catalog_close(cat);
}

static void test_propensity_and_not_random(void **state)
{
    (void)state;
    struct jc_catalog *cat = items_catalog();
    /* A overlaps the over-shown items 0..19 partly (10..19 + 20..29) */
    struct fixed a = {10, 0}, b = {120, 0};
    struct jc_replay_policy pol[2] = {{"A", &a, fixed_list}, {"B", &b, fixed_list}};
    struct jc_replay_config c;
    jc_replay_config_default(&c);
    c.n = 20;
    struct jc_replay *r;
    assert_int_equal(jc_replay_create(&r, cat, pol, 2, &c), JC_OK);
    feed(r, PROPENSITY, 120000, 9);
    struct jc_replay_result res;
    assert_int_equal(jc_replay_result(r, &res), JC_OK);
    assert_int_equal(res.randomised, 1);
    assert_int_equal(res.no_propensity, 0);
    for (int p = 0; p < 2; p++) {
        double want = true_ctr(p ? 120 : 10, 20);
        const struct jc_replay_policy_result *x = &res.policy[p];
        double se = sqrt(want * (1 - want) / x->ess);
        printf("# propensity %s: ctr %.4f want %.4f matched %llu ess %.0f\n", x->name, x->ctr, want,
               (unsigned long long)x->matched, x->ess);
        assert_true(fabs(x->ctr - want) < 4 * se);
    }
    jc_replay_destroy(r);

    /* the same kind of log without propensities: not randomised, the
     * matched estimate is flagged (and, here, biased towards items 10..19) */
    assert_int_equal(jc_replay_create(&r, cat, pol, 2, &c), JC_OK);
    feed(r, NOT_RANDOM, 40000, 9);
    assert_int_equal(jc_replay_result(r, &res), JC_OK);
    assert_int_equal(res.randomised, 0);
    assert_int_equal(res.used, 40000);
    const struct jc_replay_policy_result *x = &res.policy[0];
    assert_double_near(x->ctr, (double)x->clicks / (double)x->matched, 1e-12);
    jc_replay_destroy(r);
    jc_catalog_close(cat);
}

static void test_attribution_and_errors(void **state)
{
    (void)state;
    struct jc_catalog *cat = items_catalog();
    struct fixed a = {0, 0};
    struct jc_replay_policy pol = {"A", &a, fixed_list};
    struct jc_replay_config c;
    jc_replay_config_default(&c);
    c.n = 3;
    struct jc_replay *r;
    assert_int_equal(jc_replay_create(&r, cat, &pol, 1, &c), JC_OK);
    struct jc_replay_result res;
    assert_int_equal(jc_replay_result(r, &res), JC_ENOTFOUND);
    struct jc_event e;
    jc_event_init(&e);
    e.user = "u0";
    e.user_len = 2;
    /* exposures m1, m1 again (same user/time: one slate), m5, unknown item;
     * two clicks on m1 credit only the later exposure; a click on m7 is
     * never exposed */
    static const char *const seq[][2] = {{"i", "m1"}, {"c", "m1"}, {"i", "m1"}, {"c", "m1"},
                                         {"c", "m1"}, {"i", "m5"}, {"i", "zz"}, {"c", "m7"}};
    for (size_t k = 0; k < 8; k++) {
        e.type = seq[k][0][0] == 'i' ? JC_EV_IMPRESSION : JC_EV_CLICK;
        e.item = seq[k][1];
        e.item_len = strlen(seq[k][1]);
        e.time_ms = 5;
        assert_int_equal(jc_replay_add(r, &e), JC_OK);
    }
    e.type = JC_EV_RATING; /* ignored */
    assert_int_equal(jc_replay_add(r, &e), JC_OK);
    assert_int_equal(jc_replay_result(r, &res), JC_OK);
    assert_int_equal(res.randomised, 0);
    assert_int_equal(res.exposures, 4);
    assert_int_equal(res.slates, 1);
    assert_int_equal(res.clicks, 2);
    assert_int_equal(res.unknown_items, 1);
    assert_int_equal(res.policy[0].matched, 2); /* m1 twice; m5 not in {m0,m1,m2} */
    assert_int_equal(res.policy[0].clicks, 2);
    assert_double_near(res.logged_ctr, 0.5, 1e-12);
    jc_replay_destroy(r);

    /* a failing policy */
    struct jc_replay_policy bad = {"broken", NULL, failing};
    assert_int_equal(jc_replay_create(&r, cat, &bad, 1, &c), JC_OK);
    e.type = JC_EV_IMPRESSION;
    assert_int_equal(jc_replay_add(r, &e), JC_EIO);
    assert_non_null(strstr(jc_errmsg(), "broken"));
    jc_replay_destroy(r);
    /* bad configurations */
    c.n = 0;
    assert_int_equal(jc_replay_create(&r, cat, &pol, 1, &c), JC_EINVAL);
    c.n = 10;
    assert_int_equal(jc_replay_create(&r, cat, &pol, 0, &c), JC_EINVAL);
    jc_catalog_close(cat);
}

/* Every allocation of create + add + result failing in turn: JC_ENOMEM,
 * nothing leaks (ASan), and with injection off the same run succeeds. */
static void test_alloc_failures(void **state)
{
    (void)state;
    struct jc_catalog *cat = items_catalog();
    struct fixed a = {0, 0};
    struct jc_replay_policy pol = {"A", &a, fixed_list};
    struct jc_replay_config c;
    jc_replay_config_default(&c);
    int failures = 0;
    for (long n = 1; n < 64; n++) {
        jc_alloc_fail_after(n);
        struct jc_replay *r = NULL;
        int rc = jc_replay_create(&r, cat, &pol, 1, &c);
        for (uint32_t k = 0; k < 3 && rc == JC_OK; k++) {
            struct jc_event e;
            jc_event_init(&e);
            e.type = JC_EV_IMPRESSION;
            e.user = "u0";
            e.user_len = 2;
            e.item = k ? "m2" : "m1";
            e.item_len = 2;
            rc = jc_replay_add(r, &e);
        }
        jc_alloc_fail_after(0);
        if (rc == JC_OK) {
            struct jc_replay_result res;
            assert_int_equal(jc_replay_result(r, &res), JC_OK);
            assert_int_equal(res.exposures, 3);
            assert_int_equal(res.policy[0].matched, 3);
        } else {
            assert_int_equal(rc, JC_ENOMEM);
            failures++;
        }
        jc_replay_destroy(r);
    }
    assert_true(failures >= 3);
    jc_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_log),
        cmocka_unit_test(test_propensity_and_not_random),
        cmocka_unit_test(test_attribution_and_errors),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
