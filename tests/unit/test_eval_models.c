/*
 * test_eval_models.c - the baselines (popularity, ItemKNN by hand, EASE
 * against a double-precision reference inverse), the hyper-parameter
 * search plans, the model registry, and the whole suite on a small
 * synthetic catalog: determinism across thread counts, report.html
 * well-formedness and self-containment, results.json content, extra
 * figures, and failures.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "eval/eval_int.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/eval.h>
#include <junco/plot.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* u0 {0,1}, u1 {0,1,2}, u2 {2,3}: 3 users x 4 items */
static const uint64_t k_off[4] = {0, 2, 5, 7};
static const uint32_t k_items[7] = {0, 1, 0, 1, 2, 2, 3};
static const struct jc_eval_part tiny = {3, 4, k_off, k_items, NULL, NULL};

static const float *scores_of(struct jc_scorer *s, uint32_t u, float *buf)
{
    const float *out = NULL;
    if (s->prepare)
        assert_int_equal(s->prepare(s->self, 1), JC_OK);
    assert_int_equal(s->score(s->self, u, 0, buf, &out), JC_OK);
    return out;
}

static void test_popularity(void **state)
{
    (void)state;
    struct jc_scorer *s;
    assert_int_equal(jc_scorer_popularity(&s, &tiny), JC_OK);
    float buf[4];
    const float *x = scores_of(s, 1, buf);
    assert_double_near(x[0], 2, 0);
    assert_double_near(x[1], 2, 0);
    assert_double_near(x[2], 2, 0);
    assert_double_near(x[3], 1, 0);
    assert_string_equal(s->name, "popularity");
    jc_scorer_destroy(s);
}

static void test_itemknn_by_hand(void **state)
{
    (void)state;
    /* |U| = 2, 2, 2, 1; co-counts (0,1) = 2, (0,2) = 1, (1,2) = 1, (2,3) = 1.
     * shrink 0: sim(0,1) = 1, sim(0,2) = sim(1,2) = 1/2, sim(2,3) = 1/sqrt 2 */
    struct jc_itemknn_config c;
    jc_itemknn_config_default(&c);
    c.shrink = 0;
    c.k = 1;
    c.threads = 1;
    struct jc_scorer *s;
    float buf[4];
    assert_int_equal(jc_scorer_itemknn(&s, &tiny, &c), JC_OK);
    /* k = 1: 0 -> 1, 1 -> 0, 2 -> 3, 3 -> 2. u0 = {0, 1}: [1, 1, 0, 0] */
    const float *x = scores_of(s, 0, buf);
    assert_double_near(x[0], 1, 1e-6);
    assert_double_near(x[1], 1, 1e-6);
    assert_double_near(x[2], 0, 0);
    assert_double_near(x[3], 0, 0);
    /* u2 = {2, 3}: from 2 -> 3 (0.7071), from 3 -> 2 (0.7071) */
    x = scores_of(s, 2, buf);
    assert_double_near(x[3], 1 / sqrt(2.0), 1e-6);
    assert_double_near(x[2], 1 / sqrt(2.0), 1e-6);
    jc_scorer_destroy(s);
    /* k = 2: item 2 keeps 3 and then item 0 (tie 0.5 with 1, lower id) */
    c.k = 2;
    c.threads = 3;
    assert_int_equal(jc_scorer_itemknn(&s, &tiny, &c), JC_OK);
    x = scores_of(s, 2, buf); /* from 2: 3 (.7071), 0 (.5); from 3: 2 (.7071) only */
    assert_double_near(x[0], 0.5, 1e-6);
    assert_double_near(x[1], 0, 0);
    assert_double_near(x[2], 1 / sqrt(2.0), 1e-6);
    assert_double_near(x[3], 1 / sqrt(2.0), 1e-6);
    x = scores_of(s, 0, buf); /* from 0: 1 (1), 2 (.5); from 1: 0 (1), 2 (.5) */
    assert_double_near(x[2], 1.0, 1e-6);
    jc_scorer_destroy(s);
    /* shrink 1: sim(0,1) = 2 / (2 + 1) */
    c.k = 3;
    c.shrink = 1;
    assert_int_equal(jc_scorer_itemknn(&s, &tiny, &c), JC_OK);
    x = scores_of(s, 0, buf);
    assert_double_near(x[1], 2.0 / 3.0, 1e-6);
    assert_double_near(x[2], 2 * 1.0 / 3.0, 1e-6);
    jc_scorer_destroy(s);
    c.k = 0;
    assert_int_equal(jc_scorer_itemknn(&s, &tiny, &c), JC_EINVAL);
}

