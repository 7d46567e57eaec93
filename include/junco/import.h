/*
 * junco/import.h - loading data files into the catalog.
 *
 * jc_import reads one source (a MovieLens release directory, or a generic
 * CSV/TSV/JSONL interactions file) into a catalog builder, then writes the
 * catalog atomically. With append, the existing catalog is loaded first and
 * the new rows are added to it. A failed import never touches the existing
 * catalog file.
 *
 * Formats:
 *   ml-latest  movies.csv, ratings.csv, links.csv, tags.csv (latest-small,
 *              20M, 25M and 32M releases; RFC 4180 quoting)
 *   ml-100k    u.data, u.item, u.user, u.genre (Latin-1 text)
 *   ml-1m      ratings.dat, movies.dat, users.dat ("::" separated, Latin-1)
 *   csv        delimited interactions with a header; separator detected
 *              (comma, tab, semicolon or '|')
 *   jsonl      one JSON object per line
 *   auto       decided from the file names
 * Bad rows fail the import with "file:line: reason", or, with skip_bad,
 * are counted and the first few described in the result.
 */
#ifndef JUNCO_IMPORT_H
#define JUNCO_IMPORT_H

#include <junco/progress_cb.h>

#include <stdint.h>

struct jc_import_opts {
    const char *format; /* "auto" (default when NULL) or a format name */
    /* Column mapping for csv/jsonl: a column name or 0-based index; NULL
     * means auto-detect (user|userId|user_id, item|itemId|movieId, ...). */
    const char *col_user, *col_item, *col_value, *col_time, *col_type;
    int skip_bad;
    int append;
    uint32_t max_errors_shown;      /* bad-row messages kept in the result */
    const char *default_event_type; /* for rows without a type; "rating" */
    struct jc_progress progress;
};

#define JC_IMPORT_MAX_FILES 8

struct jc_import_file_stats {
    char name[64];
    uint64_t bytes;
    uint64_t rows;
    uint64_t bad;
};

struct jc_import_result {
    char format[16];
    uint64_t rows;     /* data rows read, all files */
    uint64_t bad_rows; /* skipped rows (skip_bad) */
    uint64_t interactions_added;
    uint64_t tags_added;
    uint32_t items_added, users_added;
    uint32_t n_items, n_users; /* totals in the written catalog */
    uint64_t n_interactions;
    uint64_t bytes_read;
    double seconds;
    uint32_t n_files;
    struct jc_import_file_stats files[JC_IMPORT_MAX_FILES];
    uint32_t n_messages;
    char **messages; /* owned: the first max_errors_shown bad-row messages */
};

void jc_import_opts_default(struct jc_import_opts *o);
/* Detects the format of src ("ml-latest", ...); JC_EINVAL if unknown. */
int jc_import_detect(const char *src, const char **format);
int jc_import(const char *src, const char *catalog_path, const struct jc_import_opts *opts,
              struct jc_import_result *res);
void jc_import_result_free(struct jc_import_result *res);

#endif
