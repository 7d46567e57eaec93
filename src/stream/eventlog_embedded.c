/*
 * eventlog_embedded.c - the embedded event log: segmented append-only files
 * with CRC32C-framed records, group commit, crash recovery and retention.
 *
 * Layout under the log directory:
 *   meta                   magic, version, partition count, xxh3 checksum
 *   LOCK                   flock()ed by the one writer process (holds its pid)
 *   p000/<base>.log        segments of partition 0, named by their first
 *                          offset (20 digits); the last one is active
 *   p000/<base>.idx        sparse index of a sealed segment (written
 *                          atomically when the segment is sealed)
 *   groups/<group>/<p>.off committed offset of a consumer group (atomic)
 *
 * Segment file: a 32-byte header (magic "JCEVSEG1", version, partition, base
 * offset, CRC32C of those) then frames:
 *   u32 len | u32 crc | u64 offset | i64 append_ms | payload[len]
 * with crc = CRC32C(payload || len || offset || append_ms), so the payload
 * checksum is computed outside the lock and only 20 bytes under it. Offsets
 * inside a partition are dense, so a frame's offset must equal its
 * predecessor's plus one; anything else is corruption.
 *
 * Group commit (leader/follower): an appender frames its records into the
 * partition's pending buffer under the partition mutex, assigning offsets.
 * If no leader is active it becomes the leader: it takes the whole pending
 * buffer (its own records plus everyone else's), writes it with one pwrite
 * per segment, fsyncs once (policy batch), then publishes durable_end and
 * wakes the followers whose records it carried. Records enqueued meanwhile
 * form the next batch. Readers of this process see only offsets below
 * durable_end, i.e. acknowledged records.
 *
 * Failure: a failed write truncates the files back to the last acknowledged
 * record and fails every call whose records were not yet acknowledged (so
 * offsets stay dense and nothing half-written stays behind); the log stays
 * usable. A failed fsync marks the partition broken (JC_ESTATE until the log
 * is reopened), since the kernel may have dropped the dirty pages.
 *
 * Recovery on open (writer): sealed segments are trusted through their index
 * (rescanned if it is missing or stale); the active segment is scanned and
 * truncated after its last valid frame, so a torn tail disappears and no
 * corrupt record is ever returned. Reader processes scan the active segment
 * themselves and stop at the first frame that does not check out (it may be
 * in the middle of being written).
 */
#include "eventlog_int.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crc32c.h"
#include <junco/error.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define META_MAGIC     "JCEVMETA"
#define SEG_MAGIC      "JCEVSEG1"
#define IDX_MAGIC      "JCEVIDX1"
#define OFF_MAGIC      "JCEVOFF1"
#define FORMAT_VERSION 1u
#define SEG_HDR        32u
#define FRAME_HDR      24u
#define INDEX_INTERVAL 4096u              /* bytes of data between index entries */
#define PENDING_CAP    ((size_t)64 << 20) /* bound of a partition's pending buffer */
#define READ_CHUNK     ((size_t)256 << 10)
#define PATH_CAP       4096

/* ---- little-endian helpers ----------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- test hooks -------------------------------------------------------------- */

static atomic_long fail_write_countdown;
static atomic_int fail_write_errno;
static atomic_long fail_fsync_countdown;

void jc_eventlog__fail_write_after(long n, int err)
{
    atomic_store(&fail_write_errno, err);
    atomic_store(&fail_write_countdown, n < 0 ? 0 : n);
}

void jc_eventlog__fail_fsync_after(long n)
{
    atomic_store(&fail_fsync_countdown, n < 0 ? 0 : n);
}

static int countdown_hit(atomic_long *c)
{
    long v = atomic_load(c);
    while (v > 0) {
        if (atomic_compare_exchange_weak(c, &v, v - 1))
            return v == 1;
    }
    return 0;
}

static int os_err(int e, const char *what, const char *path)
{
    int code = e == ENOSPC || e == EDQUOT ? JC_ENOSPACE : e == ENOENT ? JC_ENOTFOUND : JC_EIO;
    return jc_err_set(code, "%s %s: %s", what, path, strerror(e));
}

/* Writes all of p at off; the injection hook may cut it short. */
static int pwrite_all(int fd, const void *p, size_t n, uint64_t off, const char *path)
{
    const char *q = p;
    if (countdown_hit(&fail_write_countdown)) {
        size_t half = n / 2;
        if (half > 0 && pwrite(fd, q, half, (off_t)off) < 0)
            return os_err(errno, "cannot write", path);
        return os_err(atomic_load(&fail_write_errno), "cannot write", path);
    }
    while (n > 0) {
        ssize_t k = pwrite(fd, q, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return os_err(errno, "cannot write", path);
        }
        q += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return JC_OK;
}

static int pread_full(int fd, void *p, size_t n, uint64_t off, size_t *got)
{
    char *q = p;
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, q + done, n - done, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0)
            break;
        done += (size_t)k;
    }
    *got = done;
    return 0;
}

/* ---- data structures ---------------------------------------------------------- */

struct idx_entry {
    uint32_t rel; /* offset - base */
    uint32_t pos; /* byte position of that record in the file */
};

struct segment {
    uint64_t base;  /* first offset */
    uint64_t next;  /* offset after the last valid record */
    uint64_t size;  /* bytes of header + valid frames */
    int64_t max_ms; /* newest append_ms (retention by age) */
    int fd;
    int sealed;
    int refs;    /* readers using it (under the partition mutex) */
    int deleted; /* removed from the list; freed at refs == 0 */
    int damaged; /* a sealed segment whose scan stopped early */
    struct idx_entry *idx;
    size_t n_idx, cap_idx;
    uint64_t last_idx_pos;
    char path[PATH_CAP];
};

struct partition {
    uint32_t id;
    char dir[PATH_CAP];
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct segment **segs; /* sorted by base; the last is active */
    size_t n_segs, cap_segs;
    /* writer state, under mu */
    uint64_t next_offset; /* next offset to assign */
    uint64_t durable_end; /* acknowledged offsets are < durable_end */
    struct jc_buf pending;
    struct jc_buf spare; /* the leader's write buffer (swapped with pending) */
    uint64_t pending_first;
    int leader_active;
    uint64_t fail_epoch;
    int fail_rc;
    char fail_msg[512];
    int broken;
    int dirty; /* written since the last fsync (interval policy) */
};

struct emb {
    struct jc_eventlog_config cfg;
    char dir[PATH_CAP];
    int read_only;
    int lock_fd;
    uint32_t n_parts;
    struct partition *parts;
    struct jc_eventlog__metrics *m;
    pthread_t flusher;
    int flusher_running;
    pthread_mutex_t flush_mu;
    pthread_cond_t flush_cond;
    int stopping;
    pthread_mutex_t groups_mu;
};

static int64_t now_ms(void)
{
    return jc_eventlog__now_ms();
}

/* ---- segments ---------------------------------------------------------------- */

static void seg_free(struct segment *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    jc_free(s->idx);
    jc_free(s);
}

/* Drops a reference taken by a reader; frees a deleted segment. Caller holds
 * the partition mutex. */
static void seg_unref(struct segment *s)
{
    if (--s->refs == 0 && s->deleted)
        seg_free(s);
}

