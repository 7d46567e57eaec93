/*
 * file.c - the model file and the model registry.
 *
 * Model file (little-endian), written atomically through jc_wfile:
 *   "JCMODEL\0"  u32 version (1)  u32 flags (bit 0: optimizer state)
 *   u32 header_len, header: JSON {kind, config, optimizers, seed, step,
 *       layout {n_cat, n_num, vocabs, fields}, info}
 *   u64 spec_len, spec blob (the compiled feature spec, opaque here)
 *   u32 n_tensors, then per tensor: u16 name_len, name, u32 rows, u32 cols,
 *       u8 sparse, u8 group, u8 n_state, u8 0, the weights [rows x cols]
 *       float32, then n_state arrays of the same shape
 *   u64 xxh3 of every byte before it.
 * The loader checks the magic, version, size and checksum first, then
 * rebuilds the model from the header (the same code as jc_model_create) and
 * requires every tensor to match by name and shape.
 *
 * Registry: a directory with v<N>.jcm files and a LIVE file
 *   "JCREG 1\nfile v<N>.jcm\nversion <N>\nchecksum <xxh3 hex of the lines
 *   above>\n", replaced atomically after the new version is durable.
 */
#include "model_int.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/json.h"
#include <junco/error.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MODEL_MAGIC      "JCMODEL"
#define MODEL_VERSION    1u
#define MODEL_MAX_HEADER (16u << 20)

/* ---- writing ----------------------------------------------------------- */

struct hw {
    struct jc_wfile w;
    struct jc_hasher h;
    int rc;
};

static void put(struct hw *o, const void *p, size_t n)
{
    if (o->rc)
        return;
    jc_hasher_update(&o->h, p, n);
    o->rc = jc_wfile_write(&o->w, p, n);
}

static void put_u32(struct hw *o, uint32_t v)
{
    put(o, &v, 4);
}

static void json_opt(struct jc_json *j, const char *key, const struct jc_optim_config *c)
{
    jc_json_key(j, key);
    jc_json_obj_begin(j);
    jc_json_kv_str(j, "kind", jc_optim_name(c->kind));
    jc_json_kv_double(j, "lr", c->lr);
    jc_json_kv_double(j, "beta1", c->beta1);
    jc_json_kv_double(j, "beta2", c->beta2);
    jc_json_kv_double(j, "eps", c->eps);
    jc_json_kv_double(j, "l2", c->l2);
    jc_json_kv_double(j, "ftrl_beta", c->ftrl_beta);
    jc_json_kv_double(j, "ftrl_l1", c->ftrl_l1);
    jc_json_kv_double(j, "ftrl_l2", c->ftrl_l2);
    jc_json_kv_double(j, "adagrad_init", c->adagrad_init);
    jc_json_obj_end(j);
}

