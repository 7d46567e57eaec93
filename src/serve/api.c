/*
 * api.c - the route table and the handlers of the HTTP API.
 *
 * Three groups of routes:
 *   - operations: /healthz, /readyz, /metrics, /api/v1/info,
 *     POST /api/v1/admin/reload, /debug/sleep (tests only);
 *   - REST under /api/v1: items, items/{id}, items/{id}/similar, genres,
 *     users/{id}, users/{id}/recommendations, POST items:lookup, and the
 *     write routes POST events, POST items, POST users (api_write.c);
 *   - the Sparrow-RecSys-compatible endpoints (/getmovie, /getuser,
 *     /getrecommendation, /getsimilarmovie, /getrecforyou) with the same
 *     parameter names and JSON shapes as the reference server, but real
 *     error statuses, every movie present and watched items filtered;
 * plus the web UI's static files as the fallback route.
 *
 * Every handler reads the snapshot acquired for its request (req->st) and
 * writes a complete JSON body with the streaming writer; errors are
 * {"error":{"code","message","status"}} with a 4xx/5xx status. Numeric
 * parameters are parsed with the checked parsers and bounded (n <=
 * serve.max_n); ids are looked up in the served view - the catalog plus
 * the overlay of upserted items and users - (unknown -> 404).
 *
 * Recommendation requests (users/{id}/recommendations, /getrecforyou) are
 * assigned to A/B variants (experiment.h), run on the scene with the
 * variants applied, report the assignment (JSON fields and X-Junco-*
 * headers) and log the served page as impression events (exposure.h).
 */
#include "serve/serve_int.h"

#include "core/alloc.h"
#include "core/parse.h"
#include "serve/comps.h"
#include "serve/experiment.h"
#include "serve/pipeline.h"
#include <junco/error.h>
#include <junco/eventlog.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ID_MAX      (JC_OV_MAX_ID + 1) /* external ids, as the overlay and events */
#define QUERY_MAX   200
#define TOP_RATINGS 10
#define MAX_TAGS    20

/* ---- shared pieces ------------------------------------------------------- */

static int need_state(struct jc_http_req *req, struct jc_http_resp *resp)
{
    if (req->st)
        return 1;
    jc_http_error(resp, 503, "not_ready", "the served state is not loaded yet");
    return 0;
}

static const char *clipped(const char *s, char *buf, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 4 < cap && i < 64; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i] && i + 4 <= cap) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* Looks an item up by external id; writes a 404 otherwise. */
static int find_item(struct jc_http_req *req, struct jc_http_resp *resp, const char *ext,
                     const char *what, uint32_t *out)
{
    if (jc_view_find_item(jc_state_view(req->st), ext, strlen(ext), out))
        return 1;
    char c[80];
    jc_http_error(resp, 404, "not_found", "no %s with id '%s'", what, clipped(ext, c, sizeof c));
    return 0;
}

static int find_user(struct jc_http_req *req, struct jc_http_resp *resp, const char *ext,
                     uint32_t *out)
{
    if (jc_view_find_user(jc_state_view(req->st), ext, strlen(ext), out))
        return 1;
    char c[80];
    jc_http_error(resp, 404, "not_found", "no user with id '%s'", clipped(ext, c, sizeof c));
    return 0;
}

/* An external id as a JSON number when it is a plain integer (the
 * reference's ids are ints), else as a string. */
static void json_id_number(struct jc_json *j, const char *ext)
{
    int64_t v;
    if (jc_parse_i64(ext, strlen(ext), &v) == JC_OK)
        jc_json_int(j, v);
    else
        jc_json_str(j, ext);
}

static void json_genres(struct jc_json *j, const struct jc_view *v, uint32_t it)
{
    jc_json_arr_begin(j);
    const uint16_t *g;
    uint32_t ng = jc_view_item_genres(v, it, &g);
    for (uint32_t k = 0; k < ng; k++)
        jc_json_str(j, jc_view_genre_name(v, g[k]));
    jc_json_arr_end(j);
}

static void json_attr(void *ctx, const char *name, const char *value)
{
    jc_json_kv_str(ctx, name, value);
}

/* "attributes": {...} of an item or user (catalog + overlay). */
static void json_attrs(struct jc_json *j, const struct jc_view *v, enum jc_ov_kind kind,
                       uint32_t id)
{
    jc_json_key(j, "attributes");
    jc_json_obj_begin(j);
    jc_view_attrs(v, kind, id, json_attr, j);
    jc_json_obj_end(j);
}

static void json_year(struct jc_json *j, int32_t y)
{
    if (y != JC_NO_YEAR)
        jc_json_int(j, y);
    else
        jc_json_null(j);
}

