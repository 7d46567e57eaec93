/*
 * test_online.c - online updates of the live ranking model.
 *
 * On the seeded synthetic CTR set of junco/train.h (known signal): the
 * progressive loss and the held-out logloss go down as an untrained model
 * learns from the stream, and every snapshot is published as the next
 * registry version; a poisoned stream (labels flipped) trips the guard,
 * which rolls back (or suspends updates) and keeps the held-out loss where
 * it was, while the same stream without the guard ruins the model;
 * snapshots are atomic for a reader loading LIVE concurrently; a version
 * published by someone else is followed. Finally the integration with the
 * nearline worker: labelled events from the log reach the learner with
 * rows built from the point-in-time states.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include <junco/error.h>
#include <junco/eventlog.h>
#include <junco/featspec.h>
#include <junco/metrics.h>
#include <junco/model.h>
#include <junco/nearline.h>
#include <junco/online.h>
#include <junco/samples.h>
#include <junco/store.h>
#include <junco/train.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_feat_fixture.h"

static struct jc_feat_layout g_layout;
static struct jc_batch g_train, g_valid, g_test;

static int group_setup(void **state)
{
    (void)state;
    struct jc_train_synth_opts o;
    jc_train_synth_opts_default(&o);
    o.n_train = 24000;
    o.n_valid = 1000;
    o.n_test = 4000;
    o.seed = 11;
    return jc_train_synth(&o, &g_layout, &g_train, &g_valid, &g_test) == JC_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    jc_batch_free(&g_train);
    jc_batch_free(&g_valid);
    jc_batch_free(&g_test);
    return 0;
}

static int n_reg;

/* A fresh registry holding an untrained LR model (FTRL on the wide part
 * when ftrl is set) as v1. */
static const char *fresh_registry(int ftrl)
{
    static char dir[4096];
    char name[32];
    snprintf(name, sizeof name, "models-%d", ++n_reg);
    snprintf(dir, sizeof dir, "%s", jc_test_path(name));
    struct jc_model_config mc;
    jc_model_config_default(&mc, JC_MODEL_FM);
    if (ftrl) {
        jc_optim_config_default(&mc.opt_wide, JC_OPTIM_FTRL);
        mc.opt_wide.lr = 0.05f;
    }
    struct jc_model *m;
    assert_int_equal(jc_model_create(&m, &mc, &g_layout), JC_OK);
    uint32_t v;
    assert_int_equal(jc_model_publish(m, dir, 1, &v), JC_OK);
    assert_int_equal(v, 1);
    jc_model_destroy(m);
    return dir;
}

static struct jc_online *open_online(const char *dir, int guard, uint64_t snapshot_every)
{
    struct jc_online_config c;
    jc_online_config_default(&c);
    c.registry_dir = dir;
    c.guard = guard;
    c.snapshot_s = 0;
    c.snapshot_every = snapshot_every;
    c.window = 1000;
    c.batch = 32;
    struct jc_online *o;
    assert_int_equal(jc_online_open(&o, &c), JC_OK);
    return o;
}

static double test_logloss(const struct jc_model *m, double *auc)
{
    struct jc_train_source src;
    jc_train_source_batch(&src, &g_layout, &g_test);
    struct jc_ctr_metrics mt;
    assert_int_equal(jc_train_evaluate(m, &src, 1, &mt), JC_OK);
    if (auc)
        *auc = mt.auc;
    return mt.logloss;
}

/* Feeds rows [begin, end) of g_train (labels flipped when poison), in
 * chunks, taking snapshots when due. */
static void feed(struct jc_online *o, uint32_t begin, uint32_t end, int poison)
{
    struct jc_batch b;
    assert_int_equal(jc_batch_init(&b, &g_layout, 100), JC_OK);
    for (uint32_t r = begin; r < end; r += 100) {
        uint32_t n = end - r < 100 ? end - r : 100;
        struct jc_train_source src;
        jc_train_source_batch(&src, &g_layout, &g_train);
        uint64_t idx[100];
        for (uint32_t k = 0; k < n; k++)
            idx[k] = r + k;
        assert_int_equal(src.read_index(&src, idx, n, &b), JC_OK);
        if (poison)
            for (uint32_t k = 0; k < n; k++)
                b.label[k] = 1.0f - b.label[k];
        assert_int_equal(jc_online_learn_rows(o, &b), JC_OK);
        assert_int_equal(jc_online_maybe_snapshot(o, NULL), JC_OK);
    }
    jc_batch_free(&b);
}

