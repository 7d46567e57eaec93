/*
 * server.c - the HTTP daemon on libmicrohttpd: lifecycle, request dispatch,
 * limits, authorization, CORS, metrics, access log, graceful shutdown.
 *
 * Threading model: libmicrohttpd runs its own threads (by default an epoll
 * loop per thread in a pool of cfg.threads); the access handler runs on them
 * and answers synchronously: every handler builds its whole body in memory
 * from the immutable snapshot it acquired, so a worker is never blocked on
 * another request. A request's life, as seen here:
 *   1. first callback: allocate the request context, match the route (the
 *      table in api.c), reject early (404/405/413) or, without a body,
 *      dispatch at once;
 *   2. body callbacks: append to a buffer capped at the route's limit;
 *   3. last callback: dispatch (handler -> response);
 *   4. completion callback: latency, metrics, access log line, free.
 * The in-flight count is the number of contexts alive between 1 and 4; a
 * graceful stop quiesces the listening socket and waits for it to reach 0.
 *
 * Every request gets an id in step 1 (the client's X-Request-Id when it is
 * safe, else 16 hex digits of xxh3 over a per-process sequence): it is in
 * the X-Request-Id response header, the access log line, recommendation
 * responses and the exposure events of the list it served.
 *
 * The write side lives here too: the server opens the event log (the one
 * writer of an embedded log; serve.events) and the exposure logger, loads
 * the overlay file of upserts, and publishes snapshots for reloads and
 * upserts alike under one mutex (publish()), each with its scenes and A/B
 * experiments compiled from the config and their metric series bound.
 * Stopping closes the exposure logger (draining its queue) and the event
 * log after the HTTP threads are gone.
 */
#include "serve/serve_int.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/pool.h"
#include "core/timeutil.h"
#include "serve/experiment.h"
#include "serve/pipeline.h"
#include <junco/error.h>
#include <junco/eventlog.h>
#include <junco/featspec.h>
#include <junco/nearline.h>

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATH_COPY_MAX 2048
#define QUERY_LOG_MAX 512

void jc_pipeline_thread_cleanup(void);

/* ---- configuration ------------------------------------------------------ */

void jc_serve_config_default(struct jc_serve_config *c)
{
    memset(c, 0, sizeof *c);
    c->home = "./junco-data";
    c->bind = "127.0.0.1";
    c->port = 8080;
    c->threads = 0;
    c->mode = JC_SERVE_EPOLL;
    c->cors_origin = "*";
    c->max_body = (size_t)1 << 20;
    c->max_n = 1000;
    c->connection_timeout_s = 30;
    c->drain_timeout_ms = 10000;
    c->max_connections = 1024;
    c->require = "catalog";
    c->events = JC_SERVE_EVENTS_ON;
    c->exposures = 1;
    c->exposure_queue = 65536;
    c->overlay_max = 100000;
    c->reload_ms = 1000;
    c->nearline = 0;
}

void jc_serve_config_from(struct jc_serve_config *c, const struct jc_config *cfg, const char *home)
{
    jc_serve_config_default(c);
    c->home = home;
    c->cfg = cfg;
    c->bind = cfg->serve_bind;
    c->port = (int)cfg->serve_port;
    c->threads = (int)cfg->serve_threads;
    c->mode = strcmp(cfg->serve_mode, "poll") == 0     ? JC_SERVE_POLL
              : strcmp(cfg->serve_mode, "thread") == 0 ? JC_SERVE_THREAD_PER_CONN
                                                       : JC_SERVE_EPOLL;
    c->web_root = cfg->serve_web_root;
    c->access_log = cfg->serve_access_log;
    c->api_key = cfg->serve_api_key;
    c->cors_origin = cfg->serve_cors_origin;
    c->max_body = (size_t)cfg->serve_max_body;
    c->max_n = (int)cfg->serve_max_n;
    c->connection_timeout_s = (int)cfg->serve_timeout;
    c->drain_timeout_ms = (int)(cfg->serve_drain_timeout * 1000.0);
    c->max_connections = (int)cfg->serve_max_connections;
    c->debug_routes = cfg->serve_debug;
    c->require = cfg->serve_require;
    c->events = strcmp(cfg->serve_events, "off") == 0        ? JC_SERVE_EVENTS_OFF
                : strcmp(cfg->serve_events, "optional") == 0 ? JC_SERVE_EVENTS_OPTIONAL
                                                             : JC_SERVE_EVENTS_ON;
    c->exposures = cfg->serve_exposures;
    c->exposure_queue = (size_t)cfg->serve_exposure_queue;
    c->overlay_max = (size_t)cfg->serve_overlay_max;
    c->reload_ms = (int)cfg->serve_reload_ms;
    c->nearline = cfg->serve_nearline;
}

/* ---- helpers for handlers ---------------------------------------------- */

