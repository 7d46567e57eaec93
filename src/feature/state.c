/*
 * state.c - point-in-time user and item state: the only code that updates
 * them (add) and the only code that reads features from them (features),
 * shared by the offline sample job, the feature-store publisher, nearline
 * updates and online serving. Plus their compact encodings.
 *
 * User state: a ring of the last `window` events (item, value, release year,
 * positive flag, genre mask), genre counts among the window's positives kept
 * incrementally, and a ring of the last `history` positives of any age.
 * Window averages and standard deviations come from integer sums kept on
 * add/evict: values in units of 1/JC_VALUE_SCALE (exact for ratings in half
 * or quarter stars), years as integers, squares in 128 bits. Integer sums
 * make add/evict exact, so the aggregates are a pure function of the window
 * contents, O(1) to read, and identical after an encode/decode round trip.
 * Item state: count, sum and sum of squares of values.
 */
#include "feature/feat_int.h"

#include <junco/error.h>

#include <math.h>
#include <string.h>

int32_t jc_featspec__item_year(const struct jc_featspec *s, uint32_t item)
{
    if (s->cat == NULL || item >= jc_catalog_n_items(s->cat))
        return s->opts.missing_year;
    int32_t y = jc_catalog_item_year(s->cat, item);
    return y == JC_NO_YEAR ? s->opts.missing_year : y;
}

uint64_t jc_featspec__item_genre_mask(const struct jc_featspec *s, uint32_t item)
{
    if (s->cat == NULL || item >= jc_catalog_n_items(s->cat))
        return 0;
    const uint16_t *g;
    uint32_t n = jc_catalog_item_genres(s->cat, item, &g);
    uint64_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (g[i] < JC_USTATE_GENRES)
            m |= (uint64_t)1 << g[i];
    return m;
}

void jc_user_state_init(struct jc_user_state *u, const struct jc_featspec *s)
{
    memset(u, 0, offsetof(struct jc_user_state, win));
    u->window = s->opts.window;
    u->history = s->opts.history;
}

/* a ranks before b: higher count, then earlier genre name */
static inline int genre_before(const struct jc_user_state *u, const uint16_t *rank, uint32_t n_rank,
                               uint32_t a, uint32_t b)
{
    uint32_t ca = u->genre_count[a], cb = u->genre_count[b];
    if (ca != cb)
        return ca > cb;
    uint32_t ra = a < n_rank ? rank[a] : 0xFFFFu + a, rb = b < n_rank ? rank[b] : 0xFFFFu + b;
    return ra < rb;
}

static inline void genre_swap(struct jc_user_state *u, uint32_t i, uint32_t j)
{
    uint8_t a = u->genre_order[i], b = u->genre_order[j];
    u->genre_order[i] = b;
    u->genre_order[j] = a;
    u->genre_pos[b] = (uint8_t)i;
    u->genre_pos[a] = (uint8_t)j;
}

/* Adjusts the counts of the genres in mask by delta (+1 / -1) and restores
 * the order of genre_order by moving each changed genre up or down. */
static void genre_counts(struct jc_user_state *u, const struct jc_featspec *s, uint64_t mask,
                         int delta)
{
    const uint16_t *rank = s->genre_rank;
    uint32_t n_rank = s->n_genres;
    while (mask) {
        uint32_t g = (uint32_t)__builtin_ctzll(mask);
        mask &= mask - 1;
        if (delta > 0) {
            uint32_t i;
            if (u->genre_count[g]++ == 0) {
                i = u->n_genre_order++;
                u->genre_order[i] = (uint8_t)g;
                u->genre_pos[g] = (uint8_t)i;
            } else {
                i = u->genre_pos[g];
            }
            while (i > 0 && genre_before(u, rank, n_rank, g, u->genre_order[i - 1])) {
                genre_swap(u, i - 1, i);
                i--;
            }
        } else {
            u->genre_count[g]--;
            uint32_t i = u->genre_pos[g];
            while (i + 1 < u->n_genre_order &&
                   genre_before(u, rank, n_rank, u->genre_order[i + 1], g)) {
                genre_swap(u, i, i + 1);
                i++;
            }
            if (u->genre_count[g] == 0)
                u->n_genre_order--; /* a zero count sorts last */
        }
    }
}

