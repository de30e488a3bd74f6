/* SPDX-License-Identifier: MIT */
/* `firmclust cluster` with several inputs: the jobs run on a few threads,
 * one library call each, with one progress bar for all of them. */
#include "cli.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <gdal.h>

typedef struct batch {
    cli_job *jobs;
    int n_jobs, next;
    const fc_options *opts;
    bool show_progress, fail_fast, quiet, stop;
    pthread_mutex_t lock;
} batch;

typedef struct job_slot {
    batch *b;
    cli_job *j;
} job_slot;

/* The library's progress for one job: the terminal shows the whole
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
        cli_term_progress(total / b->n_jobs, message, NULL);
    bool go_on = !cli_interrupted && !b->stop;
    pthread_mutex_unlock(&b->lock);
    return go_on;
}

/* What stopped a cancelled job, for its FAILURE line. */
static void say_cancelled(cli_job *j, bool batch_stopped)
{
    if (cli_interrupted)
        snprintf(j->message, sizeof j->message,
                 "%s: cancelled by %s; nothing was written, every output is as it was", j->input,
                 cli_interrupted == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM");
    else if (batch_stopped)
        snprintf(j->message, sizeof j->message,
                 "%s: stopped because another input failed (--fail-fast); nothing was written",
                 j->input);
}

static void run_job(batch *b, cli_job *j)
{
    bool quiet = b->quiet;
    job_slot slot = {b, j};
    fc_context *ctx = fc_context_new();
    if (!ctx) {
        j->status = FC_ENOMEM;
        snprintf(j->message, sizeof j->message, "out of memory");
        return;
    }
    fc_context_set_message_handler(ctx, cli_print_message, &quiet);
    fc_context_set_progress(ctx, job_progress, &slot);
    j->status = fc_cluster_many(ctx, j->n_inputs, j->inputs, j->output, b->opts, &j->result);
    snprintf(j->message, sizeof j->message, "%s", fc_errmsg(ctx));
    pthread_mutex_lock(&b->lock);
    if (j->status == FC_ECANCEL)
        say_cancelled(j, b->stop);
    j->done = 1;
    if (j->status != FC_OK && b->fail_fast)
        b->stop = true;
    pthread_mutex_unlock(&b->lock);
    fc_context_destroy(ctx);
}

static void *batch_worker(void *arg)
{
    batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        int i = b->next < b->n_jobs && !b->stop && !cli_interrupted ? b->next++ : -1;
        pthread_mutex_unlock(&b->lock);
        if (i < 0)
            return NULL;
        run_job(b, &b->jobs[i]);
    }
}

void cli_run_jobs(cli_job *jobs, int n_jobs, fc_options *opts, bool show_progress,
                  bool fail_fast, bool quiet)
{
    int workers = fc_options_threads(opts);
    if (workers > n_jobs)
        workers = n_jobs;
    if (workers > 1) { /* the jobs share the cores, not each job's permutations */
        fc_context *ctx = fc_context_new();
        if (ctx)
            fc_options_set(ctx, opts, "threads", "1");
        fc_context_destroy(ctx);
    }
    batch b = {.jobs = jobs, .n_jobs = n_jobs, .opts = opts, .fail_fast = fail_fast,
               .quiet = quiet, .show_progress = show_progress};
    pthread_mutex_init(&b.lock, NULL);
    pthread_t *tid = workers > 1 ? calloc((size_t)workers, sizeof *tid) : NULL;
    int started = 0; /* without memory for more, this thread does all */
    for (int t = 1; tid && t < workers; t++)
        if (pthread_create(&tid[t], NULL, batch_worker, &b) == 0)
            started = t;
    batch_worker(&b);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    pthread_mutex_destroy(&b.lock);
    if (show_progress && !cli_interrupted)
        cli_term_progress(1.0, NULL, NULL); /* failed jobs count as done */
}

char *cli_batch_output(const char *dir, const char *input, const char *format)
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
