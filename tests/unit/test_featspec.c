/*
 * test_featspec.c - feature specs, point-in-time state and rows: spec
 * errors, the default layout, exact values of every reference column on the
 * hand-built fixture (computed by hand below), the equal-timestamp rule,
 * point-in-time stability when later events are added, online/offline
 * parity (jc_featspec_build_batch == finished sample rows), state encodings,
 * spec blobs, normalisation and buckets.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "feature/feat_int.h"
#include <junco/error.h>
#include <junco/featspec.h>
#include <junco/samples.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test_feat_fixture.h"

/* raw ids of the fixture (catalog id + 1) */
enum { I10 = 1, I20 = 2, I30 = 3, I40 = 4, I50 = 5 };
enum { G_COMEDY = 1, G_DRAMA = 2, G_ACTION = 3 };

static struct jc_featspec *spec_from(const char *text, struct jc_catalog *cat)
{
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    o.spec_text = text;
    struct jc_featspec *s = NULL;
    assert_int_equal(jc_featspec_create(&s, &o, cat), JC_OK);
    return s;
}

static int spec_error(const char *text, const char *columns, const char *want)
{
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    o.spec_text = text;
    o.columns = columns;
    struct jc_featspec *s = NULL;
    int rc = jc_featspec_create(&s, &o, NULL);
    assert_null(s);
    if (strstr(jc_errmsg(), want) == NULL) {
        print_message("message: %s\nwanted: %s\n", jc_errmsg(), want);
        fail();
    }
    return rc;
}

static void test_spec_errors(void **state)
{
    (void)state;
    assert_int_equal(
        spec_error("userId cat\nfoo num\n", NULL, "<spec text>:2: unknown column 'foo'"),
        JC_EINVAL);
    spec_error("userId num\n", NULL,
               "<spec text>:1: column userId holds an id; kind num is impossible (use cat)");
    spec_error("movieAvgRating seq\n", NULL,
               "column movieAvgRating holds a number; kind seq is impossible");
    spec_error("movieAvgRating cat\n", NULL, "kind cat needs buckets=N");
    spec_error("userHistory cat\n", NULL, "holds a sequence of ids; kind cat is impossible");
    spec_error("userId cat colour=red\n", NULL, "unknown option 'colour'");
    spec_error("userId cat\nuserId cat\n", NULL, ":2: column userId is listed twice");
    spec_error("userId cat width=3\n", NULL, "width= applies to multi and seq columns");
    spec_error("hour cat hash=10\n", NULL, "hour has a fixed vocabulary");
    spec_error("userId frob\n", NULL, "unknown kind 'frob'");
    spec_error("movieGenre0 cat\n", NULL, "unknown column 'movieGenre0'");
    spec_error("movieGenre17 cat\n", NULL, "unknown column 'movieGenre17'");
    spec_error("releaseYear num norm=zscore\n", NULL, "norm=zscore: expected none");
    spec_error("userId cat vocab=genre\nmovieGenre1 cat\n", NULL,
               "column movieGenre1 cannot share vocabulary 'genre' (it holds user values)");
    spec_error("userId cat\nmovieId cat\n", "userId,bogus",
               "features.columns: column 'bogus' is not in the spec");
    spec_error("# nothing\n", NULL, "the spec has no columns");
    /* a missing spec file, before any work */
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    o.spec_path = jc_test_path("no-such-spec.txt");
    struct jc_featspec *s = NULL;
    assert_int_equal(jc_featspec_create(&s, &o, NULL), JC_ENOTFOUND);
    assert_non_null(strstr(jc_errmsg(), "no-such-spec.txt: no such file"));
    /* a spec file's errors name the file and line */
    const char *p = jc_test_path("bad.spec");
    jc_test_write_file(p, "# comment\nuserId cat\n\nmovieId multi\n");
    o.spec_path = p;
    assert_int_equal(jc_featspec_create(&s, &o, NULL), JC_EINVAL);
    char want[4200];
    snprintf(want, sizeof want, "%s:4: column movieId holds an id; kind multi is impossible", p);
    assert_non_null(strstr(jc_errmsg(), want));
}

