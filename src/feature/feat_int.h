/*
 * feat_int.h - internals shared by the files of the feature module:
 * spec.c (parsing, compiling, blobs), state.c (user/item state), row.c (raw
 * rows, finishing, the online batch builder), samples.c (the offline job and
 * sample files) and export.c (CSV/TSV).
 *
 * A compiled spec is an array of fields; each field reads one source column
 * (enum jc_src, with an index k for numbered columns such as userGenre3) and
 * belongs to a value domain (user, item or genre ids, hour, weekday, quantile
 * buckets, or a number). Raw rows carry, per categorical slot, the catalog id
 * + 1 (0 = missing, JC_RAW_OOV = unknown entity) or, for bucketised numeric
 * columns, the float bit pattern; per numeric slot the unnormalised value.
 */
#ifndef JC_FEAT_INT_H
#define JC_FEAT_INT_H

#include "core/buf.h"
#include <junco/featspec.h>

#include <stdint.h>
#include <string.h>

#define JC_RAW_OOV UINT32_MAX

enum jc_src {
    JC_SRC_USER_ID = 0,
    JC_SRC_MOVIE_ID,
    JC_SRC_RELEASE_YEAR,
    JC_SRC_MOVIE_GENRE,  /* k-th genre of the item (k from the name) */
    JC_SRC_MOVIE_GENRES, /* the item's genres, multi */
    JC_SRC_M_COUNT,
    JC_SRC_M_AVG,
    JC_SRC_M_STD,
    JC_SRC_U_RATED, /* k-th most recent positive in the window */
    JC_SRC_U_COUNT,
    JC_SRC_U_AVG_YEAR,
    JC_SRC_U_STD_YEAR,
    JC_SRC_U_AVG,
    JC_SRC_U_STD,
    JC_SRC_U_GENRE,   /* k-th top genre */
    JC_SRC_U_GENRES,  /* top genres, multi */
    JC_SRC_U_HISTORY, /* recent positives, seq */
    JC_SRC_HOUR,
    JC_SRC_WEEKDAY,
    JC_SRC__COUNT
};

enum jc_dom {
    JC_DOM_USER = 0,
    JC_DOM_ITEM,
    JC_DOM_GENRE,
    JC_DOM_HOUR,
    JC_DOM_WEEKDAY,
    JC_DOM_BUCKET,
    JC_DOM_NUM,
};

enum jc_norm {
    JC_NORM_NONE = 0,
    JC_NORM_STANDARDIZE,
    JC_NORM_MINMAX,
    JC_NORM_LOG1P,
    JC_NORM_LOG1P_STANDARDIZE,
};

struct jc_fspec_field {
    enum jc_src src;
    uint32_t k; /* 0-based index of numbered columns */
    enum jc_dom dom;
    enum jc_norm norm;
    uint32_t buckets; /* JC_DOM_BUCKET */
    /* fitted numeric statistics (over train rows; log1p space for LOG1P_*) */
    double mean, std, min, max;
    uint32_t n_bounds; /* bucket cut points (ascending), n_bounds < buckets */
    float *bounds;     /* owned */
};

struct jc_fspec_vocab {
    enum jc_dom dom;
    uint32_t min_count;
    uint32_t hash;   /* 0: fitted vocabulary; > 0: hash buckets */
    uint32_t anchor; /* field whose train values count for min_count */
    /* raw value (catalog id + 1) -> vocabulary id; raw >= map_n is OOV */
    uint32_t *map; /* owned */
    uint32_t map_n;
    /* fitted entries: raw value of vocabulary id 2 + i */
    uint32_t *keys; /* owned */
    uint32_t n_keys;
};

struct jc_featspec {
    struct jc_featspec_opts opts; /* strings below are owned copies */
    char *spec_path;
    char *columns;
    const struct jc_catalog *cat; /* borrowed, may be NULL after load_blob */
    struct jc_feat_layout layout;
    struct jc_fspec_field f[JC_FEAT_MAX_FIELDS];
    struct jc_fspec_vocab v[JC_FEAT_MAX_VOCABS];
    char *text;  /* canonical spec text, owned */
    uint64_t id; /* hash of text + row-affecting options */
    int fitted;
    uint64_t cat_checksum;         /* catalog the vocabularies were fitted on */
    uint32_t need_rated, need_top; /* how many rated items / top genres to compute */
    uint32_t n_genres;
    uint16_t *genre_rank; /* owned: catalog genre id -> rank by name */
    uint32_t raw_size;    /* bytes per raw row */
    int has_item_state;   /* some field reads movieRatingCount/Avg/Stddev */
    /* the fields of each side mask (1 << enum jc_feat_side bits), in order */
    uint8_t side_fields[8][JC_FEAT_MAX_FIELDS];
    uint8_t n_side_fields[8];
};

