/*
 * alias.c - Walker's alias method (Vose's construction) for O(1) sampling
 * from a fixed discrete distribution: SGNS negatives (count^0.75) and the
 * weighted edges of the item transition graph.
 *
 * Each of the n columns holds a 32-bit threshold and an alias; a draw picks
 * a column from the high 32 bits of one random number and compares the low
 * 32 bits with the threshold. Construction is deterministic (stable small /
 * large work lists), so the same weights always give the same table.
 */
#include "embed_int.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <math.h>

void jc_alias__fill(const double *w, uint32_t n, uint32_t *thr, uint32_t *alias, uint32_t *work,
                    double *prob)
{
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++)
        total += w[i];
    double scale = total > 0 ? (double)n / total : 0.0;
    uint32_t *small = work, *large = work + n;
    uint32_t ns = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        prob[i] = w[i] * scale;
        alias[i] = i;
        if (prob[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        uint32_t s = small[--ns];
        uint32_t l = large[nl - 1];
        alias[s] = l;
        double p = prob[s];
        thr[s] = (uint32_t)fmin(p * 4294967296.0, 4294967295.0);
        prob[l] = (prob[l] + p) - 1.0;
        if (prob[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* Leftovers have probability 1 up to rounding. */
    while (nl > 0) {
        uint32_t l = large[--nl];
        thr[l] = UINT32_MAX;
        alias[l] = l;
    }
    while (ns > 0) {
        uint32_t s = small[--ns];
        thr[s] = UINT32_MAX;
        alias[s] = s;
    }
}

int jc_alias_build(struct jc_alias *a, const double *w, uint32_t n)
{
    if (n == 0)
        return jc_err_set(JC_EINVAL, "alias table: no outcomes");
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        if (!(w[i] >= 0.0) || !isfinite(w[i]))
            return jc_err_set(JC_EINVAL, "alias table: weight %u is %g", i, w[i]);
        total += w[i];
    }
    if (!(total > 0.0))
        return jc_err_set(JC_EINVAL, "alias table: all %u weights are zero", n);
    uint32_t *thr = jc_malloc_array(n, sizeof *thr);
    uint32_t *alias = jc_malloc_array(n, sizeof *alias);
    uint32_t *work = jc_malloc_array((size_t)n * 2, sizeof *work);
    double *prob = jc_malloc_array(n, sizeof *prob);
    if (!thr || !alias || !work || !prob) {
        jc_free(thr);
        jc_free(alias);
        jc_free(work);
        jc_free(prob);
        return JC_ENOMEM;
    }
    jc_alias__fill(w, n, thr, alias, work, prob);
    jc_free(work);
    jc_free(prob);
    a->n = n;
    a->thr = thr;
    a->alias = alias;
    return JC_OK;
}

void jc_alias_free(struct jc_alias *a)
{
    if (a == NULL)
        return;
    jc_free(a->thr);
    jc_free(a->alias);
    a->thr = a->alias = NULL;
    a->n = 0;
}
