/*
 * spec.c - feature specs: parsing, validation, compiling the layout, and the
 * blob that carries a fitted spec inside model files.
 *
 * Spec text, one column per line ('#' starts a comment):
 *     NAME [KIND] [OPTION=VALUE ...]
 * KIND is cat, multi, seq or num (default: the column's natural kind).
 * Options: norm=none|standardize|minmax|log1p|log1p_standardize (num),
 * buckets=N (a numeric column as a categorical of N quantile buckets),
 * width=N (multi, seq), vocab=NAME, min_count=N, hash=N (id columns).
 * Every problem is reported as "<file>:<line>: ..." before any work starts.
 * The compiled spec is printed back as canonical text (every option
 * explicit); that text, re-parsed, rebuilds the same layout, which is how
 * blobs store the spec.
 */
#include "feature/feat_int.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/parse.h"
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOB_MAGIC    "JCFSPEC1"
#define SPEC_FILE_MAX (1u << 20)
#define MAX_NUMBERED  16

/* The built-in MovieLens reference set (the course's columns, plus the DIN
 * sequence and the context). */
static const char builtin_spec[] =
    "# junco's built-in MovieLens reference feature set (point-in-time)\n"
    "userId cat\n"
    "movieId cat\n"
    "releaseYear num norm=standardize\n"
    "movieGenre1 cat\n"
    "movieGenre2 cat\n"
    "movieGenre3 cat\n"
    "movieRatingCount num norm=log1p_standardize\n"
    "movieAvgRating num norm=standardize\n"
    "movieRatingStddev num norm=standardize\n"
    "userRatedMovie1 cat\n"
    "userRatedMovie2 cat\n"
    "userRatedMovie3 cat\n"
    "userRatedMovie4 cat\n"
    "userRatedMovie5 cat\n"
    "userRatingCount num norm=log1p_standardize\n"
    "userAvgReleaseYear num norm=standardize\n"
    "userReleaseYearStddev num norm=standardize\n"
    "userAvgRating num norm=standardize\n"
    "userRatingStddev num norm=standardize\n"
    "userGenre1 cat\n"
    "userGenre2 cat\n"
    "userGenre3 cat\n"
    "userGenre4 cat\n"
    "userGenre5 cat\n"
    "userHistory seq\n"
    "hour cat\n"
    "weekday cat\n";

/* The catalogue of source columns. */
struct src_info {
    const char *name;
    enum jc_src src;
    int numbered; /* name is a prefix followed by 1..MAX_NUMBERED */
    enum jc_feat_side side;
    enum jc_dom dom;        /* JC_DOM_NUM for numbers */
    enum jc_feat_kind kind; /* natural kind */
};

static const struct src_info sources[] = {
    {"userId", JC_SRC_USER_ID, 0, JC_SIDE_USER, JC_DOM_USER, JC_FEAT_CAT},
    {"movieId", JC_SRC_MOVIE_ID, 0, JC_SIDE_ITEM, JC_DOM_ITEM, JC_FEAT_CAT},
    {"releaseYear", JC_SRC_RELEASE_YEAR, 0, JC_SIDE_ITEM, JC_DOM_NUM, JC_FEAT_NUM},
    {"movieGenre", JC_SRC_MOVIE_GENRE, 1, JC_SIDE_ITEM, JC_DOM_GENRE, JC_FEAT_CAT},
    {"movieGenres", JC_SRC_MOVIE_GENRES, 0, JC_SIDE_ITEM, JC_DOM_GENRE, JC_FEAT_MULTI},
    {"movieRatingCount", JC_SRC_M_COUNT, 0, JC_SIDE_ITEM, JC_DOM_NUM, JC_FEAT_NUM},
    {"movieAvgRating", JC_SRC_M_AVG, 0, JC_SIDE_ITEM, JC_DOM_NUM, JC_FEAT_NUM},
    {"movieRatingStddev", JC_SRC_M_STD, 0, JC_SIDE_ITEM, JC_DOM_NUM, JC_FEAT_NUM},
    {"userRatedMovie", JC_SRC_U_RATED, 1, JC_SIDE_USER, JC_DOM_ITEM, JC_FEAT_CAT},
    {"userRatingCount", JC_SRC_U_COUNT, 0, JC_SIDE_USER, JC_DOM_NUM, JC_FEAT_NUM},
    {"userAvgReleaseYear", JC_SRC_U_AVG_YEAR, 0, JC_SIDE_USER, JC_DOM_NUM, JC_FEAT_NUM},
    {"userReleaseYearStddev", JC_SRC_U_STD_YEAR, 0, JC_SIDE_USER, JC_DOM_NUM, JC_FEAT_NUM},
    {"userAvgRating", JC_SRC_U_AVG, 0, JC_SIDE_USER, JC_DOM_NUM, JC_FEAT_NUM},
    {"userRatingStddev", JC_SRC_U_STD, 0, JC_SIDE_USER, JC_DOM_NUM, JC_FEAT_NUM},
    {"userGenre", JC_SRC_U_GENRE, 1, JC_SIDE_USER, JC_DOM_GENRE, JC_FEAT_CAT},
    {"userGenres", JC_SRC_U_GENRES, 0, JC_SIDE_USER, JC_DOM_GENRE, JC_FEAT_MULTI},
    {"userHistory", JC_SRC_U_HISTORY, 0, JC_SIDE_USER, JC_DOM_ITEM, JC_FEAT_SEQ},
    {"hour", JC_SRC_HOUR, 0, JC_SIDE_CONTEXT, JC_DOM_HOUR, JC_FEAT_CAT},
    {"weekday", JC_SRC_WEEKDAY, 0, JC_SIDE_CONTEXT, JC_DOM_WEEKDAY, JC_FEAT_CAT},
};
#define N_SOURCES (sizeof sources / sizeof sources[0])

static const char *const kind_names[] = {"?", "cat", "multi", "num", "seq"};
static const char *const norm_names[] = {"none", "standardize", "minmax", "log1p",
                                         "log1p_standardize"};
