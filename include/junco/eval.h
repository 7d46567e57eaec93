/*
 * junco/eval.h - offline evaluation of recommenders: splits, scorers,
 * top-N protocols, baselines, hyper-parameter search and reports.
 *
 * The pieces, in the order data flows through them:
 *
 *   catalog --jc_split_create--> struct jc_split (train / valid / test /
 *     train+valid parts, seeded, checksummed, exportable as TSV + manifest)
 *   part --model fit (jc_eval_model)--> struct jc_scorer (scores all items
 *     for a user, or returns its top-N directly)
 *   scorer + known part (masked) + target part --jc_eval_run--> metrics
 *     (rankmetrics.h definitions at every K, beyond-accuracy measures,
 *     recall-layer hit rate, per-segment breakdown)
 *   jc_eval_suite_run: for every protocol and model, a seeded budgeted
 *     search on the validation part, then a refit on train+valid and the
 *     test evaluation -> struct jc_eval_report -> report.html + results.json
 *
 * Protocols (never mixed in one table):
 *   random       full ranking, per-user random 8:1:1 split (RecBole default)
 *   temporal     full ranking, global temporal split (last 10% of events test,
 *                the 10% before valid)
 *   loo          full ranking, temporal leave-one-out (each user's last
 *                interaction is test, the one before valid)
 *   loo-sampled  SAMPLED ranking on the leave-one-out split: the held-out
 *                item against 99 sampled negatives (the NCF paper protocol);
 *                numbers are labelled "sampled" everywhere and are not
 *                comparable with full-ranking numbers.
 * In full ranking every item is ranked and the user's known items (the
 * part the model was trained on) are masked. Ties are broken by the lower
 * item id, so results are deterministic; the NumPy reference evaluator in
 * tests/python uses the same rule.
 *
 * Interactions are treated as implicit feedback: before splitting, events
 * with value < min_value are dropped and repeated (user, item) pairs keep
 * only their first occurrence, so an item is in exactly one part.
 *
 * Threading: splits, models and scorers are immutable after creation and
 * may be shared; a scorer's score/topn may be called concurrently with
 * distinct worker indices. jc_eval_run and the fits use their own worker
 * pools (config.threads). With the same seed the results do not depend on
 * the number of threads (per-user work is reduced in user order), except
 * for the ranking models and the pipeline (deep.c, pipeline.c), whose
 * training is bit-identical only for the same thread count (junco/train.h).
 */
#ifndef JUNCO_EVAL_H
#define JUNCO_EVAL_H

#include <junco/metrics.h>
#include <junco/progress_cb.h>
#include <junco/rankmetrics.h>

#include <stddef.h>
#include <stdint.h>

struct jc_catalog;
struct jc_plot;
struct jc_buf;

/* ---- interaction parts -------------------------------------------------- */

/*
 * A set of (user, item) interactions in by-user CSR form: user u owns
 * positions [offsets[u], offsets[u + 1]) of the columns, in time order
 * (ties by item). values and times may be NULL. Borrowed views: the owner
 * (a split) keeps the arrays alive.
 */
struct jc_eval_part {
    uint32_t n_users, n_items;
    const uint64_t *offsets; /* n_users + 1 */
    const uint32_t *items;   /* offsets[n_users] item ids < n_items */
    const float *values;
    const int64_t *times;
};

/* ---- splits ------------------------------------------------------------- */

struct jc_split;

enum jc_split_kind { JC_SPLIT_RANDOM = 0, JC_SPLIT_TEMPORAL, JC_SPLIT_LOO };
enum jc_split_part { JC_PART_TRAIN = 0, JC_PART_VALID, JC_PART_TEST, JC_PART_TRAIN_VALID };

/* "random", "temporal", "loo"; "?" when out of range. */
const char *jc_split_kind_name(enum jc_split_kind k);
/* Parses a kind name; JC_EINVAL naming the word. */
int jc_split_kind_parse(const char *s, enum jc_split_kind *out);

