/*
 * test_core.c - core utilities: errors, allocation, buffers, parsing, RNG,
 * hashing, JSON writer, UTF-8, time, thread pool, config.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/parse.h"
#include "core/pool.h"
#include "core/rng.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include <junco/config.h>
#include <junco/error.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_error_messages(void **state)
{
    (void)state;
    assert_string_equal(jc_strerror(JC_ECORRUPT), "corrupt or truncated file");
    assert_string_equal(jc_errname(JC_EPARSE), "JC_EPARSE");
    assert_int_equal(jc_err_set(JC_EIO, "disk %d failed", 3), JC_EIO);
    assert_string_equal(jc_errmsg(), "disk 3 failed");
    assert_int_equal(jc_errcode(), JC_EIO);
    jc_err_prefix(JC_EIO, "reading %s", "x.csv");
    assert_string_equal(jc_errmsg(), "reading x.csv: disk 3 failed");
    jc_err_clear();
    assert_string_equal(jc_errmsg(), "success");
}

static void test_alloc_accounting_and_injection(void **state)
{
    (void)state;
    struct jc_alloc_stats a, b;
    jc_alloc_get_stats(&a);
    char *p = jc_malloc(1000);
    assert_non_null(p);
    jc_alloc_get_stats(&b);
    assert_int_equal(b.bytes_in_use - a.bytes_in_use, 1000);
    p = jc_realloc(p, 3000);
    jc_alloc_get_stats(&b);
    assert_int_equal(b.bytes_in_use - a.bytes_in_use, 3000);
    jc_free(p);
    jc_alloc_get_stats(&b);
    assert_int_equal(b.bytes_in_use, a.bytes_in_use);
    /* overflow-checked arrays */
    assert_null(jc_malloc_array(SIZE_MAX / 2, 4));
    assert_int_equal(jc_errcode(), JC_ENOMEM);
    /* fault injection: the second allocation from now fails */
    jc_alloc_fail_after(2);
    void *x = jc_malloc(8);
    void *y = jc_malloc(8);
    void *z = jc_malloc(8);
    assert_non_null(x);
    assert_null(y);
    assert_non_null(z);
    jc_free(x);
    jc_free(z);
    void *al = jc_malloc_aligned(64, 100);
    assert_non_null(al);
    assert_int_equal((uintptr_t)al % 64, 0);
    jc_free_aligned(al);
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct jc_buf b;
    jc_buf_init(&b, 10);
    assert_int_equal(jc_buf_append_str(&b, "hello"), JC_OK);
    assert_int_equal(jc_buf_printf(&b, "%d", 1234), JC_OK);
    assert_string_equal(b.data, "hello1234");
    assert_int_equal(jc_buf_append_str(&b, "xy"), JC_ELIMIT);
    assert_string_equal(b.data, "hello1234");
    size_t n;
    char *d = jc_buf_detach(&b, &n);
    assert_int_equal(n, 9);
    assert_string_equal(d, "hello1234");
    jc_free(d);
    jc_buf_free(&b);
}

