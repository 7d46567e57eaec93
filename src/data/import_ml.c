/*
 * import_ml.c - the MovieLens releases: latest / 20M / 25M (CSV), 100K
 * (u.data, u.item, u.user, u.genre) and 1M (*.dat with "::").
 *
 * Items are created from the movie list first so that internal ids follow
 * the release's movie order; users are created in order of first rating.
 * The 100K and 1M files are Latin-1: a text field that is not valid UTF-8 is
 * decoded as Latin-1 (a field that already is UTF-8 is kept, so re-encoded
 * copies of those releases import the same).
 */
#include "import_int.h"

#include "core/alloc.h"
#include "core/parse.h"
#include "core/utf8.h"
#include <junco/error.h>

#include <stdio.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static int path_in(char *out, size_t cap, const char *dir, const char *name)
{
    return jc_path_join(out, cap, dir, name);
}

/* Text of a legacy (Latin-1) field as UTF-8, in c->tmp. */
static int legacy_text(struct jc_import_ctx *c, const char *s, size_t n, const char **out,
                       size_t *out_n)
{
    if (jc_utf8_valid(s, n, NULL)) {
        *out = s;
        *out_n = n;
        return JC_OK;
    }
    jc_buf_reset(&c->tmp);
    int rc = jc_latin1_to_utf8(&c->tmp, s, n);
    if (rc)
        return rc;
    *out = c->tmp.data;
    *out_n = c->tmp.len;
    return JC_OK;
}

static int add_title(struct jc_import_ctx *c, uint64_t line, uint32_t item, const char *t, size_t n)
{
    jc_trim(&t, &n);
    int rc = jc_cb_item_set_title(c->b, item, t, n);
    if (rc)
        return jc_import__row_error(c, line, rc);
    return jc_cb_item_set_year(c->b, item, jc_import__year_from_title(t, n));
}

/* Genres separated by '|'; "(no genres listed)" means none. */
static int add_genres(struct jc_import_ctx *c, uint64_t line, uint32_t item, const char *g,
                      size_t n)
{
    int rc = jc_cb_item_clear_genres(c->b, item);
    if (rc)
        return rc;
    jc_trim(&g, &n);
    if (n == 0 || (n == 18 && memcmp(g, "(no genres listed)", 18) == 0))
        return JC_OK;
    const char *end = g + n;
    while (g < end) {
        const char *bar = memchr(g, '|', (size_t)(end - g));
        const char *e = bar ? bar : end;
        const char *s = g;
        size_t len = (size_t)(e - g);
        jc_trim(&s, &len);
        if (len > 0) {
            rc = jc_cb_item_add_genre(c->b, item, s, len);
            if (rc)
                return jc_import__row_error(c, line, rc);
        }
        g = bar ? bar + 1 : end;
    }
    return JC_OK;
}

/* Returns JC_OK, JC_IMPORT_SKIPPED or an error. */
static int new_item(struct jc_import_ctx *c, uint64_t line, const char *id, size_t n,
                    uint32_t *item)
{
    int created;
    int rc = jc_cb_item(c->b, id, n, item, &created);
    if (rc)
        return jc_import__row_error(c, line, rc);
    c->res->items_added += (uint32_t)created;
    return JC_OK;
}

static void count_row(struct jc_import_ctx *c)
{
    c->res->rows++;
    if (c->fs)
        c->fs->rows++;
}

/* A record error from the CSV reader becomes a bad row (or the failure). */
static int csv_error(struct jc_import_ctx *c, struct jc_csv *r, int rc)
{
    if (rc == JC_ENOMEM)
        return rc;
    char reason[512];
    snprintf(reason, sizeof reason, "%s", jc_errmsg());
    const char *msg = strstr(reason, ": ");
    return jc_import__bad(c, r->record_line, "%s", msg ? msg + 2 : reason);
}

/* Column indexes from a header row; a missing header (first field numeric)
 * means the default order. Returns 1 if the current record was a header. */
static int header_columns(struct jc_csv *r, const char *const *names, int n, int *col)
{
    int64_t tmp;
    if (r->n_fields > 0 && jc_parse_i64(r->f[0].p, r->f[0].n, &tmp) == JC_OK) {
        for (int k = 0; k < n; k++)
            col[k] = k;
        return 0;
    }
    for (int k = 0; k < n; k++) {
        col[k] = jc_csv_find_field(r, names[k]);
        if (col[k] < 0)
            col[k] = k;
    }
    return 1;
}

typedef int (*row_fn)(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f);

