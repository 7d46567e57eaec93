/*
 * import.c - import driver, shared helpers, and the generic CSV/TSV/JSONL
 * interaction importers. MovieLens formats live in import_ml.c.
 *
 * The driver builds everything in a jc_catalog_builder and writes the
 * catalog only after the whole source was read without a fatal error, so a
 * failed import leaves the previous catalog file untouched.
 */
#include "import_int.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/timeutil.h"
#include <junco/error.h>

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void jc_import_opts_default(struct jc_import_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = "auto";
    o->max_errors_shown = 10;
    o->default_event_type = "rating";
}

void jc_import_result_free(struct jc_import_result *res)
{
    for (uint32_t i = 0; i < res->n_messages; i++)
        jc_free(res->messages[i]);
    jc_free(res->messages);
    res->messages = NULL;
    res->n_messages = 0;
}

int jc_import__bad(struct jc_import_ctx *c, uint64_t line, const char *fmt, ...)
{
    char reason[512], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s:%llu: %s", c->path, (unsigned long long)line, reason);
    if (!c->o->skip_bad)
        return jc_err_set(JC_EPARSE, "%s", msg);
    c->res->bad_rows++;
    if (c->fs)
        c->fs->bad++;
    if (c->res->n_messages < c->o->max_errors_shown) {
        char **m = jc_realloc_array(c->res->messages, c->res->n_messages + 1, sizeof *m);
        if (m == NULL)
            return JC_ENOMEM;
        c->res->messages = m;
        m[c->res->n_messages] = jc_strdup(msg);
        if (m[c->res->n_messages] == NULL)
            return JC_ENOMEM;
        c->res->n_messages++;
    }
    return JC_IMPORT_SKIPPED;
}

int jc_import__row_error(struct jc_import_ctx *c, uint64_t line, int rc)
{
    if (rc == JC_ENOMEM || rc == JC_ELIMIT)
        return rc;
    char reason[512];
    snprintf(reason, sizeof reason, "%s", jc_errmsg());
    return jc_import__bad(c, line, "%s", reason);
}

int jc_import__open_file(struct jc_import_ctx *c, const char *path, struct jc_map *m)
{
    int rc = jc_map_open(m, path);
    if (rc)
        return rc;
    c->path = path;
    if (c->res->n_files < JC_IMPORT_MAX_FILES) {
        c->fs = &c->res->files[c->res->n_files++];
        const char *base = strrchr(path, '/');
        snprintf(c->fs->name, sizeof c->fs->name, "%s", base ? base + 1 : path);
        c->fs->bytes = m->size;
    } else {
        c->fs = NULL;
    }
    c->res->bytes_read += m->size;
    return JC_OK;
}

void jc_import__close_file(struct jc_import_ctx *c, struct jc_map *m)
{
    c->bytes_done += m->size;
    jc_map_close(m);
}

int jc_import__progress(struct jc_import_ctx *c, struct jc_map *m, uint64_t file_offset)
{
    jc_map_release(m, (size_t)file_offset);
    const char *stage = c->fs ? c->fs->name : "import";
    if (jc_progress_report(&c->o->progress, stage, c->bytes_done + file_offset, c->bytes_total,
                           "bytes", NULL))
        return jc_err_set(JC_ECANCELED, "import canceled");
    return JC_OK;
}

int jc_import__user(struct jc_import_ctx *c, const char *ext, size_t n, uint32_t *id)
{
    if (c->last_user_valid && n == c->last_user_n && memcmp(ext, c->last_user, n) == 0) {
        *id = c->last_user_id;
        return JC_OK;
    }
    int created;
    int rc = jc_cb_user(c->b, ext, n, id, &created);
    if (rc)
        return rc;
    if (created)
        c->res->users_added++;
    if (n <= sizeof c->last_user) {
        memcpy(c->last_user, ext, n);
        c->last_user_n = n;
        c->last_user_id = *id;
        c->last_user_valid = 1;
    } else {
        c->last_user_valid = 0;
    }
    return JC_OK;
}

