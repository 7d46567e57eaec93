/*
 * junco/config.h - effective configuration (junco.ini + environment + --set).
 *
 * Every setting is declared once in config_keys.def; this header turns the
 * table into struct jc_config with one member per key, named
 * <section>_<key> (cfg.core_threads, cfg.import_skip_bad, ...).
 *
 * Layering, lowest to highest precedence:
 *   1. the defaults in the table (jc_config_init);
 *   2. <home>/junco.ini (jc_config_load_file; unknown keys are errors with
 *      file:line, except in "dynamic" sections whose name contains a dot,
 *      such as [experiment.color] or [scene.home], which are kept as raw
 *      key/value pairs for the modules that own them);
 *   3. environment variables JUNCO_<SECTION>_<KEY> (jc_config_load_env);
 *   4. --set section.key=value (jc_config_set).
 * Values are validated when set (type, range, choices); a bad value is an
 * error naming the key and its source.
 *
 * Ownership: STR members and raw entries are owned by the struct and freed by
 * jc_config_free. Not thread-safe for writing; read-only use from many
 * threads is fine.
 */
#ifndef JUNCO_CONFIG_H
#define JUNCO_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define JC_CT_STR_CTYPE  char *
#define JC_CT_INT_CTYPE  int64_t
#define JC_CT_DBL_CTYPE  double
#define JC_CT_BOOL_CTYPE int
#define JC_CT_SIZE_CTYPE uint64_t

enum jc_config_key {
#define X(sec, key, type, def, lo, hi, choices, help) JC_CFG_##sec##_##key,
#include "config_keys.def"
#undef X
    JC_CFG__COUNT
};

enum jc_config_source {
    JC_CFG_SRC_DEFAULT = 0,
    JC_CFG_SRC_FILE,
    JC_CFG_SRC_ENV,
    JC_CFG_SRC_CLI,
};

struct jc_config_raw {
    char *section; /* e.g. "experiment.color" */
    char *key;
    char *value;
};

struct jc_config {
#define X(sec, key, type, def, lo, hi, choices, help) JC_CT_##type##_CTYPE sec##_##key;
#include "config_keys.def"
#undef X
    unsigned char source[JC_CFG__COUNT];
    struct jc_config_raw *raw; /* dynamic sections, in file order */
    size_t n_raw;
    char *file_path; /* the junco.ini that was loaded, or NULL */
};

/* Fills every key with its default. JC_ENOMEM only. */
int jc_config_init(struct jc_config *cfg);
void jc_config_free(struct jc_config *cfg);

/* Loads an INI file on top of the current values. JC_ENOTFOUND if missing,
 * JC_EPARSE / JC_ERANGE / JC_EINVAL with "file:line: ..." otherwise. */
int jc_config_load_file(struct jc_config *cfg, const char *path);
/* Applies JUNCO_<SECTION>_<KEY> variables that are set. */
int jc_config_load_env(struct jc_config *cfg);
/* Sets "section.key" to the text value; JC_ENOTFOUND for an unknown key. */
int jc_config_set(struct jc_config *cfg, const char *name, const char *value,
                  enum jc_config_source src);
/* Parses "section.key=value" (the --set syntax) and applies it. */
int jc_config_set_assignment(struct jc_config *cfg, const char *assignment,
                             enum jc_config_source src);

/* Key metadata, for dump and docs. */
struct jc_config_keyinfo {
    const char *section;
    const char *key;
    const char *type; /* "STR", "INT", ... */
    const char *def;
    double min, max;
    const char *choices;
    const char *help;
};
const struct jc_config_keyinfo *jc_config_keyinfo(enum jc_config_key k);
/* Index of "section.key" or -1. */
int jc_config_find(const char *name);
/* Formats the current value of key k as text into out. */
void jc_config_format_value(const struct jc_config *cfg, enum jc_config_key k, char *out,
                            size_t cap);
const char *jc_config_source_name(enum jc_config_source s);

/* First raw value of (section, key) in a dynamic section, or NULL. */
const char *jc_config_raw_get(const struct jc_config *cfg, const char *section, const char *key);

#endif
