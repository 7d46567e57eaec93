/*
 * zoo.c - the ranking models: LR, FM, Embedding-MLP, Wide&Deep, NeuMF,
 * two-tower, DeepFM, DIN and DCN-v2, each as build / forward / backward
 * over the shared parts (input assembler, MLP, linear part, FM term).
 *
 * Logit formulas (x = the input row [user side | item side], e_f = field
 * embeddings, h = MLP):
 *   LR        b + sum_f w_f + sum_j w_j x_j
 *   FM        LR + 0.5 sum_k[(sum_f v_fk)^2 - sum_f v_fk^2]
 *   MLP       h(x)
 *   Wide&Deep LR + crossed ids (hashed) + h(x)
 *   NeuMF     w_g . (mean user-side e_f (.) mean item-side e_f) + w_h . h(x) + b
 *             (separate GMF and MLP embeddings, as in He et al. 2017)
 *   two-tower u(x_user) . v(x_item) + b  (BCE, or in-batch softmax)
 *   DeepFM    LR + FM term + h(x) with the FM and deep parts sharing e_f
 *   DIN       h([x, sum_t a(q, k_t) k_t]) with a = MLP([q, k, q-k, q*k]),
 *             padding positions masked (weight 0), no softmax (as the paper)
 *   DCN-v2    [cross_L(x) , h(x)] -> linear, x_{l+1} = x0 * (W x_l + b) + x_l
 */
#include "parts.h"

#include <junco/error.h>

#include <stdio.h>
#include <string.h>

#define TAKE(ptr, count)                               \
    do {                                               \
        if (((ptr) = jc_ws_take(ws, (count))) == NULL) \
            return JC_ENOMEM;                          \
    } while (0)
#define TAKE0(ptr, count)                               \
    do {                                                \
        if (((ptr) = jc_ws_take0(ws, (count))) == NULL) \
            return JC_ENOMEM;                           \
    } while (0)
#define CHECK(expr)       \
    do {                  \
        int rc_ = (expr); \
        if (rc_ < 0)      \
            return rc_;   \
    } while (0)

static enum jc_init_kind emb_init = JC_INIT_NORMAL;
static const float emb_scale = 0.05f;

/* The deep MLP of most models: input -> hidden -> 1 (linear). */
static int deep_build(struct jc_model *m, struct jc_mlp *mlp, const char *name, uint32_t in)
{
    const struct jc_model_config *c = &m->cfg;
    return jc_mlp__build(m, mlp, name, in, c->hidden, c->n_hidden, 1, c->act, c->dropout,
                         c->layer_norm);
}

/* ======================================================================= LR */

struct lr_impl {
    struct jc_lin lin;
};
struct lr_st {
    float *X1;
};

static int lr_build(struct jc_model *m)
{
    struct lr_impl *im = m->impl;
    return jc_lin__build(m, &im->lin);
}

static int lr_forward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                      uint32_t r0, uint32_t n, enum jc_mode mode)
{
    const struct lr_impl *im = m->impl;
    struct lr_st *st = ws->st;
    return jc_lin__forward(m, &im->lin, ws, b, r0, n, mode, &st->X1, ws->logit);
}

static int lr_backward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n)
{
    const struct lr_impl *im = m->impl;
    struct lr_st *st = ws->st;
    return jc_lin__backward(m, &im->lin, ws, b, r0, n, st->X1, ws->dlogit);
}

/* ======================================================================= FM */

struct fm_impl {
    struct jc_lin lin;
    struct jc_input in;
    struct jc_fm fm;
};
struct fm_st {
    float *X1, *X, *S;
};

static int fm_build(struct jc_model *m)
{
    struct fm_impl *im = m->impl;
    CHECK(jc_lin__build(m, &im->lin));
    CHECK(jc_input__build(m, &im->in, "emb.", m->cfg.emb_dim, -1, JC_IN_ALL, JC_PG_DEEP, emb_init,
                          emb_scale));
    return jc_fm__build(m, &im->fm, &im->in);
}

static int fm_forward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                      uint32_t r0, uint32_t n, enum jc_mode mode)
{
    const struct fm_impl *im = m->impl;
    struct fm_st *st = ws->st;
    CHECK(jc_lin__forward(m, &im->lin, ws, b, r0, n, mode, &st->X1, ws->logit));
    TAKE(st->X, (size_t)n * im->in.width + 1);
    jc_input__forward(m, &im->in, b, r0, n, mode, st->X, im->in.width);
    return jc_fm__forward(m, &im->fm, ws, st->X, im->in.width, n, mode, &st->S, ws->logit);
}

static int fm_backward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n)
{
    const struct fm_impl *im = m->impl;
    struct fm_st *st = ws->st;
    CHECK(jc_lin__backward(m, &im->lin, ws, b, r0, n, st->X1, ws->dlogit));
    float *dX;
    TAKE0(dX, (size_t)n * im->in.width + 1);
    jc_fm__backward(m, &im->fm, ws, st->X, im->in.width, n, st->S, ws->dlogit, dX, im->in.width);
    return jc_input__backward(m, &im->in, ws, b, r0, n, dX, im->in.width);
}

/* ================================================== MLP and Wide&Deep, DeepFM */