static void test_loss_goes_down(void **state)
{
    (void)state;
    const char *dir = fresh_registry(1);
    struct jc_online *o = open_online(dir, JC_GUARD_ROLLBACK, 4000);
    double auc0, auc1;
    double ll0 = test_logloss(jc_online_model(o), &auc0);
    struct jc_online_stats st;
    feed(o, 0, 2000, 0);
    jc_online_get_stats(o, &st);
    double early = st.rolling_logloss;
    feed(o, 2000, 20000, 0);
    jc_online_get_stats(o, &st);
    double ll1 = test_logloss(jc_online_model(o), &auc1);
    print_message("# test logloss %.4f -> %.4f, AUC %.4f -> %.4f, rolling %.4f -> %.4f\n", ll0, ll1,
                  auc0, auc1, early, st.rolling_logloss);
    assert_true(ll1 < ll0 - 0.02);
    assert_true(auc1 > auc0 + 0.05);
    assert_true(st.rolling_logloss < early - 0.01);
    assert_int_equal(st.examples, 20000);
    assert_int_equal(st.updates, 20000 / 32);
    assert_int_equal(st.guard_trips, 0);
    assert_int_equal(st.snapshots, 5); /* every 4000 examples */
    assert_int_equal(st.live_version, 6);
    /* the published LIVE version is the learner at the last snapshot */
    char path[4096];
    uint32_t v;
    assert_int_equal(jc_model_registry_live(dir, path, sizeof path, &v), JC_OK);
    assert_int_equal(v, 6);
    struct jc_model *live;
    assert_int_equal(jc_model_load(&live, path), JC_OK);
    assert_double_near(test_logloss(live, NULL), ll1, 1e-9);
    jc_model_destroy(live);
    /* nothing learned since: a snapshot publishes nothing new */
    assert_int_equal(jc_online_snapshot(o, &v), JC_OK);
    assert_int_equal(v, 6);
    /* metrics text */
    struct jc_buf b;
    jc_buf_init(&b, 1 << 20);
    assert_int_equal(jc_online_metrics_write(o, &b), JC_OK);
    assert_non_null(strstr(b.data, "\njunco_online_examples_total 20000\n"));
    assert_non_null(strstr(b.data, "\njunco_online_snapshots_total 5\n"));
    assert_non_null(strstr(b.data, "\njunco_online_model_version 6\n"));
    jc_buf_free(&b);
    jc_online_close(o);
}

/* Clean stream, then a poisoned one (labels flipped). Returns the test
 * logloss after the clean part (*clean) and after the poison. */
static double poisoned_run(int guard, double *clean, struct jc_online_stats *st)
{
    const char *dir = fresh_registry(1);
    struct jc_online *o = open_online(dir, guard, 2000);
    feed(o, 0, 16000, 0);
    *clean = test_logloss(jc_online_model(o), NULL);
    feed(o, 16000, 24000, 1);
    double after = test_logloss(jc_online_model(o), NULL);
    jc_online_get_stats(o, st);
    if (guard == JC_GUARD_SKIP) {
        assert_true(st->tripped);
        uint32_t v;
        assert_int_equal(jc_online_snapshot(o, &v), JC_ESTATE);
        assert_non_null(strstr(jc_errmsg(), "guard is tripped"));
    }
    jc_online_close(o);
    return after;
}

static void test_guard_on_poisoned_stream(void **state)
{
    (void)state;
    double clean_off, clean_rb, clean_skip;
    struct jc_online_stats off, rb, sk;
    double after_off = poisoned_run(JC_GUARD_OFF, &clean_off, &off);
    double after_rb = poisoned_run(JC_GUARD_ROLLBACK, &clean_rb, &rb);
    double after_skip = poisoned_run(JC_GUARD_SKIP, &clean_skip, &sk);
    print_message("# poison: off %.4f -> %.4f, rollback %.4f -> %.4f (%llu trips), skip %.4f -> "
                  "%.4f (%llu trips, %llu skipped)\n",
                  clean_off, after_off, clean_rb, after_rb, (unsigned long long)rb.guard_trips,
                  clean_skip, after_skip, (unsigned long long)sk.guard_trips,
                  (unsigned long long)sk.skipped);
    /* the same clean part gives the same model whatever the guard */
    assert_double_near(clean_off, clean_rb, 1e-9);
    assert_double_near(clean_off, clean_skip, 1e-9);
    assert_int_equal(off.guard_trips, 0);
    assert_true(after_off > clean_off + 0.1); /* unguarded: ruined */
    assert_true(rb.guard_trips >= 1);
    assert_true(rb.rollbacks >= 1);
    assert_true(rb.skipped > 0); /* held after the rollback */
    assert_true(after_rb < clean_rb + 0.05);
    assert_true(sk.guard_trips >= 1);
    assert_true(sk.skipped > 0);
    assert_true(after_skip < clean_skip + 0.05);
    /* no poisoned snapshot was published in the guarded runs: snapshots
     * stopped when the guard tripped */
    assert_true(rb.snapshots <= 16000 / 2000 + 1);
}

