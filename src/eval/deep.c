/*
 * deep.c - the ranking models of the model zoo (junco/model.h) as scorers of
 * the evaluation suite, and the CTR protocol.
 *
 * Top-N: a fit trains the model on the protocol's own training part, with
 * point-in-time features: the part is written as a scratch catalog (same
 * user / item ids, genres and years as the real catalog, only the training
 * interactions) under work_dir, the feature job (jc_samples_build, implicit
 * mode: every event a positive plus sampled negatives, time split without
 * valid/test) runs on it, and jc_train_run trains for `epochs` epochs. The
 * scorer then ranks every item for a user with the features serving would
 * build: the user state after all of the user's known interactions, item
 * states over the whole training part, the context at the user's last known
 * event, and jc_featspec_build_batch + jc_model_score in chunks (two-tower:
 * the user vector against item vectors computed once at fit time).
 *
 * CTR: jc_eval_ctr_run builds the explicit-label samples of the catalog
 * (temporal split, the same defaults as `junco features`), trains each model
 * with early stopping on the valid rows and reports AUC / GAUC / logloss of
 * the best epoch on the test rows.
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/pool.h"
#include "core/timeutil.h"
#include "eval/eval_int.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/metrics.h>
#include <junco/model.h>
#include "eval/deep_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 1024u

struct deep {
    struct jc_catalog *cat; /* the scratch catalog (owned) */
    struct jc_featspec *spec;
    struct jc_model *model;
    struct jc_eval_part known; /* borrowed: the training part */
    struct jc_item_state *istates;
    float *item_vec; /* two-tower: n_items x tower_dim, else NULL */
    uint32_t dim;
    int n_workers;
    struct worker *w;
};

struct worker {
    struct jc_model_scorer *sc;
    struct jc_batch b;
    struct jc_user_state us;
    float *uvec;
};

static int nthreads(int t)
{
    if (t > 0)
        return t;
    int n = jc_cpu_count();
    return n > 0 ? n : 1;
}

static void workers_free(struct deep *d)
{
    for (int i = 0; i < d->n_workers; i++) {
        jc_model_scorer_destroy(d->w[i].sc);
        jc_batch_free(&d->w[i].b);
        jc_free(d->w[i].uvec);
    }
    jc_free(d->w);
    d->w = NULL;
    d->n_workers = 0;
}

static void deep_destroy(void *self)
{
    struct deep *d = self;
    workers_free(d);
    jc_free(d->istates);
    jc_free(d->item_vec);
    jc_model_destroy(d->model);
    jc_featspec_destroy(d->spec);
    jc_catalog_close(d->cat);
    jc_free(d);
}

static int worker_init(struct deep *d, struct worker *w)
{
    memset(w, 0, sizeof *w);
    int rc = jc_model_scorer_create(&w->sc, d->model, CHUNK);
    if (rc == JC_OK)
        rc = jc_batch_init(&w->b, jc_model_layout(d->model), CHUNK);
    if (rc == JC_OK && d->dim) {
        w->uvec = jc_malloc_array(d->dim, sizeof *w->uvec);
        if (w->uvec == NULL)
            rc = JC_ENOMEM;
    }
    return rc;
}

static int deep_prepare(void *self, int n_workers)
{
    struct deep *d = self;
    if (n_workers <= d->n_workers)
        return JC_OK;
    workers_free(d);
    d->w = jc_calloc((size_t)n_workers, sizeof *d->w);
    if (d->w == NULL)
        return JC_ENOMEM;
    d->n_workers = n_workers;
    for (int i = 0; i < n_workers; i++) {
        int rc = worker_init(d, &d->w[i]);
        if (rc)
            return rc;
    }
    return JC_OK;
}

/* The user's state after every known interaction, and the context time. */
static int64_t user_state(const struct deep *d, uint32_t user, struct jc_user_state *us)
{
    jc_user_state_init(us, d->spec);
    const struct jc_eval_part *p = &d->known;
    int64_t t = 0;
    for (uint64_t k = p->offsets[user]; k < p->offsets[user + 1]; k++) {
        float v = p->values ? p->values[k] : 1.0f;
        int64_t tk = p->times ? p->times[k] : 0;
        jc_user_state_add(us, d->spec, p->items[k], v, tk);
        t = tk > t ? tk : t;
    }
    return t;
}

