/*
 * test_eval_metrics.c - ranking metrics and the evaluator against
 * hand-computed values: every accuracy metric of one list, Gini, novelty,
 * ILD, a tiny full-ranking run with ties, NaN, masking and a cold user, the
 * sampled protocol, the top-L selection against a sorting reference, thread
 * independence, metric lookup, bad configurations and allocation failures.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/rng.h"
#include "eval/eval_int.h"
#include <junco/error.h>
#include <junco/eval.h>
#include <junco/rankmetrics.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

static void test_list_metrics(void **state)
{
    (void)state;
    /* hits at ranks 2 and 4 of 5, 3 relevant items */
    const uint8_t hit[5] = {0, 1, 0, 1, 0};
    struct jc_rank_metrics m;
    jc_rank_metrics_at(hit, 5, 3, 5, &m);
    assert_double_near(m.precision, 0.4, EPS);
    assert_double_near(m.recall, 2.0 / 3.0, EPS);
    assert_double_near(m.hit, 1.0, EPS);
    assert_double_near(m.mrr, 0.5, EPS);
    /* (1/log2 3 + 1/log2 5) / (1 + 1/log2 3 + 1/log2 4) */
    assert_double_near(m.ndcg, 0.49818925746641285, EPS);
    /* AP = (1/min(3,5)) * (1/2 + 2/4) */
    assert_double_near(m.map, 1.0 / 3.0, EPS);
    /* K = 2: one hit; IDCG over min(3, 2) = 2 positions */
    jc_rank_metrics_at(hit, 5, 3, 2, &m);
    assert_double_near(m.precision, 0.5, EPS);
    assert_double_near(m.recall, 1.0 / 3.0, EPS);
    assert_double_near(m.ndcg, 0.38685280723454163, EPS);
    assert_double_near(m.map, 0.25, EPS);
    /* a list shorter than K: missing positions are misses, P divides by K */
    jc_rank_metrics_at(hit, 2, 1, 10, &m);
    assert_double_near(m.precision, 0.1, EPS);
    assert_double_near(m.recall, 1.0, EPS);
    assert_double_near(m.ndcg, 1.0 / log2(3.0), EPS);
    assert_double_near(m.map, 0.5, EPS);
    /* no relevant items: all zero */
    jc_rank_metrics_at(hit, 5, 0, 5, &m);
    assert_double_near(m.ndcg + m.recall + m.hit + m.mrr + m.precision + m.map, 0, 0);
    assert_double_near(jc_rank_discount(0), 1.0, 0);
    assert_double_near(jc_rank_discount(5000), 1.0 / log2(5002.0), 1e-15);
}

static void test_beyond_accuracy(void **state)
{
    (void)state;
    double g;
    uint64_t equal[4] = {5, 5, 5, 5};
    assert_int_equal(jc_rank_gini(equal, 4, &g), JC_OK);
    assert_double_near(g, 0, EPS);
    /* counts 0,0,0,1,1,2: (1*1 + 3*1 + 5*2) / (6*4) = 14/24 */
    uint64_t c[6] = {0, 1, 2, 1, 0, 0};
    assert_int_equal(jc_rank_gini(c, 6, &g), JC_OK);
    assert_double_near(g, 14.0 / 24.0, EPS);
    uint64_t one[5] = {0, 0, 0, 0, 7};
    assert_int_equal(jc_rank_gini(one, 5, &g), JC_OK);
    assert_double_near(g, 0.8, EPS); /* (n-1)/n for a single item */
    jc_alloc_fail_after(1);
    assert_int_equal(jc_rank_gini(c, 6, &g), JC_ENOMEM);
    jc_alloc_fail_after(0);

    uint32_t users_of[4] = {4, 2, 1, 0};
    double si[4];
    jc_rank_self_info(users_of, 4, 8, si);
    assert_double_near(si[0], 1, EPS);
    assert_double_near(si[1], 2, EPS);
    assert_double_near(si[2], 3, EPS);
    assert_double_near(si[3], 3, EPS); /* never seen counts as one user */
    uint32_t list[3] = {0, 1, 3};
    assert_double_near(jc_rank_novelty(list, 3, si), 2.0, EPS);

    uint64_t genres[4] = {0x1, 0x3, 0x4, 0x0};
    /* pairs: (1,3) J=1/2, (1,4) J=0, (3,4) J=0 -> distances .5, 1, 1 */
    uint32_t l3[3] = {0, 1, 2};
    assert_double_near(jc_rank_ild_genres(l3, 3, genres), 2.5 / 3.0, EPS);
    uint32_t l2[2] = {3, 3};
    assert_double_near(jc_rank_ild_genres(l2, 2, genres), 0.0, EPS); /* empty vs empty */
    assert_double_near(jc_rank_ild_genres(l3, 1, genres), 0.0, EPS);
    float emb[4 * 2] = {1, 0, 0, 1, 1, 1, 0, 0};
    /* cos(e0,e1)=0, cos(e0,e2)=1/sqrt2, cos(e1,e2)=1/sqrt2 */
    assert_double_near(jc_rank_ild_cosine(l3, 3, emb, 2), (3.0 - 2.0 / sqrt(2.0)) / 3.0, 1e-7);
    uint32_t lz[2] = {0, 3};
    assert_double_near(jc_rank_ild_cosine(lz, 2, emb, 2), 1.0, EPS); /* zero vector */
}