const char *jc_req_query(const struct jc_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *jc_req_header(const struct jc_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void jc_resp_header(struct jc_http_resp *resp, const char *name, const char *fmt, ...)
{
    if (resp->n_headers >= JC_RESP_MAX_HEADERS)
        return;
    va_list ap;
    va_start(ap, fmt);
    resp->headers[resp->n_headers].name = name;
    vsnprintf(resp->headers[resp->n_headers].value, sizeof resp->headers[0].value, fmt, ap);
    va_end(ap);
    /* Header values never carry CR/LF, whatever went into them. */
    for (char *p = resp->headers[resp->n_headers].value; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    resp->n_headers++;
}

void jc_http_error(struct jc_http_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    resp->content_type = "application/json";
    resp->error_code = code;
    jc_buf_reset(&resp->body);
    struct jc_json j;
    jc_json_init(&j, &resp->body, 0);
    jc_json_obj_begin(&j);
    jc_json_key(&j, "error");
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "code", code);
    jc_json_kv_str(&j, "message", msg);
    jc_json_kv_int(&j, "status", status);
    jc_json_obj_end(&j);
    jc_json_obj_end(&j);
    if (jc_json_finish(&j) == JC_OK)
        jc_buf_append_char(&resp->body, '\n');
}

void jc_resp_json(struct jc_http_resp *resp, struct jc_json *j)
{
    resp->status = 200;
    resp->content_type = "application/json";
    jc_buf_reset(&resp->body);
    jc_json_init(j, &resp->body, 0);
}

void jc_resp_json_done(struct jc_http_resp *resp, struct jc_json *j)
{
    int rc = jc_json_finish(j);
    if (rc) {
        jc_http_error(resp, 500, "internal", "response too large or malformed (%s)",
                      jc_strerror(rc));
        return;
    }
    jc_buf_append_char(&resp->body, '\n');
}

/* Copies at most 64 bytes of user input for a message, printable ASCII. */
static const char *clip(const char *s, char *buf, size_t cap)
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

int jc_req_int(const struct jc_http_req *req, struct jc_http_resp *resp, const char *name,
               int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = jc_req_query(req, name);
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return 0;
    }
    int64_t x;
    char c[80];
    if (jc_parse_i64(v, strlen(v), &x) || x < lo || x > hi) {
        jc_http_error(resp, 400, "invalid_parameter",
                      "parameter '%s' must be an integer in [%lld, %lld], got '%s'", name,
                      (long long)lo, (long long)hi, clip(v, c, sizeof c));
        return -1;
    }
    *out = x;
    return 0;
}

const char *jc_req_required(const struct jc_http_req *req, struct jc_http_resp *resp,
                            const char *name)
{
    const char *v = jc_req_query(req, name);
    if (v == NULL || v[0] == '\0') {
        jc_http_error(resp, 400, "missing_parameter", "parameter '%s' is required", name);
        return NULL;
    }
    return v;
}

int jc_req_capture(const struct jc_http_req *req, struct jc_http_resp *resp, const char *name,
                   char *buf, size_t cap)
{
    size_t n = 0;
    const char *v = jc_route_param(&req->match, name, &n);
    if (v == NULL || n == 0 || n >= cap) {
        jc_http_error(resp, 400, "invalid_parameter", "path parameter '%s' is %s", name,
                      v == NULL || n == 0 ? "missing" : "too long");
        return -1;
    }
    memcpy(buf, v, n);
    buf[n] = '\0';
    return 0;
}

/* ---- metrics -------------------------------------------------------------- */

static struct jc_metric *status_series(struct jc_serve *s, int route_idx, int status)
{
    struct jc_route_metrics *rm = &s->rm[route_idx];
    if (status < 100 || status > 599)
        status = 599;
    struct jc_metric *m = atomic_load_explicit(&rm->by_status[status], memory_order_acquire);
    if (m)
        return m;
    const struct jc_route *r = jc_router_route(s->router, route_idx);
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    const char *vals[2] = {r ? r->pattern : "(unmatched)", code};
    if (jc_metrics_series(s->fam_requests, vals, &m) != JC_OK)
        return NULL;
    atomic_store_explicit(&rm->by_status[status], m, memory_order_release);
    return m;
}

static long read_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    long pages_total = 0, pages_rss = 0;
    int ok = fscanf(f, "%ld %ld", &pages_total, &pages_rss) == 2;
    fclose(f);
    return ok ? pages_rss * sysconf(_SC_PAGESIZE) : -1;
}

static void collect(void *ctx, struct jc_metrics *m)
{
    (void)m;
    struct jc_serve *s = ctx;
    struct jc_alloc_stats as;
    jc_alloc_get_stats(&as);
    jc_metric_set(s->m_mem_in_use, (double)as.bytes_in_use);
    long rss = read_rss_bytes();
    if (rss >= 0)
        jc_metric_set(s->m_rss, (double)rss);
    jc_metric_set(s->m_uptime, (double)(jc_wall_s() - s->started_at));
    jc_metric_set(s->m_in_flight, (double)atomic_load(&s->in_flight));
    struct jc_serve_state *st = jc_state_acquire(&s->slot);
    if (st) {
        jc_metric_set(s->m_items, jc_catalog_n_items(jc_state_cat(st)));
        jc_metric_set(s->m_users, jc_catalog_n_users(jc_state_cat(st)));
        jc_metric_set(s->m_interactions, (double)jc_catalog_n_interactions(jc_state_cat(st)));
        jc_metric_set(s->m_version, (double)st->version);
        jc_metric_set(s->m_snapshot_age, (double)(jc_wall_s() - st->published_at));
        const struct jc_overlay *ov = st->data->overlay;
        jc_metric_set(s->m_overlay[0], ov->n_items);
        jc_metric_set(s->m_overlay[1], ov->n_users);
        for (int i = 0; i < st->n_models; i++) {
            struct jc_metric *mv;
            if (jc_metrics_series(s->fam_model_version, (const char *const[]){st->models[i]->name},
                                  &mv) == JC_OK)
                jc_metric_set(mv, st->models[i]->version);
        }
        jc_metric_set(s->m_load_errors, st->load_errors);
        jc_state_release(st);
    }
    if (s->exposure) {
        struct jc_exposure_stats x;
        jc_exposure_get_stats(s->exposure, &x);
        const uint64_t v[5] = {x.appended, x.dropped_full, x.dropped_error, x.dropped_invalid,
                               x.dropped_no_log};
        for (int i = 0; i < 5; i++)
            jc_metric_set(s->m_expo[i], (double)v[i]);
        jc_metric_set(s->m_expo_depth, (double)x.depth);
    }
    if (s->eventlog) {
        struct jc_eventlog_stats es;
        jc_eventlog_get_stats(s->eventlog, &es);
        jc_metric_set(s->m_log_appended, (double)es.events_appended);
        jc_metric_set(s->m_log_errors, (double)es.append_errors);
        jc_metric_set(s->m_log_fsyncs, (double)es.fsyncs);
        jc_metric_set(s->m_log_p99, jc_eventlog_stats_quantile_us(&es, 0.99) / 1e6);
    }
}

/* Families of the write paths: events, exposures, event log, overlay, A/B. */
static int setup_write_metrics(struct jc_serve *s)
{
    struct jc_metrics *m = s->metrics;
    static const char *const result_label[] = {"result"};
    static const char *const kind_result[] = {"kind", "result"};
    static const char *const kind_label[] = {"kind"};
    static const char *const ab_labels[] = {"experiment", "variant"};
    struct jc_metric_family *ingest, *expo, *ov, *ups;
    int rc;
    if ((rc = jc_metrics_family(m, JC_METRIC_COUNTER, "junco_events_ingested_total",
                                "Events received by POST /api/v1/events, by result (accepted = "
                                "appended to the event log).",
                                result_label, 1, NULL, 0, &ingest)) ||
        (rc = jc_metrics_family(m, JC_METRIC_COUNTER, "junco_exposure_events_total",
                                "Impression events of served lists, by result: appended to the "
                                "event log, or dropped (queue full, append error, invalid, no "
                                "event log).",
                                result_label, 1, NULL, 0, &expo)) ||
        (rc = jc_metrics_family(m, JC_METRIC_GAUGE, "junco_overlay_entries",
                                "Items and users in the upsert overlay.", kind_label, 1, NULL, 0,
                                &ov)) ||
        (rc = jc_metrics_family(m, JC_METRIC_COUNTER, "junco_overlay_upserts_total",
                                "Upserted records by kind and result (created or updated).",
                                kind_result, 2, NULL, 0, &ups)) ||
        (rc = jc_metrics_family(m, JC_METRIC_COUNTER, "junco_ab_assignments_total",
                                "Recommendation requests served per A/B experiment and variant.",
                                ab_labels, 2, NULL, 0, &s->fam_ab)))
        return rc;
    static const char *const ingest_v[2] = {"accepted", "rejected"};
    for (int i = 0; i < 2; i++)
        if ((rc = jc_metrics_series(ingest, (const char *const[]){ingest_v[i]}, &s->m_ingest[i])))
            return rc;
    static const char *const expo_v[5] = {"appended", "dropped_queue_full", "dropped_error",
                                          "dropped_invalid", "dropped_no_log"};
    for (int i = 0; i < 5; i++)
        if ((rc = jc_metrics_series(expo, (const char *const[]){expo_v[i]}, &s->m_expo[i])))
            return rc;
    static const char *const kinds[2] = {"item", "user"};
    static const char *const results[2] = {"created", "updated"};
    for (int k = 0; k < 2; k++) {
        if ((rc = jc_metrics_series(ov, (const char *const[]){kinds[k]}, &s->m_overlay[k])))
            return rc;
        for (int r = 0; r < 2; r++)
            if ((rc = jc_metrics_series(ups, (const char *const[]){kinds[k], results[r]},
                                        &s->m_upserts[k][r])))
                return rc;
    }
    if ((rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_exposure_queue_events",
                                "Impression events queued for the event log.", &s->m_expo_depth)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_COUNTER, "junco_eventlog_events_appended_total",
                                "Events the event log acknowledged (this process).",
                                &s->m_log_appended)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_COUNTER, "junco_eventlog_append_errors_total",
                                "Failed event log appends.", &s->m_log_errors)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_COUNTER, "junco_eventlog_fsyncs_total",
                                "fsync calls of the embedded event log.", &s->m_log_fsyncs)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_eventlog_append_p99_seconds",
                                "99th percentile of event log append latency since start.",
                                &s->m_log_p99)))
        return rc;
    return JC_OK;
}