int32_t jc_import__year_from_title(const char *t, size_t n)
{
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n < 6 || t[n - 1] != ')')
        return JC_NO_YEAR;
    const char *open = NULL;
    for (size_t i = n - 1; i > 0; i--) {
        if (t[i - 1] == '(') {
            open = t + i - 1;
            break;
        }
    }
    if (open == NULL || (size_t)(t + n - open) < 6)
        return JC_NO_YEAR;
    int32_t y = 0;
    for (int k = 1; k <= 4; k++) {
        char ch = open[k];
        if (ch < '0' || ch > '9')
            return JC_NO_YEAR;
        y = y * 10 + (ch - '0');
    }
    char after = open[5];
    /* "(1995)" or a range "(2006-2007)" / "(2006–2007)" / "(2006- )" */
    if (after != ')' && after != '-' && (unsigned char)after != 0xe2)
        return JC_NO_YEAR;
    return y >= 1800 && y <= 2200 ? y : JC_NO_YEAR;
}

/* ---- generic delimited interactions ----------------------------------- */

enum role { R_USER, R_ITEM, R_VALUE, R_TIME, R_TYPE, R__COUNT };

static const char *const role_names[R__COUNT] = {"user", "item", "value", "time", "type"};

static const char *const role_aliases[R__COUNT][8] = {
    {"user", "userId", "user_id", "userid", "uid", "UserID", NULL},
    {"item", "itemId", "item_id", "itemid", "movieId", "movie_id", "iid", NULL},
    {"value", "rating", "score", "weight", "Rating", NULL},
    {"time", "timestamp", "ts", "Timestamp", "datetime", "date", NULL},
    {"type", "event", "event_type", "eventType", "action", NULL},
};

static int is_index(const char *s, uint32_t *idx)
{
    return s != NULL && jc_parse_u32(s, strlen(s), idx) == JC_OK;
}

static char detect_sep(const char *data, size_t len, const char *path)
{
    size_t n = strlen(path);
    if (n > 4 && strcasecmp(path + n - 4, ".tsv") == 0)
        return '\t';
    const char *nl = memchr(data, '\n', len);
    size_t line = nl ? (size_t)(nl - data) : len;
    const char cand[] = {',', '\t', ';', '|'};
    size_t best = 0;
    char sep = ',';
    for (size_t k = 0; k < sizeof cand; k++) {
        size_t cnt = 0;
        for (size_t i = 0; i < line; i++)
            cnt += data[i] == cand[k];
        if (cnt > best) {
            best = cnt;
            sep = cand[k];
        }
    }
    return sep;
}

/* Adds one interaction from textual fields (NULL field = absent). */
static int add_generic(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f)
{
    const struct jc_csv_field *fu = &f[R_USER], *fi = &f[R_ITEM];
    if (fu->n == 0)
        return jc_import__bad(c, line, "empty user id");
    if (fi->n == 0)
        return jc_import__bad(c, line, "empty item id");
    float value = 1.0f;
    if (f[R_VALUE].p) {
        if (jc_parse_f32(f[R_VALUE].p, f[R_VALUE].n, &value))
            return jc_import__bad(c, line, "value '%.*s' is not a number", (int)f[R_VALUE].n,
                                  f[R_VALUE].p);
    }
    int64_t ts = 0;
    if (f[R_TIME].p) {
        if (jc_parse_timestamp(f[R_TIME].p, f[R_TIME].n, &ts))
            return jc_import__bad(c, line, "timestamp '%.*s' is not a Unix time or ISO date",
                                  (int)f[R_TIME].n, f[R_TIME].p);
    }
    uint8_t type = c->default_type;
    int rc;
    if (f[R_TYPE].p && f[R_TYPE].n > 0) {
        rc = jc_cb_event_type(c->b, f[R_TYPE].p, f[R_TYPE].n, &type);
        if (rc)
            return jc_import__row_error(c, line, rc);
    }
    uint32_t u, i;
    int created;
    rc = jc_import__user(c, fu->p, fu->n, &u);
    if (rc)
        return jc_import__row_error(c, line, rc);
    rc = jc_cb_item(c->b, fi->p, fi->n, &i, &created);
    if (rc)
        return jc_import__row_error(c, line, rc);
    c->res->items_added += (uint32_t)created;
    rc = jc_cb_add_interaction(c->b, u, i, value, ts, type);
    if (rc)
        return rc;
    c->res->interactions_added++;
    return JC_OK;
}