/* {"id","title","year","genres","rating":{"count","mean","damped"}} */
static void item_summary(struct jc_json *j, const struct jc_serve_state *st, uint32_t it)
{
    const struct jc_view *v = jc_state_view(st);
    const struct jc_catidx *ix = jc_state_idx(st);
    jc_json_obj_begin(j);
    jc_json_kv_str(j, "id", jc_view_item_ext_id(v, it));
    jc_json_kv_str(j, "title", jc_view_item_title(v, it));
    jc_json_key(j, "year");
    json_year(j, jc_view_item_year(v, it));
    jc_json_key(j, "genres");
    json_genres(j, v, it);
    jc_json_key(j, "rating");
    jc_json_obj_begin(j);
    jc_json_kv_int(j, "count", ix->count[it]);
    jc_json_key(j, "mean");
    if (ix->count[it])
        jc_json_double(j, ix->mean[it]);
    else
        jc_json_null(j);
    jc_json_kv_double(j, "damped", ix->damped[it]);
    jc_json_obj_end(j);
    jc_json_obj_end(j);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

struct tagcount {
    uint32_t tag, count;
};

static int cmp_tagcount(const void *a, const void *b)
{
    const struct tagcount *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->tag < y->tag ? -1 : x->tag > y->tag;
}

/* The full item: summary fields plus links, rating stats and tags. */
static int item_full(struct jc_json *j, const struct jc_serve_state *st, uint32_t it)
{
    const struct jc_catalog *cat = jc_state_cat(st);
    const struct jc_view *v = jc_state_view(st);
    const struct jc_catidx *ix = jc_state_idx(st);
    const char *imdb = jc_view_item_attr(v, it, "imdbId");
    const char *tmdb = jc_view_item_attr(v, it, "tmdbId");
    jc_json_obj_begin(j);
    jc_json_kv_str(j, "id", jc_view_item_ext_id(v, it));
    jc_json_kv_str(j, "title", jc_view_item_title(v, it));
    jc_json_key(j, "year");
    json_year(j, jc_view_item_year(v, it));
    jc_json_key(j, "genres");
    json_genres(j, v, it);
    jc_json_key(j, "imdbId");
    imdb[0] ? jc_json_str(j, imdb) : jc_json_null(j);
    jc_json_key(j, "tmdbId");
    tmdb[0] ? jc_json_str(j, tmdb) : jc_json_null(j);
    jc_json_key(j, "links");
    jc_json_obj_begin(j);
    char url[256];
    if (imdb[0]) {
        snprintf(url, sizeof url, "https://www.imdb.com/title/tt%s/", imdb);
        jc_json_kv_str(j, "imdb", url);
    }
    if (tmdb[0]) {
        snprintf(url, sizeof url, "https://www.themoviedb.org/movie/%s", tmdb);
        jc_json_kv_str(j, "tmdb", url);
    }
    jc_json_obj_end(j);
    jc_json_key(j, "rating");
    jc_json_obj_begin(j);
    jc_json_kv_int(j, "count", ix->count[it]);
    jc_json_key(j, "mean");
    ix->count[it] ? jc_json_double(j, ix->mean[it]) : jc_json_null(j);
    jc_json_key(j, "stddev");
    ix->count[it] ? jc_json_double(j, ix->stddev[it]) : jc_json_null(j);
    jc_json_kv_double(j, "damped", ix->damped[it]);
    jc_json_obj_end(j);
    /* tags: counted over the item's tag events, most frequent first */
    const uint32_t *tu, *tg;
    const int64_t *tt;
    uint64_t nt = it < v->cat_items ? jc_catalog_item_tags(cat, it, &tu, &tg, &tt) : 0;
    jc_json_key(j, "tags");
    jc_json_arr_begin(j);
    if (nt) {
        uint32_t *ids = jc_malloc_array((size_t)nt, sizeof *ids);
        struct tagcount *tc = jc_malloc_array((size_t)nt, sizeof *tc);
        if (ids == NULL || tc == NULL) {
            jc_free(ids);
            jc_free(tc);
            return JC_ENOMEM;
        }
        memcpy(ids, tg, sizeof *ids * (size_t)nt);
        qsort(ids, (size_t)nt, sizeof *ids, cmp_u32);
        size_t m = 0;
        for (uint64_t k = 0; k < nt; k++) {
            if (m && tc[m - 1].tag == ids[k])
                tc[m - 1].count++;
            else
                tc[m++] = (struct tagcount){ids[k], 1};
        }
        qsort(tc, m, sizeof *tc, cmp_tagcount);
        for (size_t k = 0; k < m && k < MAX_TAGS; k++) {
            jc_json_obj_begin(j);
            jc_json_kv_str(j, "tag", jc_catalog_tag_name(cat, tc[k].tag));
            jc_json_kv_int(j, "count", tc[k].count);
            jc_json_obj_end(j);
        }
        jc_free(ids);
        jc_free(tc);
    }
    jc_json_arr_end(j);
    json_attrs(j, v, JC_OV_ITEM, it);
    jc_json_kv_bool(j, "overlay", jc_view_item_overlaid(v, it));
    jc_json_obj_end(j);
    return JC_OK;
}

/* A float-precision value with 6 significant digits (no float noise). */
static void json_f(struct jc_json *j, double v)
{
    if (!isfinite(v)) {
        jc_json_null(j);
        return;
    }
    char b[32];
    int n = snprintf(b, sizeof b, "%.6g", v);
    jc_json_raw(j, b, (size_t)n);
}

static void kv_f(struct jc_json *j, const char *key, double v)
{
    jc_json_key(j, key);
    json_f(j, v);
}

/* ---- reference (Sparrow RecSys) JSON shapes ------------------------------ */

static void ref_rating(struct jc_json *j, const struct jc_catalog *cat,
                       const struct jc_interactions *in, uint64_t pos)
{
    /* Interactions are the catalog's: its ids are the view's ids too. */
    jc_json_obj_begin(j);
    jc_json_key(j, "rating");
    jc_json_obj_begin(j);
    jc_json_key(j, "movieId");
    json_id_number(j, jc_catalog_item_ext_id(cat, in->item[pos]));
    jc_json_key(j, "userId");
    json_id_number(j, jc_catalog_user_ext_id(cat, in->user[pos]));
    jc_json_kv_double(j, "score", in->value[pos]);
    jc_json_kv_int(j, "timestamp", in->time[pos]);
    jc_json_obj_end(j);
    jc_json_obj_end(j);
}

/* Better rating first: higher score, then more recent, then position. */
static int better_rating(const struct jc_interactions *in, uint64_t a, uint64_t b)
{
    if (in->value[a] != in->value[b])
        return in->value[a] > in->value[b];
    if (in->time[a] != in->time[b])
        return in->time[a] > in->time[b];
    return a < b;
}

/* The reference's Movie: movieId, title, releaseYear, imdbId, tmdbId,
 * genres, ratingNumber, averageRating, topRatings (10 best ratings, best
 * first). */
static void ref_movie(struct jc_json *j, const struct jc_serve_state *st, uint32_t it)
{
    const struct jc_catalog *cat = jc_state_cat(st);
    const struct jc_view *v = jc_state_view(st);
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    const uint32_t *pos;
    uint64_t n = jc_view_item_interactions(v, it, &pos);
    uint64_t top[TOP_RATINGS];
    size_t nt = 0;
    double sum = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t p = pos[k];
        sum += in.value[p];
        size_t at = nt < TOP_RATINGS ? nt : TOP_RATINGS;
        while (at > 0 && better_rating(&in, p, top[at - 1]))
            at--;
        if (at >= TOP_RATINGS)
            continue;
        size_t last = nt < TOP_RATINGS ? nt : TOP_RATINGS - 1;
        memmove(&top[at + 1], &top[at], sizeof top[0] * (last - at));
        top[at] = p;
        if (nt < TOP_RATINGS)
            nt++;
    }
    jc_json_obj_begin(j);
    jc_json_key(j, "movieId");
    json_id_number(j, jc_view_item_ext_id(v, it));
    jc_json_kv_str(j, "title", jc_view_item_title(v, it));
    jc_json_kv_int(j, "releaseYear", jc_view_item_year(v, it));
    jc_json_kv_str(j, "imdbId", jc_view_item_attr(v, it, "imdbId"));
    jc_json_kv_str(j, "tmdbId", jc_view_item_attr(v, it, "tmdbId"));
    jc_json_key(j, "genres");
    json_genres(j, v, it);
    jc_json_kv_int(j, "ratingNumber", (int64_t)n);
    jc_json_kv_double(j, "averageRating", n ? sum / (double)n : 0.0);
    jc_json_key(j, "topRatings");
    jc_json_arr_begin(j);
    for (size_t k = 0; k < nt; k++)
        ref_rating(j, cat, &in, top[k]);
    jc_json_arr_end(j);
    jc_json_obj_end(j);
}

/* ---- operations ---------------------------------------------------------- */

/* {"open","backend","error","exposures"} of the event log. */
static void json_events_status(struct jc_json *j, const struct jc_serve *s)
{
    jc_json_obj_begin(j);
    jc_json_kv_bool(j, "open", s->eventlog != NULL);
    jc_json_key(j, "backend");
    s->eventlog ? jc_json_str(j, jc_eventlog_backend(s->eventlog)) : jc_json_null(j);
    if (s->eventlog == NULL && s->eventlog_error[0])
        jc_json_kv_str(j, "error", s->eventlog_error);
    jc_json_kv_bool(j, "exposures", s->exposure != NULL && s->eventlog != NULL);
    jc_json_obj_end(j);
}

/* One experiment of /api/v1/info. */
static void json_experiment(struct jc_json *j, const struct jc_experiments *e,
                            const struct jc_experiment *x)
{
    jc_json_obj_begin(j);
    jc_json_kv_str(j, "name", x->name);
    jc_json_kv_str(j, "layer", e->layers[x->layer].name);
    jc_json_kv_bool(j, "enabled", x->enabled);
    kv_f(j, "traffic", x->traffic);
    jc_json_key(j, "range");
    jc_json_arr_begin(j);
    json_f(j, x->lo);
    json_f(j, x->hi);
    jc_json_arr_end(j);
    jc_json_key(j, "scenes");
    jc_json_arr_begin(j);
    for (int i = 0; i < x->n_scenes; i++)
        jc_json_str(j, x->scenes[i]);
    jc_json_arr_end(j);
    jc_json_key(j, "variants");
    jc_json_arr_begin(j);
    for (int v = 0; v < x->n_variants; v++) {
        const struct jc_exp_variant *var = &x->v[v];
        jc_json_obj_begin(j);
        jc_json_kv_str(j, "name", var->name);
        kv_f(j, "share", var->share);
        jc_json_key(j, "overrides");
        jc_json_arr_begin(j);
        for (unsigned bit = 1; bit <= JC_SCENE_SET_GENRE_CAP; bit <<= 1)
            if (var->patch.set & bit)
                jc_json_str(j, jc_scene_key_name(bit));
        jc_json_arr_end(j);
        jc_json_obj_end(j);
    }
    jc_json_arr_end(j);
    jc_json_obj_end(j);
}

