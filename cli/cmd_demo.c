/*
 * cmd_demo.c - `junco demo`: the whole pipeline on the bundled MovieLens
 * data, step by step, as a user would type it:
 *   import -> stats -> features -> publish features -> train deepfm ->
 *   embed item2vec + ials -> index (hnsw) -> similar "Toy Story" ->
 *   eval (temporal protocol, quick budget) -> serve.
 * Every step after the import runs the junco executable itself as a child
 * process (the same command line a user would type, printed before it
 * runs), so the demo exercises exactly the commands the README documents
 * and each step's memory is returned when it ends. The last step replaces
 * the process with `junco serve` (unless --no-serve), so Ctrl-C stops it.
 */
#include "cli.h"

#include "core/buf.h"
#include "core/fileio.h"
#include <junco/error.h>
#include <junco/import.h>
#include <junco/stats.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The bundled data: ./data/ml-latest-small, or next to the executable's
 * source tree (<exe>/../data/...), or the installed share directory. */
static int find_data(const char *argv0, char *out, size_t cap)
{
    const char *rel = "data/ml-latest-small";
    if (jc_is_dir(rel)) {
        snprintf(out, cap, "%s", rel);
        return 1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (slash == NULL)
                break;
            *slash = '\0';
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s/%s", exe, rel);
            if (jc_is_dir(cand)) {
                snprintf(out, cap, "%s", cand);
                return 1;
            }
            snprintf(cand, sizeof cand, "%s/share/junco/ml-latest-small", exe);
            if (jc_is_dir(cand)) {
                snprintf(out, cap, "%s", cand);
                return 1;
            }
        }
    }
    (void)argv0;
    return 0;
}

/* The path of the running executable (for the child steps). */
static int self_exe(const char *argv0, char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n > 0) {
        out[n] = '\0';
        return 1;
    }
    if (argv0 && strchr(argv0, '/')) {
        snprintf(out, cap, "%s", argv0);
        return 1;
    }
    return 0;
}

#define DEMO_MAX_ARGS 24

struct demo {
    const char *exe;
    const char *home;
    int quiet;
    int step;
};

/* Builds "exe --home HOME [-q] args..." into v (NULL-terminated). */
static int demo_argv(const struct demo *d, const char *const *args, char **v)
{
    int n = 0;
    v[n++] = (char *)d->exe;
    v[n++] = (char *)"--home";
    v[n++] = (char *)d->home;
    if (d->quiet)
        v[n++] = (char *)"-q";
    for (size_t i = 0; args[i] && n < DEMO_MAX_ARGS - 1; i++)
        v[n++] = (char *)args[i];
    v[n] = NULL;
    return n;
}

static void demo_print_cmd(struct demo *d, const char *what, const char *const *args)
{
    printf("\n== %d. %s\n   $ junco", ++d->step, what);
    for (size_t i = 0; args[i]; i++) {
        const char *a = args[i];
        int quote = strpbrk(a, " ()'") != NULL;
        printf(quote ? " \"%s\"" : " %s", a);
    }
    printf("\n");
    fflush(stdout);
}