static int setup_metrics(struct jc_serve *s)
{
    int rc = jc_metrics_create(&s->metrics);
    if (rc)
        return rc;
    struct jc_metrics *m = s->metrics;
    static const char *const req_labels[] = {"route", "code"};
    static const char *const route_label[] = {"route"};
    static const char *const stage_label[] = {"stage"};
    static const char *const model_label[] = {"model", "reason"};
    static const char *const result_label[] = {"result"};
    struct jc_metric_family *lat, *stage, *reloads, *build;
    size_t nr = jc_router_count(s->router);
    s->rm = jc_calloc(nr + 1, sizeof *s->rm);
    if (s->rm == NULL)
        return JC_ENOMEM;
    if ((rc = jc_metrics_family(m, JC_METRIC_COUNTER, "junco_http_requests_total",
                                "HTTP requests by route pattern and status code.", req_labels, 2,
                                NULL, 0, &s->fam_requests)) ||
        (rc = jc_metrics_family(m, JC_METRIC_HISTOGRAM, "junco_http_request_duration_seconds",
                                "Time from the first byte of a request to the end of its "
                                "response, by route pattern.",
                                route_label, 1, NULL, 0, &lat)) ||
        (rc = jc_metrics_family(m, JC_METRIC_HISTOGRAM, "junco_pipeline_stage_seconds",
                                "Recommendation pipeline time per stage.", stage_label, 1, NULL, 0,
                                &stage)) ||
        (rc = jc_metrics_family(m, JC_METRIC_COUNTER, "junco_rank_fallback_total",
                                "Requests whose requested model was not used, by requested "
                                "model and reason (not_loaded, error).",
                                model_label, 2, NULL, 0, &s->fam_fallback)) ||
        (rc = jc_metrics_family(m, JC_METRIC_GAUGE, "junco_model_version",
                                "Registry version of each served ranking model.", model_label, 1,
                                NULL, 0, &s->fam_model_version)) ||
        (rc = jc_metrics_family(m, JC_METRIC_COUNTER, "junco_recall_channel_skipped_total",
                                "Recall channel runs skipped, by channel and reason "
                                "(no_resource: its embedding/model/store is not loaded; error).",
                                (const char *const[]){"channel", "reason"}, 2, NULL, 0,
                                &s->fam_skipped)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_snapshot_load_errors",
                                "Model, embedding or index files the served snapshot skipped "
                                "because they failed to load.",
                                &s->m_load_errors)) ||
        (rc = jc_metrics_family(m, JC_METRIC_COUNTER, "junco_snapshot_reloads_total",
                                "Snapshot reloads by result.", result_label, 1, NULL, 0,
                                &reloads)) ||
        (rc = jc_metrics_family(m, JC_METRIC_GAUGE, "junco_build_info",
                                "Always 1; the label carries the junco version.",
                                (const char *const[]){"version"}, 1, NULL, 0, &build)))
        return rc;
    for (size_t i = 0; i <= nr; i++) {
        const struct jc_route *r = jc_router_route(s->router, (int)i);
        const char *v[1] = {r ? r->pattern : "(unmatched)"};
        if ((rc = jc_metrics_series(lat, v, &s->rm[i].latency)))
            return rc;
    }
    static const char *const stages[3] = {"recall", "rank", "rerank"};
    for (int i = 0; i < 3; i++)
        if ((rc = jc_metrics_series(stage, (const char *const[]){stages[i]}, &s->m_stage[i])))
            return rc;
    struct jc_metric *bi;
    if ((rc = jc_metrics_series(reloads, (const char *const[]){"ok"}, &s->m_reloads_ok)) ||
        (rc = jc_metrics_series(reloads, (const char *const[]){"failed"}, &s->m_reloads_failed)) ||
        (rc = jc_metrics_series(build, (const char *const[]){JUNCO_VERSION_STRING}, &bi)))
        return rc;
    jc_metric_set(bi, 1);
    if ((rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_http_in_flight_requests",
                                "Requests being processed.", &s->m_in_flight)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_snapshot_version",
                                "Version of the served snapshot (increases on reload).",
                                &s->m_version)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_snapshot_age_seconds",
                                "Seconds since the served snapshot was published.",
                                &s->m_snapshot_age)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_catalog_items",
                                "Items in the served catalog.", &s->m_items)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_catalog_users",
                                "Users in the served catalog.", &s->m_users)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_catalog_interactions",
                                "Interactions in the served catalog.", &s->m_interactions)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_heap_bytes_in_use",
                                "Bytes allocated through junco's allocator.", &s->m_mem_in_use)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_process_resident_memory_bytes",
                                "Resident set size of the process.", &s->m_rss)) ||
        (rc = jc_metrics_simple(m, JC_METRIC_GAUGE, "junco_uptime_seconds",
                                "Seconds since the server started.", &s->m_uptime)))
        return rc;
    if ((rc = setup_write_metrics(s)))
        return rc;
    return jc_metrics_add_collector(m, collect, s);
}

