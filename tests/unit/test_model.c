/*
 * test_model.c - the model zoo: every model's backward against finite
 * differences (all parameters it touches, embeddings included), quality
 * floors on the seeded synthetic data set with known signal, model file
 * round trip (bit-exact predictions), corrupt files, the registry,
 * serving-mode scoring equal to row scoring, allocation-free scoring after
 * warm-up, determinism (1 thread and 2 threads), resume equivalence and
 * online learning.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "model/model_int.h"
#include <junco/error.h>
#include <junco/model.h>
#include <junco/train.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct jc_feat_layout g_small_layout;
static struct jc_batch g_small, g_sv, g_st;

static int setup_small(void **state)
{
    (void)state;
    struct jc_train_synth_opts o;
    jc_train_synth_opts_default(&o);
    o.n_users = 12;
    o.n_items = 15;
    o.n_genres = 5;
    o.n_train = 9;
    o.n_valid = 1;
    o.n_test = 1;
    o.seed = 7;
    return jc_train_synth(&o, &g_small_layout, &g_small, &g_sv, &g_st);
}

static int teardown_small(void **state)
{
    (void)state;
    jc_batch_free(&g_small);
    jc_batch_free(&g_sv);
    jc_batch_free(&g_st);
    return 0;
}

/* Total loss (sum over rows) of the TRAIN-mode forward. */
static double total_loss(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b)
{
    jc_ws_arena_reset(ws);
    assert_int_equal(m->ops->forward(m, ws, b, 0, b->n, JC_MODE_TRAIN), JC_OK);
    if (m->ops->loss) {
        assert_int_equal(m->ops->loss(m, ws, b, 0, b->n, 1.0f), JC_OK);
        return ws->loss;
    }
    double s = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        double z = ws->logit[i];
        s += jc_nn_softplus(z) - b->label[i] * z;
    }
    return s;
}

static int g_checked;

static void check_entry(const char *pname, size_t i, float *w, double analytic, struct jc_model *m,
                        struct jc_ws *ws, const struct jc_batch *b)
{
    const float eps = 2e-3f;
    float keep = *w;
    *w = keep + eps;
    double lp = total_loss(m, ws, b);
    *w = keep - eps;
    double lm = total_loss(m, ws, b);
    *w = keep;
    double num = (lp - lm) / (2.0 * eps);
    double mx = fabs(num) > fabs(analytic) ? fabs(num) : fabs(analytic);
    if (fabs(num - analytic) > 2e-3 + 3e-2 * mx) {
        print_error("%s %s[%zu]: analytic %.6f numeric %.6f\n", jc_model_kind_name(m->cfg.kind),
                    pname, i, analytic, num);
        fail();
    }
    g_checked++;
}

static void grad_check(struct jc_model_config *cfg)
{
    struct jc_model *m;
    int rc = jc_model_create(&m, cfg, &g_small_layout);
    if (rc)
        print_error("%s\n", jc_errmsg());
    assert_int_equal(rc, JC_OK);
    /* random-ish weights everywhere (zero-initialised linear parts too) */
    struct jc_rng r;
    jc_rng_seed(&r, 11);
    for (uint32_t p = 0; p < m->n_params; p++) {
        struct jc_mparam *pp = &m->p[p];
        if (pp->group == JC_PG_BUFFER)
            continue;
        for (size_t k = 0; k < (size_t)pp->rows * pp->cols; k++)
            pp->w[k] += (float)(jc_rng_normal(&r) * 0.3);
    }
    struct jc_ws ws, ws2;
    assert_int_equal(jc_ws_init(&ws, m, g_small.n, 1), JC_OK);
    assert_int_equal(jc_ws_init(&ws2, m, g_small.n, 0), JC_OK);
    jc_ws_zero_grad(&ws);
    assert_int_equal(jc_model__train_shard(m, &ws, &g_small, 0, g_small.n, 1), JC_OK);
    int before = g_checked;
    for (uint32_t p = 0; p < m->n_params; p++) {
        struct jc_mparam *pp = &m->p[p];
        if (pp->group == JC_PG_BUFFER)
            continue;
        if (!pp->sparse) {
            size_t n = (size_t)pp->rows * pp->cols;
            for (int t = 0; t < 8; t++) {
                size_t i = (size_t)jc_rng_below(&r, n);
                check_entry(pp->name, i, pp->w + i, ws.grad[pp->off + i], m, &ws2, &g_small);
            }
        } else {
            struct jc_sgrad *sg = &ws.sg[pp->sidx];
            for (uint32_t k = 0; k < sg->n && k < 4; k++)
                for (uint32_t c = 0; c < pp->cols; c++) {
                    size_t i = (size_t)sg->rows[k] * pp->cols + c;
                    check_entry(pp->name, i, pp->w + i, sg->g[(size_t)k * sg->dim + c], m, &ws2,
                                &g_small);
                }
            /* an untouched row has no gradient entry */
            for (uint32_t k = 0; k < sg->n; k++)
                assert_true(sg->rows[k] != 0 || pp->rows == (1u << 18));
        }
    }
    assert_true(g_checked - before > 20);
    jc_ws_free(&ws);
    jc_ws_free(&ws2);
    jc_model_destroy(m);
}