static int seg_add_idx(struct segment *s, uint64_t offset, uint64_t pos)
{
    if (s->n_idx == s->cap_idx) {
        size_t cap = s->cap_idx ? s->cap_idx * 2 : 64;
        struct idx_entry *e = jc_realloc_array(s->idx, cap, sizeof *e);
        if (e == NULL)
            return JC_ENOMEM;
        s->idx = e;
        s->cap_idx = cap;
    }
    s->idx[s->n_idx].rel = (uint32_t)(offset - s->base);
    s->idx[s->n_idx].pos = (uint32_t)pos;
    s->n_idx++;
    s->last_idx_pos = pos;
    return JC_OK;
}

/* Notes a record at pos in the sparse index if enough bytes have passed. */
static int seg_note(struct segment *s, uint64_t offset, uint64_t pos)
{
    if (s->n_idx == 0 || pos - s->last_idx_pos >= INDEX_INTERVAL)
        return seg_add_idx(s, offset, pos);
    return JC_OK;
}

/* Where to start scanning for `offset`: the last index entry at or before it. */
static void seg_seek(const struct segment *s, uint64_t offset, uint64_t *pos, uint64_t *at)
{
    *pos = SEG_HDR;
    *at = s->base;
    size_t lo = 0, hi = s->n_idx;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->base + s->idx[mid].rel <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0) {
        *pos = s->idx[lo - 1].pos;
        *at = s->base + s->idx[lo - 1].rel;
    }
}

static void seg_name(char *out, size_t cap, const char *dir, uint64_t base, const char *ext)
{
    snprintf(out, cap, "%s/%020" PRIu64 ".%s", dir, base, ext);
}

static void seg_header(unsigned char *h, uint32_t partition, uint64_t base)
{
    memset(h, 0, SEG_HDR);
    memcpy(h, SEG_MAGIC, 8);
    put32(h + 8, FORMAT_VERSION);
    put32(h + 12, partition);
    put64(h + 16, base);
    put32(h + 24, jc_crc32c(0, h, 24));
}

static int do_fsync(struct emb *e, int fd, const char *path, int data_only)
{
    int r;
    if (countdown_hit(&fail_fsync_countdown)) {
        errno = EIO;
        r = -1;
    } else {
        r = data_only ? fdatasync(fd) : fsync(fd);
    }
    if (r != 0)
        return os_err(errno, "cannot fsync", path);
    if (e->m)
        atomic_fetch_add(&e->m->fsyncs, 1);
    return JC_OK;
}

/* Creates an empty segment file (header written and, unless fsync=off,
 * fsynced together with the directory). */
static int seg_create(struct emb *e, struct partition *p, uint64_t base, struct segment **out)
{
    struct segment *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    s->fd = -1;
    s->base = s->next = base;
    s->size = SEG_HDR;
    seg_name(s->path, sizeof s->path, p->dir, base, "log");
    s->fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        int rc = os_err(errno, "cannot create segment", s->path);
        seg_free(s);
        return rc;
    }
    unsigned char h[SEG_HDR];
    seg_header(h, p->id, base);
    int rc = pwrite_all(s->fd, h, SEG_HDR, 0, s->path);
    if (rc == JC_OK && e->cfg.fsync != JC_FSYNC_OFF) {
        rc = do_fsync(e, s->fd, s->path, 0);
        if (rc == JC_OK)
            rc = jc_fsync_dir(p->dir);
    }
    if (rc) {
        unlink(s->path);
        seg_free(s);
        return rc;
    }
    *out = s;
    return JC_OK;
}

/* Writes the sealed segment's index atomically. */
static int seg_write_idx(const struct partition *p, const struct segment *s)
{
    char path[PATH_CAP];
    seg_name(path, sizeof path, p->dir, s->base, "idx");
    size_t n = 56 + s->n_idx * 8 + 8;
    unsigned char *b = jc_malloc(n);
    if (b == NULL)
        return JC_ENOMEM;
    memcpy(b, IDX_MAGIC, 8);
    put32(b + 8, FORMAT_VERSION);
    put32(b + 12, p->id);
    put64(b + 16, s->base);
    put64(b + 24, s->next);
    put64(b + 32, s->size);
    put64(b + 40, (uint64_t)s->max_ms);
    put32(b + 48, (uint32_t)s->n_idx);
    put32(b + 52, 0);
    for (size_t i = 0; i < s->n_idx; i++) {
        put32(b + 56 + 8 * i, s->idx[i].rel);
        put32(b + 60 + 8 * i, s->idx[i].pos);
    }
    put64(b + n - 8, jc_hash64(b, n - 8, 0));
    int rc = jc_file_write_atomic(path, b, n);
    jc_free(b);
    return rc;
}

/* Loads a sealed segment's index; returns 1 if it is valid and matches the
 * file size, 0 otherwise (the caller rescans). */
static int seg_load_idx(const struct partition *p, struct segment *s, uint64_t file_size)
{
    char path[PATH_CAP];
    seg_name(path, sizeof path, p->dir, s->base, "idx");
    char *b;
    size_t n;
    if (!jc_path_exists(path) || jc_file_read_all(path, (size_t)64 << 20, &b, &n) != JC_OK)
        return 0;
    const unsigned char *u = (const unsigned char *)b;
    int ok = n >= 64 && memcmp(u, IDX_MAGIC, 8) == 0 && get32(u + 8) == FORMAT_VERSION &&
             get32(u + 12) == p->id && get64(u + 16) == s->base &&
             n == 56 + (size_t)get32(u + 48) * 8 + 8 &&
             get64(u + n - 8) == jc_hash64(u, n - 8, 0) && get64(u + 32) == file_size &&
             get64(u + 24) >= s->base;
    if (ok) {
        s->next = get64(u + 24);
        s->size = file_size;
        s->max_ms = (int64_t)get64(u + 40);
        uint32_t k = get32(u + 48);
        s->n_idx = 0;
        for (uint32_t i = 0; i < k && ok; i++)
            if (seg_add_idx(s, s->base + get32(u + 56 + 8 * i), get32(u + 60 + 8 * i)))
                ok = 0;
    } else {
        JC_WARN("%s: index is stale or damaged; rescanning the segment", path);
    }
    jc_free(b);
    return ok;
}

/*
 * Scans frames from (pos, offset) up to file_size, checking length, CRC and
 * offset sequence, updating next/size/max_ms/index. Stops at the first frame
 * that does not check out. *why gets a reason when it stopped before
 * file_size (NULL if it reached the end cleanly).
 */
static int seg_scan(struct segment *s, uint64_t pos, uint64_t offset, uint64_t file_size,
                    const char **why)
{
    *why = NULL;
    unsigned char *buf = jc_malloc(READ_CHUNK);
    if (buf == NULL)
        return JC_ENOMEM;
    int rc = JC_OK;
    while (pos < file_size) {
        size_t want = file_size - pos > READ_CHUNK ? READ_CHUNK : (size_t)(file_size - pos);
        size_t got;
        if (pread_full(s->fd, buf, want, pos, &got) != 0) {
            rc = os_err(errno, "cannot read", s->path);
            break;
        }
        size_t at = 0;
        int stop = 0;
        while (at < got) {
            if (got - at < FRAME_HDR) {
                if (pos + got >= file_size) {
                    *why = "torn frame header";
                    stop = 1;
                }
                break;
            }
            uint32_t len = get32(buf + at);
            if (len == 0 || len > JC_EVENTLOG_MAX_RECORD) {
                *why = "bad record length";
                stop = 1;
                break;
            }
            if (got - at < FRAME_HDR + (size_t)len) {
                if (pos + got >= file_size) {
                    *why = "torn record";
                    stop = 1;
                }
                break;
            }
            uint32_t crc = jc_crc32c(0, buf + at + FRAME_HDR, len);
            unsigned char tail[20];
            memcpy(tail, buf + at, 4);
            memcpy(tail + 4, buf + at + 8, 16);
            crc = jc_crc32c(crc, tail, 20);
            if (crc != get32(buf + at + 4)) {
                *why = "checksum mismatch";
                stop = 1;
                break;
            }
            if (get64(buf + at + 8) != offset) {
                *why = "offset out of sequence";
                stop = 1;
                break;
            }
            if ((rc = seg_note(s, offset, pos + at)))
                break;
            int64_t ms = (int64_t)get64(buf + at + 16);
            if (ms > s->max_ms)
                s->max_ms = ms;
            offset++;
            at += FRAME_HDR + len;
            s->next = offset;
            s->size = pos + at;
        }
        if (rc || stop)
            break;
        if (at == 0) /* a frame larger than the chunk cannot happen; be safe */
            break;
        pos += at;
    }
    jc_free(buf);
    return rc;
}

