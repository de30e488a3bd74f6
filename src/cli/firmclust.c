/* firmclust: the command-line tool, a thin wrapper over libfirmclust.
 * It parses arguments, sets GDAL's terminal progress, makes one library
 * call and prints the summary; exit 0 on success, 1 on failure, 2 on a
 * usage error. */
#define _GNU_SOURCE /* struct stat64 behind VSIStatBufL, sigaction */
#include "firmclust.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_progress.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <geos_c.h>
#include <proj.h>
#include <sys/wait.h>

#include "render_py.h"

#define EXIT_USAGE 2

static const char *const main_usage =
    "Usage: firmclust COMMAND [OPTIONS]\n"
    "\n"
    "Finds economic clusters: geographically close groups of firms of one sector.\n"
    "\n"
    "Commands:\n"
    "  cluster FIRMS OUTPUT   cluster firm points; write cluster polygons and labelled firms\n"
    "  info FILE              what firmclust sees in a file: layers, fields, likely roles\n"
    "  render OUTPUT PNG      a map picture of an output, drawn by QGIS (needs python3-qgis)\n"
    "  synth OUTPUT           write a synthetic set of Kazakh firms\n"
    "\n"
    "Run 'firmclust COMMAND --help' for a command's options.\n"
    "GDAL's general options work too: --version, --formats, --config KEY VALUE,\n"
    "--debug on, --optfile FILE.\n";

static const char *const cluster_usage_head =
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

static const char *const cluster_usage_tail =
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

static const char *const info_usage =
    "Usage: firmclust info FILE [--json]\n"
    "\n"
    "Tells what firmclust sees in FILE: its layers with geometry type, feature count\n"
    "and CRS, their fields with types and sample values, and which fields look like\n"
    "sector codes, weights or region names. --json writes the same for scripts.\n";

static const char *const render_usage =
    "Usage: firmclust render OUTPUT PNG [--regions FILE] [--title TEXT] [--overwrite]\n"
    "\n"
    "Draws a firmclust OUTPUT (a GeoPackage or an output directory) as a map picture\n"
    "with QGIS's own renderer, in the styles the output carries: cluster polygons by\n"
    "sector with labels, firms by cluster, and the --regions polygons underneath,\n"
    "with a legend. Needs QGIS's Python bindings (Debian: python3-qgis); the Python\n"
    "used is $FIRMCLUST_PYTHON, else /usr/bin/python3.\n";

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
        printf("regions: %zu, named by field %s%s; %zu firms in them, %zu outside every region\n",
               fc_result_n_regions(r), field,
               guessed ? " (a guess: set --region-field to choose)" : "",
               n - fc_result_n_outside(r), fc_result_n_outside(r));
    if (*fc_result_significance(r))
        printf("%s\n", fc_result_significance(r));
    if (fc_result_n_renamed(r)) {
        printf("fields renamed in layer firms:");
        for (size_t i = 0; i < fc_result_n_renamed(r); i++) {
            const char *from, *to;
            fc_result_renamed(r, i, &from, &to);
            printf("%s %s -> %s", i ? "," : "", from, to);
        }
        printf("\n");
    }

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
        printf("%-8s %8zu %8zu %9zu", code, f, c, cl);
        for (int k = 0; k < 2 && fc_result_top_region(r, order[i], k, &region, &lq, NULL) == FC_OK; k++)
            printf("%s %s %.2f", k ? "," : "  ", region, lq);
        printf("\n");
    }
    if (n_sectors > shown)
        printf("... and %zu more sectors\n", n_sectors - shown);
    free(order);
}

/* Ctrl-C (and SIGTERM) ask the library to stop through the progress
 * callback: it then removes its temporary files and leaves every output as
 * it was. */
static volatile sig_atomic_t interrupted; /* the signal that asked, or 0 */
static void on_signal(int sig) { interrupted = sig; }