static int header_json(const struct jc_model *m, struct jc_buf *out)
{
    const struct jc_model_config *c = &m->cfg;
    const struct jc_feat_layout *l = &m->layout;
    struct jc_json j;
    jc_json_init(&j, out, 0);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "kind", jc_model_kind_name(c->kind));
    jc_json_kv_int(&j, "emb_dim", c->emb_dim);
    jc_json_key(&j, "hidden");
    jc_json_arr_begin(&j);
    for (uint32_t i = 0; i < c->n_hidden; i++)
        jc_json_uint(&j, c->hidden[i]);
    jc_json_arr_end(&j);
    jc_json_kv_str(&j, "act", jc_nn_act_name(c->act));
    jc_json_kv_double(&j, "dropout", c->dropout);
    jc_json_kv_bool(&j, "layer_norm", c->layer_norm);
    jc_json_kv_int(&j, "tower_dim", c->tower_dim);
    jc_json_kv_int(&j, "att_hidden", c->att_hidden);
    jc_json_kv_int(&j, "cross_buckets", c->cross_buckets);
    jc_json_kv_int(&j, "cross_layers", c->cross_layers);
    jc_json_kv_str(&j, "loss", c->loss == JC_LOSS_SOFTMAX ? "softmax" : "bce");
    jc_json_kv_double(&j, "temperature", c->temperature);
    json_opt(&j, "opt", &c->opt);
    json_opt(&j, "opt_wide", &c->opt_wide);
    jc_json_key(&j, "seed");
    jc_json_uint(&j, c->seed);
    jc_json_key(&j, "step");
    jc_json_uint(&j, m->step);
    jc_json_key(&j, "layout");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "n_cat", l->n_cat);
    jc_json_kv_int(&j, "n_num", l->n_num);
    jc_json_key(&j, "vocabs");
    jc_json_arr_begin(&j);
    for (uint32_t v = 0; v < l->n_vocabs; v++) {
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", l->vocabs[v].name);
        jc_json_kv_int(&j, "size", l->vocabs[v].size);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_key(&j, "fields");
    jc_json_arr_begin(&j);
    for (uint32_t f = 0; f < l->n_fields; f++) {
        const struct jc_feat_field *fd = &l->fields[f];
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", fd->name);
        jc_json_kv_int(&j, "kind", fd->kind);
        jc_json_kv_int(&j, "side", fd->side);
        jc_json_kv_int(&j, "vocab", fd->vocab);
        jc_json_kv_int(&j, "width", fd->width);
        jc_json_kv_int(&j, "offset", fd->offset);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_obj_end(&j);
    jc_json_key(&j, "info");
    if (m->info)
        jc_json_raw(&j, m->info, strlen(m->info));
    else
        jc_json_null(&j);
    jc_json_obj_end(&j);
    return jc_json_finish(&j);
}

int jc_model_save(const struct jc_model *m, const char *path, int with_state)
{
    struct jc_buf hdr;
    jc_buf_init(&hdr, MODEL_MAX_HEADER);
    int rc = header_json(m, &hdr);
    if (rc) {
        jc_buf_free(&hdr);
        return jc_err_prefix(rc, "saving model %s", path);
    }
    struct hw o;
    memset(&o, 0, sizeof o);
    if ((rc = jc_hasher_init(&o.h))) {
        jc_buf_free(&hdr);
        return rc;
    }
    if ((rc = jc_wfile_open(&o.w, path))) {
        jc_hasher_free(&o.h);
        jc_buf_free(&hdr);
        return rc;
    }
    char magic[8] = MODEL_MAGIC;
    put(&o, magic, 8);
    put_u32(&o, MODEL_VERSION);
    put_u32(&o, with_state ? 1u : 0u);
    put_u32(&o, (uint32_t)hdr.len);
    put(&o, hdr.data, hdr.len);
    uint64_t sl = m->spec_len;
    put(&o, &sl, 8);
    if (sl)
        put(&o, m->spec, sl);
    put_u32(&o, m->n_params);
    for (uint32_t i = 0; i < m->n_params; i++) {
        const struct jc_mparam *p = &m->p[i];
        uint16_t nl = (uint16_t)strlen(p->name);
        put(&o, &nl, 2);
        put(&o, p->name, nl);
        put_u32(&o, p->rows);
        put_u32(&o, p->cols);
        uint8_t ns = with_state ? (uint8_t)((p->s1 != NULL) + (p->s2 != NULL)) : 0;
        uint8_t meta[4] = {p->sparse, p->group, ns, 0};
        put(&o, meta, 4);
        size_t n = (size_t)p->rows * p->cols * sizeof(float);
        put(&o, p->w, n);
        if (ns >= 1)
            put(&o, p->s1, n);
        if (ns >= 2)
            put(&o, p->s2, n);
    }
    uint64_t sum = jc_hasher_digest(&o.h);
    if (o.rc == JC_OK)
        o.rc = jc_wfile_write(&o.w, &sum, 8);
    jc_hasher_free(&o.h);
    jc_buf_free(&hdr);
    if (o.rc) {
        jc_wfile_abort(&o.w);
        return o.rc;
    }
    return jc_wfile_commit(&o.w);
}

/* ---- reading ----------------------------------------------------------- */

struct rd {
    const uint8_t *p;
    size_t left;
    const char *path;
};

static int take(struct rd *r, void *dst, size_t n, const char *what)
{
    if (r->left < n)
        return jc_err_set(JC_ECORRUPT, "%s: truncated model file (reading %s)", r->path, what);
    if (dst)
        memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return JC_OK;
}

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int parse_opt(const cJSON *o, struct jc_optim_config *c, const char *path)
{
    const char *k = jstr(o, "kind");
    enum jc_optim_kind kind;
    if (k == NULL || jc_optim_parse(k, &kind))
        return jc_err_set(JC_ECORRUPT, "%s: bad optimizer in model header", path);
    jc_optim_config_default(c, kind);
    c->lr = (float)jnum(o, "lr", c->lr);
    c->beta1 = (float)jnum(o, "beta1", c->beta1);
    c->beta2 = (float)jnum(o, "beta2", c->beta2);
    c->eps = (float)jnum(o, "eps", c->eps);
    c->l2 = (float)jnum(o, "l2", c->l2);
    c->ftrl_beta = (float)jnum(o, "ftrl_beta", c->ftrl_beta);
    c->ftrl_l1 = (float)jnum(o, "ftrl_l1", c->ftrl_l1);
    c->ftrl_l2 = (float)jnum(o, "ftrl_l2", c->ftrl_l2);
    c->adagrad_init = (float)jnum(o, "adagrad_init", c->adagrad_init);
    return JC_OK;
}

static int parse_header(const char *json, size_t len, struct jc_model *m, const char *path)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (root == NULL)
        return jc_err_set(JC_ECORRUPT, "%s: model header is not valid JSON", path);
    int rc = JC_ECORRUPT;
    struct jc_model_config *c = &m->cfg;
    struct jc_feat_layout *l = &m->layout;
    const char *kind = jstr(root, "kind");
    enum jc_model_kind k;
    if (kind == NULL || jc_model_kind_parse(kind, &k)) {
        jc_err_set(JC_ECORRUPT, "%s: unknown model kind '%s'", path, kind ? kind : "?");
        goto out;
    }
    jc_model_config_default(c, k);
    c->emb_dim = (uint32_t)jnum(root, "emb_dim", 0);
    const cJSON *hid = cJSON_GetObjectItemCaseSensitive(root, "hidden");
    int nh = cJSON_GetArraySize(hid);
    if (!cJSON_IsArray(hid) || nh > JC_MODEL_MAX_HIDDEN) {
        jc_err_set(JC_ECORRUPT, "%s: bad hidden layers in model header", path);
        goto out;
    }
    c->n_hidden = (uint32_t)nh;
    for (int i = 0; i < nh; i++)
        c->hidden[i] = (uint32_t)cJSON_GetArrayItem(hid, i)->valuedouble;
    const char *act = jstr(root, "act");
    if (act == NULL || jc_nn_act_parse(act, &c->act)) {
        jc_err_set(JC_ECORRUPT, "%s: bad activation in model header", path);
        goto out;
    }
    c->dropout = (float)jnum(root, "dropout", 0);
    c->layer_norm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "layer_norm"));
    c->tower_dim = (uint32_t)jnum(root, "tower_dim", c->tower_dim);
    c->att_hidden = (uint32_t)jnum(root, "att_hidden", c->att_hidden);
    c->cross_buckets = (uint32_t)jnum(root, "cross_buckets", c->cross_buckets);
    c->cross_layers = (uint32_t)jnum(root, "cross_layers", c->cross_layers);
    const char *loss = jstr(root, "loss");
    c->loss = loss && strcmp(loss, "softmax") == 0 ? JC_LOSS_SOFTMAX : JC_LOSS_BCE;
    c->temperature = (float)jnum(root, "temperature", c->temperature);
    if (parse_opt(cJSON_GetObjectItemCaseSensitive(root, "opt"), &c->opt, path) ||
        parse_opt(cJSON_GetObjectItemCaseSensitive(root, "opt_wide"), &c->opt_wide, path))
        goto out;
    c->seed = (uint64_t)jnum(root, "seed", 42);
    m->step = (uint64_t)jnum(root, "step", 0);
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(root, "layout");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(lo, "vocabs");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(lo, "fields");
    if (!cJSON_IsArray(vs) || !cJSON_IsArray(fs) || cJSON_GetArraySize(vs) > JC_FEAT_MAX_VOCABS ||
        cJSON_GetArraySize(fs) > JC_FEAT_MAX_FIELDS) {
        jc_err_set(JC_ECORRUPT, "%s: bad layout in model header", path);
        goto out;
    }
    memset(l, 0, sizeof *l);
    l->n_cat = (uint32_t)jnum(lo, "n_cat", 0);
    l->n_num = (uint32_t)jnum(lo, "n_num", 0);
    const cJSON *it;
    cJSON_ArrayForEach(it, vs)
    {
        const char *nm = jstr(it, "name");
        snprintf(l->vocabs[l->n_vocabs].name, JC_FEAT_NAME_MAX, "%s", nm ? nm : "");
        l->vocabs[l->n_vocabs].size = (uint32_t)jnum(it, "size", 0);
        l->n_vocabs++;
    }
    cJSON_ArrayForEach(it, fs)
    {
        struct jc_feat_field *fd = &l->fields[l->n_fields++];
        const char *nm = jstr(it, "name");
        snprintf(fd->name, JC_FEAT_NAME_MAX, "%s", nm ? nm : "");
        fd->kind = (enum jc_feat_kind)(int)jnum(it, "kind", 0);
        fd->side = (enum jc_feat_side)(int)jnum(it, "side", 0);
        fd->vocab = (uint32_t)jnum(it, "vocab", 0);
        fd->width = (uint32_t)jnum(it, "width", 0);
        fd->offset = (uint32_t)jnum(it, "offset", 0);
    }
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(root, "info");
    if (info && !cJSON_IsNull(info)) {
        char *s = cJSON_PrintUnformatted(info);
        if (s) {
            m->info = jc_strdup(s);
            cJSON_free(s);
        }
    }
    rc = JC_OK;
