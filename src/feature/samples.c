/*
 * samples.c - the offline point-in-time feature job and the sample files.
 *
 * The job (jc_samples_build):
 *   1. split parameters (time: cut points at quantiles of all timestamps);
 *   2. item pass, parallel over items: each item's events in time order;
 *      before a group of equal timestamps is added to the item state, the
 *      state's features are recorded for every event of the group (so an
 *      event never sees events of its own timestamp), and the final state
 *      is kept for negatives sampled after the item's last event;
 *   3. user pass, parallel over shards (contiguous user ranges balanced by
 *      events): each user's events in time order; for each timestamp group
 *      the user's features are read once, a row is written for every event
 *      of the group (and its sampled negatives), then the group is added;
 *      train rows also feed the fit accumulators (vocabulary counts,
 *      numeric sums, bucket values) of their shard;
 *   4. the accumulators are reduced in shard order (deterministic), the
 *      spec is fitted, the manifest is written, and the new directory
 *      replaces the old one.
 * Rows hold raw values (see feat_int.h); readers finish them.
 */
#include "feature/feat_int.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/pool.h"
#include "core/rng.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/samples.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHARD_MAGIC    "JCSHARD1"
#define SHARD_HDR      64
#define MANIFEST_MAGIC "JCSMANI1"
#define MANIFEST_BIN   "manifest.jcm"
#define MANIFEST_JSON  "manifest.json"
#define WBUF_SIZE      (512u * 1024u)
#define NEG_TRIES      64
#define ALL_SIDES      7u
#define LOG1P_TAB      4096

static const char *const split_names[] = {"train", "valid", "test"};
static const char *const method_names[] = {"time", "loo", "random"};

const char *jc_split_name(enum jc_split s)
{
    return (unsigned)s < JC_SPLIT__COUNT ? split_names[s] : "?";
}

const char *jc_split_method_name(enum jc_split_method m)
{
    return (unsigned)m <= JC_SPLIT_RANDOM ? method_names[m] : "?";
}

int jc_split_parse(const char *name, enum jc_split *out)
{
    for (int i = 0; i < JC_SPLIT__COUNT; i++)
        if (strcmp(name, split_names[i]) == 0) {
            *out = (enum jc_split)i;
            return JC_OK;
        }
    return jc_err_set(JC_EINVAL, "unknown split '%s' (train, valid, test)", name);
}

int jc_split_method_parse(const char *name, enum jc_split_method *out)
{
    for (int i = 0; i <= JC_SPLIT_RANDOM; i++)
        if (strcmp(name, method_names[i]) == 0) {
            *out = (enum jc_split_method)i;
            return JC_OK;
        }
    return jc_err_set(JC_EINVAL, "unknown split method '%s' (time, loo, random)", name);
}

void jc_samples_opts_default(struct jc_samples_opts *o)
{
    memset(o, 0, sizeof *o);
    o->split = JC_SPLIT_TIME;
    o->valid = 0.1;
    o->test = 0.1;
    o->seed = 42;
    o->shard_rows = 4000000;
}

/* ---- shard writer ------------------------------------------------------------ */

struct shard_writer {
    struct jc_wfile w;
    uint8_t *buf;
    size_t len;
    size_t block; /* bytes per checksum block: whole rows */
    uint64_t rows;
    uint64_t checksum;
    int open;
};

/* The body checksum is xxh3-64 chained over blocks of whole rows of at most
 * WBUF_SIZE bytes: h = hash(block_k, seed = h of block_k-1), h = 0 first.
 * One-shot hashing of each flushed block is much cheaper than streaming. */
static size_t check_block(uint32_t row_size)
{
    return (size_t)(WBUF_SIZE / row_size) * row_size;
}

static int writer_open(struct shard_writer *sw, const char *path, uint32_t row_size)
{
    memset(sw, 0, sizeof *sw);
    sw->block = check_block(row_size);
    sw->buf = jc_malloc(WBUF_SIZE);
    if (sw->buf == NULL)
        return JC_ENOMEM;
    int rc = jc_wfile_open(&sw->w, path);
    if (rc) {
        jc_free(sw->buf);
        sw->buf = NULL;
        return rc;
    }
    uint8_t zero[SHARD_HDR] = {0};
    rc = jc_wfile_write(&sw->w, zero, sizeof zero);
    sw->open = 1;
    return rc;
}

static int writer_flush(struct shard_writer *sw)
{
    if (sw->len == 0)
        return JC_OK;
    sw->checksum = jc_hash64(sw->buf, sw->len, sw->checksum);
    int rc = jc_wfile_write(&sw->w, sw->buf, sw->len);
    sw->len = 0;
    return rc;
}

