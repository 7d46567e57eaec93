/*
 * emb.c - the embedding object (struct jc_emb) and its file format
 * (<home>/embeddings/<name>.jemb), text export and import.
 *
 * File layout (little-endian, every section at a multiple of 64 bytes):
 *   [struct emb_header, 128 bytes]
 *   [params: JSON object, NUL-terminated]
 *   [statuses: n_items bytes (enum jc_emb_status), then n_users bytes
 *    (1 = the user has a factor vector)]
 *   [ids: n_items + n_users NUL-terminated external ids, items first]
 *   [item vectors: n_items x dim float32, row-major]
 *   [user vectors: n_users x dim float32, row-major (absent if n_users 0)]
 * header.body_checksum = xxh3-64 of bytes [128, file_size); the header has
 * its own checksum (computed with that field zeroed). The loader checks
 * magic, version, both checksums, exact section bounds, status values, the
 * id count and that every vector component is finite, so a damaged file is
 * rejected with JC_ECORRUPT and a message naming the file and the problem.
 * Files are written through jc_wfile (temporary file, fsync, rename).
 */
#include "embed_int.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/parse.h"
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define EMB_MAGIC "JUNCOEMB"
#define EMB_ALIGN 64

struct emb_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t file_size;
    uint64_t body_checksum;
    uint32_t dim, method;
    uint32_t n_items, n_users;
    uint64_t catalog_checksum;
    uint64_t params_off, params_len; /* len includes the NUL */
    uint64_t status_off;             /* n_items + n_users bytes */
    uint64_t ids_off, ids_len;
    uint64_t item_vec_off;
    uint64_t user_vec_off; /* 0 when n_users == 0 */
    uint64_t reserved[1];
    uint64_t header_checksum;
};
_Static_assert(sizeof(struct emb_header) == 128, "embedding header is 128 bytes");

struct jc_emb {
    uint32_t dim, n_items, n_users;
    enum jc_embed_method method;
    char *params;
    uint64_t cat_checksum;
    uint8_t *item_status; /* n_items */
    uint8_t *user_has;    /* n_users */
    float *item_vecs;     /* 64-byte aligned, n_items x dim */
    float *user_vecs;     /* NULL when n_users == 0 */
    char *ids;            /* NULL until set; n_items + n_users strings */
    size_t ids_len;
    uint64_t *id_off; /* n_items + n_users offsets into ids */
};

static const char *const method_names[] = {"item2vec", "deepwalk", "node2vec", "ials", "bpr"};

const char *jc_embed_method_name(enum jc_embed_method m)
{
    return (unsigned)m < 5 ? method_names[m] : "?";
}

int jc_embed_method_parse(const char *s, enum jc_embed_method *out)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, method_names[i]) == 0) {
            *out = (enum jc_embed_method)i;
            return JC_OK;
        }
    return jc_err_set(JC_EINVAL,
                      "unknown embedding method '%s' (item2vec, deepwalk, node2vec, ials, bpr)", s);
}

int jc_embed_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > JC_EMB_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

int jc_emb_create(struct jc_emb **out, uint32_t n_items, uint32_t n_users, uint32_t dim)
{
    if (dim < 1 || dim > JC_EMB_MAX_DIM)
        return jc_err_set(JC_EINVAL, "embedding: dim %u out of range [1, %u]", dim, JC_EMB_MAX_DIM);
    struct jc_emb *e = jc_calloc(1, sizeof *e);
    if (e == NULL)
        return JC_ENOMEM;
    e->dim = dim;
    e->n_items = n_items;
    e->n_users = n_users;
    e->params = jc_strdup("{}");
    e->item_status = jc_calloc((size_t)n_items + 1, 1);
    e->user_has = jc_calloc((size_t)n_users + 1, 1);
    size_t bytes;
    int ok = e->params && e->item_status && e->user_has;
    if (ok && jc_size_mul((size_t)n_items * dim, sizeof(float), &bytes) == 0)
        ok = (e->item_vecs = jc_malloc_aligned(64, bytes ? bytes : 64)) != NULL;
    else
        ok = 0;
    if (ok && n_users) {
        if (jc_size_mul((size_t)n_users * dim, sizeof(float), &bytes) == 0)
            ok = (e->user_vecs = jc_malloc_aligned(64, bytes)) != NULL;
        else
            ok = 0;
    }
    if (!ok) {
        jc_emb_destroy(e);
        return jc_err_set(JC_ENOMEM, "embedding: cannot allocate %u x %u vectors", n_items, dim);
    }
    *out = e;
    return JC_OK;
}

