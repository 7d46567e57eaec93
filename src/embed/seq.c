/*
 * seq.c - from the catalog to training data: the global temporal split,
 * per-user item sequences (positives in time order, cut into sessions) and
 * the user x item positives matrix (for iALS and BPR).
 *
 * Everything reads the catalog's by-user index, whose interactions are
 * already ordered by numeric time (ties by item), so building sequences is
 * one linear pass. The split point is found with a quickselect over packed
 * (time, user, item) keys: O(n), no full sort.
 */
#include "embed_int.h"

#include "core/alloc.h"
#include "core/fileio.h"
#include <junco/error.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

void jc_seq_opts_default(struct jc_seq_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threshold = 3.5;
    o->session_gap = 0;
    o->min_len = 2;
    o->split = NULL;
}

/* ---- temporal split ------------------------------------------------------- */

typedef unsigned __int128 key128;

static inline key128 event_key(int64_t time, uint32_t user, uint32_t item)
{
    uint64_t t = (uint64_t)time ^ 0x8000000000000000ull; /* order-preserving */
    return ((key128)t << 64) | ((key128)user << 32) | item;
}

/* Hoare-style quickselect: after the call a[kth] is the kth smallest key. */
static void select_kth(key128 *a, uint64_t n, uint64_t kth)
{
    uint64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        /* median of three as pivot (deterministic) */
        uint64_t mid = lo + (hi - lo) / 2;
        key128 x = a[lo], y = a[mid], z = a[hi];
        key128 pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        uint64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                key128 t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (kth <= j)
            hi = j;
        else if (kth >= i)
            lo = i;
        else
            return;
    }
}

int jc_embed_split_temporal(const struct jc_catalog *cat, double test_frac,
                            struct jc_embed_split *out)
{
    if (!(test_frac > 0.0 && test_frac < 1.0))
        return jc_err_set(JC_EINVAL, "temporal split: test fraction %g not in (0, 1)", test_frac);
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    uint64_t n = ix.n;
    uint64_t n_test = (uint64_t)floor((double)n * test_frac);
    if (n_test == 0 || n_test >= n)
        return jc_err_set(JC_EINVAL,
                          "temporal split: %llu interactions are too few for a %.0f%% test set",
                          (unsigned long long)n, test_frac * 100);
    key128 *keys = jc_malloc_array(n, sizeof *keys);
    if (keys == NULL)
        return JC_ENOMEM;
    for (uint64_t i = 0; i < n; i++)
        keys[i] = event_key(ix.time[i], ix.user[i], ix.item[i]);
    uint64_t kth = n - n_test;
    select_kth(keys, n, kth);
    key128 cut = keys[kth];
    jc_free(keys);
    struct jc_embed_split s;
    memset(&s, 0, sizeof s);
    s.active = 1;
    s.time = (int64_t)((uint64_t)(cut >> 64) ^ 0x8000000000000000ull);
    s.user = (uint32_t)(cut >> 32);
    s.item = (uint32_t)cut;
    for (uint64_t i = 0; i < n; i++) {
        if (jc_embed_split_is_test(&s, ix.time[i], ix.user[i], ix.item[i]))
            s.n_test++;
        else
            s.n_train++;
    }
    *out = s;
    return JC_OK;
}

int jc_embed_split_is_test(const struct jc_embed_split *split, int64_t time, uint32_t user,
                           uint32_t item)
{
    if (split == NULL || !split->active)
        return 0;
    return event_key(time, user, item) >= event_key(split->time, split->user, split->item);
}

/* ---- sequences -------------------------------------------------------------- */

static int check_seq_opts(const struct jc_seq_opts *o)
{
    if (!isfinite(o->threshold))
        return jc_err_set(JC_EINVAL, "sequences: threshold must be finite");
    if (o->session_gap < 0)
        return jc_err_set(JC_EINVAL, "sequences: session gap %lld is negative",
                          (long long)o->session_gap);
    return JC_OK;
}

int jc_seqs_build(const struct jc_catalog *cat, const struct jc_seq_opts *o, struct jc_seqs *out)
{
    int rc = check_seq_opts(o);
    if (rc)
        return rc;
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    uint32_t n_users = jc_catalog_n_users(cat);
    uint32_t min_len = o->min_len ? o->min_len : 1;
    /* Pass 1: count tokens and sequences; pass 2: fill. */
    uint64_t n_tok = 0, n_seq = 0, peak = 0;
    uint32_t *items = NULL, *user = NULL;
    uint64_t *off = NULL;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t ts = 0, ss = 0;
        for (uint32_t u = 0; u < n_users; u++) {
            uint64_t b, e;
            jc_catalog_user_range(cat, u, &b, &e);
            uint64_t start = ts; /* tokens of the current sequence begin here */
            uint32_t len = 0;
            int64_t prev = 0;
            for (uint64_t p = b; p <= e; p++) {
                int cut = p == e;
                int pos = 0;
                if (!cut) {
                    pos = ix.value[p] >= o->threshold &&
                          !jc_embed_split_is_test(o->split, ix.time[p], u, ix.item[p]);
                    if (pos && len > 0 && o->session_gap > 0 && ix.time[p] - prev > o->session_gap)
                        cut = 1;
                }
                if (cut) {
                    if (len >= min_len) {
                        if (pass) {
                            off[ss] = start;
                            user[ss] = u;
                        }
                        ss++;
                    } else {
                        ts = start; /* drop the short sequence */
                    }
                    start = ts;
                    len = 0;
                }
                if (pos) {
                    /* a short sequence is written, then dropped: peak >= n_tok */
                    if (pass)
                        items[ts] = ix.item[p];
                    if (++ts > peak)
                        peak = ts;
                    len++;
                    prev = ix.time[p];
                }
            }
        }
        if (pass == 0) {
            n_tok = ts;
            n_seq = ss;
            items = jc_malloc_array(peak ? peak : 1, sizeof *items);
            user = jc_malloc_array(n_seq ? n_seq : 1, sizeof *user);
            off = jc_malloc_array(n_seq + 1, sizeof *off);
            if (!items || !user || !off) {
                jc_free(items);
                jc_free(user);
                jc_free(off);
                return JC_ENOMEM;
            }
        }
    }
    off[n_seq] = n_tok;
    out->n_seqs = n_seq;
    out->off = off;
    out->items = items;
    out->user = user;
    out->n_items = jc_catalog_n_items(cat);
    return JC_OK;
}

