/*
 * test_embed.c - the embed module: SIMD kernels against the reference,
 * SGNS gradients against finite differences, alias sampling, split and
 * sequences, planted-cluster recovery (item2vec, DeepWalk, node2vec),
 * iALS/BPR against popularity, determinism, user vectors, search, and the
 * embedding file (round trip, corruption, injected failures).
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "embed/embed_int.h"
#include <junco/ann.h>
#include <junco/catalog.h>
#include <junco/embed.h>
#include <junco/error.h>
#include <junco/import.h>
#include <junco/store.h>
#include "core/buf.h"
#include <junco/synth.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------- */

static void fill_rand(float *x, size_t n, struct jc_rng *r, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (jc_rng_float(r) - 0.5f) * 2.0f * scale;
}

/*
 * A planted catalog: n_clusters clusters of per_cluster items (genre
 * "G<c>"); each user belongs to one cluster and rates seq_len items of it
 * (value 5, one per minute), with a `noise` share of random other items
 * (value 5 as well). Item k is in cluster k / per_cluster.
 */
static struct jc_catalog *planted_catalog(const char *name, uint32_t n_clusters,
                                          uint32_t per_cluster, uint32_t n_users, uint32_t seq_len,
                                          double noise, uint64_t seed)
{
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    uint32_t n_items = n_clusters * per_cluster;
    char buf[64];
    for (uint32_t i = 0; i < n_items; i++) {
        uint32_t id;
        int n = snprintf(buf, sizeof buf, "%u", i + 1);
        assert_int_equal(jc_cb_item(b, buf, (size_t)n, &id, NULL), JC_OK);
        assert_int_equal(id, i);
        n = snprintf(buf, sizeof buf, "Item %u (2000)", i + 1);
        assert_int_equal(jc_cb_item_set_title(b, id, buf, (size_t)n), JC_OK);
        n = snprintf(buf, sizeof buf, "G%u", i / per_cluster);
        assert_int_equal(jc_cb_item_add_genre(b, id, buf, (size_t)n), JC_OK);
    }
    struct jc_rng r;
    jc_rng_seed(&r, seed);
    for (uint32_t u = 0; u < n_users; u++) {
        uint32_t uid;
        int n = snprintf(buf, sizeof buf, "u%u", u);
        assert_int_equal(jc_cb_user(b, buf, (size_t)n, &uid, NULL), JC_OK);
        uint32_t c = u % n_clusters;
        for (uint32_t k = 0; k < seq_len; k++) {
            uint32_t it = jc_rng_double(&r) < noise
                              ? (uint32_t)jc_rng_below(&r, n_items)
                              : c * per_cluster + (uint32_t)jc_rng_below(&r, per_cluster);
            assert_int_equal(jc_cb_add_interaction(b, uid, it, 5.0f,
                                                   1000000000 + (int64_t)u * 100000 + k * 60, 0),
                             JC_OK);
        }
    }
    const char *path = jc_test_path(name);
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, path), JC_OK);
    return cat;
}

/* Share of (item, neighbour) pairs in the top-`k` cosine neighbours that
 * lie in the same cluster, over trained items. */
static double cluster_purity(const struct jc_emb *e, uint32_t per_cluster, uint32_t k)
{
    struct jc_emb_hit hits[32];
    uint32_t same = 0, total = 0;
    for (uint32_t i = 0; i < jc_emb_n_items(e); i++) {
        if (jc_emb_item_status(e, i) != JC_EMB_TRAINED)
            continue;
        uint32_t n = 0;
        assert_int_equal(jc_emb_similar(e, i, k, NULL, hits, &n), JC_OK);
        for (uint32_t h = 0; h < n; h++) {
            same += hits[h].item / per_cluster == i / per_cluster;
            total++;
        }
    }
    return total ? (double)same / total : 0.0;
}

/* ---- kernels ------------------------------------------------------------------ */

static const float *m_dummy(const float *x)
{
    return x;
}

static void test_kernels_match_reference(void **state)
{
    (void)state;
    const struct jc_embed__kernels *ks[4];
    int nk = jc_embed__kernels_all(ks, 4);
    assert_true(nk >= 1);
    assert_string_equal(ks[0]->name, "scalar");
    const struct jc_embed__kernels *ref = jc_embed__kernels_scalar();
    struct jc_rng r;
    jc_rng_seed(&r, 7);
    static const size_t sizes[] = {1, 7, 16, 33, 64, 100, 128, 200};
    for (int k = 0; k < nk; k++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            float a[256], b[256], y1[256], y2[256];
            fill_rand(a, n, &r, 1.0f);
            fill_rand(b, n, &r, 1.0f);
            assert_double_near(ks[k]->dot(a, b, n), ref->dot(a, b, n), 1e-4);
            memcpy(y1, b, n * sizeof(float));
            memcpy(y2, b, n * sizeof(float));
            ks[k]->axpy(y1, 0.37f, a, n);
            ref->axpy(y2, 0.37f, a, n);
            for (size_t i = 0; i < n; i++)
                assert_double_near(y1[i], y2[i], 1e-6);
            ks[k]->axpby(y1, 0.9f, -0.25f, a, n);
            ref->axpby(y2, 0.9f, -0.25f, a, n);
            for (size_t i = 0; i < n; i++)
                assert_double_near(y1[i], y2[i], 1e-6);
            const float c4[4] = {0.5f, -1.0f, 2.0f, 0.25f};
            ks[k]->axpy4(y1, c4, a, b, a, m_dummy(b), n);
            ref->axpy4(y2, c4, a, b, a, m_dummy(b), n);
            for (size_t i = 0; i < n; i++)
                assert_double_near(y1[i], y2[i], 1e-5);
            /* gemv over 9 rows with a leading dimension larger than n */
            float m[9 * 260], s1[9], s2[9];
            fill_rand(m, 9 * 260, &r, 1.0f);
            ks[k]->gemv(m, 9, 260, a, n, s1);
            ref->gemv(m, 9, 260, a, n, s2);
            for (int i = 0; i < 9; i++)
                assert_double_near(s1[i], s2[i], 1e-4);
        }
        /* the SGNS step, for every specialised stride and a generic one */
        for (size_t stride = 16; stride <= 160; stride += 16) {
            float *in1 = jc_malloc_aligned(64, stride * sizeof(float));
            float *in2 = jc_malloc_aligned(64, stride * sizeof(float));
            float *out1 = jc_malloc_aligned(64, 6 * stride * sizeof(float));
            float *out2 = jc_malloc_aligned(64, 6 * stride * sizeof(float));
            fill_rand(in1, stride, &r, 0.5f);
            fill_rand(out1, 6 * stride, &r, 0.5f);
            memcpy(in2, in1, stride * sizeof(float));
            memcpy(out2, out1, 6 * stride * sizeof(float));
            uint32_t tg[4] = {2, 0, 5, 3};
            float l1 = ks[k]->sgns_step(in1, out1, stride, tg, 4, 0.1f, 1);
            float l2 = ref->sgns_step(in2, out2, stride, tg, 4, 0.1f, 1);
            assert_double_near(l1, l2, 1e-4);
            for (size_t i = 0; i < stride; i++)
                assert_double_near(in1[i], in2[i], 1e-5);
            for (size_t i = 0; i < 6 * stride; i++)
                assert_double_near(out1[i], out2[i], 1e-5);
            /* untouched row 1 and 4 stay bit-identical */
            assert_memory_equal(out1 + stride, out2 + stride, stride * sizeof(float));
            jc_free_aligned(in1);
            jc_free_aligned(in2);
            jc_free_aligned(out1);
            jc_free_aligned(out2);
        }
    }
    /* the sigmoid table */
    for (double x = -20; x <= 20; x += 0.0137)
        assert_double_near(jc_embed__sigmoid((float)x), 1.0 / (1.0 + exp(-x)), 2e-6);
}

