/*
 * progress.c - the progress bar drawn on stderr for long-running work.
 *
 * Shown only when stderr is a terminal (or core.progress = on), redrawn at
 * most 10 times per second, with rate and ETA. The library reports through
 * the jc_progress callback and never draws anything itself.
 */
#include "cli.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct bar_state {
    int active;
    uint64_t t_start;
    uint64_t t_last;
    char stage[48];
    int drawn;
};

static struct bar_state bar;

static void human(char *out, size_t cap, double v, const char *unit)
{
    static const char *const si[] = {"", "k", "M", "G", "T"};
    static const char *const iec[] = {"", "Ki", "Mi", "Gi", "Ti"};
    int is_bytes = strcmp(unit, "bytes") == 0;
    double base = is_bytes ? 1024.0 : 1000.0;
    int k = 0;
    while (v >= base && k < 4) {
        v /= base;
        k++;
    }
    if (is_bytes)
        snprintf(out, cap, "%.1f %sB", v, iec[k]);
    else
        snprintf(out, cap, "%.1f%s %s", v, si[k], unit);
}

static int draw(void *ctx, const char *stage, uint64_t done, uint64_t total, const char *unit,
                const char *note)
{
    (void)ctx;
    uint64_t now = jc_now_ns();
    if (strncmp(bar.stage, stage, sizeof bar.stage - 1) != 0) {
        if (bar.drawn)
            fputc('\n', stderr);
        snprintf(bar.stage, sizeof bar.stage, "%s", stage);
        bar.t_start = now;
        bar.t_last = 0;
        bar.drawn = 0;
    }
    int finished = total > 0 && done >= total;
    if (!finished && now - bar.t_last < 100000000ull)
        return 0;
    bar.t_last = now;
    double el = (double)(now - bar.t_start) * 1e-9;
    char rate[32] = "", eta[32] = "", cur[32];
    human(cur, sizeof cur, (double)done, unit);
    if (el > 0.05) {
        char r[32];
        human(r, sizeof r, (double)done / el, unit);
        snprintf(rate, sizeof rate, "%s/s", r);
    }
    char line[200];
    if (total > 0) {
        double frac = (double)done / (double)total;
        if (frac > 1)
            frac = 1;
        if (frac > 0.01 && !finished) {
            char d[16];
            jc_fmt_duration(d, sizeof d, el / frac - el);
            snprintf(eta, sizeof eta, "ETA %s", d);
        }
        char b[26];
        int w = (int)(frac * 24.0);
        for (int i = 0; i < 24; i++)
            b[i] = i < w ? '=' : (i == w ? '>' : ' ');
        b[24] = '\0';
        snprintf(line, sizeof line, "%-14.14s [%s] %3.0f%% %s %s %s", stage, b, frac * 100.0, rate,
                 eta, note ? note : "");
    } else {
        snprintf(line, sizeof line, "%-14.14s %s %s %s", stage, cur, rate, note ? note : "");
    }
    fprintf(stderr, "\r%-79.79s", line);
    fflush(stderr);
    bar.drawn = 1;
    return 0;
}

void jc_cli_progress_init(struct jc_cli *cli)
{
    const char *mode = cli->cfg.core_progress;
    int on = strcmp(mode, "on") == 0 || (strcmp(mode, "auto") == 0 && isatty(STDERR_FILENO));
    if (cli->quiet)
        on = 0;
    memset(&bar, 0, sizeof bar);
    bar.active = on;
    cli->progress.fn = on ? draw : NULL;
    cli->progress.ctx = NULL;
}

void jc_cli_progress_done(struct jc_cli *cli)
{
    (void)cli;
    if (bar.active && bar.drawn)
        fputc('\n', stderr);
    bar.drawn = 0;
    bar.stage[0] = '\0';
}
