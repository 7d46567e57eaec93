/*
 * split.c - train / valid / test splits of interactions (see junco/eval.h).
 *
 * Design: the events are first put in by-user order, each user's events
 * sorted by (time, item, value); events below min_value are dropped and
 * repeated (user, item) pairs keep their first occurrence. Every event then
 * gets a part label by the rule of the split kind, and one builder turns
 * (events, labels) into the four CSR parts (train, valid, test,
 * train+valid), keeping the by-user time order. A loaded export goes
 * through the same builder after merging its three files per user, so a
 * split and its reloaded export have the same checksum.
 *
 * The checksum (xxh3) covers the kind, the parameters that shape the split
 * and every part's offsets and items; it is the split's identity in reports
 * and manifests. Exports also carry SHA-256 digests for peers.
 */
#include <junco/eval.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/parse.h"
#include "core/rng.h"
#include "eval/eval_int.h"
#include "eval/sha256.h"
#include <junco/catalog.h>
#include <junco/error.h>

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct part_store {
    uint64_t *offsets;
    uint32_t *items;
    float *values;
    int64_t *times;
};

struct jc_split {
    struct jc_split_info info;
    struct part_store parts[4];
};

/* One event of a user (the user is implied by the CSR position). */
struct ev {
    int64_t time;
    uint32_t item;
    float value;
};

static const char *const kind_names[] = {"random", "temporal", "loo"};

const char *jc_split_kind_name(enum jc_split_kind k)
{
    return (unsigned)k < 3 ? kind_names[k] : "?";
}

int jc_split_kind_parse(const char *s, enum jc_split_kind *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (enum jc_split_kind)i;
            return JC_OK;
        }
    return jc_err_set(JC_EINVAL, "unknown split kind '%s' (random, temporal, loo)", s);
}

void jc_split_config_default(struct jc_split_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = JC_SPLIT_RANDOM;
    c->valid_frac = 0.1;
    c->test_frac = 0.1;
    c->min_value = -INFINITY;
    c->seed = 42;
}

void jc_split_destroy(struct jc_split *s)
{
    if (s == NULL)
        return;
    for (int p = 0; p < 4; p++) {
        jc_free(s->parts[p].offsets);
        jc_free(s->parts[p].items);
        jc_free(s->parts[p].values);
        jc_free(s->parts[p].times);
    }
    jc_free(s);
}

void jc_split_part(const struct jc_split *s, enum jc_split_part part, struct jc_eval_part *out)
{
    const struct part_store *ps = &s->parts[part];
    out->n_users = s->info.n_users;
    out->n_items = s->info.n_items;
    out->offsets = ps->offsets;
    out->items = ps->items;
    out->values = ps->values;
    out->times = ps->times;
}

void jc_split_get_info(const struct jc_split *s, struct jc_split_info *out)
{
    *out = s->info;
}

static int cmp_ev(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return 0;
}

/* Events in by-user CSR form, deduplicated, each user's in time order. */
struct evs {
    uint32_t n_users, n_items;
    uint64_t *off; /* n_users + 1 */
    struct ev *ev;
    uint8_t *label; /* enum jc_split_part of each event */
};

static void evs_free(struct evs *e)
{
    jc_free(e->off);
    jc_free(e->ev);
    jc_free(e->label);
}

static uint64_t checksum_of(const struct jc_split *s)
{
    struct jc_hasher h;
    if (jc_hasher_init(&h) != JC_OK)
        return 0;
    const struct jc_split_info *in = &s->info;
    uint64_t hdr[6] = {
        (uint64_t)in->kind, in->kind == JC_SPLIT_RANDOM ? in->seed : 0, 0, 0, in->n_users,
        in->n_items};
    double fr[2] = {in->kind == JC_SPLIT_LOO ? 0 : in->valid_frac,
                    in->kind == JC_SPLIT_LOO ? 0 : in->test_frac};
    memcpy(&hdr[2], &fr[0], 8);
    memcpy(&hdr[3], &fr[1], 8);
    jc_hasher_update(&h, hdr, sizeof hdr);
    for (int p = 0; p < 3; p++) {
        const struct part_store *ps = &s->parts[p];
        jc_hasher_update(&h, ps->offsets, ((size_t)in->n_users + 1) * sizeof *ps->offsets);
        jc_hasher_update(&h, ps->items, (size_t)ps->offsets[in->n_users] * sizeof *ps->items);
    }
    uint64_t d = jc_hasher_digest(&h);
    jc_hasher_free(&h);
    return d;
}

