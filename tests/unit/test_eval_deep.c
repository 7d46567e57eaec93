/*
 * test_eval_deep.c - the ranking models of the zoo as scorers of the
 * evaluation suite (deep.c) and the CTR protocol: on a synthetic catalog with
 * a planted signal (users of taste group g interact with, and rate highly,
 * the items of group g, which also carry genre g), DeepFM and two-tower
 * trained on the split's training part rank the held-out items far above a
 * random scorer; the CTR protocol's AUC is far above 0.5; the report carries
 * the CTR table; bad inputs are error returns.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/rng.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/eval.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_USERS 400
#define N_ITEMS 80

static void planted_catalog(const char *path)
{
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    char id[16];
    uint32_t got;
    static const char *genres[4] = {"Drama", "Comedy", "Action", "Horror"};
    for (uint32_t i = 0; i < N_ITEMS; i++) {
        snprintf(id, sizeof id, "%u", i + 1);
        assert_int_equal(jc_cb_item(b, id, strlen(id), &got, NULL), JC_OK);
        assert_int_equal(jc_cb_item_set_year(b, got, 1990 + (int32_t)(i % 20)), JC_OK);
        const char *g = genres[i % 4];
        assert_int_equal(jc_cb_item_add_genre(b, got, g, strlen(g)), JC_OK);
    }
    struct jc_rng r;
    jc_rng_seed(&r, 7);
    int64_t t = 1000000;
    for (uint32_t u = 0; u < N_USERS; u++) {
        snprintf(id, sizeof id, "u%u", u);
        assert_int_equal(jc_cb_user(b, id, strlen(id), &got, NULL), JC_OK);
        uint32_t group = u % 4;
        for (uint32_t i = 0; i < N_ITEMS; i++) {
            int in = i % 4 == group;
            if (jc_rng_below(&r, 100) < (in ? 45u : 5u)) {
                float v =
                    in ? 4.0f + (float)jc_rng_below(&r, 2) : 1.0f + (float)jc_rng_below(&r, 2);
                assert_int_equal(jc_cb_add_interaction(
                                     b, got, i, v, t += 60 + (int64_t)jc_rng_below(&r, 3600), 0),
                                 JC_OK);
            }
        }
    }
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
}

static struct jc_catalog *open_planted(void)
{
    const char *path = jc_test_path("planted.jcat");
    planted_catalog(path);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, path), JC_OK);
    return cat;
}

static double ndcg10(const struct jc_scorer *s, const struct jc_eval_part *known,
                     const struct jc_eval_part *test)
{
    struct jc_eval_config ec;
    jc_eval_config_default(&ec);
    ec.threads = 2;
    ec.n_segments = 0;
    struct jc_eval_result r;
    assert_int_equal(jc_eval_run(&ec, s, known, test, &r), JC_OK);
    double v;
    assert_int_equal(jc_eval_metric(&r, "ndcg@10", &v), JC_OK);
    assert_true(r.n_users > 100);
    return v;
}

static void test_deep_scorers_rank_planted_signal(void **state)
{
    (void)state;
    struct jc_catalog *cat = open_planted();
    struct jc_split_config sc;
    jc_split_config_default(&sc);
    sc.kind = JC_SPLIT_RANDOM;
    struct jc_split *split;
    assert_int_equal(jc_split_create(&split, cat, &sc), JC_OK);
    struct jc_eval_part train, test;
    jc_split_part(split, JC_PART_TRAIN_VALID, &train);
    jc_split_part(split, JC_PART_TEST, &test);

    /* the random reference */
    static float rnd[N_USERS * N_ITEMS];
    struct jc_rng r;
    jc_rng_seed(&r, 3);
    for (size_t k = 0; k < (size_t)N_USERS * N_ITEMS; k++)
        rnd[k] = jc_rng_float(&r);
    struct jc_scorer *rs;
    assert_int_equal(jc_scorer_matrix(&rs, rnd, N_USERS, N_ITEMS), JC_OK);
    double random_ndcg = ndcg10(rs, &train, &test);
    jc_scorer_destroy(rs);

    struct jc_eval_fit_ctx fit = {&train, cat, jc_test_tmpdir(), 2, 42, {0}};
    static const char *const names[] = {"twotower", "deepfm"};
    for (size_t m = 0; m < 2; m++) {
        const struct jc_eval_model *em = jc_eval_model_find(names[m]);
        assert_non_null(em);
        assert_int_equal(em->n_params, 2);
        double params[JC_EVAL_MAX_PARAMS] = {5, 4};
        struct jc_scorer *s;
        int rc = em->fit(&fit, params, &s);
        if (rc)
            fail_msg("%s: %s", names[m], jc_errmsg());
        assert_string_equal(s->name, names[m]);
        double v = ndcg10(s, &train, &test);
        printf("# %s ndcg@10 %.4f (random %.4f)\n", names[m], v, random_ndcg);
        /* the planted group structure: at least 2x random and a floor */
        assert_true(v > 2.0 * random_ndcg);
        assert_true(v > 0.15);
        jc_scorer_destroy(s);
    }
    /* the serving pipeline on a scratch home of the training part */
    const struct jc_eval_model *pm = jc_eval_model_find("pipeline");
    assert_non_null(pm);
    double pparams[JC_EVAL_MAX_PARAMS] = {pm->params[0].values[0], 5};
    struct jc_scorer *ps;
    int prc = pm->fit(&fit, pparams, &ps);
    if (prc)
        fail_msg("pipeline: %s", jc_errmsg());
    assert_null(ps->score);
    assert_non_null(ps->topn);
    double pv = ndcg10(ps, &train, &test);
    printf("# pipeline ndcg@10 %.4f (random %.4f)\n", pv, random_ndcg);
    assert_true(pv > 2.0 * random_ndcg);
    jc_scorer_destroy(ps);
    /* every ranking model of the zoo is registered */
    static const char *const all[] = {"lr", "fm", "mlp", "widedeep", "neumf", "din", "dcn"};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        assert_non_null(jc_eval_model_find(all[i]));

    /* no work directory / no catalog: error returns */
    struct jc_eval_fit_ctx bad = fit;
    bad.work_dir = NULL;
    struct jc_scorer *s = NULL;
    double params[JC_EVAL_MAX_PARAMS] = {1, 4};
    assert_int_equal(jc_eval_model_find("deepfm")->fit(&bad, params, &s), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "work directory"));
    bad = fit;
    bad.cat = NULL;
    assert_int_equal(jc_eval_model_find("twotower")->fit(&bad, params, &s), JC_EINVAL);
    params[0] = 0;
    assert_int_equal(jc_eval_model_find("deepfm")->fit(&fit, params, &s), JC_EINVAL);
    assert_null(s);
    jc_split_destroy(split);
    jc_catalog_close(cat);
}

