/*
 * test_feat_fixture.h - the hand-built catalog the feature, sample and store
 * tests compute expected values from (by hand, in the test files).
 *
 * Genres are created in the order Comedy (0), Drama (1), Action (2); by name
 * the order is Action < Comedy < Drama. Items (ext id: year, genres):
 *   10: 1995 Comedy|Drama      20: 2000 Action
 *   30: (none -> 1990) Drama|Action|Comedy
 *   40: 2010 (no genres)       50: 1980 Comedy
 * Events (user: item rating time):
 *   1: 10 4.0 100, 20 3.0 200, 30 5.0 200, 40 4.5 300, 50 2.0 400
 *   2: 10 2.0 150, 30 4.0 250, 20 5.0 300, 40 3.0 300, 50 5.0 350
 *   3: 50 3.0 50,  20 1.0 500
 * `extra` adds later events (and one at an existing timestamp): user 1
 * rates 60 (a new item) at 1000, user 2 rates 10 at 900, user 3 rates 40
 * at 300 (the same second as rows of item 40), and a new user 4 rates 30 at
 * 700 and 40 at 800.
 */
#ifndef JC_TEST_FEAT_FIXTURE_H
#define JC_TEST_FEAT_FIXTURE_H

#include "testutil.h"

#include <junco/catalog.h>
#include <junco/error.h>

#include <string.h>

struct fx_event {
    const char *user, *item;
    float value;
    int64_t time;
};

static const struct fx_event fx_events[] = {
    {"1", "10", 4.0f, 100}, {"1", "20", 3.0f, 200}, {"1", "30", 5.0f, 200}, {"1", "40", 4.5f, 300},
    {"1", "50", 2.0f, 400}, {"2", "10", 2.0f, 150}, {"2", "30", 4.0f, 250}, {"2", "20", 5.0f, 300},
    {"2", "40", 3.0f, 300}, {"2", "50", 5.0f, 350}, {"3", "50", 3.0f, 50},  {"3", "20", 1.0f, 500},
};

static const struct fx_event fx_extra[] = {
    {"1", "60", 4.0f, 1000}, {"2", "10", 5.0f, 900}, {"3", "40", 1.0f, 300},
    {"4", "30", 4.0f, 700},  {"4", "40", 4.0f, 800},
};

static void fx_item(struct jc_catalog_builder *b, const char *ext, int32_t year,
                    const char *const *genres, int ng)
{
    uint32_t id;
    assert_int_equal(jc_cb_item(b, ext, strlen(ext), &id, NULL), JC_OK);
    if (year)
        assert_int_equal(jc_cb_item_set_year(b, id, year), JC_OK);
    for (int i = 0; i < ng; i++)
        assert_int_equal(jc_cb_item_add_genre(b, id, genres[i], strlen(genres[i])), JC_OK);
}

static void fx_add(struct jc_catalog_builder *b, const struct fx_event *e)
{
    uint32_t u, i;
    assert_int_equal(jc_cb_user(b, e->user, strlen(e->user), &u, NULL), JC_OK);
    assert_int_equal(jc_cb_item(b, e->item, strlen(e->item), &i, NULL), JC_OK);
    assert_int_equal(jc_cb_add_interaction(b, u, i, e->value, e->time, JC_EV_RATING), JC_OK);
}

/* Writes the fixture catalog to path and opens it. */
static struct jc_catalog *fx_catalog(const char *path, int extra)
{
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    const char *g10[] = {"Comedy", "Drama"}, *g20[] = {"Action"},
               *g30[] = {"Drama", "Action", "Comedy"}, *g50[] = {"Comedy"};
    fx_item(b, "10", 1995, g10, 2);
    fx_item(b, "20", 2000, g20, 1);
    fx_item(b, "30", 0, g30, 3);
    fx_item(b, "40", 2010, NULL, 0);
    fx_item(b, "50", 1980, g50, 1);
    uint32_t u;
    assert_int_equal(jc_cb_user(b, "1", 1, &u, NULL), JC_OK);
    assert_int_equal(jc_cb_user(b, "2", 1, &u, NULL), JC_OK);
    assert_int_equal(jc_cb_user(b, "3", 1, &u, NULL), JC_OK);
    for (size_t k = 0; k < sizeof fx_events / sizeof fx_events[0]; k++)
        fx_add(b, &fx_events[k]);
    if (extra) {
        const char *g60[] = {"Drama"};
        fx_item(b, "60", 2020, g60, 1);
        for (size_t k = 0; k < sizeof fx_extra / sizeof fx_extra[0]; k++)
            fx_add(b, &fx_extra[k]);
    }
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, path), JC_OK);
    return cat;
}

#endif
