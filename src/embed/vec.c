/*
 * vec.c - the embed module's vector kernels: dot, axpy, gemv and the SGNS
 * pair step, in three versions (AVX-512, AVX2+FMA, portable scalar) picked
 * once at run time with __builtin_cpu_supports.
 *
 * The SGNS step is the hot loop of item2vec/DeepWalk/node2vec. The AVX-512
 * version is specialised for strides of 16..128 floats (1..8 zmm blocks):
 * the context row and its gradient accumulator stay in registers for all
 * targets of the pair, and each target row is loaded once for the dot
 * product and reused from registers for both updates. Larger strides use a
 * loop over blocks with the accumulator in a stack buffer.
 *
 * The scalar kernels are the reference (tests check the others against
 * them). All versions compute the same formulas; results differ only by
 * float rounding (FMA contraction, summation order).
 */
#include "embed_int.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* ---- sigmoid table ------------------------------------------------------- */

#define SIG_RANGE 16.0f
#define SIG_STEPS 4096 /* intervals over [-16, 16]: h = 1/128 */
static float sig_table[SIG_STEPS + 2];
static pthread_once_t sig_once = PTHREAD_ONCE_INIT;

static void sig_init(void)
{
    for (int i = 0; i <= SIG_STEPS + 1; i++) {
        double x = -SIG_RANGE + (double)i * (2.0 * SIG_RANGE / SIG_STEPS);
        sig_table[i] = (float)(1.0 / (1.0 + exp(-x)));
    }
}

static inline float sigmoid_tab(float x)
{
    if (!(x > -SIG_RANGE)) /* also NaN -> 0 */
        return 0.0f;
    if (x >= SIG_RANGE)
        return 1.0f;
    float u = (x + SIG_RANGE) * (SIG_STEPS / (2.0f * SIG_RANGE));
    int i = (int)u;
    float f = u - (float)i;
    return sig_table[i] + f * (sig_table[i + 1] - sig_table[i]);
}

float jc_embed__sigmoid(float x)
{
    pthread_once(&sig_once, sig_init);
    return sigmoid_tab(x);
}

/* -log sigmoid(s * f), computed stably in double. */
static inline float pair_loss(float f, int label)
{
    double z = label ? (double)f : -(double)f;
    return (float)(z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z)));
}

/* ---- scalar reference ------------------------------------------------------ */

static float dot_scalar(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_scalar(float *y, float alpha, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static void axpby_scalar(float *y, float a, float b, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a * y[i] + b * x[i];
}

static void axpy4_scalar(float *y, const float *a, const float *x0, const float *x1,
                         const float *x2, const float *x3, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a[0] * x0[i] + a[1] * x1[i] + a[2] * x2[i] + a[3] * x3[i];
}

static void gemv_scalar(const float *m, size_t rows, size_t ld, const float *q, size_t n,
                        float *scores)
{
    for (size_t r = 0; r < rows; r++)
        scores[r] = dot_scalar(m + r * ld, q, n);
}

static float step_scalar(float *in, float *out, size_t stride, const uint32_t *tg, int nt,
                         float alpha, int want_loss)
{
    float neu1e[JC_EMB_MAX_DIM + 16];
    float loss = 0.0f;
    memset(neu1e, 0, stride * sizeof(float));
    for (int d = 0; d < nt; d++) {
        float *o = out + (size_t)tg[d] * stride;
        float f = dot_scalar(in, o, stride);
        float g = ((d == 0 ? 1.0f : 0.0f) - sigmoid_tab(f)) * alpha;
        if (want_loss)
            loss += pair_loss(f, d == 0);
        for (size_t i = 0; i < stride; i++) {
            neu1e[i] += g * o[i];
            o[i] += g * in[i];
        }
    }
    for (size_t i = 0; i < stride; i++)
        in[i] += neu1e[i];
    return loss;
}

static const struct jc_embed__kernels k_scalar = {
    "scalar", dot_scalar, axpy_scalar, axpby_scalar, axpy4_scalar, gemv_scalar, step_scalar,
};

/* ---- AVX2 + FMA -------------------------------------------------------------- */

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 s = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

AVX2 static void axpy_avx2(float *y, float alpha, const float *x, size_t n)
{
    __m256 a = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

AVX2 static void axpby_avx2(float *y, float a, float b, const float *x, size_t n)
{
    __m256 av = _mm256_set1_ps(a), bv = _mm256_set1_ps(b);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(y + i),
                                                _mm256_mul_ps(bv, _mm256_loadu_ps(x + i))));
    for (; i < n; i++)
        y[i] = a * y[i] + b * x[i];
}

AVX2 static void axpy4_avx2(float *y, const float *a, const float *x0, const float *x1,
                            const float *x2, const float *x3, size_t n)
{
    __m256 a0 = _mm256_set1_ps(a[0]), a1 = _mm256_set1_ps(a[1]);
    __m256 a2 = _mm256_set1_ps(a[2]), a3 = _mm256_set1_ps(a[3]);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(y + i);
        v = _mm256_fmadd_ps(a0, _mm256_loadu_ps(x0 + i), v);
        v = _mm256_fmadd_ps(a1, _mm256_loadu_ps(x1 + i), v);
        v = _mm256_fmadd_ps(a2, _mm256_loadu_ps(x2 + i), v);
        v = _mm256_fmadd_ps(a3, _mm256_loadu_ps(x3 + i), v);
        _mm256_storeu_ps(y + i, v);
    }
    for (; i < n; i++)
        y[i] += a[0] * x0[i] + a[1] * x1[i] + a[2] * x2[i] + a[3] * x3[i];
}