void jc_serve__observe_pipeline(struct jc_serve *s, const struct jc_scene *sc,
                                const struct jc_reco_result *res)
{
    for (int i = 0; i < 3; i++)
        jc_metric_observe(s->m_stage[i], (double)res->stage_ns[i] / 1e9);
    struct jc_metric *m;
    if (res->fallback && res->fallback_model && res->fallback_code &&
        jc_metrics_series(s->fam_fallback,
                          (const char *const[]){res->fallback_model, res->fallback_code},
                          &m) == JC_OK)
        jc_metric_inc(m);
    for (int c = 0; c < sc->n_recall; c++) {
        const char *why = (res->channel_skipped >> c) & 1u  ? "no_resource"
                          : (res->channel_failed >> c) & 1u ? "error"
                                                            : NULL;
        if (why &&
            jc_metrics_series(s->fam_skipped, (const char *const[]){sc->recall[c].ch->name, why},
                              &m) == JC_OK)
            jc_metric_inc(m);
    }
}

/* ---- authorization ------------------------------------------------------ */

static int const_time_eq(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = (unsigned char)(na != nb);
    for (size_t i = 0; i < nb; i++)
        d |= (unsigned char)((i < na ? (unsigned char)a[i] : 0) ^ (unsigned char)b[i]);
    return d == 0;
}

int jc_serve__authorize(struct jc_http_req *req, struct jc_http_resp *resp)
{
    const struct jc_serve *s = req->srv;
    const char *key = s->cfg.api_key;
    if (key && key[0]) {
        const char *got = jc_req_header(req, "X-API-Key");
        const char *auth = jc_req_header(req, "Authorization");
        if (got == NULL && auth && strncasecmp(auth, "Bearer ", 7) == 0)
            got = auth + 7;
        if (got == NULL) {
            jc_http_error(resp, 401, "unauthorized",
                          "this endpoint needs the API key (header X-API-Key or "
                          "Authorization: Bearer KEY)");
            jc_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"junco\"");
            return 0;
        }
        if (!const_time_eq(got, key)) {
            jc_http_error(resp, 403, "forbidden", "wrong API key");
            return 0;
        }
        return 1;
    }
    if (s->loopback)
        return 1;
    jc_http_error(resp, 403, "forbidden",
                  "write and admin endpoints are disabled when the server listens on a "
                  "non-loopback address without serve.api_key");
    return 0;
}

/* ---- request handling ---------------------------------------------------- */

struct reqctx {
    uint64_t t0;
    int64_t wall_ms;
    unsigned method_bit;
    char method[12];
    char path[PATH_COPY_MAX];
    char query[QUERY_LOG_MAX];
    enum jc_route_result rres;
    struct jc_route_match match;
    struct jc_buf body;
    int body_too_large;
    int responded;
    int status;
    uint64_t bytes;
    const char *error_code;
    int has_state;
    char request_id[JC_REQUEST_ID_MAX + 1];
};

static void queue(struct jc_serve *s, struct MHD_Connection *conn, struct reqctx *ctx,
                  const struct jc_route *route, struct jc_http_resp *resp)
{
    size_t len = 0;
    char *data = resp->body.len ? jc_buf_detach(&resp->body, &len) : NULL;
    struct MHD_Response *r;
    if (data)
        r = MHD_create_response_from_buffer_with_free_callback(len, data, jc_free);
    else
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        jc_free(data);
        ctx->responded = 1;
        ctx->status = 500;
        return;
    }
    if (resp->content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (int i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    int cors = route ? (route->flags & JC_ROUTE_CORS) != 0
                     : strncmp(ctx->path, "/api/", 5) == 0 || strncmp(ctx->path, "/get", 4) == 0;
    if (cors && s->cfg.cors_origin && s->cfg.cors_origin[0])
        MHD_add_response_header(r, "Access-Control-Allow-Origin", s->cfg.cors_origin);
    if (cors && s->cfg.cors_origin && s->cfg.cors_origin[0])
        MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                "X-Request-Id, X-Junco-Ranker, X-Junco-Model, X-Junco-Experiment, "
                                "X-Junco-Variant, X-Junco-Experiments");
    MHD_add_response_header(r, "X-Request-Id", ctx->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (atomic_load(&s->draining))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    ctx->responded = 1;
    ctx->status = resp->status;
    ctx->bytes = len;
    ctx->error_code = resp->error_code;
}

static void respond_error(struct jc_serve *s, struct MHD_Connection *conn, struct reqctx *ctx,
                          int status, const char *code, const char *msg, unsigned allow)
{
    struct jc_http_resp resp;
    memset(&resp, 0, sizeof resp);
    jc_buf_init(&resp.body, JC_RESP_BODY_CAP);
    jc_http_error(&resp, status, code, "%s", msg);
    if (allow) {
        char methods[64];
        jc_http_methods_str(allow, methods, sizeof methods);
        jc_resp_header(&resp, "Allow", "%s", methods);
    }
    queue(s, conn, ctx, NULL, &resp);
    jc_buf_free(&resp.body);
}

static void respond_preflight(struct jc_serve *s, struct MHD_Connection *conn, struct reqctx *ctx,
                              unsigned allow)
{
    struct jc_http_resp resp;
    memset(&resp, 0, sizeof resp);
    jc_buf_init(&resp.body, JC_RESP_BODY_CAP);
    char methods[64];
    jc_http_methods_str(allow | JC_M_OPTIONS, methods, sizeof methods);
    resp.status = 204;
    jc_resp_header(&resp, "Allow", "%s", methods);
    jc_resp_header(&resp, "Access-Control-Allow-Methods", "%s", methods);
    jc_resp_header(&resp, "Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key");
    jc_resp_header(&resp, "Access-Control-Max-Age", "600");
    queue(s, conn, ctx, NULL, &resp);
    jc_buf_free(&resp.body);
}

static void dispatch(struct jc_serve *s, struct MHD_Connection *conn, struct reqctx *ctx)
{
    const struct jc_route *route = jc_router_route(s->router, ctx->match.index);
    struct jc_http_resp resp;
    memset(&resp, 0, sizeof resp);
    jc_buf_init(&resp.body, JC_RESP_BODY_CAP);
    struct jc_http_req req = {
        .srv = s,
        .conn = conn,
        .method = ctx->method,
        .method_bit = ctx->method_bit,
        .path = ctx->path,
        .route = route,
        .match = ctx->match,
        .body = ctx->body.len ? ctx->body.data : NULL,
        .body_len = ctx->body.len,
        .request_id = ctx->request_id,
    };
    req.st = jc_state_acquire(&s->slot);
    if ((route->flags & JC_ROUTE_AUTH) == 0 || jc_serve__authorize(&req, &resp)) {
        route->fn(&req, &resp);
        if (resp.status == 0)
            jc_http_error(&resp, 500, "internal", "handler produced no response");
    }
    jc_state_release(req.st);
    queue(s, conn, ctx, route, &resp);
    jc_buf_free(&resp.body);
}

static int request_has_body(struct MHD_Connection *conn, uint64_t *declared)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    *declared = 0;
    if (cl && jc_parse_u64(cl, strlen(cl), declared) == JC_OK && *declared > 0)
        return 1;
    return te != NULL;
}