/* A value in units of 1/JC_VALUE_SCALE (clamped far beyond any rating). */
static inline int64_t quantise(float v)
{
    double x = (double)v * JC_VALUE_SCALE;
    if (!(x == x))
        return 0;
    if (x > 1e15)
        x = 1e15;
    if (x < -1e15)
        x = -1e15;
    return llrint(x);
}

static void window_sums(struct jc_user_state *u, const struct jc_ustate_event *e, int sign)
{
    int64_t q = quantise(e->value);
    u->sum_value_q += sign * q;
    u->sumsq_value_q += sign * ((__int128)q * q);
    u->sum_year += sign * (int64_t)e->year;
    u->sumsq_year += sign * ((int64_t)e->year * e->year);
}

/* Appends one event with its derived values (shared by add and decode). */
static void push_event(struct jc_user_state *u, const struct jc_featspec *s, uint32_t item,
                       float value, int32_t year, int positive, uint64_t mask)
{
    uint32_t W = u->window;
    if (u->win_n == W) {
        struct jc_ustate_event *old = &u->win[u->win_next];
        if (old->pos)
            genre_counts(u, s, old->genres, -1);
        window_sums(u, old, -1);
        u->win_n--;
    }
    struct jc_ustate_event *e = &u->win[u->win_next];
    e->item = item;
    e->value = value;
    e->year = year;
    e->pos = positive ? 1u : 0u;
    e->genres = positive ? mask : 0;
    if (positive)
        genre_counts(u, s, e->genres, +1);
    window_sums(u, e, +1);
    u->win_next = u->win_next + 1 == W ? 0 : u->win_next + 1;
    u->win_n++;
}

static void push_hist(struct jc_user_state *u, uint32_t item)
{
    u->hist[u->hist_next] = item;
    u->hist_next = u->hist_next + 1 == u->history ? 0 : u->hist_next + 1;
    if (u->hist_n < u->history)
        u->hist_n++;
}

void jc_user_state_add_labeled(struct jc_user_state *u, const struct jc_featspec *s, uint32_t item,
                               float value, int64_t time, int positive)
{
    push_event(u, s, item, value, jc_featspec__item_year(s, item), positive,
               positive ? jc_featspec__item_genre_mask(s, item) : 0);
    if (positive) {
        push_hist(u, item);
        u->n_pos++;
    }
    if (u->n_events == 0)
        u->first_time = time;
    u->n_events++;
    u->last_time = time;
}

void jc_user_state_add(struct jc_user_state *u, const struct jc_featspec *s, uint32_t item,
                       float value, int64_t time)
{
    int positive = s->opts.implicit || value >= s->opts.label_threshold;
    jc_user_state_add_labeled(u, s, item, value, time, positive);
}

