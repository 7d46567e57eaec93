/*
 * junco/embed.h - item and user embeddings: the vectors behind the recall
 * layer ("items like this one", "items for this user").
 *
 * Pipeline:
 *   catalog --(positives, time order, sessions)--> item sequences
 *     item2vec: skip-gram with negative sampling (SGNS) on the sequences;
 *     deepwalk / node2vec: SGNS on random walks over the weighted item
 *       transition graph (edges between consecutive items of a sequence);
 *   catalog --(positives)--> user x item matrix
 *     ials: implicit ALS (confidence 1 + alpha * r, conjugate gradient);
 *     bpr: Bayesian personalised ranking (sampled triples, SGD);
 *   --> struct jc_emb: one vector per catalog item (dense internal item
 *       ids), optional user vectors, method + parameters, saved as
 *       <home>/embeddings/<name>.jemb.
 *
 * Items that the training never saw (below min-count, no positive, no edge)
 * still get a vector for serving, by this rule (applied in order):
 *   1. co-occurrence: the mean of the trained vectors of the items that
 *      appear within `window` positions of the item in any sequence,
 *      weighted by how often they do (status JC_EMB_COOCCUR);
 *   2. genre: the mean of the per-genre centroids (mean trained vector of
 *      the genre's trained items) of the item's genres (JC_EMB_GENRE);
 *   3. otherwise the item keeps a zero vector and status JC_EMB_NONE (it is
 *      never returned by a search and cannot be queried).
 * Searches return only trained items unless asked to include derived ones.
 *
 * Determinism: every random choice takes opts.seed. With threads = 1 (or
 * hogwild = 0, which makes the SGD methods run on one thread) the result is
 * bit-identical across runs. Walk generation and iALS are deterministic for
 * any thread count; SGNS and BPR use several threads only with hogwild = 1
 * (lock-free racy updates; results then vary run to run).
 *
 * Vector layout: every matrix is row-major with leading dimension `dim`
 * (row i at base + i * dim); the pointers returned by accessors stay valid
 * until the embedding is destroyed. Threading: a built or loaded jc_emb is
 * immutable and may be read from any number of threads; training functions
 * use their own worker pool. Errors as everywhere (junco/error.h): the
 * function returns a negative JC_E* code and jc_errmsg() tells the detail;
 * out-parameters are untouched on failure.
 */
#ifndef JUNCO_EMBED_H
#define JUNCO_EMBED_H

#include <junco/catalog.h>
#include <junco/progress_cb.h>

#include <stddef.h>
#include <stdint.h>

#define JC_EMB_FORMAT_VERSION 1
#define JC_EMB_MAX_DIM        1024u
#define JC_EMB_NAME_MAX       64 /* embedding names: [A-Za-z0-9_.-], not starting with '.' */

struct jc_emb;
struct jc_ann; /* junco/ann.h */

enum jc_embed_method {
    JC_EMBED_ITEM2VEC = 0,
    JC_EMBED_DEEPWALK = 1,
    JC_EMBED_NODE2VEC = 2,
    JC_EMBED_IALS = 3,
    JC_EMBED_BPR = 4,
};

/* Status of an item's vector. */
enum jc_emb_status {
    JC_EMB_NONE = 0,    /* no vector (zero); never returned or queried */
    JC_EMB_TRAINED = 1, /* learned by the method */
    JC_EMB_COOCCUR = 2, /* derived: mean of co-occurring trained items */
    JC_EMB_GENRE = 3,   /* derived: mean of the item's genre centroids */
};

/* "item2vec", ...; "?" if out of range. */
const char *jc_embed_method_name(enum jc_embed_method m);
/* Parses a method name; JC_EINVAL naming the bad word. */
int jc_embed_method_parse(const char *s, enum jc_embed_method *out);
/* 1 if name is a valid embedding name (see JC_EMB_NAME_MAX), else 0. */
int jc_embed_name_valid(const char *name);

/* ---- the global temporal split ------------------------------------------ */

