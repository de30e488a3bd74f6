/* SPDX-License-Identifier: MIT */
/* The clustering job, fc_cluster_many(): one function per stage of the
 * pipeline (check -> read -> reproject -> choose the metric -> cluster ->
 * polygons -> statistics -> write, the firms layer written on a thread of
 * its own beside the significance test), each filling in its part of an
 * fc_job (job.h), which owns every resource of the run and is freed in one
 * place, job_free(). The first stages are here; cluster and polygons are in
 * clustering.c, statistics in statistics.c, writing in writing.c. */
#include "pipeline/job.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_error.h>

/* Longitude and latitude in degrees of the firms, on the geographic CRS of
 * the input's datum. lon and lat stay NULL when the input is already in it
 * (then f->x and f->y are used). */
static int to_lonlat(fc_context *ctx, const fc_firms *f, double **lon, double **lat,
                     OGRSpatialReferenceH *geog)
{
    *geog = OSRCloneGeogCS(f->srs);
    if (!*geog)
        return fc_error_gdal(ctx, FC_ECRS, "the input CRS has no geographic CRS");
    OSRSetAxisMappingStrategy(*geog, OAMS_TRADITIONAL_GIS_ORDER);
    if (fabs(OSRGetAngularUnits(*geog, NULL) - M_PI / 180) > 1e-12)
        return fc_error(ctx, FC_ECRS,
                        "geodesic distances need a geographic CRS in degrees; use --distance planar");
    if (OSRIsGeographic(f->srs))
        return FC_OK;
    *lon = malloc(f->n * sizeof **lon);
    *lat = malloc(f->n * sizeof **lat);
    if (!*lon || !*lat)
        return fc_error(ctx, FC_ENOMEM, "out of memory for %zu firms", f->n);
    memcpy(*lon, f->x, f->n * sizeof **lon);
    memcpy(*lat, f->y, f->n * sizeof **lat);
    return fc_transform_points(ctx, f->srs, *geog, f->n, *lon, *lat);
}

int fc_cluster(fc_context *ctx, const char *input, const char *output, const fc_options *o,
               fc_result **result_out)
{
    return fc_cluster_many(ctx, 1, &input, output, o, result_out);
}

/* What can be refused before any file is opened. */
static int check_job(fc_context *ctx, size_t n_inputs, const char *const *inputs,
                     const char *output, const fc_options *o)
{
    if (n_inputs < 1 || !inputs || !inputs[0] || !output || !o)
        return fc_error(ctx, FC_EINVAL, "fc_cluster needs an input, an output and options");
    int status = fc_options_check(ctx, o);
    if (status != FC_OK)
        return status;
    for (size_t i = 0; i < n_inputs; i++) {
        if (!inputs[i])
            return fc_error(ctx, FC_EINVAL, "fc_cluster: input %zu is NULL", i + 1);
        for (size_t k = 0; k < i; k++)
            if (fc_same_place(inputs[k], inputs[i]))
                return fc_error(ctx, FC_EINVAL, "%s is given twice: its firms would count twice",
                                inputs[i]);
    }
    /* Every file the run reads, against every path it writes. */
    const bool groups_file = o->groups && strcmp(o->groups, "auto") != 0;
    const char *aux[] = {o->regions, o->institutions, groups_file ? o->groups : NULL,
                         o->sector_names};
    const size_t n_aux = sizeof aux / sizeof aux[0];
    const char **reads = calloc(n_inputs + n_aux, sizeof *reads);
    if (!reads)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    memcpy(reads, inputs, n_inputs * sizeof *reads);
    memcpy(reads + n_inputs, aux, sizeof aux);
    const char *writes[] = {output, o->json};
    status = fc_check_paths(ctx, n_inputs + n_aux, reads, 2, writes);
    free(reads);
    if (status == FC_OK && o->json && strcmp(o->json, "-") != 0)
        status = fc_output_check_target(ctx, o->json, NULL, FC_OUT_FILE, o->overwrite);
    return status;
}

/* Read: the output's place is checked first, then every input's firms are
 * read into one set of columns. */