/* Room for one row; NULL only after a write error (sets *rc). */
static inline uint8_t *writer_row(struct shard_writer *sw, uint32_t size, int *rc)
{
    if (sw->len + size > sw->block) {
        int e = writer_flush(sw);
        if (e) {
            *rc = e;
            return NULL;
        }
    }
    uint8_t *p = sw->buf + sw->len;
    sw->len += size;
    sw->rows++;
    return p;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static int writer_commit(struct shard_writer *sw, uint32_t row_size, enum jc_split split,
                         uint32_t shard, uint64_t spec_id)
{
    int rc = writer_flush(sw);
    uint8_t hdr[SHARD_HDR] = {0};
    memcpy(hdr, SHARD_MAGIC, 8);
    put_u32(hdr + 8, JC_SAMPLES_FORMAT_VERSION);
    put_u32(hdr + 12, SHARD_HDR);
    put_u64(hdr + 16, sw->rows);
    put_u32(hdr + 24, row_size);
    put_u32(hdr + 28, (uint32_t)split);
    put_u32(hdr + 32, shard);
    put_u64(hdr + 40, spec_id);
    put_u64(hdr + 48, sw->checksum);
    put_u64(hdr + 56, jc_hash64(hdr, 56, 0));
    if (rc == JC_OK)
        rc = jc_wfile_pwrite(&sw->w, hdr, sizeof hdr, 0);
    if (rc == JC_OK)
        rc = jc_wfile_commit(&sw->w);
    else
        jc_wfile_abort(&sw->w);
    sw->open = 0;
    return rc;
}

static void writer_free(struct shard_writer *sw)
{
    if (sw->open)
        jc_wfile_abort(&sw->w);
    sw->open = 0;
    jc_free(sw->buf);
    sw->buf = NULL;
}

/* ---- the job ------------------------------------------------------------------- */

struct num_acc {
    double sum, sumsq, min, max;
    uint64_t n;
};

struct shard_task {
    uint32_t user_begin, user_end;
    struct shard_writer wr[JC_SPLIT__COUNT];
    struct jc_split_stats st[JC_SPLIT__COUNT];
    uint64_t dropped, negatives, events;
    uint64_t *vcounts[JC_FEAT_MAX_VOCABS]; /* owned; raw-value counts (train) */
    struct num_acc num[JC_FEAT_MAX_FIELDS];
    float *bvals[JC_FEAT_MAX_FIELDS]; /* owned; bucket field train values */
    size_t bn[JC_FEAT_MAX_FIELDS], bcap[JC_FEAT_MAX_FIELDS];
    int rc;
    char err[512];
};

struct build {
    const struct jc_catalog *cat;
    struct jc_featspec *spec;
    const struct jc_samples_opts *o;
    struct jc_interactions ia;
    uint32_t n_users, n_items;
    struct jc_item_feats *snap;  /* per interaction position (NULL if unused) */
    struct jc_item_feats *final; /* per item */
    uint32_t n_shards;
    struct shard_task *tasks;
    char tmpdir[4096];
    int64_t cut_valid, cut_test;
    /* negatives: popularity alias table */
    float *alias_prob;
    uint32_t *alias_idx;
    uint32_t raw_n[JC_FEAT_MAX_VOCABS]; /* count array sizes (0 = not counted) */
    double log1p_tab[LOG1P_TAB];        /* log1p(k) for small integers k */
    atomic_uint_fast64_t done;
    atomic_int cancel;
    uint64_t total;
    int item_rc;
    char item_err[512];
};

static void task_fail(struct shard_task *t, int rc)
{
    if (t->rc == JC_OK) {
        t->rc = rc;
        snprintf(t->err, sizeof t->err, "%s", jc_errmsg());
    }
}

static void report(struct build *b, int worker, const char *stage, uint64_t add)
{
    uint64_t d = atomic_fetch_add(&b->done, add) + add;
    if (worker == 0 && jc_progress_report(&b->o->progress, stage, d, b->total, "events", NULL))
        atomic_store(&b->cancel, 1);
}

/* Item pass: snapshots before each timestamp group, and the final state. */
static void item_task(void *ctx, uint64_t task, int worker)
{
    struct build *b = ctx;
    uint64_t n_tasks = b->n_items < 256 ? b->n_items : 256;
    uint32_t j0 = (uint32_t)(task * b->n_items / n_tasks);
    uint32_t j1 = (uint32_t)((task + 1) * b->n_items / n_tasks);
    const int64_t *time = b->ia.time;
    const float *value = b->ia.value;
    uint64_t seen = 0;
    for (uint32_t j = j0; j < j1 && !atomic_load(&b->cancel); j++) {
        const uint32_t *pos;
        uint64_t m = jc_catalog_item_interactions(b->cat, j, &pos);
        struct jc_item_state st;
        jc_item_state_init(&st);
        uint64_t k = 0;
        while (k < m) {
            int64_t t = time[pos[k]];
            uint64_t g = k;
            while (g < m && time[pos[g]] == t)
                g++;
            if (b->snap) {
                struct jc_item_feats f;
                jc_item_state_features(&st, &f);
                for (uint64_t q = k; q < g; q++)
                    b->snap[pos[q]] = f;
            }
            for (uint64_t q = k; q < g; q++)
                jc_item_state_add(&st, value[pos[q]], t);
            k = g;
        }
        jc_item_state_features(&st, &b->final[j]);
        seen += m;
        if (seen >= 65536) {
            report(b, worker, "item state", seen);
            seen = 0;
        }
    }
    report(b, worker, "item state", seen);
}

/* Item features of item j as of time t (events strictly before t). */
static const struct jc_item_feats *item_feats_at(const struct build *b, uint32_t j, int64_t t)
{
    const uint32_t *pos;
    uint64_t m = jc_catalog_item_interactions(b->cat, j, &pos);
    uint64_t lo = 0, hi = m;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (b->ia.time[pos[mid]] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m ? &b->snap[pos[lo]] : &b->final[j];
}

static enum jc_split split_of(const struct build *b, uint64_t q, uint64_t user_end)
{
    const struct jc_samples_opts *o = b->o;
    switch (o->split) {
    case JC_SPLIT_TIME: {
        int64_t t = b->ia.time[q];
        return t < b->cut_valid ? JC_SPLIT_TRAIN : t < b->cut_test ? JC_SPLIT_VALID : JC_SPLIT_TEST;
    }
    case JC_SPLIT_LOO:
        if (o->test > 0 && q + 1 == user_end)
            return JC_SPLIT_TEST;
        if (o->valid > 0 && q + 1 + (o->test > 0) == user_end)
            return JC_SPLIT_VALID;
        return JC_SPLIT_TRAIN;
    default: {
        uint64_t st = o->seed ^ (q * 0x9E3779B97F4A7C15ull);
        double u = (double)(jc_splitmix64(&st) >> 11) * 0x1.0p-53;
        return u < o->test              ? JC_SPLIT_TEST
               : u < o->test + o->valid ? JC_SPLIT_VALID
                                        : JC_SPLIT_TRAIN;
    }
    }
}

static int push_float(struct shard_task *t, uint32_t f, float v)
{
    if (t->bn[f] == t->bcap[f]) {
        size_t cap = t->bcap[f] ? t->bcap[f] * 2 : 4096;
        float *p = jc_realloc_array(t->bvals[f], cap, sizeof *p);
        if (p == NULL)
            return JC_ENOMEM;
        t->bvals[f] = p;
        t->bcap[f] = cap;
    }
    t->bvals[f][t->bn[f]++] = v;
    return JC_OK;
}

/* Train-row statistics for fitting. */
static int fit_accumulate(const struct build *b, struct shard_task *t, const uint32_t *cat,
                          const float *num)
{
    const struct jc_featspec *s = b->spec;
    const struct jc_feat_layout *L = &s->layout;
    for (uint32_t v = 0; v < L->n_vocabs; v++) {
        if (t->vcounts[v] == NULL)
            continue;
        const struct jc_feat_field *a = &L->fields[s->v[v].anchor];
        for (uint32_t k = 0; k < a->width; k++) {
            uint32_t r = cat[a->offset + k];
            if (r != 0 && r < b->raw_n[v])
                t->vcounts[v][r]++;
        }
    }
    for (uint32_t i = 0; i < L->n_fields; i++) {
        const struct jc_fspec_field *f = &s->f[i];
        const struct jc_feat_field *lf = &L->fields[i];
        if (f->dom == JC_DOM_NUM) {
            double x = num[lf->offset];
            struct num_acc *a = &t->num[i];
            if (a->n == 0 || x < a->min)
                a->min = x;
            if (a->n == 0 || x > a->max)
                a->max = x;
            if (f->norm == JC_NORM_LOG1P || f->norm == JC_NORM_LOG1P_STANDARDIZE) {
                /* counts are small integers: a table of the same libm values */
                if (x >= 0 && x < LOG1P_TAB && x == (double)(int)x)
                    x = b->log1p_tab[(int)x];
                else
                    x = log1p(x > 0 ? x : 0);
            }
            a->sum += x;
            a->sumsq += x * x;
            a->n++;
        } else if (f->dom == JC_DOM_BUCKET) {
            float v;
            memcpy(&v, &cat[lf->offset], 4);
            if (v == v) {
                int rc = push_float(t, i, v);
                if (rc)
                    return rc;
            }
        }
    }
    return JC_OK;
}

static inline int emit_row(const struct build *b, struct shard_task *t, enum jc_split sp,
                           const struct jc_row_src *src, int64_t time, float value, float label)
{
    const struct jc_featspec *s = b->spec;
    int rc = JC_OK;
    uint8_t *row = writer_row(&t->wr[sp], s->raw_size, &rc);
    if (row == NULL)
        return rc;
    struct jc_raw_head h = {time, src->user, src->item, value, label};
    memcpy(row, &h, JC_RAW_HEAD_SIZE);
    uint32_t *cat = (uint32_t *)(void *)(row + JC_RAW_HEAD_SIZE);
    float *num = (float *)(void *)(cat + s->layout.n_cat);
    jc_featspec__raw_fields(s, src, ALL_SIDES, cat, num);
    uint32_t used = JC_RAW_HEAD_SIZE + 4 * (s->layout.n_cat + s->layout.n_num);
    if (used < s->raw_size)
        memset(row + used, 0, s->raw_size - used);
    struct jc_split_stats *st = &t->st[sp];
    if (st->rows == 0 || time < st->time_min)
        st->time_min = time;
    if (st->rows == 0 || time > st->time_max)
        st->time_max = time;
    st->rows++;
    st->positives += label > 0.5f;
    if (sp == JC_SPLIT_TRAIN)
        return fit_accumulate(b, t, cat, num);
    return JC_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int has_item(const uint32_t *set, uint64_t n, uint32_t item)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (set[mid] < item)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && set[lo] == item;
}

static uint32_t sample_item(const struct build *b, struct jc_rng *rng)
{
    uint32_t j = (uint32_t)jc_rng_below(rng, b->n_items);
    if (b->alias_prob && jc_rng_float(rng) >= b->alias_prob[j])
        j = b->alias_idx[j];
    return j;
}

static void user_task(void *ctx, uint64_t task, int worker)
{
    struct build *b = ctx;
    struct shard_task *t = &b->tasks[task];
    const struct jc_featspec *s = b->spec;
    const struct jc_featspec_opts *so = &s->opts;
    int rc = JC_OK;
    for (int sp = 0; sp < JC_SPLIT__COUNT && rc == JC_OK; sp++) {
        char name[64], path[4096];
        snprintf(name, sizeof name, "%s-%03u.jcs", split_names[sp], (unsigned)task);
        rc = jc_path_join(path, sizeof path, b->tmpdir, name);
        if (rc == JC_OK)
            rc = writer_open(&t->wr[sp], path, s->raw_size);
    }
    struct jc_user_state *us = jc_malloc(sizeof *us);
    struct jc_user_feats *uf = jc_malloc(sizeof *uf);
    uint32_t *set = NULL;
    uint64_t set_cap = 0;
    if (us == NULL || uf == NULL)
        rc = rc ? rc : JC_ENOMEM;
    const int implicit = so->implicit;
    const uint32_t n_neg = implicit ? so->negatives : 0;
    uint64_t seen = 0;
    for (uint32_t u = t->user_begin; rc == JC_OK && u < t->user_end; u++) {
        if (atomic_load(&b->cancel)) {
            rc = jc_err_set(JC_ECANCELED, "features: canceled");
            break;
        }
        uint64_t beg, end;
        jc_catalog_user_range(b->cat, u, &beg, &end);
        uint64_t set_n = 0;
        if (n_neg && end > beg) {
            if (end - beg > set_cap) {
                uint32_t *p = jc_realloc_array(set, end - beg, sizeof *p);
                if (p == NULL) {
                    rc = JC_ENOMEM;
                    break;
                }
                set = p;
                set_cap = end - beg;
            }
            for (uint64_t q = beg; q < end; q++)
                set[set_n++] = b->ia.item[q];
            qsort(set, set_n, sizeof *set, cmp_u32);
        }
        struct jc_rng rng;
        jc_rng_stream(&rng, b->o->seed ^ 0x6e65676174697665ull, u);
        jc_user_state_init(us, s);
        uint64_t p = beg;
        while (p < end && rc == JC_OK) {
            int64_t tm = b->ia.time[p];
            uint64_t g = p;
            while (g < end && b->ia.time[g] == tm)
                g++;
            if (us->n_events >= so->min_history) {
                jc_user_state_features(us, s, uf);
                struct jc_feat_context cx;
                jc_feat_context_from_time(&cx, tm);
                struct jc_row_src src = {u, uf, 0, NULL, &cx};
                for (uint64_t q = p; q < g && rc == JC_OK; q++) {
                    enum jc_split sp = split_of(b, q, end);
                    float v = b->ia.value[q];
                    float label = (implicit || v >= so->label_threshold) ? 1.0f : 0.0f;
                    src.item = b->ia.item[q];
                    src.itf = b->snap ? &b->snap[q] : NULL;
                    rc = emit_row(b, t, sp, &src, tm, v, label);
                    for (uint32_t k = 0; k < n_neg && rc == JC_OK; k++) {
                        uint32_t j = JC_ID_NONE;
                        for (int tries = 0; tries < NEG_TRIES; tries++) {
                            uint32_t c = sample_item(b, &rng);
                            if (!has_item(set, set_n, c)) {
                                j = c;
                                break;
                            }
                        }
                        if (j == JC_ID_NONE)
                            break; /* the user has (nearly) every item */
                        src.item = j;
                        src.itf = b->snap ? item_feats_at(b, j, tm) : NULL;
                        rc = emit_row(b, t, sp, &src, tm, 0.0f, 0.0f);
                        t->negatives++;
                    }
                }
            } else {
                t->dropped += g - p;
            }
            for (uint64_t q = p; q < g; q++)
                jc_user_state_add(us, s, b->ia.item[q], b->ia.value[q], tm);
            p = g;
        }
        t->events += end - beg;
        seen += end - beg;
        if (seen >= 65536) {
            report(b, worker, "features", seen);
            seen = 0;
        }
    }
    report(b, worker, "features", seen);
    for (int sp = 0; sp < JC_SPLIT__COUNT && rc == JC_OK; sp++)
        rc = writer_commit(&t->wr[sp], s->raw_size, (enum jc_split)sp, (uint32_t)task, s->id);
    for (int sp = 0; sp < JC_SPLIT__COUNT; sp++)
        writer_free(&t->wr[sp]);
    jc_free(set);
    jc_free(us);
    jc_free(uf);
    if (rc)
        task_fail(t, rc);
}

/* 3-way quickselect: the k-th smallest of a[0..n). */
static int64_t select_kth(int64_t *a, uint64_t n, uint64_t k)
{
    uint64_t lo = 0, hi = n; /* [lo, hi) holds the answer */
    while (hi - lo > 1) {
        int64_t x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
        int64_t piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        uint64_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (a[i] < piv) {
                int64_t tmp = a[lt];
                a[lt++] = a[i];
                a[i++] = tmp;
            } else if (a[i] > piv) {
                int64_t tmp = a[--gt];
                a[gt] = a[i];
                a[i] = tmp;
            } else {
                i++;
            }
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return piv;
    }
    return a[lo];
}

static int time_cuts(struct build *b)
{
    uint64_t n = b->ia.n;
    double fv = b->o->valid, ft = b->o->test;
    uint64_t kv = (uint64_t)floor((double)n * (1.0 - fv - ft));
    uint64_t kt = (uint64_t)floor((double)n * (1.0 - ft));
    int64_t *tmp = jc_malloc_array(n, sizeof *tmp);
    if (tmp == NULL)
        return JC_ENOMEM;
    memcpy(tmp, b->ia.time, n * sizeof *tmp);
    b->cut_test = (ft <= 0 || kt >= n) ? INT64_MAX : select_kth(tmp, n, kt);
    b->cut_valid = (fv <= 0 || kv >= n) ? b->cut_test : select_kth(tmp, n, kv);
    jc_free(tmp);
    return JC_OK;
}

/* Vose's alias method over item popularity (all events). */
static int build_alias(struct build *b)
{
    uint32_t n = b->n_items;
    b->alias_prob = jc_malloc_array(n, sizeof *b->alias_prob);
    b->alias_idx = jc_malloc_array(n, sizeof *b->alias_idx);
    double *w = jc_malloc_array(n, sizeof *w);
    uint32_t *small = jc_malloc_array(n, sizeof *small), *large = jc_malloc_array(n, sizeof *large);
    int rc = JC_OK;
    if (!b->alias_prob || !b->alias_idx || !w || !small || !large) {
        rc = JC_ENOMEM;
        goto out;
    }
    double total = 0;
    for (uint32_t j = 0; j < n; j++) {
        const uint32_t *pos;
        w[j] = (double)jc_catalog_item_interactions(b->cat, j, &pos) + 1.0;
        total += w[j];
    }
    uint32_t ns = 0, nl = 0;
    for (uint32_t j = 0; j < n; j++) {
        w[j] = w[j] * n / total;
        if (w[j] < 1.0)
            small[ns++] = j;
        else
            large[nl++] = j;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[--nl];
        b->alias_prob[s] = (float)w[s];
        b->alias_idx[s] = l;
        w[l] = (w[l] + w[s]) - 1.0;
        if (w[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    while (nl) {
        uint32_t l = large[--nl];
        b->alias_prob[l] = 1.0f;
        b->alias_idx[l] = l;
    }
    while (ns) {
        uint32_t s = small[--ns];
        b->alias_prob[s] = 1.0f;
        b->alias_idx[s] = s;
    }
out:
    jc_free(w);
    jc_free(small);
    jc_free(large);
    return rc;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Reduces the shard accumulators in shard order and fits the spec. */
static int fit_spec(struct build *b)
{
    struct jc_featspec *s = b->spec;
    const struct jc_feat_layout *L = &s->layout;
    int rc = JC_OK;
    for (uint32_t v = 0; v < L->n_vocabs && rc == JC_OK; v++) {
        uint64_t *sum = NULL;
        if (b->raw_n[v]) {
            sum = jc_calloc(b->raw_n[v], sizeof *sum);
            if (sum == NULL)
                return JC_ENOMEM;
            for (uint32_t k = 0; k < b->n_shards; k++)
                for (uint32_t r = 0; r < b->raw_n[v]; r++)
                    sum[r] += b->tasks[k].vcounts[v][r];
        }
        rc = jc_featspec__fit_vocab(s, v, sum);
        jc_free(sum);
    }
    for (uint32_t i = 0; i < L->n_fields && rc == JC_OK; i++) {
        struct jc_fspec_field *f = &s->f[i];
        if (f->dom == JC_DOM_NUM) {
            struct num_acc a = {0, 0, 0, 0, 0};
            for (uint32_t k = 0; k < b->n_shards; k++) {
                const struct num_acc *x = &b->tasks[k].num[i];
                if (x->n == 0)
                    continue;
                if (a.n == 0 || x->min < a.min)
                    a.min = x->min;
                if (a.n == 0 || x->max > a.max)
                    a.max = x->max;
                a.sum += x->sum;
                a.sumsq += x->sumsq;
                a.n += x->n;
            }
            double mean = a.n ? a.sum / (double)a.n : 0;
            double var = a.n ? a.sumsq / (double)a.n - mean * mean : 0;
            double sd = var > 0 ? sqrt(var) : 0;
            f->mean = mean;
            f->std = sd > 1e-12 ? sd : 1.0;
            f->min = a.min;
            f->max = a.max;
        } else if (f->dom == JC_DOM_BUCKET) {
            size_t n = 0;
            for (uint32_t k = 0; k < b->n_shards; k++)
                n += b->tasks[k].bn[i];
            float *all = jc_malloc_array(n ? n : 1, sizeof *all);
            f->bounds = jc_malloc_array(f->buckets, sizeof *f->bounds);
            if (all == NULL || f->bounds == NULL) {
                jc_free(all);
                return JC_ENOMEM;
            }
            size_t off = 0;
            for (uint32_t k = 0; k < b->n_shards; k++) {
                memcpy(all + off, b->tasks[k].bvals[i], b->tasks[k].bn[i] * sizeof *all);
                off += b->tasks[k].bn[i];
            }
            qsort(all, n, sizeof *all, cmp_float);
            f->n_bounds = 0;
            for (uint32_t q = 1; n && q < f->buckets; q++) {
                float c = all[(size_t)((double)q * (double)n / f->buckets)];
                if (f->n_bounds == 0 || c > f->bounds[f->n_bounds - 1])
                    f->bounds[f->n_bounds++] = c;
            }
            jc_free(all);
        }
    }
    if (rc == JC_OK)
        jc_featspec__mark_fitted(s);
    return rc;
}

/* ---- manifest ------------------------------------------------------------------ */

static int write_manifest(struct build *b, const struct jc_samples_report *rep)
{
    const struct jc_featspec *s = b->spec;
    void *blob = NULL;
    size_t blob_n = 0;
    int rc = jc_featspec_save_blob(s, &blob, &blob_n);
    if (rc)
        return rc;
    struct jc_buf m;
    jc_buf_init(&m, (size_t)1 << 31);
    char hdr[32] = {0};
    rc = jc_buf_append(&m, hdr, sizeof hdr);
    rc = rc ? rc : jc_bin_u64(&m, jc_catalog_checksum(b->cat));
    rc = rc ? rc : jc_bin_u64(&m, s->id);
    rc = rc ? rc : jc_bin_u64(&m, (uint64_t)jc_wall_s());
    rc = rc ? rc : jc_bin_u32(&m, (uint32_t)b->o->split);
    rc = rc ? rc : jc_bin_f64(&m, b->o->valid);
    rc = rc ? rc : jc_bin_f64(&m, b->o->test);
    rc = rc ? rc : jc_bin_u64(&m, b->o->seed);
    rc = rc ? rc : jc_bin_u32(&m, s->raw_size);
    rc = rc ? rc : jc_bin_u32(&m, s->layout.n_cat);
    rc = rc ? rc : jc_bin_u32(&m, s->layout.n_num);
    rc = rc ? rc : jc_bin_u64(&m, (uint64_t)rep->cut_valid);
    rc = rc ? rc : jc_bin_u64(&m, (uint64_t)rep->cut_test);
    rc = rc ? rc : jc_bin_u64(&m, rep->events);
    rc = rc ? rc : jc_bin_u64(&m, rep->dropped);
    rc = rc ? rc : jc_bin_u64(&m, rep->negatives);
    for (int sp = 0; sp < JC_SPLIT__COUNT && rc == JC_OK; sp++) {
        const struct jc_split_stats *st = &rep->split[sp];
        rc = jc_bin_u64(&m, st->rows);
        rc = rc ? rc : jc_bin_u64(&m, st->positives);
        rc = rc ? rc : jc_bin_u64(&m, (uint64_t)st->time_min);
        rc = rc ? rc : jc_bin_u64(&m, (uint64_t)st->time_max);
        rc = rc ? rc : jc_bin_u32(&m, b->n_shards);
        for (uint32_t k = 0; k < b->n_shards && rc == JC_OK; k++) {
            char name[64];
            int nl = snprintf(name, sizeof name, "%s-%03u.jcs", split_names[sp], k);
            rc = jc_bin_u64(&m, b->tasks[k].wr[sp].rows);
            rc = rc ? rc : jc_bin_u64(&m, b->tasks[k].wr[sp].checksum);
            rc = rc ? rc : jc_bin_str(&m, name, (size_t)nl);
        }
    }
    rc = rc ? rc : jc_bin_str(&m, blob, blob_n);
    jc_free(blob);
    if (rc == JC_OK) {
        uint64_t body = m.len - 32, sum = jc_hash64(m.data + 32, body, 0);
        uint32_t ver = JC_SAMPLES_FORMAT_VERSION, zero = 0;
        memcpy(m.data, MANIFEST_MAGIC, 8);
        memcpy(m.data + 8, &ver, 4);
        memcpy(m.data + 12, &zero, 4);
        memcpy(m.data + 16, &body, 8);
        memcpy(m.data + 24, &sum, 8);
        char path[4096];
        rc = jc_path_join(path, sizeof path, b->tmpdir, MANIFEST_BIN);
        if (rc == JC_OK)
            rc = jc_file_write_atomic(path, m.data, m.len);
    }
    jc_buf_free(&m);
    if (rc)
        return rc;

    /* the same facts as JSON, for people and peer scripts */
    struct jc_buf jb;
    struct jc_json j;
    jc_buf_init(&jb, 0);
    jc_json_init(&j, &jb, 1);
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "format_version", JC_SAMPLES_FORMAT_VERSION);
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)jc_catalog_checksum(b->cat));
    jc_json_kv_str(&j, "catalog_checksum", hex);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)s->id);
    jc_json_kv_str(&j, "spec_id", hex);
    jc_json_kv_str(&j, "split", method_names[b->o->split]);
    jc_json_kv_double(&j, "valid", b->o->valid);
    jc_json_kv_double(&j, "test", b->o->test);
    jc_json_kv_int(&j, "seed", (int64_t)b->o->seed);
    jc_json_kv_bool(&j, "implicit", s->opts.implicit);
    jc_json_kv_int(&j, "negatives", s->opts.implicit ? s->opts.negatives : 0);
    jc_json_kv_double(&j, "label_threshold", s->opts.label_threshold);
    jc_json_kv_int(&j, "row_size", s->raw_size);
    jc_json_kv_str(
        &j, "checksum",
        "xxh3-64 of each shard's rows, chained over blocks of whole rows of at most 512 KiB");
    jc_json_key(&j, "layout");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "n_cat", s->layout.n_cat);
    jc_json_kv_int(&j, "n_num", s->layout.n_num);
    jc_json_key(&j, "fields");
    jc_json_arr_begin(&j);
    static const char *const kinds[] = {"?", "cat", "multi", "num", "seq"};
    static const char *const sides[] = {"user", "item", "context"};
    for (uint32_t i = 0; i < s->layout.n_fields; i++) {
        const struct jc_feat_field *f = &s->layout.fields[i];
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", f->name);
        jc_json_kv_str(&j, "kind", kinds[f->kind]);
        jc_json_kv_str(&j, "side", sides[f->side]);
        if (f->kind != JC_FEAT_NUM)
            jc_json_kv_str(&j, "vocab", s->layout.vocabs[f->vocab].name);
        jc_json_kv_int(&j, "width", f->width);
        jc_json_kv_int(&j, "offset", f->offset);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_key(&j, "vocabs");
    jc_json_obj_begin(&j);
    for (uint32_t v = 0; v < s->layout.n_vocabs; v++)
        jc_json_kv_int(&j, s->layout.vocabs[v].name, s->layout.vocabs[v].size);
    jc_json_obj_end(&j);
    jc_json_obj_end(&j);
    jc_json_key(&j, "splits");
    jc_json_obj_begin(&j);
    for (int sp = 0; sp < JC_SPLIT__COUNT; sp++) {
        const struct jc_split_stats *st = &rep->split[sp];
        jc_json_key(&j, split_names[sp]);
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "rows", (int64_t)st->rows);
        jc_json_kv_int(&j, "positives", (int64_t)st->positives);
        jc_json_kv_int(&j, "time_min", st->time_min);
        jc_json_kv_int(&j, "time_max", st->time_max);
        jc_json_key(&j, "shards");
        jc_json_arr_begin(&j);
        for (uint32_t k = 0; k < b->n_shards; k++) {
            char name[64];
            snprintf(name, sizeof name, "%s-%03u.jcs", split_names[sp], k);
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "file", name);
            jc_json_kv_int(&j, "rows", (int64_t)b->tasks[k].wr[sp].rows);
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)b->tasks[k].wr[sp].checksum);
            jc_json_kv_str(&j, "xxh3", hex);
            jc_json_obj_end(&j);
        }
        jc_json_arr_end(&j);
        jc_json_obj_end(&j);
    }
    jc_json_obj_end(&j);
    jc_json_obj_end(&j);
    rc = jc_json_finish(&j);
    if (rc == JC_OK) {
        char path[4096];
        rc = jc_path_join(path, sizeof path, b->tmpdir, MANIFEST_JSON);
        if (rc == JC_OK)
            rc = jc_file_write_atomic(path, jb.data, jb.len);
    }
    jc_buf_free(&jb);
    return rc;
}

