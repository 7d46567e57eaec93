/*
 * driver.c - replays fuzz inputs without libFuzzer: every file named on the
 * command line (or every file in a directory named there) is passed to
 * LLVMFuzzerTestOneInput once. Used by make test to keep the corpus green.
 */
#include "fuzz_common.h"

#include "core/alloc.h"
#include "core/fileio.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int run_file(const char *path)
{
    char *data;
    size_t n;
    if (jc_file_read_all(path, 64u << 20, &data, &n) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, n);
    jc_free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!jc_is_dir(argv[i])) {
            bad |= run_file(argv[i]);
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            bad |= run_file(path);
            files++;
        }
        if (d)
            closedir(d);
    }
    printf("ok 1 - replayed %d corpus file(s) without a crash\n1..1\n", files);
    return bad || files == 0;
}