static void test_default_layout(void **state)
{
    (void)state;
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    struct jc_featspec *s;
    assert_int_equal(jc_featspec_create(&s, &o, NULL), JC_OK);
    const struct jc_feat_layout *L = jc_featspec_layout(s);
    assert_int_equal(L->n_fields, 27);
    assert_int_equal(L->n_cat, 37); /* 1+1+3+5+5+20+1+1 */
    assert_int_equal(L->n_num, 9);
    assert_int_equal(jc_featspec_raw_row_size(s), 24 + 4 * 46);
    int f = jc_feat_layout_find(L, "userHistory");
    assert_true(f >= 0);
    assert_int_equal(L->fields[f].kind, JC_FEAT_SEQ);
    assert_int_equal(L->fields[f].width, 20);
    assert_int_equal(L->fields[f].side, JC_SIDE_USER);
    int item = jc_feat_layout_find_vocab(L, "item");
    assert_int_equal(L->fields[f].vocab, item);
    assert_int_equal(L->fields[jc_feat_layout_find(L, "movieId")].vocab, item);
    assert_int_equal(L->fields[jc_feat_layout_find(L, "userRatedMovie3")].vocab, item);
    assert_int_equal(L->fields[jc_feat_layout_find(L, "movieId")].side, JC_SIDE_ITEM);
    assert_int_equal(L->fields[jc_feat_layout_find(L, "hour")].side, JC_SIDE_CONTEXT);
    assert_int_equal(L->vocabs[jc_feat_layout_find_vocab(L, "hour")].size, 26);
    assert_int_equal(L->vocabs[jc_feat_layout_find_vocab(L, "weekday")].size, 9);
    const struct jc_feat_field *yr = &L->fields[jc_feat_layout_find(L, "releaseYear")];
    assert_int_equal(yr->kind, JC_FEAT_NUM);
    assert_int_equal(yr->offset, 0);
    assert_int_equal(L->fields[jc_feat_layout_find(L, "userRatingStddev")].offset, 8);
    /* columns filter keeps spec order */
    jc_featspec_destroy(s);
    o.columns = "movieId, userId ,userHistory";
    assert_int_equal(jc_featspec_create(&s, &o, NULL), JC_OK);
    L = jc_featspec_layout(s);
    assert_int_equal(L->n_fields, 3);
    assert_string_equal(L->fields[0].name, "userId");
    assert_string_equal(L->fields[2].name, "userHistory");
    assert_int_equal(L->n_cat, 22);
    assert_int_equal(L->n_num, 0);
    /* the canonical text re-parses to the same id */
    struct jc_featspec *t = spec_from(jc_featspec_text(s), NULL);
    assert_int_equal(jc_featspec_id(t), jc_featspec_id(s));
    jc_featspec_destroy(t);
    jc_featspec_destroy(s);
}

static void test_context(void **state)
{
    (void)state;
    struct jc_feat_context c;
    jc_feat_context_from_time(&c, 300);
    assert_int_equal(c.hour, 0);
    assert_int_equal(c.weekday, 3);           /* 1970-01-01 was a Thursday */
    jc_feat_context_from_time(&c, 964982703); /* 2000-07-30 18:45:03 UTC, a Sunday */
    assert_int_equal(c.hour, 18);
    assert_int_equal(c.weekday, 6);
    jc_feat_context_from_time(&c, -1); /* 1969-12-31 23:59:59, a Wednesday */
    assert_int_equal(c.hour, 23);
    assert_int_equal(c.weekday, 2);
}

/* User state of user 1 after its first four events, read by hand. */
static void test_user_state_exact(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-state.jcat"), 0);
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    struct jc_featspec *s;
    assert_int_equal(jc_featspec_create(&s, &o, cat), JC_OK);
    struct jc_user_state u;
    jc_user_state_init(&u, s);
    jc_user_state_add(&u, s, 0, 4.0f, 100); /* 10 */
    jc_user_state_add(&u, s, 1, 3.0f, 200); /* 20 */
    jc_user_state_add(&u, s, 2, 5.0f, 200); /* 30 */
    jc_user_state_add(&u, s, 3, 4.5f, 300); /* 40 */
    struct jc_user_feats f;
    jc_user_state_features(&u, s, &f);
    assert_int_equal(f.n_events, 4);
    assert_int_equal(f.rating_count, 4);
    /* ratings 4, 3, 5, 4.5: mean 4.125, sum of squared deviations 2.1875 */
    assert_double_near(f.avg_rating, 4.125, 1e-6);
    assert_double_near(f.std_rating, sqrt(2.1875 / 3), 1e-6);
    /* years 1995, 2000, 1990 (missing), 2010: mean 1998.75, ssd 218.75 */
    assert_double_near(f.avg_year, 1998.75, 1e-3);
    assert_double_near(f.std_year, sqrt(218.75 / 3), 1e-5);
    /* positives (>= 3.5) newest first: 40, 30, 10 */
    assert_int_equal(f.n_rated, 3);
    assert_int_equal(f.rated[0], 3);
    assert_int_equal(f.rated[1], 2);
    assert_int_equal(f.rated[2], 0);
    /* genres among positives: Comedy 2, Drama 2, Action 1; tie by name */
    assert_int_equal(f.n_top_genres, 3);
    assert_string_equal(jc_catalog_genre_name(cat, f.top_genres[0]), "Comedy");
    assert_string_equal(jc_catalog_genre_name(cat, f.top_genres[1]), "Drama");
    assert_string_equal(jc_catalog_genre_name(cat, f.top_genres[2]), "Action");
    assert_int_equal(f.n_hist, 3);
    assert_int_equal(f.hist[0], 3);
    /* a window of 2 keeps the last two events only, genre counts follow */
    jc_featspec_destroy(s);
    o.window = 2;
    o.history = 2;
    assert_int_equal(jc_featspec_create(&s, &o, cat), JC_OK);
    jc_user_state_init(&u, s);
    jc_user_state_add(&u, s, 0, 4.0f, 100);
    jc_user_state_add(&u, s, 1, 3.0f, 200);
    jc_user_state_add(&u, s, 2, 5.0f, 200);
    jc_user_state_add(&u, s, 3, 4.5f, 300);
    jc_user_state_features(&u, s, &f);
    assert_int_equal(f.rating_count, 2);
    assert_double_near(f.avg_rating, 4.75, 1e-6);
    assert_int_equal(f.n_rated, 2); /* 40, 30 */
    assert_int_equal(f.rated[0], 3);
    assert_int_equal(f.rated[1], 2);
    assert_int_equal(f.n_top_genres, 3); /* only item 30's genres: all 1, by name */
    assert_string_equal(jc_catalog_genre_name(cat, f.top_genres[0]), "Action");
    assert_string_equal(jc_catalog_genre_name(cat, f.top_genres[2]), "Drama");
    assert_int_equal(u.genre_count[0] + u.genre_count[1] + u.genre_count[2], 3);
    assert_int_equal(f.n_hist, 2);
    /* item state */
    struct jc_item_state it;
    struct jc_item_feats itf;
    jc_item_state_init(&it);
    jc_item_state_features(&it, &itf);
    assert_int_equal(itf.rating_count, 0);
    assert_true(itf.avg_rating == 0 && itf.std_rating == 0);
    jc_item_state_add(&it, 3.0f, 50);
    jc_item_state_features(&it, &itf);
    assert_true(itf.rating_count == 1 && itf.avg_rating == 3.0f && itf.std_rating == 0);
    jc_item_state_add(&it, 5.0f, 350);
    jc_item_state_features(&it, &itf);
    assert_double_near(itf.std_rating, sqrt(2.0), 1e-6);
    jc_featspec_destroy(s);
    jc_catalog_close(cat);
}

