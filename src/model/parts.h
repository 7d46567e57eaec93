/*
 * parts.h - building blocks shared by models of the zoo (see parts.c):
 * the linear part, hashed crosses (Wide&Deep) and the FM second order.
 */
#ifndef JC_MODEL_PARTS_H
#define JC_MODEL_PARTS_H

#include "model_int.h"

struct jc_lin {
    struct jc_input in; /* dim 1, numerics included */
    int pnum;           /* [n_num x 1] weights of the numeric columns, or -1 */
    int pbias;          /* [1] */
};

int jc_lin__build(struct jc_model *m, struct jc_lin *lin);
/* out[i] (written) = bias + sum of id weights + numeric weights; *X1 the
 * dim-1 input kept for the backward. */
int jc_lin__forward(const struct jc_model *m, const struct jc_lin *lin, struct jc_ws *ws,
                    const struct jc_batch *b, uint32_t r0, uint32_t n, enum jc_mode mode,
                    float **X1, float *out);
int jc_lin__backward(const struct jc_model *m, const struct jc_lin *lin, struct jc_ws *ws,
                     const struct jc_batch *b, uint32_t r0, uint32_t n, const float *X1,
                     const float *dlogit);

#define JC_CROSS_MAX 16
struct jc_cross {
    uint32_t n_pairs;
    uint32_t fa[JC_CROSS_MAX], fb[JC_CROSS_MAX]; /* item-side field x user-side field */
    uint32_t mask;                               /* buckets - 1 */
    int ptab;                                    /* [buckets x 1] table or -1 */
};

int jc_cross__build(struct jc_model *m, struct jc_cross *cr, uint32_t buckets);
/* out[i] += sum of the crossed weights of row i. */
void jc_cross__forward(const struct jc_model *m, const struct jc_cross *cr,
                       const struct jc_batch *b, uint32_t r0, uint32_t n, enum jc_mode mode,
                       float *out);
int jc_cross__backward(const struct jc_model *m, const struct jc_cross *cr, struct jc_ws *ws,
                       const struct jc_batch *b, uint32_t r0, uint32_t n, const float *dlogit);

struct jc_fm {
    const struct jc_input *in; /* the embedded input whose fields interact */
    int pV;                    /* [n_num x dim] vectors of numeric fields, or -1 */
};

int jc_fm__build(struct jc_model *m, struct jc_fm *fm, const struct jc_input *in);
/* out[i] += FM second order of row i of X [n x ldx]; *S [n x dim] kept. */
int jc_fm__forward(const struct jc_model *m, const struct jc_fm *fm, struct jc_ws *ws,
                   const float *X, uint32_t ldx, uint32_t n, enum jc_mode mode, float **S,
                   float *out);
/* dX [n x lddx] += gradient w.r.t. the field vectors; numeric vectors'
 * gradient into ws. */
void jc_fm__backward(const struct jc_model *m, const struct jc_fm *fm, struct jc_ws *ws,
                     const float *X, uint32_t ldx, uint32_t n, const float *S, const float *dlogit,
                     float *dX, uint32_t lddx);

#endif
