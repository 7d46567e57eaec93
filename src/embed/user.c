/*
 * user.c - user vectors built from item vectors, incrementally.
 *
 * The state keeps S = sum_k w_k v_k and W = sum_k w_k relative to the newest
 * event time t_last, with w_k = 2^(-(t_last - t_k) / h). A newer event first
 * decays S and W by 2^(-(t - t_last) / h), then adds its vector with weight
 * 1; an older event is added with weight 2^(-(t_last - t) / h). The user
 * vector is S / W. h = 0 means no decay (the plain mean). This is what the
 * nearline worker calls for every positive event of a user, at O(dim) cost.
 */
#include "embed_int.h"

#include <junco/error.h>

#include <math.h>
#include <string.h>

void jc_emb_user_state_init(struct jc_emb_user_state *st, float *sum_buf, uint32_t dim)
{
    st->dim = dim;
    st->n = 0;
    st->weight = 0.0;
    st->t_last = 0;
    st->sum = sum_buf;
    memset(sum_buf, 0, dim * sizeof *sum_buf);
}

int jc_emb_user_update(struct jc_emb_user_state *st, const float *vec, int64_t t, double half_life)
{
    if (!(half_life >= 0) || !isfinite(half_life))
        return jc_err_set(JC_EINVAL, "user vector: half-life %g invalid", half_life);
    for (uint32_t f = 0; f < st->dim; f++)
        if (!isfinite(vec[f]))
            return jc_err_set(JC_EINVAL, "user vector: non-finite component %u", f);
    double w = 1.0;
    if (st->n == 0) {
        st->t_last = t;
    } else if (half_life > 0) {
        if (t > st->t_last) {
            double decay = exp2(-(double)(t - st->t_last) / half_life);
            for (uint32_t f = 0; f < st->dim; f++)
                st->sum[f] = (float)(st->sum[f] * decay);
            st->weight *= decay;
            st->t_last = t;
        } else {
            w = exp2(-(double)(st->t_last - t) / half_life);
        }
    } else if (t > st->t_last) {
        st->t_last = t;
    }
    jc_embed__kernels()->axpy(st->sum, (float)w, vec, st->dim);
    st->weight += w;
    st->n++;
    /* The newest event has weight 1, so weight stays in [1, n]: no rescaling. */
    return JC_OK;
}

int jc_emb_user_vector(const struct jc_emb_user_state *st, float *out)
{
    if (st->n == 0 || !(st->weight > 0))
        return jc_err_set(JC_ENOTFOUND, "user vector: no events yet");
    float inv = (float)(1.0 / st->weight);
    for (uint32_t f = 0; f < st->dim; f++)
        out[f] = st->sum[f] * inv;
    return JC_OK;
}

int jc_emb_user_vector_for(const struct jc_emb *e, const struct jc_catalog *cat, uint32_t user,
                           double threshold, double half_life, int64_t before, float *out)
{
    uint32_t d = jc_emb_dim(e);
    const float *fv = jc_emb_user_vec(e, user);
    if (fv) {
        memcpy(out, fv, d * sizeof *out);
        return JC_OK;
    }
    if (user >= jc_catalog_n_users(cat))
        return jc_err_set(JC_ENOTFOUND, "user %u is not in the catalog", user);
    float sum[JC_EMB_MAX_DIM];
    struct jc_emb_user_state st;
    jc_emb_user_state_init(&st, sum, d);
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    uint64_t b, end;
    jc_catalog_user_range(cat, user, &b, &end);
    for (uint64_t p = b; p < end; p++) {
        if (ix.time[p] >= before || !(ix.value[p] >= threshold))
            continue;
        if (jc_emb_item_status(e, ix.item[p]) == JC_EMB_NONE)
            continue;
        int rc = jc_emb_user_update(&st, jc_emb_item_vec(e, ix.item[p]), ix.time[p], half_life);
        if (rc)
            return rc;
    }
    if (st.n == 0)
        return jc_err_set(JC_ENOTFOUND,
                          "user '%s' has no positive event with an item vector (value >= %g)",
                          jc_catalog_user_ext_id(cat, user), threshold);
    return jc_emb_user_vector(&st, out);
}