static const char *const dom_vocab[] = {"user", "item", "genre", "hour", "weekday", "", ""};

const char *jc_featspec__src_name(enum jc_src src)
{
    for (size_t i = 0; i < N_SOURCES; i++)
        if (sources[i].src == src)
            return sources[i].name;
    return "?";
}

void jc_featspec_opts_default(struct jc_featspec_opts *o)
{
    memset(o, 0, sizeof *o);
    o->label_threshold = 3.5f;
    o->negatives = 4;
    o->window = 100;
    o->history = 20;
    o->min_history = 2;
    o->min_count = 1;
    o->missing_year = 1990;
}

void jc_featspec_opts_from_config(struct jc_featspec_opts *o, const struct jc_config *c)
{
    jc_featspec_opts_default(o);
    o->spec_path = c->features_spec;
    o->columns = c->features_columns;
    o->label_threshold = (float)c->features_label_threshold;
    o->implicit = c->features_implicit;
    o->negatives = (uint32_t)c->features_negatives;
    o->neg_popularity = strcmp(c->features_negative_sampling, "popularity") == 0;
    o->window = (uint32_t)c->features_window;
    o->history = (uint32_t)c->features_history;
    o->min_history = (uint32_t)c->features_min_history;
    o->min_count = (uint32_t)c->features_min_count;
    o->hash_buckets = (uint32_t)c->features_hash_buckets;
    o->missing_year = (int32_t)c->features_missing_year;
}

/* ---- parsing ------------------------------------------------------------- */

static const struct src_info *find_source(const char *name, uint32_t *k)
{
    for (size_t i = 0; i < N_SOURCES; i++)
        if (!sources[i].numbered && strcmp(sources[i].name, name) == 0) {
            *k = 0;
            return &sources[i];
        }
    for (size_t i = 0; i < N_SOURCES; i++) {
        if (!sources[i].numbered)
            continue;
        size_t pl = strlen(sources[i].name);
        if (strncmp(name, sources[i].name, pl) != 0 || name[pl] == '\0')
            continue;
        uint32_t v;
        if (jc_parse_u32(name + pl, strlen(name + pl), &v) == JC_OK && v >= 1 &&
            v <= MAX_NUMBERED && name[pl] != '0') {
            *k = v - 1;
            return &sources[i];
        }
    }
    return NULL;
}

struct parsed_col {
    char name[JC_FEAT_NAME_MAX];
    const struct src_info *si;
    uint32_t k;
    enum jc_feat_kind kind;
    enum jc_norm norm;
    uint32_t buckets, width;
    char vocab[JC_FEAT_NAME_MAX];
    int64_t min_count, hash; /* -1: not given */
    uint32_t line;
};

static int parse_kind(const char *s, enum jc_feat_kind *k)
{
    for (int i = 1; i <= 4; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *k = (enum jc_feat_kind)i;
            return 1;
        }
    return 0;
}

static int parse_norm(const char *s, enum jc_norm *n)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, norm_names[i]) == 0) {
            *n = (enum jc_norm)i;
            return 1;
        }
    return 0;
}

static int opt_u32(const char *src, uint32_t line, const char *key, const char *val, uint32_t lo,
                   uint32_t hi, uint32_t *out)
{
    uint32_t v;
    if (jc_parse_u32(val, strlen(val), &v) != JC_OK || v < lo || v > hi)
        return jc_err_set(JC_EINVAL, "%s:%u: %s=%s: expected an integer in [%u, %u]", src, line,
                          key, val, lo, hi);
    *out = v;
    return JC_OK;
}

