/*
 * params.c - the parameters of a model: declaration, allocation, seeded
 * initialisation and the optimizer step.
 *
 * Dense tensors live in one flat 64-byte-aligned array (so gradients of
 * several shards reduce with one vector loop and the file writer streams
 * them); embedding tables are separate arrays updated row by row (only the
 * rows a batch touched, in first-touch order). Initialisation draws every
 * tensor from its own stream of the model seed (stream = parameter index),
 * so adding a parameter never changes the others' initial values.
 */
#include "model_int.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <stdio.h>
#include <string.h>

int jc_model__param(struct jc_model *m, const char *name, uint32_t rows, uint32_t cols, int sparse,
                    enum jc_pgroup group, enum jc_init_kind init, float scale)
{
    if (m->n_params >= JC_MODEL_MAX_PARAMS)
        return jc_err_set(JC_ELIMIT, "model: more than %d parameters", JC_MODEL_MAX_PARAMS);
    if (rows == 0 || cols == 0)
        return jc_err_set(JC_EINVAL, "model: parameter %s has an empty shape %ux%u", name, rows,
                          cols);
    struct jc_mparam *p = &m->p[m->n_params];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->rows = rows;
    p->cols = cols;
    p->sparse = (uint8_t)(sparse != 0);
    p->group = (uint8_t)group;
    p->init = (uint8_t)init;
    p->init_scale = scale;
    if (sparse) {
        if (m->n_sparse >= sizeof m->slots_per_row / sizeof m->slots_per_row[0])
            return jc_err_set(JC_ELIMIT, "model: too many embedding tables");
        p->sidx = m->n_sparse++;
        m->slots_per_row[p->sidx] = 0;
    } else {
        p->off = m->n_dense;
        size_t n = (size_t)rows * cols;
        m->n_dense += (n + 15) & ~(size_t)15; /* keep every tensor 64-byte aligned */
    }
    return (int)m->n_params++;
}

int jc_model__find_param(const struct jc_model *m, const char *name)
{
    for (uint32_t i = 0; i < m->n_params; i++)
        if (strcmp(m->p[i].name, name) == 0)
            return (int)i;
    return -1;
}

static const struct jc_optim_config *opt_of(const struct jc_model *m, const struct jc_mparam *p)
{
    return p->group == JC_PG_WIDE ? &m->cfg.opt_wide : &m->cfg.opt;
}

static int n_state(const struct jc_model *m, const struct jc_mparam *p)
{
    return p->group == JC_PG_BUFFER ? 0 : jc_optim_n_state(opt_of(m, p)->kind);
}

int jc_model__alloc_params(struct jc_model *m)
{
    size_t nd = m->n_dense ? m->n_dense : 16;
    m->flat_w = jc_malloc_aligned(64, nd * sizeof(float));
    m->flat_s1 = jc_malloc_aligned(64, nd * sizeof(float));
    m->flat_s2 = jc_malloc_aligned(64, nd * sizeof(float));
    if (!m->flat_w || !m->flat_s1 || !m->flat_s2)
        return JC_ENOMEM;
    for (uint32_t i = 0; i < m->n_params; i++) {
        struct jc_mparam *p = &m->p[i];
        size_t n = (size_t)p->rows * p->cols;
        int ns = n_state(m, p);
        if (p->sparse) {
            p->w = jc_malloc_aligned(64, n * sizeof(float));
            if (!p->w)
                return JC_ENOMEM;
            if (ns >= 1 && !(p->s1 = jc_malloc_aligned(64, n * sizeof(float))))
                return JC_ENOMEM;
            if (ns >= 2 && !(p->s2 = jc_malloc_aligned(64, n * sizeof(float))))
                return JC_ENOMEM;
        } else {
            p->w = m->flat_w + p->off;
            p->s1 = ns >= 1 ? m->flat_s1 + p->off : NULL;
            p->s2 = ns >= 2 ? m->flat_s2 + p->off : NULL;
        }
        struct jc_rng rng;
        jc_rng_stream(&rng, m->cfg.seed, 1000 + i);
        jc_nn_init((enum jc_init_kind)p->init, p->init_scale, &rng, p->rows, p->cols, p->w);
        const struct jc_optim_config *oc = opt_of(m, p);
        for (int s = 0; s < ns; s++) {
            float *st = s == 0 ? p->s1 : p->s2;
            float v = jc_optim_state_init(oc, s);
            for (size_t k = 0; k < n; k++)
                st[k] = v;
        }
    }
    return JC_OK;
}

void jc_model__free_params(struct jc_model *m)
{
    for (uint32_t i = 0; i < m->n_params; i++) {
        struct jc_mparam *p = &m->p[i];
        if (p->sparse) {
            jc_free_aligned(p->w);
            jc_free_aligned(p->s1);
            jc_free_aligned(p->s2);
        }
        p->w = p->s1 = p->s2 = NULL;
    }
    jc_free_aligned(m->flat_w);
    jc_free_aligned(m->flat_s1);
    jc_free_aligned(m->flat_s2);
    m->flat_w = m->flat_s1 = m->flat_s2 = NULL;
}

void jc_model__apply_slice(struct jc_model *m, struct jc_ws *ws, uint32_t pi, uint32_t k,
                           uint32_t K)
{
    struct jc_mparam *p = &m->p[pi];
    if (p->group == JC_PG_BUFFER)
        return;
    struct jc_optim_step os;
    jc_optim_prepare(opt_of(m, p), m->step, &os);
    if (!p->sparse) {
        size_t n = (size_t)p->rows * p->cols, a = n * k / K, e = n * (k + 1) / K;
        if (e > a)
            jc_optim_apply(&os, e - a, p->w + a, ws->grad + p->off + a, p->s1 ? p->s1 + a : NULL,
                           p->s2 ? p->s2 + a : NULL);
        return;
    }
    const struct jc_sgrad *sg = &ws->sg[p->sidx];
    uint32_t a = (uint32_t)((uint64_t)sg->n * k / K), e = (uint32_t)((uint64_t)sg->n * (k + 1) / K);
    for (uint32_t r0 = a; r0 < e; r0++) {
        size_t r = (size_t)sg->rows[r0] * p->cols;
        jc_optim_apply(&os, p->cols, p->w + r, sg->g + (size_t)r0 * sg->dim,
                       p->s1 ? p->s1 + r : NULL, p->s2 ? p->s2 + r : NULL);
    }
}

void jc_model__apply(struct jc_model *m, struct jc_ws *ws)
{
    m->step++;
    for (uint32_t i = 0; i < m->n_params; i++)
        jc_model__apply_slice(m, ws, i, 0, 1);
}
