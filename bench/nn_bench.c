/*
 * nn_bench.c - the junco side of the ranking-model benchmark (bench/nn/).
 *
 *   bench_nn export HOME OUTDIR
 *       writes the finished train/valid/test rows of HOME/samples as raw
 *       little-endian arrays (<split>.label.f32, .user.u32, .item.u32,
 *       .cat.u32 [n x n_cat], .num.f32 [n x n_num]) and layout.json (fields,
 *       vocabularies, row counts, xxh3 checksums), the files the PyTorch peer
 *       reads, so both sides train on the same bytes.
 *   bench_nn train HOME MODEL SEED THREADS EPOCHS BATCH LR
 *       trains MODEL for exactly EPOCHS epochs (no early stopping, the model
 *       of the last epoch) with the shared hyperparameters, evaluates the
 *       test split and measures serving latency of 1 user x 500 candidates
 *       (jc_model_score, one thread, 1 warm-up + 300 requests); prints one
 *       JSON line.
 *   bench_nn gemm
 *       measures the machine's single-core sgemm peak (OpenBLAS, 1024^3,
 *       best of 5), an FMA-loop peak, and the GFLOP/s of junco's dense layer
 *       forward+backward at the shapes the models use; prints JSON lines.
 */
#include "core/alloc.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/metrics.h>
#include <junco/model.h>
#include <junco/nn.h>
#include <junco/samples.h>
#include <junco/train.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int die(int rc)
{
    fprintf(stderr, "bench_nn: %s\n", jc_errmsg());
    return rc ? 1 : 0;
}

static int write_arr(const char *dir, const char *split, const char *ext, const void *p, size_t n,
                     uint64_t *sum)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, split, ext);
    *sum = jc_hash64(p, n, 0);
    return jc_file_write_atomic(path, p, n);
}

static int cmd_export(const char *home, const char *out)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/samples", home);
    int rc = jc_mkdir_p(out);
    if (rc)
        return die(rc);
    FILE *js = NULL;
    char jpath[4096];
    snprintf(jpath, sizeof jpath, "%s/layout.json", out);
    js = fopen(jpath, "w");
    if (!js)
        return die(jc_err_set(JC_EIO, "cannot write %s", jpath));
    fprintf(js, "{\"splits\":{");
    const struct jc_feat_layout *L = NULL;
    for (int sp = 0; sp < 3; sp++) {
        struct jc_samples *s;
        if ((rc = jc_samples_open(&s, dir, (enum jc_split)sp, 0)))
            return die(rc);
        struct jc_train_source src;
        jc_train_source_samples(&src, s);
        struct jc_batch b;
        if ((rc = jc_train_source_load(&src, &b)))
            return die(rc);
        L = jc_samples_layout(s);
        const char *name = jc_split_name((enum jc_split)sp);
        uint64_t h[5];
        size_t n = b.n;
        if ((rc = write_arr(out, name, "label.f32", b.label, n * 4, &h[0])) ||
            (rc = write_arr(out, name, "user.u32", b.user, n * 4, &h[1])) ||
            (rc = write_arr(out, name, "item.u32", b.item, n * 4, &h[2])) ||
            (rc = write_arr(out, name, "cat.u32", b.cat, n * L->n_cat * 4, &h[3])) ||
            (rc = write_arr(out, name, "num.f32", b.num, n * L->n_num * 4, &h[4])))
            return die(rc);
        fprintf(js,
                "%s\"%s\":{\"rows\":%zu,\"xxh3\":{\"label\":\"%016llx\",\"user\":\"%016llx\","
                "\"item\":\"%016llx\",\"cat\":\"%016llx\",\"num\":\"%016llx\"}}",
                sp ? "," : "", name, n, (unsigned long long)h[0], (unsigned long long)h[1],
                (unsigned long long)h[2], (unsigned long long)h[3], (unsigned long long)h[4]);
        if (sp == 2) {
            fprintf(js, "},\"n_cat\":%u,\"n_num\":%u,\"vocabs\":[", L->n_cat, L->n_num);
            for (uint32_t v = 0; v < L->n_vocabs; v++)
                fprintf(js, "%s{\"name\":\"%s\",\"size\":%u}", v ? "," : "", L->vocabs[v].name,
                        L->vocabs[v].size);
            fprintf(js, "],\"fields\":[");
            for (uint32_t f = 0; f < L->n_fields; f++) {
                const struct jc_feat_field *fd = &L->fields[f];
                fprintf(js,
                        "%s{\"name\":\"%s\",\"kind\":%d,\"side\":%d,\"vocab\":%u,\"width\":%u,"
                        "\"offset\":%u}",
                        f ? "," : "", fd->name, (int)fd->kind, (int)fd->side, fd->vocab, fd->width,
                        fd->offset);
            }
            fprintf(js, "]}\n");
        }
        jc_batch_free(&b);
        jc_samples_close(s);
    }
    fclose(js);
    fprintf(stderr, "exported to %s\n", out);
    return 0;
}

