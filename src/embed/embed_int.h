/*
 * embed_int.h - internals shared by the files of the embed module
 * (src/embed/): SIMD vector kernels with run-time dispatch, the alias
 * sampler, the SGNS pair step, the positives matrix, the transition graph,
 * matrix factorisation and the cold-item fill.
 *
 * Kernel layout conventions: a "row" is `n` contiguous floats; the SGNS
 * matrices use a padded stride (a multiple of 16 floats, 64-byte aligned
 * rows) so that the step kernels run without tails; padding lanes are zero
 * and stay zero. Kernels never alias their output with an input unless the
 * comment says so.
 */
#ifndef JC_EMBED_INT_H
#define JC_EMBED_INT_H

#include "core/rng.h"
#include <junco/catalog.h>
#include <junco/embed.h>

#include <stddef.h>
#include <stdint.h>

/* ---- vector kernels (vec.c) ---------------------------------------------- */

struct jc_embed__kernels {
    const char *name; /* "avx512", "avx2", "scalar" */
    /* sum a[i] * b[i], i < n */
    float (*dot)(const float *a, const float *b, size_t n);
    /* y[i] += alpha * x[i]; y and x must not overlap */
    void (*axpy)(float *y, float alpha, const float *x, size_t n);
    /* y[i] = a * y[i] + b * x[i]; y and x must not overlap */
    void (*axpby)(float *y, float a, float b, const float *x, size_t n);
    /* y[i] += a[0] x0[i] + a[1] x1[i] + a[2] x2[i] + a[3] x3[i] (one pass over y);
     * y must not overlap the x's (the x's may alias each other) */
    void (*axpy4)(float *y, const float *a, const float *x0, const float *x1, const float *x2,
                  const float *x3, size_t n);
    /* scores[r] = dot(q, m + r * ld) for r < rows (m row-major, leading dim
     * ld >= n); scores must not overlap m or q */
    void (*gemv)(const float *m, size_t rows, size_t ld, const float *q, size_t n, float *scores);
    /*
     * One SGNS update for a (context, target) pair, as word2vec does it:
     * in = syn0 row of the context (stride floats, 64-byte aligned, stride
     * a multiple of 16); out = syn1neg base; tg[0] is the positive target
     * and tg[1..nt) the negatives (label 0). For each target t in order:
     * f = in . out[t]; g = (label - sigmoid(f)) * alpha; neu1e += g * out[t];
     * out[t] += g * in. Finally in += neu1e. Returns the pair's SGNS loss
     * (-log sigmoid(f_pos) - sum log sigmoid(-f_neg)) when want_loss, else 0.
     */
    float (*sgns_step)(float *in, float *out, size_t stride, const uint32_t *tg, int nt,
                       float alpha, int want_loss);
};

/* The best kernels for this CPU (chosen once; thread-safe). */
const struct jc_embed__kernels *jc_embed__kernels(void);
/* Portable reference kernels (tests compare the others against them). */
const struct jc_embed__kernels *jc_embed__kernels_scalar(void);
/* Every kernel set this CPU can run, for tests: returns the count. */
int jc_embed__kernels_all(const struct jc_embed__kernels **out, int cap);

/* The sigmoid used by SGNS: a 4096-interval table with linear interpolation
 * on [-16, 16] (abs. error < 1e-6), saturating outside. */
float jc_embed__sigmoid(float x);

/* ---- alias sampling (alias.c) ---------------------------------------------- */

/* Walker's alias method over n outcomes: O(1) draws from one 64-bit random
 * number. thr[i] is the 32-bit acceptance threshold of column i. */
struct jc_alias {
    uint32_t n;
    uint32_t *thr;   /* owned */
    uint32_t *alias; /* owned */
};

/* Builds from non-negative weights (at least one positive). */
int jc_alias_build(struct jc_alias *a, const double *w, uint32_t n);
void jc_alias_free(struct jc_alias *a);
/* Builds into caller arrays thr/alias of length n; scratch: work (2 * n)
 * and prob (n). Weights must be non-negative (checked by the caller). */
void jc_alias__fill(const double *w, uint32_t n, uint32_t *thr, uint32_t *alias, uint32_t *work,
                    double *prob);

static inline uint32_t jc_alias_draw(const uint32_t *thr, const uint32_t *alias, uint32_t n,
                                     uint64_t r)
{
    uint32_t col = (uint32_t)(((r >> 32) * (uint64_t)n) >> 32);
    return (uint32_t)r < thr[col] ? col : alias[col];
}

/* ---- positives matrix (seq.c) ----------------------------------------------- */

/* User x item positives (train events only when a split is given), both
 * directions in CSR form with sorted, de-duplicated columns. */
struct jc_embed__matrix {
    uint32_t n_users, n_items;
    uint64_t nnz;
    uint64_t *u_off; /* n_users + 1 */
    uint32_t *u_items;
    uint64_t *i_off; /* n_items + 1 */
    uint32_t *i_users;
};
int jc_embed__matrix_build(const struct jc_catalog *cat, const struct jc_seq_opts *o,
                           struct jc_embed__matrix *m);
void jc_embed__matrix_free(struct jc_embed__matrix *m);

/* ---- graph walks (graph.c) -------------------------------------------------- */

/* Generates walks over the transition graph of the sequences into a token
 * corpus over item ids (owned arrays *off, *tokens; free with jc_free). */
int jc_embed__walks(const struct jc_seqs *s, const struct jc_embed_opts *o, uint64_t **off,
                    uint32_t **tokens, uint64_t *n_walks, uint64_t *n_edges);

/* ---- matrix factorisation (mf.c) --------------------------------------------- */

/* Trains into e (user and item vectors; statuses TRAINED for items with
 * positives; user_has for users with positives). */
int jc_embed__ials(const struct jc_embed__matrix *m, const struct jc_embed_opts *o,
                   struct jc_emb *e, double *final_loss);
int jc_embed__bpr(const struct jc_embed__matrix *m, const struct jc_embed_opts *o, struct jc_emb *e,
                  double *final_loss);

/* ---- cold items (train.c) ------------------------------------------------------ */

/* Gives items without a TRAINED vector a derived one (rule in embed.h). */
void jc_embed__fill_cold(struct jc_emb *e, const struct jc_catalog *cat, const struct jc_seqs *s,
                         uint32_t window);

/* ---- misc ------------------------------------------------------------------- */

/* Effective worker count for a threads option (0 = CPUs). */
int jc_embed__threads(int threads);

#endif
