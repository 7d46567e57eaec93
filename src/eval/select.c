/*
 * select.c - top-L selection for the evaluator.
 *
 * Design: every unmasked item becomes one 64-bit key whose integer order is
 * the ranking order: the float score mapped to an order-preserving uint32
 * (NaN as -infinity, -0 as +0) in the high half and the bitwise complement
 * of the item id in the low half, so a larger key means a higher score or,
 * on equal scores, a lower id. Keys are unique, so selection needs no tie
 * logic at all. Keys are built only for candidates: a sample of every 8th
 * score gives a threshold that very likely leaves slightly more than L
 * unmasked items at or above it; one pass (SSE2 compare masks over 16
 * scores at a time) collects the items above it and the first L unmasked
 * items equal to it (ties go to the
 * lower id, so later ties can never be needed: this keeps zero-heavy score
 * rows cheap), and masked (known) items are dropped by their mark. The
 * candidate set is always the top of the key order, so a target's rank is
 * the number of candidates above it (binary searches over the sorted
 * target keys, for the candidates above the lowest target); targets
 * outside it rank >= L. Only the best `sorted_len` keys are selected
 * (quickselect among the candidates above a second sampled threshold) and
 * sorted. If the
 * sample was unlucky (fewer than L candidates) every unmasked item gets a
 * key.
 */
#include "eval/eval_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Bit k set iff p[k] > thr (gt) / p[k] == thr (eq), for k < 16; NaN never. */
static inline void block_masks(const float *p, float thr, unsigned *gt, unsigned *eq)
{
#if defined(__SSE2__)
    __m128 t = _mm_set1_ps(thr);
    __m128 a = _mm_loadu_ps(p), b = _mm_loadu_ps(p + 4);
    __m128 c = _mm_loadu_ps(p + 8), d = _mm_loadu_ps(p + 12);
    *gt = (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(a, t)) |
          (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(b, t)) << 4 |
          (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(c, t)) << 8 |
          (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(d, t)) << 12;
    *eq = (unsigned)_mm_movemask_ps(_mm_cmpeq_ps(a, t)) |
          (unsigned)_mm_movemask_ps(_mm_cmpeq_ps(b, t)) << 4 |
          (unsigned)_mm_movemask_ps(_mm_cmpeq_ps(c, t)) << 8 |
          (unsigned)_mm_movemask_ps(_mm_cmpeq_ps(d, t)) << 12;
#else
    unsigned g = 0, e = 0;
    for (unsigned k = 0; k < 16; k++) {
        g |= (unsigned)(p[k] > thr) << k;
        e |= (unsigned)(p[k] == thr) << k;
    }
    *gt = g;
    *eq = e;
#endif
}

static void swap64(uint64_t *a, uint64_t *b)
{
    uint64_t t = *a;
    *a = *b;
    *b = t;
}

