/*
 * fileio.c - atomic writer, whole-file reads, mmap, directories.
 */
#include "fileio.h"

#include "alloc.h"
#include <junco/error.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WBUF_CAP (1u << 20)

static atomic_long write_fail_countdown;
static atomic_uint tmp_counter;

void jc_fileio_fail_write_after(long n)
{
    atomic_store(&write_fail_countdown, n < 0 ? 0 : n);
}

static int injected_write_failure(void)
{
    long c = atomic_load(&write_fail_countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&write_fail_countdown, &c, c - 1))
            return c == 1;
    }
    return 0;
}

static int os_error(int err_no, const char *what, const char *path)
{
    int code = err_no == ENOSPC || err_no == EDQUOT ? JC_ENOSPACE
               : err_no == ENOENT                   ? JC_ENOTFOUND
                                                    : JC_EIO;
    return jc_err_set(code, "%s %s: %s", what, path, strerror(err_no));
}

static int write_all(int fd, const char *p, size_t n, const char *path)
{
    while (n > 0) {
        ssize_t k;
        if (injected_write_failure()) {
            errno = EIO;
            k = -1;
        } else {
            k = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        }
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return os_error(errno, "cannot write", path);
        }
        p += k;
        n -= (size_t)k;
    }
    return JC_OK;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return jc_strdup(".");
    if (slash == path)
        return jc_strdup("/");
    return jc_strndup(path, (size_t)(slash - path));
}

int jc_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return os_error(errno, "cannot open directory", dir);
    int rc = JC_OK;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = os_error(errno, "cannot fsync directory", dir);
    close(fd);
    return rc;
}

/* Removes "<path>.tmp.<pid>.<n>" files left by writers that died (their pid
 * no longer exists), so crashed imports do not accumulate garbage. */
static void remove_stale_tmp(const char *path)
{
    char *dir = dir_of(path);
    if (dir == NULL)
        return;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, base, blen) != 0 || strncmp(e->d_name + blen, ".tmp.", 5))
                continue;
            char *end;
            long pid = strtol(e->d_name + blen + 5, &end, 10);
            if (end == e->d_name + blen + 5 || *end != '.' || pid <= 0)
                continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                continue;
            char full[4096];
            if (jc_path_join(full, sizeof full, dir, e->d_name) == JC_OK)
                unlink(full);
        }
        closedir(d);
    }
    jc_free(dir);
}

int jc_wfile_open(struct jc_wfile *w, const char *path)
{
    remove_stale_tmp(path);
    memset(w, 0, sizeof *w);
    w->fd = -1;
    size_t n = strlen(path) + 64;
    w->path = jc_strdup(path);
    w->tmp_path = jc_malloc(n);
    w->buf = jc_malloc(WBUF_CAP);
    if (!w->path || !w->tmp_path || !w->buf) {
        jc_wfile_abort(w);
        return JC_ENOMEM;
    }
    w->buf_cap = WBUF_CAP;
    snprintf(w->tmp_path, n, "%s.tmp.%ld.%u", path, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1));
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = os_error(errno, "cannot create", w->tmp_path);
        jc_wfile_abort(w);
        return rc;
    }
    return JC_OK;
}

static int flush_buf(struct jc_wfile *w)
{
    if (w->buf_len == 0)
        return JC_OK;
    int rc = write_all(w->fd, w->buf, w->buf_len, w->tmp_path);
    if (rc) {
        w->failed = rc;
        return rc;
    }
    w->buf_len = 0;
    return JC_OK;
}

int jc_wfile_write(struct jc_wfile *w, const void *p, size_t n)
{
    if (w->failed)
        return w->failed;
    w->written += n;
    if (n >= w->buf_cap) {
        int rc = flush_buf(w);
        if (rc)
            return rc;
        rc = write_all(w->fd, p, n, w->tmp_path);
        if (rc)
            w->failed = rc;
        return rc;
    }
    if (w->buf_len + n > w->buf_cap) {
        int rc = flush_buf(w);
        if (rc)
            return rc;
    }
    memcpy(w->buf + w->buf_len, p, n);
    w->buf_len += n;
    return JC_OK;
}

