/*
 * test_samples.c - the offline job and sample files: bit-identical output
 * for a seed at 1 and 2 threads, split row counts against an independent
 * count, reader round trips, corruption detection, failure atomicity,
 * implicit negatives, vocabulary min-count, and the CSV/TSV exports (the
 * course CSV of the fixture compared line by line with hand-computed text).
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "feature/feat_int.h"
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/import.h>
#include <junco/samples.h>
#include <junco/synth.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_feat_fixture.h"

static struct jc_catalog *synth_cat;

/* A small synthetic data set, imported once for the whole program. */
static int setup_synth(void **state)
{
    (void)state;
    struct jc_synth_opts so;
    jc_synth_opts_default(&so);
    so.users = 300;
    so.items = 400;
    so.interactions = 30000;
    so.seed = 7;
    const char *dir = jc_test_path("synth");
    struct jc_synth_result sr;
    if (jc_synth_write(dir, &so, &sr) != JC_OK)
        return -1;
    struct jc_import_opts io;
    jc_import_opts_default(&io);
    struct jc_import_result ir;
    const char *cat = jc_test_path("synth.jcat");
    if (jc_import(dir, cat, &io, &ir) != JC_OK)
        return -1;
    jc_import_result_free(&ir);
    return jc_catalog_open(&synth_cat, cat) == JC_OK ? 0 : -1;
}

static int teardown_synth(void **state)
{
    (void)state;
    jc_catalog_close(synth_cat);
    return 0;
}

static int build(struct jc_catalog *cat, const char *dir, struct jc_featspec_opts *fo,
                 struct jc_samples_opts *so, struct jc_samples_report *rep)
{
    struct jc_featspec *s;
    int rc = jc_featspec_create(&s, fo, cat);
    if (rc)
        return rc;
    so->dir = dir;
    rc = jc_samples_build(cat, s, so, rep);
    jc_featspec_destroy(s);
    return rc;
}

static void read_file(const char *path, char **data, size_t *n)
{
    assert_int_equal(jc_file_read_all(path, (size_t)1 << 30, data, n), JC_OK);
}

static void assert_same_file(const char *a, const char *b)
{
    char *x, *y;
    size_t nx, ny;
    read_file(a, &x, &nx);
    read_file(b, &y, &ny);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    jc_free(x);
    jc_free(y);
}