/* ---- SGNS gradient ------------------------------------------------------------ */

/* SGNS loss of one pair: -log s(u.v0) - sum_k log s(-u.vk), in double. */
static double pair_loss(const double *u, const double *v, int nt, int d)
{
    double L = 0;
    for (int t = 0; t < nt; t++) {
        double f = 0;
        for (int i = 0; i < d; i++)
            f += u[i] * v[t * d + i];
        double z = t == 0 ? f : -f;
        L += log1p(exp(-z));
    }
    return L;
}

static void test_sgns_gradient_finite_differences(void **state)
{
    (void)state;
    /* A tiny corpus: vocabulary of 6 tokens, dim 8 (stride 16), one context
     * row against one positive and three negatives; the step must move every
     * parameter by -alpha * dL/dparam (all gradients use the parameters
     * before the step, as word2vec does). */
    const int d = 8, stride = 16, nt = 4;
    const uint32_t tg[4] = {1, 3, 0, 5};
    const float alpha = 1e-3f;
    const struct jc_embed__kernels *ks[4];
    int nk = jc_embed__kernels_all(ks, 4);
    struct jc_rng r;
    jc_rng_seed(&r, 99);
    for (int k = 0; k < nk; k++) {
        float *in = jc_malloc_aligned(64, stride * sizeof(float));
        float *out = jc_malloc_aligned(64, 6 * stride * sizeof(float));
        memset(in, 0, stride * sizeof(float));
        memset(out, 0, 6 * stride * sizeof(float));
        for (int i = 0; i < d; i++)
            in[i] = (jc_rng_float(&r) - 0.5f);
        for (int t = 0; t < 6; t++)
            for (int i = 0; i < d; i++)
                out[t * stride + i] = (jc_rng_float(&r) - 0.5f);
        double u[8], v[4 * 8];
        for (int i = 0; i < d; i++)
            u[i] = in[i];
        for (int t = 0; t < nt; t++)
            for (int i = 0; i < d; i++)
                v[t * d + i] = out[tg[t] * stride + i];
        float in0[16], out0[6 * 16];
        memcpy(in0, in, sizeof in0);
        memcpy(out0, out, sizeof out0);
        float loss = ks[k]->sgns_step(in, out, (size_t)stride, tg, nt, alpha, 1);
        assert_double_near(loss, pair_loss(u, v, nt, d), 1e-5);
        const double h = 1e-6;
        for (int i = 0; i < d; i++) {
            double up[8], um[8];
            memcpy(up, u, sizeof up);
            memcpy(um, u, sizeof um);
            up[i] += h;
            um[i] -= h;
            double g = (pair_loss(up, v, nt, d) - pair_loss(um, v, nt, d)) / (2 * h);
            double step = (in[i] - in0[i]) / -alpha;
            assert_true(fabs(step - g) <= 1e-3 * fabs(g) + 2e-4);
        }
        for (int t = 0; t < nt; t++)
            for (int i = 0; i < d; i++) {
                double vp[32], vm[32];
                memcpy(vp, v, sizeof vp);
                memcpy(vm, v, sizeof vm);
                vp[t * d + i] += h;
                vm[t * d + i] -= h;
                double g = (pair_loss(u, vp, nt, d) - pair_loss(u, vm, nt, d)) / (2 * h);
                size_t at = tg[t] * stride + i;
                double step = (out[at] - out0[at]) / -alpha;
                assert_true(fabs(step - g) <= 1e-3 * fabs(g) + 2e-4);
            }
        /* padding lanes stay zero; rows 2 and 4 are untouched */
        for (int i = d; i < stride; i++)
            assert_true(in[i] == 0.0f);
        assert_memory_equal(out + 2 * stride, out0 + 2 * stride, stride * sizeof(float));
        assert_memory_equal(out + 4 * stride, out0 + 4 * stride, stride * sizeof(float));
        jc_free_aligned(in);
        jc_free_aligned(out);
    }
}

/* ---- alias sampling -------------------------------------------------------------- */

static void test_alias_frequencies(void **state)
{
    (void)state;
    const double w[6] = {1, 0, 3, 0.5, 10, 5.5};
    struct jc_alias a;
    assert_int_equal(jc_alias_build(&a, w, 6), JC_OK);
    struct jc_rng r;
    jc_rng_seed(&r, 3);
    uint64_t cnt[6] = {0};
    const uint64_t n = 2000000;
    for (uint64_t i = 0; i < n; i++)
        cnt[jc_alias_draw(a.thr, a.alias, a.n, jc_rng_u64(&r))]++;
    assert_int_equal(cnt[1], 0);
    for (int i = 0; i < 6; i++)
        assert_double_near((double)cnt[i] / n, w[i] / 20.0, 0.002);
    jc_alias_free(&a);
    const double bad[2] = {0, 0};
    assert_int_equal(jc_alias_build(&a, bad, 2), JC_EINVAL);
    const double neg[2] = {1, -1};
    assert_int_equal(jc_alias_build(&a, neg, 2), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "weight 1 is -1"));
}

/* ---- split and sequences -------------------------------------------------------- */