struct deep_impl {
    struct jc_lin lin;     /* W&D, DeepFM */
    struct jc_cross cross; /* W&D */
    struct jc_fm fm;       /* DeepFM */
    struct jc_input in;
    struct jc_mlp mlp;
    int has_lin, has_fm;
};
struct deep_st {
    float *X1, *X, *S;
    struct jc_mlp_st ms;
};

static int deep_common_build(struct jc_model *m, int with_lin, int with_cross, int with_fm)
{
    struct deep_impl *im = m->impl;
    im->has_lin = with_lin;
    im->has_fm = with_fm;
    im->cross.ptab = -1;
    if (with_lin)
        CHECK(jc_lin__build(m, &im->lin));
    if (with_cross)
        CHECK(jc_cross__build(m, &im->cross, m->cfg.cross_buckets));
    CHECK(jc_input__build(m, &im->in, "emb.", m->cfg.emb_dim, -1, JC_IN_ALL, JC_PG_DEEP, emb_init,
                          emb_scale));
    if (with_fm)
        CHECK(jc_fm__build(m, &im->fm, &im->in));
    return deep_build(m, &im->mlp, "deep", im->in.width);
}

static int mlp_build(struct jc_model *m)
{
    return deep_common_build(m, 0, 0, 0);
}
static int wd_build(struct jc_model *m)
{
    return deep_common_build(m, 1, 1, 0);
}
static int dfm_build(struct jc_model *m)
{
    return deep_common_build(m, 1, 0, 1);
}

static int deep_forward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                        uint32_t r0, uint32_t n, enum jc_mode mode)
{
    const struct deep_impl *im = m->impl;
    struct deep_st *st = ws->st;
    if (im->has_lin)
        CHECK(jc_lin__forward(m, &im->lin, ws, b, r0, n, mode, &st->X1, ws->logit));
    else
        memset(ws->logit, 0, n * sizeof(float));
    jc_cross__forward(m, &im->cross, b, r0, n, mode, ws->logit);
    TAKE(st->X, (size_t)n * im->in.width + 1);
    jc_input__forward(m, &im->in, b, r0, n, mode, st->X, im->in.width);
    if (im->has_fm)
        CHECK(jc_fm__forward(m, &im->fm, ws, st->X, im->in.width, n, mode, &st->S, ws->logit));
    CHECK(jc_mlp__forward(m, &im->mlp, ws, &st->ms, st->X, im->in.width, n, mode, im->in.ku));
    const float *h = jc_mlp__output(&im->mlp, &st->ms);
    for (uint32_t i = 0; i < n; i++)
        ws->logit[i] += h[i];
    return JC_OK;
}

static int deep_backward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                         uint32_t r0, uint32_t n)
{
    const struct deep_impl *im = m->impl;
    struct deep_st *st = ws->st;
    if (im->has_lin)
        CHECK(jc_lin__backward(m, &im->lin, ws, b, r0, n, st->X1, ws->dlogit));
    CHECK(jc_cross__backward(m, &im->cross, ws, b, r0, n, ws->dlogit));
    float *dX, *dh;
    TAKE0(dX, (size_t)n * im->in.width + 1);
    TAKE(dh, n + 1);
    memcpy(dh, ws->dlogit, n * sizeof *dh);
    CHECK(jc_mlp__backward(m, &im->mlp, ws, &st->ms, dh, dX, im->in.width));
    if (im->has_fm)
        jc_fm__backward(m, &im->fm, ws, st->X, im->in.width, n, st->S, ws->dlogit, dX,
                        im->in.width);
    return jc_input__backward(m, &im->in, ws, b, r0, n, dX, im->in.width);
}

static void deep_after_step(struct jc_model *m, struct jc_ws **ws, uint32_t n_ws)
{
    struct deep_impl *im = m->impl;
    struct jc_mlp_st *sts[256];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n_ws && k < 256; i++)
        sts[k++] = &((struct deep_st *)ws[i]->st)->ms;
    jc_mlp__after_step(m, &im->mlp, sts, k);
}

/* ==================================================================== NeuMF */

struct ncf_impl {
    struct jc_input gin; /* GMF embeddings (categorical only) */
    struct jc_input in;  /* MLP tower input */
    struct jc_mlp mlp;   /* hidden layers only (activation on the last too) */
    int pwo, pbo;        /* [(dim + h_last) x 1], [1] */
};
struct ncf_st {
    float *Xg, *X, *U, *V;
    struct jc_mlp_st ms;
};

static int ncf_build(struct jc_model *m)
{
    struct ncf_impl *im = m->impl;
    const struct jc_model_config *c = &m->cfg;
    CHECK(jc_input__build(m, &im->gin, "gmf.", c->emb_dim, -1, JC_IN_NO_NUM, JC_PG_DEEP, emb_init,
                          emb_scale));
    if (im->gin.n_fu == 0 || im->gin.n_fu == im->gin.n_f)
        return jc_err_set(JC_EINVAL,
                          "neumf: needs categorical fields on the user and the item "
                          "side (has %u user-side of %u)",
                          im->gin.n_fu, im->gin.n_f);
    CHECK(jc_input__build(m, &im->in, "mlp.", c->emb_dim, -1, JC_IN_ALL, JC_PG_DEEP, emb_init,
                          emb_scale));
    if (c->n_hidden == 0)
        return jc_err_set(JC_EINVAL, "neumf: needs at least one hidden layer");
    CHECK(jc_mlp__build(m, &im->mlp, "deep", im->in.width, c->hidden, c->n_hidden, 0, c->act,
                        c->dropout, c->layer_norm));
    uint32_t hl = jc_mlp__out(&im->mlp);
    CHECK(im->pwo =
              jc_model__param(m, "out.W", c->emb_dim + hl, 1, 0, JC_PG_DEEP, JC_INIT_XAVIER, 0.0f));
    CHECK(im->pbo = jc_model__param(m, "out.b", 1, 1, 0, JC_PG_DEEP, JC_INIT_ZERO, 0.0f));
    return JC_OK;
}

