/*
 * ws.c - workspaces: per-thread buffers for forward/backward passes.
 *
 * Activations come from a block arena: jc_ws_take bumps a pointer in the
 * current block and chains a new block (never moving old ones) when it is
 * full; jc_ws_arena_reset rewinds to the first block. After the largest
 * batch has been seen once, no further allocation happens.
 */
#include "model_int.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <string.h>

#define ARENA_MIN_BLOCK ((size_t)1 << 18) /* floats */

int jc_ws_init(struct jc_ws *ws, const struct jc_model *m, uint32_t cap, int with_grad)
{
    memset(ws, 0, sizeof *ws);
    ws->m = m;
    ws->cap = cap ? cap : 1;
    ws->logit = jc_malloc_aligned(64, (size_t)ws->cap * sizeof(float));
    ws->dlogit = jc_malloc_aligned(64, (size_t)ws->cap * sizeof(float));
    ws->st_size = m->ops->st_size;
    ws->st = jc_calloc(1, ws->st_size ? ws->st_size : 1);
    if (!ws->logit || !ws->dlogit || !ws->st) {
        jc_ws_free(ws);
        return JC_ENOMEM;
    }
    if (with_grad) {
        int rc = jc_ws_enable_grad(ws);
        if (rc) {
            jc_ws_free(ws);
            return rc;
        }
    }
    return JC_OK;
}

int jc_ws_enable_grad(struct jc_ws *ws)
{
    if (ws->has_grad)
        return JC_OK;
    const struct jc_model *m = ws->m;
    ws->grad = jc_malloc_aligned(64, (m->n_dense ? m->n_dense : 16) * sizeof(float));
    ws->sg = jc_calloc(m->n_sparse ? m->n_sparse : 1, sizeof *ws->sg);
    if (!ws->grad || !ws->sg)
        return JC_ENOMEM;
    for (uint32_t i = 0; i < m->n_params; i++) {
        const struct jc_mparam *p = &m->p[i];
        if (!p->sparse)
            continue;
        uint64_t cap =
            (uint64_t)ws->cap * (m->slots_per_row[p->sidx] ? m->slots_per_row[p->sidx] : 1);
        if (cap > p->rows)
            cap = p->rows;
        int rc = jc_sgrad_init(&ws->sg[p->sidx], p->cols, (uint32_t)cap);
        if (rc)
            return rc;
    }
    ws->has_grad = 1;
    jc_ws_zero_grad(ws);
    return JC_OK;
}

void jc_ws_free(struct jc_ws *ws)
{
    if (ws->sg) {
        for (uint32_t i = 0; i < ws->m->n_sparse; i++)
            jc_sgrad_free(&ws->sg[i]);
        jc_free(ws->sg);
    }
    jc_free_aligned(ws->grad);
    jc_free_aligned(ws->logit);
    jc_free_aligned(ws->dlogit);
    jc_free(ws->st);
    struct jc_arena_block *b = ws->blocks;
    while (b) {
        struct jc_arena_block *next = b->next;
        jc_free_aligned(b->data);
        jc_free(b);
        b = next;
    }
    memset(ws, 0, sizeof *ws);
}

void jc_ws_zero_grad(struct jc_ws *ws)
{
    if (!ws->has_grad)
        return;
    memset(ws->grad, 0, ws->m->n_dense * sizeof(float));
    for (uint32_t i = 0; i < ws->m->n_sparse; i++)
        jc_sgrad_reset(&ws->sg[i]);
}

void jc_ws_arena_reset(struct jc_ws *ws)
{
    for (struct jc_arena_block *b = ws->blocks; b; b = b->next)
        b->used = 0;
    ws->cur = ws->blocks;
}

float *jc_ws_take(struct jc_ws *ws, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    struct jc_arena_block *b = ws->cur;
    while (b && b->used + need > b->cap)
        b = b->next;
    if (b == NULL) {
        b = jc_calloc(1, sizeof *b);
        if (b == NULL)
            return NULL;
        b->cap = need > ARENA_MIN_BLOCK ? need : ARENA_MIN_BLOCK;
        b->data = jc_malloc_aligned(64, b->cap * sizeof(float));
        if (b->data == NULL) {
            jc_free(b);
            return NULL;
        }
        /* append at the end of the chain */
        struct jc_arena_block **pp = &ws->blocks;
        while (*pp)
            pp = &(*pp)->next;
        *pp = b;
    }
    ws->cur = b;
    float *p = b->data + b->used;
    b->used += need;
    return p;
}

float *jc_ws_take0(struct jc_ws *ws, size_t n)
{
    float *p = jc_ws_take(ws, n);
    if (p)
        memset(p, 0, n * sizeof *p);
    return p;
}
