/*
 * cmd_import.c - `junco import SRC`: MovieLens releases and generic
 * CSV/TSV/JSONL interaction files into <home>/catalog/catalog.jcat.
 */
#include "cli.h"

#include "core/buf.h"
#include "core/json.h"
#include <junco/error.h>
#include <junco/eventlog.h>
#include <junco/import.h>

#include <stdio.h>
#include <string.h>

/* Parses "user=COL,item=COL,..." into the import options. */
static int parse_map(const char *spec, struct jc_import_opts *o, char *storage, size_t cap)
{
    size_t n = strlen(spec);
    if (n + 1 > cap)
        return jc_cli_usage("import", "--map is too long");
    memcpy(storage, spec, n + 1);
    char *p = storage;
    while (*p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *eq = strchr(p, '=');
        if (eq == NULL || eq[1] == '\0')
            return jc_cli_usage("import", "--map expects ROLE=COLUMN pairs, got '%s'", p);
        *eq = '\0';
        const char *col = eq + 1;
        if (strcmp(p, "user") == 0)
            o->col_user = col;
        else if (strcmp(p, "item") == 0)
            o->col_item = col;
        else if (strcmp(p, "value") == 0)
            o->col_value = col;
        else if (strcmp(p, "time") == 0)
            o->col_time = col;
        else if (strcmp(p, "type") == 0)
            o->col_type = col;
        else
            return jc_cli_usage("import",
                                "--map: unknown role '%s' (user, item, value, time, "
                                "type)",
                                p);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

static void print_json(const struct jc_import_result *r, const char *src)
{
    struct jc_buf b;
    struct jc_json j;
    jc_buf_init(&b, 0);
    jc_json_init(&j, &b, 1);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "source", src);
    jc_json_kv_str(&j, "format", r->format);
    jc_json_kv_int(&j, "rows", (int64_t)r->rows);
    jc_json_kv_int(&j, "bad_rows", (int64_t)r->bad_rows);
    jc_json_kv_int(&j, "items_added", r->items_added);
    jc_json_kv_int(&j, "users_added", r->users_added);
    jc_json_kv_int(&j, "interactions_added", (int64_t)r->interactions_added);
    jc_json_kv_int(&j, "tags_added", (int64_t)r->tags_added);
    jc_json_kv_int(&j, "items", r->n_items);
    jc_json_kv_int(&j, "users", r->n_users);
    jc_json_kv_int(&j, "interactions", (int64_t)r->n_interactions);
    jc_json_kv_int(&j, "bytes", (int64_t)r->bytes_read);
    jc_json_kv_double(&j, "seconds", r->seconds);
    jc_json_key(&j, "files");
    jc_json_arr_begin(&j);
    for (uint32_t i = 0; i < r->n_files; i++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", r->files[i].name);
        jc_json_kv_int(&j, "bytes", (int64_t)r->files[i].bytes);
        jc_json_kv_int(&j, "rows", (int64_t)r->files[i].rows);
        jc_json_kv_int(&j, "bad_rows", (int64_t)r->files[i].bad);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_key(&j, "errors");
    jc_json_arr_begin(&j);
    for (uint32_t i = 0; i < r->n_messages; i++)
        jc_json_str(&j, r->messages[i]);
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    if (jc_json_finish(&j) == JC_OK)
        fwrite(b.data, 1, b.len, stdout);
    jc_buf_free(&b);
}

/* --to-log: the new catalog's interactions into the event log
 * (jc_eventlog_replay_catalog), for the nearline worker. */
static int replay_to_log(struct jc_cli *cli, const char *cat_path, int json)
{
    char dir[4096];
    struct jc_catalog *cat = NULL;
    struct jc_eventlog *log = NULL;
    struct jc_eventlog_config c;
    uint64_t n = 0;
    int rc = jc_cli_path(cli, "events", dir, sizeof dir);
    if (rc == JC_OK)
        rc = jc_catalog_open(&cat, cat_path);
    if (rc == JC_OK) {
        jc_eventlog_config_from_settings(&c, &cli->cfg, dir);
        rc = jc_eventlog_open(&log, &c);
    }
    if (rc == JC_OK)
        rc = jc_eventlog_replay_catalog(log, cat, 0, &cli->progress, &n);
    jc_cli_progress_done(cli);
    if (rc)
        rc = jc_cli_fail(rc);
    else if (!json)
        printf("event log %s: %llu interactions appended\n", dir, (unsigned long long)n);
    jc_eventlog_close(log);
    jc_catalog_close(cat);
    return rc;
}

int jc_cmd_import(struct jc_cli *cli, int argc, char **argv)
{
    const char *format = NULL, *map = NULL;
    int skip_bad = 0, append = 0, json = 0, to_log = 0;
    const struct jc_opt opts[] = {
        {"format", 'f', JC_OPT_STR, &format, "FMT",
         "auto|ml-latest|ml-100k|ml-1m|csv|jsonl (default: import.format)", NULL},
        {"map", 0, JC_OPT_STR, &map, "ROLE=COL,...",
         "columns for csv/jsonl: user=,item=,value=,time=,type= (name or 0-based index)", NULL},
        {"skip-bad", 0, JC_OPT_FLAG, &skip_bad, NULL,
         "skip malformed rows (counted and reported) instead of failing", NULL},
        {"append", 0, JC_OPT_FLAG, &append, NULL, "add to the existing catalog", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "print the result as JSON", NULL},
        {"to-log", 0, JC_OPT_FLAG, &to_log, NULL,
         "also append the catalog's interactions to the event log, in time order", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int n_pos = 0;
    int rc = jc_cli_parse(cli, "import", "[options] SRC",
                          "Reads SRC (a MovieLens directory, or a CSV/TSV/JSONL file of\n"
                          "interactions) into the catalog of the data home. The catalog is\n"
                          "replaced atomically, and only if the whole import succeeds.",
                          opts, argc, argv, pos, 1, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos != 1)
        return jc_cli_usage("import", "expected one source (a directory or a file)");
    if (to_log && append)
        return jc_cli_usage("import", "--to-log replays the whole catalog; it cannot be "
                                      "combined with --append");
    struct jc_import_opts io;
    jc_import_opts_default(&io);
    io.format = format ? format : cli->cfg.import_format;
    io.skip_bad = skip_bad || cli->cfg.import_skip_bad;
    io.append = append;
    io.max_errors_shown = (uint32_t)cli->cfg.import_max_errors_shown;
    io.default_event_type = cli->cfg.import_event_type;
    io.progress = cli->progress;
    char map_storage[512];
    if (map && (rc = parse_map(map, &io, map_storage, sizeof map_storage)))
        return rc;
    static const char *const formats[] = {"auto", "ml-latest", "ml-100k", "ml-1m", "csv", "jsonl"};
    int known = 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        known |= strcmp(io.format, formats[i]) == 0;
    if (!known)
        return jc_cli_usage("import", "unknown format '%s'", io.format);
    if ((rc = jc_cli_ensure_home(cli, "catalog")))
        return jc_cli_fail(rc);
    char path[4096];
    if ((rc = jc_cli_path(cli, "catalog/catalog.jcat", path, sizeof path)))
        return jc_cli_fail(rc);
    struct jc_import_result res;
    rc = jc_import(pos[0], path, &io, &res);
    jc_cli_progress_done(cli);
    if (rc) {
        jc_import_result_free(&res);
        return jc_cli_fail(rc);
    }
    if (json) {
        print_json(&res, pos[0]);
    } else {
        printf("imported %s (%s): %llu rows in %.2f s (%.1f MB/s)\n", pos[0], res.format,
               (unsigned long long)res.rows, res.seconds,
               res.seconds > 0 ? (double)res.bytes_read / 1e6 / res.seconds : 0.0);
        printf("catalog %s: %u items (+%u), %u users (+%u), %llu interactions (+%llu), "
               "%llu tags added\n",
               path, res.n_items, res.items_added, res.n_users, res.users_added,
               (unsigned long long)res.n_interactions, (unsigned long long)res.interactions_added,
               (unsigned long long)res.tags_added);
    }
    if (res.bad_rows > 0 && !cli->quiet) {
        fprintf(stderr, "junco: skipped %llu bad row(s)%s\n", (unsigned long long)res.bad_rows,
                res.n_messages ? ":" : "");
        for (uint32_t i = 0; i < res.n_messages; i++)
            fprintf(stderr, "  %s\n", res.messages[i]);
        if (res.bad_rows > res.n_messages)
            fprintf(stderr, "  ... and %llu more\n",
                    (unsigned long long)(res.bad_rows - res.n_messages));
    }
    jc_import_result_free(&res);
    if (to_log)
        return replay_to_log(cli, path, json);
    return JC_EXIT_OK;
}
