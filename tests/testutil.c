/*
 * testutil.c - scratch directories and file helpers for unit tests.
 */
#include "testutil.h"

#include "core/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[4096];

const char *jc_test_tmpdir(void)
{
    if (tmpdir[0])
        return tmpdir;
    const char *base = getenv("JC_TEST_TMP");
    if (base == NULL || base[0] == '\0')
        base = JC_TEST_BINARY_DIR "/test-tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/unit-%ld", base, (long)getpid());
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fail_msg("cannot clean %s", tmpdir);
    if (jc_mkdir_p(tmpdir) != 0)
        fail_msg("cannot create %s", tmpdir);
    return tmpdir;
}

const char *jc_test_path(const char *name)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 4096, "%s/%s", jc_test_tmpdir(), name);
    return b;
}

const char *jc_test_src(const char *rel)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 4096, "%s/%s", JC_TEST_SOURCE_DIR, rel);
    return b;
}

void jc_test_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("cannot write %s", path);
    if (n && fwrite(data, 1, n, f) != n)
        fail_msg("short write to %s", path);
    fclose(f);
}

void jc_test_write_file(const char *path, const char *text)
{
    jc_test_write_bytes(path, text, strlen(text));
}
