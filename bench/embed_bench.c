/*
 * embed_bench.c - the junco side of bench/embed/run (program bench_embed).
 *
 *   bench_embed export HOME OUTDIR [TEST_FRAC] [THRESHOLD]
 *       Writes the temporal split's training data for the peers: seqs.txt
 *       (one line of external item ids per training sequence, gensim's
 *       LineSentence format), train.tsv (user, item of every training
 *       positive) and manifest.json (split, counts, SHA-256 of the files).
 *   bench_embed sgns CORPUS OUTVECS DIM WINDOW NEG EPOCHS MIN_COUNT SAMPLE THREADS SEED
 *       Trains SGNS on a text corpus (tokens = whitespace-separated words;
 *       THREADS > 1 turns hogwild on), writes word2vec text vectors and
 *       prints one JSON line: words, seconds (training loop only), words/s.
 *   bench_embed eval HOME METHOD ITEMVECS [USERVECS] [TEST_FRAC] [THRESHOLD]
 *       Loads vectors written by anyone (junco, gensim, NumPy, PyTorch) and
 *       evaluates them with junco's evaluator on the temporal split: one JSON
 *       line (next-item HR/NDCG@10 from the last item and the user vector,
 *       full-ranking NDCG/Recall@10 with training items masked).
 * Both sides of every comparison go through `eval`, so the metric code is
 * the same.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/hash.h"
#include "core/parse.h"
#include "eval/sha256.h"
#include <junco/catalog.h>
#include <junco/embed.h>
#include <junco/error.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *what)
{
    fprintf(stderr, "bench_embed: %s: %s\n", what, jc_errmsg());
    return 1;
}

static int open_cat(const char *home, struct jc_catalog **cat)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/catalog/catalog.jcat", home);
    return jc_catalog_open(cat, path);
}

static double arg_f(const char *s)
{
    double v = 0;
    if (jc_parse_f64_str(s, &v) != JC_OK) {
        fprintf(stderr, "bench_embed: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static int sha_file(const char *path, char hex[65])
{
    char *data;
    size_t len;
    int rc = jc_file_read_all(path, (size_t)1 << 34, &data, &len);
    if (rc)
        return rc;
    struct jc_sha256 s;
    uint8_t dg[32];
    jc_sha256_init(&s);
    jc_sha256_update(&s, data, len);
    jc_sha256_final(&s, dg);
    jc_sha256_hex(dg, hex);
    jc_free(data);
    return JC_OK;
}

static int cmd_export(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    double frac = argc > 2 ? arg_f(argv[2]) : 0.1;
    double thr = argc > 3 ? arg_f(argv[3]) : 3.5;
    struct jc_catalog *cat;
    if (open_cat(argv[0], &cat))
        return die("catalog");
    struct jc_embed_split sp;
    if (jc_embed_split_temporal(cat, frac, &sp))
        return die("split");
    if (jc_mkdir_p(argv[1]))
        return die("outdir");
    char p_seq[4096], p_tr[4096], p_man[4096];
    snprintf(p_seq, sizeof p_seq, "%s/seqs.txt", argv[1]);
    snprintf(p_tr, sizeof p_tr, "%s/train.tsv", argv[1]);
    snprintf(p_man, sizeof p_man, "%s/manifest.json", argv[1]);
    struct jc_seq_opts so;
    jc_seq_opts_default(&so);
    so.threshold = thr;
    so.split = &sp;
    struct jc_seqs s;
    if (jc_seqs_build(cat, &so, &s) || jc_seqs_write_text(&s, cat, p_seq))
        return die("sequences");
    struct jc_buf b;
    jc_buf_init(&b, JC_BUF_CAP_DEFAULT);
    struct jc_interactions ix;
    jc_catalog_interactions(cat, &ix);
    uint64_t n_pos = 0;
    for (uint64_t p = 0; p < ix.n; p++)
        if (ix.value[p] >= thr &&
            !jc_embed_split_is_test(&sp, ix.time[p], ix.user[p], ix.item[p])) {
            jc_buf_printf(&b, "%s\t%s\n", jc_catalog_user_ext_id(cat, ix.user[p]),
                          jc_catalog_item_ext_id(cat, ix.item[p]));
            n_pos++;
        }
    if (jc_file_write_atomic(p_tr, b.data ? b.data : "", b.len))
        return die("train.tsv");
    char h1[65], h2[65];
    if (sha_file(p_seq, h1) || sha_file(p_tr, h2))
        return die("sha256");
    jc_buf_reset(&b);
    jc_buf_printf(&b,
                  "{\"split\":\"temporal\",\"test_frac\":%g,\"threshold\":%g,\"cut_time\":%lld,"
                  "\"n_train\":%llu,\"n_test\":%llu,\"sequences\":%llu,\"tokens\":%llu,"
                  "\"train_positives\":%llu,\"catalog_checksum\":\"%016llx\","
                  "\"seqs_sha256\":\"%s\",\"train_sha256\":\"%s\"}\n",
                  frac, thr, (long long)sp.time, (unsigned long long)sp.n_train,
                  (unsigned long long)sp.n_test, (unsigned long long)s.n_seqs,
                  (unsigned long long)s.off[s.n_seqs], (unsigned long long)n_pos,
                  (unsigned long long)jc_catalog_checksum(cat), h1, h2);
    if (jc_file_write_atomic(p_man, b.data, b.len))
        return die("manifest");
    fputs(b.data, stdout);
    jc_buf_free(&b);
    jc_seqs_free(&s);
    jc_catalog_close(cat);
    return 0;
}

static int cmd_sgns(int argc, char **argv)
{
    if (argc < 10)
        return 2;
    char *data;
    size_t len;
    if (jc_file_read_all(argv[0], (size_t)1 << 36, &data, &len))
        return die("corpus");
    struct jc_strmap vocab;
    if (jc_strmap_init(&vocab, 1 << 16))
        return die("vocab");
    struct jc_buf toks, offs;
    jc_buf_init(&toks, JC_BUF_CAP_DEFAULT * 16);
    jc_buf_init(&offs, JC_BUF_CAP_DEFAULT);
    uint64_t zero = 0, n_seqs = 0;
    jc_buf_append(&offs, &zero, sizeof zero);
    uint64_t n_tok = 0;
    const char *p = data, *end = data + len;
    uint32_t n_vocab = 0;
    char **names = NULL;
    size_t names_cap = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        uint64_t before = n_tok;
        while (p < eol) {
            while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
                p++;
            const char *w = p;
            while (p < eol && *p != ' ' && *p != '\t' && *p != '\r')
                p++;
            if (p == w)
                continue;
            uint32_t id;
            int ins;
            if (jc_strmap_put(&vocab, w, (size_t)(p - w), n_vocab, &id, &ins))
                return die("vocab");
            if (ins) {
                if (n_vocab == names_cap) {
                    names_cap = names_cap ? 2 * names_cap : 1024;
                    names = jc_realloc(names, names_cap * sizeof *names);
                }
                names[n_vocab++] = jc_strndup(w, (size_t)(p - w));
            }
            jc_buf_append(&toks, &id, sizeof id);
            n_tok++;
        }
        if (n_tok > before) {
            jc_buf_append(&offs, &n_tok, sizeof n_tok);
            n_seqs++;
        }
        p = eol + 1;
    }
    jc_free(data);
    struct jc_sgns_opts o;
    jc_sgns_opts_default(&o);
    o.dim = (uint32_t)arg_f(argv[2]);
    o.window = (uint32_t)arg_f(argv[3]);
    o.negative = (uint32_t)arg_f(argv[4]);
    o.epochs = (uint32_t)arg_f(argv[5]);
    o.min_count = (uint32_t)arg_f(argv[6]);
    o.sample = arg_f(argv[7]);
    o.threads = (int)arg_f(argv[8]);
    o.hogwild = o.threads > 1;
    o.seed = (uint64_t)arg_f(argv[9]);
    struct jc_sgns_corpus c = {n_vocab, n_seqs, (const uint64_t *)offs.data,
                               (const uint32_t *)toks.data};
    float *vecs = jc_malloc_array((size_t)n_vocab * o.dim, sizeof *vecs);
    uint8_t *trained = jc_malloc(n_vocab);
    struct jc_sgns_result res;
    if (!vecs || !trained || jc_sgns_train(&c, &o, vecs, trained, &res))
        return die("sgns");
    struct jc_buf out;
    jc_buf_init(&out, JC_BUF_CAP_DEFAULT * 4);
    jc_buf_printf(&out, "%u %u\n", res.n_trained, o.dim);
    for (uint32_t t = 0; t < n_vocab; t++) {
        if (!trained[t])
            continue;
        jc_buf_append_str(&out, names[t]);
        for (uint32_t d = 0; d < o.dim; d++)
            jc_buf_printf(&out, " %.9g", (double)vecs[(size_t)t * o.dim + d]);
        jc_buf_append_char(&out, '\n');
    }
    if (jc_file_write_atomic(argv[1], out.data, out.len))
        return die("vectors");
    printf("{\"impl\":\"junco\",\"threads\":%d,\"words\":%llu,\"seconds\":%.6f,"
           "\"words_per_sec\":%.1f,\"vocab\":%u}\n",
           res.threads, (unsigned long long)res.words, res.seconds, res.words_per_sec,
           res.n_trained);
    for (uint32_t t = 0; t < n_vocab; t++)
        jc_free(names[t]);
    jc_free(names);
    jc_free(vecs);
    jc_free(trained);
    jc_buf_free(&out);
    jc_buf_free(&toks);
    jc_buf_free(&offs);
    jc_strmap_free(&vocab);
    return 0;
}

static int cmd_eval(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *users = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
    double frac = argc > 4 ? arg_f(argv[4]) : 0.1;
    double thr = argc > 5 ? arg_f(argv[5]) : 3.5;
    struct jc_catalog *cat;
    if (open_cat(argv[0], &cat))
        return die("catalog");
    enum jc_embed_method m;
    if (jc_embed_method_parse(argv[1], &m))
        return die("method");
    struct jc_emb *e = NULL;
    uint64_t unknown = 0, unknown_u = 0;
    if (jc_emb_import_text(argv[2], cat, 0, &e, &unknown))
        return die("item vectors");
    if (users && jc_emb_import_text(users, cat, 1, &e, &unknown_u))
        return die("user vectors");
    if (jc_emb_set_meta(e, m, NULL, NULL))
        return die("meta");
    struct jc_embed_split sp;
    if (jc_embed_split_temporal(cat, frac, &sp))
        return die("split");
    struct jc_embed_eval_opts eo;
    jc_embed_eval_opts_default(&eo);
    eo.threshold = thr;
    eo.threads = 0;
    struct jc_embed_eval ev;
    if (jc_embed_evaluate(cat, e, &sp, &eo, &ev))
        return die("evaluate");
    printf("{\"k\":%u,\"events\":%llu,\"hr_item\":%.6f,\"ndcg_item\":%.6f,\"hr_user\":%.6f,"
           "\"ndcg_user\":%.6f,\"full_users\":%u,\"ndcg_full\":%.6f,\"recall_full\":%.6f,"
           "\"hr_full\":%.6f,\"unknown_ids\":%llu}\n",
           ev.k, (unsigned long long)ev.n_events, ev.hr_item, ev.ndcg_item, ev.hr_user,
           ev.ndcg_user, ev.n_users, ev.ndcg_full, ev.recall_full, ev.hr_full,
           (unsigned long long)(unknown + unknown_u));
    jc_emb_destroy(e);
    jc_catalog_close(cat);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "export") == 0)
        rc = cmd_export(argc - 2, argv + 2);
    else if (argc >= 2 && strcmp(argv[1], "sgns") == 0)
        rc = cmd_sgns(argc - 2, argv + 2);
    else if (argc >= 2 && strcmp(argv[1], "eval") == 0)
        rc = cmd_eval(argc - 2, argv + 2);
    if (rc == 2)
        fprintf(stderr, "usage: bench_embed export HOME OUTDIR [TEST_FRAC] [THRESHOLD]\n"
                        "       bench_embed sgns CORPUS OUTVECS DIM WINDOW NEG EPOCHS MIN_COUNT "
                        "SAMPLE THREADS SEED\n"
                        "       bench_embed eval HOME METHOD ITEMVECS [USERVECS|-] [TEST_FRAC] "
                        "[THRESHOLD]\n");
    return rc;
}
