/*
 * junco/eventlog.h - the event log: a partitioned, durable, append-only log
 * of events with consumer groups, behind one interface and two backends.
 *
 *   - embedded (default): segmented append-only files under <home>/events
 *     (src/stream/eventlog_embedded.c). Each record is framed with its
 *     length, a CRC32C and its offset; appends from many threads are
 *     group-committed by a leader thread with the fsync policy of the config;
 *     opening the log recovers from a crash by truncating a torn tail, so a
 *     corrupt record is never returned. One writer process at a time (a lock
 *     file), any number of reader processes (open with read_only = 1).
 *   - kafka (src/stream/eventlog_kafka.c): librdkafka, idempotent producer
 *     (acks=all), offsets committed to the group coordinator. brokers "mock"
 *     uses librdkafka's in-process mock cluster (tests).
 *
 * Model (as Kafka): a log has N partitions; an event goes to partition
 * hash(user) mod N, so one user's events stay in order. Each partition
 * numbers its records with dense offsets 0, 1, 2, ... Retention removes old
 * records from the front, so a partition holds offsets [begin, end).
 * A consumer group stores, per partition, a committed offset: the NEXT
 * offset to read (Kafka's convention).
 *
 * Durability contract: jc_eventlog_append returns only after its records
 * are durable according to the fsync policy (batch: fsynced; interval:
 * written to the OS and fsynced within fsync_interval_ms; off: written to the
 * OS), and the returned offsets are then final. On error nothing of that
 * call is acknowledged; records of a failed call may or may not be in the
 * log after a crash, never torn.
 *
 * Exactly-once effects for consumers (the nearline worker): delivery is
 * at-least-once, so a worker that must not double count stores the next
 * offset of each partition in the SAME transaction as the state it derives
 * from the events, and on start seeks its consumer to those stored offsets
 * (jc_eventlog_consumer_seek) instead of trusting the group's committed
 * offset. Committing to the group is then only for monitoring (lag) and for
 * consumers without state of their own.
 *
 * Threading: a log handle is thread-safe (append, read, commit from many
 * threads). A consumer belongs to one thread. Batches belong to their owner.
 */
#ifndef JUNCO_EVENTLOG_H
#define JUNCO_EVENTLOG_H

#include <junco/event.h>

#include <stddef.h>
#include <stdint.h>

struct jc_config;
struct jc_eventlog;
struct jc_eventlog_consumer;

enum jc_fsync_policy {
    JC_FSYNC_BATCH = 0,    /* fsync every group-committed batch before acknowledging */
    JC_FSYNC_INTERVAL = 1, /* a background thread fsyncs every fsync_interval_ms */
    JC_FSYNC_OFF = 2,      /* never fsync (the OS writes back when it likes) */
};

#define JC_EVENTLOG_MAX_RECORD     (64u * 1024) /* payload bytes of one record */
#define JC_EVENTLOG_MAX_PARTITIONS 256
#define JC_EVENTLOG_MAX_GROUP      64 /* bytes of a group name: [A-Za-z0-9._-] */

struct jc_eventlog_config {
    const char *backend; /* "embedded" (default) or "kafka" */
    /* embedded */
    const char *dir;        /* the log directory, e.g. <home>/events */
    uint32_t n_partitions;  /* when creating a log; an existing log keeps its own */
    uint64_t segment_bytes; /* roll a partition's segment past this size */
    int fsync;              /* enum jc_fsync_policy */
    uint32_t fsync_interval_ms;
    uint64_t retention_bytes;  /* per partition, 0 = unlimited */
    int64_t retention_seconds; /* 0 = keep forever */
    int read_only;             /* reader process: no lock, never writes */
    /* kafka */
    const char *kafka_brokers; /* "host:port,..." or "mock" */
    const char *kafka_topic;
    const char *kafka_client_id;
    const char *kafka_properties; /* "key=value;key=value" passed to librdkafka */
    uint32_t kafka_partitions;    /* when creating the topic */
    uint32_t kafka_replication;
    int kafka_create_topic;
    int kafka_linger_ms;
    int kafka_timeout_ms;
};

