/*
 * online.c - online updates of the live ranking model (junco/online.h).
 *
 * State: the learning model with its scorer (scoring and learning share the
 * scorer's workspace), the last good snapshot (a deep copy, for rollback),
 * a ring of the last `window` per-example losses with their running sum,
 * the baseline loss, and a batch of pending rows that is learned when full.
 * Every example is scored before it is buffered, so the rolling loss is a
 * progressive-validation loss: the model never saw the example it is
 * measured on.
 *
 * Snapshot publishing goes through jc_model_publish (atomic version file,
 * then atomic LIVE replace), so readers see the old or the new version.
 */

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/timeutil.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/model.h>
#include <junco/online.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define LOSS_EPS 1e-7

struct jc_online {
    struct jc_online_config cfg;
    char dir[4096];
    const struct jc_catalog *cat;
    struct jc_model *learn; /* learning model */
    struct jc_model *good;  /* last good snapshot */
    struct jc_model_scorer *sc;
    struct jc_featspec *spec; /* owned, from the model's blob (may be NULL) */
    struct jc_batch pending;  /* rows waiting for the next step */
    struct jc_batch one;      /* a row being built */
    int have_batches;
    double *ring;
    uint32_t ring_n, ring_next;
    double ring_sum;
    double baseline;
    int have_baseline;
    int tripped;
    uint64_t since_snap;
    uint64_t t_snap_ns;
    uint64_t updates_since_snap;
    uint32_t version;   /* the registry version the learner follows */
    pthread_mutex_t mu; /* guards st */
    struct jc_online_stats st;
};

void jc_online_config_default(struct jc_online_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch = 32;
    c->window = 1000;
    c->guard_threshold = 0.2;
    c->guard = JC_GUARD_ROLLBACK;
    c->snapshot_s = 60;
    c->label_threshold = 3.5f;
    c->publish = 1;
}

void jc_online_config_from(struct jc_online_config *c, const struct jc_config *cfg)
{
    c->lr = (float)cfg->online_lr;
    c->lr_wide = (float)cfg->online_lr_wide;
    c->batch = (uint32_t)cfg->online_batch;
    c->window = (uint32_t)cfg->online_window;
    c->guard_threshold = cfg->online_guard_threshold;
    if (strcmp(cfg->online_guard, "skip") == 0)
        c->guard = JC_GUARD_SKIP;
    else if (strcmp(cfg->online_guard, "off") == 0)
        c->guard = JC_GUARD_OFF;
    else
        c->guard = JC_GUARD_ROLLBACK;
    c->snapshot_s = cfg->online_snapshot_seconds;
    c->snapshot_every = (uint64_t)cfg->online_snapshot_events;
    c->label_threshold = (float)cfg->features_label_threshold;
}

/* ---- helpers ---------------------------------------------------------------- */

static void copy_row(struct jc_batch *dst, uint32_t d, const struct jc_batch *src, uint32_t s,
                     const struct jc_feat_layout *l)
{
    dst->label[d] = src->label[s];
    dst->value[d] = src->value[s];
    dst->user[d] = src->user[s];
    dst->item[d] = src->item[s];
    dst->time[d] = src->time[s];
    if (l->n_cat)
        memcpy(dst->cat + (size_t)d * l->n_cat, src->cat + (size_t)s * l->n_cat,
               l->n_cat * sizeof *dst->cat);
    if (l->n_num)
        memcpy(dst->num + (size_t)d * l->n_num, src->num + (size_t)s * l->n_num,
               l->n_num * sizeof *dst->num);
}

static double row_loss(float p, float y)
{
    double q = p < LOSS_EPS ? LOSS_EPS : (p > 1 - LOSS_EPS ? 1 - LOSS_EPS : p);
    return y > 0.5f ? -log(q) : -log(1 - q);
}

static void ring_reset(struct jc_online *o)
{
    o->ring_n = o->ring_next = 0;
    o->ring_sum = 0;
}

