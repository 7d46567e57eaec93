/*
 * scorefile.c - dense float32 score matrices on disk (see junco/eval.h).
 *
 * The reference evaluator and the benchmark read the same scores as junco:
 * one file, a fixed 64-byte header and the raw row-major floats, so NumPy
 * maps it with np.fromfile(offset=64). The header carries the magic, the
 * format version, the shape and the xxh3 of the data; opening verifies all
 * of them, so a truncated or altered file is rejected (JC_ECORRUPT).
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/hash.h"
#include <junco/error.h>

#include <string.h>

#define HDR 64
static const char magic[8] = {'J', 'C', 'S', 'C', 'O', 'R', 'E', '1'};

struct jc_scorefile {
    struct jc_map map;
};

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
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int jc_scorefile_write(const char *path, const float *scores, uint32_t n_users, uint32_t n_items)
{
    size_t n = (size_t)n_users * n_items * sizeof(float);
    unsigned char hdr[HDR];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, magic, 8);
    put32(hdr + 8, JC_SCOREFILE_VERSION);
    put32(hdr + 12, n_users);
    put32(hdr + 16, n_items);
    put64(hdr + 24, jc_hash64(scores, n, 0));
    struct jc_wfile w;
    int rc = jc_wfile_open(&w, path);
    if (rc)
        return rc;
    if ((rc = jc_wfile_write(&w, hdr, sizeof hdr)) == JC_OK &&
        (rc = jc_wfile_write(&w, scores, n)) == JC_OK)
        return jc_wfile_commit(&w);
    jc_wfile_abort(&w);
    return rc;
}

int jc_scorefile_open(struct jc_scorefile **out, const char *path, const float **scores,
                      uint32_t *n_users, uint32_t *n_items)
{
    struct jc_scorefile *f = jc_calloc(1, sizeof *f);
    if (f == NULL)
        return JC_ENOMEM;
    int rc = jc_map_open(&f->map, path);
    if (rc) {
        jc_free(f);
        return rc;
    }
    const unsigned char *p = f->map.data;
    if (f->map.size < HDR || memcmp(p, magic, 8) != 0) {
        rc = jc_err_set(JC_ECORRUPT, "%s: not a junco score file (bad magic)", path);
        goto fail;
    }
    if (get32(p + 8) != JC_SCOREFILE_VERSION) {
        rc = jc_err_set(JC_EVERSION, "%s: score file version %u (this junco reads %d)", path,
                        get32(p + 8), JC_SCOREFILE_VERSION);
        goto fail;
    }
    uint32_t nu = get32(p + 12), ni = get32(p + 16);
    size_t n = (size_t)nu * ni * sizeof(float);
    if (f->map.size != HDR + n) {
        rc = jc_err_set(JC_ECORRUPT, "%s: %zu bytes, expected %zu for %u x %u scores", path,
                        f->map.size, (size_t)HDR + n, nu, ni);
        goto fail;
    }
    if (jc_hash64(p + HDR, n, 0) != get64(p + 24)) {
        rc = jc_err_set(JC_ECORRUPT, "%s: checksum mismatch (scores altered)", path);
        goto fail;
    }
    *scores = (const float *)(const void *)(p + HDR);
    *n_users = nu;
    *n_items = ni;
    *out = f;
    return JC_OK;
fail:
    jc_map_close(&f->map);
    jc_free(f);
    return rc;
}

void jc_scorefile_close(struct jc_scorefile *f)
{
    if (f == NULL)
        return;
    jc_map_close(&f->map);
    jc_free(f);
}
