/*
 * junco/ann.h - nearest-neighbour indexes over float vectors (the engine of
 * the recall layer: "items similar to this item", "items for this user
 * vector").
 *
 * One interface, three implementations chosen by jc_ann_config.type:
 *   - JC_ANN_FLAT: exact search, a SIMD scan (AVX-512 / AVX2+FMA picked at
 *     run time, scalar fallback) with a top-k heap; the reference answer;
 *   - JC_ANN_HNSW: a hierarchical navigable small-world graph (Malkov &
 *     Yashunin): approximate, fast, incremental insert, tombstone delete,
 *     mmap-able file;
 *   - JC_ANN_LSH: multi-table random-projection (sign) LSH as in the course:
 *     each table hashes a vector to `lsh_bits` signs of random projections;
 *     the candidates from all tables' buckets (plus `lsh_probes` neighbouring
 *     buckets per table) are re-ranked exactly.
 *
 * Ids. Vectors are stored under uint32 ids chosen by the caller (e.g. dense
 * catalog item ids); any value except JC_ANN_NO_ID. An id is present at most
 * once. jc_ann_remove tombstones an id: it is never returned again, and it
 * may be added again later (a new vector under the same id).
 *
 * Metrics and scores. Every search returns hits with a `score` where HIGHER
 * IS CLOSER, sorted by descending score, ties by ascending id:
 *   - JC_ANN_IP:     score = dot(q, x)                (maximum inner product)
 *   - JC_ANN_COSINE: score = cos(q, x) in [-1, 1]; vectors and queries are
 *                    normalised to unit length on insert / at query time, so
 *                    jc_ann_get_vector returns the normalised vector;
 *   - JC_ANN_L2:     score = -||q - x||^2            (negated squared L2)
 * For HNSW with JC_ANN_IP, the graph is built with -dot as the distance (as
 * hnswlib's "ip" space does); this works well when norms are similar, which
 * holds for embedding vectors; use COSINE when norms are meaningless.
 * Zero vectors are rejected for COSINE; non-finite components always.
 *
 * Vector layout: a vector is `dim` contiguous floats; a batch of n vectors is
 * row-major n x dim with leading dimension dim (row i at vecs + i * dim).
 * Inputs are copied; the index never keeps caller pointers.
 *
 * Files. jc_ann_save writes one file (magic "JCANNIDX", format version,
 * xxh3 checksums of header and body) atomically (temporary file + fsync +
 * rename). jc_ann_load validates everything (checksums, sizes, every
 * neighbour id and level of an HNSW graph) so a corrupt, truncated or
 * hostile file fails with JC_ECORRUPT and a message naming the file and the
 * problem, never a crash. By default an HNSW file is memory-mapped and
 * searched in place (no copy of the vectors; load time is one checksum
 * pass); load with opts.writable = 1 to get a heap copy that accepts
 * jc_ann_add. FLAT and LSH indexes are always loaded into memory (writable).
 *
 * Threading. A jc_ann has one writer: jc_ann_add, jc_ann_add_batch,
 * jc_ann_remove and jc_ann_destroy must not run concurrently with any other
 * call on the same index. Read calls (jc_ann_search, jc_ann_search_batch,
 * jc_ann_get_vector, jc_ann_contains, jc_ann_count, jc_ann_info, jc_ann_save,
 * jc_ann_recall) may run concurrently from any number of threads.
 * jc_ann_add_batch and jc_ann_search_batch use the index's own worker pool
 * of `threads` threads (batch calls on one index are serialised internally).
 * Determinism: search results never depend on the thread count. A FLAT or
 * LSH index is always identical for the same inputs; an HNSW index built
 * with threads = 1 and a given seed is bit-identical across runs (its saved
 * file too); multi-threaded HNSW insertion is faster but its graph depends
 * on thread timing.
 *
 * Errors: JC_EINVAL (bad config, bad vector, bad argument, with the value in
 * the message), JC_EEXISTS (id already present), JC_ENOTFOUND (id absent),
 * JC_ESTATE (add on a read-only mapped index), JC_ELIMIT (more than
 * JC_ANN_MAX_COUNT vectors), JC_ENOMEM, JC_EIO/JC_ENOSPACE (files),
 * JC_ECORRUPT / JC_EVERSION (load), JC_ECANCELED (progress callback asked to
 * stop; the vectors added before the stop stay in the index).
 * Results go through out-parameters, untouched on failure (except that a
 * jc_ann_search_batch failing with JC_ENOMEM may have filled some rows).
 */
#ifndef JUNCO_ANN_H
#define JUNCO_ANN_H

#include <junco/progress_cb.h>

#include <stddef.h>
#include <stdint.h>

