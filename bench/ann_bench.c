/*
 * ann_bench.c - the junco side of the ANN benchmark (bench/ann/run).
 *
 *   bench_ann gen --kind clustered|items|gaussian|text --n N --nq Q --dim D
 *                 --metric l2|cosine|ip [--k 10] [--seed S] [--input FILE] --out DIR
 *       writes DIR/base.npy (n x dim float32), DIR/query.npy (nq x dim
 *       float32), DIR/gt.npy (nq x k int32: exact top-k ids, computed with
 *       junco's exact search) and DIR/meta.json. The peers read the same
 *       files (numpy.load), so both sides see identical vectors.
 *   bench_ann run --data DIR --impl hnsw|flat|lsh [--threads T] [--m 16]
 *                 [--efc 200] [--ef 10,20,40] [--probes 0,1,2] [--repeat 5]
 *                 [--build-repeat 1] [--min-time 0.5] [--save FILE] [--load FILE]
 *       builds the index (timed; bytes per vector from the RSS growth and
 *       from jc_ann_info), then for each ef (or LSH probe count) runs all
 *       queries as one batch on T threads, one warm-up and `repeat` timed
 *       runs (each repeats the query set until --min-time seconds passed),
 *       and prints one JSON line per setting: recall@k against gt.npy and
 *       median/min/max queries per second. --load FILE searches a saved
 *       index instead of building one.
 *
 * Kinds: "clustered" = 1024 Gaussian centres with anisotropic noise whose
 * scale decays over the dimensions (like real embeddings, whose spectrum
 * decays); "items" = item-like vectors: mixtures of 1-3 of 18 "genre"
 * directions plus a personal component, norms spread by popularity;
 * "gaussian" = i.i.d. N(0, 1) (the hardest case); "text" = vectors read
 * from a file in the course's "id:v1 v2 ..." format (e.g. exported item
 * embeddings), queries drawn from them with noise.
 */
#include "ann/distance.h"
#include "core/alloc.h"
#include "core/parse.h"
#include "core/rng.h"
#include "core/timeutil.h"
#include <junco/ann.h>
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "bench_ann: %s: %s\n", what, jc_errmsg());
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_ann gen --kind K --n N --nq Q --dim D --metric M --out DIR\n"
                    "       bench_ann run --data DIR --impl hnsw|flat|lsh [--threads T] "
                    "[--m M] [--efc E] [--ef a,b,c] [--probes a,b] [--repeat R]\n");
    exit(2);
}

static double now_s(void)
{
    return (double)jc_now_ns() * 1e-9;
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * sysconf(_SC_PAGESIZE);
}

/* ---- .npy ------------------------------------------------------------------ */

static void npy_write(const char *path, const char *descr, const void *data, size_t rows,
                      size_t cols, size_t elem)
{
    char hdr[128];
    int n =
        snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                 descr, rows, cols);
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    unsigned char magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    uint16_t hl = (uint16_t)(n + pad + 1);
    memcpy(magic + 8, &hl, 2);
    fwrite(magic, 1, 10, f);
    fwrite(hdr, 1, (size_t)n, f);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', f);
    fputc('\n', f);
    if (fwrite(data, elem, rows * cols, f) != rows * cols) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* Reads a 2-D little-endian .npy of float32 ('<f4') or int32 ('<i4'). */
static void *npy_read(const char *path, const char *descr, size_t *rows, size_t *cols)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    unsigned char magic[10];
    if (fread(magic, 1, 10, f) != 10 || magic[0] != 0x93 || magic[6] != 1) {
        fprintf(stderr, "%s: not a v1 .npy file\n", path);
        exit(1);
    }
    uint16_t hl;
    memcpy(&hl, magic + 8, 2);
    char hdr[1024];
    if (hl >= sizeof hdr || fread(hdr, 1, hl, f) != hl) {
        fprintf(stderr, "%s: bad header\n", path);
        exit(1);
    }
    hdr[hl] = 0;
    if (strstr(hdr, descr) == NULL) {
        fprintf(stderr, "%s: expected dtype %s\n", path, descr);
        exit(1);
    }
    const char *sh = strstr(hdr, "'shape': (");
    if (sh == NULL || sscanf(sh, "'shape': (%zu, %zu)", rows, cols) != 2) {
        fprintf(stderr, "%s: expected a 2-D array\n", path);
        exit(1);
    }
    size_t n = *rows * *cols;
    void *d = malloc(n * 4 + 4);
    if (d == NULL || fread(d, 4, n, f) != n) {
        fprintf(stderr, "%s: short file\n", path);
        exit(1);
    }
    fclose(f);
    return d;
}