static struct jc_catalog *small_catalog(void)
{
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    uint32_t it[6], u[2];
    char buf[16];
    for (int i = 0; i < 6; i++) {
        int n = snprintf(buf, sizeof buf, "m%d", i);
        assert_int_equal(jc_cb_item(b, buf, (size_t)n, &it[i], NULL), JC_OK);
    }
    assert_int_equal(jc_cb_user(b, "a", 1, &u[0], NULL), JC_OK);
    assert_int_equal(jc_cb_user(b, "b", 1, &u[1], NULL), JC_OK);
    /* user a: times 10..70; value 2 at 30 is not a positive; gap > 100 before 300 */
    const int64_t ta[] = {10, 20, 30, 40, 300, 310};
    const float va[] = {4, 5, 2, 4, 4, 3.5f};
    for (int i = 0; i < 6; i++)
        assert_int_equal(jc_cb_add_interaction(b, u[0], it[i], va[i], ta[i], 0), JC_OK);
    /* user b: three positives, late */
    const int64_t tb[] = {50, 320, 330};
    for (int i = 0; i < 3; i++)
        assert_int_equal(jc_cb_add_interaction(b, u[1], it[i + 2], 5, tb[i], 0), JC_OK);
    const char *path = jc_test_path("small.jcat");
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, path), JC_OK);
    return cat;
}

static void test_split_and_sequences(void **state)
{
    (void)state;
    struct jc_catalog *cat = small_catalog();
    /* 9 events, 30% test -> floor(2.7) = 2 test events: (320, b, m3), (330, b, m4) */
    struct jc_embed_split sp;
    assert_int_equal(jc_embed_split_temporal(cat, 0.3, &sp), JC_OK);
    assert_int_equal(sp.n_train, 7);
    assert_int_equal(sp.n_test, 2);
    assert_int_equal(sp.time, 320);
    assert_int_equal(jc_embed_split_is_test(&sp, 310, 0, 5), 0);
    assert_int_equal(jc_embed_split_is_test(&sp, 330, 1, 4), 1);
    assert_int_equal(jc_embed_split_temporal(cat, 1.5, &sp), JC_EINVAL);

    struct jc_seq_opts so;
    jc_seq_opts_default(&so);
    struct jc_seqs s;
    assert_int_equal(jc_seqs_build(cat, &so, &s), JC_OK);
    /* a: m0 m1 m3 m4 m5 (m2 is 2.0 < 3.5); b: m2 m3 m4 */
    assert_int_equal(s.n_seqs, 2);
    const uint32_t want[] = {0, 1, 3, 4, 5, 2, 3, 4};
    assert_int_equal(s.off[2], 8);
    assert_memory_equal(s.items, want, sizeof want);
    jc_seqs_free(&s);
    /* session gap 100 s: a splits into m0 m1 m3 | m4 m5; b into m2 | m3 m4
     * (m2 alone is shorter than min_len 2 and dropped) */
    so.session_gap = 100;
    assert_int_equal(jc_seqs_build(cat, &so, &s), JC_OK);
    assert_int_equal(s.n_seqs, 3);
    const uint32_t want2[] = {0, 1, 3, 4, 5, 3, 4};
    assert_memory_equal(s.items, want2, sizeof want2);
    assert_int_equal(s.off[1], 3);
    assert_int_equal(s.user[2], 1);
    jc_seqs_free(&s);
    /* with the split, b keeps only m2 -> dropped */
    so.session_gap = 0;
    assert_int_equal(jc_embed_split_temporal(cat, 0.3, &sp), JC_OK);
    so.split = &sp;
    assert_int_equal(jc_seqs_build(cat, &so, &s), JC_OK);
    assert_int_equal(s.n_seqs, 1);
    assert_int_equal(s.off[1], 5);
    /* gensim's input format */
    const char *txt = jc_test_path("seqs.txt");
    assert_int_equal(jc_seqs_write_text(&s, cat, txt), JC_OK);
    char *data;
    size_t len;
    assert_int_equal(jc_file_read_all(txt, 1 << 20, &data, &len), JC_OK);
    assert_string_equal(data, "m0 m1 m3 m4 m5\n");
    jc_free(data);
    jc_seqs_free(&s);
    so.threshold = NAN;
    assert_int_equal(jc_seqs_build(cat, &so, &s), JC_EINVAL);
    jc_catalog_close(cat);
}

static void test_split_matches_sort(void **state)
{
    (void)state;
    /* The quickselect cut equals the sorted order's cut on a catalog with many
     * time ties. */
    struct jc_catalog *cat = planted_catalog("ties.jcat", 4, 10, 60, 25, 0.2, 5);
    struct jc_embed_split sp;
    assert_int_equal(jc_embed_split_temporal(cat, 0.25, &sp), JC_OK);
    uint64_t n = jc_catalog_n_interactions(cat);
    assert_int_equal(sp.n_test, n / 4);
    assert_int_equal(sp.n_train + sp.n_test, n);
    /* events are ordered by user in time here: the last 15 users are test */
    assert_int_equal(sp.user, 45);
    assert_int_equal(sp.time, 1000000000 + 45 * 100000);
    jc_catalog_close(cat);
}

/* ---- planted clusters -------------------------------------------------------------- */

static void test_item2vec_recovers_clusters(void **state)
{
    (void)state;
    struct jc_catalog *cat = planted_catalog("planted.jcat", 5, 20, 200, 40, 0.05, 11);
    struct jc_embed_opts o;
    jc_embed_opts_default(&o);
    o.dim = 16;
    o.sgns.epochs = 5;
    o.sgns.min_count = 1;
    struct jc_emb *e;
    struct jc_embed_stats st;
    assert_int_equal(jc_embed_train(cat, &o, &e, &st), JC_OK);
    assert_int_equal(st.n_trained, 100);
    assert_int_equal(st.n_seqs, 200);
    assert_int_equal(st.n_tokens, 8000);
    double purity = cluster_purity(e, 20, 10);
    print_message("item2vec planted purity@10 = %.4f\n", purity);
    assert_true(purity >= 0.90);
    jc_emb_destroy(e);

    o.method = JC_EMBED_DEEPWALK;
    o.walks_per_node = 10;
    o.walk_length = 20;
    o.sgns.epochs = 2;
    assert_int_equal(jc_embed_train(cat, &o, &e, &st), JC_OK);
    assert_int_equal(st.n_seqs, 1000); /* 100 nodes x 10 walks */
    assert_true(st.graph_edges > 0);
    purity = cluster_purity(e, 20, 10);
    print_message("deepwalk planted purity@10 = %.4f\n", purity);
    assert_true(purity >= 0.90);
    jc_emb_destroy(e);

    o.method = JC_EMBED_NODE2VEC;
    o.p = 4.0;
    o.q = 0.5;
    assert_int_equal(jc_embed_train(cat, &o, &e, &st), JC_OK);
    purity = cluster_purity(e, 20, 10);
    print_message("node2vec planted purity@10 = %.4f\n", purity);
    assert_true(purity >= 0.90);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
}