static void test_deterministic_threads(void **state)
{
    (void)state;
    struct jc_featspec_opts fo;
    struct jc_samples_opts so;
    struct jc_samples_report r1, r2;
    for (int variant = 0; variant < 2; variant++) {
        jc_featspec_opts_default(&fo);
        jc_samples_opts_default(&so);
        so.shard_rows = 5000; /* 6 shards */
        so.seed = 99;
        if (variant == 1) {
            so.split = JC_SPLIT_RANDOM;
            fo.implicit = 1;
            fo.negatives = 2;
            fo.neg_popularity = 1;
        }
        so.threads = 1;
        assert_int_equal(build(synth_cat, jc_test_path("det-1"), &fo, &so, &r1), JC_OK);
        so.threads = 2;
        assert_int_equal(build(synth_cat, jc_test_path("det-2"), &fo, &so, &r2), JC_OK);
        assert_int_equal(r1.split[0].shards, 6);
        assert_memory_equal(r1.split, r2.split, sizeof r1.split);
        const char *names[] = {"manifest.json", "train-000.jcs", "train-003.jcs", "valid-005.jcs",
                               "test-002.jcs"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char a[4096], b[4096];
            snprintf(a, sizeof a, "%s/%s", jc_test_path("det-1"), names[i]);
            snprintf(b, sizeof b, "%s/%s", jc_test_path("det-2"), names[i]);
            assert_same_file(a, b);
        }
        if (variant == 1) {
            assert_true(r1.negatives > 0);
            /* a different seed gives different negatives */
            so.seed = 100;
            assert_int_equal(build(synth_cat, jc_test_path("det-3"), &fo, &so, &r2), JC_OK);
            char a[4096], b[4096];
            snprintf(a, sizeof a, "%s/train-000.jcs", jc_test_path("det-1"));
            snprintf(b, sizeof b, "%s/train-000.jcs", jc_test_path("det-3"));
            char *x, *y;
            size_t nx, ny;
            read_file(a, &x, &nx);
            read_file(b, &y, &ny);
            assert_true(nx != ny || memcmp(x, y, nx) != 0);
            jc_free(x);
            jc_free(y);
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Expected rows per split, counted independently of the job's code. */
static void expected_counts(const struct jc_catalog *cat, enum jc_split_method m, double valid,
                            double test, uint64_t want[3])
{
    struct jc_interactions ia;
    jc_catalog_interactions(cat, &ia);
    int64_t cv = 0, ct = 0;
    if (m == JC_SPLIT_TIME) {
        int64_t *t = jc_malloc_array(ia.n, sizeof *t);
        memcpy(t, ia.time, ia.n * sizeof *t);
        qsort(t, ia.n, sizeof *t, cmp_i64);
        cv = t[(size_t)floor((double)ia.n * (1 - valid - test))];
        ct = t[(size_t)floor((double)ia.n * (1 - test))];
        jc_free(t);
    }
    want[0] = want[1] = want[2] = 0;
    for (uint32_t u = 0; u < jc_catalog_n_users(cat); u++) {
        uint64_t beg, end;
        jc_catalog_user_range(cat, u, &beg, &end);
        for (uint64_t q = beg; q < end; q++) {
            uint64_t earlier = 0;
            for (uint64_t p = beg; p < end; p++)
                earlier += ia.time[p] < ia.time[q];
            if (earlier < 2)
                continue;
            int sp;
            if (m == JC_SPLIT_TIME)
                sp = ia.time[q] < cv ? 0 : ia.time[q] < ct ? 1 : 2;
            else
                sp = q == end - 1 ? 2 : q == end - 2 ? 1 : 0;
            want[sp]++;
        }
    }
}

static void test_split_counts(void **state)
{
    (void)state;
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    struct jc_samples_opts so;
    struct jc_samples_report r;
    uint64_t want[3];
    const char *dir = jc_test_path("counts");
    /* time */
    jc_samples_opts_default(&so);
    so.valid = 0.15;
    so.test = 0.2;
    assert_int_equal(build(synth_cat, dir, &fo, &so, &r), JC_OK);
    expected_counts(synth_cat, JC_SPLIT_TIME, 0.15, 0.2, want);
    for (int sp = 0; sp < 3; sp++)
        assert_int_equal(r.split[sp].rows, want[sp]);
    assert_true(want[0] > 0 && want[1] > 0 && want[2] > 0);
    assert_true(r.split[0].time_max < r.cut_valid && r.split[1].time_min >= r.cut_valid);
    assert_true(r.split[1].time_max < r.cut_test && r.split[2].time_min >= r.cut_test);
    assert_int_equal(r.events, 30000);
    assert_int_equal(r.split[0].rows + r.split[1].rows + r.split[2].rows + r.dropped, 30000);
    for (int sp = 0; sp < 3; sp++) {
        struct jc_samples *s;
        assert_int_equal(jc_samples_open(&s, dir, (enum jc_split)sp, JC_SAMPLES_VERIFY), JC_OK);
        assert_int_equal(jc_samples_rows(s), want[sp]);
        jc_samples_close(s);
    }
    /* leave-last-one-out */
    so.split = JC_SPLIT_LOO;
    assert_int_equal(build(synth_cat, dir, &fo, &so, &r), JC_OK);
    expected_counts(synth_cat, JC_SPLIT_LOO, 0, 0, want);
    for (int sp = 0; sp < 3; sp++)
        assert_int_equal(r.split[sp].rows, want[sp]);
    assert_true(r.split[2].rows > 250); /* nearly every one of the 300 users */
    /* random: all rows kept, fractions near the request */
    so.split = JC_SPLIT_RANDOM;
    so.valid = 0.1;
    so.test = 0.1;
    assert_int_equal(build(synth_cat, dir, &fo, &so, &r), JC_OK);
    uint64_t total = r.split[0].rows + r.split[1].rows + r.split[2].rows;
    assert_int_equal(total + r.dropped, 30000);
    assert_double_near((double)r.split[2].rows / (double)total, 0.1, 0.01);
    assert_double_near((double)r.split[1].rows / (double)total, 0.1, 0.01);
    /* no test split */
    so.split = JC_SPLIT_TIME;
    so.valid = 0.2;
    so.test = 0;
    assert_int_equal(build(synth_cat, dir, &fo, &so, &r), JC_OK);
    assert_int_equal(r.split[2].rows, 0);
    assert_true(r.split[1].rows > 0);
    /* bad fractions */
    so.valid = 0.6;
    so.test = 0.5;
    assert_int_equal(build(synth_cat, dir, &fo, &so, &r), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "sum to < 1"));
}

static void test_read_roundtrip(void **state)
{
    (void)state;
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.shard_rows = 7000;
    struct jc_samples_report r;
    const char *dir = jc_test_path("rt");
    assert_int_equal(build(synth_cat, dir, &fo, &so, &r), JC_OK);
    struct jc_samples *s;
    assert_int_equal(jc_samples_open(&s, dir, JC_SPLIT_TRAIN, JC_SAMPLES_VERIFY), JC_OK);
    uint64_t n = jc_samples_rows(s);
    assert_int_equal(n, r.split[0].rows);
    const struct jc_feat_layout *L = jc_samples_layout(s);
    struct jc_batch all, one;
    assert_int_equal(jc_batch_init(&all, L, (uint32_t)n), JC_OK);
    assert_int_equal(jc_batch_init(&one, L, 64), JC_OK);
    assert_int_equal(jc_samples_read(s, 0, n, &all), JC_OK);
    uint64_t pos = 0;
    for (uint64_t i = 0; i < n; i++) {
        assert_true(all.label[i] == (all.value[i] >= 3.5f ? 1.0f : 0.0f));
        pos += all.label[i] > 0.5f;
        if (i > 0 && all.user[i] == all.user[i - 1])
            assert_true(all.time[i] >= all.time[i - 1]);
    }
    assert_int_equal(pos, r.split[0].positives);
    /* random indices (with repeats) read the same rows */
    struct jc_rng rng;
    jc_rng_seed(&rng, 5);
    uint64_t idx[64];
    for (int rep = 0; rep < 20; rep++) {
        for (int k = 0; k < 64; k++)
            idx[k] = jc_rng_below(&rng, n);
        idx[0] = 0;
        idx[63] = n - 1;
        assert_int_equal(jc_samples_read_index(s, idx, 64, &one), JC_OK);
        for (int k = 0; k < 64; k++) {
            assert_memory_equal(one.cat + (size_t)k * L->n_cat, all.cat + (size_t)idx[k] * L->n_cat,
                                L->n_cat * 4);
            assert_memory_equal(one.num + (size_t)k * L->n_num, all.num + (size_t)idx[k] * L->n_num,
                                L->n_num * 4);
            assert_int_equal(one.time[k], all.time[idx[k]]);
        }
    }
    /* a window across shard boundaries */
    assert_int_equal(jc_samples_read(s, 6990, 7040, &one), JC_OK);
    assert_memory_equal(one.cat, all.cat + (size_t)6990 * L->n_cat, (size_t)50 * L->n_cat * 4);
    /* bounds */
    assert_int_equal(jc_samples_read(s, n - 1, n + 1, &one), JC_ERANGE);
    assert_int_equal(jc_samples_read(s, 0, 65, &one), JC_ELIMIT);
    idx[3] = n;
    assert_int_equal(jc_samples_read_index(s, idx, 4, &one), JC_ERANGE);
    assert_int_equal(jc_samples_method(s), JC_SPLIT_TIME);
    assert_int_equal(jc_samples_seed(s), 42);
    assert_int_equal(jc_samples_catalog_checksum(s), jc_catalog_checksum(synth_cat));
    jc_batch_free(&all);
    jc_batch_free(&one);
    jc_samples_close(s);
}

static void flip_byte(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    if (off < 0) {
        fseek(f, 0, SEEK_END);
        off = ftell(f) + off;
    }
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static int open_err(const char *dir, unsigned flags, const char *want)
{
    struct jc_samples *s = NULL;
    int rc = jc_samples_open(&s, dir, JC_SPLIT_TRAIN, flags);
    if (rc == JC_OK) {
        jc_samples_close(s);
        return rc;
    }
    if (strstr(jc_errmsg(), want) == NULL) {
        print_message("message: %s\nwanted: %s\n", jc_errmsg(), want);
        fail();
    }
    return rc;
}

static void test_corruption(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-corrupt.jcat"), 1);
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.valid = so.test = 0;
    struct jc_samples_report r;
    const char *dir = jc_test_path("corrupt");
    char shard[4096], manifest[4096], saved[4096];
    snprintf(shard, sizeof shard, "%s/train-000.jcs", dir);
    snprintf(manifest, sizeof manifest, "%s/manifest.jcm", dir);
    snprintf(saved, sizeof saved, "%s.saved", shard);
    assert_int_equal(build(cat, dir, &fo, &so, &r), JC_OK);
    assert_int_equal(open_err(dir, JC_SAMPLES_VERIFY, ""), JC_OK);
    char *orig;
    size_t n;
    read_file(shard, &orig, &n);
    /* a flipped bit in the rows */
    flip_byte(shard, -5);
    assert_int_equal(open_err(dir, JC_SAMPLES_VERIFY, "checksum mismatch (the rows are damaged)"),
                     JC_ECORRUPT);
    assert_int_equal(open_err(dir, 0, ""), JC_OK); /* not verified without the flag */
    /* in the header */
    jc_test_write_bytes(shard, orig, n);
    flip_byte(shard, 17);
    assert_int_equal(open_err(dir, 0, "header checksum mismatch"), JC_ECORRUPT);
    /* truncated */
    jc_test_write_bytes(shard, orig, n - 8);
    assert_int_equal(open_err(dir, 0, "truncated or oversized"), JC_ECORRUPT);
    jc_test_write_bytes(shard, orig, 30);
    assert_int_equal(open_err(dir, 0, "not a junco sample shard"), JC_ECORRUPT);
    /* missing */
    unlink(shard);
    assert_int_equal(open_err(dir, 0, "sample shard is missing"), JC_ECORRUPT);
    jc_test_write_bytes(shard, orig, n);
    assert_int_equal(open_err(dir, JC_SAMPLES_VERIFY, ""), JC_OK);
    /* the manifest */
    flip_byte(manifest, 100);
    assert_int_equal(open_err(dir, 0, "manifest.jcm: checksum mismatch"), JC_ECORRUPT);
    unlink(manifest);
    assert_int_equal(open_err(dir, 0, "no samples (run `junco features` first)"), JC_ENOTFOUND);
    jc_free(orig);
    jc_catalog_close(cat);
}

static int cancel_cb(void *ctx, const char *stage, uint64_t done, uint64_t total, const char *unit,
                     const char *note)
{
    (void)ctx, (void)stage, (void)done, (void)total, (void)unit, (void)note;
    return 1;
}

static void test_failure_keeps_old(void **state)
{
    (void)state;
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    struct jc_samples_report r;
    const char *dir = jc_test_path("keep");
    assert_int_equal(build(synth_cat, dir, &fo, &so, &r), JC_OK);
    char tsv[4096];
    snprintf(tsv, sizeof tsv, "%s/../keep-before.tsv", dir);
    struct jc_samples *s;
    assert_int_equal(jc_samples_open(&s, dir, JC_SPLIT_VALID, JC_SAMPLES_VERIFY), JC_OK);
    assert_int_equal(jc_samples_export(s, NULL, JC_EXPORT_TSV, tsv, NULL), JC_OK);
    jc_samples_close(s);
    /* a job canceled from the progress callback leaves the old samples */
    so.progress.fn = cancel_cb;
    so.split = JC_SPLIT_RANDOM;
    struct jc_featspec *spec;
    assert_int_equal(jc_featspec_create(&spec, &fo, synth_cat), JC_OK);
    so.dir = dir;
    assert_int_equal(jc_samples_build(synth_cat, spec, &so, &r), JC_ECANCELED);
    assert_false(jc_featspec_is_fitted(spec));
    jc_featspec_destroy(spec);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid());
    assert_false(jc_path_exists(tmp));
    char tsv2[4096];
    snprintf(tsv2, sizeof tsv2, "%s/../keep-after.tsv", dir);
    assert_int_equal(jc_samples_open(&s, dir, JC_SPLIT_VALID, JC_SAMPLES_VERIFY), JC_OK);
    assert_int_equal(jc_samples_method(s), JC_SPLIT_TIME);
    assert_int_equal(jc_samples_export(s, NULL, JC_EXPORT_TSV, tsv2, NULL), JC_OK);
    jc_samples_close(s);
    assert_same_file(tsv, tsv2);
    /* a write failure (injected) fails the job the same way */
    so.progress.fn = NULL;
    assert_int_equal(jc_featspec_create(&spec, &fo, synth_cat), JC_OK);
    jc_fileio_fail_write_after(3);
    int rc = jc_samples_build(synth_cat, spec, &so, &r);
    jc_fileio_fail_write_after(0);
    assert_int_equal(rc, JC_EIO);
    jc_featspec_destroy(spec);
    assert_int_equal(jc_samples_open(&s, dir, JC_SPLIT_VALID, JC_SAMPLES_VERIFY), JC_OK);
    assert_int_equal(jc_samples_method(s), JC_SPLIT_TIME);
    jc_samples_close(s);
    /* leftovers of a job that died (its pid is gone) are removed by the next
     * job; a live process's temporary directory is left alone */
    long dead = 4000000;
    while (kill((pid_t)dead, 0) == 0 || errno != ESRCH)
        dead--;
    char stale[4096], live[4096], junk[4200];
    snprintf(stale, sizeof stale, "%s.tmp.%ld", dir, dead);
    snprintf(live, sizeof live, "%s.tmp.%ld", dir, (long)getppid());
    jc_mkdir_p(stale);
    jc_mkdir_p(live);
    snprintf(junk, sizeof junk, "%s/train-000.jcs", stale);
    jc_test_write_file(junk, "partial");
    assert_int_equal(build(synth_cat, dir, &fo, &so, &r), JC_OK);
    assert_false(jc_path_exists(stale));
    assert_true(jc_path_exists(live));
    rmdir(live);
    /* an already fitted spec is refused */
    assert_int_equal(jc_featspec_create(&spec, &fo, synth_cat), JC_OK);
    assert_int_equal(jc_samples_build(synth_cat, spec, &so, &r), JC_OK);
    assert_int_equal(jc_samples_build(synth_cat, spec, &so, &r), JC_ESTATE);
    jc_featspec_destroy(spec);
}

static int has_item(const struct jc_catalog *cat, uint32_t user, uint32_t item)
{
    struct jc_interactions ia;
    jc_catalog_interactions(cat, &ia);
    uint64_t beg, end;
    jc_catalog_user_range(cat, user, &beg, &end);
    for (uint64_t q = beg; q < end; q++)
        if (ia.item[q] == item)
            return 1;
    return 0;
}

static double mean_popularity(const struct jc_catalog *cat, int popularity, uint64_t *n_neg,
                              uint64_t *n_pos)
{
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    fo.implicit = 1;
    fo.negatives = 3;
    fo.neg_popularity = popularity;
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.valid = so.test = 0;
    struct jc_samples_report r;
    const char *dir = jc_test_path("implicit");
    assert_int_equal(build((struct jc_catalog *)cat, dir, &fo, &so, &r), JC_OK);
    struct jc_samples *s;
    assert_int_equal(jc_samples_open(&s, dir, JC_SPLIT_TRAIN, JC_SAMPLES_VERIFY), JC_OK);
    uint64_t n = jc_samples_rows(s);
    struct jc_batch b;
    assert_int_equal(jc_batch_init(&b, jc_samples_layout(s), (uint32_t)n), JC_OK);
    assert_int_equal(jc_samples_read(s, 0, n, &b), JC_OK);
    double pop = 0;
    *n_neg = *n_pos = 0;
    uint32_t run = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (b.label[i] > 0.5f) {
            (*n_pos)++;
            run = 0;
            continue;
        }
        /* a negative: right after its positive, same user and time, value 0 */
        assert_true(i > 0);
        assert_int_equal(b.user[i], b.user[i - 1]);
        assert_int_equal(b.time[i], b.time[i - 1]);
        assert_true(b.value[i] == 0.0f);
        assert_false(has_item(cat, b.user[i], b.item[i]));
        assert_true(++run <= 3);
        const uint32_t *pos;
        pop += (double)jc_catalog_item_interactions(cat, b.item[i], &pos);
        (*n_neg)++;
    }
    assert_int_equal(*n_neg, r.negatives);
    jc_batch_free(&b);
    jc_samples_close(s);
    return pop / (double)*n_neg;
}

static void test_implicit_negatives(void **state)
{
    (void)state;
    uint64_t neg_u, pos_u, neg_p, pos_p;
    double uni = mean_popularity(synth_cat, 0, &neg_u, &pos_u);
    double pop = mean_popularity(synth_cat, 1, &neg_p, &pos_p);
    /* every event is a positive; three negatives each (a few users have nearly every item) */
    assert_int_equal(pos_u, pos_p);
    assert_true(neg_u > 29 * pos_u / 10);
    assert_true(neg_p > 29 * pos_p / 10);
    /* popularity-weighted negatives are more popular than uniform ones: this
     * catalog's counts weighted by themselves average 108 against a plain
     * mean of 75 (1.43x); rejecting the user's own (often popular) items
     * lowers both (uniform 60.0, popularity 79.8) */
    assert_double_near(uni, 60.0, 2.0);
    assert_true(pop > 1.25 * uni);
}

static void test_min_count(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-minc.jcat"), 0);
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    fo.spec_text = "movieId cat min_count=2\nuserRatedMovie1 cat\nmovieGenre1 cat min_count=1\n";
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.valid = so.test = 0;
    struct jc_samples_report r;
    const char *dir = jc_test_path("minc");
    assert_int_equal(build(cat, dir, &fo, &so, &r), JC_OK);
    struct jc_samples *s;
    assert_int_equal(jc_samples_open(&s, dir, JC_SPLIT_TRAIN, JC_SAMPLES_VERIFY), JC_OK);
    const struct jc_feat_layout *L = jc_samples_layout(s);
    /* train movieIds: 40 x2, 50 x2, 20 x1 -> only 40 and 50 reach min_count 2 */
    assert_int_equal(L->vocabs[L->fields[0].vocab].size, 4);
    struct jc_batch b;
    assert_int_equal(jc_batch_init(&b, L, 5), JC_OK);
    assert_int_equal(jc_samples_read(s, 0, 5, &b), JC_OK);
    uint32_t nc = L->n_cat;
    assert_int_equal(b.cat[0 * nc + 0], 2);           /* 40 */
    assert_int_equal(b.cat[2 * nc + 0], JC_FEAT_OOV); /* 20 */
    assert_int_equal(b.cat[1 * nc + 1], 2);           /* rated 40 */
    assert_int_equal(b.cat[0 * nc + 2], JC_FEAT_PAD); /* item 40 has no genre */
    jc_batch_free(&b);
    jc_samples_close(s);
    jc_catalog_close(cat);
}

/* The course CSV of the fixture, computed by hand (see test_featspec.c for
 * the derivations of each value). */
static const char fx_csv[] =
    "movieId,userId,rating,timestamp,label,releaseYear,movieGenre1,movieGenre2,movieGenre3,"
    "movieRatingCount,movieAvgRating,movieRatingStddev,userRatedMovie1,userRatedMovie2,"
    "userRatedMovie3,userRatedMovie4,userRatedMovie5,userRatingCount,userAvgReleaseYear,"
    "userReleaseYearStddev,userAvgRating,userRatingStddev,userGenre1,userGenre2,userGenre3,"
    "userGenre4,userGenre5\n"
    "40,1,4.5,300,1,2010,,,,0,0.00,0.00,30,10,,,,3,1995,5.00,4.00,1.00,Comedy,Drama,Action,,\n"
    "50,1,2.0,400,0,1980,Comedy,,,2,4.00,1.41,40,30,10,,,4,1998,8.54,4.12,0.85,Comedy,Drama,"
    "Action,,\n"
    "20,2,5.0,300,1,2000,Action,,,1,3.00,0.00,30,,,,,2,1992,3.54,3.00,1.41,Action,Comedy,Drama,,\n"
    "40,2,3.0,300,0,2010,,,,0,0.00,0.00,30,,,,,2,1992,3.54,3.00,1.41,Action,Comedy,Drama,,\n"
    "50,2,5.0,350,1,1980,Comedy,,,1,3.00,0.00,20,30,,,,4,1998,8.54,3.50,1.29,Action,Comedy,Drama,"
    ",\n";

static void test_export(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-export.jcat"), 0);
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.valid = so.test = 0;
    struct jc_samples_report r;
    const char *dir = jc_test_path("export");
    assert_int_equal(build(cat, dir, &fo, &so, &r), JC_OK);
    struct jc_samples *s;
    assert_int_equal(jc_samples_open(&s, dir, JC_SPLIT_TRAIN, JC_SAMPLES_VERIFY), JC_OK);
    const char *csv = jc_test_path("fx.csv");
    uint64_t rows;
    assert_int_equal(jc_samples_export(s, cat, JC_EXPORT_CSV, csv, &rows), JC_OK);
    assert_int_equal(rows, 5);
    char *text;
    size_t n;
    read_file(csv, &text, &n);
    assert_string_equal(text, fx_csv);
    jc_free(text);
    /* TSV: header + finished values equal to the reader's */
    const char *tsv = jc_test_path("fx.tsv");
    assert_int_equal(jc_samples_export(s, NULL, JC_EXPORT_TSV, tsv, &rows), JC_OK);
    read_file(tsv, &text, &n);
    assert_true(strncmp(text, "label\tvalue\tuser\titem\ttime\tuserId\tmovieId\tmovieGenre1", 53) ==
                0);
    assert_non_null(strstr(text, "\tuserHistory_20\thour\tweekday\treleaseYear\t"));
    const struct jc_feat_layout *L = jc_samples_layout(s);
    struct jc_batch b;
    assert_int_equal(jc_batch_init(&b, L, 5), JC_OK);
    assert_int_equal(jc_samples_read(s, 0, 5, &b), JC_OK);
    char *line = strchr(text, '\n') + 1; /* first data row */
    unsigned cols = 1;
    for (char *p = line; *p != '\n'; p++)
        cols += *p == '\t';
    assert_int_equal(cols, 5 + L->n_cat + L->n_num);
    char *p = line;
    for (unsigned c = 0; c < 5 + L->n_cat; c++)
        p = strchr(p, '\t') + 1;
    for (unsigned k = 0; k < L->n_num; k++) {
        float v = strtof(p, &p);
        assert_true(v == b.num[k]); /* %.9g round-trips floats */
        p++;
    }
    jc_free(text);
    jc_batch_free(&b);
    /* a spec without the reference columns cannot make the course CSV */
    struct jc_featspec *narrow;
    fo.columns = "userId,movieId";
    assert_int_equal(jc_featspec_create(&narrow, &fo, cat), JC_OK);
    assert_int_equal(jc_samples_export_check(narrow, JC_EXPORT_CSV), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "the course CSV needs column releaseYear"));
    assert_int_equal(jc_samples_export_check(narrow, JC_EXPORT_TSV), JC_OK);
    jc_featspec_destroy(narrow);
    /* another catalog cannot label the CSV */
    assert_int_equal(jc_samples_export(s, synth_cat, JC_EXPORT_CSV, csv, NULL), JC_ESTATE);
    jc_samples_close(s);
    jc_catalog_close(cat);
}

