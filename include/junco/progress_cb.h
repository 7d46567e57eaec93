/*
 * junco/progress_cb.h - how long-running library work reports progress.
 *
 * Library code never draws anything: it calls a jc_progress callback that
 * the caller supplies (the CLI's progress bar, a test counter, nothing).
 * Callbacks are invoked from the thread that does the work; a job reports
 * at most a few hundred times per second, so callbacks may be slow-ish.
 * A callback returning nonzero asks the job to stop (JC_ECANCELED).
 */
#ifndef JUNCO_PROGRESS_CB_H
#define JUNCO_PROGRESS_CB_H

#include <stdint.h>

struct jc_progress {
    /* stage: short label ("ratings.csv"); done/total in `unit`s (total 0 if
     * unknown); note: extra text such as "loss 0.512" or NULL. */
    int (*fn)(void *ctx, const char *stage, uint64_t done, uint64_t total, const char *unit,
              const char *note);
    void *ctx;
};

/* Calls p->fn if p and p->fn are set; returns its verdict (0 = go on). */
static inline int jc_progress_report(const struct jc_progress *p, const char *stage, uint64_t done,
                                     uint64_t total, const char *unit, const char *note)
{
    if (p == 0 || p->fn == 0)
        return 0;
    return p->fn(p->ctx, stage, done, total, unit, note);
}

#endif
