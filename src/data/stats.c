/*
 * stats.c - descriptive statistics of a catalog.
 *
 * Values: when an interaction value set has at most JC_STATS_MAX_BINS
 * distinct values (star ratings, implicit 1s), the histogram lists each
 * value; otherwise it uses equal-width bins between min and max.
 */
#include <junco/stats.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include <junco/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_genre(const void *a, const void *b)
{
    const struct jc_stats_genre *x = a, *y = b;
    if (x->n_items != y->n_items)
        return x->n_items > y->n_items ? -1 : 1;
    return x->genre < y->genre ? -1 : x->genre > y->genre;
}

static void activity(uint64_t *counts, uint64_t n, uint64_t *mn, uint64_t *med, uint64_t *mx)
{
    if (n == 0) {
        *mn = *med = *mx = 0;
        return;
    }
    qsort(counts, n, sizeof *counts, cmp_u64);
    *mn = counts[0];
    *mx = counts[n - 1];
    *med = n % 2 ? counts[n / 2] : (counts[n / 2 - 1] + counts[n / 2]) / 2;
}

static void histogram(struct jc_stats *s, const float *v, uint64_t n)
{
    double distinct[JC_STATS_MAX_BINS];
    uint32_t nd = 0;
    int discrete = 1;
    for (uint64_t i = 0; i < n && discrete; i++) {
        uint32_t k = 0;
        while (k < nd && distinct[k] != v[i])
            k++;
        if (k == nd) {
            if (nd == JC_STATS_MAX_BINS)
                discrete = 0;
            else
                distinct[nd++] = v[i];
        }
    }
    if (n == 0) {
        s->n_bins = 0;
        return;
    }
    if (discrete) {
        /* sort the distinct values */
        for (uint32_t a = 1; a < nd; a++)
            for (uint32_t b = a; b > 0 && distinct[b - 1] > distinct[b]; b--) {
                double t = distinct[b];
                distinct[b] = distinct[b - 1];
                distinct[b - 1] = t;
            }
        s->value_discrete = 1;
        s->n_bins = nd;
        for (uint32_t k = 0; k < nd; k++)
            s->bin_lo[k] = s->bin_hi[k] = distinct[k];
        for (uint64_t i = 0; i < n; i++) {
            uint32_t lo = 0, hi = nd - 1;
            while (lo < hi) {
                uint32_t mid = (lo + hi) / 2;
                if (distinct[mid] < v[i])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            s->bin_count[lo]++;
        }
        return;
    }
    uint32_t nb = 10;
    double lo = s->value_min, w = (s->value_max - s->value_min) / nb;
    s->n_bins = nb;
    for (uint32_t k = 0; k < nb; k++) {
        s->bin_lo[k] = lo + w * k;
        s->bin_hi[k] = k + 1 == nb ? s->value_max : lo + w * (k + 1);
    }
    for (uint64_t i = 0; i < n; i++) {
        int k = w > 0 ? (int)((v[i] - lo) / w) : 0;
        if (k >= (int)nb)
            k = (int)nb - 1;
        if (k < 0)
            k = 0;
        s->bin_count[k]++;
    }
}

int jc_stats_compute(const struct jc_catalog *cat, uint32_t top_n, struct jc_stats *s)
{
    memset(s, 0, sizeof *s);
    s->n_users = jc_catalog_n_users(cat);
    s->n_items = jc_catalog_n_items(cat);
    s->n_genres = jc_catalog_n_genres(cat);
    s->n_interactions = jc_catalog_n_interactions(cat);
    s->n_tag_events = jc_catalog_n_tag_events(cat);
    s->n_tag_names = jc_catalog_n_tag_names(cat);
    s->density = s->n_users && s->n_items
                     ? (double)s->n_interactions / ((double)s->n_users * (double)s->n_items)
                     : 0.0;
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    double sum = 0, sumsq = 0;
    s->value_min = INFINITY;
    s->value_max = -INFINITY;
    s->time_min = INT64_MAX;
    s->time_max = INT64_MIN;
    uint64_t type_counts[256] = {0};
    for (uint64_t i = 0; i < ix.n; i++) {
        double v = ix.value[i];
        sum += v;
        sumsq += v * v;
        if (v < s->value_min)
            s->value_min = v;
        if (v > s->value_max)
            s->value_max = v;
        if (ix.time[i] < s->time_min)
            s->time_min = ix.time[i];
        if (ix.time[i] > s->time_max)
            s->time_max = ix.time[i];
        type_counts[ix.type[i]]++;
    }
    if (ix.n == 0) {
        s->value_min = s->value_max = 0;
        s->time_min = s->time_max = 0;
    } else {
        s->value_mean = sum / (double)ix.n;
        double var = sumsq / (double)ix.n - s->value_mean * s->value_mean;
        s->value_std = var > 0 ? sqrt(var) : 0;
    }
    histogram(s, ix.value, ix.n);

    uint64_t nmax = s->n_users > s->n_items ? s->n_users : s->n_items;
    uint64_t *counts = jc_malloc_array(nmax ? nmax : 1, sizeof *counts);
    if (counts == NULL)
        return JC_ENOMEM;
    for (uint32_t u = 0; u < s->n_users; u++) {
        uint64_t b, e;
        jc_catalog_user_range(cat, u, &b, &e);
        counts[u] = e - b;
    }
    activity(counts, s->n_users, &s->user_min, &s->user_median, &s->user_max);

    /* items: activity, genres, top list */
    s->genres = jc_calloc(s->n_genres ? s->n_genres : 1, sizeof *s->genres);
    if (top_n > s->n_items)
        top_n = s->n_items;
    s->top = jc_calloc(top_n ? top_n : 1, sizeof *s->top);
    if (s->genres == NULL || s->top == NULL) {
        jc_free(counts);
        jc_stats_free(s);
        return JC_ENOMEM;
    }
    for (uint32_t g = 0; g < s->n_genres; g++)
        s->genres[g].genre = g;
    for (uint32_t it = 0; it < s->n_items; it++) {
        const uint32_t *pos;
        uint64_t n = jc_catalog_item_interactions(cat, it, &pos);
        counts[it] = n;
        if (n == 0)
            s->items_without_interactions++;
        const uint16_t *gs;
        uint32_t ng = jc_catalog_item_genres(cat, it, &gs);
        if (ng == 0)
            s->items_without_genres++;
        for (uint32_t k = 0; k < ng; k++) {
            s->genres[gs[k]].n_items++;
            s->genres[gs[k]].n_interactions += n;
        }
        /* insertion into the top list (ties: lower item id first) */
        if (top_n == 0 || n == 0)
            continue;
        if (s->n_top == top_n && n <= s->top[top_n - 1].count)
            continue;
        uint32_t k = s->n_top < top_n ? s->n_top++ : top_n - 1;
        while (k > 0 && s->top[k - 1].count < n) {
            s->top[k] = s->top[k - 1];
            k--;
        }
        double vs = 0;
        for (uint64_t j = 0; j < n; j++)
            vs += ix.value[pos[j]];
        s->top[k].item = it;
        s->top[k].count = n;
        s->top[k].mean_value = vs / (double)n;
    }
    activity(counts, s->n_items, &s->item_min, &s->item_median, &s->item_max);
    jc_free(counts);
    s->n_genre_rows = s->n_genres;
    qsort(s->genres, s->n_genre_rows, sizeof *s->genres, cmp_genre);

    uint32_t nt = jc_catalog_n_event_types(cat);
    s->types = jc_calloc(nt ? nt : 1, sizeof *s->types);
    if (s->types == NULL) {
        jc_stats_free(s);
        return JC_ENOMEM;
    }
    for (uint32_t t = 0; t < nt; t++) {
        if (type_counts[t] == 0)
            continue;
        s->types[s->n_types].type = t;
        s->types[s->n_types].count = type_counts[t];
        s->n_types++;
    }
    return JC_OK;
}

void jc_stats_free(struct jc_stats *s)
{
    jc_free(s->genres);
    jc_free(s->top);
    jc_free(s->types);
    s->genres = NULL;
    s->top = NULL;
    s->types = NULL;
}

int jc_stats_write_json(const struct jc_stats *s, const struct jc_catalog *cat, struct jc_buf *out)
{
    struct jc_json j;
    char tbuf[32];
    jc_json_init(&j, out, 1);
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "users", s->n_users);
    jc_json_kv_int(&j, "items", s->n_items);
    jc_json_kv_int(&j, "interactions", (int64_t)s->n_interactions);
    jc_json_kv_double(&j, "density", s->density);
    jc_json_kv_int(&j, "genres", s->n_genres);
    jc_json_kv_int(&j, "tag_events", (int64_t)s->n_tag_events);
    jc_json_kv_int(&j, "distinct_tags", s->n_tag_names);
    jc_json_key(&j, "value");
    jc_json_obj_begin(&j);
    jc_json_kv_double(&j, "min", s->value_min);
    jc_json_kv_double(&j, "max", s->value_max);
    jc_json_kv_double(&j, "mean", s->value_mean);
    jc_json_kv_double(&j, "std", s->value_std);
    jc_json_key(&j, "histogram");
    jc_json_arr_begin(&j);
    for (uint32_t k = 0; k < s->n_bins; k++) {
        jc_json_obj_begin(&j);
        if (s->value_discrete) {
            jc_json_kv_double(&j, "value", s->bin_lo[k]);
        } else {
            jc_json_kv_double(&j, "lo", s->bin_lo[k]);
            jc_json_kv_double(&j, "hi", s->bin_hi[k]);
        }
        jc_json_kv_int(&j, "count", (int64_t)s->bin_count[k]);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    jc_json_key(&j, "time");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "min", s->time_min);
    jc_json_kv_int(&j, "max", s->time_max);
    jc_fmt_utc(tbuf, sizeof tbuf, s->time_min);
    jc_json_kv_str(&j, "min_utc", tbuf);
    jc_fmt_utc(tbuf, sizeof tbuf, s->time_max);
    jc_json_kv_str(&j, "max_utc", tbuf);
    jc_json_obj_end(&j);
    jc_json_key(&j, "per_user");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "min", (int64_t)s->user_min);
    jc_json_kv_int(&j, "median", (int64_t)s->user_median);
    jc_json_kv_int(&j, "max", (int64_t)s->user_max);
    jc_json_obj_end(&j);
    jc_json_key(&j, "per_item");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "min", (int64_t)s->item_min);
    jc_json_kv_int(&j, "median", (int64_t)s->item_median);
    jc_json_kv_int(&j, "max", (int64_t)s->item_max);
    jc_json_kv_int(&j, "without_interactions", s->items_without_interactions);
    jc_json_kv_int(&j, "without_genres", s->items_without_genres);
    jc_json_obj_end(&j);
    jc_json_key(&j, "event_types");
    jc_json_obj_begin(&j);
    for (uint32_t t = 0; t < s->n_types; t++)
        jc_json_kv_int(&j, jc_catalog_event_type_name(cat, s->types[t].type),
                       (int64_t)s->types[t].count);
    jc_json_obj_end(&j);
    jc_json_key(&j, "per_genre");
    jc_json_arr_begin(&j);
    for (uint32_t g = 0; g < s->n_genre_rows; g++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "genre", jc_catalog_genre_name(cat, s->genres[g].genre));
        jc_json_kv_int(&j, "items", s->genres[g].n_items);
        jc_json_kv_int(&j, "interactions", (int64_t)s->genres[g].n_interactions);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_key(&j, "top_items");
    jc_json_arr_begin(&j);
    for (uint32_t k = 0; k < s->n_top; k++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "id", jc_catalog_item_ext_id(cat, s->top[k].item));
        jc_json_kv_str(&j, "title", jc_catalog_item_title(cat, s->top[k].item));
        jc_json_kv_int(&j, "interactions", (int64_t)s->top[k].count);
        jc_json_kv_double(&j, "mean_value", s->top[k].mean_value);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    return jc_json_finish(&j);
}