/* Parses one line into c (c->name empty for blank lines). */
static int parse_line(const char *src, uint32_t line, char *text, struct parsed_col *c)
{
    memset(c, 0, sizeof *c);
    c->min_count = c->hash = -1;
    c->line = line;
    char *hash = strchr(text, '#');
    if (hash)
        *hash = '\0';
    char *tok[16];
    int nt = 0;
    char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p == '\0')
            break;
        if (nt == 16)
            return jc_err_set(JC_EPARSE, "%s:%u: too many words", src, line);
        tok[nt++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        if (*p)
            *p++ = '\0';
    }
    if (nt == 0)
        return JC_OK;
    if (strlen(tok[0]) >= JC_FEAT_NAME_MAX)
        return jc_err_set(JC_EPARSE, "%s:%u: column name '%s' is too long", src, line, tok[0]);
    c->si = find_source(tok[0], &c->k);
    if (c->si == NULL) {
        char known[900];
        size_t off = 0;
        for (size_t i = 0; i < N_SOURCES && off < sizeof known; i++)
            off += (size_t)snprintf(known + off, sizeof known - off, "%s%s%s", i ? ", " : "",
                                    sources[i].name, sources[i].numbered ? "N" : "");
        return jc_err_set(JC_EINVAL, "%s:%u: unknown column '%s' (known: %s)", src, line, tok[0],
                          known);
    }
    snprintf(c->name, sizeof c->name, "%s", tok[0]);
    c->kind = c->si->kind;
    int first_opt = 1;
    if (nt > 1 && strchr(tok[1], '=') == NULL) {
        if (!parse_kind(tok[1], &c->kind))
            return jc_err_set(JC_EINVAL, "%s:%u: unknown kind '%s' (cat, multi, seq, num)", src,
                              line, tok[1]);
        first_opt = 2;
    }
    c->norm = JC_NORM_STANDARDIZE;
    int norm_given = 0;
    for (int i = first_opt; i < nt; i++) {
        char *eq = strchr(tok[i], '=');
        if (eq == NULL || eq == tok[i] || eq[1] == '\0')
            return jc_err_set(JC_EPARSE, "%s:%u: expected OPTION=VALUE, got '%s'", src, line,
                              tok[i]);
        *eq = '\0';
        const char *key = tok[i], *val = eq + 1;
        int rc = JC_OK;
        if (strcmp(key, "norm") == 0) {
            if (!parse_norm(val, &c->norm))
                return jc_err_set(JC_EINVAL,
                                  "%s:%u: norm=%s: expected none, standardize, minmax, log1p "
                                  "or log1p_standardize",
                                  src, line, val);
            norm_given = 1;
        } else if (strcmp(key, "buckets") == 0) {
            rc = opt_u32(src, line, key, val, 2, 100000, &c->buckets);
        } else if (strcmp(key, "width") == 0) {
            rc = opt_u32(src, line, key, val, 1, JC_USTATE_HISTORY_MAX, &c->width);
        } else if (strcmp(key, "vocab") == 0) {
            if (strlen(val) >= JC_FEAT_NAME_MAX)
                return jc_err_set(JC_EINVAL, "%s:%u: vocab name too long", src, line);
            snprintf(c->vocab, sizeof c->vocab, "%s", val);
        } else if (strcmp(key, "min_count") == 0) {
            uint32_t v;
            rc = opt_u32(src, line, key, val, 1, 1000000000u, &v);
            c->min_count = v;
        } else if (strcmp(key, "hash") == 0) {
            uint32_t v;
            rc = opt_u32(src, line, key, val, 0, 1000000000u, &v);
            c->hash = v;
        } else {
            return jc_err_set(JC_EINVAL,
                              "%s:%u: unknown option '%s' (norm, buckets, width, vocab, "
                              "min_count, hash)",
                              src, line, key);
        }
        if (rc)
            return rc;
    }
    /* kind and option compatibility */
    const struct src_info *si = c->si;
    const char *what = si->dom == JC_DOM_NUM       ? "a number"
                       : si->kind == JC_FEAT_SEQ   ? "a sequence of ids"
                       : si->kind == JC_FEAT_MULTI ? "a set of ids"
                                                   : "an id";
    if (si->dom == JC_DOM_NUM) {
        if (c->kind == JC_FEAT_CAT && c->buckets == 0)
            return jc_err_set(JC_EINVAL,
                              "%s:%u: column %s holds a number; kind cat needs buckets=N "
                              "(quantile buckets)",
                              src, line, c->name);
        if (c->kind != JC_FEAT_NUM && c->kind != JC_FEAT_CAT)
            return jc_err_set(JC_EINVAL,
                              "%s:%u: column %s holds a number; kind %s is impossible (num, or "
                              "cat with buckets=N)",
                              src, line, c->name, kind_names[c->kind]);
        if (c->kind == JC_FEAT_NUM && c->buckets)
            return jc_err_set(JC_EINVAL, "%s:%u: buckets=N needs kind cat", src, line);
        if (c->kind == JC_FEAT_CAT && norm_given)
            return jc_err_set(JC_EINVAL, "%s:%u: norm= applies to kind num only", src, line);
        if (c->width || c->vocab[0] || c->min_count >= 0 || c->hash >= 0)
            return jc_err_set(JC_EINVAL,
                              "%s:%u: width, vocab, min_count and hash apply to id columns, "
                              "not to %s",
                              src, line, c->name);
    } else {
        if (c->kind != si->kind)
            return jc_err_set(JC_EINVAL,
                              "%s:%u: column %s holds %s; kind %s is impossible (use %s)", src,
                              line, c->name, what, kind_names[c->kind], kind_names[si->kind]);
        if (norm_given || c->buckets)
            return jc_err_set(JC_EINVAL, "%s:%u: norm= and buckets= apply to numeric columns", src,
                              line);
        if (c->width && si->kind == JC_FEAT_CAT)
            return jc_err_set(JC_EINVAL, "%s:%u: width= applies to multi and seq columns", src,
                              line);
        if ((si->dom == JC_DOM_HOUR || si->dom == JC_DOM_WEEKDAY) &&
            (c->vocab[0] || c->min_count >= 0 || c->hash >= 0))
            return jc_err_set(JC_EINVAL,
                              "%s:%u: %s has a fixed vocabulary (no vocab, min_count "
                              "or hash options)",
                              src, line, c->name);
        if ((si->src == JC_SRC_U_GENRES || si->src == JC_SRC_MOVIE_GENRES) &&
            c->width > JC_FEAT_TOP_MAX)
            return jc_err_set(JC_EINVAL, "%s:%u: width of %s must be <= %d", src, line, c->name,
                              JC_FEAT_TOP_MAX);
    }
    return JC_OK;
}

/* ---- compiling ----------------------------------------------------------- */

static int vocab_for(struct jc_featspec *s, const struct parsed_col *c, enum jc_dom dom,
                     const char *src, uint32_t field)
{
    struct jc_feat_layout *L = &s->layout;
    char name[JC_FEAT_NAME_MAX];
    if (dom == JC_DOM_BUCKET)
        snprintf(name, sizeof name, "%s", c->name);
    else
        snprintf(name, sizeof name, "%s", c->vocab[0] ? c->vocab : dom_vocab[dom]);
    int vi = jc_feat_layout_find_vocab(L, name);
    uint32_t min_count = c->min_count >= 0 ? (uint32_t)c->min_count : s->opts.min_count;
    uint32_t hash = c->hash >= 0                                 ? (uint32_t)c->hash
                    : (dom == JC_DOM_USER || dom == JC_DOM_ITEM) ? s->opts.hash_buckets
                                                                 : 0;
    if (vi >= 0) {
        struct jc_fspec_vocab *v = &s->v[vi];
        if (v->dom != dom || dom == JC_DOM_BUCKET)
            return jc_err_set(JC_EINVAL,
                              "%s:%u: column %s cannot share vocabulary '%s' (it holds %s "
                              "values)",
                              src, c->line, c->name, name,
                              v->dom == JC_DOM_BUCKET ? "bucket" : dom_vocab[v->dom]);
        if ((c->min_count >= 0 && (uint32_t)c->min_count != v->min_count) ||
            (c->hash >= 0 && (uint32_t)c->hash != v->hash))
            return jc_err_set(JC_EINVAL,
                              "%s:%u: column %s sets min_count/hash of vocabulary '%s' "
                              "differently from an earlier column",
                              src, c->line, c->name, name);
        return vi;
    }
    if (L->n_vocabs == JC_FEAT_MAX_VOCABS)
        return jc_err_set(JC_ELIMIT, "%s:%u: more than %d vocabularies", src, c->line,
                          JC_FEAT_MAX_VOCABS);
    vi = (int)L->n_vocabs++;
    struct jc_feat_vocab *lv = &L->vocabs[vi];
    snprintf(lv->name, sizeof lv->name, "%s", name);
    struct jc_fspec_vocab *v = &s->v[vi];
    memset(v, 0, sizeof *v);
    v->dom = dom;
    v->anchor = field;
    v->min_count = min_count;
    v->hash = 0;
    switch (dom) {
    case JC_DOM_HOUR:
        lv->size = 24 + 2;
        break;
    case JC_DOM_WEEKDAY:
        lv->size = 7 + 2;
        break;
    case JC_DOM_BUCKET:
        lv->size = c->buckets + 2;
        break;
    default:
        v->hash = hash;
        lv->size = hash ? hash + 2 : 2;
        break;
    }
    return vi;
}