static void random_part(struct jc_eval_part *p, uint64_t *off, uint32_t *items, uint32_t nu,
                        uint32_t ni, uint64_t seed)
{
    struct jc_rng r;
    jc_rng_seed(&r, seed);
    uint64_t n = 0;
    for (uint32_t u = 0; u < nu; u++) {
        off[u] = n;
        for (uint32_t i = 0; i < ni; i++)
            if (jc_rng_below(&r, 100) < 25 + (i % 5) * 5)
                items[n++] = i;
    }
    off[nu] = n;
    *p = (struct jc_eval_part){nu, ni, off, items, NULL, NULL};
}

static void test_ease_against_reference(void **state)
{
    (void)state;
    uint32_t nu = 40, ni = 25;
    uint64_t off[41];
    uint32_t *items = malloc(nu * ni * sizeof *items);
    struct jc_eval_part p;
    random_part(&p, off, items, nu, ni, 3);
    struct jc_ease_config c;
    jc_ease_config_default(&c);
    c.lambda = 5;
    struct jc_scorer *s;
    assert_int_equal(jc_scorer_ease(&s, &p, &c), JC_OK);
    const float *b;
    const uint32_t *mi;
    uint32_t m;
    assert_int_equal(jc_scorer_ease_weights(s, &b, &mi, &m), JC_OK);
    assert_int_equal(m, ni);
    /* reference: G in double, Gauss-Jordan inverse, B = I - P / diag(P) */
    float *g = calloc((size_t)ni * ni, sizeof *g);
    for (uint32_t u = 0; u < nu; u++)
        for (uint64_t a = off[u]; a < off[u + 1]; a++)
            for (uint64_t q = off[u]; q < off[u + 1]; q++)
                g[items[a] * ni + items[q]] += 1;
    for (uint32_t i = 0; i < ni; i++)
        g[i * ni + i] += 5;
    double *pinv = malloc((size_t)ni * ni * sizeof *pinv);
    assert_int_equal(jc_eval__spd_inverse_ref(g, ni, pinv), JC_OK);
    double maxdiff = 0, maxabs = 0;
    for (uint32_t i = 0; i < ni; i++)
        for (uint32_t j = 0; j < ni; j++) {
            double want = i == j ? 0.0 : -pinv[i * ni + j] / pinv[j * ni + j];
            double d = fabs(want - b[i * ni + j]);
            if (d > maxdiff)
                maxdiff = d;
            if (fabs(want) > maxabs)
                maxabs = fabs(want);
        }
    assert_true(maxabs > 0.01);
    assert_true(maxdiff < 1e-5);
    /* scores are row sums of B over the user's items */
    float buf[25];
    const float *x = scores_of(s, 7, buf);
    for (uint32_t j = 0; j < ni; j++) {
        double want = 0;
        for (uint64_t a = off[7]; a < off[8]; a++)
            want += b[items[a] * ni + j];
        assert_double_near(x[j], want, 1e-5);
    }
    jc_scorer_destroy(s);
    /* min_count leaves rare items out: they score -infinity */
    c.min_count = 13;
    assert_int_equal(jc_scorer_ease(&s, &p, &c), JC_OK);
    assert_int_equal(jc_scorer_ease_weights(s, &b, &mi, &m), JC_OK);
    assert_true(m < ni && m > 0);
    x = scores_of(s, 7, buf);
    uint32_t n_inf = 0;
    for (uint32_t j = 0; j < ni; j++)
        n_inf += isinf(x[j]) && x[j] < 0;
    assert_int_equal(n_inf, ni - m);
    jc_scorer_destroy(s);
    c.min_count = 1;
    c.max_items = 10;
    assert_int_equal(jc_scorer_ease(&s, &p, &c), JC_ELIMIT);
    assert_non_null(strstr(jc_errmsg(), "max_items 10"));
    c.max_items = 20000;
    c.lambda = 0;
    assert_int_equal(jc_scorer_ease(&s, &p, &c), JC_EINVAL);
    /* a singular Gram matrix cannot be factored: item 0 never seen and
     * lambda tiny is still positive definite, so force it with -lambda */
    float bad[4] = {1, 2, 2, 1};
    assert_int_equal(jc_eval__spd_inverse(bad, 2), JC_EINTERNAL);
    assert_non_null(strstr(jc_errmsg(), "not positive definite"));
    struct jc_scorer *pop;
    assert_int_equal(jc_scorer_popularity(&pop, &p), JC_OK);
    assert_int_equal(jc_scorer_ease_weights(pop, &b, &mi, &m), JC_EINVAL);
    jc_scorer_destroy(pop);
    free(g);
    free(pinv);
    free(items);
}

