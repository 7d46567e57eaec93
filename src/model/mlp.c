/*
 * mlp.c - a stack of dense layers (dense -> [layer norm] -> activation ->
 * [dropout]) with an optional linear output layer, forward and backward.
 *
 * Shapes: layer l maps [n x dim[l]] to [n x dim[l+1]] with W [dim[l] x
 * dim[l+1]] (row-major) and b [dim[l+1]]. Activations are kept in the
 * caller's struct jc_mlp_st (arena memory) for the backward. In SHARED
 * (serving) mode the first layer splits its input at column ku: the user
 * part X[0, :ku] W[:ku] is computed once and added to every row's item part
 * X[r, ku:] W[ku:], so the user side costs one row instead of n.
 */
#include "model_int.h"

#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

int jc_mlp__build(struct jc_model *m, struct jc_mlp *mlp, const char *name, uint32_t in,
                  const uint32_t *hidden, uint32_t nh, uint32_t out, enum jc_nn_act act,
                  float dropout, int layer_norm)
{
    memset(mlp, 0, sizeof *mlp);
    if (nh > JC_MODEL_MAX_HIDDEN)
        return jc_err_set(JC_EINVAL, "%s: at most %d hidden layers", name, JC_MODEL_MAX_HIDDEN);
    mlp->dim[0] = in;
    for (uint32_t i = 0; i < nh; i++)
        mlp->dim[i + 1] = hidden[i];
    mlp->n_layers = nh;
    if (out) {
        mlp->dim[nh + 1] = out;
        mlp->n_layers = nh + 1;
        mlp->linear_last = 1;
    }
    if (mlp->n_layers == 0)
        return jc_err_set(JC_EINVAL, "%s: no layers", name);
    mlp->act = act;
    mlp->dropout = dropout;
    mlp->layer_norm = layer_norm;
    for (uint32_t l = 0; l < mlp->n_layers; l++) {
        char pn[JC_PARAM_NAME_MAX];
        int hid = !(mlp->linear_last && l == mlp->n_layers - 1);
        uint32_t o = mlp->dim[l + 1];
        snprintf(pn, sizeof pn, "%s.W%u", name, l);
        int rc = jc_model__param(
            m, pn, mlp->dim[l], o, 0, JC_PG_DEEP,
            hid && act != JC_ACT_SIGMOID && act != JC_ACT_TANH ? JC_INIT_HE : JC_INIT_XAVIER, 0.0f);
        if (rc < 0)
            return rc;
        mlp->pW[l] = rc;
        snprintf(pn, sizeof pn, "%s.b%u", name, l);
        if ((rc = jc_model__param(m, pn, 1, o, 0, JC_PG_DEEP, JC_INIT_ZERO, 0.0f)) < 0)
            return rc;
        mlp->pb[l] = rc;
        mlp->pa[l] = mlp->prm[l] = mlp->prv[l] = mlp->pg[l] = mlp->pbeta[l] = -1;
        if (!hid)
            continue;
        if (act == JC_ACT_PRELU || act == JC_ACT_DICE) {
            snprintf(pn, sizeof pn, "%s.alpha%u", name, l);
            rc = jc_model__param(m, pn, 1, o, 0, JC_PG_DEEP, JC_INIT_CONST,
                                 act == JC_ACT_PRELU ? 0.25f : 0.0f);
            if (rc < 0)
                return rc;
            mlp->pa[l] = rc;
        }
        if (act == JC_ACT_DICE) {
            snprintf(pn, sizeof pn, "%s.rmean%u", name, l);
            if ((rc = jc_model__param(m, pn, 1, o, 0, JC_PG_BUFFER, JC_INIT_ZERO, 0.0f)) < 0)
                return rc;
            mlp->prm[l] = rc;
            snprintf(pn, sizeof pn, "%s.rvar%u", name, l);
            if ((rc = jc_model__param(m, pn, 1, o, 0, JC_PG_BUFFER, JC_INIT_CONST, 1.0f)) < 0)
                return rc;
            mlp->prv[l] = rc;
        }
        if (layer_norm) {
            snprintf(pn, sizeof pn, "%s.lng%u", name, l);
            if ((rc = jc_model__param(m, pn, 1, o, 0, JC_PG_DEEP, JC_INIT_CONST, 1.0f)) < 0)
                return rc;
            mlp->pg[l] = rc;
            snprintf(pn, sizeof pn, "%s.lnb%u", name, l);
            if ((rc = jc_model__param(m, pn, 1, o, 0, JC_PG_DEEP, JC_INIT_ZERO, 0.0f)) < 0)
                return rc;
            mlp->pbeta[l] = rc;
        }
    }
    return JC_OK;
}

