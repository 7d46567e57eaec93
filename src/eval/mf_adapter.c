/*
 * mf_adapter.c - iALS and BPR from the embeddings module as evaluable
 * models ("ials", "bpr").
 *
 * The embeddings module trains from a catalog. To train on exactly a
 * split's training part, the part is written as a temporary catalog (users
 * and items created in id order, so ids match; every training interaction
 * becomes a positive of value 1), trained with jc_embed_train, and the
 * user and item factors are copied into an inner-product scorer. Users
 * without a factor vector score 0 everywhere; items without a vector score
 * by their zero vector. The temporary catalog is removed afterwards.
 */
#include <junco/embed.h>
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/fileio.h"
#include "eval/eval_int.h"
#include <junco/catalog.h>
#include <junco/error.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mf_scorer {
    float *uf, *vf;
    uint32_t n_items, dim;
};

static void mf_free(void *self)
{
    struct mf_scorer *m = self;
    if (m == NULL)
        return;
    jc_free(m->uf);
    jc_free(m->vf);
    jc_free(m);
}

static int mf_score(void *self, uint32_t user, int worker, float *buf, const float **scores)
{
    (void)worker;
    const struct mf_scorer *m = self;
    const float *u = m->uf + (size_t)user * m->dim;
    for (uint32_t i = 0; i < m->n_items; i++) {
        const float *v = m->vf + (size_t)i * m->dim;
        float s = 0;
        for (uint32_t d = 0; d < m->dim; d++)
            s += u[d] * v[d];
        buf[i] = s;
    }
    *scores = buf;
    return JC_OK;
}

/* Writes the training part as a catalog at path. */
static int part_catalog(const struct jc_eval_part *p, const char *path)
{
    struct jc_catalog_builder *b;
    int rc = jc_catalog_builder_create(&b);
    if (rc)
        return rc;
    char id[16];
    uint32_t got;
    for (uint32_t u = 0; u < p->n_users && rc == JC_OK; u++) {
        int n = snprintf(id, sizeof id, "%u", u);
        rc = jc_cb_user(b, id, (size_t)n, &got, NULL);
        if (rc == JC_OK && got != u)
            rc = jc_err_set(JC_EINTERNAL, "eval: user id %u became %u", u, got);
    }
    for (uint32_t i = 0; i < p->n_items && rc == JC_OK; i++) {
        int n = snprintf(id, sizeof id, "%u", i);
        rc = jc_cb_item(b, id, (size_t)n, &got, NULL);
        if (rc == JC_OK && got != i)
            rc = jc_err_set(JC_EINTERNAL, "eval: item id %u became %u", i, got);
    }
    for (uint32_t u = 0; u < p->n_users && rc == JC_OK; u++)
        for (uint64_t k = p->offsets[u]; k < p->offsets[u + 1] && rc == JC_OK; k++)
            rc = jc_cb_add_interaction(b, u, p->items[k], 1.0f, p->times ? p->times[k] : 0,
                                       JC_EV_RATING);
    if (rc == JC_OK)
        rc = jc_catalog_builder_write(b, path, NULL);
    jc_catalog_builder_destroy(b);
    return rc;
}

static atomic_uint tmp_counter;