/*
 * All interactions ordered by (time, user, item): the last `test_frac` of
 * them (rounded down) are the test events, the rest train. The split is
 * the key of the first test event; an event is a test event iff its key is
 * >= that key. Deterministic, no randomness.
 */
struct jc_embed_split {
    int active; /* 0: no split (everything is train) */
    int64_t time;
    uint32_t user, item;
    uint64_t n_train, n_test;
};

/* test_frac in (0, 1). JC_EINVAL for a bad fraction or an empty catalog. */
int jc_embed_split_temporal(const struct jc_catalog *cat, double test_frac,
                            struct jc_embed_split *out);
/* 1 if the event is a test event of the split (0 when split is NULL or off). */
int jc_embed_split_is_test(const struct jc_embed_split *split, int64_t time, uint32_t user,
                           uint32_t item);

/* ---- item sequences ------------------------------------------------------ */

struct jc_seq_opts {
    double threshold;                   /* positives: value >= threshold (default 3.5) */
    int64_t session_gap;                /* seconds; a gap > this starts a new sequence; 0 = never */
    uint32_t min_len;                   /* drop sequences shorter than this (default 2) */
    const struct jc_embed_split *split; /* if set, train events only */
};
void jc_seq_opts_default(struct jc_seq_opts *o);

/* Sequences of internal item ids: sequence s is items[off[s] .. off[s+1]),
 * in time order, from user user[s]. All arrays owned; free with
 * jc_seqs_free. */
struct jc_seqs {
    uint64_t n_seqs;
    uint64_t *off;    /* n_seqs + 1 */
    uint32_t *items;  /* off[n_seqs] */
    uint32_t *user;   /* n_seqs */
    uint32_t n_items; /* the catalog's item count (ids are < n_items) */
};

/* Builds the sequences from the by-user, time-ordered index. */
int jc_seqs_build(const struct jc_catalog *cat, const struct jc_seq_opts *o, struct jc_seqs *out);
void jc_seqs_free(struct jc_seqs *s);
/* Writes one sequence per line as space-separated external item ids (the
 * input format of gensim's LineSentence), atomically. */
int jc_seqs_write_text(const struct jc_seqs *s, const struct jc_catalog *cat, const char *path);

/* ---- SGNS on a generic token corpus --------------------------------------- */

/* Sequence s of the corpus is tokens[off[s] .. off[s+1]); tokens < n_vocab.
 * Borrowed by jc_sgns_train. */
struct jc_sgns_corpus {
    uint32_t n_vocab;
    uint64_t n_seqs;
    const uint64_t *off;
    const uint32_t *tokens;
};

struct jc_sgns_opts {
    uint32_t dim;       /* default 64 */
    uint32_t window;    /* max distance; the effective window is drawn in [1, window] */
    uint32_t negative;  /* negatives per positive pair (default 5) */
    uint32_t epochs;    /* default 10 */
    uint32_t min_count; /* tokens seen fewer times are dropped (default 2) */
    double sample;      /* frequent-token subsampling threshold; 0 = off (1e-3) */
    double ns_exponent; /* negative-sampling distribution count^x (0.75) */
    double lr, min_lr;  /* linear decay from lr to min_lr over all epochs */
    int threads;        /* used only with hogwild; 0 = one per CPU */
    int hogwild;        /* 1: lock-free multi-threaded (not deterministic) */
    uint64_t seed;
    struct jc_progress progress;
};
void jc_sgns_opts_default(struct jc_sgns_opts *o);

struct jc_sgns_result {
    uint32_t n_trained; /* tokens that reached min_count */
    uint64_t words;     /* retained corpus tokens x epochs (the words/s basis) */
    double seconds;     /* training loop wall time (no vocabulary/setup) */
    double words_per_sec;
    int threads; /* threads actually used */
};

/*
 * Trains SGNS. `vecs` (n_vocab x dim, row-major) receives the input vectors
 * of trained tokens; rows of dropped tokens are zeroed and trained[t] = 0
 * (trained may be NULL). Errors: JC_EINVAL (bad options or token out of
 * range, with the value), JC_ENOMEM, JC_ECANCELED.
 */
