/*
 * cmd_serve.c - `junco serve [--bind ADDR] [--port N] [--threads N]`: run
 * the HTTP daemon until SIGTERM or SIGINT.
 *
 * Signals are caught by a handler that only writes the signal number to a
 * self-pipe (async-signal-safe, and correct whichever thread the kernel
 * picks: libraries such as OpenBLAS start threads of their own before main,
 * so blocking signals in this thread alone is not enough); this thread reads
 * the pipe: SIGHUP reloads the served snapshot, SIGTERM/SIGINT stop
 * accepting, drain requests in flight and exit 0. Once listening, the bound
 * URL is printed on stdout ("listening on http://127.0.0.1:PORT") so that
 * scripts and tests can find an ephemeral port.
 */
#include "cli.h"

#include "core/fileio.h"
#include <junco/error.h>
#include <junco/serve.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The UI directory: ./web, or web/ of the source tree next to the binary
 * (<src>/build-x/junco), or <prefix>/share/junco/web. */
static int find_web_root(char *out, size_t cap)
{
    if (jc_is_dir("web") && jc_path_exists("web/index.html")) {
        snprintf(out, cap, "web");
        return 1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        const char *rels[] = {"web", "share/junco/web"};
        for (int r = 0; r < 2; r++) {
            char cand[PATH_MAX + 32], index[PATH_MAX + 48];
            snprintf(cand, sizeof cand, "%s/%s", exe, rels[r]);
            snprintf(index, sizeof index, "%s/index.html", cand);
            if (jc_is_dir(cand) && jc_path_exists(index)) {
                snprintf(out, cap, "%s", cand);
                return 1;
            }
        }
    }
    return 0;
}

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a stop or reload is already pending */
    }
    errno = saved;
}

/* Waits for the next caught signal. */
static int next_signal(void)
{
    for (;;) {
        char c;
        ssize_t n = read(sig_pipe[0], &c, 1);
        if (n == 1)
            return (unsigned char)c;
        if (n < 0 && errno == EINTR)
            continue;
        return SIGTERM; /* the pipe broke: stop */
    }
}

