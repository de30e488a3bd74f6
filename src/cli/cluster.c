/* SPDX-License-Identifier: MIT */
/* `firmclust cluster`: one input to one output, several inputs to one
 * output each (--output-dir), or several taken together (--output). Parses
 * the arguments, makes the jobs, runs them (batch.c) and prints the outcome. */
#define _GNU_SOURCE /* struct stat64 behind VSIStatBufL */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_vsi.h>

static const char *const usage_head =
    "Usage: firmclust cluster FIRMS OUTPUT --eps METRES [OPTIONS]\n"
    "       firmclust cluster FIRMS... --output-dir DIR --eps METRES [OPTIONS]\n"
    "       firmclust cluster FIRMS... --output FILE --eps METRES [OPTIONS]\n"
    "\n"
    "Reads firm points from FIRMS (any vector format GDAL reads), finds, sector by\n"
    "sector, the firms that lie in dense groups (DBSCAN: a firm is core when at least\n"
    "min-pts firms of its sector lie within eps metres of it, itself included), and\n"
    "writes OUTPUT: a GeoPackage with layers 'clusters' (one polygon per cluster),\n"
    "'firms' (every input firm with cluster_id and role), with --regions 'regions'\n"
    "(location quotients per region and sector), and 'layer_styles' (the QGIS\n"
    "styles they open with); or, for single-layer formats (Shapefile, GeoJSON,\n"
    "FlatGeobuf, CSV), a directory with clusters.*, firms.* and regions.*, each\n"
    "with its .qml style.\n"
    "\n"
    "Options:\n";

static const char *const usage_tail =
    "  -f NAME\n"
    "      same as --format\n"
    "  --output-dir DIR\n"
    "      several inputs: one output per input in DIR, named after it\n"
    "  --output FILE\n"
    "      several inputs taken together as one set of firms, into one output\n"
    "  --fail-fast\n"
    "      in a batch, stop at the first failure (default: go on)\n"
    "  --config-file FILE\n"
    "      read options from FILE, one 'option = value' per line ('#' comments)\n"
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

enum { OPT_HELP = 1, OPT_QUIET, OPT_PROGRESS, OPT_FAIL_FAST, OPT_OUTPUT_DIR, OPT_OUTPUT, OPT_FORMAT };

/* The tool's own options; every other --name is one of the library's. */
static const cli_option cluster_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"quiet", 'q', false, OPT_QUIET},
    {"progress", 0, false, OPT_PROGRESS},
    {"fail-fast", 0, false, OPT_FAIL_FAST},
    {"output-dir", 0, true, OPT_OUTPUT_DIR},
    {"output", 0, true, OPT_OUTPUT},
    {"format", 'f', true, OPT_FORMAT},
    {"config-file", 0, true, CLI_CONFIG_FILE},
    {NULL, 0, false, 0},
};

/* What the command line asked for, beside the library's options. */
typedef struct cluster_args {
    const char **positional;
    int n_positional;
    const char *output_dir, *merged_output, *format, *json, *groups;
    bool quiet, progress, fail_fast, help;
} cluster_args;

static int set_library_option(fc_context *ctx, fc_options *opts, cluster_args *c,
                              const cli_arg *a, const char *name)
{
    const char *value = a->value;
    if (fc_options_set(ctx, opts, name, value) != FC_OK) /* a file's line, where it came from */
        return cli_usage_error("cluster", "%s%s%s", a->origin ? a->origin : "",
                               a->origin ? ": " : "", fc_errmsg(ctx));
    if (strcmp(name, "format") == 0)
        c->format = value;
    else if (strcmp(name, "json") == 0)
        c->json = value;
    else if (strcmp(name, "groups") == 0)
        c->groups = value;
    return EXIT_SUCCESS;
}