struct jc_split_config {
    enum jc_split_kind kind;
    /* random: per user, round(n * frac) interactions (users with < 3
     * interactions stay entirely in train); temporal: floor(N * frac) of all
     * events, by (time, user, item). Defaults 0.1 and 0.1. Ignored by loo. */
    double valid_frac, test_frac;
    double min_value; /* drop events with value < min_value (default -INFINITY) */
    uint64_t seed;    /* the random split's shuffles (default 42) */
};
void jc_split_config_default(struct jc_split_config *c);

/*
 * Splits the catalog's interactions. Rules per kind:
 *   random   each user's interactions are shuffled with jc_rng_stream(seed,
 *            user); the first n - n_valid - n_test go to train, then valid,
 *            then test (each part kept in time order);
 *   temporal events ordered by (time, user, item); the last floor(N *
 *            test_frac) are test, the floor(N * valid_frac) before them valid;
 *   loo      per user with >= 3 interactions: last -> test, the one before ->
 *            valid; with 2: last -> test; with 1: train.
 * Errors: JC_EINVAL (fractions outside [0, 1) or summing to >= 1, no
 * interactions left), JC_ENOMEM. *out owned by the caller (jc_split_destroy).
 */
int jc_split_create(struct jc_split **out, const struct jc_catalog *cat,
                    const struct jc_split_config *cfg);

/* The same from raw columns of n events (value and time may be NULL: value
 * 1, time 0). Events need not be sorted. Errors as jc_split_create plus
 * JC_ERANGE for a user or item id out of range. */
int jc_split_create_arrays(struct jc_split **out, uint32_t n_users, uint32_t n_items, uint64_t n,
                           const uint32_t *user, const uint32_t *item, const float *value,
                           const int64_t *time, const struct jc_split_config *cfg);
void jc_split_destroy(struct jc_split *s);

/* A view of one part (valid until jc_split_destroy). */
void jc_split_part(const struct jc_split *s, enum jc_split_part part, struct jc_eval_part *out);

struct jc_split_info {
    enum jc_split_kind kind;
    uint64_t seed;
    double valid_frac, test_frac, min_value;
    uint32_t n_users, n_items;
    uint64_t n_input;      /* events given */
    uint64_t n_dropped;    /* below min_value */
    uint64_t n_duplicates; /* repeated (user, item) pairs removed */
    uint64_t n_events[4];  /* per enum jc_split_part */
    uint32_t n_users_with[4];
    int64_t valid_from, test_from; /* temporal: first valid/test event time (else 0) */
    uint64_t checksum;             /* xxh3 over kind, parameters and every part */
};
void jc_split_get_info(const struct jc_split *s, struct jc_split_info *out);

/*
 * Exports the split for peers and the reference evaluator: dir/train.tsv,
 * valid.tsv, test.tsv ("user\titem\tvalue\ttime" with internal ids, a header
 * line, by user then time) and dir/manifest.json (format, kind, seed,
 * fractions, counts, the split checksum as 16 hex digits, and the SHA-256 and
 * size of every file). Files are written atomically. cat may be NULL; when
 * given, items.tsv maps internal to external ids. Errors: JC_EIO/JC_ENOSPACE.
 */
int jc_split_export(const struct jc_split *s, const struct jc_catalog *cat, const char *dir);

/* Loads an exported split, verifying the manifest's sizes and SHA-256
 * digests and the split checksum. Errors: JC_ENOTFOUND, JC_ECORRUPT (with the
 * file and what differs), JC_EPARSE (file:line), JC_ENOMEM. */
int jc_split_load(struct jc_split **out, const char *dir);

/* ---- scorers ------------------------------------------------------------ */

/*
 * The one interface through which anything is evaluated: baselines,
 * embeddings, deep ranking models, the whole serving pipeline. A scorer is
 * bound to the training data it was fitted on (it knows each user's
 * history). Implement score (all items) or topn (a candidate list) or both.
 */