static int import_csv(struct jc_import_ctx *c, const char *path)
{
    struct jc_map m;
    int rc = jc_import__open_file(c, path, &m);
    if (rc)
        return rc;
    struct jc_csv r;
    char sep = m.size ? detect_sep(m.data, m.size, path) : ',';
    jc_csv_init(&r, m.data, m.size, sep, 1);
    const struct jc_import_opts *o = c->o;
    const char *spec[R__COUNT] = {o->col_user, o->col_item, o->col_value, o->col_time, o->col_type};
    int col[R__COUNT];
    uint32_t idx;
    int all_index = spec[R_USER] && spec[R_ITEM];
    for (int k = 0; k < R__COUNT; k++)
        if (spec[k] && !is_index(spec[k], &idx))
            all_index = 0;
    rc = jc_csv_next(&r);
    if (rc <= 0) {
        if (rc == 0)
            rc = jc_err_set(JC_EPARSE, "%s: empty file", path);
        else
            rc = jc_err_prefix(rc, "%s", path);
        goto out;
    }
    int has_header = 1;
    if (all_index) {
        /* Mapped by position: the first row is data unless a mapped
         * numeric column fails to parse as a number. */
        has_header = 0;
        for (int k = R_VALUE; k <= R_TIME; k++) {
            if (spec[k] && is_index(spec[k], &idx) && idx < r.n_fields) {
                double d;
                if (jc_parse_f64(r.f[idx].p, r.f[idx].n, &d))
                    has_header = 1;
            }
        }
    }
    for (int k = 0; k < R__COUNT; k++) {
        col[k] = -1;
        if (spec[k] && is_index(spec[k], &idx)) {
            col[k] = (int)idx;
        } else if (spec[k]) {
            col[k] = has_header ? jc_csv_find_field(&r, spec[k]) : -1;
            if (col[k] < 0) {
                char names[256];
                size_t len = 0;
                names[0] = '\0';
                for (size_t i = 0; i < r.n_fields && len + 4 < sizeof names; i++) {
                    int w = snprintf(names + len, sizeof names - len, "%s%.*s", i ? ", " : "",
                                     (int)r.f[i].n, r.f[i].p);
                    len = w < 0                                ? len
                          : len + (size_t)w > sizeof names - 1 ? sizeof names - 1
                                                               : len + (size_t)w;
                }
                rc = jc_err_set(JC_EINVAL, "%s: no column named '%s' for the %s (columns: %s)",
                                path, spec[k], role_names[k], names);
                goto out;
            }
        } else if (has_header) {
            for (int a = 0; role_aliases[k][a] && col[k] < 0; a++)
                col[k] = jc_csv_find_field(&r, role_aliases[k][a]);
        }
    }
    if (col[R_USER] < 0 || col[R_ITEM] < 0) {
        rc = jc_err_set(JC_EINVAL,
                        "%s: cannot tell which columns hold the %s; name them with "
                        "--map user=COL,item=COL",
                        path, col[R_USER] < 0 ? "user ids" : "item ids");
        goto out;
    }
    int max_col = 0;
    for (int k = 0; k < R__COUNT; k++)
        if (col[k] > max_col)
            max_col = col[k];
    int first_is_data = !has_header;
    for (;;) {
        if (!first_is_data) {
            rc = jc_csv_next(&r);
            if (rc == 0)
                break;
            if (rc < 0) {
                if (rc == JC_ENOMEM)
                    goto out;
                char reason[512];
                snprintf(reason, sizeof reason, "%s", jc_errmsg());
                const char *msg = strstr(reason, ": ");
                rc = jc_import__bad(c, r.record_line, "%s", msg ? msg + 2 : reason);
                if (rc < 0)
                    goto out;
                continue;
            }
        }
        first_is_data = 0;
        c->res->rows++;
        if (c->fs)
            c->fs->rows++;
        if ((int)r.n_fields <= max_col) {
            rc = jc_import__bad(c, r.record_line, "expected at least %d fields, found %zu",
                                max_col + 1, r.n_fields);
            if (rc < 0)
                goto out;
            continue;
        }
        struct jc_csv_field f[R__COUNT];
        for (int k = 0; k < R__COUNT; k++) {
            if (col[k] >= 0) {
                f[k] = r.f[col[k]];
                jc_trim(&f[k].p, &f[k].n);
            } else {
                f[k].p = NULL;
                f[k].n = 0;
            }
        }
        rc = add_generic(c, r.record_line, f);
        if (rc < 0)
            goto out;
        if (++c->rows_since_report >= 65536) {
            c->rows_since_report = 0;
            if ((rc = jc_import__progress(c, &m, jc_csv_offset(&r))))
                goto out;
        }
    }
    rc = JC_OK;
out:
    if (rc > 0)
        rc = JC_OK;
    jc_csv_free(&r);
    jc_import__close_file(c, &m);
    return rc;
}

