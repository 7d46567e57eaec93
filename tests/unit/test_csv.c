/*
 * test_csv.c - the delimited-text reader: RFC 4180 quoting, line endings,
 * errors with line numbers and recovery after a bad record.
 */
#include "testutil.h"

#include "data/csv.h"
#include <junco/error.h>

#include <string.h>

static void expect_fields(struct jc_csv *r, int n, const char *const *want)
{
    assert_int_equal(jc_csv_next(r), 1);
    assert_int_equal(r->n_fields, (size_t)n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(r->f[i].n, strlen(want[i]));
        assert_memory_equal(r->f[i].p, want[i], r->f[i].n);
    }
}

static void test_quoting(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBFmovieId,title,genres\r\n"
                       "11,\"American President, The (1995)\",Comedy|Drama\r\n"
                       "12,\"Say \"\"Hi\"\"\",\n"
                       "\n"
                       "13,\"two\nlines\",\"\"\n"
                       "14,,last";
    struct jc_csv r;
    jc_csv_init(&r, text, strlen(text), ',', 1);
    expect_fields(&r, 3, (const char *const[]){"movieId", "title", "genres"});
    assert_int_equal(r.record_line, 1);
    expect_fields(&r, 3,
                  (const char *const[]){"11", "American President, The (1995)", "Comedy|Drama"});
    expect_fields(&r, 3, (const char *const[]){"12", "Say \"Hi\"", ""});
    assert_int_equal(r.record_line, 3);
    expect_fields(&r, 3, (const char *const[]){"13", "two\nlines", ""});
    assert_int_equal(r.record_line, 5);
    expect_fields(&r, 3, (const char *const[]){"14", "", "last"});
    assert_int_equal(r.record_line, 7);
    assert_int_equal(jc_csv_next(&r), 0);
    assert_int_equal(jc_csv_find_field(&r, "last"), 2);
    jc_csv_free(&r);
}

static void test_errors_and_recovery(void **state)
{
    (void)state;
    const char *text = "a,b\n"
                       "x\"y,2\n"   /* stray quote */
                       "\"q\"z,3\n" /* text after closing quote */
                       "ok,4\n"
                       "\"never closed,5\n";
    struct jc_csv r;
    jc_csv_init(&r, text, strlen(text), ',', 1);
    assert_int_equal(jc_csv_next(&r), 1);
    assert_int_equal(jc_csv_next(&r), JC_EPARSE);
    assert_non_null(strstr(jc_errmsg(), "line 2: stray quote"));
    assert_int_equal(jc_csv_next(&r), JC_EPARSE);
    assert_non_null(strstr(jc_errmsg(), "line 3: unexpected text after a closing quote"));
    expect_fields(&r, 2, (const char *const[]){"ok", "4"});
    assert_int_equal(r.record_line, 4);
    assert_int_equal(jc_csv_next(&r), JC_EPARSE);
    assert_non_null(strstr(jc_errmsg(), "line 5: unterminated quoted field"));
    assert_int_equal(jc_csv_next(&r), 0);
    jc_csv_free(&r);
}

static void test_unquoted_mode_and_tabs(void **state)
{
    (void)state;
    const char *text = "1\t\"quoted\" title\t3\n";
    struct jc_csv r;
    jc_csv_init(&r, text, strlen(text), '\t', 0);
    expect_fields(&r, 3, (const char *const[]){"1", "\"quoted\" title", "3"});
    jc_csv_free(&r);
}

static void test_too_many_fields(void **state)
{
    (void)state;
    char text[2 * JC_CSV_MAX_FIELDS + 16];
    size_t n = 0;
    for (int i = 0; i <= JC_CSV_MAX_FIELDS; i++) {
        text[n++] = 'x';
        text[n++] = ',';
    }
    text[n++] = '\n';
    memcpy(text + n, "a,b\n", 4);
    n += 4;
    struct jc_csv r;
    jc_csv_init(&r, text, n, ',', 1);
    assert_int_equal(jc_csv_next(&r), JC_EPARSE);
    assert_non_null(strstr(jc_errmsg(), "more than 256 fields"));
    expect_fields(&r, 2, (const char *const[]){"a", "b"});
    jc_csv_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_errors_and_recovery),
        cmocka_unit_test(test_unquoted_mode_and_tabs),
        cmocka_unit_test(test_too_many_fields),
    };
    return cmocka_run_group_tests_name("csv", tests, NULL, NULL);
}