out:
    cJSON_Delete(root);
    return rc;
}

static int load_body(struct jc_model *m, struct rd *r, const char *path)
{
    char magic[8];
    uint32_t version = 0, flags = 0, hlen = 0;
    int rc = take(r, magic, 8, "magic");
    if (rc)
        return rc;
    if (memcmp(magic, MODEL_MAGIC, 8) != 0)
        return jc_err_set(JC_ECORRUPT, "%s: not a junco model file (bad magic)", path);
    if ((rc = take(r, &version, 4, "version")))
        return rc;
    if (version != MODEL_VERSION)
        return jc_err_set(JC_EVERSION, "%s: model format version %u (this build reads %u)", path,
                          version, MODEL_VERSION);
    if ((rc = take(r, &flags, 4, "flags")) || (rc = take(r, &hlen, 4, "header length")))
        return rc;
    if (hlen > MODEL_MAX_HEADER || hlen > r->left)
        return jc_err_set(JC_ECORRUPT, "%s: header length %u is impossible", path, hlen);
    const char *hdr = (const char *)r->p;
    take(r, NULL, hlen, "header");
    if ((rc = parse_header(hdr, hlen, m, path)))
        return rc;
    uint64_t sl = 0;
    if ((rc = take(r, &sl, 8, "spec length")))
        return rc;
    if (sl > r->left)
        return jc_err_set(JC_ECORRUPT, "%s: spec length %" PRIu64 " is impossible", path, sl);
    if (sl && (rc = jc_model_set_spec(m, r->p, (size_t)sl)))
        return rc;
    take(r, NULL, (size_t)sl, "spec");
    uint64_t step = m->step;
    if ((rc = jc_model__build(m)))
        return jc_err_prefix(rc, "%s: model header describes an invalid model", path);
    m->step = step;
    uint32_t nt = 0;
    if ((rc = take(r, &nt, 4, "tensor count")))
        return rc;
    if (nt != m->n_params)
        return jc_err_set(JC_ECORRUPT, "%s: %u tensors, the model has %u", path, nt, m->n_params);
    for (uint32_t i = 0; i < nt; i++) {
        uint16_t nl = 0;
        char name[JC_PARAM_NAME_MAX];
        uint32_t rows = 0, cols = 0;
        uint8_t meta[4];
        if ((rc = take(r, &nl, 2, "tensor name")))
            return rc;
        if (nl >= sizeof name)
            return jc_err_set(JC_ECORRUPT, "%s: tensor name of %u bytes", path, nl);
        if ((rc = take(r, name, nl, "tensor name")))
            return rc;
        name[nl] = 0;
        if ((rc = take(r, &rows, 4, "shape")) || (rc = take(r, &cols, 4, "shape")) ||
            (rc = take(r, meta, 4, "tensor flags")))
            return rc;
        int pi = jc_model__find_param(m, name);
        if (pi < 0)
            return jc_err_set(JC_ECORRUPT, "%s: unexpected tensor '%s'", path, name);
        struct jc_mparam *p = &m->p[pi];
        if (p->rows != rows || p->cols != cols || p->sparse != meta[0])
            return jc_err_set(JC_ECORRUPT, "%s: tensor %s is %ux%u, the model expects %ux%u", path,
                              name, rows, cols, p->rows, p->cols);
        size_t n = (size_t)rows * cols * sizeof(float);
        if ((rc = take(r, p->w, n, name)))
            return rc;
        for (int s = 0; s < meta[2]; s++) {
            float *dst = s == 0 ? p->s1 : p->s2;
            if ((rc = take(r, dst, n, name)))
                return rc;
        }
    }
    if (r->left != 8)
        return jc_err_set(JC_ECORRUPT, "%s: %zu unexpected bytes after the tensors", path,
                          r->left - 8);
    (void)flags;
    return JC_OK;
}

