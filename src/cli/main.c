/* SPDX-License-Identifier: MIT */
/* firmclust: the command-line tool over libfirmclust. main() sets up GDAL
 * and the signals and hands over to the command: cluster (cluster.c, with
 * batch.c for several inputs), info (info.c), render (render.c), suggest
 * (suggest.c), synth (synth.c). Each parses its options with args.c, makes
 * its library call and prints the outcome; exit 0 on success, 1 on failure,
 * 2 on a usage error, 130 when interrupted. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <geos_c.h>
#include <proj.h>

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"cluster", cmd_cluster},
    {"info", cmd_info},
    {"render", cmd_render},
    {"suggest", cmd_suggest},
    {"synth", cmd_synth},
};

static const char *const usage =
    "Usage: firmclust COMMAND [OPTIONS]\n"
    "\n"
    "Finds economic clusters: geographically close groups of firms of one sector.\n"
    "\n"
    "Commands:\n"
    "  cluster FIRMS OUTPUT   cluster firm points; write cluster polygons and labelled firms\n"
    "  info FILE              what firmclust sees in a file: layers, fields, likely roles\n"
    "  render OUTPUT PNG      a map picture of an output, drawn by QGIS (needs python3-qgis)\n"
    "  suggest FIRMS          help choosing eps: each sector's k-distances and their knee\n"
    "  synth OUTPUT           write a synthetic set of Kazakh firms (and institutions)\n"
    "\n"
    "Run 'firmclust COMMAND --help' for a command's options.\n"
    "GDAL's general options work too: --version, --formats, --config KEY VALUE,\n"
    "--debug on, --optfile FILE.\n";

/* GDAL's own messages: a failure is repeated in the library's error (and
 * so in the FAILURE line), so only warnings and debug output are shown. */
static void gdal_message(CPLErr level, CPLErrorNum num, const char *message)
{
    if (level == CE_Debug)
        CPLDefaultErrorHandler(level, num, message);
    else if (level == CE_Warning)
        fprintf(stderr, "Warning: %s\n", message);
}

static int run_command(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}

int main(int argc, char **argv)
{
    cli_catch_signals();
    GDALAllRegister();
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--version") == 0) {
            PJ_INFO pj = proj_info();
            printf("firmclust %s (GDAL %s, PROJ %s, GEOS %s)\n", fc_version(),
                   GDALVersionInfo("RELEASE_NAME"), pj.version, GEOSversion());
            return EXIT_SUCCESS;
        }
    argc = GDALGeneralCmdLineProcessor(argc, &argv, 0);
    if (argc < 1) /* --formats and the like were handled, or failed */
        return argc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    CPLSetErrorHandler(gdal_message);
    int rc = run_command(argc, argv);
    CSLDestroy(argv);
    GDALDestroyDriverManager();
    return rc;
}