static void h_healthz(struct jc_http_req *req, struct jc_http_resp *resp)
{
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "status", "ok");
    jc_json_kv_str(&j, "version", JUNCO_VERSION_STRING);
    jc_json_kv_int(&j, "uptime_s", (int64_t)time(NULL) - req->srv->started_at);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
    jc_resp_header(resp, "Cache-Control", "no-store");
}

static void h_readyz(struct jc_http_req *req, struct jc_http_resp *resp)
{
    const struct jc_serve *s = req->srv;
    int draining = atomic_load(&req->srv->draining);
    /* serve.require was validated at start: "events" can only be that token */
    int need_events = s->cfg.require && strstr(s->cfg.require, "events") != NULL;
    int ready = req->st != NULL && !draining && (!need_events || s->eventlog != NULL);
    struct jc_json j;
    jc_resp_json(resp, &j);
    resp->status = ready ? 200 : 503;
    jc_json_obj_begin(&j);
    jc_json_kv_bool(&j, "ready", ready);
    jc_json_kv_bool(&j, "draining", draining);
    jc_json_key(&j, "components");
    jc_json_obj_begin(&j);
    jc_json_key(&j, "catalog");
    jc_json_obj_begin(&j);
    jc_json_kv_bool(&j, "loaded", req->st != NULL);
    if (req->st) {
        const struct jc_catalog *cat = jc_state_cat(req->st);
        char sum[24];
        snprintf(sum, sizeof sum, "%016llx", (unsigned long long)jc_catalog_checksum(cat));
        jc_json_kv_str(&j, "checksum", sum);
        jc_json_kv_int(&j, "items", jc_catalog_n_items(cat));
        jc_json_kv_int(&j, "users", jc_catalog_n_users(cat));
    }
    jc_json_obj_end(&j);
    if (req->st) {
        const struct jc_overlay *ov = req->st->data->overlay;
        jc_json_key(&j, "overlay");
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "items", ov->n_items);
        jc_json_kv_int(&j, "users", ov->n_users);
        jc_json_obj_end(&j);
    }
    jc_json_key(&j, "events");
    json_events_status(&j, s);
    jc_json_obj_end(&j);
    if (req->st)
        jc_json_kv_int(&j, "snapshot_version", (int64_t)req->st->version);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
    jc_resp_header(resp, "Cache-Control", "no-store");
}

static void h_metrics(struct jc_http_req *req, struct jc_http_resp *resp)
{
    jc_buf_reset(&resp->body);
    int rc = jc_metrics_render(req->srv->metrics, &resp->body);
    if (rc) {
        jc_http_error(resp, 500, "internal", "cannot render metrics: %s", jc_strerror(rc));
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    jc_resp_header(resp, "Cache-Control", "no-store");
}

static void h_info(struct jc_http_req *req, struct jc_http_resp *resp)
{
    if (!need_state(req, resp))
        return;
    const struct jc_catalog *cat = jc_state_cat(req->st);
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "version", JUNCO_VERSION_STRING);
    jc_json_key(&j, "snapshot");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "version", (int64_t)req->st->version);
    jc_json_kv_int(&j, "published_at", req->st->published_at);
    jc_json_obj_end(&j);
    jc_json_key(&j, "catalog");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "items", jc_catalog_n_items(cat));
    jc_json_kv_int(&j, "users", jc_catalog_n_users(cat));
    jc_json_kv_int(&j, "interactions", (int64_t)jc_catalog_n_interactions(cat));
    jc_json_kv_int(&j, "genres", jc_catalog_n_genres(cat));
    jc_json_obj_end(&j);
    jc_json_key(&j, "scenes");
    jc_json_arr_begin(&j);
    for (int i = 0; i < req->st->scenes->n; i++) {
        const struct jc_scene *sc = &req->st->scenes->v[i];
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", sc->name);
        jc_json_key(&j, "recall");
        jc_json_arr_begin(&j);
        for (int c = 0; c < sc->n_recall; c++) {
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "channel", sc->recall[c].ch->name);
            jc_json_kv_int(&j, "quota", sc->recall[c].quota);
            kv_f(&j, "weight", sc->recall[c].weight);
            jc_json_obj_end(&j);
        }
        jc_json_arr_end(&j);
        jc_json_kv_str(&j, "ranker", sc->ranker->name);
        jc_json_key(&j, "rerank");
        jc_json_arr_begin(&j);
        for (int r = 0; r < sc->n_rerank; r++)
            jc_json_str(&j, sc->rerank[r]->name);
        jc_json_arr_end(&j);
        jc_json_kv_double(&j, "diversity", sc->diversity);
        jc_json_kv_int(&j, "genre_cap", sc->genre_cap);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    /* Models a request may name; phase 1 serves only the rankers below. */
    static const char *const models[] = {"heuristic", "recall", "emb", "neuralcf", "deepfm",
                                         "widedeep",  "din",    "lr",  "fm"};
    jc_json_key(&j, "models");
    jc_json_arr_begin(&j);
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", models[i]);
        jc_json_kv_bool(&j, "loaded", jc_pipeline_ranker(models[i]) != NULL);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    const struct jc_experiments *e = req->st->experiments;
    jc_json_key(&j, "layers");
    jc_json_arr_begin(&j);
    for (int l = 0; l < e->n_layers; l++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", e->layers[l].name);
        jc_json_kv_str(&j, "salt", e->layers[l].salt);
        kv_f(&j, "used", e->layers[l].used);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_key(&j, "experiments");
    jc_json_arr_begin(&j);
    for (int k = 0; k < e->n_exp; k++)
        json_experiment(&j, e, &e->exp[k]);
    jc_json_arr_end(&j);
    const struct jc_overlay *ov = req->st->data->overlay;
    jc_json_key(&j, "overlay");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "items", ov->n_items);
    jc_json_kv_int(&j, "users", ov->n_users);
    jc_json_kv_int(&j, "new_genres", jc_state_view(req->st)->n_extra_genres);
    jc_json_obj_end(&j);
    jc_json_key(&j, "events");
    json_events_status(&j, req->srv);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
}

static void h_reload(struct jc_http_req *req, struct jc_http_resp *resp)
{
    int rc = jc_serve__reload(req->srv);
    if (rc) {
        jc_http_error(resp, 500, "reload_failed", "%s (still serving the previous snapshot)",
                      jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
        return;
    }
    struct jc_serve_state *st = jc_state_acquire(&req->srv->slot);
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_kv_bool(&j, "reloaded", 1);
    jc_json_kv_int(&j, "version", st ? (int64_t)st->version : 0);
    jc_json_obj_end(&j);
    jc_state_release(st);
    jc_resp_json_done(resp, &j);
}

static void h_debug_sleep(struct jc_http_req *req, struct jc_http_resp *resp)
{
    int64_t ms;
    if (jc_req_int(req, resp, "ms", 100, 0, 30000, &ms))
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "slept_ms", ms);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
}

/* ---- REST: items ----------------------------------------------------------- */

