/*
 * junco/serve.h - the online serving daemon (`junco serve`) and the metrics
 * registry that every online module reports into.
 *
 * A server is built in steps: fill struct jc_serve_config from
 * jc_serve_config_default() (or jc_serve_config_from(), which reads the
 * [serve] section of junco.ini), then jc_serve_open() loads the served state
 * (catalog, the overlay of items and users upserted over HTTP, derived
 * indexes, scenes and A/B experiments; later models and ANN indexes) as one
 * reference-counted snapshot and starts the HTTP server on libmicrohttpd.
 * Every request takes a reference to the snapshot that is current when it
 * starts, so jc_serve_reload() can publish a new snapshot atomically while
 * requests in flight finish on the old one; the old snapshot is freed when
 * its last request ends.
 *
 * Shutdown is graceful: jc_serve_stop() stops accepting connections, lets
 * requests in flight finish (up to drain_timeout_ms), then closes; /readyz
 * answers 503 while draining so load balancers move traffic away.
 *
 * The server is the event log's writer process (the embedded log admits
 * one): POST /api/v1/events appends synchronously (durable before 200), and
 * every served recommendation list is logged as impression events through
 * a bounded queue and a background thread, never blocking a request.
 *
 * The metrics registry (jc_metrics_*) holds counters, gauges and histograms,
 * optionally labelled, and renders them in the Prometheus text format
 * (version 0.0.4). Updates are lock-free atomics, so they are safe on hot
 * paths from any thread; creating a series takes a lock. Modules that must
 * not depend on serving (store, event log) expose their own stats structs;
 * the server registers a collector callback that reads them at scrape time.
 *
 * Threading: jc_serve_open/stop/close belong to one owner thread;
 * jc_serve_reload may be called from any thread (reloads are serialised).
 */
#ifndef JUNCO_SERVE_H
#define JUNCO_SERVE_H

#include <junco/config.h>

#include <stddef.h>
#include <stdint.h>

struct jc_buf;

/* ---- metrics registry -------------------------------------------------- */

struct jc_metrics;       /* a registry */
struct jc_metric_family; /* one metric name with its label names */
struct jc_metric;        /* one time series (a family + label values) */

enum jc_metric_type {
    JC_METRIC_COUNTER = 0,
    JC_METRIC_GAUGE = 1,
    JC_METRIC_HISTOGRAM = 2,
};

#define JC_METRICS_MAX_LABELS  4
#define JC_METRICS_MAX_BUCKETS 32

/* Latency buckets in seconds (50 us .. 10 s) for request/stage histograms. */
extern const double jc_metrics_latency_buckets[];
extern const size_t jc_metrics_n_latency_buckets;

/* Creates an empty registry. JC_ENOMEM only. Destroy frees every family,
 * series and collector; handles obtained from it become invalid. */
int jc_metrics_create(struct jc_metrics **out);
void jc_metrics_destroy(struct jc_metrics *m);

/*
 * Registers a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* (JC_EINVAL
 * otherwise); label_names (n_labels <= JC_METRICS_MAX_LABELS) are copied;
 * buckets (histograms only, strictly increasing, <= JC_METRICS_MAX_BUCKETS;
 * NULL = the latency buckets) are copied; the +Inf bucket is implicit.
 * Registering an existing name with the same type and labels returns the
 * existing family; with a different shape it is JC_EEXISTS.
 */
int jc_metrics_family(struct jc_metrics *m, enum jc_metric_type type, const char *name,
                      const char *help, const char *const *label_names, size_t n_labels,
                      const double *buckets, size_t n_buckets, struct jc_metric_family **out);

/* Finds or creates the series with these label values (n_labels of them, in
 * the family's order; values are copied and escaped on output). The series
 * lives as long as the registry. JC_ELIMIT past 10000 series per family. */
int jc_metrics_series(struct jc_metric_family *f, const char *const *label_values,
                      struct jc_metric **out);

/* Shortcut: an unlabelled family and its one series. */
int jc_metrics_simple(struct jc_metrics *m, enum jc_metric_type type, const char *name,
                      const char *help, struct jc_metric **out);

/* Updates; safe from any thread, never fail. Counters only increase
 * (negative deltas are ignored); observe is for histograms. */
