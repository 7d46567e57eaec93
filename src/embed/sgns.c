/*
 * sgns.c - skip-gram with negative sampling (word2vec's SGNS) over a token
 * corpus: the trainer behind item2vec, DeepWalk and node2vec.
 *
 * The algorithm is word2vec's (and gensim's) skip-gram: for every position
 * i of a (subsampled) sequence, a reduced window b ~ U[1, window] is drawn
 * and every context j with |i - j| <= b forms a pair; the pair updates the
 * input vector of token j against the output vector of token i (label 1)
 * and `negative` tokens drawn from count^0.75 (label 0). Frequent tokens are
 * dropped at random with gensim's keep probability (sqrt(c/t) + 1) * t / c,
 * t = sample * total. The learning rate decays linearly from lr to min_lr
 * over all epochs. Sequences longer than 10000 retained tokens are cut in
 * pieces (gensim truncates them instead).
 *
 * Speed: the vocabulary is renumbered by descending count (frequent rows
 * share cache lines and pages); rows are padded to multiples of 16 floats
 * and 64-byte aligned so the SIMD step kernel (vec.c) runs without tails;
 * negatives come from an alias table (O(1), one random number each) rather
 * than a 100M-entry unigram table; for each centre position, the rows of
 * all its pairs are prefetched before the updates start.
 *
 * Threads: with hogwild = 0 one thread processes everything in order (the
 * random streams depend only on the seed and the epoch): bit-identical
 * results. With hogwild = 1, each epoch is split into `threads` contiguous
 * slices that update the shared matrices without locks, as word2vec does.
 */
#include "embed_int.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/timeutil.h"
#include <junco/error.h>

#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SENT    10000
#define ALPHA_EVERY 10000 /* words between learning-rate updates */
#define MAX_WINDOW  1000
#define MAX_NEG     100

void jc_sgns_opts_default(struct jc_sgns_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dim = 64;
    o->window = 5;
    o->negative = 5;
    o->epochs = 10;
    o->min_count = 2;
    o->sample = 1e-3;
    o->ns_exponent = 0.75;
    o->lr = 0.025;
    o->min_lr = 0.0001;
    o->threads = 1;
    o->hogwild = 0;
    o->seed = 42;
}

int jc_embed__threads(int threads)
{
    if (threads <= 0)
        return jc_cpu_count();
    return threads;
}

struct sgns {
    const struct jc_sgns_opts *o;
    const struct jc_embed__kernels *k;
    uint32_t n_train; /* compact vocabulary size */
    uint64_t n_seqs;  /* compact corpus (pieces of <= MAX_SENT tokens) */
    uint64_t *off;
    uint32_t *toks;
    uint64_t *keep; /* keep token iff rand32 < keep[t] (2^32 = always) */
    uint32_t *neg_thr, *neg_alias;
    float *syn0, *syn1;
    size_t stride;
    uint64_t total_words; /* n_tokens * epochs */
    atomic_uint_fast64_t words_done;
    atomic_int stop;
    uint32_t epoch;
    int n_tasks;
    uint64_t *task_begin; /* sequence index where each task's slice starts */
    uint32_t *work;       /* per task: sentence, pair lists, targets */
    size_t work_per_task;
    uint64_t report_next;
};

static float current_alpha(const struct sgns *s, uint64_t done)
{
    double frac = s->total_words ? (double)done / (double)s->total_words : 1.0;
    if (frac > 1.0)
        frac = 1.0;
    double a = s->o->lr - (s->o->lr - s->o->min_lr) * frac;
    if (a < s->o->min_lr)
        a = s->o->min_lr;
    return (float)a;
}

static inline void prefetch_row(const float *row, size_t stride)
{
    const char *p = (const char *)row;
    for (size_t b = 0; b < stride * sizeof(float); b += 64)
        _mm_prefetch(p + b, _MM_HINT_T0);
}

