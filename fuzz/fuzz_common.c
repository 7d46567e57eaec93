/*
 * fuzz_common.c - scratch files for the fuzz targets.
 */
#include "fuzz_common.h"

#include "core/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *jc_fuzz_dir(void)
{
    static char dir[256];
    if (dir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/junco-fuzz-%ld", base ? base : "/tmp", (long)getpid());
        jc_mkdir_p(dir);
    }
    return dir;
}

void jc_fuzz_write_parts(const char *dir, const uint8_t *data, size_t size,
                         const char *const *names, int n_names)
{
    const char *p = (const char *)data, *end = p + size;
    for (int i = 0; i < n_names; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (p == NULL || p > end) {
            unlink(path);
            continue;
        }
        const char *sep = NULL;
        for (const char *q = p; q + 4 <= end; q++) {
            if (memcmp(q, "\n@@\n", 4) == 0) {
                sep = q;
                break;
            }
        }
        const char *e = sep ? sep : end;
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(p, 1, (size_t)(e - p), f);
            fclose(f);
        }
        p = sep ? sep + 4 : end + 1;
    }
}
