/* SPDX-License-Identifier: MIT */
/* The one option parser of the commands: each command gives a table of its
 * own options; `cluster` also takes every option of the library's table
 * (fc_option_takes_value()), and --config-file splices a file's options in
 * place, so that options after it override it. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_parser_init(cli_parser *p, const char *command, const cli_option *options,
                     bool library_options, int argc, char **argv)
{
    *p = (cli_parser){.command = command, .options = options, .library_options = library_options,
                      .argc = argc, .argv = argv, .argv0 = argv, .i = 1, .status = EXIT_SUCCESS};
}

void cli_parser_free(cli_parser *p)
{
    for (int k = 0; k < p->n_strings; k++)
        free(p->strings[k]);
    free(p->strings);
    if (p->argv != p->argv0)
        free(p->argv);
    free(p->origin);
    p->strings = NULL, p->origin = NULL, p->n_strings = 0;
    p->argv = p->argv0;
}

static char *read_text_file(const char *path)
{
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        text = size >= 0 && fseek(f, 0, SEEK_SET) == 0 ? calloc(1, (size_t)size + 1) : NULL;
        if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
            free(text);
            text = NULL;
        }
    }
    fclose(f);
    return text;
}

/* Where each non-empty line of a configuration file is: lines[k] is the
 * line of the k-th argument fc_config_parse() makes of it (one a line that
 * holds more than a comment). */
static int *argument_lines(const char *text, int n_args)
{
    int *lines = calloc((size_t)n_args + 1, sizeof *lines), k = 0, line = 1;
    for (const char *l = text; lines && l && k < n_args; line++) {
        size_t len = strcspn(l, "\n");
        size_t blank = strspn(l, " \t\r\xef\xbb\xbf"); /* a UTF-8 BOM counts as blank */
        if (blank < len && l[blank] != '#')
            lines[k++] = line;
        l = l[len] ? l + len + 1 : NULL;
    }
    return lines;
}

/* The configuration files being read, innermost last, for cycles. */
#define CONFIG_DEPTH 8
typedef struct config_chain {
    char *real[CONFIG_DEPTH + 1];
    int depth;
} config_chain;