static void test_cold_items_get_derived_vectors(void **state)
{
    (void)state;
    /* min_count above every count of cluster 0's items: they are not trained
     * but co-occur with trained items, so they get COOCCUR vectors; an item
     * without any positive gets its genre's centroid. */
    struct jc_catalog_builder *b;
    struct jc_catalog *src = planted_catalog("cold-src.jcat", 3, 10, 60, 30, 0.0, 2);
    assert_int_equal(jc_catalog_builder_from_catalog(&b, src), JC_OK);
    uint32_t lonely, rare, u0;
    assert_int_equal(jc_cb_item(b, "lonely", 6, &lonely, NULL), JC_OK);
    assert_int_equal(jc_cb_item_add_genre(b, lonely, "G1", 2), JC_OK);
    assert_int_equal(jc_cb_item(b, "rare", 4, &rare, NULL), JC_OK);
    assert_int_equal(jc_cb_find_user(b, "u0", 2, &u0), 1);
    /* rare: one positive inside u0's cluster-0 sequence */
    assert_int_equal(jc_cb_add_interaction(b, u0, rare, 5.0f, 1000000000 + 5 * 60 + 30, 0), JC_OK);
    const char *path = jc_test_path("cold.jcat");
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    jc_catalog_close(src);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, path), JC_OK);
    struct jc_embed_opts o;
    jc_embed_opts_default(&o);
    o.dim = 16;
    o.sgns.epochs = 5;
    o.sgns.sample = 0; /* every item is "frequent" in so small a corpus */
    o.sgns.min_count = 2;
    struct jc_emb *e;
    struct jc_embed_stats st;
    assert_int_equal(jc_embed_train(cat, &o, &e, &st), JC_OK);
    assert_int_equal(jc_emb_item_status(e, rare), JC_EMB_COOCCUR);
    assert_int_equal(jc_emb_item_status(e, lonely), JC_EMB_GENRE);
    assert_int_equal(st.n_trained, 30);
    assert_int_equal(st.n_cooccur, 1);
    assert_int_equal(st.n_genre, 1);
    /* the genre vector is the mean of cluster 1's trained vectors */
    float mean[16] = {0};
    for (uint32_t i = 10; i < 20; i++)
        for (int f = 0; f < 16; f++)
            mean[f] += jc_emb_item_vec(e, i)[f] / 10.0f;
    for (int f = 0; f < 16; f++)
        assert_double_near(jc_emb_item_vec(e, lonely)[f], mean[f], 1e-5);
    /* similar() returns only trained items unless asked */
    struct jc_emb_hit hits[40];
    uint32_t n;
    assert_int_equal(jc_emb_similar(e, 0, 40, NULL, hits, &n), JC_OK);
    assert_int_equal(n, 29);
    struct jc_emb_search_opts so;
    jc_emb_search_opts_default(&so);
    so.include_derived = 1;
    assert_int_equal(jc_emb_similar(e, 0, 40, &so, hits, &n), JC_OK);
    assert_int_equal(n, 31);
    /* the rare item's nearest trained neighbours are in cluster 0 */
    assert_int_equal(jc_emb_similar(e, rare, 5, NULL, hits, &n), JC_OK);
    for (uint32_t h = 0; h < n; h++)
        assert_true(hits[h].item < 10);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
}

/* ---- determinism --------------------------------------------------------------------- */

static struct jc_emb *train_with(const struct jc_catalog *cat, enum jc_embed_method m, int threads,
                                 uint64_t seed)
{
    struct jc_embed_opts o;
    jc_embed_opts_default(&o);
    o.method = m;
    o.dim = 16;
    o.sgns.epochs = 2;
    o.sgns.min_count = 1;
    o.walks_per_node = 3;
    o.mf_epochs = 3;
    o.threads = threads;
    o.seed = seed;
    struct jc_emb *e;
    assert_int_equal(jc_embed_train(cat, &o, &e, NULL), JC_OK);
    return e;
}

