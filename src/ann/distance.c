/*
 * distance.c - dot product and squared L2 kernels: scalar reference, AVX2+FMA
 * and AVX-512F, with run-time dispatch (see distance.h).
 *
 * The SIMD variants handle the remainder with one masked load (AVX-512) or
 * maskload (AVX2), so there is no scalar tail loop and no read past the end
 * of either vector.
 */
#include "ann/distance.h"

#include <junco/error.h>

#include <immintrin.h>

float jc_ann__dot_ref(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

float jc_ann__l2sq_ref(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

static float neg_dot_ref(const float *a, const float *b, size_t n)
{
    return -jc_ann__dot_ref(a, b, n);
}

/* The SIMD kernels keep ONE accumulator per vector and add the chunks in
 * index order, so the one-vector and the many-vector variants compute
 * bit-identical results (the many variants interleave two vectors, which
 * gives the CPU two independent FMA chains and loads each query chunk once
 * for both). */

/* ---- AVX2 + FMA ---------------------------------------------------------- */

#define T_AVX2 __attribute__((target("avx2,fma"), always_inline)) static inline

T_AVX2 float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    lo = _mm_add_ss(lo, sh);
    return _mm_cvtss_f32(lo);
}

T_AVX2 __m256i tail_mask256(size_t r)
{
    /* lanes [0, r) set, r in 1..7 */
    static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(m + 8 - r));
}

/* acc += term(q, x) over one chunk; L2 = 1: (q - x)^2, L2 = 0: q * x */
T_AVX2 __m256 step256(__m256 acc, __m256 q, __m256 x, int l2)
{
    if (l2) {
        __m256 d = _mm256_sub_ps(q, x);
        return _mm256_fmadd_ps(d, d, acc);
    }
    return _mm256_fmadd_ps(q, x, acc);
}

T_AVX2 float one_avx2(const float *a, const float *b, size_t n, int l2)
{
    __m256 s = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        s = step256(s, _mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), l2);
    if (i < n) {
        __m256i m = tail_mask256(n - i);
        s = step256(s, _mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), l2);
    }
    return hsum256(s);
}

T_AVX2 void many_avx2(const float *q, const uint8_t *base, size_t stride, const uint32_t *ids,
                      size_t cnt, size_t n, float *out, int l2, float sign)
{
    size_t j = 0;
    for (; j + 2 <= cnt; j += 2) {
        const float *x0 = (const float *)(base + (ids ? ids[j] : j) * stride);
        const float *x1 = (const float *)(base + (ids ? ids[j + 1] : j + 1) * stride);
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 qv = _mm256_loadu_ps(q + i);
            s0 = step256(s0, qv, _mm256_loadu_ps(x0 + i), l2);
            s1 = step256(s1, qv, _mm256_loadu_ps(x1 + i), l2);
        }
        if (i < n) {
            __m256i m = tail_mask256(n - i);
            __m256 qv = _mm256_maskload_ps(q + i, m);
            s0 = step256(s0, qv, _mm256_maskload_ps(x0 + i, m), l2);
            s1 = step256(s1, qv, _mm256_maskload_ps(x1 + i, m), l2);
        }
        out[j] = sign * hsum256(s0);
        out[j + 1] = sign * hsum256(s1);
    }
    if (j < cnt)
        out[j] = sign * one_avx2(q, (const float *)(base + (ids ? ids[j] : j) * stride), n, l2);
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, size_t n)
{
    return one_avx2(a, b, n, 0);
}

__attribute__((target("avx2,fma"))) static float neg_dot_avx2(const float *a, const float *b,
                                                              size_t n)
{
    return -one_avx2(a, b, n, 0);
}

__attribute__((target("avx2,fma"))) static float l2sq_avx2(const float *a, const float *b, size_t n)
{
    return one_avx2(a, b, n, 1);
}

__attribute__((target("avx2,fma"))) static void
neg_dot_many_avx2(const float *q, const uint8_t *base, size_t stride, const uint32_t *ids,
                  size_t cnt, size_t n, float *out)
{
    many_avx2(q, base, stride, ids, cnt, n, out, 0, -1.0f);
}

