/*
 * model_int.h - internals shared by the files of src/model/.
 *
 * A model is: a config, a copy of the feature layout, a set of named
 * parameters (dense tensors in one flat array + embedding tables with
 * row-sparse updates), and a kind-specific ops table with forward and
 * backward passes written by hand over workspace buffers.
 *
 * Workspaces (struct jc_ws): one per training shard or scorer. They own the
 * dense gradient buffer, one sparse accumulator per table, the logits, and a
 * block arena for activations: arena blocks are never moved or freed until
 * the workspace dies, so after the first (largest) batch no allocation
 * happens. Forward stores its activations in the kind's state struct
 * (ws->st) for the backward.
 *
 * Modes: TRAIN (dropout and batch statistics on, one user per row),
 * EVAL (one user per row), SHARED (serving: rows are candidates of one
 * request, user/context-side inputs are read from the first row only and
 * their first-layer products computed once).
 */
#ifndef JC_MODEL_INT_H
#define JC_MODEL_INT_H

#include <junco/model.h>

#include "core/rng.h"

#include <stddef.h>
#include <stdint.h>

#define JC_MODEL_MAX_PARAMS 96
#define JC_PARAM_NAME_MAX   40

enum jc_mode {
    JC_MODE_TRAIN = 0,
    JC_MODE_EVAL = 1,
    JC_MODE_SHARED = 2,
};

enum jc_pgroup {
    JC_PG_DEEP = 0,   /* cfg.opt */
    JC_PG_WIDE = 1,   /* cfg.opt_wide */
    JC_PG_BUFFER = 2, /* not trained (running statistics) */
};

struct jc_mparam {
    char name[JC_PARAM_NAME_MAX];
    uint32_t rows, cols; /* tensor [rows x cols], row-major */
    uint8_t sparse;      /* embedding table: row-sparse gradient and updates */
    uint8_t group;       /* enum jc_pgroup */
    uint8_t init;        /* enum jc_init_kind */
    float init_scale;
    size_t off;     /* dense: offset into the flat arrays */
    uint32_t sidx;  /* sparse: index of its accumulator in jc_ws.sg */
    float *w;       /* weights (dense: into m->flat_w) */
    float *s1, *s2; /* optimizer state or NULL */
};

struct jc_model_ops;

struct jc_model {
    struct jc_model_config cfg;
    struct jc_feat_layout layout;
    const struct jc_model_ops *ops;
    uint32_t n_params;
    struct jc_mparam p[JC_MODEL_MAX_PARAMS];
    size_t n_dense;           /* floats in the flat arrays */
    float *flat_w;            /* [n_dense] dense weights (aligned) */
    float *flat_s1, *flat_s2; /* [n_dense] dense optimizer state */
    uint32_t n_sparse;
    uint32_t slots_per_row[JC_FEAT_MAX_VOCABS + 8]; /* per sparse param: max ids per row */
    uint64_t step;                                  /* optimizer steps taken */
    void *impl;                                     /* kind-specific (owned) */
    void *spec;                                     /* feature spec blob (owned) */
    size_t spec_len;
    char *info; /* training facts JSON (owned) */
};

/* Arena block list of a workspace. */
struct jc_arena_block {
    struct jc_arena_block *next;
    size_t cap, used; /* floats */
    float *data;
};

struct jc_ws {
    const struct jc_model *m;
    uint32_t cap;        /* max rows per call */
    float *logit;        /* [cap] */
    float *dlogit;       /* [cap] */
    float *grad;         /* [n_dense] dense gradient (training only) */
    struct jc_sgrad *sg; /* [n_sparse] (training only) */
    int has_grad;
    struct jc_rng rng; /* dropout stream of this step and shard */
    double loss;       /* sum of losses of the last forward (training) */
    uint32_t n_rows;   /* rows of the last forward */
    struct jc_arena_block *blocks;
    struct jc_arena_block *cur;
    void *st; /* kind-specific activations (owned, zeroed at create) */
    size_t st_size;
};

struct jc_model_ops {
    enum jc_model_kind kind;
    /* Declares parameters (jc_model__param) and fills m->impl. */
    int (*build)(struct jc_model *m);
    void (*free_impl)(struct jc_model *m);
    size_t st_size;
    /* Computes ws->logit[0..n) for rows [r0, r0+n) of b. */
    int (*forward)(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                   uint32_t r0, uint32_t n, enum jc_mode mode);
    /* Optional custom loss (sets ws->loss, its own gradients); else BCE. */
    int (*loss)(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b, uint32_t r0,
                uint32_t n, float scale);
    /* Accumulates gradients (ws->grad, ws->sg) from ws->dlogit. */
    int (*backward)(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                    uint32_t r0, uint32_t n);
    /* Optional: after an optimizer step, with the shards' workspaces. */
    void (*after_step)(struct jc_model *m, struct jc_ws **ws, uint32_t n_ws);
};

