/*
 * test_eventlog.c - the event log: one conformance suite run against both
 * backends (embedded, and kafka on librdkafka's mock cluster), then the
 * embedded backend's own guarantees: segment roll, torn-tail recovery,
 * checksums, retention, the writer lock, read-only readers, write/fsync
 * failure injection, concurrency, and a SIGKILL crash test.
 */
#include "testutil.h"

#include "core/fileio.h"
#include "core/parse.h"
#include "core/rng.h"
#include "stream/eventlog_int.h"
#include <junco/error.h>
#include <junco/eventlog.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------ */

static int dir_counter;

/* A fresh embedded config in its own directory. */
static void emb_config(struct jc_eventlog_config *c, const char *name)
{
    jc_eventlog_config_default(c);
    char n[64];
    snprintf(n, sizeof n, "%s-%d", name, dir_counter++);
    c->dir = strdup(jc_test_path(n));
    c->n_partitions = 2;
}

static void kafka_config(struct jc_eventlog_config *c)
{
    jc_eventlog_config_default(c);
    c->backend = "kafka";
    c->kafka_brokers = "mock";
    c->kafka_partitions = 2;
    c->kafka_linger_ms = 1;
    c->kafka_timeout_ms = 10000;
}

static struct jc_eventlog *open_ok(const struct jc_eventlog_config *c)
{
    struct jc_eventlog *log = NULL;
    int rc = jc_eventlog_open(&log, c);
    if (rc)
        fail_msg("open: %s", jc_errmsg());
    return log;
}

/* Payload "p<partition-hint>-<seq>" */
static size_t payload(char *buf, size_t cap, uint64_t seq)
{
    return (size_t)snprintf(buf, cap, "record-%08" PRIu64 "-padding-to-make-it-longer", seq);
}

/* Reads a whole partition from `from`; returns the count, appending each
 * record's seq (parsed from the payload) to seqs (may be NULL). */
static uint64_t read_all(struct jc_eventlog *log, uint32_t p, uint64_t from, uint64_t *seqs,
                         uint64_t cap, int timeout_ms)
{
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    uint64_t begin, end;
    assert_int_equal(jc_eventlog_offsets(log, p, &begin, &end), JC_OK);
    uint64_t n = 0, off = from < begin ? begin : from;
    while (off < end) {
        int rc = jc_eventlog_read(log, p, off, 500, 1 << 20, timeout_ms, &b);
        if (rc)
            fail_msg("read p%u@%" PRIu64 ": %s", p, off, jc_errmsg());
        if (b.n == 0)
            fail_msg("read p%u@%" PRIu64 ": nothing before end %" PRIu64, p, off, end);
        for (size_t i = 0; i < b.n; i++) {
            assert_int_equal(b.recs[i].offset, off);
            assert_int_equal(b.recs[i].partition, p);
            if (seqs) {
                assert_true(n < cap);
                char tmp[64];
                size_t len = b.recs[i].len < 63 ? b.recs[i].len : 63;
                memcpy(tmp, b.recs[i].data, len);
                tmp[len] = '\0';
                unsigned long long s;
                if (sscanf(tmp, "record-%llu", &s) != 1)
                    fail_msg("bad payload '%s'", tmp);
                seqs[n] = s;
            }
            n++;
            off++;
        }
    }
    jc_eventlog_batch_free(&b);
    return n;
}

/* ---- the conformance suite (both backends) ----------------------------------------- */

struct fx {
    struct jc_eventlog_config cfg;
    struct jc_eventlog *log;
    int timeout; /* read timeout for records known to exist */
};

static int setup_embedded(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    emb_config(&f->cfg, "conf");
    f->log = open_ok(&f->cfg);
    f->timeout = 0;
    *state = f;
    return 0;
}

static int setup_kafka(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    kafka_config(&f->cfg);
    f->log = open_ok(&f->cfg);
    f->timeout = 5000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    jc_eventlog_close(f->log);
    if (f->cfg.dir)
        free((char *)f->cfg.dir);
    free(f);
    return 0;
}

static void make_event(struct jc_event *ev, char *user, char *item, int u, int i, int64_t t)
{
    jc_event_init(ev);
    int un = snprintf(user, 16, "u%d", u);
    int in = snprintf(item, 16, "%d", i);
    ev->user = user;
    ev->user_len = (size_t)un;
    ev->item = item;
    ev->item_len = (size_t)in;
    ev->type = JC_EV_RATING;
    ev->value = (float)(i % 10) / 2.0f;
    ev->time_ms = t;
}

