/*
 * junco/samples.h - training samples: the offline point-in-time job, the
 * sharded binary sample files, the reader trainers stream from, and CSV/TSV
 * exports for peers and people.
 *
 * jc_samples_build walks the catalog once per item (item state snapshots)
 * and once per user (user state), emitting for each event a row whose
 * features come only from events with a strictly smaller timestamp, assigns
 * it to train/valid/test, and writes <dir>/<split>-<shard>.jcs files plus
 * <dir>/manifest.jcm (binary, authoritative: schema, fitted spec blob, row
 * counts, seed, split, per-shard checksums) and <dir>/manifest.json (the
 * same facts for people and peer scripts). The spec is fitted on the train
 * rows only (vocabularies with min-count, normalisation statistics).
 *
 * Splits: time (global temporal quantiles: train t < cut_valid <= valid <
 * cut_test <= test, equal timestamps never straddle a cut), loo (per user:
 * the last event is test, the one before it valid when valid > 0), random
 * (per event, seeded, independent of threads). Implicit negatives inherit
 * their positive's split. Shards are contiguous user ranges fixed by the
 * data (not by the thread count), so output is bit-identical for a seed
 * whatever the number of threads. The directory is replaced only when the
 * whole job succeeds.
 *
 * Sample file: a 64-byte header (magic "JCSHARD1", version, rows, row size,
 * split, shard, spec id, body checksum = xxh3-64 chained over blocks of
 * floor(512 KiB / row size) rows with the previous block's hash as seed,
 * header checksum) followed by
 * fixed-size raw rows (struct-of-fields: time, user, item, value, label,
 * n_cat raw ids, n_num raw numbers), so trainers can mmap a split and
 * shuffle by index. Rows are finished (vocabulary ids, normalisation) when
 * read, by the same code serving uses.
 *
 * Threading: a struct jc_samples is immutable once open; any number of
 * threads may read rows concurrently, each into its own batch.
 */
#ifndef JUNCO_SAMPLES_H
#define JUNCO_SAMPLES_H

#include <junco/catalog.h>
#include <junco/featspec.h>
#include <junco/features.h>
#include <junco/progress_cb.h>

#include <stdint.h>

#define JC_SAMPLES_FORMAT_VERSION 1

enum jc_split_method { JC_SPLIT_TIME = 0, JC_SPLIT_LOO = 1, JC_SPLIT_RANDOM = 2 };
enum jc_split { JC_SPLIT_TRAIN = 0, JC_SPLIT_VALID = 1, JC_SPLIT_TEST = 2, JC_SPLIT__COUNT = 3 };

/* "train", "valid", "test" / "time", "loo", "random". */
const char *jc_split_name(enum jc_split s);
const char *jc_split_method_name(enum jc_split_method m);
/* 0 and *out, or JC_EINVAL for an unknown name. */
int jc_split_parse(const char *name, enum jc_split *out);
int jc_split_method_parse(const char *name, enum jc_split_method *out);

struct jc_samples_opts {
    const char *dir; /* output directory (e.g. <home>/samples), replaced on success */
    enum jc_split_method split;
    double valid, test;  /* fractions (time, random); loo uses them as on/off */
    uint64_t seed;       /* random split and negative sampling */
    int threads;         /* 0 = one per CPU */
    uint64_t shard_rows; /* target events per shard */
    struct jc_progress progress;
};
void jc_samples_opts_default(struct jc_samples_opts *o);

struct jc_split_stats {
    uint64_t rows;
    uint64_t positives;
    int64_t time_min, time_max; /* of the rows (0 when no rows) */
    uint32_t shards;
};

struct jc_samples_report {
    struct jc_split_stats split[JC_SPLIT__COUNT];
    uint64_t events;             /* catalog interactions walked */
    uint64_t dropped;            /* events skipped for too little user history */
    uint64_t negatives;          /* sampled negative rows (implicit mode) */
    int64_t cut_valid, cut_test; /* time split cut points (else 0) */
    uint32_t row_size;
    uint64_t bytes; /* sample bytes written */
    double seconds;
};

/*
 * Runs the offline job. spec must have been created on cat; it is fitted on
 * the train rows on success (JC_ESTATE if already fitted). Errors:
 * JC_EINVAL (bad options: fractions, empty catalog), I/O errors with the
 * path, JC_ECANCELED when the progress callback asks to stop. On failure
 * the previous contents of o->dir are untouched.
 */
int jc_samples_build(const struct jc_catalog *cat, struct jc_featspec *spec,
                     const struct jc_samples_opts *o, struct jc_samples_report *rep);

/* ---- reading ---------------------------------------------------------------- */

struct jc_samples;

#define JC_SAMPLES_VERIFY 1u /* check every shard's body checksum on open */

/*
 * Opens one split of a sample directory: reads and checks the manifest,
 * loads the fitted spec (without a catalog: rows are finished with the ids
 * of the catalog they were built from) and maps the split's shards, checking
 * headers (and bodies with JC_SAMPLES_VERIFY) against the manifest.
 * Errors: JC_ENOTFOUND (no samples: run `junco features`), JC_ECORRUPT with
 * the file name, JC_EVERSION.
 */
int jc_samples_open(struct jc_samples **out, const char *dir, enum jc_split split, unsigned flags);
void jc_samples_close(struct jc_samples *s);

const struct jc_feat_layout *jc_samples_layout(const struct jc_samples *s);
/* The fitted spec (owned by s) and its serialised blob (borrowed bytes of
 * the manifest, valid while s is open) for embedding in model files. */
const struct jc_featspec *jc_samples_spec(const struct jc_samples *s);
void jc_samples_spec_blob(const struct jc_samples *s, const void **blob, size_t *n);
uint64_t jc_samples_rows(const struct jc_samples *s);
/* Manifest facts. */
enum jc_split_method jc_samples_method(const struct jc_samples *s);
uint64_t jc_samples_seed(const struct jc_samples *s);
uint64_t jc_samples_catalog_checksum(const struct jc_samples *s);

/*
 * Reads rows [begin, end) into out (out->cap >= end - begin, else
 * JC_ELIMIT; end <= rows, else JC_ERANGE), finished: vocabulary ids and
 * normalised numbers. Sets out->n. Thread-safe; no allocation.
 */
int jc_samples_read(const struct jc_samples *s, uint64_t begin, uint64_t end, struct jc_batch *out);
/* Reads the rows idx[0..n) (any order, repeats allowed) into out. */
int jc_samples_read_index(const struct jc_samples *s, const uint64_t *idx, uint32_t n,
                          struct jc_batch *out);

/* ---- exports ----------------------------------------------------------------- */

enum jc_export_format {
    JC_EXPORT_CSV = 0, /* the course's 27-column trainingSamples.csv order, raw values */
    JC_EXPORT_TSV = 1, /* finished rows: label, value, user, item, time, slots, numbers */
};

/* Checks that the spec holds what the format needs (the CSV needs all the
 * reference columns). JC_EINVAL naming the first missing column. */
int jc_samples_export_check(const struct jc_featspec *spec, enum jc_export_format fmt);

/* Writes one split of an open sample set to path (atomically). The CSV needs
 * the catalog the samples were built from (external ids, genre names;
 * JC_ESTATE if its checksum differs). *rows may be NULL. */
int jc_samples_export(const struct jc_samples *s, const struct jc_catalog *cat,
                      enum jc_export_format fmt, const char *path, uint64_t *rows);

#endif
