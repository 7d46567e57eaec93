/*
 * train.c - jc_embed_train: from the catalog to a finished embedding, for
 * every method, plus the cold-item rule (co-occurrence, then genre).
 *
 * Steps: build the positive sequences (all methods: the SGNS corpora, the
 * transition graph and the cold-item fill use them), train with the
 * method, record which items were trained, derive vectors for the rest,
 * attach the catalog's ids and the parameters as JSON metadata.
 */
#include "embed_int.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include <junco/error.h>

#include <math.h>
#include <string.h>

void jc_embed_opts_default(struct jc_embed_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = JC_EMBED_ITEM2VEC;
    o->dim = 64;
    jc_seq_opts_default(&o->seq);
    jc_sgns_opts_default(&o->sgns);
    o->walks_per_node = 10;
    o->walk_length = 40;
    o->p = 1.0;
    o->q = 1.0;
    o->directed = 0;
    o->edge_norm = 0.25;
    o->mf_epochs = 0;
    o->ials_alpha = 10.0;
    o->ials_reg = 0.1;
    o->ials_cg_steps = 3;
    o->bpr_lr = 0.05;
    o->bpr_reg = 0.002;
    o->user_half_life = 0.0;
    o->threads = 1;
    o->hogwild = 0;
    o->seed = 42;
}

/* ---- cold items -------------------------------------------------------------- */

