/*
 * train.c - the trainer: sources, shuffled mini-batches, sharded
 * forward/backward on the worker pool, ordered gradient reduction, one
 * optimizer step per batch, validation, early stopping, checkpoints.
 *
 * One step: the batch's rows are gathered into a contiguous batch (from
 * memory when preloaded, else through the source); task s of the pool runs
 * shard s (fixed rows) into workspace s; then dense gradients are summed
 * shard by shard (parallel over column chunks, each chunk in shard order)
 * and the sparse accumulators merged into shard 0's in shard order; the
 * optimizer applies shard 0's totals. Nothing depends on which worker ran
 * which task, so results are reproducible for a given thread count.
 */
#include "model_int.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/samples.h>
#include <junco/train.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- sources ----------------------------------------------------------- */

static void copy_row(const struct jc_feat_layout *l, const struct jc_batch *src, uint64_t r,
                     struct jc_batch *dst, uint32_t i)
{
    dst->label[i] = src->label[r];
    dst->value[i] = src->value[r];
    dst->user[i] = src->user[r];
    dst->item[i] = src->item[r];
    dst->time[i] = src->time[r];
    memcpy(dst->cat + (size_t)i * l->n_cat, src->cat + (size_t)r * l->n_cat,
           l->n_cat * sizeof *dst->cat);
    memcpy(dst->num + (size_t)i * l->n_num, src->num + (size_t)r * l->n_num,
           l->n_num * sizeof *dst->num);
}

/* The in-memory source: ctx is the batch, rows copied out by index. */
static int mem_read_index(const struct jc_train_source *s, const uint64_t *idx, uint32_t n,
                          struct jc_batch *out)
{
    const struct jc_batch *all = s->ctx;
    if (n > out->cap)
        return jc_err_set(JC_ELIMIT, "source: %u rows into a batch of %u", n, out->cap);
    for (uint32_t i = 0; i < n; i++) {
        if (idx[i] >= all->n)
            return jc_err_set(JC_ERANGE, "source: row %llu of %u", (unsigned long long)idx[i],
                              all->n);
        copy_row(s->layout, all, idx[i], out, i);
    }
    out->n = n;
    return JC_OK;
}

void jc_train_source_batch(struct jc_train_source *s, const struct jc_feat_layout *layout,
                           const struct jc_batch *all)
{
    s->layout = layout;
    s->n_rows = all->n;
    s->read_index = mem_read_index;
    s->ctx = (void *)all;
}

static int src_read(const struct jc_train_source *s, const uint64_t *idx, uint32_t n,
                    struct jc_batch *out)
{
    return s->read_index(s, idx, n, out);
}

static int samples_read_index(const struct jc_train_source *s, const uint64_t *idx, uint32_t n,
                              struct jc_batch *out)
{
    return jc_samples_read_index(s->ctx, idx, n, out);
}

void jc_train_source_samples(struct jc_train_source *s, const struct jc_samples *smp)
{
    s->layout = jc_samples_layout(smp);
    s->n_rows = jc_samples_rows(smp);
    s->read_index = samples_read_index;
    s->ctx = (void *)smp;
}

int jc_train_source_load(const struct jc_train_source *s, struct jc_batch *out)
{
    if (s->n_rows > UINT32_MAX - 1)
        return jc_err_set(JC_ELIMIT, "source: %llu rows do not fit one batch",
                          (unsigned long long)s->n_rows);
    struct jc_batch all;
    int rc = jc_batch_init(&all, s->layout, (uint32_t)s->n_rows);
    if (rc)
        return rc;
    const uint32_t chunk = 8192;
    uint64_t *idx = jc_malloc_array(chunk, sizeof *idx);
    struct jc_batch tmp;
    memset(&tmp, 0, sizeof tmp);
    if (idx == NULL || (rc = jc_batch_init(&tmp, s->layout, chunk))) {
        jc_free(idx);
        jc_batch_free(&all);
        return rc ? rc : JC_ENOMEM;
    }
    for (uint64_t r = 0; r < s->n_rows && rc == JC_OK; r += chunk) {
        uint32_t n = (uint32_t)(s->n_rows - r < chunk ? s->n_rows - r : chunk);
        for (uint32_t i = 0; i < n; i++)
            idx[i] = r + i;
        rc = src_read(s, idx, n, &tmp);
        for (uint32_t i = 0; i < n && rc == JC_OK; i++)
            copy_row(s->layout, &tmp, i, &all, (uint32_t)(r + i));
    }
    jc_free(idx);
    jc_batch_free(&tmp);
    if (rc) {
        jc_batch_free(&all);
        return rc;
    }
    all.n = (uint32_t)s->n_rows;
    *out = all;
    return JC_OK;
}