/* Removes a directory holding only files (our own temporary/old outputs). */
static void remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4096];
        if (jc_path_join(path, sizeof path, dir, e->d_name) == JC_OK && unlink(path) != 0)
            JC_WARN("cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
    if (rmdir(dir) != 0)
        JC_WARN("cannot remove directory %s: %s", dir, strerror(errno));
}

/* Removes <dir>.tmp.<pid> and <dir>.old.<pid> siblings left by jobs that
 * died (their process no longer exists). */
static void remove_stale(const char *dir)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    const char *base = dir;
    if (slash) {
        *slash = '\0';
        base = slash + 1;
        if (parent[0] == '\0')
            snprintf(parent, sizeof parent, "/");
    } else {
        snprintf(parent, sizeof parent, ".");
    }
    size_t bl = strlen(base);
    DIR *d = opendir(parent);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, base, bl) != 0 ||
            (strncmp(n + bl, ".tmp.", 5) != 0 && strncmp(n + bl, ".old.", 5) != 0))
            continue;
        int64_t pid;
        if (jc_parse_i64_str(n + bl + 5, &pid) != JC_OK || pid <= 0 || pid > INT32_MAX)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to judge) */
        char path[4096];
        if (jc_path_join(path, sizeof path, parent, n) == JC_OK) {
            JC_INFO("removing %s, left by a job that died", path);
            remove_flat_dir(path);
        }
    }
    closedir(d);
}