int jc_sgns_train(const struct jc_sgns_corpus *c, const struct jc_sgns_opts *o, float *vecs,
                  uint8_t *trained, struct jc_sgns_result *res);

/* ---- training an embedding from the catalog -------------------------------- */

struct jc_embed_opts {
    enum jc_embed_method method;
    uint32_t dim;
    struct jc_seq_opts seq;   /* positives and sessions (all methods) */
    struct jc_sgns_opts sgns; /* item2vec / deepwalk / node2vec (dim is copied in) */
    /* graph walks */
    uint32_t walks_per_node; /* default 10 */
    uint32_t walk_length;    /* nodes per walk, default 40 */
    double p, q;             /* node2vec return / in-out parameters (1, 1) */
    int directed;            /* transition graph directed (default 0) */
    double edge_norm;        /* edge weight = count / (strength_a strength_b)^x (0.25) */
    /* matrix factorisation */
    uint32_t mf_epochs;     /* iALS sweeps (15) / BPR epochs (30) */
    double ials_alpha;      /* confidence 1 + alpha * r, r = 1 per positive (10) */
    double ials_reg;        /* L2 regularisation (0.1) */
    uint32_t ials_cg_steps; /* CG steps per user/item solve (3) */
    double bpr_lr, bpr_reg; /* SGD step and L2 (0.05, 0.002) */
    /* user vectors derived from item vectors (item2vec, graphs, cold users) */
    double user_half_life; /* seconds; 0 = plain mean */
    int threads;           /* 0 = one per CPU */
    int hogwild;           /* multi-threaded SGNS / BPR */
    uint64_t seed;
    struct jc_progress progress;
};
void jc_embed_opts_default(struct jc_embed_opts *o);

struct jc_embed_stats {
    uint64_t n_seqs, n_tokens; /* sequences / positives used (walks for graphs) */
    uint32_t n_trained, n_cooccur, n_genre, n_none;
    uint32_t n_user_vectors;
    uint64_t graph_edges; /* deepwalk / node2vec */
    double train_seconds; /* the learning step */
    double words_per_sec; /* SGNS methods */
    double final_loss;    /* iALS / BPR: objective of the last epoch (0 otherwise) */
};

/*
 * Trains an embedding of the catalog's items (and users, for ials/bpr)
 * with opts->method. With opts->seq.split set, only train events are used.
 * The caller owns *out (jc_emb_destroy). Errors: JC_EINVAL (bad options,
 * no positives), JC_ENOMEM, JC_ECANCELED.
 */
int jc_embed_train(const struct jc_catalog *cat, const struct jc_embed_opts *opts,
                   struct jc_emb **out, struct jc_embed_stats *stats);

/* ---- the embedding object and its file ----------------------------------- */

/* An empty embedding (zero vectors, status NONE) for n_items catalog items
 * and n_users users (0 = no user vectors). */
int jc_emb_create(struct jc_emb **out, uint32_t n_items, uint32_t n_users, uint32_t dim);
void jc_emb_destroy(struct jc_emb *e);

uint32_t jc_emb_dim(const struct jc_emb *e);
uint32_t jc_emb_n_items(const struct jc_emb *e);
uint32_t jc_emb_n_users(const struct jc_emb *e); /* 0 without user vectors */
enum jc_embed_method jc_emb_method(const struct jc_emb *e);
/* Parameters as a JSON object ("{}" when unset); owned by e. */
const char *jc_emb_params(const struct jc_emb *e);
/* Checksum of the catalog the embedding was trained on (0 = unknown). */
uint64_t jc_emb_catalog_checksum(const struct jc_emb *e);
/* External ids stored in the file ("" when the embedding has none). */
const char *jc_emb_item_ext_id(const struct jc_emb *e, uint32_t item);
const char *jc_emb_user_ext_id(const struct jc_emb *e, uint32_t user);