static int deep_score(void *self, uint32_t user, int worker, float *buf, const float **scores)
{
    struct deep *d = self;
    if (worker < 0 || worker >= d->n_workers)
        return jc_err_set(JC_EINVAL, "deep scorer: worker %d not prepared", worker);
    struct worker *w = &d->w[worker];
    uint32_t ni = d->known.n_items;
    struct jc_feat_context ctx;
    jc_feat_context_from_time(&ctx, user_state(d, user, &w->us));
    uint32_t items[CHUNK];
    int rc = JC_OK;
    if (d->item_vec) {
        items[0] = 0;
        if ((rc = jc_featspec_build_batch(d->spec, user, &w->us, &ctx, 1, items, d->istates,
                                          &w->b)) ||
            (rc = jc_model_user_vector(w->sc, &w->b, 0, w->uvec)))
            return rc;
        for (uint32_t i = 0; i < ni; i++) {
            const float *v = d->item_vec + (size_t)i * d->dim;
            float s = 0;
            for (uint32_t k = 0; k < d->dim; k++)
                s += w->uvec[k] * v[k];
            buf[i] = s;
        }
        *scores = buf;
        return JC_OK;
    }
    for (uint32_t i0 = 0; i0 < ni && rc == JC_OK; i0 += CHUNK) {
        uint32_t n = ni - i0 < CHUNK ? ni - i0 : CHUNK;
        for (uint32_t k = 0; k < n; k++)
            items[k] = i0 + k;
        rc = jc_featspec_build_batch(d->spec, user, &w->us, &ctx, n, items, d->istates, &w->b);
        if (rc == JC_OK)
            rc = jc_model_score(w->sc, &w->b, buf + i0);
    }
    if (rc == JC_OK)
        *scores = buf;
    return rc;
}

int jc_eval__write_part_catalog(const struct jc_catalog *cat, const struct jc_eval_part *p,
                                const char *path)
{
    struct jc_catalog_builder *b;
    int rc = jc_catalog_builder_create(&b);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < p->n_items && rc == JC_OK; i++) {
        const char *ext = jc_catalog_item_ext_id(cat, i);
        uint32_t id;
        int created;
        rc = jc_cb_item(b, ext, strlen(ext), &id, &created);
        if (rc == JC_OK && id != i)
            rc = jc_err_set(JC_EINTERNAL, "eval: scratch catalog item %u got id %u", i, id);
        if (rc == JC_OK)
            rc = jc_cb_item_set_year(b, i, jc_catalog_item_year(cat, i));
        const uint16_t *g;
        uint32_t ng = jc_catalog_item_genres(cat, i, &g);
        for (uint32_t k = 0; k < ng && rc == JC_OK; k++) {
            const char *gn = jc_catalog_genre_name(cat, g[k]);
            rc = jc_cb_item_add_genre(b, i, gn, strlen(gn));
        }
    }
    for (uint32_t u = 0; u < p->n_users && rc == JC_OK; u++) {
        const char *ext = jc_catalog_user_ext_id(cat, u);
        uint32_t id;
        int created;
        rc = jc_cb_user(b, ext, strlen(ext), &id, &created);
        if (rc == JC_OK && id != u)
            rc = jc_err_set(JC_EINTERNAL, "eval: scratch catalog user %u got id %u", u, id);
        for (uint64_t k = p->offsets[u]; k < p->offsets[u + 1] && rc == JC_OK; k++)
            rc = jc_cb_add_interaction(b, u, p->items[k], p->values ? p->values[k] : 1.0f,
                                       p->times ? p->times[k] : 0, JC_EV_RATING);
    }
    if (rc == JC_OK)
        rc = jc_catalog_builder_write(b, path, NULL);
    jc_catalog_builder_destroy(b);
    return rc;
}

/* Two-tower: item vectors of every item, once. */
static int item_vectors(struct deep *d)
{
    const struct jc_model_config *mc = jc_model_config(d->model);
    d->dim = mc->tower_dim;
    uint32_t ni = d->known.n_items;
    d->item_vec = jc_malloc_array((size_t)ni * d->dim + 1, sizeof *d->item_vec);
    if (d->item_vec == NULL)
        return JC_ENOMEM;
    struct worker w;
    int rc = worker_init(d, &w);
    struct jc_feat_context ctx;
    jc_feat_context_from_time(&ctx, 0);
    uint32_t items[CHUNK];
    for (uint32_t i0 = 0; i0 < ni && rc == JC_OK; i0 += CHUNK) {
        uint32_t n = ni - i0 < CHUNK ? ni - i0 : CHUNK;
        for (uint32_t k = 0; k < n; k++)
            items[k] = i0 + k;
        rc = jc_featspec_build_batch(d->spec, JC_ID_NONE, NULL, &ctx, n, items, d->istates, &w.b);
        if (rc == JC_OK)
            rc = jc_model_item_vectors(w.sc, &w.b, d->item_vec + (size_t)i0 * d->dim);
    }
    jc_model_scorer_destroy(w.sc);
    jc_batch_free(&w.b);
    jc_free(w.uvec);
    return rc;
}

