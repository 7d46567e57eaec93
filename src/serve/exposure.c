/*
 * exposure.c - the bounded exposure queue and its appender thread (see
 * exposure.h for the event shape and the guarantees).
 *
 * A queued list is one block: a header, then its strings NUL-terminated in
 * a fixed order (user, request id, experiment, variant, context tail, then
 * the items). The appender swaps the whole queue out under the mutex, so
 * request threads contend only with each other for a few pointer writes,
 * and builds events in a reusable array whose string views point into the
 * blocks; contexts are formatted into one reusable buffer per batch.
 */
#include "serve/exposure.h"

#include "core/alloc.h"
#include "core/log.h"
#include <junco/error.h>
#include <junco/event.h>
#include <junco/eventlog.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CTX_HEAD_MAX 48 /* {"pos":4294967295,"n":4294967295, */

struct entry {
    struct entry *next;
    size_t n;
    int64_t time_ms;
    uint32_t offset;
    char data[]; /* user\0 rid\0 exp\0 var\0 tail\0 item\0 ... */
};

struct jc_exposure {
    struct jc_exposure_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work or stop */
    pthread_cond_t done_cv; /* progress, for flush */
    pthread_t thread;
    int started;
    int stop;
    struct entry *head, *tail;
    uint64_t depth;     /* events queued, not yet finished */
    uint64_t submitted; /* events queued since open */
    uint64_t finished;  /* events appended or dropped by the thread */
    struct jc_exposure_stats st;
    /* appender scratch */
    struct jc_event *evs;
    char *ctx;       /* batch * JC_EVENT_MAX_CONTEXT */
    uint64_t warned; /* errors at the last warning */
};

void jc_exposure_config_default(struct jc_exposure_config *c)
{
    memset(c, 0, sizeof *c);
    c->capacity = 65536;
    c->batch = 4096;
}

static const char *next_str(const char **p)
{
    const char *s = *p;
    *p += strlen(s) + 1;
    return s;
}

/* Appends evs[0..n) and accounts for them (called without the mutex). */
static void append_batch(struct jc_exposure *x, size_t n)
{
    if (n == 0)
        return;
    int rc = jc_eventlog_append(x->cfg.log, x->evs, n, NULL);
    pthread_mutex_lock(&x->mu);
    x->st.batches++;
    if (rc == JC_OK) {
        x->st.appended += n;
    } else {
        x->st.dropped_error += n;
        if (x->st.dropped_error >= 2 * x->warned) {
            x->warned = x->st.dropped_error;
            JC_WARN("exposure log: %llu events dropped so far; last append failed: %s",
                    (unsigned long long)x->st.dropped_error,
                    jc_errcode() == rc ? jc_errmsg() : jc_strerror(rc));
        }
    }
    pthread_mutex_unlock(&x->mu);
}

/* Turns a chain of lists into events and appends them in batches. */
static void process(struct jc_exposure *x, struct entry *e)
{
    size_t nb = 0;
    uint64_t invalid = 0;
    while (e) {
        const char *p = e->data;
        const char *user = next_str(&p), *rid = next_str(&p), *exp = next_str(&p),
                   *var = next_str(&p), *tail = next_str(&p);
        for (size_t k = 0; k < e->n; k++) {
            const char *item = next_str(&p);
            if (nb == x->cfg.batch) {
                append_batch(x, nb);
                nb = 0;
            }
            struct jc_event *ev = &x->evs[nb];
            jc_event_init(ev);
            ev->type = JC_EV_IMPRESSION;
            ev->value = 1.0f;
            ev->time_ms = e->time_ms;
            ev->user = user;
            ev->user_len = strlen(user);
            ev->item = item;
            ev->item_len = strlen(item);
            if (rid[0]) {
                ev->request_id = rid;
                ev->request_id_len = strlen(rid);
            }
            if (exp[0]) {
                ev->experiment = exp;
                ev->experiment_len = strlen(exp);
                ev->variant = var;
                ev->variant_len = strlen(var);
            }
            char *c = x->ctx + nb * JC_EVENT_MAX_CONTEXT;
            int len =
                snprintf(c, JC_EVENT_MAX_CONTEXT, "{\"pos\":%llu,\"n\":%zu%s%s}",
                         (unsigned long long)e->offset + k + 1, e->n, tail[0] ? "," : "", tail);
            if (len > 0 && len < JC_EVENT_MAX_CONTEXT) {
                ev->context = c;
                ev->context_len = (size_t)len;
            }
            if (jc_event_validate(ev, NULL) != JC_OK) {
                invalid++;
                continue;
            }
            nb++;
        }
        /* e's strings stay referenced by the pending batch: the caller
         * frees the chain after the last append. */
        e = e->next;
    }
    append_batch(x, nb);
    if (invalid) {
        pthread_mutex_lock(&x->mu);
        x->st.dropped_invalid += invalid;
        pthread_mutex_unlock(&x->mu);
    }
}

static void free_chain(struct entry *e)
{
    while (e) {
        struct entry *next = e->next;
        jc_free(e);
        e = next;
    }
}

/* Events of a chain. */
static uint64_t chain_events(const struct entry *e)
{
    uint64_t n = 0;
    for (; e; e = e->next)
        n += e->n;
    return n;
}