/* Row `item` (dim floats); NULL when item is out of range. */
const float *jc_emb_item_vec(const struct jc_emb *e, uint32_t item);
float *jc_emb_item_vec_mut(struct jc_emb *e, uint32_t item);
enum jc_emb_status jc_emb_item_status(const struct jc_emb *e, uint32_t item);
void jc_emb_set_item_status(struct jc_emb *e, uint32_t item, enum jc_emb_status s);
/* Row `user`, or NULL when out of range, absent, or the user has no vector. */
const float *jc_emb_user_vec(const struct jc_emb *e, uint32_t user);
float *jc_emb_user_vec_mut(struct jc_emb *e, uint32_t user);
/* Marks whether user has a factor vector (ials/bpr users with positives). */
void jc_emb_set_user_has(struct jc_emb *e, uint32_t user, int has);

/* Sets the method and parameters (a JSON object, copied) and the catalog
 * whose ids the vectors follow (copies its external ids and checksum). */
int jc_emb_set_meta(struct jc_emb *e, enum jc_embed_method m, const char *params_json,
                    const struct jc_catalog *cat);

/*
 * Saves to path atomically: magic "JUNCOEMB", format version, header and
 * body xxh3 checksums, metadata, statuses, external ids, item vectors,
 * optional user vectors. Errors: JC_EIO / JC_ENOSPACE with the path.
 */
int jc_emb_save(const struct jc_emb *e, const char *path);
/* Loads and validates a file (JC_ENOTFOUND, JC_ECORRUPT naming the file and
 * the problem, JC_EVERSION, JC_ENOMEM). */
int jc_emb_load(struct jc_emb **out, const char *path);
/* JC_OK if the embedding's external item ids equal the catalog's (same
 * order); JC_ESTATE with a message otherwise (re-train after an import). */
int jc_emb_check_catalog(const struct jc_emb *e, const struct jc_catalog *cat);

/* Writes the course's text format, one line per item that has a vector:
 * "<external id>:v1 v2 ... vdim" (users too when users = 1, to a separate
 * call); atomically. */
int jc_emb_export_text(const struct jc_emb *e, int users, const char *path);
/* Reads vectors in that format (or word2vec text format: a "count dim"
 * header line, then "<id> v1 ... vdim") keyed by external item ids of cat,
 * into a new embedding (status TRAINED for the items read). Unknown ids are
 * skipped and counted in *n_unknown (may be NULL). For benchmarks against
 * peers: their vectors go through the same evaluator. */
int jc_emb_import_text(const char *path, const struct jc_catalog *cat, int users,
                       struct jc_emb **io, uint64_t *n_unknown);

/*
 * Writes the vectors into the feature store (junco/store.h): item vectors
 * under "emb:<name>:<item ext id>", user vectors under
 * "emb:<name>.user:<user ext id>" (dim float32 each, little-endian), and
 * "meta:emb:<name>" (JSON: method, dim, counts, catalog checksum). Items
 * without a vector are skipped. *n_written (may be NULL) counts vectors.
 * Errors: the store's (JC_EIO, JC_ECONN, ...), JC_EINVAL for a bad name.
 */
struct jc_store;
int jc_emb_publish(const struct jc_emb *e, const char *name, struct jc_store *s,
                   const struct jc_progress *progress, uint64_t *n_written);

/* ---- user vectors from item vectors (incremental) ------------------------ */

/*
 * A user's running state: a recency-weighted mean of the vectors of the
 * items the user liked. With half-life h (seconds), an event at time t has
 * weight 2^(-(t_now - t) / h); h = 0 gives the plain mean. Folding an event
 * in is O(dim) and order-independent up to float rounding (events older
 * than t_last are down-weighted instead of decaying the sum).
 */
struct jc_emb_user_state {
    uint32_t dim;
    uint32_t n;     /* events folded in */
    double weight;  /* decayed sum of weights (relative to t_last) */
    int64_t t_last; /* newest event time folded in */
    float *sum;     /* borrowed: dim floats, decayed weighted sum of vectors */
};