/*
 * The tiny run. 6 items, 5 users:
 *   u0 scores .9 .8 .8 .1 NaN .5, known {0}, targets {2, 4}
 *      ranking without item 0: 1 (.8), 2 (.8, tie -> higher id later), 5, 3, 4 (NaN last)
 *   u1 all .2, no known items (cold), target {3} -> skipped
 *   u2 scores .1 .. .6, known {5, 4}, target {0} -> ranking 3 2 1 0
 *   u3 known {1, 2}, u4 known {1}: no targets, only item popularity
 */
struct tiny {
    uint64_t koff[6], toff[6];
    uint32_t kitems[6], titems[4];
    float scores[5 * 6];
    struct jc_eval_part known, target;
    struct jc_scorer *sc;
    uint64_t genres[6];
};

static void tiny_init(struct tiny *t)
{
    static const float s[5 * 6] = {0.9f, 0.8f, 0.8f, 0.1f, NAN,  0.5f, 0.2f, 0.2f, 0.2f, 0.2f,
                                   0.2f, 0.2f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0,    0,
                                   0,    0,    0,    0,    0,    0,    0,    0,    0,    0};
    memcpy(t->scores, s, sizeof s);
    const uint64_t koff[6] = {0, 1, 1, 3, 5, 6};
    const uint32_t kitems[6] = {0, 5, 4, 1, 2, 1};
    const uint64_t toff[6] = {0, 2, 3, 4, 4, 4};
    const uint32_t titems[4] = {2, 4, 3, 0};
    memcpy(t->koff, koff, sizeof koff);
    memcpy(t->kitems, kitems, sizeof kitems);
    memcpy(t->toff, toff, sizeof toff);
    memcpy(t->titems, titems, sizeof t->titems);
    t->known = (struct jc_eval_part){5, 6, t->koff, t->kitems, NULL, NULL};
    t->target = (struct jc_eval_part){5, 6, t->toff, t->titems, NULL, NULL};
    const uint64_t g[6] = {1, 1, 3, 2, 0, 0};
    memcpy(t->genres, g, sizeof g);
    assert_int_equal(jc_scorer_matrix(&t->sc, t->scores, 5, 6), JC_OK);
}

static void tiny_config(struct jc_eval_config *c, struct tiny *t)
{
    jc_eval_config_default(c);
    c->ks[0] = 2;
    c->ks[1] = 5;
    c->n_ks = 2;
    c->recall_ns[0] = 3;
    c->n_recall_ns = 1;
    c->threads = 1;
    c->item_genres = t->genres;
    c->n_segments = 2;
}

