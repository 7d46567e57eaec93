/*
 * pool.h - a fixed pool of worker threads running parallel-for jobs.
 *
 * jc_pool_run(pool, n_tasks, fn, ctx) calls fn(ctx, task, worker) once for
 * every task index in [0, n_tasks) and returns when all have finished. The
 * caller's thread works too (as worker 0), so a pool of n threads uses n-1
 * extra threads and a pool of 1 runs everything inline. Tasks are handed out
 * dynamically, so which worker runs which task varies; deterministic jobs
 * write results by task index and reduce them in task order afterwards.
 * One job at a time per pool (jc_pool_run is not reentrant). A pool is
 * created and destroyed by one owner thread.
 */
#ifndef JC_POOL_H
#define JC_POOL_H

#include <stdint.h>

struct jc_pool;

typedef void (*jc_pool_fn)(void *ctx, uint64_t task, int worker);

/* n_threads <= 0 means one per online CPU. */
int jc_pool_create(struct jc_pool **out, int n_threads);
void jc_pool_destroy(struct jc_pool *p);
int jc_pool_size(const struct jc_pool *p);
void jc_pool_run(struct jc_pool *p, uint64_t n_tasks, jc_pool_fn fn, void *ctx);
/* Number of online CPUs (>= 1). */
int jc_cpu_count(void);

#endif
