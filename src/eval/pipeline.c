/*
 * pipeline.c - the whole serving pipeline (recall -> rank -> re-rank, as
 * `junco serve` answers GET /api/v1/users/{id}/recommendations) as a scorer
 * of the evaluation suite, through jc_pipeline_offline_* (junco/serve.h).
 *
 * The pipeline serves what a data home holds, and masks every catalog
 * interaction of the user, so a fit builds a scratch data home from the
 * training part only (work_dir/pipeline-home): catalog/catalog.jcat (the
 * part, same ids), a ranking model of the chosen kind trained on the part's
 * implicit samples and published under models/<kind>/ with its feature
 * spec, and an item2vec embedding under embeddings/item2vec.jemb (the
 * default recall channels' embedding). The snapshot is then opened with the
 * built-in serving defaults (default scene; no store, so no realtime
 * features; no A/B variants). The scorer is top-n only: it asks the
 * pipeline for the evaluation's L best items at the user's last training
 * event time; items outside the pipeline's recall set are never returned,
 * so recall_hit@N measures the recall layer as it survives ranking.
 * Sampled ranking needs scores of arbitrary items and is not supported
 * (the suite records that protocol as failed for this model).
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/pool.h"
#include "eval/deep_int.h"
#include "eval/eval_int.h"
#include <junco/catalog.h>
#include <junco/embed.h>
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/model.h>
#include <junco/serve.h>

#include <stdio.h>
#include <string.h>

struct pipe {
    struct jc_pipeline_offline *p;
    struct jc_eval_part known; /* borrowed */
};

static void pipe_destroy(void *self)
{
    struct pipe *x = self;
    jc_pipeline_offline_close(x->p);
    jc_free(x);
}

static int pipe_topn(void *self, uint32_t user, int worker, uint32_t n, uint32_t *items,
                     float *item_scores, uint32_t *n_out)
{
    (void)worker;
    struct pipe *x = self;
    const struct jc_eval_part *k = &x->known;
    int64_t now = 0;
    for (uint64_t q = k->offsets[user]; q < k->offsets[user + 1]; q++)
        if (k->times && k->times[q] > now)
            now = k->times[q];
    if (n > 100000)
        n = 100000;
    size_t got = 0;
    int rc =
        jc_pipeline_offline_recommend(x->p, user, now > 0 ? now : 1, n, items, item_scores, &got);
    if (rc)
        return rc;
    *n_out = (uint32_t)got;
    return JC_OK;
}

/* The scratch home: the part's catalog, a ranking model, an embedding. */
static int build_home(const struct jc_eval_fit_ctx *ctx, enum jc_model_kind kind, uint32_t epochs,
                      const char *home)
{
    char path[4096], dir[4096];
    int threads = ctx->threads > 0 ? ctx->threads : jc_cpu_count();
    if (threads < 1)
        threads = 1;
    int rc = jc_path_join(dir, sizeof dir, home, "catalog");
    if (rc == JC_OK)
        rc = jc_mkdir_p(dir);
    if (rc == JC_OK)
        rc = jc_path_join(path, sizeof path, dir, "catalog.jcat");
    if (rc == JC_OK)
        rc = jc_eval__write_part_catalog(ctx->cat, ctx->train, path);
    if (rc)
        return rc;
    struct jc_catalog *tcat;
    if ((rc = jc_catalog_open(&tcat, path)))
        return rc;
    struct jc_featspec *spec = NULL;
    struct jc_model *m = NULL;
    struct jc_emb *emb = NULL;
    void *blob = NULL;
    size_t bl = 0;
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    fo.implicit = 1;
    char sub[64];
    snprintf(sub, sizeof sub, "models/%s", jc_model_kind_name(kind));
    rc = jc_featspec_create(&spec, &fo, tcat);
    if (rc == JC_OK)
        rc = jc_path_join(dir, sizeof dir, home, "samples");
    int have_samples = rc == JC_OK;
    if (rc == JC_OK)
        rc = jc_eval__deep_samples(tcat, spec, dir, 0, 0, ctx->seed, threads, NULL);
    if (rc == JC_OK)
        rc = jc_eval__deep_train(dir, kind, epochs, threads, ctx->seed, 0, ctx->progress, &m, NULL,
                                 NULL);
    if (have_samples)
        jc_eval__remove_samples(dir); /* scratch: the model is in memory */
    if (rc == JC_OK)
        rc = jc_featspec_save_blob(spec, &blob, &bl);
    if (rc == JC_OK)
        rc = jc_model_set_spec(m, blob, bl);
    if (rc == JC_OK)
        rc = jc_path_join(dir, sizeof dir, home, sub);
    if (rc == JC_OK)
        rc = jc_mkdir_p(dir);
    uint32_t version;
    if (rc == JC_OK)
        rc = jc_model_publish(m, dir, 0, &version);
    /* the recall embedding */
    struct jc_embed_opts eo;
    jc_embed_opts_default(&eo);
    eo.threads = 1; /* deterministic */
    eo.seed = ctx->seed;
    eo.progress = ctx->progress;
    struct jc_embed_stats st;
    if (rc == JC_OK)
        rc = jc_embed_train(tcat, &eo, &emb, &st);
    if (rc == JC_OK)
        rc = jc_path_join(dir, sizeof dir, home, "embeddings");
    if (rc == JC_OK)
        rc = jc_mkdir_p(dir);
    if (rc == JC_OK)
        rc = jc_path_join(path, sizeof path, dir, "item2vec.jemb");
    if (rc == JC_OK)
        rc = jc_emb_save(emb, path);
    jc_emb_destroy(emb);
    jc_free(blob);
    jc_model_destroy(m);
    jc_featspec_destroy(spec);
    jc_catalog_close(tcat);
    return rc;
}

