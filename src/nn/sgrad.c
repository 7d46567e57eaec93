/*
 * sgrad.c - row-sparse gradient accumulators for embedding tables.
 *
 * A table of n_vocab x dim floats is updated only on the rows a batch
 * touched. The accumulator maps row id -> dense slot with open addressing
 * (linear probing, power-of-two table at least twice the capacity) and
 * remembers the first-touch order, which makes reductions across threads and
 * the optimizer's visiting order deterministic. Everything is allocated at
 * init; reset costs O(touched rows).
 */
#include <junco/error.h>
#include <junco/nn.h>

#include "core/alloc.h"

#include <string.h>

int jc_sgrad_init(struct jc_sgrad *s, uint32_t dim, uint32_t cap)
{
    memset(s, 0, sizeof *s);
    if (cap == 0)
        cap = 1;
    uint32_t tsize = 16;
    while (tsize < 2u * cap && tsize < (1u << 31))
        tsize <<= 1;
    s->dim = dim;
    s->cap = cap;
    s->mask = tsize - 1;
    s->rows = jc_malloc_array(cap, sizeof *s->rows);
    s->pos = jc_malloc_array(cap, sizeof *s->pos);
    s->g = jc_malloc_aligned(64, (size_t)cap * dim * sizeof *s->g + 64);
    s->table = jc_calloc(tsize, sizeof *s->table);
    if (!s->rows || !s->pos || !s->g || !s->table) {
        jc_sgrad_free(s);
        return JC_ENOMEM;
    }
    return JC_OK;
}

void jc_sgrad_free(struct jc_sgrad *s)
{
    jc_free(s->rows);
    jc_free(s->pos);
    jc_free_aligned(s->g);
    jc_free(s->table);
    memset(s, 0, sizeof *s);
}

void jc_sgrad_reset(struct jc_sgrad *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        s->table[s->pos[i]] = 0;
    s->n = 0;
}

static inline uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

float *jc_sgrad_row(struct jc_sgrad *s, uint32_t row)
{
    uint32_t h = mix32(row) & s->mask;
    for (;;) {
        uint32_t e = s->table[h];
        if (e == 0)
            break;
        if (s->rows[e - 1] == row)
            return s->g + (size_t)(e - 1) * s->dim;
        h = (h + 1) & s->mask;
    }
    if (s->n >= s->cap)
        return NULL;
    uint32_t i = s->n++;
    s->rows[i] = row;
    s->pos[i] = h;
    s->table[h] = i + 1;
    float *g = s->g + (size_t)i * s->dim;
    memset(g, 0, s->dim * sizeof *g);
    return g;
}

int jc_sgrad_merge(struct jc_sgrad *dst, const struct jc_sgrad *src)
{
    for (uint32_t i = 0; i < src->n; i++) {
        float *g = jc_sgrad_row(dst, src->rows[i]);
        if (g == NULL)
            return jc_err_set(JC_ELIMIT, "sparse gradient: more than %u touched rows", dst->cap);
        jc_nn_axpy(dst->dim, 1.0f, src->g + (size_t)i * src->dim, g);
    }
    return JC_OK;
}