static void spec_free_fitted(struct jc_featspec *s)
{
    for (uint32_t i = 0; i < JC_FEAT_MAX_VOCABS; i++) {
        jc_free(s->v[i].map);
        jc_free(s->v[i].keys);
        s->v[i].map = s->v[i].keys = NULL;
        s->v[i].map_n = s->v[i].n_keys = 0;
    }
    for (uint32_t i = 0; i < JC_FEAT_MAX_FIELDS; i++) {
        jc_free(s->f[i].bounds);
        s->f[i].bounds = NULL;
        s->f[i].n_bounds = 0;
    }
}

void jc_featspec_destroy(struct jc_featspec *s)
{
    if (s == NULL)
        return;
    spec_free_fitted(s);
    jc_free(s->spec_path);
    jc_free(s->columns);
    jc_free(s->text);
    jc_free(s->genre_rank);
    jc_free(s);
}

/* Is name in the comma-separated list? */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == n && memcmp(p, name, n) == 0)
            return 1;
        p = e;
    }
    return 0;
}

static int cmp_genre_name(const void *a, const void *b, void *ctx)
{
    const struct jc_catalog *cat = ctx;
    return strcmp(jc_catalog_genre_name(cat, *(const uint32_t *)a),
                  jc_catalog_genre_name(cat, *(const uint32_t *)b));
}

static int build_genre_rank(struct jc_featspec *s)
{
    s->n_genres = s->cat ? jc_catalog_n_genres(s->cat) : 0;
    size_t n = s->n_genres ? s->n_genres : 1;
    s->genre_rank = jc_calloc(n, sizeof *s->genre_rank);
    uint32_t *ord = jc_malloc_array(n, sizeof *ord);
    if (s->genre_rank == NULL || ord == NULL) {
        jc_free(ord);
        return JC_ENOMEM;
    }
    for (uint32_t g = 0; g < s->n_genres; g++)
        ord[g] = g;
    if (s->n_genres)
        qsort_r(ord, s->n_genres, sizeof *ord, cmp_genre_name, (void *)s->cat);
    for (uint32_t r = 0; r < s->n_genres; r++)
        s->genre_rank[ord[r]] = (uint16_t)(r < 65535 ? r : 65535);
    jc_free(ord);
    return JC_OK;
}

static int canonical_text(struct jc_featspec *s)
{
    struct jc_buf b;
    jc_buf_init(&b, 1 << 20);
    int rc = JC_OK;
    for (uint32_t i = 0; i < s->layout.n_fields && rc == JC_OK; i++) {
        const struct jc_feat_field *lf = &s->layout.fields[i];
        const struct jc_fspec_field *f = &s->f[i];
        rc = jc_buf_printf(&b, "%s %s", lf->name, kind_names[lf->kind]);
        if (rc)
            break;
        if (f->dom == JC_DOM_NUM)
            rc = jc_buf_printf(&b, " norm=%s", norm_names[f->norm]);
        else if (f->dom == JC_DOM_BUCKET)
            rc = jc_buf_printf(&b, " buckets=%u", f->buckets);
        else {
            if (lf->kind != JC_FEAT_CAT)
                rc = jc_buf_printf(&b, " width=%u", lf->width);
            if (rc == JC_OK && f->dom != JC_DOM_HOUR && f->dom != JC_DOM_WEEKDAY) {
                const struct jc_fspec_vocab *v = &s->v[lf->vocab];
                rc = jc_buf_printf(&b, " vocab=%s min_count=%u hash=%u",
                                   s->layout.vocabs[lf->vocab].name, v->min_count, v->hash);
            }
        }
        if (rc == JC_OK)
            rc = jc_buf_append_char(&b, '\n');
    }
    if (rc == JC_OK && b.data == NULL)
        rc = jc_buf_append_str(&b, "");
    if (rc) {
        jc_buf_free(&b);
        return rc;
    }
    s->text = jc_buf_detach(&b, NULL);
    char opts[256];
    int n =
        snprintf(opts, sizeof opts, "|%.9g|%d|%u|%d|%u|%u|%u|%d", (double)s->opts.label_threshold,
                 s->opts.implicit, s->opts.negatives, s->opts.neg_popularity, s->opts.window,
                 s->opts.history, s->opts.min_history, s->opts.missing_year);
    s->id = jc_hash64(s->text, strlen(s->text), jc_hash64(opts, (size_t)n, 0x6a63));
    return JC_OK;
}

