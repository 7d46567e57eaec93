/*
 * test_nn.c - the nn core: gemm against the reference kernel, every layer's
 * backward against central finite differences, losses, sparse gradients,
 * optimizer steps against hand-computed values, seeded initialisers.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/rng.h"
#include <junco/error.h>
#include <junco/nn.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static void fill(struct jc_rng *r, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(jc_rng_normal(r) * scale);
}

/* |a - b| <= atol + rtol * max(|a|, |b|) */
static int close_to(double a, double b, double atol, double rtol)
{
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= atol + rtol * m;
}

static void test_gemm_matches_reference(void **state)
{
    (void)state;
    struct jc_rng r;
    jc_rng_seed(&r, 1);
    int dims[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 48, 130}, {5, 1, 300}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        int m = dims[d][0], n = dims[d][1], k = dims[d][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
                size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb;
                float *A = jc_malloc(na * 4), *B = jc_malloc(nb * 4);
                float *C1 = jc_malloc((size_t)m * ldc * 4), *C2 = jc_malloc((size_t)m * ldc * 4);
                fill(&r, A, na, 1);
                fill(&r, B, nb, 1);
                fill(&r, C1, (size_t)m * ldc, 1);
                memcpy(C2, C1, (size_t)m * ldc * 4);
                jc_nn_gemm(ta, tb, m, n, k, 0.5f, A, lda, B, ldb, 0.25f, C1, ldc);
                jc_nn_gemm_ref(ta, tb, m, n, k, 0.5f, A, lda, B, ldb, 0.25f, C2, ldc);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                        assert_true(close_to(C1[i * ldc + j], C2[i * ldc + j], 1e-4, 1e-4));
                /* padding columns untouched */
                if (n + 2 == ldc)
                    assert_true(C1[ldc - 1] == C2[ldc - 1]);
                jc_free(A);
                jc_free(B);
                jc_free(C1);
                jc_free(C2);
            }
    }
}

/* Generic finite-difference check: loss(x) = sum_i R_i * f(x)_i. */
typedef void (*fwd_fn)(void *ctx, float *y);

static double weighted(const float *y, const float *R, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * R[i];
    return s;
}

/* Checks analytic gradient g (n entries of param p) against central
 * differences of the forward. */
static void fd_check(const char *what, float *p, const float *g, size_t n, fwd_fn f, void *ctx,
                     float *y, const float *R, size_t ny, float eps, double tol)
{
    for (size_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + eps;
        f(ctx, y);
        double lp = weighted(y, R, ny);
        p[i] = keep - eps;
        f(ctx, y);
        double lm = weighted(y, R, ny);
        p[i] = keep;
        double num = (lp - lm) / (2.0 * eps);
        if (!close_to(num, g[i], tol, 2e-2)) {
            print_error("%s: grad[%zu] analytic %.6f numeric %.6f\n", what, i, (double)g[i], num);
            fail();
        }
    }
}

struct dense_ctx {
    int rows, in, out;
    float *X, *W, *b;
};

static void dense_fwd(void *c, float *y)
{
    struct dense_ctx *d = c;
    jc_nn_dense_forward(d->rows, d->in, d->out, d->X, d->in, d->W, d->b, y);
}

static void test_dense_backward(void **state)
{
    (void)state;
    struct jc_rng r;
    jc_rng_seed(&r, 2);
    struct dense_ctx d = {5, 7, 4, NULL, NULL, NULL};
    float X[35], W[28], b[4], Y[20], R[20], dW[28] = {0}, db[4] = {0}, dX[35] = {0};
    fill(&r, X, 35, 1);
    fill(&r, W, 28, 1);
    fill(&r, b, 4, 1);
    fill(&r, R, 20, 1);
    d.X = X;
    d.W = W;
    d.b = b;
    jc_nn_dense_backward(5, 7, 4, X, 7, W, R, dW, db, dX, 7);
    fd_check("dense dW", W, dW, 28, dense_fwd, &d, Y, R, 20, 1e-2f, 1e-3);
    fd_check("dense db", b, db, 4, dense_fwd, &d, Y, R, 20, 1e-2f, 1e-3);
    fd_check("dense dX", X, dX, 35, dense_fwd, &d, Y, R, 20, 1e-2f, 1e-3);
}