static int read_seg_header(struct segment *s, uint32_t partition, uint64_t *file_size)
{
    struct stat st;
    if (fstat(s->fd, &st) != 0)
        return os_err(errno, "cannot stat", s->path);
    *file_size = (uint64_t)st.st_size;
    unsigned char h[SEG_HDR], want[SEG_HDR];
    size_t got;
    if (pread_full(s->fd, h, SEG_HDR, 0, &got) != 0)
        return os_err(errno, "cannot read", s->path);
    seg_header(want, partition, s->base);
    if (got < SEG_HDR || memcmp(h, want, SEG_HDR) != 0)
        return jc_err_set(JC_ECORRUPT, "%s: bad segment header", s->path);
    return JC_OK;
}

/* ---- partitions: listing and recovery ----------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted base offsets of the *.log files of a partition directory. */
static int list_bases(const char *dir, uint64_t **out, size_t *n_out)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return os_err(errno, "cannot open directory", dir);
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = JC_OK;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strlen(nm) != 24 || strcmp(nm + 20, ".log") != 0)
            continue;
        uint64_t base = 0;
        int ok = 1;
        for (int i = 0; i < 20; i++) {
            if (nm[i] < '0' || nm[i] > '9') {
                ok = 0;
                break;
            }
            base = base * 10 + (uint64_t)(nm[i] - '0');
        }
        if (!ok)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nv = jc_realloc_array(v, cap, sizeof *nv);
            if (nv == NULL) {
                rc = JC_ENOMEM;
                break;
            }
            v = nv;
        }
        v[n++] = base;
    }
    closedir(d);
    if (rc) {
        jc_free(v);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_u64);
    *out = v;
    *n_out = n;
    return JC_OK;
}

static int push_seg(struct partition *p, struct segment *s)
{
    if (p->n_segs == p->cap_segs) {
        size_t cap = p->cap_segs ? p->cap_segs * 2 : 8;
        struct segment **v = jc_realloc_array(p->segs, cap, sizeof *v);
        if (v == NULL)
            return JC_ENOMEM;
        p->segs = v;
        p->cap_segs = cap;
    }
    p->segs[p->n_segs++] = s;
    return JC_OK;
}