/* Reads a MovieLens CSV file; calls fn with fields in `names` order. */
static int read_ml_csv(struct jc_import_ctx *c, const char *dir, const char *file,
                       const char *const *names, int n_names, int required, row_fn fn)
{
    char path[4096];
    int rc = path_in(path, sizeof path, dir, file);
    if (rc)
        return rc;
    if (!jc_path_exists(path))
        return required ? jc_err_set(JC_ENOTFOUND, "%s: no such file", path) : JC_OK;
    struct jc_map m;
    rc = jc_import__open_file(c, path, &m);
    if (rc)
        return rc;
    struct jc_csv r;
    jc_csv_init(&r, m.data, m.size, ',', 1);
    int col[8];
    int have_cols = 0, pending = 0;
    for (;;) {
        if (!pending) {
            rc = jc_csv_next(&r);
            if (rc == 0)
                break;
            if (rc < 0) {
                if ((rc = csv_error(c, &r, rc)) < 0)
                    break;
                continue;
            }
        }
        pending = 0;
        if (!have_cols) {
            have_cols = 1;
            if (!header_columns(&r, names, n_names, col))
                pending = 1; /* no header: this record is data */
            continue;
        }
        count_row(c);
        struct jc_csv_field f[8];
        int ok = 1;
        for (int k = 0; k < n_names; k++) {
            if ((size_t)col[k] >= r.n_fields) {
                ok = 0;
                break;
            }
            f[k] = r.f[col[k]];
        }
        if (!ok) {
            if ((rc = jc_import__bad(c, r.record_line, "expected %d fields, found %zu", n_names,
                                     r.n_fields)) < 0)
                break;
            continue;
        }
        if ((rc = fn(c, r.record_line, f)) < 0)
            break;
        if (++c->rows_since_report >= 65536) {
            c->rows_since_report = 0;
            if ((rc = jc_import__progress(c, &m, jc_csv_offset(&r))))
                break;
        }
    }
    jc_csv_free(&r);
    jc_import__close_file(c, &m);
    return rc < 0 ? rc : JC_OK;
}

/* ---- shared row handlers ------------------------------------------------ */

static int rating_row(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f)
{
    if (f[0].n == 0)
        return jc_import__bad(c, line, "empty user id");
    if (f[1].n == 0)
        return jc_import__bad(c, line, "empty movie id");
    float v;
    int64_t ts;
    if (jc_parse_f32(f[2].p, f[2].n, &v) || !(v >= 0.0f && v <= 5.0f))
        return jc_import__bad(c, line, "rating '%.*s' is not a number in [0, 5]", (int)f[2].n,
                              f[2].p);
    if (jc_parse_i64(f[3].p, f[3].n, &ts))
        return jc_import__bad(c, line, "timestamp '%.*s' is not an integer", (int)f[3].n, f[3].p);
    uint32_t u, i;
    int rc = jc_import__user(c, f[0].p, f[0].n, &u);
    if (rc)
        return jc_import__row_error(c, line, rc);
    if ((rc = new_item(c, line, f[1].p, f[1].n, &i)))
        return rc;
    rc = jc_cb_add_interaction(c->b, u, i, v, ts, c->default_type);
    if (rc == JC_OK)
        c->res->interactions_added++;
    return rc;
}

/* ---- ml-latest (also 20M / 25M / 32M) ---------------------------------- */

static int latest_movie_row(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f)
{
    if (f[0].n == 0)
        return jc_import__bad(c, line, "empty movieId");
    uint32_t item;
    int rc = new_item(c, line, f[0].p, f[0].n, &item);
    if (rc == JC_OK)
        rc = add_title(c, line, item, f[1].p, f[1].n);
    if (rc == JC_OK)
        rc = add_genres(c, line, item, f[2].p, f[2].n);
    return rc;
}

static int latest_link_row(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f)
{
    uint32_t item;
    if (!jc_cb_find_item(c->b, f[0].p, f[0].n, &item))
        return jc_import__bad(c, line, "movie '%.*s' is not in movies.csv", (int)f[0].n, f[0].p);
    int rc = JC_OK;
    if (f[1].n > 0)
        rc = jc_cb_set_attr_str(c->b, JC_ENT_ITEM, item, "imdbId", f[1].p, f[1].n);
    if (rc == JC_OK && f[2].n > 0)
        rc = jc_cb_set_attr_str(c->b, JC_ENT_ITEM, item, "tmdbId", f[2].p, f[2].n);
    return rc ? jc_import__row_error(c, line, rc) : JC_OK;
}

