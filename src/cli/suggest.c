/* SPDX-License-Identifier: MIT */
/* `firmclust suggest FIRMS`: help choosing eps (fc_suggest()). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const usage =
    "Usage: firmclust suggest FIRMS [--min-pts K] [--sector-field NAME --sector-digits N]\n"
    "                         [--json] [other options of cluster that read the firms]\n"
    "\n"
    "Helps choose eps: for each sector, the distance from each firm to its K-th nearest\n"
    "firm of the sector, itself counted (the eps at which it would be core with\n"
    "--min-pts K), measured as cluster would measure it (geodesic or planar); their\n"
    "quantiles, and the knee of their sorted curve (Kneedle) as the suggested eps.\n"
    "--json writes the same, with each sector's sorted curve, for scripts and plots.\n";

enum { OPT_HELP = 1, OPT_JSON };
static const cli_option suggest_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"json", 0, false, OPT_JSON},
    {NULL, 0, false, 0},
};

int cmd_suggest(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    fc_context *ctx = fc_context_new();
    fc_options *opts = fc_options_new();
    if (!ctx || !opts) {
        fc_options_destroy(opts);
        fc_context_destroy(ctx);
        return EXIT_FAILURE;
    }
    cli_parser p;
    cli_arg a;
    cli_parser_init(&p, "suggest", suggest_options, true, argc, argv);
    int rc = EXIT_SUCCESS;
    bool help = false;
    while (rc == EXIT_SUCCESS && cli_next(&p, &a)) {
        if (a.id == OPT_HELP)
            help = true;
        else if (a.id == OPT_JSON)
            json = true;
        else if (a.id == CLI_LIBRARY && fc_options_set(ctx, opts, a.name, a.value) != FC_OK)
            rc = cli_usage_error("suggest", "%s%s%s", a.origin ? a.origin : "",
                                 a.origin ? ": " : "", fc_errmsg(ctx));
        else if (a.id == CLI_POSITIONAL && !path)
            path = a.value;
        else if (a.id == CLI_POSITIONAL)
            rc = cli_usage_error("suggest", "too many arguments: %s", a.text);
    }
    if (rc == EXIT_SUCCESS)
        rc = p.status;
    if (rc == EXIT_SUCCESS && help)
        printf("%s", usage);
    else if (rc == EXIT_SUCCESS && !path)
        rc = cli_usage_error("suggest", "needs FIRMS");
    char *text = NULL;
    bool quiet = false; /* warnings (skipped firms, a stacked sector) go to stderr */
    fc_context_set_message_handler(ctx, cli_print_message, &quiet);
    if (rc == EXIT_SUCCESS && !help) {
        if (fc_suggest(ctx, path, opts, json, &text) != FC_OK)
            rc = cli_fail(ctx);
        else
            fputs(text, stdout);
    }
    fc_free(text);
    cli_parser_free(&p);
    fc_options_destroy(opts);
    fc_context_destroy(ctx);
    return rc;
}