void jc_metric_inc(struct jc_metric *s);
void jc_metric_add(struct jc_metric *s, double delta);
void jc_metric_set(struct jc_metric *s, double value);
void jc_metric_observe(struct jc_metric *s, double value);
/* Current value of a counter or gauge (the count of a histogram). */
double jc_metric_value(const struct jc_metric *s);
/* Histogram: count of observations <= buckets[i] (cumulative); i == n_buckets
 * gives the total count. */
uint64_t jc_metric_bucket_count(const struct jc_metric *s, size_t i);

/*
 * A collector is called at every render, before the families are written,
 * so it can jc_metric_set() gauges from a module's stats struct (store size,
 * event-log lag, model versions). It runs on the scraping thread and must
 * be quick and thread-safe.
 */
typedef void (*jc_metrics_collect_fn)(void *ctx, struct jc_metrics *m);
int jc_metrics_add_collector(struct jc_metrics *m, jc_metrics_collect_fn fn, void *ctx);

/* Appends the Prometheus text exposition of every family (sorted by name,
 * series in creation order) to out. JC_ELIMIT / JC_ENOMEM from the buffer. */
int jc_metrics_render(struct jc_metrics *m, struct jc_buf *out);

/* ---- the server -------------------------------------------------------- */

/* Whether the server opens the event log (POST /api/v1/events, exposures). */
enum jc_serve_events {
    JC_SERVE_EVENTS_ON = 0,       /* open at start; failing to open stops the start */
    JC_SERVE_EVENTS_OPTIONAL = 1, /* run without it when it cannot be opened */
    JC_SERVE_EVENTS_OFF = 2,      /* never open it */
};

enum jc_serve_mode {
    JC_SERVE_EPOLL = 0, /* internal epoll polling thread pool (default) */
    JC_SERVE_POLL = 1,  /* internal poll() thread pool */
    JC_SERVE_THREAD_PER_CONN = 2,
};

struct jc_serve_config {
    const char *home;         /* data home (catalog/, logs/, ...); borrowed */
    const char *catalog_path; /* NULL: <home>/catalog/catalog.jcat */
    const char *bind;         /* IPv4 address, default "127.0.0.1" */
    int port;                 /* 0 = ephemeral; see jc_serve_port() */
    int threads;              /* worker threads; 0 = one per CPU */
    enum jc_serve_mode mode;
    const char *web_root;    /* directory of the UI; NULL/"" = no UI */
    const char *access_log;  /* file path, "-" = stderr, NULL/"" = off */
    const char *api_key;     /* NULL/"": write/admin routes need loopback */
    const char *cors_origin; /* Access-Control-Allow-Origin value */
    size_t max_body;         /* request body limit in bytes */
    int max_n;               /* limit of n/size parameters */
    int connection_timeout_s;
    int drain_timeout_ms;
    int max_connections;
    int debug_routes;            /* 1: enable /debug/... (tests) */
    const char *require;         /* comma list of components /readyz needs */
    const struct jc_config *cfg; /* [scene.*], [experiment.*], [variant.*],
                                    [events] and [kafka]; may be NULL */
    enum jc_serve_events events; /* the event log (default ON) */
    const char *events_dir;      /* NULL: <home>/events */
    int exposures;               /* 1: log served lists as impressions */
    size_t exposure_queue;       /* events queued at most (drops past it) */
    const char *overlay_path;    /* NULL: <home>/overlay/catalog.jov */
    size_t overlay_max;          /* items + users upserted; 0 = no upserts */
    int reload_ms;               /* watcher period for models/embeddings/indexes;
                                    0 = no watcher (reload on demand only) */
    int nearline;                /* 1: run the nearline worker on the event log */
};

/* Defaults: 127.0.0.1:8080, threads 0, epoll, 1 MiB bodies, n <= 1000,
 * timeout 30 s, drain 10 s, 1024 connections, CORS "*", require "catalog",
 * event log on, exposures on with a queue of 65536 events, overlay of at
 * most 100000 items and users, watcher every 1000 ms, no nearline. */
void jc_serve_config_default(struct jc_serve_config *c);
/* Defaults overlaid with the [serve] keys of cfg; strings are borrowed from
 * cfg. Relative access_log paths are resolved against home by jc_serve_open. */
void jc_serve_config_from(struct jc_serve_config *c, const struct jc_config *cfg, const char *home);

struct jc_serve;