static struct jc_samples *build_samples(struct jc_catalog *cat, const char *dir,
                                        struct jc_featspec **spec_out, const char *text,
                                        double valid, double test)
{
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    o.spec_text = text;
    struct jc_featspec *s;
    assert_int_equal(jc_featspec_create(&s, &o, cat), JC_OK);
    struct jc_samples_opts so;
    jc_samples_opts_default(&so);
    so.dir = dir;
    so.valid = valid;
    so.test = test;
    so.threads = 1;
    struct jc_samples_report rep;
    assert_int_equal(jc_samples_build(cat, s, &so, &rep), JC_OK);
    assert_true(jc_featspec_is_fitted(s));
    struct jc_samples *sm;
    assert_int_equal(jc_samples_open(&sm, dir, JC_SPLIT_TRAIN, JC_SAMPLES_VERIFY), JC_OK);
    if (spec_out)
        *spec_out = s;
    else
        jc_featspec_destroy(s);
    return sm;
}

static uint32_t rcat(const struct jc_featspec *s, const uint8_t *row, const char *name, uint32_t k)
{
    const struct jc_feat_layout *L = jc_featspec_layout(s);
    int f = jc_feat_layout_find(L, name);
    assert_true(f >= 0);
    uint32_t v;
    memcpy(&v, row + 24 + 4 * (L->fields[f].offset + k), 4);
    return v;
}

static float rnum(const struct jc_featspec *s, const uint8_t *row, const char *name)
{
    const struct jc_feat_layout *L = jc_featspec_layout(s);
    int f = jc_feat_layout_find(L, name);
    assert_true(f >= 0);
    float v;
    memcpy(&v, row + 24 + 4 * (L->n_cat + L->fields[f].offset), 4);
    return v;
}

struct want_row {
    uint32_t user, item; /* raw */
    int64_t time;
    float value, label;
    uint32_t genres[3];
    float year, m_count, m_avg, m_std;
    uint32_t rated[5];
    float u_count, u_avg_year, u_std_year, u_avg, u_std;
    uint32_t u_genres[5];
    uint32_t hist[3];
};

/* Every reference column of the fixture's five rows, computed by hand (see
 * test_feat_fixture.h; min_history 2 drops each user's first two
 * timestamps, user 3 never has two earlier events). */
