/*
 * synth.c - the synthetic data generator (see junco/synth.h for the model).
 *
 * Randomness: item parameters come from stream 0 of the seed, user
 * parameters and events of user u from stream u + 2, so the output does not
 * depend on evaluation order. Numbers are formatted by hand: printf would
 * dominate the run time at tens of millions of rows.
 */
#include <junco/synth.h>

#include "core/alloc.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "core/timeutil.h"
#include <junco/error.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define N_CAND 8
#define BETA   4.0
#define DAY    86400

static const char *const ml_genres[] = {
    "Action",      "Adventure", "Animation", "Children",  "Comedy", "Crime",
    "Documentary", "Drama",     "Fantasy",   "Film-Noir", "Horror", "Musical",
    "Mystery",     "Romance",   "Sci-Fi",    "Thriller",  "War",    "Western"};

static const char *const adjectives[] = {
    "Silent", "Last",     "Golden",  "Broken",    "Hidden",    "Midnight", "Crimson", "Lost",
    "Wild",   "Electric", "Frozen",  "Burning",   "Secret",    "Distant",  "Little",  "Great",
    "Dark",   "Final",    "Bright",  "Restless",  "Quiet",     "Iron",     "Velvet",  "Hollow",
    "Savage", "Gentle",   "Endless", "Forgotten", "Shattered", "Northern"};

static const char *const nouns[] = {
    "River",  "Kingdom", "Summer",  "Road",    "Garden",   "Empire",  "Harbor",  "Mountain",
    "City",   "Dream",   "Storm",   "Promise", "Frontier", "Shadow",  "Heart",   "Machine",
    "Island", "Winter",  "Journey", "Legacy",  "Station",  "Orchard", "Horizon", "Signal",
    "Circus", "Voyage",  "Mirror",  "Canyon",  "Lantern",  "Symphony"};

static const char *const tag_words[] = {"atmospheric",
                                        "funny",
                                        "twist ending",
                                        "visually appealing",
                                        "thought-provoking",
                                        "dark comedy",
                                        "classic",
                                        "great soundtrack",
                                        "slow",
                                        "quirky",
                                        "violent",
                                        "romantic",
                                        "based on a book",
                                        "cult film",
                                        "surreal",
                                        "inspirational",
                                        "predictable",
                                        "dialogue",
                                        "suspense",
                                        "family",
                                        "psychological",
                                        "space",
                                        "heist",
                                        "historical",
                                        "musical numbers",
                                        "western",
                                        "zombies",
                                        "time travel",
                                        "friendship",
                                        "war"};

#define N_ADJ  (sizeof adjectives / sizeof adjectives[0])
#define N_NOUN (sizeof nouns / sizeof nouns[0])
#define N_TAGW (sizeof tag_words / sizeof tag_words[0])

void jc_synth_opts_default(struct jc_synth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->users = 10000;
    o->items = 5000;
    o->interactions = 1000000;
    o->factors = 16;
    o->genres = 18;
    o->zipf = 1.0;
    o->ratings = 1;
    o->start_time = 1262304000; /* 2010-01-01 */
    o->days = 3650;
    o->seed = 42;
}

/* ---- a small buffered text writer over jc_wfile ----------------------- */

struct tw {
    struct jc_wfile f;
    char buf[1 << 16];
    size_t n;
    uint64_t bytes;
    int rc;
};

static void tw_flush(struct tw *w)
{
    if (w->rc == JC_OK && w->n)
        w->rc = jc_wfile_write(&w->f, w->buf, w->n);
    w->bytes += w->n;
    w->n = 0;
}

static inline void tw_room(struct tw *w, size_t need)
{
    if (w->n + need > sizeof w->buf)
        tw_flush(w);
}

static inline void tw_str(struct tw *w, const char *s, size_t len)
{
    tw_room(w, len);
    if (len > sizeof w->buf)
        return;
    memcpy(w->buf + w->n, s, len);
    w->n += len;
}

static inline void tw_cstr(struct tw *w, const char *s)
{
    tw_str(w, s, strlen(s));
}

static inline void tw_ch(struct tw *w, char c)
{
    tw_room(w, 1);
    w->buf[w->n++] = c;
}