/* Runs one step as a child process; JC_OK when it exited 0. */
static int demo_run(struct demo *d, const char *what, const char *const *args)
{
    demo_print_cmd(d, what, args);
    char *v[DEMO_MAX_ARGS];
    demo_argv(d, args, v);
    pid_t pid = fork();
    if (pid < 0)
        return jc_err_set(JC_EIO, "demo: fork: %s", strerror(errno));
    if (pid == 0) {
        execv(d->exe, v);
        fprintf(stderr, "junco demo: cannot run %s: %s\n", d->exe, strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return jc_err_set(JC_EIO, "demo: waitpid: %s", strerror(errno));
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return JC_OK;
    if (WIFEXITED(status))
        return jc_err_set(JC_EIO, "demo step %d (%s) failed with exit code %d", d->step, what,
                          WEXITSTATUS(status));
    return jc_err_set(JC_EIO, "demo step %d (%s) was killed by signal %d", d->step, what,
                      WTERMSIG(status));
}

int jc_cmd_demo(struct jc_cli *cli, int argc, char **argv)
{
    const char *data = NULL;
    int no_serve = 0;
    const char *port = NULL;
    const struct jc_opt opts[] = {
        {"data", 0, JC_OPT_STR, &data, "DIR",
         "MovieLens directory to use (default: the bundled data/ml-latest-small)", NULL},
        {"no-serve", 0, JC_OPT_FLAG, &no_serve, NULL,
         "stop after the evaluation instead of starting the server", NULL},
        {"port", 'p', JC_OPT_STR, &port, "N", "port of the final `junco serve` (serve.port)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc =
        jc_cli_parse(cli, "demo", "[--data DIR] [--no-serve] [--port N]",
                     "Runs the whole pipeline on the bundled MovieLens data, printing each step's\n"
                     "command: import into the data home, stats, point-in-time features (temporal\n"
                     "split), publish features to the feature store, train DeepFM, item2vec and\n"
                     "iALS embeddings, an HNSW index, similar movies to Toy Story, a quick\n"
                     "evaluation on the temporal protocol, then `junco serve` (Ctrl-C stops it).",
                     opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    char dir[PATH_MAX];
    if (data) {
        snprintf(dir, sizeof dir, "%s", data);
    } else if (!find_data(cli->argv0, dir, sizeof dir)) {
        fprintf(stderr, "junco: error: cannot find the bundled data (data/ml-latest-small); "
                        "pass --data DIR\n");
        return JC_EXIT_ERROR;
    }
    char exe[PATH_MAX];
    if (!self_exe(cli->argv0, exe, sizeof exe)) {
        fprintf(stderr, "junco: error: cannot locate the junco executable\n");
        return JC_EXIT_ERROR;
    }
    if ((rc = jc_cli_ensure_home(cli, "catalog")))
        return jc_cli_fail(rc);
    char path[4096];
    if ((rc = jc_cli_path(cli, "catalog/catalog.jcat", path, sizeof path)))
        return jc_cli_fail(rc);
    struct demo d = {.exe = exe, .home = cli->home, .quiet = cli->quiet, .step = 0};

    {
        const char *const args[] = {"import", dir, NULL};
        demo_print_cmd(&d, "import the MovieLens files into the catalog", args);
    }
    struct jc_import_opts io;
    jc_import_opts_default(&io);
    io.progress = cli->progress;
    struct jc_import_result res;
    rc = jc_import(dir, path, &io, &res);
    jc_cli_progress_done(cli);
    if (rc) {
        jc_import_result_free(&res);
        return jc_cli_fail(rc);
    }
    printf("   %u items, %u users, %llu interactions, %llu tags in %.2f s\n", res.n_items,
           res.n_users, (unsigned long long)res.n_interactions, (unsigned long long)res.tags_added,
           res.seconds);
    jc_import_result_free(&res);

    {
        const char *const args[] = {"stats", NULL};
        demo_print_cmd(&d, "describe the catalog", args);
    }
    struct jc_catalog *cat;
    if ((rc = jc_catalog_open(&cat, path)))
        return jc_cli_fail(rc);
    struct jc_stats st;
    rc = jc_stats_compute(cat, 10, &st);
    if (rc == JC_OK) {
        struct jc_buf out;
        jc_buf_init(&out, 0);
        rc = jc_stats_write_text(&st, cat, &out);
        if (rc == JC_OK)
            fwrite(out.data, 1, out.len, stdout);
        jc_buf_free(&out);
        jc_stats_free(&st);
    }
    jc_catalog_close(cat);
    if (rc)
        return jc_cli_fail(rc);

    static const struct {
        const char *what;
        const char *args[12];
    } steps[] = {
        {"point-in-time features and train/valid/test samples (temporal split)",
         {"features", "--split", "time", NULL}},
        {"publish the latest user and item features to the feature store",
         {"publish", "features", NULL}},
        {"train the DeepFM ranking model (validation AUC per epoch, test metrics)",
         {"train", "--model", "deepfm", NULL}},
        {"item2vec embeddings from the users' positive sequences",
         {"embed", "--method", "item2vec", "--window", "10", "--epochs", "20", NULL}},
        {"implicit ALS user and item factors", {"embed", "--method", "ials", NULL}},
        {"an HNSW index over the item2vec vectors",
         {"index", "build", "--embedding", "item2vec", "--type", "hnsw", NULL}},
        {"movies similar to Toy Story in the item2vec space",
         {"similar", "Toy Story (1995)", "--embedding", "item2vec", NULL}},
        {"evaluate baselines on the temporal protocol (quick search budget)",
         {"eval", "--protocol", "temporal", "--model", "popularity,itemknn,ials,bpr", "--budget",
          "4", NULL}},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if ((rc = demo_run(&d, steps[i].what, steps[i].args)))
            return jc_cli_fail(rc);
    }
    if (no_serve) {
        printf("\ndemo finished; start the server with: junco --home %s serve\n", cli->home);
        return JC_EXIT_OK;
    }
    const char *serve_args[] = {"serve", NULL, NULL, NULL};
    if (port) {
        serve_args[1] = "--port";
        serve_args[2] = port;
    }
    demo_print_cmd(&d, "serve the API and the web UI (Ctrl-C stops)", serve_args);
    char *v[DEMO_MAX_ARGS];
    demo_argv(&d, serve_args, v);
    execv(exe, v);
    fprintf(stderr, "junco demo: cannot run %s: %s\n", exe, strerror(errno));
    return JC_EXIT_ERROR;
}