int jc_wfile_pwrite(struct jc_wfile *w, const void *p, size_t n, uint64_t off)
{
    if (w->failed)
        return w->failed;
    if (off + n > w->written)
        return jc_err_set(JC_EINVAL, "pwrite beyond the written end of %s", w->tmp_path);
    int rc = flush_buf(w);
    if (rc)
        return rc;
    const char *q = p;
    while (n > 0) {
        ssize_t k = pwrite(w->fd, q, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            w->failed = os_error(errno, "cannot write", w->tmp_path);
            return w->failed;
        }
        q += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return JC_OK;
}

int jc_wfile_commit(struct jc_wfile *w)
{
    int rc = w->failed ? w->failed : flush_buf(w);
    if (rc == JC_OK && fsync(w->fd) != 0)
        rc = os_error(errno, "cannot fsync", w->tmp_path);
    if (rc == JC_OK) {
        if (close(w->fd) != 0)
            rc = os_error(errno, "cannot close", w->tmp_path);
        w->fd = -1;
    }
    if (rc == JC_OK && rename(w->tmp_path, w->path) != 0)
        rc = os_error(errno, "cannot rename into place", w->path);
    if (rc == JC_OK) {
        char *dir = dir_of(w->path);
        if (dir == NULL)
            rc = JC_ENOMEM;
        else
            rc = jc_fsync_dir(dir);
        jc_free(dir);
        jc_free(w->tmp_path);
        w->tmp_path = NULL; /* renamed: nothing to unlink */
    }
    jc_wfile_abort(w);
    return rc;
}

void jc_wfile_abort(struct jc_wfile *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->tmp_path)
        unlink(w->tmp_path);
    jc_free(w->tmp_path);
    jc_free(w->path);
    jc_free(w->buf);
    w->tmp_path = w->path = w->buf = NULL;
}

int jc_file_write_atomic(const char *path, const void *data, size_t n)
{
    struct jc_wfile w;
    int rc = jc_wfile_open(&w, path);
    if (rc)
        return rc;
    rc = jc_wfile_write(&w, data, n);
    if (rc) {
        jc_wfile_abort(&w);
        return rc;
    }
    return jc_wfile_commit(&w);
}

int jc_file_read_all(const char *path, size_t cap, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return os_error(errno, "cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = os_error(errno, "cannot stat", path);
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return jc_err_set(JC_EINVAL, "%s is a directory, expected a file", path);
    }
    if ((uint64_t)st.st_size > cap) {
        close(fd);
        return jc_err_set(JC_ELIMIT, "%s is larger than the limit of %zu bytes", path, cap);
    }
    size_t n = (size_t)st.st_size;
    char *buf = jc_malloc(n + 1);
    if (buf == NULL) {
        close(fd);
        return JC_ENOMEM;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int rc = os_error(errno, "cannot read", path);
            jc_free(buf);
            close(fd);
            return rc;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return JC_OK;
}

int jc_map_open(struct jc_map *m, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return os_error(errno, "cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = os_error(errno, "cannot stat", path);
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return jc_err_set(JC_EINVAL, "%s is a directory, expected a file", path);
    }
    m->size = (size_t)st.st_size;
    m->data = NULL;
    if (m->size > 0) {
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int rc = os_error(errno, "cannot map", path);
            close(fd);
            return rc;
        }
        m->data = p;
    }
    close(fd);
    return JC_OK;
}

void jc_map_release(struct jc_map *m, size_t upto)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    upto -= upto % page;
    if (m->data && upto > 0 && upto <= m->size)
        madvise((void *)m->data, upto, MADV_DONTNEED);
}

void jc_map_close(struct jc_map *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int jc_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int jc_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int jc_mkdir_p(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return jc_err_set(JC_EINVAL, "bad directory path '%s'", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char c = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return os_error(errno, "cannot create directory", tmp);
            tmp[i] = c;
        }
    }
    if (!jc_is_dir(path))
        return jc_err_set(JC_EIO, "%s exists and is not a directory", path);
    return JC_OK;
}

int jc_path_join(char *out, size_t cap, const char *a, const char *b)
{
    int n;
    if (a[0] == '\0' || b[0] == '/')
        n = snprintf(out, cap, "%s", b);
    else if (a[strlen(a) - 1] == '/')
        n = snprintf(out, cap, "%s%s", a, b);
    else
        n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return jc_err_set(JC_ELIMIT, "path too long: %s/%s", a, b);
    return JC_OK;
}