static const struct want_row want_rows[5] = {
    /* user 1, item 40 at 300: earlier 10 (4.0), 20 (3.0), 30 (5.0) */
    {1,
     I40,
     300,
     4.5f,
     1,
     {0, 0, 0},
     2010,
     0,
     0,
     0,
     {I30, I10, 0, 0, 0},
     3,
     1995,
     5.0f,
     4.0f,
     1.0f,
     {G_COMEDY, G_DRAMA, G_ACTION, 0, 0},
     {I30, I10, 0}},
    /* user 1, item 50 at 400: + 40 (4.5); item 50 before 400: 3.0 (t50), 5.0 (t350) */
    {1,
     I50,
     400,
     2.0f,
     0,
     {G_COMEDY, 0, 0},
     1980,
     2,
     4.0f,
     1.41421356f,
     {I40, I30, I10, 0, 0},
     4,
     1998.75f,
     8.5391256f,
     4.125f,
     0.85391256f,
     {G_COMEDY, G_DRAMA, G_ACTION, 0, 0},
     {I40, I30, I10}},
    /* user 2, item 20 at 300: earlier 10 (2.0), 30 (4.0); item 20 before 300: 3.0 */
    {2,
     I20,
     300,
     5.0f,
     1,
     {G_ACTION, 0, 0},
     2000,
     1,
     3.0f,
     0,
     {I30, 0, 0, 0, 0},
     2,
     1992.5f,
     3.5355339f,
     3.0f,
     1.41421356f,
     {G_ACTION, G_COMEDY, G_DRAMA, 0, 0},
     {I30, 0, 0}},
    /* user 2, item 40 at 300: item 40's other event is at 300 too -> unseen */
    {2,
     I40,
     300,
     3.0f,
     0,
     {0, 0, 0},
     2010,
     0,
     0,
     0,
     {I30, 0, 0, 0, 0},
     2,
     1992.5f,
     3.5355339f,
     3.0f,
     1.41421356f,
     {G_ACTION, G_COMEDY, G_DRAMA, 0, 0},
     {I30, 0, 0}},
    /* user 2, item 50 at 350: earlier 10, 30, 20, 40; positives 30 (4.0), 20 (5.0) */
    {2,
     I50,
     350,
     5.0f,
     1,
     {G_COMEDY, 0, 0},
     1980,
     1,
     3.0f,
     0,
     {I20, I30, 0, 0, 0},
     4,
     1998.75f,
     8.5391256f,
     3.5f,
     1.2909944f,
     {G_ACTION, G_COMEDY, G_DRAMA, 0, 0},
     {I20, I30, 0}},
};

static void check_row(const struct jc_featspec *s, const uint8_t *row, const struct want_row *w)
{
    struct jc_raw_head h;
    memcpy(&h, row, sizeof h);
    assert_int_equal(h.user + 1, w->user);
    assert_int_equal(h.item + 1, w->item);
    assert_int_equal(h.time, w->time);
    assert_true(h.value == w->value && h.label == w->label);
    assert_int_equal(rcat(s, row, "userId", 0), w->user);
    assert_int_equal(rcat(s, row, "movieId", 0), w->item);
    char name[32];
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "movieGenre%d", k + 1);
        assert_int_equal(rcat(s, row, name, 0), w->genres[k]);
    }
    assert_true(rnum(s, row, "releaseYear") == w->year);
    assert_true(rnum(s, row, "movieRatingCount") == w->m_count);
    assert_double_near(rnum(s, row, "movieAvgRating"), w->m_avg, 1e-6);
    assert_double_near(rnum(s, row, "movieRatingStddev"), w->m_std, 1e-6);
    for (int k = 0; k < 5; k++) {
        snprintf(name, sizeof name, "userRatedMovie%d", k + 1);
        assert_int_equal(rcat(s, row, name, 0), w->rated[k]);
        snprintf(name, sizeof name, "userGenre%d", k + 1);
        assert_int_equal(rcat(s, row, name, 0), w->u_genres[k]);
    }
    assert_true(rnum(s, row, "userRatingCount") == w->u_count);
    assert_double_near(rnum(s, row, "userAvgReleaseYear"), w->u_avg_year, 1e-3);
    assert_double_near(rnum(s, row, "userReleaseYearStddev"), w->u_std_year, 1e-5);
    assert_double_near(rnum(s, row, "userAvgRating"), w->u_avg, 1e-6);
    assert_double_near(rnum(s, row, "userRatingStddev"), w->u_std, 1e-6);
    for (int k = 0; k < 3; k++)
        assert_int_equal(rcat(s, row, "userHistory", k), w->hist[k]);
    for (int k = 3; k < 20; k++)
        assert_int_equal(rcat(s, row, "userHistory", k), 0);
    struct jc_feat_context c;
    jc_feat_context_from_time(&c, w->time);
    assert_int_equal(rcat(s, row, "hour", 0), (uint32_t)c.hour + 1);
    assert_int_equal(rcat(s, row, "weekday", 0), (uint32_t)c.weekday + 1);
}

