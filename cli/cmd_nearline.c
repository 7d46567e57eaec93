/*
 * cmd_nearline.c - `junco nearline`: the nearline worker as a process.
 *
 * Opens the catalog, the feature store ([store]/[redis]) and the event log
 * (the embedded log read-only, so `junco events append` and `junco serve`
 * can keep writing), builds the feature spec (the live model's when online
 * learning is on, else the [features] settings), and runs the worker of
 * junco/nearline.h until SIGINT/SIGTERM, --duration, or (--once) until the
 * assigned partitions are caught up. Several processes share a group with
 * --index I --count N (partition p belongs to process p mod N); a lock file
 * per partition under <home>/events refuses a second owner.
 */
#include "cli.h"

#include "core/buf.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/timeutil.h"
#include <junco/embed.h>
#include <junco/error.h>
#include <junco/eventlog.h>
#include <junco/featspec.h>
#include <junco/nearline.h>
#include <junco/online.h>
#include <junco/store.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct handles {
    struct jc_catalog *cat;
    struct jc_store *store;
    struct jc_eventlog *log;
    struct jc_featspec *spec; /* owned unless taken from the learner */
    struct jc_online *online;
    struct jc_emb *emb;
    struct jc_nearline *w;
};

static void close_all(struct handles *h)
{
    jc_nearline_destroy(h->w);
    jc_online_close(h->online);
    jc_featspec_destroy(h->spec);
    jc_emb_destroy(h->emb);
    jc_eventlog_close(h->log);
    jc_store_close(h->store);
    jc_catalog_close(h->cat);
}

/* Opens the log for reading; an embedded log that does not exist yet is
 * created first (so a worker can start before the first event). */
static int open_log(struct jc_cli *cli, char *dir, size_t cap, struct jc_eventlog **log)
{
    int rc = jc_cli_path(cli, "events", dir, cap);
    if (rc)
        return rc;
    struct jc_eventlog_config c;
    jc_eventlog_config_from_settings(&c, &cli->cfg, dir);
    if (strcmp(c.backend, "embedded") != 0)
        return jc_eventlog_open(log, &c);
    if (!jc_path_exists(dir)) {
        struct jc_eventlog *w;
        if ((rc = jc_cli_ensure_home(cli, NULL)) || (rc = jc_eventlog_open(&w, &c)))
            return rc;
        jc_eventlog_close(w);
    }
    c.read_only = 1;
    return jc_eventlog_open(log, &c);
}

static void print_stats_line(struct jc_nearline *w, struct jc_online *o)
{
    struct jc_nearline_stats s;
    jc_nearline_get_stats(w, &s);
    uint64_t lag = 0;
    for (uint32_t i = 0; i < s.n_parts; i++)
        lag += s.lag[i];
    fprintf(stderr,
            "nearline: in %llu (%.0f/s) out %llu rejected %llu lag %llu p50 %.1f ms p99 %.1f ms",
            (unsigned long long)s.events_in, s.in_per_s, (unsigned long long)s.events_out,
            (unsigned long long)(s.rejected_unknown + s.rejected_bad), (unsigned long long)lag,
            1e3 * jc_nearline_stats_quantile(&s, 0.5), 1e3 * jc_nearline_stats_quantile(&s, 0.99));
    if (o) {
        struct jc_online_stats os;
        jc_online_get_stats(o, &os);
        fprintf(stderr, " | online %llu ex, loss %.4f, trips %llu, v%u",
                (unsigned long long)os.examples, os.rolling_logloss,
                (unsigned long long)os.guard_trips, os.live_version);
    }
    fputc('\n', stderr);
}

static int write_metrics(struct jc_nearline *w, const char *path)
{
    struct jc_buf b;
    jc_buf_init(&b, JC_BUF_CAP_DEFAULT);
    int rc = jc_nearline_metrics_write(w, &b);
    if (rc == JC_OK)
        rc = jc_file_write_atomic(path, b.data, b.len);
    jc_buf_free(&b);
    return rc;
}