static int same_vectors(const struct jc_emb *a, const struct jc_emb *b)
{
    size_t n = (size_t)jc_emb_n_items(a) * jc_emb_dim(a) * sizeof(float);
    if (memcmp(jc_emb_item_vec(a, 0), jc_emb_item_vec(b, 0), n) != 0)
        return 0;
    for (uint32_t u = 0; u < jc_emb_n_users(a); u++) {
        const float *x = jc_emb_user_vec(a, u), *y = jc_emb_user_vec(b, u);
        if ((x == NULL) != (y == NULL))
            return 0;
        if (x && memcmp(x, y, jc_emb_dim(a) * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

static void test_determinism(void **state)
{
    (void)state;
    struct jc_catalog *cat = planted_catalog("det.jcat", 4, 15, 80, 30, 0.1, 4);
    for (int m = JC_EMBED_ITEM2VEC; m <= JC_EMBED_BPR; m++) {
        struct jc_emb *a = train_with(cat, (enum jc_embed_method)m, 1, 42);
        struct jc_emb *b = train_with(cat, (enum jc_embed_method)m, 1, 42);
        /* without hogwild, more threads must not change anything either */
        struct jc_emb *c = train_with(cat, (enum jc_embed_method)m, 2, 42);
        struct jc_emb *d = train_with(cat, (enum jc_embed_method)m, 1, 43);
        assert_true(same_vectors(a, b));
        assert_true(same_vectors(a, c));
        assert_false(same_vectors(a, d));
        jc_emb_destroy(a);
        jc_emb_destroy(b);
        jc_emb_destroy(c);
        jc_emb_destroy(d);
    }
    jc_catalog_close(cat);
}

static void test_sgns_options_and_hogwild(void **state)
{
    (void)state;
    uint64_t off[3] = {0, 4, 8};
    uint32_t tok[8] = {0, 1, 2, 3, 3, 2, 1, 0};
    struct jc_sgns_corpus c = {4, 2, off, tok};
    struct jc_sgns_opts o;
    jc_sgns_opts_default(&o);
    o.dim = 8;
    o.min_count = 1;
    float vecs[4 * 8];
    struct jc_sgns_result res;
    assert_int_equal(jc_sgns_train(&c, &o, vecs, NULL, &res), JC_OK);
    assert_int_equal(res.words, 8 * 10);
    assert_int_equal(res.threads, 1);
    o.window = 0;
    assert_int_equal(jc_sgns_train(&c, &o, vecs, NULL, &res), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "window 0"));
    o.window = 5;
    tok[3] = 9;
    assert_int_equal(jc_sgns_train(&c, &o, vecs, NULL, &res), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "token 9"));
    tok[3] = 3;
    o.min_count = 5;
    assert_int_equal(jc_sgns_train(&c, &o, vecs, NULL, &res), JC_EINVAL);
    /* hogwild with 2 threads runs and still learns the clusters */
    struct jc_catalog *cat = planted_catalog("hog.jcat", 5, 20, 200, 40, 0.05, 12);
    struct jc_embed_opts eo;
    jc_embed_opts_default(&eo);
    eo.dim = 16;
    eo.sgns.epochs = 5;
    eo.sgns.min_count = 1;
    eo.hogwild = 1;
    eo.threads = 2;
    struct jc_emb *e;
    assert_int_equal(jc_embed_train(cat, &eo, &e, NULL), JC_OK);
    assert_true(cluster_purity(e, 20, 10) >= 0.90);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
}

/* ---- matrix factorisation vs popularity ------------------------------------------------ */

static void test_mf_beats_popularity(void **state)
{
    (void)state;
    /* A seeded synthetic MovieLens-format set (latent tastes + Zipf popularity). */
    const char *dir = jc_test_path("synth");
    struct jc_synth_opts so;
    jc_synth_opts_default(&so);
    so.users = 2000;
    so.items = 500;
    so.interactions = 120000;
    so.seed = 5;
    struct jc_synth_result sr;
    assert_int_equal(jc_synth_write(dir, &so, &sr), JC_OK);
    const char *cpath = jc_test_path("synth.jcat");
    struct jc_import_opts io;
    jc_import_opts_default(&io);
    struct jc_import_result ir;
    assert_int_equal(jc_import(dir, cpath, &io, &ir), JC_OK);
    jc_import_result_free(&ir);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, cpath), JC_OK);
    struct jc_embed_split sp;
    assert_int_equal(jc_embed_split_temporal(cat, 0.1, &sp), JC_OK);
    struct jc_embed_eval_opts eo;
    jc_embed_eval_opts_default(&eo);
    eo.threshold = 3.5;
    /* popularity as an "embedding": dim 1, user = 1, item = train positives */
    struct jc_emb *pop;
    uint32_t ni = jc_catalog_n_items(cat), nu = jc_catalog_n_users(cat);
    assert_int_equal(jc_emb_create(&pop, ni, nu, 1), JC_OK);
    assert_int_equal(jc_emb_set_meta(pop, JC_EMBED_IALS, NULL, cat), JC_OK);
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    for (uint64_t p = 0; p < ix.n; p++)
        if (ix.value[p] >= 3.5 && !jc_embed_split_is_test(&sp, ix.time[p], ix.user[p], ix.item[p]))
            *jc_emb_item_vec_mut(pop, ix.item[p]) += 1.0f;
    for (uint32_t i = 0; i < ni; i++)
        jc_emb_set_item_status(pop, i, *jc_emb_item_vec(pop, i) > 0 ? JC_EMB_TRAINED : JC_EMB_NONE);
    /* only users with a training positive have a vector, as for the factor models */
    for (uint64_t p = 0; p < ix.n; p++)
        if (ix.value[p] >= 3.5 &&
            !jc_embed_split_is_test(&sp, ix.time[p], ix.user[p], ix.item[p])) {
            *jc_emb_user_vec_mut(pop, ix.user[p]) = 1.0f;
            jc_emb_set_user_has(pop, ix.user[p], 1);
        }
    struct jc_embed_eval ep;
    assert_int_equal(jc_embed_evaluate(cat, pop, &sp, &eo, &ep), JC_OK);
    assert_true(ep.n_users > 50);
    print_message("popularity: NDCG@10 %.4f recall %.4f (%u users)\n", ep.ndcg_full, ep.recall_full,
                  ep.n_users);
    jc_emb_destroy(pop);

    struct jc_embed_opts o;
    jc_embed_opts_default(&o);
    o.dim = 16;
    o.seq.split = &sp;
    o.threads = 2;
    o.ials_alpha = 3.0;
    o.ials_reg = 0.5;
    for (int m = JC_EMBED_IALS; m <= JC_EMBED_BPR; m++) {
        o.method = (enum jc_embed_method)m;
        struct jc_emb *e;
        struct jc_embed_stats st;
        assert_int_equal(jc_embed_train(cat, &o, &e, &st), JC_OK);
        struct jc_embed_eval ev;
        assert_int_equal(jc_embed_evaluate(cat, e, &sp, &eo, &ev), JC_OK);
        print_message("%s: NDCG@10 %.4f recall %.4f loss %.4f\n", jc_embed_method_name(o.method),
                      ev.ndcg_full, ev.recall_full, st.final_loss);
        assert_int_equal(ev.n_users, ep.n_users);
        /* measured: popularity 0.2249, ials 0.2706, bpr 0.2651 (298 users) */
        assert_true(ev.ndcg_full > ep.ndcg_full * 1.08);
        jc_emb_destroy(e);
    }
    jc_catalog_close(cat);
}

static void test_ials_objective_decreases(void **state)
{
    (void)state;
    struct jc_catalog *cat = planted_catalog("ials.jcat", 4, 15, 80, 20, 0.1, 8);
    struct jc_embed_opts o;
    jc_embed_opts_default(&o);
    o.method = JC_EMBED_IALS;
    o.dim = 8;
    double prev = INFINITY;
    for (uint32_t sweeps = 1; sweeps <= 8; sweeps *= 2) {
        o.mf_epochs = sweeps;
        struct jc_emb *e;
        struct jc_embed_stats st;
        assert_int_equal(jc_embed_train(cat, &o, &e, &st), JC_OK);
        assert_true(st.final_loss < prev);
        prev = st.final_loss;
        assert_int_equal(st.n_user_vectors, 80);
        jc_emb_destroy(e);
    }
    jc_catalog_close(cat);
}

/* ---- user vectors -------------------------------------------------------------------- */