/* Builds the four parts from labelled events; fills the counts of info. */
static int build_parts(struct jc_split *s, const struct evs *e)
{
    uint32_t nu = e->n_users;
    for (int p = 0; p < 4; p++) {
        struct part_store *ps = &s->parts[p];
        uint64_t n = 0;
        for (uint64_t i = 0; i < e->off[nu]; i++)
            n += p == JC_PART_TRAIN_VALID ? e->label[i] <= JC_PART_VALID : e->label[i] == p;
        size_t cnt = n ? n : 1;
        ps->offsets = jc_malloc_array((size_t)nu + 1, sizeof *ps->offsets);
        ps->items = jc_malloc_array(cnt, sizeof *ps->items);
        ps->values = jc_malloc_array(cnt, sizeof *ps->values);
        ps->times = jc_malloc_array(cnt, sizeof *ps->times);
        if (!ps->offsets || !ps->items || !ps->values || !ps->times)
            return JC_ENOMEM;
        uint64_t k = 0;
        uint32_t users_with = 0;
        for (uint32_t u = 0; u < nu; u++) {
            ps->offsets[u] = k;
            for (uint64_t i = e->off[u]; i < e->off[u + 1]; i++) {
                int in = p == JC_PART_TRAIN_VALID ? e->label[i] <= JC_PART_VALID : e->label[i] == p;
                if (!in)
                    continue;
                ps->items[k] = e->ev[i].item;
                ps->values[k] = e->ev[i].value;
                ps->times[k] = e->ev[i].time;
                k++;
            }
            users_with += k > ps->offsets[u];
        }
        ps->offsets[nu] = k;
        s->info.n_events[p] = k;
        s->info.n_users_with[p] = users_with;
    }
    s->info.checksum = checksum_of(s);
    return JC_OK;
}

static int check_fracs(const struct jc_split_config *c)
{
    if (c->kind == JC_SPLIT_LOO)
        return JC_OK;
    if (!(c->valid_frac >= 0 && c->valid_frac < 1) || !(c->test_frac > 0 && c->test_frac < 1) ||
        !(c->valid_frac + c->test_frac < 1))
        return jc_err_set(JC_EINVAL,
                          "split: fractions valid %g and test %g must be in [0, 1) (test > 0) "
                          "and sum to less than 1",
                          c->valid_frac, c->test_frac);
    return JC_OK;
}

/* Random split labels. */
static int label_random(struct evs *e, const struct jc_split_config *c)
{
    uint64_t max_n = 0;
    for (uint32_t u = 0; u < e->n_users; u++)
        if (e->off[u + 1] - e->off[u] > max_n)
            max_n = e->off[u + 1] - e->off[u];
    uint32_t *idx = jc_malloc_array(max_n ? max_n : 1, sizeof *idx);
    if (idx == NULL)
        return JC_ENOMEM;
    for (uint32_t u = 0; u < e->n_users; u++) {
        uint64_t b = e->off[u], n = e->off[u + 1] - b;
        for (uint64_t i = 0; i < n; i++)
            e->label[b + i] = JC_PART_TRAIN;
        if (n < 3)
            continue;
        uint64_t n_test = (uint64_t)floor((double)n * c->test_frac + 0.5);
        uint64_t n_valid = (uint64_t)floor((double)n * c->valid_frac + 0.5);
        while (n_test + n_valid > n - 1) {
            if (n_valid > 0)
                n_valid--;
            else
                n_test--;
        }
        for (uint64_t i = 0; i < n; i++)
            idx[i] = (uint32_t)i;
        struct jc_rng r;
        jc_rng_stream(&r, c->seed, u);
        jc_rng_shuffle_u32(&r, idx, n);
        uint64_t n_train = n - n_valid - n_test;
        for (uint64_t i = n_train; i < n; i++)
            e->label[b + idx[i]] = i < n_train + n_valid ? JC_PART_VALID : JC_PART_TEST;
    }
    jc_free(idx);
    return JC_OK;
}

struct tkey {
    int64_t time;
    uint32_t user, item;
    uint64_t pos;
};