static void test_tiny_full(void **state)
{
    (void)state;
    struct tiny t;
    tiny_init(&t);
    struct jc_eval_config c;
    tiny_config(&c, &t);
    struct jc_eval_result r;
    assert_int_equal(jc_eval_run(&c, t.sc, &t.known, &t.target, &r), JC_OK);
    assert_int_equal(r.n_users, 2);
    assert_int_equal(r.n_cold_skipped, 1);
    assert_int_equal(r.n_targets, 3);
    /* K = 2: u0 [1, 2] -> hit at rank 2; u2 [3, 2] -> none */
    assert_double_near(r.at[0].m.precision, 0.25, EPS);
    assert_double_near(r.at[0].m.recall, 0.25, EPS);
    assert_double_near(r.at[0].m.hit, 0.5, EPS);
    assert_double_near(r.at[0].m.mrr, 0.25, EPS);
    assert_double_near(r.at[0].m.ndcg, 0.19342640361727081, EPS);
    assert_double_near(r.at[0].m.map, 0.125, EPS);
    /* K = 5: u0 [1 2 5 3 4] hits at 2 and 5; u2 [3 2 1 0] hit at 4 */
    assert_double_near(r.at[1].m.precision, 0.3, EPS);
    assert_double_near(r.at[1].m.recall, 1.0, EPS);
    assert_double_near(r.at[1].m.hit, 1.0, EPS);
    assert_double_near(r.at[1].m.mrr, 0.375, EPS);
    assert_double_near(r.at[1].m.ndcg, 0.5273635390386154, EPS);
    assert_double_near(r.at[1].m.map, 0.35, EPS); /* (0.5(1/2 + 2/5) + 1/4) / 2 */
    /* beyond accuracy at K = 2: lists {1,2}, {3,2} */
    assert_double_near(r.at[0].coverage, 0.5, EPS);
    assert_double_near(r.at[0].gini, 14.0 / 24.0, EPS);
    /* popularity among 4 users with known items: item 1 has 2 -> 1 bit,
     * every other item 1 (or 0) user -> 2 bits */
    assert_double_near(r.at[0].novelty, 1.75, EPS);
    assert_double_near(r.at[0].ild, 0.5, EPS);
    assert_double_near(r.at[1].coverage, 1.0, EPS);
    assert_double_near(r.at[1].gini, 1.0 / 6.0, EPS);
    assert_double_near(r.at[1].novelty, 1.775, EPS);
    assert_double_near(r.at[1].ild, 0.6916666666666667, EPS);
    /* recall layer N = 3: u0 finds 1 of 2, u2 0 of 1 */
    assert_int_equal(r.n_recall_ns, 1);
    assert_double_near(r.recall_hit[0], 1.0 / 3.0, EPS);
    /* segments by known count: u0 has 1, u2 has 2 */
    assert_int_equal(r.n_segments, 2);
    assert_string_equal(r.segments[0].label, "1-1 known");
    assert_int_equal(r.segments[0].n_users, 1);
    assert_double_near(r.segments[0].at[0].ndcg, 0.38685280723454163, EPS);
    assert_double_near(r.segments[1].at[1].ndcg, 0.43067655807339306, EPS);
    /* by name */
    double v;
    assert_int_equal(jc_eval_metric(&r, "ndcg@5", &v), JC_OK);
    assert_double_near(v, 0.5273635390386154, EPS);
    assert_int_equal(jc_eval_metric(&r, "hr@2", &v), JC_OK);
    assert_double_near(v, 0.5, EPS);
    assert_int_equal(jc_eval_metric(&r, "recall_hit@3", &v), JC_OK);
    assert_int_equal(jc_eval_metric(&r, "ndcg@10", &v), JC_ENOTFOUND);
    assert_non_null(strstr(jc_errmsg(), "K = 10 was not computed"));
    assert_int_equal(jc_eval_metric(&r, "foo@2", &v), JC_ENOTFOUND);
    assert_int_equal(jc_eval_metric(&r, "ndcg", &v), JC_ENOTFOUND);
    /* cold users included: u1 ranks all items tied at .2 -> 0 1 2 3 4 5 */
    c.skip_cold = 0;
    assert_int_equal(jc_eval_run(&c, t.sc, &t.known, &t.target, &r), JC_OK);
    assert_int_equal(r.n_users, 3);
    assert_double_near(r.at[1].m.recall, 1.0, EPS);
    assert_double_near(r.at[0].m.hit, 1.0 / 3.0, EPS);
    /* JSON output names the metrics */
    struct jc_buf b;
    jc_buf_init(&b, 1 << 20);
    assert_int_equal(jc_eval_result_json(&r, &b), JC_OK);
    assert_non_null(strstr(b.data, "\"mode\":\"full\""));
    assert_non_null(strstr(b.data, "\"ndcg@5\":"));
    jc_buf_free(&b);
    jc_scorer_destroy(t.sc);
}