/* The client's X-Request-Id when it is 1..64 bytes of [A-Za-z0-9._:-]
 * (so it is safe in headers, logs and events), else a new one: 16 hex
 * digits of xxh3 over a per-process sequence seeded at start. */
static void request_id(struct jc_serve *s, struct MHD_Connection *conn, char *out, size_t cap)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = h ? strlen(h) : 0;
    int ok = n > 0 && n <= JC_REQUEST_ID_MAX && n < cap;
    for (size_t i = 0; ok && i < n; i++) {
        char c = h[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == ':' || c == '-';
    }
    if (ok) {
        memcpy(out, h, n + 1);
        return;
    }
    uint64_t seq = atomic_fetch_add(&s->request_seq, 1);
    snprintf(out, cap, "%016llx", (unsigned long long)jc_hash64(&seq, sizeof seq, 0x6a756e636fULL));
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct reqctx *ctx = cls;
    size_t len = strlen(ctx->query);
    snprintf(ctx->query + len, sizeof ctx->query - len, "%s%s%s%s", len ? "&" : "", key,
             value ? "=" : "", value ? value : "");
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct jc_serve *s = cls;
    struct reqctx *ctx = *con_cls;
    if (ctx == NULL) {
        ctx = jc_calloc(1, sizeof *ctx);
        if (ctx == NULL)
            return MHD_NO; /* MHD closes the connection */
        *con_cls = ctx;
        atomic_fetch_add(&s->in_flight, 1);
        ctx->t0 = jc_now_ns();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ctx->wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        snprintf(ctx->method, sizeof ctx->method, "%s", method);
        ctx->method_bit = jc_http_method_bit(method);
        request_id(s, conn, ctx->request_id, sizeof ctx->request_id);
        jc_buf_init(&ctx->body, s->cfg.max_body ? s->cfg.max_body : 1);
        if (s->alog)
            MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, ctx);
        size_t ul = strlen(url);
        if (ul >= sizeof ctx->path) {
            snprintf(ctx->path, sizeof ctx->path, "%.64s...", url);
            ctx->match.index = -1;
            respond_error(s, conn, ctx, 414, "uri_too_long", "request path too long", 0);
            return MHD_YES;
        }
        memcpy(ctx->path, url, ul + 1);
        ctx->rres = jc_router_match(s->router, ctx->method_bit, ctx->path, &ctx->match);
        const struct jc_route *route = jc_router_route(s->router, ctx->match.index);
        if (route && (route->flags & JC_ROUTE_DEBUG) && !s->cfg.debug_routes) {
            ctx->match.index = -1;
            ctx->rres = JC_ROUTE_NO_PATH;
            route = NULL;
        }
        /* Only an announced oversized body is answered at once (and the
         * connection closed, as its body is never read); everything else
         * is answered from the last callback, which keeps keep-alive. */
        uint64_t declared;
        int has_body = request_has_body(conn, &declared);
        size_t limit = route ? route->body_limit : 0;
        if (limit > s->cfg.max_body)
            limit = s->cfg.max_body;
        if (route && has_body && limit == 0) {
            respond_error(s, conn, ctx, 413, "payload_too_large",
                          "this endpoint takes no request body", 0);
            return MHD_YES;
        }
        if (route && has_body && declared > limit) {
            char msg[128];
            snprintf(msg, sizeof msg, "request body of %llu bytes exceeds the limit of %zu",
                     (unsigned long long)declared, limit);
            respond_error(s, conn, ctx, 413, "payload_too_large", msg, 0);
            return MHD_YES;
        }
        ctx->body.cap = limit ? limit : 1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ctx->responded && !ctx->body_too_large &&
            jc_buf_append(&ctx->body, upload_data, *upload_data_size) != JC_OK)
            ctx->body_too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->responded)
        return MHD_YES;
    if (ctx->rres == JC_ROUTE_NO_METHOD && ctx->method_bit == JC_M_OPTIONS)
        respond_preflight(s, conn, ctx, ctx->match.allowed);
    else if (ctx->rres == JC_ROUTE_NO_METHOD)
        respond_error(s, conn, ctx, 405, "method_not_allowed", "method not allowed for this path",
                      ctx->match.allowed);
    else if (ctx->match.index < 0)
        respond_error(s, conn, ctx, 404, "not_found", "no such endpoint", 0);
    else if (ctx->body_too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", ctx->body.cap);
        respond_error(s, conn, ctx, 413, "payload_too_large", msg, 0);
    } else
        dispatch(s, conn, ctx);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct jc_serve *s = cls;
    struct reqctx *ctx = *con_cls;
    if (ctx == NULL)
        return;
    *con_cls = NULL;
    uint64_t ns = jc_now_ns() - ctx->t0;
    int status = ctx->responded ? ctx->status : 499; /* client went away first */
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && ctx->responded && status < 400)
        status = 499;
    int ri = ctx->match.index >= 0 ? ctx->match.index : (int)jc_router_count(s->router);
    jc_metric_observe(s->rm[ri].latency, (double)ns / 1e9);
    struct jc_metric *m = status_series(s, ri, status);
    if (m)
        jc_metric_inc(m);
    if (s->alog) {
        char remote[INET6_ADDRSTRLEN] = "";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, remote,
                      sizeof remote);
        const struct jc_route *r = jc_router_route(s->router, ctx->match.index);
        struct jc_access_entry e = {
            .wall_ms = ctx->wall_ms,
            .method = ctx->method,
            .path = ctx->path,
            .query = ctx->query,
            .route = r ? r->pattern : NULL,
            .status = status,
            .bytes = ctx->bytes,
            .latency_us = ns / 1000,
            .remote = remote[0] ? remote : NULL,
            .error = ctx->error_code,
            .request_id = ctx->request_id[0] ? ctx->request_id : NULL,
        };
        jc_accesslog_write(s->alog, &e);
    }
    jc_buf_free(&ctx->body);
    jc_free(ctx);
    atomic_fetch_sub(&s->in_flight, 1);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding of paths and query arguments, as libmicrohttpd's default
 * except that "%00" stays literal: a decoded NUL would silently cut a C
 * string ("/index.html%00.js" must not become "/index.html"). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    JC_DEBUG("http: %s", msg);
}

/* ---- lifecycle ------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    return s ? jc_strdup(s) : NULL;
}

static int catalog_path(const struct jc_serve *s, char *out, size_t cap)
{
    if (s->cfg.catalog_path && s->cfg.catalog_path[0])
        return snprintf(out, cap, "%s", s->cfg.catalog_path) < (int)cap
                   ? JC_OK
                   : jc_err_set(JC_ELIMIT, "catalog path too long");
    return jc_path_join(out, cap, s->cfg.home ? s->cfg.home : ".", "catalog/catalog.jcat");
}

/* Gives every variant of a new (unpublished) snapshot its assignment
 * counter; series live as long as the registry. */