static void h_item(struct jc_http_req *req, struct jc_http_resp *resp)
{
    char id[ID_MAX];
    uint32_t it;
    if (!need_state(req, resp) || jc_req_capture(req, resp, "id", id, sizeof id) ||
        !find_item(req, resp, id, "item", &it))
        return;
    struct jc_json j;
    jc_resp_json(resp, &j);
    if (item_full(&j, req->st, it)) {
        jc_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    jc_resp_json_done(resp, &j);
}

/* Resolves ?genre= (empty/absent: all); 404 for an unknown genre. */
static int genre_param(struct jc_http_req *req, struct jc_http_resp *resp, const char *name,
                       int32_t *out)
{
    const char *g = jc_req_query(req, name);
    *out = -1;
    if (g == NULL || g[0] == '\0')
        return 0;
    uint32_t gid;
    if (!jc_view_find_genre(jc_state_view(req->st), g, &gid)) {
        char c[80];
        jc_http_error(resp, 404, "not_found", "no genre '%s'", clipped(g, c, sizeof c));
        return -1;
    }
    *out = (int32_t)gid;
    return 0;
}

static void h_items(struct jc_http_req *req, struct jc_http_resp *resp)
{
    if (!need_state(req, resp))
        return;
    int32_t genre;
    int64_t n, offset;
    enum jc_sort sort = JC_SORT_POPULARITY;
    const char *sort_s = jc_req_query(req, "sort");
    const char *q = jc_req_query(req, "q");
    char c[80];
    if (genre_param(req, resp, "genre", &genre) ||
        jc_req_int(req, resp, "n", 20, 1, req->srv->cfg.max_n, &n) ||
        jc_req_int(req, resp, "offset", 0, 0, 100000000, &offset))
        return;
    if (sort_s && sort_s[0] && !jc_sort_parse(sort_s, &sort)) {
        jc_http_error(resp, 400, "invalid_parameter",
                      "parameter 'sort' must be rating, year, popularity, mean or catalog, "
                      "got '%s'",
                      clipped(sort_s, c, sizeof c));
        return;
    }
    if (q && strlen(q) > QUERY_MAX) {
        jc_http_error(resp, 400, "invalid_parameter", "parameter 'q' is longer than %d bytes",
                      QUERY_MAX);
        return;
    }
    if (q && q[0] == '\0')
        q = NULL;
    const struct jc_view *v = jc_state_view(req->st);
    const uint32_t *items;
    size_t total = jc_catidx_list(jc_state_idx(req->st), genre, sort, &items);
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_key(&j, "genre");
    genre >= 0 ? jc_json_str(&j, jc_view_genre_name(v, (uint32_t)genre)) : jc_json_null(&j);
    jc_json_kv_str(&j, "sort", sort_s && sort_s[0] ? sort_s : "popularity");
    jc_json_key(&j, "q");
    q ? jc_json_str(&j, q) : jc_json_null(&j);
    jc_json_kv_int(&j, "offset", offset);
    jc_json_key(&j, "items");
    jc_json_arr_begin(&j);
    size_t matched = 0, shown = 0;
    for (size_t k = 0; k < total; k++) {
        uint32_t it = items[k];
        if (q && strcasestr(jc_view_item_title(v, it), q) == NULL)
            continue;
        if (matched >= (size_t)offset && shown < (size_t)n) {
            item_summary(&j, req->st, it);
            shown++;
        }
        matched++;
        if (!q && shown == (size_t)n) {
            matched = total;
            break;
        }
    }
    jc_json_arr_end(&j);
    jc_json_kv_int(&j, "n", (int64_t)shown);
    jc_json_kv_int(&j, "total", (int64_t)matched);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
}

static void h_genres(struct jc_http_req *req, struct jc_http_resp *resp)
{
    if (!need_state(req, resp))
        return;
    const struct jc_view *view = jc_state_view(req->st);
    const struct jc_catidx *ix = jc_state_idx(req->st);
    uint32_t ng = ix->n_genres;
    struct tagcount *v = jc_malloc_array(ng ? ng : 1, sizeof *v);
    if (v == NULL) {
        jc_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    for (uint32_t g = 0; g < ng; g++)
        v[g] = (struct tagcount){g, (uint32_t)(ix->genre_off[g + 1] - ix->genre_off[g])};
    qsort(v, ng, sizeof *v, cmp_tagcount);
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_key(&j, "genres");
    jc_json_arr_begin(&j);
    for (uint32_t k = 0; k < ng; k++) {
        if (v[k].count == 0)
            continue;
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", jc_view_genre_name(view, v[k].tag));
        jc_json_kv_int(&j, "items", v[k].count);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    jc_free(v);
    jc_resp_json_done(resp, &j);
}

static void h_items_lookup(struct jc_http_req *req, struct jc_http_resp *resp)
{
    if (!need_state(req, resp))
        return;
    if (req->body == NULL) {
        jc_http_error(resp, 400, "invalid_body", "expected a JSON body {\"ids\": [...]}");
        return;
    }
    cJSON *root = cJSON_ParseWithLength(req->body, req->body_len);
    if (root == NULL) {
        size_t at = 0;
        const char *e = cJSON_GetErrorPtr();
        if (e && e >= req->body && e <= req->body + req->body_len)
            at = (size_t)(e - req->body);
        jc_http_error(resp, 400, "invalid_json", "malformed JSON near byte %zu", at);
        return;
    }
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "ids");
    int n = cJSON_IsArray(ids) ? cJSON_GetArraySize(ids) : -1;
    if (!cJSON_IsObject(root) || n < 0) {
        cJSON_Delete(root);
        jc_http_error(resp, 400, "invalid_body", "expected {\"ids\": [...]}");
        return;
    }
    if (n > req->srv->cfg.max_n) {
        cJSON_Delete(root);
        jc_http_error(resp, 400, "invalid_body", "at most %d ids per request, got %d",
                      req->srv->cfg.max_n, n);
        return;
    }
    const struct jc_view *view = jc_state_view(req->st);
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_key(&j, "items");
    jc_json_arr_begin(&j);
    int bad = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ids)
    {
        char buf[ID_MAX];
        if (cJSON_IsString(e) && strlen(e->valuestring) < sizeof buf)
            snprintf(buf, sizeof buf, "%s", e->valuestring);
        else if (cJSON_IsNumber(e) && e->valuedouble == floor(e->valuedouble) &&
                 fabs(e->valuedouble) < 9e15)
            snprintf(buf, sizeof buf, "%.0f", e->valuedouble);
        else {
            bad = 1;
            break;
        }
        uint32_t it;
        if (jc_view_find_item(view, buf, strlen(buf), &it))
            item_summary(&j, req->st, it);
    }
    jc_json_arr_end(&j);
    jc_json_key(&j, "missing");
    jc_json_arr_begin(&j);
    cJSON_ArrayForEach(e, ids)
    {
        char buf[ID_MAX];
        if (bad)
            break;
        if (cJSON_IsString(e))
            snprintf(buf, sizeof buf, "%s", e->valuestring);
        else
            snprintf(buf, sizeof buf, "%.0f", e->valuedouble);
        uint32_t it;
        if (!jc_view_find_item(view, buf, strlen(buf), &it))
            jc_json_str(&j, buf);
    }
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    cJSON_Delete(root);
    if (bad) {
        jc_http_error(resp, 400, "invalid_body", "ids must be strings or integers");
        return;
    }
    jc_resp_json_done(resp, &j);
}

/* ---- similar items ------------------------------------------------------- */

static int model_param(struct jc_http_req *req, struct jc_http_resp *resp, const char *name,
                       const char **out)
{
    const char *m = jc_req_query(req, name);
    *out = NULL;
    if (m == NULL || m[0] == '\0')
        return 0;
    if (!jc_pipeline_model_known(m) && !jc_pipeline_ranker(m) && strcmp(m, "cooc") != 0 &&
        strcmp(m, "genre") != 0 && strcmp(m, "cooc_genre") != 0 &&
        !(req->st && (jc_serve_find_model(req->st, m) || jc_serve_find_emb(req->st, m)))) {
        char c[80];
        jc_http_error(resp, 400, "invalid_parameter",
                      "unknown model '%s' (e.g. emb, neuralcf, deepfm, widedeep, din, "
                      "heuristic, recall, cooc)",
                      clipped(m, c, sizeof c));
        return -1;
    }
    *out = m;
    return 0;
}

static void h_item_similar(struct jc_http_req *req, struct jc_http_resp *resp)
{
    char id[ID_MAX];
    uint32_t it;
    int64_t n;
    const char *model;
    if (!need_state(req, resp) || jc_req_capture(req, resp, "id", id, sizeof id) ||
        jc_req_int(req, resp, "n", 10, 1, req->srv->cfg.max_n, &n) ||
        model_param(req, resp, "embedding", &model) || !find_item(req, resp, id, "item", &it))
        return;
    struct jc_sim_result res;
    if (jc_pipeline_similar(req->st, it, (uint32_t)n, model, &res)) {
        jc_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "item", id);
    jc_json_kv_str(&j, "provider", res.provider);
    jc_json_key(&j, "requested");
    model ? jc_json_str(&j, model) : jc_json_null(&j);
    jc_json_kv_bool(&j, "fallback", res.fallback);
    jc_json_key(&j, "items");
    jc_json_arr_begin(&j);
    for (size_t k = 0; k < res.n; k++) {
        jc_json_obj_begin(&j);
        jc_json_key(&j, "item");
        item_summary(&j, req->st, res.items[k].item);
        kv_f(&j, "score", res.items[k].score);
        kv_f(&j, "cooc", res.items[k].cooc);
        kv_f(&j, "genre_jaccard", res.items[k].jaccard);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    jc_sim_result_free(&res);
    jc_resp_json_done(resp, &j);
}

/* ---- users ----------------------------------------------------------------- */

static void h_user(struct jc_http_req *req, struct jc_http_resp *resp)
{
    char id[ID_MAX];
    uint32_t u;
    int64_t limit, offset;
    if (!need_state(req, resp) || jc_req_capture(req, resp, "id", id, sizeof id) ||
        jc_req_int(req, resp, "limit", 20, 0, req->srv->cfg.max_n, &limit) ||
        jc_req_int(req, resp, "offset", 0, 0, 100000000, &offset) || !find_user(req, resp, id, &u))
        return;
    const struct jc_catalog *cat = jc_state_cat(req->st);
    const struct jc_view *view = jc_state_view(req->st);
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    uint64_t b, e;
    jc_view_user_range(view, u, &b, &e);
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (uint64_t k = b; k < e; k++) {
        sum += in.value[k];
        lo = in.value[k] < lo ? in.value[k] : lo;
        hi = in.value[k] > hi ? in.value[k] : hi;
    }
    uint64_t n = e - b;
    struct jc_genre_pref gp[64];
    size_t ngp = jc_pipeline_user_genres(req->st, u, gp, 64);
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "id", id);
    jc_json_kv_int(&j, "interactions", (int64_t)n);
    jc_json_key(&j, "rating");
    jc_json_obj_begin(&j);
    jc_json_key(&j, "mean");
    n ? jc_json_double(&j, sum / (double)n) : jc_json_null(&j);
    jc_json_key(&j, "min");
    n ? jc_json_double(&j, lo) : jc_json_null(&j);
    jc_json_key(&j, "max");
    n ? jc_json_double(&j, hi) : jc_json_null(&j);
    jc_json_obj_end(&j);
    jc_json_key(&j, "first_time");
    n ? jc_json_int(&j, in.time[b]) : jc_json_null(&j);
    jc_json_key(&j, "last_time");
    n ? jc_json_int(&j, in.time[e - 1]) : jc_json_null(&j);
    jc_json_key(&j, "favourite_genres");
    jc_json_arr_begin(&j);
    for (size_t k = 0; k < ngp; k++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "genre", jc_view_genre_name(view, gp[k].genre));
        jc_json_kv_int(&j, "count", gp[k].count);
        kv_f(&j, "share", gp[k].share);
        kv_f(&j, "mean", gp[k].mean);
        kv_f(&j, "score", gp[k].score);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    json_attrs(&j, view, JC_OV_USER, u);
    jc_json_kv_bool(&j, "overlay", jc_view_user_overlaid(view, u));
    jc_json_key(&j, "history");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "total", (int64_t)n);
    jc_json_kv_int(&j, "offset", offset);
    jc_json_kv_int(&j, "limit", limit);
    jc_json_key(&j, "items");
    jc_json_arr_begin(&j);
    /* most recent first */
    for (int64_t k = offset; k < offset + limit && (uint64_t)k < n; k++) {
        uint64_t p = e - 1 - (uint64_t)k;
        jc_json_obj_begin(&j);
        jc_json_key(&j, "item");
        item_summary(&j, req->st, in.item[p]);
        jc_json_kv_double(&j, "value", in.value[p]);
        jc_json_kv_int(&j, "time", in.time[p]);
        jc_json_kv_str(&j, "type", jc_catalog_event_type_name(cat, in.type[p]));
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
}

/* Parses exclude=ID,ID,... into internal ids (unknown ids are ignored:
 * they cannot be recommended anyway). */
static int exclude_param(struct jc_http_req *req, struct jc_http_resp *resp, uint32_t *out,
                         size_t *n_out)
{
    const char *s = jc_req_query(req, "exclude");
    *n_out = 0;
    if (s == NULL)
        return 0;
    const struct jc_view *view = jc_state_view(req->st);
    size_t n = 0, seen = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len) {
            if (++seen > JC_PIPE_MAX_EXCLUDE) {
                jc_http_error(resp, 400, "invalid_parameter",
                              "parameter 'exclude' has more than %d ids", JC_PIPE_MAX_EXCLUDE);
                return -1;
            }
            uint32_t it;
            if (jc_view_find_item(view, s, len, &it))
                out[n++] = it;
        }
        if (e == NULL)
            break;
        s = e + 1;
    }
    *n_out = n;
    return 0;
}