static int latest_tag_row(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f)
{
    int64_t ts;
    if (f[0].n == 0 || f[1].n == 0)
        return jc_import__bad(c, line, "empty user or movie id");
    if (jc_parse_i64(f[3].p, f[3].n, &ts))
        return jc_import__bad(c, line, "timestamp '%.*s' is not an integer", (int)f[3].n, f[3].p);
    const char *tag = f[2].p;
    size_t n = f[2].n;
    jc_trim(&tag, &n);
    if (n == 0)
        return jc_import__bad(c, line, "empty tag");
    uint32_t u, i;
    int rc = jc_import__user(c, f[0].p, f[0].n, &u);
    if (rc)
        return jc_import__row_error(c, line, rc);
    if ((rc = new_item(c, line, f[1].p, f[1].n, &i)))
        return rc;
    rc = jc_cb_add_tag(c->b, u, i, tag, n, ts);
    if (rc)
        return jc_import__row_error(c, line, rc);
    c->res->tags_added++;
    return JC_OK;
}

int jc_import__ml_latest(struct jc_import_ctx *c, const char *dir)
{
    static const char *const movie_cols[] = {"movieId", "title", "genres"};
    static const char *const link_cols[] = {"movieId", "imdbId", "tmdbId"};
    static const char *const rating_cols[] = {"userId", "movieId", "rating", "timestamp"};
    static const char *const tag_cols[] = {"userId", "movieId", "tag", "timestamp"};
    char path[4096];
    if (path_in(path, sizeof path, dir, "ratings.csv") == JC_OK && !jc_path_exists(path) &&
        path_in(path, sizeof path, dir, "movies.csv") == JC_OK && !jc_path_exists(path))
        return jc_err_set(JC_ENOTFOUND, "%s: neither movies.csv nor ratings.csv found", dir);
    int rc = read_ml_csv(c, dir, "movies.csv", movie_cols, 3, 0, latest_movie_row);
    if (rc == JC_OK)
        rc = read_ml_csv(c, dir, "links.csv", link_cols, 3, 0, latest_link_row);
    if (rc == JC_OK)
        rc = read_ml_csv(c, dir, "ratings.csv", rating_cols, 4, 0, rating_row);
    if (rc == JC_OK)
        rc = read_ml_csv(c, dir, "tags.csv", tag_cols, 4, 0, latest_tag_row);
    return rc;
}

/* ---- line-oriented legacy files (100K, 1M) ----------------------------- */

/* Splits a line on a one- or two-character separator. */
static size_t split_fields(const char *s, size_t n, const char *sep, struct jc_csv_field *f,
                           size_t max)
{
    size_t sl = strlen(sep), nf = 0;
    const char *end = s + n;
    for (;;) {
        const char *hit = NULL;
        for (const char *q = s; q + sl <= end; q++) {
            if (q[0] == sep[0] && (sl == 1 || q[1] == sep[1])) {
                hit = q;
                break;
            }
        }
        if (nf == max)
            return max + 1;
        f[nf].p = s;
        f[nf].n = hit ? (size_t)(hit - s) : (size_t)(end - s);
        nf++;
        if (hit == NULL)
            return nf;
        s = hit + sl;
    }
}

typedef int (*line_fn)(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f,
                       size_t nf);

static int read_lines(struct jc_import_ctx *c, const char *dir, const char *file, int required,
                      const char *sep, size_t max_fields, line_fn fn)
{
    char path[4096];
    int rc = path_in(path, sizeof path, dir, file);
    if (rc)
        return rc;
    if (!jc_path_exists(path))
        return required ? jc_err_set(JC_ENOTFOUND, "%s: no such file", path) : JC_OK;
    struct jc_map m;
    rc = jc_import__open_file(c, path, &m);
    if (rc)
        return rc;
    const char *p = m.data, *end = p ? p + m.size : NULL;
    uint64_t line = 0;
    struct jc_csv_field f[5 + 64 + 1]; /* the widest format: u.item with 64 genre flags */
    if (max_fields >= sizeof f / sizeof f[0])
        return jc_err_set(JC_EINTERNAL, "read_lines: %zu fields exceed the buffer", max_fields);
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        p = nl ? nl + 1 : end;
        line++;
        if (le > s && le[-1] == '\r')
            le--;
        if (le == s)
            continue;
        count_row(c);
        size_t nf = split_fields(s, (size_t)(le - s), sep, f, max_fields);
        if (nf > max_fields) {
            if ((rc = jc_import__bad(c, line, "more than %zu fields", max_fields)) < 0)
                break;
            continue;
        }
        for (size_t k = 0; k < nf; k++)
            jc_trim(&f[k].p, &f[k].n);
        if ((rc = fn(c, line, f, nf)) < 0)
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

static int legacy_rating(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f,
                         size_t nf)
{
    if (nf != 4)
        return jc_import__bad(c, line, "expected 4 fields (user, item, rating, time), found %zu",
                              nf);
    return rating_row(c, line, f);
}

/* ml-100k */

static const char *const ml100k_genres[19] = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};

