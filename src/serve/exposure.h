/*
 * exposure.h - exposure logging: every recommendation list the server
 * returns becomes impression events in the event log, written off the
 * request path.
 *
 * Event shape (one event per served item, so that impression counts are
 * true counts for every consumer: the A/B tally computes CTR = clicks /
 * impressions, the nearline worker and the online learner treat an
 * impression as a (negative) example of that item):
 *   user, item      external ids
 *   type            impression
 *   value           1
 *   time_ms         when the list was served
 *   request_id      the request's id (also the X-Request-Id response header)
 *   experiment,     the user's assignment in the first layer that assigns
 *   variant         them (absent when the user is in no experiment)
 *   context         {"pos":3,"n":10,"scene":"default","ranker":"heuristic",
 *                    "ab":{"exp":"variant",...}}  - pos is 1-based in the
 *                   whole ranking (offset included), n the list length, ab
 *                   every assignment of the request (all layers).
 * An event carries one experiment/variant pair: with several layers, the
 * other assignments are only in context.ab (see the report for the
 * consequence for `junco ab report`).
 *
 * Queueing: jc_exposure_submit copies a list into one heap block and links
 * it into a queue under a mutex (a few pointer writes); it never waits for
 * I/O. The queue is bounded in events: a list that does not fit is dropped
 * whole and counted. One background thread takes everything queued, builds
 * the events in batches (up to `batch` events per jc_eventlog_append, so one
 * group commit / fsync per batch) and appends them; a failed append drops
 * its events (counted, logged at WARN with rate limiting).
 *
 * Threading: submit, flush and get_stats from any thread; open/close from
 * one owner thread. close drains the queue before it returns.
 */
#ifndef JC_SERVE_EXPOSURE_H
#define JC_SERVE_EXPOSURE_H

#include <stddef.h>
#include <stdint.h>

struct jc_eventlog;

struct jc_exposure_config {
    struct jc_eventlog *log; /* borrowed, outlives the logger; NULL = no log */
    size_t capacity;         /* events queued at most (default 65536) */
    size_t batch;            /* events per append (default 4096) */
};
void jc_exposure_config_default(struct jc_exposure_config *c);

/* One served list; every pointer is borrowed for the duration of submit. */
struct jc_exposure_list {
    const char *user;
    const char *request_id; /* may be NULL */
    const char *experiment; /* may be NULL */
    const char *variant;    /* with experiment */
    /* compact JSON members appended to the context after "pos" and "n",
     * without braces, e.g. "\"scene\":\"default\""; may be NULL. Dropped
     * when the context would exceed the event limit. */
    const char *context_tail;
    int64_t time_ms;
    uint32_t offset; /* ranking position of items[0] minus 1 */
    size_t n;
    const char *const *items; /* external ids */
};

struct jc_exposure_stats {
    uint64_t lists;           /* lists submitted (queued or dropped) */
    uint64_t queued;          /* events accepted into the queue */
    uint64_t appended;        /* events acknowledged by the log */
    uint64_t dropped_full;    /* events dropped: queue full */
    uint64_t dropped_error;   /* events dropped: append failed */
    uint64_t dropped_invalid; /* events dropped: failed validation */
    uint64_t dropped_no_log;  /* events dropped: no event log */
    uint64_t batches;         /* append calls */
    uint64_t depth;           /* events queued and not yet appended/dropped */
};

struct jc_exposure;

/* Starts the logger and its thread. JC_ENOMEM, JC_EINVAL (capacity 0),
 * JC_EIO (thread). */
int jc_exposure_open(struct jc_exposure **out, const struct jc_exposure_config *cfg);
/* Queues a list. JC_OK (queued), JC_ELIMIT (queue full: dropped, counted),
 * JC_ESTATE (no log, or closing: dropped, counted), JC_ENOMEM (dropped).
 * Never blocks on I/O. */
int jc_exposure_submit(struct jc_exposure *x, const struct jc_exposure_list *l);
/* Waits until everything submitted before the call is appended or dropped. */
void jc_exposure_flush(struct jc_exposure *x);
void jc_exposure_get_stats(struct jc_exposure *x, struct jc_exposure_stats *out);
/* Drains the queue, stops the thread and frees. No submit may be in flight
 * (the server closes it after its HTTP threads stopped). NULL is a no-op. */
void jc_exposure_close(struct jc_exposure *x);

#endif
