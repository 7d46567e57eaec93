/*
 * nn_int.h - internals shared by the files of src/nn/: SIMD dispatch.
 *
 * Hot loops are compiled three times (AVX-512, AVX2+FMA, baseline x86-64)
 * with gcc/clang target_clones; the loader picks the best clone for the CPU
 * at run time (ifunc), so the binary needs no -march=native. (gcc only:
 * clang 14 emits clones without linkable resolvers in static libraries, so
 * clang builds such as the sanitizer build use the baseline code.) Loops are
 * written with independent accumulators so they vectorise without
 * -ffast-math, and their summation order is fixed (deterministic results for
 * a given clone).
 */
#ifndef JC_NN_INT_H
#define JC_NN_INT_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(JC_NN_NO_CLONES)
#define JC_NN_SIMD __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define JC_NN_SIMD
#endif

#endif
