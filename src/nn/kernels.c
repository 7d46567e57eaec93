/*
 * kernels.c - vector kernels, the dense layer, activations, normalisation,
 * dropout and pooled embedding lookups (see junco/nn.h for the contracts).
 *
 * The loops here are the per-element work around the GEMMs; they are
 * written to vectorise (restrict pointers, 16 independent accumulators for
 * reductions) and are cloned per ISA with runtime dispatch (nn_int.h).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include <junco/nn.h>

#include "core/rng.h"
#include <junco/error.h>
#include "nn_int.h"

#include <math.h>
#include <string.h>

JC_NN_SIMD void jc_nn_axpy(size_t n, float a, const float *restrict x, float *restrict y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

JC_NN_SIMD float jc_nn_dot(size_t n, const float *restrict x, const float *restrict y)
{
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += x[i + j] * y[i + j];
    float s = 0.0f;
    for (; i < n; i++)
        s += x[i] * y[i];
    for (int j = 0; j < 16; j++)
        s += acc[j];
    return s;
}

JC_NN_SIMD void jc_nn_add_row(size_t rows, size_t n, const float *restrict b, float *restrict Y)
{
    for (size_t r = 0; r < rows; r++) {
        float *restrict y = Y + r * n;
        for (size_t j = 0; j < n; j++)
            y[j] += b[j];
    }
}

JC_NN_SIMD void jc_nn_colsum(size_t rows, size_t n, const float *restrict dY, float *restrict db)
{
    for (size_t r = 0; r < rows; r++) {
        const float *restrict d = dY + r * n;
        for (size_t j = 0; j < n; j++)
            db[j] += d[j];
    }
}

void jc_nn_dense_forward(int rows, int in, int out, const float *X, int ldx, const float *W,
                         const float *b, float *Y)
{
    if (rows <= 0)
        return;
    jc_nn_gemm(0, 0, rows, out, in, 1.0f, X, ldx, W, out, 0.0f, Y, out);
    if (b)
        jc_nn_add_row((size_t)rows, (size_t)out, b, Y);
}

void jc_nn_dense_backward(int rows, int in, int out, const float *X, int ldx, const float *W,
                          const float *dY, float *dW, float *db, float *dX, int lddx)
{
    if (rows <= 0)
        return;
    /* dW [in x out] += X^T [in x rows] dY [rows x out] */
    jc_nn_gemm(1, 0, in, out, rows, 1.0f, X, ldx, dY, out, 1.0f, dW, out);
    if (db)
        jc_nn_colsum((size_t)rows, (size_t)out, dY, db);
    /* dX [rows x in] += dY [rows x out] W^T [out x in] */
    if (dX)
        jc_nn_gemm(0, 1, rows, in, out, 1.0f, dY, out, W, out, 1.0f, dX, lddx);
}

/* ---- activations ------------------------------------------------------- */

static const char *const act_names[] = {"none", "relu", "sigmoid", "tanh", "prelu", "dice"};

const char *jc_nn_act_name(enum jc_nn_act a)
{
    return (unsigned)a < sizeof act_names / sizeof act_names[0] ? act_names[a] : "?";
}

int jc_nn_act_parse(const char *s, enum jc_nn_act *out)
{
    for (unsigned i = 0; i < sizeof act_names / sizeof act_names[0]; i++)
        if (strcmp(s, act_names[i]) == 0) {
            *out = (enum jc_nn_act)i;
            return 0;
        }
    return -1;
}

float jc_nn_sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

