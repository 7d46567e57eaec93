/*
 * scorer.c - the scoring API (serving hot path) and online learning.
 *
 * A scorer is a workspace for one thread. jc_model_score treats the batch
 * as the candidates of one request: user/context-side inputs are embedded
 * from row 0 only and their first-layer products computed once (SHARED
 * mode of the models). Buffers come from the workspace arena, so after the
 * first call with the largest batch nothing is allocated.
 */
#include "model_int.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <string.h>

struct jc_model_scorer {
    struct jc_ws ws;
};

int jc_zoo__tt_vectors(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                       uint32_t r0, uint32_t n, int user, float *out);

int jc_model_scorer_create(struct jc_model_scorer **out, const struct jc_model *m,
                           uint32_t max_rows)
{
    if (max_rows == 0)
        return jc_err_set(JC_EINVAL, "scorer: max_rows must be positive");
    struct jc_model_scorer *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    int rc = jc_ws_init(&s->ws, m, max_rows, 0);
    if (rc) {
        jc_free(s);
        return rc;
    }
    jc_rng_stream(&s->ws.rng, m->cfg.seed, 0x5c0de);
    *out = s;
    return JC_OK;
}

void jc_model_scorer_destroy(struct jc_model_scorer *s)
{
    if (s == NULL)
        return;
    jc_ws_free(&s->ws);
    jc_free(s);
}

static int score(struct jc_model_scorer *s, const struct jc_batch *b, float *scores,
                 enum jc_mode mode)
{
    struct jc_ws *ws = &s->ws;
    const struct jc_model *m = ws->m;
    if (b->n > ws->cap)
        return jc_err_set(JC_ELIMIT, "scorer: %u rows exceed the scorer's capacity %u", b->n,
                          ws->cap);
    if (b->n == 0)
        return JC_OK;
    int rc = jc_model__check_ids(m, b, 0, b->n, mode);
    if (rc)
        return rc;
    jc_ws_arena_reset(ws);
    if ((rc = m->ops->forward(m, ws, b, 0, b->n, mode)))
        return rc;
    for (uint32_t i = 0; i < b->n; i++)
        scores[i] = jc_nn_sigmoid(ws->logit[i]);
    return JC_OK;
}

int jc_model_score(struct jc_model_scorer *s, const struct jc_batch *b, float *scores)
{
    return score(s, b, scores, JC_MODE_SHARED);
}

int jc_model_score_rows(struct jc_model_scorer *s, const struct jc_batch *b, float *scores)
{
    return score(s, b, scores, JC_MODE_EVAL);
}

int jc_model_user_vector(struct jc_model_scorer *s, const struct jc_batch *b, uint32_t row,
                         float *out)
{
    if (row >= b->n)
        return jc_err_set(JC_ERANGE, "scorer: row %u of %u", row, b->n);
    int rc = jc_model__check_ids(s->ws.m, b, row, 1, JC_MODE_EVAL);
    if (rc)
        return rc;
    return jc_zoo__tt_vectors(s->ws.m, &s->ws, b, row, 1, 1, out);
}

int jc_model_item_vectors(struct jc_model_scorer *s, const struct jc_batch *b, float *out)
{
    if (b->n > s->ws.cap)
        return jc_err_set(JC_ELIMIT, "scorer: %u rows exceed the scorer's capacity %u", b->n,
                          s->ws.cap);
    int rc = jc_model__check_ids(s->ws.m, b, 0, b->n, JC_MODE_EVAL);
    if (rc)
        return rc;
    return jc_zoo__tt_vectors(s->ws.m, &s->ws, b, 0, b->n, 0, out);
}

int jc_model_learn(struct jc_model *m, struct jc_model_scorer *s, const struct jc_batch *b,
                   double *loss)
{
    struct jc_ws *ws = &s->ws;
    if (ws->m != m)
        return jc_err_set(JC_EINVAL, "learn: the scorer belongs to another model");
    if (b->n > ws->cap)
        return jc_err_set(JC_ELIMIT, "learn: %u rows exceed the scorer's capacity %u", b->n,
                          ws->cap);
    if (b->n == 0)
        return JC_OK;
    int rc = jc_model__check_ids(m, b, 0, b->n, JC_MODE_TRAIN);
    if (rc == JC_OK)
        rc = jc_ws_enable_grad(ws);
    if (rc)
        return rc;
    jc_ws_zero_grad(ws);
    jc_rng_stream(&ws->rng, m->cfg.seed, 0x1ea27000ULL + m->step);
    if ((rc = jc_model__train_shard(m, ws, b, 0, b->n, b->n)))
        return rc;
    jc_model__apply(m, ws);
    if (m->ops->after_step) {
        struct jc_ws *one = ws;
        m->ops->after_step(m, &one, 1);
    }
    if (loss)
        *loss = ws->loss / b->n;
    return JC_OK;
}
