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
                      .argc = argc, .argv = argv, .i = 1, .status = EXIT_SUCCESS};
}

void cli_parser_free(cli_parser *p)
{
    for (int k = 0; k < p->n_owned; k += 2) {
        fc_args_free(p->owned[k]);
        free(p->owned[k + 1]);
    }
    free(p->owned);
    p->owned = NULL;
    p->n_owned = 0;
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

/* Replaces the `used` arguments at i ("--config-file FILE" or
 * "--config-file=FILE") by the file's arguments; the parser then reads them
 * next. */
static bool splice_config(cli_parser *p, const char *path, int used)
{
    char *text = read_text_file(path);
    if (!text) {
        fprintf(stderr, "FAILURE: %s: cannot read the configuration file\n", path);
        p->status = EXIT_FAILURE;
        return false;
    }
    fc_context *ctx = fc_context_new();
    char **args = NULL;
    if (!ctx || fc_config_parse(ctx, path, text, &args) != FC_OK) {
        p->status = ctx ? cli_fail(ctx) : EXIT_FAILURE;
        fc_context_destroy(ctx);
        free(text);
        return false;
    }
    fc_context_destroy(ctx);
    free(text);
    int n_args = 0;
    while (args[n_args])
        n_args++;
    char **merged = calloc((size_t)(p->argc - used + n_args + 1), sizeof *merged);
    char ***grown = realloc(p->owned, (size_t)(p->n_owned + 2) * sizeof *grown);
    if (grown)
        p->owned = grown;
    if (!merged || !grown) {
        free(merged);
        fc_args_free(args);
        fprintf(stderr, "FAILURE: out of memory\n");
        p->status = EXIT_FAILURE;
        return false;
    }
    int k = 0;
    for (int m = 0; m < p->i; m++)
        merged[k++] = p->argv[m];
    for (int m = 0; m < n_args; m++)
        merged[k++] = args[m];
    for (int m = p->i + used; m < p->argc; m++)
        merged[k++] = p->argv[m];
    p->owned[p->n_owned++] = args;   /* the strings */
    p->owned[p->n_owned++] = merged; /* the array */
    p->argv = merged;
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
        *arg = (cli_arg){.id = CLI_POSITIONAL, .value = a, .text = a};
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
            p->status = is_long ? cli_usage_error(p->command, "unknown option --%s", p->name)
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