/* ---- options --------------------------------------------------------------- */

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static long opt_l(int argc, char **argv, const char *name, long def)
{
    const char *s = opt(argc, argv, name, NULL);
    int64_t v;
    if (s == NULL)
        return def;
    if (jc_parse_i64(s, strlen(s), &v) != JC_OK) {
        fprintf(stderr, "bad number for %s: %s\n", name, s);
        exit(2);
    }
    return (long)v;
}

static double opt_d(int argc, char **argv, const char *name, double def)
{
    const char *s = opt(argc, argv, name, NULL);
    double v;
    if (s == NULL)
        return def;
    if (jc_parse_f64(s, strlen(s), &v) != JC_OK) {
        fprintf(stderr, "bad number for %s: %s\n", name, s);
        exit(2);
    }
    return v;
}

/* "a,b,c" -> numbers; exits on a malformed list. */
static int parse_list(const char *s, long *out, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        int64_t v;
        if (jc_parse_i64(s, len, &v) != JC_OK) {
            fprintf(stderr, "bad number list: %s\n", s);
            exit(2);
        }
        out[n++] = (long)v;
        s += len + (e != NULL);
    }
    return n;
}

/* ---- data generation --------------------------------------------------------- */

static double noise_scale = 4.0; /* --noise: clustered */
static double item_noise = 1.5;  /* --noise: items */

static void gen_clustered(float *v, size_t n, uint32_t dim, struct jc_rng *r, const float *c,
                          uint32_t nc)
{
    for (size_t i = 0; i < n; i++) {
        const float *ci = c + jc_rng_below(r, nc) * dim;
        for (uint32_t j = 0; j < dim; j++)
            v[i * dim + j] = ci[j] + (float)(noise_scale / sqrt(1.0 + j) * jc_rng_normal(r));
    }
}

static void gen_items(float *v, size_t n, uint32_t dim, struct jc_rng *r, const float *g)
{
    for (size_t i = 0; i < n; i++) {
        float *x = v + i * dim;
        int ng = 1 + (int)jc_rng_below(r, 3);
        for (uint32_t j = 0; j < dim; j++)
            x[j] = (float)(item_noise * jc_rng_normal(r));
        for (int k = 0; k < ng; k++) {
            const float *gk = g + jc_rng_below(r, 18) * dim;
            double w = 0.5 + jc_rng_double(r);
            for (uint32_t j = 0; j < dim; j++)
                x[j] += (float)(w * gk[j]);
        }
        /* popular items get longer vectors (as trained embeddings do) */
        double s = 0.5 + 1.5 * pow(jc_rng_double(r), 3.0);
        for (uint32_t j = 0; j < dim; j++)
            x[j] *= (float)s;
    }
}

static float *read_text(const char *path, size_t *n, uint32_t *dim)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    size_t cap = 1024, rows = 0;
    uint32_t d = 0;
    float *v = NULL;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        char *p = strchr(line, ':');
        if (p == NULL)
            continue;
        p++;
        float tmp[4096];
        uint32_t k = 0;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            size_t len = strcspn(p, " \t,\r\n");
            if (len == 0 || k >= 4096 || jc_parse_f32(p, len, &tmp[k]) != JC_OK)
                break;
            k++;
            p += len;
        }
        if (d == 0) {
            d = k;
            v = malloc(cap * d * sizeof *v);
        }
        if (k != d)
            continue;
        if (rows == cap) {
            cap *= 2;
            v = realloc(v, cap * d * sizeof *v);
        }
        memcpy(v + rows * d, tmp, d * sizeof *v);
        rows++;
    }
    free(line);
    fclose(f);
    *n = rows;
    *dim = d;
    return v;
}

