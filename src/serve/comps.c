/*
 * comps.c - loading, sharing and releasing the model-side components of
 * served snapshots (see comps.h): registry models with their feature spec
 * and scorer pool, embeddings with their ANN index, the feature store with
 * its trending cache, and the catalog trending fallback.
 *
 * Reuse is decided by file identity: a component of the previous snapshot
 * is taken over (one more reference) when its file has the same path, size
 * and mtime (and, for models, the same registry version) and it was built
 * over the same catalog component. Discovery lists directories in sorted
 * order so that defaults ("the first model") are deterministic.
 */
#include "serve/comps.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include "serve/state.h"
#include <junco/error.h>
#include <junco/nearline.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- files --------------------------------------------------------------- */

static int file_id(const char *path, int64_t *mtime_ns, int64_t *size)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    *mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    *size = (int64_t)sb.st_size;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names of the entries of dir (sorted, at most cap, hidden ones skipped)
 * into names[] (each jc_strdup'ed); returns the count. */
static size_t list_dir(const char *dir, char **names, size_t cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        if (e->d_name[0] == '.')
            continue;
        names[n] = jc_strdup(e->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    return n;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jc_free(names[i]);
}

/* 1 if name is in the comma list (empty list: everything). */
static int in_list(const char *list, const char *name)
{
    if (list == NULL || list[0] == '\0')
        return 1;
    size_t nl = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *t = p;
        size_t tn = n;
        jc_trim(&t, &tn);
        if (tn == nl && memcmp(t, name, nl) == 0)
            return 1;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

/* ---- models ---------------------------------------------------------------- */

static void worker_free(struct jc_model_worker *w)
{
    if (w == NULL)
        return;
    jc_model_scorer_destroy(w->scorer);
    if (w->cap)
        jc_batch_free(&w->batch);
    jc_free(w->scores);
    jc_free(w->items);
    jc_free(w->ist);
    jc_free(w->ist_rt);
    jc_free(w->vals);
    jc_buf_free(&w->arena);
    jc_free(w);
}

static void model_comp_destroy(struct jc_rc *rc)
{
    struct jc_model_comp *m = (struct jc_model_comp *)rc;
    while (m->free_list) {
        struct jc_model_worker *w = m->free_list;
        m->free_list = w->next;
        worker_free(w);
    }
    pthread_mutex_destroy(&m->mu);
    jc_featspec_destroy(m->spec);
    jc_model_destroy(m->model);
    jc_rc_release(&m->catalog->rc);
    jc_free(m);
}

/* A workspace for at least n rows (n rounded up to a multiple of 256). */
static struct jc_model_worker *worker_new(struct jc_model_comp *m, uint32_t n)
{
    uint32_t cap = (n + 255) / 256 * 256;
    if (cap == 0)
        cap = 256;
    struct jc_model_worker *w = jc_calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    jc_buf_init(&w->arena, (size_t)64 << 20);
    if (jc_model_scorer_create(&w->scorer, m->model, cap) != JC_OK ||
        jc_batch_init(&w->batch, jc_featspec_layout(m->spec), cap) != JC_OK) {
        worker_free(w);
        return NULL;
    }
    w->cap = cap;
    w->scores = jc_malloc_array(cap, sizeof *w->scores);
    w->items = jc_malloc_array(cap, sizeof *w->items);
    w->ist = jc_malloc_array(cap, sizeof *w->ist);
    w->ist_rt = jc_malloc_array(cap, sizeof *w->ist_rt);
    w->vals = jc_malloc_array(cap, sizeof *w->vals);
    if (!w->scores || !w->items || !w->ist || !w->ist_rt || !w->vals) {
        worker_free(w);
        return NULL;
    }
    return w;
}

struct jc_model_worker *jc_model_comp_get(struct jc_model_comp *m, uint32_t n)
{
    pthread_mutex_lock(&m->mu);
    struct jc_model_worker *w = m->free_list;
    if (w)
        m->free_list = w->next;
    pthread_mutex_unlock(&m->mu);
    if (w && w->cap >= n)
        return w;
    worker_free(w);
    w = worker_new(m, n);
    if (w == NULL)
        jc_err_set(JC_ENOMEM, "model '%s': no memory for a scoring workspace of %u rows", m->name,
                   n);
    return w;
}

void jc_model_comp_put(struct jc_model_comp *m, struct jc_model_worker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    w->next = m->free_list;
    m->free_list = w;
    pthread_mutex_unlock(&m->mu);
}

/* Loads the live model of registry dir `name`. JC_OK with *out = NULL when
 * nothing is published; other errors when the files are bad. */
static int model_comp_load(struct jc_model_comp **out, const char *home, const char *name,
                           struct jc_catalog_comp *cat, const struct jc_serve_state *prev,
                           int *reused)
{
    char dir[PATH_MAX], path[PATH_MAX], rel[PATH_MAX];
    uint32_t version = 0;
    *out = NULL;
    *reused = 0;
    snprintf(rel, sizeof rel, "models/%s", name);
    int rc = jc_path_join(dir, sizeof dir, home, rel);
    if (rc)
        return rc;
    char live[PATH_MAX];
    if (jc_path_join(live, sizeof live, dir, "LIVE") || !jc_path_exists(live))
        return JC_OK;
    if ((rc = jc_model_registry_live(dir, path, sizeof path, &version)))
        return rc == JC_ENOTFOUND ? JC_OK : rc;
    int64_t mt, sz;
    if (file_id(path, &mt, &sz))
        return jc_err_set(JC_ENOTFOUND, "%s: the live model file is missing", path);
    for (int i = 0; prev && i < prev->n_models; i++) {
        struct jc_model_comp *p = prev->models[i];
        if (strcmp(p->name, name) == 0 && strcmp(p->path, path) == 0 && p->version == version &&
            p->mtime_ns == mt && p->size == sz && p->catalog == cat) {
            jc_rc_retain(&p->rc);
            *out = p;
            *reused = 1;
            return JC_OK;
        }
    }
    struct jc_model_comp *m = jc_calloc(1, sizeof *m);
    if (m == NULL)
        return JC_ENOMEM;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->path, sizeof m->path, "%s", path);
    m->version = version;
    m->mtime_ns = mt;
    m->size = sz;
    if ((rc = jc_model_load(&m->model, path))) {
        jc_free(m);
        return rc;
    }
    size_t blen = 0;
    const void *blob = jc_model_spec(m->model, &blen);
    if (blob == NULL || blen == 0)
        rc = jc_err_set(JC_EINVAL,
                        "%s: the model has no feature spec (trained on synthetic "
                        "rows?); it cannot score catalog items",
                        path);
    else
        rc = jc_featspec_load_blob(&m->spec, blob, blen, cat->cat);
    if (rc) {
        jc_model_destroy(m->model);
        jc_free(m);
        return rc;
    }
    pthread_mutex_init(&m->mu, NULL);
    jc_rc_retain(&cat->rc);
    m->catalog = cat;
    jc_rc_init(&m->rc, model_comp_destroy);
    *out = m;
    return JC_OK;
}

/* ---- embeddings ------------------------------------------------------------ */

static void emb_comp_destroy(struct jc_rc *rc)
{
    struct jc_emb_comp *e = (struct jc_emb_comp *)rc;
    jc_ann_destroy(e->ann);
    jc_emb_destroy(e->emb);
    jc_rc_release(&e->catalog->rc);
    jc_free(e);
}

/* The index of embedding `name`: hnsw, then flat, not older than the
 * embedding file; path "" when none. */
static void find_index(const char *home, const char *name, int64_t emb_mtime, char *path,
                       size_t cap, int64_t *mt, int64_t *sz, const char **type)
{
    static const char *const types[] = {"hnsw", "flat"};
    for (int i = 0; i < 2; i++) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof rel, "indexes/%s.%s.jann", name, types[i]);
        if (jc_path_join(path, cap, home, rel) == JC_OK && file_id(path, mt, sz) == 0 &&
            *mt >= emb_mtime) {
            *type = types[i];
            return;
        }
    }
    path[0] = '\0';
    *mt = *sz = 0;
    *type = "exact";
}