static int swap_dirs(const char *tmp, const char *dir)
{
    char old[4096];
    int n = snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof old)
        return jc_err_set(JC_ELIMIT, "path too long: %s", dir);
    int had = jc_path_exists(dir);
    if (had && rename(dir, old) != 0)
        return jc_err_set(JC_EIO, "cannot move %s aside: %s", dir, strerror(errno));
    if (rename(tmp, dir) != 0) {
        int e = errno;
        if (had && rename(old, dir) != 0)
            JC_ERROR("cannot restore %s from %s: %s", dir, old, strerror(errno));
        return jc_err_set(JC_EIO, "cannot rename %s to %s: %s", tmp, dir, strerror(e));
    }
    if (had)
        remove_flat_dir(old);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        jc_fsync_dir(parent);
    } else {
        jc_fsync_dir(".");
    }
    return JC_OK;
}

static void build_free(struct build *b)
{
    if (b->tasks) {
        for (uint32_t k = 0; k < b->n_shards; k++) {
            struct shard_task *t = &b->tasks[k];
            for (int sp = 0; sp < JC_SPLIT__COUNT; sp++)
                writer_free(&t->wr[sp]);
            for (uint32_t v = 0; v < JC_FEAT_MAX_VOCABS; v++)
                jc_free(t->vcounts[v]);
            for (uint32_t i = 0; i < JC_FEAT_MAX_FIELDS; i++)
                jc_free(t->bvals[i]);
        }
    }
    jc_free(b->tasks);
    jc_free(b->snap);
    jc_free(b->final);
    jc_free(b->alias_prob);
    jc_free(b->alias_idx);
}