static void test_user_vectors_incremental(void **state)
{
    (void)state;
    float a[4] = {1, 0, 0, 2}, b[4] = {0, 1, 0, 4}, c[4] = {0, 0, 3, 0};
    float sum[4], out[4];
    struct jc_emb_user_state st;
    jc_emb_user_state_init(&st, sum, 4);
    assert_int_equal(jc_emb_user_vector(&st, out), JC_ENOTFOUND);
    /* plain mean */
    assert_int_equal(jc_emb_user_update(&st, a, 100, 0), JC_OK);
    assert_int_equal(jc_emb_user_update(&st, b, 50, 0), JC_OK);
    assert_int_equal(jc_emb_user_update(&st, c, 200, 0), JC_OK);
    assert_int_equal(jc_emb_user_vector(&st, out), JC_OK);
    assert_double_near(out[0], 1.0 / 3, 1e-6);
    assert_double_near(out[2], 1.0, 1e-6);
    assert_double_near(out[3], 2.0, 1e-6);
    /* half-life 100 s: weights at t=200: a 2^-1, b 2^-1.5, c 1 */
    double wa = 0.5, wb = pow(2, -1.5), wc = 1, W = wa + wb + wc;
    float sum2[4], out2[4];
    jc_emb_user_state_init(&st, sum, 4);
    assert_int_equal(jc_emb_user_update(&st, a, 100, 100), JC_OK);
    assert_int_equal(jc_emb_user_update(&st, b, 50, 100), JC_OK);
    assert_int_equal(jc_emb_user_update(&st, c, 200, 100), JC_OK);
    assert_int_equal(jc_emb_user_vector(&st, out), JC_OK);
    assert_double_near(out[0], wa / W, 1e-6);
    assert_double_near(out[1], wb / W, 1e-6);
    assert_double_near(out[2], 3 * wc / W, 1e-6);
    assert_double_near(out[3], (2 * wa + 4 * wb) / W, 1e-6);
    /* any arrival order gives the same vector */
    struct jc_emb_user_state st2;
    jc_emb_user_state_init(&st2, sum2, 4);
    assert_int_equal(jc_emb_user_update(&st2, c, 200, 100), JC_OK);
    assert_int_equal(jc_emb_user_update(&st2, b, 50, 100), JC_OK);
    assert_int_equal(jc_emb_user_update(&st2, a, 100, 100), JC_OK);
    assert_int_equal(jc_emb_user_vector(&st2, out2), JC_OK);
    for (int f = 0; f < 4; f++)
        assert_double_near(out[f], out2[f], 1e-6);
    float bad[4] = {NAN, 0, 0, 0};
    assert_int_equal(jc_emb_user_update(&st2, bad, 300, 100), JC_EINVAL);
    assert_int_equal(jc_emb_user_update(&st2, a, 300, -1), JC_EINVAL);
    assert_int_equal(st2.n, 3);
}

static void test_user_vector_for_catalog_user(void **state)
{
    (void)state;
    struct jc_catalog *cat = small_catalog();
    struct jc_emb *e;
    assert_int_equal(jc_emb_create(&e, 6, 0, 2), JC_OK);
    for (uint32_t i = 0; i < 6; i++) {
        jc_emb_item_vec_mut(e, i)[0] = (float)i;
        jc_emb_item_vec_mut(e, i)[1] = 1.0f;
        jc_emb_set_item_status(e, i, JC_EMB_TRAINED);
    }
    float v[2];
    /* user a's positives: m0 m1 m3 m4 m5 -> mean x = 13/5 */
    assert_int_equal(jc_emb_user_vector_for(e, cat, 0, 3.5, 0, INT64_MAX, v), JC_OK);
    assert_double_near(v[0], 13.0 / 5, 1e-6);
    /* before t = 300: m0 m1 m3 -> 4/3 */
    assert_int_equal(jc_emb_user_vector_for(e, cat, 0, 3.5, 0, 300, v), JC_OK);
    assert_double_near(v[0], 4.0 / 3, 1e-6);
    assert_int_equal(jc_emb_user_vector_for(e, cat, 1, 3.5, 0, 40, v), JC_ENOTFOUND);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
}

/* ---- search -------------------------------------------------------------------------- */

static void test_search_exact_and_ann(void **state)
{
    (void)state;
    const uint32_t n = 500, d = 24;
    struct jc_emb *e;
    assert_int_equal(jc_emb_create(&e, n, 0, d), JC_OK);
    struct jc_rng r;
    jc_rng_seed(&r, 21);
    for (uint32_t i = 0; i < n; i++) {
        fill_rand(jc_emb_item_vec_mut(e, i), d, &r, 1.0f);
        jc_emb_set_item_status(e, i, i % 50 == 7 ? JC_EMB_GENRE : JC_EMB_TRAINED);
    }
    float q[24];
    fill_rand(q, d, &r, 1.0f);
    /* brute force cosine in double */
    double best[10];
    uint32_t best_id[10];
    for (int k = 0; k < 10; k++) {
        best[k] = -2;
        best_id[k] = 0;
    }
    double nq = 0;
    for (uint32_t f = 0; f < d; f++)
        nq += (double)q[f] * q[f];
    for (uint32_t i = 0; i < n; i++) {
        if (i % 50 == 7 || i == 3)
            continue;
        const float *v = jc_emb_item_vec(e, i);
        double dot = 0, nv = 0;
        for (uint32_t f = 0; f < d; f++) {
            dot += (double)v[f] * q[f];
            nv += (double)v[f] * v[f];
        }
        double s = dot / sqrt(nv * nq);
        for (int k = 0; k < 10; k++)
            if (s > best[k]) {
                for (int j = 9; j > k; j--) {
                    best[j] = best[j - 1];
                    best_id[j] = best_id[j - 1];
                }
                best[k] = s;
                best_id[k] = i;
                break;
            }
    }
    uint8_t excl[64];
    memset(excl, 0, sizeof excl);
    excl[0] = 1 << 3; /* item 3 */
    struct jc_emb_search_opts so;
    jc_emb_search_opts_default(&so);
    so.exclude = excl;
    struct jc_emb_hit hits[10];
    uint32_t nh;
    assert_int_equal(jc_emb_search(e, q, 10, &so, hits, &nh), JC_OK);
    assert_int_equal(nh, 10);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(hits[k].item, best_id[k]);
        assert_double_near(hits[k].score, best[k], 1e-5);
    }
    /* the same through a flat ANN index */
    struct jc_ann_config ac;
    jc_ann_config_default(&ac);
    ac.type = JC_ANN_FLAT;
    ac.metric = JC_ANN_COSINE;
    ac.dim = d;
    struct jc_ann *ix;
    assert_int_equal(jc_ann_create(&ix, &ac), JC_OK);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(jc_ann_add(ix, i, jc_emb_item_vec(e, i)), JC_OK);
    so.index = ix;
    struct jc_emb_hit hits2[10];
    assert_int_equal(jc_emb_search(e, q, 10, &so, hits2, &nh), JC_OK);
    assert_int_equal(nh, 10);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(hits2[k].item, hits[k].item);
        assert_double_near(hits2[k].score, hits[k].score, 1e-5);
    }
    jc_ann_destroy(ix);
    /* similar excludes the item itself; inner product mode */
    so.index = NULL;
    so.exclude = NULL;
    assert_int_equal(jc_emb_similar(e, 5, 10, &so, hits, &nh), JC_OK);
    for (uint32_t k = 0; k < nh; k++)
        assert_int_not_equal(hits[k].item, 5);
    so.cosine = 0;
    assert_int_equal(jc_emb_search(e, q, 3, &so, hits, &nh), JC_OK);
    assert_true(hits[0].score >= hits[1].score && hits[1].score >= hits[2].score);
    assert_int_equal(jc_emb_search(e, q, 0, &so, hits, &nh), JC_EINVAL);
    q[0] = NAN;
    assert_int_equal(jc_emb_search(e, q, 3, &so, hits, &nh), JC_EINVAL);
    jc_emb_destroy(e);
}

