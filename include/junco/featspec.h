/*
 * junco/featspec.h - feature definitions, point-in-time feature state and
 * the one code path that turns state into model rows, offline and online.
 *
 * A feature spec lists the columns a model sees. Columns come from a fixed
 * catalogue of sources (the reference feature set of the course: movieId,
 * userId, releaseYear, movieGenre1..3, movieRatingCount, movieAvgRating,
 * movieRatingStddev, userRatedMovie1..5, userRatingCount,
 * userAvgReleaseYear, userReleaseYearStddev, userAvgRating,
 * userRatingStddev, userGenre1..5, plus movieGenres, userGenres,
 * userHistory, hour and weekday; see docs/FEATURES.md). A spec file (or
 * features.spec / features.columns in junco.ini) picks columns and says how
 * each is encoded: categorical with a vocabulary (min-count, OOV) or hashing,
 * multi-categorical, sequence, or numeric with a normalisation (standardize,
 * minmax, log1p, log1p_standardize, or quantile buckets as a categorical).
 * An unknown column or an impossible kind is an error naming file:line,
 * raised by jc_featspec_create before any work.
 *
 * Compiling a spec gives a struct jc_feat_layout (features.h). Fitting it on
 * the training split (jc_samples_build) adds the vocabularies and the
 * normalisation statistics; the fitted spec serialises into a blob that model
 * files embed (jc_featspec_save_blob / jc_featspec_load_blob), so a model
 * always carries the exact encoding it was trained with.
 *
 * State, one code path: struct jc_user_state (the user's last `window` events
 * with ratings and years and their exact integer sums, the recent-positives
 * ring, genre counts among the positives of the window, lifetime counters;
 * every derived field is a function of the ring, so an encoded and decoded
 * state reads exactly like the original) and struct jc_item_state
 * (rating count, sum, sum of squares) are updated only by
 * jc_user_state_add / jc_item_state_add and read only by
 * jc_user_state_features / jc_item_state_features. The offline job emits a
 * sample for an event from the states holding exactly the events with a
 * strictly smaller timestamp (events with equal timestamps never see each
 * other: all samples of a timestamp group are emitted before any event of
 * the group is added). Online, serving loads the same structs from the
 * feature store and calls jc_featspec_build_batch, which runs the same
 * per-field code as the offline job. States encode compactly (versioned) for
 * the store with jc_user_state_encode / jc_item_state_encode.
 *
 * Raw values: sample files store "raw" rows (catalog ids + 1, 0 = missing,
 * unnormalised numbers). Finishing a row (vocabulary lookups, normalisation)
 * happens when a trainer reads samples and when serving builds a batch, with
 * the same function. Item ids inside states are catalog ids (stable across
 * `junco import --append`).
 *
 * Threading: a spec is immutable after fitting and may be shared by any
 * number of threads; it borrows the catalog it was created or loaded with,
 * which must outlive it. States and batches belong to one thread.
 */
#ifndef JUNCO_FEATSPEC_H
#define JUNCO_FEATSPEC_H

#include <junco/catalog.h>
#include <junco/config.h>
#include <junco/features.h>

#include <stddef.h>
#include <stdint.h>

#define JC_FEATSPEC_FORMAT_VERSION 1
#define JC_USTATE_WINDOW_MAX       256        /* upper bound of features.window */
#define JC_USTATE_HISTORY_MAX      64         /* upper bound of the positives ring */
#define JC_USTATE_GENRES           64         /* genre ids >= this are not counted */
#define JC_FEAT_TOP_MAX            16         /* rated items / top genres computed at most */
#define JC_ID_NONE                 UINT32_MAX /* unknown user or item (encodes as OOV) */
#define JC_VALUE_SCALE             1024       /* window averages see values rounded to 1/1024 */

struct jc_featspec;

struct jc_featspec_opts {
    const char *spec_path; /* spec file; NULL or "" = built-in MovieLens set */
    const char *spec_text; /* spec text (used when spec_path is empty) */
    const char *columns;   /* comma-separated subset of the columns, or NULL */
    float label_threshold; /* label = value >= threshold (3.5) */
    int implicit;          /* every event positive, plus sampled negatives */
    uint32_t negatives;    /* implicit mode: negatives per positive (4) */
    int neg_popularity;    /* 1: popularity-weighted negatives, 0: uniform */
    uint32_t window;       /* user aggregates over the last N events (100) */
    uint32_t history;      /* recent positives kept (20; >= userHistory width) */
    uint32_t min_history;  /* drop rows whose user has fewer earlier events (2) */
    uint32_t min_count;    /* default vocabulary min-count on train (1) */
    uint32_t hash_buckets; /* > 0: id vocabularies hash into this many buckets */
    int32_t missing_year;  /* release year used when unknown (1990) */
};

