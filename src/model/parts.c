/*
 * parts.c - building blocks shared by several models of the zoo:
 *   - the linear ("wide", first-order) part: one weight per id (a dim-1
 *     table per vocabulary, mean-pooled over multi-valued fields), one weight
 *     per numeric field and a bias;
 *   - hashed crossed features for Wide&Deep: every (item-side field, user-side
 *     field) pair sharing a vocabulary (movieId x recent items, item genres x
 *     user genres) crosses its ids into `buckets` hashed weights;
 *   - the factorisation-machine second-order term over field vectors,
 *     0.5 * sum_k [(sum_f v_fk)^2 - sum_f v_fk^2], where numeric fields
 *     contribute x_j * V_j.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "parts.h"

#include <junco/error.h>

#include <string.h>

/* ---- linear part -------------------------------------------------------- */

int jc_lin__build(struct jc_model *m, struct jc_lin *lin)
{
    int rc = jc_input__build(m, &lin->in, "lin.", 1, -1, JC_IN_ALL, JC_PG_WIDE, JC_INIT_ZERO, 0.0f);
    if (rc)
        return rc;
    lin->pnum = -1;
    if (lin->in.n_num) {
        if ((rc = jc_model__param(m, "lin.num", lin->in.n_num, 1, 0, JC_PG_WIDE, JC_INIT_ZERO,
                                  0.0f)) < 0)
            return rc;
        lin->pnum = rc;
    }
    if ((rc = jc_model__param(m, "lin.bias", 1, 1, 0, JC_PG_WIDE, JC_INIT_ZERO, 0.0f)) < 0)
        return rc;
    lin->pbias = rc;
    return JC_OK;
}

int jc_lin__forward(const struct jc_model *m, const struct jc_lin *lin, struct jc_ws *ws,
                    const struct jc_batch *b, uint32_t r0, uint32_t n, enum jc_mode mode,
                    float **X1out, float *out)
{
    const struct jc_input *in = &lin->in;
    float *X1 = jc_ws_take(ws, (size_t)(n ? n : 1) * (in->width ? in->width : 1));
    if (X1 == NULL)
        return JC_ENOMEM;
    jc_input__forward(m, in, b, r0, n, mode, X1, in->width);
    *X1out = X1;
    const float *wn = lin->pnum >= 0 ? m->p[lin->pnum].w : NULL;
    float bias = m->p[lin->pbias].w[0];
    /* row sum over columns [c0, c1) with numeric columns weighted */
    float su = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        const float *x = X1 + (size_t)i * in->width;
        float s = 0.0f;
        uint32_t c0 = (mode == JC_MODE_SHARED) ? in->ku : 0;
        if (mode == JC_MODE_SHARED && i == 0) {
            for (uint32_t k = 0; k < in->n_fu; k++)
                su += x[in->col[k]];
            for (uint32_t j = 0; j < in->n_nu; j++)
                su += x[in->num_col[j]] * wn[j];
        }
        for (uint32_t k = 0; k < in->n_f; k++)
            if (in->col[k] >= c0)
                s += x[in->col[k]];
        for (uint32_t j = 0; j < in->n_num; j++)
            if (in->num_col[j] >= c0)
                s += x[in->num_col[j]] * wn[j];
        out[i] = bias + su + s;
    }
    return JC_OK;
}

int jc_lin__backward(const struct jc_model *m, const struct jc_lin *lin, struct jc_ws *ws,
                     const struct jc_batch *b, uint32_t r0, uint32_t n, const float *X1,
                     const float *dlogit)
{
    const struct jc_input *in = &lin->in;
    float *dX1 = jc_ws_take(ws, (size_t)(n ? n : 1) * (in->width ? in->width : 1));
    if (dX1 == NULL)
        return JC_ENOMEM;
    float *gn = lin->pnum >= 0 ? jc_ws__g(ws, m, lin->pnum) : NULL;
    float gb = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        float g = dlogit[i];
        float *dx = dX1 + (size_t)i * in->width;
        const float *x = X1 + (size_t)i * in->width;
        for (uint32_t k = 0; k < in->n_f; k++)
            dx[in->col[k]] = g;
        for (uint32_t j = 0; j < in->n_num; j++)
            gn[j] += g * x[in->num_col[j]];
        gb += g;
    }
    jc_ws__g(ws, m, lin->pbias)[0] += gb;
    return jc_input__backward(m, in, ws, b, r0, n, dX1, in->width);
}

/* ---- hashed crosses ---------------------------------------------------- */