/* Copies a JSON scalar into text: strings as is, integral numbers without a
 * fraction. Returns 0 or -1 for other types. */
static int json_scalar(const cJSON *v, char *buf, size_t cap, struct jc_csv_field *out)
{
    if (cJSON_IsString(v)) {
        out->p = v->valuestring;
        out->n = strlen(v->valuestring);
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        int n;
        if (d == (double)(int64_t)d && d > -9e18 && d < 9e18)
            n = snprintf(buf, cap, "%lld", (long long)d);
        else
            n = snprintf(buf, cap, "%.17g", d);
        out->p = buf;
        out->n = (size_t)n;
        return 0;
    }
    return -1;
}

static int import_jsonl(struct jc_import_ctx *c, const char *path)
{
    struct jc_map m;
    int rc = jc_import__open_file(c, path, &m);
    if (rc)
        return rc;
    const struct jc_import_opts *o = c->o;
    const char *spec[R__COUNT] = {o->col_user, o->col_item, o->col_value, o->col_time, o->col_type};
    const char *p = m.data, *end = p ? p + m.size : NULL;
    uint64_t line = 0;
    rc = JC_OK;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *s = p;
        p = nl ? nl + 1 : end;
        while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s == le)
            continue;
        c->res->rows++;
        if (c->fs)
            c->fs->rows++;
        cJSON *obj = cJSON_ParseWithLength(s, (size_t)(le - s));
        if (obj == NULL || !cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            if ((rc = jc_import__bad(c, line, "not a JSON object")) < 0)
                break;
            continue;
        }
        struct jc_csv_field f[R__COUNT];
        char bufs[R__COUNT][40];
        int bad = -1;
        for (int k = 0; k < R__COUNT; k++) {
            const cJSON *v = NULL;
            if (spec[k]) {
                v = cJSON_GetObjectItemCaseSensitive(obj, spec[k]);
            } else {
                for (int a = 0; role_aliases[k][a] && v == NULL; a++)
                    v = cJSON_GetObjectItemCaseSensitive(obj, role_aliases[k][a]);
            }
            f[k].p = NULL;
            f[k].n = 0;
            if (v == NULL || cJSON_IsNull(v)) {
                if (k <= R_ITEM)
                    bad = k;
                continue;
            }
            if (json_scalar(v, bufs[k], sizeof bufs[k], &f[k]))
                bad = k;
        }
        if (bad >= 0) {
            cJSON_Delete(obj);
            rc = jc_import__bad(c, line, "missing or non-scalar \"%s\" field",
                                spec[bad] ? spec[bad] : role_names[bad]);
            if (rc < 0)
                break;
            continue;
        }
        rc = add_generic(c, line, f);
        cJSON_Delete(obj);
        if (rc < 0)
            break;
        if (++c->rows_since_report >= 65536) {
            c->rows_since_report = 0;
            if ((rc = jc_import__progress(c, &m, (uint64_t)(p - (const char *)m.data))))
                break;
        }
    }
    jc_import__close_file(c, &m);
    return rc < 0 ? rc : JC_OK;
}

/* ---- driver ------------------------------------------------------------ */

static int has_file(const char *dir, const char *name)
{
    char path[4096];
    return jc_path_join(path, sizeof path, dir, name) == JC_OK && jc_path_exists(path) &&
           !jc_is_dir(path);
}

int jc_import_detect(const char *src, const char **format)
{
    if (jc_is_dir(src)) {
        if (has_file(src, "ratings.csv") || has_file(src, "movies.csv"))
            *format = "ml-latest";
        else if (has_file(src, "u.data"))
            *format = "ml-100k";
        else if (has_file(src, "ratings.dat"))
            *format = "ml-1m";
        else
            return jc_err_set(JC_EINVAL,
                              "%s: no known data files (expected ratings.csv, u.data or "
                              "ratings.dat); name the format with --format",
                              src);
        return JC_OK;
    }
    if (!jc_path_exists(src))
        return jc_err_set(JC_ENOTFOUND, "%s: no such file or directory", src);
    size_t n = strlen(src);
    if ((n > 6 && strcasecmp(src + n - 6, ".jsonl") == 0) ||
        (n > 7 && strcasecmp(src + n - 7, ".ndjson") == 0) ||
        (n > 5 && strcasecmp(src + n - 5, ".json") == 0))
        *format = "jsonl";
    else
        *format = "csv";
    return JC_OK;
}

