/*
 * testutil.h - helpers shared by the unit tests (cmocka).
 *
 * jc_test_tmpdir() gives each test program a fresh scratch directory under
 * the build tree; jc_test_data() points at the bundled data and fixtures.
 */
#ifndef JC_TESTUTIL_H
#define JC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A fresh, empty directory for this test program (created on first call). */
const char *jc_test_tmpdir(void);
/* tmpdir + "/" + name into a static rotating buffer. */
const char *jc_test_path(const char *name);
/* Source tree path (e.g. "data/ml-latest-small"). */
const char *jc_test_src(const char *rel);
/* Writes text to a file (test helper; aborts the test on failure). */
void jc_test_write_file(const char *path, const char *text);
/* Writes a file of given bytes. */
void jc_test_write_bytes(const char *path, const void *data, size_t n);

#define assert_double_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#endif