static int read_stage(fc_job *job)
{
    fc_context *ctx = job->ctx;
    const fc_options *o = job->o;
    int status = job->output ? fc_output_prepare(ctx, job->output, o->format, o->overwrite,
                                                 FC_OUT_LAYERS, &job->out)
                             : FC_OK; /* fc_measure_firms(): nothing to write */
    if (status == FC_OK)
        status = fc_progress_stage(ctx, 0.0, 0.4, "reading");
    for (size_t i = 0; i < job->n_inputs && status == FC_OK; i++)
        status = fc_input_open(ctx, job->inputs[i], o, &job->in[i]);
    if (status == FC_OK)
        status = fc_read_firms(ctx, job->in, job->n_inputs, o, &job->f);
    if (status != FC_OK)
        return status;
    fc_firms *f = &job->f;
    if (f->n == 0)
        return fc_error(ctx, FC_EDATA, "%s, layer %s: no firms to cluster (%zu features, %zu skipped)",
                        job->inputs[0], job->in[0].layer_name, f->n_features, f->n_skipped);
    if (!f->srs)
        return fc_error(ctx, FC_ECRS,
                        "%s, layer %s: has no CRS; give one with --s-srs (e.g. EPSG:4326 for "
                        "longitude/latitude)",
                        job->inputs[0], job->in[0].layer_name);
    if (o->t_srs) {
        if (!(job->out_srs = fc_srs_from_user(ctx, o->t_srs, "--t-srs")))
            return fc_errcode(ctx);
    } else {
        job->out_srs = OSRClone(f->srs);
        OSRSetAxisMappingStrategy(job->out_srs, OAMS_TRADITIONAL_GIS_ORDER);
    }
    status = job->out.driver ? fc_codes_fit(ctx, GDALGetDriverShortName(job->out.driver),
                                            job->f.sector_codes, job->f.n_sectors)
                             : FC_OK;
    if (status == FC_OK)
        status = fc_sector_names(ctx, o, &job->f);
    const bool groups_file = o->groups && strcmp(o->groups, "auto") != 0;
    if (status == FC_OK && groups_file)
        status = fc_groups_read(ctx, o->groups, &job->f, &job->groups);
    if (status == FC_OK && groups_file)
        status = fc_groups_relabel(ctx, &job->groups, &job->f);
    if (status == FC_OK)
        fc_job_stage_done(job, "reading");
    return status;
}

/* The working CRS for the firms' extent, and the firms in it. */
static int reproject_stage(fc_job *job)
{
    fc_context *ctx = job->ctx;
    const fc_firms *f = &job->f;
    double xmin = INFINITY, ymin = INFINITY, xmax = -INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < f->n; i++) {
        xmin = fmin(xmin, f->x[i]);
        xmax = fmax(xmax, f->x[i]);
        ymin = fmin(ymin, f->y[i]);
        ymax = fmax(ymax, f->y[i]);
    }
    if (OSRIsGeographic(f->srs)) /* a window that may straddle the antimeridian */
        fc_longitude_window(f->x, f->n, &xmin, &xmax);
    int status = fc_working_crs_choose(ctx, f->srs, xmin, ymin, xmax, ymax, job->o->distance,
                                       &job->work);
    if (status != FC_OK)
        return status;
    job->wx = malloc(f->n * sizeof *job->wx);
    job->wy = malloc(f->n * sizeof *job->wy);
    job->cid = malloc(f->n * sizeof *job->cid);
    job->role = malloc(f->n);
    if (!job->wx || !job->wy || !job->cid || !job->role)
        return fc_error(ctx, FC_ENOMEM, "out of memory for %zu firms", f->n);
    memcpy(job->wx, f->x, f->n * sizeof *job->wx);
    memcpy(job->wy, f->y, f->n * sizeof *job->wy);
    if (job->work.reprojected &&
        (status = fc_transform_points(ctx, f->srs, job->work.srs, f->n, job->wx, job->wy)) != FC_OK)
        return fc_error_prefix(ctx, "%s", job->n_inputs > 1 ? job->output : job->inputs[0]);
    fc_job_stage_done(job, "reprojecting");
    return FC_OK;
}

/* Choose the metric: geodesic on the ellipsoid (longitude/latitude, or a
 * projected CRS whose plane is too far off) or planar in the working CRS;
 * the DBSCAN parameters and the line that says which. */
static int metric_stage(fc_job *job)
{
    const fc_options *o = job->o;
    const fc_firms *f = &job->f;
    job->on_ellipsoid = OSRIsGeographic(f->srs) || job->work.distorted;
    const bool geodesic_mode = o->distance == FC_DIST_GEODESIC ||
                               (o->distance == FC_DIST_AUTO && job->on_ellipsoid);
    fc_dbscan_params *params = &job->params;
    *params = (fc_dbscan_params){.eps = o->eps / job->work.to_metres, .min_pts = o->min_pts,
                                 .threads = o->threads};
    if (o->min_weight >= 0) {
        params->weight = f->weight;
        params->min_weight = o->min_weight;
    }
    job->cx = job->wx;
    job->cy = job->wy;
    if (!geodesic_mode) {
        snprintf(job->distance_used, sizeof job->distance_used, "planar in %s",
                 job->work.description);
        fc_message(job->ctx, FC_MSG_DEBUG, "distances: %s", job->distance_used);
        return FC_OK;
    }
    int status = to_lonlat(job->ctx, f, &job->lon, &job->lat, &job->geog);
    if (status != FC_OK)
        return status;
    double inv_f = OSRGetInvFlattening(job->geog, NULL);
    params->distance = FC_DISTANCE_GEODESIC;
    params->eps = o->eps;
    params->semi_major = OSRGetSemiMajor(job->geog, NULL);
    params->flattening = inv_f > 0 ? 1 / inv_f : 0;
    job->cx = job->lon ? job->lon : f->x;
    job->cy = job->lat ? job->lat : f->y;
    const char *spheroid = OSRGetAttrValue(job->geog, "SPHEROID", 0);
    int len = snprintf(job->distance_used, sizeof job->distance_used,
                       "geodesic on the %s ellipsoid (a = %.3f m, 1/f = %.9g)",
                       spheroid ? spheroid : "input's", params->semi_major, inv_f);
    if (job->work.distorted && len > 0 && (size_t)len < sizeof job->distance_used)
        /* say why the input's plane was not used */
        snprintf(job->distance_used + len, sizeof job->distance_used - (size_t)len,
                 ", as the input CRS %s stretches distances by up to %.3g%% over the data "
                 "(more than %g%%; --distance planar measures in its plane all the same)",
                 OSRGetName(f->srs), 100 * job->work.distortion, 100 * FC_PLANE_TOLERANCE);
    fc_message(job->ctx, FC_MSG_DEBUG, "distances: %s", job->distance_used);
    return FC_OK;
}

