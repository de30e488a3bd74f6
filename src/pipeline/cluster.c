/* SPDX-License-Identifier: MIT */
/* The clustering job, fc_cluster_many(): one function per stage of the
 * pipeline (check -> read -> reproject -> choose the metric -> cluster ->
 * polygons -> statistics -> write, the firms layer written on a thread of
 * its own beside the significance test), each filling in its part of an fc_job,
 * which owns every resource of the run and is freed in one place. */
#include "pipeline/pipeline.h"

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

static void cluster_table_free(fc_cluster_table *t)
{
    for (size_t i = 0; t->wkb && i < t->n; i++)
        free(t->wkb[i]);
    free(t->wkb);
    free(t->wkb_size);
    free(t->sector);
    free(t->n_firms);
    free(t->n_core);
    free(t->weight);
    free(t->area_km2);
    free(t->region);
    free(t->region_share);
    free(t->n_regions);
    free(t->region_lq);
    free(t->sector_share);
    free(t->weight_share);
    free(t->p_value);
    free(t->q_value);
    free(t->runs);
    for (size_t i = 0; t->top_sectors && i < t->n; i++)
        free(t->top_sectors[i]);
    free(t->top_sectors);
    free(t->n_sectors);
    free(t->diversity);
    for (size_t i = 0; t->inst_types && i < t->n; i++)
        free(t->inst_types[i]);
    free(t->inst_types);
    free(t->n_inst);
    memset(t, 0, sizeof *t);
}

/* Regions that hold no firm at all: the wrong file, or firms in the wrong
 * CRS, more often than a real gap. */
static void say_empty_regions(fc_context *ctx, const fc_regions *r, const fc_region_stats *st)
{
    size_t empty = 0;
    char names[512] = "";
    for (size_t g = 0; g < st->n_regions; g++) {
        if (st->n_region[g] > 0)
            continue;
        size_t len = strlen(names);
        if (empty++ < 5 && len < sizeof names - 8)
            snprintf(names + len, sizeof names - len, "%s'%s'", len ? ", " : "", r->names[g]);
    }
    if (empty > 5)
        strcat(names, ", ...");
    if (empty)
        fc_message(ctx, FC_MSG_WARNING,
                   "%s: %zu of %zu regions hold no firm (%s); %zu firms lie in the others, %zu "
                   "outside every region",
                   r->path, empty, st->n_regions, names, st->n_total, st->n_outside);
}

/* "850 m", "1.2 km", "0.0003 m": a distance as a person reads it. */
static const char *readable_metres(double m, char *buf, size_t size)
{
    if (m >= 1000)
        snprintf(buf, size, "%.1f km", m / 1000);
    else if (m >= 10)
        snprintf(buf, size, "%.0f m", m);
    else
        snprintf(buf, size, "%.2g m", m);
    return buf;
}

/* Where nothing clustered, the data's distance scale, so that a wrong eps
 * (degrees for metres, say) is obvious: a warning when the whole run found
 * no cluster (unless the cause was `said` already), a line naming the
 * sectors without one otherwise. Only the first n_real sectors are named
 * (a groups run's last, "-", is its firms in no group). */
static int say_scale(fc_context *ctx, const fc_firms *f, const double *wx, const double *wy,
                     double to_metres, const fc_cluster_table *t, const fc_options *o,
                     size_t n_real, bool said, double **scale_out)
{
    size_t ns = f->n_sectors ? f->n_sectors : 1;
    size_t *clusters = calloc(ns, sizeof *clusters);
    double *scale = malloc(ns * sizeof *scale);
    if (!clusters || !scale) {
        free(clusters), free(scale);
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < t->n; c++)
        clusters[t->sector[c]]++;
    int status = fc_sector_scales(ctx, f->n, wx, wy, to_metres, f->sector, f->n_sectors, clusters,
                                  o->min_pts, scale);
    char eps[32], d[32], list[512] = "";
    readable_metres(o->eps, eps, sizeof eps);
    if (o->method == FC_METHOD_HDBSCAN || o->eps_auto) { /* no one eps to blame */
        if (said)
            ;
        else if (status == FC_OK && t->n == 0 && o->eps_auto)
            fc_message(ctx, FC_MSG_WARNING,
                       "no clusters: in no sector do %zu firms (--min-pts) lie within the eps "
                       "suggested for it (--eps auto)",
                       o->min_pts);
        else if (status == FC_OK && t->n == 0)
            fc_message(ctx, FC_MSG_WARNING,
                       "no clusters: in no sector do the firms part into two or more groups of "
                       "at least %zu firms (--min-cluster-size; HDBSCAN* never takes a whole "
                       "sector as one cluster)",
                       o->min_cluster_size ? o->min_cluster_size : o->min_pts);
        free(clusters);
        if (status == FC_OK)
            *scale_out = scale;
        else
            free(scale);
        return status;
    }
    size_t without = 0, largest = SIZE_MAX, n_largest = 0, *n_of = calloc(ns, sizeof *n_of);
    for (size_t i = 0; n_of && i < f->n; i++)
        n_of[f->sector[i]]++;
    for (size_t s = 0; status == FC_OK && n_of && s < f->n_sectors && s < n_real; s++) {
        if (isnan(scale[s]))
            continue;
        without++;
        if (n_of[s] > n_largest) {
            n_largest = n_of[s];
            largest = s;
        }
        size_t len = strlen(list);
        if (len < sizeof list - 64)
            snprintf(list + len, sizeof list - len, "%s%s %s", len ? ", " : "", f->sector_codes[s],
                     readable_metres(scale[s], d, sizeof d));
        else if (len < sizeof list - 4)
            strcat(list, ", ...");
    }
    if (said)
        ;
    else if (status == FC_OK && t->n == 0 && largest != SIZE_MAX)
        fc_message(ctx, FC_MSG_WARNING,
                   "no clusters: eps is %s, but the %zu firms nearest to a firm of sector %s "
                   "(itself included, as --min-pts %zu counts them) lie within a median of %s; "
                   "eps is in metres, whatever the CRS",
                   eps, o->min_pts, f->sector_codes[largest], o->min_pts,
                   readable_metres(scale[largest], d, sizeof d));
    else if (status == FC_OK && t->n == 0)
        fc_message(ctx, FC_MSG_WARNING,
                   "no clusters: no sector has %zu firms (--min-pts) to make a cluster", o->min_pts);
    else if (status == FC_OK && without > 0)
        fc_message(ctx, FC_MSG_INFO,
                   "no cluster in %zu sector%s; the %zu firms nearest to a firm (itself included) "
                   "lie within a median of: %s (eps %s)",
                   without, without == 1 ? "" : "s", o->min_pts, list, eps);
    free(clusters);
    free(n_of);
    if (status == FC_OK)
        *scale_out = scale;
    else
        free(scale);
    return status;
}