static void print_summary(struct jc_nearline *w, struct jc_online *o, double seconds, int json)
{
    struct jc_nearline_stats s;
    jc_nearline_get_stats(w, &s);
    uint64_t lag = 0;
    for (uint32_t i = 0; i < s.n_parts; i++)
        lag += s.lag[i];
    double p50 = jc_nearline_stats_quantile(&s, 0.5), p99 = jc_nearline_stats_quantile(&s, 0.99);
    if (!json) {
        printf("nearline: %llu events in, %llu applied, %llu rejected (unknown %llu, bad %llu), "
               "%llu commits in %.2f s; lag %llu; event->store p50 %.1f ms, p99 %.1f ms\n",
               (unsigned long long)s.events_in, (unsigned long long)s.events_out,
               (unsigned long long)(s.rejected_unknown + s.rejected_bad),
               (unsigned long long)s.rejected_unknown, (unsigned long long)s.rejected_bad,
               (unsigned long long)s.commits, seconds, (unsigned long long)lag, 1e3 * p50,
               1e3 * p99);
        if (o) {
            struct jc_online_stats os;
            jc_online_get_stats(o, &os);
            printf("online: %llu examples, %llu updates, rolling logloss %.4f (baseline %.4f), "
                   "%llu guard trips, %llu snapshots, model v%u\n",
                   (unsigned long long)os.examples, (unsigned long long)os.updates,
                   os.rolling_logloss, os.baseline_logloss, (unsigned long long)os.guard_trips,
                   (unsigned long long)os.snapshots, os.live_version);
        }
        return;
    }
    struct jc_buf b;
    struct jc_json j;
    jc_buf_init(&b, 0);
    jc_json_init(&j, &b, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "events_in", (int64_t)s.events_in);
    jc_json_kv_int(&j, "events_out", (int64_t)s.events_out);
    jc_json_kv_int(&j, "rejected_unknown", (int64_t)s.rejected_unknown);
    jc_json_kv_int(&j, "rejected_bad", (int64_t)s.rejected_bad);
    jc_json_kv_int(&j, "commits", (int64_t)s.commits);
    jc_json_kv_int(&j, "commit_errors", (int64_t)s.commit_errors);
    jc_json_kv_int(&j, "users_written", (int64_t)s.users_written);
    jc_json_kv_int(&j, "items_written", (int64_t)s.items_written);
    jc_json_kv_int(&j, "lag", (int64_t)lag);
    jc_json_kv_double(&j, "latency_p50_ms", 1e3 * p50);
    jc_json_kv_double(&j, "latency_p99_ms", 1e3 * p99);
    jc_json_kv_double(&j, "latency_max_ms", 1e3 * s.lat_max_s);
    jc_json_kv_double(&j, "seconds", seconds);
    jc_json_key(&j, "partitions");
    jc_json_arr_begin(&j);
    for (uint32_t i = 0; i < s.n_parts; i++) {
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "partition", s.partition[i]);
        jc_json_kv_int(&j, "position", (int64_t)s.position[i]);
        jc_json_kv_int(&j, "lag", (int64_t)s.lag[i]);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    if (o) {
        struct jc_online_stats os;
        jc_online_get_stats(o, &os);
        jc_json_key(&j, "online");
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "examples", (int64_t)os.examples);
        jc_json_kv_int(&j, "updates", (int64_t)os.updates);
        jc_json_kv_int(&j, "guard_trips", (int64_t)os.guard_trips);
        jc_json_kv_int(&j, "rollbacks", (int64_t)os.rollbacks);
        jc_json_kv_int(&j, "snapshots", (int64_t)os.snapshots);
        jc_json_kv_double(&j, "rolling_logloss", os.rolling_logloss);
        jc_json_kv_int(&j, "model_version", os.live_version);
        jc_json_obj_end(&j);
    }
    jc_json_obj_end(&j);
    if (jc_json_finish(&j) == JC_OK)
        printf("%s\n", b.data);
    jc_buf_free(&b);
}

