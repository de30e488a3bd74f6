/* The clustering job: read -> reproject -> dbscan -> hull -> regions and
 * statistics -> write. */
#include "fc_internal.h"

#include <math.h>
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
 * no cluster, a line naming the sectors without one otherwise. */
static int say_scale(fc_context *ctx, const fc_firms *f, const double *wx, const double *wy,
                     double to_metres, const fc_cluster_table *t, const fc_options *o,
                     double **scale_out)
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
    size_t without = 0, largest = SIZE_MAX, n_largest = 0, *n_of = calloc(ns, sizeof *n_of);
    for (size_t i = 0; n_of && i < f->n; i++)
        n_of[f->sector[i]]++;
    for (size_t s = 0; status == FC_OK && n_of && s < f->n_sectors; s++) {
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
    if (status == FC_OK && t->n == 0 && largest != SIZE_MAX)
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

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* Under --debug: how long each stage took. */
static void stage_done(fc_context *ctx, const char *stage, struct timespec *t0)
{
    fc_message(ctx, FC_MSG_DEBUG, "%s: %.3f s", stage, seconds_since(t0));
    clock_gettime(CLOCK_MONOTONIC, t0);
}


/* Per-cluster counts and polygons. The points of each cluster are
 * gathered in input order, so GEOS sees the same input on every run. */
static int build_clusters(fc_context *ctx, const fc_firms *f, const double *wx,
                          const double *wy, const int32_t *cid, const uint8_t *role,
                          size_t n_clusters, const fc_hull_params *hp,
                          const fc_area_measure *measure, int threads, fc_cluster_table *t)
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
    int status = area ? fc_hulls(ctx, threads, n_clusters, start, members, wx, wy, hp, measure,
                                 t->wkb, t->wkb_size, area)
                      : fc_error(ctx, FC_ENOMEM, "out of memory for %zu clusters", n_clusters);
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

static bool same_file(const char *a, const char *b)
{
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    bool same = ra && rb && strcmp(ra, rb) == 0;
    free(ra);
    free(rb);
    return same;
}

int fc_cluster(fc_context *ctx, const char *input, const char *output, const fc_options *o,
               fc_result **result_out)
{
    return fc_cluster_many(ctx, 1, &input, output, o, result_out);
}

int fc_cluster_many(fc_context *ctx, size_t n_inputs, const char *const *inputs,
                    const char *output, const fc_options *o, fc_result **result_out)
{
    if (result_out)
        *result_out = NULL;
    if (!ctx)
        return FC_EINVAL;
    if (n_inputs < 1 || !inputs || !inputs[0] || !output || !o)
        return fc_error(ctx, FC_EINVAL, "fc_cluster needs an input, an output and options");
    const char *input = inputs[0];
    int status = fc_options_check(ctx, o);
    if (status != FC_OK)
        return status;
    for (size_t i = 0; i < n_inputs; i++)
        if (!inputs[i] || same_file(inputs[i], output))
            return fc_error(ctx, FC_EINVAL, "%s: the output would replace an input", output);
    if (o->regions && same_file(o->regions, output))
        return fc_error(ctx, FC_EINVAL, "%s: the output would replace an input", output);
    if (o->json && !o->overwrite && access(o->json, F_OK) == 0)
        return fc_error(ctx, FC_EEXIST, "%s exists; use --overwrite to replace it", o->json);

    fc_input *in = calloc(n_inputs, sizeof *in);
    if (!in)
        return fc_error(ctx, FC_ENOMEM, "out of memory");
    fc_output out = {0};
    fc_firms f = {0};
    fc_working_crs work = {0};
    fc_cluster_table table = {0};
    OGRSpatialReferenceH out_srs = NULL;
    double *wx = NULL, *wy = NULL, *lon = NULL, *lat = NULL, *sector_scale = NULL;
    fc_field_names renamed = {0};
    size_t firm_rows = 0;
    OGRSpatialReferenceH geog = NULL;
    char distance_used[640] = "";
    int32_t *region_of = NULL;
    fc_regions regions = {0};
    fc_region_stats stats = {0};
    fc_result *result = NULL;
    int32_t *cid = NULL;
    uint8_t *role = NULL;
    size_t n_clusters = 0;
    GDALDatasetH ds = NULL;

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((status = fc_output_prepare(ctx, output, o->format, o->overwrite, FC_OUT_LAYERS, &out)) != FC_OK)
        goto done;
    if ((status = fc_progress_stage(ctx, 0.0, 0.4, "reading")) != FC_OK)
        goto done;
    for (size_t i = 0; i < n_inputs; i++)
        if ((status = fc_input_open(ctx, inputs[i], o, &in[i])) != FC_OK)
            goto done;
    if ((status = fc_read_firms(ctx, in, n_inputs, o, &f)) != FC_OK)
        goto done;
    if (f.n == 0) {
        status = fc_error(ctx, FC_EDATA, "%s, layer %s: no firms to cluster (%zu features, %zu skipped)",
                          input, in[0].layer_name, f.n_features, f.n_skipped);
        goto done;
    }
    if (!f.srs) {
        status = fc_error(ctx, FC_ECRS,
                          "%s, layer %s: has no CRS; give one with --s-srs (e.g. EPSG:4326 for "
                          "longitude/latitude)",
                          input, in[0].layer_name);
        goto done;
    }
    if (o->t_srs) {
        if (!(out_srs = fc_srs_from_user(ctx, o->t_srs, "--t-srs"))) {
            status = fc_errcode(ctx);
            goto done;
        }
    } else {
        out_srs = OSRClone(f.srs);
        OSRSetAxisMappingStrategy(out_srs, OAMS_TRADITIONAL_GIS_ORDER);
    }

    stage_done(ctx, "reading", &t0);
    const bool geographic = OSRIsGeographic(f.srs);
    double xmin = INFINITY, ymin = INFINITY, xmax = -INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < f.n; i++) {
        xmin = fmin(xmin, f.x[i]);
        xmax = fmax(xmax, f.x[i]);
        ymin = fmin(ymin, f.y[i]);
        ymax = fmax(ymax, f.y[i]);
    }
    if (geographic) /* a window that may straddle the antimeridian */
        fc_longitude_window(f.x, f.n, &xmin, &xmax);
    if ((status = fc_working_crs_choose(ctx, f.srs, xmin, ymin, xmax, ymax, o->distance, &work)) != FC_OK)
        goto done;
    wx = malloc(f.n * sizeof *wx);
    wy = malloc(f.n * sizeof *wy);
    cid = malloc(f.n * sizeof *cid);
    role = malloc(f.n);
    if (!wx || !wy || !cid || !role) {
        status = fc_error(ctx, FC_ENOMEM, "out of memory for %zu firms", f.n);
        goto done;
    }
    memcpy(wx, f.x, f.n * sizeof *wx);
    memcpy(wy, f.y, f.n * sizeof *wy);
    if (work.reprojected &&
        (status = fc_transform_points(ctx, f.srs, work.srs, f.n, wx, wy)) != FC_OK) {
        fc_error_prefix(ctx, "%s", n_inputs > 1 ? output : input);
        goto done;
    }
    stage_done(ctx, "reprojecting", &t0);

    /* longitude/latitude, or a projected CRS whose plane is too far off */
    const bool on_ellipsoid = geographic || work.distorted;
    const bool geodesic_mode = o->distance == FC_DIST_GEODESIC ||
                               (o->distance == FC_DIST_AUTO && on_ellipsoid);
    fc_dbscan_params params = {.eps = o->eps / work.to_metres, .min_pts = o->min_pts,
                               .threads = o->threads};
    if (o->min_weight >= 0) {
        params.weight = f.weight;
        params.min_weight = o->min_weight;
    }
    const double *cx = wx, *cy = wy; /* the coordinates DBSCAN sees */
    if (geodesic_mode) {
        if ((status = to_lonlat(ctx, &f, &lon, &lat, &geog)) != FC_OK)
            goto done;
        double inv_f = OSRGetInvFlattening(geog, NULL);
        params.distance = FC_DISTANCE_GEODESIC;
        params.eps = o->eps;
        params.semi_major = OSRGetSemiMajor(geog, NULL);
        params.flattening = inv_f > 0 ? 1 / inv_f : 0;
        cx = lon ? lon : f.x;
        cy = lat ? lat : f.y;
        snprintf(distance_used, sizeof distance_used,
                 "geodesic on the %s ellipsoid (a = %.3f m, 1/f = %.9g)",
                 OSRGetAttrValue(geog, "SPHEROID", 0) ? OSRGetAttrValue(geog, "SPHEROID", 0) : "input's",
                 params.semi_major, inv_f);
        if (work.distorted) { /* say why the input's plane was not used */
            size_t len = strlen(distance_used);
            snprintf(distance_used + len, sizeof distance_used - len,
                     ", as the input CRS %s stretches distances by up to %.3g%% over the data "
                     "(more than %g%%; --distance planar measures in its plane all the same)",
                     OSRGetName(f.srs), 100 * work.distortion, 100 * FC_PLANE_TOLERANCE);
        }
    } else {
        snprintf(distance_used, sizeof distance_used, "planar in %s", work.description);
    }
    fc_message(ctx, FC_MSG_DEBUG, "distances: %s", distance_used);
    if ((status = fc_progress_stage(ctx, 0.4, 0.5, "clustering")) != FC_OK ||
        (status = fc_dbscan(ctx, f.n, cx, cy, f.sector, &params, cid, role, &n_clusters)) != FC_OK)
        goto done;
    stage_done(ctx, "clustering", &t0);

    /* Hulls are drawn in the working CRS. Where the output is in another
     * CRS, their edges get a vertex every kilometre, so that they do not cut
     * corners there (a 1 km chord strays under 2 cm from the curve it
     * stands for); for geographic input, areas are measured on the
     * ellipsoid. */
    const double eps_w = o->eps / work.to_metres;
    fc_hull_params hull = {o->hull, o->concavity, eps_w / 2,
                           OSRIsSame(work.srs, out_srs) ? 0 : 1000 / work.to_metres};
    fc_area_measure area = {.to_metres = work.to_metres};
    if (on_ellipsoid) { /* areas follow distances: on the ellipsoid */
        OGRSpatialReferenceH ll = OSRCloneGeogCS(f.srs);
        if (ll) {
            OSRSetAxisMappingStrategy(ll, OAMS_TRADITIONAL_GIS_ORDER);
            area.to_lonlat = OCTNewCoordinateTransformation(work.srs, ll);
            double inv_f = OSRGetInvFlattening(ll, NULL);
            area.a = OSRGetSemiMajor(ll, NULL);
            area.f = inv_f > 0 ? 1 / inv_f : 0;
            OSRRelease(ll);
        }
        if (!area.to_lonlat) {
            status = fc_error_gdal(ctx, FC_ECRS, "cannot transform back to longitude/latitude");
            goto done;
        }
    }
    status = fc_progress_stage(ctx, 0.5, 0.7, "cluster polygons");
    if (status == FC_OK)
        status = build_clusters(ctx, &f, wx, wy, cid, role, n_clusters, &hull, &area, o->threads,
                                &table);
    if (area.to_lonlat)
        OCTDestroyCoordinateTransformation(area.to_lonlat);
    if (status != FC_OK)
        goto done;

    stage_done(ctx, "cluster polygons", &t0);
    if ((status = say_scale(ctx, &f, wx, wy, work.to_metres, &table, o, &sector_scale)) != FC_OK)
        goto done;

    /* Regions and statistics */
    if ((status = fc_progress_stage(ctx, 0.7, 0.8, "statistics")) != FC_OK)
        goto done;
    if (o->regions) {
        region_of = malloc(f.n * sizeof *region_of);
        if (!region_of) {
            status = fc_error(ctx, FC_ENOMEM, "out of memory for %zu firms", f.n);
            goto done;
        }
        if ((status = fc_regions_read(ctx, o->regions, o->region_layer, o->region_field, f.srs,
                                      &regions)) != FC_OK ||
            (status = fc_regions_assign(ctx, &regions, f.n, f.x, f.y, region_of)) != FC_OK ||
            (status = fc_region_stats_compute(ctx, f.n, region_of, f.sector, f.weight, regions.n,
                                              f.n_sectors, &stats)) != FC_OK)
            goto done;
        say_empty_regions(ctx, &regions, &stats);
    }
    if ((status = fc_cluster_economics(ctx, &f, cid, region_of, o->regions ? &stats : NULL,
                                       &table)) != FC_OK)
        goto done;
    char significance[512] = "";
    if (o->permutations > 0 && n_clusters > 0 && f.n_sectors < 2) {
        /* one sector: shuffling sector codes changes nothing */
        snprintf(significance, sizeof significance,
                 "p-values: none: all firms are of one sector, so there is nothing to shuffle "
                 "(give --sector-field to test sectors against each other)");
    } else if (o->permutations > 0 && n_clusters > 0) {
        int threads = fc_threads_or_cores(o->threads);
        table.p_value = malloc(n_clusters * sizeof *table.p_value);
        table.q_value = malloc(n_clusters * sizeof *table.q_value);
        table.runs = malloc(n_clusters * sizeof *table.runs);
        if (!table.p_value || !table.q_value || !table.runs) {
            status = fc_error(ctx, FC_ENOMEM, "out of memory");
            goto done;
        }
        if ((status = fc_cluster_pvalues(ctx, f.n, cx, cy, f.sector, region_of, &params,
                                         f.n_sectors, n_clusters, table.sector, table.n_firms,
                                         o->permutations, o->seed, threads, table.p_value,
                                         table.runs)) != FC_OK ||
            (status = fc_qvalues(ctx, n_clusters, table.p_value, table.q_value)) != FC_OK)
            goto done;
        snprintf(significance, sizeof significance,
                 "p-values: up to %d Monte Carlo runs a sector (fewer once each of its clusters "
                 "has been matched %d times), sectors shuffled among the firms of %s\n"
                 "q-values: Benjamini-Hochberg over the %zu clusters",
                 o->permutations, FC_MC_EXCEEDANCES,
                 o->regions ? "each region" : "the whole input", n_clusters);
    }
    stage_done(ctx, "statistics", &t0);

    fc_findings findings = {.sector_scale = sector_scale, .renamed = &renamed,
                            .firm_rows = &firm_rows, .firms = &f, .work = &work, .out_srs = out_srs, .cluster_id = cid,
                            .role = role, .clusters = &table,
                            .regions = o->regions ? &regions : NULL, .region_of = region_of,
                            .stats = o->regions ? &stats : NULL};
    /* Output timestamps are fixed so that the same input gives the same bytes. */
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", "2000-01-01T00:00:00Z");
    if ((status = fc_progress_stage(ctx, 0.8, 1.0, "writing")) != FC_OK)
        goto done;
    if (!(ds = fc_output_create(ctx, &out, out.is_directory ? "clusters" : NULL))) {
        status = FC_EIO;
        goto done;
    }
    status = fc_write_clusters(ctx, ds, &findings);
    if (status == FC_OK && o->regions) {
        if (out.is_directory) {
            GDALClose(ds);
            if (!(ds = fc_output_create(ctx, &out, "regions")))
                status = FC_EIO;
        }
        if (status == FC_OK)
            status = fc_write_regions(ctx, ds, &findings);
    }
    if (status == FC_OK && out.is_directory) {
        GDALClose(ds);
        if (!(ds = fc_output_create(ctx, &out, "firms")))
            status = FC_EIO;
    }
    if (status == FC_OK) {
        stage_done(ctx, "writing clusters", &t0);
        status = fc_write_firms(ctx, ds, in, n_inputs, &findings);
    }
    if (status == FC_OK)
        status = fc_write_styles(ctx, &out, ds, &findings);
    if (ds) {
        CPLErrorReset();
        GDALClose(ds);
        ds = NULL;
        if (status == FC_OK && CPLGetLastErrorType() == CE_Failure)
            status = fc_error_gdal(ctx, FC_EIO, "%s: cannot finish writing", output);
    }
    if (status == FC_OK) {
        const char *layers[] = {"clusters", o->regions ? "regions" : NULL, "firms"};
        const GIntBig expected[] = {(GIntBig)table.n, (GIntBig)(regions.n * f.n_sectors),
                                    (GIntBig)firm_rows};
        status = fc_output_verify(ctx, &out, layers, expected, 3);
    }
    if (status == FC_OK)
        stage_done(ctx, "writing firms", &t0);
    /* The summary (and its JSON) before the output goes into place, so
     * that a failure here leaves nothing behind either. */
    if (status == FC_OK && (result_out || o->json))
        status = fc_result_make(ctx, &findings, distance_used, o->permutations, significance,
                                &result);
    if (status == FC_OK && o->json)
        status = fc_result_write_json(ctx, result, o->json, input, output, o->overwrite);
    if (status == FC_OK)
        status = fc_output_commit(ctx, &out, o->overwrite);
    if (status == FC_OK && result_out) {
        *result_out = result;
        result = NULL;
    }
    if (status == FC_OK && ctx->progress)
        ctx->progress(1.0, "done", ctx->progress_arg); /* too late to cancel */

done:
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    if (ds)
        GDALClose(ds);
    if (status == FC_EIO)
        fc_output_explain(ctx, &out);
    fc_output_abort(&out); /* after a commit, only frees the names */
    for (size_t i = 0; i < n_inputs; i++)
        fc_input_close(&in[i]);
    free(in);
    fc_firms_free(&f);
    fc_working_crs_free(&work);
    cluster_table_free(&table);
    if (out_srs)
        OSRRelease(out_srs);
    free(wx);
    free(wy);
    free(sector_scale);
    fc_field_names_free(&renamed);
    free(lon);
    free(lat);
    if (geog)
        OSRRelease(geog);
    free(cid);
    free(role);
    free(region_of);
    fc_regions_free(&regions);
    fc_region_stats_free(&stats);
    fc_result_destroy(result);
    return status;
}