static void small_cfg(struct jc_model_config *c, enum jc_model_kind k)
{
    jc_model_config_default(c, k);
    c->emb_dim = 4;
    c->n_hidden = 2;
    c->hidden[0] = 6;
    c->hidden[1] = 5;
    c->act = JC_ACT_TANH;
    c->tower_dim = 3;
    c->att_hidden = 5;
    c->cross_buckets = 64;
}

static void test_grad_all_models(void **state)
{
    (void)state;
    for (int k = 1; k <= JC_MODEL_KIND_MAX; k++) {
        struct jc_model_config c;
        small_cfg(&c, (enum jc_model_kind)k);
        grad_check(&c);
    }
}

static void test_grad_variants(void **state)
{
    (void)state;
    struct jc_model_config c;
    small_cfg(&c, JC_MODEL_DIN);
    c.act = JC_ACT_PRELU;
    grad_check(&c);
    c.act = JC_ACT_DICE;
    grad_check(&c);
    small_cfg(&c, JC_MODEL_MLP);
    c.layer_norm = 1;
    c.act = JC_ACT_DICE;
    grad_check(&c);
    small_cfg(&c, JC_MODEL_DEEPFM);
    c.act = JC_ACT_RELU;
    grad_check(&c);
    small_cfg(&c, JC_MODEL_TWOTOWER);
    c.loss = JC_LOSS_SOFTMAX;
    grad_check(&c);
}

/* ---- training on the synthetic data set -------------------------------- */

static struct jc_feat_layout g_layout;
static struct jc_batch g_train, g_valid, g_test;
static int g_sanitize;

static int setup_synth(void **state)
{
    (void)state;
    struct jc_train_synth_opts o;
    jc_train_synth_opts_default(&o);
    /* sanitizer runs (scripts/run-tests with JC_SANITIZE) are ~20x slower:
     * they exercise the same paths on less data, with a looser floor */
    g_sanitize = getenv("JC_SANITIZE") != NULL;
    o.n_train = g_sanitize ? 20000 : 60000;
    o.n_valid = o.n_test = g_sanitize ? 4000 : 10000;
    return jc_train_synth(&o, &g_layout, &g_train, &g_valid, &g_test);
}

static int teardown_synth(void **state)
{
    (void)state;
    jc_batch_free(&g_train);
    jc_batch_free(&g_valid);
    jc_batch_free(&g_test);
    return 0;
}

static struct jc_model *train_kind(enum jc_model_kind k, int threads, uint32_t epochs,
                                   struct jc_train_report *rep)
{
    struct jc_train_config c;
    jc_train_config_default(&c, k);
    c.epochs = epochs;
    c.threads = threads;
    c.batch = 256;
    struct jc_train_source tr, va;
    jc_train_source_batch(&tr, &g_layout, &g_train);
    jc_train_source_batch(&va, &g_layout, &g_valid);
    struct jc_model *m = NULL;
    int rc = jc_train_run(&m, &c, &tr, &va, rep);
    if (rc)
        print_error("train %s: %s\n", jc_model_kind_name(k), jc_errmsg());
    assert_int_equal(rc, JC_OK);
    return m;
}

static double test_auc(const struct jc_model *m)
{
    struct jc_train_source te;
    jc_train_source_batch(&te, &g_layout, &g_test);
    struct jc_ctr_metrics cm;
    assert_int_equal(jc_train_evaluate(m, &te, 2, &cm), JC_OK);
    return cm.auc;
}

/* Floors measured on this data set (seed 42): LR only sees the biases; every
 * model with interactions must clear LR by a margin. A broken gradient
 * (sign, missing term, wrong row) fails these. */
