/*
 * junco/nearline.h - the nearline worker: consumes the event log and keeps
 * the realtime features in the feature store up to date within
 * milliseconds.
 *
 * For every event the worker runs the SAME state code as the offline job
 * (junco/featspec.h): the user's state (recent positives, counts, averages,
 * genre preferences) through jc_user_state_add / jc_user_state_add_labeled
 * and the item's state through jc_item_state_add. It also keeps, per item,
 * a popularity / trending record with exponential time decay
 * (struct jc_item_pop), and, when an embedding is configured, the user's
 * realtime vector (jc_emb_user_update over the vectors of the items the user
 * liked). An optional online learner (junco/online.h) sees every labelled
 * event together with the point-in-time states BEFORE the event.
 *
 * Which event updates what:
 *   rating, view, custom types   user state via jc_user_state_add (the
 *                                spec's label rule: value >= threshold, or
 *                                implicit), item state, popularity;
 *   click, like, purchase        user state via jc_user_state_add_labeled
 *                                (positive), item state, popularity;
 *   impression                   nothing in the feature state (impressions
 *                                are not interactions); a negative example
 *                                for the online learner.
 * Times in states are Unix seconds (time_ms / 1000, as the catalog).
 *
 * Store records (logical keys; the Redis backend adds redis.prefix):
 *   uf:<user ext id>             user state (jc_user_state_encode)
 *   if:<item ext id>             item state (jc_item_state_encode)
 *   pop:<item ext id>            struct jc_item_pop (jc_item_pop_encode)
 *   uemb:<emb name>:<user ext>   realtime user vector: dim float32 LE
 *   nl:ues:<emb name>:<user ext> the running state behind that vector
 *   nl:off:<group>:<partition>   next offset of the partition (24 bytes)
 * Keys use the external ids of the events, so users and items that are not
 * in the catalog (events.unknown_entity = create) have state too; with
 * reject such events are skipped and counted.
 *
 * Exactly-once effects: per cycle the worker polls up to `batch` records,
 * reads the touched records from the store (one multi-get), applies the
 * events in log order, and writes every changed record TOGETHER WITH the
 * next offset of each partition it consumed in ONE store write batch
 * (LMDB: one transaction; Redis: MULTI/EXEC). On start it seeks each
 * partition to its stored offset. A crash before the write loses nothing
 * (the events are read again); after it, they are never applied twice.
 * If a write fails, the consumer is rewound to the last stored offsets and
 * the cycle is retried later, so at-least-once delivery never double counts.
 *
 * Consumer group and processes: the worker owns the partitions p with
 * p mod proc_count == proc_index (one process: all of them). Several
 * `junco nearline --index I --count N` processes split the partitions of a
 * group that way, for the embedded log and for Kafka alike (assignment is
 * explicit, not by Kafka's rebalancing). With lock_dir set, the worker
 * takes an exclusive flock per (group, partition) so that two workers on
 * one machine can never own the same partition (JC_EBUSY naming the pid).
 * User records are only written by the owner of the user's partition, so
 * they are exact with any number of processes. Item records (if:, pop:)
 * receive events from every partition: with one process they are exact;
 * with several, two processes that update the same item in overlapping
 * cycles may overwrite each other's increment (last writer wins).
 *
 * Threading: a worker is driven either by the caller (jc_nearline_run_once,
 * one thread) or by its own thread (jc_nearline_start / _stop). The stats
 * and metrics functions may be called from any thread at any time.
 */
#ifndef JUNCO_NEARLINE_H
#define JUNCO_NEARLINE_H

#include <junco/config.h>
#include <junco/eventlog.h>

#include <stddef.h>
#include <stdint.h>

struct jc_buf;
struct jc_catalog;
struct jc_emb;
struct jc_featspec;
struct jc_metrics;
struct jc_online;
struct jc_store;
struct jc_nearline;

/* ---- item popularity with exponential time decay ------------------------ */

/*
 * count: events counted (lifetime). score: the decayed count at t_ref_ms,
 * score = sum over events of 2^(-(t_ref - t_event) / half_life). Events
 * older than t_ref are added with their decayed weight, newer ones first
 * decay the score to their time. Decay uses event times, not the clock, so
 * replaying the same events gives the same record.
 */
