/*
 * metrics.c - the metrics registry and its Prometheus text exposition.
 *
 * A registry is a list of families (name, help, type, label names, bucket
 * bounds); a family owns a list of series, one per distinct tuple of label
 * values. Series are created under the family's mutex and appended to a
 * singly linked list whose links are published with release stores, so the
 * renderer walks the lists without taking the creation lock. Values are
 * atomics: counters and gauges keep the bits of a double (updated with a
 * compare-and-swap loop), histograms keep one non-cumulative count per
 * bucket plus the count and the sum; rendering makes them cumulative.
 * Nothing is ever removed before the registry is destroyed, so a series
 * pointer stays valid for the registry's lifetime.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/hash.h"
#include <junco/error.h>
#include <junco/serve.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES_PER_FAMILY 10000
#define MAX_COLLECTORS        64

const double jc_metrics_latency_buckets[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                             0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                             0.5,     1,      2.5,     5,      10};
const size_t jc_metrics_n_latency_buckets =
    sizeof jc_metrics_latency_buckets / sizeof jc_metrics_latency_buckets[0];

struct jc_metric {
    struct jc_metric_family *fam;
    _Atomic(struct jc_metric *) next;
    uint64_t hash;             /* of the label values, for lookup */
    char **values;             /* owned copies, fam->n_labels of them */
    _Atomic uint64_t bits;     /* counter/gauge value as double bits */
    _Atomic uint64_t count;    /* histogram: observations */
    _Atomic uint64_t sum_bits; /* histogram: sum as double bits */
    _Atomic uint64_t *buckets; /* histogram: n_buckets + 1 (last = +Inf) */
};

struct jc_metric_family {
    struct jc_metrics *reg;
    struct jc_metric_family *next; /* registry list, under reg->mu */
    enum jc_metric_type type;
    char *name;
    char *help;
    size_t n_labels;
    char *labels[JC_METRICS_MAX_LABELS];
    size_t n_buckets;
    double bounds[JC_METRICS_MAX_BUCKETS];
    pthread_mutex_t mu; /* serialises series creation */
    _Atomic(struct jc_metric *) head;
    struct jc_metric *tail; /* under mu */
    size_t n_series;        /* under mu */
};