/* Per-cluster counts and polygons. The points of each cluster are
 * gathered in input order, so GEOS sees the same input on every run. */
static int build_clusters(fc_context *ctx, const fc_firms *f, const double *wx,
                          const double *wy, const int32_t *cid, const uint8_t *role,
                          size_t n_clusters, const fc_hull_params *hp,
                          const double *sector_radius, const fc_area_measure *measure,
                          int threads, fc_cluster_table *t)
{
    t->n = n_clusters;
    size_t m = n_clusters ? n_clusters : 1;
    t->sector = calloc(m, sizeof *t->sector);
    t->n_firms = calloc(m, sizeof *t->n_firms);
    t->n_core = calloc(m, sizeof *t->n_core);
    t->area_km2 = calloc(m, sizeof *t->area_km2);
    t->wkb = calloc(m, sizeof *t->wkb);
    t->wkb_size = calloc(m, sizeof *t->wkb_size);
    t->weight = f->weight ? calloc(m, sizeof *t->weight) : NULL;
    size_t *start = calloc(m + 1, sizeof *start), *members = malloc((f->n ? f->n : 1) * sizeof *members);
    if (!t->sector || !t->n_firms || !t->n_core || !t->area_km2 || !t->wkb || !t->wkb_size ||
        (f->weight && !t->weight) || !start || !members) {
        free(start), free(members);
        return fc_error(ctx, FC_ENOMEM, "out of memory for %zu clusters", n_clusters);
    }
    for (size_t i = 0; i < f->n; i++) {
        if (cid[i] < 0)
            continue;
        size_t c = (size_t)cid[i];
        t->sector[c] = (int32_t)f->sector[i];
        t->n_firms[c]++;
        t->n_core[c] += role[i] == FC_ROLE_CORE;
        if (t->weight)
            t->weight[c] += f->weight[i];
        start[c + 1]++;
    }
    for (size_t c = 0; c < n_clusters; c++)
        start[c + 1] += start[c];
    /* Fill each cluster's run in input order; start[c] then points at the
     * next run, so shift it back by one afterwards. */
    for (size_t i = 0; i < f->n; i++)
        if (cid[i] >= 0)
            members[start[cid[i]]++] = i;
    for (size_t c = n_clusters; c > 0; c--)
        start[c] = start[c - 1];
    start[0] = 0;

    double *area = malloc(m * sizeof *area);
    int status = area ? FC_OK : fc_error(ctx, FC_ENOMEM, "out of memory for %zu clusters", n_clusters);
    /* the clusters of one sector in turn (they are numbered by sector), each
     * sector with its own buffer radius under --eps auto */
    for (size_t c0 = 0, c1; status == FC_OK && c0 < n_clusters; c0 = c1) {
        fc_hull_params own = *hp;
        for (c1 = c0; c1 < n_clusters && (!sector_radius || t->sector[c1] == t->sector[c0]); c1++)
            ;
        if (sector_radius)
            own.buffer_radius = sector_radius[t->sector[c0]];
        status = fc_hulls(ctx, threads, c1 - c0, start + c0, members, wx, wy, &own, measure,
                          t->wkb + c0, t->wkb_size + c0, area + c0);
    }
    for (size_t c = 0; c < n_clusters && status == FC_OK; c++)
        t->area_km2[c] = area[c] / 1e6;
    free(area);
    free(start);
    free(members);
    return status;
}

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

/* One run of fc_cluster_many(): what it was asked, and everything it
 * holds, each stage filling in its part; job_free() frees it all. */
