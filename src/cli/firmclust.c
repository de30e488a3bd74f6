/* firmclust: the command-line tool, a thin wrapper over libfirmclust.
 * It parses arguments, sets GDAL's terminal progress, makes one library
 * call and prints the summary; exit 0 on success, 1 on failure, 2 on a
 * usage error. */
#include "firmclust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_progress.h>
#include <cpl_string.h>
#include <gdal.h>
#include <geos_c.h>
#include <proj.h>

#define EXIT_USAGE 2

static const char *const main_usage =
    "Usage: firmclust COMMAND [OPTIONS]\n"
    "\n"
    "Finds economic clusters: geographically close groups of firms of one sector.\n"
    "\n"
    "Commands:\n"
    "  cluster FIRMS OUTPUT   cluster firm points; write cluster polygons and labelled firms\n"
    "  synth OUTPUT           write a synthetic set of Kazakh firms\n"
    "\n"
    "Run 'firmclust COMMAND --help' for a command's options.\n"
    "GDAL's general options work too: --version, --formats, --config KEY VALUE,\n"
    "--debug on, --optfile FILE.\n";

static const char *const cluster_usage_head =
    "Usage: firmclust cluster FIRMS OUTPUT --eps METRES [OPTIONS]\n"
    "\n"
    "Reads firm points from FIRMS (any vector format GDAL reads), finds, sector by\n"
    "sector, the firms that lie in dense groups (DBSCAN: a firm is core when at least\n"
    "min-pts firms of its sector lie within eps metres of it, itself included), and\n"
    "writes OUTPUT: a GeoPackage with layers 'clusters' (one polygon per cluster)\n"
    "and 'firms' (every input firm with cluster_id and role), or, for single-layer\n"
    "formats (Shapefile, GeoJSON, FlatGeobuf), a directory with clusters.* and\n"
    "firms.*.\n"
    "\n"
    "Options:\n";

static const char *const cluster_usage_tail =
    "  -f NAME\n"
    "      same as --format\n"
    "  -q, --quiet\n"
    "      print no progress and no summary\n"
    "  --progress\n"
    "      show progress even when stderr is not a terminal\n"
    "  --help\n"
    "      show this help\n"
    "\n"
    "Example:\n"
    "  firmclust cluster fixtures/kz/firms.gpkg clusters.gpkg \\\n"
    "      --sector-field oked --sector-digits 2 --eps 2000 --min-pts 10\n";

static const char *const synth_usage =
    "Usage: firmclust synth OUTPUT [--firms N] [--seed S] [-f NAME] [--overwrite] [-q]\n"
    "\n"
    "Writes N synthetic firms of Kazakhstan (EPSG:4326 points with fields firm_id,\n"
    "name, oked, employees, city): firms gather around the real cities by population,\n"
    "with the sectors that concentrate there. The same seed gives the same firms.\n"
    "\n"
    "  --firms N      number of firms (default 10000)\n"
    "  --seed S       random seed (default 1)\n"
    "  -f NAME        GDAL driver (default: from the extension, else GPKG)\n"
    "  --overwrite    replace an existing OUTPUT\n"
    "  -q, --quiet    no progress\n";

static void print_message(int level, const char *message, void *arg)
{
    bool quiet = *(bool *)arg;
    if (level == FC_MSG_WARNING)
        fprintf(stderr, "Warning: %s\n", message);
    else if (level == FC_MSG_INFO && !quiet)
        fprintf(stderr, "%s\n", message);
}

/* GDAL's own messages: a failure is repeated in the library's error (and
 * so in the FAILURE line), so only warnings and debug output are shown. */
static void gdal_message(CPLErr level, CPLErrorNum num, const char *message)
{
    if (level == CE_Debug)
        CPLDefaultErrorHandler(level, num, message);
    else if (level == CE_Warning)
        fprintf(stderr, "Warning: %s\n", message);
}

static int fail(fc_context *ctx)
{
    fprintf(stderr, "FAILURE: %s\n", fc_errmsg(ctx));
    return EXIT_FAILURE;
}

static int usage_error(const char *command, const char *fmt, const char *arg)
{
    fprintf(stderr, "firmclust%s%s: ", command ? " " : "", command ? command : "");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun 'firmclust%s%s --help' for usage.\n", command ? " " : "",
            command ? command : "");
    return EXIT_USAGE;
}