static void train_slice(void *ctx, uint64_t task, int worker)
{
    struct sgns *s = ctx;
    const struct jc_sgns_opts *o = s->o;
    const struct jc_embed__kernels *k = s->k;
    struct jc_rng rng;
    jc_rng_stream(&rng, o->seed, ((uint64_t)s->epoch << 20) + task + 1);
    uint32_t window = o->window;
    uint32_t *sent = s->work + task * s->work_per_task;
    uint32_t *ctx_rows = sent + MAX_SENT;
    uint32_t *ntg = ctx_rows + 2 * window;
    uint32_t *tg = ntg + 2 * window;
    uint32_t neg = o->negative;
    size_t stride = s->stride;
    uint64_t local = 0;
    float alpha = current_alpha(s, atomic_load(&s->words_done));
    const int sampling = o->sample > 0;
    for (uint64_t q = s->task_begin[task]; q < s->task_begin[task + 1]; q++) {
        if (atomic_load_explicit(&s->stop, memory_order_relaxed))
            return;
        uint32_t len = 0;
        for (uint64_t p = s->off[q]; p < s->off[q + 1]; p++) {
            uint32_t t = s->toks[p];
            if (sampling && s->keep[t] <= (uint64_t)jc_rng_u32(&rng))
                continue;
            sent[len++] = t;
        }
        for (uint32_t i = 0; i < len; i++) {
            uint32_t b = (uint32_t)(((uint64_t)jc_rng_u32(&rng) * window) >> 32);
            uint32_t lo = i + b >= window ? i + b - window : 0;
            uint32_t hi = i + window + 1 - b;
            if (hi > len)
                hi = len;
            uint32_t word = sent[i];
            uint32_t np = 0;
            uint32_t *t = tg;
            for (uint32_t j = lo; j < hi; j++) {
                if (j == i)
                    continue;
                ctx_rows[np] = sent[j];
                uint32_t n = 0;
                t[n++] = word;
                for (uint32_t d = 0; d < neg; d++) {
                    uint32_t x =
                        jc_alias_draw(s->neg_thr, s->neg_alias, s->n_train, jc_rng_u64(&rng));
                    if (x != word)
                        t[n++] = x;
                }
                ntg[np++] = n;
                t += n;
            }
            /* Bring every row of this centre's pairs in, then update. */
            prefetch_row(s->syn1 + (size_t)word * stride, stride);
            t = tg;
            for (uint32_t c = 0; c < np; c++) {
                prefetch_row(s->syn0 + (size_t)ctx_rows[c] * stride, stride);
                for (uint32_t d = 1; d < ntg[c]; d++)
                    prefetch_row(s->syn1 + (size_t)t[d] * stride, stride);
                t += ntg[c];
            }
            t = tg;
            for (uint32_t c = 0; c < np; c++) {
                k->sgns_step(s->syn0 + (size_t)ctx_rows[c] * stride, s->syn1, stride, t,
                             (int)ntg[c], alpha, 0);
                t += ntg[c];
            }
        }
        local += s->off[q + 1] - s->off[q];
        if (local >= ALPHA_EVERY) {
            uint64_t done = atomic_fetch_add(&s->words_done, local) + local;
            local = 0;
            alpha = current_alpha(s, done);
            if (worker == 0 && done >= s->report_next) {
                s->report_next = done + s->total_words / 200 + 1;
                char note[48];
                snprintf(note, sizeof note, "epoch %u/%u", s->epoch + 1, o->epochs);
                if (jc_progress_report(&o->progress, "sgns", done, s->total_words, "words", note))
                    atomic_store(&s->stop, 1);
            }
        }
    }
    atomic_fetch_add(&s->words_done, local);
}

static int check_opts(const struct jc_sgns_corpus *c, const struct jc_sgns_opts *o)
{
    if (o->dim < 1 || o->dim > JC_EMB_MAX_DIM)
        return jc_err_set(JC_EINVAL, "sgns: dim %u out of range [1, %u]", o->dim, JC_EMB_MAX_DIM);
    if (o->window < 1 || o->window > MAX_WINDOW)
        return jc_err_set(JC_EINVAL, "sgns: window %u out of range [1, %d]", o->window, MAX_WINDOW);
    if (o->negative < 1 || o->negative > MAX_NEG)
        return jc_err_set(JC_EINVAL, "sgns: negative %u out of range [1, %d]", o->negative,
                          MAX_NEG);
    if (o->epochs < 1)
        return jc_err_set(JC_EINVAL, "sgns: epochs must be at least 1");
    if (o->min_count < 1)
        return jc_err_set(JC_EINVAL, "sgns: min_count must be at least 1");
    if (!(o->sample >= 0 && o->sample <= 1))
        return jc_err_set(JC_EINVAL, "sgns: sample %g out of range [0, 1]", o->sample);
    if (!(o->lr > 0) || !(o->min_lr >= 0) || o->min_lr > o->lr || !isfinite(o->lr))
        return jc_err_set(JC_EINVAL, "sgns: learning rates lr %g, min_lr %g invalid", o->lr,
                          o->min_lr);
    if (!(o->ns_exponent >= 0 && o->ns_exponent <= 2))
        return jc_err_set(JC_EINVAL, "sgns: ns_exponent %g out of range [0, 2]", o->ns_exponent);
    if (c->n_vocab == 0)
        return jc_err_set(JC_EINVAL, "sgns: empty vocabulary");
    if (c->off[0] != 0)
        return jc_err_set(JC_EINVAL, "sgns: corpus offsets must start at 0");
    for (uint64_t s = 0; s < c->n_seqs; s++)
        if (c->off[s + 1] < c->off[s])
            return jc_err_set(JC_EINVAL, "sgns: corpus offsets decrease at sequence %llu",
                              (unsigned long long)s);
    return JC_OK;
}