/* ---- config ------------------------------------------------------------ */

void jc_train_config_default(struct jc_train_config *c, enum jc_model_kind kind)
{
    memset(c, 0, sizeof *c);
    jc_model_config_default(&c->model, kind);
    c->epochs = 10;
    c->batch = 256;
    c->threads = 1;
    c->seed = 42;
    c->patience = 2;
    c->preload = 1;
}

static int layouts_match(const struct jc_feat_layout *a, const struct jc_feat_layout *b)
{
    if (a->n_fields != b->n_fields || a->n_vocabs != b->n_vocabs || a->n_cat != b->n_cat ||
        a->n_num != b->n_num)
        return 0;
    for (uint32_t i = 0; i < a->n_fields; i++)
        if (strcmp(a->fields[i].name, b->fields[i].name) != 0 ||
            a->fields[i].kind != b->fields[i].kind || a->fields[i].width != b->fields[i].width ||
            a->fields[i].offset != b->fields[i].offset ||
            a->fields[i].vocab != b->fields[i].vocab || a->fields[i].side != b->fields[i].side)
            return 0;
    for (uint32_t i = 0; i < a->n_vocabs; i++)
        if (a->vocabs[i].size != b->vocabs[i].size)
            return 0;
    return 1;
}

/* ---- prediction -------------------------------------------------------- */

#define PRED_CHUNK 2048u

struct pred_job {
    const struct jc_model *m;
    const struct jc_train_source *src;
    const struct jc_batch *mem; /* preloaded rows, or NULL */
    struct jc_ws *ws;           /* [workers] */
    struct jc_batch *bufs;      /* [workers] */
    uint64_t *idx;              /* [workers x PRED_CHUNK] */
    float *scores, *labels;
    uint32_t *users;
    int rc;
};

static void pred_task(void *ctx, uint64_t task, int worker)
{
    struct pred_job *j = ctx;
    if (j->rc)
        return;
    uint64_t r0 = task * PRED_CHUNK;
    uint32_t n = (uint32_t)(j->src->n_rows - r0 < PRED_CHUNK ? j->src->n_rows - r0 : PRED_CHUNK);
    struct jc_ws *ws = &j->ws[worker];
    const struct jc_batch *b;
    uint32_t off = 0;
    if (j->mem) {
        b = j->mem;
        off = (uint32_t)r0;
    } else {
        uint64_t *idx = j->idx + (size_t)worker * PRED_CHUNK;
        for (uint32_t i = 0; i < n; i++)
            idx[i] = r0 + i;
        int rc = src_read(j->src, idx, n, &j->bufs[worker]);
        if (rc) {
            j->rc = rc;
            return;
        }
        b = &j->bufs[worker];
    }
    int rc = jc_model__check_ids(j->m, b, off, n, JC_MODE_EVAL);
    if (rc == JC_OK) {
        jc_ws_arena_reset(ws);
        rc = j->m->ops->forward(j->m, ws, b, off, n, JC_MODE_EVAL);
    }
    if (rc) {
        j->rc = rc;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        j->scores[r0 + i] = jc_nn_sigmoid(ws->logit[i]);
        if (j->labels)
            j->labels[r0 + i] = b->label[off + i];
        if (j->users)
            j->users[r0 + i] = b->user[off + i];
    }
}

