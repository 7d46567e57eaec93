/*
 * test_metrics_ctr.c - CTR metrics: hand-computed AUC/GAUC with ties,
 * logloss, average precision, curves, and a cross-check of every metric
 * against scikit-learn (system /usr/bin/python3) to 1e-6 on seeded data
 * with heavy ties, skipped (with a message) when sklearn is missing.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/rng.h"
#include <junco/error.h>
#include <junco/metrics.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_auc_hand_values(void **state)
{
    (void)state;
    double auc;
    /* perfect, inverted, all tied */
    float s1[4] = {0.9f, 0.8f, 0.2f, 0.1f}, y1[4] = {1, 1, 0, 0};
    assert_int_equal(jc_ctr_auc(s1, y1, 4, &auc), JC_OK);
    assert_double_near(auc, 1.0, 1e-12);
    float y2[4] = {0, 0, 1, 1};
    jc_ctr_auc(s1, y2, 4, &auc);
    assert_double_near(auc, 0.0, 1e-12);
    float s3[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    jc_ctr_auc(s3, y1, 4, &auc);
    assert_double_near(auc, 0.5, 1e-12);
    /* ties across classes count one half: pos {0.8, 0.5}, neg {0.5, 0.2}
     * pairs: (0.8>0.5) 1, (0.8>0.2) 1, (0.5=0.5) 0.5, (0.5>0.2) 1 -> 3.5/4 */
    float s4[4] = {0.8f, 0.5f, 0.5f, 0.2f}, y4[4] = {1, 1, 0, 0};
    jc_ctr_auc(s4, y4, 4, &auc);
    assert_double_near(auc, 0.875, 1e-12);
    /* one class: NaN */
    float y5[4] = {1, 1, 1, 1};
    jc_ctr_auc(s4, y5, 4, &auc);
    assert_true(isnan(auc));
}

static void test_all_metrics_hand_values(void **state)
{
    (void)state;
    /* user 1: perfect; user 2: inverted (3 rows); user 3: one class (skipped) */
    float s[8] = {0.9f, 0.1f, 0.2f, 0.3f, 0.8f, 0.6f, 0.7f, 0.4f};
    float y[8] = {1, 0, 1, 1, 0, 1, 1, 1};
    uint32_t u[8] = {1, 1, 2, 2, 2, 3, 3, 3};
    struct jc_ctr_metrics m;
    assert_int_equal(jc_ctr_metrics_compute(s, y, u, 8, &m), JC_OK);
    assert_int_equal(m.n, 8);
    assert_int_equal(m.n_pos, 6);
    assert_int_equal(m.gauc_users, 2);
    assert_double_near(m.gauc, (1.0 * 2 + 0.0 * 3) / 5, 1e-12);
    double ll = 0;
    for (int i = 0; i < 8; i++)
        ll -= y[i] ? log(s[i]) : log(1 - s[i]);
    assert_double_near(m.logloss, ll / 8, 1e-6);
    /* accuracy at 0.5: correct = rows 0,1,5,6 -> 4/8 */
    assert_double_near(m.accuracy, 0.5, 1e-12);
    assert_double_near(m.pos_rate, 0.75, 1e-12);
    assert_double_near(m.mean_pred, 4.0 / 8, 1e-6);
    assert_double_near(m.calibration, (4.0 / 8) / 0.75, 1e-6);
    /* AP: order 0.9+ 0.8- 0.7+ 0.6+ 0.4+ 0.3+ 0.2+ 0.1- */
    double ap = (1.0 / 6) * 1 + (1.0 / 6) * (2.0 / 3) + (1.0 / 6) * (3.0 / 4) +
                (1.0 / 6) * (4.0 / 5) + (1.0 / 6) * (5.0 / 6) + (1.0 / 6) * (6.0 / 7);
    assert_double_near(m.pr_auc, ap, 1e-9);
    struct jc_buf b;
    jc_buf_init(&b, 1 << 20);
    assert_int_equal(jc_ctr_roc_csv(s, y, 8, &b), JC_OK);
    assert_non_null(strstr(b.data, "threshold,fpr,tpr\ninf,0,0\n0.899999976,0,0.166666667\n"));
    jc_buf_reset(&b);
    assert_int_equal(jc_ctr_calibration_csv(s, y, 8, 2, &b), JC_OK);
    assert_string_equal(b.data, "bin,lo,hi,n,mean_pred,pos_rate\n"
                                "0,0,0.5,4,0.250000006,0.75\n"
                                "1,0.5,1,4,0.75,0.75\n");
    jc_buf_reset(&b);
    assert_int_equal(jc_ctr_metrics_json(&m, &b), JC_OK);
    assert_non_null(strstr(b.data, "\"gauc_users\":2"));
    jc_buf_free(&b);
    assert_int_equal(jc_ctr_metrics_compute(s, y, u, 0, &m), JC_EINVAL);
}