/* CPU time of the calling thread: the serving cost without the time the
 * scheduler gave to other processes (the benchmark machine is shared). */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_f(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_train(const char *home, const char *model, uint64_t seed, int threads,
                     uint32_t epochs, uint32_t batch, double lr)
{
    enum jc_model_kind kind;
    if (jc_model_kind_parse(model, &kind))
        return die(jc_err_set(JC_EINVAL, "unknown model %s", model));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/samples", home);
    struct jc_samples *s[3];
    struct jc_train_source src[3];
    int rc;
    for (int sp = 0; sp < 3; sp++) {
        if ((rc = jc_samples_open(&s[sp], dir, (enum jc_split)sp, 0)))
            return die(rc);
        jc_train_source_samples(&src[sp], s[sp]);
    }
    struct jc_train_config c;
    jc_train_config_default(&c, kind);
    c.epochs = epochs;
    c.batch = batch;
    c.threads = threads;
    c.seed = c.model.seed = seed;
    c.patience = 0;
    if (lr > 0)
        c.model.opt.lr = c.model.opt_wide.lr = (float)lr;
    struct jc_model *m;
    struct jc_train_report rep;
    if ((rc = jc_train_run(&m, &c, &src[0], NULL, &rep)))
        return die(rc);
    struct jc_ctr_metrics tm;
    if ((rc = jc_train_evaluate(m, &src[2], threads, &tm)))
        return die(rc);
    /* serving latency: 1 user x 500 candidates from the test split */
    const uint32_t N = 500, REQ = 300;
    struct jc_batch all, req;
    if ((rc = jc_train_source_load(&src[2], &all)) || (rc = jc_batch_init(&req, src[2].layout, N)))
        return die(rc);
    const struct jc_feat_layout *L = src[2].layout;
    struct jc_model_scorer *sc;
    if ((rc = jc_model_scorer_create(&sc, m, N)))
        return die(rc);
    float *scores = jc_malloc_array(N, sizeof *scores);
    double *lat = jc_malloc_array(REQ, sizeof *lat), *cpu = jc_malloc_array(REQ, sizeof *cpu);
    for (uint32_t r = 0; r <= REQ; r++) {
        uint32_t u = (uint32_t)((r * 7919u) % all.n);
        for (uint32_t i = 0; i < N; i++) {
            uint32_t it = (uint32_t)((r * 104729u + i * 31u) % all.n);
            memcpy(req.cat + (size_t)i * L->n_cat, all.cat + (size_t)it * L->n_cat, L->n_cat * 4);
            memcpy(req.num + (size_t)i * L->n_num, all.num + (size_t)it * L->n_num, L->n_num * 4);
            for (uint32_t f = 0; f < L->n_fields; f++) {
                const struct jc_feat_field *fd = &L->fields[f];
                if (fd->side == JC_SIDE_ITEM)
                    continue;
                if (fd->kind == JC_FEAT_NUM)
                    req.num[(size_t)i * L->n_num + fd->offset] =
                        all.num[(size_t)u * L->n_num + fd->offset];
                else
                    memcpy(req.cat + (size_t)i * L->n_cat + fd->offset,
                           all.cat + (size_t)u * L->n_cat + fd->offset, fd->width * 4);
            }
        }
        req.n = N;
        uint64_t t0 = jc_now_ns(), c0 = thread_cpu_ns();
        if ((rc = jc_model_score(sc, &req, scores)))
            return die(rc);
        if (r > 0) { /* the first request is the warm-up */
            lat[r - 1] = (double)(jc_now_ns() - t0) * 1e-6;
            cpu[r - 1] = (double)(thread_cpu_ns() - c0) * 1e-6;
        }
    }
    qsort(lat, REQ, sizeof *lat, cmp_f);
    qsort(cpu, REQ, sizeof *cpu, cmp_f);
    printf("{\"impl\":\"junco\",\"model\":\"%s\",\"seed\":%llu,\"threads\":%d,\"epochs\":%u,"
           "\"batch\":%u,\"lr\":%g,\"test_auc\":%.6f,\"test_logloss\":%.6f,\"test_gauc\":%.6f,"
           "\"train_seconds\":%.4f,\"samples_per_sec\":%.1f,\"latency_p50_ms\":%.4f,"
           "\"latency_p99_ms\":%.4f,\"cpu_p50_ms\":%.4f,\"cpu_p99_ms\":%.4f,"
           "\"candidates\":%u}\n",
           model, (unsigned long long)seed, threads, epochs, batch, c.model.opt.lr, tm.auc,
           tm.logloss, tm.gauc, rep.seconds, rep.samples_per_sec, lat[REQ / 2],
           lat[(size_t)(REQ * 0.99)], cpu[REQ / 2], cpu[(size_t)(REQ * 0.99)], N);
    jc_free(scores);
    jc_free(lat);
    jc_free(cpu);
    jc_model_scorer_destroy(sc);
    jc_batch_free(&req);
    jc_batch_free(&all);
    jc_model_destroy(m);
    for (int sp = 0; sp < 3; sp++)
        jc_samples_close(s[sp]);
    return 0;
}

/* FMA-loop peak of one core: 12 independent AVX2 FMA chains (enough to
 * cover the FMA latency on both ports), 16 flops per instruction. */
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static double fma_peak(void)
{
    __m256 a = _mm256_set1_ps(1.0000001f), b = _mm256_set1_ps(1e-9f);
    __m256 c0 = _mm256_set1_ps(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
           c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    const long iters = 50000000;
    uint64_t t0 = jc_now_ns();
    for (long k = 0; k < iters; k++) {
        c0 = _mm256_fmadd_ps(c0, a, b);
        c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b);
        c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b);
        c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b);
        c10 = _mm256_fmadd_ps(c10, a, b);
        c11 = _mm256_fmadd_ps(c11, a, b);
        __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3));
    }
    double sec = (double)(jc_now_ns() - t0) * 1e-9;
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    if (out[0] == 12345.0f)
        printf("#\n");
    return (double)iters * 12 * 16 / sec * 1e-9;
}

