/*
 * junco/synth.h - a seeded generator of realistic MovieLens-format data.
 *
 * The generator draws a latent taste model and then streams interactions
 * user by user, so memory is O(items x factors), independent of the number
 * of interactions (50M interactions generate in a few tens of MB):
 *   - items: latent vector v_i ~ N(0, I/k), Zipf popularity (exponent
 *     `zipf`) over a random rank order, 1-3 genres chosen by affinity of v_i
 *     to per-genre centroids (so genres correlate with the factors), a
 *     release time spread over 30 years before the window plus the window;
 *   - users: latent vector mixed from 1-2 genre centroids plus noise,
 *     log-normal activity scaled to the requested total, an active period
 *     inside the time window, and a slow taste drift;
 *   - each event: 8 candidates drawn by popularity among items already
 *     released at that time, one picked with probability proportional to
 *     exp(beta * u.v) (a softmax over the candidates), no repeats per user;
 *   - ratings: mean + user bias + item bias + alpha * u.v + noise, rounded
 *     to half stars in [0.5, 5] (or 1.0 for implicit data).
 * Output: movies.csv, links.csv, ratings.csv (sorted by user, then time),
 * tags.csv and README.txt in `dir`, each written atomically. Same seed and
 * parameters give byte-identical files.
 */
#ifndef JUNCO_SYNTH_H
#define JUNCO_SYNTH_H

#include <junco/progress_cb.h>

#include <stdint.h>

struct jc_synth_opts {
    uint64_t users, items, interactions;
    uint32_t factors, genres;
    double zipf;
    int ratings; /* 1: star ratings; 0: implicit (value 1) */
    int64_t start_time;
    uint32_t days;
    uint64_t seed;
    struct jc_progress progress;
};

struct jc_synth_result {
    uint64_t users, items, interactions, tags;
    uint64_t bytes;
    double seconds;
};

void jc_synth_opts_default(struct jc_synth_opts *o);
/* Writes the data set into dir (created if needed). JC_EINVAL for
 * impossible parameters (e.g. more interactions than users x items / 2). */
int jc_synth_write(const char *dir, const struct jc_synth_opts *o, struct jc_synth_result *res);

#endif
