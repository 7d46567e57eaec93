/*
 * export.c - sample exports: the course's 27-column CSV (raw values, so
 * course users can compare with Sparrow RecSys's trainingSamples.csv) and a
 * TSV of finished rows (vocabulary ids, normalised numbers) that the PyTorch
 * benchmark peers read, so both sides train on identical inputs.
 *
 * CSV columns: movieId,userId,rating,timestamp,label,releaseYear,
 * movieGenre1..3,movieRatingCount,movieAvgRating,movieRatingStddev,
 * userRatedMovie1..5,userRatingCount,userAvgReleaseYear,
 * userReleaseYearStddev,userAvgRating,userRatingStddev,userGenre1..5.
 * Formatting follows the course: averages and standard deviations with two
 * decimals, userAvgReleaseYear truncated to an integer, missing ids and
 * genres empty. TSV: a header, then label, value, user, item (catalog ids),
 * time, one column per categorical slot (name, or name_1..name_w) and one
 * per number.
 */
#include "feature/feat_int.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include <junco/error.h>
#include <junco/samples.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FLUSH_AT (1u << 20)

struct csv_col {
    enum jc_src src;
    uint32_t k;
};

static const struct csv_col course_cols[] = {
    {JC_SRC_RELEASE_YEAR, 0}, {JC_SRC_MOVIE_GENRE, 0}, {JC_SRC_MOVIE_GENRE, 1},
    {JC_SRC_MOVIE_GENRE, 2},  {JC_SRC_M_COUNT, 0},     {JC_SRC_M_AVG, 0},
    {JC_SRC_M_STD, 0},        {JC_SRC_U_RATED, 0},     {JC_SRC_U_RATED, 1},
    {JC_SRC_U_RATED, 2},      {JC_SRC_U_RATED, 3},     {JC_SRC_U_RATED, 4},
    {JC_SRC_U_COUNT, 0},      {JC_SRC_U_AVG_YEAR, 0},  {JC_SRC_U_STD_YEAR, 0},
    {JC_SRC_U_AVG, 0},        {JC_SRC_U_STD, 0},       {JC_SRC_U_GENRE, 0},
    {JC_SRC_U_GENRE, 1},      {JC_SRC_U_GENRE, 2},     {JC_SRC_U_GENRE, 3},
    {JC_SRC_U_GENRE, 4},
};
#define N_COURSE (sizeof course_cols / sizeof course_cols[0])

int jc_samples_export_check(const struct jc_featspec *spec, enum jc_export_format fmt)
{
    if (fmt != JC_EXPORT_CSV)
        return JC_OK;
    for (size_t i = 0; i < N_COURSE; i++)
        if (jc_featspec__find_src(spec, course_cols[i].src, course_cols[i].k) < 0) {
            const char *base = jc_featspec__src_name(course_cols[i].src);
            int numbered = course_cols[i].src == JC_SRC_MOVIE_GENRE ||
                           course_cols[i].src == JC_SRC_U_RATED ||
                           course_cols[i].src == JC_SRC_U_GENRE;
            if (numbered)
                return jc_err_set(JC_EINVAL, "the course CSV needs column %s%u in the feature spec",
                                  base, course_cols[i].k + 1);
            return jc_err_set(JC_EINVAL, "the course CSV needs column %s in the feature spec",
                              base);
        }
    return JC_OK;
}

static int csv_field(struct jc_buf *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL)
        return jc_buf_append_str(b, s);
    int rc = jc_buf_append_char(b, '"');
    for (const char *p = s; *p && rc == JC_OK; p++)
        rc = *p == '"' ? jc_buf_append(b, "\"\"", 2) : jc_buf_append_char(b, *p);
    return rc ? rc : jc_buf_append_char(b, '"');
}

static int fmt_value(struct jc_buf *b, float v)
{
    if (v == floorf(v) && fabsf(v) < 1e9f)
        return jc_buf_printf(b, "%.1f", (double)v);
    return jc_buf_printf(b, "%.7g", (double)v);
}