/* ---- params.c ---------------------------------------------------------- */

/* Declares a parameter; returns its index or a negative error. Tables
 * (sparse) get slots_per_row = the most ids one row can touch. */
int jc_model__param(struct jc_model *m, const char *name, uint32_t rows, uint32_t cols, int sparse,
                    enum jc_pgroup group, enum jc_init_kind init, float scale);
/* Allocates the flat arrays and tables and initialises them (seeded). */
int jc_model__alloc_params(struct jc_model *m);
void jc_model__free_params(struct jc_model *m);
/* Index of the parameter with this name or -1. */
int jc_model__find_param(const struct jc_model *m, const char *name);
/* Applies one optimizer step from ws (dense grad + sparse rows). */
void jc_model__apply(struct jc_model *m, struct jc_ws *ws);
/* The same for slice k of K of parameter pi (dense elements or touched
 * rows), after m->step was incremented: slices are independent, so a pool
 * may run them in any order with identical results. */
void jc_model__apply_slice(struct jc_model *m, struct jc_ws *ws, uint32_t pi, uint32_t k,
                           uint32_t K);
static inline float *jc_model__w(const struct jc_model *m, int p)
{
    return m->p[p].w;
}
static inline float *jc_ws__g(struct jc_ws *ws, const struct jc_model *m, int p)
{
    return ws->grad + m->p[p].off;
}

/* ---- ws.c -------------------------------------------------------------- */

int jc_ws_init(struct jc_ws *ws, const struct jc_model *m, uint32_t cap, int with_grad);
int jc_ws_enable_grad(struct jc_ws *ws);
void jc_ws_free(struct jc_ws *ws);
/* Zeroes the dense gradient and resets the sparse accumulators. */
void jc_ws_zero_grad(struct jc_ws *ws);
/* Arena: forget all takes (keeps blocks). */
void jc_ws_arena_reset(struct jc_ws *ws);
/* n floats (64-byte aligned, NOT zeroed) valid until the next reset; NULL
 * on allocation failure (message set). */
float *jc_ws_take(struct jc_ws *ws, size_t n);
float *jc_ws_take0(struct jc_ws *ws, size_t n); /* zeroed */

/* ---- input.c: embedded fields assembled into one row vector ------------- */

#define JC_INPUT_MAX_FIELDS JC_FEAT_MAX_FIELDS

/*
 * The input of a network: the embedded categorical fields (mean-pooled)
 * followed by the numeric fields, ordered user/context side first, then the
 * item side. A row of X (width `width`) is
 *   [ Eu (n_fu*dim) | Nu (n_nu) | Ei (n_fi*dim) | Ni (n_ni) ]
 * and ku = n_fu*dim + n_nu is where the item side starts.
 */
struct jc_input {
    uint32_t dim;
    uint32_t n_f, n_fu;                    /* embedded fields, of which user side */
    uint32_t field[JC_INPUT_MAX_FIELDS];   /* layout field index */
    int table[JC_INPUT_MAX_FIELDS];        /* parameter index of its table */
    uint32_t col[JC_INPUT_MAX_FIELDS];     /* first column in X */
    uint32_t n_num, n_nu;                  /* numeric fields, of which user side */
    uint32_t num_off[JC_INPUT_MAX_FIELDS]; /* offset in batch num[] */
    uint32_t num_col[JC_INPUT_MAX_FIELDS]; /* column in X */
    uint32_t ku, width;
};

/* Which fields an input takes. */
enum jc_input_sel {
    JC_IN_ALL = 0,
    JC_IN_NO_NUM = 1, /* categorical only */
};

/*
 * Builds an input over every CAT/MULTI/SEQ field except `skip_field` (-1 for
 * none), with tables named "<prefix><vocab>" of width dim (created on first
 * use, shared by fields of the same vocabulary), and the numeric fields
 * unless sel says otherwise.
 */
int jc_input__build(struct jc_model *m, struct jc_input *in, const char *prefix, uint32_t dim,
                    int skip_field, enum jc_input_sel sel, enum jc_pgroup group,
                    enum jc_init_kind init, float scale);
/* Fills X [n x ldx] columns [0, width) for rows r0.. of b. In SHARED mode
 * the user part is filled in row 0 only. JC_ERANGE for a bad id. */
int jc_input__forward(const struct jc_model *m, const struct jc_input *in, const struct jc_batch *b,
                      uint32_t r0, uint32_t n, enum jc_mode mode, float *X, uint32_t ldx);
/* Sends dX [n x ldx] (columns of the embedded fields) to the tables'
 * sparse gradients. */