int jc_cmd_serve(struct jc_cli *cli, int argc, char **argv)
{
    const char *bind = NULL, *mode = NULL, *web = NULL, *access_log = NULL;
    int64_t port = -1, threads = -1;
    int no_ui = 0, nearline = 0;
    const struct jc_opt opts[] = {
        {"bind", 0, JC_OPT_STR, &bind, "ADDR", "IPv4 address to listen on (serve.bind)", NULL},
        {"port", 'p', JC_OPT_INT, &port, "N", "TCP port, 0 = any free port (serve.port)", NULL},
        {"threads", 't', JC_OPT_INT, &threads, "N",
         "HTTP worker threads, 0 = one per CPU (serve.threads)", NULL},
        {"mode", 0, JC_OPT_STR, &mode, "MODE", "epoll, poll or thread (serve.mode)", NULL},
        {"web-root", 0, JC_OPT_STR, &web, "DIR", "web UI directory (serve.web_root)", NULL},
        {"no-ui", 0, JC_OPT_FLAG, &no_ui, NULL, "serve the API only", NULL},
        {"nearline", 0, JC_OPT_FLAG, &nearline, NULL,
         "run the nearline worker on the event log (serve.nearline): posted events update "
         "the store's realtime features",
         NULL},
        {"access-log", 0, JC_OPT_STR, &access_log, "FILE",
         "access log file, - for stderr, \"\" for none (serve.access_log)", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(
        cli, "serve", "[--bind ADDR] [--port N] [--threads N] [--mode MODE]",
        "Serves the catalog, the recommendation API (REST under /api/v1 and the\n"
        "Sparrow-RecSys-compatible /getmovie, /getuser, /getrecommendation,\n"
        "/getsimilarmovie, /getrecforyou), /healthz, /readyz, /metrics and the web UI.\n"
        "A/B experiments come from [experiment.*] and [variant.*] sections of junco.ini;\n"
        "every served list is logged as impression events in the event log, which\n"
        "also takes POST /api/v1/events; POST /api/v1/items and /users upsert into an\n"
        "overlay kept under the home. Prints \"listening on http://ADDR:PORT\" once\n"
        "ready. Live registry models (<home>/models), embeddings and their ANN\n"
        "indexes are loaded when they exist and swapped in when a new version is\n"
        "published (checked every serve.reload_ms).\n"
        "SIGHUP reloads the catalog; SIGTERM or SIGINT stop gracefully\n"
        "(requests in flight finish, queued exposures are written).",
        opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    struct jc_config *cfg = &cli->cfg;
    if (bind && (rc = jc_config_set(cfg, "serve.bind", bind, JC_CFG_SRC_CLI)))
        return jc_cli_usage("serve", "--bind: %s", jc_errmsg());
    if (mode && (rc = jc_config_set(cfg, "serve.mode", mode, JC_CFG_SRC_CLI)))
        return jc_cli_usage("serve", "--mode: %s", jc_errmsg());
    if (port != -1 && (port < 0 || port > 65535))
        return jc_cli_usage("serve", "--port must be in [0, 65535]");
    if (threads != -1 && (threads < 0 || threads > 256))
        return jc_cli_usage("serve", "--threads must be in [0, 256]");
    struct jc_serve_config sc;
    jc_serve_config_from(&sc, cfg, cli->home);
    if (port != -1)
        sc.port = (int)port;
    if (threads != -1)
        sc.threads = (int)threads;
    if (access_log)
        sc.access_log = access_log;
    if (nearline)
        sc.nearline = 1;
    char web_root[PATH_MAX];
    if (no_ui) {
        sc.web_root = NULL;
    } else if (web) {
        sc.web_root = web;
    } else if (sc.web_root == NULL || sc.web_root[0] == '\0') {
        sc.web_root = find_web_root(web_root, sizeof web_root) ? web_root : NULL;
        if (sc.web_root == NULL && !cli->quiet)
            fprintf(stderr, "junco serve: note: no web/ directory found; serving the API "
                            "only (set serve.web_root)\n");
    }

    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return jc_cli_fail(jc_err_set(JC_EIO, "pipe: %s", strerror(errno)));
    /* Reads block; only the writing end must never block a handler. */
    fcntl(sig_pipe[0], F_SETFL, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct jc_serve *srv;
    rc = jc_serve_open(&srv, &sc);
    if (rc) {
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        return jc_cli_fail(rc);
    }
    printf("listening on http://%s:%d\n", sc.bind, jc_serve_port(srv));
    fflush(stdout);
    if (!cli->quiet)
        fprintf(stderr, "junco serve: ready (%s mode, %s); SIGTERM or Ctrl-C stops\n",
                cfg->serve_mode, sc.web_root ? "web UI on /" : "no web UI");
    for (;;) {
        int sig = next_signal();
        if (sig == SIGHUP) {
            int r = jc_serve_reload(srv);
            if (r)
                fprintf(stderr, "junco serve: reload failed: %s\n",
                        jc_errcode() == r ? jc_errmsg() : jc_strerror(r));
            else if (!cli->quiet)
                fprintf(stderr, "junco serve: reloaded\n");
            continue;
        }
        break;
    }
    if (!cli->quiet)
        fprintf(stderr, "junco serve: stopping (draining requests in flight)\n");
    int left = jc_serve_stop(srv);
    jc_serve_close(srv);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    if (left > 0) {
        fprintf(stderr, "junco serve: %d requests were still running at the drain timeout\n", left);
        return JC_EXIT_ERROR;
    }
    if (!cli->quiet)
        fprintf(stderr, "junco serve: stopped\n");
    return JC_EXIT_OK;
}