static int deep_fit(enum jc_model_kind kind, const struct jc_eval_fit_ctx *ctx, uint32_t epochs,
                    uint32_t negatives, struct jc_scorer **out)
{
    if (ctx->cat == NULL || ctx->work_dir == NULL)
        return jc_err_set(JC_EINVAL, "eval: model %s needs the catalog and a work directory",
                          jc_model_kind_name(kind));
    if (epochs == 0 || epochs > 1000 || negatives == 0 || negatives > 100)
        return jc_err_set(JC_EINVAL, "eval: %s: epochs %u / negatives %u out of range",
                          jc_model_kind_name(kind), epochs, negatives);
    const struct jc_eval_part *p = ctx->train;
    if (p->n_items != jc_catalog_n_items(ctx->cat) || p->n_users != jc_catalog_n_users(ctx->cat))
        return jc_err_set(JC_EINVAL, "eval: %s: the part's shape differs from the catalog",
                          jc_model_kind_name(kind));
    char dir[4096], cpath[4096], sdir[4096], sub[64];
    snprintf(sub, sizeof sub, "deep-%s", jc_model_kind_name(kind));
    int rc = jc_path_join(dir, sizeof dir, ctx->work_dir, sub);
    if (rc == JC_OK)
        rc = jc_mkdir_p(dir);
    if (rc == JC_OK)
        rc = jc_path_join(cpath, sizeof cpath, dir, "train.jcat");
    if (rc == JC_OK)
        rc = jc_path_join(sdir, sizeof sdir, dir, "samples");
    if (rc)
        return rc;
    struct deep *d = jc_calloc(1, sizeof *d);
    if (d == NULL)
        return JC_ENOMEM;
    d->known = *p;
    int threads = nthreads(ctx->threads);
    if ((rc = jc_eval__write_part_catalog(ctx->cat, p, cpath)) ||
        (rc = jc_catalog_open(&d->cat, cpath)))
        goto fail;
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    fo.implicit = 1;
    fo.negatives = negatives;
    if ((rc = jc_featspec_create(&d->spec, &fo, d->cat)))
        goto fail;
    if ((rc = jc_eval__deep_samples(d->cat, d->spec, sdir, 0, 0, ctx->seed, threads, NULL)))
        goto fail;
    rc = jc_eval__deep_train(sdir, kind, epochs, threads, ctx->seed, 0, ctx->progress, &d->model,
                             NULL, NULL);
    jc_eval__remove_samples(sdir); /* scratch: the model is in memory */
    if (rc)
        goto fail;
    d->istates = jc_malloc_array(p->n_items ? p->n_items : 1, sizeof *d->istates);
    if (d->istates == NULL) {
        rc = JC_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < p->n_items; i++)
        jc_item_state_init(&d->istates[i]);
    for (uint32_t u = 0; u < p->n_users; u++)
        for (uint64_t k = p->offsets[u]; k < p->offsets[u + 1]; k++)
            jc_item_state_add(&d->istates[p->items[k]], p->values ? p->values[k] : 1.0f,
                              p->times ? p->times[k] : 0);
    if (kind == JC_MODEL_TWOTOWER && (rc = item_vectors(d)))
        goto fail;
    struct jc_scorer *s;
    if ((rc = jc_scorer_alloc(&s, jc_model_kind_name(kind), p->n_users, p->n_items)))
        goto fail;
    s->self = d;
    s->prepare = deep_prepare;
    s->score = deep_score;
    s->destroy = deep_destroy;
    *out = s;
    return JC_OK;
fail:
    deep_destroy(d);
    return rc;
}

/* ---- registry entries ---------------------------------------------------- */

static int fit_kind(enum jc_model_kind kind, const struct jc_eval_fit_ctx *ctx,
                    const double *params, struct jc_scorer **out)
{
    if (!(params[0] >= 1 && params[0] <= 1000) || !(params[1] >= 1 && params[1] <= 100))
        return jc_err_set(JC_EINVAL, "eval: %s: epochs %g / negatives %g out of range",
                          jc_model_kind_name(kind), params[0], params[1]);
    return deep_fit(kind, ctx, (uint32_t)params[0], (uint32_t)params[1], out);
}

#define FIT_FN(k, K)                                                            \
    static int fit_##k(const struct jc_eval_fit_ctx *ctx, const double *params, \
                       struct jc_scorer **out)                                  \
    {                                                                           \
        return fit_kind(K, ctx, params, out);                                   \
    }
FIT_FN(lr, JC_MODEL_LR)
FIT_FN(fm, JC_MODEL_FM)
FIT_FN(mlp, JC_MODEL_MLP)
FIT_FN(widedeep, JC_MODEL_WIDEDEEP)
FIT_FN(neumf, JC_MODEL_NEUMF)
FIT_FN(twotower, JC_MODEL_TWOTOWER)
FIT_FN(deepfm, JC_MODEL_DEEPFM)
FIT_FN(din, JC_MODEL_DIN)
FIT_FN(dcn, JC_MODEL_DCN)

