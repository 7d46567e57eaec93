/*
 * eventlog_kafka.c - the Kafka backend of the event log (librdkafka).
 *
 * One idempotent producer (enable.idempotence=true, acks=all) appends: each
 * call produces its records to explicit partitions and then polls until
 * every delivery report of the call has arrived, so the call returns only
 * when the brokers acknowledged all its records (and the offsets they got)
 * or with the first delivery error. It never returns while a report is
 * still due, because the reports write into the call's memory.
 *
 * Reads use one consumer handle that never commits, assigned to one
 * (partition, offset) at a time; sequential reads of a partition reuse the
 * assignment and librdkafka's prefetched queue. Group offsets use one
 * consumer handle per group (group.id = the group, no subscription), with
 * synchronous rd_kafka_commit / rd_kafka_committed.
 *
 * brokers = "mock" starts librdkafka's in-process mock cluster
 * (test.mock.num.brokers=1) inside the producer; consumers connect to its
 * bootstrap address. It lives as long as the log handle: for tests only.
 * Real clusters: see docs/EVENTS.md ([kafka] settings, properties for TLS and
 * SASL). Retention is the brokers' business (topic retention.ms/bytes).
 *
 * Threading: append and read may be called from many threads; reads and
 * group operations are serialised by one mutex.
 */
#include "eventlog_int.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/timeutil.h"
#include <junco/error.h>

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_GROUPS 16

struct group_handle {
    char name[JC_EVENTLOG_MAX_GROUP + 1];
    rd_kafka_t *rk;
};

struct kaf {
    char topic[256];
    char brokers[1024];
    char client_id[128];
    char *properties; /* owned copy */
    int timeout_ms;
    int linger_ms;
    int mock;
    uint32_t n_parts;
    rd_kafka_t *producer;
    rd_kafka_topic_t *ptopic;
    pthread_mutex_t mu; /* reader + groups */
    rd_kafka_t *reader;
    int reader_assigned;
    uint32_t reader_part;
    uint64_t reader_next;
    struct group_handle groups[MAX_GROUPS];
    int n_groups;
    struct jc_eventlog__metrics *m;
};

/* Delivery bookkeeping of one append call. */
struct append_ctx {
    atomic_size_t remaining;
    atomic_int err; /* first rd_kafka_resp_err_t, 0 if none */
    uint64_t *offsets;
    uint32_t *partitions_seen;
};

struct msg_ref {
    struct append_ctx *ctx;
    size_t i;
};

static int kerr(rd_kafka_resp_err_t err, const char *what)
{
    int code = err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
                   ? JC_ETIMEOUT
               : err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
                   ? JC_ECONN
                   : JC_EIO;
    return jc_err_set(code, "kafka: %s: %s", what, rd_kafka_err2str(err));
}

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char errstr[512];
    if (rd_kafka_conf_set(c, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return jc_err_set(JC_EINVAL, "kafka: property %s=%s: %s", k, v, errstr);
    return JC_OK;
}

/* Applies "key=value;key=value" (kafka.properties). */
static int conf_props(rd_kafka_conf_t *c, const char *props)
{
    if (props == NULL || props[0] == '\0')
        return JC_OK;
    char *copy = jc_strdup(props);
    if (copy == NULL)
        return JC_ENOMEM;
    int rc = JC_OK;
    char *p = copy;
    while (p && *p && rc == JC_OK) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = '\0';
        while (*p == ' ')
            p++;
        if (*p) {
            char *eq = strchr(p, '=');
            if (eq == NULL || eq == p)
                rc = jc_err_set(JC_EINVAL, "kafka.properties: '%s' is not key=value", p);
            else {
                *eq = '\0';
                rc = conf_set(c, p, eq + 1);
            }
        }
        p = semi ? semi + 1 : NULL;
    }
    jc_free(copy);
    return rc;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        JC_ERROR("kafka: %s: %s", fac, buf);
    else if (level <= 5)
        JC_INFO("kafka: %s: %s", fac, buf);
    else
        JC_DEBUG("kafka: %s: %s", fac, buf);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct msg_ref *ref = msg->_private;
    if (ref == NULL)
        return;
    struct append_ctx *ctx = ref->ctx;
    if (msg->err) {
        int expected = 0;
        atomic_compare_exchange_strong(&ctx->err, &expected, (int)msg->err);
    } else if (ctx->offsets) {
        ctx->offsets[ref->i] = (uint64_t)msg->offset;
    }
    atomic_fetch_sub(&ctx->remaining, 1);
}