static int predict_impl(const struct jc_model *m, const struct jc_train_source *src,
                        const struct jc_batch *mem, struct jc_pool *pool, float *scores,
                        float *labels, uint32_t *users)
{
    int nw = jc_pool_size(pool);
    struct pred_job j;
    memset(&j, 0, sizeof j);
    j.m = m;
    j.src = src;
    j.mem = mem;
    j.scores = scores;
    j.labels = labels;
    j.users = users;
    j.ws = jc_calloc((size_t)nw, sizeof *j.ws);
    j.bufs = jc_calloc((size_t)nw, sizeof *j.bufs);
    j.idx = jc_malloc_array((size_t)nw * PRED_CHUNK, sizeof *j.idx);
    int rc = (!j.ws || !j.bufs || !j.idx) ? JC_ENOMEM : JC_OK;
    for (int w = 0; w < nw && rc == JC_OK; w++) {
        rc = jc_ws_init(&j.ws[w], m, PRED_CHUNK, 0);
        if (rc == JC_OK && !mem)
            rc = jc_batch_init(&j.bufs[w], src->layout, PRED_CHUNK);
    }
    if (rc == JC_OK) {
        jc_pool_run(pool, (src->n_rows + PRED_CHUNK - 1) / PRED_CHUNK, pred_task, &j);
        rc = j.rc;
    }
    for (int w = 0; w < nw && j.ws; w++) {
        if (j.ws[w].m)
            jc_ws_free(&j.ws[w]);
        if (j.bufs)
            jc_batch_free(&j.bufs[w]);
    }
    jc_free(j.ws);
    jc_free(j.bufs);
    jc_free(j.idx);
    return rc;
}

int jc_train_predict(const struct jc_model *m, const struct jc_train_source *src, int threads,
                     float *scores, float *labels, uint32_t *users)
{
    if (!layouts_match(&m->layout, src->layout))
        return jc_err_set(JC_EINVAL, "predict: the samples' feature layout differs from the "
                                     "model's");
    struct jc_pool *pool;
    int rc = jc_pool_create(&pool, threads < 1 ? 1 : threads);
    if (rc)
        return rc;
    rc = predict_impl(m, src, NULL, pool, scores, labels, users);
    jc_pool_destroy(pool);
    return rc;
}

static int evaluate_impl(const struct jc_model *m, const struct jc_train_source *src,
                         const struct jc_batch *mem, struct jc_pool *pool,
                         struct jc_ctr_metrics *out)
{
    size_t n = (size_t)src->n_rows;
    float *s = jc_malloc_array(n ? n : 1, sizeof *s), *y = jc_malloc_array(n ? n : 1, sizeof *y);
    uint32_t *u = jc_malloc_array(n ? n : 1, sizeof *u);
    int rc = (!s || !y || !u) ? JC_ENOMEM : predict_impl(m, src, mem, pool, s, y, u);
    if (rc == JC_OK)
        rc = jc_ctr_metrics_compute(s, y, u, n, out);
    jc_free(s);
    jc_free(y);
    jc_free(u);
    return rc;
}

int jc_train_evaluate(const struct jc_model *m, const struct jc_train_source *src, int threads,
                      struct jc_ctr_metrics *out)
{
    if (!layouts_match(&m->layout, src->layout))
        return jc_err_set(JC_EINVAL, "evaluate: the samples' feature layout differs from the "
                                     "model's");
    struct jc_pool *pool;
    int rc = jc_pool_create(&pool, threads < 1 ? 1 : threads);
    if (rc)
        return rc;
    rc = evaluate_impl(m, src, NULL, pool, out);
    jc_pool_destroy(pool);
    return rc;
}

/* ---- training ---------------------------------------------------------- */

struct step_job {
    struct jc_model *m;
    struct jc_ws *ws; /* [shards] */
    struct jc_batch *b;
    uint32_t shards;
    int rc[256];
};

#define APPLY_SLICES 8u

static void apply_task(void *ctx, uint64_t task, int worker)
{
    (void)worker;
    struct step_job *j = ctx;
    jc_model__apply_slice(j->m, &j->ws[0], (uint32_t)(task / APPLY_SLICES),
                          (uint32_t)(task % APPLY_SLICES), APPLY_SLICES);
}

static void step_task(void *ctx, uint64_t task, int worker)
{
    (void)worker;
    struct step_job *j = ctx;
    uint32_t s = (uint32_t)task, n = j->b->n;
    uint32_t r0 = (uint32_t)((uint64_t)n * s / j->shards);
    uint32_t r1 = (uint32_t)((uint64_t)n * (s + 1) / j->shards);
    struct jc_ws *ws = &j->ws[s];
    jc_ws_zero_grad(ws);
    jc_rng_stream(&ws->rng, j->m->cfg.seed ^ 0xd1ce5eedULL, (j->m->step << 8) | s);
    j->rc[s] = jc_model__train_shard(j->m, ws, j->b, r0, r1 - r0, n);
}