struct count_rank {
    uint64_t count;
    uint32_t token;
};

static int by_count_desc(const void *a, const void *b)
{
    const struct count_rank *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->token < y->token ? -1 : x->token > y->token;
}

static void sgns_free(struct sgns *s)
{
    jc_free(s->off);
    jc_free(s->toks);
    jc_free(s->keep);
    jc_free(s->neg_thr);
    jc_free(s->neg_alias);
    jc_free_aligned(s->syn0);
    jc_free_aligned(s->syn1);
    jc_free(s->task_begin);
    jc_free(s->work);
}

int jc_sgns_train(const struct jc_sgns_corpus *c, const struct jc_sgns_opts *o, float *vecs,
                  uint8_t *trained, struct jc_sgns_result *res)
{
    int rc = check_opts(c, o);
    if (rc)
        return rc;
    uint64_t n_tok = c->off[c->n_seqs];
    uint32_t nv = c->n_vocab;
    uint64_t *count = jc_calloc(nv, sizeof *count);
    if (count == NULL)
        return JC_ENOMEM;
    for (uint64_t p = 0; p < n_tok; p++) {
        uint32_t t = c->tokens[p];
        if (t >= nv) {
            jc_free(count);
            return jc_err_set(JC_EINVAL, "sgns: token %u at position %llu is >= n_vocab %u", t,
                              (unsigned long long)p, nv);
        }
        count[t]++;
    }
    struct sgns s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.k = jc_embed__kernels();
    s.stride = ((size_t)o->dim + 15) & ~(size_t)15;
    /* Compact vocabulary: tokens with count >= min_count, by descending count. */
    uint32_t *to_compact = jc_malloc_array(nv, sizeof *to_compact);
    struct count_rank *rank = jc_malloc_array(nv, sizeof *rank);
    if (!to_compact || !rank) {
        jc_free(count);
        jc_free(to_compact);
        jc_free(rank);
        return JC_ENOMEM;
    }
    uint32_t nt = 0;
    uint64_t retained = 0;
    for (uint32_t t = 0; t < nv; t++) {
        to_compact[t] = UINT32_MAX;
        if (count[t] >= o->min_count) {
            rank[nt].count = count[t];
            rank[nt].token = t;
            nt++;
            retained += count[t];
        }
    }
    if (nt == 0) {
        jc_free(count);
        jc_free(to_compact);
        jc_free(rank);
        return jc_err_set(JC_EINVAL,
                          "sgns: no token occurs min_count = %u times (corpus of %llu tokens)",
                          o->min_count, (unsigned long long)n_tok);
    }
    qsort(rank, nt, sizeof *rank, by_count_desc);
    for (uint32_t i = 0; i < nt; i++)
        to_compact[rank[i].token] = i;
    s.n_train = nt;
    /* Compact corpus, cut into pieces of at most MAX_SENT tokens. */
    uint64_t max_pieces = c->n_seqs + retained / MAX_SENT + 1;
    s.off = jc_malloc_array(max_pieces + 1, sizeof *s.off);
    s.toks = jc_malloc_array(retained ? retained : 1, sizeof *s.toks);
    s.keep = jc_malloc_array(nt, sizeof *s.keep);
    s.neg_thr = jc_malloc_array(nt, sizeof *s.neg_thr);
    s.neg_alias = jc_malloc_array(nt, sizeof *s.neg_alias);
    size_t mat_bytes;
    if (jc_size_mul((size_t)nt * s.stride, sizeof(float), &mat_bytes)) {
        rc = jc_err_set(JC_ENOMEM, "sgns: matrix size overflows");
        goto out;
    }
    s.syn0 = jc_malloc_aligned(64, mat_bytes);
    s.syn1 = jc_malloc_aligned(64, mat_bytes);
    double *w = jc_malloc_array(nt, sizeof *w);
    uint32_t *work = jc_malloc_array((size_t)nt * 2, sizeof *work);
    double *prob = jc_malloc_array(nt, sizeof *prob);
    if (!s.off || !s.toks || !s.keep || !s.neg_thr || !s.neg_alias || !s.syn0 || !s.syn1 || !w ||
        !work || !prob) {
        jc_free(w);
        jc_free(work);
        jc_free(prob);
        rc = JC_ENOMEM;
        goto out;
    }
    uint64_t np = 0, pos = 0;
    s.off[0] = 0;
    for (uint64_t q = 0; q < c->n_seqs; q++) {
        uint32_t len = 0;
        for (uint64_t p = c->off[q]; p < c->off[q + 1]; p++) {
            uint32_t t = to_compact[c->tokens[p]];
            if (t == UINT32_MAX)
                continue;
            s.toks[pos++] = t;
            if (++len == MAX_SENT) {
                s.off[++np] = pos;
                len = 0;
            }
        }
        if (len > 0)
            s.off[++np] = pos;
    }
    s.n_seqs = np;
    /* Subsampling thresholds (gensim's formula). */
    double thr_count = o->sample * (double)retained;
    for (uint32_t i = 0; i < nt; i++) {
        double v = (double)rank[i].count;
        double p = o->sample > 0 ? (sqrt(v / thr_count) + 1.0) * (thr_count / v) : 1.0;
        s.keep[i] = p >= 1.0 ? ((uint64_t)1 << 32) : (uint64_t)llround(p * 4294967296.0);
        w[i] = pow(v, o->ns_exponent);
    }
    jc_alias__fill(w, nt, s.neg_thr, s.neg_alias, work, prob);
    jc_free(w);
    jc_free(work);
    jc_free(prob);
    /* Initialisation as word2vec: input rows U(-0.5, 0.5) / dim, output 0. */
    {
        struct jc_rng r;
        jc_rng_stream(&r, o->seed, 0);
        for (uint32_t i = 0; i < nt; i++) {
            float *row = s.syn0 + (size_t)i * s.stride;
            for (uint32_t d = 0; d < o->dim; d++)
                row[d] = (jc_rng_float(&r) - 0.5f) / (float)o->dim;
        }
    }
    /* Task slices: one (deterministic) or `threads` (hogwild), balanced by tokens. */
    int threads = o->hogwild ? jc_embed__threads(o->threads) : 1;
    if ((uint64_t)threads > s.n_seqs && s.n_seqs > 0)
        threads = (int)s.n_seqs;
    if (threads < 1)
        threads = 1;
    s.n_tasks = threads;
    s.task_begin = jc_malloc_array((size_t)threads + 1, sizeof *s.task_begin);
    s.work_per_task =
        MAX_SENT + 4 * (size_t)o->window + 2 * (size_t)o->window * ((size_t)o->negative + 1);
    s.work = jc_malloc_array(s.work_per_task * (size_t)threads, sizeof *s.work);
    if (s.task_begin == NULL || s.work == NULL) {
        rc = JC_ENOMEM;
        goto out;
    }
    {
        uint64_t q = 0;
        for (int t = 0; t < threads; t++) {
            s.task_begin[t] = q;
            uint64_t goal = pos * (uint64_t)(t + 1) / (uint64_t)threads;
            while (q < s.n_seqs && s.off[q + 1] <= goal)
                q++;
        }
        s.task_begin[threads] = s.n_seqs;
    }
    s.total_words = pos * o->epochs;
    atomic_init(&s.words_done, 0);
    atomic_init(&s.stop, 0);
    struct jc_pool *pool = NULL;
    if (threads > 1 && (rc = jc_pool_create(&pool, threads)))
        goto out;
    uint64_t t0 = jc_now_ns();
    for (uint32_t e = 0; e < o->epochs && !atomic_load(&s.stop); e++) {
        s.epoch = e;
        if (pool)
            jc_pool_run(pool, (uint64_t)threads, train_slice, &s);
        else
            train_slice(&s, 0, 0);
    }
    double secs = (double)(jc_now_ns() - t0) * 1e-9;
    jc_pool_destroy(pool);
    if (atomic_load(&s.stop)) {
        rc = jc_err_set(JC_ECANCELED, "sgns: training canceled");
        goto out;
    }
    for (uint32_t t = 0; t < nv; t++) {
        float *dst = vecs + (size_t)t * o->dim;
        uint32_t ci = to_compact[t];
        if (ci == UINT32_MAX)
            memset(dst, 0, o->dim * sizeof(float));
        else
            memcpy(dst, s.syn0 + (size_t)ci * s.stride, o->dim * sizeof(float));
        if (trained)
            trained[t] = ci != UINT32_MAX;
    }
    if (res) {
        res->n_trained = nt;
        res->words = s.total_words;
        res->seconds = secs;
        res->words_per_sec = secs > 0 ? (double)s.total_words / secs : 0.0;
        res->threads = threads;
    }
    JC_DEBUG("sgns: %u tokens trained, %llu words x %u epochs in %.3fs (%s kernels)", nt,
             (unsigned long long)pos, o->epochs, secs, s.k->name);
out:
    jc_free(count);
    jc_free(to_compact);
    jc_free(rank);
    sgns_free(&s);
    return rc;
}