/* Fewer users than items: the dual (Woodbury) form against the same
 * double-precision reference, for a small and a large lambda. */
static void test_ease_dual_against_reference(void **state)
{
    (void)state;
    uint32_t nu = 12, ni = 60;
    uint64_t off[13];
    uint32_t *items = malloc(nu * ni * sizeof *items);
    struct jc_eval_part p;
    random_part(&p, off, items, nu, ni, 11);
    static const double lambdas[2] = {0.5, 50};
    float *g = calloc((size_t)ni * ni, sizeof *g);
    double *pinv = malloc((size_t)ni * ni * sizeof *pinv);
    for (int l = 0; l < 2; l++) {
        struct jc_ease_config c;
        jc_ease_config_default(&c);
        c.lambda = lambdas[l];
        struct jc_scorer *s;
        assert_int_equal(jc_scorer_ease(&s, &p, &c), JC_OK);
        const float *b;
        const uint32_t *mi;
        uint32_t m;
        assert_int_equal(jc_scorer_ease_weights(s, &b, &mi, &m), JC_OK);
        assert_int_equal(m, ni);
        memset(g, 0, (size_t)ni * ni * sizeof *g);
        for (uint32_t u = 0; u < nu; u++)
            for (uint64_t a = off[u]; a < off[u + 1]; a++)
                for (uint64_t q = off[u]; q < off[u + 1]; q++)
                    g[items[a] * ni + items[q]] += 1;
        for (uint32_t i = 0; i < ni; i++)
            g[i * ni + i] += (float)lambdas[l];
        assert_int_equal(jc_eval__spd_inverse_ref(g, ni, pinv), JC_OK);
        double maxdiff = 0, maxabs = 0;
        for (uint32_t i = 0; i < ni; i++)
            for (uint32_t j = 0; j < ni; j++) {
                double want = i == j ? 0.0 : -pinv[i * ni + j] / pinv[j * ni + j];
                double d = fabs(want - b[i * ni + j]);
                maxdiff = d > maxdiff ? d : maxdiff;
                maxabs = fabs(want) > maxabs ? fabs(want) : maxabs;
            }
        assert_true(maxabs > 0.01);
        assert_true(maxdiff < 1e-4 * (maxabs > 1 ? maxabs : 1));
        jc_scorer_destroy(s);
    }
    free(g);
    free(pinv);
    free(items);
}