#define REDUCE_CHUNK 16384u

static void reduce_task(void *ctx, uint64_t task, int worker)
{
    (void)worker;
    struct step_job *j = ctx;
    size_t a = (size_t)task * REDUCE_CHUNK, e = a + REDUCE_CHUNK;
    if (e > j->m->n_dense)
        e = j->m->n_dense;
    for (uint32_t s = 1; s < j->shards; s++)
        jc_nn_axpy(e - a, 1.0f, j->ws[s].grad + a, j->ws[0].grad + a);
}

struct trainer {
    const struct jc_train_config *c;
    struct jc_model *m;
    struct jc_pool *pool;
    uint32_t shards;
    struct jc_ws *ws;
    struct jc_batch bb; /* the current batch */
    uint64_t *perm, *idx;
    struct jc_batch train_mem, valid_mem;
    int have_train_mem, have_valid_mem;
};

static int do_step(struct trainer *t, double *loss)
{
    struct step_job j;
    memset(&j, 0, sizeof j);
    j.m = t->m;
    j.ws = t->ws;
    j.b = &t->bb;
    j.shards = t->shards;
    jc_pool_run(t->pool, t->shards, step_task, &j);
    double l = 0;
    for (uint32_t s = 0; s < t->shards; s++) {
        if (j.rc[s])
            return j.rc[s];
        l += t->ws[s].loss;
    }
    if (t->shards > 1) {
        jc_pool_run(t->pool, (t->m->n_dense + REDUCE_CHUNK - 1) / REDUCE_CHUNK, reduce_task, &j);
        for (uint32_t s = 1; s < t->shards; s++)
            for (uint32_t k = 0; k < t->m->n_sparse; k++) {
                int rc = jc_sgrad_merge(&t->ws[0].sg[k], &t->ws[s].sg[k]);
                if (rc)
                    return rc;
            }
    }
    if (t->shards > 1) { /* the optimizer step, sliced over the pool */
        t->m->step++;
        jc_pool_run(t->pool, (uint64_t)t->m->n_params * APPLY_SLICES, apply_task, &j);
    } else {
        jc_model__apply(t->m, &t->ws[0]);
    }
    if (t->m->ops->after_step) {
        struct jc_ws *ptrs[256];
        for (uint32_t s = 0; s < t->shards; s++)
            ptrs[s] = &t->ws[s];
        t->m->ops->after_step(t->m, ptrs, t->shards);
    }
    *loss = l;
    return JC_OK;
}

static void trainer_free(struct trainer *t)
{
    if (t->ws) {
        for (uint32_t s = 0; s < t->shards; s++)
            if (t->ws[s].m)
                jc_ws_free(&t->ws[s]);
        jc_free(t->ws);
    }
    jc_batch_free(&t->bb);
    jc_free(t->perm);
    jc_free(t->idx);
    if (t->have_train_mem)
        jc_batch_free(&t->train_mem);
    if (t->have_valid_mem)
        jc_batch_free(&t->valid_mem);
    if (t->pool)
        jc_pool_destroy(t->pool);
}

/* Saves the checkpoint (model with state; info = progress). */
static int save_checkpoint(const struct jc_model *m, const char *path, uint32_t epoch,
                           double best_auc, uint32_t best_epoch, uint32_t bad)
{
    char info[256];
    snprintf(info, sizeof info,
             "{\"checkpoint_epoch\":%u,\"best_auc\":%.17g,\"best_epoch\":%u,\"bad_epochs\":%u}",
             epoch, isnan(best_auc) ? -1.0 : best_auc, best_epoch, bad);
    struct jc_model *tmp = (struct jc_model *)m;
    char *old = tmp->info;
    tmp->info = info;
    int rc = jc_model_save(m, path, 1);
    tmp->info = old;
    return rc;
}