/* What stopped a cancelled input, for its FAILURE line. */
static void say_cancelled(char *message, size_t size, const char *input, bool batch_stopped)
{
    if (interrupted)
        snprintf(message, size, "%s: cancelled by %s; nothing was written, every output is as it was",
                 input, interrupted == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM");
    else if (batch_stopped)
        snprintf(message, size, "%s: stopped because another input failed (--fail-fast); nothing "
                 "was written", input);
}

/* GDALTermProgress's "0...10...20... - done." on stderr, where it does not
 * mix with the summary that scripts read from stdout. */
static int term_progress(double complete, const char *message, void *arg)
{
    (void)message, (void)arg;
    static int last_tick = -1;
    int tick = complete <= 0 ? 0 : complete >= 1 ? 40 : (int)(complete * 40);
    if (tick < last_tick && last_tick >= 39)
        last_tick = -1; /* a new run */
    while (tick > last_tick) {
        ++last_tick;
        if (last_tick % 4 == 0)
            fprintf(stderr, "%d", last_tick / 4 * 10);
        else
            fputc('.', stderr);
    }
    if (tick == 40 && last_tick == 40) {
        fputs(" - done.\n", stderr);
        last_tick = 41;
    }
    fflush(stderr);
    return !interrupted;
}

/* No bar, but Ctrl-C still cancels. */
static int cancel_only(double complete, const char *message, void *arg)
{
    (void)complete, (void)message, (void)arg;
    return !interrupted;
}

static bool want_progress(bool quiet, bool forced)
{
    return !quiet && (forced || isatty(STDERR_FILENO));
}

/* ---- cluster: one input, or a batch ------------------------------------- */

typedef struct job {
    const char *input;      /* the first of its inputs */
    const char **inputs;
    size_t n_inputs;
    char *output;
    int status;
    char message[1024];
    fc_result *result;
    double done; /* progress of this input, 0..1 */
} job;

typedef struct batch {
    job *jobs;
    int n_jobs, next;
    const fc_options *opts;
    bool show_progress, fail_fast, quiet, stop;
    pthread_mutex_t lock;
} batch;

typedef struct job_slot {
    batch *b;
    job *j;
} job_slot;

/* The library's progress for one input: the terminal shows the whole
 * batch's, and a stop (Ctrl-C, or --fail-fast after a failure) cancels. */
static int job_progress(double complete, const char *message, void *arg)
{
    job_slot *slot = arg;
    batch *b = slot->b;
    pthread_mutex_lock(&b->lock);
    if (complete > slot->j->done)
        slot->j->done = complete;
    double total = 0;
    for (int i = 0; i < b->n_jobs; i++)
        total += b->jobs[i].done;
    if (b->show_progress)
        term_progress(total / b->n_jobs, message, NULL);
    bool go_on = !interrupted && !b->stop;
    pthread_mutex_unlock(&b->lock);
    return go_on;
}

static void *batch_worker(void *arg)
{
    batch *b = arg;
    bool quiet = b->quiet;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        int i = b->next < b->n_jobs && !b->stop && !interrupted ? b->next++ : -1;
        pthread_mutex_unlock(&b->lock);
        if (i < 0)
            break;
        job *j = &b->jobs[i];
        job_slot slot = {b, j};
        fc_context *ctx = fc_context_new();
        if (!ctx) {
            j->status = FC_ENOMEM;
            snprintf(j->message, sizeof j->message, "out of memory");
            continue;
        }
        fc_context_set_message_handler(ctx, print_message, &quiet);
        fc_context_set_progress(ctx, job_progress, &slot);
        j->status = fc_cluster_many(ctx, j->n_inputs, j->inputs, j->output, b->opts, &j->result);
        snprintf(j->message, sizeof j->message, "%s", fc_errmsg(ctx));
        pthread_mutex_lock(&b->lock);
        if (j->status == FC_ECANCEL)
            say_cancelled(j->message, sizeof j->message, j->input, b->stop);
        j->done = 1;
        if (j->status != FC_OK && b->fail_fast)
            b->stop = true;
        pthread_mutex_unlock(&b->lock);
        fc_context_destroy(ctx);
    }
    return NULL;
}