/* Defaults: embedded, 2 partitions, 64 MiB segments, fsync per batch. */
void jc_eventlog_config_default(struct jc_eventlog_config *c);
/* Fills c from the [events] and [kafka] settings; dir is borrowed (usually
 * <home>/events) and the string settings are borrowed from cfg. */
void jc_eventlog_config_from_settings(struct jc_eventlog_config *c, const struct jc_config *cfg,
                                      const char *dir);

/* A record to append: payload bytes for a partition. */
struct jc_eventlog_rec {
    uint32_t partition;
    const void *data;
    size_t len;
};

/* A record read back. data points into the owning batch. */
struct jc_eventlog_record {
    uint32_t partition;
    uint64_t offset;
    int64_t append_ms; /* when the log accepted it (Unix ms) */
    const void *data;
    uint32_t len;
};

/* Read results; caller-owned, reusable across reads (each read replaces the
 * contents). Pointers into it stay valid until the next read or free. */
struct jc_eventlog_batch {
    struct jc_eventlog_record *recs;
    size_t n;
    size_t cap;
    char *data;
    size_t data_len;
    size_t data_cap;
};
void jc_eventlog_batch_init(struct jc_eventlog_batch *b);
void jc_eventlog_batch_free(struct jc_eventlog_batch *b);

/* Where an appended event landed. */
struct jc_eventlog_pos {
    uint32_t partition;
    uint64_t offset;
};

struct jc_eventlog_partition_info {
    uint64_t begin;      /* first offset still held */
    uint64_t end;        /* next offset to be written */
    uint32_t n_segments; /* embedded only (0 for kafka) */
    uint64_t bytes;      /* embedded only */
};

/* Append latency histogram: counts of appends with latency <= bound[i]
 * microseconds (cumulative buckets are derived by the exporter); the last
 * bucket is +Inf. */
#define JC_EVENTLOG_LAT_BUCKETS 16
extern const double jc_eventlog_lat_bounds_us[JC_EVENTLOG_LAT_BUCKETS - 1];

/* Counters since open, for /metrics. Monotonic; read with
 * jc_eventlog_get_stats (a consistent-enough snapshot of atomics). */
struct jc_eventlog_stats {
    uint64_t events_appended; /* acknowledged records */
    uint64_t bytes_appended;  /* payload bytes of those */
    uint64_t append_calls;
    uint64_t append_errors;
    uint64_t fsyncs;  /* fsync calls of the log files (embedded) */
    uint64_t commits; /* group-committed write batches (embedded) */
    uint64_t records_read;
    uint64_t lat_count[JC_EVENTLOG_LAT_BUCKETS]; /* per-bucket (not cumulative) */
    uint64_t lat_sum_us;
};

/* The backend interface. Each backend implements every operation (one
 * conformance test suite runs against each); impl is the backend's state.
 * Semantics are those of the jc_eventlog_* functions below. */
struct jc_eventlog_ops {
    const char *name;
    uint32_t (*n_partitions)(void *impl);
    int (*append)(void *impl, const struct jc_eventlog_rec *recs, size_t n, uint64_t *offsets);
    int (*read)(void *impl, uint32_t partition, uint64_t offset, size_t max_records,
                size_t max_bytes, int timeout_ms, struct jc_eventlog_batch *out);
    int (*offsets)(void *impl, uint32_t partition, uint64_t *begin, uint64_t *end);
    int (*commit)(void *impl, const char *group, uint32_t partition, uint64_t offset);
    int (*committed)(void *impl, const char *group, uint32_t partition, uint64_t *offset);
    int (*list_groups)(void *impl, int (*fn)(void *ctx, const char *group), void *ctx);
    int (*describe)(void *impl, uint32_t partition, struct jc_eventlog_partition_info *out);
    int (*sync)(void *impl);
    int (*retention)(void *impl, uint64_t *n_deleted);
    void (*close)(void *impl);
};

