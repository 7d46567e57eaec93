/*
 * cmd_ab.c - `junco ab report`: A/B test analysis.
 *
 *   junco ab report [--experiment NAME] [--control VARIANT] [--json]
 *       reads every exposure (impression) and click event of the event log
 *       (<home>/events, or Kafka; opened read-only), counts them per
 *       experiment and variant (jc_ab_tally) and prints, per variant,
 *       users, exposures, clicks, CTR with its 95% Wilson interval, lift
 *       over the control, z and p of the two-proportion z-test, and the
 *       sample-ratio-mismatch check.
 *       Without --experiment every experiment (every layer: exposures carry
 *       all layers' assignments in their context) is reported in turn;
 *       with --json then as a JSON array of the per-experiment objects.
 *   junco ab report --counts NAME:EXPOSURES:CLICKS[:USERS],...
 *       the same statistics for counts given on the command line.
 * Exit status 0 even when SRM is flagged (the report says so loudly).
 */
#include "cli.h"

#include "core/buf.h"
#include "core/json.h"
#include "core/parse.h"
#include <junco/abtest.h>
#include <junco/error.h>
#include <junco/event.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static int tally_event(void *ctx, const struct jc_event *ev)
{
    return jc_ab_tally_add(ctx, ev);
}

/* "a:10000:500[:4990],b:..." into variants whose names point into buf. */
static int parse_counts(char *buf, struct jc_ab_variant *v, size_t cap, size_t *n)
{
    *n = 0;
    char *t = buf;
    while (*t) {
        char *end = strchr(t, ',');
        if (end)
            *end = '\0';
        if (*n == cap)
            return jc_cli_usage("ab", "--counts: more than %zu variants", cap);
        char *f[4] = {t, NULL, NULL, NULL};
        int k = 1;
        for (char *p = t; *p && k < 4; p++)
            if (*p == ':') {
                *p = '\0';
                f[k++] = p + 1;
            }
        uint64_t e, c, u = 0;
        if (k < 3 || !*f[0] || jc_parse_u64(f[1], strlen(f[1]), &e) ||
            jc_parse_u64(f[2], strlen(f[2]), &c) ||
            (k == 4 && jc_parse_u64(f[3], strlen(f[3]), &u)))
            return jc_cli_usage("ab", "--counts: expected NAME:EXPOSURES:CLICKS[:USERS], got '%s'",
                                t);
        v[*n] = (struct jc_ab_variant){f[0], u, e, c, 0};
        (*n)++;
        if (!end)
            break;
        t = end + 1;
    }
    return 0;
}

static void print_text(const char *exp, const struct jc_ab_variant *v, size_t n,
                       const struct jc_ab_result *r, const struct jc_ab_config *cfg,
                       uint64_t unattributed)
{
    printf("experiment %s: %zu variants, control '%s'\n", exp, n, v[r->control].name);
    printf("%-16s %10s %12s %10s %9s  %-23s %9s %8s %10s\n", "variant", "users", "exposures",
           "clicks", "CTR", "95% CI (Wilson)", "lift", "z", "p");
    for (size_t i = 0; i < n; i++) {
        const struct jc_ab_variant_stats *s = &r->v[i];
        char ci[64], lift[32], z[32], p[32];
        snprintf(ci, sizeof ci, "[%.5f, %.5f]", s->ci_low, s->ci_high);
        if (i == r->control) {
            snprintf(lift, sizeof lift, "control");
            snprintf(z, sizeof z, "-");
            snprintf(p, sizeof p, "-");
        } else {
            if (isnan(s->lift))
                snprintf(lift, sizeof lift, "n/a");
            else
                snprintf(lift, sizeof lift, "%+.2f%%", 100 * s->lift);
            if (isnan(s->z)) {
                snprintf(z, sizeof z, "n/a");
                snprintf(p, sizeof p, "n/a");
            } else {
                snprintf(z, sizeof z, "%.3f", s->z);
                snprintf(p, sizeof p, "%.4g%s", s->p_value, s->significant ? " *" : "");
            }
        }
        printf("%-16s %10llu %12llu %10llu %9.5f  %-23s %9s %8s %10s\n", v[i].name,
               (unsigned long long)v[i].units, (unsigned long long)v[i].exposures,
               (unsigned long long)v[i].clicks, s->ctr, ci, lift, z, p);
    }
    if (cfg->ci == JC_AB_CI_NORMAL)
        printf("(intervals: normal approximation, not Wilson)\n");
    printf("z-test: pooled two-proportion, two-sided; * = p < %g\n", cfg->alpha);
    if (unattributed)
        printf("clicks without a variant or earlier exposure: %llu (not counted)\n",
               (unsigned long long)unattributed);
    printf("sample ratio mismatch check on %s: chi2 = %.4f (df %d), p = %.4g: %s\n",
           r->srm_on_units ? "users" : "exposures", r->srm_chi2, r->srm_df, r->srm_p,
           r->srm_flag ? "SRM DETECTED - bucketing looks broken; do not trust the comparison"
                       : "ok");
}

