/*
 * test_import.c - the importers: MovieLens latest / 100K / 1M formats on
 * fixtures, generic CSV/TSV/JSONL with column mappings, --append, bad rows
 * (file:line messages, --skip-bad), Latin-1 conversion, format detection.
 */
#include "testutil.h"

#include "core/fileio.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/import.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static struct jc_catalog *import_ok(const char *src, const struct jc_import_opts *o,
                                    struct jc_import_result *res)
{
    const char *cat_path = jc_test_path("cat.jcat");
    int rc = jc_import(src, cat_path, o, res);
    if (rc)
        fail_msg("import of %s failed: %s", src, jc_errmsg());
    struct jc_catalog *c;
    assert_int_equal(jc_catalog_open(&c, cat_path), JC_OK);
    return c;
}

static uint32_t item_of(const struct jc_catalog *c, const char *ext)
{
    uint32_t id;
    if (!jc_catalog_find_item(c, ext, strlen(ext), &id))
        fail_msg("item %s not found", ext);
    return id;
}

static void test_ml_latest_small(void **state)
{
    (void)state;
    struct jc_import_result res;
    struct jc_catalog *c = import_ok(jc_test_src("data/ml-latest-small"), NULL, &res);
    assert_string_equal(res.format, "ml-latest");
    assert_int_equal(jc_catalog_n_users(c), 610);
    assert_int_equal(jc_catalog_n_items(c), 9742);
    assert_int_equal(jc_catalog_n_interactions(c), 100836);
    assert_int_equal(jc_catalog_n_tag_events(c), 3683);
    assert_int_equal(res.bad_rows, 0);
    assert_int_equal(res.n_files, 4);
    uint32_t it = item_of(c, "11");
    assert_string_equal(jc_catalog_item_title(c, it), "American President, The (1995)");
    assert_int_equal(jc_catalog_item_year(c, it), 1995);
    /* ids follow movies.csv order */
    assert_int_equal(item_of(c, "1"), 0);
    const uint16_t *g;
    assert_int_equal(jc_catalog_item_genres(c, 0, &g), 5);
    assert_string_equal(jc_catalog_genre_name(c, g[0]), "Adventure");
    uint32_t a;
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_ITEM, "imdbId", &a), 1);
    assert_string_equal(jc_catalog_attr_str(c, JC_ENT_ITEM, a, 0), "0114709");
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_ITEM, "tmdbId", &a), 1);
    assert_string_equal(jc_catalog_attr_str(c, JC_ENT_ITEM, a, 0), "862");
    /* user 1's first rating by time */
    uint32_t u;
    assert_int_equal(jc_catalog_find_user(c, "1", 1, &u), 1);
    uint64_t b, e;
    jc_catalog_user_range(c, u, &b, &e);
    assert_int_equal(e - b, 232);
    struct jc_interactions ix;
    jc_catalog_interactions(c, &ix);
    for (uint64_t i = b + 1; i < e; i++)
        assert_true(ix.time[i - 1] <= ix.time[i]);
    /* "(no genres listed)" means no genres; a title without a year has none */
    uint32_t nog = item_of(c, "114335"); /* La cravate (1957), no genres */
    assert_int_equal(jc_catalog_item_genres(c, nog, &g), 0);
    uint32_t noyear = item_of(c, "140956"); /* Ready Player One, no year in title */
    assert_int_equal(jc_catalog_item_year(c, noyear), JC_NO_YEAR);
    uint32_t range = item_of(c, "171749"); /* Death Note: Desu nôto (2006–2007) */
    assert_int_equal(jc_catalog_item_year(c, range), 2006);
    jc_catalog_close(c);
}

