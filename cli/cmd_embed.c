/*
 * cmd_embed.c - `junco embed --method M [params] --name NAME`: train item
 * (and user) vectors from the catalog and save them as
 * <home>/embeddings/<name>.jemb; optionally evaluate them on the temporal
 * split (--eval) and export them to the course's text format.
 *
 * Every parameter defaults to the [embed] section of junco.ini (see
 * `junco config dump`); --epochs, --lr and --reg apply to the chosen
 * method (SGNS epochs or MF epochs, SGNS or BPR learning rate, iALS or BPR
 * regularisation).
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "core/json.h"
#include <junco/ann.h>
#include <junco/embed.h>
#include <junco/error.h>
#include <junco/store.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Builds an index of the trained item vectors in memory and measures its
 * recall@k against exact search (the ANN part of --eval). */
static int eval_with_index(const struct jc_cli *cli, const struct jc_catalog *cat,
                           const struct jc_emb *e, const struct jc_embed_split *split,
                           struct jc_embed_eval_opts *eo, struct jc_embed_eval *ev)
{
    struct jc_ann_config ac;
    jc_ann_config_from(&ac, &cli->cfg);
    ac.dim = jc_emb_dim(e);
    ac.metric = JC_ANN_COSINE;
    struct jc_ann *ix = NULL;
    int rc = jc_ann_create(&ix, &ac);
    uint32_t n = jc_emb_n_items(e), m = 0;
    uint32_t *ids = NULL;
    if (rc == JC_OK && (ids = jc_malloc_array(n ? n : 1, sizeof *ids)) == NULL)
        rc = JC_ENOMEM;
    float *vecs = NULL;
    if (rc == JC_OK) {
        for (uint32_t i = 0; i < n; i++) {
            const float *v = jc_emb_item_vec(e, i);
            float s = 0;
            for (uint32_t f = 0; f < jc_emb_dim(e); f++)
                s += v[f] * v[f];
            if (jc_emb_item_status(e, i) == JC_EMB_TRAINED && s > 0)
                ids[m++] = i;
        }
        vecs = jc_malloc_array((size_t)m * jc_emb_dim(e) + 1, sizeof *vecs);
        if (vecs == NULL)
            rc = JC_ENOMEM;
    }
    if (rc == JC_OK) {
        for (uint32_t r = 0; r < m; r++)
            memcpy(vecs + (size_t)r * jc_emb_dim(e), jc_emb_item_vec(e, ids[r]),
                   jc_emb_dim(e) * sizeof *vecs);
        rc = jc_ann_add_batch(ix, ids, vecs, m, NULL);
    }
    jc_free(ids);
    jc_free(vecs);
    if (rc == JC_OK) {
        eo->index = ix;
        rc = jc_embed_evaluate(cat, e, split, eo, ev);
        eo->index = NULL;
    }
    jc_ann_destroy(ix);
    return rc;
}

static void eval_json(struct jc_json *j, const struct jc_embed_eval *ev, const char *index_type)
{
    jc_json_key(j, "eval");
    jc_json_obj_begin(j);
    jc_json_kv_str(j, "split", "temporal");
    jc_json_kv_int(j, "k", ev->k);
    jc_json_kv_int(j, "events", (int64_t)ev->n_events);
    jc_json_kv_double(j, "hr_item", ev->hr_item);
    jc_json_kv_double(j, "ndcg_item", ev->ndcg_item);
    jc_json_kv_double(j, "hr_user", ev->hr_user);
    jc_json_kv_double(j, "ndcg_user", ev->ndcg_user);
    jc_json_kv_int(j, "full_users", ev->n_users);
    jc_json_kv_double(j, "ndcg_full", ev->ndcg_full);
    jc_json_kv_double(j, "recall_full", ev->recall_full);
    jc_json_kv_double(j, "hr_full", ev->hr_full);
    jc_json_key(j, "ann_recall");
    if (ev->ann_recall >= 0)
        jc_json_double(j, ev->ann_recall);
    else
        jc_json_null(j);
    jc_json_kv_str(j, "ann_type", index_type);
    jc_json_kv_double(j, "seconds", ev->seconds);
    jc_json_obj_end(j);
}