/* Splits "--name=value" or "--name value"; returns the number of argv
 * entries used, or 0 when a value is missing. */
static int long_option(char **argv, int i, int argc, int takes_value, char *name, size_t size,
                       const char **value)
{
    const char *arg = argv[i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    snprintf(name, size, "%.*s", (int)len, arg);
    if (eq) {
        *value = eq + 1;
        return 1;
    }
    if (!takes_value) {
        *value = NULL;
        return 1;
    }
    if (i + 1 >= argc)
        return 0;
    *value = argv[i + 1];
    return 2;
}

static void print_summary(const fc_result *r)
{
    size_t n = fc_result_n_firms(r), clustered = fc_result_n_clustered(r);
    size_t n_sectors = fc_result_n_sectors(r);
    printf("%zu firms in %zu sector%s", n, n_sectors, n_sectors == 1 ? "" : "s");
    if (fc_result_n_skipped(r))
        printf(" (%zu features skipped)", fc_result_n_skipped(r));
    printf("; %zu cluster%s holding %zu firms (%.1f%%)\n", fc_result_n_clusters(r),
           fc_result_n_clusters(r) == 1 ? "" : "s", clustered,
           n ? 100.0 * (double)clustered / (double)n : 0.0);
    printf("distances: %s\n", fc_result_distance(r));
    int guessed;
    const char *field = fc_result_region_field(r, &guessed);
    if (field)
        printf("regions: %zu, named by field %s%s; %zu firm%s outside every region\n",
               fc_result_n_regions(r), field,
               guessed ? " (a guess: set --region-field to choose)" : "", fc_result_n_outside(r),
               fc_result_n_outside(r) == 1 ? "" : "s");
    if (fc_result_permutations(r))
        printf("p-values: %d Monte Carlo runs, sectors shuffled among the firms of %s\n",
               fc_result_permutations(r), field ? "each region" : "the whole input");

    /* Sectors with the most clustered firms first; ties in code order. */
    size_t *order = malloc((n_sectors ? n_sectors : 1) * sizeof *order);
    if (!order)
        return;
    for (size_t i = 0; i < n_sectors; i++)
        order[i] = i;
    for (size_t i = 1; i < n_sectors; i++) { /* insertion sort: few sectors */
        size_t k = order[i], j = i, ck, cj;
        fc_result_sector(r, k, NULL, NULL, NULL, &ck);
        while (j > 0 && (fc_result_sector(r, order[j - 1], NULL, NULL, NULL, &cj), cj < ck)) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    const size_t shown = n_sectors < 15 ? n_sectors : 15;
    printf("%-8s %8s %8s %9s%s\n", "sector", "firms", "clusters", "clustered",
           field ? "  top regions by location quotient" : "");
    for (size_t i = 0; i < shown; i++) {
        const char *code, *region;
        size_t f, c, cl;
        double lq;
        fc_result_sector(r, order[i], &code, &f, &c, &cl);
        printf("%-8s %8zu %8zu %9zu ", code, f, c, cl);
        for (int k = 0; k < 2 && fc_result_top_region(r, order[i], k, &region, &lq, NULL) == FC_OK; k++)
            printf("%s %s %.2f", k ? "," : " ", region, lq);
        printf("\n");
    }
    if (n_sectors > shown)
        printf("... and %zu more sectors\n", n_sectors - shown);
    free(order);
}

static bool want_progress(bool quiet, bool forced)
{
    return !quiet && (forced || isatty(STDERR_FILENO));
}

static int cmd_cluster(int argc, char **argv)
{
    fc_context *ctx = fc_context_new();
    fc_options *opts = fc_options_new();
    if (!ctx || !opts) {
        fprintf(stderr, "FAILURE: out of memory\n");
        return EXIT_FAILURE;
    }
    const char *positional[2] = {NULL, NULL};
    int n_positional = 0, rc = EXIT_SUCCESS;
    bool quiet = false, progress = false;
    for (int i = 1; i < argc && rc == EXIT_SUCCESS; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s%s%s", cluster_usage_head, fc_options_usage(), cluster_usage_tail);
            goto out;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "--progress") == 0) {
            progress = true;
        } else if (strcmp(a, "-f") == 0) {
            if (i + 1 >= argc)
                rc = usage_error("cluster", "-f needs a format name%s", "");
            else if (fc_options_set(ctx, opts, "format", argv[++i]) != FC_OK)
                rc = fail(ctx);
        } else if (strncmp(a, "--", 2) == 0 && a[2]) {
            char name[64];
            const char *value;
            const char *eq = strchr(a + 2, '=');
            snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)), a + 2);
            int takes = fc_option_takes_value(name);
            if (takes < 0) {
                rc = usage_error("cluster", "unknown option %s", a);
                break;
            }
            int used = long_option(argv, i, argc, takes, name, sizeof name, &value);
            if (used == 0) {
                rc = usage_error("cluster", "option %s needs a value", a);
                break;
            }
            i += used - 1;
            if (fc_options_set(ctx, opts, name, value) != FC_OK)
                rc = usage_error("cluster", "%s", fc_errmsg(ctx));
        } else if (a[0] == '-' && a[1]) {
            rc = usage_error("cluster", "unknown option %s", a);
        } else if (n_positional < 2) {
            positional[n_positional++] = a;
        } else {
            rc = usage_error("cluster", "too many arguments: %s", a);
        }
    }
    if (rc == EXIT_SUCCESS && n_positional < 2)
        rc = usage_error("cluster", "needs FIRMS and OUTPUT%s", "");
    if (rc != EXIT_SUCCESS)
        goto out;

    fc_context_set_message_handler(ctx, print_message, &quiet);
    if (want_progress(quiet, progress))
        fc_context_set_progress(ctx, GDALTermProgress, NULL);
    fc_result *result = NULL;
    if (fc_cluster(ctx, positional[0], positional[1], opts, &result) != FC_OK) {
        rc = fail(ctx);
    } else if (!quiet) {
        print_summary(result);
        printf("wrote %s\n", positional[1]);
    }
    fc_result_destroy(result);