static void test_quality_floors(void **state)
{
    (void)state;
    struct jc_train_report rep;
    uint32_t epochs = g_sanitize ? 1 : 3;
    double margin = g_sanitize ? -0.05 : 0.025, floor_lr = g_sanitize ? 0.55 : 0.64;
    struct jc_model *lr = train_kind(JC_MODEL_LR, 2, epochs, &rep);
    double auc_lr = test_auc(lr);
    jc_model_destroy(lr);
    print_message("lr test auc %.4f\n", auc_lr);
    assert_true(auc_lr > floor_lr);
    int fails = 0;
    for (int k = 2; k <= JC_MODEL_KIND_MAX; k++) {
        struct jc_model *m = train_kind((enum jc_model_kind)k, 2, epochs, &rep);
        double auc = test_auc(m);
        print_message("%s test auc %.4f (best epoch %u, %.0f samples/s)\n",
                      jc_model_kind_name((enum jc_model_kind)k), auc, rep.best_epoch,
                      rep.samples_per_sec);
        fails += !(auc > auc_lr + margin);
        jc_model_destroy(m);
    }
    assert_int_equal(fails, 0);
}

static void test_determinism(void **state)
{
    (void)state;
    struct jc_train_report rep;
    for (int threads = 1; threads <= 2; threads++) {
        struct jc_model *a = train_kind(JC_MODEL_DEEPFM, threads, 1, &rep);
        struct jc_model *b = train_kind(JC_MODEL_DEEPFM, threads, 1, &rep);
        assert_int_equal(a->n_dense, b->n_dense);
        assert_memory_equal(a->flat_w, b->flat_w, a->n_dense * sizeof(float));
        for (uint32_t p = 0; p < a->n_params; p++)
            if (a->p[p].sparse)
                assert_memory_equal(a->p[p].w, b->p[p].w,
                                    (size_t)a->p[p].rows * a->p[p].cols * sizeof(float));
        jc_model_destroy(a);
        jc_model_destroy(b);
    }
}

static void scores_of(const struct jc_model *m, const struct jc_batch *b, float *out)
{
    struct jc_model_scorer *s;
    assert_int_equal(jc_model_scorer_create(&s, m, b->n), JC_OK);
    assert_int_equal(jc_model_score_rows(s, b, out), JC_OK);
    jc_model_scorer_destroy(s);
}

static void test_file_round_trip_and_corruption(void **state)
{
    (void)state;
    struct jc_train_report rep;
    const char *path = jc_test_path("din.jcm");
    for (int k = 1; k <= JC_MODEL_KIND_MAX; k++) {
        struct jc_model_config c;
        small_cfg(&c, (enum jc_model_kind)k);
        struct jc_model *m;
        assert_int_equal(jc_model_create(&m, &c, &g_layout), JC_OK);
        assert_int_equal(jc_model_set_spec(m, "SPECBLOB", 8), JC_OK);
        assert_int_equal(jc_model_save(m, path, k % 2), JC_OK);
        struct jc_model *l;
        int rc = jc_model_load(&l, path);
        if (rc)
            print_error("%s\n", jc_errmsg());
        assert_int_equal(rc, JC_OK);
        size_t sl;
        const void *spec = jc_model_spec(l, &sl);
        assert_int_equal(sl, 8);
        assert_memory_equal(spec, "SPECBLOB", 8);
        float s1[64], s2[64];
        struct jc_batch sub = g_test;
        sub.n = 64;
        scores_of(m, &sub, s1);
        scores_of(l, &sub, s2);
        assert_memory_equal(s1, s2, sizeof s1);
        jc_model_destroy(m);
        jc_model_destroy(l);
    }
    struct jc_model *m = train_kind(JC_MODEL_DIN, 2, 1, &rep);
    assert_int_equal(jc_model_save(m, path, 1), JC_OK);
    char *data;
    size_t len;
    assert_int_equal(jc_file_read_all(path, 1u << 30, &data, &len), JC_OK);
    struct jc_model *l = NULL;
    /* one flipped byte in the tensors */
    data[len / 2] ^= 0x40;
    jc_test_write_bytes(jc_test_path("bad.jcm"), data, len);
    assert_int_equal(jc_model_load(&l, jc_test_path("bad.jcm")), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "checksum mismatch"));
    assert_null(l);
    data[len / 2] ^= 0x40;
    /* truncated */
    jc_test_write_bytes(jc_test_path("bad.jcm"), data, len - 100);
    assert_int_equal(jc_model_load(&l, jc_test_path("bad.jcm")), JC_ECORRUPT);
    /* bad magic */
    data[0] = 'X';
    jc_test_write_bytes(jc_test_path("bad.jcm"), data, len);
    assert_int_equal(jc_model_load(&l, jc_test_path("bad.jcm")), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "bad magic"));
    jc_free(data);
    /* not there */
    assert_int_equal(jc_model_load(&l, jc_test_path("nope.jcm")), JC_ENOTFOUND);
    /* failing writes leave the previous file intact */
    jc_fileio_fail_write_after(1);
    assert_int_not_equal(jc_model_save(m, path, 1), JC_OK);
    jc_fileio_fail_write_after(0);
    assert_int_equal(jc_model_load(&l, path), JC_OK);
    jc_model_destroy(l);
    /* allocation failures while loading are errors, not crashes */
    for (long k = 1; k < 40; k += 3) {
        jc_alloc_fail_after(k);
        l = NULL;
        int rc = jc_model_load(&l, path);
        jc_alloc_fail_after(0);
        if (rc == JC_OK)
            jc_model_destroy(l);
        else
            assert_null(l);
    }
    jc_model_destroy(m);
}