static bool keep(cli_parser *p, char *s)
{
    char **grown = s ? realloc(p->strings, (size_t)(p->n_strings + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(s);
        return false;
    }
    p->strings = grown;
    p->strings[p->n_strings++] = s;
    return true;
}

static bool push(cli_parser *p, char ***list, const char ***origin, int *n, char *arg,
                 const char *from)
{
    char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (l)
        *list = l;
    const char **o = l ? realloc(*origin, (size_t)(*n + 1) * sizeof *o) : NULL;
    if (o)
        *origin = o;
    if (!l || !o || !keep(p, arg))
        return false;
    (*list)[*n] = arg;
    (*origin)[(*n)++] = from;
    return true;
}

static bool config_fail(cli_parser *p, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "FAILURE: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    p->status = EXIT_FAILURE;
    return false;
}

/* The arguments of the configuration file `path` (named at `from`, "FILE:LINE",
 * or NULL on the command line) appended to list, each with its "FILE:LINE",
 * the files it includes expanded in place. */
static bool expand_config(cli_parser *p, const char *path, const char *from, config_chain *chain,
                          char ***list, const char ***origin, int *n)
{
    const char *where = from ? from : path;
    if (chain->depth == CONFIG_DEPTH)
        return config_fail(p, "%s: configuration files nest deeper than 8 (including %s)", where,
                           path);
    char *text = read_text_file(path), *real = realpath(path, NULL);
    if (!text || !real) {
        free(text), free(real);
        return config_fail(p, "%s: cannot read the configuration file %s", where, path);
    }
    for (int d = 0; d < chain->depth; d++)
        if (strcmp(chain->real[d], real) == 0) {
            free(text), free(real);
            return config_fail(p, "%s: %s includes itself (a cycle of configuration files)", where,
                               path);
        }
    chain->real[chain->depth++] = real;
    bool ok = keep(p, strdup(path));
    if (ok) /* the files read, for the check that no output replaces one */
        p->configs[p->n_configs < CLI_MAX_CONFIGS ? p->n_configs++ : CLI_MAX_CONFIGS - 1] =
            p->strings[p->n_strings - 1];
    fc_context *ctx = ok ? fc_context_new() : NULL;
    char **args = NULL;
    if (ctx && fc_config_parse(ctx, path, text, &args) != FC_OK) {
        p->status = cli_fail(ctx);
        ok = false;
    }
    int n_args = 0;
    while (args && args[n_args])
        n_args++;
    int *lines = ok && args ? argument_lines(text, n_args) : NULL;
    ok = ok && lines;
    for (int k = 0; ok && k < n_args; k++) {
        char here[4200];
        snprintf(here, sizeof here, "%s:%d", path, lines[k]);
        char *at = strdup(here);
        ok = keep(p, at);
        if (ok && strncmp(args[k], "--config-file=", 14) == 0)
            ok = expand_config(p, args[k] + 14, at, chain, list, origin, n);
        else if (ok)
            ok = push(p, list, origin, n, strdup(args[k]), at);
    }
    if (!ok && p->status == EXIT_SUCCESS)
        config_fail(p, "%s%s", "out of memory", "");
    free(lines);
    fc_args_free(args);
    fc_context_destroy(ctx);
    free(text);
    free(chain->real[--chain->depth]);
    return ok;
}

/* Replaces the `used` arguments at i ("--config-file FILE" or
 * "--config-file=FILE") by the file's arguments; the parser then reads them
 * next. */
static bool splice_config(cli_parser *p, const char *path, int used)
{
    char **args = NULL;
    const char **from = NULL;
    int n_args = 0;
    config_chain chain = {.depth = 0};
    if (!expand_config(p, path, p->origin ? p->origin[p->i] : NULL, &chain, &args, &from,
                       &n_args)) {
        free(args), free(from);
        return false;
    }
    char **merged = calloc((size_t)(p->argc - used + n_args + 1), sizeof *merged);
    const char **origin = calloc((size_t)(p->argc - used + n_args + 1), sizeof *origin);
    if (!merged || !origin) {
        free(merged), free(origin), free(args), free(from);
        return config_fail(p, "%s%s", "out of memory", "");
    }
    int k = 0;
    for (int m = 0; m < p->i; m++, k++)
        merged[k] = p->argv[m], origin[k] = p->origin ? p->origin[m] : NULL;
    for (int m = 0; m < n_args; m++, k++)
        merged[k] = args[m], origin[k] = from[m];
    for (int m = p->i + used; m < p->argc; m++, k++)
        merged[k] = p->argv[m], origin[k] = p->origin ? p->origin[m] : NULL;
    free(args), free(from);
    if (p->argv != p->argv0)
        free(p->argv);
    free(p->origin);
    p->argv = merged;
    p->origin = origin;
    p->argc = k;
    return true;
}

/* The command's option named `name` (long) or `short_name` (when not 0). */
static const cli_option *find_option(const cli_parser *p, const char *name, char short_name)
{
    for (const cli_option *o = p->options; o->name; o++)
        if (short_name ? o->short_name == short_name : strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

bool cli_next(cli_parser *p, cli_arg *arg)
{
    for (;;) {
        if (p->i >= p->argc)
            return false;
        const char *a = p->argv[p->i];
        const char *from = p->origin ? p->origin[p->i] : NULL;
        *arg = (cli_arg){.id = CLI_POSITIONAL, .value = a, .text = a, .origin = from};
        if (a[0] != '-' || a[1] == '\0') { /* "-" is a name too: standard input */
            p->i++;
            return true;
        }
        /* --name[=value] or -c */
        bool is_long = a[1] == '-';
        const char *eq = is_long ? strchr(a + 2, '=') : NULL;
        size_t len = is_long ? (eq ? (size_t)(eq - a - 2) : strlen(a + 2)) : 0;
        snprintf(p->name, sizeof p->name, "%.*s", (int)len, a + 2);
        const cli_option *o = is_long ? find_option(p, p->name, 0)
                              : a[2] == '\0' ? find_option(p, "", a[1])
                                             : NULL;
        int takes = o ? o->takes_value : -1;
        if (!o && is_long && p->library_options)
            takes = fc_option_takes_value(p->name);
        if (takes < 0 || (is_long && len == 0)) {
            p->status = is_long ? cli_usage_error(p->command, "%s%sunknown option --%s",
                                                  from ? from : "", from ? ": " : "", p->name)
                                : cli_usage_error(p->command, "unknown option %s", a);
            return false;
        }
        arg->id = o ? o->id : CLI_LIBRARY;
        arg->name = o ? o->name : p->name;
        if (eq) {
            arg->value = eq + 1;
        } else if (takes) {
            if (p->i + 1 >= p->argc) {
                p->status = cli_usage_error(p->command, "option %s needs a value", a);
                return false;
            }
            arg->value = p->argv[++p->i];
        } else {
            arg->value = NULL;
        }
        p->i++;
        if (arg->id != CLI_CONFIG_FILE)
            return true;
        int used = eq ? 1 : 2;
        p->i -= used; /* back to "--config-file", which the splice replaces */
        if (!splice_config(p, arg->value, used))
            return false;
    }
}
