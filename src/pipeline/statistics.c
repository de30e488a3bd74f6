/* SPDX-License-Identifier: MIT */
/* The statistics stage: regions and location quotients, the clusters'
 * economics, institutions, co-location and its p-values, the clusters'
 * significance (the firms layer written beside it); and --groups auto,
 * which needs regions and co-location before clustering. */
#include "pipeline/job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const fc_hdbscan_params hp = fc_job_hdbscan_params(o, &job->params);
    double *sector_eps = NULL; /* --eps auto: each sector's, in the unit of cx, cy */
    if (job->sector_eps_m) {
        const double to_metres = fc_job_to_metres(job);
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
        fc_job_stage_done(job, "co-location");
    if (status == FC_OK && test &&
        (status = colocation_significance(job, sector, &nb)) == FC_OK)
        fc_job_stage_done(job, "co-location p-values");
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
        fc_job_stage_done(job, "institutions");
    return status;
}

/* --groups auto: the sectors' co-location first (with their regions, for the
 * null model), then groups of those that locate together. */
int fc_stage_auto_groups(fc_job *job)
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

/* Statistics: regions and location quotients, the clusters' economics and
 * their significance, and the sectors' co-location. */
int fc_stage_statistics(fc_job *job)
{
    int status = fc_progress_stage(job->ctx, 0.7, 0.8, "statistics");
    if (status == FC_OK && job->o->regions && (status = regions_stage(job)) == FC_OK)
        fc_job_stage_done(job, "regions");
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
        status = fc_firm_writer_start(job);
    if (status == FC_OK)
        status = significance_stage(job);
    if (status == FC_OK)
        fc_job_stage_done(job, "statistics");
    return status;
}