static int cmd_gen(int argc, char **argv)
{
    const char *kind = opt(argc, argv, "--kind", "clustered");
    size_t n = (size_t)opt_l(argc, argv, "--n", 100000);
    size_t nq = (size_t)opt_l(argc, argv, "--nq", 1000);
    uint32_t dim = (uint32_t)opt_l(argc, argv, "--dim", 64);
    uint32_t k = (uint32_t)opt_l(argc, argv, "--k", 10);
    uint64_t seed = (uint64_t)opt_l(argc, argv, "--seed", 42);
    const char *out = opt(argc, argv, "--out", NULL);
    const char *metric_s = opt(argc, argv, "--metric", "l2");
    noise_scale = opt_d(argc, argv, "--noise", noise_scale);
    item_noise = opt_d(argc, argv, "--noise", item_noise);
    enum jc_ann_metric metric;
    if (out == NULL || jc_ann_parse_metric(metric_s, &metric) != JC_OK)
        usage();
    struct jc_rng r;
    jc_rng_seed(&r, seed);
    float *base, *query;
    if (strcmp(kind, "text") == 0) {
        const char *in = opt(argc, argv, "--input", NULL);
        if (in == NULL)
            usage();
        base = read_text(in, &n, &dim);
        if (n < 2) {
            fprintf(stderr, "%s: fewer than 2 vectors\n", in);
            return 1;
        }
        /* queries: stored vectors plus noise of 10% of their spread */
        query = malloc(nq * dim * sizeof *query);
        for (size_t i = 0; i < nq; i++) {
            const float *b = base + jc_rng_below(&r, n) * dim;
            double s = 0;
            for (uint32_t j = 0; j < dim; j++)
                s += (double)b[j] * b[j];
            double sd = 0.1 * sqrt(s / dim);
            for (uint32_t j = 0; j < dim; j++)
                query[i * dim + j] = b[j] + (float)(sd * jc_rng_normal(&r));
        }
    } else {
        base = malloc(n * dim * sizeof *base);
        query = malloc(nq * dim * sizeof *query);
        if (base == NULL || query == NULL) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        uint32_t nc = strcmp(kind, "items") == 0 ? 18 : 1024;
        float *c = malloc((size_t)nc * dim * sizeof *c);
        for (size_t i = 0; i < (size_t)nc * dim; i++)
            c[i] = (float)jc_rng_normal(&r);
        if (strcmp(kind, "clustered") == 0) {
            gen_clustered(base, n, dim, &r, c, nc);
            gen_clustered(query, nq, dim, &r, c, nc);
        } else if (strcmp(kind, "items") == 0) {
            gen_items(base, n, dim, &r, c);
            gen_items(query, nq, dim, &r, c);
        } else if (strcmp(kind, "gaussian") == 0) {
            for (size_t i = 0; i < n * dim; i++)
                base[i] = (float)jc_rng_normal(&r);
            for (size_t i = 0; i < nq * dim; i++)
                query[i] = (float)jc_rng_normal(&r);
        } else {
            usage();
        }
        free(c);
    }
    /* ground truth with junco's exact search (bench/ann/peers.py re-checks a
     * sample of it with numpy) */
    struct jc_ann_config cfg;
    jc_ann_config_default(&cfg);
    cfg.type = JC_ANN_FLAT;
    cfg.metric = metric;
    cfg.dim = dim;
    cfg.capacity = (uint32_t)n;
    cfg.threads = 0;
    struct jc_ann *ix;
    if (jc_ann_create(&ix, &cfg) != JC_OK)
        die("create");
    uint32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint32_t)i;
    if (jc_ann_add_batch(ix, ids, base, n, NULL) != JC_OK)
        die("add");
    struct jc_ann_hit *hits = malloc(nq * k * sizeof *hits);
    uint32_t *nh = malloc(nq * sizeof *nh);
    if (jc_ann_search_batch(ix, query, nq, k, NULL, hits, nh) != JC_OK)
        die("search");
    int32_t *gt = malloc(nq * k * sizeof *gt);
    for (size_t i = 0; i < nq * k; i++)
        gt[i] = (int32_t)hits[i].id;
    char path[4096];
    snprintf(path, sizeof path, "mkdir -p '%s'", out);
    if (system(path) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/base.npy", out);
    npy_write(path, "<f4", base, n, dim, 4);
    snprintf(path, sizeof path, "%s/query.npy", out);
    npy_write(path, "<f4", query, nq, dim, 4);
    snprintf(path, sizeof path, "%s/gt.npy", out);
    npy_write(path, "<i4", gt, nq, k, 4);
    snprintf(path, sizeof path, "%s/meta.json", out);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"kind\": \"%s\", \"n\": %zu, \"nq\": %zu, \"dim\": %u, \"k\": %u, "
            "\"metric\": \"%s\", \"seed\": %llu, \"noise\": %g}\n",
            kind, n, nq, dim, k, jc_ann_metric_name(metric), (unsigned long long)seed,
            strcmp(kind, "items") == 0 ? item_noise : noise_scale);
    fclose(f);
    fprintf(stderr, "wrote %s: %zu base, %zu queries, dim %u, metric %s\n", out, n, nq, dim,
            jc_ann_metric_name(metric));
    jc_ann_destroy(ix);
    free(base);
    free(query);
    free(ids);
    free(hits);
    free(nh);
    free(gt);
    return 0;
}