void jc_emb_destroy(struct jc_emb *e)
{
    if (e == NULL)
        return;
    jc_free(e->params);
    jc_free(e->item_status);
    jc_free(e->user_has);
    jc_free_aligned(e->item_vecs);
    jc_free_aligned(e->user_vecs);
    jc_free(e->ids);
    jc_free(e->id_off);
    jc_free(e);
}

uint32_t jc_emb_dim(const struct jc_emb *e)
{
    return e->dim;
}
uint32_t jc_emb_n_items(const struct jc_emb *e)
{
    return e->n_items;
}
uint32_t jc_emb_n_users(const struct jc_emb *e)
{
    return e->n_users;
}
enum jc_embed_method jc_emb_method(const struct jc_emb *e)
{
    return e->method;
}
const char *jc_emb_params(const struct jc_emb *e)
{
    return e->params;
}
uint64_t jc_emb_catalog_checksum(const struct jc_emb *e)
{
    return e->cat_checksum;
}

const char *jc_emb_item_ext_id(const struct jc_emb *e, uint32_t item)
{
    if (e->ids == NULL || item >= e->n_items)
        return "";
    return e->ids + e->id_off[item];
}

const char *jc_emb_user_ext_id(const struct jc_emb *e, uint32_t user)
{
    if (e->ids == NULL || user >= e->n_users)
        return "";
    return e->ids + e->id_off[(size_t)e->n_items + user];
}

const float *jc_emb_item_vec(const struct jc_emb *e, uint32_t item)
{
    return item < e->n_items ? e->item_vecs + (size_t)item * e->dim : NULL;
}

float *jc_emb_item_vec_mut(struct jc_emb *e, uint32_t item)
{
    return item < e->n_items || (item == 0 && e->n_items == 0)
               ? e->item_vecs + (size_t)item * e->dim
               : NULL;
}

enum jc_emb_status jc_emb_item_status(const struct jc_emb *e, uint32_t item)
{
    return item < e->n_items ? (enum jc_emb_status)e->item_status[item] : JC_EMB_NONE;
}

void jc_emb_set_item_status(struct jc_emb *e, uint32_t item, enum jc_emb_status s)
{
    if (item < e->n_items)
        e->item_status[item] = (uint8_t)s;
}

const float *jc_emb_user_vec(const struct jc_emb *e, uint32_t user)
{
    if (user >= e->n_users || !e->user_has[user])
        return NULL;
    return e->user_vecs + (size_t)user * e->dim;
}

float *jc_emb_user_vec_mut(struct jc_emb *e, uint32_t user)
{
    if (e->user_vecs == NULL || user >= e->n_users)
        return NULL;
    return e->user_vecs + (size_t)user * e->dim;
}

void jc_emb_set_user_has(struct jc_emb *e, uint32_t user, int has)
{
    if (user < e->n_users)
        e->user_has[user] = has ? 1 : 0;
}

/* Takes ownership of ids (blob of n_items + n_users strings) on success. */
static int set_ids(struct jc_emb *e, char *ids, size_t len)
{
    size_t n = (size_t)e->n_items + e->n_users;
    uint64_t *off = jc_malloc_array(n ? n : 1, sizeof *off);
    if (off == NULL)
        return JC_ENOMEM;
    size_t k = 0, start = 0;
    for (size_t p = 0; p < len; p++) {
        if (ids[p] != '\0')
            continue;
        if (k == n) {
            jc_free(off);
            return JC_ECORRUPT;
        }
        off[k++] = start;
        start = p + 1;
    }
    if (k != n || start != len) {
        jc_free(off);
        return JC_ECORRUPT;
    }
    jc_free(e->ids);
    jc_free(e->id_off);
    e->ids = ids;
    e->ids_len = len;
    e->id_off = off;
    return JC_OK;
}

