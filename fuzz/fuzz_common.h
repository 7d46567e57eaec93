/*
 * fuzz_common.h - helpers shared by the fuzz targets: splitting one input
 * into several files and a scratch directory per process.
 *
 * Every target is built twice: as a libFuzzer program (make fuzz, clang)
 * and as a plain regression program that replays the committed corpus
 * (make test), through fuzz/driver.c.
 */
#ifndef JC_FUZZ_COMMON_H
#define JC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A per-process scratch directory (created once). */
const char *jc_fuzz_dir(void);
/* Splits data on the line "@@" into up to n_names files under dir, named by
 * names[i]; missing parts are not written (and removed if present). */
void jc_fuzz_write_parts(const char *dir, const uint8_t *data, size_t size,
                         const char *const *names, int n_names);

#endif