#define TAKE(ptr, count)                               \
    do {                                               \
        if (((ptr) = jc_ws_take(ws, (count))) == NULL) \
            return JC_ENOMEM;                          \
    } while (0)

int jc_mlp__forward(const struct jc_model *m, const struct jc_mlp *mlp, struct jc_ws *ws,
                    struct jc_mlp_st *st, const float *X, uint32_t ldx, uint32_t n,
                    enum jc_mode mode, uint32_t ku)
{
    st->n = n;
    st->X = X;
    st->ldx = ldx;
    const float *in = X;
    uint32_t ld = ldx;
    for (uint32_t l = 0; l < mlp->n_layers; l++) {
        uint32_t di = mlp->dim[l], o = mlp->dim[l + 1];
        const float *W = m->p[mlp->pW[l]].w, *b = m->p[mlp->pb[l]].w;
        float *Zl;
        TAKE(Zl, (size_t)n * o);
        st->Zlin[l] = Zl;
        if (l == 0 && mode == JC_MODE_SHARED && ku > 0 && n > 0) {
            float *zu;
            TAKE(zu, o);
            /* zu [1 x o] = X[0, :ku] W[:ku, :] + b */
            memcpy(zu, b, o * sizeof *zu);
            jc_nn_gemm(0, 0, 1, (int)o, (int)ku, 1.0f, X, (int)ldx, W, (int)o, 1.0f, zu, (int)o);
            /* Zl [n x o] = X[:, ku:di] W[ku:di, :] */
            jc_nn_gemm(0, 0, (int)n, (int)o, (int)(di - ku), 1.0f, X + ku, (int)ldx,
                       W + (size_t)ku * o, (int)o, 0.0f, Zl, (int)o);
            jc_nn_add_row(n, o, zu, Zl);
        } else {
            jc_nn_dense_forward((int)n, (int)di, (int)o, in, (int)ld, W, b, Zl);
        }
        int hid = !(mlp->linear_last && l == mlp->n_layers - 1);
        if (!hid) {
            st->Z[l] = st->H[l] = Zl;
            in = Zl;
            ld = o;
            continue;
        }
        float *Z = Zl;
        if (mlp->layer_norm) {
            TAKE(Z, (size_t)n * o);
            TAKE(st->xhat[l], (size_t)n * o);
            TAKE(st->rstd[l], n ? n : 1);
            jc_nn_layernorm_forward(n, o, Zl, m->p[mlp->pg[l]].w, m->p[mlp->pbeta[l]].w,
                                    st->xhat[l], st->rstd[l], Z);
        }
        st->Z[l] = Z;
        float *H;
        TAKE(H, (size_t)n * o);
        switch (mlp->act) {
        case JC_ACT_PRELU:
            jc_nn_prelu_forward(n, o, Z, m->p[mlp->pa[l]].w, H);
            break;
        case JC_ACT_DICE:
            TAKE(st->P[l], (size_t)n * o);
            TAKE(st->bm[l], o);
            TAKE(st->bv[l], o);
            jc_nn_dice_forward(n, o, Z, m->p[mlp->pa[l]].w, m->p[mlp->prm[l]].w,
                               m->p[mlp->prv[l]].w, mode == JC_MODE_TRAIN, st->bm[l], st->bv[l],
                               st->P[l], H);
            break;
        default:
            jc_nn_act_forward(mlp->act, (size_t)n * o, Z, H);
            break;
        }
        st->mask[l] = NULL;
        if (mode == JC_MODE_TRAIN && mlp->dropout > 0.0f) {
            TAKE(st->mask[l], (size_t)n * o);
            jc_nn_dropout_forward((size_t)n * o, mlp->dropout, &ws->rng, H, st->mask[l], H);
        }
        st->H[l] = H;
        in = H;
        ld = o;
    }
    return JC_OK;
}

/* dZ = dH * act'(Z) for the pointwise activations, from the pre-activation
 * (the output may have been scaled by dropout). */