static int cmp_tkey(const void *a, const void *b)
{
    const struct tkey *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

static int label_temporal(struct evs *e, const struct jc_split_config *c, struct jc_split_info *in)
{
    uint64_t n = e->off[e->n_users];
    struct tkey *k = jc_malloc_array(n ? n : 1, sizeof *k);
    if (k == NULL)
        return JC_ENOMEM;
    for (uint32_t u = 0; u < e->n_users; u++)
        for (uint64_t i = e->off[u]; i < e->off[u + 1]; i++)
            k[i] = (struct tkey){e->ev[i].time, u, e->ev[i].item, i};
    qsort(k, n, sizeof *k, cmp_tkey);
    uint64_t n_test = (uint64_t)floor((double)n * c->test_frac);
    uint64_t n_valid = (uint64_t)floor((double)n * c->valid_frac);
    uint64_t v0 = n - n_test - n_valid, t0 = n - n_test;
    for (uint64_t i = 0; i < n; i++)
        e->label[k[i].pos] = i < v0 ? JC_PART_TRAIN : i < t0 ? JC_PART_VALID : JC_PART_TEST;
    in->valid_from = n_valid && v0 < n ? k[v0].time : 0;
    in->test_from = n_test && t0 < n ? k[t0].time : 0;
    jc_free(k);
    return JC_OK;
}

static void label_loo(struct evs *e)
{
    for (uint32_t u = 0; u < e->n_users; u++) {
        uint64_t b = e->off[u], n = e->off[u + 1] - b;
        for (uint64_t i = 0; i < n; i++)
            e->label[b + i] = JC_PART_TRAIN;
        if (n >= 2)
            e->label[b + n - 1] = JC_PART_TEST;
        if (n >= 3)
            e->label[b + n - 2] = JC_PART_VALID;
    }
}

/* Sorts each user's events and removes repeated items (first kept). */
static int dedup(struct evs *e, uint64_t *n_dup)
{
    uint32_t *seen = jc_calloc(e->n_items ? e->n_items : 1, sizeof *seen);
    if (seen == NULL)
        return JC_ENOMEM;
    uint64_t w = 0, dups = 0;
    for (uint32_t u = 0; u < e->n_users; u++) {
        uint64_t b = e->off[u], end = e->off[u + 1];
        qsort(e->ev + b, end - b, sizeof *e->ev, cmp_ev);
        e->off[u] = w;
        for (uint64_t i = b; i < end; i++) {
            uint32_t it = e->ev[i].item;
            if (seen[it] == u + 1) {
                dups++;
                continue;
            }
            seen[it] = u + 1;
            e->ev[w++] = e->ev[i];
        }
    }
    e->off[e->n_users] = w;
    jc_free(seen);
    *n_dup = dups;
    return JC_OK;
}

static int finish_split(struct jc_split **out, struct evs *e, const struct jc_split_config *c,
                        struct jc_split_info *info)
{
    int rc = JC_OK;
    switch (c->kind) {
    case JC_SPLIT_RANDOM:
        rc = label_random(e, c);
        break;
    case JC_SPLIT_TEMPORAL:
        rc = label_temporal(e, c, info);
        break;
    case JC_SPLIT_LOO:
        label_loo(e);
        break;
    }
    if (rc)
        return rc;
    struct jc_split *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        return JC_ENOMEM;
    s->info = *info;
    if ((rc = build_parts(s, e)) != JC_OK) {
        jc_split_destroy(s);
        return rc;
    }
    *out = s;
    return JC_OK;
}

int jc_split_create_arrays(struct jc_split **out, uint32_t n_users, uint32_t n_items, uint64_t n,
                           const uint32_t *user, const uint32_t *item, const float *value,
                           const int64_t *time, const struct jc_split_config *cfg)
{
    int rc = check_fracs(cfg);
    if (rc)
        return rc;
    if ((unsigned)cfg->kind > JC_SPLIT_LOO)
        return jc_err_set(JC_EINVAL, "split: bad kind %d", (int)cfg->kind);
    if (isnan(cfg->min_value))
        return jc_err_set(JC_EINVAL, "split: min_value is NaN");
    struct jc_split_info info;
    memset(&info, 0, sizeof info);
    info.kind = cfg->kind;
    info.seed = cfg->seed;
    info.valid_frac = cfg->kind == JC_SPLIT_LOO ? 0 : cfg->valid_frac;
    info.test_frac = cfg->kind == JC_SPLIT_LOO ? 0 : cfg->test_frac;
    info.min_value = cfg->min_value;
    info.n_users = n_users;
    info.n_items = n_items;
    info.n_input = n;
    struct evs e = {n_users, n_items, NULL, NULL, NULL};
    e.off = jc_calloc((size_t)n_users + 2, sizeof *e.off);
    if (e.off == NULL)
        return JC_ENOMEM;
    /* count per user (range checks first) */
    uint64_t kept = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (user[i] >= n_users || item[i] >= n_items) {
            evs_free(&e);
            return jc_err_set(JC_ERANGE,
                              "split: event %" PRIu64 " has user %u / item %u "
                              "outside %u users / %u items",
                              i, user[i], item[i], n_users, n_items);
        }
        float v = value ? value[i] : 1.0f;
        if (!((double)v >= cfg->min_value)) {
            info.n_dropped++;
            continue;
        }
        e.off[user[i] + 1]++;
        kept++;
    }
    if (kept == 0) {
        evs_free(&e);
        return jc_err_set(JC_EINVAL,
                          "split: no interactions left (%" PRIu64 " given, %" PRIu64
                          " below min_value %g)",
                          n, info.n_dropped, cfg->min_value);
    }
    for (uint32_t u = 0; u < n_users; u++)
        e.off[u + 1] += e.off[u];
    e.ev = jc_malloc_array(kept, sizeof *e.ev);
    e.label = jc_malloc_array(kept, 1);
    uint64_t *fill = jc_malloc_array((size_t)n_users + 1, sizeof *fill);
    if (e.ev == NULL || e.label == NULL || fill == NULL) {
        jc_free(fill);
        evs_free(&e);
        return JC_ENOMEM;
    }
    memcpy(fill, e.off, ((size_t)n_users + 1) * sizeof *fill);
    for (uint64_t i = 0; i < n; i++) {
        float v = value ? value[i] : 1.0f;
        if (!((double)v >= cfg->min_value))
            continue;
        e.ev[fill[user[i]]++] = (struct ev){time ? time[i] : 0, item[i], v};
    }
    jc_free(fill);
    rc = dedup(&e, &info.n_duplicates);
    if (rc == JC_OK)
        rc = finish_split(out, &e, cfg, &info);
    evs_free(&e);
    return rc;
}