static int emb_comp_load(struct jc_emb_comp **out, const char *home, const char *name,
                         struct jc_catalog_comp *cat, const struct jc_serve_state *prev,
                         int *reused)
{
    char rel[PATH_MAX], path[PATH_MAX], ipath[PATH_MAX];
    *out = NULL;
    *reused = 0;
    snprintf(rel, sizeof rel, "embeddings/%s.jemb", name);
    int rc = jc_path_join(path, sizeof path, home, rel);
    if (rc)
        return rc;
    int64_t mt, sz, imt, isz;
    if (file_id(path, &mt, &sz))
        return JC_OK;
    const char *itype;
    find_index(home, name, mt, ipath, sizeof ipath, &imt, &isz, &itype);
    for (int i = 0; prev && i < prev->n_embs; i++) {
        struct jc_emb_comp *p = prev->embs[i];
        if (strcmp(p->name, name) == 0 && p->mtime_ns == mt && p->size == sz &&
            strcmp(p->index_path, ipath) == 0 && p->index_mtime_ns == imt && p->index_size == isz &&
            p->catalog == cat) {
            jc_rc_retain(&p->rc);
            *out = p;
            *reused = 1;
            return JC_OK;
        }
    }
    struct jc_emb_comp *e = jc_calloc(1, sizeof *e);
    if (e == NULL)
        return JC_ENOMEM;
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->path, sizeof e->path, "%s", path);
    e->mtime_ns = mt;
    e->size = sz;
    if ((rc = jc_emb_load(&e->emb, path)) == JC_OK)
        rc = jc_emb_check_catalog(e->emb, cat->cat);
    if (rc) {
        jc_emb_destroy(e->emb);
        jc_free(e);
        return rc;
    }
    enum jc_embed_method meth = jc_emb_method(e->emb);
    e->is_mf = (meth == JC_EMBED_IALS || meth == JC_EMBED_BPR) && jc_emb_n_users(e->emb) > 0;
    e->index_type = "exact";
    if (ipath[0]) {
        struct jc_ann_load_opts lo;
        jc_ann_load_opts_default(&lo);
        struct jc_ann *ix = NULL;
        int irc = jc_ann_load(&ix, ipath, &lo);
        if (irc == JC_OK) {
            struct jc_ann_info in;
            jc_ann_info(ix, &in);
            /* The index must answer the metric the channel ranks by. */
            enum jc_ann_metric want = e->is_mf ? JC_ANN_IP : JC_ANN_COSINE;
            if (in.dim != jc_emb_dim(e->emb) || in.metric != want) {
                JC_WARN("serve: %s: metric %s / dim %u does not fit embedding '%s'; exact search",
                        ipath, jc_ann_metric_name(in.metric), in.dim, name);
                jc_ann_destroy(ix);
                ix = NULL;
            }
        } else {
            JC_WARN("serve: index %s not loaded: %s; exact search", ipath, jc_errmsg());
            ix = NULL;
        }
        if (ix) {
            e->ann = ix;
            e->index_type = itype;
        }
    }
    snprintf(e->index_path, sizeof e->index_path, "%s", ipath);
    e->index_mtime_ns = imt;
    e->index_size = isz;
    jc_rc_retain(&cat->rc);
    e->catalog = cat;
    jc_rc_init(&e->rc, emb_comp_destroy);
    *out = e;
    return JC_OK;
}

