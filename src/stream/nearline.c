/*
 * nearline.c - the nearline worker (junco/nearline.h): event log ->
 * realtime feature state in the feature store, exactly once.
 *
 * One cycle (run_cycle):
 *   1. poll up to `batch` records from the assigned partitions (the first
 *      poll waits up to poll_ms, the next ones do not wait), copying them
 *      into an accumulator;
 *   2. decode each event, resolve its user and item in the catalog (unknown
 *      ones are created under their external id or rejected), and collect
 *      the store keys it touches into the cycle's working set (a small open
 *      addressing table over key strings);
 *   3. read the whole working set with jc_store_mget (one round trip) and
 *      decode it (missing records start empty);
 *   4. apply the events in log order with the feature code shared with the
 *      offline job (jc_user_state_add*, jc_item_state_add), the popularity
 *      record and the user vector; the online learner sees the states
 *      before each labelled event;
 *   5. write every changed record plus "nl:off:<group>:<p>" = next offset
 *      of every consumed partition in ONE jc_store_write batch.
 * If step 3 or 5 fails, the consumer is rewound to the offsets of the last
 * successful write and the cycle's effects are dropped: nothing is applied
 * twice, nothing is lost. The state is re-read from the store every cycle
 * (no cache across cycles), so what the store holds is always exactly the
 * events before the stored offsets.
 */
#include "eventlog_int.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timeutil.h"
#include <junco/catalog.h>
#include <junco/embed.h>
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/nearline.h>
#include <junco/online.h>
#include <junco/serve.h>
#include <junco/store.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

const double jc_nearline_lat_bounds_s[JC_NEARLINE_LAT_BUCKETS - 1] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

#define OFF_MAGIC    "JNLO"
#define POP_MAGIC    "JNLP"
#define UES_MAGIC    "JNLU"
#define REC_VERSION  1
#define OFF_ENC_SIZE 24
#define MGET_CHUNK   256u
#define KEY_CAP      600 /* > "nl:ues:" + 64-byte name + ":" + 255-byte id */

enum kind { K_USER = 0, K_ITEM = 1, K_POP = 2, K_UES = 3 };

struct entry {
    uint8_t kind;
    uint8_t dirty;
    uint32_t slot; /* index into the kind's array */
    uint32_t key_off, key_len;
    uint64_t hash;
};

/* A realtime user vector state (the embed module's struct points into the
 * worker's float pool). */
struct ues {
    struct jc_emb_user_state st;
};

/* One decoded event of the cycle. */
struct cyc_event {
    struct jc_event ev;
    uint32_t rec;                         /* record index in the accumulator */
    uint32_t user, item;                  /* catalog ids or JC_ID_NONE */
    int32_t e_user, e_item, e_pop, e_ues; /* working set entries or -1 */
    uint8_t skip;                         /* rejected */
    uint8_t feature;                      /* updates feature state */
};

struct jc_nearline {
    struct jc_nearline_config cfg;
    char group[JC_EVENTLOG_MAX_GROUP + 1];
    char emb_name[JC_EMB_NAME_MAX + 1];
    struct jc_eventlog_consumer *cons;
    uint32_t n_parts;
    uint32_t parts[JC_EVENTLOG_MAX_PARTITIONS];
    uint64_t stored[JC_EVENTLOG_MAX_PARTITIONS]; /* next offsets in the store */
    int lock_fd[JC_EVENTLOG_MAX_PARTITIONS];
    uint32_t emb_dim;
    float label_threshold;
    int implicit;
    /* cycle scratch, kept across cycles */
    struct jc_eventlog_batch poll, acc;
    struct cyc_event *evs;
    size_t evs_cap;
    struct entry *ents;
    size_t n_ents, ents_cap;
    uint32_t *table; /* entry index + 1, 0 = empty */
    size_t table_mask;
    struct jc_buf keys;
    struct jc_user_state *us;
    size_t n_us, us_cap;
    struct jc_item_state *is;
    size_t n_is, is_cap;
    struct jc_item_pop *pops;
    size_t n_pops, pops_cap;
    struct ues *ues;
    float *ues_sum;
    size_t n_ues, ues_cap;
    struct jc_buf arena;
    struct jc_store_val *vals;
    struct jc_store_batch *wb;
    uint64_t last_group_commit_ns;
    int online_warned;
    /* thread */
    pthread_t thread;
    int running;
    atomic_int stop;
    int last_rc;
    /* stats */
    pthread_mutex_t mu;
    struct jc_nearline_stats st;
    uint64_t rate_t_ns, rate_in, rate_out;
    /* registry series (cfg.metrics) */
    struct jc_metric *m_in, *m_out, *m_rej_unknown, *m_rej_bad, *m_commits, *m_errors, *m_lat;
    struct jc_metric *m_rate_in, *m_rate_out, *m_online_loss, *m_online_trips;
    struct jc_metric *m_lag[JC_EVENTLOG_MAX_PARTITIONS];
    uint64_t online_trips_seen;
};

/* ---- item popularity ----------------------------------------------------------- */

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void putf64(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put64(p, v);
}