/* mean of the field vectors [k0, k1) of row x (cols given by in) */
static void mean_fields(const struct jc_input *in, const float *x, uint32_t k0, uint32_t k1,
                        float *out)
{
    uint32_t d = in->dim;
    memset(out, 0, d * sizeof *out);
    for (uint32_t k = k0; k < k1; k++)
        for (uint32_t c = 0; c < d; c++)
            out[c] += x[in->col[k] + c];
    float inv = k1 > k0 ? 1.0f / (float)(k1 - k0) : 0.0f;
    for (uint32_t c = 0; c < d; c++)
        out[c] *= inv;
}

static int ncf_forward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n, enum jc_mode mode)
{
    const struct ncf_impl *im = m->impl;
    struct ncf_st *st = ws->st;
    uint32_t d = m->cfg.emb_dim, gw = im->gin.width;
    TAKE(st->Xg, (size_t)n * gw + 1);
    TAKE(st->U, (size_t)n * d + 1);
    TAKE(st->V, (size_t)n * d + 1);
    TAKE(st->X, (size_t)n * im->in.width + 1);
    jc_input__forward(m, &im->gin, b, r0, n, mode, st->Xg, gw);
    jc_input__forward(m, &im->in, b, r0, n, mode, st->X, im->in.width);
    CHECK(jc_mlp__forward(m, &im->mlp, ws, &st->ms, st->X, im->in.width, n, mode, im->in.ku));
    const float *h = jc_mlp__output(&im->mlp, &st->ms);
    uint32_t hl = jc_mlp__out(&im->mlp);
    const float *wo = m->p[im->pwo].w;
    float bo = m->p[im->pbo].w[0];
    for (uint32_t i = 0; i < n; i++) {
        const float *xg = st->Xg + (size_t)i * gw;
        float *u = st->U + (size_t)i * d, *v = st->V + (size_t)i * d;
        if (mode == JC_MODE_SHARED && i > 0)
            memcpy(u, st->U, d * sizeof *u);
        else
            mean_fields(&im->gin, xg, 0, im->gin.n_fu, u);
        mean_fields(&im->gin, xg, im->gin.n_fu, im->gin.n_f, v);
        float s = bo;
        for (uint32_t c = 0; c < d; c++)
            s += wo[c] * u[c] * v[c];
        s += jc_nn_dot(hl, wo + d, h + (size_t)i * hl);
        ws->logit[i] = s;
    }
    return JC_OK;
}

static int ncf_backward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                        uint32_t r0, uint32_t n)
{
    const struct ncf_impl *im = m->impl;
    struct ncf_st *st = ws->st;
    uint32_t d = m->cfg.emb_dim, gw = im->gin.width, hl = jc_mlp__out(&im->mlp);
    const float *wo = m->p[im->pwo].w;
    float *gwo = jc_ws__g(ws, m, im->pwo);
    const float *h = jc_mlp__output(&im->mlp, &st->ms);
    float *dXg, *dh, *dX;
    TAKE0(dXg, (size_t)n * gw + 1);
    TAKE(dh, (size_t)n * hl + 1);
    TAKE0(dX, (size_t)n * im->in.width + 1);
    float gb = 0.0f;
    uint32_t nu = im->gin.n_fu, ni = im->gin.n_f - nu;
    for (uint32_t i = 0; i < n; i++) {
        float g = ws->dlogit[i];
        const float *u = st->U + (size_t)i * d, *v = st->V + (size_t)i * d;
        float *dxg = dXg + (size_t)i * gw;
        gb += g;
        for (uint32_t c = 0; c < d; c++) {
            gwo[c] += g * u[c] * v[c];
            float du = g * wo[c] * v[c] / (float)nu, dv = g * wo[c] * u[c] / (float)ni;
            for (uint32_t k = 0; k < nu; k++)
                dxg[im->gin.col[k] + c] += du;
            for (uint32_t k = nu; k < im->gin.n_f; k++)
                dxg[im->gin.col[k] + c] += dv;
        }
        const float *hi = h + (size_t)i * hl;
        for (uint32_t c = 0; c < hl; c++) {
            gwo[d + c] += g * hi[c];
            dh[(size_t)i * hl + c] = g * wo[d + c];
        }
    }
    jc_ws__g(ws, m, im->pbo)[0] += gb;
    CHECK(jc_input__backward(m, &im->gin, ws, b, r0, n, dXg, gw));
    CHECK(jc_mlp__backward(m, &im->mlp, ws, &st->ms, dh, dX, im->in.width));
    return jc_input__backward(m, &im->in, ws, b, r0, n, dX, im->in.width);
}