static void test_search_plans(void **state)
{
    (void)state;
    struct jc_eval_param sp[2] = {{"a", {1, 2}, 2}, {"b", {10, 20, 30}, 3}};
    struct jc_search_config c;
    jc_search_config_default(&c);
    double out[JC_EVAL_MAX_TRIALS][JC_EVAL_MAX_PARAMS];
    assert_int_equal(jc_search_plan(sp, 2, &c, out), 6);
    /* odometer order, last parameter fastest */
    const double want[6][2] = {{1, 10}, {1, 20}, {1, 30}, {2, 10}, {2, 20}, {2, 30}};
    for (int i = 0; i < 6; i++) {
        assert_double_near(out[i][0], want[i][0], 0);
        assert_double_near(out[i][1], want[i][1], 0);
    }
    c.budget = 4;
    assert_int_equal(jc_search_plan(sp, 2, &c, out), 4);
    assert_double_near(out[3][0], 2, 0);
    /* random: distinct points, deterministic per seed */
    c.strategy = JC_SEARCH_RANDOM;
    c.budget = 5;
    double r1[JC_EVAL_MAX_TRIALS][JC_EVAL_MAX_PARAMS], r2[JC_EVAL_MAX_TRIALS][JC_EVAL_MAX_PARAMS];
    memset(r1, 0, sizeof r1);
    memset(r2, 0, sizeof r2);
    assert_int_equal(jc_search_plan(sp, 2, &c, r1), 5);
    assert_int_equal(jc_search_plan(sp, 2, &c, r2), 5);
    assert_memory_equal(r1, r2, sizeof(double) * JC_EVAL_MAX_PARAMS * 5);
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            assert_false(r1[i][0] == r1[j][0] && r1[i][1] == r1[j][1]);
    int differs = 0;
    for (uint64_t seed = 1; seed < 6 && !differs; seed++) {
        c.seed = seed;
        jc_search_plan(sp, 2, &c, r2);
        differs = memcmp(r1, r2, sizeof(double) * JC_EVAL_MAX_PARAMS * 5) != 0;
    }
    assert_true(differs);
    /* no parameters: one trial */
    assert_int_equal(jc_search_plan(NULL, 0, &c, out), 1);
}

/* A registered model: scores = -item id (a fixed, worst-ish ranking). */
static int fit_antipop(const struct jc_eval_fit_ctx *ctx, const double *params,
                       struct jc_scorer **out)
{
    (void)params;
    struct jc_scorer *s;
    int rc = jc_scorer_popularity(&s, ctx->train);
    if (rc == JC_OK) {
        float *cnt = s->self;
        for (uint32_t i = 0; i < s->n_items; i++)
            cnt[i] = -cnt[i];
        s->name = "antipop";
        *out = s;
    }
    return rc;
}

static void test_registry(void **state)
{
    (void)state;
    assert_non_null(jc_eval_model_find("popularity"));
    assert_non_null(jc_eval_model_find("itemknn"));
    const struct jc_eval_model *e = jc_eval_model_find("ease");
    assert_non_null(e);
    assert_string_equal(e->params[0].name, "lambda");
    assert_non_null(jc_eval_model_find("ials"));
    assert_non_null(jc_eval_model_find("bpr"));
    assert_null(jc_eval_model_find("nope"));
    size_t n = jc_eval_model_count();
    assert_true(n >= 5);
    struct jc_eval_model m = {"antipop", "negated popularity (test)", 0, {{0}}, fit_antipop};
    assert_int_equal(jc_eval_model_register(&m), JC_OK);
    assert_int_equal(jc_eval_model_register(&m), JC_EEXISTS);
    struct jc_eval_model bad = m;
    bad.name = "Bad Name";
    assert_int_equal(jc_eval_model_register(&bad), JC_EINVAL);
    assert_int_equal(jc_eval_model_count(), n + 1);
    assert_string_equal(jc_eval_model_at(n)->name, "antipop");
}

/* ---- the suite ---------------------------------------------------------- */