/* Rearranges a[0..n) so that a[0..k) are the k largest keys (k <= n). */
static void nth_largest(uint64_t *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    if (k == 0 || k >= n)
        return;
    while (hi - lo > 16) {
        size_t mid = lo + (hi - lo) / 2;
        /* median of three to a[hi - 1] as the pivot */
        if (a[mid] > a[lo])
            swap64(&a[mid], &a[lo]);
        if (a[hi - 1] > a[lo])
            swap64(&a[hi - 1], &a[lo]);
        if (a[mid] > a[hi - 1])
            swap64(&a[mid], &a[hi - 1]);
        uint64_t pivot = a[hi - 1];
        size_t p = lo;
        for (size_t i = lo; i < hi - 1; i++)
            if (a[i] > pivot)
                swap64(&a[i], &a[p++]);
        swap64(&a[p], &a[hi - 1]);
        /* a[lo..p) > pivot = a[p] > a(p..hi) */
        if (k <= p)
            hi = p;
        else if (k > p + 1)
            lo = p + 1;
        else
            return;
    }
    /* small range: insertion sort descending */
    for (size_t i = lo + 1; i < hi; i++) {
        uint64_t x = a[i];
        size_t j = i;
        while (j > lo && a[j - 1] < x) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

/* The r-th largest of a[0..n) (1 <= r <= n), reordering a. Three-way
 * partitions, so rows full of equal scores stay linear. */
static float kth_largest_f(float *a, size_t n, size_t r)
{
    size_t lo = 0, hi = n, k = r - 1;
    while (hi - lo > 1) {
        float pivot = a[lo + (hi - lo) / 2];
        /* [lo, gt) > pivot, [gt, i) == pivot, [lt, hi) < pivot */
        size_t gt = lo, i = lo, lt = hi;
        while (i < lt) {
            float x = a[i];
            if (x > pivot) {
                a[i] = a[gt];
                a[gt] = x;
                gt++;
                i++;
            } else if (x < pivot) {
                lt--;
                a[i] = a[lt];
                a[lt] = x;
            } else {
                i++;
            }
        }
        if (k < gt)
            hi = gt;
        else if (k >= lt)
            lo = lt;
        else
            return pivot;
    }
    return a[lo];
}

/* Descending order of (key, index) pairs by key. */
struct tkey {
    uint64_t key;
    uint32_t index;
};

static int cmp_tkey_desc(const void *a, const void *b)
{
    uint64_t x = ((const struct tkey *)a)->key, y = ((const struct tkey *)b)->key;
    return x > y ? -1 : x < y;
}

size_t jc_eval__select(const float *scores, uint32_t n, const uint32_t *known_mark, uint32_t stamp,
                       size_t n_known, size_t L, size_t sorted_len, const uint32_t *targets,
                       size_t n_targets, uint32_t *target_rank, uint64_t *keys, uint64_t *cand,
                       float *sample, void *target_scratch, const uint64_t **result)
{
    size_t m = n > n_known ? n - n_known : 0; /* rankable items */
    if (sorted_len > L)
        L = sorted_len;
    if (L > m)
        L = m;
    size_t na = 0;
    uint64_t top_floor = 0; /* keys below this cannot be among the best sorted_len */
    if (n >= 1024 && m > 4 * L && L > 0) {
        /* Threshold from every 8th score; known items may sit in the
         * sample, so the rank asked for includes their share. */
        size_t ns = n / 8;
        for (size_t k = 0; k < ns; k++) {
            float x = scores[k * 8];
            sample[k] = x != x ? -__builtin_inff() : x;
        }
        double want = (double)(L + n_known) / 8.0;
        size_t r = (size_t)(want + 4.0 * sqrt(want) + 8.0);
        if (r < ns) {
            float thr = kth_largest_f(sample, ns, r);
            /* a second, higher threshold for the sorted top (the sample's
             * first r entries are its r largest) */
            double want2 = (double)(sorted_len + n_known) / 8.0;
            size_t r2 = (size_t)(want2 + 4.0 * sqrt(want2) + 8.0);
            if (r2 < r)
                top_floor = jc_eval__key(kth_largest_f(sample, r, r2), UINT32_MAX);
            if (thr != -__builtin_inff()) {
                /* items strictly above the threshold, and the
                 * first L unmasked items equal to it (ties go to lower ids,
                 * and the scan is in id order, so later ties never matter) */
                size_t c = 0, n_tie = 0;
                uint32_t i = 0;
                /* 16 scores at a time: two compare masks, then only the
                 * set bits are visited */
                for (; i + 16 <= n; i += 16) {
                    unsigned gt, eq;
                    block_masks(scores + i, thr, &gt, &eq);
                    while (gt) {
                        cand[c++] = i + (uint32_t)__builtin_ctz(gt);
                        gt &= gt - 1;
                    }
                    while (eq && n_tie < L) {
                        uint32_t j = i + (uint32_t)__builtin_ctz(eq);
                        if (known_mark[j] != stamp)
                            keys[n_tie++] = j;
                        eq &= eq - 1;
                    }
                }
                for (; i < n; i++) {
                    float x = scores[i];
                    if (x > thr)
                        cand[c++] = i;
                    else if (x == thr && n_tie < L && known_mark[i] != stamp)
                        keys[n_tie++] = i;
                }
                for (size_t k = 0; k < n_tie; k++)
                    keys[k] = jc_eval__key(thr, (uint32_t)keys[k]);
                na = n_tie;
                for (size_t k = 0; k < c; k++) {
                    uint32_t j = (uint32_t)cand[k];
                    if (known_mark[j] != stamp)
                        keys[na++] = jc_eval__key(scores[j], j);
                }
                if (na < L)
                    na = 0; /* unlucky sample: rank everything below */
            }
        }
    }
    if (na == 0)
        for (uint32_t i = 0; i < n; i++)
            if (known_mark[i] != stamp)
                keys[na++] = jc_eval__key(scores[i], i);
    /* keys[0..na) are the top-na unmasked keys (na >= L), or all of them.
     * Ranks of the targets: a candidate beats the targets with a smaller
     * key; one binary search per candidate over the targets sorted by key
     * and a difference array give every target's rank in O(na log T). */
    struct tkey *tk = target_scratch;
    uint32_t *diff = (uint32_t *)(void *)(tk + n_targets);
    uint64_t min_key = UINT64_MAX;
    for (size_t k = 0; k < na; k++)
        min_key = keys[k] < min_key ? keys[k] : min_key;
    size_t nt = 0;
    uint64_t tk_min = UINT64_MAX;
    for (size_t j = 0; j < n_targets; j++) {
        target_rank[j] = UINT32_MAX;
        uint32_t t = targets[j];
        if (known_mark[t] == stamp)
            continue;
        uint64_t kt = jc_eval__key(scores[t], t);
        if (na == 0 || kt < min_key)
            continue; /* outside the candidates: rank >= na >= L */
        tk[nt].key = kt;
        tk[nt].index = (uint32_t)j;
        tk_min = kt < tk_min ? kt : tk_min;
        nt++;
    }
    if (nt) {
        qsort(tk, nt, sizeof *tk, cmp_tkey_desc);
        memset(diff, 0, (nt + 1) * sizeof *diff);
        for (size_t k = 0; k < na; k++) {
            if (keys[k] <= tk_min)
                continue; /* beats no target (the common case) */
            /* p = number of targets with a key >= keys[k] */
            size_t lo = 0, hi = nt;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (tk[mid].key >= keys[k])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            diff[lo]++;
        }
        uint32_t run = 0;
        for (size_t j = 0; j < nt; j++) {
            run += diff[j];
            target_rank[tk[j].index] = run;
        }
    }
    uint64_t *a = keys;
    size_t s = sorted_len < na ? sorted_len : na;
    if (top_floor) {
        /* the best s are above the second threshold when enough are */
        size_t c2 = 0;
        for (size_t k = 0; k < na; k++) {
            cand[c2] = keys[k];
            c2 += keys[k] >= top_floor;
        }
        if (c2 >= s) {
            a = cand;
            na = c2;
        }
    }
    nth_largest(a, na, s);
    if (s <= 64) { /* insertion sort, descending */
        for (size_t i = 1; i < s; i++) {
            uint64_t x = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1] < x) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = x;
        }
    } else {
        qsort(a, s, sizeof *a, cmp_desc);
    }
    *result = a;
    return s;
}
