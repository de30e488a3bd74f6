/* SPDX-License-Identifier: MIT */
/* The write stage: the firms layer on a thread of its own (started beside
 * the significance test), the other layers and styles, the summary and its
 * JSON, and the output moved into place, a cancel heard up to that moment. */
#include "pipeline/job.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cpl_conv.h>
#include <cpl_error.h>

typedef struct held_message {
    int level;
    char *text;
} held_message;

typedef struct firm_writer {
    fc_job *job;
    fc_findings findings; /* taken before the thread starts, as the job changes */
    fc_context ctx;     /* the thread's own: its error, its held messages */
    GDALDatasetH ds;    /* the output dataset, firms layer written (one dataset) */
    held_message *held;
    size_t n_held, room;
    bool held_lost;     /* out of memory holding a message */
    atomic_bool stop;   /* the run failed or was cancelled elsewhere */
    atomic_bool done;   /* the thread has finished */
    pthread_t thread;
    bool threaded;
    int status;
} firm_writer;

static void hold_message(int level, const char *message, void *arg)
{
    firm_writer *w = arg;
    if (w->n_held == w->room) {
        size_t room = w->room ? 2 * w->room : 8;
        held_message *more = realloc(w->held, room * sizeof *more);
        if (!more) {
            w->held_lost = true;
            return;
        }
        w->held = more, w->room = room;
    }
    char *text = fc_strdup(message);
    if (!text) {
        w->held_lost = true;
        return;
    }
    w->held[w->n_held++] = (held_message){level, text};
}

static int writer_progress(double complete, const char *message, void *arg)
{
    (void)complete, (void)message;
    return !atomic_load(&((firm_writer *)arg)->stop); /* 0: stop */
}

static fc_findings job_findings(fc_job *job);

static void *write_firms_thread(void *arg)
{
    firm_writer *w = arg;
    fc_job *job = w->job;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Output timestamps are fixed so that the same input gives the same bytes. */
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", "2000-01-01T00:00:00Z");
    w->ds = fc_output_create(&w->ctx, &job->out, job->out.is_directory ? "firms" : NULL);
    w->status = w->ds ? fc_write_firms(&w->ctx, w->ds, job->in, job->n_inputs, &w->findings) : FC_EIO;
    if (w->status == FC_EIO) /* while the files are as the failure left them */
        fc_output_explain(&w->ctx, &job->out);
    if (w->ds && job->out.is_directory) { /* a file of its own, finished here */
        CPLErrorReset();
        GDALClose(w->ds);
        w->ds = NULL;
        if (w->status == FC_OK && CPLGetLastErrorType() == CE_Failure)
            w->status = fc_error_gdal(&w->ctx, FC_EIO, "%s: cannot finish writing", job->output);
    }
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    if (w->status == FC_OK)
        fc_message(&w->ctx, FC_MSG_DEBUG, "writing firms: %.3f s", fc_seconds_since(&t0));
    atomic_store(&w->done, true);
    return NULL;
}

int fc_firm_writer_start(fc_job *job)
{
    firm_writer *w = calloc(1, sizeof *w);
    if (!w)
        return fc_error(job->ctx, FC_ENOMEM, "out of memory");
    *w = (firm_writer){.job = job, .findings = job_findings(job),
                       .ctx = {.stage_hi = 1.0, .held_debug = true}};
    atomic_init(&w->stop, false);
    atomic_init(&w->done, false);
    fc_context_set_progress(&w->ctx, writer_progress, w);
    fc_context_set_message_handler(&w->ctx, hold_message, w);
    job->writer = w;
    w->threaded = pthread_create(&w->thread, NULL, write_firms_thread, w) == 0;
    if (!w->threaded) /* no thread to be had: written now */
        write_firms_thread(w);
    return FC_OK;
}

/* Joins the writer (stopping it first unless `status` is FC_OK) and says
 * what it held back; returns its status, or `status` when that is not
 * FC_OK. */