/* The fixed header of a raw row, followed by n_cat uint32 and n_num float. */
struct jc_raw_head {
    int64_t time;
    uint32_t user; /* catalog id */
    uint32_t item;
    float value;
    float label;
};
#define JC_RAW_HEAD_SIZE 24

/* Everything one row's fields read. */
struct jc_row_src {
    uint32_t user; /* catalog id or JC_ID_NONE */
    const struct jc_user_feats *uf;
    uint32_t item;
    const struct jc_item_feats *itf;
    const struct jc_feat_context *ctx;
};

/* row.c */
/* Computes the raw slots of the fields on the given sides (bit mask of
 * 1 << enum jc_feat_side) into cat / num (row layout offsets). */
void jc_featspec__raw_fields(const struct jc_featspec *s, const struct jc_row_src *src,
                             unsigned sides, uint32_t *cat, float *num);
/* Finishes the fields of the given sides from raw slots into the output
 * slots (vocabulary ids, normalised values). raw and out may not alias. */
void jc_featspec__finish_fields(const struct jc_featspec *s, unsigned sides,
                                const uint32_t *raw_cat, const float *raw_num, uint32_t *cat,
                                float *num);
/* Release year the features use for an item (missing_year when unknown). */
int32_t jc_featspec__item_year(const struct jc_featspec *s, uint32_t item);
uint64_t jc_featspec__item_genre_mask(const struct jc_featspec *s, uint32_t item);
/* Source column name (e.g. "userGenre3") of field i into out. */
const char *jc_featspec__src_name(enum jc_src src);

/* spec.c */
/* Index of the field reading (src, k), or -1. */
int jc_featspec__find_src(const struct jc_featspec *s, enum jc_src src, uint32_t k);
/* Builds vocabulary maps and norms from fitted counts / statistics. counts[v]
 * has map_n_of(v) entries indexed by raw value (NULL for fixed vocabs). */
uint32_t jc_featspec__domain_raw_n(const struct jc_featspec *s, enum jc_dom d);
int jc_featspec__fit_vocab(struct jc_featspec *s, uint32_t v, const uint64_t *counts);
void jc_featspec__mark_fitted(struct jc_featspec *s);
/* Drops fitted vocabularies and statistics (after a failed job). */
void jc_featspec__unfit(struct jc_featspec *s);

/* samples.c: pointer to raw row i (< rows) of an open split. */
struct jc_samples;
const uint8_t *jc_samples__row(const struct jc_samples *s, uint64_t i);

/* ---- little-endian binary writer/reader for blobs and manifests ---------- */

static inline int jc_bin_u32(struct jc_buf *b, uint32_t v)
{
    return jc_buf_append(b, &v, 4);
}
static inline int jc_bin_u64(struct jc_buf *b, uint64_t v)
{
    return jc_buf_append(b, &v, 8);
}
static inline int jc_bin_f64(struct jc_buf *b, double v)
{
    return jc_buf_append(b, &v, 8);
}
static inline int jc_bin_str(struct jc_buf *b, const char *s, size_t n)
{
    int rc = jc_bin_u32(b, (uint32_t)n);
    return rc ? rc : jc_buf_append(b, s, n);
}

struct jc_bin_rd {
    const uint8_t *p;
    size_t n, off;
    int bad; /* sticky: a read ran past the end */
};

static inline int jc_rd_bytes(struct jc_bin_rd *r, void *out, size_t n)
{
    if (r->bad || n > r->n - r->off) {
        r->bad = 1;
        memset(out, 0, n);
        return -1;
    }
    memcpy(out, r->p + r->off, n);
    r->off += n;
    return 0;
}
static inline uint32_t jc_rd_u32(struct jc_bin_rd *r)
{
    uint32_t v;
    jc_rd_bytes(r, &v, 4);
    return v;
}
static inline uint64_t jc_rd_u64(struct jc_bin_rd *r)
{
    uint64_t v;
    jc_rd_bytes(r, &v, 8);
    return v;
}
static inline double jc_rd_f64(struct jc_bin_rd *r)
{
    double v;
    jc_rd_bytes(r, &v, 8);
    return v;
}
/* A length-prefixed string: pointer into the input (not NUL-terminated). */
static inline const char *jc_rd_str(struct jc_bin_rd *r, uint32_t *len)
{
    uint32_t n = jc_rd_u32(r);
    if (r->bad || n > r->n - r->off) {
        r->bad = 1;
        *len = 0;
        return "";
    }
    const char *s = (const char *)r->p + r->off;
    r->off += n;
    *len = n;
    return s;
}

#endif
