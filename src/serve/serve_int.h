/*
 * serve_int.h - internals shared by the files of the serving module:
 * the server struct, the request/response objects handed to route handlers,
 * and the helpers handlers use (parameters, JSON errors, headers).
 *
 * A handler receives a jc_http_req (method, decoded path, route captures,
 * body, the snapshot acquired for this request) and fills a jc_http_resp
 * (status, content type, body buffer, extra headers). Handlers never touch
 * libmicrohttpd: server.c turns the response into an MHD response, adds the
 * CORS and common headers, and records the access log line and metrics.
 */
#ifndef JC_SERVE_INT_H
#define JC_SERVE_INT_H

#include "core/buf.h"
#include "core/json.h"
#include "serve/accesslog.h"
#include "serve/exposure.h"
#include "serve/overlay.h"
#include "serve/router.h"
#include "serve/state.h"

#include <junco/event.h>
#include <junco/serve.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define JC_RESP_MAX_HEADERS 10
#define JC_RESP_BODY_CAP    ((size_t)64 << 20)
#define JC_REQUEST_ID_MAX   64 /* bytes of a request id (X-Request-Id) */

struct jc_http_resp {
    int status;
    const char *content_type; /* static string */
    struct jc_buf body;
    int n_headers;
    struct {
        const char *name; /* static string */
        char value[160];
    } headers[JC_RESP_MAX_HEADERS];
    const char *error_code; /* for the access log: set by jc_http_error */
};

struct jc_http_req {
    struct jc_serve *srv;
    void *conn; /* struct MHD_Connection *, only for server.c helpers */
    const char *method;
    unsigned method_bit;
    const char *path; /* decoded, without the query string */
    const struct jc_route *route;
    struct jc_route_match match;
    const char *body; /* NUL-terminated copy, NULL if none */
    size_t body_len;
    struct jc_serve_state *st; /* acquired snapshot, NULL before ready */
    const char *request_id;    /* the client's valid X-Request-Id, or generated */
};

/* Per-route metric handles; index n_routes is for unmatched requests. */
struct jc_route_metrics {
    struct jc_metric *latency;
    _Atomic(struct jc_metric *) by_status[600];
};

struct jc_nearline;

struct jc_serve {
    struct jc_serve_config cfg; /* strings point into owned copies below */
    char *own_bind, *own_web_root, *own_api_key, *own_cors, *own_require, *own_catalog;
    char access_log_path[PATH_MAX];
    char web_root_real[PATH_MAX]; /* realpath of the web root, "" if none */
    int loopback;                 /* bound to 127.0.0.0/8 */
    int port;
    void *daemon; /* struct MHD_Daemon * */
    int quiesced_fd;
    struct jc_router *router;
    struct jc_metrics *metrics;
    struct jc_metric_family *fam_requests;
    struct jc_route_metrics *rm; /* n_routes + 1 */
    struct jc_metric *m_in_flight, *m_reloads_ok, *m_reloads_failed, *m_version;
    struct jc_metric *m_stage[3];
    struct jc_metric_family *fam_fallback;
    struct jc_metric *m_items, *m_users, *m_interactions, *m_mem_in_use, *m_rss, *m_uptime;
    struct jc_metric *m_snapshot_age;
    atomic_int in_flight;
    atomic_int draining;
    int stopped;
    struct jc_state_slot slot;
    pthread_mutex_t reload_mu;
    uint64_t version;
    struct jc_accesslog *alog;
    int64_t started_at;
    /* writes: the event log, exposures, the overlay of upserts */
    char events_dir[PATH_MAX];
    char overlay_path[PATH_MAX];
    struct jc_eventlog *eventlog; /* NULL when off or unavailable */
    char eventlog_error[256];     /* why it is not open ("" if open/off) */
    struct jc_event_types event_types;
    struct jc_exposure *exposure; /* NULL when exposures are off */
    struct jc_overlay *overlay;   /* latest version (under reload_mu) */
    atomic_uint_fast64_t request_seq;
    struct jc_metric *m_ingest[2]; /* accepted, rejected */
    struct jc_metric *m_expo[5];   /* appended, full, error, invalid, no log */
    struct jc_metric *m_expo_depth;
    struct jc_metric *m_log_appended, *m_log_errors, *m_log_fsyncs, *m_log_p99;
    struct jc_metric *m_overlay[2];    /* items, users */
    struct jc_metric *m_upserts[2][2]; /* [item/user][created/updated] */
    struct jc_metric_family *fam_ab;
    /* phase 2: model-side components, the watcher, nearline */
    char home[PATH_MAX];         /* the data home (resolved at open) */
    struct jc_store_comp *store; /* feature store or NULL (a reference) */
    struct jc_metric_family *fam_model_version, *fam_skipped;
    struct jc_metric *m_load_errors;
    pthread_t watcher;
    int watcher_running;
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cv;
    int watch_stop;
    struct jc_nearline *nearline;       /* NULL unless cfg.nearline */
    struct jc_featspec *nl_spec;        /* the nearline worker's spec (owned) */
    struct jc_catalog_comp *nl_catalog; /* the catalog it borrows (a reference) */
    struct jc_emb_comp *nl_emb;         /* the embedding it borrows (a reference) */
};