int jc_train_run(struct jc_model **out, const struct jc_train_config *c,
                 const struct jc_train_source *train, const struct jc_train_source *valid,
                 struct jc_train_report *rep)
{
    struct jc_train_report r;
    memset(&r, 0, sizeof r);
    r.best_valid_auc = NAN;
    if (c->epochs == 0 || c->epochs > JC_TRAIN_MAX_EPOCHS)
        return jc_err_set(JC_EINVAL, "train: epochs %u outside [1, %d]", c->epochs,
                          JC_TRAIN_MAX_EPOCHS);
    if (c->batch == 0 || c->batch > (1u << 20))
        return jc_err_set(JC_EINVAL, "train: batch %u outside [1, 1048576]", c->batch);
    if (c->threads < 1 || c->threads > 256)
        return jc_err_set(JC_EINVAL, "train: threads %d outside [1, 256]", c->threads);
    if (train->n_rows == 0)
        return jc_err_set(JC_EINVAL, "train: no training rows");
    if (valid && !layouts_match(train->layout, valid->layout))
        return jc_err_set(JC_EINVAL, "train: validation rows have another feature layout");
    struct trainer t;
    memset(&t, 0, sizeof t);
    t.c = c;
    int rc = JC_OK;
    struct jc_model *best = NULL;
    uint32_t start_epoch = 1, bad = 0;
    char best_path[4096] = "";
    if (c->checkpoint)
        snprintf(best_path, sizeof best_path, "%s.best", c->checkpoint);
    /* model: fresh or resumed */
    if (c->resume && c->checkpoint && jc_path_exists(c->checkpoint)) {
        rc = jc_model_load(&t.m, c->checkpoint);
        if (rc == JC_OK &&
            (!layouts_match(&t.m->layout, train->layout) || t.m->cfg.kind != c->model.kind))
            rc = jc_err_set(JC_EINVAL, "train: checkpoint %s is for another model or layout",
                            c->checkpoint);
        if (rc == JC_OK && t.m->info) {
            unsigned ep = 0, be = 0, bd = 0;
            double ba = -1;
            const char *p = strstr(t.m->info, "\"checkpoint_epoch\":");
            if (p)
                sscanf(p,
                       "\"checkpoint_epoch\":%u,\"best_auc\":%lf,\"best_epoch\":%u,"
                       "\"bad_epochs\":%u",
                       &ep, &ba, &be, &bd);
            start_epoch = ep + 1;
            r.best_valid_auc = ba < 0 ? NAN : ba;
            r.best_epoch = be;
            bad = bd;
            r.resumed = 1;
            if (jc_path_exists(best_path))
                rc = jc_model_load(&best, best_path);
        }
    } else {
        rc = jc_model_create(&t.m, &c->model, train->layout);
    }
    if (rc)
        goto fail;
    t.shards = (uint32_t)c->threads;
    if (c->batch < t.shards)
        t.shards = c->batch;
    if ((rc = jc_pool_create(&t.pool, c->threads)))
        goto fail;
    t.ws = jc_calloc(t.shards, sizeof *t.ws);
    t.perm = jc_malloc_array(train->n_rows, sizeof *t.perm);
    t.idx = jc_malloc_array(c->batch, sizeof *t.idx);
    if (!t.ws || !t.perm || !t.idx) {
        rc = JC_ENOMEM;
        goto fail;
    }
    for (uint32_t s = 0; s < t.shards && rc == JC_OK; s++)
        rc = jc_ws_init(&t.ws[s], t.m, c->batch, 1);
    if (rc == JC_OK)
        rc = jc_batch_init(&t.bb, train->layout, c->batch);
    if (rc == JC_OK && c->preload) {
        if ((rc = jc_train_source_load(train, &t.train_mem)) == JC_OK)
            t.have_train_mem = 1;
        if (rc == JC_OK && valid && (rc = jc_train_source_load(valid, &t.valid_mem)) == JC_OK)
            t.have_valid_mem = 1;
    }
    if (rc)
        goto fail;
    struct jc_train_source mem_src;
    if (t.have_train_mem)
        jc_train_source_batch(&mem_src, train->layout, &t.train_mem);
    const struct jc_train_source *tsrc = t.have_train_mem ? &mem_src : train;