int jc_emb_set_meta(struct jc_emb *e, enum jc_embed_method m, const char *params_json,
                    const struct jc_catalog *cat)
{
    if (params_json) {
        char *p = jc_strdup(params_json);
        if (p == NULL)
            return JC_ENOMEM;
        jc_free(e->params);
        e->params = p;
    }
    e->method = m;
    if (cat == NULL)
        return JC_OK;
    if (jc_catalog_n_items(cat) != e->n_items ||
        (e->n_users && jc_catalog_n_users(cat) != e->n_users))
        return jc_err_set(JC_EINVAL,
                          "embedding: %u items / %u users do not match the catalog (%u / %u)",
                          e->n_items, e->n_users, jc_catalog_n_items(cat), jc_catalog_n_users(cat));
    struct jc_buf b;
    jc_buf_init(&b, JC_BUF_CAP_DEFAULT);
    int rc = JC_OK;
    for (uint32_t i = 0; i < e->n_items && rc == JC_OK; i++) {
        const char *id = jc_catalog_item_ext_id(cat, i);
        rc = jc_buf_append(&b, id, strlen(id) + 1);
    }
    for (uint32_t u = 0; u < e->n_users && rc == JC_OK; u++) {
        const char *id = jc_catalog_user_ext_id(cat, u);
        rc = jc_buf_append(&b, id, strlen(id) + 1);
    }
    if (rc == JC_OK) {
        size_t len = b.len;
        char *blob = b.data ? jc_buf_detach(&b, &len) : jc_strdup("");
        if (blob == NULL)
            rc = JC_ENOMEM;
        else if ((rc = set_ids(e, blob, len)) != JC_OK)
            jc_free(blob);
    }
    jc_buf_free(&b);
    if (rc == JC_OK)
        e->cat_checksum = jc_catalog_checksum(cat);
    return rc;
}

int jc_emb_check_catalog(const struct jc_emb *e, const struct jc_catalog *cat)
{
    if (jc_catalog_n_items(cat) < e->n_items)
        return jc_err_set(JC_ESTATE,
                          "embedding has %u items but the catalog only %u: re-run `junco embed`",
                          e->n_items, jc_catalog_n_items(cat));
    if (e->n_users && jc_catalog_n_users(cat) < e->n_users)
        return jc_err_set(JC_ESTATE,
                          "embedding has %u users but the catalog only %u: re-run `junco embed`",
                          e->n_users, jc_catalog_n_users(cat));
    if (e->cat_checksum && e->cat_checksum == jc_catalog_checksum(cat) &&
        jc_catalog_n_items(cat) == e->n_items)
        return JC_OK;
    if (e->ids == NULL)
        return JC_OK;
    for (uint32_t i = 0; i < e->n_items; i++)
        if (strcmp(jc_emb_item_ext_id(e, i), jc_catalog_item_ext_id(cat, i)) != 0)
            return jc_err_set(JC_ESTATE,
                              "embedding item %u is '%s' but the catalog's is '%s': the catalog "
                              "changed, re-run `junco embed`",
                              i, jc_emb_item_ext_id(e, i), jc_catalog_item_ext_id(cat, i));
    return JC_OK;
}

/* ---- save ------------------------------------------------------------------ */

static uint64_t align_up(uint64_t x)
{
    return (x + EMB_ALIGN - 1) & ~(uint64_t)(EMB_ALIGN - 1);
}

struct writer {
    struct jc_wfile w;
    struct jc_hasher h;
    uint64_t pos;
    int rc;
};

static void put(struct writer *wr, const void *p, size_t n)
{
    if (wr->rc || n == 0)
        return;
    wr->rc = jc_wfile_write(&wr->w, p, n);
    if (wr->rc == JC_OK) {
        jc_hasher_update(&wr->h, p, n);
        wr->pos += n;
    }
}

static void pad_to(struct writer *wr, uint64_t off)
{
    static const char zeros[EMB_ALIGN];
    while (wr->rc == JC_OK && wr->pos < off) {
        uint64_t n = off - wr->pos;
        put(wr, zeros, n > EMB_ALIGN ? EMB_ALIGN : (size_t)n);
    }
}

