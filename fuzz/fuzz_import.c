/*
 * fuzz_import.c - every importer on arbitrary files. The first byte picks
 * the format; the rest is split on "@@" lines into that format's files.
 * Imports must succeed or fail with an error, never crash; with skip_bad a
 * written catalog must open and validate.
 */
#include "fuzz_common.h"

#include "core/fileio.h"

#include <junco/catalog.h>
#include <junco/import.h>

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const latest[] = {"movies.csv", "links.csv", "ratings.csv", "tags.csv"};
    static const char *const k100[] = {"u.genre", "u.item", "u.user", "u.data"};
    static const char *const m1[] = {"movies.dat", "users.dat", "ratings.dat"};
    static const char *const csv[] = {"events.csv"};
    static const char *const jsonl[] = {"events.jsonl"};
    char dir[512], src[600], cat[600];
    int which = data[0] % 5, skip = (data[0] >> 3) & 1;
    snprintf(dir, sizeof dir, "%s/f%d", jc_fuzz_dir(), which);
    jc_mkdir_p(dir);
    struct jc_import_opts o;
    jc_import_opts_default(&o);
    o.skip_bad = skip;
    switch (which) {
    case 0:
        jc_fuzz_write_parts(dir, data + 1, size - 1, latest, 4);
        o.format = "ml-latest";
        break;
    case 1:
        jc_fuzz_write_parts(dir, data + 1, size - 1, k100, 4);
        o.format = "ml-100k";
        break;
    case 2:
        jc_fuzz_write_parts(dir, data + 1, size - 1, m1, 3);
        o.format = "ml-1m";
        break;
    case 3:
        jc_fuzz_write_parts(dir, data + 1, size - 1, csv, 1);
        o.format = "csv";
        break;
    default:
        jc_fuzz_write_parts(dir, data + 1, size - 1, jsonl, 1);
        o.format = "jsonl";
        break;
    }
    if (which == 3)
        snprintf(src, sizeof src, "%s/events.csv", dir);
    else if (which == 4)
        snprintf(src, sizeof src, "%s/events.jsonl", dir);
    else
        snprintf(src, sizeof src, "%s", dir);
    snprintf(cat, sizeof cat, "%s/cat.jcat", jc_fuzz_dir());
    remove(cat);
    struct jc_import_result res;
    if (jc_import(src, cat, &o, &res) == 0) {
        struct jc_catalog *c;
        if (jc_catalog_open(&c, cat) != 0)
            abort(); /* a catalog we wrote must validate */
        jc_catalog_close(c);
    }
    jc_import_result_free(&res);
    return 0;
}
