/*
 * fileio.h - durable, atomic file writes and read-only memory maps.
 *
 * Atomic writes (jc_wfile): data goes to a temporary file next to the target
 * ("<path>.tmp.<pid>.<n>"); jc_wfile_commit flushes, fsyncs the file, renames
 * it over the target and fsyncs the directory. Until the commit returns
 * successfully the previous file at `path` is untouched; jc_wfile_abort (or a
 * crash) leaves at most a stray temporary file, which the next writer of the
 * same target removes. Every persisted file of junco is written this way.
 *
 * Errors carry the path and the OS reason; ENOSPC maps to JC_ENOSPACE.
 * A jc_wfile belongs to one thread. Fault injection for tests:
 * jc_fileio_fail_write_after(n) makes the n-th write(2) from now fail with EIO.
 */
#ifndef JC_FILEIO_H
#define JC_FILEIO_H

#include <stddef.h>
#include <stdint.h>

struct jc_wfile {
    int fd;
    char *path;     /* owned: target path */
    char *tmp_path; /* owned: temporary path */
    char *buf;      /* owned: write buffer */
    size_t buf_len;
    size_t buf_cap;
    uint64_t written; /* bytes accepted so far (buffered + flushed) */
    int failed;       /* sticky error code after the first failure */
};

int jc_wfile_open(struct jc_wfile *w, const char *path);
int jc_wfile_write(struct jc_wfile *w, const void *p, size_t n);
/* Writes at an absolute offset already covered by earlier writes (used to
 * patch headers after streaming the body). Flushes the buffer first. */
int jc_wfile_pwrite(struct jc_wfile *w, const void *p, size_t n, uint64_t off);
int jc_wfile_commit(struct jc_wfile *w);
void jc_wfile_abort(struct jc_wfile *w);

/* Whole-file atomic write. */
int jc_file_write_atomic(const char *path, const void *data, size_t n);

/* Reads a whole file into memory (NUL-terminated, owned by the caller, free
 * with jc_free). Files larger than `cap` bytes fail with JC_ELIMIT. */
int jc_file_read_all(const char *path, size_t cap, char **data, size_t *len);

/* A read-only mapping of a whole file. Empty files map to data == NULL. */
struct jc_map {
    const void *data;
    size_t size;
};
int jc_map_open(struct jc_map *m, const char *path);
void jc_map_close(struct jc_map *m);
/* Tells the kernel the first `upto` bytes will not be read again, so a
 * sequential reader of a huge file does not keep it all resident. */
void jc_map_release(struct jc_map *m, size_t upto);

/* mkdir -p; existing directories are fine. */
int jc_mkdir_p(const char *path);
/* 1 if path exists (any type), 0 otherwise. */
int jc_path_exists(const char *path);
int jc_is_dir(const char *path);
/* Joins a and b with '/' into out (cap bytes); JC_ELIMIT if too long. */
int jc_path_join(char *out, size_t cap, const char *a, const char *b);
/* fsync a directory (after creating or renaming entries in it). */
int jc_fsync_dir(const char *dir);

/* Test hook: the n-th write from now fails with EIO (0 disables). */
void jc_fileio_fail_write_after(long n);

#endif