static double time_best(void (*fn)(void *), void *ctx, int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = jc_now_ns();
        fn(ctx);
        double s = (double)(jc_now_ns() - t0) * 1e-9;
        if (s < best)
            best = s;
    }
    return best;
}

struct gm {
    int m, n, k;
    float *A, *B, *C, *dY, *dW, *db, *dX;
};

static void big_gemm(void *p)
{
    struct gm *g = p;
    jc_nn_gemm(0, 0, g->m, g->n, g->k, 1.0f, g->A, g->k, g->B, g->n, 0.0f, g->C, g->n);
}

static void dense_fb(void *p)
{
    struct gm *g = p;
    for (int it = 0; it < 20; it++) {
        jc_nn_dense_forward(g->m, g->k, g->n, g->A, g->k, g->B, g->db, g->C);
        jc_nn_dense_backward(g->m, g->k, g->n, g->A, g->k, g->B, g->dY, g->dW, g->db, g->dX, g->k);
    }
}

static int cmd_gemm(void)
{
    struct gm g;
    memset(&g, 0, sizeof g);
    g.m = g.n = g.k = 1024;
    size_t n2 = 1024 * 1024;
    g.A = jc_malloc_aligned(64, n2 * 4);
    g.B = jc_malloc_aligned(64, n2 * 4);
    g.C = jc_malloc_aligned(64, n2 * 4);
    for (size_t i = 0; i < n2; i++)
        g.A[i] = g.B[i] = 0.001f * (float)(i % 97);
    big_gemm(&g);
    double t = time_best(big_gemm, &g, 5);
    double peak = 2.0 * 1024 * 1024 * 1024 / t * 1e-9;
    double fp = fma_peak();
    printf("{\"kind\":\"sgemm_peak\",\"shape\":\"1024x1024x1024\",\"gflops\":%.2f}\n", peak);
    printf("{\"kind\":\"fma_loop_peak\",\"isa\":\"avx2+fma\",\"gflops\":%.2f}\n", fp);
    /* dense layers of the models: batch 256 and the widths of ml-latest-small */
    int shapes[][3] = {{256, 128, 310}, {256, 64, 128},  {256, 256, 310},
                       {256, 128, 256}, {500, 128, 200}, {1024, 128, 310}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct gm d;
        d.m = shapes[s][0];
        d.n = shapes[s][1];
        d.k = shapes[s][2];
        d.A = jc_malloc_aligned(64, (size_t)d.m * d.k * 4);
        d.B = jc_malloc_aligned(64, (size_t)d.k * d.n * 4);
        d.C = jc_malloc_aligned(64, (size_t)d.m * d.n * 4);
        d.dY = jc_malloc_aligned(64, (size_t)d.m * d.n * 4);
        d.dW = jc_malloc_aligned(64, (size_t)d.k * d.n * 4);
        d.db = jc_malloc_aligned(64, (size_t)d.n * 4);
        d.dX = jc_malloc_aligned(64, (size_t)d.m * d.k * 4);
        for (size_t i = 0; i < (size_t)d.m * d.k; i++)
            d.A[i] = 0.01f * (float)(i % 13);
        for (size_t i = 0; i < (size_t)d.k * d.n; i++)
            d.B[i] = 0.01f * (float)(i % 7);
        for (size_t i = 0; i < (size_t)d.m * d.n; i++)
            d.dY[i] = 0.01f * (float)(i % 5);
        dense_fb(&d);
        double td = time_best(dense_fb, &d, 5);
        double flops = 20.0 * 3 * 2.0 * d.m * d.n * d.k;
        double gf = flops / td * 1e-9;
        printf("{\"kind\":\"dense_fwd_bwd\",\"rows\":%d,\"in\":%d,\"out\":%d,\"gflops\":%.2f,"
               "\"efficiency_vs_sgemm_peak\":%.3f}\n",
               d.m, d.k, d.n, gf, gf / peak);
        jc_free_aligned(d.A);
        jc_free_aligned(d.B);
        jc_free_aligned(d.C);
        jc_free_aligned(d.dY);
        jc_free_aligned(d.dW);
        jc_free_aligned(d.db);
        jc_free_aligned(d.dX);
    }
    jc_free_aligned(g.A);
    jc_free_aligned(g.B);
    jc_free_aligned(g.C);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "export") == 0)
        return cmd_export(argv[2], argv[3]);
    if (argc >= 9 && strcmp(argv[1], "train") == 0)
        return cmd_train(argv[2], argv[3], strtoull(argv[4], NULL, 10),
                         (int)strtol(argv[5], NULL, 10), (uint32_t)strtoul(argv[6], NULL, 10),
                         (uint32_t)strtoul(argv[7], NULL, 10), strtod(argv[8], NULL));
    if (argc >= 2 && strcmp(argv[1], "gemm") == 0)
        return cmd_gemm();
    fprintf(stderr, "usage: bench_nn export HOME OUTDIR | train HOME MODEL SEED THREADS EPOCHS "
                    "BATCH LR | gemm\n");
    return 2;
}