static int print_json(const char *exp, const struct jc_ab_variant *v, size_t n,
                      const struct jc_ab_result *r, const struct jc_ab_config *cfg,
                      uint64_t unattributed)
{
    struct jc_buf b;
    jc_buf_init(&b, 1 << 20);
    struct jc_json j;
    jc_json_init(&j, &b, 1);
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "experiment", exp);
    jc_json_kv_str(&j, "control", v[r->control].name);
    jc_json_kv_str(&j, "ci", cfg->ci == JC_AB_CI_WILSON ? "wilson" : "normal");
    jc_json_kv_double(&j, "confidence", cfg->confidence);
    jc_json_key(&j, "variants");
    jc_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++) {
        const struct jc_ab_variant_stats *s = &r->v[i];
        jc_json_obj_begin(&j);
        jc_json_kv_str(&j, "name", v[i].name);
        jc_json_kv_int(&j, "users", (int64_t)v[i].units);
        jc_json_kv_int(&j, "exposures", (int64_t)v[i].exposures);
        jc_json_kv_int(&j, "clicks", (int64_t)v[i].clicks);
        jc_json_kv_double(&j, "ctr", s->ctr);
        jc_json_kv_double(&j, "ci_low", s->ci_low);
        jc_json_kv_double(&j, "ci_high", s->ci_high);
        jc_json_kv_double(&j, "lift", s->lift);
        jc_json_kv_double(&j, "z", s->z);
        jc_json_kv_double(&j, "p_value", s->p_value);
        jc_json_kv_bool(&j, "significant", s->significant);
        jc_json_obj_end(&j);
    }
    jc_json_arr_end(&j);
    jc_json_kv_int(&j, "unattributed_clicks", (int64_t)unattributed);
    jc_json_key(&j, "srm");
    jc_json_obj_begin(&j);
    jc_json_kv_str(&j, "on", r->srm_on_units ? "users" : "exposures");
    jc_json_kv_double(&j, "chi2", r->srm_chi2);
    jc_json_kv_int(&j, "df", r->srm_df);
    jc_json_kv_double(&j, "p_value", r->srm_p);
    jc_json_kv_bool(&j, "flag", r->srm_flag);
    jc_json_obj_end(&j);
    jc_json_obj_end(&j);
    int rc = jc_json_finish(&j);
    if (rc == JC_OK)
        fwrite(b.data, 1, b.len, stdout);
    jc_buf_free(&b);
    return rc;
}