static void test_tiny_sampled(void **state)
{
    (void)state;
    struct tiny t;
    tiny_init(&t);
    struct jc_eval_config c;
    tiny_config(&c, &t);
    c.mode = JC_EVAL_SAMPLED;
    c.n_negatives = 99; /* more than available: every candidate is used */
    struct jc_eval_result r;
    assert_int_equal(jc_eval_run(&c, t.sc, &t.known, &t.target, &r), JC_OK);
    /* cases: u0 target 2 (rank 2 behind item 1 by the id tie rule), u0
     * target 4 (NaN, last of 4), u2 target 0 (last of 4) */
    assert_int_equal(r.n_cases, 3);
    assert_int_equal(r.n_users, 2);
    assert_double_near(r.at[0].m.hit, 1.0 / 3.0, EPS);
    assert_double_near(r.at[0].m.ndcg, 0.2103099178571525, EPS);
    assert_double_near(r.at[1].m.hit, 1.0, EPS);
    assert_double_near(r.at[1].m.ndcg, 0.49742762323941453, EPS);
    assert_double_near(r.at[1].m.mrr, 1.0 / 3.0, EPS);
    assert_true(isnan(r.at[0].coverage));
    assert_int_equal(r.n_recall_ns, 0);
    /* the exported negatives are the candidates that were ranked */
    uint32_t negs[16];
    size_t each;
    assert_int_equal(jc_eval_negatives(&c, &t.known, &t.target, 0, negs, 16, &each), JC_OK);
    assert_int_equal(each, 3);
    uint32_t sorted[3] = {negs[0], negs[1], negs[2]};
    for (int a = 0; a < 3; a++)
        for (int b2 = a + 1; b2 < 3; b2++)
            if (sorted[b2] < sorted[a]) {
                uint32_t x = sorted[a];
                sorted[a] = sorted[b2];
                sorted[b2] = x;
            }
    assert_int_equal(sorted[0], 1);
    assert_int_equal(sorted[1], 3);
    assert_int_equal(sorted[2], 5);
    assert_int_equal(jc_eval_negatives(&c, &t.known, &t.target, 0, negs, 5, &each), JC_ELIMIT);
    assert_int_equal(jc_eval_negatives(&c, &t.known, &t.target, 9, negs, 16, &each), JC_EINVAL);
    jc_scorer_destroy(t.sc);
}

/* Random parts and scores with many ties. */
struct big {
    uint32_t nu, ni;
    uint64_t *koff, *toff;
    uint32_t *kit, *tit;
    float *scores;
    struct jc_eval_part known, target;
};

static void big_init(struct big *b, uint32_t nu, uint32_t ni, uint64_t seed)
{
    struct jc_rng r;
    jc_rng_seed(&r, seed);
    b->nu = nu;
    b->ni = ni;
    b->koff = calloc(nu + 1, sizeof *b->koff);
    b->toff = calloc(nu + 1, sizeof *b->toff);
    b->kit = malloc((size_t)nu * ni * sizeof *b->kit);
    b->tit = malloc((size_t)nu * ni * sizeof *b->tit);
    b->scores = malloc((size_t)nu * ni * sizeof *b->scores);
    uint64_t nk = 0, nt = 0;
    for (uint32_t u = 0; u < nu; u++) {
        for (uint32_t i = 0; i < ni; i++) {
            uint64_t x = jc_rng_below(&r, 100);
            if (x < 10)
                b->kit[nk++] = i;
            else if (x < 14)
                b->tit[nt++] = i;
            b->scores[(size_t)u * ni + i] = (float)jc_rng_below(&r, 20) / 20.0f;
        }
        b->koff[u + 1] = nk;
        b->toff[u + 1] = nt;
    }
    b->known = (struct jc_eval_part){nu, ni, b->koff, b->kit, NULL, NULL};
    b->target = (struct jc_eval_part){nu, ni, b->toff, b->tit, NULL, NULL};
}

