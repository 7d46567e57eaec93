/*
 * distance.h - the vector kernels of the ANN module (dot product, squared
 * L2) in three instruction-set variants chosen at run time.
 *
 * The build does not use -march=native, so the AVX2+FMA and AVX-512 variants
 * are separate functions compiled with __attribute__((target(...))) and
 * picked once with __builtin_cpu_supports. The scalar variant sums strictly
 * left to right in float; it is the reference the tests compare the SIMD
 * variants against (1e-5 relative) and, when forced, makes an exact index
 * bit-identical to a naive loop. Within one table, the many-vector kernels
 * return bit-identical values to the one-vector kernels. All kernels accept any n (SIMD tails are
 * masked) and unaligned pointers; a and b must not be NULL when n > 0.
 * Kernel tables are immutable; everything here is thread-safe.
 */
#ifndef JC_ANN_DISTANCE_H
#define JC_ANN_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

enum jc_ann__isa {
    JC_ANN_ISA_AUTO = -1, /* the best the CPU supports */
    JC_ANN_ISA_SCALAR = 0,
    JC_ANN_ISA_AVX2 = 1,   /* AVX2 + FMA */
    JC_ANN_ISA_AVX512 = 2, /* AVX-512F */
};

typedef float (*jc_ann__dist_fn)(const float *a, const float *b, size_t n);

/* Distances from q to cnt vectors at once: vector j is the n floats at
 * base + ids[j] * stride (base + j * stride when ids is NULL); out[j] gets
 * exactly what the one-vector kernel of the same table returns for it. */
typedef void (*jc_ann__many_fn)(const float *q, const uint8_t *base, size_t stride,
                                const uint32_t *ids, size_t cnt, size_t n, float *out);

struct jc_ann__kernels {
    int isa;
    const char *name;        /* "scalar", "avx2", "avx512" */
    jc_ann__dist_fn dot;     /* sum a[i] * b[i] */
    jc_ann__dist_fn neg_dot; /* -dot: the graph distance of IP and COSINE */
    jc_ann__dist_fn l2sq;    /* sum (a[i] - b[i])^2 */
    jc_ann__many_fn neg_dot_many;
    jc_ann__many_fn l2sq_many;
};

/* The kernels of `isa` (JC_ANN_ISA_AUTO: best supported), or NULL if this
 * CPU lacks the instructions. */
const struct jc_ann__kernels *jc_ann__kernels_for(int isa);

/* The kernels new indexes use: the best supported unless overridden with
 * jc_ann__set_isa. Indexes keep the table chosen when they were created or
 * loaded. */
const struct jc_ann__kernels *jc_ann__kernels(void);

/* Test/benchmark hook: new indexes use `isa` (JC_ANN_ISA_AUTO restores the
 * default). JC_EUNSUPPORTED if the CPU lacks it. Not thread-safe: call
 * before creating indexes. */
int jc_ann__set_isa(int isa);

/* Scalar references (always available). */
float jc_ann__dot_ref(const float *a, const float *b, size_t n);
float jc_ann__l2sq_ref(const float *a, const float *b, size_t n);

#endif