static int parse_args(cli_parser *p, fc_context *ctx, fc_options *opts, cluster_args *c)
{
    cli_arg a;
    int rc = EXIT_SUCCESS;
    while (rc == EXIT_SUCCESS && !c->help && cli_next(p, &a)) {
        switch (a.id) {
        case OPT_HELP: c->help = true; break;
        case OPT_QUIET: c->quiet = true; break;
        case OPT_PROGRESS: c->progress = true; break;
        case OPT_FAIL_FAST: c->fail_fast = true; break;
        case OPT_OUTPUT_DIR: c->output_dir = a.value; break;
        case OPT_OUTPUT: c->merged_output = a.value; break;
        case OPT_FORMAT: rc = set_library_option(ctx, opts, c, &a, "format"); break;
        case CLI_LIBRARY: rc = set_library_option(ctx, opts, c, &a, a.name); break;
        default: c->positional[c->n_positional++] = a.value; break;
        }
    }
    return rc != EXIT_SUCCESS ? rc : p->status;
}

/* The arguments go together: usage errors before any file is touched. */
static int check_args(fc_context *ctx, const fc_options *opts, const cluster_args *c)
{
    int n = c->n_positional;
    if (c->output_dir && c->merged_output)
        return cli_usage_error("cluster", "--output and --output-dir do not go together");
    if ((c->merged_output || c->output_dir) && n < 1)
        return cli_usage_error("cluster", "needs at least one FIRMS file");
    if (!c->output_dir && !c->merged_output && n != 2)
        return cli_usage_error("cluster", n < 2 ? "needs FIRMS and OUTPUT"
                                                : "several inputs need --output-dir DIR (one "
                                                  "output each) or --output FILE (one output "
                                                  "for all)");
    if (c->output_dir && c->json && n > 1)
        return cli_usage_error("cluster", "--json writes one summary: give one input with it");
    if (fc_options_check(ctx, opts) != FC_OK)
        return cli_usage_error("cluster", "%s", fc_errmsg(ctx));
    return EXIT_SUCCESS;
}

static void free_jobs(cli_job *jobs, int n_jobs)
{
    for (int i = 0; jobs && i < n_jobs; i++) {
        free(jobs[i].output);
        fc_result_destroy(jobs[i].result);
    }
    free(jobs);
}

/* The jobs: with --output-dir one per input, else one for all inputs. */
static int make_jobs(const cluster_args *c, cli_job **jobs_out, int *n_jobs_out)
{
    int n_jobs = c->output_dir ? c->n_positional : 1;
    cli_job *jobs = calloc((size_t)n_jobs, sizeof *jobs);
    *jobs_out = jobs;
    *n_jobs_out = n_jobs;
    if (!jobs) {
        fprintf(stderr, "FAILURE: out of memory\n");
        return EXIT_FAILURE;
    }
    if (c->output_dir && VSIMkdir(c->output_dir, 0755) != 0) {
        VSIStatBufL st;
        if (VSIStatL(c->output_dir, &st) != 0 || !VSI_ISDIR(st.st_mode)) {
            fprintf(stderr, "FAILURE: %s: cannot create the output directory\n", c->output_dir);
            return EXIT_FAILURE;
        }
    }
    for (int i = 0; i < n_jobs; i++) {
        cli_job *j = &jobs[i];
        j->input = c->positional[i];
        j->inputs = &c->positional[i];
        j->n_inputs = c->merged_output ? (size_t)c->n_positional : 1;
        j->output = c->output_dir      ? cli_batch_output(c->output_dir, j->input, c->format)
                    : c->merged_output ? strdup(c->merged_output)
                                       : strdup(c->positional[1]);
        if (!j->output) {
            fprintf(stderr, "FAILURE: out of memory\n");
            return EXIT_FAILURE;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(jobs[k].output, j->output) == 0)
                return cli_usage_error("cluster", "two inputs would both write %s", j->output);
    }
    return EXIT_SUCCESS;
}

/* Sector indexes, most clustered firms first; ties in code order. */
static size_t *sectors_by_clustered(const fc_result *r, size_t n_sectors)
{
    size_t *order = malloc((n_sectors ? n_sectors : 1) * sizeof *order);
    if (!order)
        return NULL;
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
    return order;
}