static void ring_push(struct jc_online *o, double loss)
{
    uint32_t W = o->cfg.window;
    if (o->ring_n == W) {
        o->ring_sum -= o->ring[o->ring_next];
    } else {
        o->ring_n++;
    }
    o->ring[o->ring_next] = loss;
    o->ring_sum += loss;
    o->ring_next = o->ring_next + 1 == W ? 0 : o->ring_next + 1;
    if (o->ring_next == 0) { /* re-sum once per lap against drift */
        double s = 0;
        for (uint32_t i = 0; i < o->ring_n; i++)
            s += o->ring[i];
        o->ring_sum = s;
    }
}

static double ring_mean(const struct jc_online *o)
{
    return o->ring_n ? o->ring_sum / o->ring_n : NAN;
}

static void publish_stats(struct jc_online *o)
{
    pthread_mutex_lock(&o->mu);
    o->st.rolling_logloss = ring_mean(o);
    o->st.baseline_logloss = o->have_baseline ? o->baseline : NAN;
    o->st.window_fill = o->ring_n;
    o->st.live_version = o->version;
    o->st.tripped = o->tripped;
    pthread_mutex_unlock(&o->mu);
}

#define STAT_ADD(o, field, v)           \
    do {                                \
        pthread_mutex_lock(&(o)->mu);   \
        (o)->st.field += (v);           \
        pthread_mutex_unlock(&(o)->mu); \
    } while (0)

/* Makes m the learning model (taking ownership) with a fresh scorer and
 * batches sized for its layout. */
static int set_learner(struct jc_online *o, struct jc_model *m)
{
    struct jc_model_scorer *sc;
    uint32_t cap = o->cfg.batch > 1 ? o->cfg.batch : 1;
    int rc = jc_model_scorer_create(&sc, m, cap);
    if (rc) {
        jc_model_destroy(m);
        return rc;
    }
    if (!o->have_batches) {
        const struct jc_feat_layout *l = jc_model_layout(m);
        if ((rc = jc_batch_init(&o->pending, l, cap)) || (rc = jc_batch_init(&o->one, l, 1))) {
            jc_model_scorer_destroy(sc);
            jc_model_destroy(m);
            return rc;
        }
        o->have_batches = 1;
    }
    jc_model_scorer_destroy(o->sc);
    jc_model_destroy(o->learn);
    o->learn = m;
    o->sc = sc;
    o->pending.n = 0;
    return JC_OK;
}

/* Loads the live version as learner and good snapshot. */
static int load_live(struct jc_online *o)
{
    char path[4096];
    uint32_t ver;
    int rc = jc_model_registry_live(o->dir, path, sizeof path, &ver);
    if (rc)
        return rc;
    struct jc_model *m, *g;
    if ((rc = jc_model_load(&m, path)))
        return rc;
    if ((rc = jc_model_set_lr(m, o->cfg.lr, o->cfg.lr_wide))) {
        jc_model_destroy(m);
        return rc;
    }
    if (o->learn) {
        const struct jc_feat_layout *a = jc_model_layout(o->learn), *b = jc_model_layout(m);
        if (a->n_cat != b->n_cat || a->n_num != b->n_num) {
            jc_model_destroy(m);
            return jc_err_set(JC_ESTATE,
                              "online: the new live model %s has another feature layout; "
                              "restart the worker",
                              path);
        }
    }
    if ((rc = jc_model_clone(&g, m))) {
        jc_model_destroy(m);
        return rc;
    }
    if ((rc = set_learner(o, m))) {
        jc_model_destroy(g);
        return rc;
    }
    jc_model_destroy(o->good);
    o->good = g;
    o->version = ver;
    ring_reset(o);
    o->have_baseline = 0;
    o->tripped = 0;
    return JC_OK;
}

