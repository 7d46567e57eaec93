/*
 * cmd_synth.c - `junco synth DIR`: write a synthetic MovieLens-format data
 * set (movies.csv, links.csv, ratings.csv, tags.csv) for tests and scale
 * benchmarks. Defaults come from the [synth] section of the configuration.
 */
#include "cli.h"

#include <junco/error.h>
#include <junco/synth.h>

#include <stdio.h>

int jc_cmd_synth(struct jc_cli *cli, int argc, char **argv)
{
    int64_t users = -1, items = -1, inter = -1, factors = -1, genres = -1, seed = -1, days = -1;
    double zipf = -1;
    int implicit = 0;
    const struct jc_opt opts[] = {
        {"users", 'u', JC_OPT_INT, &users, "N", "users (default synth.users)", NULL},
        {"items", 'i', JC_OPT_INT, &items, "N", "items (default synth.items)", NULL},
        {"interactions", 'n', JC_OPT_INT, &inter, "N", "interactions (default synth.interactions)",
         NULL},
        {"factors", 0, JC_OPT_INT, &factors, "K", "latent taste dimensions", NULL},
        {"genres", 0, JC_OPT_INT, &genres, "G", "number of genres (<= 64)", NULL},
        {"zipf", 0, JC_OPT_DBL, &zipf, "S", "Zipf exponent of item popularity", NULL},
        {"days", 0, JC_OPT_INT, &days, "D", "length of the time window in days", NULL},
        {"implicit", 0, JC_OPT_FLAG, &implicit, NULL, "write value 1.0 instead of star ratings",
         NULL},
        {"seed", 0, JC_OPT_INT, &seed, "S", "random seed (default core.seed)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int n_pos = 0;
    int rc = jc_cli_parse(cli, "synth", "[options] DIR",
                          "Generates a seeded synthetic data set in MovieLens-latest format:\n"
                          "Zipf item popularity, latent-factor user tastes, genres correlated\n"
                          "with the factors, timestamps with drift. Memory does not grow with\n"
                          "the number of interactions. Import it with `junco import DIR`.",
                          opts, argc, argv, pos, 1, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos != 1)
        return jc_cli_usage("synth", "expected the output directory");
    struct jc_synth_opts so;
    jc_synth_opts_default(&so);
    const struct jc_config *c = &cli->cfg;
    so.users = (uint64_t)(users >= 0 ? users : c->synth_users);
    so.items = (uint64_t)(items >= 0 ? items : c->synth_items);
    so.interactions = (uint64_t)(inter >= 0 ? inter : c->synth_interactions);
    so.factors = (uint32_t)(factors >= 0 ? factors : c->synth_factors);
    so.genres = (uint32_t)(genres >= 0 ? genres : c->synth_genres);
    so.zipf = zipf >= 0 ? zipf : c->synth_zipf;
    so.days = (uint32_t)(days >= 0 ? days : c->synth_days);
    so.ratings = implicit ? 0 : c->synth_ratings;
    so.start_time = c->synth_start_time;
    so.seed = (uint64_t)(seed >= 0 ? seed : c->core_seed);
    if (users == 0 || items == 0 || inter == 0 || factors == 0 || genres == 0 || days == 0 ||
        factors > 256 || genres > 64 || zipf > 3)
        return jc_cli_usage("synth", "users, items, interactions, factors (<= 256), genres "
                                     "(<= 64) and days must be positive; zipf in [0, 3]");
    so.progress = cli->progress;
    struct jc_synth_result res;
    rc = jc_synth_write(pos[0], &so, &res);
    jc_cli_progress_done(cli);
    if (rc)
        return jc_cli_fail(rc);
    printf("wrote %s: %llu users, %llu items, %llu interactions, %llu tags, %.1f MB in %.2f s\n",
           pos[0], (unsigned long long)res.users, (unsigned long long)res.items,
           (unsigned long long)res.interactions, (unsigned long long)res.tags,
           (double)res.bytes / 1e6, res.seconds);
    return JC_EXIT_OK;
}