struct jc_item_pop {
    uint64_t count;
    double score;
    int64_t t_ref_ms;
};
#define JC_ITEM_POP_ENC_SIZE 40

void jc_item_pop_init(struct jc_item_pop *p);
/* Adds one event of weight w at t_ms. half_life_s <= 0: no decay. */
void jc_item_pop_add(struct jc_item_pop *p, double w, int64_t t_ms, double half_life_s);
/* The score decayed to time t_ms (>= t_ref_ms; earlier times give the
 * stored score). */
double jc_item_pop_score_at(const struct jc_item_pop *p, int64_t t_ms, double half_life_s);
/* 40 bytes: magic "JNLP", version, count, score, t_ref, xxh3 checksum.
 * Decode: JC_ECORRUPT / JC_EVERSION; *p untouched on failure. */
int jc_item_pop_encode(const struct jc_item_pop *p, void *buf, size_t cap, size_t *len);
int jc_item_pop_decode(struct jc_item_pop *p, const void *buf, size_t n);

/* ---- configuration ------------------------------------------------------- */

struct jc_nearline_commit; /* below */

struct jc_nearline_config {
    /* borrowed handles; all must outlive the worker */
    struct jc_eventlog *log;
    struct jc_store *store;
    const struct jc_catalog *cat;
    const struct jc_featspec *spec; /* its catalog must be cat */
    const struct jc_emb *emb;       /* optional: item vectors for user vectors */
    const char *emb_name;           /* key part of uemb:/nl:ues: (required with emb) */
    double emb_half_life_s;         /* recency half-life of user vectors (0 = mean) */
    struct jc_online *online;       /* optional online learner */
    struct jc_metrics *metrics;     /* optional registry (junco/serve.h) to report into */
    /* behaviour */
    const char *group;        /* consumer group, default "nearline" */
    uint32_t proc_index;      /* this worker's share of the partitions ... */
    uint32_t proc_count;      /* ... p mod proc_count == proc_index (default 0 of 1) */
    int unknown_create;       /* 1: keep state for unknown users/items; 0: reject */
    uint32_t batch;           /* most records per store write (default 1000) */
    int poll_ms;              /* wait for new records per cycle (default 100) */
    double trend_half_life_s; /* jc_item_pop decay (default 86400) */
    int start;                /* enum jc_eventlog_start without a stored offset
                                 (default JC_START_EARLIEST) */
    int commit_group_ms;      /* also commit positions to the group (for lag
                                 monitoring) at most this often; -1 = never (1000) */
    const char *lock_dir;     /* NULL = no partition locks */
    /* called on the worker's thread after every successful store write */
    void (*on_commit)(void *ctx, const struct jc_nearline_commit *c);
    void *on_commit_ctx;
};

/* Defaults as documented above; handles NULL. */
void jc_nearline_config_default(struct jc_nearline_config *c);
/* Overlays the [nearline] and [events] settings (group, batch, poll_ms,
 * trend_half_life, start, unknown_entity). Strings are borrowed from cfg. */
void jc_nearline_config_from(struct jc_nearline_config *c, const struct jc_config *cfg);

/* What one store write committed (for on_commit). */
struct jc_nearline_commit {
    uint32_t n_parts;
    const uint32_t *partition; /* [n_parts] partitions consumed in this cycle */
    const uint64_t *from;      /* [n_parts] first offset applied */
    const uint64_t *to;        /* [n_parts] next offset (stored with the state) */
    uint64_t n_events;         /* records consumed (applied + rejected) */
    uint64_t commit_ns;        /* jc_now_ns() right after the store write */
    int64_t commit_ms;         /* wall clock (Unix ms) of the same instant */
};

/* ---- stats --------------------------------------------------------------- */

#define JC_NEARLINE_LAT_BUCKETS 16
/* Upper bounds (seconds) of the event -> store latency histogram buckets;
 * the last bucket is +Inf. */
extern const double jc_nearline_lat_bounds_s[JC_NEARLINE_LAT_BUCKETS - 1];