static int genre_line(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f,
                      size_t nf)
{
    uint32_t idx;
    if (nf != 2 || jc_parse_u32(f[1].p, f[1].n, &idx) || idx >= 64 || f[0].n == 0 || f[0].n >= 64)
        return jc_import__bad(c, line, "expected 'name|index' with index < 64");
    const char *t;
    size_t tn;
    int rc = legacy_text(c, f[0].p, f[0].n, &t, &tn);
    if (rc)
        return rc;
    if (tn >= 64)
        return jc_import__bad(c, line, "genre name too long");
    memcpy(c->genre_names[idx], t, tn);
    c->genre_names[idx][tn] = '\0';
    if ((int)idx + 1 > c->n_genre_names)
        c->n_genre_names = (int)idx + 1;
    return JC_OK;
}

static int item100k_line(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f,
                         size_t nf)
{
    int n_genres = c->n_genre_names;
    if (nf != (size_t)(5 + n_genres))
        return jc_import__bad(c, line, "expected %d '|'-separated fields, found %zu", 5 + n_genres,
                              nf);
    if (f[0].n == 0)
        return jc_import__bad(c, line, "empty movie id");
    for (int g = 0; g < n_genres; g++) {
        const struct jc_csv_field *fl = &f[5 + g];
        if (fl->n != 1 || (fl->p[0] != '0' && fl->p[0] != '1'))
            return jc_import__bad(c, line, "genre flag %d is '%.*s', expected 0 or 1", g + 1,
                                  (int)fl->n, fl->p);
    }
    uint32_t item;
    int rc = new_item(c, line, f[0].p, f[0].n, &item);
    if (rc)
        return rc;
    const char *t;
    size_t tn;
    if ((rc = legacy_text(c, f[1].p, f[1].n, &t, &tn)))
        return rc;
    if ((rc = add_title(c, line, item, t, tn)))
        return rc;
    if (jc_import__year_from_title(t, tn) == JC_NO_YEAR && f[2].n >= 4) {
        int32_t y;
        if (jc_parse_i32(f[2].p + f[2].n - 4, 4, &y) == JC_OK && y >= 1800 && y <= 2200)
            jc_cb_item_set_year(c->b, item, y);
    }
    if ((rc = jc_cb_item_clear_genres(c->b, item)))
        return rc;
    for (int g = 0; g < n_genres; g++) {
        if (f[5 + g].p[0] != '1')
            continue;
        const char *name = c->genre_names[g];
        if (name[0] == '\0')
            continue;
        if ((rc = jc_cb_item_add_genre(c->b, item, name, strlen(name))))
            return jc_import__row_error(c, line, rc);
    }
    if (f[2].n > 0 &&
        (rc = jc_cb_set_attr_str(c->b, JC_ENT_ITEM, item, "releaseDate", f[2].p, f[2].n)))
        return jc_import__row_error(c, line, rc);
    if (f[4].n > 0) {
        if ((rc = legacy_text(c, f[4].p, f[4].n, &t, &tn)) ||
            (rc = jc_cb_set_attr_str(c->b, JC_ENT_ITEM, item, "imdbUrl", t, tn)))
            return jc_import__row_error(c, line, rc);
    }
    return JC_OK;
}

static int user100k_line(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f,
                         size_t nf)
{
    if (nf != 5)
        return jc_import__bad(c, line,
                              "expected 5 fields (id|age|gender|occupation|zip), "
                              "found %zu",
                              nf);
    int32_t age;
    if (jc_parse_i32(f[1].p, f[1].n, &age) || age < 0 || age > 150)
        return jc_import__bad(c, line, "age '%.*s' is not a number in [0, 150]", (int)f[1].n,
                              f[1].p);
    if (f[0].n == 0)
        return jc_import__bad(c, line, "empty user id");
    uint32_t u;
    int rc = jc_import__user(c, f[0].p, f[0].n, &u);
    if (rc)
        return jc_import__row_error(c, line, rc);
    static const char *const names[] = {"gender", "occupation", "zip"};
    rc = jc_cb_set_attr_num(c->b, JC_ENT_USER, u, "age", age);
    for (int k = 0; k < 3 && rc == JC_OK; k++) {
        const char *t;
        size_t tn;
        rc = legacy_text(c, f[2 + k].p, f[2 + k].n, &t, &tn);
        if (rc == JC_OK)
            rc = jc_cb_set_attr_str(c->b, JC_ENT_USER, u, names[k], t, tn);
    }
    return rc ? jc_import__row_error(c, line, rc) : JC_OK;
}