AVX2 static void gemv_avx2(const float *m, size_t rows, size_t ld, const float *q, size_t n,
                           float *scores)
{
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *m0 = m + r * ld, *m1 = m0 + ld, *m2 = m1 + ld, *m3 = m2 + ld;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 qv = _mm256_loadu_ps(q + i);
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(m0 + i), qv, s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(m1 + i), qv, s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(m2 + i), qv, s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(m3 + i), qv, s3);
        }
        float t0 = hsum256(s0), t1 = hsum256(s1), t2 = hsum256(s2), t3 = hsum256(s3);
        for (; i < n; i++) {
            t0 += m0[i] * q[i];
            t1 += m1[i] * q[i];
            t2 += m2[i] * q[i];
            t3 += m3[i] * q[i];
        }
        scores[r] = t0;
        scores[r + 1] = t1;
        scores[r + 2] = t2;
        scores[r + 3] = t3;
    }
    for (; r < rows; r++)
        scores[r] = dot_avx2(m + r * ld, q, n);
}

AVX2 static float step_avx2(float *in, float *out, size_t stride, const uint32_t *tg, int nt,
                            float alpha, int want_loss)
{
    float neu1e[JC_EMB_MAX_DIM + 16] __attribute__((aligned(64)));
    float loss = 0.0f;
    for (size_t i = 0; i < stride; i += 8)
        _mm256_store_ps(neu1e + i, _mm256_setzero_ps());
    for (int d = 0; d < nt; d++) {
        float *o = out + (size_t)tg[d] * stride;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        for (size_t i = 0; i < stride; i += 16) {
            s0 = _mm256_fmadd_ps(_mm256_load_ps(in + i), _mm256_load_ps(o + i), s0);
            s1 = _mm256_fmadd_ps(_mm256_load_ps(in + i + 8), _mm256_load_ps(o + i + 8), s1);
        }
        float f = hsum256(_mm256_add_ps(s0, s1));
        float g = ((d == 0 ? 1.0f : 0.0f) - sigmoid_tab(f)) * alpha;
        if (want_loss)
            loss += pair_loss(f, d == 0);
        __m256 gv = _mm256_set1_ps(g);
        for (size_t i = 0; i < stride; i += 8) {
            __m256 ov = _mm256_load_ps(o + i);
            _mm256_store_ps(neu1e + i, _mm256_fmadd_ps(gv, ov, _mm256_load_ps(neu1e + i)));
            _mm256_store_ps(o + i, _mm256_fmadd_ps(gv, _mm256_load_ps(in + i), ov));
        }
    }
    for (size_t i = 0; i < stride; i += 8)
        _mm256_store_ps(in + i, _mm256_add_ps(_mm256_load_ps(in + i), _mm256_load_ps(neu1e + i)));
    return loss;
}

static const struct jc_embed__kernels k_avx2 = {
    "avx2", dot_avx2, axpy_avx2, axpby_avx2, axpy4_avx2, gemv_avx2, step_avx2,
};

/* ---- AVX-512 ------------------------------------------------------------------ */

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

AVX512 static float dot_avx512(const float *a, const float *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512 static void axpy_avx512(float *y, float alpha, const float *x, size_t n)
{
    __m512 a = _mm512_set1_ps(alpha);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(a, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 yv = _mm512_maskz_loadu_ps(m, y + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m, x + i), yv));
    }
}