int jc_cmd_nearline(struct jc_cli *cli, int argc, char **argv)
{
    const char *group = NULL, *from = NULL, *model = NULL, *embedding = NULL, *metrics = NULL;
    int64_t index = 0, count = 1;
    double duration = 0, stats_every = 0;
    int once = 0, online = 0, json = 0;
    const struct jc_opt opts[] = {
        {"group", 'g', JC_OPT_STR, &group, "G", "consumer group (default nearline.group)", NULL},
        {"index", 0, JC_OPT_INT, &index, "I", "this process's index in the group (default 0)",
         NULL},
        {"count", 0, JC_OPT_INT, &count, "N",
         "processes sharing the group: partition p belongs to index p mod N (default 1)", NULL},
        {"from", 0, JC_OPT_STR, &from, "WHERE",
         "earliest|latest|committed for partitions without a stored offset "
         "(default nearline.start)",
         NULL},
        {"once", 0, JC_OPT_FLAG, &once, NULL, "apply what the log holds now, then exit", NULL},
        {"duration", 0, JC_OPT_DBL, &duration, "S", "stop after S seconds (default: on a signal)",
         NULL},
        {"online", 0, JC_OPT_FLAG, &online, NULL,
         "update the live ranking model from labelled events (also online.enabled)", NULL},
        {"model", 0, JC_OPT_STR, &model, "NAME",
         "registry name of that model (default online.model, else train.model)", NULL},
        {"embedding", 0, JC_OPT_STR, &embedding, "NAME",
         "embedding for realtime user vectors (default nearline.embedding)", NULL},
        {"stats-every", 0, JC_OPT_DBL, &stats_every, "S",
         "print a stats line to stderr every S seconds", NULL},
        {"metrics", 0, JC_OPT_STR, &metrics, "FILE",
         "write the Prometheus metrics to FILE at exit (and with --stats-every)", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "print the final summary as JSON", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(
        cli, "nearline", "[options]",
        "Consumes the event log and keeps the realtime features in the feature store:\n"
        "user state (recent positives, counts, averages, genres), item state, decayed item\n"
        "popularity (pop:<item>), realtime user vectors, and optionally online updates of\n"
        "the live ranking model. Offsets are stored with the state, so a restart resumes\n"
        "exactly where the last write ended and never counts an event twice.",
        opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (count < 1 || count > JC_EVENTLOG_MAX_PARTITIONS || index < 0 || index >= count)
        return jc_cli_usage("nearline", "--index must be in [0, --count) and --count in [1, %d]",
                            JC_EVENTLOG_MAX_PARTITIONS);
    if (duration < 0 || stats_every < 0)
        return jc_cli_usage("nearline", "--duration and --stats-every must be >= 0");
    struct jc_nearline_config nc;
    jc_nearline_config_default(&nc);
    jc_nearline_config_from(&nc, &cli->cfg);
    if (group)
        nc.group = group;
    if (from) {
        if (strcmp(from, "earliest") == 0)
            nc.start = JC_START_EARLIEST;
        else if (strcmp(from, "latest") == 0)
            nc.start = JC_START_LATEST;
        else if (strcmp(from, "committed") == 0)
            nc.start = JC_START_COMMITTED;
        else
            return jc_cli_usage("nearline", "--from must be earliest, latest or committed");
    }
    nc.proc_index = (uint32_t)index;
    nc.proc_count = (uint32_t)count;
    online = online || cli->cfg.online_enabled;
    if (!embedding && cli->cfg.nearline_embedding[0])
        embedding = cli->cfg.nearline_embedding;

    struct handles h;
    memset(&h, 0, sizeof h);
    char store_path[4096], log_dir[4096];
    struct jc_store_config sc;
    if ((rc = jc_cli_open_catalog(cli, &h.cat)) ||
        (rc = jc_store_config_from(&sc, &cli->cfg, cli->home, store_path, sizeof store_path)) ||
        (rc = jc_store_open(&h.store, &sc)) ||
        (rc = open_log(cli, log_dir, sizeof log_dir, &h.log)))
        goto fail;
    const struct jc_featspec *spec = NULL;
    if (online) {
        const char *name = model                      ? model
                           : cli->cfg.online_model[0] ? cli->cfg.online_model
                                                      : cli->cfg.train_model;
        char rel[256], dir[4096];
        snprintf(rel, sizeof rel, "models/%s", name);
        struct jc_online_config oc;
        jc_online_config_default(&oc);
        jc_online_config_from(&oc, &cli->cfg);
        if ((rc = jc_cli_path(cli, rel, dir, sizeof dir)))
            goto fail;
        oc.registry_dir = dir;
        oc.cat = h.cat;
        if ((rc = jc_online_open(&h.online, &oc)))
            goto fail;
        if ((spec = jc_online_spec(h.online)) == NULL) {
            rc = jc_err_set(JC_ESTATE,
                            "online: model %s has no feature spec (train it with "
                            "`junco train` on sample files)",
                            dir);
            goto fail;
        }
    } else {
        struct jc_featspec_opts fo;
        jc_featspec_opts_from_config(&fo, &cli->cfg);
        if ((rc = jc_featspec_create(&h.spec, &fo, h.cat)))
            goto fail;
        spec = h.spec;
    }
    if (embedding && (rc = jc_cli_load_embedding(cli, embedding, h.cat, &h.emb)))
        goto fail;
    nc.log = h.log;
    nc.store = h.store;
    nc.cat = h.cat;
    nc.spec = spec;
    nc.online = h.online;
    nc.emb = h.emb;
    nc.emb_name = embedding;
    nc.lock_dir = log_dir;
    if ((rc = jc_mkdir_p(log_dir)) || (rc = jc_nearline_create(&h.w, &nc)))
        goto fail;

    uint64_t t0 = jc_now_ns();
    if (once) {
        rc = jc_nearline_drain(h.w, NULL);
    } else {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if ((rc = jc_nearline_start(h.w)))
            goto fail;
        if (!cli->quiet)
            fprintf(stderr, "nearline: running (group %s, process %lld of %lld); Ctrl-C stops\n",
                    nc.group, (long long)index, (long long)count);
        double next_stats = stats_every;
        while (!g_stop) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
            double el = (double)(jc_now_ns() - t0) * 1e-9;
            if (duration > 0 && el >= duration)
                break;
            if (stats_every > 0 && el >= next_stats) {
                next_stats += stats_every;
                print_stats_line(h.w, h.online);
                if (metrics && write_metrics(h.w, metrics) != JC_OK)
                    fprintf(stderr, "junco: warning: %s\n", jc_errmsg());
            }
        }
        rc = jc_nearline_stop(h.w);
        if (rc)
            fprintf(stderr, "junco: warning: the last cycle failed: %s\n", jc_errmsg());
        rc = JC_OK;
    }
    if (rc == JC_OK && h.online) {
        int r = jc_online_snapshot(h.online, NULL);
        if (r && r != JC_ESTATE)
            fprintf(stderr, "junco: warning: final online snapshot: %s\n", jc_errmsg());
    }
    double seconds = (double)(jc_now_ns() - t0) * 1e-9;
    if (rc == JC_OK && metrics)
        rc = write_metrics(h.w, metrics);
    if (rc)
        goto fail;
    print_summary(h.w, h.online, seconds, json);
    close_all(&h);
    return JC_EXIT_OK;
fail:
    rc = jc_cli_fail(rc);
    close_all(&h);
    return rc;
}