static void test_ml_100k_fixture(void **state)
{
    (void)state;
    struct jc_import_result res;
    struct jc_catalog *c = import_ok(jc_test_src("tests/fixtures/ml-100k"), NULL, &res);
    assert_string_equal(res.format, "ml-100k");
    assert_int_equal(jc_catalog_n_items(c), 6);
    assert_int_equal(jc_catalog_n_users(c), 3);
    assert_int_equal(jc_catalog_n_interactions(c), 8);
    uint32_t it = item_of(c, "3");
    /* Latin-1 "Mis\xe9rables" became UTF-8 */
    assert_string_equal(jc_catalog_item_title(c, it), "Mis\xc3\xa9rables, Les (1995)");
    const uint16_t *g;
    assert_int_equal(jc_catalog_item_genres(c, it, &g), 2);
    assert_string_equal(jc_catalog_genre_name(c, g[0]), "Drama");
    assert_string_equal(jc_catalog_genre_name(c, g[1]), "Musical");
    /* the year comes from the release date when the title has none */
    assert_int_equal(jc_catalog_item_year(c, item_of(c, "4")), 1995);
    assert_int_equal(jc_catalog_item_year(c, item_of(c, "267")), JC_NO_YEAR);
    uint32_t a, u;
    assert_int_equal(jc_catalog_find_user(c, "2", 1, &u), 1);
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_USER, "age", &a), 1);
    assert_true(jc_catalog_attr_num(c, JC_ENT_USER, a, u) == 53.0);
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_USER, "occupation", &a), 1);
    assert_string_equal(jc_catalog_attr_str(c, JC_ENT_USER, a, u), "other");
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_ITEM, "imdbUrl", &a), 1);
    assert_string_equal(jc_catalog_attr_str(c, JC_ENT_ITEM, a, item_of(c, "1")),
                        "http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)");
    struct jc_interactions ix;
    jc_catalog_interactions(c, &ix);
    uint64_t b, e;
    jc_catalog_user_range(c, u, &b, &e);
    assert_int_equal(e - b, 3);
    assert_true(ix.time[b] == 888550800 && ix.value[b] == 5.0f);
    jc_catalog_close(c);
}

static void test_ml_1m_fixture(void **state)
{
    (void)state;
    struct jc_import_result res;
    struct jc_catalog *c = import_ok(jc_test_src("tests/fixtures/ml-1m"), NULL, &res);
    assert_string_equal(res.format, "ml-1m");
    assert_int_equal(jc_catalog_n_items(c), 5);
    assert_int_equal(jc_catalog_n_users(c), 4);
    assert_int_equal(jc_catalog_n_interactions(c), 9);
    uint32_t it = item_of(c, "3");
    assert_string_equal(jc_catalog_item_title(c, it), "Mis\xc3\xa9rables, Les (1995)");
    it = item_of(c, "5");
    assert_string_equal(jc_catalog_item_title(c, it), "Star Wars: Episode IV - A New Hope (1977)");
    assert_int_equal(jc_catalog_item_year(c, it), 1977);
    const uint16_t *g;
    assert_int_equal(jc_catalog_item_genres(c, it, &g), 4);
    uint32_t a, u;
    assert_int_equal(jc_catalog_find_user(c, "4", 1, &u), 1);
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_USER, "zip", &a), 1);
    assert_string_equal(jc_catalog_attr_str(c, JC_ENT_USER, a, u), "02460");
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_USER, "occupation", &a), 1);
    assert_true(jc_catalog_attr_num(c, JC_ENT_USER, a, u) == 7.0);
    jc_catalog_close(c);
}