int jc_cmd_ab(struct jc_cli *cli, int argc, char **argv)
{
    const char *experiment = NULL, *control = NULL, *counts = NULL, *ci = NULL;
    double confidence = 0.95;
    int json = 0;
    const struct jc_opt opts[] = {
        {"experiment", 'e', JC_OPT_STR, &experiment, "NAME",
         "experiment to analyse (default: the only one in the log)", NULL},
        {"control", 'c', JC_OPT_STR, &control, "VARIANT",
         "control variant (default: the first by name)", NULL},
        {"counts", 0, JC_OPT_STR, &counts, "N:EXP:CLK[:USERS],...",
         "analyse these counts instead of the event log", NULL},
        {"confidence", 0, JC_OPT_DBL, &confidence, "P", "CTR interval level (default 0.95)", NULL},
        {"ci", 0, JC_OPT_STR, &ci, "wilson|normal", "interval method (default wilson)", NULL},
        {"json", 0, JC_OPT_FLAG, &json, NULL, "machine-readable output", NULL},
        {NULL, 0, 0, NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int n_pos = 0;
    int rc = jc_cli_parse(
        cli, "ab", "report [options]",
        "Analyses an A/B test from the exposure and click events of the event log:\n"
        "per variant users, exposures, clicks, CTR with a 95% Wilson interval, relative\n"
        "lift over the control, and the two-sided p-value of the two-proportion z-test;\n"
        "plus a sample-ratio-mismatch chi-square test on users (p < 0.001 flags broken\n"
        "bucketing). Events carry experiment and variant; a click without a variant is\n"
        "credited to the user's first exposure in the experiment.",
        opts, argc, argv, pos, 1, &n_pos);
    if (rc >= 0)
        return rc;
    if (n_pos != 1 || strcmp(pos[0], "report") != 0)
        return jc_cli_usage("ab", "expected the subcommand 'report'");
    struct jc_ab_config cfg;
    jc_ab_config_default(&cfg);
    if (!(confidence > 0 && confidence < 1))
        return jc_cli_usage("ab", "--confidence must be in (0, 1)");
    cfg.confidence = confidence;
    if (ci && strcmp(ci, "normal") == 0)
        cfg.ci = JC_AB_CI_NORMAL;
    else if (ci && strcmp(ci, "wilson") != 0)
        return jc_cli_usage("ab", "--ci must be wilson or normal");
    struct jc_ab_variant v[JC_AB_MAX_VARIANTS];
    size_t n = 0;
    uint64_t unattributed = 0;
    char counts_buf[4096];
    struct jc_ab_tally *t = NULL;
    const char *exp = experiment ? experiment : "counts";
    if (counts) {
        snprintf(counts_buf, sizeof counts_buf, "%s", counts);
        if (parse_counts(counts_buf, v, JC_AB_MAX_VARIANTS, &n))
            return JC_EXIT_USAGE;
    } else {
        if ((rc = jc_ab_tally_create(&t)))
            return jc_cli_fail(rc);
        uint64_t n_events;
        if ((rc = jc_cli_each_event(cli, tally_event, t, &n_events))) {
            jc_ab_tally_destroy(t);
            return jc_cli_fail(rc);
        }
        size_t ne = jc_ab_tally_n_experiments(t);
        if (ne == 0) {
            jc_ab_tally_destroy(t);
            return jc_cli_fail(jc_err_set(JC_ENOTFOUND, "no exposure events with an experiment"));
        }
        if (experiment == NULL && ne > 1) {
            /* every experiment layer in turn (JSON: an array) */
            if (json)
                fputs("[", stdout);
            for (size_t i = 0; i < ne && rc == JC_OK; i++) {
                exp = jc_ab_tally_experiment(t, i);
                n = jc_ab_tally_variants(t, exp, v, JC_AB_MAX_VARIANTS, &unattributed);
                cfg.control = 0;
                if (control) {
                    for (size_t k = 0; k < n; k++)
                        if (strcmp(v[k].name, control) == 0)
                            cfg.control = k;
                }
                if (i && json)
                    fputs(",\n", stdout);
                else if (i)
                    fputc('\n', stdout);
                if (n < 2) {
                    if (json)
                        printf("{\"experiment\": \"%s\", \"variants\": %zu, \"error\": "
                               "\"fewer than 2 variants exposed\"}",
                               exp, n);
                    else
                        printf("experiment %s: %zu variant(s) exposed, nothing to compare\n", exp,
                               n);
                    continue;
                }
                struct jc_ab_result r;
                rc = jc_ab_analyze(v, n, &cfg, &r);
                if (rc == JC_OK && json)
                    rc = print_json(exp, v, n, &r, &cfg, unattributed);
                else if (rc == JC_OK)
                    print_text(exp, v, n, &r, &cfg, unattributed);
            }
            if (json)
                fputs("]\n", stdout);
            jc_ab_tally_destroy(t);
            return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
        }
        if (experiment == NULL)
            exp = jc_ab_tally_experiment(t, 0);
        n = jc_ab_tally_variants(t, exp, v, JC_AB_MAX_VARIANTS, &unattributed);
        if (n == 0) {
            rc = jc_err_set(JC_ENOTFOUND, "experiment '%s' has no exposures in the log", exp);
            jc_ab_tally_destroy(t);
            return jc_cli_fail(rc);
        }
    }
    if (control) {
        size_t i = 0;
        while (i < n && strcmp(v[i].name, control) != 0)
            i++;
        if (i == n) {
            jc_ab_tally_destroy(t);
            return jc_cli_usage("ab", "--control: no variant '%s'", control);
        }
        cfg.control = i;
    }
    struct jc_ab_result r;
    rc = jc_ab_analyze(v, n, &cfg, &r);
    if (rc == JC_OK) {
        if (json)
            rc = print_json(exp, v, n, &r, &cfg, unattributed);
        else
            print_text(exp, v, n, &r, &cfg, unattributed);
    }
    jc_ab_tally_destroy(t);
    return rc ? jc_cli_fail(rc) : JC_EXIT_OK;
}