static void big_free(struct big *b)
{
    free(b->koff);
    free(b->toff);
    free(b->kit);
    free(b->tit);
    free(b->scores);
}

struct ref_sel {
    float s;
    uint32_t i;
};

static int cmp_ref(const void *a, const void *b)
{
    const struct ref_sel *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->i < y->i ? -1 : 1;
}

static int cmp_u32s(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void test_select_against_sort(void **state)
{
    (void)state;
    struct jc_rng r;
    jc_rng_seed(&r, 7);
    uint32_t n = 3000;
    float *s = malloc(n * sizeof *s);
    uint32_t excl[300];
    struct ref_sel *ref = malloc(n * sizeof *ref);
    uint64_t *keys = malloc(n * sizeof *keys), *cand = malloc(n * sizeof *cand);
    float *sample = malloc((n / 8 + 1) * sizeof *sample);
    uint32_t *mark = calloc(n, sizeof *mark);
    for (int round = 0; round < 40; round++) {
        for (uint32_t i = 0; i < n; i++)
            s[i] = round % 3 == 0 ? (float)jc_rng_below(&r, 5) : jc_rng_float(&r);
        if (round == 5) {
            s[17] = NAN;
            s[18] = -0.0f;
            s[19] = 0.0f;
        }
        size_t ne = 0;
        uint32_t stamp = (uint32_t)round + 1;
        for (uint32_t i = 0; i < n && ne < 300; i += 1 + (uint32_t)jc_rng_below(&r, 20)) {
            excl[ne++] = i;
            mark[i] = stamp;
        }
        if (round == 7) /* mask the best items: the sampled threshold must cope */
            for (uint32_t i = 0; i < n; i++)
                if (s[i] > 0.9f && mark[i] != stamp && ne < 300) {
                    excl[ne++] = i;
                    mark[i] = stamp;
                }
        if (round == 7)
            qsort(excl, ne, sizeof *excl, cmp_u32s);
        size_t L = round % 2 ? 700 : 90;
        size_t sorted_len = 1 + jc_rng_below(&r, 50);
        uint32_t targets[40], trank[40];
        uint8_t tscratch[40 * 24];
        size_t nt = 1 + jc_rng_below(&r, 40);
        for (size_t t = 0; t < nt; t++)
            targets[t] = (uint32_t)jc_rng_below(&r, n);
        const uint64_t *res;
        size_t got = jc_eval__select(s, n, mark, stamp, ne, L, sorted_len, targets, nt, trank, keys,
                                     cand, sample, tscratch, &res);
        size_t m = 0, e = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (e < ne && excl[e] == i) {
                e++;
                continue;
            }
            ref[m++] = (struct ref_sel){isnan(s[i]) ? -INFINITY : s[i], i};
        }
        qsort(ref, m, sizeof *ref, cmp_ref);
        assert_int_equal(got, sorted_len < m ? sorted_len : m);
        /* the sorted prefix is exactly the reference order */
        for (size_t k = 0; k < got; k++)
            assert_int_equal(jc_eval__key_item(res[k]), ref[k].i);
        /* every target's rank is exact below L, unknown (max) beyond */
        for (size_t t = 0; t < nt; t++) {
            size_t want = UINT32_MAX;
            for (size_t k = 0; k < m; k++)
                if (ref[k].i == targets[t]) {
                    want = k;
                    break;
                }
            if (want < L)
                assert_int_equal(trank[t], want);
            else
                assert_true(trank[t] == UINT32_MAX || trank[t] == want);
        }
    }
    /* the key order: score, then lower id; NaN last; -0 ties with +0 */
    assert_true(jc_eval__key(1.0f, 5) > jc_eval__key(0.5f, 1));
    assert_true(jc_eval__key(0.5f, 1) > jc_eval__key(0.5f, 2));
    assert_true(jc_eval__key(-1e30f, 0) > jc_eval__key(NAN, 0));
    assert_true(jc_eval__key(-INFINITY, 1) > jc_eval__key(NAN, 2));
    assert_true(jc_eval__key(-0.0f, 1) > jc_eval__key(0.0f, 2));
    assert_true(jc_eval__key(-0.5f, 1) > jc_eval__key(-0.75f, 0));
    assert_int_equal(jc_eval__key_item(jc_eval__key(3.0f, 1234)), 1234);
    /* fewer candidates than L */
    uint32_t m4[4] = {99, 99, 99, 0};
    float s4[4] = {1, 2, 3, 4};
    uint32_t t4[2] = {3, 0}, r4[2];
    uint8_t ts[64];
    const uint64_t *res;
    assert_int_equal(
        jc_eval__select(s4, 4, m4, 99, 3, 10, 10, t4, 2, r4, keys, cand, sample, ts, &res), 1);
    assert_int_equal(r4[0], 0);
    assert_int_equal(r4[1], UINT32_MAX); /* masked */
    assert_int_equal(jc_eval__key_item(res[0]), 3);
    free(keys);
    free(cand);
    free(sample);
    free(mark);
    free(s);
    free(ref);
}