static int bool_param(struct jc_http_req *req, struct jc_http_resp *resp, const char *name,
                      int *out)
{
    const char *v = jc_req_query(req, name);
    *out = 0;
    if (v == NULL)
        return 0;
    if (v[0] == '\0') {
        *out = 1; /* "?explain" alone */
        return 0;
    }
    if (jc_parse_bool(v, strlen(v), out)) {
        char c[80];
        jc_http_error(resp, 400, "invalid_parameter",
                      "parameter '%s' must be 1/0, true/false, yes/no or on/off, got '%s'", name,
                      clipped(v, c, sizeof c));
        return -1;
    }
    return 0;
}

/* One recommendation request as served: the scene with the user's A/B
 * variants applied, the assignments and the pipeline's result. */
struct reco {
    struct jc_scene scene;
    struct jc_assignment ab[JC_EXP_MAX_LAYERS];
    size_t n_ab;
    const char *user_ext; /* the user's external id (lives with the snapshot) */
    struct jc_reco_result res;
};

/* Runs the pipeline for the REST and compatible endpoints: assigns the
 * user in every A/B layer, overlays the variants on the scene, ranks, and
 * sets the X-Junco-Ranker / -Experiment / -Variant / -Experiments headers. */
static int run_reco(struct jc_http_req *req, struct jc_http_resp *resp, uint32_t user,
                    const char *scene_name, const char *model, int64_t n, int64_t offset,
                    const uint32_t *exclude, size_t n_exclude, int32_t genre, struct reco *r)
{
    const struct jc_scene *sc = jc_scenes_find(req->st->scenes, scene_name);
    if (sc == NULL) {
        char c[80];
        jc_http_error(resp, 404, "not_found", "no scene '%s'", clipped(scene_name, c, sizeof c));
        return -1;
    }
    r->user_ext = jc_view_user_ext_id(jc_state_view(req->st), user);
    r->scene = *sc;
    r->n_ab = jc_experiments_assign(req->st->experiments, r->user_ext, strlen(r->user_ext),
                                    sc->name, r->ab, JC_EXP_MAX_LAYERS);
    for (size_t i = 0; i < r->n_ab; i++) {
        jc_scene_patch_apply(&r->scene, &r->ab[i].variant->patch);
        if (r->ab[i].variant->m_assigned)
            jc_metric_inc(r->ab[i].variant->m_assigned);
    }
    struct jc_reco_query q = {.has_user = 1,
                              .user = user,
                              .n = (uint32_t)n,
                              .offset = (uint32_t)offset,
                              .exclude = exclude,
                              .n_exclude = n_exclude,
                              .genre = genre,
                              .model = model};
    int rc = jc_pipeline_recommend(req->st, &r->scene, &q, &r->res);
    if (rc) {
        jc_http_error(resp, 500, "internal", "recommendation failed: %s", jc_strerror(rc));
        return -1;
    }
    jc_serve__observe_pipeline(req->srv, &r->scene, &r->res);
    jc_resp_header(resp, "X-Junco-Ranker", "%s", r->res.ranker);
    if (r->res.model_name)
        jc_resp_header(resp, "X-Junco-Model", "%s v%u", r->res.model_name, r->res.model_version);
    if (r->n_ab) {
        jc_resp_header(resp, "X-Junco-Experiment", "%s", r->ab[0].exp->name);
        jc_resp_header(resp, "X-Junco-Variant", "%s", r->ab[0].variant->name);
        char all[160];
        size_t at = 0;
        for (size_t i = 0; i < r->n_ab && at < sizeof all; i++)
            at += (size_t)snprintf(all + at, sizeof all - at, "%s%s=%s", i ? ", " : "",
                                   r->ab[i].exp->name, r->ab[i].variant->name);
        jc_resp_header(resp, "X-Junco-Experiments", "%s", all);
    }
    return 0;
}

