/*
 * junco/rankmetrics.h - top-N ranking metrics of one ranked list, and the
 * beyond-accuracy measures of a set of lists.
 *
 * These are the pure definitions that the evaluator (junco/eval.h) applies
 * to every user; they are public so that any module (serving, re-ranking,
 * benchmarks) measures exactly the same way. Definitions, for a ranked list
 * L (best first), the user's relevant set R (|R| > 0) and a cut-off K; the
 * list may be shorter than K, missing positions count as misses:
 *
 *   hits@K      = |L[0..K) ∩ R|
 *   Precision@K = hits@K / K                       (always divided by K)
 *   Recall@K    = hits@K / |R|
 *   Hit@K       = 1 if hits@K > 0 else 0           (HR@K)
 *   MRR@K       = 1 / (rank of the first hit), 0 without a hit (rank 1-based)
 *   NDCG@K      = DCG / IDCG, DCG = sum over hit positions i (0-based) of
 *                 1 / log2(i + 2), IDCG = sum_{i < min(|R|, K)} 1 / log2(i + 2)
 *   MAP@K       = AP@K averaged over users, AP@K = (1 / min(|R|, K)) *
 *                 sum over hit positions i < K of Precision@(i + 1)
 *
 * Beyond accuracy, over the top-K lists of all evaluated users:
 *   Coverage@K  = distinct items recommended / items in the catalogue
 *   Gini@K      = Gini index of how often each catalogue item is
 *                 recommended (items never recommended count as 0):
 *                 sum_i (2i - n - 1) c_(i) / (n sum c), c ascending, i 1-based
 *                 (0 = every item equally often, -> 1 = a few items only)
 *   Novelty@K   = mean over users and list items of the self-information
 *                 -log2(p_i), p_i = share of training users who interacted
 *                 with item i (items with no training user count as one user)
 *   ILD@K       = mean over users of the mean pairwise distance within the
 *                 list: 1 - Jaccard of genre sets (two empty sets: distance
 *                 0) or 1 - cosine of embeddings (a zero vector: cosine 0);
 *                 lists with fewer than 2 items are skipped.
 *
 * All functions are pure and thread-safe; nothing allocates except
 * jc_rank_gini (a sorted copy).
 */
#ifndef JUNCO_RANKMETRICS_H
#define JUNCO_RANKMETRICS_H

#include <stddef.h>
#include <stdint.h>

struct jc_rank_metrics {
    double precision, recall, ndcg, map, mrr, hit;
};

/*
 * Metrics of one list at cut-off k. hit[i] != 0 iff the i-th ranked item is
 * relevant, for i < n_list (entries past k are ignored); n_rel = |R|.
 * With n_rel == 0 or k == 0 every metric is 0.
 */
void jc_rank_metrics_at(const uint8_t *hit, size_t n_list, size_t n_rel, size_t k,
                        struct jc_rank_metrics *out);

/* 1 / log2(i + 2), the discount of 0-based position i (table-backed for
 * i < 4096). */
double jc_rank_discount(size_t i);

/* Gini index of n non-negative counts (0 when n == 0 or all counts are 0).
 * Errors: JC_ENOMEM (it sorts a copy). */
int jc_rank_gini(const uint64_t *counts, size_t n, double *out);

/* Mean self-information of the n listed items: mean of self_info[list[i]]
 * (0 when n == 0). self_info has one entry per catalogue item. */
double jc_rank_novelty(const uint32_t *list, size_t n, const double *self_info);

/* Self-information table: out[i] = -log2(max(n_users_of_item[i], 1) / n_users)
 * for n_items items; n_users > 0. */
void jc_rank_self_info(const uint32_t *n_users_of_item, uint32_t n_items, uint32_t n_users,
                       double *out);

/* Intra-list diversity with genre sets given as 64-bit masks (bit g set iff
 * the item has genre g; catalogues with more than 64 genres fold genre g
 * into bit g % 64). 0 when n < 2. */
double jc_rank_ild_genres(const uint32_t *list, size_t n, const uint64_t *genre_mask);

/* Intra-list diversity with item embeddings (row-major, n_items x dim,
 * leading dimension dim). 0 when n < 2. */
double jc_rank_ild_cosine(const uint32_t *list, size_t n, const float *emb, size_t dim);

#endif