/*
 * Opens (creating if needed) the log described by cfg. Embedded errors:
 * JC_EBUSY when another process holds the writer lock (the message names
 * its pid; open with read_only to read), JC_ENOTFOUND for a read-only open
 * of a missing log, JC_ECORRUPT / JC_EVERSION for bad metadata, JC_EIO.
 * Kafka errors: JC_ECONN, JC_EINVAL (bad property), JC_ETIMEOUT.
 */
int jc_eventlog_open(struct jc_eventlog **out, const struct jc_eventlog_config *cfg);
/* Flushes pending work (a final fsync unless fsync=off) and releases the
 * log. NULL is a no-op. No call may be in flight. */
void jc_eventlog_close(struct jc_eventlog *log);

const char *jc_eventlog_backend(const struct jc_eventlog *log);
uint32_t jc_eventlog_n_partitions(const struct jc_eventlog *log);
/* The partition of a user id: jc_hash64(user) mod n_partitions. */
uint32_t jc_eventlog_partition_of(const struct jc_eventlog *log, const char *user, size_t n);

/*
 * Appends n events (encoded with jc_event_encode; callers validate first)
 * and returns after they are durable per the fsync policy. pos (n entries,
 * may be NULL) receives each event's partition and offset. Events of one
 * partition keep their order within the call. Errors: JC_EINVAL (an event
 * over its size limits), JC_EIO / JC_ENOSPACE (write or fsync failed; the
 * message says which file), JC_ESTATE (read-only log, or a previous fsync
 * failure: reopen). Thread-safe; concurrent calls are batched together.
 */
int jc_eventlog_append(struct jc_eventlog *log, const struct jc_event *evs, size_t n,
                       struct jc_eventlog_pos *pos);
/* Appends raw payloads (1..JC_EVENTLOG_MAX_RECORD bytes each) to the given
 * partitions; offsets (may be NULL) as above. */
int jc_eventlog_append_raw(struct jc_eventlog *log, const struct jc_eventlog_rec *recs, size_t n,
                           uint64_t *offsets);

/*
 * Reads records of one partition starting at `offset` (an offset below the
 * partition's begin starts at begin), at most max_records and about
 * max_bytes (at least one record is returned if any is available). When no
 * record is available it waits up to timeout_ms (0 = return at once) and
 * returns JC_OK with out->n == 0 on timeout. Only acknowledged, checksummed
 * records are returned. Errors: JC_EINVAL (bad partition), JC_ECORRUPT (a
 * damaged record inside the log; the message names file and position).
 */
int jc_eventlog_read(struct jc_eventlog *log, uint32_t partition, uint64_t offset,
                     size_t max_records, size_t max_bytes, int timeout_ms,
                     struct jc_eventlog_batch *out);

/* [begin, end) offsets of a partition; end - committed = lag. */
int jc_eventlog_offsets(struct jc_eventlog *log, uint32_t partition, uint64_t *begin,
                        uint64_t *end);
int jc_eventlog_describe(struct jc_eventlog *log, uint32_t partition,
                         struct jc_eventlog_partition_info *out);

/*
 * Consumer group offsets: commit stores `offset` (the next offset to read)
 * for (group, partition) durably and atomically (embedded: a checksummed
 * file replaced by rename); committed returns it, or JC_ENOTFOUND if the
 * group never committed that partition. Group names: 1..64 bytes of
 * [A-Za-z0-9._-] (JC_EINVAL otherwise). Any process may commit (read-only
 * handles too); one consumer per (group, partition) at a time.
 */
int jc_eventlog_commit(struct jc_eventlog *log, const char *group, uint32_t partition,
                       uint64_t offset);
int jc_eventlog_committed(struct jc_eventlog *log, const char *group, uint32_t partition,
                          uint64_t *offset);