int jc_split_create(struct jc_split **out, const struct jc_catalog *cat,
                    const struct jc_split_config *cfg)
{
    struct jc_interactions in;
    jc_catalog_interactions(cat, &in);
    return jc_split_create_arrays(out, jc_catalog_n_users(cat), jc_catalog_n_items(cat), in.n,
                                  in.user, in.item, in.value, in.time, cfg);
}

/* ---- export ------------------------------------------------------------- */

struct file_sum {
    const char *name;
    uint64_t size;
    char sha[65];
};

/* Streams text chunks to a jc_wfile while hashing them. */
struct tsv_out {
    struct jc_wfile w;
    struct jc_sha256 sha;
    struct jc_buf b;
    uint64_t size;
    int rc;
};

static void tsv_flush(struct tsv_out *t, int force)
{
    if (t->rc || (!force && t->b.len < (1u << 20)))
        return;
    jc_sha256_update(&t->sha, t->b.data, t->b.len);
    t->size += t->b.len;
    t->rc = jc_wfile_write(&t->w, t->b.data, t->b.len);
    jc_buf_reset(&t->b);
}

static int tsv_begin(struct tsv_out *t, const char *dir, const char *name)
{
    char path[4096];
    memset(t, 0, sizeof *t);
    int rc = jc_path_join(path, sizeof path, dir, name);
    if (rc == JC_OK)
        rc = jc_wfile_open(&t->w, path);
    if (rc)
        return rc;
    jc_sha256_init(&t->sha);
    jc_buf_init(&t->b, (size_t)1 << 24);
    return JC_OK;
}

static int tsv_end(struct tsv_out *t, struct file_sum *fs)
{
    tsv_flush(t, 1);
    jc_buf_free(&t->b);
    if (t->rc) {
        jc_wfile_abort(&t->w);
        return t->rc;
    }
    int rc = jc_wfile_commit(&t->w);
    if (rc)
        return rc;
    uint8_t d[32];
    jc_sha256_final(&t->sha, d);
    jc_sha256_hex(d, fs->sha);
    fs->size = t->size;
    return JC_OK;
}