void jc_seqs_free(struct jc_seqs *s)
{
    if (s == NULL)
        return;
    jc_free(s->off);
    jc_free(s->items);
    jc_free(s->user);
    memset(s, 0, sizeof *s);
}

int jc_seqs_write_text(const struct jc_seqs *s, const struct jc_catalog *cat, const char *path)
{
    struct jc_wfile w;
    int rc = jc_wfile_open(&w, path);
    if (rc)
        return rc;
    for (uint64_t q = 0; q < s->n_seqs && rc == JC_OK; q++) {
        for (uint64_t p = s->off[q]; p < s->off[q + 1] && rc == JC_OK; p++) {
            const char *id = jc_catalog_item_ext_id(cat, s->items[p]);
            if (p > s->off[q])
                rc = jc_wfile_write(&w, " ", 1);
            if (rc == JC_OK)
                rc = jc_wfile_write(&w, id, strlen(id));
        }
        if (rc == JC_OK)
            rc = jc_wfile_write(&w, "\n", 1);
    }
    if (rc == JC_OK)
        return jc_wfile_commit(&w);
    jc_wfile_abort(&w);
    return rc;
}

/* ---- positives matrix ------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int jc_embed__matrix_build(const struct jc_catalog *cat, const struct jc_seq_opts *o,
                           struct jc_embed__matrix *m)
{
    int rc = check_seq_opts(o);
    if (rc)
        return rc;
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    uint32_t nu = jc_catalog_n_users(cat), ni = jc_catalog_n_items(cat);
    memset(m, 0, sizeof *m);
    m->n_users = nu;
    m->n_items = ni;
    m->u_off = jc_calloc((size_t)nu + 1, sizeof *m->u_off);
    m->i_off = jc_calloc((size_t)ni + 1, sizeof *m->i_off);
    m->u_items = jc_malloc_array(ix.n ? ix.n : 1, sizeof *m->u_items);
    if (!m->u_off || !m->i_off || !m->u_items) {
        jc_embed__matrix_free(m);
        return JC_ENOMEM;
    }
    uint64_t nnz = 0;
    for (uint32_t u = 0; u < nu; u++) {
        uint64_t b, e;
        jc_catalog_user_range(cat, u, &b, &e);
        uint64_t start = nnz;
        for (uint64_t p = b; p < e; p++)
            if (ix.value[p] >= o->threshold &&
                !jc_embed_split_is_test(o->split, ix.time[p], u, ix.item[p]))
                m->u_items[nnz++] = ix.item[p];
        qsort(m->u_items + start, nnz - start, sizeof(uint32_t), cmp_u32);
        /* de-duplicate repeated items of one user */
        uint64_t w = start;
        for (uint64_t p = start; p < nnz; p++)
            if (p == start || m->u_items[p] != m->u_items[w - 1])
                m->u_items[w++] = m->u_items[p];
        nnz = w;
        m->u_off[u + 1] = nnz;
    }
    m->nnz = nnz;
    m->i_users = jc_malloc_array(nnz ? nnz : 1, sizeof *m->i_users);
    if (m->i_users == NULL) {
        jc_embed__matrix_free(m);
        return JC_ENOMEM;
    }
    for (uint64_t p = 0; p < nnz; p++)
        m->i_off[m->u_items[p] + 1]++;
    for (uint32_t i = 0; i < ni; i++)
        m->i_off[i + 1] += m->i_off[i];
    uint64_t *fill = jc_malloc_array((size_t)ni + 1, sizeof *fill);
    if (fill == NULL) {
        jc_embed__matrix_free(m);
        return JC_ENOMEM;
    }
    memcpy(fill, m->i_off, ((size_t)ni + 1) * sizeof *fill);
    for (uint32_t u = 0; u < nu; u++) /* users ascending: columns come out sorted */
        for (uint64_t p = m->u_off[u]; p < m->u_off[u + 1]; p++)
            m->i_users[fill[m->u_items[p]]++] = u;
    jc_free(fill);
    return JC_OK;
}

void jc_embed__matrix_free(struct jc_embed__matrix *m)
{
    if (m == NULL)
        return;
    jc_free(m->u_off);
    jc_free(m->u_items);
    jc_free(m->i_off);
    jc_free(m->i_users);
    memset(m, 0, sizeof *m);
}