struct jc_scorer {
    const char *name; /* for logs and reports; borrowed from the implementation */
    void *self;
    uint32_t n_users, n_items;
    /* Called once before a run with the number of workers, so the scorer
     * can allocate per-worker scratch. Optional. */
    int (*prepare)(void *self, int n_workers);
    /* Scores of all n_items items for user (higher = better; NaN counts as
     * -infinity). Either fills buf (n_items floats) and sets *scores = buf,
     * or points *scores at memory it owns that stays valid until the next
     * call with the same worker. Called concurrently with distinct worker
     * indices in [0, n_workers). */
    int (*score)(void *self, uint32_t user, int worker, float *buf, const float **scores);
    /* Optional: the best up-to-n items for user, best first, into items and
     * item_scores; *n_out <= n. Known items may be included (the evaluator
     * drops them). Used when score is NULL (ANN recall, serving pipeline). */
    int (*topn)(void *self, uint32_t user, int worker, uint32_t n, uint32_t *items,
                float *item_scores, uint32_t *n_out);
    /* Frees self. Optional. */
    void (*destroy)(void *self);
};

/* Calls s->destroy and frees the scorer itself; NULL is a no-op. */
void jc_scorer_destroy(struct jc_scorer *s);

/* Allocates a scorer shell (zeroed, name set) for implementations. */
int jc_scorer_alloc(struct jc_scorer **out, const char *name, uint32_t n_users, uint32_t n_items);

/* Popularity: score = number of users of the part who interacted with the
 * item. The part is only read during the call. */
int jc_scorer_popularity(struct jc_scorer **out, const struct jc_eval_part *train);

/* A dense score matrix (n_users x n_items, row-major, leading dimension
 * n_items), borrowed: it must outlive the scorer. Used for fixed score files. */
int jc_scorer_matrix(struct jc_scorer **out, const float *scores, uint32_t n_users,
                     uint32_t n_items);

/* Inner products of factor vectors: score(u, i) = <U[u], V[i]> + bias[i].
 * user_f: n_users x dim, item_f: n_items x dim (row-major, leading dim dim),
 * item_bias may be NULL; all borrowed. Users whose row is all zero score 0. */
int jc_scorer_factors(struct jc_scorer **out, const float *user_f, const float *item_f,
                      const float *item_bias, uint32_t n_users, uint32_t n_items, uint32_t dim);

struct jc_itemknn_config {
    uint32_t k;    /* neighbours kept per item (default 100) */
    double shrink; /* sim = |Ui ∩ Uj| / (sqrt(|Ui| |Uj|) + shrink) (default 10) */
    int threads;   /* 0 = one per CPU */
};
void jc_itemknn_config_default(struct jc_itemknn_config *c);
/* ItemKNN: score(u, j) = sum over the user's items i of sim(i, j) restricted
 * to the top-k neighbours j of i (ties: lower id). Deterministic for any
 * thread count. Errors: JC_EINVAL (k == 0, shrink < 0), JC_ENOMEM. */
int jc_scorer_itemknn(struct jc_scorer **out, const struct jc_eval_part *train,
                      const struct jc_itemknn_config *cfg);

struct jc_ease_config {
    double lambda;      /* L2 weight on the diagonal (default 500) */
    uint32_t min_count; /* items with fewer training users are left out of the
                           model and always rank last (default 1) */
    uint32_t max_items; /* JC_ELIMIT when more items remain (default 20000:
                           the Gram matrix is max_items^2 floats) */
    int threads;
    struct jc_progress progress;
};
void jc_ease_config_default(struct jc_ease_config *c);
/* EASE^R (Steck 2019): G = X^T X + lambda I over the modelled items, P =
 * G^-1 (Cholesky, LAPACK spotrf/spotri), B = I - P / diag(P) (column-wise,
 * zero diagonal); score(u, j) = sum over the user's items i of B[i][j].
 * Errors: JC_EINVAL (lambda <= 0), JC_ELIMIT, JC_ENOMEM, JC_EINTERNAL (the
 * factorisation failed, with LAPACK's info). */
