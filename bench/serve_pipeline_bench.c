/*
 * serve_pipeline_bench.c - CPU cost of the serving pipeline without HTTP
 * (program bench_serve_pipeline).
 *
 *   bench_serve_pipeline HOME [REPS] [N] [NOW] [OUT]
 *       Opens the snapshot of data home HOME through the offline pipeline
 *       (jc_pipeline_offline_open: the same components as `junco serve`),
 *       asks for the top N (default 10) of every catalog user REPS times
 *       (default 3) at request time NOW (Unix seconds, default 1600000000,
 *       fixed so that time features and trending decay are reproducible) on
 *       one thread, and prints one JSON line: users, requests, seconds,
 *       microseconds per request (mean over all passes and the best pass).
 *       With OUT, the lists of the last pass are written there, one line per
 *       user: "user rank item score" with the score as a C99 hex float, so
 *       that two builds can be compared byte for byte.
 */
#include "core/parse.h"
#include "core/timeutil.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/serve.h>

#include <stdio.h>
#include <stdlib.h>

static int die(const char *what)
{
    fprintf(stderr, "bench_serve_pipeline: %s: %s\n", what, jc_errmsg());
    return 1;
}

static int64_t arg_i(const char *s)
{
    int64_t v = 0;
    if (jc_parse_i64_str(s, &v) != JC_OK) {
        fprintf(stderr, "bench_serve_pipeline: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_serve_pipeline HOME [REPS] [N] [NOW] [OUT]\n");
        return 2;
    }
    const char *home = argv[1];
    int64_t reps = argc > 2 ? arg_i(argv[2]) : 3;
    int64_t n = argc > 3 ? arg_i(argv[3]) : 10;
    int64_t now = argc > 4 ? arg_i(argv[4]) : 1600000000;
    const char *outp = argc > 5 ? argv[5] : NULL;
    if (reps < 1 || n < 1 || n > 1000) {
        fprintf(stderr, "bench_serve_pipeline: REPS >= 1 and N in [1, 1000]\n");
        return 2;
    }
    struct jc_pipeline_offline *p = NULL;
    if (jc_pipeline_offline_open(&p, home, NULL) != JC_OK)
        return die("open");
    char path[4096];
    snprintf(path, sizeof path, "%s/catalog/catalog.jcat", home);
    struct jc_catalog *cat = NULL;
    if (jc_catalog_open(&cat, path) != JC_OK)
        return die("catalog");
    uint32_t n_users = jc_catalog_n_users(cat);
    jc_catalog_close(cat);
    FILE *out = outp ? fopen(outp, "w") : NULL;
    if (outp && out == NULL) {
        fprintf(stderr, "bench_serve_pipeline: cannot write %s\n", outp);
        return 1;
    }
    uint32_t items[1000];
    float scores[1000];
    double total = 0, best = 0;
    for (int64_t r = 0; r < reps; r++) {
        uint64_t t0 = jc_now_ns();
        for (uint32_t u = 0; u < n_users; u++) {
            size_t got = 0;
            if (jc_pipeline_offline_recommend(p, u, now, (uint32_t)n, items, scores, &got) != JC_OK)
                return die("recommend");
            for (size_t i = 0; out && r == reps - 1 && i < got; i++)
                fprintf(out, "%u %zu %u %a\n", u, i, items[i], (double)scores[i]);
        }
        double s = (double)(jc_now_ns() - t0) / 1e9;
        total += s;
        if (r == 0 || s < best)
            best = s;
    }
    if (out && fclose(out) != 0) {
        fprintf(stderr, "bench_serve_pipeline: cannot write %s\n", outp);
        return 1;
    }
    jc_pipeline_offline_close(p);
    printf("{\"users\": %u, \"requests\": %lld, \"seconds\": %.3f, \"us_per_request\": %.1f, "
           "\"best_pass_us_per_request\": %.1f}\n",
           n_users, (long long)(reps * n_users), total, total * 1e6 / (double)(reps * n_users),
           best * 1e6 / (double)n_users);
    return 0;
}