struct act_ctx {
    enum jc_nn_act a;
    size_t rows, cols;
    float *X, *alpha, *rm, *rv, *bm, *bv, *P, *g, *b, *xhat, *rstd;
};

static void act_fwd(void *c, float *y)
{
    struct act_ctx *a = c;
    size_t n = a->rows * a->cols;
    switch (a->a) {
    case JC_ACT_PRELU:
        jc_nn_prelu_forward(a->rows, a->cols, a->X, a->alpha, y);
        break;
    case JC_ACT_DICE:
        jc_nn_dice_forward(a->rows, a->cols, a->X, a->alpha, a->rm, a->rv, 1, a->bm, a->bv, a->P,
                           y);
        break;
    case JC_ACT_NONE: /* layer norm */
        jc_nn_layernorm_forward(a->rows, a->cols, a->X, a->g, a->b, a->xhat, a->rstd, y);
        break;
    default:
        jc_nn_act_forward(a->a, n, a->X, y);
        break;
    }
}

static void test_activation_backward(void **state)
{
    (void)state;
    struct jc_rng r;
    jc_rng_seed(&r, 3);
    enum { RW = 6, CL = 5, N = RW * CL };
    float X[N], Y[N], R[N], dX[N], alpha[CL], dalpha[CL],
        rm[CL] = {0}, rv[CL], bm[CL], bv[CL], P[N], g[CL], bb[CL], dg[CL], dbb[CL], xhat[N],
        rstd[RW];
    for (int c = 0; c < CL; c++)
        rv[c] = 1;
    enum jc_nn_act acts[] = {JC_ACT_RELU,  JC_ACT_SIGMOID, JC_ACT_TANH,
                             JC_ACT_PRELU, JC_ACT_DICE,    JC_ACT_NONE};
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        fill(&r, X, N, 1);
        for (int i = 0; i < N; i++) /* keep away from the ReLU kink */
            if (fabsf(X[i]) < 0.05f)
                X[i] = 0.3f;
        fill(&r, R, N, 1);
        fill(&r, alpha, CL, 0.3f);
        fill(&r, g, CL, 1);
        fill(&r, bb, CL, 1);
        memset(dalpha, 0, sizeof dalpha);
        memset(dg, 0, sizeof dg);
        memset(dbb, 0, sizeof dbb);
        struct act_ctx a = {acts[k], RW, CL, X, alpha, rm, rv, bm, bv, P, g, bb, xhat, rstd};
        act_fwd(&a, Y);
        switch (acts[k]) {
        case JC_ACT_PRELU:
            jc_nn_prelu_backward(RW, CL, X, alpha, R, dX, dalpha);
            fd_check("prelu dalpha", alpha, dalpha, CL, act_fwd, &a, Y, R, N, 1e-3f, 1e-3);
            break;
        case JC_ACT_DICE:
            jc_nn_dice_backward(RW, CL, X, alpha, bv, P, R, dX, dalpha);
            fd_check("dice dalpha", alpha, dalpha, CL, act_fwd, &a, Y, R, N, 1e-3f, 1e-3);
            break;
        case JC_ACT_NONE:
            jc_nn_layernorm_backward(RW, CL, xhat, rstd, g, R, dX, dg, dbb);
            fd_check("ln dg", g, dg, CL, act_fwd, &a, Y, R, N, 1e-3f, 1e-3);
            fd_check("ln db", bb, dbb, CL, act_fwd, &a, Y, R, N, 1e-3f, 1e-3);
            break;
        default:
            jc_nn_act_backward(acts[k], N, Y, R, dX);
            break;
        }
        act_fwd(&a, Y);
        fd_check(jc_nn_act_name(acts[k]), X, dX, N, act_fwd, &a, Y, R, N, 1e-3f, 2e-3);
    }
}