/* ---- files --------------------------------------------------------------------------- */

static struct jc_emb *file_fixture(struct jc_catalog **cat_out)
{
    struct jc_catalog *cat = small_catalog();
    struct jc_emb *e;
    assert_int_equal(jc_emb_create(&e, 6, 2, 5), JC_OK);
    struct jc_rng r;
    jc_rng_seed(&r, 1);
    for (uint32_t i = 0; i < 6; i++) {
        fill_rand(jc_emb_item_vec_mut(e, i), 5, &r, 1.0f);
        jc_emb_set_item_status(e, i, (enum jc_emb_status)(i % 4));
    }
    fill_rand(jc_emb_user_vec_mut(e, 1), 5, &r, 1.0f);
    jc_emb_set_user_has(e, 1, 1);
    assert_int_equal(jc_emb_set_meta(e, JC_EMBED_BPR, "{\"lr\":0.05}", cat), JC_OK);
    *cat_out = cat;
    return e;
}

static void corrupt_byte(const char *src, const char *dst, long at, int xor_mask, long truncate)
{
    char *data;
    size_t len;
    assert_int_equal(jc_file_read_all(src, 1 << 24, &data, &len), JC_OK);
    if (at >= 0)
        data[at < (long)len ? at : (long)len - 1] ^= (char)xor_mask;
    jc_test_write_bytes(dst, data, truncate >= 0 ? (size_t)truncate : len);
    jc_free(data);
}

static void test_file_round_trip_and_corruption(void **state)
{
    (void)state;
    struct jc_catalog *cat;
    struct jc_emb *e = file_fixture(&cat);
    const char *p1 = jc_test_path("a.jemb"), *p2 = jc_test_path("b.jemb");
    assert_int_equal(jc_emb_save(e, p1), JC_OK);
    struct jc_emb *l;
    assert_int_equal(jc_emb_load(&l, p1), JC_OK);
    assert_int_equal(jc_emb_dim(l), 5);
    assert_int_equal(jc_emb_n_items(l), 6);
    assert_int_equal(jc_emb_n_users(l), 2);
    assert_int_equal(jc_emb_method(l), JC_EMBED_BPR);
    assert_string_equal(jc_emb_params(l), "{\"lr\":0.05}");
    assert_string_equal(jc_emb_item_ext_id(l, 4), "m4");
    assert_string_equal(jc_emb_user_ext_id(l, 1), "b");
    assert_int_equal(jc_emb_catalog_checksum(l), jc_catalog_checksum(cat));
    assert_memory_equal(jc_emb_item_vec(l, 0), jc_emb_item_vec(e, 0), 6 * 5 * sizeof(float));
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(jc_emb_item_status(l, i), i % 4);
    assert_null(jc_emb_user_vec(l, 0));
    assert_memory_equal(jc_emb_user_vec(l, 1), jc_emb_user_vec(e, 1), 5 * sizeof(float));
    assert_int_equal(jc_emb_check_catalog(l, cat), JC_OK);
    /* save -> load -> save is byte-identical */
    assert_int_equal(jc_emb_save(l, p2), JC_OK);
    char *d1, *d2;
    size_t n1, n2;
    assert_int_equal(jc_file_read_all(p1, 1 << 24, &d1, &n1), JC_OK);
    assert_int_equal(jc_file_read_all(p2, 1 << 24, &d2, &n2), JC_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(d1, d2, n1);
    jc_free(d1);
    jc_free(d2);
    jc_emb_destroy(l);
    /* damaged files */
    const char *bad = jc_test_path("bad.jemb");
    struct jc_emb *x = NULL;
    corrupt_byte(p1, bad, 400, 0x10, -1);
    assert_int_equal(jc_emb_load(&x, bad), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "checksum mismatch"));
    assert_non_null(strstr(jc_errmsg(), "bad.jemb"));
    corrupt_byte(p1, bad, 40, 0x01, -1);
    assert_int_equal(jc_emb_load(&x, bad), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "header checksum mismatch"));
    corrupt_byte(p1, bad, 0, 0x20, -1);
    assert_int_equal(jc_emb_load(&x, bad), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "bad magic"));
    corrupt_byte(p1, bad, -1, 0, (long)n1 - 7);
    assert_int_equal(jc_emb_load(&x, bad), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "truncated"));
    corrupt_byte(p1, bad, -1, 0, 50);
    assert_int_equal(jc_emb_load(&x, bad), JC_ECORRUPT);
    assert_null(x);
    assert_int_equal(jc_emb_load(&x, jc_test_path("missing.jemb")), JC_ENOTFOUND);
    /* a failed write leaves the previous file intact */
    jc_emb_set_item_status(e, 0, JC_EMB_TRAINED);
    jc_fileio_fail_write_after(1);
    assert_int_not_equal(jc_emb_save(e, p1), JC_OK);
    jc_fileio_fail_write_after(0);
    assert_int_equal(jc_emb_load(&l, p1), JC_OK);
    assert_int_equal(jc_emb_item_status(l, 0), JC_EMB_NONE);
    jc_emb_destroy(l);
    /* allocation failures while loading: clean errors, no leaks */
    for (long k = 1; k <= 12; k++) {
        jc_alloc_fail_after(k);
        int rc = jc_emb_load(&l, p1);
        jc_alloc_fail_after(0);
        if (rc == JC_OK)
            jc_emb_destroy(l);
        else
            assert_int_equal(rc, JC_ENOMEM);
    }
    /* a catalog with other ids is detected */
    struct jc_catalog *other = planted_catalog("other.jcat", 2, 3, 2, 2, 0, 1);
    assert_int_equal(jc_emb_check_catalog(e, other), JC_ESTATE);
    assert_non_null(strstr(jc_errmsg(), "re-run `junco embed`"));
    jc_catalog_close(other);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
}