static void test_generic_csv(void **state)
{
    (void)state;
    const char *f = jc_test_path("events.csv");
    jc_test_write_file(f, "ts;who;what;kind;weight\n"
                          "2020-01-02T00:00:00Z;alice;sku-1;click;1\n"
                          "1577836800;bob;sku-2;purchase;2.5\n"
                          "1577836801;alice;sku-2;;1\n");
    struct jc_import_opts o;
    jc_import_opts_default(&o);
    o.col_user = "who";
    o.col_item = "what";
    o.col_time = "ts";
    o.col_type = "kind";
    o.col_value = "weight";
    struct jc_import_result res;
    struct jc_catalog *c = import_ok(f, &o, &res);
    assert_string_equal(res.format, "csv");
    assert_int_equal(jc_catalog_n_users(c), 2);
    assert_int_equal(jc_catalog_n_items(c), 2);
    assert_int_equal(jc_catalog_n_interactions(c), 3);
    struct jc_interactions ix;
    jc_catalog_interactions(c, &ix);
    uint32_t u;
    assert_int_equal(jc_catalog_find_user(c, "alice", 5, &u), 1);
    uint64_t b, e;
    jc_catalog_user_range(c, u, &b, &e);
    assert_int_equal(e - b, 2);
    /* time order: 1577836801 (2020-01-01 00:00:01) before 2020-01-02 */
    assert_true(ix.time[b] == 1577836801 && ix.time[b + 1] == 1577923200);
    assert_string_equal(jc_catalog_event_type_name(c, ix.type[b]), "rating");
    assert_string_equal(jc_catalog_event_type_name(c, ix.type[b + 1]), "click");
    jc_catalog_close(c);

    /* mapping by index, no header; TSV */
    const char *t = jc_test_path("plain.tsv");
    jc_test_write_file(t, "7\t100\t4.5\t10\n8\t100\t3\t11\n");
    jc_import_opts_default(&o);
    o.col_user = "0";
    o.col_item = "1";
    o.col_value = "2";
    o.col_time = "3";
    c = import_ok(t, &o, &res);
    assert_int_equal(jc_catalog_n_interactions(c), 2);
    jc_catalog_interactions(c, &ix);
    assert_true(ix.value[0] == 4.5f);
    jc_catalog_close(c);

    /* auto-detected column names */
    const char *a = jc_test_path("auto.csv");
    jc_test_write_file(a, "user_id,item_id,rating,timestamp\nu,i,3,5\n");
    c = import_ok(a, NULL, &res);
    assert_int_equal(jc_catalog_n_interactions(c), 1);
    jc_catalog_close(c);

    /* an unknown column name is a clear error */
    o.col_user = "customer";
    o.col_item = "item";
    o.col_value = o.col_time = NULL;
    assert_int_equal(jc_import(a, jc_test_path("x.jcat"), &o, &res), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "no column named 'customer' for the user"));
    assert_non_null(strstr(jc_errmsg(), "user_id, item_id, rating, timestamp"));
}

static void test_jsonl(void **state)
{
    (void)state;
    const char *f = jc_test_path("events.jsonl");
    jc_test_write_file(f, "{\"user\": 1, \"item\": \"A\", \"value\": 2, \"time\": 100, "
                          "\"type\": \"view\"}\n"
                          "\n"
                          "{\"user\": \"1\", \"item\": 42, \"time\": \"2020-01-01\"}\n");
    struct jc_import_result res;
    struct jc_catalog *c = import_ok(f, NULL, &res);
    assert_string_equal(res.format, "jsonl");
    assert_int_equal(jc_catalog_n_users(c), 1);
    assert_int_equal(jc_catalog_n_items(c), 2);
    uint32_t it;
    assert_int_equal(jc_catalog_find_item(c, "42", 2, &it), 1);
    struct jc_interactions ix;
    jc_catalog_interactions(c, &ix);
    assert_true(ix.time[1] == 1577836800 && ix.value[1] == 1.0f);
    assert_string_equal(jc_catalog_event_type_name(c, ix.type[0]), "view");
    jc_catalog_close(c);
    jc_test_write_file(f, "{\"user\": 1, \"item\": \"A\"}\n[1,2]\n{\"item\": 3}\n");
    assert_int_equal(jc_import(f, jc_test_path("x.jcat"), NULL, &res), JC_EPARSE);
    assert_non_null(strstr(jc_errmsg(), "events.jsonl:2: not a JSON object"));
    struct jc_import_opts o;
    jc_import_opts_default(&o);
    o.skip_bad = 1;
    c = import_ok(f, &o, &res);
    assert_int_equal(res.bad_rows, 2);
    assert_int_equal(res.n_messages, 2);
    assert_non_null(strstr(res.messages[1], "events.jsonl:3: missing or non-scalar \"user\""));
    jc_import_result_free(&res);
    jc_catalog_close(c);
}