/* ---- helpers for handlers (server.c) ---------------------------------- */

/* Query parameter value (decoded), NULL if absent. */
const char *jc_req_query(const struct jc_http_req *req, const char *name);
/* A request header, NULL if absent. */
const char *jc_req_header(const struct jc_http_req *req, const char *name);

/* Sets status and a JSON body {"error":{"code":code,"message":...}}. */
void jc_http_error(struct jc_http_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds a response header (name must be a static string); silently drops
 * headers past JC_RESP_MAX_HEADERS. */
void jc_resp_header(struct jc_http_resp *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts a JSON body: status 200, content type application/json. */
void jc_resp_json(struct jc_http_resp *resp, struct jc_json *j);
/* Finishes a JSON body (500 on a writer error). */
void jc_resp_json_done(struct jc_http_resp *resp, struct jc_json *j);

/*
 * Integer parameter: absent -> def (*out = def, returns 0); present and a
 * valid integer in [lo, hi] -> *out, returns 0; otherwise writes a 400 JSON
 * error naming the parameter and returns -1.
 */
int jc_req_int(const struct jc_http_req *req, struct jc_http_resp *resp, const char *name,
               int64_t def, int64_t lo, int64_t hi, int64_t *out);
/* Required string parameter: 400 if missing or empty. */
const char *jc_req_required(const struct jc_http_req *req, struct jc_http_resp *resp,
                            const char *name);
/* A route capture as a NUL-terminated copy in buf (400 if too long). */
int jc_req_capture(const struct jc_http_req *req, struct jc_http_resp *resp, const char *name,
                   char *buf, size_t cap);

/* ---- the route table (api.c), write handlers (api_write.c), static files */

void jc_serve__post_events(struct jc_http_req *req, struct jc_http_resp *resp);
void jc_serve__post_items(struct jc_http_req *req, struct jc_http_resp *resp);
void jc_serve__post_users(struct jc_http_req *req, struct jc_http_resp *resp);

extern const struct jc_route jc_serve_routes[];
extern const size_t jc_serve_n_routes;

void jc_serve_static(struct jc_http_req *req, struct jc_http_resp *resp);
/* GET /reports/PATH: files below <home>/reports (evaluation reports). */
void jc_serve_reports(struct jc_http_req *req, struct jc_http_resp *resp);
/* Content type for a file name by extension. */
const char *jc_serve_mime(const char *name);
/*
 * Resolves a request path below the web root: rejects "..", "." segments,
 * backslashes, NUL and control bytes, hidden files, and (after realpath)
 * anything outside the root, including through symlinks. On success writes
 * the real path to out and returns 0; returns the HTTP status to answer
 * (400/403/404) otherwise.
 */
int jc_serve_resolve_static(const char *root_real, const char *rel, char *out, size_t cap);

/* ---- server internals used by admin handlers ---------------------------- */

/* Reload under the reload mutex; sets a message via jc_err_set on failure. */
int jc_serve__reload(struct jc_serve *s);
/* 1 if this request may use an auth route; else fills a 401/403 error. */
int jc_serve__authorize(struct jc_http_req *req, struct jc_http_resp *resp);
/*
 * Applies upsert patches to the overlay, persists it, and publishes a
 * snapshot over it (serialised with reloads). created: p->n flags. On
 * success *version is the new snapshot's. Errors: those of
 * jc_overlay_apply (JC_EINVAL, JC_ELIMIT), of saving (JC_EIO, JC_ENOSPACE:
 * nothing changed), JC_ESTATE (no snapshot yet).
 */
int jc_serve__upsert(struct jc_serve *s, const struct jc_ov_patches *p, uint8_t *created,
                     uint64_t *version);
struct jc_reco_result;
struct jc_scene;
/* Records pipeline stage timings, ranker fallbacks (by model and reason)
 * and recall channels skipped for a missing resource or failed. */
void jc_serve__observe_pipeline(struct jc_serve *s, const struct jc_scene *sc,
                                const struct jc_reco_result *res);
/* Checks the model registry, embeddings and indexes and publishes a new
 * snapshot when any changed (what the watcher thread runs). *published
 * (may be NULL) = 1 if it did. */
int jc_serve__refresh(struct jc_serve *s, int *published);

#endif