static int write_part(const struct jc_split *s, int p, const char *dir, struct file_sum *fs)
{
    struct tsv_out t;
    int rc = tsv_begin(&t, dir, fs->name);
    if (rc)
        return rc;
    const struct part_store *ps = &s->parts[p];
    if (t.rc == JC_OK)
        t.rc = jc_buf_append_str(&t.b, "user\titem\tvalue\ttime\n");
    for (uint32_t u = 0; u < s->info.n_users && t.rc == JC_OK; u++)
        for (uint64_t i = ps->offsets[u]; i < ps->offsets[u + 1] && t.rc == JC_OK; i++) {
            t.rc = jc_buf_printf(&t.b, "%u\t%u\t%.9g\t%" PRId64 "\n", u, ps->items[i],
                                 (double)ps->values[i], ps->times[i]);
            tsv_flush(&t, 0);
        }
    return tsv_end(&t, fs);
}

static int write_items(const struct jc_catalog *cat, const char *dir, struct file_sum *fs)
{
    struct tsv_out t;
    int rc = tsv_begin(&t, dir, fs->name);
    if (rc)
        return rc;
    if (t.rc == JC_OK)
        t.rc = jc_buf_append_str(&t.b, "item\text_id\n");
    for (uint32_t i = 0; i < jc_catalog_n_items(cat) && t.rc == JC_OK; i++) {
        t.rc = jc_buf_printf(&t.b, "%u\t%s\n", i, jc_catalog_item_ext_id(cat, i));
        tsv_flush(&t, 0);
    }
    return tsv_end(&t, fs);
}

int jc_split_export(const struct jc_split *s, const struct jc_catalog *cat, const char *dir)
{
    int rc = jc_mkdir_p(dir);
    if (rc)
        return rc;
    struct file_sum fs[4] = {
        {"train.tsv", 0, ""}, {"valid.tsv", 0, ""}, {"test.tsv", 0, ""}, {"items.tsv", 0, ""}};
    size_t nf = cat ? 4 : 3;
    for (int p = 0; p < 3 && rc == JC_OK; p++)
        rc = write_part(s, p, dir, &fs[p]);
    if (rc == JC_OK && cat)
        rc = write_items(cat, dir, &fs[3]);
    if (rc)
        return rc;
    const struct jc_split_info *in = &s->info;
    struct jc_buf b;
    jc_buf_init(&b, 1 << 20);
    struct jc_json j;
    jc_json_init(&j, &b, 1);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "format", "junco-split");
    jc_json_kv_int(&j, "version", 1);
    jc_json_kv_str(&j, "kind", jc_split_kind_name(in->kind));
    jc_json_kv_int(&j, "seed", (int64_t)in->seed);
    jc_json_kv_double(&j, "valid_frac", in->valid_frac);
    jc_json_kv_double(&j, "test_frac", in->test_frac);
    if (isfinite(in->min_value))
        jc_json_kv_double(&j, "min_value", in->min_value);
    jc_json_kv_int(&j, "n_users", in->n_users);
    jc_json_kv_int(&j, "n_items", in->n_items);
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, in->checksum);
    jc_json_kv_str(&j, "checksum", hex);
    jc_json_key(&j, "rows");
    jc_json_obj_begin(&j);
    jc_json_kv_int(&j, "train", (int64_t)in->n_events[0]);
    jc_json_kv_int(&j, "valid", (int64_t)in->n_events[1]);
    jc_json_kv_int(&j, "test", (int64_t)in->n_events[2]);
    jc_json_obj_end(&j);
    jc_json_key(&j, "files");
    jc_json_obj_begin(&j);
    for (size_t f = 0; f < nf; f++) {
        jc_json_key(&j, fs[f].name);
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "bytes", (int64_t)fs[f].size);
        jc_json_kv_str(&j, "sha256", fs[f].sha);
        jc_json_obj_end(&j);
    }
    jc_json_obj_end(&j);
    jc_json_obj_end(&j);
    rc = jc_json_finish(&j);
    char path[4096];
    if (rc == JC_OK)
        rc = jc_path_join(path, sizeof path, dir, "manifest.json");
    if (rc == JC_OK)
        rc = jc_file_write_atomic(path, b.data, b.len);
    jc_buf_free(&b);
    return rc;
}

/* ---- load --------------------------------------------------------------- */