/* DIR/<input's name without extension>.<format's extension>, or a
 * directory DIR/<name> for single-layer formats. */
static char *batch_output(const char *dir, const char *input, const char *format)
{
    const char *ext = "gpkg";
    if (format) {
        GDALDriverH d = GDALGetDriverByName(format);
        const char *e = d ? GDALGetMetadataItem(d, GDAL_DMD_EXTENSION, NULL) : NULL;
        bool multi = d && GDALGetMetadataItem(d, GDAL_DCAP_MULTIPLE_VECTOR_LAYERS, NULL);
        ext = multi && e && *e ? e : NULL;
    }
    const char *base = CPLGetBasename(input);
    size_t len = strlen(dir) + strlen(base) + 16;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s/%s%s%s", dir, base, ext ? "." : "", ext ? ext : "");
    return out;
}

/* Splices the arguments of --config-file FILE into argv at i. The new argv
 * and the strings in it are added to *owned, to be freed by the caller. */
static int splice_config(char ***argv, int *argc, int i, const char *path, char ****owned,
                         int *n_owned)
{
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = size >= 0 ? calloc(1, (size_t)size + 1) : NULL;
        if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
            free(text);
            text = NULL;
        }
        fclose(f);
    }
    if (!text) {
        fprintf(stderr, "FAILURE: %s: cannot read the configuration file\n", path);
        return EXIT_FAILURE;
    }
    fc_context *ctx = fc_context_new();
    char **args = NULL;
    int rc = EXIT_SUCCESS;
    if (fc_config_parse(ctx, path, text, &args) != FC_OK) {
        rc = fail(ctx);
    } else {
        /* argv without "--config-file FILE", with args in their place */
        int n_args = 0;
        while (args[n_args])
            n_args++;
        char **merged = calloc((size_t)(*argc - 2 + n_args + 1), sizeof *merged);
        char ***grown = realloc(*owned, (size_t)(*n_owned + 2) * sizeof *grown);
        if (!merged || !grown) {
            free(merged);
            free(grown);
            fc_args_free(args);
            fc_context_destroy(ctx);
            free(text);
            fprintf(stderr, "FAILURE: out of memory\n");
            return EXIT_FAILURE;
        }
        int k = 0;
        for (int m = 0; m < i; m++)
            merged[k++] = (*argv)[m];
        for (int m = 0; m < n_args; m++)
            merged[k++] = args[m];
        for (int m = i + 2; m < *argc; m++)
            merged[k++] = (*argv)[m];
        *owned = grown;
        grown[(*n_owned)++] = args;   /* the strings */
        grown[(*n_owned)++] = merged; /* the array */
        *argv = merged;
        *argc = k;
        args = NULL;
    }
    fc_args_free(args);
    fc_context_destroy(ctx);
    free(text);
    return rc;
}