static void conf_append_read(void **state)
{
    struct fx *f = *state;
    struct jc_eventlog *log = f->log;
    assert_int_equal(jc_eventlog_n_partitions(log), 2);
    enum { N = 300 };
    struct jc_event evs[N];
    char users[N][16], items[N][16];
    for (int i = 0; i < N; i++)
        make_event(&evs[i], users[i], items[i], i % 17, 1000 + i, 1000000 + i);
    struct jc_eventlog_pos pos[N];
    assert_int_equal(jc_eventlog_append(log, evs, 150, pos), JC_OK);
    assert_int_equal(jc_eventlog_append(log, evs + 150, 150, pos + 150), JC_OK);
    /* Offsets are dense per partition, in append order; partition by user. */
    uint64_t next[2] = {0, 0};
    for (int i = 0; i < N; i++) {
        uint32_t p = jc_eventlog_partition_of(log, users[i], strlen(users[i]));
        assert_int_equal(pos[i].partition, p);
        assert_int_equal(pos[i].offset, next[p]);
        next[p]++;
    }
    assert_true(next[0] > 0 && next[1] > 0);
    for (uint32_t p = 0; p < 2; p++) {
        uint64_t b, e;
        assert_int_equal(jc_eventlog_offsets(log, p, &b, &e), JC_OK);
        assert_int_equal(b, 0);
        assert_int_equal(e, next[p]);
    }
    /* Read everything back and decode: same events, in order. */
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    for (uint32_t p = 0; p < 2; p++) {
        uint64_t off = 0;
        int i = 0;
        while (off < next[p]) {
            assert_int_equal(jc_eventlog_read(log, p, off, 1000, 1 << 20, f->timeout, &b), JC_OK);
            assert_true(b.n > 0);
            for (size_t k = 0; k < b.n; k++, off++) {
                while (pos[i].partition != p)
                    i++;
                assert_int_equal(b.recs[k].offset, pos[i].offset);
                struct jc_event d;
                assert_int_equal(jc_event_decode(b.recs[k].data, b.recs[k].len, &d), JC_OK);
                unsigned char want[256];
                size_t wn;
                assert_int_equal(jc_event_encode(&evs[i], want, sizeof want, &wn), JC_OK);
                assert_int_equal(b.recs[k].len, wn);
                assert_memory_equal(b.recs[k].data, want, wn);
                assert_true(b.recs[k].append_ms > 1600000000000LL);
                i++;
            }
        }
    }
    /* A read from the middle, with a record limit. */
    assert_int_equal(jc_eventlog_read(log, 1, 3, 2, 1 << 20, f->timeout, &b), JC_OK);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.recs[0].offset, 3);
    assert_int_equal(b.recs[1].offset, 4);
    /* At the end: nothing, at once. */
    assert_int_equal(jc_eventlog_read(log, 0, next[0], 10, 1 << 20, 0, &b), JC_OK);
    assert_int_equal(b.n, 0);
    /* Bad partition. */
    assert_int_equal(jc_eventlog_read(log, 2, 0, 10, 1 << 20, 0, &b), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "partition 2 out of range"));
    jc_eventlog_batch_free(&b);

    struct jc_eventlog_stats st;
    jc_eventlog_get_stats(log, &st);
    assert_int_equal(st.events_appended, N);
    assert_int_equal(st.append_calls, 2);
    uint64_t lat = 0;
    for (int i = 0; i < JC_EVENTLOG_LAT_BUCKETS; i++)
        lat += st.lat_count[i];
    assert_int_equal(lat, 2);
    assert_true(jc_eventlog_stats_quantile_us(&st, 0.5) > 0);
}

static void conf_raw_and_limits(void **state)
{
    struct fx *f = *state;
    struct jc_eventlog_rec r[3];
    char big[JC_EVENTLOG_MAX_RECORD + 1];
    memset(big, 'x', sizeof big);
    r[0] = (struct jc_eventlog_rec){0, "hello", 5};
    r[1] = (struct jc_eventlog_rec){1, big, JC_EVENTLOG_MAX_RECORD};
    r[2] = (struct jc_eventlog_rec){0, "world", 5};
    uint64_t offs[3];
    assert_int_equal(jc_eventlog_append_raw(f->log, r, 3, offs), JC_OK);
    assert_int_equal(offs[0], 0);
    assert_int_equal(offs[1], 0);
    assert_int_equal(offs[2], 1);
    r[0].len = JC_EVENTLOG_MAX_RECORD + 1;
    r[0].data = big;
    assert_int_equal(jc_eventlog_append_raw(f->log, r, 1, NULL), JC_EINVAL);
    r[0] = (struct jc_eventlog_rec){5, "x", 1};
    assert_int_equal(jc_eventlog_append_raw(f->log, r, 1, NULL), JC_EINVAL);
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    assert_int_equal(jc_eventlog_read(f->log, 1, 0, 10, 1 << 20, f->timeout, &b), JC_OK);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.recs[0].len, JC_EVENTLOG_MAX_RECORD);
    assert_memory_equal(b.recs[0].data, big, JC_EVENTLOG_MAX_RECORD);
    assert_int_equal(jc_eventlog_read(f->log, 0, 0, 10, 1 << 20, f->timeout, &b), JC_OK);
    assert_int_equal(b.n, 2);
    assert_memory_equal(b.recs[1].data, "world", 5);
    jc_eventlog_batch_free(&b);
}

static void conf_groups(void **state)
{
    struct fx *f = *state;
    struct jc_eventlog *log = f->log;
    uint64_t off;
    assert_int_equal(jc_eventlog_committed(log, "g1", 0, &off), JC_ENOTFOUND);
    assert_int_equal(jc_eventlog_commit(log, "g1", 0, 17), JC_OK);
    assert_int_equal(jc_eventlog_commit(log, "g1", 1, 5), JC_OK);
    assert_int_equal(jc_eventlog_commit(log, "g2", 0, 3), JC_OK);
    assert_int_equal(jc_eventlog_committed(log, "g1", 0, &off), JC_OK);
    assert_int_equal(off, 17);
    assert_int_equal(jc_eventlog_committed(log, "g1", 1, &off), JC_OK);
    assert_int_equal(off, 5);
    assert_int_equal(jc_eventlog_commit(log, "g1", 0, 21), JC_OK);
    assert_int_equal(jc_eventlog_committed(log, "g1", 0, &off), JC_OK);
    assert_int_equal(off, 21);
    assert_int_equal(jc_eventlog_committed(log, "g2", 0, &off), JC_OK);
    assert_int_equal(off, 3);
    assert_int_equal(jc_eventlog_commit(log, "../evil", 0, 1), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "bad consumer group name '../evil'"));
    assert_int_equal(jc_eventlog_commit(log, "", 0, 1), JC_EINVAL);
    assert_int_equal(jc_eventlog_commit(log, "g1", 9, 1), JC_EINVAL);
}

