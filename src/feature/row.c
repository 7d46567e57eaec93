/*
 * row.c - the per-field code that turns features into model rows, shared by
 * the offline job (raw rows into sample files), the sample reader (finishing
 * raw rows into batches) and online serving (jc_featspec_build_batch, which
 * does both in one go).
 *
 * A row is built in two steps. "Raw" computes each field's values from the
 * user features, item features and context: catalog ids + 1 for id slots,
 * numbers as they are (bucketised numeric columns keep the float's bits in
 * their categorical slot). "Finish" maps raw ids through the vocabulary
 * (0 stays padding, unknown ids become OOV) and normalises numbers with the
 * statistics fitted on the training split. Both steps take a side mask, so
 * serving computes the user and context fields once per request and only
 * the item fields per candidate.
 */
#include "feature/feat_int.h"

#include <junco/error.h>

#include <math.h>
#include <string.h>

static inline uint32_t raw_id(uint32_t id)
{
    return id == JC_ID_NONE ? JC_RAW_OOV : id + 1;
}

static float num_value(const struct jc_featspec *s, const struct jc_fspec_field *f,
                       const struct jc_row_src *src)
{
    static const struct jc_item_feats no_item;
    const struct jc_item_feats *itf = src->itf ? src->itf : &no_item;
    const struct jc_user_feats *uf = src->uf;
    switch (f->src) {
    case JC_SRC_RELEASE_YEAR:
        return (float)jc_featspec__item_year(s, src->item);
    case JC_SRC_M_COUNT:
        return (float)itf->rating_count;
    case JC_SRC_M_AVG:
        return itf->avg_rating;
    case JC_SRC_M_STD:
        return itf->std_rating;
    case JC_SRC_U_COUNT:
        return uf ? (float)uf->rating_count : 0.0f;
    case JC_SRC_U_AVG_YEAR:
        return uf ? uf->avg_year : 0.0f;
    case JC_SRC_U_STD_YEAR:
        return uf ? uf->std_year : 0.0f;
    case JC_SRC_U_AVG:
        return uf ? uf->avg_rating : 0.0f;
    case JC_SRC_U_STD:
        return uf ? uf->std_rating : 0.0f;
    default:
        return 0.0f;
    }
}

void jc_featspec__raw_fields(const struct jc_featspec *s, const struct jc_row_src *src,
                             unsigned sides, uint32_t *cat, float *num)
{
    const struct jc_feat_layout *L = &s->layout;
    const struct jc_user_feats *uf = src->uf;
    const uint8_t *list = s->side_fields[sides & 7u];
    for (uint32_t j = 0, nj = s->n_side_fields[sides & 7u]; j < nj; j++) {
        uint32_t i = list[j];
        const struct jc_feat_field *lf = &L->fields[i];
        const struct jc_fspec_field *f = &s->f[i];
        if (f->dom == JC_DOM_NUM) {
            num[lf->offset] = num_value(s, f, src);
            continue;
        }
        uint32_t *out = cat + lf->offset;
        if (f->dom == JC_DOM_BUCKET) {
            float v = num_value(s, f, src);
            memcpy(out, &v, 4);
            continue;
        }
        uint32_t w = lf->width;
        if (w == 1)
            out[0] = 0;
        else
            memset(out, 0, (size_t)w * sizeof *out);
        switch (f->src) {
        case JC_SRC_USER_ID:
            out[0] = raw_id(src->user);
            break;
        case JC_SRC_MOVIE_ID:
            out[0] = raw_id(src->item);
            break;
        case JC_SRC_MOVIE_GENRE:
        case JC_SRC_MOVIE_GENRES: {
            if (s->cat == NULL || src->item >= jc_catalog_n_items(s->cat))
                break;
            const uint16_t *g;
            uint32_t ng = jc_catalog_item_genres(s->cat, src->item, &g);
            if (f->src == JC_SRC_MOVIE_GENRE) {
                if (f->k < ng)
                    out[0] = (uint32_t)g[f->k] + 1;
            } else {
                for (uint32_t k = 0; k < w && k < ng; k++)
                    out[k] = (uint32_t)g[k] + 1;
            }
            break;
        }
        case JC_SRC_U_RATED:
            if (uf && f->k < uf->n_rated)
                out[0] = raw_id(uf->rated[f->k]);
            break;
        case JC_SRC_U_GENRE:
            if (uf && f->k < uf->n_top_genres)
                out[0] = uf->top_genres[f->k] + 1;
            break;
        case JC_SRC_U_GENRES:
            for (uint32_t k = 0; uf && k < w && k < uf->n_top_genres; k++)
                out[k] = uf->top_genres[k] + 1;
            break;
        case JC_SRC_U_HISTORY:
            for (uint32_t k = 0; uf && k < w && k < uf->n_hist; k++)
                out[k] = raw_id(uf->hist[k]);
            break;
        case JC_SRC_HOUR:
            out[0] = (uint32_t)src->ctx->hour + 1;
            break;
        case JC_SRC_WEEKDAY:
            out[0] = (uint32_t)src->ctx->weekday + 1;
            break;
        default:
            break;
        }
    }
}