static int firm_writer_finish(fc_job *job, int status)
{
    firm_writer *w = job->writer;
    if (!w)
        return status;
    /* While it writes, the caller's cancel is asked every 20 ms: a cancel
     * stops the writer within a batch of rows. */
    while (status == FC_OK && w->threaded && !atomic_load(&w->done)) {
        nanosleep(&(struct timespec){0, 20000000L}, NULL);
        status = fc_progress(job->ctx, 0.0, "writing firms");
    }
    if (status != FC_OK)
        atomic_store(&w->stop, true);
    if (w->threaded)
        pthread_join(w->thread, NULL);
    w->threaded = false;
    for (size_t i = 0; i < w->n_held; i++) {
        if (status == FC_OK)
            fc_message(job->ctx, w->held[i].level, "%s", w->held[i].text);
        free(w->held[i].text);
    }
    w->n_held = 0;
    if (status == FC_OK && w->status == FC_OK && w->held_lost)
        status = fc_error(job->ctx, FC_ENOMEM, "out of memory");
    if (status == FC_OK && w->status != FC_OK) {
        status = w->status;
        fc_error(job->ctx, status, "%s", w->ctx.errmsg);
    }
    return status;
}

void fc_firm_writer_free(fc_job *job)
{
    firm_writer_finish(job, FC_ECANCEL);
    if (job->writer && job->writer->ds)
        GDALClose(job->writer->ds);
    if (job->writer)
        free(job->writer->held);
    free(job->writer);
    job->writer = NULL;
}

/* The next layer's dataset: in a directory output each layer is a file of
 * its own, else every layer goes into the one dataset. */
static int next_layer_file(fc_job *job, GDALDatasetH *ds, const char *layer)
{
    if (!job->out.is_directory)
        return FC_OK;
    GDALClose(*ds);
    *ds = fc_output_create(job->ctx, &job->out, layer);
    return *ds ? FC_OK : FC_EIO;
}

/* The co-location table: in the dataset, or as colocation.csv in a
 * directory output. */
static int write_colocation(fc_job *job, GDALDatasetH *ds, const fc_findings *findings)
{
    if (job->out.is_directory) {
        GDALClose(*ds);
        if (!(*ds = fc_output_create_csv(job->ctx, &job->out, "colocation")))
            return FC_EIO;
    }
    return fc_write_colocation(job->ctx, *ds, findings);
}

/* Writes the layers and their styles under the output's temporary name,
 * closes them and reads back what was written. */
static int write_layers(fc_job *job, const fc_findings *findings)
{
    fc_context *ctx = job->ctx;
    const bool regions = job->o->regions != NULL;
    const bool auto_groups = job->o->groups && strcmp(job->o->groups, "auto") == 0;
    GDALDatasetH ds = job->writer->ds; /* the firms layer in it, or in a file of its own */
    job->writer->ds = NULL;
    if (job->out.is_directory)
        ds = fc_output_create(ctx, &job->out, "clusters");
    int status = ds ? fc_write_clusters(ctx, ds, findings) : FC_EIO;
    if (status == FC_OK && regions && (status = next_layer_file(job, &ds, "regions")) == FC_OK)
        status = fc_write_regions(ctx, ds, findings);
    if (status == FC_OK && job->colocated)
        status = write_colocation(job, &ds, findings);
    if (status == FC_OK && auto_groups) {
        if (job->out.is_directory) {
            GDALClose(ds);
            ds = fc_output_create_csv(ctx, &job->out, "groups");
        }
        status = ds ? fc_write_groups(ctx, ds, &job->groups) : FC_EIO;
    }
    if (status == FC_OK && job->o->institutions &&
        (status = next_layer_file(job, &ds, "institutions")) == FC_OK)
        status = fc_write_institutions(ctx, ds, findings);
    if (status == FC_OK) {
        fc_job_stage_done(job, "writing clusters");
        status = fc_write_styles(ctx, &job->out, ds, findings);
    }
    if (ds) {
        CPLErrorReset();
        GDALClose(ds);
        if (status == FC_OK && CPLGetLastErrorType() == CE_Failure)
            status = fc_error_gdal(ctx, FC_EIO, "%s: cannot finish writing", job->output);
    }
    if (status == FC_OK) {
        /* (a directory's colocation.csv is not in the output's format) */
        const bool table = job->colocated && !job->out.is_directory;
        const size_t S = job->colocation.n_sectors;
        const char *layers[] = {"clusters", regions ? "regions" : NULL, "firms",
                                table ? "colocation" : NULL,
                                job->o->institutions ? "institutions" : NULL};
        const GIntBig expected[] = {(GIntBig)job->table.n,
                                    (GIntBig)(job->regions.n * job->f.n_sectors),
                                    (GIntBig)job->firm_rows, (GIntBig)(S * S),
                                    (GIntBig)job->institutions.n};
        status = fc_output_verify(ctx, &job->out, layers, expected, 5);
    }
    return status;
}

