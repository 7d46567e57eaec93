/*
 * test_catalog.c - building, writing, opening and validating catalogs:
 * indexes and ordering, attributes, tags, --append copies, atomicity, and
 * rejection of truncated, bit-flipped and hostile files.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/rng.h"
#include <junco/catalog.h>
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static struct jc_catalog_builder *small_builder(void)
{
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    uint32_t i1, i2, i3, u1, u2;
    int created;
    assert_int_equal(jc_cb_item(b, "10", 2, &i1, &created), JC_OK);
    assert_int_equal(created, 1);
    assert_int_equal(jc_cb_item(b, "20", 2, &i2, NULL), JC_OK);
    assert_int_equal(jc_cb_item(b, "30", 2, &i3, NULL), JC_OK);
    assert_int_equal(jc_cb_item(b, "10", 2, &i1, &created), JC_OK);
    assert_int_equal(created, 0);
    assert_int_equal(i1, 0);
    assert_int_equal(i3, 2);
    assert_int_equal(jc_cb_item_set_title(b, i1, "American President, The (1995)", 30), JC_OK);
    assert_int_equal(jc_cb_item_set_year(b, i1, 1995), JC_OK);
    assert_int_equal(jc_cb_item_add_genre(b, i1, "Comedy", 6), JC_OK);
    assert_int_equal(jc_cb_item_add_genre(b, i1, "Drama", 5), JC_OK);
    assert_int_equal(jc_cb_item_add_genre(b, i1, "Comedy", 6), JC_OK); /* duplicate dropped */
    assert_int_equal(jc_cb_item_add_genre(b, i2, "Drama", 5), JC_OK);
    assert_int_equal(jc_cb_set_attr_str(b, JC_ENT_ITEM, i2, "imdbId", "0114709", 7), JC_OK);
    assert_int_equal(jc_cb_user(b, "u1", 2, &u1, NULL), JC_OK);
    assert_int_equal(jc_cb_user(b, "u2", 2, &u2, NULL), JC_OK);
    assert_int_equal(jc_cb_set_attr_num(b, JC_ENT_USER, u2, "age", 33), JC_OK);
    uint8_t click;
    assert_int_equal(jc_cb_event_type(b, "click", 5, &click), JC_OK);
    assert_int_equal(click, JC_EV_CLICK);
    uint8_t custom;
    assert_int_equal(jc_cb_event_type(b, "share", 5, &custom), JC_OK);
    assert_int_equal(custom, JC_EV__BUILTIN_COUNT);
    /* out of time order on purpose */
    assert_int_equal(jc_cb_add_interaction(b, u2, i3, 1.0f, 300, custom), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u1, i2, 4.0f, 200, JC_EV_RATING), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u1, i1, 5.0f, 100, JC_EV_RATING), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u2, i1, 2.5f, 50, JC_EV_RATING), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u1, i3, 3.0f, 200, click), JC_OK);
    assert_int_equal(jc_cb_add_tag(b, u1, i1, "politics", 8, 150), JC_OK);
    assert_int_equal(jc_cb_add_tag(b, u2, i1, "funny", 5, 120), JC_OK);
    return b;
}

