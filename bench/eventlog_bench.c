/*
 * eventlog_bench.c - durable append throughput and latency of the embedded
 * event log, and of redis-server Streams (XADD) with the same payloads.
 *
 *   bench_eventlog junco DIR EVENTS THREADS BATCH FSYNC [PARTITIONS]
 *   bench_eventlog redis PORT EVENTS THREADS BATCH
 *
 * Both modes append the same synthetic events (the binary encoding of
 * jc_event, ~40 bytes: user, item, rating, time) from THREADS threads, each
 * call carrying BATCH events, and print one JSON line: events, seconds,
 * events_per_s, and the p50/p99 latency (microseconds) of one call, measured
 * exactly (every call timed). junco calls return when the batch is durable
 * per FSYNC (batch|interval|off); redis calls pipeline BATCH XADDs on one
 * connection per thread and return when all replies arrived (durability is
 * the server's appendfsync setting, which the script sets to everysec).
 */
#include "core/alloc.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/eventlog.h>

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct payloads {
    char *data;
    size_t *off, *len;
    uint32_t *part; /* partition of each event (jc_eventlog_partition_of) */
    size_t n;
};

/* Synthetic events: user k mod 10000, item Zipf-ish, rating, time. */
static void make_payloads(struct payloads *p, size_t n)
{
    p->n = n;
    p->data = jc_malloc(n * 64);
    p->off = jc_malloc_array(n, sizeof *p->off);
    p->len = jc_malloc_array(n, sizeof *p->len);
    p->part = jc_calloc(n, sizeof *p->part);
    if (!p->data || !p->off || !p->len || !p->part) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    size_t at = 0;
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char user[16], item[16];
        int un = snprintf(user, sizeof user, "%" PRIu64, x % 10000);
        int in = snprintf(item, sizeof item, "%" PRIu64, (x >> 20) % ((x >> 40) % 5000 + 1));
        struct jc_event ev;
        jc_event_init(&ev);
        ev.user = user;
        ev.user_len = (size_t)un;
        ev.item = item;
        ev.item_len = (size_t)in;
        ev.type = JC_EV_RATING;
        ev.value = (float)((x >> 8) % 10) / 2.0f + 0.5f;
        ev.time_ms = 1500000000000ll + (int64_t)i * 1000;
        size_t len;
        if (jc_event_encode(&ev, p->data + at, 64, &len) != JC_OK) {
            fprintf(stderr, "encode: %s\n", jc_errmsg());
            exit(1);
        }
        p->off[i] = at;
        p->len[i] = len;
        at += len;
    }
}

struct worker {
    int mode; /* 0 junco, 1 redis */
    struct jc_eventlog *log;
    int port;
    const struct payloads *p;
    size_t from, to, batch;
    double *lat_us; /* one per call */
    size_t n_lat;
    int failed;
};

static void *junco_worker(void *arg)
{
    struct worker *w = arg;
    struct jc_eventlog_rec *recs = jc_malloc_array(w->batch, sizeof *recs);
    for (size_t i = w->from; i < w->to;) {
        size_t k = 0;
        for (; k < w->batch && i + k < w->to; k++) {
            size_t e = i + k;
            recs[k].data = w->p->data + w->p->off[e];
            recs[k].len = w->p->len[e];
            recs[k].partition = w->p->part[e];
        }
        uint64_t t0 = jc_now_ns();
        if (jc_eventlog_append_raw(w->log, recs, k, NULL) != JC_OK) {
            fprintf(stderr, "append: %s\n", jc_errmsg());
            w->failed = 1;
            break;
        }
        w->lat_us[w->n_lat++] = (double)(jc_now_ns() - t0) / 1000.0;
        i += k;
    }
    jc_free(recs);
    return NULL;
}