/* Compiles the text (already loaded) into s. */
static int compile(struct jc_featspec *s, const char *src, char *text)
{
    struct jc_feat_layout *L = &s->layout;
    memset(L, 0, sizeof *L);
    uint32_t line = 0;
    char *p = text;
    struct parsed_col c;
    while (p && *p) {
        line++;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        int rc = parse_line(src, line, p, &c);
        p = nl ? nl + 1 : NULL;
        if (rc)
            return rc;
        if (c.name[0] == '\0')
            continue;
        if (s->columns && s->columns[0] && !in_list(s->columns, c.name))
            continue;
        if (jc_feat_layout_find(L, c.name) >= 0)
            return jc_err_set(JC_EINVAL, "%s:%u: column %s is listed twice", src, line, c.name);
        if (L->n_fields == JC_FEAT_MAX_FIELDS)
            return jc_err_set(JC_ELIMIT, "%s:%u: more than %d columns", src, line,
                              JC_FEAT_MAX_FIELDS);
        uint32_t fi = L->n_fields++;
        struct jc_feat_field *lf = &L->fields[fi];
        struct jc_fspec_field *f = &s->f[fi];
        memset(f, 0, sizeof *f);
        snprintf(lf->name, sizeof lf->name, "%s", c.name);
        lf->kind = c.kind;
        lf->side = c.si->side;
        f->src = c.si->src;
        f->k = c.k;
        f->dom = c.si->dom;
        f->norm = c.norm;
        if (f->dom == JC_DOM_NUM && c.kind == JC_FEAT_CAT) {
            f->dom = JC_DOM_BUCKET;
            f->buckets = c.buckets;
        }
        if (f->dom == JC_DOM_NUM) {
            lf->width = 1;
            lf->vocab = 0;
            lf->offset = L->n_num++;
            f->std = 1;
            continue;
        }
        if (c.kind == JC_FEAT_CAT)
            lf->width = 1;
        else if (c.width)
            lf->width = c.width;
        else
            lf->width = c.si->src == JC_SRC_U_HISTORY  ? s->opts.history
                        : c.si->src == JC_SRC_U_GENRES ? 5
                                                       : 3;
        if (c.si->src == JC_SRC_U_HISTORY && lf->width > s->opts.history)
            s->opts.history = lf->width;
        int vi = vocab_for(s, &c, f->dom, src, fi);
        if (vi < 0)
            return vi;
        lf->vocab = (uint32_t)vi;
        lf->offset = L->n_cat;
        L->n_cat += lf->width;
        if (f->src == JC_SRC_U_RATED && f->k + 1 > s->need_rated)
            s->need_rated = f->k + 1;
        if (f->src == JC_SRC_U_GENRE && f->k + 1 > s->need_top)
            s->need_top = f->k + 1;
        if (f->src == JC_SRC_U_GENRES && lf->width > s->need_top)
            s->need_top = lf->width;
    }
    if (s->columns && s->columns[0]) {
        /* every listed column must exist in the spec */
        const char *q = s->columns;
        while (*q) {
            while (*q == ' ' || *q == ',')
                q++;
            const char *e = q;
            while (*e && *e != ',')
                e++;
            const char *t = e;
            while (t > q && t[-1] == ' ')
                t--;
            if (t > q) {
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)(t - q), q);
                if (jc_feat_layout_find(L, name) < 0)
                    return jc_err_set(JC_EINVAL,
                                      "features.columns: column '%s' is not in the spec (%s)", name,
                                      src);
            }
            q = e;
        }
    }
    if (L->n_fields == 0)
        return jc_err_set(JC_EINVAL, "%s: the spec has no columns", src);
    for (uint32_t i = 0; i < L->n_fields; i++)
        if (s->f[i].src == JC_SRC_M_COUNT || s->f[i].src == JC_SRC_M_AVG ||
            s->f[i].src == JC_SRC_M_STD)
            s->has_item_state = 1;
    for (unsigned m = 0; m < 8; m++) {
        s->n_side_fields[m] = 0;
        for (uint32_t i = 0; i < L->n_fields; i++)
            if (m & (1u << L->fields[i].side))
                s->side_fields[m][s->n_side_fields[m]++] = (uint8_t)i;
    }
    uint32_t slots = L->n_cat + L->n_num;
    s->raw_size = JC_RAW_HEAD_SIZE + 4 * slots;
    s->raw_size = (s->raw_size + 7u) & ~7u;
    return canonical_text(s);
}

static int spec_alloc(struct jc_featspec **out, const struct jc_featspec_opts *o,
                      const struct jc_catalog *cat)
{
    if (o->window < 1 || o->window > JC_USTATE_WINDOW_MAX || o->history < 1 ||
        o->history > JC_USTATE_HISTORY_MAX)
        return jc_err_set(JC_EINVAL, "features: window must be in [1, %d] and history in [1, %d]",
                          JC_USTATE_WINDOW_MAX, JC_USTATE_HISTORY_MAX);
    if (!(o->label_threshold == o->label_threshold))
        return jc_err_set(JC_EINVAL, "features: label_threshold is not a number");
    struct jc_featspec *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    s->opts = *o;
    s->cat = cat;
    if ((o->spec_path && !(s->spec_path = jc_strdup(o->spec_path))) ||
        (o->columns && !(s->columns = jc_strdup(o->columns)))) {
        jc_featspec_destroy(s);
        return JC_ENOMEM;
    }
    s->opts.spec_path = s->spec_path;
    s->opts.columns = s->columns;
    s->opts.spec_text = NULL;
    int rc = build_genre_rank(s);
    if (rc) {
        jc_featspec_destroy(s);
        return rc;
    }
    *out = s;
    return JC_OK;
}

int jc_featspec_create(struct jc_featspec **out, const struct jc_featspec_opts *o,
                       const struct jc_catalog *cat)
{
    struct jc_featspec *s = NULL;
    int rc = spec_alloc(&s, o, cat);
    if (rc)
        return rc;
    char *text = NULL;
    const char *src;
    if (o->spec_path && o->spec_path[0]) {
        size_t len;
        rc = jc_file_read_all(o->spec_path, SPEC_FILE_MAX, &text, &len);
        if (rc) {
            jc_featspec_destroy(s);
            if (rc == JC_ENOTFOUND)
                return jc_err_set(JC_ENOTFOUND, "feature spec %s: no such file", o->spec_path);
            return jc_err_prefix(rc, "feature spec %s", o->spec_path);
        }
        if (memchr(text, '\0', len) != NULL) {
            jc_free(text);
            jc_featspec_destroy(s);
            return jc_err_set(JC_EPARSE, "feature spec %s: contains NUL bytes", o->spec_path);
        }
        src = o->spec_path;
    } else {
        text = jc_strdup(o->spec_text ? o->spec_text : builtin_spec);
        if (text == NULL) {
            jc_featspec_destroy(s);
            return JC_ENOMEM;
        }
        src = o->spec_text ? "<spec text>" : "<built-in spec>";
    }
    rc = compile(s, src, text);
    jc_free(text);
    if (rc) {
        jc_featspec_destroy(s);
        return rc;
    }
    *out = s;
    return JC_OK;
}