static void check_small(const struct jc_catalog *c)
{
    assert_int_equal(jc_catalog_n_items(c), 3);
    assert_int_equal(jc_catalog_n_users(c), 2);
    assert_int_equal(jc_catalog_n_interactions(c), 5);
    assert_string_equal(jc_catalog_item_title(c, 0), "American President, The (1995)");
    assert_string_equal(jc_catalog_item_title(c, 1), "");
    assert_int_equal(jc_catalog_item_year(c, 0), 1995);
    assert_int_equal(jc_catalog_item_year(c, 2), JC_NO_YEAR);
    const uint16_t *g;
    assert_int_equal(jc_catalog_item_genres(c, 0, &g), 2);
    assert_string_equal(jc_catalog_genre_name(c, g[0]), "Comedy");
    assert_string_equal(jc_catalog_genre_name(c, g[1]), "Drama");
    assert_int_equal(jc_catalog_item_genres(c, 2, &g), 0);
    uint32_t id;
    assert_int_equal(jc_catalog_find_item(c, "20", 2, &id), 1);
    assert_int_equal(id, 1);
    assert_int_equal(jc_catalog_find_item(c, "2", 1, &id), 0);
    assert_int_equal(jc_catalog_find_item(c, "200", 3, &id), 0);
    assert_int_equal(jc_catalog_find_user(c, "u2", 2, &id), 1);
    assert_int_equal(id, 1);
    assert_int_equal(jc_catalog_find_genre(c, "Drama", &id), 1);
    /* by-user order: time, then item */
    struct jc_interactions ix;
    jc_catalog_interactions(c, &ix);
    uint64_t b, e;
    jc_catalog_user_range(c, 0, &b, &e);
    assert_int_equal(e - b, 3);
    assert_true(ix.time[b] == 100 && ix.item[b] == 0);
    assert_true(ix.time[b + 1] == 200 && ix.item[b + 1] == 1);
    assert_true(ix.time[b + 2] == 200 && ix.item[b + 2] == 2);
    assert_string_equal(jc_catalog_event_type_name(c, ix.type[b + 2]), "click");
    jc_catalog_user_range(c, 1, &b, &e);
    assert_int_equal(e - b, 2);
    assert_true(ix.time[b] == 50 && ix.value[b] == 2.5f);
    assert_string_equal(jc_catalog_event_type_name(c, ix.type[b + 1]), "share");
    /* by-item index, time ordered */
    const uint32_t *pos;
    assert_int_equal(jc_catalog_item_interactions(c, 0, &pos), 2);
    assert_true(ix.time[pos[0]] == 50 && ix.user[pos[0]] == 1);
    assert_true(ix.time[pos[1]] == 100 && ix.user[pos[1]] == 0);
    /* tags ordered by time */
    const uint32_t *tu, *tt;
    const int64_t *tm;
    assert_int_equal(jc_catalog_item_tags(c, 0, &tu, &tt, &tm), 2);
    assert_string_equal(jc_catalog_tag_name(c, tt[0]), "funny");
    assert_true(tm[1] == 150);
    /* attributes */
    uint32_t a;
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_ITEM, "imdbId", &a), 1);
    assert_string_equal(jc_catalog_attr_str(c, JC_ENT_ITEM, a, 1), "0114709");
    assert_string_equal(jc_catalog_attr_str(c, JC_ENT_ITEM, a, 0), "");
    assert_int_equal(jc_catalog_find_attr(c, JC_ENT_USER, "age", &a), 1);
    assert_true(jc_catalog_attr_num(c, JC_ENT_USER, a, 1) == 33.0);
    assert_true(isnan(jc_catalog_attr_num(c, JC_ENT_USER, a, 0)));
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct jc_catalog_builder *b = small_builder();
    const char *path = jc_test_path("small.jcat");
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    struct jc_catalog *c;
    assert_int_equal(jc_catalog_open(&c, path), JC_OK);
    check_small(c);
    /* a builder copied from the catalog writes an equivalent catalog */
    struct jc_catalog_builder *b2;
    assert_int_equal(jc_catalog_builder_from_catalog(&b2, c), JC_OK);
    const char *path2 = jc_test_path("copy.jcat");
    assert_int_equal(jc_catalog_builder_write(b2, path2, NULL), JC_OK);
    jc_catalog_builder_destroy(b2);
    struct jc_catalog *c2;
    assert_int_equal(jc_catalog_open(&c2, path2), JC_OK);
    check_small(c2);
    jc_catalog_close(c2);
    jc_catalog_close(c);
}