/* ---- the feature store and trending ----------------------------------------- */

static void store_comp_destroy(struct jc_rc *rc)
{
    struct jc_store_comp *s = (struct jc_store_comp *)rc;
    jc_store_close(s->store);
    pthread_mutex_destroy(&s->mu);
    jc_free(s);
}

int jc_store_comp_open(struct jc_store_comp **out, const char *home, const struct jc_config *cfg,
                       int read_only)
{
    struct jc_store_config sc;
    char path[4096];
    *out = NULL;
    int rc;
    if (cfg)
        rc = jc_store_config_from(&sc, cfg, home, path, sizeof path);
    else {
        jc_store_config_default(&sc);
        rc = jc_path_join(path, sizeof path, home, "store");
        sc.path = path;
    }
    if (rc)
        return rc;
    if (sc.backend == JC_STORE_LMDB) {
        char data[4200];
        snprintf(data, sizeof data, "%s/data.mdb", sc.path);
        if (!jc_path_exists(data) && read_only)
            return JC_OK;
    }
    sc.read_only = read_only && sc.backend == JC_STORE_LMDB;
    struct jc_store_comp *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    if ((rc = jc_store_open(&s->store, &sc))) {
        jc_free(s);
        return rc;
    }
    s->trend_half_life_s = cfg ? cfg->nearline_trend_half_life : 86400.0;
    s->trend_ttl_ms = 1000;
    s->trend_built_ms = 0; /* with trend_cat NULL: nothing cached */
    pthread_mutex_init(&s->mu, NULL);
    jc_rc_init(&s->rc, store_comp_destroy);
    *out = s;
    return JC_OK;
}

