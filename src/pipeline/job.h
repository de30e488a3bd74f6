/* SPDX-License-Identifier: MIT */
/* Inside the pipeline floor: a run's job, which every stage fills in its
 * part of and job_free() (cluster.c) frees in one place, and the stages the
 * files of the floor share. Only the files of src/pipeline/ include it. The stages call
 * each other downward only: cluster.c -> clustering.c, statistics.c,
 * writing.c -> job.c (tests/check_layers.py checks there is no circle). */
#ifndef FC_JOB_H
#define FC_JOB_H

#include "pipeline/pipeline.h"

#include <time.h>

struct firm_writer;

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

/* ---- job.c ---------------------------------------------------------------- */

/* Metres in a unit of the coordinates the clustering measures (cx, cy). */
double fc_job_to_metres(const fc_job *job);
/* Under --debug: how long the stage took; the next one starts now. */
void fc_job_stage_done(fc_job *job, const char *stage);
/* The HDBSCAN* parameters of the options, with the metric's distance. */
fc_hdbscan_params fc_job_hdbscan_params(const fc_options *o, const fc_dbscan_params *metric);

/* ---- clustering.c ---------------------------------------------------------- */

int fc_stage_cluster(fc_job *job);
int fc_stage_polygons(fc_job *job);
void fc_cluster_table_free(fc_cluster_table *t);

/* ---- statistics.c ---------------------------------------------------------- */

int fc_stage_statistics(fc_job *job);
/* --groups auto: regions and co-location before clustering, then the groups */
int fc_stage_auto_groups(fc_job *job);

/* ---- writing.c ------------------------------------------------------------- */

/* The firms layer's thread, started when the statistics need it no more. */
int fc_firm_writer_start(fc_job *job);
/* Stops (a failed run) and joins it; frees it. */
void fc_firm_writer_free(fc_job *job);
int fc_stage_write(fc_job *job, bool want_result);

#endif