void jc_eval__register_deep(void)
{
    static int (*const fits[JC_MODEL_KIND_MAX])(const struct jc_eval_fit_ctx *, const double *,
                                                struct jc_scorer **) = {
        fit_lr,       fit_fm,     fit_mlp, fit_widedeep, fit_neumf,
        fit_twotower, fit_deepfm, fit_din, fit_dcn};
    for (int k = 1; k <= JC_MODEL_KIND_MAX; k++) {
        struct jc_eval_model m;
        memset(&m, 0, sizeof m);
        m.name = jc_model_kind_name((enum jc_model_kind)k);
        m.description =
            "ranking model of junco train, trained on this split's training part only (a "
            "scratch catalog of the part, implicit samples: every interaction positive + 4 "
            "uniform negatives, point-in-time features), then scoring every item per user with "
            "the features serving builds; two-tower: user vector . item vectors";
        m.n_params = 2;
        m.params[0].name = "epochs";
        m.params[0].values[0] = 1;
        m.params[0].values[1] = 2;
        m.params[0].n_values = 2;
        m.params[1].name = "negatives";
        m.params[1].values[0] = 4;
        m.params[1].n_values = 1;
        m.fit = fits[k - 1];
        jc_eval__model_add(&m);
    }
}

/* ---- the CTR protocol ----------------------------------------------------- */

void jc_eval_ctr_config_default(struct jc_eval_ctr_config *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 3;
    c->valid_frac = 0.1;
    c->test_frac = 0.1;
    c->seed = 42;
}

int jc_eval_ctr_run(const struct jc_catalog *cat, const struct jc_eval_ctr_config *cfg,
                    struct jc_eval_ctr_result *out)
{
    if (cfg->n_models == 0 || cfg->n_models > JC_EVAL_MAX_MODELS || cfg->work_dir == NULL ||
        cfg->epochs == 0 || cfg->epochs > 1000)
        return jc_err_set(JC_EINVAL, "eval: CTR protocol: %zu models, epochs %u, work dir %s",
                          cfg->n_models, cfg->epochs, cfg->work_dir ? cfg->work_dir : "(none)");
    enum jc_model_kind kinds[JC_EVAL_MAX_MODELS];
    for (size_t i = 0; i < cfg->n_models; i++)
        if (jc_model_kind_parse(cfg->models[i], &kinds[i]))
            return jc_err_set(JC_ENOTFOUND, "eval: CTR protocol: '%s' is not a ranking model",
                              cfg->models[i]);
    char sdir[4096];
    int rc = jc_mkdir_p(cfg->work_dir);
    if (rc == JC_OK)
        rc = jc_path_join(sdir, sizeof sdir, cfg->work_dir, "ctr-samples");
    if (rc)
        return rc;
    struct jc_featspec *spec;
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    if ((rc = jc_featspec_create(&spec, &fo, cat)))
        return rc;
    uint64_t n_train = 0;
    rc = jc_eval__deep_samples(cat, spec, sdir, cfg->valid_frac, cfg->test_frac, cfg->seed,
                               nthreads(cfg->threads), &n_train);
    jc_featspec_destroy(spec);
    if (rc)
        return rc;
    for (size_t i = 0; i < cfg->n_models; i++) {
        struct jc_eval_ctr_result *r = &out[i];
        memset(r, 0, sizeof *r);
        snprintf(r->model, sizeof r->model, "%s", jc_model_kind_name(kinds[i]));
        r->n_train = n_train;
        uint64_t t0 = jc_now_ns();
        struct jc_model *m = NULL;
        struct jc_eval__curves cv;
        memset(&cv, 0, sizeof cv);
        r->failed = jc_eval__deep_train(sdir, kinds[i], cfg->epochs, nthreads(cfg->threads),
                                        cfg->seed, 1, cfg->progress, &m, &r->test, &cv);
        r->n_epochs = cv.n;
        memcpy(r->train_loss, cv.train_loss, sizeof r->train_loss);
        memcpy(r->valid_auc, cv.valid_auc, sizeof r->valid_auc);
        r->seconds = (double)(jc_now_ns() - t0) * 1e-9;
        jc_model_destroy(m);
        if (r->failed == JC_ECANCELED) {
            jc_eval__remove_samples(sdir);
            return r->failed;
        }
        if (r->failed)
            snprintf(r->error, sizeof r->error, "%s", jc_errmsg());
    }
    jc_eval__remove_samples(sdir);
    return JC_OK;
}