static void test_curves_svg(void **state)
{
    (void)state;
    float s[6] = {0.9f, 0.8f, 0.7f, 0.3f, 0.2f, 0.1f}, y[6] = {1, 0, 1, 0, 1, 0};
    const char *roc = jc_test_path("roc.svg"), *pr = jc_test_path("pr.svg");
    assert_int_equal(jc_ctr_curves_svg(s, y, 6, "model", roc, pr), JC_OK);
    char *data;
    size_t len;
    assert_int_equal(jc_file_read_all(roc, 1 << 20, &data, &len), JC_OK);
    assert_non_null(strstr(data, "<svg"));
    assert_non_null(strstr(data, "ROC"));
    jc_free(data);
    assert_int_equal(jc_file_read_all(pr, 1 << 20, &data, &len), JC_OK);
    assert_non_null(strstr(data, "Precision-recall"));
    jc_free(data);
}

static const char *sk_script =
    "import sys, json\n"
    "import numpy as np\n"
    "from sklearn.metrics import roc_auc_score, log_loss, average_precision_score, "
    "accuracy_score, roc_curve\n"
    "d = np.loadtxt(sys.argv[1], delimiter=',')\n"
    "s, y, u = d[:, 0], d[:, 1], d[:, 2].astype(int)\n"
    "g_num = g_den = 0.0\n"
    "for uu in np.unique(u):\n"
    "    m = u == uu\n"
    "    if 0 < y[m].sum() < m.sum():\n"
    "        g_num += roc_auc_score(y[m], s[m]) * m.sum(); g_den += m.sum()\n"
    "fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)\n"
    "print(json.dumps({'auc': roc_auc_score(y, s), 'gauc': g_num / g_den,\n"
    "  'logloss': log_loss(y, s, eps=1e-15), 'pr_auc': average_precision_score(y, s),\n"
    "  'accuracy': accuracy_score(y, (s > 0.5).astype(int)), 'n_roc': len(fpr),\n"
    "  'fpr_mid': fpr[len(fpr)//2], 'tpr_mid': tpr[len(fpr)//2]}))\n";

static double json_num(const char *js, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(js, pat);
    assert_non_null(p);
    return strtod(p + strlen(pat), NULL);
}

static void test_against_sklearn(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1") != 0) {
        print_message("SKIPPED: /usr/bin/python3 with scikit-learn not available\n");
        skip();
    }
    enum { N = 5000 };
    static float s[N], y[N];
    static uint32_t u[N];
    struct jc_rng r;
    jc_rng_seed(&r, 123);
    struct jc_buf csv;
    jc_buf_init(&csv, 1 << 24);
    for (int i = 0; i < N; i++) {
        u[i] = (uint32_t)jc_rng_below(&r, 60);
        y[i] = jc_rng_float(&r) < 0.3f + 0.004f * u[i] ? 1.0f : 0.0f;
        /* scores rounded to 2 decimals: many ties */
        float raw = 0.5f * jc_rng_float(&r) + 0.3f * y[i] + 0.1f;
        s[i] = roundf(raw * 100.0f) / 100.0f;
        jc_buf_printf(&csv, "%.9g,%g,%u\n", s[i], y[i], u[i]);
    }
    const char *data = jc_test_path("sk.csv"), *py = jc_test_path("sk.py"),
               *out = jc_test_path("sk.json");
    jc_test_write_bytes(data, csv.data, csv.len);
    jc_test_write_file(py, sk_script);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s > %s", py, data, out);
    assert_int_equal(system(cmd), 0);
    char *js;
    size_t len;
    assert_int_equal(jc_file_read_all(out, 1 << 20, &js, &len), JC_OK);
    struct jc_ctr_metrics m;
    assert_int_equal(jc_ctr_metrics_compute(s, y, u, N, &m), JC_OK);
    print_message("junco auc %.9f sklearn %.9f\n", m.auc, json_num(js, "auc"));
    assert_double_near(m.auc, json_num(js, "auc"), 1e-6);
    assert_double_near(m.gauc, json_num(js, "gauc"), 1e-6);
    assert_double_near(m.logloss, json_num(js, "logloss"), 1e-6);
    assert_double_near(m.pr_auc, json_num(js, "pr_auc"), 1e-6);
    assert_double_near(m.accuracy, json_num(js, "accuracy"), 1e-6);
    /* the ROC CSV has one row per distinct threshold plus the origin, like
     * roc_curve(drop_intermediate=False) */
    jc_buf_reset(&csv);
    assert_int_equal(jc_ctr_roc_csv(s, y, N, &csv), JC_OK);
    size_t lines = 0;
    for (size_t i = 0; i < csv.len; i++)
        lines += csv.data[i] == '\n';
    assert_int_equal(lines - 1, (size_t)json_num(js, "n_roc"));
    jc_free(js);
    jc_buf_free(&csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auc_hand_values),
        cmocka_unit_test(test_all_metrics_hand_values),
        cmocka_unit_test(test_curves_svg),
        cmocka_unit_test(test_against_sklearn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