static int fit_pipeline(const struct jc_eval_fit_ctx *ctx, const double *params,
                        struct jc_scorer **out)
{
    if (ctx->cat == NULL || ctx->work_dir == NULL)
        return jc_err_set(JC_EINVAL, "eval: pipeline needs the catalog and a work directory");
    if (!(params[0] >= 1 && params[0] <= JC_MODEL_KIND_MAX) ||
        !(params[1] >= 1 && params[1] <= 1000))
        return jc_err_set(JC_EINVAL, "eval: pipeline: ranker kind %g / epochs %g out of range",
                          params[0], params[1]);
    const struct jc_eval_part *p = ctx->train;
    if (p->n_items != jc_catalog_n_items(ctx->cat) || p->n_users != jc_catalog_n_users(ctx->cat))
        return jc_err_set(JC_EINVAL, "eval: pipeline: the part's shape differs from the catalog");
    char home[4096];
    int rc = jc_path_join(home, sizeof home, ctx->work_dir, "pipeline-home");
    if (rc)
        return rc;
    if ((rc = build_home(ctx, (enum jc_model_kind)(int)params[0], (uint32_t)params[1], home)))
        return jc_err_prefix(rc, "eval: pipeline scratch home %s", home);
    struct pipe *x = jc_calloc(1, sizeof *x);
    if (x == NULL)
        return JC_ENOMEM;
    x->known = *p;
    if ((rc = jc_pipeline_offline_open(&x->p, home, NULL))) {
        jc_free(x);
        return rc;
    }
    struct jc_scorer *s;
    if ((rc = jc_scorer_alloc(&s, "pipeline", p->n_users, p->n_items))) {
        pipe_destroy(x);
        return rc;
    }
    s->self = x;
    s->topn = pipe_topn;
    s->destroy = pipe_destroy;
    *out = s;
    return JC_OK;
}

void jc_eval__register_pipeline(void)
{
    struct jc_eval_model m;
    memset(&m, 0, sizeof m);
    m.name = "pipeline";
    m.description = "the serving pipeline (recall -> rank -> re-rank, default scene) through "
                    "jc_pipeline_offline_*, on a scratch data home of this split's training part: "
                    "its catalog, a ranker (ranker = model kind id, 7 = DeepFM) trained on its "
                    "implicit samples and an item2vec embedding; no feature store, no A/B "
                    "variants; top-n only (no sampled ranking)";
    m.n_params = 2;
    m.params[0].name = "ranker";
    m.params[0].values[0] = JC_MODEL_DEEPFM;
    m.params[0].n_values = 1;
    m.params[1].name = "epochs";
    m.params[1].values[0] = 1;
    m.params[1].n_values = 1;
    m.fit = fit_pipeline;
    jc_eval__model_add(&m);
}