#define JC_ANN_FORMAT_VERSION 1
#define JC_ANN_MAX_DIM        4096u       /* largest supported dimension */
#define JC_ANN_MAX_K          100000u     /* largest k / ef of one search */
#define JC_ANN_MAX_COUNT      2000000000u /* most vectors in one index */
#define JC_ANN_NO_ID          UINT32_MAX  /* reserved: not a valid id */

struct jc_ann;
struct jc_config;

enum jc_ann_type {
    JC_ANN_FLAT = 0,
    JC_ANN_HNSW = 1,
    JC_ANN_LSH = 2,
};

enum jc_ann_metric {
    JC_ANN_IP = 0,
    JC_ANN_COSINE = 1,
    JC_ANN_L2 = 2,
};

/* How an index is built. Fill with jc_ann_config_default, then set fields. */
struct jc_ann_config {
    enum jc_ann_type type;     /* default JC_ANN_HNSW */
    enum jc_ann_metric metric; /* default JC_ANN_COSINE */
    uint32_t dim;              /* 1..JC_ANN_MAX_DIM; no default (0 = invalid) */
    uint32_t capacity;         /* expected vectors (a hint; the index grows); default 0 */
    /* HNSW */
    uint32_t hnsw_m;               /* links per node on levels >= 1 (2 * m on level 0);
                                      2..128, default 16 */
    uint32_t hnsw_ef_construction; /* candidate list while inserting; >= 1, default 200 */
    uint32_t hnsw_ef_search;       /* default candidate list of a search; >= 1, default 64 */
    /* LSH */
    uint32_t lsh_tables; /* hash tables; 1..64, default 16 */
    uint32_t lsh_bits;   /* sign bits per table (2^bits buckets); 1..24, default 10 */
    uint32_t lsh_probes; /* extra buckets probed per table, those whose code differs in
                            one bit, nearest to the query first; 0..lsh_bits, default 2 */
    uint64_t seed;       /* HNSW levels, LSH projections; default 42 */
    int threads;         /* pool for add_batch / search_batch; 0 = one per CPU, default 1 */
};

/* Fills the defaults documented above. */
void jc_ann_config_default(struct jc_ann_config *cfg);

/*
 * Fills the defaults, then applies the [ann] section of junco.ini
 * (ann.type, ann.metric, ann.hnsw_m, ann.hnsw_ef_construction,
 * ann.hnsw_ef_search, ann.lsh_tables, ann.lsh_bits, ann.lsh_probes) and
 * core.seed / core.threads. dim is left 0 for the caller to set.
 */
void jc_ann_config_from(struct jc_ann_config *cfg, const struct jc_config *jcfg);

/* Names: "flat" / "hnsw" / "lsh"; "ip" / "cosine" / "l2". The parsers accept
 * exactly these words (and "inner-product" / "dot" for ip); JC_EINVAL with
 * the bad word otherwise, *out untouched. Names of bad values are "?". */
const char *jc_ann_type_name(enum jc_ann_type t);
const char *jc_ann_metric_name(enum jc_ann_metric m);
int jc_ann_parse_type(const char *s, enum jc_ann_type *out);
int jc_ann_parse_metric(const char *s, enum jc_ann_metric *out);

/* An empty index. Validates cfg (JC_EINVAL naming the bad field). The caller
 * owns *out and releases it with jc_ann_destroy. */
int jc_ann_create(struct jc_ann **out, const struct jc_ann_config *cfg);

/* Releases the index (and unmaps its file). NULL is a no-op. */
void jc_ann_destroy(struct jc_ann *ix);

/*
 * Adds one vector (dim floats, copied) under `id`. JC_EEXISTS if id is
 * present, JC_EINVAL for id == JC_ANN_NO_ID, non-finite components or a
 * zero vector with COSINE, JC_ESTATE on a read-only mapped index.
 */
int jc_ann_add(struct jc_ann *ix, uint32_t id, const float *vec);

/*
 * Adds n vectors: ids[i] with row i of `vecs` (row-major n x dim). All rows
 * and ids are validated before anything is added (an error leaves the index
 * unchanged, including duplicate ids inside the batch), except JC_ENOMEM and
 * JC_ECANCELED in the middle of an HNSW build, after which the vectors
 * inserted so far remain searchable. HNSW inserts with the index's pool
 * (threads > 1: parallel, not bit-deterministic). progress may be NULL;
 * it is called from the calling thread with stage "ann build", unit "vectors".
 */
int jc_ann_add_batch(struct jc_ann *ix, const uint32_t *ids, const float *vecs, size_t n,
                     const struct jc_progress *progress);

/* Tombstones id: it is never returned by a search again and jc_ann_contains
 * says 0. JC_ENOTFOUND if absent (or already removed). Works on read-only
 * mapped indexes too (the tombstones live in memory until the next save). */
int jc_ann_remove(struct jc_ann *ix, uint32_t id);

