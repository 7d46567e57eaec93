/*
 * fuzz_catalog.c - opening arbitrary bytes as a catalog: must fail cleanly
 * or succeed, and a successful open must allow walking every index.
 */
#include "fuzz_common.h"

#include <junco/catalog.h>

#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/in.jcat", jc_fuzz_dir());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct jc_catalog *c;
    if (jc_catalog_open(&c, path) != 0)
        return 0;
    volatile uint64_t sink = 0;
    for (uint32_t it = 0; it < jc_catalog_n_items(c); it++) {
        const uint16_t *g;
        uint32_t ng = jc_catalog_item_genres(c, it, &g);
        for (uint32_t k = 0; k < ng; k++)
            sink += strlen(jc_catalog_genre_name(c, g[k]));
        const uint32_t *pos;
        uint64_t n = jc_catalog_item_interactions(c, it, &pos);
        for (uint64_t k = 0; k < n; k++)
            sink += pos[k];
        sink += strlen(jc_catalog_item_title(c, it));
        uint32_t back;
        const char *ext = jc_catalog_item_ext_id(c, it);
        sink += (uint64_t)jc_catalog_find_item(c, ext, strlen(ext), &back);
    }
    for (uint32_t u = 0; u < jc_catalog_n_users(c); u++) {
        uint64_t b, e;
        jc_catalog_user_range(c, u, &b, &e);
        sink += e - b;
    }
    jc_catalog_close(c);
    (void)sink;
    return 0;
}