int jc_scorer_ease(struct jc_scorer **out, const struct jc_eval_part *train,
                   const struct jc_ease_config *cfg);
/* The item-item weight matrix of an EASE scorer, for tests: *b points at an
 * m x m row-major matrix over the modelled items listed in *items (m ids). */
int jc_scorer_ease_weights(const struct jc_scorer *s, const float **b, const uint32_t **items,
                           uint32_t *m);

/* ---- evaluation --------------------------------------------------------- */

#define JC_EVAL_MAX_K        8
#define JC_EVAL_MAX_SEGMENTS 8

enum jc_eval_mode { JC_EVAL_FULL = 0, JC_EVAL_SAMPLED = 1 };

struct jc_eval_config {
    enum jc_eval_mode mode;
    uint32_t ks[JC_EVAL_MAX_K]; /* cut-offs, ascending (default 10, 20, 50) */
    size_t n_ks;
    /* Recall-layer cut-offs N (full mode): share of target (user, item) pairs
     * found in the user's top-N (default 100, 200, 500; n = 0 for none). */
    uint32_t recall_ns[JC_EVAL_MAX_K];
    size_t n_recall_ns;
    uint32_t n_negatives; /* sampled mode: negatives per target (default 99) */
    uint64_t seed;        /* sampled negatives: jc_rng_stream(seed, user) */
    int skip_cold;        /* 1 (default): users with no known item are skipped */
    int threads;          /* 0 = one per CPU */
    /* Intra-list diversity: genre masks (n_items, see rankmetrics.h) or item
     * embeddings (n_items x emb_dim); both NULL = ILD not computed (NaN). */
    const uint64_t *item_genres;
    const float *item_emb;
    size_t emb_dim;
    uint32_t n_segments; /* user-activity segments: quantiles of the number
                            of known items (default 4, 0 = none) */
    struct jc_progress progress;
};
void jc_eval_config_default(struct jc_eval_config *c);

/* Metrics at one cut-off. Beyond-accuracy values are NaN in sampled mode. */
struct jc_eval_at {
    uint32_t k;
    struct jc_rank_metrics m; /* means over evaluated cases */
    double coverage, gini, novelty, ild;
};

struct jc_eval_segment {
    char label[48]; /* "1-26 known" */
    uint32_t min_known, max_known;
    uint32_t n_users;
    struct jc_rank_metrics at[JC_EVAL_MAX_K];
};

struct jc_eval_result {
    enum jc_eval_mode mode;
    uint32_t n_negatives;
    uint32_t n_users;        /* users evaluated */
    uint64_t n_cases;        /* averaged cases: users (full) or targets (sampled) */
    uint32_t n_cold_skipped; /* users with targets but no known item */
    uint64_t n_targets;      /* target pairs of the evaluated users */
    size_t n_ks;
    struct jc_eval_at at[JC_EVAL_MAX_K];
    size_t n_recall_ns;
    uint32_t recall_ns[JC_EVAL_MAX_K];
    double recall_hit[JC_EVAL_MAX_K];
    size_t n_segments;
    struct jc_eval_segment segments[JC_EVAL_MAX_SEGMENTS];
    double seconds; /* wall time of the run (scoring included) */
};

/*
 * Evaluates scorer: for every user with at least one target item (and, with
 * skip_cold, at least one known item), ranks the items (full: all items
 * except the user's known ones; sampled: each target against n_negatives
 * items drawn uniformly without replacement from the items neither known nor
 * target) and averages the metrics. known and target must have the scorer's
 * n_users and n_items. Errors: JC_EINVAL (bad config: no K, K > 100000,
 * K not ascending, shapes differ, a scorer without score/topn, sampled mode
 * with a topn-only scorer), errors of the scorer, JC_ECANCELED, JC_ENOMEM.
 * *out is written only on success.
 */
