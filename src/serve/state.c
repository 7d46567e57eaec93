/*
 * state.c - reference counting, the catalog and data components, snapshot
 * roots and the publication slot (see state.h for the protocol).
 *
 * Component lifetimes: a snapshot root holds one reference to its data
 * component, which holds one to its catalog component and one to its
 * overlay version; each is destroyed by whoever drops its last reference,
 * so an upsert (new data component over the same catalog component) or a
 * reload (new catalog component) never frees what a request still reads.
 *
 * The slot uses a mutex rather than a lock-free scheme: acquiring is a
 * lock, one atomic increment and an unlock (tens of nanoseconds, far below
 * the cost of a request), and it makes the "pointer read + increment" pair
 * atomic with respect to a concurrent swap without hazard pointers.
 */
#include "serve/state.h"

#include "core/alloc.h"
#include "core/timeutil.h"
#include "serve/experiment.h"
#include "serve/pipeline.h"
#include <junco/error.h>

#include <stdio.h>
#include <string.h>

void jc_rc_init(struct jc_rc *rc, void (*destroy)(struct jc_rc *))
{
    atomic_init(&rc->refs, 1);
    rc->destroy = destroy;
}

void jc_rc_retain(struct jc_rc *rc)
{
    atomic_fetch_add_explicit(&rc->refs, 1, memory_order_relaxed);
}

void jc_rc_release(struct jc_rc *rc)
{
    if (rc == NULL)
        return;
    if (atomic_fetch_sub_explicit(&rc->refs, 1, memory_order_acq_rel) == 1)
        rc->destroy(rc);
}

static void catalog_comp_destroy(struct jc_rc *rc)
{
    struct jc_catalog_comp *c = (struct jc_catalog_comp *)rc;
    jc_catstats_destroy(c->stats);
    jc_catalog_close(c->cat);
    jc_free(c);
}

int jc_catalog_comp_open(struct jc_catalog_comp **out, const char *path)
{
    struct jc_catalog_comp *c = jc_calloc(1, sizeof *c);
    if (c == NULL)
        return JC_ENOMEM;
    int rc = jc_catalog_open(&c->cat, path);
    if (rc == JC_OK)
        rc = jc_catstats_build(&c->stats, c->cat);
    if (rc) {
        if (c->cat)
            jc_catalog_close(c->cat);
        jc_free(c);
        return rc;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    c->loaded_at = jc_wall_s();
    jc_rc_init(&c->rc, catalog_comp_destroy);
    *out = c;
    return JC_OK;
}

static void data_comp_destroy(struct jc_rc *rc)
{
    struct jc_data_comp *d = (struct jc_data_comp *)rc;
    jc_catidx_destroy(d->idx);
    jc_view_free(&d->view);
    jc_rc_release(&d->overlay->rc);
    jc_rc_release(&d->catalog->rc);
    jc_free(d);
}

int jc_data_comp_create(struct jc_data_comp **out, struct jc_catalog_comp *catalog,
                        struct jc_overlay *overlay)
{
    struct jc_data_comp *d = jc_calloc(1, sizeof *d);
    if (d == NULL)
        return JC_ENOMEM;
    int rc = JC_OK;
    if (overlay)
        jc_rc_retain(&overlay->rc);
    else
        rc = jc_overlay_create(&overlay);
    if (rc) {
        jc_free(d);
        return rc;
    }
    d->overlay = overlay;
    rc = jc_view_build(&d->view, catalog->cat, overlay);
    if (rc == JC_OK && (rc = jc_catidx_build(&d->idx, &d->view, catalog->stats)))
        jc_view_free(&d->view);
    if (rc) {
        jc_rc_release(&overlay->rc);
        jc_free(d);
        return rc;
    }
    jc_rc_retain(&catalog->rc);
    d->catalog = catalog;
    jc_rc_init(&d->rc, data_comp_destroy);
    *out = d;
    return JC_OK;
}

static void state_destroy(struct jc_rc *rc)
{
    struct jc_serve_state *st = (struct jc_serve_state *)rc;
    for (int i = 0; i < JC_SERVE_MAX_EMBS; i++) {
        struct jc_uvec_cache *c = atomic_load(&st->uvec[i]);
        if (c) {
            jc_free((void *)c->status);
            jc_free(c->vec);
            jc_free(c);
        }
    }
    struct jc_cooc_cache *cc = atomic_load(&st->cooc);
    if (cc) {
        for (uint32_t u = 0; u < cc->n_users; u++)
            jc_free(atomic_load(&cc->rows[u]));
        jc_free((void *)cc->rows);
        jc_free(cc);
    }
    jc_serve_comps_release(st);
    jc_experiments_destroy(st->experiments);
    jc_scenes_destroy(st->scenes);
    jc_rc_release(&st->data->rc);
    jc_free(st);
}

int jc_serve_state_create(struct jc_serve_state **out, struct jc_data_comp *data,
                          const struct jc_config *cfg, uint64_t version)
{
    return jc_serve_state_build(out, data, cfg, version, NULL, NULL);
}

int jc_serve_state_build(struct jc_serve_state **out, struct jc_data_comp *data,
                         const struct jc_config *cfg, uint64_t version,
                         const struct jc_comps_opts *o, int *changed)
{
    struct jc_serve_state *st = jc_calloc(1, sizeof *st);
    if (st == NULL)
        return JC_ENOMEM;
    st->data = data;
    st->model_default = st->emb_default = st->emb_mf = -1;
    st->threshold = cfg ? cfg->embed_threshold : 3.5;
    int rc = JC_OK;
    if (changed)
        *changed = 0;
    if (o && (rc = jc_serve_comps_load(st, o, changed))) {
        jc_serve_comps_release(st);
        jc_free(st);
        return rc;
    }
    rc = jc_scenes_build_for(&st->scenes, cfg, st->resources);
    if (rc == JC_OK && (rc = jc_experiments_build(&st->experiments, cfg, st->scenes)))
        jc_scenes_destroy(st->scenes);
    if (rc) {
        jc_serve_comps_release(st);
        jc_free(st);
        return rc;
    }
    jc_rc_retain(&data->rc);
    st->data = data;
    st->version = version;
    st->published_at = jc_wall_s();
    jc_rc_init(&st->rc, state_destroy);
    *out = st;
    return JC_OK;
}

void jc_state_slot_init(struct jc_state_slot *s)
{
    pthread_mutex_init(&s->mu, NULL);
    s->cur = NULL;
}

void jc_state_slot_free(struct jc_state_slot *s)
{
    jc_state_slot_swap(s, NULL);
    pthread_mutex_destroy(&s->mu);
}

struct jc_serve_state *jc_state_acquire(struct jc_state_slot *s)
{
    pthread_mutex_lock(&s->mu);
    struct jc_serve_state *st = s->cur;
    if (st)
        jc_rc_retain(&st->rc);
    pthread_mutex_unlock(&s->mu);
    return st;
}

void jc_state_release(struct jc_serve_state *st)
{
    if (st)
        jc_rc_release(&st->rc);
}

void jc_state_slot_swap(struct jc_state_slot *s, struct jc_serve_state *st)
{
    pthread_mutex_lock(&s->mu);
    struct jc_serve_state *old = s->cur;
    s->cur = st;
    pthread_mutex_unlock(&s->mu);
    jc_state_release(old);
}