static void test_parse_numbers(void **state)
{
    (void)state;
    int64_t i;
    uint32_t u;
    double d;
    float f;
    assert_int_equal(jc_parse_i64("-42", 3, &i), JC_OK);
    assert_int_equal(i, -42);
    assert_int_equal(jc_parse_i64("9223372036854775807", 19, &i), JC_OK);
    assert_int_equal(i, INT64_MAX);
    assert_int_equal(jc_parse_i64("9223372036854775808", 19, &i), JC_ERANGE);
    assert_int_equal(jc_parse_i64("-9223372036854775808", 20, &i), JC_OK);
    assert_true(i == INT64_MIN);
    assert_int_equal(jc_parse_i64("12a", 3, &i), JC_EPARSE);
    assert_int_equal(jc_parse_i64("", 0, &i), JC_EPARSE);
    assert_int_equal(jc_parse_i64(" 1", 2, &i), JC_EPARSE);
    assert_int_equal(jc_parse_u32("4294967296", 10, &u), JC_ERANGE);
    assert_int_equal(jc_parse_u32("-1", 2, &u), JC_EPARSE);
    assert_int_equal(jc_parse_f64("3.5", 3, &d), JC_OK);
    assert_true(d == 3.5);
    assert_int_equal(jc_parse_f64("0.1", 3, &d), JC_OK);
    assert_true(d == 0.1);
    assert_int_equal(jc_parse_f64("-1e-3", 5, &d), JC_OK);
    assert_true(d == -1e-3);
    assert_int_equal(jc_parse_f64("1234567.8912345678", 18, &d), JC_OK);
    assert_true(d == 1234567.8912345678);
    assert_int_equal(jc_parse_f64("nan", 3, &d), JC_EPARSE);
    assert_int_equal(jc_parse_f64("inf", 3, &d), JC_EPARSE);
    assert_int_equal(jc_parse_f64("1e999", 5, &d), JC_ERANGE);
    assert_int_equal(jc_parse_f64(".", 1, &d), JC_EPARSE);
    assert_int_equal(jc_parse_f64("1.2.3", 5, &d), JC_EPARSE);
    assert_int_equal(jc_parse_f32("1e39", 4, &f), JC_ERANGE);
    /* the fast path agrees with strtod on many decimals */
    struct jc_rng r;
    jc_rng_seed(&r, 7);
    for (int k = 0; k < 20000; k++) {
        char s[40];
        int n = snprintf(s, sizeof s, "%.*f", (int)jc_rng_below(&r, 9),
                         (jc_rng_double(&r) - 0.5) * pow(10, (double)jc_rng_below(&r, 8)));
        assert_int_equal(jc_parse_f64(s, (size_t)n, &d), JC_OK);
        assert_true(d == strtod(s, NULL));
    }
    int bv;
    assert_int_equal(jc_parse_bool("Yes", 3, &bv), JC_OK);
    assert_int_equal(bv, 1);
    assert_int_equal(jc_parse_bool("off", 3, &bv), JC_OK);
    assert_int_equal(bv, 0);
    assert_int_equal(jc_parse_bool("maybe", 5, &bv), JC_EPARSE);
    uint64_t sz;
    assert_int_equal(jc_parse_size("512M", 4, &sz), JC_OK);
    assert_true(sz == 512ull << 20);
}

static void test_timestamps(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(jc_parse_timestamp("964982703", 9, &t), JC_OK);
    assert_true(t == 964982703);
    assert_int_equal(jc_parse_timestamp("2000-07-30T18:45:03Z", 20, &t), JC_OK);
    assert_true(t == 964982703);
    assert_int_equal(jc_parse_timestamp("2000-07-30 20:45:03+02:00", 25, &t), JC_OK);
    assert_true(t == 964982703);
    assert_int_equal(jc_parse_timestamp("1969-12-31", 10, &t), JC_OK);
    assert_true(t == -86400);
    assert_int_equal(jc_parse_timestamp("964982703.9", 11, &t), JC_OK);
    assert_true(t == 964982703);
    assert_int_equal(jc_parse_timestamp("2001-02-29", 10, &t), JC_EPARSE);
    assert_int_equal(jc_parse_timestamp("yesterday", 9, &t), JC_EPARSE);
    char buf[32];
    jc_fmt_utc(buf, sizeof buf, 964982703);
    assert_string_equal(buf, "2000-07-30 18:45:03");
}

static void test_rng_determinism(void **state)
{
    (void)state;
    struct jc_rng a, b, c;
    jc_rng_seed(&a, 123);
    jc_rng_seed(&b, 123);
    jc_rng_stream(&c, 123, 1);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = jc_rng_u64(&a), y = jc_rng_u64(&b), z = jc_rng_u64(&c);
        assert_true(x == y);
        same_c += x == z;
    }
    assert_int_equal(same_c, 0);
    /* jc_rng_below is unbiased enough: chi-square over 10 buckets */
    uint64_t cnt[10] = {0};
    for (int i = 0; i < 100000; i++)
        cnt[jc_rng_below(&a, 10)]++;
    double chi = 0;
    for (int k = 0; k < 10; k++)
        chi += pow((double)cnt[k] - 10000.0, 2) / 10000.0;
    assert_true(chi < 27.9); /* p = 0.001 at 9 degrees of freedom */
    /* normal: mean ~ 0, variance ~ 1 */
    double s = 0, s2 = 0;
    for (int i = 0; i < 100000; i++) {
        double v = jc_rng_normal(&a);
        s += v;
        s2 += v * v;
    }
    assert_double_near(s / 100000, 0.0, 0.02);
    assert_double_near(s2 / 100000, 1.0, 0.03);
    uint32_t perm[100];
    for (uint32_t i = 0; i < 100; i++)
        perm[i] = i;
    jc_rng_shuffle_u32(&a, perm, 100);
    uint64_t seen = 0, sum = 0;
    for (int i = 0; i < 100; i++) {
        sum += perm[i];
        seen += perm[i] != (uint32_t)i;
    }
    assert_int_equal(sum, 4950);
    assert_true(seen > 50);
}