void jc_user_state_features(const struct jc_user_state *u, const struct jc_featspec *s,
                            struct jc_user_feats *out)
{
    uint32_t W = u->window, n = u->win_n;
    out->n_events = u->n_events;
    out->rating_count = n;
    if (n == 0) {
        out->avg_rating = out->avg_year = out->std_rating = out->std_year = 0.0f;
    } else {
        /* exact integer moments: var = (n*sum(x^2) - sum(x)^2) / (n*(n-1)) */
        double scale = JC_VALUE_SCALE;
        out->avg_rating = (float)((double)u->sum_value_q / scale / n);
        out->avg_year = (float)((double)u->sum_year / n);
        if (n > 1) {
            __int128 nv =
                (__int128)n * u->sumsq_value_q - (__int128)u->sum_value_q * u->sum_value_q;
            __int128 ny = (__int128)n * u->sumsq_year - (__int128)u->sum_year * u->sum_year;
            double d = (double)n * (double)(n - 1);
            out->std_rating = (float)(sqrt((double)nv / d) / scale);
            out->std_year = (float)sqrt((double)ny / d);
        } else {
            out->std_rating = out->std_year = 0.0f;
        }
    }
    /* most recent positives of the window, newest first: as many as the
     * spec reads, at least 5 (what `junco store get` shows) */
    uint32_t want = s->need_rated > 5 ? s->need_rated : 5;
    if (want > JC_FEAT_TOP_MAX)
        want = JC_FEAT_TOP_MAX;
    uint32_t r = 0;
    for (uint32_t k = 0, i = (u->win_next + W - 1) % (W ? W : 1); k < n && r < want;
         k++, i = i == 0 ? W - 1 : i - 1)
        if (u->win[i].pos)
            out->rated[r++] = u->win[i].item;
    out->n_rated = r;
    /* top genres among the window's positives (kept in order by add) */
    uint32_t k_top = s->need_top > 5 ? s->need_top : 5;
    if (k_top > JC_FEAT_TOP_MAX)
        k_top = JC_FEAT_TOP_MAX;
    uint32_t ng = u->n_genre_order < k_top ? u->n_genre_order : k_top;
    out->n_top_genres = ng;
    for (uint32_t i = 0; i < ng; i++)
        out->top_genres[i] = u->genre_order[i];
    /* recent positives of any age, newest first */
    uint32_t H = u->history;
    out->n_hist = u->hist_n;
    for (uint32_t k = 0, i = (u->hist_next + H - 1) % (H ? H : 1); k < u->hist_n;
         k++, i = i == 0 ? H - 1 : i - 1)
        out->hist[k] = u->hist[i];
}

void jc_item_state_init(struct jc_item_state *it)
{
    memset(it, 0, sizeof *it);
}

void jc_item_state_add(struct jc_item_state *it, float value, int64_t time)
{
    it->count++;
    it->sum += value;
    it->sumsq += (double)value * value;
    it->last_time = time;
}

void jc_item_state_features(const struct jc_item_state *it, struct jc_item_feats *out)
{
    uint64_t n = it->count;
    out->rating_count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    out->avg_rating = n ? (float)(it->sum / (double)n) : 0.0f;
    if (n > 1) {
        double var = (it->sumsq - it->sum * it->sum / (double)n) / (double)(n - 1);
        out->std_rating = var > 0 ? (float)sqrt(var) : 0.0f;
    } else {
        out->std_rating = 0.0f;
    }
}

/* ---- encodings ------------------------------------------------------------- */

#define USTATE_VERSION 1
#define ISTATE_VERSION 1
#define USTATE_HDR     42

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int jc_user_state_encode(const struct jc_user_state *u, void *buf, size_t cap, size_t *len)
{
    size_t need = USTATE_HDR + (size_t)u->win_n * 9 + (size_t)u->hist_n * 4;
    if (need > cap)
        return jc_err_set(JC_ELIMIT, "user state needs %zu bytes, buffer has %zu", need, cap);
    uint8_t *p = buf;
    p[0] = USTATE_VERSION;
    p[1] = 0;
    put16(p + 2, (uint16_t)u->window);
    put16(p + 4, (uint16_t)u->history);
    put16(p + 6, (uint16_t)u->win_n);
    put16(p + 8, (uint16_t)u->hist_n);
    put64(p + 10, u->n_events);
    put64(p + 18, u->n_pos);
    put64(p + 26, (uint64_t)u->first_time);
    put64(p + 34, (uint64_t)u->last_time);
    uint8_t *q = p + USTATE_HDR;
    uint32_t W = u->window, H = u->history;
    for (uint32_t k = 0, i = (u->win_next + W - u->win_n) % W; k < u->win_n;
         k++, i = i + 1 == W ? 0 : i + 1) {
        put32(q, u->win[i].item);
        memcpy(q + 4, &u->win[i].value, 4);
        q[8] = (uint8_t)u->win[i].pos;
        q += 9;
    }
    for (uint32_t k = 0, i = (u->hist_next + H - u->hist_n) % H; k < u->hist_n;
         k++, i = i + 1 == H ? 0 : i + 1) {
        put32(q, u->hist[i]);
        q += 4;
    }
    *len = need;
    return JC_OK;
}

