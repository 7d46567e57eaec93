/*
 * scorer.c - the scorer shell and the simple scorers: popularity, a dense
 * score matrix (fixed score files), and factor inner products (iALS, BPR,
 * two-tower style models).
 *
 * Design: a scorer is a struct of function pointers plus `self`; these
 * scorers keep no per-worker state except the factor scorer, which fills
 * the caller's buffer. Popularity and matrix scorers hand out pointers to
 * rows they own (no copy per user), which the evaluator reads in place.
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include <junco/error.h>

#include <string.h>

int jc_scorer_alloc(struct jc_scorer **out, const char *name, uint32_t n_users, uint32_t n_items)
{
    struct jc_scorer *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    s->name = name;
    s->n_users = n_users;
    s->n_items = n_items;
    *out = s;
    return JC_OK;
}

void jc_scorer_destroy(struct jc_scorer *s)
{
    if (s == NULL)
        return;
    if (s->destroy)
        s->destroy(s->self);
    jc_free(s);
}

/* ---- popularity --------------------------------------------------------- */

static int pop_score(void *self, uint32_t user, int worker, float *buf, const float **scores)
{
    (void)user;
    (void)worker;
    (void)buf;
    *scores = self;
    return JC_OK;
}

static void free_self(void *self)
{
    jc_free(self);
}

int jc_scorer_popularity(struct jc_scorer **out, const struct jc_eval_part *train)
{
    float *cnt = jc_calloc(train->n_items ? train->n_items : 1, sizeof *cnt);
    if (cnt == NULL)
        return JC_ENOMEM;
    uint64_t n = train->offsets[train->n_users];
    for (uint64_t i = 0; i < n; i++)
        cnt[train->items[i]] += 1.0f;
    struct jc_scorer *s;
    int rc = jc_scorer_alloc(&s, "popularity", train->n_users, train->n_items);
    if (rc) {
        jc_free(cnt);
        return rc;
    }
    s->self = cnt;
    s->score = pop_score;
    s->destroy = free_self;
    *out = s;
    return JC_OK;
}

/* ---- dense matrix ------------------------------------------------------- */

struct matrix_scorer {
    const float *m;
    uint32_t n_items;
};

static int matrix_score(void *self, uint32_t user, int worker, float *buf, const float **scores)
{
    (void)worker;
    (void)buf;
    struct matrix_scorer *ms = self;
    *scores = ms->m + (size_t)user * ms->n_items;
    return JC_OK;
}

int jc_scorer_matrix(struct jc_scorer **out, const float *scores, uint32_t n_users,
                     uint32_t n_items)
{
    if (scores == NULL && (uint64_t)n_users * n_items > 0)
        return jc_err_set(JC_EINVAL, "scorer: no score matrix");
    struct matrix_scorer *ms = jc_malloc(sizeof *ms);
    if (ms == NULL)
        return JC_ENOMEM;
    ms->m = scores;
    ms->n_items = n_items;
    struct jc_scorer *s;
    int rc = jc_scorer_alloc(&s, "matrix", n_users, n_items);
    if (rc) {
        jc_free(ms);
        return rc;
    }
    s->self = ms;
    s->score = matrix_score;
    s->destroy = free_self;
    *out = s;
    return JC_OK;
}

/* ---- factors ------------------------------------------------------------ */

struct factor_scorer {
    const float *uf, *vf, *bias;
    uint32_t n_items, dim;
};

static int factor_score(void *self, uint32_t user, int worker, float *buf, const float **scores)
{
    (void)worker;
    const struct factor_scorer *f = self;
    const float *u = f->uf + (size_t)user * f->dim;
    for (uint32_t i = 0; i < f->n_items; i++) {
        const float *v = f->vf + (size_t)i * f->dim;
        float s = 0;
        for (uint32_t d = 0; d < f->dim; d++)
            s += u[d] * v[d];
        buf[i] = s + (f->bias ? f->bias[i] : 0.0f);
    }
    *scores = buf;
    return JC_OK;
}

int jc_scorer_factors(struct jc_scorer **out, const float *user_f, const float *item_f,
                      const float *item_bias, uint32_t n_users, uint32_t n_items, uint32_t dim)
{
    if (dim == 0 || user_f == NULL || item_f == NULL)
        return jc_err_set(JC_EINVAL, "scorer: factors need dim > 0 and both matrices");
    struct factor_scorer *f = jc_malloc(sizeof *f);
    if (f == NULL)
        return JC_ENOMEM;
    *f = (struct factor_scorer){user_f, item_f, item_bias, n_items, dim};
    struct jc_scorer *s;
    int rc = jc_scorer_alloc(&s, "factors", n_users, n_items);
    if (rc) {
        jc_free(f);
        return rc;
    }
    s->self = f;
    s->score = factor_score;
    s->destroy = free_self;
    *out = s;
    return JC_OK;
}