void jc_embed__fill_cold(struct jc_emb *e, const struct jc_catalog *cat, const struct jc_seqs *s,
                         uint32_t window)
{
    uint32_t n = jc_emb_n_items(e), d = jc_emb_dim(e);
    uint32_t n_cold = 0;
    for (uint32_t i = 0; i < n; i++)
        n_cold += jc_emb_item_status(e, i) != JC_EMB_TRAINED;
    if (n_cold == 0)
        return;
    /* 1. co-occurrence within the window, weighted by count */
    double *wsum = jc_calloc(n, sizeof *wsum);
    if (wsum == NULL) {
        JC_WARN("embed: out of memory while deriving cold-item vectors; they stay empty");
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        if (jc_emb_item_status(e, i) != JC_EMB_TRAINED) {
            memset(jc_emb_item_vec_mut(e, i), 0, d * sizeof(float));
            jc_emb_set_item_status(e, i, JC_EMB_NONE);
        }
    const struct jc_embed__kernels *k = jc_embed__kernels();
    if (s) {
        for (uint64_t q = 0; q < s->n_seqs; q++) {
            uint64_t b = s->off[q], end = s->off[q + 1];
            for (uint64_t p = b; p < end; p++) {
                uint32_t it = s->items[p];
                if (jc_emb_item_status(e, it) == JC_EMB_TRAINED)
                    continue;
                uint64_t lo = p >= b + window ? p - window : b;
                uint64_t hi = p + window + 1 < end ? p + window + 1 : end;
                for (uint64_t r = lo; r < hi; r++) {
                    uint32_t o = s->items[r];
                    if (r == p || jc_emb_item_status(e, o) != JC_EMB_TRAINED)
                        continue;
                    k->axpy(jc_emb_item_vec_mut(e, it), 1.0f, jc_emb_item_vec(e, o), d);
                    wsum[it] += 1.0;
                }
            }
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (wsum[i] > 0) {
            float *v = jc_emb_item_vec_mut(e, i);
            float inv = (float)(1.0 / wsum[i]);
            for (uint32_t f = 0; f < d; f++)
                v[f] *= inv;
            jc_emb_set_item_status(e, i, JC_EMB_COOCCUR);
        }
    jc_free(wsum);
    /* 2. genre centroids */
    if (cat == NULL)
        return;
    uint32_t ng = jc_catalog_n_genres(cat);
    if (ng == 0)
        return;
    float *cent = jc_calloc((size_t)ng * d, sizeof *cent);
    uint32_t *cnt = jc_calloc(ng, sizeof *cnt);
    if (!cent || !cnt) {
        jc_free(cent);
        jc_free(cnt);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (jc_emb_item_status(e, i) != JC_EMB_TRAINED)
            continue;
        const uint16_t *g;
        uint32_t m = jc_catalog_item_genres(cat, i, &g);
        for (uint32_t t = 0; t < m; t++)
            if (g[t] < ng) {
                k->axpy(cent + (size_t)g[t] * d, 1.0f, jc_emb_item_vec(e, i), d);
                cnt[g[t]]++;
            }
    }
    for (uint32_t g = 0; g < ng; g++)
        if (cnt[g])
            for (uint32_t f = 0; f < d; f++)
                cent[(size_t)g * d + f] /= (float)cnt[g];
    for (uint32_t i = 0; i < n; i++) {
        if (jc_emb_item_status(e, i) != JC_EMB_NONE)
            continue;
        const uint16_t *g;
        uint32_t m = jc_catalog_item_genres(cat, i, &g), used = 0;
        float *v = jc_emb_item_vec_mut(e, i);
        for (uint32_t t = 0; t < m; t++)
            if (g[t] < ng && cnt[g[t]]) {
                k->axpy(v, 1.0f, cent + (size_t)g[t] * d, d);
                used++;
            }
        if (used) {
            for (uint32_t f = 0; f < d; f++)
                v[f] /= (float)used;
            jc_emb_set_item_status(e, i, JC_EMB_GENRE);
        }
    }
    jc_free(cent);
    jc_free(cnt);
}

/* ---- parameters as JSON -------------------------------------------------------- */

static int params_json(const struct jc_embed_opts *o, const struct jc_embed_stats *st,
                       struct jc_buf *b)
{
    struct jc_json j;
    jc_json_init(&j, b, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "method", jc_embed_method_name(o->method));
    jc_json_kv_int(&j, "dim", o->dim);
    jc_json_kv_double(&j, "threshold", o->seq.threshold);
    jc_json_kv_int(&j, "session_gap", o->seq.session_gap);
    jc_json_kv_int(&j, "seed", (int64_t)o->seed);
    if (o->method <= JC_EMBED_NODE2VEC) {
        jc_json_kv_int(&j, "window", o->sgns.window);
        jc_json_kv_int(&j, "negative", o->sgns.negative);
        jc_json_kv_int(&j, "epochs", o->sgns.epochs);
        jc_json_kv_int(&j, "min_count", o->sgns.min_count);
        jc_json_kv_double(&j, "sample", o->sgns.sample);
        jc_json_kv_double(&j, "lr", o->sgns.lr);
        jc_json_kv_double(&j, "min_lr", o->sgns.min_lr);
        jc_json_kv_bool(&j, "hogwild", o->hogwild);
    }
    if (o->method == JC_EMBED_DEEPWALK || o->method == JC_EMBED_NODE2VEC) {
        jc_json_kv_int(&j, "walks", o->walks_per_node);
        jc_json_kv_int(&j, "walk_length", o->walk_length);
        jc_json_kv_bool(&j, "directed", o->directed);
        jc_json_kv_double(&j, "edge_norm", o->edge_norm);
        if (o->method == JC_EMBED_NODE2VEC) {
            jc_json_kv_double(&j, "p", o->p);
            jc_json_kv_double(&j, "q", o->q);
        }
    }
    if (o->method == JC_EMBED_IALS) {
        jc_json_kv_int(&j, "sweeps", o->mf_epochs ? o->mf_epochs : 15);
        jc_json_kv_double(&j, "alpha", o->ials_alpha);
        jc_json_kv_double(&j, "reg", o->ials_reg);
        jc_json_kv_int(&j, "cg_steps", o->ials_cg_steps);
    }
    if (o->method == JC_EMBED_BPR) {
        jc_json_kv_int(&j, "epochs", o->mf_epochs ? o->mf_epochs : 30);
        jc_json_kv_double(&j, "lr", o->bpr_lr);
        jc_json_kv_double(&j, "reg", o->bpr_reg);
        jc_json_kv_bool(&j, "hogwild", o->hogwild);
    }
    jc_json_kv_double(&j, "user_half_life", o->user_half_life);
    if (o->seq.split && o->seq.split->active) {
        jc_json_key(&j, "split");
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "kind", "temporal");
        jc_json_kv_int(&j, "time", o->seq.split->time);
        jc_json_kv_int(&j, "n_train", (int64_t)o->seq.split->n_train);
        jc_json_kv_int(&j, "n_test", (int64_t)o->seq.split->n_test);
        jc_json_obj_end(&j);
    }
    jc_json_key(&j, "stats");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "sequences", (int64_t)st->n_seqs);
    jc_json_kv_int(&j, "tokens", (int64_t)st->n_tokens);
    jc_json_kv_int(&j, "trained", st->n_trained);
    jc_json_kv_int(&j, "cooccur", st->n_cooccur);
    jc_json_kv_int(&j, "genre", st->n_genre);
    jc_json_kv_int(&j, "none", st->n_none);
    jc_json_kv_double(&j, "train_seconds", st->train_seconds);
    jc_json_obj_end(&j);
    jc_json_kv_int(&j, "created", jc_wall_s());
    jc_json_obj_end(&j);
    return jc_json_finish(&j);
}

/* ---- training ------------------------------------------------------------------ */

static int train_sgns_on(const struct jc_embed_opts *o, const uint64_t *off, const uint32_t *tokens,
                         uint64_t n_seqs, struct jc_emb *e, struct jc_embed_stats *st)
{
    struct jc_sgns_corpus c = {jc_emb_n_items(e), n_seqs, off, tokens};
    struct jc_sgns_opts so = o->sgns;
    so.dim = o->dim;
    so.seed = o->seed;
    so.hogwild = o->hogwild;
    so.threads = o->threads;
    so.progress = o->progress;
    uint8_t *trained = jc_calloc((size_t)jc_emb_n_items(e) + 1, 1);
    if (trained == NULL)
        return JC_ENOMEM;
    struct jc_sgns_result res;
    int rc = jc_sgns_train(&c, &so, jc_emb_item_vec_mut(e, 0), trained, &res);
    if (rc == JC_OK) {
        for (uint32_t i = 0; i < jc_emb_n_items(e); i++)
            jc_emb_set_item_status(e, i, trained[i] ? JC_EMB_TRAINED : JC_EMB_NONE);
        st->train_seconds = res.seconds;
        st->words_per_sec = res.words_per_sec;
    }
    jc_free(trained);
    return rc;
}

/* A copy of s without the items that occur fewer than min_count times. */
static int filter_min_count(const struct jc_seqs *s, uint32_t min_count, struct jc_seqs *out)
{
    memset(out, 0, sizeof *out);
    uint64_t n_tok = s->off[s->n_seqs];
    uint32_t *count = jc_calloc((size_t)s->n_items + 1, sizeof *count);
    out->off = jc_malloc_array(s->n_seqs + 1, sizeof *out->off);
    out->items = jc_malloc_array(n_tok ? n_tok : 1, sizeof *out->items);
    out->user = jc_malloc_array(s->n_seqs ? s->n_seqs : 1, sizeof *out->user);
    if (!count || !out->off || !out->items || !out->user) {
        jc_free(count);
        jc_seqs_free(out);
        return JC_ENOMEM;
    }
    for (uint64_t p = 0; p < n_tok; p++)
        if (count[s->items[p]] < UINT32_MAX)
            count[s->items[p]]++;
    uint64_t w = 0, q2 = 0;
    out->off[0] = 0;
    for (uint64_t q = 0; q < s->n_seqs; q++) {
        uint64_t start = w;
        for (uint64_t p = s->off[q]; p < s->off[q + 1]; p++)
            if (count[s->items[p]] >= min_count)
                out->items[w++] = s->items[p];
        if (w - start >= 2) {
            out->user[q2] = s->user[q];
            out->off[++q2] = w;
        } else {
            w = start;
        }
    }
    out->n_seqs = q2;
    out->n_items = s->n_items;
    jc_free(count);
    return JC_OK;
}

int jc_embed_train(const struct jc_catalog *cat, const struct jc_embed_opts *o, struct jc_emb **out,
                   struct jc_embed_stats *stats)
{
    if ((unsigned)o->method > JC_EMBED_BPR)
        return jc_err_set(JC_EINVAL, "embed: unknown method %d", (int)o->method);
    if (o->dim < 1 || o->dim > JC_EMB_MAX_DIM)
        return jc_err_set(JC_EINVAL, "embed: dim %u out of range [1, %u]", o->dim, JC_EMB_MAX_DIM);
    if (!(o->user_half_life >= 0) || !isfinite(o->user_half_life))
        return jc_err_set(JC_EINVAL, "embed: user half-life %g invalid", o->user_half_life);
    struct jc_embed_stats st;
    memset(&st, 0, sizeof st);
    struct jc_seqs seqs;
    int rc = jc_seqs_build(cat, &o->seq, &seqs);
    if (rc)
        return rc;
    st.n_seqs = seqs.n_seqs;
    st.n_tokens = seqs.off[seqs.n_seqs];
    int mf = o->method == JC_EMBED_IALS || o->method == JC_EMBED_BPR;
    if (!mf && st.n_tokens == 0) {
        jc_seqs_free(&seqs);
        return jc_err_set(JC_EINVAL,
                          "embed: no sequence of at least %u positives (value >= %g); lower "
                          "embed.threshold?",
                          o->seq.min_len, o->seq.threshold);
    }
    struct jc_emb *e = NULL;
    rc = jc_emb_create(&e, jc_catalog_n_items(cat), mf ? jc_catalog_n_users(cat) : 0, o->dim);
    if (rc) {
        jc_seqs_free(&seqs);
        return rc;
    }
    uint64_t t0 = jc_now_ns();
    if (o->method == JC_EMBED_ITEM2VEC) {
        rc = train_sgns_on(o, seqs.off, seqs.items, seqs.n_seqs, e, &st);
    } else if (o->method == JC_EMBED_DEEPWALK || o->method == JC_EMBED_NODE2VEC) {
        /* Items below min-count are not graph nodes (as item2vec drops them). */
        struct jc_seqs fs;
        rc = filter_min_count(&seqs, o->sgns.min_count, &fs);
        uint64_t *woff = NULL, n_walks = 0;
        uint32_t *wtok = NULL;
        if (rc == JC_OK)
            rc = jc_embed__walks(&fs, o, &woff, &wtok, &n_walks, &st.graph_edges);
        if (rc == JC_OK) {
            struct jc_embed_opts wo = *o;
            wo.sgns.min_count = 1;
            st.n_seqs = n_walks;
            st.n_tokens = woff[n_walks];
            rc = train_sgns_on(&wo, woff, wtok, n_walks, e, &st);
        }
        jc_seqs_free(&fs);
        jc_free(woff);
        jc_free(wtok);
    } else {
        struct jc_seq_opts mo = o->seq;
        struct jc_embed__matrix m;
        rc = jc_embed__matrix_build(cat, &mo, &m);
        if (rc == JC_OK && m.nnz == 0)
            rc = jc_err_set(JC_EINVAL, "embed: no positives (value >= %g) to factorise",
                            o->seq.threshold);
        if (rc == JC_OK) {
            st.n_tokens = m.nnz;
            rc = o->method == JC_EMBED_IALS ? jc_embed__ials(&m, o, e, &st.final_loss)
                                            : jc_embed__bpr(&m, o, e, &st.final_loss);
        }
        if (rc == JC_OK) {
            for (uint32_t i = 0; i < m.n_items; i++)
                jc_emb_set_item_status(e, i,
                                       m.i_off[i + 1] > m.i_off[i] ? JC_EMB_TRAINED : JC_EMB_NONE);
            for (uint32_t u = 0; u < m.n_users; u++) {
                int has = m.u_off[u + 1] > m.u_off[u];
                jc_emb_set_user_has(e, u, has);
                if (!has)
                    memset(jc_emb_user_vec_mut(e, u), 0, o->dim * sizeof(float));
                st.n_user_vectors += (uint32_t)has;
            }
            st.train_seconds = (double)(jc_now_ns() - t0) * 1e-9;
        }
        jc_embed__matrix_free(&m);
    }
    if (rc == JC_OK) {
        jc_embed__fill_cold(e, cat, &seqs, o->sgns.window);
        for (uint32_t i = 0; i < jc_emb_n_items(e); i++) {
            switch (jc_emb_item_status(e, i)) {
            case JC_EMB_TRAINED:
                st.n_trained++;
                break;
            case JC_EMB_COOCCUR:
                st.n_cooccur++;
                break;
            case JC_EMB_GENRE:
                st.n_genre++;
                break;
            default:
                st.n_none++;
            }
        }
        struct jc_buf b;
        jc_buf_init(&b, 1 << 20);
        rc = params_json(o, &st, &b);
        if (rc == JC_OK)
            rc = jc_emb_set_meta(e, o->method, b.data, cat);
        jc_buf_free(&b);
    }
    jc_seqs_free(&seqs);
    if (rc) {
        jc_emb_destroy(e);
        return rc;
    }
    if (stats)
        *stats = st;
    *out = e;
    return JC_OK;
}