static void ncf_after_step(struct jc_model *m, struct jc_ws **ws, uint32_t n_ws)
{
    struct ncf_impl *im = m->impl;
    struct jc_mlp_st *sts[256];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n_ws && k < 256; i++)
        sts[k++] = &((struct ncf_st *)ws[i]->st)->ms;
    jc_mlp__after_step(m, &im->mlp, sts, k);
}

/* ================================================================ two-tower */

struct tt_impl {
    struct jc_input in;
    struct jc_mlp mu, mi;
    int pb;
};
struct tt_st {
    float *X;
    struct jc_mlp_st su, si;
    float *dU, *dV; /* set by the softmax loss */
    int custom;
};

static int tt_build(struct jc_model *m)
{
    struct tt_impl *im = m->impl;
    const struct jc_model_config *c = &m->cfg;
    CHECK(jc_input__build(m, &im->in, "emb.", c->emb_dim, -1, JC_IN_ALL, JC_PG_DEEP, emb_init,
                          emb_scale));
    if (im->in.ku == 0 || im->in.ku == im->in.width)
        return jc_err_set(JC_EINVAL, "twotower: needs fields on the user and the item side");
    CHECK(jc_mlp__build(m, &im->mu, "user", im->in.ku, c->hidden, c->n_hidden, c->tower_dim, c->act,
                        c->dropout, c->layer_norm));
    CHECK(jc_mlp__build(m, &im->mi, "item", im->in.width - im->in.ku, c->hidden, c->n_hidden,
                        c->tower_dim, c->act, c->dropout, c->layer_norm));
    CHECK(im->pb = jc_model__param(m, "out.b", 1, 1, 0, JC_PG_DEEP, JC_INIT_ZERO, 0.0f));
    return JC_OK;
}

static int tt_forward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                      uint32_t r0, uint32_t n, enum jc_mode mode)
{
    const struct tt_impl *im = m->impl;
    struct tt_st *st = ws->st;
    uint32_t w = im->in.width, ku = im->in.ku, D = m->cfg.tower_dim;
    st->custom = 0;
    TAKE(st->X, (size_t)n * w + 1);
    jc_input__forward(m, &im->in, b, r0, n, mode, st->X, w);
    enum jc_mode sub = mode == JC_MODE_SHARED ? JC_MODE_EVAL : mode;
    uint32_t nu = mode == JC_MODE_SHARED ? (n ? 1 : 0) : n;
    CHECK(jc_mlp__forward(m, &im->mu, ws, &st->su, st->X, w, nu, sub, 0));
    CHECK(jc_mlp__forward(m, &im->mi, ws, &st->si, st->X + ku, w, n, sub, 0));
    const float *U = jc_mlp__output(&im->mu, &st->su), *V = jc_mlp__output(&im->mi, &st->si);
    float bias = m->p[im->pb].w[0];
    for (uint32_t i = 0; i < n; i++)
        ws->logit[i] = bias + jc_nn_dot(D, U + (size_t)(mode == JC_MODE_SHARED ? 0 : i) * D,
                                        V + (size_t)i * D);
    return JC_OK;
}

static int tt_loss(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                   uint32_t r0, uint32_t n, float scale)
{
    const struct tt_impl *im = m->impl;
    struct tt_st *st = ws->st;
    if (m->cfg.loss != JC_LOSS_SOFTMAX) {
        ws->loss = jc_nn_bce_logits(n, ws->logit, b->label + r0, NULL, scale, ws->dlogit);
        return JC_OK;
    }
    uint32_t D = m->cfg.tower_dim;
    const float *U = jc_mlp__output(&im->mu, &st->su), *V = jc_mlp__output(&im->mi, &st->si);
    float *S, *dS;
    TAKE(S, (size_t)n * n + 1);
    TAKE(dS, (size_t)n * n + 1);
    TAKE(st->dU, (size_t)n * D + 1);
    TAKE(st->dV, (size_t)n * D + 1);
    /* S [n x n] = U [n x D] V^T */
    jc_nn_gemm(0, 1, (int)n, (int)n, (int)D, 1.0f, U, (int)D, V, (int)D, 0.0f, S, (int)n);
    ws->loss = jc_nn_softmax_inbatch(n, S, b->label + r0, NULL, m->cfg.temperature, scale, dS);
    /* dU = dS V ; dV = dS^T U */
    jc_nn_gemm(0, 0, (int)n, (int)D, (int)n, 1.0f, dS, (int)n, V, (int)D, 0.0f, st->dU, (int)D);
    jc_nn_gemm(1, 0, (int)n, (int)D, (int)n, 1.0f, dS, (int)n, U, (int)D, 0.0f, st->dV, (int)D);
    memset(ws->dlogit, 0, n * sizeof(float));
    st->custom = 1;
    return JC_OK;
}