int jc_emb_save(const struct jc_emb *e, const char *path)
{
    struct emb_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, EMB_MAGIC, 8);
    h.version = JC_EMB_FORMAT_VERSION;
    h.header_size = sizeof h;
    h.dim = e->dim;
    h.method = (uint32_t)e->method;
    h.n_items = e->n_items;
    h.n_users = e->n_users;
    h.catalog_checksum = e->cat_checksum;
    size_t n_ids = (size_t)e->n_items + e->n_users;
    /* Without stored ids, write empty strings so that the layout is fixed. */
    size_t ids_len = e->ids ? e->ids_len : n_ids;
    h.params_off = align_up(sizeof h);
    h.params_len = strlen(e->params) + 1;
    h.status_off = align_up(h.params_off + h.params_len);
    h.ids_off = align_up(h.status_off + n_ids);
    h.ids_len = ids_len;
    h.item_vec_off = align_up(h.ids_off + ids_len);
    uint64_t end = h.item_vec_off + (uint64_t)e->n_items * e->dim * sizeof(float);
    if (e->n_users) {
        h.user_vec_off = align_up(end);
        end = h.user_vec_off + (uint64_t)e->n_users * e->dim * sizeof(float);
    }
    h.file_size = end;
    struct writer wr;
    memset(&wr, 0, sizeof wr);
    int rc = jc_wfile_open(&wr.w, path);
    if (rc)
        return rc;
    if ((rc = jc_hasher_init(&wr.h)) != JC_OK) {
        jc_wfile_abort(&wr.w);
        return rc;
    }
    /* Placeholder header (not hashed), patched at the end. */
    wr.rc = jc_wfile_write(&wr.w, &h, sizeof h);
    wr.pos = sizeof h;
    pad_to(&wr, h.params_off);
    put(&wr, e->params, h.params_len);
    pad_to(&wr, h.status_off);
    put(&wr, e->item_status, e->n_items);
    put(&wr, e->user_has, e->n_users);
    pad_to(&wr, h.ids_off);
    if (e->ids) {
        put(&wr, e->ids, e->ids_len);
    } else {
        for (size_t i = 0; i < n_ids; i++)
            put(&wr, "", 1);
    }
    pad_to(&wr, h.item_vec_off);
    put(&wr, e->item_vecs, (size_t)e->n_items * e->dim * sizeof(float));
    if (e->n_users) {
        pad_to(&wr, h.user_vec_off);
        put(&wr, e->user_vecs, (size_t)e->n_users * e->dim * sizeof(float));
    }
    if (wr.rc == JC_OK) {
        h.body_checksum = jc_hasher_digest(&wr.h);
        h.header_checksum = 0;
        h.header_checksum = jc_hash64(&h, sizeof h, 0);
        wr.rc = jc_wfile_pwrite(&wr.w, &h, sizeof h, 0);
    }
    jc_hasher_free(&wr.h);
    if (wr.rc == JC_OK)
        return jc_wfile_commit(&wr.w);
    jc_wfile_abort(&wr.w);
    return wr.rc;
}

/* ---- load ------------------------------------------------------------------ */

static int corrupt(const char *path, const char *what)
{
    return jc_err_set(JC_ECORRUPT, "%s: corrupt embedding file: %s", path, what);
}

static int section_ok(const struct emb_header *h, uint64_t off, uint64_t len)
{
    return off >= sizeof *h && off % EMB_ALIGN == 0 && off <= h->file_size &&
           len <= h->file_size - off;
}

