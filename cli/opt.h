/*
 * opt.h - declarative command-line options.
 *
 * Each command describes its options in a table of struct jc_opt; one parser
 * handles --name VALUE, --name=VALUE, -x VALUE, flags, repeatable options and
 * "--" (end of options), and one function prints the --help text, so the
 * help can never disagree with what is parsed. Numbers go through the checked
 * parsers of core/parse.h. Errors return 2 (usage) after printing a message
 * that names the option.
 */
#ifndef JC_CLI_OPT_H
#define JC_CLI_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum jc_opt_type {
    JC_OPT_FLAG, /* int, set to 1 */
    JC_OPT_STR,  /* const char * (points into argv) */
    JC_OPT_INT,  /* int64_t */
    JC_OPT_DBL,  /* double */
    JC_OPT_LIST, /* struct jc_opt_list: repeatable string option */
};

#define JC_OPT_LIST_MAX 64

struct jc_opt_list {
    const char *v[JC_OPT_LIST_MAX];
    int n;
};

struct jc_opt {
    const char *name; /* long name without "--"; NULL ends the table */
    char short_name;  /* 0 if none */
    enum jc_opt_type type;
    void *dest;
    const char *metavar; /* shown in help, e.g. "DIR" */
    const char *help;
    int *seen; /* optional: set to 1 when the option was given */
};

/*
 * Parses argv[0..argc) against up to two tables (command options first,
 * then global options; either may be NULL). Positional arguments are
 * collected into pos (at most max_pos; more is a usage error).
 * Returns 0, 2 (usage error, message printed to stderr), or 3 when --help
 * was given.
 */
int jc_opt_parse(const char *cmd, const struct jc_opt *opts, const struct jc_opt *globals, int argc,
                 char **argv, const char **pos, int max_pos, int *n_pos);

/* Prints the option list of a table, aligned, to f. */
void jc_opt_print_help(FILE *f, const struct jc_opt *opts);

#endif
