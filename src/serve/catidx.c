/*
 * catidx.c - per-item rating statistics and pre-sorted item lists.
 *
 * jc_catstats_build reads the interactions once per catalog; each view's
 * index copies those arrays (28 bytes per item) and sorts, so an upsert
 * costs a few sorts of n_items, not a pass over the interactions.
 * Statistics use Welford's update per item over the by-item index (stable
 * for long lists); the sorts are qsort_r with total orders (ties broken by
 * item id), so every list is deterministic. Genre lists are filled by
 * walking each global order once and appending items to their genres'
 * slices, which keeps the global order inside every genre.
 */
#include "serve/catidx.h"

#include "core/alloc.h"
#include <junco/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMP_DESC(a, b)                 \
    do {                               \
        if ((a) != (b))                \
            return (a) > (b) ? -1 : 1; \
    } while (0)

static int cmp_rating(const void *pa, const void *pb, void *ctx)
{
    const struct jc_catidx *ix = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    CMP_DESC(ix->mean[a], ix->mean[b]);
    CMP_DESC(ix->count[a], ix->count[b]);
    return a < b ? -1 : a > b;
}

static int cmp_damped(const void *pa, const void *pb, void *ctx)
{
    const struct jc_catidx *ix = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    CMP_DESC(ix->damped[a], ix->damped[b]);
    CMP_DESC(ix->count[a], ix->count[b]);
    return a < b ? -1 : a > b;
}

static int cmp_year(const void *pa, const void *pb, void *ctx)
{
    const struct jc_catidx *ix = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    int32_t ya = jc_view_item_year(ix->view, a);
    int32_t yb = jc_view_item_year(ix->view, b);
    CMP_DESC(ya, yb);
    CMP_DESC(ix->count[a], ix->count[b]);
    return a < b ? -1 : a > b;
}

static int cmp_pop(const void *pa, const void *pb, void *ctx)
{
    const struct jc_catidx *ix = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    CMP_DESC(ix->count[a], ix->count[b]);
    CMP_DESC(ix->damped[a], ix->damped[b]);
    return a < b ? -1 : a > b;
}

void jc_catstats_destroy(struct jc_catstats *s)
{
    if (s == NULL)
        return;
    jc_free(s->count);
    jc_free(s->mean);
    jc_free(s->stddev);
    jc_free(s->damped);
    jc_free(s);
}

int jc_catstats_build(struct jc_catstats **out, const struct jc_catalog *cat)
{
    struct jc_catstats *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    uint32_t n = s->n_items = jc_catalog_n_items(cat);
    size_t nn = n ? n : 1;
    s->count = jc_calloc(nn, sizeof *s->count);
    s->mean = jc_calloc(nn, sizeof *s->mean);
    s->stddev = jc_calloc(nn, sizeof *s->stddev);
    s->damped = jc_calloc(nn, sizeof *s->damped);
    if (!s->count || !s->mean || !s->stddev || !s->damped) {
        jc_catstats_destroy(s);
        return JC_ENOMEM;
    }
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    double total = 0, vmax = 0;
    for (uint64_t k = 0; k < in.n; k++) {
        total += in.value[k];
        if (in.value[k] > vmax)
            vmax = in.value[k];
    }
    s->max_value = vmax > 0 ? vmax : 1.0;
    s->global_mean = in.n ? total / (double)in.n : 0.0;
    for (uint32_t it = 0; it < n; it++) {
        const uint32_t *pos;
        uint64_t c = jc_catalog_item_interactions(cat, it, &pos);
        double mean = 0, m2 = 0, sum = 0;
        for (uint64_t k = 0; k < c; k++) {
            double v = in.value[pos[k]];
            double d = v - mean;
            mean += d / (double)(k + 1);
            m2 += d * (v - mean);
            sum += v;
        }
        s->count[it] = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
        s->mean[it] = mean;
        s->stddev[it] = c ? sqrt(m2 / (double)c) : 0.0;
        s->damped[it] =
            (sum + JC_CATIDX_DAMPING * s->global_mean) / ((double)c + JC_CATIDX_DAMPING);
        if (s->count[it] > s->max_count)
            s->max_count = s->count[it];
    }
    *out = s;
    return JC_OK;
}

void jc_catidx_destroy(struct jc_catidx *ix)
{
    if (ix == NULL)
        return;
    jc_free(ix->count);
    jc_free(ix->mean);
    jc_free(ix->stddev);
    jc_free(ix->damped);
    for (int s = 0; s < JC_SORT__COUNT; s++) {
        jc_free(ix->order[s]);
        jc_free(ix->genre_items[s]);
    }
    jc_free(ix->genre_off);
    jc_free(ix);
}