static int base_conf(struct kaf *k, rd_kafka_conf_t *c, int for_producer)
{
    int rc = conf_set(c, "client.id", k->client_id);
    if (rc == JC_OK && k->mock && for_producer)
        rc = conf_set(c, "test.mock.num.brokers", "1");
    else if (rc == JC_OK)
        rc = conf_set(c, "bootstrap.servers", k->brokers);
    if (rc == JC_OK)
        rc = conf_props(c, k->properties);
    if (rc == JC_OK) {
        char v[32];
        snprintf(v, sizeof v, "%d", k->timeout_ms);
        rc = conf_set(c, "socket.timeout.ms", v);
    }
    rd_kafka_conf_set_log_cb(c, log_cb);
    return rc;
}

static int new_consumer(struct kaf *k, const char *group, rd_kafka_t **out)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = base_conf(k, c, 0);
    if (rc == JC_OK)
        rc = conf_set(c, "group.id", group);
    if (rc == JC_OK)
        rc = conf_set(c, "enable.auto.commit", "false");
    if (rc == JC_OK)
        rc = conf_set(c, "enable.auto.offset.store", "false");
    if (rc == JC_OK)
        rc = conf_set(c, "auto.offset.reset", "earliest");
    if (rc == JC_OK)
        rc = conf_set(c, "enable.partition.eof", "false");
    if (rc == JC_OK)
        rc = conf_set(c, "fetch.wait.max.ms", "20");
    if (rc) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(c);
        return jc_err_set(JC_EINVAL, "kafka: cannot create a consumer: %s", errstr);
    }
    *out = rk;
    return JC_OK;
}