/* Defaults listed above. */
void jc_featspec_opts_default(struct jc_featspec_opts *o);
/* Fills the options from the [features] section. Strings are borrowed from
 * cfg. */
void jc_featspec_opts_from_config(struct jc_featspec_opts *o, const struct jc_config *cfg);

/*
 * Parses and validates a spec against a catalog and compiles its layout
 * (unfitted: vocabularies of id columns have size 2 until fitted, except
 * fixed ones such as hour and weekday). Errors: JC_EPARSE / JC_EINVAL with
 * "file:line: ..." for unknown columns, impossible kinds, bad options;
 * JC_ENOTFOUND for a missing spec file; JC_ELIMIT beyond the layout limits.
 * `cat` is borrowed and must outlive the spec.
 */
int jc_featspec_create(struct jc_featspec **out, const struct jc_featspec_opts *o,
                       const struct jc_catalog *cat);
void jc_featspec_destroy(struct jc_featspec *s);

/* The layout (valid while the spec lives). */
const struct jc_feat_layout *jc_featspec_layout(const struct jc_featspec *s);
/* The effective options (strings point into the spec). */
const struct jc_featspec_opts *jc_featspec_options(const struct jc_featspec *s);
/* 1 once vocabularies and normalisation were fitted (or loaded). */
int jc_featspec_is_fitted(const struct jc_featspec *s);
/* A 64-bit id of the canonical spec text (not of the fitted values). */
uint64_t jc_featspec_id(const struct jc_featspec *s);
/* The canonical spec text (one column per line, every option explicit). */
const char *jc_featspec_text(const struct jc_featspec *s);
/* The borrowed catalog (NULL for a spec loaded without one). */
const struct jc_catalog *jc_featspec_catalog(const struct jc_featspec *s);

/*
 * Serialises the (fitted) spec: magic, version, checksum, the canonical text,
 * the options, every vocabulary as external keys (item / user ids, genre
 * names) with the catalog ids they had, and the normalisation statistics.
 * *blob is owned by the caller (jc_free). JC_ESTATE if not fitted.
 */
int jc_featspec_save_blob(const struct jc_featspec *s, void **blob, size_t *n);
/*
 * Rebuilds a fitted spec from a blob. With a catalog, vocabularies are
 * resolved by external key (so the blob works with any catalog holding those
 * ids; keys the catalog lacks are dropped, new entities map to OOV); with
 * cat == NULL the stored catalog ids are used as they are (enough to finish
 * sample rows, not to compute features). Errors: JC_ECORRUPT (bad magic,
 * checksum, truncated), JC_EVERSION, JC_EPARSE.
 */
int jc_featspec_load_blob(struct jc_featspec **out, const void *blob, size_t n,
                          const struct jc_catalog *cat);

/* ---- point-in-time state -------------------------------------------------- */

struct jc_ustate_event {
    uint32_t item;   /* catalog id or JC_ID_NONE */
    float value;     /* rating / value */
    int32_t year;    /* release year (missing_year when unknown) */
    uint32_t pos;    /* 1 if positive */
    uint64_t genres; /* genre mask (ids < JC_USTATE_GENRES) of a positive, else 0 */
};

struct jc_user_state {
    uint32_t window;   /* ring capacity (features.window) */
    uint32_t history;  /* positives ring capacity */
    uint64_t n_events; /* lifetime events added */
    uint64_t n_pos;    /* lifetime positives added */
    int64_t first_time, last_time;
    uint32_t win_n, win_next;   /* events in the window; next ring slot */
    uint32_t hist_n, hist_next; /* positives kept; next ring slot */
    /* window sums, exact: values in units of 1/1024 (JC_VALUE_SCALE), years */
    int64_t sum_value_q;
    __int128 sumsq_value_q;
    int64_t sum_year, sumsq_year;
    uint16_t genre_count[JC_USTATE_GENRES]; /* among positives in the window */
    /* genres with a count > 0, ordered by count desc then genre name (kept
     * sorted on every update: a function of the counts, so decoding a state
     * rebuilds the same order); genre_pos[g] = index of g in genre_order */
    uint8_t genre_order[JC_USTATE_GENRES];
    uint8_t genre_pos[JC_USTATE_GENRES];
    uint32_t n_genre_order;
    uint32_t hist[JC_USTATE_HISTORY_MAX]; /* recent positive items (ring) */
    struct jc_ustate_event win[JC_USTATE_WINDOW_MAX];
};

struct jc_item_state {
    uint64_t count; /* events seen */
    double sum;     /* sum of values */
    double sumsq;   /* sum of squared values */
    int64_t last_time;
};