int jc_samples_build(const struct jc_catalog *cat, struct jc_featspec *spec,
                     const struct jc_samples_opts *o, struct jc_samples_report *rep)
{
    if (spec->fitted)
        return jc_err_set(JC_ESTATE, "features: the spec is already fitted");
    if (spec->cat != cat)
        return jc_err_set(JC_EINVAL, "features: the spec was created on another catalog");
    if (!(o->valid >= 0 && o->test >= 0 && o->valid + o->test < 1.0))
        return jc_err_set(JC_EINVAL,
                          "features: valid (%g) and test (%g) must be >= 0 and sum to < 1",
                          o->valid, o->test);
    if (o->dir == NULL || o->dir[0] == '\0')
        return jc_err_set(JC_EINVAL, "features: no output directory");
    uint64_t t0 = jc_now_ns();
    struct build *b = jc_calloc(1, sizeof *b);
    if (b == NULL)
        return JC_ENOMEM;
    b->cat = cat;
    b->spec = spec;
    b->o = o;
    jc_catalog_interactions(cat, &b->ia);
    b->n_users = jc_catalog_n_users(cat);
    b->n_items = jc_catalog_n_items(cat);
    for (int k = 0; k < LOG1P_TAB; k++)
        b->log1p_tab[k] = log1p((double)k);
    int rc = JC_OK;
    struct jc_pool *pool = NULL;
    if (b->ia.n == 0) {
        rc = jc_err_set(JC_EINVAL, "features: the catalog has no interactions");
        goto out;
    }
    int n = snprintf(b->tmpdir, sizeof b->tmpdir, "%s.tmp.%ld", o->dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof b->tmpdir) {
        rc = jc_err_set(JC_ELIMIT, "features: path too long: %s", o->dir);
        goto out;
    }
    remove_stale(o->dir);
    if (jc_path_exists(b->tmpdir))
        remove_flat_dir(b->tmpdir);
    if ((rc = jc_mkdir_p(b->tmpdir)))
        goto out;
    if ((rc = jc_pool_create(&pool, o->threads)))
        goto out;
    if (o->split == JC_SPLIT_TIME && (rc = time_cuts(b)))
        goto out;
    if (spec->opts.implicit && spec->opts.negatives && spec->opts.neg_popularity &&
        (rc = build_alias(b)))
        goto out;

    /* item pass */
    b->final = jc_calloc(b->n_items ? b->n_items : 1, sizeof *b->final);
    if (b->final == NULL) {
        rc = JC_ENOMEM;
        goto out;
    }
    if (spec->has_item_state) {
        b->snap = jc_malloc_array(b->ia.n, sizeof *b->snap);
        if (b->snap == NULL) {
            rc = JC_ENOMEM;
            goto out;
        }
        b->total = b->ia.n;
        atomic_store(&b->done, 0);
        uint64_t n_tasks = b->n_items < 256 ? b->n_items : 256;
        jc_pool_run(pool, n_tasks, item_task, b);
        if (atomic_load(&b->cancel)) {
            rc = jc_err_set(JC_ECANCELED, "features: canceled");
            goto out;
        }
    }

    /* shards: contiguous user ranges balanced by events */
    uint64_t target = o->shard_rows ? o->shard_rows : 4000000;
    uint64_t ns = (b->ia.n + target - 1) / target;
    if (ns < 1)
        ns = 1;
    if (ns > b->n_users)
        ns = b->n_users;
    if (ns > 999)
        ns = 999;
    b->n_shards = (uint32_t)ns;
    b->tasks = jc_calloc(ns, sizeof *b->tasks);
    if (b->tasks == NULL) {
        rc = JC_ENOMEM;
        goto out;
    }
    {
        uint32_t k = 0;
        uint64_t acc = 0;
        b->tasks[0].user_begin = 0;
        for (uint32_t u = 0; u < b->n_users; u++) {
            uint64_t beg, end;
            jc_catalog_user_range(cat, u, &beg, &end);
            acc += end - beg;
            if (k + 1 < ns && acc >= (k + 1) * b->ia.n / ns) {
                b->tasks[k].user_end = u + 1;
                k++;
                b->tasks[k].user_begin = u + 1;
            }
        }
        b->tasks[k].user_end = b->n_users;
        for (k = k + 1; k < ns; k++)
            b->tasks[k].user_begin = b->tasks[k].user_end = b->n_users;
    }
    for (uint32_t v = 0; v < spec->layout.n_vocabs; v++) {
        const struct jc_fspec_vocab *vv = &spec->v[v];
        if (vv->hash == 0 &&
            (vv->dom == JC_DOM_USER || vv->dom == JC_DOM_ITEM || vv->dom == JC_DOM_GENRE))
            b->raw_n[v] = jc_featspec__domain_raw_n(spec, vv->dom);
    }
    for (uint32_t k = 0; k < ns; k++)
        for (uint32_t v = 0; v < spec->layout.n_vocabs; v++)
            if (b->raw_n[v]) {
                b->tasks[k].vcounts[v] = jc_calloc(b->raw_n[v], sizeof(uint64_t));
                if (b->tasks[k].vcounts[v] == NULL) {
                    rc = JC_ENOMEM;
                    goto out;
                }
            }

    /* user pass */
    b->total = b->ia.n;
    atomic_store(&b->done, 0);
    jc_pool_run(pool, ns, user_task, b);
    for (uint32_t k = 0; k < ns; k++)
        if (b->tasks[k].rc) {
            rc = jc_err_set(b->tasks[k].rc, "%s", b->tasks[k].err);
            goto out;
        }

    struct jc_samples_report r;
    memset(&r, 0, sizeof r);
    for (uint32_t k = 0; k < ns; k++) {
        const struct shard_task *t = &b->tasks[k];
        r.events += t->events;
        r.dropped += t->dropped;
        r.negatives += t->negatives;
        for (int sp = 0; sp < JC_SPLIT__COUNT; sp++) {
            const struct jc_split_stats *x = &t->st[sp];
            struct jc_split_stats *y = &r.split[sp];
            if (x->rows == 0)
                continue;
            if (y->rows == 0 || x->time_min < y->time_min)
                y->time_min = x->time_min;
            if (y->rows == 0 || x->time_max > y->time_max)
                y->time_max = x->time_max;
            y->rows += x->rows;
            y->positives += x->positives;
        }
    }
    for (int sp = 0; sp < JC_SPLIT__COUNT; sp++)
        r.split[sp].shards = (uint32_t)ns;
    r.cut_valid = o->split == JC_SPLIT_TIME ? b->cut_valid : 0;
    r.cut_test = o->split == JC_SPLIT_TIME ? b->cut_test : 0;
    r.row_size = spec->raw_size;
    r.bytes = (r.split[0].rows + r.split[1].rows + r.split[2].rows) * spec->raw_size;
    if ((rc = fit_spec(b)))
        goto out;
    if ((rc = write_manifest(b, &r)))
        goto out;
    if ((rc = swap_dirs(b->tmpdir, o->dir)))
        goto out;
    r.seconds = (double)(jc_now_ns() - t0) * 1e-9;
    if (rep)
        *rep = r;
out:
    if (rc) {
        int keep = jc_errcode() == rc;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", jc_errmsg());
        remove_flat_dir(b->tmpdir);
        jc_featspec__unfit(spec);
        if (keep)
            jc_err_set(rc, "%s", msg);
    }
    jc_pool_destroy(pool);
    build_free(b);
    jc_free(b);
    return rc;
}