__attribute__((target("avx2,fma"))) static void l2sq_many_avx2(const float *q, const uint8_t *base,
                                                               size_t stride, const uint32_t *ids,
                                                               size_t cnt, size_t n, float *out)
{
    many_avx2(q, base, stride, ids, cnt, n, out, 1, 1.0f);
}

/* ---- AVX-512F ------------------------------------------------------------ */

#define T_AVX512 __attribute__((target("avx512f"), always_inline)) static inline

T_AVX512 __m512 step512(__m512 acc, __m512 q, __m512 x, int l2)
{
    if (l2) {
        __m512 d = _mm512_sub_ps(q, x);
        return _mm512_fmadd_ps(d, d, acc);
    }
    return _mm512_fmadd_ps(q, x, acc);
}

/* Horizontal sums with one fixed tree, lane i + lane i+8, then i + i+4,
 * i + i+2, i + i+1 (not _mm512_reduce_add_ps, whose order differs between
 * gcc and clang). reduce4 sums four accumulators with the same tree, two
 * and four at a time per instruction, so its results equal reduce1's. */
T_AVX512 float reduce1_512(__m512 a)
{
    __m512 x = _mm512_add_ps(a, _mm512_shuffle_f32x4(a, a, 0xEE));
    __m512 y = _mm512_add_ps(x, _mm512_shuffle_f32x4(x, x, 0x01));
    __m512 z = _mm512_add_ps(y, _mm512_permute_ps(y, 0x4E));
    __m512 w = _mm512_add_ps(z, _mm512_permute_ps(z, 0xB1));
    return _mm512_cvtss_f32(w);
}

T_AVX512 __m128 reduce4_512(__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
    __m512 u =
        _mm512_add_ps(_mm512_shuffle_f32x4(a0, a1, 0x44), _mm512_shuffle_f32x4(a0, a1, 0xEE));
    __m512 v =
        _mm512_add_ps(_mm512_shuffle_f32x4(a2, a3, 0x44), _mm512_shuffle_f32x4(a2, a3, 0xEE));
    __m512 w = _mm512_add_ps(_mm512_shuffle_f32x4(u, v, 0x88), _mm512_shuffle_f32x4(u, v, 0xDD));
    w = _mm512_add_ps(w, _mm512_permute_ps(w, 0x4E));
    w = _mm512_add_ps(w, _mm512_permute_ps(w, 0xB1));
    const __m512i idx = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0);
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, w));
}

T_AVX512 float one_avx512(const float *a, const float *b, size_t n, int l2)
{
    __m512 s = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        s = step512(s, _mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), l2);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        s = step512(s, _mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), l2);
    }
    return reduce1_512(s);
}

T_AVX512 void many_avx512(const float *q, const uint8_t *base, size_t stride, const uint32_t *ids,
                          size_t cnt, size_t n, float *out, int l2, float sign)
{
    size_t j = 0;
    const __m128 sg = _mm_set1_ps(sign);
    for (; j + 4 <= cnt; j += 4) {
        const float *x0 = (const float *)(base + (ids ? ids[j] : j) * stride);
        const float *x1 = (const float *)(base + (ids ? ids[j + 1] : j + 1) * stride);
        const float *x2 = (const float *)(base + (ids ? ids[j + 2] : j + 2) * stride);
        const float *x3 = (const float *)(base + (ids ? ids[j + 3] : j + 3) * stride);
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            __m512 qv = _mm512_loadu_ps(q + i);
            s0 = step512(s0, qv, _mm512_loadu_ps(x0 + i), l2);
            s1 = step512(s1, qv, _mm512_loadu_ps(x1 + i), l2);
            s2 = step512(s2, qv, _mm512_loadu_ps(x2 + i), l2);
            s3 = step512(s3, qv, _mm512_loadu_ps(x3 + i), l2);
        }
        if (i < n) {
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
            __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
            s0 = step512(s0, qv, _mm512_maskz_loadu_ps(m, x0 + i), l2);
            s1 = step512(s1, qv, _mm512_maskz_loadu_ps(m, x1 + i), l2);
            s2 = step512(s2, qv, _mm512_maskz_loadu_ps(m, x2 + i), l2);
            s3 = step512(s3, qv, _mm512_maskz_loadu_ps(m, x3 + i), l2);
        }
        _mm_storeu_ps(out + j, _mm_mul_ps(sg, reduce4_512(s0, s1, s2, s3)));
    }
    for (; j < cnt; j++)
        out[j] = sign * one_avx512(q, (const float *)(base + (ids ? ids[j] : j) * stride), n, l2);
}