static double getf64(const uint8_t *p)
{
    uint64_t v = get64(p);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* Checks magic, version and the trailing checksum of a record of n bytes. */
static int check_rec(const uint8_t *p, size_t n, size_t want, const char *magic, const char *what)
{
    if (n != want || n < 16)
        return jc_err_set(JC_ECORRUPT, "%s record: %zu bytes, expected %zu", what, n, want);
    if (memcmp(p, magic, 4) != 0)
        return jc_err_set(JC_ECORRUPT, "%s record: bad magic", what);
    if (p[4] != REC_VERSION)
        return jc_err_set(JC_EVERSION, "%s record: version %u (this build reads %u)", what, p[4],
                          REC_VERSION);
    if (jc_hash64(p, n - 8, 0) != get64(p + n - 8))
        return jc_err_set(JC_ECORRUPT, "%s record: checksum mismatch", what);
    return JC_OK;
}

static void head_rec(uint8_t *p, const char *magic)
{
    memcpy(p, magic, 4);
    p[4] = REC_VERSION;
    p[5] = p[6] = p[7] = 0;
}

void jc_item_pop_init(struct jc_item_pop *p)
{
    memset(p, 0, sizeof *p);
}

void jc_item_pop_add(struct jc_item_pop *p, double w, int64_t t_ms, double half_life_s)
{
    if (p->count == 0) {
        p->score = w;
        p->t_ref_ms = t_ms;
    } else if (half_life_s <= 0) {
        p->score += w;
        if (t_ms > p->t_ref_ms)
            p->t_ref_ms = t_ms;
    } else if (t_ms >= p->t_ref_ms) {
        p->score = p->score * exp2(-(double)(t_ms - p->t_ref_ms) / (half_life_s * 1000.0)) + w;
        p->t_ref_ms = t_ms;
    } else {
        p->score += w * exp2(-(double)(p->t_ref_ms - t_ms) / (half_life_s * 1000.0));
    }
    p->count++;
}

double jc_item_pop_score_at(const struct jc_item_pop *p, int64_t t_ms, double half_life_s)
{
    if (half_life_s <= 0 || t_ms <= p->t_ref_ms)
        return p->score;
    return p->score * exp2(-(double)(t_ms - p->t_ref_ms) / (half_life_s * 1000.0));
}

int jc_item_pop_encode(const struct jc_item_pop *p, void *buf, size_t cap, size_t *len)
{
    if (cap < JC_ITEM_POP_ENC_SIZE)
        return jc_err_set(JC_ELIMIT, "popularity record needs %d bytes", JC_ITEM_POP_ENC_SIZE);
    uint8_t *b = buf;
    head_rec(b, POP_MAGIC);
    put64(b + 8, p->count);
    putf64(b + 16, p->score);
    put64(b + 24, (uint64_t)p->t_ref_ms);
    put64(b + 32, jc_hash64(b, 32, 0));
    *len = JC_ITEM_POP_ENC_SIZE;
    return JC_OK;
}

int jc_item_pop_decode(struct jc_item_pop *p, const void *buf, size_t n)
{
    const uint8_t *b = buf;
    int rc = check_rec(b, n, JC_ITEM_POP_ENC_SIZE, POP_MAGIC, "popularity");
    if (rc)
        return rc;
    p->count = get64(b + 8);
    p->score = getf64(b + 16);
    p->t_ref_ms = (int64_t)get64(b + 24);
    return JC_OK;
}

/* ---- offsets --------------------------------------------------------------------- */

size_t jc_nearline_offset_key(const char *group, uint32_t partition, char *out, size_t cap)
{
    int n = snprintf(out, cap, "nl:off:%s:%03u", group, partition);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void encode_offset(uint64_t off, uint8_t *b)
{
    head_rec(b, OFF_MAGIC);
    put64(b + 8, off);
    put64(b + 16, jc_hash64(b, 16, 0));
}

int jc_nearline_stored_offset(struct jc_store *s, const char *group, uint32_t partition,
                              uint64_t *offset)
{
    char key[128];
    size_t kn = jc_nearline_offset_key(group, partition, key, sizeof key);
    if (kn == 0)
        return jc_err_set(JC_EINVAL, "nearline: group name too long");
    struct jc_buf v;
    jc_buf_init(&v, 4096);
    int rc = jc_store_get(s, key, kn, &v);
    if (rc == JC_OK) {
        rc = check_rec((const uint8_t *)v.data, v.len, OFF_ENC_SIZE, OFF_MAGIC, "offset");
        if (rc)
            jc_err_prefix(rc, "store key %s", key);
        else
            *offset = get64((const uint8_t *)v.data + 8);
    }
    jc_buf_free(&v);
    return rc;
}

/* ---- user vector state records ------------------------------------------------ */

static size_t ues_enc_size(uint32_t dim)
{
    return 32 + (size_t)dim * 4 + 8;
}

static void encode_ues(const struct jc_emb_user_state *st, uint8_t *b)
{
    head_rec(b, UES_MAGIC);
    put32(b + 8, st->dim);
    put32(b + 12, st->n);
    putf64(b + 16, st->weight);
    put64(b + 24, (uint64_t)st->t_last);
    for (uint32_t f = 0; f < st->dim; f++) {
        uint32_t v;
        memcpy(&v, &st->sum[f], 4);
        put32(b + 32 + 4 * (size_t)f, v);
    }
    size_t n = ues_enc_size(st->dim);
    put64(b + n - 8, jc_hash64(b, n - 8, 0));
}

static int decode_ues(struct jc_emb_user_state *st, const uint8_t *b, size_t n)
{
    if (n < 40)
        return jc_err_set(JC_ECORRUPT, "user vector record: %zu bytes", n);
    uint32_t dim = get32(b + 8);
    if (dim != st->dim)
        return jc_err_set(JC_ECORRUPT, "user vector record: dimension %u, the embedding has %u",
                          dim, st->dim);
    int rc = check_rec(b, n, ues_enc_size(dim), UES_MAGIC, "user vector");
    if (rc)
        return rc;
    st->n = get32(b + 12);
    st->weight = getf64(b + 16);
    st->t_last = (int64_t)get64(b + 24);
    for (uint32_t f = 0; f < dim; f++) {
        uint32_t v = get32(b + 32 + 4 * (size_t)f);
        memcpy(&st->sum[f], &v, 4);
    }
    return JC_OK;
}

/* ---- config ---------------------------------------------------------------------- */

void jc_nearline_config_default(struct jc_nearline_config *c)
{
    memset(c, 0, sizeof *c);
    c->group = "nearline";
    c->proc_index = 0;
    c->proc_count = 1;
    c->unknown_create = 1;
    c->batch = 1000;
    c->poll_ms = 100;
    c->trend_half_life_s = 86400;
    c->start = JC_START_EARLIEST;
    c->commit_group_ms = 1000;
}

void jc_nearline_config_from(struct jc_nearline_config *c, const struct jc_config *cfg)
{
    c->group = cfg->nearline_group;
    c->batch = (uint32_t)cfg->nearline_batch;
    c->poll_ms = (int)cfg->nearline_poll_ms;
    c->trend_half_life_s = cfg->nearline_trend_half_life;
    if (strcmp(cfg->nearline_start, "latest") == 0)
        c->start = JC_START_LATEST;
    else if (strcmp(cfg->nearline_start, "committed") == 0)
        c->start = JC_START_COMMITTED;
    else
        c->start = JC_START_EARLIEST;
    c->unknown_create = strcmp(cfg->events_unknown_entity, "reject") != 0;
    c->emb_half_life_s = cfg->embed_user_half_life * 86400.0;
}

/* ---- partition locks ------------------------------------------------------------- */

static int lock_partition(struct jc_nearline *w, const char *dir, uint32_t i)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/nearline-%s-p%03u.lock", dir, w->group, w->parts[i]);
    if (n < 0 || (size_t)n >= sizeof path)
        return jc_err_set(JC_ELIMIT, "nearline: lock path too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return jc_err_set(JC_EIO, "nearline: cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "?";
        ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
        pid[r > 0 ? r : 1] = '\0';
        close(fd);
        return jc_err_set(JC_EBUSY,
                          "nearline: partition %u of group '%s' is owned by another worker "
                          "(process %s, lock %s)",
                          w->parts[i], w->group, pid, path);
    }
    char me[32];
    int m = snprintf(me, sizeof me, "%ld", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, me, (size_t)m, 0) != m)
        JC_WARN("nearline: cannot write the pid into %s", path);
    w->lock_fd[i] = fd;
    return JC_OK;
}

/* ---- metrics registry ------------------------------------------------------------- */

static void collect(void *ctx, struct jc_metrics *reg);

