/* SPDX-License-Identifier: MIT */
/* The pipeline floor: a run as its stages (read -> reproject -> metric ->
 * cluster -> polygons -> statistics -> write, in cluster.c), what the run
 * found (result.c) and `suggest` (suggest.c). Includes the I/O floor; the
 * tool (src/cli/) sees only include/firmclust.h. */
#ifndef FC_PIPELINE_H
#define FC_PIPELINE_H

#include "io/io.h"

/* ---- cluster.c: the firms as a run measures them ---------------------------- */

/* The first stages of a run (read, reproject, choose the metric) without an
 * output: for `firmclust suggest`. */
typedef struct fc_measured {
    struct fc_job *job;           /* owns everything below */
    const char *input;
    const fc_firms *firms;
    const double *x, *y;          /* as the clustering measures distances */
    const fc_dbscan_params *params;
    double to_metres;             /* planar: working units to metres; geodesic: 1 */
    const char *distance;         /* how distances are measured, in words */
} fc_measured;
int fc_measure_firms(fc_context *ctx, const char *input, const fc_options *o, fc_measured *m);
void fc_measured_free(fc_measured *m);


/* Per cluster: shares of the sector's firms and weight, and with regions
 * (region_of and st not NULL) the region holding most of its firms. */
int fc_cluster_economics(fc_context *ctx, const fc_firms *f, const int32_t *cid,
                         const int32_t *region_of, const fc_region_stats *st,
                         fc_cluster_table *t);

/* ---- result.c ----------------------------------------------------------- */

/* significance: one line saying how p-values were found, or why there are
 * none ("" when not asked for). */
int fc_result_make(fc_context *ctx, const fc_findings *fd, const char *distance,
                   const char *method, int permutations, const char *significance,
                   fc_result **out);
/* The JSON summary at `path`, written under a temporary name in *out for the
 * caller to commit with fc_output_commit() (and free with fc_output_abort());
 * "-" writes it to standard output at once. */
int fc_result_write_json(fc_context *ctx, const fc_result *r, const char *path,
                         const char *input, const char *output, bool overwrite, fc_output *out);


#endif