/* Frees everything the job holds; a failed job's temporary output is
 * removed, and an I/O failure explained. */
static void job_free(fc_job *job, int status)
{
    fc_firm_writer_free(job); /* before the output it writes is removed */
    if (status == FC_EIO)
        fc_output_explain(job->ctx, &job->out);
    fc_output_abort(&job->out); /* after a commit, only frees the names */
    for (size_t i = 0; job->in && i < job->n_inputs; i++)
        fc_input_close(&job->in[i]);
    free(job->in);
    fc_groups_restore(&job->groups, &job->f);
    fc_groups_free(&job->groups);
    fc_firms_free(&job->f);
    if (job->out_srs)
        OSRRelease(job->out_srs);
    fc_working_crs_free(&job->work);
    free(job->wx);
    free(job->wy);
    free(job->lon);
    free(job->lat);
    if (job->geog)
        OSRRelease(job->geog);
    free(job->cid);
    free(job->role);
    free(job->strength);
    free(job->outlier);
    free(job->hdbscan);
    free(job->sector_eps_m);
    fc_cluster_table_free(&job->table);
    free(job->sector_scale);
    free(job->region_of);
    fc_regions_free(&job->regions);
    fc_region_stats_free(&job->stats);
    fc_colocation_free(&job->colocation);
    fc_institutions_free(&job->institutions);
    fc_field_names_free(&job->renamed);
    fc_result_destroy(job->result);
    free(job);
}

/* The pipeline: check -> read -> reproject -> choose the metric -> cluster
 * -> polygons -> statistics -> write. */
int fc_cluster_many(fc_context *ctx, size_t n_inputs, const char *const *inputs,
                    const char *output, const fc_options *o, fc_result **result_out)
{
    if (result_out)
        *result_out = NULL;
    if (!ctx)
        return FC_EINVAL;
    int status = check_job(ctx, n_inputs, inputs, output, o);
    if (status != FC_OK)
        return status;
    fc_job *job = calloc(1, sizeof *job);
    fc_input *in = calloc(n_inputs, sizeof *in);
    if (!job || !in) {
        free(job);
        free(in);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    *job = (fc_job){.ctx = ctx, .o = o, .n_inputs = n_inputs, .inputs = inputs, .output = output,
                    .in = in};
    clock_gettime(CLOCK_MONOTONIC, &job->t0);
    status = read_stage(job);
    if (status == FC_OK)
        status = reproject_stage(job);
    if (status == FC_OK)
        status = metric_stage(job);
    if (status == FC_OK && o->groups && strcmp(o->groups, "auto") == 0)
        status = fc_stage_auto_groups(job);
    if (status == FC_OK)
        status = fc_stage_cluster(job);
    if (status == FC_OK)
        status = fc_stage_polygons(job);
    if (status == FC_OK)
        status = fc_stage_statistics(job);
    if (status == FC_OK)
        status = fc_stage_write(job, result_out != NULL);
    if (status == FC_OK && result_out) {
        *result_out = job->result;
        job->result = NULL;
    }
    if (status == FC_OK && ctx->progress)
        ctx->progress(1.0, "done", ctx->progress_arg); /* too late to cancel */
    job_free(job, status);
    return status;
}

int fc_measure_firms(fc_context *ctx, const char *input, const fc_options *o, fc_measured *m)
{
    memset(m, 0, sizeof *m);
    fc_job *job = calloc(1, sizeof *job);
    fc_input *in = calloc(1, sizeof *in);
    if (!job || !in) {
        free(job), free(in);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    *job = (fc_job){.ctx = ctx, .o = o, .n_inputs = 1, .inputs = &m->input, .in = in};
    m->input = input;
    m->job = job;
    clock_gettime(CLOCK_MONOTONIC, &job->t0);
    int status = read_stage(job);
    if (status == FC_OK)
        status = reproject_stage(job);
    if (status == FC_OK)
        status = metric_stage(job);
    if (status != FC_OK) {
        job_free(job, FC_OK); /* no output to explain */
        m->job = NULL;
        return status;
    }
    m->firms = &job->f;
    m->x = job->cx;
    m->y = job->cy;
    m->params = &job->params;
    m->to_metres = fc_job_to_metres(job);
    m->distance = job->distance_used;
    return FC_OK;
}

void fc_measured_free(fc_measured *m)
{
    if (m->job)
        job_free(m->job, FC_OK);
    memset(m, 0, sizeof *m);
}