int jc_cmd_embed(struct jc_cli *cli, int argc, char **argv)
{
    const char *method_s = NULL, *name = NULL, *export_path = NULL, *export_users = NULL;
    int64_t dim = 0, window = 0, negative = 0, epochs = 0, min_count = 0, walks = 0;
    int64_t walk_length = 0, cg_steps = 0, threads = 0, seed = 0, session_gap = 0;
    double threshold = 0, sample = 0, lr = 0, min_lr = 0, p = 0, q = 0, alpha = 0, reg = 0;
    double half_life = 0, test_frac = 0.1, edge_norm = 0;
    int directed = 0, undirected = 0, hogwild = 0, do_eval = 0, json = 0, to_store = 0;
    int s_dim = 0, s_window = 0, s_neg = 0, s_epochs = 0, s_minc = 0, s_walks = 0, s_wl = 0;
    int s_cg = 0, s_thr = 0, s_seed = 0, s_gap = 0, s_th = 0, s_sample = 0, s_lr = 0;
    int s_minlr = 0, s_p = 0, s_q = 0, s_alpha = 0, s_reg = 0, s_hl = 0, s_en = 0;
    const struct jc_opt opts[] = {
        {"method", 'm', JC_OPT_STR, &method_s, "M",
         "item2vec | deepwalk | node2vec | ials | bpr (default embed.method)", NULL},
        {"name", 0, JC_OPT_STR, &name, "NAME",
         "save as <home>/embeddings/NAME.jemb (default: the method name)", NULL},
        {"dim", 'd', JC_OPT_INT, &dim, "N", "vector dimension (embed.dim)", &s_dim},
        {"threshold", 0, JC_OPT_DBL, &threshold, "X", "positives: value >= X (embed.threshold)",
         &s_th},
        {"session-gap", 0, JC_OPT_INT, &session_gap, "SEC",
         "cut sequences at gaps longer than SEC seconds, 0 = never (embed.session_gap)", &s_gap},
        {"window", 0, JC_OPT_INT, &window, "N", "SGNS window (embed.window)", &s_window},
        {"negative", 0, JC_OPT_INT, &negative, "N", "SGNS negatives (embed.negative)", &s_neg},
        {"epochs", 'e', JC_OPT_INT, &epochs, "N",
         "SGNS epochs (embed.epochs) or iALS sweeps / BPR epochs (embed.mf_epochs)", &s_epochs},
        {"min-count", 0, JC_OPT_INT, &min_count, "N", "SGNS min count (embed.min_count)", &s_minc},
        {"sample", 0, JC_OPT_DBL, &sample, "X", "subsampling threshold (embed.sample)", &s_sample},
        {"lr", 0, JC_OPT_DBL, &lr, "X", "SGNS or BPR learning rate (embed.lr / embed.bpr_lr)",
         &s_lr},
        {"min-lr", 0, JC_OPT_DBL, &min_lr, "X", "SGNS final learning rate (embed.min_lr)",
         &s_minlr},
        {"walks", 0, JC_OPT_INT, &walks, "N", "walks per item (embed.walks)", &s_walks},
        {"walk-length", 0, JC_OPT_INT, &walk_length, "N", "items per walk (embed.walk_length)",
         &s_wl},
        {"p", 0, JC_OPT_DBL, &p, "X", "node2vec return parameter (embed.p)", &s_p},
        {"q", 0, JC_OPT_DBL, &q, "X", "node2vec in-out parameter (embed.q)", &s_q},
        {"directed", 0, JC_OPT_FLAG, &directed, NULL, "directed transition graph", NULL},
        {"edge-norm", 0, JC_OPT_DBL, &edge_norm, "X",
         "edge weight = count / (strength_a strength_b)^X (embed.edge_norm)", &s_en},
        {"undirected", 0, JC_OPT_FLAG, &undirected, NULL, "undirected transition graph", NULL},
        {"alpha", 0, JC_OPT_DBL, &alpha, "X", "iALS confidence weight (embed.ials_alpha)",
         &s_alpha},
        {"reg", 0, JC_OPT_DBL, &reg, "X", "iALS / BPR L2 (embed.ials_reg / embed.bpr_reg)", &s_reg},
        {"cg-steps", 0, JC_OPT_INT, &cg_steps, "N", "iALS CG steps (embed.ials_cg_steps)", &s_cg},
        {"half-life", 0, JC_OPT_DBL, &half_life, "DAYS",
         "recency half-life of derived user vectors, 0 = mean (embed.user_half_life)", &s_hl},
        {"threads", 't', JC_OPT_INT, &threads, "N", "worker threads (core.threads)", &s_thr},
        {"hogwild", 0, JC_OPT_FLAG, &hogwild, NULL,
         "multi-threaded lock-free SGNS/BPR (not deterministic; embed.hogwild)", NULL},
        {"seed", 0, JC_OPT_INT, &seed, "N", "random seed (core.seed)", &s_seed},
        {"eval", 0, JC_OPT_FLAG, &do_eval, NULL,
         "train on the temporal split's train part and print HR/NDCG@10 and ANN recall@10", NULL},
        {"test-frac", 0, JC_OPT_DBL, &test_frac, "X", "test share of --eval (default 0.1)", NULL},
        {"export", 0, JC_OPT_STR, &export_path, "FILE", "also write 'id:v1 v2 ...' item lines",
         NULL},
        {"export-users", 0, JC_OPT_STR, &export_users, "FILE",
         "also write 'id:v1 v2 ...' user lines (ials/bpr)", NULL},
        {"to-store", 0, JC_OPT_FLAG, &to_store, NULL, "also write the vectors to the feature store",
         NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "machine-readable output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    int rc = jc_cli_parse(
        cli, "embed", "--method M [params] [--name NAME] [--eval] [--json]",
        "Trains item vectors (item2vec, deepwalk, node2vec) or item and user vectors\n"
        "(ials, bpr) from the catalog's positive events and saves them as\n"
        "<home>/embeddings/NAME.jemb. Items below min-count get a vector derived from\n"
        "co-occurring items, else from their genres. With --eval the model is trained\n"
        "on the first 90% of events by time and evaluated on the rest (next-item HR@10\n"
        "and NDCG@10 from the last item and from the user vector, full-ranking\n"
        "NDCG@10, ANN recall@10); the saved file is then that model.",
        opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0)
        return rc;
    const struct jc_config *c = &cli->cfg;
    struct jc_embed_opts o;
    jc_embed_opts_default(&o);
    if (method_s == NULL)
        method_s = c->embed_method;
    if (jc_embed_method_parse(method_s, &o.method) != JC_OK)
        return jc_cli_usage("embed", "%s", jc_errmsg());
    if (name == NULL)
        name = jc_embed_method_name(o.method);
    if (!jc_embed_name_valid(name))
        return jc_cli_usage("embed", "bad --name '%s' (letters, digits, '_', '-', '.')", name);
    if (directed && undirected)
        return jc_cli_usage("embed", "--directed and --undirected exclude each other");
    int mf = o.method == JC_EMBED_IALS || o.method == JC_EMBED_BPR;
    if (s_dim && (dim < 1 || dim > JC_EMB_MAX_DIM))
        return jc_cli_usage("embed", "--dim must be in [1, %u]", JC_EMB_MAX_DIM);
    o.dim = (uint32_t)(s_dim ? dim : c->embed_dim);
    o.seq.threshold = s_th ? threshold : c->embed_threshold;
    o.seq.session_gap = s_gap ? session_gap : c->embed_session_gap;
    if (o.seq.session_gap < 0)
        return jc_cli_usage("embed", "--session-gap must be >= 0");
    o.sgns.window = (uint32_t)(s_window ? window : c->embed_window);
    o.sgns.negative = (uint32_t)(s_neg ? negative : c->embed_negative);
    o.sgns.min_count = (uint32_t)(s_minc ? min_count : c->embed_min_count);
    o.sgns.sample = s_sample ? sample : c->embed_sample;
    o.sgns.min_lr = s_minlr ? min_lr : c->embed_min_lr;
    if (s_window && (window < 1 || window > 1000))
        return jc_cli_usage("embed", "--window must be in [1, 1000]");
    if (s_neg && (negative < 1 || negative > 100))
        return jc_cli_usage("embed", "--negative must be in [1, 100]");
    if (s_minc && min_count < 1)
        return jc_cli_usage("embed", "--min-count must be >= 1");
    if (s_epochs && (epochs < 1 || epochs > 100000))
        return jc_cli_usage("embed", "--epochs must be in [1, 100000]");
    if (mf) {
        o.mf_epochs = (uint32_t)(s_epochs ? epochs : c->embed_mf_epochs);
        o.sgns.epochs = (uint32_t)c->embed_epochs;
        o.sgns.lr = c->embed_lr;
        o.bpr_lr = s_lr ? lr : c->embed_bpr_lr;
    } else {
        o.sgns.epochs = (uint32_t)(s_epochs ? epochs : c->embed_epochs);
        o.sgns.lr = s_lr ? lr : c->embed_lr;
        o.bpr_lr = c->embed_bpr_lr;
    }
    o.walks_per_node = (uint32_t)(s_walks ? walks : c->embed_walks);
    o.walk_length = (uint32_t)(s_wl ? walk_length : c->embed_walk_length);
    if ((s_walks && walks < 1) || (s_wl && walk_length < 2))
        return jc_cli_usage("embed", "--walks must be >= 1 and --walk-length >= 2");
    o.p = s_p ? p : c->embed_p;
    o.q = s_q ? q : c->embed_q;
    o.directed = directed ? 1 : undirected ? 0 : c->embed_directed;
    o.edge_norm = s_en ? edge_norm : c->embed_edge_norm;
    if (!(o.edge_norm >= 0 && o.edge_norm <= 4))
        return jc_cli_usage("embed", "--edge-norm must be in [0, 4]");
    o.ials_alpha = s_alpha ? alpha : c->embed_ials_alpha;
    o.ials_reg = s_reg && o.method == JC_EMBED_IALS ? reg : c->embed_ials_reg;
    o.bpr_reg = s_reg && o.method == JC_EMBED_BPR ? reg : c->embed_bpr_reg;
    o.ials_cg_steps = (uint32_t)(s_cg ? cg_steps : c->embed_ials_cg_steps);
    if (s_cg && cg_steps < 1)
        return jc_cli_usage("embed", "--cg-steps must be >= 1");
    o.user_half_life = (s_hl ? half_life : c->embed_user_half_life) * 86400.0;
    o.threads = (int)(s_thr ? threads : c->core_threads);
    if (s_thr && (threads < 0 || threads > 1024))
        return jc_cli_usage("embed", "--threads must be in [0, 1024]");
    o.hogwild = hogwild || c->embed_hogwild;
    o.seed = (uint64_t)(s_seed ? seed : c->core_seed);
    o.progress = cli->progress;
    if (do_eval && !(test_frac > 0 && test_frac < 1))
        return jc_cli_usage("embed", "--test-frac must be in (0, 1)");

    struct jc_catalog *cat;
    if ((rc = jc_cli_open_catalog(cli, &cat)))
        return jc_cli_fail(rc);
    struct jc_embed_split split;
    memset(&split, 0, sizeof split);
    if (do_eval) {
        if ((rc = jc_embed_split_temporal(cat, test_frac, &split))) {
            jc_catalog_close(cat);
            return jc_cli_fail(rc);
        }
        o.seq.split = &split;
    }
    struct jc_emb *e = NULL;
    struct jc_embed_stats st;
    rc = jc_embed_train(cat, &o, &e, &st);
    jc_cli_progress_done(cli);
    char path[4096];
    char rel[128];
    snprintf(rel, sizeof rel, "embeddings/%s.jemb", name);
    if (rc == JC_OK && (rc = jc_cli_ensure_home(cli, "embeddings")) == JC_OK &&
        (rc = jc_cli_path(cli, rel, path, sizeof path)) == JC_OK)
        rc = jc_emb_save(e, path);
    if (rc == JC_OK && export_path)
        rc = jc_emb_export_text(e, 0, export_path);
    if (rc == JC_OK && export_users)
        rc = jc_emb_export_text(e, 1, export_users);
    uint64_t n_stored = 0;
    if (rc == JC_OK && to_store) {
        struct jc_store_config sc;
        char spath[4096];
        struct jc_store *store = NULL;
        rc = jc_store_config_from(&sc, &cli->cfg, cli->home, spath, sizeof spath);
        if (rc == JC_OK)
            rc = jc_store_open(&store, &sc);
        if (rc == JC_OK) {
            rc = jc_emb_publish(e, name, store, &cli->progress, &n_stored);
            jc_store_close(store);
            jc_cli_progress_done(cli);
        }
    }
    struct jc_embed_eval ev;
    memset(&ev, 0, sizeof ev);
    struct jc_ann_config ac;
    jc_ann_config_from(&ac, &cli->cfg);
    if (rc == JC_OK && do_eval) {
        struct jc_embed_eval_opts eo;
        jc_embed_eval_opts_default(&eo);
        eo.threshold = o.seq.threshold;
        eo.user_half_life = o.user_half_life;
        eo.threads = o.threads;
        rc = eval_with_index(cli, cat, e, &split, &eo, &ev);
    }
    if (rc) {
        jc_emb_destroy(e);
        jc_catalog_close(cat);
        return jc_cli_fail(rc);
    }
    if (json) {
        struct jc_buf b;
        jc_buf_init(&b, 0);
        struct jc_json j;
        jc_json_init(&j, &b, 0);
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", name);
        jc_json_kv_str(&j, "method", jc_embed_method_name(o.method));
        jc_json_kv_str(&j, "path", path);
        jc_json_kv_int(&j, "dim", o.dim);
        jc_json_kv_int(&j, "sequences", (int64_t)st.n_seqs);
        jc_json_kv_int(&j, "tokens", (int64_t)st.n_tokens);
        jc_json_kv_int(&j, "graph_edges", (int64_t)st.graph_edges);
        jc_json_key(&j, "items");
        jc_json_obj_begin(&j);
        jc_json_kv_int(&j, "trained", st.n_trained);
        jc_json_kv_int(&j, "cooccur", st.n_cooccur);
        jc_json_kv_int(&j, "genre", st.n_genre);
        jc_json_kv_int(&j, "none", st.n_none);
        jc_json_obj_end(&j);
        jc_json_kv_int(&j, "user_vectors", st.n_user_vectors);
        if (to_store)
            jc_json_kv_int(&j, "stored_vectors", (int64_t)n_stored);
        jc_json_kv_double(&j, "train_seconds", st.train_seconds);
        if (!mf)
            jc_json_kv_double(&j, "words_per_sec", st.words_per_sec);
        else
            jc_json_kv_double(&j, "final_loss", st.final_loss);
        if (do_eval)
            eval_json(&j, &ev, jc_ann_type_name(ac.type));
        jc_json_obj_end(&j);
        if (jc_json_finish(&j) == JC_OK)
            printf("%s\n", b.data);
        jc_buf_free(&b);
    } else {
        printf("embedding %s (%s, dim %u): %u items trained, %u from co-occurrence, %u from "
               "genres, %u without vector\n",
               name, jc_embed_method_name(o.method), o.dim, st.n_trained, st.n_cooccur, st.n_genre,
               st.n_none);
        if (mf)
            printf("trained on %llu positives in %.2fs (%u user vectors, final loss %.4g)\n",
                   (unsigned long long)st.n_tokens, st.train_seconds, st.n_user_vectors,
                   st.final_loss);
        else
            printf("trained on %llu %s (%llu items) in %.2fs, %.3gM words/s\n",
                   (unsigned long long)st.n_seqs,
                   o.method == JC_EMBED_ITEM2VEC ? "sequences" : "walks",
                   (unsigned long long)st.n_tokens, st.train_seconds, st.words_per_sec / 1e6);
        printf("saved %s\n", path);
        if (to_store)
            printf("wrote %llu vectors to the feature store (keys emb:%s:<id>)\n",
                   (unsigned long long)n_stored, name);
        if (do_eval) {
            printf("eval on the temporal split (last %.0f%% of events, %llu next-item "
                   "queries):\n",
                   test_frac * 100, (unsigned long long)ev.n_events);
            printf("  next item from last item:   HR@%u %.4f  NDCG@%u %.4f\n", ev.k, ev.hr_item,
                   ev.k, ev.ndcg_item);
            printf("  next item from user vector: HR@%u %.4f  NDCG@%u %.4f\n", ev.k, ev.hr_user,
                   ev.k, ev.ndcg_user);
            printf("  full ranking (%u users):    NDCG@%u %.4f  Recall@%u %.4f  HR@%u %.4f\n",
                   ev.n_users, ev.k, ev.ndcg_full, ev.k, ev.recall_full, ev.k, ev.hr_full);
            if (ev.ann_recall >= 0)
                printf("  ANN (%s) recall@%u vs exact: %.4f\n", jc_ann_type_name(ac.type), ev.k,
                       ev.ann_recall);
        }
    }
    jc_emb_destroy(e);
    jc_catalog_close(cat);
    return JC_EXIT_OK;
}