/* What the reference columns read from a user state. */
struct jc_user_feats {
    uint64_t n_events;            /* lifetime events */
    uint32_t rating_count;        /* events in the window */
    float avg_rating, std_rating; /* over the window (sample std, 0 if < 2) */
    float avg_year, std_year;     /* release years over the window */
    /* The newest positives of the window, and the genres by count among the
     * window's positives (ties: genre name), each as many as the spec reads
     * and at least 5 (at most JC_FEAT_TOP_MAX). */
    uint32_t n_rated;
    uint32_t rated[JC_FEAT_TOP_MAX];
    uint32_t n_top_genres;
    uint32_t top_genres[JC_FEAT_TOP_MAX];
    uint32_t n_hist; /* recent positives, newest first, any age */
    uint32_t hist[JC_USTATE_HISTORY_MAX];
};

struct jc_item_feats {
    uint32_t rating_count;
    float avg_rating; /* 0 when no events */
    float std_rating; /* sample std, 0 with fewer than 2 events */
};

/* An empty state with the spec's window and history capacities. */
void jc_user_state_init(struct jc_user_state *u, const struct jc_featspec *s);
/* Adds one event (label from the spec's rule: implicit, or value >=
 * threshold). Item year and genres come from the spec's catalog; an item
 * outside it (or JC_ID_NONE) counts with the missing year and no genres.
 * Events are expected in time order. Never fails; no allocation. */
void jc_user_state_add(struct jc_user_state *u, const struct jc_featspec *s, uint32_t item,
                       float value, int64_t time);
/* Same with an explicit positive flag (nearline: clicks, likes, ...). */
void jc_user_state_add_labeled(struct jc_user_state *u, const struct jc_featspec *s, uint32_t item,
                               float value, int64_t time, int positive);
/* Reads the features (top genres tie-break: higher count, then genre name
 * in byte order). Pure; no allocation. */
void jc_user_state_features(const struct jc_user_state *u, const struct jc_featspec *s,
                            struct jc_user_feats *out);

void jc_item_state_init(struct jc_item_state *it);
void jc_item_state_add(struct jc_item_state *it, float value, int64_t time);
void jc_item_state_features(const struct jc_item_state *it, struct jc_item_feats *out);

/*
 * Compact, versioned encodings for the feature store. A user state encodes
 * as at most JC_USTATE_ENC_MAX bytes: lifetime counters, the window events
 * (item, value, positive flag) and the positives ring; years and genre masks
 * are re-derived from the catalog on decode. Decoding into a spec with a
 * smaller window/history keeps the newest entries. Encode returns the
 * length written (JC_ELIMIT if cap is too small); decode fails with
 * JC_ECORRUPT / JC_EVERSION on bad bytes and leaves *u untouched.
 */
#define JC_USTATE_ENC_MAX  (64 + JC_USTATE_WINDOW_MAX * 9 + 32 + JC_USTATE_HISTORY_MAX * 4)
#define JC_ISTATE_ENC_SIZE 34
int jc_user_state_encode(const struct jc_user_state *u, void *buf, size_t cap, size_t *len);
int jc_user_state_decode(struct jc_user_state *u, const struct jc_featspec *s, const void *p,
                         size_t n);
int jc_item_state_encode(const struct jc_item_state *it, void *buf, size_t cap, size_t *len);
int jc_item_state_decode(struct jc_item_state *it, const void *p, size_t n);

/* ---- rows ------------------------------------------------------------------ */

/* The request context: hour 0-23 and weekday 0-6 (Monday = 0), UTC. */
struct jc_feat_context {
    int64_t time;
    int hour;
    int weekday;
};
void jc_feat_context_from_time(struct jc_feat_context *c, int64_t unix_s);

/*
 * The online batch builder (serving's hot path): one user against n
 * candidate items. Fills rows 0..n-1 of out (out->cap >= n, else JC_ELIMIT):
 * user-side and context fields are computed once and copied, item-side
 * fields per candidate; every row is finished (vocabulary ids, normalised
 * numbers) exactly as the sample reader finishes training rows. user and
 * items[] are catalog ids (JC_ID_NONE = unknown: OOV); us may be NULL (no
 * history); item_states may be NULL or have NULL-free entries; label and
 * value are set to 0 and time to ctx->time. No allocation. The spec must be
 * fitted and have a catalog (JC_ESTATE otherwise).
 */
int jc_featspec_build_batch(const struct jc_featspec *s, uint32_t user,
                            const struct jc_user_state *us, const struct jc_feat_context *ctx,
                            uint32_t n, const uint32_t *items,
                            const struct jc_item_state *item_states, struct jc_batch *out);

/* Size in bytes of one raw row of this spec in a sample file. */
uint32_t jc_featspec_raw_row_size(const struct jc_featspec *s);

#endif