static int register_metrics(struct jc_nearline *w, struct jc_metrics *reg)
{
    struct jc_metric_family *f;
    int rc;
    if ((rc = jc_metrics_simple(reg, JC_METRIC_COUNTER, "junco_nearline_events_in_total",
                                "Events consumed from the event log.", &w->m_in)) ||
        (rc = jc_metrics_simple(reg, JC_METRIC_COUNTER, "junco_nearline_events_out_total",
                                "Events applied and committed to the feature store.", &w->m_out)) ||
        (rc = jc_metrics_simple(reg, JC_METRIC_COUNTER, "junco_nearline_store_commits_total",
                                "Feature-store write batches committed.", &w->m_commits)) ||
        (rc = jc_metrics_simple(reg, JC_METRIC_COUNTER, "junco_nearline_store_errors_total",
                                "Failed nearline cycles (retried).", &w->m_errors)))
        return rc;
    const char *reason[] = {"reason"};
    if ((rc = jc_metrics_family(reg, JC_METRIC_COUNTER, "junco_nearline_events_rejected_total",
                                "Events skipped: unknown entity (reject) or undecodable.", reason,
                                1, NULL, 0, &f)))
        return rc;
    const char *v_unknown[] = {"unknown_entity"}, *v_bad[] = {"bad_record"};
    if ((rc = jc_metrics_series(f, v_unknown, &w->m_rej_unknown)) ||
        (rc = jc_metrics_series(f, v_bad, &w->m_rej_bad)))
        return rc;
    if ((rc = jc_metrics_family(reg, JC_METRIC_HISTOGRAM, "junco_nearline_store_latency_seconds",
                                "Event append (log time) to feature-store commit.", NULL, 0,
                                jc_nearline_lat_bounds_s, JC_NEARLINE_LAT_BUCKETS - 1, &f)) ||
        (rc = jc_metrics_series(f, NULL, &w->m_lat)))
        return rc;
    const char *dir[] = {"direction"};
    if ((rc = jc_metrics_family(reg, JC_METRIC_GAUGE, "junco_nearline_events_per_second",
                                "Events in (consumed) and out (committed) per second.", dir, 1,
                                NULL, 0, &f)))
        return rc;
    const char *v_in[] = {"in"}, *v_out[] = {"out"};
    if ((rc = jc_metrics_series(f, v_in, &w->m_rate_in)) ||
        (rc = jc_metrics_series(f, v_out, &w->m_rate_out)))
        return rc;
    const char *part[] = {"partition"};
    if ((rc = jc_metrics_family(reg, JC_METRIC_GAUGE, "junco_nearline_consumer_lag",
                                "Events of a partition not yet in the feature store.", part, 1,
                                NULL, 0, &f)))
        return rc;
    for (uint32_t i = 0; i < w->n_parts; i++) {
        char pv[16];
        snprintf(pv, sizeof pv, "%u", w->parts[i]);
        const char *vals[] = {pv};
        if ((rc = jc_metrics_series(f, vals, &w->m_lag[i])))
            return rc;
    }
    if (w->cfg.online) {
        if ((rc = jc_metrics_simple(reg, JC_METRIC_GAUGE, "junco_online_rolling_logloss",
                                    "Progressive logloss of the online learner over its window.",
                                    &w->m_online_loss)) ||
            (rc = jc_metrics_simple(reg, JC_METRIC_COUNTER, "junco_online_guard_trips_total",
                                    "Times the online loss guard tripped.", &w->m_online_trips)))
            return rc;
    }
    return jc_metrics_add_collector(reg, collect, w);
}

/* ---- create / destroy ------------------------------------------------------------- */

int jc_nearline_create(struct jc_nearline **out, const struct jc_nearline_config *cfg)
{
    if (!cfg->log || !cfg->store || !cfg->cat || !cfg->spec)
        return jc_err_set(JC_EINVAL, "nearline: log, store, catalog and spec are required");
    if (jc_featspec_catalog(cfg->spec) != cfg->cat)
        return jc_err_set(JC_EINVAL, "nearline: the feature spec belongs to another catalog");
    if (cfg->proc_count < 1 || cfg->proc_index >= cfg->proc_count)
        return jc_err_set(JC_EINVAL, "nearline: process index %u not in [0, %u)", cfg->proc_index,
                          cfg->proc_count);
    if (cfg->batch < 1 || cfg->batch > 1000000)
        return jc_err_set(JC_EINVAL, "nearline: batch %u out of range [1, 1000000]", cfg->batch);
    if (cfg->emb && (!cfg->emb_name || !jc_embed_name_valid(cfg->emb_name)))
        return jc_err_set(JC_EINVAL, "nearline: an embedding needs a valid name");
    const char *group = cfg->group ? cfg->group : "nearline";
    if (!jc_eventlog__valid_group(group))
        return jc_err_set(JC_EINVAL, "nearline: bad group name '%s' (1..64 of [A-Za-z0-9._-])",
                          group);
    struct jc_nearline *w = jc_calloc(1, sizeof *w);
    if (w == NULL)
        return JC_ENOMEM;
    w->cfg = *cfg;
    snprintf(w->group, sizeof w->group, "%s", group);
    w->cfg.group = w->group;
    if (cfg->emb) {
        snprintf(w->emb_name, sizeof w->emb_name, "%s", cfg->emb_name);
        w->cfg.emb_name = w->emb_name;
        w->emb_dim = jc_emb_dim(cfg->emb);
    }
    w->cfg.lock_dir = NULL; /* only used here: the locks stay held by their fds */
    const struct jc_featspec_opts *so = jc_featspec_options(cfg->spec);
    w->label_threshold = so->label_threshold;
    w->implicit = so->implicit;
    for (uint32_t i = 0; i < JC_EVENTLOG_MAX_PARTITIONS; i++)
        w->lock_fd[i] = -1;
    pthread_mutex_init(&w->mu, NULL);
    jc_eventlog_batch_init(&w->poll);
    jc_eventlog_batch_init(&w->acc);
    jc_buf_init(&w->keys, JC_BUF_CAP_DEFAULT);
    jc_buf_init(&w->arena, JC_BUF_CAP_DEFAULT);
    uint32_t np = jc_eventlog_n_partitions(cfg->log);
    for (uint32_t p = 0; p < np; p++)
        if (p % cfg->proc_count == cfg->proc_index)
            w->parts[w->n_parts++] = p;
    int rc = JC_OK;
    if (w->n_parts == 0)
        rc = jc_err_set(JC_EINVAL, "nearline: process %u of %u gets no partition (the log has %u)",
                        cfg->proc_index, cfg->proc_count, np);
    for (uint32_t i = 0; cfg->lock_dir && i < w->n_parts && rc == JC_OK; i++)
        rc = lock_partition(w, cfg->lock_dir, i);
    if (rc == JC_OK) {
        struct jc_eventlog_consumer_config cc;
        jc_eventlog_consumer_config_default(&cc);
        cc.group = w->group;
        cc.partitions = w->parts;
        cc.n_partitions = w->n_parts;
        cc.start = cfg->start;
        cc.max_records = cfg->batch;
        rc = jc_eventlog_consumer_open(&w->cons, cfg->log, &cc);
    }
    for (uint32_t i = 0; i < w->n_parts && rc == JC_OK; i++) {
        uint64_t off;
        int r = jc_nearline_stored_offset(cfg->store, w->group, w->parts[i], &off);
        if (r == JC_OK) {
            rc = jc_eventlog_consumer_seek(w->cons, w->parts[i], off);
        } else if (r == JC_ENOTFOUND) {
            rc = jc_eventlog_consumer_position(w->cons, w->parts[i], &off);
        } else {
            rc = r;
        }
        w->stored[i] = off;
    }
    if (rc == JC_OK && (rc = jc_store_batch_create(&w->wb)) == JC_OK && cfg->metrics)
        rc = register_metrics(w, cfg->metrics);
    if (rc) {
        jc_nearline_destroy(w);
        return rc;
    }
    w->st.n_parts = w->n_parts;
    for (uint32_t i = 0; i < w->n_parts; i++) {
        w->st.partition[i] = w->parts[i];
        w->st.position[i] = w->stored[i];
    }
    w->rate_t_ns = jc_now_ns();
    JC_INFO("nearline: group %s, process %u/%u, %u partition(s)", w->group, cfg->proc_index,
            cfg->proc_count, w->n_parts);
    *out = w;
    return JC_OK;
}