int jc_eval_run(const struct jc_eval_config *cfg, const struct jc_scorer *scorer,
                const struct jc_eval_part *known, const struct jc_eval_part *target,
                struct jc_eval_result *out);

/*
 * The negatives that sampled mode ranks against for every target of user
 * (targets in part order): for each target, n = min(n_negatives, available)
 * distinct items that are neither known nor a target of the user, drawn
 * with jc_rng_stream(cfg->seed, user). Writes n per target into out (cap
 * entries; JC_ELIMIT if too small) and n to *n_per_target. This is exactly
 * what jc_eval_run uses; exported so that reference evaluators can rank
 * the same candidates. Errors: JC_EINVAL (user out of range), JC_ENOMEM.
 */
int jc_eval_negatives(const struct jc_eval_config *cfg, const struct jc_eval_part *known,
                      const struct jc_eval_part *target, uint32_t user, uint32_t *out, size_t cap,
                      size_t *n_per_target);

/*
 * A metric of a result by name: "precision@K", "recall@K", "ndcg@K", "map@K",
 * "mrr@K", "hit@K" (alias "hr@K"), "coverage@K", "gini@K", "novelty@K",
 * "ild@K" for a K of the run, "recall_hit@N" for an N of the run.
 * Errors: JC_ENOTFOUND (unknown name or cut-off not computed).
 */
int jc_eval_metric(const struct jc_eval_result *r, const char *name, double *out);

/* Writes a result as a JSON object value ({"users":..,"metrics":{..},..})
 * through the project's JSON writer (core/json.h) into out. */
int jc_eval_result_json(const struct jc_eval_result *r, struct jc_buf *out);

/* ---- models and hyper-parameter search ---------------------------------- */

#define JC_EVAL_MAX_PARAMS 4
#define JC_EVAL_MAX_VALUES 16
#define JC_EVAL_MAX_MODELS 32
#define JC_EVAL_MAX_TRIALS 64

/* One hyper-parameter and the values the search may try (first = default). */
struct jc_eval_param {
    const char *name;
    double values[JC_EVAL_MAX_VALUES];
    size_t n_values;
};

/* What a model's fit function gets. */
struct jc_eval_fit_ctx {
    const struct jc_eval_part *train;
    const struct jc_catalog *cat; /* may be NULL; ids follow the catalog */
    const char *work_dir;         /* scratch space for models that need files */
    int threads;
    uint64_t seed;
    struct jc_progress progress;
};

/*
 * A model family the suite can tune and evaluate. Built-ins: "popularity",
 * "itemknn" (k, shrink), "ease" (lambda), and, when the embeddings module is
 * linked, "ials" and "bpr". Other modules add theirs with
 * jc_eval_model_register (deep models, the serving pipeline).
 */
struct jc_eval_model {
    const char *name; /* [a-z0-9_-], unique */
    const char *description;
    size_t n_params;
    struct jc_eval_param params[JC_EVAL_MAX_PARAMS];
    /* Fits on ctx->train with params[i] for params i; *out owned by caller. */
    int (*fit)(const struct jc_eval_fit_ctx *ctx, const double *params, struct jc_scorer **out);
};

/* Registers a model (copied; strings must stay valid). JC_EEXISTS for a
 * taken name, JC_ELIMIT past JC_EVAL_MAX_MODELS, JC_EINVAL for a bad entry.
 * Thread-safe. */
int jc_eval_model_register(const struct jc_eval_model *m);
/* The registered model of that name, or NULL. */
const struct jc_eval_model *jc_eval_model_find(const char *name);
size_t jc_eval_model_count(void);
const struct jc_eval_model *jc_eval_model_at(size_t i);

enum jc_search_strategy { JC_SEARCH_GRID = 0, JC_SEARCH_RANDOM = 1 };

struct jc_search_config {
    enum jc_search_strategy strategy;
    uint32_t budget; /* max trials (default 8); grid: the first `budget`
                        points of the grid in odometer order */
    uint64_t seed;   /* random: which grid points are drawn */
    char metric[32]; /* objective on the validation part (default "ndcg@10") */
};
void jc_search_config_default(struct jc_search_config *c);