static size_t xml_check(const char *s, size_t n)
{
    char stack[64][32];
    int depth = 0;
    size_t i = 0;
    while (i < n) {
        if (s[i] == '&') {
            static const char *ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#"};
            int ok = 0;
            for (size_t k = 0; k < 5 && !ok; k++)
                ok = strncmp(s + i, ents[k], strlen(ents[k])) == 0;
            if (!ok)
                return i + 1;
        }
        if (s[i] != '<') {
            i++;
            continue;
        }
        if (s[i + 1] == '!' || s[i + 1] == '?') {
            const char *e = strchr(s + i, '>');
            if (!e)
                return i + 1;
            i = (size_t)(e - s) + 1;
            continue;
        }
        int closing = s[i + 1] == '/';
        size_t j = i + 1 + (size_t)closing, ns = j;
        while (j < n && s[j] != ' ' && s[j] != '>' && s[j] != '/' && s[j] != '\n')
            j++;
        size_t nl = j - ns;
        if (nl == 0 || nl >= 32)
            return i + 1;
        int inq = 0;
        while (j < n && (inq || (s[j] != '>' && !(s[j] == '/' && s[j + 1] == '>')))) {
            if (s[j] == '"')
                inq = !inq;
            else if (inq && s[j] == '<')
                return j + 1;
            j++;
        }
        if (j >= n)
            return i + 1;
        int self = s[j] == '/';
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], s + ns, nl) != 0 ||
                stack[depth - 1][nl] != '\0')
                return i + 1;
            depth--;
        } else if (!self) {
            if (depth == 64)
                return i + 1;
            memcpy(stack[depth], s + ns, nl);
            stack[depth][nl] = '\0';
            depth++;
        }
        i = j + (self ? 2 : 1);
    }
    return depth == 0 ? 0 : n + 1;
}

/* 80 users x 60 items in 4 taste groups, 3 genres, increasing times. */
static void synth_catalog(const char *path)
{
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    char id[16];
    uint32_t got;
    static const char *genres[3] = {"Drama", "Comedy", "Action"};
    for (uint32_t i = 0; i < 60; i++) {
        snprintf(id, sizeof id, "%u", i + 1);
        assert_int_equal(jc_cb_item(b, id, strlen(id), &got, NULL), JC_OK);
        const char *g = genres[i % 3];
        assert_int_equal(jc_cb_item_add_genre(b, got, g, strlen(g)), JC_OK);
    }
    struct jc_rng r;
    jc_rng_seed(&r, 99);
    int64_t t = 1000000;
    for (uint32_t u = 0; u < 80; u++) {
        snprintf(id, sizeof id, "u%u", u);
        assert_int_equal(jc_cb_user(b, id, strlen(id), &got, NULL), JC_OK);
        uint32_t group = u % 4;
        for (uint32_t i = 0; i < 60; i++) {
            uint64_t p = (i % 4 == group ? 55 : 6) + (i < 8 ? 20 : 0);
            if (jc_rng_below(&r, 100) < p)
                assert_int_equal(jc_cb_add_interaction(b, got, i, (float)(1 + i % 5),
                                                       t += 1 + (int64_t)jc_rng_below(&r, 50), 0),
                                 JC_OK);
        }
    }
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
}

static void suite_config(struct jc_eval_suite_config *c, const char *const *space)
{
    jc_eval_suite_config_default(c);
    c->models[0] = "popularity";
    c->models[1] = "itemknn";
    c->models[2] = "ease";
    c->models[3] = "antipop";
    c->models[4] = "ials";
    c->models[5] = "bpr";
    c->n_models = 6;
    c->eval.ks[0] = 5;
    c->eval.ks[1] = 10;
    c->eval.n_ks = 2;
    c->eval.recall_ns[0] = 20;
    c->eval.n_recall_ns = 1;
    c->eval.n_negatives = 20;
    snprintf(c->search.metric, sizeof c->search.metric, "ndcg@10");
    c->space = space;
    c->work_dir = jc_test_tmpdir();
}