static int create_topic_admin(struct kaf *k, uint32_t partitions, uint32_t replication)
{
    char errstr[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(k->topic, (int)partitions, (int)replication, errstr, sizeof errstr);
    if (nt == NULL)
        return jc_err_set(JC_EINVAL, "kafka: topic %s: %s", k->topic, errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->producer);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(k->producer, RD_KAFKA_ADMIN_OP_ANY);
    rd_kafka_AdminOptions_set_request_timeout(opt, k->timeout_ms, errstr, sizeof errstr);
    rd_kafka_CreateTopics(k->producer, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, k->timeout_ms + 1000);
    int rc = JC_OK;
    if (ev == NULL) {
        rc = jc_err_set(JC_ETIMEOUT, "kafka: creating topic %s timed out", k->topic);
    } else if (rd_kafka_event_error(ev)) {
        rc = kerr(rd_kafka_event_error(ev), "create topic");
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                rc = jc_err_set(JC_EIO, "kafka: cannot create topic %s: %s", k->topic,
                                rd_kafka_topic_result_error_string(tr[i]));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Partition count of the topic from metadata; 0 if the topic is unknown. */
static int topic_partitions(struct kaf *k, uint32_t *n)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->producer, 0, k->ptopic, &md, k->timeout_ms);
    if (err)
        return kerr(err, "metadata");
    *n = 0;
    if (md->topic_cnt == 1 && md->topics[0].err == 0)
        *n = (uint32_t)md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return JC_OK;
}

static void kaf_close(void *impl)
{
    struct kaf *k = impl;
    if (k == NULL)
        return;
    for (int i = 0; i < k->n_groups; i++) {
        rd_kafka_consumer_close(k->groups[i].rk);
        rd_kafka_destroy(k->groups[i].rk);
    }
    if (k->reader) {
        rd_kafka_consumer_close(k->reader);
        rd_kafka_destroy(k->reader);
    }
    if (k->producer) {
        rd_kafka_flush(k->producer, k->timeout_ms);
        if (k->ptopic)
            rd_kafka_topic_destroy(k->ptopic);
        rd_kafka_destroy(k->producer);
    }
    pthread_mutex_destroy(&k->mu);
    jc_free(k->properties);
    jc_free(k);
}

int jc_eventlog__kafka_open(void **impl, const struct jc_eventlog_config *cfg,
                            struct jc_eventlog__metrics *m)
{
    if (cfg->kafka_brokers == NULL || cfg->kafka_brokers[0] == '\0')
        return jc_err_set(JC_EINVAL, "kafka: no brokers configured (set kafka.brokers, or "
                                     "\"mock\" for the in-process test cluster)");
    if (cfg->kafka_topic == NULL || cfg->kafka_topic[0] == '\0' || strlen(cfg->kafka_topic) >= 250)
        return jc_err_set(JC_EINVAL, "kafka: bad topic name");
    struct kaf *k = jc_calloc(1, sizeof *k);
    if (k == NULL)
        return JC_ENOMEM;
    pthread_mutex_init(&k->mu, NULL);
    k->m = m;
    snprintf(k->topic, sizeof k->topic, "%s", cfg->kafka_topic);
    snprintf(k->brokers, sizeof k->brokers, "%s", cfg->kafka_brokers);
    snprintf(k->client_id, sizeof k->client_id, "%s",
             cfg->kafka_client_id && cfg->kafka_client_id[0] ? cfg->kafka_client_id : "junco");
    k->properties = jc_strdup(cfg->kafka_properties ? cfg->kafka_properties : "");
    k->timeout_ms = cfg->kafka_timeout_ms > 0 ? cfg->kafka_timeout_ms : 30000;
    k->linger_ms = cfg->kafka_linger_ms >= 0 ? cfg->kafka_linger_ms : 5;
    k->mock = strcmp(cfg->kafka_brokers, "mock") == 0;
    int rc = k->properties ? JC_OK : JC_ENOMEM;

    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rc == JC_OK)
        rc = base_conf(k, c, 1);
    if (rc == JC_OK)
        rc = conf_set(c, "enable.idempotence", "true");
    if (rc == JC_OK)
        rc = conf_set(c, "acks", "all");
    char v[32];
    snprintf(v, sizeof v, "%d", k->linger_ms);
    if (rc == JC_OK)
        rc = conf_set(c, "linger.ms", v);
    snprintf(v, sizeof v, "%d", k->timeout_ms);
    if (rc == JC_OK)
        rc = conf_set(c, "message.timeout.ms", v);
    if (rc) {
        rd_kafka_conf_destroy(c);
        kaf_close(k);
        return rc;
    }
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    char errstr[512];
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr);
    if (k->producer == NULL) {
        rd_kafka_conf_destroy(c);
        kaf_close(k);
        return jc_err_set(JC_EINVAL, "kafka: cannot create the producer: %s", errstr);
    }
    uint32_t want = cfg->kafka_partitions ? cfg->kafka_partitions : 1;
    if (k->mock) {
        rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(k->producer);
        if (mc == NULL) {
            kaf_close(k);
            return jc_err_set(JC_EINTERNAL, "kafka: no mock cluster in the producer");
        }
        snprintf(k->brokers, sizeof k->brokers, "%s", rd_kafka_mock_cluster_bootstraps(mc));
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, k->topic, (int)want, 1);
        if (err) {
            rc = kerr(err, "mock topic");
            kaf_close(k);
            return rc;
        }
    }
    k->ptopic = rd_kafka_topic_new(k->producer, k->topic, NULL);
    if (k->ptopic == NULL) {
        kaf_close(k);
        return kerr(rd_kafka_last_error(), "topic handle");
    }
    uint32_t n = 0;
    rc = topic_partitions(k, &n);
    if (rc == JC_OK && n == 0 && cfg->kafka_create_topic && !k->mock) {
        rc = create_topic_admin(k, want, cfg->kafka_replication ? cfg->kafka_replication : 1);
        /* Metadata may lag the creation briefly. */
        for (int tries = 0; rc == JC_OK && n == 0 && tries < 50; tries++) {
            rc = topic_partitions(k, &n);
            if (rc == JC_OK && n == 0)
                rd_kafka_poll(k->producer, 100);
        }
    }
    if (rc == JC_OK && n == 0)
        rc = jc_err_set(JC_ENOTFOUND, "kafka: topic %s does not exist (kafka.create_topic)",
                        k->topic);
    if (rc == JC_OK && n > JC_EVENTLOG_MAX_PARTITIONS)
        rc = jc_err_set(JC_ELIMIT, "kafka: topic %s has %u partitions (junco handles %d)", k->topic,
                        n, JC_EVENTLOG_MAX_PARTITIONS);
    k->n_parts = n;
    if (rc == JC_OK)
        rc = new_consumer(k, "junco-reader", &k->reader);
    if (rc) {
        kaf_close(k);
        return rc;
    }
    *impl = k;
    return JC_OK;
}

static uint32_t kaf_n_partitions(void *impl)
{
    return ((struct kaf *)impl)->n_parts;
}