/* Logs the served page as impression events (exposure.h): one per item,
 * with the request id, the first layer's assignment, and every assignment
 * plus scene and ranker in the context. Never blocks; drops are counted. */
static void log_exposures(struct jc_http_req *req, const struct reco *r, int64_t offset)
{
    struct jc_exposure *x = req->srv->exposure;
    if (x == NULL || r->res.n == 0)
        return;
    const struct jc_view *v = jc_state_view(req->st);
    const char **items = jc_malloc_array(r->res.n, sizeof *items);
    struct jc_buf tail;
    jc_buf_init(&tail, JC_EVENT_MAX_CONTEXT);
    if (items == NULL)
        return;
    for (size_t k = 0; k < r->res.n; k++)
        items[k] = jc_view_item_ext_id(v, r->res.items[k].item);
    struct jc_json j;
    jc_json_init(&j, &tail, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "scene", r->scene.name);
    jc_json_kv_str(&j, "ranker", r->res.ranker);
    if (r->n_ab) {
        jc_json_key(&j, "ab");
        jc_json_obj_begin(&j);
        for (size_t i = 0; i < r->n_ab; i++)
            jc_json_kv_str(&j, r->ab[i].exp->name, r->ab[i].variant->name);
        jc_json_obj_end(&j);
    }
    jc_json_obj_end(&j);
    const char *ctx = NULL;
    if (jc_json_finish(&j) == JC_OK && tail.len >= 2) {
        /* the members without the braces */
        tail.data[tail.len - 1] = '\0';
        ctx = tail.data + 1;
    }
    struct jc_exposure_list l = {
        .user = r->user_ext,
        .request_id = req->request_id,
        .experiment = r->n_ab ? r->ab[0].exp->name : NULL,
        .variant = r->n_ab ? r->ab[0].variant->name : NULL,
        .context_tail = ctx,
        .time_ms = (int64_t)time(NULL) * 1000,
        .offset = (uint32_t)offset,
        .n = r->res.n,
        .items = items,
    };
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        l.time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    jc_exposure_submit(x, &l);
    jc_buf_free(&tail);
    jc_free(items);
}

/* "experiment", "variant" (the first layer's, or null) and "experiments"
 * (every layer's) of a recommendation response. */
static void json_ab(struct jc_json *j, const struct reco *r)
{
    jc_json_key(j, "experiment");
    r->n_ab ? jc_json_str(j, r->ab[0].exp->name) : jc_json_null(j);
    jc_json_key(j, "variant");
    r->n_ab ? jc_json_str(j, r->ab[0].variant->name) : jc_json_null(j);
    jc_json_key(j, "experiments");
    jc_json_arr_begin(j);
    for (size_t i = 0; i < r->n_ab; i++) {
        jc_json_obj_begin(j);
        jc_json_kv_str(j, "layer", r->ab[i].layer->name);
        jc_json_kv_str(j, "experiment", r->ab[i].exp->name);
        jc_json_kv_str(j, "variant", r->ab[i].variant->name);
        jc_json_obj_end(j);
    }
    jc_json_arr_end(j);
}