static inline void tw_u64(struct tw *w, uint64_t v)
{
    char tmp[24];
    int i = 24;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tw_str(w, tmp + i, (size_t)(24 - i));
}

static inline void tw_i64(struct tw *w, int64_t v)
{
    if (v < 0) {
        tw_ch(w, '-');
        tw_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        tw_u64(w, (uint64_t)v);
    }
}

/* A CSV field, quoted when it contains a comma, quote or newline. */
static void tw_csv(struct tw *w, const char *s)
{
    if (strpbrk(s, ",\"\n") == NULL) {
        tw_cstr(w, s);
        return;
    }
    tw_ch(w, '"');
    for (; *s; s++) {
        if (*s == '"')
            tw_ch(w, '"');
        tw_ch(w, *s);
    }
    tw_ch(w, '"');
}

static int tw_open(struct tw *w, const char *dir, const char *name)
{
    char path[4096];
    w->n = 0;
    w->bytes = 0;
    w->rc = jc_path_join(path, sizeof path, dir, name);
    if (w->rc == JC_OK)
        w->rc = jc_wfile_open(&w->f, path);
    return w->rc;
}

static int tw_commit(struct tw *w)
{
    tw_flush(w);
    if (w->rc) {
        jc_wfile_abort(&w->f);
        return w->rc;
    }
    return jc_wfile_commit(&w->f);
}

/* ---- alias table (Vose) ------------------------------------------------- */

struct alias {
    float *prob;
    uint32_t *alias;
    uint64_t n;
};