struct trend_scan {
    const struct jc_catalog *cat;
    int64_t now_ms;
    double half_life;
    uint32_t n;
    uint32_t item[JC_TREND_MAX];
    float score[JC_TREND_MAX];
};

/* Keeps the JC_TREND_MAX best (score desc, id asc) in a sorted array. */
static void trend_insert(uint32_t *items, float *scores, uint32_t *n, uint32_t item, float s)
{
    uint32_t pos = *n;
    while (pos > 0 && (scores[pos - 1] < s || (scores[pos - 1] == s && items[pos - 1] > item)))
        pos--;
    if (pos >= JC_TREND_MAX)
        return;
    uint32_t last = *n < JC_TREND_MAX ? *n : JC_TREND_MAX - 1;
    memmove(&items[pos + 1], &items[pos], sizeof *items * (last - pos));
    memmove(&scores[pos + 1], &scores[pos], sizeof *scores * (last - pos));
    items[pos] = item;
    scores[pos] = s;
    if (*n < JC_TREND_MAX)
        (*n)++;
}

static int trend_cb(void *ctx, const char *key, size_t klen, const void *val, size_t vlen)
{
    struct trend_scan *t = ctx;
    struct jc_item_pop p;
    uint32_t item;
    if (klen <= 4 || jc_item_pop_decode(&p, val, vlen) != JC_OK ||
        !jc_catalog_find_item(t->cat, key + 4, klen - 4, &item))
        return 0;
    double s = jc_item_pop_score_at(&p, t->now_ms, t->half_life);
    if (s > 0)
        trend_insert(t->item, t->score, &t->n, item, (float)s);
    return 0;
}