/* Starts an empty state over a caller buffer of dim floats (zeroed). */
void jc_emb_user_state_init(struct jc_emb_user_state *st, float *sum_buf, uint32_t dim);
/* Folds the event (item vector vec, time t) in. JC_EINVAL for a negative
 * half-life or non-finite input. Thread: one state per thread at a time. */
int jc_emb_user_update(struct jc_emb_user_state *st, const float *vec, int64_t t, double half_life);
/* The current user vector (dim floats) into out; JC_ENOTFOUND when empty. */
int jc_emb_user_vector(const struct jc_emb_user_state *st, float *out);

/*
 * The user vector to serve: the factor vector if the embedding has one for
 * this user, else the recency-weighted mean of the item vectors of the
 * user's positives (value >= threshold) in the catalog with time < before
 * (INT64_MAX = all). JC_ENOTFOUND when the user has neither.
 */
int jc_emb_user_vector_for(const struct jc_emb *e, const struct jc_catalog *cat, uint32_t user,
                           double threshold, double half_life, int64_t before, float *out);

/* ---- search --------------------------------------------------------------- */

struct jc_emb_hit {
    uint32_t item;
    float score; /* higher is closer */
};

struct jc_emb_search_opts {
    int cosine;                 /* 1: cosine (default), 0: inner product */
    int include_derived;        /* 1: also return items with derived vectors */
    const uint8_t *exclude;     /* optional bitmap over items (bit i: skip item i) */
    const struct jc_ann *index; /* optional ANN index over this embedding's items */
    uint32_t ef;                /* HNSW candidate list (0 = index default) */
};
void jc_emb_search_opts_default(struct jc_emb_search_opts *o);

/*
 * The k items nearest to `query` (dim floats), sorted by descending score
 * (ties: ascending item id), into out[0..*n_out). Exact SIMD scan unless
 * opts->index is set (then the ANN index answers, with the same filters).
 * Thread-safe reader.
 */
int jc_emb_search(const struct jc_emb *e, const float *query, uint32_t k,
                  const struct jc_emb_search_opts *opts, struct jc_emb_hit *out, uint32_t *n_out);
/* Items similar to `item` (itself excluded). JC_ENOTFOUND if the item has
 * no vector. */
int jc_emb_similar(const struct jc_emb *e, uint32_t item, uint32_t k,
                   const struct jc_emb_search_opts *opts, struct jc_emb_hit *out, uint32_t *n_out);

/* ---- evaluation ------------------------------------------------------------ */

struct jc_embed_eval_opts {
    uint32_t k;                 /* cut-off (default 10) */
    double threshold;           /* positives (default 3.5) */
    double user_half_life;      /* for user vectors derived from item vectors */
    uint32_t ann_queries;       /* queries for ANN recall (default 1000) */
    const struct jc_ann *index; /* optional: measure its recall@k vs exact */
    int threads;
    struct jc_progress progress;
};
void jc_embed_eval_opts_default(struct jc_embed_eval_opts *o);

struct jc_embed_eval {
    uint32_t k;
    /* next-item: each test positive with an earlier positive of its user;
     * the user's earlier items are excluded from the ranking */
    uint64_t n_events;
    double hr_item, ndcg_item; /* neighbours of the last positive item */
    double hr_user, ndcg_user; /* neighbours of the user vector */
    /* full ranking: users with a test positive and a train positive; their
     * training items masked; ground truth = their test positives */
    uint32_t n_users;
    double ndcg_full, recall_full, hr_full;
    double ann_recall; /* recall@k of the index vs exact; -1 without index */
    double seconds;
};

/*
 * Evaluates the embedding on the temporal split (it should have been
 * trained with that split). Cosine ranks item-item; inner product ranks
 * user-item for ials/bpr, cosine for the others.
 */
int jc_embed_evaluate(const struct jc_catalog *cat, const struct jc_emb *e,
                      const struct jc_embed_split *split, const struct jc_embed_eval_opts *o,
                      struct jc_embed_eval *out);

#endif