static int count_group(void *ctx, const char *g)
{
    (void)g;
    (*(int *)ctx)++;
    return 0;
}

static void conf_consumer(void **state)
{
    struct fx *f = *state;
    struct jc_eventlog *log = f->log;
    enum { N = 200 };
    struct jc_eventlog_rec r[N];
    char bufs[N][64];
    for (int i = 0; i < N; i++) {
        r[i].partition = (uint32_t)(i % 2);
        r[i].data = bufs[i];
        r[i].len = payload(bufs[i], sizeof bufs[i], (uint64_t)i);
    }
    assert_int_equal(jc_eventlog_append_raw(log, r, N, NULL), JC_OK);
    struct jc_eventlog_consumer_config cc;
    jc_eventlog_consumer_config_default(&cc);
    cc.group = "workers";
    cc.max_records = 30;
    struct jc_eventlog_consumer *c;
    assert_int_equal(jc_eventlog_consumer_open(&c, log, &cc), JC_OK);
    uint64_t lag;
    assert_int_equal(jc_eventlog_consumer_lag(c, &lag), JC_OK);
    assert_int_equal(lag, N);
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    int seen[N] = {0};
    int got = 0;
    while (got < 120) {
        assert_int_equal(jc_eventlog_consumer_poll(c, f->timeout ? 5000 : 100, &b), JC_OK);
        assert_true(b.n > 0 && b.n <= 30);
        for (size_t k = 0; k < b.n && got < 120; k++) {
            unsigned long long s;
            assert_int_equal(sscanf((const char *)b.recs[k].data, "record-%llu", &s), 1);
            assert_int_equal(s % 2, b.recs[k].partition);
            seen[s]++;
            got++;
        }
    }
    /* The positions are past what was returned; commit them. */
    uint64_t p0, p1;
    assert_int_equal(jc_eventlog_consumer_position(c, 0, &p0), JC_OK);
    assert_int_equal(jc_eventlog_consumer_position(c, 1, &p1), JC_OK);
    assert_int_equal(jc_eventlog_consumer_commit(c), JC_OK);
    assert_int_equal(jc_eventlog_consumer_lag(c, &lag), JC_OK);
    assert_int_equal(lag, N - p0 - p1);
    jc_eventlog_consumer_close(c);
    /* A new consumer of the group resumes at the committed offsets and
     * sees every remaining record exactly once. */
    assert_int_equal(jc_eventlog_consumer_open(&c, log, &cc), JC_OK);
    uint64_t q;
    assert_int_equal(jc_eventlog_consumer_position(c, 0, &q), JC_OK);
    assert_int_equal(q, p0);
    int total = (int)(p0 + p1);
    memset(seen, 0, sizeof seen);
    while (total < N) {
        assert_int_equal(jc_eventlog_consumer_poll(c, f->timeout ? 5000 : 100, &b), JC_OK);
        assert_true(b.n > 0);
        for (size_t k = 0; k < b.n; k++) {
            unsigned long long s;
            assert_int_equal(sscanf((const char *)b.recs[k].data, "record-%llu", &s), 1);
            seen[s]++;
            total++;
        }
    }
    assert_int_equal(total, N);
    for (int i = 0; i < N; i++)
        assert_true(seen[i] <= 1);
    /* Nothing more: poll times out empty. */
    assert_int_equal(jc_eventlog_consumer_poll(c, 50, &b), JC_OK);
    assert_int_equal(b.n, 0);
    /* Seeking (a worker restoring the offset stored with its state). */
    assert_int_equal(jc_eventlog_consumer_seek(c, 1, 7), JC_OK);
    assert_int_equal(jc_eventlog_consumer_poll(c, f->timeout ? 5000 : 100, &b), JC_OK);
    assert_true(b.n > 0);
    assert_int_equal(b.recs[0].partition, 1);
    assert_int_equal(b.recs[0].offset, 7);
    assert_int_equal(jc_eventlog_consumer_seek(c, 4, 0), JC_EINVAL);
    jc_eventlog_consumer_close(c);
    /* Latest start: nothing to read. */
    cc.start = JC_START_LATEST;
    cc.group = NULL;
    assert_int_equal(jc_eventlog_consumer_open(&c, log, &cc), JC_OK);
    assert_int_equal(jc_eventlog_consumer_lag(c, &lag), JC_OK);
    assert_int_equal(lag, 0);
    assert_int_equal(jc_eventlog_consumer_commit(c), JC_ESTATE);
    jc_eventlog_consumer_close(c);
    int n_groups = 0;
    assert_int_equal(jc_eventlog_list_groups(log, count_group, &n_groups), JC_OK);
    assert_int_equal(n_groups, 1);
    jc_eventlog_batch_free(&b);
}

/* N threads append concurrently; every acknowledged record is present
 * exactly once, at the offset it was acknowledged with. */
struct conc_arg {
    struct jc_eventlog *log;
    int thread;
    int per_thread;
    uint64_t *acked; /* [per_thread] offsets */
    uint32_t *parts;
};

static void *conc_main(void *arg)
{
    struct conc_arg *a = arg;
    int i = 0;
    while (i < a->per_thread) {
        int k = 1 + (i * 7 + a->thread) % 13;
        if (i + k > a->per_thread)
            k = a->per_thread - i;
        struct jc_eventlog_rec r[16];
        char bufs[16][64];
        uint64_t offs[16];
        for (int j = 0; j < k; j++) {
            uint64_t seq = (uint64_t)a->thread * 1000000u + (uint64_t)(i + j);
            r[j].partition = (uint32_t)(seq % 2);
            r[j].data = bufs[j];
            r[j].len = payload(bufs[j], sizeof bufs[j], seq);
        }
        if (jc_eventlog_append_raw(a->log, r, (size_t)k, offs) != JC_OK)
            return (void *)1;
        for (int j = 0; j < k; j++) {
            a->acked[i + j] = offs[j];
            a->parts[i + j] = r[j].partition;
        }
        i += k;
    }
    return NULL;
}

