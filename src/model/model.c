/*
 * model.c - model lifecycle: kinds and their defaults, creation from a
 * layout, cloning, metadata, id validation and one training shard step.
 */
#include "model_int.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

size_t jc_zoo__impl_size(void);

static const struct {
    const char *name;
    enum jc_model_kind kind;
} kind_names[] = {
    {"lr", JC_MODEL_LR},
    {"fm", JC_MODEL_FM},
    {"mlp", JC_MODEL_MLP},
    {"widedeep", JC_MODEL_WIDEDEEP},
    {"neumf", JC_MODEL_NEUMF},
    {"twotower", JC_MODEL_TWOTOWER},
    {"deepfm", JC_MODEL_DEEPFM},
    {"din", JC_MODEL_DIN},
    {"dcn", JC_MODEL_DCN},
    {"embmlp", JC_MODEL_MLP},
    {"wide_deep", JC_MODEL_WIDEDEEP},
    {"wdl", JC_MODEL_WIDEDEEP},
    {"neuralcf", JC_MODEL_NEUMF},
    {"ncf", JC_MODEL_NEUMF},
    {"two_tower", JC_MODEL_TWOTOWER},
    {"dcnv2", JC_MODEL_DCN},
};

const char *jc_model_kind_name(enum jc_model_kind k)
{
    for (size_t i = 0; i < 9; i++)
        if (kind_names[i].kind == k)
            return kind_names[i].name;
    return "?";
}

int jc_model_kind_parse(const char *s, enum jc_model_kind *out)
{
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
        if (strcmp(s, kind_names[i].name) == 0) {
            *out = kind_names[i].kind;
            return 0;
        }
    return -1;
}

void jc_model_config_default(struct jc_model_config *c, enum jc_model_kind kind)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->emb_dim = 16;
    c->n_hidden = 2;
    c->hidden[0] = 128;
    c->hidden[1] = 64;
    c->act = JC_ACT_RELU;
    c->dropout = 0.0f;
    c->tower_dim = 32;
    c->att_hidden = 36;
    c->cross_buckets = 1u << 18;
    c->cross_layers = 2;
    c->loss = JC_LOSS_BCE;
    c->temperature = 0.1f;
    jc_optim_config_default(&c->opt, JC_OPTIM_ADAM);
    jc_optim_config_default(&c->opt_wide, JC_OPTIM_ADAM);
    c->seed = 42;
    switch (kind) {
    case JC_MODEL_LR:
        c->opt_wide.lr = 0.01f;
        break;
    case JC_MODEL_FM:
        c->opt_wide.lr = 0.003f;
        c->opt.lr = 0.003f;
        break;
    case JC_MODEL_DIN:
        c->act = JC_ACT_PRELU;
        break;
    case JC_MODEL_TWOTOWER:
        c->n_hidden = 1;
        c->hidden[0] = 128;
        break;
    default:
        break;
    }
}

static int validate_config(const struct jc_model_config *c)
{
    if (jc_model__ops(c->kind) == NULL)
        return jc_err_set(JC_EINVAL, "model: unknown kind %d", (int)c->kind);
    if (c->emb_dim == 0 || c->emb_dim > 1024)
        return jc_err_set(JC_EINVAL, "model: emb_dim %u outside [1, 1024]", c->emb_dim);
    if (c->n_hidden > JC_MODEL_MAX_HIDDEN)
        return jc_err_set(JC_EINVAL, "model: %u hidden layers (at most %d)", c->n_hidden,
                          JC_MODEL_MAX_HIDDEN);
    for (uint32_t i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] == 0 || c->hidden[i] > 65536)
            return jc_err_set(JC_EINVAL, "model: hidden layer %u has width %u", i, c->hidden[i]);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return jc_err_set(JC_EINVAL, "model: dropout %g outside [0, 1)", (double)c->dropout);
    if (c->tower_dim == 0 || c->att_hidden == 0)
        return jc_err_set(JC_EINVAL, "model: tower_dim and att_hidden must be positive");
    if (!(c->temperature > 0.0f))
        return jc_err_set(JC_EINVAL, "model: temperature must be positive");
    if (!(c->opt.lr > 0.0f) || !(c->opt_wide.lr > 0.0f))
        return jc_err_set(JC_EINVAL, "model: learning rates must be positive");
    if (c->act != JC_ACT_RELU && c->act != JC_ACT_PRELU && c->act != JC_ACT_DICE &&
        c->act != JC_ACT_TANH && c->act != JC_ACT_SIGMOID)
        return jc_err_set(JC_EINVAL, "model: activation %s not usable in hidden layers",
                          jc_nn_act_name(c->act));
    return JC_OK;
}

