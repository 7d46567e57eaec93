/*
 * eval_bench.c - times junco's full-ranking evaluator on a fixed split and
 * score file (the same files the NumPy reference evaluator reads; see
 * bench/eval/run.sh).
 *
 *   bench_eval SPLIT_DIR SCORES.f32 [--threads N] [--repeat R] [--k LIST]
 *              [--recall-n LIST]
 *
 * One warm-up run, then R timed runs of jc_eval_run (scoring = reading the
 * mapped matrix row; selection, masking, metrics, reduction included; file
 * loading excluded, as for the reference). Prints one JSON line: threads,
 * users, median/min/max seconds, ndcg@10 (to check both sides agree).
 */
#include "core/parse.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/eval.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse_list(const char *s, uint32_t *out, size_t *n)
{
    *n = 0;
    while (*s && *n < JC_EVAL_MAX_K) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (jc_parse_u32(s, len, &out[*n]))
            return -1;
        (*n)++;
        s += len + (c != NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_eval SPLIT_DIR SCORES.f32 [--threads N] [--repeat R] "
                        "[--k LIST] [--recall-n LIST]\n");
        return 2;
    }
    int threads = 1, repeat = 5;
    struct jc_eval_config c;
    jc_eval_config_default(&c);
    for (int i = 3; i + 1 < argc; i += 2) {
        int64_t v;
        if (strcmp(argv[i], "--threads") == 0 && jc_parse_i64_str(argv[i + 1], &v) == 0)
            threads = (int)v;
        else if (strcmp(argv[i], "--repeat") == 0 && jc_parse_i64_str(argv[i + 1], &v) == 0)
            repeat = (int)v;
        else if (strcmp(argv[i], "--k") == 0 && parse_list(argv[i + 1], c.ks, &c.n_ks) == 0)
            ;
        else if (strcmp(argv[i], "--recall-n") == 0 &&
                 parse_list(argv[i + 1], c.recall_ns, &c.n_recall_ns) == 0)
            ;
        else {
            fprintf(stderr, "bench_eval: bad option %s\n", argv[i]);
            return 2;
        }
    }
    if (repeat < 1 || repeat > 1000)
        repeat = 5;
    c.threads = threads;
    struct jc_split *split;
    struct jc_scorefile *sf;
    const float *scores;
    uint32_t nu, ni;
    int rc = jc_split_load(&split, argv[1]);
    if (rc == JC_OK)
        rc = jc_scorefile_open(&sf, argv[2], &scores, &nu, &ni);
    if (rc) {
        fprintf(stderr, "bench_eval: %s\n", jc_errmsg());
        return 1;
    }
    struct jc_eval_part known, test;
    jc_split_part(split, JC_PART_TRAIN_VALID, &known);
    jc_split_part(split, JC_PART_TEST, &test);
    struct jc_scorer *sc;
    if ((rc = jc_scorer_matrix(&sc, scores, nu, ni))) {
        fprintf(stderr, "bench_eval: %s\n", jc_errmsg());
        return 1;
    }
    double *t = calloc((size_t)repeat, sizeof *t);
    struct jc_eval_result r;
    for (int k = -1; k < repeat && rc == JC_OK; k++) {
        uint64_t t0 = jc_now_ns();
        rc = jc_eval_run(&c, sc, &known, &test, &r);
        if (k >= 0)
            t[k] = (double)(jc_now_ns() - t0) * 1e-9;
    }
    if (rc) {
        fprintf(stderr, "bench_eval: %s\n", jc_errmsg());
        return 1;
    }
    qsort(t, (size_t)repeat, sizeof *t, cmp_d);
    double ndcg = 0;
    jc_eval_metric(&r, "ndcg@10", &ndcg);
    printf("{\"impl\":\"junco\",\"threads\":%d,\"users\":%u,\"items\":%u,\"median_s\":%.6f,"
           "\"min_s\":%.6f,\"max_s\":%.6f,\"runs\":%d,\"ndcg@10\":%.10f}\n",
           threads, r.n_users, ni, t[repeat / 2], t[0], t[repeat - 1], repeat, ndcg);
    free(t);
    jc_scorer_destroy(sc);
    jc_scorefile_close(sf);
    jc_split_destroy(split);
    return 0;
}