static void h_user_recs(struct jc_http_req *req, struct jc_http_resp *resp)
{
    char id[ID_MAX];
    uint32_t u;
    int64_t n, offset;
    int explain;
    int32_t genre;
    const char *model;
    if (!need_state(req, resp) || jc_req_capture(req, resp, "id", id, sizeof id) ||
        jc_req_int(req, resp, "n", 10, 1, req->srv->cfg.max_n, &n) ||
        jc_req_int(req, resp, "offset", 0, 0, req->srv->cfg.max_n, &offset) ||
        bool_param(req, resp, "explain", &explain) || model_param(req, resp, "model", &model) ||
        genre_param(req, resp, "genre", &genre) || !find_user(req, resp, id, &u))
        return;
    const char *scene = jc_req_query(req, "scene");
    if (scene == NULL || scene[0] == '\0')
        scene = "default";
    uint32_t *excl = jc_malloc_array(JC_PIPE_MAX_EXCLUDE, sizeof *excl);
    if (excl == NULL) {
        jc_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    size_t n_excl;
    struct reco r;
    if (exclude_param(req, resp, excl, &n_excl) ||
        run_reco(req, resp, u, scene, model, n, offset, excl, n_excl, genre, &r)) {
        jc_free(excl);
        return;
    }
    jc_free(excl);
    /* explain=1 is a diagnostic view (the explain page asks for 100 items),
     * not a list shown to the user: no exposures. */
    if (!explain)
        log_exposures(req, &r, offset);
    const struct jc_scene *sc = &r.scene;
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "user", id);
    jc_json_kv_str(&j, "scene", sc->name);
    jc_json_kv_str(&j, "ranker", r.res.ranker);
    jc_json_key(&j, "requested_model");
    model ? jc_json_str(&j, model) : jc_json_null(&j);
    jc_json_kv_bool(&j, "fallback", r.res.fallback);
    if (r.res.fallback)
        jc_json_kv_str(&j, "fallback_reason", r.res.fallback_reason);
    jc_json_key(&j, "model");
    r.res.model_name ? jc_json_str(&j, r.res.model_name) : jc_json_null(&j);
    jc_json_kv_int(&j, "model_version", r.res.model_version);
    jc_json_kv_int(&j, "snapshot", (int64_t)req->st->version);
    json_ab(&j, &r);
    jc_json_kv_str(&j, "request_id", req->request_id);
    jc_json_kv_int(&j, "candidates", (int64_t)r.res.n_candidates);
    jc_json_kv_int(&j, "offset", offset);
    jc_json_key(&j, "items");
    jc_json_arr_begin(&j);
    for (size_t k = 0; k < r.res.n; k++) {
        const struct jc_cand *c = &r.res.items[k];
        jc_json_obj_begin(&j);
        jc_json_key(&j, "item");
        item_summary(&j, req->st, c->item);
        kv_f(&j, "score", c->final);
        jc_json_kv_int(&j, "position", offset + (int64_t)k + 1);
        if (explain) {
            jc_json_key(&j, "explain");
            jc_json_obj_begin(&j);
            jc_json_key(&j, "channels");
            jc_json_arr_begin(&j);
            for (int ch = 0; ch < sc->n_recall; ch++) {
                if (!(c->channels & (1u << ch)))
                    continue;
                jc_json_obj_begin(&j);
                jc_json_kv_str(&j, "name", sc->recall[ch].ch->name);
                kv_f(&j, "score", c->ch_score[ch]);
                kv_f(&j, "weight", sc->recall[ch].weight);
                jc_json_obj_end(&j);
            }
            jc_json_arr_end(&j);
            kv_f(&j, "recall", c->recall);
            kv_f(&j, "rank", c->rank);
            jc_json_kv_int(&j, "rank_position", c->rank_pos + 1);
            kv_f(&j, "rerank", c->final);
            jc_json_obj_end(&j);
        }
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    if (explain) {
        jc_json_key(&j, "stages");
        jc_json_obj_begin(&j);
        jc_json_key(&j, "recall");
        jc_json_arr_begin(&j);
        for (int ch = 0; ch < sc->n_recall; ch++) {
            jc_json_obj_begin(&j);
            jc_json_kv_str(&j, "channel", sc->recall[ch].ch->name);
            jc_json_kv_int(&j, "quota", sc->recall[ch].quota);
            jc_json_kv_int(&j, "candidates", r.res.channel_counts[ch]);
            jc_json_kv_bool(&j, "skipped", (r.res.channel_skipped >> ch) & 1u);
            jc_json_kv_bool(&j, "failed", (r.res.channel_failed >> ch) & 1u);
            jc_json_obj_end(&j);
        }
        jc_json_arr_end(&j);
        jc_json_key(&j, "rerank");
        jc_json_arr_begin(&j);
        for (int k = 0; k < sc->n_rerank; k++)
            jc_json_str(&j, sc->rerank[k]->name);
        jc_json_arr_end(&j);
        jc_json_kv_bool(&j, "realtime", r.res.realtime);
        jc_json_kv_double(&j, "diversity", sc->diversity);
        jc_json_kv_int(&j, "genre_cap", sc->genre_cap);
        jc_json_key(&j, "timing_us");
        jc_json_obj_begin(&j);
        jc_json_kv_double(&j, "recall", (double)r.res.stage_ns[0] / 1e3);
        jc_json_kv_double(&j, "rank", (double)r.res.stage_ns[1] / 1e3);
        jc_json_kv_double(&j, "rerank", (double)r.res.stage_ns[2] / 1e3);
        jc_json_obj_end(&j);
        jc_json_obj_end(&j);
    }
    jc_json_obj_end(&j);
    jc_reco_result_free(&r.res);
    jc_resp_json_done(resp, &j);
}

/* ---- Sparrow-RecSys-compatible endpoints ---------------------------------- */

static int size_param(struct jc_http_req *req, struct jc_http_resp *resp, int64_t *out)
{
    return jc_req_int(req, resp, "size", 20, 1, req->srv->cfg.max_n, out);
}

static void h_getmovie(struct jc_http_req *req, struct jc_http_resp *resp)
{
    uint32_t it;
    const char *id;
    if (!need_state(req, resp) || (id = jc_req_required(req, resp, "id")) == NULL ||
        !find_item(req, resp, id, "movie", &it))
        return;
    struct jc_json j;
    jc_resp_json(resp, &j);
    ref_movie(&j, req->st, it);
    jc_resp_json_done(resp, &j);
}

static void h_getuser(struct jc_http_req *req, struct jc_http_resp *resp)
{
    uint32_t u;
    const char *id;
    if (!need_state(req, resp) || (id = jc_req_required(req, resp, "id")) == NULL ||
        !find_user(req, resp, id, &u))
        return;
    const struct jc_catalog *cat = jc_state_cat(req->st);
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    uint64_t b, e;
    jc_view_user_range(jc_state_view(req->st), u, &b, &e);
    double sum = 0, lo = 5.0, hi = 0.0; /* the reference's initial values */
    for (uint64_t k = b; k < e; k++) {
        sum += in.value[k];
        lo = in.value[k] < lo ? in.value[k] : lo;
        hi = in.value[k] > hi ? in.value[k] : hi;
    }
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_obj_begin(&j);
    jc_json_key(&j, "userId");
    json_id_number(&j, id);
    jc_json_kv_double(&j, "averageRating", e > b ? sum / (double)(e - b) : 0.0);
    jc_json_kv_double(&j, "highestRating", hi);
    jc_json_kv_double(&j, "lowestRating", lo);
    jc_json_kv_int(&j, "ratingCount", (int64_t)(e - b));
    jc_json_key(&j, "ratings");
    jc_json_arr_begin(&j);
    for (uint64_t k = b; k < e; k++)
        ref_rating(&j, cat, &in, k);
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    jc_resp_json_done(resp, &j);
}

static void h_getrecommendation(struct jc_http_req *req, struct jc_http_resp *resp)
{
    int32_t genre;
    int64_t size;
    if (!need_state(req, resp) || genre_param(req, resp, "genre", &genre) ||
        size_param(req, resp, &size))
        return;
    const char *sortby = jc_req_query(req, "sortby");
    enum jc_sort sort = JC_SORT_CATALOG;
    if (sortby && sortby[0]) {
        if (strcmp(sortby, "rating") == 0) {
            sort = JC_SORT_RATING;
        } else if (strcmp(sortby, "releaseYear") == 0) {
            sort = JC_SORT_YEAR;
        } else if (strcmp(sortby, "popularity") == 0) {
            sort = JC_SORT_POPULARITY;
        } else {
            char c[80];
            jc_http_error(resp, 400, "invalid_parameter",
                          "parameter 'sortby' must be rating, releaseYear or popularity, "
                          "got '%s'",
                          clipped(sortby, c, sizeof c));
            return;
        }
    }
    const uint32_t *items;
    size_t total = jc_catidx_list(jc_state_idx(req->st), genre, sort, &items);
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_arr_begin(&j);
    for (size_t k = 0; k < total && k < (size_t)size; k++)
        ref_movie(&j, req->st, items[k]);
    jc_json_arr_end(&j);
    jc_resp_json_done(resp, &j);
}

static void h_getsimilarmovie(struct jc_http_req *req, struct jc_http_resp *resp)
{
    uint32_t it;
    int64_t size;
    const char *id, *model;
    if (!need_state(req, resp) || (id = jc_req_required(req, resp, "movieId")) == NULL ||
        size_param(req, resp, &size) || model_param(req, resp, "model", &model) ||
        !find_item(req, resp, id, "movie", &it))
        return;
    struct jc_sim_result res;
    if (jc_pipeline_similar(req->st, it, (uint32_t)size, model, &res)) {
        jc_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_arr_begin(&j);
    for (size_t k = 0; k < res.n; k++)
        ref_movie(&j, req->st, res.items[k].item);
    jc_json_arr_end(&j);
    jc_resp_header(resp, "X-Junco-Model", "%s%s", res.provider, res.fallback ? " (fallback)" : "");
    jc_sim_result_free(&res);
    jc_resp_json_done(resp, &j);
}

static void h_getrecforyou(struct jc_http_req *req, struct jc_http_resp *resp)
{
    uint32_t u;
    int64_t size;
    const char *id, *model;
    if (!need_state(req, resp) || (id = jc_req_required(req, resp, "id")) == NULL ||
        size_param(req, resp, &size) || model_param(req, resp, "model", &model) ||
        !find_user(req, resp, id, &u))
        return;
    struct reco r;
    if (run_reco(req, resp, u, "default", model, size, 0, NULL, 0, -1, &r))
        return;
    /* The body keeps the reference's shape (an array of movies); the A/B
     * assignment travels in the X-Junco-Experiment/-Variant headers. */
    log_exposures(req, &r, 0);
    struct jc_json j;
    jc_resp_json(resp, &j);
    jc_json_arr_begin(&j);
    for (size_t k = 0; k < r.res.n; k++)
        ref_movie(&j, req->st, r.res.items[k].item);
    jc_json_arr_end(&j);
    jc_reco_result_free(&r.res);
    jc_resp_json_done(resp, &j);
}

/* ---- model predictions ------------------------------------------------------ */

#define PREDICT_MAX 1000

/* An id (a JSON string or integer) into buf; NULL if absent or of another
 * type. json_id: the same for a member of an object. */
static const char *json_scalar_id(const cJSON *e, char *buf, size_t cap)
{
    if (cJSON_IsString(e) && e->valuestring[0] && strlen(e->valuestring) < cap) {
        snprintf(buf, cap, "%s", e->valuestring);
        return buf;
    }
    if (cJSON_IsNumber(e) && e->valuedouble == floor(e->valuedouble) &&
        fabs(e->valuedouble) < 1e15) {
        snprintf(buf, cap, "%.0f", e->valuedouble);
        return buf;
    }
    return NULL;
}

static const char *json_id(const cJSON *o, const char *name, char *buf, size_t cap)
{
    return json_scalar_id(cJSON_GetObjectItemCaseSensitive(o, name), buf, cap);
}

/*
 * POST /api/v1/models/{name}:predict (and TF-Serving's /v1/models/...):
 *   {"user": ID, "items": [ID, ...]}             -> {"model", "version",
 *                                                     "user", "predictions":
 *                                                     [p, ...]}
 *   {"instances": [{"userId": ID, "movieId": ID}]} -> {"predictions": [[p]...]}
 * at most 1000 items / instances; ids are external ids (strings or ints).
 * Scores with the loaded registry model named NAME (or of that kind) using
 * the same features as the `model` ranker. 404 for an unknown model, user or
 * item; 400 for a malformed body.
 */
static void h_model_predict(struct jc_http_req *req, struct jc_http_resp *resp)
{
    char name[96];
    if (!need_state(req, resp) || jc_req_capture(req, resp, "name", name, sizeof name))
        return;
    size_t nl = strlen(name);
    if (nl <= 8 || strcmp(name + nl - 8, ":predict") != 0) {
        char c[80];
        jc_http_error(resp, 404, "not_found", "no route for model action '%s' (use NAME:predict)",
                      clipped(name, c, sizeof c));
        return;
    }
    name[nl - 8] = '\0';
    if (jc_serve_find_model(req->st, name) == NULL) {
        char c[80];
        jc_http_error(resp, 404, "not_found", "model '%s' is not loaded",
                      clipped(name, c, sizeof c));
        return;
    }
    cJSON *root = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        jc_http_error(resp, 400, "invalid_body", "the body must be a JSON object");
        return;
    }
    const struct jc_view *v = jc_state_view(req->st);
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(root, "instances");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    int tf = inst != NULL;
    const cJSON *arr = tf ? inst : items;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n < 1 || n > PREDICT_MAX) {
        cJSON_Delete(root);
        jc_http_error(resp, 400, "invalid_body",
                      "'%s' must be an array of 1 to %d entries (or give 'instances')",
                      tf ? "instances" : "items", PREDICT_MAX);
        return;
    }
    uint32_t *ids = jc_malloc_array((size_t)n, sizeof *ids);
    uint32_t *users = jc_malloc_array((size_t)n, sizeof *users);
    float *p = jc_malloc_array((size_t)n, sizeof *p);
    if (!ids || !users || !p) {
        jc_free(ids);
        jc_free(users);
        jc_free(p);
        cJSON_Delete(root);
        jc_http_error(resp, 500, "internal", "out of memory");
        return;
    }
    char ub[128], ib[128], c[80];
    const char *user_ext = NULL;
    int bad = 0;
    uint32_t one_user = UINT32_MAX;
    if (!tf) {
        user_ext = json_id(root, "user", ub, sizeof ub);
        if (user_ext == NULL) {
            jc_http_error(resp, 400, "invalid_body", "'user' (a string or integer id) is missing");
            bad = 1;
        } else if (!jc_view_find_user(v, user_ext, strlen(user_ext), &one_user)) {
            jc_http_error(resp, 404, "not_found", "no user with id '%s'",
                          clipped(user_ext, c, sizeof c));
            bad = 1;
        }
    }
    for (int i = 0; i < n && !bad; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        const char *ie =
            tf ? json_id(e, "movieId", ib, sizeof ib) : json_scalar_id(e, ib, sizeof ib);
        if (ie == NULL) {
            jc_http_error(resp, 400, "invalid_body", "entry %d has no item id", i);
            bad = 1;
            break;
        }
        if (!jc_view_find_item(v, ie, strlen(ie), &ids[i])) {
            jc_http_error(resp, 404, "not_found", "no item with id '%s'", clipped(ie, c, sizeof c));
            bad = 1;
            break;
        }
        users[i] = one_user;
        if (tf) {
            const char *ue = json_id(e, "userId", ub, sizeof ub);
            if (ue && !jc_view_find_user(v, ue, strlen(ue), &users[i])) {
                jc_http_error(resp, 404, "not_found", "no user with id '%s'",
                              clipped(ue, c, sizeof c));
                bad = 1;
                break;
            }
            if (ue == NULL)
                users[i] = UINT32_MAX;
        }
    }
    const struct jc_model_comp *mc = NULL;
    int rc = JC_OK;
    if (!bad) {
        if (tf)
            for (int i = 0; i < n && rc == JC_OK; i++)
                rc = jc_pipeline_score_items(req->st, name, users[i], &ids[i], 1, 0, &p[i], &mc);
        else
            rc = jc_pipeline_score_items(req->st, name, one_user, ids, (size_t)n, 0, p, &mc);
        if (rc)
            jc_http_error(resp, 500, "internal", "scoring failed: %s",
                          jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
    }
    if (!bad && rc == JC_OK) {
        struct jc_json j;
        jc_resp_json(resp, &j);
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "model", mc->name);
        jc_json_kv_int(&j, "version", mc->version);
        if (!tf)
            jc_json_kv_str(&j, "user", user_ext);
        jc_json_key(&j, "predictions");
        jc_json_arr_begin(&j);
        for (int i = 0; i < n; i++) {
            if (tf)
                jc_json_arr_begin(&j);
            jc_json_double(&j, p[i]);
            if (tf)
                jc_json_arr_end(&j);
        }
        jc_json_arr_end(&j);
        jc_json_obj_end(&j);
        jc_resp_json_done(resp, &j);
    }
    jc_free(ids);
    jc_free(users);
    jc_free(p);
    cJSON_Delete(root);
}