/* A sector's name in a column NAME_WIDTH characters wide (UTF-8 code
 * points, so that Cyrillic lines up too), cut with "..." where longer: the
 * JSON has every name whole. */
#define NAME_WIDTH 39
static void print_name_column(const char *name, bool pad)
{
    if (!name)
        name = "-";
    size_t points = 0, cut = 0; /* code points, and the byte where the 36th ends */
    for (const char *c = name; *c; c++)
        if ((*c & 0xC0) != 0x80 && ++points == NAME_WIDTH - 3 + 1 && !cut)
            cut = (size_t)(c - name);
    bool longer = points > NAME_WIDTH;
    size_t bytes = longer ? cut : strlen(name), shown = longer ? NAME_WIDTH : points;
    printf("  %.*s%s%*s", (int)bytes, name, longer ? "..." : "",
           pad ? (int)(NAME_WIDTH - shown) : 0, "");
}

static void print_sector_table(const fc_result *r, bool with_regions)
{
    size_t n_sectors = fc_result_n_sectors(r);
    size_t *order = sectors_by_clustered(r, n_sectors);
    if (!order)
        return;
    const size_t shown = n_sectors < 15 ? n_sectors : 15;
    const bool named = *fc_result_sector_names(r) != '\0';
    printf("%-8s %8s %8s %9s%s%s\n", "sector", "firms", "clusters", "clustered",
           named ? "  name" : "",
           !with_regions ? "" : named ? "  (top regions by location quotient)"
                                      : "  top regions by location quotient");
    for (size_t i = 0; i < shown; i++) {
        const char *code, *region, *name = fc_result_sector_name(r, order[i]);
        size_t f, c, cl;
        double lq;
        fc_result_sector(r, order[i], &code, &f, &c, &cl);
        size_t points = 0; /* padded by characters: a group's id may be Cyrillic */
        for (const char *p = code; *p; p++)
            points += (*p & 0xC0) != 0x80;
        printf("%s%*s %8zu %8zu %9zu", code, points < 8 ? (int)(8 - points) : 0, "", f, c, cl);
        if (named) /* padded where regions follow */
            print_name_column(name, with_regions);
        int k = 0;
        for (; k < 2 && fc_result_top_region(r, order[i], k, &region, &lq, NULL) == FC_OK; k++)
            printf("%s%s %.2f", k ? ", " : named ? " (" : "   ", region, lq);
        if (named && k > 0)
            printf(")");
        printf("\n");
    }
    if (n_sectors > shown)
        printf("... and %zu more sectors\n", n_sectors - shown);
    free(order);
}

/* The pairs of different sectors that most locate together: ranked by the
 * smaller of CLQ(a -> b) and CLQ(b -> a), among sectors of at least
 * COLOCATION_MIN_FIRMS firms (in smaller ones one firm more or less swings
 * the quotient) and, with a significance test, among pairs with q <= 0.05
 * both ways. */
