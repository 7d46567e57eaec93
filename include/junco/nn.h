/*
 * junco/nn.h - the neural-network core: dense kernels, layers with explicit
 * forward/backward, sparse (row-wise) gradients for embedding tables, losses,
 * optimizers and initialisers.
 *
 * Design. There is no autograd graph: every layer is a pair of functions
 * (forward, backward) over caller-owned buffers, and a model (src/model/)
 * chains them by hand. This keeps the hot paths allocation-free and lets a
 * model exploit structure (e.g. user-side fields shared by every candidate).
 *
 * Conventions used by every numeric declaration below:
 *   - all matrices are row-major float32; "A [m x k], lda" means element
 *     (i, j) is A[i * lda + j] with lda >= k;
 *   - a dense layer's weight W is stored [in x out] so Y = X W + b;
 *   - gradient arguments named d* are ACCUMULATED into (+=) unless the
 *     contract says "written"; callers zero them once per step;
 *   - inputs and outputs never alias unless the contract says so.
 * Only src/nn/blas.c calls BLAS (single-threaded OpenBLAS: parallelism is at
 * the training level); jc_nn_gemm_ref is the naive reference beside it.
 *
 * Threading: every function here is reentrant and touches only its
 * arguments; a struct jc_sgrad belongs to one thread at a time.
 */
#ifndef JUNCO_NN_H
#define JUNCO_NN_H

#include <stddef.h>
#include <stdint.h>

struct jc_rng;

/* ---- matrix multiply --------------------------------------------------- */

/*
 * C = alpha * op(A) op(B) + beta * C, row-major, op(X) = X or X^T.
 * op(A) is [m x k], op(B) is [k x n], C is [m x n] with leading dim ldc.
 * A is stored [m x k] (lda >= k) when !ta, else [k x m] (lda >= m); the same
 * for B. C must not alias A or B. With beta == 0, C need not be initialised.
 * m, n or k == 0 is allowed (C is scaled by beta, or left alone if m*n==0).
 */
void jc_nn_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);
/* The same contract, computed with plain loops in double precision (tests). */
void jc_nn_gemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc);
/* Number of sgemm calls made by this process (instrumentation for benches). */
uint64_t jc_nn_gemm_calls(void);

/* ---- small vector kernels (SIMD, runtime-dispatched) -------------------- */

/* y[i] += a * x[i], i < n. x and y may not overlap. */
void jc_nn_axpy(size_t n, float a, const float *x, float *y);
/* Sum of x[i] * y[i]. */
float jc_nn_dot(size_t n, const float *x, const float *y);
/* Y [rows x n] (ld n): Y[r] += b for every row r. */
void jc_nn_add_row(size_t rows, size_t n, const float *b, float *Y);
/* db[j] += sum over rows r of dY[r * n + j]. */
void jc_nn_colsum(size_t rows, size_t n, const float *dY, float *db);

/* ---- dense layer ------------------------------------------------------- */

/*
 * Y [rows x out] (ld out, written) = X [rows x in] (ld ldx) W [in x out] + b [out].
 * b may be NULL.
 */
void jc_nn_dense_forward(int rows, int in, int out, const float *X, int ldx, const float *W,
                         const float *b, float *Y);
/*
 * Backward of jc_nn_dense_forward given dY [rows x out] (ld out):
 * dW [in x out] += X^T dY; db [out] += colsum dY (db may be NULL);
 * dX [rows x in] (ld lddx) += dY W^T when dX is not NULL (it is accumulated,
 * so dX may hold gradient from other consumers of X).
 */
void jc_nn_dense_backward(int rows, int in, int out, const float *X, int ldx, const float *W,
                          const float *dY, float *dW, float *db, float *dX, int lddx);

/* ---- activations (elementwise over n values unless stated) ------------- */

enum jc_nn_act {
    JC_ACT_NONE = 0,
    JC_ACT_RELU = 1,
    JC_ACT_SIGMOID = 2,
    JC_ACT_TANH = 3,
    JC_ACT_PRELU = 4, /* per-channel slope alpha [cols] */
    JC_ACT_DICE = 5,  /* DIN's data-adaptive activation, per channel */
};

/* Name <-> enum ("relu", "prelu", "dice", "sigmoid", "tanh", "none"). */
const char *jc_nn_act_name(enum jc_nn_act a);
int jc_nn_act_parse(const char *s, enum jc_nn_act *out);

/* y = act(x) for RELU/SIGMOID/TANH/NONE. y may alias x. */
void jc_nn_act_forward(enum jc_nn_act a, size_t n, const float *x, float *y);
/* dx (written) = dy * act'(x), from the output y of the forward (y = act(x)).
 * dx may alias dy. */
void jc_nn_act_backward(enum jc_nn_act a, size_t n, const float *y, const float *dy, float *dx);