static void test_registry(void **state)
{
    (void)state;
    const char *dir = jc_test_path("models/deepfm");
    struct jc_model_config c;
    small_cfg(&c, JC_MODEL_DEEPFM);
    struct jc_model *m;
    assert_int_equal(jc_model_create(&m, &c, &g_layout), JC_OK);
    char path[4096];
    uint32_t v = 0;
    assert_int_equal(jc_model_registry_live(dir, path, sizeof path, &v), JC_ENOTFOUND);
    assert_int_equal(jc_model_publish(m, dir, 0, &v), JC_OK);
    assert_int_equal(v, 1);
    assert_int_equal(jc_model_publish(m, dir, 0, &v), JC_OK);
    assert_int_equal(v, 2);
    uint32_t lv;
    assert_int_equal(jc_model_registry_live(dir, path, sizeof path, &lv), JC_OK);
    assert_int_equal(lv, 2);
    assert_non_null(strstr(path, "v2.jcm"));
    struct jc_model *l;
    assert_int_equal(jc_model_load(&l, path), JC_OK);
    jc_model_destroy(l);
    /* a tampered LIVE file is rejected */
    char live[4096];
    snprintf(live, sizeof live, "%s/LIVE", dir);
    jc_test_write_file(live, "JCREG 1\nfile ../../etc/passwd\nversion 2\nchecksum 0\n");
    assert_int_equal(jc_model_registry_live(dir, path, sizeof path, &lv), JC_ECORRUPT);
    jc_model_destroy(m);
}

/* Serving: candidates of one user scored in SHARED mode equal row scores,
 * and a second call allocates nothing. */
