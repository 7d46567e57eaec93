/*
 * pool.c - pthread worker pool with a generation counter.
 *
 * Workers sleep on a condition variable until the generation changes, then
 * claim task indices with an atomic counter until none remain. The last
 * worker to finish signals the caller.
 */
#include "pool.h"

#include "alloc.h"
#include <junco/error.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct jc_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start_cv;
    pthread_cond_t done_cv;
    uint64_t generation;
    int stop;
    int running; /* workers still busy with the current job */
    jc_pool_fn fn;
    void *ctx;
    uint64_t n_tasks;
    atomic_ullong next_task;
};

struct worker_arg {
    struct jc_pool *p;
    int index;
};

int jc_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static void drain(struct jc_pool *p, int worker)
{
    for (;;) {
        uint64_t t = atomic_fetch_add(&p->next_task, 1);
        if (t >= p->n_tasks)
            break;
        p->fn(p->ctx, t, worker);
    }
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct jc_pool *p = wa->p;
    int index = wa->index;
    jc_free(wa);
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->start_cv, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        drain(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->running == 0)
            pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

int jc_pool_create(struct jc_pool **out, int n_threads)
{
    if (n_threads <= 0)
        n_threads = jc_cpu_count();
    struct jc_pool *p = jc_calloc(1, sizeof *p);
    if (p == NULL)
        return JC_ENOMEM;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (n_threads > 1) {
        p->threads = jc_calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (p->threads == NULL) {
            p->n_threads = 1; /* no workers to join */
            jc_pool_destroy(p);
            return JC_ENOMEM;
        }
        for (int i = 1; i < n_threads; i++) {
            struct worker_arg *wa = jc_malloc(sizeof *wa);
            if (wa == NULL) {
                p->n_threads = i;
                jc_pool_destroy(p);
                return JC_ENOMEM;
            }
            wa->p = p;
            wa->index = i;
            if (pthread_create(&p->threads[i - 1], NULL, worker_main, wa) != 0) {
                jc_free(wa);
                p->n_threads = i;
                jc_pool_destroy(p);
                return jc_err_set(JC_EIO, "cannot start worker thread %d", i);
            }
        }
    }
    *out = p;
    return JC_OK;
}

void jc_pool_destroy(struct jc_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start_cv);
    pthread_cond_destroy(&p->done_cv);
    jc_free(p->threads);
    jc_free(p);
}

int jc_pool_size(const struct jc_pool *p)
{
    return p->n_threads;
}

void jc_pool_run(struct jc_pool *p, uint64_t n_tasks, jc_pool_fn fn, void *ctx)
{
    if (n_tasks == 0)
        return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (uint64_t t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    p->running = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start_cv);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->running > 0)
        pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