__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b, size_t n)
{
    return one_avx512(a, b, n, 0);
}

__attribute__((target("avx512f"))) static float neg_dot_avx512(const float *a, const float *b,
                                                               size_t n)
{
    return -one_avx512(a, b, n, 0);
}

__attribute__((target("avx512f"))) static float l2sq_avx512(const float *a, const float *b,
                                                            size_t n)
{
    return one_avx512(a, b, n, 1);
}

__attribute__((target("avx512f"))) static void
neg_dot_many_avx512(const float *q, const uint8_t *base, size_t stride, const uint32_t *ids,
                    size_t cnt, size_t n, float *out)
{
    many_avx512(q, base, stride, ids, cnt, n, out, 0, -1.0f);
}

__attribute__((target("avx512f"))) static void l2sq_many_avx512(const float *q, const uint8_t *base,
                                                                size_t stride, const uint32_t *ids,
                                                                size_t cnt, size_t n, float *out)
{
    many_avx512(q, base, stride, ids, cnt, n, out, 1, 1.0f);
}

/* ---- scalar many ---------------------------------------------------------- */

static void neg_dot_many_ref(const float *q, const uint8_t *base, size_t stride,
                             const uint32_t *ids, size_t cnt, size_t n, float *out)
{
    for (size_t j = 0; j < cnt; j++)
        out[j] = -jc_ann__dot_ref(q, (const float *)(base + (ids ? ids[j] : j) * stride), n);
}

static void l2sq_many_ref(const float *q, const uint8_t *base, size_t stride, const uint32_t *ids,
                          size_t cnt, size_t n, float *out)
{
    for (size_t j = 0; j < cnt; j++)
        out[j] = jc_ann__l2sq_ref(q, (const float *)(base + (ids ? ids[j] : j) * stride), n);
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct jc_ann__kernels k_scalar = {
    JC_ANN_ISA_SCALAR, "scalar",         jc_ann__dot_ref, neg_dot_ref,
    jc_ann__l2sq_ref,  neg_dot_many_ref, l2sq_many_ref};
static const struct jc_ann__kernels k_avx2 = {
    JC_ANN_ISA_AVX2, "avx2", dot_avx2, neg_dot_avx2, l2sq_avx2, neg_dot_many_avx2, l2sq_many_avx2};
static const struct jc_ann__kernels k_avx512 = {JC_ANN_ISA_AVX512, "avx512",    dot_avx512,
                                                neg_dot_avx512,    l2sq_avx512, neg_dot_many_avx512,
                                                l2sq_many_avx512};

static int forced_isa = JC_ANN_ISA_AUTO;

static int cpu_has(int isa)
{
    __builtin_cpu_init();
    switch (isa) {
    case JC_ANN_ISA_SCALAR:
        return 1;
    case JC_ANN_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case JC_ANN_ISA_AVX512:
        return __builtin_cpu_supports("avx512f");
    default:
        return 0;
    }
}

const struct jc_ann__kernels *jc_ann__kernels_for(int isa)
{
    if (isa == JC_ANN_ISA_AUTO) {
        if (cpu_has(JC_ANN_ISA_AVX512))
            return &k_avx512;
        if (cpu_has(JC_ANN_ISA_AVX2))
            return &k_avx2;
        return &k_scalar;
    }
    if (!cpu_has(isa))
        return NULL;
    switch (isa) {
    case JC_ANN_ISA_SCALAR:
        return &k_scalar;
    case JC_ANN_ISA_AVX2:
        return &k_avx2;
    default:
        return &k_avx512;
    }
}

const struct jc_ann__kernels *jc_ann__kernels(void)
{
    const struct jc_ann__kernels *k = jc_ann__kernels_for(forced_isa);
    return k ? k : &k_scalar;
}

int jc_ann__set_isa(int isa)
{
    if (isa != JC_ANN_ISA_AUTO && jc_ann__kernels_for(isa) == NULL)
        return jc_err_set(JC_EUNSUPPORTED, "ann: this CPU does not support kernel set %d", isa);
    forced_isa = isa;
    return JC_OK;
}