/* PReLU over X [rows x cols]: y = x > 0 ? x : alpha[c] * x. Y may alias X. */
void jc_nn_prelu_forward(size_t rows, size_t cols, const float *X, const float *alpha, float *Y);
/* dX (written) = dY * (x > 0 ? 1 : alpha); dalpha[c] += sum dY * min(x, 0).
 * X is the forward input; dX may alias dY. */
void jc_nn_prelu_backward(size_t rows, size_t cols, const float *X, const float *alpha,
                          const float *dY, float *dX, float *dalpha);

/*
 * Dice (Zhou et al., DIN): y = x * (alpha + (1 - alpha) * p),
 * p = sigmoid((x - mean) / sqrt(var + eps)) per column c.
 * train != 0: mean/var are the statistics of these rows (written to
 * batch_mean/batch_var [cols]); else the running statistics are used.
 * X [rows x cols], Y written (must not alias X), P [rows x cols] written
 * (kept for the backward).
 */
void jc_nn_dice_forward(size_t rows, size_t cols, const float *X, const float *alpha,
                        const float *run_mean, const float *run_var, int train, float *batch_mean,
                        float *batch_var, float *P, float *Y);
/* Backward through Dice including the batch statistics (train mode).
 * dX written (must not alias dY); dalpha [cols] accumulated. */
void jc_nn_dice_backward(size_t rows, size_t cols, const float *X, const float *alpha,
                         const float *batch_var, const float *P, const float *dY, float *dX,
                         float *dalpha);
#define JC_NN_DICE_EPS 1e-8f

/*
 * Layer normalisation per row: y = g * (x - mu) / sqrt(var + eps) + b.
 * X, Y [rows x cols]; Y may alias X. xhat [rows x cols] and rstd [rows] are
 * written for the backward.
 */
void jc_nn_layernorm_forward(size_t rows, size_t cols, const float *X, const float *g,
                             const float *b, float *xhat, float *rstd, float *Y);
/* dX written (may not alias dY); dg, db [cols] accumulated. */
void jc_nn_layernorm_backward(size_t rows, size_t cols, const float *xhat, const float *rstd,
                              const float *g, const float *dY, float *dX, float *dg, float *db);
#define JC_NN_LN_EPS 1e-5f

/* Inverted dropout: mask[i] = 0 or 1/(1-p), y = x * mask. y may alias x. */
void jc_nn_dropout_forward(size_t n, float p, struct jc_rng *rng, const float *x, float *mask,
                           float *y);

/* ---- losses ------------------------------------------------------------ */

/* Numerically stable sigmoid and log(1 + exp(x)). */
float jc_nn_sigmoid(float x);
double jc_nn_softplus(double x);

/*
 * Binary cross-entropy with logits over n rows: returns the SUM of per-row
 * losses (weighted by w[i] if w is not NULL); dz[i] (written, may be NULL) =
 * scale * w[i] * (sigmoid(z[i]) - y[i]). Use scale = 1/batch for a mean loss.
 */
double jc_nn_bce_logits(size_t n, const float *z, const float *y, const float *w, float scale,
                        float *dz);

/*
 * Sampled softmax with in-batch negatives (two-tower retrieval loss):
 * logits S [n x n] (ld n) = U V^T / temperature, where row i's positive is
 * column i and every other column is a negative. Only rows with
 * is_query[i] != 0 (e.g. label 1) contribute. Returns the SUM of
 * -log softmax(S[i])[i] over query rows; dS [n x n] written = scale *
 * (softmax - onehot) / temperature on query rows, 0 elsewhere.
 * Optional logq [n] (log sampling probability of each column's item) is
 * subtracted from the logits (the usual popularity correction).
 */
double jc_nn_softmax_inbatch(size_t n, const float *S, const float *is_query, const float *logq,
                             float temperature, float scale, float *dS);

/* ---- sparse gradients of embedding tables ------------------------------ */

/*
 * Row-sparse gradient accumulator for one table [vocab x dim]: a set of
 * touched rows (in first-touch order, so reductions are deterministic), each
 * with a dim-float gradient. Capacity is fixed at init (no allocation later).
 */
struct jc_sgrad {
    uint32_t dim;
    uint32_t n;      /* touched rows */
    uint32_t cap;    /* max touched rows */
    uint32_t *rows;  /* [cap] row ids, first-touch order */
    float *g;        /* [cap x dim] gradients of rows[i] */
    uint32_t *pos;   /* [cap] hash slot of rows[i] (for O(n) reset) */
    uint32_t *table; /* [mask+1] slot -> index+1 (0 = empty) */
    uint32_t mask;
};

int jc_sgrad_init(struct jc_sgrad *s, uint32_t dim, uint32_t cap);
void jc_sgrad_free(struct jc_sgrad *s);
/* Forgets every touched row (O(touched)). */
void jc_sgrad_reset(struct jc_sgrad *s);
/* The gradient row of `row` (zeroed on first touch), or NULL when the
 * accumulator is full (callers size cap so that this cannot happen). */