int jc_online_open(struct jc_online **out, const struct jc_online_config *cfg)
{
    if (cfg->registry_dir == NULL || cfg->registry_dir[0] == '\0')
        return jc_err_set(JC_EINVAL, "online: no model registry directory");
    if (cfg->window < 1 || cfg->window > 10000000)
        return jc_err_set(JC_EINVAL, "online: window %u out of range [1, 1e7]", cfg->window);
    if (cfg->batch < 1 || cfg->batch > 65536)
        return jc_err_set(JC_EINVAL, "online: batch %u out of range [1, 65536]", cfg->batch);
    if (!(cfg->guard_threshold >= 0) || !(cfg->snapshot_s >= 0))
        return jc_err_set(JC_EINVAL, "online: guard threshold and snapshot period must be >= 0");
    struct jc_online *o = jc_calloc(1, sizeof *o);
    if (o == NULL)
        return JC_ENOMEM;
    o->cfg = *cfg;
    o->cat = cfg->cat;
    snprintf(o->dir, sizeof o->dir, "%s", cfg->registry_dir);
    o->cfg.registry_dir = o->dir;
    pthread_mutex_init(&o->mu, NULL);
    o->ring = jc_calloc(cfg->window, sizeof *o->ring);
    int rc = o->ring ? load_live(o) : JC_ENOMEM;
    if (rc == JC_OK && cfg->cat) {
        size_t n;
        const void *blob = jc_model_spec(o->learn, &n);
        if (blob && n && (rc = jc_featspec_load_blob(&o->spec, blob, n, cfg->cat)))
            jc_err_prefix(rc, "online: the feature spec of the live model");
    }
    if (rc) {
        jc_online_close(o);
        return rc;
    }
    o->t_snap_ns = jc_now_ns();
    publish_stats(o);
    *out = o;
    return JC_OK;
}

void jc_online_close(struct jc_online *o)
{
    if (o == NULL)
        return;
    jc_model_scorer_destroy(o->sc);
    jc_model_destroy(o->learn);
    jc_model_destroy(o->good);
    jc_featspec_destroy(o->spec);
    if (o->have_batches) {
        jc_batch_free(&o->pending);
        jc_batch_free(&o->one);
    }
    jc_free(o->ring);
    pthread_mutex_destroy(&o->mu);
    jc_free(o);
}

const struct jc_featspec *jc_online_spec(const struct jc_online *o)
{
    return o->spec;
}

const struct jc_model *jc_online_model(const struct jc_online *o)
{
    return o->learn;
}

int jc_online_label(const struct jc_online *o, uint8_t type, float value, float *label)
{
    switch (type) {
    case JC_EV_RATING:
        *label = value >= o->cfg.label_threshold ? 1.0f : 0.0f;
        return 1;
    case JC_EV_CLICK:
    case JC_EV_LIKE:
    case JC_EV_PURCHASE:
        *label = 1.0f;
        return 1;
    case JC_EV_IMPRESSION:
        *label = 0.0f;
        return 1;
    default:
        return 0;
    }
}

/* ---- learning and the guard --------------------------------------------------- */

static int learn_pending(struct jc_online *o)
{
    if (o->pending.n == 0)
        return JC_OK;
    int rc = jc_model_learn(o->learn, o->sc, &o->pending, NULL);
    o->pending.n = 0;
    if (rc == JC_OK) {
        o->updates_since_snap++;
        STAT_ADD(o, updates, 1);
    }
    return rc;
}

/* Compares the rolling loss with the baseline; trips the guard. */
static int guard_check(struct jc_online *o)
{
    uint32_t W = o->cfg.window;
    if (o->ring_n < W)
        return JC_OK;
    double cur = ring_mean(o);
    if (!o->have_baseline) {
        o->baseline = cur;
        o->have_baseline = 1;
        return JC_OK;
    }
    if (o->cfg.guard == JC_GUARD_OFF)
        return JC_OK;
    double limit = o->baseline * (1.0 + o->cfg.guard_threshold);
    if (!(cur > limit)) {
        if (o->tripped)
            JC_INFO("online: rolling logloss %.4f back under %.4f: updates resume", cur, limit);
        o->tripped = 0;
        return JC_OK;
    }
    if (o->cfg.guard == JC_GUARD_SKIP || o->tripped) {
        if (!o->tripped) {
            STAT_ADD(o, guard_trips, 1);
            JC_WARN("online: rolling logloss %.4f > %.4f (baseline %.4f): updates suspended", cur,
                    limit, o->baseline);
        }
        o->tripped = 1;
        o->pending.n = 0;
        return JC_OK;
    }
    /* rollback */
    STAT_ADD(o, guard_trips, 1);
    JC_WARN("online: rolling logloss %.4f > %.4f (baseline %.4f): rolling back to the last "
            "good snapshot",
            cur, limit, o->baseline);
    struct jc_model *m;
    int rc = jc_model_clone(&m, o->good);
    if (rc == JC_OK)
        rc = set_learner(o, m);
    if (rc)
        return rc;
    STAT_ADD(o, rollbacks, 1);
    ring_reset(o);
    o->updates_since_snap = 0;
    /* hold updates until a full window scored by the restored model is back
     * under the limit (otherwise the next window would learn the same bad
     * data again) */
    o->tripped = 1;
    return JC_OK;
}