static void test_strmap(void **state)
{
    (void)state;
    struct jc_strmap m;
    assert_int_equal(jc_strmap_init(&m, 4), JC_OK);
    char key[32];
    for (uint32_t i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof key, "key-%u", i);
        int ins;
        uint32_t v;
        assert_int_equal(jc_strmap_put(&m, key, (size_t)n, i, &v, &ins), JC_OK);
        assert_int_equal(ins, 1);
        assert_int_equal(v, i);
    }
    for (uint32_t i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof key, "key-%u", i);
        uint32_t v;
        assert_int_equal(jc_strmap_get(&m, key, (size_t)n, &v), 1);
        assert_int_equal(v, i);
        int ins;
        assert_int_equal(jc_strmap_put(&m, key, (size_t)n, 99, &v, &ins), JC_OK);
        assert_int_equal(ins, 0);
        assert_int_equal(v, i);
    }
    uint32_t v;
    assert_int_equal(jc_strmap_get(&m, "key-10000", 9, &v), 0);
    assert_int_equal(jc_strmap_get(&m, "", 0, &v), 0);
    assert_int_equal(m.n_keys, 10000);
    jc_strmap_free(&m);
    /* xxh3 is stable across library versions */
    assert_true(jc_hash64("junco", 5, 0) == jc_hash64("junco", 5, 0));
    assert_true(jc_hash64("junco", 5, 0) != jc_hash64("junco", 5, 1));
}

static void test_json_writer(void **state)
{
    (void)state;
    struct jc_buf b;
    struct jc_json j;
    jc_buf_init(&b, 0);
    jc_json_init(&j, &b, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "title", "American President, \"The\"\n\x01");
    jc_json_kv_int(&j, "n", -5);
    jc_json_kv_double(&j, "x", 0.1);
    jc_json_kv_double(&j, "nan", NAN);
    jc_json_key(&j, "list");
    jc_json_arr_begin(&j);
    jc_json_int(&j, 1);
    jc_json_bool(&j, 1);
    jc_json_null(&j);
    jc_json_str(&j, "caf\xc3\xa9 \xff");
    jc_json_arr_end(&j);
    jc_json_key(&j, "empty");
    jc_json_obj_begin(&j);
    jc_json_obj_end(&j);
    jc_json_obj_end(&j);
    assert_int_equal(jc_json_finish(&j), JC_OK);
    assert_string_equal(b.data,
                        "{\"title\":\"American President, \\\"The\\\"\\n\\u0001\",\"n\":-5,"
                        "\"x\":0.1,\"nan\":null,\"list\":[1,true,null,\"caf\xc3\xa9 \\ufffd\"],"
                        "\"empty\":{}}");
    jc_buf_free(&b);
    /* unbalanced scopes are reported */
    jc_buf_init(&b, 0);
    jc_json_init(&j, &b, 0);
    jc_json_arr_begin(&j);
    assert_int_equal(jc_json_finish(&j), JC_EINTERNAL);
    jc_buf_free(&b);
}

static void test_utf8(void **state)
{
    (void)state;
    size_t off;
    assert_true(jc_utf8_valid("plain ascii text, long enough", 29, NULL));
    assert_true(jc_utf8_valid("Am\xc3\xa9lie \xe2\x80\x93 \xf0\x9f\x8e\xac", 16, NULL));
    assert_false(jc_utf8_valid("Am\xe9lie", 6, &off));
    assert_int_equal(off, 2);
    assert_false(jc_utf8_valid("\xc0\xaf", 2, NULL));         /* overlong */
    assert_false(jc_utf8_valid("\xed\xa0\x80", 3, NULL));     /* surrogate */
    assert_false(jc_utf8_valid("\xf4\x90\x80\x80", 4, NULL)); /* > U+10FFFF */
    assert_false(jc_utf8_valid("\xe2\x80", 2, NULL));         /* truncated */
    struct jc_buf b;
    jc_buf_init(&b, 0);
    assert_int_equal(jc_latin1_to_utf8(&b, "Mis\xe9rables", 10), JC_OK);
    assert_string_equal(b.data, "Mis\xc3\xa9rables");
    jc_buf_free(&b);
}