static void test_bad_rows(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", jc_test_path("badml"));
    assert_int_equal(jc_mkdir_p(dir), JC_OK);
    char p[4200];
    snprintf(p, sizeof p, "%s/movies.csv", dir);
    jc_test_write_file(p, "movieId,title,genres\n1,\"Toy Story (1995)\",Animation\n"
                          "2,\"Broken quote,Comedy\n");
    snprintf(p, sizeof p, "%s/ratings.csv", dir);
    jc_test_write_file(p, "userId,movieId,rating,timestamp\n1,1,4.0,10\n1,1,7.0,11\n"
                          "1,1,4.0,soon\n,1,4.0,12\n1,1\n");
    struct jc_import_result res;
    const char *cat = jc_test_path("bad.jcat");
    assert_int_equal(jc_import(dir, cat, NULL, &res), JC_EPARSE);
    assert_non_null(strstr(jc_errmsg(), "movies.csv:3: unterminated quoted field"));
    assert_false(jc_path_exists(cat));
    struct jc_import_opts o;
    jc_import_opts_default(&o);
    o.skip_bad = 1;
    o.max_errors_shown = 3;
    assert_int_equal(jc_import(dir, cat, &o, &res), JC_OK);
    assert_int_equal(res.bad_rows, 5);
    assert_int_equal(res.n_messages, 3);
    assert_non_null(
        strstr(res.messages[1], "ratings.csv:3: rating '7.0' is not a number in [0, 5]"));
    assert_non_null(strstr(res.messages[2], "ratings.csv:4: timestamp 'soon' is not an integer"));
    assert_int_equal(res.n_interactions, 1);
    jc_import_result_free(&res);
}

static void test_append(void **state)
{
    (void)state;
    const char *cat = jc_test_path("append.jcat");
    struct jc_import_result res;
    assert_int_equal(jc_import(jc_test_src("tests/fixtures/ml-1m"), cat, NULL, &res), JC_OK);
    const char *f = jc_test_path("more.csv");
    jc_test_write_file(f,
                       "userId,movieId,rating,timestamp\n1,2,4.0,978300999\n9,5,3.0,978300000\n");
    struct jc_import_opts o;
    jc_import_opts_default(&o);
    o.append = 1;
    assert_int_equal(jc_import(f, cat, &o, &res), JC_OK);
    assert_int_equal(res.users_added, 1);
    assert_int_equal(res.items_added, 0);
    assert_int_equal(res.interactions_added, 2);
    struct jc_catalog *c;
    assert_int_equal(jc_catalog_open(&c, cat), JC_OK);
    assert_int_equal(jc_catalog_n_users(c), 5);
    assert_int_equal(jc_catalog_n_items(c), 5);
    assert_int_equal(jc_catalog_n_interactions(c), 11);
    /* earlier data and attributes survive the append */
    assert_string_equal(jc_catalog_item_title(c, item_of(c, "3")), "Mis\xc3\xa9rables, Les (1995)");
    uint32_t a;
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_USER, "zip", &a), 1);
    jc_catalog_close(c);
}

static void test_detect_and_missing(void **state)
{
    (void)state;
    const char *fmt;
    assert_int_equal(jc_import_detect(jc_test_src("tests/fixtures/ml-100k"), &fmt), JC_OK);
    assert_string_equal(fmt, "ml-100k");
    assert_int_equal(jc_import_detect(jc_test_src("tests"), &fmt), JC_EINVAL);
    struct jc_import_result res;
    assert_int_equal(jc_import(jc_test_path("nope"), jc_test_path("n.jcat"), NULL, &res),
                     JC_ENOTFOUND);
    struct jc_import_opts o;
    jc_import_opts_default(&o);
    o.format = "ml-1m";
    assert_int_equal(
        jc_import(jc_test_src("tests/fixtures/ml-100k"), jc_test_path("n.jcat"), &o, &res),
        JC_ENOTFOUND);
    assert_non_null(strstr(jc_errmsg(), "ratings.dat: no such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ml_latest_small), cmocka_unit_test(test_ml_100k_fixture),
        cmocka_unit_test(test_ml_1m_fixture),   cmocka_unit_test(test_generic_csv),
        cmocka_unit_test(test_jsonl),           cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_append),          cmocka_unit_test(test_detect_and_missing),
    };
    return cmocka_run_group_tests_name("import", tests, NULL, NULL);
}