int jc_cross__build(struct jc_model *m, struct jc_cross *cr, uint32_t buckets)
{
    const struct jc_feat_layout *l = &m->layout;
    memset(cr, 0, sizeof *cr);
    cr->ptab = -1;
    if (buckets == 0 || (buckets & (buckets - 1)))
        return jc_err_set(JC_EINVAL, "widedeep: cross_buckets %u is not a power of two", buckets);
    uint32_t slots = 0;
    for (uint32_t a = 0; a < l->n_fields; a++) {
        const struct jc_feat_field *fa = &l->fields[a];
        if (fa->side != JC_SIDE_ITEM || (fa->kind != JC_FEAT_CAT && fa->kind != JC_FEAT_MULTI))
            continue;
        for (uint32_t bb = 0; bb < l->n_fields; bb++) {
            const struct jc_feat_field *fb = &l->fields[bb];
            if (fb->side == JC_SIDE_ITEM || fb->kind == JC_FEAT_NUM || fb->vocab != fa->vocab)
                continue;
            if (cr->n_pairs >= JC_CROSS_MAX)
                break;
            cr->fa[cr->n_pairs] = a;
            cr->fb[cr->n_pairs] = bb;
            cr->n_pairs++;
            slots += fa->width * fb->width;
        }
    }
    if (cr->n_pairs == 0)
        return JC_OK;
    cr->mask = buckets - 1;
    int rc = jc_model__param(m, "wide.cross", buckets, 1, 1, JC_PG_WIDE, JC_INIT_ZERO, 0.0f);
    if (rc < 0)
        return rc;
    cr->ptab = rc;
    m->slots_per_row[m->p[rc].sidx] += slots;
    return JC_OK;
}

static inline uint32_t cross_hash(uint32_t pair, uint32_t a, uint32_t b, uint32_t mask)
{
    uint64_t z = ((uint64_t)pair << 58) ^ ((uint64_t)a << 29) ^ b;
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (uint32_t)z & mask;
}

void jc_cross__forward(const struct jc_model *m, const struct jc_cross *cr,
                       const struct jc_batch *b, uint32_t r0, uint32_t n, enum jc_mode mode,
                       float *out)
{
    if (cr->ptab < 0)
        return;
    const struct jc_feat_layout *l = &m->layout;
    const float *w = m->p[cr->ptab].w;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *ci = b->cat + (size_t)(r0 + i) * l->n_cat;
        const uint32_t *cu = mode == JC_MODE_SHARED ? b->cat + (size_t)r0 * l->n_cat : ci;
        float s = 0.0f;
        for (uint32_t p = 0; p < cr->n_pairs; p++) {
            const struct jc_feat_field *fa = &l->fields[cr->fa[p]], *fb = &l->fields[cr->fb[p]];
            for (uint32_t x = 0; x < fa->width; x++) {
                uint32_t ida = ci[fa->offset + x];
                if (ida == 0)
                    continue;
                for (uint32_t y = 0; y < fb->width; y++) {
                    uint32_t idb = cu[fb->offset + y];
                    if (idb != 0)
                        s += w[cross_hash(p, ida, idb, cr->mask)];
                }
            }
        }
        out[i] += s;
    }
}

int jc_cross__backward(const struct jc_model *m, const struct jc_cross *cr, struct jc_ws *ws,
                       const struct jc_batch *b, uint32_t r0, uint32_t n, const float *dlogit)
{
    if (cr->ptab < 0)
        return JC_OK;
    const struct jc_feat_layout *l = &m->layout;
    struct jc_sgrad *sg = &ws->sg[m->p[cr->ptab].sidx];
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *c = b->cat + (size_t)(r0 + i) * l->n_cat;
        for (uint32_t p = 0; p < cr->n_pairs; p++) {
            const struct jc_feat_field *fa = &l->fields[cr->fa[p]], *fb = &l->fields[cr->fb[p]];
            for (uint32_t x = 0; x < fa->width; x++) {
                uint32_t ida = c[fa->offset + x];
                if (ida == 0)
                    continue;
                for (uint32_t y = 0; y < fb->width; y++) {
                    uint32_t idb = c[fb->offset + y];
                    if (idb == 0)
                        continue;
                    float *g = jc_sgrad_row(sg, cross_hash(p, ida, idb, cr->mask));
                    if (g == NULL)
                        return jc_err_set(JC_ELIMIT, "widedeep: cross gradient full");
                    g[0] += dlogit[i];
                }
            }
        }
    }
    return JC_OK;
}

/* ---- FM second order ---------------------------------------------------- */