/* Scores row r of b, records its loss and buffers it. */
static int take_row(struct jc_online *o, const struct jc_batch *b, uint32_t r)
{
    const struct jc_feat_layout *l = jc_model_layout(o->learn);
    struct jc_batch *one = &o->one;
    if (b != one) {
        copy_row(one, 0, b, r, l);
        one->n = 1;
    }
    float p;
    int rc = jc_model_score_rows(o->sc, one, &p);
    if (rc)
        return rc;
    ring_push(o, row_loss(p, one->label[0]));
    o->since_snap++;
    STAT_ADD(o, examples, 1);
    if (o->tripped) {
        STAT_ADD(o, skipped, 1);
    } else {
        copy_row(&o->pending, o->pending.n++, one, 0, l);
        if (o->pending.n >= o->pending.cap && (rc = learn_pending(o)))
            return rc;
    }
    if (o->pending.n == 0 || o->tripped)
        rc = guard_check(o);
    return rc;
}

int jc_online_learn_rows(struct jc_online *o, const struct jc_batch *b)
{
    int rc = JC_OK;
    for (uint32_t r = 0; r < b->n && rc == JC_OK; r++)
        rc = take_row(o, b, r);
    publish_stats(o);
    return rc;
}

int jc_online_observe(struct jc_online *o, uint32_t user, const struct jc_user_state *us,
                      uint32_t item, const struct jc_item_state *is, int64_t time, float label)
{
    if (o->spec == NULL)
        return jc_err_set(JC_ESTATE, "online: the live model has no feature spec (or no "
                                     "catalog was given): cannot build rows from states");
    struct jc_feat_context ctx;
    jc_feat_context_from_time(&ctx, time);
    int rc = jc_featspec_build_batch(o->spec, user, us, &ctx, 1, &item, is, &o->one);
    if (rc)
        return rc;
    o->one.n = 1;
    o->one.label[0] = label;
    rc = take_row(o, &o->one, 0);
    if (rc == JC_OK && (o->since_snap & 63) == 0)
        publish_stats(o);
    return rc;
}

/* ---- snapshots ------------------------------------------------------------------ */

static int do_snapshot(struct jc_online *o, uint32_t *version)
{
    int rc = learn_pending(o);
    if (rc == JC_OK)
        rc = guard_check(o);
    if (rc)
        return rc;
    if (o->tripped)
        return jc_err_set(JC_ESTATE, "online: the loss guard is tripped; no snapshot taken");
    /* Another publisher (an offline training) replaced the live version:
     * follow it instead of overwriting it with our older lineage. */
    char path[4096];
    uint32_t live = 0;
    if (o->cfg.publish && jc_model_registry_live(o->dir, path, sizeof path, &live) == JC_OK &&
        live != o->version) {
        JC_INFO("online: registry %s moved to v%u (was v%u): switching to it", o->dir, live,
                o->version);
        if ((rc = load_live(o)))
            return rc;
        STAT_ADD(o, reloads, 1);
        o->since_snap = 0;
        o->updates_since_snap = 0;
        o->t_snap_ns = jc_now_ns();
        publish_stats(o);
        if (version)
            *version = o->version;
        return JC_OK;
    }
    if (o->updates_since_snap == 0 && o->pending.n == 0) {
        if (version) /* nothing learned since the last snapshot */
            *version = o->version;
        return JC_OK;
    }
    uint32_t ver = o->version;
    if (o->cfg.publish && (rc = jc_model_publish(o->learn, o->dir, 1, &ver)))
        return rc;
    struct jc_model *g;
    if ((rc = jc_model_clone(&g, o->learn)))
        return rc;
    jc_model_destroy(o->good);
    o->good = g;
    o->version = ver;
    if (o->ring_n == o->cfg.window) {
        o->baseline = ring_mean(o);
        o->have_baseline = 1;
    }
    o->since_snap = 0;
    o->updates_since_snap = 0;
    o->t_snap_ns = jc_now_ns();
    STAT_ADD(o, snapshots, 1);
    publish_stats(o);
    if (version)
        *version = ver;
    return JC_OK;
}

