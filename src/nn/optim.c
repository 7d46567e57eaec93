/*
 * optim.c - optimizer steps (SGD, Adagrad, Adam, FTRL-proximal) on
 * contiguous runs of weights, and the seeded initialisers.
 *
 * Dense parameters are stepped as one run; embedding tables call
 * jc_optim_step once per touched row (lazy/sparse updates: untouched rows and
 * their state are not visited, as in PyTorch SparseAdam and TF LazyAdam).
 * FTRL keeps z and n per weight and recomputes w from them, so a model can
 * keep learning one example at a time after it was loaded.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include <junco/nn.h>

#include "core/rng.h"
#include "nn_int.h"

#include <math.h>
#include <string.h>

static const char *const opt_names[] = {"none", "sgd", "adagrad", "adam", "ftrl"};

const char *jc_optim_name(enum jc_optim_kind k)
{
    return (unsigned)k < 5 ? opt_names[k] : "?";
}

int jc_optim_parse(const char *s, enum jc_optim_kind *out)
{
    for (unsigned i = 1; i < 5; i++)
        if (strcmp(s, opt_names[i]) == 0) {
            *out = (enum jc_optim_kind)i;
            return 0;
        }
    return -1;
}

void jc_optim_config_default(struct jc_optim_config *c, enum jc_optim_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->lr = kind == JC_OPTIM_SGD       ? 0.05f
            : kind == JC_OPTIM_FTRL    ? 0.05f
            : kind == JC_OPTIM_ADAGRAD ? 0.05f
                                       : 0.001f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = kind == JC_OPTIM_ADAGRAD ? 1e-10f : 1e-8f;
    c->ftrl_beta = 1.0f;
    c->adagrad_init = 0.0f;
}

int jc_optim_n_state(enum jc_optim_kind k)
{
    switch (k) {
    case JC_OPTIM_ADAGRAD:
        return 1;
    case JC_OPTIM_ADAM:
    case JC_OPTIM_FTRL:
        return 2;
    default:
        return 0;
    }
}

float jc_optim_state_init(const struct jc_optim_config *c, int i)
{
    return c->kind == JC_OPTIM_ADAGRAD && i == 0 ? c->adagrad_init : 0.0f;
}

JC_NN_SIMD static void sgd(size_t n, float lr, float l2, float *restrict w, const float *restrict g)
{
    for (size_t i = 0; i < n; i++)
        w[i] -= lr * (g[i] + l2 * w[i]);
}

JC_NN_SIMD static void adagrad(size_t n, float lr, float l2, float eps, float *restrict w,
                               const float *restrict g, float *restrict s)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * w[i];
        s[i] += gi * gi;
        w[i] -= lr * gi / (sqrtf(s[i]) + eps);
    }
}

JC_NN_SIMD static void adam(size_t n, float lr_t, float b1, float b2, float eps_t, float l2,
                            float *restrict w, const float *restrict g, float *restrict m,
                            float *restrict v)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps_t);
    }
}

static void ftrl(const struct jc_optim_config *c, size_t n, float *w, const float *g, float *z,
                 float *nn)
{
    float alpha = c->lr;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float n_new = nn[i] + gi * gi;
        float sigma = (sqrtf(n_new) - sqrtf(nn[i])) / alpha;
        z[i] += gi - sigma * w[i];
        nn[i] = n_new;
        float az = fabsf(z[i]);
        if (az <= c->ftrl_l1)
            w[i] = 0.0f;
        else
            w[i] = -(z[i] - copysignf(c->ftrl_l1, z[i])) /
                   ((c->ftrl_beta + sqrtf(n_new)) / alpha + c->ftrl_l2);
    }
}

void jc_optim_prepare(const struct jc_optim_config *c, uint64_t step, struct jc_optim_step *st)
{
    st->c = c;
    st->lr_t = c->lr;
    st->eps_t = c->eps;
    if (c->kind == JC_OPTIM_ADAM) {
        /* PyTorch's formulation: w -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps),
         * rewritten with a single division per weight. */
        double t = (double)(step ? step : 1);
        double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
        st->lr_t = (float)(c->lr * sqrt(bc2) / bc1);
        st->eps_t = (float)(c->eps * sqrt(bc2));
    }
}

void jc_optim_apply(const struct jc_optim_step *st, size_t n, float *w, const float *g, float *s1,
                    float *s2)
{
    const struct jc_optim_config *c = st->c;
    switch (c->kind) {
    case JC_OPTIM_SGD:
        sgd(n, c->lr, c->l2, w, g);
        break;
    case JC_OPTIM_ADAGRAD:
        adagrad(n, c->lr, c->l2, c->eps, w, g, s1);
        break;
    case JC_OPTIM_ADAM:
        adam(n, st->lr_t, c->beta1, c->beta2, st->eps_t, c->l2, w, g, s1, s2);
        break;
    case JC_OPTIM_FTRL:
        ftrl(c, n, w, g, s1, s2);
        break;
    default:
        break;
    }
}

void jc_optim_step(const struct jc_optim_config *c, size_t n, float *w, const float *g, float *s1,
                   float *s2, uint64_t step)
{
    struct jc_optim_step st;
    jc_optim_prepare(c, step, &st);
    jc_optim_apply(&st, n, w, g, s1, s2);
}

void jc_nn_init(enum jc_init_kind k, float scale, struct jc_rng *rng, size_t rows, size_t cols,
                float *w)
{
    size_t n = rows * cols;
    switch (k) {
    case JC_INIT_XAVIER: {
        float a = sqrtf(6.0f / (float)(rows + cols));
        for (size_t i = 0; i < n; i++)
            w[i] = (2.0f * jc_rng_float(rng) - 1.0f) * a;
        break;
    }
    case JC_INIT_HE: {
        double sd = sqrt(2.0 / (double)(rows ? rows : 1));
        for (size_t i = 0; i < n; i++)
            w[i] = (float)(jc_rng_normal(rng) * sd);
        break;
    }
    case JC_INIT_NORMAL:
        for (size_t i = 0; i < n; i++)
            w[i] = (float)(jc_rng_normal(rng) * scale);
        break;
    case JC_INIT_UNIFORM:
        for (size_t i = 0; i < n; i++)
            w[i] = (2.0f * jc_rng_float(rng) - 1.0f) * scale;
        break;
    case JC_INIT_CONST:
        for (size_t i = 0; i < n; i++)
            w[i] = scale;
        break;
    default:
        memset(w, 0, n * sizeof *w);
        break;
    }
}