static struct segment *seg_open_file(struct partition *p, uint64_t base, int rw, int *rc)
{
    struct segment *s = jc_calloc(1, sizeof *s);
    if (s == NULL) {
        *rc = JC_ENOMEM;
        return NULL;
    }
    s->base = s->next = base;
    s->size = SEG_HDR;
    seg_name(s->path, sizeof s->path, p->dir, base, "log");
    s->fd = open(s->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (s->fd < 0) {
        *rc = os_err(errno, "cannot open segment", s->path);
        jc_free(s);
        return NULL;
    }
    *rc = JC_OK;
    return s;
}

/* Removes a segment's files (used for rollback and retention). */
static void seg_unlink_files(const struct partition *p, uint64_t base)
{
    char path[PATH_CAP];
    seg_name(path, sizeof path, p->dir, base, "log");
    unlink(path);
    seg_name(path, sizeof path, p->dir, base, "idx");
    unlink(path);
}

/* Writer recovery of one partition (see the file comment). */
static int recover_partition(struct emb *e, struct partition *p)
{
    uint64_t *bases;
    size_t n;
    int rc = list_bases(p->dir, &bases, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && rc == JC_OK; i++) {
        int last = i + 1 == n;
        struct segment *s = seg_open_file(p, bases[i], 1, &rc);
        if (s == NULL)
            break;
        uint64_t fsize;
        rc = read_seg_header(s, p->id, &fsize);
        if (rc) {
            if (last && fsize < SEG_HDR + FRAME_HDR) {
                /* A segment whose creation was cut short holds nothing. */
                JC_WARN("%s: removing a segment with an incomplete header", s->path);
                seg_free(s);
                seg_unlink_files(p, bases[i]);
                rc = JC_OK;
                continue;
            }
            seg_free(s);
            break;
        }
        if (p->n_segs > 0) {
            struct segment *prev = p->segs[p->n_segs - 1];
            if (prev->next != s->base && !prev->damaged) {
                rc = jc_err_set(JC_ECORRUPT,
                                "%s: starts at offset %" PRIu64 " but the previous segment "
                                "ends at %" PRIu64,
                                s->path, s->base, prev->next);
                seg_free(s);
                break;
            }
            if (prev->damaged)
                prev->next = s->base;
        }
        if (!last && seg_load_idx(p, s, fsize)) {
            s->sealed = 1;
        } else {
            const char *why;
            rc = seg_scan(s, SEG_HDR, s->base, fsize, &why);
            if (rc) {
                seg_free(s);
                break;
            }
            if (why != NULL && last) {
                JC_WARN("%s: %s at byte %" PRIu64 "; truncating %" PRIu64
                        " bytes of torn tail (records from offset %" PRIu64
                        " were never acknowledged)",
                        s->path, why, s->size, fsize - s->size, s->next);
                if (ftruncate(s->fd, (off_t)s->size) != 0 ||
                    (e->cfg.fsync != JC_FSYNC_OFF && do_fsync(e, s->fd, s->path, 0) != JC_OK)) {
                    rc = os_err(errno, "cannot truncate", s->path);
                    seg_free(s);
                    break;
                }
            } else if (why != NULL) {
                JC_ERROR("%s: %s at byte %" PRIu64 " inside a sealed segment; reads from "
                         "offset %" PRIu64 " of this segment will fail",
                         s->path, why, s->size, s->next);
                s->damaged = 1;
                s->size = fsize;
            }
            if (!last) {
                s->sealed = 1;
                if (!s->damaged && seg_write_idx(p, s) != JC_OK)
                    JC_WARN("cannot rewrite the index of %s: %s", s->path, jc_errmsg());
            }
        }
        if (last) {
            /* The active segment never keeps an index file. */
            char ip[PATH_CAP];
            seg_name(ip, sizeof ip, p->dir, s->base, "idx");
            unlink(ip);
        }
        if ((rc = push_seg(p, s))) {
            seg_free(s);
            break;
        }
    }
    jc_free(bases);
    if (rc == JC_OK && p->n_segs == 0) {
        struct segment *s;
        rc = seg_create(e, p, 0, &s);
        if (rc == JC_OK && (rc = push_seg(p, s)))
            seg_free(s);
    }
    if (rc == JC_OK) {
        struct segment *last = p->segs[p->n_segs - 1];
        p->next_offset = p->durable_end = last->next;
    }
    return rc;
}

/*
 * Reader refresh: picks up segments created or deleted by the writer process
 * and extends the active segment to its current valid end.
 */
static int refresh_partition(struct partition *p)
{
    uint64_t *bases;
    size_t n;
    int rc = list_bases(p->dir, &bases, &n);
    if (rc)
        return rc;
    /* Drop segments that retention removed. */
    size_t keep_from = 0;
    while (keep_from < p->n_segs && (n == 0 || p->segs[keep_from]->base < bases[0]))
        keep_from++;
    for (size_t i = 0; i < keep_from; i++) {
        p->segs[i]->deleted = 1;
        if (p->segs[i]->refs == 0)
            seg_free(p->segs[i]);
    }
    if (keep_from) {
        memmove(p->segs, p->segs + keep_from, (p->n_segs - keep_from) * sizeof *p->segs);
        p->n_segs -= keep_from;
    }
    for (size_t i = 0; i < n && rc == JC_OK; i++) {
        uint64_t base = bases[i];
        struct segment *s = NULL;
        size_t j;
        for (j = 0; j < p->n_segs; j++)
            if (p->segs[j]->base == base) {
                s = p->segs[j];
                break;
            }
        if (s == NULL) {
            if (p->n_segs > 0 && base < p->segs[p->n_segs - 1]->base)
                continue; /* older than what we hold: ignore */
            s = seg_open_file(p, base, 0, &rc);
            if (s == NULL) {
                if (rc == JC_ENOTFOUND) /* deleted meanwhile */
                    rc = JC_OK;
                continue;
            }
            uint64_t fsize;
            if (read_seg_header(s, p->id, &fsize) != JC_OK) {
                seg_free(s); /* being created: try again next time */
                jc_err_clear();
                break;
            }
            if ((rc = push_seg(p, s))) {
                seg_free(s);
                break;
            }
        }
        if (s->sealed)
            continue;
        struct stat st;
        if (fstat(s->fd, &st) != 0) {
            rc = os_err(errno, "cannot stat", s->path);
            break;
        }
        int is_last = i + 1 == n;
        if (!is_last && seg_load_idx(p, s, (uint64_t)st.st_size)) {
            s->sealed = 1;
            continue;
        }
        if ((uint64_t)st.st_size > s->size) {
            const char *why;
            rc = seg_scan(s, s->size, s->next, (uint64_t)st.st_size, &why);
        }
        if (!is_last && rc == JC_OK)
            s->sealed = 1;
    }
    jc_free(bases);
    return rc;
}

/* ---- meta and lock ------------------------------------------------------------ */

static int write_meta(const char *dir, uint32_t n_parts)
{
    char path[PATH_CAP];
    int rc = jc_path_join(path, sizeof path, dir, "meta");
    if (rc)
        return rc;
    unsigned char b[40];
    memset(b, 0, sizeof b);
    memcpy(b, META_MAGIC, 8);
    put32(b + 8, FORMAT_VERSION);
    put32(b + 12, n_parts);
    put64(b + 16, (uint64_t)now_ms());
    put64(b + 32, jc_hash64(b, 32, 0));
    return jc_file_write_atomic(path, b, sizeof b);
}

static int read_meta(const char *dir, uint32_t *n_parts)
{
    char path[PATH_CAP];
    int rc = jc_path_join(path, sizeof path, dir, "meta");
    if (rc)
        return rc;
    char *b;
    size_t n;
    if ((rc = jc_file_read_all(path, 4096, &b, &n)))
        return rc;
    const unsigned char *u = (const unsigned char *)b;
    if (n != 40 || memcmp(u, META_MAGIC, 8) != 0)
        rc = jc_err_set(JC_ECORRUPT, "%s: not an event log meta file", path);
    else if (get32(u + 8) != FORMAT_VERSION)
        rc = jc_err_set(JC_EVERSION, "%s: event log format version %u (this build reads %u)", path,
                        get32(u + 8), FORMAT_VERSION);
    else if (get64(u + 32) != jc_hash64(u, 32, 0))
        rc = jc_err_set(JC_ECORRUPT, "%s: checksum mismatch", path);
    else if (get32(u + 12) == 0 || get32(u + 12) > JC_EVENTLOG_MAX_PARTITIONS)
        rc = jc_err_set(JC_ECORRUPT, "%s: bad partition count %u", path, get32(u + 12));
    else
        *n_parts = get32(u + 12);
    jc_free(b);
    return rc;
}

static int take_lock(struct emb *e)
{
    char path[PATH_CAP];
    int rc = jc_path_join(path, sizeof path, e->dir, "LOCK");
    if (rc)
        return rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return os_err(errno, "cannot open", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char pid[32] = "?";
        ssize_t k = pread(fd, pid, sizeof pid - 1, 0);
        if (k > 0) {
            pid[k] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        close(fd);
        if (err == EWOULDBLOCK)
            return jc_err_set(JC_EBUSY,
                              "event log %s is already open for writing by process %s (one "
                              "writer at a time; open it read-only to read)",
                              e->dir, pid);
        return os_err(err, "cannot lock", path);
    }
    char pid[32];
    int k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)k, 0) != k) {
        rc = os_err(errno, "cannot write", path);
        close(fd);
        return rc;
    }
    e->lock_fd = fd;
    return JC_OK;
}

/* ---- retention ------------------------------------------------------------------ */

/* Removes whole old segments past the size or age limit (never the active
 * one). Caller holds p->mu. */
static uint64_t apply_retention(struct emb *e, struct partition *p)
{
    uint64_t removed = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < p->n_segs; i++)
        total += p->segs[i]->size;
    int64_t cutoff = e->cfg.retention_seconds > 0
                         ? now_ms() - e->cfg.retention_seconds * (int64_t)1000
                         : INT64_MIN;
    while (p->n_segs > 1) {
        struct segment *s = p->segs[0];
        int too_big = e->cfg.retention_bytes > 0 && total > e->cfg.retention_bytes;
        int too_old = e->cfg.retention_seconds > 0 && s->max_ms < cutoff;
        if (!too_big && !too_old)
            break;
        total -= s->size;
        memmove(p->segs, p->segs + 1, (p->n_segs - 1) * sizeof *p->segs);
        p->n_segs--;
        seg_unlink_files(p, s->base);
        JC_INFO("retention: removed %s (offsets %" PRIu64 "..%" PRIu64 ")", s->path, s->base,
                s->next);
        s->deleted = 1;
        if (s->refs == 0)
            seg_free(s);
        removed++;
    }
    return removed;
}

/* ---- group commit ----------------------------------------------------------------- */

/* Seals the active segment (fsync + index file) and starts a new one at
 * base. Leader only. */
static int roll(struct emb *e, struct partition *p, uint64_t base)
{
    pthread_mutex_lock(&p->mu);
    struct segment *s = p->segs[p->n_segs - 1];
    pthread_mutex_unlock(&p->mu);
    int rc = JC_OK;
    if (e->cfg.fsync != JC_FSYNC_OFF)
        rc = do_fsync(e, s->fd, s->path, 1);
    if (rc)
        return rc;
    struct segment *ns;
    if ((rc = seg_create(e, p, base, &ns)))
        return rc;
    pthread_mutex_lock(&p->mu);
    rc = push_seg(p, ns);
    if (rc == JC_OK)
        s->sealed = 1;
    pthread_mutex_unlock(&p->mu);
    if (rc) {
        seg_unlink_files(p, base);
        seg_free(ns);
        return rc;
    }
    /* The index is an accelerator: a failure only costs a rescan at open. */
    if (seg_write_idx(p, s) != JC_OK)
        JC_WARN("cannot write the index of %s: %s", s->path, jc_errmsg());
    pthread_mutex_lock(&p->mu);
    apply_retention(e, p);
    pthread_mutex_unlock(&p->mu);
    return JC_OK;
}