/* Raw numeric value of a numeric-source field (num slot or bucket bits). */
static float raw_num(const struct jc_featspec *s, int fi, const uint32_t *cat, const float *num)
{
    const struct jc_feat_field *lf = &s->layout.fields[fi];
    if (s->f[fi].dom == JC_DOM_BUCKET) {
        float v;
        memcpy(&v, &cat[lf->offset], 4);
        return v;
    }
    return num[lf->offset];
}

static int csv_row(struct jc_buf *b, const struct jc_featspec *s, const struct jc_catalog *cat,
                   const int *fi, const uint8_t *row)
{
    struct jc_raw_head h;
    memcpy(&h, row, JC_RAW_HEAD_SIZE);
    const uint32_t *rc_ = (const uint32_t *)(const void *)(row + JC_RAW_HEAD_SIZE);
    const float *rn = (const float *)(const void *)(rc_ + s->layout.n_cat);
    uint32_t n_items = jc_catalog_n_items(cat), n_users = jc_catalog_n_users(cat);
    uint32_t n_genres = jc_catalog_n_genres(cat);
    int rc = csv_field(b, h.item < n_items ? jc_catalog_item_ext_id(cat, h.item) : "");
    rc = rc ? rc : jc_buf_append_char(b, ',');
    rc = rc ? rc : csv_field(b, h.user < n_users ? jc_catalog_user_ext_id(cat, h.user) : "");
    rc = rc ? rc : jc_buf_append_char(b, ',');
    rc = rc ? rc : fmt_value(b, h.value);
    rc = rc ? rc : jc_buf_printf(b, ",%lld,%d", (long long)h.time, h.label > 0.5f ? 1 : 0);
    for (size_t i = 0; i < N_COURSE && rc == JC_OK; i++) {
        rc = jc_buf_append_char(b, ',');
        if (rc)
            break;
        enum jc_src src = course_cols[i].src;
        if (src == JC_SRC_MOVIE_GENRE || src == JC_SRC_U_GENRE || src == JC_SRC_U_RATED) {
            uint32_t r = rc_[s->layout.fields[fi[i]].offset];
            if (r == 0 || r == JC_RAW_OOV)
                continue;
            if (src == JC_SRC_U_RATED)
                rc = csv_field(b, r - 1 < n_items ? jc_catalog_item_ext_id(cat, r - 1) : "");
            else
                rc = csv_field(b, r - 1 < n_genres ? jc_catalog_genre_name(cat, r - 1) : "");
            continue;
        }
        float v = raw_num(s, fi[i], rc_, rn);
        switch (src) {
        case JC_SRC_RELEASE_YEAR:
        case JC_SRC_M_COUNT:
        case JC_SRC_U_COUNT:
        case JC_SRC_U_AVG_YEAR: /* the course casts the average year to an integer */
            rc = jc_buf_printf(b, "%lld", (long long)v);
            break;
        default:
            rc = jc_buf_printf(b, "%.2f", (double)v);
            break;
        }
    }
    return rc ? rc : jc_buf_append_char(b, '\n');
}

static char *fmt_u64(char *end, uint64_t v)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static int tsv_header(struct jc_buf *b, const struct jc_feat_layout *L)
{
    int rc = jc_buf_append_str(b, "label\tvalue\tuser\titem\ttime");
    for (uint32_t pass = 0; pass < 2 && rc == JC_OK; pass++)
        for (uint32_t i = 0; i < L->n_fields && rc == JC_OK; i++) {
            const struct jc_feat_field *f = &L->fields[i];
            if ((f->kind == JC_FEAT_NUM) != (pass == 1))
                continue;
            if (f->width == 1)
                rc = jc_buf_printf(b, "\t%s", f->name);
            else
                for (uint32_t k = 0; k < f->width && rc == JC_OK; k++)
                    rc = jc_buf_printf(b, "\t%s_%u", f->name, k + 1);
        }
    return rc ? rc : jc_buf_append_char(b, '\n');
}

/* Categorical slots are written in layout offset order, which is field
 * order for categorical fields; the header follows the same order. */