static int fit_mf(const struct jc_eval_fit_ctx *ctx, enum jc_embed_method method,
                  const struct jc_embed_opts *o, struct jc_scorer **out)
{
    const struct jc_eval_part *p = ctx->train;
    char path[4096], name[64];
    snprintf(name, sizeof name, "eval-mf-%ld-%u.jcat", (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1));
    const char *dir = ctx->work_dir ? ctx->work_dir : getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    int rc = jc_mkdir_p(dir);
    if (rc == JC_OK)
        rc = jc_path_join(path, sizeof path, dir, name);
    if (rc == JC_OK)
        rc = part_catalog(p, path);
    if (rc) {
        unlink(path);
        return rc;
    }
    struct jc_catalog *cat;
    rc = jc_catalog_open(&cat, path);
    unlink(path); /* the mapping stays valid */
    if (rc)
        return rc;
    struct jc_embed_opts opts = *o;
    opts.method = method;
    struct jc_emb *e = NULL;
    struct jc_embed_stats st;
    rc = jc_embed_train(cat, &opts, &e, &st);
    jc_catalog_close(cat);
    if (rc)
        return rc;
    uint32_t dim = jc_emb_dim(e);
    struct mf_scorer *m = jc_calloc(1, sizeof *m);
    if (m == NULL) {
        jc_emb_destroy(e);
        return JC_ENOMEM;
    }
    m->n_items = p->n_items;
    m->dim = dim;
    m->uf = jc_calloc((size_t)(p->n_users ? p->n_users : 1) * dim, sizeof *m->uf);
    m->vf = jc_calloc((size_t)(p->n_items ? p->n_items : 1) * dim, sizeof *m->vf);
    if (!m->uf || !m->vf) {
        mf_free(m);
        jc_emb_destroy(e);
        return JC_ENOMEM;
    }
    for (uint32_t u = 0; u < p->n_users; u++) {
        const float *v = jc_emb_user_vec(e, u);
        if (v)
            memcpy(m->uf + (size_t)u * dim, v, dim * sizeof *v);
    }
    for (uint32_t i = 0; i < p->n_items; i++) {
        const float *v = jc_emb_item_vec(e, i);
        if (v && jc_emb_item_status(e, i) != JC_EMB_NONE)
            memcpy(m->vf + (size_t)i * dim, v, dim * sizeof *v);
    }
    jc_emb_destroy(e);
    struct jc_scorer *s;
    if ((rc = jc_scorer_alloc(&s, jc_embed_method_name(method), p->n_users, p->n_items))) {
        mf_free(m);
        return rc;
    }
    s->self = m;
    s->score = mf_score;
    s->destroy = mf_free;
    *out = s;
    return JC_OK;
}

static void base_opts(const struct jc_eval_fit_ctx *ctx, struct jc_embed_opts *o)
{
    jc_embed_opts_default(o);
    o->seq.threshold = 0.5; /* every training interaction is a positive */
    o->seq.session_gap = 0;
    o->seq.min_len = 1;
    o->threads = ctx->threads;
    o->hogwild = 0;
    o->seed = ctx->seed;
}

/* params: dim, reg, alpha, epochs */
static int fit_ials(const struct jc_eval_fit_ctx *ctx, const double *params, struct jc_scorer **out)
{
    struct jc_embed_opts o;
    base_opts(ctx, &o);
    o.dim = (uint32_t)params[0];
    o.ials_reg = params[1];
    o.ials_alpha = params[2];
    o.mf_epochs = (uint32_t)params[3];
    return fit_mf(ctx, JC_EMBED_IALS, &o, out);
}

/* params: dim, lr, reg, epochs */
static int fit_bpr(const struct jc_eval_fit_ctx *ctx, const double *params, struct jc_scorer **out)
{
    struct jc_embed_opts o;
    base_opts(ctx, &o);
    o.dim = (uint32_t)params[0];
    o.bpr_lr = params[1];
    o.bpr_reg = params[2];
    o.mf_epochs = (uint32_t)params[3];
    return fit_mf(ctx, JC_EMBED_BPR, &o, out);
}

void jc_eval__register_mf(void)
{
    static const struct jc_eval_model ials = {
        "ials",
        "implicit ALS (embeddings module), inner-product scores",
        4,
        {{"dim", {64, 128}, 2},
         {"reg", {0.1, 1, 10}, 3},
         {"alpha", {10, 2, 40}, 3},
         {"epochs", {15}, 1}},
        fit_ials};
    static const struct jc_eval_model bpr = {
        "bpr",
        "Bayesian personalised ranking (embeddings module), inner-product scores",
        4,
        {{"dim", {64, 128}, 2},
         {"lr", {0.05, 0.01}, 2},
         {"reg", {0.002, 0.01}, 2},
         {"epochs", {30, 60}, 2}},
        fit_bpr};
    jc_eval__model_add(&ials);
    jc_eval__model_add(&bpr);
}
