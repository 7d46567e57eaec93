/*
 * main.c - the junco program: global options, configuration, and the
 * command table.
 *
 * Usage: junco [global options] <command> [options] [arguments]
 * Global options may also follow the command name. Every command is a thin
 * layer over library calls; see the cmd_<name>.c files.
 */
#include "cli.h"

#include "core/fileio.h"
#include "core/log.h"
#include <junco/error.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef JUNCO_VERSION_STRING
#define JUNCO_VERSION_STRING "0.0.0"
#endif

static const char *g_home;
static struct jc_opt_list g_sets;
static int g_verbose, g_quiet;

const struct jc_opt jc_cli_global_opts[] = {
    {"home", 0, JC_OPT_STR, &g_home, "DIR", "data home (default ./junco-data, or $JUNCO_HOME)",
     NULL},
    {"set", 0, JC_OPT_LIST, &g_sets, "SEC.KEY=VAL", "override a setting of junco.ini (repeatable)",
     NULL},
    {"verbose", 'v', JC_OPT_FLAG, &g_verbose, NULL, "more diagnostics on stderr", NULL},
    {"quiet", 'q', JC_OPT_FLAG, &g_quiet, NULL, "no progress bars or notes on stderr", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static int cmd_version(struct jc_cli *cli, int argc, char **argv);
static int cmd_help(struct jc_cli *cli, int argc, char **argv);

static const struct jc_cli_command commands[] = {
    {"import", jc_cmd_import, "load MovieLens or CSV/JSONL data into the catalog"},
    {"stats", jc_cmd_stats, "describe the catalog (counts, values, time, genres, top items)"},
    {"items", jc_cmd_items, "look up items by id or title"},
    {"synth", jc_cmd_synth, "generate a synthetic MovieLens-format data set"},
    {"config", jc_cmd_config, "show or initialise the configuration (dump, get, init, docs)"},
    {"features", jc_cmd_features, "point-in-time features and train/valid/test sample files"},
    {"publish", jc_cmd_publish,
     "publish the latest features to the feature store (publish features)"},
    {"store", jc_cmd_store, "inspect the feature store (store get KIND ID, store dump)"},
    {"events", jc_cmd_events, "the event log: append, tail, stats, replay-catalog"},
    {"nearline", jc_cmd_nearline,
     "consume the event log into realtime features (and online model updates)"},
    {"embed", jc_cmd_embed, "train item/user vectors: item2vec, deepwalk, node2vec, ials, bpr"},
    {"index", jc_cmd_index, "build nearest-neighbour indexes over embeddings (hnsw, lsh, flat)"},
    {"similar", jc_cmd_similar, "items most similar to an item in an embedding"},
    {"recommend-emb", jc_cmd_recommend_emb, "items nearest to a user's embedding vector"},
    {"serve", jc_cmd_serve, "run the HTTP server: API, compatible endpoints, web UI"},
    {"recommend", jc_cmd_recommend, "the serving pipeline for one user, in-process (no server)"},
    {"eval", jc_cmd_eval, "evaluate recommenders: protocols, baselines, leaderboard, report"},
    {"train", jc_cmd_train,
     "train a ranking model (lr, fm, mlp, widedeep, neumf, twotower, deepfm, din, dcn)"},
    {"predict", jc_cmd_predict, "score sample files with a trained model and report CTR metrics"},
    {"ab", jc_cmd_ab, "A/B test analysis of logged exposures and clicks (ab report)"},
    {"demo", jc_cmd_demo, "run the pipeline on the bundled MovieLens data"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show help for a command"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
    fprintf(f, "usage: junco [--home DIR] [--set SEC.KEY=VAL] <command> [options]\n\n"
               "junco is a deep-learning recommender system.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nglobal options:\n");
    jc_opt_print_help(f, jc_cli_global_opts);
    fprintf(f, "      --version                print the version\n"
               "  -h, --help                   show this help\n\n"
               "Run `junco <command> --help` for the options of a command.\n");
}

int jc_cli_fail(int rc)
{
    fprintf(stderr, "junco: error: %s\n", jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
    return JC_EXIT_ERROR;
}

int jc_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "junco %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see junco %s --help)\n", cmd);
    va_end(ap);
    return JC_EXIT_USAGE;
}

int jc_cli_path(const struct jc_cli *cli, const char *rel, char *out, size_t cap)
{
    return jc_path_join(out, cap, cli->home, rel);
}

int jc_cli_open_catalog(const struct jc_cli *cli, struct jc_catalog **cat)
{
    char path[4096];
    int rc = jc_cli_path(cli, "catalog/catalog.jcat", path, sizeof path);
    if (rc == JC_OK)
        rc = jc_catalog_open(cat, path);
    return rc;
}

int jc_cli_ensure_home(const struct jc_cli *cli, const char *rel)
{
    int rc = jc_mkdir_p(cli->home);
    if (rc == JC_OK && rel) {
        char path[4096];
        rc = jc_cli_path(cli, rel, path, sizeof path);
        if (rc == JC_OK)
            rc = jc_mkdir_p(path);
    }
    return rc;
}

int jc_cli_parse(struct jc_cli *cli, const char *cmd, const char *synopsis, const char *description,
                 const struct jc_opt *opts, int argc, char **argv, const char **pos, int max_pos,
                 int *n_pos)
{
    const char *dummy[1];
    int dummy_n;
    if (pos == NULL) {
        pos = dummy;
        max_pos = 0;
        n_pos = &dummy_n;
    }
    int rc = jc_opt_parse(cmd, opts, jc_cli_global_opts, argc, argv, pos, max_pos, n_pos);
    if (rc == 3) {
        printf("usage: junco %s %s\n\n%s\n", cmd, synopsis, description);
        if (opts && opts->name) {
            printf("\noptions:\n");
            jc_opt_print_help(stdout, opts);
        }
        printf("\nglobal options:\n");
        jc_opt_print_help(stdout, jc_cli_global_opts);
        return JC_EXIT_OK;
    }
    if (rc)
        return JC_EXIT_USAGE;
    cli->verbose = g_verbose;
    cli->quiet = g_quiet;
    cli->home = g_home ? g_home : getenv("JUNCO_HOME");
    if (cli->home == NULL || cli->home[0] == '\0')
        cli->home = "./junco-data";
    char ini[4096];
    if (jc_path_join(ini, sizeof ini, cli->home, "junco.ini") == JC_OK && jc_path_exists(ini)) {
        rc = jc_config_load_file(&cli->cfg, ini);
        if (rc)
            return jc_cli_fail(rc);
    }
    rc = jc_config_load_env(&cli->cfg);
    if (rc)
        return jc_cli_fail(rc);
    for (int i = 0; i < g_sets.n; i++) {
        rc = jc_config_set_assignment(&cli->cfg, g_sets.v[i], JC_CFG_SRC_CLI);
        if (rc) {
            fprintf(stderr, "junco %s: --set: %s\n", cmd, jc_errmsg());
            return JC_EXIT_USAGE;
        }
    }
    enum jc_log_level lvl = JC_LOG_WARN;
    jc_log_parse_level(cli->cfg.core_log_level, &lvl);
    if (cli->verbose && lvl < JC_LOG_INFO)
        lvl = JC_LOG_INFO;
    if (cli->quiet)
        lvl = JC_LOG_ERROR;
    jc_log_set_level(lvl);
    jc_cli_progress_init(cli);
    return -1;
}

static int cmd_version(struct jc_cli *cli, int argc, char **argv)
{
    int rc = jc_cli_parse(cli, "version", "", "Prints the version of junco.", NULL, argc, argv,
                          NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    printf("junco %s\n", JUNCO_VERSION_STRING);
    return JC_EXIT_OK;
}

static const struct jc_cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int cmd_help(struct jc_cli *cli, int argc, char **argv)
{
    (void)cli;
    if (argc == 0) {
        print_usage(stdout);
        return JC_EXIT_OK;
    }
    if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        printf("usage: junco help [COMMAND]\n\nShows the help of a command, or the list of "
               "commands.\n");
        return JC_EXIT_OK;
    }
    const struct jc_cli_command *c = find_command(argv[0]);
    if (c == NULL)
        return jc_cli_usage("help", "unknown command '%s'", argv[0]);
    char *args[] = {(char *)"--help", NULL};
    return c->run(cli, 1, args);
}

/* Global options that take a value, for locating the command name. */
static int global_takes_value(const char *a)
{
    return strcmp(a, "--home") == 0 || strcmp(a, "--set") == 0;
}

int main(int argc, char **argv)
{
    int cmd_at = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0 && cmd_at < 0) {
            printf("junco %s\n", JUNCO_VERSION_STRING);
            return JC_EXIT_OK;
        }
        if ((strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) && cmd_at < 0) {
            print_usage(stdout);
            return JC_EXIT_OK;
        }
        if (a[0] == '-') {
            if (global_takes_value(a))
                i++;
            continue;
        }
        cmd_at = i;
        break;
    }
    if (cmd_at < 0) {
        print_usage(stderr);
        return JC_EXIT_USAGE;
    }
    const struct jc_cli_command *c = find_command(argv[cmd_at]);
    if (c == NULL) {
        fprintf(stderr, "junco: unknown command '%s' (see junco --help)\n", argv[cmd_at]);
        return JC_EXIT_USAGE;
    }
    /* The command sees every argument but its own name. */
    char **args = calloc((size_t)argc, sizeof *args);
    if (args == NULL) {
        fprintf(stderr, "junco: out of memory\n");
        return JC_EXIT_ERROR;
    }
    int n = 0;
    for (int i = 1; i < argc; i++)
        if (i != cmd_at)
            args[n++] = argv[i];
    struct jc_cli cli;
    memset(&cli, 0, sizeof cli);
    cli.argv0 = argv[0];
    if (jc_config_init(&cli.cfg) != JC_OK) {
        free(args);
        fprintf(stderr, "junco: out of memory\n");
        return JC_EXIT_ERROR;
    }
    int rc = c->run(&cli, n, args);
    jc_cli_progress_done(&cli);
    jc_config_free(&cli.cfg);
    free(args);
    return rc;
}