void jc_nearline_destroy(struct jc_nearline *w)
{
    if (w == NULL)
        return;
    jc_nearline_stop(w);
    jc_eventlog_consumer_close(w->cons);
    jc_eventlog_batch_free(&w->poll);
    jc_eventlog_batch_free(&w->acc);
    jc_free(w->evs);
    jc_free(w->ents);
    jc_free(w->table);
    jc_buf_free(&w->keys);
    jc_free(w->us);
    jc_free(w->is);
    jc_free(w->pops);
    jc_free(w->ues);
    jc_free(w->ues_sum);
    jc_buf_free(&w->arena);
    jc_free(w->vals);
    jc_store_batch_destroy(w->wb);
    for (uint32_t i = 0; i < JC_EVENTLOG_MAX_PARTITIONS; i++)
        if (w->lock_fd[i] >= 0)
            close(w->lock_fd[i]); /* releases the flock */
    pthread_mutex_destroy(&w->mu);
    jc_free(w);
}

/* ---- the working set -------------------------------------------------------------- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return JC_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = jc_realloc_array(*arr, c, elem);
    if (p == NULL)
        return JC_ENOMEM;
    *arr = p;
    *cap = c;
    return JC_OK;
}

static int ws_reset(struct jc_nearline *w, size_t max_entries)
{
    w->n_ents = w->n_us = w->n_is = w->n_pops = w->n_ues = 0;
    jc_buf_reset(&w->keys);
    size_t want = 64;
    while (want < 2 * max_entries)
        want *= 2;
    if (want - 1 > w->table_mask || w->table == NULL) {
        uint32_t *t = jc_realloc_array(w->table, want, sizeof *t);
        if (t == NULL)
            return JC_ENOMEM;
        w->table = t;
        w->table_mask = want - 1;
    }
    memset(w->table, 0, (w->table_mask + 1) * sizeof *w->table);
    return grow((void **)&w->ents, &w->ents_cap, max_entries, sizeof *w->ents);
}

static const char *ent_key(const struct jc_nearline *w, const struct entry *e)
{
    return w->keys.data + e->key_off;
}

/* Finds or adds the entry of a key; returns its index or a negative error. */
static int32_t ws_get(struct jc_nearline *w, enum kind kind, const char *key, size_t klen)
{
    if (klen == 0 || klen > JC_STORE_KEY_MAX)
        return jc_err_set(JC_ELIMIT, "nearline: store key of %zu bytes", klen);
    uint64_t h = jc_hash64(key, klen, 0x6e6561726c696e65ull);
    size_t i = (size_t)h & w->table_mask;
    while (w->table[i]) {
        struct entry *e = &w->ents[w->table[i] - 1];
        if (e->hash == h && e->key_len == klen && memcmp(ent_key(w, e), key, klen) == 0)
            return (int32_t)(w->table[i] - 1);
        i = (i + 1) & w->table_mask;
    }
    JC_ASSERT(w->n_ents < w->ents_cap);
    struct entry *e = &w->ents[w->n_ents];
    e->kind = (uint8_t)kind;
    e->dirty = 0;
    e->hash = h;
    e->key_off = (uint32_t)w->keys.len;
    e->key_len = (uint32_t)klen;
    int rc = jc_buf_append(&w->keys, key, klen);
    if (rc == JC_OK)
        rc = jc_buf_append_char(&w->keys, '\0');
    if (rc)
        return rc;
    switch (kind) {
    case K_USER:
        rc = grow((void **)&w->us, &w->us_cap, w->n_us + 1, sizeof *w->us);
        e->slot = (uint32_t)w->n_us++;
        break;
    case K_ITEM:
        rc = grow((void **)&w->is, &w->is_cap, w->n_is + 1, sizeof *w->is);
        e->slot = (uint32_t)w->n_is++;
        break;
    case K_POP:
        rc = grow((void **)&w->pops, &w->pops_cap, w->n_pops + 1, sizeof *w->pops);
        e->slot = (uint32_t)w->n_pops++;
        break;
    case K_UES: {
        size_t old = w->ues_cap;
        rc = grow((void **)&w->ues, &w->ues_cap, w->n_ues + 1, sizeof *w->ues);
        if (rc == JC_OK && w->ues_cap != old) {
            float *s = jc_realloc_array(w->ues_sum, w->ues_cap * (size_t)w->emb_dim + 1, sizeof *s);
            if (s == NULL)
                return JC_ENOMEM;
            w->ues_sum = s;
        }
        e->slot = (uint32_t)w->n_ues++;
        break;
    }
    }
    if (rc)
        return rc;
    w->table[i] = (uint32_t)w->n_ents + 1;
    return (int32_t)w->n_ents++;
}

static int32_t ws_key(struct jc_nearline *w, enum kind kind, const char *prefix, const char *id,
                      size_t id_len)
{
    char key[KEY_CAP];
    int n = snprintf(key, sizeof key, "%s%.*s", prefix, (int)id_len, id);
    if (n < 0 || (size_t)n >= sizeof key)
        return jc_err_set(JC_ELIMIT, "nearline: key too long");
    return ws_get(w, kind, key, (size_t)n);
}

