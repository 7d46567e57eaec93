/*
 * catidx.h - serving indexes derived from a catalog and its overlay.
 *
 * Two layers, so that an upsert does not re-read the interactions:
 *   - struct jc_catstats, built once per catalog (one pass over the
 *     interactions): per-item rating count, mean, standard deviation and a
 *     damped ("Bayesian") mean;
 *   - struct jc_catidx, built per view (catalog + overlay, overlay.h): the
 *     statistics extended to the overlay's new items (no ratings: count 0,
 *     damped mean = the global mean), and the whole catalog and every genre
 *     as item lists pre-sorted by each order the API offers (rating, damped
 *     rating, release year, popularity, catalog order), with the overlay's
 *     years and genres. A genre list in some order is a slice of one array
 *     (CSR by genre), so "top N of genre G by rating" is a pointer and a
 *     length, no sorting per request.
 *
 * Ownership: the index borrows the view (which must outlive it) and owns
 * its arrays. Thread-safe for readers after build.
 */
#ifndef JC_SERVE_CATIDX_H
#define JC_SERVE_CATIDX_H

#include "serve/overlay.h"

#include <junco/catalog.h>

#include <stddef.h>
#include <stdint.h>

/* Prior weight (in ratings) of the damped mean: (sum + C*mu) / (n + C). */
#define JC_CATIDX_DAMPING 10.0

enum jc_sort {
    JC_SORT_CATALOG = 0, /* catalog (import) order */
    JC_SORT_RATING,      /* raw mean desc, then count desc (the reference) */
    JC_SORT_DAMPED,      /* damped mean desc, then count desc */
    JC_SORT_YEAR,        /* release year desc, then count desc */
    JC_SORT_POPULARITY,  /* count desc, then damped mean desc */
    JC_SORT__COUNT
};

/* Per catalog item statistics (arrays of n_items). */
struct jc_catstats {
    uint32_t n_items;
    uint32_t *count;
    double *mean, *stddev, *damped;
    double global_mean, max_value;
    uint32_t max_count;
};

/* One pass over the catalog's interactions. JC_ENOMEM only. */
int jc_catstats_build(struct jc_catstats **out, const struct jc_catalog *cat);
void jc_catstats_destroy(struct jc_catstats *s);

struct jc_catidx {
    const struct jc_view *view; /* borrowed */
    uint32_t n_items, n_users, n_genres;
    uint32_t *count;    /* [n_items] interactions per item */
    double *mean;       /* [n_items] mean value (0 when count == 0) */
    double *stddev;     /* [n_items] population std of values */
    double *damped;     /* [n_items] damped mean */
    double global_mean; /* mean of all values */
    double max_value;   /* largest value (5 for star ratings) */
    uint32_t max_count;
    uint32_t *order[JC_SORT__COUNT];       /* [n_items] each */
    uint64_t *genre_off;                   /* [n_genres + 1] */
    uint32_t *genre_items[JC_SORT__COUNT]; /* [genre_off[n_genres]] each */
};

/* Builds the index of a view whose catalog has these stats. JC_ENOMEM only. */
int jc_catidx_build(struct jc_catidx **out, const struct jc_view *view,
                    const struct jc_catstats *stats);
void jc_catidx_destroy(struct jc_catidx *ix);

/* The items of genre g (or all items when g < 0) in the given order:
 * returns the count and sets *items. */
size_t jc_catidx_list(const struct jc_catidx *ix, int32_t genre, enum jc_sort sort,
                      const uint32_t **items);

/* Name -> sort for the REST API ("rating" is the damped mean there):
 * 1 if known. */
int jc_sort_parse(const char *s, enum jc_sort *out);

#endif