static int validate_layout(const struct jc_feat_layout *l)
{
    if (l->n_fields == 0 || l->n_fields > JC_FEAT_MAX_FIELDS || l->n_vocabs > JC_FEAT_MAX_VOCABS)
        return jc_err_set(JC_EINVAL, "model: layout has %u fields and %u vocabularies", l->n_fields,
                          l->n_vocabs);
    for (uint32_t f = 0; f < l->n_fields; f++) {
        const struct jc_feat_field *fd = &l->fields[f];
        if (fd->kind == JC_FEAT_NUM) {
            if (fd->offset >= l->n_num || fd->width != 1)
                return jc_err_set(JC_EINVAL, "model: numeric field %s at %u of %u", fd->name,
                                  fd->offset, l->n_num);
        } else if (fd->kind >= JC_FEAT_CAT && fd->kind <= JC_FEAT_SEQ) {
            if (fd->vocab >= l->n_vocabs || fd->width == 0 ||
                (uint64_t)fd->offset + fd->width > l->n_cat)
                return jc_err_set(JC_EINVAL,
                                  "model: field %s (vocab %u, slots %u+%u of %u) "
                                  "does not fit the layout",
                                  fd->name, fd->vocab, fd->offset, fd->width, l->n_cat);
            if (l->vocabs[fd->vocab].size < 2)
                return jc_err_set(JC_EINVAL, "model: vocabulary %s has size %u",
                                  l->vocabs[fd->vocab].name, l->vocabs[fd->vocab].size);
        } else {
            return jc_err_set(JC_EINVAL, "model: field %s has unknown kind %d", fd->name,
                              (int)fd->kind);
        }
    }
    return JC_OK;
}

int jc_model__build(struct jc_model *m)
{
    int rc = validate_config(&m->cfg);
    if (rc == JC_OK)
        rc = validate_layout(&m->layout);
    if (rc)
        return rc;
    m->ops = jc_model__ops(m->cfg.kind);
    m->impl = jc_calloc(1, jc_zoo__impl_size());
    if (m->impl == NULL)
        return JC_ENOMEM;
    if ((rc = m->ops->build(m)) < 0)
        return rc;
    return jc_model__alloc_params(m);
}

int jc_model_create(struct jc_model **out, const struct jc_model_config *cfg,
                    const struct jc_feat_layout *layout)
{
    struct jc_model *m = jc_calloc(1, sizeof *m);
    if (m == NULL)
        return JC_ENOMEM;
    m->cfg = *cfg;
    m->layout = *layout;
    int rc = jc_model__build(m);
    if (rc) {
        jc_model_destroy(m);
        return rc;
    }
    *out = m;
    return JC_OK;
}

void jc_model_destroy(struct jc_model *m)
{
    if (m == NULL)
        return;
    jc_model__free_params(m);
    jc_free(m->impl);
    jc_free(m->spec);
    jc_free(m->info);
    jc_free(m);
}

int jc_model_clone(struct jc_model **out, const struct jc_model *src)
{
    struct jc_model *m;
    int rc = jc_model_create(&m, &src->cfg, &src->layout);
    if (rc)
        return rc;
    memcpy(m->flat_w, src->flat_w, src->n_dense * sizeof(float));
    memcpy(m->flat_s1, src->flat_s1, src->n_dense * sizeof(float));
    memcpy(m->flat_s2, src->flat_s2, src->n_dense * sizeof(float));
    for (uint32_t i = 0; i < m->n_params; i++) {
        struct jc_mparam *p = &m->p[i];
        const struct jc_mparam *q = &src->p[i];
        if (!p->sparse)
            continue;
        size_t n = (size_t)p->rows * p->cols * sizeof(float);
        memcpy(p->w, q->w, n);
        if (p->s1)
            memcpy(p->s1, q->s1, n);
        if (p->s2)
            memcpy(p->s2, q->s2, n);
    }
    m->step = src->step;
    if ((src->spec && (rc = jc_model_set_spec(m, src->spec, src->spec_len))) ||
        (src->info && (rc = jc_model_set_info(m, src->info)))) {
        jc_model_destroy(m);
        return rc;
    }
    *out = m;
    return JC_OK;
}