static void test_rows_exact(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-rows.jcat"), 0);
    struct jc_featspec *s;
    struct jc_samples *sm = build_samples(cat, jc_test_path("fx-rows-samples"), &s, NULL, 0, 0);
    assert_int_equal(jc_samples_rows(sm), 5);
    for (int i = 0; i < 5; i++)
        check_row(jc_samples_spec(sm), jc_samples__row(sm, (uint64_t)i), &want_rows[i]);
    /* finished: vocabulary ids fitted on train (all rows), OOV for unseen */
    const struct jc_feat_layout *L = jc_samples_layout(sm);
    struct jc_batch b;
    assert_int_equal(jc_batch_init(&b, L, 8), JC_OK);
    assert_int_equal(jc_samples_read(sm, 0, 5, &b), JC_OK);
    assert_int_equal(b.n, 5);
    int mid = jc_feat_layout_find(L, "movieId");
    uint32_t off = L->fields[mid].offset;
    /* movieId counts in train rows: 40 x2, 50 x2, 20 x1 -> ids by count desc, raw asc */
    assert_int_equal(L->vocabs[L->fields[mid].vocab].size, 2 + 3);
    assert_int_equal(b.cat[0 * L->n_cat + off], 2); /* 40 */
    assert_int_equal(b.cat[1 * L->n_cat + off], 3); /* 50 */
    assert_int_equal(b.cat[2 * L->n_cat + off], 4); /* 20 */
    /* item 30 and 10 never are a train movieId: OOV in the rated slots */
    int r1 = jc_feat_layout_find(L, "userRatedMovie1");
    assert_int_equal(b.cat[0 * L->n_cat + L->fields[r1].offset], JC_FEAT_OOV);
    assert_int_equal(b.cat[1 * L->n_cat + L->fields[r1].offset], 2); /* 40 */
    int r4 = jc_feat_layout_find(L, "userRatedMovie4");
    assert_int_equal(b.cat[0 * L->n_cat + L->fields[r4].offset], JC_FEAT_PAD);
    /* standardised numbers have mean 0 over train */
    for (uint32_t k = 0; k < L->n_num; k++) {
        double sum = 0;
        for (uint32_t i = 0; i < 5; i++)
            sum += b.num[i * L->n_num + k];
        assert_double_near(sum / 5, 0, 1e-5);
    }
    assert_true(b.label[0] == 1 && b.label[1] == 0 && b.label[4] == 1);
    jc_batch_free(&b);
    jc_samples_close(sm);
    jc_featspec_destroy(s);
    jc_catalog_close(cat);
}

/* Rows of the original events keep their raw values byte for byte when
 * later events (and an event at an existing timestamp) are added. */
static void test_point_in_time(void **state)
{
    (void)state;
    struct jc_catalog *a = fx_catalog(jc_test_path("fx-pit-a.jcat"), 0);
    struct jc_catalog *b = fx_catalog(jc_test_path("fx-pit-b.jcat"), 1);
    struct jc_samples *sa = build_samples(a, jc_test_path("pit-a"), NULL, NULL, 0, 0);
    struct jc_samples *sb = build_samples(b, jc_test_path("pit-b"), NULL, NULL, 0, 0);
    uint64_t na = jc_samples_rows(sa), nb = jc_samples_rows(sb);
    assert_int_equal(na, 5);
    /* b adds: user 1 item 60 at 1000, user 2 item 10 at 900, user 4 (30 at 700
     * dropped, 40 at 800 dropped: only 0 and 1 earlier events), user 3 item 40
     * at 300 (dropped: no earlier events) and user 3's 20 at 500 now has two
     * earlier events (50 at 50, 40 at 300) */
    assert_int_equal(nb, 8);
    uint32_t rs = jc_featspec_raw_row_size(jc_samples_spec(sa));
    uint64_t matched = 0;
    for (uint64_t i = 0; i < na; i++) {
        const uint8_t *ra = jc_samples__row(sa, i);
        for (uint64_t k = 0; k < nb; k++) {
            const uint8_t *rb = jc_samples__row(sb, k);
            if (memcmp(ra, rb, 16) == 0) { /* time, user, item */
                assert_memory_equal(ra, rb, rs);
                matched++;
            }
        }
    }
    assert_int_equal(matched, na);
    /* the item-40 rows at 300 still see no item-40 events: user 3's rating
     * of 40 at 300 has the same timestamp */
    check_row(jc_samples_spec(sb), jc_samples__row(sb, 0), &want_rows[0]);
    jc_samples_close(sa);
    jc_samples_close(sb);
    jc_catalog_close(a);
    jc_catalog_close(b);
}

/* Online rows (states replayed from events before t, then build_batch)
 * equal the finished offline rows, slot for slot. */