int jc_emb_load(struct jc_emb **out, const char *path)
{
    struct jc_map map;
    int rc = jc_map_open(&map, path);
    if (rc)
        return rc;
    const unsigned char *base = map.data;
    struct emb_header h;
    if (map.size < 8 || memcmp(base, EMB_MAGIC, 8) != 0) {
        jc_map_close(&map);
        return jc_err_set(JC_ECORRUPT, "%s: not a junco embedding file (bad magic)", path);
    }
    if (map.size < sizeof h) {
        jc_map_close(&map);
        return corrupt(path, "truncated header");
    }
    memcpy(&h, base, sizeof h);
    uint64_t want = h.header_checksum;
    h.header_checksum = 0;
    if (jc_hash64(&h, sizeof h, 0) != want) {
        jc_map_close(&map);
        return corrupt(path, "header checksum mismatch");
    }
    if (h.version != JC_EMB_FORMAT_VERSION) {
        jc_map_close(&map);
        return jc_err_set(JC_EVERSION, "%s: embedding format version %u, this junco reads %u", path,
                          h.version, JC_EMB_FORMAT_VERSION);
    }
    if (h.file_size != map.size) {
        char msg[128];
        snprintf(msg, sizeof msg, "size %zu bytes, header says %llu (truncated?)", map.size,
                 (unsigned long long)h.file_size);
        jc_map_close(&map);
        return corrupt(path, msg);
    }
    if (jc_hash64(base + sizeof h, map.size - sizeof h, 0) != h.body_checksum) {
        jc_map_close(&map);
        return corrupt(path, "checksum mismatch");
    }
    size_t n_ids = (size_t)h.n_items + h.n_users;
    uint64_t vec_bytes_i = (uint64_t)h.n_items * h.dim * sizeof(float);
    uint64_t vec_bytes_u = (uint64_t)h.n_users * h.dim * sizeof(float);
    if (h.dim < 1 || h.dim > JC_EMB_MAX_DIM || h.method > JC_EMBED_BPR ||
        h.header_size != sizeof h || h.params_len < 1 ||
        !section_ok(&h, h.params_off, h.params_len) || !section_ok(&h, h.status_off, n_ids) ||
        !section_ok(&h, h.ids_off, h.ids_len) || !section_ok(&h, h.item_vec_off, vec_bytes_i) ||
        (h.n_users && !section_ok(&h, h.user_vec_off, vec_bytes_u)) ||
        base[h.params_off + h.params_len - 1] != '\0') {
        jc_map_close(&map);
        return corrupt(path, "bad section layout");
    }
    struct jc_emb *e;
    if ((rc = jc_emb_create(&e, h.n_items, h.n_users, h.dim)) != JC_OK) {
        jc_map_close(&map);
        return rc;
    }
    e->method = (enum jc_embed_method)h.method;
    e->cat_checksum = h.catalog_checksum;
    char *params = jc_strdup((const char *)base + h.params_off);
    char *ids = jc_malloc(h.ids_len ? h.ids_len : 1);
    if (!params || !ids) {
        jc_free(params);
        jc_free(ids);
        jc_emb_destroy(e);
        jc_map_close(&map);
        return JC_ENOMEM;
    }
    jc_free(e->params);
    e->params = params;
    memcpy(e->item_status, base + h.status_off, h.n_items);
    memcpy(e->user_has, base + h.status_off + h.n_items, h.n_users);
    memcpy(ids, base + h.ids_off, h.ids_len);
    memcpy(e->item_vecs, base + h.item_vec_off, vec_bytes_i);
    if (h.n_users)
        memcpy(e->user_vecs, base + h.user_vec_off, vec_bytes_u);
    jc_map_close(&map);
    const char *bad = NULL;
    for (uint32_t i = 0; i < h.n_items && !bad; i++)
        if (e->item_status[i] > JC_EMB_GENRE)
            bad = "bad item status";
    for (uint32_t u = 0; u < h.n_users && !bad; u++)
        if (e->user_has[u] > 1)
            bad = "bad user flag";
    for (size_t q = 0; q < (size_t)h.n_items * h.dim && !bad; q++)
        if (!isfinite(e->item_vecs[q]))
            bad = "non-finite item vector component";
    for (size_t q = 0; q < (size_t)h.n_users * h.dim && !bad; q++)
        if (!isfinite(e->user_vecs[q]))
            bad = "non-finite user vector component";
    if (!bad && (rc = set_ids(e, ids, h.ids_len)) != JC_OK) {
        if (rc == JC_ECORRUPT)
            bad = "external id table does not hold one id per item and user";
        else {
            jc_free(ids);
            jc_emb_destroy(e);
            return rc;
        }
    }
    if (bad) {
        if (e->ids != ids)
            jc_free(ids);
        jc_emb_destroy(e);
        return corrupt(path, bad);
    }
    *out = e;
    return JC_OK;
}

/* ---- text export / import -------------------------------------------------- */

