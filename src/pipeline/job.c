/* SPDX-License-Identifier: MIT */
/* What every stage of a run shares: its unit of distance, its timings under
 * --debug, and the HDBSCAN* parameters of its options. */
#include "pipeline/job.h"

/* Metres in a unit of the coordinates the clustering measures (cx, cy):
 * the working CRS's unit, or 1 for geodesic distances, which are metres. */
double fc_job_to_metres(const fc_job *job)
{
    return job->params.distance == FC_DISTANCE_GEODESIC ? 1 : job->work.to_metres;
}

/* Under --debug: how long each stage took. */
void fc_job_stage_done(fc_job *job, const char *stage)
{
    fc_message(job->ctx, FC_MSG_DEBUG, "%s: %.3f s", stage, fc_seconds_since(&job->t0));
    clock_gettime(CLOCK_MONOTONIC, &job->t0);
}

/* The HDBSCAN* parameters of a run. */
fc_hdbscan_params fc_job_hdbscan_params(const fc_options *o, const fc_dbscan_params *metric)
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