static void bind_ab_metrics(struct jc_serve *s, struct jc_serve_state *st)
{
    struct jc_experiments *e = st->experiments;
    for (int k = 0; k < e->n_exp; k++)
        for (int v = 0; v < e->exp[k].n_variants; v++) {
            struct jc_exp_variant *var = &e->exp[k].v[v];
            if (jc_metrics_series(s->fam_ab, (const char *const[]){e->exp[k].name, var->name},
                                  &var->m_assigned) != JC_OK)
                var->m_assigned = NULL;
        }
}

/* Builds a snapshot over data (scenes and experiments from the config;
 * models, embeddings and indexes from the home, sharing the current
 * snapshot's unchanged ones) and publishes it when force is set or a
 * component changed. Called under reload_mu. */
static int publish_if(struct jc_serve *s, struct jc_data_comp *data, int force, int *published)
{
    struct jc_serve_state *st, *cur = jc_state_acquire(&s->slot);
    struct jc_comps_opts o = {.home = s->home, .cfg = s->cfg.cfg, .prev = cur, .store = s->store};
    int changed = 0;
    int rc = jc_serve_state_build(&st, data, s->cfg.cfg, s->version + 1, &o, &changed);
    jc_state_release(cur);
    if (published)
        *published = 0;
    if (rc)
        return rc;
    if (!force && !changed) {
        jc_state_release(st);
        return JC_OK;
    }
    bind_ab_metrics(s, st);
    s->version++;
    jc_state_slot_swap(&s->slot, st);
    if (published)
        *published = 1;
    return JC_OK;
}

static int publish(struct jc_serve *s, struct jc_data_comp *data)
{
    return publish_if(s, data, 1, NULL);
}

int jc_serve__refresh(struct jc_serve *s, int *published)
{
    pthread_mutex_lock(&s->reload_mu);
    struct jc_serve_state *cur = jc_state_acquire(&s->slot);
    int rc = cur ? publish_if(s, cur->data, 0, published)
                 : jc_err_set(JC_ESTATE, "no snapshot is published yet");
    if (rc == JC_OK && published && *published)
        jc_metric_inc(s->m_reloads_ok);
    else if (rc && s->m_reloads_failed)
        jc_metric_inc(s->m_reloads_failed);
    jc_state_release(cur);
    pthread_mutex_unlock(&s->reload_mu);
    return rc;
}

/* The watcher: every reload_ms, jc_serve__refresh. */
static void *watcher_main(void *arg)
{
    struct jc_serve *s = arg;
    pthread_mutex_lock(&s->watch_mu);
    while (!s->watch_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)s->cfg.reload_ms * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&s->watch_cv, &s->watch_mu, &ts);
        if (s->watch_stop)
            break;
        pthread_mutex_unlock(&s->watch_mu);
        int published = 0;
        if (jc_serve__refresh(s, &published) != JC_OK)
            JC_WARN("serve: refreshing models failed: %s", jc_errmsg());
        else if (published)
            JC_INFO("serve: published snapshot %llu (models/embeddings changed)",
                    (unsigned long long)s->version);
        pthread_mutex_lock(&s->watch_mu);
    }
    pthread_mutex_unlock(&s->watch_mu);
    return NULL;
}

static void stop_watcher(struct jc_serve *s)
{
    if (!s->watcher_running)
        return;
    pthread_mutex_lock(&s->watch_mu);
    s->watch_stop = 1;
    pthread_cond_signal(&s->watch_cv);
    pthread_mutex_unlock(&s->watch_mu);
    pthread_join(s->watcher, NULL);
    s->watcher_running = 0;
}

/* The nearline worker over the server's event log and store (cfg.nearline):
 * the feature spec of [features] over the served catalog, the default
 * embedding for realtime user vectors. */
static int start_nearline(struct jc_serve *s)
{
    if (!s->cfg.nearline)
        return JC_OK;
    if (s->eventlog == NULL)
        return jc_err_set(JC_ESTATE, "--nearline needs the event log (serve.events): %s",
                          s->eventlog_error[0] ? s->eventlog_error : "not open");
    if (s->store == NULL)
        return jc_err_set(JC_ESTATE, "--nearline needs the feature store");
    struct jc_serve_state *st = jc_state_acquire(&s->slot);
    if (st == NULL)
        return jc_err_set(JC_ESTATE, "no snapshot is published yet");
    struct jc_featspec_opts fo;
    jc_featspec_opts_default(&fo);
    if (s->cfg.cfg)
        jc_featspec_opts_from_config(&fo, s->cfg.cfg);
    int rc = jc_featspec_create(&s->nl_spec, &fo, jc_state_cat(st));
    if (rc == JC_OK) {
        jc_rc_retain(&st->data->catalog->rc);
        s->nl_catalog = st->data->catalog;
        struct jc_nearline_config nc;
        jc_nearline_config_default(&nc);
        if (s->cfg.cfg)
            jc_nearline_config_from(&nc, s->cfg.cfg);
        nc.log = s->eventlog;
        nc.store = s->store->store;
        nc.cat = s->nl_catalog->cat;
        nc.spec = s->nl_spec;
        nc.metrics = s->metrics;
        /* realtime user vectors of the default embedding (the snapshot's
         * component outlives the worker: the worker is stopped before the
         * slot is freed, and it keeps its own reference below) */
        const struct jc_emb_comp *e = jc_serve_find_emb(st, NULL);
        if (e) {
            s->nl_emb = (struct jc_emb_comp *)e;
            jc_rc_retain(&s->nl_emb->rc);
            nc.emb = e->emb;
            nc.emb_name = e->name;
            nc.emb_half_life_s = st->half_life_s;
        }
        rc = jc_nearline_create(&s->nearline, &nc);
        if (rc == JC_OK && (rc = jc_nearline_start(s->nearline))) {
            jc_nearline_destroy(s->nearline);
            s->nearline = NULL;
        }
    }
    jc_state_release(st);
    return rc;
}

int jc_serve__reload(struct jc_serve *s)
{
    pthread_mutex_lock(&s->reload_mu);
    char path[PATH_MAX];
    int rc = catalog_path(s, path, sizeof path);
    struct jc_catalog_comp *cc = NULL;
    struct jc_data_comp *dc = NULL;
    if (rc == JC_OK)
        rc = jc_catalog_comp_open(&cc, path);
    if (rc == JC_OK)
        rc = jc_data_comp_create(&dc, cc, s->overlay);
    if (cc)
        jc_rc_release(&cc->rc); /* the data component holds its own reference */
    if (rc == JC_OK)
        rc = publish(s, dc);
    if (dc)
        jc_rc_release(&dc->rc);
    if (rc == JC_OK)
        jc_metric_inc(s->m_reloads_ok);
    else if (s->m_reloads_failed)
        jc_metric_inc(s->m_reloads_failed);
    pthread_mutex_unlock(&s->reload_mu);
    return rc;
}