struct jc_nearline_stats {
    uint64_t events_in;        /* records consumed from the log */
    uint64_t events_out;       /* events applied and committed to the store */
    uint64_t rejected_unknown; /* unknown user/item with unknown_entity=reject */
    uint64_t rejected_bad;     /* records that do not decode */
    uint64_t commits, commit_errors;
    uint64_t users_written, items_written;
    double in_per_s, out_per_s; /* rates over the last ~1 s window */
    uint32_t n_parts;
    uint32_t partition[JC_EVENTLOG_MAX_PARTITIONS];
    uint64_t position[JC_EVENTLOG_MAX_PARTITIONS]; /* next offset stored */
    uint64_t lag[JC_EVENTLOG_MAX_PARTITIONS];      /* end - position */
    /* event append (log time) -> store commit, per event */
    uint64_t lat_count[JC_NEARLINE_LAT_BUCKETS]; /* per bucket (not cumulative) */
    double lat_sum_s;
    double lat_max_s;
};

/* ---- the worker ---------------------------------------------------------- */

/*
 * Creates a worker: validates the config, takes the partition locks,
 * creates a consumer over the assigned partitions and seeks each to the
 * offset stored in the feature store (else cfg->start). Errors: JC_EINVAL
 * (missing handle, bad assignment, proc_index >= proc_count, no partition
 * left for this index), JC_EBUSY (a partition is locked by another worker),
 * JC_ECORRUPT (a bad stored offset), the store's and log's errors.
 */
int jc_nearline_create(struct jc_nearline **out, const struct jc_nearline_config *cfg);
/* Stops the thread if running and frees everything (NULL is a no-op). */
void jc_nearline_destroy(struct jc_nearline *w);

/*
 * One cycle on the calling thread: poll (waiting up to timeout_ms for the
 * first record), apply, write to the store. *n_events (may be NULL) gets
 * the number of records consumed (0 when nothing arrived). On an error the
 * consumer is rewound to the stored offsets, so calling again retries.
 * Not to be mixed with a running thread.
 */
int jc_nearline_run_once(struct jc_nearline *w, int timeout_ms, uint64_t *n_events);
/* Runs cycles until no assigned partition has anything left (lag 0) or an
 * error. For tests and `junco nearline --once`. */
int jc_nearline_drain(struct jc_nearline *w, uint64_t *n_events);

/*
 * Starts the worker thread: cycles of cfg.poll_ms until jc_nearline_stop.
 * A failing cycle is logged and retried with a backoff (50 ms doubling up to
 * 2 s); the error count is in the stats. JC_ESTATE if already running.
 */
int jc_nearline_start(struct jc_nearline *w);
/* Stops and joins the thread (finishing the current cycle). Idempotent.
 * Returns the last cycle error (JC_OK if the last cycle succeeded). */
int jc_nearline_stop(struct jc_nearline *w);

/* A consistent copy of the counters (also refreshes the lag). */
void jc_nearline_get_stats(struct jc_nearline *w, struct jc_nearline_stats *out);
/* Latency (seconds) below which a fraction q of events were committed,
 * interpolated in the histogram; 0 without data. */
double jc_nearline_stats_quantile(const struct jc_nearline_stats *s, double q);

/*
 * Appends the metrics in the Prometheus text format (0.0.4):
 * junco_nearline_events_in_total, junco_nearline_events_out_total,
 * junco_nearline_events_rejected_total{reason}, junco_nearline_events_per_second{direction},
 * junco_nearline_consumer_lag{partition}, junco_nearline_store_commits_total,
 * junco_nearline_store_errors_total, junco_nearline_store_latency_seconds
 * (histogram), and, with an online learner, the junco_online_* series of
 * jc_online_metrics_write. For processes without the serve registry.
 * Errors: those of the buffer.
 */
int jc_nearline_metrics_write(struct jc_nearline *w, struct jc_buf *out);

/* ---- store keys ---------------------------------------------------------- */

/* "nl:off:<group>:<partition>" into out; returns the length (0 if it does
 * not fit). */
size_t jc_nearline_offset_key(const char *group, uint32_t partition, char *out, size_t cap);
/* Reads a stored next offset: JC_ENOTFOUND if none, JC_ECORRUPT for a bad
 * record. */
int jc_nearline_stored_offset(struct jc_store *s, const char *group, uint32_t partition,
                              uint64_t *offset);

#endif
