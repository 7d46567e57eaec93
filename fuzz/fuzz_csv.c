/*
 * fuzz_csv.c - the CSV reader on arbitrary bytes. The first byte picks the
 * separator and quoting mode; every field must lie inside the input or the
 * scratch buffer, and the reader must always make progress.
 */
#include "fuzz_common.h"

#include "data/csv.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char seps[] = {',', '\t', '|', ';'};
    char sep = seps[data[0] & 3];
    int quoting = (data[0] >> 2) & 1;
    struct jc_csv r;
    jc_csv_init(&r, (const char *)data + 1, size - 1, sep, quoting);
    uint64_t guard = 0;
    for (;;) {
        uint64_t before = jc_csv_offset(&r);
        int rc = jc_csv_next(&r);
        if (rc == 0)
            break;
        if (rc == 1) {
            for (size_t i = 0; i < r.n_fields; i++) {
                volatile char sink = 0;
                for (size_t k = 0; k < r.f[i].n; k++)
                    sink ^= r.f[i].p[k]; /* ASan checks every byte is readable */
                (void)sink;
            }
        }
        if (jc_csv_offset(&r) <= before && rc != 0)
            abort(); /* no progress */
        if (++guard > size + 2)
            abort();
    }
    jc_csv_free(&r);
    return 0;
}