#define COLOCATION_SHOWN 5
#define COLOCATION_MIN_FIRMS 20
static void print_colocation(const fc_result *r)
{
    size_t S = fc_result_n_colocation_sectors(r), best_a[COLOCATION_SHOWN],
           best_b[COLOCATION_SHOWN];
    double best[COLOCATION_SHOWN];
    int n_best = 0;
    if (fc_result_colocation(r, 0, 0, NULL, NULL, NULL) != FC_OK)
        return;
    bool tested = false; /* any pair with a q-value */
    for (size_t k = 0; k < S * S && !tested; k++) {
        double q;
        fc_result_colocation(r, k / S, k % S, NULL, NULL, &q);
        tested = !isnan(q);
    }
    for (size_t a = 0; a < S; a++)
        for (size_t b = a + 1; b < S; b++) {
            size_t fa, fb;
            double ab, ba, q_ab, q_ba;
            fc_result_colocation_sector(r, a, NULL, &fa);
            fc_result_colocation_sector(r, b, NULL, &fb);
            fc_result_colocation(r, a, b, &ab, NULL, &q_ab);
            fc_result_colocation(r, b, a, &ba, NULL, &q_ba);
            double v = ab < ba ? ab : ba; /* NaN compares false: never ranked */
            if (fa < COLOCATION_MIN_FIRMS || fb < COLOCATION_MIN_FIRMS || !(v > 1) ||
                (tested && !(q_ab <= 0.05 && q_ba <= 0.05)))
                continue;
            if (n_best == COLOCATION_SHOWN && v <= best[COLOCATION_SHOWN - 1])
                continue;
            int k = n_best < COLOCATION_SHOWN ? n_best++ : COLOCATION_SHOWN - 1;
            for (; k > 0 && best[k - 1] < v; k--) { /* ties keep the earlier pair first */
                best[k] = best[k - 1];
                best_a[k] = best_a[k - 1];
                best_b[k] = best_b[k - 1];
            }
            best[k] = v;
            best_a[k] = a;
            best_b[k] = b;
        }
    printf("co-location (table colocation): %s", n_best ? "" : "no two sectors of 20 firms or "
                                                               "more locate together");
    for (int k = 0; k < n_best; k++) {
        const char *ca, *cb;
        fc_result_colocation_sector(r, best_a[k], &ca, NULL);
        fc_result_colocation_sector(r, best_b[k], &cb, NULL);
        printf("%s%s & %s %.2f", k ? ", " : "", ca, cb, best[k]);
    }
    printf("%s%s\n",
           n_best ? " (the smaller CLQ of the two ways; sectors of 20 firms or more" : "",
           !n_best ? "" : tested ? ", q <= 0.05 both ways)" : ")");
}

static void print_summary(const fc_result *r, bool groups)
{
    size_t n = fc_result_n_firms(r), clustered = fc_result_n_clustered(r);
    size_t n_sectors = fc_result_n_sectors(r), ungrouped = 0;
    const char *last = NULL;
    if (groups && n_sectors > 0 && /* "-", the firms in no group, is no group */
        fc_result_sector(r, n_sectors - 1, &last, &ungrouped, NULL, NULL) == FC_OK &&
        strcmp(last, "-") == 0)
        n_sectors--;
    else
        ungrouped = 0;
    printf("%zu firm%s in %zu %s%s", n, n == 1 ? "" : "s", n_sectors,
           groups ? "group" : "sector", n_sectors == 1 ? "" : "s");
    if (ungrouped)
        printf(" (%zu in none)", ungrouped);
    if (fc_result_n_skipped(r))
        printf(" (%zu features skipped)", fc_result_n_skipped(r));
    printf("; %zu cluster%s holding %zu firm%s (%.1f%%)\n", fc_result_n_clusters(r),
           fc_result_n_clusters(r) == 1 ? "" : "s", clustered, clustered == 1 ? "" : "s",
           n ? 100.0 * (double)clustered / (double)n : 0.0);
    printf("method: %s\n", fc_result_method(r));
    printf("distances: %s\n", fc_result_distance(r));
    int guessed;
    const char *field = fc_result_region_field(r, &guessed);
    if (field)
        printf("regions: %zu, named by field %s%s; %zu firms in them, %zu outside every region\n",
               fc_result_n_regions(r), field,
               guessed ? " (a guess: set --region-field to choose)" : "",
               n - fc_result_n_outside(r), fc_result_n_outside(r));
    if (*fc_result_significance(r))
        printf("%s\n", fc_result_significance(r));
    if (*fc_result_sector_names(r))
        printf("%s\n", fc_result_sector_names(r));
    print_colocation(r);
    if (fc_result_n_renamed(r)) {
        printf("fields renamed in layer firms:");
        for (size_t i = 0; i < fc_result_n_renamed(r); i++) {
            const char *from, *to;
            fc_result_renamed(r, i, &from, &to);
            printf("%s %s -> %s", i ? "," : "", from, to);
        }
        printf("\n");
    }
    print_sector_table(r, field != NULL);
}