static int tt_backward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n)
{
    const struct tt_impl *im = m->impl;
    struct tt_st *st = ws->st;
    uint32_t w = im->in.width, ku = im->in.ku, D = m->cfg.tower_dim;
    const float *U = jc_mlp__output(&im->mu, &st->su), *V = jc_mlp__output(&im->mi, &st->si);
    float *dU = st->dU, *dV = st->dV, *dX;
    if (!st->custom) {
        TAKE(dU, (size_t)n * D + 1);
        TAKE(dV, (size_t)n * D + 1);
        float gb = 0.0f;
        for (uint32_t i = 0; i < n; i++) {
            float g = ws->dlogit[i];
            gb += g;
            for (uint32_t c = 0; c < D; c++) {
                dU[(size_t)i * D + c] = g * V[(size_t)i * D + c];
                dV[(size_t)i * D + c] = g * U[(size_t)i * D + c];
            }
        }
        jc_ws__g(ws, m, im->pb)[0] += gb;
    }
    TAKE0(dX, (size_t)n * w + 1);
    CHECK(jc_mlp__backward(m, &im->mu, ws, &st->su, dU, dX, w));
    CHECK(jc_mlp__backward(m, &im->mi, ws, &st->si, dV, dX + ku, w));
    return jc_input__backward(m, &im->in, ws, b, r0, n, dX, w);
}

static void tt_after_step(struct jc_model *m, struct jc_ws **ws, uint32_t n_ws)
{
    struct tt_impl *im = m->impl;
    struct jc_mlp_st *a[256], *c[256];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n_ws && k < 256; i++, k++) {
        a[k] = &((struct tt_st *)ws[i]->st)->su;
        c[k] = &((struct tt_st *)ws[i]->st)->si;
    }
    jc_mlp__after_step(m, &im->mu, a, k);
    jc_mlp__after_step(m, &im->mi, c, k);
}

/* Two-tower vectors for the scorer API. */
int jc_zoo__tt_vectors(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n, int user, float *out);
int jc_zoo__tt_vectors(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n, int user, float *out)
{
    if (m->cfg.kind != JC_MODEL_TWOTOWER)
        return jc_err_set(JC_EINVAL, "model: %s has no tower vectors",
                          jc_model_kind_name(m->cfg.kind));
    const struct tt_impl *im = m->impl;
    struct tt_st *st = ws->st;
    jc_ws_arena_reset(ws);
    CHECK(tt_forward(m, ws, b, r0, n, JC_MODE_EVAL));
    const float *src = user ? jc_mlp__output(&im->mu, &st->su) : jc_mlp__output(&im->mi, &st->si);
    memcpy(out, src, (size_t)n * m->cfg.tower_dim * sizeof *out);
    return JC_OK;
}

/* ====================================================================== DIN */

struct din_impl {
    struct jc_input in; /* every field but the sequence */
    uint32_t fq, fs;    /* candidate field, sequence field (layout indexes) */
    uint32_t kq;        /* index of the candidate field in `in` */
    int ptab;           /* shared table of their vocabulary */
    struct jc_mlp att;  /* [4d] -> att_hidden -> 1 */
    struct jc_mlp mlp;  /* [width + d] -> hidden -> 1 */
};
struct din_st {
    float *X;  /* [n x (width + d)] */
    float *K;  /* [n x T x d] keys (SHARED: [T x d]) */
    float *A;  /* [n*T x 4d] attention inputs */
    float *Wt; /* [n*T] masked attention weights */
    struct jc_mlp_st as, ms;
};

static int din_build(struct jc_model *m)
{
    struct din_impl *im = m->impl;
    const struct jc_feat_layout *l = &m->layout;
    const struct jc_model_config *c = &m->cfg;
    int fq = -1, fs = -1;
    for (uint32_t s = 0; s < l->n_fields && fs < 0; s++) {
        if (l->fields[s].kind != JC_FEAT_SEQ || l->fields[s].side == JC_SIDE_ITEM)
            continue;
        for (uint32_t q = 0; q < l->n_fields; q++)
            if (l->fields[q].kind == JC_FEAT_CAT && l->fields[q].side == JC_SIDE_ITEM &&
                l->fields[q].vocab == l->fields[s].vocab) {
                fq = (int)q;
                fs = (int)s;
                break;
            }
    }
    if (fs < 0)
        return jc_err_set(JC_EINVAL, "din: the layout needs a user-side SEQ field and an "
                                     "item-side CAT field of the same vocabulary");
    im->fq = (uint32_t)fq;
    im->fs = (uint32_t)fs;
    CHECK(jc_input__build(m, &im->in, "emb.", c->emb_dim, fs, JC_IN_ALL, JC_PG_DEEP, emb_init,
                          emb_scale));
    for (uint32_t k = 0; k < im->in.n_f; k++)
        if (im->in.field[k] == im->fq)
            im->kq = k;
    im->ptab = im->in.table[im->kq];
    m->slots_per_row[m->p[im->ptab].sidx] += l->fields[fs].width;
    uint32_t ah = c->att_hidden;
    CHECK(jc_mlp__build(m, &im->att, "att", 4 * c->emb_dim, &ah, 1, 1, c->act, 0.0f, 0));
    return deep_build(m, &im->mlp, "deep", im->in.width + c->emb_dim);
}