/* Initialises the state of an entry that has no stored record. */
static void ent_init(struct jc_nearline *w, struct entry *e)
{
    switch ((enum kind)e->kind) {
    case K_USER:
        jc_user_state_init(&w->us[e->slot], w->cfg.spec);
        break;
    case K_ITEM:
        jc_item_state_init(&w->is[e->slot]);
        break;
    case K_POP:
        jc_item_pop_init(&w->pops[e->slot]);
        break;
    case K_UES:
        jc_emb_user_state_init(&w->ues[e->slot].st, w->ues_sum + (size_t)e->slot * w->emb_dim,
                               w->emb_dim);
        break;
    }
}

static int ent_decode(struct jc_nearline *w, struct entry *e, const void *p, size_t n)
{
    switch ((enum kind)e->kind) {
    case K_USER:
        return jc_user_state_decode(&w->us[e->slot], w->cfg.spec, p, n);
    case K_ITEM:
        return jc_item_state_decode(&w->is[e->slot], p, n);
    case K_POP:
        return jc_item_pop_decode(&w->pops[e->slot], p, n);
    case K_UES:
        return decode_ues(&w->ues[e->slot].st, p, n);
    }
    return JC_EINVAL;
}

/* Reads every entry of the working set from the store. */
static int ws_load(struct jc_nearline *w)
{
    if (w->vals == NULL && !(w->vals = jc_malloc_array(MGET_CHUNK, sizeof *w->vals)))
        return JC_ENOMEM;
    const void *keys[MGET_CHUNK];
    size_t klens[MGET_CHUNK];
    for (size_t base = 0; base < w->n_ents; base += MGET_CHUNK) {
        uint32_t m = (uint32_t)(w->n_ents - base < MGET_CHUNK ? w->n_ents - base : MGET_CHUNK);
        for (uint32_t k = 0; k < m; k++) {
            keys[k] = ent_key(w, &w->ents[base + k]);
            klens[k] = w->ents[base + k].key_len;
        }
        int rc = jc_store_mget(w->cfg.store, m, keys, klens, &w->arena, w->vals);
        if (rc)
            return rc;
        for (uint32_t k = 0; k < m; k++) {
            struct entry *e = &w->ents[base + k];
            ent_init(w, e);
            if (!w->vals[k].found)
                continue;
            rc = ent_decode(w, e, w->arena.data + w->vals[k].off, w->vals[k].len);
            if (rc)
                return jc_err_prefix(rc, "nearline: store key %s", ent_key(w, e));
        }
    }
    return JC_OK;
}

/* Puts every dirty entry into the write batch. */
static int ws_write(struct jc_nearline *w, uint64_t *n_users_out, uint64_t *n_items_out)
{
    uint8_t buf[JC_USTATE_ENC_MAX > 64 ? JC_USTATE_ENC_MAX : 64];
    int rc = JC_OK;
    uint64_t n_users = 0, n_items = 0;
    for (size_t i = 0; i < w->n_ents && rc == JC_OK; i++) {
        struct entry *e = &w->ents[i];
        if (!e->dirty)
            continue;
        size_t len = 0;
        const char *key = ent_key(w, e);
        switch ((enum kind)e->kind) {
        case K_USER:
            rc = jc_user_state_encode(&w->us[e->slot], buf, sizeof buf, &len);
            n_users++;
            break;
        case K_ITEM:
            rc = jc_item_state_encode(&w->is[e->slot], buf, sizeof buf, &len);
            n_items++;
            break;
        case K_POP:
            rc = jc_item_pop_encode(&w->pops[e->slot], buf, sizeof buf, &len);
            break;
        case K_UES: {
            const struct jc_emb_user_state *st = &w->ues[e->slot].st;
            size_t n = ues_enc_size(st->dim);
            uint8_t *tmp = jc_malloc(n > (size_t)st->dim * 4 ? n : (size_t)st->dim * 4);
            if (tmp == NULL)
                return JC_ENOMEM;
            encode_ues(st, tmp);
            rc = jc_store_batch_put(w->wb, key, e->key_len, tmp, n);
            /* the served vector: "uemb:<name>:<user>" (key minus "nl:ues:") */
            char vkey[KEY_CAP];
            int vn = snprintf(vkey, sizeof vkey, "uemb:%s", key + 7);
            float *vec = (float *)(void *)tmp;
            if (rc == JC_OK && jc_emb_user_vector(st, vec) == JC_OK) {
                uint8_t *le = tmp;
                for (uint32_t f = 0; f < st->dim; f++) { /* little-endian in place */
                    uint32_t v;
                    memcpy(&v, &vec[f], 4);
                    put32(le + 4 * (size_t)f, v);
                }
                rc = jc_store_batch_put(w->wb, vkey, (size_t)vn, tmp, (size_t)st->dim * 4);
            }
            jc_free(tmp);
            continue;
        }
        }
        if (rc == JC_OK)
            rc = jc_store_batch_put(w->wb, key, e->key_len, buf, len);
    }
    *n_users_out = n_users;
    *n_items_out = n_items;
    return rc;
}

/* ---- one cycle ------------------------------------------------------------------ */

static int slot_of(const struct jc_nearline *w, uint32_t partition)
{
    for (uint32_t i = 0; i < w->n_parts; i++)
        if (w->parts[i] == partition)
            return (int)i;
    return -1;
}

static void rewind_consumer(struct jc_nearline *w)
{
    for (uint32_t i = 0; i < w->n_parts; i++)
        jc_eventlog_consumer_seek(w->cons, w->parts[i], w->stored[i]);
}

static int is_positive(const struct jc_nearline *w, const struct jc_event *ev)
{
    switch (ev->type) {
    case JC_EV_CLICK:
    case JC_EV_LIKE:
    case JC_EV_PURCHASE:
        return 1;
    case JC_EV_IMPRESSION:
        return 0;
    default:
        return w->implicit || ev->value >= w->label_threshold;
    }
}

static int64_t wall_ms_now(double *precise)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *precise = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec * 1e-6;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls up to cfg.batch records into w->acc. */
static int gather(struct jc_nearline *w, int timeout_ms)
{
    jc_eventlog__batch_reset(&w->acc);
    int first = 1;
    while (w->acc.n < w->cfg.batch) {
        int rc = jc_eventlog_consumer_poll(w->cons, first ? timeout_ms : 0, &w->poll);
        if (rc)
            return rc;
        first = 0;
        if (w->poll.n == 0)
            break;
        for (size_t k = 0; k < w->poll.n; k++) {
            const struct jc_eventlog_record *r = &w->poll.recs[k];
            if (w->acc.n == w->cfg.batch) /* the rest is read again next cycle */
                return jc_eventlog_consumer_seek(w->cons, r->partition, r->offset);
            if ((rc = jc_eventlog__batch_push(&w->acc, r->partition, r->offset, r->append_ms,
                                              r->data, r->len)))
                return rc;
        }
    }
    return JC_OK;
}