int jc_emb_export_text(const struct jc_emb *e, int users, const char *path)
{
    if (users && e->n_users == 0)
        return jc_err_set(JC_EINVAL, "embedding has no user vectors to export");
    struct jc_wfile w;
    int rc = jc_wfile_open(&w, path);
    if (rc)
        return rc;
    struct jc_buf b;
    jc_buf_init(&b, JC_BUF_CAP_DEFAULT);
    uint32_t n = users ? e->n_users : e->n_items;
    for (uint32_t r = 0; r < n && rc == JC_OK; r++) {
        const float *v;
        const char *id;
        if (users) {
            v = jc_emb_user_vec(e, r);
            id = jc_emb_user_ext_id(e, r);
        } else {
            v = e->item_status[r] != JC_EMB_NONE ? jc_emb_item_vec(e, r) : NULL;
            id = jc_emb_item_ext_id(e, r);
        }
        if (v == NULL)
            continue;
        jc_buf_reset(&b);
        if (id[0])
            rc = jc_buf_printf(&b, "%s:", id);
        else
            rc = jc_buf_printf(&b, "%u:", r);
        for (uint32_t d = 0; d < e->dim && rc == JC_OK; d++)
            rc = jc_buf_printf(&b, d ? " %.9g" : "%.9g", (double)v[d]);
        if (rc == JC_OK)
            rc = jc_buf_append_char(&b, '\n');
        if (rc == JC_OK)
            rc = jc_wfile_write(&w, b.data, b.len);
    }
    jc_buf_free(&b);
    if (rc == JC_OK)
        return jc_wfile_commit(&w);
    jc_wfile_abort(&w);
    return rc;
}

int jc_emb_import_text(const char *path, const struct jc_catalog *cat, int users,
                       struct jc_emb **io, uint64_t *n_unknown)
{
    char *data;
    size_t len;
    int rc = jc_file_read_all(path, (size_t)1 << 34, &data, &len);
    if (rc)
        return rc;
    struct jc_emb *e = *io;
    int created = 0;
    uint64_t unknown = 0, line_no = 0;
    float vec[JC_EMB_MAX_DIM];
    const char *p = data, *end = data + len;
    while (p < end && rc == JC_OK) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        line_no++;
        const char *s = p;
        p = eol + 1;
        size_t n = (size_t)(eol - s);
        if (n && s[n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        /* id: up to ':' (course format) or the first space (word2vec text). */
        size_t k = 0;
        while (k < n && s[k] != ':' && s[k] != ' ')
            k++;
        int course = k < n && s[k] == ':';
        /* Fields after the id. */
        uint32_t dim = 0;
        size_t q = k + 1;
        int bad = 0;
        while (q < n && !bad) {
            while (q < n && s[q] == ' ')
                q++;
            size_t t = q;
            while (t < n && s[t] != ' ')
                t++;
            if (t > q) {
                if (dim == JC_EMB_MAX_DIM || jc_parse_f32(s + q, t - q, &vec[dim]) != JC_OK)
                    bad = 1;
                else
                    dim++;
            }
            q = t;
        }
        if (!course && line_no == 1 && dim == 1) /* word2vec header "count dim" */
            continue;
        if (bad || dim == 0) {
            rc = jc_err_set(JC_EPARSE, "%s:%llu: expected '<id>:v1 v2 ...' or '<id> v1 v2 ...'",
                            path, (unsigned long long)line_no);
            break;
        }
        if (e == NULL) {
            rc = jc_emb_create(&e, jc_catalog_n_items(cat), jc_catalog_n_users(cat), dim);
            if (rc)
                break;
            created = 1;
            if ((rc = jc_emb_set_meta(e, JC_EMBED_ITEM2VEC, NULL, cat)) != JC_OK)
                break;
        }
        if (dim != e->dim) {
            rc = jc_err_set(JC_EPARSE, "%s:%llu: %u values, expected %u", path,
                            (unsigned long long)line_no, dim, e->dim);
            break;
        }
        uint32_t id;
        int found =
            users ? jc_catalog_find_user(cat, s, k, &id) : jc_catalog_find_item(cat, s, k, &id);
        if (!found || (users && id >= e->n_users) || (!users && id >= e->n_items)) {
            unknown++;
            continue;
        }
        float *dst = users ? jc_emb_user_vec_mut(e, id) : jc_emb_item_vec_mut(e, id);
        memcpy(dst, vec, dim * sizeof *dst);
        if (users)
            e->user_has[id] = 1;
        else
            e->item_status[id] = JC_EMB_TRAINED;
    }
    jc_free(data);
    if (rc == JC_OK && e == NULL)
        rc = jc_err_set(JC_EPARSE, "%s: no vectors", path);
    if (rc) {
        if (created)
            jc_emb_destroy(e);
        return rc;
    }
    if (n_unknown)
        *n_unknown = unknown;
    *io = e;
    return JC_OK;
}