struct jc_metrics {
    pthread_mutex_t mu; /* families and collectors */
    struct jc_metric_family *families;
    size_t n_families;
    struct {
        jc_metrics_collect_fn fn;
        void *ctx;
    } collectors[MAX_COLLECTORS];
    size_t n_collectors;
};

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void atomic_add_double(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    for (;;) {
        uint64_t next = double_to_bits(bits_to_double(old) + delta);
        if (atomic_compare_exchange_weak_explicit(a, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

int jc_metrics_create(struct jc_metrics **out)
{
    struct jc_metrics *m = jc_calloc(1, sizeof *m);
    if (m == NULL)
        return JC_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return JC_OK;
}

static void free_series(struct jc_metric *s, size_t n_labels)
{
    if (s->values) {
        for (size_t i = 0; i < n_labels; i++)
            jc_free(s->values[i]);
        jc_free(s->values);
    }
    jc_free((void *)s->buckets);
    jc_free(s);
}

static void free_family(struct jc_metric_family *f)
{
    struct jc_metric *s = atomic_load(&f->head);
    while (s) {
        struct jc_metric *next = atomic_load(&s->next);
        free_series(s, f->n_labels);
        s = next;
    }
    for (size_t i = 0; i < f->n_labels; i++)
        jc_free(f->labels[i]);
    jc_free(f->name);
    jc_free(f->help);
    pthread_mutex_destroy(&f->mu);
    jc_free(f);
}

void jc_metrics_destroy(struct jc_metrics *m)
{
    if (m == NULL)
        return;
    struct jc_metric_family *f = m->families;
    while (f) {
        struct jc_metric_family *next = f->next;
        free_family(f);
        f = next;
    }
    pthread_mutex_destroy(&m->mu);
    jc_free(m);
}

static int valid_name(const char *s, int allow_colon)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int same_shape(const struct jc_metric_family *f, enum jc_metric_type type,
                      const char *const *labels, size_t n_labels, const double *buckets,
                      size_t n_buckets)
{
    if (f->type != type || f->n_labels != n_labels)
        return 0;
    for (size_t i = 0; i < n_labels; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return 0;
    if (type == JC_METRIC_HISTOGRAM) {
        if (f->n_buckets != n_buckets)
            return 0;
        for (size_t i = 0; i < n_buckets; i++)
            if (f->bounds[i] != buckets[i])
                return 0;
    }
    return 1;
}

int jc_metrics_family(struct jc_metrics *m, enum jc_metric_type type, const char *name,
                      const char *help, const char *const *label_names, size_t n_labels,
                      const double *buckets, size_t n_buckets, struct jc_metric_family **out)
{
    if (!valid_name(name, 1))
        return jc_err_set(JC_EINVAL, "metric name '%s' is not [a-zA-Z_:][a-zA-Z0-9_:]*",
                          name ? name : "(null)");
    if (type != JC_METRIC_COUNTER && type != JC_METRIC_GAUGE && type != JC_METRIC_HISTOGRAM)
        return jc_err_set(JC_EINVAL, "metric %s: unknown type %d", name, (int)type);
    if (n_labels > JC_METRICS_MAX_LABELS)
        return jc_err_set(JC_EINVAL, "metric %s: %zu labels (at most %d)", name, n_labels,
                          JC_METRICS_MAX_LABELS);
    for (size_t i = 0; i < n_labels; i++) {
        if (!valid_name(label_names[i], 0) || strcmp(label_names[i], "le") == 0 ||
            strncmp(label_names[i], "__", 2) == 0)
            return jc_err_set(JC_EINVAL, "metric %s: invalid label name '%s'", name,
                              label_names[i] ? label_names[i] : "(null)");
    }
    if (type == JC_METRIC_HISTOGRAM) {
        if (buckets == NULL) {
            buckets = jc_metrics_latency_buckets;
            n_buckets = jc_metrics_n_latency_buckets;
        }
        if (n_buckets == 0 || n_buckets > JC_METRICS_MAX_BUCKETS)
            return jc_err_set(JC_EINVAL, "metric %s: %zu buckets (1..%d)", name, n_buckets,
                              JC_METRICS_MAX_BUCKETS);
        for (size_t i = 0; i < n_buckets; i++) {
            if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
                return jc_err_set(JC_EINVAL,
                                  "metric %s: bucket bounds must be finite and increasing", name);
        }
    } else {
        n_buckets = 0;
    }
    pthread_mutex_lock(&m->mu);
    for (struct jc_metric_family *f = m->families; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            int same = same_shape(f, type, label_names, n_labels, buckets, n_buckets);
            pthread_mutex_unlock(&m->mu);
            if (!same)
                return jc_err_set(JC_EEXISTS,
                                  "metric %s is already registered with another type, "
                                  "labels or buckets",
                                  name);
            *out = f;
            return JC_OK;
        }
    }
    struct jc_metric_family *f = jc_calloc(1, sizeof *f);
    int rc = JC_ENOMEM;
    if (f == NULL)
        goto fail;
    pthread_mutex_init(&f->mu, NULL);
    f->reg = m;
    f->type = type;
    f->name = jc_strdup(name);
    f->help = jc_strdup(help ? help : "");
    if (f->name == NULL || f->help == NULL)
        goto fail;
    for (size_t i = 0; i < n_labels; i++) {
        f->labels[i] = jc_strdup(label_names[i]);
        f->n_labels = i + 1;
        if (f->labels[i] == NULL)
            goto fail;
    }
    f->n_buckets = n_buckets;
    for (size_t i = 0; i < n_buckets; i++)
        f->bounds[i] = buckets[i];
    /* Append, so the registry keeps registration order (render sorts). */
    struct jc_metric_family **tail = &m->families;
    while (*tail)
        tail = &(*tail)->next;
    *tail = f;
    m->n_families++;
    pthread_mutex_unlock(&m->mu);
    *out = f;
    return JC_OK;
fail:
    pthread_mutex_unlock(&m->mu);
    if (f)
        free_family(f);
    return rc;
}

static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = 0x6a756e636f; /* "junco" */
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "";
        h = jc_hash64(v, strlen(v), h + i);
    }
    return h ? h : 1;
}

int jc_metrics_series(struct jc_metric_family *f, const char *const *label_values,
                      struct jc_metric **out)
{
    uint64_t h = hash_values(label_values, f->n_labels);
    pthread_mutex_lock(&f->mu);
    for (struct jc_metric *s = atomic_load_explicit(&f->head, memory_order_acquire); s;
         s = atomic_load_explicit(&s->next, memory_order_acquire)) {
        if (s->hash != h)
            continue;
        size_t i = 0;
        for (; i < f->n_labels; i++) {
            const char *v = label_values[i] ? label_values[i] : "";
            if (strcmp(s->values[i], v) != 0)
                break;
        }
        if (i == f->n_labels) {
            pthread_mutex_unlock(&f->mu);
            *out = s;
            return JC_OK;
        }
    }
    if (f->n_series >= MAX_SERIES_PER_FAMILY) {
        pthread_mutex_unlock(&f->mu);
        return jc_err_set(JC_ELIMIT, "metric %s: more than %d series", f->name,
                          MAX_SERIES_PER_FAMILY);
    }
    struct jc_metric *s = jc_calloc(1, sizeof *s);
    if (s == NULL)
        goto oom;
    s->fam = f;
    s->hash = h;
    if (f->n_labels) {
        s->values = jc_calloc(f->n_labels, sizeof *s->values);
        if (s->values == NULL)
            goto oom;
        for (size_t i = 0; i < f->n_labels; i++) {
            s->values[i] = jc_strdup(label_values[i] ? label_values[i] : "");
            if (s->values[i] == NULL)
                goto oom;
        }
    }
    if (f->type == JC_METRIC_HISTOGRAM) {
        s->buckets = jc_calloc(f->n_buckets + 1, sizeof *s->buckets);
        if (s->buckets == NULL)
            goto oom;
    }
    if (f->tail)
        atomic_store_explicit(&f->tail->next, s, memory_order_release);
    else
        atomic_store_explicit(&f->head, s, memory_order_release);
    f->tail = s;
    f->n_series++;
    pthread_mutex_unlock(&f->mu);
    *out = s;
    return JC_OK;
oom:
    pthread_mutex_unlock(&f->mu);
    if (s)
        free_series(s, f->n_labels);
    return JC_ENOMEM;
}

int jc_metrics_simple(struct jc_metrics *m, enum jc_metric_type type, const char *name,
                      const char *help, struct jc_metric **out)
{
    struct jc_metric_family *f;
    int rc = jc_metrics_family(m, type, name, help, NULL, 0, NULL, 0, &f);
    if (rc == JC_OK)
        rc = jc_metrics_series(f, NULL, out);
    return rc;
}

void jc_metric_inc(struct jc_metric *s)
{
    jc_metric_add(s, 1.0);
}

void jc_metric_add(struct jc_metric *s, double delta)
{
    if (s->fam->type == JC_METRIC_HISTOGRAM)
        return;
    if (s->fam->type == JC_METRIC_COUNTER && !(delta > 0))
        return;
    atomic_add_double(&s->bits, delta);
}

void jc_metric_set(struct jc_metric *s, double value)
{
    if (s->fam->type == JC_METRIC_HISTOGRAM)
        return;
    atomic_store_explicit(&s->bits, double_to_bits(value), memory_order_relaxed);
}

void jc_metric_observe(struct jc_metric *s, double value)
{
    const struct jc_metric_family *f = s->fam;
    if (f->type != JC_METRIC_HISTOGRAM || isnan(value))
        return;
    size_t i = 0;
    while (i < f->n_buckets && value > f->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_add_double(&s->sum_bits, value);
}

double jc_metric_value(const struct jc_metric *s)
{
    if (s->fam->type == JC_METRIC_HISTOGRAM)
        return (double)atomic_load_explicit(&((struct jc_metric *)s)->count, memory_order_relaxed);
    return bits_to_double(
        atomic_load_explicit(&((struct jc_metric *)s)->bits, memory_order_relaxed));
}

uint64_t jc_metric_bucket_count(const struct jc_metric *s, size_t i)
{
    const struct jc_metric_family *f = s->fam;
    if (f->type != JC_METRIC_HISTOGRAM || i > f->n_buckets)
        return 0;
    uint64_t c = 0;
    for (size_t k = 0; k <= i; k++)
        c += atomic_load_explicit(&((struct jc_metric *)s)->buckets[k], memory_order_relaxed);
    return c;
}

int jc_metrics_add_collector(struct jc_metrics *m, jc_metrics_collect_fn fn, void *ctx)
{
    pthread_mutex_lock(&m->mu);
    if (m->n_collectors >= MAX_COLLECTORS) {
        pthread_mutex_unlock(&m->mu);
        return jc_err_set(JC_ELIMIT, "more than %d metrics collectors", MAX_COLLECTORS);
    }
    m->collectors[m->n_collectors].fn = fn;
    m->collectors[m->n_collectors].ctx = ctx;
    m->n_collectors++;
    pthread_mutex_unlock(&m->mu);
    return JC_OK;
}

/* ---- exposition -------------------------------------------------------- */

/* Prometheus number syntax: NaN, +Inf, -Inf, else the shortest round trip. */
static void fmt_value(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, cap, "%.0f", v);
    } else {
        snprintf(out, cap, "%.15g", v);
        double back = strtod(out, NULL);
        if (back != v)
            snprintf(out, cap, "%.17g", v);
    }
}

static int put_escaped(struct jc_buf *b, const char *s, int in_help)
{
    int rc = JC_OK;
    for (; *s && rc == JC_OK; s++) {
        if (*s == '\\')
            rc = jc_buf_append(b, "\\\\", 2);
        else if (*s == '\n')
            rc = jc_buf_append(b, "\\n", 2);
        else if (*s == '"' && !in_help)
            rc = jc_buf_append(b, "\\\"", 2);
        else
            rc = jc_buf_append_char(b, *s);
    }
    return rc;
}

/* name{l1="v1",...[,le="x"]} */
static int put_series_name(struct jc_buf *b, const struct jc_metric_family *f,
                           const struct jc_metric *s, const char *suffix, const char *le)
{
    int rc = jc_buf_append_str(b, f->name);
    if (rc == JC_OK && suffix)
        rc = jc_buf_append_str(b, suffix);
    if (rc || (f->n_labels == 0 && le == NULL))
        return rc;
    rc = jc_buf_append_char(b, '{');
    for (size_t i = 0; i < f->n_labels && rc == JC_OK; i++) {
        if (i)
            rc = jc_buf_append_char(b, ',');
        if (rc == JC_OK)
            rc = jc_buf_printf(b, "%s=\"", f->labels[i]);
        if (rc == JC_OK)
            rc = put_escaped(b, s->values[i], 0);
        if (rc == JC_OK)
            rc = jc_buf_append_char(b, '"');
    }
    if (le && rc == JC_OK)
        rc = jc_buf_printf(b, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    if (rc == JC_OK)
        rc = jc_buf_append_char(b, '}');
    return rc;
}

static int render_family(struct jc_buf *b, const struct jc_metric_family *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    int rc = jc_buf_printf(b, "# HELP %s ", f->name);
    if (rc == JC_OK)
        rc = put_escaped(b, f->help, 1);
    if (rc == JC_OK)
        rc = jc_buf_printf(b, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    char num[64];
    for (struct jc_metric *s = atomic_load_explicit(&f->head, memory_order_acquire);
         s && rc == JC_OK; s = atomic_load_explicit(&s->next, memory_order_acquire)) {
        if (f->type != JC_METRIC_HISTOGRAM) {
            fmt_value(num, sizeof num, jc_metric_value(s));
            rc = put_series_name(b, f, s, NULL, NULL);
            if (rc == JC_OK)
                rc = jc_buf_printf(b, " %s\n", num);
            continue;
        }
        /* Snapshot the buckets once so the cumulative counts are monotone
         * and _count equals the +Inf bucket even under concurrent updates. */
        uint64_t cum = 0;
        for (size_t i = 0; i <= f->n_buckets && rc == JC_OK; i++) {
            cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            if (i < f->n_buckets)
                fmt_value(num, sizeof num, f->bounds[i]);
            else
                snprintf(num, sizeof num, "+Inf");
            rc = put_series_name(b, f, s, "_bucket", num);
            if (rc == JC_OK)
                rc = jc_buf_printf(b, " %llu\n", (unsigned long long)cum);
        }
        fmt_value(num, sizeof num,
                  bits_to_double(atomic_load_explicit(&s->sum_bits, memory_order_relaxed)));
        if (rc == JC_OK)
            rc = put_series_name(b, f, s, "_sum", NULL);
        if (rc == JC_OK)
            rc = jc_buf_printf(b, " %s\n", num);
        if (rc == JC_OK)
            rc = put_series_name(b, f, s, "_count", NULL);
        if (rc == JC_OK)
            rc = jc_buf_printf(b, " %llu\n", (unsigned long long)cum);
    }
    return rc;
}

static int cmp_family(const void *a, const void *b)
{
    const struct jc_metric_family *x = *(const struct jc_metric_family *const *)a;
    const struct jc_metric_family *y = *(const struct jc_metric_family *const *)b;
    return strcmp(x->name, y->name);
}

int jc_metrics_render(struct jc_metrics *m, struct jc_buf *out)
{
    /* Collectors first (outside the lock: they may register series). */
    pthread_mutex_lock(&m->mu);
    size_t nc = m->n_collectors;
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < nc; i++)
        m->collectors[i].fn(m->collectors[i].ctx, m);

    pthread_mutex_lock(&m->mu);
    size_t n = m->n_families;
    struct jc_metric_family **v = n ? jc_malloc_array(n, sizeof *v) : NULL;
    if (n && v == NULL) {
        pthread_mutex_unlock(&m->mu);
        return JC_ENOMEM;
    }
    size_t k = 0;
    for (struct jc_metric_family *f = m->families; f && k < n; f = f->next)
        v[k++] = f;
    pthread_mutex_unlock(&m->mu);
    qsort(v, k, sizeof *v, cmp_family);
    int rc = JC_OK;
    for (size_t i = 0; i < k && rc == JC_OK; i++)
        rc = render_family(out, v[i]);
    jc_free(v);
    return rc;
}