static void test_suite_and_report(void **state)
{
    (void)state;
    if (jc_eval_model_find("antipop") == NULL) {
        struct jc_eval_model m = {"antipop", "negated popularity (test)", 0, {{0}}, fit_antipop};
        assert_int_equal(jc_eval_model_register(&m), JC_OK);
    }
    const char *cpath = jc_test_path("suite.jcat");
    synth_catalog(cpath);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, cpath), JC_OK);
    static const char *const space[] = {
        "itemknn.k=5,20", "itemknn.shrink=0", "ease.lambda=1,10,100", "ials.dim=8",
        "ials.reg=0.1",   "ials.alpha=10",    "ials.epochs=5",        "bpr.dim=8",
        "bpr.lr=0.05",    "bpr.reg=0.01",     "bpr.epochs=20",        NULL};
    struct jc_eval_suite_config c;
    suite_config(&c, space);
    c.threads = 1;
    struct jc_eval_report *r1, *r2;
    assert_int_equal(jc_eval_suite_run(cat, &c, &r1), JC_OK);
    c.threads = 2;
    assert_int_equal(jc_eval_suite_run(cat, &c, &r2), JC_OK);
    struct jc_buf t1, t2;
    jc_buf_init(&t1, 1 << 20);
    jc_buf_init(&t2, 1 << 20);
    assert_int_equal(jc_eval_report_text(r1, &t1), JC_OK);
    assert_int_equal(jc_eval_report_text(r2, &t2), JC_OK);
    assert_string_equal(t1.data, t2.data); /* same numbers for 1 and 2 threads */
    assert_non_null(strstr(t1.data, "SAMPLED"));
    assert_true(strstr(t1.data, "k=20, shrink=0") || strstr(t1.data, "k=5, shrink=0"));

    /* the group structure is learnable: ItemKNN and EASE beat popularity,
     * which beats negated popularity, under full ranking on the random split */
    const struct jc_eval__proto_run *pr = &r1->protos[0];
    assert_int_equal(pr->proto, JC_PROTO_RANDOM);
    assert_int_equal(pr->n_models, 6);
    double pop = pr->models[0].test.at[1].m.ndcg, knn = pr->models[1].test.at[1].m.ndcg;
    double ease = pr->models[2].test.at[1].m.ndcg, anti = pr->models[3].test.at[1].m.ndcg;
    assert_true(knn > pop && ease > pop && pop > anti);
    /* the embeddings module's factor models train on the split's train part */
    assert_int_equal(pr->models[4].failed, 0);
    assert_int_equal(pr->models[5].failed, 0);
    assert_true(pr->models[4].test.at[1].m.ndcg > anti);
    assert_true(pr->models[5].test.at[1].m.ndcg > anti);
    assert_int_equal(pr->models[2].search.n_trials, 3);
    assert_int_equal(pr->models[1].search.n_trials, 2);
    assert_int_equal(r1->n_protos, 4);
    assert_int_equal(r1->protos[3].proto, JC_PROTO_LOO_SAMPLED);
    assert_int_equal(r1->protos[3].models[0].test.mode, JC_EVAL_SAMPLED);
    /* loo and loo-sampled share the split */
    assert_int_equal(r1->protos[2].split.checksum, r1->protos[3].split.checksum);
    assert_true(r1->protos[3].models[0].test.at[1].m.hit >
                r1->protos[2].models[0].test.at[1].m.hit);

    /* extras, then the files */
    struct jc_plot_config pc;
    jc_plot_config_default(&pc);
    pc.id = "roc-extra";
    pc.title = "ROC <DeepFM>";
    struct jc_plot *p;
    assert_int_equal(jc_plot_create(&p, &pc), JC_OK);
    double x[3] = {0, 0.5, 1}, y[3] = {0, 0.8, 1};
    assert_int_equal(jc_plot_line(p, "deepfm", x, y, 3), JC_OK);
    assert_int_equal(jc_eval_report_add_plot(r1, "CTR: ROC & PR", p), JC_OK);
    jc_plot_destroy(p);
    const char *hdr[2] = {"model", "AUC"};
    const char *cells[2] = {"lr <baseline>", "0.71"};
    assert_int_equal(jc_eval_report_add_table(r1, "CTR: ROC & PR", 2, hdr, 1, cells), JC_OK);
    assert_int_equal(jc_eval_report_add_table(r1, "x", 0, hdr, 1, cells), JC_EINVAL);
    const char *dir = jc_test_path("report");
    assert_int_equal(jc_eval_report_write(r1, dir), JC_OK);
    char path[4096], *html, *json;
    size_t hl, jl;
    snprintf(path, sizeof path, "%s/report.html", dir);
    assert_int_equal(jc_file_read_all(path, 1 << 26, &html, &hl), JC_OK);
    assert_int_equal(xml_check(html, hl), 0);
    assert_memory_equal(html, "<!DOCTYPE html>", 15);
    /* self-contained: the only URLs are XML namespace names */
    for (const char *u = strstr(html, "http"); u; u = strstr(u + 1, "http"))
        assert_true(strncmp(u, "http://www.w3.org/", 18) == 0 && (u[-7] == 'x' || u[-6] == 'x'));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "src=\""));
    assert_non_null(strstr(html, "id=\"proto-loo-sampled\""));
    assert_non_null(strstr(html, "SAMPLED ranking"));
    assert_non_null(strstr(html, "NDCG@10 (sampled)"));
    assert_non_null(strstr(html, "<h3>CTR: ROC &amp; PR</h3>"));
    assert_non_null(strstr(html, "lr &lt;baseline&gt;"));
    assert_non_null(strstr(html, "<title>ROC &lt;DeepFM&gt;</title>"));
    /* one figure id per plot: no duplicates */
    assert_non_null(strstr(html, "clipPath id=\"p0-k0-clip\""));
    assert_null(
        strstr(strstr(html, "clipPath id=\"p0-k0-clip\"") + 10, "clipPath id=\"p0-k0-clip\""));
    snprintf(path, sizeof path, "%s/results.json", dir);
    assert_int_equal(jc_file_read_all(path, 1 << 26, &json, &jl), JC_OK);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "format")->valuestring, "junco-eval-results");
    cJSON *protos = cJSON_GetObjectItem(root, "protocols");
    assert_int_equal(cJSON_GetArraySize(protos), 4);
    cJSON *p3 = cJSON_GetArrayItem(protos, 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(p3, "sampled")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(protos, 0), "sampled")));
    cJSON *m2 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(protos, 0), "models"), 2);
    assert_string_equal(cJSON_GetObjectItem(m2, "model")->valuestring, "ease");
    double ndcg = cJSON_GetObjectItem(
                      cJSON_GetObjectItem(cJSON_GetObjectItem(m2, "test"), "metrics"), "ndcg@10")
                      ->valuedouble;
    assert_double_near(ndcg, ease, 1e-12);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m2, "trials")), 3);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)pr->split.checksum);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(protos, 0), "split"), "checksum")
            ->valuestring,
        hex);
    cJSON_Delete(root);
    jc_free(json);
    jc_free(html);
    /* a failing write is an error */
    jc_fileio_fail_write_after(1);
    assert_int_not_equal(jc_eval_report_write(r1, jc_test_path("report2")), JC_OK);
    jc_fileio_fail_write_after(0);
    jc_buf_free(&t1);
    jc_buf_free(&t2);
    jc_eval_report_destroy(r1);
    jc_eval_report_destroy(r2);

    /* bad requests */
    struct jc_eval_report *r3 = NULL;
    suite_config(&c, space);
    c.models[0] = "nope";
    assert_int_equal(jc_eval_suite_run(cat, &c, &r3), JC_ENOTFOUND);
    assert_non_null(strstr(jc_errmsg(), "unknown model 'nope'"));
    suite_config(&c, space);
    snprintf(c.search.metric, sizeof c.search.metric, "ndcg@7");
    assert_int_equal(jc_eval_suite_run(cat, &c, &r3), JC_ENOTFOUND);
    static const char *const bad_space[] = {"ease.alpha=1", NULL};
    suite_config(&c, bad_space);
    c.protocols = 1u << JC_PROTO_RANDOM;
    assert_int_equal(jc_eval_suite_run(cat, &c, &r3), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "no parameter 'alpha'"));
    /* a model that fails is recorded, the others still run */
    static const char *const fail_space[] = {"ease.lambda=-1", NULL};
    suite_config(&c, fail_space);
    c.protocols = 1u << JC_PROTO_RANDOM;
    assert_int_equal(jc_eval_suite_run(cat, &c, &r3), JC_OK);
    assert_int_equal(r3->protos[0].models[2].failed, JC_EINVAL);
    assert_non_null(strstr(r3->protos[0].models[2].error, "lambda -1"));
    assert_int_equal(r3->protos[0].models[1].failed, 0);
    jc_eval_report_destroy(r3);
    jc_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_popularity),
        cmocka_unit_test(test_itemknn_by_hand),
        cmocka_unit_test(test_ease_against_reference),
        cmocka_unit_test(test_ease_dual_against_reference),
        cmocka_unit_test(test_search_plans),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_suite_and_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