/* What the writers (write_firms.c, write.c) and the summary read. */
static fc_findings job_findings(fc_job *job)
{
    const fc_options *o = job->o;
    return (fc_findings){
        .sector_scale = job->sector_scale, .renamed = &job->renamed, .firm_rows = &job->firm_rows,
        .firms = &job->f, .work = &job->work, .out_srs = job->out_srs, .cluster_id = job->cid,
        .role = job->role, .clusters = &job->table, .regions = o->regions ? &job->regions : NULL,
        .region_of = job->region_of, .stats = o->regions ? &job->stats : NULL,
        .colocation = job->colocated ? &job->colocation : NULL,
        .institutions = o->institutions ? &job->institutions : NULL,
        .hdbscan = job->hdbscan, .strength = job->strength, .outlier = job->outlier,
        .sector_eps_m = job->sector_eps_m};
}

/* Write: the other layers once the firms are written, then the summary (and
 * its JSON) before the output goes into place, so that a failure anywhere
 * leaves nothing behind. */
int fc_stage_write(fc_job *job, bool want_result)
{
    fc_context *ctx = job->ctx;
    const fc_options *o = job->o;
    fc_findings findings = job_findings(job);
    int status = fc_progress_stage(ctx, 0.8, 1.0, "writing");
    status = firm_writer_finish(job, status);
    if (status == FC_OK)
        fc_job_stage_done(job, "waiting for the firms layer");
    /* Output timestamps are fixed so that the same input gives the same bytes. */
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", "2000-01-01T00:00:00Z");
    if (status == FC_OK)
        status = write_layers(job, &findings);
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    if (status == FC_OK)
        fc_job_stage_done(job, "finishing the output");
    if (status == FC_OK && (want_result || o->json))
        status = fc_result_make(ctx, &findings, job->distance_used, job->method,
                                o->permutations, job->significance, &job->result);
    /* The JSON file is written beside the output and goes into place right
     * after it; standard output gets it once the output is in place. */
    const bool json_file = o->json && strcmp(o->json, "-") != 0;
    fc_output json = {0};
    if (status == FC_OK && json_file)
        status = fc_result_write_json(ctx, job->result, o->json, job->inputs[0], job->output,
                                      o->overwrite, &json);
    if (status == FC_OK) /* the last moment a cancel leaves everything as it was */
        status = fc_progress(ctx, 1.0, "writing");
    if (status == FC_OK)
        status = fc_output_commit(ctx, &job->out, o->overwrite);
    if (status == FC_OK && json_file)
        status = fc_output_commit(ctx, &json, o->overwrite);
    fc_output_abort(&json);
    if (status == FC_OK && o->json && !json_file)
        status = fc_result_write_json(ctx, job->result, "-", job->inputs[0], job->output,
                                      o->overwrite, &json);
    return status;
}