/* Steps 2-3: decode, resolve, collect and load the working set. */
static int prepare(struct jc_nearline *w, uint64_t *rej_unknown, uint64_t *rej_bad)
{
    size_t n = w->acc.n;
    int rc = grow((void **)&w->evs, &w->evs_cap, n, sizeof *w->evs);
    if (rc == JC_OK)
        rc = ws_reset(w, 4 * n + 4);
    if (rc)
        return rc;
    const struct jc_catalog *cat = w->cfg.cat;
    int want_ues = w->cfg.emb != NULL;
    for (size_t k = 0; k < n; k++) {
        struct cyc_event *ce = &w->evs[k];
        memset(ce, 0, sizeof *ce);
        ce->rec = (uint32_t)k;
        ce->e_user = ce->e_item = ce->e_pop = ce->e_ues = -1;
        const struct jc_eventlog_record *r = &w->acc.recs[k];
        if (jc_event_decode(r->data, r->len, &ce->ev) != JC_OK) {
            JC_WARN("nearline: partition %u offset %llu: %s (skipped)", r->partition,
                    (unsigned long long)r->offset, jc_errmsg());
            ce->skip = 1;
            (*rej_bad)++;
            continue;
        }
        const struct jc_event *ev = &ce->ev;
        if (!jc_catalog_find_user(cat, ev->user, ev->user_len, &ce->user))
            ce->user = JC_ID_NONE;
        if (!jc_catalog_find_item(cat, ev->item, ev->item_len, &ce->item))
            ce->item = JC_ID_NONE;
        if (!w->cfg.unknown_create && (ce->user == JC_ID_NONE || ce->item == JC_ID_NONE)) {
            ce->skip = 1;
            (*rej_unknown)++;
            continue;
        }
        ce->feature = ev->type != JC_EV_IMPRESSION;
        float label;
        int learn = w->cfg.online && jc_online_label(w->cfg.online, ev->type, ev->value, &label);
        if (!ce->feature && !learn)
            continue;
        int32_t e;
        if ((e = ws_key(w, K_USER, "uf:", ev->user, ev->user_len)) < 0)
            return e;
        ce->e_user = e;
        if ((e = ws_key(w, K_ITEM, "if:", ev->item, ev->item_len)) < 0)
            return e;
        ce->e_item = e;
        if (!ce->feature)
            continue;
        if ((e = ws_key(w, K_POP, "pop:", ev->item, ev->item_len)) < 0)
            return e;
        ce->e_pop = e;
        if (want_ues && ce->item != JC_ID_NONE && is_positive(w, ev) &&
            jc_emb_item_status(w->cfg.emb, ce->item) != JC_EMB_NONE) {
            char prefix[JC_EMB_NAME_MAX + 16];
            snprintf(prefix, sizeof prefix, "nl:ues:%s:", w->emb_name);
            if ((e = ws_key(w, K_UES, prefix, ev->user, ev->user_len)) < 0)
                return e;
            ce->e_ues = e;
        }
    }
    return ws_load(w);
}

/* Step 4: applies the events in log order. */
static void apply(struct jc_nearline *w, uint64_t *applied)
{
    const struct jc_featspec *spec = w->cfg.spec;
    for (size_t k = 0; k < w->acc.n; k++) {
        struct cyc_event *ce = &w->evs[k];
        if (ce->skip || ce->e_user < 0)
            continue;
        const struct jc_event *ev = &ce->ev;
        int64_t t = ev->time_ms >= 0 ? ev->time_ms / 1000 : 0;
        struct entry *eu = &w->ents[ce->e_user], *ei = &w->ents[ce->e_item];
        struct jc_user_state *us = &w->us[eu->slot];
        struct jc_item_state *is = &w->is[ei->slot];
        float label;
        if (w->cfg.online && jc_online_label(w->cfg.online, ev->type, ev->value, &label)) {
            int rc = jc_online_observe(w->cfg.online, ce->user, us, ce->item, is, t, label);
            if (rc && !w->online_warned) {
                JC_WARN("nearline: online learning failed (further errors not logged): %s",
                        jc_errmsg());
                w->online_warned = 1;
            }
        }
        if (!ce->feature)
            continue;
        switch (ev->type) {
        case JC_EV_CLICK:
        case JC_EV_LIKE:
        case JC_EV_PURCHASE:
            jc_user_state_add_labeled(us, spec, ce->item, ev->value, t, 1);
            break;
        default:
            jc_user_state_add(us, spec, ce->item, ev->value, t);
            break;
        }
        /* item events arrive from several partitions out of time order:
         * last_time keeps the newest, as the time-ordered offline job */
        int64_t last = is->count ? is->last_time : INT64_MIN;
        jc_item_state_add(is, ev->value, t);
        if (last > t)
            is->last_time = last;
        jc_item_pop_add(&w->pops[w->ents[ce->e_pop].slot], 1.0, ev->time_ms,
                        w->cfg.trend_half_life_s);
        eu->dirty = ei->dirty = w->ents[ce->e_pop].dirty = 1;
        if (ce->e_ues >= 0) {
            struct entry *ee = &w->ents[ce->e_ues];
            const float *vec = jc_emb_item_vec(w->cfg.emb, ce->item);
            if (vec &&
                jc_emb_user_update(&w->ues[ee->slot].st, vec, t, w->cfg.emb_half_life_s) == JC_OK)
                ee->dirty = 1;
        }
        (*applied)++;
    }
}

static void observe_latency(struct jc_nearline *w, double now_ms, struct jc_nearline_stats *d)
{
    for (size_t k = 0; k < w->acc.n; k++) {
        const struct cyc_event *ce = &w->evs[k];
        if (ce->skip)
            continue;
        double lat = (now_ms - (double)w->acc.recs[k].append_ms) * 1e-3;
        if (lat < 0)
            lat = 0;
        size_t b = 0;
        while (b < JC_NEARLINE_LAT_BUCKETS - 1 && lat > jc_nearline_lat_bounds_s[b])
            b++;
        d->lat_count[b]++;
        d->lat_sum_s += lat;
        if (lat > d->lat_max_s)
            d->lat_max_s = lat;
        if (w->m_lat)
            jc_metric_observe(w->m_lat, lat);
    }
}

/* Commits the stored positions to the log's consumer group, for monitoring
 * (lag in `junco events stats`); throttled to commit_group_ms unless forced.
 * The stored offsets in the feature store stay authoritative. */
static void group_commit(struct jc_nearline *w, int force)
{
    uint64_t now = jc_now_ns();
    if (w->cfg.commit_group_ms < 0 ||
        (!force && now - w->last_group_commit_ns < (uint64_t)w->cfg.commit_group_ms * 1000000u))
        return;
    w->last_group_commit_ns = now;
    for (uint32_t i = 0; i < w->n_parts; i++)
        if (jc_eventlog_commit(w->cfg.log, w->group, w->parts[i], w->stored[i]) != JC_OK)
            JC_DEBUG("nearline: group commit failed: %s", jc_errmsg());
}