/* ---- the route table --------------------------------------------------------- */

#define KB(x) ((size_t)(x)*1024)
#define CORS  JC_ROUTE_CORS

const struct jc_route jc_serve_routes[] = {
    {JC_M_GET, "/healthz", h_healthz, 0, 0},
    {JC_M_GET, "/readyz", h_readyz, 0, 0},
    {JC_M_GET, "/metrics", h_metrics, 0, 0},
    {JC_M_GET, "/api/v1/info", h_info, CORS, 0},
    {JC_M_GET, "/api/v1/genres", h_genres, CORS, 0},
    {JC_M_GET, "/api/v1/items", h_items, CORS, 0},
    {JC_M_POST, "/api/v1/items:lookup", h_items_lookup, CORS, KB(64)},
    {JC_M_GET, "/api/v1/items/{id}", h_item, CORS, 0},
    {JC_M_GET, "/api/v1/items/{id}/similar", h_item_similar, CORS, 0},
    {JC_M_GET, "/api/v1/users/{id}", h_user, CORS, 0},
    {JC_M_GET, "/api/v1/users/{id}/recommendations", h_user_recs, CORS, 0},
    {JC_M_POST, "/api/v1/events", jc_serve__post_events, JC_ROUTE_AUTH | CORS, KB(16384)},
    {JC_M_POST, "/api/v1/items", jc_serve__post_items, JC_ROUTE_AUTH | CORS, KB(16384)},
    {JC_M_POST, "/api/v1/users", jc_serve__post_users, JC_ROUTE_AUTH | CORS, KB(4096)},
    {JC_M_POST, "/api/v1/admin/reload", h_reload, JC_ROUTE_AUTH, KB(1)},
    {JC_M_POST, "/api/v1/models/{name}", h_model_predict, CORS, KB(256)},
    {JC_M_POST, "/v1/models/{name}", h_model_predict, CORS, KB(256)},
    {JC_M_GET, "/debug/sleep", h_debug_sleep, JC_ROUTE_AUTH | JC_ROUTE_DEBUG, 0},
    {JC_M_GET, "/getmovie", h_getmovie, CORS, 0},
    {JC_M_GET, "/getuser", h_getuser, CORS, 0},
    {JC_M_GET, "/getrecommendation", h_getrecommendation, CORS, 0},
    {JC_M_GET, "/getsimilarmovie", h_getsimilarmovie, CORS, 0},
    {JC_M_GET, "/getrecforyou", h_getrecforyou, CORS, 0},
    {JC_M_GET, "/reports/{path*}", jc_serve_reports, 0, 0},
    {JC_M_GET, "/{path*}", jc_serve_static, JC_ROUTE_FALLBACK, 0},
};

const size_t jc_serve_n_routes = sizeof jc_serve_routes / sizeof jc_serve_routes[0];