/*
 * Writes one batch of frames (offsets first..first+n-1) to the partition's
 * files, rolling segments as needed, then fsyncs per policy. On failure,
 * undoes everything the batch did to the files.
 */
static int write_batch(struct emb *e, struct partition *p, const char *buf, size_t len,
                       uint64_t first)
{
    pthread_mutex_lock(&p->mu);
    size_t n_segs0 = p->n_segs;
    struct segment *s0 = p->segs[p->n_segs - 1];
    uint64_t size0 = s0->size, next0 = s0->next, last_idx0 = s0->last_idx_pos;
    size_t n_idx0 = s0->n_idx;
    int64_t max_ms0 = s0->max_ms;
    pthread_mutex_unlock(&p->mu);

    int rc = JC_OK;
    size_t at = 0;
    uint64_t offset = first;
    struct segment *s = s0;
    while (at < len && rc == JC_OK) {
        /* Frames that fit in the active segment. */
        size_t chunk = 0;
        uint64_t pos = s->size;
        while (at + chunk < len) {
            size_t flen = FRAME_HDR + get32((const unsigned char *)buf + at + chunk);
            if (pos + chunk + flen > e->cfg.segment_bytes && !(pos == SEG_HDR && chunk == 0))
                break;
            chunk += flen;
        }
        if (chunk == 0) {
            if ((rc = roll(e, p, offset)))
                break;
            pthread_mutex_lock(&p->mu);
            s = p->segs[p->n_segs - 1];
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        if ((rc = pwrite_all(s->fd, buf + at, chunk, pos, s->path)))
            break;
        pthread_mutex_lock(&p->mu);
        for (size_t k = 0; k < chunk && rc == JC_OK;) {
            const unsigned char *f = (const unsigned char *)buf + at + k;
            rc = seg_note(s, offset, pos + k);
            int64_t ms = (int64_t)get64(f + 16);
            if (ms > s->max_ms)
                s->max_ms = ms;
            offset++;
            k += FRAME_HDR + get32(f);
        }
        s->size = pos + chunk;
        s->next = offset;
        pthread_mutex_unlock(&p->mu);
        at += chunk;
    }
    if (rc == JC_OK && e->cfg.fsync == JC_FSYNC_BATCH) {
        rc = do_fsync(e, s->fd, s->path, 1);
        if (rc) {
            pthread_mutex_lock(&p->mu);
            p->broken = 1;
            pthread_mutex_unlock(&p->mu);
            return rc;
        }
    }
    if (rc == JC_OK) {
        if (e->cfg.fsync == JC_FSYNC_INTERVAL) {
            pthread_mutex_lock(&p->mu);
            p->dirty = 1;
            pthread_mutex_unlock(&p->mu);
        }
        return JC_OK;
    }
    /* Undo: drop segments created by this batch and cut the first one back. */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", jc_errmsg());
    pthread_mutex_lock(&p->mu);
    while (p->n_segs > n_segs0) {
        struct segment *x = p->segs[--p->n_segs];
        seg_unlink_files(p, x->base);
        x->deleted = 1;
        if (x->refs == 0)
            seg_free(x);
    }
    if (s0->sealed) {
        char ip[PATH_CAP];
        seg_name(ip, sizeof ip, p->dir, s0->base, "idx");
        unlink(ip);
        s0->sealed = 0;
    }
    s0->size = size0;
    s0->next = next0;
    s0->n_idx = n_idx0;
    s0->last_idx_pos = last_idx0;
    s0->max_ms = max_ms0;
    if (ftruncate(s0->fd, (off_t)size0) != 0) {
        JC_ERROR("%s: cannot truncate after a failed write (%s); reopen the log", s0->path,
                 strerror(errno));
        p->broken = 1;
    }
    pthread_mutex_unlock(&p->mu);
    return jc_err_set(rc, "%s", msg);
}

static void frame_into(unsigned char *f, const void *data, uint32_t len, uint32_t payload_crc,
                       uint64_t offset, int64_t ms)
{
    put32(f, len);
    put64(f + 8, offset);
    put64(f + 16, (uint64_t)ms);
    unsigned char tail[20];
    memcpy(tail, f, 4);
    memcpy(tail + 4, f + 8, 16);
    put32(f + 4, jc_crc32c(payload_crc, tail, 20));
    memcpy(f + FRAME_HDR, data, len);
}

/* Enqueues the records (indexes ix[0..k)) of partition p. Returns the end
 * offset of the caller's records and the failure epoch they belong to. */
static int enqueue(struct emb *e, struct partition *p, const struct jc_eventlog_rec *recs,
                   const size_t *ix, size_t k, const uint32_t *crcs, uint64_t *offsets,
                   uint64_t *my_end, uint64_t *epoch)
{
    size_t need = 0;
    for (size_t i = 0; i < k; i++)
        need += FRAME_HDR + recs[ix[i]].len;
    int64_t ms = now_ms();
    pthread_mutex_lock(&p->mu);
    while (p->pending.len > 0 && p->pending.len + need > PENDING_CAP && !p->broken)
        pthread_cond_wait(&p->cond, &p->mu);
    if (p->broken) {
        pthread_mutex_unlock(&p->mu);
        return jc_err_set(JC_ESTATE,
                          "event log partition %u is unusable after a failed fsync; reopen "
                          "the log",
                          p->id);
    }
    int rc = jc_buf_reserve(&p->pending, need);
    if (rc) {
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    if (p->pending.len == 0)
        p->pending_first = p->next_offset;
    for (size_t i = 0; i < k; i++) {
        const struct jc_eventlog_rec *r = &recs[ix[i]];
        unsigned char *f = (unsigned char *)p->pending.data + p->pending.len;
        frame_into(f, r->data, (uint32_t)r->len, crcs[ix[i]], p->next_offset, ms);
        p->pending.len += FRAME_HDR + r->len;
        if (offsets)
            offsets[ix[i]] = p->next_offset;
        p->next_offset++;
    }
    *my_end = p->next_offset;
    *epoch = p->fail_epoch;
    pthread_mutex_unlock(&p->mu);
    (void)e;
    return JC_OK;
}

/* Waits until offsets below my_end are acknowledged, leading batches as
 * needed. */
static int await_durable(struct emb *e, struct partition *p, uint64_t my_end, uint64_t epoch)
{
    int rc = JC_OK;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->fail_epoch != epoch) {
            rc = jc_err_set(p->fail_rc, "%s", p->fail_msg);
            break;
        }
        if (p->durable_end >= my_end)
            break;
        if (p->leader_active) {
            pthread_cond_wait(&p->cond, &p->mu);
            continue;
        }
        /* Lead: take everything pending (the spare buffer is the leader's). */
        p->leader_active = 1;
        struct jc_buf work = p->pending;
        p->pending = p->spare;
        jc_buf_reset(&p->pending);
        uint64_t first = p->pending_first;
        uint64_t end = p->next_offset;
        pthread_cond_broadcast(&p->cond); /* space in pending again */
        pthread_mutex_unlock(&p->mu);
        int wrc = write_batch(e, p, work.data, work.len, first);
        if (e->m)
            atomic_fetch_add(&e->m->commits, 1);
        pthread_mutex_lock(&p->mu);
        jc_buf_reset(&work);
        p->spare = work;
        p->leader_active = 0;
        if (wrc == JC_OK) {
            p->durable_end = end;
        } else {
            /* Everything not yet acknowledged fails, keeping offsets dense. */
            p->fail_epoch++;
            p->fail_rc = wrc;
            snprintf(p->fail_msg, sizeof p->fail_msg, "%s", jc_errmsg());
            p->next_offset = p->durable_end;
            jc_buf_reset(&p->pending);
        }
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int emb_append(void *impl, const struct jc_eventlog_rec *recs, size_t n, uint64_t *offsets)
{
    struct emb *e = impl;
    if (e->read_only)
        return jc_err_set(JC_ESTATE, "event log %s is open read-only", e->dir);
    if (n == 0)
        return JC_OK;
    uint32_t *crcs = jc_malloc_array(n, sizeof *crcs);
    size_t *ix = jc_malloc_array(n, sizeof *ix);
    if (crcs == NULL || ix == NULL) {
        jc_free(crcs);
        jc_free(ix);
        return JC_ENOMEM;
    }
    int rc = JC_OK;
    for (size_t i = 0; i < n && rc == JC_OK; i++) {
        if (recs[i].partition >= e->n_parts)
            rc = jc_err_set(JC_EINVAL, "partition %u out of range (the log has %u)",
                            recs[i].partition, e->n_parts);
        else if (recs[i].len == 0 || recs[i].len > JC_EVENTLOG_MAX_RECORD)
            rc = jc_err_set(JC_EINVAL, "record of %zu bytes (allowed 1..%u)", recs[i].len,
                            JC_EVENTLOG_MAX_RECORD);
        else
            crcs[i] = jc_crc32c(0, recs[i].data, recs[i].len);
    }
    /* Phase 1: enqueue per partition (in order of first appearance);
     * phase 2: wait for each. */
    uint64_t ends[JC_EVENTLOG_MAX_PARTITIONS];
    uint64_t epochs[JC_EVENTLOG_MAX_PARTITIONS];
    uint32_t touched[JC_EVENTLOG_MAX_PARTITIONS];
    unsigned char seen[JC_EVENTLOG_MAX_PARTITIONS];
    uint32_t n_touched = 0;
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < n && rc == JC_OK; i++) {
        uint32_t pid = recs[i].partition;
        if (seen[pid])
            continue;
        seen[pid] = 1;
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (recs[j].partition == pid)
                ix[k++] = j;
        rc = enqueue(e, &e->parts[pid], recs, ix, k, crcs, offsets, &ends[n_touched],
                     &epochs[n_touched]);
        if (rc == JC_OK)
            touched[n_touched++] = pid;
    }
    for (uint32_t t = 0; t < n_touched; t++) {
        int r = await_durable(e, &e->parts[touched[t]], ends[t], epochs[t]);
        if (r && rc == JC_OK)
            rc = r;
    }
    jc_free(crcs);
    jc_free(ix);
    return rc;
}

/* ---- reading --------------------------------------------------------------------- */

static int corrupt_at(const struct segment *s, uint64_t pos, uint64_t offset, const char *why)
{
    return jc_err_set(JC_ECORRUPT,
                      "%s: damaged record at byte %" PRIu64 " (offset %" PRIu64 "): %s", s->path,
                      pos, offset, why);
}

static struct timespec deadline_after(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Visible [begin, end) of a partition; caller holds the mutex. */
static void visible(struct emb *e, struct partition *p, uint64_t *begin, uint64_t *end)
{
    *begin = p->n_segs ? p->segs[0]->base : 0;
    if (!e->read_only)
        *end = p->durable_end;
    else
        *end = p->n_segs ? p->segs[p->n_segs - 1]->next : 0;
}

static int emb_read(void *impl, uint32_t partition, uint64_t offset, size_t max_records,
                    size_t max_bytes, int timeout_ms, struct jc_eventlog_batch *out)
{
    struct emb *e = impl;
    jc_eventlog__batch_reset(out);
    if (partition >= e->n_parts)
        return jc_err_set(JC_EINVAL, "partition %u out of range (the log has %u)", partition,
                          e->n_parts);
    if (max_records == 0)
        return JC_OK;
    struct partition *p = &e->parts[partition];
    uint64_t begin, end;
    int rc = JC_OK;
    uint64_t t_end = jc_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (e->read_only && (rc = refresh_partition(p))) {
            pthread_mutex_unlock(&p->mu);
            return rc;
        }
        visible(e, p, &begin, &end);
        if (offset < begin)
            offset = begin;
        if (offset < end || timeout_ms <= 0)
            break;
        uint64_t now = jc_now_ns();
        if (now >= t_end)
            break;
        int wait_ms = (int)((t_end - now) / 1000000u) + 1;
        if (e->read_only) {
            /* Another process writes: poll the files. */
            pthread_mutex_unlock(&p->mu);
            struct timespec ts = {0, (wait_ms > 20 ? 20 : wait_ms) * 1000000L};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&p->mu);
        } else {
            struct timespec dl = deadline_after(wait_ms);
            pthread_cond_timedwait(&p->cond, &p->mu, &dl);
        }
    }
    if (offset >= end) {
        pthread_mutex_unlock(&p->mu);
        return JC_OK;
    }
    /* The segment holding offset. */
    size_t lo = 0, hi = p->n_segs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->segs[mid]->base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    JC_ASSERT(lo > 0);
    struct segment *s = p->segs[lo - 1];
    s->refs++;
    uint64_t pos, at;
    seg_seek(s, offset, &pos, &at);
    uint64_t limit_off = s->next < end ? s->next : end;
    uint64_t limit_pos = s->size;
    pthread_mutex_unlock(&p->mu);

    unsigned char *buf = jc_malloc(READ_CHUNK);
    if (buf == NULL)
        rc = JC_ENOMEM;
    size_t bytes = 0;
    while (rc == JC_OK && at < limit_off && pos < limit_pos) {
        size_t want = limit_pos - pos > READ_CHUNK ? READ_CHUNK : (size_t)(limit_pos - pos);
        size_t got;
        if (pread_full(s->fd, buf, want, pos, &got) != 0) {
            rc = os_err(errno, "cannot read", s->path);
            break;
        }
        size_t k = 0;
        int done = 0;
        while (k + FRAME_HDR <= got && at < limit_off) {
            uint32_t len = get32(buf + k);
            if (len == 0 || len > JC_EVENTLOG_MAX_RECORD) {
                rc = corrupt_at(s, pos + k, at, "bad record length");
                break;
            }
            if (k + FRAME_HDR + len > got)
                break;
            uint32_t crc = jc_crc32c(0, buf + k + FRAME_HDR, len);
            unsigned char tail[20];
            memcpy(tail, buf + k, 4);
            memcpy(tail + 4, buf + k + 8, 16);
            if (jc_crc32c(crc, tail, 20) != get32(buf + k + 4)) {
                rc = corrupt_at(s, pos + k, at, "checksum mismatch");
                break;
            }
            if (get64(buf + k + 8) != at) {
                rc = corrupt_at(s, pos + k, at, "offset out of sequence");
                break;
            }
            if (at >= offset) {
                if (out->n > 0 && bytes + len > max_bytes) {
                    done = 1;
                    break;
                }
                rc = jc_eventlog__batch_push(out, partition, at, (int64_t)get64(buf + k + 16),
                                             buf + k + FRAME_HDR, len);
                if (rc)
                    break;
                bytes += len;
                if (out->n >= max_records) {
                    done = 1;
                    break;
                }
            }
            at++;
            k += FRAME_HDR + len;
        }
        if (rc || done)
            break;
        if (k == 0) {
            rc = corrupt_at(s, pos, at, "truncated record");
            break;
        }
        pos += k;
    }
    jc_free(buf);
    pthread_mutex_lock(&p->mu);
    seg_unref(s);
    pthread_mutex_unlock(&p->mu);
    if (rc) {
        jc_eventlog__batch_reset(out);
        return rc;
    }
    if (e->m)
        atomic_fetch_add(&e->m->records_read, out->n);
    return JC_OK;
}