static void conf_concurrency(void **state)
{
    struct fx *f = *state;
    enum { T = 4 };
    int per = f->timeout ? 300 : 3000;
    pthread_t th[T];
    struct conc_arg args[T];
    for (int t = 0; t < T; t++) {
        args[t] = (struct conc_arg){f->log, t, per, calloc((size_t)per, 8), calloc((size_t)per, 4)};
        assert_int_equal(pthread_create(&th[t], NULL, conc_main, &args[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        void *ret;
        pthread_join(th[t], &ret);
        assert_null(ret);
    }
    uint64_t total = 0;
    for (uint32_t p = 0; p < 2; p++) {
        uint64_t b, e;
        assert_int_equal(jc_eventlog_offsets(f->log, p, &b, &e), JC_OK);
        uint64_t *seqs = calloc(e + 1, 8);
        uint64_t n = read_all(f->log, p, 0, seqs, e + 1, f->timeout);
        assert_int_equal(n, e);
        total += n;
        /* Every read record was acknowledged at exactly its offset. */
        for (uint64_t off = 0; off < n; off++) {
            uint64_t seq = seqs[off];
            int t = (int)(seq / 1000000u), i = (int)(seq % 1000000u);
            assert_true(t < T && i < per);
            assert_int_equal(args[t].parts[i], p);
            assert_int_equal(args[t].acked[i], off);
        }
        free(seqs);
    }
    assert_int_equal(total, (uint64_t)T * (uint64_t)per);
    for (int t = 0; t < T; t++) {
        free(args[t].acked);
        free(args[t].parts);
    }
}

/* ---- embedded only ----------------------------------------------------------------- */

static int count_files(const char *dir, const char *ext)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    size_t el = strlen(ext);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > el && strcmp(de->d_name + l - el, ext) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void append_seq(struct jc_eventlog *log, uint32_t p, uint64_t from, uint64_t n)
{
    for (uint64_t i = 0; i < n;) {
        struct jc_eventlog_rec r[64];
        char bufs[64][64];
        size_t k = 0;
        for (; k < 64 && i + k < n; k++) {
            r[k].partition = p;
            r[k].data = bufs[k];
            r[k].len = payload(bufs[k], sizeof bufs[k], from + i + k);
        }
        if (jc_eventlog_append_raw(log, r, k, NULL) != JC_OK)
            fail_msg("append: %s", jc_errmsg());
        i += k;
    }
}

static void check_seq(struct jc_eventlog *log, uint32_t p, uint64_t from_off, uint64_t n)
{
    uint64_t *seqs = calloc(n + 1, 8);
    uint64_t got = read_all(log, p, from_off, seqs, n + 1, 0);
    assert_int_equal(got, n);
    for (uint64_t i = 0; i < n; i++)
        if (seqs[i] != from_off + i)
            fail_msg("offset %" PRIu64 " holds seq %" PRIu64, from_off + i, seqs[i]);
    free(seqs);
}

static void test_segment_roll_and_reopen(void **state)
{
    (void)state;
    struct jc_eventlog_config c;
    emb_config(&c, "roll");
    c.n_partitions = 1;
    c.segment_bytes = 4096;
    struct jc_eventlog *log = open_ok(&c);
    append_seq(log, 0, 0, 1000); /* ~72 bytes a frame: ~18 segments */
    char pdir[4200];
    snprintf(pdir, sizeof pdir, "%s/p000", c.dir);
    int n_logs = count_files(pdir, ".log");
    assert_true(n_logs >= 15);
    assert_int_equal(count_files(pdir, ".idx"), n_logs - 1);
    struct jc_eventlog_partition_info info;
    assert_int_equal(jc_eventlog_describe(log, 0, &info), JC_OK);
    assert_int_equal(info.n_segments, (uint32_t)n_logs);
    assert_int_equal(info.end, 1000);
    check_seq(log, 0, 0, 1000);
    check_seq(log, 0, 517, 1000 - 517);
    jc_eventlog_close(log);
    /* Reopen: the sealed segments come from their indexes; appends go on. */
    log = open_ok(&c);
    check_seq(log, 0, 0, 1000);
    append_seq(log, 0, 1000, 10);
    check_seq(log, 0, 990, 20);
    jc_eventlog_close(log);
    /* A deleted index is rebuilt by a scan. */
    char idx[4300];
    snprintf(idx, sizeof idx, "%s/%020d.idx", pdir, 0);
    assert_int_equal(unlink(idx), 0);
    log = open_ok(&c);
    assert_true(jc_path_exists(idx));
    check_seq(log, 0, 0, 1010);
    jc_eventlog_close(log);
    free((char *)c.dir);
}

/* Path of the last segment of partition 0. */
static void last_segment(const char *dir, char *out, size_t cap)
{
    char pdir[4200];
    snprintf(pdir, sizeof pdir, "%s/p000", dir);
    DIR *d = opendir(pdir);
    assert_non_null(d);
    char best[64] = "";
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".log") && strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", de->d_name);
    closedir(d);
    snprintf(out, cap, "%s/%s", pdir, best);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static void test_torn_tail_recovery(void **state)
{
    (void)state;
    struct jc_eventlog_config c;
    emb_config(&c, "torn");
    c.n_partitions = 1;
    struct jc_eventlog *log = open_ok(&c);
    append_seq(log, 0, 0, 100);
    jc_eventlog_close(log);
    char seg[4400];
    last_segment(c.dir, seg, sizeof seg);
    off_t size = file_size(seg);
    size_t frame = 24 + payload((char[64]){0}, 64, 0);
    assert_int_equal(size, 32 + 100 * (off_t)frame);

    /* 1. Cut the file in the middle of the last record. */
    assert_int_equal(truncate(seg, size - (off_t)frame / 2), 0);
    log = open_ok(&c);
    uint64_t b, e;
    assert_int_equal(jc_eventlog_offsets(log, 0, &b, &e), JC_OK);
    assert_int_equal(e, 99);
    assert_int_equal(file_size(seg), size - (off_t)frame);
    check_seq(log, 0, 0, 99);
    /* The log goes on at the next offset. */
    append_seq(log, 0, 99, 1);
    check_seq(log, 0, 0, 100);
    jc_eventlog_close(log);

    /* 2. Flip a byte of the payload of record 97: 97..99 are dropped. */
    flip_byte(seg, 32 + 97 * (off_t)frame + 24 + 5);
    log = open_ok(&c);
    assert_int_equal(jc_eventlog_offsets(log, 0, &b, &e), JC_OK);
    assert_int_equal(e, 97);
    check_seq(log, 0, 0, 97);
    jc_eventlog_close(log);

    /* 3. Garbage appended after the last record (a torn frame header). */
    int fd = open(seg, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x10\x00\x00", 3), 3);
    close(fd);
    log = open_ok(&c);
    assert_int_equal(jc_eventlog_offsets(log, 0, &b, &e), JC_OK);
    assert_int_equal(e, 97);
    assert_int_equal(file_size(seg), 32 + 97 * (off_t)frame);
    jc_eventlog_close(log);

    /* 4. A flipped offset field: out of sequence, also dropped. */
    flip_byte(seg, 32 + 96 * (off_t)frame + 8);
    log = open_ok(&c);
    assert_int_equal(jc_eventlog_offsets(log, 0, &b, &e), JC_OK);
    assert_int_equal(e, 96);
    jc_eventlog_close(log);
    free((char *)c.dir);
}

/* A damaged record inside a sealed segment is never returned: the read
 * fails with JC_ECORRUPT naming the file, records before it still read. */
static void test_corrupt_sealed_segment(void **state)
{
    (void)state;
    struct jc_eventlog_config c;
    emb_config(&c, "sealed");
    c.n_partitions = 1;
    c.segment_bytes = 4096;
    struct jc_eventlog *log = open_ok(&c);
    append_seq(log, 0, 0, 200);
    jc_eventlog_close(log);
    char seg[4400];
    snprintf(seg, sizeof seg, "%s/p000/%020d.log", c.dir, 0);
    size_t frame = 24 + payload((char[64]){0}, 64, 0);
    flip_byte(seg, 32 + 10 * (off_t)frame + 30);
    log = open_ok(&c);
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    assert_int_equal(jc_eventlog_read(log, 0, 0, 10, 1 << 20, 0, &b), JC_OK);
    assert_int_equal(b.n, 10);
    assert_int_equal(jc_eventlog_read(log, 0, 10, 10, 1 << 20, 0, &b), JC_ECORRUPT);
    assert_int_equal(b.n, 0);
    assert_non_null(strstr(jc_errmsg(), "damaged record at byte"));
    assert_non_null(strstr(jc_errmsg(), "(offset 10): checksum mismatch"));
    assert_int_equal(jc_eventlog_read(log, 0, 5, 100, 1 << 20, 0, &b), JC_ECORRUPT);
    /* The next segment is intact. */
    uint64_t b0, e0;
    assert_int_equal(jc_eventlog_offsets(log, 0, &b0, &e0), JC_OK);
    assert_int_equal(e0, 200);
    assert_int_equal(jc_eventlog_read(log, 0, 150, 10, 1 << 20, 0, &b), JC_OK);
    assert_int_equal(b.n, 10);
    jc_eventlog_batch_free(&b);
    jc_eventlog_close(log);
    free((char *)c.dir);
}

static void test_retention(void **state)
{
    (void)state;
    struct jc_eventlog_config c;
    emb_config(&c, "ret");
    c.n_partitions = 1;
    c.segment_bytes = 4096;
    c.retention_bytes = 5 * 4096;
    struct jc_eventlog *log = open_ok(&c);
    append_seq(log, 0, 0, 1000);
    struct jc_eventlog_partition_info info;
    assert_int_equal(jc_eventlog_describe(log, 0, &info), JC_OK);
    /* Retention runs at each roll: at most the limit plus the active segment. */
    assert_true(info.bytes <= 6 * 4096);
    assert_true(info.n_segments <= 6 && info.n_segments >= 5);
    assert_true(info.begin > 0);
    assert_int_equal(info.end, 1000);
    /* Reading from 0 starts at begin; everything held is intact. */
    check_seq(log, 0, info.begin, 1000 - info.begin);
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    assert_int_equal(jc_eventlog_read(log, 0, 0, 1, 1 << 20, 0, &b), JC_OK);
    assert_int_equal(b.recs[0].offset, info.begin);
    jc_eventlog_batch_free(&b);
    char pdir[4200];
    snprintf(pdir, sizeof pdir, "%s/p000", c.dir);
    assert_int_equal(count_files(pdir, ".log"), (int)info.n_segments);
    jc_eventlog_close(log);

    /* By age: reopen with a 1 s limit after the records are older. */
    c.retention_bytes = 0;
    c.retention_seconds = 1;
    struct timespec ts = {1, 200000000};
    nanosleep(&ts, NULL);
    log = open_ok(&c); /* retention runs on open */
    assert_int_equal(jc_eventlog_describe(log, 0, &info), JC_OK);
    assert_int_equal(info.n_segments, 1); /* only the active segment stays */
    assert_int_equal(info.end, 1000);
    uint64_t deleted = 99;
    assert_int_equal(jc_eventlog_retention(log, &deleted), JC_OK);
    assert_int_equal(deleted, 0);
    jc_eventlog_close(log);
    free((char *)c.dir);
}

static void test_writer_lock_and_readers(void **state)
{
    (void)state;
    struct jc_eventlog_config c;
    emb_config(&c, "lock");
    c.n_partitions = 1;
    c.segment_bytes = 4096;
    /* A reader of a log that does not exist. */
    struct jc_eventlog_config rc_cfg = c;
    rc_cfg.read_only = 1;
    struct jc_eventlog *r = NULL;
    assert_int_equal(jc_eventlog_open(&r, &rc_cfg), JC_ENOTFOUND);
    struct jc_eventlog *w = open_ok(&c);
    /* A second writer is refused with a clear message. */
    struct jc_eventlog *w2 = NULL;
    assert_int_equal(jc_eventlog_open(&w2, &c), JC_EBUSY);
    char want[64];
    snprintf(want, sizeof want, "open for writing by process %ld", (long)getpid());
    assert_non_null(strstr(jc_errmsg(), want));
    /* Readers see what the writer appends, across segment rolls. */
    r = open_ok(&rc_cfg);
    uint64_t b, e;
    assert_int_equal(jc_eventlog_offsets(r, 0, &b, &e), JC_OK);
    assert_int_equal(e, 0);
    append_seq(w, 0, 0, 300);
    assert_int_equal(jc_eventlog_offsets(r, 0, &b, &e), JC_OK);
    assert_int_equal(e, 300);
    check_seq(r, 0, 0, 300);
    append_seq(w, 0, 300, 200);
    check_seq(r, 0, 250, 250);
    /* Readers cannot append; they can commit offsets. */
    struct jc_eventlog_rec rec = {0, "x", 1};
    assert_int_equal(jc_eventlog_append_raw(r, &rec, 1, NULL), JC_ESTATE);
    assert_int_equal(jc_eventlog_commit(r, "readers", 0, 42), JC_OK);
    uint64_t off;
    assert_int_equal(jc_eventlog_committed(w, "readers", 0, &off), JC_OK);
    assert_int_equal(off, 42);
    jc_eventlog_close(r);
    jc_eventlog_close(w);
    /* After the writer closed, a new writer may open. */
    w = open_ok(&c);
    jc_eventlog_close(w);
    free((char *)c.dir);
}

/* A reader waiting with a timeout is woken by an append. */
static void *late_append(void *arg)
{
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    append_seq(arg, 0, 0, 1);
    return NULL;
}

static void test_blocking_read(void **state)
{
    (void)state;
    struct jc_eventlog_config c;
    emb_config(&c, "block");
    c.n_partitions = 1;
    struct jc_eventlog *log = open_ok(&c);
    pthread_t th;
    pthread_create(&th, NULL, late_append, log);
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    assert_int_equal(jc_eventlog_read(log, 0, 0, 10, 1 << 20, 5000, &b), JC_OK);
    assert_int_equal(b.n, 1);
    pthread_join(th, NULL);
    jc_eventlog_batch_free(&b);
    jc_eventlog_close(log);
    free((char *)c.dir);
}

/* Write errors (disk full, I/O error): a clear error, nothing half-written
 * stays, offsets stay dense, the log stays usable and reopens clean. */
static void test_write_failure_injection(void **state)
{
    (void)state;
    struct jc_eventlog_config c;
    emb_config(&c, "fail");
    c.n_partitions = 1;
    c.segment_bytes = 8192;
    struct jc_eventlog *log = open_ok(&c);
    append_seq(log, 0, 0, 50);
    char seg[4400];
    last_segment(c.dir, seg, sizeof seg);
    off_t size = file_size(seg);
    jc_eventlog__fail_write_after(1, ENOSPC);
    struct jc_eventlog_rec r[5];
    char bufs[5][64];
    for (int i = 0; i < 5; i++) {
        r[i].partition = 0;
        r[i].data = bufs[i];
        r[i].len = payload(bufs[i], sizeof bufs[i], 1000 + (uint64_t)i);
    }
    assert_int_equal(jc_eventlog_append_raw(log, r, 5, NULL), JC_ENOSPACE);
    assert_non_null(strstr(jc_errmsg(), "cannot write"));
    assert_non_null(strstr(jc_errmsg(), "No space left on device"));
    assert_non_null(strstr(jc_errmsg(), ".log"));
    assert_int_equal(file_size(seg), size); /* the half-written frames are gone */
    uint64_t b, e;
    assert_int_equal(jc_eventlog_offsets(log, 0, &b, &e), JC_OK);
    assert_int_equal(e, 50);
    append_seq(log, 0, 50, 100); /* usable, crossing a segment roll */
    check_seq(log, 0, 0, 150);
    /* A failure in the middle of a batch that rolls a segment. */
    jc_eventlog__fail_write_after(2, EIO);
    struct jc_eventlog_rec many[200];
    char mb[200][64];
    for (int i = 0; i < 200; i++) {
        many[i].partition = 0;
        many[i].data = mb[i];
        many[i].len = payload(mb[i], sizeof mb[i], 5000 + (uint64_t)i);
    }
    assert_int_equal(jc_eventlog_append_raw(log, many, 200, NULL), JC_EIO);
    assert_int_equal(jc_eventlog_offsets(log, 0, &b, &e), JC_OK);
    assert_int_equal(e, 150);
    append_seq(log, 0, 150, 10);
    check_seq(log, 0, 0, 160);
    struct jc_eventlog_stats st;
    jc_eventlog_get_stats(log, &st);
    assert_int_equal(st.append_errors, 2);
    jc_eventlog_close(log);
    log = open_ok(&c);
    check_seq(log, 0, 0, 160);
    /* An fsync failure makes the partition refuse appends until reopen. */
    jc_eventlog__fail_fsync_after(1);
    assert_int_equal(jc_eventlog_append_raw(log, r, 1, NULL), JC_EIO);
    assert_non_null(strstr(jc_errmsg(), "cannot fsync"));
    assert_int_equal(jc_eventlog_append_raw(log, r, 1, NULL), JC_ESTATE);
    assert_non_null(strstr(jc_errmsg(), "reopen the log"));
    jc_eventlog_close(log);
    log = open_ok(&c);
    uint64_t *seqs = calloc(200, 8);
    uint64_t n = read_all(log, 0, 0, seqs, 200, 0);
    assert_true(n == 160 || n == 161); /* the unacknowledged record may be there */
    for (uint64_t i = 0; i < 160; i++)
        assert_int_equal(seqs[i], i);
    free(seqs);
    /* A failing commit (atomic file write) keeps the previous offset. */
    assert_int_equal(jc_eventlog_commit(log, "g", 0, 10), JC_OK);
    jc_fileio_fail_write_after(1);
    assert_int_not_equal(jc_eventlog_commit(log, "g", 0, 20), JC_OK);
    jc_fileio_fail_write_after(0);
    uint64_t off;
    assert_int_equal(jc_eventlog_committed(log, "g", 0, &off), JC_OK);
    assert_int_equal(off, 10);
    jc_eventlog_close(log);
    free((char *)c.dir);
}

static void test_fsync_policies(void **state)
{
    (void)state;
    for (int pol = JC_FSYNC_BATCH; pol <= JC_FSYNC_OFF; pol++) {
        struct jc_eventlog_config c;
        emb_config(&c, "pol");
        c.n_partitions = 1;
        c.fsync = pol;
        c.fsync_interval_ms = 10;
        struct jc_eventlog *log = open_ok(&c);
        struct jc_eventlog_stats s0;
        jc_eventlog_get_stats(log, &s0);
        append_seq(log, 0, 0, 640); /* 10 calls of 64 */
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        struct jc_eventlog_stats s1;
        jc_eventlog_get_stats(log, &s1);
        uint64_t fs = s1.fsyncs - s0.fsyncs;
        if (pol == JC_FSYNC_BATCH)
            assert_int_equal(fs, 10);
        else if (pol == JC_FSYNC_INTERVAL)
            assert_true(fs >= 1 && fs < 10);
        else
            assert_int_equal(fs, 0);
        check_seq(log, 0, 0, 640);
        jc_eventlog_close(log);
        free((char *)c.dir);
    }
}

static void test_partition_count_kept(void **state)
{
    (void)state;
    struct jc_eventlog_config c;
    emb_config(&c, "parts");
    c.n_partitions = 3;
    struct jc_eventlog *log = open_ok(&c);
    assert_int_equal(jc_eventlog_n_partitions(log), 3);
    jc_eventlog_close(log);
    c.n_partitions = 8; /* ignored for an existing log */
    log = open_ok(&c);
    assert_int_equal(jc_eventlog_n_partitions(log), 3);
    jc_eventlog_close(log);
    /* A damaged meta file is refused. */
    char meta[4200];
    snprintf(meta, sizeof meta, "%s/meta", c.dir);
    flip_byte(meta, 13);
    struct jc_eventlog *x = NULL;
    assert_int_equal(jc_eventlog_open(&x, &c), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "checksum mismatch"));
    free((char *)c.dir);
}

/* ---- crash test -------------------------------------------------------------------------- */

struct ack {
    uint32_t partition;
    uint32_t pad;
    uint64_t offset;
    uint64_t seq;
};

struct crash_child {
    struct jc_eventlog *log;
    int fd;
    uint64_t seq_base;
    int thread;
};

static void *crash_writer(void *arg)
{
    struct crash_child *c = arg;
    struct jc_rng rng;
    jc_rng_stream(&rng, 42, c->seq_base + (uint64_t)c->thread);
    uint64_t seq = c->seq_base + (uint64_t)c->thread * 100000000u;
    for (;;) {
        size_t k = 1 + jc_rng_below(&rng, 40);
        struct jc_eventlog_rec r[40];
        char bufs[40][64];
        uint64_t offs[40];
        for (size_t j = 0; j < k; j++) {
            r[j].partition = (uint32_t)jc_rng_below(&rng, 2);
            r[j].data = bufs[j];
            r[j].len = payload(bufs[j], sizeof bufs[j], seq + j);
        }
        if (jc_eventlog_append_raw(c->log, r, k, offs) != JC_OK)
            _exit(3);
        for (size_t j = 0; j < k; j++) {
            struct ack a = {r[j].partition, 0, offs[j], seq + j};
            if (write(c->fd, &a, sizeof a) != (ssize_t)sizeof a)
                _exit(4);
        }
        seq += k;
    }
    return NULL;
}

/* One trial: a child appends (2 threads) until SIGKILL; returns the acks. */
static size_t crash_trial(const struct jc_eventlog_config *c, uint64_t seq_base, int kill_us,
                          struct ack **acks_out)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        struct jc_eventlog *log;
        if (jc_eventlog_open(&log, c) != JC_OK)
            _exit(2);
        struct crash_child ch[2] = {{log, fds[1], seq_base, 0}, {log, fds[1], seq_base, 1}};
        pthread_t th;
        pthread_create(&th, NULL, crash_writer, &ch[1]);
        crash_writer(&ch[0]);
        _exit(0);
    }
    close(fds[1]);
    struct timespec ts = {0, (long)kill_us * 1000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    size_t cap = 1024, n = 0;
    struct ack *acks = malloc(cap * sizeof *acks);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            acks = realloc(acks, cap * sizeof *acks);
        }
        ssize_t k = read(fds[0], &acks[n], sizeof *acks);
        if (k <= 0)
            break;
        assert_int_equal(k, sizeof *acks);
        n++;
    }
    close(fds[0]);
    *acks_out = acks;
    return n;
}

