/* SPDX-License-Identifier: MIT */
/* `firmclust synth OUTPUT`: synthetic Kazakh firms (fc_synth()). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *const usage =
    "Usage: firmclust synth OUTPUT [--firms N] [--seed S] [--institutions FILE] [-f NAME]\n"
    "                       [--overwrite] [-q]\n"
    "\n"
    "Writes N synthetic firms of Kazakhstan (EPSG:4326 points with fields firm_id,\n"
    "name, oked, employees, city): firms gather around the real cities by population,\n"
    "with the sectors that concentrate there. The same seed gives the same firms.\n"
    "\n"
    "  --firms N      number of firms (default 10000)\n"
    "  --seed S       random seed (default 1)\n"
    "  --institutions FILE  also write universities, research institutes, technoparks\n"
    "                 and agencies to FILE (fields name, type, serves, city), near\n"
    "                 the districts of the sectors they serve\n"
    "  -f NAME        GDAL driver (default: from the extension, else GPKG)\n"
    "  --overwrite    replace an existing OUTPUT\n"
    "  -q, --quiet    no progress\n";

enum { OPT_HELP = 1, OPT_FIRMS, OPT_SEED, OPT_FORMAT, OPT_OVERWRITE, OPT_QUIET, OPT_INSTITUTIONS };
static const cli_option synth_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"firms", 0, true, OPT_FIRMS},
    {"seed", 0, true, OPT_SEED},
    {"format", 'f', true, OPT_FORMAT},
    {"overwrite", 0, false, OPT_OVERWRITE},
    {"quiet", 'q', false, OPT_QUIET},
    {"institutions", 0, true, OPT_INSTITUTIONS},
    {NULL, 0, false, 0},
};

static bool whole_number(const char *s, unsigned long long *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

int cmd_synth(int argc, char **argv)
{
    const char *output = NULL, *format = NULL, *institutions = NULL;
    unsigned long long firms = 10000, seed = 1;
    bool overwrite = false, quiet = false;
    cli_parser p;
    cli_arg a;
    cli_parser_init(&p, "synth", synth_options, false, argc, argv);
    while (cli_next(&p, &a)) {
        switch (a.id) {
        case OPT_HELP: printf("%s", usage); return EXIT_SUCCESS;
        case OPT_FIRMS:
        case OPT_SEED:
            if (!whole_number(a.value, a.id == OPT_FIRMS ? &firms : &seed))
                return cli_usage_error("synth", "expected a whole number, not '%s'", a.value);
            break;
        case OPT_FORMAT: format = a.value; break;
        case OPT_INSTITUTIONS: institutions = a.value; break;
        case OPT_OVERWRITE: overwrite = true; break;
        case OPT_QUIET: quiet = true; break;
        default:
            if (output)
                return cli_usage_error("synth", "too many arguments: %s", a.text);
            output = a.value;
        }
    }
    if (p.status != EXIT_SUCCESS)
        return p.status;
    if (!output)
        return cli_usage_error("synth", "needs OUTPUT");
    if (institutions && !overwrite && access(institutions, F_OK) == 0) /* before the firms */
        return cli_usage_error("synth", "%s exists; use --overwrite to replace it", institutions);
    fc_context *ctx = fc_context_new();
    if (!ctx)
        return EXIT_FAILURE;
    fc_context_set_progress(ctx, cli_want_progress(quiet, false) ? cli_term_progress : cli_cancel_only,
                            NULL);
    int rc = EXIT_SUCCESS;
    if (fc_synth(ctx, output, format, (size_t)firms, (uint64_t)seed, overwrite) != FC_OK ||
        (institutions && fc_synth_institutions(ctx, institutions, format, (uint64_t)seed,
                                               overwrite) != FC_OK))
        rc = cli_fail(ctx);
    else if (!quiet)
        printf("wrote %llu firms to %s%s%s\n", firms, output,
               institutions ? " and institutions to " : "", institutions ? institutions : "");
    fc_context_destroy(ctx);
    return rc;
}