uint32_t jc_store_comp_trending(struct jc_store_comp *s, const struct jc_catalog *cat,
                                int64_t now_ms, uint32_t *items, float *scores, uint32_t cap)
{
    pthread_mutex_lock(&s->mu);
    if (s->trend_cat != cat || now_ms < s->trend_built_ms ||
        now_ms - s->trend_built_ms >= s->trend_ttl_ms) {
        struct trend_scan *t = jc_calloc(1, sizeof *t);
        if (t) {
            t->cat = cat;
            t->now_ms = now_ms;
            t->half_life = s->trend_half_life_s;
            if (jc_store_scan(s->store, "pop:", 4, trend_cb, t) == JC_OK) {
                s->n_trend = t->n;
                memcpy(s->trend_item, t->item, sizeof t->item[0] * t->n);
                for (uint32_t i = 0; i < t->n; i++)
                    s->trend_score[i] = t->score[i] / t->score[0];
                s->trend_cat = cat;
                s->trend_built_ms = now_ms;
            }
            jc_free(t);
        }
    }
    uint32_t n = s->trend_cat == cat ? (s->n_trend < cap ? s->n_trend : cap) : 0;
    memcpy(items, s->trend_item, sizeof *items * n);
    memcpy(scores, s->trend_score, sizeof *scores * n);
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void trend_comp_destroy(struct jc_rc *rc)
{
    struct jc_trend_comp *t = (struct jc_trend_comp *)rc;
    jc_rc_release(&t->catalog->rc);
    jc_free(t);
}

/* Interactions per item in the last 30 days of the catalog. */
static int trend_comp_build(struct jc_trend_comp **out, struct jc_catalog_comp *cc)
{
    const struct jc_catalog *cat = cc->cat;
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    uint64_t n = jc_catalog_n_interactions(cat);
    uint32_t ni = jc_catalog_n_items(cat);
    struct jc_trend_comp *t = jc_calloc(1, sizeof *t);
    float *cnt = jc_calloc(ni ? ni : 1, sizeof *cnt);
    if (t == NULL || cnt == NULL) {
        jc_free(t);
        jc_free(cnt);
        return JC_ENOMEM;
    }
    int64_t tmax = INT64_MIN;
    for (uint64_t k = 0; k < n; k++)
        if (in.time[k] > tmax)
            tmax = in.time[k];
    int64_t from = tmax - 30 * 86400;
    for (uint64_t k = 0; k < n; k++)
        if (in.time[k] >= from && in.item[k] < ni)
            cnt[in.item[k]] += 1.0f;
    for (uint32_t i = 0; i < ni; i++)
        if (cnt[i] > 0)
            trend_insert(t->item, t->score, &t->n, i, cnt[i]);
    for (uint32_t i = 0; i < t->n; i++)
        t->score[i] /= cnt[t->item[0]];
    jc_free(cnt);
    jc_rc_retain(&cc->rc);
    t->catalog = cc;
    jc_rc_init(&t->rc, trend_comp_destroy);
    *out = t;
    return JC_OK;
}

/* ---- the snapshot's components ------------------------------------------------ */

void jc_serve_comps_release(struct jc_serve_state *st)
{
    for (int i = 0; i < st->n_models; i++)
        jc_rc_release(&st->models[i]->rc);
    for (int i = 0; i < st->n_embs; i++)
        jc_rc_release(&st->embs[i]->rc);
    st->n_models = st->n_embs = 0;
    if (st->trend)
        jc_rc_release(&st->trend->rc);
    if (st->store)
        jc_rc_release(&st->store->rc);
    st->trend = NULL;
    st->store = NULL;
}

int jc_serve_comps_load(struct jc_serve_state *st, const struct jc_comps_opts *o, int *changed)
{
    struct jc_catalog_comp *cc = st->data->catalog;
    const struct jc_serve_state *prev = o->prev;
    const struct jc_config *cfg = o->cfg;
    const char *home = o->home ? o->home : ".";
    int ch = 0;
    st->model_default = st->emb_default = st->emb_mf = -1;
    st->threshold = cfg ? cfg->embed_threshold : 3.5;
    st->half_life_s = cfg ? cfg->embed_user_half_life * 86400.0 : 0.0;
    if (o->store) {
        jc_rc_retain(&o->store->rc);
        st->store = o->store;
        st->resources |= JC_RES_STORE;
    }
    if (prev && prev->store != st->store)
        ch = 1;
    /* trending fallback: per catalog */
    if (prev && prev->trend && prev->trend->catalog == cc) {
        jc_rc_retain(&prev->trend->rc);
        st->trend = prev->trend;
    } else {
        int rc = trend_comp_build(&st->trend, cc);
        if (rc)
            return rc;
        ch = 1;
    }
    char *names[64];
    char dir[PATH_MAX];
    /* models */
    size_t nn = 0;
    if (jc_path_join(dir, sizeof dir, home, "models") == JC_OK)
        nn = list_dir(dir, names, 64);
    for (size_t i = 0; i < nn && st->n_models < JC_SERVE_MAX_MODELS; i++) {
        if (!in_list(cfg ? cfg->serve_models : "", names[i]))
            continue;
        struct jc_model_comp *m;
        int reused;
        int rc = model_comp_load(&m, home, names[i], cc, prev, &reused);
        if (rc == JC_ENOMEM) {
            free_names(names, nn);
            return rc;
        }
        if (rc) {
            JC_WARN("serve: model '%s' not loaded: %s", names[i], jc_errmsg());
            st->load_errors++;
            continue;
        }
        if (m == NULL)
            continue;
        if (!reused)
            ch = 1;
        st->models[st->n_models++] = m;
    }
    free_names(names, nn);
    /* embeddings */
    nn = 0;
    if (jc_path_join(dir, sizeof dir, home, "embeddings") == JC_OK)
        nn = list_dir(dir, names, 64);
    for (size_t i = 0; i < nn && st->n_embs < JC_SERVE_MAX_EMBS; i++) {
        size_t l = strlen(names[i]);
        if (l <= 5 || strcmp(names[i] + l - 5, ".jemb") != 0)
            continue;
        names[i][l - 5] = '\0';
        if (!jc_embed_name_valid(names[i]))
            continue;
        struct jc_emb_comp *e;
        int reused;
        int rc = emb_comp_load(&e, home, names[i], cc, prev, &reused);
        if (rc == JC_ENOMEM) {
            free_names(names, nn);
            return rc;
        }
        if (rc) {
            JC_WARN("serve: embedding '%s' not loaded: %s", names[i], jc_errmsg());
            st->load_errors++;
            continue;
        }
        if (e == NULL)
            continue;
        if (!reused)
            ch = 1;
        st->embs[st->n_embs++] = e;
    }
    free_names(names, nn);
    if (prev && (prev->n_models != st->n_models || prev->n_embs != st->n_embs))
        ch = 1;
    /* defaults */
    const char *want_model = cfg && cfg->serve_model[0] ? cfg->serve_model
                             : cfg                      ? cfg->train_model
                                                        : "deepfm";
    for (int i = 0; i < st->n_models; i++)
        if (strcmp(st->models[i]->name, want_model) == 0)
            st->model_default = i;
    if (st->model_default < 0 && st->n_models > 0)
        st->model_default = 0;
    const char *want_emb = cfg && cfg->serve_embedding[0] ? cfg->serve_embedding
                           : cfg                          ? cfg->embed_name
                                                          : "item2vec";
    for (int i = 0; i < st->n_embs; i++)
        if (strcmp(st->embs[i]->name, want_emb) == 0 && !st->embs[i]->is_mf)
            st->emb_default = i;
    for (int i = 0; i < st->n_embs; i++) {
        if (st->emb_default < 0 && !st->embs[i]->is_mf)
            st->emb_default = i;
        if (st->emb_mf < 0 && st->embs[i]->is_mf)
            st->emb_mf = i;
    }
    if (st->emb_default >= 0)
        st->resources |= JC_RES_EMB;
    if (st->emb_mf >= 0)
        st->resources |= JC_RES_MF;
    if (st->model_default >= 0)
        st->resources |= JC_RES_MODEL;
    if (changed)
        *changed = ch || prev == NULL;
    return JC_OK;
}

struct jc_model_comp *jc_serve_find_model(const struct jc_serve_state *st, const char *name)
{
    if (st->n_models == 0)
        return NULL;
    if (name == NULL || name[0] == '\0' || strcmp(name, "model") == 0 ||
        strcmp(name, "default") == 0)
        return st->model_default >= 0 ? st->models[st->model_default] : NULL;
    for (int i = 0; i < st->n_models; i++)
        if (strcmp(st->models[i]->name, name) == 0)
            return st->models[i];
    enum jc_model_kind kind;
    if (strcmp(name, "nerualcf") == 0)
        kind = JC_MODEL_NEUMF;
    else if (jc_model_kind_parse(name, &kind) != 0)
        return NULL;
    if (st->model_default >= 0 &&
        jc_model_config(st->models[st->model_default]->model)->kind == kind)
        return st->models[st->model_default];
    for (int i = 0; i < st->n_models; i++)
        if (jc_model_config(st->models[i]->model)->kind == kind)
            return st->models[i];
    return NULL;
}

struct jc_emb_comp *jc_serve_find_emb(const struct jc_serve_state *st, const char *name)
{
    if (name == NULL || name[0] == '\0' || strcmp(name, "emb") == 0)
        return st->emb_default >= 0 ? st->embs[st->emb_default] : NULL;
    if (strcmp(name, "mf") == 0)
        return st->emb_mf >= 0 ? st->embs[st->emb_mf] : NULL;
    for (int i = 0; i < st->n_embs; i++)
        if (strcmp(st->embs[i]->name, name) == 0)
            return st->embs[i];
    return NULL;
}