static void test_builder_rejects_bad_text(void **state)
{
    (void)state;
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    uint32_t id;
    assert_int_equal(jc_cb_item(b, "x", 1, &id, NULL), JC_OK);
    assert_int_equal(jc_cb_item_set_title(b, id, "Caf\xe9", 4), JC_EENCODING);
    assert_non_null(strstr(jc_errmsg(), "title is not valid UTF-8"));
    assert_int_equal(jc_cb_item(b, "", 0, &id, NULL), JC_EPARSE);
    assert_int_equal(jc_cb_item_set_title(b, id, "a\0b", 3), JC_EENCODING);
    assert_int_equal(jc_cb_add_interaction(b, 5, 0, 1.0f, 0, 0), JC_EINVAL);
    assert_int_equal(jc_cb_set_attr_num(b, JC_ENT_ITEM, 0, "n", 1.0), JC_OK);
    assert_int_equal(jc_cb_set_attr_str(b, JC_ENT_ITEM, 0, "n", "s", 1), JC_EINVAL);
    jc_catalog_builder_destroy(b);
}

static void test_corruption_detected(void **state)
{
    (void)state;
    struct jc_catalog_builder *b = small_builder();
    const char *path = jc_test_path("corrupt.jcat");
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    char *data;
    size_t n;
    assert_int_equal(jc_file_read_all(path, 1 << 20, &data, &n), JC_OK);
    const char *bad = jc_test_path("bad.jcat");
    struct jc_catalog *c;
    /* every truncation fails cleanly */
    for (size_t len = 0; len < n; len += (len < 512 ? 1 : 97)) {
        jc_test_write_bytes(bad, data, len);
        int rc = jc_catalog_open(&c, bad);
        assert_true(rc == JC_ECORRUPT);
    }
    /* every single-bit flip fails cleanly (checksums), a sample of positions */
    for (size_t pos = 0; pos < n; pos += 7) {
        data[pos] ^= 0x04;
        jc_test_write_bytes(bad, data, n);
        int rc = jc_catalog_open(&c, bad);
        assert_true(rc == JC_ECORRUPT || rc == JC_EVERSION);
        data[pos] ^= 0x04;
    }
    jc_test_write_bytes(bad, "not a catalog", 13);
    assert_int_equal(jc_catalog_open(&c, bad), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "not a junco catalog"));
    assert_int_equal(jc_catalog_open(&c, jc_test_path("nothing.jcat")), JC_ENOTFOUND);
    jc_free(data);
}

/* A failed write leaves the previous catalog in place. */
static void test_atomic_replace(void **state)
{
    (void)state;
    struct jc_catalog_builder *b = small_builder();
    const char *path = jc_test_path("atomic.jcat");
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    uint32_t u, it;
    assert_int_equal(jc_cb_user(b, "u3", 2, &u, NULL), JC_OK);
    assert_int_equal(jc_cb_item(b, "40", 2, &it, NULL), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u, it, 1, 1, 0), JC_OK);
    jc_fileio_fail_write_after(1);
    int wrc = jc_catalog_builder_write(b, path, NULL);
    jc_fileio_fail_write_after(0);
    assert_int_equal(wrc, JC_EIO);
    struct jc_catalog *c;
    assert_int_equal(jc_catalog_open(&c, path), JC_OK);
    check_small(c);
    jc_catalog_close(c);
    /* allocation failures during write also leave it intact */
    for (long k = 1; k < 40; k++) {
        jc_alloc_fail_after(k);
        int rc = jc_catalog_builder_write(b, path, NULL);
        jc_alloc_fail_after(0);
        assert_true(rc == JC_OK || rc == JC_ENOMEM);
        assert_int_equal(jc_catalog_open(&c, path), JC_OK);
        assert_true(jc_catalog_n_users(c) == 2 || (rc == JC_OK && jc_catalog_n_users(c) == 3));
        jc_catalog_close(c);
        if (rc == JC_OK)
            break;
    }
    jc_catalog_builder_destroy(b);
}

