/* SPDX-License-Identifier: MIT */
/* The cluster and polygon stages: DBSCAN (one eps, or each sector's with
 * --eps auto) or HDBSCAN*, the groups' filter, the method in words, then a
 * polygon per cluster and, where nothing clustered, the data's scale. */
#define _GNU_SOURCE
#include "pipeline/job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fc_cluster_table_free(fc_cluster_table *t)
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
    const fc_hdbscan_params hp = fc_job_hdbscan_params(job->o, &job->params);
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
    const double to_metres = fc_job_to_metres(job);
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
    const double to_metres = fc_job_to_metres(job);
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
    const fc_hdbscan_params hp = fc_job_hdbscan_params(o, &job->params);
    snprintf(job->method, sizeof job->method,
             "HDBSCAN*, min-cluster-size %zu, min-samples %zu, %s; eps %s for co-location, "
             "institutions and polygon buffers%s",
             hp.min_cluster_size, hp.min_samples,
             hp.selection == FC_SELECT_LEAF ? "leaf clusters" : "excess of mass", eps,
             o->eps > 0 ? "" : " (the median core distance of the clustered firms)");
}

int fc_stage_cluster(fc_job *job)
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
        fc_job_stage_done(job, "clustering");
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
int fc_stage_polygons(fc_job *job)
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
    fc_job_stage_done(job, "cluster polygons");
    const bool said = o->groups && job->table.n == 0 && say_no_group_cluster(job);
    return say_scale(job->ctx, &job->f, job->wx, job->wy, to_metres, &job->table, o,
                     o->groups ? job->groups.n : job->f.n_sectors, said, &job->sector_scale);
}
