/*
 * alloc.h - the one allocation wrapper of the code base.
 *
 * Every heap allocation in libjunco goes through these functions. They add:
 *   - accounting: bytes currently allocated and the peak (jc_alloc_stats);
 *   - overflow-checked array sizes (jc_malloc_array and friends);
 *   - fault injection for tests (jc_alloc_fail_after);
 *   - a detailed JC_ENOMEM message on failure.
 * Memory from jc_malloc/jc_calloc/jc_realloc/jc_strdup is released with
 * jc_free; memory from jc_malloc_aligned with jc_free_aligned. jc_free(NULL)
 * is a no-op. Thread-safe (counters are atomics).
 */
#ifndef JC_ALLOC_H
#define JC_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *jc_malloc(size_t size);
void *jc_calloc(size_t n, size_t size);
void *jc_realloc(void *ptr, size_t size);
void jc_free(void *ptr);

/* n * size with overflow check; NULL + JC_ENOMEM message on overflow. */
void *jc_malloc_array(size_t n, size_t size);
void *jc_realloc_array(void *ptr, size_t n, size_t size);

/* Copies of strings; the result is NUL-terminated and owned by the caller. */
char *jc_strdup(const char *s);
char *jc_strndup(const char *s, size_t n);

/* Zeroed memory aligned to `align` (a power of two >= 16), e.g. 64 for SIMD. */
void *jc_malloc_aligned(size_t align, size_t size);
void jc_free_aligned(void *ptr);

/* Checked size arithmetic: return 0 on success, -1 on overflow. */
static inline int jc_size_mul(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int jc_size_add(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

struct jc_alloc_stats {
    int64_t bytes_in_use; /* currently allocated through this module */
    int64_t bytes_peak;   /* high-water mark since start or last reset */
    int64_t n_allocs;     /* successful allocations since start */
};

void jc_alloc_get_stats(struct jc_alloc_stats *out);
void jc_alloc_reset_peak(void);

/*
 * Fault injection (tests only): the n-th allocation from now fails (n = 1 fails
 * the next one); n = 0 disables injection. Applies to all threads.
 */
void jc_alloc_fail_after(long n);

#endif