static void test_online_offline_parity(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-par.jcat"), 1);
    struct jc_featspec *s;
    struct jc_samples *sm = build_samples(cat, jc_test_path("par"), &s, NULL, 0, 0);
    const struct jc_feat_layout *L = jc_samples_layout(sm);
    uint64_t n = jc_samples_rows(sm);
    struct jc_batch off, on;
    assert_int_equal(jc_batch_init(&off, L, (uint32_t)n), JC_OK);
    assert_int_equal(jc_batch_init(&on, L, 4), JC_OK);
    assert_int_equal(jc_samples_read(sm, 0, n, &off), JC_OK);
    struct jc_interactions ia;
    jc_catalog_interactions(cat, &ia);
    for (uint64_t r = 0; r < n; r++) {
        uint32_t user = off.user[r], item = off.item[r];
        int64_t t = off.time[r];
        struct jc_user_state us;
        jc_user_state_init(&us, s);
        uint64_t beg, end;
        jc_catalog_user_range(cat, user, &beg, &end);
        for (uint64_t q = beg; q < end; q++)
            if (ia.time[q] < t)
                jc_user_state_add(&us, s, ia.item[q], ia.value[q], ia.time[q]);
        /* candidates: the row's item plus two others, each with its state as of t */
        uint32_t items[3] = {item, (item + 1) % jc_catalog_n_items(cat), JC_ID_NONE};
        struct jc_item_state st[3];
        for (int c = 0; c < 3; c++) {
            jc_item_state_init(&st[c]);
            const uint32_t *pos;
            uint64_t m =
                items[c] == JC_ID_NONE ? 0 : jc_catalog_item_interactions(cat, items[c], &pos);
            for (uint64_t k = 0; k < m; k++)
                if (ia.time[pos[k]] < t)
                    jc_item_state_add(&st[c], ia.value[pos[k]], ia.time[pos[k]]);
        }
        struct jc_feat_context cx;
        jc_feat_context_from_time(&cx, t);
        assert_int_equal(jc_featspec_build_batch(s, user, &us, &cx, 3, items, st, &on), JC_OK);
        assert_int_equal(on.n, 3);
        assert_memory_equal(on.cat, off.cat + r * L->n_cat, L->n_cat * sizeof *on.cat);
        assert_memory_equal(on.num, off.num + r * L->n_num, L->n_num * sizeof *on.num);
        /* user-side slots are identical across candidates; unknown item is OOV */
        int uid = jc_feat_layout_find(L, "userAvgRating");
        assert_true(on.num[L->fields[uid].offset] == on.num[2 * L->n_num + L->fields[uid].offset]);
        int mid = jc_feat_layout_find(L, "movieId");
        assert_int_equal(on.cat[2 * L->n_cat + L->fields[mid].offset], JC_FEAT_OOV);
        assert_int_equal(on.item[2], JC_ID_NONE);
    }
    /* batch too small */
    uint32_t many[5] = {0, 1, 2, 3, 4};
    struct jc_feat_context cx;
    jc_feat_context_from_time(&cx, 0);
    assert_int_equal(jc_featspec_build_batch(s, 0, NULL, &cx, 5, many, NULL, &on), JC_ELIMIT);
    /* unfitted spec */
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    struct jc_featspec *raw;
    assert_int_equal(jc_featspec_create(&raw, &o, cat), JC_OK);
    assert_int_equal(jc_featspec_build_batch(raw, 0, NULL, &cx, 1, many, NULL, &on), JC_ESTATE);
    jc_featspec_destroy(raw);
    jc_batch_free(&off);
    jc_batch_free(&on);
    jc_samples_close(sm);
    jc_featspec_destroy(s);
    jc_catalog_close(cat);
}

static void test_state_encoding(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-enc.jcat"), 0);
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    o.window = 3;
    struct jc_featspec *s;
    assert_int_equal(jc_featspec_create(&s, &o, cat), JC_OK);
    struct jc_user_state u, v;
    jc_user_state_init(&u, s);
    for (uint32_t k = 0; k < 5; k++)
        jc_user_state_add(&u, s, k, 1.0f + (float)k, 100 + k);
    uint8_t buf[JC_USTATE_ENC_MAX];
    size_t n;
    assert_int_equal(jc_user_state_encode(&u, buf, sizeof buf, &n), JC_OK);
    assert_int_equal(n, 42 + 3 * 9 + 2 * 4); /* 3 in the window, 2 positives (4, 5) */
    assert_int_equal(jc_user_state_decode(&v, s, buf, n), JC_OK);
    struct jc_user_feats fu, fv;
    memset(&fu, 0, sizeof fu);
    memset(&fv, 0, sizeof fv);
    jc_user_state_features(&u, s, &fu);
    jc_user_state_features(&v, s, &fv);
    assert_memory_equal(&fu, &fv, offsetof(struct jc_user_feats, hist) + fu.n_hist * 4);
    assert_int_equal(v.n_events, 5);
    assert_int_equal(v.last_time, 104);
    /* the decoded state keeps evolving like the original */
    jc_user_state_add(&u, s, 0, 5.0f, 200);
    jc_user_state_add(&v, s, 0, 5.0f, 200);
    jc_user_state_features(&u, s, &fu);
    jc_user_state_features(&v, s, &fv);
    assert_memory_equal(&fu, &fv, offsetof(struct jc_user_feats, hist) + fu.n_hist * 4);
    /* into a smaller window: the newest events are kept */
    struct jc_featspec *s2;
    o.window = 1;
    assert_int_equal(jc_featspec_create(&s2, &o, cat), JC_OK);
    assert_int_equal(jc_user_state_encode(&u, buf, sizeof buf, &n), JC_OK);
    assert_int_equal(jc_user_state_decode(&v, s2, buf, n), JC_OK);
    jc_user_state_features(&v, s2, &fv);
    assert_int_equal(fv.rating_count, 1);
    assert_true(fv.avg_rating == 5.0f);
    /* bad bytes: untouched output, clear errors */
    struct jc_user_state keep = v;
    assert_int_equal(jc_user_state_decode(&v, s, buf, n - 1), JC_ECORRUPT);
    buf[0] = 9;
    assert_int_equal(jc_user_state_decode(&v, s, buf, n), JC_EVERSION);
    assert_memory_equal(&keep, &v, offsetof(struct jc_user_state, win));
    assert_int_equal(jc_user_state_encode(&u, buf, 10, &n), JC_ELIMIT);
    /* item state */
    struct jc_item_state it, it2;
    jc_item_state_init(&it);
    jc_item_state_add(&it, 3.5f, 10);
    jc_item_state_add(&it, 4.0f, 20);
    assert_int_equal(jc_item_state_encode(&it, buf, sizeof buf, &n), JC_OK);
    assert_int_equal(n, JC_ISTATE_ENC_SIZE);
    assert_int_equal(jc_item_state_decode(&it2, buf, n), JC_OK);
    assert_memory_equal(&it, &it2, sizeof it);
    assert_int_equal(jc_item_state_decode(&it2, buf, n - 1), JC_ECORRUPT);
    jc_featspec_destroy(s);
    jc_featspec_destroy(s2);
    jc_catalog_close(cat);
}