static int cmd_cluster(int argc, char **argv)
{
    fc_context *ctx = fc_context_new();
    fc_options *opts = fc_options_new();
    if (!ctx || !opts) {
        fprintf(stderr, "FAILURE: out of memory\n");
        return EXIT_FAILURE;
    }
    const char **positional = calloc((size_t)argc, sizeof *positional);
    char ***owned = NULL; /* what --config-file splices allocated */
    int n_owned = 0;
    const char *output_dir = NULL, *merged_output = NULL, *format = NULL, *json = NULL;
    int n_positional = 0, rc = EXIT_SUCCESS, threads = 0;
    bool quiet = false, progress = false, fail_fast = false;
    for (int i = 1; i < argc && rc == EXIT_SUCCESS; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s%s%s", cluster_usage_head, fc_options_usage(), cluster_usage_tail);
            goto out;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "--progress") == 0) {
            progress = true;
        } else if (strcmp(a, "--fail-fast") == 0) {
            fail_fast = true;
        } else if (strcmp(a, "--output-dir") == 0 || strcmp(a, "--output") == 0 ||
                   strcmp(a, "--config-file") == 0) {
            if (i + 1 >= argc) {
                rc = usage_error("cluster", "%s needs a value", a);
            } else if (strcmp(a, "--output-dir") == 0) {
                output_dir = argv[++i];
            } else if (strcmp(a, "--output") == 0) {
                merged_output = argv[++i];
            } else {
                rc = splice_config(&argv, &argc, i, argv[i + 1], &owned, &n_owned);
                i--; /* read what came in its place */
            }
        } else if (strcmp(a, "-f") == 0) {
            if (i + 1 >= argc)
                rc = usage_error("cluster", "-f needs a format name%s", "");
            else if (fc_options_set(ctx, opts, "format", argv[++i]) != FC_OK)
                rc = usage_error("cluster", "%s", fc_errmsg(ctx));
            else
                format = argv[i];
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
            else if (strcmp(name, "format") == 0)
                format = value;
            else if (strcmp(name, "json") == 0)
                json = value;
            else if (strcmp(name, "threads") == 0)
                threads = atoi(value);
        } else if (a[0] == '-' && a[1]) {
            rc = usage_error("cluster", "unknown option %s", a);
        } else {
            positional[n_positional++] = a;
        }
    }
    if (rc != EXIT_SUCCESS)
        goto out;
    if (output_dir && merged_output) {
        rc = usage_error("cluster", "--output and --output-dir do not go together%s", "");
        goto out;
    }
    if (merged_output && n_positional < 1) {
        rc = usage_error("cluster", "needs at least one FIRMS file%s", "");
        goto out;
    }
    if (!output_dir && !merged_output && n_positional != 2) {
        rc = usage_error("cluster", n_positional < 2 ? "needs FIRMS and OUTPUT%s"
                                                     : "several inputs need --output-dir DIR "
                                                       "(one output each) or --output FILE (one "
                                                       "output for all)%s",
                         "");
        goto out;
    }
    if (output_dir && n_positional < 1) {
        rc = usage_error("cluster", "needs at least one FIRMS file%s", "");
        goto out;
    }
    if (output_dir && json && n_positional > 1) {
        rc = usage_error("cluster", "--json writes one summary: give one input with it%s", "");
        goto out;
    }
    if (fc_options_check(ctx, opts) != FC_OK) {
        rc = usage_error("cluster", "%s", fc_errmsg(ctx));
        goto out;
    }

    /* The jobs: one input and its output each. */
    int n_jobs = output_dir ? n_positional : 1;
    job *jobs = calloc((size_t)n_jobs, sizeof *jobs);
    if (output_dir && VSIMkdir(output_dir, 0755) != 0) {
        VSIStatBufL st;
        if (VSIStatL(output_dir, &st) != 0 || !VSI_ISDIR(st.st_mode)) {
            fprintf(stderr, "FAILURE: %s: cannot create the output directory\n", output_dir);
            free(jobs);
            rc = EXIT_FAILURE;
            goto out;
        }
    }
    for (int i = 0; i < n_jobs; i++) {
        jobs[i].input = positional[i];
        jobs[i].inputs = &positional[i];
        jobs[i].n_inputs = merged_output ? (size_t)n_positional : 1;
        jobs[i].output = output_dir      ? batch_output(output_dir, positional[i], format)
                         : merged_output ? CPLStrdup(merged_output)
                                         : CPLStrdup(positional[1]);
        for (int k = 0; k < i && rc == EXIT_SUCCESS; k++)
            if (strcmp(jobs[k].output, jobs[i].output) == 0)
                rc = usage_error("cluster", "two inputs would both write %s", jobs[i].output);
    }
    if (rc == EXIT_SUCCESS) {
        int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
        int workers = threads > 0 ? threads : cores > 0 ? cores : 1;
        if (workers > n_jobs)
            workers = n_jobs;
        if (workers > 1) /* the inputs share the cores, not each input's permutations */
            fc_options_set(ctx, opts, "threads", "1");
        batch b = {.jobs = jobs, .n_jobs = n_jobs, .opts = opts, .fail_fast = fail_fast,
                   .quiet = quiet, .show_progress = want_progress(quiet, progress)};
        pthread_mutex_init(&b.lock, NULL);
        pthread_t *tid = calloc((size_t)workers, sizeof *tid);
        int started = 0;
        for (int t = 1; t < workers; t++)
            if (pthread_create(&tid[t], NULL, batch_worker, &b) == 0)
                started = t;
        batch_worker(&b);
        for (int t = 1; t <= started; t++)
            pthread_join(tid[t], NULL);
        free(tid);
        pthread_mutex_destroy(&b.lock);
        if (b.show_progress && !interrupted)
            term_progress(1.0, NULL, NULL); /* failed inputs count as done */

        int failed = 0, not_run = 0;
        for (int i = 0; i < n_jobs; i++) {
            if (jobs[i].result == NULL && jobs[i].status == FC_OK && jobs[i].message[0] == '\0')
                not_run++; /* stopped before its turn */
            else if (jobs[i].status != FC_OK)
                failed++;
        }
        if (!output_dir) {
            if (jobs[0].status != FC_OK) {
                fprintf(stderr, "FAILURE: %s\n", jobs[0].message);
            } else if (!quiet) {
                print_summary(jobs[0].result);
                printf("wrote %s\n", jobs[0].output);
            }
        } else {
            for (int i = 0; i < n_jobs && !quiet; i++) {
                job *j = &jobs[i];
                if (j->status == FC_OK && j->result)
                    printf("ok      %s -> %s: %zu clusters, %zu of %zu firms clustered\n", j->input,
                           j->output, fc_result_n_clusters(j->result),
                           fc_result_n_clustered(j->result), fc_result_n_firms(j->result));
                else if (j->status != FC_OK) /* the message names the file */
                    printf("FAILED  %s\n", j->message);
                else
                    printf("skipped %s: not run after a failure (--fail-fast) or Ctrl-C\n", j->input);
            }
            if (!quiet)
                printf("%d of %d inputs done, %d failed%s\n", n_jobs - failed - not_run, n_jobs, failed,
                       not_run ? ", the rest not run" : "");
            for (int i = 0; i < n_jobs && quiet; i++)
                if (jobs[i].status != FC_OK)
                    fprintf(stderr, "FAILURE: %s: %s\n", jobs[i].input, jobs[i].message);
        }
        rc = interrupted ? 130 : failed || not_run ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    for (int i = 0; i < n_jobs; i++) {
        CPLFree(jobs[i].output);
        fc_result_destroy(jobs[i].result);
    }
    free(jobs);
out:
    free(positional);
    for (int k = 0; k < n_owned; k += 2) {
        fc_args_free(owned[k]);
        free(owned[k + 1]);
    }
    free(owned);
    fc_options_destroy(opts);
    fc_context_destroy(ctx);
    return rc;
}