static void *appender(void *arg)
{
    struct jc_exposure *x = arg;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (x->head == NULL && !x->stop)
            pthread_cond_wait(&x->cv, &x->mu);
        if (x->head == NULL && x->stop)
            break;
        struct entry *chain = x->head;
        x->head = x->tail = NULL;
        pthread_mutex_unlock(&x->mu);
        /* Batches may span lists, so strings must live until the chain is
         * done: process appends everything before returning. */
        process(x, chain);
        uint64_t n = chain_events(chain);
        free_chain(chain);
        pthread_mutex_lock(&x->mu);
        x->depth -= n;
        x->finished += n;
        pthread_cond_broadcast(&x->done_cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

int jc_exposure_open(struct jc_exposure **out, const struct jc_exposure_config *cfg)
{
    if (cfg->capacity == 0 || cfg->batch == 0)
        return jc_err_set(JC_EINVAL, "exposure queue: capacity and batch must be > 0");
    struct jc_exposure *x = jc_calloc(1, sizeof *x);
    if (x == NULL)
        return JC_ENOMEM;
    x->cfg = *cfg;
    x->warned = 1;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    pthread_cond_init(&x->done_cv, NULL);
    if (cfg->log) {
        x->evs = jc_malloc_array(cfg->batch, sizeof *x->evs);
        x->ctx = jc_malloc_array(cfg->batch, JC_EVENT_MAX_CONTEXT);
        if (x->evs == NULL || x->ctx == NULL) {
            jc_exposure_close(x);
            return JC_ENOMEM;
        }
        if (pthread_create(&x->thread, NULL, appender, x) != 0) {
            jc_exposure_close(x);
            return jc_err_set(JC_EIO, "cannot start the exposure log thread");
        }
        x->started = 1;
    }
    *out = x;
    return JC_OK;
}

int jc_exposure_submit(struct jc_exposure *x, const struct jc_exposure_list *l)
{
    const char *strs[5] = {l->user ? l->user : "", l->request_id ? l->request_id : "",
                           l->experiment ? l->experiment : "",
                           l->experiment && l->variant ? l->variant : "",
                           l->context_tail ? l->context_tail : ""};
    if (strlen(strs[4]) + CTX_HEAD_MAX + 2 > JC_EVENT_MAX_CONTEXT)
        strs[4] = "";
    pthread_mutex_lock(&x->mu);
    x->st.lists++;
    int rc = JC_OK;
    if (!x->started || x->stop) {
        x->st.dropped_no_log += l->n;
        rc = JC_ESTATE;
    } else if (x->depth + l->n > x->cfg.capacity) {
        x->st.dropped_full += l->n;
        rc = JC_ELIMIT;
    } else {
        x->depth += l->n; /* reserve; undone below on allocation failure */
    }
    pthread_mutex_unlock(&x->mu);
    if (rc || l->n == 0)
        return rc;
    size_t size = sizeof(struct entry);
    for (int i = 0; i < 5; i++)
        size += strlen(strs[i]) + 1;
    for (size_t k = 0; k < l->n; k++)
        size += strlen(l->items[k]) + 1;
    struct entry *e = jc_malloc(size);
    if (e == NULL) {
        pthread_mutex_lock(&x->mu);
        x->depth -= l->n;
        x->st.dropped_full += l->n;
        pthread_mutex_unlock(&x->mu);
        return JC_ENOMEM;
    }
    e->next = NULL;
    e->n = l->n;
    e->time_ms = l->time_ms;
    e->offset = l->offset;
    char *at = e->data;
    for (int i = 0; i < 5; i++) {
        size_t n = strlen(strs[i]) + 1;
        memcpy(at, strs[i], n);
        at += n;
    }
    for (size_t k = 0; k < l->n; k++) {
        size_t n = strlen(l->items[k]) + 1;
        memcpy(at, l->items[k], n);
        at += n;
    }
    pthread_mutex_lock(&x->mu);
    if (x->tail)
        x->tail->next = e;
    else
        x->head = e;
    x->tail = e;
    x->submitted += l->n;
    x->st.queued += l->n;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    return JC_OK;
}

void jc_exposure_flush(struct jc_exposure *x)
{
    pthread_mutex_lock(&x->mu);
    uint64_t target = x->submitted;
    while (x->started && x->finished < target)
        pthread_cond_wait(&x->done_cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
}

void jc_exposure_get_stats(struct jc_exposure *x, struct jc_exposure_stats *out)
{
    pthread_mutex_lock(&x->mu);
    *out = x->st;
    out->depth = x->depth;
    pthread_mutex_unlock(&x->mu);
}

void jc_exposure_close(struct jc_exposure *x)
{
    if (x == NULL)
        return;
    if (x->started) {
        pthread_mutex_lock(&x->mu);
        x->stop = 1;
        pthread_cond_signal(&x->cv);
        pthread_mutex_unlock(&x->mu);
        pthread_join(x->thread, NULL);
    }
    free_chain(x->head);
    pthread_cond_destroy(&x->done_cv);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    jc_free(x->evs);
    jc_free(x->ctx);
    jc_free(x);
}