int jc_model_load(struct jc_model **out, const char *path)
{
    struct jc_map map;
    int rc = jc_map_open(&map, path);
    if (rc)
        return rc;
    if (map.size < 8 + 12 + 8) {
        jc_map_close(&map);
        return jc_err_set(JC_ECORRUPT, "%s: %zu bytes is too short for a model file", path,
                          map.size);
    }
    uint64_t want, got = jc_hash64(map.data, map.size - 8, 0);
    memcpy(&want, (const uint8_t *)map.data + map.size - 8, 8);
    if (memcmp(map.data, MODEL_MAGIC, 8) != 0) {
        jc_map_close(&map);
        return jc_err_set(JC_ECORRUPT, "%s: not a junco model file (bad magic)", path);
    }
    if (want != got) {
        jc_map_close(&map);
        return jc_err_set(JC_ECORRUPT,
                          "%s: checksum mismatch (file says %016" PRIx64 ", content %016" PRIx64
                          "): the file is corrupt or truncated",
                          path, want, got);
    }
    struct jc_model *m = jc_calloc(1, sizeof *m);
    if (m == NULL) {
        jc_map_close(&map);
        return JC_ENOMEM;
    }
    struct rd r = {map.data, map.size, path};
    rc = load_body(m, &r, path);
    jc_map_close(&map);
    if (rc) {
        jc_model_destroy(m);
        return rc;
    }
    *out = m;
    return JC_OK;
}

