/*
 * opt.c - the table-driven option parser and help printer.
 */
#include "opt.h"

#include "core/parse.h"
#include <junco/error.h>

#include <stdio.h>
#include <string.h>

static const struct jc_opt *find_long(const struct jc_opt *t, const char *name, size_t n)
{
    for (; t && t->name; t++)
        if (strlen(t->name) == n && strncmp(t->name, name, n) == 0)
            return t;
    return NULL;
}

static const struct jc_opt *find_short(const struct jc_opt *t, char c)
{
    for (; t && t->name; t++)
        if (t->short_name && t->short_name == c)
            return t;
    return NULL;
}

static int apply(const char *cmd, const struct jc_opt *o, const char *value)
{
    if (o->seen)
        *o->seen = 1;
    switch (o->type) {
    case JC_OPT_FLAG:
        *(int *)o->dest = 1;
        return 0;
    case JC_OPT_STR:
        *(const char **)o->dest = value;
        return 0;
    case JC_OPT_INT:
        if (jc_parse_i64(value, strlen(value), (int64_t *)o->dest)) {
            fprintf(stderr, "junco %s: --%s expects an integer, got '%s'\n", cmd, o->name, value);
            return 2;
        }
        return 0;
    case JC_OPT_DBL:
        if (jc_parse_f64(value, strlen(value), (double *)o->dest)) {
            fprintf(stderr, "junco %s: --%s expects a number, got '%s'\n", cmd, o->name, value);
            return 2;
        }
        return 0;
    case JC_OPT_LIST: {
        struct jc_opt_list *l = o->dest;
        if (l->n >= JC_OPT_LIST_MAX) {
            fprintf(stderr, "junco %s: --%s given too many times\n", cmd, o->name);
            return 2;
        }
        l->v[l->n++] = value;
        return 0;
    }
    }
    return 2;
}

int jc_opt_parse(const char *cmd, const struct jc_opt *opts, const struct jc_opt *globals, int argc,
                 char **argv, const char **pos, int max_pos, int *n_pos)
{
    int np = 0, only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (np >= max_pos) {
                fprintf(stderr, "junco %s: unexpected argument '%s' (see junco %s --help)\n", cmd,
                        a, cmd);
                return 2;
            }
            pos[np++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 3;
        const struct jc_opt *o;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(opts, name, n);
            if (o == NULL)
                o = find_long(globals, name, n);
            if (o == NULL) {
                fprintf(stderr, "junco %s: unknown option '--%.*s' (see junco %s --help)\n", cmd,
                        (int)n, name, cmd);
                return 2;
            }
            if (eq) {
                if (o->type == JC_OPT_FLAG) {
                    fprintf(stderr, "junco %s: --%s takes no value\n", cmd, o->name);
                    return 2;
                }
                value = eq + 1;
            }
        } else {
            if (a[2] != '\0') {
                fprintf(stderr, "junco %s: unknown option '%s'\n", cmd, a);
                return 2;
            }
            o = find_short(opts, a[1]);
            if (o == NULL)
                o = find_short(globals, a[1]);
            if (o == NULL) {
                fprintf(stderr, "junco %s: unknown option '%s' (see junco %s --help)\n", cmd, a,
                        cmd);
                return 2;
            }
        }
        if (o->type != JC_OPT_FLAG && value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "junco %s: option --%s needs a value (%s)\n", cmd, o->name,
                        o->metavar ? o->metavar : "VALUE");
                return 2;
            }
            value = argv[++i];
        }
        int rc = apply(cmd, o, value);
        if (rc)
            return rc;
    }
    *n_pos = np;
    return 0;
}

void jc_opt_print_help(FILE *f, const struct jc_opt *opts)
{
    for (const struct jc_opt *o = opts; o && o->name; o++) {
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                     o->type == JC_OPT_FLAG ? "" : " ", o->type == JC_OPT_FLAG ? "" : o->metavar);
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->type == JC_OPT_FLAG ? "" : " ",
                     o->type == JC_OPT_FLAG ? "" : o->metavar);
        fprintf(f, "  %-28s %s\n", left, o->help);
    }
}
