/*
 * cli.h - what the subcommands of the junco program share.
 *
 * main.c parses the global options, loads the configuration (defaults,
 * <home>/junco.ini, JUNCO_* variables, --set), then calls the command's
 * function from the command table with a struct jc_cli. Commands print data
 * to stdout and diagnostics to stderr, and return an exit code:
 * 0 success, 1 runtime error, 2 usage error.
 */
#ifndef JC_CLI_H
#define JC_CLI_H

#include "opt.h"

#include <junco/catalog.h>
#include <junco/config.h>
#include <junco/progress_cb.h>

#include <stdio.h>

#define JC_EXIT_OK    0
#define JC_EXIT_ERROR 1
#define JC_EXIT_USAGE 2

struct jc_cli {
    const char *home;     /* data home directory */
    struct jc_config cfg; /* effective configuration */
    int verbose;
    int quiet;
    const char *argv0;
    struct jc_progress progress; /* the progress bar (or nothing) */
};

struct jc_cli_command {
    const char *name;
    int (*run)(struct jc_cli *cli, int argc, char **argv);
    const char *summary;
};

/* The global options, accepted before or after the command name. */
extern const struct jc_opt jc_cli_global_opts[];

/*
 * Parses a command's options (plus the globals) and handles --help.
 * Returns -1 to continue, or an exit code to return immediately
 * (0 after --help, 2 on a usage error).
 */
int jc_cli_parse(struct jc_cli *cli, const char *cmd, const char *synopsis, const char *description,
                 const struct jc_opt *opts, int argc, char **argv, const char **pos, int max_pos,
                 int *n_pos);

/* Prints "junco: error: <detailed message>" and returns JC_EXIT_ERROR. */
int jc_cli_fail(int rc);
/* Prints a usage error and returns JC_EXIT_USAGE. */
int jc_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* <home>/<rel> into out. */
int jc_cli_path(const struct jc_cli *cli, const char *rel, char *out, size_t cap);
/* Opens <home>/catalog/catalog.jcat. */
int jc_cli_open_catalog(const struct jc_cli *cli, struct jc_catalog **cat);
/* Calls fn for every event of the home's event log (read-only; partition by
 * partition from the first retained offset) and counts them in *n_events;
 * stops at the first error (fn's, or a corrupt record named by partition
 * and offset). cli/eventscan.c. */
struct jc_event;
int jc_cli_each_event(struct jc_cli *cli, int (*fn)(void *ctx, const struct jc_event *ev),
                      void *ctx, uint64_t *n_events);
/* Creates the home directory (and subdirectory rel if not NULL). */
int jc_cli_ensure_home(const struct jc_cli *cli, const char *rel);

/* Progress bar on stderr (cli/progress.c). */
void jc_cli_progress_init(struct jc_cli *cli);
void jc_cli_progress_done(struct jc_cli *cli);

/* Commands. */
int jc_cmd_import(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_stats(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_synth(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_config(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_demo(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_items(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_eval(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_train(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_predict(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_ab(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_serve(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_events(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_nearline(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_embed(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_index(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_similar(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_recommend_emb(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_recommend(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_features(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_publish(struct jc_cli *cli, int argc, char **argv);
int jc_cmd_store(struct jc_cli *cli, int argc, char **argv);

/* Embeddings and their indexes (cli/cmd_index.c). */
struct jc_emb;
struct jc_ann;
/* <home>/embeddings/<name>.jemb; JC_EINVAL for a bad name. */
int jc_cli_embedding_path(const struct jc_cli *cli, const char *name, char *out, size_t cap);
/* <home>/indexes/<name>.<type>.jann. */
int jc_cli_index_path(const struct jc_cli *cli, const char *name, const char *type, char *out,
                      size_t cap);
/* Loads an embedding by name and checks it against cat (may be NULL). */
int jc_cli_load_embedding(const struct jc_cli *cli, const char *name, const struct jc_catalog *cat,
                          struct jc_emb **out);
/* Opens the index of an embedding: want = "auto" (first of hnsw, flat, lsh
 * that exists and is newer than the embedding; *out NULL if none), "none",
 * or a type (must exist). type_out receives the type or "exact". */
int jc_cli_open_index(const struct jc_cli *cli, const char *name, const char *want,
                      struct jc_ann **out, char *type_out, size_t cap);

#endif