static void strip_time(struct jc_eval_result *r)
{
    r->seconds = 0;
}

static void test_threads_identical(void **state)
{
    (void)state;
    struct big b;
    big_init(&b, 301, 700, 11);
    struct jc_scorer *sc;
    assert_int_equal(jc_scorer_matrix(&sc, b.scores, b.nu, b.ni), JC_OK);
    for (int mode = 0; mode < 2; mode++) {
        struct jc_eval_config c;
        jc_eval_config_default(&c);
        c.mode = mode ? JC_EVAL_SAMPLED : JC_EVAL_FULL;
        c.threads = 1;
        struct jc_eval_result r1, r3;
        memset(&r1, 0, sizeof r1);
        memset(&r3, 0, sizeof r3);
        assert_int_equal(jc_eval_run(&c, sc, &b.known, &b.target, &r1), JC_OK);
        c.threads = 3;
        assert_int_equal(jc_eval_run(&c, sc, &b.known, &b.target, &r3), JC_OK);
        strip_time(&r1);
        strip_time(&r3);
        assert_memory_equal(&r1, &r3, sizeof r1);
        assert_int_equal(r1.n_users, 301);
        assert_true(r1.at[0].m.ndcg > 0 && r1.at[0].m.ndcg < 1);
    }
    jc_scorer_destroy(sc);
    big_free(&b);
}

/* A scorer that only has topn (like an ANN recall layer) returns the same
 * numbers as the full scores, given the same candidates. */
struct topn_self {
    const float *scores;
    uint32_t ni;
};

static int topn_fn(void *self, uint32_t user, int worker, uint32_t n, uint32_t *items, float *sc,
                   uint32_t *n_out)
{
    (void)worker;
    struct topn_self *t = self;
    uint64_t keys[300], cand[300];
    float sample[40];
    uint32_t mark[300] = {0};
    uint8_t ts[8];
    const uint64_t *res;
    size_t got = jc_eval__select(t->scores + (size_t)user * t->ni, t->ni, mark, 1, 0, n, n, NULL, 0,
                                 NULL, keys, cand, sample, ts, &res);
    for (size_t i = 0; i < got; i++) {
        items[i] = jc_eval__key_item(res[i]);
        sc[i] = t->scores[(size_t)user * t->ni + items[i]];
    }
    *n_out = (uint32_t)got;
    return JC_OK;
}

