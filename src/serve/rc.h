/*
 * rc.h - intrusive reference counting for the components of a served
 * snapshot (catalog, overlay, view, later models and indexes).
 *
 * A component embeds struct jc_rc as its first member and passes its
 * destructor to jc_rc_init; the last jc_rc_release destroys it. Counts are
 * atomic, so references may be taken and dropped from any thread; the
 * object itself must be immutable while shared.
 */
#ifndef JC_SERVE_RC_H
#define JC_SERVE_RC_H

#include <stdatomic.h>

struct jc_rc {
    atomic_long refs;
    void (*destroy)(struct jc_rc *self);
};

/* Sets the count to 1 (the creator's reference). */
void jc_rc_init(struct jc_rc *rc, void (*destroy)(struct jc_rc *));
void jc_rc_retain(struct jc_rc *rc);
/* Drops a reference; destroys the object at zero. NULL is a no-op. */
void jc_rc_release(struct jc_rc *rc);

#endif
