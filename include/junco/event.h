/*
 * junco/event.h - the event model: one user action and its two encodings.
 *
 * An event says that a user did something to an item: an impression (also
 * called exposure), click, view, rating, like, purchase, or a custom type
 * declared in [events] custom_types. It carries a value (the rating, a watch
 * fraction, a price; 1 by default), a timestamp, and optional request id,
 * A/B experiment + variant, and a small free-form JSON context object kept
 * as compact text.
 *
 * Timestamps are int64 Unix MILLISECONDS (time_ms). The catalog stores
 * seconds, but the event log is the real-time path: nearline latency is
 * measured in milliseconds and several events of one user often fall into
 * the same second, so seconds would lose their order. JSON input accepts
 * "time_ms" (integer), or "time" as Unix seconds (integer or fractional) or
 * an ISO 8601 string; JSON output always writes "time_ms".
 *
 * Users and items are external id strings, as in the catalog. Whether an
 * unknown user/item is created or rejected is decided later by the consumer
 * (events.unknown_entity = create|reject); this module only checks form.
 *
 * Encodings:
 *   - JSON: one object per event (JSONL in files), parsed with cJSON; unknown
 *     fields are errors. Written with the project's JSON writer in a
 *     canonical field order, so bin -> JSON -> bin is byte-exact.
 *   - binary (version 1, little-endian), used as the log record payload:
 *       0  u8  version (1)
 *       1  u8  type code (enum jc_event_type, or JC_EVENT_CUSTOM = 255)
 *       2  u8  user length          3 u8 item length
 *       4  u8  request id length    5 u8 experiment length
 *       6  u8  variant length       7 u8 custom type name length (0 if builtin)
 *       8  u16 context length
 *      10  i64 time_ms
 *      18  f32 value
 *      22  type name, user, item, request, experiment, variant, context bytes
 *     The record length is exactly 22 + the sum of the lengths; anything else
 *     is JC_ECORRUPT.
 *
 * The context is stored as given; jc_event_parse_json stores cJSON's compact
 * form of the object, which is what makes JSON round trips byte-exact.
 *
 * Strings in struct jc_event are (pointer, length) views, not NUL-terminated,
 * borrowed from the caller or from the decoded buffer; they stay valid as
 * long as that memory does. All functions are pure and thread-safe.
 */
#ifndef JUNCO_EVENT_H
#define JUNCO_EVENT_H

#include <junco/catalog.h>

#include <stddef.h>
#include <stdint.h>

#define JC_EVENT_BIN_VERSION      1
#define JC_EVENT_BIN_HEADER       22
#define JC_EVENT_CUSTOM           255
#define JC_EVENT_MAX_ID           255  /* user, item, request id: bytes */
#define JC_EVENT_MAX_LABEL        64   /* experiment, variant, custom type name */
#define JC_EVENT_MAX_CONTEXT      2048 /* compact JSON text of the context */
#define JC_EVENT_MAX_CUSTOM_TYPES 32
/* Upper bound of an encoded event (header + every field at its maximum). */
#define JC_EVENT_MAX_BIN \
    (JC_EVENT_BIN_HEADER + 3 * JC_EVENT_MAX_ID + 3 * JC_EVENT_MAX_LABEL + JC_EVENT_MAX_CONTEXT)
/* Scratch a JSON parse needs for the copied strings of one event. */
#define JC_EVENT_SCRATCH JC_EVENT_MAX_BIN

struct jc_event {
    const char *user;
    size_t user_len;
    const char *item;
    size_t item_len;
    uint8_t type;          /* enum jc_event_type, or JC_EVENT_CUSTOM */
    const char *type_name; /* custom types only (NULL for built-ins) */
    size_t type_name_len;
    float value;
    int64_t time_ms;        /* Unix milliseconds */
    const char *request_id; /* optional: NULL/0 when absent */
    size_t request_id_len;
    const char *experiment; /* optional A/B experiment and variant */
    size_t experiment_len;
    const char *variant;
    size_t variant_len;
    const char *context; /* optional compact JSON object text */
    size_t context_len;
};

/* The accepted custom type names (from events.custom_types). Caller-owned
 * value type; the names are copied in. */
struct jc_event_types {
    char names[JC_EVENT_MAX_CUSTOM_TYPES][JC_EVENT_MAX_LABEL + 1];
    uint32_t n;
};

/* Parses a comma-separated list such as "add_to_cart, share". Names must be
 * 1..64 bytes of [a-z0-9_-] and must not repeat a built-in type. Errors:
 * JC_EINVAL (message names the bad entry), JC_ELIMIT (more than 32). */
int jc_event_types_parse(struct jc_event_types *t, const char *list);

/* Resolves a type name: built-ins (incl. "exposure" = impression) give their
 * code; a declared custom name gives JC_EVENT_CUSTOM. Returns 1 if known. */
int jc_event_type_lookup(const struct jc_event_types *t, const char *name, size_t n, uint8_t *code);

/* The name of an event's type ("click", or the custom name) and its length. */
const char *jc_event_type_str(const struct jc_event *ev, size_t *len);

/* Sets every field to empty / default (value 1, time 0, type click). */
void jc_event_init(struct jc_event *ev);

/*
 * Checks an event: user and item 1..255 bytes of valid UTF-8 without control
 * characters; a known type (custom names must be in `types`; types may be
 * NULL to accept none); a finite value; time_ms in [0, 2^53); optional fields
 * within their limits; context, when present, a JSON object. Returns JC_OK or
 * JC_EINVAL with a message "field: reason" (e.g. "user: empty").
 */
int jc_event_validate(const struct jc_event *ev, const struct jc_event_types *types);

/*
 * Parses one JSON object into *ev. Fields: "user", "item" (strings, or
 * integers which are taken as their decimal text), "type", "value",
 * "time_ms" | "time", "request_id", "experiment", "variant", "context"
 * (object). Missing "value" means 1; missing time means now_ms. Strings are
 * copied into scratch (JC_EVENT_SCRATCH bytes, caller-owned, must outlive
 * *ev). Validates as jc_event_validate. Errors: JC_EPARSE (not JSON / not an
 * object), JC_EINVAL ("field: reason"); *ev is unspecified on failure.
 */
int jc_event_parse_json(const char *text, size_t n, const struct jc_event_types *types,
                        int64_t now_ms, struct jc_event *ev, char *scratch);

/* Appends the canonical JSON object of ev (no newline) to out. Errors:
 * JC_ELIMIT (buffer cap), JC_ENOMEM. */
struct jc_buf;
int jc_event_write_json(const struct jc_event *ev, struct jc_buf *out);

/* Size of the binary encoding of a (valid) event. */
size_t jc_event_bin_size(const struct jc_event *ev);
/* Encodes ev into out (cap bytes); *len receives the size. JC_ELIMIT if cap
 * is too small, JC_EINVAL if a field exceeds its limit, user or item is
 * empty, or the type is invalid (so whatever encodes also decodes). Does not
 * run the full validation (UTF-8, context JSON): callers validate first. */
int jc_event_encode(const struct jc_event *ev, void *out, size_t cap, size_t *len);
/* Decodes a binary event; string views point into data. JC_EVERSION for an
 * unknown version, JC_ECORRUPT for inconsistent lengths or type codes. */
int jc_event_decode(const void *data, size_t n, struct jc_event *ev);

#endif