/* Randomised: large builder, verify ordering invariants and lookups. */
static void test_random_large(void **state)
{
    (void)state;
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    struct jc_rng r;
    jc_rng_seed(&r, 5);
    char key[32];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(key, sizeof key, "item%d", i);
        uint32_t id;
        assert_int_equal(jc_cb_item(b, key, (size_t)n, &id, NULL), JC_OK);
    }
    for (int u = 0; u < 500; u++) {
        int n = snprintf(key, sizeof key, "user%d", u);
        uint32_t id;
        assert_int_equal(jc_cb_user(b, key, (size_t)n, &id, NULL), JC_OK);
    }
    for (int k = 0; k < 50000; k++)
        assert_int_equal(jc_cb_add_interaction(b, (uint32_t)jc_rng_below(&r, 500),
                                               (uint32_t)jc_rng_below(&r, 3000),
                                               (float)jc_rng_below(&r, 10) / 2.0f,
                                               (int64_t)jc_rng_below(&r, 1000), 0),
                         JC_OK);
    const char *path = jc_test_path("large.jcat");
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    struct jc_catalog *c;
    assert_int_equal(jc_catalog_open(&c, path), JC_OK);
    struct jc_interactions ix;
    jc_catalog_interactions(c, &ix);
    assert_int_equal(ix.n, 50000);
    for (uint64_t i = 1; i < ix.n; i++) {
        assert_true(ix.user[i - 1] <= ix.user[i]);
        if (ix.user[i - 1] == ix.user[i])
            assert_true(ix.time[i - 1] < ix.time[i] ||
                        (ix.time[i - 1] == ix.time[i] && ix.item[i - 1] <= ix.item[i]));
    }
    uint64_t total = 0;
    for (uint32_t it = 0; it < 3000; it++) {
        const uint32_t *pos;
        uint64_t n = jc_catalog_item_interactions(c, it, &pos);
        total += n;
        for (uint64_t j = 0; j < n; j++) {
            assert_int_equal(ix.item[pos[j]], it);
            if (j)
                assert_true(ix.time[pos[j - 1]] <= ix.time[pos[j]]);
        }
        int n2 = snprintf(key, sizeof key, "item%u", it);
        uint32_t found;
        assert_int_equal(jc_catalog_find_item(c, key, (size_t)n2, &found), 1);
        assert_int_equal(found, it);
    }
    assert_int_equal(total, 50000);
    jc_catalog_close(c);
}

/* Times spanning more than 2^32 seconds take the generic by-item path. */
static void test_wide_time_range(void **state)
{
    (void)state;
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    uint32_t it, u1, u2;
    assert_int_equal(jc_cb_item(b, "i", 1, &it, NULL), JC_OK);
    assert_int_equal(jc_cb_user(b, "a", 1, &u1, NULL), JC_OK);
    assert_int_equal(jc_cb_user(b, "b", 1, &u2, NULL), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u1, it, 1, 6000000000LL, 0), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u2, it, 2, -100, 0), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u1, it, 3, 5, 0), JC_OK);
    const char *path = jc_test_path("wide.jcat");
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    struct jc_catalog *c;
    assert_int_equal(jc_catalog_open(&c, path), JC_OK);
    struct jc_interactions ix;
    jc_catalog_interactions(c, &ix);
    const uint32_t *pos;
    assert_int_equal(jc_catalog_item_interactions(c, it, &pos), 3);
    assert_true(ix.time[pos[0]] == -100 && ix.time[pos[1]] == 5 && ix.time[pos[2]] == 6000000000LL);
    jc_catalog_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),           cmocka_unit_test(test_builder_rejects_bad_text),
        cmocka_unit_test(test_corruption_detected), cmocka_unit_test(test_atomic_replace),
        cmocka_unit_test(test_random_large),        cmocka_unit_test(test_wide_time_range),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