/* ---- registry ---------------------------------------------------------- */

static int registry_text(char *out, size_t cap, const char *file, uint32_t version)
{
    char body[512];
    int n = snprintf(body, sizeof body, "JCREG 1\nfile %s\nversion %u\n", file, version);
    if (n < 0 || (size_t)n >= sizeof body)
        return -1;
    uint64_t h = jc_hash64(body, (size_t)n, 0);
    int k = snprintf(out, cap, "%schecksum %016" PRIx64 "\n", body, h);
    return k < 0 || (size_t)k >= cap ? -1 : k;
}

int jc_model_publish(const struct jc_model *m, const char *dir, int with_state,
                     uint32_t *version_out)
{
    int rc = jc_mkdir_p(dir);
    if (rc)
        return rc;
    uint32_t maxv = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return jc_err_set(JC_EIO, "%s: cannot list the model directory", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned v;
        char tail[8];
        if (sscanf(e->d_name, "v%u.jcm%7s", &v, tail) == 1 && v > maxv)
            maxv = v;
    }
    closedir(d);
    uint32_t ver = maxv + 1;
    char file[64], path[4096], live[4096], text[1024];
    snprintf(file, sizeof file, "v%u.jcm", ver);
    if ((rc = jc_path_join(path, sizeof path, dir, file)) ||
        (rc = jc_path_join(live, sizeof live, dir, "LIVE")))
        return rc;
    if ((rc = jc_model_save(m, path, with_state)))
        return rc;
    int n = registry_text(text, sizeof text, file, ver);
    if (n < 0)
        return jc_err_set(JC_ELIMIT, "registry: entry too long");
    if ((rc = jc_file_write_atomic(live, text, (size_t)n)))
        return rc;
    if (version_out)
        *version_out = ver;
    return JC_OK;
}

int jc_model_registry_live(const char *dir, char *path_out, size_t cap, uint32_t *version_out)
{
    char live[4096];
    int rc = jc_path_join(live, sizeof live, dir, "LIVE");
    if (rc)
        return rc;
    if (!jc_path_exists(live))
        return jc_err_set(JC_ENOTFOUND, "%s: no model published (no LIVE file)", dir);
    char *data;
    size_t len;
    if ((rc = jc_file_read_all(live, 4096, &data, &len)))
        return rc;
    char file[256];
    unsigned ver;
    char want[1024];
    int ok = sscanf(data, "JCREG 1\nfile %255s\nversion %u\n", file, &ver) == 2;
    int n = ok ? registry_text(want, sizeof want, file, ver) : -1;
    ok = ok && n >= 0 && (size_t)n == len && memcmp(want, data, len) == 0 &&
         strchr(file, '/') == NULL;
    jc_free(data);
    if (!ok)
        return jc_err_set(JC_ECORRUPT, "%s: corrupt registry entry", live);
    if ((rc = jc_path_join(path_out, cap, dir, file)))
        return rc;
    if (version_out)
        *version_out = ver;
    return JC_OK;
}