/* ---- run ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_run(int argc, char **argv)
{
    const char *data = opt(argc, argv, "--data", NULL);
    const char *impl = opt(argc, argv, "--impl", "hnsw");
    if (data == NULL)
        usage();
    char path[4096], meta[512] = "";
    snprintf(path, sizeof path, "%s/meta.json", data);
    FILE *mf = fopen(path, "r");
    if (mf == NULL || fgets(meta, sizeof meta, mf) == NULL) {
        perror(path);
        return 1;
    }
    fclose(mf);
    const char *ms = strstr(meta, "\"metric\": \"");
    enum jc_ann_metric metric = JC_ANN_L2;
    if (ms) {
        char mname[16] = "";
        sscanf(ms + 11, "%15[a-z0-9]", mname);
        if (jc_ann_parse_metric(mname, &metric) != JC_OK)
            die("metric");
    }
    size_t n, dim, nq, qdim, gq, k;
    snprintf(path, sizeof path, "%s/base.npy", data);
    float *base = npy_read(path, "<f4", &n, &dim);
    snprintf(path, sizeof path, "%s/query.npy", data);
    float *query = npy_read(path, "<f4", &nq, &qdim);
    snprintf(path, sizeof path, "%s/gt.npy", data);
    int32_t *gt = npy_read(path, "<i4", &gq, &k);
    if (qdim != dim || gq != nq) {
        fprintf(stderr, "inconsistent data files\n");
        return 1;
    }
    int threads = (int)opt_l(argc, argv, "--threads", 1);
    int repeat = (int)opt_l(argc, argv, "--repeat", 5);
    int build_repeat = (int)opt_l(argc, argv, "--build-repeat", 1);
    double min_time = opt_d(argc, argv, "--min-time", 0.5);
    struct jc_ann_config cfg;
    jc_ann_config_default(&cfg);
    if (jc_ann_parse_type(impl, &cfg.type) != JC_OK)
        die("impl");
    cfg.metric = metric;
    cfg.dim = (uint32_t)dim;
    cfg.capacity = (uint32_t)n;
    cfg.threads = threads;
    cfg.hnsw_m = (uint32_t)opt_l(argc, argv, "--m", 16);
    cfg.hnsw_ef_construction = (uint32_t)opt_l(argc, argv, "--efc", 200);
    cfg.lsh_tables = (uint32_t)opt_l(argc, argv, "--tables", 16);
    cfg.lsh_bits = (uint32_t)opt_l(argc, argv, "--bits", 10);
    cfg.lsh_probes = 0;
    cfg.seed = (uint64_t)opt_l(argc, argv, "--seed", 42);
    uint32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint32_t)i;

    struct jc_ann *ix = NULL;
    double bt[16];
    long rss0 = 0, rss1 = 0;
    if (build_repeat < 1 || build_repeat > 16)
        build_repeat = 1;
    const char *load = opt(argc, argv, "--load", NULL);
    if (load) {
        struct jc_ann_load_opts lo;
        jc_ann_load_opts_default(&lo);
        lo.threads = threads;
        if (jc_ann_load(&ix, load, &lo) != JC_OK)
            die("load");
        build_repeat = 1;
        bt[0] = 0;
    }
    for (int b = 0; b < build_repeat && !load; b++) {
        if (ix)
            jc_ann_destroy(ix);
        long r0 = rss_bytes();
        double t0 = now_s();
        if (jc_ann_create(&ix, &cfg) != JC_OK || jc_ann_add_batch(ix, ids, base, n, NULL) != JC_OK)
            die("build");
        bt[b] = now_s() - t0;
        if (b == 0) { /* later builds may reuse freed memory: the first counts */
            rss0 = r0;
            rss1 = rss_bytes();
        }
    }
    qsort(bt, (size_t)build_repeat, sizeof bt[0], cmp_double);
    struct jc_ann_info info;
    jc_ann_info(ix, &info);
    const char *save = opt(argc, argv, "--save", NULL);
    long file_bytes = 0;
    if (save) {
        if (jc_ann_save(ix, save) != JC_OK)
            die("save");
        FILE *sf = fopen(save, "rb");
        fseek(sf, 0, SEEK_END);
        file_bytes = ftell(sf);
        fclose(sf);
    }
    printf("{\"phase\": \"build\", \"impl\": \"junco-%s\", \"threads\": %d, \"n\": %zu, \"dim\": "
           "%zu, \"metric\": \"%s\", \"m\": %u, \"efc\": %u, \"build_s\": %.4f, "
           "\"build_s_min\": %.4f, \"build_s_max\": %.4f, \"build_runs\": %d, "
           "\"rss_bytes_per_vector\": %.1f, \"index_bytes_per_vector\": %.1f, "
           "\"file_bytes_per_vector\": %.1f, \"max_level\": %d, \"kernels\": \"%s\"}\n",
           impl, threads, n, dim, jc_ann_metric_name(metric), cfg.hnsw_m, cfg.hnsw_ef_construction,
           bt[build_repeat / 2], bt[0], bt[build_repeat - 1], build_repeat,
           (double)(rss1 - rss0) / (double)n, (double)info.bytes / (double)n,
           (double)file_bytes / (double)n, info.hnsw_max_level, jc_ann__kernels()->name);
    fflush(stdout);

    long sweep[64];
    int ns;
    if (cfg.type == JC_ANN_HNSW)
        ns = parse_list(opt(argc, argv, "--ef", "10,16,24,32,48,64,96,128,192,256,384,512"), sweep,
                        64);
    else if (cfg.type == JC_ANN_LSH)
        ns = parse_list(opt(argc, argv, "--probes", "0,1,2,4,6,8"), sweep, 64);
    else {
        sweep[0] = 0;
        ns = 1;
    }
    struct jc_ann_hit *hits = malloc(nq * k * sizeof *hits);
    uint32_t *nh = malloc(nq * sizeof *nh);
    for (int si = 0; si < ns; si++) {
        struct jc_ann_search_opts o;
        jc_ann_search_opts_default(&o);
        if (cfg.type == JC_ANN_HNSW)
            o.ef = (uint32_t)sweep[si];
        else if (cfg.type == JC_ANN_LSH)
            o.lsh_probes = (int)sweep[si];
        double qps[64];
        if (repeat < 1 || repeat > 64)
            repeat = 5;
        /* r = -1 is the warm-up; a timed run repeats the whole query set
         * until min_time has passed, so short runs do not measure noise */
        for (int r = -1; r < repeat; r++) {
            double t0 = now_s(), t;
            long passes = 0;
            do {
                if (jc_ann_search_batch(ix, query, nq, (uint32_t)k, &o, hits, nh) != JC_OK)
                    die("search");
                passes++;
                t = now_s() - t0;
            } while (t < min_time);
            if (r >= 0)
                qps[r] = (double)(passes * (long)nq) / t;
        }
        qsort(qps, (size_t)repeat, sizeof qps[0], cmp_double);
        size_t found = 0;
        for (size_t i = 0; i < nq; i++)
            for (size_t a = 0; a < k; a++)
                for (uint32_t b = 0; b < nh[i]; b++)
                    if ((int32_t)hits[i * k + b].id == gt[i * k + a]) {
                        found++;
                        break;
                    }
        printf("{\"phase\": \"search\", \"impl\": \"junco-%s\", \"threads\": %d, \"param\": %ld, "
               "\"recall\": %.4f, \"qps\": %.1f, \"qps_min\": %.1f, \"qps_max\": %.1f, "
               "\"runs\": %d, \"min_time\": %g}\n",
               impl, threads, sweep[si], (double)found / (double)(nq * k), qps[repeat / 2], qps[0],
               qps[repeat - 1], repeat, min_time);
        fflush(stdout);
    }
    jc_ann_destroy(ix);
    free(base);
    free(query);
    free(gt);
    free(ids);
    free(hits);
    free(nh);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "gen") == 0)
        return cmd_gen(argc, argv);
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc, argv);
    usage();
    return 2;
}