double jc_nn_softplus(double x)
{
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

JC_NN_SIMD static void relu_fwd(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

JC_NN_SIMD static void relu_bwd(size_t n, const float *y, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void jc_nn_act_forward(enum jc_nn_act a, size_t n, const float *x, float *y)
{
    switch (a) {
    case JC_ACT_RELU:
        relu_fwd(n, x, y);
        break;
    case JC_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            y[i] = jc_nn_sigmoid(x[i]);
        break;
    case JC_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(x[i]);
        break;
    default:
        if (y != x)
            memmove(y, x, n * sizeof *y);
        break;
    }
}

void jc_nn_act_backward(enum jc_nn_act a, size_t n, const float *y, const float *dy, float *dx)
{
    switch (a) {
    case JC_ACT_RELU:
        relu_bwd(n, y, dy, dx);
        break;
    case JC_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case JC_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    default:
        if (dx != dy)
            memmove(dx, dy, n * sizeof *dx);
        break;
    }
}

JC_NN_SIMD void jc_nn_prelu_forward(size_t rows, size_t cols, const float *X, const float *alpha,
                                    float *Y)
{
    for (size_t r = 0; r < rows; r++) {
        const float *x = X + r * cols;
        float *y = Y + r * cols;
        for (size_t c = 0; c < cols; c++)
            y[c] = x[c] > 0.0f ? x[c] : alpha[c] * x[c];
    }
}

JC_NN_SIMD void jc_nn_prelu_backward(size_t rows, size_t cols, const float *X, const float *alpha,
                                     const float *dY, float *dX, float *dalpha)
{
    for (size_t r = 0; r < rows; r++) {
        const float *x = X + r * cols;
        const float *dy = dY + r * cols;
        float *dx = dX + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float neg = x[c] > 0.0f ? 0.0f : x[c];
            dalpha[c] += dy[c] * neg;
            dx[c] = x[c] > 0.0f ? dy[c] : alpha[c] * dy[c];
        }
    }
}

void jc_nn_dice_forward(size_t rows, size_t cols, const float *X, const float *alpha,
                        const float *run_mean, const float *run_var, int train, float *batch_mean,
                        float *batch_var, float *P, float *Y)
{
    const float *mean = run_mean, *var = run_var;
    if (train) {
        for (size_t c = 0; c < cols; c++)
            batch_mean[c] = batch_var[c] = 0.0f;
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++)
                batch_mean[c] += X[r * cols + c];
        float inv = rows ? 1.0f / (float)rows : 0.0f;
        for (size_t c = 0; c < cols; c++)
            batch_mean[c] *= inv;
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) {
                float d = X[r * cols + c] - batch_mean[c];
                batch_var[c] += d * d;
            }
        for (size_t c = 0; c < cols; c++)
            batch_var[c] *= inv;
        mean = batch_mean;
        var = batch_var;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            float z = (X[i] - mean[c]) / sqrtf(var[c] + JC_NN_DICE_EPS);
            float p = jc_nn_sigmoid(z);
            P[i] = p;
            Y[i] = X[i] * (alpha[c] + (1.0f - alpha[c]) * p);
        }
}

void jc_nn_dice_backward(size_t rows, size_t cols, const float *X, const float *alpha,
                         const float *batch_var, const float *P, const float *dY, float *dX,
                         float *dalpha)
{
    /* y = x * (a + (1 - a) p(z)), z = (x - mean) / s, s = sqrt(var + eps).
     * dL/dz_i = dy_i x_i (1 - a) p (1 - p); then the batch-norm backward
     * dx_i += (dz_i - mean(dz) - z_i mean(dz z)) / s. */
    for (size_t c = 0; c < cols; c++) {
        float s = sqrtf(batch_var[c] + JC_NN_DICE_EPS);
        double sum_dz = 0.0, sum_dzz = 0.0, mean_x = 0.0;
        for (size_t r = 0; r < rows; r++)
            mean_x += X[r * cols + c];
        mean_x /= rows ? (double)rows : 1.0;
        for (size_t r = 0; r < rows; r++) {
            size_t i = r * cols + c;
            float p = P[i];
            float dz = dY[i] * X[i] * (1.0f - alpha[c]) * p * (1.0f - p);
            float z = (float)((X[i] - mean_x) / s);
            sum_dz += dz;
            sum_dzz += (double)dz * z;
            dalpha[c] += dY[i] * X[i] * (1.0f - p);
            dX[i] = dY[i] * (alpha[c] + (1.0f - alpha[c]) * p);
        }
        double inv = rows ? 1.0 / (double)rows : 0.0;
        float m_dz = (float)(sum_dz * inv), m_dzz = (float)(sum_dzz * inv);
        for (size_t r = 0; r < rows; r++) {
            size_t i = r * cols + c;
            float p = P[i];
            float dz = dY[i] * X[i] * (1.0f - alpha[c]) * p * (1.0f - p);
            float z = (float)((X[i] - mean_x) / s);
            dX[i] += (dz - m_dz - z * m_dzz) / s;
        }
    }
}