static int emb_offsets(void *impl, uint32_t partition, uint64_t *begin, uint64_t *end)
{
    struct emb *e = impl;
    if (partition >= e->n_parts)
        return jc_err_set(JC_EINVAL, "partition %u out of range (the log has %u)", partition,
                          e->n_parts);
    struct partition *p = &e->parts[partition];
    int rc = JC_OK;
    pthread_mutex_lock(&p->mu);
    if (e->read_only)
        rc = refresh_partition(p);
    if (rc == JC_OK)
        visible(e, p, begin, end);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int emb_describe(void *impl, uint32_t partition, struct jc_eventlog_partition_info *out)
{
    struct emb *e = impl;
    uint64_t b, en;
    int rc = emb_offsets(impl, partition, &b, &en);
    if (rc)
        return rc;
    struct partition *p = &e->parts[partition];
    pthread_mutex_lock(&p->mu);
    out->begin = b;
    out->end = en;
    out->n_segments = (uint32_t)p->n_segs;
    out->bytes = 0;
    for (size_t i = 0; i < p->n_segs; i++)
        out->bytes += p->segs[i]->size;
    pthread_mutex_unlock(&p->mu);
    return JC_OK;
}

/* ---- consumer groups ------------------------------------------------------------- */

static int group_path(struct emb *e, const char *group, uint32_t partition, char *out, size_t cap,
                      int mkdir)
{
    if (!jc_eventlog__valid_group(group))
        return jc_err_set(JC_EINVAL,
                          "bad consumer group name '%.80s' (1-64 characters of A-Z a-z 0-9 . _ "
                          "-)",
                          group ? group : "");
    if (partition >= e->n_parts)
        return jc_err_set(JC_EINVAL, "partition %u out of range (the log has %u)", partition,
                          e->n_parts);
    char dir[PATH_CAP];
    int k = snprintf(dir, sizeof dir, "%s/groups/%s", e->dir, group);
    if (k < 0 || (size_t)k >= sizeof dir)
        return jc_err_set(JC_ELIMIT, "path too long: %s/groups/%s", e->dir, group);
    if (mkdir) {
        int rc = jc_mkdir_p(dir);
        if (rc)
            return rc;
    }
    k = snprintf(out, cap, "%s/%03u.off", dir, partition);
    if (k < 0 || (size_t)k >= cap)
        return jc_err_set(JC_ELIMIT, "path too long: %s", dir);
    return JC_OK;
}

static int emb_commit(void *impl, const char *group, uint32_t partition, uint64_t offset)
{
    struct emb *e = impl;
    char path[PATH_CAP];
    pthread_mutex_lock(&e->groups_mu);
    int rc = group_path(e, group, partition, path, sizeof path, 1);
    if (rc == JC_OK) {
        unsigned char b[40];
        memcpy(b, OFF_MAGIC, 8);
        put32(b + 8, FORMAT_VERSION);
        put32(b + 12, partition);
        put64(b + 16, offset);
        put64(b + 24, (uint64_t)now_ms());
        put64(b + 32, jc_hash64(b, 32, 0));
        rc = jc_file_write_atomic(path, b, sizeof b);
    }
    pthread_mutex_unlock(&e->groups_mu);
    return rc;
}

static int emb_committed(void *impl, const char *group, uint32_t partition, uint64_t *offset)
{
    struct emb *e = impl;
    char path[PATH_CAP];
    int rc = group_path(e, group, partition, path, sizeof path, 0);
    if (rc)
        return rc;
    if (!jc_path_exists(path))
        return jc_err_set(JC_ENOTFOUND, "group '%s' has no committed offset for partition %u",
                          group, partition);
    char *b;
    size_t n;
    if ((rc = jc_file_read_all(path, 4096, &b, &n)))
        return rc;
    const unsigned char *u = (const unsigned char *)b;
    if (n != 40 || memcmp(u, OFF_MAGIC, 8) != 0 || get64(u + 32) != jc_hash64(u, 32, 0))
        rc = jc_err_set(JC_ECORRUPT, "%s: damaged committed offset file", path);
    else if (get32(u + 8) != FORMAT_VERSION)
        rc = jc_err_set(JC_EVERSION, "%s: format version %u", path, get32(u + 8));
    else if (get32(u + 12) != partition)
        rc = jc_err_set(JC_ECORRUPT, "%s: holds partition %u", path, get32(u + 12));
    else
        *offset = get64(u + 16);
    jc_free(b);
    return rc;
}

static int emb_list_groups(void *impl, int (*fn)(void *ctx, const char *group), void *ctx)
{
    struct emb *e = impl;
    char dir[PATH_CAP];
    int rc = jc_path_join(dir, sizeof dir, e->dir, "groups");
    if (rc)
        return rc;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? JC_OK : os_err(errno, "cannot open directory", dir);
    /* Collect and sort for a stable order. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && rc == JC_OK) {
        if (!jc_eventlog__valid_group(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = jc_realloc_array(names, cap, sizeof *nv);
            if (nv == NULL) {
                rc = JC_ENOMEM;
                break;
            }
            names = nv;
        }
        if ((names[n] = jc_strdup(de->d_name)) == NULL)
            rc = JC_ENOMEM;
        else
            n++;
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n && rc == JC_OK; i++)
        rc = fn(ctx, names[i]);
    for (size_t i = 0; i < n; i++)
        jc_free(names[i]);
    jc_free(names);
    return rc;
}

/* ---- sync, flusher, retention ---------------------------------------------------- */

static int sync_partition(struct emb *e, struct partition *p, int only_dirty)
{
    pthread_mutex_lock(&p->mu);
    if ((only_dirty && !p->dirty) || p->n_segs == 0 || p->broken) {
        int broken = p->broken;
        pthread_mutex_unlock(&p->mu);
        return broken ? jc_err_set(JC_ESTATE, "event log partition %u is broken", p->id) : JC_OK;
    }
    struct segment *s = p->segs[p->n_segs - 1];
    s->refs++;
    p->dirty = 0;
    pthread_mutex_unlock(&p->mu);
    int rc = do_fsync(e, s->fd, s->path, 1);
    pthread_mutex_lock(&p->mu);
    if (rc)
        p->broken = 1;
    seg_unref(s);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int emb_sync(void *impl)
{
    struct emb *e = impl;
    if (e->read_only)
        return JC_OK;
    int rc = JC_OK;
    for (uint32_t i = 0; i < e->n_parts; i++) {
        int r = sync_partition(e, &e->parts[i], 0);
        if (r && rc == JC_OK)
            rc = r;
    }
    return rc;
}

static void *flusher_main(void *arg)
{
    struct emb *e = arg;
    pthread_mutex_lock(&e->flush_mu);
    while (!e->stopping) {
        struct timespec dl = deadline_after((int)e->cfg.fsync_interval_ms);
        pthread_cond_timedwait(&e->flush_cond, &e->flush_mu, &dl);
        if (e->stopping)
            break;
        pthread_mutex_unlock(&e->flush_mu);
        for (uint32_t i = 0; i < e->n_parts; i++)
            if (sync_partition(e, &e->parts[i], 1) != JC_OK)
                JC_ERROR("event log: background fsync failed: %s", jc_errmsg());
        pthread_mutex_lock(&e->flush_mu);
    }
    pthread_mutex_unlock(&e->flush_mu);
    return NULL;
}

static int emb_retention(void *impl, uint64_t *n_deleted)
{
    struct emb *e = impl;
    uint64_t total = 0;
    if (!e->read_only) {
        for (uint32_t i = 0; i < e->n_parts; i++) {
            pthread_mutex_lock(&e->parts[i].mu);
            total += apply_retention(e, &e->parts[i]);
            pthread_mutex_unlock(&e->parts[i].mu);
        }
    }
    if (n_deleted)
        *n_deleted = total;
    return e->read_only ? jc_err_set(JC_ESTATE, "event log %s is open read-only", e->dir) : JC_OK;
}

static uint32_t emb_n_partitions(void *impl)
{
    return ((struct emb *)impl)->n_parts;
}

/* ---- open / close ------------------------------------------------------------------ */

static void emb_close(void *impl)
{
    struct emb *e = impl;
    if (e == NULL)
        return;
    if (e->flusher_running) {
        pthread_mutex_lock(&e->flush_mu);
        e->stopping = 1;
        pthread_cond_signal(&e->flush_cond);
        pthread_mutex_unlock(&e->flush_mu);
        pthread_join(e->flusher, NULL);
    }
    if (!e->read_only && e->parts && e->cfg.fsync != JC_FSYNC_OFF)
        for (uint32_t i = 0; i < e->n_parts; i++)
            if (!e->parts[i].broken && sync_partition(e, &e->parts[i], 1) != JC_OK)
                JC_ERROR("event log: final fsync failed: %s", jc_errmsg());
    for (uint32_t i = 0; e->parts && i < e->n_parts; i++) {
        struct partition *p = &e->parts[i];
        for (size_t j = 0; j < p->n_segs; j++)
            seg_free(p->segs[j]);
        jc_free(p->segs);
        jc_buf_free(&p->pending);
        jc_buf_free(&p->spare);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cond);
    }
    jc_free(e->parts);
    if (e->lock_fd >= 0)
        close(e->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&e->flush_mu);
    pthread_cond_destroy(&e->flush_cond);
    pthread_mutex_destroy(&e->groups_mu);
    jc_free(e);
}

int jc_eventlog__embedded_open(void **impl, const struct jc_eventlog_config *cfg,
                               struct jc_eventlog__metrics *m)
{
    if (cfg->dir == NULL || cfg->dir[0] == '\0')
        return jc_err_set(JC_EINVAL, "event log: no directory given");
    if (cfg->segment_bytes < 4096 || cfg->segment_bytes > ((uint64_t)1 << 30))
        return jc_err_set(JC_EINVAL, "events.segment_bytes %" PRIu64 " outside [4K, 1G]",
                          cfg->segment_bytes);
    if (cfg->fsync < JC_FSYNC_BATCH || cfg->fsync > JC_FSYNC_OFF)
        return jc_err_set(JC_EINVAL, "bad fsync policy %d", cfg->fsync);
    struct emb *e = jc_calloc(1, sizeof *e);
    if (e == NULL)
        return JC_ENOMEM;
    e->cfg = *cfg;
    e->m = m;
    e->lock_fd = -1;
    e->read_only = cfg->read_only;
    if (e->cfg.fsync_interval_ms == 0)
        e->cfg.fsync_interval_ms = 50;
    pthread_mutex_init(&e->flush_mu, NULL);
    pthread_cond_init(&e->flush_cond, NULL);
    pthread_mutex_init(&e->groups_mu, NULL);
    int rc = JC_OK;
    if (snprintf(e->dir, sizeof e->dir, "%s", cfg->dir) >= (int)sizeof e->dir - 32)
        rc = jc_err_set(JC_ELIMIT, "event log path too long: %s", cfg->dir);
    char meta[PATH_CAP];
    if (rc == JC_OK)
        rc = jc_path_join(meta, sizeof meta, e->dir, "meta");
    if (rc == JC_OK && e->read_only && !jc_path_exists(meta))
        rc = jc_err_set(JC_ENOTFOUND, "no event log at %s", e->dir);
    if (rc == JC_OK && !e->read_only) {
        rc = jc_mkdir_p(e->dir);
        if (rc == JC_OK)
            rc = take_lock(e);
        if (rc == JC_OK && !jc_path_exists(meta)) {
            uint32_t np = cfg->n_partitions ? cfg->n_partitions : 1;
            if (np > JC_EVENTLOG_MAX_PARTITIONS)
                rc = jc_err_set(JC_EINVAL, "events.partitions %u > %d", np,
                                JC_EVENTLOG_MAX_PARTITIONS);
            else
                rc = write_meta(e->dir, np);
        }
    }
    if (rc == JC_OK)
        rc = read_meta(e->dir, &e->n_parts);
    if (rc == JC_OK && !e->read_only && cfg->n_partitions && cfg->n_partitions != e->n_parts)
        JC_WARN("event log %s has %u partitions (created so); events.partitions=%u applies "
                "only to new logs",
                e->dir, e->n_parts, cfg->n_partitions);
    if (rc == JC_OK && (e->parts = jc_calloc(e->n_parts, sizeof *e->parts)) == NULL)
        rc = JC_ENOMEM;
    for (uint32_t i = 0; rc == JC_OK && i < e->n_parts; i++) {
        struct partition *p = &e->parts[i];
        p->id = i;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cond, NULL);
        jc_buf_init(&p->pending, PENDING_CAP + (JC_EVENTLOG_MAX_RECORD + FRAME_HDR) * 2);
        jc_buf_init(&p->spare, PENDING_CAP + (JC_EVENTLOG_MAX_RECORD + FRAME_HDR) * 2);
        snprintf(p->dir, sizeof p->dir, "%s/p%03u", e->dir, i);
        if (e->read_only) {
            if (jc_is_dir(p->dir))
                rc = refresh_partition(p);
        } else {
            rc = jc_mkdir_p(p->dir);
            if (rc == JC_OK)
                rc = recover_partition(e, p);
            if (rc == JC_OK)
                apply_retention(e, p);
        }
    }
    if (rc == JC_OK && !e->read_only && cfg->fsync == JC_FSYNC_INTERVAL) {
        if (pthread_create(&e->flusher, NULL, flusher_main, e) != 0)
            rc = jc_err_set(JC_EINTERNAL, "cannot start the event log fsync thread");
        else
            e->flusher_running = 1;
    }
    if (rc) {
        if (e->parts == NULL) {
            e->n_parts = 0;
        }
        emb_close(e);
        return rc;
    }
    *impl = e;
    return JC_OK;
}

const struct jc_eventlog_ops jc_eventlog__embedded_ops = {
    .name = "embedded",
    .n_partitions = emb_n_partitions,
    .append = emb_append,
    .read = emb_read,
    .offsets = emb_offsets,
    .commit = emb_commit,
    .committed = emb_committed,
    .list_groups = emb_list_groups,
    .describe = emb_describe,
    .sync = emb_sync,
    .retention = emb_retention,
    .close = emb_close,
};