const struct jc_model_config *jc_model_config(const struct jc_model *m)
{
    return &m->cfg;
}

const struct jc_feat_layout *jc_model_layout(const struct jc_model *m)
{
    return &m->layout;
}

uint64_t jc_model_n_weights(const struct jc_model *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->n_params; i++)
        if (m->p[i].group != JC_PG_BUFFER)
            n += (uint64_t)m->p[i].rows * m->p[i].cols;
    return n;
}

int jc_model_set_lr(struct jc_model *m, float lr, float lr_wide)
{
    if (!isfinite(lr) || !isfinite(lr_wide))
        return jc_err_set(JC_EINVAL, "model: learning rates must be finite");
    if (lr > 0.0f)
        m->cfg.opt.lr = lr;
    if (lr_wide > 0.0f)
        m->cfg.opt_wide.lr = lr_wide;
    return JC_OK;
}

int jc_model_set_spec(struct jc_model *m, const void *blob, size_t len)
{
    void *c = jc_malloc(len ? len : 1);
    if (c == NULL)
        return JC_ENOMEM;
    if (len)
        memcpy(c, blob, len);
    jc_free(m->spec);
    m->spec = c;
    m->spec_len = len;
    return JC_OK;
}

const void *jc_model_spec(const struct jc_model *m, size_t *len)
{
    if (len)
        *len = m->spec_len;
    return m->spec;
}

int jc_model_set_info(struct jc_model *m, const char *json)
{
    char *c = jc_strdup(json);
    if (c == NULL)
        return JC_ENOMEM;
    jc_free(m->info);
    m->info = c;
    return JC_OK;
}

const char *jc_model_info(const struct jc_model *m)
{
    return m->info;
}

int jc_model__check_ids(const struct jc_model *m, const struct jc_batch *b, uint32_t r0, uint32_t n,
                        enum jc_mode mode)
{
    const struct jc_feat_layout *l = &m->layout;
    if ((uint64_t)r0 + n > b->n)
        return jc_err_set(JC_ERANGE, "model: rows %u..%u outside a batch of %u", r0, r0 + n, b->n);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *c = b->cat + (size_t)(r0 + i) * l->n_cat;
        for (uint32_t f = 0; f < l->n_fields; f++) {
            const struct jc_feat_field *fd = &l->fields[f];
            if (fd->kind == JC_FEAT_NUM ||
                (mode == JC_MODE_SHARED && i > 0 && fd->side != JC_SIDE_ITEM))
                continue;
            uint32_t vs = l->vocabs[fd->vocab].size;
            for (uint32_t s = 0; s < fd->width; s++)
                if (c[fd->offset + s] >= vs)
                    return jc_err_set(JC_ERANGE,
                                      "model: row %u field %s: id %u outside vocabulary %s "
                                      "(size %u)",
                                      r0 + i, fd->name, c[fd->offset + s],
                                      l->vocabs[fd->vocab].name, vs);
        }
    }
    return JC_OK;
}

int jc_model__train_shard(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                          uint32_t r0, uint32_t n, uint32_t total)
{
    jc_ws_arena_reset(ws);
    ws->n_rows = n;
    ws->loss = 0.0;
    if (n == 0)
        return JC_OK;
    int rc = m->ops->forward(m, ws, b, r0, n, JC_MODE_TRAIN);
    if (rc)
        return rc;
    float scale = 1.0f / (float)(total ? total : 1);
    if (m->ops->loss)
        rc = m->ops->loss(m, ws, b, r0, n, scale);
    else
        ws->loss = jc_nn_bce_logits(n, ws->logit, b->label + r0, NULL, scale, ws->dlogit);
    if (rc)
        return rc;
    return m->ops->backward(m, ws, b, r0, n);
}