int jc_serve__upsert(struct jc_serve *s, const struct jc_ov_patches *p, uint8_t *created,
                     uint64_t *version)
{
    pthread_mutex_lock(&s->reload_mu);
    struct jc_serve_state *cur = jc_state_acquire(&s->slot);
    struct jc_overlay *next = NULL;
    struct jc_data_comp *dc = NULL;
    int rc = cur ? JC_OK : jc_err_set(JC_ESTATE, "no snapshot is published yet");
    if (rc == JC_OK)
        rc = jc_overlay_apply(s->overlay, p, jc_state_cat(cur), s->cfg.overlay_max,
                              jc_wall_s() * 1000, &next, created);
    /* Durable first: a snapshot never serves what a restart would lose. */
    if (rc == JC_OK)
        rc = jc_overlay_save(next, s->overlay_path);
    if (rc == JC_OK)
        rc = jc_data_comp_create(&dc, cur->data->catalog, next);
    if (rc == JC_OK)
        rc = publish(s, dc);
    if (rc == JC_OK) {
        jc_rc_release(&s->overlay->rc);
        s->overlay = next;
        next = NULL;
        *version = s->version;
        for (size_t i = 0; i < p->n; i++) {
            int k = p->recs[i]->kind == JC_OV_ITEM ? 0 : 1;
            jc_metric_inc(s->m_upserts[k][created && created[i] ? 0 : 1]);
        }
    }
    if (dc)
        jc_rc_release(&dc->rc);
    if (next)
        jc_rc_release(&next->rc);
    jc_state_release(cur);
    pthread_mutex_unlock(&s->reload_mu);
    return rc;
}

int jc_serve_reload(struct jc_serve *s)
{
    return jc_serve__reload(s);
}

static int check_require(const char *req)
{
    const char *p = req ? req : "";
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *t = p;
        size_t tn = n;
        jc_trim(&t, &tn);
        if (tn && !(tn == 7 && memcmp(t, "catalog", 7) == 0) &&
            !(tn == 6 && memcmp(t, "events", 6) == 0))
            return jc_err_set(JC_EINVAL,
                              "serve.require: unknown component '%.*s' (known: catalog, events)",
                              (int)tn, t);
        if (e == NULL)
            break;
        p = e + 1;
    }
    return JC_OK;
}

/* Opens the event log per serve.events; "optional" records why it could
 * not be opened and carries on. */
static int open_events(struct jc_serve *s)
{
    if (s->cfg.events == JC_SERVE_EVENTS_OFF) {
        snprintf(s->eventlog_error, sizeof s->eventlog_error, "disabled (serve.events = off)");
        return JC_OK;
    }
    struct jc_eventlog_config c;
    if (s->cfg.cfg)
        jc_eventlog_config_from_settings(&c, s->cfg.cfg, s->events_dir);
    else {
        jc_eventlog_config_default(&c);
        c.dir = s->events_dir;
    }
    int rc = jc_eventlog_open(&s->eventlog, &c);
    if (rc == JC_OK)
        return JC_OK;
    s->eventlog = NULL;
    if (s->cfg.events == JC_SERVE_EVENTS_ON)
        return jc_err_prefix(rc, "event log (set serve.events = optional to serve without it)");
    snprintf(s->eventlog_error, sizeof s->eventlog_error, "%s",
             jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
    JC_WARN("serving without the event log: %s", s->eventlog_error);
    return JC_OK;
}

static int start_daemon(struct jc_serve *s)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->cfg.port);
    if (inet_pton(AF_INET, s->cfg.bind, &addr.sin_addr) != 1)
        return jc_err_set(JC_EINVAL, "serve.bind: '%s' is not an IPv4 address", s->cfg.bind);
    s->loopback = (ntohl(addr.sin_addr.s_addr) >> 24) == 127;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    int threads = s->cfg.threads > 0 ? s->cfg.threads : jc_cpu_count();
    struct MHD_OptionItem opts[16];
    int n = 0;
    if (s->cfg.mode == JC_SERVE_THREAD_PER_CONN) {
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    } else {
        flags |= s->cfg.mode == JC_SERVE_POLL ? MHD_USE_POLL : MHD_USE_EPOLL;
        if (threads > 1)
            opts[n++] =
                (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                        (intptr_t)s->cfg.connection_timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                        (intptr_t)s->cfg.max_connections, NULL};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)(64 * 1024), NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    errno = 0;
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
                                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (d == NULL) {
        int e = errno;
        return jc_err_set(JC_EIO, "cannot listen on %s:%d: %s", s->cfg.bind, s->cfg.port,
                          e ? strerror(e) : "libmicrohttpd refused to start");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? (int)info->port : s->cfg.port;
    s->daemon = d;
    return JC_OK;
}