const struct jc_feat_layout *jc_featspec_layout(const struct jc_featspec *s)
{
    return &s->layout;
}

const struct jc_featspec_opts *jc_featspec_options(const struct jc_featspec *s)
{
    return &s->opts;
}

int jc_featspec_is_fitted(const struct jc_featspec *s)
{
    return s->fitted;
}

uint64_t jc_featspec_id(const struct jc_featspec *s)
{
    return s->id;
}

const char *jc_featspec_text(const struct jc_featspec *s)
{
    return s->text;
}

const struct jc_catalog *jc_featspec_catalog(const struct jc_featspec *s)
{
    return s->cat;
}

uint32_t jc_featspec_raw_row_size(const struct jc_featspec *s)
{
    return s->raw_size;
}

int jc_featspec__find_src(const struct jc_featspec *s, enum jc_src src, uint32_t k)
{
    for (uint32_t i = 0; i < s->layout.n_fields; i++)
        if (s->f[i].src == src && s->f[i].k == k)
            return (int)i;
    return -1;
}

/* ---- vocabularies ---------------------------------------------------------- */

uint32_t jc_featspec__domain_raw_n(const struct jc_featspec *s, enum jc_dom d)
{
    if (s->cat == NULL)
        return 1;
    switch (d) {
    case JC_DOM_USER:
        return jc_catalog_n_users(s->cat) + 1;
    case JC_DOM_ITEM:
        return jc_catalog_n_items(s->cat) + 1;
    case JC_DOM_GENRE:
        return jc_catalog_n_genres(s->cat) + 1;
    default:
        return 0;
    }
}

static const char *raw_key(const struct jc_catalog *cat, enum jc_dom d, uint32_t raw)
{
    switch (d) {
    case JC_DOM_USER:
        return jc_catalog_user_ext_id(cat, raw - 1);
    case JC_DOM_ITEM:
        return jc_catalog_item_ext_id(cat, raw - 1);
    case JC_DOM_GENRE:
        return jc_catalog_genre_name(cat, raw - 1);
    default:
        return "";
    }
}

/* Hash-mode map over the spec's catalog. */
static int build_hash_map(struct jc_featspec *s, uint32_t vi)
{
    struct jc_fspec_vocab *v = &s->v[vi];
    uint32_t n = jc_featspec__domain_raw_n(s, v->dom);
    uint32_t *map = jc_malloc_array(n ? n : 1, sizeof *map);
    if (map == NULL)
        return JC_ENOMEM;
    map[0] = JC_FEAT_PAD;
    for (uint32_t r = 1; r < n; r++) {
        const char *k = raw_key(s->cat, v->dom, r);
        map[r] = 2 + (uint32_t)(jc_hash64(k, strlen(k), 0x686173) % v->hash);
    }
    jc_free(v->map);
    v->map = map;
    v->map_n = n;
    return JC_OK;
}

struct count_ent {
    uint32_t raw;
    uint64_t count;
};

static int cmp_count(const void *a, const void *b)
{
    const struct count_ent *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->raw < y->raw ? -1 : x->raw > y->raw;
}

int jc_featspec__fit_vocab(struct jc_featspec *s, uint32_t vi, const uint64_t *counts)
{
    struct jc_fspec_vocab *v = &s->v[vi];
    struct jc_feat_vocab *lv = &s->layout.vocabs[vi];
    if (v->dom != JC_DOM_USER && v->dom != JC_DOM_ITEM && v->dom != JC_DOM_GENRE)
        return JC_OK; /* fixed vocabularies */
    if (v->hash)
        return build_hash_map(s, vi);
    uint32_t n = jc_featspec__domain_raw_n(s, v->dom);
    struct count_ent *e = jc_malloc_array(n ? n : 1, sizeof *e);
    uint32_t *map = jc_malloc_array(n ? n : 1, sizeof *map);
    if (e == NULL || map == NULL) {
        jc_free(e);
        jc_free(map);
        return JC_ENOMEM;
    }
    uint32_t m = 0;
    for (uint32_t r = 1; r < n; r++)
        if (counts[r] >= v->min_count && counts[r] > 0)
            e[m++] = (struct count_ent){r, counts[r]};
    qsort(e, m, sizeof *e, cmp_count);
    uint32_t *keys = jc_malloc_array(m ? m : 1, sizeof *keys);
    if (keys == NULL) {
        jc_free(e);
        jc_free(map);
        return JC_ENOMEM;
    }
    for (uint32_t r = 0; r < n; r++)
        map[r] = r == 0 ? JC_FEAT_PAD : JC_FEAT_OOV;
    for (uint32_t i = 0; i < m; i++) {
        keys[i] = e[i].raw;
        map[e[i].raw] = 2 + i;
    }
    jc_free(e);
    jc_free(v->map);
    jc_free(v->keys);
    v->map = map;
    v->map_n = n;
    v->keys = keys;
    v->n_keys = m;
    lv->size = m + 2;
    return JC_OK;
}

void jc_featspec__mark_fitted(struct jc_featspec *s)
{
    s->fitted = 1;
    s->cat_checksum = s->cat ? jc_catalog_checksum(s->cat) : 0;
}