static int din_forward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n, enum jc_mode mode)
{
    const struct din_impl *im = m->impl;
    struct din_st *st = ws->st;
    const struct jc_feat_layout *l = &m->layout;
    const struct jc_feat_field *fs = &l->fields[im->fs];
    uint32_t d = m->cfg.emb_dim, T = fs->width, w = im->in.width, ldx = w + d;
    int shared = mode == JC_MODE_SHARED;
    uint32_t nk = shared ? (n ? 1 : 0) : n;
    const float *tab = m->p[im->ptab].w;
    TAKE(st->X, (size_t)n * ldx + 1);
    TAKE(st->K, (size_t)nk * T * d + 1);
    TAKE(st->A, (size_t)n * T * 4 * d + 1);
    TAKE(st->Wt, (size_t)n * T + 1);
    jc_input__forward(m, &im->in, b, r0, n, mode, st->X, ldx);
    for (uint32_t i = 0; i < nk; i++) {
        const uint32_t *seq = b->cat + (size_t)(r0 + i) * l->n_cat + fs->offset;
        for (uint32_t t = 0; t < T; t++)
            jc_nn_embed_pool(tab, d, seq + t, 1, st->K + ((size_t)i * T + t) * d);
    }
    for (uint32_t i = 0; i < n; i++) {
        const float *q = st->X + (size_t)i * ldx + im->in.col[im->kq];
        const float *K = st->K + (size_t)(shared ? 0 : i) * T * d;
        for (uint32_t t = 0; t < T; t++) {
            const float *k = K + (size_t)t * d;
            float *a = st->A + ((size_t)i * T + t) * 4 * d;
            for (uint32_t c = 0; c < d; c++) {
                a[c] = q[c];
                a[d + c] = k[c];
                a[2 * d + c] = q[c] - k[c];
                a[3 * d + c] = q[c] * k[c];
            }
        }
    }
    enum jc_mode sub = shared ? JC_MODE_EVAL : mode;
    CHECK(jc_mlp__forward(m, &im->att, ws, &st->as, st->A, 4 * d, n * T, sub, 0));
    const float *aw = jc_mlp__output(&im->att, &st->as);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *seq = b->cat + (size_t)(r0 + (shared ? 0 : i)) * l->n_cat + fs->offset;
        const float *K = st->K + (size_t)(shared ? 0 : i) * T * d;
        float *pool = st->X + (size_t)i * ldx + w;
        memset(pool, 0, d * sizeof *pool);
        for (uint32_t t = 0; t < T; t++) {
            float wt = seq[t] ? aw[(size_t)i * T + t] : 0.0f;
            st->Wt[(size_t)i * T + t] = wt;
            if (wt != 0.0f)
                jc_nn_axpy(d, wt, K + (size_t)t * d, pool);
        }
    }
    CHECK(jc_mlp__forward(m, &im->mlp, ws, &st->ms, st->X, ldx, n, mode, im->in.ku));
    memcpy(ws->logit, jc_mlp__output(&im->mlp, &st->ms), n * sizeof(float));
    return JC_OK;
}

static int din_backward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                        uint32_t r0, uint32_t n)
{
    const struct din_impl *im = m->impl;
    struct din_st *st = ws->st;
    const struct jc_feat_layout *l = &m->layout;
    const struct jc_feat_field *fs = &l->fields[im->fs];
    uint32_t d = m->cfg.emb_dim, T = fs->width, w = im->in.width, ldx = w + d;
    float *dX, *dh, *dW, *dA;
    TAKE0(dX, (size_t)n * ldx + 1);
    TAKE(dh, n + 1);
    memcpy(dh, ws->dlogit, n * sizeof *dh);
    CHECK(jc_mlp__backward(m, &im->mlp, ws, &st->ms, dh, dX, ldx));
    /* interest = sum_t w_t k_t */
    TAKE(dW, (size_t)n * T + 1);
    struct jc_sgrad *sg = &ws->sg[m->p[im->ptab].sidx];
    float *dK;
    TAKE0(dK, (size_t)n * T * d + 1);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *seq = b->cat + (size_t)(r0 + i) * l->n_cat + fs->offset;
        const float *dp = dX + (size_t)i * ldx + w;
        for (uint32_t t = 0; t < T; t++) {
            const float *k = st->K + ((size_t)i * T + t) * d;
            dW[(size_t)i * T + t] = seq[t] ? jc_nn_dot(d, dp, k) : 0.0f;
            if (seq[t])
                jc_nn_axpy(d, st->Wt[(size_t)i * T + t], dp, dK + ((size_t)i * T + t) * d);
        }
    }
    TAKE0(dA, (size_t)n * T * 4 * d + 1);
    CHECK(jc_mlp__backward(m, &im->att, ws, &st->as, dW, dA, 4 * d));
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *seq = b->cat + (size_t)(r0 + i) * l->n_cat + fs->offset;
        float *dq = dX + (size_t)i * ldx + im->in.col[im->kq];
        const float *q = st->X + (size_t)i * ldx + im->in.col[im->kq];
        for (uint32_t t = 0; t < T; t++) {
            const float *a = dA + ((size_t)i * T + t) * 4 * d;
            const float *k = st->K + ((size_t)i * T + t) * d;
            float *dk = dK + ((size_t)i * T + t) * d;
            for (uint32_t c = 0; c < d; c++) {
                dq[c] += a[c] + a[2 * d + c] + a[3 * d + c] * k[c];
                dk[c] += a[d + c] - a[2 * d + c] + a[3 * d + c] * q[c];
            }
            if (seq[t] == 0)
                continue;
            float *g = jc_sgrad_row(sg, seq[t]);
            if (g == NULL)
                return jc_err_set(JC_ELIMIT, "din: sparse gradient full");
            jc_nn_axpy(d, 1.0f, dk, g);
        }
    }
    return jc_input__backward(m, &im->in, ws, b, r0, n, dX, ldx);
}