/*
 * Loads the served state (catalog, the overlay file of upserts, scenes and
 * A/B experiments, the live registry models, embeddings and ANN indexes of
 * the home, the feature store when it exists), opens the event log (per
 * cfg.events) and the exposure logger, starts the model watcher (every
 * cfg.reload_ms) and, with cfg.nearline, the nearline worker, and starts
 * listening. Files under models/, embeddings/ and indexes/ that fail to
 * load are skipped with a warning (junco_snapshot_load_errors). Errors: JC_ENOTFOUND / JC_ECORRUPT
 * (catalog, overlay file), JC_EINVAL (bad bind address, scene or
 * experiment config: the message names the section and key), JC_EBUSY
 * (another process writes the event log), JC_EIO (cannot bind: the message
 * names the address and the OS reason). On success the server answers
 * requests on its own threads.
 */
int jc_serve_open(struct jc_serve **out, const struct jc_serve_config *cfg);
/* The bound TCP port (the real one when cfg.port was 0). */
int jc_serve_port(const struct jc_serve *s);
/* The registry behind /metrics; valid until jc_serve_close. */
struct jc_metrics *jc_serve_metrics(struct jc_serve *s);
/*
 * Re-opens the catalog and rebuilds the served snapshot (models and
 * embeddings are re-read when their files changed), then swaps it in
 * atomically. On failure the current snapshot stays and the error is
 * returned. Also reachable as POST /api/v1/admin/reload.
 */
int jc_serve_reload(struct jc_serve *s);
/* Graceful stop: stop accepting, drain requests in flight up to the drain
 * timeout, close connections, then append the queued exposures and close
 * the event log. Returns the number of requests that were still in flight
 * when the timeout hit (0 = clean drain). Idempotent. */
int jc_serve_stop(struct jc_serve *s);
/* Stops (if needed) and frees everything. */
void jc_serve_close(struct jc_serve *s);

/* ---- the pipeline without HTTP (offline evaluation) --------------------- */

struct jc_pipeline_offline;

/*
 * Builds the same served snapshot as `junco serve` over the data home, with
 * no HTTP server, event log, exposures or overlay: the catalog
 * <home>/catalog/catalog.jcat, every live registry model under
 * <home>/models/ (plus its feature spec), every embedding under
 * <home>/embeddings/ with its ANN index from <home>/indexes/ (HNSW if built,
 * else flat, else exact scan), and the feature store <home>/store when it
 * exists (opened read-only; the realtime user vectors, recent items and
 * trending counters of the nearline worker are then used). Scenes come from
 * cfg's [scene.*] sections (cfg may be NULL: built-in default scene and the
 * [serve]/[embed]/[train] defaults); A/B variants are NOT applied.
 * Errors: JC_ENOTFOUND / JC_ECORRUPT (catalog), JC_EINVAL (scene config),
 * JC_ENOMEM. A model, embedding or index that fails to load is skipped
 * (logged), exactly as serve does; the pipeline then degrades the same way.
 */
int jc_pipeline_offline_open(struct jc_pipeline_offline **out, const char *home,
                             const struct jc_config *cfg);

/*
 * The top n items of the "default" scene for `user` (a dense catalog user
 * id, 0 <= user < number of catalog users; JC_EINVAL otherwise): recall,
 * ranking, re-ranking exactly as GET /api/v1/users/{id}/recommendations?n=N
 * (no exclude list, no genre filter, offset 0). Items are dense catalog item
 * ids written to items_out[0..*n_out), best first; scores_out (may be NULL)
 * receives the final (re-ranked) score of each. *n_out < n when fewer
 * candidates exist. Masking: every item the user has interacted with in the
 * catalog (all its interactions, whatever their time) and, when the store
 * is present, the items of the user's realtime state are never returned.
 * `now` (Unix seconds; 0 = the wall clock) is the request time given to
 * time features (hour, weekday) and to trending decay; it does NOT restrict
 * the history to events before it (build the catalog of the evaluation's
 * training part for that). n in [1, 100000].
 * Threading: any number of threads may call this concurrently on one handle
 * (per-thread scratch; model scorers come from a locked pool); each thread
 * that called it keeps a scratch area of O(items) until it exits.
 * Determinism: same snapshot + same arguments give the same list.
 */
int jc_pipeline_offline_recommend(struct jc_pipeline_offline *p, uint32_t user, int64_t now,
                                  uint32_t n, uint32_t *items_out, float *scores_out,
                                  size_t *n_out);

/* Frees the snapshot (after every recommend call has returned). NULL ok. */
void jc_pipeline_offline_close(struct jc_pipeline_offline *p);

#endif