static void test_shared_scoring(void **state)
{
    (void)state;
    const uint32_t N = 50;
    struct jc_batch req;
    assert_int_equal(jc_batch_init(&req, &g_layout, N), JC_OK);
    req.n = N;
    for (uint32_t i = 0; i < N; i++) {
        /* user fields of test row 0, item fields of test row i */
        memcpy(req.cat + (size_t)i * g_layout.n_cat, g_test.cat + (size_t)i * g_layout.n_cat,
               g_layout.n_cat * sizeof(uint32_t));
        memcpy(req.num + (size_t)i * g_layout.n_num, g_test.num + (size_t)i * g_layout.n_num,
               g_layout.n_num * sizeof(float));
        for (uint32_t f = 0; f < g_layout.n_fields; f++) {
            const struct jc_feat_field *fd = &g_layout.fields[f];
            if (fd->side == JC_SIDE_ITEM)
                continue;
            if (fd->kind == JC_FEAT_NUM)
                req.num[(size_t)i * g_layout.n_num + fd->offset] = g_test.num[fd->offset];
            else
                memcpy(req.cat + (size_t)i * g_layout.n_cat + fd->offset, g_test.cat + fd->offset,
                       fd->width * sizeof(uint32_t));
        }
        req.label[i] = req.value[i] = 0;
        req.user[i] = g_test.user[0];
        req.item[i] = g_test.item[i];
        req.time[i] = 0;
    }
    for (int k = 1; k <= JC_MODEL_KIND_MAX; k++) {
        struct jc_model_config c;
        jc_model_config_default(&c, (enum jc_model_kind)k);
        if (k == JC_MODEL_DIN)
            c.act = JC_ACT_DICE; /* running statistics in serving mode */
        struct jc_model *m;
        assert_int_equal(jc_model_create(&m, &c, &g_layout), JC_OK);
        struct jc_model_scorer *s;
        assert_int_equal(jc_model_scorer_create(&s, m, N), JC_OK);
        float a[50], b[50];
        assert_int_equal(jc_model_score(s, &req, a), JC_OK);
        assert_int_equal(jc_model_score_rows(s, &req, b), JC_OK);
        for (uint32_t i = 0; i < N; i++)
            assert_true(fabsf(a[i] - b[i]) < 1e-5f);
        struct jc_alloc_stats st0, st1;
        jc_alloc_get_stats(&st0);
        assert_int_equal(jc_model_score(s, &req, a), JC_OK);
        jc_alloc_get_stats(&st1);
        assert_int_equal(st1.n_allocs, st0.n_allocs);
        /* more rows than the scorer holds, and a bad id: errors */
        req.n = N + 1;
        assert_int_equal(jc_model_score(s, &req, a), JC_ELIMIT);
        req.n = N;
        uint32_t keep = req.cat[g_layout.fields[4].offset + g_layout.n_cat * 3];
        req.cat[g_layout.fields[4].offset + g_layout.n_cat * 3] = 1u << 30;
        assert_int_equal(jc_model_score(s, &req, a), JC_ERANGE);
        assert_non_null(strstr(jc_errmsg(), "movieId"));
        req.cat[g_layout.fields[4].offset + g_layout.n_cat * 3] = keep;
        if (k == JC_MODEL_TWOTOWER) {
            float uvec[32], ivec[50 * 32];
            assert_int_equal(jc_model_user_vector(s, &req, 0, uvec), JC_OK);
            assert_int_equal(jc_model_item_vectors(s, &req, ivec), JC_OK);
            /* logit = u.v + b, so the vectors reproduce the score */
            for (uint32_t i = 0; i < N; i++) {
                double z = m->p[jc_model__find_param(m, "out.b")].w[0];
                for (int d = 0; d < 32; d++)
                    z += uvec[d] * ivec[i * 32 + d];
                assert_true(fabs(1 / (1 + exp(-z)) - a[i]) < 1e-5);
            }
        } else {
            float v[32];
            assert_int_equal(jc_model_user_vector(s, &req, 0, v), JC_EINVAL);
        }
        jc_model_scorer_destroy(s);
        jc_model_destroy(m);
    }
    jc_batch_free(&req);
}

static void test_resume_equivalence(void **state)
{
    (void)state;
    struct jc_train_config c;
    jc_train_config_default(&c, JC_MODEL_WIDEDEEP);
    c.threads = 2;
    c.patience = 0;
    c.model.dropout = 0.1f;
    struct jc_train_source tr, va;
    jc_train_source_batch(&tr, &g_layout, &g_train);
    jc_train_source_batch(&va, &g_layout, &g_valid);
    struct jc_model *straight, *resumed, *tmp;
    struct jc_train_report rep;
    c.epochs = 2;
    assert_int_equal(jc_train_run(&straight, &c, &tr, NULL, &rep), JC_OK);
    c.checkpoint = jc_test_path("ckpt.jcm");
    c.epochs = 1;
    assert_int_equal(jc_train_run(&tmp, &c, &tr, NULL, &rep), JC_OK);
    jc_model_destroy(tmp);
    c.epochs = 2;
    c.resume = 1;
    assert_int_equal(jc_train_run(&resumed, &c, &tr, NULL, &rep), JC_OK);
    assert_int_equal(rep.resumed, 1);
    assert_int_equal(rep.epochs_run, 1);
    assert_int_equal(straight->step, resumed->step);
    assert_memory_equal(straight->flat_w, resumed->flat_w, straight->n_dense * sizeof(float));
    jc_model_destroy(straight);
    jc_model_destroy(resumed);
}

