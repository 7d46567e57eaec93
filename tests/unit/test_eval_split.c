/*
 * test_eval_split.c - splits: the rules of each kind on hand-made data,
 * deduplication and filtering, determinism and checksums, the catalog
 * path, export/load round trips with SHA-256 manifests, corrupt exports,
 * write failures, and the SHA-256 implementation against FIPS vectors.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include "eval/sha256.h"
#include <junco/catalog.h>
#include <junco/error.h>
#include <junco/eval.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sha_hex(const void *p, size_t n, size_t chunk, char out[65])
{
    struct jc_sha256 s;
    jc_sha256_init(&s);
    const char *c = p;
    while (n) {
        size_t k = n < chunk ? n : chunk;
        jc_sha256_update(&s, c, k);
        c += k;
        n -= k;
    }
    uint8_t d[32];
    jc_sha256_final(&s, d);
    jc_sha256_hex(d, out);
}

static void test_sha256(void **state)
{
    (void)state;
    char h[65];
    sha_hex("", 0, 1, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, 1, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(m, strlen(m), 7, h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    sha_hex(a, 1000000, 4099, h);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* Events: user 0 has 10, user 1 has 5, user 2 has 2, user 3 has 1, plus
 * a duplicate (user 0, item 3) and a low-valued event of user 1. */
struct ev {
    uint32_t user[32], item[32];
    float value[32];
    int64_t time[32];
    uint64_t n;
};

static void events(struct ev *e)
{
    e->n = 0;
    for (uint32_t i = 0; i < 10; i++) {
        /* inserted in reverse time order: the split must sort */
        e->user[e->n] = 0;
        e->item[e->n] = i;
        e->value[e->n] = 4;
        e->time[e->n] = 1000 - (int64_t)i * 10;
        e->n++;
    }
    for (uint32_t i = 0; i < 5; i++) {
        e->user[e->n] = 1;
        e->item[e->n] = 10 + i;
        e->value[e->n] = 3;
        e->time[e->n] = 2000 + i;
        e->n++;
    }
    for (uint32_t i = 0; i < 2; i++) {
        e->user[e->n] = 2;
        e->item[e->n] = i;
        e->value[e->n] = 5;
        e->time[e->n] = 3000 + i;
        e->n++;
    }
    e->user[e->n] = 3;
    e->item[e->n] = 7;
    e->value[e->n] = 5;
    e->time[e->n] = 500;
    e->n++;
    /* duplicate of (0, 3) later in time: dropped, the earlier one stays */
    e->user[e->n] = 0;
    e->item[e->n] = 3;
    e->value[e->n] = 1;
    e->time[e->n] = 5000;
    e->n++;
    /* low value of user 1 */
    e->user[e->n] = 1;
    e->item[e->n] = 19;
    e->value[e->n] = 0.5f;
    e->time[e->n] = 1500;
    e->n++;
}

static uint64_t count(const struct jc_eval_part *p, uint32_t u)
{
    return p->offsets[u + 1] - p->offsets[u];
}