    uint64_t t_all = 0;
    for (uint32_t epoch = start_epoch; epoch <= c->epochs; epoch++) {
        struct jc_rng rng;
        jc_rng_stream(&rng, c->seed, 0x5eed0000ULL + epoch);
        for (uint64_t i = 0; i < train->n_rows; i++)
            t.perm[i] = i;
        for (uint64_t i = train->n_rows - 1; i > 0; i--) {
            uint64_t k = jc_rng_below(&rng, i + 1);
            uint64_t tmp = t.perm[i];
            t.perm[i] = t.perm[k];
            t.perm[k] = tmp;
        }
        uint64_t t0 = jc_now_ns();
        double loss_sum = 0;
        char stage[48], note[64];
        snprintf(stage, sizeof stage, "epoch %u/%u", epoch, c->epochs);
        for (uint64_t b0 = 0; b0 < train->n_rows; b0 += c->batch) {
            uint32_t n = (uint32_t)(train->n_rows - b0 < c->batch ? train->n_rows - b0 : c->batch);
            if ((rc = src_read(tsrc, t.perm + b0, n, &t.bb)))
                goto fail;
            if ((rc = jc_model__check_ids(t.m, &t.bb, 0, n, JC_MODE_TRAIN)))
                goto fail;
            double l;
            if ((rc = do_step(&t, &l)))
                goto fail;
            loss_sum += l; /* l is the batch sum */
            snprintf(note, sizeof note, "loss %.4f", loss_sum / (double)(b0 + n));
            if (jc_progress_report(&c->progress, stage, b0 + n, train->n_rows, "samples", note)) {
                rc = jc_err_set(JC_ECANCELED, "train: canceled");
                goto fail;
            }
        }
        uint64_t dt = jc_now_ns() - t0;
        t_all += dt;
        struct jc_train_epoch *ep =
            &r.epoch[r.epochs_run < JC_TRAIN_REPORT_EPOCHS ? r.epochs_run
                                                           : JC_TRAIN_REPORT_EPOCHS - 1];
        ep->train_loss = loss_sum / (double)train->n_rows;
        ep->seconds = (double)dt * 1e-9;
        ep->samples_per_sec = (double)train->n_rows / (ep->seconds > 0 ? ep->seconds : 1e-9);
        ep->valid_auc = ep->valid_logloss = NAN;
        r.epochs_run++;
        r.epoch_last = epoch;
        r.samples += train->n_rows;
        int improved = 1;
        if (valid) {
            struct jc_ctr_metrics vm;
            if ((rc = evaluate_impl(t.m, valid, t.have_valid_mem ? &t.valid_mem : NULL, t.pool,
                                    &vm)))
                goto fail;
            ep->valid_auc = vm.auc;
            ep->valid_logloss = vm.logloss;
            improved = isnan(r.best_valid_auc) || vm.auc > r.best_valid_auc;
            JC_INFO("train: epoch %u loss %.5f valid auc %.5f logloss %.5f (%.0f samples/s)", epoch,
                    ep->train_loss, vm.auc, vm.logloss, ep->samples_per_sec);
        }
        if (improved) {
            r.best_valid_auc = ep->valid_auc;
            r.best_epoch = epoch;
            bad = 0;
            jc_model_destroy(best);
            best = NULL;
            if ((rc = jc_model_clone(&best, t.m)))
                goto fail;
            if (c->checkpoint && (rc = jc_model_save(best, best_path, 0)))
                goto fail;
        } else {
            bad++;
        }
        if (c->checkpoint &&
            (rc = save_checkpoint(t.m, c->checkpoint, epoch, r.best_valid_auc, r.best_epoch, bad)))
            goto fail;
        if (valid && c->patience && bad >= c->patience && epoch < c->epochs) {
            r.stopped_early = 1;
            break;
        }
    }
    r.seconds = (double)t_all * 1e-9;
    r.samples_per_sec = r.seconds > 0 ? (double)r.samples / r.seconds : 0;
    if (best == NULL) { /* resumed after the last epoch */
        if ((rc = jc_model_clone(&best, t.m)))
            goto fail;
    }
    jc_free(best->info); /* drop the checkpoint bookkeeping */
    best->info = NULL;
    trainer_free(&t);
    jc_model_destroy(t.m);
    if (rep)
        *rep = r;
    *out = best;
    return JC_OK;
fail:
    trainer_free(&t);
    jc_model_destroy(t.m);
    jc_model_destroy(best);
    return rc;
}