/* The parameter sets a search would try: grid (odometer order, last
 * parameter fastest) or random (distinct points drawn with jc_rng_seed(seed)),
 * at most budget and JC_EVAL_MAX_TRIALS. Returns the count. */
size_t jc_search_plan(const struct jc_eval_param *space, size_t n_params,
                      const struct jc_search_config *c, double out[][JC_EVAL_MAX_PARAMS]);

struct jc_search_trial {
    double params[JC_EVAL_MAX_PARAMS];
    double objective; /* NaN when the fit failed */
    double fit_seconds, eval_seconds;
};

struct jc_search_result {
    size_t n_trials;
    struct jc_search_trial trials[JC_EVAL_MAX_TRIALS];
    size_t best; /* index of the best trial (first on ties) */
};

/* Tunes model on the validation protocol: fits on `train`, evaluates on
 * `valid` with `train` masked, for each planned trial. space overrides the
 * model's parameter lists when not NULL (n = model->n_params). Errors: the
 * first failing fit or evaluation (no partial result), JC_ENOTFOUND for an
 * unknown objective metric. */
int jc_eval_search(const struct jc_eval_model *model, const struct jc_eval_param *space,
                   const struct jc_search_config *scfg, const struct jc_eval_fit_ctx *fit,
                   const struct jc_eval_config *ecfg, const struct jc_eval_part *valid,
                   struct jc_search_result *out);

/* ---- the suite: protocols x models, and the report ---------------------- */

enum jc_eval_protocol {
    JC_PROTO_RANDOM = 0,
    JC_PROTO_TEMPORAL = 1,
    JC_PROTO_LOO = 2,
    JC_PROTO_LOO_SAMPLED = 3,
    JC_PROTO__COUNT
};
/* "random", "temporal", "loo", "loo-sampled". */
const char *jc_eval_protocol_name(enum jc_eval_protocol p);
/* The human title used in reports, e.g. "Top-N, full ranking, temporal
 * leave-one-out" or "Top-N, SAMPLED ranking (1 held-out + 99 negatives) ...". */
const char *jc_eval_protocol_title(enum jc_eval_protocol p);
int jc_eval_protocol_parse(const char *s, enum jc_eval_protocol *out);

struct jc_eval_suite_config {
    unsigned protocols;                     /* bit p set = run protocol p */
    const char *models[JC_EVAL_MAX_MODELS]; /* names, in leaderboard order */
    size_t n_models;
    struct jc_split_config split; /* kind is set per protocol */
    struct jc_eval_config eval;   /* mode is set per protocol */
    struct jc_search_config search;
    /* Search space overrides "model.param=v1,v2,..." (NULL-terminated). */
    const char *const *space;
    int refit; /* 1 (default): final model refit on train+valid, test with
                  train+valid masked; 0: the tuned model (fit on train) */
    const char *work_dir;
    int threads;
    uint64_t seed;
    struct jc_progress progress;
};
void jc_eval_suite_config_default(struct jc_eval_suite_config *c);

struct jc_eval_report;

/*
 * Runs every selected protocol for every model on the catalog. Protocols
 * that share a split (loo, loo-sampled) share the fits: each trial is
 * evaluated under both, and the best parameters are chosen per protocol.
 * Errors: JC_ENOTFOUND (unknown model, naming it), JC_EINVAL (bad space
 * override), and the errors of splits, fits and evaluations.
 */
int jc_eval_suite_run(const struct jc_catalog *cat, const struct jc_eval_suite_config *cfg,
                      struct jc_eval_report **out);
void jc_eval_report_destroy(struct jc_eval_report *r);

/* Extra figures and tables for the report's "more" sections (ROC/PR curves
 * and training curves from the ranking models, ...). The plot is rendered
 * at the call (it may be destroyed afterwards); cells are copied. */