/* Calls fn for every group with committed offsets (embedded: all groups of
 * the log; kafka: groups this handle committed for). fn returning non-zero
 * stops the walk and that value is returned. */
int jc_eventlog_list_groups(struct jc_eventlog *log, int (*fn)(void *ctx, const char *group),
                            void *ctx);

/* Forces everything appended so far to disk (embedded; no-op for kafka). */
int jc_eventlog_sync(struct jc_eventlog *log);
/* Applies retention now (the embedded writer also does it after each
 * segment roll and on open); *n_deleted (may be NULL) gets the number of
 * segments removed. */
int jc_eventlog_retention(struct jc_eventlog *log, uint64_t *n_deleted);

void jc_eventlog_get_stats(const struct jc_eventlog *log, struct jc_eventlog_stats *out);
/* Latency (microseconds) below which a fraction q of appends finished,
 * interpolated from the histogram; 0 with no data. */
double jc_eventlog_stats_quantile_us(const struct jc_eventlog_stats *s, double q);

/* ---- consumers ------------------------------------------------------------- */

enum jc_eventlog_start {
    JC_START_COMMITTED = 0, /* the group's committed offset, else the earliest */
    JC_START_EARLIEST = 1,
    JC_START_LATEST = 2,
};

struct jc_eventlog_consumer_config {
    const char *group;          /* may be NULL for a consumer that never commits */
    const uint32_t *partitions; /* assigned partitions; NULL = all */
    size_t n_partitions;
    int start;          /* enum jc_eventlog_start */
    size_t max_records; /* per poll (default 1000) */
    size_t max_bytes;   /* per poll (default 1 MiB) */
};
void jc_eventlog_consumer_config_default(struct jc_eventlog_consumer_config *c);

/* Creates a consumer of log (borrowed; must outlive the consumer) with its
 * starting positions resolved. Errors: JC_EINVAL, those of committed. */
int jc_eventlog_consumer_open(struct jc_eventlog_consumer **out, struct jc_eventlog *log,
                              const struct jc_eventlog_consumer_config *cfg);
void jc_eventlog_consumer_close(struct jc_eventlog_consumer *c);
/* Sets the next offset to read of an assigned partition (e.g. the offset
 * stored with the worker's state). JC_EINVAL if not assigned. */
int jc_eventlog_consumer_seek(struct jc_eventlog_consumer *c, uint32_t partition, uint64_t offset);
int jc_eventlog_consumer_position(const struct jc_eventlog_consumer *c, uint32_t partition,
                                  uint64_t *offset);
/* Reads the next records of the assigned partitions (round-robin, one
 * partition's records per call, in offset order) and advances the in-memory
 * positions past them. Waits up to timeout_ms when nothing is available. */
int jc_eventlog_consumer_poll(struct jc_eventlog_consumer *c, int timeout_ms,
                              struct jc_eventlog_batch *out);
/* Commits the current positions of all assigned partitions to the group
 * (JC_ESTATE without a group). */
int jc_eventlog_consumer_commit(struct jc_eventlog_consumer *c);
/* Sum over assigned partitions of end - position. */
int jc_eventlog_consumer_lag(struct jc_eventlog_consumer *c, uint64_t *lag);

/* ---- replay ----------------------------------------------------------------- */

struct jc_progress;
/*
 * Appends every interaction of the catalog to the log in time order (ties
 * by user, then item), as events of the interaction's type with its value,
 * time_ms = time * 1000 and the catalog's external ids; custom catalog event
 * types are written as custom types by name. Appends in batches of `batch`
 * (0 = 4096). *n_appended (may be NULL) gets the count. Errors: those of
 * append; JC_ENOMEM.
 */
int jc_eventlog_replay_catalog(struct jc_eventlog *log, const struct jc_catalog *cat, size_t batch,
                               const struct jc_progress *progress, uint64_t *n_appended);

#endif