static void test_losses(void **state)
{
    (void)state;
    /* BCE with logits: hand values */
    float z[3] = {0.0f, 2.0f, -1.0f}, y[3] = {1, 0, 1}, dz[3];
    double l = jc_nn_bce_logits(3, z, y, NULL, 0.5f, dz);
    double want = log(2.0) + (2.0 + log1p(exp(-2.0))) + log1p(exp(1.0));
    assert_double_near(l, want, 1e-9);
    assert_double_near(dz[0], 0.5 * (0.5 - 1), 1e-7);
    assert_double_near(dz[1], 0.5 * (1 / (1 + exp(-2.0))), 1e-7);
    /* extreme logits stay finite */
    float zb[2] = {100.0f, -100.0f}, yb[2] = {0, 1};
    assert_double_near(jc_nn_bce_logits(2, zb, yb, NULL, 1, NULL), 200.0, 1e-6);
    /* in-batch softmax: gradient against finite differences */
    struct jc_rng r;
    jc_rng_seed(&r, 4);
    float S[16], dS[16], q[4] = {1, 0, 1, 1};
    fill(&r, S, 16, 1);
    jc_nn_softmax_inbatch(4, S, q, NULL, 0.5f, 1.0f, dS);
    for (int i = 0; i < 16; i++) {
        float keep = S[i];
        float tmp[16];
        S[i] = keep + 1e-3f;
        double lp = jc_nn_softmax_inbatch(4, S, q, NULL, 0.5f, 1.0f, tmp);
        S[i] = keep - 1e-3f;
        double lm = jc_nn_softmax_inbatch(4, S, q, NULL, 0.5f, 1.0f, tmp);
        S[i] = keep;
        assert_true(close_to((lp - lm) / 2e-3, dS[i], 1e-3, 1e-2));
    }
    /* row 1 is not a query */
    for (int j = 0; j < 4; j++)
        assert_true(dS[4 + j] == 0.0f);
}

static void test_sparse_grad(void **state)
{
    (void)state;
    struct jc_sgrad a, b;
    assert_int_equal(jc_sgrad_init(&a, 2, 8), JC_OK);
    assert_int_equal(jc_sgrad_init(&b, 2, 8), JC_OK);
    float table[10 * 2];
    for (int i = 0; i < 20; i++)
        table[i] = (float)i;
    /* duplicate ids in one pooled field accumulate */
    uint32_t ids[4] = {3, 0, 3, 5};
    float out[2];
    assert_int_equal(jc_nn_embed_pool(table, 2, ids, 4, out), 3);
    assert_true(out[0] == (6.0f + 6.0f + 10.0f) / 3.0f);
    float dout[2] = {3.0f, 6.0f};
    assert_int_equal(jc_nn_embed_pool_backward(&a, ids, 4, dout), JC_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.rows[0], 3);
    assert_true(a.g[0] == 2.0f && a.g[1] == 4.0f); /* 2 x (dout / 3) */
    assert_int_equal(a.rows[1], 5);
    assert_true(a.g[2] == 1.0f && a.g[3] == 2.0f);
    /* merge keeps first-touch order of dst, appends new rows in src order */
    uint32_t ids2[2] = {7, 3};
    assert_int_equal(jc_nn_embed_pool_backward(&b, ids2, 2, dout), JC_OK);
    assert_int_equal(jc_sgrad_merge(&a, &b), JC_OK);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.rows[2], 7);
    assert_true(a.g[0] == 3.5f);
    /* padding only: no rows */
    jc_sgrad_reset(&a);
    uint32_t pad[3] = {0, 0, 0};
    assert_int_equal(jc_nn_embed_pool(table, 2, pad, 3, out), 0);
    assert_true(out[0] == 0.0f && out[1] == 0.0f);
    assert_int_equal(jc_nn_embed_pool_backward(&a, pad, 3, dout), JC_OK);
    assert_int_equal(a.n, 0);
    /* capacity: a full accumulator refuses new rows */
    for (uint32_t i = 1; i <= 8; i++)
        assert_non_null(jc_sgrad_row(&a, i * 1000));
    assert_null(jc_sgrad_row(&a, 99));
    assert_non_null(jc_sgrad_row(&a, 1000)); /* existing rows still work */
    jc_sgrad_free(&a);
    jc_sgrad_free(&b);
}