static void test_ctr_protocol(void **state)
{
    (void)state;
    struct jc_catalog *cat = open_planted();
    struct jc_eval_ctr_config cc;
    jc_eval_ctr_config_default(&cc);
    cc.models[0] = "fm";
    cc.models[1] = "deepfm";
    cc.n_models = 2;
    cc.epochs = 5;
    cc.threads = 2;
    cc.work_dir = jc_test_path("ctr");
    struct jc_eval_ctr_result res[2];
    int rc = jc_eval_ctr_run(cat, &cc, res);
    if (rc)
        fail_msg("ctr: %s", jc_errmsg());
    for (int i = 0; i < 2; i++) {
        printf("# ctr %s auc %.4f gauc %.4f logloss %.4f rows %llu\n", res[i].model,
               res[i].test.auc, res[i].test.gauc, res[i].test.logloss,
               (unsigned long long)res[i].test.n);
        assert_int_equal(res[i].failed, 0);
        assert_true(res[i].test.n > 100);
        assert_true(res[i].n_train > 5 * res[i].test.n);
        /* ratings are high exactly inside the taste group: easy to learn */
        assert_true(res[i].test.auc > 0.8);
        assert_true(res[i].test.logloss > 0 && res[i].test.logloss < 0.6);
    }
    assert_string_equal(res[1].model, "deepfm");

    /* into a report: results.json "ctr" and the text table */
    struct jc_eval_suite_config sc;
    jc_eval_suite_config_default(&sc);
    sc.models[0] = "popularity";
    sc.n_models = 1;
    sc.protocols = 1u << JC_PROTO_TEMPORAL;
    sc.threads = 1;
    struct jc_eval_report *rep;
    assert_int_equal(jc_eval_suite_run(cat, &sc, &rep), JC_OK);
    assert_int_equal(jc_eval_report_add_ctr(rep, res, 2), JC_OK);
    struct jc_buf b;
    jc_buf_init(&b, 1 << 24);
    assert_int_equal(jc_eval_report_json(rep, &b), JC_OK);
    cJSON *root = cJSON_ParseWithLength(b.data, b.len);
    assert_non_null(root);
    cJSON *ctr = cJSON_GetObjectItem(root, "ctr");
    assert_int_equal(cJSON_GetArraySize(ctr), 2);
    cJSON *e = cJSON_GetArrayItem(ctr, 1);
    assert_string_equal(cJSON_GetObjectItem(e, "model")->valuestring, "deepfm");
    assert_true(fabs(cJSON_GetObjectItem(e, "auc")->valuedouble - res[1].test.auc) < 1e-9);
    /* training curves: one value per epoch run, the validation AUC of the
     * best epoch equal to the maximum */
    cJSON *curve = cJSON_GetObjectItem(e, "valid_auc_by_epoch");
    assert_int_equal(cJSON_GetArraySize(curve), (int)res[1].n_epochs);
    assert_true(res[1].n_epochs >= 2 && res[1].n_epochs <= 5);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(e, "train_loss_by_epoch")),
                     (int)res[1].n_epochs);
    assert_true(res[1].train_loss[res[1].n_epochs - 1] < res[1].train_loss[0]);
    cJSON_Delete(root);
    jc_buf_reset(&b);
    assert_int_equal(jc_eval_report_text(rep, &b), JC_OK);
    assert_non_null(strstr(b.data, "== CTR protocol"));
    jc_buf_free(&b);
    assert_int_equal(jc_eval_report_write(rep, jc_test_path("ctr-report")), JC_OK);
    char *html = NULL;
    size_t hl = 0;
    char hp[4096];
    snprintf(hp, sizeof hp, "%s/report.html", jc_test_path("ctr-report"));
    assert_int_equal(jc_file_read_all(hp, (size_t)1 << 26, &html, &hl), JC_OK);
    assert_non_null(strstr(html, "CTR protocol: training curves"));
    assert_non_null(strstr(html, "id=\"ctr-auc"));
    jc_free(html);
    jc_eval_report_destroy(rep);

    /* not a ranking model */
    cc.models[0] = "ease";
    assert_int_equal(jc_eval_ctr_run(cat, &cc, res), JC_ENOTFOUND);
    assert_non_null(strstr(jc_errmsg(), "ease"));
    cc.models[0] = "fm";
    cc.epochs = 0;
    assert_int_equal(jc_eval_ctr_run(cat, &cc, res), JC_EINVAL);
    jc_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_scorers_rank_planted_signal),
        cmocka_unit_test(test_ctr_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