void jc_nn_layernorm_forward(size_t rows, size_t cols, const float *X, const float *g,
                             const float *b, float *xhat, float *rstd, float *Y)
{
    for (size_t r = 0; r < rows; r++) {
        const float *x = X + r * cols;
        double mu = 0.0, var = 0.0;
        for (size_t c = 0; c < cols; c++)
            mu += x[c];
        mu /= (double)cols;
        for (size_t c = 0; c < cols; c++)
            var += (x[c] - mu) * (x[c] - mu);
        var /= (double)cols;
        float rs = (float)(1.0 / sqrt(var + JC_NN_LN_EPS));
        rstd[r] = rs;
        float *xh = xhat + r * cols;
        float *y = Y + r * cols;
        for (size_t c = 0; c < cols; c++) {
            xh[c] = (float)(x[c] - mu) * rs;
            y[c] = g[c] * xh[c] + b[c];
        }
    }
}

void jc_nn_layernorm_backward(size_t rows, size_t cols, const float *xhat, const float *rstd,
                              const float *g, const float *dY, float *dX, float *dg, float *db)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xh = xhat + r * cols;
        const float *dy = dY + r * cols;
        float *dx = dX + r * cols;
        double s1 = 0.0, s2 = 0.0;
        for (size_t c = 0; c < cols; c++) {
            float dxh = dy[c] * g[c];
            dg[c] += dy[c] * xh[c];
            db[c] += dy[c];
            s1 += dxh;
            s2 += (double)dxh * xh[c];
        }
        float m1 = (float)(s1 / (double)cols), m2 = (float)(s2 / (double)cols);
        for (size_t c = 0; c < cols; c++)
            dx[c] = rstd[r] * (dy[c] * g[c] - m1 - xh[c] * m2);
    }
}

void jc_nn_dropout_forward(size_t n, float p, struct jc_rng *rng, const float *x, float *mask,
                           float *y)
{
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        mask[i] = jc_rng_float(rng) < p ? 0.0f : keep;
        y[i] = x[i] * mask[i];
    }
}

/* ---- embeddings -------------------------------------------------------- */

JC_NN_SIMD uint32_t jc_nn_embed_pool(const float *restrict table, uint32_t dim, const uint32_t *ids,
                                     uint32_t width, float *restrict out)
{
    uint32_t cnt = 0;
    for (uint32_t d = 0; d < dim; d++)
        out[d] = 0.0f;
    for (uint32_t s = 0; s < width; s++) {
        if (ids[s] == 0)
            continue;
        const float *restrict row = table + (size_t)ids[s] * dim;
        for (uint32_t d = 0; d < dim; d++)
            out[d] += row[d];
        cnt++;
    }
    if (cnt > 1) {
        float inv = 1.0f / (float)cnt;
        for (uint32_t d = 0; d < dim; d++)
            out[d] *= inv;
    }
    return cnt;
}

int jc_nn_embed_pool_backward(struct jc_sgrad *sg, const uint32_t *ids, uint32_t width,
                              const float *dout)
{
    uint32_t cnt = 0;
    for (uint32_t s = 0; s < width; s++)
        cnt += ids[s] != 0;
    if (cnt == 0)
        return 0;
    float scale = 1.0f / (float)cnt;
    for (uint32_t s = 0; s < width; s++) {
        if (ids[s] == 0)
            continue;
        float *g = jc_sgrad_row(sg, ids[s]);
        if (g == NULL)
            return JC_ELIMIT; /* the caller adds context */
        jc_nn_axpy(sg->dim, scale, dout, g);
    }
    return 0;
}