int jc_input__backward(const struct jc_model *m, const struct jc_input *in, struct jc_ws *ws,
                       const struct jc_batch *b, uint32_t r0, uint32_t n, const float *dX,
                       uint32_t ldx);

/* ---- mlp.c: a stack of dense layers ------------------------------------ */

struct jc_mlp {
    uint32_t n_layers;
    uint32_t dim[JC_MODEL_MAX_HIDDEN + 2]; /* dim[0] input, dim[l+1] output of layer l */
    enum jc_nn_act act;
    int linear_last; /* last layer without activation/norm/dropout */
    int layer_norm;
    float dropout;
    int pW[JC_MODEL_MAX_HIDDEN + 1], pb[JC_MODEL_MAX_HIDDEN + 1];
    int pa[JC_MODEL_MAX_HIDDEN + 1];                                 /* PReLU / Dice alpha */
    int prm[JC_MODEL_MAX_HIDDEN + 1];                                /* Dice running mean */
    int prv[JC_MODEL_MAX_HIDDEN + 1];                                /* Dice running var */
    int pg[JC_MODEL_MAX_HIDDEN + 1], pbeta[JC_MODEL_MAX_HIDDEN + 1]; /* LN */
};

/* Activations of one forward of an MLP (taken from the ws arena). */
struct jc_mlp_st {
    uint32_t n;
    const float *X;
    uint32_t ldx;
    float *Z[JC_MODEL_MAX_HIDDEN + 1]; /* pre-activation (after LN) */
    float *H[JC_MODEL_MAX_HIDDEN + 1]; /* outputs */
    float *P[JC_MODEL_MAX_HIDDEN + 1]; /* Dice probabilities */
    float *mask[JC_MODEL_MAX_HIDDEN + 1];
    float *xhat[JC_MODEL_MAX_HIDDEN + 1], *rstd[JC_MODEL_MAX_HIDDEN + 1];
    float *bm[JC_MODEL_MAX_HIDDEN + 1], *bv[JC_MODEL_MAX_HIDDEN + 1];
    float *Zlin[JC_MODEL_MAX_HIDDEN + 1]; /* dense output before LN */
};

/* Declares an MLP in -> hidden[0..nh) (-> out if out > 0, linear). */
int jc_mlp__build(struct jc_model *m, struct jc_mlp *mlp, const char *name, uint32_t in,
                  const uint32_t *hidden, uint32_t nh, uint32_t out, enum jc_nn_act act,
                  float dropout, int layer_norm);
static inline uint32_t jc_mlp__out(const struct jc_mlp *mlp)
{
    return mlp->dim[mlp->n_layers];
}
/*
 * Forward over n rows of X [n x ldx]. SHARED mode with ku > 0: the first
 * layer's product over columns [0, ku) is computed from row 0 only and
 * broadcast. The output is st->H[n_layers - 1] [n x out].
 */
int jc_mlp__forward(const struct jc_model *m, const struct jc_mlp *mlp, struct jc_ws *ws,
                    struct jc_mlp_st *st, const float *X, uint32_t ldx, uint32_t n,
                    enum jc_mode mode, uint32_t ku);
static inline float *jc_mlp__output(const struct jc_mlp *mlp, const struct jc_mlp_st *st)
{
    return st->H[mlp->n_layers - 1];
}
/* Backward from dOut [n x out] (modified in place); dX [n x lddx] += (may
 * be NULL). */
int jc_mlp__backward(const struct jc_model *m, const struct jc_mlp *mlp, struct jc_ws *ws,
                     struct jc_mlp_st *st, float *dOut, float *dX, uint32_t lddx);
/* Dice running statistics update from the shards' batch statistics. */
void jc_mlp__after_step(struct jc_model *m, const struct jc_mlp *mlp, struct jc_mlp_st **sts,
                        uint32_t n_st);

/* ---- zoo.c ------------------------------------------------------------- */

const struct jc_model_ops *jc_model__ops(enum jc_model_kind kind);

/* ---- model.c ----------------------------------------------------------- */

/* Builds m (already holding cfg and layout): ops, params, allocation. */
int jc_model__build(struct jc_model *m);
/* Checks that every id of rows [r0, r0+n) is inside its vocabulary. */
int jc_model__check_ids(const struct jc_model *m, const struct jc_batch *b, uint32_t r0, uint32_t n,
                        enum jc_mode mode);

/* One training step of rows [r0, r0+n) on ws: forward, loss (mean over
 * `total` rows), backward. Does not zero or apply gradients. */
int jc_model__train_shard(const struct jc_model *m, struct jc_ws *ws, const struct jc_batch *b,
                          uint32_t r0, uint32_t n, uint32_t total);

#endif