static int run_cycle(struct jc_nearline *w, int timeout_ms, uint64_t *n_events)
{
    int rc = gather(w, timeout_ms);
    size_t n = w->acc.n;
    if (n_events)
        *n_events = n;
    if (rc) {
        rewind_consumer(w);
        pthread_mutex_lock(&w->mu);
        w->st.commit_errors++;
        pthread_mutex_unlock(&w->mu);
        if (w->m_errors)
            jc_metric_inc(w->m_errors);
        return rc;
    }
    if (n == 0)
        return JC_OK;
    uint64_t rej_unknown = 0, rej_bad = 0, applied = 0, n_users = 0, n_items = 0;
    uint32_t n_cp = 0, cp_part[JC_EVENTLOG_MAX_PARTITIONS];
    uint64_t cp_from[JC_EVENTLOG_MAX_PARTITIONS], cp_to[JC_EVENTLOG_MAX_PARTITIONS];
    int cp_slot[JC_EVENTLOG_MAX_PARTITIONS];
    rc = prepare(w, &rej_unknown, &rej_bad);
    if (rc == JC_OK) {
        apply(w, &applied);
        jc_store_batch_clear(w->wb);
        rc = ws_write(w, &n_users, &n_items);
    }
    /* the next offset of every partition consumed in this cycle */
    for (size_t k = 0; k < n && rc == JC_OK; k++) {
        const struct jc_eventlog_record *r = &w->acc.recs[k];
        uint32_t j = 0;
        while (j < n_cp && cp_part[j] != r->partition)
            j++;
        if (j == n_cp) {
            cp_part[n_cp] = r->partition;
            cp_from[n_cp] = r->offset;
            cp_slot[n_cp] = slot_of(w, r->partition);
            n_cp++;
        }
        cp_to[j] = r->offset + 1;
    }
    for (uint32_t j = 0; j < n_cp && rc == JC_OK; j++) {
        char key[128];
        uint8_t enc[OFF_ENC_SIZE];
        size_t kn = jc_nearline_offset_key(w->group, cp_part[j], key, sizeof key);
        encode_offset(cp_to[j], enc);
        rc = jc_store_batch_put(w->wb, key, kn, enc, sizeof enc);
    }
    if (rc == JC_OK)
        rc = jc_store_write(w->cfg.store, w->wb);
    uint64_t commit_ns = jc_now_ns();
    double now_ms;
    int64_t commit_ms = wall_ms_now(&now_ms);
    jc_store_batch_clear(w->wb);
    if (rc) {
        rewind_consumer(w);
        pthread_mutex_lock(&w->mu);
        w->st.events_in += n;
        w->st.commit_errors++;
        pthread_mutex_unlock(&w->mu);
        if (w->m_errors)
            jc_metric_inc(w->m_errors);
        if (w->m_in)
            jc_metric_add(w->m_in, (double)n);
        return rc;
    }
    struct jc_nearline_stats d;
    memset(&d, 0, sizeof d);
    observe_latency(w, now_ms, &d);
    pthread_mutex_lock(&w->mu);
    for (uint32_t j = 0; j < n_cp; j++) {
        if (cp_slot[j] >= 0) {
            w->stored[cp_slot[j]] = cp_to[j];
            w->st.position[cp_slot[j]] = cp_to[j];
        }
    }
    w->st.events_in += n;
    w->st.events_out += applied;
    w->st.rejected_unknown += rej_unknown;
    w->st.rejected_bad += rej_bad;
    w->st.commits++;
    w->st.users_written += n_users;
    w->st.items_written += n_items;
    for (size_t b = 0; b < JC_NEARLINE_LAT_BUCKETS; b++)
        w->st.lat_count[b] += d.lat_count[b];
    w->st.lat_sum_s += d.lat_sum_s;
    if (d.lat_max_s > w->st.lat_max_s)
        w->st.lat_max_s = d.lat_max_s;
    pthread_mutex_unlock(&w->mu);
    if (w->m_in) {
        jc_metric_add(w->m_in, (double)n);
        jc_metric_add(w->m_out, (double)applied);
        jc_metric_add(w->m_rej_unknown, (double)rej_unknown);
        jc_metric_add(w->m_rej_bad, (double)rej_bad);
        jc_metric_inc(w->m_commits);
    }
    if (w->cfg.on_commit) {
        struct jc_nearline_commit c = {n_cp, cp_part, cp_from, cp_to, n, commit_ns, commit_ms};
        w->cfg.on_commit(w->cfg.on_commit_ctx, &c);
    }
    group_commit(w, 0);
    return JC_OK;
}

int jc_nearline_run_once(struct jc_nearline *w, int timeout_ms, uint64_t *n_events)
{
    int rc = run_cycle(w, timeout_ms, n_events);
    if (rc == JC_OK && w->cfg.online) {
        int r = jc_online_maybe_snapshot(w->cfg.online, NULL);
        if (r)
            JC_WARN("nearline: online snapshot failed: %s", jc_errmsg());
    }
    return rc;
}

int jc_nearline_drain(struct jc_nearline *w, uint64_t *n_events)
{
    uint64_t total = 0;
    for (;;) {
        uint64_t n;
        int rc = jc_nearline_run_once(w, 0, &n);
        total += n;
        if (rc) {
            if (n_events)
                *n_events = total;
            return rc;
        }
        uint64_t lag = 0;
        if (n == 0 && (rc = jc_eventlog_consumer_lag(w->cons, &lag)) == JC_OK && lag == 0)
            break;
        if (rc)
            return rc;
    }
    group_commit(w, 1);
    if (n_events)
        *n_events = total;
    return JC_OK;
}

/* ---- thread ----------------------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *thread_main(void *arg)
{
    struct jc_nearline *w = arg;
    int backoff = 0;
    while (!atomic_load(&w->stop)) {
        int rc = jc_nearline_run_once(w, w->cfg.poll_ms, NULL);
        pthread_mutex_lock(&w->mu);
        w->last_rc = rc;
        pthread_mutex_unlock(&w->mu);
        if (rc == JC_OK) {
            backoff = 0;
            continue;
        }
        JC_WARN("nearline: cycle failed (retrying): %s", jc_errmsg());
        backoff = backoff ? (backoff * 2 > 2000 ? 2000 : backoff * 2) : 50;
        for (int waited = 0; waited < backoff && !atomic_load(&w->stop); waited += 10)
            sleep_ms(10);
    }
    return NULL;
}

int jc_nearline_start(struct jc_nearline *w)
{
    if (w->running)
        return jc_err_set(JC_ESTATE, "nearline: the worker thread is already running");
    atomic_store(&w->stop, 0);
    w->last_rc = JC_OK;
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0)
        return jc_err_set(JC_EIO, "nearline: cannot start the worker thread");
    w->running = 1;
    return JC_OK;
}

int jc_nearline_stop(struct jc_nearline *w)
{
    if (!w->running)
        return JC_OK;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    w->running = 0;
    group_commit(w, 1);
    return w->last_rc;
}

/* ---- stats and metrics ------------------------------------------------------------ */