static void bar(struct jc_buf *out, uint64_t count, uint64_t max)
{
    int w = max ? (int)((double)count / (double)max * 30.0 + 0.5) : 0;
    for (int i = 0; i < w; i++)
        jc_buf_append_str(out, "#");
}

int jc_stats_write_text(const struct jc_stats *s, const struct jc_catalog *cat, struct jc_buf *out)
{
    char t0[32], t1[32];
    jc_buf_printf(out, "users          %u\n", s->n_users);
    jc_buf_printf(out, "items          %u (%u without interactions, %u without genres)\n",
                  s->n_items, s->items_without_interactions, s->items_without_genres);
    jc_buf_printf(out, "interactions   %llu\n", (unsigned long long)s->n_interactions);
    jc_buf_printf(out, "density        %.4f%%\n", s->density * 100.0);
    jc_buf_printf(out, "tags           %llu events, %u distinct\n",
                  (unsigned long long)s->n_tag_events, s->n_tag_names);
    jc_fmt_utc(t0, sizeof t0, s->time_min);
    jc_fmt_utc(t1, sizeof t1, s->time_max);
    jc_buf_printf(out, "time range     %s .. %s UTC\n", t0, t1);
    jc_buf_printf(out, "per user       min %llu, median %llu, max %llu interactions\n",
                  (unsigned long long)s->user_min, (unsigned long long)s->user_median,
                  (unsigned long long)s->user_max);
    jc_buf_printf(out, "per item       min %llu, median %llu, max %llu interactions\n",
                  (unsigned long long)s->item_min, (unsigned long long)s->item_median,
                  (unsigned long long)s->item_max);
    jc_buf_printf(out, "event types   ");
    for (uint32_t t = 0; t < s->n_types; t++)
        jc_buf_printf(out, " %s=%llu", jc_catalog_event_type_name(cat, s->types[t].type),
                      (unsigned long long)s->types[t].count);
    jc_buf_printf(out, "\n\nvalues: min %g, max %g, mean %.3f, std %.3f\n", s->value_min,
                  s->value_max, s->value_mean, s->value_std);
    uint64_t max = 0;
    for (uint32_t k = 0; k < s->n_bins; k++)
        if (s->bin_count[k] > max)
            max = s->bin_count[k];
    for (uint32_t k = 0; k < s->n_bins; k++) {
        if (s->value_discrete)
            jc_buf_printf(out, "  %-13g %9llu  ", s->bin_lo[k],
                          (unsigned long long)s->bin_count[k]);
        else
            jc_buf_printf(out, "  [%5g,%5g) %9llu  ", s->bin_lo[k], s->bin_hi[k],
                          (unsigned long long)s->bin_count[k]);
        bar(out, s->bin_count[k], max);
        jc_buf_append_str(out, "\n");
    }
    if (s->n_genre_rows) {
        jc_buf_printf(out, "\n%-22s %8s %13s\n", "genre", "items", "interactions");
        for (uint32_t g = 0; g < s->n_genre_rows; g++)
            jc_buf_printf(out, "%-22s %8u %13llu\n", jc_catalog_genre_name(cat, s->genres[g].genre),
                          s->genres[g].n_items, (unsigned long long)s->genres[g].n_interactions);
    }
    if (s->n_top) {
        jc_buf_printf(out, "\ntop items by interactions:\n");
        for (uint32_t k = 0; k < s->n_top; k++)
            jc_buf_printf(out, "  %6llu  %4.2f  %s\n", (unsigned long long)s->top[k].count,
                          s->top[k].mean_value, jc_catalog_item_title(cat, s->top[k].item));
    }
    return out->len > out->cap ? JC_ELIMIT : JC_OK;
}