static void run_crash_trials(int trials)
{
    struct jc_eventlog_config c;
    emb_config(&c, "crash");
    c.n_partitions = 2;
    c.segment_bytes = 16384; /* rolls happen during the trials */
    struct jc_rng rng;
    jc_rng_seed(&rng, 1234);
    uint64_t total_acked = 0;
    for (int t = 0; t < trials; t++) {
        struct ack *acks;
        int kill_us = 20000 + (int)jc_rng_below(&rng, 150000);
        size_t n = crash_trial(&c, (uint64_t)(t + 1) * 1000000000000ull, kill_us, &acks);
        total_acked += n;
        /* Restart: recovery, then every acknowledged record is present once,
         * at its acknowledged offset, and nothing read is corrupt. */
        struct jc_eventlog *log = open_ok(&c);
        for (uint32_t p = 0; p < 2; p++) {
            uint64_t b, e;
            assert_int_equal(jc_eventlog_offsets(log, p, &b, &e), JC_OK);
            uint64_t *seqs = calloc(e + 1, 8);
            uint64_t got = read_all(log, p, 0, seqs, e + 1, 0); /* checks dense offsets */
            assert_int_equal(got, e);
            for (size_t i = 0; i < n; i++) {
                if (acks[i].partition != p)
                    continue;
                if (acks[i].offset >= got)
                    fail_msg("trial %d: acknowledged p%u@%" PRIu64 " lost (end %" PRIu64 ")", t, p,
                             acks[i].offset, got);
                if (seqs[acks[i].offset] != acks[i].seq)
                    fail_msg("trial %d: p%u@%" PRIu64 " holds %" PRIu64 ", acked %" PRIu64, t, p,
                             acks[i].offset, seqs[acks[i].offset], acks[i].seq);
            }
            /* Exactly once: no seq appears twice. */
            for (uint64_t i = 1; i < got; i++) {
                /* Per writer thread the seqs increase with the offset. */
                for (uint64_t j = i; j-- > 0;) {
                    if (seqs[j] / 100000000u == seqs[i] / 100000000u) {
                        if (seqs[j] >= seqs[i])
                            fail_msg("trial %d: p%u order/duplicate at %" PRIu64, t, p, i);
                        break;
                    }
                }
            }
            free(seqs);
        }
        jc_eventlog_close(log);
        free(acks);
    }
    print_message("crash test: %d trials, %" PRIu64 " acknowledged records verified\n", trials,
                  total_acked);
    assert_true(total_acked > 0);
    free((char *)c.dir);
}

