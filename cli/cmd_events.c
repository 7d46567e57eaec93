/*
 * cmd_events.c - `junco events SUBCOMMAND`: the event log from the shell.
 *
 *   append FILE|-        JSONL events into the log (accepted/rejected report)
 *   tail                 print events (from an offset, a group, or the last N)
 *   stats                partitions, offsets, segments, bytes, groups and lag
 *   replay-catalog       append the catalog's interactions in time order
 *
 * The log is <home>/events (embedded) or the [kafka] cluster when
 * events.backend = kafka. tail and stats open the embedded log read-only, so
 * they work while another process (junco serve) is the writer.
 */
#include "cli.h"

#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include <junco/error.h>
#include <junco/eventlog.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (64 * 1024)

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int open_log(struct jc_cli *cli, int read_only, struct jc_eventlog **log)
{
    static char dir[4096];
    int rc = jc_cli_path(cli, "events", dir, sizeof dir);
    if (rc)
        return rc;
    struct jc_eventlog_config c;
    jc_eventlog_config_from_settings(&c, &cli->cfg, dir);
    c.read_only = read_only;
    if (!read_only && strcmp(c.backend, "embedded") == 0 && (rc = jc_cli_ensure_home(cli, NULL)))
        return rc;
    return jc_eventlog_open(log, &c);
}

/* ---- append ---------------------------------------------------------------------- */

struct pending {
    struct jc_event *evs;
    char *scratch; /* JC_EVENT_SCRATCH per event */
    size_t n, cap;
};

static int flush_pending(struct jc_eventlog *log, struct pending *p, uint64_t *appended)
{
    if (p->n == 0)
        return JC_OK;
    int rc = jc_eventlog_append(log, p->evs, p->n, NULL);
    if (rc == JC_OK)
        *appended += p->n;
    p->n = 0;
    return rc;
}