static int alias_build(struct alias *a, const double *w, uint64_t n)
{
    a->n = n;
    a->prob = jc_malloc_array(n, sizeof *a->prob);
    a->alias = jc_malloc_array(n, sizeof *a->alias);
    double *p = jc_malloc_array(n, sizeof *p);
    uint32_t *small = jc_malloc_array(n, sizeof *small);
    uint32_t *large = jc_malloc_array(n, sizeof *large);
    if (!a->prob || !a->alias || !p || !small || !large) {
        jc_free(p);
        jc_free(small);
        jc_free(large);
        return JC_ENOMEM;
    }
    double sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += w[i];
    uint64_t ns = 0, nl = 0;
    for (uint64_t i = 0; i < n; i++) {
        p[i] = w[i] / sum * (double)n;
        if (p[i] < 1.0)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        a->prob[s] = (float)p[s];
        a->alias[s] = l;
        p[l] = p[l] + p[s] - 1.0;
        if (p[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl) {
        uint32_t l = large[--nl];
        a->prob[l] = 1.0f;
        a->alias[l] = l;
    }
    while (ns) {
        uint32_t s = small[--ns];
        a->prob[s] = 1.0f;
        a->alias[s] = s;
    }
    jc_free(p);
    jc_free(small);
    jc_free(large);
    return JC_OK;
}

static inline uint32_t alias_draw(const struct alias *a, struct jc_rng *r)
{
    uint32_t i = (uint32_t)jc_rng_below(r, a->n);
    return jc_rng_float(r) < a->prob[i] ? i : a->alias[i];
}

static void alias_free(struct alias *a)
{
    jc_free(a->prob);
    jc_free(a->alias);
}

/* ---- the model ---------------------------------------------------------- */

struct model {
    uint32_t k, G;
    uint64_t I;
    float *centroid; /* G x k, unit vectors */
    float *item_vec; /* I x k */
    float *item_bias;
    int64_t *release;
    uint8_t (*item_genres)[3];
    uint8_t *item_n_genres;
    struct alias pop;
};

static void random_unit(struct jc_rng *r, float *v, uint32_t k)
{
    double norm = 0;
    for (uint32_t d = 0; d < k; d++) {
        v[d] = (float)jc_rng_normal(r);
        norm += (double)v[d] * v[d];
    }
    norm = sqrt(norm);
    for (uint32_t d = 0; d < k; d++)
        v[d] = (float)(v[d] / norm);
}

static float dot(const float *a, const float *b, uint32_t k)
{
    float s = 0;
    for (uint32_t d = 0; d < k; d++)
        s += a[d] * b[d];
    return s;
}

static int model_build(struct model *m, const struct jc_synth_opts *o)
{
    memset(m, 0, sizeof *m);
    m->k = o->factors;
    m->G = o->genres;
    m->I = o->items;
    uint32_t k = m->k;
    struct jc_rng r;
    jc_rng_stream(&r, o->seed, 0);
    m->centroid = jc_malloc_array((size_t)m->G * k, sizeof(float));
    m->item_vec = jc_malloc_array((size_t)m->I * k, sizeof(float));
    m->item_bias = jc_malloc_array(m->I, sizeof(float));
    m->release = jc_malloc_array(m->I, sizeof(int64_t));
    m->item_genres = jc_malloc_array(m->I, 3);
    m->item_n_genres = jc_malloc_array(m->I, 1);
    double *w = jc_malloc_array(m->I, sizeof(double));
    uint32_t *rank = jc_malloc_array(m->I, sizeof(uint32_t));
    if (!m->centroid || !m->item_vec || !m->item_bias || !m->release || !m->item_genres ||
        !m->item_n_genres || !w || !rank) {
        jc_free(w);
        jc_free(rank);
        return JC_ENOMEM;
    }
    for (uint32_t g = 0; g < m->G; g++)
        random_unit(&r, m->centroid + (size_t)g * k, k);
    for (uint64_t i = 0; i < m->I; i++)
        rank[i] = (uint32_t)i;
    jc_rng_shuffle_u32(&r, rank, m->I);
    int64_t back = (int64_t)30 * 365 * DAY, window = (int64_t)o->days * DAY;
    double noise = 0.6 / sqrt((double)k);
    for (uint64_t i = 0; i < m->I; i++) {
        float *v = m->item_vec + i * k;
        uint32_t g1 = (uint32_t)jc_rng_below(&r, m->G);
        double norm = 0;
        for (uint32_t d = 0; d < k; d++) {
            v[d] = (float)(0.8 * m->centroid[(size_t)g1 * k + d] + noise * jc_rng_normal(&r));
            norm += (double)v[d] * v[d];
        }
        norm = sqrt(norm);
        for (uint32_t d = 0; d < k; d++)
            v[d] = (float)(v[d] / norm);
        /* genres: the m best-matching centroids */
        double u = jc_rng_double(&r);
        int ng = u < 0.45 ? 1 : u < 0.8 ? 2 : 3;
        if ((uint32_t)ng > m->G)
            ng = (int)m->G;
        float best[3] = {-9, -9, -9};
        uint8_t bg[3] = {0, 0, 0};
        for (uint32_t g = 0; g < m->G; g++) {
            float a = dot(v, m->centroid + (size_t)g * k, k);
            for (int s = 0; s < ng; s++) {
                if (a > best[s]) {
                    for (int t = ng - 1; t > s; t--) {
                        best[t] = best[t - 1];
                        bg[t] = bg[t - 1];
                    }
                    best[s] = a;
                    bg[s] = (uint8_t)g;
                    break;
                }
            }
        }
        memcpy(m->item_genres[i], bg, 3);
        m->item_n_genres[i] = (uint8_t)ng;
        w[i] = pow((double)rank[i] + 1.0, -o->zipf);
        m->item_bias[i] = (float)(0.35 * jc_rng_normal(&r) + 0.1 * (rank[i] < m->I / 10));
        if (jc_rng_double(&r) < 0.85)
            m->release[i] = o->start_time - (int64_t)jc_rng_below(&r, (uint64_t)back);
        else
            m->release[i] = o->start_time + (int64_t)jc_rng_below(&r, (uint64_t)window);
    }
    int rc = alias_build(&m->pop, w, m->I);
    jc_free(w);
    jc_free(rank);
    return rc;
}

static void model_free(struct model *m)
{
    jc_free(m->centroid);
    jc_free(m->item_vec);
    jc_free(m->item_bias);
    jc_free(m->release);
    jc_free(m->item_genres);
    jc_free(m->item_n_genres);
    alias_free(&m->pop);
}

static int year_of(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL)
        return 2000;
    return tm.tm_year + 1900;
}

static int write_movies(const char *dir, const struct model *m, const struct jc_synth_opts *o,
                        uint64_t *bytes)
{
    struct tw *w = jc_malloc(sizeof *w);
    if (w == NULL)
        return JC_ENOMEM;
    struct tw *l = jc_malloc(sizeof *l);
    if (l == NULL) {
        jc_free(w);
        return JC_ENOMEM;
    }
    struct jc_rng r;
    jc_rng_stream(&r, o->seed, 1);
    int rc = tw_open(w, dir, "movies.csv");
    if (rc == JC_OK && (rc = tw_open(l, dir, "links.csv")) != JC_OK)
        jc_wfile_abort(&w->f);
    if (rc) {
        jc_free(w);
        jc_free(l);
        return rc;
    }
    tw_cstr(w, "movieId,title,genres\n");
    tw_cstr(l, "movieId,imdbId,tmdbId\n");
    for (uint64_t i = 0; i < m->I; i++) {
        char title[160];
        const char *adj = adjectives[jc_rng_below(&r, N_ADJ)];
        const char *noun = nouns[jc_rng_below(&r, N_NOUN)];
        int year = year_of(m->release[i]);
        double u = jc_rng_double(&r);
        /* MovieLens style: leading articles move to the end after a comma,
         * a few titles carry quotes; both exercise the CSV quoting. */
        if (u < 0.25)
            snprintf(title, sizeof title, "%s %s, The (%d)", adj, noun, year);
        else if (u < 0.26)
            snprintf(title, sizeof title, "\"%s\" %s (%d)", adj, noun, year);
        else if (u < 0.5)
            snprintf(title, sizeof title, "%s %s %llu (%d)", adj, noun,
                     (unsigned long long)(i % 97 + 2), year);
        else
            snprintf(title, sizeof title, "%s %s (%d)", adj, noun, year);
        tw_u64(w, i + 1);
        tw_ch(w, ',');
        tw_csv(w, title);
        tw_ch(w, ',');
        for (int g = 0; g < m->item_n_genres[i]; g++) {
            uint8_t gi = m->item_genres[i][g];
            if (g)
                tw_ch(w, '|');
            if (gi < 18) {
                tw_cstr(w, ml_genres[gi]);
            } else {
                char name[16];
                snprintf(name, sizeof name, "Genre%u", gi + 1u);
                tw_cstr(w, name);
            }
        }
        tw_ch(w, '\n');
        char imdb[16];
        snprintf(imdb, sizeof imdb, "%07llu", (unsigned long long)(100000 + i * 37 % 9000000));
        tw_u64(l, i + 1);
        tw_ch(l, ',');
        tw_cstr(l, imdb);
        tw_ch(l, ',');
        tw_u64(l, 1000 + i * 13);
        tw_ch(l, '\n');
    }
    rc = tw_commit(w);
    int rc2 = tw_commit(l);
    *bytes += w->bytes + l->bytes;
    jc_free(w);
    jc_free(l);
    return rc ? rc : rc2;
}

/* Number of interactions per user: log-normal weights scaled to sum exactly
 * to the requested total, each in [1, cap]. */
static int plan_activity(const struct jc_synth_opts *o, uint32_t **out)
{
    uint64_t U = o->users, N = o->interactions;
    uint64_t cap = o->items / 2 ? o->items / 2 : 1;
    uint32_t *n = jc_malloc_array(U, sizeof *n);
    double *w = jc_malloc_array(U, sizeof *w);
    if (n == NULL || w == NULL) {
        jc_free(n);
        jc_free(w);
        return JC_ENOMEM;
    }
    double sum = 0;
    for (uint64_t u = 0; u < U; u++) {
        struct jc_rng r;
        jc_rng_stream(&r, o->seed, u + 2);
        w[u] = exp(1.0 * jc_rng_normal(&r));
        sum += w[u];
    }
    uint64_t total = 0;
    for (uint64_t u = 0; u < U; u++) {
        double t = (double)N * w[u] / sum;
        uint64_t v = (uint64_t)t;
        if (v < 1)
            v = 1;
        if (v > cap)
            v = cap;
        n[u] = (uint32_t)v;
        total += v;
    }
    jc_free(w);
    /* settle the rounding difference one step at a time, cyclically */
    for (uint64_t u = 0; total != N; u = (u + 1) % U) {
        if (total < N && n[u] < cap) {
            n[u]++;
            total++;
        } else if (total > N && n[u] > 1) {
            n[u]--;
            total--;
        }
    }
    *out = n;
    return JC_OK;
}

struct user_scratch {
    float *vec, *drift, *cur;
    uint32_t *seen; /* open addressing set of item+1 */
    uint64_t seen_cap;
};

static int write_ratings(const char *dir, const struct model *m, const struct jc_synth_opts *o,
                         const uint32_t *activity, struct jc_synth_result *res)
{
    struct tw *w = jc_malloc(sizeof *w), *t = jc_malloc(sizeof *t);
    struct user_scratch s;
    uint32_t k = m->k;
    memset(&s, 0, sizeof s);
    uint32_t max_n = 0;
    for (uint64_t u = 0; u < o->users; u++)
        if (activity[u] > max_n)
            max_n = activity[u];
    s.seen_cap = 16;
    while (s.seen_cap < 2ull * max_n + 2)
        s.seen_cap <<= 1;
    s.vec = jc_malloc_array(k, sizeof(float));
    s.drift = jc_malloc_array(k, sizeof(float));
    s.cur = jc_malloc_array(k, sizeof(float));
    s.seen = jc_malloc_array(s.seen_cap, sizeof(uint32_t));
    double *times = jc_malloc_array((size_t)max_n + 1, sizeof(double));
    int rc = JC_OK;
    if (!w || !t || !s.vec || !s.drift || !s.cur || !s.seen || !times) {
        rc = JC_ENOMEM;
        goto out_free;
    }
    if ((rc = tw_open(w, dir, "ratings.csv")))
        goto out_free;
    if ((rc = tw_open(t, dir, "tags.csv"))) {
        jc_wfile_abort(&w->f);
        goto out_free;
    }
    tw_cstr(w, "userId,movieId,rating,timestamp\n");
    tw_cstr(t, "userId,movieId,tag,timestamp\n");
    int64_t window = (int64_t)o->days * DAY;
    double noise = 0.5 / sqrt((double)k);
    uint64_t done = 0;
    for (uint64_t u = 0; u < o->users && w->rc == JC_OK && t->rc == JC_OK; u++) {
        struct jc_rng r;
        jc_rng_stream(&r, o->seed, u + 2);
        (void)jc_rng_normal(&r); /* the activity draw of plan_activity */
        uint32_t g1 = (uint32_t)jc_rng_below(&r, m->G);
        uint32_t g2 = (uint32_t)jc_rng_below(&r, m->G);
        double mix = jc_rng_double(&r) < 0.5 ? 1.0 : 0.6;
        for (uint32_t d = 0; d < k; d++) {
            s.vec[d] =
                (float)(mix * m->centroid[(size_t)g1 * k + d] +
                        (1 - mix) * m->centroid[(size_t)g2 * k + d] + noise * jc_rng_normal(&r));
            s.drift[d] = (float)(0.3 / sqrt((double)k) * jc_rng_normal(&r));
        }
        double ubias = 0.35 * jc_rng_normal(&r);
        int64_t start = o->start_time + (int64_t)(jc_rng_double(&r) * 0.85 * (double)window);
        double mean_len = 0.15 * (double)window;
        int64_t len = (int64_t)(-log(1.0 - jc_rng_double(&r)) * mean_len) + DAY;
        int64_t end = start + len;
        if (end > o->start_time + window)
            end = o->start_time + window;
        uint32_t n = activity[u];
        /* sorted event times from exponential spacings */
        double acc = 0;
        for (uint32_t e = 0; e <= n; e++) {
            acc += -log(1.0 - jc_rng_double(&r));
            times[e] = acc;
        }
        double scale = (double)(end - start) / (acc > 0 ? acc : 1.0);
        memset(s.seen, 0, s.seen_cap * sizeof(uint32_t));
        for (uint32_t e = 0; e < n; e++) {
            int64_t ts = start + (int64_t)(times[e] * scale);
            double frac = n > 1 ? (double)e / (double)(n - 1) : 0.0;
            for (uint32_t d = 0; d < k; d++)
                s.cur[d] = s.vec[d] + (float)frac * s.drift[d];
            uint32_t cand[N_CAND];
            double score[N_CAND], best = -1e30;
            int nc = 0;
            for (int tries = 0; nc < N_CAND && tries < 64 * N_CAND; tries++) {
                uint32_t it = alias_draw(&m->pop, &r);
                if (m->release[it] > ts && tries < 32 * N_CAND)
                    continue;
                uint64_t h = ((uint64_t)it * 0x9e3779b97f4a7c15ull) & (s.seen_cap - 1);
                int dup = 0;
                while (s.seen[h]) {
                    if (s.seen[h] == it + 1) {
                        dup = 1;
                        break;
                    }
                    h = (h + 1) & (s.seen_cap - 1);
                }
                if (dup)
                    continue;
                for (int c = 0; c < nc; c++)
                    dup |= cand[c] == it;
                if (dup)
                    continue;
                cand[nc] = it;
                score[nc] = BETA * dot(s.cur, m->item_vec + (size_t)it * k, k);
                if (score[nc] > best)
                    best = score[nc];
                nc++;
            }
            if (nc == 0) {
                /* popularity is exhausted for this user: scan for any unseen item */
                uint32_t it = (uint32_t)jc_rng_below(&r, m->I);
                for (;;) {
                    uint64_t h = ((uint64_t)it * 0x9e3779b97f4a7c15ull) & (s.seen_cap - 1);
                    int dup = 0;
                    while (s.seen[h]) {
                        if (s.seen[h] == it + 1) {
                            dup = 1;
                            break;
                        }
                        h = (h + 1) & (s.seen_cap - 1);
                    }
                    if (!dup)
                        break;
                    it = (uint32_t)((it + 1) % m->I);
                }
                cand[0] = it;
                score[0] = best = 0;
                nc = 1;
            }
            double z = 0, cum[N_CAND];
            for (int c = 0; c < nc; c++) {
                z += exp(score[c] - best);
                cum[c] = z;
            }
            double pick = jc_rng_double(&r) * z;
            int c = 0;
            while (c < nc - 1 && cum[c] < pick)
                c++;
            uint32_t it = cand[c];
            uint64_t h = ((uint64_t)it * 0x9e3779b97f4a7c15ull) & (s.seen_cap - 1);
            while (s.seen[h])
                h = (h + 1) & (s.seen_cap - 1);
            s.seen[h] = it + 1;
            int half_stars = 2;
            if (o->ratings) {
                double affinity = dot(s.cur, m->item_vec + (size_t)it * k, k);
                double rv =
                    3.1 + ubias + m->item_bias[it] + 1.0 * affinity + 0.8 * jc_rng_normal(&r);
                half_stars = (int)lround(rv * 2.0);
                if (half_stars < 1)
                    half_stars = 1;
                if (half_stars > 10)
                    half_stars = 10;
            }
            tw_u64(w, u + 1);
            tw_ch(w, ',');
            tw_u64(w, (uint64_t)it + 1);
            tw_ch(w, ',');
            tw_u64(w, (uint64_t)(half_stars / 2));
            tw_ch(w, '.');
            tw_ch(w, half_stars % 2 ? '5' : '0');
            tw_ch(w, ',');
            tw_i64(w, ts);
            tw_ch(w, '\n');
            if (half_stars >= 8 && jc_rng_double(&r) < 0.02) {
                uint32_t g = m->item_genres[it][0];
                const char *tag = tag_words[(g * 3 + jc_rng_below(&r, 3)) % N_TAGW];
                tw_u64(t, u + 1);
                tw_ch(t, ',');
                tw_u64(t, (uint64_t)it + 1);
                tw_ch(t, ',');
                tw_csv(t, tag);
                tw_ch(t, ',');
                tw_i64(t, ts + (int64_t)jc_rng_below(&r, 3600));
                tw_ch(t, '\n');
                res->tags++;
            }
        }
        done += n;
        if ((u & 1023) == 0 &&
            jc_progress_report(&o->progress, "synth", done, o->interactions, "events", NULL)) {
            rc = jc_err_set(JC_ECANCELED, "synth canceled");
            break;
        }
    }
    res->interactions = done;
    if (rc == JC_OK) {
        rc = tw_commit(w);
        int rc2 = tw_commit(t);
        if (rc == JC_OK)
            rc = rc2;
    } else {
        jc_wfile_abort(&w->f);
        jc_wfile_abort(&t->f);
    }
    res->bytes += w->bytes + t->bytes;
    jc_progress_report(&o->progress, "synth", done, o->interactions, "events", NULL);
out_free:
    jc_free(w);
    jc_free(t);
    jc_free(s.vec);
    jc_free(s.drift);
    jc_free(s.cur);
    jc_free(s.seen);
    jc_free(times);
    return rc;
}

static int write_readme(const char *dir, const struct jc_synth_opts *o,
                        const struct jc_synth_result *res)
{
    char text[2048], path[4096];
    int n = snprintf(
        text, sizeof text,
        "Synthetic MovieLens-format data generated by `junco synth`.\n\n"
        "Parameters: users=%llu items=%llu interactions=%llu factors=%u genres=%u zipf=%g\n"
        "ratings=%s start_time=%lld days=%u seed=%llu\n\n"
        "Files follow the MovieLens latest format (movies.csv, links.csv, ratings.csv,\n"
        "tags.csv). Titles, ids and links are invented. The same parameters and seed\n"
        "always produce byte-identical files. Tag events: %llu.\n",
        (unsigned long long)o->users, (unsigned long long)o->items,
        (unsigned long long)o->interactions, o->factors, o->genres, o->zipf,
        o->ratings ? "stars" : "implicit", (long long)o->start_time, o->days,
        (unsigned long long)o->seed, (unsigned long long)res->tags);
    int rc = jc_path_join(path, sizeof path, dir, "README.txt");
    if (rc == JC_OK)
        rc = jc_file_write_atomic(path, text, (size_t)n);
    return rc;
}

int jc_synth_write(const char *dir, const struct jc_synth_opts *o, struct jc_synth_result *res)
{
    memset(res, 0, sizeof *res);
    if (o->users == 0 || o->items == 0 || o->interactions == 0 || o->factors == 0 ||
        o->genres == 0 || o->genres > 64 || o->factors > 256)
        return jc_err_set(JC_EINVAL, "synth: users, items, interactions, factors and genres "
                                     "must be positive (genres <= 64, factors <= 256)");
    if (o->items > UINT32_MAX - 1 || o->users > UINT32_MAX - 1)
        return jc_err_set(JC_EINVAL, "synth: at most %u users and items", UINT32_MAX - 1);
    uint64_t cap = o->items / 2 ? o->items / 2 : 1;
    if (o->interactions < o->users || (double)o->interactions > (double)o->users * (double)cap)
        return jc_err_set(JC_EINVAL,
                          "synth: %llu interactions cannot be spread over %llu users with at "
                          "least 1 and at most items/2 = %llu each",
                          (unsigned long long)o->interactions, (unsigned long long)o->users,
                          (unsigned long long)cap);
    if (o->days == 0)
        return jc_err_set(JC_EINVAL, "synth: days must be positive");
    uint64_t t0 = jc_now_ns();
    int rc = jc_mkdir_p(dir);
    if (rc)
        return rc;
    struct model m;
    uint32_t *activity = NULL;
    rc = model_build(&m, o);
    if (rc == JC_OK)
        rc = write_movies(dir, &m, o, &res->bytes);
    if (rc == JC_OK)
        rc = plan_activity(o, &activity);
    if (rc == JC_OK)
        rc = write_ratings(dir, &m, o, activity, res);
    if (rc == JC_OK)
        rc = write_readme(dir, o, res);
    jc_free(activity);
    model_free(&m);
    res->users = o->users;
    res->items = o->items;
    res->seconds = (double)(jc_now_ns() - t0) * 1e-9;
    return rc;
}