AVX512 static void axpby_avx512(float *y, float a, float b, const float *x, size_t n)
{
    __m512 av = _mm512_set1_ps(a), bv = _mm512_set1_ps(b);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(y + i),
                                                _mm512_mul_ps(bv, _mm512_loadu_ps(x + i))));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 yv = _mm512_maskz_loadu_ps(m, y + i);
        _mm512_mask_storeu_ps(
            y + i, m, _mm512_fmadd_ps(av, yv, _mm512_mul_ps(bv, _mm512_maskz_loadu_ps(m, x + i))));
    }
}

AVX512 static void axpy4_avx512(float *y, const float *a, const float *x0, const float *x1,
                                const float *x2, const float *x3, size_t n)
{
    __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[1]);
    __m512 a2 = _mm512_set1_ps(a[2]), a3 = _mm512_set1_ps(a[3]);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(y + i);
        v = _mm512_fmadd_ps(a0, _mm512_loadu_ps(x0 + i), v);
        v = _mm512_fmadd_ps(a1, _mm512_loadu_ps(x1 + i), v);
        v = _mm512_fmadd_ps(a2, _mm512_loadu_ps(x2 + i), v);
        v = _mm512_fmadd_ps(a3, _mm512_loadu_ps(x3 + i), v);
        _mm512_storeu_ps(y + i, v);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, y + i);
        v = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, x0 + i), v);
        v = _mm512_fmadd_ps(a1, _mm512_maskz_loadu_ps(m, x1 + i), v);
        v = _mm512_fmadd_ps(a2, _mm512_maskz_loadu_ps(m, x2 + i), v);
        v = _mm512_fmadd_ps(a3, _mm512_maskz_loadu_ps(m, x3 + i), v);
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

AVX512 static void gemv_avx512(const float *m, size_t rows, size_t ld, const float *q, size_t n,
                               float *scores)
{
    size_t r = 0;
    size_t nfull = n & ~(size_t)15;
    __mmask16 tail = (__mmask16)((1u << (n - nfull)) - 1);
    for (; r + 4 <= rows; r += 4) {
        const float *m0 = m + r * ld, *m1 = m0 + ld, *m2 = m1 + ld, *m3 = m2 + ld;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i < nfull; i += 16) {
            __m512 qv = _mm512_loadu_ps(q + i);
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(m0 + i), qv, s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(m1 + i), qv, s1);
            s2 = _mm512_fmadd_ps(_mm512_loadu_ps(m2 + i), qv, s2);
            s3 = _mm512_fmadd_ps(_mm512_loadu_ps(m3 + i), qv, s3);
        }
        if (tail) {
            __m512 qv = _mm512_maskz_loadu_ps(tail, q + i);
            s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, m0 + i), qv, s0);
            s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, m1 + i), qv, s1);
            s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, m2 + i), qv, s2);
            s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, m3 + i), qv, s3);
        }
        scores[r] = _mm512_reduce_add_ps(s0);
        scores[r + 1] = _mm512_reduce_add_ps(s1);
        scores[r + 2] = _mm512_reduce_add_ps(s2);
        scores[r + 3] = _mm512_reduce_add_ps(s3);
    }
    for (; r < rows; r++)
        scores[r] = dot_avx512(m + r * ld, q, n);
}

/* The register-resident step for NB blocks of 16 floats (stride = 16 * NB). */
#define DEF_STEP512(NB)                                                                 \
    AVX512 static float step512_##NB(float *in, float *out, const uint32_t *tg, int nt, \
                                     float alpha, int want_loss)                        \
    {                                                                                   \
        __m512 x[NB], e[NB];                                                            \
        float loss = 0.0f;                                                              \
        for (int b = 0; b < NB; b++) {                                                  \
            x[b] = _mm512_load_ps(in + 16 * b);                                         \
            e[b] = _mm512_setzero_ps();                                                 \
        }                                                                               \
        for (int d = 0; d < nt; d++) {                                                  \
            float *o = out + (size_t)tg[d] * (16 * NB);                                 \
            __m512 ov[NB];                                                              \
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                  \
            for (int b = 0; b < NB; b++) {                                              \
                ov[b] = _mm512_load_ps(o + 16 * b);                                     \
                if (b & 1)                                                              \
                    a1 = _mm512_fmadd_ps(x[b], ov[b], a1);                              \
                else                                                                    \
                    a0 = _mm512_fmadd_ps(x[b], ov[b], a0);                              \
            }                                                                           \
            float f = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));                      \
            float g = ((d == 0 ? 1.0f : 0.0f) - sigmoid_tab(f)) * alpha;                \
            if (want_loss)                                                              \
                loss += pair_loss(f, d == 0);                                           \
            __m512 gv = _mm512_set1_ps(g);                                              \
            for (int b = 0; b < NB; b++) {                                              \
                e[b] = _mm512_fmadd_ps(gv, ov[b], e[b]);                                \
                _mm512_store_ps(o + 16 * b, _mm512_fmadd_ps(gv, x[b], ov[b]));          \
            }                                                                           \
        }                                                                               \
        for (int b = 0; b < NB; b++)                                                    \
            _mm512_store_ps(in + 16 * b, _mm512_add_ps(x[b], e[b]));                    \
        return loss;                                                                    \
    }