static int cmd_append(struct jc_cli *cli, int argc, char **argv)
{
    int skip_bad = 0, json = 0;
    int64_t batch = 1000;
    const struct jc_opt opts[] = {
        {"skip-bad", 0, JC_OPT_FLAG, &skip_bad, NULL,
         "exit 0 even if some lines were rejected (they are still reported)", NULL},
        {"batch", 0, JC_OPT_INT, &batch, "N", "events per durable append (default 1000)", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "print the report as JSON on stdout", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int n_pos = 0;
    int rc = jc_cli_parse(
        cli, "events append", "[options] FILE|-",
        "Appends events, one JSON object per line, to the event log. Fields: user, item,\n"
        "type (impression|exposure, click, view, rating, like, purchase, or a type of\n"
        "events.custom_types), value (default 1), time (Unix seconds or ISO 8601) or\n"
        "time_ms (default: now), request_id, experiment, variant, context (object).\n"
        "Valid lines are appended durably; invalid ones are reported as FILE:LINE: reason.\n"
        "Exit status 1 if any line was rejected, unless --skip-bad.",
        opts, argc, argv, pos, 1, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos != 1)
        return jc_cli_usage("events append", "expected one input file (or - for stdin)");
    if (batch < 1 || batch > 1000000)
        return jc_cli_usage("events append", "--batch must be in [1, 1000000]");
    struct jc_event_types types;
    if ((rc = jc_event_types_parse(&types, cli->cfg.events_custom_types)))
        return jc_cli_fail(rc);
    const char *name = strcmp(pos[0], "-") == 0 ? "<stdin>" : pos[0];
    FILE *in = strcmp(pos[0], "-") == 0 ? stdin : fopen(pos[0], "rb");
    if (in == NULL)
        return jc_cli_fail(jc_err_set(JC_ENOTFOUND, "cannot open %s: no such file", pos[0]));
    struct jc_eventlog *log;
    if ((rc = open_log(cli, 0, &log))) {
        if (in != stdin)
            fclose(in);
        return jc_cli_fail(rc);
    }
    struct pending p = {0};
    p.cap = (size_t)batch;
    p.evs = calloc(p.cap, sizeof *p.evs);
    p.scratch = malloc(p.cap * JC_EVENT_SCRATCH);
    if (p.evs == NULL || p.scratch == NULL) {
        rc = JC_ENOMEM;
    }
    uint64_t line_no = 0, accepted = 0, rejected = 0, appended = 0;
    int64_t now = jc_wall_s() * 1000;
    struct jc_buf report;
    jc_buf_init(&report, 0);
    struct jc_json j;
    jc_json_init(&j, &report, 0);
    jc_json_arr_begin(&j);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    uint32_t shown = 0, max_shown = (uint32_t)cli->cfg.import_max_errors_shown;
    while (rc == JC_OK && (len = getline(&line, &line_cap, in)) >= 0) {
        line_no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        size_t k = 0;
        while (k < (size_t)len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == (size_t)len)
            continue; /* blank line */
        int prc;
        if (len > MAX_LINE)
            prc = jc_err_set(JC_ELIMIT, "line longer than %d bytes", MAX_LINE);
        else
            prc = jc_event_parse_json(line, (size_t)len, &types, now, &p.evs[p.n],
                                      p.scratch + p.n * JC_EVENT_SCRATCH);
        if (prc) {
            rejected++;
            if (shown < max_shown || json) {
                if (!json)
                    fprintf(stderr, "%s:%" PRIu64 ": %s\n", name, line_no, jc_errmsg());
                jc_json_obj_begin(&j);
                jc_json_kv_int(&j, "line", (int64_t)line_no);
                jc_json_kv_str(&j, "error", jc_errmsg());
                jc_json_obj_end(&j);
                shown++;
            }
            continue;
        }
        accepted++;
        if (++p.n == p.cap)
            rc = flush_pending(log, &p, &appended);
    }
    if (rc == JC_OK && ferror(in))
        rc = jc_err_set(JC_EIO, "cannot read %s", name);
    if (rc == JC_OK)
        rc = flush_pending(log, &p, &appended);
    jc_json_arr_end(&j);
    free(line);
    if (in != stdin)
        fclose(in);
    free(p.evs);
    free(p.scratch);
    jc_eventlog_close(log);
    if (rc) {
        jc_buf_free(&report);
        fprintf(stderr, "junco events append: %" PRIu64 " events appended before the error\n",
                appended);
        return jc_cli_fail(rc);
    }
    if (json) {
        struct jc_buf out;
        jc_buf_init(&out, 0);
        struct jc_json o;
        jc_json_init(&o, &out, 0);
        jc_json_obj_begin(&o);
        jc_json_kv_str(&o, "source", name);
        jc_json_kv_int(&o, "lines", (int64_t)line_no);
        jc_json_kv_int(&o, "accepted", (int64_t)accepted);
        jc_json_kv_int(&o, "rejected", (int64_t)rejected);
        jc_json_kv_int(&o, "appended", (int64_t)appended);
        jc_json_key(&o, "errors");
        jc_json_finish(&j);
        jc_json_raw(&o, report.data, report.len);
        jc_json_obj_end(&o);
        if (jc_json_finish(&o) == JC_OK)
            printf("%s\n", out.data);
        jc_buf_free(&out);
    } else if (!cli->quiet) {
        if (rejected > shown)
            fprintf(stderr, "... and %" PRIu64 " more rejected lines\n", rejected - shown);
        fprintf(stderr, "%s: %" PRIu64 " accepted, %" PRIu64 " rejected\n", name, accepted,
                rejected);
    }
    jc_buf_free(&report);
    return rejected > 0 && !skip_bad ? JC_EXIT_ERROR : JC_EXIT_OK;
}

/* ---- tail ------------------------------------------------------------------------- */

static void print_record(const struct jc_eventlog_record *r, int json, struct jc_buf *b)
{
    struct jc_event ev;
    jc_buf_reset(b);
    int rc = jc_event_decode(r->data, r->len, &ev);
    if (json) {
        struct jc_json j;
        jc_json_init(&j, b, 0);
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "partition", r->partition);
        jc_json_kv_int(&j, "offset", (int64_t)r->offset);
        jc_json_kv_int(&j, "append_ms", r->append_ms);
        jc_json_key(&j, "event");
        if (rc == JC_OK) {
            struct jc_buf e;
            jc_buf_init(&e, 0);
            if (jc_event_write_json(&ev, &e) == JC_OK)
                jc_json_raw(&j, e.data, e.len);
            else
                jc_json_null(&j);
            jc_buf_free(&e);
        } else {
            jc_json_null(&j);
            jc_json_kv_str(&j, "error", jc_errmsg());
        }
        jc_json_obj_end(&j);
        jc_json_finish(&j);
    } else if (rc == JC_OK) {
        char when[32];
        jc_fmt_utc(when, sizeof when, ev.time_ms / 1000);
        size_t tn;
        const char *ts = jc_event_type_str(&ev, &tn);
        jc_buf_printf(b, "p%u@%" PRIu64 "  %s  user=%.*s item=%.*s %.*s %g", r->partition,
                      r->offset, when, (int)ev.user_len, ev.user, (int)ev.item_len, ev.item,
                      (int)tn, ts, (double)ev.value);
        if (ev.experiment_len)
            jc_buf_printf(b, " ab=%.*s/%.*s", (int)ev.experiment_len, ev.experiment,
                          (int)ev.variant_len, ev.variant ? ev.variant : "");
        if (ev.request_id_len)
            jc_buf_printf(b, " req=%.*s", (int)ev.request_id_len, ev.request_id);
        if (ev.context_len)
            jc_buf_printf(b, " ctx=%.*s", (int)ev.context_len, ev.context);
    } else {
        jc_buf_printf(b, "p%u@%" PRIu64 "  <undecodable: %s>", r->partition, r->offset,
                      jc_errmsg());
    }
    fwrite(b->data, 1, b->len, stdout);
    fputc('\n', stdout);
}

static int cmd_tail(struct jc_cli *cli, int argc, char **argv)
{
    int follow = 0, json = 0;
    int64_t from = -1, partition = -1, last = 10, limit = -1;
    const char *group = NULL;
    int from_seen = 0, last_seen = 0;
    const struct jc_opt opts[] = {
        {"from", 0, JC_OPT_INT, &from, "OFFSET", "start at this offset in each partition",
         &from_seen},
        {"group", 'g', JC_OPT_STR, &group, "G",
         "start at the group's committed offsets and commit what was printed", NULL},
        {"lines", 'n', JC_OPT_INT, &last, "N",
         "without --from/--group: the last N events of each partition (default 10)", &last_seen},
        {"partition", 'p', JC_OPT_INT, &partition, "P", "only this partition", NULL},
        {"follow", 'f', JC_OPT_FLAG, &follow, NULL, "keep printing new events (Ctrl-C stops)",
         NULL},
        {"limit", 0, JC_OPT_INT, &limit, "N", "stop after printing N events", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL,
         "one JSON object per line: partition, offset, append_ms, event", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "events tail", "[--from OFFSET | --group G | -n N] [--follow]",
                          "Prints events of the log, oldest first within each partition.", opts,
                          argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (from_seen && from < 0)
        return jc_cli_usage("events tail", "--from must be >= 0");
    if (from_seen && group)
        return jc_cli_usage("events tail", "--from and --group exclude each other");
    if (last < 0)
        return jc_cli_usage("events tail", "-n must be >= 0");
    (void)last_seen;
    struct jc_eventlog *log;
    if ((rc = open_log(cli, 1, &log)))
        return jc_cli_fail(rc);
    uint32_t np = jc_eventlog_n_partitions(log);
    if (partition >= (int64_t)np) {
        jc_eventlog_close(log);
        return jc_cli_usage("events tail", "--partition %" PRId64 ": the log has %u partitions",
                            partition, np);
    }
    uint32_t one = (uint32_t)(partition < 0 ? 0 : partition);
    struct jc_eventlog_consumer_config cc;
    jc_eventlog_consumer_config_default(&cc);
    cc.group = group;
    cc.partitions = partition >= 0 ? &one : NULL;
    cc.n_partitions = partition >= 0 ? 1 : 0;
    cc.start = group ? JC_START_COMMITTED : JC_START_EARLIEST;
    struct jc_eventlog_consumer *c;
    if ((rc = jc_eventlog_consumer_open(&c, log, &cc))) {
        jc_eventlog_close(log);
        return jc_cli_fail(rc);
    }
    /* Starting positions. */
    for (uint32_t p = 0; p < np && rc == JC_OK; p++) {
        if (partition >= 0 && p != one)
            continue;
        uint64_t b, e;
        if ((rc = jc_eventlog_offsets(log, p, &b, &e)))
            break;
        if (from_seen)
            rc = jc_eventlog_consumer_seek(c, p, (uint64_t)from);
        else if (!group)
            rc = jc_eventlog_consumer_seek(c, p, e - b > (uint64_t)last ? e - (uint64_t)last : b);
    }
    if (follow) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
    struct jc_eventlog_batch batch;
    jc_eventlog_batch_init(&batch);
    struct jc_buf line;
    jc_buf_init(&line, 0);
    int64_t printed = 0;
    while (rc == JC_OK && !g_stop && (limit < 0 || printed < limit)) {
        rc = jc_eventlog_consumer_poll(c, follow ? 200 : 0, &batch);
        if (rc)
            break;
        if (batch.n == 0) {
            if (!follow)
                break;
            continue;
        }
        for (size_t i = 0; i < batch.n && (limit < 0 || printed < limit); i++, printed++) {
            print_record(&batch.recs[i], json, &line);
            if (limit >= 0 && printed + 1 == limit && i + 1 < batch.n)
                /* Leave the rest for the group's next reader. */
                rc =
                    jc_eventlog_consumer_seek(c, batch.recs[i].partition, batch.recs[i].offset + 1);
        }
        fflush(stdout);
        if (group && rc == JC_OK)
            rc = jc_eventlog_consumer_commit(c);
    }
    jc_buf_free(&line);
    jc_eventlog_batch_free(&batch);
    jc_eventlog_consumer_close(c);
    jc_eventlog_close(log);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

/* ---- stats ------------------------------------------------------------------------ */

struct group_walk {
    struct jc_eventlog *log;
    struct jc_json *j;
    FILE *text;
    int rc;
};

static int walk_group(void *ctx, const char *g)
{
    struct group_walk *w = ctx;
    uint32_t np = jc_eventlog_n_partitions(w->log);
    uint64_t total_lag = 0;
    if (w->j) {
        jc_json_obj_begin(w->j);
        jc_json_kv_str(w->j, "group", g);
        jc_json_key(w->j, "partitions");
        jc_json_arr_begin(w->j);
    } else {
        fprintf(w->text, "group %s:", g);
    }
    for (uint32_t p = 0; p < np; p++) {
        uint64_t b, e, off;
        int rc = jc_eventlog_offsets(w->log, p, &b, &e);
        if (rc)
            return w->rc = rc;
        rc = jc_eventlog_committed(w->log, g, p, &off);
        int has = rc == JC_OK;
        if (rc && rc != JC_ENOTFOUND)
            return w->rc = rc;
        uint64_t from = has ? (off > b ? off : b) : b;
        uint64_t lag = e > from ? e - from : 0;
        total_lag += lag;
        if (w->j) {
            jc_json_obj_begin(w->j);
            jc_json_kv_int(w->j, "partition", p);
            jc_json_key(w->j, "committed");
            if (has)
                jc_json_int(w->j, (int64_t)off);
            else
                jc_json_null(w->j);
            jc_json_kv_int(w->j, "lag", (int64_t)lag);
            jc_json_obj_end(w->j);
        } else if (has) {
            fprintf(w->text, "  p%u committed %" PRIu64 " lag %" PRIu64, p, off, lag);
        } else {
            fprintf(w->text, "  p%u (none) lag %" PRIu64, p, lag);
        }
    }
    if (w->j) {
        jc_json_arr_end(w->j);
        jc_json_kv_int(w->j, "lag", (int64_t)total_lag);
        jc_json_obj_end(w->j);
    } else {
        fprintf(w->text, "  total lag %" PRIu64 "\n", total_lag);
    }
    return 0;
}

static int cmd_stats(struct jc_cli *cli, int argc, char **argv)
{
    int json = 0;
    const struct jc_opt opts[] = {
        {"json", 0, JC_OPT_FLAG, &json, NULL, "machine-readable output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "events stats", "[--json]",
                          "Describes the event log: partitions with their offsets, segments\n"
                          "and bytes, and the consumer groups with their committed offsets "
                          "and lag.",
                          opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    struct jc_eventlog *log;
    if ((rc = open_log(cli, 1, &log)))
        return jc_cli_fail(rc);
    uint32_t np = jc_eventlog_n_partitions(log);
    struct jc_buf out;
    jc_buf_init(&out, 0);
    struct jc_json j;
    jc_json_init(&j, &out, 1);
    uint64_t events = 0, bytes = 0, segs = 0;
    if (json) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "backend", jc_eventlog_backend(log));
        jc_json_kv_int(&j, "partitions", np);
        jc_json_key(&j, "per_partition");
        jc_json_arr_begin(&j);
    } else {
        printf("backend %s, %u partitions\n", jc_eventlog_backend(log), np);
    }
    for (uint32_t p = 0; p < np && rc == JC_OK; p++) {
        struct jc_eventlog_partition_info info;
        if ((rc = jc_eventlog_describe(log, p, &info)))
            break;
        events += info.end - info.begin;
        bytes += info.bytes;
        segs += info.n_segments;
        if (json) {
            jc_json_obj_begin(&j);
            jc_json_kv_int(&j, "partition", p);
            jc_json_kv_int(&j, "begin", (int64_t)info.begin);
            jc_json_kv_int(&j, "end", (int64_t)info.end);
            jc_json_kv_int(&j, "events", (int64_t)(info.end - info.begin));
            jc_json_kv_int(&j, "segments", info.n_segments);
            jc_json_kv_int(&j, "bytes", (int64_t)info.bytes);
            jc_json_obj_end(&j);
        } else {
            printf("  p%u  offsets [%" PRIu64 ", %" PRIu64 ")  %" PRIu64
                   " events  %u segments  %" PRIu64 " bytes\n",
                   p, info.begin, info.end, info.end - info.begin, info.n_segments, info.bytes);
        }
    }
    struct group_walk w = {log, json ? &j : NULL, stdout, JC_OK};
    if (rc == JC_OK) {
        if (json) {
            jc_json_arr_end(&j);
            jc_json_kv_int(&j, "events", (int64_t)events);
            jc_json_kv_int(&j, "segments", (int64_t)segs);
            jc_json_kv_int(&j, "bytes", (int64_t)bytes);
            jc_json_key(&j, "groups");
            jc_json_arr_begin(&j);
        } else {
            printf("total %" PRIu64 " events, %" PRIu64 " segments, %" PRIu64 " bytes\n", events,
                   segs, bytes);
        }
        rc = jc_eventlog_list_groups(log, walk_group, &w);
        if (rc == JC_OK)
            rc = w.rc;
        if (json) {
            jc_json_arr_end(&j);
            jc_json_obj_end(&j);
        }
    }
    if (rc == JC_OK && json && (rc = jc_json_finish(&j)) == JC_OK)
        fwrite(out.data, 1, out.len, stdout);
    jc_buf_free(&out);
    jc_eventlog_close(log);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}

/* ---- replay-catalog -------------------------------------------------------------- */

static int cmd_replay(struct jc_cli *cli, int argc, char **argv)
{
    int64_t batch = 4096;
    const struct jc_opt opts[] = {
        {"batch", 0, JC_OPT_INT, &batch, "N", "events per durable append (default 4096)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(cli, "events replay-catalog", "[--batch N]",
                          "Appends every interaction of the catalog to the event log in time\n"
                          "order (ties by user, then item), with its type, value and time.",
                          opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    if (batch < 1 || batch > 1000000)
        return jc_cli_usage("events replay-catalog", "--batch must be in [1, 1000000]");
    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    struct jc_eventlog *log;
    if ((rc = open_log(cli, 0, &log))) {
        jc_catalog_close(cat);
        return jc_cli_fail(rc);
    }
    uint64_t n = 0, t0 = jc_now_ns();
    rc = jc_eventlog_replay_catalog(log, cat, (size_t)batch, &cli->progress, &n);
    jc_cli_progress_done(cli);
    jc_eventlog_close(log);
    jc_catalog_close(cat);
    if (rc)
        return jc_cli_fail(rc);
    double s = (double)(jc_now_ns() - t0) / 1e9;
    printf("replayed %" PRIu64 " interactions into the event log in %.2f s\n", n, s);
    return JC_EXIT_OK;
}

/* ---- dispatch --------------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(struct jc_cli *, int, char **);
    const char *summary;
} subs[] = {
    {"append", cmd_append, "append JSONL events from FILE or - (stdin)"},
    {"tail", cmd_tail, "print events (--from OFFSET, --group G, --follow, --json)"},
    {"stats", cmd_stats, "partitions, offsets, segments, bytes, groups and lag"},
    {"replay-catalog", cmd_replay, "append the catalog's interactions in time order"},
};

int jc_cmd_events(struct jc_cli *cli, int argc, char **argv)
{
    /* The subcommand is the first argument that is not a global option. */
    int at = -1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 || strcmp(argv[i], "--set") == 0) {
            i++;
            continue;
        }
        if (argv[i][0] != '-') {
            at = i;
            break;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            break;
    }
    if (at < 0) {
        FILE *f = at < 0 && argc > 0 ? stdout : stderr;
        fprintf(f, "usage: junco events <subcommand> [options]\n\nThe event log "
                   "(<home>/events, or Kafka with events.backend=kafka).\n\nsubcommands:\n");
        for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++)
            fprintf(f, "  %-15s %s\n", subs[k].name, subs[k].summary);
        fprintf(f, "\nRun `junco events <subcommand> --help` for its options.\n");
        return argc > 0 ? JC_EXIT_OK : JC_EXIT_USAGE;
    }
    for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
        if (strcmp(argv[at], subs[k].name) == 0) {
            for (int i = at; i + 1 < argc; i++)
                argv[i] = argv[i + 1];
            return subs[k].run(cli, argc - 1, argv);
        }
    }
    return jc_cli_usage("events", "unknown subcommand '%s'", argv[at]);
}