int jc_eval_report_add_plot(struct jc_eval_report *r, const char *section,
                            const struct jc_plot *plot);
int jc_eval_report_add_table(struct jc_eval_report *r, const char *section, size_t n_cols,
                             const char *const *header, size_t n_rows, const char *const *cells);

/* results.json content (format "junco-eval-results", version 1). */
int jc_eval_report_json(const struct jc_eval_report *r, struct jc_buf *out);
/* A plain-text leaderboard per protocol (what the CLI prints). */
int jc_eval_report_text(const struct jc_eval_report *r, struct jc_buf *out);
/* Writes dir/report.html (self-contained XHTML-compatible HTML5 with inline
 * SVG, no external resources) and dir/results.json, atomically.
 * Errors: JC_EIO, JC_ENOSPACE, JC_ENOMEM. */
int jc_eval_report_write(const struct jc_eval_report *r, const char *dir);

/* ---- the CTR protocol (ranking models) ---------------------------------- */

struct jc_eval_ctr_config {
    const char *models[JC_EVAL_MAX_MODELS]; /* model kinds (junco/model.h names) */
    size_t n_models;
    uint32_t epochs;              /* most epochs, early stopping on valid AUC
                                     with patience 1 (default 3) */
    double valid_frac, test_frac; /* temporal split (default 0.1, 0.1) */
    const char *work_dir;         /* the samples go to work_dir/ctr-samples */
    int threads;                  /* 0 = one per CPU */
    uint64_t seed;
    struct jc_progress progress;
};
void jc_eval_ctr_config_default(struct jc_eval_ctr_config *c);

struct jc_eval_ctr_result {
    char model[32];
    struct jc_ctr_metrics test; /* AUC, GAUC, logloss, ... on the test rows */
    uint64_t n_train;           /* training rows */
    double seconds;             /* training + test */
    uint32_t n_epochs;          /* training curves: epochs run (<= 16 kept) */
    double train_loss[16], valid_auc[16];
    int failed; /* error code (0 = ok), message in error */
    char error[256];
};

/*
 * The CTR protocol: builds the catalog's samples exactly as `junco features`
 * does by default (explicit labels: rating >= 3.5, point-in-time features,
 * global temporal split with cfg's fractions, equal timestamps never
 * straddle a cut), then trains each model on train with early stopping on
 * valid and measures the best epoch on test. out has n_models entries; a
 * model that fails is recorded (failed, error) and the others go on.
 * Errors: JC_EINVAL (config), JC_ENOTFOUND (not a ranking model), errors
 * of the sample job, JC_ECANCELED.
 */
int jc_eval_ctr_run(const struct jc_catalog *cat, const struct jc_eval_ctr_config *cfg,
                    struct jc_eval_ctr_result *out);
/* Adds the CTR table (model, AUC, GAUC, logloss, rows, seconds) and the
 * training curves (validation AUC and training loss per epoch) to the
 * report (html and results.json "ctr"). */
int jc_eval_report_add_ctr(struct jc_eval_report *r, const struct jc_eval_ctr_result *res,
                           size_t n);

/* ---- score files (fixed scores for cross-checks and benchmarks) --------- */

/*
 * A dense float32 score matrix: a 64-byte header ("JCSCORE1" magic, format
 * version u32, n_users u32, n_items u32, 4 bytes 0, xxh3-64 of the data
 * u64, zero padding) and n_users * n_items little-endian floats, row-major.
 */
#define JC_SCOREFILE_VERSION 1
int jc_scorefile_write(const char *path, const float *scores, uint32_t n_users, uint32_t n_items);
/* Maps and validates a score file; *scores points into the mapping, valid
 * until jc_scorefile_close(handle). Errors: JC_ENOTFOUND, JC_ECORRUPT. */
struct jc_scorefile;
int jc_scorefile_open(struct jc_scorefile **out, const char *path, const float **scores,
                      uint32_t *n_users, uint32_t *n_items);
void jc_scorefile_close(struct jc_scorefile *f);

#endif