void jc_nearline_get_stats(struct jc_nearline *w, struct jc_nearline_stats *out)
{
    uint64_t ends[JC_EVENTLOG_MAX_PARTITIONS];
    for (uint32_t i = 0; i < w->n_parts; i++) {
        uint64_t b;
        if (jc_eventlog_offsets(w->cfg.log, w->parts[i], &b, &ends[i]) != JC_OK)
            ends[i] = 0;
    }
    uint64_t now = jc_now_ns();
    pthread_mutex_lock(&w->mu);
    double dt = (double)(now - w->rate_t_ns) * 1e-9;
    if (dt >= 1.0) {
        w->st.in_per_s = (double)(w->st.events_in - w->rate_in) / dt;
        w->st.out_per_s = (double)(w->st.events_out - w->rate_out) / dt;
        w->rate_t_ns = now;
        w->rate_in = w->st.events_in;
        w->rate_out = w->st.events_out;
    }
    for (uint32_t i = 0; i < w->n_parts; i++)
        w->st.lag[i] = ends[i] > w->st.position[i] ? ends[i] - w->st.position[i] : 0;
    *out = w->st;
    pthread_mutex_unlock(&w->mu);
}

double jc_nearline_stats_quantile(const struct jc_nearline_stats *s, double q)
{
    uint64_t total = 0;
    for (size_t b = 0; b < JC_NEARLINE_LAT_BUCKETS; b++)
        total += s->lat_count[b];
    if (total == 0)
        return 0;
    double target = q * (double)total, seen = 0;
    for (size_t b = 0; b < JC_NEARLINE_LAT_BUCKETS; b++) {
        double c = (double)s->lat_count[b];
        if (seen + c >= target && c > 0) {
            double lo = b ? jc_nearline_lat_bounds_s[b - 1] : 0;
            double hi =
                b < JC_NEARLINE_LAT_BUCKETS - 1 ? jc_nearline_lat_bounds_s[b] : s->lat_max_s;
            if (hi > s->lat_max_s)
                hi = s->lat_max_s > lo ? s->lat_max_s : hi;
            return lo + (hi - lo) * ((target - seen) / c);
        }
        seen += c;
    }
    return s->lat_max_s;
}

static void collect(void *ctx, struct jc_metrics *reg)
{
    (void)reg;
    struct jc_nearline *w = ctx;
    struct jc_nearline_stats s;
    jc_nearline_get_stats(w, &s);
    jc_metric_set(w->m_rate_in, s.in_per_s);
    jc_metric_set(w->m_rate_out, s.out_per_s);
    for (uint32_t i = 0; i < s.n_parts; i++)
        jc_metric_set(w->m_lag[i], (double)s.lag[i]);
    if (w->cfg.online && w->m_online_loss) {
        struct jc_online_stats os;
        jc_online_get_stats(w->cfg.online, &os);
        jc_metric_set(w->m_online_loss, os.rolling_logloss);
        pthread_mutex_lock(&w->mu);
        if (os.guard_trips > w->online_trips_seen) {
            jc_metric_add(w->m_online_trips, (double)(os.guard_trips - w->online_trips_seen));
            w->online_trips_seen = os.guard_trips;
        }
        pthread_mutex_unlock(&w->mu);
    }
}

static int counter(struct jc_buf *b, const char *name, const char *help, uint64_t v)
{
    return jc_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                         (unsigned long long)v);
}

int jc_nearline_metrics_write(struct jc_nearline *w, struct jc_buf *out)
{
    struct jc_nearline_stats s;
    jc_nearline_get_stats(w, &s);
    int rc;
    if ((rc = counter(out, "junco_nearline_events_in_total", "Events consumed from the event log.",
                      s.events_in)) ||
        (rc = counter(out, "junco_nearline_events_out_total",
                      "Events applied and committed to the feature store.", s.events_out)) ||
        (rc = counter(out, "junco_nearline_store_commits_total",
                      "Feature-store write batches committed.", s.commits)) ||
        (rc = counter(out, "junco_nearline_store_errors_total", "Failed nearline cycles (retried).",
                      s.commit_errors)))
        return rc;
    if ((rc = jc_buf_printf(out,
                            "# HELP junco_nearline_events_rejected_total Events skipped: unknown "
                            "entity (reject) or undecodable.\n"
                            "# TYPE junco_nearline_events_rejected_total counter\n"
                            "junco_nearline_events_rejected_total{reason=\"unknown_entity\"} "
                            "%llu\n"
                            "junco_nearline_events_rejected_total{reason=\"bad_record\"} %llu\n"
                            "# HELP junco_nearline_events_per_second Events in (consumed) and "
                            "out (committed) per second.\n"
                            "# TYPE junco_nearline_events_per_second gauge\n"
                            "junco_nearline_events_per_second{direction=\"in\"} %.17g\n"
                            "junco_nearline_events_per_second{direction=\"out\"} %.17g\n"
                            "# HELP junco_nearline_consumer_lag Events of a partition not yet in "
                            "the feature store.\n"
                            "# TYPE junco_nearline_consumer_lag gauge\n",
                            (unsigned long long)s.rejected_unknown,
                            (unsigned long long)s.rejected_bad, s.in_per_s, s.out_per_s)))
        return rc;
    for (uint32_t i = 0; i < s.n_parts && rc == JC_OK; i++)
        rc = jc_buf_printf(out, "junco_nearline_consumer_lag{partition=\"%u\"} %llu\n",
                           s.partition[i], (unsigned long long)s.lag[i]);
    if (rc == JC_OK)
        rc = jc_buf_printf(out, "# HELP junco_nearline_store_latency_seconds Event append (log "
                                "time) to feature-store commit.\n"
                                "# TYPE junco_nearline_store_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t b = 0; b < JC_NEARLINE_LAT_BUCKETS && rc == JC_OK; b++) {
        cum += s.lat_count[b];
        if (b < JC_NEARLINE_LAT_BUCKETS - 1)
            rc = jc_buf_printf(out, "junco_nearline_store_latency_seconds_bucket{le=\"%g\"} %llu\n",
                               jc_nearline_lat_bounds_s[b], (unsigned long long)cum);
        else
            rc = jc_buf_printf(out,
                               "junco_nearline_store_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
                               "junco_nearline_store_latency_seconds_sum %.17g\n"
                               "junco_nearline_store_latency_seconds_count %llu\n",
                               (unsigned long long)cum, s.lat_sum_s, (unsigned long long)cum);
    }
    if (rc == JC_OK && w->cfg.online)
        rc = jc_online_metrics_write(w->cfg.online, out);
    return rc;
}
