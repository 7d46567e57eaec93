/*
 * junco/stats.h - descriptive statistics of a catalog (`junco stats`).
 *
 * jc_stats_compute makes one pass over the interactions and fills a plain
 * struct; jc_stats_write_json and jc_stats_write_text render it. Pure
 * functions of the catalog; thread-safe on distinct result structs.
 */
#ifndef JUNCO_STATS_H
#define JUNCO_STATS_H

#include <junco/catalog.h>

#include <stdint.h>

struct jc_buf;

#define JC_STATS_MAX_BINS 32

struct jc_stats_genre {
    uint32_t genre;
    uint32_t n_items;
    uint64_t n_interactions;
};

struct jc_stats_top {
    uint32_t item;
    uint64_t count;
    double mean_value;
};

struct jc_stats_type {
    uint32_t type;
    uint64_t count;
};

struct jc_stats {
    uint32_t n_users, n_items, n_genres;
    uint64_t n_interactions, n_tag_events;
    uint32_t n_tag_names;
    double density; /* interactions / (users * items) */
    /* values */
    double value_min, value_max, value_mean, value_std;
    int value_discrete; /* 1: bins are the distinct values */
    uint32_t n_bins;
    double bin_lo[JC_STATS_MAX_BINS]; /* bin lower edge (or the value itself) */
    double bin_hi[JC_STATS_MAX_BINS];
    uint64_t bin_count[JC_STATS_MAX_BINS];
    /* time */
    int64_t time_min, time_max;
    /* per user / per item activity */
    uint64_t user_min, user_median, user_max;
    uint64_t item_min, item_median, item_max;
    uint32_t items_without_interactions;
    uint32_t items_without_genres;
    /* breakdowns */
    uint32_t n_genre_rows;
    struct jc_stats_genre *genres; /* owned; sorted by n_items desc */
    uint32_t n_top;
    struct jc_stats_top *top; /* owned; most interactions first */
    uint32_t n_types;
    struct jc_stats_type *types; /* owned; only types with count > 0 */
};

int jc_stats_compute(const struct jc_catalog *cat, uint32_t top_n, struct jc_stats *out);
void jc_stats_free(struct jc_stats *s);
int jc_stats_write_json(const struct jc_stats *s, const struct jc_catalog *cat, struct jc_buf *out);
int jc_stats_write_text(const struct jc_stats *s, const struct jc_catalog *cat, struct jc_buf *out);

#endif