static int kaf_append(void *impl, const struct jc_eventlog_rec *recs, size_t n, uint64_t *offsets)
{
    struct kaf *k = impl;
    if (n == 0)
        return JC_OK;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].partition >= k->n_parts)
            return jc_err_set(JC_EINVAL, "partition %u out of range (the topic has %u)",
                              recs[i].partition, k->n_parts);
        if (recs[i].len == 0 || recs[i].len > JC_EVENTLOG_MAX_RECORD)
            return jc_err_set(JC_EINVAL, "record of %zu bytes (allowed 1..%u)", recs[i].len,
                              JC_EVENTLOG_MAX_RECORD);
    }
    struct msg_ref *refs = jc_malloc_array(n, sizeof *refs);
    if (refs == NULL)
        return JC_ENOMEM;
    struct append_ctx ctx;
    atomic_init(&ctx.remaining, n);
    atomic_init(&ctx.err, 0);
    ctx.offsets = offsets;
    int rc = JC_OK;
    size_t produced = 0;
    for (size_t i = 0; i < n; i++) {
        refs[i].ctx = &ctx;
        refs[i].i = i;
        for (;;) {
            if (rd_kafka_produce(k->ptopic, (int32_t)recs[i].partition, RD_KAFKA_MSG_F_COPY,
                                 (void *)recs[i].data, recs[i].len, NULL, 0, &refs[i]) == 0)
                break;
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(k->producer, 10);
                continue;
            }
            rc = kerr(err, "produce");
            break;
        }
        if (rc)
            break;
        produced++;
    }
    /* Records never handed to librdkafka will get no report. */
    atomic_fetch_sub(&ctx.remaining, n - produced);
    while (atomic_load(&ctx.remaining) > 0)
        rd_kafka_poll(k->producer, 5);
    int err = atomic_load(&ctx.err);
    if (rc == JC_OK && err)
        rc = kerr((rd_kafka_resp_err_t)err, "delivery");
    jc_free(refs);
    return rc;
}

static int kaf_offsets(void *impl, uint32_t partition, uint64_t *begin, uint64_t *end)
{
    struct kaf *k = impl;
    int64_t lo, hi;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        k->producer, k->topic, (int32_t)partition, &lo, &hi, k->timeout_ms);
    if (err)
        return kerr(err, "watermark offsets");
    *begin = (uint64_t)lo;
    *end = (uint64_t)hi;
    return JC_OK;
}

static int kaf_read(void *impl, uint32_t partition, uint64_t offset, size_t max_records,
                    size_t max_bytes, int timeout_ms, struct jc_eventlog_batch *out)
{
    struct kaf *k = impl;
    jc_eventlog__batch_reset(out);
    if (partition >= k->n_parts)
        return jc_err_set(JC_EINVAL, "partition %u out of range (the topic has %u)", partition,
                          k->n_parts);
    if (max_records == 0)
        return JC_OK;
    uint64_t begin = 0, end = 0;
    int rc = kaf_offsets(impl, partition, &begin, &end);
    if (rc)
        return rc;
    if (offset < begin)
        offset = begin;
    int wait = timeout_ms;
    if (offset < end && wait < k->timeout_ms)
        wait = k->timeout_ms; /* records exist: they arrive as soon as fetched */
    if (offset >= end && timeout_ms <= 0)
        return JC_OK;
    pthread_mutex_lock(&k->mu);
    if (!k->reader_assigned || k->reader_part != partition || k->reader_next != offset) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, k->topic, (int32_t)partition)->offset =
            (int64_t)offset;
        rd_kafka_resp_err_t err = rd_kafka_assign(k->reader, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err) {
            pthread_mutex_unlock(&k->mu);
            return kerr(err, "assign");
        }
        k->reader_assigned = 1;
        k->reader_part = partition;
        k->reader_next = offset;
    }
    uint64_t t_end = jc_now_ns() + (uint64_t)(wait > 0 ? wait : 0) * 1000000u;
    size_t bytes = 0;
    while (out->n < max_records && rc == JC_OK) {
        int ms = 0;
        if (out->n == 0) {
            uint64_t now = jc_now_ns();
            if (now >= t_end)
                break;
            ms = (int)((t_end - now) / 1000000u) + 1;
            if (ms > 100)
                ms = 100;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(k->reader, ms);
        if (msg == NULL) {
            if (out->n > 0)
                break;
            continue;
        }
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                rc = kerr(msg->err, "consume");
        } else if ((uint32_t)msg->partition == partition &&
                   (uint64_t)msg->offset >= k->reader_next) {
            rc = jc_eventlog__batch_push(out, partition, (uint64_t)msg->offset,
                                         rd_kafka_message_timestamp(msg, NULL), msg->payload,
                                         msg->len);
            k->reader_next = (uint64_t)msg->offset + 1;
            bytes += msg->len;
            if (bytes >= max_bytes) {
                rd_kafka_message_destroy(msg);
                break;
            }
        }
        rd_kafka_message_destroy(msg);
    }
    pthread_mutex_unlock(&k->mu);
    if (rc) {
        jc_eventlog__batch_reset(out);
        return rc;
    }
    if (k->m)
        atomic_fetch_add(&k->m->records_read, out->n);
    return JC_OK;
}

