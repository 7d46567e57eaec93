/*
 * eventlog_int.h - what the event log front end (eventlog.c) shares with its
 * backends (eventlog_embedded.c, eventlog_kafka.c): the metrics counters,
 * the backend constructors, batch helpers, and test hooks.
 */
#ifndef JC_EVENTLOG_INT_H
#define JC_EVENTLOG_INT_H

#include <junco/eventlog.h>

#include <stdatomic.h>
#include <stdint.h>

/* Counters owned by the front end; backends add to fsyncs/commits. */
struct jc_eventlog__metrics {
    atomic_uint_fast64_t events_appended, bytes_appended, append_calls, append_errors;
    atomic_uint_fast64_t fsyncs, commits, records_read;
    atomic_uint_fast64_t lat_count[JC_EVENTLOG_LAT_BUCKETS];
    atomic_uint_fast64_t lat_sum_us;
};

extern const struct jc_eventlog_ops jc_eventlog__embedded_ops;
extern const struct jc_eventlog_ops jc_eventlog__kafka_ops;

int jc_eventlog__embedded_open(void **impl, const struct jc_eventlog_config *cfg,
                               struct jc_eventlog__metrics *m);
int jc_eventlog__kafka_open(void **impl, const struct jc_eventlog_config *cfg,
                            struct jc_eventlog__metrics *m);

/* Appends a record to a batch (copying the payload). JC_ENOMEM. */
int jc_eventlog__batch_push(struct jc_eventlog_batch *b, uint32_t partition, uint64_t offset,
                            int64_t append_ms, const void *data, size_t len);
void jc_eventlog__batch_reset(struct jc_eventlog_batch *b);

/* 1 if group is a valid group name (1..64 bytes of [A-Za-z0-9._-], not "."
 * or ".."). */
int jc_eventlog__valid_group(const char *group);

/* Unix time in milliseconds. */
int64_t jc_eventlog__now_ms(void);

/* Test hook (embedded backend): the n-th data write to a segment from now
 * writes half of its bytes and then fails with errno err (ENOSPC, EIO);
 * n = 0 disables. Process-wide. */
void jc_eventlog__fail_write_after(long n, int err);
/* Test hook: the n-th fsync of a segment from now fails with EIO. */
void jc_eventlog__fail_fsync_after(long n);

#endif