static uint64_t file_size_of(const char *path)
{
    struct jc_map m;
    if (jc_map_open(&m, path) != JC_OK) {
        jc_err_clear();
        return 0;
    }
    uint64_t n = m.size;
    jc_map_close(&m);
    return n;
}

static uint64_t dir_bytes(const char *dir, const char *const *names)
{
    uint64_t total = 0;
    for (int i = 0; names[i]; i++) {
        char path[4096];
        if (jc_path_join(path, sizeof path, dir, names[i]) == JC_OK && jc_path_exists(path))
            total += file_size_of(path);
    }
    return total;
}

int jc_import(const char *src, const char *catalog_path, const struct jc_import_opts *opts,
              struct jc_import_result *res)
{
    struct jc_import_opts defaults;
    if (opts == NULL) {
        jc_import_opts_default(&defaults);
        opts = &defaults;
    }
    memset(res, 0, sizeof *res);
    uint64_t t0 = jc_now_ns();
    const char *format = opts->format ? opts->format : "auto";
    int rc;
    if (strcmp(format, "auto") == 0) {
        rc = jc_import_detect(src, &format);
        if (rc)
            return rc;
    }
    int is_dir_format = strncmp(format, "ml-", 3) == 0;
    if (is_dir_format && !jc_is_dir(src))
        return jc_err_set(jc_path_exists(src) ? JC_EINVAL : JC_ENOTFOUND,
                          "%s: format %s expects a directory of MovieLens files", src, format);
    if (!is_dir_format && strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0)
        return jc_err_set(JC_EINVAL,
                          "unknown format '%s' (auto, ml-latest, ml-100k, ml-1m, "
                          "csv, jsonl)",
                          format);
    if (!is_dir_format && (!jc_path_exists(src) || jc_is_dir(src)))
        return jc_err_set(JC_ENOTFOUND, "%s: no such file", src);
    snprintf(res->format, sizeof res->format, "%s", format);

    struct jc_import_ctx c;
    memset(&c, 0, sizeof c);
    c.o = opts;
    c.res = res;
    jc_buf_init(&c.tmp, 1u << 20);
    if (opts->append && jc_path_exists(catalog_path)) {
        struct jc_catalog *old;
        rc = jc_catalog_open(&old, catalog_path);
        if (rc)
            return jc_err_prefix(rc, "cannot append");
        rc = jc_catalog_builder_from_catalog(&c.b, old);
        jc_catalog_close(old);
    } else {
        rc = jc_catalog_builder_create(&c.b);
    }
    if (rc)
        return rc;
    const char *def_type = opts->default_event_type ? opts->default_event_type : "rating";
    rc = jc_cb_event_type(c.b, def_type, strlen(def_type), &c.default_type);
    if (rc)
        goto out;

    if (strcmp(format, "ml-latest") == 0) {
        static const char *const f[] = {"movies.csv", "links.csv", "ratings.csv", "tags.csv", NULL};
        c.bytes_total = dir_bytes(src, f);
        rc = jc_import__ml_latest(&c, src);
    } else if (strcmp(format, "ml-100k") == 0) {
        static const char *const f[] = {"u.item", "u.user", "u.data", "u.genre", NULL};
        c.bytes_total = dir_bytes(src, f);
        rc = jc_import__ml_100k(&c, src);
    } else if (strcmp(format, "ml-1m") == 0) {
        static const char *const f[] = {"movies.dat", "users.dat", "ratings.dat", NULL};
        c.bytes_total = dir_bytes(src, f);
        rc = jc_import__ml_1m(&c, src);
    } else if (strcmp(format, "csv") == 0) {
        c.bytes_total = file_size_of(src);
        rc = import_csv(&c, src);
    } else {
        c.bytes_total = file_size_of(src);
        rc = import_jsonl(&c, src);
    }
    if (rc)
        goto out;
    res->n_items = jc_cb_n_items(c.b);
    res->n_users = jc_cb_n_users(c.b);
    res->n_interactions = jc_cb_n_interactions(c.b);
    JC_INFO("import: read %llu rows in %.2f s", (unsigned long long)res->rows,
            (double)(jc_now_ns() - t0) * 1e-9);
    rc = jc_catalog_builder_write(c.b, catalog_path, &opts->progress);
    res->seconds = (double)(jc_now_ns() - t0) * 1e-9;
out:
    jc_buf_free(&c.tmp);
    jc_catalog_builder_destroy(c.b);
    return rc;
}
