/*
 * layout.c - lookups on a feature layout and batch allocation.
 */
#include <junco/features.h>

#include "core/alloc.h"
#include <junco/error.h>

#include <string.h>

int jc_feat_layout_find(const struct jc_feat_layout *l, const char *name)
{
    for (uint32_t i = 0; i < l->n_fields; i++)
        if (strcmp(l->fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

int jc_feat_layout_find_vocab(const struct jc_feat_layout *l, const char *name)
{
    for (uint32_t i = 0; i < l->n_vocabs; i++)
        if (strcmp(l->vocabs[i].name, name) == 0)
            return (int)i;
    return -1;
}

int jc_batch_init(struct jc_batch *b, const struct jc_feat_layout *l, uint32_t cap)
{
    memset(b, 0, sizeof *b);
    size_t c = cap ? cap : 1;
    b->label = jc_malloc_array(c, sizeof *b->label);
    b->value = jc_malloc_array(c, sizeof *b->value);
    b->user = jc_malloc_array(c, sizeof *b->user);
    b->item = jc_malloc_array(c, sizeof *b->item);
    b->time = jc_malloc_array(c, sizeof *b->time);
    b->cat = jc_calloc(c * (l->n_cat ? l->n_cat : 1), sizeof *b->cat);
    b->num = jc_calloc(c * (l->n_num ? l->n_num : 1), sizeof *b->num);
    if (!b->label || !b->value || !b->user || !b->item || !b->time || !b->cat || !b->num) {
        jc_batch_free(b);
        return JC_ENOMEM;
    }
    b->cap = cap;
    return JC_OK;
}

void jc_batch_free(struct jc_batch *b)
{
    jc_free(b->label);
    jc_free(b->value);
    jc_free(b->user);
    jc_free(b->item);
    jc_free(b->time);
    jc_free(b->cat);
    jc_free(b->num);
    memset(b, 0, sizeof *b);
}