static void din_after_step(struct jc_model *m, struct jc_ws **ws, uint32_t n_ws)
{
    struct din_impl *im = m->impl;
    struct jc_mlp_st *a[256], *c[256];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n_ws && k < 256; i++, k++) {
        a[k] = &((struct din_st *)ws[i]->st)->as;
        c[k] = &((struct din_st *)ws[i]->st)->ms;
    }
    jc_mlp__after_step(m, &im->att, a, k);
    jc_mlp__after_step(m, &im->mlp, c, k);
}

/* =================================================================== DCN-v2 */

#define DCN_MAX_LAYERS 6
struct dcn_impl {
    struct jc_input in;
    struct jc_mlp mlp; /* hidden only */
    uint32_t L;
    int pW[DCN_MAX_LAYERS], pb[DCN_MAX_LAYERS];
    int pwo, pbo; /* [(width + h_last) x 1] */
};
struct dcn_st {
    float *X;                      /* x0 [n x w] */
    float *XL[DCN_MAX_LAYERS + 1]; /* x_l, XL[0] = X */
    float *Ul[DCN_MAX_LAYERS];     /* W x_l + b */
    struct jc_mlp_st ms;
};

static int dcn_build(struct jc_model *m)
{
    struct dcn_impl *im = m->impl;
    const struct jc_model_config *c = &m->cfg;
    CHECK(jc_input__build(m, &im->in, "emb.", c->emb_dim, -1, JC_IN_ALL, JC_PG_DEEP, emb_init,
                          emb_scale));
    if (c->cross_layers == 0 || c->cross_layers > DCN_MAX_LAYERS || c->n_hidden == 0)
        return jc_err_set(JC_EINVAL, "dcn: needs 1..%d cross layers and a hidden layer",
                          DCN_MAX_LAYERS);
    im->L = c->cross_layers;
    uint32_t w = im->in.width;
    for (uint32_t l = 0; l < im->L; l++) {
        char pn[JC_PARAM_NAME_MAX];
        snprintf(pn, sizeof pn, "cross.W%u", l);
        CHECK(im->pW[l] = jc_model__param(m, pn, w, w, 0, JC_PG_DEEP, JC_INIT_XAVIER, 0.0f));
        snprintf(pn, sizeof pn, "cross.b%u", l);
        CHECK(im->pb[l] = jc_model__param(m, pn, 1, w, 0, JC_PG_DEEP, JC_INIT_ZERO, 0.0f));
    }
    CHECK(jc_mlp__build(m, &im->mlp, "deep", w, c->hidden, c->n_hidden, 0, c->act, c->dropout,
                        c->layer_norm));
    CHECK(im->pwo = jc_model__param(m, "out.W", w + jc_mlp__out(&im->mlp), 1, 0, JC_PG_DEEP,
                                    JC_INIT_XAVIER, 0.0f));
    CHECK(im->pbo = jc_model__param(m, "out.b", 1, 1, 0, JC_PG_DEEP, JC_INIT_ZERO, 0.0f));
    return JC_OK;
}

static int dcn_forward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n, enum jc_mode mode)
{
    const struct dcn_impl *im = m->impl;
    struct dcn_st *st = ws->st;
    uint32_t w = im->in.width;
    TAKE(st->X, (size_t)n * w + 1);
    jc_input__forward(m, &im->in, b, r0, n, mode, st->X, w);
    if (mode == JC_MODE_SHARED) /* the cross net mixes sides: materialise the user part */
        for (uint32_t i = 1; i < n; i++)
            memcpy(st->X + (size_t)i * w, st->X, im->in.ku * sizeof(float));
    st->XL[0] = st->X;
    for (uint32_t l = 0; l < im->L; l++) {
        float *U, *Xn;
        TAKE(U, (size_t)n * w + 1);
        TAKE(Xn, (size_t)n * w + 1);
        jc_nn_dense_forward((int)n, (int)w, (int)w, st->XL[l], (int)w, m->p[im->pW[l]].w,
                            m->p[im->pb[l]].w, U);
        for (size_t i = 0; i < (size_t)n * w; i++)
            Xn[i] = st->X[i] * U[i] + st->XL[l][i];
        st->Ul[l] = U;
        st->XL[l + 1] = Xn;
    }
    CHECK(jc_mlp__forward(m, &im->mlp, ws, &st->ms, st->X, w, n, mode,
                          mode == JC_MODE_SHARED ? im->in.ku : 0));
    const float *h = jc_mlp__output(&im->mlp, &st->ms);
    uint32_t hl = jc_mlp__out(&im->mlp);
    const float *wo = m->p[im->pwo].w;
    for (uint32_t i = 0; i < n; i++)
        ws->logit[i] = m->p[im->pbo].w[0] + jc_nn_dot(w, wo, st->XL[im->L] + (size_t)i * w) +
                       jc_nn_dot(hl, wo + w, h + (size_t)i * hl);
    return JC_OK;
}