int jc_catidx_build(struct jc_catidx **out, const struct jc_view *view,
                    const struct jc_catstats *stats)
{
    struct jc_catidx *ix = jc_calloc(1, sizeof *ix);
    if (ix == NULL)
        return JC_ENOMEM;
    ix->view = view;
    uint32_t n = ix->n_items = view->n_items;
    ix->n_users = view->n_users;
    ix->n_genres = view->n_genres;
    size_t nn = n ? n : 1;
    ix->count = jc_calloc(nn, sizeof *ix->count);
    ix->mean = jc_calloc(nn, sizeof *ix->mean);
    ix->stddev = jc_calloc(nn, sizeof *ix->stddev);
    ix->damped = jc_calloc(nn, sizeof *ix->damped);
    ix->genre_off = jc_calloc((size_t)ix->n_genres + 1, sizeof *ix->genre_off);
    for (int s = 0; s < JC_SORT__COUNT; s++)
        ix->order[s] = jc_malloc_array(nn, sizeof *ix->order[s]);
    int ok = ix->count && ix->mean && ix->stddev && ix->damped && ix->genre_off;
    for (int s = 0; s < JC_SORT__COUNT; s++)
        ok = ok && ix->order[s];
    if (!ok) {
        jc_catidx_destroy(ix);
        return JC_ENOMEM;
    }
    /* catalog items: the catalog's statistics; overlay items: none */
    uint32_t nc = stats->n_items < n ? stats->n_items : n;
    memcpy(ix->count, stats->count, sizeof *ix->count * nc);
    memcpy(ix->mean, stats->mean, sizeof *ix->mean * nc);
    memcpy(ix->stddev, stats->stddev, sizeof *ix->stddev * nc);
    memcpy(ix->damped, stats->damped, sizeof *ix->damped * nc);
    for (uint32_t it = nc; it < n; it++)
        ix->damped[it] = stats->global_mean;
    ix->global_mean = stats->global_mean;
    ix->max_value = stats->max_value;
    ix->max_count = stats->max_count;

    int (*const cmps[JC_SORT__COUNT])(const void *, const void *,
                                      void *) = {NULL, cmp_rating, cmp_damped, cmp_year, cmp_pop};
    for (int s = 0; s < JC_SORT__COUNT; s++) {
        for (uint32_t i = 0; i < n; i++)
            ix->order[s][i] = i;
        if (cmps[s])
            qsort_r(ix->order[s], n, sizeof(uint32_t), cmps[s], ix);
    }

    /* Genre CSR: counts, prefix sums, then fill each order. */
    for (uint32_t it = 0; it < n; it++) {
        const uint16_t *g;
        uint32_t ng = jc_view_item_genres(view, it, &g);
        for (uint32_t k = 0; k < ng; k++)
            if (g[k] < ix->n_genres)
                ix->genre_off[g[k] + 1]++;
    }
    for (uint32_t g = 0; g < ix->n_genres; g++)
        ix->genre_off[g + 1] += ix->genre_off[g];
    size_t total_slots = (size_t)ix->genre_off[ix->n_genres];
    uint64_t *fill = jc_calloc((size_t)ix->n_genres + 1, sizeof *fill);
    if (fill == NULL) {
        jc_catidx_destroy(ix);
        return JC_ENOMEM;
    }
    for (int s = 0; s < JC_SORT__COUNT; s++) {
        ix->genre_items[s] = jc_malloc_array(total_slots ? total_slots : 1, sizeof(uint32_t));
        if (ix->genre_items[s] == NULL) {
            jc_free(fill);
            jc_catidx_destroy(ix);
            return JC_ENOMEM;
        }
        memcpy(fill, ix->genre_off, sizeof *fill * ix->n_genres);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t it = ix->order[s][i];
            const uint16_t *g;
            uint32_t ng = jc_view_item_genres(view, it, &g);
            for (uint32_t k = 0; k < ng; k++)
                if (g[k] < ix->n_genres)
                    ix->genre_items[s][fill[g[k]]++] = it;
        }
    }
    jc_free(fill);
    *out = ix;
    return JC_OK;
}

size_t jc_catidx_list(const struct jc_catidx *ix, int32_t genre, enum jc_sort sort,
                      const uint32_t **items)
{
    if ((unsigned)sort >= JC_SORT__COUNT)
        sort = JC_SORT_CATALOG;
    if (genre < 0 || (uint32_t)genre >= ix->n_genres) {
        *items = ix->order[sort];
        return ix->n_items;
    }
    uint64_t b = ix->genre_off[genre], e = ix->genre_off[genre + 1];
    *items = ix->genre_items[sort] + b;
    return (size_t)(e - b);
}

int jc_sort_parse(const char *s, enum jc_sort *out)
{
    static const struct {
        const char *name;
        enum jc_sort sort;
    } tab[] = {{"rating", JC_SORT_DAMPED},
               {"mean", JC_SORT_RATING},
               {"year", JC_SORT_YEAR},
               {"popularity", JC_SORT_POPULARITY},
               {"catalog", JC_SORT_CATALOG}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (strcmp(s, tab[i].name) == 0) {
            *out = tab[i].sort;
            return 1;
        }
    }
    return 0;
}