static void act_backward_z(enum jc_nn_act a, size_t n, const float *Z, const float *dH, float *dZ)
{
    switch (a) {
    case JC_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            dZ[i] = Z[i] > 0.0f ? dH[i] : 0.0f;
        break;
    case JC_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            float s = jc_nn_sigmoid(Z[i]);
            dZ[i] = dH[i] * s * (1.0f - s);
        }
        break;
    case JC_ACT_TANH:
        for (size_t i = 0; i < n; i++) {
            float t = tanhf(Z[i]);
            dZ[i] = dH[i] * (1.0f - t * t);
        }
        break;
    default:
        if (dZ != dH)
            memcpy(dZ, dH, n * sizeof *dZ);
        break;
    }
}

int jc_mlp__backward(const struct jc_model *m, const struct jc_mlp *mlp, struct jc_ws *ws,
                     struct jc_mlp_st *st, float *dOut, float *dX, uint32_t lddx)
{
    uint32_t n = st->n;
    float *dH = dOut;
    for (int l = (int)mlp->n_layers - 1; l >= 0; l--) {
        uint32_t di = mlp->dim[l], o = mlp->dim[l + 1];
        size_t no = (size_t)n * o;
        int hid = !(mlp->linear_last && l == (int)mlp->n_layers - 1);
        float *dZlin = dH;
        if (hid) {
            if (st->mask[l])
                for (size_t i = 0; i < no; i++)
                    dH[i] *= st->mask[l][i];
            float *dZ;
            TAKE(dZ, no);
            switch (mlp->act) {
            case JC_ACT_PRELU:
                jc_nn_prelu_backward(n, o, st->Z[l], m->p[mlp->pa[l]].w, dH, dZ,
                                     jc_ws__g(ws, m, mlp->pa[l]));
                break;
            case JC_ACT_DICE:
                jc_nn_dice_backward(n, o, st->Z[l], m->p[mlp->pa[l]].w, st->bv[l], st->P[l], dH, dZ,
                                    jc_ws__g(ws, m, mlp->pa[l]));
                break;
            default:
                act_backward_z(mlp->act, no, st->Z[l], dH, dZ);
                break;
            }
            dZlin = dZ;
            if (mlp->layer_norm) {
                float *d2;
                TAKE(d2, no);
                jc_nn_layernorm_backward(n, o, st->xhat[l], st->rstd[l], m->p[mlp->pg[l]].w, dZ, d2,
                                         jc_ws__g(ws, m, mlp->pg[l]),
                                         jc_ws__g(ws, m, mlp->pbeta[l]));
                dZlin = d2;
            }
        }
        const float *in = l == 0 ? st->X : st->H[l - 1];
        uint32_t ld = l == 0 ? st->ldx : di;
        float *dIn = NULL;
        uint32_t ldd = di;
        if (l > 0) {
            if ((dIn = jc_ws_take0(ws, (size_t)n * di)) == NULL)
                return JC_ENOMEM;
        } else {
            dIn = dX;
            ldd = lddx;
        }
        jc_nn_dense_backward((int)n, (int)di, (int)o, in, (int)ld, m->p[mlp->pW[l]].w, dZlin,
                             jc_ws__g(ws, m, mlp->pW[l]), jc_ws__g(ws, m, mlp->pb[l]), dIn,
                             (int)ldd);
        dH = dIn;
    }
    return JC_OK;
}

void jc_mlp__after_step(struct jc_model *m, const struct jc_mlp *mlp, struct jc_mlp_st **sts,
                        uint32_t n_st)
{
    if (mlp->act != JC_ACT_DICE)
        return;
    const float mom = 0.99f;
    for (uint32_t l = 0; l < mlp->n_layers; l++) {
        if (mlp->prm[l] < 0)
            continue;
        uint32_t o = mlp->dim[l + 1];
        float *rm = m->p[mlp->prm[l]].w, *rv = m->p[mlp->prv[l]].w;
        for (uint32_t c = 0; c < o; c++) {
            double sm = 0.0, sv = 0.0;
            uint32_t k = 0;
            for (uint32_t s = 0; s < n_st; s++) {
                if (sts[s]->n == 0 || sts[s]->bm[l] == NULL)
                    continue;
                sm += sts[s]->bm[l][c];
                sv += sts[s]->bv[l][c];
                k++;
            }
            if (k == 0)
                continue;
            rm[c] = mom * rm[c] + (1.0f - mom) * (float)(sm / k);
            rv[c] = mom * rv[c] + (1.0f - mom) * (float)(sv / k);
        }
    }
}
