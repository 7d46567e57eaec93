/*
 * rankmetrics.c - the definitions of junco/rankmetrics.h.
 *
 * One pass over the hit vector computes all six accuracy metrics at one
 * cut-off; the discount 1/log2(i+2) comes from a table built once (the
 * values are the same doubles log2 would give, so results do not depend on
 * the table). The evaluator keeps sums in double and averages in user order,
 * so results are independent of the number of threads.
 */
#include <junco/rankmetrics.h>

#include "core/alloc.h"
#include <junco/error.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DISCOUNT_TABLE 4096

static double discount_table[DISCOUNT_TABLE];
static pthread_once_t discount_once = PTHREAD_ONCE_INIT;

static void discount_init(void)
{
    for (size_t i = 0; i < DISCOUNT_TABLE; i++)
        discount_table[i] = 1.0 / log2((double)i + 2.0);
}

double jc_rank_discount(size_t i)
{
    if (i < DISCOUNT_TABLE) {
        pthread_once(&discount_once, discount_init);
        return discount_table[i];
    }
    return 1.0 / log2((double)i + 2.0);
}

void jc_rank_metrics_at(const uint8_t *hit, size_t n_list, size_t n_rel, size_t k,
                        struct jc_rank_metrics *out)
{
    memset(out, 0, sizeof *out);
    if (n_rel == 0 || k == 0)
        return;
    size_t n = n_list < k ? n_list : k;
    size_t hits = 0;
    double dcg = 0, ap = 0;
    for (size_t i = 0; i < n; i++) {
        if (!hit[i])
            continue;
        hits++;
        dcg += jc_rank_discount(i);
        ap += (double)hits / (double)(i + 1);
        if (hits == 1)
            out->mrr = 1.0 / (double)(i + 1);
    }
    size_t ideal = n_rel < k ? n_rel : k;
    double idcg = 0;
    for (size_t i = 0; i < ideal; i++)
        idcg += jc_rank_discount(i);
    out->precision = (double)hits / (double)k;
    out->recall = (double)hits / (double)n_rel;
    out->hit = hits > 0;
    out->ndcg = dcg / idcg;
    out->map = ap / (double)ideal;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int jc_rank_gini(const uint64_t *counts, size_t n, double *out)
{
    if (n == 0) {
        *out = 0;
        return JC_OK;
    }
    uint64_t *c = jc_malloc_array(n, sizeof *c);
    if (c == NULL)
        return JC_ENOMEM;
    memcpy(c, counts, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_u64);
    double num = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        num += (2.0 * (double)(i + 1) - (double)n - 1.0) * (double)c[i];
        sum += (double)c[i];
    }
    jc_free(c);
    *out = sum > 0 ? num / ((double)n * sum) : 0.0;
    return JC_OK;
}

double jc_rank_novelty(const uint32_t *list, size_t n, const double *self_info)
{
    if (n == 0)
        return 0;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += self_info[list[i]];
    return s / (double)n;
}

void jc_rank_self_info(const uint32_t *n_users_of_item, uint32_t n_items, uint32_t n_users,
                       double *out)
{
    for (uint32_t i = 0; i < n_items; i++) {
        uint32_t c = n_users_of_item[i] ? n_users_of_item[i] : 1;
        out[i] = -log2((double)c / (double)n_users);
    }
}

double jc_rank_ild_genres(const uint32_t *list, size_t n, const uint64_t *genre_mask)
{
    if (n < 2)
        return 0;
    double s = 0;
    for (size_t a = 0; a < n; a++) {
        uint64_t ga = genre_mask[list[a]];
        for (size_t b = a + 1; b < n; b++) {
            uint64_t gb = genre_mask[list[b]];
            int uni = __builtin_popcountll(ga | gb);
            double jac = uni ? (double)__builtin_popcountll(ga & gb) / (double)uni : 1.0;
            s += 1.0 - jac;
        }
    }
    return s / ((double)n * (double)(n - 1) / 2.0);
}

double jc_rank_ild_cosine(const uint32_t *list, size_t n, const float *emb, size_t dim)
{
    if (n < 2)
        return 0;
    double s = 0;
    for (size_t a = 0; a < n; a++) {
        const float *va = emb + (size_t)list[a] * dim;
        double na = 0;
        for (size_t d = 0; d < dim; d++)
            na += (double)va[d] * va[d];
        for (size_t b = a + 1; b < n; b++) {
            const float *vb = emb + (size_t)list[b] * dim;
            double nb = 0, dot = 0;
            for (size_t d = 0; d < dim; d++) {
                nb += (double)vb[d] * vb[d];
                dot += (double)va[d] * vb[d];
            }
            double cs = na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0.0;
            s += 1.0 - cs;
        }
    }
    return s / ((double)n * (double)(n - 1) / 2.0);
}