int jc_serve_open(struct jc_serve **out, const struct jc_serve_config *cfg)
{
    struct jc_serve *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    s->cfg = *cfg;
    s->quiesced_fd = -1;
    s->started_at = jc_wall_s();
    uint64_t seed[2] = {jc_now_ns(), (uint64_t)getpid()};
    atomic_init(&s->request_seq, jc_hash64(seed, sizeof seed, 0));
    pthread_mutex_init(&s->reload_mu, NULL);
    pthread_mutex_init(&s->watch_mu, NULL);
    pthread_cond_init(&s->watch_cv, NULL);
    jc_state_slot_init(&s->slot);
    s->own_bind = dup_or_null(cfg->bind ? cfg->bind : "127.0.0.1");
    s->own_web_root = dup_or_null(cfg->web_root);
    s->own_api_key = dup_or_null(cfg->api_key);
    s->own_cors = dup_or_null(cfg->cors_origin);
    s->own_require = dup_or_null(cfg->require);
    s->own_catalog = dup_or_null(cfg->catalog_path);
    s->cfg.bind = s->own_bind;
    s->cfg.web_root = s->own_web_root;
    s->cfg.api_key = s->own_api_key;
    s->cfg.cors_origin = s->own_cors;
    s->cfg.require = s->own_require;
    s->cfg.catalog_path = s->own_catalog;
    s->cfg.access_log = NULL;
    s->cfg.home = NULL; /* resolved paths below are what stays valid */
    int rc = JC_OK;
    if (s->cfg.port < 0 || s->cfg.port > 65535)
        rc = jc_err_set(JC_EINVAL, "port %d is not in [0, 65535]", s->cfg.port);
    if (rc == JC_OK && (s->cfg.max_n < 1 || s->cfg.max_n > 100000))
        rc = jc_err_set(JC_EINVAL, "serve.max_n %d is not in [1, 100000]", s->cfg.max_n);
    if (rc == JC_OK)
        rc = check_require(s->cfg.require);
    if (rc == JC_OK && (s->cfg.reload_ms < 0 || s->cfg.reload_ms > 86400000))
        rc = jc_err_set(JC_EINVAL, "serve.reload_ms %d is not in [0, 86400000]", s->cfg.reload_ms);
    if (rc == JC_OK &&
        snprintf(s->home, sizeof s->home, "%s", cfg->home ? cfg->home : ".") >= (int)sizeof s->home)
        rc = jc_err_set(JC_ELIMIT, "home path too long");
    /* The feature store: shared by every snapshot; read-only unless the
     * nearline worker runs here (absent when it does not exist). */
    if (rc == JC_OK)
        rc = jc_store_comp_open(&s->store, s->home, cfg->cfg, !cfg->nearline);
    /* The catalog path is resolved now, while cfg->home is valid. */
    if (rc == JC_OK && (s->cfg.catalog_path == NULL || s->cfg.catalog_path[0] == '\0')) {
        char p[PATH_MAX];
        rc = jc_path_join(p, sizeof p, cfg->home ? cfg->home : ".", "catalog/catalog.jcat");
        if (rc == JC_OK) {
            jc_free(s->own_catalog);
            s->own_catalog = jc_strdup(p);
            s->cfg.catalog_path = s->own_catalog;
            if (s->own_catalog == NULL)
                rc = JC_ENOMEM;
        }
    }
    if (rc == JC_OK && cfg->web_root && cfg->web_root[0]) {
        if (realpath(cfg->web_root, s->web_root_real) == NULL || !jc_is_dir(s->web_root_real))
            rc = jc_err_set(JC_ENOTFOUND, "web root %s is not a directory", cfg->web_root);
    }
    if (rc == JC_OK && cfg->access_log && cfg->access_log[0]) {
        if (strcmp(cfg->access_log, "-") == 0 || cfg->access_log[0] == '/')
            snprintf(s->access_log_path, sizeof s->access_log_path, "%s", cfg->access_log);
        else
            rc = jc_path_join(s->access_log_path, sizeof s->access_log_path,
                              cfg->home ? cfg->home : ".", cfg->access_log);
        if (rc == JC_OK)
            rc = jc_accesslog_open(&s->alog, s->access_log_path);
    }
    /* The write side: event types, the event log directory, the overlay. */
    if (rc == JC_OK) {
        const char *home = cfg->home ? cfg->home : ".";
        if (cfg->events_dir && cfg->events_dir[0])
            snprintf(s->events_dir, sizeof s->events_dir, "%s", cfg->events_dir);
        else
            rc = jc_path_join(s->events_dir, sizeof s->events_dir, home, "events");
        if (rc == JC_OK && cfg->overlay_path && cfg->overlay_path[0])
            snprintf(s->overlay_path, sizeof s->overlay_path, "%s", cfg->overlay_path);
        else if (rc == JC_OK)
            rc = jc_path_join(s->overlay_path, sizeof s->overlay_path, home, "overlay/catalog.jov");
    }
    if (rc == JC_OK &&
        (rc = jc_event_types_parse(&s->event_types, cfg->cfg ? cfg->cfg->events_custom_types : "")))
        jc_err_prefix(rc, "events.custom_types");
    if (rc == JC_OK)
        rc = jc_overlay_load(&s->overlay, s->overlay_path);
    if (rc == JC_OK)
        rc = jc_router_create(&s->router, jc_serve_routes, jc_serve_n_routes);
    if (rc == JC_OK)
        rc = setup_metrics(s);
    if (rc == JC_OK)
        rc = jc_serve__reload(s);
    if (rc == JC_OK)
        rc = open_events(s);
    if (rc == JC_OK && cfg->exposures) {
        struct jc_exposure_config xc;
        jc_exposure_config_default(&xc);
        xc.log = s->eventlog;
        if (cfg->exposure_queue)
            xc.capacity = cfg->exposure_queue;
        rc = jc_exposure_open(&s->exposure, &xc);
    }
    if (rc == JC_OK)
        rc = start_nearline(s);
    if (rc == JC_OK && s->cfg.reload_ms > 0) {
        if (pthread_create(&s->watcher, NULL, watcher_main, s) != 0)
            rc = jc_err_set(JC_EIO, "cannot start the model watcher thread");
        else
            s->watcher_running = 1;
    }
    if (rc == JC_OK)
        rc = start_daemon(s);
    if (rc) {
        s->stopped = 1;
        jc_serve_close(s);
        return rc;
    }
    *out = s;
    return JC_OK;
}

int jc_serve_port(const struct jc_serve *s)
{
    return s->port;
}

struct jc_metrics *jc_serve_metrics(struct jc_serve *s)
{
    return s->metrics;
}

int jc_serve_stop(struct jc_serve *s)
{
    if (s->stopped)
        return 0;
    atomic_store(&s->draining, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    uint64_t deadline =
        jc_now_ns() +
        (uint64_t)(s->cfg.drain_timeout_ms > 0 ? s->cfg.drain_timeout_ms : 0) * 1000000ull;
    while (atomic_load(&s->in_flight) > 0 && jc_now_ns() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int left = atomic_load(&s->in_flight);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    s->stopped = 1;
    stop_watcher(s);
    if (s->nearline) {
        jc_nearline_stop(s->nearline);
        jc_nearline_destroy(s->nearline);
        s->nearline = NULL;
    }
    /* No request runs now: write the queued exposures, then close the log
     * so that everything acknowledged is durable when stop returns. */
    jc_exposure_close(s->exposure);
    s->exposure = NULL;
    jc_eventlog_close(s->eventlog);
    s->eventlog = NULL;
    if (s->alog)
        jc_accesslog_flush(s->alog);
    return left;
}

void jc_serve_close(struct jc_serve *s)
{
    if (s == NULL)
        return;
    if (!s->stopped && s->daemon)
        jc_serve_stop(s);
    stop_watcher(s);
    if (s->nearline) {
        jc_nearline_stop(s->nearline);
        jc_nearline_destroy(s->nearline);
    }
    jc_featspec_destroy(s->nl_spec);
    if (s->nl_emb)
        jc_rc_release(&s->nl_emb->rc);
    if (s->nl_catalog)
        jc_rc_release(&s->nl_catalog->rc);
    jc_exposure_close(s->exposure);
    jc_eventlog_close(s->eventlog);
    jc_state_slot_free(&s->slot);
    if (s->store)
        jc_rc_release(&s->store->rc);
    if (s->overlay)
        jc_rc_release(&s->overlay->rc);
    jc_accesslog_close(s->alog);
    jc_metrics_destroy(s->metrics);
    jc_free(s->rm);
    jc_router_destroy(s->router);
    pthread_mutex_destroy(&s->reload_mu);
    pthread_mutex_destroy(&s->watch_mu);
    pthread_cond_destroy(&s->watch_cv);
    jc_free(s->own_bind);
    jc_free(s->own_web_root);
    jc_free(s->own_api_key);
    jc_free(s->own_cors);
    jc_free(s->own_require);
    jc_free(s->own_catalog);
    jc_pipeline_thread_cleanup();
    jc_free(s);
}
