/*
 * import_int.h - shared state of the importers (import.c for dispatch and
 * the generic formats, import_ml.c for the MovieLens releases).
 */
#ifndef JC_IMPORT_INT_H
#define JC_IMPORT_INT_H

#include <junco/catalog.h>
#include <junco/import.h>

#include "core/buf.h"
#include "core/fileio.h"
#include "data/csv.h"

#include <stddef.h>
#include <stdint.h>

struct jc_import_ctx {
    struct jc_catalog_builder *b;
    const struct jc_import_opts *o;
    struct jc_import_result *res;
    uint8_t default_type;
    struct jc_import_file_stats *fs; /* file being read */
    const char *path;                /* file being read (for messages) */
    uint64_t bytes_done;             /* bytes of earlier files */
    uint64_t bytes_total;            /* all files of this import */
    uint64_t rows_since_report;
    /* cache of the last user id seen (ratings files are grouped by user) */
    char last_user[64];
    size_t last_user_n;
    uint32_t last_user_id;
    int last_user_valid;
    struct jc_buf tmp; /* Latin-1 conversion */
    /* ml-100k genre names by flag index (from u.genre or the built-in list) */
    char (*genre_names)[64];
    int n_genre_names;
};

/* Row handlers return JC_OK, a negative error (fatal), or this value when
 * the row was bad and skipped (with skip_bad). */
#define JC_IMPORT_SKIPPED 1

/* Records a bad row "path:line: reason". Without skip_bad this returns a
 * JC_EPARSE error carrying the message; with skip_bad it counts the row and
 * returns JC_IMPORT_SKIPPED. */
int jc_import__bad(struct jc_import_ctx *c, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Turns a builder error (JC_EENCODING, JC_EPARSE, JC_ELIMIT...) for a row
 * into a bad-row report; JC_ENOMEM passes through. */
int jc_import__row_error(struct jc_import_ctx *c, uint64_t line, int rc);

/* Maps a file and starts per-file statistics. */
int jc_import__open_file(struct jc_import_ctx *c, const char *path, struct jc_map *m);
void jc_import__close_file(struct jc_import_ctx *c, struct jc_map *m);
/* Reports progress and releases the consumed part of the mapped input
 * (called by the readers every 64K rows). */
int jc_import__progress(struct jc_import_ctx *c, struct jc_map *m, uint64_t file_offset);

/* Interns a user id with a one-entry cache. */
int jc_import__user(struct jc_import_ctx *c, const char *ext, size_t n, uint32_t *id);

/* Release year from a title ending in "(1995)" or "(2006-2007)"; 0 if none. */
int32_t jc_import__year_from_title(const char *t, size_t n);

int jc_import__ml_latest(struct jc_import_ctx *c, const char *dir);
int jc_import__ml_100k(struct jc_import_ctx *c, const char *dir);
int jc_import__ml_1m(struct jc_import_ctx *c, const char *dir);

#endif
