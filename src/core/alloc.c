/*
 * alloc.c - accounting, overflow checks and fault injection around malloc.
 *
 * Each block carries a 16-byte header holding its size so that jc_free can
 * keep the byte counters exact; the header keeps the user pointer 16-byte
 * aligned, which is what malloc guarantees on x86-64.
 */
#include "alloc.h"

#include <junco/error.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HDR       16
#define HDR_MAGIC 0x4a43414cu /* "JCAL" */

struct hdr {
    size_t size;
    uint32_t magic;
    uint32_t align; /* 0 for plain blocks, else the alignment */
};

static atomic_llong in_use;
static atomic_llong peak;
static atomic_llong n_allocs;
static atomic_long fail_countdown;

static int inject_failure(void)
{
    long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1))
            return c == 1;
    }
    return 0;
}

static void account(long long delta)
{
    long long now = atomic_fetch_add_explicit(&in_use, delta, memory_order_relaxed) + delta;
    if (delta > 0) {
        long long p = atomic_load_explicit(&peak, memory_order_relaxed);
        while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
            ;
        atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    }
}

static void *oom(size_t size)
{
    jc_err_set(JC_ENOMEM, "out of memory allocating %zu bytes", size);
    return NULL;
}

void *jc_malloc(size_t size)
{
    size_t total;
    if (jc_size_add(size, HDR, &total) || inject_failure())
        return oom(size);
    struct hdr *h = malloc(total);
    if (h == NULL)
        return oom(size);
    h->size = size;
    h->magic = HDR_MAGIC;
    h->align = 0;
    account((long long)size);
    return (char *)h + HDR;
}

void *jc_calloc(size_t n, size_t size)
{
    size_t bytes, total;
    if (jc_size_mul(n, size, &bytes) || jc_size_add(bytes, HDR, &total) || inject_failure())
        return oom(bytes);
    struct hdr *h = calloc(1, total);
    if (h == NULL)
        return oom(bytes);
    h->size = bytes;
    h->magic = HDR_MAGIC;
    h->align = 0;
    account((long long)bytes);
    return (char *)h + HDR;
}

void *jc_realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return jc_malloc(size);
    struct hdr *h = (struct hdr *)((char *)ptr - HDR);
    size_t old = h->size, total;
    if (jc_size_add(size, HDR, &total) || inject_failure())
        return oom(size);
    struct hdr *nh = realloc(h, total);
    if (nh == NULL)
        return oom(size);
    nh->size = size;
    account((long long)size - (long long)old);
    return (char *)nh + HDR;
}

void jc_free(void *ptr)
{
    if (ptr == NULL)
        return;
    struct hdr *h = (struct hdr *)((char *)ptr - HDR);
    account(-(long long)h->size);
    h->magic = 0;
    free(h);
}

void *jc_malloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (jc_size_mul(n, size, &bytes))
        return oom((size_t)-1);
    return jc_malloc(bytes);
}

void *jc_realloc_array(void *ptr, size_t n, size_t size)
{
    size_t bytes;
    if (jc_size_mul(n, size, &bytes))
        return oom((size_t)-1);
    return jc_realloc(ptr, bytes);
}

char *jc_strndup(const char *s, size_t n)
{
    char *d = jc_malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *jc_strdup(const char *s)
{
    return jc_strndup(s, strlen(s));
}

void *jc_malloc_aligned(size_t align, size_t size)
{
    void *base;
    size_t total;
    if (align < HDR)
        align = HDR;
    if (jc_size_add(size, align, &total) || inject_failure())
        return oom(size);
    if (posix_memalign(&base, align, total) != 0)
        return oom(size);
    memset(base, 0, total);
    char *user = (char *)base + align;
    struct hdr *h = (struct hdr *)(user - HDR);
    h->size = size;
    h->magic = HDR_MAGIC;
    h->align = (uint32_t)align;
    account((long long)size);
    return user;
}

void jc_free_aligned(void *ptr)
{
    if (ptr == NULL)
        return;
    struct hdr *h = (struct hdr *)((char *)ptr - HDR);
    account(-(long long)h->size);
    free((char *)ptr - h->align);
}

void jc_alloc_get_stats(struct jc_alloc_stats *out)
{
    out->bytes_in_use = atomic_load(&in_use);
    out->bytes_peak = atomic_load(&peak);
    out->n_allocs = atomic_load(&n_allocs);
}

void jc_alloc_reset_peak(void)
{
    atomic_store(&peak, atomic_load(&in_use));
}

void jc_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n < 0 ? 0 : n);
}
