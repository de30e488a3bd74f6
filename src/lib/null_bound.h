/* A cheap upper bound on the largest DBSCAN cluster of a sample of the
 * firms, for the significance test's null runs. How it works is said in
 * null_bound.c. */
#ifndef FC_NULL_BOUND_H
#define FC_NULL_BOUND_H

#include "fc_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fc_null_bound fc_null_bound;

/* A thread's scratch, by cell; counts and flags are zero between samples. */
typedef struct fc_null_scratch {
    uint32_t *count;     /* sampled points */
    double *weight;      /* their weight, when weighted */
    uint32_t *parent;    /* union-find over candidate cells */
    uint32_t *touched;   /* the cells the sample occupies */
    uint8_t *candidate;  /* 1: may hold a core point */
    size_t *total;       /* at a component's root: its points and those near */
} fc_null_scratch;

/* Bins the n firms (x, y as for fc_dbscan()) into DBSCAN's grid for params
 * (eps, min_pts or weight and min_weight, distance, threads), and lists
 * each cell's near cells. */
int fc_null_bound_build(fc_context *ctx, size_t n, const double *x, const double *y,
                        const fc_dbscan_params *params, fc_null_bound **out);
void fc_null_bound_free(fc_null_bound *nb);

int fc_null_scratch_init(const fc_null_bound *nb, fc_null_scratch *s); /* FC_OK or FC_ENOMEM */
void fc_null_scratch_free(fc_null_scratch *s);

/* A number of points that no DBSCAN cluster of the sample (the m firms
 * firms[0 .. m), with their weights when weighted) exceeds. */
size_t fc_null_bound_largest(const fc_null_bound *nb, fc_null_scratch *s, size_t m,
                             const size_t *firms, const double *weight);

#endif /* FC_NULL_BOUND_H */