int jc_user_state_decode(struct jc_user_state *u, const struct jc_featspec *s, const void *buf,
                         size_t n)
{
    const uint8_t *p = buf;
    if (n < USTATE_HDR)
        return jc_err_set(JC_ECORRUPT, "user state: %zu bytes, too short", n);
    if (p[0] != USTATE_VERSION)
        return jc_err_set(JC_EVERSION, "user state: encoding version %u (expected %d)", p[0],
                          USTATE_VERSION);
    uint32_t W = get16(p + 2), H = get16(p + 4), wn = get16(p + 6), hn = get16(p + 8);
    if (W == 0 || W > JC_USTATE_WINDOW_MAX || H == 0 || H > JC_USTATE_HISTORY_MAX || wn > W ||
        hn > H || n != USTATE_HDR + (size_t)wn * 9 + (size_t)hn * 4)
        return jc_err_set(JC_ECORRUPT,
                          "user state: inconsistent sizes (window %u/%u, history %u/%u, %zu "
                          "bytes)",
                          wn, W, hn, H, n);
    const uint8_t *q = p + USTATE_HDR;
    for (uint32_t k = 0; k < wn; k++)
        if (q[k * 9 + 8] > 1)
            return jc_err_set(JC_ECORRUPT, "user state: bad positive flag");
    struct jc_user_state *t = u;
    jc_user_state_init(t, s);
    /* replay the newest events that fit the spec's window */
    uint32_t skip = wn > t->window ? wn - t->window : 0;
    for (uint32_t k = skip; k < wn; k++) {
        const uint8_t *e = q + (size_t)k * 9;
        uint32_t item = get32(e);
        float value;
        memcpy(&value, e + 4, 4);
        int pos = e[8];
        push_event(t, s, item, value, jc_featspec__item_year(s, item), pos,
                   pos ? jc_featspec__item_genre_mask(s, item) : 0);
    }
    q += (size_t)wn * 9;
    uint32_t hskip = hn > t->history ? hn - t->history : 0;
    for (uint32_t k = hskip; k < hn; k++)
        push_hist(t, get32(q + (size_t)k * 4));
    t->n_events = get64(p + 10);
    t->n_pos = get64(p + 18);
    t->first_time = (int64_t)get64(p + 26);
    t->last_time = (int64_t)get64(p + 34);
    return JC_OK;
}

int jc_item_state_encode(const struct jc_item_state *it, void *buf, size_t cap, size_t *len)
{
    if (cap < JC_ISTATE_ENC_SIZE)
        return jc_err_set(JC_ELIMIT, "item state needs %d bytes", JC_ISTATE_ENC_SIZE);
    uint8_t *p = buf;
    p[0] = ISTATE_VERSION;
    p[1] = 0;
    put64(p + 2, it->count);
    memcpy(p + 10, &it->sum, 8);
    memcpy(p + 18, &it->sumsq, 8);
    put64(p + 26, (uint64_t)it->last_time);
    *len = JC_ISTATE_ENC_SIZE;
    return JC_OK;
}

int jc_item_state_decode(struct jc_item_state *it, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    if (n != JC_ISTATE_ENC_SIZE)
        return jc_err_set(JC_ECORRUPT, "item state: %zu bytes (expected %d)", n,
                          JC_ISTATE_ENC_SIZE);
    if (p[0] != ISTATE_VERSION)
        return jc_err_set(JC_EVERSION, "item state: encoding version %u (expected %d)", p[0],
                          ISTATE_VERSION);
    struct jc_item_state t;
    t.count = get64(p + 2);
    memcpy(&t.sum, p + 10, 8);
    memcpy(&t.sumsq, p + 18, 8);
    t.last_time = (int64_t)get64(p + 26);
    if (!isfinite(t.sum) || !isfinite(t.sumsq) || t.sumsq < 0)
        return jc_err_set(JC_ECORRUPT, "item state: sums are not finite");
    *it = t;
    return JC_OK;
}

void jc_feat_context_from_time(struct jc_feat_context *c, int64_t t)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sec = t - days * 86400;
    c->time = t;
    c->hour = (int)(sec / 3600);
    int64_t wd = (days + 3) % 7; /* 1970-01-01 was a Thursday; Monday = 0 */
    c->weekday = (int)(wd < 0 ? wd + 7 : wd);
}