static int dcn_backward(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                        uint32_t r0, uint32_t n)
{
    const struct dcn_impl *im = m->impl;
    struct dcn_st *st = ws->st;
    uint32_t w = im->in.width, hl = jc_mlp__out(&im->mlp);
    const float *wo = m->p[im->pwo].w;
    float *gwo = jc_ws__g(ws, m, im->pwo);
    const float *h = jc_mlp__output(&im->mlp, &st->ms);
    float *dX0, *dXl, *dh, gb = 0.0f;
    TAKE0(dX0, (size_t)n * w + 1);
    TAKE(dXl, (size_t)n * w + 1);
    TAKE(dh, (size_t)n * hl + 1);
    for (uint32_t i = 0; i < n; i++) {
        float g = ws->dlogit[i];
        gb += g;
        const float *xl = st->XL[im->L] + (size_t)i * w;
        for (uint32_t c = 0; c < w; c++) {
            gwo[c] += g * xl[c];
            dXl[(size_t)i * w + c] = g * wo[c];
        }
        for (uint32_t c = 0; c < hl; c++) {
            gwo[w + c] += g * h[(size_t)i * hl + c];
            dh[(size_t)i * hl + c] = g * wo[w + c];
        }
    }
    jc_ws__g(ws, m, im->pbo)[0] += gb;
    CHECK(jc_mlp__backward(m, &im->mlp, ws, &st->ms, dh, dX0, w));
    /* x_{l+1} = x0 * u_l + x_l, u_l = x_l W + b */
    for (int l = (int)im->L - 1; l >= 0; l--) {
        float *dU, *dPrev;
        TAKE(dU, (size_t)n * w + 1);
        TAKE(dPrev, (size_t)n * w + 1);
        for (size_t i = 0; i < (size_t)n * w; i++) {
            dU[i] = dXl[i] * st->X[i];
            dX0[i] += dXl[i] * st->Ul[l][i];
            dPrev[i] = dXl[i];
        }
        jc_nn_dense_backward((int)n, (int)w, (int)w, st->XL[l], (int)w, m->p[im->pW[l]].w, dU,
                             jc_ws__g(ws, m, im->pW[l]), jc_ws__g(ws, m, im->pb[l]), dPrev, (int)w);
        dXl = dPrev;
    }
    for (size_t i = 0; i < (size_t)n * w; i++)
        dX0[i] += dXl[i];
    return jc_input__backward(m, &im->in, ws, b, r0, n, dX0, w);
}

static void dcn_after_step(struct jc_model *m, struct jc_ws **ws, uint32_t n_ws)
{
    struct dcn_impl *im = m->impl;
    struct jc_mlp_st *sts[256];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n_ws && k < 256; i++)
        sts[k++] = &((struct dcn_st *)ws[i]->st)->ms;
    jc_mlp__after_step(m, &im->mlp, sts, k);
}

/* ==================================================================== table */

static const struct jc_model_ops ops_table[] = {
    {JC_MODEL_LR, lr_build, NULL, sizeof(struct lr_st), lr_forward, NULL, lr_backward, NULL},
    {JC_MODEL_FM, fm_build, NULL, sizeof(struct fm_st), fm_forward, NULL, fm_backward, NULL},
    {JC_MODEL_MLP, mlp_build, NULL, sizeof(struct deep_st), deep_forward, NULL, deep_backward,
     deep_after_step},
    {JC_MODEL_WIDEDEEP, wd_build, NULL, sizeof(struct deep_st), deep_forward, NULL, deep_backward,
     deep_after_step},
    {JC_MODEL_NEUMF, ncf_build, NULL, sizeof(struct ncf_st), ncf_forward, NULL, ncf_backward,
     ncf_after_step},
    {JC_MODEL_TWOTOWER, tt_build, NULL, sizeof(struct tt_st), tt_forward, tt_loss, tt_backward,
     tt_after_step},
    {JC_MODEL_DEEPFM, dfm_build, NULL, sizeof(struct deep_st), deep_forward, NULL, deep_backward,
     deep_after_step},
    {JC_MODEL_DIN, din_build, NULL, sizeof(struct din_st), din_forward, NULL, din_backward,
     din_after_step},
    {JC_MODEL_DCN, dcn_build, NULL, sizeof(struct dcn_st), dcn_forward, NULL, dcn_backward,
     dcn_after_step},
};

/* Size of the largest impl struct (model.c allocates one of these). */
size_t jc_zoo__impl_size(void);
size_t jc_zoo__impl_size(void)
{
    size_t s = sizeof(struct lr_impl);
    size_t c[] = {sizeof(struct fm_impl), sizeof(struct deep_impl), sizeof(struct ncf_impl),
                  sizeof(struct tt_impl), sizeof(struct din_impl),  sizeof(struct dcn_impl)};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (c[i] > s)
            s = c[i];
    return s;
}

const struct jc_model_ops *jc_model__ops(enum jc_model_kind kind)
{
    for (size_t i = 0; i < sizeof ops_table / sizeof ops_table[0]; i++)
        if (ops_table[i].kind == kind)
            return &ops_table[i];
    return NULL;
}