static void *redis_worker(void *arg)
{
    struct worker *w = arg;
    redisContext *c = redisConnect("127.0.0.1", w->port);
    if (c == NULL || c->err) {
        fprintf(stderr, "redis connect: %s\n", c ? c->errstr : "no memory");
        w->failed = 1;
        return NULL;
    }
    for (size_t i = w->from; i < w->to && !w->failed;) {
        size_t k = 0;
        uint64_t t0 = jc_now_ns();
        for (; k < w->batch && i + k < w->to; k++) {
            size_t e = i + k;
            redisAppendCommand(c, "XADD events * e %b", w->p->data + w->p->off[e], w->p->len[e]);
        }
        for (size_t j = 0; j < k; j++) {
            void *reply;
            if (redisGetReply(c, &reply) != REDIS_OK) {
                fprintf(stderr, "redis: %s\n", c->errstr);
                w->failed = 1;
                break;
            }
            redisReply *r = reply;
            if (r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "redis: %s\n", r->str);
                w->failed = 1;
            }
            freeReplyObject(reply);
        }
        w->lat_us[w->n_lat++] = (double)(jc_now_ns() - t0) / 1000.0;
        i += k;
    }
    redisFree(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static long arg_long(const char *s, const char *what)
{
    int64_t v;
    if (jc_parse_i64_str(s, &v) != JC_OK || v <= 0 || v > 1000000000) {
        fprintf(stderr, "bad %s '%s'\n", what, s);
        exit(2);
    }
    return (long)v;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr,
                "usage: %s junco DIR EVENTS THREADS BATCH FSYNC [PARTITIONS]\n"
                "       %s redis PORT EVENTS THREADS BATCH\n",
                argv[0], argv[0]);
        return 2;
    }
    int redis = strcmp(argv[1], "redis") == 0;
    size_t n = (size_t)arg_long(argv[3], "EVENTS");
    int threads = (int)arg_long(argv[4], "THREADS");
    size_t batch = (size_t)arg_long(argv[5], "BATCH");
    struct payloads p;
    make_payloads(&p, n);
    struct jc_eventlog *log = NULL;
    const char *fsync_name = "-";
    if (!redis) {
        struct jc_eventlog_config c;
        jc_eventlog_config_default(&c);
        c.dir = argv[2];
        fsync_name = argc > 6 ? argv[6] : "batch";
        c.fsync = strcmp(fsync_name, "off") == 0        ? JC_FSYNC_OFF
                  : strcmp(fsync_name, "interval") == 0 ? JC_FSYNC_INTERVAL
                                                        : JC_FSYNC_BATCH;
        c.n_partitions = argc > 7 ? (uint32_t)arg_long(argv[7], "PARTITIONS") : 2;
        if (jc_eventlog_open(&log, &c) != JC_OK) {
            fprintf(stderr, "open: %s\n", jc_errmsg());
            return 1;
        }
        /* Same partitioning as jc_eventlog_append: by user. */
        for (size_t i = 0; i < n; i++) {
            struct jc_event ev;
            jc_event_decode(p.data + p.off[i], p.len[i], &ev);
            p.part[i] = jc_eventlog_partition_of(log, ev.user, ev.user_len);
        }
    }
    struct worker *w = jc_calloc((size_t)threads, sizeof *w);
    pthread_t *th = jc_calloc((size_t)threads, sizeof *th);
    size_t per = (n + (size_t)threads - 1) / (size_t)threads;
    uint64_t t0 = jc_now_ns();
    for (int t = 0; t < threads; t++) {
        w[t].mode = redis;
        w[t].log = log;
        w[t].port = redis ? (int)arg_long(argv[2], "PORT") : 0;
        w[t].p = &p;
        w[t].from = (size_t)t * per < n ? (size_t)t * per : n;
        w[t].to = w[t].from + per < n ? w[t].from + per : n;
        w[t].batch = batch;
        w[t].lat_us = jc_malloc_array(per / batch + 2, sizeof(double));
        pthread_create(&th[t], NULL, redis ? redis_worker : junco_worker, &w[t]);
    }
    int failed = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        failed |= w[t].failed;
    }
    double secs = (double)(jc_now_ns() - t0) / 1e9;
    struct jc_eventlog_stats st;
    memset(&st, 0, sizeof st);
    if (log) {
        jc_eventlog_get_stats(log, &st);
        jc_eventlog_close(log);
    }
    if (failed)
        return 1;
    size_t n_lat = 0;
    for (int t = 0; t < threads; t++)
        n_lat += w[t].n_lat;
    double *lat = jc_malloc_array(n_lat, sizeof *lat);
    size_t k = 0;
    for (int t = 0; t < threads; t++)
        for (size_t i = 0; i < w[t].n_lat; i++)
            lat[k++] = w[t].lat_us[i];
    qsort(lat, n_lat, sizeof *lat, cmp_double);
    double p50 = lat[n_lat / 2], p99 = lat[(size_t)((double)n_lat * 0.99)];
    printf("{\"impl\":\"%s\",\"fsync\":\"%s\",\"events\":%zu,\"threads\":%d,\"batch\":%zu,"
           "\"seconds\":%.4f,\"events_per_s\":%.0f,\"call_p50_us\":%.1f,\"call_p99_us\":%.1f,"
           "\"fsyncs\":%" PRIu64 ",\"group_commits\":%" PRIu64 "}\n",
           redis ? "redis-xadd" : "junco", redis ? "appendfsync-everysec" : fsync_name, n, threads,
           batch, secs, (double)n / secs, p50, p99, st.fsyncs, st.commits);
    return 0;
}