void jc_featspec__unfit(struct jc_featspec *s)
{
    spec_free_fitted(s);
    for (uint32_t i = 0; i < s->layout.n_vocabs; i++) {
        const struct jc_fspec_vocab *v = &s->v[i];
        if (v->hash == 0 &&
            (v->dom == JC_DOM_USER || v->dom == JC_DOM_ITEM || v->dom == JC_DOM_GENRE))
            s->layout.vocabs[i].size = 2;
    }
    for (uint32_t i = 0; i < s->layout.n_fields; i++) {
        s->f[i].mean = s->f[i].min = s->f[i].max = 0;
        s->f[i].std = 1;
    }
    s->fitted = 0;
    s->cat_checksum = 0;
}

/* ---- blobs ------------------------------------------------------------------ */

int jc_featspec_save_blob(const struct jc_featspec *s, void **blob, size_t *n)
{
    if (!s->fitted)
        return jc_err_set(JC_ESTATE, "feature spec is not fitted (build samples first)");
    struct jc_buf b;
    jc_buf_init(&b, (size_t)1 << 31);
    char hdr[32] = {0};
    int rc = jc_buf_append(&b, hdr, sizeof hdr);
    rc = rc ? rc : jc_bin_str(&b, s->text, strlen(s->text));
    rc = rc ? rc : jc_bin_f64(&b, s->opts.label_threshold);
    uint32_t ov[9] = {(uint32_t)s->opts.implicit,
                      s->opts.negatives,
                      (uint32_t)s->opts.neg_popularity,
                      s->opts.window,
                      s->opts.history,
                      s->opts.min_history,
                      s->opts.min_count,
                      s->opts.hash_buckets,
                      (uint32_t)s->opts.missing_year};
    rc = rc ? rc : jc_buf_append(&b, ov, sizeof ov);
    rc = rc ? rc : jc_bin_u64(&b, s->cat_checksum);
    rc = rc ? rc : jc_bin_u32(&b, s->layout.n_vocabs);
    for (uint32_t i = 0; i < s->layout.n_vocabs && rc == JC_OK; i++) {
        const struct jc_fspec_vocab *v = &s->v[i];
        rc = jc_bin_u32(&b, (uint32_t)v->dom);
        rc = rc ? rc : jc_bin_u32(&b, s->layout.vocabs[i].size);
        rc = rc ? rc : jc_bin_u32(&b, v->map_n);
        if (rc == JC_OK && v->map_n)
            rc = jc_buf_append(&b, v->map, (size_t)v->map_n * 4);
        rc = rc ? rc : jc_bin_u32(&b, v->n_keys);
        for (uint32_t k = 0; k < v->n_keys && rc == JC_OK; k++) {
            const char *key = s->cat ? raw_key(s->cat, v->dom, v->keys[k]) : "";
            rc = jc_bin_u32(&b, v->keys[k]);
            rc = rc ? rc : jc_bin_str(&b, key, strlen(key));
        }
    }
    rc = rc ? rc : jc_bin_u32(&b, s->layout.n_fields);
    for (uint32_t i = 0; i < s->layout.n_fields && rc == JC_OK; i++) {
        const struct jc_fspec_field *f = &s->f[i];
        rc = jc_bin_f64(&b, f->mean);
        rc = rc ? rc : jc_bin_f64(&b, f->std);
        rc = rc ? rc : jc_bin_f64(&b, f->min);
        rc = rc ? rc : jc_bin_f64(&b, f->max);
        rc = rc ? rc : jc_bin_u32(&b, f->n_bounds);
        if (rc == JC_OK && f->n_bounds)
            rc = jc_buf_append(&b, f->bounds, (size_t)f->n_bounds * 4);
    }
    if (rc) {
        jc_buf_free(&b);
        return rc;
    }
    uint64_t body = b.len - sizeof hdr;
    uint64_t sum = jc_hash64(b.data + sizeof hdr, body, 0);
    uint32_t ver = JC_FEATSPEC_FORMAT_VERSION, zero = 0;
    memcpy(b.data, BLOB_MAGIC, 8);
    memcpy(b.data + 8, &ver, 4);
    memcpy(b.data + 12, &zero, 4);
    memcpy(b.data + 16, &body, 8);
    memcpy(b.data + 24, &sum, 8);
    *blob = jc_buf_detach(&b, n);
    return JC_OK;
}

static int resolve_key(const struct jc_catalog *cat, enum jc_dom d, const char *k, uint32_t n,
                       uint32_t *raw)
{
    uint32_t id;
    int found = 0;
    if (d == JC_DOM_USER)
        found = jc_catalog_find_user(cat, k, n, &id);
    else if (d == JC_DOM_ITEM)
        found = jc_catalog_find_item(cat, k, n, &id);
    else if (d == JC_DOM_GENRE) {
        char name[256];
        if (n < sizeof name) {
            memcpy(name, k, n);
            name[n] = '\0';
            found = jc_catalog_find_genre(cat, name, &id);
        }
    }
    if (found)
        *raw = id + 1;
    return found;
}