float *jc_sgrad_row(struct jc_sgrad *s, uint32_t row);
/* dst += src, visiting src in its first-touch order. JC_ELIMIT if dst
 * overflows (cap too small). */
int jc_sgrad_merge(struct jc_sgrad *dst, const struct jc_sgrad *src);

/*
 * Pooled embedding lookup of one multi-slot field: out[dim] (written) = mean
 * of table rows ids[0..width) that are not 0 (padding); all-padding gives 0.
 * Returns the number of non-padding ids. Ids must be < vocab (checked by the
 * caller once per batch).
 */
uint32_t jc_nn_embed_pool(const float *table, uint32_t dim, const uint32_t *ids, uint32_t width,
                          float *out);
/* Backward of jc_nn_embed_pool: each non-padding id's row gets dout / count.
 * JC_ELIMIT if the accumulator is full. */
int jc_nn_embed_pool_backward(struct jc_sgrad *sg, const uint32_t *ids, uint32_t width,
                              const float *dout);

/* ---- optimizers -------------------------------------------------------- */

enum jc_optim_kind {
    JC_OPTIM_NONE = 0, /* not trained (buffers such as running statistics) */
    JC_OPTIM_SGD = 1,
    JC_OPTIM_ADAGRAD = 2,
    JC_OPTIM_ADAM = 3, /* lazy (only touched rows) on embedding tables */
    JC_OPTIM_FTRL = 4, /* FTRL-proximal (McMahan et al. 2013) */
};

const char *jc_optim_name(enum jc_optim_kind k);
int jc_optim_parse(const char *s, enum jc_optim_kind *out);

struct jc_optim_config {
    enum jc_optim_kind kind;
    float lr;           /* SGD/Adagrad/Adam step size; FTRL alpha */
    float beta1, beta2; /* Adam moments (0.9, 0.999) */
    float eps;          /* Adam/Adagrad epsilon (1e-8 / 1e-10) */
    float l2;           /* decoupled L2 (SGD/Adagrad/Adam: added to the gradient) */
    float ftrl_beta;    /* FTRL beta (1.0) */
    float ftrl_l1;      /* FTRL L1 (0) */
    float ftrl_l2;      /* FTRL L2 (0) */
    float adagrad_init; /* Adagrad initial accumulator (0.1 in the paper/PyTorch 0) */
};

void jc_optim_config_default(struct jc_optim_config *c, enum jc_optim_kind kind);

/*
 * One optimizer step on n contiguous weights w with gradient g. State:
 * Adagrad s1 = sum of squares; Adam s1 = m, s2 = v; FTRL s1 = z, s2 = n
 * (w is recomputed from z and n); SGD uses none (may be NULL).
 * step is the 1-based count of steps of this parameter (Adam's bias
 * correction; lazy Adam passes the global step for table rows, like
 * PyTorch SparseAdam). g is not modified.
 */
void jc_optim_step(const struct jc_optim_config *c, size_t n, float *w, const float *g, float *s1,
                   float *s2, uint64_t step);
/* The same step split in two, for many runs of one parameter in one step
 * (the touched rows of a table): prepare computes the per-step factors
 * (Adam's bias corrections) once, apply updates one run. */
struct jc_optim_step {
    const struct jc_optim_config *c; /* borrowed */
    float lr_t, eps_t;
};
void jc_optim_prepare(const struct jc_optim_config *c, uint64_t step, struct jc_optim_step *st);
void jc_optim_apply(const struct jc_optim_step *st, size_t n, float *w, const float *g, float *s1,
                    float *s2);
/* Number of state arrays (0, 1 or 2) an optimizer kind needs. */
int jc_optim_n_state(enum jc_optim_kind k);
/* Initial value of state array i (Adagrad's accumulator starts at
 * adagrad_init; everything else at 0). */
float jc_optim_state_init(const struct jc_optim_config *c, int i);

/* ---- initialisers ------------------------------------------------------ */

enum jc_init_kind {
    JC_INIT_ZERO = 0,
    JC_INIT_XAVIER = 1,  /* uniform +-sqrt(6 / (fan_in + fan_out)) */
    JC_INIT_HE = 2,      /* normal(0, sqrt(2 / fan_in)) */
    JC_INIT_NORMAL = 3,  /* normal(0, scale) */
    JC_INIT_UNIFORM = 4, /* uniform +-scale */
    JC_INIT_CONST = 5,   /* every value = scale */
};

/* Fills w [rows x cols] (fan_in = rows, fan_out = cols for a dense W). */
void jc_nn_init(enum jc_init_kind k, float scale, struct jc_rng *rng, size_t rows, size_t cols,
                float *w);

#endif