static int read_verified(const char *dir, const char *name, const cJSON *files, char **data,
                         size_t *len)
{
    char path[4096];
    int rc = jc_path_join(path, sizeof path, dir, name);
    if (rc)
        return rc;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(files, name);
    const cJSON *sha = f ? cJSON_GetObjectItemCaseSensitive(f, "sha256") : NULL;
    const cJSON *bytes = f ? cJSON_GetObjectItemCaseSensitive(f, "bytes") : NULL;
    if (!cJSON_IsString(sha) || !cJSON_IsNumber(bytes))
        return jc_err_set(JC_ECORRUPT, "%s/manifest.json: no sha256/bytes for %s", dir, name);
    rc = jc_file_read_all(path, (size_t)1 << 36, data, len);
    if (rc)
        return rc;
    struct jc_sha256 s;
    uint8_t d[32];
    char hex[65];
    jc_sha256_init(&s);
    jc_sha256_update(&s, *data, *len);
    jc_sha256_final(&s, d);
    jc_sha256_hex(d, hex);
    if ((double)*len != bytes->valuedouble || strcmp(hex, sha->valuestring) != 0) {
        jc_free(*data);
        *data = NULL;
        return jc_err_set(JC_ECORRUPT, "%s: size %zu / sha256 %s differ from the manifest", path,
                          *len, hex);
    }
    return JC_OK;
}

/* Parses "user\titem\tvalue\ttime" lines into per-user event lists. */
static int parse_part(const char *path, const char *data, size_t len, uint32_t n_users,
                      uint32_t n_items, int label, struct evs *e, uint64_t *fill, int count_only)
{
    size_t pos = 0, line = 0;
    while (pos < len) {
        const char *ls = data + pos;
        const char *nl = memchr(ls, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - ls) : len - pos;
        pos += ll + (nl != NULL);
        line++;
        if (line == 1)
            continue; /* header */
        const char *f[4];
        size_t fl[4], k = 0, st = 0;
        for (size_t i = 0; i <= ll && k < 4; i++) {
            if (i == ll || ls[i] == '\t') {
                f[k] = ls + st;
                fl[k] = i - st;
                k++;
                st = i + 1;
            }
        }
        uint32_t u, it;
        float v;
        int64_t t;
        if (k != 4 || jc_parse_u32(f[0], fl[0], &u) || jc_parse_u32(f[1], fl[1], &it) ||
            jc_parse_f32(f[2], fl[2], &v) || jc_parse_i64(f[3], fl[3], &t))
            return jc_err_set(JC_EPARSE, "%s:%zu: expected user, item, value, time", path, line);
        if (u >= n_users || it >= n_items)
            return jc_err_set(JC_ERANGE, "%s:%zu: user %u / item %u out of range", path, line, u,
                              it);
        if (count_only) {
            e->off[u + 1]++;
        } else {
            uint64_t at = fill[u]++;
            e->ev[at] = (struct ev){t, it, v};
            e->label[at] = (uint8_t)label;
        }
    }
    return JC_OK;
}

struct lev {
    struct ev e;
    uint8_t label;
};

static int cmp_lev(const void *a, const void *b)
{
    return cmp_ev(&((const struct lev *)a)->e, &((const struct lev *)b)->e);
}