static void test_blob_roundtrip(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-blob.jcat"), 0);
    struct jc_featspec *s;
    struct jc_samples *sm = build_samples(cat, jc_test_path("blob"), &s, NULL, 0, 0);
    void *blob;
    size_t n;
    assert_int_equal(jc_featspec_save_blob(s, &blob, &n), JC_OK);
    /* the manifest carries the same blob */
    const void *mb;
    size_t mn;
    jc_samples_spec_blob(sm, &mb, &mn);
    assert_int_equal(mn, n);
    assert_memory_equal(mb, blob, n);
    /* with the catalog (resolved by external id) and without */
    struct jc_featspec *t, *u;
    assert_int_equal(jc_featspec_load_blob(&t, blob, n, cat), JC_OK);
    assert_int_equal(jc_featspec_load_blob(&u, blob, n, NULL), JC_OK);
    assert_int_equal(jc_featspec_id(t), jc_featspec_id(s));
    const struct jc_feat_layout *L = jc_featspec_layout(s);
    assert_memory_equal(jc_featspec_layout(t), L, sizeof *L);
    assert_memory_equal(jc_featspec_layout(u), L, sizeof *L);
    /* a catalog with other ids: items 60 and more users exist, ids of 10..50 equal */
    struct jc_catalog *cat2 = fx_catalog(jc_test_path("fx-blob2.jcat"), 1);
    struct jc_featspec *w;
    assert_int_equal(jc_featspec_load_blob(&w, blob, n, cat2), JC_OK);
    struct jc_user_state us;
    jc_user_state_init(&us, w);
    jc_user_state_add(&us, w, 3, 4.5f, 100);
    struct jc_batch b1, b2;
    assert_int_equal(jc_batch_init(&b1, L, 3), JC_OK);
    assert_int_equal(jc_batch_init(&b2, L, 3), JC_OK);
    uint32_t items[3] = {3, 4, 5}; /* 40, 50, and 60 (unknown to the fitted spec) */
    struct jc_feat_context cx;
    jc_feat_context_from_time(&cx, 500);
    assert_int_equal(jc_featspec_build_batch(w, 0, &us, &cx, 3, items, NULL, &b2), JC_OK);
    jc_user_state_init(&us, t);
    jc_user_state_add(&us, t, 3, 4.5f, 100);
    assert_int_equal(jc_featspec_build_batch(t, 0, &us, &cx, 2, items, NULL, &b1), JC_OK);
    assert_memory_equal(b1.cat, b2.cat, 2 * L->n_cat * sizeof *b1.cat);
    assert_memory_equal(b1.num, b2.num, 2 * L->n_num * sizeof *b1.num);
    int mid = jc_feat_layout_find(L, "movieId");
    assert_int_equal(b2.cat[2 * L->n_cat + L->fields[mid].offset], JC_FEAT_OOV);
    jc_batch_free(&b1);
    jc_batch_free(&b2);
    /* damaged blobs */
    struct jc_featspec *bad = NULL;
    uint8_t *copy = jc_malloc(n);
    memcpy(copy, blob, n);
    copy[n / 2] ^= 0x40;
    assert_int_equal(jc_featspec_load_blob(&bad, copy, n, cat), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "checksum mismatch"));
    assert_int_equal(jc_featspec_load_blob(&bad, blob, n - 3, cat), JC_ECORRUPT);
    memcpy(copy, blob, n);
    copy[8] = 7;
    assert_int_equal(jc_featspec_load_blob(&bad, copy, n, cat), JC_EVERSION);
    assert_null(bad);
    jc_free(copy);
    /* unfitted specs have no blob */
    struct jc_featspec_opts o;
    jc_featspec_opts_default(&o);
    struct jc_featspec *raw;
    assert_int_equal(jc_featspec_create(&raw, &o, cat), JC_OK);
    void *nb;
    size_t nn;
    assert_int_equal(jc_featspec_save_blob(raw, &nb, &nn), JC_ESTATE);
    jc_featspec_destroy(raw);
    jc_free(blob);
    jc_featspec_destroy(s);
    jc_featspec_destroy(t);
    jc_featspec_destroy(u);
    jc_featspec_destroy(w);
    jc_samples_close(sm);
    jc_catalog_close(cat);
    jc_catalog_close(cat2);
}

