/*
 * eval_int.h - internals shared by the files of the evaluation module
 * (src/eval/): the top-L selection, the JSON of a result, the dense linear
 * algebra behind EASE (linalg.c is the only file that calls LAPACK/BLAS),
 * and the built-in model table.
 */
#ifndef JC_EVAL_INT_H
#define JC_EVAL_INT_H

#include <junco/eval.h>

#include <stddef.h>
#include <stdint.h>

struct jc_json;

/*
 * The ranking key of (score, item): larger = better, i.e. a higher score,
 * or on equal scores a lower item id. NaN ranks as -infinity and -0 as +0,
 * exactly as float comparison would order them. Keys of distinct items
 * differ, so selections on keys need no tie handling.
 */
static inline uint64_t jc_eval__key(float s, uint32_t item)
{
    uint32_t b;
    if (s != s)
        s = -__builtin_inff();
    if (s == 0.0f)
        s = 0.0f;
    __builtin_memcpy(&b, &s, sizeof b);
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((uint64_t)b << 32) | (uint32_t)~item;
}

static inline uint32_t jc_eval__key_item(uint64_t key)
{
    return ~(uint32_t)key;
}

/*
 * Ranks the unmasked items of scores[0..n) (masked: known_mark[i] == stamp,
 * n_known distinct items). On return *result points at the best
 * min(sorted_len, available) keys, sorted best first (the return value),
 * and target_rank[j] is the 0-based rank of targets[j] among the unmasked
 * items when it is below L (at least L candidates are examined), else
 * UINT32_MAX; masked targets get UINT32_MAX. keys and cand hold n entries,
 * sample n / 8 + 1, target_scratch 20 * n_targets + 4 bytes. select.c.
 */
size_t jc_eval__select(const float *scores, uint32_t n, const uint32_t *known_mark, uint32_t stamp,
                       size_t n_known, size_t L, size_t sorted_len, const uint32_t *targets,
                       size_t n_targets, uint32_t *target_rank, uint64_t *keys, uint64_t *cand,
                       float *sample, void *target_scratch, const uint64_t **result);

/* Writes a result object through an open JSON writer. evaluate.c. */
void jc_eval__result_json(struct jc_json *j, const struct jc_eval_result *r);

/*
 * In-place inverse of a symmetric positive definite n x n matrix a
 * (row-major, leading dimension n; only the upper triangle j >= i is
 * read, and both triangles are written on return).
 * Cholesky factorisation (spotrf) and inverse from it (spotri), then the
 * lower triangle is mirrored. Returns JC_OK, or JC_EINTERNAL with LAPACK's
 * info in the message (info > 0: not positive definite). linalg.c.
 */
int jc_eval__spd_inverse(float *a, size_t n);

/*
 * g += x^T x for a dense row block x (rows x m, row-major, leading dim m;
 * g is m x m row-major). Only the upper triangle of the row-major g (j >= i)
 * is updated, the triangle jc_eval__spd_inverse reads. BLAS ssyrk. linalg.c.
 */
int jc_eval__gram_update(const float *x, size_t rows, size_t m, float *g);

/*
 * EASE in the dual (Woodbury) form, for fewer users than items: with X the
 * nu x m binary matrix of the users' model indices (user a owns
 * u_idx[u_off[a]..u_off[a+1])), (lambda I + X^T X)^-1 =
 * (I - X^T (lambda I + X X^T)^-1 X) / lambda, so only an nu x nu matrix is
 * inverted (double Cholesky) and one m x nu x m product is formed (sgemm).
 * Writes B = I - P / diag(P) (zero diagonal) into b (m x m row-major,
 * leading dim m). Mathematically the same B as the primal form; in floating
 * point it differs in the last bits. linalg.c.
 */
int jc_eval__ease_dual(const uint64_t *u_off, const uint32_t *u_idx, uint32_t nu, uint32_t m,
                       double lambda, float *b);

/* The reference kernel for the tests: Gauss-Jordan inverse in double of the
 * same matrix (n x n row-major), into out. linalg.c. */
int jc_eval__spd_inverse_ref(const float *a, size_t n, double *out);

/* Registers the built-in models (popularity, itemknn, ease; then ials and
 * bpr through jc_eval__register_mf). Called once, under pthread_once.
 * models.c. */
void jc_eval__builtin_models(void);
/* Adds a model to the registry without triggering the built-ins (for use
 * from jc_eval__builtin_models). models.c. */
int jc_eval__model_add(const struct jc_eval_model *m);
/* Registers "ials" and "bpr" (embeddings module adapters). mf_adapter.c. */
void jc_eval__register_mf(void);
/* Registers the ranking models of the zoo ("lr" ... "dcn", params epochs
 * and negatives). deep.c. */
void jc_eval__register_deep(void);

/* Writes the part as a catalog file at path with the user / item ids,
 * genres and years of cat and only the part's interactions (value 1 when
 * the part has none), so models trained on it see exactly the training
 * data and keep the evaluation's ids. JC_EINTERNAL if cat's ids are not
 * dense in order; builder and I/O errors. deep.c. */
int jc_eval__write_part_catalog(const struct jc_catalog *cat, const struct jc_eval_part *p,
                                const char *path);
/* Registers "pipeline" (pipeline.c). */
void jc_eval__register_pipeline(void);

/* ---- the report (filled by suite.c, rendered by report.c) ---------------- */

struct jc_eval__model_run {
    const struct jc_eval_model *model; /* registry entry (static lifetime) */
    size_t n_params;
    struct jc_eval_param space[JC_EVAL_MAX_PARAMS]; /* the space searched */
    struct jc_search_result search;                 /* objective of this protocol */
    double params[JC_EVAL_MAX_PARAMS];              /* the chosen parameters */
    struct jc_eval_result test;
    double valid_objective;
    double fit_seconds;   /* the final fit */
    double total_seconds; /* search + final fit + test */
    int failed;           /* error code, 0 on success */
    char error[256];
};

struct jc_eval__proto_run {
    enum jc_eval_protocol proto;
    struct jc_split_info split;
    size_t n_models;
    struct jc_eval__model_run models[JC_EVAL_MAX_MODELS];
};

struct jc_eval__extra {
    char *section;
    char *svg; /* rendered plot, or NULL for a table */
    size_t n_cols, n_rows;
    char **cells; /* (n_rows + 1) x n_cols, header first */
};

struct jc_eval_report {
    uint64_t catalog_checksum;
    uint32_t n_users, n_items;
    uint64_t n_interactions;
    int64_t created; /* Unix seconds */
    uint64_t seed;
    char metric[32];
    int refit;
    enum jc_search_strategy strategy;
    uint32_t budget;
    struct jc_eval_config eval; /* ks, recall_ns, negatives, segments */
    struct jc_split_config split;
    double seconds;
    size_t n_protos;
    struct jc_eval__proto_run *protos; /* n_protos */
    size_t n_extras;
    struct jc_eval__extra *extras;
    size_t n_ctr; /* the CTR protocol's table (jc_eval_report_add_ctr) */
    struct jc_eval_ctr_result *ctr;
};

#endif