typedef struct fc_job {
    fc_context *ctx;
    const fc_options *o;
    size_t n_inputs;
    const char *const *inputs;
    const char *output;
    struct timespec t0; /* start of the current stage, for --debug */

    /* read */
    fc_output out;
    fc_input *in;
    fc_firms f;
    fc_groups groups;         /* --groups: f's sectors are the groups */
    OGRSpatialReferenceH out_srs;
    /* choose the metric */
    fc_working_crs work;
    double *wx, *wy;          /* firms in the working CRS */
    double *lon, *lat;        /* geodesic on projected input: firms in degrees */
    OGRSpatialReferenceH geog; /* geodesic: the input datum's geographic CRS */
    const double *cx, *cy;    /* the coordinates DBSCAN sees */
    bool on_ellipsoid;        /* longitude/latitude, or a plane too far off */
    fc_dbscan_params params;
    char distance_used[640];
    /* cluster */
    int32_t *cid;
    uint8_t *role;
    size_t n_clusters;
    double eps_m;             /* --eps, or with HDBSCAN* without it the data's (metres) */
    bool no_band;             /* HDBSCAN* without --eps: the data give no band (eps_m is 1) */
    size_t groups_found;      /* --groups: clusters before those of too few sectors went */
    char method[512];         /* how, in words, for the summary */
    double *sector_eps_m;     /* --eps auto: per sector (NaN: too few firms), else NULL */
    double *strength, *outlier; /* HDBSCAN*: per firm (else NULL) */
    fc_hdbscan_cluster *hdbscan; /* HDBSCAN*: per cluster (else NULL) */
    /* polygons */
    fc_cluster_table table;
    double *sector_scale;
    /* statistics */
    int32_t *region_of;
    fc_regions regions;
    fc_region_stats stats;
    char significance[512];
    fc_colocation colocation;
    bool colocated;           /* colocation holds the quotients */
    fc_institutions institutions;
    /* write */
    fc_field_names renamed;
    size_t firm_rows;
    fc_result *result;
    struct firm_writer *writer; /* the firms layer, written beside the statistics */
} fc_job;

/* Metres in a unit of the coordinates the clustering measures (cx, cy):
 * the working CRS's unit, or 1 for geodesic distances, which are metres. */
static double measured_to_metres(const fc_job *job)
{
    return job->params.distance == FC_DISTANCE_GEODESIC ? 1 : job->work.to_metres;
}