DEF_STEP512(1)
DEF_STEP512(2)
DEF_STEP512(3)
DEF_STEP512(4)
DEF_STEP512(5)
DEF_STEP512(6)
DEF_STEP512(7)
DEF_STEP512(8)

AVX512 static float step512_any(float *in, float *out, size_t stride, const uint32_t *tg, int nt,
                                float alpha, int want_loss)
{
    float neu1e[JC_EMB_MAX_DIM + 16] __attribute__((aligned(64)));
    float loss = 0.0f;
    for (size_t i = 0; i < stride; i += 16)
        _mm512_store_ps(neu1e + i, _mm512_setzero_ps());
    for (int d = 0; d < nt; d++) {
        float *o = out + (size_t)tg[d] * stride;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 32 <= stride; i += 32) {
            a0 = _mm512_fmadd_ps(_mm512_load_ps(in + i), _mm512_load_ps(o + i), a0);
            a1 = _mm512_fmadd_ps(_mm512_load_ps(in + i + 16), _mm512_load_ps(o + i + 16), a1);
        }
        if (i < stride)
            a0 = _mm512_fmadd_ps(_mm512_load_ps(in + i), _mm512_load_ps(o + i), a0);
        float f = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        float g = ((d == 0 ? 1.0f : 0.0f) - sigmoid_tab(f)) * alpha;
        if (want_loss)
            loss += pair_loss(f, d == 0);
        __m512 gv = _mm512_set1_ps(g);
        for (i = 0; i < stride; i += 16) {
            __m512 ov = _mm512_load_ps(o + i);
            _mm512_store_ps(neu1e + i, _mm512_fmadd_ps(gv, ov, _mm512_load_ps(neu1e + i)));
            _mm512_store_ps(o + i, _mm512_fmadd_ps(gv, _mm512_load_ps(in + i), ov));
        }
    }
    for (size_t i = 0; i < stride; i += 16)
        _mm512_store_ps(in + i, _mm512_add_ps(_mm512_load_ps(in + i), _mm512_load_ps(neu1e + i)));
    return loss;
}

static float step_avx512(float *in, float *out, size_t stride, const uint32_t *tg, int nt,
                         float alpha, int want_loss)
{
    switch (stride) {
    case 16:
        return step512_1(in, out, tg, nt, alpha, want_loss);
    case 32:
        return step512_2(in, out, tg, nt, alpha, want_loss);
    case 48:
        return step512_3(in, out, tg, nt, alpha, want_loss);
    case 64:
        return step512_4(in, out, tg, nt, alpha, want_loss);
    case 80:
        return step512_5(in, out, tg, nt, alpha, want_loss);
    case 96:
        return step512_6(in, out, tg, nt, alpha, want_loss);
    case 112:
        return step512_7(in, out, tg, nt, alpha, want_loss);
    case 128:
        return step512_8(in, out, tg, nt, alpha, want_loss);
    default:
        return step512_any(in, out, stride, tg, nt, alpha, want_loss);
    }
}

static const struct jc_embed__kernels k_avx512 = {
    "avx512", dot_avx512, axpy_avx512, axpby_avx512, axpy4_avx512, gemv_avx512, step_avx512,
};

/* ---- dispatch ------------------------------------------------------------------- */

static const struct jc_embed__kernels *k_best;
static pthread_once_t k_once = PTHREAD_ONCE_INIT;

static void k_init(void)
{
    sig_init();
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        k_best = &k_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        k_best = &k_avx2;
    else
        k_best = &k_scalar;
}

const struct jc_embed__kernels *jc_embed__kernels(void)
{
    pthread_once(&k_once, k_init);
    return k_best;
}

const struct jc_embed__kernels *jc_embed__kernels_scalar(void)
{
    pthread_once(&k_once, k_init);
    return &k_scalar;
}

int jc_embed__kernels_all(const struct jc_embed__kernels **out, int cap)
{
    pthread_once(&k_once, k_init);
    int n = 0;
    if (n < cap)
        out[n++] = &k_scalar;
    if (k_best == &k_avx2 || k_best == &k_avx512) {
        if (n < cap)
            out[n++] = &k_avx2;
    }
    if (k_best == &k_avx512 && n < cap)
        out[n++] = &k_avx512;
    return n;
}