int jc_fm__build(struct jc_model *m, struct jc_fm *fm, const struct jc_input *in)
{
    fm->in = in;
    fm->pV = -1;
    if (in->n_num) {
        int rc =
            jc_model__param(m, "fm.numv", in->n_num, in->dim, 0, JC_PG_DEEP, JC_INIT_NORMAL, 0.05f);
        if (rc < 0)
            return rc;
        fm->pV = rc;
    }
    return JC_OK;
}

/* Adds field vectors of fields [k0,k1) and numerics [j0,j1) of row x to S
 * and their squares to Q (both [dim], per coordinate so the loops
 * vectorise). */
static void fm_accum(const struct jc_fm *fm, const float *V, const float *x, uint32_t k0,
                     uint32_t k1, uint32_t j0, uint32_t j1, float *restrict S, float *restrict Q)
{
    const struct jc_input *in = fm->in;
    uint32_t d = in->dim;
    for (uint32_t k = k0; k < k1; k++) {
        const float *restrict e = x + in->col[k];
        for (uint32_t c = 0; c < d; c++) {
            S[c] += e[c];
            Q[c] += e[c] * e[c];
        }
    }
    for (uint32_t j = j0; j < j1; j++) {
        float xv = x[in->num_col[j]];
        const float *restrict v = V + (size_t)j * d;
        for (uint32_t c = 0; c < d; c++) {
            float e = xv * v[c];
            S[c] += e;
            Q[c] += e * e;
        }
    }
}

int jc_fm__forward(const struct jc_model *m, const struct jc_fm *fm, struct jc_ws *ws,
                   const float *X, uint32_t ldx, uint32_t n, enum jc_mode mode, float **Sout,
                   float *out)
{
    const struct jc_input *in = fm->in;
    uint32_t d = in->dim;
    const float *V = fm->pV >= 0 ? m->p[fm->pV].w : NULL;
    float *S = jc_ws_take(ws, (size_t)(n ? n : 1) * d);
    float *Su = jc_ws_take0(ws, d), *Qu = jc_ws_take0(ws, d), *Q = jc_ws_take(ws, d);
    if (S == NULL || Su == NULL || Qu == NULL || Q == NULL)
        return JC_ENOMEM;
    if (mode == JC_MODE_SHARED && n > 0)
        fm_accum(fm, V, X, 0, in->n_fu, 0, in->n_nu, Su, Qu);
    for (uint32_t i = 0; i < n; i++) {
        const float *x = X + (size_t)i * ldx;
        float *s = S + (size_t)i * d;
        if (mode == JC_MODE_SHARED) {
            memcpy(s, Su, d * sizeof *s);
            memcpy(Q, Qu, d * sizeof *Q);
            fm_accum(fm, V, x, in->n_fu, in->n_f, in->n_nu, in->n_num, s, Q);
        } else {
            memset(s, 0, d * sizeof *s);
            memset(Q, 0, d * sizeof *Q);
            fm_accum(fm, V, x, 0, in->n_f, 0, in->n_num, s, Q);
        }
        float acc = 0.0f;
        for (uint32_t c = 0; c < d; c++)
            acc += s[c] * s[c] - Q[c];
        out[i] += 0.5f * acc;
    }
    *Sout = S;
    return JC_OK;
}

void jc_fm__backward(const struct jc_model *m, const struct jc_fm *fm, struct jc_ws *ws,
                     const float *X, uint32_t ldx, uint32_t n, const float *S, const float *dlogit,
                     float *dX, uint32_t lddx)
{
    const struct jc_input *in = fm->in;
    uint32_t d = in->dim;
    const float *V = fm->pV >= 0 ? m->p[fm->pV].w : NULL;
    float *gV = fm->pV >= 0 ? jc_ws__g(ws, m, fm->pV) : NULL;
    for (uint32_t i = 0; i < n; i++) {
        const float *x = X + (size_t)i * ldx;
        const float *s = S + (size_t)i * d;
        float *dx = dX + (size_t)i * lddx;
        float g = dlogit[i];
        /* d/d e_f of 0.5 (|S|^2 - sum |e|^2) = S - e_f */
        for (uint32_t k = 0; k < in->n_f; k++) {
            const float *e = x + in->col[k];
            float *de = dx + in->col[k];
            for (uint32_t c = 0; c < d; c++)
                de[c] += g * (s[c] - e[c]);
        }
        for (uint32_t j = 0; j < in->n_num; j++) {
            float xv = x[in->num_col[j]];
            const float *v = V + (size_t)j * d;
            float *gv = gV + (size_t)j * d;
            for (uint32_t c = 0; c < d; c++)
                gv[c] += g * xv * (s[c] - xv * v[c]);
        }
    }
}