static void test_online_learning(void **state)
{
    (void)state;
    struct jc_model_config c;
    jc_model_config_default(&c, JC_MODEL_WIDEDEEP);
    jc_optim_config_default(&c.opt_wide, JC_OPTIM_FTRL);
    c.opt_wide.lr = 0.5f;
    struct jc_model *m;
    assert_int_equal(jc_model_create(&m, &c, &g_layout), JC_OK);
    /* saved with state, loaded, then updated one example at a time */
    const char *path = jc_test_path("online.jcm");
    assert_int_equal(jc_model_save(m, path, 1), JC_OK);
    jc_model_destroy(m);
    assert_int_equal(jc_model_load(&m, path), JC_OK);
    assert_int_equal(jc_model_set_lr(m, 0.0f, 0.4f), JC_OK);
    assert_true(jc_model_config(m)->opt_wide.lr == 0.4f);
    assert_true(jc_model_config(m)->opt.lr == 0.001f);
    assert_int_equal(jc_model_set_lr(m, NAN, 0.0f), JC_EINVAL);
    struct jc_model_scorer *s;
    assert_int_equal(jc_model_scorer_create(&s, m, 1), JC_OK);
    struct jc_batch one = g_test;
    one.n = 1;
    one.label[0] = 1.0f;
    float p0, p1;
    assert_int_equal(jc_model_score_rows(s, &one, &p0), JC_OK);
    double loss;
    for (int i = 0; i < 5; i++)
        assert_int_equal(jc_model_learn(m, s, &one, &loss), JC_OK);
    assert_int_equal(jc_model_score_rows(s, &one, &p1), JC_OK);
    assert_true(p1 > p0 + 0.05f); /* learned that this row is positive */
    assert_int_equal(m->step, 5);
    /* only the rows of this example's ids moved in the wide tables */
    int pi = jc_model__find_param(m, "lin.item");
    uint32_t item_id = one.cat[g_layout.fields[4].offset];
    assert_true(m->p[pi].w[item_id] != 0.0f);
    assert_true(m->p[pi].w[item_id == 2 ? 3 : 2] == 0.0f);
    jc_model_scorer_destroy(s);
    jc_model_destroy(m);
}

/* Allocation failures anywhere in training are error returns (no crash, no
 * leak under ASan). */
static void test_train_alloc_failures(void **state)
{
    (void)state;
    struct jc_batch sub = g_train;
    sub.n = 300;
    struct jc_train_source tr;
    jc_train_source_batch(&tr, &g_layout, &sub);
    struct jc_train_config c;
    jc_train_config_default(&c, JC_MODEL_DEEPFM);
    c.epochs = 1;
    c.threads = 2;
    c.batch = 64;
    int failed = 0, ok = 0;
    for (long k = 1; k < 400; k += 9) {
        struct jc_model *m = NULL;
        struct jc_train_report rep;
        jc_alloc_fail_after(k);
        int rc = jc_train_run(&m, &c, &tr, &tr, &rep);
        jc_alloc_fail_after(0);
        if (rc == JC_OK) {
            ok++;
            jc_model_destroy(m);
        } else {
            failed++;
            assert_int_equal(rc, JC_ENOMEM);
            assert_null(m);
        }
    }
    assert_true(failed > 10 && ok > 0);
}

static void test_bad_configs(void **state)
{
    (void)state;
    struct jc_model_config c;
    struct jc_model *m = NULL;
    jc_model_config_default(&c, JC_MODEL_DIN);
    /* DIN without a sequence field */
    struct jc_feat_layout l = g_layout;
    l.fields[1].kind = JC_FEAT_MULTI;
    assert_int_equal(jc_model_create(&m, &c, &l), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "SEQ"));
    /* a field that does not fit the row */
    l = g_layout;
    l.fields[0].offset = 1000;
    jc_model_config_default(&c, JC_MODEL_LR);
    assert_int_equal(jc_model_create(&m, &c, &l), JC_EINVAL);
    jc_model_config_default(&c, JC_MODEL_MLP);
    c.dropout = 1.5f;
    assert_int_equal(jc_model_create(&m, &c, &g_layout), JC_EINVAL);
    assert_null(m);
    enum jc_model_kind k;
    assert_int_equal(jc_model_kind_parse("neuralcf", &k), 0);
    assert_int_equal(k, JC_MODEL_NEUMF);
    assert_int_equal(jc_model_kind_parse("xgboost", &k), -1);
}

int main(void)
{
    const struct CMUnitTest small[] = {
        cmocka_unit_test(test_grad_all_models),
        cmocka_unit_test(test_grad_variants),
    };
    const struct CMUnitTest synth[] = {
        cmocka_unit_test(test_quality_floors),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_file_round_trip_and_corruption),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_shared_scoring),
        cmocka_unit_test(test_resume_equivalence),
        cmocka_unit_test(test_online_learning),
        cmocka_unit_test(test_train_alloc_failures),
        cmocka_unit_test(test_bad_configs),
    };
    int rc = cmocka_run_group_tests_name("grad", small, setup_small, teardown_small);
    rc += cmocka_run_group_tests_name("synth", synth, setup_synth, teardown_synth);
    return rc;
}
