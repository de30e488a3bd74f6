/* SPDX-License-Identifier: MIT */
/* `firmclust info FILE`: what firmclust sees in a file (fc_info()). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const usage =
    "Usage: firmclust info FILE [--json]\n"
    "\n"
    "Tells what firmclust sees in FILE: its layers with geometry type, feature count\n"
    "and CRS, their fields with types and sample values, and which fields look like\n"
    "sector codes, weights or region names. --json writes the same for scripts.\n";

enum { OPT_HELP = 1, OPT_JSON };
static const cli_option info_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"json", 0, false, OPT_JSON},
    {NULL, 0, false, 0},
};

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    cli_parser p;
    cli_arg a;
    cli_parser_init(&p, "info", info_options, false, argc, argv);
    while (cli_next(&p, &a)) {
        if (a.id == OPT_HELP) {
            printf("%s", usage);
            return EXIT_SUCCESS;
        } else if (a.id == OPT_JSON) {
            json = true;
        } else if (!path) {
            path = a.value;
        } else {
            return cli_usage_error("info", "too many arguments: %s", a.text);
        }
    }
    if (p.status != EXIT_SUCCESS)
        return p.status;
    if (!path)
        return cli_usage_error("info", "needs FILE");
    fc_context *ctx = fc_context_new();
    if (!ctx)
        return EXIT_FAILURE;
    char *text = NULL;
    int rc = EXIT_SUCCESS;
    if (fc_info(ctx, path, json, &text) != FC_OK)
        rc = cli_fail(ctx);
    else
        fputs(text, stdout);
    fc_free(text);
    fc_context_destroy(ctx);
    return rc;
}