static inline float normalise(const struct jc_fspec_field *f, float v)
{
    switch (f->norm) {
    case JC_NORM_STANDARDIZE:
        return (float)((v - f->mean) / f->std);
    case JC_NORM_MINMAX:
        return f->max > f->min ? (float)((v - f->min) / (f->max - f->min)) : 0.0f;
    case JC_NORM_LOG1P:
        return (float)log1p(v > 0 ? v : 0);
    case JC_NORM_LOG1P_STANDARDIZE:
        return (float)((log1p(v > 0 ? v : 0) - f->mean) / f->std);
    default:
        return v;
    }
}

static inline uint32_t bucket_of(const struct jc_fspec_field *f, float v)
{
    if (v != v)
        return JC_FEAT_PAD;
    /* upper bound: number of cut points <= v */
    uint32_t lo = 0, hi = f->n_bounds;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (f->bounds[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 2 + lo;
}

void jc_featspec__finish_fields(const struct jc_featspec *s, unsigned sides,
                                const uint32_t *raw_cat, const float *raw_num, uint32_t *cat,
                                float *num)
{
    const struct jc_feat_layout *L = &s->layout;
    const uint8_t *list = s->side_fields[sides & 7u];
    for (uint32_t j = 0, nj = s->n_side_fields[sides & 7u]; j < nj; j++) {
        uint32_t i = list[j];
        const struct jc_feat_field *lf = &L->fields[i];
        const struct jc_fspec_field *f = &s->f[i];
        uint32_t off = lf->offset;
        switch (f->dom) {
        case JC_DOM_NUM:
            num[off] = normalise(f, raw_num[off]);
            break;
        case JC_DOM_BUCKET: {
            float v;
            memcpy(&v, &raw_cat[off], 4);
            cat[off] = bucket_of(f, v);
            break;
        }
        case JC_DOM_HOUR:
        case JC_DOM_WEEKDAY: {
            uint32_t size = L->vocabs[lf->vocab].size;
            for (uint32_t k = 0; k < lf->width; k++) {
                uint32_t r = raw_cat[off + k];
                cat[off + k] = r == 0 ? JC_FEAT_PAD : r + 1 < size ? r + 1 : JC_FEAT_OOV;
            }
            break;
        }
        default: {
            const struct jc_fspec_vocab *v = &s->v[lf->vocab];
            const uint32_t *map = v->map;
            uint32_t mn = map ? v->map_n : 0;
            for (uint32_t k = 0; k < lf->width; k++) {
                uint32_t r = raw_cat[off + k];
                cat[off + k] = r == 0 ? JC_FEAT_PAD : r < mn ? map[r] : JC_FEAT_OOV;
            }
            break;
        }
        }
    }
}

#define SIDE_USER (1u << JC_SIDE_USER)
#define SIDE_ITEM (1u << JC_SIDE_ITEM)
#define SIDE_CTX  (1u << JC_SIDE_CONTEXT)
#define MAX_SLOTS (JC_FEAT_MAX_FIELDS * JC_USTATE_HISTORY_MAX)

int jc_featspec_build_batch(const struct jc_featspec *s, uint32_t user,
                            const struct jc_user_state *us, const struct jc_feat_context *ctx,
                            uint32_t n, const uint32_t *items,
                            const struct jc_item_state *item_states, struct jc_batch *out)
{
    if (!s->fitted || s->cat == NULL)
        return jc_err_set(JC_ESTATE, "build_batch: the feature spec is not fitted or has no "
                                     "catalog");
    if (n > out->cap)
        return jc_err_set(JC_ELIMIT, "build_batch: %u candidates, batch holds %u", n, out->cap);
    const struct jc_feat_layout *L = &s->layout;
    if (L->n_cat > MAX_SLOTS)
        return jc_err_set(JC_ELIMIT, "build_batch: %u categorical slots", L->n_cat);
    out->n = n;
    if (n == 0)
        return JC_OK;
    struct jc_user_feats uf;
    if (us) {
        jc_user_state_features(us, s, &uf);
    } else {
        memset(&uf, 0, offsetof(struct jc_user_feats, hist));
    }
    uint32_t raw_cat[MAX_SLOTS];
    float raw_num[JC_FEAT_MAX_FIELDS];
    struct jc_item_feats itf;
    struct jc_row_src src = {user, &uf, items[0], &itf, ctx};
    uint32_t nc = L->n_cat, nn = L->n_num;
    for (uint32_t i = 0; i < n; i++) {
        src.item = items[i];
        if (item_states)
            jc_item_state_features(&item_states[i], &itf);
        else
            memset(&itf, 0, sizeof itf);
        uint32_t *cat = out->cat + (size_t)i * nc;
        float *num = out->num + (size_t)i * nn;
        if (i == 0) {
            jc_featspec__raw_fields(s, &src, SIDE_USER | SIDE_ITEM | SIDE_CTX, raw_cat, raw_num);
            jc_featspec__finish_fields(s, SIDE_USER | SIDE_ITEM | SIDE_CTX, raw_cat, raw_num, cat,
                                       num);
        } else {
            /* user and context slots from row 0, item slots for this candidate */
            memcpy(cat, out->cat, (size_t)nc * sizeof *cat);
            memcpy(num, out->num, (size_t)nn * sizeof *num);
            jc_featspec__raw_fields(s, &src, SIDE_ITEM, raw_cat, raw_num);
            jc_featspec__finish_fields(s, SIDE_ITEM, raw_cat, raw_num, cat, num);
        }
        out->label[i] = 0;
        out->value[i] = 0;
        out->user[i] = user;
        out->item[i] = items[i];
        out->time[i] = ctx->time;
    }
    return JC_OK;
}