/* The consumer handle of a group (created on first use). Caller holds mu. */
static int group_rk(struct kaf *k, const char *group, rd_kafka_t **out)
{
    for (int i = 0; i < k->n_groups; i++)
        if (strcmp(k->groups[i].name, group) == 0) {
            *out = k->groups[i].rk;
            return JC_OK;
        }
    if (k->n_groups == MAX_GROUPS)
        return jc_err_set(JC_ELIMIT, "kafka: more than %d consumer groups in one handle",
                          MAX_GROUPS);
    rd_kafka_t *rk;
    int rc = new_consumer(k, group, &rk);
    if (rc)
        return rc;
    snprintf(k->groups[k->n_groups].name, sizeof k->groups[0].name, "%s", group);
    k->groups[k->n_groups++].rk = rk;
    *out = rk;
    return JC_OK;
}

static int kaf_commit(void *impl, const char *group, uint32_t partition, uint64_t offset)
{
    struct kaf *k = impl;
    pthread_mutex_lock(&k->mu);
    rd_kafka_t *rk;
    int rc = group_rk(k, group, &rk);
    if (rc == JC_OK) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, k->topic, (int32_t)partition)->offset =
            (int64_t)offset;
        rd_kafka_resp_err_t err = rd_kafka_commit(rk, l, 0);
        if (!err && l->elems[0].err)
            err = l->elems[0].err;
        rd_kafka_topic_partition_list_destroy(l);
        if (err)
            rc = kerr(err, "commit");
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int kaf_committed(void *impl, const char *group, uint32_t partition, uint64_t *offset)
{
    struct kaf *k = impl;
    pthread_mutex_lock(&k->mu);
    rd_kafka_t *rk;
    int rc = group_rk(k, group, &rk);
    if (rc == JC_OK) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, k->topic, (int32_t)partition);
        rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, k->timeout_ms);
        if (!err && l->elems[0].err)
            err = l->elems[0].err;
        if (err)
            rc = kerr(err, "committed offsets");
        else if (l->elems[0].offset < 0)
            rc = jc_err_set(JC_ENOTFOUND, "group '%s' has no committed offset for partition %u",
                            group, partition);
        else
            *offset = (uint64_t)l->elems[0].offset;
        rd_kafka_topic_partition_list_destroy(l);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int kaf_list_groups(void *impl, int (*fn)(void *ctx, const char *group), void *ctx)
{
    struct kaf *k = impl;
    char names[MAX_GROUPS][JC_EVENTLOG_MAX_GROUP + 1];
    pthread_mutex_lock(&k->mu);
    int n = k->n_groups;
    for (int i = 0; i < n; i++)
        memcpy(names[i], k->groups[i].name, sizeof names[i]);
    pthread_mutex_unlock(&k->mu);
    for (int i = 0; i < n; i++) {
        int rc = fn(ctx, names[i]);
        if (rc)
            return rc;
    }
    return JC_OK;
}

static int kaf_describe(void *impl, uint32_t partition, struct jc_eventlog_partition_info *out)
{
    uint64_t b = 0, e = 0;
    int rc = kaf_offsets(impl, partition, &b, &e);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->begin = b;
    out->end = e;
    return JC_OK;
}

static int kaf_sync(void *impl)
{
    struct kaf *k = impl;
    rd_kafka_resp_err_t err = rd_kafka_flush(k->producer, k->timeout_ms);
    return err ? kerr(err, "flush") : JC_OK;
}

static int kaf_retention(void *impl, uint64_t *n_deleted)
{
    (void)impl;
    *n_deleted = 0; /* the brokers apply the topic's retention */
    return JC_OK;
}

const struct jc_eventlog_ops jc_eventlog__kafka_ops = {
    .name = "kafka",
    .n_partitions = kaf_n_partitions,
    .append = kaf_append,
    .read = kaf_read,
    .offsets = kaf_offsets,
    .commit = kaf_commit,
    .committed = kaf_committed,
    .list_groups = kaf_list_groups,
    .describe = kaf_describe,
    .sync = kaf_sync,
    .retention = kaf_retention,
    .close = kaf_close,
};