int jc_featspec_load_blob(struct jc_featspec **out, const void *blob, size_t n,
                          const struct jc_catalog *cat)
{
    const uint8_t *p = blob;
    if (n < 32 || memcmp(p, BLOB_MAGIC, 8) != 0)
        return jc_err_set(JC_ECORRUPT, "feature spec blob: bad magic or truncated (%zu bytes)", n);
    uint32_t ver;
    uint64_t body, sum;
    memcpy(&ver, p + 8, 4);
    memcpy(&body, p + 16, 8);
    memcpy(&sum, p + 24, 8);
    if (ver != JC_FEATSPEC_FORMAT_VERSION)
        return jc_err_set(JC_EVERSION, "feature spec blob: format version %u (expected %d)", ver,
                          JC_FEATSPEC_FORMAT_VERSION);
    if (body != n - 32)
        return jc_err_set(JC_ECORRUPT, "feature spec blob: length %zu, header says %llu", n - 32,
                          (unsigned long long)body);
    if (jc_hash64(p + 32, body, 0) != sum)
        return jc_err_set(JC_ECORRUPT, "feature spec blob: checksum mismatch");
    struct jc_bin_rd r = {p + 32, body, 0, 0};
    uint32_t tlen;
    const char *t = jc_rd_str(&r, &tlen);
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    o.label_threshold = (float)jc_rd_f64(&r);
    uint32_t ov[9];
    jc_rd_bytes(&r, ov, sizeof ov);
    if (r.bad)
        return jc_err_set(JC_ECORRUPT, "feature spec blob: truncated");
    o.implicit = (int)ov[0];
    o.negatives = ov[1];
    o.neg_popularity = (int)ov[2];
    o.window = ov[3];
    o.history = ov[4];
    o.min_history = ov[5];
    o.min_count = ov[6];
    o.hash_buckets = ov[7];
    o.missing_year = (int32_t)ov[8];
    char *text = jc_strndup(t, tlen);
    if (text == NULL)
        return JC_ENOMEM;
    o.spec_text = text;
    struct jc_featspec *s = NULL;
    int rc = jc_featspec_create(&s, &o, cat);
    jc_free(text);
    if (rc)
        return jc_err_prefix(rc, "feature spec blob");
    s->cat_checksum = jc_rd_u64(&r);
    uint32_t nv = jc_rd_u32(&r);
    if (r.bad || nv != s->layout.n_vocabs) {
        jc_featspec_destroy(s);
        return jc_err_set(JC_ECORRUPT, "feature spec blob: vocabulary table does not match");
    }
    for (uint32_t i = 0; i < nv && rc == JC_OK; i++) {
        struct jc_fspec_vocab *v = &s->v[i];
        uint32_t dom = jc_rd_u32(&r), size = jc_rd_u32(&r), map_n = jc_rd_u32(&r);
        if (r.bad || dom != (uint32_t)v->dom || (uint64_t)map_n * 4 > r.n - r.off) {
            rc = jc_err_set(JC_ECORRUPT, "feature spec blob: vocabulary %u is damaged", i);
            break;
        }
        s->layout.vocabs[i].size = size;
        const uint8_t *stored_map = r.p + r.off;
        r.off += (size_t)map_n * 4;
        uint32_t nk = jc_rd_u32(&r);
        if (r.bad || nk > size || (uint64_t)nk * 8 > r.n - r.off) {
            rc = jc_err_set(JC_ECORRUPT, "feature spec blob: vocabulary %u is damaged", i);
            break;
        }
        v->keys = jc_malloc_array(nk ? nk : 1, sizeof *v->keys);
        if (v->keys == NULL) {
            rc = JC_ENOMEM;
            break;
        }
        v->n_keys = nk;
        int by_key = cat != NULL && !v->hash && nk > 0;
        uint32_t cat_n = by_key ? jc_featspec__domain_raw_n(s, v->dom) : 0;
        if (by_key) {
            v->map = jc_malloc_array(cat_n ? cat_n : 1, sizeof *v->map);
            if (v->map == NULL) {
                rc = JC_ENOMEM;
                break;
            }
            v->map_n = cat_n;
            for (uint32_t x = 0; x < cat_n; x++)
                v->map[x] = x == 0 ? JC_FEAT_PAD : JC_FEAT_OOV;
        }
        for (uint32_t k = 0; k < nk; k++) {
            uint32_t raw = jc_rd_u32(&r), kl;
            const char *key = jc_rd_str(&r, &kl);
            if (r.bad)
                break;
            v->keys[k] = raw;
            if (by_key) {
                uint32_t cur;
                if (resolve_key(cat, v->dom, key, kl, &cur)) {
                    v->map[cur] = 2 + k;
                    v->keys[k] = cur;
                } else {
                    v->keys[k] = 0; /* not in this catalog */
                }
            }
        }
        if (r.bad) {
            rc = jc_err_set(JC_ECORRUPT, "feature spec blob: vocabulary %u is truncated", i);
            break;
        }
        if (!by_key && map_n) {
            if (v->hash && cat) {
                rc = build_hash_map(s, i);
            } else {
                v->map = jc_malloc_array(map_n, sizeof *v->map);
                if (v->map == NULL) {
                    rc = JC_ENOMEM;
                    break;
                }
                memcpy(v->map, stored_map, (size_t)map_n * 4);
                v->map_n = map_n;
                for (uint32_t x = 0; x < map_n; x++)
                    if (v->map[x] >= size) {
                        rc = jc_err_set(JC_ECORRUPT,
                                        "feature spec blob: vocabulary %u maps past its size", i);
                        break;
                    }
            }
        }
    }
    uint32_t nf = rc ? 0 : jc_rd_u32(&r);
    if (rc == JC_OK && (r.bad || nf != s->layout.n_fields))
        rc = jc_err_set(JC_ECORRUPT, "feature spec blob: field table does not match");
    for (uint32_t i = 0; i < nf && rc == JC_OK; i++) {
        struct jc_fspec_field *f = &s->f[i];
        f->mean = jc_rd_f64(&r);
        f->std = jc_rd_f64(&r);
        f->min = jc_rd_f64(&r);
        f->max = jc_rd_f64(&r);
        uint32_t nb = jc_rd_u32(&r);
        if (r.bad || (uint64_t)nb * 4 > r.n - r.off || (nb && f->dom != JC_DOM_BUCKET) ||
            (f->dom == JC_DOM_BUCKET && nb >= f->buckets)) {
            rc =
                jc_err_set(JC_ECORRUPT, "feature spec blob: statistics of field %u are damaged", i);
            break;
        }
        if (nb) {
            f->bounds = jc_malloc_array(nb, sizeof *f->bounds);
            if (f->bounds == NULL) {
                rc = JC_ENOMEM;
                break;
            }
            jc_rd_bytes(&r, f->bounds, (size_t)nb * 4);
            f->n_bounds = nb;
        }
    }
    if (rc == JC_OK && r.off != r.n)
        rc = jc_err_set(JC_ECORRUPT, "feature spec blob: %zu trailing bytes", r.n - r.off);
    if (rc) {
        jc_featspec_destroy(s);
        return rc;
    }
    s->fitted = 1;
    *out = s;
    return JC_OK;
}