struct pool_ctx {
    atomic_ullong sum;
    uint64_t hits[1000];
};

static void pool_task(void *ctx, uint64_t task, int worker)
{
    struct pool_ctx *c = ctx;
    (void)worker;
    atomic_fetch_add(&c->sum, task);
    c->hits[task]++;
}

static void test_pool(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        struct jc_pool *p;
        assert_int_equal(jc_pool_create(&p, threads), JC_OK);
        for (int round = 0; round < 20; round++) {
            struct pool_ctx c;
            memset(&c, 0, sizeof c);
            jc_pool_run(p, 1000, pool_task, &c);
            assert_true(atomic_load(&c.sum) == 499500);
            for (int i = 0; i < 1000; i++)
                assert_int_equal(c.hits[i], 1);
        }
        jc_pool_destroy(p);
    }
}

static void test_config_layers(void **state)
{
    (void)state;
    struct jc_config cfg;
    assert_int_equal(jc_config_init(&cfg), JC_OK);
    assert_int_equal(cfg.core_seed, 42);
    assert_int_equal(cfg.import_skip_bad, 0);
    const char *ini = jc_test_path("junco.ini");
    jc_test_write_file(ini, "[core]\nseed = 7\n\n[import]\nskip_bad = yes\n"
                            "[experiment.color]\ntraffic = 0.5\n");
    assert_int_equal(jc_config_load_file(&cfg, ini), JC_OK);
    assert_int_equal(cfg.core_seed, 7);
    assert_int_equal(cfg.source[JC_CFG_core_seed], JC_CFG_SRC_FILE);
    assert_int_equal(cfg.import_skip_bad, 1);
    assert_string_equal(jc_config_raw_get(&cfg, "experiment.color", "traffic"), "0.5");
    setenv("JUNCO_CORE_SEED", "9", 1);
    assert_int_equal(jc_config_load_env(&cfg), JC_OK);
    unsetenv("JUNCO_CORE_SEED");
    assert_int_equal(cfg.core_seed, 9);
    assert_int_equal(jc_config_set_assignment(&cfg, "core.seed=11", JC_CFG_SRC_CLI), JC_OK);
    assert_int_equal(cfg.core_seed, 11);
    assert_int_equal(jc_config_set(&cfg, "core.nope", "1", JC_CFG_SRC_CLI), JC_ENOTFOUND);
    assert_int_equal(jc_config_set(&cfg, "core.threads", "-1", JC_CFG_SRC_CLI), JC_ERANGE);
    assert_int_equal(jc_config_set(&cfg, "core.log_level", "loud", JC_CFG_SRC_CLI), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "error|warn|info|debug"));
    /* errors in a file name the line */
    jc_test_write_file(ini, "[core]\nseed = 1\nthreads = many\n");
    assert_int_equal(jc_config_load_file(&cfg, ini), JC_EPARSE);
    assert_non_null(strstr(jc_errmsg(), "junco.ini:3"));
    jc_test_write_file(ini, "[core]\nsed = 1\n");
    assert_int_equal(jc_config_load_file(&cfg, ini), JC_ENOTFOUND);
    assert_non_null(strstr(jc_errmsg(), "junco.ini:2: unknown setting 'core.sed'"));
    jc_config_free(&cfg);
}

static void test_atomic_write(void **state)
{
    (void)state;
    const char *p = jc_test_path("atomic.bin");
    assert_int_equal(jc_file_write_atomic(p, "first", 5), JC_OK);
    /* a failing write leaves the old content and no temporary file */
    struct jc_wfile w;
    assert_int_equal(jc_wfile_open(&w, p), JC_OK);
    char big[3 << 20];
    memset(big, 'x', sizeof big);
    jc_fileio_fail_write_after(1);
    assert_int_equal(jc_wfile_write(&w, big, sizeof big), JC_EIO);
    jc_fileio_fail_write_after(0);
    assert_int_equal(jc_wfile_commit(&w), JC_EIO);
    char *data;
    size_t n;
    assert_int_equal(jc_file_read_all(p, 100, &data, &n), JC_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(data, "first", 5);
    jc_free(data);
    assert_int_equal(jc_file_read_all(p, 3, &data, &n), JC_ELIMIT);
    assert_int_equal(jc_file_read_all(jc_test_path("missing"), 3, &data, &n), JC_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_alloc_accounting_and_injection),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_rng_determinism),
        cmocka_unit_test(test_strmap),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_config_layers),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
