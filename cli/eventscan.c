/*
 * eventscan.c - reading the whole event log of the data home, partition by
 * partition from the first retained offset, for the commands that analyse
 * logged events (`junco ab report`, `junco eval --replay`).
 */
#include "cli.h"

#include <junco/error.h>
#include <junco/event.h>
#include <junco/eventlog.h>

int jc_cli_each_event(struct jc_cli *cli, int (*fn)(void *ctx, const struct jc_event *ev),
                      void *ctx, uint64_t *n_events)
{
    char dir[4096];
    int rc = jc_cli_path(cli, "events", dir, sizeof dir);
    if (rc)
        return rc;
    struct jc_eventlog_config c;
    jc_eventlog_config_from_settings(&c, &cli->cfg, dir);
    c.read_only = 1;
    struct jc_eventlog *log;
    if ((rc = jc_eventlog_open(&log, &c)))
        return rc;
    struct jc_eventlog_batch b;
    jc_eventlog_batch_init(&b);
    *n_events = 0;
    uint32_t np = jc_eventlog_n_partitions(log);
    for (uint32_t p = 0; p < np && rc == JC_OK; p++) {
        uint64_t begin, end;
        if ((rc = jc_eventlog_offsets(log, p, &begin, &end)))
            break;
        uint64_t off = begin;
        while (off < end && rc == JC_OK) {
            if ((rc = jc_eventlog_read(log, p, off, 4096, (size_t)4 << 20, 0, &b)) || b.n == 0)
                break;
            for (size_t i = 0; i < b.n && rc == JC_OK; i++) {
                struct jc_event ev;
                rc = jc_event_decode(b.recs[i].data, b.recs[i].len, &ev);
                if (rc == JC_OK)
                    rc = fn(ctx, &ev);
                else
                    jc_err_prefix(rc, "event log partition %u offset %llu", p,
                                  (unsigned long long)b.recs[i].offset);
                off = b.recs[i].offset + 1;
                (*n_events)++;
            }
        }
    }
    jc_eventlog_batch_free(&b);
    jc_eventlog_close(log);
    return rc;
}
