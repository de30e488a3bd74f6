/* SPDX-License-Identifier: MIT */
/* The significance test's null runs on a grid of all firms built once: a
 * cheap upper bound on the largest DBSCAN cluster of a sample, the part of
 * the sample that can reach a size, and the DBSCAN of that part. How it
 * works is said in null_bound.c. */
#ifndef FC_NULL_BOUND_H
#define FC_NULL_BOUND_H

#include "core/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fc_null_bound fc_null_bound;

/* A thread's scratch, by cell; counts and flags are zero between samples. */
typedef struct fc_null_scratch {
    uint32_t *count;     /* sampled points */
    double *weight;      /* their weight, when weighted */
    uint32_t *parent;    /* union-find over the occupied cells */
    uint32_t *touched;   /* the cells the sample occupies */
    uint8_t *candidate;  /* bit 0: may hold a core point; 1: so may its component
                            (fc_null_bound_cluster(): holds one) */
    size_t *total;       /* at a component's root: its points */
    /* fc_null_bound_cluster(): by cell, where its points start; by point
     * of the sample, in cell order, room for `room` */
    uint32_t *first;
    size_t room;
    double *at[3];       /* coordinates */
    uint32_t *order;     /* index in the sample */
    uint8_t *core;
    uint32_t *root;      /* union-find over core points */
    uint32_t *size;      /* at a cluster's root: its points */
    uint32_t *near_core; /* a border point's core points within eps */
    double *chord;       /* and their chords */
} fc_null_scratch;

/* Bins the n firms (x, y as for fc_dbscan()) into a grid for params (eps,
 * min_pts or weight and min_weight, distance, threads), of cells of the
 * given side (0: DBSCAN's own), and lists each cell's near cells. Larger
 * cells make a bound quicker to find and looser. With DBSCAN's own cells
 * it keeps what fc_null_bound_cluster() needs too, x and y borrowed. */
int fc_null_bound_build(fc_context *ctx, size_t n, const double *x, const double *y,
                        const fc_dbscan_params *params, double side, fc_null_bound **out);
void fc_null_bound_free(fc_null_bound *nb);

int fc_null_scratch_init(const fc_null_bound *nb, fc_null_scratch *s); /* FC_OK or FC_ENOMEM */
void fc_null_scratch_free(fc_null_scratch *s);

/* The sample is the m firms firms[0 .. m) (firm_weight: by firm, when
 * weighted). *largest gets a number of points that no DBSCAN cluster of it
 * exceeds. Keeps in firms[0 .. returned), in their order, the firms that may
 * be in a cluster of `open` points or more: DBSCAN of those alone finds
 * every such cluster exactly as DBSCAN of the whole sample does. */
size_t fc_null_bound_keep(const fc_null_bound *nb, fc_null_scratch *s, size_t m, size_t *firms,
                          const double *firm_weight, size_t open, size_t *largest);

/* The largest cluster DBSCAN finds in the sample firms[0 .. m) (lon, lat:
 * the sample's x and y, by index in the sample), exactly as fc_dbscan() of
 * the sample would, but on the grid of all firms built once: no sort, no
 * earth-centred coordinates to compute, near cells listed. nb must have
 * DBSCAN's own cells and no weights. FC_OK, or FC_ENOMEM. */
int fc_null_bound_cluster(const fc_null_bound *nb, fc_null_scratch *s, size_t m,
                          const size_t *firms, const double *lon, const double *lat,
                          size_t *largest);

#endif /* FC_NULL_BOUND_H */