int jc_import__ml_100k(struct jc_import_ctx *c, const char *dir)
{
    char names[64][64];
    memset(names, 0, sizeof names);
    for (int g = 0; g < 19; g++)
        snprintf(names[g], sizeof names[g], "%s", ml100k_genres[g]);
    c->genre_names = names;
    c->n_genre_names = 19;
    char path[4096];
    int rc = path_in(path, sizeof path, dir, "u.genre");
    if (rc == JC_OK && jc_path_exists(path)) {
        memset(names, 0, sizeof names);
        c->n_genre_names = 0;
        rc = read_lines(c, dir, "u.genre", 0, "|", 2, genre_line);
        if (rc == JC_OK && c->n_genre_names == 0)
            rc = jc_err_set(JC_EPARSE, "%s: no genres", path);
    }
    if (rc == JC_OK)
        rc = read_lines(c, dir, "u.item", 0, "|", 5 + 64, item100k_line);
    if (rc == JC_OK)
        rc = read_lines(c, dir, "u.user", 0, "|", 5, user100k_line);
    if (rc == JC_OK)
        rc = read_lines(c, dir, "u.data", 1, "\t", 4, legacy_rating);
    c->genre_names = NULL;
    return rc;
}

/* ml-1m */

static int movie1m_line(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f,
                        size_t nf)
{
    if (nf != 3)
        return jc_import__bad(c, line, "expected 3 fields (MovieID::Title::Genres), found %zu", nf);
    if (f[0].n == 0)
        return jc_import__bad(c, line, "empty movie id");
    uint32_t item;
    int rc = new_item(c, line, f[0].p, f[0].n, &item);
    if (rc)
        return rc;
    const char *t;
    size_t tn;
    if ((rc = legacy_text(c, f[1].p, f[1].n, &t, &tn)))
        return rc;
    if ((rc = add_title(c, line, item, t, tn)))
        return rc;
    if ((rc = legacy_text(c, f[2].p, f[2].n, &t, &tn)))
        return rc;
    return add_genres(c, line, item, t, tn);
}

static int user1m_line(struct jc_import_ctx *c, uint64_t line, const struct jc_csv_field *f,
                       size_t nf)
{
    if (nf != 5)
        return jc_import__bad(c, line,
                              "expected 5 fields (UserID::Gender::Age::Occupation::Zip), "
                              "found %zu",
                              nf);
    int32_t age, occ;
    if (jc_parse_i32(f[2].p, f[2].n, &age) || jc_parse_i32(f[3].p, f[3].n, &occ))
        return jc_import__bad(c, line, "age and occupation must be integer codes");
    if (f[0].n == 0)
        return jc_import__bad(c, line, "empty user id");
    uint32_t u;
    int rc = jc_import__user(c, f[0].p, f[0].n, &u);
    if (rc == JC_OK)
        rc = jc_cb_set_attr_str(c->b, JC_ENT_USER, u, "gender", f[1].p, f[1].n);
    if (rc == JC_OK)
        rc = jc_cb_set_attr_num(c->b, JC_ENT_USER, u, "age", age);
    if (rc == JC_OK)
        rc = jc_cb_set_attr_num(c->b, JC_ENT_USER, u, "occupation", occ);
    if (rc == JC_OK)
        rc = jc_cb_set_attr_str(c->b, JC_ENT_USER, u, "zip", f[4].p, f[4].n);
    return rc ? jc_import__row_error(c, line, rc) : JC_OK;
}

int jc_import__ml_1m(struct jc_import_ctx *c, const char *dir)
{
    int rc = read_lines(c, dir, "movies.dat", 0, "::", 3, movie1m_line);
    if (rc == JC_OK)
        rc = read_lines(c, dir, "users.dat", 0, "::", 5, user1m_line);
    if (rc == JC_OK)
        rc = read_lines(c, dir, "ratings.dat", 1, "::", 4, legacy_rating);
    return rc;
}