int jc_online_snapshot(struct jc_online *o, uint32_t *version)
{
    return do_snapshot(o, version);
}

int jc_online_maybe_snapshot(struct jc_online *o, int *published)
{
    if (published)
        *published = 0;
    int due = 0;
    if (o->cfg.snapshot_every && o->since_snap >= o->cfg.snapshot_every)
        due = 1;
    if (o->cfg.snapshot_s > 0 && o->since_snap > 0 &&
        (double)(jc_now_ns() - o->t_snap_ns) * 1e-9 >= o->cfg.snapshot_s)
        due = 1;
    if (!due || o->tripped)
        return JC_OK;
    uint32_t before = o->version;
    int rc = do_snapshot(o, NULL);
    if (rc == JC_ESTATE)
        return JC_OK; /* tripped while learning the pending rows */
    if (rc == JC_OK && published)
        *published = o->version != before;
    return rc;
}

void jc_online_get_stats(struct jc_online *o, struct jc_online_stats *out)
{
    pthread_mutex_lock(&o->mu);
    *out = o->st;
    pthread_mutex_unlock(&o->mu);
}

int jc_online_metrics_write(struct jc_online *o, struct jc_buf *out)
{
    struct jc_online_stats s;
    jc_online_get_stats(o, &s);
    static const char *const counters[][2] = {
        {"junco_online_examples_total", "Labelled examples seen by the online learner."},
        {"junco_online_updates_total", "Optimizer steps of the online learner."},
        {"junco_online_skipped_total", "Examples not learned while the guard held updates."},
        {"junco_online_guard_trips_total", "Times the rolling loss exceeded the guard limit."},
        {"junco_online_rollbacks_total", "Rollbacks to the last good snapshot."},
        {"junco_online_snapshots_total", "Snapshots published to the model registry."},
    };
    uint64_t cv[] = {s.examples, s.updates, s.skipped, s.guard_trips, s.rollbacks, s.snapshots};
    int rc = JC_OK;
    for (size_t i = 0; i < sizeof cv / sizeof cv[0] && rc == JC_OK; i++)
        rc = jc_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i][0],
                           counters[i][1], counters[i][0], counters[i][0],
                           (unsigned long long)cv[i]);
    const char *g[][2] = {
        {"junco_online_rolling_logloss", "Progressive logloss over the guard window."},
        {"junco_online_baseline_logloss", "Rolling logloss at the last good snapshot."},
    };
    double gv[] = {s.rolling_logloss, s.baseline_logloss};
    for (size_t i = 0; i < 2 && rc == JC_OK; i++) {
        char num[40];
        if (isnan(gv[i]))
            snprintf(num, sizeof num, "NaN");
        else
            snprintf(num, sizeof num, "%.17g", gv[i]);
        rc = jc_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g[i][0], g[i][1], g[i][0],
                           g[i][0], num);
    }
    if (rc == JC_OK)
        rc = jc_buf_printf(out,
                           "# HELP junco_online_model_version Registry version the learner "
                           "follows.\n# TYPE junco_online_model_version gauge\n"
                           "junco_online_model_version %u\n",
                           s.live_version);
    return rc;
}