/* Every allocation of spec creation and of the job may fail: clean errors,
 * no crash, no leak (ASan), and the spec stays unfitted. */
static void test_alloc_failures(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-alloc.jcat"), 1);
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    fo.implicit = 1;
    fo.negatives = 1;
    fo.neg_popularity = 1;
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.threads = 2;
    so.dir = jc_test_path("alloc");
    int ok = 0, failed = 0;
    for (long n = 1; n < 400 && !ok; n++) {
        struct jc_featspec *s = NULL;
        jc_alloc_fail_after(n);
        int rc = jc_featspec_create(&s, &fo, cat);
        struct jc_samples_report r;
        if (rc == JC_OK) {
            rc = jc_samples_build(cat, s, &so, &r);
            assert_int_equal(jc_featspec_is_fitted(s), rc == JC_OK);
            jc_featspec_destroy(s);
        }
        jc_alloc_fail_after(0);
        if (rc == JC_OK)
            ok = 1;
        else
            assert_int_equal(rc, JC_ENOMEM), failed++;
    }
    assert_true(ok);
    assert_true(failed > 20);
    /* the reader too */
    ok = failed = 0;
    for (long n = 1; n < 100 && !ok; n++) {
        struct jc_samples *sm = NULL;
        jc_alloc_fail_after(n);
        int rc = jc_samples_open(&sm, so.dir, JC_SPLIT_TRAIN, JC_SAMPLES_VERIFY);
        jc_alloc_fail_after(0);
        if (rc == JC_OK) {
            assert_true(jc_samples_rows(sm) > 0);
            jc_samples_close(sm);
            ok = 1;
        } else {
            assert_int_equal(rc, JC_ENOMEM);
            assert_null(sm);
            failed++;
        }
    }
    assert_true(ok && failed > 3);
    jc_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_threads),
        cmocka_unit_test(test_split_counts),
        cmocka_unit_test(test_read_roundtrip),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_failure_keeps_old),
        cmocka_unit_test(test_implicit_negatives),
        cmocka_unit_test(test_min_count),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, setup_synth, teardown_synth);
}