static int tsv_rows(struct jc_buf *b, const struct jc_feat_layout *L, const struct jc_batch *bt)
{
    int rc = JC_OK;
    char tmp[32];
    for (uint32_t i = 0; i < bt->n && rc == JC_OK; i++) {
        rc = jc_buf_printf(b, "%d\t%.7g\t", bt->label[i] > 0.5f ? 1 : 0, (double)bt->value[i]);
        rc = rc ? rc : jc_buf_append_str(b, fmt_u64(tmp + sizeof tmp, bt->user[i]));
        rc = rc ? rc : jc_buf_append_char(b, '\t');
        rc = rc ? rc : jc_buf_append_str(b, fmt_u64(tmp + sizeof tmp, bt->item[i]));
        rc = rc ? rc : jc_buf_printf(b, "\t%lld", (long long)bt->time[i]);
        const uint32_t *cat = bt->cat + (size_t)i * L->n_cat;
        for (uint32_t k = 0; k < L->n_cat && rc == JC_OK; k++) {
            rc = jc_buf_append_char(b, '\t');
            rc = rc ? rc : jc_buf_append_str(b, fmt_u64(tmp + sizeof tmp, cat[k]));
        }
        const float *num = bt->num + (size_t)i * L->n_num;
        for (uint32_t k = 0; k < L->n_num && rc == JC_OK; k++)
            rc = jc_buf_printf(b, "\t%.9g", (double)num[k]);
        rc = rc ? rc : jc_buf_append_char(b, '\n');
    }
    return rc;
}

int jc_samples_export(const struct jc_samples *s, const struct jc_catalog *cat,
                      enum jc_export_format fmt, const char *path, uint64_t *rows_out)
{
    const struct jc_featspec *spec = jc_samples_spec(s);
    const struct jc_feat_layout *L = jc_samples_layout(s);
    int rc = jc_samples_export_check(spec, fmt);
    if (rc)
        return rc;
    int fi[N_COURSE];
    if (fmt == JC_EXPORT_CSV) {
        if (cat == NULL || jc_catalog_checksum(cat) != jc_samples_catalog_checksum(s))
            return jc_err_set(JC_ESTATE,
                              "export: the samples were built from another catalog (rerun "
                              "`junco features`)");
        for (size_t i = 0; i < N_COURSE; i++)
            fi[i] = jc_featspec__find_src(spec, course_cols[i].src, course_cols[i].k);
    }
    struct jc_wfile w;
    if ((rc = jc_wfile_open(&w, path)))
        return rc;
    struct jc_buf b;
    jc_buf_init(&b, 0);
    struct jc_batch bt;
    memset(&bt, 0, sizeof bt);
    const uint32_t chunk = 4096;
    if (fmt == JC_EXPORT_TSV) {
        rc = jc_batch_init(&bt, L, chunk);
        rc = rc ? rc : tsv_header(&b, L);
    } else {
        rc = jc_buf_append_str(&b, "movieId,userId,rating,timestamp,label,releaseYear,"
                                   "movieGenre1,movieGenre2,movieGenre3,movieRatingCount,"
                                   "movieAvgRating,movieRatingStddev,userRatedMovie1,"
                                   "userRatedMovie2,userRatedMovie3,userRatedMovie4,"
                                   "userRatedMovie5,userRatingCount,userAvgReleaseYear,"
                                   "userReleaseYearStddev,userAvgRating,userRatingStddev,"
                                   "userGenre1,userGenre2,userGenre3,userGenre4,userGenre5\n");
    }
    uint64_t n = jc_samples_rows(s);
    for (uint64_t i = 0; i < n && rc == JC_OK;) {
        if (fmt == JC_EXPORT_TSV) {
            uint64_t e = i + chunk < n ? i + chunk : n;
            rc = jc_samples_read(s, i, e, &bt);
            rc = rc ? rc : tsv_rows(&b, L, &bt);
            i = e;
        } else {
            rc = csv_row(&b, spec, cat, fi, jc_samples__row(s, i));
            i++;
        }
        if (rc == JC_OK && b.len >= FLUSH_AT) {
            rc = jc_wfile_write(&w, b.data, b.len);
            jc_buf_reset(&b);
        }
    }
    if (rc == JC_OK && b.len)
        rc = jc_wfile_write(&w, b.data, b.len);
    jc_buf_free(&b);
    jc_batch_free(&bt);
    if (rc == JC_OK)
        rc = jc_wfile_commit(&w);
    else
        jc_wfile_abort(&w);
    if (rc == JC_OK && rows_out)
        *rows_out = n;
    return rc;
}