static int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", info_usage);
            return EXIT_SUCCESS;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-') {
            return usage_error("info", "unknown option %s", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return usage_error("info", "too many arguments: %s", argv[i]);
        }
    }
    if (!path)
        return usage_error("info", "needs FILE%s", "");
    fc_context *ctx = fc_context_new();
    char *text = NULL;
    int rc = EXIT_SUCCESS;
    if (fc_info(ctx, path, json, &text) != FC_OK)
        rc = fail(ctx);
    else
        fputs(text, stdout);
    fc_free(text);
    fc_context_destroy(ctx);
    return rc;
}

static int cmd_render(int argc, char **argv)
{
    const char *output = NULL, *png = NULL, *regions = "", *title = "";
    bool overwrite = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", render_usage);
            return EXIT_SUCCESS;
        } else if (strcmp(a, "--regions") == 0 && i + 1 < argc) {
            regions = argv[++i];
        } else if (strcmp(a, "--title") == 0 && i + 1 < argc) {
            title = argv[++i];
        } else if (strcmp(a, "--overwrite") == 0) {
            overwrite = true;
        } else if (a[0] == '-') {
            return usage_error("render", "unknown option or missing value: %s", a);
        } else if (!output) {
            output = a;
        } else if (!png) {
            png = a;
        } else {
            return usage_error("render", "too many arguments: %s", a);
        }
    }
    if (!png)
        return usage_error("render", "needs OUTPUT and PNG%s", "");
    VSIStatBufL st;
    if (VSIStatL(output, &st) != 0) {
        fprintf(stderr, "FAILURE: %s: no such file or directory\n", output);
        return EXIT_FAILURE;
    }
    if (!overwrite && VSIStatL(png, &st) == 0) {
        fprintf(stderr, "FAILURE: %s exists; use --overwrite to replace it\n", png);
        return EXIT_FAILURE;
    }
    /* the script and its messages in temporary files; the picture under a
     * temporary name beside PNG, renamed into place when complete */
    char script[] = "/tmp/firmclust-render-XXXXXX", log[] = "/tmp/firmclust-render-log-XXXXXX";
    int fd = mkstemp(script), log_fd = mkstemp(log);
    if (fd < 0 || log_fd < 0 ||
        write(fd, render_py, sizeof render_py - 1) != (ssize_t)(sizeof render_py - 1)) {
        fprintf(stderr, "FAILURE: cannot write a temporary file in /tmp\n");
        return EXIT_FAILURE;
    }
    close(fd);
    char tmp_png[4200];
    snprintf(tmp_png, sizeof tmp_png, "%s%s.%s.%ld.tmp.png", CPLGetPath(png), *CPLGetPath(png) ? "/" : "",
             CPLGetFilename(png), (long)getpid());
    const char *python = getenv("FIRMCLUST_PYTHON") ? getenv("FIRMCLUST_PYTHON") : "/usr/bin/python3";
    pid_t pid = fork();
    if (pid == 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        setenv("QT_QPA_PLATFORM", "offscreen", 0);
        execl(python, python, script, output, tmp_png, regions, title, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    close(log_fd);
    unlink(script);
    int rc = EXIT_SUCCESS;
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char text[4096] = "";
        FILE *f = fopen(log, "r");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        text[n] = '\0';
        if (f)
            fclose(f);
        if (strstr(text, "No module named 'qgis'") || (WIFEXITED(status) && WEXITSTATUS(status) == 127))
            fprintf(stderr, "FAILURE: render needs QGIS's Python bindings (Debian: apt-get install "
                            "python3-qgis), for %s\n", python);
        else
            fprintf(stderr, "FAILURE: %s: QGIS could not draw it:\n%s", output, text);
        unlink(tmp_png);
        rc = EXIT_FAILURE;
    } else if (rename(tmp_png, png) != 0) {
        fprintf(stderr, "FAILURE: %s: cannot move into place\n", png);
        unlink(tmp_png);
        rc = EXIT_FAILURE;
    }
    unlink(log);
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
    fc_context_set_progress(ctx, want_progress(quiet, false) ? term_progress : cancel_only, NULL);
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
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
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
    } else if (strcmp(argv[1], "render") == 0) {
        rc = cmd_render(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "info") == 0) {
        rc = cmd_info(argc - 1, argv + 1);
    } else if (strcmp(argv[1], "synth") == 0) {
        rc = cmd_synth(argc - 1, argv + 1);
    } else {
        rc = usage_error(NULL, "unknown command '%s'", argv[1]);
    }
    CSLDestroy(argv);
    GDALDestroyDriverManager();
    return rc;
}