out:
    fc_options_destroy(opts);
    fc_context_destroy(ctx);
    return rc;
}

static int cmd_synth(int argc, char **argv)
{
    const char *output = NULL, *format = NULL;
    unsigned long long firms = 10000, seed = 1;
    bool overwrite = false, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", synth_usage);
            return EXIT_SUCCESS;
        } else if ((strcmp(a, "--firms") == 0 || strcmp(a, "--seed") == 0) && i + 1 < argc) {
            unsigned long long v = strtoull(argv[i + 1], &end, 10);
            if (end == argv[i + 1] || *end || argv[i + 1][0] == '-')
                return usage_error("synth", "expected a whole number, not '%s'", argv[i + 1]);
            *(a[2] == 'f' ? &firms : &seed) = v;
            i++;
        } else if (strcmp(a, "-f") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else if (strcmp(a, "--overwrite") == 0) {
            overwrite = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (a[0] == '-') {
            return usage_error("synth", "unknown option or missing value: %s", a);
        } else if (!output) {
            output = a;
        } else {
            return usage_error("synth", "too many arguments: %s", a);
        }
    }
    if (!output)
        return usage_error("synth", "needs OUTPUT%s", "");
    fc_context *ctx = fc_context_new();
    if (!ctx)
        return EXIT_FAILURE;
    if (want_progress(quiet, false))
        fc_context_set_progress(ctx, GDALTermProgress, NULL);
    int rc = EXIT_SUCCESS;
    if (fc_synth(ctx, output, format, (size_t)firms, (uint64_t)seed, overwrite) != FC_OK)
        rc = fail(ctx);
    else if (!quiet)
        printf("wrote %llu firms to %s\n", firms, output);
    fc_context_destroy(ctx);
    return rc;
}

int main(int argc, char **argv)
{
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
    int rc;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(main_usage, argc < 2 ? stderr : stdout);
        rc = argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
    } else if (strcmp(argv[1], "cluster") == 0) {
        rc = cmd_cluster(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "synth") == 0) {
        rc = cmd_synth(argc - 1, argv + 1);
    } else {
        rc = usage_error(NULL, "unknown command '%s'", argv[1]);
    }
    CSLDestroy(argv);
    GDALDestroyDriverManager();
    return rc;
}