static void test_optimizers_hand_values(void **state)
{
    (void)state;
    struct jc_optim_config c;
    /* SGD */
    jc_optim_config_default(&c, JC_OPTIM_SGD);
    c.lr = 0.1f;
    float w[2] = {1.0f, -2.0f}, g[2] = {0.5f, -1.0f};
    jc_optim_step(&c, 2, w, g, NULL, NULL, 1);
    assert_true(w[0] == 1.0f - 0.05f && w[1] == -2.0f + 0.1f);
    /* Adagrad: s = g^2, w -= lr g / (sqrt(s) + eps) */
    jc_optim_config_default(&c, JC_OPTIM_ADAGRAD);
    c.lr = 0.1f;
    float wa[1] = {1.0f}, ga[1] = {2.0f}, sa[1] = {0.0f};
    jc_optim_step(&c, 1, wa, ga, sa, NULL, 1);
    assert_double_near(sa[0], 4.0, 1e-7);
    assert_double_near(wa[0], 1.0 - 0.1 * 2.0 / 2.0, 1e-6);
    jc_optim_step(&c, 1, wa, ga, sa, NULL, 2);
    assert_double_near(wa[0], 0.9 - 0.1 * 2.0 / sqrt(8.0), 1e-6);
    /* Adam: step 1 moves by ~lr * sign(g); step 2 by PyTorch's formula */
    jc_optim_config_default(&c, JC_OPTIM_ADAM);
    c.lr = 0.01f;
    float wm[1] = {0.5f}, gm[1] = {0.2f}, m[1] = {0}, v[1] = {0};
    jc_optim_step(&c, 1, wm, gm, m, v, 1);
    assert_double_near(wm[0], 0.5 - 0.01, 1e-6);
    float g2[1] = {-0.1f};
    jc_optim_step(&c, 1, wm, g2, m, v, 2);
    double m2 = 0.9 * 0.02 + 0.1 * -0.1, v2 = 0.999 * 0.00004 + 0.001 * 0.01;
    double mh = m2 / (1 - 0.81), vh = v2 / (1 - 0.999 * 0.999);
    assert_double_near(wm[0], 0.49 - 0.01 * mh / (sqrt(vh) + 1e-8), 1e-6);
    /* FTRL-proximal: hand computation (alpha 0.1, beta 1, l1 0.01, l2 0.1) */
    jc_optim_config_default(&c, JC_OPTIM_FTRL);
    c.lr = 0.1f;
    c.ftrl_l1 = 0.01f;
    c.ftrl_l2 = 0.1f;
    float wf[1] = {0.0f}, gf[1] = {0.5f}, z[1] = {0}, nn[1] = {0};
    jc_optim_step(&c, 1, wf, gf, z, nn, 1);
    /* n = 0.25, sigma = 0.5/0.1 = 5, z = 0.5 - 5*0 = 0.5,
     * w = -(0.5 - 0.01) / ((1 + 0.5)/0.1 + 0.1) = -0.49 / 15.1 */
    assert_double_near(nn[0], 0.25, 1e-7);
    assert_double_near(z[0], 0.5, 1e-7);
    assert_double_near(wf[0], -0.49 / 15.1, 1e-6);
    float gz[1] = {-0.5f};
    jc_optim_step(&c, 1, wf, gz, z, nn, 2);
    /* n = 0.5, sigma = (sqrt(.5) - .5)/.1, z = 0.5 - 0.5 - sigma * w */
    double sig = (sqrt(0.5) - 0.5) / 0.1, z2 = 0.0 - sig * (-0.49 / 15.1);
    assert_double_near(z[0], z2, 1e-6);
    double w2 = fabs(z2) <= 0.01 ? 0.0 : -(z2 - 0.01) / ((1 + sqrt(0.5)) / 0.1 + 0.1);
    assert_double_near(wf[0], w2, 1e-6);
    /* L1 zeroes a small weight */
    c.ftrl_l1 = 10.0f;
    float w3[1] = {1}, z3[1] = {0}, n3[1] = {0}, g3[1] = {0.3f};
    jc_optim_step(&c, 1, w3, g3, z3, n3, 1);
    assert_true(w3[0] == 0.0f);
    /* names */
    enum jc_optim_kind k;
    assert_int_equal(jc_optim_parse("adam", &k), 0);
    assert_int_equal(k, JC_OPTIM_ADAM);
    assert_int_equal(jc_optim_parse("rmsprop", &k), -1);
}