static void test_random_rules(void **state)
{
    (void)state;
    struct ev e;
    events(&e);
    struct jc_split_config c;
    jc_split_config_default(&c);
    c.min_value = 1.0;
    struct jc_split *s;
    assert_int_equal(jc_split_create_arrays(&s, 4, 20, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_OK);
    struct jc_split_info in;
    jc_split_get_info(s, &in);
    assert_int_equal(in.n_input, 20);
    assert_int_equal(in.n_dropped, 1);
    assert_int_equal(in.n_duplicates, 1);
    struct jc_eval_part tr, va, te, tv;
    jc_split_part(s, JC_PART_TRAIN, &tr);
    jc_split_part(s, JC_PART_VALID, &va);
    jc_split_part(s, JC_PART_TEST, &te);
    jc_split_part(s, JC_PART_TRAIN_VALID, &tv);
    /* 10 -> 8/1/1; 5 -> round(0.5) = 1 each -> 3/1/1; 2 and 1 -> all train */
    assert_int_equal(count(&tr, 0), 8);
    assert_int_equal(count(&va, 0), 1);
    assert_int_equal(count(&te, 0), 1);
    assert_int_equal(count(&tr, 1), 3);
    assert_int_equal(count(&va, 1), 1);
    assert_int_equal(count(&te, 1), 1);
    assert_int_equal(count(&tr, 2), 2);
    assert_int_equal(count(&te, 2), 0);
    assert_int_equal(count(&tr, 3), 1);
    assert_int_equal(in.n_events[JC_PART_TRAIN], 14);
    assert_int_equal(in.n_events[JC_PART_TRAIN_VALID], 16);
    assert_int_equal(in.n_users_with[JC_PART_TEST], 2);
    /* every part in time order; parts disjoint; union = the 18 kept events */
    int seen[4][20];
    memset(seen, 0, sizeof seen);
    const struct jc_eval_part *parts[3] = {&tr, &va, &te};
    for (int p = 0; p < 3; p++)
        for (uint32_t u = 0; u < 4; u++)
            for (uint64_t k = parts[p]->offsets[u]; k < parts[p]->offsets[u + 1]; k++) {
                seen[u][parts[p]->items[k]]++;
                if (k > parts[p]->offsets[u])
                    assert_true(parts[p]->times[k] >= parts[p]->times[k - 1]);
            }
    int total = 0;
    for (int u = 0; u < 4; u++)
        for (int i = 0; i < 20; i++) {
            assert_true(seen[u][i] <= 1);
            total += seen[u][i];
        }
    assert_int_equal(total, 18);
    assert_int_equal(seen[1][19], 0); /* below min_value */
    /* the duplicate kept the first occurrence (time 970, value 4) */
    for (uint64_t k = tv.offsets[0]; k < tv.offsets[0] + count(&tv, 0); k++)
        if (tv.items[k] == 3)
            assert_int_equal(tv.times[k], 970);
    /* same seed: same checksum; another seed: another split */
    struct jc_split *s2;
    assert_int_equal(jc_split_create_arrays(&s2, 4, 20, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_OK);
    struct jc_split_info in2;
    jc_split_get_info(s2, &in2);
    assert_int_equal(in.checksum, in2.checksum);
    jc_split_destroy(s2);
    c.seed = 43;
    assert_int_equal(jc_split_create_arrays(&s2, 4, 20, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_OK);
    jc_split_get_info(s2, &in2);
    assert_int_not_equal(in.checksum, in2.checksum);
    jc_split_destroy(s2);
    jc_split_destroy(s);
}

static void test_temporal_and_loo(void **state)
{
    (void)state;
    struct ev e;
    events(&e);
    struct jc_split_config c;
    jc_split_config_default(&c);
    c.kind = JC_SPLIT_TEMPORAL;
    c.valid_frac = 0.2;
    c.test_frac = 0.25;
    struct jc_split *s;
    assert_int_equal(jc_split_create_arrays(&s, 4, 20, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_OK);
    struct jc_split_info in;
    jc_split_get_info(s, &in);
    /* 19 events after dedup (none dropped): floor(19 * .25) = 4 test,
     * floor(19 * .2) = 3 valid. By time: ... 2002 2003 2004 | 3000 3001 and
     * 1500 (user 1, item 19) sorts before 2000. Test = 2004, 3000, 3001 and
     * 2003; valid = 2000, 2001, 2002. */
    assert_int_equal(in.n_events[JC_PART_TEST], 4);
    assert_int_equal(in.n_events[JC_PART_VALID], 3);
    assert_int_equal(in.test_from, 2003);
    assert_int_equal(in.valid_from, 2000);
    struct jc_eval_part te;
    jc_split_part(s, JC_PART_TEST, &te);
    assert_int_equal(count(&te, 1), 2);
    assert_int_equal(count(&te, 2), 2);
    jc_split_destroy(s);

    c.kind = JC_SPLIT_LOO;
    assert_int_equal(jc_split_create_arrays(&s, 4, 20, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_OK);
    struct jc_eval_part tr, va;
    jc_split_part(s, JC_PART_TRAIN, &tr);
    jc_split_part(s, JC_PART_VALID, &va);
    jc_split_part(s, JC_PART_TEST, &te);
    /* user 0: latest is item 0 (time 1000), then item 1 (990) */
    assert_int_equal(count(&te, 0), 1);
    assert_int_equal(te.items[te.offsets[0]], 0);
    assert_int_equal(va.items[va.offsets[0]], 1);
    assert_int_equal(count(&tr, 0), 8);
    /* user 1 has 6 events (item 19 at 1500 first): test 14, valid 13 */
    assert_int_equal(te.items[te.offsets[1]], 14);
    assert_int_equal(va.items[va.offsets[1]], 13);
    /* user 2 (2 events): test only; user 3 (1 event): train only */
    assert_int_equal(count(&te, 2), 1);
    assert_int_equal(count(&va, 2), 0);
    assert_int_equal(count(&tr, 2), 1);
    assert_int_equal(count(&te, 3), 0);
    assert_int_equal(count(&tr, 3), 1);
    jc_split_destroy(s);
}

static void test_errors(void **state)
{
    (void)state;
    struct ev e;
    events(&e);
    struct jc_split_config c;
    jc_split_config_default(&c);
    struct jc_split *s = NULL;
    c.test_frac = 0.6;
    c.valid_frac = 0.5;
    assert_int_equal(jc_split_create_arrays(&s, 4, 20, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "sum to less than 1"));
    jc_split_config_default(&c);
    assert_int_equal(jc_split_create_arrays(&s, 4, 10, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_ERANGE);
    assert_non_null(strstr(jc_errmsg(), "item 10"));
    c.min_value = 100;
    assert_int_equal(jc_split_create_arrays(&s, 4, 20, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "no interactions left"));
    assert_null(s);
    enum jc_split_kind k;
    assert_int_equal(jc_split_kind_parse("loo", &k), JC_OK);
    assert_int_equal(k, JC_SPLIT_LOO);
    assert_int_equal(jc_split_kind_parse("time", &k), JC_EINVAL);
    /* allocation failures: clean errors, no leaks (ASan) */
    jc_split_config_default(&c);
    int failures = 0;
    for (long n = 1; n < 40; n++) {
        jc_alloc_fail_after(n);
        int rc = jc_split_create_arrays(&s, 4, 20, e.n, e.user, e.item, e.value, e.time, &c);
        jc_alloc_fail_after(0);
        if (rc == JC_OK)
            jc_split_destroy(s);
        else {
            assert_int_equal(rc, JC_ENOMEM);
            failures++;
        }
    }
    assert_true(failures >= 8);
}

static void build_catalog(const char *path, struct ev *e)
{
    struct jc_catalog_builder *b;
    assert_int_equal(jc_catalog_builder_create(&b), JC_OK);
    char id[16];
    uint32_t got;
    for (uint32_t u = 0; u < 4; u++) {
        snprintf(id, sizeof id, "u%u", u);
        assert_int_equal(jc_cb_user(b, id, strlen(id), &got, NULL), JC_OK);
    }
    for (uint32_t i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "%u", 100 + i);
        assert_int_equal(jc_cb_item(b, id, strlen(id), &got, NULL), JC_OK);
    }
    for (uint64_t k = 0; k < e->n; k++)
        assert_int_equal(
            jc_cb_add_interaction(b, e->user[k], e->item[k], e->value[k], e->time[k], 0), JC_OK);
    assert_int_equal(jc_catalog_builder_write(b, path, NULL), JC_OK);
    jc_catalog_builder_destroy(b);
}

static void test_catalog_export_load(void **state)
{
    (void)state;
    struct ev e;
    events(&e);
    const char *cpath = jc_test_path("split.jcat");
    build_catalog(cpath, &e);
    struct jc_catalog *cat;
    assert_int_equal(jc_catalog_open(&cat, cpath), JC_OK);
    struct jc_split_config c;
    jc_split_config_default(&c);
    struct jc_split *s, *sa, *l;
    assert_int_equal(jc_split_create(&s, cat, &c), JC_OK);
    assert_int_equal(jc_split_create_arrays(&sa, 4, 20, e.n, e.user, e.item, e.value, e.time, &c),
                     JC_OK);
    struct jc_split_info a, b2;
    jc_split_get_info(s, &a);
    jc_split_get_info(sa, &b2);
    assert_int_equal(a.checksum, b2.checksum); /* catalog path = arrays path */
    jc_split_destroy(sa);

    const char *dir = jc_test_path("export");
    assert_int_equal(jc_split_export(s, cat, dir), JC_OK);
    char path[4096], *data;
    size_t len;
    snprintf(path, sizeof path, "%s/train.tsv", dir);
    assert_int_equal(jc_file_read_all(path, 1 << 20, &data, &len), JC_OK);
    assert_memory_equal(data, "user\titem\tvalue\ttime\n0\t", 23);
    char sha[65];
    sha_hex(data, len, 1 << 20, sha);
    jc_free(data);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    assert_int_equal(jc_file_read_all(path, 1 << 20, &data, &len), JC_OK);
    assert_non_null(strstr(data, sha)); /* the manifest lists the file's SHA-256 */
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)a.checksum);
    assert_non_null(strstr(data, hex));
    assert_non_null(strstr(data, "\"kind\": \"random\""));
    jc_free(data);
    snprintf(path, sizeof path, "%s/items.tsv", dir);
    assert_int_equal(jc_file_read_all(path, 1 << 20, &data, &len), JC_OK);
    assert_non_null(strstr(data, "\n19\t119\n"));
    jc_free(data);

    assert_int_equal(jc_split_load(&l, dir), JC_OK);
    struct jc_split_info li;
    jc_split_get_info(l, &li);
    assert_int_equal(li.checksum, a.checksum);
    for (int p = 0; p < 4; p++) {
        struct jc_eval_part x, y;
        jc_split_part(s, (enum jc_split_part)p, &x);
        jc_split_part(l, (enum jc_split_part)p, &y);
        assert_memory_equal(x.offsets, y.offsets, 5 * sizeof *x.offsets);
        assert_memory_equal(x.items, y.items, x.offsets[4] * sizeof *x.items);
        assert_memory_equal(x.values, y.values, x.offsets[4] * sizeof *x.values);
        assert_memory_equal(x.times, y.times, x.offsets[4] * sizeof *x.times);
    }
    jc_split_destroy(l);

    /* a changed byte in a part file is caught by the manifest */
    snprintf(path, sizeof path, "%s/test.tsv", dir);
    assert_int_equal(jc_file_read_all(path, 1 << 20, &data, &len), JC_OK);
    data[len - 2] = data[len - 2] == '1' ? '2' : '1';
    jc_test_write_bytes(path, data, len);
    jc_free(data);
    l = NULL;
    assert_int_equal(jc_split_load(&l, dir), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "differ from the manifest"));
    assert_null(l);
    /* a manifest that is not one */
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    jc_test_write_file(path, "{\"format\": \"something-else\"}");
    assert_int_equal(jc_split_load(&l, dir), JC_ECORRUPT);
    jc_test_write_file(path, "not json");
    assert_int_equal(jc_split_load(&l, dir), JC_ECORRUPT);
    assert_int_equal(jc_split_load(&l, jc_test_path("missing")), JC_ENOTFOUND);

    /* a failing write leaves no manifest behind */
    const char *dir2 = jc_test_path("export2");
    jc_fileio_fail_write_after(1);
    assert_int_not_equal(jc_split_export(s, cat, dir2), JC_OK);
    jc_fileio_fail_write_after(0);
    snprintf(path, sizeof path, "%s/manifest.json", dir2);
    assert_false(jc_path_exists(path));
    jc_split_destroy(s);
    jc_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_random_rules),
        cmocka_unit_test(test_temporal_and_loo),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_catalog_export_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