/* One line per input of a batch, and the count. */
static int report_batch(const cli_job *jobs, int n_jobs, bool quiet)
{
    int failed = 0, not_run = 0;
    for (int i = 0; i < n_jobs; i++) {
        const cli_job *j = &jobs[i];
        bool ran = j->result || j->status != FC_OK || j->message[0];
        not_run += !ran; /* stopped before its turn */
        failed += ran && j->status != FC_OK;
        if (quiet) {
            if (j->status != FC_OK)
                fprintf(stderr, "FAILURE: %s: %s\n", j->input, j->message);
        } else if (j->status == FC_OK && j->result) {
            printf("ok      %s -> %s: %zu clusters, %zu of %zu firms clustered\n", j->input,
                   j->output, fc_result_n_clusters(j->result), fc_result_n_clustered(j->result),
                   fc_result_n_firms(j->result));
        } else if (j->status != FC_OK) { /* the message names the file */
            printf("FAILED  %s\n", j->message);
        } else {
            printf("skipped %s: not run after a failure (--fail-fast) or Ctrl-C\n", j->input);
        }
    }
    if (!quiet)
        printf("%d of %d inputs done, %d failed%s\n", n_jobs - failed - not_run, n_jobs, failed,
               not_run ? ", the rest not run" : "");
    return failed || not_run ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int run(fc_options *opts, const cluster_args *c, const char *const *configs,
               int n_configs)
{
    cli_job *jobs;
    int n_jobs;
    int rc = make_jobs(c, &jobs, &n_jobs);
    if (rc == EXIT_SUCCESS && n_configs > 0) { /* no output may replace a configuration file */
        fc_context *ctx = fc_context_new();
        for (int i = 0; ctx && i < n_jobs && rc == EXIT_SUCCESS; i++) {
            const char *writes[] = {jobs[i].output, c->json};
            if (fc_check_paths(ctx, (size_t)n_configs, configs, 2, writes) != FC_OK)
                rc = cli_fail(ctx);
        }
        fc_context_destroy(ctx);
    }
    if (rc == EXIT_SUCCESS) {
        cli_run_jobs(jobs, n_jobs, opts, cli_want_progress(c->quiet, c->progress), c->fail_fast,
                     c->quiet);
        if (c->output_dir) {
            rc = report_batch(jobs, n_jobs, c->quiet);
        } else if (jobs[0].status != FC_OK) {
            fprintf(stderr, "FAILURE: %s\n", jobs[0].message);
            rc = EXIT_FAILURE;
        } else if (c->json && strcmp(c->json, "-") == 0) { /* stdout holds the JSON */
            if (!c->quiet)
                fprintf(stderr, "wrote %s\n", jobs[0].output);
        } else if (!c->quiet) {
            print_summary(jobs[0].result, c->groups != NULL);
            printf("wrote %s\n", jobs[0].output);
        }
        /* A run that finished is not cancelled, whenever the signal came:
         * its output is in place. */
        if (cli_interrupted && (c->output_dir || jobs[0].status != FC_OK))
            rc = EXIT_INTERRUPTED;
    }
    free_jobs(jobs, n_jobs);
    return rc;
}

int cmd_cluster(int argc, char **argv)
{
    fc_context *ctx = fc_context_new();
    fc_options *opts = fc_options_new();
    cluster_args c = {.positional = calloc((size_t)argc + 1, sizeof *c.positional)};
    cli_parser p;
    cli_parser_init(&p, "cluster", cluster_options, true, argc, argv);
    int rc = EXIT_FAILURE;
    if (!ctx || !opts || !c.positional)
        fprintf(stderr, "FAILURE: out of memory\n");
    else if ((rc = parse_args(&p, ctx, opts, &c)) != EXIT_SUCCESS)
        ;
    else if (c.help)
        printf("%s%s%s", usage_head, fc_options_usage(), usage_tail);
    else if ((rc = check_args(ctx, opts, &c)) == EXIT_SUCCESS)
        rc = run(opts, &c, p.configs, p.n_configs);
    cli_parser_free(&p);
    free(c.positional);
    fc_options_destroy(opts);
    fc_context_destroy(ctx);
    return rc;
}