/* Under --debug: how long each stage took. */
static void stage_done(fc_job *job, const char *stage)
{
    fc_message(job->ctx, FC_MSG_DEBUG, "%s: %.3f s", stage, fc_seconds_since(&job->t0));
    clock_gettime(CLOCK_MONOTONIC, &job->t0);
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
        stage_done(job, "reading");
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
    stage_done(job, "reprojecting");
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

/* The HDBSCAN* parameters of a run. */
static fc_hdbscan_params hdbscan_params(const fc_options *o, const fc_dbscan_params *metric)
{
    const size_t size = o->min_cluster_size ? o->min_cluster_size : o->min_pts;
    return (fc_hdbscan_params){.min_cluster_size = size,
                               .min_samples = o->min_samples ? o->min_samples : size,
                               .selection = o->cluster_selection == FC_SELECT_LEAF
                                                ? FC_SELECT_LEAF
                                                : FC_SELECT_EOM,
                               .distance = metric->distance, .semi_major = metric->semi_major,
                               .flattening = metric->flattening, .threads = metric->threads};
}

/* The median of the finite values of v[0 .. n), which it sorts to the
 * front; NaN when there is none. */
static double median_in_place(double *v, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            v[m++] = v[i];
    if (m == 0)
        return NAN;
    qsort(v, m, sizeof *v, fc_compare_double);
    return v[(m - 1) / 2];
}

/* HDBSCAN*: clustered firms are all core (HDBSCAN* has no border points).
 * Without --eps, the band of co-location and institutions and the polygons'
 * buffer is the median core distance of the clustered firms: the distance
 * at which a typical one of them is dense. */
static int hdbscan_stage(fc_job *job)
{
    const size_t n = job->f.n;
    const fc_hdbscan_params hp = hdbscan_params(job->o, &job->params);
    double *core = malloc((n + 1) * sizeof *core);
    job->strength = malloc((n + 1) * sizeof *job->strength);
    job->outlier = malloc((n + 1) * sizeof *job->outlier);
    job->hdbscan = malloc((n + 1) * sizeof *job->hdbscan);
    int status = core && job->strength && job->outlier && job->hdbscan
                     ? FC_OK
                     : fc_error(job->ctx, FC_ENOMEM, "out of memory for %zu firms", n);
    fc_hdbscan_labels labels = {job->cid, job->strength, job->outlier, core};
    if (status == FC_OK)
        status = fc_hdbscan(job->ctx, n, job->cx, job->cy, job->f.sector, &hp, &labels,
                            job->hdbscan, &job->n_clusters);
    for (size_t i = 0; status == FC_OK && i < n; i++)
        job->role[i] = job->cid[i] >= 0 ? FC_ROLE_CORE : FC_ROLE_NOISE;
    const double to_metres = measured_to_metres(job);
    for (size_t c = 0; status == FC_OK && c < job->n_clusters; c++) { /* to metres */
        job->hdbscan[c].birth *= to_metres;
        job->hdbscan[c].death *= to_metres;
        job->hdbscan[c].stability /= to_metres; /* a sum of 1 / distance */
    }
    if (status == FC_OK && !(job->o->eps > 0)) {
        size_t kept = 0; /* the clustered firms' core distances, or all when none is */
        for (size_t i = 0; i < n; i++)
            if (job->cid[i] >= 0)
                core[kept++] = core[i];
        const double m = median_in_place(core, kept ? kept : n) * to_metres;
        job->no_band = !(isfinite(m) && m > 0);
        job->eps_m = job->no_band ? 1 : m; /* all firms at one spot: any band holds them */
        job->params.eps = job->eps_m / to_metres;
        if (job->no_band && job->o->institutions)
            fc_message(job->ctx, FC_MSG_WARNING,
                       "institutions are counted within 1 m of the clusters' firms: the median "
                       "core distance of the clustered firms, the band without --eps, is 0 m "
                       "(firms stacked at one place, or --min-samples 1); give --eps METRES");
    }
    free(core);
    return status;
}

/* --eps auto: each sector's eps as `firmclust suggest` suggests it, and
 * DBSCAN of each sector alone with it. The clusters are numbered as one run
 * numbers them, by sector and then by first core firm. Co-location and
 * institutions take the median of the sectors' eps. */
static int auto_eps_stage(fc_job *job)
{
    const fc_firms *f = &job->f;
    const size_t n = f->n, ns = f->n_sectors ? f->n_sectors : 1;
    const double to_metres = measured_to_metres(job);
    job->sector_eps_m = malloc(ns * sizeof *job->sector_eps_m);
    size_t *start = calloc(ns + 1, sizeof *start), *members = malloc((n + 1) * sizeof *members);
    double *sx = malloc((n + 1) * sizeof *sx), *sy = malloc((n + 1) * sizeof *sy);
    double *sw = f->weight ? malloc((n + 1) * sizeof *sw) : NULL;
    int32_t *scid = malloc((n + 1) * sizeof *scid);
    uint8_t *srole = malloc(n + 1);
    int status = job->sector_eps_m && start && members && sx && sy && (!f->weight || sw) &&
                         scid && srole
                     ? fc_suggest_eps(job->ctx, n, job->cx, job->cy, f->sector, f->n_sectors,
                                      (const char *const *)f->sector_codes, &job->params,
                                      to_metres, job->o->min_pts, job->sector_eps_m)
                     : fc_error(job->ctx, FC_ENOMEM, "out of memory for %zu firms", n);
    for (size_t i = 0; status == FC_OK && i < n; i++) /* the firms by sector, in input order */
        start[f->sector[i] + 1]++;
    for (size_t s = 0; status == FC_OK && s < ns; s++)
        start[s + 1] += start[s];
    for (size_t i = 0; status == FC_OK && i < n; i++)
        members[start[f->sector[i]]++] = i;
    for (size_t s = ns; status == FC_OK && s > 0; s--)
        start[s] = start[s - 1];
    if (start)
        start[0] = 0;
    job->n_clusters = 0;
    for (size_t s = 0; status == FC_OK && s < ns; s++) {
        const size_t m = start[s + 1] - start[s];
        for (size_t k = 0; k < m; k++) {
            const size_t i = members[start[s] + k];
            sx[k] = job->cx[i], sy[k] = job->cy[i];
            if (sw)
                sw[k] = f->weight[i];
            scid[k] = -1, srole[k] = FC_ROLE_NOISE;
        }
        fc_dbscan_params p = job->params;
        p.eps = job->sector_eps_m[s] / to_metres;
        p.weight = sw;
        size_t k_s = 0;
        if (m && isfinite(p.eps) && p.eps > 0)
            status = fc_dbscan(job->ctx, m, sx, sy, NULL, &p, scid, srole, &k_s);
        for (size_t k = 0; status == FC_OK && k < m; k++) {
            const size_t i = members[start[s] + k];
            job->cid[i] = scid[k] < 0 ? -1 : (int32_t)(job->n_clusters + (size_t)scid[k]);
            job->role[i] = srole[k];
        }
        job->n_clusters += k_s;
    }
    if (status == FC_OK) { /* sx is free now: the median of a copy */
        memcpy(sx, job->sector_eps_m, ns * sizeof *sx);
        const double med = ns <= n ? median_in_place(sx, ns) : NAN;
        job->eps_m = isfinite(med) ? med : 1;
        job->params.eps = job->eps_m / to_metres;
    }
    free(start), free(members), free(sx), free(sy), free(sw), free(scid), free(srole);
    return status;
}

/* --groups: clusters of too few sectors dropped, the rest renumbered; the
 * HDBSCAN* figures of each cluster follow it to its new number. */
static int filter_groups(fc_job *job)
{
    const size_t n = job->f.n, before = job->n_clusters;
    int32_t *old = job->hdbscan ? malloc((n + 1) * sizeof *old) : NULL;
    if (job->hdbscan && !old)
        return fc_error(job->ctx, FC_ENOMEM, "out of memory");
    if (old)
        memcpy(old, job->cid, n * sizeof *old);
    job->groups_found = before;
    int status = fc_groups_filter(job->ctx, &job->groups, &job->f,
                                  job->o->min_sectors ? job->o->min_sectors : 2, job->cid,
                                  job->role, &job->n_clusters);
    if (status == FC_OK && old) {
        fc_hdbscan_cluster *kept = malloc((before + 1) * sizeof *kept);
        if (!kept) {
            free(old);
            return fc_error(job->ctx, FC_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            if (job->cid[i] >= 0)
                kept[job->cid[i]] = job->hdbscan[old[i]];
            else if (job->strength) { /* dropped with its cluster, or in no group */
                job->strength[i] = 0;
                if (job->role[i] == FC_ROLE_UNGROUPED) /* not clustered at all */
                    job->outlier[i] = NAN;
            }
        memcpy(job->hdbscan, kept, job->n_clusters * sizeof *kept);
        free(kept);
    }
    free(old);
    return status;
}

/* A groups run without a cluster: why, when it is the groups' doing (no
 * firm in any group, or every cluster of too few sectors). False when it
 * is not, and say_scale() says why. */
static bool say_no_group_cluster(fc_job *job)
{
    const fc_groups *g = &job->groups;
    size_t grouped = 0;
    for (size_t i = 0; i < job->f.n; i++)
        grouped += job->f.sector[i] < g->n;
    const size_t k = job->o->min_sectors ? job->o->min_sectors : 2;
    if (grouped == 0)
        fc_message(job->ctx, FC_MSG_WARNING,
                   "no clusters: no firm's sector is in a group of %s: its codes match none of "
                   "the firms' sector codes",
                   job->o->groups);
    else if (job->groups_found > 0)
        fc_message(job->ctx, FC_MSG_WARNING,
                   "no clusters: %zu cluster%s of the groups' firms %s found, but none has core "
                   "firms of %zu sectors or more (--min-sectors %zu); a group of one sector "
                   "never has",
                   job->groups_found, job->groups_found == 1 ? "" : "s",
                   job->groups_found == 1 ? "was" : "were", k, k);
    return grouped == 0 || job->groups_found > 0;
}

static void describe_method(fc_job *job)
{
    const fc_options *o = job->o;
    char eps[32];
    readable_metres(job->eps_m, eps, sizeof eps);
    if (o->method != FC_METHOD_HDBSCAN && job->sector_eps_m) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t s = 0; s < job->f.n_sectors; s++)
            if (isfinite(job->sector_eps_m[s])) {
                lo = fmin(lo, job->sector_eps_m[s]);
                hi = fmax(hi, job->sector_eps_m[s]);
            }
        char a[32] = "-", b[32] = "-";
        if (isfinite(lo))
            readable_metres(lo, a, sizeof a), readable_metres(hi, b, sizeof b);
        snprintf(job->method, sizeof job->method,
                 "DBSCAN, eps per sector (--eps auto: the knee of its k-distances, as firmclust "
                 "suggest gives it; from %s to %s, field eps), min-pts %zu%s; eps %s, their "
                 "median, for co-location and institutions",
                 a, b, o->min_pts, o->min_weight >= 0 ? " (--min-weight counts instead)" : "",
                 eps);
        return;
    }
    if (o->method != FC_METHOD_HDBSCAN) {
        snprintf(job->method, sizeof job->method, "DBSCAN, eps %s, min-pts %zu%s", eps,
                 o->min_pts, o->min_weight >= 0 ? " (--min-weight counts instead)" : "");
        return;
    }
    const fc_hdbscan_params hp = hdbscan_params(o, &job->params);
    snprintf(job->method, sizeof job->method,
             "HDBSCAN*, min-cluster-size %zu, min-samples %zu, %s; eps %s for co-location, "
             "institutions and polygon buffers%s",
             hp.min_cluster_size, hp.min_samples,
             hp.selection == FC_SELECT_LEAF ? "leaf clusters" : "excess of mass", eps,
             o->eps > 0 ? "" : " (the median core distance of the clustered firms)");
}

static int cluster_stage(fc_job *job)
{
    int status = fc_progress_stage(job->ctx, 0.4, 0.5, "clustering");
    job->eps_m = job->o->eps;
    if (status == FC_OK && job->o->method == FC_METHOD_HDBSCAN)
        status = hdbscan_stage(job);
    else if (status == FC_OK && job->o->eps_auto)
        status = auto_eps_stage(job);
    else if (status == FC_OK)
        status = fc_dbscan(job->ctx, job->f.n, job->cx, job->cy, job->f.sector, &job->params,
                           job->cid, job->role, &job->n_clusters);
    if (status == FC_OK && job->o->groups)
        status = filter_groups(job);
    if (status == FC_OK)
        describe_method(job);
    if (status == FC_OK)
        stage_done(job, "clustering");
    return status;
}

/* For areas on the ellipsoid: the way back from the working CRS to
 * longitude/latitude, and the ellipsoid. */
static int ellipsoidal_area(fc_job *job, fc_area_measure *area)
{
    OGRSpatialReferenceH ll = OSRCloneGeogCS(job->f.srs);
    if (ll) {
        OSRSetAxisMappingStrategy(ll, OAMS_TRADITIONAL_GIS_ORDER);
        area->to_lonlat = OCTNewCoordinateTransformation(job->work.srs, ll);
        double inv_f = OSRGetInvFlattening(ll, NULL);
        area->a = OSRGetSemiMajor(ll, NULL);
        area->f = inv_f > 0 ? 1 / inv_f : 0;
        OSRRelease(ll);
    }
    if (!area->to_lonlat)
        return fc_error_gdal(job->ctx, FC_ECRS, "cannot transform back to longitude/latitude");
    return FC_OK;
}

/* --eps auto: each sector's polygon buffer radius, eps/2 in working units
 * (*radius stays NULL otherwise). */
static int sector_radii(fc_job *job, double **radius)
{
    if (!job->sector_eps_m)
        return FC_OK;
    const size_t ns = job->f.n_sectors ? job->f.n_sectors : 1;
    if (!(*radius = malloc(ns * sizeof **radius)))
        return fc_error(job->ctx, FC_ENOMEM, "out of memory");
    for (size_t s = 0; s < ns; s++) /* a sector without an eps has no cluster */
        (*radius)[s] = isfinite(job->sector_eps_m[s]) ? job->sector_eps_m[s] / job->work.to_metres / 2
                                                       : job->eps_m / job->work.to_metres / 2;
    return FC_OK;
}

/* Polygons: hulls are drawn in the working CRS. Where the output is in
 * another CRS, their edges get a vertex every kilometre, so that they do
 * not cut corners there (a 1 km chord strays under 2 cm from the curve it
 * stands for); areas follow distances, on the ellipsoid when they are. */
static int polygon_stage(fc_job *job)
{
    const fc_options *o = job->o;
    const double to_metres = job->work.to_metres, eps_w = job->eps_m / to_metres;
    fc_hull_params hull = {o->hull, o->concavity, eps_w / 2,
                           OSRIsSame(job->work.srs, job->out_srs) ? 0 : 1000 / to_metres};
    fc_area_measure area = {.to_metres = to_metres};
    double *radius = NULL;
    int status = job->on_ellipsoid ? ellipsoidal_area(job, &area) : FC_OK;
    if (status == FC_OK)
        status = fc_progress_stage(job->ctx, 0.5, 0.7, "cluster polygons");
    if (status == FC_OK)
        status = sector_radii(job, &radius);
    if (status == FC_OK)
        status = build_clusters(job->ctx, &job->f, job->wx, job->wy, job->cid, job->role,
                                job->n_clusters, &hull, radius, &area, o->threads, &job->table);
    free(radius);
    if (area.to_lonlat)
        OCTDestroyCoordinateTransformation(area.to_lonlat);
    if (status != FC_OK)
        return status;
    stage_done(job, "cluster polygons");
    const bool said = o->groups && job->table.n == 0 && say_no_group_cluster(job);
    return say_scale(job->ctx, &job->f, job->wx, job->wy, to_metres, &job->table, o,
                     o->groups ? job->groups.n : job->f.n_sectors, said, &job->sector_scale);
}

/* Each firm's region (once: --groups auto needs them before clustering). */
static int assign_regions(fc_job *job)
{
    const fc_options *o = job->o;
    const fc_firms *f = &job->f;
    if (job->region_of)
        return FC_OK;
    job->region_of = malloc(f->n * sizeof *job->region_of);
    if (!job->region_of)
        return fc_error(job->ctx, FC_ENOMEM, "out of memory for %zu firms", f->n);
    int status = fc_regions_read(job->ctx, o->regions, o->region_layer, o->region_field, f->srs,
                                 &job->regions);
    if (status == FC_OK)
        status = fc_regions_assign(job->ctx, &job->regions, f->n, f->x, f->y, job->region_of);
    return status;
}

/* Each firm's region, and the counts per region and sector. */
static int regions_stage(fc_job *job)
{
    fc_context *ctx = job->ctx;
    const fc_firms *f = &job->f;
    int status = assign_regions(job);
    if (status == FC_OK)
        status = fc_region_stats_compute(ctx, f->n, job->region_of, f->sector, f->weight,
                                         job->regions.n, f->n_sectors, &job->stats);
    if (status == FC_OK)
        say_empty_regions(ctx, &job->regions, &job->stats);
    return status;
}

/* The clusters' p-values and q-values, and the line that says how. */
static int significance_stage(fc_job *job)
{
    const fc_options *o = job->o;
    fc_cluster_table *t = &job->table;
    size_t n = job->n_clusters;
    if (o->permutations <= 0 || n == 0)
        return FC_OK;
    if (job->f.n_sectors < 2) { /* one sector: shuffling sector codes changes nothing */
        snprintf(job->significance, sizeof job->significance,
                 "p-values: none: all firms are of one %s, so there is nothing to shuffle%s",
                 o->groups ? "group" : "sector",
                 o->sector_field ? "" : " (give --sector-field to test sectors against each "
                                        "other)");
        return FC_OK;
    }
    t->p_value = malloc(n * sizeof *t->p_value);
    t->q_value = malloc(n * sizeof *t->q_value);
    t->runs = malloc(n * sizeof *t->runs);
    if (!t->p_value || !t->q_value || !t->runs)
        return fc_error(job->ctx, FC_ENOMEM, "out of memory");
    const fc_hdbscan_params hp = hdbscan_params(o, &job->params);
    double *sector_eps = NULL; /* --eps auto: each sector's, in the unit of cx, cy */
    if (job->sector_eps_m) {
        const double to_metres = measured_to_metres(job);
        if (!(sector_eps = malloc(job->f.n_sectors * sizeof *sector_eps)))
            return fc_error(job->ctx, FC_ENOMEM, "out of memory");
        for (size_t s = 0; s < job->f.n_sectors; s++)
            sector_eps[s] = job->sector_eps_m[s] / to_metres;
    }
    int status = fc_cluster_pvalues(job->ctx, job->f.n, job->cx, job->cy, job->f.sector,
                                    job->region_of, &job->params,
                                    o->method == FC_METHOD_HDBSCAN ? &hp : NULL, sector_eps, job->f.n_sectors, n, t->sector,
                                    t->n_firms, o->permutations, o->seed,
                                    fc_threads_or_cores(o->threads), t->p_value, t->runs, NULL);
    free(sector_eps);
    if (status == FC_OK)
        status = fc_qvalues(job->ctx, n, t->p_value, t->q_value);
    snprintf(job->significance, sizeof job->significance,
             "p-values: up to %d Monte Carlo runs a sector (fewer once each of its clusters "
             "has been matched %d times), sectors shuffled among the firms of %s\n"
             "q-values: Benjamini-Hochberg over the %zu clusters",
             o->permutations, FC_MC_EXCEEDANCES, o->regions ? "each region" : "the whole input", n);
    return status;
}

/* The co-location test's strata: each region and the firms outside every
 * region, or the whole input. */
static size_t colocation_strata(const fc_job *job)
{
    return job->o->regions ? job->regions.n + 1 : 1;
}

/* The quotients' p-values, under the clusters' null model: codes shuffled
 * among the firms of each region (the firms outside every region one more
 * stratum), or of the whole input. */
static int colocation_significance(fc_job *job, const uint32_t *sector,
                                   const fc_neighbourhoods *nb)
{
    const fc_firms *f = &job->f;
    const size_t n_strata = colocation_strata(job);
    if (n_strata > FC_CLQ_MAX_STRATA) {
        fc_message(job->ctx, FC_MSG_WARNING,
                   "co-location: no p-values with %zu regions (at most %d)", n_strata - 1,
                   FC_CLQ_MAX_STRATA - 1);
        return FC_OK;
    }
    uint32_t *stratum = NULL;
    if (job->o->regions) {
        if (!(stratum = malloc(f->n * sizeof *stratum)))
            return fc_error(job->ctx, FC_ENOMEM, "out of memory");
        for (size_t i = 0; i < f->n; i++)
            stratum[i] = (uint32_t)(job->region_of[i] + 1);
    }
    int status = fc_colocation_pvalues(job->ctx, f->n, job->cx, job->cy, sector, stratum,
                                       n_strata, nb, &job->params, &job->colocation);
    free(stratum);
    return status;
}

/* Which sectors locate together: with two sectors or more, unless
 * --colocation off. */
static int colocation_stage(fc_job *job)
{
    const fc_firms *f = &job->f;
    const fc_groups *g = &job->groups; /* with --groups: the firms' own sectors are there */
    const uint32_t n_sectors = g->relabelled ? g->n_sectors : f->n_sectors;
    if (!job->o->colocation || job->colocated) /* done for --groups auto */
        return FC_OK;
    if (n_sectors < 2) {
        if (job->o->colocation == 1)
            fc_message(job->ctx, FC_MSG_WARNING,
                       "co-location: there is %s; it pairs sectors, so there is nothing to pair%s",
                       n_sectors ? "one sector" : "no sector",
                       job->o->sector_field ? "" : " (give --sector-field)");
        return FC_OK;
    }
    if (job->no_band) {
        fc_message(job->ctx, FC_MSG_WARNING,
                   "co-location skipped: with HDBSCAN* and no --eps its band is the median core "
                   "distance of the clustered firms, and that is 0 m here (firms stacked at one "
                   "place, or --min-samples 1); give --eps METRES to set it");
        return FC_OK;
    }
    if (n_sectors > FC_COLOCATION_MAX_SECTORS) {
        fc_message(job->ctx, FC_MSG_WARNING,
                   "co-location: %u sectors are more than the %d paired up; --sector-digits "
                   "groups codes into fewer (2: OKED divisions)",
                   n_sectors, FC_COLOCATION_MAX_SECTORS);
        return FC_OK;
    }
    const bool test = job->o->permutations > 0;
    /* the test needs each firm's |N|, and with one stratum its sum of u too,
     * gathered in the same pass (colocation_test.c) */
    const bool one_stratum = colocation_strata(job) == 1;
    fc_neighbourhoods nb = {0};
    nb.count = test ? malloc(f->n * sizeof *nb.count) : NULL;
    nb.u_sum = test && one_stratum ? malloc(f->n * sizeof *nb.u_sum) : NULL;
    if (test && (!nb.count || (one_stratum && !nb.u_sum))) {
        free(nb.count);
        free(nb.u_sum);
        return fc_error(job->ctx, FC_ENOMEM, "out of memory");
    }
    const uint32_t *sector = g->relabelled ? g->sector : f->sector;
    int status = fc_colocation_compute(job->ctx, f->n, job->cx, job->cy, sector, n_sectors,
                                       &job->params, &job->colocation, &nb);
    job->colocation.codes = g->relabelled ? g->sector_codes : f->sector_codes;
    job->colocation.names = g->relabelled ? g->sector_names : f->sector_names;
    if (status == FC_OK)
        stage_done(job, "co-location");
    if (status == FC_OK && test &&
        (status = colocation_significance(job, sector, &nb)) == FC_OK)
        stage_done(job, "co-location p-values");
    free(nb.count);
    free(nb.u_sum);
    job->colocated = status == FC_OK;
    return status;
}

/* Institutions: read in the firms' CRS, then placed as the clustering
 * measures (the working CRS, or longitude/latitude for geodesic distances),
 * counted per cluster and matched to their nearest cluster. */
static int institutions_stage(fc_job *job)
{
    fc_institutions *in = &job->institutions;
    const fc_firms *f = &job->f;
    int status = fc_institutions_read(job->ctx, job->o->institutions, job->o->institution_field,
                                      job->o->s_srs, f->srs, in);
    if (status != FC_OK)
        return status;
    in->cx = malloc((in->n + 1) * sizeof *in->cx);
    in->cy = malloc((in->n + 1) * sizeof *in->cy);
    if (!in->cx || !in->cy)
        return fc_error(job->ctx, FC_ENOMEM, "out of memory");
    memcpy(in->cx, in->x, in->n * sizeof *in->cx);
    memcpy(in->cy, in->y, in->n * sizeof *in->cy);
    OGRSpatialReferenceH to = job->params.distance == FC_DISTANCE_GEODESIC
                                  ? (job->lon ? job->geog : NULL)
                                  : (job->work.reprojected ? job->work.srs : NULL);
    if (to && (status = fc_transform_points(job->ctx, f->srs, to, in->n, in->cx, in->cy)))
        return fc_error_prefix(job->ctx, "%s", job->o->institutions);
    status = fc_institutions_measure(job->ctx, in, f->n, job->cx, job->cy, job->cid,
                                     job->n_clusters, &job->params, job->work.to_metres,
                                     &job->table);
    if (status == FC_OK)
        stage_done(job, "institutions");
    return status;
}

/* --groups auto: the sectors' co-location first (with their regions, for the
 * null model), then groups of those that locate together. */
static int auto_groups_stage(fc_job *job)
{
    const fc_options *o = job->o;
    int status = o->regions ? assign_regions(job) : FC_OK;
    if (status == FC_OK)
        status = colocation_stage(job);
    if (status == FC_OK && !job->colocated)
        return fc_error(job->ctx, FC_EDATA, "--groups auto: the co-location of %u sectors cannot "
                                            "be measured (two to %d sectors are needed)",
                        job->f.n_sectors, FC_COLOCATION_MAX_SECTORS);
    if (status == FC_OK && !job->colocation.q_value)
        return fc_error(job->ctx, FC_EDATA,
                        "--groups auto links sectors by the q-values of their co-location, and "
                        "there are none with %zu regions (at most %d): give coarser --regions, "
                        "or none, or --groups FILE",
                        job->regions.n, FC_CLQ_MAX_STRATA - 1);
    if (status == FC_OK)
        status = fc_groups_auto(job->ctx, &job->colocation, &job->f,
                                o->link_clq > 0 ? o->link_clq : 2, &job->groups);
    if (status == FC_OK)
        status = fc_groups_relabel(job->ctx, &job->groups, &job->f);
    if (status == FC_OK)
        fc_message(job->ctx, FC_MSG_INFO, "--groups auto: %zu groups of related sectors",
                   job->groups.n);
    return status;
}

/* ---- the firms layer, written beside the statistics ------------------------
 *
 * The firms layer needs the clusters, roles and regions, but no p-value, and
 * writing it is mostly GDAL and SQLite on one core. So it is written on a
 * thread of its own while the significance test runs on the others: a
 * default run of 1M firms (24 divisions, 2 cores) ends some 2.5 s sooner.
 * (It starts after the co-location quotients, which take a second or so,
 * so that each stage before it is timed alone.) The layer goes first into
 * the output; the thread's messages are held and said when it is joined,
 * in the order it made them, so the output and what is said do not depend
 * on timing. */

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

static int firm_writer_start(fc_job *job)
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

static void firm_writer_free(fc_job *job)
{
    firm_writer_finish(job, FC_ECANCEL);
    if (job->writer && job->writer->ds)
        GDALClose(job->writer->ds);
    if (job->writer)
        free(job->writer->held);
    free(job->writer);
    job->writer = NULL;
}

/* Statistics: regions and location quotients, the clusters' economics and
 * their significance, and the sectors' co-location. */
static int statistics_stage(fc_job *job)
{
    int status = fc_progress_stage(job->ctx, 0.7, 0.8, "statistics");
    if (status == FC_OK && job->o->regions && (status = regions_stage(job)) == FC_OK)
        stage_done(job, "regions");
    if (status == FC_OK)
        status = fc_cluster_economics(job->ctx, &job->f, job->cid, job->region_of,
                                      job->o->regions ? &job->stats : NULL, &job->table);
    if (status == FC_OK && job->o->groups)
        status = fc_groups_describe(job->ctx, &job->groups, &job->f, job->cid, &job->table);
    if (status == FC_OK && job->o->institutions)
        status = institutions_stage(job);
    if (status == FC_OK)
        status = colocation_stage(job);
    if (status == FC_OK)
        status = firm_writer_start(job);
    if (status == FC_OK)
        status = significance_stage(job);
    if (status == FC_OK)
        stage_done(job, "statistics");
    return status;
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
        stage_done(job, "writing clusters");
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
static int write_stage(fc_job *job, bool want_result)
{
    fc_context *ctx = job->ctx;
    const fc_options *o = job->o;
    fc_findings findings = job_findings(job);
    int status = fc_progress_stage(ctx, 0.8, 1.0, "writing");
    status = firm_writer_finish(job, status);
    if (status == FC_OK)
        stage_done(job, "waiting for the firms layer");
    /* Output timestamps are fixed so that the same input gives the same bytes. */
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", "2000-01-01T00:00:00Z");
    if (status == FC_OK)
        status = write_layers(job, &findings);
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    if (status == FC_OK)
        stage_done(job, "finishing the output");
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

/* Frees everything the job holds; a failed job's temporary output is
 * removed, and an I/O failure explained. */
static void job_free(fc_job *job, int status)
{
    firm_writer_free(job); /* before the output it writes is removed */
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
    cluster_table_free(&job->table);
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
    fc_io_init();
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
        status = auto_groups_stage(job);
    if (status == FC_OK)
        status = cluster_stage(job);
    if (status == FC_OK)
        status = polygon_stage(job);
    if (status == FC_OK)
        status = statistics_stage(job);
    if (status == FC_OK)
        status = write_stage(job, result_out != NULL);
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
    fc_io_init();
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
    m->to_metres = measured_to_metres(job);
    m->distance = job->distance_used;
    return FC_OK;
}

void fc_measured_free(fc_measured *m)
{
    if (m->job)
        job_free(m->job, FC_OK);
    memset(m, 0, sizeof *m);
}