static void test_text_export_import(void **state)
{
    (void)state;
    struct jc_catalog *cat;
    struct jc_emb *e = file_fixture(&cat);
    const char *p = jc_test_path("vec.txt"), *pu = jc_test_path("users.txt");
    assert_int_equal(jc_emb_export_text(e, 0, p), JC_OK);
    assert_int_equal(jc_emb_export_text(e, 1, pu), JC_OK);
    char *data;
    size_t len;
    assert_int_equal(jc_file_read_all(p, 1 << 20, &data, &len), JC_OK);
    /* statuses 1,2,3,0,1,2 -> m0 (NONE) and m4 (NONE)... i % 4 == 0: m0, m4 */
    assert_null(strstr(data, "m0:"));
    assert_non_null(strstr(data, "m1:"));
    assert_null(strstr(data, "m4:"));
    jc_free(data);
    struct jc_emb *back = NULL;
    uint64_t unknown = 7;
    assert_int_equal(jc_emb_import_text(p, cat, 0, &back, &unknown), JC_OK);
    assert_int_equal(unknown, 0);
    assert_int_equal(jc_emb_import_text(pu, cat, 1, &back, &unknown), JC_OK);
    for (uint32_t i = 0; i < 6; i++) {
        if (jc_emb_item_status(e, i) == JC_EMB_NONE) {
            assert_int_equal(jc_emb_item_status(back, i), JC_EMB_NONE);
            continue;
        }
        assert_int_equal(jc_emb_item_status(back, i), JC_EMB_TRAINED);
        assert_memory_equal(jc_emb_item_vec(back, i), jc_emb_item_vec(e, i), 5 * sizeof(float));
    }
    assert_memory_equal(jc_emb_user_vec(back, 1), jc_emb_user_vec(e, 1), 5 * sizeof(float));
    assert_null(jc_emb_user_vec(back, 0));
    jc_emb_destroy(back);
    /* word2vec text format with a header, an unknown id and a bad line */
    const char *w2v = jc_test_path("w2v.txt");
    jc_test_write_file(w2v, "3 2\nm1 0.5 -1\nzz 1 1\nm2 2 3\n");
    back = NULL;
    assert_int_equal(jc_emb_import_text(w2v, cat, 0, &back, &unknown), JC_OK);
    assert_int_equal(unknown, 1);
    assert_int_equal(jc_emb_dim(back), 2);
    assert_double_near(jc_emb_item_vec(back, 1)[1], -1.0, 0);
    jc_emb_destroy(back);
    jc_test_write_file(w2v, "m1 0.5 -1\nm2 2 x\n");
    back = NULL;
    assert_int_equal(jc_emb_import_text(w2v, cat, 0, &back, &unknown), JC_EPARSE);
    assert_non_null(strstr(jc_errmsg(), "w2v.txt:2"));
    assert_null(back);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
}

static void test_publish_to_store(void **state)
{
    (void)state;
    struct jc_catalog *cat;
    struct jc_emb *e = file_fixture(&cat);
    struct jc_store_config sc;
    jc_store_config_default(&sc);
    sc.path = jc_test_path("store");
    sc.map_size = 64u << 20;
    sc.sync = 0;
    struct jc_store *s;
    assert_int_equal(jc_store_open(&s, &sc), JC_OK);
    uint64_t n = 0;
    assert_int_equal(jc_emb_publish(e, "v1", s, NULL, &n), JC_OK);
    assert_int_equal(n, 4 + 1); /* items m1 m2 m3 m5 have vectors; user b */
    struct jc_buf v;
    jc_buf_init(&v, 1 << 20);
    assert_int_equal(jc_store_get(s, "emb:v1:m2", 9, &v), JC_OK);
    assert_int_equal(v.len, 5 * sizeof(float));
    assert_memory_equal(v.data, jc_emb_item_vec(e, 2), 5 * sizeof(float));
    assert_int_equal(jc_store_get(s, "emb:v1:m0", 9, &v), JC_ENOTFOUND);
    assert_int_equal(jc_store_get(s, "emb:v1.user:b", 13, &v), JC_OK);
    assert_memory_equal(v.data, jc_emb_user_vec(e, 1), 5 * sizeof(float));
    assert_int_equal(jc_store_get(s, "meta:emb:v1", 11, &v), JC_OK);
    assert_non_null(strstr(v.data, "\"method\":\"bpr\",\"dim\":5"));
    assert_int_equal(jc_emb_publish(e, "../x", s, NULL, &n), JC_EINVAL);
    jc_buf_free(&v);
    jc_store_close(s);
    jc_emb_destroy(e);
    jc_catalog_close(cat);
}

static void test_names_and_methods(void **state)
{
    (void)state;
    enum jc_embed_method m;
    assert_int_equal(jc_embed_method_parse("node2vec", &m), JC_OK);
    assert_int_equal(m, JC_EMBED_NODE2VEC);
    assert_int_equal(jc_embed_method_parse("word2vec", &m), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "'word2vec'"));
    assert_string_equal(jc_embed_method_name(JC_EMBED_IALS), "ials");
    assert_true(jc_embed_name_valid("item2vec-v2.1"));
    assert_false(jc_embed_name_valid("../x"));
    assert_false(jc_embed_name_valid(".hidden"));
    assert_false(jc_embed_name_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_match_reference),
        cmocka_unit_test(test_sgns_gradient_finite_differences),
        cmocka_unit_test(test_alias_frequencies),
        cmocka_unit_test(test_split_and_sequences),
        cmocka_unit_test(test_split_matches_sort),
        cmocka_unit_test(test_item2vec_recovers_clusters),
        cmocka_unit_test(test_cold_items_get_derived_vectors),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_sgns_options_and_hogwild),
        cmocka_unit_test(test_mf_beats_popularity),
        cmocka_unit_test(test_ials_objective_decreases),
        cmocka_unit_test(test_user_vectors_incremental),
        cmocka_unit_test(test_user_vector_for_catalog_user),
        cmocka_unit_test(test_search_exact_and_ann),
        cmocka_unit_test(test_file_round_trip_and_corruption),
        cmocka_unit_test(test_text_export_import),
        cmocka_unit_test(test_publish_to_store),
        cmocka_unit_test(test_names_and_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