/* 1 if id is present and not removed, else 0. */
int jc_ann_contains(const struct jc_ann *ix, uint32_t id);

/* Number of live (not removed) vectors. */
size_t jc_ann_count(const struct jc_ann *ix);

/* Copies the stored vector of id into out (dim floats; normalised for
 * COSINE). JC_ENOTFOUND if absent or removed. */
int jc_ann_get_vector(const struct jc_ann *ix, uint32_t id, float *out);

struct jc_ann_info {
    enum jc_ann_type type;
    enum jc_ann_metric metric;
    uint32_t dim;
    size_t n_live;    /* jc_ann_count */
    size_t n_removed; /* tombstones */
    size_t bytes;     /* memory held (heap + mapping) */
    int mapped;       /* 1: searching a read-only file mapping */
    uint32_t hnsw_m, hnsw_ef_construction, hnsw_ef_search;
    int hnsw_max_level; /* -1 when empty */
    uint32_t lsh_tables, lsh_bits, lsh_probes;
    uint64_t seed;
    int threads;
};
void jc_ann_info(const struct jc_ann *ix, struct jc_ann_info *out);

/* Per-search options. Fill with jc_ann_search_opts_default. */
struct jc_ann_search_opts {
    uint32_t ef;    /* HNSW candidate list; 0 = the index's hnsw_ef_search; raised to k */
    int lsh_probes; /* LSH extra probes per table; < 0 = the index's lsh_probes */
    int exact;      /* 1: exact scan over the stored vectors, whatever the type */
    /* Optional filter: a hit is returned only if keep(keep_ctx, id) != 0.
     * Filtered-out vectors are still traversed by HNSW, so a very selective
     * filter needs a larger ef (or exact = 1). In search_batch, keep is
     * called from several threads at once and must be thread-safe. */
    int (*keep)(void *keep_ctx, uint32_t id);
    void *keep_ctx;
};
void jc_ann_search_opts_default(struct jc_ann_search_opts *o);

struct jc_ann_hit {
    uint32_t id;
    float score; /* higher is closer; see "Metrics and scores" */
};

/*
 * The k nearest live vectors to query (dim floats): out[0..*n_out-1], sorted
 * by descending score (ties: ascending id); *n_out < k when fewer vectors
 * pass. k in 1..JC_ANN_MAX_K. opts may be NULL (defaults). JC_EINVAL for a
 * bad k, non-finite query or zero query with COSINE. Thread-safe reader.
 */
int jc_ann_search(const struct jc_ann *ix, const float *query, uint32_t k,
                  const struct jc_ann_search_opts *opts, struct jc_ann_hit *out, uint32_t *n_out);

/*
 * n independent searches: query i is row i of `queries` (row-major n x dim);
 * its hits go to out[i * k .. i * k + n_out[i] - 1] (out holds n * k hits,
 * n_out holds n counts). Runs on the index's pool; the output is identical
 * to n calls of jc_ann_search, whatever the thread count. A bad query makes
 * the whole call fail with its row number in the message.
 */
int jc_ann_search_batch(const struct jc_ann *ix, const float *queries, size_t n, uint32_t k,
                        const struct jc_ann_search_opts *opts, struct jc_ann_hit *out,
                        uint32_t *n_out);

/*
 * Recall@k of this index against exact search over its own vectors: the mean
 * over the n queries of |approx top-k ∩ exact top-k| / |exact top-k| (queries
 * with an empty exact answer are skipped). Uses opts (ef, filter) for the
 * approximate side and the same filter for the exact side. The quality
 * measurement of issue 5 item 8 and of bench/ann.
 */
int jc_ann_recall(const struct jc_ann *ix, const float *queries, size_t n, uint32_t k,
                  const struct jc_ann_search_opts *opts, double *recall);

/* Writes the index (tombstones included) to path atomically. Saving the same
 * index twice gives byte-identical files; so does save -> load -> save. */
int jc_ann_save(const struct jc_ann *ix, const char *path);

struct jc_ann_load_opts {
    int writable;       /* 1: heap copy that accepts jc_ann_add (HNSW); default 0 (mmap) */
    int threads;        /* pool size for batch calls; 0 = one per CPU; default 1 */
    uint32_t ef_search; /* 0 = the value stored in the file */
};
void jc_ann_load_opts_default(struct jc_ann_load_opts *o);

/* Opens an index file written by jc_ann_save. opts may be NULL (defaults).
 * Errors: JC_ENOTFOUND / JC_EIO (file), JC_ECORRUPT (bad magic, checksum,
 * size, neighbour id, level, ...), JC_EVERSION (newer format), JC_ENOMEM. */
int jc_ann_load(struct jc_ann **out, const char *path, const struct jc_ann_load_opts *opts);

#endif