/* minmax, log1p, none, quantile buckets and hashing, fitted on the fixture. */
static void test_norms_and_buckets(void **state)
{
    (void)state;
    struct jc_catalog *cat = fx_catalog(jc_test_path("fx-norm.jcat"), 0);
    struct jc_featspec *s;
    struct jc_samples *sm = build_samples(cat, jc_test_path("norm"), &s,
                                          "userId cat hash=7\n"
                                          "releaseYear num norm=minmax\n"
                                          "movieRatingCount num norm=log1p\n"
                                          "userAvgRating num norm=none\n"
                                          "userRatingCount cat buckets=2\n"
                                          "movieGenres multi width=2\n"
                                          "userGenres multi width=4 vocab=genre\n",
                                          0, 0);
    const struct jc_feat_layout *L = jc_samples_layout(sm);
    assert_int_equal(L->vocabs[jc_feat_layout_find_vocab(L, "user")].size, 9);
    assert_int_equal(L->vocabs[jc_feat_layout_find_vocab(L, "userRatingCount")].size, 4);
    struct jc_batch b;
    assert_int_equal(jc_batch_init(&b, L, 5), JC_OK);
    assert_int_equal(jc_samples_read(sm, 0, 5, &b), JC_OK);
    /* years of the rows: 2010, 1980, 2000, 2010, 1980 -> minmax over [1980, 2010] */
    int yr = jc_feat_layout_find(L, "releaseYear");
    assert_double_near(b.num[0 * L->n_num + L->fields[yr].offset], 1.0, 1e-6);
    assert_double_near(b.num[1 * L->n_num + L->fields[yr].offset], 0.0, 1e-6);
    assert_double_near(b.num[2 * L->n_num + L->fields[yr].offset], 2.0 / 3, 1e-6);
    int mc = jc_feat_layout_find(L, "movieRatingCount");
    assert_double_near(b.num[1 * L->n_num + L->fields[mc].offset], log1p(2.0), 1e-6);
    int ua = jc_feat_layout_find(L, "userAvgRating");
    assert_double_near(b.num[1 * L->n_num + L->fields[ua].offset], 4.125, 1e-6);
    /* userRatingCount 3, 4, 2, 2, 4: 2 buckets, cut at the median value 3 */
    int uc = jc_feat_layout_find(L, "userRatingCount");
    uint32_t o = L->fields[uc].offset;
    assert_int_equal(b.cat[0 * L->n_cat + o], 3); /* 3 >= cut 3 */
    assert_int_equal(b.cat[1 * L->n_cat + o], 3);
    assert_int_equal(b.cat[2 * L->n_cat + o], 2);
    /* hashed user ids are stable and in range */
    int ui = jc_feat_layout_find(L, "userId");
    uint32_t h1 = b.cat[0 * L->n_cat + L->fields[ui].offset];
    assert_true(h1 >= 2 && h1 < 9);
    assert_int_equal(b.cat[1 * L->n_cat + L->fields[ui].offset], h1);
    /* multi: movie 50's genres are [Comedy, pad]; user genres width 4 */
    int mg = jc_feat_layout_find(L, "movieGenres");
    assert_int_equal(L->fields[mg].width, 2);
    assert_true(b.cat[1 * L->n_cat + L->fields[mg].offset] >= 2);
    assert_int_equal(b.cat[1 * L->n_cat + L->fields[mg].offset + 1], 0);
    int ug = jc_feat_layout_find(L, "userGenres");
    assert_int_equal(b.cat[1 * L->n_cat + L->fields[ug].offset + 3], 0);
    assert_int_equal(L->fields[ug].vocab, L->fields[mg].vocab);
    jc_batch_free(&b);
    jc_samples_close(sm);
    jc_featspec_destroy(s);
    jc_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_default_layout),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_user_state_exact),
        cmocka_unit_test(test_rows_exact),
        cmocka_unit_test(test_point_in_time),
        cmocka_unit_test(test_online_offline_parity),
        cmocka_unit_test(test_state_encoding),
        cmocka_unit_test(test_blob_roundtrip),
        cmocka_unit_test(test_norms_and_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