int jc_split_load(struct jc_split **out, const char *dir)
{
    char path[4096];
    char *man = NULL, *data[3] = {NULL, NULL, NULL};
    size_t man_len, len[3];
    int rc = jc_path_join(path, sizeof path, dir, "manifest.json");
    if (rc == JC_OK)
        rc = jc_file_read_all(path, 1 << 20, &man, &man_len);
    if (rc)
        return rc;
    cJSON *m = cJSON_ParseWithLength(man, man_len);
    jc_free(man);
    if (m == NULL)
        return jc_err_set(JC_ECORRUPT, "%s: not valid JSON", path);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(m, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "version");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(m, "kind");
    const cJSON *nu = cJSON_GetObjectItemCaseSensitive(m, "n_users");
    const cJSON *ni = cJSON_GetObjectItemCaseSensitive(m, "n_items");
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(m, "checksum");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(m, "files");
    struct jc_split_info info;
    memset(&info, 0, sizeof info);
    struct evs e = {0, 0, NULL, NULL, NULL};
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "junco-split") != 0 ||
        !cJSON_IsNumber(ver) || !cJSON_IsString(kind) || !cJSON_IsNumber(nu) ||
        !cJSON_IsNumber(ni) || !cJSON_IsString(ck) || !cJSON_IsObject(files) ||
        nu->valuedouble < 1 || nu->valuedouble > 4e9 || ni->valuedouble < 1 ||
        ni->valuedouble > 4e9) {
        rc = jc_err_set(JC_ECORRUPT, "%s: not a junco split manifest", path);
        goto done;
    }
    if (ver->valueint != 1) {
        rc = jc_err_set(JC_EVERSION, "%s: split format version %d (this junco reads 1)", path,
                        ver->valueint);
        goto done;
    }
    if ((rc = jc_split_kind_parse(kind->valuestring, &info.kind)))
        goto done;
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(m, "seed");
    const cJSON *vf = cJSON_GetObjectItemCaseSensitive(m, "valid_frac");
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(m, "test_frac");
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(m, "min_value");
    info.seed = cJSON_IsNumber(seed) ? (uint64_t)seed->valuedouble : 0;
    info.valid_frac = cJSON_IsNumber(vf) ? vf->valuedouble : 0;
    info.test_frac = cJSON_IsNumber(tf) ? tf->valuedouble : 0;
    info.min_value = cJSON_IsNumber(mv) ? mv->valuedouble : -INFINITY;
    info.n_users = (uint32_t)nu->valuedouble;
    info.n_items = (uint32_t)ni->valuedouble;
    static const char *names[3] = {"train.tsv", "valid.tsv", "test.tsv"};
    for (int p = 0; p < 3 && rc == JC_OK; p++)
        rc = read_verified(dir, names[p], files, &data[p], &len[p]);
    if (rc)
        goto done;
    e.n_users = info.n_users;
    e.n_items = info.n_items;
    e.off = jc_calloc((size_t)e.n_users + 2, sizeof *e.off);
    if (e.off == NULL) {
        rc = JC_ENOMEM;
        goto done;
    }
    for (int p = 0; p < 3 && rc == JC_OK; p++) {
        jc_path_join(path, sizeof path, dir, names[p]);
        rc = parse_part(path, data[p], len[p], e.n_users, e.n_items, p, &e, NULL, 1);
    }
    if (rc)
        goto done;
    for (uint32_t u = 0; u < e.n_users; u++)
        e.off[u + 1] += e.off[u];
    uint64_t total = e.off[e.n_users];
    info.n_input = total;
    e.ev = jc_malloc_array(total ? total : 1, sizeof *e.ev);
    e.label = jc_malloc_array(total ? total : 1, 1);
    uint64_t *fill = jc_malloc_array((size_t)e.n_users + 1, sizeof *fill);
    if (!e.ev || !e.label || !fill) {
        jc_free(fill);
        rc = JC_ENOMEM;
        goto done;
    }
    memcpy(fill, e.off, ((size_t)e.n_users + 1) * sizeof *fill);
    for (int p = 0; p < 3 && rc == JC_OK; p++) {
        jc_path_join(path, sizeof path, dir, names[p]);
        rc = parse_part(path, data[p], len[p], e.n_users, e.n_items, p, &e, fill, 0);
    }
    jc_free(fill);
    if (rc)
        goto done;
    /* Restore each user's time order across the three files. */
    for (uint32_t u = 0; u < e.n_users && rc == JC_OK; u++) {
        uint64_t b = e.off[u], n = e.off[u + 1] - b;
        if (n < 2)
            continue;
        struct lev *tmp = jc_malloc_array(n, sizeof *tmp);
        if (tmp == NULL) {
            rc = JC_ENOMEM;
            break;
        }
        for (uint64_t i = 0; i < n; i++)
            tmp[i] = (struct lev){e.ev[b + i], e.label[b + i]};
        qsort(tmp, n, sizeof *tmp, cmp_lev);
        for (uint64_t i = 0; i < n; i++) {
            e.ev[b + i] = tmp[i].e;
            e.label[b + i] = tmp[i].label;
        }
        jc_free(tmp);
    }
    if (rc)
        goto done;
    struct jc_split *s = jc_calloc(1, sizeof *s);
    if (s == NULL) {
        rc = JC_ENOMEM;
        goto done;
    }
    s->info = info;
    if ((rc = build_parts(s, &e)) != JC_OK) {
        jc_split_destroy(s);
        goto done;
    }
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, s->info.checksum);
    if (strcmp(hex, ck->valuestring) != 0) {
        rc = jc_err_set(JC_ECORRUPT, "%s: split checksum %s differs from the manifest's %s", dir,
                        hex, ck->valuestring);
        jc_split_destroy(s);
        goto done;
    }
    *out = s;
done:
    for (int p = 0; p < 3; p++)
        jc_free(data[p]);
    evs_free(&e);
    cJSON_Delete(m);
    return rc;
}