struct reader {
    const char *dir;
    atomic_int stop;
    int loads, failures;
    uint32_t max_seen;
};

static void *reader_main(void *p)
{
    struct reader *r = p;
    while (!atomic_load(&r->stop)) {
        char path[4096];
        uint32_t v;
        if (jc_model_registry_live(r->dir, path, sizeof path, &v) != JC_OK) {
            r->failures++;
            continue;
        }
        struct jc_model *m;
        if (jc_model_load(&m, path) != JC_OK) {
            r->failures++;
            continue;
        }
        jc_model_destroy(m);
        if (v < r->max_seen)
            r->failures++;
        r->max_seen = v;
        r->loads++;
    }
    return NULL;
}

static void test_snapshot_publish_is_atomic(void **state)
{
    (void)state;
    const char *dir = fresh_registry(0);
    struct jc_online *o = open_online(dir, JC_GUARD_OFF, 0);
    struct reader r = {dir, 0, 0, 0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
    for (int k = 0; k < 25; k++) {
        feed(o, (uint32_t)k * 200, (uint32_t)k * 200 + 200, 0);
        uint32_t v;
        assert_int_equal(jc_online_snapshot(o, &v), JC_OK);
        assert_int_equal(v, (uint32_t)k + 2);
    }
    atomic_store(&r.stop, 1);
    pthread_join(t, NULL);
    print_message("# %d concurrent loads of LIVE, %d failures\n", r.loads, r.failures);
    assert_true(r.loads > 0);
    assert_int_equal(r.failures, 0);
    /* another publisher (an offline training) moves LIVE: the learner
     * follows it at its next snapshot */
    struct jc_model_config mc;
    jc_model_config_default(&mc, JC_MODEL_FM);
    struct jc_model *m;
    assert_int_equal(jc_model_create(&m, &mc, &g_layout), JC_OK);
    uint32_t ext;
    assert_int_equal(jc_model_publish(m, dir, 1, &ext), JC_OK);
    assert_int_equal(ext, 27);
    jc_model_destroy(m);
    feed(o, 6000, 6100, 0);
    uint32_t v;
    assert_int_equal(jc_online_snapshot(o, &v), JC_OK);
    assert_int_equal(v, 27);
    struct jc_online_stats st;
    jc_online_get_stats(o, &st);
    assert_int_equal(st.reloads, 1);
    assert_int_equal(st.live_version, 27);
    assert_int_equal(st.window_fill, 0);
    jc_online_close(o);
}

static void test_config_and_labels(void **state)
{
    (void)state;
    struct jc_online_config c;
    jc_online_config_default(&c);
    struct jc_online *o;
    assert_int_equal(jc_online_open(&o, &c), JC_EINVAL);
    c.registry_dir = jc_test_path("no-such-registry");
    assert_int_equal(jc_online_open(&o, &c), JC_ENOTFOUND);
    c.registry_dir = fresh_registry(0);
    c.window = 0;
    assert_int_equal(jc_online_open(&o, &c), JC_EINVAL);
    c.window = 10;
    c.label_threshold = 4.0f;
    assert_int_equal(jc_online_open(&o, &c), JC_OK);
    assert_null(jc_online_spec(o)); /* the synthetic model has no spec */
    float y;
    assert_int_equal(jc_online_label(o, JC_EV_RATING, 4.0f, &y), 1);
    assert_true(y == 1.0f);
    assert_int_equal(jc_online_label(o, JC_EV_RATING, 3.5f, &y), 1);
    assert_true(y == 0.0f);
    assert_int_equal(jc_online_label(o, JC_EV_CLICK, 0.0f, &y), 1);
    assert_true(y == 1.0f);
    assert_int_equal(jc_online_label(o, JC_EV_IMPRESSION, 1.0f, &y), 1);
    assert_true(y == 0.0f);
    assert_int_equal(jc_online_label(o, JC_EV_VIEW, 1.0f, &y), 0);
    assert_int_equal(jc_online_observe(o, 0, NULL, 0, NULL, 0, 1.0f), JC_ESTATE);
    jc_online_close(o);
}

/* The nearline worker feeds the learner rows built from the states before
 * each event. */
static void test_nearline_integration(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx.jcat"), 1);
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    fo.min_history = 0;
    struct jc_featspec *spec;
    assert_int_equal(jc_featspec_create(&spec, &fo, cat), JC_OK);
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.dir = jc_test_path("fx-samples");
    so.threads = 1;
    assert_int_equal(jc_samples_build(cat, spec, &so, NULL), JC_OK);
    struct jc_model_config mc;
    jc_model_config_default(&mc, JC_MODEL_LR);
    struct jc_model *m;
    assert_int_equal(jc_model_create(&m, &mc, jc_featspec_layout(spec)), JC_OK);
    void *blob;
    size_t n;
    assert_int_equal(jc_featspec_save_blob(spec, &blob, &n), JC_OK);
    assert_int_equal(jc_model_set_spec(m, blob, n), JC_OK);
    jc_free(blob);
    const char *dir = jc_test_path("fx-models");
    assert_int_equal(jc_model_publish(m, dir, 1, NULL), JC_OK);
    jc_model_destroy(m);
    jc_featspec_destroy(spec);

    struct jc_online_config oc;
    jc_online_config_default(&oc);
    oc.registry_dir = dir;
    oc.cat = cat;
    oc.batch = 4;
    oc.window = 5;
    oc.snapshot_s = 0;
    oc.snapshot_every = 8;
    struct jc_online *o;
    assert_int_equal(jc_online_open(&o, &oc), JC_OK);
    assert_non_null(jc_online_spec(o));

    struct jc_store_config sc;
    jc_store_config_default(&sc);
    sc.path = jc_test_path("fx-store");
    sc.map_size = 64 << 20;
    sc.sync = 0;
    struct jc_store *store;
    assert_int_equal(jc_store_open(&store, &sc), JC_OK);
    struct jc_eventlog_config lc;
    jc_eventlog_config_default(&lc);
    lc.dir = jc_test_path("fx-log");
    lc.fsync = JC_FSYNC_OFF;
    struct jc_eventlog *log;
    assert_int_equal(jc_eventlog_open(&log, &lc), JC_OK);
    uint64_t appended;
    assert_int_equal(jc_eventlog_replay_catalog(log, cat, 0, NULL, &appended), JC_OK);
    struct jc_nearline_config nc;
    jc_nearline_config_default(&nc);
    nc.log = log;
    nc.store = store;
    nc.cat = cat;
    nc.spec = jc_online_spec(o);
    nc.online = o;
    struct jc_nearline *w;
    assert_int_equal(jc_nearline_create(&w, &nc), JC_OK);
    assert_int_equal(jc_nearline_drain(w, NULL), JC_OK);
    struct jc_online_stats st;
    jc_online_get_stats(o, &st);
    assert_int_equal(st.examples, appended); /* every rating is labelled */
    assert_true(st.updates >= appended / 4); /* + the partial batch of a snapshot */
    assert_true(st.snapshots >= 1);
    struct jc_buf b;
    jc_buf_init(&b, 1 << 20);
    assert_int_equal(jc_nearline_metrics_write(w, &b), JC_OK);
    char want[64];
    snprintf(want, sizeof want, "\njunco_online_examples_total %llu\n",
             (unsigned long long)appended);
    assert_non_null(strstr(b.data, want));
    jc_buf_free(&b);
    jc_nearline_destroy(w);
    jc_eventlog_close(log);
    jc_store_close(store);
    jc_online_close(o);
    jc_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_goes_down),
        cmocka_unit_test(test_guard_on_poisoned_stream),
        cmocka_unit_test(test_snapshot_publish_is_atomic),
        cmocka_unit_test(test_config_and_labels),
        cmocka_unit_test(test_nearline_integration),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