static void test_init_seeded(void **state)
{
    (void)state;
    struct jc_rng r1, r2;
    jc_rng_seed(&r1, 9);
    jc_rng_seed(&r2, 9);
    float a[600], b[600];
    jc_nn_init(JC_INIT_XAVIER, 0, &r1, 20, 30, a);
    jc_nn_init(JC_INIT_XAVIER, 0, &r2, 20, 30, b);
    assert_memory_equal(a, b, sizeof a);
    float lim = sqrtf(6.0f / 50.0f), mx = 0;
    for (int i = 0; i < 600; i++)
        mx = fabsf(a[i]) > mx ? fabsf(a[i]) : mx;
    assert_true(mx <= lim && mx > 0.8f * lim);
    jc_nn_init(JC_INIT_HE, 0, &r1, 200, 3, a);
    double ss = 0;
    for (int i = 0; i < 600; i++)
        ss += (double)a[i] * a[i];
    assert_double_near(ss / 600, 2.0 / 200, 0.002); /* variance 2/fan_in */
}

static void test_dropout(void **state)
{
    (void)state;
    struct jc_rng r;
    jc_rng_seed(&r, 5);
    float x[10000], y[10000], mask[10000];
    for (int i = 0; i < 10000; i++)
        x[i] = 1.0f;
    jc_nn_dropout_forward(10000, 0.25f, &r, x, mask, y);
    int zeros = 0;
    for (int i = 0; i < 10000; i++) {
        zeros += y[i] == 0.0f;
        assert_true(y[i] == 0.0f || fabsf(y[i] - 1.0f / 0.75f) < 1e-6f);
    }
    assert_true(zeros > 2300 && zeros < 2700);
}

static void test_kernels(void **state)
{
    (void)state;
    float x[37], y[37];
    for (int i = 0; i < 37; i++) {
        x[i] = (float)i;
        y[i] = 1.0f;
    }
    assert_true(jc_nn_dot(37, x, y) == 666.0f);
    jc_nn_axpy(37, 2.0f, x, y);
    assert_true(y[36] == 73.0f);
    float Y[6] = {0}, b[3] = {1, 2, 3}, db[3] = {0};
    jc_nn_add_row(2, 3, b, Y);
    jc_nn_colsum(2, 3, Y, db);
    assert_true(db[0] == 2 && db[1] == 4 && db[2] == 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_matches_reference),
        cmocka_unit_test(test_dense_backward),
        cmocka_unit_test(test_activation_backward),
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_sparse_grad),
        cmocka_unit_test(test_optimizers_hand_values),
        cmocka_unit_test(test_init_seeded),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