static void test_crash_kill9(void **state)
{
    (void)state;
    const char *env = getenv("JC_CRASH_TRIALS");
    int64_t trials = 10; /* bench/eventlog/crash-test sets >= 100 */
    if (env && (jc_parse_i64_str(env, &trials) != JC_OK || trials < 1 || trials > 100000))
        fail_msg("JC_CRASH_TRIALS=%s is not a trial count", env);
    run_crash_trials((int)trials);
}

static const struct CMUnitTest kafka_tests[] = {
    cmocka_unit_test_setup_teardown(conf_append_read, setup_kafka, teardown),
    cmocka_unit_test_setup_teardown(conf_raw_and_limits, setup_kafka, teardown),
    cmocka_unit_test_setup_teardown(conf_groups, setup_kafka, teardown),
    cmocka_unit_test_setup_teardown(conf_consumer, setup_kafka, teardown),
    cmocka_unit_test_setup_teardown(conf_concurrency, setup_kafka, teardown),
};

static const struct CMUnitTest embedded_tests[] = {
    cmocka_unit_test_setup_teardown(conf_append_read, setup_embedded, teardown),
    cmocka_unit_test_setup_teardown(conf_raw_and_limits, setup_embedded, teardown),
    cmocka_unit_test_setup_teardown(conf_groups, setup_embedded, teardown),
    cmocka_unit_test_setup_teardown(conf_consumer, setup_embedded, teardown),
    cmocka_unit_test_setup_teardown(conf_concurrency, setup_embedded, teardown),
    cmocka_unit_test(test_segment_roll_and_reopen),
    cmocka_unit_test(test_torn_tail_recovery),
    cmocka_unit_test(test_corrupt_sealed_segment),
    cmocka_unit_test(test_retention),
    cmocka_unit_test(test_writer_lock_and_readers),
    cmocka_unit_test(test_blocking_read),
    cmocka_unit_test(test_write_failure_injection),
    cmocka_unit_test(test_fsync_policies),
    cmocka_unit_test(test_partition_count_kept),
    cmocka_unit_test(test_crash_kill9),
};

int main(void)
{
    /* bench/eventlog/crash-test runs only the crash test, with more trials. */
    const char *filter = getenv("JC_TEST_FILTER");
    if (filter && filter[0])
        cmocka_set_test_filter(filter);
    int failed = cmocka_run_group_tests_name("eventlog (embedded)", embedded_tests, NULL, NULL);
    /* JC_TEST_NO_KAFKA=1 skips the Kafka group (librdkafka is not
     * instrumented and crashes under ThreadSanitizer). */
    const char *nk = getenv("JC_TEST_NO_KAFKA");
    if (!(nk && nk[0] == '1') && !(filter && filter[0]))
        failed += cmocka_run_group_tests_name("eventlog (kafka mock)", kafka_tests, NULL, NULL);
    return failed;
}