static void test_topn_scorer(void **state)
{
    (void)state;
    struct big b;
    big_init(&b, 50, 300, 5);
    struct jc_scorer *full, *tn;
    assert_int_equal(jc_scorer_matrix(&full, b.scores, b.nu, b.ni), JC_OK);
    struct topn_self ts = {b.scores, b.ni};
    assert_int_equal(jc_scorer_alloc(&tn, "topn", b.nu, b.ni), JC_OK);
    tn->self = &ts;
    tn->topn = topn_fn;
    struct jc_eval_config c;
    jc_eval_config_default(&c);
    c.n_recall_ns = 0;
    struct jc_eval_result r1, r2;
    assert_int_equal(jc_eval_run(&c, full, &b.known, &b.target, &r1), JC_OK);
    assert_int_equal(jc_eval_run(&c, tn, &b.known, &b.target, &r2), JC_OK);
    for (size_t k = 0; k < r1.n_ks; k++) {
        assert_double_near(r1.at[k].m.ndcg, r2.at[k].m.ndcg, 1e-12);
        assert_double_near(r1.at[k].m.recall, r2.at[k].m.recall, 1e-12);
        assert_double_near(r1.at[k].coverage, r2.at[k].coverage, 1e-12);
    }
    c.mode = JC_EVAL_SAMPLED;
    assert_int_equal(jc_eval_run(&c, tn, &b.known, &b.target, &r2), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "only has topn"));
    jc_scorer_destroy(full);
    jc_scorer_destroy(tn);
    big_free(&b);
}

static int failing_score(void *self, uint32_t user, int worker, float *buf, const float **scores)
{
    (void)self;
    (void)worker;
    (void)buf;
    (void)scores;
    if (user == 40)
        return jc_err_set(JC_EIO, "model file went away at user %u", user);
    *scores = buf;
    memset(buf, 0, 300 * sizeof *buf);
    return JC_OK;
}

static void test_errors(void **state)
{
    (void)state;
    struct big b;
    big_init(&b, 50, 300, 5);
    struct jc_scorer *sc;
    assert_int_equal(jc_scorer_matrix(&sc, b.scores, b.nu, b.ni), JC_OK);
    struct jc_eval_config c;
    struct jc_eval_result r;
    jc_eval_config_default(&c);
    c.n_ks = 0;
    assert_int_equal(jc_eval_run(&c, sc, &b.known, &b.target, &r), JC_EINVAL);
    jc_eval_config_default(&c);
    c.ks[1] = 5; /* 10, 5: not ascending */
    assert_int_equal(jc_eval_run(&c, sc, &b.known, &b.target, &r), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "ascending"));
    jc_eval_config_default(&c);
    c.mode = JC_EVAL_SAMPLED;
    c.n_negatives = 0;
    assert_int_equal(jc_eval_run(&c, sc, &b.known, &b.target, &r), JC_EINVAL);
    jc_eval_config_default(&c);
    struct jc_eval_part wrong = b.target;
    wrong.n_items = 299;
    assert_int_equal(jc_eval_run(&c, sc, &b.known, &wrong, &r), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "shapes differ"));
    /* a scorer error on a worker thread comes back with its message */
    struct jc_scorer *bad;
    assert_int_equal(jc_scorer_alloc(&bad, "bad", b.nu, b.ni), JC_OK);
    bad->score = failing_score;
    c.threads = 2;
    memset(&r, 0x5a, sizeof r);
    assert_int_equal(jc_eval_run(&c, bad, &b.known, &b.target, &r), JC_EIO);
    assert_string_equal(jc_errmsg(), "model file went away at user 40");
    jc_scorer_destroy(bad);
    /* allocation failures: either a clean ENOMEM or the same result */
    c.threads = 1;
    struct jc_eval_result ref;
    assert_int_equal(jc_eval_run(&c, sc, &b.known, &b.target, &ref), JC_OK);
    strip_time(&ref);
    int failures = 0;
    for (long k = 1; k < 40; k++) {
        jc_alloc_fail_after(k);
        int rc = jc_eval_run(&c, sc, &b.known, &b.target, &r);
        jc_alloc_fail_after(0);
        if (rc == JC_OK) {
            strip_time(&r);
            assert_memory_equal(&r, &ref, sizeof r);
        } else {
            assert_int_equal(rc, JC_ENOMEM);
            failures++;
        }
    }
    assert_true(failures >= 10);
    jc_scorer_destroy(sc);
    big_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_metrics),        cmocka_unit_test(test_beyond_accuracy),
        cmocka_unit_test(test_tiny_full),           cmocka_unit_test(test_tiny_sampled),
        cmocka_unit_test(test_select_against_sort), cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_topn_scorer),         cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
