/*
 * input.c - the input assembler: embedded categorical fields and numeric
 * fields laid out as one row vector per sample, user/context side first.
 *
 * Every categorical field embeds through the table of its vocabulary
 * ("<prefix><vocab>"), so fields sharing a vocabulary (movieId and the
 * recent-items sequence) share embeddings. MULTI and SEQ fields are
 * mean-pooled over their non-padding slots (all padding gives a zero
 * vector). Numeric fields are copied as they are (the feature pipeline
 * already normalised them).
 */
#include "model_int.h"

#include <junco/error.h>

#include <stdio.h>
#include <string.h>

static int side_is_user(enum jc_feat_side s)
{
    return s != JC_SIDE_ITEM;
}

int jc_input__build(struct jc_model *m, struct jc_input *in, const char *prefix, uint32_t dim,
                    int skip_field, enum jc_input_sel sel, enum jc_pgroup group,
                    enum jc_init_kind init, float scale)
{
    const struct jc_feat_layout *l = &m->layout;
    memset(in, 0, sizeof *in);
    in->dim = dim;
    uint32_t col = 0;
    /* two passes: user/context side, then item side */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t f = 0; f < l->n_fields; f++) {
            const struct jc_feat_field *fd = &l->fields[f];
            if ((int)f == skip_field || side_is_user(fd->side) != (pass == 0))
                continue;
            if (fd->kind == JC_FEAT_NUM)
                continue;
            if (fd->vocab >= l->n_vocabs)
                return jc_err_set(JC_EINVAL, "layout: field %s has vocabulary %u of %u", fd->name,
                                  fd->vocab, l->n_vocabs);
            char name[JC_PARAM_NAME_MAX];
            snprintf(name, sizeof name, "%s%s", prefix, l->vocabs[fd->vocab].name);
            int t = jc_model__find_param(m, name);
            if (t < 0) {
                t = jc_model__param(m, name, l->vocabs[fd->vocab].size, dim, 1, group, init, scale);
                if (t < 0)
                    return t;
            }
            m->slots_per_row[m->p[t].sidx] += fd->width;
            in->field[in->n_f] = f;
            in->table[in->n_f] = t;
            in->col[in->n_f] = col;
            in->n_f++;
            if (pass == 0)
                in->n_fu++;
            col += dim;
        }
        if (sel != JC_IN_NO_NUM)
            for (uint32_t f = 0; f < l->n_fields; f++) {
                const struct jc_feat_field *fd = &l->fields[f];
                if (fd->kind != JC_FEAT_NUM || side_is_user(fd->side) != (pass == 0))
                    continue;
                in->num_off[in->n_num] = fd->offset;
                in->num_col[in->n_num] = col++;
                in->n_num++;
                if (pass == 0)
                    in->n_nu++;
            }
        if (pass == 0)
            in->ku = col;
    }
    in->width = col;
    return JC_OK;
}

int jc_input__forward(const struct jc_model *m, const struct jc_input *in, const struct jc_batch *b,
                      uint32_t r0, uint32_t n, enum jc_mode mode, float *X, uint32_t ldx)
{
    const struct jc_feat_layout *l = &m->layout;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *cat = b->cat + (size_t)(r0 + i) * l->n_cat;
        const float *num = b->num + (size_t)(r0 + i) * l->n_num;
        float *x = X + (size_t)i * ldx;
        uint32_t f0 = (mode == JC_MODE_SHARED && i > 0) ? in->n_fu : 0;
        for (uint32_t k = f0; k < in->n_f; k++) {
            const struct jc_feat_field *fd = &l->fields[in->field[k]];
            jc_nn_embed_pool(m->p[in->table[k]].w, in->dim, cat + fd->offset, fd->width,
                             x + in->col[k]);
        }
        uint32_t j0 = (mode == JC_MODE_SHARED && i > 0) ? in->n_nu : 0;
        for (uint32_t k = j0; k < in->n_num; k++)
            x[in->num_col[k]] = num[in->num_off[k]];
    }
    return JC_OK;
}

int jc_input__backward(const struct jc_model *m, const struct jc_input *in, struct jc_ws *ws,
                       const struct jc_batch *b, uint32_t r0, uint32_t n, const float *dX,
                       uint32_t ldx)
{
    const struct jc_feat_layout *l = &m->layout;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *cat = b->cat + (size_t)(r0 + i) * l->n_cat;
        const float *dx = dX + (size_t)i * ldx;
        for (uint32_t k = 0; k < in->n_f; k++) {
            const struct jc_feat_field *fd = &l->fields[in->field[k]];
            struct jc_sgrad *sg = &ws->sg[m->p[in->table[k]].sidx];
            if (jc_nn_embed_pool_backward(sg, cat + fd->offset, fd->width, dx + in->col[k]))
                return jc_err_set(JC_ELIMIT, "model: sparse gradient of %s is full (%u rows)",
                                  m->p[in->table[k]].name, sg->cap);
        }
    }
    return JC_OK;
}