/* ---- reader ------------------------------------------------------------------------ */

struct shard_map {
    struct jc_map map;
    const uint8_t *rows;
    uint64_t n;
};

struct jc_samples {
    char *manifest; /* owned bytes of manifest.jcm */
    size_t manifest_len;
    const uint8_t *blob;
    size_t blob_len;
    struct jc_featspec *spec;
    enum jc_split split;
    enum jc_split_method method;
    uint64_t seed, cat_checksum;
    uint32_t row_size, n_shards;
    struct shard_map *shards;
    uint64_t *start; /* n_shards + 1 prefix sums */
    uint64_t n_rows;
};

void jc_samples_close(struct jc_samples *s)
{
    if (s == NULL)
        return;
    for (uint32_t k = 0; s->shards && k < s->n_shards; k++)
        jc_map_close(&s->shards[k].map);
    jc_free(s->shards);
    jc_free(s->start);
    jc_featspec_destroy(s->spec);
    jc_free(s->manifest);
    jc_free(s);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int open_shard(struct jc_samples *s, struct shard_map *sm, const char *dir, const char *name,
                      uint32_t nlen, uint64_t rows, uint64_t sum, uint32_t k, unsigned flags)
{
    char fname[128], path[4096];
    if (nlen == 0 || nlen >= sizeof fname || memchr(name, '/', nlen))
        return jc_err_set(JC_ECORRUPT, "samples manifest: bad shard file name");
    memcpy(fname, name, nlen);
    fname[nlen] = '\0';
    int rc = jc_path_join(path, sizeof path, dir, fname);
    if (rc)
        return rc;
    rc = jc_map_open(&sm->map, path);
    if (rc == JC_ENOTFOUND)
        return jc_err_set(JC_ECORRUPT, "%s: sample shard is missing", path);
    if (rc)
        return rc;
    const uint8_t *p = sm->map.data;
    size_t n = sm->map.size;
    if (n < SHARD_HDR || memcmp(p, SHARD_MAGIC, 8) != 0)
        return jc_err_set(JC_ECORRUPT, "%s: not a junco sample shard (bad magic or truncated)",
                          path);
    if (get_u64(p + 56) != jc_hash64(p, 56, 0))
        return jc_err_set(JC_ECORRUPT, "%s: header checksum mismatch", path);
    if (get_u32(p + 8) != JC_SAMPLES_FORMAT_VERSION)
        return jc_err_set(JC_EVERSION, "%s: format version %u (expected %d)", path, get_u32(p + 8),
                          JC_SAMPLES_FORMAT_VERSION);
    uint64_t nr = get_u64(p + 16);
    if (get_u32(p + 12) != SHARD_HDR || get_u32(p + 24) != s->row_size ||
        get_u32(p + 28) != (uint32_t)s->split || get_u32(p + 32) != k ||
        get_u64(p + 40) != jc_featspec_id(s->spec) || nr != rows || get_u64(p + 48) != sum)
        return jc_err_set(JC_ECORRUPT, "%s: header does not match the manifest", path);
    if (nr > (n - SHARD_HDR) / s->row_size || SHARD_HDR + nr * s->row_size != n)
        return jc_err_set(JC_ECORRUPT, "%s: truncated or oversized (%zu bytes for %llu rows)", path,
                          n, (unsigned long long)nr);
    if (flags & JC_SAMPLES_VERIFY) {
        uint64_t h = 0;
        size_t block = check_block(s->row_size), body = n - SHARD_HDR;
        for (size_t off = 0; off < body; off += block)
            h = jc_hash64(p + SHARD_HDR + off, body - off < block ? body - off : block, h);
        if (h != sum)
            return jc_err_set(JC_ECORRUPT, "%s: checksum mismatch (the rows are damaged)", path);
    }
    sm->rows = p + SHARD_HDR;
    sm->n = nr;
    return JC_OK;
}

int jc_samples_open(struct jc_samples **out, const char *dir, enum jc_split split, unsigned flags)
{
    if ((unsigned)split >= JC_SPLIT__COUNT)
        return jc_err_set(JC_EINVAL, "samples: bad split %d", (int)split);
    char path[4096];
    int rc = jc_path_join(path, sizeof path, dir, MANIFEST_BIN);
    if (rc)
        return rc;
    struct jc_samples *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    s->split = split;
    rc = jc_file_read_all(path, (size_t)1 << 31, &s->manifest, &s->manifest_len);
    if (rc) {
        jc_free(s);
        if (rc == JC_ENOTFOUND)
            return jc_err_set(JC_ENOTFOUND, "%s: no samples (run `junco features` first)", path);
        return rc;
    }
    const uint8_t *p = (const uint8_t *)s->manifest;
    size_t n = s->manifest_len;
    if (n < 32 || memcmp(p, MANIFEST_MAGIC, 8) != 0) {
        rc = jc_err_set(JC_ECORRUPT, "%s: not a samples manifest (bad magic or truncated)", path);
        goto fail;
    }
    if (get_u32(p + 8) != JC_SAMPLES_FORMAT_VERSION) {
        rc = jc_err_set(JC_EVERSION, "%s: format version %u (expected %d)", path, get_u32(p + 8),
                        JC_SAMPLES_FORMAT_VERSION);
        goto fail;
    }
    if (get_u64(p + 16) != n - 32 || get_u64(p + 24) != jc_hash64(p + 32, n - 32, 0)) {
        rc = jc_err_set(JC_ECORRUPT, "%s: checksum mismatch", path);
        goto fail;
    }
    struct jc_bin_rd r = {p + 32, n - 32, 0, 0};
    s->cat_checksum = jc_rd_u64(&r);
    uint64_t spec_id = jc_rd_u64(&r);
    (void)jc_rd_u64(&r); /* created */
    s->method = (enum jc_split_method)jc_rd_u32(&r);
    (void)jc_rd_f64(&r);
    (void)jc_rd_f64(&r);
    s->seed = jc_rd_u64(&r);
    s->row_size = jc_rd_u32(&r);
    uint32_t n_cat = jc_rd_u32(&r), n_num = jc_rd_u32(&r);
    for (int i = 0; i < 5; i++)
        (void)jc_rd_u64(&r);
    struct {
        uint32_t n;
        size_t off;
    } sec[JC_SPLIT__COUNT];
    for (int sp = 0; sp < JC_SPLIT__COUNT; sp++) {
        for (int i = 0; i < 4; i++)
            (void)jc_rd_u64(&r);
        sec[sp].n = jc_rd_u32(&r);
        sec[sp].off = r.off;
        for (uint32_t k = 0; k < sec[sp].n && !r.bad; k++) {
            uint32_t l;
            (void)jc_rd_u64(&r);
            (void)jc_rd_u64(&r);
            (void)jc_rd_str(&r, &l);
        }
    }
    uint32_t bl;
    s->blob = (const uint8_t *)jc_rd_str(&r, &bl);
    s->blob_len = bl;
    if (r.bad || r.off != r.n || s->row_size < JC_RAW_HEAD_SIZE || s->row_size % 8 ||
        sec[split].n > 999) {
        rc = jc_err_set(JC_ECORRUPT, "%s: damaged manifest", path);
        goto fail;
    }
    rc = jc_featspec_load_blob(&s->spec, s->blob, s->blob_len, NULL);
    if (rc) {
        jc_err_prefix(rc, "%s", path);
        goto fail;
    }
    if (jc_featspec_id(s->spec) != spec_id || s->spec->layout.n_cat != n_cat ||
        s->spec->layout.n_num != n_num || s->spec->raw_size != s->row_size) {
        rc = jc_err_set(JC_ECORRUPT, "%s: the spec does not match the row layout", path);
        goto fail;
    }
    s->n_shards = sec[split].n;
    s->shards = jc_calloc(s->n_shards ? s->n_shards : 1, sizeof *s->shards);
    s->start = jc_calloc(s->n_shards + 1, sizeof *s->start);
    if (s->shards == NULL || s->start == NULL) {
        rc = JC_ENOMEM;
        goto fail;
    }
    struct jc_bin_rd q = {p + 32, n - 32, sec[split].off, 0};
    for (uint32_t k = 0; k < s->n_shards; k++) {
        uint64_t rows = jc_rd_u64(&q), sum = jc_rd_u64(&q);
        uint32_t nl;
        const char *name = jc_rd_str(&q, &nl);
        rc = open_shard(s, &s->shards[k], dir, name, nl, rows, sum, k, flags);
        if (rc)
            goto fail;
        s->start[k + 1] = s->start[k] + rows;
    }
    s->n_rows = s->start[s->n_shards];
    *out = s;
    return JC_OK;
fail:
    jc_samples_close(s);
    return rc;
}

const struct jc_feat_layout *jc_samples_layout(const struct jc_samples *s)
{
    return &s->spec->layout;
}

const struct jc_featspec *jc_samples_spec(const struct jc_samples *s)
{
    return s->spec;
}

void jc_samples_spec_blob(const struct jc_samples *s, const void **blob, size_t *n)
{
    *blob = s->blob;
    *n = s->blob_len;
}

uint64_t jc_samples_rows(const struct jc_samples *s)
{
    return s->n_rows;
}

enum jc_split_method jc_samples_method(const struct jc_samples *s)
{
    return s->method;
}

uint64_t jc_samples_seed(const struct jc_samples *s)
{
    return s->seed;
}

uint64_t jc_samples_catalog_checksum(const struct jc_samples *s)
{
    return s->cat_checksum;
}

/* Pointer to raw row i (i < n_rows). */
const uint8_t *jc_samples__row(const struct jc_samples *s, uint64_t i)
{
    uint32_t lo = 0, hi = s->n_shards;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (s->start[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    while (lo + 1 < s->n_shards && s->start[lo + 1] <= i)
        lo++;
    return s->shards[lo].rows + (i - s->start[lo]) * s->row_size;
}

static void finish_row(const struct jc_samples *s, const uint8_t *row, struct jc_batch *out,
                       uint32_t i)
{
    const struct jc_feat_layout *L = &s->spec->layout;
    struct jc_raw_head h;
    memcpy(&h, row, JC_RAW_HEAD_SIZE);
    out->label[i] = h.label;
    out->value[i] = h.value;
    out->user[i] = h.user;
    out->item[i] = h.item;
    out->time[i] = h.time;
    const uint32_t *cat = (const uint32_t *)(const void *)(row + JC_RAW_HEAD_SIZE);
    const float *num = (const float *)(const void *)(cat + L->n_cat);
    jc_featspec__finish_fields(s->spec, ALL_SIDES, cat, num, out->cat + (size_t)i * L->n_cat,
                               out->num + (size_t)i * L->n_num);
}

int jc_samples_read(const struct jc_samples *s, uint64_t begin, uint64_t end, struct jc_batch *out)
{
    if (begin > end || end > s->n_rows)
        return jc_err_set(JC_ERANGE, "samples: rows [%llu, %llu) outside [0, %llu)",
                          (unsigned long long)begin, (unsigned long long)end,
                          (unsigned long long)s->n_rows);
    if (end - begin > out->cap)
        return jc_err_set(JC_ELIMIT, "samples: %llu rows, batch holds %u",
                          (unsigned long long)(end - begin), out->cap);
    uint32_t k = 0;
    while (k + 1 < s->n_shards && s->start[k + 1] <= begin)
        k++;
    for (uint64_t i = begin; i < end; i++) {
        while (k + 1 < s->n_shards && s->start[k + 1] <= i)
            k++;
        const uint8_t *row = s->shards[k].rows + (i - s->start[k]) * s->row_size;
        finish_row(s, row, out, (uint32_t)(i - begin));
    }
    out->n = (uint32_t)(end - begin);
    return JC_OK;
}

int jc_samples_read_index(const struct jc_samples *s, const uint64_t *idx, uint32_t n,
                          struct jc_batch *out)
{
    if (n > out->cap)
        return jc_err_set(JC_ELIMIT, "samples: %u rows, batch holds %u", n, out->cap);
    for (uint32_t i = 0; i < n; i++)
        if (idx[i] >= s->n_rows)
            return jc_err_set(JC_ERANGE, "samples: row %llu outside [0, %llu)",
                              (unsigned long long)idx[i], (unsigned long long)s->n_rows);
    for (uint32_t i = 0; i < n; i++)
        finish_row(s, jc_samples__row(s, idx[i]), out, i);
    out->n = n;
    return JC_OK;
}
